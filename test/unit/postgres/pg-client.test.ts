import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selectHost, shouldFallBack, tlsPlansFor, toPgClientConfig, type HostOutcome } from '../../../src/postgres/pg-client.js';
import { parseConnInfo } from '../../../src/postgres/conninfo.js';

const files: Record<string, string> = { '/ca.crt': 'CA PEM', '/crl.pem': 'CRL PEM', '/home/u/.postgresql/root.crt': 'HOME CA' };
const readFile = (path: string): string => {
  const text = files[path];
  if (text === undefined) throw new Error(`ENOENT ${path}`);
  return text;
};
const env = { HOME: '/home/u' };
const plan = (conninfo: string) => toPgClientConfig(conninfo, { env, readFile });

describe('sslmode mapping to node-postgres', () => {
  it('orders TLS attempts per mode', () => {
    assert.deepEqual(tlsPlansFor('disable', false), ['plain']);
    assert.deepEqual(tlsPlansFor('allow', false), ['plain', 'tls-no-verify']);
    assert.deepEqual(tlsPlansFor('prefer', false), ['tls-no-verify', 'plain']);
    assert.deepEqual(tlsPlansFor('require', false), ['tls-no-verify']);
    assert.deepEqual(tlsPlansFor('require', true), ['tls-verify-ca']);
    assert.deepEqual(tlsPlansFor('verify-ca', false), ['tls-verify-ca']);
    assert.deepEqual(tlsPlansFor('verify-full', false), ['tls-verify-full']);
  });

  it('disable: ssl false', () => {
    const [host] = plan('host=h sslmode=disable');
    assert.deepEqual(host?.attempts.map((a) => a.config.ssl), [false]);
  });

  it('prefer (and no sslmode): TLS without verification, then plain', () => {
    for (const conninfo of ['host=h sslmode=prefer', 'host=h']) {
      const [host] = plan(conninfo);
      assert.deepEqual(host?.attempts.map((a) => a.config.ssl), [{ rejectUnauthorized: false }, false]);
    }
  });

  it('require: TLS without verification (not pg\'s verify-full)', () => {
    const [host] = plan('postgres://u@h:5/db?sslmode=require');
    assert.deepEqual(host?.attempts.map((a) => a.config.ssl), [{ rejectUnauthorized: false }]);
    assert.equal(host?.attempts[0]?.config.host, 'h');
    assert.equal(host?.attempts[0]?.config.port, 5);
    assert.equal(host?.attempts[0]?.config.user, 'u');
    assert.equal(host?.attempts[0]?.config.database, 'db');
  });

  it('verify-ca: CA and CRL read, host name not checked', () => {
    const [host] = plan('host=h sslmode=verify-ca sslrootcert=/ca.crt sslcrl=/crl.pem');
    const ssl = host?.attempts[0]?.config.ssl;
    assert.ok(ssl && typeof ssl === 'object');
    assert.equal(ssl.ca, 'CA PEM');
    assert.equal(ssl.crl, 'CRL PEM');
    assert.equal(ssl.rejectUnauthorized, true);
    assert.equal(typeof ssl.checkServerIdentity, 'function');
    assert.equal(ssl.checkServerIdentity?.('h', {} as never), undefined);
  });

  it('verify-full: CA from ~/.postgresql/root.crt by default, host name checked by Node', () => {
    const [host] = plan('host=h sslmode=verify-full');
    const ssl = host?.attempts[0]?.config.ssl;
    assert.ok(ssl && typeof ssl === 'object');
    assert.equal(ssl.ca, 'HOME CA');
    assert.equal(ssl.checkServerIdentity, undefined);
    assert.throws(() => plan('host=h sslmode=verify-full sslrootcert=/missing.crt'), /ENOENT/);
  });

  it('require with an explicit root certificate verifies the CA, as libpq does', () => {
    const [host] = plan('host=h sslmode=require sslrootcert=/ca.crt');
    assert.deepEqual(host?.attempts.map((a) => a.tls), ['tls-verify-ca']);
  });

  it('one plan per host; never TLS over a Unix socket', () => {
    const plans = plan('postgres://h1:1,h2:2/db?sslmode=prefer');
    assert.deepEqual(plans.map((p) => p.attempts[0]?.config.host), ['h1', 'h2']);
    const [socket] = plan('host=/var/run/postgresql port=5432 sslmode=prefer');
    assert.deepEqual(socket?.attempts.map((a) => a.tls), ['plain']);
  });

  it('passes timeouts, application name and password through', () => {
    const [host] = toPgClientConfig('host=h connect_timeout=3 application_name=a password=pw', { env, readFile });
    assert.equal(host?.attempts[0]?.config.connectionTimeoutMillis, 3000);
    assert.equal(host?.attempts[0]?.config.application_name, 'a');
    assert.equal(host?.attempts[0]?.config.password, 'pw');
    const [over] = toPgClientConfig('host=h connect_timeout=3 application_name=a', { env, readFile, connectTimeoutMs: 700, applicationName: 'b' });
    assert.equal(over?.attempts[0]?.config.connectionTimeoutMillis, 700);
    assert.equal(over?.attempts[0]?.config.application_name, 'b');
    assert.equal(typeof over?.attempts[0]?.config.password, 'function');
  });

  it('falls back only on the errors libpq falls back on', () => {
    const noSsl = new Error('The server does not support SSL connections');
    const hba = Object.assign(new Error('no pg_hba.conf entry'), { code: '28000' });
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const badPassword = Object.assign(new Error('password authentication failed'), { code: '28P01' });
    assert.ok(shouldFallBack('tls-no-verify', noSsl));
    assert.ok(shouldFallBack('tls-no-verify', hba));
    assert.ok(!shouldFallBack('tls-no-verify', refused));
    assert.ok(!shouldFallBack('tls-no-verify', badPassword));
    assert.ok(shouldFallBack('plain', hba));
    assert.ok(!shouldFallBack('plain', noSsl));
    assert.ok(!shouldFallBack('tls-verify-full', noSsl));
  });
});

describe('several hosts tried in parallel', () => {
  const later = <T>(ms: number, value: T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), ms));
  const ok = (name: string, ms = 0): Promise<HostOutcome<string>> => later(ms, { client: name, failures: [] });
  const dead = (name: string, ms = 0): Promise<HostOutcome<string>> => later(ms, { failures: [`${name}: refused`] });

  it('parses a multi-host monitor URI with target_session_attrs', () => {
    const info = parseConnInfo('postgres://autoctl_node@127.0.0.11:5432,127.0.0.12:5433/pg_auto_failover?target_session_attrs=read-write&sslmode=prefer');
    assert.deepEqual(info.hosts, [{ host: '127.0.0.11', port: 5432 }, { host: '127.0.0.12', port: 5433 }]);
    assert.deepEqual(plan('postgres://autoctl_node@127.0.0.11:5432,127.0.0.12:5433/pg_auto_failover?sslmode=disable')
      .map((h) => [h.attempts[0]?.config.host, h.attempts[0]?.config.port]), [['127.0.0.11', 5432], ['127.0.0.12', 5433]]);
  });

  it('without rank: the first host in order that matches, once every earlier one failed', async () => {
    const closed: string[] = [];
    const close = (c: string): void => { closed.push(c); };
    // The first host fails late, the second answers early: still the second, and no wait for the third.
    const started = performance.now();
    const picked = await selectHost([dead('h1', 30), ok('h2', 5), ok('h3', 300)], { close });
    assert.equal(picked.client, 'h2');
    assert.deepEqual(picked.failures, ['h1: refused']);
    assert.ok(performance.now() - started < 250, 'did not wait for the slow third host');
    // The earlier host wins even when a later one answered first.
    assert.equal((await selectHost([ok('h1', 40), ok('h2', 1)], { close })).client, 'h1');
    await later(350, undefined);
    assert.deepEqual(closed.sort(), ['h2', 'h3']);
  });

  it('no host matches: every failure, no client', async () => {
    const picked = await selectHost([dead('h1'), dead('h2')], { close: () => undefined });
    assert.equal(picked.client, undefined);
    assert.deepEqual(picked.failures, ['h1: refused', 'h2: refused']);
  });

  it('with rank: the highest ranked matching host wins, the earlier one on ties; losers are closed', async () => {
    const epochs: Record<string, number> = { h1: 1, h2: 3, h3: 3 };
    const closed: string[] = [];
    const rank = async (c: string): Promise<number> => epochs[c] ?? 0;
    const picked = await selectHost([ok('h1'), ok('h2', 20), ok('h3')], { rank, close: (c) => { closed.push(c); } });
    assert.equal(picked.client, 'h2');
    assert.deepEqual(closed.sort(), ['h1', 'h3']);
    const failing = async (c: string): Promise<number> => {
      if (c === 'h1') throw new Error('h1: no epoch');
      return 0;
    };
    const second = await selectHost([ok('h1'), ok('h2')], { rank: failing, close: () => undefined });
    assert.equal(second.client, 'h2');
    assert.deepEqual(second.failures, ['h1: no epoch']);
    let ranked = 0;
    const single = await selectHost([dead('h1'), ok('h2')], { rank: async () => { ranked += 1; return 0; }, close: () => undefined });
    assert.equal(single.client, 'h2');
    assert.equal(ranked, 0, 'one matching host is not ranked');
  });
});
