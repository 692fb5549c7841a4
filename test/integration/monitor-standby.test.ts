/**
 * Monitor high availability, phase 2 (docs/architecture.md "Monitor high
 * availability"): a primary monitor on 127.0.0.11 and a standby monitor on
 * 127.0.0.12 made by `create monitor --standby-of`; a data primary and
 * standby registered with the multi-host monitor URI. The standby monitor
 * streams through its slot and is a synchronous standby (show monitors);
 * the keepers' node_active writes reach it; `show uri --formation monitor`
 * prints the multi-host URI, which psql takes; bad --standby-of input fails
 * with one line and leaves nothing; the standby's service never decides.
 * Without etcd the standby is strict: once it stops, the primary's writes
 * wait until an administrator removes it (keepers cannot).
 * Prints the cost of the synchronous standby monitor on node_active latency
 * (a figure, not asserted).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { nodeActive, registerNode, createFormation, type ReplicationState } from '../../src/monitor-api/index.js';
import { connectClient } from '../../src/postgres/pg-client.js';
import { freePort, pgBinDir, run, runCleanups, waitFor } from '../helpers/fixture.js';
import {
  dumpOnFailure, nodeDirs, queryAt, startMonitor, startPrimaryAndStandby, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';
import { pgAutoctl } from '../helpers/tool.js';

after(async () => {
  const t = performance.now();
  await runCleanups();
  console.log(`monitor-standby cleanup: ${((performance.now() - t) / 1000).toFixed(1)} s`);
});

const PRIMARY_HOST = '127.0.0.11';
const STANDBY_HOST = '127.0.0.12';

interface Latency { median: number; p95: number; calls: number }

/** `calls` node_active reports of a node of its own formation ('bench'), timed one by one after 20 untimed ones. */
async function nodeActiveLatency(uri: string, node: { nodeId: number; groupId: number }, calls: number, lsnStart: bigint): Promise<Latency & { lastLsn: bigint }> {
  const client = await connectClient(uri, { connectTimeoutMs: 5000, applicationName: 'monitor-standby bench' });
  const times: number[] = [];
  let state: ReplicationState = 'single';
  let lsn = lsnStart;
  try {
    for (let i = -20; i < calls; i++) {
      lsn += 4096n;
      const t = performance.now();
      const a = await nodeActive(client, { formation: 'bench', nodeId: node.nodeId, groupId: node.groupId, state, pgIsRunning: true, tli: 1, lsn, syncState: '' });
      if (i >= 0) times.push(performance.now() - t);
      state = a.goalState;
    }
  } finally {
    await client.end().catch(() => undefined);
  }
  times.sort((x, y) => x - y);
  const at = (q: number): number => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? Number.NaN;
  return { median: at(0.5), p95: at(0.95), calls, lastLsn: lsn };
}

const fmt = (l: Latency): string => `median ${l.median.toFixed(2)} ms, p95 ${l.p95.toFixed(2)} ms (${l.calls} calls)`;

describe('standby monitor (create monitor --standby-of)', { timeout: 240_000 }, () => {
  it('streams synchronously, serves the multi-host URI, never decides, and refuses bad input cleanly', async () => {
    const startedAt = performance.now();
    const nodes: RunningNode[] = [];
    const standbyPort = await freePort();
    const primary = await startMonitor({ name: 'monitor-ha-a', hostname: PRIMARY_HOST });
    let standby: RunningMonitor | undefined;
    await dumpOnFailure(primary, () => nodes, async () => {
      assert.equal(primary.uri, `postgres://autoctl_node@${PRIMARY_HOST}:${primary.port}/pg_auto_failover?sslmode=prefer`, 'one member: the single-host URI');
      const multiUri = `postgres://autoctl_node@${PRIMARY_HOST}:${primary.port},${STANDBY_HOST}:${standbyPort}/pg_auto_failover?target_session_attrs=read-write&sslmode=prefer`;

      // The data nodes know both monitors from the start (the standby's port answers nothing yet).
      await startPrimaryAndStandby({ ...primary, uri: multiUri }, nodes);

      // node_active latency, one monitor.
      const admin = await connectClient(multiUri, { connectTimeoutMs: 5000 });
      let bench: { nodeId: number; groupId: number };
      try {
        await createFormation(admin, { formation: 'bench', kind: 'pgsql' });
        const registered = await registerNode(admin, { formation: 'bench', host: '127.0.0.1', port: await freePort(), dbname: 'postgres', name: 'bench1', sysIdentifier: 7_000_000_000_000_000_001n });
        bench = { nodeId: registered.nodeId, groupId: registered.groupId };
      } finally {
        await admin.end().catch(() => undefined);
      }
      const alone = await nodeActiveLatency(multiUri, bench, 200, 0x3000000n);

      // The standby monitor.
      standby = await startMonitor({
        name: 'monitor-ha-b', hostname: STANDBY_HOST, port: standbyPort, readyText: 'This monitor is a standby of',
        extraArgs: ['--no-ssl', '--auth', 'trust', '--standby-of', primary.uri],
      });
      const sb = standby;
      assert.equal(sb.uri, multiUri, 'show uri --formation monitor on the standby: the multi-host URI');
      const shown = await waitFor('show monitors: the standby monitor streams and is synchronous', async () => {
        const r = await primary.cli(['show', 'monitors', '--json']);
        if (r.exitCode !== 0) return undefined;
        const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
        const s = rows.find((m) => m.hostname === STANDBY_HOST);
        return s?.sync === true && s.replication_state === 'streaming' && s.sync_state === 'sync' ? rows : undefined;
      }, { timeoutMs: 30_000, intervalMs: 300 });
      assert.deepEqual(shown.map((m) => [m.hostname, m.port, m.role, m.slot_name]), [
        [PRIMARY_HOST, primary.port, 'primary', 'pgautofailover_monitor_1'],
        [STANDBY_HOST, standbyPort, 'standby', 'pgautofailover_monitor_2'],
      ]);
      const table = await primary.cli(['show', 'monitors']);
      assert.equal(table.exitCode, 0, table.stderr);
      assert.match(table.stdout, /^Member \|\s+Host:Port \|\s+Role \| Sync \| Lag \(bytes\) \|\s+Reply$/m);
      assert.match(table.stdout, new RegExp(`^\\s+2 \\| ${STANDBY_HOST}:${standbyPort} \\| standby \\|  yes \\|\\s+\\d+ \\|`, 'm'));
      assert.deepEqual(await queryAt(primary.port, 'postgres', "SELECT current_setting('synchronous_standby_names') AS s, current_setting('wal_log_hints') AS h"),
        [{ s: 'pgautofailover_monitor_2', h: 'on' }]);
      assert.deepEqual(await queryAt(primary.port, 'pg_auto_failover',
        "SELECT has_function_privilege('pgautofailover_replicator', 'pg_catalog.pg_read_binary_file(text)', 'execute') AS rewind"),
      [{ rewind: true }], 'the replication role may pg_rewind from the monitor database');
      assert.deepEqual(await queryAt(standbyPort, 'postgres', "SELECT pg_is_in_recovery() AS r, current_setting('synchronous_standby_names') AS s, current_setting('primary_slot_name') AS slot"),
        [{ r: true, s: '', slot: 'pgautofailover_monitor_2' }]);

      // node_active latency with the standby monitor in the synchronous set: a figure, not asserted.
      const synced = await nodeActiveLatency(multiUri, bench, 200, 0x9000000n);
      console.log(`node_active latency through the monitor API: one monitor ${fmt(alone)}; `
        + `with a synchronous standby monitor ${fmt(synced)}`);

      // Writes on the primary monitor are on the standby: the last report, and the data nodes' states.
      const lastLsn = (port: number) => queryAt<{ lsn: string }>(port, 'pg_auto_failover',
        "SELECT reportedlsn::text AS lsn FROM pgautofailover.node WHERE nodename = 'bench1'");
      const expected = `${(synced.lastLsn >> 32n).toString(16).toUpperCase()}/${(synced.lastLsn & 0xffffffffn).toString(16).toUpperCase()}`;
      assert.deepEqual(await lastLsn(primary.port), [{ lsn: expected }]);
      await waitFor('the last node_active report on the standby monitor', async () => (await lastLsn(standbyPort))[0]?.lsn === expected,
        { timeoutMs: 10_000, intervalMs: 100 });
      const states = (port: number) => queryAt(port, 'pg_auto_failover',
        "SELECT nodename, reportedstate::text, goalstate::text FROM pgautofailover.node WHERE formationid = 'default' ORDER BY nodeid");
      await waitFor('the data nodes\' states on the standby monitor', async () =>
        JSON.stringify(await states(standbyPort)) === JSON.stringify(await states(primary.port)), { timeoutMs: 10_000, intervalMs: 200 });

      // The multi-host URI: shown on the primary too, and psql takes it (the writable one answers).
      const uri = await primary.cli(['show', 'uri', '--formation', 'monitor']);
      assert.equal(uri.stdout, `${multiUri}\n`);
      const psql = await run([join(pgBinDir(), 'psql'), multiUri, '-XAtc', 'SELECT inet_server_port(), pg_is_in_recovery()']);
      assert.equal(psql.exitCode, 0, psql.stderr);
      assert.equal(psql.stdout.trim(), `${primary.port}|f`);

      // The standby's service waits: no migration, no leadership, no decision.
      const out = sb.proc.output();
      assert.match(out, /This monitor is a standby of postgres:\/\/autoctl_node@127\.0\.0\.11:\d+\/pg_auto_failover\?sslmode=prefer; waiting/);
      assert.match(out, /Streaming from the primary monitor at 127\.0\.0\.11:\d+ \(slot pgautofailover_monitor_2, timeline 1\)/);
      for (const line of ['Managing the monitor', 'Monitor epoch', 'Setting goal state', 'hot spare', 'Applied monitor schema migration']) {
        assert.ok(!out.includes(line), `the standby monitor logged "${line}"`);
      }
      const leader = await queryAt<{ mine: boolean }>(primary.port, 'pg_auto_failover',
        'SELECT EXISTS (SELECT 1 FROM pg_stat_activity a JOIN pgautofailover.monitor_leader l ON a.pid = l.pid AND a.backend_start = l.backend_start) AS mine');
      assert.deepEqual(leader, [{ mine: true }], 'the primary monitor\'s service holds the leadership');

      // Bad --standby-of input: one line, non-zero exit, nothing created (no PGDATA, no config, no member).
      const bad = nodeDirs('monitor-ha-bad');
      const badPort = await freePort();
      const deadPort = await freePort();
      const cases: Array<{ given: string; exit: number; error: RegExp }> = [
        { given: 'not a uri', exit: 1, error: /Failed to parse --standby-of connection string "not a uri"/ },
        { given: `postgres://autoctl_node@${PRIMARY_HOST}:${deadPort}/pg_auto_failover`, exit: 6, error: /Failed to connect to the primary monitor at/ },
        { given: `postgres://autoctl_node@${STANDBY_HOST}:${standbyPort}/pg_auto_failover`, exit: 1, error: /is not writable \(a standby\?\)/ },
      ];
      for (const c of cases) {
        const r = await pgAutoctl(['create', 'monitor', '--pgdata', bad.pgdata, '--pgport', String(badPort), '--hostname', '127.0.0.13',
          '--no-ssl', '--auth', 'trust', '--standby-of', c.given], { env: bad.env });
        assert.equal(r.exitCode, c.exit, `${c.given}: ${r.stderr}`);
        const fatal = r.stderr.split('\n').filter((l) => / FATAL /.test(l));
        assert.equal(fatal.length, 1, r.stderr);
        assert.match(fatal[0] ?? '', c.error);
        assert.ok(!existsSync(bad.pgdata), `${c.given}: PGDATA was created`);
        assert.ok(!existsSync(join(String(bad.env.XDG_CONFIG_HOME), 'pg_autoctl', bad.pgdata, 'pg_autoctl.cfg')), `${c.given}: a config file was left`);
      }
      const members = await queryAt<{ n: number }>(primary.port, 'pg_auto_failover', 'SELECT count(*)::int AS n FROM pgautofailover.monitor_member');
      assert.deepEqual(members, [{ n: 2 }]);

      // Strict without etcd: the standby monitor stops, the primary's writes wait for it; keepers'
      // autoctl_node cannot remove it, an administrator can, and the writes go on.
      sb.proc.kill('SIGTERM');
      await sb.proc.wait(30_000);
      const writer = await connectClient(multiUri, { connectTimeoutMs: 5000 });
      try {
        const pending = nodeActive(writer, { formation: 'bench', nodeId: bench.nodeId, groupId: bench.groupId, state: 'single', pgIsRunning: true, tli: 1, lsn: synced.lastLsn + 4096n, syncState: '' });
        const first = await Promise.race([pending.then(() => 'done'), new Promise((r) => setTimeout(() => r('waiting'), 3000))]);
        assert.equal(first, 'waiting', 'a write on the primary monitor waits for its synchronous standby monitor');
        await waitFor('the primary monitor to say that member 2 does not stream', () => primary.proc.output().includes(
          'Monitor member 2 (127.0.0.12:' + String(standbyPort) + ') does not stream: it stays a synchronous standby'), { timeoutMs: 10_000 });
        const asNode = await connectClient(multiUri, { connectTimeoutMs: 5000 });
        try {
          await assert.rejects(asNode.query('SELECT pgautofailover.remove_monitor_member(2)'), /is in the synchronous set: only the monitor's administrator may remove it/);
        } finally {
          await asNode.end().catch(() => undefined);
        }
        assert.deepEqual(await primary.sql('SELECT pgautofailover.remove_monitor_member(2) AS removed'), [{ removed: true }]);
        const released = await Promise.race([pending.then(() => 'done'), new Promise((r) => setTimeout(() => r('still waiting'), 10_000))]);
        assert.equal(released, 'done', 'the write goes on once the member is removed');
      } finally {
        await writer.end().catch(() => undefined);
      }
      await waitFor('the slot of member 2 dropped', async () => (await queryAt(primary.port, 'postgres',
        "SELECT 1 FROM pg_replication_slots WHERE slot_name = 'pgautofailover_monitor_2'")).length === 0, { timeoutMs: 10_000 });
      assert.deepEqual(await queryAt(primary.port, 'postgres', "SELECT current_setting('synchronous_standby_names') AS s"), [{ s: '' }]);
      const single = await primary.cli(['show', 'uri', '--formation', 'monitor']);
      assert.equal(single.stdout, `${primary.uri}\n`, 'one member again: the single-host URI');
      const againAlone = await nodeActiveLatency(primary.uri, bench, 200, 0x20000000n);
      console.log(`node_active latency through the monitor API, the standby monitor removed: ${fmt(againAlone)}`);
      console.log(`monitor-standby: ${((performance.now() - startedAt) / 1000).toFixed(1)} s`);
    }).catch((error: unknown) => {
      if (standby) console.log(`--- standby monitor output ---\n${standby.proc.output()}`);
      throw error;
    });
  });
});
