/**
 * One schedule of the model checker: a group of 2 to 4 nodes built from a
 * seed, a fault phase (random faults and operator commands), then a quiet
 * phase (everything repaired, maintenance ended) in which the group must
 * converge to one primary and secondaries within a bounded number of steps.
 * Safety invariants are checked after every step.
 */
import { conv, groupOf, type FsmSettings } from '../../../../src/fsm/index.js';
import { MAX_SLOTS, addNode, boot, injectFaults, newSimNode, register } from './faults.js';
import { deliverMessages } from './failsafe.js';
import { deliverCalls, keeperStep } from './keeper.js';
import { healthChecks, requestMaintenance, runBrain, setPriority, startMonitor } from './monitor.js';
import { acknowledge, checkSingleWriter, fence, stream, write } from './postgres.js';
import { createRng } from './prng.js';
import { createTimelines } from './timelines.js';
import { newStats, type Violation, type World } from './world.js';

export interface ScheduleOptions {
  readonly faultSteps: number;
  /** Steps allowed, after the faults stop, to reach one primary and only secondaries. */
  readonly quietSteps: number;
  readonly trace?: boolean;
}

export interface ScheduleResult {
  readonly seed: number;
  readonly steps: number;
  readonly violations: readonly Violation[];
  readonly converged: boolean;
  readonly stats: World['stats'];
  readonly edgesSeen: ReadonlySet<string>;
  readonly trace: readonly string[];
  readonly settings: FsmSettings;
}

function createWorld(seed: number, trace: boolean): World {
  const rng = createRng(seed);
  const failsafeFocus = rng.chance(0.5);
  const loopMs = rng.between(200, 1000);
  const unhealthy = rng.between(Math.max(2000, 3 * loopMs), 6000);
  const leaseMs = rng.chance(0.8) ? rng.between(Math.max(1500, 3 * loopMs), unhealthy) : rng.between(unhealthy, 2 * unhealthy);
  const settings: FsmSettings = {
    nodeConsideredUnhealthyTimeoutMs: unhealthy,
    startupGracePeriodMs: rng.between(500, 3000),
    primaryDemoteTimeoutMs: 30_000,
    enableSyncWalLogThreshold: rng.between(2, 32) << 20,
    promoteWalLogThreshold: rng.between(2, 32) << 20,
    leaseMs,
    freshReportMs: 1000,
  };
  const world: World = {
    rng, settings, tls: createTimelines(),
    monitor: {
      up: true, startedAt: 0, nodes: [], nss: 0, standbyNames: '', removedLease: null, requests: [], nextRequestId: 1, nextNodeId: 1,
      lastDecideAt: -1e9, recheckAt: null, dirty: true, shell: null, configuredPriority: new Map(),
      epochs: seed % 2 === 0,
    },
    nodes: [],
    links: Array.from({ length: MAX_SLOTS + 1 }, () => Array.from({ length: MAX_SLOTS + 1 }, () => true)),
    messages: [], nextRoundId: 1,
    t: 0,
    loopMs,
    healthPeriodMs: rng.between(300, 1500),
    writeBytes: rng.between(64 << 10, 2 << 20),
    acked: new Map(), electionFloor: new Map(), violations: [], trace: trace ? [] : null, faults: true, failsafeFocus,
    edgesSeen: new Set(),
    stats: newStats(),
  };
  startMonitor(world);
  const count = rng.between(failsafeFocus ? 3 : 2, 4);
  for (let slot = 1; slot <= count; slot += 1) world.nodes.push(newSimNode(world, slot));
  return world;
}

function step(world: World): void {
  world.t += world.rng.between(50, 400);
  if (world.faults) injectFaults(world);
  deliverCalls(world);
  deliverMessages(world);
  for (const node of world.nodes) {
    if (node.nodeId < 0) register(world, node);
    else keeperStep(world, node);
  }
  healthChecks(world);
  runBrain(world);
  for (const node of world.nodes) fence(world, node);
  for (const node of world.nodes) stream(world, node);
  for (const node of world.nodes) write(world, node);
  for (const node of world.nodes) acknowledge(world, node);
  checkSingleWriter(world);
}

/** Everything is repaired; from now on the operator only ends maintenance and restores a candidate. */
function stopFaults(world: World): void {
  world.faults = false;
  for (const row of world.links) row.fill(true);
  for (const node of world.nodes) {
    if (node.retired) continue;
    if (!node.alive) boot(world, node);
    node.keeperUp = true;
    node.frozen = false;
  }
  if (!world.monitor.up) startMonitor(world);
  if (groupOf(world.monitor.nodes).length < 2) addNode(world);
}

function operatorRepairs(world: World): void {
  const group = groupOf(world.monitor.nodes);
  for (const n of group) {
    const pending = world.monitor.requests.some((r) => r.kind === 'maintenance' && r.nodeId === n.nodeId);
    if (!pending && (conv(n, 'maintenance') || conv(n, 'prepare_maintenance'))) {
      requestMaintenance(world, n.nodeId, false);
    }
  }
  // Priority 0 on every node holding data leaves nothing to promote: the operator gives one a priority.
  const withData = group.filter((n) => n.reportedState !== 'init' && n.reportedState !== 'wait_standby');
  const holders = withData.length > 0 ? withData : group;
  const eligible = holders.filter((n) => (world.monitor.configuredPriority.get(n.nodeId) ?? 0) > 0);
  const first = holders[0];
  if (eligible.length === 0 && first !== undefined) setPriority(world, first.nodeId, 50);
}

export function converged(world: World): boolean {
  const group = groupOf(world.monitor.nodes);
  if (group.length === 0 || world.monitor.requests.length > 0) return false;
  const only = group[0];
  if (group.length === 1 && only !== undefined) return conv(only, 'single');
  const primaries = group.filter((n) => conv(n, 'primary'));
  return primaries.length === 1 && group.every((n) => conv(n, 'primary') || conv(n, 'secondary'));
}

export function runSchedule(seed: number, options: ScheduleOptions): ScheduleResult {
  const world = createWorld(seed, options.trace ?? false);
  let steps = 0;
  let ok = false;
  while (steps < options.faultSteps && world.violations.length === 0) {
    step(world);
    steps += 1;
  }
  if (world.violations.length === 0) {
    stopFaults(world);
    let nextRepair = world.t;
    for (let quiet = 0; quiet < options.quietSteps && world.violations.length === 0; quiet += 1) {
      if (world.t >= nextRepair) {
        operatorRepairs(world);
        nextRepair = world.t + 2000;
      }
      step(world);
      steps += 1;
      if (converged(world)) {
        ok = true;
        break;
      }
    }
  }
  return {
    seed, steps, violations: world.violations, converged: ok, stats: world.stats, edgesSeen: world.edgesSeen,
    trace: world.trace ?? [], settings: world.settings,
  };
}
