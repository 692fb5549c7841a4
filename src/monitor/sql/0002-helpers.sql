
-- The active monitor service: the backend (pid and start time) that last
-- claimed the row, for as long as that backend is alive. Only the
-- service's own role (or a superuser) can claim it; autoctl_node may only
-- read it (SELECT allows no row lock and no table lock that an UPDATE
-- waits for), so it can neither claim nor block it.
CREATE TABLE pgautofailover.monitor_leader (
  singleton     boolean     NOT NULL DEFAULT true,
  pid           integer,
  backend_start timestamptz,
  since         timestamptz,
  CONSTRAINT monitor_leader_pkey PRIMARY KEY (singleton),
  CONSTRAINT monitor_leader_singleton_check CHECK (singleton)
);
INSERT INTO pgautofailover.monitor_leader (singleton) VALUES (true);
REVOKE ALL ON pgautofailover.monitor_leader FROM PUBLIC;
GRANT SELECT ON pgautofailover.monitor_leader TO autoctl_node;
GRANT SELECT, UPDATE ON pgautofailover.monitor_leader TO autoctl;
