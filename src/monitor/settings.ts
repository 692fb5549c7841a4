/**
 * The monitor's tunables, stored in pgautofailover.settings (the
 * original's pgautofailover.* GUCs, spec 03 §10), read by the service.
 */
import { DEFAULT_FSM_SETTINGS, type FsmSettings } from '../fsm/index.js';
import { readSettings, type MonitorClient, type SettingRow } from '../monitor-api/index.js';
import { DEFAULT_HEALTH_SETTINGS, type HealthSettings } from './health-check.js';

export interface MonitorSettings {
  health: HealthSettings;
  /** Raw values by name without the `pgautofailover.` prefix, for the decision settings. */
  values: ReadonlyMap<string, string>;
  /** How often every group is re-decided without a notification (time-based rules). */
  decisionTickMs: number;
}

/** Settings from the table's rows (names already without the `pgautofailover.` prefix, see readSettings). */
export function parseSettingsRows(rows: readonly SettingRow[]): MonitorSettings {
  const values = new Map<string, string>();
  for (const row of rows) values.set(row.name, row.setting);
  const int = (name: string, fallback: number): number => {
    const n = Number(values.get(name));
    return Number.isFinite(n) && n >= 0 ? n : fallback;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const v = values.get(name)?.toLowerCase();
    if (v === undefined) return fallback;
    return ['on', 'true', 'yes', '1'].includes(v);
  };
  return {
    health: {
      periodMs: Math.max(100, int('health_check_period', DEFAULT_HEALTH_SETTINGS.periodMs)),
      timeoutMs: Math.max(100, int('health_check_timeout', DEFAULT_HEALTH_SETTINGS.timeoutMs)),
      maxRetries: int('health_check_max_retries', DEFAULT_HEALTH_SETTINGS.maxRetries),
      retryDelayMs: int('health_check_retry_delay', DEFAULT_HEALTH_SETTINGS.retryDelayMs),
      enabled: bool('enable_health_checks', true),
    },
    values,
    decisionTickMs: Math.max(100, int('decision_tick', 500)),
  };
}

export async function readMonitorSettings(client: MonitorClient): Promise<MonitorSettings> {
  return parseSettingsRows(await readSettings(client));
}

/** The decision function's settings from the monitor's settings table. */
export function fsmSettingsFrom(settings: MonitorSettings): FsmSettings {
  const int = (name: string, fallback: number): number => {
    const n = Number(settings.values.get(name));
    return Number.isFinite(n) && n >= 0 ? n : fallback;
  };
  const d = DEFAULT_FSM_SETTINGS;
  const unhealthy = int('node_considered_unhealthy_timeout', d.nodeConsideredUnhealthyTimeoutMs);
  return {
    nodeConsideredUnhealthyTimeoutMs: unhealthy,
    startupGracePeriodMs: int('startup_grace_period', d.startupGracePeriodMs),
    primaryDemoteTimeoutMs: int('primary_demote_timeout', d.primaryDemoteTimeoutMs),
    enableSyncWalLogThreshold: int('enable_sync_wal_log_threshold', d.enableSyncWalLogThreshold),
    promoteWalLogThreshold: int('promote_wal_log_threshold', d.promoteWalLogThreshold),
    leaseMs: int('primary_lease_timeout', Math.min(d.leaseMs, unhealthy)),
    freshReportMs: d.freshReportMs,
  };
}
