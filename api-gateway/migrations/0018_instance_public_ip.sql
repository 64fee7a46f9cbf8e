-- A node's metadata service serves each instance's floating IP as
-- public-ipv4: the desired set carries it (nodes.c, `public_ipv4`: the
-- floating IP on the instance's first port that has one). Pointing a
-- floating IP at a port, or away from it, changes what that port's node
-- is told, so it raises the node's desired-set version (0010, 0014), at
-- commit like 0014's triggers.
CREATE FUNCTION iaas.fip_md_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE o iaas.floating_ips; n iaas.floating_ips;
BEGIN
    IF TG_OP = 'INSERT' THEN o := NEW; ELSE o := OLD; END IF;
    IF TG_OP = 'DELETE' THEN n := OLD; ELSE n := NEW; END IF;
    PERFORM iaas.nodes_bump((SELECT coalesce(array_agg(i.node_id), '{}') FROM iaas.ports p
        JOIN iaas.instances i ON i.id = p.instance_id
        WHERE p.id IN (o.fixed_port_id, n.fixed_port_id)));
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER floating_ips_md_bump AFTER INSERT OR UPDATE OR DELETE
    ON iaas.floating_ips DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION iaas.fip_md_bump();
