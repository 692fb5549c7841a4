/**
 * The model's monitor: its database rows, node_active, health checks,
 * the operator SQL functions (with spec 03's validation), and the service
 * running the production brain shell over the in-memory GroupStore.
 */
import type { Logger } from '../../../../src/common/log.js';
import { createBrainShell } from '../../../../src/monitor/brain.js';
import {
  findTransition, isWritableState, planRegistration, validateCandidatePriority, validateNumberSyncStandbys, validateReplicationQuorum,
  writableNode, conv, groupOf, type Decision, type GroupSnapshot, type OperatorRequest,
} from '../../../../src/fsm/index.js';
import { memoryGroupStore } from './group-store-memory.js';
import { hasQuorumStandby } from './postgres.js';
import type { Pos } from './timelines.js';
import { SLOT_MONITOR, dbNodeById, log, pgServes, reachable, simNodeById, violate, type Call, type DbNode, type SimNode, type World } from './world.js';

/** The monitor (its database and service) starts: a new brain, with no memory of earlier lease grants. */
export function startMonitor(world: World): void {
  const m = world.monitor;
  m.up = true;
  m.startedAt = world.t;
  m.dirty = true;
  m.shell = createBrainShell({
    store: memoryGroupStore(world), log: { info: () => undefined } as unknown as Pick<Logger, 'info'>,
    settings: () => world.settings, clock: () => world.t,
  });
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
  if (isWritableState(row.goalState)) row.leaseGrantedAt = world.t;
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

/**
 * The monitor service's decision loop: the shared brain shell
 * (src/monitor/brain.ts) over the in-memory GroupStore, when a
 * notification arrived (dirty), at the decision tick, or at the recheck
 * time; then the model's checks on the decision and on the rows written.
 */
export function runBrain(world: World): void {
  const m = world.monitor;
  if (!m.up || m.shell === null) return;
  const due = m.dirty || world.t - m.lastDecideAt >= 1000 || (m.recheckAt !== null && world.t >= m.recheckAt);
  if (!due) return;
  m.dirty = false;
  m.lastDecideAt = world.t;
  const outcome = m.shell.decideGroup('default', 0);
  if (outcome instanceof Promise) throw new Error('the in-memory brain decides synchronously');
  m.recheckAt = m.shell.nextRecheck();
  if (outcome.kind !== 'decided' || outcome.snapshot === undefined) return;
  const { decision, snapshot } = outcome;
  world.stats.decisions += 1;
  world.stats.assignments += decision.assignments.length;
  checkDecision(world, snapshot, decision);
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

/**
 * register_node for a keeper starting on `node` (state init): validates
 * with planRegistration, inserts the row with goal init and raises
 * number_sync_standbys; the brain assigns the first goal (rule J1, or P3
 * for the first node).
 */
export function registerNode(world: World, node: SimNode, priority: number, quorum: boolean): boolean {
  const m = world.monitor;
  if (!m.up || !reachable(world, SLOT_MONITOR, node.slot)) return false;
  const plan = planRegistration(m.nodes, m.nss, true, { candidatePriority: priority, replicationQuorum: quorum });
  if (!plan.ok) return false;
  const nodeId = m.nextNodeId++;
  const row: DbNode = {
    nodeId, slot: node.slot, name: `node_${nodeId}`, host: `10.0.0.${node.slot}`, port: 5432,
    reportedState: 'init', goalState: 'init', health: 'unknown', healthCheckedAt: null,
    reportedAt: world.t, goalChangedAt: world.t, keeperGoalState: null, reportedLsn: 0n, reportedTimeline: 1, pgIsRunning: false,
    replicationState: 'unknown', candidatePriority: priority, replicationQuorum: quorum, leaseGrantedAt: null, nextHealthCheckAt: world.t,
  };
  m.nodes.push(row);
  m.configuredPriority.set(nodeId, priority);
  if (plan.numberSyncStandbys !== null) m.nss = plan.numberSyncStandbys;
  m.dirty = true;
  node.nodeId = nodeId;
  node.name = row.name;
  if (node.state !== 'dropped') node.state = 'init';
  node.goal = 'init';
  log(world, `monitor: registered node ${nodeId} (slot ${node.slot}) (planned goal ${plan.goalState}), priority ${priority}, quorum ${quorum}`);
  return true;
}
