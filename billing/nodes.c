/*
 * nodes.c - node credentials for ingest.
 *
 * A node's token is "<name>.<64 hex digits>" (256 random bits); billing
 * keeps only the SHA-256 of the whole token in billing.nodes. Carrying the
 * name in the token lets authentication look the node up by name and then
 * compare the digests in constant time, so neither the secret nor its
 * digest is ever used as a lookup key whose timing could leak. The token is
 * printed once by `stratus-billing node-add NAME` and cannot be recovered;
 * losing it means node-remove and node-add again. Cloud admins can do the
 * same over HTTP (POST/GET/DELETE /v1/billing/nodes), so the gateway can
 * provision a node's billing credential when it registers the node.
 */
#include "billing.h"

#include "stratus/crypto.h"
#include "stratus/json.h"
#include "stratus/log.h"
#include "stratus/timefmt.h"

#include <stdio.h>
#include <string.h>

static int name_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (n == 0 || (c != '.' && c != '_' && c != '-')))
            return 0;
    }
    return n >= 1 && n <= 63;
}

int bl_node_add(st_db *db, const char *name, char *token, size_t tokcap, char *err,
                size_t errlen)
{
    if (!name_valid(name)) {
        snprintf(err, errlen, "node name must be 1 to 63 of A-Z a-z 0-9 . _ -, "
                              "starting with a letter or digit");
        return -1;
    }
    char secret[65], digest[65];
    st_random_hex(secret, 32);
    if ((size_t)snprintf(token, tokcap, "%s.%s", name, secret) >= tokcap) {
        snprintf(err, errlen, "token buffer too small");
        return -1;
    }
    st_sha256_hex(token, strlen(token), digest);
    if (st_db_x(db, "INSERT INTO billing.nodes (name, token_sha256) VALUES ($1, $2)", name,
                digest) < 0) {
        snprintf(err, errlen, "%s", st_db_unique_violation(db) ? "a node of that name exists"
                                                               : st_db_error(db));
        return -1;
    }
    return 0;
}

int bl_node_remove(st_db *db, const char *name)
{
    return (int)st_db_x(db, "DELETE FROM billing.nodes WHERE name = $1", name);
}

int bl_node_auth(st_http_req *req, st_db *db, char node[64])
{
    const char *auth = st_http_header(req, "Authorization");
    const char *tok = auth && strncmp(auth, "Bearer ", 7) == 0 ? auth + 7 : NULL;
    const char *dot = tok ? strrchr(tok, '.') : NULL;
    if (!tok || !dot || dot == tok || dot - tok > 63 || strlen(dot + 1) != 64) {
        st_http_add_header(req, "WWW-Authenticate", "Bearer");
        st_http_reply_error(req, 401, "unauthorized", "a valid node token is required");
        return -1;
    }
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(dot - tok), tok);
    PGresult *r = st_db_q(db, "SELECT token_sha256 FROM billing.nodes WHERE name = $1", name);
    if (!r) {
        bl_reply_db(req, db, "node lookup");
        return -1;
    }
    char digest[65];
    st_sha256_hex(tok, strlen(tok), digest);
    /* Compare against a dummy digest when the node is unknown: same work either way. */
    const char *want = PQntuples(r) == 1 ? PQgetvalue(r, 0, 0)
                                         : "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
    int ok = strlen(want) == 64 && st_ct_equal(digest, want, 64) && PQntuples(r) == 1;
    PQclear(r);
    if (!ok) {
        st_http_add_header(req, "WWW-Authenticate", "Bearer");
        st_http_reply_error(req, 401, "unauthorized", "a valid node token is required");
        return -1;
    }
    snprintf(node, 64, "%s", name);
    return 0;
}

/* ---- Admin API: the gateway (or an operator) provisions node credentials ---- */

static void h_nodes(st_http_req *req, void *arg)
{
    bl_ctx *ctx = arg;
    st_principal p;
    if (bl_auth_admin(req, ctx, &p) < 0)
        return;
    st_db *db = bl_db(req, ctx);
    if (!db)
        return;
    PGresult *r = st_db_q0(db, "SELECT name, created_at FROM billing.nodes ORDER BY name");
    if (!r) {
        bl_reply_db(req, db, "nodes");
        st_db_put(db);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        char t[ST_TIME_LEN];
        st_time_from_pg(PQgetvalue(r, i, 1), t);
        json_array_append_new(items, json_pack("{s:s, s:s}", "name", PQgetvalue(r, i, 0),
                                               "created_at", t));
    }
    PQclear(r);
    st_db_put(db);
    st_http_reply_json(req, 200, json_pack("{s:o}", "nodes", items));
}

static void h_node_add(st_http_req *req, void *arg)
{
    bl_ctx *ctx = arg;
    st_principal p;
    if (bl_auth_admin(req, ctx, &p) < 0)
        return;
    json_t *body = st_http_json_body(req);
    if (!body)
        return;
    static const char *const allowed[] = {"name", NULL};
    const char *name = NULL;
    char err[256];
    if (st_json_only_keys(body, allowed, err, sizeof err) < 0 ||
        st_json_get_str(body, "name", ST_JSON_REQUIRED, 1, 63, &name, err, sizeof err) < 0) {
        st_http_reply_error(req, 400, "bad_request", "%s", err);
        return;
    }
    st_db *db = bl_db(req, ctx);
    if (!db)
        return;
    char token[160];
    if (bl_node_add(db, name, token, sizeof token, err, sizeof err) < 0) {
        if (!name_valid(name))
            st_http_reply_error(req, 400, "bad_request", "%s", err);
        else if (st_db_unique_violation(db))
            st_http_reply_error(req, 409, "conflict", "a node of that name exists");
        else
            bl_reply_db(req, db, "node add");
    } else {
        st_http_reply_json(req, 201, json_pack("{s:s, s:s}", "name", name, "token", token));
    }
    st_db_put(db);
}

static void h_node_remove(st_http_req *req, void *arg)
{
    bl_ctx *ctx = arg;
    st_principal p;
    if (bl_auth_admin(req, ctx, &p) < 0)
        return;
    st_db *db = bl_db(req, ctx);
    if (!db)
        return;
    int n = bl_node_remove(db, st_http_param(req, "name"));
    if (n < 0)
        bl_reply_db(req, db, "node remove");
    else if (n == 0)
        st_http_reply_error(req, 404, "not_found", "no such node");
    else
        st_http_reply_json(req, 204, NULL);
    st_db_put(db);
}

void bl_nodes_routes(st_http_server *s, bl_ctx *ctx)
{
    st_http_route(s, "GET /v1/billing/nodes", h_nodes, ctx);
    st_http_route(s, "POST /v1/billing/nodes", h_node_add, ctx);
    st_http_route(s, "DELETE /v1/billing/nodes/{name}", h_node_remove, ctx);
}
