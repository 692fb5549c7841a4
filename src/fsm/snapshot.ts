/**
 * What the decision function sees: one group of one formation, read in the
 * transaction that locks the group (DESIGN.md decision 3). Times are
 * milliseconds on the caller's clock, the same clock as `now` given to
 * decide(); the monitor service should use its monotonic clock.
 */
import type { SyncState } from '../common/sync-states.js';
import type { NodeState } from './states.js';

export { SYNC_STATES, isSyncState, type SyncState } from '../common/sync-states.js';

/** Health as written by the monitor's health checks (spec 03 §4.2: -1, 0, 1). */
export const NODE_HEALTH = ['unknown', 'bad', 'good'] as const;
export type NodeHealth = (typeof NODE_HEALTH)[number];

export interface NodeSnapshot {
  readonly nodeId: number;
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Last state the keeper reported (column reportedstate). */
  readonly reportedState: NodeState;
  /** State the monitor assigned (column goalstate). */
  readonly goalState: NodeState;
  readonly health: NodeHealth;
  /** Time of the last health check of this node, whatever its result; null: never checked. */
  readonly healthCheckedAt: number | null;
  /** Time of the last node_active report; null: the keeper never reported. */
  readonly reportedAt: number | null;
  /**
   * Time of the last goal assignment. Not the 2.x column statechangetime,
   * which node_active also moves when the reported state changes.
   */
  readonly goalChangedAt: number;
  /**
   * The goal state the keeper had received when it made its last report
   * (its state file's assigned state, sent with node_active), or null when
   * the keeper does not send it. A node counts as converged in S only when
   * it reported S, after S was assigned, while knowing S as its goal: a
   * report made before the keeper learned its goal may describe a state it
   * has left since. When null, only the time condition is checked, which
   * misses a keeper that moved on after the gathering of its report.
   */
  readonly keeperGoalState: NodeState | null;
  /**
   * Last non-zero LSN the node reported. It is the node's current LSN only
   * when the last report said Postgres was running (pgIsRunning).
   */
  readonly reportedLsn: bigint;
  readonly reportedTimeline: number;
  /** Whether Postgres was running at the last report. */
  readonly pgIsRunning: boolean;
  /** Best sync_state among the node's walsenders, as it reported it. */
  readonly replicationState: SyncState;
  /** 0..100 as set by operators; transiently +101 or -101 around elections (spec 01 §6.2). */
  readonly candidatePriority: number;
  readonly replicationQuorum: boolean;
  /**
   * The decision of the current goal: the monitor epoch it was made in and
   * its decision id (witness.ts); absent or 0, 0 when none was recorded.
   */
  readonly decision?: GoalDecisionName;
  /**
   * The last decision the keeper said it received (its witness), or
   * null/absent when it sent none. A witness newer than `decision` names a
   * goal this monitor lacks (its writes were lost): decide() adopts it.
   */
  readonly witness?: NodeWitness | null;
}

/** A goal assignment's name: (epoch, id), ordered by epoch, then id. */
export interface GoalDecisionName {
  readonly epoch: number;
  readonly id: number;
}

/** What a keeper witnessed: the goal it received, and that goal's decision. */
export interface NodeWitness {
  readonly epoch: number;
  readonly decisionId: number;
  readonly goal: NodeState;
}

/**
 * The write lease bookkeeping of the group (DESIGN.md "Safety argument"):
 * the node and time of the last node_active call that returned a writable
 * goal to its caller. node_active records it, in the same transaction that
 * reads the goal it returns, whenever that goal is writable
 * (isWritableState). The keeper counts its lease from the call's send time,
 * so its lease always ends before the monitor's view of it.
 */
export interface WriteLease {
  readonly nodeId: number;
  readonly grantedAt: number;
}

export const REQUEST_KINDS = ['failover', 'switchover', 'promotion', 'maintenance', 'remove', 'settings_changed'] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];

export const SETTING_NAMES = ['candidate_priority', 'replication_quorum', 'number_sync_standbys'] as const;
export type SettingName = (typeof SETTING_NAMES)[number];

/**
 * An operator request recorded by an SQL operator function and not yet
 * carried out. The SQL function validates what it can; decide() validates
 * again against the snapshot and reports the outcome in consumedRequests.
 * Settings requests are recorded after the new value is stored: the
 * snapshot already shows it.
 */
export type OperatorRequest =
  | { readonly id: number; readonly kind: 'failover' }
  | { readonly id: number; readonly kind: 'switchover' }
  | { readonly id: number; readonly kind: 'promotion'; readonly nodeId: number }
  | { readonly id: number; readonly kind: 'maintenance'; readonly nodeId: number; readonly enable: boolean }
  | { readonly id: number; readonly kind: 'remove'; readonly nodeId: number; readonly force: boolean }
  | { readonly id: number; readonly kind: 'settings_changed'; readonly setting?: SettingName; readonly nodeId?: number };

export interface GroupSnapshot {
  readonly formationId: string;
  readonly groupId: number;
  /** The formation's number_sync_standbys. */
  readonly numberSyncStandbys: number;
  /** The formation's opt_secondary: whether a registered node may join as a standby (rule J1); true when absent. */
  readonly secondariesAllowed?: boolean;
  /** Every row of the group, nodes with goal `dropped` included, in any order. */
  readonly nodes: readonly NodeSnapshot[];
  /** Pending operator requests, oldest first. */
  readonly requests: readonly OperatorRequest[];
  readonly writeLease: WriteLease | null;
  /** When the monitor (its Postgres) started: health checks before startup_grace_period are not trusted. */
  readonly monitorStartedAt: number;
  /**
   * The monitor's current epoch (migration 0011), when known: a node whose
   * goal was decided in an earlier epoch is waited for after the monitor
   * started (witness.ts, W0).
   */
  readonly monitorEpoch?: number;
  /**
   * When the current monitor epoch started, when known (a promoted standby
   * monitor starts a new one): the health rules count silence and failed
   * checks from there at the earliest (see health.ts).
   */
  readonly epochStartedAt?: number | null;
}
