-- Instance snapshots (issue 16): an image made from an instance's disk
-- (Nova's createImage, EC2's CreateImage). The gateway creates the record
-- (POST /v1/snapshots, api.c) for the instance's tenant; the node holding
-- the instance uploads its flattened disk with its node credential, which
-- the image service accepts only for a queued image whose source instance
-- is placed on that node with this snapshot as its order
-- (iaas.node_may_write_image, the gateway's migration 0026).
ALTER TABLE images.images ADD COLUMN source_instance_id uuid;
CREATE INDEX images_source_instance ON images.images (source_instance_id)
    WHERE source_instance_id IS NOT NULL;
