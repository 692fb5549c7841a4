/**
 * spec 02 §4.4: the election of a new primary among several standbys.
 * Returns 'progress' when the caller must stop, 'none' to go on with the
 * rules of §4.3.
 *
 * Data safety: every write the old primary acknowledged under synchronous
 * replication is on at least one quorum standby (ANY n of them). So the
 * election only concludes when every quorum standby's final position is
 * known: a report_lsn candidate (frozen WAL), or another quorum node that
 * reported after the old primary's write lease fell (lease.ts), unless the
 * old primary itself reported its frozen position as a candidate. The node
 * promoted must hold the most advanced of those positions, directly or
 * after fast_forward from a candidate.
 */
import { holderReportedFenced, writeFenceAt } from './lease.js';
import { compareWalPositions, formatLsn, walWithin } from './lsn.js';
import { formatBytes, listNodes, nodeLabel } from './messages.js';
import { beingDemoted, beingPromoted, conv, demotedPrimary, inMaintenance, inPrimaryRole, mayHoldData, readyToStreamWal, writableNode } from './node-predicates.js';
import type { NodeSnapshot } from './snapshot.js';
import { isPrimaryishState, type NodeState } from './states.js';
import { newerTimelineHolder, newestPossibleTimeline } from './timelines.js';
import { assign, group, healthy, log, reporting, setPriority, unhealthy, type Work, type WorkNode } from './work.js';

export type ElectionResult = 'progress' | 'none';

/** Step 6: A follows the candidate C once C stopped following the old primary. */
function follow(work: Work, a: WorkNode, c: WorkNode): ElectionResult {
  if (conv(a, 'report_lsn') && readyToStreamWal(c)) {
    assign(work, 'E6', [[a, 'join_secondary']], `to follow ${nodeLabel(c)}, the new primary being promoted.`);
    return 'progress';
  }
  return 'none';
}

const PROMOTION_GOALS: ReadonlySet<NodeState> = new Set<NodeState>(['fast_forward', 'prepare_promotion', 'stop_replication']);

/** Reported states from which a keeper reaches report_lsn (keeper table). */
const CAN_REPORT_LSN_FROM: ReadonlySet<NodeState> = new Set<NodeState>([
  'secondary', 'catchingup', 'report_lsn', 'join_secondary', 'maintenance', 'prepare_maintenance', 'demoted',
]);

/** A standby that can be asked for report_lsn: goal secondary, catchingup or join_secondary, and a keeper that can get there. */
export function standbyForElection(n: Pick<NodeSnapshot, 'reportedState' | 'goalState'>): boolean {
  return (n.goalState === 'secondary' || n.goalState === 'catchingup' || n.goalState === 'join_secondary')
    && CAN_REPORT_LSN_FROM.has(n.reportedState);
}

/** A node whose position counts, frozen or final, for the most advanced position. */
interface Known { readonly node: WorkNode; readonly candidate: boolean }

export function election(work: Work, a: WorkNode, p: WorkNode | null): ElectionResult {
  const nodes = group(work);

  // Step 1: an ongoing promotion keeps its candidate (also one chosen by
  // R8, F1 or M1 that has not reported yet).
  const c = nodes.find((n) => beingPromoted(n) || PROMOTION_GOALS.has(n.goalState));
  if (c !== undefined) {
    if (c === a) return follow(work, a, a);
    const kept = c.reportedState === 'report_lsn' || c.reportedState === 'prepare_promotion'
      || c.reportedState === 'stop_replication' || healthy(work, c);
    if (kept) return follow(work, a, c);
    assign(work, 'E1', [[c, 'report_lsn']], 'because it became unhealthy while fetching WAL: a new election starts.');
  }
  // Never a new election while a node holds a writable goal: it is, or is
  // about to be, the primary.
  if (writableNode(nodes) !== null) return 'none';

  // Step 2: candidates, missing nodes, and nodes asked for their LSN.
  const fenceAt = writeFenceAt(work.lease, work.all, work.settings);
  const candidates: WorkNode[] = [];
  const known: Known[] = [];
  const missing: WorkNode[] = [];
  // Quorum nodes outside the election, missing only because they may hold
  // writes acknowledged by them alone (see `holderBound` below).
  const outside: WorkNode[] = [];
  for (const n of nodes) {
    // An old primary converged in draining, demote_timeout (its promotion
    // abandoned: 2.x left it there for ever) or demoted joins the election.
    const stoppedOldPrimary = conv(n, 'draining') || conv(n, 'demote_timeout') || conv(n, 'demoted');
    const oldPrimarySide = inPrimaryRole(n) || beingDemoted(n) || demotedPrimary(n);
    if (oldPrimarySide && !stoppedOldPrimary) continue;
    // The old primary, the lease holder, sent to maintenance with a failover
    // (prepare_maintenance, then maintenance with Postgres stopped): as a
    // dead old primary, not waited for. The failover started from a primary
    // converged in primary, so every write it acknowledged is on quorum
    // standbys of its applied synchronous_standby_names, whose positions the
    // rules below require.
    if (n.nodeId === work.lease?.nodeId && inMaintenance(n)) continue;
    // Spec 02 open point: a dead quorum standby in maintenance blocks the
    // election, in 2.x as here. Kept on purpose: it may hold writes that
    // were acknowledged by it alone.
    if (unhealthy(work, n) && !reporting(work, n)) {
      if (conv(n, 'report_lsn') && n.pgIsRunning) known.push({ node: n, candidate: false });
      else if (n.replicationQuorum && mayHoldData(n) && !isPrimaryishState(n.reportedState)) outside.push(n);
      continue;
    }
    if (conv(n, 'report_lsn')) {
      if (n.pgIsRunning) {
        candidates.push(n);
        known.push({ node: n, candidate: true });
      } else if (n.replicationQuorum) {
        missing.push(n);
      }
      continue;
    }
    if (n.goalState === 'report_lsn') {
      missing.push(n);
      continue;
    }
    // Standbys (goal secondary, catchingup or join_secondary, wherever their
    // keeper stands) and stopped old primaries.
    if (standbyForElection(n) || stoppedOldPrimary) {
      assign(work, 'E2', [[n, 'report_lsn']], 'to report its LSN for the election of a new primary.');
      missing.push(n);
      continue;
    }
    // Any other quorum node may have acknowledged writes (it is listed in
    // synchronous_standby_names whatever its state): its position must be
    // final, reported after the old primary's lease fell.
    if (!n.replicationQuorum || isPrimaryishState(n.reportedState) || !mayHoldData(n)) continue;
    const reportedAfterFence = n.reportedAt !== null && n.reportedAt > fenceAt;
    if (n.reportedState === 'init' || n.reportedState === 'wait_standby') {
      if (!reportedAfterFence) outside.push(n);
    } else if (reportedAfterFence && n.pgIsRunning) {
      known.push({ node: n, candidate: false });
    } else {
      outside.push(n);
    }
  }
  // The old primary itself, the lease holder, reported its frozen position
  // as a live report_lsn candidate after it fenced itself: no standby can
  // hold WAL it did not write, so that position bounds every write ever
  // acknowledged, and the nodes outside the election need not be waited
  // for (as 2.x, which never waits for them). Without that report (the old
  // primary is dead), they still count as missing. This rests on the lease
  // record naming the last writer: the grant of a removed node is kept by
  // the store (group_state, migration 0010), so a restarted monitor cannot
  // take an older holder for it (the model checker's seeds 2031 and 203918
  // lost a write that way before).
  const holder = work.lease === null ? undefined : candidates.find((n) => n.nodeId === work.lease?.nodeId);
  const holderBound = holder !== undefined && work.lease !== null && holderReportedFenced(work.lease, holder);
  if (!holderBound) missing.push(...outside);

  // Step 3: gates.
  if (missing.length > 0) {
    log(work, `Failover still in progress: waiting for ${listNodes(missing)} to report a current LSN.`);
    return 'none';
  }
  if (candidates.length === 0) {
    log(work, 'Failover still in progress: no candidate has reported its LSN yet.');
    return 'none';
  }
  // number_sync_standbys + 1 quorum candidates, or every quorum node holding
  // data when there are fewer: waiting for more could never end, and the
  // coverage above already makes the promotion safe.
  const quorumCandidates = candidates.filter((n) => n.replicationQuorum || work.nss === 0).length;
  const quorumHolders = quorumCandidates + known.filter((k) => !k.candidate && k.node.replicationQuorum).length;
  const needed = Math.min(work.nss + 1, quorumHolders);
  if (quorumCandidates < needed) {
    log(work, `Failover still in progress: ${quorumCandidates} quorum candidate(s) reported, `
      + `number_sync_standbys ${work.nss} needs ${needed}.`);
    return 'none';
  }

  // Step 4: the most advanced position.
  let best: Known | undefined;
  for (const k of known) {
    if (best === undefined || compareWalPositions(k.node, best.node) > 0) best = k;
  }
  if (best === undefined) return 'none';
  const top = best.node;
  log(work, `The current most advanced reported LSN is ${formatLsn(top.reportedLsn)} (timeline ${top.reportedTimeline}), `
    + `reported by ${nodeLabel(top)}.`);

  // Timeline gate (timelines.ts): the promotion starts from the most
  // advanced position, so it must be on the newest timeline any node of
  // the group may hold, or the new timeline's number is already used.
  const newer = newerTimelineHolder(nodes, top.reportedTimeline);
  if (newer !== null) {
    log(work, `Failover still in progress: ${nodeLabel(newer)} may hold timeline ${newestPossibleTimeline(newer)}, newer than `
      + `timeline ${top.reportedTimeline} of the most advanced reported position; waiting for it to take part in the election, or for its removal.`);
    return 'none';
  }

  // Step 5: selection.
  if (p !== null && !walWithin(top, p, work.settings.promoteWalLogThreshold)) {
    log(work, `Failover still in progress: the most advanced standby is more than `
      + `${formatBytes(work.settings.promoteWalLogThreshold)} behind ${nodeLabel(p)}; waiting for it to return.`);
    return 'none';
  }
  let selected = select(work, candidates);
  if (selected === null && group(work).some((n) => n.candidatePriority < 0 || n.candidatePriority > 100)) {
    // The -101 shift of perform_failover makes the old primary lose to the
    // others, not ineligible: with nobody else to promote, undo it.
    restorePriorities(work);
    selected = select(work, candidates);
  }
  if (selected === null) {
    log(work, 'Failover still in progress: no healthy candidate with a candidate priority above 0.');
    return 'none';
  }
  const behind = compareWalPositions(selected, top) < 0;
  if (behind && !known.some((k) => k.candidate && compareWalPositions(k.node, top) === 0 && healthy(work, k.node))) {
    log(work, `Failover still in progress: ${nodeLabel(top)} holds the most advanced WAL but cannot serve it to ${nodeLabel(selected)}.`);
    return 'none';
  }
  restorePriorities(work);
  if (behind) {
    assign(work, 'E5', [[selected, 'fast_forward']], `to fetch the WAL it misses up to ${formatLsn(top.reportedLsn)} before its promotion.`);
  } else {
    assign(work, 'E5', [[selected, 'prepare_promotion']], 'to promote it: it has the highest candidate priority and the most advanced WAL.');
  }
  return 'progress';
}

/**
 * Candidates with priority > 0 by priority (descending): the first healthy
 * one, replaced by a later one of the same priority with a more advanced
 * position; stop at the first lower priority.
 */
function select(work: Work, candidates: readonly WorkNode[]): WorkNode | null {
  const ordered = candidates.filter((n) => n.candidatePriority > 0)
    .sort((x, y) => y.candidatePriority - x.candidatePriority || x.nodeId - y.nodeId);
  let selected: WorkNode | null = null;
  for (const n of ordered) {
    if (!healthy(work, n)) continue;
    if (selected === null) selected = n;
    else if (n.candidatePriority < selected.candidatePriority) break;
    else if (compareWalPositions(n, selected) > 0) selected = n;
  }
  return selected;
}

/** Undo the ±101 shifts of perform_failover / perform_promotion on every node of the group. */
function restorePriorities(work: Work): void {
  for (const n of group(work)) {
    const p = n.candidatePriority;
    const restored = p > 100 ? p - 101 : p < 0 ? p + 101 : p;
    if (restored !== p) setPriority(work, 'E5p', n, restored, `Updating candidate priority back to ${restored} for ${nodeLabel(n)}`);
  }
}

/**
 * The WAL source for fast_forward (get_most_advanced_standby): the node
 * converged in report_lsn with the most advanced (timeline, LSN), ties
 * broken by health then node id.
 */
export function mostAdvancedStandby<T extends NodeSnapshot>(nodes: readonly T[]): T | null {
  const rank = (n: T): number => (n.health === 'good' ? 2 : n.health === 'unknown' ? 1 : 0);
  let best: T | null = null;
  for (const n of [...nodes].sort((x, y) => x.nodeId - y.nodeId)) {
    if (!conv(n, 'report_lsn') || n.goalState === 'dropped') continue;
    if (best === null) { best = n; continue; }
    const cmp = compareWalPositions(n, best);
    if (cmp > 0 || (cmp === 0 && rank(n) > rank(best))) best = n;
  }
  return best;
}
