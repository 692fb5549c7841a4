/**
 * The monitor service's Prometheus metrics, served at `/metrics` on its
 * HTTP listener (config `http.port`; docs/integrations.md "Prometheus
 * metrics").
 *
 * Per node: reported and assigned state, health, age of the last report
 * and reported LSN, read from the node table through src/monitor-api on a
 * connection of their own (opened on the first scrape, statement_timeout
 * bounded), at most once a second whatever the number of scrapers. Of the
 * service: whether it holds the leader row, the duration of each group
 * decision, and the failovers it started, counted from the decisions
 * themselves (the rule that assigned the goals and the request it
 * consumed), so they count from this process's start like any Prometheus
 * counter; a hot spare counts nothing until it leads.
 *
 * One prom-client Registry per service (never the global one), shared by
 * the listener's route and the service's instrumentation through the deps
 * object both are given.
 */
import type pg from 'pg';
import { messageOf } from '../common/errors.js';
import type { HttpRoute } from '../common/http-listener.js';
import { Counter, Gauge, Histogram, METRICS_PREFIX, metricsReply, metricsRegistry, type Registry } from '../common/prometheus.js';
import type { Decision } from '../fsm/index.js';
import { nodesForMetrics, type NodeMetricsRow } from '../monitor-api/index.js';
import { connectLocal } from '../postgres/local-client.js';
import type { Brain, GroupOutcome } from './brain.js';
import type { MonitorHttpDeps } from './http-routes.js';

/** Why a failover started, as counted by pg_autoctl_monitor_failovers_total. */
export const FAILOVER_REASONS = [
  'unhealthy_primary', 'perform_failover', 'perform_switchover', 'perform_promotion', 'maintenance', 'primary_removed',
] as const;
export type FailoverReason = (typeof FAILOVER_REASONS)[number];

/**
 * The failovers a decision started, at most one per reason: the primary
 * found unhealthy (rules P5a, R8); an operator's request (F1, F2, by the
 * kind of the request consumed: `perform failover` and `perform
 * switchover` both call perform_failover, a `failover` request;
 * `perform promotion`); maintenance on the primary (M1, M2); the primary
 * removed (D1).
 */
export function failoversIn(decision: Decision): FailoverReason[] {
  const reasons = new Set<FailoverReason>();
  for (const a of decision.assignments) {
    switch (a.rule) {
      case 'P5a':
      case 'R8':
        reasons.add('unhealthy_primary');
        break;
      case 'F1':
      case 'F2': {
        const request = decision.consumedRequests.find((r) => r.outcome === 'done'
          && (r.kind === 'failover' || r.kind === 'switchover' || r.kind === 'promotion'));
        reasons.add(request?.kind === 'switchover' ? 'perform_switchover' : request?.kind === 'promotion' ? 'perform_promotion' : 'perform_failover');
        break;
      }
      case 'M1':
      case 'M2':
        reasons.add('maintenance');
        break;
      case 'D1':
        reasons.add('primary_removed');
        break;
      default:
        break;
    }
  }
  return [...reasons];
}

export interface MonitorMetrics {
  readonly registry: Registry;
  /** 1 while this service holds the leader row, 0 as a hot spare or between sessions. */
  setLeader(leader: boolean): void;
  /** The brain, with each decideGroup timed and its failovers counted. */
  instrumentBrain(brain: Brain): Brain;
  /** The exposition text of one scrape. */
  scrape(): Promise<string>;
  /** Ends the node reads' connection. */
  close(): Promise<void>;
}

export interface NodeReader {
  read(): Promise<NodeMetricsRow[]>;
  close(): Promise<void>;
}

/** Groups beyond this many are still counted, only from their first failover on. */
const MAX_COUNTED_GROUPS = 10_000;
const DECISION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMonitorMetrics(nodes: NodeReader, options: { processMetrics?: boolean; clock?: () => number } = {}): MonitorMetrics {
  const clock = options.clock ?? ((): number => performance.now());
  const registry = metricsRegistry(options);
  const p = `${METRICS_PREFIX}monitor_`;
  const nodeLabels = ['formation', 'group', 'node_id', 'name'] as const;
  const up = new Gauge({ name: `${p}up`, help: '1 when the last read of the node table worked', registers: [registry] });
  const leader = new Gauge({ name: `${p}leader`, help: '1 while this monitor service holds the leader row, 0 as a hot spare', registers: [registry] });
  const nodeState = new Gauge({ name: `${p}node_state`, help: 'Reported and assigned state of each node (value 1)', labelNames: [...nodeLabels, 'reported', 'assigned'], registers: [registry] });
  const converged = new Gauge({ name: `${p}node_converged`, help: '1 when the node reported its assigned state', labelNames: nodeLabels, registers: [registry] });
  const health = new Gauge({ name: `${p}node_health`, help: 'Health check result of each node: 1 good, 0 bad, -1 unknown', labelNames: nodeLabels, registers: [registry] });
  const reportAge = new Gauge({ name: `${p}node_report_age_seconds`, help: 'Seconds since the node\'s keeper last reported (node_active)', labelNames: nodeLabels, registers: [registry] });
  const reportedLsn = new Gauge({ name: `${p}node_reported_lsn_bytes`, help: 'WAL position the node last reported, in bytes', labelNames: nodeLabels, registers: [registry] });
  const decisions = new Histogram({ name: `${p}decision_duration_seconds`, help: 'Duration of each group decision, by outcome (decided, empty, busy, error)', labelNames: ['outcome'], buckets: DECISION_BUCKETS, registers: [registry] });
  const failovers = new Counter({ name: `${p}failovers_total`, help: 'Failovers started by this monitor service, by formation, group and reason', labelNames: ['formation', 'group', 'reason'], registers: [registry] });
  const assignments = new Counter({ name: `${p}goal_assignments_total`, help: 'Goal states assigned by this monitor service, by goal state', labelNames: ['goal'], registers: [registry] });
  for (const outcome of ['decided', 'empty', 'busy', 'error']) decisions.zero({ outcome });

  /** Groups whose failover counters exist: created at 0 so that increase() sees their first failover. */
  const counted = new Set<string>();
  const observe = (formationId: string, groupId: number, startedAt: number, outcome: GroupOutcome | null): void => {
    decisions.observe({ outcome: outcome?.kind ?? 'error' }, (clock() - startedAt) / 1000);
    if (outcome?.kind !== 'decided') return;
    const key = `${formationId}\u0000${groupId}`;
    if (!counted.has(key) && counted.size < MAX_COUNTED_GROUPS) {
      counted.add(key);
      for (const reason of FAILOVER_REASONS) failovers.inc({ formation: formationId, group: String(groupId), reason }, 0);
    }
    for (const reason of failoversIn(outcome.decision)) failovers.inc({ formation: formationId, group: String(groupId), reason });
    for (const a of outcome.decision.assignments) assignments.inc({ goal: a.goalState });
  };

  return {
    registry,
    setLeader: (value) => leader.set(value ? 1 : 0),
    instrumentBrain: (brain) => ({
      ...brain,
      async decideGroup(formationId, groupId) {
        const startedAt = clock();
        let outcome: GroupOutcome | null = null;
        try {
          outcome = await brain.decideGroup(formationId, groupId);
          return outcome;
        } finally {
          observe(formationId, groupId, startedAt, outcome);
        }
      },
    }),
    async scrape() {
      const rows = await nodes.read().catch(() => null);
      // Reset and set in one synchronous step: a concurrent scrape never sees the node series half gone.
      for (const g of [nodeState, converged, health, reportAge, reportedLsn]) g.reset();
      up.set(rows === null ? 0 : 1);
      for (const n of rows ?? []) {
        const labels = { formation: n.formationId, group: String(n.groupId), node_id: n.nodeId, name: n.name };
        nodeState.set({ ...labels, reported: n.reportedState, assigned: n.goalState }, 1);
        converged.set(labels, n.reportedState === n.goalState ? 1 : 0);
        health.set(labels, n.health);
        reportAge.set(labels, n.reportAgeSeconds);
        reportedLsn.set(labels, Number(n.reportedLsn));
      }
      return registry.metrics();
    },
    close: () => nodes.close(),
  };
}

/** Session limits of the metrics connection. */
const METRICS_STATEMENT_TIMEOUT_MS = 1000;
const METRICS_CONNECT_TIMEOUT_MS = 2000;
/** Node rows younger than this are served again: a scrape storm reads the table once a second. */
export const NODE_CACHE_MS = 1000;

/**
 * Reads the node table at most once per `maxAgeMs`, on one lazily opened
 * connection; concurrent reads share one query. A failed read drops the
 * connection (the next read reconnects) and fails every waiting scrape.
 */
export function cachedNodeReader(connect: () => Promise<pg.Client>, log: { debug(message: string): void },
  options: { maxAgeMs: number; clock: () => number }): NodeReader {
  let client: pg.Client | null = null;
  let rows: NodeMetricsRow[] = [];
  let readAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<NodeMetricsRow[]> | null = null;
  let closed = false;
  const drop = (): void => {
    const c = client;
    client = null;
    c?.end().catch(() => undefined);
  };
  const fetch = async (): Promise<NodeMetricsRow[]> => {
    if (client === null) {
      const c = await connect();
      c.on('error', () => { if (client === c) drop(); });
      if (closed) {
        await c.end().catch(() => undefined);
        throw new Error('the metrics are closed');
      }
      client = c;
    }
    return nodesForMetrics(client);
  };
  return {
    read() {
      if (options.clock() - readAt < options.maxAgeMs) return Promise.resolve(rows);
      inFlight ??= fetch().then((r) => {
        rows = r;
        readAt = options.clock();
        return r;
      }, (error: unknown) => {
        log.debug(`Failed to read the nodes for the metrics: ${messageOf(error)}`);
        drop();
        throw error;
      }).finally(() => { inFlight = null; });
      return inFlight;
    },
    async close() {
      closed = true;
      const c = client;
      client = null;
      await c?.end().catch(() => undefined);
    },
  };
}

/** The metrics of one monitor service, by the deps object its listener and its instrumentation share. */
const perService = new WeakMap<MonitorHttpDeps, MonitorMetrics>();

/** The service's metrics (created on first use; closed when deps.signal aborts). */
export function monitorMetrics(deps: MonitorHttpDeps): MonitorMetrics {
  const known = perService.get(deps);
  if (known !== undefined) return known;
  const pgdata = deps.config.postgresql.pgdata;
  const connect = async (): Promise<pg.Client> => {
    const client = await connectLocal(pgdata, 'pg_auto_failover', {
      applicationName: 'pg_auto_failover metrics', connectTimeoutMs: METRICS_CONNECT_TIMEOUT_MS, env: deps.env,
    });
    try {
      await client.query(`SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $1, false)`,
        [`${METRICS_STATEMENT_TIMEOUT_MS}ms`]);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  };
  const created = createMonitorMetrics(cachedNodeReader(connect, deps.log, { maxAgeMs: NODE_CACHE_MS, clock: () => performance.now() }));
  const onAbort = (): void => { void created.close(); };
  const metrics: MonitorMetrics = {
    ...created,
    close: () => {
      deps.signal.removeEventListener('abort', onAbort);
      return created.close();
    },
  };
  perService.set(deps, metrics);
  deps.signal.addEventListener('abort', onAbort, { once: true });
  return metrics;
}

export function monitorMetricsRoutes(deps: MonitorHttpDeps): HttpRoute[] {
  const metrics = monitorMetrics(deps);
  return [{
    path: '/metrics',
    methods: ['GET', 'HEAD'],
    handler: () => metricsReply(metrics.registry, () => metrics.scrape()),
  }];
}
