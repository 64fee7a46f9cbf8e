/* Authentication and authorisation against a real gateway and PostgreSQL:
 * sign-in, wrong passwords, expiry, revocation, API keys, rate limits, roles,
 * and the bootstrap of the first admin. */
#include "gwt.h"
#include "st_test.h"

#include <stdlib.h>
#include <string.h>

static gwt T;
static gwt_tenant A;

static int suite_init(void)
{
    /* small limits so the rate-limit tests need few attempts */
    /* a day-long window: the limits' fixed windows must not turn over mid-test */
    const char *set[] = {"auth.signin_user_limit=3", "auth.signin_ip_limit=1000",
                         "auth.signin_window=86400", NULL};
    gwt_start(&T, "gw_auth", set);
    gwt_make_tenant(&T, "acme", &A);
    return 0;
}

static int suite_clean(void)
{
    gwt_free_tenant(&A);
    gwt_stop(&T);
    return 0;
}

static void test_signin_returns_a_scoped_token(void)
{
    st_resp r;
    char *b = st_jsonf("{s:s, s:s}", "name", "acme-member", "password", "password-123");
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/auth/tokens", NULL, b), 201);
    free(b);
    const char *tok = json_string_value(json_object_get(r.json, "token"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    CU_ASSERT_EQUAL(strncmp(tok, "sts_", 4), 0);
    /* the user's only tenant is chosen when none is named */
    json_t *tn = json_object_get(r.json, "tenant");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(tn, "id")), A.id);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(tn, "role")), "member");
    CU_ASSERT_TRUE(json_is_string(json_object_get(r.json, "expires_at")));
    st_resp w;
    ST_ASSERT_INT_EQ(gwt_call(&T, &w, "GET", "/v1/auth/whoami", tok, NULL), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(w.json, "tenant_id")), A.id);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(w.json, "role")), "member");
    st_resp_free(&w);
    st_resp_free(&r);
}

static void test_wrong_password_and_unknown_user_look_the_same(void)
{
    st_resp r1, r2;
    char *b1 = st_jsonf("{s:s, s:s}", "name", "acme-reader", "password", "wrong-password");
    char *b2 = st_jsonf("{s:s, s:s}", "name", "nobody-at-all", "password", "wrong-password");
    ST_ASSERT_INT_EQ(gwt_call(&T, &r1, "POST", "/v1/auth/tokens", NULL, b1), 401);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r2, "POST", "/v1/auth/tokens", NULL, b2), 401);
    ST_ASSERT_STR_EQ(r1.body, r2.body);
    st_resp_free(&r1);
    st_resp_free(&r2);
    free(b1);
    free(b2);
    /* and a tenant the user is not in is refused like a bad password */
    char *tok = gwt_signin(&T, "acme-reader", "password-123", "admin");
    CU_ASSERT_PTR_NULL(tok);
}

static void test_missing_and_garbage_tokens_are_401(void)
{
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/instances", NULL, NULL), 401);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/instances", "garbage", NULL), 401);
    char fake[80] = "sts_";
    memset(fake + 4, 'a', 64);
    fake[68] = 0;
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/instances", fake, NULL), 401);
}

static void test_expired_token_is_refused(void)
{
    char *tok = gwt_signin(&T, "acme-reader", "password-123", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/instances", tok, NULL), 200);
    /* travel in time: the token's expiry passes */
    char sql[512];
    st_resp w;
    gwt_call(&T, &w, "GET", "/v1/auth/whoami", tok, NULL);
    st_resp_free(&w);
    snprintf(sql, sizeof sql,
             "UPDATE iaas.tokens SET expires_at = now() - interval '1 second'"
             " WHERE user_id = '%s' AND kind = 'session'",
             A.reader_id);
    gwt_sql(&T, sql);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/instances", tok, NULL), 401);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "expired"));
    st_resp_free(&r);
    free(tok);
    /* the fixture's reader token expired too: get a fresh one */
    free(A.reader);
    A.reader = gwt_signin(&T, "acme-reader", "password-123", NULL);
}

static void test_signed_out_token_is_revoked(void)
{
    char *tok = gwt_signin(&T, "acme-member", "password-123", NULL);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/auth/whoami", tok, NULL), 200);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", "/v1/auth/tokens/current", tok, NULL), 204);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/auth/whoami", tok, NULL), 401);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "revoked"));
    st_resp_free(&r);
    free(tok);
}

static void test_api_keys_work_until_revoked(void)
{
    st_resp r;
    char *b = st_jsonf("{s:s, s:i}", "name", "ci-bot", "expires_in_days", 30);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/api-keys", A.member, b), 201);
    free(b);
    char key[128], id[40];
    snprintf(key, sizeof key, "%s", json_string_value(json_object_get(r.json, "key")));
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    CU_ASSERT_EQUAL(strncmp(key, "stk_", 4), 0);
    /* a program uses it like a session token, in the same tenant and role */
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/auth/whoami", key, NULL), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "token_kind")), "api_key");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "role")), "member");
    st_resp_free(&r);
    /* listed without its secret */
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/api-keys", A.member, NULL), 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, id));
    CU_ASSERT_PTR_NULL(strstr(r.body, key + 4));
    st_resp_free(&r);
    /* another user cannot revoke it */
    char path[128];
    snprintf(path, sizeof path, "/v1/api-keys/%s", id);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.admin, NULL), 404);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.member, NULL), 204);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/auth/whoami", key, NULL), 401);
}

static void test_failed_signins_are_rate_limited_per_user(void)
{
    char uid[40];
    gwt_make_user(&T, "brute-target", "right-password", uid);
    for (int i = 0; i < 3; i++) {
        char *tok = gwt_signin(&T, "brute-target", "guess", NULL);
        CU_ASSERT_PTR_NULL(tok);
    }
    /* over the limit even the right password is refused, with 429 */
    st_resp r;
    char *b = st_jsonf("{s:s, s:s}", "name", "brute-target", "password", "right-password");
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/auth/tokens", NULL, b), 429);
    ST_ASSERT_STR_EQ(st_resp_error_code(&r), "rate_limited");
    char *ra = st_resp_header(&r, "Retry-After");
    CU_ASSERT_PTR_NOT_NULL(ra);
    free(ra);
    st_resp_free(&r);
    free(b);
    /* other users are unaffected */
    char *ok = gwt_signin(&T, "acme-admin", "password-123", NULL);
    CU_ASSERT_PTR_NOT_NULL(ok);
    free(ok);
    /* when the window has passed, the right password works again */
    gwt_sql(&T, "DELETE FROM iaas.signin_attempts WHERE key = 'user:brute-target'");
    char *tok = gwt_signin(&T, "brute-target", "right-password", NULL);
    CU_ASSERT_PTR_NOT_NULL(tok);
    free(tok);
}

static void test_signins_are_rate_limited_per_address(void)
{
    gwt g2;
    const char *set[] = {"auth.signin_ip_limit=4", "auth.signin_window=86400", NULL};
    gwt_start(&g2, "gw_auth_ip", set);
    int limited = 0;
    for (int i = 0; i < 6; i++) {
        char *b = st_jsonf("{s:s, s:s}", "name", "admin", "password", "admin-password-1");
        long s = gwt_status(&g2, "POST", "/v1/auth/tokens", NULL, b);
        free(b);
        if (i < 3)
            ST_ASSERT_INT_EQ(s, 201); /* the harness signed in once already */
        if (s == 429)
            limited++;
    }
    ST_ASSERT_INT_EQ(limited, 3); /* attempts 5, 6 and 7 of a limit of 4 */
    gwt_stop(&g2);
}

/* Behind a load balancer (http.trusted_proxies) the limit is per client the
 * balancer names, not per balancer; clients cannot dodge it by writing
 * their own X-Forwarded-For. */
static void test_signin_limits_behind_a_trusted_proxy_are_per_client(void)
{
    gwt g2;
    const char *set[] = {"auth.signin_ip_limit=3", "http.trusted_proxies=127.0.0.0/8",
                         "auth.signin_window=86400", NULL};
    gwt_start(&g2, "gw_auth_xff", set); /* its own sign-in counts for 127.0.0.1 */
    char url[128];
    snprintf(url, sizeof url, "%s/v1/auth/tokens", g2.base);
    char *b = st_jsonf("{s:s, s:s}", "name", "admin", "password", "admin-password-1");
    const char *c1[] = {"X-Forwarded-For: 203.0.113.7", NULL};
    const char *c1_spoofed[] = {"X-Forwarded-For: 198.51.100.99, 203.0.113.7", NULL};
    const char *c2[] = {"X-Forwarded-For: 203.0.113.8", NULL};
    long want[] = {201, 201, 201, 429};
    st_resp r;
    for (int i = 0; i < 4; i++) {
        st_http(&r, "POST", url, NULL, b, i % 2 ? c1_spoofed : c1);
        ST_ASSERT_INT_EQ(r.status, want[i]);
        st_resp_free(&r);
    }
    /* another client behind the same balancer is not held back */
    st_http(&r, "POST", url, NULL, b, c2);
    ST_ASSERT_INT_EQ(r.status, 201);
    st_resp_free(&r);
    free(b);
    gwt_stop(&g2);
}

static long long sql_count(const char *where)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM iaas.signin_attempts WHERE %s", where);
    char *v = gwt_sql_value(&T, sql);
    long long n = v ? atoll(v) : -1;
    free(v);
    return n;
}

static void test_old_signin_windows_are_deleted(void)
{
    /* attempts from two days ago, when a gateway starts: its first sign-in
     * deletes them; this window's attempts stay */
    gwt_sql(&T, "INSERT INTO iaas.signin_attempts VALUES"
                " ('ip:198.51.100.1', now() - interval '2 days', 3),"
                " ('user:long-gone', now() - interval '3 days', 1)");
    ST_ASSERT_INT_EQ(sql_count("window_start < now() - interval '1 day'"), 2);
    gwt peer;
    const char *set[] = {"auth.signin_window=60", NULL};
    gwt_start_peer(&peer, &T, set);
    char *tok = gwt_signin(&peer, "acme-admin", "password-123", NULL);
    CU_ASSERT_PTR_NOT_NULL(tok);
    free(tok);
    ST_ASSERT_INT_EQ(sql_count("window_start < now() - interval '1 day'"), 0);
    CU_ASSERT_TRUE(sql_count("true") >= 1);
    gwt_stop(&peer);
}

static void test_roles_limit_what_a_user_may_do(void)
{
    char *kp = st_jsonf("{s:s, s:s}", "name", "k-role", "public_key",
                        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAII5fDoSwCs3Zg73Sao6zV8"
                        "+UVKL99sup7rLMCqj9zP75 test@example");
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/keypairs", A.reader, kp), 403);
    ST_ASSERT_STR_EQ(st_resp_error_code(&r), "forbidden");
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", "/v1/keypairs", A.member, kp), 201);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/keypairs", A.reader, NULL), 200);
    free(kp);
    /* only a tenant admin manages members */
    char path[160];
    snprintf(path, sizeof path, "/v1/tenants/%s/members/%s", A.id, A.reader_id);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, A.member, "{\"role\":\"admin\"}"), 403);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, A.admin, "{\"role\":\"member\"}"), 200);
    /* a role change takes effect on existing tokens at once */
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", "/v1/keypairs", A.reader,
                                "{\"name\":\"k2\",\"public_key\":\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"
                                "AAAAII5fDoSwCs3Zg73Sao6zV8+UVKL99sup7rLMCqj9zP75\"}"),
                     201);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, A.admin, "{\"role\":\"reader\"}"), 200);
    /* cloud-admin calls are refused to tenant admins */
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", "/v1/flavors", A.admin,
                                "{\"name\":\"x\",\"vcpus\":1,\"memory_mib\":64,\"disk_gib\":1}"),
                     403);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/nodes", A.admin, NULL), 403);
    /* a tenant admin manages only the users already in its tenant: another
     * user of the cloud answers exactly as an id that does not exist, and
     * stays out of the tenant (Keystone's rule) */
    char uid[40];
    gwt_make_user(&T, "leaver", "password-123", uid);
    snprintf(path, sizeof path, "/v1/tenants/%s/members/%s", A.id, uid);
    st_resp r2;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r2, "PUT", path, A.admin, "{\"role\":\"member\"}"), 404);
    char *foreign = strdup(r2.body);
    st_resp_free(&r2);
    char none[160];
    snprintf(none, sizeof none, "/v1/tenants/%s/members/7b0e4c1a-1111-4222-8333-444455556666",
             A.id);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r2, "PUT", none, A.admin, "{\"role\":\"member\"}"), 404);
    ST_ASSERT_STR_EQ(r2.body, foreign);
    st_resp_free(&r2);
    free(foreign);
    char *outsider = gwt_signin(&T, "leaver", "password-123", "acme");
    CU_ASSERT_PTR_NULL(outsider);
    free(outsider);
    /* removing a member invalidates their tokens for that tenant */
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, T.admin_token, "{\"role\":\"member\"}"), 200);
    char *tok = gwt_signin(&T, "leaver", "password-123", "acme");
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/instances", tok, NULL), 200);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.admin, NULL), 204);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/instances", tok, NULL), 401);
    free(tok);
}

static void test_node_and_user_credentials_do_not_mix(void)
{
    char *node = gwt_make_node(&T, "node-creds", 4, 4096, 100);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/instances", node, NULL), 403);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/internal/v1/node/instances", A.admin, NULL), 403);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/internal/v1/node/instances", T.admin_token, NULL),
                     403);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/internal/v1/node/instances", node, NULL), 200);
    free(node);
}

static void test_password_change_signs_out_other_sessions(void)
{
    char uid[40];
    gwt_make_user(&T, "rotator", "old-password", uid);
    char *s1 = gwt_signin(&T, "rotator", "old-password", NULL);
    char *s2 = gwt_signin(&T, "rotator", "old-password", NULL);
    char path[128];
    snprintf(path, sizeof path, "/v1/users/%s/password", uid);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, s1,
                                "{\"password\":\"new-password\",\"current_password\":\"wrong\"}"),
                     403);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, s1,
                                "{\"password\":\"new-password\","
                                "\"current_password\":\"old-password\"}"),
                     204);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/auth/whoami", s1, NULL), 200);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/auth/whoami", s2, NULL), 401);
    CU_ASSERT_PTR_NULL(gwt_signin(&T, "rotator", "old-password", NULL));
    char *s3 = gwt_signin(&T, "rotator", "new-password", NULL);
    CU_ASSERT_PTR_NOT_NULL(s3);
    free(s1);
    free(s2);
    free(s3);
}

/* The password policy: besides the length, common and dictionary-based
 * passwords and the user's own name are refused with a 400 saying why, on
 * creation and on change alike. */
static void test_weak_passwords_are_refused(void)
{
    static const char *const weak[] = {"password", "12345678",      "qwertyuiop", "iloveyou1",
                                       "weakling", "weakling-2026", "gnilkaew"};
    st_resp r;
    for (size_t i = 0; i < sizeof weak / sizeof *weak; i++) {
        char *b = st_jsonf("{s:s, s:s}", "name", "weakling", "password", weak[i]);
        ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/users", T.admin_token, b), 400);
        ST_ASSERT_STR_EQ(st_resp_error_code(&r), "invalid_request");
        CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "password"));
        if (r.status != 400)
            fprintf(stderr, "accepted weak password '%s'\n", weak[i]);
        st_resp_free(&r);
        free(b);
    }
    char uid[40];
    gwt_make_user(&T, "weakling", "Tr0ub4dor-and-3", uid);
    char *s = gwt_signin(&T, "weakling", "Tr0ub4dor-and-3", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char path[128];
    snprintf(path, sizeof path, "/v1/users/%s/password", uid);
    ST_ASSERT_INT_EQ(
        gwt_call(&T, &r, "PUT", path, s,
                 "{\"password\":\"password1\",\"current_password\":\"Tr0ub4dor-and-3\"}"),
        400);
    ST_ASSERT_STR_EQ(st_resp_error_code(&r), "invalid_request");
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(
        gwt_status(&T, "PUT", path, s,
                   "{\"password\":\"weakling!\",\"current_password\":\"Tr0ub4dor-and-3\"}"),
        400);
    /* a cloud admin setting it is held to the same policy */
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, T.admin_token, "{\"password\":\"12345678\"}"),
                     400);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, s,
                                "{\"password\":\"Correct-Horse-9-battery\","
                                "\"current_password\":\"Tr0ub4dor-and-3\"}"),
                     204);
    free(s);
}

/* A user of tenant acme, made for one test: its id in uid, signed in. */
static char *member_of_acme(const char *name, const char *password, char uid[40])
{
    gwt_make_user(&T, name, password, uid);
    char path[160];
    snprintf(path, sizeof path, "/v1/tenants/%s/members/%s", A.id, uid);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, T.admin_token, "{\"role\":\"reader\"}"), 200);
    return gwt_signin(&T, name, password, "acme");
}

static long long expires_in_s(const char *expires_at)
{
    if (!expires_at)
        return -1;
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT extract(epoch FROM '%s'::timestamptz - now())::bigint",
             expires_at);
    char *v = gwt_sql_value(&T, sql);
    long long s = v ? atoll(v) : -1;
    free(v);
    return s;
}

/* A key lives no longer than the token that made it (a 1-hour session
 * cannot mint a 10-year key) unless the request proves the password again;
 * a key made by a key is bounded by that key. */
static void test_api_key_lifetime_is_capped_by_the_minting_token(void)
{
    char uid[40];
    char *s = member_of_acme("short-lived", "Tr0ub4dor-and-3", uid);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/api-keys", s,
                              "{\"name\":\"ten-years\",\"expires_in_days\":3650}"),
                     201);
    long long left = expires_in_s(json_string_value(json_object_get(r.json, "expires_at")));
    CU_ASSERT_TRUE(left > 0 && left <= 3600); /* the session's hour (auth.token_ttl) */
    char key[128];
    snprintf(key, sizeof key, "%s", json_string_value(json_object_get(r.json, "key")));
    st_resp_free(&r);
    /* the key cannot mint a longer-lived key either */
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/api-keys", key,
                              "{\"name\":\"child\",\"expires_in_days\":3650}"),
                     201);
    left = expires_in_s(json_string_value(json_object_get(r.json, "expires_at")));
    CU_ASSERT_TRUE(left > 0 && left <= 3600);
    st_resp_free(&r);
    /* with the password proven again it may live as long as asked */
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/api-keys", s,
                              "{\"name\":\"wrong\",\"expires_in_days\":30,"
                              "\"password\":\"not-the-password\"}"),
                     403);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/api-keys", s,
                              "{\"name\":\"month\",\"expires_in_days\":30,"
                              "\"password\":\"Tr0ub4dor-and-3\"}"),
                     201);
    left = expires_in_s(json_string_value(json_object_get(r.json, "expires_at")));
    CU_ASSERT_TRUE(left > 29 * 86400 && left <= 30 * 86400);
    st_resp_free(&r);
    free(s);
}

/* A password change ends every other credential of the user: its other
 * sessions and all its API keys (a key made by whoever knew the old password
 * must not outlive it). */
static void test_password_change_revokes_api_keys(void)
{
    char uid[40];
    char *s = member_of_acme("key-holder", "Tr0ub4dor-and-3", uid);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/api-keys", s, "{\"name\":\"bot\"}"), 201);
    char key[128];
    snprintf(key, sizeof key, "%s", json_string_value(json_object_get(r.json, "key")));
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/auth/whoami", key, NULL), 200);
    char path[128];
    snprintf(path, sizeof path, "/v1/users/%s/password", uid);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, s,
                                "{\"password\":\"Correct-Horse-9-battery\","
                                "\"current_password\":\"Tr0ub4dor-and-3\"}"),
                     204);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/auth/whoami", key, NULL), 401);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/auth/whoami", s, NULL), 200); /* the caller's own */
    free(s);
}

static void test_bootstrap_makes_only_the_first_admin(void)
{
    char *out = NULL;
    ST_ASSERT_INT_EQ(gwt_cli(&T, "bootstrap-admin", "second", "another-password\n", &out), 1);
    free(out);
    CU_ASSERT_PTR_NULL(gwt_signin(&T, "second", "another-password", NULL));
    /* a short password is refused before anything is written */
    gwt fresh = {0};
    fresh.dir = T.dir;
    fresh.conninfo = T.conninfo;
    ST_ASSERT_INT_EQ(gwt_cli(&fresh, "bootstrap-admin", "x", "short\n", NULL), 2);
}

/* A user row the database refuses never reaches PostgreSQL's log: its
 * DETAIL would show the row, salt and hash prefix included (deploy/pg.sh). */
static void test_rejected_rows_do_not_reach_the_database_log(void)
{
    char *b = st_jsonf("{s:s, s:s}", "name", "bad name!", "password", "leaky-password-9");
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", "/v1/users", T.admin_token, b), 400);
    free(b);
    const char *h = getenv("STRATUS_TEST_PGHOST"); /* <cluster dir>/socket */
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    char log[600];
    snprintf(log, sizeof log, "%.*s/postgres.log", (int)(strrchr(h, '/') - h), h);
    FILE *f = fopen(log, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[4096];
    int refused = 0, leaked = 0;
    while (fgets(line, sizeof line, f)) {
        refused |= strstr(line, "users_name_check") != NULL;
        leaked |= strstr(line, "$argon2id$") != NULL || strstr(line, "bad name!") != NULL;
    }
    fclose(f);
    ST_ASSERT_INT_EQ(refused, 1); /* the error itself is logged */
    ST_ASSERT_INT_EQ(leaked, 0);
}

static CU_TestInfo tests[] = {
    {"sign-in returns a token scoped to the user's tenant", test_signin_returns_a_scoped_token},
    {"wrong password and unknown user get the same 401",
     test_wrong_password_and_unknown_user_look_the_same},
    {"missing and garbage tokens are 401", test_missing_and_garbage_tokens_are_401},
    {"an expired token is refused", test_expired_token_is_refused},
    {"a signed-out token is revoked", test_signed_out_token_is_revoked},
    {"API keys work until revoked, only by their owner", test_api_keys_work_until_revoked},
    {"failed sign-ins are rate limited per user name",
     test_failed_signins_are_rate_limited_per_user},
    {"sign-ins are rate limited per source address", test_signins_are_rate_limited_per_address},
    {"sign-in attempts of past windows are deleted", test_old_signin_windows_are_deleted},
    {"behind a trusted proxy the sign-in limit is per client",
     test_signin_limits_behind_a_trusted_proxy_are_per_client},
    {"roles limit what a user may do, and changes apply at once",
     test_roles_limit_what_a_user_may_do},
    {"node and user credentials do not open each other's API",
     test_node_and_user_credentials_do_not_mix},
    {"a password change signs out other sessions", test_password_change_signs_out_other_sessions},
    {"weak, common and name-based passwords are refused", test_weak_passwords_are_refused},
    {"an API key lives no longer than the token that made it, unless the password is given",
     test_api_key_lifetime_is_capped_by_the_minting_token},
    {"a password change revokes the user's API keys", test_password_change_revokes_api_keys},
    {"bootstrap makes only the first admin", test_bootstrap_makes_only_the_first_admin},
    {"rows the database refuses do not reach its log",
     test_rejected_rows_do_not_reach_the_database_log},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"auth", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
