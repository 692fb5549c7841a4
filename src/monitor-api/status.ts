/**
 * What the monitor's live status page reads (src/monitor/status-page):
 * every formation with its nodes, their states, WAL lag behind their
 * group's primary, health and write lease, and the latest events. Times
 * are epoch milliseconds of the monitor's clock, with the clock's `now`,
 * so that the page shows ages without trusting the browser's clock.
 */
import { call, one, type MonitorClient } from './call.js';
import {
  asBool, asFormationKind, asHealth, asInt, asNullableBool, asNullableText, asState, asText,
  type FormationKind, type NodeHealth, type ReplicationState,
} from './types.js';

export interface StatusNodeRow {
  nodeId: number;
  groupId: number;
  name: string;
  host: string;
  port: number;
  reportedState: ReplicationState;
  goalState: ReplicationState;
  /** sync_state of the last report (async, sync, quorum, potential, unknown). */
  replicationState: string | null;
  pgIsRunning: boolean | null;
  timeline: number;
  lsn: string;
  /** WAL bytes behind the group's writable node's last report; null for that node or with no writable node. */
  lagBytes: number | null;
  health: NodeHealth;
  candidatePriority: number;
  replicationQuorum: boolean;
  cluster: string;
  reportTimeMs: number;
  healthCheckTimeMs: number;
  stateChangeTimeMs: number;
  /** When node_active last granted the write lease; null: never. */
  leaseGrantTimeMs: number | null;
}

export interface StatusFormationRow {
  formationId: string;
  kind: FormationKind;
  dbname: string;
  numberSyncStandbys: number;
  /** The formation's nodes, by group then node id. */
  nodes: StatusNodeRow[];
}

export interface StatusOverview {
  /** The monitor's clock at the read (epoch ms). */
  nowMs: number;
  /** pgautofailover.primary_lease_timeout, ms. */
  leaseTimeoutMs: number;
  formations: StatusFormationRow[];
}

const num = (value: unknown, what: string): number => {
  const n = typeof value === 'number' ? value : Number(value);
  if (value === null || value === undefined || !Number.isFinite(n)) throw new Error(`${what}: expected a number`);
  return n;
};
const nullableNum = (value: unknown, what: string): number | null =>
  value === null || value === undefined ? null : num(value, what);

/**
 * The formations and their nodes (formations without nodes included).
 * Run it inside a read-only repeatable-read transaction with the events
 * for a consistent picture.
 */
export function statusOverview(client: MonitorClient): Promise<StatusOverview> {
  const meta = call(client, 'settings',
    `SELECT (extract(epoch FROM now()) * 1000)::float8 AS now_ms,
            (SELECT setting FROM pgautofailover.settings WHERE name = 'pgautofailover.primary_lease_timeout') AS lease_timeout`,
    [], one('settings', (row) => ({ nowMs: num(row.now_ms, 'now_ms'), leaseTimeoutMs: Number(row.lease_timeout ?? 20000) || 20000 })));
  const nodes = call(client, 'node',
    `SELECT f.formationid, f.kind, f.dbname::text AS dbname, f.number_sync_standbys,
            n.nodeid, n.groupid, n.nodename, n.nodehost, n.nodeport,
            n.reportedstate, n.goalstate, n.reportedrepstate, n.reportedpgisrunning,
            n.reportedtli, n.reportedlsn::text AS reportedlsn,
            CASE WHEN n.primary_lsn IS NULL OR pgautofailover.is_writable(n.reportedstate) THEN NULL
                 ELSE greatest(0, pg_wal_lsn_diff(n.primary_lsn, n.reportedlsn))::float8 END AS lag_bytes,
            n.health, n.candidatepriority, n.replicationquorum, n.nodecluster,
            (extract(epoch FROM n.reporttime) * 1000)::float8 AS report_ms,
            (extract(epoch FROM n.healthchecktime) * 1000)::float8 AS health_check_ms,
            (extract(epoch FROM n.statechangetime) * 1000)::float8 AS state_change_ms,
            (extract(epoch FROM n.leasegranttime) * 1000)::float8 AS lease_grant_ms
       FROM pgautofailover.formation f
       LEFT JOIN (SELECT node.*,
                         max(node.reportedlsn) FILTER (WHERE pgautofailover.is_writable(node.reportedstate))
                           OVER (PARTITION BY node.formationid, node.groupid) AS primary_lsn
                    FROM pgautofailover.node) n ON n.formationid = f.formationid
      ORDER BY f.formationid, n.groupid, n.nodeid`,
    [], (rows) => {
      const formations = new Map<string, StatusFormationRow>();
      for (const row of rows) {
        const id = asText(row.formationid, 'formationid');
        let formation = formations.get(id);
        if (formation === undefined) {
          formation = {
            formationId: id,
            kind: asFormationKind(row.kind),
            dbname: asText(row.dbname, 'dbname'),
            numberSyncStandbys: asInt(row.number_sync_standbys, 'number_sync_standbys'),
            nodes: [],
          };
          formations.set(id, formation);
        }
        if (row.nodeid === null || row.nodeid === undefined) continue;
        formation.nodes.push({
          nodeId: asInt(row.nodeid, 'nodeid'),
          groupId: asInt(row.groupid, 'groupid'),
          name: asText(row.nodename, 'nodename'),
          host: asText(row.nodehost, 'nodehost'),
          port: asInt(row.nodeport, 'nodeport'),
          reportedState: asState(row.reportedstate, 'reportedstate'),
          goalState: asState(row.goalstate, 'goalstate'),
          replicationState: asNullableText(row.reportedrepstate, 'reportedrepstate'),
          pgIsRunning: asNullableBool(row.reportedpgisrunning, 'reportedpgisrunning'),
          timeline: asInt(row.reportedtli, 'reportedtli'),
          lsn: asText(row.reportedlsn, 'reportedlsn'),
          lagBytes: nullableNum(row.lag_bytes, 'lag_bytes'),
          health: asHealth(row.health),
          candidatePriority: asInt(row.candidatepriority, 'candidatepriority'),
          replicationQuorum: asBool(row.replicationquorum, 'replicationquorum'),
          cluster: asText(row.nodecluster, 'nodecluster'),
          reportTimeMs: num(row.report_ms, 'report_ms'),
          healthCheckTimeMs: num(row.health_check_ms, 'health_check_ms'),
          stateChangeTimeMs: num(row.state_change_ms, 'state_change_ms'),
          leaseGrantTimeMs: nullableNum(row.lease_grant_ms, 'lease_grant_ms'),
        });
      }
      return [...formations.values()];
    });
  return Promise.all([meta, nodes]).then(([m, formations]) => ({ ...m, formations }));
}
