/**
 * The writable monitor's care of its standby monitors (docs/architecture.md
 * "Monitor high availability", design point 4). Every second:
 * - its own member row exists (hostname and port of its config);
 * - each other member has its replication slot `pgautofailover_monitor_<id>`
 *   and an HBA rule letting it stream (and pg_rewind) as
 *   pgautofailover_replicator from its host; slots of members that are gone
 *   are dropped;
 * - a member that streams joins synchronous_standby_names (ALTER SYSTEM and
 *   reload); once pg_stat_replication says it is synchronous, the sync
 *   record (etcd) names it, then its `sync` flag is set: only a member with
 *   that flag may ever be promoted;
 * - leaving the set is the reverse order (Patroni's): the sync record
 *   first, then the flag, then synchronous_standby_names. Without a third
 *   party holding the record (no etcd: `noSyncRecord`, strict) a member
 *   never leaves by itself: losing it blocks the monitor's writes until an
 *   operator removes it (remove_monitor_member); the data nodes' failsafe
 *   keeps their primary serving meanwhile. With etcd, a member that has not
 *   streamed for `syncTimeoutMs` is removed.
 *
 * Its own connection: a commit waiting for the synchronous standby holds
 * this loop, never the decisions' session... which waits the same way.
 */
import type pg from 'pg';
import { messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { sleep } from '../../common/service.js';
import {
  monitorMemberIdOfSlot, monitorMembers, registerMonitorMember, setMonitorMemberSync,
  type MonitorMember, type MonitorMemberStatus,
} from '../../monitor-api/index.js';
import {
  alterRolePassword, applyHbaRules, createPhysicalSlot, currentSetting, dropReplicationSlot, ensureReplicationRole, hbaAddressFor,
  hbaPathOf, isInRecovery, listReplicationSlots, reloadConf, replicationHbaRules, setSynchronousStandbyNames,
} from '../../postgres/index.js';
import { noSyncRecord, type SyncRecord } from './sync-record.js';

export const MEMBERS_LOOP_MS = 1000;
/** The role standby monitors stream (and pg_rewind) as; created by migration 0012. */
export const MONITOR_REPLICATOR = 'pgautofailover_replicator';
/** `ha.sync_timeout` when a non-strict sync record does not say. */
export const DEFAULT_SYNC_TIMEOUT_MS = 10_000;
/** The database the replicator may also reach (pg_rewind of an old primary needs one). */
const REWIND_DBNAME = 'pg_auto_failover';

export interface MembersLoopDeps {
  /** A session of its own on the local monitor database, as a superuser. */
  client: pg.Client;
  /** This monitor: `pg_autoctl.hostname` and `postgresql.port`. */
  self: { hostname: string; port: number };
  pgdata: string;
  /** `postgresql.auth_method`; '' (created with --skip-pg-hba): pg_hba.conf is left alone. */
  authMethod: string;
  sslActive: boolean;
  /** The monitor URI parameters (`sslmode=...`) of the peers' URIs. */
  sslmode: string;
  /** `replication.password`: set on pgautofailover_replicator ('' leaves the role's password alone). */
  replicationPassword?: string;
  log: Logger;
  syncRecord?: SyncRecord;
  periodMs?: number;
  clock?: () => number;
}

export interface MembersLoop {
  /** One round now. */
  round(): Promise<void>;
  /** Rounds until `signal` aborts; failures are logged and retried. */
  run(signal: AbortSignal): Promise<void>;
  /** The other members as monitor URIs (for the epoch watch), as of the last round. */
  peerUris(): string[];
  /** This monitor's member id, once known. */
  readonly selfId: number | undefined;
}

/** The synchronous_standby_names value naming `names`: every one of them must confirm. */
export function renderMemberStandbyNames(names: readonly string[]): string {
  if (names.length === 0) return '';
  if (names.length === 1) return names[0] ?? '';
  return `FIRST ${names.length} (${names.join(', ')})`;
}

/** The member slot names in a synchronous_standby_names value (others are ignored). */
export function memberNamesIn(value: string): string[] {
  return [...value.matchAll(/pgautofailover_monitor_\d{1,15}/g)].map((m) => m[0]);
}

/** `postgres://autoctl_node@host:port/pg_auto_failover?sslmode=...` of a member. */
export function memberUri(member: { hostname: string; port: number }, sslmode: string): string {
  const host = member.hostname.includes(':') ? `[${member.hostname}]` : member.hostname;
  return `postgres://autoctl_node@${host}:${member.port}/pg_auto_failover?sslmode=${encodeURIComponent(sslmode)}`;
}

const isSyncState = (m: MonitorMemberStatus): boolean => m.syncState === 'sync' || m.syncState === 'quorum';
const streams = (m: MonitorMemberStatus): boolean => m.replicationState === 'streaming';

export function createMembersLoop(deps: MembersLoopDeps): MembersLoop {
  const { client, log } = deps;
  const record = deps.syncRecord ?? noSyncRecord;
  const clock = deps.clock ?? ((): number => performance.now());
  const hbaDone = new Set<string>();
  /** When each member in the set was last seen streaming (non-strict removal). */
  const lastStreaming = new Map<number, number>();
  const logged = new Map<string, string>();
  let selfId: number | undefined;
  let peers: string[] = [];
  let roleReady = false;

  /**
   * Once per session: the replication role can stream and pg_rewind from
   * this database, with the configured password. Committed without waiting
   * for a synchronous standby, and the password kept out of the server log.
   */
  async function ensureRole(): Promise<void> {
    await client.query('BEGIN');
    try {
      await client.query("SET LOCAL synchronous_commit TO 'local'");
      await client.query("SET LOCAL log_statement TO 'none'");
      await ensureReplicationRole(client, MONITOR_REPLICATOR);
      if (deps.replicationPassword) await alterRolePassword(client, MONITOR_REPLICATOR, deps.replicationPassword);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    roleReady = true;
  }

  /** Logs a message once per key until it changes (a round repeats every second). */
  const once = (key: string, level: 'info' | 'warn', message: string): void => {
    if (logged.get(key) === message) return;
    logged.set(key, message);
    log[level](message);
  };

  async function ensureHba(member: MonitorMember): Promise<boolean> {
    if (deps.authMethod === '' || hbaDone.has(member.hostname)) return false;
    const address = await hbaAddressFor(member.hostname);
    for (const warning of address.warnings) log.warn(warning);
    const added = applyHbaRules(hbaPathOf(deps.pgdata), replicationHbaRules({
      dbname: REWIND_DBNAME, otherNodeAddresses: [address.address], authMethod: deps.authMethod, sslActive: deps.sslActive,
    }), { skip: false, log });
    hbaDone.add(member.hostname);
    return added.length > 0;
  }

  async function round(): Promise<void> {
    if (await isInRecovery(client)) return;
    if (!roleReady) await ensureRole();
    let members = await monitorMembers(client);
    let self = members.find((m) => m.hostname === deps.self.hostname && m.port === deps.self.port);
    if (self === undefined) {
      const row = await registerMonitorMember(client, deps.self.hostname, deps.self.port);
      log.info(`Registered this monitor as member ${row.memberId} (${row.hostname}:${row.port})`);
      members = await monitorMembers(client);
      self = members.find((m) => m.memberId === row.memberId);
    }
    selfId = self?.memberId;
    // The writable monitor is nobody's synchronous standby: a flag left from
    // its standby days must not make it promotable, or rush it back into the
    // synchronous set, once it is a standby again.
    if (self?.sync === true) {
      await setMonitorMemberSync(client, self.memberId, false, { localCommit: true });
      log.info(`This monitor (member ${self.memberId}) is the primary: it is no synchronous standby any more`);
    }
    const others = members.filter((m) => m.memberId !== selfId);
    peers = others.map((m) => memberUri(m, deps.sslmode));
    const byName = new Map(others.map((m) => [m.slotName, m]));

    // Slots: one per other member, none for anything else of ours.
    const slots = await listReplicationSlots(client);
    for (const m of others) {
      if (slots.some((s) => s.slotName === m.slotName)) continue;
      await createPhysicalSlot(client, m.slotName);
      log.info(`Created replication slot "${m.slotName}" for monitor member ${m.memberId} (${m.hostname}:${m.port})`);
    }
    for (const s of slots) {
      if (monitorMemberIdOfSlot(s.slotName) === undefined || byName.has(s.slotName)) continue;
      try {
        // A member removed while it streams: end its WAL sender first.
        if (s.active) await client.query('SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL', [s.slotName]);
        await dropReplicationSlot(client, s.slotName);
        log.info(`Dropped replication slot "${s.slotName}": no monitor member uses it`);
      } catch (error) {
        once(`drop ${s.slotName}`, 'warn', `Failed to drop replication slot "${s.slotName}": ${messageOf(error)}`);
      }
    }

    // HBA: each member may stream from here.
    let reload = false;
    for (const m of others) {
      try {
        if (await ensureHba(m)) reload = true;
      } catch (error) {
        once(`hba ${m.memberId}`, 'warn', `Failed to add the HBA rules of monitor member ${m.memberId} (${m.hostname}): ${messageOf(error)}`);
      }
    }
    if (reload) await reloadConf(client);

    // The synchronous set.
    const current = await currentSetting(client, 'synchronous_standby_names');
    const before = memberNamesIn(current);
    const inSet = new Set(before);
    const now = clock();
    for (const m of others) {
      if (streams(m)) lastStreaming.set(m.memberId, now);
      else if (!lastStreaming.has(m.memberId)) lastStreaming.set(m.memberId, now);
      if (!inSet.has(m.slotName) && (streams(m) || m.sync)) {
        inSet.add(m.slotName);
        log.info(`Monitor member ${m.memberId} (${m.hostname}:${m.port}) ${m.sync ? 'is synchronous' : 'streams'}: `
          + 'adding it to synchronous_standby_names');
      } else if (inSet.has(m.slotName) && !m.sync && streams(m) && isSyncState(m)) {
        await record.add(m);
        await setMonitorMemberSync(client, m.memberId, true);
        log.info(`Monitor member ${m.memberId} (${m.hostname}:${m.port}) is a synchronous standby now`);
      } else if (inSet.has(m.slotName) && !streams(m)) {
        const since = now - (lastStreaming.get(m.memberId) ?? now);
        if (!record.strict && (record.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS) <= since) {
          await record.remove(m);
          if (m.sync) await setMonitorMemberSync(client, m.memberId, false, { localCommit: true });
          inSet.delete(m.slotName);
          log.warn(`Monitor member ${m.memberId} (${m.hostname}:${m.port}) has not streamed for ${Math.round(since / 1000)} s: `
            + 'removing it from the synchronous set');
        } else if (record.strict) {
          once(`down ${m.memberId}`, 'warn', `Monitor member ${m.memberId} (${m.hostname}:${m.port}) does not stream: it stays a synchronous `
            + 'standby and the monitor\'s writes wait for it (without etcd only an operator removes it)');
        }
      }
      if (streams(m)) logged.delete(`down ${m.memberId}`);
    }
    // Names of members that were removed (or of this monitor itself) leave the set.
    for (const name of before) {
      if (byName.has(name)) continue;
      const id = monitorMemberIdOfSlot(name);
      if (id !== undefined) await record.remove({ memberId: id, hostname: '', port: 0, sync: false, syncChangedAt: null, registeredAt: null, slotName: name });
      inSet.delete(name);
      log.info(`Removing "${name}" from synchronous_standby_names: ${id === selfId ? 'it is this monitor' : 'it is no monitor member any more'}`);
    }
    const wanted = renderMemberStandbyNames(others.filter((m) => inSet.has(m.slotName)).map((m) => m.slotName));
    if (wanted !== current && (before.length > 0 || wanted !== '')) {
      await setSynchronousStandbyNames(client, wanted);
      log.info(`Set synchronous_standby_names to '${wanted}'`);
    }
  }

  return {
    round,
    get selfId() { return selfId; },
    peerUris: () => peers,
    async run(signal) {
      const period = deps.periodMs ?? MEMBERS_LOOP_MS;
      while (!signal.aborted) {
        try {
          await round();
          logged.delete('round');
        } catch (error) {
          if (signal.aborted) return;
          once('round', 'warn', `Failed to maintain the monitor members: ${messageOf(error)}`);
        }
        await sleep(period, signal);
      }
    },
  };
}
