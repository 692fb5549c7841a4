/**
 * The simulated Postgres instances: WAL written only on a node that may
 * accept writes (promoted, read-write, holding its lease), streamed to
 * standbys, and commits acknowledged only as synchronous_standby_names
 * allows. Also the checks tied to WAL: acknowledged writes form one
 * history and survive every promotion.
 */
import { log, pgServes, reachable, simNodeById, violate, type SimNode, type World } from './world.js';
import type { Pos } from './timelines.js';

/** The node's Postgres may acknowledge a write now or after a SIGCONT: its write lease still runs. */
export function writeCapable(world: World, node: SimNode): boolean {
  const pg = node.pg;
  return node.alive && pg.running && pg.promoted && !pg.readOnly && world.t < node.leaseUntil;
}

/** The node-level fence of DESIGN.md: Postgres dies when its lease is over, whatever the keeper does. */
export function fence(world: World, node: SimNode): void {
  const pg = node.pg;
  if (!node.alive || node.frozen || !pg.running || !pg.promoted || pg.readOnly) return;
  if (world.t < node.leaseUntil) return;
  log(world, `node ${node.nodeId}: write lease over, Postgres killed`);
  pg.running = false;
  pg.pending = [];
}

export function stream(world: World, node: SimNode): void {
  const pg = node.pg;
  pg.streamingFrom = null;
  if (!pgServes(node) || pg.promoted || pg.upstream === null) return;
  const up = simNodeById(world, pg.upstream);
  if (up === undefined || !pgServes(up) || !up.pg.hasData || !reachable(world, node.slot, up.slot)) return;
  if (!world.tls.contains(pg.pos, up.pg.pos)) return; // diverged: needs a rewind
  pg.streamingFrom = up.nodeId;
  if (pg.pos.lsn === up.pg.pos.lsn) {
    pg.pos = up.pg.pos;
    return;
  }
  if (world.rng.chance(0.6)) {
    pg.pos = up.pg.pos;
  } else {
    const lsn = pg.pos.lsn + Math.floor(world.rng.float() * (up.pg.pos.lsn - pg.pos.lsn));
    pg.pos = world.tls.at(up.pg.pos, lsn);
  }
}

export function write(world: World, node: SimNode): void {
  if (node.frozen || !writeCapable(world, node) || !world.rng.chance(0.5)) return;
  const pg = node.pg;
  pg.pos = { tl: pg.pos.tl, lsn: pg.pos.lsn + world.rng.between(1, world.writeBytes) };
  pg.pending.push(pg.pos);
}

/** Acknowledge the commits synchronous_standby_names allows. */
export function acknowledge(world: World, node: SimNode): void {
  const pg = node.pg;
  if (pg.pending.length === 0 || node.frozen || !writeCapable(world, node)) return;
  const names = pg.ssn;
  if (names === null) {
    ackAll(world, node);
    return;
  }
  const partners: Pos[] = [];
  for (const id of names.ids) {
    const s = simNodeById(world, id);
    if (s !== undefined && pgServes(s) && s.pg.streamingFrom === node.nodeId) partners.push(s.pg.pos);
  }
  let done = 0;
  for (const commit of pg.pending) {
    const copies = partners.filter((p) => world.tls.contains(commit, p)).length;
    if (copies < names.n) break;
    ack(world, node, commit);
    done += 1;
  }
  if (done > 0) pg.pending.splice(0, done);
}

export function ackAll(world: World, node: SimNode): void {
  if (!writeCapable(world, node)) {
    node.pg.pending = [];
    return;
  }
  for (const commit of node.pg.pending) ack(world, node, commit);
  node.pg.pending = [];
}

function ack(world: World, node: SimNode, commit: Pos): void {
  world.stats.acks += 1;
  // Which acknowledged writes the FSM protects (docs/fsm.md): those made
  // under a non-empty synchronous_standby_names, and those made with an
  // empty one in wait_primary or single while the group has a quorum
  // standby (business continuity: no failover from there, and the way back
  // to primary waits for a standby to catch up). An empty value in primary
  // means every standby was asynchronous when it was fetched: such writes
  // may be lost by a failover, by design (spec 01 §6.4).
  const businessContinuity = (node.state === 'wait_primary' || node.state === 'single') && hasQuorumStandby(world, node.nodeId);
  if (node.pg.ssn === null && !businessContinuity) return;
  // A node the operator removed by force is no longer protected.
  if (!world.monitor.nodes.some((n) => n.nodeId === node.nodeId)) return;
  const sysid = world.tls.sysid(commit);
  const tip = world.acked.get(sysid);
  if (tip !== undefined && !world.tls.contains(tip, commit)) {
    violate(world, 'acknowledged-writes-diverged', `node ${node.nodeId} acknowledged ${world.tls.describe(commit)}, `
      + `which does not extend the acknowledged history ending at ${world.tls.describe(tip)}`);
  }
  world.acked.set(sysid, commit);
}

export function hasQuorumStandby(world: World, primaryId: number): boolean {
  return world.monitor.nodes.some((n) => n.nodeId !== primaryId && n.goalState !== 'dropped' && n.replicationQuorum);
}

/**
 * At a promotion: no acknowledged write is lost, no reported candidate is
 * ahead, and the new timeline number is new to the group. Postgres numbers
 * the new timeline from the local history (parent + 1), so promoting a
 * node while another node of the group may hold that number or a higher
 * one makes two histories with one number, and the election's (timeline,
 * LSN) comparison unsound (docs/fsm.md).
 */
export function checkPromotion(world: World, node: SimNode): void {
  const pos = node.pg.pos;
  const next = world.tls.number(pos) + 1;
  for (const other of world.nodes) {
    if (other === node || other.retired || !other.pg.hasData || world.tls.sysid(other.pg.pos) !== world.tls.sysid(pos)) continue;
    if (!world.monitor.nodes.some((n) => n.nodeId === other.nodeId && n.goalState !== 'dropped')) continue;
    if (world.tls.number(other.pg.pos) >= next) {
      violate(world, 'timeline-number-reused', `node ${node.nodeId} promoted at ${world.tls.describe(pos)} to timeline ${next}, `
        + `while node ${other.nodeId} of the group holds ${world.tls.describe(other.pg.pos)}`);
    }
  }
  const tip = world.acked.get(world.tls.sysid(pos));
  if (tip !== undefined && !world.tls.contains(tip, pos)) {
    violate(world, 'promotion-lost-acknowledged-write', `node ${node.nodeId} promoted at ${world.tls.describe(pos)} `
      + `without the acknowledged write ${world.tls.describe(tip)}`);
  }
  // Candidates are compared as the election does: timeline number, then LSN
  // (a diverged old primary on an older timeline is not ahead).
  const tli = world.tls.number(pos);
  for (const { nodeId, pos: floor } of world.electionFloor.get(node.nodeId) ?? []) {
    if (!world.monitor.nodes.some((n) => n.nodeId === nodeId)) continue; // removed by the operator since
    const floorTli = world.tls.number(floor);
    if (floorTli > tli || (floorTli === tli && floor.lsn > pos.lsn)) {
      violate(world, 'promoted-behind-candidate', `node ${node.nodeId} promoted at ${world.tls.describe(pos)} `
        + `behind a reported candidate at ${world.tls.describe(floor)}`);
    }
  }
  world.electionFloor.delete(node.nodeId);
}

/** Never two nodes able to acknowledge a write at the same time. */
export function checkSingleWriter(world: World): void {
  let writers = 0;
  for (const n of world.nodes) if (writeCapable(world, n)) writers += 1;
  if (writers > 1) {
    const ids = world.nodes.filter((n) => writeCapable(world, n)).map((n) => n.nodeId);
    violate(world, 'two-writers', `nodes ${ids.join(', ')} can acknowledge writes at the same time`);
  }
}
