-- Monitor schema, version 0003: the keeper protocol (register_node,
-- node_active), node lookups and node metadata (spec 03 section 5.1).
--
-- These functions record what keepers report and never assign goal states
-- (the monitor service does, after a pgautofailover_decide notification),
-- with one exception: register_node stores the new node with goal state =
-- its initial_group_role (normally 'init'), and the keeper then polls
-- node_active until the service has assigned the real goal.

-- Node credentials (docs/security.md "Node credentials"). Every session of
-- role autoctl_node may call the keeper API, so the API alone cannot tell
-- one keeper from another. A keeper registered by this pg_autoctl gets a
-- secret token in the very transaction of its register_node call
-- (issue_node_token) and presents it on each monitor connection in the
-- placeholder setting pgautofailover.node_token. The functions that act for
-- one node (node_active, update_node_metadata, set_node_system_identifier,
-- set_node_http_port, failsafe_peers, record_failsafe_event) then refuse a
-- session without that node's token. A node without a token (registered by
-- a 2.0-style client) is not bound, unless the setting
-- pgautofailover.require_node_token is on.
--
-- One row per registered node; tokenhash is NULL until the token is
-- issued, and registerxact is the transaction that registered the node:
-- the only one that may issue its token. Only a hash is stored; nobody but
-- the SECURITY DEFINER functions reads this table.
CREATE TABLE pgautofailover.node_token (
  nodeid       bigint      NOT NULL,
  registerxact xid8        NOT NULL,
  tokenhash    bytea,
  issuedat     timestamptz,
  CONSTRAINT node_token_pkey PRIMARY KEY (nodeid),
  CONSTRAINT node_token_node_fkey FOREIGN KEY (nodeid)
    REFERENCES pgautofailover.node (nodeid) ON DELETE CASCADE
);
REVOKE ALL ON pgautofailover.node_token FROM PUBLIC, autoctl_node, autoctl;

-- Not in 2.x: when node_active last returned a writable goal to the node,
-- i.e. last granted it the write lease (DESIGN.md safety argument). Set
-- only by node_active, at its transaction's start, which is after the
-- keeper sent the call (the keeper counts its lease from that send time):
-- the monitor's lease end is never earlier than the keeper's.
ALTER TABLE pgautofailover.node ADD COLUMN leasegranttime timestamptz;
