/**
 * Unplanned failover (spec 06 §4.1): the primary's pg_autoctl and its
 * postmaster are killed; the standby becomes the primary and accepts
 * writes with every committed row; the old primary's `pg_autoctl run`
 * brings it back as a standby through pg_rewind.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { runCleanups, waitFor } from '../helpers/fixture.js';
import {
  dumpOnFailure, startMonitor, startPrimaryAndStandby, waitForStates, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';

after(runCleanups);

describe('keeper: failover', { timeout: 420_000 }, () => {
  let monitor: RunningMonitor | undefined;
  const nodes: RunningNode[] = [];

  it('promotes the standby when the primary dies, then rejoins the old primary with pg_rewind', async () => {
    monitor = await startMonitor();
    const m = monitor;
    await dumpOnFailure(m, () => nodes, async () => {
      const [node1, node2] = await startPrimaryAndStandby(m, nodes);

      await node1.sql('CREATE TABLE t (id int PRIMARY KEY, at timestamptz DEFAULT now())');
      await node1.sql('INSERT INTO t (id) SELECT g FROM generate_series(1, 1000) g');
      // Synchronous replication: once committed, node2 has these rows.
      const committed = 1000;

      const killedAt = performance.now();
      await node1.kill({ postgres: true });

      let attempt = 0;
      await waitFor('a write to succeed on node2', async () => {
        attempt += 1;
        await node2.sql('INSERT INTO t (id) VALUES ($1)', [100_000 + attempt]);
        return true;
      }, { timeoutMs: 120_000, intervalMs: 100 });
      const failoverMs = performance.now() - killedAt;
      process.stdout.write(`FAILOVER TIME: ${(failoverMs / 1000).toFixed(2)} s from SIGKILL of the primary to the first write on the new primary\n`);

      const count = await node2.sql<{ n: string }>('SELECT count(*)::text AS n FROM t WHERE id <= 1000');
      assert.equal(Number(count[0]?.n), committed, 'every committed row is on the new primary');
      await waitForStates(m, { node2: 'wait_primary' }, { nodes, timeoutMs: 60_000 });

      node1.run();
      await waitForStates(m, { node1: 'secondary', node2: 'primary' }, { nodes, timeoutMs: 120_000 });
      assert.match(node1.output(), /pg_rewind/, 'the old primary was rewound');
      assert.doesNotMatch(node1.output(), /Failed to rewind/, 'pg_rewind succeeded as the non-superuser replication role');

      await node2.sql('INSERT INTO t (id) SELECT g FROM generate_series(2001, 2100) g');
      await waitFor('new rows on the old primary', async () => {
        const r = await node1.sql<{ n: string }>('SELECT count(*)::text AS n FROM t WHERE id BETWEEN 2001 AND 2100');
        return r[0]?.n === '100';
      }, { timeoutMs: 30_000 });
      const recovery = await node1.sql<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      assert.equal(recovery[0]?.r, true);
    });
  });
});
