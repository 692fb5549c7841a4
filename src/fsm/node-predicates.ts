/**
 * The node and group predicates of spec 02 §1, over any node view with a
 * reported and a goal state. Group lookups take the group's nodes (goal not
 * `dropped`) sorted by node id.
 */
import type { NodeSnapshot } from './snapshot.js';
import { isDemotingState, isMaintenanceState, isPrimaryishState, isWritableState, type NodeState } from './states.js';

type StateView = Pick<NodeSnapshot, 'reportedState' | 'goalState'>;
type ConvView = Pick<NodeSnapshot, 'reportedState' | 'goalState' | 'reportedAt' | 'goalChangedAt' | 'keeperGoalState'>;

/**
 * The last report was made after the goal was assigned, by a keeper that
 * knew that goal (when it says which goal it knew). Without this, a goal
 * assigned back to the state a node last reported would look reached,
 * although the keeper may have left that state since its report, for an
 * intermediate goal it has not reported yet.
 */
export function reportedKnowingGoal(node: Pick<NodeSnapshot, 'goalState' | 'keeperGoalState' | 'reportedAt' | 'goalChangedAt'>): boolean {
  if (node.reportedAt === null || node.reportedAt <= node.goalChangedAt) return false;
  return node.keeperGoalState === null || node.keeperGoalState === node.goalState;
}

/** conv(n, S): reported = goal = S, reported by a keeper that knew that goal. */
export function conv(node: ConvView, state: NodeState): boolean {
  return node.reportedState === state && node.goalState === state && reportedKnowingGoal(node);
}

export function convIn(node: ConvView, states: readonly NodeState[]): boolean {
  return node.reportedState === node.goalState && states.includes(node.goalState) && reportedKnowingGoal(node);
}

/**
 * inPrimaryRole(n): converged in a writable state, or moving between
 * primary and apply_settings (both keep the same synchronous_standby_names
 * until the keeper applies the new value).
 */
export function inPrimaryRole(node: ConvView): boolean {
  if (node.reportedState === node.goalState && isWritableState(node.goalState) && reportedKnowingGoal(node)) return true;
  const pair = (s: NodeState): boolean => s === 'primary' || s === 'apply_settings';
  return pair(node.goalState) && pair(node.reportedState);
}

export function inMaintenance(node: StateView): boolean {
  return isMaintenanceState(node.goalState);
}

export function beingDemoted(node: StateView): boolean {
  return isPrimaryishState(node.reportedState) && isDemotingState(node.goalState);
}

export function demotedPrimary(node: StateView): boolean {
  return node.goalState === 'demoted' && (isPrimaryishState(node.reportedState) || node.reportedState === 'demoted');
}

export function beingPromoted(node: StateView): boolean {
  const { reportedState: r, goalState: g } = node;
  switch (r) {
    case 'report_lsn':
    case 'fast_forward':
      return g === 'fast_forward' || g === 'prepare_promotion';
    case 'prepare_promotion':
      return g === 'prepare_promotion' || g === 'stop_replication' || g === 'wait_primary';
    case 'stop_replication':
      return g === 'stop_replication' || g === 'wait_primary';
    default:
      return false;
  }
}

/** The candidate has stopped following the old primary: the others may follow it. */
export function readyToStreamWal(node: StateView): boolean {
  const { reportedState: r, goalState: g } = node;
  switch (r) {
    case 'prepare_promotion':
    case 'stop_replication':
      return g === 'stop_replication' || g === 'wait_primary';
    case 'wait_primary':
      return g === 'wait_primary' || g === 'primary';
    case 'primary':
      return g === 'primary';
    default:
      return false;
  }
}

/**
 * The node may hold WAL streamed from a primary: anything but a new node
 * that was never told to copy a primary.
 */
export function mayHoldData(node: StateView): boolean {
  const noData = (s: NodeState): boolean => s === 'init' || s === 'wait_standby';
  return !(noData(node.reportedState) && noData(node.goalState));
}

/** The group: nodes whose goal is not `dropped`, sorted by node id. */
export function groupOf<T extends Pick<NodeSnapshot, 'nodeId' | 'goalState'>>(nodes: readonly T[]): T[] {
  return nodes.filter((n) => n.goalState !== 'dropped').sort((a, b) => a.nodeId - b.nodeId);
}

/** First node whose goal is writable. */
export function writableNode<T extends StateView>(group: readonly T[]): T | null {
  return group.find((n) => isWritableState(n.goalState)) ?? null;
}

/**
 * primaryOrDemoted ("P"): the writable node; else, among nodes reporting a
 * primaryish state, the last one by id, except that a node being demoted
 * is not replaced by one already assigned `demoted`.
 */
export function primaryOrDemoted<T extends StateView>(group: readonly T[]): T | null {
  const writable = writableNode(group);
  if (writable !== null) return writable;
  let found: T | null = null;
  for (const node of group) {
    if (!isPrimaryishState(node.reportedState)) continue;
    if (found !== null && beingDemoted(found) && demotedPrimary(node)) continue;
    found = node;
  }
  return found;
}

/** First node converged in single, primary or join_primary: where a manual failover starts. */
export function failoverSource<T extends ConvView>(group: readonly T[]): T | null {
  return group.find((n) => convIn(n, ['single', 'primary', 'join_primary'])) ?? null;
}

export function failoverInProgress(group: readonly StateView[]): boolean {
  return group.some((n) => beingPromoted(n)
    || n.reportedState === 'report_lsn' || n.goalState === 'report_lsn'
    || n.reportedState === 'join_secondary' || n.goalState === 'join_secondary');
}
