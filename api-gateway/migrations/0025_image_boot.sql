-- How instances boot (issue 15): through firmware (a disk image with its own
-- bootloader, SeaBIOS on the node) or a kernel loaded directly.
--
-- nodes.firmware: the node's agent found its BIOS image (vm.firmware) and
-- says so in its heartbeat (capacity.firmware); the scheduler places
-- firmware-booted instances only on such nodes.
ALTER TABLE iaas.nodes ADD COLUMN firmware boolean NOT NULL DEFAULT false;

-- What an instance boots, fixed when it is created from its image's record
-- (as Nova keeps kernel_id and ramdisk_id on the instance): boot, and the
-- kernel and ramdisk images a disk image names. Instances made before this
-- booted their image as a kernel (the default; the API always sets it).
ALTER TABLE iaas.instances
    ADD COLUMN boot text NOT NULL DEFAULT 'kernel' CHECK (boot IN ('firmware', 'kernel')),
    ADD COLUMN kernel_id uuid,
    ADD COLUMN ramdisk_id uuid;

-- A node reads the images an instance placed on it boots from: its image,
-- and the kernel and ramdisk that image names.
CREATE OR REPLACE FUNCTION iaas.node_may_read_image(node uuid, image uuid) RETURNS boolean
    LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM iaas.instances i WHERE i.node_id = node
                   AND image IN (i.image_id, i.kernel_id, i.ramdisk_id)
                   AND i.state NOT IN ('deleted', 'error'))
$$;
