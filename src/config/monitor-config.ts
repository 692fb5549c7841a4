/**
 * The monitor's pg_autoctl.cfg (`pg_autoctl.role = monitor`), spec 05 §2.2
 * and §15. Unlike the keeper file: no `hba_level`, no `proxyport`, and in
 * [ssl] `sslmode` comes before `active`.
 */
import { isAbsolute } from 'node:path';
import type { Result } from '../common/result.js';
import {
  SSL_MODES, decodeConfig, intField, enumField, literalField, planReload, stringField, toIniSections,
  type ConfigChange, type ConfigOf, type ConfigSchema, type KeyPathOf,
} from './config-fields.js';
import { parseIni, renderIni } from './ini.js';
import { logFormatField } from './keeper-config.js';

/** The role keepers use to call the monitor API; fixed in the monitor file. */
export const MONITOR_USERNAME = 'autoctl_node';
/** The monitor database; fixed. */
export const MONITOR_DBNAME = 'pg_auto_failover';

const path = (change: 'reload' | 'never', required = false) =>
  stringField({ change, required, valid: isAbsolute, expected: 'an absolute path' });

/** Files of the [http] section: not in 2.0, so absent from the file when unset. */
const httpPath = () =>
  stringField({ change: 'offline', valid: isAbsolute, expected: 'an absolute path', omitWhen: '' });

export const ETCD_ENDPOINTS_EXPECTED = 'etcd endpoints (http://host:port or https://host:port) separated by commas';

export const MONITOR_SCHEMA = {
  pg_autoctl: {
    role: literalField('monitor'),
    hostname: stringField({ required: true, change: 'reload' }),
    // Not in pg_auto_failover 2.0 (see the keeper's).
    log_format: logFormatField(),
  },
  postgresql: {
    pgdata: path('never', true),
    pg_ctl: path('reload'),
    username: stringField({ default: MONITOR_USERNAME, change: 'never' }),
    dbname: stringField({ default: MONITOR_DBNAME, change: 'never' }),
    host: stringField({ change: 'reload' }),
    port: intField({ default: 5432, min: 1, max: 65535, change: 'offline' }),
    listen_addresses: stringField({ default: '*', change: 'reload' }),
    auth_method: stringField({ change: 'reload' }),
  },
  ssl: {
    sslmode: enumField(SSL_MODES, { default: 'prefer', change: 'reload' }),
    active: intField({ default: 0, min: 0, max: 1, change: 'reload' }),
    ca_file: path('reload'),
    crl_file: path('reload'),
    cert_file: path('reload'),
    key_file: path('reload'),
  },
  // Not in pg_auto_failover 2.0: the monitor service's HTTP listener
  // (metrics, status page). 0 turns it off; it binds to `http.listen`,
  // loopback unless the operator asks for more. Any other address needs
  // TLS (cert_file, key_file) and client authentication: a password file
  // (auth_file, one `user:password` line) or client certificates signed by
  // ca_file; the service refuses to listen there without them.
  http: {
    port: intField({ default: 0, min: 0, max: 65535, change: 'offline', omitWhen: 0 }),
    listen: stringField({ default: '127.0.0.1', change: 'offline', omitWhen: '127.0.0.1' }),
    cert_file: httpPath(),
    key_file: httpPath(),
    ca_file: httpPath(),
    auth_file: httpPath(),
  },
  // Not in pg_auto_failover 2.0 (docs/architecture.md "Monitor high
  // availability"): the password of pgautofailover_replicator, the role
  // standby monitors stream as. The writable monitor's service sets it on
  // the role; a standby uses it in primary_conninfo. Written only when set.
  replication: {
    password: stringField({ change: 'offline', omitWhen: '' }),
  },
  // Not in pg_auto_failover 2.0 (docs/architecture.md "Monitor high
  // availability"): the URIs of the other monitors, separated by spaces.
  // When one of them is writable with a higher monitor epoch, this
  // monitor stops deciding. Written only when set.
  ha: {
    peers: stringField({ default: '', change: 'offline', omitWhen: '', valid: isPeerList, expected: 'monitor URIs (postgres://...) separated by spaces' }),
    // Automatic monitor failover through etcd (issue 13 phase 3, opt-in):
    // the etcd client URLs, separated by commas; the keys' prefix ('' is
    // /pg_auto_failover/<system identifier of the monitor database>); the
    // leader lease in seconds; how long a member may stop streaming before
    // the primary drops it from the sync set (only with etcd). Written only
    // when they differ from the defaults.
    etcd: stringField({ default: '', change: 'offline', omitWhen: '', valid: isEtcdEndpointList, expected: ETCD_ENDPOINTS_EXPECTED }),
    etcd_prefix: stringField({ default: '', change: 'offline', omitWhen: '', valid: isEtcdPrefix, expected: 'an etcd key prefix starting with /' }),
    etcd_ttl: intField({ default: 10, min: 2, max: 300, change: 'offline', omitWhen: 10 }),
    sync_timeout: intField({ default: 10, min: 1, max: 3600, change: 'offline', omitWhen: 10 }),
  },
} satisfies ConfigSchema;

/** `ha.peers`: one or more postgres:// URIs separated by spaces. */
export function isPeerList(text: string): boolean {
  const peers = monitorPeersOf(text);
  return peers.length > 0 && peers.every((p) => /^postgres(ql)?:\/\/\S+$/.test(p));
}

/**
 * The endpoints of `ha.etcd` / `--etcd`: client URLs separated by commas.
 * A bare host:port means http://host:port. Returns undefined when one is
 * not an endpoint (a path, a query, no port, a port out of range, an
 * empty item).
 */
export function etcdEndpointsOf(text: string): string[] | undefined {
  const items = text.split(',').map((e) => e.trim());
  if (items.length === 0 || items.some((e) => e === '')) return undefined;
  const endpoints: string[] = [];
  for (const item of items) {
    const m = /^(?:(https?):\/\/)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})\/?$/.exec(item);
    const port = Number(m?.[3]);
    if (m === null || !(port >= 1 && port <= 65535)) return undefined;
    endpoints.push(`${m[1] ?? 'http'}://${m[2]}:${port}`);
  }
  return endpoints;
}

export function isEtcdEndpointList(text: string): boolean {
  return etcdEndpointsOf(text) !== undefined;
}

/** `ha.etcd_prefix`: an absolute key path, no trailing slash, no spaces. */
export function isEtcdPrefix(text: string): boolean {
  return /^(\/[^\s/]+)+$/.test(text);
}

/** The peer URIs of `ha.peers`. */
export function monitorPeersOf(text: string): string[] {
  return text.split(/\s+/).filter((p) => p !== '');
}

export type MonitorConfig = ConfigOf<typeof MONITOR_SCHEMA>;
export type MonitorConfigKey = KeyPathOf<typeof MONITOR_SCHEMA>;

/** `pg_autoctl.nodename` is read when `hostname` is absent, never written. */
export const MONITOR_ALIASES = { 'pg_autoctl.hostname': 'pg_autoctl.nodename' } as const;

/** A monitor config with every default, for `create monitor`. */
export function defaultMonitorConfig(required: { pgdata: string; hostname: string }): MonitorConfig {
  const defaults = Object.fromEntries(Object.entries(MONITOR_SCHEMA).map(([section, fields]) => [
    section, Object.fromEntries(Object.entries(fields).map(([key, field]) => [key, field.defaultValue])),
  ])) as unknown as MonitorConfig;
  return {
    ...defaults,
    pg_autoctl: { ...defaults.pg_autoctl, hostname: required.hostname },
    postgresql: { ...defaults.postgresql, pgdata: required.pgdata },
  };
}

/** Parses monitor config text; errors name the key (the file reader adds the file name). */
export function parseMonitorConfig(text: string): Result<MonitorConfig> {
  const doc = parseIni(text);
  if (!doc.ok) return doc;
  return decodeConfig(MONITOR_SCHEMA, doc.value, MONITOR_ALIASES);
}

/** The file text, keys in the original's order, empty values omitted. */
export function renderMonitorConfig(config: MonitorConfig): string {
  return renderIni(toIniSections(MONITOR_SCHEMA, config));
}

/** Reload (SIGHUP) of the monitor: same rules as the keeper's. */
export function planMonitorReload(running: MonitorConfig, reread: MonitorConfig): { config: MonitorConfig; changes: ConfigChange[] } {
  return planReload(MONITOR_SCHEMA, running, reread);
}
