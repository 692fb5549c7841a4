-- The write-lease grant of a node the monitor removed from its group.
-- The brain keeps the latest grant of each group in memory, but a monitor
-- service that restarts after the holder's row is gone would fall back to
-- an older grant of another node, and take that node for the last writer
-- (the model checker's seed 2031: an election then skipped a quorum
-- standby that held writes acknowledged by it alone). The grant of a
-- removed node is kept here, with the row's deletion, in the same
-- transaction, and read as a grant of the group.
ALTER TABLE pgautofailover.group_state
  ADD COLUMN removed_lease_nodeid bigint,
  ADD COLUMN removed_lease_granttime timestamptz;
