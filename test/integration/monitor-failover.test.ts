/**
 * Monitor failover without etcd (issue 13 phase 2): two monitors, A on
 * 127.0.0.11 and its synchronous standby B on 127.0.0.12 (`create monitor
 * --standby-of`), and a data primary + standby registered with the
 * multi-host monitor URI.
 * (i) `perform monitor-failover` on B while A answers: a clean switchover.
 *     B becomes writable at a higher epoch, A rejoins as B's standby and
 *     decides nothing, the keepers report to B, no data failover.
 * (ii) A SIGKILL of the primary monitor B (pg_autoctl and Postgres):
 *     `perform monitor-failover` on A refuses without --force (nothing
 *     changes), promotes with it; B, started again, finds the newer epoch,
 *     decides nothing, and rejoins as A's standby (pg_rewind).
 * The data primary takes writes throughout.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { freePort, onCleanup, runCleanups, startBackground, waitFor, type BackgroundProcess } from '../helpers/fixture.js';
import {
  dumpOnFailure, killPostmaster, nodeDirs, queryAt, startMonitor, startPrimaryAndStandby, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';
import { pgAutoctl, pgAutoctlArgv } from '../helpers/tool.js';
import { startWriter } from '../helpers/writer.js';

after(runCleanups);

const query = <T extends pg.QueryResultRow>(port: number, text: string, params: unknown[] = []): Promise<T[]> =>
  queryAt<T>(port, 'pg_auto_failover', text, params);

const inRecovery = async (port: number): Promise<boolean | undefined> =>
  (await query<{ r: boolean }>(port, 'SELECT pg_is_in_recovery() AS r').catch(() => []))[0]?.r;

const epochOf = async (port: number): Promise<number> =>
  Number((await query<{ epoch: string }>(port, 'SELECT epoch::text FROM pgautofailover.current_monitor_epoch()'))[0]?.epoch);

/** A second monitor created with --standby-of, run by `create --run`; stopped on cleanup. */
interface StandbyMonitor {
  port: number;
  pgdata: string;
  env: NodeJS.ProcessEnv;
  proc: BackgroundProcess;
  procs: BackgroundProcess[];
  cli(args: readonly string[], timeoutMs?: number): ReturnType<typeof pgAutoctl>;
  run(): BackgroundProcess;
  crash(): Promise<void>;
}

async function startStandbyMonitor(primary: RunningMonitor, name: string, hostname: string): Promise<StandbyMonitor> {
  const dirs = nodeDirs(name);
  const port = await freePort();
  const env = { ...dirs.env, PGDATA: dirs.pgdata };
  const procs: BackgroundProcess[] = [];
  const start = (argv: string[]): BackgroundProcess => {
    const p = startBackground(name, pgAutoctlArgv(argv), { env });
    procs.push(p);
    return p;
  };
  onCleanup(`stop ${name}`, async () => {
    for (const p of procs) {
      if (!p.exited()) {
        p.kill('SIGTERM');
        await p.wait(30_000).catch(() => { p.kill('SIGKILL'); });
      }
    }
    await killPostmaster(dirs.pgdata).catch(() => undefined);
  });
  const standby: StandbyMonitor = {
    port, pgdata: dirs.pgdata, env, procs,
    proc: start(['create', 'monitor', '--standby-of', primary.uri, '--pgport', String(port), '--hostname', hostname,
      '--no-ssl', '--auth', 'trust', '--run']),
    cli: (args, timeoutMs) => pgAutoctl(args, { env, ...(timeoutMs === undefined ? {} : { timeoutMs }) }),
    run() {
      standby.proc = start(['run', '--pgdata', dirs.pgdata]);
      return standby.proc;
    },
    async crash() {
      standby.proc.kill('SIGKILL');
      await standby.proc.wait(10_000).catch(() => undefined);
      await killPostmaster(dirs.pgdata);
    },
  };
  return standby;
}

/** The end of a monitor's Postgres logs (start-up log and the current server log), for failure reports. */
function postgresLogs(name: string, pgdata: string): string {
  const tail = (path: string): string => {
    try {
      return readFileSync(path, 'utf8').slice(-6000);
    } catch {
      return '';
    }
  };
  let logs: string[] = [];
  try {
    logs = readdirSync(join(pgdata, 'log')).sort();
  } catch { /* none */ }
  return [`--- Postgres of monitor ${name}: startup.log ---\n${tail(join(pgdata, 'startup.log'))}`,
    ...logs.slice(-3).map((log) => `--- Postgres of monitor ${name}: ${log} ---\n${tail(join(pgdata, 'log', log))}`)].join('\n');
}

/** Whether each named data node reported to the monitor on `port` since its current epoch started (after its promotion). */
async function everyoneReportsTo(port: number, names: string[]): Promise<boolean> {
  const rows = await query<{ nodename: string }>(port,
    `SELECT nodename FROM pgautofailover.node
      WHERE reporttime > (SELECT started_at FROM pgautofailover.current_monitor_epoch())`).catch(() => []);
  return names.every((n) => rows.some((r) => r.nodename === n));
}

describe('monitor failover: perform monitor-failover, clean and --force', { timeout: 300_000 }, () => {
  it('hands over cleanly, refuses without --force, and brings the stale monitor back as a standby', async () => {
    const testStart = performance.now();
    const nodes: RunningNode[] = [];
    const a = await startMonitor({ name: 'monfail-a', hostname: '127.0.0.11' });
    await dumpOnFailure(a, () => nodes, async () => {
      const b = await startStandbyMonitor(a, 'monfail-b', '127.0.0.12');
      // A, the primary at the end, stops before its synchronous standby B (cleanups run last first).
      onCleanup('stop monitor A before monitor B', async () => {
        if (!a.proc.exited()) {
          a.proc.kill('SIGTERM');
          await a.proc.wait(30_000).catch(() => { a.proc.kill('SIGKILL'); });
        }
      });
      const outputs = (): string => `--- monitor B ---\n${b.procs.map((p) => p.output()).join('\n---\n').slice(-30_000)}`;
      try {
        // B streams from A as its synchronous standby.
        await waitFor('monitor B to be a synchronous member', async () => {
          const rows = await query<{ sync: boolean }>(a.port, 'SELECT sync FROM pgautofailover.monitor_member WHERE port = $1', [b.port]).catch(() => []);
          return rows[0]?.sync === true;
        }, { timeoutMs: 60_000 });
        assert.equal(await inRecovery(b.port), true);

        const uri = `postgres://autoctl_node@127.0.0.11:${a.port},127.0.0.12:${b.port}/pg_auto_failover?target_session_attrs=read-write&sslmode=prefer`;
        const [node1, node2] = await startPrimaryAndStandby({ ...a, uri }, nodes);
        const writer = await startWriter(node1.port, { intervalMs: 100 });
        onCleanup('stop the writer', () => writer.stop());
        const names = [node1.name, node2.name];
        const timelineOfNode1 = (await node1.row())?.reportedtli;

        // The primary monitor is no standby to promote.
        const onPrimary = await a.cli(['perform', 'monitor-failover', '--pgdata', a.dirs.pgdata]);
        assert.equal(onPrimary.exitCode, 3, onPrimary.stderr);
        assert.match(onPrimary.stderr, /this monitor \(127\.0\.0\.11:\d+\) already accepts writes: it is the primary monitor/);

        // (i) A clean switchover to B.
        assert.equal(await epochOf(a.port), 1);
        const t0 = performance.now();
        const clean = await b.cli(['perform', 'monitor-failover', '--pgdata', b.pgdata, '--json'], 90_000);
        assert.equal(clean.exitCode, 0, `${clean.stderr}\n${outputs()}`);
        if (process.env.PGAF_TEST_DUMP) process.stderr.write(`--- perform monitor-failover (clean) ---\n${clean.stderr}\n`);
        const report = JSON.parse(clean.stdout) as { mode: string; epoch: number; previous_epoch: number; elapsed_ms: number; old_primary_was: string };
        assert.equal(report.mode, 'switchover');
        assert.equal(report.previous_epoch, 1);
        assert.equal(report.epoch, 2);
        assert.equal(await inRecovery(b.port), false, 'B accepts writes');
        assert.equal(await epochOf(b.port), 2);
        const writableAfterS = (performance.now() - t0) / 1000;
        await waitFor('every keeper to report to B', () => everyoneReportsTo(b.port, names), { timeoutMs: 30_000, intervalMs: 200 });
        const keepersAfterS = (performance.now() - t0) / 1000;
        await waitFor('A to rejoin as a standby of B', async () => (await inRecovery(a.port)) === true
          && /This monitor is now a standby of 127\.0\.0\.12:\d+/.test(a.proc.output()), { timeoutMs: 60_000 });
        assert.match(a.proc.output(), /Monitor switchover request \d+: this monitor \(member \d+\) stops deciding and hands over to monitor member \d+/);
        // A, a standby now, runs no brain: it never starts a session again.
        const aOutput = a.proc.output();
        const handedOver = aOutput.indexOf('stops deciding and hands over');
        assert.ok(!aOutput.slice(handedOver).includes('Managing the monitor'), 'A never manages the monitor again');
        // No data failover: same primary, same timeline, as B sees it.
        const onB = await query<{ nodename: string; reportedstate: string; goalstate: string; reportedtli: number }>(b.port,
          'SELECT nodename, reportedstate::text, goalstate::text, reportedtli FROM pgautofailover.node ORDER BY nodeid');
        assert.deepEqual(onB.map((r) => [r.nodename, r.reportedstate, r.goalstate]), [['node1', 'primary', 'primary'], ['node2', 'secondary', 'secondary']]);
        assert.equal(onB[0]?.reportedtli, timelineOfNode1);

        // A becomes B's synchronous standby in turn.
        await waitFor('monitor A to be a synchronous member of B', async () => {
          const rows = await query<{ sync: boolean }>(b.port, 'SELECT sync FROM pgautofailover.monitor_member WHERE port = $1', [a.port]).catch(() => []);
          return rows[0]?.sync === true;
        }, { timeoutMs: 60_000 });

        // (ii) B (the primary now) dies with its host.
        await b.crash();
        const refused = await a.cli(['perform', 'monitor-failover', '--pgdata', a.dirs.pgdata], { timeoutMs: 60_000 });
        assert.equal(refused.exitCode, 3, refused.stderr);
        assert.match(refused.stderr, /the primary monitor does not answer .*run again with --force/);
        assert.equal(await inRecovery(a.port), true, 'nothing changed');
        assert.equal(await epochOf(a.port), 2);
        const t1 = performance.now();
        const forced = await a.cli(['perform', 'monitor-failover', '--pgdata', a.dirs.pgdata, '--force', '--json'], { timeoutMs: 90_000 });
        assert.equal(forced.exitCode, 0, forced.stderr);
        const forcedReport = JSON.parse(forced.stdout) as { mode: string; epoch: number };
        assert.equal(forcedReport.mode, 'forced');
        assert.equal(forcedReport.epoch, 3);
        assert.equal(await inRecovery(a.port), false);
        const forcedWritableS = (performance.now() - t1) / 1000;
        await waitFor('every keeper to report to A', () => everyoneReportsTo(a.port, names), { timeoutMs: 30_000, intervalMs: 200 });
        const forcedKeepersS = (performance.now() - t1) / 1000;

        // B comes back: stale at epoch 2, it decides nothing and rejoins A (pg_rewind).
        const bRun = b.run();
        await waitFor('B to rejoin as a standby of A', async () => (await inRecovery(b.port)) === true
          && /This monitor is now a standby of 127\.0\.0\.11:\d+/.test(bRun.output()), { timeoutMs: 60_000 });
        assert.match(bRun.output(), /is writable at epoch 3, higher than this monitor's epoch 2: this monitor is stale and stops deciding/);
        assert.match(bRun.output(), /rejoins monitor peer .* \(epoch 3\) as a standby/);
        assert.match(bRun.output(), /Running \S*pg_rewind|taking a base backup instead/);
        await waitFor('monitor B to be a synchronous member of A', async () => {
          const rows = await query<{ sync: boolean }>(a.port, 'SELECT sync FROM pgautofailover.monitor_member WHERE port = $1', [b.port]).catch(() => []);
          return rows[0]?.sync === true;
        }, { timeoutMs: 60_000 });
        assert.equal(await epochOf(b.port), 3, 'B replays A\'s epochs');

        // The data nodes served throughout, and no data failover happened.
        const onA = await query<{ nodename: string; reportedstate: string; reportedtli: number }>(a.port,
          'SELECT nodename, reportedstate::text, reportedtli FROM pgautofailover.node ORDER BY nodeid');
        assert.deepEqual(onA.map((r) => [r.nodename, r.reportedstate, r.reportedtli]),
          [['node1', 'primary', timelineOfNode1], ['node2', 'secondary', timelineOfNode1]]);
        await writer.stop();
        assert.deepEqual(writer.errors, [], 'every write to the data primary succeeded');
        const gap = writer.longestGap(t0, performance.now());
        assert.ok(gap < 3000, `longest pause of the writes: ${gap} ms`);
        process.stdout.write(`# clean switchover: writable after ${writableAfterS.toFixed(1)} s (command ${report.elapsed_ms} ms), `
          + `keepers report to it after ${keepersAfterS.toFixed(1)} s; --force: writable after ${forcedWritableS.toFixed(1)} s, `
          + `keepers after ${forcedKeepersS.toFixed(1)} s; longest write pause ${Math.round(gap)} ms; test ${((performance.now() - testStart) / 1000).toFixed(0)} s\n`);
        if (process.env.PGAF_TEST_DUMP) process.stderr.write(`${outputs()}\n${postgresLogs('A', a.dirs.pgdata)}\n${postgresLogs('B', b.pgdata)}\n`);
      } catch (error) {
        process.stderr.write(`${outputs()}\n${postgresLogs('A', a.dirs.pgdata)}\n${postgresLogs('B', b.pgdata)}\n`);
        throw error;
      }
    });
  });
});
