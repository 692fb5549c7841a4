/**
 * The group state machine's decision function (DESIGN.md decisions 3-4).
 *
 * decide() first adopts the goals that keepers witnessed and this
 * monitor lacks (witness.ts, rules W1-W2), and right after the monitor
 * started waits for every node to report its witness (W0); it gives newly
 * registered nodes
 * their first goal (rule J1),
 * carries out the pending operator requests, oldest first, then
 * runs the procedure of spec 02 §4 once for every node of the group, by
 * node id, each time with that node as "A" (the original only ran it for
 * the node whose report was being processed; running it for every node
 * makes the result independent of which event woke the monitor up). Every
 * rule sees the goals assigned before it in the same call.
 *
 * The snapshot must carry the reporting nodes' fresh values (spec 02 open
 * point: 2.x decided on the caller's previous report).
 *
 * Pure: no I/O, no clock, no randomness. The same snapshot, time and
 * settings always give the same decision.
 */
import type { Decision } from './decision.js';
import { election } from './election.js';
import { findTransition } from './keeper-transitions.js';
import { writeFenceAt } from './lease.js';
import { nodeLabel } from './messages.js';
import { conv, inPrimaryRole, mayHoldData, primaryOrDemoted, reportedKnowingGoal, writableNode } from './node-predicates.js';
import { primaryRules } from './primary-rules.js';
import { registerNewNodes } from './registration.js';
import { healthyCandidates, processRequest } from './requests.js';
import type { FsmSettings } from './settings.js';
import type { GroupSnapshot } from './snapshot.js';
import { standbyRules } from './standby-rules.js';
import { isWritableState, type NodeState } from './states.js';
import { adoptWitnessedGoals, awaitedWitness } from './witness.js';
import { assign, assignOpeningWrites, finish, group, log, removeRow, startWork, unhealthy, type Work, type WorkNode } from './work.js';

export type { Decision, GoalAssignment, PriorityChange, NodeRemoval, ConsumedRequest, FsmEvent, RequestOutcome } from './decision.js';
export { DEFAULT_FSM_SETTINGS, type FsmSettings } from './settings.js';

export function decide(snapshot: GroupSnapshot, now: number, settings: FsmSettings): Decision {
  const work = startWork(snapshot, now, settings);
  adoptWitnessedGoals(work);
  const awaited = awaitedWitness(work);
  if (awaited !== null) {
    log(work, `Waiting for ${nodeLabel(awaited)} to report to this monitor before deciding for group ${snapshot.groupId}: `
      + 'its keeper may hold a decision this monitor lacks');
    return finish(work);
  }
  registerNewNodes(work);
  for (const request of snapshot.requests) processRequest(work, request);
  for (const node of [...work.all]) proceedGroupState(work, node);
  return finish(work);
}

/**
 * The keeper can reach `goal`: from its reported state, and from its
 * current goal too when it may already stand there (reached, not reported).
 */
function canReach(a: WorkNode, goal: NodeState): boolean {
  const edge = (from: NodeState): boolean => from === goal || findTransition(from, goal) !== undefined;
  const mayStandInGoal = a.goalState !== a.reportedState && findTransition(a.reportedState, a.goalState) !== undefined;
  return edge(a.reportedState) && (!mayStandInGoal || edge(a.goalState));
}

/** spec 02 §4 for one node A. */
function proceedGroupState(work: Work, a: WorkNode): void {
  if (a.removed) return;
  // P0: the dropped node's keeper stopped Postgres; forget the node.
  if (conv(a, 'dropped')) {
    removeRow(work, 'P0', a, `Removing ${nodeLabel(a)} from formation "${work.snapshot.formationId}" and group ${work.snapshot.groupId}`);
    return;
  }
  if (a.goalState === 'dropped') return; // P1
  if (conv(a, 'maintenance')) return; // P2

  const nodes = group(work);
  // P3: a node alone in its group.
  if (nodes.length === 1 && !conv(a, 'single')) {
    // A keeper that cannot reach single from where it stands (maintenance,
    // fast_forward, join_secondary...) goes through report_lsn first; one
    // that has not reported since its last goal change (it may stand in
    // any goal assigned since) is waited for. A node without data and
    // priority 0 waits for an operator.
    if (!reportedKnowingGoal(a)) return;
    if (!mayHoldData(a) && a.candidatePriority <= 0) return;
    if (a.candidatePriority > 0 && canReach(a, 'single')) {
      assignOpeningWrites(work, 'P3', a, [[a, 'single']], 'because it is the only node of the group.');
    } else if (canReach(a, 'report_lsn')) {
      assign(work, 'P3', [[a, 'report_lsn']], a.candidatePriority > 0
        ? 'because it is the only node of the group: it restarts without upstream before running alone.'
        : 'because it is the only node of the group and its candidate priority is 0.');
    }
    return;
  }
  // P3b: no node holds data any more (they were removed): start afresh. A
  // new node told to copy the primary, still reporting wait_standby after
  // the old primary's lease fell, has nothing to copy from any more.
  const fenceAt = writeFenceAt(work.lease, work.all, work.settings);
  const empty = (n: WorkNode): boolean => (n.reportedState === 'init' || n.reportedState === 'wait_standby')
    && (!mayHoldData(n) || (n.reportedAt !== null && n.reportedAt > fenceAt));
  if (writableNode(nodes) === null && nodes.every(empty)) {
    const first = nodes.find((n) => n.candidatePriority > 0);
    if (first === a) {
      assignOpeningWrites(work, 'P3b', a, [[a, 'single']], 'to create a new instance: no node of the group holds data.');
    }
    return;
  }
  // P4
  if (inPrimaryRole(a)) {
    primaryRules(work, a);
    return;
  }
  const p = primaryOrDemoted(nodes);
  // P5. Spec 02 open point: in 2.x, no primary and no failover in progress
  // (a primary removed by force) is an error until an operator steps in;
  // here it starts an election. With two nodes the failover trigger is R8;
  // an election is still needed when the old primary is being demoted and
  // the pair broke up (a node removed meanwhile, a promotion abandoned).
  const lost = p === null || (unhealthy(work, p) && (nodes.length > 2 || !isWritableState(p.goalState)));
  if (lost) {
    if (p !== null && nodes.length > 2) {
      if (conv(p, 'primary') && healthyCandidates(work, p).length > 0) {
        assign(work, 'P5a', [[p, 'draining']], 'because it is unhealthy: a standby will be elected.');
      } else if (conv(p, 'prepare_maintenance')) {
        assign(work, 'P5b', [[p, 'maintenance']], 'now that it stopped: a standby will be elected.');
      }
    }
    // Never elect while the old primary may still accept writes: it keeps
    // its writable goal when it was not safe to fail over from its state.
    if (p === null || !isWritableState(p.goalState)) {
      if (election(work, a, p) === 'progress') return;
      if (conv(a, 'report_lsn')) return; // R3 would run the same election again
    }
  }
  standbyRules(work, a, p);
}
