/**
 * spec 02 §4.3: rules for a node A that is not in a primary role, P being
 * the group's primary or old primary (may be null). The first rule that
 * matches is applied.
 */
import { election, mostAdvancedStandby } from './election.js';
import { compareWalPositions, formatLsn, walWithin } from './lsn.js';
import { formatBytes, nodeLabel } from './messages.js';
import { conv, convIn, inMaintenance, inPrimaryRole } from './node-predicates.js';
import { primaryRules } from './primary-rules.js';
import { isWritableState } from './states.js';
import { newerTimelineHolder, newestPossibleTimeline } from './timelines.js';
import { assign, assignOpeningWrites, group, healthy, unhealthy, type Work, type WorkNode } from './work.js';

/** Goals of an old primary that a promotion must demote first (R12, R15). */
const isDemotionGoal = (p: WorkNode): boolean => p.goalState === 'draining' || p.goalState === 'demote_timeout';

/**
 * P runs as a primary: its goal is writable and its keeper reached a
 * writable state, or restarts Postgres after its lease fence (reported
 * demote_timeout, Postgres running). 2.x often required P converged, which
 * deadlocks a primary waiting in enable_sync_rep for a standby that waits
 * for the primary to converge.
 */
const primaryRunning = (p: WorkNode): boolean => isWritableState(p.goalState)
  && (isWritableState(p.reportedState) || (p.reportedState === 'demote_timeout' && p.pgIsRunning));

/** No old primary to wait for: none at all, or it is itself a candidate of the election. */
const noOldPrimary = (p: WorkNode | null): boolean =>
  p === null || p.goalState === 'report_lsn' || p.goalState === 'join_secondary';

export function standbyRules(work: Work, a: WorkNode, p: WorkNode | null): void {
  const label = p === null ? '' : nodeLabel(p);

  // R1: a new primary exists; an election participant follows it.
  if (conv(a, 'report_lsn') && p !== null && healthy(work, p) && primaryRunning(p)) {
    assign(work, 'R1', [[a, 'secondary']], `to follow ${label}, the primary.`);
    return;
  }
  // R2: the elected candidate fetched the WAL it missed.
  if (conv(a, 'fast_forward')) {
    const source = mostAdvancedStandby(work.all.filter((n) => !n.removed));
    const newer = newerTimelineHolder(group(work), a.reportedTimeline, a);
    if (a.pgIsRunning && newer !== null) {
      assign(work, 'E1', [[a, 'report_lsn']], `because ${newerTimelineText(newer, a)}: a new election starts.`);
    } else if (a.pgIsRunning && (source === null || compareWalPositions(a, source) >= 0)) {
      assign(work, 'R2', [[a, 'prepare_promotion']], `after it fetched the missing WAL (now at ${formatLsn(a.reportedLsn)}).`);
    } else if (a.pgIsRunning && source !== null) {
      // A node more advanced than its source reported since (an old primary
      // coming back): elect again, so that its WAL is not thrown away.
      assign(work, 'E1', [[a, 'report_lsn']], `because ${nodeLabel(source)} reported more WAL (${formatLsn(source.reportedLsn)}) `
        + 'than it fetched: a new election starts.');
    }
    return;
  }
  // R3: election participants.
  if (conv(a, 'report_lsn')) {
    election(work, a, p);
    return;
  }
  if (p === null) {
    // Only the rules that need no primary can apply.
    noPrimaryRules(work, a);
    return;
  }
  // R4-R6: a new standby may copy the primary, once the primary reported
  // after the standby was told to wait: its keeper then knows the new node
  // (it fetches the group after each report), so the failsafe asks it too
  // (src/fsm/failsafe.ts).
  if (conv(a, 'wait_standby')) {
    // P's next report decides again.
    if (p.reportedAt === null || p.reportedAt <= a.goalChangedAt) return;
    if (conv(p, 'primary') && a.replicationQuorum) {
      assign(work, 'R5', [[a, 'catchingup'], [p, 'apply_settings']], `to add ${nodeLabel(a)} to the primary's synchronous standbys.`);
    } else if (conv(p, 'primary')) {
      assign(work, 'R6', [[a, 'catchingup']], `to copy ${label} as an asynchronous standby.`);
    } else if (primaryRunning(p) && p.goalState !== 'single' && p.reportedState !== 'single') {
      assign(work, 'R4', [[a, 'catchingup']], `after ${label} became ready to serve a base backup.`);
    }
    return;
  }
  // R7: caught up.
  if (conv(a, 'catchingup')) {
    if (convIn(p, ['wait_primary', 'join_primary', 'primary']) && healthy(work, a)
      && a.reportedTimeline === p.reportedTimeline && walWithin(a, p, work.settings.enableSyncWalLogThreshold)) {
      assign(work, 'R7', [[a, 'secondary']], `after it caught up: within ${formatBytes(work.settings.enableSyncWalLogThreshold)} of ${label} on timeline ${p.reportedTimeline}.`);
    }
    return;
  }
  // R8: the failover trigger of a two-node group. Spec 02 open point: it
  // never bypasses the election (more nodes go through P5), and the
  // rules evaluated after an election see its assignments (work.ts).
  // Only from a primary converged in primary: in wait_primary the writes
  // were acknowledged without any standby.
  if (conv(a, 'secondary')) {
    if (group(work).length === 2 && conv(p, 'primary') && unhealthy(work, p) && healthy(work, a)
      && a.candidatePriority > 0 && walWithin(a, p, work.settings.promoteWalLogThreshold)
      && newerTimelineHolder(group(work), a.reportedTimeline, a) === null) {
      assign(work, 'R8', [[p, 'draining'], [a, 'prepare_promotion']], `after ${label} became unhealthy.`);
    }
    return;
  }
  // R9, R10: maintenance once the primary no longer waits for this standby.
  if (conv(a, 'wait_maintenance')) {
    if (conv(p, 'wait_primary')) {
      assign(work, 'R9', [[a, 'maintenance']], `after ${label} stopped relying on it.`);
    } else if (p.goalState !== 'wait_primary') {
      assign(work, 'R10', [[a, 'maintenance']], `because ${label} does not rely on it.`);
    }
    return;
  }
  // R11-R13: the candidate is ready to be promoted.
  if (conv(a, 'prepare_promotion')) {
    if (abandonBehindNewerTimeline(work, a)) return;
    if (conv(p, 'prepare_maintenance')) {
      assign(work, 'R11', [[a, 'stop_replication']], `while ${label} goes to maintenance.`);
    } else if (isDemotionGoal(p) && !inMaintenance(p)) {
      assign(work, 'R12', [[p, 'demote_timeout'], [a, 'stop_replication']], `after ${nodeLabel(a)} converged to prepare_promotion.`);
    } else if (noOldPrimary(p)) {
      assignOpeningWrites(work, 'R13', a, [[a, 'wait_primary']], 'to open it for writes: no other node is primary.');
    }
    return;
  }
  // R14, R15, R15b: open the promoted candidate for writes.
  if (conv(a, 'stop_replication')) {
    if (conv(p, 'prepare_maintenance')) {
      assignOpeningWrites(work, 'R14', a, [[a, 'wait_primary'], [p, 'maintenance']], `after ${label} stopped for maintenance.`);
    } else if (isDemotionGoal(p)) {
      if (conv(p, 'demote_timeout')) {
        assignOpeningWrites(work, 'R15', a, [[a, 'wait_primary'], [p, 'demoted']], `after ${label} confirmed it stopped.`);
      } else {
        assignOpeningWrites(work, 'R15', a, [[a, 'wait_primary'], [p, 'demoted']], `after the write lease of ${label} ran out.`);
      }
    } else if (noOldPrimary(p)) {
      assignOpeningWrites(work, 'R15b', a, [[a, 'wait_primary']], 'to open it for writes: no other node is primary.');
    }
    return;
  }
  // R15c: an old primary left draining or in demote_timeout after another
  // node became the primary (through R13) is done with its demotion.
  if ((conv(a, 'draining') || conv(a, 'demote_timeout')) && p !== a && primaryRunning(p)) {
    assign(work, 'R15c', [[a, 'demoted']], `now that ${label} is the primary.`);
    return;
  }
  // R16, R17: the old primary rejoins.
  if (conv(a, 'demoted')) {
    if (healthy(work, p) && primaryRunning(p)) {
      const rule = p.goalState === p.reportedState ? 'R17' : 'R16';
      assign(work, rule, [[a, 'catchingup']], `to rejoin ${label} as a standby.`);
    }
    return;
  }
  // R18, R19: election participants follow the new primary.
  if (conv(a, 'join_secondary') && primaryRunning(p)) {
    const rule = p.reportedState === 'wait_primary' ? 'R18' : 'R19';
    assign(work, rule, [[a, 'secondary']], `to follow ${label}, the new primary.`);
    if (rule === 'R18' && inPrimaryRole(p)) primaryRules(work, p);
  }
}

/** The rules of §4.3 that apply when the group has no primary at all. */
function noPrimaryRules(work: Work, a: WorkNode): void {
  if (conv(a, 'wait_maintenance')) {
    assign(work, 'R10', [[a, 'maintenance']], 'because there is no primary to wait for.');
  } else if (conv(a, 'prepare_promotion')) {
    if (abandonBehindNewerTimeline(work, a)) return;
    assignOpeningWrites(work, 'R13', a, [[a, 'wait_primary']], 'to open it for writes: no other node is primary.');
  } else if (conv(a, 'stop_replication')) {
    assignOpeningWrites(work, 'R15b', a, [[a, 'wait_primary']], 'to open it for writes: no other node is primary.');
  }
}

function newerTimelineText(newer: WorkNode, a: WorkNode): string {
  return `${nodeLabel(newer)} may hold timeline ${newestPossibleTimeline(newer)}, newer than timeline ${a.reportedTimeline} of ${nodeLabel(a)}`;
}

/**
 * The timeline gate (timelines.ts) before the point of no return: a
 * candidate that is no longer on the newest timeline of the group (a node
 * reported a newer one since its selection) is not promoted; the election
 * starts again, with that node in it.
 */
function abandonBehindNewerTimeline(work: Work, a: WorkNode): boolean {
  const newer = newerTimelineHolder(group(work), a.reportedTimeline, a);
  if (newer === null) return false;
  assign(work, 'E1', [[a, 'report_lsn']], `because ${newerTimelineText(newer, a)}: a new election starts.`);
  return true;
}
