/**
 * One test per keeper edge, named after it. Each edge is either taken by a
 * keeper of the model checker (a fixed 150000-step run), or witnessed here
 * by a decide() case emitting its pair, or it belongs to a documented class:
 * registration, the keeper's own lease fence, removal from any state, the
 * deprecated join_primary, or a 2.x edge this monitor never needs (kept so
 * that a keeper still gets there if an older monitor asks).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KEEPER_TRANSITIONS, isWritableState, planRegistration, type Decision } from '../../../src/fsm/index.js';
import { DEAD, NOW, PG_DOWN, group, node, requests, run } from './fixtures.js';
import { explore } from './model/explore.js';

const seen = explore(1, 150_000).edgesSeen;

const emits = (d: Decision, from: string, to: string): boolean => d.assignments.some((a) => a.goalState === to
  && (a.reportedState === from || a.previousGoalState === from));

/** decide() cases that emit a rarely taken pair. */
const WITNESSES: Record<string, () => Decision> = {
  'primary>demoted': () => run(group([node(1, 'primary', 'demote_timeout', DEAD), node(2, 'stop_replication')])),
  'apply_settings>single': () => run(group([node(1, 'apply_settings')])),
  'wait_primary>single': () => run(group([node(1, 'wait_primary')])),
  'primary>single': () => run(group([node(1, 'primary')])),
  'draining>single': () => run(group([node(1, 'draining', 'draining', PG_DOWN)])),
  'demoted>single': () => run(group([node(1, 'demoted', 'demoted', PG_DOWN)])),
  'demote_timeout>single': () => run(group([node(1, 'demote_timeout', 'demote_timeout', PG_DOWN)])),
  'catchingup>single': () => run(group([node(1, 'catchingup')])),
  'secondary>single': () => run(group([node(1, 'secondary')])),
  'report_lsn>single': () => run(group([node(1, 'report_lsn')])),
  'prepare_promotion>single': () => run(group([node(1, 'prepare_promotion')])),
  'stop_replication>single': () => run(group([node(1, 'stop_replication')])),
  'wait_standby>single': () => run(group([node(1, 'wait_standby')])),
  'wait_maintenance>report_lsn': () => run(group([node(1, 'wait_maintenance')])),
  'demote_timeout>report_lsn': () => run(group([node(1, 'demote_timeout', 'demote_timeout', PG_DOWN), node(2, 'secondary'), node(3, 'secondary')])),
  'fast_forward>report_lsn': () => run(group([node(1, 'primary', 'draining', DEAD), node(2, 'fast_forward', 'fast_forward', DEAD), node(3, 'report_lsn')])),
  'prepare_maintenance>catchingup': () => run(group([node(1, 'prepare_maintenance', 'prepare_maintenance', PG_DOWN), node(2, 'primary'),
    node(3, 'secondary')], requests({ id: 1, kind: 'maintenance', nodeId: 1, enable: false }))),
  'prepare_maintenance>report_lsn': () => run(group([node(1, 'prepare_maintenance', 'prepare_maintenance', PG_DOWN), node(2, 'report_lsn'),
    node(3, 'report_lsn')], requests({ id: 1, kind: 'maintenance', nodeId: 1, enable: false }))),
  'catchingup>maintenance': () => run(group([node(1, 'primary'), node(2, 'secondary'), node(3, 'catchingup')],
    requests({ id: 1, kind: 'maintenance', nodeId: 3, enable: true }))),
  'demote_timeout>prepare_maintenance': () => run(group([node(1, 'primary', 'primary', { keeperGoalState: 'primary' }), node(2, 'secondary'),
    node(3, 'secondary')], requests({ id: 1, kind: 'maintenance', nodeId: 1, enable: true }))),
};
/** The keeper of the witness above may already stand in the previous goal, not the reported state. */
const PREVIOUS_GOAL_WITNESS = new Set(['demote_timeout>prepare_maintenance']);

const REGISTRATION = new Set(['init>single', 'init>wait_standby', 'init>report_lsn', 'dropped>single', 'dropped>wait_standby', 'dropped>report_lsn',
  'secondary>wait_standby']);
/** 2.x edges this monitor never needs; see the comment of each row. */
const NOT_NEEDED = new Set(['catchingup>prepare_promotion', 'catchingup>wait_maintenance', 'wait_primary>demoted', 'apply_settings>draining',
  'apply_settings>demoted', 'primary>maintenance']);

for (const t of KEEPER_TRANSITIONS) {
  const pair = `${t.from}>${t.to}`;
  test(`keeper edge ${t.from} -> ${t.to}: ${t.action}`, () => {
    const witness = WITNESSES[pair];
    if (witness !== undefined) {
      const d = witness();
      if (PREVIOUS_GOAL_WITNESS.has(pair)) {
        // A primary that fenced itself (demote_timeout) is sent to prepare_maintenance by a decision made on its stale report.
        assert.ok(d.assignments.some((a) => a.goalState === t.to && a.reportedState === 'primary'));
      } else {
        assert.ok(emits(d, t.from, t.to), `no decision emits ${pair}`);
      }
    } else if (t.to === 'dropped') {
      assert.equal(t.action, 'drop_node', 'a removal can reach a keeper in any state');
    } else if (t.to === 'demote_timeout' && isWritableState(t.from)) {
      assert.equal(t.action, 'stop_postgres', 'the keeper fences itself when its write lease runs out');
    } else if (t.from === 'join_primary' || t.to === 'join_primary') {
      assert.equal(t.origin, '2.x', 'join_primary is deprecated: never assigned, only reported by old keepers');
    } else if (REGISTRATION.has(pair)) {
      const plan = planRegistration([], 0, true, { candidatePriority: 50, replicationQuorum: true });
      assert.ok(plan.ok, 'registration assigns the first goal of a (re)registered keeper');
    } else if (NOT_NEEDED.has(pair)) {
      assert.equal(t.origin, '2.x');
    } else {
      assert.ok(seen.has(pair), `no keeper of the model took ${pair}`);
    }
  });
}

test('every witness names an edge of the table', () => {
  for (const pair of [...Object.keys(WITNESSES), ...REGISTRATION, ...NOT_NEEDED]) {
    assert.ok(KEEPER_TRANSITIONS.some((t) => `${t.from}>${t.to}` === pair), pair);
  }
  assert.ok(NOW > 0);
});
