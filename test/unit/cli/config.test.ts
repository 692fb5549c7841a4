/**
 * `config get|set|check` renderings and key handling, byte for byte
 * against the 2.0 recordings (the configuration files recorded with them).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { data, renderResult } from '../../../src/cli/command.js';
import { configCheckRendering, configGetRendering, isTextOnly, versionNumber, type ConfigCheckData } from '../../../src/cli/render/config.js';
import { getConfigValue, parseConfig, setConfigValue, type AnyConfig } from '../../../src/config/index.js';
import { reference, noReference } from '../../helpers/recordings.js';


/** A recorded pg_autoctl.cfg, completed as `config get` completes it (the socket directory of the running Postgres). */
function recordedConfig(file: string): AnyConfig {
  const parsed = parseConfig(reference(`files/${file}`) ?? '');
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.join('; '));
  return { ...parsed.value, postgresql: { ...parsed.value.postgresql, host: '/var/run/postgresql' } } as AnyConfig;
}

describe('config get', () => {
  it('prints a keeper configuration as recorded', { skip: noReference('config_get') }, () => {
    const config = recordedConfig('node1_pg_autoctl.cfg');
    assert.equal(renderResult(data({ kind: 'all' as const, config }), configGetRendering, false), reference('config_get'));
    assert.equal(renderResult(data({ kind: 'all' as const, config }), configGetRendering, true), reference('config_get--json'));
  });

  it('prints a monitor configuration as recorded', { skip: noReference('config_get_monitor') }, () => {
    const config = recordedConfig('monitor_pg_autoctl.cfg');
    assert.equal(renderResult(data({ kind: 'all' as const, config }), configGetRendering, false), reference('config_get_monitor'));
  });

  it('prints one value as recorded, also with --json', { skip: noReference('config_get_pg_autoctl.monitor') }, () => {
    const config = recordedConfig('node1_pg_autoctl.cfg');
    const value = getConfigValue(config, 'pg_autoctl.monitor');
    assert.ok(value.ok);
    const shown = { kind: 'value' as const, value: value.value, textOnly: true as const };
    assert.ok(isTextOnly(shown));
    assert.equal(renderResult(data(shown), configGetRendering, false), reference('config_get_pg_autoctl.monitor'));
  });

  it('refuses an unknown key', () => {
    const config = recordedConfig('node1_pg_autoctl.cfg');
    const value = getConfigValue(config, 'pg_autoctl.nosuchkey');
    assert.ok(!value.ok);
    assert.equal(value.errors, 'Failed to lookup option pg_autoctl.nosuchkey');
  });
});

describe('config set', () => {
  const config = (): AnyConfig => recordedConfig('node1_pg_autoctl.cfg');

  it('sets a reloadable integer key', () => {
    const next = setConfigValue(config(), 'timeout.network_partition_timeout', '25');
    assert.ok(next.ok);
    const value = getConfigValue(next.value, 'timeout.network_partition_timeout');
    assert.ok(value.ok);
    assert.equal(value.value, 25);
  });

  it('refuses a value of the wrong type, an unknown key, and a key fixed at creation', () => {
    const wrongType = setConfigValue(config(), 'timeout.network_partition_timeout', 'soon');
    assert.ok(!wrongType.ok);
    assert.equal(wrongType.errors, 'Failed to parse timeout.network_partition_timeout\'s value "soon" as a number');
    const unknown = setConfigValue(config(), 'timeout.nosuchkey', '1');
    assert.ok(!unknown.ok);
    assert.equal(unknown.errors, 'Failed to lookup option timeout.nosuchkey');
    const fixed = setConfigValue(config(), 'postgresql.pgdata', '/elsewhere');
    assert.ok(!fixed.ok);
    const badEnum = setConfigValue(config(), 'ssl.sslmode', 'sometimes');
    assert.ok(!badEnum.ok);
  });
});

describe('config check', () => {
  it('prints the setup summary of the recording', { skip: noReference('config_check') }, () => {
    const check: ConfigCheckData = {
      pgdata: '/tmp/anchor/capture/node1',
      pgCtl: '/usr/lib/postgresql/15/bin/pg_ctl',
      version: '15.18',
      host: '/var/run/postgresql',
      port: 6001,
      proxyport: 0,
      pid: 10040,
      inRecovery: false,
      control: { clusterState: 'in production', version: 1300, catalogVersion: 202209061, systemIdentifier: 7712242098153588458n, latestCheckpointLsn: '0/3000060' },
      pmStatus: 'ready',
      config: recordedConfig('node1_pg_autoctl.cfg'),
    };
    assert.equal(renderResult(data(check), configCheckRendering, false), reference('config_check'));
    const json = JSON.parse(renderResult(data(check), configCheckRendering, true)) as { postgres: Record<string, unknown>; config: Record<string, unknown> };
    assert.deepEqual(Object.keys(json.postgres), ['pgdata', 'pg_ctl', 'version', 'host', 'port', 'proxyport', 'pid', 'in_recovery', 'control', 'postmaster']);
    assert.deepEqual(json.postgres.control, { version: 1300, catalog_version: 202209061, system_identifier: '7712242098153588458' });
    assert.deepEqual(Object.keys(json.config), ['pg_autoctl', 'postgresql', 'ssl', 'replication', 'timeout', 'citus']);
  });

  it('numbers versions as 2.0 does', () => {
    assert.equal(versionNumber('15.18'), 1518);
    assert.equal(versionNumber('16.2'), 1602);
    assert.equal(versionNumber('17beta1'), 1700);
  });
});
