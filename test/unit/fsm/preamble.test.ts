/** spec 02 §4.1: the preamble rules P0-P5 of the decision procedure. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEAD, MB, NOW, PG_DOWN, goals, group, node, noChange, rules, run } from './fixtures.js';

test('P0: a node converged in dropped is deleted', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary'), node(3, 'dropped')]));
  assert.deepEqual(d.removals.map((r) => [r.nodeId, r.rule]), [[3, 'P0']]);
  assert.match(d.removals[0]?.reason ?? '', /^Removing node 3 "node_3" \(10\.0\.0\.3:5432\) from formation "default" and group 0/);
});

test('P1: a node being dropped gets no decision', () => {
  noChange(run(group([node(1, 'primary'), node(2, 'secondary'), node(3, 'secondary', 'dropped')])));
});

test('P2: a node converged in maintenance gets no decision', () => {
  noChange(run(group([node(1, 'primary'), node(2, 'secondary'), node(3, 'maintenance')])));
});

test('P3: the first node of a group becomes single', () => {
  const d = run(group([node(1, 'init', 'single', { keeperGoalState: 'single' })]));
  noChange(d); // already assigned by registration
  const alone = run(group([node(1, 'primary'), node(2, 'secondary', 'dropped')]));
  assert.deepEqual(goals(alone), { 1: 'single' });
  assert.deepEqual(rules(alone), ['P3']);
});

test('P3: a lone standby with data is promoted to single', () => {
  const d = run(group([node(2, 'secondary')]));
  assert.deepEqual(goals(d), { 2: 'single' });
  assert.match(d.events[0]?.description ?? '', /^Setting goal state of node 2 "node_2" \(10\.0\.0\.2:5432\) to single because it is the only node/);
});

test('P3: a lone node with candidate priority 0 goes to report_lsn', () => {
  const d = run(group([node(2, 'secondary', 'secondary', { candidatePriority: 0 })]));
  assert.deepEqual(goals(d), { 2: 'report_lsn' });
});

test('P3: a lone node with priority 0 and no data waits for an operator', () => {
  noChange(run(group([node(2, 'wait_standby', 'wait_standby', { candidatePriority: 0 })])));
});

test('P3: a lone node that cannot reach single from its state goes through report_lsn', () => {
  const d = run(group([node(2, 'join_secondary', 'secondary')]));
  assert.deepEqual(goals(d), { 2: 'report_lsn' });
});

test('P3: single waits for the write lease of the removed primary', () => {
  const lease = { nodeId: 1, grantedAt: NOW - 5_000 };
  const d = run(group([node(2, 'secondary')], { writeLease: lease }));
  noChange(d);
  assert.match(d.logs.join('\n'), /Waiting 15\.0 s before opening node 2 .* the write lease of node 1 may still be running/);
  assert.ok(d.recheckAt !== null && d.recheckAt <= NOW + 15_000);
  assert.deepEqual(goals(run(group([node(2, 'secondary')], { writeLease: lease }), NOW + 15_000)), { 2: 'single' });
});

test('P3: a new node is not opened for writes while the old primary, cut off, may extend its lease without knowing it (model seed 11142)', () => {
  // Node 1, a primary cut from the monitor, keeps its lease through the
  // failsafe on the word of a standby since removed; node 4 registered
  // after node 1's last report, so node 1 never asks it. The operator
  // removes node 1 (not forced: its machine still runs).
  const lease = { nodeId: 1, grantedAt: NOW - 25_000 };
  const oldPrimary = node(1, 'wait_primary', 'dropped', { reportedAt: NOW - 25_000, goalChangedAt: NOW - 1_000, keeperGoalState: 'wait_primary' });
  const newNode = node(4, 'wait_standby', 'wait_standby', { goalChangedAt: NOW - 20_000, reportedLsn: 0n });
  const d = run(group([oldPrimary, newNode], { writeLease: lease }));
  noChange(d);
  assert.match(d.logs.join('\n'), /Waiting for node 1 .* to report before opening node 4 .* for writes: its failsafe may extend its write lease/);
  // Once node 1 reported after node 4 joined, node 1 asks node 4 in its
  // vouch rounds (no yes: no extension), and its lease is over.
  const reported = { ...oldPrimary, reportedAt: NOW - 10_000 };
  assert.deepEqual(goals(run(group([reported, newNode], { writeLease: lease }))), { 4: 'single' });
  // A node with data was on the primary's list when it was told to copy it (R4-R6): no wait.
  assert.deepEqual(goals(run(group([oldPrimary, node(4, 'secondary', 'secondary', { goalChangedAt: NOW - 20_000 })], { writeLease: lease }))),
    { 4: 'single' });
});

test('P3b: when no node holds data any more, the first node with priority > 0 starts a new instance', () => {
  const d = run(group([node(2, 'wait_standby', 'wait_standby', { candidatePriority: 0 }), node(3, 'wait_standby'), node(4, 'init', 'wait_standby')]));
  assert.deepEqual(goals(d), { 3: 'single' });
  assert.deepEqual(rules(d), ['P3b']);
});

test('P4: a node in a primary role gets the primary rules', () => {
  const d = run(group([node(1, 'single'), node(2, 'wait_standby')]));
  assert.deepEqual(rules(d), ['Q1']);
});

test('P5a: more than 2 nodes, unhealthy primary converged in primary -> draining, then the election', () => {
  const d = run(group([node(1, 'primary', 'primary', DEAD), node(2, 'secondary'), node(3, 'secondary')]));
  assert.deepEqual(goals(d), { 1: 'draining', 2: 'report_lsn', 3: 'report_lsn' });
  assert.deepEqual(rules(d), ['P5a', 'E2']);
});

test('P5a: needs a healthy secondary with priority > 0', () => {
  noChange(run(group([node(1, 'primary', 'primary', DEAD), node(2, 'secondary', 'secondary', { candidatePriority: 0 }),
    node(3, 'catchingup', 'catchingup', { reportedLsn: MB })])));
});

test('P5a: not from wait_primary or apply_settings, whose writes may not be on any standby', () => {
  // (The dead primary's own rule Q2c moves its goal to primary: it will wait for a standby when it returns.)
  assert.deepEqual(rules(run(group([node(1, 'wait_primary', 'wait_primary', DEAD), node(2, 'secondary'), node(3, 'secondary')]))), ['Q2c']);
  assert.deepEqual(rules(run(group([node(1, 'apply_settings', 'apply_settings', DEAD), node(2, 'secondary'), node(3, 'secondary')]))), ['Q2d']);
  noChange(run(group([node(1, 'primary', 'apply_settings', DEAD), node(2, 'secondary'), node(3, 'secondary')])));
});

test('P5b: more than 2 nodes, primary stopped in prepare_maintenance -> maintenance, then the election', () => {
  const d = run(group([node(1, 'prepare_maintenance', 'prepare_maintenance', PG_DOWN), node(2, 'secondary'), node(3, 'secondary')]));
  assert.deepEqual(goals(d), { 1: 'maintenance', 2: 'report_lsn', 3: 'report_lsn' });
  assert.deepEqual(rules(d), ['P5b', 'E2']);
});

test('P5: no primary at all and no failover in progress -> election (2.x raised an error)', () => {
  const d = run(group([node(2, 'secondary'), node(3, 'secondary')]));
  assert.deepEqual(goals(d), { 2: 'report_lsn', 3: 'report_lsn' });
  assert.deepEqual(rules(d), ['E2']);
});

test('P5: two nodes, old primary demoting and unhealthy without a candidate -> election', () => {
  const d = run(group([node(1, 'draining', 'draining', PG_DOWN), node(3, 'secondary')]));
  assert.deepEqual(goals(d), { 1: 'report_lsn', 3: 'report_lsn' });
});

test('P5: two nodes with a dead primary use R8, not the election', () => {
  assert.deepEqual(rules(run(group([node(1, 'primary', 'primary', DEAD), node(2, 'secondary')]))), ['R8']);
});

test('J1: a registered node (goal init) gets its first goal in decide(): wait_standby beside a primary, before the other rules', () => {
  const fresh = { reportedLsn: 0n, pgIsRunning: false, keeperGoalState: null, reportedAt: NOW, goalChangedAt: NOW };
  const d = run(group([node(1, 'primary'), node(2, 'secondary'), node(3, 'init', 'init', fresh)]));
  assert.equal(d.assignments[0]?.rule, 'J1');
  assert.equal(d.assignments[0]?.goalState, 'wait_standby');
  assert.match(d.assignments[0]?.reason ?? '',
    /^Setting goal state of node 3 "node_3" \(10\.0\.0\.3:5432\) to wait_standby after it joined group 0 of formation "default"\.$/);
  // opt_secondary off, or no primary to copy: the node keeps waiting in init.
  assert.ok(!rules(run(group([node(1, 'primary'), node(2, 'init', 'init', fresh)], { secondariesAllowed: false }))).includes('J1'));
  assert.ok(!rules(run(group([node(1, 'secondary'), node(2, 'init', 'init', fresh)]))).includes('J1'));
});
