-- JSON representations of API objects, built by the database so a list of a
-- hundred instances is one round trip and one string, not a hundred rows
-- rebuilt in C.
CREATE FUNCTION iaas.ts(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

CREATE FUNCTION iaas.instance_json(i iaas.instances) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', i.id, 'tenant_id', i.tenant_id, 'name', i.name,
        'flavor_id', i.flavor_id, 'image_id', i.image_id, 'keypair_id', i.keypair_id,
        'vcpus', i.vcpus, 'memory_mib', i.memory_mib, 'disk_gib', i.disk_gib,
        'state', i.state, 'task', i.task, 'power_desired', i.power_desired,
        'node_id', i.node_id, 'fault', i.fault,
        'created_at', iaas.ts(i.created_at), 'updated_at', iaas.ts(i.updated_at))
$$;

CREATE FUNCTION iaas.flavor_json(f iaas.flavors) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', f.id, 'name', f.name, 'vcpus', f.vcpus,
        'memory_mib', f.memory_mib, 'disk_gib', f.disk_gib, 'disabled', f.disabled,
        'created_at', iaas.ts(f.created_at))
$$;

CREATE FUNCTION iaas.image_json(m iaas.images) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', m.id, 'tenant_id', m.tenant_id, 'name', m.name,
        'visibility', m.visibility, 'status', m.status, 'disk_format', m.disk_format,
        'size_bytes', m.size_bytes, 'checksum', m.checksum, 'min_disk_gib', m.min_disk_gib,
        'min_memory_mib', m.min_memory_mib, 'created_at', iaas.ts(m.created_at),
        'updated_at', iaas.ts(m.updated_at))
$$;

CREATE FUNCTION iaas.keypair_json(k iaas.keypairs) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', k.id, 'name', k.name, 'public_key', k.public_key,
        'fingerprint', k.fingerprint, 'created_at', iaas.ts(k.created_at))
$$;
