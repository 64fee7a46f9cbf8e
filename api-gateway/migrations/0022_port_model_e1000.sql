-- Ports may ask for an emulated Intel 82540EM (model 'e1000') instead of
-- virtio-net, for guests without virtio drivers; stratus-vmm and the node
-- agent offer both. The table's check widens, and port_create (0012) is
-- wrapped rather than rewritten: the wrapper checks the model, makes the
-- port through the original with the model left out, then sets it.
ALTER TABLE iaas.ports DROP CONSTRAINT ports_model_check,
    ADD CONSTRAINT ports_model_check CHECK (model IN ('virtio', 'e1000'));

ALTER FUNCTION iaas.port_create(uuid, jsonb, text, uuid) RENAME TO port_create_0012;

CREATE FUNCTION iaas.port_create(t uuid, b jsonb, owner text, inst uuid) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE pid uuid; m text := coalesce(b->>'model', 'virtio');
BEGIN
    IF m NOT IN ('virtio', 'e1000') THEN
        PERFORM iaas.fail('SX400', 'model must be virtio or e1000');
    END IF;
    pid := iaas.port_create_0012(t, b - 'model', owner, inst);
    UPDATE iaas.ports SET model = m WHERE id = pid;
    RETURN pid;
END $$;
