/**
 * spec 02 §4.2: rules for a primary P in a primary role (inPrimaryRole).
 * A primary whose goal differs from its report gets no decision here.
 */
import { conv } from './node-predicates.js';
import { assign, group, unhealthy, type Work, type WorkNode } from './work.js';

export function primaryRules(work: Work, p: WorkNode): void {
  const others = group(work).filter((n) => n.nodeId !== p.nodeId);

  // Q1: a first standby is waiting for the primary (or already copied it:
  // a goal catchingup assigned for an earlier primary lets a new node copy
  // this one without waiting).
  if (conv(p, 'single')) {
    const joining = others.find((o) => conv(o, 'wait_standby') || conv(o, 'catchingup'));
    if (joining !== undefined) {
      assign(work, 'Q1', [[p, 'wait_primary']], 'to prepare for the standby that joined the group.');
    }
    return;
  }

  if (conv(p, 'primary') || conv(p, 'wait_primary') || conv(p, 'apply_settings')) {
    let secondaries = 0;
    let quorumSecondaries = 0;
    for (const o of others) {
      // Q2s: a standby the primary relies on is lost.
      if (o.goalState === 'secondary' && o.reportedState !== 'report_lsn' && o.reportedState !== 'join_secondary' && unhealthy(work, o)) {
        assign(work, 'Q2s', [[o, 'catchingup']], 'because it is unhealthy: it is no longer a failover candidate.');
        continue;
      }
      if (!conv(o, 'secondary')) continue;
      secondaries += 1;
      if (o.replicationQuorum) quorumSecondaries += 1;
    }
    const quorumConfigured = others.filter((o) => o.replicationQuorum).length;

    if (quorumConfigured === 0) {
      // Q2a: asynchronous standbys only.
      const target = secondaries === 0 ? 'wait_primary' : 'primary';
      assign(work, 'Q2a', [[p, target]], secondaries === 0
        ? 'because no standby is converged secondary (all standbys are asynchronous).'
        : `because ${secondaries} asynchronous standby node(s) are secondary.`);
      return;
    }
    if (!conv(p, 'wait_primary') && quorumSecondaries === 0) {
      // Q2b: no synchronous standby left.
      const target = work.nss === 0 ? 'wait_primary' : 'primary';
      if (p.goalState !== target) {
        assign(work, 'Q2b', [[p, target]], 'because no quorum standby is secondary: writes continue without synchronous replication.');
        return;
      }
    }
    if (conv(p, 'wait_primary') && quorumSecondaries > 0) {
      // Q2c: a synchronous standby is back.
      assign(work, 'Q2c', [[p, 'primary']], `now that ${quorumSecondaries} quorum standby node(s) are secondary.`);
      return;
    }
    if (conv(p, 'apply_settings')) {
      // Q2d: settings refreshed on the way out of apply_settings.
      const target = work.nss === 0 && quorumSecondaries === 0 ? 'wait_primary' : 'primary';
      assign(work, 'Q2d', [[p, target]], 'to apply the new replication settings.');
    }
    return;
  }

  // Q3: the deprecated join_primary state.
  if (conv(p, 'join_primary')) {
    assign(work, 'Q3', [[p, 'primary']], 'because join_primary is no longer used.');
  }
}
