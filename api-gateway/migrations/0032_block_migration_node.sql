-- A node's agent copies an instance's local disk along with a live migration
-- (block migration, 0031), sending and receiving: its heartbeat's
-- capacity.block_migration. An agent that does not say so (one from before
-- block migration) cannot: an instance on a local disk neither leaves such a
-- host nor is sent to it; the scheduler's migration filter and the plans'
-- pins read this.
ALTER TABLE iaas.nodes ADD COLUMN block_migration boolean NOT NULL DEFAULT false;
