/**
 * Monitor high availability, phase 1 (docs/architecture.md "Monitor high
 * availability"): a keeper given a multi-host monitor URI with
 * target_session_attrs=read-write (a dead port, a hot-standby copy of the
 * monitor, the monitor) registers with the writable monitor; psql takes
 * the same URI. The standby copy is then promoted: its service starts
 * epoch 2, and the keeper follows it and stores the epoch. The old monitor
 * comes back writable at epoch 1 with the new one as its peer: it stops
 * deciding; the keeper, even given the old monitor first, uses the newer
 * one, and given only the old one, refuses its assignments.
 */
import assert from 'node:assert/strict';
import { appendFileSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import {
  clusterAccount, freePort, IS_ROOT, onCleanup, pgBinDir, run, runCleanups, startBackground, waitFor,
} from '../helpers/fixture.js';
import {
  clusterUserName, dumpOnFailure, killPostmaster, nodeDirs, queryAt, startMonitor, startNode, waitForStates, type RunningNode,
} from '../helpers/cluster.js';
import { pgAutoctlArgv } from '../helpers/tool.js';

after(runCleanups);

const monitorUri = (ports: number[]): string =>
  `postgres://autoctl_node@${ports.map((p) => `127.0.0.1:${p}`).join(',')}/pg_auto_failover?target_session_attrs=read-write&sslmode=prefer`;

const query = <T extends pg.QueryResultRow>(port: number, text: string, params: unknown[] = []): Promise<T[]> =>
  queryAt<T>(port, 'pg_auto_failover', text, params);

function mkdirForCluster(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (IS_ROOT) {
    // Every level below the XDG base belongs to the cluster account.
    let d = dir;
    while (d.includes('/pg_autoctl')) {
      chownSync(d, clusterAccount().uid, clusterAccount().gid);
      d = d.slice(0, d.lastIndexOf('/'));
    }
  }
}

describe('monitor epoch and multi-host monitor URI', { timeout: 240_000 }, () => {
  it('follows the writable monitor of the highest epoch and never obeys a stale one', async () => {
    const startedAt = performance.now();
    const nodes: RunningNode[] = [];
    const a = await startMonitor({ name: 'monitor-epoch-a' });
    await dumpOnFailure(a, () => nodes, async () => {
      const epochsOf = (port: number) => query<{ epoch: string; timeline: number }>(port,
        'SELECT epoch::text, timeline FROM pgautofailover.monitor_epoch ORDER BY epoch');
      assert.deepEqual(await epochsOf(a.port), [{ epoch: '1', timeline: 1 }]);
      assert.match(a.proc.output(), /Monitor epoch 1 \(system identifier \d+, timeline 1\): a new epoch starts now/);

      // B: a hot-standby copy of the monitor (read-only), streaming from A.
      const hba = join(a.dirs.pgdata, 'pg_hba.conf');
      appendFileSync(hba, 'host replication all 127.0.0.1/32 trust\n');
      await a.sql('SELECT pg_reload_conf()');
      const b = nodeDirs('monitor-epoch-b');
      const bPort = await freePort();
      onCleanup('stop the postmaster of monitor B', async () => { await killPostmaster(b.pgdata).catch(() => undefined); });
      const backup = await run([join(pgBinDir(), 'pg_basebackup'), '-h', '127.0.0.1', '-p', String(a.port), '-U', clusterUserName(),
        '-D', b.pgdata, '-R', '-X', 'stream', '--checkpoint=fast']);
      assert.equal(backup.exitCode, 0, backup.stderr);
      const pgctl = join(pgBinDir(), 'pg_ctl');
      const startB = await run([pgctl, '-D', b.pgdata, '-o', `-p ${bPort}`, '-l', join(b.root, 'standby.log'), '-w', 'start']);
      assert.equal(startB.exitCode, 0, startB.stderr);
      assert.deepEqual(await query(bPort, 'SELECT pg_is_in_recovery() AS r'), [{ r: true }]);

      // (1) The multi-host URI: a dead port, the read-only copy, then the monitor.
      const dead = await freePort();
      const uri = monitorUri([dead, bPort, a.port]);
      const node1 = await startNode({ ...a, uri }, 'node1');
      nodes.push(node1);
      await waitForStates(a, { node1: 'single' }, { nodes });
      const configured = await node1.cli(['config', 'get', 'pg_autoctl.monitor']);
      assert.equal(configured.stdout.trim(), uri);
      const psql = await run([join(pgBinDir(), 'psql'), uri, '-XAtc', 'SELECT 1, pg_is_in_recovery()']);
      assert.equal(psql.exitCode, 0, psql.stderr);
      assert.equal(psql.stdout.trim(), '1|f', 'psql picks the writable monitor from the same URI');
      const show = await node1.cli(['show', 'state', '--monitor', uri]);
      assert.equal(show.exitCode, 0, show.stderr);
      assert.match(show.stdout, /^node1 \|.*\|\s+single \|\s+single$/m);
      const epochFile = join(node1.dirs.env.XDG_DATA_HOME ?? '', 'pg_autoctl', node1.dirs.pgdata, 'pg_autoctl.epoch');
      await waitFor('node1 to store epoch 1', () => existsSync(epochFile) && readFileSync(epochFile, 'utf8').startsWith('epoch 1\n'), { timeoutMs: 20_000 });

      // (2) B is promoted (A goes away first): B's service starts epoch 2, and node1 follows it.
      await waitFor('B to replay everything A wrote', async () => {
        const [aLsn] = await query<{ lsn: string }>(a.port, 'SELECT pg_current_wal_lsn()::text AS lsn');
        const [caught] = await query<{ ok: boolean }>(bPort, 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [aLsn?.lsn]);
        return caught?.ok === true;
      }, { timeoutMs: 20_000 });
      a.proc.kill('SIGTERM');
      await a.proc.wait(30_000);
      await killPostmaster(a.dirs.pgdata);
      assert.equal((await run([pgctl, '-D', b.pgdata, '-w', 'promote'])).exitCode, 0);
      assert.equal((await run([pgctl, '-D', b.pgdata, '-m', 'fast', '-w', 'stop'])).exitCode, 0);
      const aConfig = join(a.dirs.env.XDG_CONFIG_HOME ?? '', 'pg_autoctl', a.dirs.pgdata, 'pg_autoctl.cfg');
      const bConfigDir = join(b.env.XDG_CONFIG_HOME ?? '', 'pg_autoctl', b.pgdata);
      mkdirForCluster(bConfigDir);
      const bConfig = join(bConfigDir, 'pg_autoctl.cfg');
      writeFileSync(bConfig, readFileSync(aConfig, 'utf8').replace(`pgdata = ${a.dirs.pgdata}`, `pgdata = ${b.pgdata}`)
        .replace(`port = ${a.port}`, `port = ${bPort}`), { mode: 0o644 });
      if (IS_ROOT) chownSync(bConfig, clusterAccount().uid, clusterAccount().gid);
      const bProc = startBackground('monitor-b', pgAutoctlArgv(['run', '--pgdata', b.pgdata]), { env: { ...b.env, PGDATA: b.pgdata } });
      onCleanup('stop monitor B', async () => {
        if (!bProc.exited()) {
          bProc.kill('SIGTERM');
          await bProc.wait(30_000).catch(() => { bProc.kill('SIGKILL'); });
        }
      });
      await waitFor('monitor B to start epoch 2', () => /Monitor epoch 2 \(system identifier \d+, timeline 2\): a new epoch starts now/.test(bProc.output()),
        { timeoutMs: 30_000 });
      assert.deepEqual(await epochsOf(bPort), [{ epoch: '1', timeline: 1 }, { epoch: '2', timeline: 2 }]);
      await waitFor('node1 to store epoch 2', () => readFileSync(epochFile, 'utf8').startsWith('epoch 2\n'), { timeoutMs: 30_000 });
      assert.match(node1.output(), /The monitor at 127\.0\.0\.1:\d+ is at epoch 2 \(was 1\)/);
      const reportAge = async (port: number): Promise<number> => {
        const [row] = await query<{ age: number; reported: string }>(port,
          "SELECT extract(epoch FROM now() - reporttime)::float8 AS age, reportedstate::text AS reported FROM pgautofailover.node WHERE nodename = 'node1'");
        assert.equal(row?.reported, 'single');
        return row.age;
      };
      await waitFor('node1 to report to monitor B', async () => (await reportAge(bPort)) < 2, { timeoutMs: 20_000 });

      // (3) A comes back, writable at epoch 1, with B as its peer: it stops
      // deciding. B no longer lists A as a member (an operator removed it),
      // so A does not rejoin B as a standby by itself (monitor-failover.test.ts).
      const removed = await query<{ removed: boolean }>(bPort,
        'SELECT pgautofailover.remove_monitor_member(member_id) AS removed FROM pgautofailover.monitor_member WHERE port = $1', [a.port]);
      assert.deepEqual(removed, [{ removed: true }]);
      const peerSet = await a.cli(['config', 'set', 'ha.peers', monitorUri([bPort]).replace('target_session_attrs=read-write&', '')]);
      assert.equal(peerSet.exitCode, 0, peerSet.stderr);
      assert.match(readFileSync(aConfig, 'utf8'), /\n\[ha\]\npeers = postgres:\/\/autoctl_node@127\.0\.0\.1:\d+\/pg_auto_failover\?sslmode=prefer\n/);
      a.run();
      await waitFor('monitor A to find itself stale', () => /is writable at epoch 2, higher than this monitor's epoch 1: this monitor is stale and stops deciding/.test(a.proc.output()),
        { timeoutMs: 30_000 });
      await waitFor('monitor A not to rejoin B, which does not list it', () => /does not list this monitor \(127\.0\.0\.1:\d+\) as a member: not rejoining it as a standby/.test(a.proc.output()),
        { timeoutMs: 30_000 });
      assert.deepEqual(await epochsOf(a.port), [{ epoch: '1', timeline: 1 }]);

      // Given A first, node1 still picks B: both are writable, B's epoch is higher.
      const both = monitorUri([a.port, bPort]);
      assert.equal((await node1.cli(['config', 'set', 'pg_autoctl.monitor', both])).exitCode, 0);
      await waitFor('node1 to reload the URI', () => node1.output().includes(`pg_autoctl.monitor is now "${both}"`), { timeoutMs: 10_000 });
      const aAgeBefore = await reportAge(a.port);
      await new Promise((r) => setTimeout(r, 3000));
      assert.ok((await reportAge(bPort)) < 2, 'node1 keeps reporting to B');
      assert.ok((await reportAge(a.port)) >= aAgeBefore + 2, 'node1 never reports to the stale A');

      // Given only A, node1 refuses it: the stale monitor's drop is not obeyed.
      const onlyA = monitorUri([a.port]);
      assert.equal((await node1.cli(['config', 'set', 'pg_autoctl.monitor', onlyA])).exitCode, 0);
      const [row] = await query<{ nodeid: string }>(a.port, "SELECT nodeid::text FROM pgautofailover.node WHERE nodename = 'node1'");
      const goalOnA = async (): Promise<{ goal: string; reported: string } | undefined> => (await query<{ goal: string; reported: string }>(a.port,
        "SELECT goalstate::text AS goal, reportedstate::text AS reported FROM pgautofailover.node WHERE nodename = 'node1'"))[0];
      // The stale monitor's brain stopped: a drop request stays undecided.
      await query(a.port, 'SELECT pgautofailover.remove_node($1::bigint)', [row?.nodeid]);
      await waitFor('node1 to refuse the stale monitor', () => /Refusing the monitor at 127\.0\.0\.1:\d+: its epoch 1 is lower than epoch 2 this node has seen/.test(node1.output()),
        { timeoutMs: 20_000 });
      await new Promise((r) => setTimeout(r, 2000));
      assert.deepEqual(await goalOnA(), { goal: 'single', reported: 'single' }, 'the stale brain decided nothing');
      // Even an assignment written there (as a stale brain would) is not obeyed.
      await query(a.port, "SELECT pgautofailover.set_node_goal_state($1::bigint, 'dropped', 'a decision of a stale monitor')", [row?.nodeid]);
      await new Promise((r) => setTimeout(r, 3000));
      assert.deepEqual(await goalOnA(), { goal: 'dropped', reported: 'single' }, 'node1 never reported to A, let alone dropped itself');
      assert.equal(node1.proc.exited(), false, 'node1 keeps running');
      assert.deepEqual(await node1.sql('SELECT pg_is_in_recovery() AS r'), [{ r: false }], 'Postgres of node1 untouched');
      assert.match(readFileSync(epochFile, 'utf8'), /^epoch 2\n(decision [^\n]*\n)?$/);
      const state = await node1.cli(['show', 'file', '--state', '--contents']);
      assert.match(state.stdout, /^Current Role:\s+single$/m);
      assert.match(state.stdout, /^Assigned Role:\s+single$/m, 'the stale goal was never taken');
      assert.doesNotMatch(node1.output(), /Monitor assigned new state "dropped"/);
      process.stdout.write(`monitor-epoch: ${Math.round((performance.now() - startedAt) / 1000)} s\n`);
    });
  });
});
