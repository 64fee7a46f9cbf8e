-- A version per compute node of the set of instances it should run
-- (GET /internal/v1/node/instances), raised whenever an instance row on the
-- node changes, is placed on it or leaves it, so an agent polling with
-- If-None-Match gets 304 while nothing it must do has changed (nodes.c).
-- The desired set is made of instance rows plus the flavor's name and the
-- keypair's public key, neither of which can change.
CREATE TABLE iaas.node_desired_versions (
    node_id uuid PRIMARY KEY,
    version bigint NOT NULL
);

-- The raise joins the tenant's list version (0009) in the same deferred
-- trigger, nodes first in id order, then the tenant: every transaction
-- takes these locks at commit in that order.
CREATE OR REPLACE FUNCTION iaas.instance_list_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    o uuid := CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.node_id END;
    n uuid := CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.node_id END;
BEGIN
    INSERT INTO iaas.node_desired_versions AS v
        SELECT DISTINCT x, 1 FROM unnest(ARRAY[o, n]) AS x WHERE x IS NOT NULL ORDER BY x
        ON CONFLICT (node_id) DO UPDATE SET version = v.version + 1;
    INSERT INTO iaas.instance_list_versions AS v
        VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant_id ELSE NEW.tenant_id END, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = v.version + 1;
    RETURN NULL;
END $$;
