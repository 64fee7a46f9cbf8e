-- Network bytes per port. A node names the network port each NIC plugs
-- into (counters.nics[].port_id); billing keeps those NICs' cumulative
-- rx/tx bytes beside the instance totals, in the raw sample and in its
-- stream's head, as three parallel arrays (port i: port_ids[i], port_rx[i],
-- port_tx[i]). NULL: the sample did not name its NICs' ports (an older
-- node), so its per-port baseline is unknown; '{}': no NIC.
ALTER TABLE billing.samples
    ADD COLUMN port_ids uuid[],
    ADD COLUMN port_rx bigint[],
    ADD COLUMN port_tx bigint[];
ALTER TABLE billing.streams
    ADD COLUMN port_ids uuid[],
    ADD COLUMN port_rx bigint[],
    ADD COLUMN port_tx bigint[];

-- Per (instance, port, hour) the bytes of the intervals that ended in the
-- hour, by the rules of usage_hourly (ingest.c): replays, duplicates and
-- arrival order change nothing, a new boot counts from zero. A period's
-- rows are part of, never more than, its instance's rx/tx in usage_hourly
-- when counters only grow; rating bills them per port and the rest on the
-- instance's own lines.
CREATE TABLE billing.port_usage_hourly (
    tenant_id uuid NOT NULL,
    period date NOT NULL,
    instance_id uuid NOT NULL,
    port_id uuid NOT NULL,
    hour timestamptz NOT NULL,
    rx_bytes bigint NOT NULL DEFAULT 0,
    tx_bytes bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, period, instance_id, port_id, hour)
);
