/**
 * `pg_autoctl perform switchover|failover|promotion` on three nodes
 * (spec 04 §8, spec 06 §3), through the real CLI: each waits on the
 * monitor's notifications, prints them, reports the new primary and exits
 * 0; bad targets are refused with 2.0's texts and change nothing.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { runCleanups } from '../helpers/fixture.js';
import {
  dumpOnFailure, nodeStates, startMonitor, startNode, startSingle, waitForStates, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';

after(runCleanups);

const HEADER = /^ {4}Time \| +Name \| +Node \| +Host:Port \| +Current State \| +Assigned State$/m;

/** The converged primary's name, checked to be the only one. */
async function primaryOf(m: RunningMonitor): Promise<string> {
  const rows = (await nodeStates(m)).filter((r) => r.reportedstate === 'primary' && r.goalstate === 'primary');
  assert.equal(rows.length, 1, `one primary expected: ${JSON.stringify(rows)}`);
  return rows[0]?.nodename ?? '';
}

/**
 * What an accepted operator command changes: a request recorded for the
 * monitor service, or the nodes' goals and settings. (Events are not
 * compared: health checks add some at any time.)
 */
async function snapshot(m: RunningMonitor): Promise<string> {
  const requests = await m.sql('SELECT count(*)::int AS n FROM pgautofailover.request');
  const nodes = await m.sql('SELECT nodename, goalstate::text, candidatepriority, replicationquorum FROM pgautofailover.node ORDER BY nodeid');
  return JSON.stringify({ requests, nodes });
}

describe('operator commands: perform', { timeout: 400_000 }, () => {
  it('switches over, fails over and promotes with --wait, and refuses bad targets', async () => {
    const m: RunningMonitor = await startMonitor({ name: 'monitor-ops-perform' });
    const nodes: RunningNode[] = [];
    await dumpOnFailure(m, () => nodes, async () => {
      const node1 = await startSingle(m, nodes);

      // A switchover needs a candidate: refused on a single node, nothing changes.
      const before = await snapshot(m);
      const single = await m.cli(['perform', 'switchover']);
      assert.equal(single.exitCode, 6, single.stderr);
      assert.match(single.stderr, /Monitor ERROR: {2}cannot fail over: group 0 in formation "default" currently has 1 node registered/);
      assert.match(single.stderr, /Failed to perform failover\/switchover, see above for details/);
      assert.equal(single.stdout, '');

      // Unknown formation and unknown node.
      const noFormation = await m.cli(['perform', 'failover', '--formation', 'nope']);
      assert.equal(noFormation.exitCode, 3, noFormation.stderr);
      assert.match(noFormation.stderr, /The monitor currently has no Postgres nodes registered in formation "nope"/);
      const noNode = await m.cli(['perform', 'promotion', '--name', 'nosuch']);
      assert.equal(noNode.exitCode, 1, noNode.stderr);
      assert.match(noNode.stderr, /node "nosuch" is not registered in formation "default"/);
      const noFormationNode = await m.cli(['perform', 'promotion', '--name', 'node1', '--formation', 'nope']);
      assert.equal(noFormationNode.exitCode, 1, noFormationNode.stderr);
      assert.match(noFormationNode.stderr, /node "node1" is not registered in formation "nope"/);
      const noName = await m.cli(['perform', 'promotion']);
      assert.equal(noName.exitCode, 1, noName.stderr);
      assert.match(noName.stderr, /Please use --name to target a specific node/);
      const badWait = await m.cli(['perform', 'switchover', '--wait', 'soon']);
      assert.equal(badWait.exitCode, 1, badWait.stderr);
      assert.match(badWait.stderr, /--wait argument is not a valid timeout: "soon"/);
      // Already the primary: a warning, exit 0, nothing to wait for.
      const already = await node1.cli(['perform', 'promotion']);
      assert.equal(already.exitCode, 0, already.stderr);
      assert.match(already.stderr, /WARN .*cannot perform promotion: node node1 in formation default is already a primary/);
      assert.equal(await snapshot(m), before, 'refused commands changed nothing');

      const node2 = await startNode(m, 'node2');
      nodes.push(node2);
      const node3 = await startNode(m, 'node3');
      nodes.push(node3);
      await waitForStates(m, { node1: 'primary', node2: 'secondary', node3: 'secondary' }, { nodes, timeoutMs: 120_000 });

      // Switchover from the monitor node, default --wait (60 s).
      const sw = await m.cli(['perform', 'switchover'], { timeoutMs: 90_000 });
      assert.equal(sw.exitCode, 0, sw.stderr);
      assert.match(sw.stderr, /Waiting 60 secs for a notification with state "primary" in formation "default" and group 0/);
      assert.match(sw.stdout, HEADER);
      assert.match(sw.stdout, /\| +node1 \| +1 \| +127\.0\.0\.1:\d+ \| +primary \| +draining$/m);
      const afterSwitch = await primaryOf(m);
      assert.notEqual(afterSwitch, 'node1');
      assert.match(sw.stdout, new RegExp(`\\| +${afterSwitch} \\| +\\d+ \\| +127\\.0\\.0\\.1:\\d+ \\| +primary \\| +primary\\n$`));
      assert.match(sw.stderr, new RegExp(`"${afterSwitch}" \\(127\\.0\\.0\\.1:\\d+\\) is now the primary of group 0 in formation "default"`));
      assert.doesNotMatch(sw.stderr, /ERROR/);
      await waitForStates(m, { [afterSwitch]: 'primary', node1: 'secondary' }, { nodes, timeoutMs: 60_000 });
      await waitForStates(m, { node1: 'secondary', node2: 'secondary', node3: 'secondary', [afterSwitch]: 'primary' }, { nodes, timeoutMs: 60_000 });

      // Failover from a keeper's --pgdata with --json: the same notifications as JSON.
      const fo = await node1.cli(['perform', 'failover', '--json', '--wait', '90'], { timeoutMs: 120_000 });
      assert.equal(fo.exitCode, 0, fo.stderr);
      assert.match(fo.stderr, /Targetting group 0 in formation "default"/);
      const report = JSON.parse(fo.stdout) as { reached: boolean; primary: { nodename: string }; notifications: Array<Record<string, unknown>> };
      assert.equal(report.reached, true);
      const afterFailover = await primaryOf(m);
      assert.notEqual(afterFailover, afterSwitch);
      assert.equal(report.primary.nodename, afterFailover);
      assert.deepEqual(report.notifications[0] && Object.keys(report.notifications[0]),
        ['time', 'nodename', 'node_id', 'nodehost', 'nodeport', 'current_state', 'assigned_state']);
      assert.ok(report.notifications.some((n) => n.nodename === afterSwitch && n.assigned_state === 'draining'));
      const others = ['node1', 'node2', 'node3'].filter((n) => n !== afterFailover);
      await waitForStates(m, Object.fromEntries([[afterFailover, 'primary'], ...others.map((n) => [n, 'secondary'])]),
        { nodes, timeoutMs: 90_000 });

      // Promotion of a chosen standby, named from the monitor.
      const target = others[0] ?? 'node1';
      const pr = await m.cli(['perform', 'promotion', '--name', target], { timeoutMs: 90_000 });
      assert.equal(pr.exitCode, 0, pr.stderr);
      assert.match(pr.stdout, HEADER);
      assert.equal(await primaryOf(m), target);
    });
  });
});
