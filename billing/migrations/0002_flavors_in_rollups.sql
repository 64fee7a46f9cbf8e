-- Instance-hours move into the hourly rollup row: usage_hourly.flavors is
-- the set of flavors the instance was billed an instance-hour for in that
-- (period, hour). Ingest already upserts that row for the hour's usage, so
-- recording the hour there costs no extra row per sample, and rating reads
-- usage and instance-hours in one scan. An (instance, hour, flavor) is still
-- billed once: ingest checks earlier periods before adding a flavor to a
-- later one (late usage for an issued month).

ALTER TABLE billing.usage_hourly ADD COLUMN flavors text[] NOT NULL DEFAULT '{}';

INSERT INTO billing.usage_hourly AS u (tenant_id, period, instance_id, hour, flavors)
SELECT tenant_id, period, instance_id, hour, array_agg(flavor ORDER BY flavor)
FROM billing.instance_hours GROUP BY tenant_id, period, instance_id, hour
ON CONFLICT (tenant_id, period, instance_id, hour) DO UPDATE SET flavors = excluded.flavors;

DROP TABLE billing.instance_hours;

CREATE OR REPLACE FUNCTION billing.ensure_partitions(months date[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m date;
    t text;
    made integer := 0;
    lo text;
    hi text;
BEGIN
    FOREACH m IN ARRAY months LOOP
        m := date_trunc('month', m)::date;
        FOREACH t IN ARRAY ARRAY['samples', 'usage_hourly'] LOOP
            CONTINUE WHEN to_regclass(format('billing.%I', t || '_' || to_char(m, 'YYYYMM'))) IS NOT NULL;
            PERFORM pg_advisory_xact_lock(7352402);
            CONTINUE WHEN to_regclass(format('billing.%I', t || '_' || to_char(m, 'YYYYMM'))) IS NOT NULL;
            IF t = 'samples' THEN
                lo := to_char(m, 'YYYY-MM-DD') || ' 00:00:00+00';
                hi := to_char((m + interval '1 month')::date, 'YYYY-MM-DD') || ' 00:00:00+00';
            ELSE
                lo := to_char(m, 'YYYY-MM-DD');
                hi := to_char((m + interval '1 month')::date, 'YYYY-MM-DD');
            END IF;
            EXECUTE format('CREATE TABLE billing.%I PARTITION OF billing.%I FOR VALUES FROM (%L) TO (%L)',
                           t || '_' || to_char(m, 'YYYYMM'), t, lo, hi);
            made := made + 1;
        END LOOP;
    END LOOP;
    RETURN made;
END $$;
