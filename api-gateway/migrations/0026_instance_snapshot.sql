-- Instance snapshots (issue 16): POST /v1/instances/{id}/actions
-- {"action": "snapshot", "name": ...}, Nova's createImage.
--
-- task image_snapshot (Nova's task state of that name) while the node
-- copies the disk; snapshot_image_id is the image the gateway created for
-- it in the image service (queued until the node uploads) and the order in
-- the node's desired set while the task is image_snapshot (the last one
-- stays, meaning nothing, once the task is cleared: every path that clears
-- a task need not know of it). The node's report naming the image clears
-- the task.
ALTER TABLE iaas.instances DROP CONSTRAINT instances_task_check;
ALTER TABLE iaas.instances
    ADD CONSTRAINT instances_task_check
        CHECK (task IN ('starting', 'stopping', 'rebooting', 'image_snapshot')),
    ADD COLUMN snapshot_image_id uuid,
    ADD CONSTRAINT instances_snapshot_task
        CHECK (task IS DISTINCT FROM 'image_snapshot' OR snapshot_image_id IS NOT NULL);

-- The image service's question before it takes a node's upload (common/
-- nodeauth.h, st_node_may_write_image): is instance placed on node now and
-- being snapshotted into image? Like node_may_read_image, one of the
-- functions that are the gateway's contract with the other services.
CREATE FUNCTION iaas.node_may_write_image(node uuid, instance uuid, image uuid) RETURNS boolean
    LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM iaas.instances i WHERE i.id = instance AND i.node_id = node
                   AND i.task = 'image_snapshot' AND i.snapshot_image_id = image
                   AND i.state IN ('active', 'stopped'))
$$;
