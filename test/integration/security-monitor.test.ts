/**
 * Issue 8, the monitor's findings, each attack made as described with the
 * credentials of a keeper (autoctl_node) and shown to fail within a bound:
 *   #2  squatting locks (old advisory keys, the leader, a formation's and a
 *       group's row locks) and flooding pgautofailover_decide do not delay
 *       another formation's new node, nor the start of the service;
 *   #3  forged `{"why":"report","goal":"primary"}` notifications do not
 *       keep a dead primary's lease alive;
 *   #4  a node id above 2^53 is refused, and a legacy one freezes nothing
 *       but its own group;
 *   #11 injected `log` notifications are printed escaped, bounded and
 *       rate-limited.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freePort, onCleanup, runCleanups, startBackground, waitFor } from '../helpers/fixture.js';
import {
  dumpOnFailure, killPostmaster, startMonitor, startPrimaryAndStandby, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';
import { pgAutoctlArgv } from '../helpers/tool.js';

after(runCleanups);

/** Bound on the time a new node may wait for its first goal while attacks go on (the baseline is well under 1 s). */
const FIRST_GOAL_BOUND_MS = 5000;

async function asNode(monitor: RunningMonitor): Promise<pg.Client> {
  const client = new pg.Client({ host: '127.0.0.1', port: monitor.port, user: 'autoctl_node', database: 'pg_auto_failover' });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Registers a node that nothing runs (SQL only) and returns its id and the ms until the monitor assigned its first goal. */
async function registerAndTimeFirstGoal(monitor: RunningMonitor, formation: string, timeoutMs = 60_000): Promise<{ nodeId: string; ms: number }> {
  const client = await asNode(monitor);
  try {
    const port = await freePort();
    const started = performance.now();
    const { rows } = await client.query<{ id: string }>(
      'SELECT assigned_node_id::text AS id FROM pgautofailover.register_node($1, $2, $3, $4)', [formation, '127.0.0.1', port, 'postgres']);
    const nodeId = rows[0]?.id ?? '';
    // As a keeper does: report init until node_active returns another goal.
    await waitFor(`a first goal for node ${nodeId}`, async () => {
      const r = await client.query<{ goal: string }>(
        "SELECT assigned_group_state::text AS goal FROM pgautofailover.node_active($1, $2::bigint, 0, 'init', true, 1, '0/0', '')", [formation, nodeId]);
      return r.rows[0]?.goal !== 'init';
    }, { timeoutMs, intervalMs: 50 });
    const ms = performance.now() - started;
    process.stdout.write(`first goal of node ${nodeId} in formation ${formation}: ${ms.toFixed(0)} ms\n`);
    return { nodeId, ms };
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe('security: the monitor against a keeper\'s credentials', { timeout: 600_000 }, () => {
  let monitor: RunningMonitor;
  const holders: pg.Client[] = [];

  before(async () => {
    monitor = await startMonitor({ name: 'sec-monitor' });
    for (const f of ['f13', 'fx', 'big']) {
      await monitor.sql("SELECT * FROM pgautofailover.create_formation($1, 'pgsql', 'postgres', true, 0)", [f]);
    }
  });
  after(async () => {
    for (const c of holders) await c.end().catch(() => undefined);
  });

  it('#2: locks held by autoctl_node on another formation do not delay a new node\'s first goal', async () => {
    await dumpOnFailure(monitor, () => [], async () => {
      const victim = await registerAndTimeFirstGoal(monitor, 'f13');
      const attacker = await asNode(monitor);
      holders.push(attacker);
      onCleanup('release the attacker\'s locks', async () => { await attacker.end().catch(() => undefined); });
      // The old keys, still PUBLIC functions: harmless now.
      await attacker.query("SELECT pg_advisory_lock(hashtextextended('pgautofailover formation f13', 0))");
      await attacker.query("SELECT pg_advisory_lock(hashtextextended('pgautofailover group 0 f13', 0))");
      await attacker.query("SELECT pg_advisory_lock(hashtextextended('pgautofailover formation default', 0))");
      await attacker.query('SELECT pg_advisory_lock($1)', [0x70676166]);
      // Row locks through the API, held in an open transaction: the
      // formation (EXCLUSIVE), the group, and the node row.
      await attacker.query('BEGIN');
      await attacker.query("SELECT pgautofailover.enable_secondary('f13')");
      await attacker.query('SELECT pgautofailover.update_node_metadata($1::bigint, NULL, NULL, NULL)', [victim.nodeId]);
      await attacker.query("SELECT * FROM pgautofailover.node_active('f13', $1::bigint, 0, 'init', true, 1, '0/0', '')", [victim.nodeId]);
      // Nor can it take our locks directly.
      for (const sql of ['SELECT 1 FROM pgautofailover.formation FOR KEY SHARE', 'SELECT 1 FROM pgautofailover.group_state FOR UPDATE',
        'SELECT 1 FROM pgautofailover.monitor_leader FOR UPDATE', 'SELECT pgautofailover.claim_monitor_leadership()']) {
        const probe = await asNode(monitor);
        await assert.rejects(probe.query(sql), /permission denied/, sql);
        await probe.end();
      }
      const other = await registerAndTimeFirstGoal(monitor, 'default');
      assert.ok(other.ms < FIRST_GOAL_BOUND_MS, `first goal took ${other.ms.toFixed(0)} ms with f13 locked`);
      const second = await registerAndTimeFirstGoal(monitor, 'fx');
      assert.ok(second.ms < FIRST_GOAL_BOUND_MS, `first goal took ${second.ms.toFixed(0)} ms with f13 locked`);
      await attacker.query('ROLLBACK');
      await attacker.query('SELECT pg_advisory_unlock_all()');
    });
  });

  it('#2: 300,000 pg_notify(pgautofailover_decide) from autoctl_node do not delay a new node\'s first goal', async () => {
    await dumpOnFailure(monitor, () => [], async () => {
      const attacker = await asNode(monitor);
      holders.push(attacker);
      await attacker.query(`SELECT pg_notify('pgautofailover_decide',
        format('{"formation": "x%s", "groupId": %s, "nodeId": %s, "why": "report", "goal": "primary"}', g, g % 1000, g))
        FROM generate_series(1, 300000) g`);
      await attacker.query(`SELECT pg_notify('pgautofailover_decide', '{"formation": "default", "groupId": 0, "why": "report"}')
        FROM generate_series(1, 100000) g`);
      const { ms } = await registerAndTimeFirstGoal(monitor, 'fx');
      assert.ok(ms < FIRST_GOAL_BOUND_MS + 5000, `first goal took ${ms.toFixed(0)} ms after the flood`);
    });
  });

  it('#4: desired_node_id beyond int4 is refused; a legacy id beyond 2^53 freezes only its own group', async () => {
    await dumpOnFailure(monitor, () => [], async () => {
      const client = await asNode(monitor);
      holders.push(client);
      for (const id of ['9007199254740993', '2147483648']) {
        await assert.rejects(
          client.query("SELECT * FROM pgautofailover.register_node('big', '127.0.0.1', 5999, 'postgres', desired_node_id => $1::bigint)", [id]),
          /invalid value for desired_node_id/);
      }
      // A row written before the bound existed (by a superuser here).
      await monitor.sql(`INSERT INTO pgautofailover.node (formationid, nodeid, groupid, nodename, nodehost, nodeport, reportedstate, goalstate)
                         VALUES ('big', 9007199254740993, 0, 'huge', '127.0.0.1', 5998, 'init', 'init')`);
      const before = monitor.proc.output().length;
      const { ms } = await registerAndTimeFirstGoal(monitor, 'default');
      assert.ok(ms < FIRST_GOAL_BOUND_MS, `first goal took ${ms.toFixed(0)} ms`);
      await new Promise((r) => setTimeout(r, 3000));
      const output = monitor.proc.output().slice(before);
      assert.doesNotMatch(output, /couldn't find node with nodeid 9007199254740992/);
      // Health-check lines name the node too (1 s checks at the defaults): count the errors only.
      const errors = output.split('\n').filter((l) => l.includes('9007199254740993') && /\b(ERROR|FATAL)\b/.test(l));
      assert.ok(errors.length >= 1 && errors.length <= 2, `expected one clear error, got:\n${errors.join('\n')}`);
      // The health check keeps the exact id too.
      await waitFor('the health check of the huge node', async () => {
        const r = await monitor.sql<{ health: number }>('SELECT health FROM pgautofailover.node WHERE nodeid = 9007199254740993');
        return r[0]?.health === 0;
      }, { timeoutMs: 30_000 });
      await monitor.sql('DELETE FROM pgautofailover.node WHERE nodeid = 9007199254740993');
    });
  });

  it('#11: injected log notifications are escaped, bounded and rate-limited', async () => {
    await dumpOnFailure(monitor, () => [], async () => {
      const client = await asNode(monitor);
      holders.push(client);
      const before = monitor.proc.output().length;
      await client.query("SELECT pg_notify('log', E'innocent\\n12:00:00 1 ERROR forged line\\r\\u001b[31mred')");
      await client.query("SELECT pg_notify('log', 'long ' || repeat('x', 7000))");
      await waitFor('the injected line', () => monitor.proc.output().slice(before).includes('innocent'), { timeoutMs: 10_000 });
      await client.query("SELECT pg_notify('log', 'flood ' || g) FROM generate_series(1, 5000) g");
      await waitFor('the flood to be handled', () => /were not printed/.test(monitor.proc.output().slice(before)), { timeoutMs: 10_000 });
      await new Promise((r) => setTimeout(r, 1000));
      const output = monitor.proc.output().slice(before);
      const lines = output.split('\n');
      assert.ok(lines.some((l) => l.includes('innocent\\n12:00:00 1 ERROR forged line\\r\\u001b[31mred')), output.slice(0, 2000));
      assert.ok(!lines.some((l) => l.startsWith('12:00:00 1 ERROR forged')), 'a forged line was printed');
      assert.ok(!output.includes('\u001b[31mred'), 'an escape sequence was printed');
      const long = lines.find((l) => l.includes('long xxx')) ?? '';
      assert.ok(long.length < 2200, `a ${long.length}-character line was printed`);
      const flood = lines.filter((l) => l.includes(' flood ')).length;
      assert.ok(flood <= 400, `${flood} flood lines were printed`);
    });
  });

  it('#2: the leader cannot be squatted by autoctl_node before the service starts', async () => {
    await dumpOnFailure(monitor, () => [], async () => {
      onCleanup('stop the monitor\'s postgres', async () => { await killPostmaster(monitor.dirs.pgdata).catch(() => undefined); });
      monitor.proc.kill('SIGKILL');
      await monitor.proc.wait(10_000);
      const attacker = await asNode(monitor);
      holders.push(attacker);
      await attacker.query('SELECT pg_try_advisory_lock($1)', [0x70676166]);
      await assert.rejects(attacker.query('SELECT pgautofailover.claim_monitor_leadership()'), /permission denied/);
      await assert.rejects(attacker.query("UPDATE pgautofailover.monitor_leader SET pid = pg_backend_pid()"), /permission denied/);
      await attacker.query('BEGIN');
      await attacker.query('LOCK TABLE pgautofailover.monitor_leader IN ACCESS SHARE MODE');
      const env = { ...monitor.dirs.env, PGDATA: monitor.dirs.pgdata };
      const rerun = startBackground('monitor rerun', pgAutoctlArgv(['run']), { env });
      try {
        await waitFor('the service to lead', () => {
          if (rerun.exited()) throw new Error(`run exited:\n${rerun.output()}`);
          return rerun.output().includes('Managing the monitor');
        }, { timeoutMs: 60_000 });
        assert.doesNotMatch(rerun.output(), /hot spare/);
      } finally {
        await attacker.query('ROLLBACK').catch(() => undefined);
        rerun.kill('SIGTERM');
        await rerun.wait(60_000).catch(() => undefined);
      }
    });
  });
});

describe('security: forged lease notifications', { timeout: 600_000 }, () => {
  let monitor: RunningMonitor | undefined;
  const nodes: RunningNode[] = [];

  it('#3: forged {"why":"report","goal":"primary"} notifications do not keep a dead primary\'s lease alive', async () => {
    monitor = await startMonitor({ name: 'sec-lease' });
    const m = monitor;
    await dumpOnFailure(m, () => nodes, async () => {
      const [node1, node2] = await startPrimaryAndStandby(m, nodes, { timeoutMs: 120_000 });
      const primaryId = (await node1.row())?.nodeid ?? '';

      const forger = await asNode(m);
      let forging = true;
      const forge = (async (): Promise<void> => {
        while (forging) {
          await forger.query('SELECT pg_notify($1, $2)', ['pgautofailover_decide',
            JSON.stringify({ formation: 'default', groupId: 0, nodeId: Number(primaryId), why: 'report', goal: 'primary' })]).catch(() => undefined);
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
      try {
        const killedAt = performance.now();
        await node1.kill({ postgres: true });
        await new Promise((r) => setTimeout(r, 1000));
        await waitFor('node2 to accept writes', async () => {
          const r = await node2.sql<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
          return r[0]?.r === false;
        }, { timeoutMs: 60_000, intervalMs: 200 });
        const ms = performance.now() - killedAt;
        process.stdout.write(`failover with forged lease notifications: ${(ms / 1000).toFixed(1)} s\n`);
        // lease 3 s and unhealthy timeout 3 s in the test settings; the issue saw 91 s.
        assert.ok(ms < 45_000, `failover took ${ms.toFixed(0)} ms`);
      } finally {
        forging = false;
        await forge;
        await forger.end().catch(() => undefined);
      }
    });
  });
});
