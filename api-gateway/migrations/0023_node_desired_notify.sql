-- A notification on channel stratus_node_desired, payload the node's id,
-- whenever a node's desired-set version (0010) is raised: a gateway holding
-- that node's long-poll (GET /internal/v1/node/instances?wait=N, nodes.c and
-- nodewait.c) LISTENs on the channel and answers at once. PostgreSQL sends it
-- at commit, so no waiter can read the set before the change is visible, and
-- several raises of one node in a transaction become one notification.
CREATE FUNCTION iaas.node_desired_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('stratus_node_desired', NEW.node_id::text);
    RETURN NULL;
END $$;

CREATE TRIGGER node_desired_notify AFTER INSERT OR UPDATE ON iaas.node_desired_versions
    FOR EACH ROW EXECUTE FUNCTION iaas.node_desired_notify();
