/**
 * Issue 8 findings 1, 9, 12 and 16 at the unit level: hosts that would
 * inject or widen pg_hba.conf rules are refused before anything is
 * written, one bad host does not stop the rules of the others, and the
 * monitor's LAN rule is not narrowed to loopback by a name.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { NetworkInterfaceInfo } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Logger } from '../../../src/common/log.js';
import { silentLogger } from '../../../src/common/log.js';
import { syncReplicationHba } from '../../../src/keeper/hba-sync.js';
import type { KeeperRuntime } from '../../../src/keeper/runtime.js';
import { formatHbaRule, formatHbaRuleText, nodeInitHbaRules, type HbaRule } from '../../../src/postgres/hba.js';
import { applyHbaRules } from '../../../src/postgres/hba-file.js';
import { hbaAddressFor, monitorLanCidr, type Resolver } from '../../../src/postgres/network.js';
import { classifyNodeHost } from '../../../src/postgres/node-host.js';

/** The host of the reported attack: a CIDR, then a whole injected line, then a comment. */
const INJECTION = '0.0.0.0/0 trust\nhost all all 0.0.0.0/0 trust #';

const resolver = (forward: Record<string, string[]>, reverse: Record<string, string[]> = {}): Resolver => ({
  lookup: async (host) => {
    const found = forward[host];
    if (!found) throw new Error(`getaddrinfo ENOTFOUND ${host}`);
    return found;
  },
  reverse: async (ip) => reverse[ip] ?? [],
});

const entry = (address: string, cidr: string): NetworkInterfaceInfo => ({
  address, cidr, family: 'IPv4', netmask: '', mac: '00:00:00:00:00:00', internal: false,
} as NetworkInterfaceInfo);
const interfaces = { lo: [entry('127.0.0.1', '127.0.0.1/8')], eth0: [entry('192.168.1.17', '192.168.1.17/24')] };

const dir = mkdtempSync(join(tmpdir(), 'pgaf-hba-injection-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('node hosts (finding 1)', () => {
  it('accepts IP addresses and RFC 1123 host names', () => {
    for (const [host, kind] of [['10.0.0.1', 'ipv4'], ['::1', 'ipv6'], ['fd00::17', 'ipv6'], ['localhost', 'hostname'],
      ['node-1.example.com', 'hostname'], ['1node.lan', 'hostname']] as const) {
      assert.deepEqual(classifyNodeHost(host), { ok: true, value: kind }, host);
    }
  });

  it('refuses CIDRs, whitespace, comments, quotes, control characters, HBA keywords and bad names', () => {
    for (const host of [INJECTION, '0.0.0.0/0', '10.0.0.0/8', 'a b', 'a\tb', 'node#1', '"node"', 'x\n', 'x\r', 'x\u0000',
      'all', 'ALL', 'samehost', 'samenet', '.example.com', '-node', 'node-', 'a..b', 'node.', '10.0.0.256', '1.2.3',
      'fe80::1%eth0', '@hosts', '+group', 'a,b', '', 'x'.repeat(254), `${'a'.repeat(64)}.lan`, 'nöde.lan', 'node_1']) {
      const result = classifyNodeHost(host);
      assert.equal(result.ok, false, JSON.stringify(host));
    }
  });

  it('hbaAddressFor refuses the injected host with a one-line error, before any DNS lookup', async () => {
    let lookups = 0;
    const dns: Resolver = { lookup: async () => { lookups += 1; return ['10.0.0.1']; }, reverse: async () => [] };
    await assert.rejects(hbaAddressFor(INJECTION, dns), (error: Error) => {
      assert.equal(error.message.includes('\n'), false);
      assert.match(error.message, /^refusing to write a pg_hba.conf rule for invalid node host "0\.0\.0\.0\/0 trust\\nhost all all/);
      return true;
    });
    await assert.rejects(hbaAddressFor('0.0.0.0/0', dns), /a network \(CIDR\) is not a host/);
    await assert.rejects(hbaAddressFor('samenet', dns), /pg_hba.conf keyword/);
    assert.equal(lookups, 0);
  });
});

describe('HBA fields are validated when written (finding 1)', () => {
  const base: HbaRule = { type: 'host', database: { keyword: 'replication' }, user: { name: 'pgautofailover_replicator' }, address: '10.0.0.1/32', method: 'trust' };

  it('formats valid rules', () => {
    assert.equal(formatHbaRuleText(base), 'host replication "pgautofailover_replicator" 10.0.0.1/32 trust');
    assert.equal(formatHbaRuleText({ ...base, address: 'node1.lan' }), 'host replication "pgautofailover_replicator" node1.lan trust');
    assert.equal(formatHbaRuleText({ ...base, address: 'fd00::/64' }), 'host replication "pgautofailover_replicator" fd00::/64 trust');
  });

  it('refuses any address, method or name that is not valid', () => {
    const bad: HbaRule[] = [
      { ...base, address: INJECTION },
      { ...base, address: '0.0.0.0/0' },
      { ...base, address: '::/0' },
      { ...base, address: '10.0.0.1' },
      { ...base, address: '10.0.0.1/33' },
      { ...base, address: '10.0.0.1/8 trust' },
      { ...base, address: 'all' },
      { ...base, address: 'samenet' },
      { ...base, method: 'trust\nhost all all 0.0.0.0/0 trust' },
      { ...base, method: 'trust #' },
      { ...base, user: { name: 'x"\nhost all all 0.0.0.0/0 trust' } },
      { ...base, database: { name: 'db\r' } },
    ];
    for (const rule of bad) {
      assert.throws(() => formatHbaRuleText(rule), /^AutoctlError: refusing to write a pg_hba.conf rule: /, JSON.stringify(rule));
      assert.throws(() => formatHbaRule(rule), /refusing to write a pg_hba.conf rule/);
    }
  });

  it('leaves pg_hba.conf unchanged when a rule is refused', () => {
    const path = join(dir, 'pg_hba.conf');
    const before = 'local all all peer\nhost all all 127.0.0.1/32 scram-sha-256\n';
    writeFileSync(path, before);
    assert.throws(() => applyHbaRules(path, [base, { ...base, address: INJECTION }], { skip: false }), /refusing/);
    assert.equal(readFileSync(path, 'utf8'), before);
  });

  it('opens the health-check role to the postgres database only (finding 12)', () => {
    const rules = nodeInitHbaRules({ dbname: 'app', username: 'app', ownAddress: '10.0.0.2/32', monitorAddress: '10.0.0.5/32', authMethod: 'scram-sha-256', sslActive: false });
    const health = rules.filter((r) => 'name' in r.user && r.user.name === 'pgautofailover_monitor');
    assert.deepEqual(health.map(formatHbaRule), ['host "postgres" "pgautofailover_monitor" 10.0.0.5/32 trust # Auto-generated by pg_auto_failover']);
  });
});

describe('the monitor LAN rule (finding 16)', () => {
  it('uses the LAN of a name that resolves both ways, not loopback', async () => {
    const dns = resolver({ 'monitor.lan': ['192.168.1.17'] }, { '192.168.1.17': ['monitor.lan'] });
    assert.deepEqual(await monitorLanCidr('monitor.lan', { resolver: dns, interfaces }), { cidr: '192.168.1.0/24', warnings: [] });
  });

  it('prefers a non-loopback local address, keeps IPs, and falls back to the default route with a warning', async () => {
    const both = resolver({ 'm.lan': ['127.0.0.1', '192.168.1.17'] });
    assert.equal((await monitorLanCidr('m.lan', { resolver: both, interfaces })).cidr, '192.168.1.0/24');
    assert.equal((await monitorLanCidr('192.168.1.17', { interfaces })).cidr, '192.168.1.0/24');
    assert.equal((await monitorLanCidr('127.0.0.1', { interfaces })).cidr, '127.0.0.0/8');
    const debian = resolver({ 'm.lan': ['127.0.1.1'] });
    const fallback = await monitorLanCidr('m.lan', { resolver: debian, interfaces, defaultRoute: async () => '192.168.1.17' });
    assert.equal(fallback.cidr, '192.168.1.0/24');
    assert.match(fallback.warnings[0] ?? '', /does not resolve to a local address/);
    await assert.rejects(monitorLanCidr('m.lan', { resolver: debian, interfaces, defaultRoute: async () => { throw new Error('ENETUNREACH'); } }),
      /cannot find the LAN for the monitor's pg_hba.conf rule/);
  });
});

describe('replication HBA sync, host by host (findings 1 and 9)', () => {
  interface Captured { warn: string[]; info: string[] }
  const capture = (): { log: Logger; seen: Captured } => {
    const seen: Captured = { warn: [], info: [] };
    const log = silentLogger();
    log.warn = ((message: string) => { seen.warn.push(message); }) as Logger['warn'];
    log.info = ((message: string) => { seen.info.push(message); }) as Logger['info'];
    return { log, seen };
  };

  it('writes the rules of good hosts, refuses the injected one, retries the unresolvable one, logs each once', async () => {
    const pgdata = join(dir, 'node');
    rmSync(pgdata, { recursive: true, force: true });
    mkdirSync(pgdata);
    const hbaPath = join(pgdata, 'pg_hba.conf');
    writeFileSync(hbaPath, 'local all all peer\n');
    const { log, seen } = capture();
    let reloads = 0;
    const rt = {
      config: { postgresql: { pgdata, dbname: 'app', hba_level: 'minimal', auth_method: 'scram-sha-256' }, ssl: { active: 0 } },
      otherNodes: [{ host: INJECTION }, { host: 'gone.lan' }, { host: '192.168.1.18' }, { host: '0.0.0.0/0' }],
      hbaHostsKey: '',
      hbaHostFailures: new Map(),
      log,
      postgres: { reload: () => { reloads += 1; } },
    } as unknown as KeeperRuntime;
    const known: Record<string, string[]> = {};
    const dns: Resolver = {
      lookup: async (host) => { const found = known[host]; if (!found) throw new Error(`getaddrinfo ENOTFOUND ${host}`); return found; },
      reverse: async (ip) => Object.keys(known).filter((name) => known[name]?.includes(ip)),
    };

    await syncReplicationHba(rt, { resolver: dns });
    const text = readFileSync(hbaPath, 'utf8');
    assert.equal(text, [
      'local all all peer',
      'host replication "pgautofailover_replicator" 192.168.1.18/32 scram-sha-256 # Auto-generated by pg_auto_failover',
      'host "app" "pgautofailover_replicator" 192.168.1.18/32 scram-sha-256 # Auto-generated by pg_auto_failover',
      '',
    ].join('\n'));
    assert.equal(text.includes('0.0.0.0'), false);
    assert.equal(reloads, 1);
    assert.equal(seen.warn.length, 3);
    assert.ok(seen.warn.every((line) => !line.includes('\n')));
    assert.deepEqual([...rt.hbaHostFailures.keys()].sort(), ['0.0.0.0/0', INJECTION, 'gone.lan'].sort());

    // The next rounds do not log again, and do nothing before the retry time.
    await syncReplicationHba(rt, { resolver: dns });
    assert.equal(seen.warn.length, 3);
    assert.equal(readFileSync(hbaPath, 'utf8'), text);

    // Once due, the retry writes the rules of the host that now resolves; the refused ones stay out.
    known['gone.lan'] = ['192.168.1.19'];
    for (const failure of rt.hbaHostFailures.values()) failure.retryAt = 0;
    await syncReplicationHba(rt, { resolver: dns });
    const after2 = readFileSync(hbaPath, 'utf8');
    assert.match(after2, /host replication "pgautofailover_replicator" gone\.lan scram-sha-256/);
    assert.equal(after2.includes('0.0.0.0'), false);
    assert.equal(reloads, 2);
    assert.equal(seen.warn.length, 3);
    assert.deepEqual([...rt.hbaHostFailures.keys()].sort(), ['0.0.0.0/0', INJECTION].sort());
  });
});
