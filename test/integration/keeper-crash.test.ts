/**
 * Idempotent transitions (DESIGN.md decision 5): pg_autoctl is SIGKILLed
 * in the middle of a transition, started again, and the group converges.
 * 1. During a standby's base backup (slowed down by --maximum-backup-rate).
 * 2. During a promotion, after the primary died.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCleanups, waitFor } from '../helpers/fixture.js';
import {
  dumpOnFailure, startMonitor, startNode, startPrimaryAndStandby, startSingle, waitForStates, type RunningMonitor,
  type RunningNode,
} from '../helpers/cluster.js';

after(runCleanups);

/** The node's pg_autoctl.cfg (under its XDG config dir). */
function configPath(node: RunningNode): string {
  return join(node.dirs.env.XDG_CONFIG_HOME ?? '', 'pg_autoctl', node.dirs.pgdata, 'pg_autoctl.cfg');
}

describe('keeper: killed in the middle of a transition', { timeout: 600_000 }, () => {
  it('finishes a standby whose pg_autoctl was killed during the base backup', async () => {
    const m: RunningMonitor = await startMonitor({ name: 'monitor-crash1' });
    const nodes: RunningNode[] = [];
    await dumpOnFailure(m, () => nodes, async () => {
      const node1 = await startSingle(m, nodes);
      const node2 = await startNode(m, 'node2', { extraArgs: ['--auth', 'trust', '--ssl-self-signed', '--maximum-backup-rate', '1M'] });
      nodes.push(node2);
      await waitFor('pg_basebackup to run on node2', () => /Running \S*pg_basebackup/.test(node2.output()), { timeoutMs: 60_000 });
      await new Promise((r) => setTimeout(r, 2000));
      await node2.kill();
      assert.equal((await node2.row())?.reportedstate, 'wait_standby');

      // The operator lifts the rate limit, then starts the node again.
      const cfg = configPath(node2);
      writeFileSync(cfg, readFileSync(cfg, 'utf8').replace(/maximum_backup_rate = 1M/, 'maximum_backup_rate = 100M'));
      node2.run();
      await waitForStates(m, { node1: 'primary', node2: 'secondary' }, { nodes, timeoutMs: 120_000 });
      assert.match(node2.output(), /Stopping pg_basebackup \(pid \d+\) left over by a previous attempt/);
      await node1.sql('CREATE TABLE after_crash (id int)');
      await waitFor('replication to node2', async () => (await node2.sql('SELECT 1 FROM pg_tables WHERE tablename = \'after_crash\'')).length === 1,
        { timeoutMs: 30_000 });
    });
  });

  it('finishes a promotion whose pg_autoctl was killed half-way', async () => {
    const m: RunningMonitor = await startMonitor({ name: 'monitor-crash2' });
    const nodes: RunningNode[] = [];
    await dumpOnFailure(m, () => nodes, async () => {
      const [node1, node2] = await startPrimaryAndStandby(m, nodes);
      await node1.sql('CREATE TABLE t (id int PRIMARY KEY)');
      await node1.sql('INSERT INTO t SELECT generate_series(1, 100)');

      await node1.kill({ postgres: true });
      // The keeper logs this line just before pg_ctl promote.
      await waitFor('node2 to start promoting', () => node2.output().includes('Promoting PostgreSQL at'), { timeoutMs: 60_000, intervalMs: 5 });
      await node2.kill();
      const seen = await node2.row();
      process.stdout.write(`killed node2's pg_autoctl during its promotion, at ${seen?.reportedstate}/${seen?.goalstate}\n`);

      node2.run();
      await waitForStates(m, { node2: 'wait_primary' }, { nodes, timeoutMs: 90_000 });
      await waitFor('a write on node2', async () => {
        await node2.sql('INSERT INTO t VALUES (101)');
        return true;
      }, { timeoutMs: 30_000 });
      const count = await node2.sql<{ n: string }>('SELECT count(*)::text AS n FROM t');
      assert.equal(count[0]?.n, '101');

      node1.run();
      await waitForStates(m, { node1: 'secondary', node2: 'primary' }, { nodes, timeoutMs: 120_000 });
    });
  });
});
