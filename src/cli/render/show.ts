/**
 * Renderings of `pg_autoctl show state|events|uri` (spec 04 §5): the
 * original's tables, and JSON objects keyed like the monitor's columns.
 */
import { formatLsn, type CurrentStateRow, type NodeId, type ShownEventRow } from '../../monitor-api/index.js';
import type { Rendering } from '../command.js';
import { renderTable } from './table.js';

/** Connection type shown by `show state`, from the reported state (spec 04 §5.1). */
export function connectionType(state: string): string {
  if (['single', 'primary', 'wait_primary', 'join_primary', 'prepare_maintenance', 'apply_settings'].includes(state)) return 'read-write';
  if (['secondary', 'catchingup', 'prepare_promotion', 'stop_replication', 'wait_maintenance', 'fast_forward', 'join_secondary', 'report_lsn'].includes(state)) return 'read-only';
  return 'none';
}

export interface StateData {
  rows: readonly CurrentStateRow[];
  /** The HTTP listener port each keeper published, by node id. */
  httpPorts: ReadonlyMap<NodeId, number>;
  /** `--local`: one row built from the node's own files, no monitor. */
  local?: boolean;
}

export function renderStateTable(rows: readonly CurrentStateRow[]): string {
  const citus = rows[0] !== undefined && rows[0].formationKind !== 'pgsql';
  return renderTable([
    { header: 'Name', minWidth: 4 },
    { header: 'Node', minWidth: 5 },
    { header: 'Host:Port', minWidth: 10 },
    { header: 'TLI: LSN', minWidth: 9 },
    { header: 'Connection', minWidth: 12 },
    { header: 'Reported State', minWidth: 19 },
    { header: 'Assigned State', minWidth: 19 },
  ], rows.map((r) => [
    r.name,
    citus ? `${r.groupId}/${r.nodeId}` : String(r.nodeId),
    `${r.host}:${r.port}`,
    `${String(r.reportedTli).padStart(3)}: ${formatLsn(r.reportedLsn)}`,
    `${connectionType(r.reportedState)}${r.health === 0 ? ' !' : r.health === -1 ? ' ?' : ''}`,
    r.reportedState,
    r.goalState,
  ]));
}

/** `show state --local --json`: one object, the keys of 2.0. */
function localStateJson(r: CurrentStateRow): unknown {
  return {
    node_id: r.nodeId,
    group_id: r.groupId,
    nodename: r.name,
    nodehost: r.host,
    nodeport: r.port,
    current_group_state: r.reportedState,
    assigned_group_state: r.goalState,
    timeline: r.reportedTli,
    'Minimum Recovery Ending LSN': formatLsn(r.reportedLsn),
    reachable: 'unknown',
    conntype: connectionType(r.reportedState),
  };
}

export const stateRendering: Rendering<StateData> = {
  text: ({ rows }) => renderStateTable(rows),
  json: ({ rows, httpPorts, local }) => (local && rows[0] ? localStateJson(rows[0]) : rows.map((r) => ({
    formation_kind: r.formationKind,
    nodename: r.name,
    nodehost: r.host,
    nodeport: r.port,
    group_id: r.groupId,
    node_id: r.nodeId,
    current_group_state: r.reportedState,
    assigned_group_state: r.goalState,
    candidate_priority: r.candidatePriority,
    replication_quorum: r.replicationQuorum,
    reported_tli: r.reportedTli,
    reported_lsn: formatLsn(r.reportedLsn),
    health: r.health,
    nodecluster: r.nodeCluster,
    http_port: httpPorts.get(r.nodeId) ?? null,
  }))),
};

export function renderEventsTable(rows: readonly ShownEventRow[]): string {
  return renderTable([
    { header: 'Event Time', minWidth: 30 },
    { header: 'Node', minWidth: 6 },
    { header: 'Current State', minWidth: 19 },
    { header: 'Assigned State', minWidth: 19 },
    { header: 'Comment', unpadded: true, separatorWidth: 10 },
  ], rows.map((r) => [r.eventTimeText, `${r.groupId}/${r.nodeId}`, r.reportedState, r.goalState, r.description ?? '']));
}

export const eventsRendering: Rendering<readonly ShownEventRow[]> = {
  text: renderEventsTable,
  json: (rows) => rows.map((r) => ({
    eventid: Number(r.eventId),
    eventtime: r.eventTimeIso,
    formationid: r.formationId,
    nodeid: r.nodeId,
    groupid: r.groupId,
    nodename: r.name,
    nodehost: r.host,
    nodeport: r.port,
    reportedstate: r.reportedState,
    goalstate: r.goalState,
    reportedrepstate: r.reportedRepState,
    reportedtli: r.reportedTli,
    reportedlsn: formatLsn(r.reportedLsn),
    candidatepriority: r.candidatePriority,
    replicationquorum: r.replicationQuorum,
    description: r.description,
  })),
};

export interface UriEntry { type: 'monitor' | 'formation' | 'http'; name: string; uri: string }

/** `show uri`: the monitor alone, one formation, or every entry. */
export type UriData =
  | { kind: 'monitor'; monitor: string }
  | { kind: 'formation'; monitor: string; formation: string; uri: string }
  | { kind: 'all'; entries: readonly UriEntry[] };

export const uriRendering: Rendering<UriData> = {
  text: (d) => {
    switch (d.kind) {
      case 'monitor': return `${d.monitor}\n`;
      case 'formation': return `${d.uri}\n`;
      case 'all': {
        const nameWidth = Math.max(7, ...d.entries.map((e) => e.name.length));
        return renderTable([
          { header: 'Type', minWidth: 12 },
          { header: 'Name', minWidth: nameWidth },
          { header: 'Connection String', unpadded: true, separatorWidth: 30 },
        ], d.entries.map((e) => [e.type, e.name, e.uri]));
      }
    }
  },
  json: (d) => {
    switch (d.kind) {
      case 'monitor': return { monitor: d.monitor };
      case 'formation': return { monitor: d.monitor, [d.formation]: d.uri };
      case 'all': return d.entries.map((e) => ({ uri: e.uri, name: e.name, type: e.type }));
    }
  },
};
