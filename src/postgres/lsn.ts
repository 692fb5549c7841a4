/**
 * PostgreSQL WAL positions (pg_lsn) as bigint. Parsed once at the boundary
 * (SQL results, pg_controldata output, monitor answers) and formatted back
 * the way Postgres prints them: two upper-case hex halves, `X/Y`.
 */
import { AutoctlError } from '../common/errors.js';

export type Lsn = bigint;

const LSN_PATTERN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** `'0/3000060'` -> `0x3000060n`. Throws BAD_STATE on anything else. */
export function parseLsn(text: string): Lsn {
  const match = LSN_PATTERN.exec(text.trim());
  if (!match || match[1] === undefined || match[2] === undefined) {
    throw new AutoctlError('BAD_STATE', `invalid LSN "${text}"`);
  }
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/** Like {@link parseLsn}, but SQL NULL (undefined/null) gives `0/0`. */
export function parseLsnOrZero(text: string | null | undefined): Lsn {
  return text === null || text === undefined ? 0n : parseLsn(text);
}

export function formatLsn(lsn: Lsn): string {
  if (lsn < 0n || lsn > 0xFFFFFFFFFFFFFFFFn) {
    throw new AutoctlError('INTERNAL', `LSN out of range: ${lsn}`);
  }
  const hi = lsn >> 32n;
  const lo = lsn & 0xFFFFFFFFn;
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}

export const ZERO_LSN: Lsn = 0n;
