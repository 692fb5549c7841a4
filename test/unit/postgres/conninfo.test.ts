import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compareSslModes, formatKeywords, formatUri, getParam, parseConnInfo, parseSslMode, replicationConninfo,
  scrubPasswords, setParam, sslModeOf,
} from '../../../src/postgres/conninfo.js';

describe('conninfo: URIs', () => {
  it('parses the monitor URI of the reference', () => {
    const info = parseConnInfo('postgres://autoctl_node@127.0.0.1:6000/pg_auto_failover?sslmode=prefer');
    assert.deepEqual(info, {
      hosts: [{ host: '127.0.0.1', port: 6000 }], user: 'autoctl_node', dbname: 'pg_auto_failover', params: [['sslmode', 'prefer']],
    });
    assert.equal(formatUri(info), 'postgres://autoctl_node@127.0.0.1:6000/pg_auto_failover?sslmode=prefer');
  });

  it('parses multi-host URIs, IPv6, passwords and percent-encoding', () => {
    const info = parseConnInfo('postgresql://us%40er:p%3Ass@node1:5432,[::1]:5433,node3/app%20db?target_session_attrs=read-write&sslmode=require');
    assert.deepEqual(info.hosts, [{ host: 'node1', port: 5432 }, { host: '::1', port: 5433 }, { host: 'node3' }]);
    assert.equal(info.user, 'us@er');
    assert.equal(info.password, 'p:ss');
    assert.equal(info.dbname, 'app db');
    assert.equal(getParam(info, 'target_session_attrs'), 'read-write');
    assert.equal(sslModeOf(info), 'require');
    assert.equal(formatUri(info),
      'postgres://us%40er:p%3Ass@node1:5432,[::1]:5433,node3/app%20db?target_session_attrs=read-write&sslmode=require');
  });

  it('takes host, port and other keywords from the query string, socket directories included', () => {
    const info = parseConnInfo('postgres:///postgres?host=%2Ftmp%2Fsock&port=6001&application_name=x');
    assert.deepEqual(info.hosts, [{ host: '/tmp/sock', port: 6001 }]);
    assert.equal(info.dbname, 'postgres');
    assert.equal(formatKeywords(info), 'host=/tmp/sock port=6001 dbname=postgres application_name=x');
  });

  it('rejects malformed URIs with a clear error', () => {
    assert.throws(() => parseConnInfo('postgres://h:notaport/db'), /invalid port "notaport"/);
    assert.throws(() => parseConnInfo('postgres://h/db?sslmode=maybe'), /invalid sslmode "maybe"/);
    assert.throws(() => parseConnInfo('postgres://[::1/db'), /unterminated IPv6/);
    assert.throws(() => parseConnInfo('postgres://h/db?novalue'), /missing "="/);
  });
});

describe('conninfo: keyword/value strings', () => {
  it('parses quoting and escapes as libpq does', () => {
    const info = parseConnInfo(" host=node1 port = 5433 user='pgautofailover_replicator' password='it\\'s a \\\\secret' sslmode=verify-ca sslrootcert=/etc/ca.crt ");
    assert.deepEqual(info.hosts, [{ host: 'node1', port: 5433 }]);
    assert.equal(info.password, "it's a \\secret");
    assert.deepEqual(info.params, [['sslmode', 'verify-ca'], ['sslrootcert', '/etc/ca.crt']]);
    assert.equal(formatKeywords(info),
      "host=node1 port=5433 user=pgautofailover_replicator password='it\\'s a \\\\secret' sslmode=verify-ca sslrootcert=/etc/ca.crt");
    assert.deepEqual(parseConnInfo(formatKeywords(info)), info);
  });

  it('spreads one port over several hosts, and pairs lists', () => {
    assert.deepEqual(parseConnInfo('host=a,b port=5432').hosts, [{ host: 'a', port: 5432 }, { host: 'b', port: 5432 }]);
    assert.deepEqual(parseConnInfo('host=a,b port=1,2').hosts, [{ host: 'a', port: 1 }, { host: 'b', port: 2 }]);
    assert.throws(() => parseConnInfo('host=a,b,c port=1,2'), /2 ports for 3 hosts/);
    assert.throws(() => parseConnInfo('host=a port'), /missing "="/);
    assert.throws(() => parseConnInfo("host='a"), /unterminated/);
  });

  it('converts between the two forms', () => {
    const info = parseConnInfo('port=6001 dbname=postgres host=/var/run/postgresql user=postgres');
    assert.equal(formatUri(info), 'postgres://postgres@%2Fvar%2Frun%2Fpostgresql:6001/postgres');
    assert.deepEqual(parseConnInfo(formatUri(info)), info);
  });

  it('sets and removes parameters without reordering the others', () => {
    const info = parseConnInfo('postgres://u@h/db?sslmode=prefer&application_name=a');
    const verify = setParam(setParam(info, 'sslmode', 'verify-full'), 'sslrootcert', '/ca.crt');
    assert.equal(formatUri(verify), 'postgres://u@h/db?sslmode=verify-full&application_name=a&sslrootcert=/ca.crt');
    assert.equal(formatUri(setParam(verify, 'application_name', undefined)), 'postgres://u@h/db?sslmode=verify-full&sslrootcert=/ca.crt');
    assert.equal(sslModeOf(parseConnInfo('host=h')), 'prefer');
  });
});

describe('conninfo: helpers', () => {
  it('builds primary_conninfo exactly as the reference standby file', () => {
    const source = { host: '127.0.0.1', port: 6001, user: 'pgautofailover_replicator', applicationName: 'pgautofailover_standby_2', sslMode: 'prefer' as const };
    assert.equal(replicationConninfo(source, { includePassword: true }),
      'application_name=pgautofailover_standby_2 host=127.0.0.1 port=6001 user=pgautofailover_replicator sslmode=prefer');
    const verified = { ...source, password: 'pw d', sslMode: 'verify-full' as const, sslRootCert: '/ca.crt', sslCrl: '/crl.pem' };
    assert.equal(replicationConninfo(verified, { includePassword: true, dbname: 'app' }),
      "application_name=pgautofailover_standby_2 host=127.0.0.1 port=6001 user=pgautofailover_replicator password='pw d' dbname=app sslmode=verify-full sslrootcert=/ca.crt sslcrl=/crl.pem");
    assert.equal(replicationConninfo({ ...verified, sslMode: 'require' }, { includePassword: false }),
      'application_name=pgautofailover_standby_2 host=127.0.0.1 port=6001 user=pgautofailover_replicator sslmode=require');
  });

  it('scrubs passwords in both forms', () => {
    assert.equal(scrubPasswords("host=h password='a b' user=u"), 'host=h password=**** user=u');
    assert.equal(scrubPasswords('host=h password=secret'), 'host=h password=****');
    assert.equal(scrubPasswords('postgres://autoctl_node:secret@monitor:5432/pg_auto_failover'), 'postgres://autoctl_node:****@monitor:5432/pg_auto_failover');
    assert.equal(scrubPasswords('postgres://autoctl_node@monitor/x'), 'postgres://autoctl_node@monitor/x');
  });

  it('orders and parses sslmodes', () => {
    assert.ok(compareSslModes('require', 'verify-ca') < 0);
    assert.ok(compareSslModes('verify-full', 'prefer') > 0);
    assert.equal(parseSslMode('allow'), 'allow');
    assert.throws(() => parseSslMode('yes'), /Failed to parse ssl mode "yes"/);
  });
});
