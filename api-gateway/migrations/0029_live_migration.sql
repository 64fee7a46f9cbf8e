-- Live migration (issue 16): a running instance moves to another host
-- while its guest runs (migrate.c has the protocol between the gateway and
-- the two agents).
--
-- task migrating: a migration of the instance is under way; the instance
-- stays on its source host (node_id) until the source's agent reports the
-- migration completed.
ALTER TABLE iaas.instances DROP CONSTRAINT instances_task_check;
ALTER TABLE iaas.instances
    ADD CONSTRAINT instances_task_check
        CHECK (task IN ('starting', 'stopping', 'rebooting', 'image_snapshot', 'evacuating',
                        'waiting_host_power_on', 'migrating'));

-- A node's agent can take part in a live migration (its heartbeat's
-- capacity.live_migration: its driver receives and sends one; libvirt's
-- does not yet). An agent that does not say so cannot.
ALTER TABLE iaas.nodes ADD COLUMN live_migration boolean NOT NULL DEFAULT false;

-- One row per migration, kept after it ends (GET /v1/migrations).
--
-- state: preparing (the target's agent is told to start the instance as
-- incoming and has not said where it listens yet), migrating (the target
-- listens at incoming_uri; the source's agent is told to send there and
-- reports progress), then completed, failed or cancelled (finished_at
-- set). cancel_requested: an admin asked to cancel; the source's agent
-- cancels and reports cancelled. max_downtime_ms, timeout_s and on_timeout
-- are the caller's; round ... total_ms are the source VMM's last progress
-- (GET /vm/migrate), downtime_ms the measured downtime of a completed one.
CREATE TABLE iaas.migrations (
    id                uuid PRIMARY KEY,
    instance_id       uuid NOT NULL REFERENCES iaas.instances(id) ON DELETE CASCADE,
    tenant_id         uuid NOT NULL,
    source_node_id    uuid REFERENCES iaas.nodes(id) ON DELETE SET NULL,
    dest_node_id      uuid REFERENCES iaas.nodes(id) ON DELETE SET NULL,
    source_node       text NOT NULL,
    dest_node         text NOT NULL,
    state             text NOT NULL DEFAULT 'preparing'
        CHECK (state IN ('preparing', 'migrating', 'completed', 'failed', 'cancelled')),
    cancel_requested  boolean NOT NULL DEFAULT false,
    max_downtime_ms   integer NOT NULL,
    timeout_s         integer NOT NULL,
    on_timeout        text NOT NULL CHECK (on_timeout IN ('cancel', 'force')),
    incoming_uri      text,
    round             integer NOT NULL DEFAULT 0,
    transferred_bytes bigint NOT NULL DEFAULT 0,
    remaining_bytes   bigint NOT NULL DEFAULT 0,
    total_bytes       bigint NOT NULL DEFAULT 0,
    throttle_pct      integer NOT NULL DEFAULT 0,
    downtime_ms       bigint,
    total_ms          bigint,
    error             text,
    requested_by      uuid,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    CHECK ((finished_at IS NULL) = (state IN ('preparing', 'migrating')))
);
-- At most one migration of an instance under way.
CREATE UNIQUE INDEX migrations_one_live ON iaas.migrations (instance_id)
    WHERE finished_at IS NULL;
CREATE INDEX migrations_created ON iaas.migrations (created_at DESC, id);
CREATE INDEX migrations_dest_live ON iaas.migrations (dest_node_id) WHERE finished_at IS NULL;

-- Every change of a migration shows in its tenant's instance list (the
-- instance's `migration`); a change of what the agents must do (the state,
-- the URI, a cancel) raises both nodes' desired-set versions, progress
-- alone does not (it would wake the source's long-poll at every report).
CREATE FUNCTION iaas.migration_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.state IS DISTINCT FROM OLD.state
       OR NEW.incoming_uri IS DISTINCT FROM OLD.incoming_uri
       OR NEW.cancel_requested IS DISTINCT FROM OLD.cancel_requested THEN
        PERFORM iaas.nodes_bump(ARRAY[NEW.source_node_id, NEW.dest_node_id]);
    END IF;
    INSERT INTO iaas.instance_list_versions AS v VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = v.version + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER migrations_bump AFTER INSERT OR UPDATE ON iaas.migrations
    FOR EACH ROW EXECUTE FUNCTION iaas.migration_bump();

-- A migration under way ends, failed, when its instance leaves the source
-- other than by the migration (an evacuation moved it: the completion
-- itself ends the migration first) or stops being active (it powered off,
-- failed or is being deleted); the task it held is cleared by whoever
-- changed the state. The target's agent then drops its incoming VM.
CREATE FUNCTION iaas.migration_abandon() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE iaas.migrations SET state = 'failed', finished_at = now(), updated_at = now(),
        error = CASE WHEN NEW.node_id IS DISTINCT FROM OLD.node_id
                     THEN 'the instance was moved off its source host'
                     ELSE 'the instance became ' || NEW.state END
    WHERE instance_id = NEW.id AND finished_at IS NULL
      AND (NEW.node_id IS DISTINCT FROM OLD.node_id OR NEW.state <> 'active');
    RETURN NULL;
END $$;
CREATE TRIGGER instances_migration_abandon AFTER UPDATE OF node_id, state ON iaas.instances
    FOR EACH ROW WHEN (NEW.node_id IS DISTINCT FROM OLD.node_id OR NEW.state <> 'active')
    EXECUTE FUNCTION iaas.migration_abandon();

-- The ports of the instances node should run, and of those migrating to
-- it: its data plane builds their taps, networks and security groups
-- before the incoming VMM starts.
CREATE OR REPLACE FUNCTION iaas.node_local_ports(node uuid) RETURNS SETOF iaas.ports
LANGUAGE sql STABLE AS $$
    SELECT p.* FROM iaas.ports p JOIN iaas.instances i ON i.id = p.instance_id
    WHERE (i.node_id = node AND i.state NOT IN ('deleted', 'error'))
       OR i.id IN (SELECT m.instance_id FROM iaas.migrations m
                   WHERE m.dest_node_id = node AND m.finished_at IS NULL)
$$;

-- A live migration's target reads the images its incoming instance boots
-- from (its base, kernel and ramdisk, for the disk's backing chain and
-- the VM's config) before the instance is placed on it.
CREATE OR REPLACE FUNCTION iaas.node_may_read_image(node uuid, image uuid) RETURNS boolean
    LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM iaas.instances i WHERE i.node_id = node
                   AND image IN (i.image_id, i.kernel_id, i.ramdisk_id)
                   AND i.state NOT IN ('deleted', 'error'))
        OR EXISTS (SELECT 1 FROM iaas.migrations m JOIN iaas.instances i ON i.id = m.instance_id
                   WHERE m.dest_node_id = node AND m.finished_at IS NULL
                   AND image IN (i.image_id, i.kernel_id, i.ramdisk_id))
$$;
