-- Clean switchovers of the monitor (docs/architecture.md "Monitor high
-- availability"): `pg_autoctl perform monitor-failover`, run on a standby
-- monitor, asks the primary monitor to hand over
-- (request_monitor_switchover, api/09). The primary's service reads the
-- pending request of its epoch, checks that the target streams as its
-- synchronous standby, answers (accepted or refused), stops deciding,
-- stops its Postgres and rejoins as a standby of the target. The rows are
-- replicated like the rest: a request belongs to the epoch it was made in
-- and is never acted upon in a later one.
CREATE TABLE pgautofailover.monitor_switchover (
  request_id      bigint      GENERATED ALWAYS AS IDENTITY,
  target_member   bigint      NOT NULL,
  epoch           bigint      NOT NULL,
  requested_at    timestamptz NOT NULL DEFAULT now(),
  status          text        NOT NULL DEFAULT 'requested',
  answered_at     timestamptz,
  message         text,
  CONSTRAINT monitor_switchover_pkey PRIMARY KEY (request_id),
  CONSTRAINT monitor_switchover_target_fkey FOREIGN KEY (target_member)
    REFERENCES pgautofailover.monitor_member (member_id) ON DELETE CASCADE,
  CONSTRAINT monitor_switchover_status_check CHECK (status IN ('requested', 'accepted', 'refused', 'cancelled'))
);
REVOKE ALL ON pgautofailover.monitor_switchover FROM PUBLIC, autoctl_node;
GRANT SELECT ON pgautofailover.monitor_switchover TO autoctl_node;

-- pg_rewind of a monitor that rejoins as a standby connects to the new
-- primary's monitor database as the replication role: the file access
-- functions it needs (PostgreSQL docs, pg_rewind "Notes"), granted here
-- because function privileges live in each database's catalog.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pgautofailover_replicator') THEN
    GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO pgautofailover_replicator;
    GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO pgautofailover_replicator;
    GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO pgautofailover_replicator;
    GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO pgautofailover_replicator;
  END IF;
END
$$;
