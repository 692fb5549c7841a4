/**
 * `pg_autoctl enable|disable maintenance` (spec 04 §6.2, spec 06 §5),
 * `enable|disable secondary` (§6.1) and `create|drop formation` (§3.5,
 * §4.3) through the real CLI on a primary and a standby: the standby and
 * then (with --allow-failover) the primary go to maintenance and back;
 * refusals keep 2.0's texts and change nothing. Last, `drop node` on the
 * old primary with its service stopped.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { runCleanups } from '../helpers/fixture.js';
import {
  dumpOnFailure, nodeStates, startMonitor, startPrimaryAndStandby, waitForStates, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';

after(runCleanups);

const HEADER = /^ {4}Time \| +Name \| +Node \| +Host:Port \| +Current State \| +Assigned State$/m;

async function snapshot(m: RunningMonitor): Promise<string> {
  // Events are not compared: health checks add some at any time.
  const requests = (await m.sql<{ n: number }>('SELECT count(*)::int AS n FROM pgautofailover.request'))[0]?.n;
  const formations = await m.sql('SELECT formationid, kind, opt_secondary FROM pgautofailover.formation ORDER BY 1');
  return JSON.stringify({ requests, formations, nodes: (await nodeStates(m)).map((r) => [r.nodename, r.reportedstate, r.goalstate]) });
}

describe('operator commands: maintenance, secondary, formations', { timeout: 400_000 }, () => {
  it('puts the standby then the primary in maintenance and back, and refuses bad input', async () => {
    const m: RunningMonitor = await startMonitor({ name: 'monitor-ops-maint' });
    const nodes: RunningNode[] = [];
    await dumpOnFailure(m, () => nodes, async () => {
      const [node1, node2] = await startPrimaryAndStandby(m, nodes);

      // Refusals: nothing changes.
      const before = await snapshot(m);
      const onMonitor = await m.cli(['enable', 'maintenance']);
      assert.equal(onMonitor.exitCode, 2, onMonitor.stderr);
      assert.match(onMonitor.stderr, /The command `pg_autoctl enable maintenance` does not apply to a monitor node\./);
      const onPrimary = await node1.cli(['enable', 'maintenance']);
      assert.equal(onPrimary.exitCode, 1, onPrimary.stderr);
      assert.match(onPrimary.stderr, /WARN {2}Enabling maintenance on a primary causes a failover/);
      assert.match(onPrimary.stderr, /FATAL Please use --allow-failover to allow the command proceed/);
      const notInMaintenance = await node2.cli(['disable', 'maintenance']);
      assert.equal(notInMaintenance.exitCode, 6, notInMaintenance.stderr);
      assert.match(notInMaintenance.stderr, /Monitor ERROR: {2}cannot stop maintenance when current state for node \d+ "node2" .* is not "maintenance"/);
      const noFormation = await m.cli(['enable', 'secondary', '--formation', 'nope']);
      assert.equal(noFormation.exitCode, 6, noFormation.stderr);
      assert.match(noFormation.stderr, /couldn't find formation "nope"/);
      const noOption = await m.cli(['disable', 'secondary']);
      assert.equal(noOption.exitCode, 1, noOption.stderr);
      assert.match(noOption.stderr, /Option --formation is mandatory/);
      const dropUnknown = await m.cli(['drop', 'formation', '--formation', 'nope']);
      assert.equal(dropUnknown.exitCode, 6, dropUnknown.stderr);
      const dropUsed = await m.cli(['drop', 'formation', '--formation', 'default']);
      assert.equal(dropUsed.exitCode, 6, dropUsed.stderr);
      const noKind = await m.cli(['create', 'formation', '--formation', 'f2']);
      assert.equal(noKind.exitCode, 1, noKind.stderr);
      assert.match(noKind.stderr, /Options --formation and --kind are mandatory/);
      const badNss = await m.cli(['create', 'formation', '--formation', 'f2', '--kind', 'pgsql', '--number-sync-standbys', '-1']);
      assert.equal(badNss.exitCode, 1, badNss.stderr);
      assert.match(badNss.stderr, /--number-sync-standbys argument is not valid\. Use a non-negative integer value\./);
      assert.equal(await snapshot(m), before, 'refused commands changed nothing');

      // Formations.
      const created = await m.cli(['create', 'formation', '--formation', 'f2', '--kind', 'pgsql', '--disable-secondary']);
      assert.equal(created.exitCode, 0, created.stderr);
      assert.equal(created.stdout, '');
      assert.match(created.stderr, /Created formation "f2" of kind "pgsql" on the monitor, with secondary disabled\./);
      const again = await m.cli(['create', 'formation', '--formation', 'f2', '--kind', 'pgsql']);
      assert.equal(again.exitCode, 6, again.stderr);
      const enabled = await node1.cli(['enable', 'secondary', '--formation', 'f2']);
      assert.equal(enabled.exitCode, 0, enabled.stderr);
      assert.deepEqual(await m.sql('SELECT opt_secondary FROM pgautofailover.formation WHERE formationid = \'f2\''), [{ opt_secondary: true }]);
      const dropped = await m.cli(['drop', 'formation', '--formation', 'f2']);
      assert.equal(dropped.exitCode, 0, dropped.stderr);
      assert.match(dropped.stderr, /Dropped formation "f2" on the monitor/);
      assert.equal((await m.sql('SELECT 1 FROM pgautofailover.formation WHERE formationid = \'f2\'')).length, 0);

      // Maintenance on the standby, then back.
      const on2 = await node2.cli(['enable', 'maintenance'], { timeoutMs: 90_000 });
      assert.equal(on2.exitCode, 0, on2.stderr);
      assert.match(on2.stdout, HEADER);
      assert.match(on2.stdout, /\| +node2 \| +2 \| +127\.0\.0\.1:\d+ \| +maintenance \| +maintenance\n$/);
      await waitForStates(m, { node1: 'wait_primary', node2: 'maintenance' }, { nodes, timeoutMs: 30_000 });
      const twice = await node2.cli(['enable', 'maintenance']);
      assert.equal(twice.exitCode, 0, twice.stderr);
      assert.match(twice.stderr, /This node is already in the "maintenance" state\./);
      const off2 = await node2.cli(['disable', 'maintenance', '--json'], { timeoutMs: 90_000 });
      assert.equal(off2.exitCode, 0, off2.stderr);
      const report = JSON.parse(off2.stdout) as { reached: boolean; node: Record<string, unknown> };
      assert.equal(report.reached, true);
      assert.equal(report.node.nodename, 'node2');
      assert.equal(report.node.current_state, 'secondary');
      await waitForStates(m, { node1: 'primary', node2: 'secondary' }, { nodes, timeoutMs: 60_000 });

      // Maintenance on the primary: a failover to node2.
      const on1 = await node1.cli(['enable', 'maintenance', '--allow-failover'], { timeoutMs: 90_000 });
      assert.equal(on1.exitCode, 0, on1.stderr);
      assert.match(on1.stdout, /\| +node1 \| +1 \| +127\.0\.0\.1:\d+ \| +primary \| +prepare_maintenance$/m);
      assert.match(on1.stdout, /\| +node1 \| +1 \| +127\.0\.0\.1:\d+ \| +maintenance \| +maintenance\n$/);
      await waitForStates(m, { node1: 'maintenance', node2: 'wait_primary' }, { nodes, timeoutMs: 60_000 });
      const off1 = await node1.cli(['disable', 'maintenance'], { timeoutMs: 120_000 });
      assert.equal(off1.exitCode, 0, off1.stderr);
      await waitForStates(m, { node1: 'secondary', node2: 'primary' }, { nodes, timeoutMs: 60_000 });

      // drop node on a node whose service is stopped: the command acknowledges
      // the drop for it, and keeps its files.
      await node1.stop();
      const drop1 = await node1.cli(['drop', 'node'], { timeoutMs: 90_000 });
      assert.equal(drop1.exitCode, 0, drop1.stderr);
      assert.match(drop1.stderr, /This node with id 1 in formation "default" and group 0 has been dropped from the monitor/);
      assert.match(drop1.stderr, /Preserving Postgres Data Directory: /);
      assert.equal(await node1.row(), undefined);
      await waitForStates(m, { node2: 'single' }, { nodes, timeoutMs: 60_000 });
      // Its service refuses to run for a node the monitor no longer knows.
      const rerun = node1.run();
      assert.notEqual(await rerun.wait(30_000), 0);
      assert.match(rerun.output(), /This node with id 1 in formation "default" and group 0 has been dropped from the monitor/);
    });
  });
});
