import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatConfSize, includeLine, quoteConfValue, renderMonitorSettingsFile, renderNodeSettingsFile, renderStandbySettings,
  tuningSettings, withIncludeLine,
} from '../../../src/postgres/settings-render.js';

const CIPHERS = "ssl_ciphers = 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384'";
const TUNING = `
# basic tuning computed by pg_auto_failover
track_functions = pl
shared_buffers = '6026 MB'
work_mem = '24 MB'
maintenance_work_mem = '512 MB'
effective_cache_size = '17 GB'
autovacuum_max_workers = 3
autovacuum_vacuum_scale_factor = 0.08
autovacuum_analyze_scale_factor = 0.02

`;

/** files/node1_postgresql-auto-failover.conf.out */
const NODE1 = `# Settings by pg_auto_failover
shared_preload_libraries = pg_stat_statements
listen_addresses = '127.0.0.1'
port = 6001
max_wal_senders = 12
max_replication_slots = 12
wal_level = 'replica'
wal_log_hints = on
wal_sender_timeout = '30s'
hot_standby_feedback = on
hot_standby = on
synchronous_commit = on
logging_collector = on
log_destination = stderr
log_directory = log
log_min_messages = info
log_connections = off
log_disconnections = off
log_lock_waits = on
ssl = off
${CIPHERS}
wal_keep_size = '8 GB'
max_slot_wal_keep_size = '16 GB'
${TUNING}`;

/** files/monitor_postgresql-auto-failover.conf.out without 2.x's C extension preload, with wal_log_hints (monitor HA). */
const MONITOR = `# Settings by pg_auto_failover
cluster_name = 'pg_auto_failover monitor'
listen_addresses = '127.0.0.1'
port = 6000
wal_log_hints = on
max_slot_wal_keep_size = '1 GB'
log_destination = stderr
logging_collector = on
log_directory = log
log_min_messages = info
log_connections = off
log_disconnections = off
log_lock_waits = on
log_statement = ddl
ssl = off
${CIPHERS}
${TUNING}`;

/** The machine the reference files were recorded on. */
const HOST = { totalMemoryBytes: 25_276_026_880, cpuCount: 2 };
const noSsl = { active: false };

describe('postgresql-auto-failover.conf', () => {
  it('matches the reference file of a data node', () => {
    assert.equal(renderNodeSettingsFile({ listenAddresses: '127.0.0.1', port: 6001, authMethod: 'trust', ssl: noSsl, pgMajor: 15, host: HOST }), NODE1);
  });

  it('matches the reference file of the monitor (minus shared_preload_libraries, plus wal_log_hints)', () => {
    assert.equal(renderMonitorSettingsFile({ listenAddresses: '127.0.0.1', port: 6000, authMethod: 'trust', ssl: noSsl, host: HOST }), MONITOR);
  });

  it('adds password_encryption, SSL files, and wal_keep_segments before 13', () => {
    const text = renderNodeSettingsFile({
      listenAddresses: '*', port: 5432, authMethod: 'md5', pgMajor: 12, host: HOST,
      ssl: { active: true, caFile: '/ssl/ca.crt', crlFile: undefined, certFile: "/ssl/it's.crt", keyFile: '/ssl/server.key' },
    });
    assert.match(text, /\nlog_lock_waits = on\npassword_encryption = 'md5'\nssl = on\nssl_ca_file = '\/ssl\/ca.crt'\nssl_cert_file = '\/ssl\/it''s.crt'\nssl_key_file = '\/ssl\/server.key'\nssl_ciphers = /);
    assert.match(text, /\nwal_keep_segments = 512\n\n# basic tuning/);
    assert.doesNotMatch(text, /ssl_crl_file/);
    assert.match(renderNodeSettingsFile({ listenAddresses: '*', port: 1, authMethod: 'password', pgMajor: 15, host: HOST, ssl: noSsl }),
      /password_encryption = 'scram-sha-256'/);
  });

  it('formats sizes like 2.x (divide while >= 10240 of the unit)', () => {
    assert.equal(formatConfSize(6_319_006_720), "'6026 MB'");
    assert.equal(formatConfSize(8 * 1024 ** 3), "'8192 MB'");
    assert.equal(formatConfSize(16 * 1024 ** 3), "'16 GB'");
    assert.equal(formatConfSize(1024 ** 3), "'1024 MB'");
    assert.equal(formatConfSize(10_239), "'10239 B'");
  });

  it('tunes by RAM and CPU bands', () => {
    const get = (ram: number, cpus: number): Record<string, string> =>
      Object.fromEntries(tuningSettings({ totalMemoryBytes: ram * 1024 ** 3, cpuCount: cpus }));
    assert.deepEqual(get(4, 1), {
      track_functions: 'pl', shared_buffers: "'1024 MB'", work_mem: "'16 MB'", maintenance_work_mem: "'256 MB'",
      effective_cache_size: "'3072 MB'", autovacuum_max_workers: '3', autovacuum_vacuum_scale_factor: '0.08',
      autovacuum_analyze_scale_factor: '0.02',
    });
    const big = get(128, 40);
    assert.equal(big.shared_buffers, "'16 GB'");
    assert.equal(big.work_mem, "'32 MB'");
    assert.equal(big.maintenance_work_mem, "'1024 MB'");
    assert.equal(big.effective_cache_size, "'112 GB'");
    assert.equal(big.autovacuum_max_workers, '8');
    const huge = get(512, 64);
    assert.equal(huge.shared_buffers, "'32 GB'");
    assert.equal(huge.work_mem, "'64 MB'");
    assert.equal(huge.maintenance_work_mem, "'2048 MB'");
    assert.equal(huge.autovacuum_max_workers, '16');
  });
});

describe('standby settings', () => {
  it('matches the reference standby file', () => {
    assert.equal(renderStandbySettings({
      primaryConninfo: 'application_name=pgautofailover_standby_2 host=127.0.0.1 port=6001 user=pgautofailover_replicator sslmode=prefer',
      primarySlotName: 'pgautofailover_standby_2',
      recoveryTargetTimeline: 'latest',
    }), `# Settings by pg_auto_failover
primary_conninfo = 'application_name=pgautofailover_standby_2 host=127.0.0.1 port=6001 user=pgautofailover_replicator sslmode=prefer'
primary_slot_name = 'pgautofailover_standby_2'
recovery_target_timeline = 'latest'
`);
  });

  it('doubles quotes and backslashes, omits primary_conninfo without upstream, adds targeted catch-up lines', () => {
    assert.equal(renderStandbySettings({
      primaryConninfo: "host=h password='it\\'s'",
      recoveryTargetTimeline: 'latest',
      recoveryTargetLsn: 0x3000060n,
      recoveryTargetInclusive: true,
      recoveryTargetAction: 'promote',
    }), `# Settings by pg_auto_failover
primary_conninfo = 'host=h password=''it\\\\''s'''
recovery_target_timeline = 'latest'
recovery_target_lsn = '0/3000060'
recovery_target_inclusive = 'true'
recovery_target_action = 'promote'
`);
    assert.equal(renderStandbySettings({ recoveryTargetTimeline: 'current', recoveryTarget: 'immediate', recoveryTargetAction: 'pause' }),
      "# Settings by pg_auto_failover\nrecovery_target_timeline = 'current'\nrecovery_target = 'immediate'\nrecovery_target_action = 'pause'\n");
  });
});

describe('include lines', () => {
  const conf = '# -----------------------------\n# PostgreSQL configuration file\nmax_connections = 100\n';

  it('prepends once, as in the reference postgresql.conf diffs', () => {
    const once = withIncludeLine(conf, 'postgresql-auto-failover.conf');
    assert.equal(once.changed, true);
    assert.equal(once.text, `include 'postgresql-auto-failover.conf' # Auto-generated by pg_auto_failover, do not remove\n${conf}`);
    assert.deepEqual(withIncludeLine(once.text, 'postgresql-auto-failover.conf'), { text: once.text, changed: false });
    const standby = withIncludeLine(once.text, 'postgresql-auto-failover-standby.conf');
    assert.equal(standby.text.split('\n').slice(0, 2).join('\n'), [
      "include 'postgresql-auto-failover-standby.conf' # Auto-generated by pg_auto_failover, do not remove",
      "include 'postgresql-auto-failover.conf' # Auto-generated by pg_auto_failover, do not remove",
    ].join('\n'));
  });

  it('accepts an existing include line with another comment', () => {
    assert.equal(withIncludeLine(`include 'postgresql-auto-failover.conf'\n${conf}`, 'postgresql-auto-failover.conf').changed, false);
    assert.equal(withIncludeLine(`#include 'postgresql-auto-failover.conf'\n`, 'postgresql-auto-failover.conf').changed, true);
    assert.equal(includeLine("a'b.conf"), "include 'a''b.conf' # Auto-generated by pg_auto_failover, do not remove");
    assert.equal(quoteConfValue("it's"), "'it''s'");
  });
});
