/**
 * The keeper's Prometheus metrics, served at `/metrics` on its HTTP
 * listener (docs/integrations.md "Prometheus metrics").
 *
 * A scrape reads in-memory values only: the runtime's state, the write
 * lease, and counters fed by the keeper's events (events.ts). The one
 * value that needs Postgres, the replication lag of a standby, comes from a
 * cache refreshed on scrape by at most one query at a time, with a
 * statement timeout; a scrape waits a little for a fresh value and else
 * serves the last one, so a slow or hung Postgres never holds it.
 *
 * Each keeper has its own prom-client Registry (never the global one).
 */
import type pg from 'pg';
import { messageOf } from '../common/errors.js';
import type { HttpListener } from '../common/http-listener.js';
import { Counter, Gauge, Histogram, METRICS_PREFIX, metricsReply, metricsRegistry, type Registry } from '../common/prometheus.js';
import { isMonitorDisabled } from '../config/index.js';
import type { NodeState } from '../fsm/states.js';
import type { KeeperEvents } from './events.js';
import { assignedState, currentState, type KeeperRuntime } from './runtime.js';

/** What a scrape reads from the keeper, all in memory. */
export interface KeeperMetricsSource {
  identity(): { formation: string; group: number; nodeId: number; name: string };
  state(): NodeState;
  assigned(): NodeState;
  /** Seconds left on the write lease (0 when expired or never granted). */
  leaseRemainingSeconds(): number;
  postgresUp(): boolean;
  /** False when the last node_active call failed or the monitor is disabled. */
  monitorReachable(): boolean;
}

/** Replication lag of this node as a standby; zero on a primary. */
export interface ReplicationLag {
  bytes: number;
  /** NaN when unknown (no transaction replayed yet). */
  seconds: number;
  /** A WAL receiver is streaming from an upstream (always false on a primary). */
  streaming: boolean;
}

export interface LagCacheOptions {
  /** A value younger than this is served without a query. */
  maxAgeMs: number;
  /** How long a scrape waits for a query it started before serving the last value. */
  waitMs: number;
  /** A query not done by then counts as failed (its connection is left to its own timeouts). */
  timeoutMs: number;
  clock: () => number;
}

export const DEFAULT_LAG_CACHE: Omit<LagCacheOptions, 'clock'> = { maxAgeMs: 1000, waitMs: 250, timeoutMs: 2000 };

/**
 * A cached probe: `read()` returns the last value (null when unknown),
 * after starting one query when the value is stale and waiting for it at
 * most `waitMs`. One query at a time; a failed query makes the value
 * unknown.
 */
export function lagCache(probe: () => Promise<ReplicationLag | null>, options: LagCacheOptions): { read(): Promise<ReplicationLag | null> } {
  let value: ReplicationLag | null = null;
  let readAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<void> | null = null;
  const refresh = (): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the replication lag query timed out')), options.timeoutMs);
    });
    return Promise.race([probe(), deadline])
      .then((v) => { value = v; }, () => { value = null; })
      .finally(() => {
        clearTimeout(timer);
        readAt = options.clock();
        inFlight = null;
      });
  };
  return {
    async read() {
      if (options.clock() - readAt >= options.maxAgeMs) {
        inFlight ??= refresh();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([inFlight, new Promise<void>((resolve) => { timer = setTimeout(resolve, options.waitMs); })]);
        clearTimeout(timer);
      }
      return value;
    },
  };
}

/** Statement timeout of the lag query (ms). */
const LAG_STATEMENT_TIMEOUT_MS = 1000;

/**
 * The lag as the standby knows it: bytes between the end of WAL the
 * upstream last announced (pg_stat_wal_receiver.latest_end_lsn, or what
 * was received) and what was replayed; seconds since the last replayed
 * transaction while WAL waits to be replayed, else 0.
 */
export async function queryReplicationLag(client: pg.ClientBase): Promise<ReplicationLag> {
  await client.query(`SELECT set_config('statement_timeout', $1, false)`, [`${LAG_STATEMENT_TIMEOUT_MS}ms`]);
  const result = await client.query<{ in_recovery: boolean; lag_bytes: number | null; lag_seconds: number | null; streaming: boolean | null }>(`
    SELECT r.in_recovery,
           CASE WHEN r.in_recovery
                THEN greatest(0, pg_wal_lsn_diff(greatest(w.latest_end_lsn, pg_last_wal_receive_lsn()), pg_last_wal_replay_lsn()))
                ELSE 0 END::float8 AS lag_bytes,
           CASE WHEN NOT r.in_recovery THEN 0
                WHEN greatest(w.latest_end_lsn, pg_last_wal_receive_lsn()) <= pg_last_wal_replay_lsn() THEN 0
                ELSE greatest(0, extract(epoch FROM now() - pg_last_xact_replay_timestamp())) END::float8 AS lag_seconds,
           coalesce(w.status = 'streaming', false) AS streaming
      FROM (SELECT pg_is_in_recovery() AS in_recovery) r
      LEFT JOIN pg_stat_wal_receiver w ON true`);
  const row = result.rows[0];
  if (row === undefined) throw new Error('no row from the replication lag query');
  return {
    bytes: row.lag_bytes ?? 0,
    seconds: row.lag_seconds ?? Number.NaN,
    streaming: row.in_recovery && row.streaming === true,
  };
}

export interface KeeperMetrics {
  readonly registry: Registry;
  /** The exposition text of one scrape. */
  scrape(): Promise<string>;
  /** Counts transitions, node_active calls and fencings; returns the unsubscribe. */
  watch(events: KeeperEvents): () => void;
}

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const CALL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Builds the registry over `source`; `lag` reads the (cached) replication lag. */
export function createKeeperMetrics(source: KeeperMetricsSource, lag: () => Promise<ReplicationLag | null>,
  options: { processMetrics?: boolean } = {}): KeeperMetrics {
  const registry = metricsRegistry(options);
  const p = METRICS_PREFIX;
  const info = new Gauge({ name: `${p}node_info`, help: 'This node: formation, group, node id and name (value 1)', labelNames: ['formation', 'group', 'node_id', 'name'], registers: [registry] });
  const state = new Gauge({ name: `${p}node_state`, help: 'Current and assigned state of this node (value 1)', labelNames: ['state', 'assigned'], registers: [registry] });
  const converged = new Gauge({ name: `${p}node_converged`, help: '1 when the current state is the assigned state', registers: [registry] });
  const lease = new Gauge({ name: `${p}node_lease_remaining_seconds`, help: 'Seconds left on the write lease (0 when none runs)', registers: [registry] });
  const lagBytes = new Gauge({ name: `${p}node_replication_lag_bytes`, help: 'Standby: WAL bytes announced by the upstream and not replayed yet (0 on a primary; absent when unknown)', registers: [registry] });
  const lagSeconds = new Gauge({ name: `${p}node_replication_lag_seconds`, help: 'Standby: seconds since the last replayed transaction while WAL waits to be replayed (0 on a primary or when caught up; absent when unknown)', registers: [registry] });
  const streaming = new Gauge({ name: `${p}node_replication_streaming`, help: '1 when a WAL receiver streams from an upstream', registers: [registry] });
  const pgUp = new Gauge({ name: `${p}node_postgres_up`, help: '1 when Postgres runs and accepts connections', registers: [registry] });
  const reachable = new Gauge({ name: `${p}node_monitor_reachable`, help: '1 when the last node_active call got an answer (0 when the monitor is disabled)', registers: [registry] });
  const transitions = new Counter({ name: `${p}node_transitions_total`, help: 'Transitions done, by from and to state', labelNames: ['from', 'to'], registers: [registry] });
  const transitionErrors = new Counter({ name: `${p}node_transition_errors_total`, help: 'Transitions that failed (they are retried), by from and to state', labelNames: ['from', 'to'], registers: [registry] });
  const transitionSeconds = new Histogram({ name: `${p}node_transition_duration_seconds`, help: 'Duration of the transitions done, by from and to state', labelNames: ['from', 'to'], buckets: SECONDS_BUCKETS, registers: [registry] });
  const nodeActive = new Histogram({ name: `${p}node_active_duration_seconds`, help: 'Round trip of the node_active calls to the monitor, by result (ok, error)', labelNames: ['result'], buckets: CALL_BUCKETS, registers: [registry] });
  const fencings = new Counter({ name: `${p}node_fencings_total`, help: 'Times this keeper stopped Postgres because its write lease ran out', registers: [registry] });
  for (const result of ['ok', 'error']) nodeActive.zero({ result });

  /** An unknown value is no sample at all (the series goes stale), rather than a NaN or a made-up 0. */
  const setOrDrop = (gauge: Gauge, name: string, value: number | undefined): void => {
    if (value === undefined || Number.isNaN(value)) {
      registry.removeSingleMetric(name);
      return;
    }
    if (registry.getSingleMetric(name) === undefined) registry.registerMetric(gauge);
    gauge.set(value);
  };

  const refresh = async (): Promise<void> => {
    const up = source.postgresUp();
    const l = up ? await lag() : null;
    // Then everything in one synchronous step: a concurrent scrape never sees a series reset and not yet set.
    const id = source.identity();
    info.reset();
    info.set({ formation: id.formation, group: String(id.group), node_id: String(id.nodeId), name: id.name }, 1);
    const current = source.state();
    const goal = source.assigned();
    state.reset();
    state.set({ state: current, assigned: goal }, 1);
    converged.set(current === goal ? 1 : 0);
    lease.set(source.leaseRemainingSeconds());
    pgUp.set(up ? 1 : 0);
    reachable.set(source.monitorReachable() ? 1 : 0);
    setOrDrop(lagBytes, `${p}node_replication_lag_bytes`, l?.bytes);
    setOrDrop(lagSeconds, `${p}node_replication_lag_seconds`, l?.seconds);
    streaming.set(l?.streaming === true ? 1 : 0);
  };

  return {
    registry,
    async scrape() {
      await refresh();
      return registry.metrics();
    },
    watch(events) {
      const onEnd = (e: { from: NodeState; to: NodeState; ms: number; ok: boolean }): void => {
        const labels = { from: e.from, to: e.to };
        if (e.ok) {
          transitions.inc(labels);
          transitionSeconds.observe(labels, e.ms / 1000);
        } else {
          transitionErrors.inc(labels);
        }
      };
      const onActive = (e: { ms: number; ok: boolean }): void => nodeActive.observe({ result: e.ok ? 'ok' : 'error' }, e.ms / 1000);
      const onFenced = (): void => fencings.inc();
      events.on('transition-end', onEnd);
      events.on('node-active', onActive);
      events.on('fenced', onFenced);
      return () => {
        events.off('transition-end', onEnd);
        events.off('node-active', onActive);
        events.off('fenced', onFenced);
      };
    },
  };
}

/** The source of a running keeper. */
export function runtimeSource(rt: KeeperRuntime): KeeperMetricsSource {
  return {
    identity: () => ({
      formation: rt.config.pg_autoctl.formation,
      group: rt.state.currentGroup,
      nodeId: rt.state.currentNodeId,
      name: rt.config.pg_autoctl.name,
    }),
    state: () => currentState(rt),
    assigned: () => assignedState(rt),
    leaseRemainingSeconds: () => rt.lease.remainingMs() / 1000,
    postgresUp: () => rt.local.isReady(),
    monitorReachable: () => !isMonitorDisabled(rt.config) && !rt.monitorUnreachable,
  };
}

/** `/metrics` on the keeper's listener, and the event watchers for the life of the service. */
export function registerKeeperMetrics(rt: KeeperRuntime, listener: HttpListener): void {
  const probe = (): Promise<ReplicationLag> => rt.local.withClient((client) => queryReplicationLag(client)).catch((error: unknown) => {
    rt.log.debug(`Failed to read the replication lag for the metrics: ${messageOf(error)}`);
    throw error;
  });
  const cache = lagCache(probe, {
    ...DEFAULT_LAG_CACHE, clock: () => performance.now(),
  });
  const metrics = createKeeperMetrics(runtimeSource(rt), () => cache.read());
  const unwatch = metrics.watch(rt.events);
  rt.events.once('stopping', unwatch);
  listener.route({
    path: '/metrics',
    methods: ['GET', 'HEAD'],
    handler: () => metricsReply(metrics.registry, () => metrics.scrape()),
  });
}
