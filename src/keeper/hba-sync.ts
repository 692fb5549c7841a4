/**
 * pg_hba.conf rules the keeper writes (spec 05 §9.2): at init, the rule for
 * the application user from this node and the health-check rule from the
 * monitor host; then, whenever the set of other nodes of the group changes
 * (and after every copy of another node's PGDATA), streaming replication
 * and dbname access for each of them. Rules are only ever added.
 */
import { userInfo } from 'node:os';
import { messageOf } from '../common/errors.js';
import {
  applyHbaRules, hbaAddressFor, hbaPathOf, lanCidrFor, nodeInitHbaRules, parseConnInfo, replicationHbaRules,
  type HbaRule,
} from '../postgres/index.js';
import type { KeeperRuntime } from './runtime.js';

const addressCache = new Map<string, string>();

/** The ADDRESS column for a host (DNS checked both ways; else its IP), cached per process. */
async function addressOf(rt: KeeperRuntime, host: string): Promise<string> {
  const cached = addressCache.get(host);
  if (cached !== undefined) return cached;
  const found = await hbaAddressFor(host);
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
  const monitorHost = parseConnInfo(cfg.pg_autoctl.monitor).hosts[0]?.host;
  const monitorAddress = monitorHost && !monitorHost.startsWith('/') ? await addressOf(rt, monitorHost) : undefined;
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

/**
 * Replication rules for every other node, written when their host list
 * changed since the last time (or always with `force`, after a copy of
 * another node's files). Reloads a running Postgres when rules were added.
 */
export async function syncReplicationHba(rt: KeeperRuntime, options: { force?: boolean } = {}): Promise<void> {
  const hosts = [...new Set(rt.otherNodes.map((n) => n.host))].sort();
  const key = hosts.join(',');
  if (!options.force && key === rt.hbaHostsKey) return;
  try {
    const addresses: string[] = [];
    for (const host of hosts) addresses.push(await addressOf(rt, host));
    const changed = writeRules(rt, replicationHbaRules({
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
