/**
 * Clean switchovers of the monitor (migration 0013,
 * api/09-monitor-switchover.sql): `pg_autoctl perform monitor-failover`
 * asks the primary monitor to hand over to a synchronous standby member;
 * the primary's service reads the pending request and answers it.
 */
import { call, maybeOne, nothing, one, type MonitorClient, type Row } from './call.js';
import { asBool, asDate, asInt, asNullableDate, asNullableInt, asNullableText, asText } from './types.js';

export interface MonitorSwitchoverRequest {
  requestId: number;
  targetMember: number;
  hostname: string;
  port: number;
  epoch: number;
  requestedAt: Date;
}

/** request_monitor_switchover (autoctl_node): fails unless the member exists and is a synchronous standby. */
export function requestMonitorSwitchover(client: MonitorClient, memberId: number): Promise<MonitorSwitchoverRequest> {
  return call(client, 'request_monitor_switchover', 'SELECT * FROM pgautofailover.request_monitor_switchover($1::bigint)', [memberId],
    one('request_monitor_switchover', (row) => ({
      requestId: asInt(row.request_id, 'request_id'),
      targetMember: asInt(row.target_member, 'target_member'),
      hostname: asText(row.hostname, 'hostname'),
      port: asInt(row.port, 'port'),
      epoch: asInt(row.epoch, 'epoch'),
      requestedAt: asDate(row.requested_at, 'requested_at'),
    })));
}

export const MONITOR_SWITCHOVER_STATUSES = ['requested', 'accepted', 'refused', 'cancelled'] as const;
export type MonitorSwitchoverStatus = (typeof MONITOR_SWITCHOVER_STATUSES)[number];

export interface MonitorSwitchoverAnswer {
  targetMember: number;
  epoch: number;
  status: MonitorSwitchoverStatus;
  requestedAt: Date;
  answeredAt: Date | null;
  message: string | null;
}

function asStatus(value: unknown): MonitorSwitchoverStatus {
  const text = asText(value, 'status');
  if (!(MONITOR_SWITCHOVER_STATUSES as readonly string[]).includes(text)) throw new Error(`unknown switchover status "${text}"`);
  return text as MonitorSwitchoverStatus;
}

/** monitor_switchover_status (autoctl_node): undefined when there is no such request. */
export function monitorSwitchoverStatus(client: MonitorClient, requestId: number): Promise<MonitorSwitchoverAnswer | undefined> {
  return call(client, 'monitor_switchover_status', 'SELECT * FROM pgautofailover.monitor_switchover_status($1::bigint)', [requestId],
    one('monitor_switchover_status', (row): MonitorSwitchoverAnswer | undefined => {
      const target = asNullableInt(row.target_member, 'target_member');
      if (target === null) return undefined;
      return {
        targetMember: target,
        epoch: asInt(row.epoch, 'epoch'),
        status: asStatus(row.status),
        requestedAt: asDate(row.requested_at, 'requested_at'),
        answeredAt: asNullableDate(row.answered_at, 'answered_at'),
        message: asNullableText(row.message, 'message'),
      };
    }));
}

export interface PendingMonitorSwitchover extends MonitorSwitchoverRequest {
  /** The member's sync flag. */
  sync: boolean;
  /** The target streams to this monitor as a synchronous standby now. */
  streamingSync: boolean;
}

function mapPending(row: Row): PendingMonitorSwitchover {
  return {
    requestId: asInt(row.request_id, 'request_id'),
    targetMember: asInt(row.target_member, 'target_member'),
    hostname: asText(row.hostname, 'hostname'),
    port: asInt(row.port, 'port'),
    sync: asBool(row.sync, 'sync'),
    streamingSync: asBool(row.streaming_sync, 'streaming_sync'),
    epoch: asInt(row.epoch, 'epoch'),
    requestedAt: asDate(row.requested_at, 'requested_at'),
  };
}

/** pending_monitor_switchover (the service): the pending request of the current epoch, if any. */
export function pendingMonitorSwitchover(client: MonitorClient): Promise<PendingMonitorSwitchover | undefined> {
  return call(client, 'pending_monitor_switchover', 'SELECT * FROM pgautofailover.pending_monitor_switchover()', [], maybeOne(mapPending));
}

/** answer_monitor_switchover (the service): accepted (handing over now) or refused, with why. */
export function answerMonitorSwitchover(client: MonitorClient, requestId: number, accepted: boolean, message: string): Promise<void> {
  return call(client, 'answer_monitor_switchover', 'SELECT pgautofailover.answer_monitor_switchover($1::bigint, $2::bool, $3::text)',
    [requestId, accepted, message], nothing);
}

export interface MonitorMemberSync {
  memberId: number;
  sync: boolean;
  syncChangedAt: Date | null;
}

/** monitor_member_sync: the member registered at hostname:port and its sync flag (readable on a standby). */
export function monitorMemberSync(client: MonitorClient, hostname: string, port: number): Promise<MonitorMemberSync | undefined> {
  return call(client, 'monitor_member_sync', 'SELECT * FROM pgautofailover.monitor_member_sync($1::text, $2::int)', [hostname, port],
    maybeOne((row) => ({
      memberId: asInt(row.member_id, 'member_id'),
      sync: asBool(row.sync, 'sync'),
      syncChangedAt: asNullableDate(row.sync_changed_at, 'sync_changed_at'),
    })));
}
