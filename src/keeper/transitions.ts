/**
 * Runs the keeper transition (current → goal) of the FSM table: looks the
 * edge up and executes its named action. The switch over the action names
 * is exhaustive, so a new action in the table is a compile error here
 * until it is implemented.
 */
import { assertNever } from '../common/errors.js';
import { findTransition, type KeeperAction } from '../fsm/keeper-transitions.js';
import type { NodeState } from '../fsm/states.js';
import {
  actionCheckpointStop, actionCleanupAsPrimary, actionDisableReplication, actionDisableSyncRep, actionEnableSyncRep,
  actionOpenWrites, actionPromote, actionPromoteReadOnly, actionRestartAsPrimary, actionStopPg, initPrimary,
} from './actions-primary.js';
import {
  actionDrop, actionFastForward, actionFollowPrimary, actionInitFromStandby, actionInitStandby, actionPrepareSecondary,
  actionReportLsn, actionReportLsnDropSlots, actionRewindOrInit, actionStandbyMaintenance, actionStopSetupStandby,
} from './actions-standby.js';
import type { KeeperRuntime } from './runtime.js';

export interface PlannedTransition {
  from: NodeState;
  to: NodeState;
  action: KeeperAction;
  comment: string;
}

/** The table's edge for (from, to), or undefined when the keeper does not know the way. */
export function planTransition(from: NodeState, to: NodeState): PlannedTransition | undefined {
  const edge = findTransition(from, to);
  return edge === undefined ? undefined : { from, to, action: edge.action, comment: edge.comment };
}

export async function runAction(rt: KeeperRuntime, action: KeeperAction, goal: NodeState): Promise<void> {
  switch (action) {
    case 'noop': return undefined;
    case 'init_primary': return initPrimary(rt);
    case 'init_standby': return actionInitStandby(rt);
    case 'init_from_standby': return actionInitFromStandby(rt);
    case 'promote': return actionPromote(rt);
    case 'promote_read_only': return actionPromoteReadOnly(rt);
    case 'open_writes': return actionOpenWrites(rt);
    case 'enable_sync_rep': return actionEnableSyncRep(rt);
    case 'disable_sync_rep': return actionDisableSyncRep(rt);
    case 'disable_replication': return actionDisableReplication(rt);
    case 'restart_as_primary': return actionRestartAsPrimary(rt, goal);
    case 'stop_postgres': return actionStopPg(rt);
    case 'checkpoint_and_stop': return actionCheckpointStop(rt);
    case 'stop_and_configure_standby': return actionStopSetupStandby(rt);
    case 'release_postgres': return actionStandbyMaintenance(rt);
    case 'follow_primary': return actionFollowPrimary(rt, goal);
    case 'rewind_or_rebuild': return actionRewindOrInit(rt);
    case 'prepare_secondary': return actionPrepareSecondary(rt);
    case 'report_lsn': return actionReportLsn(rt);
    case 'report_lsn_drop_slots': return actionReportLsnDropSlots(rt);
    case 'fast_forward': return actionFastForward(rt);
    case 'cleanup_as_primary': return actionCleanupAsPrimary(rt);
    case 'drop_node': return actionDrop(rt);
    default: return assertNever(action, 'keeper action');
  }
}
