/**
 * `enable|disable ssl` and `enable|disable monitor`: the pure pieces (the
 * [ssl] section, the monitor URI with a new sslmode, the new monitor URI
 * argument, primary_conninfo read back) and the refusals that happen
 * before anything is touched, run through the real command tree.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { monitorUriWithSsl, sslSectionFor } from '../../../src/cli/commands/ssl.js';
import { parseNewMonitorUri } from '../../../src/cli/commands/monitor-attach.js';
import { buildProgram } from '../../../src/cli/program.js';
import { resolveSslOptions } from '../../../src/cli/options/ssl.js';
import { AutoctlError } from '../../../src/common/errors.js';
import {
  MONITOR_DISABLED, defaultKeeperConfig, defaultMonitorConfig, ensurePaths, writeConfigFile,
} from '../../../src/config/index.js';
import { standbySetting } from '../../../src/keeper/service.js';
import { renderStandbySettings } from '../../../src/postgres/index.js';

describe('sslSectionFor', () => {
  it('puts a self-signed certificate in PGDATA', () => {
    const section = sslSectionFor(resolveSslOptions({ sslSelfSigned: true }, '/'), '/data/pg');
    assert.deepEqual(section, {
      active: 1, sslmode: 'require', ca_file: '', crl_file: '', cert_file: '/data/pg/server.crt', key_file: '/data/pg/server.key',
    });
  });

  it('clears every file and turns SSL off for --no-ssl (disable ssl)', () => {
    assert.deepEqual(sslSectionFor(resolveSslOptions({ noSsl: true }, '/'), '/data/pg'), {
      active: 0, sslmode: 'prefer', ca_file: '', crl_file: '', cert_file: '', key_file: '',
    });
  });
});

describe('monitorUriWithSsl', () => {
  const base = { active: 1, ca_file: '', crl_file: '', cert_file: '', key_file: '' } as const;

  it('replaces the sslmode and keeps the rest of the URI', () => {
    assert.equal(monitorUriWithSsl('postgres://autoctl_node:pw@mon:5432/pg_auto_failover?sslmode=prefer&connect_timeout=3', { ...base, sslmode: 'require' }),
      'postgres://autoctl_node:pw@mon:5432/pg_auto_failover?sslmode=require&connect_timeout=3');
  });

  it('adds sslrootcert and sslcrl with user certificates, and removes them again', () => {
    const verify = monitorUriWithSsl('postgres://autoctl_node@mon:5432/pg_auto_failover', {
      ...base, sslmode: 'verify-full', ca_file: '/etc/ssl/ca.crt', crl_file: '/etc/ssl/ca.crl',
    });
    assert.equal(verify, 'postgres://autoctl_node@mon:5432/pg_auto_failover?sslmode=verify-full&sslrootcert=/etc/ssl/ca.crt&sslcrl=/etc/ssl/ca.crl');
    assert.equal(monitorUriWithSsl(verify, { ...base, active: 0, sslmode: 'prefer' }), 'postgres://autoctl_node@mon:5432/pg_auto_failover?sslmode=prefer');
  });
});

describe('parseNewMonitorUri', () => {
  const refusal = (args: unknown[]): string => {
    try {
      parseNewMonitorUri(args);
    } catch (error) {
      assert.ok(error instanceof AutoctlError);
      assert.equal(error.code, 'BAD_ARGS');
      return error.message;
    }
    assert.fail(`accepted ${JSON.stringify(args)}`);
  };

  it('takes exactly one URI (commander hands the variadic argument as one array)', () => {
    assert.equal(parseNewMonitorUri([['postgres://autoctl_node@m/pg_auto_failover']]), 'postgres://autoctl_node@m/pg_auto_failover');
    assert.equal(refusal([[]]), 'Failed to parse new monitor URI as an argument.');
    assert.equal(refusal([['postgres://a@m/db', 'postgres://b@m/db']]), 'Failed to parse new monitor URI as an argument.');
  });

  it('refuses what the configuration could not keep, naming the reason', () => {
    assert.match(refusal(['host=m dbname=pg_auto_failover']), /expected a postgres:\/\/ or postgresql:\/\/ URI/);
    assert.match(refusal([`postgres://m/${'x'.repeat(1030)}`]), /1024 bytes or longer/);
    assert.match(refusal(['postgres://m:notaport/db']), /^Failed to parse the new monitor connection string "postgres:\/\/m:notaport\/db": /);
  });

  it('masks a password in its error', () => {
    assert.doesNotMatch(refusal(['postgres://u:secret@m:bad/db']), /secret/);
  });
});

describe('standbySetting', () => {
  it('reads back what renderStandbySettings wrote, quotes and backslashes included', () => {
    const conninfo = "application_name=pgautofailover_standby_2 host=10.0.0.1 port=5432 user=pgautofailover_replicator password='it''s \\\\ x' sslmode=require";
    const text = renderStandbySettings({ primaryConninfo: conninfo, primarySlotName: 'pgautofailover_standby_2', recoveryTargetTimeline: 'latest' });
    assert.equal(standbySetting(text, 'primary_conninfo'), conninfo);
    assert.equal(standbySetting(text, 'primary_slot_name'), 'pgautofailover_standby_2');
    assert.equal(standbySetting(text, 'recovery_target_lsn'), undefined);
  });
});

describe('refusals before anything changes', () => {
  let root = '';
  const saved: Record<string, string | undefined> = {};

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'pgaf-ssl-monitor-unit-'));
    for (const key of ['XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_RUNTIME_DIR', 'PGDATA', 'PG_AUTOCTL_SSL_SELF_SIGNED']) {
      saved[key] = process.env[key];
      delete process.env[key];
    }
    process.env.XDG_CONFIG_HOME = join(root, 'config');
    process.env.XDG_DATA_HOME = join(root, 'share');
    process.env.XDG_RUNTIME_DIR = join(root, 'run');
  });

  after(() => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    rmSync(root, { recursive: true, force: true });
  });

  async function failure(argv: string[]): Promise<AutoctlError> {
    const program = buildProgram();
    try {
      await program.parseAsync(['node', 'pg_autoctl', ...argv]);
    } catch (error) {
      assert.ok(error instanceof AutoctlError, String(error));
      return error;
    }
    assert.fail(`pg_autoctl ${argv.join(' ')} succeeded`);
  }

  async function node(name: string, monitor: string): Promise<{ pgdata: string; config: string }> {
    const pgdata = join(root, name);
    const paths = await ensurePaths(pgdata, process.env, '/');
    const base = defaultKeeperConfig({ pgdata, hostname: '127.0.0.1' });
    await writeConfigFile(paths.config, { ...base, pg_autoctl: { ...base.pg_autoctl, monitor } });
    return { pgdata, config: paths.config };
  }

  it('enable ssl refuses inconsistent options before reading any file', async () => {
    const error = await failure(['enable', 'ssl', '--pgdata', join(root, 'nowhere'), '--ssl-self-signed', '--no-ssl']);
    assert.equal(error.code, 'BAD_ARGS');
    assert.equal(error.message, 'Using both --no-ssl and --ssl-self-signed is not supported');
  });

  it('enable monitor on a node with a monitor, disable monitor on a node without one', async () => {
    const enabled = await node('enabled', 'postgres://autoctl_node@127.0.0.1:5432/pg_auto_failover');
    const text = readFileSync(enabled.config, 'utf8');
    const e1 = await failure(['enable', 'monitor', '--pgdata', enabled.pgdata, 'postgres://autoctl_node@new:5432/pg_auto_failover']);
    assert.equal(e1.code, 'BAD_CONFIG');
    assert.equal(e1.message, 'Failed to enable monitor "postgres://autoctl_node@127.0.0.1:5432/pg_auto_failover": there is already a monitor enabled');
    assert.equal(readFileSync(enabled.config, 'utf8'), text);

    const disabled = await node('disabled', MONITOR_DISABLED);
    const e2 = await failure(['disable', 'monitor', '--pgdata', disabled.pgdata, '--force']);
    assert.equal(e2.code, 'BAD_CONFIG');
    assert.equal(e2.message, 'Monitor is disabled in the configuration');
  });

  it('enable|disable monitor do not apply to a monitor node', async () => {
    const pgdata = join(root, 'monitor');
    const paths = await ensurePaths(pgdata, process.env, '/');
    await writeConfigFile(paths.config, defaultMonitorConfig({ pgdata, hostname: '127.0.0.1' }));
    const error = await failure(['disable', 'monitor', '--pgdata', pgdata]);
    assert.equal(error.code, 'BAD_CONFIG');
    assert.equal(error.message, 'The command `pg_autoctl disable monitor` does not apply to a monitor node.');
  });
});
