/**
 * Builders for the decision table tests: nodes and groups with sensible
 * defaults (a healthy node that reported recently, after its goal was
 * assigned, knowing its goal), and a decide() wrapper that checks every
 * assignment against the keeper table and records the pairs it saw.
 */
import assert from 'node:assert/strict';
import {
  DEFAULT_FSM_SETTINGS, decide, findTransition,
  type Decision, type FsmSettings, type GroupSnapshot, type NodeSnapshot, type NodeState, type OperatorRequest,
} from '../../../src/fsm/index.js';

/** "now" of the table tests: the monitor has been up for a while. */
export const NOW = 1_000_000;
/**
 * The table tests' timings: 20 s lease and unhealthy timeout (the defaults
 * before the fast ones of migration 0009), written into the tests' times;
 * they test the rules, not the shipped defaults (docs/timings.md).
 */
export const SETTINGS: FsmSettings = { ...DEFAULT_FSM_SETTINGS, nodeConsideredUnhealthyTimeoutMs: 20_000, leaseMs: 20_000 };
export const MB = 1024n * 1024n;

export function node(id: number, reported: NodeState, goal: NodeState = reported, extra: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return {
    nodeId: id, name: `node_${id}`, host: `10.0.0.${id}`, port: 5432,
    reportedState: reported, goalState: goal,
    health: 'good', healthCheckedAt: NOW - 2_000,
    reportedAt: NOW - 500, goalChangedAt: NOW - 3_600_000, keeperGoalState: goal,
    reportedLsn: 100n * MB, reportedTimeline: 1, pgIsRunning: true, replicationState: 'quorum',
    candidatePriority: 50, replicationQuorum: true,
    ...extra,
  };
}

/** A node the monitor considers failed: silent for longer than the timeout, failing health checks. */
export const DEAD: Partial<NodeSnapshot> = { health: 'bad', reportedAt: NOW - 60_000, healthCheckedAt: NOW - 1_000 };
/** A node whose keeper reported Postgres down. */
export const PG_DOWN: Partial<NodeSnapshot> = { pgIsRunning: false };

export function group(nodes: NodeSnapshot[], extra: Partial<GroupSnapshot> = {}): GroupSnapshot {
  return {
    formationId: 'default', groupId: 0, numberSyncStandbys: 0, nodes, requests: [],
    writeLease: null, monitorStartedAt: 0, ...extra,
  };
}

export function requests(...list: OperatorRequest[]): Partial<GroupSnapshot> {
  return { requests: list };
}

/** Every (keeper state, goal) pair the table tests made decide() emit. */
export const EMITTED_PAIRS = new Set<string>();

/**
 * decide(), checking that the keeper can reach every goal it assigns: from
 * the reported state, and from the previous goal when it may stand there.
 */
export function run(snapshot: GroupSnapshot, now = NOW, settings = SETTINGS): Decision {
  const decision = decide(snapshot, now, settings);
  for (const a of decision.assignments) {
    if (a.reportedState !== a.goalState) {
      assert.ok(findTransition(a.reportedState, a.goalState), `[${a.rule}] no keeper edge ${a.reportedState} -> ${a.goalState}`);
      EMITTED_PAIRS.add(`${a.reportedState}>${a.goalState}`);
    }
    const mayStand = a.previousGoalState !== a.reportedState && findTransition(a.reportedState, a.previousGoalState) !== undefined;
    if (mayStand && a.previousGoalState !== a.goalState) {
      assert.ok(findTransition(a.previousGoalState, a.goalState), `[${a.rule}] no keeper edge ${a.previousGoalState} -> ${a.goalState}`);
      EMITTED_PAIRS.add(`${a.previousGoalState}>${a.goalState}`);
    }
  }
  return decision;
}

/** The final goal of each node the decision changed. */
export function goals(decision: Decision): Record<number, NodeState> {
  const out: Record<number, NodeState> = {};
  for (const a of decision.assignments) out[a.nodeId] = a.goalState;
  return out;
}

/** The rule ids of the assignments, in order, without repetition. */
export function rules(decision: Decision): string[] {
  return [...new Set(decision.assignments.map((a) => a.rule))];
}

export function noChange(decision: Decision): void {
  assert.deepEqual(decision.assignments.map((a) => `${a.rule} ${a.nodeId}:${a.goalState}`), []);
}
