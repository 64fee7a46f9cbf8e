/*
 * nodes.c - node credentials for ingest.
 *
 * A node's token is "<name>.<64 hex digits>" (256 random bits); billing
 * keeps only the SHA-256 of the whole token in billing.nodes. Carrying the
 * name in the token lets authentication look the node up by name and then
 * compare the digests in constant time, so neither the secret nor its
 * digest is ever used as a lookup key whose timing could leak. The token is
 * printed once by `stratus-billing node-add NAME` and cannot be recovered;
 * losing it means node-remove and node-add again.
 */
#include "billing.h"

#include "stratus/crypto.h"
#include "stratus/log.h"

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
