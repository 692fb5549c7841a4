/**
 * The named actions a keeper runs to go from its current state to its goal
 * (spec 02 §6.2). Every action must be idempotent: a crash in the middle
 * followed by a restart redoes it safely, and a failed action is retried on
 * the next loop iteration, never skipped.
 *
 * The write lease (DESIGN.md): Postgres may accept writes only while the
 * keeper holds a lease, granted by a node_active call that returned a
 * writable goal and counted from that call's send time. An action whose
 * target state is writable (single, wait_primary, primary, apply_settings,
 * join_primary) must not let Postgres accept writes before the lease is
 * held, and whatever happens later the keeper kills Postgres when the lease
 * runs out (then reports demote_timeout).
 */

export const KEEPER_ACTIONS = [
  'noop',
  'init_primary',
  'init_standby',
  'init_from_standby',
  'promote',
  'promote_read_only',
  'open_writes',
  'enable_sync_rep',
  'disable_sync_rep',
  'disable_replication',
  'restart_as_primary',
  'stop_postgres',
  'checkpoint_and_stop',
  'stop_and_configure_standby',
  'release_postgres',
  'follow_primary',
  'rewind_or_rebuild',
  'prepare_secondary',
  'report_lsn',
  'report_lsn_drop_slots',
  'fast_forward',
  'cleanup_as_primary',
  'drop_node',
] as const;

export type KeeperAction = (typeof KEEPER_ACTIONS)[number];

/** What each action must achieve on the node, whatever the edge. */
export const KEEPER_ACTION_DESCRIPTIONS: Readonly<Record<KeeperAction, string>> = {
  noop: 'Nothing changes on the node; the main loop keeps HBA rules and replication slots up to date.',
  init_primary: 'Create the instance (initdb) when PGDATA is missing, empty or an unfinished base backup, or adopt an instance we created; '
    + 'create the roles pgautofailover_monitor and pgautofailover_replicator, the database and the HBA rules; write the default settings; '
    + 'start Postgres as a primary with synchronous_standby_names = \'\' and publish the system identifier. Writes wait for the lease.',
  init_standby: 'Ask the monitor for the primary; check the replication slot pgautofailover_standby_<id> exists there; pg_basebackup '
    + 'from it with that slot into a temporary directory, then move it into place; write the standby configuration (primary_conninfo, '
    + 'primary_slot_name, recovery_target_timeline=latest); start Postgres in recovery, streaming from the primary.',
  init_from_standby: 'pg_basebackup from the most advanced report_lsn standby (no slot), or from the primary (get_primary) when '
    + 'no node is in report_lsn any more because the election ended; start Postgres in recovery without primary_conninfo, '
    + 'so that the node can take part in the election, or follow the new primary (R1).',
  promote: 'Make the standby a read-write primary: pg_ctl promote and wait until out of recovery (already promoted: skip), '
    + 'CHECKPOINT, remove standby.signal and empty the standby settings, default_transaction_read_only = off, '
    + 'synchronous_standby_names = \'\'. Writes wait for the lease.',
  promote_read_only: 'Stop following the old primary and promote without accepting writes: ALTER SYSTEM SET '
    + 'default_transaction_read_only = on and reload first, then pg_ctl promote and wait until out of recovery; '
    + 'synchronous_standby_names = \'\'. The node holds no lease yet.',
  open_writes: 'With the lease held: default_transaction_read_only = off and reload; synchronous_standby_names = \'\'; '
    + 'refresh the HBA rules for the other nodes.',
  enable_sync_rep: 'Fetch synchronous_standby_names from the monitor and apply it (ALTER SYSTEM, reload). When not empty, '
    + 'remember the current flush LSN and succeed only once a standby listed there, in sync state sync or quorum, '
    + 'has flushed past it (CHECKPOINT to push it); otherwise fail and retry.',
  disable_sync_rep: 'synchronous_standby_names = \'\' and reload; cancel the backends waiting on SyncRep so their commits return.',
  disable_replication: 'Ensure Postgres runs as the primary (it starts only with the lease held); synchronous_standby_names = \'\', '
    + 'cancel SyncRep waiters; keep replication slots only for current nodes.',
  restart_as_primary: 'Start Postgres as the primary again once the lease is held. For primary: as enable_sync_rep (fetch, apply, '
    + 'and succeed only once a listed standby flushed past the current LSN, since writes acknowledged before the fence may exist '
    + 'on this node only); for apply_settings: fetch and apply; for single and wait_primary: synchronous_standby_names = \'\'.',
  stop_postgres: 'Stop Postgres (fast shutdown; immediate if that hangs) and keep it stopped: the node must not accept writes again '
    + 'unless a later goal says so.',
  checkpoint_and_stop: 'If Postgres runs: reset primary_conninfo and primary_slot_name, CHECKPOINT (errors ignored), then stop '
    + 'Postgres and keep it stopped.',
  stop_and_configure_standby: 'Stop Postgres after a CHECKPOINT; write the standby configuration without primary_conninfo '
    + '(standby.signal), so that an operator who starts it gets a standby; then release control of Postgres to the operator.',
  release_postgres: 'Release control of Postgres to the operator (remove the expected-status file): the keeper neither starts nor '
    + 'stops it until maintenance ends. Postgres is left as it is.',
  follow_primary: 'Ask the monitor for the primary; point primary_conninfo and primary_slot_name at it and restart Postgres in '
    + 'recovery, streaming from it. If the local WAL diverged from the primary\'s timeline history, pg_rewind first '
    + '(or rebuild with a base backup). For the goal secondary, require the local timeline to match the primary\'s.',
  rewind_or_rebuild: 'Make the node a standby of the current primary: stop Postgres (after a crash-recovery round if it was not '
    + 'shut down cleanly), pg_rewind from the primary, or pg_basebackup when the rewind fails; write the standby configuration; '
    + 'start streaming; drop local replication slots so they are recreated.',
  prepare_secondary: 'Check that the node streams from the primary (get_primary) on the primary\'s timeline, following it first '
    + '(as follow_primary) when it streams from another node; create the replication slots '
    + 'of the other nodes.',
  report_lsn: 'Stop streaming: restart Postgres in recovery without primary_conninfo, so that its WAL position is frozen, and '
    + 'report that position (timeline and LSN) on the next node_active call. While the state stays report_lsn, ensuring the '
    + 'current state also removes any primary_conninfo a failed transition left behind: the reported position must stay frozen.',
  report_lsn_drop_slots: 'As report_lsn for an old primary: restart Postgres in recovery (standby.signal) without '
    + 'primary_conninfo, report its frozen WAL position, and drop its replication slots.',
  fast_forward: 'Ask the monitor for the most advanced report_lsn standby; stream from it (own slot name) with recovery_target_lsn = '
    + 'its reported LSN, recovery_target_action = pause; wait until replayed up to it; CHECKPOINT. If the local WAL diverged from '
    + 'the source\'s history, pg_rewind from it first. Never backwards: when the source is not ahead of the local position '
    + '(timeline, then LSN), or no other node is in report_lsn any more (removed by force), there is nothing to fetch: done.',
  cleanup_as_primary: 'Stop streaming from the WAL source: remove primary_conninfo and the recovery target; Postgres stays in '
    + 'recovery until the promotion.',
  drop_node: 'Stop Postgres, remove the init file; the node leaves the group. The keeper exits once the monitor deleted the node.',
};
