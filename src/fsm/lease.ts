/**
 * The write lease (DESIGN.md "Safety argument for fast failover").
 *
 * Rule: the monitor never assigns a writable goal to a node whose goal is
 * not writable yet (it never "opens" a new writer) while another node's
 * write lease may still run. The group's lease record names the node and
 * the time of the last node_active call that returned a writable goal.
 * That lease has provably fallen:
 *   - leaseMs after it was granted (the keeper counts from the send time
 *     of its call, which is earlier, and kills its Postgres at the end), or
 *   - as soon as its holder, whose goal is no longer writable, reported a
 *     fenced state (Postgres stopped or in recovery, see isFencedState) in
 *     a call made after the grant: that call returned a non-writable goal,
 *     so the keeper keeps Postgres fenced from then on.
 * The fall time also bounds the WAL an old primary could have had
 * acknowledged: a node that reports after it reports its final position.
 */
import type { FsmSettings } from './settings.js';
import type { NodeSnapshot, WriteLease } from './snapshot.js';
import { isFencedState, isWritableState } from './states.js';

type LeaseView = Pick<NodeSnapshot, 'nodeId' | 'reportedState' | 'goalState' | 'reportedAt'>;

/** The holder's report proves it fenced itself after the grant. */
export function holderReportedFenced(lease: WriteLease, holder: LeaseView | undefined): boolean {
  return holder !== undefined
    && !isWritableState(holder.goalState)
    && holder.reportedAt !== null
    && holder.reportedAt > lease.grantedAt
    && isFencedState(holder.reportedState);
}

/**
 * The time from which the lease holder can no longer acknowledge a write:
 * -Infinity without a lease, else the earlier of the lease end and the
 * holder's fenced report.
 */
export function writeFenceAt(lease: WriteLease | null, nodes: readonly LeaseView[], settings: FsmSettings): number {
  if (lease === null) return Number.NEGATIVE_INFINITY;
  const end = lease.grantedAt + settings.leaseMs;
  const holder = nodes.find((n) => n.nodeId === lease.nodeId);
  if (holderReportedFenced(lease, holder) && holder !== undefined && holder.reportedAt !== null) {
    return Math.min(end, holder.reportedAt);
  }
  return end;
}

export type OpenWritesCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly holderId: number; readonly until: number };

/** May `nodeId` be given a writable goal now? */
export function checkOpenWrites(
  nodeId: number, lease: WriteLease | null, nodes: readonly LeaseView[], now: number, settings: FsmSettings,
): OpenWritesCheck {
  if (lease === null || lease.nodeId === nodeId) return { ok: true };
  const fence = writeFenceAt(lease, nodes, settings);
  if (now >= fence) return { ok: true };
  return { ok: false, holderId: lease.nodeId, until: fence };
}
