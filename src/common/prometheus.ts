/**
 * What the keeper's and the monitor's Prometheus metrics share: the name
 * prefix, the prom-client classes, a registry of their own (never
 * prom-client's global one) with a few Node.js process metrics, and the
 * `/metrics` reply.
 *
 * prom-client's entry module also loads the Pushgateway (node:https), the
 * Summary (tdigest) and every default metric (event-loop and GC
 * observers): about 5 MB of RSS in each pg_autoctl process, for parts we
 * do not use (docs/timings.md "Memory"). So the classes come from their
 * own modules, and the process metrics are a cheap selection.
 */
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';
import { messageOf } from './errors.js';
import type { HttpReply } from './http-listener.js';

const load = createRequire(import.meta.url);

export const Registry = load('prom-client/lib/registry') as typeof Prom.Registry;
export const Counter = load('prom-client/lib/counter') as typeof Prom.Counter;
export const Gauge = load('prom-client/lib/gauge') as typeof Prom.Gauge;
export const Histogram = load('prom-client/lib/histogram') as typeof Prom.Histogram;
export type Registry = Prom.Registry;
export type Gauge = Prom.Gauge;
export type Counter = Prom.Counter;
export type Histogram = Prom.Histogram;

export const METRICS_PREFIX = 'pg_autoctl_';

/** The process metrics kept: CPU, memory, start time, file descriptors, heap, Node.js version (not the event-loop lag: its monitor costs ~1.5 MB). */
const PROCESS_METRICS = [
  'processCpuTotal', 'processStartTime', 'osMemoryHeap', 'processOpenFileDescriptors', 'processMaxFileDescriptors',
  'heapSizeAndUsed', 'version',
] as const;

type MetricInstaller = (registry: Prom.Registry, config: { prefix: string }) => void;

/** A fresh registry, with the process metrics (prefixed) unless `processMetrics` is false. */
export function metricsRegistry(options: { processMetrics?: boolean } = {}): Prom.Registry {
  const registry = new Registry();
  if (options.processMetrics ?? true) {
    for (const name of PROCESS_METRICS) (load(`prom-client/lib/metrics/${name}`) as MetricInstaller)(registry, { prefix: METRICS_PREFIX });
  }
  return registry;
}

/** The exposition as an HTTP reply; a failed scrape answers 500 with the reason. */
export async function metricsReply(registry: Prom.Registry, scrape: () => Promise<string>): Promise<HttpReply> {
  try {
    return { status: 200, headers: { 'content-type': registry.contentType }, body: await scrape() };
  } catch (error) {
    return { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: `metrics failed: ${messageOf(error)}\n` };
  }
}
