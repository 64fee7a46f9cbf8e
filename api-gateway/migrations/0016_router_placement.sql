-- Where routers run, and what their host is told (nodes.c, GET /internal/
-- v1/node/instances): Neutron's legacy L3 agent model. A router lives on
-- one node with an uplink to the external networks (the node reports
-- external_uplink in its heartbeat: node.conf network.external_interface)
-- as a network namespace the node's data plane builds (network/router.c).
--
-- Placement: a router with no host, or on a node that no longer has an
-- uplink, goes to the enabled node with an uplink that holds the fewest
-- routers (then the lowest id); a router stays where it is otherwise, so
-- adding a node moves nothing. With no such node a router waits unplaced
-- (host_id NULL) and is placed when one reports its uplink.
--
-- The desired set gains `routers` (those placed on the node: interfaces,
-- gateway, enable_snat, the floating IPs reaching their ports through the
-- router), networks gain `external`, the router host gets the networks its
-- routers join, and a router's interface is a remote port (l2population)
-- to every other host with the network, at its router's host's tunnel
-- address. Versions are raised as 0014 does: network_nodes() now counts a
-- router's host among the nodes of each network its ports are on, so every
-- 0014 trigger (subnets, ports, addresses, instances moving) reaches it, and
-- changes of routers and floating IPs raise the nodes concerned.
ALTER TABLE iaas.nodes ADD COLUMN external_uplink boolean NOT NULL DEFAULT false;
ALTER TABLE iaas.routers ADD COLUMN host_id uuid REFERENCES iaas.nodes(id) ON DELETE SET NULL;
CREATE INDEX routers_host ON iaas.routers (host_id) WHERE host_id IS NOT NULL;

CREATE FUNCTION iaas.routers_place() RETURNS void LANGUAGE plpgsql AS $$
DECLARE r uuid; h uuid;
BEGIN
    UPDATE iaas.routers SET host_id = NULL
        WHERE host_id IN (SELECT id FROM iaas.nodes WHERE NOT external_uplink);
    FOR r IN SELECT id FROM iaas.routers WHERE host_id IS NULL ORDER BY created_at, id
             FOR UPDATE LOOP
        SELECT n.id INTO h FROM iaas.nodes n WHERE n.external_uplink AND NOT n.disabled
            ORDER BY (SELECT count(*) FROM iaas.routers x WHERE x.host_id = n.id), n.id LIMIT 1;
        EXIT WHEN h IS NULL;
        UPDATE iaas.routers SET host_id = h WHERE id = r;
    END LOOP;
END $$;

CREATE FUNCTION iaas.routers_place_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM iaas.routers_place();
    RETURN NULL;
END $$;

CREATE TRIGGER routers_placed AFTER INSERT ON iaas.routers
    FOR EACH STATEMENT EXECUTE FUNCTION iaas.routers_place_trigger();
-- (a heartbeat sets external_uplink every time: only a change places)
CREATE TRIGGER nodes_uplink_placed AFTER UPDATE OF external_uplink, disabled ON iaas.nodes
    FOR EACH ROW WHEN (OLD.external_uplink IS DISTINCT FROM NEW.external_uplink
                       OR OLD.disabled IS DISTINCT FROM NEW.disabled)
    EXECUTE FUNCTION iaas.routers_place_trigger();
CREATE TRIGGER nodes_gone_placed AFTER DELETE ON iaas.nodes
    FOR EACH STATEMENT EXECUTE FUNCTION iaas.routers_place_trigger();

-- Nodes running an instance with a port on one of the networks, and the
-- hosts of routers with a port (interface or gateway) on one of them.
CREATE OR REPLACE FUNCTION iaas.network_nodes(nets uuid[]) RETURNS uuid[] LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(DISTINCT x), '{}') FROM (
        SELECT i.node_id AS x FROM iaas.ports p JOIN iaas.instances i ON i.id = p.instance_id
            WHERE p.network_id = ANY(nets) AND i.node_id IS NOT NULL
        UNION
        SELECT r.host_id FROM iaas.ports p JOIN iaas.routers r ON r.id = p.router_id
            WHERE p.network_id = ANY(nets) AND r.host_id IS NOT NULL) s
$$;

-- A router changed (host, gateway, SNAT, interfaces through updated_at):
-- its old and new hosts, and every node with its networks (the interface's
-- remote port moves with the router's host).
CREATE FUNCTION iaas.router_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE o record; n record;
BEGIN
    IF TG_OP = 'INSERT' THEN o := NEW; ELSE o := OLD; END IF;
    IF TG_OP = 'DELETE' THEN n := OLD; ELSE n := NEW; END IF;
    PERFORM iaas.nodes_bump(ARRAY[o.host_id, n.host_id]
        || iaas.network_nodes((SELECT array_agg(p.network_id) FROM iaas.ports p
                               WHERE p.router_id = n.id)));
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER routers_net_bump AFTER INSERT OR UPDATE OR DELETE ON iaas.routers
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION iaas.router_bump();

-- A router host's tunnel address changed: every node with the networks of
-- its routers' ports (0014's trigger counts instances' networks only).
CREATE FUNCTION iaas.router_host_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM iaas.nodes_bump(iaas.network_nodes((SELECT array_agg(p.network_id)
        FROM iaas.ports p JOIN iaas.routers r ON r.id = p.router_id WHERE r.host_id = NEW.id)));
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER nodes_tunnel_router_bump AFTER UPDATE OF tunnel_ip ON iaas.nodes
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.tunnel_ip IS DISTINCT FROM NEW.tunnel_ip)
    EXECUTE FUNCTION iaas.router_host_bump();

-- A floating IP made, (dis)associated or deleted: the hosts of routers on
-- its external network (and its port's nodes, through network_nodes).
CREATE FUNCTION iaas.fip_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE o record; n record;
BEGIN
    IF TG_OP = 'INSERT' THEN o := NEW; ELSE o := OLD; END IF;
    IF TG_OP = 'DELETE' THEN n := OLD; ELSE n := NEW; END IF;
    PERFORM iaas.nodes_bump(iaas.network_nodes((SELECT array_agg(p.network_id)
        FROM iaas.ports p WHERE p.id IN (o.port_id, n.port_id, o.fixed_port_id,
                                         n.fixed_port_id))));
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER floating_ips_net_bump
    AFTER INSERT OR UPDATE OR DELETE ON iaas.floating_ips
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION iaas.fip_bump();

-- Ports with a host, as l2population sees them: instances' (to run) and
-- routers' interfaces (on their router's host).
CREATE FUNCTION iaas.network_bound_ports(net uuid)
RETURNS TABLE (id uuid, mac text, host_id uuid) LANGUAGE sql STABLE AS $$
    SELECT p.id, p.mac_address::text, i.node_id FROM iaas.ports p
        JOIN iaas.instances i ON i.id = p.instance_id
        WHERE p.network_id = net AND i.node_id IS NOT NULL
        AND i.state NOT IN ('deleted', 'error')
    UNION ALL
    SELECT p.id, p.mac_address::text, r.host_id FROM iaas.ports p
        JOIN iaas.routers r ON r.id = p.router_id
        WHERE p.network_id = net AND r.host_id IS NOT NULL
        AND p.device_owner = 'network:router_interface'
$$;

-- 0014's network view, with `external`, the networks of the node's routers,
-- and routers' interfaces among the remote ports.
CREATE OR REPLACE FUNCTION iaas.node_networks_json(node uuid) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('id', n.id, 'vni', n.vni, 'mtu', n.mtu,
        'external', n.external,
        'subnets', (SELECT coalesce(json_agg(json_build_object('id', s.id,
                        'cidr', s.cidr::text, 'gateway_ip', host(s.gateway_ip),
                        'enable_dhcp', s.enable_dhcp,
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

-- The routers placed on node: each interface (port, network, subnet, MAC,
-- the subnet's gateway address), the gateway (its port's first address on
-- the external network) or null, enable_snat, and the floating IPs whose
-- fixed IP this router joins to the floating IP's network.
CREATE FUNCTION iaas.node_routers_json(node uuid) RETURNS json LANGUAGE sql STABLE AS $$
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
