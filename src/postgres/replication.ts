/**
 * Building and re-pointing standbys (spec 05 §6.2, §11.3, §11.7):
 * pg_basebackup into a staging directory then swapped onto PGDATA,
 * pg_rewind, crash recovery before a rewind, and the upstream checks done
 * before writing a standby configuration. Commands are logged (passwords
 * scrubbed) before they run; passwords travel in PGPASSWORD.
 */
import { lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { AutoctlError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { runProgramOk } from '../common/run-program.js';
import { pgProgram, type PgBinaries } from './binaries.js';
import { replicationConninfo, scrubPasswords, type ReplicationSource } from './conninfo.js';
import { spawnPostmaster, stopPostgres, waitForPostgresReady } from './control.js';
import { runningPostmaster } from './data-dir.js';
import { parseLsn, type Lsn } from '../common/lsn.js';
import { withClient, type PgClientOptions } from './pg-client.js';
import { writeStandbySetup } from './settings-file.js';
import { slotExists } from './sql.js';

type Bin = Pick<PgBinaries, 'binDir'>;

function toolEnv(source: ReplicationSource, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, PGCONNECT_TIMEOUT: '2', PGAPPNAME: source.applicationName };
  if (source.password !== undefined) env.PGPASSWORD = source.password;
  return env;
}

function refuseRunning(pgdata: string, what: string): void {
  const running = runningPostmaster(pgdata);
  if (running) {
    throw new AutoctlError('BAD_STATE', `cannot ${what} "${pgdata}": postgres is running there (pid ${running.pid})`,
      { hint: 'stop postgres first' });
  }
}

/** Empties the directories that `$PGDATA/pg_tblspc/*` point to (pg_basebackup wants them empty). */
export function emptyTablespaceTargets(pgdata: string, log?: Logger): void {
  const dir = join(pgdata, 'pg_tblspc');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const link = join(dir, name);
    if (!lstatSync(link).isSymbolicLink()) continue;
    const target = resolve(dir, readlinkSync(link));
    log?.info(`Emptying tablespace directory "${target}"`);
    for (const entry of readdirSync(target)) rmSync(join(target, entry), { recursive: true, force: true });
  }
}

export interface BaseBackupOptions {
  source: ReplicationSource;
  /** `pgautofailover_standby_<id>`, created on the primary beforehand. */
  slotName: string;
  /** Staging directory (`replication.backup_directory`), on the same file system as PGDATA. */
  backupDir: string;
  /** `replication.maximum_backup_rate`, e.g. `100M`. */
  maxRate?: string | undefined;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/**
 * pg_basebackup into the staging directory, then PGDATA is removed and the
 * staging directory renamed onto it. The copy brings the primary's
 * configuration files and certificate: callers rewrite the settings, HBA
 * and standby files and make their own certificate afterwards.
 */
export async function pgBasebackup(bin: Bin, pgdata: string, options: BaseBackupOptions): Promise<void> {
  refuseRunning(pgdata, 'run pg_basebackup into');
  emptyTablespaceTargets(pgdata, options.log);
  rmSync(options.backupDir, { recursive: true, force: true });
  mkdirSync(dirname(options.backupDir), { recursive: true, mode: 0o755 });
  mkdirSync(options.backupDir, { mode: 0o700 });
  const conninfo = replicationConninfo(options.source, { includePassword: false });
  const args = ['-w', '-d', conninfo, '--pgdata', options.backupDir, '-U', options.source.user, '--verbose', '--progress',
    ...(options.maxRate ? ['--max-rate', options.maxRate] : []),
    '--wal-method=stream', '--slot', options.slotName, '--checkpoint=fast'];
  const program = pgProgram(bin, 'pg_basebackup');
  options.log?.info(`Running ${program} ${scrubPasswords(args.join(' '))}`);
  const result = await runProgramOk(program, args, {
    env: toolEnv(options.source, options.env ?? process.env),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  options.log?.debug(result.stderr.trim());
  options.log?.info(`Removing "${pgdata}" and moving the base backup "${options.backupDir}" in its place`);
  rmSync(pgdata, { recursive: true, force: true });
  renameSync(options.backupDir, pgdata);
}

export interface RewindOptions {
  source: ReplicationSource;
  /** The formation's dbname (2.x used `postgres`, which HBA may not open to the replicator). */
  dbname: string;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  timeoutMs?: number;
}

/** pg_rewind of a stopped, cleanly shut down PGDATA onto the source server's timeline. */
export async function pgRewind(bin: Bin, pgdata: string, options: RewindOptions): Promise<void> {
  refuseRunning(pgdata, 'run pg_rewind on');
  const conninfo = replicationConninfo(options.source, { includePassword: false, dbname: options.dbname });
  const args = ['--target-pgdata', pgdata, '--source-server', conninfo, '--progress'];
  const program = pgProgram(bin, 'pg_rewind');
  options.log?.info(`Running ${program} ${scrubPasswords(args.join(' '))}`);
  const result = await runProgramOk(program, args, {
    env: toolEnv(options.source, options.env ?? process.env),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
  options.log?.debug(result.stderr.trim());
}

export interface CrashRecoveryOptions {
  port: number;
  /** Where the temporary postmaster puts its socket; the server default otherwise. */
  socketDir?: string | undefined;
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
}

/**
 * Brings a PGDATA that was not shut down cleanly to a clean state (spec 05
 * §11.7 step 1): recover to consistency and pause, without TCP listening,
 * then a fast stop. pg_rewind accepts the result.
 */
export async function runCrashRecovery(bin: Bin, pgdata: string, options: CrashRecoveryOptions): Promise<void> {
  refuseRunning(pgdata, 'run crash recovery on');
  options.log?.info(`Running crash recovery on "${pgdata}"`);
  writeStandbySetup(pgdata, { recoveryTargetTimeline: 'current', recoveryTarget: 'immediate', recoveryTargetAction: 'pause' }, options.log);
  const postmaster = spawnPostmaster(bin, pgdata, {
    port: options.port, listenAddresses: '', socketDir: options.socketDir, logFile: join(pgdata, 'startup.log'),
    ...(options.env ? { env: options.env } : {}),
  });
  try {
    await waitForPostgresReady(pgdata, { timeoutMs: options.timeoutMs, postmaster });
  } finally {
    await stopPostgres(pgdata, 'fast', options.timeoutMs, options.log ? { log: options.log } : {});
    await postmaster.exit;
  }
}

export interface IdentifySystem {
  systemIdentifier: bigint;
  timeline: number;
  xlogpos: Lsn;
}

/** IDENTIFY_SYSTEM over a replication connection: the upstream is reachable as a replication source. */
export async function identifySystem(source: ReplicationSource, options: PgClientOptions = {}): Promise<IdentifySystem> {
  const conninfo = replicationConninfo(source, { includePassword: true });
  return withClient(conninfo, { connectTimeoutMs: 5000, ...options, replication: true }, async (client) => {
    const result = await client.query<{ systemid: string; timeline: number | string; xlogpos: string }>('IDENTIFY_SYSTEM');
    const row = result.rows[0];
    if (!row) throw new AutoctlError('PGSQL', `IDENTIFY_SYSTEM on ${source.host}:${source.port} returned no row`);
    return { systemIdentifier: BigInt(row.systemid), timeline: Number(row.timeline), xlogpos: parseLsn(row.xlogpos) };
  });
}

/** Whether the upstream already has our replication slot (spec 05 §6.1, §6.2 step 3). */
export async function upstreamHasSlot(source: ReplicationSource, dbname: string, slotName: string,
  options: PgClientOptions = {}): Promise<boolean> {
  const conninfo = replicationConninfo(source, { includePassword: true, dbname });
  return withClient(conninfo, { connectTimeoutMs: 5000, ...options }, (client) => slotExists(client, slotName));
}
