/**
 * Issue 8, finding #6: nothing tied a keeper to its own node. Each attack
 * is made as described, with the keeper credentials every node shares
 * (role autoctl_node), against a node registered by pg_autoctl (which
 * holds a node token), and shown to fail and to change nothing:
 *   - node_active for another node (a lease renewal, a false "fenced"
 *     report), with no token or with another node's token;
 *   - update_node_metadata of another node's host and port; port 70000
 *     even with the node's own token;
 *   - failsafe_peers (the group's secret), set_node_http_port,
 *     record_failsafe_event, set_node_system_identifier;
 *   - claiming the token of a node registered in another transaction.
 * The keepers themselves, with their tokens, keep working (a switchover
 * completes), and a 2.0-style node registered in SQL without a token still
 * works, unless pgautofailover.require_node_token is on.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freePort, onCleanup, runCleanups, waitFor } from '../helpers/fixture.js';
import {
  dumpOnFailure, startMonitor, startNode, waitForStates, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';

after(runCleanups);

/** A session of the keepers' shared role, presenting `token` when given. */
async function asNode(monitor: RunningMonitor, token?: string): Promise<pg.Client> {
  const client = new pg.Client({ host: '127.0.0.1', port: monitor.port, user: 'autoctl_node', database: 'pg_auto_failover' });
  client.on('error', () => undefined);
  await client.connect();
  onCleanup('close an autoctl_node session', async () => { await client.end().catch(() => undefined); });
  if (token !== undefined) await client.query("SELECT set_config('pgautofailover.node_token', $1, false)", [token]);
  return client;
}

function tokenFileOf(node: RunningNode): string {
  const data = node.dirs.env.XDG_DATA_HOME;
  assert.ok(data !== undefined);
  return join(data, 'pg_autoctl', node.dirs.pgdata, 'pg_autoctl.token');
}

function tokenOf(node: RunningNode): string {
  return readFileSync(tokenFileOf(node), 'utf8').trim();
}

/** Asserts that `query` fails with `code` and a message matching `message`. */
async function refused(query: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(query, (error: unknown) => {
    assert.ok(error instanceof pg.DatabaseError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    return true;
  });
}

interface Row {
  nodehost: string;
  nodeport: number;
  nodename: string;
  reportedstate: string;
  reportedpgisrunning: boolean;
  reporttime: string;
  leasegranttime: string | null;
  httpport: number | null;
  sysidentifier: string | null;
  events: string;
}

async function rowOf(monitor: RunningMonitor, nodeId: string): Promise<Row> {
  const rows = await monitor.sql<Row>(
    `SELECT nodehost, nodeport, nodename, reportedstate::text, reportedpgisrunning, reporttime::text, leasegranttime::text,
            httpport, sysidentifier::text,
            (SELECT count(*)::text FROM pgautofailover.event e WHERE e.nodeid = n.nodeid) AS events
       FROM pgautofailover.node n WHERE nodeid = $1`, [nodeId]);
  assert.ok(rows[0] !== undefined, `node ${nodeId}`);
  return rows[0];
}

describe('security: a keeper is bound to its own node (issue 8, #6)', { timeout: 600_000 }, () => {
  let monitor: RunningMonitor;
  const nodes: RunningNode[] = [];
  let node1: RunningNode;
  let node2: RunningNode;
  let id1 = '';
  let id2 = '';

  before(async () => {
    monitor = await startMonitor({ name: 'monitor-binding' });
    // Long enough for the keeper of node1 to be paused for a few seconds
    // without losing its lease (the test shows its row does not move).
    await monitor.sql("UPDATE pgautofailover.settings SET setting = '10000' WHERE name = 'pgautofailover.primary_lease_timeout'");
    await dumpOnFailure(monitor, () => nodes, async () => {
      node1 = await startNode(monitor, 'node1');
      nodes.push(node1);
      await waitForStates(monitor, { node1: 'single' }, { nodes });
      node2 = await startNode(monitor, 'node2');
      nodes.push(node2);
      await waitForStates(monitor, { node1: 'primary', node2: 'secondary' }, { nodes, timeoutMs: 90_000 });
      const ids = await monitor.sql<{ nodename: string; nodeid: string }>('SELECT nodename, nodeid::text FROM pgautofailover.node');
      id1 = ids.find((r) => r.nodename === 'node1')?.nodeid ?? '';
      id2 = ids.find((r) => r.nodename === 'node2')?.nodeid ?? '';
    });
  });

  it('keeps the token in a 0600 file beside the state file; the monitor keeps only its hash, which autoctl_node cannot read', async () => {
    for (const node of [node1, node2]) {
      const file = tokenFileOf(node);
      assert.ok(existsSync(file), file);
      assert.equal(statSync(file).mode & 0o777, 0o600, file);
      assert.match(tokenOf(node), /^[0-9a-f]{64}$/);
      assert.ok(!node.output().includes(tokenOf(node)), `${node.name} logged its token`);
    }
    assert.notEqual(tokenOf(node1), tokenOf(node2));
    const hashes = await monitor.sql<{ nodeid: string; hash: string }>(
      "SELECT nodeid::text, encode(tokenhash, 'hex') AS hash FROM pgautofailover.node_token ORDER BY nodeid");
    assert.deepEqual(hashes, [
      { nodeid: id1, hash: createHash('sha256').update(tokenOf(node1)).digest('hex') },
      { nodeid: id2, hash: createHash('sha256').update(tokenOf(node2)).digest('hex') },
    ]);
    const attacker = await asNode(monitor);
    await refused(attacker.query('SELECT * FROM pgautofailover.node_token'), '42501', /permission denied/);
  });

  it('refuses node_active for node 1 without its token (a lease renewal, a false "fenced" report): the row does not move', async () => {
    await dumpOnFailure(monitor, () => nodes, async () => {
      const attacker = await asNode(monitor);
      const withOtherToken = await asNode(monitor, tokenOf(node2));
      const withBadToken = await asNode(monitor, 'ab'.repeat(32));
      // Pause node1's keeper so that only the attacker could move its row.
      node1.proc.kill('SIGSTOP');
      try {
        await new Promise((r) => setTimeout(r, 1200));
        const before = await rowOf(monitor, id1);
        assert.equal(before.reportedstate, 'primary');
        assert.ok(before.leasegranttime !== null);
        const renew = "SELECT * FROM pgautofailover.node_active('default', $1::bigint, 0, 'primary', true, 0, '0/0', 'sync')";
        const fenced = "SELECT * FROM pgautofailover.node_active('default', $1::bigint, 0, 'demote_timeout', false, 0, '0/0', '')";
        for (const sql of [renew, fenced]) {
          await refused(attacker.query(sql, [id1]), '42501', /^node \d+ "node1" \(127\.0\.0\.1:\d+\) is bound to its keeper's token, and this session did not present one$/);
          await refused(withOtherToken.query(sql, [id1]), '42501', /"node1" .* presented another token/);
          await refused(withBadToken.query(sql, [id1]), '42501', /presented another token/);
        }
        assert.deepEqual(await rowOf(monitor, id1), before, 'node_active without the token changed the row of node 1');
      } finally {
        node1.proc.kill('SIGCONT');
      }
    });
  });

  it('refuses update_node_metadata of another node without its token, and port 70000 even with it', async () => {
    const before = await rowOf(monitor, id2);
    const attacker = await asNode(monitor);
    const withOtherToken = await asNode(monitor, tokenOf(node1));
    const own = await asNode(monitor, tokenOf(node2));
    const move = 'SELECT pgautofailover.update_node_metadata($1::bigint, NULL, $2, $3)';
    await refused(attacker.query(move, [id2, '10.0.0.66', 5999]), '42501', /"node2" .* did not present one/);
    await refused(withOtherToken.query(move, [id2, '10.0.0.66', 5999]), '42501', /"node2" .* presented another token/);
    await refused(attacker.query(move, [id2, null, 70000]), '22023', /invalid node port 70000/);
    await refused(own.query(move, [id2, null, 70000]), '22023', /invalid node port 70000/);
    await refused(own.query(move, [id2, null, 0]), '22023', /invalid node port 0/);
    // The node's own token is accepted (all NULL: nothing changes).
    const ok = await own.query<{ ok: boolean }>('SELECT pgautofailover.update_node_metadata($1::bigint, NULL, NULL, NULL) AS ok', [id2]);
    assert.equal(ok.rows[0]?.ok, true);
    const afterRow = await rowOf(monitor, id2);
    assert.equal(afterRow.nodehost, before.nodehost);
    assert.equal(afterRow.nodeport, before.nodeport);
  });

  it('refuses failsafe_peers (the group secret), set_node_http_port, record_failsafe_event and set_node_system_identifier without the token', async () => {
    const before = await rowOf(monitor, id2);
    const attacker = await asNode(monitor);
    const withOtherToken = await asNode(monitor, tokenOf(node2));
    for (const id of [id1, id2]) {
      await refused(attacker.query('SELECT * FROM pgautofailover.failsafe_peers($1::bigint)', [id]), '42501', /did not present one/);
    }
    await refused(withOtherToken.query('SELECT * FROM pgautofailover.failsafe_peers($1::bigint)', [id1]), '42501', /presented another token/);
    await refused(attacker.query('SELECT pgautofailover.set_node_http_port($1::bigint, 1)', [id2]), '42501', /"node2" .* did not present one/);
    await refused(attacker.query('SELECT pgautofailover.set_node_http_port($1::bigint, NULL)', [id2]), '42501', /did not present one/);
    await refused(attacker.query("SELECT pgautofailover.record_failsafe_event($1::bigint, 'kept its lease for 1 h')", [id2]), '42501', /did not present one/);
    await refused(attacker.query('SELECT * FROM pgautofailover.set_node_system_identifier($1::bigint, 42)', [id2]), '42501', /did not present one/);
    const afterRow = await rowOf(monitor, id2);
    assert.equal(afterRow.httpport, before.httpport);
    assert.equal(afterRow.sysidentifier, before.sysidentifier);
    assert.ok(Number(afterRow.events) >= Number(before.events));
    const forged = await monitor.sql("SELECT 1 FROM pgautofailover.event WHERE description LIKE '%kept its lease for 1 h%'");
    assert.equal(forged.length, 0);
    // With its own token, the keeper's view works.
    const own = await asNode(monitor, tokenOf(node1));
    const peers = await own.query<{ node_id: string; group_secret: string }>('SELECT node_id::text, group_secret FROM pgautofailover.failsafe_peers($1::bigint)', [id1]);
    assert.deepEqual(peers.rows.map((r) => r.node_id), [id2]);
    assert.match(peers.rows[0]?.group_secret ?? '', /^[0-9a-f]{64}$/);
  });

  it('issues a token only once, and only in the transaction that registered the node', async () => {
    const attacker = await asNode(monitor);
    await refused(attacker.query('SELECT pgautofailover.issue_node_token($1::bigint)', [id1]), '42501', /issued once, in the transaction that registered the node/);
    await attacker.query("SELECT pgautofailover.create_formation('claims', 'pgsql', 'postgres', false, 0)");
    const port = await freePort();
    const registered = await attacker.query<{ id: string }>(
      "SELECT assigned_node_id::text AS id FROM pgautofailover.register_node('claims', '127.0.0.1', $1, 'postgres')", [port]);
    const id = registered.rows[0]?.id ?? '';
    // Another session (or a later transaction) cannot claim that tokenless node.
    await refused(attacker.query('SELECT pgautofailover.issue_node_token($1::bigint)', [id]), '42501', /issued once/);
    // Its own registration transaction can, once.
    await attacker.query("SELECT pgautofailover.create_formation('claims2', 'pgsql', 'postgres', false, 0)");
    await attacker.query('BEGIN');
    const port2 = await freePort();
    const second = await attacker.query<{ id: string }>(
      "SELECT assigned_node_id::text AS id FROM pgautofailover.register_node('claims2', '127.0.0.2', $1, 'postgres')", [port2]);
    const token = await attacker.query<{ t: string }>('SELECT pgautofailover.issue_node_token($1::bigint) AS t', [second.rows[0]?.id]);
    assert.match(token.rows[0]?.t ?? '', /^[0-9a-f]{64}$/);
    await refused(attacker.query('SELECT pgautofailover.issue_node_token($1::bigint)', [second.rows[0]?.id]), '42501', /issued once/);
    await attacker.query('ROLLBACK');
  });

  it('keeps a 2.0-style node registered in SQL without a token working, unless require_node_token is on', async () => {
    const legacy = await asNode(monitor);
    await legacy.query("SELECT pgautofailover.create_formation('legacy', 'pgsql', 'postgres', false, 0)");
    const port = await freePort();
    const registered = await legacy.query<{ id: string }>(
      "SELECT assigned_node_id::text AS id FROM pgautofailover.register_node('legacy', '127.0.0.1', $1, 'postgres')", [port]);
    const id = registered.rows[0]?.id ?? '';
    const report = "SELECT assigned_group_state::text AS goal FROM pgautofailover.node_active('legacy', $1::bigint, 0, $2, true, 1, '0/0', '')";
    await waitFor('a first goal for the 2.0-style node', async () => {
      const r = await legacy.query<{ goal: string }>(report, [id, 'init']);
      return r.rows[0]?.goal === 'single' ? true : undefined;
    }, { timeoutMs: 30_000, intervalMs: 100 });
    await legacy.query('SELECT * FROM pgautofailover.set_node_system_identifier($1::bigint, 7000000000000000001)', [id]);
    await legacy.query(report, [id, 'single']);
    await legacy.query('SELECT pgautofailover.update_node_metadata($1::bigint, $2, NULL, $3)', [id, 'legacy1', port]);
    await legacy.query('SELECT pgautofailover.set_node_http_port($1::bigint, 8008)', [id]);
    await legacy.query('SELECT * FROM pgautofailover.failsafe_peers($1::bigint)', [id]);
    await legacy.query("SELECT pgautofailover.record_failsafe_event($1::bigint, 'nothing happened')", [id]);
    await refused(legacy.query('SELECT pgautofailover.update_node_metadata($1::bigint, NULL, NULL, 70000)', [id]), '22023', /invalid node port 70000/);

    await monitor.sql("UPDATE pgautofailover.settings SET setting = 'on' WHERE name = 'pgautofailover.require_node_token'");
    try {
      await refused(legacy.query(report, [id, 'single']), '42501', /"legacy1" .* has no node token, and pgautofailover.require_node_token is on/);
      await refused(legacy.query('SELECT pgautofailover.set_node_http_port($1::bigint, 8009)', [id]), '42501', /has no node token/);
      // The keepers registered by pg_autoctl are not affected.
      const own = await asNode(monitor, tokenOf(node2));
      await own.query('SELECT pgautofailover.update_node_metadata($1::bigint, NULL, NULL, NULL)', [id2]);
    } finally {
      await monitor.sql("UPDATE pgautofailover.settings SET setting = 'off' WHERE name = 'pgautofailover.require_node_token'");
    }
    await legacy.query(report, [id, 'single']);
  });

  it('the keepers, with their tokens, keep the cluster converging: a switchover completes', async () => {
    await dumpOnFailure(monitor, () => nodes, async () => {
      await waitForStates(monitor, { node1: 'primary', node2: 'secondary' }, { nodes, timeoutMs: 60_000 });
      await monitor.sql("SELECT pgautofailover.perform_failover('default', 0)");
      await waitForStates(monitor, { node1: 'secondary', node2: 'primary' }, { nodes, timeoutMs: 120_000 });
      for (const node of nodes) {
        assert.doesNotMatch(node.output(), /is bound to its keeper's token/, `${node.name} was refused by the monitor`);
        assert.ok(!node.output().includes(tokenOf(node)), `${node.name} logged its token`);
      }
    });
  });
});
