/**
 * register_node's group decisions (spec 03 §5.1 step 4 and 7, spec 01
 * §6.1): the goal state of a node joining a group, and the automatic
 * number_sync_standbys increase. register_node checks the plan and applies
 * its number_sync_standbys change; decide() assigns the first goal of a
 * node it inserted (rule J1).
 */
import { beingPromoted, conv, groupOf, writableNode } from './node-predicates.js';
import { assign, type Work } from './work.js';
import type { NodeSnapshot } from './snapshot.js';
import type { NodeState } from './states.js';

type GroupView = Pick<NodeSnapshot, 'nodeId' | 'reportedState' | 'goalState' | 'candidatePriority' | 'replicationQuorum' | 'reportedAt' | 'goalChangedAt' | 'keeperGoalState'>;

export interface NewNode {
  readonly candidatePriority: number;
  readonly replicationQuorum: boolean;
}

export type RegistrationPlan =
  | {
    readonly ok: true;
    readonly goalState: NodeState;
    /** New number_sync_standbys for the formation, or null when unchanged. */
    readonly numberSyncStandbys: number | null;
    readonly messages: readonly string[];
  }
  | {
    readonly ok: false;
    /** The keeper should retry later (SQLSTATE 55006) rather than give up. */
    readonly retryable: boolean;
    readonly message: string;
  };

export function planRegistration(
  nodes: readonly GroupView[], numberSyncStandbys: number, secondariesAllowed: boolean, newNode: NewNode,
): RegistrationPlan {
  const group = groupOf(nodes);
  if (group.length === 0) {
    if (newNode.candidatePriority > 0) return { ok: true, goalState: 'single', numberSyncStandbys: null, messages: [] };
    return { ok: false, retryable: true, message: 'couldn\'t find the primary node: the first node of a group needs a candidate priority above 0' };
  }
  if (!secondariesAllowed) return { ok: false, retryable: false, message: 'the formation does not allow secondary nodes' };

  let goalState: NodeState;
  if (writableNode(group) !== null || group.some((n) => beingPromoted(n))) {
    goalState = 'wait_standby';
  } else if (group.some((n) => n.candidatePriority === 0 && conv(n, 'report_lsn'))) {
    goalState = 'report_lsn';
  } else {
    return { ok: false, retryable: true, message: 'couldn\'t find the primary node: retry registering in a moment' };
  }

  let nss: number | null = null;
  const messages: string[] = [];
  if (goalState === 'wait_standby' && numberSyncStandbys === 0) {
    const primary = writableNode(group);
    const quorumStandbys = group.filter((n) => n !== primary && n.replicationQuorum).length + (newNode.replicationQuorum ? 1 : 0);
    if (quorumStandbys === 2) {
      nss = 1;
      messages.push('Setting number_sync_standbys to 1 now that 2 standby nodes participate in the replication quorum.');
    }
  }
  return { ok: true, goalState, numberSyncStandbys: nss, messages };
}

/**
 * J1: a node register_node just inserted (goal init) gets
 * its first goal, node by node in id order, each seeing the goals given
 * before it. The first node of a group is left to P3 (single).
 * number_sync_standbys was already raised by register_node.
 */
export function registerNewNodes(work: Work): void {
  const { formationId, groupId, numberSyncStandbys, secondariesAllowed } = work.snapshot;
  for (const a of work.all) {
    // A keeper registering again after it was dropped reports dropped.
    if (a.removed || a.goalState !== 'init' || (a.reportedState !== 'init' && a.reportedState !== 'dropped')) continue;
    const others = work.all.filter((n) => n !== a && !n.removed);
    if (others.length === 0) continue;
    const plan = planRegistration(others, numberSyncStandbys, secondariesAllowed !== false, a);
    if (!plan.ok) continue;
    assign(work, 'J1', [[a, plan.goalState]], `after it joined group ${groupId} of formation "${formationId}".`);
  }
}
