/**
 * What the keeper's and the monitor's Prometheus metrics share: the name
 * prefix, a registry of their own (never prom-client's global one) with
 * the Node.js process metrics, and the `/metrics` reply.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import { messageOf } from './errors.js';
import type { HttpReply } from './http-listener.js';

export const METRICS_PREFIX = 'pg_autoctl_';

/**
 * prom-client's process metrics that are gauges named like counters
 * (`_total`); the same counts exist by type without the suffix.
 */
const GAUGES_NAMED_TOTAL = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** A fresh registry, with the process metrics (prefixed) unless `processMetrics` is false. */
export function metricsRegistry(options: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.processMetrics ?? true) {
    collectDefaultMetrics({ register: registry, prefix: METRICS_PREFIX });
    for (const name of GAUGES_NAMED_TOTAL) registry.removeSingleMetric(`${METRICS_PREFIX}${name}`);
  }
  return registry;
}

/** The exposition as an HTTP reply; a failed scrape answers 500 with the reason. */
export async function metricsReply(registry: Registry, scrape: () => Promise<string>): Promise<HttpReply> {
  try {
    return { status: 200, headers: { 'content-type': registry.contentType }, body: await scrape() };
  } catch (error) {
    return { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: `metrics failed: ${messageOf(error)}\n` };
  }
}
