/**
 * `pg_autoctl drop node|monitor` (spec 04 §4, spec 06 §6) through the real
 * CLI on three nodes: a live standby dropped from itself with --destroy
 * (its service reaches `dropped` and exits, its files go), a dead standby
 * dropped from the monitor with --force, bad targets refused with 2.0's
 * texts and nothing changed, the last (live) node removed with --force
 * from the monitor (its service stops), then the monitor dropped with
 * --destroy.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { pathsFor } from '../../src/config/index.js';
import { runCleanups, waitFor } from '../helpers/fixture.js';
import {
  dumpOnFailure, nodeStates, startMonitor, startNode, startPrimaryAndStandby, waitForStates, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';

after(runCleanups);

async function snapshot(m: RunningMonitor): Promise<string> {
  // Events are not compared: health checks add some at any time.
  const requests = (await m.sql<{ n: number }>('SELECT count(*)::int AS n FROM pgautofailover.request'))[0]?.n;
  return JSON.stringify({ requests, nodes: (await nodeStates(m)).map((r) => [r.nodename, r.goalstate]) });
}

describe('operator commands: drop', { timeout: 400_000 }, () => {
  it('drops a live node from itself, a dead node from the monitor, then the monitor', async () => {
    const m: RunningMonitor = await startMonitor({ name: 'monitor-ops-drop' });
    const nodes: RunningNode[] = [];
    await dumpOnFailure(m, () => nodes, async () => {
      const [node1, node2] = await startPrimaryAndStandby(m, nodes);
      const node3 = await startNode(m, 'node3');
      nodes.push(node3);
      await waitForStates(m, { node1: 'primary', node2: 'secondary', node3: 'secondary' }, { nodes, timeoutMs: 90_000 });

      // Bad targets: refused, nothing changes.
      const before = await snapshot(m);
      const cases: Array<[RunningNode | RunningMonitor, string[], number, RegExp]> = [
        [node3, ['drop', 'node', '--name', 'node2'], 1,
          /Only dropping the local node is supported, \[ --formation --name \] are not supported when --pgdata is used\./],
        [node3, ['drop', 'node', '--hostname', '127.0.0.1', '--pgport', String(node2.port)], 1,
          /Only dropping the local node is supported, \[ --hostname --pgport \] are not supported when --pgdata is used\./],
        [m, ['drop', 'node'], 1, /can either be specified using \[ --formation --name \], or using \[ --hostname and --pgport \], please use either one\./],
        [m, ['drop', 'node', '--name', 'node2', '--hostname', '127.0.0.1'], 1, /but not both\./],
        [m, ['drop', 'node', '--monitor', m.uri, '--name', 'node2', '--destroy'], 1, /Destroying a node is not supported from a distance/],
        [m, ['drop', 'node', '--monitor', m.uri, '--name', 'nosuch'], 6, /node "nosuch" is not registered in formation "default"/],
        [m, ['drop', 'node', '--formation', 'nope', '--name', 'node2'], 6, /node "node2" is not registered in formation "nope"/],
        [m, ['drop', 'node', '--hostname', '127.0.0.1', '--pgport', '1'], 6, /couldn't find node with hostname "127\.0\.0\.1" and port 1/],
        [node1, ['drop', 'monitor'], 2, /Local node is not a monitor/],
      ];
      for (const [who, args, code, message] of cases) {
        const r = await who.cli(args);
        assert.equal(r.exitCode, code, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message, args.join(' '));
      }
      assert.equal(await snapshot(m), before, 'refused commands changed nothing');

      // A live standby, from itself, with --destroy.
      const node3Id = (await node3.row())?.nodeid;
      const paths3 = pathsFor(node3.dirs.pgdata, node3.dirs.env, '/');
      assert.ok(existsSync(paths3.config));
      const drop3 = await node3.cli(['drop', 'node', '--destroy'], { timeoutMs: 120_000 });
      assert.equal(drop3.exitCode, 0, drop3.stderr);
      assert.match(drop3.stderr, new RegExp(`This node with id ${node3Id} in formation "default" and group 0 has been dropped from the monitor`));
      assert.equal(await node3.proc.wait(10_000), 0, 'the service of the dropped node exits 0');
      assert.equal(await node3.row(), undefined);
      assert.equal(existsSync(node3.dirs.pgdata), false, 'PGDATA removed');
      assert.equal(existsSync(paths3.config), false, 'configuration file removed');
      assert.equal(existsSync(paths3.state), false, 'state file removed');
      await waitForStates(m, { node1: 'primary', node2: 'secondary' }, { nodes, timeoutMs: 60_000 });

      // A dead standby, from the monitor, with --force.
      await node2.kill({ postgres: true });
      const drop2 = await m.cli(['drop', 'node', '--name', 'node2', '--force'], { timeoutMs: 90_000 });
      assert.equal(drop2.exitCode, 0, drop2.stderr);
      assert.match(drop2.stderr, /Removing node with name "node2" in formation "default" from the monitor/);
      assert.match(drop2.stderr, /Node with id \d+ in group 0 has been successfully dropped from the monitor/);
      assert.equal(await node2.row(), undefined);
      assert.ok(existsSync(node2.dirs.pgdata), 'a remote drop leaves the node\'s files alone');
      await waitForStates(m, { node1: 'single' }, { nodes, timeoutMs: 60_000 });

      // A live node removed with --force from elsewhere: its service notices and stops.
      const drop1 = await m.cli(['drop', 'node', '--hostname', '127.0.0.1', '--pgport', String(node1.port), '--force', '--wait', '0']);
      assert.equal(drop1.exitCode, 0, drop1.stderr);
      assert.doesNotMatch(drop1.stderr, /successfully dropped/, '--wait 0 does not wait');
      assert.notEqual(await node1.proc.wait(60_000), 0);
      assert.match(node1.output(), /FATAL This node with id 1 in formation "default" and group 0 has been dropped from the monitor/);
      assert.equal(await node1.row(), undefined);

      // The monitor itself.
      const dropMonitor = await m.cli(['drop', 'monitor', '--destroy'], { timeoutMs: 90_000 });
      assert.equal(dropMonitor.exitCode, 0, dropMonitor.stderr);
      await waitFor('the monitor service to exit', () => m.proc.exited(), { timeoutMs: 30_000 });
      assert.equal(existsSync(m.dirs.pgdata), false, 'monitor PGDATA removed');
    });
  });
});
