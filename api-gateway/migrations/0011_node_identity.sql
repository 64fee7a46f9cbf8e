-- One node identity for every service (common/nodeauth.h).
--
-- A node's credential is the one the gateway issued ("stn_" + 64 hex, its
-- SHA-256 in iaas.nodes.token_sha256). Billing and the image service share
-- this PostgreSQL cluster; they identify and authorise a node only through
-- the functions below, the gateway's published contract, and never read
-- iaas tables themselves. Each call reads the current rows, so a removed
-- node or a replaced credential is refused by every service at once.

-- Where each instance ran, and when: billing accepts a node's sample only
-- for an instance placed on that node at the sample's time. A row opens
-- when an instance is placed on a node and closes when it leaves the node
-- or is deleted. History is kept when a node is removed (no foreign key).
CREATE TABLE iaas.placements (
    instance_id uuid NOT NULL,
    tenant_id   uuid NOT NULL,
    node_id     uuid NOT NULL,
    since       timestamptz NOT NULL,
    until       timestamptz,
    CHECK (until IS NULL OR until >= since)
);
CREATE INDEX placements_instance ON iaas.placements (instance_id, node_id);
CREATE UNIQUE INDEX placements_open ON iaas.placements (instance_id) WHERE until IS NULL;

INSERT INTO iaas.placements (instance_id, tenant_id, node_id, since, until)
    SELECT id, tenant_id, node_id, created_at,
           CASE WHEN state = 'deleted' THEN coalesce(deleted_at, updated_at) END
    FROM iaas.instances WHERE node_id IS NOT NULL;

CREATE FUNCTION iaas.placement_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    gone boolean := NEW.state = 'deleted';
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.node_id IS NOT DISTINCT FROM NEW.node_id
       AND (OLD.state = 'deleted') = gone THEN
        RETURN NULL;
    END IF;
    UPDATE iaas.placements SET until = now()
        WHERE instance_id = NEW.id AND until IS NULL;
    IF NEW.node_id IS NOT NULL AND NOT gone THEN
        INSERT INTO iaas.placements (instance_id, tenant_id, node_id, since)
            VALUES (NEW.id, NEW.tenant_id, NEW.node_id, now());
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER instances_placement AFTER INSERT OR UPDATE OF node_id, state ON iaas.instances
    FOR EACH ROW EXECUTE FUNCTION iaas.placement_track();

-- The node holding the credential whose SHA-256 is sha (no row: none).
CREATE FUNCTION iaas.node_identify(sha text) RETURNS TABLE (id uuid, name text)
    LANGUAGE sql STABLE AS $$
    SELECT n.id, n.name FROM iaas.nodes n WHERE n.token_sha256 = sha
$$;

-- Whether an instance placed on the node now (the node's desired set) boots
-- from the image: the only image bytes a node may read.
CREATE FUNCTION iaas.node_may_read_image(node uuid, image uuid) RETURNS boolean
    LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM iaas.instances i WHERE i.node_id = node
                   AND i.image_id = image AND i.state NOT IN ('deleted', 'error'))
$$;

-- The 1-based position of the first sample (instance, tenant, time in
-- microseconds since the epoch) that was not placed on the node at its
-- time, give or take slack_us for clocks; NULL when every one was.
CREATE FUNCTION iaas.node_first_unplaced(node uuid, instances uuid[], tenants uuid[],
                                         at_us bigint[], slack_us bigint) RETURNS bigint
    LANGUAGE sql STABLE AS $$
    SELECT min(s.ord) FROM unnest(instances, tenants, at_us) WITH ORDINALITY
        AS s(instance_id, tenant_id, at_us, ord)
    WHERE NOT EXISTS (
        SELECT 1 FROM iaas.placements p
        WHERE p.instance_id = s.instance_id AND p.node_id = node
          AND p.tenant_id = s.tenant_id
          AND to_timestamp(s.at_us / 1e6) >= p.since - slack_us * interval '1 microsecond'
          AND to_timestamp(s.at_us / 1e6) <= coalesce(p.until, now())
                                             + slack_us * interval '1 microsecond')
$$;
