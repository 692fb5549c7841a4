/**
 * A real HAProxy (docs/examples/haproxy.cfg, only hosts and ports changed)
 * in front of a primary and a standby, steered by the keepers' health
 * endpoints (src/keeper/health-routes.ts):
 *
 * - the endpoints answer as documented on a running group, and a
 *   slowloris client holding 200 sockets on the primary's listener neither
 *   slows /primary down nor stops the keeper reporting to the monitor;
 * - a crash of the primary (pg_autoctl and postmaster SIGKILLed): the
 *   write port reaches the new primary shortly after it opens for writes
 *   (the figures are printed), the two nodes never both answer 200 on
 *   /primary, and the old primary never does again, also while its
 *   restarted keeper brings it back as a standby;
 * - the read port only ever reaches a streaming standby (sampled all the
 *   way through), apart from the detection window right after the crash;
 * - a primary whose lease runs out (monitor and standby keeper frozen)
 *   answers 503 on /primary from the end of its lease on, and HAProxy
 *   stops sending it writes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { keeperLeaseMs } from '../../src/keeper/lease.js';
import {
  clusterUserName, dumpOnFailure, signalPostgres, startMonitor, startPrimaryAndStandby, waitForStates,
  type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';
import { freePort, makeTempDir, runCleanups, startBackground, waitFor, writeClusterFile } from '../helpers/fixture.js';

after(runCleanups);

const HAPROXY = '/usr/sbin/haproxy';
/** The example of docs/integrations.md, used as it is apart from hosts and ports. */
const EXAMPLE = new URL('../../docs/examples/haproxy.cfg', import.meta.url);

interface Ports { write: number; read: number; stats: number }

/** The example configuration with our ports: the three binds and each node's Postgres and HTTP ports. */
function haproxyConfig(template: string, ports: Ports, nodes: RunningNode[]): string {
  const replaceOnce = (text: string, from: string, to: string): string => {
    assert.equal(text.split(from).length, 2, `the example has "${from}" once`);
    return text.replace(from, to);
  };
  let text = replaceOnce(template, 'bind 127.0.0.1:5000', `bind 127.0.0.1:${ports.write}`);
  text = replaceOnce(text, 'bind 127.0.0.1:5001', `bind 127.0.0.1:${ports.read}`);
  text = replaceOnce(text, 'bind 127.0.0.1:7000', `bind 127.0.0.1:${ports.stats}`);
  let servers = 0;
  text = text.replace(/^(\s*server )(\S+) 127\.0\.0\.1:\d+ check port \d+$/gm, (_line, head: string, name: string) => {
    const node = nodes.find((n) => n.name === name);
    assert.ok(node !== undefined && node.httpPort !== null, `a node for the server line "${name}"`);
    servers += 1;
    return `${head}${name} 127.0.0.1:${node.port} check port ${node.httpPort}`;
  });
  assert.equal(servers, 2 * nodes.length, 'one server line per node in both sections');
  return text;
}

/** One SQL statement on a new connection (through HAProxy or not); never throws. */
async function tryQuery<T extends pg.QueryResultRow>(port: number, text: string): Promise<{ rows: T[] } | { error: string }> {
  const client = new pg.Client({
    host: '127.0.0.1', port, user: clusterUserName(), database: 'postgres',
    connectionTimeoutMillis: 1000, query_timeout: 1000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return { rows: (await client.query<T>(text)).rows };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

interface Poll { sentAt: number; at: number; status: number | null; body: Record<string, unknown> | null }

async function httpGet(port: number, path: string): Promise<Poll> {
  const sentAt = performance.now();
  try {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(1000) });
    const text = await r.text();
    let body: Record<string, unknown> | null = null;
    try { body = JSON.parse(text) as Record<string, unknown>; } catch { /* not JSON */ }
    return { sentAt, at: performance.now(), status: r.status, body };
  } catch {
    return { sentAt, at: performance.now(), status: null, body: null };
  }
}

/** Runs `fn` every `intervalMs` until stopped; the records it returns are kept. */
function poller<T>(intervalMs: number, fn: () => Promise<T>): { records: T[]; stop: () => Promise<void> } {
  const records: T[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      records.push(await fn());
      await new Promise((r) => setTimeout(r, Math.max(0, intervalMs - (performance.now() - started))));
    }
  })();
  return { records, stop: async () => { stopped = true; await loop; } };
}

const lease = (p: Poll): { valid: boolean; remaining_ms: number } | undefined =>
  (p.body?.pg_auto_failover as { lease?: { valid: boolean; remaining_ms: number } } | undefined)?.lease;

const ms = (n: number): string => `${Math.round(n)} ms`;

interface WriteTry { at: number; port: number | null; error?: string }
interface ReadSample { at: number; port: number | null; inRecovery?: boolean; receiver?: string | null; error?: string }

describe('load balancer: HAProxy on the keepers\' health endpoints', { timeout: 300_000 }, () => {
  let monitor: RunningMonitor | undefined;
  const nodes: RunningNode[] = [];

  it('routes writes to the primary through a crash failover and reads to streaming standbys only', async () => {
    const fileStarted = performance.now();
    monitor = await startMonitor({ name: 'monitor-lb' });
    const m = monitor;
    await dumpOnFailure(m, () => nodes, async () => {
      const [node1, node2] = await startPrimaryAndStandby(m, nodes);
      const http1 = node1.httpPort;
      const http2 = node2.httpPort;
      assert.ok(http1 !== null && http2 !== null);
      await node1.sql('CREATE TABLE lb_writes (id bigserial PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())');

      // --- HAProxy with the example configuration, as the cluster account.
      const ports: Ports = { write: await freePort(), read: await freePort(), stats: await freePort() };
      const dir = makeTempDir('pgaf-haproxy-');
      const cfg = join(dir, 'haproxy.cfg');
      writeClusterFile(cfg, haproxyConfig(readFileSync(EXAMPLE, 'utf8'), ports, [node1, node2]));
      const haproxy = startBackground('haproxy', [HAPROXY, '-db', '-f', cfg]);
      const write = async (): Promise<WriteTry> => {
        const r = await tryQuery<{ port: number }>(ports.write, 'INSERT INTO lb_writes DEFAULT VALUES RETURNING inet_server_port() AS port');
        return 'rows' in r ? { at: performance.now(), port: r.rows[0]?.port ?? null } : { at: performance.now(), port: null, error: r.error };
      };
      await waitFor('a write through HAProxy to reach node1', async () => {
        if (haproxy.exited()) throw new Error(`haproxy exited:\n${haproxy.output()}`);
        return (await write()).port === node1.port;
      }, { timeoutMs: 15_000, intervalMs: 100 });

      // --- The endpoints on a running group.
      const status1 = await httpGet(http1, '/status');
      assert.equal(status1.status, 200);
      assert.equal(status1.body?.role, 'primary');
      assert.equal(lease(status1)?.valid, true);
      const expect = async (port: number, path: string, status: number): Promise<void> => {
        const r = await httpGet(port, path);
        assert.equal(r.status, status, `${path} on port ${port}: ${JSON.stringify(r.body?.check ?? r.body)}`);
      };
      for (const path of ['/primary', '/master', '/read-write', '/read-only', '/health']) await expect(http1, path, 200);
      for (const path of ['/replica', '/sync', '/async']) await expect(http1, path, 503);
      for (const path of ['/replica', '/replica?lag=16MB', '/read-only', '/health', '/sync']) await expect(http2, path, 200);
      for (const path of ['/primary', '/async']) await expect(http2, path, 503);
      await expect(http2, '/replica?lag=x', 400);
      await expect(http2, '/nowhere', 404);
      const status2 = await httpGet(http2, '/status');
      const pgaf2 = status2.body?.pg_auto_failover as Record<string, unknown>;
      assert.equal(status2.body?.role, 'replica');
      assert.equal(pgaf2.streaming, true);
      assert.equal(pgaf2.sync_state, 'sync');

      // --- A slowloris on the primary's listener: 100 idle and 100 trickling sockets for 5 s.
      const reportTime = async (): Promise<number> =>
        (await m.sql<{ t: Date }>("SELECT reporttime AS t FROM pgautofailover.node WHERE nodename = 'node1'"))[0]?.t.getTime() ?? 0;
      const reportedBefore = await reportTime();
      const sockets: Socket[] = [];
      const closedAfter: number[] = [];
      const slowStart = performance.now();
      const trickle = setInterval(() => { for (const s of sockets.slice(100)) if (!s.destroyed) s.write('X'); }, 200);
      for (let i = 0; i < 200; i++) {
        const s = connect(http1, '127.0.0.1');
        s.on('error', () => undefined);
        s.on('end', () => s.end());
        s.resume();
        s.on('close', () => closedAfter.push(performance.now() - slowStart));
        if (i >= 100) s.write('GET /primary HTTP/1.1\r\nHost: x\r\n');
        sockets.push(s);
      }
      const during = poller(100, () => httpGet(http1, '/primary'));
      await new Promise((r) => setTimeout(r, 5000));
      await during.stop();
      clearInterval(trickle);
      for (const s of sockets) s.destroy();
      const worst = Math.max(...during.records.map((p) => p.at - p.sentAt));
      const reportedAfter = await reportTime();
      const writeDuring = await write();
      process.stdout.write(`# slowloris (200 sockets): /primary answered ${during.records.length} times, worst ${ms(worst)}; `
        + `${closedAfter.length} slow sockets dropped, the last ${ms(Math.max(...closedAfter))} after opening; `
        + `node1 reported ${reportedAfter - reportedBefore} ms later on the monitor\n`);
      assert.ok(during.records.every((p) => p.status === 200), '/primary answered 200 throughout');
      assert.ok(worst < 1000, `/primary answered within 1 s (worst ${ms(worst)})`);
      assert.equal(closedAfter.length, 200, 'every slow socket was dropped');
      assert.ok(Math.max(...closedAfter) < 5000, 'within 5 s');
      assert.ok(reportedAfter - reportedBefore >= 3000, 'node_active kept advancing on the monitor');
      assert.equal(writeDuring.port, node1.port, 'writes through HAProxy kept working');

      // --- From here on, sample the read port all the time.
      const sample = async (): Promise<ReadSample> => {
        const r = await tryQuery<{ port: number; rec: boolean; status: string | null }>(ports.read,
          'SELECT inet_server_port() AS port, pg_is_in_recovery() AS rec, (SELECT status FROM pg_stat_wal_receiver) AS status');
        if ('error' in r) return { at: performance.now(), port: null, error: r.error };
        const row = r.rows[0];
        return { at: performance.now(), port: row?.port ?? null, inRecovery: row?.rec ?? false, receiver: row?.status ?? null };
      };
      const reads = poller(100, sample);

      // --- Crash of the primary.
      const polls1 = poller(25, () => httpGet(http1, '/primary'));
      const polls2 = poller(25, () => httpGet(http2, '/primary'));
      const viaProxy = poller(50, write);
      const direct2 = poller(50, async () => {
        const r = await tryQuery(node2.port, 'INSERT INTO lb_writes DEFAULT VALUES');
        return { at: performance.now(), ok: 'rows' in r };
      });
      await new Promise((r) => setTimeout(r, 300));
      const killedAt = performance.now();
      await node1.kill({ postgres: true });
      await waitFor('a write through HAProxy to reach node2', () => viaProxy.records.some((w) => w.port === node2.port),
        { timeoutMs: 60_000, intervalMs: 50 });
      await direct2.stop();
      const opened = polls2.records.find((p) => p.status === 200);
      const directOk = direct2.records.find((r) => r.ok);
      const proxied = viaProxy.records.find((w) => w.port === node2.port);
      assert.ok(opened !== undefined && directOk !== undefined && proxied !== undefined);
      const openedAt = Math.min(opened.at, directOk.at);
      process.stdout.write(`# failover: node2 answered 200 on /primary ${ms(opened.at - killedAt)} after the SIGKILL, `
        + `took a direct write after ${ms(directOk.at - killedAt)}, a write through HAProxy after ${ms(proxied.at - killedAt)}: `
        + `WRITE PORT ON THE NEW PRIMARY ${ms(proxied.at - openedAt)} AFTER IT OPENED FOR WRITES\n`);
      assert.ok(proxied.at - openedAt <= 2000, `the write port reached the new primary ${ms(proxied.at - openedAt)} after it opened`);
      const readOnlyErrors = viaProxy.records.filter((w) => /read-only/.test(w.error ?? ''));
      assert.deepEqual(readOnlyErrors, [], 'HAProxy never sent a write to a read-only node');

      // --- node1 comes back (its keeper restarted: state primary on disk, lease over) and rejoins.
      node1.run();
      await waitForStates(m, { node1: 'secondary', node2: 'primary' }, { nodes, timeoutMs: 120_000 });
      await waitFor('the read port to reach node1, streaming', async () => {
        const s = await sample();
        return s.port === node1.port && s.receiver === 'streaming';
      }, { timeoutMs: 20_000, intervalMs: 100 });
      await Promise.all([polls1.stop(), polls2.stop(), viaProxy.stop(), reads.stop()]);

      const last1 = polls1.records.filter((p) => p.status === 200).at(-1);
      const first2 = polls2.records.find((p) => p.status === 200);
      assert.ok(last1 !== undefined && first2 !== undefined);
      assert.ok(last1.at < first2.sentAt, 'node1 stopped answering 200 on /primary before node2 started');
      const after1 = polls1.records.filter((p) => p.sentAt > killedAt);
      const count = (list: Poll[], s: number | null): number => list.filter((p) => p.status === s).length;
      process.stdout.write(`# old primary's /primary after the crash: ${count(after1, 200)} x 200, ${count(after1, 503)} x 503, `
        + `${count(after1, null)} x no answer (${after1.length} polls over ${ms(after1.at(-1)!.at - killedAt)})\n`);
      assert.equal(count(after1, 200), 0, 'the old primary never answered 200 on /primary again');
      assert.ok(count(after1, 503) > 0, 'the restarted keeper of the old primary answered 503');

      const reached = reads.records.filter((r) => r.port !== null);
      const notStreaming = reached.filter((r) => r.inRecovery !== true || r.receiver !== 'streaming');
      // The crash is seen by the next check after the standby's status was
      // read: one check interval (200 ms), plus the status cache (100 ms,
      // 500 ms when a read is slow), plus slack for a loaded machine.
      const detectionMs = 1500;
      const late = notStreaming.filter((r) => r.at > killedAt + detectionMs || r.at < killedAt);
      process.stdout.write(`# read port: ${reads.records.length} samples, ${reached.length} reached a node `
        + `(${reached.filter((r) => r.port === node2.port).length} node2, ${reached.filter((r) => r.port === node1.port).length} node1), `
        + `${notStreaming.length} not streaming, at ${notStreaming.map((r) => ms(r.at - killedAt)).join(', ') || '-'} after the crash\n`);
      assert.deepEqual(late, [], 'the read port reached only streaming standbys outside the detection window');
      assert.ok(reached.some((r) => r.port === node2.port) && reached.some((r) => r.port === node1.port));

      // --- A primary whose lease runs out: the monitor and the standby's keeper frozen (no vouch).
      const leaseSetting = Number((await m.sql<{ setting: string }>(
        "SELECT setting FROM pgautofailover.settings WHERE name = 'pgautofailover.primary_lease_timeout'"))[0]?.setting);
      const keeperLease = keeperLeaseMs(leaseSetting);
      const leasePolls = poller(25, () => httpGet(http2, '/primary'));
      const leaseWrites = poller(50, write);
      await new Promise((r) => setTimeout(r, 300));
      node1.proc.kill('SIGSTOP');
      await signalPostgres(m.dirs.pgdata, 'SIGSTOP');
      const frozenAt = performance.now();
      try {
        await waitFor('node2 to answer 503 on /primary', () => leasePolls.records.some((p) => p.sentAt > frozenAt && p.status === 503),
          { timeoutMs: keeperLease + 10_000, intervalMs: 25 });
        await new Promise((r) => setTimeout(r, 1000));
      } finally {
        await signalPostgres(m.dirs.pgdata, 'SIGCONT');
        node1.proc.kill('SIGCONT');
      }
      await Promise.all([leasePolls.stop(), leaseWrites.stop()]);
      const deadline = frozenAt + keeperLease;
      const last200 = leasePolls.records.filter((p) => p.status === 200).at(-1);
      const first503 = leasePolls.records.find((p) => p.sentAt > frozenAt && p.status === 503);
      const lastWrite = leaseWrites.records.filter((w) => w.port === node2.port).at(-1);
      assert.ok(last200 !== undefined && first503 !== undefined && lastWrite !== undefined);
      process.stdout.write(`# lease: node2's last 200 on /primary was sent ${ms(last200.sentAt - frozenAt)} after the freeze `
        + `(lease ${keeperLease} ms at most), the first 503 ${ms(first503.sentAt - frozenAt)}; `
        + `the last write through HAProxy ${ms(lastWrite.at - frozenAt)} after the freeze\n`);
      assert.ok(leasePolls.records.filter((p) => p.status === 200).every((p) => p.sentAt < deadline),
        'no 200 on /primary for a request sent after the lease ran out');
      assert.ok(first503.sentAt <= deadline + 500, 'a 503 soon after the end of the lease');
      // Postgres is fenced at the end of the lease: nothing commits after it.
      assert.ok(lastWrite.at <= deadline + 500, `no write through HAProxy after the lease (${ms(lastWrite.at - deadline)} after its end)`);
      process.stdout.write(`# lb-haproxy: the test ran ${((performance.now() - fileStarted) / 1000).toFixed(1)} s\n`);
    });
  });
});
