-- What a node is told about networking (nodes.c, GET /internal/v1/node/
-- instances): each instance's ports, and the host's view of the networks
-- those ports are on (l2population: every port of the network on other
-- hosts, with that host's tunnel address) and of the security groups they
-- are in (rules, and the addresses of every group a rule names).
--
-- The desired set's ETag is the node's version (0010); every change that
-- alters what a node is told raises the version of exactly the nodes it
-- concerns, in deferred triggers run at commit like 0010's. Over-raising is
-- harmless (one needless 200); missing one would leave a node on a stale
-- set, so each trigger errs wide: every node with a port on the network, or
-- with a port in the group or in a group whose rules name it.

-- Nodes running an instance with a port on one of the networks.
CREATE FUNCTION iaas.network_nodes(nets uuid[]) RETURNS uuid[] LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(DISTINCT i.node_id), '{}') FROM iaas.ports p
        JOIN iaas.instances i ON i.id = p.instance_id
        WHERE p.network_id = ANY(nets) AND i.node_id IS NOT NULL
$$;

-- Nodes running an instance with a port in one of the groups, or in a
-- group with a rule whose remote group is one of them.
CREATE FUNCTION iaas.group_nodes(groups uuid[]) RETURNS uuid[] LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(DISTINCT i.node_id), '{}') FROM iaas.port_security_groups g
        JOIN iaas.ports p ON p.id = g.port_id JOIN iaas.instances i ON i.id = p.instance_id
        WHERE i.node_id IS NOT NULL AND (g.group_id = ANY(groups) OR g.group_id IN
            (SELECT r.group_id FROM iaas.security_group_rules r
             WHERE r.remote_group_id = ANY(groups)))
$$;

CREATE FUNCTION iaas.port_nodes(ports uuid[]) RETURNS uuid[] LANGUAGE sql STABLE AS $$
    SELECT iaas.network_nodes(array_agg(p.network_id))
        || iaas.group_nodes((SELECT array_agg(g.group_id) FROM iaas.port_security_groups g
                             WHERE g.port_id = ANY(ports)))
        || coalesce(array_agg(i.node_id), '{}')
    FROM iaas.ports p LEFT JOIN iaas.instances i ON i.id = p.instance_id WHERE p.id = ANY(ports)
$$;

-- Raises the desired-set version of each node, in id order.
CREATE FUNCTION iaas.nodes_bump(ids uuid[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO iaas.node_desired_versions AS v
        SELECT DISTINCT x, 1 FROM unnest(ids) AS x WHERE x IS NOT NULL ORDER BY x
        ON CONFLICT (node_id) DO UPDATE SET version = v.version + 1
$$;

CREATE FUNCTION iaas.net_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE o record; n record; ids uuid[];
BEGIN
    -- (each branch is a statement of its own: the tables' columns differ)
    IF TG_OP = 'INSERT' THEN o := NEW; ELSE o := OLD; END IF;
    IF TG_OP = 'DELETE' THEN n := OLD; ELSE n := NEW; END IF;
    IF TG_TABLE_NAME = 'networks' THEN
        ids := iaas.network_nodes(ARRAY[n.id]);
    ELSIF TG_TABLE_NAME = 'subnets' THEN
        ids := iaas.network_nodes(ARRAY[o.network_id, n.network_id]);
    ELSIF TG_TABLE_NAME = 'ports' THEN
        -- the port's own (old) host too: the port may be gone by now
        ids := iaas.network_nodes(ARRAY[o.network_id, n.network_id])
            || iaas.port_nodes(ARRAY[n.id])
            || (SELECT coalesce(array_agg(node_id), '{}') FROM iaas.instances
                WHERE id IN (o.instance_id, n.instance_id));
    ELSIF TG_TABLE_NAME = 'port_ips' THEN
        ids := iaas.port_nodes(ARRAY[o.port_id, n.port_id]);
    ELSIF TG_TABLE_NAME = 'port_security_groups' THEN
        ids := iaas.group_nodes(ARRAY[o.group_id, n.group_id])
            || iaas.port_nodes(ARRAY[o.port_id, n.port_id]);
    ELSIF TG_TABLE_NAME = 'security_group_rules' THEN
        ids := iaas.group_nodes(ARRAY[o.group_id, n.group_id]);
    ELSIF TG_TABLE_NAME = 'nodes' THEN
        ids := iaas.network_nodes((SELECT array_agg(p.network_id) FROM iaas.ports p
            JOIN iaas.instances i ON i.id = p.instance_id WHERE i.node_id = n.id));
    ELSIF TG_TABLE_NAME = 'instances' THEN
        ids := iaas.port_nodes((SELECT array_agg(id) FROM iaas.ports WHERE instance_id = n.id));
    END IF;
    PERFORM iaas.nodes_bump(ids);
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER networks_net_bump AFTER UPDATE ON iaas.networks
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION iaas.net_bump();
CREATE CONSTRAINT TRIGGER subnets_net_bump AFTER INSERT OR UPDATE OR DELETE ON iaas.subnets
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION iaas.net_bump();
CREATE CONSTRAINT TRIGGER ports_net_bump AFTER INSERT OR UPDATE OR DELETE ON iaas.ports
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION iaas.net_bump();
CREATE CONSTRAINT TRIGGER port_ips_net_bump AFTER INSERT OR UPDATE OR DELETE ON iaas.port_ips
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION iaas.net_bump();
CREATE CONSTRAINT TRIGGER port_groups_net_bump
    AFTER INSERT OR UPDATE OR DELETE ON iaas.port_security_groups
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION iaas.net_bump();
CREATE CONSTRAINT TRIGGER group_rules_net_bump
    AFTER INSERT OR UPDATE OR DELETE ON iaas.security_group_rules
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION iaas.net_bump();
CREATE CONSTRAINT TRIGGER nodes_tunnel_bump AFTER UPDATE OF tunnel_ip ON iaas.nodes
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.tunnel_ip IS DISTINCT FROM NEW.tunnel_ip) EXECUTE FUNCTION iaas.net_bump();
-- an instance placed elsewhere, or leaving the desired set: its peers' views
CREATE CONSTRAINT TRIGGER instances_net_bump AFTER UPDATE OF node_id, state ON iaas.instances
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.node_id IS DISTINCT FROM NEW.node_id OR OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION iaas.net_bump();

CREATE FUNCTION iaas.fixed_ips_json(pid uuid) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('subnet_id', i.subnet_id,
                                               'ip_address', host(i.ip)) ORDER BY i.ip), '[]')
    FROM iaas.port_ips i WHERE i.port_id = pid
$$;

-- An instance's NICs as its node gets them, in the order they were bound.
CREATE FUNCTION iaas.node_ports_json(inst uuid) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('id', p.id, 'mac', p.mac_address::text,
        'network_id', p.network_id, 'model', p.model, 'vnic_type', p.vnic_type, 'mtu', n.mtu,
        'fixed_ips', iaas.fixed_ips_json(p.id)) ORDER BY p.bound_at, p.id), '[]')
    FROM iaas.ports p JOIN iaas.networks n ON n.id = p.network_id WHERE p.instance_id = inst
$$;

-- Ports of the instances node should run.
CREATE FUNCTION iaas.node_local_ports(node uuid) RETURNS SETOF iaas.ports
LANGUAGE sql STABLE AS $$
    SELECT p.* FROM iaas.ports p JOIN iaas.instances i ON i.id = p.instance_id
    WHERE i.node_id = node AND i.state NOT IN ('deleted', 'error')
$$;

-- Each network with a port on node: its VNI, MTU and subnets, and every
-- port of it on other hosts (MAC, addresses, that host's tunnel address).
CREATE FUNCTION iaas.node_networks_json(node uuid) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object('id', n.id, 'vni', n.vni, 'mtu', n.mtu,
        'subnets', (SELECT coalesce(json_agg(json_build_object('id', s.id,
                        'cidr', s.cidr::text, 'gateway_ip', host(s.gateway_ip),
                        'enable_dhcp', s.enable_dhcp,
                        'dns_nameservers', (SELECT coalesce(json_agg(host(d) ORDER BY o), '[]')
                            FROM unnest(s.dns_nameservers) WITH ORDINALITY AS x(d, o)),
                        'host_routes', s.host_routes, 'allocation_pools', s.allocation_pools)
                        ORDER BY s.created_at, s.id), '[]')
                    FROM iaas.subnets s WHERE s.network_id = n.id),
        'remote_ports', (SELECT coalesce(json_agg(json_build_object('id', p.id,
                             'mac', p.mac_address::text, 'host_id', i.node_id,
                             'tunnel_ip', host(h.tunnel_ip),
                             'fixed_ips', iaas.fixed_ips_json(p.id)) ORDER BY p.id), '[]')
                         FROM iaas.ports p JOIN iaas.instances i ON i.id = p.instance_id
                         JOIN iaas.nodes h ON h.id = i.node_id
                         WHERE p.network_id = n.id AND i.node_id <> node
                         AND i.state NOT IN ('deleted', 'error')))
        ORDER BY n.id), '[]')
    FROM iaas.networks n WHERE n.id IN (SELECT network_id FROM iaas.node_local_ports(node))
$$;

-- Each security group a port on node is in, or that such a group's rules
-- name: its rules, which of the node's ports are in it, and the addresses of
-- all its members (for rules naming it as remote group).
CREATE FUNCTION iaas.node_groups_json(node uuid) RETURNS json LANGUAGE sql STABLE AS $$
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
