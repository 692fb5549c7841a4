/**
 * PostgreSQL WAL positions (pg_lsn) as bigint. Parsed once at the boundary
 * (SQL results, pg_controldata output, monitor answers) and formatted back
 * the way Postgres prints them: two upper-case hex halves, `X/Y`.
 */
import { AutoctlError } from '../common/errors.js';
import { lsnFromText, lsnToText } from '../common/lsn.js';

export type Lsn = bigint;

/** `'0/3000060'` -> `0x3000060n`. Throws BAD_STATE on anything else. */
export function parseLsn(text: string): Lsn {
  const lsn = lsnFromText(text.trim());
  if (lsn === null) throw new AutoctlError('BAD_STATE', `invalid LSN "${text}"`);
  return lsn;
}

/** Like {@link parseLsn}, but SQL NULL (undefined/null) gives `0/0`. */
export function parseLsnOrZero(text: string | null | undefined): Lsn {
  return text === null || text === undefined ? 0n : parseLsn(text);
}

export function formatLsn(lsn: Lsn): string {
  const text = lsnToText(lsn);
  if (text === null) throw new AutoctlError('INTERNAL', `LSN out of range: ${lsn}`);
  return text;
}

export const ZERO_LSN: Lsn = 0n;
