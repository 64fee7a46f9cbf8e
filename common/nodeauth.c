/*
 * nodeauth.c - node credentials and the node authorizer (nodeauth.h).
 *
 * The credential is looked up by its SHA-256 (an indexed equality on the
 * digest, as the gateway does for every token): the secret itself is never
 * compared, so there is nothing to time. Sample checks send their three
 * columns as PostgreSQL array literals, one statement per batch.
 */
#include "stratus/nodeauth.h"
#include "stratus/crypto.h"
#include "stratus/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int st_node_credential_in(const char *authorization)
{
    return authorization && strncmp(authorization, "Bearer " ST_NODE_CRED_PREFIX, 11) == 0;
}

static int well_formed(const char *tok)
{
    if (strlen(tok) != ST_NODE_CRED_LEN || strncmp(tok, ST_NODE_CRED_PREFIX, 4) != 0)
        return 0;
    for (const char *p = tok + 4; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

int st_node_identify(st_db *db, const char *authorization, st_node *n)
{
    memset(n, 0, sizeof *n);
    if (!st_node_credential_in(authorization) || !well_formed(authorization + 7))
        return -1;
    char sha[65];
    st_sha256_hex(authorization + 7, ST_NODE_CRED_LEN, sha);
    PGresult *r = st_db_q(db, "SELECT id, name FROM iaas.node_identify($1)", sha);
    if (!r) {
        /* no gateway schema in this database (a service tested alone): no nodes */
        const char *st = st_db_sqlstate(db);
        return !strcmp(st, "3F000") || !strcmp(st, "42883") ? -1 : -2;
    }
    int found = PQntuples(r) == 1;
    if (found) {
        snprintf(n->id, sizeof n->id, "%s", st_db_val(r, 0, 0));
        snprintf(n->name, sizeof n->name, "%s", st_db_val(r, 0, 1));
    }
    PQclear(r);
    return found ? 0 : -1;
}

/* The boolean a placement function of the gateway answers for node n and
 * its UUID arguments a (and b, when not NULL): 1, 0, or -2 on a database error. */
static int node_may(st_db *db, const char *sql, const st_node *n, const char *a, const char *b)
{
    if (!st_uuid_valid(a) || (b && !st_uuid_valid(b)))
        return 0;
    PGresult *r = b ? st_db_q(db, sql, n->id, a, b) : st_db_q(db, sql, n->id, a);
    if (!r)
        return -2;
    int ok = PQntuples(r) == 1 && st_db_val(r, 0, 0) && st_db_val(r, 0, 0)[0] == 't';
    PQclear(r);
    return ok;
}

int st_node_may_read_image(st_db *db, const st_node *n, const char *image_id)
{
    return node_may(db, "SELECT iaas.node_may_read_image($1, $2)", n, image_id, NULL);
}

int st_node_may_write_image(st_db *db, const st_node *n, const char *instance_id,
                            const char *image_id)
{
    return node_may(db, "SELECT iaas.node_may_write_image($1, $2, $3)", n, instance_id, image_id);
}

/* "{a,b,...}" of count UUIDs (checked by the caller); NULL without memory. */
static char *uuid_array(size_t count, const char *const *v)
{
    char *s = malloc(count * 37 + 3);
    if (!s)
        return NULL;
    size_t o = 0;
    s[o++] = '{';
    for (size_t i = 0; i < count; i++) {
        if (i)
            s[o++] = ',';
        memcpy(s + o, v[i], 36);
        o += 36;
    }
    s[o++] = '}';
    s[o] = 0;
    return s;
}

long st_node_first_unplaced(st_db *db, const st_node *n, size_t count, const char *const *instance,
                            const char *const *tenant, const int64_t *at_us, int64_t slack_us)
{
    for (size_t i = 0; i < count; i++)
        if (!st_uuid_valid(instance[i]) || !st_uuid_valid(tenant[i]))
            return (long)i; /* a malformed id was never placed */
    if (count == 0)
        return -1;
    char *inst = uuid_array(count, instance), *ten = uuid_array(count, tenant);
    char *at = malloc(count * 21 + 3), slack[24];
    long rc = -2;
    if (!inst || !ten || !at)
        goto out;
    size_t o = 0;
    at[o++] = '{';
    for (size_t i = 0; i < count; i++)
        o += (size_t)snprintf(at + o, 22, "%s%lld", i ? "," : "", (long long)at_us[i]);
    at[o++] = '}';
    at[o] = 0;
    snprintf(slack, sizeof slack, "%lld", (long long)slack_us);
    PGresult *r = st_db_q(db, "SELECT iaas.node_first_unplaced($1, $2, $3, $4, $5)", n->id, inst,
                          ten, at, slack);
    if (r) {
        const char *v = PQntuples(r) == 1 ? st_db_val(r, 0, 0) : NULL;
        rc = v ? atol(v) - 1 : -1;
        PQclear(r);
    }
out:
    free(inst);
    free(ten);
    free(at);
    return rc;
}
