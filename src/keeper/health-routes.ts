/**
 * Load-balancer health endpoints on the keeper's HTTP listener, with
 * Patroni's paths and semantics (issue 12 part 1). Not built yet.
 */
import type { HttpListener } from '../common/http-listener.js';
import type { KeeperRuntime } from './runtime.js';

export function registerHealthRoutes(_rt: KeeperRuntime, _listener: HttpListener): void {
  // Routes are added here.
}
