/**
 * Writing pg_autoctl's settings into PGDATA (spec 05 §7, §11.3): the
 * settings include, the include lines of `postgresql.conf`, and the standby
 * setup. Every write is atomic and happens only when the contents change.
 */
import { chmodSync, closeSync, existsSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../common/log.js';
import { syncDirectory, writeFileAtomic } from '../common/atomic-file.js';
import { STANDBY_SIGNAL } from './data-dir.js';
import {
  AUTO_FAILOVER_CONF, STANDBY_CONF, renderStandbySettings, withIncludeLine,
  type HostResources, type StandbySettings,
} from './settings-render.js';

/** RAM and CPUs of this machine, for the tuning block. */
export function hostResources(): HostResources {
  return { totalMemoryBytes: totalmem(), cpuCount: availableParallelism() };
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Replaces `path` with `contents` (mode `mode`, 0644 by default, when new)
 * unless it already holds exactly that.
 */
export function writeIfChanged(path: string, contents: string, log?: Logger, mode = 0o644): boolean {
  const current = readIfExists(path);
  if (current === contents) return false;
  if (current !== undefined) log?.info(`Contents of "${path}" have changed, overwriting`);
  writeFileAtomic(path, contents, { mode, keepExisting: true });
  return true;
}

/** The standby settings hold primary_conninfo, whose password only the server's account may read. */
const STANDBY_CONF_MODE = 0o600;

/** Prepends `include '<file>'` to `$PGDATA/postgresql.conf` when missing. */
export function ensureIncludeLine(pgdata: string, fileName: string, log?: Logger): boolean {
  const path = join(pgdata, 'postgresql.conf');
  const current = readFileSync(path, 'utf8');
  const { text, changed } = withIncludeLine(current, fileName);
  if (changed) {
    log?.info(`Adding include of "${fileName}" to "${path}"`);
    writeFileAtomic(path, text, { mode: 0o600, keepExisting: true });
  }
  return changed;
}

/**
 * Writes `postgresql-auto-failover.conf` (rendered by the caller with
 * renderNodeSettingsFile/renderMonitorSettingsFile) and its include line.
 * True when anything changed (the caller then reloads a running Postgres).
 */
export function writeAutoFailoverSettings(pgdata: string, contents: string, log?: Logger): boolean {
  const wrote = writeIfChanged(join(pgdata, AUTO_FAILOVER_CONF), contents, log);
  const included = ensureIncludeLine(pgdata, AUTO_FAILOVER_CONF, log);
  return wrote || included;
}

/**
 * Makes PGDATA a standby: `standby.signal` first (a crash between the steps
 * then restarts Postgres as a standby, never as a writable clone), then the
 * standby settings file, then its include line. True when the standby
 * settings changed (a running standby then needs a restart).
 */
export function writeStandbySetup(pgdata: string, settings: StandbySettings, log?: Logger): boolean {
  const signal = join(pgdata, STANDBY_SIGNAL);
  if (!existsSync(signal)) {
    closeSync(openSync(signal, 'a', 0o644));
    syncDirectory(pgdata);
  }
  const standbyConf = join(pgdata, STANDBY_CONF);
  const changed = writeIfChanged(standbyConf, renderStandbySettings(settings), log, STANDBY_CONF_MODE);
  restrictMode(standbyConf, STANDBY_CONF_MODE);
  ensureIncludeLine(pgdata, STANDBY_CONF, log);
  return changed;
}

/**
 * Leaves standby mode (promotion): removes `standby.signal` and empties the
 * standby settings file; the include line stays, pointing at an empty file.
 */
export function removeStandbySetup(pgdata: string, log?: Logger): void {
  const signal = join(pgdata, STANDBY_SIGNAL);
  if (existsSync(signal)) {
    log?.debug(`Removing "${signal}"`);
    rmSync(signal, { force: true });
    syncDirectory(pgdata);
  }
  const standbyConf = join(pgdata, STANDBY_CONF);
  if (existsSync(standbyConf)) writeIfChanged(standbyConf, '', log, STANDBY_CONF_MODE);
}

/** Removes group and other permissions from an existing file written by an older version. */
function restrictMode(path: string, mode: number): void {
  const current = statSync(path).mode & 0o777;
  if ((current & ~mode) !== 0) chmodSync(path, current & mode);
}

/** The standby settings currently on disk ('' when none). */
export function readStandbySettingsFile(pgdata: string): string {
  return readIfExists(join(pgdata, STANDBY_CONF)) ?? '';
}
