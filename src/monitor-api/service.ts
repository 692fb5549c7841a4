/** The monitor service (role autoctl): locks, health, goal states, requests, standby names. */
import { call, one, maybeOne, nothing, type MonitorClient } from './call.js';
import {
  CHANNELS, type NodeHealth, type NodeId, type ReplicationState, type RequestRow, asBigInt, asBool, asInt, mapRequest,
} from './types.js';
import type {
  GroupKey, GroupNodeRow, GroupRequestRow, FormationDecisionRow, HealthCheckNodeRow, RemovedLeaseRow, SettingRow, StandbyNamesNodeRow,
} from './service-rows.js';
import {
  mapFormationDecision, mapGroupNode, mapGroupRequest, mapHealthCheckNode, mapRemovedLease, mapSetting, mapStandbyNamesNode, asGroupKey,
} from './service-rows.js';

// ---------------------------------------------------------------------------
// Monitor service (role autoctl)

/** Takes the formation lock SHARE and the group lock EXCLUSIVE until the end of the transaction. */
export function lockGroup(client: MonitorClient, formation: string, groupId: number): Promise<void> {
  return call(client, 'lock_group', 'SELECT pgautofailover.lock_group($1::text, $2::int)', [formation, groupId], nothing);
}

export function lockFormation(client: MonitorClient, formation: string, exclusive = false): Promise<void> {
  return call(client, 'lock_formation', 'SELECT pgautofailover.lock_formation($1::text, $2::bool)',
    [formation, exclusive], nothing);
}

/**
 * set_node_health: records a health-check result; true when the value
 * changed (event, notifications and a decision request were sent). With
 * `address`, the row must still have that host and port.
 */
export function setNodeHealth(client: MonitorClient, nodeId: NodeId, health: NodeHealth,
  address?: { host: string; port: number }): Promise<boolean> {
  return call(client, 'set_node_health',
    'SELECT pgautofailover.set_node_health($1::bigint, $2::int, $3::text, $4::int) AS changed',
    [nodeId, health, address?.host ?? null, address?.port ?? null], one('set_node_health', (row) => asBool(row.changed)));
}

const SET_NODE_GOAL_STATE = 'SELECT pgautofailover.set_node_goal_state($1::bigint, $2::pgautofailover.replication_state, $3::text) AS eventid';

/** set_node_goal_state: assigns a goal with its reason (event + notifications); returns the event id. */
export function setNodeGoalState(client: MonitorClient, nodeId: NodeId, goal: ReplicationState, description: string): Promise<bigint> {
  return call(client, 'set_node_goal_state', SET_NODE_GOAL_STATE,
    [nodeId, goal, description], one('set_node_goal_state', (row) => asBigInt(row.eventid)));
}

/** set_node_goal_state for the brain, which has no use for the event id. */
export function assignGoalState(client: MonitorClient, nodeId: NodeId, goal: ReplicationState, description: string): Promise<void> {
  return call(client, 'set_node_goal_state', SET_NODE_GOAL_STATE, [nodeId, goal, description], nothing);
}

/** record_node_event: an event with the node's current values. */
export function recordNodeEvent(client: MonitorClient, nodeId: NodeId, description: string): Promise<void> {
  return call(client, 'record_node_event', 'SELECT pgautofailover.record_node_event($1::bigint, $2::text)',
    [nodeId, description], nothing);
}

/** Requests not done yet, oldest first; of one group when groupId is given. */
export function pendingRequests(client: MonitorClient, formation: string, groupId?: number): Promise<RequestRow[]> {
  return call(client, 'request',
    `SELECT * FROM pgautofailover.request
      WHERE done_at IS NULL AND formationid = $1 AND ($2::int IS NULL OR groupid = $2::int)
      ORDER BY id`,
    [formation, groupId ?? null], (rows) => rows.map(mapRequest));
}

/** Marks a request done with its outcome (e.g. 'done', or why it was refused). */
export function completeRequest(client: MonitorClient, requestId: bigint, outcome: string): Promise<void> {
  return call(client, 'request', 'UPDATE pgautofailover.request SET done_at = now(), outcome = $2 WHERE id = $1::bigint',
    [requestId.toString(), outcome], nothing);
}

/** Stores the synchronous_standby_names value computed for the group's primary. */
export function setGroupStandbyNames(client: MonitorClient, formation: string, groupId: number, standbyNames: string): Promise<void> {
  return call(client, 'group_state',
    `INSERT INTO pgautofailover.group_state (formationid, groupid, standby_names) VALUES ($1, $2::int, $3)
     ON CONFLICT (formationid, groupid) DO UPDATE SET standby_names = EXCLUDED.standby_names
     WHERE group_state.standby_names IS DISTINCT FROM EXCLUDED.standby_names`,
    [formation, groupId, standbyNames], nothing);
}

// ---------------------------------------------------------------------------
// Leadership, settings and health checks

/** claim_monitor_leadership: true when this session holds (or just took) the leader row. */
export function claimMonitorLeadership(client: MonitorClient): Promise<boolean> {
  return call(client, 'claim_monitor_leadership', 'SELECT pgautofailover.claim_monitor_leadership() AS ok', [],
    (rows) => rows[0]?.ok === true);
}

/** The rows of pgautofailover.settings, names without the `pgautofailover.` prefix. */
export function readSettings(client: MonitorClient): Promise<SettingRow[]> {
  return call(client, 'settings', 'SELECT name, setting FROM pgautofailover.settings', [], (rows) => rows.map(mapSetting));
}

/** Every node of the monitor (all formations), by node id, as the health checks need them. */
export function nodesToCheck(client: MonitorClient): Promise<HealthCheckNodeRow[]> {
  return call(client, 'node', 'SELECT nodeid::text, nodename, nodehost, nodeport, health FROM pgautofailover.node ORDER BY nodeid',
    [], (rows) => rows.map(mapHealthCheckNode));
}

/** set_node_health for the health checks: records a result, by the exact (bigint) node id. */
export function recordNodeHealth(client: MonitorClient, nodeId: bigint, health: NodeHealth): Promise<void> {
  return call(client, 'set_node_health', 'SELECT pgautofailover.set_node_health($1::bigint, $2)',
    [nodeId.toString(), health], nothing);
}

// ---------------------------------------------------------------------------
// The brain's transaction (src/monitor/brain.ts): locks, snapshot, writes

/** try_lock_group: the formation and group locks without waiting; false when another transaction holds one. */
export function tryLockGroup(client: MonitorClient, formation: string, groupId: number): Promise<boolean> {
  return call(client, 'try_lock_group', 'SELECT pgautofailover.try_lock_group($1, $2) AS ok', [formation, groupId],
    (rows) => rows[0]?.ok === true);
}

/** Whether the group has any node (read outside the group lock). */
export function groupHasNodes(client: MonitorClient, formation: string, groupId: number): Promise<boolean> {
  return call(client, 'node', 'SELECT 1 FROM pgautofailover.node WHERE formationid = $1 AND groupid = $2 LIMIT 1',
    [formation, groupId], (rows) => rows.length > 0);
}

/** The groups that have nodes, by formation and group id. */
export function listGroups(client: MonitorClient): Promise<GroupKey[]> {
  return call(client, 'node', 'SELECT DISTINCT formationid, groupid FROM pgautofailover.node ORDER BY 1, 2', [],
    (rows) => rows.map(asGroupKey));
}

/**
 * The formation's number_sync_standbys, the monitor Postgres's age and the
 * current monitor epoch's age (NULL before the first epoch); undefined for
 * an unknown formation.
 */
export function readFormationForDecision(client: MonitorClient, formation: string): Promise<FormationDecisionRow | undefined> {
  return call(client, 'formation',
    `SELECT number_sync_standbys,
            (extract(epoch FROM now() - pg_postmaster_start_time()) * 1000)::float8 AS monitor_age_ms,
            (SELECT (extract(epoch FROM now() - e.started_at) * 1000)::float8
               FROM pgautofailover.monitor_epoch e ORDER BY e.epoch DESC LIMIT 1) AS epoch_age_ms
       FROM pgautofailover.formation WHERE formationid = $1`, [formation], maybeOne(mapFormationDecision));
}

/**
 * The group's nodes by node id, locked FOR UPDATE NOWAIT (SQLSTATE 55P03
 * when another transaction holds one), with times as ages computed by
 * Postgres so that the caller never compares two clocks.
 */
export function lockGroupNodes(client: MonitorClient, formation: string, groupId: number): Promise<GroupNodeRow[]> {
  return call(client, 'node',
    `SELECT nodeid, nodename, nodehost, nodeport, goalstate::text, reportedstate::text, health,
            (extract(epoch FROM now() - healthchecktime) * 1000)::float8 AS healthcheck_age_ms,
            (extract(epoch FROM now() - reporttime) * 1000)::float8 AS report_age_ms,
            (extract(epoch FROM now() - goalchangetime) * 1000)::float8 AS goalchange_age_ms,
            reportedlsn::text, reportedtli, reportedpgisrunning, reportedrepstate, candidatepriority, replicationquorum,
            keepergoalstate::text,
            (extract(epoch FROM now() - leasegranttime) * 1000)::float8 AS lease_age_ms,
            goaldecisionepoch, goaldecisionid, witnessepoch, witnessdecisionid, witnessgoalstate::text
       FROM pgautofailover.node WHERE formationid = $1 AND groupid = $2 ORDER BY nodeid FOR UPDATE NOWAIT`,
    [formation, groupId], (rows) => rows.map(mapGroupNode));
}

/** The group's requests not done yet, oldest first, as the brain reads them (exact ids). */
export function groupRequests(client: MonitorClient, formation: string, groupId: number): Promise<GroupRequestRow[]> {
  return call(client, 'request',
    `SELECT id, kind, nodeid, force FROM pgautofailover.request
      WHERE formationid = $1 AND groupid = $2 AND done_at IS NULL ORDER BY id`, [formation, groupId],
    (rows) => rows.map(mapGroupRequest));
}

/** The formation's opt_secondary; undefined for an unknown formation. */
export function formationOptSecondary(client: MonitorClient, formation: string): Promise<boolean | undefined> {
  return call(client, 'formation', 'SELECT opt_secondary FROM pgautofailover.formation WHERE formationid = $1',
    [formation], maybeOne((row) => asBool(row.opt_secondary, 'opt_secondary')));
}

/** The formation's number_sync_standbys; undefined for an unknown formation. */
export function formationNumberSyncStandbys(client: MonitorClient, formation: string): Promise<number | undefined> {
  return call(client, 'formation', 'SELECT number_sync_standbys AS n FROM pgautofailover.formation WHERE formationid = $1',
    [formation], maybeOne((row) => asInt(row.n, 'number_sync_standbys')));
}

/** The group's nodes as synchronous_standby_names needs them, by node id. */
export function groupStandbyNodes(client: MonitorClient, formation: string, groupId: number): Promise<StandbyNamesNodeRow[]> {
  return call(client, 'node',
    `SELECT nodeid, reportedstate::text, goalstate::text, candidatepriority, replicationquorum
       FROM pgautofailover.node WHERE formationid = $1 AND groupid = $2 ORDER BY nodeid`,
    [formation, groupId], (rows) => rows.map(mapStandbyNamesNode));
}

/** A candidate priority the decision changed (no event: record one with recordNodeEvent). */
export function storeCandidatePriority(client: MonitorClient, nodeId: NodeId, candidatePriority: number): Promise<void> {
  return call(client, 'node', 'UPDATE pgautofailover.node SET candidatepriority = $2 WHERE nodeid = $1',
    [nodeId, candidatePriority], nothing);
}

/** A number_sync_standbys the decision changed. */
export function storeNumberSyncStandbys(client: MonitorClient, formation: string, numberSyncStandbys: number): Promise<void> {
  return call(client, 'formation', 'UPDATE pgautofailover.formation SET number_sync_standbys = $2 WHERE formationid = $1',
    [formation, numberSyncStandbys], nothing);
}

/**
 * Deletes a node row the decision removed (its events stay). Its last
 * write-lease grant, when newer than the one kept for its group, is kept
 * in group_state (migration 0010), so that a restarted monitor service
 * still knows who held the group's latest lease.
 */
export function deleteNode(client: MonitorClient, nodeId: NodeId): Promise<void> {
  return call(client, 'node',
    `WITH gone AS (DELETE FROM pgautofailover.node WHERE nodeid = $1 RETURNING formationid, groupid, nodeid, leasegranttime)
     INSERT INTO pgautofailover.group_state AS g (formationid, groupid, removed_lease_nodeid, removed_lease_granttime)
     SELECT formationid, groupid, nodeid, leasegranttime FROM gone WHERE leasegranttime IS NOT NULL
     ON CONFLICT (formationid, groupid) DO UPDATE
        SET removed_lease_nodeid = EXCLUDED.removed_lease_nodeid, removed_lease_granttime = EXCLUDED.removed_lease_granttime
      WHERE g.removed_lease_granttime IS NULL OR g.removed_lease_granttime < EXCLUDED.removed_lease_granttime`,
    [nodeId], nothing);
}

/** The lease grant kept for the group from a removed node (deleteNode): its node id and age; undefined when none. */
export function groupRemovedLease(client: MonitorClient, formation: string, groupId: number): Promise<RemovedLeaseRow | undefined> {
  return call(client, 'group_state',
    `SELECT removed_lease_nodeid AS nodeid, (extract(epoch FROM now() - removed_lease_granttime) * 1000)::float8 AS removed_age_ms
       FROM pgautofailover.group_state
      WHERE formationid = $1 AND groupid = $2::int AND removed_lease_granttime IS NOT NULL`,
    [formation, groupId], maybeOne(mapRemovedLease));
}

/** A message on the `log` channel, sent at commit. */
export function notifyLog(client: MonitorClient, message: string): Promise<void> {
  return call(client, 'pg_notify', `SELECT pg_notify('${CHANNELS.log}', $1)`, [message], nothing);
}
