/**
 * Pid files (spec 05 §2.3). The supervisor's `pg_autoctl.pid` holds, one
 * item per line: its pid, PGDATA as given, the pg_autoctl version, the
 * monitor schema version expected, the id of the shared log semaphore, then
 * `<pid> <name>` per running service. Each service's
 * `pg_autoctl_<name>.pid` has the same first five lines, its own pid first.
 */
import { readFileSync, readlinkSync, realpathSync, rmSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { AutoctlError } from '../common/errors.js';
import { fail, ok, type Result } from '../common/result.js';
import { isCode } from '../common/atomic-file.js';
import { readTextFile, removeFileIfExists, writeTextFile } from './text-file.js';

export interface PidFileService {
  readonly pid: number;
  readonly name: string;
}

export interface PidFile {
  readonly pid: number;
  /** PGDATA exactly as the user gave it. */
  readonly pgdata: string;
  /** pg_autoctl version of the process. */
  readonly version: string;
  /** Monitor schema version the process expects (`pgautofailover` in JSON output). */
  readonly schemaVersion: string;
  /** The original's log semaphore id; 0 when there is none. */
  readonly semId: number;
  readonly services: readonly PidFileService[];
}

export const PID_FILE_MODE = 0o644;

export function renderPidFile(pidFile: PidFile): string {
  const lines = [
    String(pidFile.pid), pidFile.pgdata, pidFile.version, pidFile.schemaVersion, String(pidFile.semId),
    ...pidFile.services.map((s) => `${s.pid} ${s.name}`),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * Parses pid file text. Only the pid line is required (a file may be read
 * while its writer is still starting up); missing header lines read as
 * empty strings and semId 0.
 */
export function parsePidFile(text: string): Result<PidFile> {
  const lines = text.split('\n');
  while (lines.length > 0 && lines[lines.length - 1]?.trim() === '') lines.pop();
  const [pidLine, pgdata = '', version = '', schemaVersion = '', semLine = '0', ...serviceLines] = lines;
  const errors: string[] = [];
  const pid = positiveInt(pidLine);
  if (pid === undefined) errors.push(`line 1: expected a pid, found "${pidLine ?? ''}"`);
  const semId = /^-?\d+$/.test(semLine.trim()) ? Number(semLine.trim()) : undefined;
  if (semId === undefined) errors.push(`line 5: expected a semaphore id, found "${semLine}"`);
  const services: PidFileService[] = [];
  serviceLines.forEach((line, index) => {
    const match = /^\s*(\d+)\s+(\S+)\s*$/.exec(line);
    const servicePid = positiveInt(match?.[1]);
    if (match === null || servicePid === undefined || match[2] === undefined) {
      errors.push(`line ${index + 6}: expected "<pid> <service name>", found "${line}"`);
      return;
    }
    services.push({ pid: servicePid, name: match[2] });
  });
  if (errors.length > 0 || pid === undefined || semId === undefined) return fail(errors);
  return ok({ pid, pgdata, version, schemaVersion, semId, services });
}

export async function writePidFile(path: string, pidFile: PidFile): Promise<void> {
  writeTextFile(path, renderPidFile(pidFile), PID_FILE_MODE, 'the pid file', 'INTERNAL');
}

/** The pid file, or undefined when it does not exist. A broken file is a BAD_STATE error. */
export async function readPidFile(path: string): Promise<PidFile | undefined> {
  const text = await readTextFile(path, 'the pid file', 'BAD_STATE');
  if (text === undefined) return undefined;
  const parsed = parsePidFile(text);
  if (!parsed.ok) throw new AutoctlError('BAD_STATE', `Pid file "${path}" is broken: ${parsed.errors.join('; ')}`);
  return parsed.value;
}

/** Signal 0 to a pid: true when the process exists (also when owned by another user). */
export function isProcessAlive(pid: number, kill: (pid: number, signal: 0) => void = (p, s) => { process.kill(p, s); }): boolean {
  // pid 0 and negative pids would address process groups.
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    kill(pid, 0);
    return true;
  } catch (error) {
    return isCode(error, 'EPERM');
  }
}

export type PidFileStatus =
  | { readonly status: 'none' }
  | { readonly status: 'running'; readonly pidFile: PidFile }
  | { readonly status: 'stale'; readonly pidFile: PidFile; readonly removed: boolean };

/**
 * Reads a pid file and checks its process. A stale file (process gone) is
 * removed when `removeStale` is set; callers log `Found a stale pidfile at
 * "<p>"` and `Removing the stale pid file "<p>"`.
 */
export async function checkPidFile(
  path: string,
  options: { removeStale?: boolean; isAlive?: (pid: number) => boolean } = {},
): Promise<PidFileStatus> {
  const pidFile = await readPidFile(path);
  if (pidFile === undefined) return { status: 'none' };
  if ((options.isAlive ?? isProcessAlive)(pidFile.pid)) return { status: 'running', pidFile };
  const removed = options.removeStale === true ? await removeFileIfExists(path) : false;
  return { status: 'stale', pidFile, removed };
}

/**
 * True when the pid file still exists and names `pid`: the supervisor and
 * services check this every loop and quit when it is false.
 */
export async function pidFileNamesPid(path: string, pid: number): Promise<boolean> {
  try {
    const pidFile = await readPidFile(path);
    return pidFile?.pid === pid;
  } catch {
    return false;
  }
}

/** Removes a pid file; true when it existed. */
export async function removePidFile(path: string): Promise<boolean> {
  return removeFileIfExists(path);
}

/** Synchronous removal, for process exit handlers. */
export function removePidFileSync(path: string): void {
  rmSync(path, { force: true });
}

/** What /proc tells about a running process, for {@link checkSignalTarget}. */
export interface ProcessIdentity {
  readonly pid: number;
  /** Owner of /proc/<pid> (the process's effective uid). */
  readonly uid: number;
  readonly argv: readonly string[];
  /** Its working directory, when readable. */
  readonly cwd?: string | undefined;
  /** PGDATA of its initial environment, when readable. */
  readonly envPgdata?: string | undefined;
}

/**
 * Reads a process's owner, command line, working directory and PGDATA from
 * /proc. Undefined when the process is gone or there is no /proc (then
 * nothing more than the pid file can be checked).
 */
export function readProcessIdentity(pid: number, procRoot = '/proc'): ProcessIdentity | undefined {
  const dir = `${procRoot}/${pid}`;
  let uid: number;
  let argv: string[];
  try {
    uid = statSync(dir).uid;
    argv = readFileSync(`${dir}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
  while (argv.length > 0 && argv[argv.length - 1] === '') argv.pop();
  let cwd: string | undefined;
  let envPgdata: string | undefined;
  try { cwd = readlinkSync(`${dir}/cwd`); } catch { cwd = undefined; }
  try {
    const entry = readFileSync(`${dir}/environ`, 'utf8').split('\0').find((e) => e.startsWith('PGDATA='));
    envPgdata = entry?.slice('PGDATA='.length);
  } catch {
    envPgdata = undefined;
  }
  return { pid, uid, argv, cwd, envPgdata };
}

export interface SignalTargetExpectation {
  /** Our uid: only our own processes may be signalled. */
  readonly uid: number;
  /** The PGDATA the command targets, absolute. */
  readonly pgdata: string;
  /** Entry scripts that are pg_autoctl (this process's own argv[1], resolved). */
  readonly entryScripts: readonly string[];
  /** Path canonicalisation (realpath when the path exists); injectable for tests. */
  readonly canonical?: (path: string) => string;
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** The `--pgdata` value of a pg_autoctl command line, if given. */
function pgdataArgument(argv: readonly string[]): string | undefined {
  let found: string | undefined;
  argv.forEach((arg, index) => {
    if (arg === '--pgdata') found = argv[index + 1];
    else if (arg.startsWith('--pgdata=')) found = arg.slice('--pgdata='.length);
  });
  return found;
}

/**
 * Whether `stop` and `reload` may signal the process a pid file names: it
 * must belong to this user, run pg_autoctl (an executable named pg_autoctl,
 * or one of the known entry scripts), and serve the same PGDATA (from its
 * `--pgdata` or its PGDATA environment, when readable). A pid file is only
 * a claim: the pid may have been reused, or the file written by someone else.
 */
export function checkSignalTarget(identity: ProcessIdentity, expected: SignalTargetExpectation): Result<true, string> {
  const canonical = expected.canonical ?? realpathOr;
  if (identity.uid !== expected.uid) {
    return fail(`process ${identity.pid} belongs to uid ${identity.uid}, not to this user (uid ${expected.uid})`);
  }
  const cwd = identity.cwd ?? '/';
  const scripts = new Set(expected.entryScripts.map(canonical));
  // The interpreter, its options (pg_autoctl's interpreter line passes some), then the script.
  const firstWord = identity.argv.findIndex((arg, index) => index > 0 && !arg.startsWith('-'));
  const isPgAutoctl = identity.argv.slice(0, Math.max(3, firstWord + 1)).some((arg, index) => basename(arg) === 'pg_autoctl'
    || (index > 0 && scripts.has(canonical(resolve(cwd, arg)))));
  if (!isPgAutoctl) {
    return fail(`process ${identity.pid} is not pg_autoctl (command line: ${identity.argv.slice(0, 4).join(' ')})`);
  }
  const theirs = pgdataArgument(identity.argv) ?? identity.envPgdata;
  if (theirs !== undefined && theirs !== '' && canonical(resolve(cwd, theirs)) !== canonical(expected.pgdata)) {
    return fail(`process ${identity.pid} is pg_autoctl for PGDATA "${resolve(cwd, theirs)}", not "${expected.pgdata}"`);
  }
  return ok(true);
}

function positiveInt(text: string | undefined): number | undefined {
  if (text === undefined || !/^\s*\d+\s*$/.test(text)) return undefined;
  const value = Number(text.trim());
  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}
