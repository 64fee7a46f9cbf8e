-- Routers and floating IPs (routers.c), as Neutron has them: a tenant's
-- router joins its subnets (an interface: a port holding the subnet's
-- gateway address) and gives them egress through an external network (its
-- gateway: a port on that network, SNAT when enable_snat); a floating IP is
-- an address of an external network (held by a port of its own) mapped one
-- to one to a fixed IP of a tenant's port, reachable only where one of the
-- tenant's routers joins that port's subnet to that external network. The
-- data plane that forwards, SNATs and DNATs is the node's (network/).
--
-- Invariants:
--  * a router interface holds its subnet's gateway address, so a subnet is
--    on one router at most; a router's subnets do not overlap;
--  * a fixed IP has at most one floating IP (UNIQUE), and an association
--    goes when its port or address does (the foreign key sets it NULL);
--  * an interface a floating IP relies on cannot be removed, nor a gateway
--    cleared under one.
CREATE TABLE iaas.routers (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES iaas.tenants(id) ON DELETE CASCADE,
    name            text NOT NULL DEFAULT '' CHECK (length(name) <= 255),
    gateway_port_id uuid REFERENCES iaas.ports(id),
    enable_snat     boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX routers_tenant ON iaas.routers (tenant_id);
ALTER TABLE iaas.ports ADD COLUMN router_id uuid REFERENCES iaas.routers(id);

CREATE TABLE iaas.floating_ips (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES iaas.tenants(id) ON DELETE CASCADE,
    port_id       uuid NOT NULL UNIQUE REFERENCES iaas.ports(id) ON DELETE CASCADE,
    fixed_port_id uuid,
    fixed_ip      inet,
    description   text NOT NULL DEFAULT '' CHECK (length(description) <= 255),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (fixed_port_id, fixed_ip) REFERENCES iaas.port_ips (port_id, ip)
        ON DELETE SET NULL,
    UNIQUE (fixed_port_id, fixed_ip)
);
CREATE INDEX floating_ips_tenant ON iaas.floating_ips (tenant_id);

-- The tenant's router rid joining external network ext to subnet sid, or
-- NULL: what lets a floating IP of ext reach an address in sid.
CREATE FUNCTION iaas.fip_router(t uuid, ext uuid, sid uuid) RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT r.id FROM iaas.routers r JOIN iaas.ports g ON g.id = r.gateway_port_id
    WHERE r.tenant_id = t AND g.network_id = ext AND EXISTS (
        SELECT 1 FROM iaas.ports i JOIN iaas.port_ips a ON a.port_id = i.id
        WHERE i.router_id = r.id AND i.device_owner = 'network:router_interface'
        AND a.subnet_id = sid)
    ORDER BY r.id LIMIT 1
$$;

CREATE FUNCTION iaas.router_json(r iaas.routers) RETURNS json LANGUAGE sql STABLE AS $$
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

CREATE FUNCTION iaas.fip_json(f iaas.floating_ips) RETURNS json LANGUAGE sql STABLE AS $$
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

-- An external network by id (SX404 when unseen, SX400 when not external).
CREATE FUNCTION iaas.external_network(t uuid, v text, field text) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE n iaas.networks;
BEGIN
    n := iaas.network_usable(t, iaas.to_uuid(v, field), true);
    IF NOT n.external THEN
        PERFORM iaas.fail('SX400', format('network %s is not external', n.id));
    END IF;
    RETURN n.id;
END $$;

-- Sets (gw an object {"network_id", "enable_snat"?}) or clears (gw NULL)
-- router rid's external gateway.
CREATE FUNCTION iaas.router_set_gateway(t uuid, rid uuid, gw jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE r iaas.routers; nid uuid; pid uuid;
BEGIN
    SELECT * INTO r FROM iaas.routers WHERE id = rid FOR UPDATE;
    IF gw IS NOT NULL AND (jsonb_typeof(gw) <> 'object' OR (SELECT count(*)
            FROM jsonb_object_keys(gw) k WHERE k NOT IN ('network_id', 'enable_snat')) > 0
            OR coalesce(jsonb_typeof(gw->'enable_snat'), 'boolean') <> 'boolean') THEN
        PERFORM iaas.fail('SX400', 'external_gateway_info is {"network_id", "enable_snat"?}'
                                   ' or null');
    END IF;
    IF gw IS NOT NULL THEN
        nid := iaas.external_network(t, gw->>'network_id', 'external_gateway_info.network_id');
    END IF;
    IF r.gateway_port_id IS NOT NULL
       AND nid IS DISTINCT FROM (SELECT network_id FROM iaas.ports WHERE id = r.gateway_port_id)
    THEN
        IF EXISTS (SELECT 1 FROM iaas.floating_ips f JOIN iaas.port_ips a
                   ON a.port_id = f.fixed_port_id AND a.ip = f.fixed_ip
                   JOIN iaas.ports p ON p.id = f.port_id
                   WHERE f.tenant_id = t
                   AND iaas.fip_router(t, p.network_id, a.subnet_id) = rid) THEN
            PERFORM iaas.fail('SX409', 'floating IPs reach their ports through this gateway');
        END IF;
        UPDATE iaas.routers SET gateway_port_id = NULL WHERE id = rid;
        DELETE FROM iaas.ports WHERE id = r.gateway_port_id;
        r.gateway_port_id := NULL;
    END IF;
    IF nid IS NOT NULL AND r.gateway_port_id IS NULL THEN
        pid := iaas.port_create(t, jsonb_build_object('network_id', nid),
                                'network:router_gateway', NULL);
        UPDATE iaas.ports SET router_id = rid WHERE id = pid;
        UPDATE iaas.routers SET gateway_port_id = pid WHERE id = rid;
    END IF;
    UPDATE iaas.routers SET enable_snat = coalesce((gw->>'enable_snat')::boolean, true),
        updated_at = now() WHERE id = rid;
END $$;

CREATE FUNCTION iaas.router_create(t uuid, b jsonb) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE rid uuid := gen_random_uuid();
BEGIN
    INSERT INTO iaas.routers (id, tenant_id, name) VALUES (rid, t, coalesce(b->>'name', ''));
    IF b ? 'external_gateway_info' AND b->'external_gateway_info' <> 'null'::jsonb THEN
        PERFORM iaas.router_set_gateway(t, rid, b->'external_gateway_info');
    END IF;
    RETURN rid;
END $$;

CREATE FUNCTION iaas.router_mine(t uuid, rid uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM iaas.routers WHERE id = rid AND tenant_id = t FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM iaas.fail('SX404', 'no such router');
    END IF;
END $$;

CREATE FUNCTION iaas.router_update(t uuid, rid uuid, b jsonb) RETURNS uuid LANGUAGE plpgsql AS $$
BEGIN
    PERFORM iaas.router_mine(t, rid);
    IF b ? 'external_gateway_info' THEN
        PERFORM iaas.router_set_gateway(t, rid, nullif(b->'external_gateway_info', 'null'));
    END IF;
    UPDATE iaas.routers SET name = coalesce(b->>'name', name), updated_at = now()
        WHERE id = rid;
    RETURN rid;
END $$;

CREATE FUNCTION iaas.router_delete(t uuid, rid uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM iaas.router_mine(t, rid);
    IF EXISTS (SELECT 1 FROM iaas.ports WHERE router_id = rid
               AND device_owner = 'network:router_interface') THEN
        PERFORM iaas.fail('SX409', 'the router has interfaces: remove them first');
    END IF;
    PERFORM iaas.router_set_gateway(t, rid, NULL);
    DELETE FROM iaas.routers WHERE id = rid;
END $$;

-- Joins subnet sid (the tenant's, with a gateway address) to router rid.
CREATE FUNCTION iaas.router_add_interface(t uuid, rid uuid, b jsonb) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE s iaas.subnets; o text; pid uuid;
BEGIN
    PERFORM iaas.router_mine(t, rid);
    SELECT * INTO s FROM iaas.subnets
        WHERE id = iaas.to_uuid(b->>'subnet_id', 'subnet_id') AND tenant_id = t FOR UPDATE;
    IF s.id IS NULL THEN
        PERFORM iaas.fail('SX404', 'no such subnet');
    END IF;
    IF s.gateway_ip IS NULL THEN
        PERFORM iaas.fail('SX400', 'the subnet has no gateway_ip for the router to hold');
    END IF;
    IF (SELECT external FROM iaas.networks WHERE id = s.network_id) THEN
        PERFORM iaas.fail('SX400', 'an external network joins a router as its gateway');
    END IF;
    IF EXISTS (SELECT 1 FROM iaas.ports p JOIN iaas.port_ips a ON a.port_id = p.id
               WHERE p.router_id = rid AND a.subnet_id = s.id) THEN
        PERFORM iaas.fail('SX400', 'the subnet is already on this router');
    END IF;
    SELECT x.cidr::text INTO o FROM iaas.ports p JOIN iaas.port_ips a ON a.port_id = p.id
        JOIN iaas.subnets x ON x.id = a.subnet_id
        WHERE p.router_id = rid AND p.device_owner = 'network:router_interface'
        AND x.cidr && s.cidr;
    IF o IS NOT NULL THEN
        PERFORM iaas.fail('SX400', format('%s overlaps %s, already on the router', s.cidr, o));
    END IF;
    pid := iaas.port_create(t, jsonb_build_object('network_id', s.network_id, 'fixed_ips',
               jsonb_build_array(jsonb_build_object('subnet_id', s.id,
                                                    'ip_address', host(s.gateway_ip)))),
           'network:router_interface', NULL);
    UPDATE iaas.ports SET router_id = rid WHERE id = pid;
    UPDATE iaas.routers SET updated_at = now() WHERE id = rid;
    RETURN json_build_object('id', rid, 'tenant_id', t, 'subnet_id', s.id, 'port_id', pid);
END $$;

CREATE FUNCTION iaas.router_remove_interface(t uuid, rid uuid, sid uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE pid uuid; ext uuid;
BEGIN
    PERFORM iaas.router_mine(t, rid);
    SELECT p.id INTO pid FROM iaas.ports p JOIN iaas.port_ips a ON a.port_id = p.id
        WHERE p.router_id = rid AND p.device_owner = 'network:router_interface'
        AND a.subnet_id = sid;
    IF pid IS NULL THEN
        PERFORM iaas.fail('SX404', 'the router has no interface on this subnet');
    END IF;
    SELECT g.network_id INTO ext FROM iaas.routers r JOIN iaas.ports g
        ON g.id = r.gateway_port_id WHERE r.id = rid;
    IF EXISTS (SELECT 1 FROM iaas.floating_ips f JOIN iaas.ports p ON p.id = f.port_id
               JOIN iaas.port_ips a ON a.port_id = f.fixed_port_id AND a.ip = f.fixed_ip
               WHERE f.tenant_id = t AND a.subnet_id = sid AND p.network_id = ext) THEN
        PERFORM iaas.fail('SX409', 'floating IPs reach ports on this subnet through this router');
    END IF;
    DELETE FROM iaas.ports WHERE id = pid;
    UPDATE iaas.routers SET updated_at = now() WHERE id = rid;
END $$;

-- Points floating IP fid at port pid's address (fixed, or its first), or
-- nowhere (pid NULL).
CREATE FUNCTION iaas.fip_associate(t uuid, fid uuid, pid uuid, fixed text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE f iaas.floating_ips; ext uuid; a iaas.port_ips;
BEGIN
    SELECT * INTO f FROM iaas.floating_ips WHERE id = fid FOR UPDATE;
    IF pid IS NULL THEN
        UPDATE iaas.floating_ips SET fixed_port_id = NULL, fixed_ip = NULL, updated_at = now()
            WHERE id = fid;
        RETURN;
    END IF;
    PERFORM 1 FROM iaas.ports WHERE id = pid AND tenant_id = t
        AND device_owner NOT LIKE 'network:%' FOR SHARE;
    IF NOT FOUND THEN
        PERFORM iaas.fail('SX404', 'no such port');
    END IF;
    SELECT * INTO a FROM iaas.port_ips WHERE port_id = pid
        AND (fixed IS NULL OR ip = iaas.ip4(fixed, 'fixed_ip_address')) ORDER BY ip LIMIT 1;
    IF a.ip IS NULL THEN
        PERFORM iaas.fail('SX400', CASE WHEN fixed IS NULL THEN 'the port has no fixed IP'
                                   ELSE format('the port has no fixed IP %s', fixed) END);
    END IF;
    SELECT network_id INTO ext FROM iaas.ports WHERE id = f.port_id;
    IF iaas.fip_router(t, ext, a.subnet_id) IS NULL THEN
        PERFORM iaas.fail('SX400', format('external network %s is not reachable from subnet %s:'
                                          ' no router of yours joins them', ext, a.subnet_id));
    END IF;
    BEGIN
        UPDATE iaas.floating_ips SET fixed_port_id = pid, fixed_ip = a.ip, updated_at = now()
            WHERE id = fid;
    EXCEPTION WHEN unique_violation THEN
        PERFORM iaas.fail('SX409', format('%s already has a floating IP', host(a.ip)));
    END;
END $$;

CREATE FUNCTION iaas.fip_create(t uuid, b jsonb) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE fid uuid := gen_random_uuid(); nid uuid; pid uuid;
BEGIN
    nid := iaas.external_network(t, b->>'floating_network_id', 'floating_network_id');
    PERFORM iaas.quota_check(t, 'floating_ips');
    pid := iaas.port_create(t, jsonb_build_object('network_id', nid), 'network:floatingip', NULL);
    INSERT INTO iaas.floating_ips (id, tenant_id, port_id, description)
        VALUES (fid, t, pid, coalesce(b->>'description', ''));
    IF b ? 'port_id' AND b->'port_id' <> 'null'::jsonb THEN
        PERFORM iaas.fip_associate(t, fid, iaas.to_uuid(b->>'port_id', 'port_id'),
                                   b->>'fixed_ip_address');
    END IF;
    RETURN fid;
END $$;

CREATE FUNCTION iaas.fip_update(t uuid, fid uuid, b jsonb) RETURNS uuid LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM iaas.floating_ips WHERE id = fid AND tenant_id = t FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM iaas.fail('SX404', 'no such floating IP');
    END IF;
    IF b ? 'port_id' THEN
        PERFORM iaas.fip_associate(t, fid, CASE WHEN b->'port_id' <> 'null'::jsonb
            THEN iaas.to_uuid(b->>'port_id', 'port_id') END, b->>'fixed_ip_address');
    END IF;
    UPDATE iaas.floating_ips SET description = coalesce(b->>'description', description),
        updated_at = now() WHERE id = fid;
    RETURN fid;
END $$;

CREATE FUNCTION iaas.fip_delete(t uuid, fid uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE pid uuid;
BEGIN
    DELETE FROM iaas.floating_ips WHERE id = fid AND tenant_id = t RETURNING port_id INTO pid;
    IF pid IS NULL THEN
        PERFORM iaas.fail('SX404', 'no such floating IP');
    END IF;
    DELETE FROM iaas.ports WHERE id = pid;  -- the address goes back to the pool
END $$;

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
