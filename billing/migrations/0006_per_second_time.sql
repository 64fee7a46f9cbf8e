-- Instance time billed per second (rating.c), as a plan version option:
--   time_unit 'hour'   (the default, as before): every hour in which an
--                      instance ran counts as one whole hour;
--   time_unit 'second': the seconds between consecutive samples of a boot
--                      whose later sample is billable, each boot's total
--                      rounded up to a whole second and raised to
--                      min_seconds (AWS: per second, 60 s minimum).
-- The price stays per hour (instance_hour_default, plan_flavor_prices).
ALTER TABLE billing.plan_versions
    ADD COLUMN time_unit text NOT NULL DEFAULT 'hour' CHECK (time_unit IN ('hour', 'second')),
    ADD COLUMN min_seconds integer NOT NULL DEFAULT 0 CHECK (min_seconds BETWEEN 0 AND 86400);
