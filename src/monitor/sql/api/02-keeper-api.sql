-- Raises 42501 naming the node unless this session may act for node n:
-- it presented n's token, or n has no token and require_node_token is off.
CREATE OR REPLACE FUNCTION pgautofailover.check_node_token(n pgautofailover.node)
RETURNS void
LANGUAGE plpgsql STABLE STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  stored bytea;
  presented text := nullif(current_setting('pgautofailover.node_token', true), '');
  required boolean;
BEGIN
  SELECT t.tokenhash INTO stored FROM pgautofailover.node_token t WHERE t.nodeid = n.nodeid;
  IF stored IS NULL THEN
    SELECT lower(s.setting) IN ('on', 'true', 'yes', '1') INTO required
      FROM pgautofailover.settings s WHERE s.name = 'pgautofailover.require_node_token';
    IF coalesce(required, false) THEN
      RAISE EXCEPTION USING ERRCODE = '42501',
        MESSAGE = format('%s has no node token, and pgautofailover.require_node_token is on', pgautofailover.node_label(n)),
        HINT = 'Register the node with this pg_autoctl (pg_autoctl create postgres), which issues its token, or turn the setting off.';
    END IF;
    RETURN;
  END IF;
  IF presented IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = format('%s is bound to its keeper''s token, and this session did not present one', pgautofailover.node_label(n)),
      HINT = 'Only the keeper of the node may call this function: it sets pgautofailover.node_token from its token file at each connection.';
  END IF;
  IF sha256(convert_to(presented, 'UTF8')) <> stored THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = format('%s is bound to its keeper''s token, and this session presented another token', pgautofailover.node_label(n)),
      HINT = 'Only the keeper of the node may call this function: it sets pgautofailover.node_token from its token file at each connection.';
  END IF;
END
$$;

-- Issues the token of a node registered in this same transaction, once:
-- 64 hex digits from two gen_random_uuid() calls (pg_strong_random; 244
-- random bits). Returns the token; only its sha256 is kept.
CREATE OR REPLACE FUNCTION pgautofailover.issue_node_token(node_id bigint)
RETURNS text
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  token text := replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
BEGIN
  UPDATE pgautofailover.node_token t
     SET tokenhash = sha256(convert_to(token, 'UTF8')), issuedat = now()
   WHERE t.nodeid = node_id AND t.tokenhash IS NULL AND t.registerxact = pg_current_xact_id();
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = format('cannot issue a token for node %s: a node token is issued once, in the transaction that registered the node', node_id);
  END IF;
  RETURN token;
END
$$;

-- Registers a node. Validates the formation, node kind, dbname and group,
-- refuses a standby while its group has no primary (55006, the keeper
-- retries), inserts the row, possibly raises number_sync_standbys from 0
-- to 1 (spec 01 section 6.1), and asks the service for a decision.
CREATE OR REPLACE FUNCTION pgautofailover.register_node(
    formation_id text,
    node_host text,
    node_port integer,
    dbname name,
    node_name text DEFAULT '',
    sysidentifier bigint DEFAULT 0,
    desired_node_id bigint DEFAULT -1,
    desired_group_id integer DEFAULT -1,
    initial_group_role pgautofailover.replication_state DEFAULT 'init',
    node_kind text DEFAULT 'standalone',
    candidate_priority integer DEFAULT 100,
    replication_quorum boolean DEFAULT true,
    node_cluster text DEFAULT 'default',
    OUT assigned_node_id bigint,
    OUT assigned_group_id integer,
    OUT assigned_group_state pgautofailover.replication_state,
    OUT assigned_candidate_priority integer,
    OUT assigned_replication_quorum boolean,
    OUT assigned_node_name text)
RETURNS record
LANGUAGE plpgsql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
  f pgautofailover.formation;
  n pgautofailover.node;
  other pgautofailover.node;
  wanted_kind text;
  grp integer;
  members integer;
  expected pgautofailover.replication_state;
  new_id bigint;
  new_name text;
  priority integer := candidate_priority;
  sysid bigint := NULLIF(sysidentifier, 0);
  primary_id bigint;
  quorum_standbys integer;
  -- Each node gets a replication slot and a health check: a group is bounded.
  max_group_nodes constant integer := 16;
BEGIN
  -- The host goes into pg_hba.conf and connection strings on every node of
  -- the group: only an IP address or an RFC 1123 host name (no CIDR,
  -- whitespace, comment, quote or HBA keyword). The keeper checks again.
  IF NOT pgautofailover.is_valid_host(node_host) THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('invalid node host %s: expected an IP address or an RFC 1123 host name', to_json(node_host)::text),
      HINT = 'A network (CIDR), whitespace, "#", quotes and the pg_hba.conf keywords all, samehost and samenet are refused.';
  END IF;

  PERFORM pgautofailover.lock_formation(formation_id, true);

  SELECT x.* INTO f FROM pgautofailover.formation x WHERE x.formationid = formation_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '42P17',
      MESSAGE = format('formation "%s" does not exist', formation_id),
      HINT = 'Create the formation first (pg_autoctl create formation), then register the node again.';
  END IF;

  wanted_kind := CASE node_kind WHEN 'standalone' THEN 'pgsql'
                                WHEN 'coordinator' THEN 'citus'
                                WHEN 'worker' THEN 'citus' END;
  IF wanted_kind IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('unknown node kind "%s"', node_kind),
      HINT = 'Known node kinds are "standalone", "coordinator" and "worker".';
  END IF;
  IF wanted_kind <> f.kind THEN
    IF EXISTS (SELECT 1 FROM pgautofailover.node x WHERE x.formationid = f.formationid) THEN
      RAISE EXCEPTION USING ERRCODE = 'XX000',
        MESSAGE = format('node %s:%s of kind "%s" can not be registered in formation "%s" of kind "%s"',
                         node_host, node_port, node_kind, f.formationid, f.kind);
    END IF;
    UPDATE pgautofailover.formation x SET kind = wanted_kind WHERE x.formationid = f.formationid;
    f.kind := wanted_kind;
  END IF;

  IF dbname <> f.dbname THEN
    IF EXISTS (SELECT 1 FROM pgautofailover.node x WHERE x.formationid = f.formationid) THEN
      RAISE EXCEPTION USING ERRCODE = 'XX000',
        MESSAGE = format('node %s:%s with dbname "%s" can not be registered in formation "%s" which uses dbname "%s"',
                         node_host, node_port, dbname, f.formationid, f.dbname);
    END IF;
    UPDATE pgautofailover.formation x SET dbname = register_node.dbname WHERE x.formationid = f.formationid;
    f.dbname := dbname;
  END IF;

  IF priority < 0 OR priority > 100 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('invalid value for candidate_priority "%s", expected an integer value between 0 and 100', priority);
  END IF;
  IF node_cluster <> 'default' THEN
    -- read replicas of another cluster are never promoted
    priority := 0;
  END IF;

  -- group
  IF f.kind = 'pgsql' THEN
    IF desired_group_id > 0 THEN
      RAISE EXCEPTION USING ERRCODE = 'XX000',
        MESSAGE = format('node %s:%s can not be registered in group %s: formation "%s" is of kind pgsql and only has group 0',
                         node_host, node_port, desired_group_id, f.formationid);
    END IF;
    grp := 0;
  ELSIF node_kind = 'coordinator' THEN
    IF desired_group_id > 0 THEN
      RAISE EXCEPTION USING ERRCODE = 'XX000',
        MESSAGE = format('coordinator node %s:%s can only be registered in group 0', node_host, node_port);
    END IF;
    grp := 0;
  ELSIF desired_group_id >= 0 THEN
    IF desired_group_id = 0 THEN
      RAISE EXCEPTION USING ERRCODE = 'XX000',
        MESSAGE = format('worker node %s:%s can not be registered in group 0, the coordinator group', node_host, node_port);
    END IF;
    grp := desired_group_id;
  ELSE
    -- first worker group that is empty, or that has one node when
    -- secondaries are allowed
    grp := 1;
    LOOP
      SELECT count(*) INTO members FROM pgautofailover.node x
       WHERE x.formationid = f.formationid AND x.groupid = grp AND x.goalstate <> 'dropped';
      EXIT WHEN members = 0 OR (f.opt_secondary AND members = 1);
      grp := grp + 1;
    END LOOP;
  END IF;

  PERFORM pgautofailover.lock_group(f.formationid, grp);

  SELECT count(*) INTO members FROM pgautofailover.node x
   WHERE x.formationid = f.formationid AND x.groupid = grp AND x.goalstate <> 'dropped';

  IF members >= max_group_nodes THEN
    RAISE EXCEPTION USING ERRCODE = '54000',
      MESSAGE = format('group %s of formation "%s" already has %s nodes, the most a group may have', grp, f.formationid, members),
      HINT = 'Remove a node (pg_autoctl drop node) before registering another one.';
  END IF;

  IF members = 0 AND priority > 0 THEN
    expected := 'single';
  ELSE
    IF NOT f.opt_secondary THEN
      RAISE EXCEPTION USING ERRCODE = '55000',
        MESSAGE = format('formation "%s" does not allow secondary nodes', f.formationid),
        HINT = 'Use pg_autoctl enable secondary to allow secondary nodes in this formation.';
    END IF;
    IF EXISTS (SELECT 1 FROM pgautofailover.node x
                WHERE x.formationid = f.formationid AND x.groupid = grp AND x.goalstate <> 'dropped'
                  AND (pgautofailover.is_writable(x.goalstate) OR pgautofailover.is_being_promoted(x))) THEN
      expected := 'wait_standby';
    ELSIF EXISTS (SELECT 1 FROM pgautofailover.node x
                   WHERE x.formationid = f.formationid AND x.groupid = grp
                     AND x.candidatepriority = 0
                     AND x.reportedstate = 'report_lsn' AND x.goalstate = 'report_lsn') THEN
      expected := 'report_lsn';
    ELSE
      RAISE EXCEPTION USING ERRCODE = '55006',
        MESSAGE = format('couldn''t find the primary node in formation "%s", group %s', f.formationid, grp),
        HINT = 'Retry registering in a moment.';
    END IF;
  END IF;

  IF initial_group_role <> 'init' AND initial_group_role <> expected THEN
    RAISE EXCEPTION USING ERRCODE = 'XX000',
      MESSAGE = format('node %s:%s can not be registered in state %s, it should be in state %s',
                       node_host, node_port, initial_group_role, expected);
  END IF;

  -- Same check as the deferred constraint same_system_identifier_within_group,
  -- made now so that the caller gets the error from this call.
  IF sysid IS NOT NULL THEN
    SELECT x.* INTO other FROM pgautofailover.node x
     WHERE x.formationid = f.formationid AND x.groupid = grp
       AND x.sysidentifier IS NOT NULL AND x.sysidentifier <> sysid
     ORDER BY x.nodeid
     LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION USING ERRCODE = '23P01',
        CONSTRAINT = 'same_system_identifier_within_group', SCHEMA = 'pgautofailover', TABLE = 'node',
        MESSAGE = 'conflicting key value violates exclusion constraint "same_system_identifier_within_group"',
        DETAIL = format('Node %s:%s has system identifier %s, but %s in group %s of formation "%s" has system identifier %s.',
                        node_host, node_port, sysid, pgautofailover.node_label(other), grp, f.formationid,
                        other.sysidentifier);
    END IF;
  END IF;

  IF desired_node_id > 0 THEN
    -- Node ids must stay exact in every client (JavaScript numbers are
    -- exact up to 2^53 only) and in names built from them (replication
    -- slots): the caller may choose one, within int4.
    IF desired_node_id > 2147483647 THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('invalid value for desired_node_id "%s", expected an integer between 1 and 2147483647', desired_node_id);
    END IF;
    new_id := desired_node_id;
  ELSE
    new_id := nextval('pgautofailover.node_nodeid_seq');
  END IF;

  IF node_name <> '' THEN
    new_name := node_name;
  ELSIF f.kind = 'pgsql' THEN
    new_name := 'node_' || new_id;
  ELSE
    new_name := CASE WHEN grp = 0 THEN 'coord' ELSE 'worker' END || grp || chr(ascii('a') + members);
  END IF;

  INSERT INTO pgautofailover.node
         (formationid, nodeid, groupid, nodename, nodehost, nodeport, sysidentifier,
          goalstate, reportedstate, candidatepriority, replicationquorum, nodecluster)
  VALUES (f.formationid, new_id, grp, new_name, node_host, node_port, sysid,
          initial_group_role, initial_group_role, priority, replication_quorum, node_cluster)
  RETURNING * INTO n;

  INSERT INTO pgautofailover.node_token (nodeid, registerxact) VALUES (n.nodeid, pg_current_xact_id());

  IF desired_node_id > 0 THEN
    -- never hand out an id that is (or was recently) in use
    PERFORM setval('pgautofailover.node_nodeid_seq',
                   greatest((SELECT max(x.nodeid) FROM pgautofailover.node x),
                            (SELECT s.last_value FROM pgautofailover.node_nodeid_seq s)));
  END IF;

  PERFORM pg_notify('log',
    format('Registering %s to formation "%s" with replication quorum %s and candidate priority %s',
           pgautofailover.node_label(n), f.formationid, n.replicationquorum, n.candidatepriority));

  -- A second quorum standby makes synchronous replication with one
  -- acknowledgement possible: raise number_sync_standbys from 0 to 1.
  IF expected = 'wait_standby' AND f.number_sync_standbys = 0 THEN
    primary_id := (pgautofailover.writable_node(f.formationid, grp)).nodeid;
    SELECT count(*) INTO quorum_standbys FROM pgautofailover.node x
     WHERE x.formationid = f.formationid AND x.groupid = grp AND x.goalstate <> 'dropped'
       AND x.nodeid IS DISTINCT FROM primary_id AND x.replicationquorum;
    IF quorum_standbys = 2 THEN
      UPDATE pgautofailover.formation x SET number_sync_standbys = 1 WHERE x.formationid = f.formationid;
      PERFORM pg_notify('log',
        format('Setting number_sync_standbys to 1 for formation "%s" now that it has 2 standby nodes in the replication quorum',
               f.formationid));
    END IF;
  END IF;

  PERFORM pgautofailover.notify_decide(f.formationid, grp, n.nodeid, 'register');

  assigned_node_id := n.nodeid;
  assigned_group_id := n.groupid;
  assigned_group_state := n.goalstate;
  assigned_candidate_priority := n.candidatepriority;
  assigned_replication_quorum := n.replicationquorum;
  assigned_node_name := n.nodename;
END
$$;

-- Records a keeper's report and returns the node's current assignment.
-- Called about once per second per node: one row lock, one update, an event
-- only when the reported state changes, and a decision request. Reading
-- the goal in the same locked update orders this call against the
-- service's goal writes: a goal assigned after this call committed is
-- only seen by the next call.
--
-- Witnesses (migration 0014): the keeper may also send the last decision
-- it received, (witness_epoch, witness_decision_id, witness_goal_state),
-- recorded in the row for the brain, which adopts a goal it lacks; and the
-- answer names the decision of the goal it returns. The three trailing
-- parameters and the two trailing columns are additions: a caller of the
-- nine-parameter form gets the same first five columns.
CREATE OR REPLACE FUNCTION pgautofailover.node_active(
    formation_id text,
    node_id bigint,
    group_id integer,
    current_group_role pgautofailover.replication_state DEFAULT 'init',
    current_pg_is_running boolean DEFAULT true,
    current_tli integer DEFAULT 1,
    current_lsn pg_lsn DEFAULT '0/0',
    current_rep_state text DEFAULT '',
    current_goal_state pgautofailover.replication_state DEFAULT 'unknown',
    witness_epoch bigint DEFAULT 0,
    witness_decision_id bigint DEFAULT 0,
    witness_goal_state pgautofailover.replication_state DEFAULT 'unknown',
    OUT assigned_node_id bigint,
    OUT assigned_group_id integer,
    OUT assigned_group_state pgautofailover.replication_state,
    OUT assigned_candidate_priority integer,
    OUT assigned_replication_quorum boolean,
    OUT assigned_decision_epoch bigint,
    OUT assigned_decision_id bigint)
RETURNS record
LANGUAGE plpgsql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
  n pgautofailover.node;
  rep_state text;
  state_changed boolean;
  message text;
  take_witness boolean := false;
  current_epoch bigint;
BEGIN
  SELECT x.* INTO n FROM pgautofailover.node x WHERE x.nodeid = node_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('couldn''t find node with nodeid %s', node_id);
  END IF;
  PERFORM pgautofailover.check_node_token(n);
  IF n.formationid <> formation_id THEN
    RAISE EXCEPTION USING ERRCODE = '42P17',
      MESSAGE = format('node %s does not belong to formation %s', node_id, formation_id);
  END IF;

  rep_state := CASE WHEN current_rep_state IN ('', 'unknown') THEN 'unknown'
                    WHEN current_rep_state IN ('sync', 'async', 'quorum', 'potential') THEN current_rep_state END;
  IF rep_state IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('unknown pg_stat_replication.sync_state "%s"', current_rep_state),
      HINT = 'Expected one of "", "unknown", "sync", "async", "quorum" or "potential".';
  END IF;

  state_changed := n.reportedstate <> current_group_role;

  -- A witness makes the brain adopt a goal (and demote the group's other
  -- writable node): it is taken only from the keeper that holds the
  -- node's token (a node without one is 2.0-style and sends none), and
  -- only when it may name a decision this monitor lacks: one of an EARLIER
  -- monitor epoch. Every decision of the current epoch was made by this
  -- very database, so a witness of the current epoch newer than the row's
  -- decision, or of a later epoch, is forged: it is not recorded.
  IF witness_decision_id > 0 AND witness_goal_state <> 'unknown' THEN
    SELECT coalesce(max(e.epoch), 0) INTO current_epoch FROM pgautofailover.monitor_epoch e;
    take_witness := EXISTS (SELECT 1 FROM pgautofailover.node_token t WHERE t.nodeid = n.nodeid AND t.tokenhash IS NOT NULL)
      AND witness_epoch >= 0
      AND (witness_epoch < current_epoch
           OR (witness_epoch = current_epoch AND n.goaldecisionepoch = current_epoch AND witness_decision_id <= n.goaldecisionid));
  END IF;

  UPDATE pgautofailover.node x
     SET reportedstate = current_group_role,
         reporttime = now(),
         reportedpgisrunning = current_pg_is_running,
         reportedrepstate = rep_state,
         reportedtli = CASE WHEN current_tli = 0 THEN x.reportedtli ELSE current_tli END,
         reportedlsn = CASE WHEN current_lsn = '0/0' THEN x.reportedlsn ELSE current_lsn END,
         walreporttime = CASE WHEN current_lsn = '0/0' THEN x.walreporttime ELSE now() END,
         statechangetime = CASE WHEN state_changed THEN now() ELSE x.statechangetime END,
         keepergoalstate = CASE WHEN current_goal_state = 'unknown' THEN NULL ELSE current_goal_state END,
         leasegranttime = CASE WHEN pgautofailover.is_writable(x.goalstate) THEN now() ELSE x.leasegranttime END,
         witnessepoch = CASE WHEN take_witness THEN witness_epoch ELSE x.witnessepoch END,
         witnessdecisionid = CASE WHEN take_witness THEN witness_decision_id ELSE x.witnessdecisionid END,
         witnessgoalstate = CASE WHEN take_witness THEN witness_goal_state ELSE x.witnessgoalstate END
   WHERE x.nodeid = n.nodeid
  RETURNING x.* INTO n;

  IF state_changed THEN
    message := format('New state is reported by %s: "%s"', pgautofailover.node_label(n), n.reportedstate);
    IF n.goalstate = 'report_lsn' THEN
      message := message || format(' with LSN %s', n.reportedlsn);
    END IF;
    PERFORM pgautofailover.insert_event(n, message);
  END IF;

  -- A hint for the monitor service. It never trusts the payload (anyone
  -- may pg_notify): lease grants are read from leasegranttime above.
  PERFORM pg_notify('pgautofailover_decide',
    format('{"formation": %s, "groupId": %s, "nodeId": %s, "why": "report", "goal": %s}',
           to_json(n.formationid), n.groupid, n.nodeid, to_json(n.goalstate::text)));

  assigned_node_id := n.nodeid;
  assigned_group_id := n.groupid;
  assigned_group_state := n.goalstate;
  assigned_candidate_priority := n.candidatepriority;
  assigned_replication_quorum := n.replicationquorum;
  assigned_decision_epoch := n.goaldecisionepoch;
  assigned_decision_id := n.goaldecisionid;
END
$$;

CREATE OR REPLACE FUNCTION pgautofailover.get_primary(
    formation_id text DEFAULT 'default',
    group_id integer DEFAULT 0,
    OUT primary_node_id bigint,
    OUT primary_name text,
    OUT primary_host text,
    OUT primary_port integer)
RETURNS record
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  p pgautofailover.node;
BEGIN
  p := pgautofailover.primary_or_demoted(formation_id, group_id);
  IF p.nodeid IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'XX000',
      MESSAGE = 'group has no writable node right now',
      DETAIL = format('No node of group %s in formation "%s" is primary or being demoted.', group_id, formation_id);
  END IF;
  primary_node_id := p.nodeid;
  primary_name := p.nodename;
  primary_host := p.nodehost;
  primary_port := p.nodeport;
END
$$;

-- All nodes of the formation (group NULL), or of one group including the
-- nodes being dropped; by node id.
CREATE OR REPLACE FUNCTION pgautofailover.get_nodes(
    formation_id text DEFAULT 'default',
    group_id integer DEFAULT NULL,
    OUT node_id bigint,
    OUT node_name text,
    OUT node_host text,
    OUT node_port integer,
    OUT node_lsn pg_lsn,
    OUT node_is_primary boolean)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT n.nodeid, n.nodename, n.nodehost, n.nodeport, n.reportedlsn,
         pgautofailover.is_writable(n.reportedstate)
    FROM pgautofailover.node n
   WHERE n.formationid = $1 AND ($2 IS NULL OR n.groupid = $2)
   ORDER BY n.groupid, n.nodeid
$$;

CREATE OR REPLACE FUNCTION pgautofailover.get_other_nodes(
    nodeid bigint,
    OUT node_id bigint,
    OUT node_name text,
    OUT node_host text,
    OUT node_port integer,
    OUT node_lsn pg_lsn,
    OUT node_is_primary boolean)
RETURNS SETOF record
LANGUAGE plpgsql STABLE STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  me pgautofailover.node;
BEGIN
  SELECT x.* INTO me FROM pgautofailover.node x WHERE x.nodeid = $1;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('node %s is not registered', $1);
  END IF;
  RETURN QUERY
    SELECT x.nodeid, x.nodename, x.nodehost, x.nodeport, x.reportedlsn,
           pgautofailover.is_writable(x.reportedstate)
      FROM pgautofailover.node x
     WHERE x.formationid = me.formationid AND x.groupid = me.groupid
       AND x.nodeid <> me.nodeid AND x.goalstate <> 'dropped'
     ORDER BY x.nodeid;
END
$$;

-- As above, keeping only the nodes whose goal state is current_state.
CREATE OR REPLACE FUNCTION pgautofailover.get_other_nodes(
    nodeid bigint,
    current_state pgautofailover.replication_state,
    OUT node_id bigint,
    OUT node_name text,
    OUT node_host text,
    OUT node_port integer,
    OUT node_lsn pg_lsn,
    OUT node_is_primary boolean)
RETURNS SETOF record
LANGUAGE sql STABLE STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT o.* FROM pgautofailover.get_other_nodes($1) o
    JOIN pgautofailover.node x ON x.nodeid = o.node_id
   WHERE x.goalstate = $2
   ORDER BY o.node_id
$$;

-- The group's node in report_lsn with the most advanced LSN (ties: better
-- health), at most one row.
CREATE OR REPLACE FUNCTION pgautofailover.get_most_advanced_standby(
    formationid text DEFAULT 'default',
    groupid integer DEFAULT 0,
    OUT node_id bigint,
    OUT node_name text,
    OUT node_host text,
    OUT node_port integer,
    OUT node_lsn pg_lsn,
    OUT node_is_primary boolean)
RETURNS SETOF record
LANGUAGE sql STABLE STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT n.nodeid, n.nodename, n.nodehost, n.nodeport, n.reportedlsn, false
    FROM pgautofailover.node n
   WHERE n.formationid = $1 AND n.groupid = $2 AND n.reportedstate = 'report_lsn'
   ORDER BY n.reportedlsn DESC, n.health DESC, n.nodeid
   LIMIT 1
$$;

CREATE OR REPLACE FUNCTION pgautofailover.get_coordinator(
    formation_id text DEFAULT 'default',
    OUT node_host text,
    OUT node_port integer)
RETURNS SETOF record
LANGUAGE sql STABLE STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT n.nodehost, n.nodeport
    FROM pgautofailover.node n
   WHERE n.formationid = $1 AND n.groupid = 0
     AND n.goalstate IN ('single', 'wait_primary', 'primary')
     AND n.reportedstate IN ('single', 'wait_primary', 'primary')
   ORDER BY n.nodeid
$$;

CREATE OR REPLACE FUNCTION pgautofailover.set_node_system_identifier(
    node_id bigint,
    node_sysidentifier bigint,
    OUT node_id bigint,
    OUT node_name text,
    OUT node_host text,
    OUT node_port integer)
RETURNS record
LANGUAGE sql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT pgautofailover.check_node_token(x) FROM pgautofailover.node x WHERE x.nodeid = $1;
  UPDATE pgautofailover.node n SET sysidentifier = $2
   WHERE n.nodeid = $1
  RETURNING n.nodeid, n.nodename, n.nodehost, n.nodeport
$$;

-- Kept as in 2.x: only rows whose system identifier is 0 are updated,
-- and registration stores 0 as NULL, so in practice this changes nothing.
CREATE OR REPLACE FUNCTION pgautofailover.set_group_system_identifier(
    group_id bigint,
    node_sysidentifier bigint,
    OUT node_id bigint,
    OUT node_name text,
    OUT node_host text,
    OUT node_port integer)
RETURNS SETOF record
LANGUAGE sql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  UPDATE pgautofailover.node n SET sysidentifier = $2
   WHERE n.groupid = $1 AND n.sysidentifier = 0
  RETURNING n.nodeid, n.nodename, n.nodehost, n.nodeport
$$;

-- Renames or moves a node; NULL keeps the current value.
CREATE OR REPLACE FUNCTION pgautofailover.update_node_metadata(
    node_id bigint,
    node_name text,
    node_host text,
    node_port integer)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  n pgautofailover.node;
BEGIN
  IF node_id IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = 'update_node_metadata: node_id must not be NULL';
  END IF;
  IF node_port IS NOT NULL AND (node_port < 1 OR node_port > 65535) THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('invalid node port %s: expected an integer from 1 to 65535', node_port);
  END IF;
  IF node_host IS NOT NULL THEN
    -- The host goes into pg_hba.conf and connection strings on every node of
    -- the group: only an IP address or an RFC 1123 host name (no CIDR,
    -- whitespace, comment, quote or HBA keyword). The keeper checks again.
    IF NOT pgautofailover.is_valid_host(node_host) THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('invalid node host %s: expected an IP address or an RFC 1123 host name', to_json(node_host)::text),
        HINT = 'A network (CIDR), whitespace, "#", quotes and the pg_hba.conf keywords all, samehost and samenet are refused.';
    END IF;
  END IF;
  SELECT x.* INTO n FROM pgautofailover.node x WHERE x.nodeid = node_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('couldn''t find node with nodeid %s', node_id);
  END IF;
  PERFORM pgautofailover.check_node_token(n);
  PERFORM pgautofailover.lock_group(n.formationid, n.groupid);

  UPDATE pgautofailover.node x
     SET nodename = coalesce(node_name, x.nodename),
         nodehost = coalesce(node_host, x.nodehost),
         nodeport = coalesce(node_port, x.nodeport)
   WHERE x.nodeid = node_id
  RETURNING x.* INTO n;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('couldn''t find node with nodeid %s', node_id);
  END IF;

  PERFORM pg_notify('log', format('Updating metadata of node %s: name "%s", host:port %s:%s',
                                  n.nodeid, n.nodename, n.nodehost, n.nodeport));
  PERFORM pgautofailover.notify_decide(n.formationid, n.groupid, n.nodeid, 'metadata');
  RETURN true;
END
$$;

-- The synchronous_standby_names value that the monitor service computed
-- for the group's primary (table group_state), '' until it has done so.
CREATE OR REPLACE FUNCTION pgautofailover.synchronous_standby_names(
    formation_id text DEFAULT 'default',
    group_id integer DEFAULT 0)
RETURNS text
LANGUAGE plpgsql STABLE STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  names text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pgautofailover.node n
                  WHERE n.formationid = $1 AND n.groupid = $2 AND n.goalstate <> 'dropped') THEN
    RAISE EXCEPTION USING ERRCODE = '42P17',
      MESSAGE = format('no nodes found in group %s of formation "%s"', $2, $1);
  END IF;
  SELECT g.standby_names INTO names FROM pgautofailover.group_state g
   WHERE g.formationid = $1 AND g.groupid = $2;
  RETURN coalesce(names, '');
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgautofailover FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
  pgautofailover.register_node(text, text, integer, name, text, bigint, bigint, integer,
                               pgautofailover.replication_state, text, integer, boolean, text),
  pgautofailover.issue_node_token(bigint),
  pgautofailover.node_active(text, bigint, integer, pgautofailover.replication_state,
                             boolean, integer, pg_lsn, text, pgautofailover.replication_state,
                             bigint, bigint, pgautofailover.replication_state),
  pgautofailover.get_primary(text, integer),
  pgautofailover.get_nodes(text, integer),
  pgautofailover.get_other_nodes(bigint),
  pgautofailover.get_other_nodes(bigint, pgautofailover.replication_state),
  pgautofailover.get_most_advanced_standby(text, integer),
  pgautofailover.get_coordinator(text),
  pgautofailover.set_node_system_identifier(bigint, bigint),
  pgautofailover.set_group_system_identifier(bigint, bigint),
  pgautofailover.update_node_metadata(bigint, text, text, integer),
  pgautofailover.synchronous_standby_names(text, integer)
TO autoctl_node;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pgautofailover TO autoctl;
