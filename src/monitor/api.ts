/**
 * Typed calls of the monitor's SQL API (schema pgautofailover), for the
 * keeper, the CLI and the monitor service.
 *
 * Every call runs one statement on the given client, in whatever
 * transaction the caller has open. Failures become
 * AutoctlError('MONITOR') whose `cause` is the original pg error, so
 * callers test SQLSTATEs with sqlStateOf(error) (e.g. '55006' during
 * registration) and show `hint` when there is one.
 */
import type pg from 'pg';
import { AutoctlError, messageOf } from '../common/errors.js';
import {
  type CurrentStateRow, type EventRow, type FormationKind, type FormationRow, type FormationSettingRow,
  type NodeAddress, type NodeAssignment, type NodeHealth, type NodeId, type NodeIdentity,
  type NodeKind, type NodeRow, type PrimaryNode, type RegisteredNode, type ReplicationState, type RequestRow,
  type SyncState, asBigInt, asBool, asInt, asNullableText, asText, formatLsn, mapAssignment, mapCurrentState,
  mapEvent, mapFormation, mapFormationSetting, mapNode, mapNodeAddress, mapNodeIdentity, mapPrimaryNode,
  mapRegisteredNode, mapRequest,
} from './api-types.js';

/** What the calls need from a connection: a pg.Client, a pool client or a pool. */
export type MonitorClient = Pick<pg.ClientBase, 'query'>;

type Row = Record<string, unknown>;

/** Wraps a failed monitor call; the pg error (with its SQLSTATE) stays the cause. */
export function monitorError(fn: string, error: unknown): AutoctlError {
  if (error instanceof AutoctlError) return error;
  const hint = typeof error === 'object' && error !== null && 'hint' in error && typeof error.hint === 'string' ? error.hint : undefined;
  return new AutoctlError('MONITOR', `pgautofailover.${fn}: ${messageOf(error)}`,
    hint === undefined ? { cause: error } : { cause: error, hint });
}

async function call<T>(client: MonitorClient, fn: string, text: string, values: readonly unknown[],
  map: (rows: Row[]) => T): Promise<T> {
  let rows: Row[];
  try {
    const result = await client.query<Row>(text, [...values]);
    rows = result.rows;
  } catch (error) {
    throw monitorError(fn, error);
  }
  try {
    return map(rows);
  } catch (error) {
    throw monitorError(fn, error);
  }
}

function one<T>(fn: string, map: (row: Row) => T): (rows: Row[]) => T {
  return (rows) => {
    const row = rows[0];
    if (row === undefined) throw new AutoctlError('MONITOR', `pgautofailover.${fn} returned no row`);
    return map(row);
  };
}

function maybeOne<T>(map: (row: Row) => T): (rows: Row[]) => T | undefined {
  return (rows) => {
    const row = rows[0];
    return row === undefined ? undefined : map(row);
  };
}

const nothing = (): void => undefined;

// ---------------------------------------------------------------------------
// Keeper protocol

export interface RegisterNodeArgs {
  formation: string;
  host: string;
  port: number;
  dbname: string;
  /** '' or absent: the monitor names the node (node_<id>). */
  name?: string;
  /** Postgres system identifier; absent or 0n when PGDATA does not exist yet. */
  sysIdentifier?: bigint;
  desiredNodeId?: number;
  desiredGroupId?: number;
  /** The keeper's current state: init, or single for a running primary. */
  initialState?: ReplicationState;
  kind?: NodeKind;
  candidatePriority?: number;
  replicationQuorum?: boolean;
  cluster?: string;
}

/**
 * register_node: the node's id, group, name and goal state. The goal is
 * the initial state (normally init) until the monitor service assigns the
 * real one: poll nodeActive until it changes. SQLSTATE 55006 (no primary
 * yet) is retryable.
 */
export function registerNode(client: MonitorClient, args: RegisterNodeArgs): Promise<RegisteredNode> {
  return call(client, 'register_node',
    `SELECT * FROM pgautofailover.register_node($1::text, $2::text, $3::int, $4::name, $5::text, $6::bigint,
       $7::bigint, $8::int, $9::pgautofailover.replication_state, $10::text, $11::int, $12::bool, $13::text)`,
    [args.formation, args.host, args.port, args.dbname, args.name ?? '', (args.sysIdentifier ?? 0n).toString(),
      args.desiredNodeId ?? -1, args.desiredGroupId ?? -1, args.initialState ?? 'init', args.kind ?? 'standalone',
      args.candidatePriority ?? 100, args.replicationQuorum ?? true, args.cluster ?? 'default'],
    one('register_node', mapRegisteredNode));
}

/**
 * issue_node_token: the node's credential, issued once, inside the
 * transaction that registered the node (docs/security.md "Node
 * credentials"). The monitor keeps only its hash.
 */
export function issueNodeToken(client: MonitorClient, nodeId: NodeId): Promise<string> {
  return call(client, 'issue_node_token', 'SELECT pgautofailover.issue_node_token($1::bigint) AS token', [nodeId],
    one('issue_node_token', (row) => asText(row.token, 'token')));
}

/**
 * Presents the node's token for the rest of the session: the functions
 * that act for one node check it (a placeholder setting, sent as a bind
 * parameter so that it is not in the statement text).
 */
export function presentNodeToken(client: MonitorClient, token: string): Promise<void> {
  return call(client, 'set_config', "SELECT set_config('pgautofailover.node_token', $1::text, false)", [token], nothing);
}

export interface NodeActiveArgs {
  formation: string;
  nodeId: NodeId;
  groupId: number;
  state: ReplicationState;
  pgIsRunning: boolean;
  /** 0: unknown, keeps the stored timeline. */
  tli: number;
  /** 0n: unknown, keeps the stored LSN. */
  lsn: bigint;
  syncState: SyncState;
  /** The goal the keeper had received when it gathered this report ('unknown': not sent). */
  knownGoal?: ReplicationState;
}

/** node_active: records the report and returns the node's current assignment. */
export function nodeActive(client: MonitorClient, args: NodeActiveArgs): Promise<NodeAssignment> {
  return call(client, 'node_active',
    `SELECT * FROM pgautofailover.node_active($1::text, $2::bigint, $3::int, $4::pgautofailover.replication_state,
       $5::bool, $6::int, $7::pg_lsn, $8::text, $9::pgautofailover.replication_state)`,
    [args.formation, args.nodeId, args.groupId, args.state, args.pgIsRunning, args.tli, formatLsn(args.lsn), args.syncState,
      args.knownGoal ?? 'unknown'],
    one('node_active', mapAssignment));
}

/**
 * node_active and failsafe_peers in ONE statement: the list of the group's
 * nodes comes with the very answer that may grant the write lease, so a
 * primary's failsafe list is never older than its lease (a node registered
 * before this statement is on it; see src/fsm/failsafe.ts).
 */
export function nodeActiveWithPeers(client: MonitorClient, args: NodeActiveArgs):
Promise<{ assignment: NodeAssignment; peers: FailsafePeer[]; secret: string }> {
  return call(client, 'node_active',
    `SELECT a.*,
            (SELECT coalesce(json_agg(row_to_json(p) ORDER BY p.node_id), '[]'::json)
               FROM pgautofailover.failsafe_peers($2::bigint) p) AS failsafe_peers
       FROM pgautofailover.node_active($1::text, $2::bigint, $3::int, $4::pgautofailover.replication_state,
              $5::bool, $6::int, $7::pg_lsn, $8::text, $9::pgautofailover.replication_state) a`,
    [args.formation, args.nodeId, args.groupId, args.state, args.pgIsRunning, args.tli, formatLsn(args.lsn), args.syncState,
      args.knownGoal ?? 'unknown'],
    one('node_active', (row) => {
      const rows = Array.isArray(row.failsafe_peers) ? row.failsafe_peers as Row[] : [];
      const { peers, secret } = mapFailsafePeers(rows);
      return { assignment: mapAssignment(row), peers, secret };
    }));
}

/** get_primary: the writable node of the group, or the one being demoted; errors when there is none. */
export function getPrimary(client: MonitorClient, formation = 'default', groupId = 0): Promise<PrimaryNode> {
  return call(client, 'get_primary', 'SELECT * FROM pgautofailover.get_primary($1::text, $2::int)',
    [formation, groupId], one('get_primary', mapPrimaryNode));
}

/** get_nodes: all nodes of the formation, or of one group (including nodes being dropped). */
export function getNodes(client: MonitorClient, formation = 'default', groupId?: number): Promise<NodeAddress[]> {
  return call(client, 'get_nodes', 'SELECT * FROM pgautofailover.get_nodes($1::text, $2::int)',
    [formation, groupId ?? null], (rows) => rows.map(mapNodeAddress));
}

/** get_other_nodes: the other nodes of this node's group (goal not dropped), optionally with a given goal state. */
export function getOtherNodes(client: MonitorClient, nodeId: NodeId, goalState?: ReplicationState): Promise<NodeAddress[]> {
  return goalState === undefined
    ? call(client, 'get_other_nodes', 'SELECT * FROM pgautofailover.get_other_nodes($1::bigint)',
      [nodeId], (rows) => rows.map(mapNodeAddress))
    : call(client, 'get_other_nodes',
      'SELECT * FROM pgautofailover.get_other_nodes($1::bigint, $2::pgautofailover.replication_state)',
      [nodeId, goalState], (rows) => rows.map(mapNodeAddress));
}

/** One other node of the group as failsafe_peers returns it. */
export interface FailsafePeer {
  nodeId: NodeId;
  name: string;
  host: string;
  port: number;
  /** Port of the node's HTTP listener, null when it published none. */
  httpPort: number | null;
  candidatePriority: number;
}

/** failsafe_peers: the other nodes of the group with their HTTP ports, and the group's secret ('' when alone). */
export function getFailsafePeers(client: MonitorClient, nodeId: NodeId): Promise<{ peers: FailsafePeer[]; secret: string }> {
  return call(client, 'failsafe_peers', 'SELECT * FROM pgautofailover.failsafe_peers($1::bigint)', [nodeId], mapFailsafePeers);
}

function mapFailsafePeers(rows: Row[]): { peers: FailsafePeer[]; secret: string } {
  return {
    peers: rows.map((row) => ({
      nodeId: asInt(row.node_id, 'node_id'),
      name: asText(row.node_name, 'node_name'),
      host: asText(row.node_host, 'node_host'),
      port: asInt(row.node_port, 'node_port'),
      httpPort: row.http_port === null || row.http_port === undefined ? null : asInt(row.http_port, 'http_port'),
      candidatePriority: asInt(row.candidate_priority, 'candidate_priority'),
    })),
    secret: rows[0] === undefined ? '' : asText(rows[0].group_secret, 'group_secret'),
  };
}

/** The HTTP listeners the keepers of a formation published (table node, column httpport). */
export function getHttpEndpoints(client: MonitorClient, formation: string | null):
Promise<Array<{ nodeId: NodeId; name: string; host: string; httpPort: number }>> {
  return call(client, 'node',
    `SELECT nodeid, nodename, nodehost, httpport FROM pgautofailover.node
      WHERE httpport IS NOT NULL AND ($1::text IS NULL OR formationid = $1) ORDER BY formationid, groupid, nodeid`,
    [formation], (rows) => rows.map((row) => ({
      nodeId: asInt(row.nodeid, 'nodeid'),
      name: asText(row.nodename, 'nodename'),
      host: asText(row.nodehost, 'nodehost'),
      httpPort: asInt(row.httpport, 'httpport'),
    })));
}

/** set_node_http_port: publishes (or, with null, withdraws) the keeper's HTTP listener port. */
export function setNodeHttpPort(client: MonitorClient, nodeId: NodeId, httpPort: number | null): Promise<void> {
  return call(client, 'set_node_http_port', 'SELECT pgautofailover.set_node_http_port($1::bigint, $2::int)', [nodeId, httpPort], nothing);
}

/** record_failsafe_event: an event telling what the keeper did while the monitor was away. */
export function recordFailsafeEvent(client: MonitorClient, nodeId: NodeId, description: string): Promise<void> {
  return call(client, 'record_failsafe_event', 'SELECT pgautofailover.record_failsafe_event($1::bigint, $2::text)', [nodeId, description], nothing);
}

/** get_most_advanced_standby: the report_lsn node with the highest LSN, if any. */
export function getMostAdvancedStandby(client: MonitorClient, formation = 'default', groupId = 0): Promise<NodeAddress | undefined> {
  return call(client, 'get_most_advanced_standby',
    'SELECT * FROM pgautofailover.get_most_advanced_standby($1::text, $2::int)',
    [formation, groupId], maybeOne(mapNodeAddress));
}

/** get_coordinator (Citus): group-0 nodes converged in a writable state. */
export function getCoordinator(client: MonitorClient, formation = 'default'): Promise<Array<{ host: string; port: number }>> {
  return call(client, 'get_coordinator', 'SELECT * FROM pgautofailover.get_coordinator($1::text)', [formation],
    (rows) => rows.map((row) => ({ host: asText(row.node_host, 'node_host'), port: asInt(row.node_port, 'node_port') })));
}

/** set_node_system_identifier: undefined when the node id is unknown. */
export function setNodeSystemIdentifier(client: MonitorClient, nodeId: NodeId, sysIdentifier: bigint): Promise<NodeIdentity | undefined> {
  return call(client, 'set_node_system_identifier',
    'SELECT * FROM pgautofailover.set_node_system_identifier($1::bigint, $2::bigint) WHERE node_id IS NOT NULL',
    [nodeId, sysIdentifier.toString()], maybeOne(mapNodeIdentity));
}

/** set_group_system_identifier (2.x semantics: only rows whose identifier is 0). */
export function setGroupSystemIdentifier(client: MonitorClient, groupId: number, sysIdentifier: bigint): Promise<NodeIdentity[]> {
  return call(client, 'set_group_system_identifier',
    'SELECT * FROM pgautofailover.set_group_system_identifier($1::bigint, $2::bigint)',
    [groupId, sysIdentifier.toString()], (rows) => rows.map(mapNodeIdentity));
}

/** update_node_metadata: absent fields keep their value. */
export function updateNodeMetadata(client: MonitorClient, nodeId: NodeId,
  change: { name?: string; host?: string; port?: number }): Promise<boolean> {
  return call(client, 'update_node_metadata',
    'SELECT pgautofailover.update_node_metadata($1::bigint, $2::text, $3::text, $4::int) AS ok',
    [nodeId, change.name ?? null, change.host ?? null, change.port ?? null],
    one('update_node_metadata', (row) => asBool(row.ok)));
}

/** synchronous_standby_names: the value the group's primary must apply ('' until computed). */
export function synchronousStandbyNames(client: MonitorClient, formation = 'default', groupId = 0): Promise<string> {
  return call(client, 'synchronous_standby_names',
    'SELECT pgautofailover.synchronous_standby_names($1::text, $2::int) AS value',
    [formation, groupId], one('synchronous_standby_names', (row) => asText(row.value)));
}

// ---------------------------------------------------------------------------
// Reporting

/** current_state: the nodes of a formation (or one group), by group then node id. */
export function currentState(client: MonitorClient, formation = 'default', groupId?: number): Promise<CurrentStateRow[]> {
  return groupId === undefined
    ? call(client, 'current_state', 'SELECT * FROM pgautofailover.current_state($1::text)',
      [formation], (rows) => rows.map(mapCurrentState))
    : call(client, 'current_state', 'SELECT * FROM pgautofailover.current_state($1::text, $2::int)',
      [formation, groupId], (rows) => rows.map(mapCurrentState));
}

/**
 * last_events: the `count` latest events, oldest first; of all formations
 * when `formation` is absent, else of the formation (and group).
 */
export function lastEvents(client: MonitorClient,
  options: { formation?: string; groupId?: number; count?: number } = {}): Promise<EventRow[]> {
  const count = options.count ?? 10;
  const map = (rows: Row[]): EventRow[] => rows.map(mapEvent);
  if (options.formation === undefined) {
    return call(client, 'last_events', 'SELECT * FROM pgautofailover.last_events($1::int)', [count], map);
  }
  if (options.groupId === undefined) {
    return call(client, 'last_events', 'SELECT * FROM pgautofailover.last_events($1::text, count => $2::int)',
      [options.formation, count], map);
  }
  return call(client, 'last_events', 'SELECT * FROM pgautofailover.last_events($1::text, $2::int, $3::int)',
    [options.formation, options.groupId, count], map);
}

export interface FormationUriOptions {
  formation?: string;
  cluster?: string;
  sslmode?: string;
  sslrootcert?: string;
  sslcrl?: string;
}

/** formation_uri: the multi-host URI of the formation's group 0, null when it has no node. */
export function formationUri(client: MonitorClient, options: FormationUriOptions = {}): Promise<string | null> {
  return call(client, 'formation_uri',
    'SELECT pgautofailover.formation_uri($1::text, $2::text, $3::text, $4::text, $5::text) AS uri',
    [options.formation ?? 'default', options.cluster ?? 'default', options.sslmode ?? 'prefer',
      options.sslrootcert ?? '', options.sslcrl ?? ''],
    one('formation_uri', (row) => asNullableText(row.uri)));
}

/** formation_settings: formation, primary and node rows in the function's order. */
export function formationSettings(client: MonitorClient, formation = 'default'): Promise<FormationSettingRow[]> {
  return call(client, 'formation_settings', 'SELECT * FROM pgautofailover.formation_settings($1::text)',
    [formation], (rows) => rows.map(mapFormationSetting));
}

/** The formation row, read from the table. */
export function getFormation(client: MonitorClient, formation: string): Promise<FormationRow | undefined> {
  return call(client, 'formation', 'SELECT * FROM pgautofailover.formation WHERE formationid = $1',
    [formation], maybeOne(mapFormation));
}

/** A node row, by id or by formation and name. */
export function getNode(client: MonitorClient, key: { nodeId: NodeId } | { formation: string; name: string }): Promise<NodeRow | undefined> {
  return 'nodeId' in key
    ? call(client, 'node', 'SELECT * FROM pgautofailover.node WHERE nodeid = $1::bigint', [key.nodeId], maybeOne(mapNode))
    : call(client, 'node', 'SELECT * FROM pgautofailover.node WHERE formationid = $1 AND nodename = $2',
      [key.formation, key.name], maybeOne(mapNode));
}

/** Number of groups holding nodes in the formation. */
export function countGroups(client: MonitorClient, formation: string): Promise<number> {
  return call(client, 'node', 'SELECT count(DISTINCT groupid) AS groups FROM pgautofailover.node WHERE formationid = $1',
    [formation], one('node', (row) => asInt(row.groups)));
}

// ---------------------------------------------------------------------------
// Operator functions: they validate and record a request that the monitor
// service carries out; follow the progress with the `state` channel.

export interface CreateFormationArgs {
  formation: string;
  kind: FormationKind;
  dbname?: string;
  optSecondary?: boolean;
  numberSyncStandbys?: number;
}

export function createFormation(client: MonitorClient, args: CreateFormationArgs): Promise<FormationRow> {
  return call(client, 'create_formation',
    'SELECT * FROM pgautofailover.create_formation($1::text, $2::text, $3::name, $4::bool, $5::int)',
    [args.formation, args.kind, args.dbname ?? 'postgres', args.optSecondary ?? true, args.numberSyncStandbys ?? 0],
    one('create_formation', mapFormation));
}

export function dropFormation(client: MonitorClient, formation: string): Promise<void> {
  return call(client, 'drop_formation', 'SELECT pgautofailover.drop_formation($1::text)', [formation], nothing);
}

export function enableSecondary(client: MonitorClient, formation: string): Promise<void> {
  return call(client, 'enable_secondary', 'SELECT pgautofailover.enable_secondary($1::text)', [formation], nothing);
}

export function disableSecondary(client: MonitorClient, formation: string): Promise<void> {
  return call(client, 'disable_secondary', 'SELECT pgautofailover.disable_secondary($1::text)', [formation], nothing);
}

export function setFormationNumberSyncStandbys(client: MonitorClient, formation: string, numberSyncStandbys: number): Promise<boolean> {
  return call(client, 'set_formation_number_sync_standbys',
    'SELECT pgautofailover.set_formation_number_sync_standbys($1::text, $2::int) AS ok',
    [formation, numberSyncStandbys], one('set_formation_number_sync_standbys', (row) => asBool(row.ok)));
}

export function setNodeCandidatePriority(client: MonitorClient, formation: string, nodeName: string, priority: number): Promise<boolean> {
  return call(client, 'set_node_candidate_priority',
    'SELECT pgautofailover.set_node_candidate_priority($1::text, $2::text, $3::int) AS ok',
    [formation, nodeName, priority], one('set_node_candidate_priority', (row) => asBool(row.ok)));
}

export function setNodeReplicationQuorum(client: MonitorClient, formation: string, nodeName: string, quorum: boolean): Promise<boolean> {
  return call(client, 'set_node_replication_quorum',
    'SELECT pgautofailover.set_node_replication_quorum($1::text, $2::text, $3::bool) AS ok',
    [formation, nodeName, quorum], one('set_node_replication_quorum', (row) => asBool(row.ok)));
}

export function removeNodeById(client: MonitorClient, nodeId: NodeId, force = false): Promise<boolean> {
  return call(client, 'remove_node', 'SELECT pgautofailover.remove_node($1::bigint, $2::bool) AS ok',
    [nodeId, force], one('remove_node', (row) => asBool(row.ok)));
}

export function removeNodeByHostPort(client: MonitorClient, host: string, port = 5432, force = false): Promise<boolean> {
  return call(client, 'remove_node', 'SELECT pgautofailover.remove_node($1::text, $2::int, $3::bool) AS ok',
    [host, port, force], one('remove_node', (row) => asBool(row.ok)));
}

/** perform_failover (also `perform switchover`). */
export function performFailover(client: MonitorClient, formation = 'default', groupId = 0): Promise<void> {
  return call(client, 'perform_failover', 'SELECT pgautofailover.perform_failover($1::text, $2::int)',
    [formation, groupId], nothing);
}

/** perform_promotion: false (and a NOTICE) when the node already is the primary. */
export function performPromotion(client: MonitorClient, formation: string, nodeName: string): Promise<boolean> {
  return call(client, 'perform_promotion', 'SELECT pgautofailover.perform_promotion($1::text, $2::text) AS ok',
    [formation, nodeName], one('perform_promotion', (row) => asBool(row.ok)));
}

/** start_maintenance: false for an unknown node id. */
export function startMaintenance(client: MonitorClient, nodeId: NodeId): Promise<boolean> {
  return call(client, 'start_maintenance', 'SELECT pgautofailover.start_maintenance($1::bigint) AS ok',
    [nodeId], one('start_maintenance', (row) => asBool(row.ok)));
}

/** stop_maintenance: false for an unknown node id. */
export function stopMaintenance(client: MonitorClient, nodeId: NodeId): Promise<boolean> {
  return call(client, 'stop_maintenance', 'SELECT pgautofailover.stop_maintenance($1::bigint) AS ok',
    [nodeId], one('stop_maintenance', (row) => asBool(row.ok)));
}

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
