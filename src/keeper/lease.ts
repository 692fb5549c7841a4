/**
 * The primary's write lease (DESIGN.md "Safety argument for fast
 * failover"). A node_active call that returns a writable goal grants the
 * lease; the keeper counts it from the call's SEND time on a monotonic
 * clock, so its lease always ends before the monitor's view of the same
 * grant (the monitor counts from when it handled the call). A slightly
 * shorter length absorbs clock-rate differences between the two hosts.
 *
 * Pure bookkeeping: the clock is passed in; fencing lives in fence.ts.
 */
import type { NodeState } from '../fsm/states.js';

/** Monotonic milliseconds (performance.now() in production). */
export type MonotonicClock = () => number;

/**
 * States in which an expired lease makes the keeper kill its Postgres.
 * `single` is left out on purpose: with no other node in the group the
 * monitor can never open a second writable node (it only promotes a
 * converged secondary), so fencing a single node during a monitor outage
 * would be an outage with nothing to protect.
 */
const LEASED_STATES: ReadonlySet<NodeState> = new Set<NodeState>(['wait_primary', 'primary', 'join_primary', 'apply_settings']);

export function needsWriteLease(state: NodeState): boolean {
  return LEASED_STATES.has(state);
}

/** The length the keeper uses for a monitor lease of `monitorLeaseMs`: 5% (at least 100 ms) shorter. */
export function keeperLeaseMs(monitorLeaseMs: number): number {
  const margin = Math.max(100, Math.floor(monitorLeaseMs / 20));
  return Math.max(0, monitorLeaseMs - margin);
}

export class WriteLease {
  private grantedAt: number | null = null;
  private lengthMs: number;

  constructor(private readonly clock: MonotonicClock, monitorLeaseMs: number) {
    this.lengthMs = keeperLeaseMs(monitorLeaseMs);
  }

  /** Changes the lease length (read from the monitor's settings on connect). */
  setMonitorLeaseMs(monitorLeaseMs: number): void {
    this.lengthMs = keeperLeaseMs(monitorLeaseMs);
  }

  get durationMs(): number {
    return this.lengthMs;
  }

  /**
   * Records a grant by a call sent at `sentAt`. An older send time never
   * moves the lease back (answers may arrive out of order).
   */
  grant(sentAt: number): void {
    if (this.grantedAt === null || sentAt > this.grantedAt) this.grantedAt = sentAt;
  }

  /** When the lease ends (monotonic ms), or null when none was granted. */
  expiresAt(): number | null {
    return this.grantedAt === null ? null : this.grantedAt + this.lengthMs;
  }

  /** True while the lease runs at `now` (the clock by default). */
  valid(now: number = this.clock()): boolean {
    const end = this.expiresAt();
    return end !== null && now < end;
  }

  /** Milliseconds left, 0 when expired or never granted. */
  remainingMs(now: number = this.clock()): number {
    const end = this.expiresAt();
    return end === null ? 0 : Math.max(0, end - now);
  }
}
