-- Defaults for a failover in under 5 s (docs/timings.md explains each
-- number and what changing it trades). Only rows still holding the value
-- 0001 inserted change: a setting an operator chose stays as it is.
UPDATE pgautofailover.settings AS s
   SET setting = v.new_value
  FROM (VALUES
    ('pgautofailover.health_check_period', '5000', '1000'),
    ('pgautofailover.health_check_timeout', '5000', '1000'),
    ('pgautofailover.health_check_max_retries', '2', '1'),
    ('pgautofailover.health_check_retry_delay', '2000', '500'),
    ('pgautofailover.node_considered_unhealthy_timeout', '20000', '3000'),
    ('pgautofailover.primary_lease_timeout', '20000', '3000')
  ) AS v(name, old_value, new_value)
 WHERE s.name = v.name AND s.setting = v.old_value;
