/* Live migration's control plane against the real gateway and PostgreSQL
 * (migrate.c), the two agents played through the node API: the target
 * chosen by the scheduler (never the source, never a node whose agent
 * cannot receive one), cloud admins only, the whole happy path through the
 * reports (the target's incoming entry, its listening report, the source's
 * order, progress, completed), the instance's node_id unchanged until the
 * source's completed report; a target's failure and a cancel (preparing,
 * then migrating) leaving the instance on its source; a local disk without
 * shared storage copied along (block_migration auto or true: the row and the
 * source's order say so); block_migration false for a local disk, true for
 * one on Ceph, a libvirt source or target, a down host and a second
 * migration refused with 409. */
#include "gwt.h"
#include "st_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NN = 4, LIBVIRT = 3 };
static gwt T;
static gwt_tenant A, B;
static char flavor[40], image[40];
static char *nodes[NN];
static char node_ids[NN][40];
static const char *names[NN] = {"ma", "mb", "mc", "ml"}; /* ml: a libvirt node */
/* ml says nothing of live migration, as libvirt's agent does */
static const unsigned flags[NN] = {GWT_NODE_LIVE_MIGRATION, GWT_NODE_LIVE_MIGRATION,
                                   GWT_NODE_LIVE_MIGRATION, 0};

/* Host i's heartbeat. */
static long beat(int i)
{
    return gwt_node_beat(&T, nodes[i], names[i], 4, 4096, 1000, flags[i]);
}

static int suite_init(void)
{
    gwt_start(&T, "gw_migrate", NULL); /* instances.shared_storage false */
    gwt_make_tenant(&T, "mig-a", &A);
    gwt_make_tenant(&T, "mig-b", &B);
    char path[256];
    snprintf(path, sizeof path, "/v1/tenants/%s/quotas", A.id);
    gwt_status(&T, "PUT", path, T.admin_token, "{\"instances\":100,\"vcpus\":100}");
    gwt_make_catalog(&T, flavor, image); /* 1 vCPU, 512 MiB, 10 GiB */
    gwt_make_nodes(&T, NN, names, 4, 4096, 1000, flags, nodes, node_ids);
    return 0;
}

static int suite_clean(void)
{
    for (int i = 0; i < NN; i++)
        free(nodes[i]);
    gwt_free_tenant(&A);
    gwt_free_tenant(&B);
    gwt_stop(&T);
    return 0;
}

static int node_index(const char *id)
{
    for (int i = 0; id && i < NN; i++)
        if (!strcmp(id, node_ids[i]))
            return i;
    return -1;
}

static int where(const char *id)
{
    char *n = gwt_instance_field(&T, A.member, id, "node_id");
    int at = node_index(n);
    free(n);
    return at;
}

/* An active instance of A on host i (the others disabled meanwhile), its
 * disk on Ceph when rbd. */
static void create_on(int i, const char *name, int rbd, char id[40])
{
    char path[256], body[512];
    for (int k = 0; k < NN; k++) {
        snprintf(path, sizeof path, "/v1/nodes/%s", node_ids[k]);
        gwt_status(&T, "PATCH", path, T.admin_token,
                   k == i ? "{\"disabled\":false}" : "{\"disabled\":true}");
    }
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"flavor\":\"%s\",\"image\":\"%s\"}", name,
             flavor, image);
    st_resp r;
    ST_ASSERT_INT_EQ_FATAL(gwt_call(&T, &r, "POST", "/v1/instances", A.member, body), 202);
    snprintf(id, 40, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    for (int k = 0; k < NN; k++) {
        snprintf(path, sizeof path, "/v1/nodes/%s", node_ids[k]);
        gwt_status(&T, "PATCH", path, T.admin_token, "{\"disabled\":false}");
    }
    ST_ASSERT_INT_EQ_FATAL(where(id), i);
    ST_ASSERT_INT_EQ(gwt_report(&T, nodes[i], id, "active", gwt_instance_generation(&T, NULL, id)),
                     200);
    /* booted directly, as the test guest is (the catalog's disk image boots through firmware) */
    char sql[200];
    snprintf(sql, sizeof sql,
             "UPDATE iaas.instances SET boot = 'kernel', disk_backend = '%s' WHERE id = '%s'",
             rbd ? "rbd" : "local", id);
    gwt_sql(&T, sql);
}

static long action(const char *token, const char *id, const char *body, st_resp *r)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/instances/%s/actions", id);
    return gwt_call(&T, r, "POST", path, token, body);
}

static long action_status(const char *token, const char *id, const char *body)
{
    st_resp r;
    long s = action(token, id, body, &r);
    st_resp_free(&r);
    return s;
}

static const char *errmsg(const st_resp *r)
{
    const char *m =
        json_string_value(json_object_get(json_object_get(r->json, "error"), "message"));
    return m ? m : "";
}

/* The instance's migration object's field as text ("(none)" without one). */
static char *mig_field(const char *id, const char *field)
{
    char path[128], buf[64];
    snprintf(path, sizeof path, "/v1/instances/%s", id);
    st_resp r;
    gwt_call(&T, &r, "GET", path, A.member, NULL); /* the tenant's view shows it too */
    json_t *m = json_object_get(r.json, "migration");
    json_t *v = json_object_get(m, field);
    if (!json_is_object(m))
        snprintf(buf, sizeof buf, "(none)");
    else if (json_is_string(v))
        snprintf(buf, sizeof buf, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
    else
        snprintf(buf, sizeof buf, "(null)");
    st_resp_free(&r);
    return strdup(buf);
}

static void assert_mig(const char *id, const char *field, const char *want)
{
    char *v = mig_field(id, field);
    ST_ASSERT_STR_EQ(v, want);
    free(v);
}

static void assert_task(const char *id, const char *want)
{
    char *t = gwt_instance_field(&T, A.member, id, "task");
    ST_ASSERT_STR_EQ(t, want);
    free(t);
}

/* Node i's desired set (the caller frees it). */
static json_t *desired(int i)
{
    st_resp r;
    if (gwt_call(&T, &r, "GET", "/internal/v1/node/instances", nodes[i], NULL) != 200) {
        st_resp_free(&r);
        return NULL;
    }
    json_t *j = json_incref(r.json);
    st_resp_free(&r);
    return j;
}

/* Node i's desired entry for instance id (a new reference), NULL if none. */
static json_t *entry(int i, const char *id)
{
    json_t *s = desired(i), *it, *out = NULL;
    size_t k;
    json_array_foreach(json_object_get(s, "instances"), k, it)
    {
        if (!strcmp(json_string_value(json_object_get(it, "id")), id))
            out = json_incref(it);
    }
    json_decref(s);
    return out;
}

/* The migration id in node i's `incoming` for instance id, "" when none. */
static void incoming(int i, const char *id, char mid[40])
{
    json_t *s = desired(i), *it;
    size_t k;
    mid[0] = 0;
    json_array_foreach(json_object_get(s, "incoming"), k, it)
    {
        json_t *in = json_object_get(it, "instance");
        if (!strcmp(json_string_value(json_object_get(in, "id")), id)) {
            snprintf(mid, 40, "%s", json_string_value(json_object_get(it, "migration_id")));
            /* the ports come along, so the target's data plane builds them */
            CU_ASSERT(json_array_size(json_object_get(in, "ports")) >= 1);
        }
    }
    json_decref(s);
}

static long report(int i, const char *mid, const char *body)
{
    char path[128];
    snprintf(path, sizeof path, "/internal/v1/node/migrations/%s", mid);
    return gwt_status(&T, "PUT", path, nodes[i], body);
}

/* Starts a migration of id (on host src) and returns the target chosen and
 * the migration's id. */
static int start(const char *id, int src, const char *body, char mid[40])
{
    st_resp r;
    ST_ASSERT_INT_EQ(action(T.admin_token, id, body, &r), 202);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "task")), "migrating");
    json_t *m = json_object_get(r.json, "migration");
    int dest = node_index(json_string_value(json_object_get(m, "dest_node_id")));
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(m, "state")), "preparing");
    st_resp_free(&r);
    CU_ASSERT(dest >= 0 && dest != src && dest != LIBVIRT);
    incoming(dest, id, mid);
    CU_ASSERT(mid[0] != 0);
    return dest;
}

static void test_happy_path(void)
{
    char id[40], mid[40];
    create_on(0, "web-1", 1, id);
    long long gen = gwt_instance_generation(&T, NULL, id);
    int dest = start(id, 0, "{\"action\":\"migrate\",\"downtime_ms\":50}", mid);
    ST_ASSERT_INT_EQ_FATAL(dest >= 0, 1);
    CU_ASSERT(where(id) == 0);
    /* the source is told nothing until the target listens, and cannot report */
    json_t *e = entry(0, id);
    CU_ASSERT(e && json_is_null(json_object_get(e, "migration")));
    json_decref(e);
    CU_ASSERT_EQUAL(report(0, mid, "{\"state\":\"active\",\"round\":1}"), 409);
    /* another node's credential: not its migration */
    CU_ASSERT_EQUAL(report(3 - dest, mid, "{\"state\":\"failed\"}"), 404);
    /* bad listening reports */
    CU_ASSERT_EQUAL(report(dest, mid, "{\"state\":\"listening\"}"), 400);
    CU_ASSERT_EQUAL(report(dest, mid, "{\"state\":\"listening\",\"uri\":\"tcp:1.2.3.4:0\"}"), 400);
    CU_ASSERT_EQUAL(report(dest, mid, "{\"state\":\"listening\",\"uri\":\"unix:/x\"}"), 400);
    CU_ASSERT_EQUAL(report(dest, mid, "{\"state\":\"completed\"}"), 400);
    /* the target listens: the source gets its order */
    ST_ASSERT_INT_EQ(report(dest, mid, "{\"state\":\"listening\",\"uri\":\"tcp:10.0.9.2:47001\"}"),
                     200);
    ST_ASSERT_INT_EQ(report(dest, mid, "{\"state\":\"listening\",\"uri\":\"tcp:10.0.9.2:47001\"}"),
                     200); /* repeated */
    assert_mig(id, "state", "migrating");
    e = entry(0, id);
    json_t *o = json_object_get(e, "migration");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(o, "uri")), "tcp:10.0.9.2:47001");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(o, "id")), mid);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "downtime_ms")), 50);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(o, "on_timeout")), "cancel");
    CU_ASSERT(json_is_false(json_object_get(o, "cancel")));
    json_decref(e);
    /* progress shows on the instance; it stays on its source meanwhile */
    ST_ASSERT_INT_EQ(report(0, mid,
                            "{\"state\":\"active\",\"round\":3,\"transferred_bytes\":1048576,"
                            "\"remaining_bytes\":4096,\"total_bytes\":536870912,"
                            "\"throttle_pct\":20}"),
                     200);
    assert_mig(id, "round", "3");
    assert_mig(id, "transferred_bytes", "1048576");
    assert_mig(id, "remaining_bytes", "4096");
    assert_mig(id, "throttle_pct", "20");
    assert_task(id, "migrating");
    CU_ASSERT(where(id) == 0);
    CU_ASSERT_EQUAL(gwt_instance_generation(&T, NULL, id), gen);
    /* a stopped source would be a second copy's precondition: nothing moves
     * on the target's word, only on the source's completed report */
    CU_ASSERT_EQUAL(report(dest, mid, "{\"state\":\"completed\"}"), 400);
    CU_ASSERT(where(id) == 0);
    ST_ASSERT_INT_EQ(
        report(0, mid, "{\"state\":\"completed\",\"downtime_ms\":12,\"total_ms\":900}"), 200);
    CU_ASSERT(where(id) == dest);
    assert_task(id, "(null)");
    assert_mig(id, "state", "(none)");
    CU_ASSERT_EQUAL(gwt_instance_generation(&T, NULL, id), gen + 1);
    /* the target runs it now; the source no longer holds it */
    char none[40];
    incoming(dest, id, none);
    ST_ASSERT_STR_EQ(none, "");
    e = entry(dest, id);
    CU_ASSERT(e != NULL);
    json_decref(e);
    e = entry(0, id);
    CU_ASSERT(e == NULL);
    json_decref(e);
    ST_ASSERT_INT_EQ(gwt_report(&T, nodes[dest], id, "active", gen + 1), 200);
    ST_ASSERT_INT_EQ(gwt_report(&T, nodes[0], id, "stopped", gen), 404);
    /* a repeated completed report is fine; the list keeps the outcome */
    ST_ASSERT_INT_EQ(report(0, mid, "{\"state\":\"completed\"}"), 200);
    CU_ASSERT_EQUAL(report(0, mid, "{\"state\":\"failed\"}"), 409);
    char path[160];
    snprintf(path, sizeof path, "/v1/migrations?instance_id=%s", id);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, T.admin_token, NULL), 200);
    json_t *l = json_object_get(r.json, "migrations");
    ST_ASSERT_INT_EQ_FATAL(json_array_size(l), 1);
    json_t *m = json_array_get(l, 0);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(m, "state")), "completed");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(m, "downtime_ms")), 12);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(m, "total_ms")), 900);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(m, "source_node")), "ma");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(m, "dest_node")), names[dest]);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/migrations?limit=0", T.admin_token, NULL), 400);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/migrations?instance_id=x", T.admin_token, NULL),
                     400);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/migrations", A.admin, NULL), 403);
}

static void test_named_host_and_target_failure(void)
{
    char id[40], mid[40];
    create_on(1, "web-2", 1, id);
    st_resp r;
    /* the libvirt node cannot take it; the source is not a target */
    ST_ASSERT_INT_EQ(action(T.admin_token, id, "{\"action\":\"migrate\",\"host\":\"ml\"}", &r),
                     409);
    CU_ASSERT(strstr(errmsg(&r), "ml") != NULL);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(action_status(T.admin_token, id, "{\"action\":\"migrate\",\"host\":\"mb\"}"),
                     400);
    ST_ASSERT_INT_EQ(action_status(T.admin_token, id, "{\"action\":\"migrate\",\"host\":\"zz\"}"),
                     400);
    assert_task(id, "(null)");
    int dest = start(id, 1, "{\"action\":\"migrate\",\"host\":\"mc\",\"timeout_s\":60}", mid);
    CU_ASSERT(dest == 2);
    /* a second migration while one is under way */
    ST_ASSERT_INT_EQ(action(T.admin_token, id, "{\"action\":\"migrate\"}", &r), 409);
    CU_ASSERT(strstr(errmsg(&r), "task") != NULL);
    st_resp_free(&r);
    /* the target cannot start its incoming VMM */
    ST_ASSERT_INT_EQ(report(2, mid, "{\"state\":\"failed\",\"error\":\"no free port\"}"), 200);
    CU_ASSERT(where(id) == 1);
    assert_task(id, "(null)");
    assert_mig(id, "state", "(none)");
    char none[40];
    incoming(2, id, none);
    ST_ASSERT_STR_EQ(none, "");
    char path[160];
    snprintf(path, sizeof path, "/v1/migrations?instance_id=%s", id);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, T.admin_token, NULL), 200);
    json_t *m = json_array_get(json_object_get(r.json, "migrations"), 0);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(m, "state")), "failed");
    CU_ASSERT(strstr(json_string_value(json_object_get(m, "error")), "no free port") != NULL);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(m, "timeout_s")), 60);
    st_resp_free(&r);
    /* a source failing mid-way: the same, the instance stays */
    dest = start(id, 1, "{\"action\":\"migrate\",\"on_timeout\":\"force\"}", mid);
    ST_ASSERT_INT_EQ(report(dest, mid, "{\"state\":\"listening\",\"uri\":\"tcp:10.0.9.3:47002\"}"),
                     200);
    ST_ASSERT_INT_EQ(report(1, mid, "{\"state\":\"failed\",\"error\":\"connection reset\"}"), 200);
    CU_ASSERT(where(id) == 1);
    assert_task(id, "(null)");
    ST_ASSERT_INT_EQ(gwt_report(&T, nodes[1], id, "active", gwt_instance_generation(&T, NULL, id)),
                     200);
}

static void test_cancel(void)
{
    char id[40], mid[40];
    create_on(0, "web-3", 1, id);
    st_resp r;
    ST_ASSERT_INT_EQ(action(T.admin_token, id, "{\"action\":\"migrate_cancel\"}", &r), 409);
    st_resp_free(&r);
    /* while preparing: it ends at once */
    int dest = start(id, 0, "{\"action\":\"migrate\"}", mid);
    ST_ASSERT_INT_EQ(action_status(T.admin_token, id, "{\"action\":\"migrate_cancel\"}"), 202);
    assert_task(id, "(null)");
    char none[40];
    incoming(dest, id, none);
    ST_ASSERT_STR_EQ(none, "");
    CU_ASSERT_EQUAL(report(dest, mid, "{\"state\":\"listening\",\"uri\":\"tcp:10.0.9.2:47003\"}"),
                    200); /* too late, and harmless: the answer says cancelled */
    /* while migrating: the source is told, and its report ends it */
    dest = start(id, 0, "{\"action\":\"migrate\"}", mid);
    ST_ASSERT_INT_EQ(report(dest, mid, "{\"state\":\"listening\",\"uri\":\"tcp:10.0.9.2:47004\"}"),
                     200);
    ST_ASSERT_INT_EQ(action_status(T.admin_token, id, "{\"action\":\"migrate_cancel\"}"), 202);
    assert_task(id, "migrating");
    assert_mig(id, "cancel_requested", "true");
    json_t *e = entry(0, id);
    CU_ASSERT(json_is_true(json_object_get(json_object_get(e, "migration"), "cancel")));
    json_decref(e);
    /* the target keeps its incoming VM until the source says how it ended:
     * a source that completed meanwhile would otherwise lose the guest */
    incoming(dest, id, none);
    ST_ASSERT_STR_EQ(none, mid);
    ST_ASSERT_INT_EQ(report(0, mid, "{\"state\":\"cancelled\"}"), 200);
    incoming(dest, id, none);
    ST_ASSERT_STR_EQ(none, "");
    CU_ASSERT(where(id) == 0);
    assert_task(id, "(null)");
    char path[160];
    snprintf(path, sizeof path, "/v1/migrations?instance_id=%s&limit=1", id);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, T.admin_token, NULL), 200);
    json_t *m = json_array_get(json_object_get(r.json, "migrations"), 0);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(m, "id")), mid);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(m, "state")), "cancelled");
    st_resp_free(&r);
    /* cancelled while migrating, the target's VMM ends first: still a cancel */
    dest = start(id, 0, "{\"action\":\"migrate\"}", mid);
    ST_ASSERT_INT_EQ(report(dest, mid, "{\"state\":\"listening\",\"uri\":\"tcp:10.0.9.2:47005\"}"),
                     200);
    ST_ASSERT_INT_EQ(action_status(T.admin_token, id, "{\"action\":\"migrate_cancel\"}"), 202);
    ST_ASSERT_INT_EQ(report(dest, mid, "{\"state\":\"failed\",\"error\":\"exit 2\"}"), 200);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, T.admin_token, NULL), 200);
    m = json_array_get(json_object_get(r.json, "migrations"), 0);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(m, "state")), "cancelled");
    st_resp_free(&r);
    CU_ASSERT(where(id) == 0);
    assert_task(id, "(null)");
    ST_ASSERT_INT_EQ(report(0, mid, "{\"state\":\"cancelled\"}"), 200); /* the source's, late */
    /* a delete mid-way ends the migration too */
    start(id, 0, "{\"action\":\"migrate\"}", mid);
    snprintf(path, sizeof path, "/v1/instances/%s", id);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.member, NULL), 202);
    snprintf(path, sizeof path, "/v1/migrations?instance_id=%s&limit=1", id);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, T.admin_token, NULL), 200);
    m = json_array_get(json_object_get(r.json, "migrations"), 0);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(m, "state")), "failed");
    st_resp_free(&r);
}

static void test_refusals(void)
{
    char id[40];
    st_resp r;
    /* a local disk without shared storage, block_migration false */
    create_on(0, "local-1", 0, id);
    ST_ASSERT_INT_EQ(
        action(T.admin_token, id, "{\"action\":\"migrate\",\"block_migration\":false}", &r), 409);
    CU_ASSERT(strstr(errmsg(&r), "block_migration is false") &&
              strstr(errmsg(&r), "shared_storage"));
    st_resp_free(&r);
    assert_task(id, "(null)");
    /* a disk on Ceph has nothing to copy */
    char ceph[40];
    create_on(0, "ceph-1", 1, ceph);
    ST_ASSERT_INT_EQ(
        action(T.admin_token, ceph, "{\"action\":\"migrate\",\"block_migration\":true}", &r), 409);
    CU_ASSERT(strstr(errmsg(&r), "nothing to copy") != NULL);
    st_resp_free(&r);
    assert_task(ceph, "(null)");
    ST_ASSERT_INT_EQ(
        action_status(T.admin_token, ceph, "{\"action\":\"migrate\",\"block_migration\":1}"), 400);
    ST_ASSERT_INT_EQ(
        action_status(T.admin_token, ceph, "{\"action\":\"stop\",\"block_migration\":true}"), 400);
    /* a firmware-booted instance migrates as any other (stratus-vmm tracks its split memory
     * slots); cancelled at once, while the target prepares */
    char fw[40], sql[160];
    create_on(1, "fw-1", 1, fw);
    snprintf(sql, sizeof sql, "UPDATE iaas.instances SET boot = 'firmware' WHERE id = '%s'", fw);
    gwt_sql(&T, sql);
    ST_ASSERT_INT_EQ(action(T.admin_token, fw, "{\"action\":\"migrate\"}", &r), 202);
    st_resp_free(&r);
    assert_task(fw, "migrating");
    ST_ASSERT_INT_EQ(action(T.admin_token, fw, "{\"action\":\"migrate_cancel\"}", &r), 202);
    st_resp_free(&r);
    assert_task(fw, "(null)");
    /* a libvirt source */
    char lv[40];
    create_on(LIBVIRT, "lv-1", 1, lv);
    ST_ASSERT_INT_EQ(action(T.admin_token, lv, "{\"action\":\"migrate\"}", &r), 409);
    CU_ASSERT(strstr(errmsg(&r), "libvirt") != NULL);
    st_resp_free(&r);
    /* a down host: evacuate instead */
    char d[40];
    create_on(2, "down-1", 1, d);
    gwt_sql(&T, "UPDATE iaas.nodes SET last_heartbeat = now() - interval '40 seconds'"
                " WHERE name = 'mc'");
    ST_ASSERT_INT_EQ(action(T.admin_token, d, "{\"action\":\"migrate\"}", &r), 409);
    CU_ASSERT(strstr(errmsg(&r), "evacuate") != NULL);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(beat(2), 200);
    /* not active */
    char path[160];
    snprintf(path, sizeof path, "/v1/instances/%s/actions", d);
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", path, A.member, "{\"action\":\"stop\"}"), 202);
    ST_ASSERT_INT_EQ(action_status(T.admin_token, d, "{\"action\":\"migrate\"}"), 409);
    /* bad bodies */
    ST_ASSERT_INT_EQ(action_status(T.admin_token, id, "{\"action\":\"migrate\",\"downtime_ms\":0}"),
                     400);
    ST_ASSERT_INT_EQ(
        action_status(T.admin_token, id, "{\"action\":\"migrate\",\"on_timeout\":\"later\"}"), 400);
    ST_ASSERT_INT_EQ(action_status(T.admin_token, id, "{\"action\":\"stop\",\"downtime_ms\":5}"),
                     400);
}

/* A local disk without shared storage: copied along (block_migration absent: auto, or true);
 * the row and the source's order say so, a disk on Ceph's do not. */
static void test_block_migration(void)
{
    char id[40], mid[40], ceph[40], cmid[40];
    const char *bodies[] = {"{\"action\":\"migrate\"}",
                            "{\"action\":\"migrate\",\"block_migration\":true}"};
    create_on(0, "local-2", 0, id);
    for (int k = 0; k < 2; k++) {
        int dest = start(id, 0, bodies[k], mid);
        ST_ASSERT_INT_EQ_FATAL(dest >= 0, 1);
        assert_mig(id, "block_migration", "true");
        ST_ASSERT_INT_EQ(
            report(dest, mid, "{\"state\":\"listening\",\"uri\":\"tcp:10.0.9.2:47010\"}"), 200);
        json_t *e = entry(0, id);
        CU_ASSERT(
            json_is_true(json_object_get(json_object_get(e, "migration"), "block_migration")));
        json_decref(e);
        ST_ASSERT_INT_EQ(report(0, mid, "{\"state\":\"failed\",\"error\":\"x\"}"), 200);
        assert_task(id, "(null)");
        CU_ASSERT(where(id) == 0);
    }
    create_on(0, "ceph-2", 1, ceph);
    int dest = start(ceph, 0, "{\"action\":\"migrate\",\"block_migration\":false}", cmid);
    ST_ASSERT_INT_EQ_FATAL(dest >= 0, 1);
    assert_mig(ceph, "block_migration", "false");
    ST_ASSERT_INT_EQ(report(dest, cmid, "{\"state\":\"listening\",\"uri\":\"tcp:10.0.9.2:47011\"}"),
                     200);
    json_t *e = entry(0, ceph);
    CU_ASSERT(json_is_false(json_object_get(json_object_get(e, "migration"), "block_migration")));
    json_decref(e);
    ST_ASSERT_INT_EQ(report(0, cmid, "{\"state\":\"cancelled\"}"), 200);
    /* an agent that does not say capacity.block_migration (an older one, here mb's) takes no
     * local disk: the scheduler passes it over, and a named mb is refused */
    const unsigned older = GWT_NODE_LIVE_MIGRATION | GWT_NODE_NO_BLOCK;
    ST_ASSERT_INT_EQ(gwt_node_beat(&T, nodes[1], names[1], 4, 4096, 1000, older), 200);
    st_resp r;
    ST_ASSERT_INT_EQ(action(T.admin_token, id, "{\"action\":\"migrate\",\"host\":\"mb\"}", &r),
                     409);
    CU_ASSERT(strstr(errmsg(&r), "(or its disk)") != NULL);
    st_resp_free(&r);
    for (int k = 0; k < 2; k++) {
        dest = start(id, 0, "{\"action\":\"migrate\"}", mid);
        ST_ASSERT_INT_EQ_FATAL(dest, 2);
        ST_ASSERT_INT_EQ(report(dest, mid, "{\"state\":\"failed\",\"error\":\"x\"}"), 200);
        assert_task(id, "(null)");
    }
    /* the Ceph disk still goes to mb: nothing to copy */
    ST_ASSERT_INT_EQ_FATAL(start(ceph, 0, "{\"action\":\"migrate\",\"host\":\"mb\"}", cmid), 1);
    ST_ASSERT_INT_EQ(report(1, cmid, "{\"state\":\"failed\",\"error\":\"x\"}"), 200);
    assert_task(ceph, "(null)");
    /* nor does an instance leave such a host with its local disk */
    ST_ASSERT_INT_EQ(gwt_node_beat(&T, nodes[0], names[0], 4, 4096, 1000, older), 200);
    ST_ASSERT_INT_EQ(action(T.admin_token, id, "{\"action\":\"migrate\"}", &r), 409);
    CU_ASSERT(strstr(errmsg(&r), "cannot copy a disk along") != NULL);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(beat(0), 200);
    ST_ASSERT_INT_EQ(beat(1), 200);
}

static void test_only_cloud_admins(void)
{
    char id[40];
    create_on(1, "own-1", 1, id);
    ST_ASSERT_INT_EQ(action_status(A.member, id, "{\"action\":\"migrate\"}"), 403);
    ST_ASSERT_INT_EQ(action_status(A.admin, id, "{\"action\":\"migrate\"}"), 403);
    ST_ASSERT_INT_EQ(action_status(A.admin, id, "{\"action\":\"migrate_cancel\"}"), 403);
    ST_ASSERT_INT_EQ(action_status(B.admin, id, "{\"action\":\"migrate\"}"), 404);
    ST_ASSERT_INT_EQ(action_status(T.admin_token, "00000000-0000-4000-8000-000000000000",
                                   "{\"action\":\"migrate\"}"),
                     404);
    assert_task(id, "(null)");
}

static CU_TestInfo tests[] = {
    {"the scheduler's target, the reports, node_id moved only on completed", test_happy_path},
    {"a named host, then the target's and the source's failure",
     test_named_host_and_target_failure},
    {"cancel while preparing and while migrating; a delete ends it", test_cancel},
    {"local disk with block_migration false, Ceph with true, libvirt, down host, not active, "
     "bad bodies: refused",
     test_refusals},
    {"a local disk is copied along (block_migration auto or true), a Ceph disk is not; only "
     "between agents that say capacity.block_migration",
     test_block_migration},
    {"cloud admins only: 403 own, 404 another tenant's", test_only_cloud_admins},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"migrate", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
