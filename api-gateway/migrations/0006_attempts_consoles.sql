-- Launch attempts: a node that failed to launch an instance reports a
-- retryable error; the scheduler then places the instance on a host that
-- has not failed it yet, a bounded number of times.
CREATE TABLE iaas.instance_attempts (
    instance_id uuid NOT NULL REFERENCES iaas.instances(id) ON DELETE CASCADE,
    node_id     uuid NOT NULL REFERENCES iaas.nodes(id) ON DELETE CASCADE,
    fault       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (instance_id, node_id)
);

-- The tail of each instance's serial console, pushed by its node.
CREATE TABLE iaas.instance_consoles (
    instance_id uuid PRIMARY KEY REFERENCES iaas.instances(id) ON DELETE CASCADE,
    output      bytea NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
