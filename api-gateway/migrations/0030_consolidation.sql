-- Consolidation carried out (schedrun.c): live migrations that empty hosts
-- so the power manager can power them off.
--
-- draining_until: while it is in the future the host is being emptied by
-- the consolidation and takes no new instance nor any migration (the
-- scheduler's "draining" filter). A run that starts moves off a host sets it
-- to now() + consolidation.drain_for; the power-off (power.c) clears it, and
-- it lapses on its own if the plan is given up, so a host is never held
-- out of service by a run that went away.
ALTER TABLE iaas.nodes ADD COLUMN draining_until timestamptz;

-- The host manager's own runs (rebalance.interval, consolidation.interval):
-- one row per kind, updated by the gateway that acts, so the runs happen
-- once per interval however many gateways tick.
CREATE TABLE iaas.scheduler_runs (
    kind text PRIMARY KEY CHECK (kind IN ('rebalance', 'consolidation')),
    last_run_at timestamptz NOT NULL,
    runs bigint NOT NULL DEFAULT 1,
    last_started int NOT NULL DEFAULT 0,
    last_skipped int NOT NULL DEFAULT 0
);
