/**
 * The keeper's pg_autoctl.cfg (`pg_autoctl.role = keeper`), spec 05 §2.2:
 * every key in the order the original writes it, with its default and how
 * it may change (§2.4).
 */
import { dirname, isAbsolute, join } from 'node:path';
import { fail, ok, type Result } from '../common/result.js';
import {
  SSL_MODES, decodeConfig, enumField, intField, literalField, planReload, stringField, toIniSections,
  type ConfigChange, type ConfigOf, type ConfigSchema, type KeyPathOf,
} from './config-fields.js';
import { parseIni, renderIni } from './ini.js';
import { isLogFormat } from '../common/log.js';

/** Magic `pg_autoctl.monitor` value: the node runs without a monitor. */
export const MONITOR_DISABLED = 'PG_AUTOCTL_DISABLED';

export const NODE_KINDS = ['standalone', 'coordinator', 'worker'] as const;
export type NodeKind = (typeof NODE_KINDS)[number];

/** `skip` (--skip-pg-hba), `minimal` (default), `app` (--pg-hba-lan). */
export const HBA_LEVELS = ['skip', 'minimal', 'app'] as const;
export type HbaLevel = (typeof HBA_LEVELS)[number];

export const CITUS_ROLES = ['primary', 'secondary'] as const;

const INT32_MAX = 2 ** 31 - 1;

/**
 * `pg_autoctl.log_format` (keeper and monitor): text, the original's lines,
 * or json. Written only when not text, so that 2.0's files stay as they are.
 */
export const logFormatField = () =>
  stringField({ default: 'text', change: 'offline', valid: isLogFormat, expected: 'text or json', omitWhen: 'text' });

const isMonitorSetting = (v: string): boolean => v === MONITOR_DISABLED || /^postgres(ql)?:\/\/\S/.test(v);

const count = (defaultValue: number) => intField({ default: defaultValue, min: 0, max: INT32_MAX, change: 'reload' });
const path = (change: 'reload' | 'never', required = false) =>
  stringField({ change, required, valid: isAbsolute, expected: 'an absolute path' });

/** Seconds a hook may run before the keeper stops it (hooks.timeout). */
export const HOOK_TIMEOUT_DEFAULT = 10;

const hookPath = () => stringField({ change: 'reload', valid: isAbsolute, expected: 'an absolute path', omitWhen: '' });

/**
 * Keys in file order. Timeout defaults are those used when a key is absent;
 * see {@link defaultKeeperConfig} for what `create` writes.
 */
export const KEEPER_SCHEMA = {
  pg_autoctl: {
    role: literalField('keeper'),
    monitor: stringField({ change: 'reload', valid: isMonitorSetting, expected: `a postgres:// URI or ${MONITOR_DISABLED}` }),
    formation: stringField({ default: 'default', change: 'unsupported' }),
    group: intField({ default: -1, min: -1, max: INT32_MAX, change: 'unsupported' }),
    name: stringField({ change: 'reload' }),
    hostname: stringField({ required: true, change: 'reload' }),
    nodekind: enumField(NODE_KINDS, { default: 'standalone', change: 'never' }),
    // Not in pg_auto_failover 2.0: the format of the log lines (text or
    // json), unless --log-format or PG_AUTOCTL_LOG_FORMAT says otherwise.
    log_format: logFormatField(),
  },
  postgresql: {
    pgdata: path('never', true),
    pg_ctl: path('reload'),
    username: stringField({ change: 'reload' }),
    dbname: stringField({ default: 'postgres', change: 'reload' }),
    host: stringField({ change: 'reload' }),
    port: intField({ default: 5432, min: 1, max: 65535, change: 'offline' }),
    proxyport: intField({ default: 0, min: 0, max: 65535, change: 'offline' }),
    listen_addresses: stringField({ default: '*', change: 'reload' }),
    auth_method: stringField({ change: 'reload' }),
    hba_level: enumField(HBA_LEVELS, { default: 'minimal', change: 'reload' }),
  },
  ssl: {
    active: intField({ default: 0, min: 0, max: 1, change: 'reload' }),
    sslmode: enumField(SSL_MODES, { default: 'prefer', change: 'reload' }),
    ca_file: path('reload'),
    crl_file: path('reload'),
    cert_file: path('reload'),
    key_file: path('reload'),
  },
  replication: {
    maximum_backup_rate: stringField({ default: '100M', change: 'reload', valid: (v) => /^\d+[kKmM]?$/.test(v), expected: 'a rate such as 100M or 32k' }),
    backup_directory: path('reload'),
    password: stringField({ change: 'reload' }),
  },
  timeout: {
    network_partition_timeout: count(20),
    prepare_promotion_catchup: count(30),
    prepare_promotion_walreceiver: count(5),
    postgresql_restart_failure_timeout: count(20),
    postgresql_restart_failure_max_retries: count(3),
    listen_notifications_timeout: count(60),
    citus_master_update_node_lock_cooldown: count(10000),
    citus_coordinator_wait_max_retries: count(100),
    citus_coordinator_wait_timeout: count(300),
  },
  citus: {
    role: enumField(CITUS_ROLES, { default: 'primary', change: 'unsupported' }),
    cluster_name: stringField({ change: 'unsupported' }),
  },
  // Not in pg_auto_failover 2.0: the keeper's HTTP listener (failsafe
  // vouches between keepers). 0 turns it off; it listens on
  // postgresql.listen_addresses.
  http: {
    port: intField({ default: 0, min: 0, max: 65535, change: 'offline', omitWhen: 0 }),
  },
  // Not in pg_auto_failover 2.0: programs the keeper runs on its events
  // (src/keeper/hooks.ts, docs/integrations.md "Hooks"). Unset keys are not
  // written, so a 2.0 file stays byte for byte.
  hooks: {
    on_role_change: hookPath(),
    on_start: hookPath(),
    on_stop: hookPath(),
    timeout: intField({ default: HOOK_TIMEOUT_DEFAULT, min: 1, max: 3600, change: 'reload', omitWhen: HOOK_TIMEOUT_DEFAULT }),
  },
} satisfies ConfigSchema;

/**
 * The HTTP port `create postgres` picks without --http-port: Patroni's
 * 8008 for the default Postgres port 5432, shifted like the Postgres port,
 * so that several nodes on one host get distinct ports. Null when that
 * falls outside 1024..65535.
 */
export function defaultHttpPort(pgport: number): number | null {
  const port = 8008 + (pgport - 5432);
  return port >= 1024 && port <= 65535 ? port : null;
}

export type KeeperConfig = ConfigOf<typeof KEEPER_SCHEMA>;
export type KeeperConfigKey = KeyPathOf<typeof KEEPER_SCHEMA>;

/** `pg_autoctl.nodename` is read when `hostname` is absent, never written. */
export const KEEPER_ALIASES = { 'pg_autoctl.hostname': 'pg_autoctl.nodename' } as const;

/** `<parent of PGDATA>/backup/<leaf>`: `<hostname>` before registration, `node_<id>` after. */
export function defaultBackupDirectory(pgdata: string, leaf: string): string {
  return join(dirname(pgdata), 'backup', leaf);
}

/** The backup directory of a registered node. */
export function backupDirectoryForNode(pgdata: string, nodeId: number): string {
  return defaultBackupDirectory(pgdata, `node_${nodeId}`);
}

/**
 * A keeper config with every default, for `create postgres`. With
 * `legacyCreateTimeouts`, the four timeouts that 2.x `create` writes as 0
 * (listen_notifications_timeout and the Citus ones) are 0, for files
 * byte-identical to the original's; otherwise the documented defaults are
 * written.
 */
export function defaultKeeperConfig(required: { pgdata: string; hostname: string }, options: { legacyCreateTimeouts?: boolean } = {}): KeeperConfig {
  const defaults = Object.fromEntries(Object.entries(KEEPER_SCHEMA).map(([section, fields]) => [
    section, Object.fromEntries(Object.entries(fields).map(([key, field]) => [key, field.defaultValue])),
  ])) as unknown as KeeperConfig;
  const zero = options.legacyCreateTimeouts === true;
  return {
    ...defaults,
    pg_autoctl: { ...defaults.pg_autoctl, hostname: required.hostname },
    postgresql: { ...defaults.postgresql, pgdata: required.pgdata },
    replication: { ...defaults.replication, backup_directory: defaultBackupDirectory(required.pgdata, required.hostname) },
    timeout: zero
      ? {
        ...defaults.timeout,
        listen_notifications_timeout: 0,
        citus_master_update_node_lock_cooldown: 0,
        citus_coordinator_wait_max_retries: 0,
        citus_coordinator_wait_timeout: 0,
      }
      : defaults.timeout,
  };
}

/**
 * Parses keeper config text. Unknown keys are ignored, missing keys take
 * their default, and a missing backup directory is derived from PGDATA and
 * the hostname. Errors name the key (the file reader adds the file name).
 */
export function parseKeeperConfig(text: string): Result<KeeperConfig> {
  const doc = parseIni(text);
  if (!doc.ok) return doc;
  const decoded = decodeConfig(KEEPER_SCHEMA, doc.value, KEEPER_ALIASES);
  if (!decoded.ok) return decoded;
  const config = decoded.value;
  if (config.replication.backup_directory !== '') return ok(config);
  if (config.postgresql.pgdata === '') return fail(['postgresql.pgdata is required but missing']);
  return ok({
    ...config,
    replication: {
      ...config.replication,
      backup_directory: defaultBackupDirectory(config.postgresql.pgdata, config.pg_autoctl.hostname),
    },
  });
}

/** The file text, keys in the original's order, empty values omitted. */
export function renderKeeperConfig(config: KeeperConfig): string {
  return renderIni(toIniSections(KEEPER_SCHEMA, config));
}

/** True when the node runs without a monitor (`--disable-monitor`). */
export function isMonitorDisabled(config: KeeperConfig): boolean {
  return config.pg_autoctl.monitor === MONITOR_DISABLED;
}

/**
 * Reload (SIGHUP): takes the reloadable values of the re-read file and keeps
 * the running value of every other key; the caller logs each change.
 */
export function planKeeperReload(running: KeeperConfig, reread: KeeperConfig): { config: KeeperConfig; changes: ConfigChange[] } {
  return planReload(KEEPER_SCHEMA, running, reread);
}
