/*
 * nodeauth.h - a compute node's one identity, checked the same way by every
 * service (gateway, billing, images).
 *
 * A node holds one credential, "stn_" followed by 64 hex digits (256
 * random bits), issued by the gateway when an admin adds the host (POST
 * /v1/nodes, `stratus-gateway node-add`) and replaced by POST
 * /v1/nodes/{id}/credential (`node-rotate`). It is sent as
 * "Authorization: Bearer stn_..." to every service. Only its SHA-256 is
 * stored, in the gateway's iaas.nodes.
 *
 * Every service shares the cloud's PostgreSQL cluster, and reads the
 * gateway's facts through the functions of its migration 0011 (never its
 * tables): iaas.node_identify() says who holds a credential, and the
 * placement functions say what that node may touch. Each check reads the
 * current rows, with no cache, so a removed host or a replaced credential
 * is refused by every service from the next request on, and a new
 * credential works without restarting anything.
 *
 * Authorisation follows Kubernetes' node authorizer: a node touches only
 * its own objects (its desired set and reports in the gateway, the images
 * its instances boot from, the bytes of a snapshot of an instance on it, billing samples for
 * instances placed on it at the sample's time).
 */
#ifndef STRATUS_NODEAUTH_H
#define STRATUS_NODEAUTH_H

#include "stratus/db.h"

#include <stdint.h>

#define ST_NODE_CRED_PREFIX "stn_"
#define ST_NODE_CRED_LEN 68 /* "stn_" + 64 hex */

typedef struct st_node {
    char id[40];
    char name[64];
} st_node;

/* 1 when an Authorization header value carries a node credential
 * ("Bearer stn_..."; well formed or not), else 0: the caller is someone else. */
int st_node_credential_in(const char *authorization);

/* Identifies the node whose credential the Authorization header carries.
 * 0 with n filled; -1 not a current node credential (malformed, unknown,
 * replaced, or its host removed); -2 database error (st_db_error). */
int st_node_identify(st_db *db, const char *authorization, st_node *n);

/* 1 when an instance placed on node n now boots from image_id, 0 when none
 * does, -2 on a database error. */
int st_node_may_read_image(st_db *db, const st_node *n, const char *image_id);

/* 1 when instance_id is placed on node n now and is being snapshotted into
 * image_id (its task image_snapshot with that image: the one upload a node
 * may make), 0 otherwise, -2 on a database error. */
int st_node_may_write_image(st_db *db, const st_node *n, const char *instance_id,
                            const char *image_id);

/* Checks that each sample i (instance[i] of tenant[i], taken at at_us[i],
 * microseconds since the epoch) was of an instance placed on node n at
 * that time, give or take slack_us. -1 when all were; the index of the
 * first that was not; -2 on a database error. IDs must be UUIDs. */
long st_node_first_unplaced(st_db *db, const st_node *n, size_t count, const char *const *instance,
                            const char *const *tenant, const int64_t *at_us, int64_t slack_us);

#endif
