/** The monitor service (role autoctl): locks, health, goal states, requests, standby names. */
import { call, one, nothing, type MonitorClient } from './call.js';
import {
  type NodeHealth, type NodeId, type ReplicationState, type RequestRow, asBigInt, asBool, mapRequest,
} from './types.js';

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

/** set_node_goal_state: assigns a goal with its reason (event + notifications); returns the event id. */
export function setNodeGoalState(client: MonitorClient, nodeId: NodeId, goal: ReplicationState, description: string): Promise<bigint> {
  return call(client, 'set_node_goal_state',
    'SELECT pgautofailover.set_node_goal_state($1::bigint, $2::pgautofailover.replication_state, $3::text) AS eventid',
    [nodeId, goal, description], one('set_node_goal_state', (row) => asBigInt(row.eventid)));
}

/** record_node_event: an event with the node's current values; returns the event id. */
export function recordNodeEvent(client: MonitorClient, nodeId: NodeId, description: string): Promise<bigint> {
  return call(client, 'record_node_event', 'SELECT pgautofailover.record_node_event($1::bigint, $2::text) AS eventid',
    [nodeId, description], one('record_node_event', (row) => asBigInt(row.eventid)));
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
     ON CONFLICT (formationid, groupid) DO UPDATE SET standby_names = EXCLUDED.standby_names`,
    [formation, groupId, standbyNames], nothing);
}
