-- Monitor schema, version 0002: shared helpers (state predicates, labels,
-- notifications, locks, events, requests), the formation trigger, and the
-- functions reserved to the monitor service (role autoctl).
--
-- Notification channels (sent at commit, dropped on rollback):
--   log                    plain text, one informative message
--   state                  one JSON object per event row, see state_payload()
--   pgautofailover_decide  JSON {"formation", "groupId", "nodeId", "why"
--                          [, "requestId"]}: tells the monitor service that
--                          the decision procedure must run for that group.
--                          A hint only: anyone may send one, so the service
--                          trusts nothing in it but the group to look at.
--
-- Locks: row locks on our own tables, which no client can take directly
-- (row locks need UPDATE on the table; autoctl_node only has SELECT), so
-- a monitor client cannot squat them the way it could squat a well-known
-- advisory lock key. The formation lock is the formation row, the group
-- lock is the group's group_state row (created on first use).
-- Group-level writers (the service's decision transaction, the operator
-- functions) call lock_group(), which takes the formation lock SHARE (FOR
-- KEY SHARE) and the group lock EXCLUSIVE (FOR UPDATE); registration, node
-- removal and number_sync_standbys take the formation lock EXCLUSIVE. The
-- service uses try_lock_group(), which never waits. These locks are always
-- taken before the node rows are locked.
--
-- The active monitor service is named by the single row of
-- monitor_leader (claim_monitor_leadership), not by an advisory lock.

-- State predicates (spec 02 section 1).

CREATE OR REPLACE FUNCTION pgautofailover.is_writable(state pgautofailover.replication_state)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT $1 IN ('single', 'wait_primary', 'primary', 'join_primary', 'apply_settings')
$$;

CREATE OR REPLACE FUNCTION pgautofailover.is_primaryish(state pgautofailover.replication_state)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT $1 IN ('single', 'wait_primary', 'primary', 'join_primary', 'apply_settings',
                'draining', 'demote_timeout', 'prepare_maintenance')
$$;

CREATE OR REPLACE FUNCTION pgautofailover.is_being_demoted(n pgautofailover.node)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT pgautofailover.is_primaryish(n.reportedstate)
     AND n.goalstate IN ('draining', 'demote_timeout', 'prepare_maintenance')
$$;

CREATE OR REPLACE FUNCTION pgautofailover.is_demoted_primary(n pgautofailover.node)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT n.goalstate = 'demoted'
     AND (pgautofailover.is_primaryish(n.reportedstate) OR n.reportedstate = 'demoted')
$$;

CREATE OR REPLACE FUNCTION pgautofailover.is_being_promoted(n pgautofailover.node)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT (n.reportedstate IN ('report_lsn', 'fast_forward')
          AND n.goalstate IN ('fast_forward', 'prepare_promotion'))
      OR (n.reportedstate = 'prepare_promotion'
          AND n.goalstate IN ('prepare_promotion', 'stop_replication', 'wait_primary'))
      OR (n.reportedstate = 'stop_replication'
          AND n.goalstate IN ('stop_replication', 'wait_primary'))
$$;

-- Health as the service's rules see it, used here only for operator
-- preconditions (the service re-checks everything when it acts): Postgres
-- reported running, and the last health check succeeded, has not happened
-- yet, or failed before the keeper's latest report.
CREATE OR REPLACE FUNCTION pgautofailover.is_healthy(n pgautofailover.node)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT n.reportedpgisrunning IS NOT FALSE
     AND (n.health IN (1, -1) OR (n.health = 0 AND n.reporttime > n.healthchecktime))
$$;

-- Labels used in messages: node 1 "node_1" (10.0.0.1:5432).

CREATE OR REPLACE FUNCTION pgautofailover.node_label(n pgautofailover.node)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT format('node %s "%s" (%s:%s)', n.nodeid, n.nodename, n.nodehost, n.nodeport)
$$;

CREATE OR REPLACE FUNCTION pgautofailover.health_label(health integer)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT CASE $1 WHEN 1 THEN 'good' WHEN 0 THEN 'bad' ELSE 'unknown' END
$$;

-- Group lookups (spec 02 section 1), over the group's nodes whose goal is
-- not dropped, by node id. They return a row of NULLs when nothing matches.

CREATE OR REPLACE FUNCTION pgautofailover.writable_node(formation_id text, group_id integer)
RETURNS pgautofailover.node
LANGUAGE sql STABLE STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT n.* FROM pgautofailover.node n
   WHERE n.formationid = $1 AND n.groupid = $2
     AND pgautofailover.is_writable(n.goalstate)
   ORDER BY n.nodeid
   LIMIT 1
$$;

CREATE OR REPLACE FUNCTION pgautofailover.failover_source(formation_id text, group_id integer)
RETURNS pgautofailover.node
LANGUAGE sql STABLE STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT n.* FROM pgautofailover.node n
   WHERE n.formationid = $1 AND n.groupid = $2
     AND n.goalstate IN ('single', 'primary', 'join_primary')
     AND n.reportedstate = n.goalstate
   ORDER BY n.nodeid
   LIMIT 1
$$;

-- The writable node, else the old primary still being demoted (the last
-- one by node id whose reported state belongs to a primary, a node being
-- demoted not being replaced by an already demoted one).
CREATE OR REPLACE FUNCTION pgautofailover.primary_or_demoted(formation_id text, group_id integer)
RETURNS pgautofailover.node
LANGUAGE plpgsql STABLE STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  candidate pgautofailover.node;
  chosen pgautofailover.node;
BEGIN
  chosen := pgautofailover.writable_node($1, $2);
  IF chosen.nodeid IS NOT NULL THEN
    RETURN chosen;
  END IF;
  FOR candidate IN
    SELECT n.* FROM pgautofailover.node n
     WHERE n.formationid = $1 AND n.groupid = $2 AND n.goalstate <> 'dropped'
       AND pgautofailover.is_primaryish(n.reportedstate)
     ORDER BY n.nodeid
  LOOP
    IF chosen.nodeid IS NOT NULL
       AND pgautofailover.is_being_demoted(chosen)
       AND pgautofailover.is_demoted_primary(candidate) THEN
      CONTINUE;
    END IF;
    chosen := candidate;
  END LOOP;
  RETURN chosen;
END
$$;

-- Locks.

CREATE OR REPLACE FUNCTION pgautofailover.lock_formation(formation_id text, exclusive boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
BEGIN
  -- an unknown formation locks nothing: the caller reports it
  IF exclusive THEN
    PERFORM 1 FROM pgautofailover.formation f WHERE f.formationid = $1 FOR UPDATE;
  ELSE
    PERFORM 1 FROM pgautofailover.formation f WHERE f.formationid = $1 FOR KEY SHARE;
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgautofailover.lock_group(formation_id text, group_id integer)
RETURNS void
LANGUAGE plpgsql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM 1 FROM pgautofailover.formation f WHERE f.formationid = $1 FOR KEY SHARE;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  INSERT INTO pgautofailover.group_state (formationid, groupid) VALUES ($1, $2)
  ON CONFLICT (formationid, groupid) DO NOTHING;
  PERFORM 1 FROM pgautofailover.group_state g WHERE g.formationid = $1 AND g.groupid = $2 FOR UPDATE;
END
$$;

-- lock_group() for the monitor service: never waits for a lock (nor, with
-- the service's lock_timeout, for long on a conflicting insert). Returns
-- false when the formation or the group lock is held by another
-- transaction (the service retries later and meanwhile decides for the
-- other groups), or when the formation does not exist.
CREATE OR REPLACE FUNCTION pgautofailover.try_lock_group(formation_id text, group_id integer)
RETURNS boolean
LANGUAGE plpgsql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM 1 FROM pgautofailover.formation f WHERE f.formationid = $1 FOR KEY SHARE NOWAIT;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  INSERT INTO pgautofailover.group_state (formationid, groupid) VALUES ($1, $2)
  ON CONFLICT (formationid, groupid) DO NOTHING;
  PERFORM 1 FROM pgautofailover.group_state g WHERE g.formationid = $1 AND g.groupid = $2 FOR UPDATE NOWAIT;
  RETURN true;
EXCEPTION WHEN lock_not_available THEN
  RETURN false;
END
$$;

-- Makes the calling session the active monitor service unless another
-- live backend holds that role. True when this session is (now) the
-- leader. Like a session lock, the claim ends with the session: a backend
-- that has exited no longer appears in pg_stat_activity. SECURITY DEFINER
-- so that pg_stat_activity shows the start time of every role's backends.
CREATE OR REPLACE FUNCTION pgautofailover.claim_monitor_leadership()
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  me_start timestamptz;
BEGIN
  SELECT a.backend_start INTO me_start FROM pg_catalog.pg_stat_activity a WHERE a.pid = pg_backend_pid();
  UPDATE pgautofailover.monitor_leader l
     SET pid = pg_backend_pid(), backend_start = me_start, since = now()
   WHERE l.singleton
     AND (l.pid IS NULL
          OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a
                          WHERE a.pid = l.pid AND a.backend_start = l.backend_start));
  IF FOUND THEN
    RETURN true;
  END IF;
  RETURN EXISTS (SELECT 1 FROM pgautofailover.monitor_leader l
                  WHERE l.pid = pg_backend_pid() AND l.backend_start = me_start);
END
$$;

-- Notifications and events.

-- The `state` payload: keys in this order, strings JSON-escaped, and (as in
-- the original) no space after "health":.
CREATE OR REPLACE FUNCTION pgautofailover.state_payload(n pgautofailover.node)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT format('{"type": "state", "formation": %s, "groupId": %s, "nodeId": %s, "name": %s, '
                '"host": %s, "port": %s, "reportedState": %s, "goalState": %s, "health":%s}',
                to_json(n.formationid), n.groupid, n.nodeid, to_json(n.nodename),
                to_json(n.nodehost), n.nodeport, to_json(n.reportedstate::text),
                to_json(n.goalstate::text), to_json(pgautofailover.health_label(n.health)))
$$;

CREATE OR REPLACE FUNCTION pgautofailover.notify_decide(formation_id text, group_id integer, node_id bigint,
                                             why text, request_id bigint DEFAULT NULL)
RETURNS void
LANGUAGE sql
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT pg_notify('pgautofailover_decide',
    format('{"formation": %s, "groupId": %s, "nodeId": %s, "why": %s%s}',
           to_json($1), coalesce($2::text, 'null'), coalesce($3::text, 'null'), to_json($4),
           CASE WHEN $5 IS NULL THEN '' ELSE format(', "requestId": %s', $5) END))
$$;

-- Appends an event with the node's current values, then sends the `state`
-- and `log` notifications. Returns the event id.
CREATE OR REPLACE FUNCTION pgautofailover.insert_event(n pgautofailover.node, description text)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  event_id bigint;
BEGIN
  INSERT INTO pgautofailover.event
         (formationid, nodeid, groupid, nodename, nodehost, nodeport, reportedstate, goalstate,
          reportedrepstate, reportedtli, reportedlsn, candidatepriority, replicationquorum, description)
  VALUES (n.formationid, n.nodeid, n.groupid, n.nodename, n.nodehost, n.nodeport, n.reportedstate,
          n.goalstate, n.reportedrepstate, n.reportedtli, n.reportedlsn, n.candidatepriority,
          n.replicationquorum, $2)
  RETURNING eventid INTO event_id;
  PERFORM pg_notify('state', pgautofailover.state_payload(n));
  PERFORM pg_notify('log', $2);
  RETURN event_id;
END
$$;

-- Records an operator request for the monitor service, logs it and asks
-- for a decision on the group. Returns the request id.
CREATE OR REPLACE FUNCTION pgautofailover.record_request(formation_id text, group_id integer, node_id bigint,
                                              kind text, force boolean, description text,
                                              setting text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  request_id bigint;
BEGIN
  INSERT INTO pgautofailover.request (formationid, groupid, nodeid, kind, force, description, setting)
  VALUES ($1, $2, $3, $4, $5, $6, $7)
  RETURNING id INTO request_id;
  PERFORM pg_notify('log', $6);
  PERFORM pgautofailover.notify_decide($1, $2, $3, 'request', request_id);
  RETURN request_id;
END
$$;

CREATE OR REPLACE FUNCTION pgautofailover.has_pending_request(formation_id text, group_id integer,
                                                   kinds text[], node_id bigint DEFAULT NULL)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT EXISTS (SELECT 1 FROM pgautofailover.request r
                  WHERE r.formationid = $1 AND r.groupid = $2 AND r.done_at IS NULL
                    AND r.kind = ANY ($3) AND ($4 IS NULL OR r.nodeid = $4))
$$;

-- Formation trigger: secondaries can only be disabled when every node of
-- the formation is a single node (or being dropped).
CREATE OR REPLACE FUNCTION pgautofailover.update_secondary_check()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  offender pgautofailover.node;
BEGIN
  IF OLD.opt_secondary AND NOT NEW.opt_secondary THEN
    SELECT n.* INTO offender FROM pgautofailover.node n
     WHERE n.formationid = NEW.formationid
       AND n.reportedstate <> 'single' AND n.goalstate <> 'dropped'
     ORDER BY n.nodeid
     LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION USING ERRCODE = '55000',
        MESSAGE = 'formation has nodes that are not in SINGLE state',
        DETAIL = format('%s of formation "%s" is in state %s.',
                        pgautofailover.node_label(offender), NEW.formationid, offender.reportedstate),
        HINT = 'Drop the secondary nodes before disabling secondaries on the formation.';
    END IF;
  END IF;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS disable_secondary_check ON pgautofailover.formation;
CREATE TRIGGER disable_secondary_check
  BEFORE UPDATE ON pgautofailover.formation
  FOR EACH ROW EXECUTE FUNCTION pgautofailover.update_secondary_check();

-- Functions of the monitor service (autoctl only).

-- Records one health-check result: health (-1 unknown, 0 bad, 1 good) and
-- healthchecktime = now(). When the value changes: event, `state` and `log`
-- notifications, and a decision request. When node_host/node_port are
-- given they must still match the row (the check was made against them).
-- Returns whether the health value changed; false also when the node is
-- gone.
CREATE OR REPLACE FUNCTION pgautofailover.set_node_health(node_id bigint, health integer,
                                               node_host text DEFAULT NULL, node_port integer DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  previous integer;
  n pgautofailover.node;
BEGIN
  IF $1 IS NULL OR $2 IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'node_id and health must not be NULL';
  END IF;
  IF $2 NOT IN (-1, 0, 1) THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('invalid health value %s, expected -1 (unknown), 0 (bad) or 1 (good)', $2);
  END IF;
  SELECT x.health INTO previous FROM pgautofailover.node x
   WHERE x.nodeid = $1 AND ($3 IS NULL OR x.nodehost = $3) AND ($4 IS NULL OR x.nodeport = $4)
   FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  UPDATE pgautofailover.node x SET health = $2, healthchecktime = now()
   WHERE x.nodeid = $1
  RETURNING x.* INTO n;
  IF previous = $2 THEN
    RETURN false;
  END IF;
  PERFORM pgautofailover.insert_event(n,
    format('Node %s is marked as %s by the monitor', pgautofailover.node_label(n),
           CASE $2 WHEN 1 THEN 'healthy' WHEN 0 THEN 'unhealthy' ELSE 'of unknown health' END));
  PERFORM pgautofailover.notify_decide(n.formationid, n.groupid, n.nodeid, 'health');
  RETURN true;
END
$$;

-- Assigns a goal state (statechangetime = now()) and records the event
-- with its reason; `state` and `log` notifications follow. Returns the
-- event id. The caller holds the group lock (lock_group).
CREATE OR REPLACE FUNCTION pgautofailover.set_node_goal_state(node_id bigint, goal_state pgautofailover.replication_state,
                                                   description text)
RETURNS bigint
LANGUAGE plpgsql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  n pgautofailover.node;
BEGIN
  UPDATE pgautofailover.node x SET goalstate = $2, statechangetime = now(), goalchangetime = now()
   WHERE x.nodeid = $1
  RETURNING x.* INTO n;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('couldn''t find node with nodeid %s', $1);
  END IF;
  RETURN pgautofailover.insert_event(n, $3);
END
$$;

-- Records an event for a node with its current values (for instance a
-- candidate priority adjustment made by an election), with the `state` and
-- `log` notifications. Returns the event id.
CREATE OR REPLACE FUNCTION pgautofailover.record_node_event(node_id bigint, description text)
RETURNS bigint
LANGUAGE plpgsql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  n pgautofailover.node;
BEGIN
  SELECT x.* INTO n FROM pgautofailover.node x WHERE x.nodeid = $1;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('couldn''t find node with nodeid %s', $1);
  END IF;
  RETURN pgautofailover.insert_event(n, $2);
END
$$;

-- A host that goes into pg_hba.conf and connection strings (a data node,
-- a monitor member): an IP address (no network, no CIDR) or an RFC 1123
-- host name; never whitespace, "#", quotes, "@", "/" or the pg_hba.conf
-- keywords all, samehost and samenet.
CREATE OR REPLACE FUNCTION pgautofailover.is_valid_host(host text)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  ip inet;
  whole boolean;
BEGIN
  IF host ~ '^[0-9A-Fa-f:.]+$' AND host ~ '[:.]' THEN
    BEGIN
      ip := host::inet;
      -- (an IF condition ends at its first THEN, so the CASE is computed first)
      whole := masklen(ip) = CASE family(ip) WHEN 4 THEN 32 ELSE 128 END;
      IF whole THEN
        RETURN true;
      END IF;
    EXCEPTION WHEN invalid_text_representation THEN
      NULL;
    END;
  END IF;
  RETURN length(host) <= 253
    AND host !~ '^[0-9.]+$'
    AND lower(host) NOT IN ('all', 'samehost', 'samenet')
    AND host ~ '^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$';
END
$$;

-- Privileges: nothing for PUBLIC; pure helpers for autoctl_node (the
-- reporting functions run as their caller); everything for autoctl.
-- The internal helpers (insert_event, record_request, notify_decide, ...)
-- are not SECURITY DEFINER: called by autoctl they run with its own
-- privileges, and autoctl_node reaches them only through the API
-- functions.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgautofailover FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
  pgautofailover.is_writable(pgautofailover.replication_state),
  pgautofailover.is_primaryish(pgautofailover.replication_state),
  pgautofailover.is_being_demoted(pgautofailover.node),
  pgautofailover.is_demoted_primary(pgautofailover.node),
  pgautofailover.is_being_promoted(pgautofailover.node),
  pgautofailover.is_healthy(pgautofailover.node),
  pgautofailover.node_label(pgautofailover.node),
  pgautofailover.health_label(integer),
  pgautofailover.state_payload(pgautofailover.node),
  pgautofailover.writable_node(text, integer),
  pgautofailover.failover_source(text, integer),
  pgautofailover.primary_or_demoted(text, integer)
TO autoctl_node;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pgautofailover TO autoctl;
