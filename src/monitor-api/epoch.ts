/**
 * Monitor epochs (migration 0010, api/07-monitor-epoch.sql): read by
 * keepers on every connection and with every node_active, advanced by the
 * monitor service.
 */
import { call, one, type MonitorClient, type Row } from './call.js';
import { asBool, asInt, asNullableBigInt, asNullableDate, asNullableInt } from './types.js';

export interface MonitorEpoch {
  /** 0 before the service started the first epoch. */
  epoch: number;
  systemIdentifier: bigint | null;
  timeline: number | null;
  startedAt: Date | null;
  /** Whether the monitor database accepts writes (not in recovery). */
  writable: boolean;
}

export function mapMonitorEpoch(row: Row): MonitorEpoch {
  return {
    epoch: asInt(row.epoch, 'epoch'),
    systemIdentifier: asNullableBigInt(row.system_identifier, 'system_identifier'),
    timeline: asNullableInt(row.timeline, 'timeline'),
    startedAt: asNullableDate(row.started_at, 'started_at'),
    writable: asBool(row.writable, 'writable'),
  };
}

/** current_monitor_epoch (autoctl_node): the epoch and whether the monitor accepts writes. */
export function currentMonitorEpoch(client: MonitorClient): Promise<MonitorEpoch> {
  return call(client, 'current_monitor_epoch', 'SELECT * FROM pgautofailover.current_monitor_epoch()', [],
    one('current_monitor_epoch', mapMonitorEpoch));
}

/**
 * advance_monitor_epoch (the monitor service): starts the next epoch when
 * the database is writable on another system or a newer timeline than the
 * latest epoch records, or with `force`. `advanced`: a new one was started.
 */
export function advanceMonitorEpoch(client: MonitorClient, force = false): Promise<MonitorEpoch & { advanced: boolean }> {
  return call(client, 'advance_monitor_epoch', 'SELECT * FROM pgautofailover.advance_monitor_epoch($1::bool)', [force],
    one('advance_monitor_epoch', (row) => ({ ...mapMonitorEpoch(row), advanced: asBool(row.advanced, 'advanced') })));
}
