/**
 * The timeline gate. A Postgres timeline number does not name a history:
 * a promoted node numbers its new timeline from its own history (its
 * timeline + 1; pg_auto_failover shares no WAL archive), so two nodes
 * promoted from timeline t both create a timeline t + 1, with different
 * contents. The election compares positions as (timeline, LSN) (spec 02
 * §4.4 step 4), which is only sound while equal numbers mean one history:
 * a node left on the first branch (an abandoned promotion, an old primary
 * cut off, a standby that followed either) can report a larger LSN than
 * the nodes holding the acknowledged writes of the second branch, win the
 * next election, and lose those writes.
 *
 * So a node is promoted only from the newest timeline that any node of the
 * group may hold: the new number is then new to the group, and every
 * number names one history. A node that may hold a newer timeline is
 * waited for (it reports, joins the election, and is the source of the
 * fast-forward), or removed by the operator.
 */
import type { KeeperAction } from './keeper-actions.js';
import { findTransition } from './keeper-transitions.js';
import { mayHoldData } from './node-predicates.js';
import type { NodeSnapshot } from './snapshot.js';

type TimelineView = Pick<NodeSnapshot, 'reportedState' | 'goalState' | 'reportedTimeline' | 'pgIsRunning'>;

const PROMOTING_ACTIONS: ReadonlySet<KeeperAction> = new Set<KeeperAction>(['promote', 'promote_read_only']);

/**
 * The keeper may have promoted Postgres since its last report, whose
 * timeline is then the one before the promotion: a node that reported
 * prepare_promotion (it may have received stop_replication, wait_primary or
 * single, even if its goal was changed back since), one that reported
 * stop_replication with Postgres stopped (a report without Postgres carries
 * no timeline), and one whose goal is reached by a promoting edge.
 */
export function mayHavePromotedSinceReport(n: TimelineView): boolean {
  if (n.reportedState === 'prepare_promotion') return true;
  if (n.reportedState === 'stop_replication' && !n.pgIsRunning) return true;
  const edge = findTransition(n.reportedState, n.goalState);
  return edge !== undefined && PROMOTING_ACTIONS.has(edge.action);
}

/** The newest timeline the node may hold. */
export function newestPossibleTimeline(n: TimelineView): number {
  return n.reportedTimeline + (mayHavePromotedSinceReport(n) ? 1 : 0);
}

/**
 * Among `nodes` (the group: goal not dropped), the node other than `except`
 * that may hold the newest timeline, when that timeline is newer than
 * `timeline`; null when a promotion from `timeline` makes a new number.
 */
export function newerTimelineHolder<T extends TimelineView>(nodes: readonly T[], timeline: number, except?: T): T | null {
  let found: T | null = null;
  for (const n of nodes) {
    if (n === except || !mayHoldData(n)) continue;
    const tli = newestPossibleTimeline(n);
    if (tli > timeline && (found === null || tli > newestPossibleTimeline(found))) found = n;
  }
  return found;
}
