/**
 * Failover with two standbys (spec 02 §5.6, spec 06 §4.2): the election
 * path of the keeper (report_lsn, then prepare_promotion or fast_forward
 * for the winner, join_secondary then secondary for the other), and the
 * old primary back as a standby of the new one.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { runCleanups, waitFor } from '../helpers/fixture.js';
import {
  dumpOnFailure, nodeStates, startMonitor, startNode, startPrimaryAndStandby, waitForStates, type RunningMonitor,
  type RunningNode,
} from '../helpers/cluster.js';

after(runCleanups);

describe('keeper: three nodes', { timeout: 600_000 }, () => {
  it('elects a new primary among two standbys, and rejoins the old primary', async () => {
    const m: RunningMonitor = await startMonitor({ name: 'monitor-three' });
    const nodes: RunningNode[] = [];
    await dumpOnFailure(m, () => nodes, async () => {
      const [node1] = await startPrimaryAndStandby(m, nodes);
      const node3 = await startNode(m, 'node3');
      nodes.push(node3);
      await waitForStates(m, { node1: 'primary', node2: 'secondary', node3: 'secondary' }, { nodes, timeoutMs: 90_000 });

      await node1.sql('CREATE TABLE t (id int PRIMARY KEY)');
      await node1.sql('INSERT INTO t SELECT generate_series(1, 500)');
      await node1.kill({ postgres: true });

      const rows = await waitFor('a new primary and a secondary', async () => {
        const r = await nodeStates(m);
        const byName = new Map(r.map((n) => [n.nodename, n]));
        const a = byName.get('node2');
        const b = byName.get('node3');
        if (!a || !b || a.reportedstate !== a.goalstate || b.reportedstate !== b.goalstate) return undefined;
        const states = [a.reportedstate, b.reportedstate];
        const onePrimary = states.filter((s) => s === 'wait_primary' || s === 'primary').length === 1;
        return onePrimary && states.includes('secondary') ? r : undefined;
      }, { timeoutMs: 120_000, intervalMs: 200 });
      const primaryName = rows.find((r) => r.nodename !== 'node1' && r.reportedstate !== 'secondary')?.nodename;
      const primary = nodes.find((n) => n.name === primaryName);
      const other = nodes.find((n) => n.name !== 'node1' && n.name !== primaryName);
      assert.ok(primary && other);
      await waitFor('a write on the new primary', async () => {
        await primary.sql('INSERT INTO t VALUES (501)');
        return true;
      }, { timeoutMs: 30_000 });
      const count = await primary.sql<{ n: string }>('SELECT count(*)::text AS n FROM t');
      assert.equal(count[0]?.n, '501');
      await waitFor('the write on the other standby', async () =>
        (await other.sql<{ n: string }>('SELECT count(*)::text AS n FROM t'))[0]?.n === '501', { timeoutMs: 30_000 });

      node1.run();
      await waitForStates(m, { node1: 'secondary', [primary.name]: 'primary', [other.name]: 'secondary' }, { nodes, timeoutMs: 150_000 });
      await waitFor('the write on the old primary', async () =>
        (await node1.sql<{ n: string }>('SELECT count(*)::text AS n FROM t'))[0]?.n === '501', { timeoutMs: 30_000 });
    });
  });
});
