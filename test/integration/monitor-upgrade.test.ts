/**
 * Upgrading a monitor in place (docs/monitor-schema.md): a monitor database
 * built with the first released schema (the fixture
 * test/fixtures/monitor-schema-2.0.0, the migration files as they were
 * released) is upgraded by `pg_autoctl run` of this version: the new
 * table migrations run, the API is installed again, and the nodes, events
 * and settings it held are kept; the upgraded monitor goes on deciding.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { applyMigrations, listMigrations } from '../../src/monitor/schema.js';
import { runCleanups, waitFor } from '../helpers/fixture.js';
import { clusterUserName, dumpOnFailure, startMonitor, startNode, waitForStates, type RunningNode } from '../helpers/cluster.js';

after(runCleanups);

const FIXTURE = fileURLToPath(new URL('../fixtures/monitor-schema-2.0.0/', import.meta.url));

async function withClient<T>(port: number, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: clusterUserName(), database });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe('monitor schema upgrade', { timeout: 300_000 }, () => {
  it('upgrades a monitor of the first released schema in place, keeping nodes, events and settings', async () => {
    const nodes: RunningNode[] = [];
    const m = await startMonitor({ name: 'monitor-upgrade' });
    await dumpOnFailure(m, () => nodes, async () => {
      // pg_autoctl goes away (Postgres keeps running); the database is rebuilt with the released schema.
      m.proc.kill('SIGKILL');
      await m.proc.wait(10_000);
      await withClient(m.port, 'postgres', async (c) => {
        await c.query('DROP DATABASE pg_auto_failover WITH (FORCE)');
        await c.query('CREATE DATABASE pg_auto_failover OWNER autoctl');
      });
      const released = await withClient(m.port, 'pg_auto_failover', async (c) => {
        const result = await applyMigrations(c, undefined, FIXTURE);
        await c.query("UPDATE pgautofailover.settings SET setting = '4321' WHERE name = 'pgautofailover.health_check_period'");
        await c.query(`SELECT * FROM pgautofailover.register_node('default', '127.0.0.9', 5999, 'postgres', 'old_node', 0, -1, -1,
                       'init', 'standalone', 50, true, 'default')`);
        const events = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pgautofailover.event');
        return { versions: result.applied, events: events.rows[0]?.n ?? 0 };
      });
      assert.deepEqual(released.versions, ['0001', '0002', '0003', '0004', '0005', '0006', '0007']);

      m.run();
      await waitFor('the upgraded monitor service', () => m.proc.output().includes('Managing the monitor'), { timeoutMs: 60_000 });
      assert.match(m.proc.output(), /Applied monitor schema migration 0008-private-migrations/);
      assert.match(m.proc.output(), /Installed the monitor API/);
      const after = await withClient(m.port, 'pg_auto_failover', async (c) => ({
        versions: (await c.query<{ version: string }>('SELECT version FROM pgautofailover.schema_migrations ORDER BY 1')).rows.map((r) => r.version),
        setting: (await c.query<{ setting: string }>("SELECT setting FROM pgautofailover.settings WHERE name = 'pgautofailover.health_check_period'")).rows[0]?.setting,
        lease: (await c.query<{ setting: string }>("SELECT setting FROM pgautofailover.settings WHERE name = 'pgautofailover.primary_lease_timeout'")).rows[0]?.setting,
        events: (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pgautofailover.event')).rows[0]?.n ?? 0,
        comment: (await c.query<{ c: string }>("SELECT obj_description('pgautofailover'::regnamespace, 'pg_namespace') AS c")).rows[0]?.c ?? '',
      }));
      assert.deepEqual(after.versions, listMigrations().map((mig) => mig.version));
      assert.equal(after.setting, '4321', 'settings are kept');
      // 0009 moves a setting still at its old default to the new one (docs/timings.md).
      assert.equal(after.lease, '3000', 'the lease at its old default 20000 becomes 3000');
      assert.ok(after.events >= released.events, 'events are kept');
      assert.match(after.comment, /^pg_autoctl api [0-9a-f]{64}$/);
      // The node registered before the upgrade is kept, with its id.
      const kept = await m.sql<{ nodeid: string }>("SELECT nodeid::text FROM pgautofailover.node WHERE nodename = 'old_node'");
      assert.deepEqual(kept, [{ nodeid: '1' }], 'nodes are kept');
      // 0008: the migrations' bookkeeping is private now.
      const refused = await withClient(m.port, 'pg_auto_failover', async (c) => {
        await c.query('SET ROLE autoctl_node');
        return c.query('SELECT * FROM pgautofailover.schema_migrations').then(() => false, () => true);
      });
      assert.ok(refused, 'autoctl_node cannot read schema_migrations');
      // A running `pg_autoctl run` does not reinstall an unchanged API.
      m.proc.kill('SIGTERM');
      await m.proc.wait(60_000);
      m.run();
      await waitFor('the monitor service again', () => m.proc.output().includes('Managing the monitor'), { timeoutMs: 60_000 });
      assert.doesNotMatch(m.proc.output(), /Installed the monitor API/);
      // And it serves keepers: a new node joins the formation.
      await m.sql("DELETE FROM pgautofailover.node WHERE nodename = 'old_node'");
      const node1 = await startNode(m, 'node1');
      nodes.push(node1);
      await waitForStates(m, { node1: 'single' }, { nodes });
    });
  });
});
