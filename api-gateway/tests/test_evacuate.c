/* Evacuation against the real gateway and PostgreSQL (evacuate.c): refused
 * while the host is up or silent for less than nodes.down_after +
 * evacuate.fence_margin; a local disk only with confirm_data_loss, a Ceph
 * disk without; the instance placed on another up host (or the one named),
 * task evacuating until that host reports; server-group anti-affinity kept
 * (a member with no host left goes to error, the others still move); cloud
 * admins only (a member's own instance 403, another tenant's 404); and the
 * dead host, back, no longer holds the instance but is told to remove its
 * leftovers, which it confirms. With evacuate.automatic (a second gateway on
 * the same database, started for that test only), a dead host's Ceph-backed
 * instances move unasked once it is dead past the margin, exactly once;
 * local-disk ones stay. Hosts die by moving their last heartbeat back in the
 * database. */
#include "gwt.h"
#include "st_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { NN = 3 };
static gwt T;
static gwt_tenant A, B;
static char flavor[40], image[40];
static char *nodes[NN];
static char node_ids[NN][40];
static const char *names[NN] = {"ea", "eb", "ec"};

static int suite_init(void)
{
    gwt_start(&T, "gw_evac", NULL); /* nodes.down_after 30, evacuate.fence_margin 10 */
    gwt_make_tenant(&T, "evac-a", &A);
    gwt_make_tenant(&T, "evac-b", &B);
    char path[256];
    snprintf(path, sizeof path, "/v1/tenants/%s/quotas", A.id);
    gwt_status(&T, "PUT", path, T.admin_token, "{\"instances\":100,\"vcpus\":100}");
    gwt_make_catalog(&T, flavor, image); /* 1 vCPU, 512 MiB, 10 GiB */
    gwt_make_nodes(&T, NN, names, 4, 4096, 1000, NULL, nodes, node_ids);
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

/* Host i last sent a heartbeat `secs` seconds ago (0: now, up). */
static void silent_for(int i, int secs)
{
    if (secs == 0) {
        gwt_heartbeat(&T, nodes[i], 4, 4096, 1000);
        return;
    }
    char sql[160];
    snprintf(sql, sizeof sql,
             "UPDATE iaas.nodes SET last_heartbeat = now() - interval '%d seconds'"
             " WHERE name = '%s'",
             secs, names[i]);
    gwt_sql(&T, sql);
}

static int where(const char *id)
{
    char *n = gwt_instance_field(&T, A.member, id, "node_id");
    int at = -1;
    for (int i = 0; n && i < NN; i++)
        if (!strcmp(n, node_ids[i]))
            at = i;
    free(n);
    return at;
}

/* Every instance of A deleted (each node confirms), every host up. */
static void reset(void)
{
    for (int i = 0; i < NN; i++)
        silent_for(i, 0);
    st_resp r;
    gwt_call(&T, &r, "GET", "/v1/instances?limit=1000", A.member, NULL);
    json_t *it;
    size_t k;
    json_array_foreach(json_object_get(r.json, "instances"), k, it)
    {
        const char *id = json_string_value(json_object_get(it, "id"));
        char path[256];
        snprintf(path, sizeof path, "/v1/instances/%s", id);
        gwt_status(&T, "DELETE", path, A.member, NULL);
        for (int i = 0; i < NN; i++)
            gwt_report(&T, nodes[i], id, "deleted", gwt_instance_generation(&T, NULL, id));
    }
    st_resp_free(&r);
}

/* An instance of A created on host i (the others disabled meanwhile) and
 * reported active there; group may be NULL. */
static void create_on(int i, const char *name, const char *group, char id[40])
{
    char path[256], body[512];
    for (int k = 0; k < NN; k++) {
        snprintf(path, sizeof path, "/v1/nodes/%s", node_ids[k]);
        gwt_status(&T, "PATCH", path, T.admin_token,
                   k == i ? "{\"disabled\":false}" : "{\"disabled\":true}");
    }
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"flavor\":\"%s\",\"image\":\"%s\"%s%s%s}", name,
             flavor, image, group ? ",\"server_group\":\"" : "", group ? group : "",
             group ? "\"" : "");
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
}

static long evacuate(const char *token, const char *id, const char *body, st_resp *r)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/instances/%s/actions", id);
    return gwt_call(&T, r, "POST", path, token, body);
}

static const char *errmsg(const st_resp *r)
{
    const char *m =
        json_string_value(json_object_get(json_object_get(r->json, "error"), "message"));
    return m ? m : "";
}

/* 1 when the node's desired set lists id under `key` ("instances" entries
 * by their id, "evacuated" as ids). */
static int in_set(int node, const char *key, const char *id)
{
    st_resp r;
    if (gwt_call(&T, &r, "GET", "/internal/v1/node/instances", nodes[node], NULL) != 200)
        return -1;
    json_t *it;
    size_t k;
    int found = 0;
    json_array_foreach(json_object_get(r.json, key), k, it)
    {
        const char *v = json_is_string(it) ? json_string_value(it)
                                           : json_string_value(json_object_get(it, "id"));
        found |= v && !strcmp(v, id);
    }
    st_resp_free(&r);
    return found;
}

static void test_refused_until_dead_then_moved_and_cleaned(void)
{
    reset();
    char id[40];
    create_on(0, "web-1", NULL, id);
    st_resp r;
    const char *go = "{\"action\":\"evacuate\",\"confirm_data_loss\":true}";
    /* up */
    ST_ASSERT_INT_EQ(evacuate(T.admin_token, id, go, &r), 409);
    CU_ASSERT(strstr(errmsg(&r), "host ea") != NULL);
    st_resp_free(&r);
    /* down (30 s) but within the fence margin (10 s): not yet, and when */
    silent_for(0, 33);
    ST_ASSERT_INT_EQ(evacuate(T.admin_token, id, go, &r), 409);
    char *ra = st_resp_header(&r, "Retry-After");
    CU_ASSERT(ra && atoi(ra) >= 5 && atoi(ra) <= 8);
    free(ra);
    st_resp_free(&r);
    CU_ASSERT(where(id) == 0);
    silent_for(0, 45);
    /* a local disk: only with confirm_data_loss, named in the refusal */
    ST_ASSERT_INT_EQ(evacuate(T.admin_token, id, "{\"action\":\"evacuate\"}", &r), 409);
    CU_ASSERT(strstr(errmsg(&r), "web-1") && strstr(errmsg(&r), "confirm_data_loss"));
    st_resp_free(&r);
    CU_ASSERT(where(id) == 0);
    char *gen0 = gwt_instance_field(&T, A.member, id, "state");
    ST_ASSERT_STR_EQ(gen0, "active");
    free(gen0);
    /* moved to the named host, task evacuating */
    ST_ASSERT_INT_EQ_FATAL(
        evacuate(T.admin_token, id,
                 "{\"action\":\"evacuate\",\"host\":\"ec\",\"confirm_data_loss\":true}", &r),
        202);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "node_id")), node_ids[2]);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "task")), "evacuating");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "state")), "active");
    st_resp_free(&r);
    CU_ASSERT(in_set(2, "instances", id) == 1);
    CU_ASSERT(in_set(0, "instances", id) == 0);
    CU_ASSERT(in_set(0, "evacuated", id) == 1);
    /* the new host's report ends the task */
    ST_ASSERT_INT_EQ(gwt_report(&T, nodes[2], id, "active", gwt_instance_generation(&T, NULL, id)),
                     200);
    char *task = gwt_instance_field(&T, A.member, id, "task");
    ST_ASSERT_STR_EQ(task, "(null)");
    free(task);
    /* the dead host comes back, saying it fenced itself: its set lacks the
     * instance, its stale report is refused, and it confirms the leftovers */
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", "/internal/v1/node", nodes[0],
                                "{\"capacity\":{\"vcpus\":4,\"memory_mib\":4096,\"disk_gib\":1000},"
                                "\"fenced_at\":\"2026-12-06T20:00:00Z\"}"),
                     200);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", "/internal/v1/node", nodes[0],
                                "{\"capacity\":{\"vcpus\":4,\"memory_mib\":4096,\"disk_gib\":1000},"
                                "\"fenced_at\":\"yesterday\"}"),
                     400);
    char path[256];
    snprintf(path, sizeof path, "/v1/nodes/%s", node_ids[0]);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, T.admin_token, NULL), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "fenced_at")),
                     "2026-12-06T20:00:00Z");
    st_resp_free(&r);
    CU_ASSERT(in_set(0, "instances", id) == 0);
    ST_ASSERT_INT_EQ(gwt_report(&T, nodes[0], id, "stopped", gwt_instance_generation(&T, NULL, id)),
                     404);
    snprintf(path, sizeof path, "/internal/v1/node/evacuations/%s", id);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, nodes[1], NULL), 404); /* not eb's */
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, nodes[0], NULL), 204);
    CU_ASSERT(in_set(0, "evacuated", id) == 0);
    ST_ASSERT_INT_EQ(where(id), 2);
}

static void test_ceph_disk_moves_without_confirmation(void)
{
    reset();
    char id[40];
    create_on(1, "db-1", NULL, id);
    char sql[160];
    snprintf(sql, sizeof sql, "UPDATE iaas.instances SET disk_backend = 'rbd' WHERE id = '%s'", id);
    gwt_sql(&T, sql);
    silent_for(1, 60);
    st_resp r;
    ST_ASSERT_INT_EQ(evacuate(T.admin_token, id, "{\"action\":\"evacuate\"}", &r), 202);
    int to = where(id);
    CU_ASSERT(to == 0 || to == 2);
    st_resp_free(&r);
    /* the node route too: a host whose instances are all on Ceph */
    char id2[40];
    silent_for(1, 0);
    create_on(1, "db-2", NULL, id2);
    snprintf(sql, sizeof sql, "UPDATE iaas.instances SET disk_backend = 'rbd' WHERE id = '%s'",
             id2);
    gwt_sql(&T, sql);
    silent_for(1, 60);
    char path[256];
    snprintf(path, sizeof path, "/v1/nodes/%s/actions", node_ids[1]);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", path, T.admin_token, "{\"action\":\"evacuate\"}"),
                     202);
    json_t *list = json_object_get(r.json, "instances");
    ST_ASSERT_INT_EQ(json_array_size(list), 1);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(list, 0), "outcome")),
                     "evacuating");
    st_resp_free(&r);
    to = where(id2);
    CU_ASSERT(to == 0 || to == 2);
}

/* Host ea dies holding a member of each of two anti-affinity groups and a
 * plain instance: "apart" has its other member on eb, so its ea member goes
 * to ec (busier than eb, which spreading alone would pick); "full" has members on eb and ec, so its
 * ea member finds no host and goes to error, while the others still move. A local disk without
 * confirm_data_loss refuses the whole node first, naming the instances. */
static void test_node_evacuation_keeps_anti_affinity(void)
{
    reset();
    st_resp r;
    gwt_status(&T, "POST", "/v1/server-groups", A.member,
               "{\"name\":\"apart\",\"policy\":\"anti-affinity\"}");
    gwt_status(&T, "POST", "/v1/server-groups", A.member,
               "{\"name\":\"full\",\"policy\":\"anti-affinity\"}");
    char a1[40], a2[40], f1[40], f2[40], f3[40], x[40], fill[40];
    create_on(0, "full-1", "full", f1);
    create_on(1, "full-2", "full", f2);
    create_on(2, "full-3", "full", f3);
    create_on(0, "apart-1", "apart", a1);
    create_on(1, "apart-2", "apart", a2);
    create_on(0, "plain", NULL, x);
    /* ec busier than eb: spreading alone would put apart-1 on eb */
    create_on(2, "fill-1", NULL, fill);
    create_on(2, "fill-2", NULL, fill);
    silent_for(0, 60);
    char path[256];
    snprintf(path, sizeof path, "/v1/nodes/%s/actions", node_ids[0]);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", path, T.admin_token, "{\"action\":\"evacuate\"}"),
                     409);
    CU_ASSERT(strstr(errmsg(&r), "3 instances") && strstr(errmsg(&r), "apart-1") &&
              strstr(errmsg(&r), "plain"));
    st_resp_free(&r);
    CU_ASSERT(where(a1) == 0 && where(x) == 0 && where(f1) == 0);
    ST_ASSERT_INT_EQ_FATAL(gwt_call(&T, &r, "POST", path, T.admin_token,
                                    "{\"action\":\"evacuate\",\"confirm_data_loss\":true}"),
                           202);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "instances")), 3);
    json_t *it;
    size_t k;
    int errors = 0;
    json_array_foreach(json_object_get(r.json, "instances"), k, it)
    {
        const char *outcome = json_string_value(json_object_get(it, "outcome"));
        if (!strcmp(json_string_value(json_object_get(it, "id")), f1)) {
            ST_ASSERT_STR_EQ(outcome, "error");
            errors++;
        } else {
            ST_ASSERT_STR_EQ(outcome, "evacuating");
        }
    }
    ST_ASSERT_INT_EQ(errors, 1);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(where(a1), 2); /* not eb, which holds apart-2 */
    CU_ASSERT(where(x) == 1 || where(x) == 2);
    char *state = gwt_instance_field(&T, A.member, f1, "state");
    char *fault = gwt_instance_field(&T, A.member, f1, "fault");
    ST_ASSERT_STR_EQ(state, "error");
    CU_ASSERT(fault && strstr(fault, "evacuation from host ea") && strstr(fault, "server group"));
    free(state);
    free(fault);
    (void)a2;
    (void)f2;
    (void)f3;
}

/* Cloud admins only: a member's own instance 403, another tenant's and an
 * unknown id 404; bad bodies 400. */
static void test_only_cloud_admins(void)
{
    reset();
    char id[40];
    create_on(0, "mine", NULL, id);
    silent_for(0, 60);
    st_resp r;
    const char *go = "{\"action\":\"evacuate\",\"confirm_data_loss\":true}";
    ST_ASSERT_INT_EQ(evacuate(A.member, id, go, &r), 403);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(evacuate(A.admin, id, go, &r), 403);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(evacuate(B.admin, id, go, &r), 404);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(evacuate(B.admin, "00000000-0000-4000-8000-000000000000", go, &r), 404);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(evacuate(A.reader, id, go, &r), 403);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(evacuate(T.admin_token, "00000000-0000-4000-8000-000000000000", go, &r), 404);
    st_resp_free(&r);
    char path[256];
    snprintf(path, sizeof path, "/v1/nodes/%s/actions", node_ids[0]);
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", path, A.admin, go), 403);
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", path, T.admin_token, "{\"action\":\"drain\"}"), 400);
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST",
                                "/v1/nodes/00000000-0000-4000-8000-000000000000/actions",
                                T.admin_token, go),
                     404);
    /* bodies: the evacuate fields are evacuate's; a host must exist and be another */
    ST_ASSERT_INT_EQ(evacuate(A.member, id, "{\"action\":\"stop\",\"host\":\"eb\"}", &r), 400);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(
        evacuate(T.admin_token, id, "{\"action\":\"evacuate\",\"host\":\"nowhere\"}", &r), 400);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(
        evacuate(T.admin_token, id,
                 "{\"action\":\"evacuate\",\"host\":\"ea\",\"confirm_data_loss\":true}", &r),
        400);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(evacuate(T.admin_token, id, "{\"action\":\"evacuate\",\"force\":true}", &r),
                     400);
    st_resp_free(&r);
    /* a named host that cannot take it (disabled): refused, nothing changes */
    snprintf(path, sizeof path, "/v1/nodes/%s", node_ids[1]);
    gwt_status(&T, "PATCH", path, T.admin_token, "{\"disabled\":true}");
    ST_ASSERT_INT_EQ(
        evacuate(T.admin_token, id,
                 "{\"action\":\"evacuate\",\"host\":\"eb\",\"confirm_data_loss\":true}", &r),
        409);
    CU_ASSERT(strstr(errmsg(&r), "host 'eb' cannot take") && strstr(errmsg(&r), "disabled"));
    st_resp_free(&r);
    gwt_status(&T, "PATCH", path, T.admin_token, "{\"disabled\":false}");
    char *state = gwt_instance_field(&T, A.member, id, "state");
    ST_ASSERT_STR_EQ(state, "active");
    free(state);
    CU_ASSERT(where(id) == 0); /* nothing moved */
    ST_ASSERT_INT_EQ(evacuate(T.admin_token, id, go, &r), 202);
    st_resp_free(&r);
    /* a second evacuation finds it on a host that is up */
    ST_ASSERT_INT_EQ(evacuate(T.admin_token, id, go, &r), 409);
    st_resp_free(&r);
}

/* Polls (up to 10 s) until instance id is off host i; its host then. */
static int wait_moved_off(const char *id, int i)
{
    int at = where(id);
    for (int k = 0; k < 100 && at == i; k++) {
        usleep(100000);
        at = where(id);
    }
    return at;
}

static void test_automatic_for_ceph_disks(void)
{
    reset();
    char ceph[40], local[40], sql[200];
    create_on(2, "auto-ceph", NULL, ceph);
    create_on(2, "auto-local", NULL, local);
    snprintf(sql, sizeof sql, "UPDATE iaas.instances SET disk_backend = 'rbd' WHERE id = '%s'",
             ceph);
    gwt_sql(&T, sql);
    static const char *const settings[] = {"evacuate.automatic=true", "power.interval_ms=100",
                                           NULL};
    gwt T2;
    gwt_start_peer(&T2, &T, settings);
    /* down (past nodes.down_after) but not past the fence margin: nothing moves */
    silent_for(2, 35);
    usleep(1000000);
    CU_ASSERT(where(ceph) == 2);
    /* past it: the Ceph-backed instance moves unasked, to another host, task evacuating */
    silent_for(2, 60);
    int to = wait_moved_off(ceph, 2);
    CU_ASSERT(to == 0 || to == 1);
    char *task = gwt_instance_field(&T, A.member, ceph, "task");
    ST_ASSERT_STR_EQ(task, "evacuating");
    free(task);
    /* more ticks: moved exactly once; the local disk's instance waits for an admin */
    usleep(1000000);
    CU_ASSERT(where(ceph) == to);
    CU_ASSERT(where(local) == 2);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM iaas.evacuations WHERE instance_id = '%s'",
             ceph);
    char *n = gwt_sql_value(&T, sql);
    ST_ASSERT_STR_EQ(n, "1");
    free(n);
    gwt_stop(&T2);
}

static CU_TestInfo tests[] = {
    {"refused until the host is dead past the margin; moved, then cleaned",
     test_refused_until_dead_then_moved_and_cleaned},
    {"a Ceph disk moves without confirmation", test_ceph_disk_moves_without_confirmation},
    {"a node's evacuation keeps anti-affinity", test_node_evacuation_keeps_anti_affinity},
    {"cloud admins only: 403 own, 404 another tenant's", test_only_cloud_admins},
    {"automatic: a dead host's Ceph-backed instances, once; local ones stay",
     test_automatic_for_ceph_disks},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"evacuate", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
