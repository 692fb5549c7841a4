-- Clean switchovers of the monitor (migration 0013): the request made by
-- `pg_autoctl perform monitor-failover` on a standby monitor, read and
-- answered by the primary monitor's service.

-- The standby monitor asks the primary to hand over to member `member_id`
-- (a synchronous standby). Returns the request, the target's address and
-- the epoch. Any autoctl_node session may call it (docs/security.md
-- "Monitor high availability"), so it refuses: a target that is not a
-- synchronous standby streaming right now (never this primary itself), a
-- request while another one is pending (no pile-up), and any request
-- within monitor_switchover_interval() of the last accepted switchover (no
-- flipping the monitor back and forth).
CREATE OR REPLACE FUNCTION pgautofailover.monitor_switchover_interval()
RETURNS interval
LANGUAGE sql IMMUTABLE
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$ SELECT interval '60 seconds' $$;

CREATE OR REPLACE FUNCTION pgautofailover.request_monitor_switchover(
    member_id bigint,
    OUT request_id bigint,
    OUT target_member bigint,
    OUT hostname text,
    OUT port integer,
    OUT epoch bigint,
    OUT requested_at timestamptz)
RETURNS record
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  m pgautofailover.monitor_member;
  last pgautofailover.monitor_switchover;
  current_epoch bigint;
BEGIN
  IF pg_is_in_recovery() THEN
    RAISE EXCEPTION USING ERRCODE = '25006',
      MESSAGE = 'this monitor is a standby: send the switchover request to the primary monitor';
  END IF;
  -- One request at a time. An advisory lock that is never waited for: a
  -- client holding it in an open transaction blocks only other requests,
  -- never the service (a table or row lock would stall its answers).
  IF NOT pg_try_advisory_xact_lock(hashtext('pgautofailover.monitor_switchover')) THEN
    RAISE EXCEPTION USING ERRCODE = '55P03',
      MESSAGE = 'another monitor switchover request is being recorded: try again';
  END IF;
  SELECT c.epoch INTO current_epoch FROM pgautofailover.current_monitor_epoch() c;
  SELECT s.* INTO last FROM pgautofailover.monitor_switchover s
   WHERE s.status = 'requested' AND s.epoch = current_epoch
     AND s.requested_at > now() - interval '20 seconds'
   ORDER BY s.request_id DESC LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '55006',
      MESSAGE = format('monitor switchover request %s (to member %s) is pending since %s: wait for its answer',
                       last.request_id, last.target_member, last.requested_at);
  END IF;
  SELECT s.* INTO last FROM pgautofailover.monitor_switchover s
   WHERE s.status = 'accepted' AND s.answered_at > now() - pgautofailover.monitor_switchover_interval()
   ORDER BY s.answered_at DESC LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = format('the last monitor switchover (request %s) was accepted at %s: no new request before %s',
                       last.request_id, last.answered_at, last.answered_at + pgautofailover.monitor_switchover_interval());
  END IF;
  SELECT x.* INTO m FROM pgautofailover.monitor_member x WHERE x.member_id = $1;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('monitor member %s is not registered', $1);
  END IF;
  IF NOT m.sync THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = format('monitor member %s (%s:%s) is not a synchronous standby: refusing to hand over to it', m.member_id, m.hostname, m.port);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_stat_replication r
                  WHERE r.application_name = pgautofailover.monitor_member_slot_name(m.member_id)
                    AND r.state = 'streaming' AND r.sync_state IN ('sync', 'quorum')) THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = format('monitor member %s (%s:%s) does not stream as a synchronous standby right now: refusing to hand over to it',
                       m.member_id, m.hostname, m.port);
  END IF;
  UPDATE pgautofailover.monitor_switchover s
     SET status = 'cancelled', answered_at = now(), message = 'expired: never answered'
   WHERE s.status = 'requested';
  INSERT INTO pgautofailover.monitor_switchover (target_member, epoch)
  VALUES (m.member_id, current_epoch)
  RETURNING monitor_switchover.request_id, monitor_switchover.requested_at INTO request_id, requested_at;
  target_member := m.member_id;
  hostname := m.hostname;
  port := m.port;
  epoch := current_epoch;
END
$$;

-- A request and its answer (NULL fields when there is no such request).
CREATE OR REPLACE FUNCTION pgautofailover.monitor_switchover_status(
    request_id bigint,
    OUT target_member bigint,
    OUT epoch bigint,
    OUT status text,
    OUT requested_at timestamptz,
    OUT answered_at timestamptz,
    OUT message text)
RETURNS record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT s.target_member, s.epoch, s.status, s.requested_at, s.answered_at, s.message
    FROM (SELECT 1) AS one
    LEFT JOIN pgautofailover.monitor_switchover s ON s.request_id = $1
$$;

-- The service: the pending request of the current epoch, with the
-- target's address and whether the target streams as a synchronous
-- standby right now (its application_name is its slot name). A request
-- expires after 20 seconds (the command gives up after 25): a primary
-- whose service was not running never acts on an old request later.
CREATE OR REPLACE FUNCTION pgautofailover.pending_monitor_switchover(
    OUT request_id bigint,
    OUT target_member bigint,
    OUT hostname text,
    OUT port integer,
    OUT sync boolean,
    OUT streaming_sync boolean,
    OUT epoch bigint,
    OUT requested_at timestamptz)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT s.request_id, s.target_member, m.hostname, m.port, m.sync,
         EXISTS (SELECT 1 FROM pg_stat_replication r
                  WHERE r.application_name = 'pgautofailover_monitor_' || m.member_id
                    AND r.state = 'streaming' AND r.sync_state IN ('sync', 'quorum')),
         s.epoch, s.requested_at
    FROM pgautofailover.monitor_switchover s
    JOIN pgautofailover.monitor_member m ON m.member_id = s.target_member
   WHERE s.status = 'requested'
     AND s.requested_at > now() - interval '20 seconds'
     AND s.epoch = (SELECT c.epoch FROM pgautofailover.current_monitor_epoch() c)
   ORDER BY s.request_id DESC
   LIMIT 1
$$;

-- The service answers a request: accepted (it hands over now) or refused.
CREATE OR REPLACE FUNCTION pgautofailover.answer_monitor_switchover(
    request_id bigint,
    accepted boolean,
    message text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  UPDATE pgautofailover.monitor_switchover s
     SET status = CASE WHEN $2 THEN 'accepted' ELSE 'refused' END, answered_at = now(), message = $3
   WHERE s.request_id = $1 AND s.status = 'requested'
$$;

-- A member's sync flag, by address (a standby monitor finds its own row
-- on its replica before it promotes itself).
CREATE OR REPLACE FUNCTION pgautofailover.monitor_member_sync(
    hostname text,
    port integer,
    OUT member_id bigint,
    OUT sync boolean,
    OUT sync_changed_at timestamptz)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT m.member_id, m.sync, m.sync_changed_at
    FROM pgautofailover.monitor_member m
   WHERE m.hostname = $1 AND m.port = $2
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgautofailover FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
  pgautofailover.request_monitor_switchover(bigint),
  pgautofailover.monitor_switchover_status(bigint),
  pgautofailover.monitor_member_sync(text, integer)
TO autoctl_node;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pgautofailover TO autoctl;
