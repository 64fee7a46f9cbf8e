-- Instances' ports (ports.c, instances.c): the ports an instance is created
-- with, attaching and detaching them while it is stopped, and letting them
-- go when it is deleted.
--
-- Invariants:
--  * a port is bound to at most one instance (ports.instance_id), of its own
--    tenant, and only a free port ('' owner) can be bound;
--  * ports made for an instance (auto_delete) are deleted when it leaves
--    them (detach, delete); ports the tenant made are only unbound;
--  * binding changes of a placed instance raise its generation, so its
--    node sees a new order (and, by 0010's trigger, a new desired set).

-- Binds the tenant's free port pid to instance inst.
CREATE FUNCTION iaas.port_bind(t uuid, inst uuid, pid uuid) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE p iaas.ports;
BEGIN
    SELECT * INTO p FROM iaas.ports WHERE id = pid AND tenant_id = t FOR UPDATE;
    IF p.id IS NULL THEN
        PERFORM iaas.fail('SX400', format('no such port %s', pid));
    END IF;
    IF p.instance_id IS NOT NULL OR p.device_owner <> '' THEN
        PERFORM iaas.fail('SX409', format('port %s is in use', pid));
    END IF;
    UPDATE iaas.ports SET instance_id = inst, device_owner = 'compute:stratus', auto_delete = false,
        bound_at = clock_timestamp(), updated_at = now() WHERE id = pid;
    RETURN pid;
END $$;

-- One NIC for instance inst from a request item: {"network_id", "fixed_ip"?}
-- makes a port on the network, {"port_id"} binds a free port.
CREATE FUNCTION iaas.instance_nic(t uuid, inst uuid, x jsonb) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE nid uuid;
BEGIN
    IF jsonb_typeof(x) <> 'object' OR (SELECT count(*) FROM jsonb_object_keys(x) k
                                      WHERE k NOT IN ('network_id', 'fixed_ip', 'port_id')) > 0
       OR (x ? 'port_id') = (x ? 'network_id') OR (x ? 'port_id' AND x ? 'fixed_ip') THEN
        PERFORM iaas.fail('SX400', 'a NIC is {"network_id", "fixed_ip"?} or {"port_id"}');
    END IF;
    IF x ? 'port_id' THEN
        RETURN iaas.port_bind(t, inst, iaas.to_uuid(x->>'port_id', 'port_id'));
    END IF;
    nid := iaas.to_uuid(x->>'network_id', 'network_id');
    IF NOT EXISTS (SELECT 1 FROM iaas.networks WHERE id = nid AND (tenant_id = t OR shared)) THEN
        PERFORM iaas.fail('SX400', format('no such network %s', nid));
    END IF;
    RETURN iaas.port_create(t, jsonb_build_object('network_id', nid) ||
        CASE WHEN x ? 'fixed_ip' THEN jsonb_build_object('fixed_ips',
            jsonb_build_array(jsonb_build_object('ip_address', x->'fixed_ip'))) ELSE '{}' END,
        'compute:stratus', inst);
END $$;

-- The NICs of a new instance: `networks` ([{"network_id", "fixed_ip"?}],
-- or "none") and `ports` ([port id]); given neither, one port on the
-- tenant's default network (made on first use).
CREATE FUNCTION iaas.instance_nics(t uuid, inst uuid, nets jsonb, ports jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE x jsonb;
BEGIN
    IF nets = '"none"'::jsonb THEN
        IF coalesce(jsonb_array_length(ports), 0) > 0 THEN
            PERFORM iaas.fail('SX400', 'networks "none" and ports exclude each other');
        END IF;
        RETURN;
    END IF;
    IF coalesce(jsonb_array_length(nets), 0) + coalesce(jsonb_array_length(ports), 0) > 8 THEN
        PERFORM iaas.fail('SX400', 'an instance has at most 8 NICs');
    END IF;
    IF coalesce(jsonb_array_length(nets), 0) + coalesce(jsonb_array_length(ports), 0) = 0 THEN
        PERFORM iaas.port_create(t, jsonb_build_object('network_id', iaas.network_default(t)),
                                 'compute:stratus', inst);
        RETURN;
    END IF;
    FOR x IN SELECT * FROM jsonb_array_elements(coalesce(nets, '[]')) LOOP
        PERFORM iaas.instance_nic(t, inst, x);
    END LOOP;
    FOR x IN SELECT * FROM jsonb_array_elements(coalesce(ports, '[]')) LOOP
        PERFORM iaas.port_bind(t, inst, iaas.to_uuid(x #>> '{}', 'ports[]'));
    END LOOP;
END $$;

-- The tenant's instance inst, locked, when it is stopped with nothing in
-- progress (or never placed, in error); else SX404 / SX409.
CREATE FUNCTION iaas.instance_for_nics(t uuid, inst uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE i iaas.instances;
BEGIN
    SELECT * INTO i FROM iaas.instances WHERE id = inst AND tenant_id = t
        AND state <> 'deleted' FOR UPDATE;
    IF i.id IS NULL THEN
        PERFORM iaas.fail('SX404', 'no such instance');
    END IF;
    IF NOT ((i.state = 'stopped' AND i.task IS NULL) OR (i.state = 'error' AND i.node_id IS NULL))
    THEN
        PERFORM iaas.fail('SX409', format('ports are attached to and detached from a stopped'
                                          ' instance; this one is %s', i.state));
    END IF;
    UPDATE iaas.instances SET generation = generation + 1 WHERE id = inst;
END $$;

CREATE FUNCTION iaas.instance_attach(t uuid, inst uuid, x jsonb) RETURNS uuid
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM iaas.instance_for_nics(t, inst);
    IF (SELECT count(*) FROM iaas.ports WHERE instance_id = inst) >= 8 THEN
        PERFORM iaas.fail('SX409', 'an instance has at most 8 NICs');
    END IF;
    RETURN iaas.instance_nic(t, inst, x);
END $$;

CREATE FUNCTION iaas.instance_detach(t uuid, inst uuid, pid uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM iaas.instance_for_nics(t, inst);
    DELETE FROM iaas.ports WHERE id = pid AND instance_id = inst AND auto_delete;
    IF NOT FOUND THEN
        UPDATE iaas.ports SET instance_id = NULL, device_owner = '', updated_at = now()
            WHERE id = pid AND instance_id = inst;
        IF NOT FOUND THEN
            PERFORM iaas.fail('SX404', 'no such port on this instance');
        END IF;
    END IF;
END $$;

-- An instance being deleted lets its ports go: those made for it are
-- deleted (their addresses freed), the tenant's own are unbound.
CREATE FUNCTION iaas.instance_release_ports() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM iaas.ports WHERE instance_id = NEW.id AND auto_delete;
    UPDATE iaas.ports SET instance_id = NULL, device_owner = '', updated_at = now()
        WHERE instance_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER instances_release_ports AFTER UPDATE OF state ON iaas.instances
    FOR EACH ROW WHEN (NEW.state IN ('deleting', 'deleted')
                       AND OLD.state NOT IN ('deleting', 'deleted'))
    EXECUTE FUNCTION iaas.instance_release_ports();
