/**
 * The expected Postgres status file `pg_autoctl.pg` (spec 05 §3.3): one
 * value written by the keeper (or the monitor listener) and polled by the
 * Postgres controller. Stored as one word and a newline, written atomically.
 * A missing file means `unknown`: the controller leaves Postgres alone.
 */
import { AutoctlError } from '../common/errors.js';
import { readTextFile, removeFileIfExists, writeTextFile } from './text-file.js';

export const EXPECTED_PG_STATUSES = ['unknown', 'stopped', 'running', 'running-as-subprocess'] as const;
export type ExpectedPgStatus = (typeof EXPECTED_PG_STATUSES)[number];

/** The original's wording of each value, for logs. */
export const EXPECTED_PG_STATUS_TEXT: Readonly<Record<ExpectedPgStatus, string>> = {
  unknown: 'unknown',
  stopped: 'stopped',
  running: 'running',
  'running-as-subprocess': 'running as a pg_autoctl subprocess',
};

export function isExpectedPgStatus(value: string): value is ExpectedPgStatus {
  return (EXPECTED_PG_STATUSES as readonly string[]).includes(value);
}

export async function writeExpectedPgStatus(path: string, status: ExpectedPgStatus): Promise<void> {
  writeTextFile(path, `${status}\n`, 0o644, 'the expected Postgres status file', 'BAD_STATE');
}

/** The expected status; `unknown` when the file does not exist. Unknown content: BAD_STATE. */
export async function readExpectedPgStatus(path: string): Promise<ExpectedPgStatus> {
  const text = await readTextFile(path, 'the expected Postgres status file', 'BAD_STATE');
  if (text === undefined) return 'unknown';
  const value = text.trim();
  if (!isExpectedPgStatus(value)) {
    throw new AutoctlError('BAD_STATE', `Expected Postgres status file "${path}" is broken: unknown value "${value}"`);
  }
  return value;
}

/** Removes the file (the controller then leaves Postgres alone); true when it existed. */
export async function removeExpectedPgStatus(path: string): Promise<boolean> {
  return removeFileIfExists(path);
}
