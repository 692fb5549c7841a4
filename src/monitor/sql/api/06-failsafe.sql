-- The node row of node_id, or SQLSTATE 42704 naming it. The functions
-- below act for that node: they also call check_node_token (0003).
CREATE OR REPLACE FUNCTION pgautofailover.require_node(node_id bigint)
RETURNS pgautofailover.node
LANGUAGE plpgsql STABLE
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  n pgautofailover.node;
BEGIN
  SELECT x.* INTO n FROM pgautofailover.node x WHERE x.nodeid = $1;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('node %s is not registered', $1);
  END IF;
  RETURN n;
END
$$;

-- The keeper publishes the port of its HTTP listener (at start and after
-- every reconnection). NULL turns it off.
CREATE OR REPLACE FUNCTION pgautofailover.set_node_http_port(node_id bigint, http_port integer)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
BEGIN
  IF node_id IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'node_id must not be NULL';
  END IF;
  IF http_port IS NOT NULL AND (http_port < 1 OR http_port > 65535) THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('invalid HTTP port %s: expected an integer from 1 to 65535', http_port);
  END IF;
  PERFORM pgautofailover.check_node_token(pgautofailover.require_node(node_id));
  UPDATE pgautofailover.node SET httpport = http_port WHERE nodeid = node_id;
  RETURN true;
END
$$;

-- The other nodes of the node's group with their HTTP port and candidate
-- priority, and the group's secret (created on first use, 256 random bits
-- from two gen_random_uuid() calls, which use pg_strong_random). A node
-- alone in its group gets no rows.
CREATE OR REPLACE FUNCTION pgautofailover.failsafe_peers(
    nodeid bigint,
    OUT node_id bigint,
    OUT node_name text,
    OUT node_host text,
    OUT node_port integer,
    OUT http_port integer,
    OUT candidate_priority integer,
    OUT group_secret text)
RETURNS SETOF record
LANGUAGE plpgsql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  me pgautofailover.node;
  secret_text text;
BEGIN
  me := pgautofailover.require_node($1);
  PERFORM pgautofailover.check_node_token(me);
  INSERT INTO pgautofailover.group_secret (formationid, groupid, secret)
  VALUES (me.formationid, me.groupid,
          replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''))
  ON CONFLICT (formationid, groupid) DO NOTHING;
  SELECT s.secret INTO secret_text FROM pgautofailover.group_secret s
   WHERE s.formationid = me.formationid AND s.groupid = me.groupid;
  RETURN QUERY
    SELECT x.nodeid, x.nodename, x.nodehost, x.nodeport, x.httpport, x.candidatepriority, secret_text
      FROM pgautofailover.node x
     WHERE x.formationid = me.formationid AND x.groupid = me.groupid
       AND x.nodeid <> me.nodeid AND x.goalstate <> 'dropped'
     ORDER BY x.nodeid;
END
$$;

-- A keeper back in touch with the monitor tells what it did without it:
-- the event shows in `pg_autoctl show events`.
CREATE OR REPLACE FUNCTION pgautofailover.record_failsafe_event(node_id bigint, description text)
RETURNS bigint
LANGUAGE plpgsql STRICT SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  n pgautofailover.node := pgautofailover.require_node($1);
BEGIN
  PERFORM pgautofailover.check_node_token(n);
  RETURN pgautofailover.insert_event(n,
    format('Failsafe on %s: %s', pgautofailover.node_label(n),
           left(regexp_replace($2, '[[:cntrl:]]', ' ', 'g'), 400)));
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgautofailover FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
  pgautofailover.set_node_http_port(bigint, integer),
  pgautofailover.failsafe_peers(bigint),
  pgautofailover.record_failsafe_event(bigint, text)
TO autoctl_node;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pgautofailover TO autoctl;
