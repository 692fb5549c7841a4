/**
 * pg_hba.conf rules the keeper writes (spec 05 §9.2): at init, the rule for
 * the application user from this node and the health-check rule from the
 * monitor host; then, whenever the set of other nodes of the group changes
 * (and after every copy of another node's PGDATA), streaming replication
 * and dbname access for each of them. Rules are only ever added, and
 * only with fields that were checked (hbaAddressFor, formatHbaRuleText).
 */
import { userInfo } from 'node:os';
import { messageOf } from '../common/errors.js';
import {
  applyHbaRules, classifyPgData, displayHost, hbaAddressFor, hbaPathOf, healthCheckHbaRules, lanCidrFor, nodeInitHbaRules, parseConnInfo,
  replicationHbaRules, type HbaRule, type Resolver,
} from '../postgres/index.js';
import type { KeeperRuntime } from './runtime.js';

const addressCache = new Map<string, string>();

/** The ADDRESS column for a host (DNS checked both ways; else its IP), cached per process. */
async function addressOf(rt: KeeperRuntime, host: string, resolver?: Resolver): Promise<string> {
  const cached = addressCache.get(host);
  if (cached !== undefined) return cached;
  const found = await hbaAddressFor(host, resolver);
  for (const warning of found.warnings) rt.log.warn(warning);
  addressCache.set(host, found.address);
  return found.address;
}

function writeRules(rt: KeeperRuntime, rules: readonly HbaRule[]): boolean {
  const added = applyHbaRules(hbaPathOf(rt.config.postgresql.pgdata), rules, {
    skip: rt.config.postgresql.hba_level === 'skip',
    log: rt.log,
  });
  return added.length > 0;
}

/** The role owning the application database: --username, else the OS account. */
export function applicationUser(rt: KeeperRuntime): string {
  return rt.config.postgresql.username || userInfo().username;
}

/** Rules of the first node's init; true when the file changed. */
export async function writeInitHbaRules(rt: KeeperRuntime): Promise<boolean> {
  const cfg = rt.config;
  const own = await addressOf(rt, cfg.pg_autoctl.hostname);
  let lanCidr: string | undefined;
  if (cfg.postgresql.hba_level === 'app') {
    const found = await hbaAddressFor(cfg.pg_autoctl.hostname);
    lanCidr = lanCidrFor(found.ip);
  }
  // Every host of a multi-host monitor URI may be the monitor that health-checks this node.
  const monitorHosts = configuredMonitorHosts(cfg.pg_autoctl.monitor);
  const monitorAddress = monitorHosts.length === 0 ? undefined : await Promise.all(monitorHosts.map((h) => addressOf(rt, h)));
  return writeRules(rt, nodeInitHbaRules({
    dbname: cfg.postgresql.dbname,
    username: applicationUser(rt),
    ownAddress: own,
    lanCidr,
    monitorAddress,
    authMethod: cfg.postgresql.auth_method || 'trust',
    sslActive: cfg.ssl.active === 1,
  }));
}

/** How long a host whose rules could not be written waits before the next try. */
export const HBA_RETRY_MS = 10_000;

/**
 * Replication rules for every other node, written when their host list
 * changed since the last time (or always with `force`, after a copy of
 * another node's files). Each host is handled on its own: one that does
 * not resolve, or that is refused (not an IP address or an RFC 1123 host
 * name), is skipped, logged once, and retried every {@link HBA_RETRY_MS}
 * while the rules of the others are written. Reloads a running Postgres
 * when rules were added.
 */
export async function syncReplicationHba(rt: KeeperRuntime, options: { force?: boolean; resolver?: Resolver } = {}): Promise<void> {
  const hosts = [...new Set(rt.otherNodes.map((n) => n.host))].sort();
  const key = hosts.join(',');
  const now = performance.now();
  const failures = rt.hbaHostFailures;
  for (const host of [...failures.keys()]) if (!hosts.includes(host)) failures.delete(host);
  const retryDue = [...failures.values()].some((f) => f.retryAt <= now);
  if (!options.force && key === rt.hbaHostsKey && !retryDue) return;
  const addresses: string[] = [];
  for (const host of hosts) {
    const failure = failures.get(host);
    if (failure && failure.retryAt > now && !options.force) continue;
    try {
      addresses.push(await addressOf(rt, host, options.resolver));
      if (failure) {
        rt.log.info(`Writing the pg_hba.conf rules for other node host ${displayHost(host)} now that it is usable`);
        failures.delete(host);
      }
    } catch (error) {
      const message = messageOf(error);
      if (failure?.message !== message) {
        rt.log.warn(`Skipping the pg_hba.conf rules for other node host ${displayHost(host)} (retrying every ${HBA_RETRY_MS / 1000} s): ${message}`);
      }
      failures.set(host, { message, retryAt: now + HBA_RETRY_MS });
    }
  }
  try {
    const changed = addresses.length > 0 && writeRules(rt, replicationHbaRules({
      dbname: rt.config.postgresql.dbname,
      otherNodeAddresses: addresses,
      authMethod: rt.config.postgresql.auth_method || 'trust',
      sslActive: rt.config.ssl.active === 1,
    }));
    if (changed) rt.postgres.reload();
    rt.hbaHostsKey = key;
  } catch (error) {
    rt.log.warn(`Failed to update pg_hba.conf for the other nodes: ${messageOf(error)}`);
  }
}

/** The TCP hosts of a monitor URI ([] for a local socket or a disabled monitor). */
export function configuredMonitorHosts(uri: string): string[] {
  try {
    return parseConnInfo(uri).hosts.map((h) => h.host).filter((h) => h !== '' && !h.startsWith('/'));
  } catch {
    return [];
  }
}

/** Per runtime: the monitor host list the health-check rules were last written for, and hosts to retry. */
const monitorHba = new WeakMap<KeeperRuntime, { key: string; failures: Map<string, { message: string; retryAt: number }> }>();

/**
 * Health-check rules for every monitor host (issue 13): the configured
 * URI's hosts and the monitor members' (`memberHosts`), written when that
 * list changed since the last time (a host that failed to resolve is
 * retried every {@link HBA_RETRY_MS}); reloads Postgres when rules were
 * added. Only when PGDATA holds a cluster and hba_level is not skip.
 */
export async function syncMonitorHba(rt: KeeperRuntime, memberHosts: readonly string[], options: { resolver?: Resolver } = {}): Promise<void> {
  if (classifyPgData(rt.config.postgresql.pgdata) !== 'postgres') return;
  const hosts = [...new Set([...configuredMonitorHosts(rt.config.pg_autoctl.monitor), ...memberHosts])].sort();
  const key = hosts.join(',');
  const now = performance.now();
  let memo = monitorHba.get(rt);
  if (memo === undefined) {
    memo = { key: '', failures: new Map() };
    monitorHba.set(rt, memo);
  }
  const failures = memo.failures;
  for (const host of [...failures.keys()]) if (!hosts.includes(host)) failures.delete(host);
  const retryDue = [...failures.values()].some((f) => f.retryAt <= now);
  if (key === memo.key && !retryDue) return;
  const addresses: string[] = [];
  for (const host of hosts) {
    const failure = failures.get(host);
    if (failure && failure.retryAt > now) continue;
    try {
      addresses.push(await addressOf(rt, host, options.resolver));
      failures.delete(host);
    } catch (error) {
      const message = messageOf(error);
      if (failure?.message !== message) {
        rt.log.warn(`Skipping the pg_hba.conf health-check rule for monitor host ${displayHost(host)} (retrying every ${HBA_RETRY_MS / 1000} s): ${message}`);
      }
      failures.set(host, { message, retryAt: now + HBA_RETRY_MS });
    }
  }
  try {
    if (addresses.length > 0 && writeRules(rt, healthCheckHbaRules(addresses, rt.config.ssl.active === 1))) {
      rt.log.info(`Added the pg_hba.conf health-check rules for the monitor hosts ${hosts.map(displayHost).join(', ')}`);
      rt.postgres.reload();
    }
    memo.key = key;
  } catch (error) {
    rt.log.warn(`Failed to update pg_hba.conf for the monitor hosts: ${messageOf(error)}`);
  }
}
