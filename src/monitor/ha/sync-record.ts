/**
 * The record of which standby monitor is synchronous, kept by a third
 * party (design point 4): with etcd (ha/etcd.ts) the `sync` key, which a
 * new leader reads before it promotes anyone. PLACEHOLDER of the ha-etcd
 * branch until ha-standby (which owns this file) is merged: same interface.
 */
export interface SyncMemberRef { memberId: number }

export interface SyncRecord {
  add(member: SyncMemberRef): Promise<void>;
  remove(member: SyncMemberRef): Promise<void>;
  isSync(memberId: number): Promise<boolean | undefined>;
  readonly strict: boolean;
  readonly syncTimeoutMs?: number;
}

export const noSyncRecord: SyncRecord = {
  strict: true,
  add: () => Promise.resolve(),
  remove: () => Promise.resolve(),
  isSync: () => Promise.resolve(undefined),
};
