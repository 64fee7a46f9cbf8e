-- What lets a gateway answer GET /v1/instances from a rendered copy while
-- still asking the database on every request (listcache.c).
--
-- instance_list_versions: a counter per tenant, raised whenever one of the
-- tenant's instance rows is inserted, changed or deleted. The raise runs as a
-- deferred constraint trigger, at commit, after everything else the
-- transaction locks: the counter row's lock is the last one taken and held
-- only while committing, so it cannot join a deadlock with the quota,
-- node and instance locks taken earlier in the transaction.
-- No foreign key: a tenant's deletion cascades to its instances, whose
-- triggers then raise a counter for a tenant that is gone.
CREATE TABLE iaas.instance_list_versions (
    tenant_id uuid PRIMARY KEY,
    version   bigint NOT NULL
);
-- host_status_epoch: raised when any host's status could have changed other
-- than by the passing of time: a host disabled or enabled, or a host that had
-- stopped sending heartbeats sending one again (nodes.c). A host going down
-- is the clock's doing; a cached list expires when its first "up" host would.
CREATE TABLE iaas.host_status_epoch (
    one   boolean PRIMARY KEY DEFAULT true CHECK (one),
    epoch bigint NOT NULL
);
INSERT INTO iaas.host_status_epoch VALUES (true, 0);

CREATE FUNCTION iaas.instance_list_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO iaas.instance_list_versions AS v
        VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant_id ELSE NEW.tenant_id END, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = v.version + 1;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER instances_list_bump AFTER INSERT OR UPDATE OR DELETE ON iaas.instances
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION iaas.instance_list_bump();

CREATE FUNCTION iaas.host_status_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE iaas.host_status_epoch SET epoch = epoch + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER nodes_status_bump AFTER UPDATE OF disabled ON iaas.nodes
    FOR EACH ROW WHEN (OLD.disabled IS DISTINCT FROM NEW.disabled)
    EXECUTE FUNCTION iaas.host_status_bump();
