/**
 * PostgreSQL WAL positions (pg_lsn) as bigint. Parsed once at the boundary
 * (SQL results, pg_controldata output, monitor answers) and formatted back
 * the way Postgres prints them: two upper-case hex halves, `X/Y`.
 */
import { AutoctlError, type ErrorCode } from './errors.js';

export type Lsn = bigint;

export const ZERO_LSN: Lsn = 0n;

const LSN_PATTERN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** `'0/3000060'` -> `0x3000060n`; null when the text is not exactly an LSN (callers trim if they wish). */
export function lsnFromText(text: string): Lsn | null {
  const match = LSN_PATTERN.exec(text);
  if (!match || match[1] === undefined || match[2] === undefined) return null;
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/** `0x3000060n` -> `'0/3000060'`; null when out of the 64-bit range. */
export function lsnToText(lsn: Lsn): string | null {
  if (lsn < 0n || lsn > 0xFFFFFFFFFFFFFFFFn) return null;
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xFFFFFFFFn).toString(16).toUpperCase()}`;
}

/**
 * `' 0/3000060 '` -> `0x3000060n`. Anything else throws an AutoctlError with
 * `code`: BAD_STATE by default (Postgres or a file said something unexpected).
 */
export function parseLsn(text: string, code: ErrorCode = 'BAD_STATE'): Lsn {
  const lsn = lsnFromText(text.trim());
  if (lsn === null) throw new AutoctlError(code, `invalid LSN "${text}": expected two hexadecimal numbers separated by a slash`);
  return lsn;
}

/** Like {@link parseLsn}, but SQL NULL (undefined/null) gives `0/0`. */
export function parseLsnOrZero(text: string | null | undefined): Lsn {
  return text === null || text === undefined ? ZERO_LSN : parseLsn(text);
}

/** The text form; a value out of the 64-bit range is a bug (INTERNAL). */
export function formatLsn(lsn: Lsn): string {
  const text = lsnToText(lsn);
  if (text === null) throw new AutoctlError('INTERNAL', `LSN out of range: ${lsn}`);
  return text;
}
