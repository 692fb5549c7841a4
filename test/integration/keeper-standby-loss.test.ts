/**
 * Standby lost (spec 06 §4.3, spec 02 §5.4): with number_sync_standbys 0,
 * the primary leaves synchronous replication (wait_primary) and keeps
 * accepting writes; when the standby is back the group returns to
 * primary/secondary.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { runCleanups, waitFor } from '../helpers/fixture.js';
import {
  dumpOnFailure, startMonitor, startPrimaryAndStandby, waitForStates, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';

after(runCleanups);

describe('keeper: standby loss', { timeout: 300_000 }, () => {
  let monitor: RunningMonitor | undefined;
  const nodes: RunningNode[] = [];

  it('keeps the primary writable without its standby, and gets back to primary/secondary', async () => {
    monitor = await startMonitor();
    const m = monitor;
    await dumpOnFailure(m, () => nodes, async () => {
      const [node1, node2] = await startPrimaryAndStandby(m, nodes);
      await node1.sql('CREATE TABLE t (id int PRIMARY KEY)');

      await node2.stop();
      await waitForStates(m, { node1: 'wait_primary' }, { nodes, timeoutMs: 60_000 });
      const names = await node1.sql<{ v: string }>('SELECT current_setting(\'synchronous_standby_names\') AS v');
      assert.equal(names[0]?.v, '');
      await waitFor('a write on the primary without its standby', async () => {
        await node1.sql('INSERT INTO t SELECT g FROM generate_series(1, 10) g ON CONFLICT DO NOTHING');
        return true;
      }, { timeoutMs: 10_000 });

      node2.run();
      await waitForStates(m, { node1: 'primary', node2: 'secondary' }, { nodes, timeoutMs: 90_000 });
      await node1.sql('INSERT INTO t VALUES (11)');
      await waitFor('the rows written meanwhile on the standby', async () => {
        const r = await node2.sql<{ n: string }>('SELECT count(*)::text AS n FROM t');
        return r[0]?.n === '11';
      }, { timeoutMs: 30_000 });
    });
  });
});
