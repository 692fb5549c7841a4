import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  KEEPER_SCHEMA, MONITOR_DISABLED, backupDirectoryForNode, configToJson, defaultKeeperConfig, getConfigValue,
  parseKeeperConfig, planKeeperReload, renderKeeperConfig, setConfigValue, type KeeperConfig, type NodeKind,
} from '../../../src/config/index.js';

const golden = (name: string): string => readFileSync(new URL(`../../golden/config/${name}`, import.meta.url), 'utf8');

function parsed(text: string): KeeperConfig {
  const result = parseKeeperConfig(text);
  if (!result.ok) assert.fail(result.errors.join('\n'));
  return result.value;
}

describe('keeper config: recorded 2.0 files', () => {
  for (const name of ['node1_pg_autoctl.cfg.out', 'node2_pg_autoctl.cfg.out']) {
    it(`round-trips ${name} byte for byte`, () => {
      const text = golden(name);
      assert.equal(renderKeeperConfig(parsed(text)), text);
    });
  }

  it('reads every value with its type', () => {
    const config = parsed(golden('node1_pg_autoctl.cfg.out'));
    assert.equal(config.pg_autoctl.role, 'keeper');
    assert.equal(config.pg_autoctl.group, 0);
    assert.equal(config.pg_autoctl.name, 'node_1');
    assert.equal(config.postgresql.port, 6001);
    assert.equal(config.postgresql.username, 'postgres');
    assert.equal(config.postgresql.host, '');
    assert.equal(config.ssl.active, 0);
    assert.equal(config.timeout.listen_notifications_timeout, 0);
    assert.equal(config.timeout.network_partition_timeout, 20);
    assert.equal(config.replication.backup_directory, '/tmp/anchor/capture/backup/node_1');
    const node2 = parsed(golden('node2_pg_autoctl.cfg.out'));
    assert.equal(node2.postgresql.username, '');
  });

  it('show file --config --contents is the file and one newline', () => {
    const config = parsed(golden('node1_pg_autoctl.cfg.out'));
    assert.equal(`${renderKeeperConfig(config)}\n`, golden('show_file--config--contents.out'));
  });

  it('config get prints the config completed with the socket directory', () => {
    const config = parsed(golden('node1_pg_autoctl.cfg.out'));
    const completed = { ...config, postgresql: { ...config.postgresql, host: '/var/run/postgresql' } };
    assert.equal(`${renderKeeperConfig(completed)}\n`, golden('config_get.out'));
    const json = `${JSON.stringify(configToJson(completed), null, 4).replaceAll('/', '\\/')}\n`;
    assert.equal(json, golden('config_get--json.out'));
    const monitor = getConfigValue(config, 'pg_autoctl.monitor');
    assert.deepEqual(monitor, { ok: true, value: golden('config_get_pg_autoctl.monitor.out').trimEnd() });
  });
});

describe('keeper config: defaults', () => {
  it('fills missing keys with their defaults and derives the backup directory', () => {
    const config = parsed('[pg_autoctl]\nrole = keeper\nhostname = db1\n[postgresql]\npgdata = /srv/pg/data\n');
    assert.equal(config.pg_autoctl.formation, 'default');
    assert.equal(config.pg_autoctl.group, -1);
    assert.equal(config.pg_autoctl.nodekind, 'standalone');
    assert.equal(config.postgresql.port, 5432);
    assert.equal(config.postgresql.dbname, 'postgres');
    assert.equal(config.postgresql.listen_addresses, '*');
    assert.equal(config.postgresql.hba_level, 'minimal');
    assert.equal(config.ssl.sslmode, 'prefer');
    assert.equal(config.replication.maximum_backup_rate, '100M');
    assert.equal(config.replication.backup_directory, '/srv/pg/backup/db1');
    assert.deepEqual(config.timeout, {
      network_partition_timeout: 20,
      prepare_promotion_catchup: 30,
      prepare_promotion_walreceiver: 5,
      postgresql_restart_failure_timeout: 20,
      postgresql_restart_failure_max_retries: 3,
      listen_notifications_timeout: 60,
      citus_master_update_node_lock_cooldown: 10000,
      citus_coordinator_wait_max_retries: 100,
      citus_coordinator_wait_timeout: 300,
    });
    assert.equal(config.citus.role, 'primary');
  });

  it('reads the legacy nodename key as the hostname and never writes it', () => {
    const config = parsed('[pg_autoctl]\nrole = keeper\nnodename = old.local\n[postgresql]\npgdata = /d\n');
    assert.equal(config.pg_autoctl.hostname, 'old.local');
    assert.match(renderKeeperConfig(config), /^hostname = old\.local$/m);
    assert.doesNotMatch(renderKeeperConfig(config), /nodename/);
  });

  it('ignores unknown keys and sections, comments and blank lines', () => {
    const config = parsed('; comment\n# other\n[pg_autoctl]\nrole = keeper\nhostname = h\nfuture = 1\n\n[replication]\nslot = x\n[postgresql]\npgdata = /d\n[extra]\na = b\n');
    assert.equal(config.pg_autoctl.hostname, 'h');
  });

  it('builds a create-time config matching the recorded file with legacy zero timeouts', () => {
    const base = defaultKeeperConfig({ pgdata: '/tmp/anchor/capture/node1', hostname: '127.0.0.1' }, { legacyCreateTimeouts: true });
    const config: KeeperConfig = {
      ...base,
      pg_autoctl: { ...base.pg_autoctl, monitor: 'postgres://autoctl_node@127.0.0.1:6000/pg_auto_failover?sslmode=prefer', group: 0, name: 'node_1' },
      postgresql: { ...base.postgresql, pg_ctl: '/usr/lib/postgresql/15/bin/pg_ctl', username: 'postgres', port: 6001, listen_addresses: '127.0.0.1', auth_method: 'trust' },
      replication: { ...base.replication, backup_directory: backupDirectoryForNode('/tmp/anchor/capture/node1', 1) },
    };
    assert.equal(renderKeeperConfig(config), golden('node1_pg_autoctl.cfg.out'));
    const documented = defaultKeeperConfig({ pgdata: '/d', hostname: 'h' });
    assert.equal(documented.timeout.listen_notifications_timeout, 60);
    assert.equal(documented.replication.backup_directory, '/backup/h');
  });

  it('writes integers always and omits empty strings, including ssl files', () => {
    const base = defaultKeeperConfig({ pgdata: '/d', hostname: 'h' });
    const text = renderKeeperConfig({ ...base, ssl: { ...base.ssl, active: 1, sslmode: 'require', cert_file: '/d/server.crt', key_file: '/d/server.key' } });
    assert.match(text, /\[ssl\]\nactive = 1\nsslmode = require\ncert_file = \/d\/server.crt\nkey_file = \/d\/server.key\n\n/);
    assert.match(text, /^group = -1$/m);
    assert.match(text, /^proxyport = 0$/m);
    assert.doesNotMatch(text, /^(monitor|name|username|host|ca_file|password|cluster_name) =/m);
  });
});

describe('keeper config: bad content', () => {
  const base = '[pg_autoctl]\nrole = keeper\nhostname = h\n[postgresql]\npgdata = /d\n';

  const errorsOf = (text: string): string[] => {
    const result = parseKeeperConfig(text);
    assert.equal(result.ok, false);
    return result.ok ? [] : result.errors;
  };

  it('names the key of a non-numeric integer', () => {
    assert.deepEqual(errorsOf(`${base}port = 54x32\n`), ['Failed to parse postgresql.port\'s value "54x32" as a number']);
  });

  it('names the key of an out-of-range or unknown enumerated value', () => {
    assert.deepEqual(errorsOf(`${base}port = 70000\n`), ['invalid value "70000" for postgresql.port: must be between 1 and 65535']);
    assert.deepEqual(errorsOf(`${base}hba_level = lots\n`), ['invalid value "lots" for postgresql.hba_level: expected one of: skip, minimal, app']);
    assert.deepEqual(errorsOf(`${base}[ssl]\nsslmode = maybe\n`), ['invalid value "maybe" for ssl.sslmode: expected one of: disable, allow, prefer, require, verify-ca, verify-full']);
  });

  it('reports missing required keys and a wrong role', () => {
    assert.deepEqual(errorsOf('[pg_autoctl]\nrole = keeper\n'), ['pg_autoctl.hostname is required but missing', 'postgresql.pgdata is required but missing']);
    assert.deepEqual(errorsOf('[pg_autoctl]\nrole = monitor\nhostname = h\n[postgresql]\npgdata = /d\n'), ['invalid value "monitor" for pg_autoctl.role: expected "keeper"']);
    assert.deepEqual(errorsOf(`${base.replace('/d', 'relative/d')}`), ['invalid value "relative/d" for postgresql.pgdata: expected an absolute path']);
  });

  it('reports malformed lines with their number', () => {
    assert.deepEqual(errorsOf('[pg_autoctl\nrole = keeper\n'), [
      'line 1: section header is missing its closing "]"',
      'line 2: key "role" appears before any [section]',
    ]);
    assert.deepEqual(errorsOf('[pg_autoctl]\njust words\n'), ['line 2: expected "key = value", found "just words"']);
  });
});

describe('keeper config: config get / set', () => {
  const config = parsed(golden('node1_pg_autoctl.cfg.out'));

  it('gets values by section.key, integers as numbers, empty as ""', () => {
    assert.deepEqual(getConfigValue(config, 'postgresql.port'), { ok: true, value: 6001 });
    assert.deepEqual(getConfigValue(config, 'ssl.ca_file'), { ok: true, value: '' });
    assert.deepEqual(getConfigValue(config, 'pg_autoctl.nodename'), { ok: true, value: '127.0.0.1' });
  });

  it('refuses unknown keys', () => {
    for (const path of ['postgresql.nope', 'nope.port', 'port', '', 'postgresql.', 'postgresql.toString', '__proto__.x']) {
      assert.deepEqual(getConfigValue(config, path), { ok: false, errors: `Failed to lookup option ${path}` });
      assert.deepEqual(setConfigValue(config, path, '1'), { ok: false, errors: `Failed to lookup option ${path}` });
    }
  });

  it('sets a value into a new config, leaving the old one alone', () => {
    const result = setConfigValue(config, 'timeout.network_partition_timeout', '5');
    assert.ok(result.ok);
    assert.equal(result.value.timeout.network_partition_timeout, 5);
    assert.equal(config.timeout.network_partition_timeout, 20);
    assert.equal(result.value.postgresql.port, 6001);
    const named = setConfigValue(config, 'pg_autoctl.name', 'alpha');
    assert.ok(named.ok);
    assert.equal(named.value.pg_autoctl.name, 'alpha');
    const cleared = setConfigValue(config, 'postgresql.username', '');
    assert.ok(cleared.ok);
    assert.doesNotMatch(renderKeeperConfig(cleared.value), /username/);
    const disabled = setConfigValue(config, 'pg_autoctl.monitor', MONITOR_DISABLED);
    assert.ok(disabled.ok);
  });

  it('refuses values that would break the file layout', () => {
    assert.deepEqual(setConfigValue(config, 'replication.password', 'a\nb'), {
      ok: false, errors: 'invalid value "a\nb" for replication.password: must be a single line',
    });
  });

  it('refuses bad values with the messages of config set', () => {
    assert.deepEqual(setConfigValue(config, 'postgresql.port', 'x'), { ok: false, errors: 'Failed to parse postgresql.port\'s value "x" as a number' });
    assert.deepEqual(setConfigValue(config, 'timeout.network_partition_timeout', '-1'), {
      ok: false, errors: 'invalid value "-1" for timeout.network_partition_timeout: must be between 0 and 2147483647',
    });
    assert.deepEqual(setConfigValue(config, 'ssl.active', '2'), { ok: false, errors: 'invalid value "2" for ssl.active: must be between 0 and 1' });
    assert.deepEqual(setConfigValue(config, 'postgresql.port', ''), { ok: false, errors: 'postgresql.port can not be empty' });
    assert.deepEqual(setConfigValue(config, 'pg_autoctl.hostname', ' '), { ok: false, errors: 'pg_autoctl.hostname can not be empty' });
    assert.deepEqual(setConfigValue(config, 'pg_autoctl.monitor', 'mon:5432'), {
      ok: false, errors: 'invalid value "mon:5432" for pg_autoctl.monitor: expected a postgres:// URI or PG_AUTOCTL_DISABLED',
    });
    assert.deepEqual(setConfigValue(config, 'postgresql.pg_ctl', 'pg_ctl'), {
      ok: false, errors: 'invalid value "pg_ctl" for postgresql.pg_ctl: expected an absolute path',
    });
  });

  it('refuses keys that may not change', () => {
    assert.deepEqual(setConfigValue(config, 'postgresql.pgdata', '/elsewhere'), {
      ok: false, errors: 'postgresql.pgdata can not be changed once the node has been created',
    });
    assert.deepEqual(setConfigValue(config, 'pg_autoctl.role', 'monitor'), {
      ok: false, errors: 'pg_autoctl.role can not be changed once the node has been created',
    });
    assert.deepEqual(setConfigValue(config, 'pg_autoctl.group', '1'), { ok: false, errors: 'changing pg_autoctl.group is not supported' });
  });
});

describe('keeper config: reload', () => {
  const running = parsed(golden('node1_pg_autoctl.cfg.out'));

  it('takes reloadable values and keeps the others', () => {
    const reread: KeeperConfig = {
      ...running,
      pg_autoctl: { ...running.pg_autoctl, monitor: 'postgres://autoctl_node@mon:6000/pg_auto_failover', formation: 'other' },
      postgresql: { ...running.postgresql, port: 7000, pgdata: '/moved' },
      timeout: { ...running.timeout, network_partition_timeout: 3 },
    };
    const { config, changes } = planKeeperReload(running, reread);
    assert.equal(config.pg_autoctl.monitor, 'postgres://autoctl_node@mon:6000/pg_auto_failover');
    assert.equal(config.timeout.network_partition_timeout, 3);
    assert.equal(config.pg_autoctl.formation, 'default');
    assert.equal(config.postgresql.port, 6001);
    assert.equal(config.postgresql.pgdata, '/tmp/anchor/capture/node1');
    assert.deepEqual(changes.map((c) => [c.path, c.change, c.applied]), [
      ['pg_autoctl.monitor', 'reload', true],
      ['pg_autoctl.formation', 'unsupported', false],
      ['postgresql.pgdata', 'never', false],
      ['postgresql.port', 'offline', false],
      ['timeout.network_partition_timeout', 'reload', true],
    ]);
  });

  it('has precise static types', () => {
    const config = defaultKeeperConfig({ pgdata: '/d', hostname: 'h' });
    const kind: NodeKind = config.pg_autoctl.nodekind;
    const port: number = config.postgresql.port;
    const role: 'keeper' = config.pg_autoctl.role;
    // @ts-expect-error the role of a keeper file is the literal "keeper"
    const wrong: KeeperConfig['pg_autoctl']['role'] = 'monitor';
    // @ts-expect-error no such section
    void config.nope;
    assert.deepEqual([kind, port, role, wrong], ['standalone', 5432, 'keeper', 'monitor']);
  });

  it('lists the timeout keys the keeper uses', () => {
    assert.deepEqual(Object.keys(KEEPER_SCHEMA.timeout), [
      'network_partition_timeout', 'prepare_promotion_catchup', 'prepare_promotion_walreceiver',
      'postgresql_restart_failure_timeout', 'postgresql_restart_failure_max_retries', 'listen_notifications_timeout',
      'citus_master_update_node_lock_cooldown', 'citus_coordinator_wait_max_retries', 'citus_coordinator_wait_timeout',
    ]);
  });
});
