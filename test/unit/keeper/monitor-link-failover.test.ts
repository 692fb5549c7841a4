/**
 * Issue 13: how long a dead monitor holds a keeper's monitor link, with
 * the link's default deadlines, against tiny fake servers that speak just
 * enough of the PostgreSQL protocol (trust auth, simple queries answering
 * one text column). A monitor whose host killed its processes (the socket
 * is reset) is noticed at once; a frozen one (no answer) within the call
 * deadline; the reconnection to the other monitor host then waits for
 * the stuck host SUSPECT_CONNECT_TIMEOUT_MS only, once (any other host
 * that does not answer: the connection deadline). The loop's wait after a lost connection
 * is the link's back-off, not a full second. (The bounds allow for a
 * loaded machine: timers fire late, never early.)
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { nextRoundWaitMs } from '../../../src/keeper/loop.js';
import {
  CALL_TIMEOUT_MS, CONNECT_TIMEOUT_MS, MAX_BACK_OFF_MS, MonitorLink, SUSPECT_CONNECT_TIMEOUT_MS, backOffMs,
} from '../../../src/keeper/monitor-link.js';

const silent = pino({ level: 'silent' });

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
const int32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
const int16 = (n: number): Buffer => { const b = Buffer.alloc(2); b.writeInt16BE(n); return b; };
const cstr = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8');
const ready = (): Buffer => message('Z', Buffer.from('I'));

/** One text row: answers `value` to every simple query ('off' for transaction_read_only: read-write). */
function rowFor(sql: string, name: string): Buffer {
  const value = sql.includes('transaction_read_only') ? 'off' : name;
  const desc = message('T', Buffer.concat([int16(1), cstr('v'), int32(0), int16(0), int32(25), int16(-1), int32(-1), int16(0)]));
  const data = message('D', Buffer.concat([int16(1), int32(Buffer.byteLength(value)), Buffer.from(value)]));
  return Buffer.concat([desc, data, message('C', cstr('SELECT 1')), ready()]);
}

interface FakeMonitor {
  server: Server;
  port: number;
  sockets: Set<Socket>;
  /** Freeze: accept nothing more, answer nothing (as a SIGSTOPped host). */
  frozen: boolean;
}

async function fakeMonitor(name: string): Promise<FakeMonitor> {
  const fake: FakeMonitor = { server: createServer(), port: 0, sockets: new Set(), frozen: false };
  fake.server.on('connection', (socket) => {
    fake.sockets.add(socket);
    socket.on('close', () => fake.sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    let started = false;
    socket.on('data', (chunk) => {
      if (fake.frozen) return;
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (!started) {
          if (buffer.length < 8) return;
          const len = buffer.readInt32BE(0);
          const code = buffer.readInt32BE(4);
          if (buffer.length < len) return;
          buffer = buffer.subarray(len);
          if (code === 80877103) { socket.write('N'); continue; } // SSLRequest: no
          started = true;
          socket.write(Buffer.concat([message('R', int32(0)), message('S', Buffer.concat([cstr('server_version'), cstr('15.0')])),
            message('K', Buffer.concat([int32(1), int32(2)])), ready()]));
          continue;
        }
        if (buffer.length < 5) return;
        const type = String.fromCharCode(buffer[0] ?? 0);
        const len = buffer.readInt32BE(1);
        if (buffer.length < len + 1) return;
        const body = buffer.subarray(5, len + 1);
        buffer = buffer.subarray(len + 1);
        if (type === 'Q') socket.write(rowFor(body.toString('utf8'), name));
        else if (type === 'X') socket.end();
      }
    });
  });
  await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
  const address = fake.server.address();
  fake.port = typeof address === 'object' && address !== null ? address.port : 0;
  return fake;
}

const stop = (fake: FakeMonitor): void => {
  for (const s of fake.sockets) s.destroy();
  fake.server.close();
};

const whoAnswers = (link: MonitorLink): Promise<string> =>
  link.call('probe', async (c) => (await c.query<{ v: string }>('SELECT v')).rows[0]?.v ?? '');

describe('the monitor link after a monitor failover', () => {
  const started: FakeMonitor[] = [];
  const links: MonitorLink[] = [];
  after(async () => {
    await Promise.all(links.map((l) => l.close()));
    started.forEach(stop);
  });

  it('a monitor whose connections are reset is noticed at once; the next call reaches the member host', async () => {
    const a = await fakeMonitor('a');
    const b = await fakeMonitor('b');
    started.push(a, b);
    const link = new MonitorLink({ uri: `postgres://autoctl_node@127.0.0.1:${a.port}/pg_auto_failover?sslmode=disable`, log: silent });
    links.push(link);
    link.setMemberHosts([{ host: '127.0.0.1', port: a.port }, { host: '127.0.0.1', port: b.port }]);
    assert.equal(await whoAnswers(link), 'a');
    assert.equal(link.connectionCount, 1);
    // The monitor host's processes are killed: the kernel resets the connection, the listener is gone.
    const killedAt = performance.now();
    for (const s of a.sockets) s.resetAndDestroy();
    a.server.close();
    while (link.connected && performance.now() - killedAt < 2000) await new Promise((r) => setTimeout(r, 5));
    assert.equal(link.connected, false, 'the reset is seen without any call');
    assert.ok(performance.now() - killedAt < 1000, `noticed after ${Math.round(performance.now() - killedAt)} ms`);
    assert.equal(nextRoundWaitMs(true, link.connected, link.retryInMs()), 50, 'the next round comes at once');
    assert.equal(await whoAnswers(link), 'b', 'reconnected to the other monitor host');
    assert.ok(performance.now() - killedAt < 2000);
    assert.equal(link.connectionCount, 2);
  });

  it('a frozen monitor costs the call deadline plus a short connection deadline for its host', { timeout: 30_000 }, async () => {
    const a = await fakeMonitor('a');
    const b = await fakeMonitor('b');
    started.push(a, b);
    const link = new MonitorLink({ uri: `postgres://autoctl_node@127.0.0.1:${a.port},127.0.0.1:${b.port}/pg_auto_failover?sslmode=disable`, log: silent });
    links.push(link);
    assert.equal(await whoAnswers(link), 'a');
    // Host a stops answering (frozen; no reset, no close): its TCP still accepts.
    a.frozen = true;
    const frozenAt = performance.now();
    await assert.rejects(whoAnswers(link), /did not answer within 3000 ms/);
    const noticed = performance.now() - frozenAt;
    assert.ok(noticed >= CALL_TIMEOUT_MS - 50 && noticed < CALL_TIMEOUT_MS + 1000, `noticed after ${Math.round(noticed)} ms`);
    assert.equal(link.connected, false);
    const wait = nextRoundWaitMs(true, link.connected, link.retryInMs());
    assert.ok(wait <= backOffMs(1) + 10 && wait >= 50, `next round after ${wait} ms`);
    await new Promise((r) => setTimeout(r, wait));
    assert.equal(await whoAnswers(link), 'b');
    const total = performance.now() - frozenAt;
    // The host that stopped answering is waited for SUSPECT_CONNECT_TIMEOUT_MS only, on that attempt.
    assert.ok(total < CALL_TIMEOUT_MS + SUSPECT_CONNECT_TIMEOUT_MS + 1500, `reporting to the other monitor after ${Math.round(total)} ms`);
    assert.ok(CALL_TIMEOUT_MS + CONNECT_TIMEOUT_MS <= 5000, 'bounded by 5 s at the defaults, whatever the hosts');

    // The next attempts give every host the full deadline again: a slow
    // monitor is not left out for good. A third host, frozen from the start,
    // is waited for CONNECT_TIMEOUT_MS (without rank, libpq order: it comes first).
    const c = await fakeMonitor('c');
    started.push(c);
    c.frozen = true;
    const again = new MonitorLink({ uri: `postgres://autoctl_node@127.0.0.1:${c.port},127.0.0.1:${b.port}/pg_auto_failover?sslmode=disable`, log: silent });
    links.push(again);
    const t0 = performance.now();
    assert.equal(await whoAnswers(again), 'b');
    const slow = performance.now() - t0;
    assert.ok(slow >= CONNECT_TIMEOUT_MS - 50 && slow < CONNECT_TIMEOUT_MS + 1000, `a host never seen stuck gets the full deadline: ${Math.round(slow)} ms`);
  });

  it('the round waits: a second normally and after a monitor error, the back-off after a lost connection', () => {
    assert.equal(nextRoundWaitMs(false, true, 0), 1000);
    assert.equal(nextRoundWaitMs(true, true, 0), 1000, 'an SQL error keeps the connection and the pace');
    assert.equal(nextRoundWaitMs(true, false, 0), 50);
    assert.equal(nextRoundWaitMs(true, false, 400), 410);
    assert.equal(nextRoundWaitMs(true, false, 5000), 1000);
    assert.deepEqual([1, 2, 3, 4, 5, 9].map(backOffMs), [100, 200, 400, 800, 800, 800]);
    assert.equal(MAX_BACK_OFF_MS, 800);
  });
});
