/**
 * The model's keeper: one loop iteration per period (sooner after a
 * transition or a NOTIFY): report with node_active, then run the table's
 * transition (current -> goal), at once or late. Transitions are atomic:
 * a crash before the end leaves the state file unchanged, and the next
 * run redoes them (the table promises idempotent actions).
 */
import { findTransition, isWritableState, type KeeperAction, type NodeState, type SyncState } from '../../../../src/fsm/index.js';
import { afterNodeActive, awaitRound, heldUntil, onReportFailure } from './failsafe.js';
import { processCall } from './monitor.js';
import { followPrimary, primaryNode, runAction } from './actions.js';
import { SLOT_MONITOR, log, reachable, violate, type Call, type SimNode, type World } from './world.js';

const CALL_TIMEOUT_MS = 2000;

const RUNNING_STATES: ReadonlySet<NodeState> = new Set<NodeState>([
  'single', 'wait_primary', 'primary', 'join_primary', 'apply_settings', 'prepare_promotion', 'stop_replication',
  'secondary', 'catchingup', 'report_lsn',
]);
const STOPPED_STATES: ReadonlySet<NodeState> = new Set<NodeState>(['draining', 'demote_timeout', 'demoted']);

export function keeperStep(world: World, node: SimNode): void {
  if (node.retired || !node.alive || !node.keeperUp || node.frozen) return;
  if (node.busy !== null) {
    if (world.t < node.busy.until) return;
    const to = node.busy.to;
    node.busy = null;
    finishTransition(world, node, to);
    return;
  }
  if (node.call !== null) {
    resolveCall(world, node, node.call);
    return;
  }
  if (awaitRound(world, node)) return;
  if (world.t < node.nextLoopAt) return;

  // The keeper's own fence: a writable state without a lease goes to demote_timeout (a table edge).
  if (isWritableState(node.state) && world.t >= node.leaseUntil && node.pg.hasData) {
    log(world, `node ${node.nodeId}: write lease ran out in ${node.state}, fencing`);
    if (findTransition(node.state, 'demote_timeout') === undefined) {
      violate(world, 'missing-keeper-edge', `node ${node.nodeId} cannot fence itself from ${node.state}`);
      return;
    }
    finishTransition(world, node, 'demote_timeout');
  }
  sendCall(world, node);
}

function report(node: SimNode, world: World): Call['report'] {
  const running = node.pg.running && node.alive;
  const sync: SyncState = 'unknown';
  return {
    state: node.state,
    goal: node.goal,
    pgIsRunning: running,
    tli: running && node.pg.hasData ? world.tls.number(node.pg.pos) : 0,
    lsn: running && node.pg.hasData ? node.pg.pos.lsn : 0,
    sync,
  };
}

function sendCall(world: World, node: SimNode): void {
  const m = world.monitor;
  if (!m.up || !reachable(world, node.slot, SLOT_MONITOR)) {
    node.nextLoopAt = world.t + world.loopMs;
    onReportFailure(world, node);
    return;
  }
  const rng = world.rng;
  const roll = world.faults ? rng.float() : 1;
  const delayed = roll < 0.03;
  const lost = roll >= 0.03 && roll < 0.045;
  const responseLost = roll >= 0.045 && roll < 0.06;
  const call: Call = {
    nodeId: node.nodeId,
    slot: node.slot,
    sentAt: world.t,
    deliverAt: lost ? null : delayed ? world.t + rng.between(100, 5000) : world.t,
    responseLost,
    timeoutAt: world.t + CALL_TIMEOUT_MS,
    report: report(node, world),
    processed: false,
    goal: null,
    unknownNode: false,
  };
  node.call = call;
  if (call.deliverAt === world.t) processCall(world, call);
  resolveCall(world, node, call);
}

/**
 * The monitor side of calls in flight. A call the keeper gave up on is
 * never processed afterwards: the keeper resets its connection on timeout,
 * so that reports reach the monitor in the order they were sent (the
 * lease evidence of lease.ts relies on it).
 */
export function deliverCalls(world: World): void {
  for (const node of world.nodes) {
    const c = node.call;
    if (c !== null && !c.processed && c.deliverAt !== null && world.t >= c.deliverAt) deliver(world, c);
  }
}

function deliver(world: World, call: Call): void {
  if (world.monitor.up && reachable(world, call.slot, SLOT_MONITOR)) processCall(world, call);
  else call.processed = true;
}

function resolveCall(world: World, node: SimNode, call: Call): void {
  const answered = call.processed && call.deliverAt !== null && !call.responseLost && call.deliverAt <= call.timeoutAt;
  if (answered) {
    node.call = null;
    onAnswer(world, node, call);
    return;
  }
  if (world.t < call.timeoutAt) return;
  node.call = null;
  node.nextLoopAt = world.t + world.loopMs;
  onReportFailure(world, node);
}

function onAnswer(world: World, node: SimNode, call: Call): void {
  if (call.unknownNode) {
    // Postgres is left running: the write lease fence stops it if it was a primary.
    log(world, `node ${node.nodeId}: the monitor no longer knows this node; the keeper exits`);
    node.retired = true;
    return;
  }
  const goal = call.goal;
  if (goal === null) return;
  node.goal = goal;
  if (isWritableState(goal)) node.leaseUntil = Math.max(node.leaseUntil, call.sentAt + world.settings.leaseMs);
  afterNodeActive(world, node, goal);
  node.nextLoopAt = world.t + world.loopMs;
  if (goal === node.state) {
    ensureState(node, world);
    return;
  }
  // The vouch promise holds off a transition that stops streaming or promotes (the keeper retries next round).
  const held = heldUntil(world, node, goal);
  if (held !== null) {
    world.stats.promiseHolds += 1;
    log(world, `node ${node.nodeId}: holds ${node.state} -> ${goal} until ${(held / 1000).toFixed(3)}s (vouch promise)`);
    return;
  }
  // spec 02 §6.1 step 5: ensure the current state first, except around demotions.
  const demoting = (st: NodeState): boolean => STOPPED_STATES.has(st);
  if (!demoting(goal) && !demoting(node.state) && node.state !== 'secondary') ensureState(node, world);
  const edge = findTransition(node.state, goal);
  if (edge === undefined) {
    violate(world, 'missing-keeper-edge', `node ${node.nodeId} has no transition from ${node.state} to ${goal}`);
    return;
  }
  if (world.faults && world.rng.chance(0.15)) {
    node.busy = { until: world.t + world.rng.between(100, 1500), to: goal };
    return;
  }
  finishTransition(world, node, goal);
}

function finishTransition(world: World, node: SimNode, to: NodeState): void {
  const edge = findTransition(node.state, to);
  if (edge === undefined) return;
  const action: KeeperAction = edge.action;
  const done = runAction(world, node, action, to);
  world.edgesSeen.add(`${node.state}>${to}`);
  if (!done) {
    log(world, `node ${node.nodeId}: ${node.state} -> ${to} (${action}) failed, retrying`);
    node.nextLoopAt = world.t + world.loopMs;
    return;
  }
  log(world, `node ${node.nodeId}: ${node.state} -> ${to} (${action})`);
  node.state = to;
  node.nextLoopAt = world.t;
}

/**
 * spec 02 §6.4: keep Postgres as the current state wants it. A standby in
 * catchingup or secondary also follows the node get_primary names, when
 * it followed another one (it missed an election while it was down).
 */
function ensureState(node: SimNode, world: World): void {
  const pg = node.pg;
  if ((node.state === 'catchingup' || node.state === 'secondary') && node.goal === node.state && pg.hasData) {
    const primary = primaryNode(world);
    if (primary !== undefined && pg.upstream !== primary.nodeId && isWritableState(primary.goal)) followPrimary(world, node);
  }
  // In report_lsn Postgres never streams: a failed follow_primary may have configured an upstream.
  if (node.state === 'report_lsn' && pg.hasData && pg.upstream !== null) {
    pg.upstream = null;
    pg.streamingFrom = null;
    pg.running = true;
  }
  if (RUNNING_STATES.has(node.state) && !pg.running && pg.hasData) {
    if (isWritableState(node.state) && world.t >= node.leaseUntil) return;
    pg.running = true;
  } else if (STOPPED_STATES.has(node.state) && pg.running) {
    stopPostgres(node);
  }
}

export function stopPostgres(node: SimNode): void {
  node.pg.running = false;
  node.pg.pending = [];
  node.pg.streamingFrom = null;
}
