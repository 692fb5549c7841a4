/**
 * Operator-driven transitions through the monitor's SQL API (spec 06 §3,
 * §5): maintenance on the standby (the keeper hands Postgres over, then
 * rejoins), and a planned switchover (perform_failover) with the old
 * primary back as a standby.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { runCleanups, waitFor } from '../helpers/fixture.js';
import {
  dumpOnFailure, startMonitor, startPrimaryAndStandby, waitForStates, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';

after(runCleanups);

describe('keeper: maintenance and switchover', { timeout: 420_000 }, () => {
  it('puts the standby in maintenance and back, then switches the primary over', async () => {
    const m: RunningMonitor = await startMonitor({ name: 'monitor-maint' });
    const nodes: RunningNode[] = [];
    await dumpOnFailure(m, () => nodes, async () => {
      const [node1, node2] = await startPrimaryAndStandby(m, nodes);
      await node1.sql('CREATE TABLE t (id int PRIMARY KEY)');

      const id2 = (await node2.row())?.nodeid;
      await m.sql('SELECT pgautofailover.start_maintenance($1::bigint)', [id2]);
      await waitForStates(m, { node1: 'wait_primary', node2: 'maintenance' }, { nodes, timeoutMs: 60_000 });
      await node1.sql('INSERT INTO t VALUES (1)');
      await m.sql('SELECT pgautofailover.stop_maintenance($1::bigint)', [id2]);
      await waitForStates(m, { node1: 'primary', node2: 'secondary' }, { nodes, timeoutMs: 90_000 });
      await waitFor('the row written during maintenance on node2', async () =>
        (await node2.sql<{ n: string }>('SELECT count(*)::text AS n FROM t'))[0]?.n === '1', { timeoutMs: 30_000 });

      await m.sql('SELECT pgautofailover.perform_failover(\'default\', 0)');
      await waitForStates(m, { node1: 'secondary', node2: 'primary' }, { nodes, timeoutMs: 120_000 });
      await node2.sql('INSERT INTO t VALUES (2)');
      await waitFor('the row on the old primary', async () =>
        (await node1.sql<{ n: string }>('SELECT count(*)::text AS n FROM t'))[0]?.n === '2', { timeoutMs: 30_000 });
      const ro = await node1.sql<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      assert.equal(ro[0]?.r, true);
    });
  });
});
