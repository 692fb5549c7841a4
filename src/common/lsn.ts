/**
 * PostgreSQL WAL positions (pg_lsn): the text form `X/Y` (two hexadecimal
 * halves, as Postgres prints them) and bigint. Each layer wraps these with
 * its own error for bad input.
 */
const LSN_PATTERN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** `'0/3000060'` -> `0x3000060n`; null when the text is not exactly an LSN (callers trim if they wish). */
export function lsnFromText(text: string): bigint | null {
  const match = LSN_PATTERN.exec(text);
  if (!match || match[1] === undefined || match[2] === undefined) return null;
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/** `0x3000060n` -> `'0/3000060'`; null when out of the 64-bit range. */
export function lsnToText(lsn: bigint): string | null {
  if (lsn < 0n || lsn > 0xFFFFFFFFFFFFFFFFn) return null;
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xFFFFFFFFn).toString(16).toUpperCase()}`;
}
