-- Monitor epochs (migration 0010, docs/architecture.md "Monitor high
-- availability").

-- The timeline this server writes WAL on now; NULL during recovery.
CREATE OR REPLACE FUNCTION pgautofailover.current_timeline()
RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN pg_is_in_recovery() THEN NULL
              ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::integer END
$$;

-- The current epoch (0 and NULLs before the first one), and whether this
-- database accepts writes. Cheap: keepers call it on every connection.
CREATE OR REPLACE FUNCTION pgautofailover.current_monitor_epoch(
    OUT epoch bigint,
    OUT system_identifier bigint,
    OUT timeline integer,
    OUT started_at timestamptz,
    OUT writable boolean)
RETURNS record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT coalesce(e.epoch, 0), e.system_identifier, e.timeline, e.started_at, NOT pg_is_in_recovery()
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (SELECT x.* FROM pgautofailover.monitor_epoch x ORDER BY x.epoch DESC LIMIT 1) AS e ON true
$$;

-- The monitor service calls this at the start of each session and
-- periodically: on a writable database whose Postgres system or timeline
-- differs from the latest epoch's (a promotion, a restore, a copy), or
-- with `force` (an operator's deliberate new era), it starts the next
-- epoch. Returns the current epoch and whether it was just started.
CREATE OR REPLACE FUNCTION pgautofailover.advance_monitor_epoch(
    force boolean DEFAULT false,
    OUT epoch bigint,
    OUT system_identifier bigint,
    OUT timeline integer,
    OUT started_at timestamptz,
    OUT writable boolean,
    OUT advanced boolean)
RETURNS record
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  last pgautofailover.monitor_epoch;
  sysid bigint;
  tli integer;
BEGIN
  advanced := false;
  IF NOT pg_is_in_recovery() THEN
    -- Concurrent services serialise here; the later one finds the row.
    LOCK TABLE pgautofailover.monitor_epoch IN SHARE ROW EXCLUSIVE MODE;
    SELECT s.system_identifier INTO sysid FROM pg_control_system() s;
    tli := pgautofailover.current_timeline();
    SELECT x.* INTO last FROM pgautofailover.monitor_epoch x ORDER BY x.epoch DESC LIMIT 1;
    IF last.epoch IS NULL OR last.system_identifier <> sysid OR tli > last.timeline OR coalesce(force, false) THEN
      INSERT INTO pgautofailover.monitor_epoch (epoch, system_identifier, timeline, started_at)
      VALUES (coalesce(last.epoch, 0) + 1, sysid, tli, now());
      advanced := true;
    END IF;
  END IF;
  SELECT c.epoch, c.system_identifier, c.timeline, c.started_at, c.writable
    INTO epoch, system_identifier, timeline, started_at, writable
    FROM pgautofailover.current_monitor_epoch() c;
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgautofailover FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
  pgautofailover.current_monitor_epoch()
TO autoctl_node;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pgautofailover TO autoctl;
