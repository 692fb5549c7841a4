-- The failsafe (docs/architecture.md "The failsafe"): while node_active
-- fails, a primary keeps its write lease only on the signed yes of every
-- other node of its group, asked over each keeper's HTTP listener. The
-- monitor hands out, to the keepers of a group, where those listeners are
-- and the group's secret that signs the questions and the answers.

-- Port of the keeper's HTTP listener (NULL: not published yet or off).
ALTER TABLE pgautofailover.node ADD COLUMN httpport integer
  CONSTRAINT node_httpport_check CHECK (httpport IS NULL OR httpport BETWEEN 1 AND 65535);

-- One secret per group. Nobody but the SECURITY DEFINER functions below
-- reads this table: autoctl_node has no privilege on it.
CREATE TABLE pgautofailover.group_secret (
  formationid text    NOT NULL,
  groupid     integer NOT NULL,
  secret      text    NOT NULL,
  CONSTRAINT group_secret_pkey PRIMARY KEY (formationid, groupid),
  CONSTRAINT group_secret_formation_fkey FOREIGN KEY (formationid)
    REFERENCES pgautofailover.formation (formationid) ON DELETE CASCADE
);
REVOKE ALL ON pgautofailover.group_secret FROM PUBLIC, autoctl_node, autoctl;
