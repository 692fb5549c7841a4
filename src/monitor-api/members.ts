/**
 * Monitor members (migration 0012, api/08-monitor-members.sql): every
 * monitor of one monitor database, the writable one (primary) and its
 * streaming standbys, with what the server knows of their replication.
 */
import { call, maybeOne, one, type MonitorClient, type Row } from './call.js';
import {
  asBool, asInt, asNullableBigInt, asNullableDate, asNullableText, asText, parseLsn,
} from './types.js';

export interface MonitorMember {
  memberId: number;
  hostname: string;
  port: number;
  /** In the primary's synchronous set (pg_stat_replication said so). */
  sync: boolean;
  syncChangedAt: Date | null;
  registeredAt: Date | null;
  /** `pgautofailover_monitor_<member_id>`: its slot and application_name. */
  slotName: string;
}

export type MonitorMemberRole = 'primary' | 'standby' | 'unknown';

/** A member with the replication facts of the server that answered. */
export interface MonitorMemberStatus extends MonitorMember {
  role: MonitorMemberRole;
  slotExists: boolean;
  /** pg_stat_replication.state (`streaming`, `catchup`, ...), null without a WAL sender. */
  replicationState: string | null;
  /** pg_stat_replication.sync_state (`sync`, `async`, `potential`, `quorum`). */
  syncState: string | null;
  sentLsn: bigint | null;
  flushLsn: bigint | null;
  replayLsn: bigint | null;
  /** Bytes between the primary's current WAL position and the member's replay position. */
  lagBytes: bigint | null;
  replyTime: Date | null;
  /** Whether the server that answered is writable (then `role` is its view as primary). */
  writable: boolean;
}

const nullableLsn = (value: unknown, what: string): bigint | null => {
  const text = asNullableText(value, what);
  return text === null ? null : parseLsn(text);
};

function mapMember(row: Row): MonitorMember {
  return {
    memberId: asInt(row.member_id, 'member_id'),
    hostname: asText(row.hostname, 'hostname'),
    port: asInt(row.port, 'port'),
    sync: asBool(row.sync, 'sync'),
    syncChangedAt: asNullableDate(row.sync_changed_at, 'sync_changed_at'),
    registeredAt: asNullableDate(row.registered_at, 'registered_at'),
    slotName: asText(row.slot_name, 'slot_name'),
  };
}

function mapMemberStatus(row: Row): MonitorMemberStatus {
  const role = asText(row.role, 'role');
  return {
    ...mapMember(row),
    role: role === 'primary' || role === 'standby' ? role : 'unknown',
    slotExists: asBool(row.slot_exists, 'slot_exists'),
    replicationState: asNullableText(row.replication_state, 'replication_state'),
    syncState: asNullableText(row.sync_state, 'sync_state'),
    sentLsn: nullableLsn(row.sent_lsn, 'sent_lsn'),
    flushLsn: nullableLsn(row.flush_lsn, 'flush_lsn'),
    replayLsn: nullableLsn(row.replay_lsn, 'replay_lsn'),
    lagBytes: asNullableBigInt(row.lag_bytes, 'lag_bytes'),
    replyTime: asNullableDate(row.reply_time, 'reply_time'),
    writable: asBool(row.writable, 'writable'),
  };
}

/** The slot and application_name of member `memberId`. */
export function monitorMemberSlotName(memberId: number): string {
  return `pgautofailover_monitor_${memberId}`;
}

/** The member id in a slot or application name (`pgautofailover_monitor_<id>`), else undefined. */
export function monitorMemberIdOfSlot(name: string): number | undefined {
  const match = /^pgautofailover_monitor_(\d{1,15})$/.exec(name);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** register_monitor_member (autoctl_node, writable monitor only): the member row of (hostname, port), created when missing. */
export function registerMonitorMember(client: MonitorClient, hostname: string, port: number): Promise<MonitorMember> {
  return call(client, 'register_monitor_member', 'SELECT * FROM pgautofailover.register_monitor_member($1::text, $2::int)',
    [hostname, port], one('register_monitor_member', mapMember));
}

/** monitor_members (autoctl_node): every member, with this server's replication view of it. */
export function monitorMembers(client: MonitorClient): Promise<MonitorMemberStatus[]> {
  return call(client, 'monitor_members', 'SELECT * FROM pgautofailover.monitor_members()', [],
    (rows) => rows.map(mapMemberStatus));
}

/**
 * set_monitor_member_sync (the monitor service): true when the flag changed.
 * `localCommit`: commit without waiting for the synchronous standbys (taking
 * a member that is gone out of the set must not wait for that very member);
 * the client must then be a session of its own, not a pool.
 */
export async function setMonitorMemberSync(client: MonitorClient, memberId: number, sync: boolean,
  options: { localCommit?: boolean } = {}): Promise<boolean> {
  const run = (): Promise<boolean> => call(client, 'set_monitor_member_sync',
    'SELECT pgautofailover.set_monitor_member_sync($1::bigint, $2::bool) AS changed',
    [memberId, sync], (rows) => maybeOne((row) => row.changed === true)(rows) ?? false);
  if (options.localCommit !== true) return run();
  await client.query('BEGIN');
  try {
    await client.query("SET LOCAL synchronous_commit TO 'local'");
    const changed = await run();
    await client.query('COMMIT');
    return changed;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * remove_monitor_member: true when the row was there. autoctl_node may only
 * remove a member outside the synchronous set; the administrator any.
 */
export function removeMonitorMember(client: MonitorClient, memberId: number): Promise<boolean> {
  return call(client, 'remove_monitor_member', 'SELECT pgautofailover.remove_monitor_member($1::bigint) AS removed',
    [memberId], one('remove_monitor_member', (row) => row.removed === true));
}
