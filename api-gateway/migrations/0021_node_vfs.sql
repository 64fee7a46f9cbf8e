-- SR-IOV capacity: the virtual functions a node's agent found enabled on its
-- physical NICs (sysfs sriov_numvfs over every PF), sent with its heartbeat.
-- The scheduler places an instance with `vnic_type: direct` ports only on a
-- node whose VFs not yet taken by other instances' direct ports cover them.
ALTER TABLE iaas.nodes ADD COLUMN sriov_vfs integer NOT NULL DEFAULT 0 CHECK (sriov_vfs >= 0);

-- Attaching a direct port to an instance already placed takes one of its
-- host's VFs: refused (409) when none is free, under the node's row lock
-- as the scheduler's claim takes it.
CREATE OR REPLACE FUNCTION iaas.instance_attach(t uuid, inst uuid, x jsonb) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    pid uuid;
    nid uuid;
BEGIN
    PERFORM iaas.instance_for_nics(t, inst);
    IF (SELECT count(*) FROM iaas.ports WHERE instance_id = inst) >= 8 THEN
        PERFORM iaas.fail('SX409', 'an instance has at most 8 NICs');
    END IF;
    pid := iaas.instance_nic(t, inst, x);
    SELECT node_id INTO nid FROM iaas.instances WHERE id = inst;
    IF nid IS NOT NULL AND (SELECT vnic_type FROM iaas.ports WHERE id = pid) = 'direct' THEN
        IF (SELECT sriov_vfs FROM iaas.nodes WHERE id = nid FOR UPDATE) <
           (SELECT count(*) FROM iaas.ports p JOIN iaas.instances i ON i.id = p.instance_id
             WHERE p.vnic_type = 'direct' AND i.node_id = nid
               AND i.state NOT IN ('deleted', 'error')) THEN
            PERFORM iaas.fail('SX409', 'the instance''s host has no free SR-IOV VF');
        END IF;
    END IF;
    RETURN pid;
END $$;
