/**
 * Monitor high availability, phase 4 (docs/architecture.md "Monitor high
 * availability"): keepers as witnesses, and `pg_autoctl create monitor
 * --rebuild-from-nodes`. A primary and a standby run; each keeper keeps the
 * last decision it received beside its state file. The monitor is crashed
 * and its data directory dropped; an empty monitor is created with
 * --rebuild-from-nodes on the same host and port. The running keepers
 * register their nodes again, with their node ids, names and roles; there
 * is no failover (no promotion, the primary's timeline unchanged, its
 * writes never stopped: the failsafe kept it serving while no monitor
 * answered), and `show state` reads as before. Then a lost monitor write
 * is simulated (a node's row taken back to an older decision): the brain
 * adopts the goal the node's keeper witnessed.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { findFile, onCleanup, runCleanups, startBackground, waitFor } from '../helpers/fixture.js';
import {
  FAST_MONITOR_SETTINGS, dumpOnFailure, killPostmaster, nodeStates, startMonitor, startPrimaryAndStandby, waitForStates,
  type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';
import { pgAutoctlArgv } from '../helpers/tool.js';
import { startWriter } from '../helpers/writer.js';

after(runCleanups);

/** Lease of this test: the monitor is away for the time of an initdb on a loaded machine. */
const LEASE_MS = 8000;
/** The longest pause of the writer accepted (see failsafe.test.ts: commits stall up to ~1.7 s on the test machine). */
const MAX_WRITE_GAP_MS = 3000;


async function monitorSettings(m: RunningMonitor): Promise<void> {
  for (const [name, value] of Object.entries(FAST_MONITOR_SETTINGS)) {
    await m.sql('UPDATE pgautofailover.settings SET setting = $2 WHERE name = $1', [name, value]);
  }
  await m.sql("UPDATE pgautofailover.settings SET setting = $1 WHERE name IN ('pgautofailover.primary_lease_timeout', 'pgautofailover.node_considered_unhealthy_timeout')",
    [String(LEASE_MS)]);
}

/** `show state` without the LSNs (they move with the writes). */
async function stateTable(m: RunningMonitor): Promise<string> {
  const r = await m.cli(['show', 'state']);
  assert.equal(r.exitCode, 0, r.stderr);
  return r.stdout.replace(/(\d+): [0-9A-F]+\/[0-9A-F]+/g, '$1: <lsn>').replace(/ +$/gm, '').replace(/-+/g, '-').replace(/ {2,}/g, ' ');
}

async function bothHealthy(m: RunningMonitor): Promise<void> {
  await waitFor('both nodes healthy on the monitor', async () => {
    const rows = await nodeStates(m);
    return rows.length === 2 && rows.every((r) => r.health === 1) ? true : undefined;
  }, { timeoutMs: 30_000, intervalMs: 200 });
}

describe('monitor rebuild from nodes', { timeout: 240_000 }, () => {
  it('re-registers the running nodes into an empty monitor: ids, names and roles kept, no failover, writes never stopped', async () => {
    const nodes: RunningNode[] = [];
    const m = await startMonitor({ name: 'monitor-rebuild' });
    await monitorSettings(m);
    let rebuilt: ReturnType<typeof startBackground> | undefined;
    await dumpOnFailure(m, () => nodes, async () => {
      const [node1, node2] = await startPrimaryAndStandby(m, nodes);
      await bothHealthy(m);
      const before = await stateTable(m);
      const idsBefore = (await nodeStates(m)).map((r) => `${r.nodeid} ${r.nodename}`);
      const tli = async (): Promise<number> => Number((await node1.sql<{ t: number }>('SELECT timeline_id AS t FROM pg_control_checkpoint()'))[0]?.t);
      const tliBefore = await tli();

      // Each keeper is a witness: the last decision it received, beside its state file.
      const epochFile = (n: RunningNode): string => {
        const file = findFile(n.dirs.root, 'pg_autoctl.epoch');
        assert.ok(file, `${n.name} has no pg_autoctl.epoch`);
        return file;
      };
      await waitFor('the witnesses', () => /decision epoch=1 id=\d+ goal=primary /.test(readFileSync(epochFile(node1), 'utf8'))
        && /decision epoch=1 id=\d+ goal=secondary /.test(readFileSync(epochFile(node2), 'utf8')), { timeoutMs: 10_000 });
      assert.equal(statSync(epochFile(node1)).mode & 0o777, 0o600);
      const decisions = await m.sql<{ nodename: string; goaldecisionid: string }>('SELECT nodename, goaldecisionid::text FROM pgautofailover.node ORDER BY nodeid');
      for (const [n, row] of [[node1, decisions[0]], [node2, decisions[1]]] as const) {
        assert.match(readFileSync(epochFile(n), 'utf8'), new RegExp(`^epoch 1\ndecision epoch=1 id=${row?.goaldecisionid} `));
      }

      const writer = await startWriter(node1.port);
      onCleanup('stop the writer', () => writer.stop());
      await waitFor('the first writes', () => writer.acked.length >= 10, { timeoutMs: 10_000 });

      // The monitor host crashes and its data is lost.
      const downAt = performance.now();
      await m.crash();
      rmSync(m.dirs.pgdata, { recursive: true, force: true });
      for (const sub of ['config', 'share', 'run']) {
        const dir = join(m.dirs.root, sub);
        for (const entry of readdirSync(dir)) rmSync(join(dir, entry), { recursive: true, force: true });
      }
      assert.equal(existsSync(m.dirs.pgdata), false);

      // An empty monitor on the same host and port, in rebuild mode.
      rebuilt = startBackground('monitor-rebuilt', pgAutoctlArgv(['create', 'monitor', '--pgport', String(m.port), '--hostname', '127.0.0.1',
        '--no-ssl', '--auth', 'trust', '--rebuild-from-nodes', '--run']), { env: { ...m.dirs.env, PGDATA: m.dirs.pgdata } });
      const proc = rebuilt;
      onCleanup('stop the rebuilt monitor', async () => {
        if (!proc.exited()) {
          proc.kill('SIGTERM');
          await proc.wait(30_000).catch(() => { proc.kill('SIGKILL'); });
        }
        await killPostmaster(m.dirs.pgdata).catch(() => undefined);
      });
      m.proc = proc;
      await waitFor('the rebuilt monitor', () => {
        if (proc.exited()) throw new Error(`create monitor --rebuild-from-nodes exited:\n${proc.output()}`);
        return proc.output().includes('Managing the monitor') ? true : undefined;
      }, { timeoutMs: 60_000, intervalMs: 200 });
      assert.match(proc.output(), /The monitor is being rebuilt from its nodes/);
      await monitorSettings(m);

      // Both keepers register again, with their ids, names and roles.
      await waitForStates(m, { node1: 'primary', node2: 'secondary' }, { nodes, timeoutMs: 30_000 });
      const backAt = performance.now();
      const idsAfter = (await nodeStates(m)).map((r) => `${r.nodeid} ${r.nodename}`);
      assert.deepEqual(idsAfter, idsBefore);
      const status = (await m.sql<{ active: boolean; registered: number; missing: number; held: boolean }>(
        `SELECT active, registered, missing, pgautofailover.rebuild_holds_group('default', 0) AS held
           FROM pgautofailover.monitor_rebuild_status()`))[0];
      assert.deepEqual(status, { active: true, registered: 2, missing: 0, held: false },
        'the window stays open for other groups; this one is complete, no longer held');
      for (const n of [node1, node2]) assert.match(n.output(), /Registered this node again into the monitor being rebuilt from its nodes/);
      // Refusals change nothing: a monitor with nodes cannot start a rebuild,
      // and a node id cannot be claimed again from another address.
      await assert.rejects(m.sql('SELECT pgautofailover.start_monitor_rebuild(60000)'),
        /the monitor already has nodes: only an empty monitor can be rebuilt from its nodes/);
      await assert.rejects(m.sql(`SELECT * FROM pgautofailover.rebuild_register_node('default', 1, 0, 'node1', '127.0.0.9', 5432, 'postgres', 0,
          'primary', 'primary', 1, '0/0', 50, true, 'standalone', 1, 0, 0, '{}')`), /node id 1 is already registered again as node 1 "node1"/);
      assert.deepEqual((await nodeStates(m)).map((r) => `${r.nodeid} ${r.nodename}`), idsBefore);
      // The nine-argument node_active of older keepers still resolves (refused here for the node token only).
      await assert.rejects(m.sql("SELECT * FROM pgautofailover.node_active('default', 1, 0, 'primary', true, 1, '0/0', 'quorum', 'primary')"),
        /is bound to its keeper's token, and this session did not present one/);
      // The rebuilt monitor's epoch is above the one the keepers had seen; they follow it.
      const epoch = (await m.sql<{ epoch: string }>('SELECT epoch::text FROM pgautofailover.current_monitor_epoch()'))[0]?.epoch;
      assert.equal(epoch, '2');
      await waitFor('the keepers at epoch 2', () => [node1, node2].every((n) => readFileSync(epochFile(n), 'utf8').startsWith('epoch 2\n')),
        { timeoutMs: 10_000 });

      // No failover: no promotion, no demotion, the same timeline, the standby still a standby.
      const events = await m.sql<{ description: string }>(
        `SELECT description FROM pgautofailover.event
          WHERE goalstate IN ('draining', 'demote_timeout', 'demoted', 'prepare_promotion', 'stop_replication', 'report_lsn', 'wait_primary', 'single')`);
      assert.deepEqual(events, []);
      assert.equal(await tli(), tliBefore);
      assert.equal((await node2.sql<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r, true);
      assert.equal((await node1.sql<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r, false);

      // Keepers as witnesses, end to end: a monitor write lost (simulated:
      // node2's row taken back to an older decision with another goal,
      // triggers off) while node2's keeper is frozen. The row still holds
      // the keeper's witness from its last node_active; the brain adopts
      // the witnessed goal instead of deciding against it.
      const witnessed = await waitFor('node2 reporting its witness to the rebuilt monitor', async () => {
        const row = (await m.sql<{ d: string; wd: string | null; wg: string | null; we: string | null }>(
          `SELECT goaldecisionid::text AS d, witnessdecisionid::text AS wd, witnessgoalstate::text AS wg, witnessepoch::text AS we
             FROM pgautofailover.node WHERE nodename = 'node2'`))[0];
        return row?.wd === null ? undefined : row;
      }, { timeoutMs: 15_000, intervalMs: 200 });
      assert.equal(witnessed?.wg, 'secondary');
      assert.equal(witnessed?.wd, witnessed?.d, 'the keeper witnessed the decision of its goal');
      node2.proc.kill('SIGSTOP');
      try {
        await m.sql(`SET session_replication_role = replica;
          UPDATE pgautofailover.node SET goalstate = 'catchingup', goaldecisionepoch = 1, goaldecisionid = 1 WHERE nodename = 'node2';
          SELECT pg_notify('pgautofailover_decide', '{"formation": "default", "groupId": 0, "nodeId": null, "why": "health"}')`);
        const adopted = await waitFor('the witnessed goal adopted', async () => {
          const rows = await m.sql<{ description: string; goalstate: string }>(
            "SELECT description, goalstate::text FROM pgautofailover.event WHERE description LIKE '%which this monitor lacks: adopted.' ORDER BY eventid");
          return rows[0];
        }, { timeoutMs: 15_000, intervalMs: 100 });
        assert.equal(adopted.goalstate, 'secondary');
        assert.match(adopted.description, new RegExp(`^Setting goal state of node \\d+ "node2" \\(127\\.0\\.0\\.1:${node2.port}\\) to secondary because its keeper received it at epoch ${witnessed?.we}, decision ${witnessed?.wd}, which this monitor lacks: adopted\\.$`));
        assert.match(proc.output(), /Adopting the goal "secondary" that node \d+ "node2" .* received at epoch \d+, decision \d+/);
      } finally {
        node2.proc.kill('SIGCONT');
      }
      await waitForStates(m, { node1: 'primary', node2: 'secondary' }, { nodes, timeoutMs: 30_000 });
      assert.equal((await node2.sql<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r, true);

      // The primary never stopped serving writes.
      await waitFor('writes after the rebuild', () => writer.acked.some((a) => a.at > backAt + 2000), { timeoutMs: 15_000 });
      const gap = writer.longestGap(downAt, performance.now());
      process.stdout.write(`# monitor rebuilt from nodes in ${Math.round((backAt - downAt) / 1000)} s; longest write gap ${Math.round(gap)} ms\n`);
      assert.ok(gap <= MAX_WRITE_GAP_MS, `writes paused for ${Math.round(gap)} ms`);
      await writer.stop();

      // show state reads as before (LSNs aside).
      await bothHealthy(m);
      assert.equal(await stateTable(m), before);
      // Decisions go on as usual: the group is decided again (a settings change reaches the primary).
      const set = await node1.cli(['set', 'node', 'candidate-priority', '60']);
      assert.equal(set.exitCode, 0, set.stderr);
      await waitForStates(m, { node1: 'primary', node2: 'secondary' }, { nodes, timeoutMs: 30_000 });
    });
  });
});
