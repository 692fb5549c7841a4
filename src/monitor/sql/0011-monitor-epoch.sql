-- Monitor epochs (docs/architecture.md "Monitor high availability"): one
-- row per era of this monitor database. A new era starts whenever the
-- database is found writable on another Postgres system or on a newer
-- timeline than the latest row records, that is after every promotion of
-- a copy of the monitor (and after a restore that forks a timeline). The
-- keepers remember the highest epoch they have seen and never obey a
-- monitor with a lower one. The service inserts the rows
-- (advance_monitor_epoch, api/07); nobody else writes here.
CREATE TABLE pgautofailover.monitor_epoch (
  epoch             bigint      NOT NULL,
  system_identifier bigint      NOT NULL,
  timeline          integer     NOT NULL,
  started_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT monitor_epoch_pkey PRIMARY KEY (epoch),
  CONSTRAINT monitor_epoch_epoch_check CHECK (epoch >= 1),
  CONSTRAINT monitor_epoch_timeline_check CHECK (timeline >= 1)
);
REVOKE ALL ON pgautofailover.monitor_epoch FROM PUBLIC, autoctl_node;
GRANT SELECT ON pgautofailover.monitor_epoch TO autoctl_node;
