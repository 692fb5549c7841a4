-- Monitor schema, version 0006: reporting functions (spec 03 section 5.3),
-- run with the caller's privileges (SELECT on the tables).

CREATE OR REPLACE FUNCTION pgautofailover.current_state(
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

CREATE OR REPLACE FUNCTION pgautofailover.current_state(
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
CREATE OR REPLACE FUNCTION pgautofailover.last_events(count integer DEFAULT 10)
RETURNS SETOF pgautofailover.event
LANGUAGE sql STABLE STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT e.* FROM (SELECT * FROM pgautofailover.event ORDER BY eventid DESC LIMIT $1) e
   ORDER BY e.eventtime, e.eventid
$$;

CREATE OR REPLACE FUNCTION pgautofailover.last_events(formation_id text DEFAULT 'default', count integer DEFAULT 10)
RETURNS SETOF pgautofailover.event
LANGUAGE sql STABLE STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT e.* FROM (SELECT * FROM pgautofailover.event
                    WHERE formationid = $1 ORDER BY eventid DESC LIMIT $2) e
   ORDER BY e.eventtime, e.eventid
$$;

CREATE OR REPLACE FUNCTION pgautofailover.last_events(formation_id text, group_id integer, count integer DEFAULT 10)
RETURNS SETOF pgautofailover.event
LANGUAGE sql STABLE STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT e.* FROM (SELECT * FROM pgautofailover.event
                    WHERE formationid = $1 AND groupid = $2 ORDER BY eventid DESC LIMIT $3) e
   ORDER BY e.eventtime, e.eventid
$$;

-- A multi-host connection URI over the group 0 nodes of one node cluster,
-- by node id; NULL when there is none. Hosts, the dbname and the query
-- values are percent-encoded (RFC 3986: every byte of their UTF-8 text
-- outside the unreserved characters, and '/' in paths of the query
-- values); IPv6 addresses are bracketed, their ':' kept.
CREATE OR REPLACE FUNCTION pgautofailover.formation_uri(
    formation_id text DEFAULT 'default',
    cluster_name text DEFAULT 'default',
    sslmode text DEFAULT 'prefer',
    sslrootcert text DEFAULT '',
    sslcrl text DEFAULT '')
RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  WITH members AS (
    SELECT n.nodeid, n.nodehost, n.nodeport, f.dbname
      FROM pgautofailover.node n
      JOIN pgautofailover.formation f ON f.formationid = n.formationid
     WHERE n.formationid = $1 AND n.groupid = 0 AND n.nodecluster = $2
  ), input(key, value, keep) AS (
    SELECT 'host ' || m.nodeid, m.nodehost,
           CASE WHEN m.nodehost LIKE '%:%' THEN '[A-Za-z0-9._~:-]' ELSE '[A-Za-z0-9._~-]' END
      FROM members m
    UNION ALL SELECT 'dbname', min(m.dbname), '[A-Za-z0-9._~-]' FROM members m
    UNION ALL SELECT 'sslmode', $3, '[A-Za-z0-9._~-]'
    UNION ALL SELECT 'sslrootcert', $4, '[A-Za-z0-9._~/-]'
    UNION ALL SELECT 'sslcrl', $5, '[A-Za-z0-9._~/-]'
  ), encoded(key, value) AS (
    SELECT i.key,
           coalesce(string_agg(CASE WHEN b.byte < 128 AND chr(b.byte) ~ i.keep THEN chr(b.byte)
                                    ELSE '%' || upper(lpad(to_hex(b.byte), 2, '0')) END, '' ORDER BY b.pos), '')
      FROM input i
      LEFT JOIN LATERAL (
        SELECT pos, get_byte(convert_to(coalesce(i.value, ''), 'UTF8'), pos) AS byte
          FROM generate_series(0, octet_length(convert_to(coalesce(i.value, ''), 'UTF8')) - 1) AS pos) b ON true
     GROUP BY i.key
  )
  SELECT format('postgres://%s/%s?%ssslmode=%s%s%s',
                string_agg(CASE WHEN m.nodehost LIKE '%:%' THEN '[' || h.value || ']' ELSE h.value END
                           || ':' || m.nodeport, ',' ORDER BY m.nodeid),
                (SELECT e.value FROM encoded e WHERE e.key = 'dbname'),
                CASE WHEN $2 = 'default' THEN 'target_session_attrs=read-write&' ELSE '' END,
                (SELECT e.value FROM encoded e WHERE e.key = 'sslmode'),
                CASE WHEN $4 <> '' THEN '&sslrootcert=' || (SELECT e.value FROM encoded e WHERE e.key = 'sslrootcert') ELSE '' END,
                CASE WHEN $5 <> '' THEN '&sslcrl=' || (SELECT e.value FROM encoded e WHERE e.key = 'sslcrl') ELSE '' END)
    FROM members m
    JOIN encoded h ON h.key = 'host ' || m.nodeid
  HAVING count(*) > 0
$$;

-- Rows: the formation's number_sync_standbys; per group primary (reported
-- state writable), the synchronous_standby_names value in single quotes;
-- per node, the replication quorum rows then the candidate priority rows,
-- each by node id.
CREATE OR REPLACE FUNCTION pgautofailover.formation_settings(
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
