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
}

type HealthView = Pick<NodeSnapshot, 'health' | 'healthCheckedAt' | 'reportedAt' | 'pgIsRunning'>;

/** The keeper reported within node_considered_unhealthy_timeout. */
export function isReporting(node: HealthView, ctx: HealthContext): boolean {
  return node.reportedAt !== null && ctx.now - node.reportedAt < ctx.settings.nodeConsideredUnhealthyTimeoutMs;
}

/**
 * Unhealthy: absent; or Postgres reported down; or silent for the
 * unhealthy timeout while failing health checks made since the monitor
 * started, once the startup grace period is over.
 */
export function isUnhealthy(node: HealthView | null | undefined, ctx: HealthContext): boolean {
  if (node === null || node === undefined) return true;
  if (!node.pgIsRunning) return true;
  const silent = node.reportedAt === null || ctx.now - node.reportedAt >= ctx.settings.nodeConsideredUnhealthyTimeoutMs;
  return silent
    && node.health === 'bad'
    && node.healthCheckedAt !== null
    && node.healthCheckedAt > ctx.monitorStartedAt
    && ctx.now - ctx.monitorStartedAt >= ctx.settings.startupGracePeriodMs;
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
