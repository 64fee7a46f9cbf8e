-- How an image boots (issue 15, "Images in the image store").
--
-- kind: what the bytes are. 'disk' is a guest's disk; 'kernel' and
-- 'ramdisk' are a kernel and an initrd that disk images name for direct
-- kernel boot (EC2's AKI/ARI, Glance's kernel_id/ramdisk_id). A kind of its
-- own rather than Glance's container_format aki/ari: the container is not
-- what differs (a kernel is stored raw, or qcow2 flattened once by the
-- node), its role is.
--
-- boot (disks only): 'firmware', a disk with its own bootloader booted
-- through SeaBIOS, or 'kernel', booted directly: with kernel_id (and
-- optionally ramdisk_id) the named kernel boots with this disk as its root
-- disk; without, the disk's bytes are the kernel (the only way before this
-- migration, so every existing image keeps boot 'kernel'). A kernel image
-- boots directly too (boot 'kernel'); a ramdisk does not boot (boot NULL).
ALTER TABLE images.images
    ADD COLUMN kind text NOT NULL DEFAULT 'disk' CHECK (kind IN ('disk', 'kernel', 'ramdisk')),
    ADD COLUMN boot text DEFAULT 'kernel' CHECK (boot IN ('firmware', 'kernel')),
    ADD COLUMN kernel_id uuid REFERENCES images.images (id),
    ADD COLUMN ramdisk_id uuid REFERENCES images.images (id);
ALTER TABLE images.images ALTER COLUMN boot DROP DEFAULT;
ALTER TABLE images.images
    ADD CONSTRAINT images_boot_of_kind CHECK ((kind = 'disk' AND boot IS NOT NULL)
        OR (kind = 'kernel' AND boot = 'kernel') OR (kind = 'ramdisk' AND boot IS NULL)),
    ADD CONSTRAINT images_kernel_boot CHECK ((kernel_id IS NULL AND ramdisk_id IS NULL)
        OR (kind = 'disk' AND boot = 'kernel' AND kernel_id IS NOT NULL));
CREATE INDEX images_kernel ON images.images (kernel_id) WHERE kernel_id IS NOT NULL;
CREATE INDEX images_ramdisk ON images.images (ramdisk_id) WHERE ramdisk_id IS NOT NULL;
