-- The catalogue: flavors (admin-defined sizes), images (metadata; the image
-- store holds the bytes), SSH keypairs, and per-tenant quotas.
CREATE TABLE iaas.flavors (
    id         uuid PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    vcpus      integer NOT NULL CHECK (vcpus BETWEEN 1 AND 256),
    memory_mib integer NOT NULL CHECK (memory_mib BETWEEN 16 AND 4194304),
    disk_gib   integer NOT NULL CHECK (disk_gib BETWEEN 0 AND 65536),
    disabled   boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE iaas.images (
    id             uuid PRIMARY KEY,
    tenant_id      uuid REFERENCES iaas.tenants(id) ON DELETE CASCADE, -- owner; NULL: the cloud's
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    visibility     text NOT NULL CHECK (visibility IN ('private', 'public')),
    status         text NOT NULL CHECK (status IN ('queued', 'saving', 'active', 'killed', 'deleted')),
    disk_format    text NOT NULL CHECK (disk_format IN ('raw', 'qcow2')),
    size_bytes     bigint,
    checksum       text,
    min_disk_gib   integer NOT NULL DEFAULT 0 CHECK (min_disk_gib >= 0),
    min_memory_mib integer NOT NULL DEFAULT 0 CHECK (min_memory_mib >= 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX images_tenant ON iaas.images (tenant_id);

CREATE TABLE iaas.keypairs (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES iaas.tenants(id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    public_key  text NOT NULL,
    fingerprint text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

-- Limits only: usage is always derived from the instances themselves, under
-- a lock on this row, so it can never drift from the truth.
CREATE TABLE iaas.quotas (
    tenant_id  uuid PRIMARY KEY REFERENCES iaas.tenants(id) ON DELETE CASCADE,
    instances  integer NOT NULL CHECK (instances >= 0),
    vcpus      integer NOT NULL CHECK (vcpus >= 0),
    memory_mib bigint  NOT NULL CHECK (memory_mib >= 0),
    disk_gib   bigint  NOT NULL CHECK (disk_gib >= 0)
);
