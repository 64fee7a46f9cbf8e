-- Customer records: one billing account per tenant, the buyer an invoice
-- names (legal name, postal address, ISO 3166-1 alpha-2 country, tax/VAT
-- ID, email). Managed by the tenant's admin and by cloud admins (account.c).
-- An issued invoice copies the account into its stored documents, so a
-- later change never alters an issued invoice.
CREATE TABLE billing.accounts (
    tenant_id uuid PRIMARY KEY,
    legal_name text NOT NULL CHECK (length(legal_name) BETWEEN 1 AND 200),
    address text NOT NULL CHECK (length(address) BETWEEN 1 AND 500),
    country text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    tax_id text NOT NULL DEFAULT '' CHECK (length(tax_id) <= 32),
    email text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The invoice number as printed (invoice.number_format at issue), kept so a
-- later change of the format never renames an issued invoice.
ALTER TABLE billing.invoices ADD COLUMN number_text text;
