/* Placement against real gateways and PostgreSQL: the admin's policy and
 * its visible effect (empty nodes under pack), server groups, disabled and
 * down hosts, and two gateways placing at once on a host with room for ten. */
#include "gwt.h"
#include "st_pg.h"
#include "st_proc.h"
#include "st_test.h"
#include "stratus/timefmt.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static gwt T;
static gwt_tenant A;
static char flavor[40], image[40];
static char *nodes[3];
static char node_ids[3][40];
static const char *names[3] = {"pa", "pb", "pc"};

static int suite_init(void)
{
    gwt_start(&T, "gw_place", NULL);
    gwt_make_tenant(&T, "place", &A);
    char path[128];
    snprintf(path, sizeof path, "/v1/tenants/%s/quotas", A.id);
    gwt_status(&T, "PUT", path, T.admin_token, "{\"instances\":100,\"vcpus\":100}");
    gwt_make_catalog(&T, flavor, image); /* m1.small: 1 vCPU, 512 MiB, 10 GiB */
    gwt_make_nodes(&T, 3, names, 4, 4096, 1000, NULL, nodes, node_ids);
    return 0;
}

static int suite_clean(void)
{
    for (int i = 0; i < 3; i++)
        free(nodes[i]);
    gwt_free_tenant(&A);
    gwt_stop(&T);
    return 0;
}

/* Which of the three nodes holds the instance (-1: none). */
static int where(const char *id)
{
    char *n = gwt_instance_field(&T, A.member, id, "node_id");
    int at = -1;
    for (int i = 0; i < 3; i++)
        if (!strcmp(n, node_ids[i]))
            at = i;
    free(n);
    return at;
}

static void delete_all(void)
{
    st_resp r;
    gwt_call(&T, &r, "GET", "/v1/instances?limit=1000", A.member, NULL);
    json_t *it;
    size_t i;
    json_array_foreach(json_object_get(r.json, "instances"), i, it)
    {
        const char *id = json_string_value(json_object_get(it, "id"));
        char path[128];
        snprintf(path, sizeof path, "/v1/instances/%s", id);
        gwt_status(&T, "DELETE", path, A.member, NULL);
        for (int k = 0; k < 3; k++)
            gwt_report(&T, nodes[k], id, "deleted", gwt_instance_generation(&T, NULL, id));
    }
    st_resp_free(&r);
}

/* A's instances on Ceph, booted directly, on nodes that receive live migrations (their
 * agents say so in the heartbeat): what a live migration can move. */
static void ceph_and_live_migration(void)
{
    char sql[256];
    snprintf(
        sql, sizeof sql,
        "UPDATE iaas.instances SET disk_backend = 'rbd', boot = 'kernel' WHERE tenant_id = '%s'",
        A.id);
    gwt_sql(&T, sql);
    gwt_sql(&T, "UPDATE iaas.nodes SET live_migration = true");
}

static void set_policy(const char *p)
{
    char body[64];
    snprintf(body, sizeof body, "{\"policy\":\"%s\"}", p);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", "/v1/scheduler", T.admin_token, body), 200);
}

static void test_pack_fills_one_host_and_reports_the_empty_ones(void)
{
    set_policy("pack");
    int count[3] = {0};
    for (int i = 0; i < 4; i++) {
        char id[40], name[16];
        snprintf(name, sizeof name, "pk-%d", i);
        ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, name, "m1.small", image, NULL, id), 202);
        int at = where(id);
        CU_ASSERT_FATAL(at >= 0);
        count[at]++;
        gwt_report(&T, nodes[at], id, "active", gwt_instance_generation(&T, NULL, id));
    }
    int full = count[0] == 4 || count[1] == 4 || count[2] == 4;
    CU_ASSERT_TRUE(full);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/scheduler", T.admin_token, NULL), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "policy")), "pack");
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "empty_nodes")), 2);
    st_resp_free(&r);
    gwt_call(&T, &r, "GET", "/v1/nodes", T.admin_token, NULL);
    int empty = 0;
    json_t *it;
    size_t i;
    json_array_foreach(json_object_get(r.json, "nodes"), i, it) empty +=
        json_is_true(json_object_get(it, "empty"));
    ST_ASSERT_INT_EQ(empty, 2);
    st_resp_free(&r);
    /* spread then puts the next instances on the empty hosts */
    set_policy("spread");
    for (int k = 0; k < 2; k++) {
        char id[40];
        ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, "sp", "m1.small", image, NULL, id), 202);
        int at = where(id);
        CU_ASSERT_FATAL(at >= 0);
        ST_ASSERT_INT_EQ(count[at], 0);
        count[at]++;
        gwt_report(&T, nodes[at], id, "active", gwt_instance_generation(&T, NULL, id));
    }
    /* The consolidation plan holds what a live migration cannot move: instances on local
     * disks, on nodes whose agents take no live migration (as the rebalancer does) */
    ST_ASSERT_INT_EQ(
        gwt_call(&T, &r, "GET", "/v1/scheduler/consolidation?target=1", T.admin_token, NULL), 200);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "moves")), 0);
    st_resp_free(&r);
    ceph_and_live_migration();
    /* a dry run: the nodes holding one instance each would be emptied (each instance where
     * pack puts it); nothing moves. */
    ST_ASSERT_INT_EQ(
        gwt_call(&T, &r, "GET", "/v1/scheduler/consolidation?target=1", T.admin_token, NULL), 200);
    ST_ASSERT_INT_EQ(json_is_true(json_object_get(r.json, "dry_run")), 1);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "nodes_on")), 3);
    json_t *moves = json_object_get(r.json, "moves"),
           *gone = json_object_get(r.json, "nodes_emptied");
    CU_ASSERT(json_array_size(moves) >= 1);
    ST_ASSERT_INT_EQ(json_array_size(moves), json_array_size(gone));
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "nodes_on_after")),
                     3 - (long long)json_array_size(gone));
    json_array_foreach(moves, i, it)
    {
        const char *from = json_string_value(json_object_get(it, "from_node"));
        for (int k = 0; k < 3; k++)
            if (!strcmp(from, names[k]))
                ST_ASSERT_INT_EQ(count[k], 1);
        CU_ASSERT(strcmp(from, json_string_value(json_object_get(it, "to_node"))) != 0);
    }
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/scheduler", T.admin_token, NULL), 200);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "empty_nodes")), 0);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(
        gwt_status(&T, "GET", "/v1/scheduler/consolidation?target=0.2", T.admin_token, NULL), 400);
    ST_ASSERT_INT_EQ(
        gwt_status(&T, "GET", "/v1/scheduler/consolidation?max_moves=x", T.admin_token, NULL), 400);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/scheduler/consolidation", A.admin, NULL), 403);
    gwt_sql(&T, "UPDATE iaas.nodes SET live_migration = false");
    ST_ASSERT_INT_EQ(
        gwt_status(&T, "PUT", "/v1/scheduler", T.admin_token, "{\"policy\":\"random\"}"), 400);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", "/v1/scheduler", A.admin, "{\"policy\":\"pack\"}"), 403);
    delete_all();
}

/* The rebalancing plan, a dry run: CPU load measured from billing's samples (two per
 * instance, 5 minutes apart), the busy node's load moved to an idle one, nothing moved. */
static void test_rebalance_plan_moves_load_off_the_busy_node(void)
{
    set_policy("spread");
    char ids[4][40];
    int at[4], count[3] = {0};
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof name, "rb-%d", i);
        ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, name, "m1.small", image, NULL, ids[i]),
                         202);
        at[i] = where(ids[i]);
        CU_ASSERT_FATAL(at[i] >= 0);
        count[at[i]]++;
        gwt_report(&T, nodes[at[i]], ids[i], "active", gwt_instance_generation(&T, NULL, ids[i]));
    }
    int busy = count[0] == 2 ? 0 : count[1] == 2 ? 1 : 2;
    ST_ASSERT_INT_EQ_FATAL(count[busy], 2);
    /* the busy node's two instances keep their vCPU busy, the others 5 % of theirs */
    long long now = st_now_us();
    for (int i = 0; i < 4; i++) {
        long long cycles = at[i] == busy ? 600000000000LL : 30000000000LL;
        ST_ASSERT_INT_EQ(gwt_bill_sample_at(&T, A.id, ids[i], 1, 0, now - 300000000LL), 200);
        ST_ASSERT_INT_EQ(gwt_bill_sample_at(&T, A.id, ids[i], 2, cycles, now), 200);
    }
    /* on nodes whose agents take no live migration (these), nothing may move */
    st_resp r;
    ST_ASSERT_INT_EQ(
        gwt_call(&T, &r, "GET", "/v1/scheduler/rebalance?threshold=0.2", T.admin_token, NULL), 200);
    ST_ASSERT_INT_EQ(json_is_true(json_object_get(r.json, "dry_run")), 1);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "instances_measured")), 4);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "moves")), 0);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "outcome")), "no_move_helps");
    json_t *before = json_object_get(r.json, "imbalance_before");
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(before, "cpu_spread")), 0.5 - 0.05 / 4,
                           0.01);
    st_resp_free(&r);
    /* on local disks, once other nodes receive live migrations that copy the disk along
     * (block migration, their agents say so): one busy instance moves; with live migration
     * alone (older agents) none */
    char sql[512];
    snprintf(sql, sizeof sql, "UPDATE iaas.instances SET boot = 'kernel' WHERE tenant_id = '%s'",
             A.id);
    gwt_sql(&T, sql);
    gwt_sql(&T, "UPDATE iaas.nodes SET live_migration = true");
    ST_ASSERT_INT_EQ(
        gwt_call(&T, &r, "GET", "/v1/scheduler/rebalance?threshold=0.2", T.admin_token, NULL), 200);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "moves")), 0);
    st_resp_free(&r);
    gwt_sql(&T, "UPDATE iaas.nodes SET block_migration = true");
    ST_ASSERT_INT_EQ(
        gwt_call(&T, &r, "GET", "/v1/scheduler/rebalance?threshold=0.2", T.admin_token, NULL), 200);
    ST_ASSERT_INT_EQ_FATAL(json_array_size(json_object_get(r.json, "moves")), 1);
    char first_to[64];
    snprintf(first_to, sizeof first_to, "%s",
             json_string_value(
                 json_object_get(json_array_get(json_object_get(r.json, "moves"), 0), "to_node")));
    st_resp_free(&r);
    /* the destination it chose loses block migration (an older agent): the plan sends the
     * move to the other idle node, which has it, not to one that would refuse the copy. (Both
     * idle nodes' rows are written by one statement, so the order the hosts are read in, which
     * breaks the tie between the two, stays as it was.) */
    snprintf(sql, sizeof sql,
             "UPDATE iaas.nodes SET block_migration = (name <> '%s') WHERE name <> '%s'", first_to,
             names[busy]);
    gwt_sql(&T, sql);
    ST_ASSERT_INT_EQ(
        gwt_call(&T, &r, "GET", "/v1/scheduler/rebalance?threshold=0.2", T.admin_token, NULL), 200);
    ST_ASSERT_INT_EQ_FATAL(json_array_size(json_object_get(r.json, "moves")), 1);
    const char *to = json_string_value(
        json_object_get(json_array_get(json_object_get(r.json, "moves"), 0), "to_node"));
    CU_ASSERT(to && strcmp(to, first_to) && strcmp(to, names[busy]));
    st_resp_free(&r);
    gwt_sql(&T, "UPDATE iaas.nodes SET live_migration = false, block_migration = false");
    /* on Ceph one busy instance moves to an idle node: 1 + 0.05 CPUs there, 1 left */
    ceph_and_live_migration();
    ST_ASSERT_INT_EQ(
        gwt_call(&T, &r, "GET", "/v1/scheduler/rebalance?threshold=0.2", T.admin_token, NULL), 200);
    json_t *moves = json_object_get(r.json, "moves"), *m = json_array_get(moves, 0);
    ST_ASSERT_INT_EQ_FATAL(json_array_size(moves), 1);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(m, "from_node")), names[busy]);
    CU_ASSERT(strcmp(json_string_value(json_object_get(m, "to_node")), names[busy]) != 0);
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(m, "instance_cpu")), 1.0, 0.05);
    CU_ASSERT_DOUBLE_EQUAL(
        json_real_value(json_object_get(json_object_get(m, "from_after"), "cpu")), 0.25, 0.02);
    double after =
        json_real_value(json_object_get(json_object_get(r.json, "imbalance_after"), "cpu_spread"));
    CU_ASSERT(after < 0.3);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "nodes")), 3);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "outcome")), "no_move_helps");
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/scheduler/rebalance?threshold=0.2&max_moves=1",
                              T.admin_token, NULL),
                     200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "outcome")), "max_moves");
    st_resp_free(&r);
    /* nothing moved: the same plan again */
    ST_ASSERT_INT_EQ(where(ids[0]), at[0]);
    /* carried out (POST), on a gateway letting one live migration run at a time: the move
     * begins as a migration (task migrating, a preparing row); the next call plans the other
     * busy instance and skips it for the limit */
    static const char *const one[] = {"rebalance.max_concurrent=1", NULL};
    gwt T2;
    gwt_start_peer(&T2, &T, one);
    ST_ASSERT_INT_EQ(
        gwt_call(&T2, &r, "POST", "/v1/scheduler/rebalance", T.admin_token, "{\"threshold\":0.2}"),
        202);
    CU_ASSERT(json_is_false(json_object_get(r.json, "dry_run")));
    json_t *st = json_object_get(r.json, "started");
    ST_ASSERT_INT_EQ_FATAL(json_array_size(st), 1);
    char moving[40];
    snprintf(moving, sizeof moving, "%s",
             json_string_value(json_object_get(json_array_get(st, 0), "instance_id")));
    st_resp_free(&r);
    char *task = gwt_instance_field(&T, A.member, moving, "task");
    ST_ASSERT_STR_EQ(task, "migrating");
    free(task);
    snprintf(sql, sizeof sql, "SELECT state FROM iaas.migrations WHERE instance_id = '%s'", moving);
    char *mstate = gwt_sql_value(&T, sql);
    ST_ASSERT_STR_EQ(mstate, "preparing");
    free(mstate);
    ST_ASSERT_INT_EQ(
        gwt_call(&T2, &r, "POST", "/v1/scheduler/rebalance", T.admin_token, "{\"threshold\":0.2}"),
        202);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "started")), 0);
    json_t *sk = json_object_get(r.json, "skipped");
    ST_ASSERT_INT_EQ_FATAL(json_array_size(sk), 1);
    CU_ASSERT(strcmp(json_string_value(json_object_get(json_array_get(sk, 0), "instance_id")),
                     moving) != 0);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(json_string_value(json_object_get(json_array_get(sk, 0), "reason")),
               "rebalance.max_concurrent"));
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_status(&T2, "POST", "/v1/scheduler/rebalance", A.admin, "{}"), 403);
    ST_ASSERT_INT_EQ(
        gwt_status(&T2, "POST", "/v1/scheduler/rebalance", T.admin_token, "{\"threshold\":7}"),
        400);
    /* one run at a time across the gateways: while another session holds the scheduler's
     * lock (a run under way), a POST waits for it 5 s, then answers 503 and starts nothing;
     * once it is free the POST runs again */
    PGconn *other = st_pg_connect(T.conninfo);
    CU_ASSERT_PTR_NOT_NULL_FATAL(other);
    PGresult *lk = PQexec(other, "SELECT pg_advisory_lock(hashtext('stratus.gateway.sched'))");
    ST_ASSERT_INT_EQ(PQresultStatus(lk), PGRES_TUPLES_OK);
    PQclear(lk);
    long long t0 = st_now_ms();
    ST_ASSERT_INT_EQ(gwt_call(&T2, &r, "POST", "/v1/scheduler/rebalance", T.admin_token, "{}"),
                     503);
    CU_ASSERT(st_now_ms() - t0 >= 4500);
    const char *msg =
        json_string_value(json_object_get(json_object_get(r.json, "error"), "message"));
    CU_ASSERT(msg && strstr(msg, "held the lock"));
    st_resp_free(&r);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM iaas.migrations WHERE state = 'preparing'");
    char *n_mig = gwt_sql_value(&T, sql);
    ST_ASSERT_STR_EQ(n_mig, "1"); /* the one begun above, no other */
    free(n_mig);
    PQclear(PQexec(other, "SELECT pg_advisory_unlock_all()"));
    PQfinish(other);
    ST_ASSERT_INT_EQ(
        gwt_status(&T2, "POST", "/v1/scheduler/rebalance", T.admin_token, "{\"threshold\":0.2}"),
        202);
    gwt_stop(&T2);
    /* cancelled while the target prepares: back as it was */
    char act[128];
    snprintf(act, sizeof act, "/v1/instances/%s/actions", moving);
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", act, T.admin_token, "{\"action\":\"migrate_cancel\"}"),
                     202);
    /* instances that moved within rebalance.cooldown stay: a placement on another node
     * before the current one (as a migration leaves in iaas.placements) */
    snprintf(sql, sizeof sql,
             "WITH o AS (UPDATE iaas.placements SET since = now() - interval '5 minutes'"
             " WHERE until IS NULL AND tenant_id = '%s' RETURNING instance_id, tenant_id)"
             " INSERT INTO iaas.placements SELECT instance_id, tenant_id, '%s',"
             " now() - interval '9 minutes', now() - interval '5 minutes' FROM o",
             A.id, node_ids[(busy + 1) % 3]);
    gwt_sql(&T, sql);
    ST_ASSERT_INT_EQ(
        gwt_call(&T, &r, "GET", "/v1/scheduler/rebalance?threshold=0.2", T.admin_token, NULL), 200);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "moves")), 0);
    st_resp_free(&r);
    static const char *const bad[] = {"threshold=0", "threshold=1.5", "threshold=x", "max_moves=0",
                                      "max_moves=x"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        char path[96];
        snprintf(path, sizeof path, "/v1/scheduler/rebalance?%s", bad[k]);
        ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, T.admin_token, NULL), 400);
    }
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/scheduler/rebalance", A.admin, NULL), 403);
    gwt_sql(&T, "UPDATE iaas.nodes SET live_migration = false");
    delete_all();
}

static void test_server_groups_place_together_or_apart(void)
{
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/server-groups", A.member,
                              "{\"name\":\"apart\",\"policy\":\"anti-affinity\"}"),
                     201);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", "/v1/server-groups", A.member,
                                "{\"name\":\"x\",\"policy\":\"sometimes\"}"),
                     400);
    int seen[3] = {0};
    char body[256], id[40];
    for (int i = 0; i < 3; i++) {
        snprintf(body, sizeof body,
                 "{\"name\":\"ap-%d\",\"flavor\":\"m1.small\",\"image\":\"%s\","
                 "\"server_group\":\"apart\"}",
                 i, image);
        gwt_call(&T, &r, "POST", "/v1/instances", A.member, body);
        ST_ASSERT_INT_EQ(r.status, 202);
        snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "id")));
        st_resp_free(&r);
        int at = where(id);
        CU_ASSERT_FATAL(at >= 0);
        ST_ASSERT_INT_EQ(seen[at], 0);
        seen[at] = 1;
    }
    /* a fourth member has nowhere to go */
    snprintf(body, sizeof body,
             "{\"name\":\"ap-3\",\"flavor\":\"m1.small\",\"image\":\"%s\","
             "\"server_group\":\"apart\"}",
             image);
    gwt_call(&T, &r, "POST", "/v1/instances", A.member, body);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "state")), "error");
    CU_ASSERT_PTR_NOT_NULL(
        strstr(json_string_value(json_object_get(r.json, "fault")) ?: "", "server group"));
    st_resp_free(&r);
    delete_all();

    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", "/v1/server-groups", A.member,
                                "{\"name\":\"together\",\"policy\":\"affinity\"}"),
                     201);
    int first = -1;
    for (int i = 0; i < 3; i++) {
        snprintf(body, sizeof body,
                 "{\"name\":\"tg-%d\",\"flavor\":\"m1.small\",\"image\":\"%s\","
                 "\"server_group\":\"together\"}",
                 i, image);
        gwt_call(&T, &r, "POST", "/v1/instances", A.member, body);
        snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "id")));
        st_resp_free(&r);
        int at = where(id);
        if (first < 0)
            first = at;
        ST_ASSERT_INT_EQ(at, first);
    }
    gwt_call(&T, &r, "GET", "/v1/server-groups", A.reader, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, id));
    st_resp_free(&r);
    delete_all();
}

static void test_disabled_and_down_hosts_get_nothing(void)
{
    char path[256], id[40];
    /* disable pa and pb: everything goes to pc */
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "/v1/nodes/%s", node_ids[i]);
        ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, T.admin_token, "{\"disabled\":true}"), 200);
    }
    for (int k = 0; k < 3; k++) {
        ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, "d", "m1.small", image, NULL, id), 202);
        ST_ASSERT_INT_EQ(where(id), 2);
    }
    char *hs = gwt_instance_field(&T, A.member, id, "host_status");
    ST_ASSERT_STR_EQ(hs, "up");
    free(hs);
    /* pc stops sending heartbeats: it is down, its instances say so, and
     * nothing new lands there */
    char sql[512];
    snprintf(sql, sizeof sql,
             "UPDATE iaas.nodes SET last_heartbeat = now() - interval '1 hour'"
             " WHERE id = '%s'",
             node_ids[2]);
    gwt_sql(&T, sql);
    hs = gwt_instance_field(&T, A.member, id, "host_status");
    ST_ASSERT_STR_EQ(hs, "down");
    free(hs);
    st_resp r;
    snprintf(path, sizeof path, "/v1/nodes/%s", node_ids[2]);
    gwt_call(&T, &r, "GET", path, T.admin_token, NULL);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "state")), "down");
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, "nowhere", "m1.small", image, NULL, id),
                     202);
    char *st = gwt_instance_field(&T, A.member, id, "state");
    ST_ASSERT_STR_EQ(st, "error");
    free(st);
    char *fault = gwt_instance_field(&T, A.member, id, "fault");
    CU_ASSERT_PTR_NOT_NULL(strstr(fault, "2 disabled"));
    CU_ASSERT_PTR_NOT_NULL(strstr(fault, "1 down"));
    free(fault);
    /* back to normal */
    gwt_heartbeat(&T, nodes[2], 4, 4096, 1000);
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "/v1/nodes/%s", node_ids[i]);
        gwt_status(&T, "PATCH", path, T.admin_token, "{\"disabled\":false}");
    }
    delete_all();
}

static long post_id(const char *path, const char *body, char id[40])
{
    st_resp r;
    gwt_call(&T, &r, "POST", path, A.member, body);
    long st = r.status;
    const char *v = json_string_value(json_object_get(r.json, "id"));
    snprintf(id, 40, "%s", v ? v : "");
    st_resp_free(&r);
    return st;
}

/* An instance with the given ports: the status, its id in id. */
static long create_with_ports(const char *name, const char *ports, char id[40])
{
    char *b = st_jsonf("{s:s, s:s, s:s, s:o}", "name", name, "flavor", "m1.small", "image", image,
                       "ports", json_loads(ports, 0, NULL));
    st_resp r;
    gwt_call(&T, &r, "POST", "/v1/instances", A.member, b);
    free(b);
    long st = r.status;
    const char *v = json_string_value(json_object_get(r.json, "id"));
    snprintf(id, 40, "%s", v ? v : "");
    st_resp_free(&r);
    return st;
}

/* The instance found no host: it is in error, its fault says why. */
static void assert_unplaced(const char *id, const char *why)
{
    char *st = gwt_instance_field(&T, A.member, id, "state");
    ST_ASSERT_STR_EQ(st, "error");
    free(st);
    char *fault = gwt_instance_field(&T, A.member, id, "fault");
    CU_ASSERT_PTR_NOT_NULL(strstr(fault, why));
    free(fault);
}

static long node_used_vfs(int i)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/nodes/%s", node_ids[i]);
    st_resp r;
    gwt_call(&T, &r, "GET", path, T.admin_token, NULL);
    long n = json_integer_value(json_object_get(json_object_get(r.json, "used"), "sriov_vfs"));
    st_resp_free(&r);
    return n;
}

static void test_direct_ports_go_where_a_vf_is_free(void)
{
    /* pb's agent reports one SR-IOV VF; pa and pc have none */
    char *hb =
        st_jsonf("{s:s, s:{s:i, s:i, s:i, s:i, s:b}}", "hostname", "pb-host", "capacity", "vcpus",
                 4, "memory_mib", 4096, "disk_gib", 1000, "sriov_vfs", 1, "firmware", 1);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", "/internal/v1/node", nodes[1], hb), 200);
    free(hb);
    set_policy("spread");
    char net[40], p1[40], p2[40], p3[40], pv[40], b[256], id[40], id2[40], id3[40];
    ST_ASSERT_INT_EQ_FATAL(post_id("/v1/networks", "{\"name\":\"sriov\"}", net), 201);
    snprintf(b, sizeof b, "{\"network_id\":\"%s\",\"cidr\":\"10.9.0.0/24\"}", net);
    ST_ASSERT_INT_EQ_FATAL(post_id("/v1/subnets", b, id), 201);
    snprintf(b, sizeof b, "{\"network_id\":\"%s\",\"vnic_type\":\"direct\"}", net);
    ST_ASSERT_INT_EQ_FATAL(post_id("/v1/ports", b, p1), 201);
    ST_ASSERT_INT_EQ_FATAL(post_id("/v1/ports", b, p2), 201);
    ST_ASSERT_INT_EQ_FATAL(post_id("/v1/ports", b, p3), 201);
    snprintf(b, sizeof b, "{\"network_id\":\"%s\"}", net);
    ST_ASSERT_INT_EQ_FATAL(post_id("/v1/ports", b, pv), 201);
    /* the first direct port lands on pb, the only host with a VF, though
     * spread would pick the emptier pa or pc */
    snprintf(b, sizeof b, "[\"%s\"]", p1);
    ST_ASSERT_INT_EQ(create_with_ports("vf1", b, id), 202);
    ST_ASSERT_INT_EQ(where(id), 1);
    ST_ASSERT_INT_EQ(node_used_vfs(1), 1);
    /* the second finds none free: error, and the fault says why */
    snprintf(b, sizeof b, "[\"%s\"]", p2);
    ST_ASSERT_INT_EQ(create_with_ports("vf2", b, id2), 202);
    assert_unplaced(id2, "3 out of SR-IOV VFs");
    /* a virtio port needs no VF; attaching the direct one to it, placed on a
     * host without VFs, is refused and leaves the port free */
    snprintf(b, sizeof b, "[\"%s\"]", pv);
    ST_ASSERT_INT_EQ(create_with_ports("plain", b, id3), 202);
    int at = where(id3);
    CU_ASSERT(at == 0 || at == 2);
    /* NICs change on a stopped instance: it becomes active, then stops */
    ST_ASSERT_INT_EQ(
        gwt_report(&T, nodes[at], id3, "active", gwt_instance_generation(&T, A.member, id3)), 200);

    char path[160];
    snprintf(path, sizeof path, "/v1/instances/%s/actions", id3);
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", path, A.member, "{\"action\":\"stop\"}"), 202);
    gwt_report(&T, nodes[at], id3, "stopped", gwt_instance_generation(&T, A.member, id3));
    snprintf(path, sizeof path, "/v1/instances/%s/interfaces", id3);
    snprintf(b, sizeof b, "{\"port_id\":\"%s\"}", p3);
    st_resp r;
    gwt_call(&T, &r, "POST", path, A.member, b);
    ST_ASSERT_INT_EQ(r.status, 409);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(json_string_value(json_object_get(json_object_get(r.json, "error"), "message")),
               "no free SR-IOV VF"));
    st_resp_free(&r);
    char *owner = gwt_sql_value(&T, "SELECT count(*) FROM iaas.ports WHERE vnic_type = 'direct'"
                                    " AND instance_id IS NULL");
    ST_ASSERT_STR_EQ(owner, "1"); /* p3 still free (p2 stays with its instance in error) */
    free(owner);
    /* deleting the first frees its VF */
    delete_all();
    ST_ASSERT_INT_EQ(node_used_vfs(1), 0);
}

/* An image of the admin's (public) with body, uploaded: its id. */
static void public_image(const char *body, char id[40])
{
    st_resp r;
    ST_ASSERT_INT_EQ_FATAL(gwt_call(&T, &r, "POST", "/v1/images", T.admin_token, body), 201);
    snprintf(id, 40, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    char bytes[4096] = {1};
    ST_ASSERT_INT_EQ_FATAL(gwt_upload_image(&T, T.admin_token, id, bytes, sizeof bytes), 200);
}

static void test_firmware_images_go_where_the_bios_is(void)
{
    set_policy("spread");
    /* only pb's agent found its BIOS */
    gwt_heartbeat_fw(&T, nodes[0], 4, 4096, 1000, 0);
    gwt_heartbeat_fw(&T, nodes[2], 4, 4096, 1000, 0);
    st_resp r;
    char path[160], kern[40], rd[40], disk[40], b[512], id[40], id2[40];
    snprintf(path, sizeof path, "/v1/nodes/%s", node_ids[1]);
    gwt_call(&T, &r, "GET", path, T.admin_token, NULL);
    ST_ASSERT_INT_EQ(json_is_true(json_object_get(json_object_get(r.json, "capacity"), "firmware")),
                     1);
    st_resp_free(&r);
    /* the catalog's image is a plain disk: firmware by default; it lands on
     * pb though spread would pick the emptier pa or pc */
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, "fw-1", "m1.small", image, NULL, id), 202);
    ST_ASSERT_INT_EQ(where(id), 1);
    char q[512];
    snprintf(q, sizeof q, "SELECT boot FROM iaas.instances WHERE id = '%s'", id);
    char *boot = gwt_sql_value(&T, q);
    ST_ASSERT_STR_EQ(boot, "firmware");
    free(boot);
    /* a kernel (direct boot) goes anywhere: the emptier pa or pc */
    public_image("{\"name\":\"vmlinuz\",\"disk_format\":\"raw\",\"kind\":\"kernel\","
                 "\"visibility\":\"public\"}",
                 kern);
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, "k-1", "m1.small", kern, NULL, id2), 202);
    int at = where(id2);
    CU_ASSERT(at == 0 || at == 2);
    /* a disk booting that kernel with a ramdisk: direct too, and the node
     * it is placed on may read all three images */
    public_image("{\"name\":\"initrd\",\"disk_format\":\"raw\",\"kind\":\"ramdisk\","
                 "\"visibility\":\"public\"}",
                 rd);
    snprintf(b, sizeof b,
             "{\"name\":\"root\",\"disk_format\":\"raw\",\"visibility\":\"public\","
             "\"kernel_id\":\"%s\",\"ramdisk_id\":\"%s\"}",
             kern, rd);
    public_image(b, disk);
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, "kr-1", "m1.small", disk, NULL, id2), 202);
    at = where(id2);
    CU_ASSERT_FATAL(at >= 0);
    snprintf(q, sizeof q,
             "SELECT iaas.node_may_read_image('%s', '%s') AND iaas.node_may_read_image('%s', '%s')"
             " AND iaas.node_may_read_image('%s', '%s') AND boot = 'kernel' FROM iaas.instances"
             " WHERE id = '%s'",
             node_ids[at], disk, node_ids[at], kern, node_ids[at], rd, id2);
    char *may = gwt_sql_value(&T, q);
    ST_ASSERT_STR_EQ(may, "t");
    free(may);
    /* a ramdisk boots nothing by itself: 400 */
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, "rd-1", "m1.small", rd, NULL, id2), 400);
    /* a disk whose kernel is not active yet cannot boot: 400 */
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/images", A.member,
                              "{\"name\":\"k2\",\"disk_format\":\"raw\",\"kind\":\"kernel\"}"),
                     201);
    char k2[40];
    snprintf(k2, sizeof k2, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    snprintf(b, sizeof b, "{\"name\":\"r2\",\"disk_format\":\"raw\",\"kernel_id\":\"%s\"}", k2);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/images", A.member, b), 201);
    char d2[40];
    snprintf(d2, sizeof d2, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    char bytes[512] = {0};
    ST_ASSERT_INT_EQ(gwt_upload_image(&T, A.member, d2, bytes, sizeof bytes), 200);
    char *body = st_jsonf("{s:s, s:s, s:s}", "name", "r2", "flavor", "m1.small", "image", d2);
    gwt_call(&T, &r, "POST", "/v1/instances", A.member, body);
    free(body);
    ST_ASSERT_INT_EQ(r.status, 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body ? r.body : "", "not active"));
    st_resp_free(&r);
    /* pb loses its BIOS: no host can boot the disk image; the fault says why */
    gwt_heartbeat_fw(&T, nodes[1], 4, 4096, 1000, 0);
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, "fw-2", "m1.small", image, NULL, id), 202);
    assert_unplaced(id, "3 without firmware");
    for (int i = 0; i < 3; i++) /* as the suite found them */
        gwt_heartbeat(&T, nodes[i], 4, 4096, 1000);
    delete_all();
}

typedef struct placer {
    const gwt *g;
    const char *token;
    char name[16];
    long status;
    char state[16];
} placer;

static void *place(void *arg)
{
    placer *p = arg;
    char *b = st_jsonf("{s:s, s:s, s:s}", "name", p->name, "flavor", "m1.small", "image", image);
    st_resp r;
    gwt_call(p->g, &r, "POST", "/v1/instances", p->token, b);
    free(b);
    p->status = r.status;
    const char *s = json_string_value(json_object_get(r.json, "state"));
    snprintf(p->state, sizeof p->state, "%s", s ? s : "");
    st_resp_free(&r);
    return NULL;
}

static void test_two_gateways_never_overfill_a_host(void)
{
    /* one host with room for exactly ten m1.small (5120 MiB), the others off */
    char *solo = gwt_make_node(&T, "solo", 16, 5120, 1000), *solo_id = gwt_node_id(&T, "solo");
    char path[256];
    CU_ASSERT_PTR_NOT_NULL_FATAL(solo_id);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "/v1/nodes/%s", node_ids[i]);
        gwt_status(&T, "PATCH", path, T.admin_token, "{\"disabled\":true}");
    }
    gwt g2;
    gwt_start_peer(&g2, &T, NULL);
    /* One tenant per request: quota locks are per tenant, so only the claim
     * on the node stands between these placements. A cloud admin may scope
     * a token to any tenant, which makes twenty tenants cheap. */
    enum { N = 20 };
    char *tokens[N];
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "race-%d", i);
        char *b = st_jsonf("{s:s}", "name", name);
        ST_ASSERT_INT_EQ(gwt_status(&T, "POST", "/v1/tenants", T.admin_token, b), 201);
        free(b);
        tokens[i] = gwt_signin(&T, "admin", "admin-password-1", name);
        CU_ASSERT_PTR_NOT_NULL_FATAL(tokens[i]);
    }
    pthread_t th[N];
    placer p[N];
    for (int i = 0; i < N; i++) {
        p[i] = (placer){.g = i % 2 ? &g2 : &T, .token = tokens[i]};
        snprintf(p[i].name, sizeof p[i].name, "race-%d", i);
        pthread_create(&th[i], NULL, place, &p[i]);
    }
    int building = 0, error = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ST_ASSERT_INT_EQ(p[i].status, 202);
        building += !strcmp(p[i].state, "building");
        error += !strcmp(p[i].state, "error");
        free(tokens[i]);
    }
    ST_ASSERT_INT_EQ(building, 10);
    ST_ASSERT_INT_EQ(error, N - 10);
    st_resp r;
    snprintf(path, sizeof path, "/v1/nodes/%s", solo_id);
    gwt_call(&T, &r, "GET", path, T.admin_token, NULL);
    json_t *used = json_object_get(r.json, "used");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(used, "memory_mib")), 5120);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(used, "instances")), 10);
    st_resp_free(&r);
    gwt_stop(&g2);
    free(solo);
    free(solo_id);
}

/* A heartbeat from an agent newer than the gateway: capacity fields the gateway does not know
 * (booleans and integers, as live_migration and block_migration were once) are ignored, so agents
 * may be upgraded before the gateways; a string, an object or more than 16 of them are refused
 * with the field's name, and the node is unchanged. */
static void test_a_newer_agents_capacity_is_taken(void)
{
    char path[128];
    st_resp r;
    snprintf(path, sizeof path, "/v1/nodes/%s", node_ids[1]);
    char *hb = st_jsonf("{s:s, s:{s:i, s:i, s:i, s:b, s:b, s:i}}", "hostname", "pb-host",
                        "capacity", "vcpus", 6, "memory_mib", 4096, "disk_gib", 1000, "firmware", 1,
                        "tpm", 1, "numa_nodes", 2);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", "/internal/v1/node", nodes[1], hb), 200);
    free(hb);
    ST_ASSERT_INT_EQ_FATAL(gwt_call(&T, &r, "GET", path, T.admin_token, NULL), 200);
    json_t *cap = json_object_get(r.json, "capacity");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(cap, "vcpus")), 6);
    CU_ASSERT_PTR_NULL(json_object_get(cap, "tpm"));
    st_resp_free(&r);
    const char *refused[] = {
        "{\"hostname\":\"pb-host\",\"capacity\":{\"vcpus\":8,\"memory_mib\":4096,"
        "\"disk_gib\":1000,\"tpm\":\"v2\"}}",
        "{\"hostname\":\"pb-host\",\"capacity\":{\"vcpus\":8,\"memory_mib\":4096,"
        "\"disk_gib\":1000,\"tpm\":{\"version\":2}}}",
        "{\"hostname\":\"pb-host\",\"capacity\":{\"vcpus\":8,\"memory_mib\":4096,"
        "\"disk_gib\":1000,\"tpm\":1.5}}",
        NULL, /* 17 unknown booleans, below */
    };
    char many[1024];
    int k = snprintf(many, sizeof many,
                     "{\"hostname\":\"pb-host\",\"capacity\":{\"vcpus\":8,"
                     "\"memory_mib\":4096,\"disk_gib\":1000");
    for (int i = 0; i < 17; i++)
        k += snprintf(many + k, sizeof many - (size_t)k, ",\"tpm%d\":true", i);
    snprintf(many + k, sizeof many - (size_t)k, "}}");
    for (int i = 0; i < 4; i++) {
        ST_ASSERT_INT_EQ(
            gwt_call(&T, &r, "PUT", "/internal/v1/node", nodes[1], refused[i] ? refused[i] : many),
            400);
        CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "capacity: unknown field 'tpm"));
        st_resp_free(&r);
    }
    ST_ASSERT_INT_EQ_FATAL(gwt_call(&T, &r, "GET", path, T.admin_token, NULL), 200);
    ST_ASSERT_INT_EQ(
        json_integer_value(json_object_get(json_object_get(r.json, "capacity"), "vcpus")), 6);
    st_resp_free(&r);
    gwt_heartbeat(&T, nodes[1], 4, 4096, 1000);
}

static CU_TestInfo tests[] = {
    {"pack fills one host and reports the empty ones; spread uses them",
     test_pack_fills_one_host_and_reports_the_empty_ones},
    {"the rebalancing plan moves measured load off the busy node, a dry run",
     test_rebalance_plan_moves_load_off_the_busy_node},
    {"server groups place members together or apart", test_server_groups_place_together_or_apart},
    {"disabled and down hosts get nothing; instances show host down",
     test_disabled_and_down_hosts_get_nothing},
    {"direct ports go only where an SR-IOV VF is free", test_direct_ports_go_where_a_vf_is_free},
    {"firmware-booted images go only where the node has firmware; kernels anywhere",
     test_firmware_images_go_where_the_bios_is},
    {"two gateways placing at once never overfill a host", test_two_gateways_never_overfill_a_host},
    {"a newer agent's capacity fields are ignored; other unknown fields are refused",
     test_a_newer_agents_capacity_is_taken},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"placement", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
