/**
 * `pg_autoctl enable ssl` / `disable ssl` on a running cluster (spec 04
 * §6.3): a monitor, a primary and a standby all created without SSL get
 * self-signed certificates; afterwards the standby's replication
 * connection and the keepers' monitor connections use SSL, replication and
 * state reports keep working; `disable ssl` takes it back. Inconsistent
 * options fail with one line and change nothing.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathsFor } from '../../src/config/index.js';
import { runCleanups, waitFor } from '../helpers/fixture.js';
import {
  dumpOnFailure, startMonitor, startNode, waitForStates, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';

after(runCleanups);

const NO_SSL = ['--auth', 'trust', '--no-ssl'];

function configText(node: { dirs: { pgdata: string; env: NodeJS.ProcessEnv } }): string {
  return readFileSync(pathsFor(node.dirs.pgdata, node.dirs.env, '/').config, 'utf8');
}

function settingsText(pgdata: string): string {
  return readFileSync(join(pgdata, 'postgresql-auto-failover.conf'), 'utf8');
}

/** SSL of the standby's WAL sender connection on the primary. */
async function replicationSsl(primary: RunningNode): Promise<boolean | undefined> {
  const rows = await primary.sql<{ ssl: boolean }>(
    `SELECT s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)
      WHERE r.application_name LIKE 'pgautofailover_standby_%' AND r.state = 'streaming'`);
  return rows[0]?.ssl;
}

/** SSL of every keeper connection on the monitor (node_active and LISTEN). */
async function keeperConnectionsSsl(m: RunningMonitor): Promise<boolean[]> {
  const rows = await m.sql<{ ssl: boolean }>(
    `SELECT s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = 'pg_autoctl keeper'`);
  return rows.map((r) => r.ssl);
}

/** Both nodes reported within the last few seconds, and a new row reaches the standby. */
async function checkClusterWorks(m: RunningMonitor, node1: RunningNode, node2: RunningNode, id: number): Promise<void> {
  await node1.sql('INSERT INTO t VALUES ($1)', [id]);
  await waitFor(`row ${id} on the standby`, async () =>
    (await node2.sql<{ n: string }>('SELECT count(*)::text AS n FROM t WHERE id = $1', [id]))[0]?.n === '1', { timeoutMs: 30_000 });
  await waitFor('fresh reports of both nodes', async () => {
    const rows = await m.sql<{ fresh: boolean }>(
      `SELECT now() - reporttime < interval '4 seconds' AS fresh FROM pgautofailover.node WHERE nodename IN ('node1', 'node2')`);
    return rows.length === 2 && rows.every((r) => r.fresh);
  }, { timeoutMs: 20_000 });
  await waitForStates(m, { node1: 'primary', node2: 'secondary' }, { timeoutMs: 30_000 });
}

describe('enable ssl and disable ssl on a running cluster', { timeout: 300_000 }, () => {
  it('moves monitor, primary and standby to self-signed SSL and back', async () => {
    const m = await startMonitor({ name: 'monitor-ssl' });
    const nodes: RunningNode[] = [];
    await dumpOnFailure(m, () => nodes, async () => {
      const node1 = await startNode(m, 'node1', { extraArgs: NO_SSL });
      nodes.push(node1);
      await waitForStates(m, { node1: 'single' }, { nodes });
      const node2 = await startNode(m, 'node2', { extraArgs: NO_SSL });
      nodes.push(node2);
      await waitForStates(m, { node1: 'primary', node2: 'secondary' }, { nodes, timeoutMs: 90_000 });
      await node1.sql('CREATE TABLE t (id int PRIMARY KEY)');
      assert.equal(await replicationSsl(node1), false);

      // Bad input: one line, exit 1, nothing changed.
      const before = configText(node1);
      const bads: Array<[string[], RegExp]> = [
        [['--ssl-self-signed', '--server-cert', '/nonexistent.crt'], /Using either --no-ssl or --ssl-self-signed with user-provided SSL certificates is not supported/],
        [['--ssl-self-signed', '--ssl-mode', 'verify-full'], /--ssl-mode "verify-full" is not compatible with self-signed certificates/],
        [['--server-cert', '/nonexistent.crt'], /options --server-cert and --server-key are required/],
        [['--ssl-mode', 'sometimes', '--ssl-self-signed'], /Failed to parse ssl mode "sometimes"/],
      ];
      for (const [args, message] of bads) {
        const r = await node1.cli(['enable', 'ssl', '--pgdata', node1.dirs.pgdata, ...args]);
        assert.equal(r.exitCode, 1, `enable ssl ${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      }
      assert.equal(configText(node1), before);

      // Before the monitor has SSL, the new monitor URI does not work: the old one is kept, the rest applies.
      const early = await node1.cli(['enable', 'ssl', '--pgdata', node1.dirs.pgdata, '--ssl-self-signed']);
      assert.equal(early.exitCode, 0, early.stderr);
      assert.match(early.stderr, /The connection string to the monitor could not be updated/);
      assert.match(configText(node1), /^monitor = postgres:\/\/.*sslmode=prefer$/m);
      assert.match(configText(node1), /^active = 1$/m);

      // The monitor first, so that the keepers can move their monitor URI to sslmode=require.
      const em = await m.cli(['enable', 'ssl', '--pgdata', m.dirs.pgdata, '--ssl-self-signed']);
      assert.equal(em.exitCode, 0, em.stderr);
      assert.match(em.stderr, /SSL is now active/);
      await waitFor('ssl on the monitor', async () => (await m.sql<{ ssl: string }>('SHOW ssl'))[0]?.ssl === 'on', { timeoutMs: 20_000 });
      assert.match(configText(m), /^sslmode = require$/m);

      for (const node of [node1, node2]) {
        const r = await node.cli(['enable', 'ssl', '--pgdata', node.dirs.pgdata, '--ssl-self-signed']);
        assert.equal(r.exitCode, 0, r.stderr);
        assert.match(r.stderr, /Updating the monitor URI to ".*sslmode=require/);
        assert.match(r.stderr, /signaled to reload/);
        const cfg = configText(node);
        assert.match(cfg, /^monitor = postgres:\/\/.*sslmode=require/m);
        assert.match(cfg, /^active = 1$/m);
        assert.match(cfg, new RegExp(`^cert_file = ${node.dirs.pgdata}/server.crt$`, 'm'));
        await waitFor(`ssl on ${node.name}`, async () => (await node.sql<{ ssl: string }>('SHOW ssl'))[0]?.ssl === 'on', { timeoutMs: 20_000 });
      }
      assert.match(settingsText(node1.dirs.pgdata), /^ssl = on$/m);
      await waitFor('the standby streaming over SSL', async () => (await replicationSsl(node1)) === true, { timeoutMs: 30_000 });
      await waitFor('keeper connections to the monitor over SSL', async () => {
        const ssl = await keeperConnectionsSsl(m);
        return ssl.length >= 2 && ssl.every((s) => s);
      }, { timeoutMs: 30_000 });
      await checkClusterWorks(m, node1, node2, 1);

      // Back: the standby first (its primary_conninfo), then the primary, then the monitor.
      for (const node of [node2, node1]) {
        const r = await node.cli(['disable', 'ssl', '--pgdata', node.dirs.pgdata]);
        assert.equal(r.exitCode, 0, r.stderr);
        assert.match(r.stderr, /SSL is now disabled/);
        assert.match(configText(node), /^monitor = postgres:\/\/.*sslmode=prefer/m);
        await waitFor(`ssl off on ${node.name}`, async () => (await node.sql<{ ssl: string }>('SHOW ssl'))[0]?.ssl === 'off', { timeoutMs: 20_000 });
      }
      const dm = await m.cli(['disable', 'ssl', '--pgdata', m.dirs.pgdata]);
      assert.equal(dm.exitCode, 0, dm.stderr);
      await waitFor('ssl off on the monitor', async () => (await m.sql<{ ssl: string }>('SHOW ssl'))[0]?.ssl === 'off', { timeoutMs: 20_000 });
      // Connections made before keep their SSL session: new ones are plain.
      await node1.sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_replication`);
      await m.sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pg_autoctl keeper'`);
      await waitFor('the standby streaming without SSL', async () => (await replicationSsl(node1)) === false, { timeoutMs: 30_000 });
      await waitFor('keeper connections to the monitor without SSL', async () => {
        const ssl = await keeperConnectionsSsl(m);
        return ssl.length >= 2 && ssl.every((s) => !s);
      }, { timeoutMs: 30_000 });
      await checkClusterWorks(m, node1, node2, 2);
    });
  });
});
