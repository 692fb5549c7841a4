/**
 * The failsafe in the model (src/fsm/failsafe.ts has the rules, used here
 * as they are; src/keeper/failsafe.ts the real keeper's side):
 *
 * - after each successful node_active a keeper fetches its peer list (the
 *   other nodes of the group in the monitor's DB, goal not dropped) and the
 *   primary get_other_nodes names; each fetch may fail. A grant makes the
 *   list stale until the next fetch (freshForLease);
 * - a primary whose node_active fails (refused, lost, timed out) and whose
 *   lease still runs sends a question to every node of its list; the
 *   questions and answers are messages of the simulated network: delivered
 *   at once, late (reordered with others), or lost, and only between nodes
 *   that reach each other when sent and when delivered;
 * - a voucher answers with vouchVerdict() and, on yes, records its promise;
 *   the keeper holds every transition heldByPromise() until it ends;
 * - the round extends the lease to vouchedLeaseEnd() when roundSucceeded().
 *
 * One clock for everyone: the clock-rate margin is not exercised here
 * (test/unit/fsm/failsafe.test.ts covers it).
 */
import { heldByPromise, isWritableState, roundSucceeded, vouchPromiseEnd, vouchVerdict, vouchedLeaseEnd, type NodeState } from '../../../../src/fsm/index.js';
import { SLOT_MONITOR, log, pgServes, reachable, simNodeById, type Message, type SimNode, type World } from './world.js';

/** The host of a node, as the monitor's DB and primary_conninfo name it. */
export function hostOf(slot: number): string {
  return `10.0.0.${slot}`;
}

/** What the real keeper waits for each answer (vouchRound in src/keeper/failsafe.ts). */
export function roundTimeoutMs(leaseMs: number): number {
  return Math.max(200, Math.min(1000, Math.floor(leaseMs / 10)));
}

/** node_active answered with `goal`: noteLeaseGrant, then get_other_nodes and failsafe_peers (each may fail). */
export function afterNodeActive(world: World, node: SimNode, goal: NodeState): void {
  if (isWritableState(goal)) {
    node.lastGrantAnsweredAt = world.t;
    if (node.peers !== null) node.peers.freshForLease = false;
  }
  const m = world.monitor;
  const fails = (): boolean => !m.up || !reachable(world, node.slot, SLOT_MONITOR) || (world.faults && world.rng.chance(0.05));
  const others = m.nodes.filter((n) => n.nodeId !== node.nodeId && n.goalState !== 'dropped').sort((a, b) => a.nodeId - b.nodeId);
  if (!fails()) node.knownPrimary = others.find((n) => isWritableState(n.reportedState))?.nodeId ?? null;
  if (fails()) {
    log(world, `node ${node.nodeId}: failed to fetch the failsafe peers`);
    return;
  }
  node.peers = {
    peers: others.map((n) => ({ nodeId: n.nodeId, host: n.host, port: n.port })),
    fetchedAt: world.t,
    freshForLease: node.lastGrantAnsweredAt === null || world.t >= node.lastGrantAnsweredAt,
  };
}

/** node_active failed: a primary still holding its lease runs a vouch round. */
export function onReportFailure(world: World, node: SimNode): void {
  if (!isWritableState(node.state) || world.t >= node.leaseUntil) return;
  world.stats.vouchRounds += 1;
  const list = node.peers;
  if (list === null || list.peers.length === 0) return;
  if (!list.freshForLease) {
    log(world, `node ${node.nodeId}: no vouch round, the peer list is older than the last lease grant`);
    return;
  }
  const leaseMs = world.settings.leaseMs;
  const round = {
    id: world.nextRoundId++, sentAt: world.t, asked: list.peers.map((p) => p.nodeId), yes: new Set<number>(), answered: new Set<number>(),
    deadline: world.t + roundTimeoutMs(leaseMs),
  };
  node.round = round;
  log(world, () => `node ${node.nodeId}: vouch round ${round.id} asks nodes ${round.asked.join(', ')}`);
  for (const peer of list.peers) {
    const slot = Number(peer.host.replace('10.0.0.', ''));
    send(world, {
      kind: 'question', fromNodeId: node.nodeId, fromSlot: node.slot, toNodeId: peer.nodeId, toSlot: slot, roundId: round.id,
      leaseMs, yes: false, sentAt: world.t, deliverAt: world.t,
    });
  }
}

/** Into the network: at once (most often), late, or lost; a cut link refuses it. */
function send(world: World, msg: Message): void {
  if (!reachable(world, msg.fromSlot, msg.toSlot)) return;
  const roll = world.faults ? world.rng.float() : 1;
  if (roll < 0.04) {
    log(world, `net: ${msg.kind} of round ${msg.roundId} ${msg.fromNodeId}->${msg.toNodeId} lost`);
    return;
  }
  if (roll < 0.14) {
    msg.deliverAt = world.t + world.rng.between(1, 2 * roundTimeoutMs(msg.leaseMs));
    world.messages.push(msg);
    return;
  }
  deliver(world, msg);
}

/** Messages in flight whose time has come, in a random order. */
export function deliverMessages(world: World): void {
  if (world.messages.length === 0) return;
  const due = world.messages.filter((m) => m.deliverAt <= world.t);
  world.messages = world.messages.filter((m) => m.deliverAt > world.t);
  while (due.length > 0) {
    const [msg] = due.splice(world.rng.int(due.length), 1);
    if (msg !== undefined) deliver(world, msg);
  }
}

function deliver(world: World, msg: Message): void {
  const to = simNodeById(world, msg.toNodeId);
  // The machine at that address is another node, down, or its keeper (the HTTP listener) is.
  if (to === undefined || to.slot !== msg.toSlot || !to.alive || !to.keeperUp || !reachable(world, msg.fromSlot, msg.toSlot)) return;
  if (to.frozen) {
    // SIGSTOP: the request waits in the socket until SIGCONT.
    msg.deliverAt = world.t + 1;
    world.messages.push(msg);
    return;
  }
  if (msg.kind === 'question') answer(world, to, msg);
  else receiveAnswer(world, to, msg);
}

/** The voucher side (answerQuestion in src/keeper/failsafe.ts). */
function answer(world: World, node: SimNode, q: Message): void {
  const requester = node.peers?.peers.find((p) => p.nodeId === q.fromNodeId);
  let yes = false;
  let reason = 'the requester is not on this node\'s peer list';
  if (requester !== undefined) {
    const up = node.pg.streamingFrom === null || !pgServes(node) ? undefined : simNodeById(world, node.pg.streamingFrom);
    const verdict = vouchVerdict({
      goal: node.goal,
      knownPrimaryNodeId: node.knownPrimary,
      streamingFrom: up === undefined ? null : { host: hostOf(up.slot), port: 5432 },
      sameGroup: true,
    }, requester);
    yes = verdict.yes;
    reason = verdict.yes ? 'streaming from it' : verdict.reason;
  }
  if (yes) {
    const end = vouchPromiseEnd(world.t, q.leaseMs);
    node.promiseEnd = node.promiseEnd === null ? end : Math.max(node.promiseEnd, end);
    world.stats.vouchYes += 1;
  }
  log(world, `node ${node.nodeId}: ${yes ? 'vouches' : 'does not vouch'} for node ${q.fromNodeId} (round ${q.roundId}): ${reason}`);
  send(world, {
    kind: 'answer', fromNodeId: node.nodeId, fromSlot: node.slot, toNodeId: q.fromNodeId, toSlot: q.fromSlot, roundId: q.roundId,
    leaseMs: q.leaseMs, yes, sentAt: world.t, deliverAt: world.t,
  });
}

/** An answer counts only for the round in flight that asked it, before its deadline (the nonce check). */
function receiveAnswer(world: World, node: SimNode, a: Message): void {
  const round = node.round;
  if (round === null || round.id !== a.roundId || world.t >= round.deadline) return;
  round.answered.add(a.fromNodeId);
  if (a.yes) round.yes.add(a.fromNodeId);
}

/** The keeper waits for its round: every answer in, or the deadline. Returns true while it still waits. */
export function awaitRound(world: World, node: SimNode): boolean {
  const round = node.round;
  if (round === null) return false;
  if (world.t < round.deadline && !round.asked.every((id) => round.answered.has(id))) return true;
  node.round = null;
  node.nextLoopAt = world.t + world.loopMs;
  const extended = roundSucceeded(round.asked, round.yes) && world.t < node.leaseUntil;
  if (extended) {
    node.leaseUntil = Math.max(node.leaseUntil, vouchedLeaseEnd(round.sentAt, world.settings.leaseMs));
    world.stats.vouchExtensions += 1;
  }
  log(world, `node ${node.nodeId}: vouch round ${round.id} ${extended ? `extends the lease to ${(node.leaseUntil / 1000).toFixed(3)}s` : 'extends nothing'} `
    + `(yes from ${[...round.yes].join(', ') || 'none'})`);
  return false;
}

/** The promise gate (promiseHoldMs): a transition to `goal` waits while the promise runs. */
export function heldUntil(world: World, node: SimNode, goal: NodeState): number | null {
  const end = node.promiseEnd;
  if (end === null || world.t >= end || !heldByPromise(goal)) return null;
  return end;
}
