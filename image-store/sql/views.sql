-- The image service's JSON representations: the one place an image's JSON
-- is written (api.c and upload.c select images.image_json(m)).
--
-- A repeatable file, not a migration: the service applies it after its
-- numbered migrations on every start in which its text changed
-- (common/migrate.c, st_migrate_repeatable), in one transaction with the
-- other files of sql/. So a change to a representation is an edit here,
-- and every statement must be safe to run again: CREATE OR REPLACE only
-- (a changed argument list or return type needs a DROP FUNCTION IF EXISTS
-- before it). Functions first defined by migrations/0001_images.sql are
-- owned here now.

CREATE OR REPLACE FUNCTION images.ts(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

CREATE OR REPLACE FUNCTION images.image_json(m images.images) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', m.id, 'tenant_id', m.tenant_id, 'name', m.name,
        'visibility', m.visibility, 'status', m.status, 'disk_format', m.disk_format,
        'size_bytes', m.size_bytes, 'virtual_size_bytes', m.virtual_size_bytes,
        'checksum', m.checksum, 'min_disk_gib', m.min_disk_gib,
        'min_memory_mib', m.min_memory_mib, 'status_reason', m.status_reason,
        'kind', m.kind, 'boot', m.boot, 'kernel_id', m.kernel_id, 'ramdisk_id', m.ramdisk_id,
        'source_instance_id', m.source_instance_id,
        'created_at', images.ts(m.created_at), 'updated_at', images.ts(m.updated_at))
$$;
