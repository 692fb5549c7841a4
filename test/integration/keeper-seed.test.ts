/**
 * Seed deployment (spec 06 §1): a monitor, a first node that becomes the
 * primary, a second node that becomes its synchronous standby; data
 * written on the primary is readable on the standby.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { runCleanups, waitFor } from '../helpers/fixture.js';
import { dumpOnFailure, startMonitor, startNode, waitForStates, type RunningMonitor, type RunningNode } from '../helpers/cluster.js';

after(runCleanups);

describe('keeper: seed deployment', { timeout: 300_000 }, () => {
  let monitor: RunningMonitor | undefined;
  const nodes: RunningNode[] = [];

  it('brings up a primary and a secondary that streams from it', async () => {
    monitor = await startMonitor();
    const m = monitor;
    await dumpOnFailure(m, () => nodes, async () => {
      const node1 = await startNode(m, 'node_1', { defaultName: true });
      nodes.push(node1);
      await waitForStates(m, { node_1: 'single' }, { nodes });

      const node2 = await startNode(m, 'node_2', { defaultName: true });
      nodes.push(node2);
      await waitForStates(m, { node_1: 'primary', node_2: 'secondary' }, { nodes, timeoutMs: 90_000 });

      const show = await m.cli(['show', 'state']);
      process.stdout.write(show.stdout);
      assert.equal(show.exitCode, 0, show.stderr);
      assert.match(show.stdout, /^node_1 \|\s+1 \|.*\|\s+primary \|\s+primary$/m);
      assert.match(show.stdout, /^node_2 \|\s+2 \|.*\|\s+secondary \|\s+secondary$/m);

      const uri = await m.cli(['show', 'uri']);
      assert.equal(uri.exitCode, 0, uri.stderr);
      assert.match(uri.stdout, /^\s+monitor \| monitor \| postgres:\/\/autoctl_node@.*\/pg_auto_failover\?sslmode=prefer$/m);
      assert.match(uri.stdout, /^\s+formation \| default \| postgres:\/\/127\.0\.0\.1:\d+,127\.0\.0\.1:\d+\/postgres\?target_session_attrs=read-write&sslmode=prefer$/m);

      const standbyNames = await node1.sql<{ v: string }>('SELECT current_setting(\'synchronous_standby_names\') AS v');
      assert.match(standbyNames[0]?.v ?? '', /pgautofailover_standby_2/);

      await node1.sql('CREATE TABLE seed_check (id int PRIMARY KEY, note text)');
      await node1.sql('INSERT INTO seed_check SELECT g, \'row \' || g FROM generate_series(1, 100) g');
      const rows = await waitFor('the table to reach the standby', async () => {
        const r = await node2.sql<{ n: string }>('SELECT count(*)::text AS n FROM seed_check').catch(() => undefined);
        return r?.[0]?.n === '100' ? r : undefined;
      }, { timeoutMs: 30_000 });
      assert.equal(rows[0]?.n, '100');
      const inRecovery = await node2.sql<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      assert.equal(inRecovery[0]?.r, true);
      await assert.rejects(node2.sql('INSERT INTO seed_check VALUES (1000, \'no\')'), /read-only/);

      const slots = await node1.sql<{ slot_name: string; active: boolean }>('SELECT slot_name, active FROM pg_replication_slots');
      assert.deepEqual(slots.map((s) => [s.slot_name, s.active]), [['pgautofailover_standby_2', true]]);
    });
  });
});
