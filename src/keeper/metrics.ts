/**
 * The keeper's Prometheus metrics on its HTTP listener (issue 12 part 2).
 * Not built yet.
 */
import type { HttpListener } from '../common/http-listener.js';
import type { KeeperRuntime } from './runtime.js';

export function registerKeeperMetrics(_rt: KeeperRuntime, _listener: HttpListener): void {
  // The /metrics route and the event watchers are added here.
}
