/**
 * Issue 13, the keeper's side of monitor members: the members file
 * (pg_autoctl.monitors, 0600, tied to the configured URI), the connection
 * target (configured hosts plus members, read-write), the refresh on a new
 * connection and every MEMBERS_REFRESH_MS, and the health-check HBA rules
 * for every monitor host.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { syncMonitorHba } from '../../../src/keeper/hba-sync.js';
import { MonitorLink, withMemberHosts } from '../../../src/keeper/monitor-link.js';
import {
  MEMBERS_REFRESH_MS, configuredHostsKey, formatMonitorsFile, monitorMembersOf, monitorsFileOf, parseMonitorsFile, readMonitorsFile,
  refreshMonitorMembers, removeMonitorsFile, writeMonitorsFile, type MonitorMemberHost,
} from '../../../src/keeper/monitor-members.js';
import type { KeeperRuntime } from '../../../src/keeper/runtime.js';
import { formatUri, nodeInitHbaRules, type ConnInfo } from '../../../src/postgres/index.js';

const silent = pino({ level: 'silent' });

function recorder() {
  const lines: string[] = [];
  const log = {
    info: (m: string) => { lines.push(`info ${m}`); },
    warn: (m: string) => { lines.push(`warn ${m}`); },
    debug: () => undefined,
    error: (m: string) => { lines.push(`error ${m}`); },
  };
  return { lines, log };
}

const targetText = (t: string | ConnInfo): string => (typeof t === 'string' ? t : formatUri(t));

/** A node's directory with a PGDATA that classifyPgData calls a cluster, and a minimal runtime around it. */
function fakeNode(uri: string) {
  const dir = mkdtempSync(join(tmpdir(), 'members-'));
  const pgdata = join(dir, 'pgdata');
  mkdirSync(join(pgdata, 'global'), { recursive: true });
  writeFileSync(join(pgdata, 'PG_VERSION'), '15\n');
  writeFileSync(join(pgdata, 'global', 'pg_control'), '');
  writeFileSync(join(pgdata, 'pg_hba.conf'), 'local all all trust\n');
  const { lines, log } = recorder();
  let reloads = 0;
  const monitor = new MonitorLink({ uri, log: silent });
  const rt = {
    config: {
      pg_autoctl: { monitor: uri, hostname: '127.0.0.2', formation: 'default', name: 'node_1' },
      postgresql: { pgdata, hba_level: 'minimal', dbname: 'postgres', username: '', auth_method: 'trust' },
      ssl: { active: 0 },
    },
    paths: { state: join(dir, 'pg_autoctl.state') },
    log,
    monitor,
    postgres: { reload: () => { reloads += 1; } },
  } as unknown as KeeperRuntime;
  return { rt, dir, pgdata, lines, reloads: () => reloads, hba: () => readFileSync(join(pgdata, 'pg_hba.conf'), 'utf8') };
}

describe('monitor members on the keeper', () => {
  it('adds the members to the configured URI, read-write, without duplicates', () => {
    const one = 'postgres://autoctl_node@127.0.0.11:6001/pg_auto_failover?sslmode=prefer';
    assert.equal(withMemberHosts(one, []), one, 'no members: the URI as configured');
    assert.equal(withMemberHosts(one, [{ host: '127.0.0.11', port: 6001 }]), one, 'the configured host only');
    assert.equal(targetText(withMemberHosts(one, [{ host: '127.0.0.11', port: 6001 }, { host: '127.0.0.12', port: 6002 }])),
      'postgres://autoctl_node@127.0.0.11:6001,127.0.0.12:6002/pg_auto_failover?sslmode=prefer&target_session_attrs=read-write');
    // The same host on another port is another monitor; a URI's own target_session_attrs is kept.
    const two = 'postgres://autoctl_node@127.0.0.11:6001,127.0.0.12:6002/pg_auto_failover?target_session_attrs=read-write';
    assert.equal(targetText(withMemberHosts(two, [{ host: '127.0.0.12', port: 6002 }, { host: '127.0.0.11', port: 6003 }])),
      'postgres://autoctl_node@127.0.0.11:6001,127.0.0.12:6002,127.0.0.11:6003/pg_auto_failover?target_session_attrs=read-write');
    // A host without a port takes the port keyword (else 5432) when compared and written.
    const keywords = 'host=127.0.0.11 port=6001 user=autoctl_node dbname=pg_auto_failover';
    assert.equal(withMemberHosts(keywords, [{ host: '127.0.0.11', port: 6001 }]), keywords);
    const added = withMemberHosts(keywords, [{ host: '::1', port: 6002 }]);
    assert.equal(targetText(added), 'postgres://autoctl_node@127.0.0.11:6001,[::1]:6002/pg_auto_failover?target_session_attrs=read-write');
  });

  it('the link tries the members from the next connection on, and forgets nothing on a new URI', () => {
    const link = new MonitorLink({ uri: 'postgres://autoctl_node@127.0.0.11:6001/pg_auto_failover', log: silent });
    assert.equal(link.connectionTarget, 'postgres://autoctl_node@127.0.0.11:6001/pg_auto_failover');
    link.setMemberHosts([{ host: '127.0.0.12', port: 6002 }]);
    assert.match(targetText(link.connectionTarget), /127\.0\.0\.11:6001,127\.0\.0\.12:6002\/.*target_session_attrs=read-write/);
    link.setUri('postgres://autoctl_node@127.0.0.13:6001/pg_auto_failover');
    assert.match(targetText(link.connectionTarget), /127\.0\.0\.13:6001,127\.0\.0\.12:6002\//);
    assert.equal(link.connected, false);
    assert.equal(link.connectionCount, 0);
  });

  it('keeps the members in a 0600 file beside the state file, tied to the configured hosts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'monitors-'));
    const state = join(dir, 'pg_autoctl.state');
    const file = monitorsFileOf(state);
    assert.equal(file, join(dir, 'pg_autoctl.monitors'));
    const key = configuredHostsKey('postgres://autoctl_node@127.0.0.11:6001/pg_auto_failover');
    assert.equal(key, '127.0.0.11:6001');
    assert.equal(configuredHostsKey('host=::1,/tmp port=1,2'), '[::1]:1,/tmp:2');
    const { lines, log } = recorder();
    assert.deepEqual(readMonitorsFile(file, key, log), [], 'no file: no members');
    const members = [{ host: '127.0.0.11', port: 6001 }, { host: 'monitor-b.example', port: 6002 }];
    writeMonitorsFile(file, key, members);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(readFileSync(file, 'utf8'), 'monitor 127.0.0.11:6001\nmember 127.0.0.11 6001\nmember monitor-b.example 6002\n');
    assert.deepEqual(readMonitorsFile(file, key, log), members);
    assert.deepEqual(readMonitorsFile(file, '127.0.0.99:6001', log), [], 'written for another monitor URI');
    assert.equal(parseMonitorsFile(formatMonitorsFile(key, []), key)?.length, 0);
    assert.throws(() => parseMonitorsFile('member a 1\n', key), /first line/);
    assert.throws(() => parseMonitorsFile('monitor 127.0.0.11:6001\nmember a,b 1\n', key), /member <host> <port>/);
    assert.throws(() => parseMonitorsFile('monitor 127.0.0.11:6001\nmember a 70000\n', key), /member <host> <port>/);
    writeFileSync(file, 'garbage\n');
    assert.deepEqual(readMonitorsFile(file, key, log), [], 'a damaged file is ignored');
    assert.match(lines.at(-1) ?? '', /^warn Ignoring the monitor members file/);
    removeMonitorsFile(state);
    assert.deepEqual(readMonitorsFile(file, key, log), []);
  });

  it('reads the members on each new connection and every MEMBERS_REFRESH_MS, stores a change, and writes the HBA rules', async () => {
    const node = fakeNode('postgres://autoctl_node@127.0.0.11:6001/pg_auto_failover');
    const { rt } = node;
    let rows: MonitorMemberHost[] | undefined = [{ memberId: 1, hostname: '127.0.0.11', port: 6001 }];
    let fetches = 0;
    const fetch = async (): Promise<MonitorMemberHost[] | undefined> => { fetches += 1; return rows; };

    // One monitor, the one of the URI: the one-monitor path keeps its files, output and pg_hba.conf.
    await refreshMonitorMembers(rt, { fetch, now: 0 });
    assert.equal(fetches, 1);
    assert.equal(existsSync(monitorsFileOf(rt.paths.state)), false, 'no members file for one monitor');
    assert.equal(node.hba(), 'local all all trust\n');
    assert.equal(node.reloads(), 0);
    assert.deepEqual(node.lines, []);
    await refreshMonitorMembers(rt, { fetch, now: MEMBERS_REFRESH_MS - 1 });
    assert.equal(fetches, 1, 'not read again within the period on the same connection');

    // A standby monitor joins.
    rows = [...rows, { memberId: 2, hostname: '127.0.0.12', port: 6002 }];
    await refreshMonitorMembers(rt, { fetch, now: MEMBERS_REFRESH_MS });
    assert.equal(fetches, 2);
    assert.equal(readFileSync(monitorsFileOf(rt.paths.state), 'utf8'), 'monitor 127.0.0.11:6001\nmember 127.0.0.11 6001\nmember 127.0.0.12 6002\n');
    assert.match(targetText(rt.monitor.connectionTarget), /127\.0\.0\.11:6001,127\.0\.0\.12:6002\/.*target_session_attrs=read-write/);
    assert.match(node.hba(), /^host "postgres" "pgautofailover_monitor" 127\.0\.0\.11\/32 trust /m);
    assert.match(node.hba(), /^host "postgres" "pgautofailover_monitor" 127\.0\.0\.12\/32 trust /m);
    assert.equal(node.reloads(), 1, 'Postgres reloaded for the new rules');
    assert.ok(node.lines.some((l) => l === 'info The monitor has 2 members: 127.0.0.11:6001, 127.0.0.12:6002'), node.lines.join('\n'));

    // Unchanged: no write, no reload; a monitor without members keeps what was learned.
    rows = undefined;
    await refreshMonitorMembers(rt, { fetch, now: 2 * MEMBERS_REFRESH_MS });
    assert.equal(fetches, 3);
    assert.equal(node.reloads(), 1);
    assert.match(targetText(rt.monitor.connectionTarget), /127\.0\.0\.12:6002/);

    await refreshMonitorMembers(rt, { fetch, now: 5 * MEMBERS_REFRESH_MS });
    assert.equal(fetches, 3, 'a monitor without monitor_members() is asked again on a new connection only');

    // A failed read is logged, nothing changes.
    (rt.monitor as unknown as { connections: number }).connections += 1;
    await refreshMonitorMembers(rt, { fetch: async () => { throw new Error('boom'); }, now: 6 * MEMBERS_REFRESH_MS });
    assert.match(node.lines.at(-1) ?? '', /^warn Failed to read the monitor members: boom/);

    // A keeper started again (a new runtime) takes the members from the file before any connection.
    const restarted = fakeNode('postgres://autoctl_node@127.0.0.11:6001/pg_auto_failover');
    writeFileSync(monitorsFileOf(restarted.rt.paths.state), readFileSync(monitorsFileOf(rt.paths.state)));
    assert.deepEqual(monitorMembersOf(restarted.rt).members, [{ host: '127.0.0.11', port: 6001 }, { host: '127.0.0.12', port: 6002 }]);
    assert.match(targetText(restarted.rt.monitor.connectionTarget), /127\.0\.0\.11:6001,127\.0\.0\.12:6002\//);

    // Another configured monitor: the old members are forgotten.
    restarted.rt.config = { ...restarted.rt.config, pg_autoctl: { ...restarted.rt.config.pg_autoctl, monitor: 'postgres://autoctl_node@127.0.0.13:6001/pg_auto_failover' } };
    restarted.rt.monitor.setUri(restarted.rt.config.pg_autoctl.monitor);
    assert.deepEqual(monitorMembersOf(restarted.rt).members, []);
    assert.equal(restarted.rt.monitor.connectionTarget, 'postgres://autoctl_node@127.0.0.13:6001/pg_auto_failover');
  });

  it('health-check rules for every host of a multi-host URI and every member, once', async () => {
    const node = fakeNode('postgres://autoctl_node@127.0.0.11:6001,127.0.0.12:6002/pg_auto_failover?target_session_attrs=read-write');
    await syncMonitorHba(node.rt, ['127.0.0.13']);
    const rules = node.hba().split('\n').filter((l) => l.includes('pgautofailover_monitor'));
    assert.deepEqual(rules.map((l) => l.split(/\s+/)[3]), ['127.0.0.11/32', '127.0.0.12/32', '127.0.0.13/32']);
    assert.equal(node.reloads(), 1);
    await syncMonitorHba(node.rt, ['127.0.0.13']);
    assert.equal(node.reloads(), 1, 'same hosts: nothing done');
    // The init rules name every host of the URI too.
    const init = nodeInitHbaRules({
      dbname: 'postgres', username: 'postgres', ownAddress: '127.0.0.2/32', monitorAddress: ['127.0.0.11/32', '127.0.0.12/32'], authMethod: 'trust', sslActive: false,
    });
    assert.deepEqual(init.filter((r) => 'name' in r.user && r.user.name === 'pgautofailover_monitor').map((r) => r.address), ['127.0.0.11/32', '127.0.0.12/32']);
  });
});
