/**
 * synchronous_standby_names for a group's primary, exactly as spec 01 §7
 * computes it (pgautofailover.synchronous_standby_names()). Names are
 * `pgautofailover_standby_<node id>`; equal priorities are ordered by node
 * id (the original's order is unspecified there).
 */
import { badState } from '../common/errors.js';
import { groupOf, writableNode } from './node-predicates.js';
import type { NodeSnapshot } from './snapshot.js';

type NameView = Pick<NodeSnapshot, 'nodeId' | 'reportedState' | 'goalState' | 'candidatePriority' | 'replicationQuorum'>;

export interface StandbyNamesInput {
  readonly formationId?: string;
  readonly groupId?: number;
  readonly numberSyncStandbys: number;
  readonly nodes: readonly NameView[];
}

export function standbyName(nodeId: number): string {
  return `pgautofailover_standby_${nodeId}`;
}

/**
 * The value for the primary: by default the first node whose goal is
 * writable; `primaryNodeId` names it explicitly (it must belong to the
 * group). Throws when the group has no node.
 */
export function synchronousStandbyNames(group: StandbyNamesInput, primaryNodeId?: number | null): string {
  const nodes = groupOf(group.nodes);
  if (nodes.length === 0) {
    throw badState(`no nodes found in group ${group.groupId ?? 0} of formation "${group.formationId ?? 'default'}"`);
  }
  if (nodes.length === 1) return '';
  const primary = primaryNodeId === undefined || primaryNodeId === null
    ? writableNode(nodes)
    : nodes.find((n) => n.nodeId === primaryNodeId) ?? null;
  if (primary === null) return '';
  const others = nodes.filter((n) => n !== primary);

  if (nodes.length === 2) {
    const standby = others[0];
    if (standby !== undefined && standby.replicationQuorum && standby.goalState === 'secondary') {
      return `ANY 1 (${standbyName(standby.nodeId)})`;
    }
    return '';
  }

  const quorum = others.filter((n) => n.replicationQuorum)
    .sort((a, b) => b.candidatePriority - a.candidatePriority || a.nodeId - b.nodeId);
  const primaryWaiting = primary.reportedState === 'wait_primary' && primary.goalState === 'wait_primary';
  if (quorum.length === 0 || primaryWaiting) return '';
  const count = group.numberSyncStandbys === 0 ? 1 : group.numberSyncStandbys;
  return `ANY ${count} (${quorum.map((n) => standbyName(n.nodeId)).join(', ')})`;
}
