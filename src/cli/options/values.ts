import { badArgs } from '../../common/errors.js';

/** PostgreSQL's boolean spellings, case-insensitive, unique prefixes accepted. */
export function parsePgBool(value: string, what: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === '') throw badArgs(`${what}: empty value is not a boolean`);
  if (v === '1' || v === 'on' || 'true'.startsWith(v) || 'yes'.startsWith(v)) return true;
  if (v === '0' || v === 'off' || 'false'.startsWith(v) || 'no'.startsWith(v)) return false;
  throw badArgs(`${what}: "${value}" is not a valid boolean`);
}

export function parsePort(value: string, option = '--pgport'): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < 1 || n > 65535) {
    throw badArgs(`${option} argument is not a valid port number: "${value}"`);
  }
  return n;
}

export function parseIntInRange(value: string, option: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) {
    throw badArgs(`${option} argument "${value}" must be an integer between ${min} and ${max}`);
  }
  return n;
}
