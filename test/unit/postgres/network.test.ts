import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NetworkInterfaceInfo } from 'node:os';
import {
  checkGivenHostname, discoverHostname, hbaAddressFor, lanCidrFor, networkOfCidr, type Resolver,
} from '../../../src/postgres/network.js';

const resolver = (forward: Record<string, string[]>, reverse: Record<string, string[]>): Resolver => ({
  lookup: async (host) => {
    const found = forward[host];
    if (!found) throw new Error(`ENOTFOUND ${host}`);
    return found;
  },
  reverse: async (ip) => reverse[ip] ?? [],
});

const entry = (address: string, cidr: string, family: 'IPv4' | 'IPv6' = 'IPv4'): NetworkInterfaceInfo => ({
  address, cidr, family, netmask: '', mac: '00:00:00:00:00:00', internal: false, ...(family === 'IPv6' ? { scopeid: 0 } : {}),
} as NetworkInterfaceInfo);
const interfaces = { lo: [entry('127.0.0.1', '127.0.0.1/8')], eth0: [entry('192.168.1.17', '192.168.1.17/24'), entry('fd00::17', 'fd00::17/64', 'IPv6')] };

describe('network facts', () => {
  it('computes network CIDRs', () => {
    assert.equal(networkOfCidr('127.0.0.1/8'), '127.0.0.0/8');
    assert.equal(networkOfCidr('192.168.1.17/24'), '192.168.1.0/24');
    assert.equal(networkOfCidr('10.231.0.9/32'), '10.231.0.9/32');
    assert.equal(networkOfCidr('fd00::17/64'), 'fd00::/64');
    assert.equal(networkOfCidr('2001:db8:1:2:3:4:5:6/48'), '2001:db8:1::/48');
    assert.throws(() => networkOfCidr('300.1.1.1/8'), /invalid CIDR/);
    assert.throws(() => networkOfCidr('1.1.1.1/40'), /invalid CIDR/);
  });

  it('finds the LAN of a local address', () => {
    assert.equal(lanCidrFor('127.0.0.1', interfaces), '127.0.0.0/8');
    assert.equal(lanCidrFor('192.168.1.17', interfaces), '192.168.1.0/24');
    assert.equal(lanCidrFor('fd00::17', interfaces), 'fd00::/64');
    assert.throws(() => lanCidrFor('10.0.0.1', interfaces), /cannot find a local network interface/);
  });

  it('chooses HBA addresses: CIDR refused, IP as /32 or /128, names only when DNS agrees', async () => {
    const dns = resolver({ 'node1.lan': ['192.168.1.17'], 'alias.lan': ['192.168.1.18'] }, { '192.168.1.17': ['node1.lan.'], '192.168.1.18': ['other.lan'] });
    await assert.rejects(hbaAddressFor('10.0.0.0/8', dns), /refusing to write a pg_hba.conf rule for invalid node host "10.0.0.0\/8": it contains "\/"/);
    assert.deepEqual(await hbaAddressFor('127.0.0.1', dns), { address: '127.0.0.1/32', isHostname: false, ip: '127.0.0.1', warnings: [] });
    assert.equal((await hbaAddressFor('::1', dns)).address, '::1/128');
    assert.deepEqual(await hbaAddressFor('node1.lan', dns), { address: 'node1.lan', isHostname: true, ip: '192.168.1.17', warnings: [] });
    const alias = await hbaAddressFor('alias.lan', dns);
    assert.equal(alias.address, '192.168.1.18/32');
    assert.equal(alias.isHostname, false);
    assert.match(alias.warnings[0] ?? '', /Using IP address "192.168.1.18" in HBA file instead of hostname "alias.lan"/);
    await assert.rejects(hbaAddressFor('nowhere.lan', dns), /cannot resolve host name "nowhere.lan"/);
  });

  it('checks a given --hostname', async () => {
    const dns = resolver({ 'node1.lan': ['192.168.1.17'], 'far.lan': ['10.9.9.9'] }, {});
    assert.equal(await checkGivenHostname('node1.lan', { resolver: dns, interfaces }), undefined);
    assert.equal(await checkGivenHostname('127.0.0.1', { resolver: dns, interfaces }), undefined);
    assert.match(await checkGivenHostname('far.lan', { resolver: dns, interfaces }) ?? '', /Failed to resolve hostname "far.lan" to a local IP address/);
    assert.match(await checkGivenHostname('10.1.1.1', { resolver: dns, interfaces }) ?? '', /Failed to find address "10.1.1.1" in local network interfaces/);
  });

  it('discovers the hostname: a name only when it resolves back to a local address', async () => {
    const localIp = async (): Promise<string> => '192.168.1.17';
    const good = resolver({ 'node1.lan': ['192.168.1.17'] }, { '192.168.1.17': ['node1.lan'] });
    assert.deepEqual(await discoverHostname({ host: 'monitor', port: 5432 }, {}, { resolver: good, interfaces, localIp }),
      { hostname: 'node1.lan', ip: '192.168.1.17', source: 'name' });
    const bad = resolver({ 'node1.lan': ['10.0.0.1'] }, { '192.168.1.17': ['node1.lan'] });
    assert.deepEqual(await discoverHostname({ host: 'monitor', port: 5432 }, {}, { resolver: bad, interfaces, localIp }),
      { hostname: '192.168.1.17', ip: '192.168.1.17', source: 'ip' });
    const own = resolver({ 'box': ['127.0.1.1', '192.168.1.17'] }, {});
    assert.deepEqual(await discoverHostname({ host: '8.8.8.8', port: 53 }, { tryGethostname: true },
      { resolver: own, interfaces, localIp, systemHostname: () => 'box' }), { hostname: 'box', ip: '192.168.1.17', source: 'gethostname' });
  });
});
