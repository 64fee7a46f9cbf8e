-- stratus-billing: metering, rating and invoices (schema `billing`).
--
-- Data flow: nodes post batches of cumulative counter samples; each new
-- sample is stored raw (billing.samples, partitioned by month, kept for a
-- window) and its usage delta against its predecessor in the same
-- (instance, boot) stream is added to hourly rollups (billing.usage_hourly).
-- billing.streams holds the head (last sample) of every stream so the usual
-- in-order append needs no lookup in the raw table. Invoices are computed
-- from the rollups and, once issued, stored whole and never changed.
--
-- Every rollup row carries the invoice `period` (first day of a month) it
-- is billed in: the month of its usage hour, or, when that month is already
-- issued, the first open month (late usage goes to the next invoice).

CREATE SCHEMA IF NOT EXISTS billing;

-- Cloud-wide state, one row: the last issued month and the next invoice
-- number (gapless: only the issue transaction takes numbers).
CREATE TABLE billing.state (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    issued_through date,
    next_invoice_number bigint NOT NULL DEFAULT 1
);
INSERT INTO billing.state DEFAULT VALUES;

-- Node credentials: the token is "<name>.<64 hex>", only its SHA-256 is kept.
CREATE TABLE billing.nodes (
    name text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    token_sha256 text NOT NULL CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Batches already applied, for idempotency (kept as long as raw samples).
CREATE TABLE billing.batches (
    node text NOT NULL,
    batch_id uuid NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    samples integer NOT NULL,
    accepted integer NOT NULL,
    duplicates integer NOT NULL,
    stale integer NOT NULL,
    PRIMARY KEY (node, batch_id)
);
CREATE INDEX batches_received ON billing.batches (received_at);

-- Raw cumulative samples, one partition per month of sampled_at.
CREATE TABLE billing.samples (
    instance_id uuid NOT NULL,
    boot_id uuid NOT NULL,
    seq bigint NOT NULL,
    sampled_at timestamptz NOT NULL,
    tenant_id uuid NOT NULL,
    flavor text NOT NULL,
    state text NOT NULL,
    cpu_time_ns bigint NOT NULL,
    cpu_cycles bigint NOT NULL,
    rx_bytes bigint NOT NULL,
    rx_packets bigint NOT NULL,
    tx_bytes bigint NOT NULL,
    tx_packets bigint NOT NULL,
    disk_read_bytes bigint NOT NULL,
    disk_read_ops bigint NOT NULL,
    disk_write_bytes bigint NOT NULL,
    disk_write_ops bigint NOT NULL,
    batch_id uuid NOT NULL,
    PRIMARY KEY (instance_id, boot_id, seq, sampled_at)
) PARTITION BY RANGE (sampled_at);

-- The head of each (instance, boot) stream: its highest sequence number and
-- that sample's counters, the lowest sequence number ever accepted, and the
-- last (hour, flavor) already recorded as an instance-hour.
CREATE TABLE billing.streams (
    instance_id uuid NOT NULL,
    boot_id uuid NOT NULL,
    tenant_id uuid NOT NULL,
    min_seq bigint NOT NULL,
    last_seq bigint NOT NULL,
    last_sampled_at timestamptz NOT NULL,
    cpu_time_ns bigint NOT NULL DEFAULT 0,
    cpu_cycles bigint NOT NULL DEFAULT 0,
    rx_bytes bigint NOT NULL DEFAULT 0,
    rx_packets bigint NOT NULL DEFAULT 0,
    tx_bytes bigint NOT NULL DEFAULT 0,
    tx_packets bigint NOT NULL DEFAULT 0,
    disk_read_bytes bigint NOT NULL DEFAULT 0,
    disk_read_ops bigint NOT NULL DEFAULT 0,
    disk_write_bytes bigint NOT NULL DEFAULT 0,
    disk_write_ops bigint NOT NULL DEFAULT 0,
    billed_hour timestamptz,
    billed_flavor text,
    PRIMARY KEY (instance_id, boot_id)
) WITH (fillfactor = 50);
CREATE INDEX streams_last ON billing.streams (last_sampled_at);

-- Hourly usage per instance (deltas summed), partitioned by invoice period.
CREATE TABLE billing.usage_hourly (
    tenant_id uuid NOT NULL,
    period date NOT NULL,
    instance_id uuid NOT NULL,
    hour timestamptz NOT NULL,
    cpu_time_ns bigint NOT NULL DEFAULT 0,
    cpu_cycles bigint NOT NULL DEFAULT 0,
    rx_bytes bigint NOT NULL DEFAULT 0,
    rx_packets bigint NOT NULL DEFAULT 0,
    tx_bytes bigint NOT NULL DEFAULT 0,
    tx_packets bigint NOT NULL DEFAULT 0,
    disk_read_bytes bigint NOT NULL DEFAULT 0,
    disk_read_ops bigint NOT NULL DEFAULT 0,
    disk_write_bytes bigint NOT NULL DEFAULT 0,
    disk_write_ops bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, period, instance_id, hour)
) PARTITION BY RANGE (period);

-- Hours in which an instance ran (a sample in a billable state), by flavor.
-- An (instance, hour, flavor) is billed once, in whichever period first saw it.
CREATE TABLE billing.instance_hours (
    tenant_id uuid NOT NULL,
    period date NOT NULL,
    instance_id uuid NOT NULL,
    hour timestamptz NOT NULL,
    flavor text NOT NULL,
    PRIMARY KEY (tenant_id, period, instance_id, hour, flavor)
) PARTITION BY RANGE (period);

-- Image storage per tenant and hour: the rows of one (tenant, hour) over all
-- periods add up to the largest size reported in that hour.
CREATE TABLE billing.storage_hourly (
    tenant_id uuid NOT NULL,
    period date NOT NULL,
    hour timestamptz NOT NULL,
    bytes bigint NOT NULL,
    PRIMARY KEY (tenant_id, period, hour)
);

-- Price plans. A plan has immutable versions, each in force from its
-- effective_from (a whole hour) until the next version's.
CREATE TABLE billing.plans (
    id uuid PRIMARY KEY,
    name text NOT NULL UNIQUE,
    description text NOT NULL DEFAULT '',
    is_default boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX plans_one_default ON billing.plans (is_default) WHERE is_default;

CREATE TABLE billing.plan_versions (
    id uuid PRIMARY KEY,
    plan_id uuid NOT NULL REFERENCES billing.plans ON DELETE CASCADE,
    version integer NOT NULL,
    effective_from timestamptz NOT NULL,
    cpu_per_gcycle bigint NOT NULL CHECK (cpu_per_gcycle >= 0),
    rx_per_gib bigint NOT NULL CHECK (rx_per_gib >= 0),
    tx_per_gib bigint NOT NULL CHECK (tx_per_gib >= 0),
    storage_per_gib_month bigint NOT NULL CHECK (storage_per_gib_month >= 0),
    instance_hour_default bigint NOT NULL CHECK (instance_hour_default >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (plan_id, version),
    UNIQUE (plan_id, effective_from)
);

CREATE TABLE billing.plan_flavor_prices (
    version_id uuid NOT NULL REFERENCES billing.plan_versions ON DELETE CASCADE,
    flavor text NOT NULL,
    per_hour bigint NOT NULL CHECK (per_hour >= 0),
    PRIMARY KEY (version_id, flavor)
);

-- Which plan a tenant is on, from when (whole hours). Hours before a
-- tenant's first assignment use the default plan.
CREATE TABLE billing.tenant_plans (
    tenant_id uuid NOT NULL,
    effective_from timestamptz NOT NULL,
    plan_id uuid NOT NULL REFERENCES billing.plans,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, effective_from)
);

-- Issued invoices: the documents exactly as issued. Never updated or deleted.
CREATE TABLE billing.invoices (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    period date NOT NULL,
    number bigint NOT NULL UNIQUE,
    issued_at timestamptz NOT NULL,
    currency text NOT NULL,
    total_micro bigint NOT NULL,
    doc_json text NOT NULL,
    doc_csv text NOT NULL,
    doc_html text NOT NULL,
    doc_pdf bytea NOT NULL,
    sha256 text NOT NULL,
    UNIQUE (tenant_id, period)
);

CREATE FUNCTION billing.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'issued invoices are immutable' USING ERRCODE = 'P0001';
END $$;
CREATE TRIGGER invoices_immutable BEFORE UPDATE OR DELETE ON billing.invoices
    FOR EACH ROW EXECUTE FUNCTION billing.refuse_change();

-- Creates the monthly partitions of samples, usage_hourly and
-- instance_hours for each month given (idempotent, safe to race).
CREATE FUNCTION billing.ensure_partitions(months date[]) RETURNS integer
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
        FOREACH t IN ARRAY ARRAY['samples', 'usage_hourly', 'instance_hours'] LOOP
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

-- Drops raw sample partitions that end at or before cutoff.
CREATE FUNCTION billing.drop_samples_before(cutoff timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    part text;
    made integer := 0;
BEGIN
    FOR part IN
        SELECT c.relname FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'billing.samples'::regclass AND c.relname ~ '^samples_[0-9]{6}$'
    LOOP
        IF (to_date(substr(part, 9), 'YYYYMM') + interval '1 month') AT TIME ZONE 'UTC' <= cutoff THEN
            EXECUTE format('DROP TABLE billing.%I', part);
            made := made + 1;
        END IF;
    END LOOP;
    RETURN made;
END $$;
