/*
 * The desired set's long-poll (GET /internal/v1/node/instances?wait=N,
 * nodes.c and nodewait.c): a node asking with the tag it has is answered
 * when its set changes, and only then, or after N seconds with the same tag.
 *
 * The real gateway with one worker thread (so both nodes' held requests
 * share one LISTEN connection and its notifications arrive in commit order)
 * on a fresh database. Node A runs instance X, node B instance Y, neither
 * with a network (a port on another host is part of a node's set). The test
 * checks that:
 *   - a held request of A is not answered by B's change (B's own held
 *     request is, with B's set: the notification was handled), and is
 *     answered by A's change with A's new set and a new tag;
 *   - N seconds without a change answer 304 with the unchanged tag;
 *   - a stale tag is answered at once; a bad wait is 400;
 *   - held requests take no pooled connection: more of them than
 *     db.pool_size wait at once, and the API still answers meanwhile;
 *   - the LISTEN connection killed under a held request answers it (304),
 *     and the next long-poll listens again and is woken by a change.
 */
#include "gwt.h"
#include "st_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static gwt T;
static gwt_tenant A;
static char *cred_a, *cred_b;
static char flavor[40], image[40], inst_x[40], inst_y[40];

typedef struct poll_call {
    pthread_t th;
    const char *cred;
    char etag[128];
    int wait_s;
    st_resp r;
    char *etag_out;
    volatile int done;
} poll_call;

static void *poll_run(void *arg)
{
    poll_call *p = arg;
    char url[256], inm[200];
    snprintf(url, sizeof url, "%s/internal/v1/node/instances?wait=%d", T.base, p->wait_s);
    snprintf(inm, sizeof inm, "If-None-Match: %s", p->etag);
    const char *h[] = {inm, NULL};
    st_http(&p->r, "GET", url, p->cred, NULL, h);
    p->etag_out = st_resp_header(&p->r, "ETag");
    p->done = 1;
    return NULL;
}

static void poll_begin(poll_call *p, const char *cred, const char *etag, int wait_s)
{
    memset(p, 0, sizeof *p);
    p->cred = cred;
    p->wait_s = wait_s;
    snprintf(p->etag, sizeof p->etag, "%s", etag);
    pthread_create(&p->th, NULL, poll_run, p);
}

static void poll_end(poll_call *p)
{
    pthread_join(p->th, NULL);
}

static void poll_free(poll_call *p)
{
    st_resp_free(&p->r);
    free(p->etag_out);
}

/* The node's current tag (a plain GET). */
static char *etag_of(const char *cred)
{
    st_resp r;
    gwt_call(&T, &r, "GET", "/internal/v1/node/instances", cred, NULL);
    char *e = st_resp_header(&r, "ETag");
    st_resp_free(&r);
    return e;
}

/* How many long-polls the gateway holds now (its /metrics gauge). */
static int held_now(void)
{
    char url[128];
    snprintf(url, sizeof url, "%s/metrics", T.base);
    st_resp r;
    st_http(&r, "GET", url, "lp-metrics", NULL, NULL);
    const char *m = r.body ? strstr(r.body, "\nstratus_gateway_node_waits ") : NULL;
    int n = m ? atoi(m + strlen("\nstratus_gateway_node_waits ")) : 0;
    st_resp_free(&r);
    return n;
}

/* Waits (up to 20 s: a failure bound, not a target) until n are held. */
static int until_held(int n)
{
    for (int i = 0; i < 2000; i++) {
        if (held_now() == n)
            return 1;
        usleep(10000);
    }
    return 0;
}

/* An instance with no network (so no other node's set names its port),
 * placed on the one node left enabled. */
static int create_on(const char *node, const char *name, char id[40])
{
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE iaas.nodes SET disabled = (name <> '%s')", node);
    gwt_sql(&T, sql);
    char *b = st_jsonf("{s:s, s:s, s:s, s:s}", "name", name, "flavor", "m1.small", "image", image,
                       "networks", "none");
    st_resp r;
    long s = gwt_call(&T, &r, "POST", "/v1/instances", A.member, b);
    const char *v = json_string_value(json_object_get(r.json, "id"));
    snprintf(id, 40, "%s", v ? v : "");
    st_resp_free(&r);
    free(b);
    gwt_sql(&T, "UPDATE iaas.nodes SET disabled = false");
    return s == 202 ? 0 : -1;
}

static int suite_init(void)
{
    static const char *const settings[] = {"http.threads=1", "db.pool_size=2",
                                           "metrics.token=lp-metrics", "nodes.down_after=3600",
                                           NULL};
    gwt_start(&T, "gw_nodewait", settings);
    gwt_make_tenant(&T, "owner", &A);
    gwt_make_catalog(&T, flavor, image);
    cred_a = gwt_make_node(&T, "node-a", 16, 65536, 1000);
    cred_b = gwt_make_node(&T, "node-b", 16, 65536, 1000);
    return create_on("node-a", "x", inst_x) == 0 && create_on("node-b", "y", inst_y) == 0 ? 0 : -1;
}

static int suite_cleanup(void)
{
    gwt_free_tenant(&A);
    free(cred_a);
    free(cred_b);
    gwt_stop(&T);
    return 0;
}

static void test_woken_by_own_change_only(void)
{
    char *ea = etag_of(cred_a), *eb = etag_of(cred_b);
    ST_ASSERT_INT_EQ_FATAL(ea != NULL && eb != NULL, 1);
    poll_call pa, pb;
    poll_begin(&pa, cred_a, ea, 60);
    ST_ASSERT_INT_EQ_FATAL(until_held(1), 1);
    poll_begin(&pb, cred_b, eb, 60);
    ST_ASSERT_INT_EQ_FATAL(until_held(2), 1);
    /* B's change: B's request is answered with B's set, A's is not */
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%s", inst_y);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.member, NULL), 202);
    poll_end(&pb);
    ST_ASSERT_INT_EQ(pb.r.status, 200);
    ST_ASSERT_INT_EQ(pb.etag_out && strcmp(pb.etag_out, eb) != 0, 1);
    const char *body = pb.r.body ? pb.r.body : "";
    ST_ASSERT_INT_EQ(strstr(body, inst_y) != NULL, 1);
    ST_ASSERT_INT_EQ(strstr(body, inst_x) == NULL, 1);
    ST_ASSERT_INT_EQ(pa.done, 0);
    ST_ASSERT_INT_EQ(held_now(), 1);
    /* A's change answers A's request with A's new set */
    snprintf(path, sizeof path, "/v1/instances/%s", inst_x);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.member, NULL), 202);
    poll_end(&pa);
    ST_ASSERT_INT_EQ(pa.r.status, 200);
    ST_ASSERT_INT_EQ(pa.etag_out && strcmp(pa.etag_out, ea) != 0, 1);
    body = pa.r.body ? pa.r.body : "";
    ST_ASSERT_INT_EQ(strstr(body, inst_x) != NULL, 1);
    ST_ASSERT_INT_EQ(strstr(body, inst_y) == NULL, 1);
    char *now = etag_of(cred_a);
    ST_ASSERT_STR_EQ(pa.etag_out, now);
    free(now);
    ST_ASSERT_INT_EQ(held_now(), 0);
    poll_free(&pa);
    poll_free(&pb);
    free(ea);
    free(eb);
}

static void test_timeout_answers_unchanged(void)
{
    char *e = etag_of(cred_a);
    poll_call p;
    poll_begin(&p, cred_a, e, 1);
    poll_end(&p);
    ST_ASSERT_INT_EQ(p.r.status, 304);
    ST_ASSERT_STR_EQ(p.etag_out, e);
    ST_ASSERT_INT_EQ(held_now(), 0);
    poll_free(&p);
    free(e);
}

static void test_stale_tag_and_bad_wait(void)
{
    poll_call p;
    poll_begin(&p, cred_a, "\"not-the-tag\"", 60);
    poll_end(&p);
    ST_ASSERT_INT_EQ(p.r.status, 200);
    ST_ASSERT_INT_EQ(p.etag_out != NULL, 1);
    poll_free(&p);
    static const char *const bad[] = {"0", "61", "x", "", "5s", "-1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char path[128];
        snprintf(path, sizeof path, "/internal/v1/node/instances?wait=%s", bad[i]);
        st_resp r;
        ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, cred_a, NULL), 400);
        ST_ASSERT_STR_EQ(st_resp_error_code(&r), "invalid_request");
        st_resp_free(&r);
    }
}

static void test_no_pooled_connection_held(void)
{
    /* db.pool_size is 2: five held requests, and the API still answers */
    char *e = etag_of(cred_a);
    poll_call p[5];
    for (int i = 0; i < 5; i++)
        poll_begin(&p[i], cred_a, e, 60);
    ST_ASSERT_INT_EQ_FATAL(until_held(5), 1);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/instances", A.reader, NULL), 200);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/internal/v1/node/instances", cred_b, NULL), 200);
    /* one change answers all five */
    char id[40];
    ST_ASSERT_INT_EQ(create_on("node-a", "z", id), 0);
    for (int i = 0; i < 5; i++) {
        poll_end(&p[i]);
        ST_ASSERT_INT_EQ(p[i].r.status, 200);
        ST_ASSERT_INT_EQ(p[i].r.body && strstr(p[i].r.body, id) != NULL, 1);
        poll_free(&p[i]);
    }
    free(e);
}

static void test_listen_connection_lost(void)
{
    char *e = etag_of(cred_a);
    poll_call p;
    poll_begin(&p, cred_a, e, 60);
    ST_ASSERT_INT_EQ_FATAL(until_held(1), 1);
    gwt_sql(&T, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE query = 'LISTEN stratus_node_desired'");
    poll_end(&p);
    ST_ASSERT_INT_EQ(p.r.status, 304);
    ST_ASSERT_STR_EQ(p.etag_out, e);
    poll_free(&p);
    /* the next long-poll listens again and is woken by a change */
    poll_begin(&p, cred_a, e, 60);
    ST_ASSERT_INT_EQ_FATAL(until_held(1), 1);
    char id[40];
    ST_ASSERT_INT_EQ(create_on("node-a", "w", id), 0);
    poll_end(&p);
    ST_ASSERT_INT_EQ(p.r.status, 200);
    ST_ASSERT_INT_EQ(p.r.body && strstr(p.r.body, id) != NULL, 1);
    poll_free(&p);
    free(e);
}

static CU_TestInfo tests[] = {
    {"a held request is answered by its own node's change only", test_woken_by_own_change_only},
    {"no change within wait: 304 with the same tag", test_timeout_answers_unchanged},
    {"a stale tag is answered at once; a bad wait is 400", test_stale_tag_and_bad_wait},
    {"held requests hold no pooled connection", test_no_pooled_connection_held},
    {"a lost LISTEN connection answers its waiters and is made again", test_listen_connection_lost},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"node_wait", suite_init, suite_cleanup, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
