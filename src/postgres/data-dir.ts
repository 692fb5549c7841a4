/**
 * Facts about a PGDATA read from disk (spec 05 §4.2): what the directory
 * holds, the `postmaster.pid` of a running server, and `pg_controldata`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AutoctlError } from '../common/errors.js';
import { runProgramOk } from '../common/run-program.js';
import { pgProgram, type PgBinaries } from './binaries.js';
import { parseLsn, type Lsn } from '../common/lsn.js';

export const PGDATA_KINDS = ['missing', 'empty', 'not-a-directory', 'not-postgres', 'postgres'] as const;
export type PgDataKind = (typeof PGDATA_KINDS)[number];

/**
 * `postgres` = a cluster: PG_VERSION and global/pg_control exist.
 * `not-postgres` = a non-empty directory without them (initdb would fail
 * on it; callers refuse early with a clear message).
 */
export function classifyPgData(pgdata: string): PgDataKind {
  let stats;
  try {
    stats = statSync(pgdata);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
  if (!stats.isDirectory()) return 'not-a-directory';
  if (existsSync(join(pgdata, 'PG_VERSION')) && existsSync(join(pgdata, 'global', 'pg_control'))) return 'postgres';
  return readdirSync(pgdata).length === 0 ? 'empty' : 'not-postgres';
}

export const PM_STATUSES = ['starting', 'stopping', 'ready', 'standby'] as const;
export type PmStatus = (typeof PM_STATUSES)[number];

export interface PostmasterPid {
  /** Negative for a standalone backend (`postgres --single`). */
  pid: number;
  dataDir: string;
  startTime: number;
  port: number;
  /** First of unix_socket_directories; empty when none. */
  socketDir: string;
  /** First of listen_addresses; empty when not listening on TCP. */
  listenAddress: string;
  /** Absent while the postmaster has not written it yet, or with very old versions. */
  status: PmStatus | undefined;
}

export function postmasterPidPath(pgdata: string): string {
  return join(pgdata, 'postmaster.pid');
}

/** Reads `postmaster.pid`; undefined when it does not exist (or is still empty). */
export function readPostmasterPid(pgdata: string): PostmasterPid | undefined {
  let text: string;
  try {
    text = readFileSync(postmasterPidPath(pgdata), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
  return parsePostmasterPid(text);
}

/** Pure parser of the `postmaster.pid` layout (pidfile.h). */
export function parsePostmasterPid(text: string): PostmasterPid | undefined {
  const lines = text.split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  if (!Number.isFinite(pid) || pid === 0) return undefined;
  const port = Number.parseInt(lines[3] ?? '', 10);
  const statusText = (lines[7] ?? '').trim();
  const status = (PM_STATUSES as readonly string[]).includes(statusText) ? statusText as PmStatus : undefined;
  return {
    pid,
    dataDir: lines[1] ?? '',
    startTime: Number.parseInt(lines[2] ?? '', 10) || 0,
    port: Number.isFinite(port) ? port : 0,
    socketDir: (lines[4] ?? '').trim(),
    listenAddress: (lines[5] ?? '').trim(),
    status,
  };
}

/** True when a process with this pid exists (EPERM counts: it exists, owned by someone else). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The postmaster of `pgdata` when its pid file names a live process. */
export function runningPostmaster(pgdata: string): PostmasterPid | undefined {
  const info = readPostmasterPid(pgdata);
  if (!info) return undefined;
  return isProcessAlive(Math.abs(info.pid)) ? info : undefined;
}

export interface ControlData {
  pgControlVersion: number;
  catalogVersion: number;
  systemIdentifier: bigint;
  /** "in production", "shut down", "shut down in recovery", "in archive recovery", ... */
  clusterState: string;
  latestCheckpointLsn: Lsn;
  /** Latest checkpoint's TimeLineID. */
  timeline: number;
}

/** Runs `pg_controldata` (C locale) and parses its output. */
export async function readControlData(bin: Pick<PgBinaries, 'binDir'>, pgdata: string, env: NodeJS.ProcessEnv = process.env): Promise<ControlData> {
  const { stdout } = await runProgramOk(pgProgram(bin, 'pg_controldata'), ['-D', pgdata],
    { env: { ...env, LC_ALL: 'C', LANG: 'C' }, timeoutMs: 30_000 });
  return parseControlData(stdout);
}

export function parseControlData(text: string): ControlData {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  const field = (name: string): string => {
    const value = fields.get(name);
    if (value === undefined) throw new AutoctlError('PGCTL', `pg_controldata output has no "${name}" line`);
    return value;
  };
  return {
    pgControlVersion: Number(field('pg_control version number')),
    catalogVersion: Number(field('Catalog version number')),
    systemIdentifier: BigInt(field('Database system identifier')),
    clusterState: field('Database cluster state'),
    latestCheckpointLsn: parseLsn(field('Latest checkpoint location')),
    timeline: Number(field("Latest checkpoint's TimeLineID")),
  };
}

/** True when pg_controldata says the cluster was shut down cleanly (as primary or standby). */
export function wasShutDownCleanly(control: Pick<ControlData, 'clusterState'>): boolean {
  return control.clusterState === 'shut down' || control.clusterState === 'shut down in recovery';
}

export const STANDBY_SIGNAL = 'standby.signal';
export const RECOVERY_SIGNAL = 'recovery.signal';

export function hasStandbySignal(pgdata: string): boolean {
  return existsSync(join(pgdata, STANDBY_SIGNAL));
}

export function hasRecoverySignal(pgdata: string): boolean {
  return existsSync(join(pgdata, RECOVERY_SIGNAL)) || existsSync(join(pgdata, 'recovery.conf'));
}

/** WAL segment file names: timeline, log and segment numbers, 8 hex digits each (a `.partial` one counts too). */
const WAL_SEGMENT = /^([0-9A-F]{8})[0-9A-F]{16}(\.partial)?$/;

/**
 * The newest timeline a WAL segment in PGDATA/pg_wal belongs to; 0 when
 * none or unreadable. A standby reports it when its WAL receiver is not
 * connected: the last restartpoint's timeline (pg_control_checkpoint) can
 * be older than the WAL it received and replayed, and a node that reports
 * an older timeline than the WAL it holds looks like a node cut off on
 * that timeline to the monitor's timeline gate. Timeline history files do
 * not count: knowing of a timeline is not holding WAL of it.
 */
export function newestWalTimeline(pgdata: string): number {
  let names: string[];
  try {
    names = readdirSync(join(pgdata, 'pg_wal'));
  } catch {
    return 0;
  }
  let newest = 0;
  for (const name of names) {
    const match = WAL_SEGMENT.exec(name);
    if (match?.[1] !== undefined) newest = Math.max(newest, Number.parseInt(match[1], 16));
  }
  return newest;
}
