/**
 * Replacing a lost monitor (spec 06 §10) with `pg_autoctl disable monitor`
 * and `enable monitor` while `pg_autoctl run` and Postgres keep running:
 * the primary keeps accepting writes (its write lease is not enforced once
 * the monitor is disabled), the standby keeps streaming, and a new monitor
 * learns both with their roles and ids. Bad input fails with one line and
 * changes nothing.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { pathsFor } from '../../src/config/index.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, runCleanups, waitFor } from '../helpers/fixture.js';
import {
  dumpOnFailure, postmasterPid, startMonitor, startPrimaryAndStandby, waitForStates, type RunningNode,
} from '../helpers/cluster.js';
import { startWriter, type Writer } from '../helpers/writer.js';

after(runCleanups);

function files(node: RunningNode): { config: string; state: string; token: string } {
  const paths = pathsFor(node.dirs.pgdata, node.dirs.env, '/');
  const read = (p: string): string => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return '';
    }
  };
  // The running keeper stamps each successful report in the state file.
  const state = read(paths.state).replace(/"last_monitor_contact": \d+/, '');
  return { config: read(paths.config), state, token: read(paths.token) };
}

/** Runs a command expected to fail: its exit code, a one-line error matching `message`, no file changed. */
async function refused(node: RunningNode, args: string[], exitCode: number, message: RegExp): Promise<void> {
  const before = files(node);
  const r = await node.cli(args, { timeoutMs: 60_000 });
  assert.equal(r.exitCode, exitCode, `${args.join(' ')}: ${r.stderr}`);
  assert.match(r.stderr, message);
  const errors = r.stderr.split('\n').filter((l) => / (ERROR|FATAL) /.test(l));
  assert.equal(errors.length, 1, r.stderr);
  assert.deepEqual(files(node), before, `${args.join(' ')} changed a file`);
}

/** Every write was acknowledged, none waited more than 3 s. */
function checkWrites(writer: Writer, from: number, what: string): void {
  const gap = writer.longestGap(from, performance.now());
  process.stderr.write(`${what}: ${writer.acked.length} writes, longest gap between acknowledgements ${Math.round(gap)} ms, ${writer.errors.length} errors\n`);
  assert.deepEqual(writer.errors, [], what);
  assert.ok(gap < 3000, `writes paused for ${Math.round(gap)} ms ${what}`);
}

describe('disable monitor and enable monitor onto a new monitor', { timeout: 400_000 }, () => {
  it('keeps the primary writing and the standby streaming while the monitor is replaced', async () => {
    const m1 = await startMonitor({ name: 'monitor-old' });
    const nodes: RunningNode[] = [];
    await dumpOnFailure(m1, () => nodes, async () => {
      const [node1, node2] = await startPrimaryAndStandby(m1, nodes);
      const ids = Object.fromEntries((await m1.sql<{ nodename: string; nodeid: string }>('SELECT nodename, nodeid::text FROM pgautofailover.node'))
        .map((r) => [r.nodename, r.nodeid]));
      const pg1 = await postmasterPid(node1.dirs.pgdata);
      const pd = (n: RunningNode): string[] => ['--pgdata', n.dirs.pgdata];

      // Bad input while the monitor runs.
      await refused(node1, ['enable', 'monitor', ...pd(node1), m1.uri], 2, /Failed to enable monitor ".*": there is already a monitor enabled/);
      await refused(node1, ['enable', 'monitor', ...pd(node1)], 1, /Failed to parse new monitor URI as an argument\./);
      await refused(node2, ['disable', 'monitor', ...pd(node2)], 3, /Use --force to remove the node from the monitor/);
      await refused(node1, ['disable', 'monitor', ...pd(node1), '--force'], 3, /Refusing to disable the monitor of the primary/);

      const writer = await startWriter(node1.port);
      const writesFrom = performance.now();
      const disable = async (node: RunningNode): Promise<string> => {
        const r = await node.cli(['disable', 'monitor', ...pd(node), '--force'], { timeoutMs: 60_000 });
        assert.equal(r.exitCode, 0, r.stderr);
        assert.match(files(node).config, /^monitor = PG_AUTOCTL_DISABLED$/m);
        await waitFor(`${node.name} to reload`, () => node.output().includes('The monitor is now disabled'), { timeoutMs: 20_000 });
        return r.stderr;
      };

      // The standby leaves the live monitor: removed from it after its
      // keeper stopped calling it, so it never sees the "dropped" goal.
      const pg2Before = await postmasterPid(node2.dirs.pgdata);
      assert.match(await disable(node2), new RegExp(`Removing node ${ids.node2} "node2" \\(127\\.0\\.0\\.1:${node2.port}\\) from monitor`));
      await waitForStates(m1, { node1: 'single' }, { nodes, timeoutMs: 30_000 });
      assert.equal((await m1.sql('SELECT 1 FROM pgautofailover.node WHERE nodename = $1', ['node2'])).length, 0);
      assert.equal(await postmasterPid(node2.dirs.pgdata), pg2Before);
      assert.doesNotMatch(node2.output(), /dropped/);

      // Then the monitor is lost.
      await m1.crash();
      await refused(node1, ['disable', 'monitor', ...pd(node1)], 6, /Failed to contact the monitor, use --force to continue/);
      await disable(node1);
      await refused(node1, ['disable', 'monitor', ...pd(node1)], 2, /Monitor is disabled in the configuration/);

      // Well past the write lease of the lost monitor (3 s): the primary still serves.
      await sleep(5000);
      assert.equal(await postmasterPid(node1.dirs.pgdata), pg1);
      const recent = writer.acked.filter((a) => a.at > performance.now() - 1500).length;
      assert.ok(recent > 0, `no write acknowledged in the last 1.5 s; errors: ${JSON.stringify(writer.errors.slice(-3))}`);
      await writer.stop();
      checkWrites(writer, writesFrom, 'while disabling the monitor');

      // A keeper started without a monitor brings its Postgres up (the
      // standby: synchronous replication holds the primary's writes meanwhile).
      await node2.stop();
      node2.run();
      await waitFor('node2 streaming again', async () => {
        const rows = await node1.sql(`SELECT 1 FROM pg_stat_replication WHERE application_name = 'pgautofailover_standby_${ids.node2}' AND state = 'streaming'`);
        return rows.length === 1;
      }, { timeoutMs: 60_000 });
      const pg2 = await postmasterPid(node2.dirs.pgdata);
      const writer2 = await startWriter(node1.port, { table: 'writer_acks_2' });
      const writes2From = performance.now();

      const m2 = await startMonitor({ name: 'monitor-new' });
      await dumpOnFailure(m2, () => [], async () => {
      const deadPort = await freePort();
      await refused(node1, ['enable', 'monitor', ...pd(node1), 'not a uri'], 1, /Failed to parse the new monitor connection string/);
      await refused(node1, ['enable', 'monitor', ...pd(node1), m2.uri, m2.uri], 1, /Failed to parse new monitor URI as an argument\./);
      await refused(node1, ['enable', 'monitor', ...pd(node1), `postgres://autoctl_node@127.0.0.1:${deadPort}/pg_auto_failover`], 6,
        /Failed to connect to the monitor/);

      // The primary first, then the standby.
      for (const node of [node1, node2]) {
        const r = await node.cli(['enable', 'monitor', ...pd(node), m2.uri], { timeoutMs: 120_000 });
        assert.equal(r.exitCode, 0, r.stderr);
        assert.match(r.stderr, new RegExp(`Successfully registered to the monitor with nodeId ${ids[node.name]}`));
        assert.equal(files(node).config.includes(`monitor = ${m2.uri}`), true);
      }
      await waitForStates(m2, { node1: 'primary', node2: 'secondary' }, { nodes, timeoutMs: 90_000 });
      const show = await m2.cli(['show', 'state']);
      assert.equal(show.exitCode, 0, show.stderr);
      assert.match(show.stdout, new RegExp(`node1 \\|\\s+${ids.node1} \\|.*\\|\\s+primary \\|\\s+primary`));
      assert.match(show.stdout, new RegExp(`node2 \\|\\s+${ids.node2} \\|.*\\|\\s+secondary \\|\\s+secondary`));

      // Neither Postgres restarted; the standby stayed a standby and streams the writes.
      assert.equal(await postmasterPid(node1.dirs.pgdata), pg1);
      assert.equal(await postmasterPid(node2.dirs.pgdata), pg2);
      assert.equal((await node2.sql<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r, true);
      await writer2.stop();
      checkWrites(writer2, writes2From, 'while enabling the new monitor');
      const last = writer2.acked[writer2.acked.length - 1]?.id ?? 0;
      await waitFor('the last write on the standby', async () =>
        (await node2.sql<{ n: string }>('SELECT count(*)::text AS n FROM writer_acks_2 WHERE id = $1', [last]))[0]?.n === '1', { timeoutMs: 30_000 });
      });
    });
  });
});
