/**
 * spec 02 §5: the scenarios, step by step, with keepers that reach their
 * goal at once and report it one second later (a node marked down does not
 * report). Each step applies decide() like the monitor would, including the
 * lease grant node_active records.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isWritableState, planRegistration, type GroupSnapshot, type NodeSnapshot, type OperatorRequest } from '../../../src/fsm/index.js';
import { DEAD, NOW, group, node, run } from './fixtures.js';

interface Sim {
  g: GroupSnapshot;
  now: number;
  down: Set<number>;
  log: string[];
  events: string[];
}

function start(nodes: NodeSnapshot[]): Sim {
  return { g: group(nodes), now: NOW, down: new Set(), log: [], events: [] };
}

/** One second: the monitor decides, then every live keeper reaches its goal and reports. */
function tick(sim: Sim, ...requests: OperatorRequest[]): void {
  sim.now += 1000;
  const d = run({ ...sim.g, requests }, sim.now);
  const nodes = sim.g.nodes.filter((n) => !d.removals.some((r) => r.nodeId === n.nodeId)).map((n) => {
    let out = { ...n };
    const p = d.priorityChanges.filter((c) => c.nodeId === n.nodeId).pop();
    if (p !== undefined) out.candidatePriority = p.candidatePriority;
    const a = d.assignments.filter((x) => x.nodeId === n.nodeId).pop();
    if (a !== undefined) out = { ...out, goalState: a.goalState, goalChangedAt: sim.now };
    return out;
  });
  for (const a of d.assignments) sim.log.push(`${a.rule} ${a.nodeId}:${a.goalState}`);
  sim.events.push(...d.events.map((e) => e.description));
  let lease = sim.g.writeLease;
  const reported = nodes.map((n) => {
    if (sim.down.has(n.nodeId)) return n;
    const state = n.goalState;
    const running = !['draining', 'demote_timeout', 'demoted', 'join_secondary', 'dropped', 'wait_standby', 'init'].includes(state);
    if (isWritableState(n.goalState)) lease = { nodeId: n.nodeId, grantedAt: sim.now + 500 };
    const lsn = running && n.reportedLsn === 0n ? 100n * 1024n * 1024n : n.reportedLsn;
    return { ...n, reportedState: state, keeperGoalState: n.goalState, reportedAt: sim.now + 500, pgIsRunning: running, reportedLsn: lsn };
  });
  sim.g = { ...sim.g, nodes: reported, writeLease: lease, numberSyncStandbys: d.numberSyncStandbys ?? sim.g.numberSyncStandbys };
}

function crash(sim: Sim, id: number): void {
  sim.down.add(id);
  sim.g = { ...sim.g, nodes: sim.g.nodes.map((n) => (n.nodeId === id ? { ...n, ...DEAD, reportedAt: sim.now - 60_000 } : n)) };
}

function ticks(sim: Sim, count: number): void {
  for (let i = 0; i < count; i += 1) tick(sim);
}

test('5.1: the first node registers as single and stays so', () => {
  const plan = planRegistration([], 0, true, { candidatePriority: 50, replicationQuorum: true });
  assert.ok(plan.ok && plan.goalState === 'single');
  const sim = start([node(1, 'init', 'single', { keeperGoalState: null })]);
  ticks(sim, 3);
  assert.deepEqual(sim.log, []);
  assert.equal(sim.g.nodes[0]?.reportedState, 'single');
});

test('5.2: a second node joins: Q1, R4, R7, Q2c (as in show_events.out)', () => {
  const sim = start([node(1, 'single'), node(2, 'init', 'wait_standby', { reportedLsn: 0n })]);
  ticks(sim, 6);
  assert.deepEqual(sim.log, ['Q1 1:wait_primary', 'R4 2:catchingup', 'R7 2:secondary', 'Q2c 1:primary']);
  assert.match(sim.events[0] ?? '', /^Setting goal state of node 1 "node_1" \(10\.0\.0\.1:5432\) to wait_primary /);
  assert.match(sim.events[3] ?? '', /to primary now that 1 quorum standby node\(s\) are secondary\.$/);
});

test('5.3: a third node joins a primary: R5 with apply_settings, Q2d, R7; nss raised to 1 at registration', () => {
  const nodes = [node(1, 'primary'), node(2, 'secondary')];
  const plan = planRegistration(nodes, 0, true, { candidatePriority: 50, replicationQuorum: true });
  assert.ok(plan.ok && plan.numberSyncStandbys === 1);
  const sim = start([...nodes, node(3, 'init', 'wait_standby')]);
  sim.g = { ...sim.g, numberSyncStandbys: 1 };
  ticks(sim, 5);
  assert.deepEqual(sim.log, ['R5 3:catchingup', 'R5 1:apply_settings', 'Q2d 1:primary', 'R7 3:secondary']);
});

test('5.4: a standby fails and returns: Q2s, Q2b; then R7, Q2c', () => {
  const sim = start([node(1, 'primary'), node(2, 'secondary')]);
  crash(sim, 2);
  ticks(sim, 2);
  assert.deepEqual(sim.log, ['Q2s 2:catchingup', 'Q2b 1:wait_primary']);
  sim.down.delete(2);
  ticks(sim, 4);
  assert.deepEqual(sim.log.slice(2), ['R7 2:secondary', 'Q2c 1:primary']);
});

test('5.5: primary failure with one standby: R8, R12, R15 (lease), R17, R7, Q2c (as in failover_show_events.out)', () => {
  const sim = start([node(1, 'primary'), node(2, 'secondary')]);
  sim.g = { ...sim.g, writeLease: { nodeId: 1, grantedAt: NOW - 20_000 } };
  crash(sim, 1);
  ticks(sim, 4);
  assert.deepEqual(sim.log, ['R8 1:draining', 'R8 2:prepare_promotion', 'R12 1:demote_timeout', 'R12 2:stop_replication',
    'R15 2:wait_primary', 'R15 1:demoted']);
  assert.match(sim.events[0] ?? '', /to draining and node 2 .* to prepare_promotion after node 1 .* became unhealthy\.$/);
  sim.down.delete(1);
  ticks(sim, 5);
  assert.deepEqual(sim.log.slice(6), ['R17 1:catchingup', 'R7 1:secondary', 'Q2c 2:primary']);
});

test('5.6: primary failure with several standbys: P5a, E2, E5, R12, E6, R15, R18, Q2c', () => {
  const sim = start([node(1, 'primary'), node(2, 'secondary'), node(3, 'secondary', 'secondary', { candidatePriority: 100 })]);
  sim.g = { ...sim.g, writeLease: { nodeId: 1, grantedAt: NOW - 20_000 } };
  crash(sim, 1);
  ticks(sim, 8);
  assert.deepEqual(sim.log, [
    'P5a 1:draining', 'E2 2:report_lsn', 'E2 3:report_lsn', 'E5 3:prepare_promotion', 'R12 1:demote_timeout',
    'R12 3:stop_replication', 'E6 2:join_secondary', 'R15 3:wait_primary', 'R15 1:demoted', 'R18 2:secondary', 'Q2c 3:primary',
  ]);
});

test('5.7: switchover with 2 nodes: F1, R12, R15 without waiting (the old primary confirms), R17, R7, Q2c', () => {
  const sim = start([node(1, 'primary'), node(2, 'secondary')]);
  tick(sim, { id: 1, kind: 'switchover' });
  ticks(sim, 6);
  assert.deepEqual(sim.log, ['F1 1:draining', 'F1 2:prepare_promotion', 'R12 1:demote_timeout', 'R12 2:stop_replication',
    'R15 2:wait_primary', 'R15 1:demoted', 'R17 1:catchingup', 'R7 1:secondary', 'Q2c 2:primary']);
});

test('5.7: switchover with 3 nodes: F2, the old primary joins the election and rejoins as a standby', () => {
  const sim = start([node(1, 'primary'), node(2, 'secondary'), node(3, 'secondary')]);
  tick(sim, { id: 1, kind: 'switchover' });
  ticks(sim, 8);
  assert.deepEqual(sim.log, ['F2 1:draining', 'E2 1:report_lsn', 'E2 2:report_lsn', 'E2 3:report_lsn', 'E5 2:prepare_promotion',
    'R13 2:wait_primary', 'E6 3:join_secondary', 'R1 1:secondary', 'R18 3:secondary', 'Q2c 2:primary']);
  assert.equal(sim.g.nodes.find((n) => n.nodeId === 1)?.candidatePriority, 50);
});

test('5.9: maintenance on a standby and back (M3, R9, M5, R7, Q2c)', () => {
  const sim = start([node(1, 'primary'), node(2, 'secondary')]);
  tick(sim, { id: 1, kind: 'maintenance', nodeId: 2, enable: true });
  ticks(sim, 2);
  tick(sim, { id: 2, kind: 'maintenance', nodeId: 2, enable: false });
  ticks(sim, 3);
  assert.deepEqual(sim.log, ['M3 1:wait_primary', 'M3 2:wait_maintenance', 'R9 2:maintenance', 'M5 2:catchingup', 'R7 2:secondary',
    'Q2c 1:primary']);
});

test('5.9: maintenance on the primary of 2 nodes (M1, R11, R14), then back (M5)', () => {
  const sim = start([node(1, 'primary'), node(2, 'secondary')]);
  tick(sim, { id: 1, kind: 'maintenance', nodeId: 1, enable: true });
  ticks(sim, 3);
  tick(sim, { id: 2, kind: 'maintenance', nodeId: 1, enable: false });
  ticks(sim, 3);
  assert.deepEqual(sim.log, ['M1 1:prepare_maintenance', 'M1 2:prepare_promotion', 'R11 2:stop_replication', 'R14 2:wait_primary',
    'R14 1:maintenance', 'M5 1:catchingup', 'R7 1:secondary', 'Q2c 2:primary']);
});

test('5.10: removal of a standby (D2, Q2d) and of the primary of 2 nodes (D1, P3, P0)', () => {
  const sim = start([node(1, 'primary'), node(2, 'secondary'), node(3, 'secondary')]);
  tick(sim, { id: 1, kind: 'remove', nodeId: 3, force: false });
  ticks(sim, 2);
  tick(sim, { id: 2, kind: 'remove', nodeId: 1, force: false });
  ticks(sim, 2);
  assert.deepEqual(sim.log, ['D2 3:dropped', 'D2 1:apply_settings', 'Q2d 1:primary', 'D1 1:dropped', 'D1 2:report_lsn', 'P3 2:single']);
  assert.deepEqual(sim.g.nodes.map((n) => `${n.nodeId}:${n.reportedState}`), ['2:single']);
});
