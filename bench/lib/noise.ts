/**
 * The false-failover scenario: for `durationMs`, both cores busy (one
 * busy loop per core), a checkpoint storm on the primary (bulk writes,
 * then CHECKPOINT, in a loop), and at `freezeAtMs` a freeze of the
 * monitor service (SIGSTOP of its pg_autoctl processes; with freeze
 * 'host', of its Postgres too) for `freezeMs`. Nobody asks for a
 * failover: every failover (the primary changes) and every fencing (the primary's Postgres is
 * stopped or restarted: its postmaster pid changes, or it leaves the
 * primary state) counts as unwanted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import pg from 'pg';
import { clusterUserName, postmasterPid, signalPostgres } from '../../test/helpers/cluster.js';
import { nodeRows, type Instance, type Monitor, type NodeRow } from './flavor.js';
import { signalAutoctl } from './procs.js';

export interface NoiseOptions {
  durationMs: number;
  freezeAtMs: number;
  freezeMs: number;
  /** 'service': the monitor's pg_autoctl processes only (the default); 'host': its Postgres too. */
  freeze: 'service' | 'host';
}

export interface NoiseResult {
  durationMs: number;
  /** Times the group's primary changed. */
  unwantedFailovers: number;
  /** Times the primary's Postgres was stopped or restarted, or the primary left state primary. */
  unwantedFencings: number;
  /** States other than primary/secondary seen (reported or goal), by node. */
  transientStates: string[];
  /** Health checks that marked a node unhealthy (events). */
  unhealthyEvents: number;
  checkpoints: number;
  freezeMs: number;
  freeze: 'service' | 'host';
  /** Longest time without an acknowledged write during the scenario. */
  longestWriteGapMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function burnCpus(): ChildProcess[] {
  return cpus().map(() => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
}

async function checkpointStorm(primary: Instance, until: () => boolean): Promise<number> {
  const c = new pg.Client({ host: '127.0.0.1', port: primary.port, user: clusterUserName(), database: 'postgres' });
  c.on('error', () => undefined);
  await c.connect();
  let checkpoints = 0;
  try {
    await c.query('CREATE TABLE IF NOT EXISTS bench_noise (id int, pad text)');
    while (!until()) {
      await c.query(`INSERT INTO bench_noise SELECT g, repeat('x', 400) FROM generate_series(1, 20000) g`);
      await c.query('DELETE FROM bench_noise');
      await c.query('CHECKPOINT');
      checkpoints += 1;
    }
    await c.query('DROP TABLE bench_noise');
  } finally {
    await c.end().catch(() => undefined);
  }
  return checkpoints;
}

export async function noiseScenario(monitor: Monitor, primary: Instance, standby: Instance, gapOf: (from: number, to: number) => number, options: NoiseOptions): Promise<NoiseResult> {
  const [{ max: eventsBefore } = { max: '0' }] = await monitor.sql<{ max: string }>('SELECT coalesce(max(eventid), 0)::text AS max FROM pgautofailover.event');
  const pids = new Map<string, number | null>([[primary.name, await postmasterPid(primary.dirs.pgdata)], [standby.name, await postmasterPid(standby.dirs.pgdata)]]);
  const started = performance.now();
  const end = started + options.durationMs;
  const burners = burnCpus();
  let unwantedFailovers = 0;
  let unwantedFencings = 0;
  const transient = new Set<string>();
  let primaryName = primary.name;
  let primaryWasFenced = false;
  const watch = (async () => {
    while (performance.now() < end + 5000) {
      const rows: NodeRow[] = await nodeRows(monitor).catch(() => []);
      for (const r of rows) {
        for (const s of [r.reportedstate, r.goalstate]) if (s !== 'primary' && s !== 'secondary') transient.add(`${r.nodename}:${s}`);
        if (r.goalstate === 'primary' && r.reportedstate === 'primary' && r.nodename !== primaryName) {
          unwantedFailovers += 1;
          primaryName = r.nodename;
        }
        if (r.nodename === primaryName && r.goalstate !== 'primary' && !primaryWasFenced) {
          unwantedFencings += 1;
          primaryWasFenced = true;
        }
        if (r.nodename === primaryName && r.goalstate === 'primary') primaryWasFenced = false;
      }
      await sleep(200);
    }
  })();
  const freeze = (async () => {
    await sleep(options.freezeAtMs);
    const frozen = signalAutoctl(monitor.proc.pid, 'SIGSTOP');
    if (options.freeze === 'host') frozen.push(...(await signalPostgres(monitor.dirs.pgdata, 'SIGSTOP')));
    await sleep(options.freezeMs);
    for (const pid of frozen) {
      try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ }
    }
  })();
  let checkpoints: number;
  try {
    checkpoints = await checkpointStorm(primary, () => performance.now() >= end);
  } finally {
    for (const b of burners) b.kill('SIGKILL');
    await freeze;
  }
  await watch;
  const stopped = performance.now();
  const pgRestarts = [primary, standby].filter((n) => pids.get(n.name) !== null).length
    - (await Promise.all([primary, standby].map(async (n) => (await postmasterPid(n.dirs.pgdata)) === pids.get(n.name)))).filter(Boolean).length;
  const [{ count: unhealthy } = { count: '0' }] = await monitor.sql<{ count: string }>(
    `SELECT count(*)::text AS count FROM pgautofailover.event WHERE eventid > $1 AND description ILIKE '%unhealthy%'`, [eventsBefore]);
  return {
    durationMs: Math.round(stopped - started),
    unwantedFailovers,
    unwantedFencings: Math.max(unwantedFencings, pgRestarts),
    transientStates: [...transient],
    unhealthyEvents: Number(unhealthy),
    checkpoints,
    freezeMs: options.freezeMs,
    freeze: options.freeze,
    longestWriteGapMs: Math.round(gapOf(started, end)),
  };
}
