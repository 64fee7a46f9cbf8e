-- Graceful stop and reboot (the ACPI power button; agent reconcile.c).
-- stop_force and reboot_hard belong to the current order: a stop with
-- {"force": true} skips the power button's grace period; a reboot of
-- {"type": "hard"} resets at once instead of a graceful stop and a new boot.
-- last_stop / last_stop_at: how the node says the last stop (or the stop
-- inside a soft reboot) ended: the guest powered off (graceful) or the
-- node ended the VM after the grace period or at once (forced).
ALTER TABLE iaas.instances
    ADD COLUMN stop_force boolean NOT NULL DEFAULT false,
    ADD COLUMN reboot_hard boolean NOT NULL DEFAULT false,
    ADD COLUMN last_stop text CHECK (last_stop IN ('graceful', 'forced')),
    ADD COLUMN last_stop_at timestamptz;
