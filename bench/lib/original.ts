/**
 * The original pg_auto_failover 2.0 (Debian's /usr/bin/pg_autoctl and
 * postgresql-15-auto-failover), driven like test/helpers/cluster.ts drives
 * ours: a monitor and data nodes on 127.0.0.1 free ports, each in a temp dir
 * with its own XDG dirs, run as the cluster account with --auth trust
 * --no-ssl, and stopped on cleanup (by pid; the postmaster too).
 */
import pg from 'pg';
import { freePort, onCleanup, run, startBackground, waitFor, type BackgroundProcess, type CommandResult } from '../../test/helpers/fixture.js';
import { killPostmaster, nodeDirs, queryAt, type NodeDirs } from '../../test/helpers/cluster.js';
import { crashHost } from './procs.js';

export const ORIGINAL_PG_AUTOCTL = '/usr/bin/pg_autoctl';
const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface OriginalInstance {
  name: string;
  dirs: NodeDirs;
  port: number;
  /** The current `pg_autoctl` process (create --run, or the latest run). */
  proc: BackgroundProcess;
  /** Output of every pg_autoctl process of this instance so far. */
  output(): string;
  cli(args: readonly string[]): Promise<CommandResult>;
  /** SQL over TCP as the cluster account (trust on loopback). */
  sql<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[], database?: string): Promise<T[]>;
  /** SIGKILL of pg_autoctl, its sub-processes and the whole Postgres: a crash of the host. */
  crash(): Promise<void>;
  /** `pg_autoctl run` again. */
  run(): BackgroundProcess;
}

export interface OriginalMonitor extends OriginalInstance {
  uri: string;
}

function instance(name: string, port: number, dirs: NodeDirs, createArgs: string[], database: string): OriginalInstance {
  const env: NodeJS.ProcessEnv = { ...dirs.env, PGDATA: dirs.pgdata, PATH: `${PG_BIN}:${process.env.PATH ?? '/usr/bin:/bin'}` };
  const procs: BackgroundProcess[] = [];
  // Registered first, so it runs last (LIFO): after pg_autoctl got its SIGTERM.
  onCleanup(`kill the postmaster of ${name} (2.0)`, async () => { await killPostmaster(dirs.pgdata).catch(() => undefined); });
  const start = (args: string[]): BackgroundProcess => {
    const proc = startBackground(`${name} (2.0)`, [ORIGINAL_PG_AUTOCTL, ...args], { env });
    procs.push(proc);
    return proc;
  };
  const self: OriginalInstance = {
    name,
    dirs,
    port,
    proc: start(createArgs),
    output: () => procs.map((p, i) => `--- ${name} (2.0) pg_autoctl #${i + 1} (pid ${p.pid}) ---\n${p.output()}`).join('\n'),
    cli: (args) => run([ORIGINAL_PG_AUTOCTL, ...args], { env, timeoutMs: 30_000 }),
    sql: <T extends pg.QueryResultRow>(text: string, params: unknown[] = [], db = database): Promise<T[]> => queryAt<T>(port, db, text, params),
    async crash() {
      await crashHost(self.proc, dirs.pgdata);
    },
    run() {
      self.proc = start(['run', '--pgdata', dirs.pgdata]);
      return self.proc;
    },
  };
  return self;
}

/** `pg_autoctl create monitor ... --run` of 2.0; resolves once `show uri` answers. */
export async function startOriginalMonitor(name = 'orig-monitor'): Promise<OriginalMonitor> {
  const dirs = nodeDirs(name);
  const port = await freePort();
  const inst = instance(name, port, dirs, ['create', 'monitor', '--pgdata', dirs.pgdata, '--pgport', String(port),
    '--hostname', '127.0.0.1', '--auth', 'trust', '--no-ssl', '--run'], 'pg_auto_failover');
  const uri = await waitFor('the 2.0 monitor to be ready', async () => {
    if (inst.proc.exited()) throw new Error(`2.0 pg_autoctl create monitor exited early:\n${inst.proc.output()}`);
    const r = await inst.cli(['show', 'uri', '--formation', 'monitor', '--pgdata', dirs.pgdata]);
    if (r.exitCode !== 0) return undefined;
    await inst.sql('SELECT 1 FROM pgautofailover.node LIMIT 1');
    return r.stdout.trim();
  }, { timeoutMs: 120_000, intervalMs: 500 }).catch((error: Error) => {
    throw new Error(`${error.message}\n--- 2.0 monitor output ---\n${inst.proc.output()}`);
  });
  return Object.assign(inst, { uri });
}

/** `pg_autoctl create postgres ... --run` of 2.0 for a node registered with `monitor`. */
export async function startOriginalNode(monitor: OriginalMonitor, name: string): Promise<OriginalInstance> {
  const dirs = nodeDirs(`orig-${name}`);
  const port = await freePort();
  return instance(name, port, dirs, ['create', 'postgres', '--pgdata', dirs.pgdata, '--pgport', String(port),
    '--hostname', '127.0.0.1', '--name', name, '--monitor', monitor.uri, '--auth', 'trust', '--no-ssl', '--run'], 'postgres');
}

export interface OriginalNodeRow { nodename: string; reportedstate: string; goalstate: string }

/** The node table of a 2.0 monitor. */
export async function originalStates(monitor: OriginalMonitor): Promise<OriginalNodeRow[]> {
  return monitor.sql<OriginalNodeRow>('SELECT nodename, reportedstate::text, goalstate::text FROM pgautofailover.node ORDER BY nodeid');
}

/** Waits until each named node of a 2.0 group is converged in the given state. */
export async function waitForOriginalStates(monitor: OriginalMonitor, wanted: Record<string, string>, timeoutMs = 180_000): Promise<void> {
  let last: OriginalNodeRow[] = [];
  await waitFor(`2.0 states ${JSON.stringify(wanted)}`, async () => {
    last = await originalStates(monitor);
    return Object.entries(wanted).every(([n, s]) => last.some((r) => r.nodename === n && r.reportedstate === s && r.goalstate === s));
  }, { timeoutMs, intervalMs: 300 }).catch((error: Error) => {
    throw new Error(`${error.message}; last seen: ${JSON.stringify(last)}`);
  });
}
