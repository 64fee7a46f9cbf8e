-- Credit notes: corrections to an issued invoice, which itself never
-- changes. A credit note refers to one invoice, credits (net) amounts of
-- some of its lines, with the tax of those lines' rates, and is numbered
-- from its own gapless counter (state.next_credit_number, row-locked like
-- invoice numbers). Like invoices, never updated or deleted once made.
ALTER TABLE billing.state ADD COLUMN next_credit_number bigint NOT NULL DEFAULT 1;

CREATE TABLE billing.credit_notes (
    id uuid PRIMARY KEY,
    number bigint NOT NULL UNIQUE,
    number_text text NOT NULL,
    invoice_id uuid NOT NULL REFERENCES billing.invoices,
    tenant_id uuid NOT NULL,
    issued_at timestamptz NOT NULL,
    currency text NOT NULL,
    reason text NOT NULL,
    net_micro bigint NOT NULL CHECK (net_micro > 0),
    tax_micro bigint NOT NULL CHECK (tax_micro >= 0),
    total_micro bigint NOT NULL,
    doc_json text NOT NULL
);
CREATE INDEX credit_notes_invoice ON billing.credit_notes (invoice_id);
CREATE INDEX credit_notes_tenant ON billing.credit_notes (tenant_id, number);

-- What each credit note credited, per invoice line (for the remaining
-- amounts and the cumulative tax of each rate).
CREATE TABLE billing.credit_note_lines (
    credit_id uuid NOT NULL REFERENCES billing.credit_notes,
    invoice_id uuid NOT NULL,
    line integer NOT NULL,
    tax_rate_bp integer NOT NULL,
    net_micro bigint NOT NULL CHECK (net_micro > 0),
    tax_micro bigint NOT NULL,
    PRIMARY KEY (credit_id, line)
);
CREATE INDEX credit_note_lines_invoice ON billing.credit_note_lines (invoice_id, line);

CREATE TRIGGER credit_notes_immutable BEFORE UPDATE OR DELETE ON billing.credit_notes
    FOR EACH ROW EXECUTE FUNCTION billing.refuse_change();
CREATE TRIGGER credit_note_lines_immutable BEFORE UPDATE OR DELETE ON billing.credit_note_lines
    FOR EACH ROW EXECUTE FUNCTION billing.refuse_change();
