import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecideHints, logRateLimiter, parseDecideHint, sanitizeLogMessage } from '../../../src/monitor/notifications.js';
import { exactId, monitorStartedAt } from '../../../src/monitor/brain.js';

describe('decide hints', () => {
  it('collapse duplicates, ignore what names no group, and parse once per distinct payload', () => {
    const hints = new DecideHints();
    for (let i = 0; i < 1000; i++) hints.add('{"formation": "default", "groupId": 0, "nodeId": 1, "why": "report"}');
    hints.add('{"formation": "default", "groupId": 0, "why": "health"}');
    hints.add('not json');
    hints.add('{"formation": 1, "groupId": 0}');
    hints.add('{"formation": "a", "groupId": -1}');
    hints.add('{"formation": "a", "groupId": 1.5}');
    hints.add('[]');
    hints.add(undefined);
    const taken = hints.take();
    assert.deepEqual(taken, { groups: [{ formationId: 'default', groupId: 0 }], overflow: false });
    assert.equal(hints.pending, false);
  });

  it('past the bound, drop the hints and ask for one pass over every group', () => {
    const hints = new DecideHints(10);
    for (let i = 0; i < 300_000; i++) hints.add(`{"formation": "x${i}", "groupId": ${i % 1000}}`);
    assert.equal(hints.pending, true);
    assert.deepEqual(hints.take(), { groups: [], overflow: true });
    assert.deepEqual(hints.take(), { groups: [], overflow: false });
  });

  it('parseDecideHint reads formation and group only', () => {
    assert.deepEqual(parseDecideHint('{"formation": "f", "groupId": 3, "goal": "primary"}'), { formationId: 'f', groupId: 3 });
    assert.equal(parseDecideHint(`{"formation": "${'f'.repeat(300)}", "groupId": 3}`), null);
  });
});

describe('log notifications', () => {
  it('are escaped and bounded', () => {
    assert.equal(sanitizeLogMessage('a\nb\r\tc\u001b[31m\u2028\\'), 'a\\nb\\r\\tc\\u001b[31m\\u2028\\\\');
    assert.equal(sanitizeLogMessage('Registering node 1 "n" (h:1)'), 'Registering node 1 "n" (h:1)');
    const long = sanitizeLogMessage('x'.repeat(8000), 100);
    assert.ok(long.startsWith('x'.repeat(100)) && long.length < 150, long);
  });

  it('are rate-limited with a count of suppressed lines', () => {
    let now = 0;
    const limit = logRateLimiter(10, 5, () => now);
    const printed = Array.from({ length: 100 }, () => limit('m')).filter((r) => r.print).length;
    assert.equal(printed, 5);
    now += 1000;
    const next = limit('m');
    assert.deepEqual(next, { print: true, suppressed: 95 });
  });
});

describe('node ids', () => {
  it('exactId keeps ids exact or refuses them', () => {
    assert.equal(exactId('42'), 42);
    assert.equal(exactId('9007199254740991'), 9007199254740991);
    assert.equal(exactId('9007199254740992'), null);
    assert.equal(exactId('9007199254740993'), null);
  });
});

describe('monitor start time', () => {
  it('is the later of the Postgres start and the service start', () => {
    // Postgres up for an hour, service started 2 s ago (monotonic now 10_000).
    assert.equal(monitorStartedAt(10_000, 3_600_000, 8_000), 8_000);
    // Postgres restarted after the service started.
    assert.equal(monitorStartedAt(10_000, 1_000, 8_000), 9_000);
  });
});
