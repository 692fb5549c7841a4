/**
 * The shipped timing defaults (docs/timings.md) in one place: the values
 * migration 0009 writes are the code's fallbacks, and they keep the
 * relations the failover and its safety rely on.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DEFAULT_FSM_SETTINGS } from '../../../src/fsm/index.js';
import { keeperLeaseMs } from '../../../src/keeper/lease.js';
import { vouchTiming } from '../../../src/keeper/failsafe.js';
import { DEFAULT_HEALTH_SETTINGS } from '../../../src/monitor/health-check.js';
import { fsmSettingsFrom, parseSettingsRows } from '../../../src/monitor/settings.js';

/** name -> [old default, new default] from the VALUES list of migration 0009. */
function migration0009(): Map<string, [string, string]> {
  const sql = readFileSync(new URL('../../../src/monitor/sql/0009-fast-defaults.sql', import.meta.url), 'utf8');
  const rows = new Map<string, [string, string]>();
  for (const m of sql.matchAll(/\('pgautofailover\.(\w+)', '(\d+)', '(\d+)'\)/g)) rows.set(m[1] as string, [m[2] as string, m[3] as string]);
  return rows;
}

describe('default timings', () => {
  const rows = migration0009();
  const value = (name: string): number => Number(rows.get(name)?.[1]);

  it('migration 0009 writes the values the code falls back to', () => {
    assert.equal(rows.size, 6);
    assert.equal(value('primary_lease_timeout'), DEFAULT_FSM_SETTINGS.leaseMs);
    assert.equal(value('node_considered_unhealthy_timeout'), DEFAULT_FSM_SETTINGS.nodeConsideredUnhealthyTimeoutMs);
    assert.equal(value('health_check_period'), DEFAULT_HEALTH_SETTINGS.periodMs);
    assert.equal(value('health_check_timeout'), DEFAULT_HEALTH_SETTINGS.timeoutMs);
    assert.equal(value('health_check_max_retries'), DEFAULT_HEALTH_SETTINGS.maxRetries);
    assert.equal(value('health_check_retry_delay'), DEFAULT_HEALTH_SETTINGS.retryDelayMs);
    // A monitor whose table lacks the rows decides with the same values.
    const parsed = parseSettingsRows([]);
    assert.deepEqual(parsed.health, DEFAULT_HEALTH_SETTINGS);
    const fsm = fsmSettingsFrom(parsed);
    assert.equal(fsm.leaseMs, DEFAULT_FSM_SETTINGS.leaseMs);
    assert.equal(fsm.nodeConsideredUnhealthyTimeoutMs, DEFAULT_FSM_SETTINGS.nodeConsideredUnhealthyTimeoutMs);
  });

  it('detection runs inside the lease, and a crashed node fails its checks before the report is stale', () => {
    const d = DEFAULT_FSM_SETTINGS;
    assert.ok(d.leaseMs <= d.nodeConsideredUnhealthyTimeoutMs, 'the lease never adds waiting to a lost node');
    const h = DEFAULT_HEALTH_SETTINGS;
    // A refused connection fails at once: one period to the next round, then the retries.
    const refusedBadAfter = h.periodMs + h.maxRetries * h.retryDelayMs;
    // The last report is at most one report interval (1 s) old at the crash.
    assert.ok(refusedBadAfter < d.nodeConsideredUnhealthyTimeoutMs - 1000, `health check bad after ${refusedBadAfter} ms`);
  });

  it('a healthy primary renews its lease at least twice per lease, and the failsafe starts inside it', () => {
    const reportMs = 1000;
    const keeperLease = keeperLeaseMs(DEFAULT_FSM_SETTINGS.leaseMs);
    assert.ok(keeperLease >= 2 * reportMs + 500, `keeper lease ${keeperLease} ms`);
    const { afterMs, everyMs } = vouchTiming(DEFAULT_FSM_SETTINGS.leaseMs);
    // The first vouch round starts (at worst one tick late) with room for an answer before the lease ends.
    assert.ok(afterMs + everyMs + 300 < keeperLease, `vouch round after ${afterMs} + ${everyMs} ms, lease ${keeperLease} ms`);
  });
});
