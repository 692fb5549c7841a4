/**
 * Keepers as witnesses and the rebuild of a monitor from its nodes
 * (migration 0014, api/10-witness-rebuild.sql): the decision named in a
 * node_active answer, whether a monitor takes witnesses, the rebuild mode.
 */
import { call, maybeOne, one, nothing, type MonitorClient, type Row } from './call.js';
import {
  type NodeKind, type RegisteredNode, type ReplicationState, asBool, asInt, asNullableDate, asText, formatLsn, mapRegisteredNode,
} from './types.js';

/** A goal assignment's name: the monitor epoch it was made in and its decision id (0, 0: none recorded). */
export interface GoalDecision {
  epoch: number;
  id: number;
}

export function mapGoalDecision(row: Row): GoalDecision | undefined {
  if (row.assigned_decision_id === null || row.assigned_decision_id === undefined) return undefined;
  return {
    epoch: asInt(row.assigned_decision_epoch, 'assigned_decision_epoch'),
    id: asInt(row.assigned_decision_id, 'assigned_decision_id'),
  };
}

const NODE_ACTIVE_WITH_WITNESS = 'pgautofailover.node_active(text,bigint,integer,pgautofailover.replication_state,boolean,'
  + 'integer,pg_lsn,text,pgautofailover.replication_state,bigint,bigint,pgautofailover.replication_state)';

/** Whether this monitor's node_active takes a witness and names its decisions (migration 0014). */
export function monitorHasWitnesses(client: MonitorClient): Promise<boolean> {
  return call(client, 'node_active', 'SELECT to_regprocedure($1::text) IS NOT NULL AS ok', [NODE_ACTIVE_WITH_WITNESS],
    (rows) => rows[0]?.ok === true);
}

export interface MonitorRebuildStatus {
  /** The monitor is being rebuilt: it accepts nodes registering again, and decides nothing. */
  active: boolean;
  /** null: no rebuild was ever started on this monitor. */
  startedAt: Date | null;
  firstRegisteredAt: Date | null;
  deadline: Date | null;
  endedAt: Date | null;
  endReason: string | null;
  registered: number;
  missing: number;
}

export function mapRebuildStatus(row: Row): MonitorRebuildStatus {
  return {
    active: asBool(row.active, 'active'),
    startedAt: asNullableDate(row.started_at, 'started_at'),
    firstRegisteredAt: asNullableDate(row.first_registered_at, 'first_registered_at'),
    deadline: asNullableDate(row.deadline, 'deadline'),
    endedAt: asNullableDate(row.ended_at, 'ended_at'),
    endReason: row.end_reason === null || row.end_reason === undefined ? null : asText(row.end_reason, 'end_reason'),
    registered: asInt(row.registered, 'registered'),
    missing: asInt(row.missing, 'missing'),
  };
}

/** monitor_rebuild_status; undefined from a monitor without rebuilds (before migration 0014: SQLSTATE 42883). */
export async function monitorRebuildStatus(client: MonitorClient): Promise<MonitorRebuildStatus | undefined> {
  const has = await call(client, 'monitor_rebuild_status',
    "SELECT to_regprocedure('pgautofailover.monitor_rebuild_status()') IS NOT NULL AS ok", [], (rows) => rows[0]?.ok === true);
  if (!has) return undefined;
  return call(client, 'monitor_rebuild_status', 'SELECT * FROM pgautofailover.monitor_rebuild_status()', [],
    one('monitor_rebuild_status', mapRebuildStatus));
}

/** start_monitor_rebuild (create monitor --rebuild-from-nodes): refused when the monitor has nodes. */
export function startMonitorRebuild(client: MonitorClient, windowMs: number): Promise<void> {
  return call(client, 'start_monitor_rebuild', 'SELECT pgautofailover.start_monitor_rebuild($1::int)', [windowMs], nothing);
}

export interface RebuildRegisterArgs {
  formation: string;
  nodeId: number;
  groupId: number;
  name: string;
  host: string;
  port: number;
  dbname: string;
  sysIdentifier: bigint;
  currentState: ReplicationState;
  /** The last goal the keeper received; 'unknown': its current state. */
  goalState: ReplicationState;
  tli: number;
  lsn: bigint;
  candidatePriority: number;
  replicationQuorum: boolean;
  kind: NodeKind;
  /** The highest monitor epoch the keeper has seen. */
  seenEpoch: number;
  /** The decision of goalState, as the keeper received it (0, 0: unknown). */
  witness: GoalDecision;
  /** The other nodes of its group the keeper knows, by id. */
  knownNodes: readonly number[];
}

/** rebuild_register_node: the node registered again, the monitor's epoch now, and whether its group is complete. */
export function rebuildRegisterNode(client: MonitorClient, args: RebuildRegisterArgs):
Promise<{ node: RegisteredNode; monitorEpoch: number; groupComplete: boolean }> {
  return call(client, 'rebuild_register_node',
    `SELECT * FROM pgautofailover.rebuild_register_node($1::text, $2::bigint, $3::int, $4::text, $5::text, $6::int, $7::name,
       $8::bigint, $9::pgautofailover.replication_state, $10::pgautofailover.replication_state, $11::int, $12::pg_lsn,
       $13::int, $14::bool, $15::text, $16::bigint, $17::bigint, $18::bigint, $19::bigint[])`,
    [args.formation, args.nodeId, args.groupId, args.name, args.host, args.port, args.dbname, args.sysIdentifier.toString(),
      args.currentState, args.goalState, args.tli, formatLsn(args.lsn), args.candidatePriority, args.replicationQuorum, args.kind,
      args.seenEpoch, args.witness.epoch, args.witness.id, [...args.knownNodes]],
    one('rebuild_register_node', (row) => ({
      node: mapRegisteredNode(row),
      monitorEpoch: asInt(row.monitor_epoch, 'monitor_epoch'),
      groupComplete: asBool(row.group_complete, 'group_complete'),
    })));
}

/**
 * Whether the rebuild from nodes holds the group: it is active and a node
 * of the group that a registered keeper knows of is not back yet (the brain
 * then decides nothing for the group). False on a monitor without rebuilds.
 */
export function rebuildHoldsGroup(client: MonitorClient, formation: string, groupId: number): Promise<boolean> {
  return call(client, 'rebuild_holds_group', 'SELECT pgautofailover.rebuild_holds_group($1::text, $2::int) AS held', [formation, groupId],
    (rows) => rows[0]?.held === true);
}

/** The current monitor epoch as a number (0 before the first); undefined when the answer has no row. */
export function readMonitorEpochNumber(client: MonitorClient): Promise<number | undefined> {
  return call(client, 'current_monitor_epoch', 'SELECT epoch FROM pgautofailover.current_monitor_epoch()', [],
    maybeOne((row) => asInt(row.epoch, 'epoch')));
}
