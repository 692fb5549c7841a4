/**
 * The integration-test fixture: free ports on loopback, temp dirs owned by
 * the cluster account, commands run as that account, a deadline on every
 * wait, logs kept for failing tests, and every started process ended by pid
 * (also when the test fails).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

export const CLUSTER_USER = process.env.PGAF_TEST_USER ?? 'postgres';
export const IS_ROOT = process.getuid?.() === 0;

interface Account { uid: number; gid: number; home: string }

let account: Account | undefined;
/** uid/gid of the cluster account (the current user when not root). */
export function clusterAccount(): Account {
  if (account) return account;
  if (!IS_ROOT) {
    account = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, home: process.env.HOME ?? tmpdir() };
    return account;
  }
  const line = execFileSync('getent', ['passwd', CLUSTER_USER], { encoding: 'utf8' }).trim();
  const [, , uid, gid, , home] = line.split(':');
  account = { uid: Number(uid), gid: Number(gid), home: home ?? '/tmp' };
  return account;
}

/** A PostgreSQL bin directory: PGAF_TEST_PGBINDIR, or Debian's newest. */
export function pgBinDir(): string {
  if (process.env.PGAF_TEST_PGBINDIR) return process.env.PGAF_TEST_PGBINDIR;
  const base = '/usr/lib/postgresql';
  const majors = existsSync(base) ? readdirSync(base).filter((d) => existsSync(join(base, d, 'bin', 'postgres'))) : [];
  majors.sort((a, b) => Number(b) - Number(a));
  if (majors[0] === undefined) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  return join(base, majors[0], 'bin');
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Cleanups run in LIFO order by {@link runCleanups} (test `after` hooks). */
const cleanups: Array<{ what: string; fn: () => void | Promise<void> }> = [];
export function onCleanup(what: string, fn: () => void | Promise<void>): void {
  cleanups.push({ what, fn });
}
export async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) {
    const item = cleanups.pop();
    if (!item) break;
    try {
      await item.fn();
    } catch (error) {
      process.stderr.write(`cleanup "${item.what}" failed: ${String(error)}\n`);
    }
  }
}
process.on('exit', () => {
  // Last resort: end processes still tracked (synchronous kill only).
  for (const proc of tracked) {
    if (proc.exitCode === null && proc.pid !== undefined) {
      try { process.kill(proc.pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  }
});

/** A temp dir readable by everyone and owned by the cluster account, removed on cleanup. */
export function makeTempDir(prefix = 'pgaf-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  const { uid, gid } = clusterAccount();
  if (IS_ROOT) chownSync(dir, uid, gid);
  onCleanup(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes a file and hands it to the cluster account. */
export function writeClusterFile(path: string, text: string, mode = 0o644): void {
  writeFileSync(path, text, { mode });
  const { uid, gid } = clusterAccount();
  if (IS_ROOT) chownSync(path, uid, gid);
}

/** argv prefixed so it runs as the cluster account when we are root. */
export function asClusterUser(argv: readonly string[]): string[] {
  if (!IS_ROOT) return [...argv];
  // setpriv execs the command in place (runuser would fork and stay between
  // us and it), so the pid we hold is the command's own pid.
  return ['setpriv', `--reuid=${CLUSTER_USER}`, `--regid=${CLUSTER_USER}`, '--init-groups', '--', ...argv];
}

export interface CommandResult { exitCode: number; stdout: string; stderr: string }

/** Runs a command to completion (as the cluster account when root), with a deadline. */
export function run(argv: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; asUser?: boolean; input?: string } = {}): Promise<CommandResult> {
  const full = options.asUser === false ? [...argv] : asClusterUser(argv);
  const [cmd, ...args] = full;
  if (cmd === undefined) throw new Error('empty argv');
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: clusterEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'], cwd: tmpdir() });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`command timed out after ${timeoutMs} ms: ${full.join(' ')}\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ exitCode: code ?? 1, stdout, stderr }); });
    // A command that exits before reading its stdin closes the pipe: that is
    // its business, and its exit code tells the story (not an EPIPE here).
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** The environment for cluster commands: HOME and XDG dirs of the cluster account unless given. */
export function clusterEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { home } = clusterAccount();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    ...extra,
  };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  return env;
}

const tracked = new Set<ChildProcess>();

export interface BackgroundProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr interleaved). */
  output(): string;
  exited(): boolean;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  wait(timeoutMs?: number): Promise<number | string>;
  /** Sends a signal to this pid (no-op once exited). */
  kill(signal?: NodeJS.Signals): void;
}

/** Starts a long-running command (as the cluster account when root); ended by pid on cleanup. */
export function startBackground(name: string, argv: readonly string[], options: { env?: NodeJS.ProcessEnv; asUser?: boolean } = {}): BackgroundProcess {
  const full = options.asUser === false ? [...argv] : asClusterUser(argv);
  const [cmd, ...args] = full;
  if (cmd === undefined) throw new Error('empty argv');
  const child = spawn(cmd, args, { env: clusterEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'], cwd: tmpdir() });
  if (child.pid === undefined) throw new Error(`cannot start ${name}`);
  tracked.add(child);
  let out = '';
  const append = (c: string): void => { out += c; if (out.length > 2_000_000) out = out.slice(-1_000_000); };
  child.stdout?.setEncoding('utf8').on('data', append);
  child.stderr?.setEncoding('utf8').on('data', append);
  let exitValue: number | string | undefined;
  const exitPromise = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      exitValue = code ?? signal ?? 'unknown';
      tracked.delete(child);
      resolve(exitValue);
    });
  });
  const proc: BackgroundProcess = {
    pid: child.pid,
    child,
    output: () => out,
    exited: () => exitValue !== undefined,
    wait: (timeoutMs = 30_000) => withDeadline(exitPromise, timeoutMs, `${name} to exit`),
    kill: (signal = 'SIGTERM') => {
      if (exitValue !== undefined || child.pid === undefined) return;
      try { process.kill(child.pid, signal); } catch { /* gone */ }
    },
  };
  onCleanup(`stop ${name} (pid ${child.pid})`, async () => {
    if (proc.exited()) return;
    proc.kill('SIGTERM');
    try {
      await proc.wait(20_000);
    } catch {
      proc.kill('SIGKILL');
      await proc.wait(5_000).catch(() => undefined);
    }
  });
  return proc;
}

export function withDeadline<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Polls `check` until it returns a value other than undefined/false, or the
 * deadline passes. Errors thrown by `check` count as "not yet".
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 200;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** True when a process with this pid exists. */
/** The first file named `name` below `dir` (depth first), e.g. a node's pg_autoctl.state under its XDG directories. */
export function findFile(dir: string, name: string): string | undefined {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = findFile(path, name);
      if (found !== undefined) return found;
    } else if (entry.name === name) {
      return path;
    }
  }
  return undefined;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
