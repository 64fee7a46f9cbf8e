-- Nodes no longer hold a billing credential of their own: they present the
-- one credential the gateway issued (common/nodeauth.h), and billing checks
-- it, and the placement of every sample, through the gateway's functions.
DROP TABLE billing.nodes;
