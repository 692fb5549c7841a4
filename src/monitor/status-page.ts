/**
 * The monitor's live status page (issue 12 part 4). Not built yet.
 */
import type { HttpRoute } from '../common/http-listener.js';
import type { MonitorHttpDeps } from './http-routes.js';

export function statusPageRoutes(_deps: MonitorHttpDeps): HttpRoute[] {
  return [];
}
