/**
 * `npm run bench`: the same scenarios, with the same harness and both at
 * their default settings, on this implementation and on pg_auto_failover
 * 2.0 (installed with apt-get when missing), one after the other in one
 * run: bring-up, switchover, crash failover with a writer, rejoin, memory,
 * and the false-failover scenario (noise). Writes bench/results/bench.json
 * and bench/results/bench.md (a table with the ratio ours/theirs).
 *
 *   npm run bench [-- --rounds N --crash-rounds N --only ours|pgaf-2.0 --noise-ms N --noise-freeze service|host --dump]
 *
 * Run as root (clusters run as the `postgres` account), after `npm run build`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runCleanups } from '../test/helpers/fixture.js';
import { jsonLogOf, nodeRows, startMonitor, startNode, waitForStates, type Flavor, type Instance, type Monitor } from './lib/flavor.js';
import { noiseScenario, type NoiseResult } from './lib/noise.js';
import { ours } from './lib/ours.js';
import { ensurePgaf20, pgaf20 } from './lib/pgaf20.js';
import { memoryOf, type Memory } from './lib/procs.js';
import { lostWrites, Writer, WRITES_TABLE } from './lib/failover-writer.js';
import { renderMarkdown } from './lib/report.js';

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    'crash-rounds': { type: 'string', default: '3' },
    only: { type: 'string' },
    'noise-ms': { type: 'string', default: '60000' },
    'noise-freeze': { type: 'string', default: 'service' },
    out: { type: 'string', default: 'bench/results' },
    dump: { type: 'boolean', default: false },
  },
});

const log = (line: string): void => { process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`); };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const since = (t: number): number => Math.round(performance.now() - t);

export interface FlavorResult {
  flavor: string;
  version: string;
  settings: Record<string, string>;
  bringUpMs: { monitor: number; single: number; secondary: number; total: number };
  switchover: Array<{ writableMs: number; convergedMs: number }>;
  failover: Array<{ firstWriteMs: number; rejoinMs: number }>;
  memory: { node: Memory[]; monitor: Memory };
  noise: NoiseResult | null;
  writes: { acknowledged: number; lost: number; errors: number };
  error?: string;
}

async function settingsOf(monitor: Monitor): Promise<Record<string, string>> {
  // Ours keeps them in a table; 2.0 in GUCs of the monitor's Postgres.
  const rows = await monitor.sql<{ name: string; setting: string }>(
    `SELECT name, setting FROM pgautofailover.settings`).catch(() => monitor.sql<{ name: string; setting: string }>(
    `SELECT name, setting FROM pg_settings WHERE name LIKE 'pgautofailover.%'`));
  const wanted = /health_check|unhealthy|lease|demote_timeout|startup_grace/;
  return Object.fromEntries(rows.filter((r) => wanted.test(r.name)).map((r) => [r.name.replace('pgautofailover.', ''), r.setting]));
}

async function benchOne(flavor: Flavor, version: string): Promise<FlavorResult> {
  const result: FlavorResult = {
    flavor: flavor.name, version, settings: {}, bringUpMs: { monitor: 0, single: 0, secondary: 0, total: 0 },
    switchover: [], failover: [], memory: { node: [], monitor: { rssMb: 0, pssMb: 0, anonMb: 0, processes: [] } },
    noise: null, writes: { acknowledged: 0, lost: 0, errors: 0 },
  };
  let writer: Writer | null = null;
  let monitor: Monitor | undefined;
  const nodes: Instance[] = [];
  try {
    const t0 = performance.now();
    monitor = await startMonitor(flavor);
    result.bringUpMs.monitor = since(t0);
    const t1 = performance.now();
    const a = await startNode(flavor, monitor, 'node1');
    nodes.push(a);
    await waitForStates(monitor, { node1: 'single' });
    result.bringUpMs.single = since(t1);
    const t2 = performance.now();
    const b = await startNode(flavor, monitor, 'node2');
    nodes.push(b);
    await waitForStates(monitor, { node1: 'primary', node2: 'secondary' });
    result.bringUpMs.secondary = since(t2);
    result.bringUpMs.total = since(t0);
    log(`${flavor.name}: up in ${result.bringUpMs.total} ms`);
    result.settings = await settingsOf(monitor);

    await a.sql(`CREATE TABLE ${WRITES_TABLE} (id bigint PRIMARY KEY, at timestamptz DEFAULT now())`);
    writer = new Writer([a.port, b.port]);
    writer.start();
    await sleep(5000);
    result.memory = { node: [memoryOf(a.proc.pid), memoryOf(b.proc.pid)], monitor: memoryOf(monitor.proc.pid) };
    log(`${flavor.name}: memory per node ${result.memory.node.map((m) => `${m.rssMb} MB RSS / ${m.pssMb} MB PSS`).join(', ')}; monitor ${result.memory.monitor.rssMb} MB RSS / ${result.memory.monitor.pssMb} MB PSS`);

    let primary = a;
    let standby = b;
    for (let i = 0; i < Number(opts.rounds); i++) {
      const started = performance.now();
      await monitor.sql('SELECT pgautofailover.perform_failover()');
      const ack = await waitForAck(writer, primary.port, started, 60_000);
      const writableMs = Math.round(ack - started);
      await waitForStates(monitor, { [standby.name]: 'primary', [primary.name]: 'secondary' }, 120_000, 50);
      const convergedMs = since(started);
      result.switchover.push({ writableMs, convergedMs });
      log(`${flavor.name}: switchover ${i + 1}: writable after ${writableMs} ms, converged after ${convergedMs} ms`);
      [primary, standby] = [standby, primary];
      await sleep(3000);
    }

    for (let i = 0; i < Number(opts['crash-rounds']); i++) {
      await sleep(2000);
      const killed = performance.now();
      await primary.crash();
      const ack = await waitForAck(writer, primary.port, killed, 180_000);
      const firstWriteMs = Math.round(ack - killed);
      const rejoinAt = performance.now();
      primary.run();
      await waitForStates(monitor, { [primary.name]: 'secondary', [standby.name]: 'primary' }, 240_000);
      const rejoinMs = since(rejoinAt);
      result.failover.push({ firstWriteMs, rejoinMs });
      log(`${flavor.name}: crash ${i + 1}: first write on the other node after ${firstWriteMs} ms, rejoin in ${rejoinMs} ms`);
      [primary, standby] = [standby, primary];
    }

    if (Number(opts['noise-ms']) > 0) {
      await sleep(3000);
      const w = writer;
      const gapOf = (from: number, to: number): number => {
        const times = [from, ...w.acks.filter((x) => x.at >= from && x.at <= to).map((x) => x.at), to];
        let gap = 0;
        for (let k = 1; k < times.length; k++) gap = Math.max(gap, (times[k] ?? 0) - (times[k - 1] ?? 0));
        return gap;
      };
      const noiseMs = Number(opts['noise-ms']);
      result.noise = await noiseScenario(monitor, primary, standby, gapOf, { durationMs: noiseMs, freezeAtMs: Math.round(noiseMs / 3), freezeMs: 2000,
        freeze: opts['noise-freeze'] === 'host' ? 'host' : 'service' });
      log(`${flavor.name}: noise: ${result.noise.unwantedFailovers} unwanted failovers, ${result.noise.unwantedFencings} fencings, ${result.noise.unhealthyEvents} unhealthy marks, transient ${JSON.stringify(result.noise.transientStates)}`);
    }

    await writer.stop();
    // Lost writes: every acknowledged id must be on the node that is primary now.
    const rows = await nodeRows(monitor);
    const now = rows.find((r) => r.goalstate === 'primary' || r.goalstate === 'wait_primary' || r.goalstate === 'single');
    const holder = nodes.find((n) => n.name === now?.nodename) ?? primary;
    const present = new Set((await holder.sql<{ id: string }>(`SELECT id::text FROM ${WRITES_TABLE}`)).map((r) => Number(r.id)));
    const lost = lostWrites(writer.acks, present);
    result.writes = { acknowledged: writer.acks.length, lost: lost.length, errors: writer.errors };
    log(`${flavor.name}: ${writer.acks.length} writes acknowledged, ${lost.length} lost`);
    // Memory again after the whole run (heaps grow): the larger of the two counts.
    result.memory.monitor = maxMemory(result.memory.monitor, memoryOf(monitor.proc.pid));
    result.memory.node = result.memory.node.map((m, k) => {
      const n = nodes[k];
      return n === undefined || n.proc.exited() ? m : maxMemory(m, memoryOf(n.proc.pid));
    });
    log(`${flavor.name}: memory at the end: per node ${result.memory.node.map((m) => `${m.rssMb} MB RSS / ${m.pssMb} MB PSS`).join(', ')}; monitor ${result.memory.monitor.rssMb} MB RSS / ${result.memory.monitor.pssMb} MB PSS`);
    if (opts.dump) process.stderr.write(timeline([monitor, ...nodes]));
  } catch (error) {
    result.error = (error as Error).message;
    log(`${flavor.name}: FAILED: ${result.error}`);
    if (monitor) process.stderr.write(`${monitor.output().slice(-20_000)}\n`);
    for (const n of nodes) process.stderr.write(`${n.output().slice(-20_000)}\n`);
  } finally {
    await writer?.stop().catch(() => undefined);
    await runCleanups();
  }
  return result;
}

/** The JSON log lines of every instance, merged by time (ms), for --dump. */
function timeline(instances: Instance[]): string {
  const lines: Array<{ time: number; text: string }> = [];
  for (const inst of instances) {
    let text: string;
    try { text = readFileSync(jsonLogOf(inst.dirs), 'utf8'); } catch { continue; }
    for (const line of text.split('\n')) {
      try {
        const r = JSON.parse(line) as { time: number; msg: string };
        lines.push({ time: r.time, text: `${new Date(r.time).toISOString().slice(11, 23)} ${inst.name.padEnd(7)} ${r.msg}` });
      } catch { /* not a JSON line */ }
    }
  }
  return `${lines.sort((x, y) => x.time - y.time).map((l) => l.text).join('\n')}\n`;
}

function maxMemory(a: Memory, b: Memory): Memory {
  return b.rssMb > a.rssMb ? b : a;
}

async function waitForAck(writer: Writer, oldPort: number, since: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const ack = writer.firstAckElsewhere(oldPort, since);
    if (ack !== undefined) return ack.at;
    if (performance.now() > deadline) throw new Error(`no write acknowledged by another node within ${timeoutMs} ms`);
    await sleep(10);
  }
}

async function main(): Promise<void> {
  const flavors: Array<{ flavor: Flavor; version: () => string }> = [
    { flavor: ours, version: () => 'this checkout' },
    { flavor: pgaf20, version: () => ensurePgaf20(log) },
  ].filter((f) => opts.only === undefined || f.flavor.name === opts.only);
  const results: FlavorResult[] = [];
  for (const { flavor, version } of flavors) {
    log(`--- ${flavor.name} ---`);
    results.push(await benchOne(flavor, version()));
  }
  const report = {
    date: new Date().toISOString(),
    machine: { cpus: (await import('node:os')).cpus().length, loadAverage: (await import('node:os')).loadavg().map((x) => Math.round(x * 10) / 10) },
    scenarios: {
      switchover: 'SELECT pgautofailover.perform_failover() on the monitor; writable = first write acknowledged by the other node after the call started (writer every 100 ms); converged = both nodes reported primary/secondary',
      failover: 'host crash of the primary (SIGSTOP+SIGKILL of pg_autoctl and everything below it, then of the whole Postgres) under a writer every 100 ms; time to the first write acknowledged by the other node',
      rejoin: 'pg_autoctl run of the crashed node again, until it is a converged secondary',
      memory: 'RSS and PSS (smaps_rollup) of the pg_autoctl processes of a node (Postgres excluded), steady state with the writer',
      noise: 'CPU burner on every core, checkpoint storm on the primary, 2 s SIGSTOP of the monitor service, for the duration; failovers and fencings counted',
    },
    results,
  };
  mkdirSync(opts.out, { recursive: true });
  writeFileSync(`${opts.out}/bench.json`, `${JSON.stringify(report, null, 2)}\n`);
  const md = renderMarkdown(report);
  writeFileSync(`${opts.out}/bench.md`, md);
  process.stdout.write(`\n${md}`);
}

await main();
