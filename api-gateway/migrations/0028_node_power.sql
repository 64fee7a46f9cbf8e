-- Node power (power.c): the gateway powers emptied hosts off through a
-- configured command and on again when a placement needs one.
--
-- power_state: on; powering_off (marked first, so nothing is placed, and
-- only while the host holds no instance; the off command runs); off;
-- powering_on (the on command ran or runs; the host is on once its agent
-- heartbeats). power_fault: why the last command failed (NULL after a
-- success). power_since: when power_state last changed. power_cmd_at: a
-- gateway started the pending command (NULL: none yet), so two gateways
-- never run it twice. empty_since: when the power manager first saw the
-- host empty (NULL: it holds instances).
ALTER TABLE iaas.nodes
    ADD COLUMN power_state text NOT NULL DEFAULT 'on'
        CHECK (power_state IN ('on', 'powering_off', 'off', 'powering_on')),
    ADD COLUMN power_fault text,
    ADD COLUMN power_since timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN power_cmd_at timestamptz,
    ADD COLUMN empty_since timestamptz;

-- An instance placed on a host that is not on yet waits, building, with
-- the task waiting_host_power_on until the host's agent heartbeats.
ALTER TABLE iaas.instances DROP CONSTRAINT instances_task_check;
ALTER TABLE iaas.instances
    ADD CONSTRAINT instances_task_check
        CHECK (task IN ('starting', 'stopping', 'rebooting', 'image_snapshot', 'evacuating',
                        'waiting_host_power_on'));

CREATE OR REPLACE FUNCTION iaas.instance_state_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state THEN
        IF NOT EXISTS (SELECT 1 FROM iaas.instance_transitions
                       WHERE from_state = OLD.state AND to_state = NEW.state) THEN
            RAISE EXCEPTION 'instance % cannot go from % to %', OLD.id, OLD.state, NEW.state
                USING ERRCODE = 'SX409';
        END IF;
        IF NEW.state = 'deleted' THEN
            NEW.deleted_at := now();
        END IF;
    END IF;
    IF NEW.state = 'building' AND NEW.task IS NOT NULL
       AND NEW.task <> 'waiting_host_power_on' THEN
        RAISE EXCEPTION 'a building instance has no task' USING ERRCODE = 'SX409';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;

-- Placed (created, or a launch retried elsewhere) on a host that is not on:
-- the instance waits for it. Deleted while waiting: gone at once, since no
-- agent ever saw it. Runs before instances_state_guard (triggers fire in
-- name order).
CREATE FUNCTION iaas.instance_power_wait() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.task = 'waiting_host_power_on' AND NEW.state = 'deleting' THEN
        NEW.state := 'deleted';
        RETURN NEW;
    END IF;
    IF NEW.state = 'building' AND NEW.node_id IS NOT NULL
       AND (TG_OP = 'INSERT' OR NEW.node_id IS DISTINCT FROM OLD.node_id) THEN
        NEW.task := CASE WHEN (SELECT power_state FROM iaas.nodes WHERE id = NEW.node_id) = 'on'
                         THEN NULL ELSE 'waiting_host_power_on' END;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER instances_power_wait BEFORE INSERT OR UPDATE ON iaas.instances
    FOR EACH ROW EXECUTE FUNCTION iaas.instance_power_wait();

-- A heartbeat is the host's agent running: an off or powering-on host is on
-- (a powering-off one keeps going: its agent beats until the end), and the
-- instances waiting for it are launched (their task cleared).
CREATE FUNCTION iaas.node_power_heartbeat() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.last_heartbeat IS DISTINCT FROM OLD.last_heartbeat
       AND NEW.power_state IN ('off', 'powering_on') THEN
        NEW.power_state := 'on';
        NEW.power_since := now();
        NEW.power_cmd_at := NULL;
        NEW.empty_since := NULL; -- idle from now on, not from before it was off
        IF OLD.power_state = 'powering_on' THEN
            NEW.power_fault := NULL;
        END IF;
        UPDATE iaas.instances SET task = NULL, generation = generation + 1
            WHERE node_id = NEW.id AND task = 'waiting_host_power_on';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER nodes_power_heartbeat BEFORE UPDATE ON iaas.nodes
    FOR EACH ROW EXECUTE FUNCTION iaas.node_power_heartbeat();
