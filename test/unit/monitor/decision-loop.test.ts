/**
 * The service's decision loop with a fake brain: a stuck group only delays
 * itself, hints for groups that do not exist cost no decision, a flood of
 * hints becomes one pass over every group, failures are logged once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { Brain, GroupOutcome } from '../../../src/monitor/brain.js';
import { createDecisionLoop } from '../../../src/monitor/service.js';

function fakeBrain(groups: Array<[string, number]>, behaviour: (f: string, g: number) => GroupOutcome | Error) {
  const decided: string[] = [];
  let listed = 0;
  const brain: Brain = {
    decideGroup(f, g) {
      decided.push(`${f}/${g}`);
      const r = behaviour(f, g);
      return r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
    },
    listGroups() {
      listed += 1;
      return Promise.resolve(groups.map(([formationId, groupId]) => ({ formationId, groupId })));
    },
    nextRecheck: () => null,
  };
  return { brain, decided, listed: () => listed };
}

const ok: GroupOutcome = { kind: 'empty' };
const hint = (f: string, g: number): string => JSON.stringify({ formation: f, groupId: g, why: 'report', goal: 'primary' });

describe('decision loop', () => {
  it('a busy group is retried with a backoff while the others are decided', async () => {
    let now = 0;
    const fake = fakeBrain([['a', 0], ['b', 0]], (f) => (f === 'a' ? { kind: 'busy' } : ok));
    const loop = createDecisionLoop({ brain: fake.brain, log: pino({ level: 'silent' }), tickMs: () => 500, clock: () => now });
    await loop.round(); // first round: a full pass
    assert.deepEqual(fake.decided, ['a/0', 'b/0']);
    fake.decided.length = 0;
    for (let i = 0; i < 20; i++) {
      now += 10;
      loop.hints.add(hint('a', 0));
      loop.hints.add(hint('b', 0));
      await loop.round();
    }
    const a = fake.decided.filter((d) => d === 'a/0').length;
    const b = fake.decided.filter((d) => d === 'b/0').length;
    assert.ok(b >= 9, `b decided ${b} times`);
    assert.ok(a <= 3, `busy a retried ${a} times in 200 ms`);
  });

  it('hints for unknown groups decide nothing, and a flood becomes one full pass', async () => {
    let now = 0;
    const fake = fakeBrain([['default', 0]], () => ok);
    const loop = createDecisionLoop({ brain: fake.brain, log: pino({ level: 'silent' }), tickMs: () => 500, clock: () => now });
    await loop.round();
    fake.decided.length = 0;
    now += 200;
    for (let i = 0; i < 500; i++) loop.hints.add(hint(`x${i}`, i));
    await loop.round();
    assert.deepEqual(fake.decided, []);
    now += 200;
    for (let i = 0; i < 300_000; i++) loop.hints.add(hint(`x${i}`, i % 1000));
    const started = performance.now();
    await loop.round();
    assert.ok(performance.now() - started < 1000);
    assert.deepEqual(fake.decided, ['default/0']);
  });

  it('a failing group is logged once, not on every round', async () => {
    let now = 0;
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => { lines.push(s); } });
    const fake = fakeBrain([['big', 0], ['default', 0]], (f) => (f === 'big' ? new Error('node id 9007199254740993 is beyond 2^53') : ok));
    const loop = createDecisionLoop({ brain: fake.brain, log, tickMs: () => 50, clock: () => now });
    for (let i = 0; i < 200; i++) {
      await loop.round();
      now += 25;
    }
    assert.equal(lines.filter((l) => l.includes('9007199254740993')).length, 1);
    assert.ok(fake.decided.filter((d) => d === 'default/0').length >= 90);
  });
});
