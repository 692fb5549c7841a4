/**
 * Rows the monitor service reads (service.ts): the brain's snapshot of a
 * group, the health checks' node list, the settings. They narrow the table
 * rows of types.ts; node and request ids stay bigint (exact for any value)
 * and the brain decides what to do with an id beyond 2^53. Times the brain
 * needs are ages in ms computed by Postgres (now() - column), never
 * timestamps, so that no two clocks are compared.
 */
import { SYNC_STATES, type SyncState } from '../fsm/index.js';
import {
  type NodeHealth, type NodeRow, type ReplicationState, type RequestRow, MonitorDataError, REQUEST_KINDS,
  asBigInt, asBool, asHealth, asInt, asLsn, asNullableBigInt, asNullableBool, asState, asText,
} from './types.js';

type Row = Record<string, unknown>;

export interface GroupKey { readonly formationId: string; readonly groupId: number }

/** A node of a group as the brain reads it in its transaction. */
export interface GroupNodeRow extends Pick<NodeRow, 'name' | 'host' | 'port' | 'goalState' | 'reportedState' | 'health'
  | 'reportedLsn' | 'reportedTli' | 'reportedPgIsRunning' | 'candidatePriority' | 'replicationQuorum'> {
  /** Exact; the brain refuses a group holding an id beyond 2^53. */
  nodeId: bigint;
  healthCheckAgeMs: number;
  reportAgeMs: number;
  goalChangeAgeMs: number;
  /** The column reportedrepstate as one of the fsm's sync states ('unknown' for anything else). */
  replicationState: SyncState;
  /** The goal the keeper knew at its last report; null when it did not send it. */
  keeperGoalState: ReplicationState | null;
  /** Age of the last write-lease grant (leasegranttime); null when none was granted. */
  leaseAgeMs: number | null;
  /** The decision of the current goal (migration 0014): its epoch and id; 0, 0 when none was recorded. */
  decision: { epoch: number; id: number };
  /** The last decision the keeper said it received; null when it sent none. */
  witness: { epoch: number; decisionId: number; goal: ReplicationState } | null;
}

/** A pending request of a group as the brain reads it. */
export interface GroupRequestRow extends Pick<RequestRow, 'id' | 'kind' | 'force'> {
  /** Exact; null for group-wide requests. */
  nodeId: bigint | null;
}

/** A node as synchronous_standby_names needs it. */
export interface StandbyNamesNodeRow extends Pick<NodeRow, 'goalState' | 'reportedState' | 'candidatePriority' | 'replicationQuorum'> {
  nodeId: bigint;
}

/** A node to health-check. */
export interface HealthCheckNodeRow {
  nodeId: bigint;
  name: string;
  host: string;
  port: number;
  health: NodeHealth;
}

/** The formation values a decision needs, and the age of the monitor's Postgres. */
export interface FormationDecisionRow {
  numberSyncStandbys: number;
  monitorAgeMs: number;
  /** Age of the current monitor epoch (its started_at); null before the first epoch. */
  epochAgeMs: number | null;
}

/** The lease grant kept for a group from a removed node (migration 0010). */
export interface RemovedLeaseRow {
  nodeId: bigint;
  leaseAgeMs: number;
}

/** A row of pgautofailover.settings; `name` without the `pgautofailover.` prefix of the original's GUCs. */
export interface SettingRow {
  name: string;
  setting: string;
}

const SETTING_PREFIX = 'pgautofailover.';

function asFloat(value: unknown, what: string): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || Number.isNaN(n)) throw new MonitorDataError(`expected ${what} to be a number, got ${JSON.stringify(value)}`);
  return n;
}

function asSyncState(value: unknown): SyncState {
  return SYNC_STATES.find((s) => s === value) ?? 'unknown';
}

export function asGroupKey(row: Row): GroupKey {
  return { formationId: asText(row.formationid, 'formationid'), groupId: asInt(row.groupid, 'groupid') };
}

export function mapGroupNode(row: Row): GroupNodeRow {
  return {
    nodeId: asBigInt(row.nodeid, 'nodeid'),
    name: asText(row.nodename, 'nodename'),
    host: asText(row.nodehost, 'nodehost'),
    port: asInt(row.nodeport, 'nodeport'),
    goalState: asState(row.goalstate, 'goalstate'),
    reportedState: asState(row.reportedstate, 'reportedstate'),
    health: asHealth(row.health),
    healthCheckAgeMs: asFloat(row.healthcheck_age_ms, 'healthcheck_age_ms'),
    reportAgeMs: asFloat(row.report_age_ms, 'report_age_ms'),
    goalChangeAgeMs: asFloat(row.goalchange_age_ms, 'goalchange_age_ms'),
    reportedLsn: asLsn(row.reportedlsn, 'reportedlsn'),
    reportedTli: asInt(row.reportedtli, 'reportedtli'),
    reportedPgIsRunning: asNullableBool(row.reportedpgisrunning, 'reportedpgisrunning'),
    replicationState: asSyncState(row.reportedrepstate),
    candidatePriority: asInt(row.candidatepriority, 'candidatepriority'),
    replicationQuorum: asBool(row.replicationquorum, 'replicationquorum'),
    keeperGoalState: row.keepergoalstate === null || row.keepergoalstate === undefined ? null : asState(row.keepergoalstate, 'keepergoalstate'),
    leaseAgeMs: row.lease_age_ms === null || row.lease_age_ms === undefined ? null : asFloat(row.lease_age_ms, 'lease_age_ms'),
    decision: {
      epoch: row.goaldecisionepoch === null || row.goaldecisionepoch === undefined ? 0 : asInt(row.goaldecisionepoch, 'goaldecisionepoch'),
      id: row.goaldecisionid === null || row.goaldecisionid === undefined ? 0 : asInt(row.goaldecisionid, 'goaldecisionid'),
    },
    witness: row.witnessdecisionid === null || row.witnessdecisionid === undefined || row.witnessgoalstate === null
      || row.witnessgoalstate === undefined ? null : {
        epoch: asInt(row.witnessepoch, 'witnessepoch'),
        decisionId: asInt(row.witnessdecisionid, 'witnessdecisionid'),
        goal: asState(row.witnessgoalstate, 'witnessgoalstate'),
      },
  };
}

export function mapGroupRequest(row: Row): GroupRequestRow {
  const kind = REQUEST_KINDS.find((k) => k === row.kind);
  if (kind === undefined) throw new MonitorDataError(`invalid request kind: ${JSON.stringify(row.kind)}`);
  return {
    id: asBigInt(row.id, 'id'),
    kind,
    nodeId: asNullableBigInt(row.nodeid, 'nodeid'),
    force: asBool(row.force, 'force'),
  };
}

export function mapStandbyNamesNode(row: Row): StandbyNamesNodeRow {
  return {
    nodeId: asBigInt(row.nodeid, 'nodeid'),
    reportedState: asState(row.reportedstate, 'reportedstate'),
    goalState: asState(row.goalstate, 'goalstate'),
    candidatePriority: asInt(row.candidatepriority, 'candidatepriority'),
    replicationQuorum: asBool(row.replicationquorum, 'replicationquorum'),
  };
}

export function mapHealthCheckNode(row: Row): HealthCheckNodeRow {
  return {
    nodeId: asBigInt(row.nodeid, 'nodeid'),
    name: asText(row.nodename, 'nodename'),
    host: asText(row.nodehost, 'nodehost'),
    port: asInt(row.nodeport, 'nodeport'),
    health: asHealth(row.health),
  };
}

export function mapFormationDecision(row: Row): FormationDecisionRow {
  return {
    numberSyncStandbys: asInt(row.number_sync_standbys, 'number_sync_standbys'),
    monitorAgeMs: asFloat(row.monitor_age_ms, 'monitor_age_ms'),
    epochAgeMs: row.epoch_age_ms === null || row.epoch_age_ms === undefined ? null : asFloat(row.epoch_age_ms, 'epoch_age_ms'),
  };
}

export function mapRemovedLease(row: Row): RemovedLeaseRow {
  return {
    nodeId: asBigInt(row.nodeid, 'removed_lease_nodeid'),
    leaseAgeMs: Number(row.removed_age_ms),
  };
}

export function mapSetting(row: Row): SettingRow {
  const name = asText(row.name, 'name');
  return { name: name.startsWith(SETTING_PREFIX) ? name.slice(SETTING_PREFIX.length) : name, setting: asText(row.setting, 'setting') };
}
