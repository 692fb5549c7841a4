import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  MONITOR_SCHEMA, configToJson, defaultMonitorConfig, getConfigValue, parseMonitorConfig, planMonitorReload,
  monitorPeersOf, renderMonitorConfig, setConfigValue, type MonitorConfig,
} from '../../../src/config/index.js';

const golden = (name: string): string => readFileSync(new URL(`../../golden/config/${name}`, import.meta.url), 'utf8');

function parsed(text: string): MonitorConfig {
  const result = parseMonitorConfig(text);
  if (!result.ok) assert.fail(result.errors.join('\n'));
  return result.value;
}

describe('monitor config', () => {
  it('round-trips the recorded 2.0 monitor file byte for byte', () => {
    const text = golden('monitor_pg_autoctl.cfg.out');
    assert.equal(renderMonitorConfig(parsed(text)), text);
  });

  it('config get prints the config completed with the socket directory', () => {
    const config = parsed(golden('monitor_pg_autoctl.cfg.out'));
    const completed = { ...config, postgresql: { ...config.postgresql, host: '/var/run/postgresql' } };
    assert.equal(`${renderMonitorConfig(completed)}\n`, golden('config_get_monitor.out'));
    assert.deepEqual(Object.keys(configToJson(completed).ssl ?? {}), ['sslmode', 'active']);
  });

  it('builds the create-time file with fixed username and dbname', () => {
    const base = defaultMonitorConfig({ pgdata: '/tmp/anchor/capture/monitor', hostname: '127.0.0.1' });
    assert.equal(base.postgresql.username, 'autoctl_node');
    assert.equal(base.postgresql.dbname, 'pg_auto_failover');
    const config: MonitorConfig = {
      ...base,
      postgresql: { ...base.postgresql, pg_ctl: '/usr/lib/postgresql/15/bin/pg_ctl', port: 6000, listen_addresses: '127.0.0.1', auth_method: 'trust' },
    };
    assert.equal(renderMonitorConfig(config), golden('monitor_pg_autoctl.cfg.out'));
  });

  it('has no hba_level nor proxyport, and writes sslmode before active', () => {
    assert.deepEqual(Object.keys(MONITOR_SCHEMA.postgresql), ['pgdata', 'pg_ctl', 'username', 'dbname', 'host', 'port', 'listen_addresses', 'auth_method']);
    assert.deepEqual(Object.keys(MONITOR_SCHEMA.ssl), ['sslmode', 'active', 'ca_file', 'crl_file', 'cert_file', 'key_file']);
  });

  it('get and set by section.key', () => {
    const config = parsed(golden('monitor_pg_autoctl.cfg.out'));
    assert.deepEqual(getConfigValue(config, 'postgresql.port'), { ok: true, value: 6000 });
    assert.deepEqual(getConfigValue(config, 'postgresql.hba_level'), { ok: false, errors: 'Failed to lookup option postgresql.hba_level' });
    const set = setConfigValue(config, 'ssl.sslmode', 'require');
    assert.ok(set.ok);
    assert.equal(set.value.ssl.sslmode, 'require');
    assert.deepEqual(setConfigValue(config, 'postgresql.dbname', 'x'), {
      ok: false, errors: 'postgresql.dbname can not be changed once the node has been created',
    });
  });

  it('refuses a keeper file', () => {
    const result = parseMonitorConfig(golden('node1_pg_autoctl.cfg.out'));
    assert.equal(result.ok, false);
    assert.deepEqual(result.ok ? [] : result.errors, ['invalid value "keeper" for pg_autoctl.role: expected "monitor"']);
  });

  it('reload takes hostname and ssl changes, keeps the port', () => {
    const running = parsed(golden('monitor_pg_autoctl.cfg.out'));
    const reread = { ...running, pg_autoctl: { ...running.pg_autoctl, hostname: 'mon.local' }, postgresql: { ...running.postgresql, port: 6100 } };
    const { config, changes } = planMonitorReload(running, reread);
    assert.equal(config.pg_autoctl.hostname, 'mon.local');
    assert.equal(config.postgresql.port, 6000);
    assert.deepEqual(changes.map((c) => [c.path, c.applied]), [['pg_autoctl.hostname', true], ['postgresql.port', false]]);
  });

  it('ha.peers: absent from the file unless set, then a list of monitor URIs', () => {
    const text = golden('monitor_pg_autoctl.cfg.out');
    const config = parsed(text);
    assert.equal(config.ha.peers, '');
    assert.equal(renderMonitorConfig(config), text, 'unset: the 2.0 file byte for byte');
    const set = setConfigValue(config, 'ha.peers', 'postgres://autoctl_node@127.0.0.12:5432/pg_auto_failover postgres://autoctl_node@127.0.0.13:5432/pg_auto_failover');
    assert.ok(set.ok);
    const rendered = renderMonitorConfig(set.value);
    assert.match(rendered, /\n\[ha\]\npeers = postgres:\/\/autoctl_node@127\.0\.0\.12:5432\/pg_auto_failover postgres:/);
    assert.equal(parsed(rendered).ha.peers, set.value.ha.peers);
    assert.deepEqual(monitorPeersOf(set.value.ha.peers), [
      'postgres://autoctl_node@127.0.0.12:5432/pg_auto_failover', 'postgres://autoctl_node@127.0.0.13:5432/pg_auto_failover']);
    const bad = setConfigValue(config, 'ha.peers', 'host=127.0.0.12 port=5432');
    assert.equal(bad.ok, false);
  });

  it('replication.password: absent from the file unless set', () => {
    const text = golden('monitor_pg_autoctl.cfg.out');
    const config = parsed(text);
    assert.equal(config.replication.password, '');
    assert.equal(renderMonitorConfig(config), text);
    const set = setConfigValue(config, 'replication.password', 's3cret');
    assert.ok(set.ok);
    const rendered = renderMonitorConfig(set.value);
    assert.match(rendered, /\n\[replication\]\npassword = s3cret\n/);
    assert.equal(parsed(rendered).replication.password, 's3cret');
  });
});

