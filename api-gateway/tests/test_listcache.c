/*
 * The rendered instance-list cache (listcache.c): first the cache on its own
 * (keys, versions, expiry, eviction, bodies outliving their entries), then
 * two real gateways on one database, where every way an instance list can
 * change - through the other gateway, through the node API, through a
 * foreign key, through a host's heartbeat stopping or coming back, through
 * an admin disabling a host - must show on the very next GET from a gateway
 * that holds a rendered copy. The cache's hit counter (/metrics) proves the
 * copy was there to go stale.
 */
#include "gateway.h"
#include "gwt.h"
#include "st_pg.h"
#include "st_test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- The cache alone ---- */

static gw_list_body *body(const char *text)
{
    return gw_list_body_new(strdup(text), strlen(text));
}

static int holds(gw_listcache *lc, const char *key, long long v, long long e, int64_t now,
                 const char *want)
{
    gw_list_body *b = gw_listcache_get(lc, key, v, e, now);
    int ok = b && b->len == strlen(want) && memcmp(b->data, want, b->len) == 0;
    gw_list_body_release(b);
    return ok;
}

static void test_cache_answers_only_the_version_and_epoch_it_was_rendered_for(void)
{
    gw_listcache *lc = gw_listcache_new(1 << 20);
    gw_list_body *b = body("{\"instances\":[]}");
    gw_listcache_put(lc, "t1|q", 5, 2, INT64_MAX, b);
    CU_ASSERT_TRUE(holds(lc, "t1|q", 5, 2, 0, "{\"instances\":[]}"));
    CU_ASSERT_PTR_NULL(gw_listcache_get(lc, "t1|q", 6, 2, 0));
    CU_ASSERT_PTR_NULL(gw_listcache_get(lc, "t1|q", 5, 3, 0));
    CU_ASSERT_PTR_NULL(gw_listcache_get(lc, "t2|q", 5, 2, 0));
    CU_ASSERT_PTR_NULL(gw_listcache_get(lc, "t1|q2", 5, 2, 0));
    /* equal bodies have equal tags, different bodies different ones */
    gw_list_body *same = body("{\"instances\":[]}"), *other = body("{\"instances\":[1]}");
    ST_ASSERT_STR_EQ(same->etag, b->etag);
    CU_ASSERT_STRING_NOT_EQUAL(other->etag, b->etag);
    CU_ASSERT_EQUAL(b->etag[0], '"');
    gw_list_body_release(same);
    gw_list_body_release(other);
    gw_list_body_release(b);
    gw_listcache_free(lc);
}

static void test_cache_keeps_the_newer_render_and_honours_expiry(void)
{
    gw_listcache *lc = gw_listcache_new(1 << 20);
    gw_list_body *b7 = body("seven"), *b6 = body("six"), *b8 = body("eight");
    gw_listcache_put(lc, "k", 7, 1, 1000, b7);
    /* a slower render of an older state arrives late: ignored */
    gw_listcache_put(lc, "k", 6, 1, INT64_MAX, b6);
    CU_ASSERT_TRUE(holds(lc, "k", 7, 1, 999, "seven"));
    /* at its expiry (a host's heartbeat too old) it is gone */
    CU_ASSERT_PTR_NULL(gw_listcache_get(lc, "k", 7, 1, 1000));
    gw_listcache_put(lc, "k", 8, 1, INT64_MAX, b8);
    CU_ASSERT_TRUE(holds(lc, "k", 8, 1, 5000, "eight"));
    CU_ASSERT_PTR_NULL(gw_listcache_get(lc, "k", 7, 1, 0));
    gw_list_body_release(b6);
    gw_list_body_release(b7);
    gw_list_body_release(b8);
    gw_listcache_free(lc);
}

static void test_cache_evicts_least_recently_used_within_its_bytes(void)
{
    char page[1000];
    memset(page, 'x', sizeof page - 1);
    page[sizeof page - 1] = 0;
    /* room for three pages and their entries, not four */
    gw_listcache *lc = gw_listcache_new(3 * 1200);
    for (int i = 0; i < 3; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        gw_list_body *b = body(page);
        gw_listcache_put(lc, k, 1, 1, INT64_MAX, b);
        gw_list_body_release(b);
    }
    CU_ASSERT_TRUE(holds(lc, "k0", 1, 1, 0, page)); /* k0 is now the most recent */
    /* a page held by a reply in flight outlives its eviction */
    gw_list_body *inflight = gw_listcache_get(lc, "k1", 1, 1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(inflight);
    gw_list_body *b = body(page);
    gw_listcache_put(lc, "k3", 1, 1, INT64_MAX, b);
    gw_list_body_release(b);
    CU_ASSERT_TRUE(gw_listcache_bytes(lc) <= 3 * 1200);
    CU_ASSERT_TRUE(holds(lc, "k3", 1, 1, 0, page));
    CU_ASSERT_TRUE(holds(lc, "k0", 1, 1, 0, page));
    /* k1 was touched by the get above, so k2 was the least recent */
    CU_ASSERT_PTR_NULL(gw_listcache_get(lc, "k2", 1, 1, 0));
    /* a page bigger than the whole cache is never kept */
    char *huge = malloc(8000);
    memset(huge, 'y', 7999);
    huge[7999] = 0;
    b = gw_list_body_new(huge, 7999);
    gw_listcache_put(lc, "big", 1, 1, INT64_MAX, b);
    gw_list_body_release(b);
    CU_ASSERT_PTR_NULL(gw_listcache_get(lc, "big", 1, 1, 0));
    gw_listcache_free(lc);
    /* still readable after the cache is gone (ASan checks the claim) */
    CU_ASSERT_EQUAL(inflight->data[0], 'x');
    gw_list_body_release(inflight);
}

/* ---- Two gateways on one database ---- */

static gwt A, B; /* A lists, B changes things */
static gwt_tenant T;
static char *node;
static char node_id[40], flavor[40], image[40];
static char inst[3][40];

static const char *const settings[] = {"nodes.down_after=2", "metrics.token=lc-metrics-token",
                                       NULL};

static long long list_hits(const gwt *g)
{
    st_resp r;
    char url[128];
    snprintf(url, sizeof url, "%s/metrics", g->base);
    st_http(&r, "GET", url, "lc-metrics-token", NULL, NULL);
    const char *p =
        r.body ? strstr(r.body, "stratus_gateway_instance_list_cache_total{result=\"hit\"} ")
               : NULL;
    long long n = p ? atoll(strchr(p, ' ') + 1) : -1;
    st_resp_free(&r);
    return n;
}

/* GET /v1/instances on A: the entry for id (a new reference), or NULL. */
static json_t *list_entry(const char *id)
{
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&A, &r, "GET", "/v1/instances", T.reader, NULL), 200);
    json_t *found = NULL, *it;
    size_t i;
    json_array_foreach(json_object_get(r.json, "instances"), i, it)
    {
        if (strcmp(json_string_value(json_object_get(it, "id")), id) == 0)
            found = json_incref(it);
    }
    st_resp_free(&r);
    return found;
}

/* A field of a list entry as text: its string, "null", "(absent)" when
 * there is no entry, "?" for other types; malloc'd. */
static char *field_text(json_t *e, const char *f)
{
    json_t *v = json_object_get(e, f);
    char *s = !e                  ? strdup("(absent)")
              : json_is_string(v) ? strdup(json_string_value(v))
              : json_is_null(v)   ? strdup("null")
                                  : strdup("?");
    json_decref(e);
    return s;
}

/* id's field in A's list, read twice so that the second read is served by
 * the cache (the hit counter proves it). */
static char *cached_field_as_is(const char *id, const char *f)
{
    json_decref(list_entry(id));
    long long h0 = list_hits(&A);
    json_t *e = list_entry(id);
    CU_ASSERT_EQUAL(list_hits(&A), h0 + 1);
    return field_text(e, f);
}

/* The same, the host beating first: a page expires nodes.down_after (2 s)
 * after the last heartbeat of a host it shows up, and a loaded machine can
 * take that long between a test's steps. */
static char *cached_field(const char *id, const char *f)
{
    gwt_heartbeat(&A, node, 64, 262144, 10000);
    return cached_field_as_is(id, f);
}

/* id's field in A's list, read once. */
static char *fresh_field(const char *id, const char *f)
{
    return field_text(list_entry(id), f);
}

#define ASSERT_STR_FREE(expr, want)                                                                \
    do {                                                                                           \
        char *v_ = (expr);                                                                         \
        ST_ASSERT_STR_EQ(v_, want);                                                                \
        free(v_);                                                                                  \
    } while (0)

static int suite_init(void)
{
    gwt_start(&A, "gw_listcache", settings);
    gwt_start_peer(&B, &A, settings);
    gwt_make_tenant(&A, "lists", &T);
    node = gwt_make_node(&A, "node-1", 64, 262144, 10000);
    gwt_make_catalog(&A, flavor, image);
    st_resp r;
    gwt_call(&A, &r, "GET", "/v1/nodes", A.admin_token, NULL);
    snprintf(node_id, sizeof node_id, "%s",
             json_string_value(
                 json_object_get(json_array_get(json_object_get(r.json, "nodes"), 0), "id")));
    st_resp_free(&r);
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "vm-%d", i);
        if (gwt_create_instance(&A, T.member, name, "m1.small", image, NULL, inst[i]) != 202)
            return 1;
    }
    return 0;
}

static int suite_clean(void)
{
    gwt_free_tenant(&T);
    free(node);
    gwt_stop(&B);
    gwt_stop(&A);
    return 0;
}

static void test_list_has_an_etag_and_answers_304_to_it(void)
{
    gwt_heartbeat(&A, node, 64, 262144, 10000);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&A, &r, "GET", "/v1/instances", T.reader, NULL), 200);
    char *etag = st_resp_header(&r, "ETag");
    char *cc = st_resp_header(&r, "Cache-Control");
    CU_ASSERT_PTR_NOT_NULL_FATAL(etag);
    ST_ASSERT_STR_EQ(cc, "private, no-cache");
    char *first = strdup(r.body);
    st_resp_free(&r);
    char url[128], h[256];
    snprintf(url, sizeof url, "%s/v1/instances", A.base);
    /* the tag itself, its weak form, in a list, and "*": not modified */
    const char *forms[] = {"%s", "W/%s", "\"nope\", %s", " \"a\",%s ,\"b\"", "*"};
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        char v[200];
        snprintf(v, sizeof v, forms[i], etag);
        snprintf(h, sizeof h, "If-None-Match: %s", v);
        const char *hs[] = {h, NULL};
        st_http(&r, "GET", url, T.reader, NULL, hs);
        ST_ASSERT_INT_EQ(r.status, 304);
        CU_ASSERT_EQUAL(r.len, 0);
        char *e2 = st_resp_header(&r, "ETag");
        ST_ASSERT_STR_EQ(e2, etag);
        free(e2);
        st_resp_free(&r);
    }
    /* other tags, and malformed headers: the whole list, unchanged */
    size_t el = strlen(etag);
    char unterminated[128], prefix[128];
    snprintf(unterminated, sizeof unterminated, "%.*s", (int)el - 1, etag);
    snprintf(prefix, sizeof prefix, "%.*s\"", (int)el - 2, etag);
    const char *others[] = {"\"0123\"", unterminated, prefix, "W/", ",,,", "\"", "", "W/\"\""};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        snprintf(h, sizeof h, "If-None-Match: %s", others[i]);
        const char *hs[] = {h, NULL};
        st_http(&r, "GET", url, T.reader, NULL, hs);
        ST_ASSERT_INT_EQ(r.status, 200);
        ST_ASSERT_STR_EQ(r.body, first);
        st_resp_free(&r);
    }
    /* HEAD: the same tag and length, no body */
    st_http(&r, "HEAD", url, T.reader, NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 200);
    CU_ASSERT_EQUAL(r.len, 0);
    char *he = st_resp_header(&r, "ETag"), *hl = st_resp_header(&r, "Content-Length");
    ST_ASSERT_STR_EQ(he, etag);
    CU_ASSERT_TRUE(hl && (size_t)atol(hl) == strlen(first));
    free(he);
    free(hl);
    st_resp_free(&r);
    /* a tag is no credential: without a token it is 401, not 304 */
    snprintf(h, sizeof h, "If-None-Match: %s", etag);
    const char *hs[] = {h, NULL};
    st_http(&r, "GET", url, NULL, NULL, hs);
    ST_ASSERT_INT_EQ(r.status, 401);
    st_resp_free(&r);
    /* and another tenant with the same tag gets its own (empty) list */
    gwt_tenant X;
    gwt_make_tenant(&A, "lists-x", &X);
    st_http(&r, "GET", url, X.reader, NULL, hs);
    ST_ASSERT_INT_EQ(r.status, 200);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "instances")), 0);
    st_resp_free(&r);
    gwt_free_tenant(&X);
    free(first);
    free(cc);
    free(etag);
}

static void test_changes_through_the_other_gateway_show_at_once(void)
{
    gwt_heartbeat(&A, node, 64, 262144, 10000);
    char path[128];
    /* an order through the API (B) */
    ASSERT_STR_FREE(cached_field(inst[0], "state"), "building");
    long long gen = gwt_instance_generation(&B, NULL, inst[0]);
    ST_ASSERT_INT_EQ(gwt_report(&B, node, inst[0], "active", gen), 200);
    ASSERT_STR_FREE(fresh_field(inst[0], "state"), "active");
    ASSERT_STR_FREE(cached_field(inst[0], "task"), "null");
    snprintf(path, sizeof path, "/v1/instances/%s/actions", inst[0]);
    ST_ASSERT_INT_EQ(gwt_status(&B, "POST", path, T.member, "{\"action\":\"stop\"}"), 202);
    ASSERT_STR_FREE(fresh_field(inst[0], "task"), "stopping");
    /* a node's report (B's node API) */
    ASSERT_STR_FREE(cached_field(inst[0], "state"), "active");
    ST_ASSERT_INT_EQ(
        gwt_report(&B, node, inst[0], "stopped", gwt_instance_generation(&B, NULL, inst[0])), 200);
    ASSERT_STR_FREE(fresh_field(inst[0], "state"), "stopped");
    /* a new instance and a deleted one */
    ASSERT_STR_FREE(cached_field(inst[1], "state"), "building");
    char extra[40];
    ST_ASSERT_INT_EQ(gwt_create_instance(&B, T.member, "late", "m1.small", image, NULL, extra),
                     202);
    ASSERT_STR_FREE(fresh_field(extra, "name"), "late");
    ASSERT_STR_FREE(cached_field(extra, "name"), "late");
    snprintf(path, sizeof path, "/v1/instances/%s", extra);
    ST_ASSERT_INT_EQ(gwt_status(&B, "DELETE", path, T.member, NULL), 202);
    ASSERT_STR_FREE(fresh_field(extra, "state"), "deleting");
    ASSERT_STR_FREE(cached_field(extra, "state"), "deleting");
    ST_ASSERT_INT_EQ(
        gwt_report(&B, node, extra, "deleted", gwt_instance_generation(&B, NULL, extra)), 200);
    ASSERT_STR_FREE(fresh_field(extra, "state"), "(absent)");
}

static void test_a_keypair_deleted_elsewhere_leaves_the_list_at_once(void)
{
    gwt_heartbeat(&A, node, 64, 262144, 10000);
    st_resp r;
    char *kb = st_jsonf("{s:s, s:s}", "name", "k1", "public_key",
                        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBqH2Yy0d3J3sYt4M0zQJ9oWq3v6mE8Yw0m1"
                        "tq6mJrXb test@stratus");
    ST_ASSERT_INT_EQ(gwt_call(&A, &r, "POST", "/v1/keypairs", T.member, kb), 201);
    free(kb);
    char kid[40];
    snprintf(kid, sizeof kid, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    char *cb = st_jsonf("{s:s, s:s, s:s, s:s}", "name", "keyed", "flavor", "m1.small", "image",
                        image, "keypair", "k1");
    ST_ASSERT_INT_EQ(gwt_call(&A, &r, "POST", "/v1/instances", T.member, cb), 202);
    free(cb);
    char id[40];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    ASSERT_STR_FREE(cached_field(id, "keypair_id"), kid);
    /* the foreign key's ON DELETE SET NULL changes the instance row too */
    char path[128];
    snprintf(path, sizeof path, "/v1/keypairs/%s", kid);
    ST_ASSERT_INT_EQ(gwt_status(&B, "DELETE", path, T.member, NULL), 204);
    ASSERT_STR_FREE(fresh_field(id, "keypair_id"), "null");
}

static void test_host_status_follows_the_clock_the_heartbeat_and_the_admin(void)
{
    gwt_heartbeat(&A, node, 64, 262144, 10000);
    ASSERT_STR_FREE(cached_field(inst[1], "host_status"), "up");
    /* no heartbeat for longer than nodes.down_after (2 s): down, though
     * nothing in the database was written */
    sleep(4);
    ASSERT_STR_FREE(fresh_field(inst[1], "host_status"), "down");
    ASSERT_STR_FREE(cached_field_as_is(inst[1], "host_status"), "down");
    /* the host's next heartbeat, through the other gateway: up at once */
    gwt_heartbeat(&B, node, 64, 262144, 10000);
    ASSERT_STR_FREE(fresh_field(inst[1], "host_status"), "up");
    /* disabled and enabled by an admin through the other gateway */
    ASSERT_STR_FREE(cached_field(inst[1], "host_status"), "up");
    char path[128];
    snprintf(path, sizeof path, "/v1/nodes/%s", node_id);
    ST_ASSERT_INT_EQ(gwt_status(&B, "PATCH", path, B.admin_token, "{\"disabled\":true}"), 200);
    ASSERT_STR_FREE(fresh_field(inst[1], "host_status"), "maintenance");
    ASSERT_STR_FREE(cached_field_as_is(inst[1], "host_status"), "maintenance");
    ST_ASSERT_INT_EQ(gwt_status(&B, "PATCH", path, B.admin_token, "{\"disabled\":false}"), 200);
    gwt_heartbeat(&B, node, 64, 262144, 10000);
    ASSERT_STR_FREE(fresh_field(inst[1], "host_status"), "up");
}

static void test_filters_and_pages_are_cached_apart(void)
{
    gwt_heartbeat(&A, node, 64, 262144, 10000);
    st_resp r;
    /* warm every shape, then check each still answers for itself */
    const char *q[] = {"/v1/instances?limit=1", "/v1/instances?state=stopped",
                       "/v1/instances?name=vm-2", "/v1/instances?limit=2"};
    const size_t want[] = {1, 1, 1, 2};
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof q / sizeof *q; i++) {
            ST_ASSERT_INT_EQ(gwt_call(&A, &r, "GET", q[i], T.reader, NULL), 200);
            ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "instances")), want[i]);
            st_resp_free(&r);
        }
    }
    /* a page after a marker */
    ST_ASSERT_INT_EQ(gwt_call(&A, &r, "GET", "/v1/instances?limit=1", T.reader, NULL), 200);
    char next[300];
    snprintf(next, sizeof next, "/v1/instances?limit=1&marker=%s",
             json_string_value(json_object_get(r.json, "next")));
    st_resp_free(&r);
    for (int round = 0; round < 2; round++) {
        ST_ASSERT_INT_EQ(gwt_call(&A, &r, "GET", next, T.reader, NULL), 200);
        ST_ASSERT_STR_EQ(json_string_value(json_object_get(
                             json_array_get(json_object_get(r.json, "instances"), 0), "name")),
                         "vm-1");
        st_resp_free(&r);
    }
    /* a state filter whose value holds the key's separators is its own query */
    ST_ASSERT_INT_EQ(gwt_call(&A, &r, "GET", "/v1/instances?state=stopped%7C5:x", T.reader, NULL),
                     200);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "instances")), 0);
    st_resp_free(&r);
}

/* GET the node's desired set with If-None-Match: tag (NULL: none); the
 * status, and the answer's tag in out. */
static long node_set(const gwt *g, const char *tag, char out[128])
{
    char url[160], h[200];
    snprintf(url, sizeof url, "%s/internal/v1/node/instances", g->base);
    snprintf(h, sizeof h, "If-None-Match: %s", tag ? tag : "");
    const char *hs[] = {h, NULL};
    st_resp r;
    st_http(&r, "GET", url, node, NULL, tag ? hs : NULL);
    char *e = st_resp_header(&r, "ETag");
    snprintf(out, 128, "%s", e ? e : "");
    free(e);
    long st = r.status;
    st_resp_free(&r);
    return st;
}

static void test_a_node_set_is_304_until_an_order_for_it_changes(void)
{
    gwt_heartbeat(&A, node, 64, 262144, 10000);
    char t0[128], t1[128], t2[128];
    ST_ASSERT_INT_EQ(node_set(&A, NULL, t0), 200);
    CU_ASSERT_TRUE(t0[0] == '"');
    /* nothing changed: 304 from either gateway, same tag */
    ST_ASSERT_INT_EQ(node_set(&A, t0, t1), 304);
    ST_ASSERT_STR_EQ(t1, t0);
    ST_ASSERT_INT_EQ(node_set(&B, t0, t1), 304);
    /* another tenant's list changing, or a heartbeat, is no order for it */
    gwt_heartbeat(&B, node, 64, 262144, 10000);
    ST_ASSERT_INT_EQ(node_set(&A, t0, t1), 304);
    /* an order (stop) through the other gateway: the whole set again */
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%s/actions", inst[2]);
    long gen = gwt_instance_generation(&B, NULL, inst[2]);
    ST_ASSERT_INT_EQ(gwt_report(&B, node, inst[2], "active", gen), 200);
    ST_ASSERT_INT_EQ(node_set(&A, t0, t1), 200);
    CU_ASSERT_STRING_NOT_EQUAL(t1, t0);
    ST_ASSERT_INT_EQ(gwt_status(&B, "POST", path, T.member, "{\"action\":\"stop\"}"), 202);
    ST_ASSERT_INT_EQ(node_set(&A, t1, t2), 200);
    CU_ASSERT_STRING_NOT_EQUAL(t2, t1);
    ST_ASSERT_INT_EQ(node_set(&A, t2, t1), 304);
}

static CU_TestInfo unit[] = {
    {"cache answers only the version and epoch it was rendered for",
     test_cache_answers_only_the_version_and_epoch_it_was_rendered_for},
    {"cache keeps the newer render and honours expiry",
     test_cache_keeps_the_newer_render_and_honours_expiry},
    {"cache evicts least recently used within its bytes",
     test_cache_evicts_least_recently_used_within_its_bytes},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo live[] = {
    {"list has an etag and answers 304 to it", test_list_has_an_etag_and_answers_304_to_it},
    {"changes through the other gateway show at once",
     test_changes_through_the_other_gateway_show_at_once},
    {"a keypair deleted elsewhere leaves the list at once",
     test_a_keypair_deleted_elsewhere_leaves_the_list_at_once},
    {"host status follows the clock, the heartbeat and the admin",
     test_host_status_follows_the_clock_the_heartbeat_and_the_admin},
    {"filters and pages are cached apart", test_filters_and_pages_are_cached_apart},
    {"a node's desired set is 304 until an order for it changes",
     test_a_node_set_is_304_until_an_order_for_it_changes},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"listcache", NULL, NULL, NULL, NULL, unit},
    {"listcache_live", suite_init, suite_clean, NULL, NULL, live},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
