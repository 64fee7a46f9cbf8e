/* The consolidation carried out, against real gateways and PostgreSQL, the agents played
 * through the node API and power.off_command a script that records its calls: the plan
 * holds the rebalancer's pins (a stopped instance, a source that cannot send; neither a
 * local disk, which block migration copies along, nor a firmware boot) and
 * never targets a node that cannot receive a live migration; POST /v1/scheduler/consolidation
 * starts the migrations that empty a host, no more than rebalance.max_concurrent at once,
 * marks it draining so no new instance lands there, and once they complete the power
 * manager powers it off with its command; consolidation.interval makes two gateways run it
 * once per interval between them. */
#include "gwt.h"
#include "st_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { CA, CB, CL, CD, NN }; /* CL: its agent takes no live migration (libvirt's) */
static const char *names[NN] = {"ca", "cb", "cl", "cd"};
/* all disabled at first: nothing is powered off before it is filled */
static const unsigned flags[NN] = {GWT_NODE_LIVE_MIGRATION | GWT_NODE_DISABLED,
                                   GWT_NODE_LIVE_MIGRATION | GWT_NODE_DISABLED, GWT_NODE_DISABLED,
                                   GWT_NODE_LIVE_MIGRATION | GWT_NODE_DISABLED};
static const int holds[NN] = {2, 3, 4, 1}; /* instances on each at the start */
static gwt T;
static gwt_tenant A;
static char dir[64], flavor[40], image[40];
static char *nodes[NN];
static char node_ids[NN][40];
static char inst[NN][4][40]; /* the instances on each node, as placed */

/* Host i's heartbeat: 4 vCPUs and 3 GiB, six m1.small (512 MiB) fill one. */
static long beat(int i)
{
    return gwt_node_beat(&T, nodes[i], names[i], 4, 3072, 1000, flags[i]);
}

static void set_disabled(int i, int disabled)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/nodes/%.40s", node_ids[i]);
    gwt_status(&T, "PATCH", path, T.admin_token,
               disabled ? "{\"disabled\":true}" : "{\"disabled\":false}");
}

/* The index of the node holding instance id, -1 for none. */
static int where(const char *id)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT n.name FROM iaas.instances i JOIN iaas.nodes n ON n.id = i.node_id"
             " WHERE i.id = '%s'",
             id);
    char *name = gwt_sql_value(&T, sql);
    int at = NN - 1;
    while (at >= 0 && (!name || strcmp(name, names[at])))
        at--;
    free(name);
    return at;
}

/* An active instance of A on node i (the only one enabled meanwhile), on Ceph and booted
 * directly unless local. */
static int place(int i, const char *name, int local, char id[40])
{
    long st = gwt_create_instance(&T, A.member, name, "m1.small", image, NULL, id);
    if (st != 202 || where(id) != i) {
        fprintf(stderr, "%s: create %ld, on node %d, not %d\n", name, st,
                st == 202 ? where(id) : -1, i);
        return -1;
    }
    gwt_report(&T, nodes[i], id, "active", gwt_instance_generation(&T, NULL, id));
    char sql[200];
    snprintf(sql, sizeof sql,
             "UPDATE iaas.instances SET boot = 'kernel', disk_backend = '%s' WHERE id = '%s'",
             local ? "local" : "rbd", id);
    gwt_sql(&T, sql);
    return 0;
}

static char *calls(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/calls.log", dir);
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 4096);
    if (f) {
        size_t n = fread(buf, 1, 4095, f);
        buf[n] = 0;
        fclose(f);
    }
    return buf;
}

static int suite_init(void)
{
    snprintf(dir, sizeof dir, "/tmp/gw-cons-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char script[128], off[256];
    snprintf(script, sizeof script, "%s/power.sh", dir);
    FILE *f = fopen(script, "w");
    if (!f)
        return -1;
    fprintf(f, "#!/bin/sh\necho \"$@\" >> '%s/calls.log'\n", dir);
    fclose(f);
    chmod(script, 0755);
    snprintf(off, sizeof off, "power.off_command=%s off %%n", script);
    const char *settings[] = {off,
                              "power.idle_after=2",
                              "power.min_spare_hosts=0",
                              "power.interval_ms=200",
                              "rebalance.max_concurrent=1",
                              "nodes.down_after=600",
                              NULL};
    gwt_start(&T, "gw_cons", settings); /* instances.shared_storage false */
    gwt_make_tenant(&T, "cons", &A);
    char path[256];
    snprintf(path, sizeof path, "/v1/tenants/%s/quotas", A.id);
    gwt_status(&T, "PUT", path, T.admin_token, "{\"instances\":100,\"vcpus\":100}");
    gwt_make_catalog(&T, flavor, image); /* m1.small: 1 vCPU, 512 MiB, 10 GiB */
    gwt_make_nodes(&T, NN, names, 4, 3072, 1000, flags, nodes, node_ids);
    /* ca 2, cb 3, cl 4 (all movable but for cl's source), cd 1 on a local disk */
    for (int i = 0; i < NN; i++) {
        /* its idle clock starts again: not powered off before it holds something */
        gwt_sql(&T, "UPDATE iaas.nodes SET empty_since = NULL");
        set_disabled(i, 0);
        for (int k = 0; k < holds[i]; k++) {
            char name[16];
            snprintf(name, sizeof name, "%s-%d", names[i], k);
            if (place(i, name, i == CD, inst[i][k]) < 0)
                return 1;
        }
        set_disabled(i, 1);
    }
    for (int i = 0; i < NN; i++)
        set_disabled(i, 0);
    /* cd's one is also stopped, which holds it (a stopped guest is not live-migrated; its
     * local disk would not hold it: block migration copies it along) */
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE iaas.instances SET state = 'stopped' WHERE id = '%s'",
             inst[CD][0]);
    gwt_sql(&T, sql);
    return 0;
}

static int suite_clean(void)
{
    for (int i = 0; i < NN; i++)
        free(nodes[i]);
    gwt_free_tenant(&A);
    gwt_stop(&T);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The dry run's moves as "instance>to_node" words, in order; and the nodes it empties. */
static void plan_of(const char *query, char *moves, size_t n, char *emptied, size_t m)
{
    st_resp r;
    char path[128];
    snprintf(path, sizeof path, "/v1/scheduler/consolidation%s", query);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, T.admin_token, NULL), 200);
    json_t *it;
    size_t i, o = 0;
    moves[0] = emptied[0] = 0;
    json_array_foreach(json_object_get(r.json, "moves"), i, it) o +=
        (size_t)snprintf(moves + o, n - o, "%s%s>%s", o ? " " : "",
                         json_string_value(json_object_get(it, "instance_name")),
                         json_string_value(json_object_get(it, "to_node")));
    o = 0;
    json_array_foreach(json_object_get(r.json, "nodes_emptied"), i, it) o +=
        (size_t)snprintf(emptied + o, m - o, "%s%s", o ? " " : "", json_string_value(it));
    st_resp_free(&r);
}

static void set_instance(const char *id, const char *set)
{
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE iaas.instances SET %s WHERE id = '%s'", set, id);
    gwt_sql(&T, sql);
}

/* The dry runs, one after another: each case's change to cd's instance stays
 * for the next; cd_no_live lasts its own case only. */
static const struct plan_case {
    const char *why;
    const char *cd_set;  /* SET on cd's instance first; NULL: none */
    int cd_no_live;      /* cd's agent says it cannot send a live migration */
    const char *query;   /* on GET /v1/scheduler/consolidation */
    const char *moves;   /* as plan_of() writes them, orders that will do split by '|'; NULL: any */
    const char *emptied; /* NULL: any */
} plan_cases[] = {
    {"ca's two go to cb, not to cl (the fullest that fits, which pack would pick, but its "
     "agent cannot receive); cd's one is stopped, cl's cannot leave",
     NULL, 0, "", "ca-0>cb ca-1>cb|ca-1>cb ca-0>cb", "ca"},
    {"the pins are what hold cd: running, it is the first emptied, its local disk copied "
     "along (block migration)",
     "state = 'active'", 0, "", "cd-0>cb", "cd"},
    {"and so on Ceph", "disk_backend = 'rbd'", 0, "", NULL, "cd"},
    {"booted through firmware it migrates as any other, so it moves the same", "boot = 'firmware'",
     0, "", "cd-0>cb", "cd"},
    {"on a source whose agent cannot send a live migration: held", "boot = 'kernel'", 1, "", NULL,
     "ca"},
    {"local and held again (stopped), for the rest; a target of 1 in two moves empties ca",
     "disk_backend = 'local', state = 'stopped'", 0, "?target=1&max_moves=2",
     "ca-0>cb ca-1>cb|ca-1>cb ca-0>cb", NULL},
    {"a host is moved whole or not at all: one move is not enough for ca", NULL, 0, "?max_moves=1",
     "", NULL},
};

/* Whether got is one of the '|'-separated alternatives in want. */
static int one_of(const char *got, const char *want)
{
    size_t n = strlen(got);
    for (const char *w = want;; w++) {
        const char *end = strchr(w, '|');
        size_t len = end ? (size_t)(end - w) : strlen(w);
        if (len == n && !strncmp(got, w, n))
            return 1;
        if (!end)
            return 0;
        w = end;
    }
}

static void test_plan_holds_the_pins_and_targets_only_live_migration_nodes(void)
{
    char moves[512], emptied[128], sql[160];
    for (size_t i = 0; i < sizeof plan_cases / sizeof *plan_cases; i++) {
        const struct plan_case *c = &plan_cases[i];
        if (c->cd_set)
            set_instance(inst[CD][0], c->cd_set);
        if (c->cd_no_live) {
            snprintf(sql, sizeof sql,
                     "UPDATE iaas.nodes SET live_migration = false WHERE id = '%s'", node_ids[CD]);
            gwt_sql(&T, sql);
        }
        plan_of(c->query, moves, sizeof moves, emptied, sizeof emptied);
        if (c->cd_no_live)
            ST_ASSERT_INT_EQ(beat(CD), 200);
        st_assert_fmt(!c->moves || one_of(moves, c->moves), 0, __FILE__, __LINE__,
                      "%s: moves \"%s\", want \"%s\"", c->why, moves, c->moves ? c->moves : "any");
        st_assert_fmt(!c->emptied || !strcmp(emptied, c->emptied), 0, __FILE__, __LINE__,
                      "%s: emptied \"%s\", want \"%s\"", c->why, emptied,
                      c->emptied ? c->emptied : "any");
    }
    ST_ASSERT_INT_EQ(
        gwt_status(&T, "GET", "/v1/scheduler/consolidation?target=0.2", T.admin_token, NULL), 400);
}

/* The migration of instance id: the target's listening report, then the source's completed
 * one, as the agents send them. */
static void complete(const char *mid, int src, int dest)
{
    char path[128];
    snprintf(path, sizeof path, "/internal/v1/node/migrations/%s", mid);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, nodes[dest],
                                "{\"state\":\"listening\",\"uri\":\"tcp:10.0.9.2:47001\"}"),
                     200);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, nodes[src], "{\"state\":\"completed\"}"), 200);
}

static char *node_power(int i)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT power_state FROM iaas.nodes WHERE id = '%s'", node_ids[i]);
    return gwt_sql_value(&T, sql);
}

/* POSTs the consolidation; the one migration it starts (its id in mid, the instance in
 * id), and how many it skipped. */
static int run(char mid[40], char id[40])
{
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/scheduler/consolidation", T.admin_token, "{}"),
                     202);
    CU_ASSERT(json_is_false(json_object_get(r.json, "dry_run")));
    json_t *st = json_object_get(r.json, "started"), *s0 = json_array_get(st, 0);
    ST_ASSERT_INT_EQ(json_array_size(st), 1); /* rebalance.max_concurrent */
    snprintf(mid, 40, "%s", s0 ? json_string_value(json_object_get(s0, "migration_id")) : "");
    snprintf(id, 40, "%s", s0 ? json_string_value(json_object_get(s0, "instance_id")) : "");
    if (s0)
        ST_ASSERT_STR_EQ(json_string_value(json_object_get(s0, "to_node")), "cb");
    /* ca is being emptied, and then powered off */
    json_t *dr = json_object_get(r.json, "draining"),
           *off = json_object_get(r.json, "nodes_to_power_off");
    ST_ASSERT_INT_EQ(json_array_size(dr), 1);
    ST_ASSERT_STR_EQ(json_string_value(json_array_get(dr, 0)), "ca");
    ST_ASSERT_INT_EQ(json_array_size(off), 1);
    ST_ASSERT_STR_EQ(json_string_value(json_array_get(off, 0)), "ca");
    int skipped = (int)json_array_size(json_object_get(r.json, "skipped"));
    if (skipped)
        CU_ASSERT_PTR_NOT_NULL(
            strstr(json_string_value(json_object_get(
                       json_array_get(json_object_get(r.json, "skipped"), 0), "reason")),
                   "rebalance.max_concurrent"));
    st_resp_free(&r);
    return skipped;
}

/* Whether GET /v1/nodes/{id} says node i is draining. */
static int draining(int i)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/nodes/%.40s", node_ids[i]);
    st_resp r;
    gwt_call(&T, &r, "GET", path, T.admin_token, NULL);
    int d = json_is_string(json_object_get(r.json, "draining_until"));
    st_resp_free(&r);
    return d;
}

static void test_post_empties_a_host_which_is_then_powered_off(void)
{
    char mid[40], id[40];
    /* one migration at a time: the first starts, the second waits */
    ST_ASSERT_INT_EQ(run(mid, id), 1);
    CU_ASSERT(!strcmp(id, inst[CA][0]) || !strcmp(id, inst[CA][1]));
    char *task = gwt_instance_field(&T, A.member, id, "task");
    ST_ASSERT_STR_EQ(task, "migrating");
    free(task);
    CU_ASSERT_TRUE(draining(CA));
    CU_ASSERT_FALSE(draining(CB));
    /* ca takes no new instance meanwhile, though spread would pick it (cd, emptier, is
     * disabled for the check) */
    set_disabled(CD, 1);
    char extra[40];
    ST_ASSERT_INT_EQ(gwt_create_instance(&T, A.member, "new", "m1.small", image, NULL, extra), 202);
    int at = where(extra);
    CU_ASSERT(at >= 0 && at != CA);
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%s", extra);
    gwt_status(&T, "DELETE", path, A.member, NULL);
    if (at >= 0)
        gwt_report(&T, nodes[at], extra, "deleted", gwt_instance_generation(&T, NULL, extra));
    set_disabled(CD, 0);
    /* the first completes; the next run starts the other */
    complete(mid, CA, CB);
    ST_ASSERT_INT_EQ(where(id), CB);
    char mid2[40], id2[40];
    ST_ASSERT_INT_EQ(run(mid2, id2), 0);
    CU_ASSERT(strcmp(id2, id) != 0);
    complete(mid2, CA, CB);
    ST_ASSERT_INT_EQ(where(id2), CB);
    /* no migration went to cl */
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM iaas.migrations WHERE dest_node_id = '%s'",
             node_ids[CL]);
    char *n = gwt_sql_value(&T, sql);
    ST_ASSERT_STR_EQ(n, "0");
    free(n);
    /* ca, empty and idle for power.idle_after, is powered off by the command */
    int off = 0;
    for (int t = 0; t < 100 && !off; t++) {
        char *p = node_power(CA);
        off = !strcmp(p, "off");
        free(p);
        if (!off)
            usleep(100000);
    }
    CU_ASSERT_TRUE_FATAL(off);
    char *c = calls();
    ST_ASSERT_STR_EQ(c, "off ca\n");
    free(c);
    CU_ASSERT_FALSE(draining(CA)); /* off: no longer draining */
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", "/v1/scheduler/consolidation", A.admin, "{}"), 403);
    ST_ASSERT_INT_EQ(
        gwt_status(&T, "POST", "/v1/scheduler/consolidation", T.admin_token, "{\"target\":2}"),
        400);
    ST_ASSERT_INT_EQ(
        gwt_status(&T, "POST", "/v1/scheduler/consolidation", T.admin_token, "{\"threshold\":0.5}"),
        400);
}

static void test_timer_runs_once_per_interval_across_two_gateways(void)
{
    /* cd's instance movable now; cb has room for it only filled to the brim */
    set_instance(inst[CD][0], "disk_backend = 'rbd', state = 'active'");
    /* the rebalancer's timer too, with a threshold no spread exceeds: it runs, moves nothing */
    static const char *const timed[] = {"consolidation.interval=2", "consolidation.target=1",
                                        "rebalance.interval=2",     "rebalance.threshold=1",
                                        "power.interval_ms=200",    "rebalance.max_concurrent=1",
                                        "nodes.down_after=600",     NULL};
    gwt T3, T4;
    gwt_start_peer(&T3, &T, timed);
    gwt_start_peer(&T4, &T, timed);
    /* the first run migrates cd's instance to cb */
    char *n = NULL;
    for (int t = 0; t < 50; t++) {
        free(n);
        n = gwt_sql_value(&T, "SELECT count(*) FROM iaas.migrations WHERE state = 'preparing'");
        if (!strcmp(n, "1"))
            break;
        usleep(100000);
    }
    ST_ASSERT_STR_EQ(n, "1");
    free(n);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT dest_node FROM iaas.migrations WHERE state = 'preparing'"
             " AND instance_id = '%s'",
             inst[CD][0]);
    n = gwt_sql_value(&T, sql);
    ST_ASSERT_STR_EQ(n, "cb");
    free(n);
    /* over the next 5 s (some 50 ticks of the two): a run of each every 2 s, no more */
    static const char *const q[] = {
        "SELECT runs FROM iaas.scheduler_runs WHERE kind = 'consolidation'",
        "SELECT runs FROM iaas.scheduler_runs WHERE kind = 'rebalance'"};
    long before[2];
    for (int k = 0; k < 2; k++) {
        n = gwt_sql_value(&T, q[k]);
        before[k] = n ? atol(n) : -1;
        free(n);
    }
    usleep(5000000);
    for (int k = 0; k < 2; k++) {
        n = gwt_sql_value(&T, q[k]);
        long runs = n && before[k] > 0 ? atol(n) - before[k] : -1;
        free(n);
        st_assert_fmt(runs >= 2 && runs <= 3, 0, __FILE__, __LINE__, "%s: %ld runs in 5 s", q[k],
                      runs);
    }
    /* the later runs found cd's instance migrating: nothing more started */
    n = gwt_sql_value(&T, "SELECT count(*) FROM iaas.migrations WHERE state = 'preparing'");
    ST_ASSERT_STR_EQ(n, "1");
    free(n);
    n = gwt_sql_value(&T,
                      "SELECT last_started FROM iaas.scheduler_runs WHERE kind = 'consolidation'");
    ST_ASSERT_STR_EQ(n, "0");
    free(n);
    gwt_stop(&T4);
    gwt_stop(&T3);
}

static CU_TestInfo tests[] = {
    {"the plan holds the rebalancer's pins and targets only nodes taking a live migration",
     test_plan_holds_the_pins_and_targets_only_live_migration_nodes},
    {"POST empties a host by live migration, max_concurrent at a time, then it powers off",
     test_post_empties_a_host_which_is_then_powered_off},
    {"consolidation.interval runs it once per interval across two gateways",
     test_timer_runs_once_per_interval_across_two_gateways},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"consolidate", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
