-- The image store: image records and the content-addressed blobs they point at.
-- An image's bytes live in a blob named by its SHA-256; many images may share
-- one blob (uploaded twice, or copied), and a blob is removed only when no
-- active image refers to it (blobs.c, under an advisory lock on its hash).
CREATE SCHEMA IF NOT EXISTS images;

CREATE TABLE images.blobs (
    sha256     text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
    backend    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE images.images (
    id                 uuid PRIMARY KEY,
    tenant_id          uuid,          -- owner; NULL: the cloud's own
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    visibility         text NOT NULL CHECK (visibility IN ('private', 'public')),
    status             text NOT NULL
                       CHECK (status IN ('queued', 'saving', 'active', 'killed', 'deleted')),
    disk_format        text NOT NULL CHECK (disk_format IN ('raw', 'qcow2')),
    size_bytes         bigint,        -- of the blob
    virtual_size_bytes bigint,        -- what the guest sees
    checksum           text,          -- SHA-256 of the blob, hex
    min_disk_gib       integer NOT NULL DEFAULT 0 CHECK (min_disk_gib >= 0),
    min_memory_mib     integer NOT NULL DEFAULT 0 CHECK (min_memory_mib >= 0),
    status_reason      text,          -- why an upload was killed
    created_by         uuid,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'active' OR checksum IS NOT NULL)
);
CREATE INDEX images_tenant ON images.images (tenant_id);
CREATE INDEX images_checksum ON images.images (checksum) WHERE status = 'active';
CREATE INDEX images_saving ON images.images (updated_at) WHERE status = 'saving';

CREATE FUNCTION images.ts(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

CREATE FUNCTION images.image_json(m images.images) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', m.id, 'tenant_id', m.tenant_id, 'name', m.name,
        'visibility', m.visibility, 'status', m.status, 'disk_format', m.disk_format,
        'size_bytes', m.size_bytes, 'virtual_size_bytes', m.virtual_size_bytes,
        'checksum', m.checksum, 'min_disk_gib', m.min_disk_gib,
        'min_memory_mib', m.min_memory_mib, 'status_reason', m.status_reason,
        'created_at', images.ts(m.created_at), 'updated_at', images.ts(m.updated_at))
$$;
