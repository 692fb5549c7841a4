/**
 * Operator requests (spec 02 §5.7-5.11, spec 03 §5.2): perform failover /
 * switchover / promotion, start and stop maintenance, node removal, and
 * settings changes. Each request is validated against the working copy
 * and either carried out or refused with the reason; never half applied.
 */
import { assertNever } from '../common/errors.js';
import { standbyForElection } from './election.js';
import { nodeLabel } from './messages.js';
import { beingPromoted, conv, failoverInProgress, failoverSource, inMaintenance, inPrimaryRole, mayHoldData, primaryOrDemoted, writableNode } from './node-predicates.js';
import { primaryRules } from './primary-rules.js';
import type { OperatorRequest } from './snapshot.js';
import { isWritableState } from './states.js';
import { newerTimelineHolder, newestPossibleTimeline } from './timelines.js';
import {
  assign, consume, findNode, group, healthy, removeRow, setNumberSyncStandbys, setPriority, type Work, type WorkNode,
} from './work.js';

type Refusal = string;

function where(work: Work): string {
  return `group ${work.snapshot.groupId} in formation "${work.snapshot.formationId}"`;
}

/** Standbys (other than p) converged secondary, healthy, with priority > 0. */
export function healthyCandidates(work: Work, p: WorkNode): WorkNode[] {
  return group(work).filter((n) => n.nodeId !== p.nodeId && n.goalState === 'secondary' && conv(n, 'secondary')
    && n.candidatePriority > 0 && healthy(work, n));
}

export function processRequest(work: Work, request: OperatorRequest): void {
  switch (request.kind) {
    case 'failover':
    case 'switchover':
      return outcome(work, request, failover(work, request.kind, null));
    case 'promotion':
      return outcome(work, request, promotion(work, request.nodeId));
    case 'maintenance':
      return outcome(work, request, request.enable ? startMaintenance(work, request.nodeId) : stopMaintenance(work, request.nodeId));
    case 'remove':
      return outcome(work, request, remove(work, request.nodeId, request.force));
    case 'settings_changed':
      return outcome(work, request, settingsChanged(work));
    default:
      return assertNever(request, 'operator request');
  }
}

function outcome(work: Work, request: OperatorRequest, result: { done: string } | { refused: Refusal }): void {
  if ('done' in result) consume(work, request, 'done', result.done);
  else consume(work, request, 'refused', result.refused);
}

/** Validation shared by failover, switchover and promotion: the refusal, or who is demoted and promoted. */
function checkFailover(work: Work, promoted: WorkNode | null): Refusal | { primary: WorkNode; standby: WorkNode | null } {
  const nodes = group(work);
  if (nodes.length < 2) return `cannot fail over: ${where(work)} currently has ${nodes.length} node(s)`;
  const primary = failoverSource(nodes);
  if (primary === null) return `cannot fail over: couldn't find the primary node in ${where(work)}`;
  if (!conv(primary, 'primary')) {
    return `cannot fail over: ${nodeLabel(primary)} is in state ${primary.reportedState}, not primary; wait for a stable state`;
  }
  if (nodes.length === 2) {
    const standby = nodes.find((n) => n !== primary);
    if (standby === undefined) return `cannot fail over: no standby in ${where(work)}`;
    if (standby.goalState !== 'secondary' || !conv(standby, 'secondary')) {
      return `cannot fail over: standby ${nodeLabel(standby)} is in state ${standby.reportedState}/${standby.goalState}, `
        + 'which prevents it from being a failover candidate';
    }
    if (standby.candidatePriority <= 0 && promoted === null) {
      return `cannot fail over: standby ${nodeLabel(standby)} has candidate priority 0`;
    }
    const behind = behindNewerTimeline(nodes, standby);
    if (behind !== null) return `cannot fail over: ${behind}`;
    return { primary, standby };
  }
  if (healthyCandidates(work, primary).length === 0) {
    return `cannot fail over: no healthy secondary with a candidate priority above 0 in ${where(work)}`;
  }
  return { primary, standby: null };
}

function startFailover(work: Work, kind: 'failover' | 'switchover' | 'promotion', primary: WorkNode, standby: WorkNode | null): string {
  const because = kind === 'switchover' ? 'for a user-initiated switchover.' : kind === 'promotion'
    ? 'for a user-initiated promotion.' : 'for a user-initiated failover.';
  if (standby !== null) {
    assign(work, 'F1', [[primary, 'draining'], [standby, 'prepare_promotion']], because);
  } else {
    const lowered = primary.candidatePriority - 101;
    setPriority(work, 'F2', primary, lowered, `Updating candidate priority to ${lowered} for ${nodeLabel(primary)}`);
    assign(work, 'F2', [[primary, 'draining']], because);
  }
  return `${kind} started: ${nodeLabel(primary)} is being demoted`;
}

function failover(work: Work, kind: 'failover' | 'switchover', promoted: WorkNode | null): { done: string } | { refused: Refusal } {
  const check = checkFailover(work, promoted);
  if (typeof check === 'string') return { refused: check };
  return { done: startFailover(work, kind, check.primary, check.standby) };
}

function promotion(work: Work, nodeId: number): { done: string } | { refused: Refusal } {
  const target = findNode(work, nodeId);
  if (target === undefined || target.goalState === 'dropped') return { refused: `cannot promote node ${nodeId}: it is not registered in ${where(work)}` };
  if (conv(target, 'single') || conv(target, 'primary')) return { done: `${nodeLabel(target)} is already the primary` };
  if (!conv(target, 'secondary') && !conv(target, 'report_lsn')) {
    return { refused: `cannot promote ${nodeLabel(target)}: it is in state ${target.reportedState}/${target.goalState}; `
      + 'a promotion needs a node converged in secondary or report_lsn' };
  }
  const basePriority = target.candidatePriority > 100 ? target.candidatePriority - 101 : target.candidatePriority;
  if (basePriority <= 0) return { refused: `cannot promote ${nodeLabel(target)}: its candidate priority is 0` };
  const raise = (): void => {
    if (target.candidatePriority <= 100) {
      const raised = target.candidatePriority + 101;
      setPriority(work, 'F3', target, raised, `Updating candidate priority to ${raised} for ${nodeLabel(target)}`);
    }
  };
  const nodes = group(work);
  // Spec 02 open point: 2.x ends a promotion of a report_lsn node during an
  // election in perform_failover's "couldn't find the primary node" error;
  // here the raised priority makes it win the election in progress.
  if (conv(target, 'report_lsn') && failoverInProgress(nodes) && writableNode(nodes) === null) {
    const chosen = nodes.find((n) => beingPromoted(n));
    if (chosen !== undefined) return { refused: `cannot promote ${nodeLabel(target)}: ${nodeLabel(chosen)} is already being promoted` };
    raise();
    return { done: `${nodeLabel(target)} will win the election in progress` };
  }
  const check = checkFailover(work, target);
  if (typeof check === 'string') return { refused: check };
  if (check.standby !== null && check.standby !== target) return { refused: `cannot promote ${nodeLabel(target)}: it is not the standby` };
  if (check.standby === null) raise();
  return { done: startFailover(work, 'promotion', check.primary, check.standby) };
}

function startMaintenance(work: Work, nodeId: number): { done: string } | { refused: Refusal } {
  const node = findNode(work, nodeId);
  if (node === undefined || node.goalState === 'dropped') return { refused: `node ${nodeId} is not registered in ${where(work)}` };
  if (inMaintenance(node) || node.reportedState === 'maintenance') return { done: `${nodeLabel(node)} is already in maintenance` };
  const isPrimary = conv(node, 'primary');
  const standbyState = (s: string): boolean => s === 'secondary' || s === 'catchingup';
  if (!isPrimary && !(standbyState(node.reportedState) && standbyState(node.goalState))) {
    return { refused: `cannot start maintenance on ${nodeLabel(node)}: it is in state ${node.reportedState}/${node.goalState}, `
      + 'expected primary, secondary or catchingup' };
  }
  const nodes = group(work);
  const primary = writableNode(nodes);
  if (primary === null) return { refused: `cannot start maintenance on ${nodeLabel(node)}: ${where(work)} has no primary` };
  if (isPrimary) {
    const candidates = healthyCandidates(work, node);
    if (candidates.length === 0) {
      return { refused: `Starting maintenance on ${nodeLabel(node)} is not currently possible: no healthy secondary with a candidate priority above 0` };
    }
    if (nodes.length === 2) {
      const standby = candidates[0];
      if (standby === undefined) return { refused: 'no standby' };
      const behind = behindNewerTimeline(nodes, standby);
      if (behind !== null) return { refused: `Starting maintenance on ${nodeLabel(node)} is not currently possible: ${behind}` };
      assign(work, 'M1', [[node, 'prepare_maintenance'], [standby, 'prepare_promotion']], 'for maintenance on the primary.');
    } else {
      assign(work, 'M2', [[node, 'prepare_maintenance']], 'for maintenance on the primary: a standby will be elected.');
    }
    return { done: `maintenance started on ${nodeLabel(node)}: a failover follows` };
  }
  if (!conv(primary, 'primary')) {
    return { refused: `cannot start maintenance on ${nodeLabel(node)}: primary ${nodeLabel(primary)} is in state ${primary.reportedState}, not primary` };
  }
  const syncPartners = nodes.filter((n) => n !== primary && conv(n, 'secondary') && n.replicationQuorum && healthy(work, n));
  if (work.nss === 0 && syncPartners.length === 1 && syncPartners[0] === node) {
    assign(work, 'M3', [[primary, 'wait_primary'], [node, 'wait_maintenance']],
      'for maintenance on the only synchronous standby: the primary stops waiting for it first.');
  } else {
    assign(work, 'M4', [[node, 'maintenance']], 'at the operator\'s request.');
  }
  return { done: `maintenance started on ${nodeLabel(node)}` };
}

function stopMaintenance(work: Work, nodeId: number): { done: string } | { refused: Refusal } {
  const node = findNode(work, nodeId);
  if (node === undefined || node.goalState === 'dropped') return { refused: `node ${nodeId} is not registered in ${where(work)}` };
  const nodes = group(work);
  if (!(conv(node, 'maintenance') || conv(node, 'prepare_maintenance'))) {
    return { refused: `cannot stop maintenance when current state for ${nodeLabel(node)} is not "maintenance"` };
  }
  const p = primaryOrDemoted(nodes.filter((n) => n !== node));
  if (nodes.length === 1 || p === null || failoverInProgress(nodes)) {
    assign(work, 'M6', [[node, 'report_lsn']], 'after maintenance: it reports its LSN to find its role.');
  } else {
    assign(work, 'M5', [[node, 'catchingup']], `after maintenance: it rejoins ${nodeLabel(p)} as a standby.`);
  }
  return { done: `maintenance stopped on ${nodeLabel(node)}` };
}

function remove(work: Work, nodeId: number, force: boolean): { done: string } | { refused: Refusal } {
  const node = findNode(work, nodeId);
  if (node === undefined) return { done: `node ${nodeId} was already removed` };
  if (force || conv(node, 'dropped')) {
    const wasStandby = !isWritableState(node.goalState) && node.goalState !== 'dropped';
    removeRow(work, 'D0', node, `Removing ${nodeLabel(node)} from formation "${work.snapshot.formationId}" and group ${work.snapshot.groupId}`);
    // The primary stops counting on a standby removed by force.
    const w = writableNode(group(work));
    if (wasStandby && w !== null && canApplySettings(w)) {
      assign(work, 'D0', [[w, 'apply_settings']], `to drop ${nodeLabel(node)} from synchronous_standby_names.`);
    }
    return { done: `${nodeLabel(node)} removed` };
  }
  if (node.goalState === 'dropped') return { done: `${nodeLabel(node)} is already being removed` };
  const nodes = group(work);
  const others = nodes.filter((n) => n !== node);
  if (isWritableState(node.goalState)) {
    if (others.some((o) => mayHoldData(o)) && !conv(node, 'primary')) {
      return { refused: `cannot remove ${nodeLabel(node)} now: it is the primary in state ${node.reportedState}/${node.goalState} `
        + 'and may hold the only copy of recent writes; retry when it is primary, or force the removal' };
    }
    // Standbys report their LSN for the election; old primaries join it once converged (election step 2).
    const electors = others.filter((o) => standbyForElection(o) || conv(o, 'demoted'))
      .map((o) => [o, 'report_lsn'] as const);
    assign(work, 'D1', [[node, 'dropped'], ...electors], 'after the primary was removed by the operator.');
  } else {
    if (mayHoldData(node) && (writableNode(nodes) === null || failoverInProgress(nodes))) {
      return { refused: `cannot remove ${nodeLabel(node)} during a failover: it may hold writes the election needs; retry later, or force the removal` };
    }
    const w = writableNode(nodes);
    const before = w?.goalState;
    assign(work, 'D2', [[node, 'dropped']], 'after its removal by the operator.');
    if (w !== null) {
      if (inPrimaryRole(w)) primaryRules(work, w);
      if (w.goalState === before && canApplySettings(w)) {
        assign(work, 'D2', [[w, 'apply_settings']], `to drop ${nodeLabel(node)} from synchronous_standby_names.`);
      }
    }
  }
  adjustNumberSyncStandbys(work);
  return { done: `${nodeLabel(node)} is being removed` };
}

/**
 * The primary can be sent to apply_settings: it is a primary (or moving
 * between primary and wait_primary). A primary not there yet, being
 * promoted for example, fetches synchronous_standby_names when it gets to
 * primary, after the change.
 */
function canApplySettings(w: WorkNode): boolean {
  const there = (s: string): boolean => s === 'primary' || s === 'wait_primary';
  return there(w.goalState) && (there(w.reportedState) || w.reportedState === 'apply_settings');
}

/** spec 01 §6.1 automatic decrease, after a non-forced removal. */
function adjustNumberSyncStandbys(work: Work): void {
  const q = group(work).filter((n) => n.replicationQuorum).length - 1;
  if (q < work.nss + 1) {
    const value = Math.max(q - 1, 0);
    setNumberSyncStandbys(work, value, `Setting number_sync_standbys to ${value} for formation "${work.snapshot.formationId}" `
      + `now that ${Math.max(q, 0)} standby node(s) participate in the replication quorum.`);
  }
}

function settingsChanged(work: Work): { done: string } | { refused: Refusal } {
  const nodes = group(work);
  if (nodes.length < 2) return { done: 'nothing to apply: the group has a single node' };
  const w = writableNode(nodes);
  if (w === null) return { done: 'no primary right now: the next primary applies the new settings' };
  if (canApplySettings(w)) {
    assign(work, 'S1', [[w, 'apply_settings']], 'to apply the new replication settings.');
    return { done: `${nodeLabel(w)} applies the new settings` };
  }
  return { done: `${nodeLabel(w)} will apply the new settings when it reaches primary` };
}

/**
 * The timeline gate (timelines.ts) of a two-node promotion: the standby must
 * be on the newest timeline of the group (after a failover, a standby that
 * joined the new primary may still be on the old timeline for a moment).
 */
function behindNewerTimeline(nodes: readonly WorkNode[], standby: WorkNode): string | null {
  const newer = newerTimelineHolder(nodes, standby.reportedTimeline, standby);
  if (newer === null) return null;
  return `standby ${nodeLabel(standby)} is on timeline ${standby.reportedTimeline}, behind timeline `
    + `${newestPossibleTimeline(newer)} of ${nodeLabel(newer)}; wait for it to catch up`;
}
