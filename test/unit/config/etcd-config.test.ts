import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEtcdOption } from '../../../src/cli/commands/create.js';
import {
  defaultMonitorConfig, etcdEndpointsOf, isEtcdPrefix, parseMonitorConfig, renderMonitorConfig,
} from '../../../src/config/index.js';
import { candidateName, defaultEtcdPrefix, parseCandidate } from '../../../src/monitor/ha/etcd.js';

describe('monitor etcd settings', () => {
  it('reads endpoint lists: URLs or bare host:port, comma separated', () => {
    assert.deepEqual(etcdEndpointsOf('http://127.0.0.21:2379,127.0.0.22:2379, https://etcd3.example:2379/'),
      ['http://127.0.0.21:2379', 'http://127.0.0.22:2379', 'https://etcd3.example:2379']);
    assert.deepEqual(etcdEndpointsOf('[::1]:2379'), ['http://[::1]:2379']);
    for (const bad of ['', 'http://a:2379,', 'a', 'http://a', 'a:0', 'a:65536', 'ftp://a:1', 'http://a:1/v3', 'a:1 b:2', 'http://a:1?x=1']) {
      assert.equal(etcdEndpointsOf(bad), undefined, bad);
    }
  });

  it('refuses a bad --etcd with one clear line', () => {
    assert.equal(parseEtcdOption(undefined), undefined);
    assert.equal(parseEtcdOption('127.0.0.21:2379,http://127.0.0.22:2379'), 'http://127.0.0.21:2379,http://127.0.0.22:2379');
    assert.throws(() => parseEtcdOption('127.0.0.21'), (e: Error) => {
      assert.equal(e.message, '--etcd "127.0.0.21" is not valid: expected etcd endpoints (http://host:port or https://host:port) separated by commas');
      return true;
    });
  });

  it('writes the [ha] keys only when set, and reads them back', () => {
    const base = defaultMonitorConfig({ pgdata: '/tmp/m', hostname: 'h' });
    assert.equal(base.ha.etcd, '');
    assert.equal(base.ha.etcd_ttl, 10);
    assert.equal(base.ha.sync_timeout, 10);
    assert.doesNotMatch(renderMonitorConfig(base), /\[ha\]|etcd/);
    const text = renderMonitorConfig({ ...base, ha: { ...base.ha, etcd: 'http://127.0.0.21:2379', etcd_ttl: 6 } });
    assert.match(text, /\[ha\]\netcd = http:\/\/127\.0\.0\.21:2379\netcd_ttl = 6\n/);
    const back = parseMonitorConfig(text);
    assert.ok(back.ok);
    assert.equal(back.value.ha.etcd, 'http://127.0.0.21:2379');
    assert.equal(back.value.ha.etcd_ttl, 6);
    assert.equal(back.value.ha.etcd_prefix, '');
    const bad = parseMonitorConfig(text.replace('etcd_ttl = 6', 'etcd_ttl = 1'));
    assert.ok(!bad.ok);
    const badList = parseMonitorConfig(text.replace('http://127.0.0.21:2379', 'nowhere'));
    assert.ok(!badList.ok);
    assert.match(badList.errors.join('\n'), /ha\.etcd/);
  });

  it('names keys and candidates', () => {
    assert.equal(defaultEtcdPrefix('7301234567890123456'), '/pg_auto_failover/7301234567890123456');
    assert.ok(isEtcdPrefix('/pg_auto_failover/x'));
    assert.ok(!isEtcdPrefix('pg_auto_failover'));
    assert.ok(!isEtcdPrefix('/a/'));
    assert.equal(candidateName('127.0.0.11', 5432), '127.0.0.11:5432');
    assert.deepEqual(parseCandidate('127.0.0.11:5432'), { hostname: '127.0.0.11', port: 5432 });
    assert.deepEqual(parseCandidate(candidateName('::1', 6000)), { hostname: '::1', port: 6000 });
    assert.equal(parseCandidate('nonsense'), undefined);
  });
});
