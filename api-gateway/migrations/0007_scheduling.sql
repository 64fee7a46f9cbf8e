-- Cloud-wide settings an admin changes through the API (the placement
-- policy), kept here so every gateway uses the same value.
CREATE TABLE iaas.settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO iaas.settings VALUES ('sched.policy', 'spread');

-- Server groups: a tenant's instances that must share a host (affinity) or
-- must not (anti-affinity).
CREATE TABLE iaas.server_groups (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES iaas.tenants(id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    policy     text NOT NULL CHECK (policy IN ('affinity', 'anti-affinity')),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);
ALTER TABLE iaas.instances
    ADD COLUMN server_group_id uuid REFERENCES iaas.server_groups(id) ON DELETE SET NULL;
CREATE INDEX instances_group ON iaas.instances (server_group_id) WHERE server_group_id IS NOT NULL;
