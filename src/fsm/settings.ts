/**
 * Settings of the decision function: the monitor's timing and threshold
 * settings (spec 03 §10) plus the write lease of DESIGN.md's safety
 * argument. All durations in milliseconds, thresholds in bytes.
 */
export interface FsmSettings {
  /** node_considered_unhealthy_timeout: a node failing health checks is unhealthy once its last report is this old. */
  readonly nodeConsideredUnhealthyTimeoutMs: number;
  /** startup_grace_period: no time-based unhealthy verdict this soon after the monitor started. */
  readonly startupGracePeriodMs: number;
  /**
   * primary_demote_timeout. Kept for configuration compatibility only: the
   * decision function waits for the old primary's write lease instead
   * (see leaseMs), which is the condition that actually fences it.
   */
  readonly primaryDemoteTimeoutMs: number;
  /** enable_sync_wal_log_threshold: largest lag for catchingup -> secondary. */
  readonly enableSyncWalLogThreshold: number;
  /** promote_wal_log_threshold: largest distance between the candidate and the lost primary. */
  readonly promoteWalLogThreshold: number;
  /**
   * Length of the primary's write lease. The monitor never opens a new
   * writable node while the lease granted to another node may still run:
   * a lease ends leaseMs after it was granted, or as soon as its holder
   * reported a fenced state after the grant. Keepers must kill their
   * Postgres when their own lease (counted from the send time of the
   * node_active call that granted it) runs out; they should use a slightly
   * shorter value to absorb clock-rate differences. Keep it at most
   * nodeConsideredUnhealthyTimeoutMs, so that the lease never adds waiting
   * to a failover caused by a lost node.
   */
  readonly leaseMs: number;
  /** How recent a keeper report must be to override a failed health check (spec 03 §9.3 "fresh"). */
  readonly freshReportMs: number;
}

export const DEFAULT_FSM_SETTINGS: FsmSettings = {
  nodeConsideredUnhealthyTimeoutMs: 3_000,
  startupGracePeriodMs: 10_000,
  primaryDemoteTimeoutMs: 30_000,
  enableSyncWalLogThreshold: 16 * 1024 * 1024,
  promoteWalLogThreshold: 16 * 1024 * 1024,
  leaseMs: 3_000,
  freshReportMs: 1_000,
};
