/* Instances against a real gateway and PostgreSQL: create, list and
 * pagination, every lifecycle transition (allowed and refused), idempotent
 * create, and quotas under concurrent creates. The test acts as the node
 * agent through the node API to report what happened to each instance. */
#include "gwt.h"
#include "st_pg.h"
#include "st_test.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static gwt T;
static gwt_tenant A;
static char *node;
static char flavor[40], image[40];

static int suite_init(void)
{
    gwt_start(&T, "gw_inst", NULL);
    gwt_make_tenant(&T, "inst", &A);
    node = gwt_make_node(&T, "node-1", 64, 262144, 10000);
    gwt_make_catalog(&T, flavor, image);
    return 0;
}

static int suite_clean(void)
{
    gwt_free_tenant(&A);
    free(node);
    gwt_stop(&T);
    return 0;
}

static char *field(const char *id, const char *f)
{
    return gwt_instance_field(&T, A.member, id, f);
}

#define ASSERT_FIELD(id, f, want)                                                                  \
    do {                                                                                           \
        char *v_ = field(id, f);                                                                   \
        ST_ASSERT_STR_EQ(v_, want);                                                                \
        free(v_);                                                                                  \
    } while (0)

static long action(const char *id, const char *act)
{
    char path[128], body[64];
    snprintf(path, sizeof path, "/v1/instances/%s/actions", id);
    snprintf(body, sizeof body, "{\"action\":\"%s\"}", act);
    return gwt_status(&T, "POST", path, A.member, body);
}

static long del(const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%s", id);
    return gwt_status(&T, "DELETE", path, A.member, NULL);
}

static long report(const char *id, const char *state)
{
    return gwt_report(&T, node, id, state, gwt_instance_generation(&T, A.member, id));
}

static void test_create_places_and_returns_202(void)
{
    char url[256];
    snprintf(url, sizeof url, "%s/v1/instances", T.base);
    st_resp r;
    char *b = st_jsonf("{s:s, s:s, s:s, s:s}", "name", "web-1", "flavor", "m1.small", "image",
                       image, "user_data", "I2Nsb3VkLWNvbmZpZwo=");
    st_http(&r, "POST", url, A.member, b, NULL);
    free(b);
    ST_ASSERT_INT_EQ(r.status, 202);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "state")), "building");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "flavor_id")), flavor);
    CU_ASSERT_TRUE(json_is_string(json_object_get(r.json, "node_id")));
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "vcpus")), 1);
    char *loc = st_resp_header(&r, "Location");
    char want[128];
    snprintf(want, sizeof want, "/v1/instances/%s",
             json_string_value(json_object_get(r.json, "id")));
    ST_ASSERT_STR_EQ(loc, want);
    free(loc);
    st_resp_free(&r);
}

static void test_bad_create_requests_are_400(void)
{
    const char *bodies[] = {
        "{\"name\":\"x\",\"flavor\":\"nope\",\"image\":\"base-image\"}",
        "{\"name\":\"x\",\"flavor\":\"m1.small\",\"image\":\"nope\"}",
        "{\"name\":\"bad name!\",\"flavor\":\"m1.small\",\"image\":\"base-image\"}",
        "{\"name\":\"x\",\"flavor\":\"m1.small\",\"image\":\"base-image\",\"user_data\":\"%%%\"}",
        "{\"name\":\"x\",\"flavor\":\"m1.small\",\"image\":\"base-image\",\"keypair\":\"none\"}",
        "{\"name\":\"x\",\"flavor\":\"m1.small\",\"image\":\"base-image\",\"colour\":\"red\"}",
        "{\"name\":\"x\",\"flavor\":\"m1.small\"}",
        "{\"name\":42,\"flavor\":\"m1.small\",\"image\":\"base-image\"}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        st_resp r;
        long s = gwt_call(&T, &r, "POST", "/v1/instances", A.member, bodies[i]);
        st_assert_fmt(s == 400, 0, __FILE__, __LINE__, "body %zu: status %ld (%s)", i, s, r.body);
        st_assert_fmt(json_is_string(json_object_get(json_object_get(r.json, "error"), "message")),
                      0, __FILE__, __LINE__, "body %zu: no error message", i);
        st_resp_free(&r);
    }
}

static void test_lifecycle_building_active_stopped_and_back(void)
{
    char id[40];
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, "life", "m1.small", image, NULL, id), 202);
    /* nothing may be done to a building instance but delete */
    ST_ASSERT_INT_EQ(action(id, "stop"), 409);
    ST_ASSERT_INT_EQ(action(id, "start"), 409);
    ST_ASSERT_INT_EQ(action(id, "reboot"), 409);
    ST_ASSERT_INT_EQ(report(id, "stopped"), 409); /* building -> stopped is no transition */
    ST_ASSERT_INT_EQ(report(id, "active"), 200);
    ASSERT_FIELD(id, "state", "active");
    /* stop: the task shows until the node confirms */
    ST_ASSERT_INT_EQ(action(id, "start"), 409);
    ST_ASSERT_INT_EQ(action(id, "stop"), 202);
    ASSERT_FIELD(id, "task", "stopping");
    ASSERT_FIELD(id, "power_desired", "stopped");
    ST_ASSERT_INT_EQ(action(id, "stop"), 409); /* already stopping */
    ST_ASSERT_INT_EQ(report(id, "stopped"), 200);
    ASSERT_FIELD(id, "state", "stopped");
    ASSERT_FIELD(id, "task", "(null)");
    ST_ASSERT_INT_EQ(action(id, "stop"), 409);
    ST_ASSERT_INT_EQ(action(id, "reboot"), 409);
    /* start */
    ST_ASSERT_INT_EQ(action(id, "start"), 202);
    ASSERT_FIELD(id, "task", "starting");
    ST_ASSERT_INT_EQ(report(id, "active"), 200);
    ASSERT_FIELD(id, "state", "active");
    ASSERT_FIELD(id, "task", "(null)");
    /* reboot: completes when the node reports the new reboot sequence */
    ST_ASSERT_INT_EQ(action(id, "reboot"), 202);
    ASSERT_FIELD(id, "task", "rebooting");
    char path[128];
    snprintf(path, sizeof path, "/internal/v1/node/instances/%s", id);
    char *stale = st_jsonf("{s:s, s:I, s:i}", "state", "active", "generation",
                           (json_int_t)gwt_instance_generation(&T, A.member, id), "reboot_seq", 0);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, node, stale), 200);
    ASSERT_FIELD(id, "task", "rebooting");
    free(stale);
    char *done = st_jsonf("{s:s, s:I, s:i}", "state", "active", "generation",
                          (json_int_t)gwt_instance_generation(&T, A.member, id), "reboot_seq", 1);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, node, done), 200);
    ASSERT_FIELD(id, "task", "(null)");
    free(done);
    ST_ASSERT_INT_EQ(action(id, "fly"), 400);
}

static long action_body(const char *id, const char *body)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%s/actions", id);
    return gwt_status(&T, "POST", path, A.member, body);
}

/* The instance's entry in the node's desired set: field f as 1/0 (booleans), -1 when absent. */
static int desired_flag(const char *id, const char *f)
{
    st_resp r;
    json_t *it;
    size_t i;
    int v = -1;
    gwt_call(&T, &r, "GET", "/internal/v1/node/instances", node, NULL);
    json_array_foreach(json_object_get(r.json, "instances"), i,
                       it) if (!strcmp(json_string_value(json_object_get(it, "id")), id) &&
                               json_object_get(it, f)) v = json_is_true(json_object_get(it, f));
    st_resp_free(&r);
    return v;
}

static long report_stop(const char *id, const char *state, const char *how, long long rseq)
{
    char path[128];
    snprintf(path, sizeof path, "/internal/v1/node/instances/%s", id);
    char *b = st_jsonf("{s:s, s:I, s:s, s:I}", "state", state, "generation",
                       (json_int_t)gwt_instance_generation(&T, A.member, id), "stop", how,
                       "reboot_seq", (json_int_t)rseq);
    long s = gwt_status(&T, "PUT", path, node, b);
    free(b);
    return s;
}

static void test_stop_and_reboot_graceful_or_forced(void)
{
    char id[40];
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, "grace", "m1.small", image, NULL, id), 202);
    ST_ASSERT_INT_EQ(report(id, "active"), 200);
    ASSERT_FIELD(id, "last_stop", "(null)");
    /* the options belong to their actions */
    ST_ASSERT_INT_EQ(action_body(id, "{\"action\":\"reboot\",\"force\":true}"), 400);
    ST_ASSERT_INT_EQ(action_body(id, "{\"action\":\"stop\",\"type\":\"hard\"}"), 400);
    ST_ASSERT_INT_EQ(action_body(id, "{\"action\":\"reboot\",\"type\":\"warm\"}"), 400);
    ST_ASSERT_INT_EQ(action_body(id, "{\"action\":\"stop\",\"force\":\"yes\"}"), 400);
    ASSERT_FIELD(id, "task", "(null)");
    /* a plain stop is graceful: the node gets no force, and reports how it ended */
    ST_ASSERT_INT_EQ(action(id, "stop"), 202);
    ST_ASSERT_INT_EQ(desired_flag(id, "stop_force"), 0);
    ST_ASSERT_INT_EQ(report_stop(id, "stopped", "sideways", 0), 400);
    ASSERT_FIELD(id, "task", "stopping");
    /* while it waits for the guest, a second plain stop is refused */
    ST_ASSERT_INT_EQ(action(id, "stop"), 409);
    ST_ASSERT_INT_EQ(report_stop(id, "stopped", "graceful", 0), 200);
    ASSERT_FIELD(id, "state", "stopped");
    ASSERT_FIELD(id, "last_stop", "graceful");
    char *at = field(id, "last_stop_at");
    CU_ASSERT(strcmp(at, "(null)") != 0);
    free(at);
    /* a forced stop: the order says so */
    ST_ASSERT_INT_EQ(action(id, "start"), 202);
    ST_ASSERT_INT_EQ(report(id, "active"), 200);
    ASSERT_FIELD(id, "last_stop", "graceful"); /* a report without a stop keeps the last */
    ST_ASSERT_INT_EQ(action_body(id, "{\"action\":\"stop\",\"force\":true}"), 202);
    ST_ASSERT_INT_EQ(desired_flag(id, "stop_force"), 1);
    ST_ASSERT_INT_EQ(report_stop(id, "stopped", "forced", 0), 200);
    ASSERT_FIELD(id, "last_stop", "forced");
    /* a force stop escalates a graceful stop still waiting: a newer order, forced; once
     * forced, another force is refused */
    ST_ASSERT_INT_EQ(action(id, "start"), 202);
    ST_ASSERT_INT_EQ(report(id, "active"), 200);
    ST_ASSERT_INT_EQ(action(id, "stop"), 202);
    long long g = gwt_instance_generation(&T, A.member, id);
    ST_ASSERT_INT_EQ(desired_flag(id, "stop_force"), 0);
    ST_ASSERT_INT_EQ(action_body(id, "{\"action\":\"stop\",\"force\":true}"), 202);
    ST_ASSERT_INT_EQ(gwt_instance_generation(&T, A.member, id), g + 1);
    ST_ASSERT_INT_EQ(desired_flag(id, "stop_force"), 1);
    ASSERT_FIELD(id, "task", "stopping");
    ST_ASSERT_INT_EQ(action_body(id, "{\"action\":\"stop\",\"force\":true}"), 409);
    ST_ASSERT_INT_EQ(report_stop(id, "stopped", "forced", 0), 200);
    ASSERT_FIELD(id, "last_stop", "forced");
    /* reboots: soft by default (its stop is reported with the new boot), or hard */
    ST_ASSERT_INT_EQ(action(id, "start"), 202);
    ST_ASSERT_INT_EQ(report(id, "active"), 200);
    ST_ASSERT_INT_EQ(action(id, "reboot"), 202);
    ST_ASSERT_INT_EQ(desired_flag(id, "reboot_hard"), 0);
    ST_ASSERT_INT_EQ(report_stop(id, "active", "graceful", 1), 200);
    ASSERT_FIELD(id, "task", "(null)");
    ASSERT_FIELD(id, "last_stop", "graceful");
    ST_ASSERT_INT_EQ(action_body(id, "{\"action\":\"reboot\",\"type\":\"hard\"}"), 202);
    ST_ASSERT_INT_EQ(desired_flag(id, "reboot_hard"), 1);
    ST_ASSERT_INT_EQ(action_body(id, "{\"action\":\"reboot\",\"type\":\"soft\"}"), 409);
}

static void test_delete_goes_through_deleting(void)
{
    char id[40];
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, "doomed", "m1.small", image, NULL, id), 202);
    ST_ASSERT_INT_EQ(report(id, "active"), 200);
    long long g0 = gwt_instance_generation(&T, A.member, id);
    /* 202 with the instance as JSON, as the actions answer */
    char path0[128];
    snprintf(path0, sizeof path0, "/v1/instances/%s", id);
    st_resp d;
    ST_ASSERT_INT_EQ(gwt_call(&T, &d, "DELETE", path0, A.member, NULL), 202);
    char *ct = st_resp_header(&d, "Content-Type");
    ST_ASSERT_STR_EQ(ct, "application/json");
    free(ct);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d.json);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(d.json, "id")), id);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(d.json, "state")), "deleting");
    st_resp_free(&d);
    ASSERT_FIELD(id, "state", "deleting");
    CU_ASSERT(gwt_instance_generation(&T, A.member, id) > g0);
    /* the node sees it as "to be deleted" */
    st_resp r;
    gwt_call(&T, &r, "GET", "/internal/v1/node/instances", node, NULL);
    json_t *it;
    size_t i;
    const char *desired = NULL;
    json_array_foreach(json_object_get(r.json, "instances"), i,
                       it) if (!strcmp(json_string_value(json_object_get(it, "id")), id)) desired =
        json_string_value(json_object_get(it, "desired"));
    ST_ASSERT_STR_EQ(desired, "deleted");
    json_array_foreach(json_object_get(r.json, "instances"), i, it)
        ST_ASSERT_STR_EQ(json_string_value(json_object_get(it, "flavor")), "m1.small");
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(action(id, "stop"), 409);
    ST_ASSERT_INT_EQ(del(id), 409);
    ST_ASSERT_INT_EQ(report(id, "active"), 409); /* a stale report changes nothing */
    ASSERT_FIELD(id, "state", "deleting");
    /* a report about the previous order (generation g0) is stale: 409, and
     * it must not move the instance to error where nothing would delete it */
    ST_ASSERT_INT_EQ(gwt_report(&T, node, id, "error", g0), 409);
    ASSERT_FIELD(id, "state", "deleting");
    ST_ASSERT_INT_EQ(report(id, "deleted"), 200);
    ASSERT_FIELD(id, "state", "(missing)"); /* deleted instances are gone from the API */
    ST_ASSERT_INT_EQ(del(id), 404);
    ST_ASSERT_INT_EQ(report(id, "active"), 404);
}

static void test_error_state_allows_only_delete(void)
{
    char id[40];
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, "broken", "m1.small", image, NULL, id), 202);
    char path[128];
    snprintf(path, sizeof path, "/internal/v1/node/instances/%s", id);
    char *b = st_jsonf("{s:s, s:I, s:s}", "state", "error", "generation",
                       (json_int_t)gwt_instance_generation(&T, A.member, id), "fault",
                       "vmm exited with status 1");
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, node, b), 200);
    free(b);
    ASSERT_FIELD(id, "state", "error");
    ASSERT_FIELD(id, "fault", "vmm exited with status 1");
    ST_ASSERT_INT_EQ(action(id, "start"), 409);
    ST_ASSERT_INT_EQ(action(id, "stop"), 409);
    ST_ASSERT_INT_EQ(report(id, "active"), 409);
    ST_ASSERT_INT_EQ(del(id), 202);
    ST_ASSERT_INT_EQ(report(id, "deleted"), 200);
    ST_ASSERT_INT_EQ(del(id), 404);
}

static void test_database_refuses_illegal_transitions(void)
{
    char id[40];
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, "guarded", "m1.small", image, NULL, id),
                     202);
    PGconn *c = st_pg_connect(T.conninfo);
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE iaas.instances SET state = 'stopped' WHERE id = '%s'", id);
    PGresult *r = PQexec(c, sql);
    ST_ASSERT_STR_EQ(PQresultErrorField(r, PG_DIAG_SQLSTATE), "SX409");
    PQclear(r);
    snprintf(sql, sizeof sql, "UPDATE iaas.instances SET state = 'deleted' WHERE id = '%s'", id);
    r = PQexec(c, sql);
    ST_ASSERT_INT_EQ(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    snprintf(sql, sizeof sql, "UPDATE iaas.instances SET state = 'active' WHERE id = '%s'", id);
    r = PQexec(c, sql);
    ST_ASSERT_STR_EQ(PQresultErrorField(r, PG_DIAG_SQLSTATE), "SX409");
    PQclear(r);
    PQfinish(c);
}

static void test_no_valid_host_gives_error_with_reason(void)
{
    st_resp r;
    char *fb = st_jsonf("{s:s, s:i, s:i, s:i}", "name", "huge", "vcpus", 256, "memory_mib", 4000000,
                        "disk_gib", 10);
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", "/v1/flavors", T.admin_token, fb), 201);
    free(fb);
    /* raise the admin tenant's quota so the flavor passes quota, not placement */
    char path[128];
    snprintf(path, sizeof path, "/v1/tenants/%s/quotas", T.admin_tenant);
    ST_ASSERT_INT_EQ(
        gwt_status(&T, "PUT", path, T.admin_token, "{\"vcpus\":1000,\"memory_mib\":10000000}"),
        200);
    char id[40];
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, T.admin_token, "big", "huge", image, NULL, id), 202);
    snprintf(path, sizeof path, "/v1/instances/%s", id);
    gwt_call(&T, &r, "GET", path, T.admin_token, NULL);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "state")), "error");
    CU_ASSERT_PTR_NOT_NULL(
        strstr(json_string_value(json_object_get(r.json, "fault")) ?: "", "no valid host"));
    st_resp_free(&r);
    /* with no node holding it, delete is immediate: the reply says deleted */
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "DELETE", path, T.admin_token, NULL), 202);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.json);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "state")), "deleted");
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, T.admin_token, NULL), 404);
}

static void test_idempotency_key_replays_the_first_create(void)
{
    char id1[40], id2[40];
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, "idem", "m1.small", image, "key-1", id1),
                     202);
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, "idem", "m1.small", image, "key-1", id2),
                     202);
    ST_ASSERT_STR_EQ(id2, id1);
    /* same key, different request: refused */
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, "other", "m1.small", image, "key-1", id2),
                     422);
    /* the key is per tenant */
    gwt_tenant B;
    gwt_make_tenant(&T, "idem-b", &B);
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, B.member, "idem", "m1.small", image, "key-1", id2),
                     202);
    CU_ASSERT_STRING_NOT_EQUAL(id2, id1);
    gwt_free_tenant(&B);
}

typedef struct racer {
    const char *token, *key;
    char name[32];
    long status;
    char id[40];
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    r->status = gwt_create_instance(&T, r->token, r->name, "m1.small", image, r->key, r->id);
    return NULL;
}

static long long live_instances(const char *tenant)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM iaas.instances WHERE tenant_id = '%s'"
             " AND state <> 'deleted'",
             tenant);
    char *v = gwt_sql_value(&T, sql);
    long long n = atoll(v);
    free(v);
    return n;
}

static void test_concurrent_duplicates_make_one_instance(void)
{
    gwt_tenant D;
    gwt_make_tenant(&T, "dupes", &D);
    enum { N = 8 };
    pthread_t th[N];
    racer r[N];
    for (int i = 0; i < N; i++) {
        r[i] = (racer){.token = D.member, .key = "same-key"};
        snprintf(r[i].name, sizeof r[i].name, "dup");
        pthread_create(&th[i], NULL, race, &r[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ST_ASSERT_INT_EQ(r[i].status, 202);
        ST_ASSERT_STR_EQ(r[i].id, r[0].id);
    }
    ST_ASSERT_INT_EQ(live_instances(D.id), 1);
    gwt_free_tenant(&D);
}

static void test_quota_holds_under_concurrent_creates(void)
{
    gwt_tenant Q;
    gwt_make_tenant(&T, "quota", &Q);
    char path[128];
    snprintf(path, sizeof path, "/v1/tenants/%s/quotas", Q.id);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, T.admin_token, "{\"instances\":5}"), 200);
    enum { N = 20 };
    pthread_t th[N];
    racer r[N];
    for (int i = 0; i < N; i++) {
        r[i] = (racer){.token = Q.member};
        snprintf(r[i].name, sizeof r[i].name, "q-%d", i);
        pthread_create(&th[i], NULL, race, &r[i]);
    }
    int ok = 0, over = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ok += r[i].status == 202;
        over += r[i].status == 409;
    }
    ST_ASSERT_INT_EQ(ok, 5);
    ST_ASSERT_INT_EQ(over, N - 5);
    ST_ASSERT_INT_EQ(live_instances(Q.id), 5);
    /* usage is shown beside the limits */
    st_resp q;
    gwt_call(&T, &q, "GET", "/v1/quotas", Q.reader, NULL);
    ST_ASSERT_INT_EQ(
        json_integer_value(json_object_get(json_object_get(q.json, "usage"), "instances")), 5);
    ST_ASSERT_INT_EQ(
        json_integer_value(json_object_get(json_object_get(q.json, "limits"), "instances")), 5);
    st_resp_free(&q);
    /* deleting one frees room for one more */
    char id[40];
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, Q.member, "extra", "m1.small", image, NULL, id), 409);
    for (int i = 0; i < N; i++)
        if (r[i].status == 202) {
            report(r[i].id, "active");
            snprintf(path, sizeof path, "/v1/instances/%s", r[i].id);
            ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, Q.member, NULL), 202);
            ST_ASSERT_INT_EQ(gwt_report(&T, node, r[i].id, "deleted",
                                        gwt_instance_generation(&T, NULL, r[i].id)),
                             200);
            break;
        }
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, Q.member, "extra", "m1.small", image, NULL, id), 202);
    gwt_free_tenant(&Q);
}

static void test_list_pages_and_filters(void)
{
    gwt_tenant P;
    gwt_make_tenant(&T, "pages", &P);
    char ids[7][40];
    for (int i = 0; i < 7; i++) {
        char name[16];
        snprintf(name, sizeof name, "p-%d", i % 2);
        ST_ASSERT_INT_EQ(gwt_create_instance(&T, P.member, name, "m1.small", image, NULL, ids[i]),
                         202);
    }
    char path[256];
    const char *marker = NULL;
    int seen = 0;
    char mk[40] = "";
    for (int page = 0; page < 4; page++) {
        if (marker)
            snprintf(path, sizeof path, "/v1/instances?limit=3&marker=%s", mk);
        else
            snprintf(path, sizeof path, "/v1/instances?limit=3");
        st_resp r;
        ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, P.reader, NULL), 200);
        json_t *arr = json_object_get(r.json, "instances");
        for (size_t i = 0; i < json_array_size(arr); i++, seen++)
            ST_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(arr, i), "id")),
                             ids[seen]);
        json_t *next = json_object_get(r.json, "next");
        marker = json_is_string(next) ? json_string_value(next) : NULL;
        if (marker)
            snprintf(mk, sizeof mk, "%s", marker);
        st_resp_free(&r);
        if (!marker)
            break;
    }
    ST_ASSERT_INT_EQ(seen, 7);
    st_resp r;
    gwt_call(&T, &r, "GET", "/v1/instances?name=p-1", P.reader, NULL);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "instances")), 3);
    st_resp_free(&r);
    report(ids[0], "active");
    gwt_call(&T, &r, "GET", "/v1/instances?state=active", P.reader, NULL);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "instances")), 1);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/instances?limit=0", P.reader, NULL), 400);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/instances?limit=abc", P.reader, NULL), 400);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/instances?marker=nope", P.reader, NULL), 400);
    /* another tenant's instance is no marker here */
    snprintf(path, sizeof path, "/v1/instances?marker=%s", ids[0]);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, A.reader, NULL), 400);
    gwt_free_tenant(&P);
}

/* The node id an instance is placed on, and that node's token. */
static const char *node_of(const char *id, char *const tokens[], const char *const ids[], int n)
{
    char *nid = field(id, "node_id");
    const char *tok = NULL;
    for (int i = 0; i < n; i++)
        if (!strcmp(nid, ids[i]))
            tok = tokens[i];
    free(nid);
    return tok;
}

static void node_id_of(const char *name, char out[40])
{
    st_resp r;
    gwt_call(&T, &r, "GET", "/v1/nodes", T.admin_token, NULL);
    json_t *it;
    size_t i;
    out[0] = 0;
    json_array_foreach(json_object_get(r.json, "nodes"), i,
                       it) if (!strcmp(json_string_value(json_object_get(it, "name")), name))
        snprintf(out, 40, "%s", json_string_value(json_object_get(it, "id")));
    st_resp_free(&r);
}

static long report_retryable(const char *tok, const char *id, const char *fault)
{
    char path[128];
    snprintf(path, sizeof path, "/internal/v1/node/instances/%s", id);
    char *b =
        st_jsonf("{s:s, s:I, s:s, s:b}", "state", "error", "generation",
                 (json_int_t)gwt_instance_generation(&T, NULL, id), "fault", fault, "retryable", 1);
    long s = gwt_status(&T, "PUT", path, tok, b);
    free(b);
    return s;
}

static void test_failed_launch_moves_to_another_host(void)
{
    char *node2 = gwt_make_node(&T, "node-2", 64, 262144, 10000);
    char ids[2][40];
    node_id_of("node-1", ids[0]);
    node_id_of("node-2", ids[1]);
    char *toks[2] = {node, node2};
    const char *idv[2] = {ids[0], ids[1]};
    char id[40];
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, "retry", "m1.small", image, NULL, id), 202);
    const char *first = node_of(id, toks, idv, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(first);
    long long g0 = gwt_instance_generation(&T, NULL, id);
    ST_ASSERT_INT_EQ(report_retryable(first, id, "image fetch failed: checksum"), 200);
    /* still building, on the other host, with a new generation */
    ASSERT_FIELD(id, "state", "building");
    const char *second = node_of(id, toks, idv, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(second);
    CU_ASSERT_PTR_NOT_EQUAL(first, second);
    CU_ASSERT(gwt_instance_generation(&T, NULL, id) > g0);
    /* the first host no longer sees it; the second does */
    st_resp r;
    gwt_call(&T, &r, "GET", "/internal/v1/node/instances", first, NULL);
    CU_ASSERT_PTR_NULL(strstr(r.body, id));
    st_resp_free(&r);
    gwt_call(&T, &r, "GET", "/internal/v1/node/instances", second, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, id));
    st_resp_free(&r);
    /* failing on every host ends in error, naming the last fault */
    ST_ASSERT_INT_EQ(report_retryable(second, id, "vmm exited with status 1"), 200);
    ASSERT_FIELD(id, "state", "error");
    char *fault = field(id, "fault");
    CU_ASSERT_PTR_NOT_NULL(strstr(fault, "launch failed on 2 hosts"));
    CU_ASSERT_PTR_NOT_NULL(strstr(fault, "vmm exited with status 1"));
    free(fault);
    /* an active instance failing is not moved: its disk lives there */
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, "settled", "m1.small", image, NULL, id),
                     202);
    const char *home = node_of(id, toks, idv, 2);
    ST_ASSERT_INT_EQ(gwt_report(&T, home, id, "active", gwt_instance_generation(&T, NULL, id)),
                     200);
    ST_ASSERT_INT_EQ(report_retryable(home, id, "vmm crashed"), 200);
    ASSERT_FIELD(id, "state", "error");
    CU_ASSERT_PTR_EQUAL(node_of(id, toks, idv, 2), home);
    free(node2);
}

static void test_console_is_pushed_by_the_node_and_read_by_the_tenant(void)
{
    /* pin the instance to node-1, whose token this suite holds */
    char n2[40], npath[128];
    node_id_of("node-2", n2);
    snprintf(npath, sizeof npath, "/v1/nodes/%s", n2);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", npath, T.admin_token, "{\"disabled\":true}"), 200);
    char id[40];
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, "talker", "m1.small", image, NULL, id), 202);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", npath, T.admin_token, "{\"disabled\":false}"), 200);
    char path[160], tailp[200], url[256];
    snprintf(path, sizeof path, "/v1/instances/%s/console", id);
    snprintf(tailp, sizeof tailp, "%s?tail=1", path);
    snprintf(url, sizeof url, "%s/internal/v1/node/instances/%s/console", T.base, id);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.reader, NULL), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "output")), "");
    st_resp_free(&r);
    /* serial output is bytes: invalid UTF-8 and control characters included */
    const char raw[] = "Linux version 6.1\r\n\x1b[0mline two \xff\xfe ok\nthree\n";
    const char *ct[] = {"Content-Type: text/plain", NULL};
    st_http_n(&r, "PUT", url, node, raw, sizeof raw - 1, ct);
    ST_ASSERT_INT_EQ(r.status, 204);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.reader, NULL), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "output")),
                     "Linux version 6.1\n[0mline two \xef\xbf\xbd\xef\xbf\xbd ok\nthree\n");
    CU_ASSERT_TRUE(json_is_string(json_object_get(r.json, "updated_at")));
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", tailp, A.reader, NULL), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "output")), "three\n");
    st_resp_free(&r);
    /* a later push replaces it; only the newest 64 KiB are kept */
    size_t big = 70 * 1024;
    char *lots = malloc(big);
    memset(lots, 'x', big);
    lots[big - 1] = 'E';
    st_http_n(&r, "PUT", url, node, lots, big, ct);
    ST_ASSERT_INT_EQ(r.status, 204);
    st_resp_free(&r);
    free(lots);
    gwt_call(&T, &r, "GET", path, A.reader, NULL);
    const char *out = json_string_value(json_object_get(r.json, "output"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    ST_ASSERT_INT_EQ(strlen(out), 64 * 1024);
    ST_ASSERT_INT_EQ(out[strlen(out) - 1], 'E');
    st_resp_free(&r);
    /* another tenant, and a node that does not hold it, see nothing */
    gwt_tenant X;
    gwt_make_tenant(&T, "console-x", &X);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, X.admin, NULL), 404);
    gwt_free_tenant(&X);
    char *stranger = gwt_make_node(&T, "node-stranger", 1, 1, 1);
    st_http_n(&r, "PUT", url, stranger, "hi", 2, ct);
    ST_ASSERT_INT_EQ(r.status, 404);
    st_resp_free(&r);
    free(stranger);
}

static CU_TestInfo tests[] = {
    {"create places the instance and answers 202 with Location",
     test_create_places_and_returns_202},
    {"bad create requests are 400 with a message", test_bad_create_requests_are_400},
    {"lifecycle: building, active, stopped, started, rebooted",
     test_lifecycle_building_active_stopped_and_back},
    {"stop and reboot: graceful by default, forced or hard when asked; the node's account kept",
     test_stop_and_reboot_graceful_or_forced},
    {"delete goes through deleting; stale reports change nothing",
     test_delete_goes_through_deleting},
    {"an instance in error can only be deleted", test_error_state_allows_only_delete},
    {"the database itself refuses illegal transitions", test_database_refuses_illegal_transitions},
    {"no valid host gives state error with the reason", test_no_valid_host_gives_error_with_reason},
    {"an idempotency key replays the first create", test_idempotency_key_replays_the_first_create},
    {"concurrent duplicates with one key make one instance",
     test_concurrent_duplicates_make_one_instance},
    {"quota holds under 20 concurrent creates", test_quota_holds_under_concurrent_creates},
    {"list pages with markers and filters", test_list_pages_and_filters},
    {"a failed launch moves to another host, then ends in error",
     test_failed_launch_moves_to_another_host},
    {"console: pushed by the node as bytes, read by the tenant as text",
     test_console_is_pushed_by_the_node_and_read_by_the_tenant},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"instances", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
