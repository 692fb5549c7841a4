/**
 * `pg_autoctl show monitors` (not in 2.0, docs/architecture.md "Monitor
 * high availability"): the monitor members with their role, sync flag,
 * lag and last reply; and the multi-host monitor URI of `show uri
 * --formation monitor` once there are several members.
 */
import type { MonitorMemberStatus } from '../../monitor-api/index.js';
import type { Rendering } from '../command.js';
import { renderTable } from './table.js';

export interface MonitorsData {
  members: readonly MonitorMemberStatus[];
  /** Milliseconds since each member's last reply (by member id), as of the query. */
  replyAgeMs: ReadonlyMap<number, number>;
}

function replyText(ms: number | undefined): string {
  if (ms === undefined) return '';
  return `${(Math.max(0, ms) / 1000).toFixed(1)} s ago`;
}

export function renderMonitorsTable(data: MonitorsData): string {
  return renderTable([
    { header: 'Member', minWidth: 6 },
    { header: 'Host:Port', minWidth: 10 },
    { header: 'Role', minWidth: 7 },
    { header: 'Sync', minWidth: 4 },
    { header: 'Lag (bytes)', minWidth: 11 },
    { header: 'Reply', minWidth: 5 },
  ], data.members.map((m) => [
    String(m.memberId),
    `${m.hostname}:${m.port}`,
    m.role,
    m.role === 'primary' ? '' : m.sync ? 'yes' : 'no',
    m.lagBytes === null ? '' : m.lagBytes.toString(),
    replyText(data.replyAgeMs.get(m.memberId)),
  ]));
}

export const monitorsRendering: Rendering<MonitorsData> = {
  text: renderMonitorsTable,
  json: ({ members }) => members.map((m) => ({
    member_id: m.memberId,
    hostname: m.hostname,
    port: m.port,
    role: m.role,
    sync: m.sync,
    sync_changed_at: m.syncChangedAt?.toISOString() ?? null,
    registered_at: m.registeredAt?.toISOString() ?? null,
    slot_name: m.slotName,
    replication_state: m.replicationState,
    sync_state: m.syncState,
    lag_bytes: m.lagBytes === null ? null : Number(m.lagBytes),
    reply_time: m.replyTime?.toISOString() ?? null,
  })),
};

/**
 * The monitor URI naming every member:
 * `postgres://autoctl_node@h1:p1,h2:p2/pg_auto_failover?target_session_attrs=read-write&sslmode=...`,
 * with the query parameters of the single-host `base` URI after
 * target_session_attrs. With fewer than two members, `base` itself.
 */
export function multiHostMonitorUri(members: ReadonlyArray<{ hostname: string; port: number }>, base: string): string {
  if (members.length < 2) return base;
  const query = base.includes('?') ? base.slice(base.indexOf('?') + 1) : '';
  const params = query.split('&').filter((p) => p !== '' && !p.startsWith('target_session_attrs='));
  const hosts = members.map((m) => `${m.hostname.includes(':') ? `[${m.hostname}]` : m.hostname}:${m.port}`).join(',');
  return `postgres://autoctl_node@${hosts}/pg_auto_failover?${['target_session_attrs=read-write', ...params].join('&')}`;
}
