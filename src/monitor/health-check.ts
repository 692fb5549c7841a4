/**
 * Health checks of every registered node (spec 03 §9.2), run by the
 * monitor service: one round every health_check_period, each node probed
 * concurrently with a libpq-like connection as pgautofailover_monitor; a
 * node is good when a connection is fully established, and bad after
 * 1 + health_check_max_retries failed attempts spaced by
 * health_check_retry_delay. Health changes are written through
 * pgautofailover.set_node_health(), which records the event and notifies.
 */
import type { Logger } from '../common/log.js';
import { messageOf } from '../common/errors.js';
import { nodesToCheck, recordNodeHealth, type HealthCheckNodeRow, type MonitorClient } from '../monitor-api/index.js';

export interface HealthSettings {
  periodMs: number;
  timeoutMs: number;
  maxRetries: number;
  retryDelayMs: number;
  enabled: boolean;
}

export const DEFAULT_HEALTH_SETTINGS: HealthSettings = {
  periodMs: 1000, timeoutMs: 1000, maxRetries: 1, retryDelayMs: 500, enabled: true,
};

/** A node to probe; nodeId is exact for any bigint. */
export type NodeToCheck = HealthCheckNodeRow;

/** Attempts one connection; resolves true when fully established within the timeout. */
export type ProbeFn = (node: NodeToCheck, timeoutMs: number) => Promise<boolean>;

const wait = (ms: number, signal: AbortSignal): Promise<void> => new Promise((resolve) => {
  if (signal.aborted) { resolve(); return; }
  const t = setTimeout(() => { signal.removeEventListener('abort', done); resolve(); }, ms);
  function done(): void { clearTimeout(t); resolve(); }
  signal.addEventListener('abort', done, { once: true });
});

/** Probes one node with retries; returns 1 (good) or 0 (bad). */
export async function checkNode(node: NodeToCheck, probe: ProbeFn, settings: HealthSettings, signal: AbortSignal): Promise<0 | 1> {
  for (let attempt = 0; attempt <= settings.maxRetries; attempt++) {
    if (signal.aborted) return node.health === 1 ? 1 : 0;
    if (await probe(node, settings.timeoutMs).catch(() => false)) return 1;
    if (attempt < settings.maxRetries) await wait(settings.retryDelayMs, signal);
  }
  return 0;
}

/** One round over all nodes of the monitor (all formations). */
export async function healthCheckRound(client: MonitorClient, probe: ProbeFn, settings: HealthSettings, signal: AbortSignal, log: Logger): Promise<void> {
  const nodes = await nodesToCheck(client);
  const results = await Promise.all(nodes.map(async (node) => ({ node, health: await checkNode(node, probe, settings, signal) })));
  if (signal.aborted) return;
  for (const { node, health } of results) {
    try {
      await recordNodeHealth(client, node.nodeId, health);
      if (health !== node.health) {
        log.info(`Node ${node.nodeId} "${node.name}" (${node.host}:${node.port}) is marked as ${health === 1 ? 'healthy' : 'unhealthy'} by the monitor`);
      }
    } catch (error) {
      log.warn(`Failed to record the health of node ${node.nodeId}: ${messageOf(error)}`);
    }
  }
}

/** Health-check loop until the signal aborts; rounds start every periodMs. */
export async function runHealthChecks(deps: {
  client: () => MonitorClient;
  probe: ProbeFn;
  settings: () => HealthSettings;
  log: Logger;
}, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    const settings = deps.settings();
    const started = performance.now();
    if (settings.enabled) {
      try {
        await healthCheckRound(deps.client(), deps.probe, settings, signal, deps.log);
      } catch (error) {
        deps.log.warn(`Health check round failed: ${messageOf(error)}`);
      }
    }
    const elapsed = performance.now() - started;
    await wait(Math.max(0, settings.periodMs - elapsed), signal);
  }
}
