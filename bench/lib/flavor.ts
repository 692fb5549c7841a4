/**
 * One driver for both implementations: the same commands (`create monitor`,
 * `create postgres --run`, `run`), the same options (loopback, free ports,
 * --auth trust --no-ssl, each instance in its own temp dir with its own XDG
 * dirs, run as the cluster account) and the same SQL against the monitor.
 * A Flavor only says how to start its pg_autoctl and which extra options
 * it needs. Nothing changes the monitor's settings: both run at defaults.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { killPostmaster, nodeDirs, queryAt, type NodeDirs } from '../../test/helpers/cluster.js';
import { freePort, onCleanup, pgBinDir, run, startBackground, waitFor, type BackgroundProcess, type CommandResult } from '../../test/helpers/fixture.js';
import { crashHost } from './procs.js';

export interface Flavor {
  /** "ours" or "pgaf-2.0". */
  readonly name: string;
  /** argv that runs this pg_autoctl with `args`. */
  argv(args: readonly string[]): string[];
  /** Extra `create postgres` options (ours: --http-port for two nodes on one host). */
  nodeArgs(): Promise<string[]>;
}

export interface Instance {
  name: string;
  dirs: NodeDirs;
  port: number;
  proc: BackgroundProcess;
  output(): string;
  cli(args: readonly string[], timeoutMs?: number): Promise<CommandResult>;
  sql<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[]): Promise<T[]>;
  /** A host crash: pg_autoctl, everything below it, and the whole Postgres. */
  crash(): Promise<void>;
  /** `pg_autoctl run` again. */
  run(): BackgroundProcess;
}

export interface Monitor extends Instance { uri: string }

export interface NodeRow { nodeid: string; nodename: string; reportedstate: string; goalstate: string }

const query = queryAt;

/** Where an instance of ours writes its JSON log lines. */
export function jsonLogOf(dirs: NodeDirs): string {
  return `${dirs.env.XDG_RUNTIME_DIR ?? dirs.root}/pg_autoctl.log.json`;
}

function instance(flavor: Flavor, name: string, port: number, dirs: NodeDirs, createArgs: string[], database: string): Instance {
  // Ours also logs JSON lines (ms timestamps) there, for `--dump` timelines; 2.0 ignores it.
  const env: NodeJS.ProcessEnv = { ...dirs.env, PGDATA: dirs.pgdata, PATH: `${pgBinDir()}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    PG_AUTOCTL_LOG_JSON: jsonLogOf(dirs) };
  const procs: BackgroundProcess[] = [];
  // Registered before the process's own cleanup, so it runs after it (LIFO).
  onCleanup(`kill the postmaster of ${flavor.name} ${name}`, async () => { await killPostmaster(dirs.pgdata).catch(() => undefined); });
  const start = (args: string[]): BackgroundProcess => {
    const proc = startBackground(`${flavor.name} ${name}`, flavor.argv(args), { env });
    procs.push(proc);
    return proc;
  };
  const self: Instance = {
    name,
    dirs,
    port,
    proc: start(createArgs),
    output: () => procs.map((p, i) => `--- ${flavor.name} ${name} pg_autoctl #${i + 1} (pid ${p.pid}) ---\n${p.output()}`).join('\n'),
    cli: (args, timeoutMs = 60_000) => run(flavor.argv(args), { env, timeoutMs }),
    sql: (text, params = []) => query(port, database, text, params),
    async crash() { await crashHost(self.proc, dirs.pgdata); },
    run() {
      self.proc = start(['run', '--pgdata', dirs.pgdata]);
      return self.proc;
    },
  };
  return self;
}

export async function startMonitor(flavor: Flavor): Promise<Monitor> {
  const dirs = nodeDirs(`${flavor.name}-monitor`);
  const port = await freePort();
  const inst = instance(flavor, 'monitor', port, dirs, ['create', 'monitor', '--pgdata', dirs.pgdata, '--pgport', String(port),
    '--hostname', '127.0.0.1', '--auth', 'trust', '--no-ssl', '--run'], 'pg_auto_failover');
  const uri = await waitFor(`the ${flavor.name} monitor to be ready`, async () => {
    if (inst.proc.exited()) throw new Error(`create monitor exited early:\n${inst.proc.output()}`);
    // No CLI call before the monitor's Postgres runs: 2.0's `create monitor`
    // fails ("Failed to create state directory ...: File exists") when a
    // concurrent command creates the same XDG directories first.
    if (!existsSync(join(dirs.pgdata, 'postmaster.pid'))) return undefined;
    const r = await inst.cli(['show', 'uri', '--formation', 'monitor', '--pgdata', dirs.pgdata]);
    if (r.exitCode !== 0) return undefined;
    try {
      // The tables come first (ours: one migration at a time), the functions last:
      // a node started before register_node exists fails to register.
      const api = await inst.sql(`SELECT 1 FROM pg_catalog.pg_proc
        WHERE proname = 'register_node' AND pronamespace = 'pgautofailover'::regnamespace`);
      if (api.length === 0) return undefined;
    } catch {
      return undefined;
    }
    return r.stdout.trim();
  }, { timeoutMs: 120_000, intervalMs: 200 }).catch((error: Error) => {
    throw new Error(`${error.message}\n--- monitor output ---\n${inst.proc.output()}`);
  });
  return Object.assign(inst, { uri });
}

export async function startNode(flavor: Flavor, monitor: Monitor, name: string): Promise<Instance> {
  const dirs = nodeDirs(`${flavor.name}-${name}`);
  const port = await freePort();
  return instance(flavor, name, port, dirs, ['create', 'postgres', '--pgdata', dirs.pgdata, '--pgport', String(port),
    '--hostname', '127.0.0.1', '--name', name, '--monitor', monitor.uri, '--auth', 'trust', '--no-ssl',
    ...(await flavor.nodeArgs()), '--run'], 'postgres');
}

export async function nodeRows(monitor: Monitor): Promise<NodeRow[]> {
  return monitor.sql<NodeRow>('SELECT nodeid::text, nodename, reportedstate::text, goalstate::text FROM pgautofailover.node ORDER BY nodeid');
}

/** Waits until each named node is converged (reported = goal) in the given state; polls every `intervalMs`. */
export async function waitForStates(monitor: Monitor, wanted: Record<string, string>, timeoutMs = 180_000, intervalMs = 100): Promise<void> {
  let last: NodeRow[] = [];
  await waitFor(`states ${JSON.stringify(wanted)}`, async () => {
    last = await nodeRows(monitor).catch(() => last);
    return Object.entries(wanted).every(([n, s]) => last.some((r) => r.nodename === n && r.reportedstate === s && r.goalstate === s));
  }, { timeoutMs, intervalMs }).catch((error: Error) => {
    throw new Error(`${error.message}; last seen: ${JSON.stringify(last)}`);
  });
}
