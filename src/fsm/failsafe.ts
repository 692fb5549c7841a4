/**
 * The failsafe (Patroni's `failsafe_mode`, adapted to the write lease):
 * while node_active fails, a primary may extend its write lease only
 * through a *vouch round*. It asks the keeper of every other node of its
 * group; each says yes only while its walreceiver streams from that very
 * primary and its goal is one of VOUCHING_GOALS. A node that said yes at
 * time y (its monotonic clock) promises not to stop streaming nor be
 * promoted before y + L + m. The primary, when every asked node said yes
 * to a round sent at s (its monotonic clock), extends its lease to
 * s + L - m. L is the lease length and m the clock-rate margin of the
 * lease (leaseMarginMs), so s + L - m < y + L + m for every voucher, also
 * when the two clocks run up to m/L apart.
 *
 * Why "every" and not a majority: the monitor may promote any standby of
 * the group; a standby that did not vouch in the last round is exactly
 * the one the monitor may be promoting now.
 *
 * Why a node the primary never heard of cannot be promoted behind its
 * back: the primary asks the nodes of the list that came with its last
 * successful node_active (both in one SQL statement), and the monitor lets
 * a new standby copy the primary only after the primary reported once
 * since that standby registered (rules R4-R6), so that every standby that
 * can reach `secondary` is on the primary's list; and a node without data
 * is opened for writes as a new instance (P3, P3b) only once the lease
 * holder reported after that node joined (work.ts). (This compares times of
 * the monitor's own clock: it must not step backwards, which NTP's slewing
 * guarantees.)
 *
 * Pure: the clock is passed in.
 */
import type { NodeState } from './states.js';

/** Goals in which a standby may vouch for its primary. */
export const VOUCHING_GOALS = ['secondary', 'catchingup'] as const;
export type VouchingGoal = (typeof VOUCHING_GOALS)[number];

const VOUCHING: ReadonlySet<NodeState> = new Set<NodeState>(VOUCHING_GOALS);

/** Goals a node keeps working towards while its promise runs: it keeps streaming from the old primary there. */
const STREAMING_GOALS: ReadonlySet<NodeState> = new Set<NodeState>([...VOUCHING_GOALS, 'prepare_promotion']);

export function isVouchingGoal(goal: NodeState): boolean {
  return VOUCHING.has(goal);
}

/**
 * The clock-rate margin of a lease of `leaseMs`: 5%, at least 100 ms.
 * The keeper's own lease is this much shorter than the monitor's, and a
 * vouch promise this much longer.
 */
export function leaseMarginMs(leaseMs: number): number {
  return Math.max(100, Math.floor(leaseMs / 20));
}

/** The lease end of a primary whose round sent at `sentAt` got a yes from every asked node. */
export function vouchedLeaseEnd(sentAt: number, leaseMs: number): number {
  return sentAt + Math.max(0, leaseMs - leaseMarginMs(leaseMs));
}

/** Until when a node that said yes at `answeredAt` keeps its promise. */
export function vouchPromiseEnd(answeredAt: number, leaseMs: number): number {
  return answeredAt + leaseMs + leaseMarginMs(leaseMs);
}

/** What a voucher knows about itself when a request arrives. */
export interface VoucherView {
  /** The goal the monitor last assigned to this node. */
  readonly goal: NodeState;
  /** The node this keeper believes is its group's primary (from the monitor), or null. */
  readonly knownPrimaryNodeId: number | null;
  /** Where the walreceiver streams from right now; null when it does not stream. */
  readonly streamingFrom: { readonly host: string; readonly port: number } | null;
  /** Both this node and the requester are in the same formation and group. */
  readonly sameGroup: boolean;
}

/** The requesting primary, as the request names it. */
export interface VouchRequester {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

export type VouchVerdict = { readonly yes: true } | { readonly yes: false; readonly reason: string };

/** Whether this node vouches for `requester` now (the rules at the top of this file). */
export function vouchVerdict(view: VoucherView, requester: VouchRequester): VouchVerdict {
  if (!view.sameGroup) return { yes: false, reason: 'the request comes from another formation or group' };
  if (!isVouchingGoal(view.goal)) return { yes: false, reason: `this node's goal is "${view.goal}"` };
  if (view.knownPrimaryNodeId !== null && view.knownPrimaryNodeId !== requester.nodeId) {
    return { yes: false, reason: `this node follows node ${view.knownPrimaryNodeId}, not node ${requester.nodeId}` };
  }
  const from = view.streamingFrom;
  if (from === null) return { yes: false, reason: 'this node does not stream WAL right now' };
  if (from.port !== requester.port || !sameHost(from.host, requester.host)) {
    return { yes: false, reason: `this node streams from ${from.host}:${from.port}, not from ${requester.host}:${requester.port}` };
  }
  return { yes: true };
}

function sameHost(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** A round succeeds when every asked node said yes. An empty round extends nothing. */
export function roundSucceeded(asked: readonly number[], yes: ReadonlySet<number>): boolean {
  return asked.length > 0 && asked.every((id) => yes.has(id));
}

/**
 * Whether a node whose vouch promise still runs must hold off the
 * transition (current -> goal): everything that stops streaming from the
 * old primary or promotes waits for the promise to end. Staying on the
 * streaming path (secondary, catchingup, prepare_promotion) does not.
 */
export function heldByPromise(goal: NodeState): boolean {
  return !STREAMING_GOALS.has(goal);
}
