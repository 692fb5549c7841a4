-- Keepers as witnesses, and the rebuild of a lost monitor from its nodes
-- (docs/architecture.md "Monitor high availability", issue 13 phase 4).
--
-- Decision ids. Every goal assignment of a node is a decision, named by
-- (goaldecisionepoch, goaldecisionid): the monitor epoch it was made in
-- and a number from goal_decision_seq, set by the trigger of api/10 on
-- every change of goalstate or goalchangetime. Within one epoch the ids
-- grow with time; across epochs the epoch orders them (a promoted copy of
-- the monitor may hand out again numbers the lost primary had used). 0, 0:
-- no decision recorded (rows from before this migration, init goals).
ALTER TABLE pgautofailover.node
  ADD COLUMN goaldecisionepoch bigint NOT NULL DEFAULT 0,
  ADD COLUMN goaldecisionid    bigint NOT NULL DEFAULT 0,
  -- The keeper's witness, sent with node_active: the last (epoch,
  -- decision id, goal) it received from a monitor. NULL: never sent.
  ADD COLUMN witnessepoch      bigint,
  ADD COLUMN witnessdecisionid bigint,
  ADD COLUMN witnessgoalstate  pgautofailover.replication_state;

CREATE SEQUENCE pgautofailover.goal_decision_seq;
REVOKE ALL ON SEQUENCE pgautofailover.goal_decision_seq FROM PUBLIC;
GRANT USAGE ON SEQUENCE pgautofailover.goal_decision_seq TO autoctl;
GRANT UPDATE (goaldecisionepoch, goaldecisionid) ON pgautofailover.node TO autoctl;

-- `pg_autoctl create monitor --rebuild-from-nodes`: an empty monitor that
-- running keepers register into again, with their node ids, names, groups
-- and roles. One row at most. While the rebuild runs, the monitor service
-- decides nothing: it ends when every node that a registered keeper knew
-- of has registered, or rebuild_window after the first registration.
CREATE TABLE pgautofailover.monitor_rebuild (
  singleton           boolean     NOT NULL DEFAULT true,
  started_at          timestamptz NOT NULL DEFAULT now(),
  rebuild_window      interval    NOT NULL DEFAULT '60 s',
  first_registered_at timestamptz,
  ended_at            timestamptz,
  end_reason          text,
  CONSTRAINT monitor_rebuild_pkey PRIMARY KEY (singleton),
  CONSTRAINT monitor_rebuild_singleton_check CHECK (singleton),
  CONSTRAINT monitor_rebuild_window_check CHECK (rebuild_window > '0 s')
);

-- The nodes the registered keepers knew of (their group's other nodes, by
-- id): the rebuild waits for each of them.
CREATE TABLE pgautofailover.monitor_rebuild_node (
  nodeid      bigint  NOT NULL,
  formationid text    NOT NULL,
  groupid     integer NOT NULL,
  named_by    bigint  NOT NULL,
  CONSTRAINT monitor_rebuild_node_pkey PRIMARY KEY (nodeid)
);

REVOKE ALL ON pgautofailover.monitor_rebuild, pgautofailover.monitor_rebuild_node FROM PUBLIC, autoctl_node;
GRANT SELECT ON pgautofailover.monitor_rebuild, pgautofailover.monitor_rebuild_node TO autoctl_node, autoctl;
