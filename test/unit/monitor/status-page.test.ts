/**
 * The monitor's status page without a monitor: the shared poll (one read
 * for every client, pushes on change only), the routes over a real
 * HttpListener (page, JSON, server-sent events, 404/405, caps, slow and
 * hostile clients), and the listener's security rules (loopback only
 * unless TLS and authentication; Basic auth in constant time; TLS with a
 * password or client certificates, with real certificates made by
 * openssl).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { HttpListener, MAX_STREAM_BUFFER_BYTES, type HttpStream } from '../../../src/common/http-listener.js';
import { silentLogger } from '../../../src/common/log.js';
import {
  defaultMonitorConfig, parseMonitorConfig, renderMonitorConfig, setConfigValue, type MonitorConfig,
} from '../../../src/config/index.js';
import { startMonitorHttp } from '../../../src/monitor/http-routes.js';
import { sseMessage, statusRoutesFor } from '../../../src/monitor/status-page.js';
import { STATUS_PAGE_CSS, STATUS_PAGE_HTML, STATUS_PAGE_JS } from '../../../src/monitor/status-page/assets.js';
import { StatusFeed, type StatusData } from '../../../src/monitor/status-page/feed.js';
import { basicAuthorizer, httpSecurity, isLoopbackAddress, readAuthFile } from '../../../src/monitor/status-page/security.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'pgaf-status-'));
  dirs.push(dir);
  return dir;
};
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const T0 = Date.now();

function sampleData(state = 'primary', name = 'node1'): StatusData {
  return {
    nowMs: Date.now(),
    leaseTimeoutMs: 3000,
    formations: [{
      formationId: 'default', kind: 'pgsql', dbname: 'postgres', numberSyncStandbys: 0,
      nodes: [{
        nodeId: 1, groupId: 0, name, host: '127.0.0.1', port: 5432, reportedState: state as 'primary', goalState: state as 'primary',
        replicationState: 'async', pgIsRunning: true, timeline: 1, lsn: '0/3000148', lagBytes: null, health: 1,
        candidatePriority: 50, replicationQuorum: true, cluster: 'default', reportTimeMs: T0,
        healthCheckTimeMs: T0, stateChangeTimeMs: T0, leaseGrantTimeMs: T0,
      }],
    }],
    events: [],
  };
}

/** A feed over a fake read whose calls are counted. */
function fakeFeed(options: { intervalMs?: number; delayMs?: number } = {}) {
  let state = 'primary';
  let fail: string | null = null;
  let reads = 0;
  const controller = new AbortController();
  cleanups.push(() => controller.abort());
  let idles = 0;
  const feed = new StatusFeed({
    read: async () => {
      reads += 1;
      if (options.delayMs) await sleep(options.delayMs);
      if (fail !== null) throw new Error(fail);
      return sampleData(state);
    },
    intervalMs: options.intervalMs ?? 20,
    log: silentLogger(),
    signal: controller.signal,
    idle: () => { idles += 1; },
    idleAfterMs: 30,
  });
  return {
    feed,
    controller,
    reads: () => reads,
    idles: () => idles,
    setState: (s: string) => { state = s; },
    setFail: (f: string | null) => { fail = f; },
  };
}

interface Got { status: number; headers: IncomingMessage['headers']; body: string }

function get(port: number, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens an SSE stream; collects `state` messages. */
function openStream(port: number): Promise<{ res: IncomingMessage; messages: unknown[]; raw: () => string; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/api/stream', agent: false }, (res) => {
      let text = '';
      const messages: unknown[] = [];
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        let end: number;
        while ((end = text.indexOf('\n\n')) >= 0) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          all += `${block}\n\n`;
          if (!/^event: state$/m.test(block)) continue;
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data !== undefined) messages.push(JSON.parse(data));
        }
      });
      res.on('error', () => undefined);
      resolve({ res, messages, raw: () => all, close: () => req.destroy() });
    });
    let all = '';
    req.on('error', (e) => { if (!req.destroyed) reject(e); });
    req.end();
  });
}

async function waitUntil(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function startListener(routes: ReturnType<typeof statusRoutesFor>, options: ConstructorParameters<typeof HttpListener>[1] = {}) {
  const listener = new HttpListener(silentLogger(), options);
  for (const route of routes) listener.route(route);
  const address = await listener.listen(0, '127.0.0.1');
  cleanups.push(() => listener.close());
  return { listener, port: address.port };
}

function capturingLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push((JSON.parse(chunk.toString('utf8')) as { msg: string }).msg);
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

describe('status page feed', () => {
  it('reads once per interval for any number of watchers and pushes only changes', async () => {
    const f = fakeFeed({ intervalMs: 30 });
    const seen: number[][] = [[], [], [], [], []];
    const unsubscribe = seen.map((list) => f.feed.subscribe((s) => list.push(s.version)));
    await sleep(320);
    const reads = f.reads();
    assert.ok(reads >= 4 && reads <= 13, `one shared poll: ${reads} reads in 320 ms at 30 ms`);
    // Nothing changed but the clock: one push each.
    for (const list of seen) assert.deepEqual(list, [1]);
    f.setState('demoted');
    await waitUntil('the change to be pushed', () => seen.every((list) => list.length === 2));
    for (const list of seen) assert.deepEqual(list, [1, 2]);
    // A late watcher gets the current snapshot at once.
    const late: number[] = [];
    const lateOff = f.feed.subscribe((s) => late.push(s.version));
    assert.deepEqual(late, [2]);
    for (const off of [...unsubscribe, lateOff]) off();
    assert.equal(f.feed.watchers, 0);
    const stopped = f.reads();
    await sleep(150);
    assert.ok(f.reads() <= stopped + 1, 'no poll without watchers');
    assert.ok(f.idles() >= 1, 'the reader is told to close its connection when idle');
  });

  it('shares reads between concurrent JSON requests and keeps the last data on failure', async () => {
    const f = fakeFeed({ intervalMs: 200, delayMs: 30 });
    const all = await Promise.all(Array.from({ length: 20 }, () => f.feed.current()));
    assert.equal(f.reads(), 1);
    assert.ok(all.every((s) => s.version === 1 && s.data !== null));
    // Fresh enough: served from the cache.
    await f.feed.current();
    assert.equal(f.reads(), 1);
    f.setFail('connection refused');
    const failed = await f.feed.refresh();
    assert.equal(failed.error, 'connection refused');
    assert.equal(failed.data?.formations[0]?.nodes[0]?.name, 'node1', 'last known data kept');
    assert.equal(failed.version, 2);
    f.setFail(null);
    const back = await f.feed.refresh();
    assert.equal(back.error, null);
    assert.equal(back.version, 3);
    await waitUntil('the reader to be told it may close after JSON-only reads', () => f.idles() >= 1);
  });
});

describe('status page routes', () => {
  it('serves the page, its assets, the JSON and the live stream; 404 and 405 otherwise', async () => {
    const f = fakeFeed({ intervalMs: 20 });
    const { listener, port } = await startListener(statusRoutesFor(f.feed, 100));

    const page = await get(port, '/');
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type'] ?? '', /^text\/html/);
    assert.match(page.body, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.doesNotMatch(page.body, /https?:\/\//, 'no external asset');
    assert.match((await get(port, '/favicon.svg')).headers['content-type'] ?? '', /^image\/svg\+xml/);
    assert.doesNotMatch(page.body, /<script>|<style>| on[a-z]+=/, 'no inline script or style');
    const js = await get(port, '/status.js');
    assert.match(js.headers['content-type'] ?? '', /^text\/javascript/);
    assert.doesNotThrow(() => new Function(js.body), 'the script parses');
    assert.doesNotMatch(js.body, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, 'text nodes only');
    assert.equal((await get(port, '/status.css')).body, STATUS_PAGE_CSS);
    assert.equal(STATUS_PAGE_HTML.includes('status.js'), true);
    assert.equal(js.body, STATUS_PAGE_JS);

    const state = await get(port, '/api/state');
    assert.equal(state.status, 200);
    const parsed = JSON.parse(state.body) as { version: number; data: StatusData };
    assert.equal(parsed.data.formations[0]?.nodes[0]?.reportedState, 'primary');

    assert.equal((await get(port, '/nope')).status, 404);
    const post = await get(port, '/', { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    assert.equal((await get(port, '/api/stream', { method: 'DELETE' })).status, 405);
    const head = await get(port, '/', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');

    const stream = await openStream(port);
    assert.equal(stream.res.statusCode, 200);
    assert.match(stream.res.headers['content-type'] ?? '', /^text\/event-stream/);
    await waitUntil('the first snapshot', () => stream.messages.length >= 1);
    f.setState('draining');
    await waitUntil('the change', () => stream.messages.length >= 2);
    const last = stream.messages.at(-1) as { data: StatusData };
    assert.equal(last.data.formations[0]?.nodes[0]?.reportedState, 'draining');
    // The stream outlives the request timeouts (3 s) and gets heartbeats.
    await sleep(3300);
    assert.equal(stream.res.destroyed, false);
    assert.match(stream.raw(), /: keep-alive\n\n/);
    assert.equal(listener.openStreams, 1);
    stream.close();
    await waitUntil('the stream to be released', () => listener.openStreams === 0 && f.feed.watchers === 0);
  });

  it('SSE messages are one data line each, whatever the node names hold', () => {
    const data = sampleData('primary', 'evil\n\ndata: {"x":1}\r\n<script>');
    const text = sseMessage('state', { version: 7, data, error: null });
    assert.equal(text.split('\n\n').length, 2, 'one message');
    assert.match(text, /^event: state\nid: 7\ndata: \{.*\}\n\n$/);
  });

  it('caps open streams, drops clients that do not read, and stays responsive under slow and oversized requests', async () => {
    const f = fakeFeed({ intervalMs: 50 });
    const flood = {
      path: '/flood', methods: ['GET' as const], handler: () => ({
        status: 200, headers: { 'content-type': 'text/plain' },
        stream: (out: HttpStream) => {
          const chunk = 'x'.repeat(64 * 1024);
          const timer = setInterval(() => { for (let i = 0; i < 8; i += 1) out.write(chunk); }, 5);
          out.onClose(() => clearInterval(timer));
        },
      }),
    };
    const { listener, port } = await startListener([...statusRoutesFor(f.feed), flood], { maxStreams: 3 });

    const streams = [await openStream(port), await openStream(port), await openStream(port)];
    const refused = await get(port, '/api/stream');
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['retry-after'], '5');
    for (const s of streams) s.close();
    await waitUntil('streams released', () => listener.openStreams === 0);

    // A client that never reads: dropped once over the buffer limit.
    const socket: Socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('GET /flood HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.pause();
    await waitUntil('the flooding stream to open', () => listener.openStreams === 1);
    await waitUntil('the non-reading client to be dropped', () => listener.openStreams === 0, 10_000);
    socket.destroy();
    assert.ok(MAX_STREAM_BUFFER_BYTES <= 4 * 1024 * 1024);

    // Slow clients (headers dribbling in) do not hold the listener.
    const slow: Socket[] = [];
    for (let i = 0; i < 20; i += 1) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      s.resume();
      s.write('GET / HTTP/1.1\r\nHost: x\r\n');
      slow.push(s);
    }
    const started = performance.now();
    const ok = await get(port, '/api/state');
    assert.equal(ok.status, 200);
    assert.ok(performance.now() - started < 1000, 'answered while slow clients hang');
    const closed = slow.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())));
    await Promise.race([Promise.all(closed), sleep(8000).then(() => { throw new Error('slow clients were not cut off'); })]);

    // Oversized headers: refused.
    const huge = await get(port, '/', { headers: { 'x-big': 'a'.repeat(20_000) } }).catch((e: Error) => ({ status: -1, body: e.message, headers: {} }));
    assert.ok(huge.status === 431 || huge.status === 400 || huge.status === -1, `oversized headers refused: ${huge.status}`);
    assert.equal((await get(port, '/')).status, 200);
  });
});

describe('status page security', () => {
  it('knows loopback addresses', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) assert.ok(isLoopbackAddress(a), a);
    for (const a of ['*', '0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com', '', '::2', '128.0.0.1']) assert.ok(!isLoopbackAddress(a), a);
  });

  it('checks Basic credentials exactly', () => {
    const ok = basicAuthorizer('watch', 's3cret:with:colons');
    const b64 = (s: string): string => `Basic ${Buffer.from(s).toString('base64')}`;
    assert.equal(ok({ authorization: b64('watch:s3cret:with:colons') }), true);
    assert.equal(ok({ authorization: `basic ${Buffer.from('watch:s3cret:with:colons').toString('base64')}` }), true);
    assert.equal(ok({ authorization: b64('watch:s3cret:with:colon') }), false);
    assert.equal(ok({ authorization: b64('Watch:s3cret:with:colons') }), false);
    assert.equal(ok({ authorization: 'Bearer abc' }), false);
    assert.equal(ok({}), false);
  });

  it('reads the auth file and refuses one other users can read', () => {
    const dir = tempDir();
    const file = join(dir, 'auth');
    writeFileSync(file, '# who may look\nwatch:pa ss\n', { mode: 0o600 });
    assert.deepEqual(readAuthFile(file), { user: 'watch', password: 'pa ss' });
    chmodSync(file, 0o644);
    assert.throws(() => readAuthFile(file), /must not be accessible to other users/);
    chmodSync(file, 0o600);
    writeFileSync(file, 'nopassword\n');
    assert.throws(() => readAuthFile(file), /must hold a line "user:password"/);
  });

  it('adds the [http] TLS and auth keys without changing 2.0 files', () => {
    const base = defaultMonitorConfig({ pgdata: '/tmp/m', hostname: 'mon' });
    const text = renderMonitorConfig(base);
    assert.doesNotMatch(text, /\[http\]|cert_file = \n|auth_file/);
    let config: MonitorConfig = base;
    for (const [key, value] of [['http.port', '8443'], ['http.listen', '0.0.0.0'], ['http.cert_file', '/etc/c.pem'], ['http.key_file', '/etc/k.pem'], ['http.auth_file', '/etc/auth']] as const) {
      const set = setConfigValue(config, key, value);
      if (!set.ok) assert.fail(String(set.errors));
      config = set.value;
    }
    const written = renderMonitorConfig(config);
    assert.match(written, /\[http\]\nport = 8443\nlisten = 0\.0\.0\.0\ncert_file = \/etc\/c\.pem\nkey_file = \/etc\/k\.pem\nauth_file = \/etc\/auth\n/);
    const reread = parseMonitorConfig(written);
    assert.ok(reread.ok);
    assert.equal(reread.value.http.auth_file, '/etc/auth');
    const relative = setConfigValue(config, 'http.cert_file', 'c.pem');
    assert.equal(relative.ok, false);
  });

  it('refuses a non-loopback listener without TLS and authentication, and says why in the log', async () => {
    const dir = tempDir();
    const { cert, key } = makeCert(dir, 'server', 'localhost');
    const auth = join(dir, 'auth');
    writeFileSync(auth, 'watch:secret\n', { mode: 0o600 });
    const http = (over: Partial<MonitorConfig['http']>): MonitorConfig['http'] =>
      ({ port: 8443, listen: '0.0.0.0', cert_file: '', key_file: '', ca_file: '', auth_file: '', ...over });
    const refused = (over: Partial<MonitorConfig['http']>): string => {
      const s = httpSecurity(http(over));
      assert.equal(s.ok, false, JSON.stringify(over));
      return s.ok ? '' : s.error;
    };
    assert.match(refused({}), /^Refusing to start the HTTP listener on 0\.0\.0\.0:8443: an address other than loopback needs TLS/);
    assert.match(refused({ listen: '*' }), /needs TLS \(http\.cert_file, http\.key_file\) and client authentication \(http\.auth_file or http\.ca_file\)/);
    assert.match(refused({ cert_file: cert, key_file: key }), /client authentication/);
    assert.match(refused({ auth_file: auth }), /needs TLS/);
    assert.match(refused({ cert_file: cert }), /must be set together/);
    assert.match(refused({ ca_file: cert }), /needs TLS/);
    assert.match(refused({ cert_file: cert, key_file: join(dir, 'missing.pem'), auth_file: auth }), /ENOENT/);
    const wide = httpSecurity(http({ cert_file: cert, key_file: key, auth_file: auth }));
    assert.ok(wide.ok && wide.scheme === 'https' && wide.auth === 'password');
    const certs = httpSecurity(http({ cert_file: cert, key_file: key, ca_file: cert }));
    assert.ok(certs.ok && certs.auth === 'client certificate');
    const local = httpSecurity(http({ listen: '127.0.0.1' }));
    assert.ok(local.ok && local.scheme === 'http' && local.auth === 'no authentication');

    // The service does not start the listener, and logs the reason.
    const { log, lines } = capturingLogger();
    const base = defaultMonitorConfig({ pgdata: join(dir, 'pgdata'), hostname: 'mon' });
    const controller = new AbortController();
    const started = await startMonitorHttp({ config: { ...base, http: http({ port: 1 }) }, log, env: {}, signal: controller.signal });
    controller.abort();
    assert.equal(started, null);
    assert.ok(lines.some((l) => /^Refusing to start the HTTP listener on 0\.0\.0\.0:1: an address other than loopback/.test(l)), lines.join('\n'));
  });

  it('serves over TLS with a password, or with client certificates', async () => {
    const dir = tempDir();
    const server = makeCert(dir, 'server', 'localhost');
    const auth = join(dir, 'auth');
    writeFileSync(auth, 'watch:secret\n', { mode: 0o600 });
    const f = fakeFeed();
    const secured = httpSecurity({ port: 1, listen: '127.0.0.1', cert_file: server.cert, key_file: server.key, ca_file: '', auth_file: auth });
    assert.ok(secured.ok);
    const { port } = await startListener(statusRoutesFor(f.feed), secured.options);
    const ca = readFileSync(server.cert);
    const none = await getTls(port, '/api/state', { ca });
    assert.equal(none.status, 401);
    assert.match(`${none.headers['www-authenticate'] as string}`, /^Basic realm="pg_auto_failover"/);
    assert.equal((await getTls(port, '/', { ca, auth: 'watch:wrong' })).status, 401);
    const ok = await getTls(port, '/api/state', { ca, auth: 'watch:secret' });
    assert.equal(ok.status, 200);
    assert.ok((JSON.parse(ok.body) as { data: unknown }).data !== null);
    // Plain HTTP on the TLS port gets nothing useful.
    const plain = await get(port, '/api/state').catch(() => ({ status: -1 }));
    assert.notEqual(plain.status, 200);

    // Client certificates signed by http.ca_file.
    const clientCa = makeCert(dir, 'client-ca', 'status clients CA');
    const client = makeCert(dir, 'client', 'watcher', clientCa);
    const stranger = makeCert(dir, 'stranger', 'watcher');
    const withCerts = httpSecurity({ port: 1, listen: '127.0.0.1', cert_file: server.cert, key_file: server.key, ca_file: clientCa.cert, auth_file: '' });
    assert.ok(withCerts.ok);
    const second = await startListener(statusRoutesFor(f.feed), withCerts.options);
    const good = await getTls(second.port, '/api/state', { ca, cert: readFileSync(client.cert), key: readFileSync(client.key) });
    assert.equal(good.status, 200);
    const bad = await getTls(second.port, '/api/state', { ca, cert: readFileSync(stranger.cert), key: readFileSync(stranger.key) }).catch(() => ({ status: -1 }));
    assert.equal(bad.status, -1, 'a certificate from another CA is refused');
    const anonymous = await getTls(second.port, '/api/state', { ca }).catch(() => ({ status: -1 }));
    assert.equal(anonymous.status, -1, 'no certificate is refused');
  });
});

/** A key and certificate; self-signed, or signed by `issuer`. */
function makeCert(dir: string, name: string, cn: string, issuer?: { cert: string; key: string }): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  const quiet = { stdio: 'pipe' as const };
  if (issuer === undefined) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${cn}`,
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:TRUE'], quiet);
  } else {
    const csr = join(dir, `${name}.csr`);
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`], quiet);
    execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', issuer.cert, '-CAkey', issuer.key, '-CAcreateserial',
      '-out', cert, '-days', '2'], quiet);
  }
  return { cert, key };
}

function getTls(port: number, path: string, options: { ca: Buffer; auth?: string; cert?: Buffer; key?: Buffer }): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1', servername: 'localhost', port, path, ca: options.ca, agent: false,
      ...(options.auth === undefined ? {} : { auth: options.auth }),
      ...(options.cert === undefined ? {} : { cert: options.cert, key: options.key }),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
