/**
 * The model's monitor: its database rows, node_active, health checks,
 * the operator SQL functions (with spec 03's validation), and the brain
 * that calls decide() and applies the decision in one step.
 */
import {
  decide, findTransition, isWritableState, planRegistration, validateCandidatePriority, validateNumberSyncStandbys, validateReplicationQuorum,
  writableNode, conv, groupOf, type Decision, type GroupSnapshot, type NodeSnapshot, type OperatorRequest,
} from '../../../../src/fsm/index.js';
import { hasQuorumStandby } from './postgres.js';
import type { Pos } from './timelines.js';
import { SLOT_MONITOR, dbNodeById, log, pgServes, reachable, simNodeById, violate, type Call, type DbNode, type SimNode, type World } from './world.js';

export function snapshot(world: World): GroupSnapshot {
  const m = world.monitor;
  return {
    formationId: 'default',
    groupId: 0,
    numberSyncStandbys: m.nss,
    nodes: m.nodes.map((n): NodeSnapshot => ({
      nodeId: n.nodeId, name: n.name, host: n.host, port: n.port,
      reportedState: n.reportedState, goalState: n.goalState, health: n.health, healthCheckedAt: n.healthCheckedAt,
      reportedAt: n.reportedAt, goalChangedAt: n.goalChangedAt, keeperGoalState: n.keeperGoalState, reportedLsn: n.reportedLsn,
      reportedTimeline: n.reportedTimeline, pgIsRunning: n.pgIsRunning, replicationState: n.replicationState,
      candidatePriority: n.candidatePriority, replicationQuorum: n.replicationQuorum,
    })),
    requests: [...m.requests],
    writeLease: m.lease,
    monitorStartedAt: m.startedAt,
  };
}

/** node_active: store the report, return the goal, record a lease grant for a writable goal. */
export function processCall(world: World, call: Call): void {
  call.processed = true;
  const row = dbNodeById(world, call.nodeId);
  if (row === undefined) {
    call.unknownNode = true;
    return;
  }
  const r = call.report;
  if (row.reportedState !== r.state) world.monitor.dirty = true;
  if (row.pgIsRunning !== r.pgIsRunning || row.keeperGoalState !== r.goal) world.monitor.dirty = true;
  row.reportedState = r.state;
  row.keeperGoalState = r.goal;
  row.pgIsRunning = r.pgIsRunning;
  if (r.tli !== 0) row.reportedTimeline = r.tli;
  if (r.lsn !== 0) {
    const lsn = BigInt(r.lsn);
    if (lsn !== row.reportedLsn) world.monitor.dirty = true;
    row.reportedLsn = lsn;
  }
  row.replicationState = r.sync;
  row.reportedAt = world.t;
  call.goal = row.goalState;
  if (isWritableState(row.goalState)) world.monitor.lease = { nodeId: row.nodeId, grantedAt: world.t };
  log(world, () => `monitor <- node ${row.nodeId} reports ${r.state} pg=${r.pgIsRunning} lsn=${(r.lsn / 1048576).toFixed(2)}M tli=${r.tli}; goal ${row.goalState}`);
}

export function healthChecks(world: World): void {
  const m = world.monitor;
  if (!m.up) return;
  for (const row of m.nodes) {
    if (world.t < row.nextHealthCheckAt) continue;
    row.nextHealthCheckAt = world.t + world.healthPeriodMs;
    const node = simNodeById(world, row.nodeId);
    const ok = node !== undefined && pgServes(node) && reachable(world, SLOT_MONITOR, node.slot);
    const health = ok ? 'good' : 'bad';
    if (health !== row.health) m.dirty = true;
    row.health = health;
    row.healthCheckedAt = world.t;
  }
}

/** The brain: decide() on the current snapshot, applied at once. */
export function runBrain(world: World): void {
  const m = world.monitor;
  if (!m.up) return;
  const due = m.dirty || world.t - m.lastDecideAt >= 1000 || (m.recheckAt !== null && world.t >= m.recheckAt);
  if (!due) return;
  const snap = snapshot(world);
  const decision = decide(snap, world.t, world.settings);
  m.dirty = false;
  m.lastDecideAt = world.t;
  m.recheckAt = decision.recheckAt;
  world.stats.decisions += 1;
  checkDecision(world, snap, decision);
  apply(world, decision);
}

let lastLogs = '';

function apply(world: World, decision: Decision): void {
  const m = world.monitor;
  if (world.trace !== null) {
    const logs = decision.logs.join(' | ');
    if (logs !== lastLogs && logs !== '') log(world, `monitor log: ${logs}`);
    lastLogs = logs;
  }
  for (const change of decision.priorityChanges) {
    const row = dbNodeById(world, change.nodeId);
    if (row !== undefined) row.candidatePriority = change.candidatePriority;
  }
  if (decision.numberSyncStandbys !== null) m.nss = decision.numberSyncStandbys;
  for (const a of decision.assignments) {
    const row = dbNodeById(world, a.nodeId);
    if (row === undefined) continue;
    row.goalState = a.goalState;
    row.goalChangedAt = world.t;
    world.stats.assignments += 1;
    log(world, () => `monitor: [${a.rule}] ${a.reason}`);
    // NOTIFY: the keeper wakes up at once.
    const node = simNodeById(world, a.nodeId);
    if (node !== undefined && reachable(world, SLOT_MONITOR, node.slot)) node.nextLoopAt = Math.min(node.nextLoopAt, world.t);
  }
  for (const r of decision.removals) {
    m.nodes = m.nodes.filter((n) => n.nodeId !== r.nodeId);
    log(world, `monitor: ${r.reason}`);
  }
  const consumed = new Set(decision.consumedRequests.map((c) => c.requestId));
  for (const c of decision.consumedRequests) log(world, `monitor: request ${c.kind} ${c.outcome}: ${c.message}`);
  m.requests = m.requests.filter((r) => !consumed.has(r.id));
  if (decision.assignments.length > 0 || decision.removals.length > 0 || decision.priorityChanges.length > 0) m.dirty = true;
  // The operator made the group fully asynchronous (no quorum standby left,
  // by a setting or a removal): earlier writes lose their protection.
  const primary = writableNode(groupOf(m.nodes));
  if (primary !== null && !hasQuorumStandby(world, primary.nodeId)) world.acked.clear();
  const one = m.nodes.filter((n) => isWritableState(n.goalState));
  if (one.length > 1) violate(world, 'two-writable-goals', `nodes ${one.map((n) => n.nodeId).join(', ')} have writable goals`);
}

/**
 * Checks made on the decision itself: a node selected for promotion has a
 * configured priority above 0, and the report_lsn positions it must not
 * be behind are recorded for the check at promotion time.
 */
function checkDecision(world: World, snap: GroupSnapshot, decision: Decision): void {
  for (const a of decision.assignments) {
    // The keeper is in its reported state, or already in the previous goal (reached, not reported yet).
    if (a.goalState !== a.reportedState && findTransition(a.reportedState, a.goalState) === undefined) {
      violate(world, 'unreachable-goal', `[${a.rule}] node ${a.nodeId} reported ${a.reportedState}, assigned ${a.goalState}`);
    }
    if (a.previousGoalState !== a.reportedState && a.previousGoalState !== a.goalState
      && findTransition(a.reportedState, a.previousGoalState) !== undefined && findTransition(a.previousGoalState, a.goalState) === undefined) {
      violate(world, 'unreachable-goal', `[${a.rule}] node ${a.nodeId} may be in ${a.previousGoalState} (reported ${a.reportedState}), assigned ${a.goalState}`);
    }
    // A new instance (single for a node without data) while another node holds acknowledged writes.
    if (a.goalState === 'single' && (a.reportedState === 'init' || a.reportedState === 'wait_standby' || a.reportedState === 'dropped')) {
      for (const other of world.nodes) {
        if (other.nodeId === a.nodeId || other.retired || !other.pg.hasData) continue;
        if (other.state === 'init' || other.state === 'wait_standby' || other.state === 'dropped') continue;
        const leaving = decision.assignments.some((x) => x.nodeId === other.nodeId && x.goalState === 'dropped')
          || decision.removals.some((r) => r.nodeId === other.nodeId);
        if (leaving || !snap.nodes.some((n) => n.nodeId === other.nodeId && n.goalState !== 'dropped')) continue;
        if (world.acked.has(world.tls.sysid(other.pg.pos))) {
          violate(world, 'fresh-primary-over-data', `[${a.rule}] node ${a.nodeId} gets a new instance while node ${other.nodeId} holds acknowledged writes`);
        }
      }
    }
    // The rules that choose the node to promote (later rules carry on with that choice).
    const selecting = a.rule === 'E5' || ((a.rule === 'R8' || a.rule === 'F1' || a.rule === 'M1') && a.goalState === 'prepare_promotion')
      || (a.rule === 'P3' && a.goalState === 'single' && a.reportedState !== 'init' && a.reportedState !== 'wait_standby' && a.reportedState !== 'dropped');
    if (!selecting) continue;
    const configured = world.monitor.configuredPriority.get(a.nodeId) ?? 0;
    if (configured <= 0) violate(world, 'priority-0-promoted', `node ${a.nodeId} selected by ${a.rule} with candidate priority 0`);
    if (a.rule === 'E5') {
      world.stats.failovers += 1;
      const floor: { nodeId: number; pos: Pos }[] = [];
      const removed = new Set(decision.removals.map((r) => r.nodeId));
      for (const n of groupOf(snap.nodes.filter((x) => !removed.has(x.nodeId)))) {
        const sim = simNodeById(world, n.nodeId);
        if (sim !== undefined && conv(n, 'report_lsn') && n.pgIsRunning) floor.push({ nodeId: n.nodeId, pos: sim.pg.pos });
      }
      world.electionFloor.set(a.nodeId, floor);
    } else {
      world.stats.failovers += 1;
      world.electionFloor.delete(a.nodeId);
    }
  }
}

// ---- operator SQL functions -------------------------------------------------

type NewRequest = OperatorRequest extends unknown ? (OperatorRequest extends infer R ? R extends unknown ? Omit<R, 'id'> : never : never) : never;

function request(world: World, r: NewRequest): void {
  const m = world.monitor;
  m.requests.push({ ...r, id: m.nextRequestId++ } as OperatorRequest);
  m.dirty = true;
  log(world, () => `operator: ${JSON.stringify(r)}`);
}

export function requestFailover(world: World, kind: 'failover' | 'switchover'): void {
  request(world, { kind });
}
export function requestPromotion(world: World, nodeId: number): void {
  request(world, { kind: 'promotion', nodeId });
}
export function requestMaintenance(world: World, nodeId: number, enable: boolean): void {
  request(world, { kind: 'maintenance', nodeId, enable });
}
export function requestRemoval(world: World, nodeId: number, force: boolean): void {
  if (world.monitor.requests.some((r) => r.kind === 'remove' && r.nodeId === nodeId)) return;
  // A forced removal gives up the protection of writes the node may hold alone.
  if (force) world.acked.clear();
  request(world, { kind: 'remove', nodeId, force });
}

/** The primary is converged in apply_settings: setting changes are refused (spec 03 §5.2). */
function primaryBusy(world: World): boolean {
  return world.monitor.nodes.some((n) => conv(n, 'apply_settings'));
}

export function setPriority(world: World, nodeId: number, value: number): boolean {
  const m = world.monitor;
  const row = dbNodeById(world, nodeId);
  if (row === undefined || row.goalState === 'dropped' || primaryBusy(world)) return false;
  if (!validateCandidatePriority(m.nodes, nodeId, value).ok) return false;
  row.candidatePriority = value;
  m.configuredPriority.set(nodeId, value);
  request(world, { kind: 'settings_changed', setting: 'candidate_priority', nodeId });
  return true;
}

export function setQuorum(world: World, nodeId: number, value: boolean): boolean {
  const m = world.monitor;
  const row = dbNodeById(world, nodeId);
  if (row === undefined || row.goalState === 'dropped' || primaryBusy(world)) return false;
  if (!value && writableNode(groupOf(m.nodes)) === null) return false;
  if (!validateReplicationQuorum(m.nodes, m.nss, nodeId, value).ok) return false;
  row.replicationQuorum = value;
  request(world, { kind: 'settings_changed', setting: 'replication_quorum', nodeId });
  return true;
}

export function setNumberSyncStandbys(world: World, value: number): boolean {
  const m = world.monitor;
  const primary = writableNode(groupOf(m.nodes));
  if (primary === null || !(conv(primary, 'primary') || conv(primary, 'wait_primary'))) return false;
  if (!validateNumberSyncStandbys(m.nodes, value).ok) return false;
  m.nss = value;
  request(world, { kind: 'settings_changed', setting: 'number_sync_standbys' });
  return true;
}

/** register_node for a keeper starting on `node` (state init). */
export function registerNode(world: World, node: SimNode, priority: number, quorum: boolean): boolean {
  const m = world.monitor;
  if (!m.up || !reachable(world, SLOT_MONITOR, node.slot)) return false;
  const plan = planRegistration(m.nodes, m.nss, true, { candidatePriority: priority, replicationQuorum: quorum });
  if (!plan.ok) return false;
  const nodeId = m.nextNodeId++;
  const row: DbNode = {
    nodeId, slot: node.slot, name: `node_${nodeId}`, host: `10.0.0.${node.slot}`, port: 5432,
    reportedState: 'init', goalState: plan.goalState, health: 'unknown', healthCheckedAt: null,
    reportedAt: world.t, goalChangedAt: world.t, keeperGoalState: null, reportedLsn: 0n, reportedTimeline: 1, pgIsRunning: false,
    replicationState: 'unknown', candidatePriority: priority, replicationQuorum: quorum, nextHealthCheckAt: world.t,
  };
  m.nodes.push(row);
  m.configuredPriority.set(nodeId, priority);
  if (plan.numberSyncStandbys !== null) m.nss = plan.numberSyncStandbys;
  m.dirty = true;
  node.nodeId = nodeId;
  node.name = row.name;
  if (node.state !== 'dropped') node.state = 'init';
  node.goal = plan.goalState;
  log(world, `monitor: registered node ${nodeId} (slot ${node.slot}) with goal ${plan.goalState}, priority ${priority}, quorum ${quorum}`);
  return true;
}
