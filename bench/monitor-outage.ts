/**
 * Monitor-outage benchmark (issue 7): monitor + primary + standby at the
 * DEFAULT monitor settings, a writer inserting every 100 ms on the primary,
 * and the monitor host crashed (SIGKILL of its pg_autoctl, sub-processes
 * and Postgres) for `outage` seconds, then restarted. Ours and the original
 * pg_auto_failover 2.0 run side by side in the same run, so both see the
 * same machine load. Writes bench/results/monitor-outage.json.
 *
 *   node --import tsx bench/monitor-outage.ts [outage-seconds=45] [rounds=2]   (as root; clusters run as `postgres`)
 *
 * For the stall investigation, every data node logs statements over 200 ms
 * and its checkpoints, each primary's pg_stat_activity is sampled every
 * 20 ms (each standby's every 50 ms), the host's pressure-stall figures
 * every 100 ms, and each commit over 200 ms is reported with what was seen
 * meanwhile: wait events, other backends, Postgres and keeper log lines.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onCleanup, runCleanups, waitFor } from '../test/helpers/fixture.js';
import {
  FAST_MONITOR_SETTINGS, postmasterPid, queryAt, startMonitor, startNode, waitForStates,
  type RunningMonitor, type RunningNode,
} from '../test/helpers/cluster.js';
import pg from 'pg';
import { crashHost } from './lib/procs.js';
import {
  originalStates, startOriginalMonitor, startOriginalNode, waitForOriginalStates,
  type OriginalInstance, type OriginalMonitor,
} from './lib/original.js';
import { startLatencyWriter, writeStats, WRITER_APPLICATION, type LatencyWriter, type WriteStats } from './lib/writer.js';
import { pressureBetween, samplesBetween, startPressureSampler, startSampler, type Sampler } from './lib/sampler.js';

const outageSeconds = Number(process.argv[2] ?? '45');
const rounds = Number(process.argv[3] ?? '2');
const BASELINE_MS = 30_000;
const SETTLE_MS = 15_000;
const SLOW_MS = 200;

/** performance.now() → wall clock. */
const wallOffset = Date.now() - performance.now();
const wall = (t: number): Date => new Date(wallOffset + t);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Our monitor's defaults for the settings the test helper makes fast, read from the schema that creates them. */
function defaultMonitorSettings(): Record<string, string> {
  const schema = readFileSync(new URL('../src/monitor/sql/0001-schema.sql', import.meta.url), 'utf8');
  const defaults: Record<string, string> = {};
  for (const name of Object.keys(FAST_MONITOR_SETTINGS)) {
    const m = new RegExp(`\\('${name.replace('.', '\\.')}', '([^']*)'`).exec(schema);
    if (!m?.[1]) throw new Error(`no default for ${name} in 0001-schema.sql`);
    defaults[name] = m[1];
  }
  return defaults;
}

/** One side of the comparison: a monitor, a primary and a standby. */
interface Side {
  label: 'ours' | 'original';
  monitorPort: number;
  primary: { port: number; pgdata: string };
  standby: { port: number; pgdata: string };
  crashMonitor(): Promise<void>;
  restartMonitor(): void;
  monitorSql<T extends pg.QueryResultRow>(text: string, params?: unknown[]): Promise<T[]>;
  states(): Promise<Array<{ nodename: string; reportedstate: string; goalstate: string }>>;
  /** Everything both keepers printed. */
  keeperOutput(): string;
  writer?: LatencyWriter;
  primarySampler?: Sampler;
  standbySampler?: Sampler;
}

async function bringUpOurs(): Promise<Side> {
  const monitor: RunningMonitor = await startMonitor({ name: 'ours-monitor' });
  // startMonitor makes the monitor fast for tests: back to the defaults.
  for (const [name, value] of Object.entries(defaultMonitorSettings())) {
    await monitor.sql('UPDATE pgautofailover.settings SET setting = $2 WHERE name = $1', [name, value]);
  }
  // TLS off on both sides (the original runs with --no-ssl): replication traffic is not encrypted on either.
  const args = ['--auth', 'trust', '--no-ssl'];
  const node1: RunningNode = await startNode(monitor, 'node1', { extraArgs: args });
  await waitForStates(monitor, { node1: 'single' }, { timeoutMs: 180_000, nodes: [node1] });
  const node2: RunningNode = await startNode(monitor, 'node2', { extraArgs: args });
  await waitForStates(monitor, { node1: 'primary', node2: 'secondary' }, { timeoutMs: 240_000, nodes: [node1, node2] });
  return {
    label: 'ours',
    monitorPort: monitor.port,
    primary: { port: node1.port, pgdata: node1.dirs.pgdata },
    standby: { port: node2.port, pgdata: node2.dirs.pgdata },
    crashMonitor: () => crashHost(monitor.proc, monitor.dirs.pgdata),
    restartMonitor: () => { monitor.run(); },
    monitorSql: (text, params) => monitor.sql(text, params),
    states: () => monitor.sql('SELECT nodename, reportedstate::text, goalstate::text FROM pgautofailover.node ORDER BY nodeid'),
    keeperOutput: () => `${node1.output()}\n${node2.output()}`,
  };
}

async function bringUpOriginal(): Promise<Side> {
  const monitor: OriginalMonitor = await startOriginalMonitor();
  const node1: OriginalInstance = await startOriginalNode(monitor, 'node1');
  await waitForOriginalStates(monitor, { node1: 'single' });
  const node2: OriginalInstance = await startOriginalNode(monitor, 'node2');
  await waitForOriginalStates(monitor, { node1: 'primary', node2: 'secondary' }, 240_000);
  return {
    label: 'original',
    monitorPort: monitor.port,
    primary: { port: node1.port, pgdata: node1.dirs.pgdata },
    standby: { port: node2.port, pgdata: node2.dirs.pgdata },
    crashMonitor: () => monitor.crash(),
    restartMonitor: () => { monitor.run(); },
    monitorSql: (text, params) => monitor.sql(text, params),
    states: () => originalStates(monitor),
    keeperOutput: () => `${node1.output()}\n${node2.output()}`,
  };
}

const nodeSql = <T extends pg.QueryResultRow>(port: number, text: string, params: unknown[] = []): Promise<T[]> =>
  queryAt<T>(port, 'postgres', text, params);

/** Settings that matter for commit latency, as the running server has them. */
const WATCHED_SETTINGS = [
  'synchronous_commit', 'synchronous_standby_names', 'fsync', 'wal_sync_method', 'full_page_writes', 'wal_level', 'wal_log_hints',
  'wal_compression', 'wal_buffers', 'wal_writer_delay', 'wal_writer_flush_after', 'commit_delay', 'checkpoint_timeout',
  'checkpoint_completion_target', 'max_wal_size', 'min_wal_size', 'shared_buffers', 'wal_keep_size', 'max_slot_wal_keep_size',
  'hot_standby_feedback', 'wal_receiver_status_interval', 'wal_sender_timeout', 'wal_receiver_timeout', 'archive_mode',
  'shared_preload_libraries', 'default_transaction_read_only', 'track_commit_timestamp', 'bgwriter_delay', 'autovacuum',
  'autovacuum_naptime', 'max_wal_senders', 'max_replication_slots', 'logging_collector', 'log_lock_waits', 'track_functions',
  'data_checksums', 'work_mem', 'maintenance_work_mem', 'effective_cache_size', 'statement_timeout', 'primary_slot_name',
  'recovery_target_timeline', 'hot_standby', 'wal_retrieve_retry_interval', 'jit', 'password_encryption', 'ssl',
];

async function settingsOf(port: number): Promise<Record<string, string>> {
  const rows = await nodeSql<{ name: string; setting: string }>(port,
    "SELECT name, setting || coalesce(' ' || unit, '') AS setting FROM pg_settings WHERE name = ANY($1) ORDER BY name", [WATCHED_SETTINGS]);
  return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
}

function readIf(path: string): string | null {
  return existsSync(path) ? readFileSync(path, 'utf8') : null;
}

/** Postgres log lines of a node (logging_collector: PGDATA/log/*.log), with their wall-clock time. */
function postgresLog(pgdata: string, since: number): Array<{ at: number; line: string }> {
  const dir = join(pgdata, 'log');
  if (!existsSync(dir)) return [];
  const lines: Array<{ at: number; line: string }> = [];
  for (const file of readdirSync(dir).sort()) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3}) (UTC|GMT)/.exec(line);
      if (m) lines.push({ at: Date.parse(`${m[1]}T${m[2]}Z`), line });
      else if (line.trim() !== '' && lines.length > 0) lines.push({ at: lines.at(-1)?.at ?? 0, line });
    }
  }
  // A standby's log/ starts as a copy of its primary's (pg_basebackup): only lines of this run.
  return lines.filter((l) => l.at >= since);
}

/** Keeper log lines (`HH:MM:SS pid LEVEL message`) within whole seconds around [from, to] (wall clock ms). */
function keeperLinesAround(output: string, from: number, to: number): string[] {
  const lo = Math.floor(from / 1000) - 1;
  const hi = Math.floor(to / 1000) + 1;
  const day = new Date(from);
  const out: string[] = [];
  for (const line of output.split('\n')) {
    const m = /^(\d\d):(\d\d):(\d\d) \d+ /.exec(line);
    if (!m) continue;
    const t = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), Number(m[1]), Number(m[2]), Number(m[3])) / 1000;
    if (t >= lo && t <= hi) out.push(line);
  }
  return out.slice(0, 20);
}

async function monitorBack(side: Side): Promise<{ at: number; dbNow: Date }> {
  return waitFor(`the ${side.label} monitor to accept connections`, async () => {
    try {
      const rows = await side.monitorSql<{ now: Date }>('SELECT clock_timestamp() AS now');
      return { at: performance.now(), dbNow: rows[0]?.now ?? new Date() };
    } catch {
      return undefined;
    }
  }, { timeoutMs: 120_000, intervalMs: 50 });
}

interface RoundSide {
  monitorBackAfterRestartMs: number;
  /** Seconds between the monitor's return and each keeper's first report (monitor clock); null: none within 120 s. */
  reportedAfterS: Record<string, number> | null;
  primaryKeptServing: boolean;
  primaryPostmasterUnchanged: boolean;
  statesAfter: string;
  write: WriteStats;
}

async function roundOf(side: Side, crashAt: number, restartAt: number, pmBefore: number | null): Promise<Omit<RoundSide, 'write'> & { doneAt: number }> {
  const back = await monitorBack(side);
  let reportedAfterS: Record<string, number> | null;
  try {
    reportedAfterS = await waitFor(`${side.label}: every keeper to report to the returned monitor`, async () => {
      const rows = await side.monitorSql<{ nodename: string; delay: number }>(
        `SELECT nodename, extract(epoch FROM reporttime - $1::timestamptz)::float8 AS delay
           FROM pgautofailover.node WHERE reporttime >= $1::timestamptz`, [back.dbNow]);
      return rows.length >= 2 ? Object.fromEntries(rows.map((r) => [r.nodename, Math.round(r.delay * 1000) / 1000])) : undefined;
    }, { timeoutMs: 120_000, intervalMs: 50 });
  } catch {
    reportedAfterS = null;
  }
  const doneAt = performance.now();
  await sleep(SETTLE_MS);
  const states = await side.states().catch(() => []);
  const statesAfter = states.map((s) => `${s.nodename}: ${s.reportedstate}/${s.goalstate}`).join(', ');
  const pmAfter = await postmasterPid(side.primary.pgdata);
  return {
    monitorBackAfterRestartMs: Math.round(back.at - restartAt),
    reportedAfterS,
    primaryKeptServing: (side.writer?.errors.filter((e) => e.at >= crashAt).length ?? 1) === 0
      && states.some((s) => s.nodename === 'node1' && s.reportedstate === 'primary'),
    primaryPostmasterUnchanged: pmBefore !== null && pmBefore === pmAfter,
    statesAfter,
    doneAt,
  };
}

interface SlowCommit {
  side: string;
  latencyMs: number;
  /** The slowest commit of the other side that overlapped this one in time (ms), 0 when none. */
  otherSideOverlapMs: number;
  at: string;
  phase: string;
  writerWaits: Record<string, number>;
  primaryOthers: Record<string, number>;
  standby: Record<string, number>;
  samples: number;
  hostPressurePct: { ioSome: number; ioFull: number; cpuSome: number } | null;
  postgresLog: string[];
  keeperLog: string[];
}

async function main(): Promise<void> {
  const pressure = startPressureSampler(100, (p) => readFileSync(p, 'utf8'));
  onCleanup('stop the pressure sampler', () => pressure.stop());
  const report: Record<string, unknown> = {
    date: new Date().toISOString(),
    scenario: `monitor + primary + standby at default settings, an INSERT every 100 ms on the primary; the monitor host crashed (SIGKILL of its pg_autoctl, children and Postgres) for ${outageSeconds} s, then restarted; ${rounds} rounds; ours and pg_auto_failover 2.0 side by side`,
    goal: 'longest gap between two acknowledged writes <= 1 s (2.0: 223 ms in the issue)',
    outageSeconds,
  };
  try {
    const bringUpStart = performance.now();
    // allSettled: when one side fails, the other has finished starting what it starts before the cleanups run.
    const up = await Promise.allSettled([bringUpOurs(), bringUpOriginal()]);
    for (const u of up) if (u.status === 'rejected') throw u.reason;
    const [ours, original] = up.map((u) => (u as PromiseFulfilledResult<Side>).value) as [Side, Side];
    report.bringUpMs = Math.round(performance.now() - bringUpStart);
    const sides = [ours, original];
    process.stdout.write(`both clusters up after ${report.bringUpMs} ms\n`);

    // Diagnostics on every data node: slow statements and checkpoints in the Postgres log.
    for (const side of sides) {
      for (const node of [side.primary, side.standby]) {
        await nodeSql(node.port, "ALTER SYSTEM SET log_min_duration_statement = '200ms'");
        await nodeSql(node.port, 'ALTER SYSTEM SET log_checkpoints = on');
        await nodeSql(node.port, 'SELECT pg_reload_conf()');
      }
    }
    const settings: Record<string, unknown> = {};
    for (const side of sides) {
      settings[side.label] = {
        primary: await settingsOf(side.primary.port),
        standby: await settingsOf(side.standby.port),
        primaryAutoFailoverConf: readIf(join(side.primary.pgdata, 'postgresql-auto-failover.conf')),
        primaryAutoConf: readIf(join(side.primary.pgdata, 'postgresql.auto.conf')),
        standbyAutoConf: readIf(join(side.standby.pgdata, 'postgresql.auto.conf')),
      };
    }
    const diff: Record<string, { ours: string | undefined; original: string | undefined }> = {};
    for (const role of ['primary', 'standby'] as const) {
      const a = (settings.ours as Record<string, Record<string, string>>)[role] ?? {};
      const b = (settings.original as Record<string, Record<string, string>>)[role] ?? {};
      for (const name of WATCHED_SETTINGS) if (a[name] !== b[name]) diff[`${role}.${name}`] = { ours: a[name], original: b[name] };
    }
    report.settingsDifferences = diff;
    // The monitors' timing settings, to show both run at their defaults.
    report.monitorSettings = {
      ours: Object.fromEntries((await ours.monitorSql<{ name: string; setting: string }>(
        "SELECT name, setting FROM pgautofailover.settings WHERE name LIKE 'pgautofailover.%' ORDER BY name")).map((r) => [r.name, r.setting])),
      original: Object.fromEntries((await original.monitorSql<{ name: string; setting: string }>(
        "SELECT name, setting FROM pg_settings WHERE name LIKE 'pgautofailover.%' ORDER BY name")).map((r) => [r.name, r.setting])),
    };
    report.settings = settings;

    for (const side of sides) {
      side.writer = await startLatencyWriter(side.primary.port);
      const writer = side.writer;
      onCleanup(`stop the ${side.label} writer`, () => writer.stop());
      side.primarySampler = startSampler(side.primary.port, 20);
      side.standbySampler = startSampler(side.standby.port, 50);
      const s1 = side.primarySampler;
      const s2 = side.standbySampler;
      onCleanup(`stop the ${side.label} samplers`, async () => { await s1.stop(); await s2.stop(); });
    }
    const baselineFrom = performance.now();
    await sleep(BASELINE_MS);
    const phases: Array<{ name: string; from: number; to: number }> = [{ name: 'baseline (monitor up)', from: baselineFrom, to: performance.now() }];
    const roundResults: Array<Record<string, RoundSide>> = [];
    for (let i = 0; i < rounds; i += 1) {
      const pmBefore = await Promise.all(sides.map((s) => postmasterPid(s.primary.pgdata)));
      const crashAt = performance.now();
      await Promise.all(sides.map((s) => s.crashMonitor()));
      await sleep(Math.max(0, outageSeconds * 1000 - (performance.now() - crashAt)));
      const restartAt = performance.now();
      for (const s of sides) s.restartMonitor();
      const outs = await Promise.all(sides.map((s, k) => roundOf(s, crashAt, restartAt, pmBefore[k] ?? null)));
      // The same window for both sides: from the crash until both sides' keepers reported again.
      const to = Math.max(...outs.map((o) => o.doneAt));
      phases.push({ name: `round ${i + 1}: outage`, from: crashAt, to: restartAt });
      phases.push({ name: `round ${i + 1}: monitor back, until reports + ${SETTLE_MS / 1000} s`, from: restartAt, to: performance.now() });
      const result: Record<string, RoundSide> = {};
      sides.forEach((s, k) => {
        const { doneAt: _, ...rest } = outs[k] as Omit<RoundSide, 'write'> & { doneAt: number };
        result[s.label] = { ...rest, write: writeStats(s.writer as LatencyWriter, crashAt, to) };
      });
      roundResults.push(result);
      process.stdout.write(`round ${i + 1}: ${JSON.stringify(result)}\n`);
    }
    const endAt = performance.now();
    for (const s of sides) {
      await s.writer?.stop();
      await s.primarySampler?.stop();
      await s.standbySampler?.stop();
    }
    pressure.stop();
    report.rounds = roundResults;

    const summary: Record<string, unknown> = {};
    const slow: SlowCommit[] = [];
    for (const s of sides) {
      const w = s.writer as LatencyWriter;
      const worstGap = Math.max(...roundResults.map((r) => r[s.label]?.write.longestGapMs ?? 0));
      summary[s.label] = {
        longestGapDuringOutagesMs: worstGap,
        wholeRun: writeStats(w, baselineFrom, endAt),
        baselineMonitorUp: writeStats(w, baselineFrom, phases[0]?.to ?? endAt),
        keepersReportedAgainAfterS: roundResults.map((r) => r[s.label]?.reportedAfterS ?? null),
        primaryKeptServing: roundResults.every((r) => r[s.label]?.primaryKeptServing === true && r[s.label]?.primaryPostmasterUnchanged === true),
        writerErrors: w.errors.map((e) => e.message).slice(0, 10),
      };
      const pLog = postgresLog(s.primary.pgdata, wall(baselineFrom).getTime());
      const sLog = postgresLog(s.standby.pgdata, wall(baselineFrom).getTime());
      const checkpoints = [...pLog.map((l) => `primary: ${l.line}`), ...sLog.map((l) => `standby: ${l.line}`)]
        .filter((l) => /checkpoint (starting|complete)|restartpoint (starting|complete)/.test(l));
      (summary[s.label] as Record<string, unknown>).checkpointLogLines = checkpoints.slice(-20);
      (summary[s.label] as Record<string, unknown>).slowStatementLogLines = pLog.filter((l) => /duration: /.test(l.line)).map((l) => l.line).slice(-30);
      const kOut = s.keeperOutput();
      for (const c of w.commits.filter((x) => x.end - x.start > SLOW_MS)) {
        const writerRows: Record<string, number> = {};
        const others: Record<string, number> = {};
        const seen = samplesBetween(s.primarySampler as Sampler, c.start, c.end);
        for (const [row, n] of Object.entries(seen.seen)) {
          if (row.includes(`|${WRITER_APPLICATION}|`)) writerRows[row.split('|').slice(2, 4).join('|')] = n;
          else others[row] = n;
        }
        const from = wall(c.start).getTime();
        const to = wall(c.end).getTime();
        const phase = phases.find((p) => c.end >= p.from && c.end <= p.to)?.name ?? 'between rounds (monitor up)';
        const other = sides.find((x) => x !== s)?.writer?.commits.filter((o) => o.start < c.end && o.end > c.start) ?? [];
        slow.push({
          side: s.label,
          latencyMs: Math.round(c.end - c.start),
          otherSideOverlapMs: Math.round(Math.max(0, ...other.map((o) => o.end - o.start))),
          at: wall(c.start).toISOString(),
          phase,
          writerWaits: writerRows,
          primaryOthers: others,
          standby: samplesBetween(s.standbySampler as Sampler, c.start, c.end).seen,
          samples: seen.samples,
          hostPressurePct: pressureBetween(pressure, c.start, c.end),
          postgresLog: [...pLog.filter((l) => l.at >= from - 500 && l.at <= to + 500).map((l) => `primary: ${l.line}`),
            ...sLog.filter((l) => l.at >= from - 500 && l.at <= to + 500).map((l) => `standby: ${l.line}`)].slice(0, 12),
          keeperLog: c.end - c.start > 500 ? keeperLinesAround(kOut, from, to) : [],
        });
      }
    }
    report.summary = summary;
    slow.sort((a, b) => b.latencyMs - a.latencyMs);
    // A stall of the machine slows both sides at once; one of our keeper would slow ours alone.
    const over500 = slow.filter((x) => x.latencyMs > 500);
    report.commitsOver500MsSlowOnBothSidesAtOnce = {
      ours: `${over500.filter((x) => x.side === 'ours' && x.otherSideOverlapMs > SLOW_MS).length} of ${over500.filter((x) => x.side === 'ours').length}`,
      original: `${over500.filter((x) => x.side === 'original' && x.otherSideOverlapMs > SLOW_MS).length} of ${over500.filter((x) => x.side === 'original').length}`,
    };
    report.slowCommitsOver200Ms = { count: { ours: slow.filter((x) => x.side === 'ours').length, original: slow.filter((x) => x.side === 'original').length }, worst: slow.slice(0, 30) };
    const hostPressure = pressureBetween(pressure, baselineFrom, endAt);
    report.hostPressureWholeRunPct = hostPressure;
  } finally {
    pressure.stop();
    await runCleanups();
  }
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/monitor-outage.json', `${JSON.stringify(report, null, 2)}\n`);
  const { settings: _s, slowCommitsOver200Ms: _c, ...brief } = report;
  process.stdout.write(`${JSON.stringify(brief, null, 2)}\n`);
}

// Interrupted: stop everything started (pg_autoctl and Postgres, by pid) before leaving.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`${signal}: cleaning up\n`);
    void runCleanups().finally(() => process.exit(130));
  });
}
await main();
