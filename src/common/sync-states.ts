/**
 * Replication sync states: what the monitor stores in
 * `pgautofailover.node.reportedrepstate` (spec 03 §3). Postgres shows the
 * last four in `pg_stat_replication.sync_state`; `unknown` is the monitor's
 * value for a node that reported none (node_active takes '' for it).
 * Defined here, below both src/postgres (which reads it from Postgres) and
 * src/fsm (which re-exports it).
 */
export const SYNC_STATES = ['unknown', 'sync', 'async', 'quorum', 'potential'] as const;
export type SyncState = (typeof SYNC_STATES)[number];

/** A sync_state as Postgres shows it for one walsender. */
export type WalSenderSyncState = Exclude<SyncState, 'unknown'>;

const SYNC_STATE_SET: ReadonlySet<string> = new Set(SYNC_STATES);

export function isSyncState(value: string): value is SyncState {
  return SYNC_STATE_SET.has(value);
}

export function isWalSenderSyncState(value: string): value is WalSenderSyncState {
  return value !== 'unknown' && isSyncState(value);
}
