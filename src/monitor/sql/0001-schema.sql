-- Monitor schema, version 0001: roles, types, tables and table privileges.
--
-- Applied by src/monitor/schema.ts inside one transaction, as the superuser
-- that owns the monitor's Postgres. Every object is schema-qualified; the
-- runner also sets search_path to "pgautofailover, pg_catalog" for the
-- duration of the transaction.
--
-- Table, column, constraint and sequence names are part of the monitor's
-- API (clients read the tables directly and show constraint names in
-- errors): keep them as they are.
--
-- Write model (DESIGN.md decision 3): only the monitor service (role
-- autoctl) writes goal states. Keepers and the CLI (role autoctl_node) read
-- the tables and write only through the SECURITY DEFINER functions of
-- later migrations (0002 and up).

-- The exclusion constraint "same_system_identifier_within_group" mixes
-- equality on text/int with inequality on bigint in one GiST index.
CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public;

-- Roles are cluster-wide; createMonitorRoles() also creates them (and sets
-- passwords). Created here as well so that the migrations stand alone.
DO $roles$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'autoctl_node') THEN
    CREATE ROLE autoctl_node WITH LOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'autoctl') THEN
    CREATE ROLE autoctl WITH LOGIN NOSUPERUSER NOREPLICATION;
  END IF;
END
$roles$;

-- The runner bootstraps the schema and pgautofailover.schema_migrations
-- before applying this file; nobody but the owner may create objects in it.
REVOKE ALL ON SCHEMA pgautofailover FROM PUBLIC;
GRANT USAGE ON SCHEMA pgautofailover TO autoctl_node, autoctl;

CREATE TYPE pgautofailover.replication_state AS ENUM (
  'unknown',
  'init',
  'single',
  'wait_primary',
  'primary',
  'draining',
  'demote_timeout',
  'demoted',
  'catchingup',
  'secondary',
  'prepare_promotion',
  'stop_replication',
  'wait_standby',
  'maintenance',
  'join_primary',
  'apply_settings',
  'prepare_maintenance',
  'wait_maintenance',
  'report_lsn',
  'fast_forward',
  'join_secondary',
  'dropped'
);

CREATE TABLE pgautofailover.formation (
  formationid          text    NOT NULL DEFAULT 'default',
  kind                 text    NOT NULL DEFAULT 'pgsql',
  dbname               name    NOT NULL DEFAULT 'postgres',
  opt_secondary        boolean NOT NULL DEFAULT true,
  number_sync_standbys integer NOT NULL DEFAULT 0,
  CONSTRAINT formation_pkey PRIMARY KEY (formationid),
  CONSTRAINT formation_kind_check CHECK (kind IN ('pgsql', 'citus'))
);

INSERT INTO pgautofailover.formation (formationid, kind, dbname, opt_secondary, number_sync_standbys)
VALUES ('default', 'pgsql', 'postgres', true, 0);

CREATE TABLE pgautofailover.node (
  formationid         text                             NOT NULL DEFAULT 'default',
  nodeid              bigserial                        NOT NULL,
  groupid             integer                          NOT NULL,
  nodename            text                             NOT NULL,
  nodehost            text                             NOT NULL,
  nodeport            integer                          NOT NULL,
  sysidentifier       bigint,
  goalstate           pgautofailover.replication_state NOT NULL DEFAULT 'init',
  reportedstate       pgautofailover.replication_state NOT NULL,
  reportedpgisrunning boolean                                   DEFAULT true,
  reportedrepstate    text                                      DEFAULT 'async',
  reporttime          timestamptz                      NOT NULL DEFAULT now(),
  reportedtli         integer                          NOT NULL DEFAULT 1,
  reportedlsn         pg_lsn                           NOT NULL DEFAULT '0/0',
  walreporttime       timestamptz                      NOT NULL DEFAULT now(),
  health              integer                          NOT NULL DEFAULT -1,
  healthchecktime     timestamptz                      NOT NULL DEFAULT now(),
  statechangetime     timestamptz                      NOT NULL DEFAULT now(),
  candidatepriority   integer                          NOT NULL DEFAULT 100,
  replicationquorum   boolean                          NOT NULL DEFAULT true,
  nodecluster         text                             NOT NULL DEFAULT 'default',
  -- Not in 2.x: when the goal state last changed. statechangetime also
  -- moves when the reported state changes, and the decisions need to know
  -- whether a report was made after the goal it answers was assigned.
  goalchangetime      timestamptz                      NOT NULL DEFAULT now(),
  -- Not in 2.x: the goal the keeper had received when it made its last
  -- report (NULL: not sent). A report counts as converged in a state only
  -- when the keeper already knew that state as its goal.
  keepergoalstate     pgautofailover.replication_state,
  CONSTRAINT node_pkey PRIMARY KEY (nodeid),
  CONSTRAINT node_formationid_nodename_key UNIQUE (formationid, nodename),
  CONSTRAINT node_nodehost_nodeport_key UNIQUE (nodehost, nodeport),
  CONSTRAINT node_reportedtli_check CHECK (reportedtli > 0),
  CONSTRAINT system_identifier_is_null_at_init_only CHECK (
    sysidentifier IS NOT NULL
    OR reportedstate IN ('init', 'wait_standby', 'catchingup', 'dropped')),
  CONSTRAINT same_system_identifier_within_group
    EXCLUDE USING gist (formationid WITH =, groupid WITH =, sysidentifier WITH <>)
    DEFERRABLE INITIALLY DEFERRED,
  CONSTRAINT node_formationid_fkey FOREIGN KEY (formationid)
    REFERENCES pgautofailover.formation (formationid)
) WITH (fillfactor = 25);

CREATE TABLE pgautofailover.event (
  eventid           bigserial                        NOT NULL,
  eventtime         timestamptz                      NOT NULL DEFAULT now(),
  formationid       text                             NOT NULL,
  nodeid            bigint                           NOT NULL,
  groupid           integer                          NOT NULL,
  nodename          text                             NOT NULL,
  nodehost          text                             NOT NULL,
  nodeport          integer                          NOT NULL,
  reportedstate     pgautofailover.replication_state NOT NULL,
  goalstate         pgautofailover.replication_state NOT NULL,
  reportedrepstate  text,
  reportedtli       integer                          NOT NULL DEFAULT 1,
  reportedlsn       pg_lsn                           NOT NULL DEFAULT '0/0',
  candidatepriority integer,
  replicationquorum boolean,
  description       text,
  CONSTRAINT event_pkey PRIMARY KEY (eventid),
  CONSTRAINT event_reportedtli_check CHECK (reportedtli > 0)
);

-- Operator requests (failover, promotion, maintenance, removal, settings
-- changes), recorded by the operator functions and carried out by the
-- monitor service, which sets done_at and outcome in the transaction that
-- applies (or rejects) the request. nodeid is NULL for group-wide requests
-- and has no foreign key, so that the history survives the removal of the
-- node. setting names the changed setting of a settings_changed request
-- (the new value is already stored); description is the human-readable
-- request, also sent on the log channel.
CREATE TABLE pgautofailover.request (
  id           bigserial   NOT NULL,
  formationid  text        NOT NULL,
  groupid      integer     NOT NULL,
  nodeid       bigint,
  kind         text        NOT NULL,
  force        boolean     NOT NULL DEFAULT false,
  setting      text,
  description  text,
  requested_at timestamptz NOT NULL DEFAULT now(),
  done_at      timestamptz,
  outcome      text,
  CONSTRAINT request_pkey PRIMARY KEY (id),
  CONSTRAINT request_kind_check CHECK (kind IN ('failover', 'switchover', 'promotion',
    'maintenance_on', 'maintenance_off', 'remove', 'settings_changed')),
  CONSTRAINT request_setting_check CHECK (setting IN ('candidate_priority', 'replication_quorum',
    'number_sync_standbys')),
  CONSTRAINT request_formationid_fkey FOREIGN KEY (formationid)
    REFERENCES pgautofailover.formation (formationid) ON DELETE CASCADE
);
CREATE INDEX request_pending_idx ON pgautofailover.request (formationid, groupid) WHERE done_at IS NULL;

-- Per-group values computed by the monitor service: the value of
-- synchronous_standby_names the group's primary must apply.
CREATE TABLE pgautofailover.group_state (
  formationid   text    NOT NULL,
  groupid       integer NOT NULL,
  standby_names text    NOT NULL DEFAULT '',
  CONSTRAINT group_state_pkey PRIMARY KEY (formationid, groupid),
  CONSTRAINT group_state_formationid_fkey FOREIGN KEY (formationid)
    REFERENCES pgautofailover.formation (formationid) ON DELETE CASCADE
);

-- The monitor's settings (the original's pgautofailover.* GUCs). The
-- monitor service reads them; a superuser changes them with UPDATE.
-- Values are text, as in pg_settings; unit 'ms' for durations.
CREATE TABLE pgautofailover.settings (
  name        text NOT NULL,
  setting     text NOT NULL,
  unit        text,
  description text NOT NULL DEFAULT '',
  CONSTRAINT settings_pkey PRIMARY KEY (name)
);

INSERT INTO pgautofailover.settings (name, setting, unit, description) VALUES
  ('pgautofailover.health_check_period', '5000', 'ms',
   'Interval between two rounds of health checks of all nodes.'),
  ('pgautofailover.health_check_timeout', '5000', 'ms',
   'Time allowed for one health-check connection attempt.'),
  ('pgautofailover.health_check_max_retries', '2', NULL,
   'Failed attempts retried before a node is marked unhealthy.'),
  ('pgautofailover.health_check_retry_delay', '2000', 'ms',
   'Pause between two health-check attempts on the same node.'),
  ('pgautofailover.node_considered_unhealthy_timeout', '20000', 'ms',
   'Age of the last report after which a node that fails health checks is unhealthy.'),
  ('pgautofailover.startup_grace_period', '10000', 'ms',
   'Time after the monitor starts during which no node is found unhealthy by time.'),
  ('pgautofailover.primary_demote_timeout', '30000', 'ms',
   'Longest wait for an old primary to confirm its demotion before promoting a standby.'),
  ('pgautofailover.enable_sync_wal_log_threshold', '16777216', NULL,
   'Largest WAL distance in bytes between a standby and the primary for the standby to become secondary.'),
  ('pgautofailover.promote_wal_log_threshold', '16777216', NULL,
   'Largest WAL distance in bytes between the failover candidate and the lost primary for a failover to proceed.'),
  ('pgautofailover.enable_health_checks', 'on', NULL,
   'Whether the monitor service runs health checks.'),
  ('pgautofailover.primary_lease_timeout', '20000', 'ms',
   'Length of the primary''s write lease: a primary that could not renew it through node_active for this long stops its Postgres, and no standby is promoted before it ran out.'),
  ('pgautofailover.decision_tick', '500', 'ms',
   'Longest interval between two runs of the decisions for every group, so that timeouts fire without new reports.'),
  ('pgautofailover.require_node_token', 'off', NULL,
   'Whether the functions that act for one node (node_active, update_node_metadata, ...) also refuse nodes that have no node token, i.e. nodes registered by 2.0-style clients. Nodes with a token always require it.');

-- Privileges on tables. autoctl_node (keepers, CLI) only reads; autoctl
-- (the monitor service) writes goal and health columns, the candidate
-- priority (election adjustments), events, request outcomes and group
-- values, and deletes the rows of dropped nodes.
REVOKE ALL ON ALL TABLES IN SCHEMA pgautofailover FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA pgautofailover FROM PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA pgautofailover TO autoctl_node, autoctl;

GRANT UPDATE (goalstate, statechangetime, goalchangetime, health, healthchecktime, candidatepriority)
  ON pgautofailover.node TO autoctl;
GRANT DELETE ON pgautofailover.node TO autoctl;
GRANT INSERT ON pgautofailover.event TO autoctl;
GRANT USAGE ON SEQUENCE pgautofailover.event_eventid_seq TO autoctl;
GRANT UPDATE (done_at, outcome) ON pgautofailover.request TO autoctl;
GRANT INSERT, UPDATE ON pgautofailover.group_state TO autoctl;
