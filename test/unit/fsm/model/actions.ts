/**
 * The effects of the keeper actions on the simulated Postgres, as the
 * table's comments describe them. An action returns false when it cannot
 * complete now (its source unreachable, nothing to wait for yet); the
 * keeper retries it on its next iteration.
 */
import { assertNever } from '../../../../src/common/errors.js';
import {
  groupOf, mostAdvancedStandby, primaryOrDemoted, synchronousStandbyNames, writableNode, type KeeperAction, type NodeState,
} from '../../../../src/fsm/index.js';
import { ackAll, checkPromotion } from './postgres.js';
import { SLOT_MONITOR, pgServes, reachable, simNodeById, type SimNode, type SyncNames, type World } from './world.js';
import { stopPostgres } from './keeper.js';

export function runAction(world: World, node: SimNode, action: KeeperAction, goal: NodeState): boolean {
  const pg = node.pg;
  switch (action) {
    case 'noop':
      return true;
    case 'init_primary':
      return initPrimary(world, node);
    case 'init_standby': {
      const source = primaryNode(world);
      if (!canCopy(world, node, source)) return false;
      pg.pos = source.pg.pos;
      becomeStandby(node, source.nodeId);
      return true;
    }
    case 'init_from_standby': {
      const row = mostAdvancedStandby(world.monitor.nodes);
      const source = row === null ? primaryNode(world) : simNodeById(world, row.nodeId);
      if (!canCopy(world, node, source)) return false;
      pg.pos = source.pg.pos;
      becomeStandby(node, null);
      return true;
    }
    case 'promote':
    case 'promote_read_only':
    case 'open_writes': {
      if (!pg.hasData) return false;
      if (!pg.promoted) {
        checkPromotion(world, node);
        pg.pos = world.tls.branch(pg.pos);
        pg.promoted = true;
        world.stats.promotions += 1;
      }
      pg.running = true;
      pg.readOnly = action === 'promote_read_only';
      pg.upstream = null;
      pg.recoveryTarget = null;
      pg.streamingFrom = null;
      pg.operatorControlled = false;
      setStandbyNames(world, node, null);
      return true;
    }
    case 'enable_sync_rep':
      return enableSyncRep(world, node);
    case 'disable_sync_rep':
      setStandbyNames(world, node, null);
      return true;
    case 'disable_replication':
    case 'restart_as_primary': {
      if (!pg.hasData || !pg.promoted) return false;
      if (world.t < node.leaseUntil) pg.running = true;
      if (!pg.running) return false;
      if (action === 'restart_as_primary' && goal === 'primary') return enableSyncRep(world, node);
      if (action === 'restart_as_primary' && goal === 'apply_settings') return fetchStandbyNames(world, node);
      setStandbyNames(world, node, null);
      return true;
    }
    case 'stop_postgres':
    case 'checkpoint_and_stop':
    case 'drop_node':
      stopPostgres(node);
      pg.upstream = null;
      return true;
    case 'stop_and_configure_standby':
      stopPostgres(node);
      pg.promoted = false;
      pg.upstream = null;
      pg.operatorControlled = true;
      return true;
    case 'release_postgres':
      pg.operatorControlled = true;
      return true;
    case 'follow_primary':
    case 'rewind_or_rebuild': {
      if (!followPrimary(world, node)) return false;
      const source = primaryNode(world);
      return !(goal === 'secondary' && source !== undefined && world.tls.number(pg.pos) !== world.tls.number(source.pg.pos));
    }
    case 'prepare_secondary': {
      const source = primaryNode(world);
      if (source === undefined) return false;
      if (pg.upstream !== source.nodeId && !followPrimary(world, node)) return false;
      return pg.streamingFrom === source.nodeId && world.tls.number(pg.pos) === world.tls.number(source.pg.pos);
    }
    case 'report_lsn':
    case 'report_lsn_drop_slots':
      if (!pg.hasData) return false;
      stopPostgres(node);
      becomeStandby(node, null);
      return true;
    case 'fast_forward': {
      const row = mostAdvancedStandby(world.monitor.nodes.filter((n) => n.nodeId !== node.nodeId));
      if (row === null) {
        // The source was removed (by force): nothing is left to fetch.
        becomeStandby(node, null);
        return pg.hasData;
      }
      const source = simNodeById(world, row.nodeId);
      if (!canCopy(world, node, source)) return false;
      // Only forward: a source behind this node (its intended source was removed) has nothing to give.
      const sourceAhead = world.tls.number(source.pg.pos) > world.tls.number(pg.pos)
        || (world.tls.number(source.pg.pos) === world.tls.number(pg.pos) && source.pg.pos.lsn > pg.pos.lsn);
      if (!pg.hasData || sourceAhead) pg.pos = source.pg.pos;
      becomeStandby(node, null);
      return true;
    }
    case 'cleanup_as_primary':
      pg.upstream = null;
      pg.recoveryTarget = null;
      return true;
    default:
      return assertNever(action, 'keeper action');
  }
}

/** Stream from the node get_primary names, after a rewind (or a new copy) when the local WAL diverged. */
export function followPrimary(world: World, node: SimNode): boolean {
  const source = primaryNode(world);
  if (!canCopy(world, node, source)) return false;
  const pg = node.pg;
  if (!pg.hasData || !world.tls.contains(pg.pos, source.pg.pos)) pg.pos = source.pg.pos;
  becomeStandby(node, source.nodeId);
  return true;
}

/** get_primary: the node with a writable goal, else the old primary. */
export function primaryNode(world: World): SimNode | undefined {
  const group = groupOf(world.monitor.nodes);
  const row = writableNode(group) ?? primaryOrDemoted(group);
  return row === null ? undefined : simNodeById(world, row.nodeId);
}

function canCopy(world: World, node: SimNode, source: SimNode | undefined): source is SimNode {
  return source !== undefined && source !== node && pgServes(source) && source.pg.hasData
    && reachable(world, node.slot, source.slot) && reachable(world, node.slot, SLOT_MONITOR);
}

function becomeStandby(node: SimNode, upstream: number | null): void {
  const pg = node.pg;
  pg.hasData = true;
  pg.running = true;
  pg.promoted = false;
  pg.readOnly = false;
  pg.upstream = upstream;
  pg.recoveryTarget = null;
  pg.ssn = null;
  pg.pending = [];
  pg.streamingFrom = null;
  pg.operatorControlled = false;
}

function initPrimary(world: World, node: SimNode): boolean {
  const pg = node.pg;
  pg.hasData = true;
  pg.pos = world.tls.newSystem(1 << 20);
  pg.promoted = true;
  pg.readOnly = false;
  pg.upstream = null;
  pg.ssn = null;
  pg.pending = [];
  pg.operatorControlled = false;
  pg.running = world.t < node.leaseUntil;
  return true;
}

function parseStandbyNames(value: string): SyncNames | null {
  const match = /^ANY (\d+) \((.*)\)$/.exec(value);
  if (match === null || match[1] === undefined || match[2] === undefined) return null;
  const ids = match[2].split(', ').map((name) => Number(name.replace('pgautofailover_standby_', '')));
  return { n: Number(match[1]), ids };
}

function setStandbyNames(world: World, node: SimNode, value: SyncNames | null): void {
  node.pg.ssn = value;
  // Cancelled SyncRep waits return success to their clients: they are acknowledged.
  if (value === null) ackAll(world, node);
}

/** The monitor's synchronous_standby_names for this node; false when the monitor cannot be asked. */
function fetchStandbyNames(world: World, node: SimNode): boolean {
  if (!world.monitor.up || !reachable(world, node.slot, SLOT_MONITOR)) return false;
  const value = synchronousStandbyNames({ numberSyncStandbys: world.monitor.nss, nodes: world.monitor.nodes }, node.nodeId);
  setStandbyNames(world, node, parseStandbyNames(value));
  return true;
}

function enableSyncRep(world: World, node: SimNode): boolean {
  const pg = node.pg;
  if (!pg.running || !pg.promoted) return false;
  if (!fetchStandbyNames(world, node)) return false;
  const names = pg.ssn;
  if (names === null) {
    node.syncTarget = null;
    return true;
  }
  const target = node.syncTarget ?? pg.pos.lsn;
  node.syncTarget = target;
  const caughtUp = names.ids.some((id) => {
    const s = simNodeById(world, id);
    return s !== undefined && s.pg.streamingFrom === node.nodeId && pgServes(s)
      && world.tls.contains(world.tls.at(pg.pos, target), s.pg.pos);
  });
  if (caughtUp) node.syncTarget = null;
  return caughtUp;
}
