/** Operator functions: they validate and record a request that the monitor service carries out. */
import { call, maybeOne, one, nothing, type MonitorClient } from './call.js';
import {
  type FormationKind, type FormationRow, type NodeId, type NodeRow, asBool, mapFormation, mapNode,
} from './types.js';

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

/** The node registered with this host and port, if any (`drop node --hostname --pgport`). */
export function findNodeByHostPort(client: MonitorClient, host: string, port: number): Promise<NodeRow | undefined> {
  return call(client, 'node', 'SELECT * FROM pgautofailover.node WHERE nodehost = $1 AND nodeport = $2',
    [host, port], maybeOne(mapNode));
}
