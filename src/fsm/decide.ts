/**
 * The group state machine's decision function (DESIGN.md decisions 3-4).
 *
 * decide() carries out the pending operator requests, oldest first, then
 * runs the procedure of spec 02 §4 once for every node of the group, by
 * node id, each time with that node as "A" (the original only ran it for
 * the node whose report was being processed; running it for every node
 * makes the result independent of which event woke the monitor up). Every
 * rule sees the goals assigned before it in the same call.
 *
 * Pure: no I/O, no clock, no randomness. The same snapshot, time and
 * settings always give the same decision.
 */
import { election } from './election.js';
import { nodeLabel } from './messages.js';
import { conv, inPrimaryRole, primaryOrDemoted } from './node-predicates.js';
import { primaryRules } from './primary-rules.js';
import { healthyCandidates, processRequest } from './requests.js';
import type { FsmSettings } from './settings.js';
import type { GroupSnapshot } from './snapshot.js';
import { standbyRules } from './standby-rules.js';
import { isWritableState } from './states.js';
import { assign, assignOpeningWrites, finish, group, removeRow, startWork, unhealthy, type Work, type WorkNode } from './work.js';
import type { Decision } from './decision.js';

export type { Decision, GoalAssignment, PriorityChange, NodeRemoval, ConsumedRequest, FsmEvent, RequestOutcome } from './decision.js';
export { DEFAULT_FSM_SETTINGS, type FsmSettings } from './settings.js';

export function decide(snapshot: GroupSnapshot, now: number, settings: FsmSettings): Decision {
  const work = startWork(snapshot, now, settings);
  for (const request of snapshot.requests) processRequest(work, request);
  for (const node of [...work.all]) proceedGroupState(work, node);
  return finish(work);
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
    if (a.candidatePriority > 0) {
      assignOpeningWrites(work, 'P3', a, [[a, 'single']], 'because it is the only node of the group.');
    } else {
      assign(work, 'P3', [[a, 'report_lsn']], 'because it is the only node of the group and its candidate priority is 0.');
    }
    return;
  }
  // P4
  if (inPrimaryRole(a)) {
    primaryRules(work, a);
    return;
  }
  const p = primaryOrDemoted(nodes);
  if (p === null || (nodes.length > 2 && unhealthy(work, p))) {
    if (p !== null) {
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
