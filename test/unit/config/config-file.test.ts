import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AutoctlError } from '../../../src/common/errors.js';
import {
  changePolicyOf, configKeys, defaultKeeperConfig, isReloadable, parseConfig, readConfigFile, readKeeperConfigFile,
  readMonitorConfigFile, reloadableKeys, writeConfigFile, type KeeperConfig,
} from '../../../src/config/index.js';

const golden = (name: string): string => readFileSync(new URL(`../../golden/config/${name}`, import.meta.url), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'pgaf-config-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AutoctlError);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  });
}

describe('config files', () => {
  it('reads either role from the file', async () => {
    const keeperPath = join(dir, 'keeper.cfg');
    const monitorPath = join(dir, 'monitor.cfg');
    writeFileSync(keeperPath, golden('node2_pg_autoctl.cfg.out'));
    writeFileSync(monitorPath, golden('monitor_pg_autoctl.cfg.out'));
    assert.equal((await readConfigFile(keeperPath)).pg_autoctl.role, 'keeper');
    assert.equal((await readConfigFile(monitorPath)).pg_autoctl.role, 'monitor');
    assert.equal((await readKeeperConfigFile(keeperPath)).pg_autoctl.name, 'node_2');
    assert.equal((await readMonitorConfigFile(monitorPath)).postgresql.port, 6000);
    await rejectsWith(readKeeperConfigFile(monitorPath), 'BAD_CONFIG', /is for a monitor, not a keeper/);
    await rejectsWith(readMonitorConfigFile(keeperPath), 'BAD_CONFIG', /is for a keeper, not a monitor/);
  });

  it('names the file and the key on bad content', async () => {
    const path = join(dir, 'bad.cfg');
    writeFileSync(path, golden('node1_pg_autoctl.cfg.out').replace('port = 6001', 'port = sixty'));
    await rejectsWith(readConfigFile(path), 'BAD_CONFIG',
      new RegExp(`^Failed to parse configuration file "${path}": Failed to parse postgresql.port's value "sixty" as a number$`));
    writeFileSync(path, '[pg_autoctl]\nhostname = h\n');
    await rejectsWith(readConfigFile(path), 'BAD_CONFIG', /pg_autoctl.role is required but missing/);
    writeFileSync(path, '[pg_autoctl]\nrole = witness\n');
    await rejectsWith(readConfigFile(path), 'BAD_CONFIG', /invalid value "witness" for pg_autoctl.role: expected keeper or monitor/);
  });

  it('reports a missing file as the original does', async () => {
    const path = join(dir, 'absent.cfg');
    await rejectsWith(readConfigFile(path), 'BAD_ARGS', new RegExp(`^Expected configuration file does not exist: "${path}"$`));
  });

  it('writes atomically with mode 0600 (it may hold a password) and reads back the same config', async () => {
    const path = join(dir, 'written.cfg');
    const config = defaultKeeperConfig({ pgdata: '/srv/node1', hostname: 'node1.local' });
    await writeConfigFile(path, config);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.new')), []);
    assert.deepEqual(await readConfigFile(path), config);
  });

  it('refuses to write an invalid config', async () => {
    const path = join(dir, 'invalid.cfg');
    const base = defaultKeeperConfig({ pgdata: '/srv/node1', hostname: 'node1.local' });
    const bad = { ...base, postgresql: { ...base.postgresql, port: Number.NaN } } as KeeperConfig;
    await rejectsWith(writeConfigFile(path, bad), 'BAD_CONFIG', /Refusing to write configuration file .*postgresql\.port/);
    const noHost = { ...base, pg_autoctl: { ...base.pg_autoctl, hostname: '' } };
    await rejectsWith(writeConfigFile(path, noHost), 'BAD_CONFIG', /pg_autoctl\.hostname is required but missing/);
  });

  it('parseConfig dispatches on the role', () => {
    const keeper = parseConfig(golden('node1_pg_autoctl.cfg.out'));
    assert.ok(keeper.ok);
    assert.equal(keeper.value.pg_autoctl.role, 'keeper');
  });
});

describe('change policies (spec 05 §2.4)', () => {
  it('classifies keeper keys', () => {
    assert.equal(changePolicyOf('keeper', 'pg_autoctl.role'), 'never');
    assert.equal(changePolicyOf('keeper', 'pg_autoctl.nodekind'), 'never');
    assert.equal(changePolicyOf('keeper', 'postgresql.pgdata'), 'never');
    assert.equal(changePolicyOf('keeper', 'pg_autoctl.formation'), 'unsupported');
    assert.equal(changePolicyOf('keeper', 'pg_autoctl.group'), 'unsupported');
    assert.equal(changePolicyOf('keeper', 'postgresql.port'), 'offline');
    assert.equal(changePolicyOf('keeper', 'nope.nope'), undefined);
    for (const key of ['pg_autoctl.monitor', 'pg_autoctl.name', 'pg_autoctl.hostname', 'postgresql.pg_ctl', 'postgresql.dbname',
      'postgresql.host', 'postgresql.listen_addresses', 'postgresql.auth_method', 'postgresql.hba_level', 'ssl.sslmode',
      'replication.password', 'replication.maximum_backup_rate', 'replication.backup_directory', 'timeout.network_partition_timeout']) {
      assert.ok(isReloadable('keeper', key), key);
    }
    assert.ok(reloadableKeys('keeper').every((key) => configKeys('keeper').includes(key)));
    assert.ok(reloadableKeys('keeper').filter((k) => k.startsWith('timeout.')).length === 9);
  });

  it('classifies monitor keys', () => {
    assert.equal(changePolicyOf('monitor', 'postgresql.username'), 'never');
    assert.equal(changePolicyOf('monitor', 'postgresql.hba_level'), undefined);
    assert.deepEqual(reloadableKeys('monitor'), [
      'pg_autoctl.hostname', 'postgresql.pg_ctl', 'postgresql.host', 'postgresql.listen_addresses', 'postgresql.auth_method',
      'ssl.sslmode', 'ssl.active', 'ssl.ca_file', 'ssl.crl_file', 'ssl.cert_file', 'ssl.key_file',
    ]);
  });
});
