-- Instance disks, billed like provisioned block storage (EBS: GB-month
-- provisioned): the bytes allocated to an instance's disks over time.
-- Nodes report them in each instance sample (disk_bytes, from the spec the
-- gateway placed on them); each hour is billed at the largest allocation
-- reported in it for that instance, like billing.storage_hourly. The rows of
-- one (instance, hour) over all periods add up to that maximum, so a larger
-- late report adds only the difference, to the open period.
CREATE TABLE billing.disk_hourly (
    tenant_id uuid NOT NULL,
    period date NOT NULL,
    instance_id uuid NOT NULL,
    hour timestamptz NOT NULL,
    bytes bigint NOT NULL,
    PRIMARY KEY (tenant_id, period, instance_id, hour)
);
CREATE INDEX disk_hourly_instance_hour ON billing.disk_hourly (instance_id, hour);

-- Its price: micro-units per GiB-month (2^30 bytes for every hour of the
-- month), 0 for versions made before it existed.
ALTER TABLE billing.plan_versions
    ADD COLUMN disk_per_gib_month bigint NOT NULL DEFAULT 0 CHECK (disk_per_gib_month >= 0);

-- Floating IPs held, per IP-hour: read at rating from the gateway's
-- iaas.floating_ip_hours() (its migration 0020), 0 for older versions.
ALTER TABLE billing.plan_versions
    ADD COLUMN floating_ip_hour bigint NOT NULL DEFAULT 0 CHECK (floating_ip_hour >= 0);

-- The tenants that held floating IPs in the month starting p (up to now),
-- from the gateway's published iaas.floating_ip_tenants() when it shares
-- the cluster, none otherwise: they have an invoice even with no other usage.
CREATE FUNCTION billing.floating_ip_tenants(p date) RETURNS SETOF uuid
    LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF to_regprocedure('iaas.floating_ip_tenants(timestamptz,timestamptz)') IS NOT NULL THEN
        RETURN QUERY EXECUTE 'SELECT * FROM iaas.floating_ip_tenants($1, least($2, now()))'
            USING p::timestamp AT TIME ZONE 'UTC',
                  (p + interval '1 month')::timestamp AT TIME ZONE 'UTC';
    END IF;
END $$;
