/**
 * WAL positions. LSNs are bigint inside the FSM; the text form `X/Y`
 * (two hexadecimal halves, common/lsn.ts) is what Postgres and the event
 * messages show.
 */
export { formatLsn, parseLsn } from '../common/lsn.js';

/** A WAL position with its timeline, compared timeline first (spec 02 §4.4 step 4). */
export interface WalPosition {
  readonly reportedTimeline: number;
  readonly reportedLsn: bigint;
}

/** Negative when a is behind b, 0 when equal, positive when ahead. */
export function compareWalPositions(a: WalPosition, b: WalPosition): number {
  if (a.reportedTimeline !== b.reportedTimeline) return a.reportedTimeline - b.reportedTimeline;
  if (a.reportedLsn === b.reportedLsn) return 0;
  return a.reportedLsn < b.reportedLsn ? -1 : 1;
}

/**
 * spec 02 §1 walWithin(a, b, d): true when either side is absent, false
 * when either reported LSN is 0/0, else |a - b| <= d bytes.
 */
export function walWithin(a: { reportedLsn: bigint } | null, b: { reportedLsn: bigint } | null, maxBytes: number): boolean {
  if (a === null || b === null) return true;
  if (a.reportedLsn === 0n || b.reportedLsn === 0n) return false;
  const distance = a.reportedLsn > b.reportedLsn ? a.reportedLsn - b.reportedLsn : b.reportedLsn - a.reportedLsn;
  return distance <= BigInt(maxBytes);
}
