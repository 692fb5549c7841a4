/**
 * The monitor service's HTTP listener (config `http.port`, `create
 * monitor --http-port`; off by default): Prometheus metrics and the live
 * status page. It runs beside the decision loop for the life of the
 * service, hot spare included, and reads the monitor database through
 * its own connections, so a slow HTTP client never holds a decision.
 *
 * Loopback only unless TLS and client authentication are configured
 * (status-page/security.ts): the listener refuses to start otherwise.
 */
import { messageOf } from '../common/errors.js';
import { HttpListener } from '../common/http-listener.js';
import type { Logger } from '../common/log.js';
import type { MonitorConfig } from '../config/index.js';
import { monitorMetricsRoutes } from './metrics.js';
import { statusPageRoutes } from './status-page.js';
import { httpSecurity } from './status-page/security.js';

export interface MonitorHttpDeps {
  readonly config: MonitorConfig;
  readonly log: Logger;
  readonly env: NodeJS.ProcessEnv;
  /** Aborted when the service stops. */
  readonly signal: AbortSignal;
}

/** Starts the listener when `http.port` is set; null when off or when it could not start (logged). */
export async function startMonitorHttp(deps: MonitorHttpDeps): Promise<HttpListener | null> {
  const { port, listen } = deps.config.http;
  if (port === 0) return null;
  const security = httpSecurity(deps.config.http);
  if (!security.ok) {
    deps.log.error(security.error);
    return null;
  }
  const listener = new HttpListener(deps.log, security.options);
  for (const route of [...monitorMetricsRoutes(deps), ...statusPageRoutes(deps)]) listener.route(route);
  const host = listen === '*' ? undefined : listen;
  try {
    await listener.listen(port, host);
    deps.log.info(`HTTP listener on ${listen}:${port} (${security.scheme}, ${security.auth})`);
    return listener;
  } catch (error) {
    deps.log.error(`Failed to start the HTTP listener on ${listen}:${port}: ${messageOf(error)}`);
    return null;
  }
}
