/**
 * Random faults and operator commands of a schedule: crashes and restarts
 * of machines, keepers, Postgres and the monitor; SIGSTOP/SIGCONT of a
 * node; network cuts between any two of monitor and nodes; and every
 * operator command the monitor accepts.
 */
import { conv, groupOf, isWritableState, vouchPromiseEnd } from '../../../../src/fsm/index.js';
import { stopPostgres } from './keeper.js';
import {
  registerNode, requestFailover, requestMaintenance, requestPromotion, requestRemoval, setNumberSyncStandbys, setPriority, setQuorum, startMonitor,
} from './monitor.js';
import { SLOT_MONITOR, log, type SimNode, type World } from './world.js';

export const MAX_SLOTS = 5;

export function newSimNode(world: World, slot: number): SimNode {
  return {
    slot, nodeId: -1, name: `slot_${slot}`, alive: true, keeperUp: true, frozen: false, retired: false,
    state: 'init', goal: 'init', leaseUntil: 0, nextLoopAt: world.t, busy: null, call: null, syncTarget: null,
    peers: null, lastGrantAnsweredAt: null, knownPrimary: null, promiseEnd: null, round: null,
    pg: {
      running: false, hasData: false, pos: { tl: 0, lsn: 0 }, promoted: false, readOnly: false, upstream: null,
      recoveryTarget: null, ssn: null, pending: [], streamingFrom: null, operatorControlled: false,
    },
  };
}

/** A keeper not registered yet registers (pg_autoctl create postgres). */
export function register(world: World, node: SimNode): void {
  if (node.nodeId >= 0 || !node.alive || !node.keeperUp || node.frozen || world.t < node.nextLoopAt) return;
  const rng = world.rng;
  const first = world.monitor.nodes.length === 0;
  const priority = first ? rng.pick([50, 100]) : rng.pick([50, 50, 50, 100, 0, 10]);
  const quorum = first || rng.chance(world.failsafeFocus ? 0.4 : 0.85);
  if (!registerNode(world, node, priority, quorum)) node.nextLoopAt = world.t + world.loopMs;
}

function crash(world: World, node: SimNode): void {
  log(world, `fault: machine of node ${node.nodeId} crashes`);
  node.alive = false;
  node.busy = null;
  node.call = null;
  forgetKeeperMemory(node);
  // The promise file holds an end on CLOCK_MONOTONIC with the boot id: after
  // the reboot the time left is unknown (src/keeper/failsafe-state.ts
  // loadPromise), so a file left behind is held a whole lease from the boot.
  if (node.promiseEnd !== null) node.promiseEnd = Number.POSITIVE_INFINITY;
  stopPostgres(node);
}

/** What a keeper keeps only in memory (the peer list and the promise are in files). */
function forgetKeeperMemory(node: SimNode): void {
  node.round = null;
  node.knownPrimary = null;
  node.lastGrantAnsweredAt = null;
}

function keeperCrash(world: World, node: SimNode): void {
  log(world, `fault: keeper of node ${node.nodeId} crashes (Postgres keeps running)`);
  node.keeperUp = false;
  node.busy = null;
  node.call = null;
  forgetKeeperMemory(node);
}

/** The machine boots again: a promise file of the previous boot is held a whole lease (and margin) from now. */
export function boot(world: World, node: SimNode): void {
  node.alive = true;
  if (node.promiseEnd === Number.POSITIVE_INFINITY) node.promiseEnd = vouchPromiseEnd(world.t, world.settings.leaseMs);
}

function restart(world: World, node: SimNode): void {
  log(world, `fault: node ${node.nodeId} restarts`);
  boot(world, node);
  node.keeperUp = true;
  node.frozen = false;
  node.nextLoopAt = world.t;
}

function cutOrHeal(world: World, heal: boolean): void {
  const a = world.rng.int(MAX_SLOTS + 1);
  const b = world.rng.int(MAX_SLOTS + 1);
  if (a === b) return;
  const row = world.links[a];
  const back = world.links[b];
  if (row === undefined || back === undefined) return;
  if (row[b] === heal) return;
  row[b] = heal;
  back[a] = heal;
  log(world, `fault: link ${a}-${b} ${heal ? 'healed' : 'cut'}`);
}

/**
 * The failsafe's case: the primary loses the monitor and still reaches its
 * standbys. Sometimes some or all standbys lose the monitor too (they keep
 * vouching, unaware of any failover), and sometimes a new machine joins
 * meanwhile, reaching the monitor and the primary.
 */
function cutPrimaryFromMonitor(world: World): void {
  const primary = world.nodes.find((n) => !n.retired && isWritableState(n.state));
  if (primary === undefined) return;
  cutFromMonitor(world, primary);
  // None, some, or all of the other nodes lose the monitor too.
  const share = world.rng.pick([0, 0.5, 1]);
  for (const node of world.nodes) {
    if (node !== primary && !node.retired && world.rng.chance(share)) cutFromMonitor(world, node);
  }
  if (world.rng.chance(0.4)) addNode(world);
}

function cutFromMonitor(world: World, node: SimNode): void {
  const row = world.links[node.slot];
  const monitor = world.links[SLOT_MONITOR];
  if (row === undefined || monitor === undefined || !row[SLOT_MONITOR]) return;
  row[SLOT_MONITOR] = false;
  monitor[node.slot] = false;
  log(world, `fault: link ${SLOT_MONITOR}-${node.slot} cut (node ${node.nodeId} in ${node.state} from the monitor only)`);
}

function healMonitorLinks(world: World): void {
  const monitor = world.links[SLOT_MONITOR];
  if (monitor === undefined) return;
  for (let slot = 1; slot <= MAX_SLOTS; slot += 1) {
    const row = world.links[slot];
    if (row === undefined || row[SLOT_MONITOR]) continue;
    row[SLOT_MONITOR] = true;
    monitor[slot] = true;
    log(world, `fault: link ${SLOT_MONITOR}-${slot} healed`);
  }
}

export function injectFaults(world: World): void {
  const rng = world.rng;
  const m = world.monitor;
  for (const node of world.nodes) {
    if (node.retired) continue;
    if (node.alive) {
      if (rng.chance(0.003)) crash(world, node);
      else if (node.keeperUp && rng.chance(0.002)) keeperCrash(world, node);
      else if (node.pg.running && rng.chance(0.002)) {
        log(world, `fault: Postgres of node ${node.nodeId} crashes`);
        stopPostgres(node);
      } else if (!node.frozen && rng.chance(0.002)) {
        log(world, `fault: node ${node.nodeId} frozen`);
        node.frozen = true;
      }
    }
    if (!node.alive && rng.chance(0.02)) restart(world, node);
    else if (node.alive && !node.keeperUp && rng.chance(0.03)) restart(world, node);
    else if (node.frozen && rng.chance(0.03)) {
      log(world, `fault: node ${node.nodeId} resumed`);
      node.frozen = false;
    }
    if (node.pg.operatorControlled && node.alive && !node.frozen && node.pg.hasData && rng.chance(0.01)) {
      node.pg.running = !node.pg.running;
      if (!node.pg.running) stopPostgres(node);
      log(world, `operator: Postgres of node ${node.nodeId} in maintenance ${node.pg.running ? 'started' : 'stopped'}`);
    }
  }
  if (rng.chance(0.006)) cutOrHeal(world, false);
  if (rng.chance(0.02)) cutOrHeal(world, true);
  if (rng.chance(world.failsafeFocus ? 0.015 : 0.003)) cutPrimaryFromMonitor(world);
  else if (rng.chance(0.01)) healMonitorLinks(world);
  if (m.up && rng.chance(0.0015)) {
    log(world, 'fault: monitor crashes');
    m.up = false;
  } else if (!m.up && rng.chance(0.03)) {
    log(world, 'fault: monitor restarts');
    startMonitor(world);
  }
  if (m.up && rng.chance(0.012)) operatorCommand(world);
}

function operatorCommand(world: World): void {
  const rng = world.rng;
  const group = groupOf(world.monitor.nodes);
  const target = group.length === 0 ? undefined : rng.pick(group);
  const roll = rng.int(100);
  if (roll < 14) requestFailover(world, 'failover');
  else if (roll < 24) requestFailover(world, 'switchover');
  else if (roll < 34) {
    if (target !== undefined) requestPromotion(world, target.nodeId);
  } else if (roll < 48) {
    if (target !== undefined) requestMaintenance(world, target.nodeId, true);
  } else if (roll < 62) {
    const inMaintenance = group.filter((n) => conv(n, 'maintenance') || conv(n, 'prepare_maintenance'));
    if (inMaintenance.length > 0) requestMaintenance(world, rng.pick(inMaintenance).nodeId, false);
  } else if (roll < 72) {
    if (target !== undefined) setPriority(world, target.nodeId, rng.pick([0, 10, 50, 50, 100]));
  } else if (roll < 80) {
    if (target !== undefined) setQuorum(world, target.nodeId, rng.chance(0.6));
  } else if (roll < 87) {
    setNumberSyncStandbys(world, rng.int(3));
  } else if (roll < 93) {
    if (target !== undefined && group.length > 1) {
      const force = rng.chance(0.15);
      requestRemoval(world, target.nodeId, force);
      // pg_autoctl drop node --force is for a machine that is gone: it is shut down.
      const machine = world.nodes.find((n) => n.nodeId === target.nodeId && !n.retired);
      if (force && machine !== undefined) crash(world, machine);
    }
  } else {
    addNode(world);
  }
}

/** A new machine joins in a free slot (a removed node's slot is reused by a new node). */
export function addNode(world: World): void {
  const group = groupOf(world.monitor.nodes);
  if (group.length >= 4) return;
  for (let slot = 1; slot <= MAX_SLOTS; slot += 1) {
    const current = world.nodes.find((n) => n.slot === slot && !n.retired);
    if (current !== undefined) continue;
    const node = newSimNode(world, slot);
    // Sometimes the machine of a removed node registers again, its old data and state file kept.
    const previous = world.nodes.find((n) => n.slot === slot && n.retired && n.state === 'dropped');
    if (previous !== undefined && world.rng.chance(0.5)) {
      node.state = 'dropped';
      node.pg = { ...previous.pg, running: false, pending: [], streamingFrom: null, upstream: null };
      stopPostgres(previous);
    }
    world.nodes.push(node);
    log(world, `operator: new machine in slot ${slot}`);
    return;
  }
}
