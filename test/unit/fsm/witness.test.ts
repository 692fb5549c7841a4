/**
 * Keepers as witnesses (src/fsm/witness.ts): a monitor whose rows lack a
 * decision a keeper received adopts the keeper's goal, and the goals of
 * the group that contradict it, before any other rule.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareDecisions, lackedWitness } from '../../../src/fsm/index.js';
import { DEAD, NOW, goals, group, node, noChange, rules, run } from './fixtures.js';

test('W1: a failover the monitor lost (async copy promoted): the new primary\'s witnessed goal is adopted, logged, and the old primary demoted (W2)', () => {
  // The lost monitor (epoch 1) failed node 1 over to node 2: its last
  // decisions for node 2 (wait_primary, decision 25) never reached the
  // copy that is the monitor now (epoch 2), whose rows still say node 1
  // primary (decision 10) and node 2 secondary (decision 11). Node 1 is
  // gone (fenced by its lease); node 2's keeper reports wait_primary and
  // its witness.
  const decision = run(group([
    node(1, 'primary', 'primary', { ...DEAD, decision: { epoch: 1, id: 10 } }),
    node(2, 'wait_primary', 'secondary', {
      keeperGoalState: 'wait_primary', decision: { epoch: 1, id: 11 },
      witness: { epoch: 1, decisionId: 25, goal: 'wait_primary' },
    }),
  ]));
  assert.equal(decision.assignments[0]?.rule, 'W1');
  assert.deepEqual(decision.assignments[0] && [decision.assignments[0].nodeId, decision.assignments[0].goalState], [2, 'wait_primary']);
  assert.equal(goals(decision)[1], 'demoted');
  assert.ok(rules(decision).includes('W2'));
  assert.ok(decision.logs.some((l) => l.startsWith('Adopting the goal "wait_primary" that node 2 "node_2" (10.0.0.2:5432) received at epoch 1, decision 25')),
    decision.logs.join('\n'));
  // Never two writable goals, never a promotion of anything else.
  assert.ok(!decision.assignments.some((a) => a.nodeId === 1 && ['primary', 'wait_primary', 'single'].includes(a.goalState)));
});

test('W1: a witness older than, or equal to, the row\'s decision changes nothing; a later epoch ranks first whatever the ids', () => {
  const base = (witness: { epoch: number; decisionId: number }, decision: { epoch: number; id: number }) => group([
    node(1, 'primary', 'primary', { decision: { epoch: 2, id: 3 } }),
    node(2, 'secondary', 'secondary', { decision, witness: { ...witness, goal: 'catchingup' } }),
  ]);
  noChange(run(base({ epoch: 1, decisionId: 11 }, { epoch: 1, id: 11 })));
  noChange(run(base({ epoch: 1, decisionId: 9 }, { epoch: 1, id: 11 })));
  // Epoch 2's numbering restarted: decision 4 of epoch 2 is newer than 900 of epoch 1.
  noChange(run(base({ epoch: 1, decisionId: 900 }, { epoch: 2, id: 4 })));
  assert.ok(compareDecisions({ epoch: 2, id: 4 }, { epoch: 1, id: 900 }) > 0);
  assert.equal(lackedWitness({ decision: { epoch: 2, id: 4 }, witness: { epoch: 2, decisionId: 5, goal: 'secondary' } })?.decisionId, 5);
  assert.equal(lackedWitness({ witness: null }), null);
  assert.equal(lackedWitness({ decision: { epoch: 0, id: 0 } }), null);
  // No witness sent (an older keeper), or no decision recorded (rows before migration 0014) and no witness: nothing.
  noChange(run(group([node(1, 'primary'), node(2, 'secondary')])));
});

test('W1: a standby that was told to follow a new node keeps that goal; the rules go on from it', () => {
  // The lost monitor sent node 3 to catchingup behind node 2, promoted by
  // a decision this monitor has (epoch 2); node 3's catchingup is lost.
  const decision = run(group([
    node(1, 'demoted', 'demoted', { decision: { epoch: 2, id: 5 }, ...DEAD }),
    node(2, 'wait_primary', 'wait_primary', { decision: { epoch: 2, id: 6 } }),
    node(3, 'catchingup', 'secondary', { keeperGoalState: 'catchingup', decision: { epoch: 2, id: 4 },
      witness: { epoch: 2, decisionId: 8, goal: 'catchingup' } }),
  ]));
  assert.equal(decision.assignments[0]?.rule, 'W1');
  assert.equal(decision.assignments[0]?.goalState, 'catchingup');
  // Not sent to an election: node 2 is its primary.
  assert.ok(!decision.assignments.some((a) => a.nodeId === 3 && a.goalState === 'report_lsn'));
  assert.ok(!rules(decision).includes('W2'), 'a standby goal demotes nobody');
});

test('W2: a witnessed promotion under way drains the primary; a node whose own witness is newer keeps its goal', () => {
  const promoting = run(group([
    node(1, 'primary', 'primary', { decision: { epoch: 1, id: 10 } }),
    node(2, 'prepare_promotion', 'secondary', { keeperGoalState: 'prepare_promotion', decision: { epoch: 1, id: 11 },
      witness: { epoch: 1, decisionId: 20, goal: 'prepare_promotion' } }),
  ]));
  assert.deepEqual(promoting.assignments.slice(0, 2).map((a) => [a.rule, a.nodeId, a.goalState]),
    [['W1', 2, 'prepare_promotion'], ['W2', 1, 'draining']]);

  // Witnesses that disagree: node 1's keeper witnessed a later decision
  // (30) than node 2's (20). The latest wins: node 2's goal is adopted
  // first, node 1 is left alone by it (its own witness is newer), then
  // node 1's decision takes node 2 out of the primary role.
  const later = run(group([
    node(1, 'primary', 'primary', { decision: { epoch: 1, id: 10 }, witness: { epoch: 1, decisionId: 30, goal: 'primary' } }),
    node(2, 'wait_primary', 'secondary', { keeperGoalState: 'wait_primary', decision: { epoch: 1, id: 11 },
      witness: { epoch: 1, decisionId: 20, goal: 'wait_primary' } }),
  ]));
  assert.ok(!later.assignments.some((a) => a.nodeId === 1 && a.rule.startsWith('W')), later.assignments.map((a) => a.reason).join('\n'));
  assert.deepEqual(later.assignments.slice(0, 2).map((a) => [a.rule, a.nodeId, a.goalState]), [['W1', 2, 'wait_primary'], ['W2', 2, 'demoted']]);

  // A writable node whose keeper has no edge to demoted (single) is sent to demote_timeout.
  const single = run(group([
    node(1, 'single', 'single', { decision: { epoch: 1, id: 10 } }),
    node(2, 'wait_primary', 'secondary', { keeperGoalState: 'wait_primary', decision: { epoch: 1, id: 11 },
      witness: { epoch: 1, decisionId: 20, goal: 'wait_primary' } }),
  ]), NOW);
  assert.equal(goals(single)[1], 'demote_timeout');
});

test('W0: after a promotion of the monitor, the group waits for its nodes to report (their witnesses) before any other rule; bounded by the grace period', () => {
  // Epoch 2 started with this brain (monitorStartedAt); the rows come from
  // epoch 1. Node 2's keeper has not reported yet: it may be acting on a
  // decision this copy lacks. An operator's failover request waits.
  const started = NOW - 2_000;
  const rows = [
    node(1, 'primary', 'primary', { decision: { epoch: 1, id: 10 }, reportedAt: NOW - 500 }),
    node(2, 'catchingup', 'catchingup', { decision: { epoch: 1, id: 11 }, reportedAt: started - 3_000 }),
  ];
  const waiting = run(group(rows, { monitorStartedAt: started, monitorEpoch: 2 }));
  noChange(waiting);
  assert.ok(waiting.logs.some((l) => l.startsWith('Waiting for node 2 "node_2" (10.0.0.2:5432) to report to this monitor')), waiting.logs.join('\n'));
  assert.ok(waiting.recheckAt !== null && waiting.recheckAt <= started + 10_000);
  // What the rules decide for that group without any hold (no epoch known):
  const free = goals(run(group(rows, { monitorStartedAt: started })));
  assert.notDeepEqual(free, {});
  // Once node 2 reported, the rules go on as without the hold.
  assert.deepEqual(goals(run(group([rows[0]!, { ...rows[1]!, reportedAt: NOW - 100 }], { monitorStartedAt: started, monitorEpoch: 2 }))), free);
  // Past the grace period, or a node decided in this epoch: no hold.
  assert.deepEqual(goals(run(group(rows, { monitorStartedAt: NOW - 11_000, monitorEpoch: 2 }))),
    goals(run(group(rows, { monitorStartedAt: NOW - 11_000 }))));
  assert.deepEqual(goals(run(group([rows[0]!, { ...rows[1]!, decision: { epoch: 2, id: 3 } }], { monitorStartedAt: started, monitorEpoch: 2 }))),
    free);
  // W1 still applies during the hold: a witness that arrived is adopted at once.
  const adopting = run(group([rows[0]!, node(3, 'catchingup', 'secondary', {
    keeperGoalState: 'catchingup', decision: { epoch: 1, id: 12 }, reportedAt: NOW - 100, witness: { epoch: 1, decisionId: 14, goal: 'catchingup' },
  }), rows[1]!], { monitorStartedAt: started, monitorEpoch: 2 }));
  assert.deepEqual(adopting.assignments.map((a) => [a.rule, a.nodeId, a.goalState]), [['W1', 3, 'catchingup']]);
});
