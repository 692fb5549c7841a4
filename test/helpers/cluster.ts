/**
 * Builders for real clusters driven through the real CLI: a monitor (and,
 * for keeper tests, nodes) each with its own PGDATA, port and XDG dirs, run
 * as the cluster account. Everything started is stopped on cleanup.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import {
  clusterAccount, freePort, IS_ROOT, makeTempDir, onCleanup, pidAlive, startBackground, waitFor,
  type BackgroundProcess, type CommandResult,
} from './fixture.js';
import { pgAutoctl, pgAutoctlArgv } from './tool.js';
import { chownSync } from 'node:fs';

export interface NodeDirs {
  root: string;
  pgdata: string;
  env: NodeJS.ProcessEnv;
}

/** A directory tree for one pg_autoctl node: PGDATA (not created) and its own XDG dirs. */
export function nodeDirs(name: string, root = makeTempDir(`pgaf-${name}-`)): NodeDirs {
  const xdg = (sub: string): string => {
    const dir = join(root, sub);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    if (IS_ROOT) chownSync(dir, clusterAccount().uid, clusterAccount().gid);
    return dir;
  };
  return {
    root,
    pgdata: join(root, 'pgdata'),
    env: {
      XDG_CONFIG_HOME: xdg('config'),
      XDG_DATA_HOME: xdg('share'),
      XDG_RUNTIME_DIR: xdg('run'),
      PG_AUTOCTL_DEBUG: undefined,
    },
  };
}

export interface RunningMonitor {
  dirs: NodeDirs;
  port: number;
  proc: BackgroundProcess;
  /** `pg_autoctl show uri --formation monitor` output. */
  uri: string;
  /** Runs pg_autoctl with this node's environment and PGDATA. */
  cli(args: readonly string[], options?: { timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<CommandResult>;
  /** A superuser client on the monitor database (trusted local connection). */
  sql<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[]): Promise<T[]>;
}

/** Monitor settings that make tests fail over in seconds (DESIGN.md decision 9). */
export const FAST_MONITOR_SETTINGS: Record<string, string> = {
  'pgautofailover.health_check_period': '1000',
  'pgautofailover.health_check_timeout': '1000',
  'pgautofailover.health_check_max_retries': '1',
  'pgautofailover.health_check_retry_delay': '500',
  'pgautofailover.node_considered_unhealthy_timeout': '3000',
  'pgautofailover.startup_grace_period': '1000',
  'pgautofailover.primary_lease_timeout': '3000',
};

export async function startMonitor(options: { extraArgs?: string[]; name?: string } = {}): Promise<RunningMonitor> {
  const dirs = nodeDirs(options.name ?? 'monitor');
  const port = await freePort();
  const env = { ...dirs.env, PGDATA: dirs.pgdata };
  const args = ['create', 'monitor', '--pgport', String(port), '--hostname', '127.0.0.1',
    ...(options.extraArgs ?? ['--no-ssl', '--auth', 'trust']), '--run'];
  const proc = startBackground('monitor', pgAutoctlArgv(args), { env });
  const cli = (a: readonly string[], o: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> =>
    pgAutoctl(a, { env: { ...env, ...o.env }, ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }) });
  const uri = await waitFor('the monitor to be ready', async () => {
    if (proc.exited()) throw new Error(`pg_autoctl create monitor exited early:\n${proc.output()}`);
    if (!proc.output().includes('Managing the monitor')) return undefined;
    const r = await cli(['show', 'uri', '--formation', 'monitor']);
    return r.exitCode === 0 ? r.stdout.trim() : undefined;
  }, { timeoutMs: 90_000, intervalMs: 300 }).catch((error: Error) => {
    throw new Error(`${error.message}\n--- monitor output ---\n${proc.output()}`);
  });
  const sql = async <T extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<T[]> => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: clusterUserName(), database: 'pg_auto_failover' });
    await client.connect();
    try {
      return (await client.query<T>(text, params)).rows;
    } finally {
      await client.end();
    }
  };
  for (const [name, value] of Object.entries(FAST_MONITOR_SETTINGS)) {
    await sql('UPDATE pgautofailover.settings SET setting = $2 WHERE name = $1', [name, value]).catch(() => undefined);
  }
  onCleanup('stop monitor', async () => {
    if (!proc.exited()) {
      proc.kill('SIGTERM');
      await proc.wait(30_000).catch(() => { proc.kill('SIGKILL'); });
    }
  });
  return { dirs, port, proc, uri, cli, sql };
}

export function clusterUserName(): string {
  return IS_ROOT ? (process.env.PGAF_TEST_USER ?? 'postgres') : (process.env.USER ?? 'postgres');
}

/** The postmaster pid of a PGDATA, from postmaster.pid, if alive. */
export async function postmasterPid(pgdata: string): Promise<number | null> {
  const { readFileSync } = await import('node:fs');
  try {
    const pid = Number(readFileSync(join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? pid : null;
  } catch {
    return null;
  }
}
