/** spec 02 §4.4: the multi-standby election (E1-E6). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEAD, MB, NOW, PG_DOWN, goals, group, node, noChange, rules, run } from './fixtures.js';

/** A dead primary the election does not wait for (it never converged in draining). */
const oldPrimary = node(1, 'primary', 'draining', DEAD);
const candidate = (id: number, lsnMb: number, extra = {}): ReturnType<typeof node> =>
  node(id, 'report_lsn', 'report_lsn', { reportedLsn: BigInt(lsnMb) * MB, ...extra });

test('E1: a candidate that became unhealthy while fetching WAL is sent back to report_lsn', () => {
  const d = run(group([oldPrimary, node(2, 'fast_forward', 'fast_forward', DEAD), candidate(3, 100)]));
  assert.equal(goals(d)[2], 'report_lsn');
  assert.equal(d.assignments.find((a) => a.nodeId === 2)?.rule, 'E1');
});

test('E1: a candidate past fast_forward is kept even when unhealthy (two candidates never coexist)', () => {
  const d = run(group([oldPrimary, node(2, 'prepare_promotion', 'prepare_promotion', DEAD), candidate(3, 100)]));
  assert.deepEqual(goals(d), { 1: 'demote_timeout', 2: 'stop_replication', 3: 'join_secondary' });
});

test('E2: standbys, old primaries and left-behind election nodes are asked for their LSN', () => {
  const d = run(group([
    node(1, 'draining', 'draining', PG_DOWN),
    node(2, 'secondary'),
    node(3, 'catchingup'),
    node(4, 'maintenance', 'catchingup'),
    node(5, 'join_secondary', 'secondary'),
    node(6, 'demoted', 'demoted', PG_DOWN),
    node(7, 'demote_timeout', 'demote_timeout', PG_DOWN),
  ]));
  assert.deepEqual(goals(d), { 1: 'report_lsn', 2: 'report_lsn', 3: 'report_lsn', 4: 'report_lsn', 5: 'report_lsn', 6: 'report_lsn',
    7: 'report_lsn' });
  assert.deepEqual(rules(d), ['E2']);
  assert.match(d.logs.join('\n'), /Failover still in progress: waiting for node 1 .* to report a current LSN/);
});

test('E3: a dead quorum standby blocks the election; a dead asynchronous one does not', () => {
  const blocked = run(group([oldPrimary, candidate(2, 100), node(3, 'secondary', 'secondary', DEAD)]));
  assert.deepEqual(rules(blocked), []);
  assert.match(blocked.logs.join('\n'), /waiting for node 3/);
  const d = run(group([oldPrimary, candidate(2, 100), node(3, 'secondary', 'secondary', { ...DEAD, replicationQuorum: false })]));
  assert.deepEqual(goals(d), { 2: 'prepare_promotion' });
});

test('E3: a dead candidate that reported its frozen LSN is not missing, but a more advanced one stops the selection', () => {
  const d = run(group([oldPrimary, candidate(2, 100), candidate(3, 90, DEAD)]));
  assert.deepEqual(goals(d), { 2: 'prepare_promotion' });
  const ahead = run(group([oldPrimary, candidate(2, 100), candidate(3, 110, DEAD)]));
  noChange(ahead);
  assert.match(ahead.logs.join('\n'), /node 3 .* holds the most advanced WAL but cannot serve it/);
});

test('E3: a candidate whose Postgres is down has no current LSN: missing', () => {
  const d = run(group([oldPrimary, candidate(2, 100), candidate(3, 90, PG_DOWN)]));
  noChange(d);
  assert.match(d.logs.join('\n'), /waiting for node 3/);
});

test('E3: a quorum standby in maintenance may hold acknowledged writes: missing until it reports after the old lease fell', () => {
  const maint = node(4, 'maintenance', 'maintenance', { reportedLsn: 95n * MB });
  const lease = { writeLease: { nodeId: 1, grantedAt: NOW - 30_000 } };
  const before = run(group([oldPrimary, candidate(2, 100), candidate(3, 90), { ...maint, reportedAt: NOW - 10_500 }], lease));
  noChange(before);
  assert.match(before.logs.join('\n'), /waiting for node 4/);
  assert.deepEqual(goals(run(group([oldPrimary, candidate(2, 100), candidate(3, 90), maint], lease))), { 2: 'prepare_promotion' });
  const ahead = run(group([oldPrimary, candidate(2, 100), candidate(3, 90), { ...maint, reportedLsn: 110n * MB }], lease));
  noChange(ahead);
  assert.match(ahead.logs.join('\n'), /node 4 .* holds the most advanced WAL but cannot serve it/);
});

test('E3: ... not when the old primary, the lease holder, reported its frozen position as a live candidate: it bounds every acknowledged write (sound since the store keeps a removed holder\'s grant: seeds 2031, 203918)', () => {
  const lease = { writeLease: { nodeId: 1, grantedAt: NOW - 30_000 } };
  const stoppedMaint = node(2, 'maintenance', 'maintenance', { ...PG_DOWN, reportedLsn: 95n * MB, reportedAt: NOW - 10_500 });
  const deadMaint = node(2, 'maintenance', 'maintenance', { ...DEAD, reportedLsn: 95n * MB });
  const holder = candidate(1, 100, { candidatePriority: -1 });
  for (const maint of [stoppedMaint, deadMaint]) {
    assert.deepEqual(goals(run(group([holder, maint, candidate(3, 100)], lease))), { 3: 'prepare_promotion' });
    // The holder dead: its position is not final, node 2 is waited for.
    const dead = run(group([candidate(1, 100, { ...DEAD, candidatePriority: -1 }), maint, candidate(3, 100)], lease));
    noChange(dead);
    assert.match(dead.logs.join('\n'), /waiting for node 2/);
    // Another candidate than the holder does not bound anything.
    noChange(run(group([oldPrimary, maint, candidate(3, 100)], lease)));
  }
});

test('E3: the old primary, the lease holder, sent to maintenance with a failover is not waited for, as a dead old primary', () => {
  const lease = { writeLease: { nodeId: 1, grantedAt: NOW - 30_000 } };
  const inMaint = node(1, 'maintenance', 'maintenance', { ...PG_DOWN, reportedLsn: 90n * MB });
  assert.deepEqual(goals(run(group([inMaint, candidate(2, 100), candidate(3, 100)], lease))), { 2: 'prepare_promotion' });
  // A quorum standby in maintenance, not the holder, is still waited for.
  const d = run(group([inMaint, candidate(2, 100), candidate(3, 100)], { writeLease: { nodeId: 4, grantedAt: NOW - 30_000 } }));
  noChange(d);
  assert.match(d.logs.join('\n'), /waiting for node 1/);
});

test('E3: a new node that never copied anything is ignored; one told to copy counts until it reports after the fence', () => {
  const lease = { writeLease: { nodeId: 1, grantedAt: NOW - 30_000 } };
  const fresh = node(4, 'wait_standby', 'wait_standby', { reportedLsn: 0n });
  assert.deepEqual(goals(run(group([oldPrimary, candidate(2, 100), fresh], lease))), { 2: 'prepare_promotion' });
  const copying = node(4, 'wait_standby', 'catchingup', { reportedLsn: 0n, reportedAt: NOW - 10_500, keeperGoalState: 'catchingup' });
  noChange(run(group([oldPrimary, candidate(2, 100), copying], lease)));
});

test('E3: no candidate reported yet', () => {
  const d = run(group([oldPrimary, node(2, 'secondary', 'report_lsn')]));
  noChange(d);
  assert.match(d.logs.join('\n'), /waiting for node 2/);
});

test('E3: number_sync_standbys + 1 quorum candidates are needed', () => {
  const async = { replicationQuorum: false };
  const maint = node(4, 'maintenance', 'maintenance', { reportedLsn: 90n * MB });
  const d = run(group([oldPrimary, candidate(2, 100), candidate(3, 100, async), maint], { numberSyncStandbys: 1 }));
  noChange(d);
  assert.match(d.logs.join('\n'), /1 quorum candidate\(s\) reported, number_sync_standbys 1 needs 2/);
});

test('E3: ... or every quorum node holding data when there are fewer (2.x waited for ever)', () => {
  const async = { replicationQuorum: false };
  const newNode = node(4, 'wait_standby', 'wait_standby', { reportedLsn: 0n });
  const d = run(group([oldPrimary, candidate(2, 100), candidate(3, 100, async), newNode], { numberSyncStandbys: 1 }));
  assert.deepEqual(goals(d), { 2: 'prepare_promotion' });
});

test('E5: the highest candidate priority wins, and fetches the WAL it misses', () => {
  const d = run(group([oldPrimary, candidate(2, 90, { candidatePriority: 100 }), candidate(3, 100)]));
  assert.deepEqual(goals(d), { 2: 'fast_forward' });
  assert.match(d.logs.join('\n'), /The current most advanced reported LSN is 0\/6400000 \(timeline 1\), reported by node 3/);
});

test('E5: equal priorities: the most advanced candidate wins', () => {
  assert.deepEqual(goals(run(group([oldPrimary, candidate(2, 90), candidate(3, 100), candidate(4, 95)]))), { 3: 'prepare_promotion' });
});

test('E5: timeline first, then LSN', () => {
  const d = run(group([oldPrimary, candidate(2, 100), candidate(3, 90, { reportedTimeline: 2 })]));
  assert.deepEqual(goals(d), { 3: 'prepare_promotion' });
});

test('E5: unhealthy candidates are skipped; priority 0 is never selected', () => {
  const bad = { health: 'bad' as const, healthCheckedAt: NOW - 100, reportedAt: NOW - 5_000 };
  assert.deepEqual(goals(run(group([oldPrimary, candidate(2, 100, { ...bad, candidatePriority: 100 }), candidate(3, 100)]))),
    { 3: 'prepare_promotion' });
  assert.deepEqual(goals(run(group([oldPrimary, candidate(2, 100, { candidatePriority: 0 }), candidate(3, 90)]))),
    { 3: 'fast_forward' });
  const none = run(group([oldPrimary, candidate(2, 100, { candidatePriority: 0 }), candidate(3, 90, { candidatePriority: 0 })]));
  noChange(none);
  assert.match(none.logs.join('\n'), /no healthy candidate with a candidate priority above 0/);
});

test('E5: no selection when the most advanced standby is too far behind the old primary', () => {
  const p = node(1, 'primary', 'draining', { ...DEAD, reportedLsn: 200n * MB });
  const d = run(group([p, candidate(2, 100), candidate(3, 90)]));
  noChange(d);
  assert.match(d.logs.join('\n'), /more than 16 MB behind node 1/);
});

test('E5p: the priority shifts of perform_failover and perform_promotion are undone by the selection', () => {
  const d = run(group([node(1, 'report_lsn', 'report_lsn', { candidatePriority: -51, reportedLsn: 100n * MB }),
    candidate(2, 100, { candidatePriority: 151 }), candidate(3, 100)]));
  assert.deepEqual(goals(d), { 2: 'prepare_promotion' });
  assert.deepEqual(d.priorityChanges.map((c) => [c.nodeId, c.candidatePriority, c.rule]), [[1, 50, 'E5p'], [2, 50, 'E5p']]);
  assert.equal(d.events.filter((e) => e.description.startsWith('Updating candidate priority back to')).length, 2);
});

test('E5p: with nobody else eligible, the old primary\'s shift is undone and it may be elected', () => {
  const d = run(group([node(1, 'report_lsn', 'report_lsn', { candidatePriority: -51, reportedLsn: 100n * MB }),
    candidate(2, 100, { candidatePriority: 0 })]));
  assert.deepEqual(goals(d), { 1: 'prepare_promotion' });
});

test('E6: once the candidate stopped following the old primary, the others stop Postgres to follow it', () => {
  const d = run(group([node(2, 'stop_replication'), candidate(3, 90), candidate(4, 90)], { writeLease: { nodeId: 2, grantedAt: 0 } }));
  assert.deepEqual(goals(d), { 2: 'wait_primary', 3: 'join_secondary', 4: 'join_secondary' });
  assert.deepEqual(rules(d), ['R15b', 'E6']);
  noChange(run(group([oldPrimary, node(2, 'report_lsn', 'prepare_promotion'), candidate(3, 90)])));
});

test('no election while a node has a writable goal', () => {
  const d = run(group([node(1, 'wait_primary', 'wait_primary', DEAD), candidate(2, 100), candidate(3, 100)]));
  assert.equal(d.assignments.some((a) => a.rule.startsWith('E')), false);
});
