-- Block migration (issue 16): a live migration that copies the instance's
-- local disk along with its memory (stratus-vmm's "block_migration", QEMU's
-- drive-mirror), so an instance whose disk is on its host's own storage
-- moves too. The action's "block_migration" (absent: copy a local disk
-- unless instances.shared_storage) is kept here; the source's agent is told
-- it in the desired set's `migration` and removes its copy of the disk only
-- once the migration completed.
ALTER TABLE iaas.migrations ADD COLUMN block_migration boolean NOT NULL DEFAULT false;
