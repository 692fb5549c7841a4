/**
 * The load-balancer health endpoints (src/keeper/health-routes.ts) on a
 * real HTTP listener: Patroni's paths and status codes, the write lease
 * checked at request time (no round of the keeper needed for /primary to
 * drop), the standby checks with `lag`, bad requests answered with 4xx,
 * and slow or idle clients dropped within seconds while /primary keeps
 * answering. Also the on-demand cache the standby checks read through.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HttpListener } from '../../../src/common/http-listener.js';
import { silentLogger } from '../../../src/common/log.js';
import { listedStandbys, OnDemandCache, failedReading, type StandbyReading, type SyncNamesReading } from '../../../src/keeper/health-probe.js';
import {
  healthRouteTable, parseLag, primaryVerdict, replicaVerdict, type HealthSnapshot, type HealthSource,
} from '../../../src/keeper/health-routes.js';
import { WriteLease } from '../../../src/keeper/lease.js';
import { NOT_RUNNING } from '../../../src/keeper/local-pg.js';

const MB = 1024n * 1024n;

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

const streaming = (replayLsn: bigint, over: Partial<StandbyReading> = {}): StandbyReading => ({
  inRecovery: true, receiverStatus: 'streaming', senderHost: '127.0.0.1', senderPort: 5432,
  receiveLsn: replayLsn, replayLsn, replayPaused: false, ...over,
});

/**
 * A node whose inputs the test sets: `base` holds the snapshot fields,
 * the lease is a real WriteLease on the manual clock and is read at each
 * request, like the keeper's.
 */
class TestNode implements HealthSource {
  readonly clock = manualClock();
  readonly lease = new WriteLease(this.clock.now, 3000);
  base: Omit<HealthSnapshot, 'lease'>;
  reading: StandbyReading | null = null;
  names: SyncNamesReading | null = { names: [] };
  standbyReads = 0;

  constructor(over: Partial<Omit<HealthSnapshot, 'lease'>> = {}) {
    this.base = {
      nodeId: 2, name: 'node2', formation: 'default', group: 0,
      current: 'primary', assigned: 'primary',
      monitorDisabled: false, monitorUnreachable: false, lastMonitorContact: 1_700_000_000,
      pgRunning: true, fenced: false,
      facts: { ...NOT_RUNNING, running: true, lsn: 0x3000060n, timeline: 1, syncState: 'quorum' },
      systemIdentifier: 7301234567890123456n,
      primary: null,
      ...over,
    };
  }

  snapshot(): HealthSnapshot {
    return { ...this.base, lease: { valid: this.lease.valid(), remainingMs: this.lease.remainingMs() } };
  }

  async standby(): Promise<StandbyReading | null> {
    this.standbyReads += 1;
    return this.reading;
  }

  async syncNames(): Promise<SyncNamesReading | null> {
    return this.names;
  }

  /** A standby of node 1 (127.0.0.1:5432) streaming with the given replay LSN. */
  makeStandby(replayLsn: bigint, primaryLsn: bigint): void {
    this.base = {
      ...this.base, current: 'secondary', assigned: 'secondary',
      facts: { ...this.base.facts, inRecovery: true, syncState: '' },
      primary: { nodeId: 1, host: '127.0.0.1', port: 5432, lsn: primaryLsn },
    };
    this.reading = streaming(replayLsn);
  }
}

async function startListener(source: HealthSource): Promise<{ listener: HttpListener; url: (path: string) => string; port: number }> {
  const listener = new HttpListener(silentLogger());
  for (const route of healthRouteTable(source)) listener.route(route);
  const address = await listener.listen(0, '127.0.0.1');
  return { listener, port: address.port, url: (path) => `http://127.0.0.1:${address.port}${path}` };
}

async function get(url: string, method = 'GET'): Promise<{ status: number; body: string; headers: Headers }> {
  const r = await fetch(url, { method, signal: AbortSignal.timeout(5000) });
  return { status: r.status, body: await r.text(), headers: r.headers };
}

/** Sends raw bytes and returns the first line of the answer. */
function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setTimeout(5000, () => { socket.destroy(); reject(new Error('no answer')); });
    socket.on('data', (d) => { answer += d.toString('latin1'); });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''));
    socket.end(bytes);
  });
}

describe('health endpoints: the checks', () => {
  it('parses Patroni lag values and refuses malformed ones', () => {
    assert.equal(parseLag('0'), 0n);
    assert.equal(parseLag('1048576'), MB);
    assert.equal(parseLag('16MB'), 16n * MB);
    assert.equal(parseLag('16mb'), 16n * MB);
    assert.equal(parseLag('100kB'), 100n * 1024n);
    assert.equal(parseLag('1GB'), 1024n * MB);
    assert.equal(parseLag('2 TB'), 2n * 1024n * 1024n * MB);
    assert.equal(parseLag('10B'), 10n);
    for (const bad of ['', '-1', '1.5MB', '16XB', 'MB', '1e6', '16 MB extra', '9'.repeat(16)]) {
      assert.equal(parseLag(bad), undefined, bad);
    }
  });

  it('lists the standbys of a synchronous_standby_names value', () => {
    assert.deepEqual(listedStandbys(''), []);
    assert.deepEqual(listedStandbys('ANY 1 (pgautofailover_standby_2)'), ['pgautofailover_standby_2']);
    assert.deepEqual(listedStandbys('ANY 2 (pgautofailover_standby_2, pgautofailover_standby_3)'),
      ['pgautofailover_standby_2', 'pgautofailover_standby_3']);
    assert.deepEqual(listedStandbys('FIRST 1 ("a", b)'), ['a', 'b']);
  });

  it('/primary: writable current and assigned state, a lease, Postgres running, not fenced', () => {
    const node = new TestNode();
    assert.equal(primaryVerdict(node.snapshot()).ok, false, 'no lease granted yet');
    node.lease.grant(node.clock.now());
    assert.deepEqual(primaryVerdict(node.snapshot()), { ok: true, reason: 'writable state "primary" with a write lease' });
    for (const [over, reason] of [
      [{ current: 'draining' }, /current state is "draining"/],
      [{ current: 'stop_replication' }, /current state/],
      [{ assigned: 'draining' }, /assigned state is "draining"/],
      [{ assigned: 'prepare_maintenance' }, /assigned state/],
      [{ pgRunning: false }, /not running/],
      [{ fenced: true }, /fenced/],
    ] as const) {
      const v = primaryVerdict({ ...node.snapshot(), ...over });
      assert.equal(v.ok, false, JSON.stringify(over));
      assert.match(v.reason, reason);
    }
    for (const writable of ['single', 'wait_primary', 'apply_settings'] as const) {
      assert.equal(primaryVerdict({ ...node.snapshot(), current: writable, assigned: writable }).ok, true, writable);
    }
    node.clock.advance(5000);
    assert.equal(primaryVerdict(node.snapshot()).ok, false, 'lease ran out');
    assert.equal(primaryVerdict({ ...node.snapshot(), monitorDisabled: true }).ok, true, 'no lease without a monitor');
  });

  it('/replica: standby states, streaming from the primary, within the lag', () => {
    const node = new TestNode();
    node.makeStandby(0x5000000n, 0x5000000n + 2n * MB);
    const s = node.snapshot();
    assert.equal(replicaVerdict(s, node.reading, undefined).ok, true);
    assert.equal(replicaVerdict({ ...s, current: 'catchingup', assigned: 'catchingup' }, node.reading, undefined).ok, true);
    assert.equal(replicaVerdict(s, node.reading, 2n * MB).ok, true, 'lag equal to the bound');
    assert.match(replicaVerdict(s, node.reading, 2n * MB - 1n).reason, /lag 2097152 bytes is more than 2097151/);
    assert.equal(replicaVerdict({ ...s, primary: { nodeId: 1, host: '127.0.0.1', port: 5432, lsn: 0n } }, node.reading, 0n).ok, true,
      'a primary LSN behind the replay counts as no lag');
    assert.match(replicaVerdict({ ...s, primary: null }, node.reading, 16n * MB).reason, /lag is unknown/);
    assert.equal(replicaVerdict({ ...s, primary: null }, node.reading, undefined).ok, true, 'no lag asked, no primary needed');
    const failing: Array<[Partial<HealthSnapshot>, StandbyReading | null, RegExp]> = [
      [{ current: 'maintenance', assigned: 'maintenance' }, node.reading, /current state is "maintenance"/],
      [{ current: 'wait_maintenance' }, node.reading, /current state/],
      [{ assigned: 'report_lsn' }, node.reading, /assigned state is "report_lsn"/],
      [{ assigned: 'prepare_promotion' }, node.reading, /assigned state/],
      [{ current: 'primary', assigned: 'primary' }, node.reading, /current state/],
      [{ pgRunning: false }, node.reading, /not running/],
      [{}, null, /unknown/],
      [{}, failedReading('timeout'), /could not be read: timeout/],
      [{}, streaming(1n, { receiverStatus: 'waiting' }), /WAL receiver is "waiting"/],
      [{}, streaming(1n, { receiverStatus: null }), /WAL receiver is not running/],
      [{}, streaming(1n, { inRecovery: false }), /not in recovery/],
      [{}, streaming(1n, { senderPort: 6000 }), /streams from 127.0.0.1:6000, not from the primary 127.0.0.1:5432/],
    ];
    for (const [over, reading, reason] of failing) {
      const v = replicaVerdict({ ...s, ...over }, reading, undefined);
      assert.equal(v.ok, false, reason.source);
      assert.match(v.reason, reason);
    }
  });
});

describe('health endpoints over HTTP', () => {
  const node = new TestNode();
  let server: Awaited<ReturnType<typeof startListener>>;
  before(async () => { server = await startListener(node); });
  after(async () => { await server.listener.close(); });

  it('answers Patroni\'s primary paths with 200 only while the lease runs, read at request time', async () => {
    node.base = { ...new TestNode().base };
    node.lease.grant(node.clock.now());
    for (const path of ['/primary', '/master', '/leader', '/read-write', '/read-only', '/health']) {
      for (const method of ['GET', 'HEAD', 'OPTIONS']) {
        const r = await get(server.url(path), method);
        assert.equal(r.status, 200, `${method} ${path}`);
        if (method === 'HEAD') assert.equal(r.body, '');
      }
    }
    for (const path of ['/replica', '/sync', '/async']) assert.equal((await get(server.url(path))).status, 503, path);
    const doc = JSON.parse((await get(server.url('/primary'))).body);
    assert.equal(doc.role, 'primary');
    assert.equal(doc.state, 'running');
    assert.deepEqual(doc.xlog, { location: 0x3000060 });
    assert.equal(doc.pg_auto_failover.lease.valid, true);
    assert.equal(doc.pg_auto_failover.sync_state, 'quorum');
    assert.deepEqual(doc.check, { path: '/primary', ok: true, reason: 'writable state "primary" with a write lease' });

    // Nothing else changes: only time passes beyond the lease end.
    node.clock.advance(node.lease.remainingMs() - 1);
    assert.equal((await get(server.url('/primary'))).status, 200, '1 ms before the end');
    node.clock.advance(1);
    const expired = await get(server.url('/primary'));
    assert.equal(expired.status, 503, 'at the end of the lease');
    assert.match(JSON.parse(expired.body).check.reason, /no valid write lease/);
    assert.equal((await get(server.url('/read-only'))).status, 503);
    assert.equal((await get(server.url('/health'))).status, 200, 'Postgres still runs');
    const status = JSON.parse((await get(server.url('/status'))).body);
    assert.deepEqual(status.pg_auto_failover.lease, { valid: false, remaining_ms: 0, required: true });
    assert.equal(status.pg_auto_failover.primary_check.ok, false);
  });

  it('answers the standby paths from the streaming status, with lag and sync state', async () => {
    node.base = { ...new TestNode().base };
    node.makeStandby(0x5000000n, 0x5000000n + 20n * MB);
    node.names = { names: ['pgautofailover_standby_3'] };
    assert.equal((await get(server.url('/primary'))).status, 503);
    assert.equal((await get(server.url('/replica'))).status, 200);
    assert.equal((await get(server.url('/read-only'))).status, 200);
    assert.equal((await get(server.url('/replica?lag=32MB'))).status, 200);
    assert.equal((await get(server.url('/replica?lag=16MB'))).status, 503);
    assert.equal((await get(server.url('/read-only?lag=16MB'))).status, 503);
    assert.equal((await get(server.url('/async'))).status, 200);
    assert.equal((await get(server.url('/sync'))).status, 503);
    node.names = { names: ['pgautofailover_standby_2', 'pgautofailover_standby_3'] };
    assert.equal((await get(server.url('/sync'))).status, 200);
    assert.equal((await get(server.url('/synchronous'))).status, 200);
    assert.equal((await get(server.url('/async'))).status, 503);
    node.names = null;
    assert.match(JSON.parse((await get(server.url('/sync'))).body).check.reason, /synchronous standby names are unknown/);
    assert.equal((await get(server.url('/async'))).status, 503, 'unknown is neither');

    node.names = { names: ['pgautofailover_standby_2'] };
    const doc = JSON.parse((await get(server.url('/patroni'))).body);
    assert.equal(doc.role, 'replica');
    assert.equal(doc.pg_auto_failover.sync_state, 'sync');
    assert.equal(doc.pg_auto_failover.lag_bytes, Number(20n * MB));
    assert.equal(doc.pg_auto_failover.streaming, true);
    assert.equal(doc.xlog.replayed_location, 0x5000000);

    node.reading = streaming(0x5000000n, { receiverStatus: 'waiting' });
    const r = await get(server.url('/replica'));
    assert.equal(r.status, 503);
    assert.match(JSON.parse(r.body).check.reason, /WAL receiver is "waiting"/);
    node.base = { ...node.base, assigned: 'report_lsn' };
    node.reading = streaming(0x5000000n);
    assert.equal((await get(server.url('/replica'))).status, 503, 'an election started');
  });

  it('reads the streaming status only for standbys', async () => {
    node.base = { ...new TestNode().base };
    node.lease.grant(node.clock.now());
    const before = node.standbyReads;
    for (let i = 0; i < 5; i++) await get(server.url('/primary'));
    await get(server.url('/replica'));
    await get(server.url('/health'));
    assert.equal(node.standbyReads, before, 'no standby read on a primary');
    node.makeStandby(1n, 1n);
    await get(server.url('/replica'));
    assert.equal(node.standbyReads, before + 1);
  });

  it('answers bad requests with 4xx', async () => {
    assert.equal((await get(server.url('/nope'))).status, 404);
    assert.equal((await get(server.url('/primary/'))).status, 404);
    const post = await fetch(server.url('/primary'), { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD, OPTIONS');
    assert.equal((await fetch(server.url('/status'), { method: 'OPTIONS' })).status, 405);
    const bad = await get(server.url('/replica?lag=lots'));
    assert.equal(bad.status, 400);
    assert.match(JSON.parse(bad.body).error, /bad lag value "lots"/);
    assert.equal((await get(server.url('/primary?lag=-5'))).status, 400);
    assert.match(await rawRequest(server.port, `GET /primary HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`), /^HTTP\/1\.1 431 /);
    assert.match(await rawRequest(server.port, 'BREW /primary HTCPCP/1.0\r\n\r\n'), /^HTTP\/1\.1 (400|405) /);
    assert.match(await rawRequest(server.port, '\x00\x01\x02 garbage\r\n\r\n'), /^HTTP\/1\.1 400 /);
  });
});

/** Opens `count` sockets that never finish a request; resolves to their close times (ms after opening). */
function slowClients(port: number, count: number, mode: 'idle' | 'trickle'): { closedAfter: number[]; sockets: Socket[]; stop: () => void } {
  const t0 = performance.now();
  const closedAfter: number[] = [];
  const sockets: Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  for (let i = 0; i < count; i++) {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    s.on('end', () => s.end());
    // Reading, so that the server's answer and its end of the connection are seen.
    s.resume();
    s.on('close', () => closedAfter.push(performance.now() - t0));
    if (mode === 'trickle') {
      s.write('GET /primary HTTP/1.1\r\nHost: x\r\n');
      // One byte every 200 ms: never a complete header line.
      timers.push(setInterval(() => { if (!s.destroyed) s.write('X'); }, 200));
    }
    sockets.push(s);
  }
  return { closedAfter, sockets, stop: () => { for (const t of timers) clearInterval(t); for (const s of sockets) s.destroy(); } };
}

describe('health endpoints under slow clients', () => {
  it('drops idle and trickling clients within seconds while /primary answers at once', async () => {
    const node = new TestNode();
    node.lease.grant(node.clock.now());
    const server = await startListener(node);
    const idle = slowClients(server.port, 100, 'idle');
    const trickle = slowClients(server.port, 100, 'trickle');
    try {
      const latencies: number[] = [];
      const started = performance.now();
      while (performance.now() - started < 4500) {
        const t = performance.now();
        const r = await get(server.url('/primary'));
        latencies.push(performance.now() - t);
        assert.equal(r.status, 200);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const worst = Math.max(...latencies);
      assert.ok(worst < 1000, `every /primary answered within 1 s (worst ${worst.toFixed(0)} ms)`);
      assert.equal(idle.closedAfter.length, 100, 'every idle client was dropped');
      assert.equal(trickle.closedAfter.length, 100, 'every trickling client was dropped');
      assert.ok(Math.max(...idle.closedAfter, ...trickle.closedAfter) < 4500, 'within 4.5 s');
    } finally {
      idle.stop();
      trickle.stop();
      await server.listener.close();
    }
  });

  it('answers again within seconds after more slow clients than the connection limit', async () => {
    const node = new TestNode();
    node.lease.grant(node.clock.now());
    const server = await startListener(node);
    const flood = slowClients(server.port, 400, 'idle');
    try {
      const started = performance.now();
      let answeredAfter: number | null = null;
      while (performance.now() - started < 8000) {
        const r = await get(server.url('/primary')).catch(() => null);
        if (r?.status === 200) {
          answeredAfter = performance.now() - started;
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(answeredAfter !== null && answeredAfter < 4500, `answered ${answeredAfter?.toFixed(0)} ms after the flood began`);
    } finally {
      flood.stop();
      await server.listener.close();
    }
  });
});

describe('health endpoints: the on-demand cache', () => {
  it('serves fresh values, shares one read, bounds the wait and forgets old values', async () => {
    const clock = manualClock();
    let reads = 0;
    let release: (() => void) | null = null;
    let gate = false;
    const cache = new OnDemandCache<number>(async () => {
      reads += 1;
      if (gate) await new Promise<void>((resolve) => { release = resolve; });
      return reads;
    }, { freshMs: 100, maxAgeMs: 1000, waitMs: 50 }, clock.now);

    assert.deepEqual(await cache.get(), { value: 1, ageMs: 0 });
    clock.advance(50);
    assert.equal((await cache.get())?.value, 1, 'fresh: no read');
    assert.equal(reads, 1);
    clock.advance(60);
    assert.equal((await cache.get())?.value, 2, 'stale: read again');

    gate = true;
    clock.advance(200);
    const [a, b] = await Promise.all([cache.get(), cache.get()]);
    assert.equal(reads, 3, 'one read for concurrent requests');
    assert.equal(a?.value, 2, 'a slow read: the previous value after the bounded wait');
    assert.equal(b?.value, 2);
    clock.advance(900);
    assert.equal(await cache.get(), null, 'older than maxAge while the read hangs: unknown');
    assert.equal(reads, 3, 'still the same read in flight');
    (release as (() => void) | null)?.();
    await new Promise((resolve) => setImmediate(resolve));
    gate = false;
    assert.deepEqual(cache.peek(), { value: 3, ageMs: 900 }, 'the slow read landed, stamped with its start');
    assert.equal((await cache.get())?.value, 4, 'not fresh any more: read again');
  });
});
