/**
 * The monitor's leader election and sync record in etcd (issue 13 phase 3,
 * docs/architecture.md "Monitor high availability"). The etcd3 client is
 * loaded here only, with a dynamic import, so a monitor without etcd never
 * loads it (it is not in the bundle).
 *
 * Keys, under the prefix (`ha.etcd_prefix`, by default
 * /pg_auto_failover/<system identifier of the monitor database>):
 * - `leader`: the candidate name (`hostname:port`) of the monitor that
 *   leads, attached to its lease of `ha.etcd_ttl` seconds. It is created
 *   only when absent (a transaction on its create revision), so one
 *   candidate at a time holds it; it goes away when the lease expires or is
 *   revoked.
 * - `sync`: the member id of the synchronous standby monitor, the only one
 *   a new leader may promote. Written and removed by the leader only.
 * - `primary`: the candidate name of the monitor whose Postgres was last
 *   made writable by a leader. A monitor whose database is a primary but
 *   that this key does not name may not take leadership: another one was
 *   promoted since (its writes are not in this copy); it rejoins instead.
 *
 * The leader renews its lease itself, about every second, each request
 * with a deadline. A renewal counts from the moment it was sent (etcd
 * restarted the lease no earlier), so when no renewal has succeeded for
 * TTL/2 the lease still has at least TTL/2 to run: the leader steps down
 * then, at once, and has that half of the TTL to stop its Postgres before
 * another candidate can take over. A renewal that etcd answers with "no
 * such lease" (expired, revoked) steps down at once too, as does finding
 * the leader key missing or naming someone else.
 */
import { messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { SyncRecord } from './sync-record.js';

type Etcd3Module = typeof import('etcd3');
type Etcd3Client = InstanceType<Etcd3Module['Etcd3']>;

/** How often the leader renews its lease (at most; a quarter of the TTL when shorter). */
export const KEEPALIVE_PERIOD_MS = 1000;
/** How often the step-down rule is checked. */
const STEP_DOWN_CHECK_MS = 100;

export interface EtcdHaOptions {
  endpoints: readonly string[];
  /** Key prefix, no trailing slash. */
  prefix: string;
  ttlSeconds: number;
  /** This monitor's name in the election: `hostname:port`. */
  candidate: string;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Deadline of each etcd request (default: a quarter of the TTL, at most 2 s). */
  requestTimeoutMs?: number;
  /** `ha.sync_timeout` in ms: how long a member may stop streaming before the primary drops it from the sync set. */
  syncTimeoutMs?: number;
}

/** The default key prefix of a monitor database. */
export function defaultEtcdPrefix(systemIdentifier: string): string {
  return `/pg_auto_failover/${systemIdentifier}`;
}

/** The candidate name of a monitor in the election. */
export function candidateName(hostname: string, port: number): string {
  return hostname.includes(':') ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/** hostname and port of a candidate name. */
export function parseCandidate(name: string): { hostname: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(name);
  if (m === null) return undefined;
  return { hostname: m[1] ?? m[2] ?? '', port: Number(m[3]) };
}

export interface EtcdHa {
  readonly prefix: string;
  readonly candidate: string;
  readonly ttlSeconds: number;
  /** True while this candidate holds the leader key and its last renewal is recent (synchronous). */
  isLeader(): boolean;
  /**
   * One attempt to lead: true when this candidate holds the leader key
   * (taken now, held already, or adopted from a previous process of the
   * same monitor). Throws when etcd does not answer.
   */
  campaign(): Promise<boolean>;
  /** The leader key's value now, undefined when no one leads; throws when etcd does not answer. */
  leader(): Promise<string | undefined>;
  /** Gives up the leadership: the lease is revoked (its keys go), the renewals stop. */
  resign(): Promise<void>;
  /** Called at once (synchronously) when this candidate stops being the leader for any reason but resign(). */
  onStepDown(listener: (reason: string) => void): () => void;
  /** `primary`: which monitor was last made writable; undefined when never. */
  primary(): Promise<string | undefined>;
  /** Writes `primary` = this candidate, only while it holds the leader key; false when it does not. */
  claimPrimary(): Promise<boolean>;
  /** The `sync` record (member id of the synchronous standby monitor). */
  readonly syncRecord: SyncRecord;
  /** Reads `sync`: the member id it names, undefined when none. */
  syncMember(): Promise<number | undefined>;
  /** Stops the renewals and closes the client (the lease is left to expire unless resigned). */
  close(): Promise<void>;
}

/** Connects to etcd (no request is made yet). */
export async function createEtcdHa(options: EtcdHaOptions): Promise<EtcdHa> {
  const { Etcd3 } = await import('etcd3');
  const ttlMs = options.ttlSeconds * 1000;
  const requestTimeoutMs = options.requestTimeoutMs ?? Math.min(2000, Math.max(250, ttlMs / 4));
  const client: Etcd3Client = new Etcd3({ hosts: [...options.endpoints], dialTimeout: requestTimeoutMs });
  const key = (name: string): string => `${options.prefix}/${name}`;
  const leaderKey = key('leader');
  const syncKey = key('sync');
  const primaryKey = key('primary');
  const deadline = (): { deadline: Date } => ({ deadline: new Date(Date.now() + requestTimeoutMs) });
  const log = options.log;

  /** The lease we lead with, and when the last successful renewal was sent (monotonic ms). */
  let leaseId: string | undefined;
  let renewedAt = 0;
  let leading = false;
  let keepaliveTimer: NodeJS.Timeout | undefined;
  let checkTimer: NodeJS.Timeout | undefined;
  let renewing = false;
  let closed = false;
  const listeners = new Set<(reason: string) => void>();

  function stopTimers(): void {
    clearInterval(keepaliveTimer);
    clearInterval(checkTimer);
    keepaliveTimer = undefined;
    checkTimer = undefined;
  }

  function stepDown(reason: string): void {
    if (!leading) return;
    leading = false;
    leaseId = undefined;
    stopTimers();
    log.warn(`Monitor leadership in etcd lost: ${reason}`);
    for (const l of [...listeners]) {
      try {
        l(reason);
      } catch (error) {
        log.error(`Failed to handle the loss of the monitor leadership: ${messageOf(error)}`);
      }
    }
  }

  /** One lease renewal with a deadline; resolves with the remaining TTL (0: the lease is gone). */
  async function keepaliveOnce(id: string): Promise<number> {
    const stream = await client.leaseClient.leaseKeepAlive(deadline());
    try {
      return await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer from etcd within ${requestTimeoutMs} ms`)), requestTimeoutMs);
        stream.on('data', (res: { TTL?: string | number }) => { clearTimeout(timer); resolve(Number(res.TTL ?? 0)); });
        stream.on('error', (error: Error) => { clearTimeout(timer); reject(error); });
        stream.write({ ID: id });
      });
    } finally {
      try { stream.end(); } catch { /* already closed */ }
    }
  }

  async function renew(): Promise<void> {
    if (renewing || !leading || leaseId === undefined) return;
    renewing = true;
    const id = leaseId;
    const sentAt = performance.now();
    try {
      const [ttl, holder] = await Promise.all([
        keepaliveOnce(id),
        client.get(leaderKey).options(deadline()).exec(),
      ]);
      if (!leading || leaseId !== id) return;
      if (ttl <= 0) {
        stepDown(`etcd says the lease ${id} expired`);
        return;
      }
      const kv = holder.kvs[0];
      if (kv === undefined || kv.value.toString() !== options.candidate || String(kv.lease) !== String(id)) {
        stepDown(kv === undefined ? 'the leader key is gone' : `the leader key names "${kv.value.toString()}"`);
        return;
      }
      renewedAt = Math.max(renewedAt, sentAt);
    } catch (error) {
      if (leading && leaseId === id && /lease not found|requested lease not found/i.test(messageOf(error))) {
        stepDown(`etcd says the lease ${id} is gone`);
      }
      // Other failures: the step-down check decides once TTL/2 passed.
    } finally {
      renewing = false;
    }
  }

  function lead(id: string, sentAt: number): void {
    leaseId = id;
    renewedAt = sentAt;
    leading = true;
    const period = Math.min(KEEPALIVE_PERIOD_MS, ttlMs / 4);
    keepaliveTimer = setInterval(() => { void renew(); }, period);
    checkTimer = setInterval(() => {
      const silent = performance.now() - renewedAt;
      if (silent > ttlMs / 2) stepDown(`no lease renewal succeeded for ${(silent / 1000).toFixed(1)} s (TTL ${options.ttlSeconds} s)`);
    }, STEP_DOWN_CHECK_MS);
    void renew();
  }

  async function readValue(k: string): Promise<string | undefined> {
    const res = await client.get(k).options(deadline()).exec();
    return res.kvs[0]?.value.toString();
  }

  /** A transaction run only while our leader key stands; false when it does not. */
  async function asLeader(op: (txn: ReturnType<Etcd3Client['if']>) => ReturnType<Etcd3Client['if']>): Promise<boolean> {
    if (!leading) return false;
    const res = await op(client.if(leaderKey, 'Value', '==', options.candidate)).options(deadline()).commit();
    return res.succeeded === true;
  }

  const syncRecord: SyncRecord = {
    strict: false,
    syncTimeoutMs: options.syncTimeoutMs ?? 10_000,
    async add(member) {
      if (!(await asLeader((t) => t.then(client.put(syncKey).value(String(member.memberId)))))) {
        throw new Error(`cannot record member ${member.memberId} as the synchronous standby in etcd: this monitor does not lead`);
      }
    },
    async remove(member) {
      if (!(await asLeader((t) => t.and(syncKey, 'Value', '==', String(member.memberId)).then(client.delete().key(syncKey))))) {
        // Not named (nothing to remove), or not the leader: tell which.
        if (!leading) throw new Error(`cannot remove member ${member.memberId} from the etcd sync record: this monitor does not lead`);
      }
    },
    async isSync(memberId) {
      const value = await readValue(syncKey);
      return value === String(memberId);
    },
  };

  const ha: EtcdHa = {
    prefix: options.prefix,
    candidate: options.candidate,
    ttlSeconds: options.ttlSeconds,
    isLeader: () => leading && performance.now() - renewedAt <= ttlMs / 2,
    async campaign() {
      if (closed) return false;
      if (leading) return true;
      const current = (await client.get(leaderKey).options(deadline()).exec()).kvs[0];
      if (current !== undefined) {
        if (current.value.toString() !== options.candidate) return false;
        // Our own key, left by a previous process of this monitor: adopt its lease if it still lives.
        const id = String(current.lease);
        const sentAt = performance.now();
        const ttl = await keepaliveOnce(id).catch(() => 0);
        if (ttl > 0 && !leading) {
          log.info(`Monitor leadership in etcd: adopting the leader key of a previous run (lease ${id})`);
          lead(id, sentAt);
          return true;
        }
        return false;
      }
      const sentAt = performance.now();
      const grant = await client.leaseClient.leaseGrant({ TTL: options.ttlSeconds }, deadline());
      const id = String(grant.ID);
      const res = await client.if(leaderKey, 'Create', '==', 0)
        .then(client.put(leaderKey).value(options.candidate).lease(id))
        .options(deadline())
        .commit();
      if (res.succeeded !== true) {
        await client.leaseClient.leaseRevoke({ ID: id }, deadline()).catch(() => undefined);
        return false;
      }
      lead(id, sentAt);
      return true;
    },
    leader: () => readValue(leaderKey),
    async resign() {
      const id = leaseId;
      leading = false;
      leaseId = undefined;
      stopTimers();
      if (id !== undefined) await client.leaseClient.leaseRevoke({ ID: id }, deadline()).catch(() => undefined);
    },
    onStepDown(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    primary: () => readValue(primaryKey),
    claimPrimary: () => asLeader((t) => t.then(client.put(primaryKey).value(options.candidate))),
    syncRecord,
    async syncMember() {
      const value = await readValue(syncKey);
      return value === undefined || !/^\d+$/.test(value) ? undefined : Number(value);
    },
    async close() {
      closed = true;
      leading = false;
      stopTimers();
      client.close();
    },
  };
  return ha;
}
