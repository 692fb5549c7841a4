/**
 * Validation of the replication settings (spec 01 §6, spec 03 §5.2), for
 * the operator functions: number_sync_standbys, replication quorum and
 * candidate priority. Pure checks over the group; the SQL functions carry
 * the same rules.
 */
import { fail, ok, type Result } from '../common/result.js';
import { groupOf, writableNode } from './node-predicates.js';
import type { NodeSnapshot } from './snapshot.js';

type View = Pick<NodeSnapshot, 'nodeId' | 'goalState' | 'reportedState' | 'candidatePriority' | 'replicationQuorum'>;

/** Standbys (not the writable node, not being dropped) with replication quorum. */
export function quorumStandbyCount(nodes: readonly View[]): number {
  const group = groupOf(nodes);
  const primary = writableNode(group);
  return group.filter((n) => n !== primary && n.replicationQuorum).length;
}

/** number_sync_standbys = n needs n + 1 quorum standbys when n > 0. */
export function validateNumberSyncStandbys(nodes: readonly View[], value: number): Result<number> {
  if (!Number.isInteger(value) || value < 0) return fail([`invalid number_sync_standbys ${value}: expected an integer >= 0`]);
  if (value === 0) return ok(value);
  const participating = quorumStandbyCount(nodes);
  if (participating < value + 1) {
    return fail([`At least ${value + 1} standby nodes are required, and only ${participating} are currently participating in the replication quorum`]);
  }
  return ok(value);
}

export function validateReplicationQuorum(nodes: readonly View[], numberSyncStandbys: number, nodeId: number, value: boolean): Result<boolean> {
  if (value) return ok(value);
  const changed = nodes.map((n) => (n.nodeId === nodeId ? { ...n, replicationQuorum: false } : n));
  const check = validateNumberSyncStandbys(changed, numberSyncStandbys);
  if (!check.ok) return fail([`can't set replication quorum to false: ${check.errors.join('; ')}`]);
  return ok(value);
}

export interface PriorityCheck {
  readonly value: number;
  /** Set when fewer than two nodes could be promoted after the change (a NOTICE, not an error). */
  readonly notice: string | null;
}

export function validateCandidatePriority(nodes: readonly View[], nodeId: number, value: number): Result<PriorityCheck> {
  if (!Number.isInteger(value) || value < 0 || value > 100) return fail([`invalid candidate priority ${value}: expected 0 to 100`]);
  const eligible = groupOf(nodes).filter((n) => (n.nodeId === nodeId ? value : n.candidatePriority) > 0).length;
  const notice = eligible < 2 ? `only ${eligible} node(s) of the group would have a candidate priority above 0: failover needs at least 2` : null;
  return ok({ value, notice });
}
