/** What `pg_autoctl watch` reads: current_state plus how long ago each node was checked and reported. */
import { call, type MonitorClient } from './call.js';
import { mapCurrentState, type CurrentStateRow } from './types.js';

export interface WatchNodeRow extends CurrentStateRow {
  /** Seconds since the monitor's last health check of the node (monitor clock); null when never. */
  healthLagSeconds: number | null;
  /** Seconds since the node's last node_active call (monitor clock); null when never. */
  reportLagSeconds: number | null;
}

function seconds(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

/** current_state of a formation (or one group) with the health-check and report lags, by group then node id. */
export function watchNodes(client: MonitorClient, formation: string, groupId?: number): Promise<WatchNodeRow[]> {
  const source = groupId === undefined
    ? 'pgautofailover.current_state($1::text)'
    : 'pgautofailover.current_state($1::text, $2::int)';
  return call(client, 'current_state',
    `SELECT cs.*,
            extract(epoch FROM now() - n.healthchecktime)::float8 AS health_lag,
            extract(epoch FROM now() - n.reporttime)::float8 AS report_lag
       FROM ${source} cs
       JOIN pgautofailover.node n ON n.nodeid = cs.node_id
      ORDER BY cs.group_id, cs.node_id`,
    groupId === undefined ? [formation] : [formation, groupId],
    (rows) => rows.map((row) => ({
      ...mapCurrentState(row),
      healthLagSeconds: seconds(row.health_lag),
      reportLagSeconds: seconds(row.report_lag),
    })));
}
