/**
 * The health predicates the rules use (spec 03 §9.3), with the recommended
 * post-2.2 semantics: the reporting node's fresh values are used, a report
 * made after a failed health check counts when it is fresh (younger than
 * freshReportMs), and a node never checked yet ('unknown') is judged by
 * its own report. healthy() and unhealthy() are not complements: a node
 * can be neither (for example, checked bad but still reporting).
 */
import type { FsmSettings } from './settings.js';
import type { NodeSnapshot } from './snapshot.js';

export interface HealthContext {
  readonly now: number;
  readonly settings: FsmSettings;
  readonly monitorStartedAt: number;
  /**
   * When the current monitor epoch started (monotonic), when known: after
   * a promotion of a standby monitor, silence and failed health checks
   * count from there, so that keepers whose reports paused during the
   * switch are not failed over.
   */
  readonly epochStartedAt?: number | null;
}

type HealthView = Pick<NodeSnapshot, 'health' | 'healthCheckedAt' | 'reportedAt' | 'pgIsRunning'>;

/**
 * Since when health checks are trusted: the monitor's start, or the epoch
 * start when later (a promoted monitor's brain starts afresh: the health
 * column it inherited was written by the old monitor).
 */
function trustedSince(ctx: HealthContext): number {
  return Math.max(ctx.monitorStartedAt, ctx.epochStartedAt ?? Number.NEGATIVE_INFINITY);
}

/**
 * Since when the node counts as silent: its last report, but never before
 * the epoch start (a new brain gives every node a full
 * node_considered_unhealthy_timeout to find it); null when the keeper
 * never reported and no epoch start is known.
 */
export function silentSince(node: Pick<HealthView, 'reportedAt'>, ctx: HealthContext): number | null {
  const start = ctx.epochStartedAt ?? null;
  if (node.reportedAt === null) return start;
  return start === null ? node.reportedAt : Math.max(node.reportedAt, start);
}

/** The keeper reported within node_considered_unhealthy_timeout (counted from the epoch start at the earliest). */
export function isReporting(node: HealthView, ctx: HealthContext): boolean {
  const since = silentSince(node, ctx);
  return since !== null && ctx.now - since < ctx.settings.nodeConsideredUnhealthyTimeoutMs;
}

/**
 * Unhealthy: absent; or Postgres reported down; or silent for the
 * unhealthy timeout while failing health checks made since the monitor
 * started, once the startup grace period is over. After a promotion of the
 * monitor, silence, health checks and the startup grace period count from
 * the epoch start at the earliest.
 */
export function isUnhealthy(node: HealthView | null | undefined, ctx: HealthContext): boolean {
  if (node === null || node === undefined) return true;
  if (!node.pgIsRunning) return true;
  const since = silentSince(node, ctx);
  const silent = since === null || ctx.now - since >= ctx.settings.nodeConsideredUnhealthyTimeoutMs;
  return silent
    && node.health === 'bad'
    && node.healthCheckedAt !== null
    && node.healthCheckedAt > trustedSince(ctx)
    && ctx.now - trustedSince(ctx) >= ctx.settings.startupGracePeriodMs;
}

/** Healthy: Postgres reported running, and either checked good, never checked, or reported freshly after a failed check. */
export function isHealthy(node: HealthView | null | undefined, ctx: HealthContext): boolean {
  if (node === null || node === undefined) return false;
  switch (node.health) {
    case 'good':
    case 'unknown':
      return node.pgIsRunning;
    case 'bad':
      return node.pgIsRunning
        && node.reportedAt !== null
        && node.healthCheckedAt !== null
        && node.reportedAt > node.healthCheckedAt
        && ctx.now - node.reportedAt < ctx.settings.freshReportMs;
  }
}
