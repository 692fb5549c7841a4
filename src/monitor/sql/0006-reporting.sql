-- Monitor schema, version 0006: reporting functions (spec 03 section 5.3),
-- run with the caller's privileges (SELECT on the tables).

CREATE FUNCTION pgautofailover.current_state(
    formation_id text DEFAULT 'default',
    OUT formation_kind text,
    OUT nodename text,
    OUT nodehost text,
    OUT nodeport integer,
    OUT group_id integer,
    OUT node_id bigint,
    OUT current_group_state pgautofailover.replication_state,
    OUT assigned_group_state pgautofailover.replication_state,
    OUT candidate_priority integer,
    OUT replication_quorum boolean,
    OUT reported_tli integer,
    OUT reported_lsn pg_lsn,
    OUT health integer,
    OUT nodecluster text)
RETURNS SETOF record
LANGUAGE sql STABLE STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT f.kind, n.nodename, n.nodehost, n.nodeport, n.groupid, n.nodeid,
         n.reportedstate, n.goalstate, n.candidatepriority, n.replicationquorum,
         n.reportedtli, n.reportedlsn, n.health, n.nodecluster
    FROM pgautofailover.node n
    JOIN pgautofailover.formation f ON f.formationid = n.formationid
   WHERE n.formationid = $1
   ORDER BY n.groupid, n.nodeid
$$;

CREATE FUNCTION pgautofailover.current_state(
    formation_id text,
    group_id integer,
    OUT formation_kind text,
    OUT nodename text,
    OUT nodehost text,
    OUT nodeport integer,
    OUT group_id integer,
    OUT node_id bigint,
    OUT current_group_state pgautofailover.replication_state,
    OUT assigned_group_state pgautofailover.replication_state,
    OUT candidate_priority integer,
    OUT replication_quorum boolean,
    OUT reported_tli integer,
    OUT reported_lsn pg_lsn,
    OUT health integer,
    OUT nodecluster text)
RETURNS SETOF record
LANGUAGE sql STABLE STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT f.kind, n.nodename, n.nodehost, n.nodeport, n.groupid, n.nodeid,
         n.reportedstate, n.goalstate, n.candidatepriority, n.replicationquorum,
         n.reportedtli, n.reportedlsn, n.health, n.nodecluster
    FROM pgautofailover.node n
    JOIN pgautofailover.formation f ON f.formationid = n.formationid
   WHERE n.formationid = $1 AND n.groupid = $2
   ORDER BY n.nodeid
$$;

-- The `count` most recent events (highest ids), oldest first.
CREATE FUNCTION pgautofailover.last_events(count integer DEFAULT 10)
RETURNS SETOF pgautofailover.event
LANGUAGE sql STABLE STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT e.* FROM (SELECT * FROM pgautofailover.event ORDER BY eventid DESC LIMIT $1) e
   ORDER BY e.eventtime, e.eventid
$$;

CREATE FUNCTION pgautofailover.last_events(formation_id text DEFAULT 'default', count integer DEFAULT 10)
RETURNS SETOF pgautofailover.event
LANGUAGE sql STABLE STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT e.* FROM (SELECT * FROM pgautofailover.event
                    WHERE formationid = $1 ORDER BY eventid DESC LIMIT $2) e
   ORDER BY e.eventtime, e.eventid
$$;

CREATE FUNCTION pgautofailover.last_events(formation_id text, group_id integer, count integer DEFAULT 10)
RETURNS SETOF pgautofailover.event
LANGUAGE sql STABLE STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT e.* FROM (SELECT * FROM pgautofailover.event
                    WHERE formationid = $1 AND groupid = $2 ORDER BY eventid DESC LIMIT $3) e
   ORDER BY e.eventtime, e.eventid
$$;

-- A multi-host connection URI over the group 0 nodes of one node cluster,
-- by node id; NULL when there is none. IPv6 addresses are bracketed.
CREATE FUNCTION pgautofailover.formation_uri(
    formation_id text DEFAULT 'default',
    cluster_name text DEFAULT 'default',
    sslmode text DEFAULT 'prefer',
    sslrootcert text DEFAULT '',
    sslcrl text DEFAULT '')
RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT format('postgres://%s/%s?%ssslmode=%s%s%s',
                string_agg(CASE WHEN n.nodehost LIKE '%:%' AND n.nodehost NOT LIKE '[%'
                                THEN '[' || n.nodehost || ']' ELSE n.nodehost END
                           || ':' || n.nodeport, ',' ORDER BY n.nodeid),
                min(f.dbname),
                CASE WHEN $2 = 'default' THEN 'target_session_attrs=read-write&' ELSE '' END,
                $3,
                CASE WHEN $4 <> '' THEN '&sslrootcert=' || $4 ELSE '' END,
                CASE WHEN $5 <> '' THEN '&sslcrl=' || $5 ELSE '' END)
    FROM pgautofailover.node n
    JOIN pgautofailover.formation f ON f.formationid = n.formationid
   WHERE n.formationid = $1 AND n.groupid = 0 AND n.nodecluster = $2
  HAVING count(*) > 0
$$;

-- Rows: the formation's number_sync_standbys; per group primary (reported
-- state writable), the synchronous_standby_names value in single quotes;
-- per node, the replication quorum rows then the candidate priority rows,
-- each by node id.
CREATE FUNCTION pgautofailover.formation_settings(
    formation_id text DEFAULT 'default',
    OUT context text,
    OUT group_id integer,
    OUT node_id bigint,
    OUT nodename text,
    OUT setting text,
    OUT value text)
RETURNS SETOF record
LANGUAGE sql STABLE STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT s.context, s.group_id, s.node_id, s.nodename, s.setting, s.value
    FROM (
      SELECT 1 AS section, 'formation'::text AS context, NULL::integer AS group_id, NULL::bigint AS node_id,
             f.formationid AS nodename, 'number_sync_standbys'::text AS setting,
             f.number_sync_standbys::text AS value
        FROM pgautofailover.formation f
       WHERE f.formationid = $1
      UNION ALL
      SELECT 2, 'primary', n.groupid, n.nodeid, n.nodename, 'synchronous_standby_names',
             '''' || coalesce(g.standby_names, '') || ''''
        FROM pgautofailover.node n
        LEFT JOIN pgautofailover.group_state g ON g.formationid = n.formationid AND g.groupid = n.groupid
       WHERE n.formationid = $1 AND pgautofailover.is_writable(n.reportedstate)
      UNION ALL
      SELECT 3, 'node', n.groupid, n.nodeid, n.nodename, 'replication quorum', n.replicationquorum::text
        FROM pgautofailover.node n
       WHERE n.formationid = $1
      UNION ALL
      SELECT 4, 'node', n.groupid, n.nodeid, n.nodename, 'candidate priority', n.candidatepriority::text
        FROM pgautofailover.node n
       WHERE n.formationid = $1
    ) s
   ORDER BY s.section, s.group_id NULLS FIRST, s.node_id NULLS FIRST
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgautofailover FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
  pgautofailover.current_state(text),
  pgautofailover.current_state(text, integer),
  pgautofailover.last_events(integer),
  pgautofailover.last_events(text, integer),
  pgautofailover.last_events(text, integer, integer),
  pgautofailover.formation_uri(text, text, text, text, text),
  pgautofailover.formation_settings(text)
TO autoctl_node;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pgautofailover TO autoctl;
