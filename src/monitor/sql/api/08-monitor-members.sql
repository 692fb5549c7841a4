-- Monitor members (migration 0012, docs/architecture.md "Monitor high
-- availability").

-- Slot name and application_name of a standby monitor.
CREATE OR REPLACE FUNCTION pgautofailover.monitor_member_slot_name(member_id bigint)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT 'pgautofailover_monitor_' || member_id::text
$$;

-- At most this many monitors (the primary included): each one gets a
-- replication slot, an HBA rule and a WAL sender on the primary.
CREATE OR REPLACE FUNCTION pgautofailover.max_monitor_members()
RETURNS integer
LANGUAGE sql IMMUTABLE
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$ SELECT 8 $$;

-- A monitor joins (create monitor --standby-of) or the writable monitor's
-- service ensures its own row. Idempotent: the existing row of
-- (hostname, port) is returned as it is. Any autoctl_node session may
-- call it (docs/security.md "Monitor high availability"): the host goes
-- into the primary's pg_hba.conf, so it must be a plain IP address or an
-- RFC 1123 host name, as for register_node (no CIDR, whitespace, comment,
-- quote, @file or HBA keyword), and the members are bounded.
CREATE OR REPLACE FUNCTION pgautofailover.register_monitor_member(
    member_hostname text,
    member_port integer,
    OUT member_id bigint,
    OUT hostname text,
    OUT port integer,
    OUT sync boolean,
    OUT sync_changed_at timestamptz,
    OUT registered_at timestamptz,
    OUT slot_name text)
RETURNS record
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
BEGIN
  IF pg_is_in_recovery() THEN
    RAISE EXCEPTION 'this monitor is a standby: register the member with the primary monitor'
      USING ERRCODE = 'read_only_sql_transaction';
  END IF;
  IF NOT pgautofailover.is_valid_host(member_hostname) THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('invalid monitor member host %s: expected an IP address or an RFC 1123 host name',
                       to_json(left(member_hostname, 80))::text),
      HINT = 'A network (CIDR), whitespace, "#", quotes, "@" and the pg_hba.conf keywords all, samehost and samenet are refused.';
  END IF;
  IF member_port IS NULL OR member_port < 1 OR member_port > 65535 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('invalid monitor member port %s: expected an integer from 1 to 65535', coalesce(member_port::text, 'NULL'));
  END IF;
  -- Serialises registrations, so that the bound holds. Never waits (any
  -- session may hold an advisory lock; a table lock held by a client in an
  -- open transaction would stall the members loop's updates).
  IF NOT pg_try_advisory_xact_lock(hashtext('pgautofailover.monitor_member')) THEN
    RAISE EXCEPTION USING ERRCODE = '55P03',
      MESSAGE = format('cannot register monitor member %s:%s now: another registration is under way, try again', member_hostname, member_port);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pgautofailover.monitor_member x WHERE x.hostname = member_hostname AND x.port = member_port)
     AND (SELECT count(*) FROM pgautofailover.monitor_member) >= pgautofailover.max_monitor_members() THEN
    RAISE EXCEPTION USING ERRCODE = '53400',
      MESSAGE = format('cannot register monitor member %s:%s: this monitor already has %s members, the most it accepts',
                       member_hostname, member_port, pgautofailover.max_monitor_members()),
      HINT = 'Remove a member that is gone first (pgautofailover.remove_monitor_member).';
  END IF;
  INSERT INTO pgautofailover.monitor_member AS m (hostname, port)
  VALUES (member_hostname, member_port)
  ON CONFLICT ON CONSTRAINT monitor_member_hostname_port_key DO NOTHING;
  SELECT m.member_id, m.hostname, m.port, m.sync, m.sync_changed_at, m.registered_at,
         pgautofailover.monitor_member_slot_name(m.member_id)
    INTO member_id, hostname, port, sync, sync_changed_at, registered_at, slot_name
    FROM pgautofailover.monitor_member m
   WHERE m.hostname = member_hostname AND m.port = member_port;
END
$$;

-- Every member with what this server knows of its replication: on the
-- writable monitor, its pg_stat_replication row and slot; on a standby,
-- which member it streams from (pg_stat_wal_receiver). `role`: on the
-- writable monitor, a member with a slot or a WAL sender here is a
-- standby and the others are this primary; on a standby, the member it
-- streams from is the primary.
CREATE OR REPLACE FUNCTION pgautofailover.monitor_members(
    OUT member_id bigint,
    OUT hostname text,
    OUT port integer,
    OUT sync boolean,
    OUT sync_changed_at timestamptz,
    OUT registered_at timestamptz,
    OUT slot_name text,
    OUT role text,
    OUT slot_exists boolean,
    OUT replication_state text,
    OUT sync_state text,
    OUT sent_lsn pg_lsn,
    OUT flush_lsn pg_lsn,
    OUT replay_lsn pg_lsn,
    OUT lag_bytes bigint,
    OUT reply_time timestamptz,
    OUT writable boolean)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  WITH here AS (
    SELECT pg_is_in_recovery() AS recovery,
           CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn() END AS current_lsn
  ), upstream AS (
    SELECT w.sender_host, w.sender_port FROM pg_stat_wal_receiver w WHERE w.status = 'streaming' LIMIT 1
  )
  SELECT m.member_id, m.hostname, m.port, m.sync, m.sync_changed_at, m.registered_at,
         pgautofailover.monitor_member_slot_name(m.member_id),
         CASE WHEN h.recovery THEN
                CASE WHEN u.sender_host = m.hostname AND u.sender_port = m.port THEN 'primary'
                     WHEN u.sender_host IS NULL THEN 'unknown' ELSE 'standby' END
              WHEN s.slot_name IS NOT NULL OR r.pid IS NOT NULL THEN 'standby'
              ELSE 'primary' END,
         s.slot_name IS NOT NULL,
         r.state::text, r.sync_state::text, r.sent_lsn, r.flush_lsn, r.replay_lsn,
         CASE WHEN r.replay_lsn IS NOT NULL AND h.current_lsn IS NOT NULL
              THEN pg_wal_lsn_diff(h.current_lsn, r.replay_lsn)::bigint END,
         r.reply_time,
         NOT h.recovery
    FROM pgautofailover.monitor_member m
    CROSS JOIN here h
    LEFT JOIN upstream u ON true
    LEFT JOIN pg_replication_slots s ON s.slot_name = pgautofailover.monitor_member_slot_name(m.member_id)
    LEFT JOIN LATERAL (
      SELECT x.* FROM pg_stat_replication x
       WHERE x.application_name = pgautofailover.monitor_member_slot_name(m.member_id)
       ORDER BY x.backend_start DESC LIMIT 1) r ON true
   ORDER BY m.member_id
$$;

-- The writable monitor's service records that a member entered (true) or
-- left (false) the synchronous set.
CREATE OR REPLACE FUNCTION pgautofailover.set_monitor_member_sync(member_id bigint, sync boolean)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  UPDATE pgautofailover.monitor_member m
     SET sync = set_monitor_member_sync.sync, sync_changed_at = now()
   WHERE m.member_id = set_monitor_member_sync.member_id AND m.sync IS DISTINCT FROM set_monitor_member_sync.sync
  RETURNING true
$$;

-- Removes a member (the writable monitor then drops its slot, and its
-- name from synchronous_standby_names); commits without waiting for the
-- synchronous standbys. A member of the synchronous set
-- may only be removed by the monitor's administrator (a superuser or the
-- service's role): keepers' autoctl_node may remove a member that never
-- made it (a failed create monitor --standby-of).
CREATE OR REPLACE FUNCTION pgautofailover.remove_monitor_member(member_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  m pgautofailover.monitor_member;
  admin boolean;
BEGIN
  SELECT x.* INTO m FROM pgautofailover.monitor_member x WHERE x.member_id = remove_monitor_member.member_id FOR UPDATE;
  IF m.member_id IS NULL THEN
    RETURN false;
  END IF;
  SELECT r.rolsuper OR r.rolname = 'autoctl' INTO admin FROM pg_catalog.pg_roles r WHERE r.rolname = session_user;
  IF m.sync AND NOT coalesce(admin, false) THEN
    RAISE EXCEPTION 'monitor member % (%:%) is in the synchronous set: only the monitor''s administrator may remove it',
      m.member_id, m.hostname, m.port
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- The member removed is often a synchronous standby that is gone: this
  -- commit must not wait for it.
  PERFORM set_config('synchronous_commit', 'local', true);
  DELETE FROM pgautofailover.monitor_member x WHERE x.member_id = m.member_id;
  RETURN true;
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgautofailover FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
  pgautofailover.monitor_member_slot_name(bigint),
  pgautofailover.register_monitor_member(text, integer),
  pgautofailover.monitor_members(),
  pgautofailover.remove_monitor_member(bigint)
TO autoctl_node;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pgautofailover TO autoctl;
