/**
 * Promotion of a standby monitor (docs/architecture.md "Monitor high
 * availability", design point 5): never a member out of the sync set.
 * The member row of this monitor on the local replica must say sync, and
 * with etcd the sync record must name it too; then
 * synchronous_standby_names is emptied (a promoted monitor waiting for a
 * standby that streams from nobody would block every commit), pg_ctl
 * promote, wait until the database accepts writes, take the other
 * members out of the sync set (none streams from us yet), and start the
 * new epoch at once (advance_monitor_epoch: a new timeline is a new epoch),
 * so that keepers and peers see it without waiting for the service.
 */
import type pg from 'pg';
import { AutoctlError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { sleep } from '../../common/service.js';
import {
  advanceMonitorEpoch, monitorMembers, monitorMemberSync, setMonitorMemberSync, type MonitorEpoch, type MonitorMemberSync,
} from '../../monitor-api/index.js';
import {
  alterSystemReset, alterSystemSet, cancelSyncRepWaiters, checkpoint, isInRecovery, reloadConf, pgCtlPromote, setSynchronousStandbyNames, type PgBinaries,
} from '../../postgres/index.js';
import type { SyncRecord } from './sync-record.js';

/** What promotion needs of the sync record (etcd; noSyncRecord without, which names nobody: then the member row decides). */
export type SyncRecordCheck = Pick<SyncRecord, 'isSync'>;

/** This monitor's address as registered in monitor_member (`pg_autoctl.hostname`, `postgresql.port`). */
export interface MemberAddress {
  hostname: string;
  port: number;
}

/**
 * Why this monitor may not be promoted, or undefined when it may: no
 * member row, a row that says sync=false, or a sync record that does not
 * name it (`recordSays`: the record's answer; undefined when there is no
 * record to ask, as without etcd; 'unreadable' when asking it failed).
 */
export function promotionRefusal(address: MemberAddress, member: MonitorMemberSync | undefined,
  recordSays: boolean | undefined | 'unreadable'): string | undefined {
  const who = `${address.hostname}:${address.port}`;
  if (member === undefined) return `this monitor (${who}) is not a registered monitor member`;
  if (!member.sync) {
    return `monitor member ${member.memberId} (${who}) is not a synchronous standby: promoting it could lose monitor writes`;
  }
  if (recordSays === true || recordSays === undefined) return undefined;
  return recordSays === false
    ? `the sync record does not name monitor member ${member.memberId} (${who}): promoting it could lose monitor writes`
    : `the sync record cannot be read: monitor member ${member.memberId} (${who}) is not known to be synchronous`;
}

/** Reads this monitor's member row on the local replica and refuses a member out of the sync set. */
export async function checkPromotable(client: pg.ClientBase, address: MemberAddress,
  syncRecord?: SyncRecordCheck): Promise<MonitorMemberSync> {
  const member = await monitorMemberSync(client, address.hostname, address.port);
  let recordSays: boolean | undefined | 'unreadable';
  if (member !== undefined && member.sync && syncRecord !== undefined) {
    recordSays = await syncRecord.isSync(member.memberId).catch((): 'unreadable' => 'unreadable');
  }
  const refusal = promotionRefusal(address, member, recordSays);
  if (refusal !== undefined || member === undefined) throw new AutoctlError('BAD_STATE', `cannot promote this monitor: ${refusal ?? 'no member row'}`);
  return member;
}

/** wal_retrieve_retry_interval while a standby monitor is being promoted. */
const PROMOTION_RETRY_INTERVAL = '100ms';

export interface PromoteMonitorOptions {
  /** A connection to the local monitor database as a superuser (or the monitor's owner). */
  client: pg.ClientBase;
  bin: Pick<PgBinaries, 'binDir'>;
  pgdata: string;
  address: MemberAddress;
  syncRecord?: SyncRecordCheck | undefined;
  log: Logger;
  env: NodeJS.ProcessEnv;
  /** Deadline for the database to accept writes after pg_ctl promote. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface PromotedMonitor {
  memberId: number;
  /** The epoch started by this promotion. */
  epoch: MonitorEpoch;
  /** From pg_ctl promote to writable. */
  promoteMs: number;
}

/**
 * Promotes the local standby monitor (refusing a member out of the sync
 * set), waits until it accepts writes, and starts the new epoch.
 */
export async function promoteMonitor(options: PromoteMonitorOptions): Promise<PromotedMonitor> {
  const { client, log } = options;
  if (!(await isInRecovery(client))) {
    throw new AutoctlError('BAD_STATE', `cannot promote the monitor at "${options.pgdata}": it is not a standby (its database accepts writes)`);
  }
  const member = await checkPromotable(client, options.address, options.syncRecord);
  log.info(`Promoting monitor member ${member.memberId} (${options.address.hostname}:${options.address.port})`);
  // A promoted monitor must not wait for standbys that stream from nobody
  // yet. And a startup process between two attempts to reach the lost
  // primary notices the promotion only after wal_retrieve_retry_interval
  // (5 s by default): shorter during the promotion (the same reload).
  await alterSystemSet(client, 'wal_retrieve_retry_interval', PROMOTION_RETRY_INTERVAL);
  const started = performance.now();
  try {
    await setSynchronousStandbyNames(client, '');
    await pgCtlPromote(options.bin, options.pgdata, { env: options.env, log });
    const deadline = started + options.timeoutMs;
    while (await isInRecovery(client)) {
      if (performance.now() > deadline) {
        throw new AutoctlError('PGCTL', `the monitor at "${options.pgdata}" still does not accept writes ${options.timeoutMs} ms after pg_ctl promote`);
      }
      if (options.signal?.aborted) throw new AutoctlError('INTERNAL', 'promotion interrupted');
      await sleep(50, options.signal);
    }
  } finally {
    await alterSystemReset(client, 'wal_retrieve_retry_interval').then(() => reloadConf(client)).catch(() => undefined);
  }
  const promoteMs = Math.round(performance.now() - started);
  // Sessions that waited on the old synchronous_standby_names (none expected) go on.
  await cancelSyncRepWaiters(client).catch(() => 0);
  // No other member is a synchronous standby of this new primary yet (the
  // old primary least of all): each becomes one again once it streams from
  // here (members loop). Left set, a dead member would block every write.
  for (const other of await monitorMembers(client)) {
    if (other.memberId !== member.memberId && other.sync) {
      await setMonitorMemberSync(client, other.memberId, false);
      log.info(`Monitor member ${other.memberId} (${other.hostname}:${other.port}) is not a synchronous standby of this new primary (yet)`);
    }
  }
  const epoch = await advanceMonitorEpoch(client);
  // The control file names the new timeline only after a checkpoint; an
  // old primary's pg_rewind from here reads it (PostgreSQL docs, pg_rewind).
  await checkpoint(client);
  log.info(`The monitor accepts writes ${promoteMs} ms after pg_ctl promote; monitor epoch ${epoch.epoch} (timeline ${epoch.timeline ?? 'unknown'})`
    + (epoch.advanced ? ' starts now' : ''));
  return { memberId: member.memberId, epoch, promoteMs };
}
