-- The gateway's JSON representations: the one place the JSON of every
-- resource it serves is written, from the tenant API's objects to the desired
-- set a node agent reads. (Billing's and images' bodies, which the gateway
-- passes through, are written by those services.) Handlers select these functions (a list is one
-- json_agg over them, one round trip and one string) and send the text as
-- it is; no handler builds a resource's JSON in C.
--
-- A repeatable file, not a migration: the gateway applies it after the
-- numbered migrations on every start in which its text changed
-- (common/migrate.c, st_migrate_repeatable; recorded in
-- public.schema_repeatables), in one transaction, under the migrations'
-- advisory lock. So a change to a representation is an edit here, landing
-- with the C and openapi.json changes that go with it. Rules:
--  * every statement can run again: CREATE OR REPLACE only; changing a
--    function's arguments or return type needs DROP FUNCTION IF EXISTS
--    before it;
--  * a function used by another one comes first (SQL function bodies are
--    checked when they are created);
--  * only representations live here: what changes data stays in migrations.
-- Functions that migrations 0004, 0012, 0014-0016 first defined are owned
-- here now; 0017's node_networks_dhcp is superseded by node_networks_json.

CREATE OR REPLACE FUNCTION iaas.ts(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- ---- identity ----

CREATE OR REPLACE FUNCTION iaas.tenant_json(t iaas.tenants) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', t.id, 'name', t.name, 'description', t.description,
        'created_at', iaas.ts(t.created_at))
$$;

CREATE OR REPLACE FUNCTION iaas.user_json(u iaas.users) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', u.id, 'name', u.name, 'cloud_admin', u.cloud_admin,
        'disabled', u.disabled, 'created_at', iaas.ts(u.created_at))
$$;

-- A tenant's member, as the tenant's member list shows it.
CREATE OR REPLACE FUNCTION iaas.member_json(u iaas.users, role text) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('user_id', u.id, 'name', u.name, 'role', role)
$$;

-- A membership, as PUT /v1/tenants/{id}/members/{user_id} answers.
CREATE OR REPLACE FUNCTION iaas.membership_json(m iaas.memberships) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('tenant_id', m.tenant_id, 'user_id', m.user_id, 'role', m.role)
$$;

-- The caller as GET /v1/auth/whoami shows it (the principal the gateway
-- resolved, and every tenant the user is in).
CREATE OR REPLACE FUNCTION iaas.whoami_json(uid uuid, uname text, cloud_admin boolean,
                                            tenant uuid, role text, kind text) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'user', json_build_object('id', uid, 'name', uname, 'cloud_admin', cloud_admin),
        'tenant_id', tenant, 'role', role, 'token_kind', kind,
        'tenants', (SELECT coalesce(json_agg(json_build_object('id', t.id, 'name', t.name,
                                                               'role', m.role) ORDER BY t.name),
                                    '[]')
                    FROM iaas.memberships m JOIN iaas.tenants t ON t.id = m.tenant_id
                    WHERE m.user_id = uid))
$$;

-- A new session: its bearer token (secret, shown this once), the user,
-- whether a cloud admin, and the tenant it is scoped to (null: none) with
-- the caller's role there.
CREATE OR REPLACE FUNCTION iaas.session_json(k iaas.tokens, secret text, role text) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('token', secret, 'token_id', k.id,
        'expires_at', iaas.ts(k.expires_at),
        'user', (SELECT json_build_object('id', u.id, 'name', u.name)
                 FROM iaas.users u WHERE u.id = k.user_id),
        'cloud_admin', (SELECT u.cloud_admin FROM iaas.users u WHERE u.id = k.user_id),
        'tenant', (SELECT json_build_object('id', t.id, 'name', t.name, 'role', role)
                   FROM iaas.tenants t WHERE t.id = k.tenant_id))
$$;

-- A new API key, with its secret (shown this once).
CREATE OR REPLACE FUNCTION iaas.api_key_created_json(k iaas.tokens, secret text) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', k.id, 'name', k.name, 'key', secret,
        'tenant_id', k.tenant_id, 'expires_at', iaas.ts(k.expires_at))
$$;

-- An API key in the list (its secret is shown once, by the create call).
CREATE OR REPLACE FUNCTION iaas.api_key_json(k iaas.tokens) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', k.id, 'name', k.name, 'tenant_id', k.tenant_id,
        'created_at', iaas.ts(k.created_at), 'expires_at', iaas.ts(k.expires_at))
$$;

-- ---- catalogue and quotas ----

CREATE OR REPLACE FUNCTION iaas.flavor_json(f iaas.flavors) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', f.id, 'name', f.name, 'vcpus', f.vcpus,
        'memory_mib', f.memory_mib, 'disk_gib', f.disk_gib, 'disabled', f.disabled,
        'created_at', iaas.ts(f.created_at))
$$;

CREATE OR REPLACE FUNCTION iaas.keypair_json(k iaas.keypairs) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', k.id, 'name', k.name, 'public_key', k.public_key,
        'fingerprint', k.fingerprint, 'created_at', iaas.ts(k.created_at))
$$;

-- Limits and usage. Network usage counts the tenant's own ports, not those
-- a router or a floating IP holds (as iaas.quota_check does).
CREATE OR REPLACE FUNCTION iaas.quota_json(q iaas.quotas) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('tenant_id', q.tenant_id,
        'limits', json_build_object('instances', q.instances, 'vcpus', q.vcpus,
            'memory_mib', q.memory_mib, 'disk_gib', q.disk_gib, 'networks', q.networks,
            'ports', q.ports, 'security_groups', q.security_groups,
            'floating_ips', q.floating_ips),
        'usage', (SELECT json_build_object('instances', count(i.id),
                      'vcpus', coalesce(sum(i.vcpus), 0),
                      'memory_mib', coalesce(sum(i.memory_mib), 0),
                      'disk_gib', coalesce(sum(i.disk_gib), 0),
                      'networks', (SELECT count(*) FROM iaas.networks
                                   WHERE tenant_id = q.tenant_id),
                      'ports', (SELECT count(*) FROM iaas.ports WHERE tenant_id = q.tenant_id
                                AND device_owner NOT LIKE 'network:%'),
                      'security_groups', (SELECT count(*) FROM iaas.security_groups
                                          WHERE tenant_id = q.tenant_id),
                      'floating_ips', (SELECT count(*) FROM iaas.ports
                                       WHERE tenant_id = q.tenant_id
                                       AND device_owner = 'network:floatingip'))
                  FROM iaas.instances i
                  WHERE i.tenant_id = q.tenant_id AND i.state <> 'deleted'))
$$;

-- ---- compute ----

-- Seconds since the host's last heartbeat (-1: the host is disabled). The
-- list of instances caches its page until the first "up" host would turn
-- down, from the same figure (instances.c).
CREATE OR REPLACE FUNCTION iaas.host_age(n iaas.nodes) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN n.disabled THEN -1::bigint
           ELSE coalesce(extract(epoch FROM now() - n.last_heartbeat)::bigint, 2147483647) END
$$;

-- A live migration (migrate.c, migrations/0029): where it goes, how far
-- it got (the source VMM's last progress), and how it ended.
CREATE OR REPLACE FUNCTION iaas.migration_json(m iaas.migrations) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', m.id, 'instance_id', m.instance_id,
        'tenant_id', m.tenant_id, 'source_node_id', m.source_node_id,
        'source_node', m.source_node, 'dest_node_id', m.dest_node_id, 'dest_node', m.dest_node,
        'state', m.state, 'cancel_requested', m.cancel_requested,
        'max_downtime_ms', m.max_downtime_ms, 'timeout_s', m.timeout_s,
        'on_timeout', m.on_timeout, 'block_migration', m.block_migration, 'round', m.round,
        'transferred_bytes', m.transferred_bytes, 'remaining_bytes', m.remaining_bytes,
        'total_bytes', m.total_bytes, 'throttle_pct', m.throttle_pct,
        'downtime_ms', m.downtime_ms, 'total_ms', m.total_ms, 'error', m.error,
        'created_at', iaas.ts(m.created_at), 'updated_at', iaas.ts(m.updated_at),
        'finished_at', iaas.ts(m.finished_at))
$$;

-- host_status: "up", "down" (no heartbeat for down_after seconds, the
-- gateway's nodes.down_after) or "maintenance" (the host is disabled), null
-- when the instance is not placed.
CREATE OR REPLACE FUNCTION iaas.instance_json(i iaas.instances, down_after integer) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', i.id, 'tenant_id', i.tenant_id, 'name', i.name,
        'flavor_id', i.flavor_id, 'image_id', i.image_id, 'keypair_id', i.keypair_id,
        'vcpus', i.vcpus, 'memory_mib', i.memory_mib, 'disk_gib', i.disk_gib,
        'state', i.state, 'task', i.task, 'power_desired', i.power_desired,
        'node_id', i.node_id, 'fault', i.fault,
        'last_stop', i.last_stop, 'last_stop_at', iaas.ts(i.last_stop_at),
        'created_at', iaas.ts(i.created_at), 'updated_at', iaas.ts(i.updated_at),
        'server_group_id', i.server_group_id,
        'migration', (SELECT iaas.migration_json(m) FROM iaas.migrations m
                      WHERE m.instance_id = i.id AND m.finished_at IS NULL),
        'host_status', (SELECT CASE WHEN a < 0 THEN 'maintenance'
                                    WHEN a <= down_after THEN 'up' ELSE 'down' END
                        FROM (SELECT iaas.host_age(n) AS a FROM iaas.nodes n
                              WHERE n.id = i.node_id) h))
$$;

-- An instance's serial console: its text (the gateway has made it valid
-- UTF-8 and cut the tail asked for) and when the node last sent it.
CREATE OR REPLACE FUNCTION iaas.console_json(output text, updated_at timestamptz) RETURNS json
LANGUAGE sql IMMUTABLE AS $$
    SELECT json_build_object('output', output, 'updated_at', iaas.ts(updated_at))
$$;

CREATE OR REPLACE FUNCTION iaas.server_group_json(g iaas.server_groups) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', g.id, 'name', g.name, 'policy', g.policy,
        'members', coalesce((SELECT json_agg(i.id ORDER BY i.created_at) FROM iaas.instances i
                             WHERE i.server_group_id = g.id AND i.state <> 'deleted'), '[]'),
        'created_at', iaas.ts(g.created_at))
$$;

-- A node's admin view: capacity, what is reserved on it, its health
-- ("down" after down_after seconds without a heartbeat).
CREATE OR REPLACE FUNCTION iaas.node_json(n iaas.nodes, down_after integer) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', n.id, 'name', n.name, 'hostname', n.hostname,
        'agent_version', n.agent_version, 'disabled', n.disabled,
        'state', CASE WHEN n.disabled THEN 'disabled'
                      WHEN n.last_heartbeat > now() - down_after * interval '1 second' THEN 'up'
                      ELSE 'down' END,
        'capacity', json_build_object('vcpus', n.vcpus, 'memory_mib', n.memory_mib,
                                      'disk_gib', n.disk_gib, 'sriov_vfs', n.sriov_vfs,
                                      'firmware', n.firmware,
                                      'live_migration', n.live_migration,
                                      'block_migration', n.block_migration),
        'used', json_build_object('instances', u.n, 'vcpus', u.v, 'memory_mib', u.m,
                                  'disk_gib', u.d,
                                  -- one VF per direct port of an instance placed here
                                  'sriov_vfs', (SELECT count(*) FROM iaas.ports p
                                                JOIN iaas.instances i ON i.id = p.instance_id
                                                WHERE p.vnic_type = 'direct' AND i.node_id = n.id
                                                AND i.state NOT IN ('deleted', 'error'))),
        'empty', u.n = 0,
        'power_state', n.power_state, 'power_fault', n.power_fault,
        'power_since', iaas.ts(n.power_since),
        -- being emptied by the consolidation (schedrun.c): no placement until then
        'draining_until', CASE WHEN n.draining_until > now() THEN iaas.ts(n.draining_until) END,
        'tunnel_ip', host(n.tunnel_ip), 'external_uplink', n.external_uplink,
        'last_heartbeat', iaas.ts(n.last_heartbeat), 'created_at', iaas.ts(n.created_at),
        'fenced_at', iaas.ts(n.fenced_at))
    FROM (SELECT count(*) AS n, coalesce(sum(vcpus), 0) AS v, coalesce(sum(memory_mib), 0) AS m,
                 coalesce(sum(disk_gib), 0) AS d
          FROM iaas.instances WHERE node_id = n.id AND state NOT IN ('deleted', 'error')) u
$$;

-- A node just added: its view and its credential (shown this once).
CREATE OR REPLACE FUNCTION iaas.node_created_json(n iaas.nodes, down_after integer, token text)
RETURNS json LANGUAGE sql STABLE AS $$
    SELECT (iaas.node_json(n, down_after)::jsonb || jsonb_build_object('token', token))::json
$$;

-- A node's new credential (shown this once).
CREATE OR REPLACE FUNCTION iaas.node_credential_json(n iaas.nodes, token text) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', n.id, 'token', token)
$$;

-- The scheduler: its policy (iaas.settings, read by scheduler.c), the
-- gateway's sched.cpu_overcommit, how many nodes there are and are up, and
-- the nodes that run nothing.
CREATE OR REPLACE FUNCTION iaas.scheduler_json(policy text, cpu_overcommit double precision,
                                               down_after integer) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('policy', policy, 'cpu_overcommit', cpu_overcommit,
        'nodes', count(*),
        'nodes_up', count(*) FILTER (WHERE NOT n.disabled AND
                                     n.last_heartbeat > now() - down_after * interval '1 second'),
        'empty_nodes', coalesce(json_agg(n.name ORDER BY n.name) FILTER (WHERE NOT EXISTS (
                           SELECT 1 FROM iaas.instances i WHERE i.node_id = n.id
                           AND i.state NOT IN ('deleted', 'error'))), '[]'))
    FROM iaas.nodes n
$$;

-- ---- networks ----

CREATE OR REPLACE FUNCTION iaas.fixed_ips_json(pid uuid) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('subnet_id', i.subnet_id,
                                               'ip_address', host(i.ip)) ORDER BY i.ip), '[]')
    FROM iaas.port_ips i WHERE i.port_id = pid
$$;

CREATE OR REPLACE FUNCTION iaas.subnet_json(s iaas.subnets) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', s.id, 'tenant_id', s.tenant_id, 'network_id', s.network_id,
        'name', s.name, 'ip_version', 4, 'cidr', s.cidr::text,
        'gateway_ip', host(s.gateway_ip),
        'dns_nameservers', (SELECT coalesce(json_agg(host(d) ORDER BY o), '[]')
                            FROM unnest(s.dns_nameservers) WITH ORDINALITY AS x(d, o)),
        'allocation_pools', s.allocation_pools, 'host_routes', s.host_routes,
        'enable_dhcp', s.enable_dhcp,
        'created_at', iaas.ts(s.created_at), 'updated_at', iaas.ts(s.updated_at))
$$;

-- The VNI is the operator's business: shown to cloud admins only, as
-- Neutron shows provider attributes.
CREATE OR REPLACE FUNCTION iaas.network_json(n iaas.networks, admin boolean) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT (json_build_object('id', n.id, 'tenant_id', n.tenant_id, 'name', n.name,
        'mtu', n.mtu, 'shared', n.shared, 'external', n.external,
        'is_default', n.is_default, 'status', 'ACTIVE',
        'subnets', (SELECT coalesce(json_agg(s.id ORDER BY s.created_at, s.id), '[]')
                    FROM iaas.subnets s WHERE s.network_id = n.id),
        'created_at', iaas.ts(n.created_at), 'updated_at', iaas.ts(n.updated_at))::jsonb
        || CASE WHEN admin THEN jsonb_build_object('network_type', 'vxlan',
                                                   'segmentation_id', n.vni)
           ELSE '{}'::jsonb END)::json
$$;

CREATE OR REPLACE FUNCTION iaas.port_json(p iaas.ports) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', p.id, 'tenant_id', p.tenant_id, 'network_id', p.network_id,
        'name', p.name, 'mac_address', p.mac_address::text,
        'fixed_ips', (SELECT coalesce(json_agg(json_build_object('subnet_id', pi.subnet_id,
                                       'ip_address', host(pi.ip)) ORDER BY pi.ip), '[]')
                      FROM iaas.port_ips pi WHERE pi.port_id = p.id),
        'security_groups', (SELECT coalesce(json_agg(g.group_id ORDER BY g.group_id), '[]')
                            FROM iaas.port_security_groups g WHERE g.port_id = p.id),
        'instance_id', p.instance_id, 'device_owner', p.device_owner,
        'vnic_type', p.vnic_type, 'model', p.model,
        'status', CASE WHEN p.instance_id IS NULL AND p.device_owner = '' THEN 'DOWN'
                  ELSE 'ACTIVE' END,
        'created_at', iaas.ts(p.created_at), 'updated_at', iaas.ts(p.updated_at))
$$;

CREATE OR REPLACE FUNCTION iaas.sg_rule_json(r iaas.security_group_rules) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', r.id, 'tenant_id', r.tenant_id,
        'security_group_id', r.group_id, 'direction', r.direction, 'ethertype', r.ethertype,
        'protocol', r.protocol, 'port_range_min', r.port_range_min,
        'port_range_max', r.port_range_max, 'remote_ip_prefix', r.remote_ip_prefix::text,
        'remote_group_id', r.remote_group_id, 'description', r.description,
        'created_at', iaas.ts(r.created_at))
$$;

CREATE OR REPLACE FUNCTION iaas.sg_json(g iaas.security_groups) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', g.id, 'tenant_id', g.tenant_id, 'name', g.name,
        'description', g.description, 'is_default', g.is_default,
        'security_group_rules', (SELECT coalesce(json_agg(iaas.sg_rule_json(r)
                                                 ORDER BY r.created_at, r.id), '[]')
                                 FROM iaas.security_group_rules r WHERE r.group_id = g.id),
        'created_at', iaas.ts(g.created_at), 'updated_at', iaas.ts(g.updated_at))
$$;

CREATE OR REPLACE FUNCTION iaas.router_json(r iaas.routers) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', r.id, 'tenant_id', r.tenant_id, 'name', r.name,
        'status', 'ACTIVE',
        'external_gateway_info', (SELECT json_build_object('network_id', g.network_id,
                                      'enable_snat', r.enable_snat,
                                      'external_fixed_ips', iaas.fixed_ips_json(g.id))
                                  FROM iaas.ports g WHERE g.id = r.gateway_port_id),
        'interfaces', (SELECT coalesce(json_agg(json_build_object('port_id', p.id,
                           'subnet_id', a.subnet_id, 'ip_address', host(a.ip))
                           ORDER BY a.ip), '[]')
                       FROM iaas.ports p JOIN iaas.port_ips a ON a.port_id = p.id
                       WHERE p.router_id = r.id AND p.device_owner = 'network:router_interface'),
        'created_at', iaas.ts(r.created_at), 'updated_at', iaas.ts(r.updated_at))
$$;

CREATE OR REPLACE FUNCTION iaas.fip_json(f iaas.floating_ips) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', f.id, 'tenant_id', f.tenant_id,
        'floating_network_id', p.network_id,
        'floating_ip_address', (SELECT host(a.ip) FROM iaas.port_ips a WHERE a.port_id = p.id
                                LIMIT 1),
        'port_id', f.fixed_port_id, 'fixed_ip_address', host(f.fixed_ip),
        'router_id', (SELECT iaas.fip_router(f.tenant_id, p.network_id, a.subnet_id)
                      FROM iaas.port_ips a WHERE a.port_id = f.fixed_port_id
                      AND a.ip = f.fixed_ip),
        'status', CASE WHEN f.fixed_port_id IS NULL THEN 'DOWN' ELSE 'ACTIVE' END,
        'description', f.description,
        'created_at', iaas.ts(f.created_at), 'updated_at', iaas.ts(f.updated_at))
    FROM iaas.ports p WHERE p.id = f.port_id
$$;

-- An object as the API shows it, read in a statement of its own: what the
-- calling statement's functions just wrote is visible here.
CREATE OR REPLACE FUNCTION iaas.show(kind text, oid uuid) RETURNS json LANGUAGE plpgsql AS $$
BEGIN
    RETURN CASE kind
        WHEN 'port' THEN (SELECT iaas.port_json(p) FROM iaas.ports p WHERE p.id = oid)
        WHEN 'security_group' THEN (SELECT iaas.sg_json(g) FROM iaas.security_groups g
                                    WHERE g.id = oid)
        WHEN 'router' THEN (SELECT iaas.router_json(r) FROM iaas.routers r WHERE r.id = oid)
        WHEN 'floating_ip' THEN (SELECT iaas.fip_json(f) FROM iaas.floating_ips f
                                 WHERE f.id = oid)
    END;
END $$;

-- ---- a node's desired set (GET /internal/v1/nodes/self/instances) ----

-- An instance's NICs as its node gets them, in the order they were bound.
CREATE OR REPLACE FUNCTION iaas.node_ports_json(inst uuid) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('id', p.id, 'mac', p.mac_address::text,
        'network_id', p.network_id, 'model', p.model, 'vnic_type', p.vnic_type, 'mtu', n.mtu,
        'fixed_ips', iaas.fixed_ips_json(p.id)) ORDER BY p.bound_at, p.id), '[]')
    FROM iaas.ports p JOIN iaas.networks n ON n.id = p.network_id WHERE p.instance_id = inst
$$;

-- Each network with a port on node or on one of its routers: its VNI, MTU,
-- whether it is external, its subnets (with the DHCP server's address), and
-- every port of it bound on other hosts (MAC, addresses, that host's tunnel
-- address).
CREATE OR REPLACE FUNCTION iaas.node_networks_json(node uuid) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('id', n.id, 'vni', n.vni, 'mtu', n.mtu,
        'external', n.external,
        'subnets', (SELECT coalesce(json_agg(json_build_object('id', s.id,
                        'cidr', s.cidr::text, 'gateway_ip', host(s.gateway_ip),
                        'enable_dhcp', s.enable_dhcp, 'dhcp_ip', host(s.dhcp_ip),
                        'dns_nameservers', (SELECT coalesce(json_agg(host(d) ORDER BY o), '[]')
                            FROM unnest(s.dns_nameservers) WITH ORDINALITY AS x(d, o)),
                        'host_routes', s.host_routes, 'allocation_pools', s.allocation_pools)
                        ORDER BY s.created_at, s.id), '[]')
                    FROM iaas.subnets s WHERE s.network_id = n.id),
        'remote_ports', (SELECT coalesce(json_agg(json_build_object('id', b.id,
                             'mac', b.mac, 'host_id', b.host_id,
                             'tunnel_ip', host(h.tunnel_ip),
                             'fixed_ips', iaas.fixed_ips_json(b.id)) ORDER BY b.id), '[]')
                         FROM iaas.network_bound_ports(n.id) b JOIN iaas.nodes h ON h.id = b.host_id
                         WHERE b.host_id <> node))
        ORDER BY n.id), '[]')
    FROM iaas.networks n WHERE n.id IN (SELECT network_id FROM iaas.node_local_ports(node)
                                         UNION SELECT p.network_id FROM iaas.ports p
                                         JOIN iaas.routers r ON r.id = p.router_id
                                         WHERE r.host_id = node)
$$;

-- Each security group a port on node is in, or that such a group's rules
-- name: its rules, which of the node's ports are in it, and the addresses of
-- all its members (for rules naming it as remote group).
CREATE OR REPLACE FUNCTION iaas.node_groups_json(node uuid) RETURNS json
LANGUAGE sql STABLE AS $$
    WITH mine AS (SELECT g.group_id, g.port_id FROM iaas.port_security_groups g
                  WHERE g.port_id IN (SELECT id FROM iaas.node_local_ports(node))),
         wanted AS (SELECT group_id FROM mine
                    UNION SELECT r.remote_group_id FROM iaas.security_group_rules r
                    WHERE r.group_id IN (SELECT group_id FROM mine)
                    AND r.remote_group_id IS NOT NULL)
    SELECT coalesce(json_agg(json_build_object('id', w.group_id,
        'port_ids', (SELECT coalesce(json_agg(m.port_id ORDER BY m.port_id), '[]') FROM mine m
                     WHERE m.group_id = w.group_id),
        'member_ips', (SELECT coalesce(json_agg(DISTINCT host(i.ip)), '[]')
                       FROM iaas.port_security_groups g JOIN iaas.port_ips i
                       ON i.port_id = g.port_id WHERE g.group_id = w.group_id),
        'rules', (SELECT coalesce(json_agg(json_build_object('id', r.id,
                      'direction', r.direction, 'ethertype', r.ethertype,
                      'protocol', r.protocol, 'port_range_min', r.port_range_min,
                      'port_range_max', r.port_range_max,
                      'remote_ip_prefix', r.remote_ip_prefix::text,
                      'remote_group_id', r.remote_group_id) ORDER BY r.id), '[]')
                  FROM iaas.security_group_rules r WHERE r.group_id = w.group_id))
        ORDER BY w.group_id), '[]')
    FROM wanted w
$$;

-- The routers placed on node: each interface (port, network, subnet, MAC,
-- the subnet's gateway address), the gateway (its port's first address on
-- the external network) or null, enable_snat, and the floating IPs whose
-- fixed IP this router joins to the floating IP's network.
CREATE OR REPLACE FUNCTION iaas.node_routers_json(node uuid) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('id', r.id, 'enable_snat', r.enable_snat,
        'interfaces', (SELECT coalesce(json_agg(json_build_object('port_id', p.id,
                           'network_id', p.network_id, 'subnet_id', a.subnet_id,
                           'mac', p.mac_address::text, 'ip_address', host(a.ip))
                           ORDER BY p.id, a.ip), '[]')
                       FROM iaas.ports p JOIN iaas.port_ips a ON a.port_id = p.id
                       WHERE p.router_id = r.id AND p.device_owner = 'network:router_interface'),
        'gateway', (SELECT json_build_object('port_id', g.id, 'network_id', g.network_id,
                        'subnet_id', a.subnet_id, 'mac', g.mac_address::text,
                        'ip_address', host(a.ip))
                    FROM iaas.ports g JOIN iaas.port_ips a ON a.port_id = g.id
                    WHERE g.id = r.gateway_port_id ORDER BY a.ip LIMIT 1),
        'floating_ips', (SELECT coalesce(json_agg(json_build_object('id', f.id,
                             'floating_ip_address', host(fa.ip),
                             'fixed_ip_address', host(f.fixed_ip), 'port_id', f.fixed_port_id)
                             ORDER BY f.id), '[]')
                         FROM iaas.floating_ips f JOIN iaas.ports fp ON fp.id = f.port_id
                         JOIN iaas.port_ips fa ON fa.port_id = fp.id
                         JOIN iaas.port_ips xa ON xa.port_id = f.fixed_port_id
                         AND xa.ip = f.fixed_ip
                         WHERE f.tenant_id = r.tenant_id
                         AND iaas.fip_router(f.tenant_id, fp.network_id, xa.subnet_id) = r.id))
        ORDER BY r.id), '[]')
    FROM iaas.routers r WHERE r.host_id = node
$$;

-- An instance as its node runs it: what to run (generation, desired power,
-- reboot_seq; "deleted" while it is being deleted; whether the stop is forced
-- and the reboot hard; the image to snapshot its disk into, while it is
-- snapshotted), its size, image, boot data and NICs.
CREATE OR REPLACE FUNCTION iaas.node_instance_json(i iaas.instances) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', i.id, 'tenant_id', i.tenant_id,
        'name', i.name, 'generation', i.generation, 'state', i.state,
        'task', i.task, 'desired', CASE WHEN i.state = 'deleting'
                                   THEN 'deleted' ELSE i.power_desired END,
        'reboot_seq', i.reboot_seq, 'stop_force', i.stop_force, 'reboot_hard', i.reboot_hard,
        'snapshot_image_id', CASE WHEN i.task = 'image_snapshot' THEN i.snapshot_image_id END,
        'flavor', (SELECT f.name FROM iaas.flavors f WHERE f.id = i.flavor_id),
        'vcpus', i.vcpus, 'memory_mib', i.memory_mib, 'disk_gib', i.disk_gib,
        'disk_backend', i.disk_backend,
        'image_id', i.image_id, 'user_data', i.user_data,
        'ssh_public_key', (SELECT k.public_key FROM iaas.keypairs k WHERE k.id = i.keypair_id),
        'public_ipv4', (SELECT host(a.ip) FROM iaas.ports p
                        JOIN iaas.floating_ips fip ON fip.fixed_port_id = p.id
                        JOIN iaas.port_ips a ON a.port_id = fip.port_id
                        WHERE p.instance_id = i.id ORDER BY p.bound_at, p.id LIMIT 1),
        'ports', iaas.node_ports_json(i.id),
        -- on the source host, once the target listens (migrate.c): send it there
        'migration', (SELECT json_build_object('id', m.id, 'uri', m.incoming_uri,
                          'downtime_ms', m.max_downtime_ms, 'timeout_ms', m.timeout_s * 1000,
                          'on_timeout', m.on_timeout, 'cancel', m.cancel_requested,
                          'block_migration', m.block_migration)
                      FROM iaas.migrations m WHERE m.instance_id = i.id
                      AND m.finished_at IS NULL AND m.state = 'migrating'
                      AND m.source_node_id = i.node_id))
$$;

-- The desired set of node: the instances it should run (not deleted, not
-- failed), and the networks, security groups and routers they need there.
CREATE OR REPLACE FUNCTION iaas.node_desired_json(node uuid) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'instances', (SELECT coalesce(json_agg(iaas.node_instance_json(i) ORDER BY i.created_at),
                                      '[]')
                      FROM iaas.instances i
                      WHERE i.node_id = node AND i.state NOT IN ('deleted', 'error')),
        'networks', iaas.node_networks_json(node),
        'security_groups', iaas.node_groups_json(node),
        'routers', iaas.node_routers_json(node),
        -- instances migrating to this node (migrate.c): start each as
        -- incoming and report where it listens; gone only when it ended (a
        -- cancel asked for may still meet a source that completed)
        'incoming', (SELECT coalesce(json_agg(json_build_object('migration_id', m.id,
                                                                'instance', iaas.node_instance_json(i))
                                              ORDER BY m.created_at), '[]')
                     FROM iaas.migrations m JOIN iaas.instances i ON i.id = m.instance_id
                     WHERE m.dest_node_id = node AND m.finished_at IS NULL),
        -- instances evacuated from this node (migrations/0027) whose leftovers
        -- it has not confirmed removing; never one placed here again
        'evacuated', (SELECT coalesce(json_agg(e.instance_id ORDER BY e.instance_id), '[]')
                      FROM iaas.evacuations e WHERE e.source_node_id = node
                      AND e.cleaned_at IS NULL AND NOT EXISTS (SELECT 1 FROM iaas.instances i
                       WHERE i.id = e.instance_id AND i.node_id = node)))
$$;
