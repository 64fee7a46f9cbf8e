-- Floating IPs held over time, for billing (billing/rating.c prices each
-- IP-hour). A floating IP's row is deleted on release, so every hold is
-- also kept here, from allocation to release, written by a trigger on
-- iaas.floating_ips (releases by a tenant's deletion included). Billing
-- reads it only through iaas.floating_ip_hours(), part of the gateway's
-- published contract (like migrations 0011 and 0019), never the table.
CREATE TABLE iaas.floating_ip_holds (
    id           uuid PRIMARY KEY,          -- the floating IP's id
    tenant_id    uuid NOT NULL,
    allocated_at timestamptz NOT NULL,
    released_at  timestamptz,               -- NULL: still held
    CHECK (released_at IS NULL OR released_at >= allocated_at)
);
CREATE INDEX floating_ip_holds_tenant ON iaas.floating_ip_holds (tenant_id, allocated_at);

INSERT INTO iaas.floating_ip_holds (id, tenant_id, allocated_at)
    SELECT id, tenant_id, created_at FROM iaas.floating_ips;

CREATE FUNCTION iaas.floating_ip_hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO iaas.floating_ip_holds (id, tenant_id, allocated_at)
            VALUES (NEW.id, NEW.tenant_id, NEW.created_at);
        RETURN NEW;
    END IF;
    UPDATE iaas.floating_ip_holds SET released_at = greatest(now(), allocated_at)
        WHERE id = OLD.id AND released_at IS NULL;
    RETURN OLD;
END $$;
CREATE TRIGGER floating_ip_holds AFTER INSERT OR DELETE ON iaas.floating_ips
    FOR EACH ROW EXECUTE FUNCTION iaas.floating_ip_hold();

-- The IP-hours of tenant in [t0, t1): for each UTC hour, how many floating
-- IPs it held at any moment of that hour (a partial hour counts whole).
CREATE FUNCTION iaas.floating_ip_hours(tenant uuid, t0 timestamptz, t1 timestamptz)
    RETURNS TABLE (hour timestamptz, ips bigint) LANGUAGE sql STABLE AS $$
    SELECT h, count(*) FROM iaas.floating_ip_holds f,
        generate_series(date_trunc('hour', greatest(f.allocated_at, t0), 'UTC'),
                        least(coalesce(f.released_at, t1), t1) - interval '1 microsecond',
                        interval '1 hour') AS h
    WHERE f.tenant_id = tenant AND f.allocated_at < t1
      AND (f.released_at IS NULL OR f.released_at > t0)
    GROUP BY h ORDER BY h
$$;

-- The tenants that held a floating IP at some moment of [t0, t1): billing
-- drafts and issues their invoices even when that is all they used.
CREATE FUNCTION iaas.floating_ip_tenants(t0 timestamptz, t1 timestamptz)
    RETURNS SETOF uuid LANGUAGE sql STABLE AS $$
    SELECT DISTINCT tenant_id FROM iaas.floating_ip_holds
    WHERE t0 < t1 AND allocated_at < t1 AND (released_at IS NULL OR released_at > t0)
$$;
