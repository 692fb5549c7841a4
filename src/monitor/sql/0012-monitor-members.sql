-- Monitor members (docs/architecture.md "Monitor high availability"): one
-- row per monitor of this monitor database, the writable one included
-- (the service ensures its own row whenever its database is writable).
-- The role of a member is never stored: the writable one is the primary,
-- the others are streaming standbys, each through the replication slot
-- (and application_name) pgautofailover_monitor_<member_id>. `sync` says
-- that the member is in the primary's synchronous_standby_names and
-- pg_stat_replication has seen it as synchronous: only such a member may
-- ever be promoted. Rows are written through the API (api/08) only.
CREATE TABLE pgautofailover.monitor_member (
  member_id       bigint      GENERATED ALWAYS AS IDENTITY,
  hostname        text        NOT NULL,
  port            integer     NOT NULL,
  sync            boolean     NOT NULL DEFAULT false,
  sync_changed_at timestamptz,
  registered_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT monitor_member_pkey PRIMARY KEY (member_id),
  CONSTRAINT monitor_member_port_check CHECK (port BETWEEN 1 AND 65535),
  CONSTRAINT monitor_member_hostname_check CHECK (hostname <> '' AND hostname !~ '[[:space:],/?#@]'),
  CONSTRAINT monitor_member_hostname_port_key UNIQUE (hostname, port)
);
REVOKE ALL ON pgautofailover.monitor_member FROM PUBLIC, autoctl_node;
GRANT SELECT ON pgautofailover.monitor_member TO autoctl_node;

-- The role standby monitors stream as (pg_basebackup, primary_conninfo,
-- later pg_rewind). Its password, when the monitor's HBA asks for one,
-- is set by the operator as for the keepers' replication role.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pgautofailover_replicator') THEN
    CREATE ROLE pgautofailover_replicator WITH LOGIN REPLICATION;
  END IF;
END
$$;
