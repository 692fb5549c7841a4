/**
 * Controlling the local postmaster: initdb, starting `postgres` as a child
 * process (DESIGN.md decision 7, spec 05 §13.3), waiting for readiness,
 * stopping by signal, promoting. Nothing here switches user: pg_autoctl
 * runs as the account that owns PGDATA.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { AutoctlError, assertNever } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { runProgram, runProgramOk } from '../common/run-program.js';
import { pgProgram, type PgBinaries } from './binaries.js';
import {
  classifyPgData, isProcessAlive, readPostmasterPid, type PmStatus, type PostmasterPid,
} from './data-dir.js';

type Bin = Pick<PgBinaries, 'binDir'>;

export interface InitdbOptions {
  /** Bootstrap superuser name (`-U`); the OS user by default. */
  username?: string | undefined;
  /** `--auth-local`, for Unix socket lines; see {@link initdbAuth}. */
  authLocal?: string | undefined;
  /** `--auth-host`, for the 127.0.0.1 and ::1 lines; see {@link initdbAuth}. */
  authHost?: string | undefined;
  encoding?: string;
  locale?: string | undefined;
  /** `--no-sync`: faster, for tests only. */
  noSync?: boolean;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
}

/** Methods that are valid on Unix socket lines only. */
const LOCAL_ONLY_METHODS = new Set(['peer']);

/**
 * initdb's authentication (issue 8 finding 7): `peer` on Unix socket lines,
 * so only the OS account owning PGDATA (pg_autoctl itself) reaches the
 * superuser role named after it, never every local user; the `--auth`
 * method on the loopback host lines, or `scram-sha-256` without one (or
 * for a method host lines cannot use). Nothing trusts more than asked.
 */
export function initdbAuth(authMethod: string | null | undefined): { authLocal: string; authHost: string } {
  const host = authMethod === null || authMethod === undefined || authMethod === '' || LOCAL_ONLY_METHODS.has(authMethod)
    ? 'scram-sha-256' : authMethod;
  return { authLocal: 'peer', authHost: host };
}

/** Creates a cluster in a missing or empty PGDATA (mode 0700). */
export async function initdb(bin: Bin, pgdata: string, options: InitdbOptions = {}): Promise<void> {
  const kind = classifyPgData(pgdata);
  if (kind === 'postgres') throw new AutoctlError('BAD_STATE', `cannot initdb "${pgdata}": it already holds a PostgreSQL cluster`);
  if (kind === 'not-postgres' || kind === 'not-a-directory') {
    throw new AutoctlError('BAD_STATE', `cannot initdb "${pgdata}": it exists and is not an empty directory`,
      { hint: 'remove it, or use a new directory' });
  }
  mkdirSync(dirname(pgdata), { recursive: true, mode: 0o755 });
  mkdirSync(pgdata, { recursive: true, mode: 0o700 });
  chmodSync(pgdata, 0o700);
  const args = ['-D', pgdata, '-E', options.encoding ?? 'UTF8'];
  if (options.authLocal !== undefined) args.push(`--auth-local=${options.authLocal}`);
  if (options.authHost !== undefined) args.push(`--auth-host=${options.authHost}`);
  if (options.username !== undefined) args.push('-U', options.username);
  if (options.locale !== undefined) args.push(`--locale=${options.locale}`);
  if (options.noSync) args.push('--no-sync');
  const program = pgProgram(bin, 'initdb');
  options.log?.info(`Initialising a PostgreSQL cluster at "${pgdata}"`);
  options.log?.debug(`${program} ${args.join(' ')}`);
  await runProgramOk(program, args, { env: options.env ?? process.env, timeoutMs: 300_000 });
}

export interface PostmasterOptions {
  port: number;
  /** `listen_addresses`, e.g. `*` or `127.0.0.1`. */
  listenAddresses: string;
  /** `unix_socket_directories` (`-k`); else PG_REGRESS_SOCK_DIR when set; the server's compiled default otherwise. */
  socketDir?: string | undefined;
  /** More `-c name=value` settings (they win over the configuration files). */
  extraSettings?: Readonly<Record<string, string>>;
  /** Receives the postmaster's stdout and stderr; truncated first (`$PGDATA/startup.log`). */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Start the postmaster in its own session (default true), so a Ctrl-C on
   * the terminal reaches only the supervisor, which decides how to stop it.
   */
  newSession?: boolean;
}

export interface PostmasterExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface PostmasterHandle {
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Settles once the postmaster has exited (and been reaped). */
  readonly exit: Promise<PostmasterExit>;
  exited(): boolean;
  /** Lets this process end without waiting for the postmaster (one-shot starts). */
  unref(): void;
}

/** Starts `postgres -D pgdata -p port -h listen` as a child process (not `pg_ctl start`). */
export function spawnPostmaster(bin: Bin, pgdata: string, options: PostmasterOptions): PostmasterHandle {
  const args = ['-D', pgdata, '-p', String(options.port), '-h', options.listenAddresses];
  // PG_REGRESS_SOCK_DIR (the original's test environments): the socket
  // directory, '' for none (nodes sharing a file system and a port).
  const socketDir = options.socketDir ?? (options.env ?? process.env).PG_REGRESS_SOCK_DIR;
  if (socketDir !== undefined) args.push('-k', socketDir);
  for (const [name, value] of Object.entries(options.extraSettings ?? {})) args.push('-c', `${name}=${value}`);
  const out = openSync(options.logFile, 'w', 0o644);
  let child: ChildProcess;
  try {
    child = spawn(pgProgram(bin, 'postgres'), args, {
      env: options.env ?? process.env,
      stdio: ['ignore', out, out],
      detached: options.newSession ?? true,
    });
  } finally {
    closeSync(out);
  }
  const pid = child.pid;
  if (pid === undefined) {
    throw new AutoctlError('PGCTL', `cannot start postgres in "${pgdata}": spawn of ${pgProgram(bin, 'postgres')} failed`);
  }
  let done: PostmasterExit | undefined;
  const exit = new Promise<PostmasterExit>((resolve) => {
    child.on('exit', (code, signal) => {
      done = { code, signal };
      resolve(done);
    });
    child.on('error', () => {
      // A failed spawn also emits 'exit'; nothing else to do here.
    });
  });
  return {
    pid,
    child,
    logFile: options.logFile,
    exit,
    exited: () => done !== undefined,
    unref: () => child.unref(),
  };
}

export interface WaitReadyOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** The postmaster we started: fail at once when it exits, and only accept its pid. */
  postmaster?: PostmasterHandle;
  signal?: AbortSignal;
}

/**
 * Polls `postmaster.pid` until its status line says `ready` (or `standby`:
 * up, as pg_ctl counts it). Fails with the log tail when our postmaster
 * exits or the deadline passes.
 */
export async function waitForPostgresReady(pgdata: string, options: WaitReadyOptions): Promise<PostmasterPid> {
  const deadline = performance.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 100;
  const wanted = options.postmaster?.pid;
  for (;;) {
    if (options.postmaster?.exited()) {
      const how = await options.postmaster.exit;
      throw new AutoctlError('PGCTL',
        `postgres in "${pgdata}" exited during start-up (${how.signal ?? `exit code ${how.code}`})${withTail(pgdata, options.postmaster.logFile)}`);
    }
    const info = readPostmasterPid(pgdata);
    if (info && (wanted === undefined || info.pid === wanted) && isProcessAlive(info.pid)
      && (info.status === 'ready' || info.status === 'standby')) {
      return info;
    }
    if (performance.now() > deadline) {
      const tail = options.postmaster ? withTail(pgdata, options.postmaster.logFile) : '';
      throw new AutoctlError('PGCTL', `postgres in "${pgdata}" is not ready after ${options.timeoutMs} ms${tail}`);
    }
    await delay(interval, undefined, options.signal ? { signal: options.signal } : {});
  }
}

export const STOP_MODES = ['smart', 'fast', 'immediate'] as const;
export type StopMode = (typeof STOP_MODES)[number];

export function stopSignal(mode: StopMode): NodeJS.Signals {
  switch (mode) {
    case 'smart': return 'SIGTERM';
    case 'fast': return 'SIGINT';
    case 'immediate': return 'SIGQUIT';
    default: return assertNever(mode, 'stop mode');
  }
}

export interface StopOptions {
  intervalMs?: number;
  log?: Logger;
}

/**
 * Signals the postmaster named in `postmaster.pid` and waits until that
 * process is gone. `not-running` when there was nothing to stop.
 */
export async function stopPostgres(pgdata: string, mode: StopMode, timeoutMs: number,
  options: StopOptions = {}): Promise<'stopped' | 'not-running'> {
  const info = readPostmasterPid(pgdata);
  if (!info || !isProcessAlive(Math.abs(info.pid))) return 'not-running';
  if (info.pid < 0) {
    throw new AutoctlError('PGCTL', `cannot stop postgres in "${pgdata}": a standalone backend (pid ${-info.pid}) is running`);
  }
  options.log?.info(`Stopping PostgreSQL at "${pgdata}" (pid ${info.pid}, ${mode} mode)`);
  try {
    process.kill(info.pid, stopSignal(mode));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return 'stopped';
    throw new AutoctlError('PGCTL', `cannot signal postgres pid ${info.pid} in "${pgdata}"`, { cause: error });
  }
  const deadline = performance.now() + timeoutMs;
  while (isProcessAlive(info.pid)) {
    if (performance.now() > deadline) {
      throw new AutoctlError('PGCTL', `postgres in "${pgdata}" (pid ${info.pid}) is still running ${timeoutMs} ms after a ${mode} stop`);
    }
    await delay(options.intervalMs ?? 50);
  }
  return 'stopped';
}

/** Sends SIGHUP to the postmaster (configuration reload). False when it is not running. */
export function reloadPostgres(pgdata: string): boolean {
  const info = readPostmasterPid(pgdata);
  if (!info || info.pid <= 0 || !isProcessAlive(info.pid)) return false;
  try {
    process.kill(info.pid, 'SIGHUP');
    return true;
  } catch {
    return false;
  }
}

export type PostgresStatus =
  | { state: 'no-cluster' }
  | { state: 'stopped'; stalePidFile: boolean }
  | {
    state: 'running';
    pid: number;
    port: number;
    socketDir: string;
    listenAddress: string;
    pmStatus: PmStatus | undefined;
    /** Accepting connections (status `ready`, or `standby` as pg_ctl counts it). */
    ready: boolean;
  };

export function postgresStatus(pgdata: string): PostgresStatus {
  if (classifyPgData(pgdata) !== 'postgres') return { state: 'no-cluster' };
  const info = readPostmasterPid(pgdata);
  if (!info) return { state: 'stopped', stalePidFile: false };
  if (!isProcessAlive(Math.abs(info.pid))) return { state: 'stopped', stalePidFile: true };
  return {
    state: 'running',
    pid: info.pid,
    port: info.port,
    socketDir: info.socketDir,
    listenAddress: info.listenAddress,
    pmStatus: info.status,
    ready: info.status === 'ready' || info.status === 'standby',
  };
}

/** `pg_ctl promote` (spec 05 §11.6 uses `--no-wait`, then polls pg_is_in_recovery()). */
export async function pgCtlPromote(bin: Bin, pgdata: string, options: { wait?: boolean; env?: NodeJS.ProcessEnv; log?: Logger } = {}): Promise<void> {
  const args = ['promote', options.wait ? '--wait' : '--no-wait', '-D', pgdata];
  options.log?.info(`Promoting PostgreSQL at "${pgdata}"`);
  await runProgramOk(pgProgram(bin, 'pg_ctl'), args, { env: options.env ?? process.env, timeoutMs: 120_000 });
}

/**
 * `pg_ctl --pgdata <p> --wait --mode <m> stop`, for a Postgres that is not
 * our child. A failure while Postgres is not running anyway is fine.
 */
export async function pgCtlStop(bin: Bin, pgdata: string, mode: StopMode = 'fast',
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; log?: Logger } = {}): Promise<void> {
  const timeoutSec = Math.max(1, Math.ceil((options.timeoutMs ?? 60_000) / 1000));
  const result = await runProgram(pgProgram(bin, 'pg_ctl'),
    ['--pgdata', pgdata, '--wait', '--timeout', String(timeoutSec), '--mode', mode, 'stop'],
    { env: options.env ?? process.env, timeoutMs: (timeoutSec + 10) * 1000 });
  if (result.exitCode === 0) return;
  const status = postgresStatus(pgdata);
  if (status.state !== 'running') {
    options.log?.info('pg_ctl stop failed, but PostgreSQL is not running anyway');
    return;
  }
  throw new AutoctlError('PGCTL', `pg_ctl stop failed for "${pgdata}": ${(result.stderr || result.stdout).trim()}`);
}

function tailOf(path: string, maxChars: number): string {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return text.length > maxChars ? `...${text.slice(-maxChars)}` : text;
  } catch {
    return '';
  }
}

/**
 * The end of the start-up log and, once the logging collector took over
 * (its errors, e.g. a port already in use, are only in `$PGDATA/log`), the
 * end of the current server log named in `current_logfiles`.
 */
export function startupLogTail(pgdata: string, logFile: string, maxChars = 2000): string {
  const parts = [tailOf(logFile, maxChars)];
  if (parts[0]?.includes('logging collector')) {
    const current = tailOf(join(pgdata, 'current_logfiles'), 10_000).split('\n')
      .map((line) => line.split(' '))
      .find(([format]) => format === 'stderr')?.[1];
    if (current) parts.push(tailOf(isAbsolute(current) ? current : join(pgdata, current), maxChars));
  }
  return parts.filter((p) => p !== '').join('\n');
}

const withTail = (pgdata: string, logFile: string): string => {
  const tail = startupLogTail(pgdata, logFile);
  return tail === '' ? '' : `: ${tail}`;
};
