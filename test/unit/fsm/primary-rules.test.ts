/** spec 02 §4.2: rules for the primary (Q1-Q3). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEAD, MB, goals, group, node, noChange, rules, run } from './fixtures.js';

test('Q1: single with a standby converged in wait_standby -> wait_primary', () => {
  const d = run(group([node(1, 'single'), node(2, 'wait_standby')]));
  assert.deepEqual(goals(d), { 1: 'wait_primary' });
  assert.deepEqual(rules(d), ['Q1']);
  assert.match(d.assignments[0]?.reason ?? '', /^Setting goal state of node 1 "node_1" \(10\.0\.0\.1:5432\) to wait_primary /);
});

test('Q1: single with a standby that already copied it (catchingup) -> wait_primary', () => {
  assert.deepEqual(goals(run(group([node(1, 'single'), node(2, 'catchingup')]))), { 1: 'wait_primary' });
});

test('Q1: single alone with a new node not yet in wait_standby -> no change', () => {
  noChange(run(group([node(1, 'single'), node(2, 'init', 'wait_standby')])));
});

test('Q2s: an unhealthy standby assigned secondary is no longer a candidate', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary', 'secondary', DEAD), node(3, 'secondary')]));
  assert.deepEqual(goals(d), { 2: 'catchingup' });
  assert.deepEqual(rules(d), ['Q2s']);
});

test('Q2s: not for an election participant reporting report_lsn or join_secondary', () => {
  noChange(run(group([node(1, 'primary'), node(2, 'report_lsn', 'secondary', DEAD), node(3, 'secondary')])));
});

test('Q2a: all standbys asynchronous: primary while one is secondary, else wait_primary', () => {
  const async = { replicationQuorum: false };
  assert.deepEqual(goals(run(group([node(1, 'wait_primary'), node(2, 'secondary', 'secondary', async)]))), { 1: 'primary' });
  assert.deepEqual(goals(run(group([node(1, 'primary'), node(2, 'catchingup', 'catchingup', async)]))), { 1: 'wait_primary' });
  assert.deepEqual(rules(run(group([node(1, 'primary'), node(2, 'catchingup', 'catchingup', async)]))), ['Q2a']);
});

test('Q2b: no quorum secondary left, number_sync_standbys 0 -> wait_primary', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary', 'secondary', DEAD)]));
  assert.deepEqual(goals(d), { 1: 'wait_primary', 2: 'catchingup' });
  assert.deepEqual(rules(d), ['Q2s', 'Q2b']);
});

test('Q2b: no quorum secondary left, number_sync_standbys 1 -> stays primary (writes block on purpose)', () => {
  const behind = { reportedLsn: MB };
  const d = run(group([node(1, 'primary'), node(2, 'catchingup', 'catchingup', behind), node(3, 'catchingup', 'catchingup', behind)],
    { numberSyncStandbys: 1 }));
  noChange(d);
  assert.deepEqual(goals(run(group([node(1, 'apply_settings'), node(2, 'catchingup', 'catchingup', behind),
    node(3, 'catchingup', 'catchingup', behind)], { numberSyncStandbys: 1 }))), { 1: 'primary' });
});

test('Q2c: wait_primary with a quorum secondary -> primary', () => {
  const d = run(group([node(1, 'wait_primary'), node(2, 'secondary')]));
  assert.deepEqual(goals(d), { 1: 'primary' });
  assert.match(d.assignments[0]?.reason ?? '', /now that 1 quorum standby node\(s\) are secondary/);
});

test('Q2d: out of apply_settings: primary, or wait_primary without quorum secondary (nss 0)', () => {
  assert.deepEqual(goals(run(group([node(1, 'apply_settings'), node(2, 'secondary')]))), { 1: 'primary' });
  const behind = { reportedLsn: MB };
  assert.deepEqual(goals(run(group([node(1, 'apply_settings'), node(2, 'catchingup', 'catchingup', behind),
    node(3, 'catchingup', 'catchingup', behind)]))), { 1: 'wait_primary' });
  assert.deepEqual(rules(run(group([node(1, 'apply_settings'), node(2, 'secondary')]))), ['Q2d']);
});

test('Q3: join_primary -> primary', () => {
  const d = run(group([node(1, 'join_primary'), node(2, 'secondary')]));
  assert.deepEqual(goals(d), { 1: 'primary' });
  assert.deepEqual(rules(d), ['Q3']);
});

test('Q*: a primary converged and stable gets no decision; nor one whose goal differs from its report', () => {
  noChange(run(group([node(1, 'primary'), node(2, 'secondary'), node(3, 'secondary')])));
  noChange(run(group([node(1, 'wait_primary', 'primary'), node(2, 'secondary')])));
});
