-- Evacuation (issue 16, "High availability"; Nova's evacuate and
-- host-evacuate): the instances of a host that is down are rebuilt on
-- another host (evacuate.c).
--
-- task evacuating: the instance was placed on a new host and waits for it
-- to report (active or stopped, as its power_desired says), which clears
-- the task (nodes.c).
--
-- disk_backend says where an instance's disk lives: 'local' (an overlay in
-- the node's state directory, lost with the host: an evacuation rebuilds it
-- from the image and needs the caller's confirm_data_loss) or 'rbd' (a Ceph
-- RBD image any host opens: rebuilt elsewhere from the same disk, nothing
-- lost).
ALTER TABLE iaas.instances DROP CONSTRAINT instances_task_check;
ALTER TABLE iaas.instances
    ADD CONSTRAINT instances_task_check
        CHECK (task IN ('starting', 'stopping', 'rebooting', 'image_snapshot', 'evacuating')),
    ADD COLUMN disk_backend text NOT NULL DEFAULT 'local'
        CHECK (disk_backend IN ('local', 'rbd'));

-- One row per instance moved off a dead host. While cleaned_at is null the
-- source node's desired set names the instance under `evacuated`: a node
-- that comes back removes what it left of it (its guest already stopped by
-- the agent's fence) and confirms (PUT /internal/v1/node/evacuations/{id}),
-- as Nova's compute service destroys evacuated instances at start-up and
-- marks their migration completed.
CREATE TABLE iaas.evacuations (
    instance_id    uuid NOT NULL REFERENCES iaas.instances(id) ON DELETE CASCADE,
    source_node_id uuid NOT NULL REFERENCES iaas.nodes(id) ON DELETE CASCADE,
    dest_node_id   uuid REFERENCES iaas.nodes(id) ON DELETE SET NULL,
    data_loss      boolean NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    cleaned_at     timestamptz,
    PRIMARY KEY (instance_id, source_node_id)
);
CREATE INDEX evacuations_source ON iaas.evacuations (source_node_id) WHERE cleaned_at IS NULL;

-- The last fence the node's agent reported (its heartbeat's `fenced_at`):
-- when it stopped its guests for want of the gateway.
ALTER TABLE iaas.nodes ADD COLUMN fenced_at timestamptz;
