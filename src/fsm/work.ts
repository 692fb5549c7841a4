/**
 * The working copy decide() mutates while it evaluates the rules: every
 * rule sees the goals assigned by the rules evaluated before it (the
 * updated snapshot, as spec 02's open points recommend), and every change
 * is recorded for the Decision.
 */
import type { ConsumedRequest, Decision, FsmEvent, GoalAssignment, NodeRemoval, PriorityChange, RequestOutcome } from './decision.js';
import { isHealthy, isReporting, isUnhealthy, type HealthContext } from './health.js';
import { checkOpenWrites, holderReportedFenced, writeFenceAt } from './lease.js';
import { formatDuration, goalText, nodeLabel } from './messages.js';
import type { MonitorRuleId } from './rules.js';
import type { FsmSettings } from './settings.js';
import type { GroupSnapshot, NodeSnapshot, OperatorRequest, WriteLease } from './snapshot.js';
import { isWritableState, type NodeState } from './states.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export interface WorkNode extends Mutable<NodeSnapshot> {
  /** The row was deleted by this decision. */
  removed: boolean;
}

export interface Work extends HealthContext {
  readonly snapshot: GroupSnapshot;
  /** Every row, sorted by node id. */
  readonly all: WorkNode[];
  nss: number;
  readonly lease: WriteLease | null;
  readonly assignments: GoalAssignment[];
  readonly priorityChanges: PriorityChange[];
  readonly removals: NodeRemoval[];
  readonly consumed: ConsumedRequest[];
  readonly events: FsmEvent[];
  readonly logs: string[];
  nssChanged: boolean;
}

export function startWork(snapshot: GroupSnapshot, now: number, settings: FsmSettings): Work {
  const all = snapshot.nodes.map((n): WorkNode => ({ ...n, removed: false })).sort((a, b) => a.nodeId - b.nodeId);
  return {
    snapshot, now, settings, monitorStartedAt: snapshot.monitorStartedAt,
    epochStartedAt: snapshot.epochStartedAt ?? null, all,
    nss: snapshot.numberSyncStandbys, lease: snapshot.writeLease,
    assignments: [], priorityChanges: [], removals: [], consumed: [], events: [], logs: [], nssChanged: false,
  };
}

/** The group: rows not deleted whose goal is not dropped, by node id. */
export function group(work: Work): WorkNode[] {
  return work.all.filter((n) => !n.removed && n.goalState !== 'dropped');
}

export function findNode(work: Work, nodeId: number): WorkNode | undefined {
  return work.all.find((n) => n.nodeId === nodeId && !n.removed);
}

export const healthy = (work: Work, node: WorkNode | null | undefined): boolean => isHealthy(node, work);
export const unhealthy = (work: Work, node: WorkNode | null | undefined): boolean => isUnhealthy(node, work);
export const reporting = (work: Work, node: WorkNode): boolean => isReporting(node, work);

/**
 * Assigns goals as one decision: one event per changed node, all with the
 * same description. Pairs that change nothing are skipped. Returns whether
 * anything changed.
 */
export function assign(work: Work, rule: MonitorRuleId, changes: ReadonlyArray<readonly [WorkNode, NodeState]>, because: string): boolean {
  const real = changes.filter(([node, goal]) => node.goalState !== goal);
  if (real.length === 0) return false;
  const reason = `${goalText(real)} ${because}`;
  for (const [node, goal] of real) {
    work.assignments.push({
      nodeId: node.nodeId, goalState: goal, previousGoalState: node.goalState,
      reportedState: node.reportedState, rule, reason,
    });
    node.goalState = goal;
    node.goalChangedAt = work.now;
    work.events.push({ nodeId: node.nodeId, goalState: goal, description: reason });
  }
  return true;
}

/**
 * Like assign(), for decisions that give `opener` a writable goal it does
 * not have yet: applied only when no other node's write lease may still
 * run (lease.ts); otherwise nothing changes and the wait is logged.
 */
export function assignOpeningWrites(
  work: Work, rule: MonitorRuleId, opener: WorkNode, changes: ReadonlyArray<readonly [WorkNode, NodeState]>, because: string,
): boolean {
  if (!isWritableState(opener.goalState)) {
    const check = checkOpenWrites(opener.nodeId, work.lease, work.all, work.now, work.settings);
    if (!check.ok) {
      const holder = work.all.find((n) => n.nodeId === check.holderId);
      const who = holder === undefined ? `node ${check.holderId}` : nodeLabel(holder);
      log(work, `Waiting ${formatDuration(check.until - work.now)} before opening ${nodeLabel(opener)} for writes: `
        + `the write lease of ${who} may still be running.`);
      return false;
    }
    const holder = unawareLeaseHolder(work, opener);
    if (holder !== null) {
      log(work, `Waiting for ${nodeLabel(holder)} to report before opening ${nodeLabel(opener)} for writes: `
        + `its failsafe may extend its write lease without asking ${nodeLabel(opener)}, which joined after its last report.`);
      return false;
    }
  }
  return assign(work, rule, changes, because);
}

/**
 * The failsafe (failsafe.ts) extends a lease past the monitor's view on
 * the word of the nodes the holder knew at its last report. A node that
 * holds no data yet (reported init or wait_standby) may have joined after
 * that report: opening it for writes (a new instance) would not wait for
 * anything the holder asks. So the holder, unless it reported fenced since
 * its grant or its row is gone, must have reported after the opener's last
 * goal change (which follows its registration).
 */
function unawareLeaseHolder(work: Work, opener: WorkNode): WorkNode | null {
  const lease = work.lease;
  if (lease === null || lease.nodeId === opener.nodeId) return null;
  if (opener.reportedState !== 'init' && opener.reportedState !== 'wait_standby') return null;
  const holder = work.all.find((n) => n.nodeId === lease.nodeId && !n.removed);
  if (holder === undefined || holderReportedFenced(lease, holder)) return null;
  if (holder.reportedAt !== null && holder.reportedAt > opener.goalChangedAt) return null;
  return holder;
}

export function setPriority(work: Work, rule: MonitorRuleId, node: WorkNode, value: number, reason: string): void {
  if (node.candidatePriority === value) return;
  work.priorityChanges.push({ nodeId: node.nodeId, candidatePriority: value, previousPriority: node.candidatePriority, rule, reason });
  node.candidatePriority = value;
  work.events.push({ nodeId: node.nodeId, goalState: node.goalState, description: reason });
}

export function setNumberSyncStandbys(work: Work, value: number, reason: string): void {
  if (work.nss === value) return;
  work.nss = value;
  work.nssChanged = true;
  log(work, reason);
}

export function removeRow(work: Work, rule: MonitorRuleId, node: WorkNode, reason: string): void {
  node.removed = true;
  work.removals.push({ nodeId: node.nodeId, rule, reason });
  log(work, reason);
}

export function consume(work: Work, request: OperatorRequest, outcome: RequestOutcome, message: string): void {
  work.consumed.push({ requestId: request.id, kind: request.kind, outcome, message });
  if (outcome === 'refused') log(work, message);
}

export function log(work: Work, message: string): void {
  work.logs.push(message);
}

/** When the decision may change by time alone: timeouts and lease ends after now. */
function recheckAt(work: Work): number | null {
  let next = Number.POSITIVE_INFINITY;
  const later = (t: number): void => {
    if (t > work.now && t < next) next = t;
  };
  const s = work.settings;
  later(work.monitorStartedAt + s.startupGracePeriodMs);
  if (work.epochStartedAt !== undefined && work.epochStartedAt !== null) {
    later(work.epochStartedAt + s.nodeConsideredUnhealthyTimeoutMs);
    later(work.epochStartedAt + s.startupGracePeriodMs);
  }
  for (const node of work.all) {
    if (node.removed || node.reportedAt === null) continue;
    later(node.reportedAt + s.nodeConsideredUnhealthyTimeoutMs);
    later(node.reportedAt + s.freshReportMs);
  }
  later(writeFenceAt(work.lease, work.all, s));
  return Number.isFinite(next) ? next : null;
}

export function finish(work: Work): Decision {
  return {
    assignments: work.assignments,
    priorityChanges: work.priorityChanges,
    numberSyncStandbys: work.nssChanged ? work.nss : null,
    removals: work.removals,
    consumedRequests: work.consumed,
    events: work.events,
    logs: [...new Set(work.logs)],
    recheckAt: recheckAt(work),
  };
}
