/**
 * Builders for real clusters driven through the real CLI: a monitor (and,
 * for keeper tests, nodes) each with its own PGDATA, port and XDG dirs, run
 * as the cluster account. Everything started is stopped on cleanup.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
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
  /** The current pg_autoctl process of the monitor. */
  proc: BackgroundProcess;
  /** `pg_autoctl show uri --formation monitor` output. */
  uri: string;
  /** Runs pg_autoctl with this node's environment and PGDATA. */
  cli(args: readonly string[], options?: { timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<CommandResult>;
  /** A superuser client on the monitor database (trusted local connection). */
  sql<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[]): Promise<T[]>;
  /** A crash of the monitor host: SIGKILL of pg_autoctl, then of its whole Postgres. */
  crash(): Promise<void>;
  /** `pg_autoctl run` for the monitor again (after {@link crash}). */
  run(extraArgs?: string[]): BackgroundProcess;
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

export interface StartMonitorOptions {
  extraArgs?: string[];
  name?: string;
  /** --hostname (127.0.0.1 by default), e.g. 127.0.0.11 for monitor HA tests. */
  hostname?: string;
  /** --pgport; a free port by default. */
  port?: number;
  /** The output line that says the service runs (a standby monitor waits instead of managing). */
  readyText?: string;
}

export async function startMonitor(options: StartMonitorOptions = {}): Promise<RunningMonitor> {
  const dirs = nodeDirs(options.name ?? 'monitor');
  const port = options.port ?? await freePort();
  const env = { ...dirs.env, PGDATA: dirs.pgdata };
  const args = ['create', 'monitor', '--pgport', String(port), '--hostname', options.hostname ?? '127.0.0.1',
    ...(options.extraArgs ?? ['--no-ssl', '--auth', 'trust']), '--run'];
  let proc = startBackground('monitor', pgAutoctlArgv(args), { env });
  const procs = [proc];
  const cli = (a: readonly string[], o: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> =>
    pgAutoctl(a, { env: { ...env, ...o.env }, ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }) });
  const uri = await waitFor('the monitor to be ready', async () => {
    if (proc.exited()) throw new Error(`pg_autoctl create monitor exited early:\n${proc.output()}`);
    if (!proc.output().includes(options.readyText ?? 'Managing the monitor')) return undefined;
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
    for (const p of procs) {
      if (!p.exited()) {
        p.kill('SIGTERM');
        await p.wait(30_000).catch(() => { p.kill('SIGKILL'); });
      }
    }
    await killPostmaster(dirs.pgdata).catch(() => undefined);
  });
  const monitor: RunningMonitor = {
    dirs, port, proc, uri, cli, sql,
    async crash() {
      monitor.proc.kill('SIGKILL');
      await monitor.proc.wait(10_000).catch(() => undefined);
      await killPostmaster(dirs.pgdata);
    },
    run() {
      proc = startBackground('monitor', pgAutoctlArgv(['run', '--pgdata', dirs.pgdata]), { env });
      procs.push(proc);
      monitor.proc = proc;
      return proc;
    },
  };
  return monitor;
}

/** One statement on a fresh loopback connection as the cluster account (trust), always closed. */
export async function queryAt<T extends pg.QueryResultRow = pg.QueryResultRow>(port: number, database: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: clusterUserName(), database, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
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

// ---------------------------------------------------------------------------
// Keeper nodes (added for the keeper integration tests).

export interface NodeRowView {
  nodeid: string;
  nodename: string;
  reportedstate: string;
  goalstate: string;
  reportedlsn: string;
  reportedtli: number;
  health: number;
}

export interface RunningNode {
  name: string;
  dirs: NodeDirs;
  port: number;
  /** Port of the keeper's HTTP listener (null when the test chose it through extraArgs). */
  httpPort: number | null;
  monitor: RunningMonitor;
  /** The current pg_autoctl process of the node (create --run, or the latest run). */
  proc: BackgroundProcess;
  /** Output of every pg_autoctl process of this node so far. */
  output(): string;
  /** Runs pg_autoctl with this node's environment and PGDATA. */
  cli(args: readonly string[], options?: { timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<CommandResult>;
  /** Runs SQL on the node's Postgres over TCP as the cluster account (trust on loopback). */
  sql<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[], database?: string): Promise<T[]>;
  /** Starts `pg_autoctl run` for the node again. */
  run(extraArgs?: string[]): BackgroundProcess;
  /** SIGKILL of pg_autoctl, and of the whole postmaster process group with `postgres`. */
  kill(options?: { postgres?: boolean }): Promise<void>;
  /** `pg_autoctl` SIGTERM (a clean stop, Postgres included), waited for. */
  stop(): Promise<void>;
  /** The node's row on the monitor. */
  row(): Promise<NodeRowView | undefined>;
}

export interface StartNodeOptions {
  /** Extra `create postgres` options (the defaults: --auth trust --ssl-self-signed). */
  extraArgs?: string[];
  /** Use this PGDATA (e.g. an existing cluster to adopt) instead of a fresh path. */
  pgdata?: string;
  /** Environment added to every pg_autoctl command of the node. */
  env?: NodeJS.ProcessEnv;
  /** false: `create postgres` without --run (it exits once the node is initialised). */
  run?: boolean;
  /** Leave out --name: the monitor names the node `node_<id>` (then `name` must be that). */
  defaultName?: boolean;
}

/** Kills a postmaster and all its children at once (a crash of the whole instance). */
export async function killPostmaster(pgdata: string): Promise<number | null> {
  const pid = await postmasterPid(pgdata);
  if (pid === null) return null;
  try { process.kill(pid, 'SIGSTOP'); } catch { /* gone */ }
  for (const p of postgresProcesses(pid).reverse()) {
    try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  }
  await waitFor(`postmaster ${pid} to exit`, () => !pidAlive(pid), { timeoutMs: 10_000, intervalMs: 50 });
  return pid;
}

/** `pg_autoctl create postgres ... --run` for a new node registered with `monitor`. */
export async function startNode(monitor: RunningMonitor, name: string, options: StartNodeOptions = {}): Promise<RunningNode> {
  const dirs = nodeDirs(name);
  const pgdata = options.pgdata ?? dirs.pgdata;
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...dirs.env, ...options.env, PGDATA: pgdata };
  const outputs: BackgroundProcess[] = [];
  const httpPort = (options.extraArgs ?? []).includes('--http-port') ? null : await freePort();
  const args = ['create', 'postgres', '--pgdata', pgdata, '--pgport', String(port), '--hostname', '127.0.0.1',
    ...(httpPort === null ? [] : ['--http-port', String(httpPort)]),
    ...(options.defaultName ? [] : ['--name', name]), '--monitor', monitor.uri, ...(options.extraArgs ?? ['--auth', 'trust', '--ssl-self-signed']),
    ...(options.run === false ? [] : ['--run'])];
  onCleanup(`kill the postmaster of ${name}`, async () => { await killPostmaster(pgdata).catch(() => undefined); });
  const start = (argv: string[]): BackgroundProcess => {
    const proc = startBackground(name, pgAutoctlArgv(argv), { env });
    outputs.push(proc);
    return proc;
  };
  const node: RunningNode = {
    name,
    dirs: { ...dirs, pgdata },
    port,
    httpPort,
    monitor,
    proc: start(args),
    output: () => outputs.map((p, i) => `--- ${name} pg_autoctl #${i + 1} (pid ${p.pid}) ---\n${p.output()}`).join('\n'),
    cli: (a, o = {}) => pgAutoctl(a, { env: { ...env, ...o.env }, ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }) }),
    sql: <T extends pg.QueryResultRow>(text: string, params: unknown[] = [], database = 'postgres'): Promise<T[]> => queryAt<T>(port, database, text, params),
    run(extraArgs = []) {
      node.proc = start(['run', '--pgdata', pgdata, ...extraArgs]);
      return node.proc;
    },
    async kill(o = {}) {
      node.proc.kill('SIGKILL');
      await node.proc.wait(10_000).catch(() => undefined);
      if (o.postgres) await killPostmaster(pgdata);
    },
    async stop() {
      node.proc.kill('SIGTERM');
      await node.proc.wait(60_000);
    },
    async row() {
      const rows = await monitor.sql<NodeRowView>(
        `SELECT nodeid::text, nodename, reportedstate::text, goalstate::text, reportedlsn::text, reportedtli, health
           FROM pgautofailover.node WHERE nodename = $1`, [name]);
      return rows[0];
    },
  };
  return node;
}

/** Every node of the default formation: name, reported and goal state (for waits and failure reports). */
export async function nodeStates(monitor: RunningMonitor): Promise<NodeRowView[]> {
  return monitor.sql<NodeRowView>(
    `SELECT nodeid::text, nodename, reportedstate::text, goalstate::text, reportedlsn::text, reportedtli, health
       FROM pgautofailover.node ORDER BY nodeid`);
}

/** Waits until each named node is converged (reported = goal) in the given state. */
export async function waitForStates(monitor: RunningMonitor, wanted: Record<string, string>,
  options: { timeoutMs?: number; nodes?: RunningNode[] } = {}): Promise<NodeRowView[]> {
  let last: NodeRowView[] = [];
  try {
    return await waitFor(`states ${JSON.stringify(wanted)}`, async () => {
      last = await nodeStates(monitor);
      const ok = Object.entries(wanted).every(([name, state]) =>
        last.some((r) => r.nodename === name && r.reportedstate === state && r.goalstate === state));
      return ok ? last : undefined;
    }, { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: 200 });
  } catch (error) {
    const exited = (options.nodes ?? []).filter((n) => n.proc.exited()).map((n) => n.name);
    const table = last.map((r) => `${r.nodename}: ${r.reportedstate}/${r.goalstate} lsn ${r.reportedlsn} health ${r.health}`).join('; ');
    throw new Error(`${(error as Error).message}; last seen: ${table}${exited.length > 0 ? `; exited: ${exited.join(', ')}` : ''}`, { cause: error });
  }
}

/**
 * node1, created with the default options and converged in single. It is
 * pushed onto `nodes` (the list dumpOnFailure prints) as soon as it starts.
 */
export async function startSingle(monitor: RunningMonitor, nodes: RunningNode[]): Promise<RunningNode> {
  const node1 = await startNode(monitor, 'node1');
  nodes.push(node1);
  await waitForStates(monitor, { node1: 'single' }, { nodes });
  return node1;
}

/**
 * The usual two-node group: node1 in single, then node2 joins; returns once
 * node1 is converged in primary and node2 in secondary (within `timeoutMs`,
 * 90 s by default). Both are pushed onto `nodes` as soon as they start.
 */
export async function startPrimaryAndStandby(monitor: RunningMonitor, nodes: RunningNode[],
  options: { timeoutMs?: number } = {}): Promise<[RunningNode, RunningNode]> {
  const node1 = await startSingle(monitor, nodes);
  const node2 = await startNode(monitor, 'node2');
  nodes.push(node2);
  await waitForStates(monitor, { node1: 'primary', node2: 'secondary' }, { nodes, timeoutMs: options.timeoutMs ?? 90_000 });
  return [node1, node2];
}

/** Runs `fn`; on failure prints the monitor and node outputs (and the node table) before rethrowing. */
export async function dumpOnFailure<T>(monitor: RunningMonitor | undefined, nodes: () => RunningNode[], fn: () => Promise<T>): Promise<T> {
  let failure: unknown;
  try {
    return await fn();
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    // PGAF_TEST_DUMP=1 prints the outputs of passing tests too.
    if (failure !== undefined || process.env.PGAF_TEST_DUMP) await dumpOutputs(monitor, nodes());
  }
}

async function dumpOutputs(monitor: RunningMonitor | undefined, nodes: RunningNode[]): Promise<void> {
  const parts: string[] = [];
  if (monitor) {
    parts.push(`--- monitor output ---\n${monitor.proc.output().slice(-30_000)}`);
    const table = await nodeStates(monitor).catch(() => []);
    parts.push(`--- pgautofailover.node ---\n${table.map((r) => JSON.stringify(r)).join('\n')}`);
  }
  for (const node of nodes) parts.push(node.output().slice(-40_000));
  process.stderr.write(`${parts.join('\n')}\n`);
}

/** The pids of a postmaster and of all its children (each Postgres child runs in its own session). */
export function postgresProcesses(postmaster: number): number[] {
  const pids = [postmaster];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) pids.push(Number(name));
    } catch {
      // gone
    }
  }
  return pids;
}

/** SIGSTOP (or SIGCONT) every process of the Postgres serving `pgdata`: a frozen server. */
export async function signalPostgres(pgdata: string, signal: 'SIGSTOP' | 'SIGCONT'): Promise<number[]> {
  const pid = await postmasterPid(pgdata);
  if (pid === null) return [];
  const pids = postgresProcesses(pid);
  for (const p of pids) {
    try { process.kill(p, signal); } catch { /* gone */ }
  }
  return pids;
}

/** True when the process is gone or a zombie (a dead child its frozen parent has not reaped). */
export function processGone(pid: number): boolean {
  if (!pidAlive(pid)) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] === 'Z';
  } catch {
    return true;
  }
}
