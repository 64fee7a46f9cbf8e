-- Quota limits as wide as the API takes them.
--
-- PUT /v1/tenants/{id}/quotas accepts every limit from 0 to 2^40 (the
-- memory and disk limits were bigint from the start), but the counted
-- limits were integer: 2147483648 instances answered 500. They are bigint
-- now, like the rest; iaas.quota_check() and the gateway already read them
-- as 64-bit numbers.
ALTER TABLE iaas.quotas
    ALTER COLUMN instances       TYPE bigint,
    ALTER COLUMN vcpus           TYPE bigint,
    ALTER COLUMN networks        TYPE bigint,
    ALTER COLUMN ports           TYPE bigint,
    ALTER COLUMN security_groups TYPE bigint,
    ALTER COLUMN floating_ips    TYPE bigint;
