/**
 * Types of the monitor's SQL API and the pure functions that parse its
 * values at the boundary: LSNs become bigint, system identifiers bigint,
 * node ids numbers, states checked members of a closed set.
 */
import { ERROR_CODES } from '../common/errors.js';
import { lsnFromText, lsnToText } from '../common/lsn.js';
import {
  NODE_HEALTH, NODE_STATES, SYNC_STATES, isNodeState,
  type NodeHealth as HealthLabelOfFsm, type NodeState,
} from '../fsm/index.js';

/** The states of pgautofailover.replication_state, in enum order: the fsm's node states. */
export const REPLICATION_STATES = NODE_STATES;
export type ReplicationState = NodeState;

/** sync_state values node_active accepts: the fsm's sync states, and '' (stored as unknown). */
export const REPORTED_SYNC_STATES = ['', ...SYNC_STATES] as const;
export type ReportedSyncState = (typeof REPORTED_SYNC_STATES)[number];

export const FORMATION_KINDS = ['pgsql', 'citus'] as const;
export type FormationKind = (typeof FORMATION_KINDS)[number];

export const NODE_KINDS = ['standalone', 'coordinator', 'worker'] as const;
export type NodeKind = (typeof NODE_KINDS)[number];

export const REQUEST_KINDS = ['failover', 'switchover', 'promotion', 'maintenance_on', 'maintenance_off', 'remove', 'settings_changed'] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];

/** The setting changed by a settings_changed request. */
export const REQUEST_SETTINGS = ['candidate_priority', 'replication_quorum', 'number_sync_standbys'] as const;
export type RequestSetting = (typeof REQUEST_SETTINGS)[number];

/** -1 not checked yet, 0 unreachable, 1 reachable. */
export type NodeHealth = -1 | 0 | 1;
/** The fsm's health labels (NODE_HEALTH) by stored value. */
export type HealthLabel = HealthLabelOfFsm;
export const HEALTH_LABELS = { [-1]: 'unknown', 0: 'bad', 1: 'good' } as const satisfies Record<NodeHealth, HealthLabel>;

/** Node ids are bigint in SQL; they stay far below 2^53. */
export type NodeId = number;

/** LISTEN/NOTIFY channels of the monitor. */
export const CHANNELS = {
  /** Plain-text informative messages. */
  log: 'log',
  /** One JSON object per event row ({@link StateNotification}). */
  state: 'state',
  /** Decision requests for the monitor service ({@link DecideNotification}). */
  decide: 'pgautofailover_decide',
} as const;

// ---------------------------------------------------------------------------
// Rows

export interface NodeAssignment {
  nodeId: NodeId;
  groupId: number;
  goalState: ReplicationState;
  candidatePriority: number;
  replicationQuorum: boolean;
}

export interface RegisteredNode extends NodeAssignment {
  name: string;
}

/** Rows of get_nodes, get_other_nodes, get_most_advanced_standby. */
export interface NodeAddress {
  nodeId: NodeId;
  name: string;
  host: string;
  port: number;
  lsn: bigint;
  /** The reported state is a writable one. */
  isPrimary: boolean;
}

export interface PrimaryNode {
  nodeId: NodeId;
  name: string;
  host: string;
  port: number;
}

/** Rows of set_node_system_identifier and set_group_system_identifier. */
export interface NodeIdentity {
  nodeId: NodeId;
  name: string;
  host: string;
  port: number;
}

/** A row of current_state(). */
export interface CurrentStateRow {
  formationKind: FormationKind;
  name: string;
  host: string;
  port: number;
  groupId: number;
  nodeId: NodeId;
  reportedState: ReplicationState;
  goalState: ReplicationState;
  candidatePriority: number;
  replicationQuorum: boolean;
  reportedTli: number;
  reportedLsn: bigint;
  health: NodeHealth;
  nodeCluster: string;
}

/** Where a node sits and how it is reached: the columns node rows and event rows share. */
export interface NodePlace {
  formationId: string;
  nodeId: NodeId;
  groupId: number;
  name: string;
  host: string;
  port: number;
}

/** A row of pgautofailover.event (last_events()). */
export interface EventRow extends NodePlace {
  eventId: bigint;
  eventTime: Date;
  reportedState: ReplicationState;
  goalState: ReplicationState;
  reportedRepState: string | null;
  reportedTli: number;
  reportedLsn: bigint;
  candidatePriority: number | null;
  replicationQuorum: boolean | null;
  description: string | null;
}

/** A row of formation_settings(). */
export interface FormationSettingRow {
  context: 'formation' | 'primary' | 'node';
  groupId: number | null;
  nodeId: NodeId | null;
  name: string;
  setting: string;
  value: string;
}

/** A row of pgautofailover.formation (also what create_formation returns). */
export interface FormationRow {
  formationId: string;
  kind: FormationKind;
  dbname: string;
  optSecondary: boolean;
  numberSyncStandbys: number;
}

/** A row of pgautofailover.node. */
export interface NodeRow extends NodePlace {
  sysIdentifier: bigint | null;
  goalState: ReplicationState;
  reportedState: ReplicationState;
  reportedPgIsRunning: boolean | null;
  reportedRepState: string | null;
  reportTime: Date;
  reportedTli: number;
  reportedLsn: bigint;
  walReportTime: Date;
  health: NodeHealth;
  healthCheckTime: Date;
  stateChangeTime: Date;
  candidatePriority: number;
  replicationQuorum: boolean;
  nodeCluster: string;
}

/** A row of pgautofailover.request. */
export interface RequestRow {
  id: bigint;
  formationId: string;
  groupId: number;
  nodeId: NodeId | null;
  kind: RequestKind;
  force: boolean;
  setting: RequestSetting | null;
  description: string | null;
  requestedAt: Date;
  doneAt: Date | null;
  outcome: string | null;
}

/** Payload of the `state` channel. */
export interface StateNotification {
  type: 'state';
  formation: string;
  groupId: number;
  nodeId: NodeId;
  name: string;
  host: string;
  port: number;
  reportedState: ReplicationState;
  goalState: ReplicationState;
  health: HealthLabel;
}

export const DECIDE_REASONS = ['register', 'report', 'request', 'settings', 'metadata', 'health'] as const;
export type DecideReason = (typeof DECIDE_REASONS)[number];

/** Payload of the `pgautofailover_decide` channel. */
export interface DecideNotification {
  formation: string;
  groupId: number;
  nodeId: NodeId | null;
  why: DecideReason;
  requestId?: bigint;
}

// ---------------------------------------------------------------------------
// Parsing at the boundary

/** A value of the wrong shape came back from the monitor. */
export class MonitorDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MonitorDataError';
  }
}

/** '0/3000060' -> 0x3000060n. */
export function parseLsn(text: string): bigint {
  const lsn = lsnFromText(text);
  if (lsn === null) throw new MonitorDataError(`invalid LSN "${text}"`);
  return lsn;
}

/** 0x3000060n -> '0/3000060' (upper-case hex, as Postgres prints it). */
export function formatLsn(lsn: bigint): string {
  const text = lsnToText(lsn);
  if (text === null) throw new MonitorDataError(`LSN out of range: ${lsn}`);
  return text;
}

export function isReplicationState(value: unknown): value is ReplicationState {
  return typeof value === 'string' && isNodeState(value);
}

export function asState(value: unknown, what = 'state'): ReplicationState {
  if (!isReplicationState(value)) throw new MonitorDataError(`invalid ${what}: ${JSON.stringify(value)}`);
  return value;
}

export function asText(value: unknown, what = 'text'): string {
  if (typeof value !== 'string') throw new MonitorDataError(`expected ${what} to be text, got ${JSON.stringify(value)}`);
  return value;
}

export function asNullableText(value: unknown, what = 'text'): string | null {
  return value === null || value === undefined ? null : asText(value, what);
}

/** int4 (a number) or int8 within the safe range (a string from pg). */
export function asInt(value: unknown, what = 'integer'): number {
  const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new MonitorDataError(`expected ${what} to be an integer, got ${JSON.stringify(value)}`);
  return n;
}

export function asNullableInt(value: unknown, what = 'integer'): number | null {
  return value === null || value === undefined ? null : asInt(value, what);
}

/** int8 of any size (pg returns it as a string). */
export function asBigInt(value: unknown, what = 'bigint'): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  throw new MonitorDataError(`expected ${what} to be a bigint, got ${JSON.stringify(value)}`);
}

export function asNullableBigInt(value: unknown, what = 'bigint'): bigint | null {
  return value === null || value === undefined ? null : asBigInt(value, what);
}

export function asBool(value: unknown, what = 'boolean'): boolean {
  if (typeof value !== 'boolean') throw new MonitorDataError(`expected ${what} to be a boolean, got ${JSON.stringify(value)}`);
  return value;
}

export function asNullableBool(value: unknown, what = 'boolean'): boolean | null {
  return value === null || value === undefined ? null : asBool(value, what);
}

export function asLsn(value: unknown, what = 'LSN'): bigint {
  return parseLsn(asText(value, what));
}

export function asDate(value: unknown, what = 'timestamp'): Date {
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw new MonitorDataError(`expected ${what} to be a timestamp, got ${JSON.stringify(value)}`);
  return date;
}

export function asNullableDate(value: unknown, what = 'timestamp'): Date | null {
  return value === null || value === undefined ? null : asDate(value, what);
}

export function asHealth(value: unknown): NodeHealth {
  const n = asInt(value, 'health');
  if (n !== -1 && n !== 0 && n !== 1) throw new MonitorDataError(`invalid health value ${n}`);
  return n;
}

function asOneOf<T extends string>(set: readonly T[], value: unknown, what: string): T {
  if (typeof value === 'string' && (set as readonly string[]).includes(value)) return value as T;
  throw new MonitorDataError(`invalid ${what}: ${JSON.stringify(value)}`);
}

export function asFormationKind(value: unknown): FormationKind {
  return asOneOf(FORMATION_KINDS, value, 'formation kind');
}

type Row = Record<string, unknown>;

export function mapAssignment(row: Row): NodeAssignment {
  return {
    nodeId: asInt(row.assigned_node_id, 'assigned_node_id'),
    groupId: asInt(row.assigned_group_id, 'assigned_group_id'),
    goalState: asState(row.assigned_group_state, 'assigned_group_state'),
    candidatePriority: asInt(row.assigned_candidate_priority, 'assigned_candidate_priority'),
    replicationQuorum: asBool(row.assigned_replication_quorum, 'assigned_replication_quorum'),
  };
}

export function mapRegisteredNode(row: Row): RegisteredNode {
  return { ...mapAssignment(row), name: asText(row.assigned_node_name, 'assigned_node_name') };
}

export function mapNodeAddress(row: Row): NodeAddress {
  return {
    nodeId: asInt(row.node_id, 'node_id'),
    name: asText(row.node_name, 'node_name'),
    host: asText(row.node_host, 'node_host'),
    port: asInt(row.node_port, 'node_port'),
    lsn: asLsn(row.node_lsn, 'node_lsn'),
    isPrimary: asBool(row.node_is_primary, 'node_is_primary'),
  };
}

export function mapPrimaryNode(row: Row): PrimaryNode {
  return {
    nodeId: asInt(row.primary_node_id, 'primary_node_id'),
    name: asText(row.primary_name, 'primary_name'),
    host: asText(row.primary_host, 'primary_host'),
    port: asInt(row.primary_port, 'primary_port'),
  };
}

export function mapNodeIdentity(row: Row): NodeIdentity {
  return {
    nodeId: asInt(row.node_id, 'node_id'),
    name: asText(row.node_name, 'node_name'),
    host: asText(row.node_host, 'node_host'),
    port: asInt(row.node_port, 'node_port'),
  };
}

export function mapCurrentState(row: Row): CurrentStateRow {
  return {
    formationKind: asFormationKind(row.formation_kind),
    name: asText(row.nodename, 'nodename'),
    host: asText(row.nodehost, 'nodehost'),
    port: asInt(row.nodeport, 'nodeport'),
    groupId: asInt(row.group_id, 'group_id'),
    nodeId: asInt(row.node_id, 'node_id'),
    reportedState: asState(row.current_group_state, 'current_group_state'),
    goalState: asState(row.assigned_group_state, 'assigned_group_state'),
    candidatePriority: asInt(row.candidate_priority, 'candidate_priority'),
    replicationQuorum: asBool(row.replication_quorum, 'replication_quorum'),
    reportedTli: asInt(row.reported_tli, 'reported_tli'),
    reportedLsn: asLsn(row.reported_lsn, 'reported_lsn'),
    health: asHealth(row.health),
    nodeCluster: asText(row.nodecluster, 'nodecluster'),
  };
}

/** The columns node and event rows share. */
function mapNodePlace(row: Row): NodePlace {
  return {
    formationId: asText(row.formationid, 'formationid'),
    nodeId: asInt(row.nodeid, 'nodeid'),
    groupId: asInt(row.groupid, 'groupid'),
    name: asText(row.nodename, 'nodename'),
    host: asText(row.nodehost, 'nodehost'),
    port: asInt(row.nodeport, 'nodeport'),
  };
}

export function mapEvent(row: Row): EventRow {
  return {
    eventId: asBigInt(row.eventid, 'eventid'),
    eventTime: asDate(row.eventtime, 'eventtime'),
    ...mapNodePlace(row),
    reportedState: asState(row.reportedstate, 'reportedstate'),
    goalState: asState(row.goalstate, 'goalstate'),
    reportedRepState: asNullableText(row.reportedrepstate, 'reportedrepstate'),
    reportedTli: asInt(row.reportedtli, 'reportedtli'),
    reportedLsn: asLsn(row.reportedlsn, 'reportedlsn'),
    candidatePriority: asNullableInt(row.candidatepriority, 'candidatepriority'),
    replicationQuorum: asNullableBool(row.replicationquorum, 'replicationquorum'),
    description: asNullableText(row.description, 'description'),
  };
}

export function mapFormationSetting(row: Row): FormationSettingRow {
  return {
    context: asOneOf(['formation', 'primary', 'node'] as const, row.context, 'settings context'),
    groupId: asNullableInt(row.group_id, 'group_id'),
    nodeId: asNullableInt(row.node_id, 'node_id'),
    name: asText(row.nodename, 'nodename'),
    setting: asText(row.setting, 'setting'),
    value: asText(row.value, 'value'),
  };
}

/** Rows of the formation table or of create_formation() (which names its columns formation_id). */
export function mapFormation(row: Row): FormationRow {
  return {
    formationId: asText(row.formationid ?? row.formation_id, 'formationid'),
    kind: asFormationKind(row.kind),
    dbname: asText(row.dbname, 'dbname'),
    optSecondary: asBool(row.opt_secondary, 'opt_secondary'),
    numberSyncStandbys: asInt(row.number_sync_standbys, 'number_sync_standbys'),
  };
}

export function mapNode(row: Row): NodeRow {
  return {
    ...mapNodePlace(row),
    sysIdentifier: asNullableBigInt(row.sysidentifier, 'sysidentifier'),
    goalState: asState(row.goalstate, 'goalstate'),
    reportedState: asState(row.reportedstate, 'reportedstate'),
    reportedPgIsRunning: asNullableBool(row.reportedpgisrunning, 'reportedpgisrunning'),
    reportedRepState: asNullableText(row.reportedrepstate, 'reportedrepstate'),
    reportTime: asDate(row.reporttime, 'reporttime'),
    reportedTli: asInt(row.reportedtli, 'reportedtli'),
    reportedLsn: asLsn(row.reportedlsn, 'reportedlsn'),
    walReportTime: asDate(row.walreporttime, 'walreporttime'),
    health: asHealth(row.health),
    healthCheckTime: asDate(row.healthchecktime, 'healthchecktime'),
    stateChangeTime: asDate(row.statechangetime, 'statechangetime'),
    candidatePriority: asInt(row.candidatepriority, 'candidatepriority'),
    replicationQuorum: asBool(row.replicationquorum, 'replicationquorum'),
    nodeCluster: asText(row.nodecluster, 'nodecluster'),
  };
}

export function mapRequest(row: Row): RequestRow {
  return {
    id: asBigInt(row.id, 'id'),
    formationId: asText(row.formationid, 'formationid'),
    groupId: asInt(row.groupid, 'groupid'),
    nodeId: asNullableInt(row.nodeid, 'nodeid'),
    kind: asOneOf(REQUEST_KINDS, row.kind, 'request kind'),
    force: asBool(row.force, 'force'),
    setting: row.setting === null || row.setting === undefined ? null : asOneOf(REQUEST_SETTINGS, row.setting, 'request setting'),
    description: asNullableText(row.description, 'description'),
    requestedAt: asDate(row.requested_at, 'requested_at'),
    doneAt: asNullableDate(row.done_at, 'done_at'),
    outcome: asNullableText(row.outcome, 'outcome'),
  };
}

function field(object: Record<string, unknown>, key: string): unknown {
  return object[key];
}

function parseJsonObject(payload: string, channel: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    throw new MonitorDataError(`invalid JSON on channel ${channel}: ${payload}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MonitorDataError(`expected a JSON object on channel ${channel}: ${payload}`);
  }
  return value as Record<string, unknown>;
}

export function parseStateNotification(payload: string): StateNotification {
  const o = parseJsonObject(payload, CHANNELS.state);
  if (field(o, 'type') !== 'state') throw new MonitorDataError(`unexpected notification type: ${payload}`);
  return {
    type: 'state',
    formation: asText(field(o, 'formation'), 'formation'),
    groupId: asInt(field(o, 'groupId'), 'groupId'),
    nodeId: asInt(field(o, 'nodeId'), 'nodeId'),
    name: asText(field(o, 'name'), 'name'),
    host: asText(field(o, 'host'), 'host'),
    port: asInt(field(o, 'port'), 'port'),
    reportedState: asState(field(o, 'reportedState'), 'reportedState'),
    goalState: asState(field(o, 'goalState'), 'goalState'),
    health: asOneOf(NODE_HEALTH, field(o, 'health'), 'health'),
  };
}

export function parseDecideNotification(payload: string): DecideNotification {
  const o = parseJsonObject(payload, CHANNELS.decide);
  const notification: DecideNotification = {
    formation: asText(field(o, 'formation'), 'formation'),
    groupId: asInt(field(o, 'groupId'), 'groupId'),
    nodeId: asNullableInt(field(o, 'nodeId'), 'nodeId'),
    why: asOneOf(DECIDE_REASONS, field(o, 'why'), 'decision reason'),
  };
  const requestId = field(o, 'requestId');
  if (requestId !== undefined && requestId !== null) notification.requestId = asBigInt(requestId, 'requestId');
  return notification;
}

// ---------------------------------------------------------------------------
// Errors

/** The SQLSTATE of a pg error, also when wrapped as the `cause` of another error. */
export function sqlStateOf(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth++) {
    if ('code' in e && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)
      && !(ERROR_CODES as readonly string[]).includes(e.code)) return e.code;
    e = 'cause' in e ? e.cause : undefined;
  }
  return undefined;
}

/**
 * Monitor errors worth retrying (spec 03 section 5.1/5.2): serialization
 * failure, deadlock, statement completion unknown, classes 53 and 54, and
 * with `objectInUse` (registration) 55006.
 */
export function isRetryableMonitorError(error: unknown, options: { objectInUse?: boolean } = {}): boolean {
  const code = sqlStateOf(error);
  if (code === undefined) return false;
  if (code === '40001' || code === '40P01' || code === '40003') return true;
  if (code.startsWith('53') || code.startsWith('54')) return true;
  return options.objectInUse === true && code === '55006';
}
