/**
 * The keeper's metrics over a fake source and the real event emitter:
 * names, labels and values of a scrape, the counters fed by events, the
 * replication lag cache (never more than one query, never a long wait),
 * and the exposition accepted by `promtool check metrics`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { register as globalRegistry } from 'prom-client';
import type { NodeState } from '../../../src/fsm/states.js';
import { createKeeperEvents } from '../../../src/keeper/events.js';
import {
  createKeeperMetrics, lagCache, type KeeperMetricsSource, type ReplicationLag,
} from '../../../src/keeper/metrics.js';
import { HAS_PROMTOOL, parseExposition, promtool, samplesOf, valueOf } from '../../helpers/exposition.js';

function fakeSource(values: { state?: NodeState; assigned?: NodeState; lease?: number; pgUp?: boolean; reachable?: boolean } = {}) {
  const v = { state: 'secondary' as NodeState, assigned: 'secondary' as NodeState, lease: 0, pgUp: true, reachable: true, ...values };
  const source: KeeperMetricsSource = {
    identity: () => ({ formation: 'default', group: 0, nodeId: 2, name: 'node2' }),
    state: () => v.state,
    assigned: () => v.assigned,
    leaseRemainingSeconds: () => v.lease,
    postgresUp: () => v.pgUp,
    monitorReachable: () => v.reachable,
  };
  return { source, v };
}

const KEEPER_NAMES = [
  'pg_autoctl_node_info', 'pg_autoctl_node_state', 'pg_autoctl_node_converged', 'pg_autoctl_node_lease_remaining_seconds',
  'pg_autoctl_node_replication_lag_bytes', 'pg_autoctl_node_replication_lag_seconds', 'pg_autoctl_node_replication_streaming',
  'pg_autoctl_node_postgres_up', 'pg_autoctl_node_monitor_reachable', 'pg_autoctl_node_transitions_total',
  'pg_autoctl_node_transition_errors_total', 'pg_autoctl_node_transition_duration_seconds', 'pg_autoctl_node_active_duration_seconds',
  'pg_autoctl_node_fencings_total',
];

describe('keeper metrics', () => {
  it('a scrape shows the state, lease, Postgres, monitor and lag of the node', async () => {
    const { source, v } = fakeSource({ state: 'catchingup', assigned: 'secondary', lease: 0 });
    let lag: ReplicationLag | null = { bytes: 4096, seconds: 1.5, streaming: true };
    const m = createKeeperMetrics(source, () => Promise.resolve(lag), { processMetrics: false });
    let s = parseExposition(await m.scrape());
    assert.equal(valueOf(s, 'pg_autoctl_node_info', { formation: 'default', group: '0', node_id: '2', name: 'node2' }), 1);
    assert.equal(valueOf(s, 'pg_autoctl_node_state', { state: 'catchingup', assigned: 'secondary' }), 1);
    assert.equal(samplesOf(s, 'pg_autoctl_node_state').length, 1);
    assert.equal(valueOf(s, 'pg_autoctl_node_converged'), 0);
    assert.equal(valueOf(s, 'pg_autoctl_node_lease_remaining_seconds'), 0);
    assert.equal(valueOf(s, 'pg_autoctl_node_replication_lag_bytes'), 4096);
    assert.equal(valueOf(s, 'pg_autoctl_node_replication_lag_seconds'), 1.5);
    assert.equal(valueOf(s, 'pg_autoctl_node_replication_streaming'), 1);
    assert.equal(valueOf(s, 'pg_autoctl_node_postgres_up'), 1);
    assert.equal(valueOf(s, 'pg_autoctl_node_monitor_reachable'), 1);

    // The node moves on: one state series at a time, the old one gone.
    Object.assign(v, { state: 'primary', assigned: 'primary', lease: 2.85, reachable: false });
    lag = { bytes: 0, seconds: 0, streaming: false };
    s = parseExposition(await m.scrape());
    assert.deepEqual(samplesOf(s, 'pg_autoctl_node_state').map((x) => x.labels), [{ state: 'primary', assigned: 'primary' }]);
    assert.equal(valueOf(s, 'pg_autoctl_node_converged'), 1);
    assert.equal(valueOf(s, 'pg_autoctl_node_lease_remaining_seconds'), 2.85);
    assert.equal(valueOf(s, 'pg_autoctl_node_monitor_reachable'), 0);
    assert.equal(valueOf(s, 'pg_autoctl_node_replication_lag_bytes'), 0);
    assert.equal(valueOf(s, 'pg_autoctl_node_replication_streaming'), 0);
  });

  it('an unknown lag is no sample, and Postgres down asks for no lag at all', async () => {
    const { source, v } = fakeSource({ pgUp: false });
    let asked = 0;
    const m = createKeeperMetrics(source, () => { asked += 1; return Promise.resolve({ bytes: 8, seconds: Number.NaN, streaming: true }); }, { processMetrics: false });
    let s = parseExposition(await m.scrape());
    assert.equal(asked, 0);
    assert.equal(valueOf(s, 'pg_autoctl_node_postgres_up'), 0);
    assert.equal(samplesOf(s, 'pg_autoctl_node_replication_lag_bytes').length, 0);
    assert.equal(samplesOf(s, 'pg_autoctl_node_replication_lag_seconds').length, 0);
    v.pgUp = true;
    s = parseExposition(await m.scrape());
    assert.equal(asked, 1);
    assert.equal(valueOf(s, 'pg_autoctl_node_replication_lag_bytes'), 8);
    assert.equal(samplesOf(s, 'pg_autoctl_node_replication_lag_seconds').length, 0, 'NaN seconds: no sample');
  });

  it('counts transitions, failed transitions, node_active calls and fencings from the keeper events', async () => {
    const { source } = fakeSource();
    const m = createKeeperMetrics(source, () => Promise.resolve(null), { processMetrics: false });
    const events = createKeeperEvents();
    const unwatch = m.watch(events);
    events.emit('transition-end', { from: 'init', to: 'single', ms: 120, ok: true });
    events.emit('transition-end', { from: 'catchingup', to: 'secondary', ms: 40, ok: false, error: 'boom' });
    events.emit('transition-end', { from: 'catchingup', to: 'secondary', ms: 30, ok: false, error: 'boom' });
    events.emit('transition-end', { from: 'catchingup', to: 'secondary', ms: 2500, ok: true });
    events.emit('node-active', { ms: 3, ok: true, goal: 'secondary' });
    events.emit('node-active', { ms: 5000, ok: false });
    events.emit('fenced', { reason: 'write lease ran out' });
    let s = parseExposition(await m.scrape());
    assert.equal(valueOf(s, 'pg_autoctl_node_transitions_total', { from: 'init', to: 'single' }), 1);
    assert.equal(valueOf(s, 'pg_autoctl_node_transitions_total', { from: 'catchingup', to: 'secondary' }), 1);
    assert.equal(valueOf(s, 'pg_autoctl_node_transition_errors_total', { from: 'catchingup', to: 'secondary' }), 2);
    assert.equal(valueOf(s, 'pg_autoctl_node_transition_duration_seconds_count', { from: 'catchingup', to: 'secondary' }), 1);
    assert.equal(valueOf(s, 'pg_autoctl_node_transition_duration_seconds_sum', { from: 'catchingup', to: 'secondary' }), 2.5);
    assert.equal(valueOf(s, 'pg_autoctl_node_transition_duration_seconds_bucket', { from: 'init', to: 'single', le: '0.1' }), 0);
    assert.equal(valueOf(s, 'pg_autoctl_node_transition_duration_seconds_bucket', { from: 'init', to: 'single', le: '0.25' }), 1);
    assert.equal(valueOf(s, 'pg_autoctl_node_active_duration_seconds_count', { result: 'ok' }), 1);
    assert.equal(valueOf(s, 'pg_autoctl_node_active_duration_seconds_sum', { result: 'ok' }), 0.003);
    assert.equal(valueOf(s, 'pg_autoctl_node_active_duration_seconds_count', { result: 'error' }), 1);
    assert.equal(valueOf(s, 'pg_autoctl_node_active_duration_seconds_sum', { result: 'error' }), 5);
    assert.equal(valueOf(s, 'pg_autoctl_node_fencings_total'), 1);

    unwatch();
    events.emit('fenced', { reason: 'again' });
    s = parseExposition(await m.scrape());
    assert.equal(valueOf(s, 'pg_autoctl_node_fencings_total'), 1, 'no counting after unwatch');
    assert.equal(events.listenerCount('transition-end') + events.listenerCount('node-active') + events.listenerCount('fenced'), 0);
  });

  it('uses a registry of its own, with the process metrics prefixed', async () => {
    const { source } = fakeSource();
    const m = createKeeperMetrics(source, () => Promise.resolve({ bytes: 0, seconds: 0, streaming: false }));
    const names = new Set(parseExposition(await m.scrape()).map((x) => x.name));
    for (const name of KEEPER_NAMES.filter((n) => !n.endsWith('_total') && !n.endsWith('_duration_seconds'))) assert.ok(names.has(name), name);
    assert.ok(names.has('pg_autoctl_process_cpu_seconds_total'));
    assert.ok(names.has('pg_autoctl_process_resident_memory_bytes'));
    assert.ok([...names].every((n) => n.startsWith('pg_autoctl_')), 'every name has the prefix');
    assert.equal(await globalRegistry.getSingleMetricAsString('pg_autoctl_node_state').catch(() => 'absent'), 'absent');
  });

  it('promtool check metrics accepts a full scrape', { skip: !HAS_PROMTOOL && 'promtool is not installed' }, async () => {
    const { source } = fakeSource({ state: 'primary', assigned: 'primary', lease: 2 });
    const m = createKeeperMetrics(source, () => Promise.resolve({ bytes: 0, seconds: 0, streaming: false }));
    const events = createKeeperEvents();
    m.watch(events);
    events.emit('transition-end', { from: 'single', to: 'wait_primary', ms: 10, ok: true });
    events.emit('transition-end', { from: 'wait_primary', to: 'primary', ms: 10, ok: false, error: 'x' });
    events.emit('node-active', { ms: 2, ok: true });
    events.emit('fenced', { reason: 'x' });
    const text = await m.scrape();
    for (const name of KEEPER_NAMES) assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'));
    const r = await promtool(['check', 'metrics'], text);
    assert.equal(r.exitCode, 0, r.output);
  });
});

describe('replication lag cache', () => {
  const lag = (bytes: number): ReplicationLag => ({ bytes, seconds: 0, streaming: true });

  it('serves a fresh value without a query, and queries again once it is stale', async () => {
    let now = 0;
    let queries = 0;
    const cache = lagCache(() => { queries += 1; return Promise.resolve(lag(queries)); }, { maxAgeMs: 1000, waitMs: 50, timeoutMs: 500, clock: () => now });
    assert.equal((await cache.read())?.bytes, 1);
    now = 999;
    assert.equal((await cache.read())?.bytes, 1);
    assert.equal(queries, 1);
    now = 1000;
    assert.equal((await cache.read())?.bytes, 2);
  });

  it('a slow query holds a scrape for waitMs at most, and runs alone', async () => {
    let now = 0;
    let queries = 0;
    let release: (v: ReplicationLag) => void = () => undefined;
    const cache = lagCache(() => {
      queries += 1;
      return new Promise<ReplicationLag>((resolve) => { release = resolve; });
    }, { maxAgeMs: 1000, waitMs: 30, timeoutMs: 10_000, clock: () => now });
    const started = performance.now();
    assert.equal(await cache.read(), null, 'nothing known yet');
    assert.equal(await cache.read(), null);
    assert.ok(performance.now() - started < 2000);
    assert.equal(queries, 1, 'one query in flight at a time');
    release(lag(7));
    await new Promise((r) => setImmediate(r));
    now = 10;
    assert.equal((await cache.read())?.bytes, 7);
  });

  it('a failed or timed-out query makes the value unknown', async () => {
    let now = 0;
    let mode: 'ok' | 'fail' | 'hang' = 'ok';
    const cache = lagCache(() => (mode === 'ok' ? Promise.resolve(lag(1)) : mode === 'fail' ? Promise.reject(new Error('down'))
      : new Promise<ReplicationLag>(() => undefined)), { maxAgeMs: 100, waitMs: 200, timeoutMs: 20, clock: () => now });
    assert.equal((await cache.read())?.bytes, 1);
    mode = 'fail';
    now = 200;
    assert.equal(await cache.read(), null);
    mode = 'ok';
    now = 400;
    assert.equal((await cache.read())?.bytes, 1);
    mode = 'hang';
    now = 600;
    assert.equal(await cache.read(), null, 'timed out');
  });
});
