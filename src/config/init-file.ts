/**
 * The init file `pg_autoctl.init` (spec 05 §3.2): present only while
 * `create` is in progress (or after it failed), it records what PGDATA
 * looked like at registration so that `create` or `run` can resume.
 * Stored as JSON, written atomically with mode 0600.
 */
import { z } from 'zod';
import { AutoctlError, messageOf } from '../common/errors.js';
import { readTextFile, removeFileIfExists, writeTextFile } from './text-file.js';
import { KEEPER_STATE_VERSION } from './state-file.js';

/** Classification of PGDATA at registration time. */
export const PGDATA_INIT_STATES = ['unknown', 'missing', 'exists', 'running', 'running-primary'] as const;
export type PgdataInitState = (typeof PGDATA_INIT_STATES)[number];

/** The original's wording, used by `show file --init --contents` and the resume log line. */
export const PGDATA_INIT_STATE_TEXT: Readonly<Record<PgdataInitState, string>> = {
  unknown: 'unknown',
  missing: 'PGDATA does not exist',
  exists: 'PGDATA exists',
  running: 'PostgreSQL is running',
  'running-primary': 'PostgreSQL is running and a primary server',
};

export interface InitFile {
  readonly version: typeof KEEPER_STATE_VERSION;
  readonly pgdataState: PgdataInitState;
}

const fileSchema = z.object({
  version: z.literal(KEEPER_STATE_VERSION),
  pgdata_state: z.enum(PGDATA_INIT_STATES),
});

export function renderInitFile(pgdataState: PgdataInitState): string {
  return `${JSON.stringify({ version: KEEPER_STATE_VERSION, pgdata_state: pgdataState }, null, 2)}\n`;
}

/** Parses the file text; throws BAD_STATE naming `source` when broken. */
export function parseInitFile(text: string, source: string): InitFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new AutoctlError('BAD_STATE', `Init file "${source}" exists but is broken or wrong version (${messageOf(error)})`, { cause: error });
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new AutoctlError('BAD_STATE', `Init file "${source}" exists but is broken or wrong version (${detail})`, { cause: parsed.error });
  }
  return { version: parsed.data.version, pgdataState: parsed.data.pgdata_state };
}

export async function writeInitFile(path: string, pgdataState: PgdataInitState): Promise<void> {
  writeTextFile(path, renderInitFile(pgdataState), 0o600, 'the init file', 'BAD_STATE');
}

/** The init file, or undefined when there is none (no `create` in progress). */
export async function readInitFileIfExists(path: string): Promise<InitFile | undefined> {
  const text = await readTextFile(path, 'the init file', 'BAD_STATE');
  return text === undefined ? undefined : parseInitFile(text, path);
}

/** The init file; a missing file is a BAD_STATE error. */
export async function readInitFile(path: string): Promise<InitFile> {
  const init = await readInitFileIfExists(path);
  if (init === undefined) throw new AutoctlError('BAD_STATE', `Failed to read the init file "${path}": the file does not exist`);
  return init;
}

/** Removes the init file; true when it existed. */
export async function removeInitFile(path: string): Promise<boolean> {
  return removeFileIfExists(path);
}
