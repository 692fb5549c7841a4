/** What the monitor service's Prometheus metrics read (src/monitor/metrics.ts). */
import { call, type MonitorClient } from './call.js';
import { MonitorDataError, type NodeHealth, type ReplicationState, asHealth, asInt, asLsn, asState, asText } from './types.js';

/** A node as the metrics show it, with its ages computed by Postgres (seconds). */
export interface NodeMetricsRow {
  formationId: string;
  groupId: number;
  /** As text: exact for any bigint, and only ever a label. */
  nodeId: string;
  name: string;
  reportedState: ReplicationState;
  goalState: ReplicationState;
  health: NodeHealth;
  reportedLsn: bigint;
  reportedTli: number;
  /** Seconds since the node's keeper last reported (node_active). */
  reportAgeSeconds: number;
  /** Seconds since the monitor last health-checked the node. */
  healthCheckAgeSeconds: number;
}

const asSeconds = (value: unknown, what: string): number => {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n)) throw new MonitorDataError(`invalid ${what}: ${JSON.stringify(value)}`);
  return n;
};

/** Every node of every formation, by formation, group and node id. */
export function nodesForMetrics(client: MonitorClient): Promise<NodeMetricsRow[]> {
  return call(client, 'node',
    `SELECT formationid, groupid, nodeid::text AS nodeid, nodename, reportedstate::text, goalstate::text, health,
            reportedlsn::text, reportedtli,
            extract(epoch FROM now() - reporttime)::float8 AS report_age,
            extract(epoch FROM now() - healthchecktime)::float8 AS healthcheck_age
       FROM pgautofailover.node ORDER BY formationid, groupid, nodeid`, [],
    (rows) => rows.map((row) => ({
      formationId: asText(row.formationid, 'formationid'),
      groupId: asInt(row.groupid, 'groupid'),
      nodeId: asText(row.nodeid, 'nodeid'),
      name: asText(row.nodename, 'nodename'),
      reportedState: asState(row.reportedstate, 'reportedstate'),
      goalState: asState(row.goalstate, 'goalstate'),
      health: asHealth(row.health),
      reportedLsn: asLsn(row.reportedlsn, 'reportedlsn'),
      reportedTli: asInt(row.reportedtli, 'reportedtli'),
      reportAgeSeconds: asSeconds(row.report_age, 'report_age'),
      healthCheckAgeSeconds: asSeconds(row.healthcheck_age, 'healthcheck_age'),
    })));
}
