/**
 * The record of which standby monitor is synchronous, kept by a third
 * party (docs/architecture.md "Monitor high availability", design point 4):
 * with etcd (ha/etcd, issue 13 phase 3) the `sync` key, which a new leader
 * reads before it promotes anyone. The writable monitor's members loop
 * (members-loop.ts) follows Patroni's order: add to
 * synchronous_standby_names, see it synchronous, then `add`; `remove`
 * first, then drop it from synchronous_standby_names.
 *
 * Without etcd there is no third party: `noSyncRecord` records nothing and
 * is STRICT, so the loop never takes a member out of the synchronous set
 * by itself (its loss blocks monitor writes until an operator removes it).
 */
import type { MonitorMember } from '../../monitor-api/index.js';

export interface SyncRecord {
  /** Records `member` as a synchronous standby. Called after Postgres reports it synchronous. */
  add(member: MonitorMember): Promise<void>;
  /** Forgets `member`. Called before it leaves synchronous_standby_names. */
  remove(member: MonitorMember): Promise<void>;
  /** Whether the record names `memberId`; undefined when there is no record to ask (no etcd). */
  isSync(memberId: number): Promise<boolean | undefined>;
  /**
   * Strict: no third party holds the record, so a member that stops
   * streaming is never removed automatically. A record kept elsewhere
   * (etcd) sets false, and then `syncTimeoutMs` applies.
   */
  readonly strict: boolean;
  /** With a non-strict record: how long a member may not stream before it is removed (`ha.sync_timeout`). */
  readonly syncTimeoutMs?: number;
}

/** No third party (no etcd): records nothing, strict. */
export const noSyncRecord: SyncRecord = {
  strict: true,
  add: () => Promise.resolve(),
  remove: () => Promise.resolve(),
  isSync: () => Promise.resolve(undefined),
};
