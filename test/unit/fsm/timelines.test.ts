/**
 * The timeline gate (src/fsm/timelines.ts): a node is promoted only from
 * the newest timeline any node of the group may hold.
 *
 * Regression: the model checker found two promotions to the same timeline
 * number (the second from a node on an older timeline, while an old
 * primary and an asynchronous standby cut off on the newer one were left
 * out of the election); the next election, comparing (timeline, LSN), can
 * then prefer a node of the other history and lose acknowledged writes.
 * The shape of these tests is that schedule's (model seed 390 with the
 * `timeline-number-reused` check of model/postgres.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mayHavePromotedSinceReport, newerTimelineHolder, newestPossibleTimeline } from '../../../src/fsm/timelines.js';
import { DEAD, MB, PG_DOWN, goals, group, node, noChange, requests, rules, run } from './fixtures.js';

const tl = (timeline: number, lsnMb: number): Partial<ReturnType<typeof node>> => ({ reportedTimeline: timeline, reportedLsn: BigInt(lsnMb) * MB });
const ASYNC = { replicationQuorum: false };

test('two promotions to the same timeline: an old primary cut off on a newer timeline stops the promotion of a node on an older one', () => {
  // Node 1 was primary on timeline 5 (its quorum standby was removed by
  // force); node 3, asynchronous, followed it to timeline 5 and died;
  // node 2 stayed on timeline 4. Before the gate node 2 was promoted, to a
  // second timeline 5.
  const oldPrimary = node(1, 'primary', 'demote_timeout', { ...DEAD, ...tl(5, 132) });
  const lateStandby = node(2, 'report_lsn', 'report_lsn', tl(4, 125));
  const cutOff = node(3, 'secondary', 'report_lsn', { ...DEAD, ...ASYNC, ...tl(5, 132) });
  const d = run(group([oldPrimary, lateStandby, cutOff]));
  noChange(d);
  assert.match(d.logs.join('\n'), /Failover still in progress: node 1 .* may hold timeline 5, newer than timeline 4 of the most advanced reported position/);

  // Once the old primary is back in the election, its position is the most
  // advanced: the candidate fetches it first, and is then promoted to
  // timeline 6.
  const back = run(group([node(1, 'report_lsn', 'report_lsn', { ...tl(5, 132), candidatePriority: 0 }), lateStandby, cutOff]));
  assert.deepEqual(goals(back), { 2: 'fast_forward' });
  // The operator may also remove the nodes of the newer timeline (they are gone for good).
  assert.deepEqual(goals(run(group([lateStandby]))), { 2: 'single' });
});

test('two promotions to the same timeline: an abandoned candidate may have promoted before it went silent', () => {
  // Node 2, asynchronous, reported prepare_promotion on timeline 4 and was
  // then sent back to report_lsn (E1) while unreachable: it may have
  // promoted to timeline 5 already. Node 3 on timeline 4 waits for it.
  const abandoned = node(2, 'prepare_promotion', 'report_lsn', { ...DEAD, ...ASYNC, ...tl(4, 125), keeperGoalState: 'stop_replication' });
  const d = run(group([node(1, 'demoted', 'demoted', { ...PG_DOWN, ...tl(4, 120) }), abandoned, node(3, 'report_lsn', 'report_lsn', tl(4, 125))]));
  assert.deepEqual(goals(d), { 1: 'report_lsn' });
  const afterOldPrimary = run(group([node(1, 'report_lsn', 'report_lsn', tl(4, 120)), abandoned, node(3, 'report_lsn', 'report_lsn', tl(4, 125))]));
  noChange(afterOldPrimary);
  assert.match(afterOldPrimary.logs.join('\n'), /node 2 .* may hold timeline 5, newer than timeline 4/);
  // It reports: it had not promoted (timeline 4); the election goes on (node 2 wins the tie by node id).
  const reported = node(2, 'report_lsn', 'report_lsn', { ...ASYNC, ...tl(4, 125) });
  assert.deepEqual(goals(run(group([node(1, 'report_lsn', 'report_lsn', tl(4, 120)), reported, node(3, 'report_lsn', 'report_lsn', tl(4, 125))]))),
    { 2: 'prepare_promotion' });
});

test('two promotions to the same timeline: a candidate overtaken by a newer timeline before its promotion goes back to the election (R11-R13, R2)', () => {
  const newer = node(3, 'report_lsn', 'report_lsn', { ...ASYNC, ...tl(5, 90) });
  const ready = node(2, 'prepare_promotion', 'prepare_promotion', tl(4, 125));
  const d = run(group([node(1, 'primary', 'draining', { ...DEAD, ...tl(4, 125) }), ready, newer]));
  assert.equal(goals(d)[2], 'report_lsn');
  assert.equal(d.assignments.find((a) => a.nodeId === 2)?.rule, 'E1');
  assert.match(d.events.map((e) => e.description).join('\n'), /node 3 .* may hold timeline 5, newer than timeline 4 of node 2/);
  // No primary at all (R13 of noPrimaryRules): the same.
  assert.equal(goals(run(group([ready, newer])))[2], 'report_lsn');
  // After its fast-forward (R2).
  const fetched = node(2, 'fast_forward', 'fast_forward', tl(4, 125));
  const ff = run(group([node(1, 'primary', 'draining', { ...DEAD, ...tl(4, 125) }), fetched, newer]));
  assert.equal(goals(ff)[2], 'report_lsn');
  assert.deepEqual(rules(ff).includes('R2'), false);
});

test('two promotions to the same timeline: in two-node groups, no automatic or operator promotion of a standby on an older timeline', () => {
  // After a failover a standby that joined the new primary may still be on
  // the old timeline for a moment.
  const primary = (extra = {}): ReturnType<typeof node> => node(1, 'primary', 'primary', { ...tl(5, 100), ...extra });
  const lagging = node(2, 'secondary', 'secondary', tl(4, 99));
  noChange(run(group([primary(DEAD), lagging])));
  assert.deepEqual(goals(run(group([primary(DEAD), { ...lagging, reportedTimeline: 5 }]))), { 1: 'draining', 2: 'prepare_promotion' });

  const failover = run(group([primary(), lagging], requests({ id: 1, kind: 'failover' })));
  noChange(failover);
  assert.deepEqual(failover.consumedRequests.map((r) => r.outcome), ['refused']);
  assert.match(failover.consumedRequests[0]?.message ?? '', /^cannot fail over: standby node 2 .* is on timeline 4, behind timeline 5 of node 1/);
  const maintenance = run(group([primary(), lagging], requests({ id: 1, kind: 'maintenance', nodeId: 1, enable: true })));
  noChange(maintenance);
  assert.match(maintenance.consumedRequests[0]?.message ?? '', /^Starting maintenance on node 1 .* is not currently possible: standby node 2 .* is on timeline 4/);
});

test('the newest timeline a node may hold: one more than reported when its keeper may have promoted since its report', () => {
  const at = (reported: Parameters<typeof node>[1], goal: Parameters<typeof node>[2], extra = {}): number =>
    newestPossibleTimeline(node(1, reported, goal, { reportedTimeline: 3, ...extra }));
  assert.equal(at('secondary', 'secondary'), 3);
  assert.equal(at('report_lsn', 'prepare_promotion'), 3, 'report_lsn -> prepare_promotion does not promote');
  assert.equal(at('prepare_promotion', 'prepare_promotion'), 4, 'it may have received stop_replication since');
  assert.equal(at('prepare_promotion', 'report_lsn'), 4, 'even when the promotion was abandoned since');
  assert.equal(at('secondary', 'single'), 4, 'a promoting edge');
  assert.equal(at('report_lsn', 'single'), 4);
  assert.equal(at('stop_replication', 'stop_replication'), 3, 'reported after its promotion, Postgres running');
  assert.equal(at('stop_replication', 'wait_primary', { pgIsRunning: false }), 4, 'a report without Postgres keeps the old timeline');
  assert.equal(at('demoted', 'demoted', { pgIsRunning: false }), 3, 'a stopped old primary reported its timeline while it ran');
  assert.equal(mayHavePromotedSinceReport(node(1, 'primary', 'primary')), false);
  // Nodes without data and the node being promoted do not count.
  const fresh = node(2, 'wait_standby', 'wait_standby', { reportedTimeline: 9 });
  const self = node(3, 'prepare_promotion', 'stop_replication', { reportedTimeline: 3 });
  assert.equal(newerTimelineHolder([fresh, self], 3, self), null);
  assert.equal(newerTimelineHolder([fresh, self], 3), self);
});
