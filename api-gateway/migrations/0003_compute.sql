-- Compute: nodes (hosts) and instances, with the instance state machine
-- enforced here, in the database, whoever writes the row.
CREATE TABLE iaas.nodes (
    id             uuid PRIMARY KEY,
    name           text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    token_sha256   text NOT NULL UNIQUE,
    disabled       boolean NOT NULL DEFAULT false,
    vcpus          integer NOT NULL DEFAULT 0 CHECK (vcpus >= 0),
    memory_mib     bigint  NOT NULL DEFAULT 0 CHECK (memory_mib >= 0),
    disk_gib       bigint  NOT NULL DEFAULT 0 CHECK (disk_gib >= 0),
    hostname       text NOT NULL DEFAULT '',
    agent_version  text NOT NULL DEFAULT '',
    last_heartbeat timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE iaas.instances (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES iaas.tenants(id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    flavor_id     uuid NOT NULL REFERENCES iaas.flavors(id),
    image_id      uuid NOT NULL REFERENCES iaas.images(id),
    keypair_id    uuid REFERENCES iaas.keypairs(id) ON DELETE SET NULL,
    user_data     text,
    -- the flavor's size, copied at creation: quotas and placement use these
    vcpus         integer NOT NULL,
    memory_mib    integer NOT NULL,
    disk_gib      integer NOT NULL,
    state         text NOT NULL DEFAULT 'building'
                  CHECK (state IN ('building', 'active', 'stopped', 'deleting', 'deleted', 'error')),
    task          text CHECK (task IN ('starting', 'stopping', 'rebooting')),
    power_desired text NOT NULL DEFAULT 'running' CHECK (power_desired IN ('running', 'stopped')),
    reboot_seq    integer NOT NULL DEFAULT 0,
    -- bumped on every change of what the node should do, so node agents can
    -- tell a fresh order from a stale one
    generation    bigint NOT NULL DEFAULT 1,
    node_id       uuid REFERENCES iaas.nodes(id),
    fault         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz
);
CREATE INDEX instances_tenant ON iaas.instances (tenant_id, created_at, id) WHERE state <> 'deleted';
CREATE INDEX instances_node ON iaas.instances (node_id) WHERE state <> 'deleted';

-- The allowed lifecycle moves; anything else is refused with SQLSTATE
-- 'SX409' (mapped to HTTP 409 by the gateway).
CREATE TABLE iaas.instance_transitions (
    from_state text NOT NULL,
    to_state   text NOT NULL,
    PRIMARY KEY (from_state, to_state)
);
INSERT INTO iaas.instance_transitions VALUES
    ('building', 'active'), ('building', 'error'), ('building', 'deleting'), ('building', 'deleted'),
    ('active', 'stopped'), ('active', 'error'), ('active', 'deleting'),
    ('stopped', 'active'), ('stopped', 'error'), ('stopped', 'deleting'),
    ('error', 'deleting'), ('error', 'deleted'),
    ('deleting', 'deleted'), ('deleting', 'error');

CREATE FUNCTION iaas.instance_state_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state THEN
        IF NOT EXISTS (SELECT 1 FROM iaas.instance_transitions
                       WHERE from_state = OLD.state AND to_state = NEW.state) THEN
            RAISE EXCEPTION 'instance % cannot go from % to %', OLD.id, OLD.state, NEW.state
                USING ERRCODE = 'SX409';
        END IF;
        IF NEW.state = 'deleted' THEN
            NEW.deleted_at := now();
        END IF;
    END IF;
    IF NEW.state = 'building' AND NEW.task IS NOT NULL THEN
        RAISE EXCEPTION 'a building instance has no task' USING ERRCODE = 'SX409';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER instances_state_guard BEFORE UPDATE ON iaas.instances
    FOR EACH ROW EXECUTE FUNCTION iaas.instance_state_guard();

-- Idempotency keys for POST /v1/instances: a retried create returns the
-- instance the first attempt made instead of making a second one.
CREATE TABLE iaas.idempotency_keys (
    tenant_id      uuid NOT NULL REFERENCES iaas.tenants(id) ON DELETE CASCADE,
    key            text NOT NULL,
    request_sha256 text NOT NULL,
    instance_id    uuid NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);
