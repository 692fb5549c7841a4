/**
 * The result of decide(): everything a thin SQL shell writes, in one
 * transaction, for one group. Apply in this order: priority changes,
 * number_sync_standbys, goal assignments (each sets goalstate and
 * statechangetime = now), row deletions, request outcomes; insert the
 * event rows; then NOTIFY.
 */
import type { MonitorRuleId } from './rules.js';
import type { RequestKind } from './snapshot.js';
import type { NodeState } from './states.js';

export interface GoalAssignment {
  readonly nodeId: number;
  readonly goalState: NodeState;
  readonly previousGoalState: NodeState;
  /** The node's reported state when the goal was assigned: (reportedState, goalState) must be a keeper edge. */
  readonly reportedState: NodeState;
  readonly rule: MonitorRuleId;
  /** Why, in words for operators; also the description of the assignment's event row. */
  readonly reason: string;
}

export interface PriorityChange {
  readonly nodeId: number;
  readonly candidatePriority: number;
  readonly previousPriority: number;
  readonly rule: MonitorRuleId;
  readonly reason: string;
}

export interface NodeRemoval {
  readonly nodeId: number;
  readonly rule: MonitorRuleId;
  readonly reason: string;
}

export const REQUEST_OUTCOMES = ['done', 'refused'] as const;
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

export interface ConsumedRequest {
  readonly requestId: number;
  readonly kind: RequestKind;
  readonly outcome: RequestOutcome;
  /** What happened, or why the request was refused (for the operator's CLI). */
  readonly message: string;
}

/** One row for pgautofailover.event (spec 03 §8). */
export interface FsmEvent {
  readonly nodeId: number;
  /** The node's goal state right after the change the event describes. */
  readonly goalState: NodeState;
  readonly description: string;
}

export interface Decision {
  /** Goal changes in the order they were made; a node may appear more than once (the last one wins). */
  readonly assignments: readonly GoalAssignment[];
  readonly priorityChanges: readonly PriorityChange[];
  /** The formation's new number_sync_standbys, or null when unchanged. */
  readonly numberSyncStandbys: number | null;
  /** Rows to delete. */
  readonly removals: readonly NodeRemoval[];
  readonly consumedRequests: readonly ConsumedRequest[];
  /** Event rows, in order: one per assignment and one per priority change. */
  readonly events: readonly FsmEvent[];
  /** Messages for the log and the `log` channel only (no event row). */
  readonly logs: readonly string[];
  /**
   * The earliest time at which decide() may decide differently on the same
   * snapshot (a timeout or a lease running out), or null. Call it again
   * then, or on any new report, health change or request.
   */
  readonly recheckAt: number | null;
}
