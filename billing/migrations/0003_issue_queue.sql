-- Issuing a month in two steps, so ingest is never held up for long:
-- 1. one short transaction (issue lock exclusive) moves issued_through to the
--    month, which freezes its rows (from then on ingest bills late usage of
--    it in the next period), records issue_started_at, and queues one row per
--    tenant with usage in the month;
-- 2. each tenant's invoice is then rated, rendered, numbered and stored in a
--    transaction of its own that also removes its queue row. The state row
--    is locked FOR UPDATE to take a number, so numbers stay gapless.
-- A crash in between leaves queue rows; issuing the month again (or the
-- maintenance pass) finishes them with the same issue time.
CREATE TABLE billing.issue_queue (
    period date NOT NULL,
    tenant_id uuid NOT NULL,
    PRIMARY KEY (period, tenant_id)
);
ALTER TABLE billing.state ADD COLUMN issue_started_at timestamptz;
