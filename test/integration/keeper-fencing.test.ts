/**
 * The write lease (DESIGN.md "Safety argument"): when the monitor stops
 * answering, the primary's keeper kills its Postgres as soon as its lease
 * runs out (spec 05 §12.4, lease-based), and records demote_timeout. When
 * the monitor answers again the group converges back to a primary and a
 * secondary. The monitor is frozen with SIGSTOP (all its Postgres
 * processes), which cuts every node off it at once; the standby's keeper
 * is frozen too, so that no vouch extends the lease (the failsafe, see
 * failsafe.test.ts).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { runCleanups, waitFor } from '../helpers/fixture.js';
import {
  dumpOnFailure, postmasterPid, processGone, signalPostgres, startMonitor, startPrimaryAndStandby, waitForStates,
  type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';

after(runCleanups);

describe('keeper: write lease', { timeout: 300_000 }, () => {
  const nodes: RunningNode[] = [];

  it('fences the primary when the monitor is gone for longer than the lease, and recovers', async () => {
    const m: RunningMonitor = await startMonitor({ name: 'monitor-lease' });
    await dumpOnFailure(m, () => nodes, async () => {
      const [node1, node2] = await startPrimaryAndStandby(m, nodes);
      const leaseMs = Number((await m.sql<{ setting: string }>(
        "SELECT setting FROM pgautofailover.settings WHERE name LIKE '%primary_lease_timeout'"))[0]?.setting ?? '20000');

      const primaryPg = await postmasterPid(node1.dirs.pgdata);
      assert.ok(primaryPg !== null);
      const frozenAt = performance.now();
      node2.proc.kill('SIGSTOP');
      const frozen = await signalPostgres(m.dirs.pgdata, 'SIGSTOP');
      assert.ok(frozen.length > 1, 'the monitor\'s Postgres processes are frozen');
      let fencedAfterMs: number;
      try {
        await waitFor('the primary to kill its Postgres', () => processGone(primaryPg), { timeoutMs: leaseMs + 10_000, intervalMs: 20 });
        fencedAfterMs = performance.now() - frozenAt;
        process.stdout.write(`primary fenced ${(fencedAfterMs / 1000).toFixed(2)} s after the monitor froze (lease ${leaseMs} ms)\n`);
        // A deadline, not a benchmark: the lease plus scheduling slack on a loaded machine.
        assert.ok(fencedAfterMs <= leaseMs + 1000, `fenced within the lease (${fencedAfterMs} ms)`);
        await assert.rejects(node1.sql('SELECT 1'));
        // Stays fenced while the monitor is gone.
        await new Promise((r) => setTimeout(r, 2000));
        assert.equal(await postmasterPid(node1.dirs.pgdata), null, 'Postgres stays stopped without a lease');
        // Who stopped Postgres (the keeper's timer, or the lease guard when the
        // keeper is stuck in a call to the frozen monitor) depends on timing.
        assert.match(node1.output(), /Reaching new state "demote_timeout"|exited with SIGKILL|PostgreSQL has been stopped to fence it/);
      } finally {
        await signalPostgres(m.dirs.pgdata, 'SIGCONT');
        node2.proc.kill('SIGCONT');
      }

      const rows = await waitFor('one primary and one secondary again', async () => {
        const r = await m.sql<{ nodename: string; reportedstate: string; goalstate: string }>(
          'SELECT nodename, reportedstate::text, goalstate::text FROM pgautofailover.node ORDER BY nodeid');
        const converged = r.every((n) => n.reportedstate === n.goalstate);
        const states = r.map((n) => n.reportedstate).sort();
        return converged && states[0] === 'primary' && states[1] === 'secondary' ? r : undefined;
      }, { timeoutMs: 120_000, intervalMs: 200 });
      const primary = rows.find((r) => r.reportedstate === 'primary');
      const writer = nodes.find((n) => n.name === primary?.nodename);
      assert.ok(writer);
      await waitFor('a write on the primary', async () => {
        await writer.sql('CREATE TABLE IF NOT EXISTS after_fence (id int)');
        return true;
      }, { timeoutMs: 30_000 });
    });
  });

  it('fences the primary whose pg_autoctl is frozen (the lease guard), then rejoins it after a failover', async () => {
    const m: RunningMonitor = await startMonitor({ name: 'monitor-frozen' });
    const group: RunningNode[] = [];
    await dumpOnFailure(m, () => group, async () => {
      const [node1, node2] = await startPrimaryAndStandby(m, group);
      await node1.sql('CREATE TABLE t (id int PRIMARY KEY)');
      await node1.sql('INSERT INTO t SELECT generate_series(1, 100)');
      const leaseMs = Number((await m.sql<{ setting: string }>(
        "SELECT setting FROM pgautofailover.settings WHERE name LIKE '%primary_lease_timeout'"))[0]?.setting ?? '20000');

      const primaryPg = await postmasterPid(node1.dirs.pgdata);
      assert.ok(primaryPg !== null);
      const frozenAt = performance.now();
      node1.proc.kill('SIGSTOP');
      try {
        await waitFor('the lease guard to kill the primary\'s Postgres', () => processGone(primaryPg), { timeoutMs: leaseMs + 10_000, intervalMs: 20 });
        const fencedAfterMs = performance.now() - frozenAt;
        process.stdout.write(`frozen keeper: Postgres killed ${(fencedAfterMs / 1000).toFixed(2)} s after the freeze (lease ${leaseMs} ms)\n`);
        // A deadline, not a benchmark: the lease plus scheduling slack on a loaded machine.
        assert.ok(fencedAfterMs <= leaseMs + 1000, `fenced within the lease (${fencedAfterMs} ms)`);
        await waitForStates(m, { node2: 'wait_primary' }, { nodes: group, timeoutMs: 60_000 });
        await node2.sql('INSERT INTO t VALUES (101)');
      } finally {
        node1.proc.kill('SIGCONT');
      }
      await waitForStates(m, { node1: 'secondary', node2: 'primary' }, { nodes: group, timeoutMs: 120_000 });
      await waitFor('the new row on node1', async () =>
        (await node1.sql<{ n: string }>('SELECT count(*)::text AS n FROM t'))[0]?.n === '101', { timeoutMs: 30_000 });
    });
  });
});
