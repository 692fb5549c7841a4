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
import { leaseMarginMs } from '../fsm/failsafe.js';

/** Monotonic milliseconds (performance.now() in production). */
export type MonotonicClock = () => number;

/** The length the keeper uses for a monitor lease of `monitorLeaseMs`: 5% (at least 100 ms) shorter. */
export function keeperLeaseMs(monitorLeaseMs: number): number {
  return Math.max(0, monitorLeaseMs - leaseMarginMs(monitorLeaseMs));
}

export class WriteLease {
  private end: number | null = null;
  private lengthMs: number;
  private monitorMs: number;

  constructor(private readonly clock: MonotonicClock, monitorLeaseMs: number) {
    this.monitorMs = monitorLeaseMs;
    this.lengthMs = keeperLeaseMs(monitorLeaseMs);
  }

  /** Changes the lease length for later grants (read from the monitor's settings on connect). */
  setMonitorLeaseMs(monitorLeaseMs: number): void {
    this.monitorMs = monitorLeaseMs;
    this.lengthMs = keeperLeaseMs(monitorLeaseMs);
  }

  /** The monitor's lease length this keeper's lease is derived from (the failsafe's L). */
  get monitorLeaseMs(): number {
    return this.monitorMs;
  }

  get durationMs(): number {
    return this.lengthMs;
  }

  /**
   * Records a grant by a call sent at `sentAt`. An older send time never
   * moves the end back (answers may arrive out of order).
   */
  grant(sentAt: number): void {
    this.extendTo(sentAt + this.lengthMs);
  }

  /** Continues a lease whose end (same clock) was stored by a previous pg_autoctl process. */
  extendTo(end: number): void {
    if (this.end === null || end > this.end) this.end = end;
  }

  /** When the lease ends (monotonic ms), or null when none was granted. */
  expiresAt(): number | null {
    return this.end;
  }

  /** True while the lease runs at `now` (the clock by default). */
  valid(now: number = this.clock()): boolean {
    return this.end !== null && now < this.end;
  }

  /** Milliseconds left, 0 when expired or never granted. */
  remainingMs(now: number = this.clock()): number {
    return this.end === null ? 0 : Math.max(0, this.end - now);
  }
}
