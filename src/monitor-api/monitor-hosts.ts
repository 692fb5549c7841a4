/**
 * What a keeper needs of the monitor members (issue 13): the host and
 * port of every monitor of the monitor database, to find the writable one
 * after a monitor failover even when its configured URI names one host.
 * Read through monitor_members() (api/08-monitor-members.sql); a monitor
 * without members (a schema before migration 0012) answers undefined.
 */
import { call, type MonitorClient } from './call.js';
import { asInt, asText, sqlStateOf } from './types.js';

export interface MonitorMemberHost {
  memberId: number;
  hostname: string;
  port: number;
}

/** The members' hosts and ports, by member id; undefined when the monitor has no monitor_members() (SQLSTATE 42883). */
export async function monitorMemberHosts(client: MonitorClient): Promise<MonitorMemberHost[] | undefined> {
  try {
    return await call(client, 'monitor_members', 'SELECT member_id, hostname, port FROM pgautofailover.monitor_members() ORDER BY member_id', [],
      (rows) => rows.map((row) => ({
        memberId: asInt(row.member_id, 'member_id'),
        hostname: asText(row.hostname, 'hostname'),
        port: asInt(row.port, 'port'),
      })));
  } catch (error) {
    if (sqlStateOf(error) === '42883') return undefined;
    throw error;
  }
}
