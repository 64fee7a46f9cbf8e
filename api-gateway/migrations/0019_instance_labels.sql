-- Instance names for billing's invoices (billing/rating.c): billing prints
-- each instance's name beside its id and reads it through this function,
-- part of the gateway's published contract (like migration 0011), never the
-- tables. Deleted instances keep their rows, so a past month's invoice still
-- names them; only the tenant's own instances are answered.
CREATE FUNCTION iaas.instance_labels(tenant uuid, ids uuid[])
    RETURNS TABLE (id uuid, name text) LANGUAGE sql STABLE AS $$
    SELECT i.id, i.name FROM iaas.instances i WHERE i.tenant_id = tenant AND i.id = ANY(ids)
$$;
