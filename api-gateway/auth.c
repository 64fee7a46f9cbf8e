/*
 * auth.c - passwords, bearer tokens, API keys and sign-in rate limits.
 *
 * Passwords are hashed with argon2id (libargon2; memory-hard, parameters in
 * the config and stored inside each encoded hash, so they can be raised
 * without invalidating old hashes). A new password must pass libpwquality's
 * checks with its built-in defaults (not the host's pwquality.conf, so every
 * gateway applies one policy): at least 8 characters, not based on a word of
 * cracklib's dictionary of words and common passwords, not simplistic
 * ("12345678"), not the user's name in some form. A sign-in for an unknown user still runs
 * one argon2id verification against a fixed dummy hash, so response time does
 * not reveal which user names exist.
 *
 * Tokens are 32 random bytes in hex behind a prefix naming their kind
 * ("sts_" session, "stk_" API key, "stn_" node credential). Only their
 * SHA-256 is stored: a database leak yields no usable token, and lookup is an
 * indexed equality on the hash (the secret itself is never compared, so
 * there is nothing to time). Roles are read from the membership at every
 * request, so a role change or removal takes effect at once.
 *
 * Rate limits live in PostgreSQL (iaas.signin_attempts, fixed windows), not in
 * a gateway's memory, so several gateways enforce one limit: every attempt
 * counts against the source address, failures count against the user name,
 * and a name over its limit is refused before its password is even checked.
 * Windows older than the previous one are deleted by the first sign-in a
 * gateway handles in each window, so the table holds recent attempts only.
 */
#include "gateway.h"
#include "stratus/crypto.h"
#include "stratus/json.h"
#include "stratus/log.h"
#include "stratus/nodeauth.h"
#include "stratus/timefmt.h"
#include "stratus/uuid.h"

#include <argon2.h>
#include <pthread.h>
#include <pwquality.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_BYTES 32

int gw_password_hash(const gw_config *gc, const char *password, char *out, size_t outlen)
{
    unsigned char salt[16];
    st_random_bytes(salt, sizeof salt);
    int rc = argon2id_hash_encoded((uint32_t)gc->argon2_t, (uint32_t)gc->argon2_m_kib, 1, password,
                                   strlen(password), salt, sizeof salt, 32, out, outlen);
    return rc == ARGON2_OK ? 0 : -1;
}

/* cracklib (under libpwquality) is not known to be thread-safe; new
 * passwords are rare, so they are checked one at a time. */
static pthread_mutex_t pwq_mu = PTHREAD_MUTEX_INITIALIZER;
static pwquality_settings_t *pwq;

int gw_password_policy(const char *password, const char *user, char *err, size_t errlen)
{
    pthread_mutex_lock(&pwq_mu);
    if (!pwq) {
        pwq = pwquality_default_settings();
        if (pwq) {
            pwquality_set_int_value(pwq, PWQ_SETTING_MIN_LENGTH, 8);
            pwquality_set_int_value(pwq, PWQ_SETTING_DICT_CHECK, 1);
            pwquality_set_int_value(pwq, PWQ_SETTING_USER_CHECK, 1);
        }
    }
    void *aux = NULL;
    int rc = pwq ? pwquality_check(pwq, password, NULL, user, &aux) : PWQ_ERROR_MEM_ALLOC;
    char buf[PWQ_MAX_ERROR_MESSAGE_LEN];
    const char *why = rc < 0 ? pwquality_strerror(buf, sizeof buf, rc, aux) : NULL;
    pthread_mutex_unlock(&pwq_mu);
    if (rc >= 0)
        return 0;
    if (rc == PWQ_ERROR_MEM_ALLOC || rc == PWQ_ERROR_CRACKLIB_CHECK)
        st_error("auth.password_policy", "password check failed: %s", why ? why : "?");
    snprintf(err, errlen, "password is too weak: %s", why ? why : "refused");
    return -1;
}

int gw_password_verify(const char *encoded, const char *password)
{
    return argon2id_verify(encoded, password, strlen(password)) == ARGON2_OK;
}

int gw_token_create(st_db *db, const char *kind, const char *name, const char *user_id,
                    const char *tenant_id, long long ttl_s, const char *not_after_token, char *out,
                    size_t outlen, char id[40])
{
    char secret[2 * TOKEN_BYTES + 1], sha[65], ttl[24];
    st_random_hex(secret, TOKEN_BYTES);
    snprintf(out, outlen, "%s%s", strcmp(kind, "api_key") == 0 ? "stk_" : "sts_", secret);
    st_sha256_hex(out, strlen(out), sha);
    st_uuid_v4(id);
    snprintf(ttl, sizeof ttl, "%lld", ttl_s);
    /* least() ignores the NULL a missing (or no) bounding token gives */
    return st_db_x(db,
                   "INSERT INTO iaas.tokens (id, token_sha256, kind, name, user_id, tenant_id,"
                   " expires_at) VALUES ($1, $2, $3, $4, $5, $6,"
                   " least(now() + $7::bigint * interval '1 second',"
                   "  (SELECT expires_at FROM iaas.tokens WHERE id = $8::uuid)))",
                   id, sha, kind, name, user_id, tenant_id && *tenant_id ? tenant_id : NULL, ttl,
                   not_after_token && *not_after_token ? not_after_token : NULL) == 1
               ? 0
               : -1;
}

static void unauthorized(gw_ctx *c, const char *msg)
{
    st_http_add_header(c->req, "WWW-Authenticate", "Bearer");
    st_http_reply_error(c->req, 401, ST_E_UNAUTHORIZED, "%s", msg);
}

static void copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

int gw_authenticate(gw_ctx *c, const char *header)
{
    if (!header || strncmp(header, "Bearer ", 7) != 0) {
        unauthorized(c, "an Authorization: Bearer token is required");
        return -1;
    }
    const char *tok = header + 7;
    size_t tl = strlen(tok);
    if (tl != 4 + 2 * TOKEN_BYTES) {
        unauthorized(c, "invalid token");
        return -1;
    }
    char sha[65];
    st_sha256_hex(tok, tl, sha);
    memset(&c->p, 0, sizeof c->p);
    PGresult *r;
    if (st_node_credential_in(header)) {
        /* one node identity for every service (common/nodeauth.h) */
        st_node n;
        int rc = st_node_identify(c->db, header, &n);
        if (rc == -2) {
            gw_fail_db(c);
            return -1;
        }
        if (rc < 0) {
            unauthorized(c, "invalid node credential");
            return -1;
        }
        r = st_db_q(c->db,
                    "SELECT coalesce((SELECT version FROM iaas.node_desired_versions"
                    " WHERE node_id = $1), 0)",
                    n.id);
        if (!r) {
            gw_fail_db(c);
            return -1;
        }
        copy(c->p.node_id, sizeof c->p.node_id, n.id);
        copy(c->p.kind, sizeof c->p.kind, "node");
        /* a node's list is its desired set (0010_node_desired_versions.sql) */
        c->p.list_version = st_db_int(r, 0, 0);
        PQclear(r);
        return 0;
    }
    r = st_db_q(c->db,
                "SELECT t.id, t.kind, t.user_id, u.name, t.tenant_id,"
                " coalesce(m.role, CASE WHEN u.cloud_admin AND t.tenant_id IS NOT NULL"
                "                       THEN 'admin' END),"
                " u.cloud_admin, t.revoked_at IS NOT NULL, t.expires_at <= now(), u.disabled,"
                " coalesce(v.version, 0), e.epoch"
                " FROM iaas.tokens t JOIN iaas.users u ON u.id = t.user_id"
                " LEFT JOIN iaas.memberships m ON m.tenant_id = t.tenant_id"
                "  AND m.user_id = t.user_id"
                " LEFT JOIN iaas.instance_list_versions v ON v.tenant_id = t.tenant_id"
                " CROSS JOIN iaas.host_status_epoch e"
                " WHERE t.token_sha256 = $1",
                sha);
    if (!r) {
        gw_fail_db(c);
        return -1;
    }
    const char *why = NULL;
    if (PQntuples(r) != 1)
        why = "invalid token";
    else if (*st_db_val(r, 0, 7) == 't')
        why = "token has been revoked";
    else if (*st_db_val(r, 0, 8) == 't')
        why = "token has expired";
    else if (*st_db_val(r, 0, 9) == 't')
        why = "user is disabled";
    else if (st_db_val(r, 0, 4) && !st_db_val(r, 0, 5))
        why = "token's user no longer belongs to its tenant";
    if (why) {
        PQclear(r);
        unauthorized(c, why);
        return -1;
    }
    copy(c->p.token_id, sizeof c->p.token_id, st_db_val(r, 0, 0));
    copy(c->p.kind, sizeof c->p.kind, st_db_val(r, 0, 1));
    copy(c->p.user_id, sizeof c->p.user_id, st_db_val(r, 0, 2));
    copy(c->p.user_name, sizeof c->p.user_name, st_db_val(r, 0, 3));
    copy(c->p.tenant_id, sizeof c->p.tenant_id, st_db_val(r, 0, 4));
    copy(c->p.role, sizeof c->p.role, st_db_val(r, 0, 5));
    c->p.cloud_admin = *st_db_val(r, 0, 6) == 't';
    c->p.list_version = st_db_int(r, 0, 10);
    c->p.host_epoch = st_db_int(r, 0, 11);
    PQclear(r);
    return 0;
}

/* ---- Rate limiting ---- */

/* Adds one to key's counter in the current window; returns the new count. */
static long long rl_hit(gw_ctx *c, const char *key)
{
    char win[16];
    snprintf(win, sizeof win, "%d", c->gw->c.signin_window_s);
    PGresult *r = st_db_q(c->db,
                          "INSERT INTO iaas.signin_attempts AS a (key, window_start, count)"
                          " VALUES ($1, to_timestamp(floor(extract(epoch FROM now()) / $2::int)"
                          "          * $2::int), 1)"
                          " ON CONFLICT (key, window_start) DO UPDATE SET count = a.count + 1"
                          " RETURNING count",
                          key, win);
    long long n = r ? st_db_int(r, 0, 0) : -1;
    PQclear(r);
    return n;
}

static long long rl_peek(gw_ctx *c, const char *key)
{
    char win[16];
    snprintf(win, sizeof win, "%d", c->gw->c.signin_window_s);
    PGresult *r = st_db_q(c->db,
                          "SELECT coalesce(sum(count), 0) FROM iaas.signin_attempts"
                          " WHERE key = $1 AND window_start = to_timestamp("
                          "  floor(extract(epoch FROM now()) / $2::int) * $2::int)",
                          key, win);
    long long n = r ? st_db_int(r, 0, 0) : -1;
    PQclear(r);
    return n;
}

/* Deletes attempts from windows that no longer count; at most once per
 * window per process (other gateways do their own). Failure is harmless. */
static void rl_cleanup(gw_ctx *c)
{
    static _Atomic long long last_us;
    long long now = st_mono_us(), prev = atomic_load(&last_us);
    if (prev && now - prev < (long long)c->gw->c.signin_window_s * 1000000)
        return;
    if (!atomic_compare_exchange_strong(&last_us, &prev, now))
        return;
    char win[16];
    snprintf(win, sizeof win, "%d", c->gw->c.signin_window_s);
    if (st_db_x(c->db,
                "DELETE FROM iaas.signin_attempts"
                " WHERE window_start < now() - 2 * $1::int * interval '1 second'",
                win) < 0)
        st_warn("auth.rl_cleanup", "%s", st_db_error(c->db));
}

static void too_many(gw_ctx *c, const char *what)
{
    char s[16];
    snprintf(s, sizeof s, "%d", c->gw->c.signin_window_s);
    st_http_add_header(c->req, "Retry-After", s);
    st_http_reply_error(c->req, 429, ST_E_RATE_LIMITED, "too many sign-in attempts %s; retry later",
                        what);
}

/* ---- Routes ---- */

/* A valid argon2id hash of a random password: verifying against it costs the
 * same as verifying a real user's hash. */
static char dummy_hash[160];

static void h_signin(gw_ctx *c)
{
    static const char *const keys[] = {"name", "password", "tenant", NULL};
    json_t *b = gw_body(c, keys);
    if (!b)
        return;
    const char *name = NULL, *pw = NULL, *tenant = NULL;
    char err[256];
    if (gw_check(c, st_json_get_str(b, "name", 1, 1, 64, &name, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_str(b, "password", 1, 1, 256, &pw, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_str(b, "tenant", 0, 1, 64, &tenant, err, sizeof err), err) < 0)
        return;

    rl_cleanup(c);
    char ipkey[96], userkey[96];
    snprintf(ipkey, sizeof ipkey, "ip:%s", st_http_peer(c->req));
    snprintf(userkey, sizeof userkey, "user:%s", name);
    long long ip_n = rl_hit(c, ipkey), user_n = rl_peek(c, userkey);
    if (ip_n < 0 || user_n < 0) {
        gw_fail_db(c);
        return;
    }
    if (ip_n > c->gw->c.signin_ip_limit) {
        too_many(c, "from this address");
        return;
    }
    if (user_n >= c->gw->c.signin_user_limit) {
        too_many(c, "for this user");
        return;
    }
    PGresult *r = st_db_q(c->db,
                          "SELECT id, password_hash, disabled, cloud_admin"
                          " FROM iaas.users WHERE name = $1",
                          name);
    if (!r) {
        gw_fail_db(c);
        return;
    }
    int found = PQntuples(r) == 1;
    int ok = gw_password_verify(found ? st_db_val(r, 0, 1) : dummy_hash, pw) && found &&
             *st_db_val(r, 0, 2) == 'f';
    char user_id[40] = "";
    int cloud_admin = found && *st_db_val(r, 0, 3) == 't';
    if (found)
        copy(user_id, sizeof user_id, st_db_val(r, 0, 0));
    PQclear(r);
    if (!ok) {
        if (rl_hit(c, userkey) < 0) {
            gw_fail_db(c);
            return;
        }
        st_log_fields(ST_LOG_WARN, "auth.signin_failed",
                      json_pack("{s:s, s:s}", "user", name, "peer", st_http_peer(c->req)));
        unauthorized(c, "invalid name or password");
        return;
    }

    /* Scope: the named tenant (by name or id) if the user belongs to it (a
     * cloud admin may scope to any), else the user's only tenant, else none. */
    r = st_db_q(c->db,
                "SELECT t.id, t.name, coalesce(m.role, CASE WHEN $3 THEN 'admin' END)"
                " FROM iaas.tenants t LEFT JOIN iaas.memberships m"
                "  ON m.tenant_id = t.id AND m.user_id = $1"
                " WHERE ($2::text IS NULL AND m.user_id IS NOT NULL)"
                "    OR ($2::text IS NOT NULL AND (t.name = $2 OR t.id::text = $2)"
                "        AND (m.user_id IS NOT NULL OR $3))",
                user_id, tenant, cloud_admin ? "true" : "false");
    if (!r) {
        gw_fail_db(c);
        return;
    }
    char tid[40] = "", tname[72] = "", role[12] = "";
    if (PQntuples(r) == 1) {
        copy(tid, sizeof tid, st_db_val(r, 0, 0));
        copy(tname, sizeof tname, st_db_val(r, 0, 1));
        copy(role, sizeof role, st_db_val(r, 0, 2));
    }
    int ntenants = PQntuples(r);
    PQclear(r);
    if (tenant && ntenants != 1) {
        /* Same answer whether the tenant does not exist or is not the user's. */
        unauthorized(c, "you are not a member of that tenant");
        return;
    }
    char token[128], tokid[40];
    if (gw_token_create(c->db, "session", "", user_id, tid, c->gw->c.token_ttl_s, NULL, token,
                        sizeof token, tokid) < 0) {
        gw_fail_db(c);
        return;
    }
    r = st_db_q(c->db,
                "SELECT iaas.session_json(k, $2, $3)::text FROM iaas.tokens k WHERE k.id = $1",
                tokid, token, tid[0] ? role : NULL);
    gw_reply_query(c, 201, r, "token");
}

static void h_signout(gw_ctx *c)
{
    if (st_db_x(c->db,
                "UPDATE iaas.tokens SET revoked_at = now()"
                " WHERE id = $1 AND revoked_at IS NULL",
                c->p.token_id) < 0) {
        gw_fail_db(c);
        return;
    }
    st_http_reply_json(c->req, 204, NULL);
}

static void h_whoami(gw_ctx *c)
{
    const gw_principal *p = &c->p;
    PGresult *r =
        st_db_q(c->db, "SELECT iaas.whoami_json($1, $2, $3, $4, $5, $6)::text", p->user_id,
                p->user_name, p->cloud_admin ? "true" : "false",
                p->tenant_id[0] ? p->tenant_id : NULL, p->role[0] ? p->role : NULL, p->kind);
    gw_reply_query(c, 200, r, "user");
}

/* An API key lives no longer than the token that makes it (a one-hour
 * session cannot mint a ten-year key, nor a key a longer-lived key), unless
 * the request proves the user's password again: then it lives as long as
 * asked. A password change revokes every key (identity.c). */
static void h_apikey_create(gw_ctx *c)
{
    static const char *const keys[] = {"name", "expires_in_days", "password", NULL};
    json_t *b = gw_body(c, keys);
    if (!b)
        return;
    const char *name = NULL, *pw = NULL;
    long long days = 365;
    char err[256];
    if (gw_check(c, st_json_get_str(b, "name", 1, 1, 64, &name, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_int(b, "expires_in_days", 0, 1, 3650, &days, err, sizeof err),
                 err) < 0 ||
        gw_check(c, st_json_get_str(b, "password", 0, 1, 256, &pw, err, sizeof err), err) < 0)
        return;
    if (pw) {
        PGresult *r =
            st_db_q(c->db, "SELECT password_hash FROM iaas.users WHERE id = $1", c->p.user_id);
        if (!r) {
            gw_fail_db(c);
            return;
        }
        int ok = PQntuples(r) == 1 && gw_password_verify(st_db_val(r, 0, 0), pw);
        PQclear(r);
        if (!ok) {
            st_http_reply_error(c->req, 403, ST_E_FORBIDDEN, "password is wrong");
            return;
        }
    }
    char key[128], id[40];
    if (gw_token_create(c->db, "api_key", name, c->p.user_id, c->p.tenant_id, days * 86400,
                        pw ? NULL : c->p.token_id, key, sizeof key, id) < 0) {
        gw_fail_db(c);
        return;
    }
    PGresult *r = st_db_q(c->db,
                          "SELECT iaas.api_key_created_json(k, $2)::text FROM iaas.tokens k"
                          " WHERE k.id = $1",
                          id, key);
    if (!r) {
        gw_fail_db(c);
        return;
    }
    st_http_add_header(c->req, "Location", "/v1/api-keys");
    gw_reply_json_text(c, 201, r, "api key");
    PQclear(r);
}

static void h_apikey_list(gw_ctx *c)
{
    PGresult *r = st_db_q(c->db,
                          "SELECT json_build_object('api_keys', coalesce(json_agg("
                          " iaas.api_key_json(k) ORDER BY k.created_at), '[]'))::text"
                          " FROM iaas.tokens k WHERE k.user_id = $1 AND k.tenant_id = $2"
                          " AND k.kind = 'api_key' AND k.revoked_at IS NULL"
                          " AND k.expires_at > now()",
                          c->p.user_id, c->p.tenant_id);
    gw_reply_query(c, 200, r, "api key");
}

static void h_apikey_delete(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    long long n = st_db_x(c->db,
                          "UPDATE iaas.tokens SET revoked_at = now() WHERE id = $1"
                          " AND user_id = $2 AND tenant_id = $3 AND kind = 'api_key'"
                          " AND revoked_at IS NULL",
                          id, c->p.user_id, c->p.tenant_id);
    if (n < 0)
        gw_fail_db(c);
    else if (n == 0)
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such api key");
    else
        st_http_reply_json(c->req, 204, NULL);
}

void gw_auth_routes(gw *g)
{
    char pw[33];
    st_random_hex(pw, 16);
    if (gw_password_hash(&g->c, pw, dummy_hash, sizeof dummy_hash) < 0) {
        fprintf(stderr, "argon2id is not usable with the configured parameters\n");
        abort();
    }
    gw_route(g, "POST /v1/auth/tokens", GW_PUBLIC, h_signin);
    gw_route(g, "DELETE /v1/auth/tokens/current", GW_USER, h_signout);
    gw_route(g, "GET /v1/auth/whoami", GW_USER, h_whoami);
    gw_route(g, "POST /v1/api-keys", GW_TENANT_READ, h_apikey_create);
    gw_route(g, "GET /v1/api-keys", GW_TENANT_READ, h_apikey_list);
    gw_route(g, "DELETE /v1/api-keys/{id}", GW_TENANT_READ, h_apikey_delete);
}
