import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isHealthy, isReporting, isUnhealthy, type HealthContext } from '../../../src/fsm/index.js';
import { NOW, SETTINGS, node } from './fixtures.js';

const ctx: HealthContext = { now: NOW, settings: SETTINGS, monitorStartedAt: 0 };

test('03 §9.3 reporting(n): reported within node_considered_unhealthy_timeout', () => {
  assert.ok(isReporting(node(1, 'secondary'), ctx));
  assert.ok(!isReporting(node(1, 'secondary', 'secondary', { reportedAt: NOW - 20_000 }), ctx));
  assert.ok(!isReporting(node(1, 'secondary', 'secondary', { reportedAt: null }), ctx));
});

test('03 §9.3 unhealthy(n): absent, Postgres down, or silent and failing checks after the grace period', () => {
  assert.ok(isUnhealthy(undefined, ctx));
  assert.ok(isUnhealthy(node(1, 'primary', 'primary', { pgIsRunning: false }), ctx));
  const silentBad = node(1, 'primary', 'primary', { reportedAt: NOW - 20_000, health: 'bad', healthCheckedAt: NOW - 100 });
  assert.ok(isUnhealthy(silentBad, ctx));
  assert.ok(!isUnhealthy({ ...silentBad, health: 'good' }, ctx), 'a good health check keeps a silent node');
  assert.ok(!isUnhealthy({ ...silentBad, reportedAt: NOW - 19_999 }, ctx), 'reports keep a node that fails checks');
  assert.ok(!isUnhealthy(silentBad, { ...ctx, monitorStartedAt: NOW - 5_000 }), 'startup grace period');
  assert.ok(!isUnhealthy({ ...silentBad, healthCheckedAt: 0 }, { ...ctx, monitorStartedAt: 10 }), 'checks before the monitor started');
});

test('03 §9.3 healthy(n): good or never checked, Postgres running; after a failed check only a fresh report counts', () => {
  assert.ok(!isHealthy(undefined, ctx));
  assert.ok(isHealthy(node(1, 'secondary'), ctx));
  assert.ok(isHealthy(node(1, 'secondary', 'secondary', { health: 'unknown' }), ctx), 'post-2.2: unknown trusts the report');
  assert.ok(!isHealthy(node(1, 'secondary', 'secondary', { pgIsRunning: false }), ctx));
  const bad = node(1, 'secondary', 'secondary', { health: 'bad', healthCheckedAt: NOW - 800, reportedAt: NOW - 300 });
  assert.ok(isHealthy(bad, ctx), 'fresh report after the failed check');
  assert.ok(!isHealthy({ ...bad, reportedAt: NOW - 1_500, healthCheckedAt: NOW - 2_000 }, ctx), 'report not fresh');
  assert.ok(!isHealthy({ ...bad, reportedAt: NOW - 900, healthCheckedAt: NOW - 800 }, ctx), 'report before the check');
});

test('healthy and unhealthy are not complements', () => {
  const n = node(1, 'secondary', 'secondary', { health: 'bad', healthCheckedAt: NOW - 100, reportedAt: NOW - 5_000 });
  assert.ok(!isHealthy(n, ctx));
  assert.ok(!isUnhealthy(n, ctx));
});

test('issue 13: after a monitor promotion, silence, failed checks and the startup grace count from the epoch start', () => {
  // The last report is a minute old (the switch paused it), the new
  // monitor's first check failed 100 ms ago, the epoch started 2 s ago.
  const paused = node(1, 'primary', 'primary', { reportedAt: NOW - 60_000, health: 'bad', healthCheckedAt: NOW - 100 });
  const fresh: HealthContext = { ...ctx, epochStartedAt: NOW - 2_000 };
  assert.ok(isUnhealthy(paused, ctx), 'without an epoch start the node is failed');
  assert.ok(!isUnhealthy(paused, fresh), 'within the grace after the epoch start');
  assert.ok(isReporting(paused, fresh), 'counts as reporting during node_considered_unhealthy_timeout after the epoch start');
  // The grace: node_considered_unhealthy_timeout (20 s here) and startup_grace_period (10 s) since the epoch start.
  const grace = Math.max(SETTINGS.nodeConsideredUnhealthyTimeoutMs, SETTINGS.startupGracePeriodMs);
  const at = (ms: number): HealthContext => ({ ...ctx, now: NOW - 2_000 + ms, epochStartedAt: NOW - 2_000 });
  const checked = { ...paused, healthCheckedAt: NOW - 2_000 + grace - 200 };
  assert.ok(!isUnhealthy(checked, at(grace - 1)), 'just before the grace ends');
  assert.ok(isUnhealthy(checked, at(grace)), 'silent and failing checks for the grace since the epoch start');
  assert.ok(!isReporting(paused, at(grace)));
  assert.ok(!isUnhealthy({ ...paused, healthCheckedAt: NOW - 2_500 }, at(grace)), 'a check made before the epoch start does not count');
  assert.ok(!isUnhealthy({ ...checked, reportedAt: NOW + 1_000 }, at(grace)), 'a report after the epoch start restarts the count');
  assert.ok(isUnhealthy({ ...checked, reportedAt: null }, at(grace)), 'a keeper that never reported, after the grace');
  assert.ok(!isUnhealthy({ ...paused, reportedAt: null }, fresh), 'a keeper that never reported, within the grace');
  assert.ok(isUnhealthy({ ...paused, pgIsRunning: false }, fresh), 'Postgres reported down needs no grace');
  // An old epoch changes nothing.
  assert.ok(isUnhealthy(paused, { ...ctx, epochStartedAt: NOW - 3_600_000 }));
});
