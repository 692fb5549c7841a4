/**
 * The monitor service's Prometheus metrics (issue 12 part 2). Not built yet.
 */
import type { HttpRoute } from '../common/http-listener.js';
import type { MonitorHttpDeps } from './http-routes.js';

export function monitorMetricsRoutes(_deps: MonitorHttpDeps): HttpRoute[] {
  return [];
}
