/**
 * The keeper transition table as data: for a current state and a goal
 * state, the action that takes the node there (spec 02 §6.2). The keeper
 * runs the row for (its current state, its latest goal); a pair absent from
 * the table means the goal cannot be reached from there, which the monitor
 * must never cause (tests check every pair decide() emits).
 *
 * `origin` tells the rows of pg_auto_failover 2.x from the rows added here.
 * Spec 02 open point: 2.x assigns goals with no keeper edge (notably
 * wait_primary -> draining/demote_timeout and wait_standby -> single) and
 * the node stays stuck. We did both: the monitor no longer assigns the
 * first one (failover only from a primary converged in primary, rule P5a/
 * R8), and the edges added here cover what it still needs: a primary
 * fenced by its write lease (X -> demote_timeout and back), a new node left
 * alone (wait_standby -> single), abandoned promotions (fast_forward,
 * prepare_promotion, join_secondary, wait_maintenance -> report_lsn).
 * Every pair decide() emits in the tests and the model checker is checked
 * against this table.
 */
import type { KeeperAction } from './keeper-actions.js';
import { NODE_STATES, type NodeState } from './states.js';

export { KEEPER_ACTIONS, KEEPER_ACTION_DESCRIPTIONS, type KeeperAction } from './keeper-actions.js';

export const TRANSITION_ORIGINS = ['2.x', 'added'] as const;
export type TransitionOrigin = (typeof TRANSITION_ORIGINS)[number];

export interface KeeperTransition {
  readonly from: NodeState;
  readonly to: NodeState;
  readonly action: KeeperAction;
  /** What the action must achieve on this edge. */
  readonly comment: string;
  readonly origin: TransitionOrigin;
}

type Row = readonly [from: NodeState, to: NodeState, action: KeeperAction, comment: string];

const FROM_2X: readonly Row[] = [
  ['init', 'single', 'init_primary', 'Create or adopt the instance and start it as the only node.'],
  ['init', 'wait_standby', 'noop', 'Registered as a standby: wait for the primary to be ready.'],
  ['init', 'report_lsn', 'init_from_standby', 'Join a group without primary: copy the most advanced standby and report its LSN.'],
  ['dropped', 'single', 'init_primary', 'A dropped node registered again as the first node.'],
  ['dropped', 'wait_standby', 'noop', 'A dropped node registered again as a standby.'],
  ['dropped', 'report_lsn', 'init_from_standby', 'A dropped node registered again in a group without primary.'],
  ['single', 'wait_primary', 'noop', 'A standby joined: stay primary, synchronous_standby_names stays empty.'],
  ['wait_primary', 'primary', 'enable_sync_rep', 'A quorum standby caught up: apply the monitor\'s synchronous_standby_names and wait for it.'],
  ['wait_primary', 'apply_settings', 'noop', 'Settings changed: nothing until the way out of apply_settings.'],
  ['wait_primary', 'join_primary', 'noop', 'Deprecated state; nothing to do.'],
  ['wait_primary', 'single', 'disable_replication', 'The standbys were removed: keep running alone.'],
  ['wait_primary', 'demoted', 'stop_postgres', 'Another node was promoted: stop and stay stopped.'],
  ['primary', 'wait_primary', 'disable_sync_rep', 'No synchronous standby left: stop waiting for one so writes continue.'],
  ['primary', 'apply_settings', 'noop', 'Settings changed: keep the current synchronous_standby_names until the way out.'],
  ['primary', 'join_primary', 'noop', 'Deprecated state; nothing to do.'],
  ['primary', 'single', 'disable_replication', 'The standbys were removed: keep running alone.'],
  ['primary', 'draining', 'stop_postgres', 'Failover or switchover: stop Postgres; a clean shutdown sends the last WAL to the standbys.'],
  ['primary', 'demoted', 'stop_postgres', 'Another node was promoted: stop and stay stopped.'],
  ['primary', 'demote_timeout', 'stop_postgres', 'Being demoted: stop and stay stopped.'],
  ['primary', 'prepare_maintenance', 'checkpoint_and_stop', 'Maintenance on the primary: checkpoint, then stop before a standby is promoted.'],
  ['primary', 'maintenance', 'stop_and_configure_standby', 'Maintenance with prepare_maintenance skipped: stop as a standby, in the operator\'s hands (2.x only stopped Postgres, which could then restart as a primary).'],
  ['apply_settings', 'primary', 'enable_sync_rep', 'Apply the new synchronous_standby_names and wait for a synchronous standby.'],
  ['apply_settings', 'wait_primary', 'disable_sync_rep', 'No synchronous standby with the new settings: clear synchronous_standby_names.'],
  ['apply_settings', 'single', 'disable_replication', 'The standbys were removed: keep running alone.'],
  ['apply_settings', 'join_primary', 'noop', 'Deprecated state; nothing to do.'],
  ['apply_settings', 'draining', 'stop_postgres', 'Being demoted: stop and stay stopped.'],
  ['apply_settings', 'demoted', 'stop_postgres', 'Another node was promoted: stop and stay stopped.'],
  ['apply_settings', 'demote_timeout', 'stop_postgres', 'Being demoted, or fenced by the lease: stop and stay stopped.'],
  ['join_primary', 'primary', 'enable_sync_rep', 'Apply the monitor\'s synchronous_standby_names and wait for a synchronous standby.'],
  ['join_primary', 'wait_primary', 'disable_sync_rep', 'No synchronous standby: clear synchronous_standby_names.'],
  ['join_primary', 'single', 'disable_replication', 'The standbys were removed: keep running alone.'],
  ['join_primary', 'draining', 'stop_postgres', 'Being demoted: stop and stay stopped.'],
  ['join_primary', 'demoted', 'stop_postgres', 'Another node was promoted: stop and stay stopped.'],
  ['join_primary', 'demote_timeout', 'stop_postgres', 'Being demoted, or fenced by the lease: stop and stay stopped.'],
  ['draining', 'demoted', 'stop_postgres', 'Make sure Postgres is stopped.'],
  ['draining', 'demote_timeout', 'stop_postgres', 'Make sure Postgres is stopped, then report it.'],
  ['draining', 'single', 'disable_replication', 'Every other node was removed: start again as the only node, once the lease is held.'],
  ['draining', 'report_lsn', 'report_lsn_drop_slots', 'Old primary taking part in the election: restart in recovery without upstream.'],
  ['demote_timeout', 'demoted', 'stop_postgres', 'Make sure Postgres is stopped.'],
  ['demote_timeout', 'primary', 'restart_as_primary', 'Fenced by the lease but still the primary: start again once the lease is held and wait for a synchronous standby, as enable_sync_rep.'],
  ['demote_timeout', 'single', 'disable_replication', 'Every other node was removed: start again as the only node, once the lease is held.'],
  ['demoted', 'catchingup', 'rewind_or_rebuild', 'Rejoin the new primary as a standby: rewind, or rebuild from a base backup.'],
  ['demoted', 'single', 'disable_replication', 'Every other node was removed: start again as the only node, once the lease is held.'],
  ['demoted', 'report_lsn', 'report_lsn_drop_slots', 'Old primary taking part in the election: restart in recovery without upstream.'],
  ['wait_standby', 'catchingup', 'init_standby', 'The primary is ready: copy it and stream from it.'],
  ['catchingup', 'secondary', 'prepare_secondary', 'Caught up: check the timeline and keep the slots of the other nodes.'],
  ['catchingup', 'prepare_promotion', 'noop', 'Chosen for promotion: keep streaming from the old primary for now.'],
  ['catchingup', 'report_lsn', 'report_lsn', 'Election: freeze the WAL position and report it.'],
  ['catchingup', 'wait_maintenance', 'noop', 'Maintenance requested: wait until the primary stops relying on this node.'],
  ['catchingup', 'maintenance', 'release_postgres', 'Maintenance: hand Postgres over to the operator.'],
  ['catchingup', 'single', 'promote', 'Every other node was removed: promote and run alone, once the lease is held.'],
  ['secondary', 'catchingup', 'follow_primary', 'Lost as a synchronous standby: follow the primary again.'],
  ['secondary', 'prepare_promotion', 'noop', 'Chosen for promotion: keep streaming from the old primary until stop_replication.'],
  ['secondary', 'report_lsn', 'report_lsn', 'Election: freeze the WAL position and report it.'],
  ['secondary', 'wait_maintenance', 'noop', 'Maintenance requested: wait until the primary stops relying on this node.'],
  ['secondary', 'maintenance', 'release_postgres', 'Maintenance: hand Postgres over to the operator.'],
  ['secondary', 'wait_standby', 'noop', 'Registered again with a new monitor.'],
  ['secondary', 'single', 'promote', 'Every other node was removed: promote and run alone, once the lease is held.'],
  ['prepare_promotion', 'stop_replication', 'promote_read_only', 'Stop following the old primary and promote, still refusing writes.'],
  ['prepare_promotion', 'wait_primary', 'promote', 'No old primary to wait for: promote and accept writes once the lease is held.'],
  ['prepare_promotion', 'single', 'promote', 'Every other node was removed: promote and run alone, once the lease is held.'],
  ['stop_replication', 'wait_primary', 'open_writes', 'The old primary is fenced: accept writes once the lease is held.'],
  ['stop_replication', 'single', 'promote', 'Every other node was removed: accept writes alone, once the lease is held.'],
  ['wait_maintenance', 'maintenance', 'release_postgres', 'The primary no longer relies on this node: hand Postgres over to the operator.'],
  ['maintenance', 'catchingup', 'rewind_or_rebuild', 'Maintenance ended: rejoin the primary as a standby.'],
  ['maintenance', 'report_lsn', 'report_lsn', 'Maintenance ended during an election: restart in recovery without upstream and report.'],
  ['prepare_maintenance', 'maintenance', 'stop_and_configure_standby', 'A standby was promoted: stay stopped as a standby, in the operator\'s hands.'],
  ['prepare_maintenance', 'catchingup', 'rewind_or_rebuild', 'Maintenance ended: rejoin the primary as a standby.'],
  ['prepare_maintenance', 'report_lsn', 'report_lsn', 'Maintenance ended during an election: restart in recovery without upstream and report.'],
  ['report_lsn', 'prepare_promotion', 'noop', 'Elected with the most advanced WAL: nothing to fetch.'],
  ['report_lsn', 'fast_forward', 'fast_forward', 'Elected: fetch the missing WAL from the most advanced standby first.'],
  ['report_lsn', 'join_secondary', 'checkpoint_and_stop', 'Not elected: stop until the new primary is ready to be followed.'],
  ['report_lsn', 'secondary', 'follow_primary', 'A new primary exists: follow it (rewinding first if the WAL diverged).'],
  ['report_lsn', 'single', 'promote', 'Every other node was removed: promote and run alone, once the lease is held.'],
  ['fast_forward', 'prepare_promotion', 'cleanup_as_primary', 'Fetched the missing WAL: stop streaming from the source before the promotion.'],
  ['join_secondary', 'secondary', 'follow_primary', 'The new primary is ready: follow it (rewinding first if the WAL diverged).'],
];

/** Edges 2.x lacks although its monitor (or the write lease) can require them. */
const ADDED: readonly Row[] = [
  ['single', 'demote_timeout', 'stop_postgres', 'The write lease ran out: stop Postgres (the keeper does it by itself).'],
  ['wait_primary', 'demote_timeout', 'stop_postgres', 'The write lease ran out: stop Postgres (the keeper does it by itself).'],
  ['demote_timeout', 'wait_primary', 'restart_as_primary', 'Fenced by the lease but still the primary: start again once the lease is held, synchronous_standby_names empty.'],
  ['demote_timeout', 'apply_settings', 'restart_as_primary', 'Fenced by the lease while settings changed: start again once the lease is held.'],
  ['demote_timeout', 'draining', 'stop_postgres', 'Fenced by the lease, then demoted: Postgres is already stopped; keep it so.'],
  ['demote_timeout', 'prepare_maintenance', 'stop_postgres', 'Fenced by the lease, then sent to maintenance: Postgres is already stopped; keep it so.'],
  ['demote_timeout', 'report_lsn', 'report_lsn_drop_slots', 'The promotion this old primary stopped for was abandoned: restart in recovery without upstream and take part in the next election.'],
  ['wait_standby', 'single', 'init_primary', 'Every node with data was removed: start a new instance, discarding any unfinished base backup.'],
  ['fast_forward', 'report_lsn', 'report_lsn', 'The fast-forward was abandoned: stop streaming from the source and report the position reached.'],
  ['prepare_promotion', 'report_lsn', 'report_lsn', 'The promotion was abandoned before it started: restart in recovery without upstream and report the position.'],
  ['wait_maintenance', 'report_lsn', 'report_lsn', 'Left alone in the group before reaching maintenance: restart in recovery without upstream and report.'],
  ['join_secondary', 'report_lsn', 'report_lsn', 'The primary being promoted was lost: restart in recovery without upstream and report the frozen position for the next election.'],
];

function expand(rows: readonly Row[], origin: TransitionOrigin): KeeperTransition[] {
  return rows.map(([from, to, action, comment]) => ({ from, to, action, comment, origin }));
}

/** Every state can be dropped, except dropped itself and the enum placeholder. */
const TO_DROPPED: readonly KeeperTransition[] = NODE_STATES
  .filter((s) => s !== 'dropped' && s !== 'unknown')
  .map((from) => ({ from, to: 'dropped' as const, action: 'drop_node' as const, comment: 'Removed from the group: stop Postgres and leave.', origin: '2.x' as const }));

export const KEEPER_TRANSITIONS: readonly KeeperTransition[] = [...expand(FROM_2X, '2.x'), ...expand(ADDED, 'added'), ...TO_DROPPED];

const BY_PAIR: ReadonlyMap<string, KeeperTransition> = new Map(KEEPER_TRANSITIONS.map((t) => [`${t.from}>${t.to}`, t]));

/** The transition from the keeper's current state to its goal, or undefined when the goal is unreachable. */
export function findTransition(from: NodeState, to: NodeState): KeeperTransition | undefined {
  return BY_PAIR.get(`${from}>${to}`);
}
