-- Tenant networks, as a tenant of OpenStack Neutron knows them: networks
-- (one VXLAN VNI each), IPv4 subnets, ports (a MAC and fixed IPs), security
-- groups and their rules, and the quotas that bound them (network.c,
-- ports.c, secgroups.c).
--
-- Every write is one statement calling one of the functions below, so it is
-- one transaction and its rules hold whoever calls it. The functions refuse
-- with SQLSTATE SX400 (bad input), SX403 (only the cloud admin), SX404 (not
-- found, or another tenant's), SX409 (conflict) and SXQ09 (over quota); the
-- gateway maps them to HTTP and the message to the client (network.c).
--
-- Invariants:
--  * a VNI is never held by two networks (UNIQUE), and comes from a
--    sequence, so concurrent creates never collide and a freed VNI comes back
--    only after all 16M have been handed out;
--  * an address is held once per subnet (port_ips' primary key); automatic
--    allocation runs under the subnet's row lock and starts after the last
--    address it handed out, so a freed address is reused only once the
--    cursor has gone round the whole pool;
--  * a MAC is held by one port (UNIQUE), always in fa:16:3e:00:00:00/24;
--  * quotas are checked with the tenant's quota row locked FOR UPDATE and
--    usage counted from the rows themselves, as for instances (0002);
--  * another tenant's objects are "not found" (SX404), exactly like an id
--    that never existed, except a network its owner marked shared (ports
--    may join it) or external (routers and floating IPs may use it).
ALTER TABLE iaas.nodes ADD COLUMN tunnel_ip inet CHECK (family(tunnel_ip) = 4);
ALTER TABLE iaas.quotas
    ADD COLUMN networks        integer NOT NULL DEFAULT 10 CHECK (networks >= 0),
    ADD COLUMN ports           integer NOT NULL DEFAULT 50 CHECK (ports >= 0),
    ADD COLUMN security_groups integer NOT NULL DEFAULT 10 CHECK (security_groups >= 0),
    ADD COLUMN floating_ips    integer NOT NULL DEFAULT 10 CHECK (floating_ips >= 0);

CREATE SEQUENCE iaas.network_vni MINVALUE 1 MAXVALUE 16777215 CYCLE;

CREATE TABLE iaas.networks (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES iaas.tenants(id) ON DELETE CASCADE,
    name       text NOT NULL DEFAULT '' CHECK (length(name) <= 255),
    vni        integer NOT NULL UNIQUE CHECK (vni BETWEEN 1 AND 16777215),
    -- 1450: a 1500-byte underlay less VXLAN's 50 bytes of headers
    mtu        integer NOT NULL DEFAULT 1450 CHECK (mtu BETWEEN 68 AND 1450),
    shared     boolean NOT NULL DEFAULT false,
    external   boolean NOT NULL DEFAULT false,
    is_default boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX networks_tenant ON iaas.networks (tenant_id);
CREATE UNIQUE INDEX networks_default ON iaas.networks (tenant_id) WHERE is_default;

CREATE TABLE iaas.subnets (
    id               uuid PRIMARY KEY,
    network_id       uuid NOT NULL REFERENCES iaas.networks(id) ON DELETE CASCADE,
    tenant_id        uuid NOT NULL REFERENCES iaas.tenants(id) ON DELETE CASCADE,
    name             text NOT NULL DEFAULT '' CHECK (length(name) <= 255),
    -- /16 at most: automatic allocation walks the pool
    cidr             cidr NOT NULL CHECK (family(cidr) = 4 AND masklen(cidr) BETWEEN 16 AND 30),
    gateway_ip       inet,
    dns_nameservers  inet[] NOT NULL DEFAULT '{}',
    host_routes      jsonb NOT NULL DEFAULT '[]',  -- [{"destination": cidr, "nexthop": ip}]
    allocation_pools jsonb NOT NULL,               -- [{"start": ip, "end": ip}], disjoint
    enable_dhcp      boolean NOT NULL DEFAULT true,
    last_ip          inet,                         -- the allocation cursor
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subnets_network ON iaas.subnets (network_id);

CREATE TABLE iaas.security_groups (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES iaas.tenants(id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 255),
    is_default  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX security_groups_tenant ON iaas.security_groups (tenant_id);
CREATE UNIQUE INDEX security_groups_default ON iaas.security_groups (tenant_id) WHERE is_default;

CREATE TABLE iaas.security_group_rules (
    id               uuid PRIMARY KEY,
    group_id         uuid NOT NULL REFERENCES iaas.security_groups(id) ON DELETE CASCADE,
    tenant_id        uuid NOT NULL REFERENCES iaas.tenants(id) ON DELETE CASCADE,
    direction        text NOT NULL CHECK (direction IN ('ingress', 'egress')),
    ethertype        text NOT NULL CHECK (ethertype IN ('IPv4', 'IPv6')),
    protocol         text,        -- NULL: any; tcp, udp, icmp, icmpv6 or a number 0-255
    port_range_min   integer,     -- for icmp: the type
    port_range_max   integer,     -- for icmp: the code
    remote_ip_prefix cidr,
    remote_group_id  uuid REFERENCES iaas.security_groups(id) ON DELETE CASCADE,
    description      text NOT NULL DEFAULT '' CHECK (length(description) <= 255),
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (remote_ip_prefix IS NULL OR remote_group_id IS NULL)
);
CREATE UNIQUE INDEX security_group_rules_same ON iaas.security_group_rules
    (group_id, direction, ethertype, coalesce(protocol, ''), coalesce(port_range_min, -1),
     coalesce(port_range_max, -1), coalesce(remote_ip_prefix::text, ''),
     coalesce(remote_group_id::text, ''));
CREATE INDEX security_group_rules_remote ON iaas.security_group_rules (remote_group_id)
    WHERE remote_group_id IS NOT NULL;

CREATE TABLE iaas.ports (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES iaas.tenants(id) ON DELETE CASCADE,
    network_id   uuid NOT NULL REFERENCES iaas.networks(id),
    name         text NOT NULL DEFAULT '' CHECK (length(name) <= 255),
    mac_address  macaddr NOT NULL UNIQUE,
    instance_id  uuid REFERENCES iaas.instances(id) ON DELETE SET NULL,
    -- made by an instance's create or attach: deleted when it leaves it
    auto_delete  boolean NOT NULL DEFAULT false,
    -- '' (a tenant's port), 'compute:stratus' (bound to an instance),
    -- 'network:router_interface', 'network:router_gateway', 'network:floatingip'
    device_owner text NOT NULL DEFAULT '',
    -- when it was bound to its instance: the guest sees NICs in this order
    bound_at     timestamptz,
    vnic_type    text NOT NULL DEFAULT 'virtio' CHECK (vnic_type IN ('virtio', 'direct')),
    model        text NOT NULL DEFAULT 'virtio' CHECK (model IN ('virtio')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ports_tenant ON iaas.ports (tenant_id, created_at, id);
CREATE INDEX ports_network ON iaas.ports (network_id);
CREATE INDEX ports_instance ON iaas.ports (instance_id) WHERE instance_id IS NOT NULL;

CREATE TABLE iaas.port_ips (
    subnet_id uuid NOT NULL REFERENCES iaas.subnets(id),
    ip        inet NOT NULL CHECK (family(ip) = 4 AND masklen(ip) = 32),
    port_id   uuid NOT NULL REFERENCES iaas.ports(id) ON DELETE CASCADE,
    PRIMARY KEY (subnet_id, ip),
    UNIQUE (port_id, ip)
);

CREATE TABLE iaas.port_security_groups (
    port_id  uuid NOT NULL REFERENCES iaas.ports(id) ON DELETE CASCADE,
    group_id uuid NOT NULL REFERENCES iaas.security_groups(id),
    PRIMARY KEY (port_id, group_id)
);
CREATE INDEX port_security_groups_group ON iaas.port_security_groups (group_id);

-- ---- helpers ----

CREATE FUNCTION iaas.fail(code text, msg text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = code, MESSAGE = msg;
END $$;

-- An IPv4 host address from JSON text, or SX400 naming the field.
CREATE FUNCTION iaas.ip4(v text, field text) RETURNS inet LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE a inet;
BEGIN
    IF v IS NULL OR v !~ '^[0-9]{1,3}(\.[0-9]{1,3}){3}$' THEN
        PERFORM iaas.fail('SX400', format('%s must be an IPv4 address', field));
    END IF;
    BEGIN
        a := v::inet;
    EXCEPTION WHEN others THEN
        PERFORM iaas.fail('SX400', format('%s must be an IPv4 address', field));
    END;
    RETURN a;
END $$;

-- An IPv4 or IPv6 network in CIDR form, or SX400.
CREATE FUNCTION iaas.to_cidr(v text, field text) RETURNS cidr LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE c cidr;
BEGIN
    IF v IS NULL OR v !~ '^[0-9a-fA-F:.]+/[0-9]{1,3}$' THEN
        PERFORM iaas.fail('SX400', format('%s must be a network in CIDR form (10.0.0.0/24)',
                                          field));
    END IF;
    BEGIN
        c := v::cidr;
    EXCEPTION WHEN others THEN
        PERFORM iaas.fail('SX400', format('%s must be a network in CIDR form with no host'
                                          ' bits set (10.0.0.0/24)', field));
    END;
    RETURN c;
END $$;

CREATE FUNCTION iaas.to_uuid(v text, field text) RETURNS uuid LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF v IS NULL OR v !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        PERFORM iaas.fail('SX400', format('%s must be an id', field));
    END IF;
    RETURN v::uuid;
END $$;

-- The JSON value at key, typed, or SX400; NULL when absent.
CREATE FUNCTION iaas.jarr(b jsonb, key text, maxn int) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF NOT b ? key OR b->key = 'null'::jsonb THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(b->key) <> 'array' OR jsonb_array_length(b->key) > maxn THEN
        PERFORM iaas.fail('SX400', format('%s must be an array of at most %s items', key, maxn));
    END IF;
    RETURN b->key;
END $$;

CREATE FUNCTION iaas.jstr(b jsonb, key text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF NOT b ? key OR b->key = 'null'::jsonb THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(b->key) <> 'string' THEN
        PERFORM iaas.fail('SX400', format('%s must be a string', key));
    END IF;
    RETURN b->>key;
END $$;

-- Locks the tenant's quota row and refuses when one more `what` would go
-- over its limit; `used` is counted after the lock is held.
CREATE FUNCTION iaas.quota_check(t uuid, what text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE lim bigint; used bigint;
BEGIN
    EXECUTE format('SELECT %I FROM iaas.quotas WHERE tenant_id = $1 FOR UPDATE', what)
        INTO lim USING t;
    used := CASE what
        WHEN 'networks' THEN (SELECT count(*) FROM iaas.networks WHERE tenant_id = t)
        WHEN 'ports' THEN (SELECT count(*) FROM iaas.ports WHERE tenant_id = t
                           AND device_owner NOT LIKE 'network:%')
        WHEN 'security_groups' THEN (SELECT count(*) FROM iaas.security_groups
                                     WHERE tenant_id = t)
        WHEN 'floating_ips' THEN (SELECT count(*) FROM iaas.ports WHERE tenant_id = t
                                  AND device_owner = 'network:floatingip')
    END;
    IF used + 1 > coalesce(lim, 0) THEN
        RAISE EXCEPTION USING ERRCODE = 'SXQ09',
            MESSAGE = format('quota exceeded: %s %s used of %s', used,
                             replace(what, '_', ' '), coalesce(lim, 0));
    END IF;
END $$;

-- ---- JSON views ----

CREATE FUNCTION iaas.subnet_json(s iaas.subnets) RETURNS json LANGUAGE sql STABLE AS $$
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
CREATE FUNCTION iaas.network_json(n iaas.networks, admin boolean) RETURNS json
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

CREATE FUNCTION iaas.port_json(p iaas.ports) RETURNS json LANGUAGE sql STABLE AS $$
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

CREATE FUNCTION iaas.sg_rule_json(r iaas.security_group_rules) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', r.id, 'tenant_id', r.tenant_id,
        'security_group_id', r.group_id, 'direction', r.direction, 'ethertype', r.ethertype,
        'protocol', r.protocol, 'port_range_min', r.port_range_min,
        'port_range_max', r.port_range_max, 'remote_ip_prefix', r.remote_ip_prefix::text,
        'remote_group_id', r.remote_group_id, 'description', r.description,
        'created_at', iaas.ts(r.created_at))
$$;

CREATE FUNCTION iaas.sg_json(g iaas.security_groups) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', g.id, 'tenant_id', g.tenant_id, 'name', g.name,
        'description', g.description, 'is_default', g.is_default,
        'security_group_rules', (SELECT coalesce(json_agg(iaas.sg_rule_json(r)
                                                 ORDER BY r.created_at, r.id), '[]')
                                 FROM iaas.security_group_rules r WHERE r.group_id = g.id),
        'created_at', iaas.ts(g.created_at), 'updated_at', iaas.ts(g.updated_at))
$$;

-- ---- networks ----

-- A network the tenant may use: its own, or (for ports) a shared one, or
-- (for routers and floating IPs) an external one. Locked FOR SHARE so it
-- cannot be deleted or unshared under the caller.
CREATE FUNCTION iaas.network_usable(t uuid, nid uuid, for_external boolean)
RETURNS iaas.networks LANGUAGE plpgsql AS $$
DECLARE n iaas.networks;
BEGIN
    SELECT * INTO n FROM iaas.networks WHERE id = nid
        AND (tenant_id = t OR shared OR (for_external AND external)) FOR SHARE;
    IF n.id IS NULL THEN
        PERFORM iaas.fail('SX404', 'no such network');
    END IF;
    RETURN n;
END $$;

CREATE FUNCTION iaas.network_create(t uuid, admin boolean, b jsonb, is_def boolean)
RETURNS iaas.networks LANGUAGE plpgsql AS $$
DECLARE n iaas.networks; v integer;
BEGIN
    IF (coalesce((b->>'shared')::boolean, false) OR coalesce((b->>'external')::boolean, false))
       AND NOT admin THEN
        PERFORM iaas.fail('SX403', 'only a cloud administrator may make a network shared or external');
    END IF;
    PERFORM iaas.quota_check(t, 'networks');
    -- a VNI someone still holds (after the sequence cycled) is skipped
    LOOP
        v := nextval('iaas.network_vni');
        EXIT WHEN NOT EXISTS (SELECT 1 FROM iaas.networks WHERE vni = v);
    END LOOP;
    INSERT INTO iaas.networks (id, tenant_id, name, vni, mtu, shared, external, is_default)
        VALUES (gen_random_uuid(), t, coalesce(b->>'name', ''), v,
                coalesce((b->>'mtu')::int, 1450), coalesce((b->>'shared')::boolean, false),
                coalesce((b->>'external')::boolean, false), is_def)
        RETURNING * INTO n;
    RETURN n;
END $$;

CREATE FUNCTION iaas.network_update(t uuid, admin boolean, nid uuid, b jsonb)
RETURNS iaas.networks LANGUAGE plpgsql AS $$
DECLARE n iaas.networks;
BEGIN
    -- the cloud admin may change any tenant's network (to share it, say)
    SELECT * INTO n FROM iaas.networks WHERE id = nid AND (tenant_id = t OR admin) FOR UPDATE;
    IF n.id IS NULL THEN
        PERFORM iaas.fail('SX404', 'no such network');
    END IF;
    IF (b ? 'shared' OR b ? 'external') AND NOT admin THEN
        PERFORM iaas.fail('SX403', 'only a cloud administrator may make a network shared or external');
    END IF;
    IF n.shared AND NOT coalesce((b->>'shared')::boolean, true)
       AND EXISTS (SELECT 1 FROM iaas.ports WHERE network_id = nid AND tenant_id <> n.tenant_id
                   AND device_owner NOT IN ('network:router_gateway', 'network:floatingip')) THEN
        PERFORM iaas.fail('SX409', 'other tenants have ports on this network: it stays shared');
    END IF;
    IF n.external AND NOT coalesce((b->>'external')::boolean, true)
       AND EXISTS (SELECT 1 FROM iaas.ports WHERE network_id = nid
                   AND device_owner IN ('network:router_gateway', 'network:floatingip')) THEN
        PERFORM iaas.fail('SX409', 'routers or floating IPs use this network: it stays external');
    END IF;
    UPDATE iaas.networks SET name = coalesce(b->>'name', name),
        mtu = coalesce((b->>'mtu')::int, mtu),
        shared = coalesce((b->>'shared')::boolean, shared),
        external = coalesce((b->>'external')::boolean, external), updated_at = now()
        WHERE id = nid RETURNING * INTO n;
    RETURN n;
END $$;

CREATE FUNCTION iaas.network_delete(t uuid, nid uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM iaas.networks WHERE id = nid AND tenant_id = t FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM iaas.fail('SX404', 'no such network');
    END IF;
    IF EXISTS (SELECT 1 FROM iaas.ports WHERE network_id = nid) THEN
        PERFORM iaas.fail('SX409', 'the network has ports: delete them (and detach routers) first');
    END IF;
    DELETE FROM iaas.networks WHERE id = nid;
END $$;

-- ---- subnets ----

-- Validates and normalises a subnet's pools: [{"start","end"}] inside the
-- CIDR, not its network or broadcast address, not the gateway, disjoint.
CREATE FUNCTION iaas.subnet_pools(c cidr, gw inet, pools jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE p jsonb; s inet; e inet; out jsonb := '[]'; prev inet;
BEGIN
    IF pools IS NULL THEN
        -- every host address but the gateway's
        s := host(c)::inet + 1;
        e := host(broadcast(c))::inet - 1;
        IF gw IS NULL OR gw < s OR gw > e THEN
            RETURN jsonb_build_array(jsonb_build_object('start', host(s), 'end', host(e)));
        END IF;
        IF gw > s THEN
            out := out || jsonb_build_object('start', host(s), 'end', host(gw - 1));
        END IF;
        IF gw < e THEN
            out := out || jsonb_build_object('start', host(gw + 1), 'end', host(e));
        END IF;
        RETURN out;
    END IF;
    IF jsonb_array_length(pools) = 0 THEN
        PERFORM iaas.fail('SX400', 'allocation_pools must not be empty');
    END IF;
    FOR p IN SELECT x FROM jsonb_array_elements(pools) x
             ORDER BY iaas.ip4(x->>'start', 'allocation_pools[].start') LOOP
        IF jsonb_typeof(p) <> 'object' OR (SELECT count(*) FROM jsonb_object_keys(p) k
                                          WHERE k NOT IN ('start', 'end')) > 0 THEN
            PERFORM iaas.fail('SX400', 'allocation_pools holds objects {"start", "end"}');
        END IF;
        s := iaas.ip4(p->>'start', 'allocation_pools[].start');
        e := iaas.ip4(p->>'end', 'allocation_pools[].end');
        IF NOT (s << c AND e << c) OR s = host(c)::inet OR e = host(broadcast(c))::inet THEN
            PERFORM iaas.fail('SX400', format('allocation pool %s-%s is not within %s''s host'
                                              ' addresses', host(s), host(e), c));
        END IF;
        IF s > e THEN
            PERFORM iaas.fail('SX400', format('allocation pool %s-%s ends before it starts',
                                              host(s), host(e)));
        END IF;
        IF gw IS NOT NULL AND gw >= s AND gw <= e THEN
            PERFORM iaas.fail('SX400', format('the gateway %s is inside allocation pool %s-%s',
                                              host(gw), host(s), host(e)));
        END IF;
        IF prev IS NOT NULL AND s <= prev THEN
            PERFORM iaas.fail('SX400', 'allocation pools overlap');
        END IF;
        prev := e;
        out := out || jsonb_build_object('start', host(s), 'end', host(e));
    END LOOP;
    RETURN out;
END $$;

CREATE FUNCTION iaas.subnet_dns(b jsonb) RETURNS inet[] LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE a jsonb := iaas.jarr(b, 'dns_nameservers', 5); r inet[] := '{}'; x jsonb; ip inet;
BEGIN
    FOR x IN SELECT * FROM jsonb_array_elements(coalesce(a, '[]')) LOOP
        ip := iaas.ip4(CASE WHEN jsonb_typeof(x) = 'string' THEN x #>> '{}' END,
                       'dns_nameservers[]');
        IF ip = ANY(r) THEN
            PERFORM iaas.fail('SX400', format('dns server %s is listed twice', host(ip)));
        END IF;
        r := r || ip;
    END LOOP;
    RETURN r;
END $$;

CREATE FUNCTION iaas.subnet_routes(b jsonb) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE a jsonb := iaas.jarr(b, 'host_routes', 20); out jsonb := '[]'; x jsonb; d cidr; h inet;
BEGIN
    FOR x IN SELECT * FROM jsonb_array_elements(coalesce(a, '[]')) LOOP
        IF jsonb_typeof(x) <> 'object' OR (SELECT count(*) FROM jsonb_object_keys(x) k
                                          WHERE k NOT IN ('destination', 'nexthop')) > 0 THEN
            PERFORM iaas.fail('SX400', 'host_routes holds objects {"destination", "nexthop"}');
        END IF;
        d := iaas.to_cidr(x->>'destination', 'host_routes[].destination');
        IF family(d) <> 4 THEN
            PERFORM iaas.fail('SX400', 'host_routes[].destination must be an IPv4 network');
        END IF;
        h := iaas.ip4(x->>'nexthop', 'host_routes[].nexthop');
        IF out @> jsonb_build_array(jsonb_build_object('destination', d::text)) THEN
            PERFORM iaas.fail('SX400', format('two host routes for %s', d));
        END IF;
        out := out || jsonb_build_object('destination', d::text, 'nexthop', host(h));
    END LOOP;
    RETURN out;
END $$;

CREATE FUNCTION iaas.subnet_create(t uuid, b jsonb) RETURNS iaas.subnets
LANGUAGE plpgsql AS $$
DECLARE n iaas.networks; c cidr; gw inet; s iaas.subnets; o text;
BEGIN
    SELECT * INTO n FROM iaas.networks
        WHERE id = iaas.to_uuid(b->>'network_id', 'network_id') AND tenant_id = t FOR UPDATE;
    IF n.id IS NULL THEN
        PERFORM iaas.fail('SX404', 'no such network');
    END IF;
    IF coalesce(b->>'ip_version', '4') <> '4' THEN
        PERFORM iaas.fail('SX400', 'ip_version must be 4');
    END IF;
    c := iaas.to_cidr(iaas.jstr(b, 'cidr'), 'cidr');
    IF family(c) <> 4 OR masklen(c) NOT BETWEEN 16 AND 30 THEN
        PERFORM iaas.fail('SX400', 'cidr must be an IPv4 network from /16 to /30');
    END IF;
    -- under the network's row lock: two creates cannot both pass this
    SELECT s2.cidr::text INTO o FROM iaas.subnets s2 WHERE s2.network_id = n.id AND s2.cidr && c;
    IF o IS NOT NULL THEN
        PERFORM iaas.fail('SX400', format('%s overlaps subnet %s on this network', c, o));
    END IF;
    IF NOT b ? 'gateway_ip' THEN
        gw := host(c)::inet + 1;
    ELSIF b->'gateway_ip' <> 'null'::jsonb THEN
        gw := iaas.ip4(iaas.jstr(b, 'gateway_ip'), 'gateway_ip');
        IF NOT gw << c OR gw = host(c)::inet OR gw = host(broadcast(c))::inet THEN
            PERFORM iaas.fail('SX400', format('gateway_ip %s is not a host address of %s',
                                              host(gw), c));
        END IF;
    END IF;
    INSERT INTO iaas.subnets (id, network_id, tenant_id, name, cidr, gateway_ip,
                              dns_nameservers, host_routes, allocation_pools, enable_dhcp)
        VALUES (gen_random_uuid(), n.id, t, coalesce(b->>'name', ''), c, gw,
                iaas.subnet_dns(b), iaas.subnet_routes(b),
                iaas.subnet_pools(c, gw, iaas.jarr(b, 'allocation_pools', 16)),
                coalesce((b->>'enable_dhcp')::boolean, true))
        RETURNING * INTO s;
    RETURN s;
END $$;

CREATE FUNCTION iaas.subnet_update(t uuid, sid uuid, b jsonb) RETURNS iaas.subnets
LANGUAGE plpgsql AS $$
DECLARE s iaas.subnets;
BEGIN
    UPDATE iaas.subnets SET name = coalesce(b->>'name', name),
        dns_nameservers = CASE WHEN b ? 'dns_nameservers' THEN iaas.subnet_dns(b)
                          ELSE dns_nameservers END,
        host_routes = CASE WHEN b ? 'host_routes' THEN iaas.subnet_routes(b) ELSE host_routes END,
        enable_dhcp = coalesce((b->>'enable_dhcp')::boolean, enable_dhcp), updated_at = now()
        WHERE id = sid AND tenant_id = t RETURNING * INTO s;
    IF s.id IS NULL THEN
        PERFORM iaas.fail('SX404', 'no such subnet');
    END IF;
    RETURN s;
END $$;

CREATE FUNCTION iaas.subnet_delete(t uuid, sid uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM iaas.subnets WHERE id = sid AND tenant_id = t FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM iaas.fail('SX404', 'no such subnet');
    END IF;
    IF EXISTS (SELECT 1 FROM iaas.port_ips WHERE subnet_id = sid) THEN
        PERFORM iaas.fail('SX409', 'ports (or a router interface) hold addresses in this subnet');
    END IF;
    DELETE FROM iaas.subnets WHERE id = sid;
END $$;

-- ---- addresses ----

-- The next free address of subnet sid's pools after its cursor (wrapping
-- round to the start), under the subnet's row lock; moves the cursor.
CREATE FUNCTION iaas.subnet_next_ip(sid uuid) RETURNS inet LANGUAGE plpgsql AS $$
DECLARE s iaas.subnets; a inet;
BEGIN
    SELECT * INTO s FROM iaas.subnets WHERE id = sid FOR UPDATE;
    SELECT x.ip INTO a FROM (
        SELECT (p->>'start')::inet + g AS ip
        FROM jsonb_array_elements(s.allocation_pools) p,
             generate_series(0::bigint, (p->>'end')::inet - (p->>'start')::inet) g) x
    WHERE NOT EXISTS (SELECT 1 FROM iaas.port_ips pi WHERE pi.subnet_id = sid AND pi.ip = x.ip)
    ORDER BY x.ip <= coalesce(s.last_ip, '0.0.0.0'::inet), x.ip
    LIMIT 1;
    IF a IS NULL THEN
        PERFORM iaas.fail('SX409', format('no free address left in subnet %s', s.cidr));
    END IF;
    UPDATE iaas.subnets SET last_ip = a WHERE id = sid;
    RETURN a;
END $$;

-- Gives port pid its fixed IPs on network nid: ips is the request's
-- fixed_ips ([{"subnet_id"?, "ip_address"?}]) or NULL for one address from
-- the first subnet with room.
CREATE FUNCTION iaas.port_assign_ips(pid uuid, nid uuid, ips jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE x jsonb; sid uuid; s iaas.subnets; a inet;
BEGIN
    IF ips IS NULL THEN
        FOR s IN SELECT * FROM iaas.subnets WHERE network_id = nid ORDER BY created_at, id LOOP
            BEGIN
                INSERT INTO iaas.port_ips VALUES (s.id, iaas.subnet_next_ip(s.id), pid);
                RETURN;
            EXCEPTION WHEN SQLSTATE 'SX409' THEN
                -- full: try the next subnet
            END;
        END LOOP;
        IF EXISTS (SELECT 1 FROM iaas.subnets WHERE network_id = nid) THEN
            PERFORM iaas.fail('SX409', 'no free address left on the network');
        END IF;
        RETURN;
    END IF;
    FOR x IN SELECT * FROM jsonb_array_elements(ips) LOOP
        IF jsonb_typeof(x) <> 'object' OR (SELECT count(*) FROM jsonb_object_keys(x) k
                                          WHERE k NOT IN ('subnet_id', 'ip_address')) > 0
           OR NOT (x ? 'subnet_id' OR x ? 'ip_address') THEN
            PERFORM iaas.fail('SX400', 'fixed_ips holds objects {"subnet_id", "ip_address"}');
        END IF;
        a := CASE WHEN x ? 'ip_address' THEN iaas.ip4(x->>'ip_address', 'fixed_ips[].ip_address')
             END;
        IF x ? 'subnet_id' THEN
            sid := iaas.to_uuid(x->>'subnet_id', 'fixed_ips[].subnet_id');
            SELECT * INTO s FROM iaas.subnets WHERE id = sid AND network_id = nid;
        ELSE
            SELECT * INTO s FROM iaas.subnets WHERE network_id = nid AND a << cidr;
        END IF;
        IF s.id IS NULL THEN
            PERFORM iaas.fail('SX400', CASE WHEN x ? 'subnet_id'
                THEN 'fixed_ips names a subnet that is not on the port''s network'
                ELSE format('no subnet of the network holds %s', host(a)) END);
        END IF;
        IF a IS NULL THEN
            a := iaas.subnet_next_ip(s.id);
        ELSIF NOT a << s.cidr OR a = host(s.cidr)::inet OR a = host(broadcast(s.cidr))::inet THEN
            PERFORM iaas.fail('SX400', format('%s is not a host address of subnet %s',
                                              host(a), s.cidr));
        END IF;
        BEGIN
            INSERT INTO iaas.port_ips VALUES (s.id, a, pid);
        EXCEPTION WHEN unique_violation THEN
            PERFORM iaas.fail('SX409', format('address %s is already allocated in subnet %s',
                                              host(a), s.cidr));
        END;
    END LOOP;
END $$;

-- ---- security groups ----

-- The tenant's "default" group, made on first use: all egress, ingress
-- only from members of the group. Concurrent first uses make one.
CREATE FUNCTION iaas.sg_default(t uuid) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE g uuid;
BEGIN
    SELECT id INTO g FROM iaas.security_groups WHERE tenant_id = t AND is_default;
    IF g IS NOT NULL THEN
        RETURN g;
    END IF;
    INSERT INTO iaas.security_groups (id, tenant_id, name, description, is_default)
        VALUES (gen_random_uuid(), t, 'default', 'Default security group', true)
        ON CONFLICT (tenant_id) WHERE is_default DO NOTHING RETURNING id INTO g;
    IF g IS NULL THEN
        -- another transaction made it first (and has committed)
        SELECT id INTO g FROM iaas.security_groups WHERE tenant_id = t AND is_default;
        RETURN g;
    END IF;
    INSERT INTO iaas.security_group_rules (id, group_id, tenant_id, direction, ethertype,
                                           remote_group_id)
        VALUES (gen_random_uuid(), g, t, 'egress', 'IPv4', NULL),
               (gen_random_uuid(), g, t, 'egress', 'IPv6', NULL),
               (gen_random_uuid(), g, t, 'ingress', 'IPv4', g),
               (gen_random_uuid(), g, t, 'ingress', 'IPv6', g);
    RETURN g;
END $$;

CREATE FUNCTION iaas.sg_rule_create(t uuid, b jsonb) RETURNS iaas.security_group_rules
LANGUAGE plpgsql AS $$
DECLARE g uuid; proto text := lower(iaas.jstr(b, 'protocol')); eth text; lo int; hi int;
        pfx cidr; rg uuid; r iaas.security_group_rules;
BEGIN
    SELECT id INTO g FROM iaas.security_groups
        WHERE id = iaas.to_uuid(b->>'security_group_id', 'security_group_id') AND tenant_id = t
        FOR UPDATE;
    IF g IS NULL THEN
        PERFORM iaas.fail('SX404', 'no such security group');
    END IF;
    IF coalesce(b->>'direction', '') NOT IN ('ingress', 'egress') THEN
        PERFORM iaas.fail('SX400', 'direction must be ingress or egress');
    END IF;
    eth := coalesce(b->>'ethertype', 'IPv4');
    IF eth NOT IN ('IPv4', 'IPv6') THEN
        PERFORM iaas.fail('SX400', 'ethertype must be IPv4 or IPv6');
    END IF;
    IF proto = 'any' THEN
        proto := NULL;
    END IF;
    IF proto IS NOT NULL AND proto NOT IN ('tcp', 'udp', 'icmp', 'icmpv6')
       AND (proto !~ '^[0-9]{1,3}$' OR proto::int > 255) THEN
        PERFORM iaas.fail('SX400', 'protocol must be tcp, udp, icmp, icmpv6, a number 0-255 or null');
    END IF;
    lo := (b->>'port_range_min')::int;
    hi := (b->>'port_range_max')::int;
    IF (lo IS NOT NULL OR hi IS NOT NULL) THEN
        IF proto IN ('tcp', 'udp') THEN
            IF lo IS NULL OR hi IS NULL OR lo NOT BETWEEN 1 AND 65535
               OR hi NOT BETWEEN 1 AND 65535 OR lo > hi THEN
                PERFORM iaas.fail('SX400', 'port_range_min and port_range_max must be ports'
                                           ' 1-65535, min <= max');
            END IF;
        ELSIF proto IN ('icmp', 'icmpv6') THEN
            IF lo IS NULL OR lo NOT BETWEEN 0 AND 255 OR coalesce(hi, 0) NOT BETWEEN 0 AND 255 THEN
                PERFORM iaas.fail('SX400', 'for icmp, port_range_min is the type (0-255) and'
                                           ' port_range_max the code (0-255)');
            END IF;
        ELSE
            PERFORM iaas.fail('SX400', 'port ranges need protocol tcp, udp or icmp');
        END IF;
    END IF;
    IF b ? 'remote_ip_prefix' AND b->'remote_ip_prefix' <> 'null'::jsonb THEN
        pfx := iaas.to_cidr(iaas.jstr(b, 'remote_ip_prefix'), 'remote_ip_prefix');
        IF (family(pfx) = 4) <> (eth = 'IPv4') THEN
            PERFORM iaas.fail('SX400', format('remote_ip_prefix %s is not an %s network', pfx, eth));
        END IF;
    END IF;
    IF b ? 'remote_group_id' AND b->'remote_group_id' <> 'null'::jsonb THEN
        IF pfx IS NOT NULL THEN
            PERFORM iaas.fail('SX400', 'give remote_ip_prefix or remote_group_id, not both');
        END IF;
        SELECT id INTO rg FROM iaas.security_groups
            WHERE id = iaas.to_uuid(b->>'remote_group_id', 'remote_group_id') AND tenant_id = t;
        IF rg IS NULL THEN
            PERFORM iaas.fail('SX400', 'remote_group_id names no security group of yours');
        END IF;
    END IF;
    BEGIN
        INSERT INTO iaas.security_group_rules (id, group_id, tenant_id, direction, ethertype,
                protocol, port_range_min, port_range_max, remote_ip_prefix, remote_group_id,
                description)
            VALUES (gen_random_uuid(), g, t, b->>'direction', eth, proto, lo, hi, pfx, rg,
                    coalesce(b->>'description', ''))
            RETURNING * INTO r;
    EXCEPTION WHEN unique_violation THEN
        PERFORM iaas.fail('SX409', 'the group already has this rule');
    END;
    UPDATE iaas.security_groups SET updated_at = now() WHERE id = g;
    RETURN r;
END $$;

-- Resolves a port's security groups: the ids given (each the tenant's), or
-- the tenant's default group.
CREATE FUNCTION iaas.port_set_groups(t uuid, pid uuid, groups jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE x jsonb; g uuid;
BEGIN
    DELETE FROM iaas.port_security_groups WHERE port_id = pid;
    IF groups IS NULL THEN
        INSERT INTO iaas.port_security_groups VALUES (pid, iaas.sg_default(t));
        RETURN;
    END IF;
    FOR x IN SELECT * FROM jsonb_array_elements(groups) LOOP
        SELECT id INTO g FROM iaas.security_groups
            WHERE id = iaas.to_uuid(x #>> '{}', 'security_groups[]') AND tenant_id = t FOR SHARE;
        IF g IS NULL THEN
            PERFORM iaas.fail('SX400', format('no such security group %s', x #>> '{}'));
        END IF;
        INSERT INTO iaas.port_security_groups VALUES (pid, g) ON CONFLICT DO NOTHING;
    END LOOP;
END $$;

-- ---- ports ----

-- Makes a port. b: network_id, name, fixed_ips, security_groups,
-- vnic_type, model. owner: '' for a tenant's port, 'compute:stratus' for
-- one made for instance inst, 'network:...' for a router's or a floating
-- IP's (those may sit on an external network, count against no port quota
-- and get no security groups).
CREATE FUNCTION iaas.port_create(t uuid, b jsonb, owner text, inst uuid) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE n iaas.networks; pid uuid := gen_random_uuid(); tries int := 0;
BEGIN
    n := iaas.network_usable(t, iaas.to_uuid(b->>'network_id', 'network_id'),
                             owner LIKE 'network:%');
    IF owner NOT LIKE 'network:%' THEN
        PERFORM iaas.quota_check(t, 'ports');
    END IF;
    IF coalesce(b->>'vnic_type', 'virtio') NOT IN ('virtio', 'direct') THEN
        PERFORM iaas.fail('SX400', 'vnic_type must be virtio or direct');
    END IF;
    IF coalesce(b->>'model', 'virtio') NOT IN ('virtio') THEN
        PERFORM iaas.fail('SX400', 'model must be virtio');
    END IF;
    LOOP
        BEGIN
            INSERT INTO iaas.ports (id, tenant_id, network_id, name, mac_address, instance_id,
                                    bound_at, auto_delete, device_owner, vnic_type, model)
                VALUES (pid, t, n.id, coalesce(b->>'name', ''),
                        ('fa:16:3e:' || substr(md5(random()::text || clock_timestamp()::text), 1, 2)
                         || ':' || substr(md5(random()::text), 1, 2) || ':'
                         || substr(md5(random()::text), 1, 2))::macaddr,
                        inst, CASE WHEN inst IS NOT NULL THEN clock_timestamp() END,
                        inst IS NOT NULL, owner, coalesce(b->>'vnic_type', 'virtio'),
                        coalesce(b->>'model', 'virtio'));
            EXIT;
        EXCEPTION WHEN unique_violation THEN
            tries := tries + 1;   -- the MAC is taken: draw another
            IF tries > 8 THEN
                RAISE;
            END IF;
        END;
    END LOOP;
    PERFORM iaas.port_assign_ips(pid, n.id, iaas.jarr(b, 'fixed_ips', 8));
    IF owner NOT LIKE 'network:%' THEN
        PERFORM iaas.port_set_groups(t, pid, iaas.jarr(b, 'security_groups', 16));
    END IF;
    RETURN pid;
END $$;

CREATE FUNCTION iaas.port_update(t uuid, pid uuid, b jsonb) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE p iaas.ports;
BEGIN
    SELECT * INTO p FROM iaas.ports WHERE id = pid AND tenant_id = t FOR UPDATE;
    IF p.id IS NULL THEN
        PERFORM iaas.fail('SX404', 'no such port');
    END IF;
    IF p.device_owner LIKE 'network:%' AND (b ? 'fixed_ips' OR b ? 'security_groups') THEN
        PERFORM iaas.fail('SX409', format('the port belongs to %s', p.device_owner));
    END IF;
    IF b ? 'fixed_ips' THEN
        DELETE FROM iaas.port_ips WHERE port_id = pid;
        PERFORM iaas.port_assign_ips(pid, p.network_id, coalesce(iaas.jarr(b, 'fixed_ips', 8),
                                                                 '[]'));
    END IF;
    IF b ? 'security_groups' THEN
        PERFORM iaas.port_set_groups(t, pid, coalesce(iaas.jarr(b, 'security_groups', 16), '[]'));
    END IF;
    UPDATE iaas.ports SET name = coalesce(b->>'name', name), updated_at = now() WHERE id = pid;
    RETURN pid;
END $$;

CREATE FUNCTION iaas.port_delete(t uuid, pid uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE p iaas.ports;
BEGIN
    SELECT * INTO p FROM iaas.ports WHERE id = pid AND tenant_id = t FOR UPDATE;
    IF p.id IS NULL THEN
        PERFORM iaas.fail('SX404', 'no such port');
    END IF;
    IF p.device_owner LIKE 'network:%' THEN
        PERFORM iaas.fail('SX409', format('the port belongs to %s: remove it there',
                                          p.device_owner));
    END IF;
    IF p.instance_id IS NOT NULL THEN
        PERFORM iaas.fail('SX409', 'the port is attached to an instance: detach it first');
    END IF;
    DELETE FROM iaas.ports WHERE id = pid;
END $$;

-- ---- the tenant's default network ----

-- Made on first use (an instance created without networks), with one
-- subnet; concurrent first uses make one (the partial unique index).
CREATE FUNCTION iaas.network_default(t uuid) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE nid uuid;
BEGIN
    SELECT id INTO nid FROM iaas.networks WHERE tenant_id = t AND is_default;
    IF nid IS NOT NULL THEN
        RETURN nid;
    END IF;
    BEGIN
        nid := (iaas.network_create(t, false, '{"name": "default"}', true)).id;
    EXCEPTION WHEN unique_violation THEN
        -- a concurrent first use made it (and has committed): use that one
        SELECT id INTO nid FROM iaas.networks WHERE tenant_id = t AND is_default;
        RETURN nid;
    END;
    PERFORM iaas.subnet_create(t, jsonb_build_object('network_id', nid, 'name', 'default',
                                                     'cidr', '10.0.0.0/24'));
    RETURN nid;
END $$;

CREATE FUNCTION iaas.sg_create(t uuid, b jsonb) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE g uuid := gen_random_uuid();
BEGIN
    PERFORM iaas.sg_default(t);  -- the default group comes first, and counts
    PERFORM iaas.quota_check(t, 'security_groups');
    IF lower(b->>'name') = 'default' THEN
        PERFORM iaas.fail('SX409', 'the name "default" is the default group''s');
    END IF;
    INSERT INTO iaas.security_groups (id, tenant_id, name, description)
        VALUES (g, t, b->>'name', coalesce(b->>'description', ''));
    -- as Neutron: a new group lets everything out and nothing in
    INSERT INTO iaas.security_group_rules (id, group_id, tenant_id, direction, ethertype)
        VALUES (gen_random_uuid(), g, t, 'egress', 'IPv4'),
               (gen_random_uuid(), g, t, 'egress', 'IPv6');
    RETURN g;
END $$;

CREATE FUNCTION iaas.sg_update(t uuid, gid uuid, b jsonb) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE g iaas.security_groups;
BEGIN
    SELECT * INTO g FROM iaas.security_groups WHERE id = gid AND tenant_id = t FOR UPDATE;
    IF g.id IS NULL THEN
        PERFORM iaas.fail('SX404', 'no such security group');
    END IF;
    IF b ? 'name' AND (g.is_default OR lower(b->>'name') = 'default') THEN
        PERFORM iaas.fail('SX409', 'the default group''s name is "default", and only its');
    END IF;
    UPDATE iaas.security_groups SET name = coalesce(b->>'name', name),
        description = coalesce(b->>'description', description), updated_at = now()
        WHERE id = gid;
    RETURN gid;
END $$;

CREATE FUNCTION iaas.sg_delete(t uuid, gid uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE g iaas.security_groups;
BEGIN
    SELECT * INTO g FROM iaas.security_groups WHERE id = gid AND tenant_id = t FOR UPDATE;
    IF g.id IS NULL THEN
        PERFORM iaas.fail('SX404', 'no such security group');
    END IF;
    IF g.is_default THEN
        PERFORM iaas.fail('SX409', 'the default security group cannot be deleted');
    END IF;
    IF EXISTS (SELECT 1 FROM iaas.port_security_groups WHERE group_id = gid) THEN
        PERFORM iaas.fail('SX409', 'ports are in this security group');
    END IF;
    DELETE FROM iaas.security_groups WHERE id = gid;
END $$;

-- An object as the API shows it, read in a statement of its own: what the
-- calling statement's functions just wrote is visible here.
CREATE FUNCTION iaas.show(kind text, oid uuid) RETURNS json LANGUAGE plpgsql AS $$
BEGIN
    RETURN CASE kind
        WHEN 'port' THEN (SELECT iaas.port_json(p) FROM iaas.ports p WHERE p.id = oid)
        WHEN 'security_group' THEN (SELECT iaas.sg_json(g) FROM iaas.security_groups g
                                    WHERE g.id = oid)
    END;
END $$;
