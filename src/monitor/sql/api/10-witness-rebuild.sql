-- Keepers as witnesses and the rebuild of a monitor from its nodes
-- (migration 0014, docs/architecture.md "Monitor high availability").

-- Names every goal assignment: (the current monitor epoch, the next
-- goal_decision_seq number), on each change of goalstate or goalchangetime,
-- and on an insert that brings no decision of its own (the rebuild inserts
-- rows with the decision their keeper witnessed).
CREATE OR REPLACE FUNCTION pgautofailover.note_goal_decision()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.goaldecisionid <> 0 THEN
      RETURN NEW;
    END IF;
  ELSIF NEW.goalstate IS NOT DISTINCT FROM OLD.goalstate
        AND NEW.goalchangetime IS NOT DISTINCT FROM OLD.goalchangetime THEN
    RETURN NEW;
  END IF;
  NEW.goaldecisionid := nextval('pgautofailover.goal_decision_seq');
  NEW.goaldecisionepoch := (SELECT coalesce(max(e.epoch), 0) FROM pgautofailover.monitor_epoch e);
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS node_goal_decision ON pgautofailover.node;
CREATE TRIGGER node_goal_decision
  BEFORE INSERT OR UPDATE OF goalstate, goalchangetime ON pgautofailover.node
  FOR EACH ROW EXECUTE FUNCTION pgautofailover.note_goal_decision();

-- Whether the monitor is being rebuilt from its nodes, and how far. The
-- rebuild accepts registrations from `create monitor --rebuild-from-nodes`
-- until rebuild_window after the first registration (active). `missing`
-- counts the nodes that registered keepers know of and that are not back.
-- One row, active false, when no rebuild was ever started.
CREATE OR REPLACE FUNCTION pgautofailover.monitor_rebuild_status(
    OUT active boolean,
    OUT started_at timestamptz,
    OUT first_registered_at timestamptz,
    OUT deadline timestamptz,
    OUT ended_at timestamptz,
    OUT end_reason text,
    OUT registered integer,
    OUT missing integer)
RETURNS record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT r.singleton IS NOT NULL AND r.ended_at IS NULL
           AND (r.first_registered_at IS NULL OR now() < r.first_registered_at + r.rebuild_window),
         r.started_at, r.first_registered_at, r.first_registered_at + r.rebuild_window,
         coalesce(r.ended_at, CASE WHEN now() >= r.first_registered_at + r.rebuild_window
                                   THEN r.first_registered_at + r.rebuild_window END),
         coalesce(r.end_reason, CASE WHEN now() >= r.first_registered_at + r.rebuild_window
                                     THEN 'the rebuild window ran out' END),
         (SELECT count(*)::integer FROM pgautofailover.node n),
         (SELECT count(*)::integer FROM pgautofailover.monitor_rebuild_node k
           WHERE NOT EXISTS (SELECT 1 FROM pgautofailover.node n WHERE n.nodeid = k.nodeid))
    FROM (SELECT 1) AS one
    LEFT JOIN pgautofailover.monitor_rebuild r ON true
$$;

-- Whether the brain must leave the group alone: the rebuild is active and
-- a node of the group that a registered keeper knows of is not back yet
-- (a group half registered looks like a standby alone, or a primary
-- without its standbys). A group whose known nodes are all back is decided
-- at once, while other groups may still register.
CREATE OR REPLACE FUNCTION pgautofailover.rebuild_holds_group(formation_id text, group_id integer)
RETURNS boolean
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT coalesce((SELECT s.active FROM pgautofailover.monitor_rebuild_status() s), false)
     AND EXISTS (SELECT 1 FROM pgautofailover.monitor_rebuild_node k
                  WHERE k.formationid = $1 AND k.groupid = $2
                    AND NOT EXISTS (SELECT 1 FROM pgautofailover.node n WHERE n.nodeid = k.nodeid))
$$;

-- `create monitor --rebuild-from-nodes`: puts an empty monitor in rebuild
-- mode. Refused when the monitor already has nodes.
CREATE OR REPLACE FUNCTION pgautofailover.start_monitor_rebuild(rebuild_window_ms integer DEFAULT 60000)
RETURNS void
LANGUAGE plpgsql STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
BEGIN
  IF rebuild_window_ms < 1000 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('invalid rebuild window %s ms: expected at least 1000 ms', rebuild_window_ms);
  END IF;
  LOCK TABLE pgautofailover.monitor_rebuild IN SHARE ROW EXCLUSIVE MODE;
  IF EXISTS (SELECT 1 FROM pgautofailover.node) THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = 'the monitor already has nodes: only an empty monitor can be rebuilt from its nodes';
  END IF;
  DELETE FROM pgautofailover.monitor_rebuild_node;
  DELETE FROM pgautofailover.monitor_rebuild;
  INSERT INTO pgautofailover.monitor_rebuild (rebuild_window)
  VALUES (make_interval(secs => rebuild_window_ms / 1000.0));
END
$$;

-- A running keeper registers its node again into a monitor being rebuilt:
-- same node id, name, group and address; its current state as reported
-- state and its last received goal (or its current state) as goal, with
-- that goal's decision as the row's decision, so that nothing is decided
-- against what the keeper already does. The keeper's node token, presented
-- on this session, binds the node again. The monitor epoch moves to at
-- least the highest the keeper has seen (so that it obeys this monitor),
-- and above the epoch of the decision it witnessed (so that every later
-- decision ranks after it). Idempotent
-- for a row that is already there with the same address.
CREATE OR REPLACE FUNCTION pgautofailover.rebuild_register_node(
    formation_id text,
    node_id bigint,
    group_id integer,
    node_name text,
    node_host text,
    node_port integer,
    dbname name,
    sysidentifier bigint,
    current_state pgautofailover.replication_state,
    goal_state pgautofailover.replication_state,
    current_tli integer,
    current_lsn pg_lsn,
    candidate_priority integer,
    replication_quorum boolean,
    node_kind text,
    seen_epoch bigint,
    witness_epoch bigint,
    witness_decision_id bigint,
    known_nodes bigint[],
    OUT assigned_node_id bigint,
    OUT assigned_group_id integer,
    OUT assigned_group_state pgautofailover.replication_state,
    OUT assigned_candidate_priority integer,
    OUT assigned_replication_quorum boolean,
    OUT assigned_node_name text,
    OUT monitor_epoch bigint,
    OUT group_complete boolean)
RETURNS record
LANGUAGE plpgsql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
  r pgautofailover.monitor_rebuild;
  f pgautofailover.formation;
  n pgautofailover.node;
  wanted_kind text;
  goal pgautofailover.replication_state;
  inserted boolean := false;
  presented text := nullif(current_setting('pgautofailover.node_token', true), '');
  current_epoch bigint;
  needed_epoch bigint;
  sysid bigint := NULLIF(sysidentifier, 0);
  missing integer;
BEGIN
  SELECT x.* INTO r FROM pgautofailover.monitor_rebuild x FOR UPDATE;
  IF NOT FOUND OR r.ended_at IS NOT NULL
     OR (r.first_registered_at IS NOT NULL AND now() >= r.first_registered_at + r.rebuild_window) THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = 'the monitor is not being rebuilt from its nodes',
      HINT = 'Only a monitor created with pg_autoctl create monitor --rebuild-from-nodes accepts nodes registering again, until its rebuild ends.';
  END IF;
  IF node_id < 1 OR node_id > 2147483647 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('invalid node id %s: expected an integer between 1 and 2147483647', node_id);
  END IF;
  IF node_port < 1 OR node_port > 65535 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('invalid node port %s: expected an integer from 1 to 65535', node_port);
  END IF;
  IF candidate_priority < 0 OR candidate_priority > 100 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('invalid value for candidate_priority "%s", expected an integer value between 0 and 100', candidate_priority);
  END IF;
  IF NOT pgautofailover.is_valid_host(node_host) THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('invalid node host %s: expected an IP address or an RFC 1123 host name', to_json(node_host)::text);
  END IF;
  IF current_state IN ('unknown', 'init', 'dropped') THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('node %s in state %s cannot register again: only a node that holds a role does', node_id, current_state);
  END IF;

  wanted_kind := CASE node_kind WHEN 'standalone' THEN 'pgsql' WHEN 'coordinator' THEN 'citus' WHEN 'worker' THEN 'citus' END;
  IF wanted_kind IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('unknown node kind "%s"', node_kind);
  END IF;

  PERFORM pgautofailover.lock_formation(formation_id, true);
  SELECT x.* INTO f FROM pgautofailover.formation x WHERE x.formationid = formation_id;
  IF NOT FOUND THEN
    INSERT INTO pgautofailover.formation (formationid, kind, dbname) VALUES (formation_id, wanted_kind, dbname)
    RETURNING * INTO f;
  ELSIF NOT EXISTS (SELECT 1 FROM pgautofailover.node x WHERE x.formationid = f.formationid) THEN
    UPDATE pgautofailover.formation x SET kind = wanted_kind, dbname = rebuild_register_node.dbname
     WHERE x.formationid = f.formationid RETURNING * INTO f;
  ELSIF f.kind <> wanted_kind OR f.dbname <> dbname THEN
    RAISE EXCEPTION USING ERRCODE = 'XX000',
      MESSAGE = format('node %s:%s of kind "%s" with dbname "%s" does not match formation "%s" of kind "%s" with dbname "%s"',
                       node_host, node_port, node_kind, dbname, f.formationid, f.kind, f.dbname);
  END IF;
  PERFORM pgautofailover.lock_group(f.formationid, group_id);

  SELECT x.* INTO n FROM pgautofailover.node x WHERE x.nodeid = node_id FOR UPDATE;
  IF FOUND THEN
    IF n.formationid <> f.formationid OR n.groupid <> group_id OR n.nodehost <> node_host OR n.nodeport <> node_port THEN
      RAISE EXCEPTION USING ERRCODE = '23505',
        MESSAGE = format('node id %s is already registered again as %s in group %s of formation "%s"',
                         node_id, pgautofailover.node_label(n), n.groupid, n.formationid);
    END IF;
    PERFORM pgautofailover.check_node_token(n);
  ELSE
    inserted := true;
    goal := CASE WHEN goal_state IN ('unknown', 'init') THEN current_state ELSE goal_state END;
    -- The goal was assigned (by the lost monitor) before this report: the
    -- rules see a node converged in its state when it stands there.
    INSERT INTO pgautofailover.node
           (formationid, nodeid, groupid, nodename, nodehost, nodeport, sysidentifier,
            goalstate, reportedstate, reportedtli, reportedlsn, candidatepriority, replicationquorum,
            keepergoalstate, goalchangetime, statechangetime, goaldecisionepoch, goaldecisionid)
    VALUES (f.formationid, node_id, group_id, CASE WHEN node_name = '' THEN 'node_' || node_id ELSE node_name END,
            node_host, node_port, sysid, goal, current_state, greatest(current_tli, 1), current_lsn,
            candidate_priority, replication_quorum, goal, now() - interval '1 s', now() - interval '1 s',
            CASE WHEN witness_decision_id > 0 THEN witness_epoch ELSE 0 END,
            greatest(witness_decision_id, 0))
    RETURNING * INTO n;
    INSERT INTO pgautofailover.node_token (nodeid, registerxact, tokenhash, issuedat)
    VALUES (n.nodeid, pg_current_xact_id(),
            CASE WHEN presented IS NULL THEN NULL ELSE sha256(convert_to(presented, 'UTF8')) END,
            CASE WHEN presented IS NULL THEN NULL ELSE now() END);
    PERFORM setval('pgautofailover.node_nodeid_seq',
                   greatest((SELECT max(x.nodeid) FROM pgautofailover.node x),
                            (SELECT s.last_value FROM pgautofailover.node_nodeid_seq s)));
    IF witness_decision_id > 0 THEN
      PERFORM setval('pgautofailover.goal_decision_seq',
                     greatest(witness_decision_id, (SELECT s.last_value FROM pgautofailover.goal_decision_seq s)));
    END IF;
    PERFORM pgautofailover.insert_event(n,
      format('Registering %s again in formation "%s", group %s, in state "%s" with goal "%s", from its keeper''s records (rebuild from nodes)',
             pgautofailover.node_label(n), n.formationid, n.groupid, n.reportedstate, n.goalstate));
  END IF;

  INSERT INTO pgautofailover.monitor_rebuild_node (nodeid, formationid, groupid, named_by)
  SELECT k, f.formationid, group_id, node_id FROM unnest(known_nodes) AS k WHERE k > 0
  ON CONFLICT DO NOTHING;
  INSERT INTO pgautofailover.monitor_rebuild_node (nodeid, formationid, groupid, named_by)
  VALUES (node_id, f.formationid, group_id, node_id)
  ON CONFLICT DO NOTHING;

  -- The epoch: at least the highest this keeper has seen (it obeys no
  -- lower one; that may be this very monitor's), and above the one of the
  -- decision it witnessed, so that every decision made here from now on
  -- ranks after it. Only for a node registered by this call: a node that
  -- is already here and refuses this monitor's epoch saw a newer monitor
  -- since (this one is stale), and must go on refusing it.
  LOCK TABLE pgautofailover.monitor_epoch IN SHARE ROW EXCLUSIVE MODE;
  SELECT coalesce(max(e.epoch), 0) INTO current_epoch FROM pgautofailover.monitor_epoch e;
  needed_epoch := greatest(seen_epoch, CASE WHEN witness_decision_id > 0 THEN witness_epoch + 1 ELSE 1 END);
  IF current_epoch < needed_epoch AND inserted THEN
    INSERT INTO pgautofailover.monitor_epoch (epoch, system_identifier, timeline, started_at)
    SELECT needed_epoch, s.system_identifier, coalesce(pgautofailover.current_timeline(), 1), now()
      FROM pg_control_system() s;
    PERFORM pg_notify('log', format('Monitor epoch %s starts now: node %s has seen epoch %s and received its goal at epoch %s (rebuild from nodes)',
                                    needed_epoch, node_id, seen_epoch, witness_epoch));
    current_epoch := needed_epoch;
  END IF;

  -- The group is complete when every node its keepers know of is back:
  -- the brain decides for it again (rebuild_holds_group).
  SELECT count(*) INTO missing FROM pgautofailover.monitor_rebuild_node k
   WHERE k.formationid = f.formationid AND k.groupid = group_id
     AND NOT EXISTS (SELECT 1 FROM pgautofailover.node x WHERE x.nodeid = k.nodeid);
  UPDATE pgautofailover.monitor_rebuild x SET first_registered_at = coalesce(x.first_registered_at, now());
  group_complete := missing = 0;
  IF group_complete THEN
    PERFORM pg_notify('log', format('Rebuild from nodes: every known node of group %s of formation "%s" registered again',
                                    group_id, f.formationid));
    PERFORM pgautofailover.notify_decide(f.formationid, group_id, node_id, 'register');
  ELSE
    PERFORM pg_notify('log', format('Rebuild from nodes: %s known node(s) of group %s of formation "%s" still to register again',
                                    missing, group_id, f.formationid));
  END IF;

  assigned_node_id := n.nodeid;
  assigned_group_id := n.groupid;
  assigned_group_state := n.goalstate;
  assigned_candidate_priority := n.candidatepriority;
  assigned_replication_quorum := n.replicationquorum;
  assigned_node_name := n.nodename;
  monitor_epoch := current_epoch;
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgautofailover FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
  pgautofailover.monitor_rebuild_status(),
  pgautofailover.rebuild_holds_group(text, integer),
  pgautofailover.rebuild_register_node(text, bigint, integer, text, text, integer, name, bigint,
    pgautofailover.replication_state, pgautofailover.replication_state, integer, pg_lsn, integer, boolean,
    text, bigint, bigint, bigint, bigint[])
TO autoctl_node;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pgautofailover TO autoctl;
