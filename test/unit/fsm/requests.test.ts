/** spec 02 §5.7-5.11 and spec 03 §5.2: operator requests carried out by decide(). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  planRegistration, validateCandidatePriority, validateNumberSyncStandbys, validateReplicationQuorum,
} from '../../../src/fsm/index.js';
import { DEAD, PG_DOWN, goals, group, node, noChange, requests, rules, run } from './fixtures.js';

const outcome = (d: ReturnType<typeof run>): string[] => d.consumedRequests.map((c) => `${c.kind}:${c.outcome}`);

test('F1: failover with 2 nodes: primary draining, standby prepare_promotion, in one event', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary')], requests({ id: 7, kind: 'failover' })));
  assert.deepEqual(goals(d), { 1: 'draining', 2: 'prepare_promotion' });
  assert.deepEqual(d.consumedRequests, [{ requestId: 7, kind: 'failover', outcome: 'done', message: d.consumedRequests[0]?.message }]);
  assert.match(d.events[0]?.description ?? '',
    /^Setting goal state of node 1 .* to draining and node 2 .* to prepare_promotion for a user-initiated failover\.$/);
});

test('F1: switchover is the same operation', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary')], requests({ id: 1, kind: 'switchover' })));
  assert.deepEqual(rules(d), ['F1']);
  assert.match(d.events[0]?.description ?? '', /user-initiated switchover/);
});

test('F1: refused when the standby cannot be a candidate, the primary is not stable, or priority is 0', () => {
  const req = requests({ id: 1, kind: 'failover' });
  const refused = (nodes: ReturnType<typeof node>[]): string => {
    const d = run(group(nodes, req));
    assert.equal(d.assignments.some((a) => a.rule === 'F1'), false);
    assert.equal(d.consumedRequests[0]?.outcome, 'refused');
    return d.consumedRequests[0]?.message ?? '';
  };
  assert.match(refused([node(1, 'single')]), /currently has 1 node/);
  assert.match(refused([node(1, 'primary'), node(2, 'catchingup')]), /which prevents it from being a failover candidate/);
  assert.match(refused([node(1, 'wait_primary'), node(2, 'secondary')]), /couldn't find the primary node/);
  assert.match(refused([node(1, 'apply_settings', 'primary'), node(2, 'secondary')]), /couldn't find the primary node/);
  assert.match(refused([node(1, 'primary'), node(2, 'secondary', 'secondary', { candidatePriority: 0 })]), /candidate priority 0/);
});

test('F2: failover with more than 2 nodes: primary priority -101 and draining; the election follows', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary'), node(3, 'secondary')], requests({ id: 1, kind: 'failover' })));
  assert.deepEqual(goals(d), { 1: 'draining' });
  assert.deepEqual(d.priorityChanges.map((c) => [c.nodeId, c.candidatePriority]), [[1, -51]]);
  assert.match(d.events[0]?.description ?? '', /^Updating candidate priority to -51 for node 1 /);
  assert.deepEqual(rules(d), ['F2']);
});

test('F2: refused when no standby could win the election', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary', 'secondary', { candidatePriority: 0 }), node(3, 'catchingup')],
    requests({ id: 1, kind: 'failover' })));
  assert.deepEqual(outcome(d), ['failover:refused']);
});

test('F3: promotion of a secondary (more than 2 nodes): its priority +101, then the failover', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary'), node(3, 'secondary')], requests({ id: 1, kind: 'promotion', nodeId: 3 })));
  assert.deepEqual(d.priorityChanges.map((c) => [c.nodeId, c.candidatePriority]), [[3, 151], [1, -51]]);
  assert.deepEqual(goals(d), { 1: 'draining' });
});

test('F3: promotion with 2 nodes is a failover; of the primary: nothing; of a priority 0 node: refused', () => {
  assert.deepEqual(rules(run(group([node(1, 'primary'), node(2, 'secondary')], requests({ id: 1, kind: 'promotion', nodeId: 2 })))), ['F1']);
  const already = run(group([node(1, 'primary'), node(2, 'secondary')], requests({ id: 1, kind: 'promotion', nodeId: 1 })));
  assert.deepEqual(already.assignments, []);
  assert.match(already.consumedRequests[0]?.message ?? '', /already the primary/);
  const zero = run(group([node(1, 'primary'), node(2, 'secondary', 'secondary', { candidatePriority: 0 })],
    requests({ id: 1, kind: 'promotion', nodeId: 2 })));
  assert.deepEqual(outcome(zero), ['promotion:refused']);
});

test('F3: promotion of a report_lsn node during an election raises its priority (2.x refused it)', () => {
  const d = run(group([node(1, 'primary', 'draining', DEAD), node(2, 'report_lsn'), node(3, 'secondary', 'report_lsn')],
    requests({ id: 1, kind: 'promotion', nodeId: 2 })));
  assert.deepEqual(outcome(d), ['promotion:done']);
  assert.deepEqual(d.priorityChanges.map((c) => [c.nodeId, c.candidatePriority]), [[2, 151]]);
});

test('M1: maintenance on the primary of 2 nodes: prepare_maintenance and the standby prepare_promotion', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary')], requests({ id: 1, kind: 'maintenance', nodeId: 1, enable: true })));
  assert.deepEqual(goals(d), { 1: 'prepare_maintenance', 2: 'prepare_promotion' });
  assert.deepEqual(rules(d), ['M1']);
});

test('M1/M2: refused without a healthy secondary with priority > 0', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary', 'secondary', PG_DOWN)], requests({ id: 1, kind: 'maintenance', nodeId: 1, enable: true })));
  assert.deepEqual(outcome(d), ['maintenance:refused']);
  assert.match(d.consumedRequests[0]?.message ?? '', /^Starting maintenance on node 1 .* is not currently possible/);
});

test('M2: maintenance on the primary of 3 nodes: prepare_maintenance; the election follows its stop', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary'), node(3, 'secondary')], requests({ id: 1, kind: 'maintenance', nodeId: 1, enable: true })));
  assert.deepEqual(goals(d), { 1: 'prepare_maintenance' });
  assert.deepEqual(rules(d), ['M2']);
});

test('M3: maintenance on the only synchronous standby (nss 0): primary wait_primary, standby wait_maintenance', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary')], requests({ id: 1, kind: 'maintenance', nodeId: 2, enable: true })));
  assert.deepEqual(goals(d), { 1: 'wait_primary', 2: 'wait_maintenance' });
  assert.deepEqual(rules(d), ['M3']);
});

test('M4: maintenance on another standby -> maintenance', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary'), node(3, 'secondary')], requests({ id: 1, kind: 'maintenance', nodeId: 3, enable: true })));
  assert.deepEqual(goals(d), { 3: 'maintenance' });
  assert.deepEqual(rules(d), ['M4']);
});

test('M1-M4: refusals and no-ops', () => {
  const req = (nodeId: number): ReturnType<typeof requests> => requests({ id: 1, kind: 'maintenance', nodeId, enable: true });
  assert.deepEqual(outcome(run(group([node(1, 'primary'), node(2, 'maintenance')], req(2)))), ['maintenance:done']);
  assert.deepEqual(outcome(run(group([node(1, 'primary'), node(2, 'report_lsn', 'secondary')], req(2)))), ['maintenance:refused']);
  assert.deepEqual(outcome(run(group([node(1, 'wait_primary'), node(2, 'catchingup', 'catchingup', { reportedLsn: 0n })], req(2)))),
    ['maintenance:refused']);
});

test('M5: stop maintenance with a primary and no failover -> catchingup', () => {
  const d = run(group([node(1, 'primary'), node(2, 'maintenance'), node(3, 'secondary')], requests({ id: 1, kind: 'maintenance', nodeId: 2, enable: false })));
  assert.deepEqual(goals(d), { 2: 'catchingup' });
  assert.deepEqual(rules(d), ['M5']);
});

test('M6: stop maintenance during a failover, without a primary, or alone -> report_lsn', () => {
  const off = (nodeId: number): ReturnType<typeof requests> => requests({ id: 1, kind: 'maintenance', nodeId, enable: false });
  assert.deepEqual(goals(run(group([node(1, 'primary', 'draining', DEAD), node(2, 'report_lsn'), node(3, 'maintenance')], off(3))))[3], 'report_lsn');
  assert.deepEqual(rules(run(group([node(2, 'maintenance')], off(2)))), ['M6']);
  assert.deepEqual(outcome(run(group([node(1, 'primary'), node(2, 'secondary')], off(2)))), ['maintenance:refused']);
});

test('D0: forced removal deletes the row at once; the primary drops the standby from synchronous_standby_names', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary'), node(3, 'secondary')], requests({ id: 1, kind: 'remove', nodeId: 3, force: true })));
  assert.deepEqual(d.removals.map((r) => [r.nodeId, r.rule]), [[3, 'D0']]);
  assert.deepEqual(goals(d), { 1: 'apply_settings' });
  assert.equal(d.numberSyncStandbys, null);
});

test('D1: removal of the primary converged in primary: standbys report_lsn, primary dropped, nss adjusted', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary'), node(3, 'secondary')],
    { numberSyncStandbys: 1, ...requests({ id: 1, kind: 'remove', nodeId: 1, force: false }) }));
  assert.deepEqual(goals(d), { 1: 'dropped', 2: 'report_lsn', 3: 'report_lsn' });
  assert.equal(d.numberSyncStandbys, 0);
  assert.match(d.logs.join('\n'), /Setting number_sync_standbys to 0/);
});

test('D1: with 2 nodes the survivor reports its LSN, then becomes single (P3)', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary')], requests({ id: 1, kind: 'remove', nodeId: 1, force: false })));
  assert.deepEqual(goals(d), { 1: 'dropped', 2: 'report_lsn' });
  assert.deepEqual(rules(d), ['D1']);
  assert.deepEqual(goals(run(group([node(1, 'primary', 'dropped'), node(2, 'report_lsn')]))), { 2: 'single' });
});

test('D1: refused while the primary may hold the only copy of writes (2.x allowed it)', () => {
  const d = run(group([node(1, 'wait_primary'), node(2, 'catchingup')], requests({ id: 1, kind: 'remove', nodeId: 1, force: false })));
  assert.deepEqual(outcome(d), ['remove:refused']);
  assert.deepEqual(outcome(run(group([node(1, 'single'), node(2, 'init', 'wait_standby', { reportedLsn: 0n })],
    requests({ id: 1, kind: 'remove', nodeId: 1, force: false })))), ['remove:done']);
});

test('D2: removal of a standby: dropped, and the primary applies settings', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary'), node(3, 'secondary')], requests({ id: 1, kind: 'remove', nodeId: 3, force: false })));
  assert.deepEqual(goals(d), { 1: 'apply_settings', 3: 'dropped' });
  assert.deepEqual(rules(d), ['D2']);
});

test('D2: the primary rules run first when they change its goal', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary')], requests({ id: 1, kind: 'remove', nodeId: 2, force: false })));
  assert.deepEqual(goals(d), { 1: 'wait_primary', 2: 'dropped' }); // P3 follows once the primary reported its new goal
});

test('D2: refused during a failover for a node that may hold data', () => {
  const d = run(group([node(1, 'primary', 'draining', DEAD), node(2, 'report_lsn'), node(3, 'secondary', 'report_lsn')],
    requests({ id: 1, kind: 'remove', nodeId: 3, force: false })));
  assert.deepEqual(outcome(d), ['remove:refused']);
});

test('N1: number_sync_standbys decreases when a removal leaves too few quorum standbys', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary'), node(3, 'secondary'), node(4, 'secondary')],
    { numberSyncStandbys: 2, ...requests({ id: 1, kind: 'remove', nodeId: 4, force: false }) }));
  assert.equal(d.numberSyncStandbys, 1);
});

test('S1: a settings change sends the primary to apply_settings', () => {
  const d = run(group([node(1, 'primary'), node(2, 'secondary')], requests({ id: 1, kind: 'settings_changed', setting: 'candidate_priority', nodeId: 2 })));
  assert.deepEqual(goals(d), { 1: 'apply_settings' });
  assert.deepEqual(rules(d), ['S1']);
});

test('S1: nothing for a single node, or without a primary, or for a primary still being promoted', () => {
  noChange(run(group([node(1, 'single')], requests({ id: 1, kind: 'settings_changed' }))));
  noChange(run(group([node(2, 'stop_replication', 'wait_primary'), node(3, 'join_secondary')], requests({ id: 1, kind: 'settings_changed' }))));
});

test('registration (03 §5.1): first node single; later ones wait_standby; nss raised at exactly 2 quorum standbys', () => {
  assert.deepEqual(planRegistration([], 0, true, { candidatePriority: 50, replicationQuorum: true }),
    { ok: true, goalState: 'single', numberSyncStandbys: null, messages: [] });
  const two = planRegistration([node(1, 'primary'), node(2, 'secondary')], 0, true, { candidatePriority: 50, replicationQuorum: true });
  assert.ok(two.ok && two.goalState === 'wait_standby' && two.numberSyncStandbys === 1);
  const first0 = planRegistration([], 0, true, { candidatePriority: 0, replicationQuorum: true });
  assert.ok(!first0.ok && first0.retryable);
  const noPrimary = planRegistration([node(1, 'draining', 'demoted')], 0, true, { candidatePriority: 50, replicationQuorum: true });
  assert.ok(!noPrimary.ok && noPrimary.retryable);
  const zero = planRegistration([node(1, 'report_lsn', 'report_lsn', { candidatePriority: 0 })], 0, true, { candidatePriority: 50, replicationQuorum: true });
  assert.ok(zero.ok && zero.goalState === 'report_lsn');
  assert.ok(!planRegistration([node(1, 'single')], 0, false, { candidatePriority: 50, replicationQuorum: true }).ok);
});

test('settings validation (01 §6): number_sync_standbys, replication quorum, candidate priority', () => {
  const nodes = [node(1, 'primary'), node(2, 'secondary'), node(3, 'secondary')];
  assert.ok(validateNumberSyncStandbys(nodes, 1).ok);
  const two = validateNumberSyncStandbys(nodes, 2);
  assert.ok(!two.ok && /At least 3 standby nodes are required, and only 2/.test(two.errors[0] ?? ''));
  assert.ok(!validateReplicationQuorum(nodes, 1, 3, false).ok);
  assert.ok(validateReplicationQuorum(nodes, 0, 3, false).ok);
  assert.ok(!validateCandidatePriority(nodes, 2, 101).ok);
  const p = validateCandidatePriority([node(1, 'primary'), node(2, 'secondary')], 2, 0);
  assert.ok(p.ok && p.value.notice !== null);
});
