import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../../src/common/log.js';
import { KEEPER_ACTIONS, KEEPER_TRANSITIONS } from '../../../src/fsm/keeper-transitions.js';
import { MonitorLink } from '../../../src/keeper/monitor-link.js';
import { planTransition } from '../../../src/keeper/transitions.js';

describe('keeper transitions', () => {
  it('plans every edge of the FSM table with its action', () => {
    for (const edge of KEEPER_TRANSITIONS) {
      const plan = planTransition(edge.from, edge.to);
      assert.ok(plan, `${edge.from} -> ${edge.to}`);
      assert.equal(plan.action, edge.action);
    }
  });

  it('has no plan for a pair outside the table', () => {
    assert.equal(planTransition('secondary', 'primary'), undefined);
    assert.equal(planTransition('init', 'primary'), undefined);
  });

  it('uses every named action somewhere', () => {
    const used = new Set(KEEPER_TRANSITIONS.map((t) => t.action));
    for (const action of KEEPER_ACTIONS) assert.ok(used.has(action), action);
  });
});

describe('monitor link wake-ups', () => {
  const link = (): MonitorLink => new MonitorLink({ uri: 'postgres://autoctl_node@127.0.0.1:1/pg_auto_failover', log: silentLogger() });

  it('wakes a waiting loop at once', async () => {
    const l = link();
    const started = performance.now();
    setTimeout(() => l.wake(), 20);
    assert.equal(await l.waitForWake(5000), true);
    assert.ok(performance.now() - started < 1000);
    await l.close();
  });

  it('keeps a wake-up that came while the loop was busy', async () => {
    const l = link();
    l.wake();
    assert.equal(await l.waitForWake(5000), true);
    assert.equal(await l.waitForWake(10), false, 'one wake-up counts once');
    await l.close();
  });

  it('fails fast and backs off when the monitor is unreachable', async () => {
    const l = link();
    await assert.rejects(l.call('probe', () => Promise.resolve(1)));
    assert.equal(l.consecutiveFailures, 1);
    await assert.rejects(l.call('probe', () => Promise.resolve(1)), /unreachable, next attempt/);
    await l.close();
  });
});
