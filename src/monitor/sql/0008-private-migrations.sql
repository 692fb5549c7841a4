-- The migrations' own bookkeeping is the monitor's business: autoctl_node
-- may no longer read schema_migrations, so that no keeper session can hold
-- a lock on it that an upgrade (which locks it) would wait for.
REVOKE ALL ON pgautofailover.schema_migrations FROM PUBLIC, autoctl_node;
