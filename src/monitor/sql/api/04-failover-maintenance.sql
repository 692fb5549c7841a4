-- Monitor schema, version 0005: operator functions that move the primary
-- role or take nodes out of service: perform_failover, perform_promotion,
-- start_maintenance, stop_maintenance (spec 02 sections 5.7 to 5.9).
--
-- As in 0004, they validate and record a request; the monitor service
-- assigns the goal states (and makes the temporary candidate priority
-- adjustments of an election).

-- Preconditions of a failover of the group; the caller holds the group
-- lock. target_id is the node of a targeted promotion, NULL otherwise.
CREATE OR REPLACE FUNCTION pgautofailover.check_failover(formation_id text, group_id integer, target_id bigint)
RETURNS void
LANGUAGE plpgsql
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  members integer;
  source pgautofailover.node;
  standby pgautofailover.node;
BEGIN
  SELECT count(*) INTO members FROM pgautofailover.node x
   WHERE x.formationid = $1 AND x.groupid = $2 AND x.goalstate <> 'dropped';
  IF members < 2 THEN
    RAISE EXCEPTION USING ERRCODE = 'XX000',
      MESSAGE = format('cannot fail over: group %s in formation "%s" currently has %s node registered', $2, $1, members),
      DETAIL = 'At least 2 nodes are required to fail over.';
  END IF;

  source := pgautofailover.failover_source($1, $2);
  IF source.nodeid IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'XX000',
      MESSAGE = format('couldn''t find the primary node in formation "%s", group %s', $1, $2);
  END IF;

  IF pgautofailover.has_pending_request($1, $2, ARRAY['failover', 'switchover', 'promotion']) THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = format('cannot fail over: a failover of group %s in formation "%s" has already been requested', $2, $1),
      HINT = 'Wait for the current failover to complete (pg_autoctl show events).';
  END IF;

  IF members = 2 THEN
    SELECT x.* INTO standby FROM pgautofailover.node x
     WHERE x.formationid = $1 AND x.groupid = $2 AND x.goalstate <> 'dropped' AND x.nodeid <> source.nodeid;
    IF standby.goalstate <> 'secondary' THEN
      RAISE EXCEPTION USING ERRCODE = 'XX000',
        MESSAGE = format('standby %s is in state %s, which prevents the node from being a failover candidate',
                         pgautofailover.node_label(standby), standby.goalstate);
    END IF;
    IF NOT (source.goalstate = 'primary' AND standby.reportedstate = 'secondary') THEN
      RAISE EXCEPTION USING ERRCODE = 'XX000',
        MESSAGE = 'cannot fail over: primary node is not in a stable state',
        DETAIL = format('%s is in state %s and assigned %s, %s is in state %s and assigned %s.',
                        pgautofailover.node_label(source), source.reportedstate, source.goalstate,
                        pgautofailover.node_label(standby), standby.reportedstate, standby.goalstate),
        HINT = 'A failover needs the primary in state "primary" and the standby in state "secondary"; check pg_autoctl show state.';
    END IF;
    IF $3 IS NULL AND standby.candidatepriority <= 0 THEN
      RAISE EXCEPTION USING ERRCODE = '55000',
        MESSAGE = format('cannot fail over: standby %s has candidate priority %s and can not be promoted',
                         pgautofailover.node_label(standby), standby.candidatepriority);
    END IF;
  ELSIF $3 IS NULL AND NOT EXISTS (
      SELECT 1 FROM pgautofailover.node x
       WHERE x.formationid = $1 AND x.groupid = $2 AND x.nodeid <> source.nodeid
         AND x.goalstate = 'secondary' AND x.reportedstate = 'secondary' AND x.candidatepriority > 0) THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = format('cannot fail over: no standby node of group %s in formation "%s" can be promoted', $2, $1),
      DETAIL = 'A failover candidate is a node in state secondary with a candidate priority above 0.';
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgautofailover.perform_failover(formation_id text DEFAULT 'default', group_id integer DEFAULT 0)
RETURNS void
LANGUAGE plpgsql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM pgautofailover.lock_group($1, $2);
  PERFORM pgautofailover.check_failover($1, $2, NULL);
  PERFORM pgautofailover.record_request($1, $2, NULL, 'failover', false,
    format('Requested failover of group %s in formation "%s"', $2, $1));
END
$$;

-- Returns false (with a NOTICE) when the node already is the primary, true
-- when a promotion has been requested.
CREATE OR REPLACE FUNCTION pgautofailover.perform_promotion(formation_id text, node_name text)
RETURNS boolean
LANGUAGE plpgsql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  n pgautofailover.node;
BEGIN
  n := pgautofailover.lock_node_by_name($1, $2);

  IF n.reportedstate = n.goalstate AND n.goalstate IN ('single', 'primary') THEN
    RAISE NOTICE USING ERRCODE = '55000',
      MESSAGE = format('cannot perform promotion: node %s in formation %s is already a primary.', n.nodename, n.formationid);
    RETURN false;
  END IF;
  IF NOT (n.reportedstate = n.goalstate AND n.goalstate IN ('secondary', 'report_lsn')) THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = format('cannot perform promotion: %s is in state %s and assigned %s, promotion can only be performed when in state "secondary"',
                       pgautofailover.node_label(n), n.reportedstate, n.goalstate);
  END IF;

  PERFORM pgautofailover.check_failover(n.formationid, n.groupid, n.nodeid);
  PERFORM pgautofailover.record_request(n.formationid, n.groupid, n.nodeid, 'promotion', false,
    format('Requested promotion of %s in formation "%s"', pgautofailover.node_label(n), n.formationid));
  RETURN true;
END
$$;

-- Finds a node by id, takes the group lock and returns the row locked;
-- a row of NULLs when there is no such node.
CREATE OR REPLACE FUNCTION pgautofailover.lock_node_by_id(node_id bigint)
RETURNS pgautofailover.node
LANGUAGE plpgsql STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  n pgautofailover.node;
BEGIN
  SELECT x.* INTO n FROM pgautofailover.node x WHERE x.nodeid = $1;
  IF FOUND THEN
    PERFORM pgautofailover.lock_group(n.formationid, n.groupid);
    SELECT x.* INTO n FROM pgautofailover.node x WHERE x.nodeid = $1 FOR UPDATE;
  END IF;
  RETURN n;
END
$$;

-- Returns false for an unknown node id, true when the node already is (or
-- has been asked to go) in maintenance or when maintenance was requested.
CREATE OR REPLACE FUNCTION pgautofailover.start_maintenance(node_id bigint)
RETURNS boolean
LANGUAGE plpgsql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  n pgautofailover.node;
  p pgautofailover.node;
  f pgautofailover.formation;
  candidates integer;
  remaining integer;
BEGIN
  n := pgautofailover.lock_node_by_id($1);
  IF n.nodeid IS NULL THEN
    RETURN false;
  END IF;
  IF n.reportedstate IN ('maintenance', 'prepare_maintenance', 'wait_maintenance')
     OR n.goalstate IN ('maintenance', 'prepare_maintenance', 'wait_maintenance')
     OR pgautofailover.has_pending_request(n.formationid, n.groupid, ARRAY['maintenance_on'], n.nodeid) THEN
    RETURN true;
  END IF;

  SELECT x.* INTO f FROM pgautofailover.formation x WHERE x.formationid = n.formationid;
  p := pgautofailover.writable_node(n.formationid, n.groupid);

  IF n.reportedstate = 'primary' AND n.goalstate = 'primary' THEN
    SELECT count(*) INTO candidates FROM pgautofailover.node x
     WHERE x.formationid = n.formationid AND x.groupid = n.groupid AND x.nodeid <> n.nodeid
       AND x.goalstate = 'secondary' AND x.reportedstate = 'secondary' AND x.candidatepriority > 0
       AND pgautofailover.is_healthy(x);
    IF candidates < 1 THEN
      RAISE EXCEPTION USING ERRCODE = '55000',
        MESSAGE = format('Starting maintenance on %s is not currently possible', pgautofailover.node_label(n)),
        DETAIL = format('The primary needs at least 1 healthy failover candidate in state secondary, and group %s of formation "%s" has %s.',
                        n.groupid, n.formationid, candidates);
    END IF;
  ELSIF n.reportedstate IN ('secondary', 'catchingup') THEN
    IF p.nodeid IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'XX000',
        MESSAGE = format('couldn''t find the primary node in formation "%s", group %s', n.formationid, n.groupid);
    END IF;
    IF NOT (p.reportedstate = 'primary' AND p.goalstate = 'primary') THEN
      RAISE EXCEPTION USING ERRCODE = '55000',
        MESSAGE = format('cannot start maintenance on %s: the primary %s is in state %s and assigned %s, expected "primary"',
                         pgautofailover.node_label(n), pgautofailover.node_label(p), p.reportedstate, p.goalstate),
        HINT = 'Retry when the primary is in state "primary".';
    END IF;
  ELSE
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = format('cannot start maintenance on %s: it is in state %s and assigned %s, expected "primary", "secondary" or "catchingup"',
                       pgautofailover.node_label(n), n.reportedstate, n.goalstate);
  END IF;

  IF f.number_sync_standbys > 0 THEN
    SELECT count(*) INTO remaining FROM pgautofailover.node x
     WHERE x.formationid = n.formationid AND x.groupid = n.groupid AND x.nodeid <> n.nodeid
       AND x.nodeid IS DISTINCT FROM p.nodeid AND x.replicationquorum
       AND x.goalstate = 'secondary' AND x.reportedstate = 'secondary';
    IF remaining < f.number_sync_standbys THEN
      RAISE WARNING USING
        MESSAGE = format('Starting maintenance on %s will block writes on the primary', pgautofailover.node_label(n)),
        DETAIL = format('number_sync_standbys is %s and only %s other standby nodes in the replication quorum are in state secondary.',
                        f.number_sync_standbys, remaining);
    END IF;
  END IF;

  PERFORM pgautofailover.record_request(n.formationid, n.groupid, n.nodeid, 'maintenance_on', false,
    format('Requested maintenance for %s', pgautofailover.node_label(n)));
  RETURN true;
END
$$;

-- Returns false for an unknown node id, true when the end of maintenance
-- was requested (or already is).
CREATE OR REPLACE FUNCTION pgautofailover.stop_maintenance(node_id bigint)
RETURNS boolean
LANGUAGE plpgsql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  n pgautofailover.node;
  members integer;
BEGIN
  n := pgautofailover.lock_node_by_id($1);
  IF n.nodeid IS NULL THEN
    RETURN false;
  END IF;
  IF pgautofailover.has_pending_request(n.formationid, n.groupid, ARRAY['maintenance_off'], n.nodeid) THEN
    RETURN true;
  END IF;

  SELECT count(*) INTO members FROM pgautofailover.node x
   WHERE x.formationid = n.formationid AND x.groupid = n.groupid AND x.goalstate <> 'dropped';

  IF NOT ((n.reportedstate = 'maintenance' AND n.goalstate = 'maintenance')
          OR (members > 2 AND n.reportedstate = 'prepare_maintenance' AND n.goalstate = 'prepare_maintenance')) THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = format('cannot stop maintenance when current state for %s is not "maintenance"', pgautofailover.node_label(n)),
      DETAIL = format('The node is in state %s and assigned %s.', n.reportedstate, n.goalstate);
  END IF;
  IF members = 2 AND (pgautofailover.primary_or_demoted(n.formationid, n.groupid)).nodeid IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'XX000',
      MESSAGE = format('couldn''t find the primary node in formation "%s", group %s', n.formationid, n.groupid);
  END IF;

  PERFORM pgautofailover.record_request(n.formationid, n.groupid, n.nodeid, 'maintenance_off', false,
    format('Requested end of maintenance for %s', pgautofailover.node_label(n)));
  RETURN true;
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgautofailover FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
  pgautofailover.perform_failover(text, integer),
  pgautofailover.perform_promotion(text, text),
  pgautofailover.start_maintenance(bigint),
  pgautofailover.stop_maintenance(bigint)
TO autoctl_node;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pgautofailover TO autoctl;
