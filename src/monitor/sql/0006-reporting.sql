-- Release 2.0.0. This migration created functions only: they are in
-- api/ now, re-applied on every upgrade (docs/monitor-schema.md).
SELECT 1;
