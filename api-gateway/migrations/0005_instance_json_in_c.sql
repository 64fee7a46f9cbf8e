-- Instances are now rendered by the gateway (instances.c, gw_instance_write):
-- one representation, and the database no longer spends its CPU on JSON for
-- the hottest list. Drop the SQL renderer so the two cannot drift apart.
DROP FUNCTION iaas.instance_json(iaas.instances);
