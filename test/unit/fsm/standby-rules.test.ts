/** spec 02 §4.3: rules for a node that is not in a primary role (R1-R19, and the rules added here). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEAD, MB, NOW, PG_DOWN, goals, group, node, noChange, rules, run } from './fixtures.js';

const lease = (nodeId: number, ago: number): { writeLease: { nodeId: number; grantedAt: number } } =>
  ({ writeLease: { nodeId, grantedAt: NOW - ago } });

test('R1: a report_lsn node follows the new primary', () => {
  const d = run(group([node(1, 'wait_primary'), node(2, 'report_lsn')]));
  assert.deepEqual(goals(d), { 2: 'secondary' });
  assert.deepEqual(rules(d), ['R1']);
});

test('R1: also while the new primary moves from wait_primary to primary (2.x waited for it to converge)', () => {
  assert.deepEqual(goals(run(group([node(1, 'wait_primary', 'primary'), node(2, 'report_lsn')]))), { 2: 'secondary' });
});

test('R1: not while the new primary is unhealthy', () => {
  const d = run(group([node(1, 'wait_primary', 'wait_primary', PG_DOWN), node(2, 'report_lsn'), node(3, 'secondary')]));
  assert.equal(goals(d)[2], undefined);
});

test('R2: the fast-forwarded candidate reached the most advanced report_lsn node -> prepare_promotion', () => {
  const d = run(group([node(1, 'draining', 'draining', PG_DOWN), node(2, 'fast_forward'), node(3, 'report_lsn')]));
  assert.deepEqual(goals(d), { 2: 'prepare_promotion' });
  assert.deepEqual(rules(d), ['R2']);
});

test('R2: a more advanced node reported meanwhile -> E1, a new election', () => {
  const d = run(group([node(1, 'draining', 'draining', PG_DOWN), node(2, 'fast_forward'),
    node(3, 'report_lsn', 'report_lsn', { reportedLsn: 101n * MB })]));
  assert.deepEqual(goals(d), { 1: 'report_lsn', 2: 'report_lsn' });
  assert.deepEqual(rules(d), ['E1', 'E2']);
});

test('R3: report_lsn nodes run the election', () => {
  const d = run(group([node(2, 'report_lsn'), node(3, 'report_lsn', 'report_lsn', { reportedLsn: 90n * MB })]));
  assert.deepEqual(goals(d), { 2: 'prepare_promotion' });
  assert.deepEqual(rules(d), ['E5']);
});

test('R4: a new standby copies a primary in wait_primary', () => {
  assert.deepEqual(goals(run(group([node(1, 'wait_primary'), node(2, 'wait_standby')]))), { 2: 'catchingup' });
  assert.deepEqual(rules(run(group([node(1, 'apply_settings', 'primary'), node(2, 'wait_standby')]))), ['R4']);
});

test('R4: not from a primary that is single or not running yet', () => {
  noChange(run(group([node(1, 'single', 'wait_primary'), node(2, 'wait_standby')])));
  noChange(run(group([node(1, 'single', 'single', { keeperGoalState: 'wait_primary' }), node(2, 'wait_standby', 'wait_standby', { reportedLsn: 0n })])));
  noChange(run(group([node(1, 'stop_replication', 'wait_primary'), node(2, 'wait_standby'), node(3, 'join_secondary')])));
});

test('R5: a new quorum standby of a primary -> catchingup, and the primary applies settings', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary'), node(3, 'wait_standby')]));
  assert.deepEqual(goals(d), { 1: 'apply_settings', 3: 'catchingup' });
  assert.deepEqual(rules(d), ['R5']);
  assert.equal(d.events.length, 2);
  assert.equal(d.events[0]?.description, d.events[1]?.description);
});

test('R6: a new asynchronous standby of a primary -> catchingup only', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary'), node(3, 'wait_standby', 'wait_standby', { replicationQuorum: false })]));
  assert.deepEqual(goals(d), { 3: 'catchingup' });
  assert.deepEqual(rules(d), ['R6']);
});

test('R7: caught up: healthy, same timeline, within enable_sync_wal_log_threshold -> secondary', () => {
  const d = run(group([node(1, 'wait_primary'), node(2, 'catchingup', 'catchingup', { reportedLsn: 90n * MB })]));
  assert.deepEqual(goals(d), { 2: 'secondary' });
  assert.match(d.assignments[0]?.reason ?? '', /after it caught up: within 16 MB of node 1 .* on timeline 1/);
});

test('R7: not yet: too far behind, another timeline, or unhealthy', () => {
  noChange(run(group([node(1, 'wait_primary'), node(2, 'catchingup', 'catchingup', { reportedLsn: 80n * MB })])));
  noChange(run(group([node(1, 'wait_primary', 'wait_primary', { reportedTimeline: 2 }), node(2, 'catchingup')])));
  noChange(run(group([node(1, 'wait_primary'), node(2, 'catchingup', 'catchingup', { health: 'bad', healthCheckedAt: NOW - 10 })])));
});

test('R8: two nodes, primary converged in primary and unhealthy, healthy secondary close enough -> failover', () => {
  const d = run(group([node(1, 'primary', 'primary', DEAD), node(2, 'secondary')]));
  assert.deepEqual(goals(d), { 1: 'draining', 2: 'prepare_promotion' });
  assert.match(d.assignments[0]?.reason ?? '',
    /^Setting goal state of node 1 "node_1" \(10\.0\.0\.1:5432\) to draining and node 2 "node_2" \(10\.0\.0\.2:5432\) to prepare_promotion after node 1 .* became unhealthy\.$/);
});

test('R8: no failover from wait_primary, behind promote_wal_log_threshold, or with priority 0', () => {
  assert.deepEqual(rules(run(group([node(1, 'wait_primary', 'wait_primary', DEAD), node(2, 'secondary')]))), ['Q2c']);
  noChange(run(group([node(1, 'primary', 'primary', { ...DEAD, reportedLsn: 200n * MB }), node(2, 'secondary')])));
  noChange(run(group([node(1, 'primary', 'primary', DEAD), node(2, 'secondary', 'secondary', { candidatePriority: 0 })])));
});

test('R9: wait_maintenance once the primary is in wait_primary -> maintenance', () => {
  const d = run(group([node(1, 'wait_primary'), node(2, 'wait_maintenance')]));
  assert.deepEqual(goals(d), { 2: 'maintenance' });
  assert.deepEqual(rules(d), ['R9']);
});

test('R10: wait_maintenance when the primary does not wait for this node -> maintenance', () => {
  assert.deepEqual(rules(run(group([node(1, 'primary'), node(2, 'wait_maintenance'), node(3, 'secondary')]))), ['R10']);
});

test('R11: candidate ready while the primary stopped for maintenance -> stop_replication', () => {
  const d = run(group([node(1, 'prepare_maintenance', 'prepare_maintenance', PG_DOWN), node(2, 'prepare_promotion')]));
  assert.deepEqual(goals(d), { 2: 'stop_replication' });
  assert.deepEqual(rules(d), ['R11']);
});

test('R12: candidate ready, old primary draining -> stop_replication and demote_timeout', () => {
  const d = run(group([node(1, 'primary', 'draining', DEAD), node(2, 'prepare_promotion')]));
  assert.deepEqual(goals(d), { 1: 'demote_timeout', 2: 'stop_replication' });
  assert.deepEqual(rules(d), ['R12']);
});

test('R13: candidate ready and no primary left -> wait_primary', () => {
  const d = run(group([node(2, 'prepare_promotion'), node(3, 'report_lsn', 'join_secondary')]));
  assert.deepEqual(goals(d), { 2: 'wait_primary' });
  assert.deepEqual(rules(d), ['R13']);
});

test('R13: waits for the lease of the old primary', () => {
  const d = run(group([node(2, 'prepare_promotion'), node(3, 'report_lsn', 'join_secondary')], lease(1, 1_000)));
  noChange(d);
  assert.match(d.logs.join('\n'), /Waiting 19\.0 s before opening node 2/);
});

test('R14: promoted candidate, old primary stopped for maintenance -> wait_primary and maintenance', () => {
  const d = run(group([node(1, 'prepare_maintenance', 'prepare_maintenance', PG_DOWN), node(2, 'stop_replication')], lease(1, 1_000)));
  assert.deepEqual(goals(d), { 1: 'maintenance', 2: 'wait_primary' });
  assert.deepEqual(rules(d), ['R14']);
});

test('R15: promoted candidate, old primary confirmed stopped -> wait_primary and demoted', () => {
  const d = run(group([node(1, 'demote_timeout', 'demote_timeout', PG_DOWN), node(2, 'stop_replication')], lease(1, 1_000)));
  assert.deepEqual(goals(d), { 1: 'demoted', 2: 'wait_primary' });
  assert.match(d.assignments[0]?.reason ?? '', /after node 1 .* confirmed it stopped\.$/);
});

test('R15: old primary silent: wait for its write lease, not for primary_demote_timeout', () => {
  const silent = group([node(1, 'primary', 'demote_timeout', DEAD), node(2, 'stop_replication')], lease(1, 61_000));
  noChange(run({ ...silent, writeLease: { nodeId: 1, grantedAt: NOW - 10_000 } }));
  const d = run(silent);
  assert.deepEqual(goals(d), { 1: 'demoted', 2: 'wait_primary' });
  assert.match(d.assignments[0]?.reason ?? '', /after the write lease of node 1 .* ran out\.$/);
});

test('R15b: promoted candidate and no old primary to wait for -> wait_primary', () => {
  const d = run(group([node(2, 'stop_replication'), node(3, 'join_secondary')]));
  assert.deepEqual(goals(d), { 2: 'wait_primary' });
  assert.deepEqual(rules(d), ['R15b']);
});

test('R15c: an old primary still draining after another node became primary -> demoted', () => {
  const d = run(group([node(1, 'draining', 'draining', PG_DOWN), node(2, 'wait_primary'), node(3, 'secondary')]));
  assert.deepEqual(goals(d), { 1: 'demoted', 2: 'primary' });
  assert.deepEqual(rules(d), ['R15c', 'Q2c']);
});

test('R16: demoted, new primary on its way from wait_primary to primary -> catchingup', () => {
  const d = run(group([node(1, 'demoted', 'demoted', PG_DOWN), node(2, 'wait_primary', 'primary')]));
  assert.deepEqual(goals(d), { 1: 'catchingup' });
  assert.deepEqual(rules(d), ['R16']);
});

test('R17: demoted, new primary converged -> catchingup', () => {
  const d = run(group([node(1, 'demoted', 'demoted', PG_DOWN), node(2, 'wait_primary')]));
  assert.deepEqual(rules(d), ['R17']);
  assert.match(d.assignments[0]?.reason ?? '', /to rejoin node 2 .* as a standby\.$/);
});

test('R16/R17: not while the new primary is unhealthy', () => {
  const d = run(group([node(1, 'demoted', 'demoted', PG_DOWN), node(2, 'wait_primary', 'wait_primary', PG_DOWN), node(3, 'secondary')]));
  assert.equal(goals(d)[1], undefined);
});

test('R18: join_secondary, new primary reported wait_primary -> secondary, then the primary rules', () => {
  const d = run(group([node(1, 'wait_primary'), node(2, 'join_secondary')]));
  assert.deepEqual(goals(d), { 2: 'secondary' });
  assert.deepEqual(rules(d), ['R18']);
});

test('R19: join_secondary, new primary in another writable state -> secondary', () => {
  assert.deepEqual(rules(run(group([node(1, 'primary'), node(2, 'join_secondary'), node(3, 'secondary')]))), ['R19']);
  assert.deepEqual(rules(run(group([node(1, 'apply_settings', 'primary'), node(2, 'join_secondary'), node(3, 'secondary')]))), ['R19']);
});

test('converged means reported after the goal, by a keeper that knew it (a stale report is not convergence)', () => {
  // The goal went back to report_lsn: the keeper may have left it for secondary since its report.
  const stale = node(2, 'report_lsn', 'report_lsn', { keeperGoalState: 'secondary', reportedLsn: 120n * MB });
  const d = run(group([stale, node(3, 'report_lsn')]));
  assert.deepEqual(rules(d), []);
  assert.match(d.logs.join('\n'), /waiting for node 2 .* to report a current LSN/);
  const before = node(2, 'report_lsn', 'report_lsn', { goalChangedAt: NOW - 100, reportedAt: NOW - 200 });
  assert.match(run(group([before, node(3, 'report_lsn')])).logs.join('\n'), /waiting for node 2/);
});
