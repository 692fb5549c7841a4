/**
 * Keepers as witnesses (issue 13 phase 4, docs/architecture.md "Monitor
 * high availability"). Every goal assignment is a decision named by
 * (monitor epoch, decision id); each keeper keeps the last one it received
 * and sends it with node_active. A monitor whose copy of a node's row holds
 * an older decision than the keeper's witness lost the writes of the
 * monitor that made it (an asynchronous copy promoted, a restore): the
 * keeper may already be acting on that goal. The brain never decides
 * against it: it adopts the goal first (W1), and the group's other goals
 * that contradict it (W2): a node the lost monitor promoted is the group's
 * only writable node, so another node still holding a writable goal here
 * is demoted (or drained, when the promotion was only under way), as the
 * lost decision did.
 *
 * Pure: runs first in decide(), before every other rule, which then see
 * the adopted goals.
 */
import { findTransition } from './keeper-transitions.js';
import { nodeLabel } from './messages.js';
import type { GoalDecisionName, NodeWitness } from './snapshot.js';
import { isWritableState, type NodeState } from './states.js';
import { assign, log, unhealthy, type Work, type WorkNode } from './work.js';

/** Goals of a node on its way to being promoted: the lost monitor moved the old primary out of the way with them. */
const PROMOTING: ReadonlySet<NodeState> = new Set<NodeState>(['prepare_promotion', 'stop_replication']);

/** <0, 0, >0 as a is older than, the same as, newer than b. */
export function compareDecisions(a: GoalDecisionName, b: GoalDecisionName): number {
  if (a.epoch !== b.epoch) return a.epoch < b.epoch ? -1 : 1;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  return 0;
}

/** The node's witness when it names a decision newer than the row's: a goal this monitor lacks. */
export function lackedWitness(node: { readonly decision?: GoalDecisionName; readonly witness?: NodeWitness | null }): NodeWitness | null {
  const w = node.witness;
  if (w === undefined || w === null || w.decisionId <= 0) return null;
  const mine = node.decision ?? { epoch: 0, id: 0 };
  return compareDecisions({ epoch: w.epoch, id: w.decisionId }, mine) > 0 ? w : null;
}

/**
 * W1 and W2 for every node of the group whose keeper witnessed a decision
 * this monitor lacks, oldest decision first, so that when witnesses
 * disagree the latest decision wins (it was made knowing the earlier ones).
 */
export function adoptWitnessedGoals(work: Work): void {
  const lacking = work.all
    .flatMap((a) => {
      const w = a.removed ? null : lackedWitness(a);
      return w === null || w.goal === 'unknown' || w.goal === 'init' ? [] : [{ a, w }];
    })
    .sort((x, y) => compareDecisions({ epoch: x.w.epoch, id: x.w.decisionId }, { epoch: y.w.epoch, id: y.w.decisionId }));
  for (const { a, w } of lacking) {
    if (w.goal !== a.goalState) {
      log(work, `Adopting the goal "${w.goal}" that ${nodeLabel(a)} received at epoch ${w.epoch}, decision ${w.decisionId}: `
        + 'this monitor lacks that decision (the writes of the monitor that made it were lost), and never decides against what a keeper already does');
      assign(work, 'W1', [[a, w.goal]],
        `because its keeper received it at epoch ${w.epoch}, decision ${w.decisionId}, which this monitor lacks: adopted.`);
    }
    if (isWritableState(w.goal) || PROMOTING.has(w.goal)) demoteOthers(work, a, w);
  }
}

/**
 * The first of `wanted` the node's keeper can reach from its reported
 * state and from its goal; demote_timeout is reachable from every writable
 * state (the keeper table guarantees it).
 */
function stepDown(node: WorkNode, wanted: readonly NodeState[]): NodeState {
  const edge = (from: NodeState, to: NodeState): boolean => from === to || findTransition(from, to) !== undefined;
  return wanted.find((g) => edge(node.reportedState, g) && edge(node.goalState, g)) ?? 'demote_timeout';
}

/** W2: the other nodes with a writable goal leave it, unless their own keeper witnessed a newer decision. */
function demoteOthers(work: Work, promoted: WorkNode, w: NodeWitness): void {
  const adopted = { epoch: w.epoch, id: w.decisionId };
  for (const other of work.all) {
    if (other === promoted || other.removed || !isWritableState(other.goalState)) continue;
    const own = lackedWitness(other);
    if (own !== null && compareDecisions({ epoch: own.epoch, id: own.decisionId }, adopted) > 0) continue;
    const goal = stepDown(other, PROMOTING.has(w.goal) ? ['draining', 'demoted', 'demote_timeout'] : ['demoted', 'demote_timeout']);
    assign(work, 'W2', [[other, goal]],
      `because ${nodeLabel(promoted)} received goal ${w.goal} at epoch ${w.epoch}, decision ${w.decisionId}, `
      + 'from a monitor that had taken this node out of the primary role (adopted decision).');
  }
}

/**
 * W0: after a promotion of the monitor (a new epoch), a node whose goal was
 * decided in an earlier epoch and that has not reported to this monitor
 * since it started may hold a decision the monitor lacks (its witness
 * arrives with its first report). Until every such node reported, or is
 * unhealthy, or the startup grace period is over, nothing but W1-W2 is
 * decided for the group, so that the monitor does not decide from rows its
 * keepers may have moved past. Keepers report every second: the hold is
 * short, and bounded by startup_grace_period, during which no node is
 * failed over anyway. Without a known epoch (snapshot.monitorEpoch) there
 * is no hold. Returns the node waited for, or null.
 */
export function awaitedWitness(work: Work): WorkNode | null {
  const epoch = work.snapshot.monitorEpoch;
  if (epoch === undefined || work.now - work.monitorStartedAt >= work.settings.startupGracePeriodMs) return null;
  return work.all.find((n) => !n.removed && n.goalState !== 'dropped' && n.reportedState !== 'init'
    && (n.decision?.epoch ?? 0) < epoch
    && (n.reportedAt === null || n.reportedAt < work.monitorStartedAt) && !unhealthy(work, n)) ?? null;
}
