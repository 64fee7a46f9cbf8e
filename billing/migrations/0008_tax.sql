-- A plan version may carry its own tax rate, in basis points (1900 =
-- 19.00%), which then applies to its lines instead of the rate of the
-- customer's country (tax.rates in the configuration). NULL: by country.
-- A reverse-charge customer pays no tax whatever the plan says (tax.c).
ALTER TABLE billing.plan_versions
    ADD COLUMN tax_rate_bp integer CHECK (tax_rate_bp BETWEEN 0 AND 10000);
