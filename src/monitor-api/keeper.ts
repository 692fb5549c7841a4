/** The keeper protocol (role autoctl_node): registration, node_active, the group's nodes, the failsafe. */
import { call, one, maybeOne, nothing, type MonitorClient, type Row } from './call.js';
import { mapGoalDecision, type GoalDecision } from './witness.js';
import {
  type NodeAddress, type NodeAssignment, type NodeId, type NodeIdentity, type NodeKind, type PrimaryNode, type RegisteredNode, type ReplicationState, type ReportedSyncState, asBool, asInt, asText, formatLsn, mapAssignment, mapNodeAddress, mapNodeIdentity, mapPrimaryNode, mapRegisteredNode,
} from './types.js';

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
  syncState: ReportedSyncState;
  /** The goal the keeper had received when it gathered this report ('unknown': not sent). */
  knownGoal?: ReplicationState;
  /**
   * The last decision the keeper received (witness.ts); sent only to a
   * monitor whose node_active takes it (monitorHasWitnesses).
   */
  witness?: { epoch: number; decisionId: number; goal: ReplicationState } | undefined;
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
 * node_active, failsafe_peers (and, `withEpoch`, the monitor epoch: a
 * monitor schema before migration 0010 has none) in ONE statement: the list of the group's
 * nodes comes with the very answer that may grant the write lease, so a
 * primary's failsafe list is never older than its lease (a node registered
 * before this statement is on it; see src/fsm/failsafe.ts).
 */
export function nodeActiveWithPeers(client: MonitorClient, args: NodeActiveArgs,
  options: { withEpoch?: boolean; withWitness?: boolean } = {}):
Promise<{ assignment: NodeAssignment; peers: FailsafePeer[]; secret: string; monitorEpoch: number | undefined; decision: GoalDecision | undefined }> {
  const witness = options.withWitness === true;
  const w = args.witness;
  return call(client, 'node_active',
    `SELECT a.*,
            (SELECT coalesce(json_agg(row_to_json(p) ORDER BY p.node_id), '[]'::json)
               FROM pgautofailover.failsafe_peers($2::bigint) p) AS failsafe_peers${options.withEpoch === true ? `,
            (SELECT e.epoch FROM pgautofailover.current_monitor_epoch() e) AS monitor_epoch` : ''}
       FROM pgautofailover.node_active($1::text, $2::bigint, $3::int, $4::pgautofailover.replication_state,
              $5::bool, $6::int, $7::pg_lsn, $8::text, $9::pgautofailover.replication_state${witness
    ? ', $10::bigint, $11::bigint, $12::pgautofailover.replication_state' : ''}) a`,
    [args.formation, args.nodeId, args.groupId, args.state, args.pgIsRunning, args.tli, formatLsn(args.lsn), args.syncState,
      args.knownGoal ?? 'unknown', ...(witness ? [w?.epoch ?? 0, w?.decisionId ?? 0, w?.goal ?? 'unknown'] : [])],
    one('node_active', (row) => {
      const rows = Array.isArray(row.failsafe_peers) ? row.failsafe_peers as Row[] : [];
      const { peers, secret } = mapFailsafePeers(rows);
      return {
        assignment: mapAssignment(row), peers, secret,
        monitorEpoch: options.withEpoch === true ? asInt(row.monitor_epoch, 'monitor_epoch') : undefined,
        decision: witness ? mapGoalDecision(row) : undefined,
      };
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

/** Whether the database holds a pg_auto_failover monitor schema (checked before registering). */
export function hasMonitorSchema(client: MonitorClient): Promise<boolean> {
  return call(client, 'node', "SELECT to_regclass('pgautofailover.node') IS NOT NULL AS ok", [],
    (rows) => rows[0]?.ok === true);
}

/** primary_lease_timeout (ms) of the monitor's settings; undefined when absent or not a positive number. */
export function readPrimaryLeaseTimeoutMs(client: MonitorClient): Promise<number | undefined> {
  return call(client, 'settings',
    `SELECT setting FROM pgautofailover.settings
      WHERE name IN ('primary_lease_timeout', 'pgautofailover.primary_lease_timeout')
      ORDER BY name LIMIT 1`, [], (rows) => {
      const value = Number(rows[0]?.setting);
      return Number.isFinite(value) && value > 0 ? value : undefined;
    });
}
