-- Monitor schema, version 0004: operator functions (spec 03 section 5.2).
--
-- Each function validates its preconditions with the errors of the spec,
-- updates the settings it owns (formation rows, candidate priority,
-- replication quorum, number_sync_standbys) and records a row in
-- pgautofailover.request for what needs goal changes (failover, promotion,
-- maintenance, removal, applying new settings). The monitor service
-- carries the request out and marks it done; these functions never change
-- goal states.

-- Formations.

CREATE OR REPLACE FUNCTION pgautofailover.check_formation_args(kind text, number_sync_standbys integer)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
BEGIN
  IF $1 IS NULL OR $1 NOT IN ('pgsql', 'citus') THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('unknown formation kind "%s"', $1),
      HINT = 'Known formation kinds are "pgsql" and "citus".';
  END IF;
  IF $2 < 0 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('invalid value for number_sync_standbys: %s', $2),
      DETAIL = 'number_sync_standbys must be 0 or more.';
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgautofailover.create_formation(
    formation_id text,
    kind text,
    dbname name,
    opt_secondary boolean,
    number_sync_standbys integer,
    OUT formation_id text,
    OUT kind text,
    OUT dbname name,
    OUT opt_secondary boolean,
    OUT number_sync_standbys integer)
RETURNS record
LANGUAGE sql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT pgautofailover.check_formation_args($2, $5);
  INSERT INTO pgautofailover.formation (formationid, kind, dbname, opt_secondary, number_sync_standbys)
  VALUES ($1, $2, $3, $4, $5)
  RETURNING formationid, kind, dbname, opt_secondary, number_sync_standbys;
$$;

CREATE OR REPLACE FUNCTION pgautofailover.drop_formation(formation_id text)
RETURNS void
LANGUAGE plpgsql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM pgautofailover.lock_formation($1, true);
  -- nodes still registered: node_formationid_fkey refuses (23503)
  DELETE FROM pgautofailover.formation f WHERE f.formationid = $1;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = format('couldn''t find formation "%s"', $1);
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgautofailover.set_formation_opt_secondary(formation_id text, opt_secondary boolean)
RETURNS boolean
LANGUAGE plpgsql STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM pgautofailover.lock_formation($1, true);
  -- disabling is checked by the trigger disable_secondary_check (55000)
  UPDATE pgautofailover.formation f SET opt_secondary = $2 WHERE f.formationid = $1;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = format('couldn''t find formation "%s"', $1);
  END IF;
  RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION pgautofailover.enable_secondary(formation_id text)
RETURNS boolean
LANGUAGE sql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT pgautofailover.set_formation_opt_secondary($1, true)
$$;

CREATE OR REPLACE FUNCTION pgautofailover.disable_secondary(formation_id text)
RETURNS boolean
LANGUAGE sql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT pgautofailover.set_formation_opt_secondary($1, false)
$$;

-- Replication settings (spec 01 section 6).

CREATE OR REPLACE FUNCTION pgautofailover.set_formation_number_sync_standbys(formation_id text, number_sync_standbys integer)
RETURNS boolean
LANGUAGE plpgsql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  f pgautofailover.formation;
  p pgautofailover.node;
  quorum integer;
BEGIN
  PERFORM pgautofailover.lock_formation($1, true);
  SELECT x.* INTO f FROM pgautofailover.formation x WHERE x.formationid = $1;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('unknown formation "%s"', $1);
  END IF;
  IF $2 < 0 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('invalid value for number_sync_standbys: %s', $2),
      DETAIL = 'number_sync_standbys must be 0 or more.';
  END IF;

  p := pgautofailover.writable_node($1, 0);
  IF p.nodeid IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'XX000',
      MESSAGE = format('Couldn''t find the primary node in formation "%s", group 0', $1);
  END IF;
  IF NOT (p.reportedstate = p.goalstate AND p.goalstate IN ('primary', 'wait_primary')) THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = format('cannot set number_sync_standbys of formation "%s" when the primary %s is in state %s and assigned %s',
                       $1, pgautofailover.node_label(p), p.reportedstate, p.goalstate),
      HINT = 'Retry when the primary is in state "primary" or "wait_primary".';
  END IF;

  SELECT count(*) INTO quorum FROM pgautofailover.node x
   WHERE x.formationid = $1 AND x.groupid = 0 AND x.goalstate <> 'dropped'
     AND x.nodeid <> p.nodeid AND x.replicationquorum;
  IF $2 > 0 AND quorum < $2 + 1 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('invalid value for number_sync_standbys: %s', $2),
      DETAIL = format('At least %s standby nodes are required, and only %s are currently participating in the replication quorum.',
                      $2 + 1, quorum);
  END IF;

  UPDATE pgautofailover.formation x SET number_sync_standbys = $2 WHERE x.formationid = $1;
  PERFORM pgautofailover.record_request($1, 0, NULL, 'settings_changed', false,
    format('Setting number_sync_standbys to %s for formation "%s"', $2, $1), 'number_sync_standbys');
  RETURN true;
END
$$;

-- Shared tail of set_node_candidate_priority and set_node_replication_quorum:
-- in a group of one node the change is recorded as an event; otherwise the
-- service is asked to have the primary apply the new settings.
CREATE OR REPLACE FUNCTION pgautofailover.node_setting_changed(n pgautofailover.node, setting text, description text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  members integer;
BEGIN
  SELECT count(*) INTO members FROM pgautofailover.node x
   WHERE x.formationid = n.formationid AND x.groupid = n.groupid AND x.goalstate <> 'dropped';
  IF members <= 1 THEN
    PERFORM pgautofailover.insert_event(n, $3);
    PERFORM pgautofailover.notify_decide(n.formationid, n.groupid, n.nodeid, 'settings');
  ELSIF (pgautofailover.writable_node(n.formationid, n.groupid)).nodeid IS NOT NULL THEN
    PERFORM pgautofailover.record_request(n.formationid, n.groupid, n.nodeid, 'settings_changed', false, $3, $2);
  ELSE
    PERFORM pg_notify('log', $3);
    PERFORM pgautofailover.notify_decide(n.formationid, n.groupid, n.nodeid, 'settings');
  END IF;
END
$$;

-- Finds a node by formation and name, takes the group lock and returns the
-- row locked; 42704 when there is no such node.
CREATE OR REPLACE FUNCTION pgautofailover.lock_node_by_name(formation_id text, node_name text)
RETURNS pgautofailover.node
LANGUAGE plpgsql STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  n pgautofailover.node;
BEGIN
  SELECT x.* INTO n FROM pgautofailover.node x WHERE x.formationid = $1 AND x.nodename = $2;
  IF FOUND THEN
    PERFORM pgautofailover.lock_group(n.formationid, n.groupid);
    SELECT x.* INTO n FROM pgautofailover.node x WHERE x.nodeid = n.nodeid FOR UPDATE;
  END IF;
  IF n.nodeid IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '42704',
      MESSAGE = format('node "%s" is not registered in formation "%s"', $2, $1);
  END IF;
  RETURN n;
END
$$;

-- Refuses a settings change while the group's primary is converged in
-- apply_settings (the previous change is still being applied).
CREATE OR REPLACE FUNCTION pgautofailover.check_not_applying_settings(n pgautofailover.node, what text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  p pgautofailover.node;
BEGIN
  p := pgautofailover.writable_node(n.formationid, n.groupid);
  IF p.nodeid IS NOT NULL AND p.goalstate = 'apply_settings' AND p.reportedstate = 'apply_settings' THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = format('cannot set %s of %s while the primary %s is applying new settings',
                       $2, pgautofailover.node_label(n), pgautofailover.node_label(p)),
      HINT = 'Retry in a moment.';
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgautofailover.set_node_candidate_priority(formation_id text, node_name text, candidate_priority integer)
RETURNS boolean
LANGUAGE plpgsql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  n pgautofailover.node;
  others_nonzero integer;
BEGIN
  n := pgautofailover.lock_node_by_name($1, $2);

  IF $3 < 0 OR $3 > 100 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('invalid value for candidate_priority "%s", expected an integer value between 0 and 100', $3);
  END IF;
  IF n.nodecluster <> 'default' AND $3 <> 0 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('invalid value for candidate_priority "%s": %s belongs to cluster "%s", whose nodes must have priority 0',
                       $3, pgautofailover.node_label(n), n.nodecluster);
  END IF;
  -- An election temporarily moves priorities out of 0..100 and restores
  -- them when it ends; a change in between would be undone wrongly.
  IF EXISTS (SELECT 1 FROM pgautofailover.node x
              WHERE x.formationid = n.formationid AND x.groupid = n.groupid
                AND x.goalstate <> 'dropped' AND (x.candidatepriority < 0 OR x.candidatepriority > 100)) THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = format('cannot set candidate priority of %s while a failover is in progress in group %s of formation "%s"',
                       pgautofailover.node_label(n), n.groupid, n.formationid),
      HINT = 'Retry when the failover is done.';
  END IF;
  PERFORM pgautofailover.check_not_applying_settings(n, 'candidate priority');

  IF $3 = 0 THEN
    SELECT count(*) INTO others_nonzero FROM pgautofailover.node x
     WHERE x.formationid = n.formationid AND x.groupid = n.groupid AND x.goalstate <> 'dropped'
       AND x.nodeid <> n.nodeid AND x.candidatepriority > 0;
    IF others_nonzero < 2 THEN
      RAISE NOTICE USING
        MESSAGE = format('with candidate priority 0 for %s, group %s of formation "%s" has %s node(s) that can be promoted; a failover needs at least 2',
                         pgautofailover.node_label(n), n.groupid, n.formationid, others_nonzero);
    END IF;
  END IF;

  UPDATE pgautofailover.node x SET candidatepriority = $3 WHERE x.nodeid = n.nodeid RETURNING x.* INTO n;
  PERFORM pgautofailover.node_setting_changed(n, 'candidate_priority',
    format('Updating candidate priority to %s for %s', $3, pgautofailover.node_label(n)));
  RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION pgautofailover.set_node_replication_quorum(formation_id text, node_name text, replication_quorum boolean)
RETURNS boolean
LANGUAGE plpgsql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  n pgautofailover.node;
  p pgautofailover.node;
  nss integer;
  quorum integer;
BEGIN
  n := pgautofailover.lock_node_by_name($1, $2);

  IF NOT $3 THEN
    p := pgautofailover.writable_node(n.formationid, n.groupid);
    IF p.nodeid IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'XX000',
        MESSAGE = format('couldn''t find the primary node in formation "%s", group %s', n.formationid, n.groupid);
    END IF;
    SELECT f.number_sync_standbys INTO nss FROM pgautofailover.formation f WHERE f.formationid = n.formationid;
    SELECT count(*) INTO quorum FROM pgautofailover.node x
     WHERE x.formationid = n.formationid AND x.groupid = n.groupid AND x.goalstate <> 'dropped'
       AND x.nodeid <> p.nodeid AND x.nodeid <> n.nodeid AND x.replicationquorum;
    IF nss > 0 AND quorum < nss + 1 THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = 'can''t set replication quorum to false',
        DETAIL = format('number_sync_standbys is %s for formation "%s": at least %s standby nodes are required, and only %s would be participating in the replication quorum.',
                        nss, n.formationid, nss + 1, quorum);
    END IF;
  END IF;
  PERFORM pgautofailover.check_not_applying_settings(n, 'replication quorum');

  UPDATE pgautofailover.node x SET replicationquorum = $3 WHERE x.nodeid = n.nodeid RETURNING x.* INTO n;
  PERFORM pgautofailover.node_setting_changed(n, 'replication_quorum',
    format('Updating replicationQuorum to %s for %s', $3, pgautofailover.node_label(n)));
  RETURN true;
END
$$;

-- Node removal (spec 02 section 5.10). The service assigns dropped (or,
-- with force or a node already converged dropped, deletes the row).
CREATE OR REPLACE FUNCTION pgautofailover.remove_node(node_id bigint, force boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  n pgautofailover.node;
  nss integer;
  quorum integer;
  new_nss integer;
BEGIN
  SELECT x.* INTO n FROM pgautofailover.node x WHERE x.nodeid = $1;
  IF FOUND THEN
    PERFORM pgautofailover.lock_formation(n.formationid, true);
    SELECT x.* INTO n FROM pgautofailover.node x WHERE x.nodeid = $1 FOR UPDATE;
  END IF;
  IF n.nodeid IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('couldn''t find node with nodeid %s', $1);
  END IF;

  IF NOT $2 AND (n.goalstate = 'dropped'
                 OR pgautofailover.has_pending_request(n.formationid, n.groupid, ARRAY['remove'], n.nodeid)) THEN
    RETURN true;
  END IF;

  IF NOT $2 AND n.reportedstate <> 'dropped' THEN
    -- keep number_sync_standbys possible without this node (spec 01 section 6.1)
    SELECT f.number_sync_standbys INTO nss FROM pgautofailover.formation f WHERE f.formationid = n.formationid;
    SELECT count(*) - 1 INTO quorum FROM pgautofailover.node x
     WHERE x.formationid = n.formationid AND x.groupid = n.groupid AND x.goalstate <> 'dropped'
       AND x.nodeid <> n.nodeid AND x.replicationquorum;
    IF quorum < nss + 1 THEN
      new_nss := greatest(quorum - 1, 0);
      IF new_nss <> nss THEN
        UPDATE pgautofailover.formation f SET number_sync_standbys = new_nss WHERE f.formationid = n.formationid;
        PERFORM pg_notify('log',
          format('Setting number_sync_standbys to %s for formation "%s" now that %s is being removed',
                 new_nss, n.formationid, pgautofailover.node_label(n)));
      END IF;
    END IF;
  END IF;

  PERFORM pgautofailover.record_request(n.formationid, n.groupid, n.nodeid, 'remove', $2,
    format('Requested removal of %s from formation "%s"%s', pgautofailover.node_label(n), n.formationid,
           CASE WHEN $2 THEN ' (forced)' ELSE '' END));
  RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION pgautofailover.remove_node(node_host text, node_port integer DEFAULT 5432, force boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  found_id bigint;
BEGIN
  SELECT x.nodeid INTO found_id FROM pgautofailover.node x WHERE x.nodehost = $1 AND x.nodeport = $2;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '42704',
      MESSAGE = format('couldn''t find node with hostname "%s" and port %s', $1, $2);
  END IF;
  RETURN pgautofailover.remove_node(found_id, $3);
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgautofailover FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
  pgautofailover.create_formation(text, text, name, boolean, integer),
  pgautofailover.drop_formation(text),
  pgautofailover.enable_secondary(text),
  pgautofailover.disable_secondary(text),
  pgautofailover.set_formation_number_sync_standbys(text, integer),
  pgautofailover.set_node_candidate_priority(text, text, integer),
  pgautofailover.set_node_replication_quorum(text, text, boolean),
  pgautofailover.remove_node(bigint, boolean),
  pgautofailover.remove_node(text, integer, boolean)
TO autoctl_node;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pgautofailover TO autoctl;
