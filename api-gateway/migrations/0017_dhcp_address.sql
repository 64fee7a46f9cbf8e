-- The DHCP server's address of each subnet, owned by the control plane, as
-- Neutron's DHCP port owns one (node agents put it on the network's bridge
-- for dnsmasq; before this, each agent derived it from the pools and a
-- subnet that filled up gave the same address to a port).
--
-- Invariants:
--  * a subnet with DHCP on holds one address for its server (dhcp_ip), a
--    host address of its CIDR that is not the gateway's; with DHCP off it
--    holds none (the address is free again);
--  * no port ever holds its subnet's DHCP address: automatic allocation
--    skips it, and a port_ips row naming it is refused (SX409) under the
--    subnet's row lock, which the reservation holds too, so neither can
--    slip past the other;
--  * the address is chosen when DHCP comes on (subnet created with it, or
--    turned on): the highest host address outside every allocation pool
--    and not the gateway, else the highest free one in the pools (for the
--    default pools, the subnet's last host address: what agents used
--    before, so existing bridges keep their address).
ALTER TABLE iaas.subnets ADD COLUMN dhcp_ip inet
    CHECK (dhcp_ip IS NULL OR (family(dhcp_ip) = 4 AND masklen(dhcp_ip) = 32
                               AND dhcp_ip << cidr AND dhcp_ip IS DISTINCT FROM gateway_ip));

-- The address subnet s's DHCP server should take, or NULL when every host
-- address is the gateway's or a port's. VOLATILE: read with a snapshot of
-- its own, after the caller's row lock.
CREATE FUNCTION iaas.subnet_dhcp_pick(s iaas.subnets) RETURNS inet LANGUAGE sql VOLATILE AS $$
    SELECT x.ip FROM (SELECT host(s.cidr)::inet + g AS ip
                      FROM generate_series(1::bigint,
                          (host(broadcast(s.cidr))::inet - host(s.cidr)::inet) - 1) g) x
    WHERE x.ip IS DISTINCT FROM s.gateway_ip
      AND NOT EXISTS (SELECT 1 FROM iaas.port_ips pi WHERE pi.subnet_id = s.id AND pi.ip = x.ip)
    ORDER BY EXISTS (SELECT 1 FROM jsonb_array_elements(s.allocation_pools) p
                     WHERE x.ip BETWEEN (p->>'start')::inet AND (p->>'end')::inet), x.ip DESC
    LIMIT 1
$$;

-- Subnets that already have DHCP: their address now (NULL where none is
-- free: such a subnet gets no DHCP server until it is turned off and on).
UPDATE iaas.subnets s SET dhcp_ip = iaas.subnet_dhcp_pick(s) WHERE enable_dhcp;

-- Reserves the address when DHCP comes on, frees it when DHCP goes off.
CREATE FUNCTION iaas.subnet_dhcp_reserve() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT NEW.enable_dhcp THEN
        NEW.dhcp_ip := NULL;
    ELSIF TG_OP = 'INSERT' OR NOT OLD.enable_dhcp THEN
        NEW.dhcp_ip := iaas.subnet_dhcp_pick(NEW);
        IF NEW.dhcp_ip IS NULL THEN
            PERFORM iaas.fail('SX409', format('no free address left in subnet %s for its DHCP'
                                              ' server', NEW.cidr));
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER subnets_dhcp_ip BEFORE INSERT OR UPDATE OF enable_dhcp ON iaas.subnets
    FOR EACH ROW EXECUTE FUNCTION iaas.subnet_dhcp_reserve();

-- No port holds its subnet's DHCP address. The subnet's row lock orders
-- this against a reservation being made.
CREATE FUNCTION iaas.port_ip_not_dhcp() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE s iaas.subnets;
BEGIN
    SELECT * INTO s FROM iaas.subnets WHERE id = NEW.subnet_id FOR NO KEY UPDATE;
    IF NEW.ip = s.dhcp_ip THEN
        PERFORM iaas.fail('SX409', format('address %s is the DHCP server''s in subnet %s',
                                          host(NEW.ip), s.cidr));
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER port_ips_not_dhcp BEFORE INSERT OR UPDATE OF ip, subnet_id ON iaas.port_ips
    FOR EACH ROW EXECUTE FUNCTION iaas.port_ip_not_dhcp();

-- 0012's allocator, skipping the DHCP address.
CREATE OR REPLACE FUNCTION iaas.subnet_next_ip(sid uuid) RETURNS inet LANGUAGE plpgsql AS $$
DECLARE s iaas.subnets; a inet;
BEGIN
    SELECT * INTO s FROM iaas.subnets WHERE id = sid FOR UPDATE;
    SELECT x.ip INTO a FROM (
        SELECT (p->>'start')::inet + g AS ip
        FROM jsonb_array_elements(s.allocation_pools) p,
             generate_series(0::bigint, (p->>'end')::inet - (p->>'start')::inet) g) x
    WHERE NOT EXISTS (SELECT 1 FROM iaas.port_ips pi WHERE pi.subnet_id = sid AND pi.ip = x.ip)
      AND x.ip IS DISTINCT FROM s.dhcp_ip
    ORDER BY x.ip <= coalesce(s.last_ip, '0.0.0.0'::inet), x.ip
    LIMIT 1;
    IF a IS NULL THEN
        PERFORM iaas.fail('SX409', format('no free address left in subnet %s', s.cidr));
    END IF;
    UPDATE iaas.subnets SET last_ip = a WHERE id = sid;
    RETURN a;
END $$;

-- A node's network view (0014's node_networks_json, whatever later
-- migrations make of it) with each subnet's DHCP address: kept as a
-- wrapper so the two can change apart.
CREATE FUNCTION iaas.node_networks_dhcp(nets json) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg((n.v::jsonb || jsonb_build_object('subnets',
        (SELECT coalesce(jsonb_agg(x.v || jsonb_build_object('dhcp_ip',
                             (SELECT host(s.dhcp_ip) FROM iaas.subnets s
                              WHERE s.id = (x.v->>'id')::uuid)) ORDER BY x.o), '[]')
         FROM jsonb_array_elements(n.v::jsonb->'subnets') WITH ORDINALITY AS x(v, o))))::json
        ORDER BY n.o), '[]')
    FROM json_array_elements(nets) WITH ORDINALITY AS n(v, o)
$$;
