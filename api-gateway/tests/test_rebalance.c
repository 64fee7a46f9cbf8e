/* The rebalancing plan on its own (rebalance.c, no database): it evens an
 * imbalanced pool out to the threshold and no further, leaves a balanced
 * pool alone, never moves an instance back and forth over repeated plans,
 * keeps every placement filter and pin, and is bounded per plan. */
#include "rebalance.h"
#include "st_test.h"

#include <stdio.h>
#include <string.h>

/* n hosts of 8 CPUs and 32 GiB, on, alive, empty. */
static void hosts(gw_host *h, int n)
{
    for (int i = 0; i < n; i++) {
        h[i] = (gw_host){
            .alive = 1, .vcpus = 8, .memory_mib = 32768, .disk_gib = 1000, .live_migration = 1};
        snprintf(h[i].name, sizeof h[i].name, "h%d", i);
        snprintf(h[i].id, sizeof h[i].id, "id-h%d", i);
    }
}

/* An instance of 2 vCPUs and 2 GiB on host `at` keeping `cpu` CPUs busy. */
static gw_rb_vm vm(gw_host *h, int at, double cpu)
{
    h[at].used_vcpus += 2;
    h[at].used_memory_mib += 2048;
    h[at].used_disk_gib += 10;
    h[at].instances++;
    return (gw_rb_vm){.host = at,
                      .vcpus = 2,
                      .memory_mib = 2048,
                      .disk_gib = 10,
                      .cpu = cpu,
                      .group = -1,
                      .moved_at = -1,
                      .moved_from = -1};
}

/* 4 hosts: h0 with six instances each keeping a CPU busy (6 of 8 CPUs, 12 of 32
 * GiB), h1-h3 with one each. Returns the number of instances, 9. */
static int six_and_one_each(gw_host *h, gw_rb_vm *v)
{
    int nv = 0;
    hosts(h, 4);
    for (int i = 0; i < 6; i++)
        v[nv++] = vm(h, 0, 1.0);
    for (int i = 1; i < 4; i++)
        v[nv++] = vm(h, i, 1.0);
    return nv;
}

static const gw_sched_conf conf = {GW_SCHED_SPREAD, 2.0};

/* Makes the plan's moves (as the migrate action would) at time t. */
static void make_moves(gw_host *h, gw_rb_vm *v, const gw_rb_move *m, int n, long long t)
{
    for (int i = 0; i < n; i++) {
        gw_rb_vm *x = &v[m[i].vm];
        h[x->host].used_vcpus -= x->vcpus;
        h[x->host].used_memory_mib -= x->memory_mib;
        h[x->host].used_disk_gib -= x->disk_gib;
        h[x->host].instances--;
        x->moved_from = x->host;
        x->moved_at = t;
        x->host = m[i].to;
        h[x->host].used_vcpus += x->vcpus;
        h[x->host].used_memory_mib += x->memory_mib;
        h[x->host].used_disk_gib += x->disk_gib;
        h[x->host].instances++;
    }
}

static gw_rb_imbalance imbalance(const gw_host *h, int nh, const gw_rb_vm *v, int nv)
{
    gw_rb_load l[16];
    gw_rebalance_loads(h, nh, v, nv, l);
    return gw_rebalance_imbalance(h, l, nh);
}

static void test_imbalance_is_evened_out_to_the_threshold(void)
{
    gw_host h[4];
    gw_rb_vm v[9];
    gw_rb_move m[16];
    gw_rb_load before[4], after[4];
    int nv = six_and_one_each(h, v);
    gw_rb_imbalance b = imbalance(h, 4, v, nv);
    CU_ASSERT_DOUBLE_EQUAL(b.cpu_spread, 0.75 - 0.125, 1e-9);
    gw_rb_conf rc = {.threshold = 0.25, .max_moves = 16, .cooldown = 3600};
    int n = gw_rebalance_plan(&conf, &rc, h, 4, v, nv, 0, m, before, after);
    /* 6,1,1,1 -> 3,2,2,2: three moves, each off h0 to a different host, the spread
     * now under the threshold in CPU (0.125) and memory (0.0625) */
    ST_ASSERT_INT_EQ_FATAL(n, 3);
    int to[4] = {0};
    for (int i = 0; i < n; i++) {
        ST_ASSERT_INT_EQ(m[i].from, 0);
        ST_ASSERT_INT_EQ(v[m[i].vm].host, 0);
        to[m[i].to]++;
        CU_ASSERT_TRUE(m[i].from_after.cpu < m[i].from_before.cpu);
        CU_ASSERT_TRUE(m[i].to_after.cpu > m[i].to_before.cpu);
        CU_ASSERT_TRUE(m[i].to_after.cpu < m[i].from_before.cpu);
    }
    ST_ASSERT_INT_EQ(to[1] == 1 && to[2] == 1 && to[3] == 1, 1);
    CU_ASSERT_DOUBLE_EQUAL(before[0].cpu, 0.75, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(after[0].cpu, 3.0 / 8, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(after[1].mem, 4096.0 / 32768, 1e-9);
    gw_rb_imbalance a = gw_rebalance_imbalance(h, after, 4);
    CU_ASSERT_TRUE(a.cpu_spread <= rc.threshold && a.mem_spread <= rc.threshold);
    CU_ASSERT_TRUE(a.cpu_stddev < b.cpu_stddev);
    /* the hosts and instances given are not changed */
    ST_ASSERT_INT_EQ(h[0].instances, 6);
    ST_ASSERT_INT_EQ(v[0].host, 0);
    /* made, the plan leaves nothing to do */
    make_moves(h, v, m, n, 0);
    ST_ASSERT_INT_EQ(gw_rebalance_plan(&conf, &rc, h, 4, v, nv, 0, m, NULL, NULL), 0);
}

static void test_threshold_bound_and_balanced_pool(void)
{
    gw_host h[4];
    gw_rb_vm v[12];
    gw_rb_move m[16];
    int nv = six_and_one_each(h, v);
    /* a spread of 0.625 CPU, 0.3125 memory: under a threshold of 0.7 nothing moves, and
     * at 0.5 only CPU is over: one move takes it under (5,2,1,1: 0.5) */
    gw_rb_conf rc = {.threshold = 0.7, .max_moves = 16, .cooldown = 3600};
    ST_ASSERT_INT_EQ(gw_rebalance_plan(&conf, &rc, h, 4, v, nv, 0, m, NULL, NULL), 0);
    rc.threshold = 0.5;
    ST_ASSERT_INT_EQ(gw_rebalance_plan(&conf, &rc, h, 4, v, nv, 0, m, NULL, NULL), 1);
    /* bounded: at 0.25 the plan needs three moves (above); max_moves cuts it */
    rc.threshold = 0.25;
    rc.max_moves = 2;
    ST_ASSERT_INT_EQ(gw_rebalance_plan(&conf, &rc, h, 4, v, nv, 0, m, NULL, NULL), 2);
    rc.max_moves = 0;
    ST_ASSERT_INT_EQ(gw_rebalance_plan(&conf, &rc, h, 4, v, nv, 0, m, NULL, NULL), 0);
    rc.max_moves = 16;
    /* a balanced pool: three on each host, each as busy: nothing moves, even at a
     * threshold of nothing */
    hosts(h, 4);
    nv = 0;
    for (int i = 0; i < 12; i++)
        v[nv++] = vm(h, i % 4, 0.7);
    rc.threshold = 0.001;
    ST_ASSERT_INT_EQ(gw_rebalance_plan(&conf, &rc, h, 4, v, nv, 0, m, NULL, NULL), 0);
    /* measured load counts, not only reservations: the same reservations, one host's
     * instances busy, the others idle, is an imbalance */
    for (int i = 0; i < nv; i++)
        v[i].cpu = v[i].host == 2 ? 2.0 : 0.1;
    rc.threshold = 0.25;
    int n = gw_rebalance_plan(&conf, &rc, h, 4, v, nv, 0, m, NULL, NULL);
    CU_ASSERT_TRUE(n > 0);
    for (int i = 0; i < n; i++)
        ST_ASSERT_INT_EQ(m[i].from, 2);
}

static void test_no_back_and_forth(void)
{
    gw_host h[2];
    gw_rb_vm v[3];
    gw_rb_move m[4];
    hosts(h, 2);
    /* h0: a and g busy (2 CPUs each), h1: d nearly idle: a moves (the first of two equal
     * choices) */
    v[0] = vm(h, 0, 2.0);
    v[1] = vm(h, 0, 2.0);
    v[2] = vm(h, 1, 0.5);
    gw_rb_conf rc = {.threshold = 0.2, .max_moves = 1, .cooldown = 3600};
    ST_ASSERT_INT_EQ_FATAL(gw_rebalance_plan(&conf, &rc, h, 2, v, 3, 0, m, NULL, NULL), 1);
    ST_ASSERT_INT_EQ(m[0].vm, 0);
    make_moves(h, v, m, 1, 0);
    /* then the load turns: h1 busy with a and d, h0 with g idle. Moving a back would be
     * the first choice, but a moved within the cool-down: d goes instead */
    v[0].cpu = 2.0;
    v[1].cpu = 0.1;
    v[2].cpu = 2.0;
    ST_ASSERT_INT_EQ_FATAL(gw_rebalance_plan(&conf, &rc, h, 2, v, 3, 600, m, NULL, NULL), 1);
    ST_ASSERT_INT_EQ(m[0].vm, 2);
    /* the same without the cool-down would move a back: the rule is what holds it */
    gw_rb_conf none = rc;
    none.cooldown = 0;
    ST_ASSERT_INT_EQ_FATAL(gw_rebalance_plan(&conf, &none, h, 2, v, 3, 600, m, NULL, NULL), 1);
    ST_ASSERT_INT_EQ(m[0].vm, 0);
    /* a pinned d leaves nothing to move within the cool-down, and a after it */
    v[2].pinned = 1;
    ST_ASSERT_INT_EQ(gw_rebalance_plan(&conf, &rc, h, 2, v, 3, 600, m, NULL, NULL), 0);
    ST_ASSERT_INT_EQ_FATAL(gw_rebalance_plan(&conf, &rc, h, 2, v, 3, 3600, m, NULL, NULL), 1);
    ST_ASSERT_INT_EQ(m[0].vm, 0);

    /* repeated plans over a pool whose load keeps turning: no instance moves twice
     * within the cool-down, nor back onto the host it left within it */
    gw_host p[6];
    gw_rb_vm w[24];
    long long last[24];
    int left[24], total = 0;
    hosts(p, 6);
    for (int i = 0; i < 24; i++) {
        w[i] = vm(p, i % 6, 0.1);
        last[i] = -1;
        left[i] = -1;
    }
    gw_rb_conf rc2 = {.threshold = 0.1, .max_moves = 4, .cooldown = 1800};
    gw_rb_move mm[4];
    unsigned seed = 7;
    for (int round = 0; round < 40; round++) {
        long long t = round * 300LL;
        for (int i = 0; i < 24; i++) { /* a new busy set each round */
            seed = seed * 1103515245u + 12345u;
            w[i].cpu = (seed >> 16) % 4 == 0 ? 1.8 : 0.1;
        }
        int n = gw_rebalance_plan(&conf, &rc2, p, 6, w, 24, t, mm, NULL, NULL);
        for (int k = 0; k < n; k++) {
            int i = mm[k].vm;
            CU_ASSERT_TRUE(last[i] < 0 || t - last[i] >= rc2.cooldown);
            CU_ASSERT_TRUE(!(mm[k].to == left[i] && t - last[i] < rc2.cooldown));
            last[i] = t;
            left[i] = mm[k].from;
        }
        total += n;
        make_moves(p, w, mm, n, t);
    }
    CU_ASSERT_TRUE(total > 10); /* it did move */
}

static void test_filters_and_pins_hold(void)
{
    gw_host h[4];
    gw_rb_vm v[8];
    gw_rb_move m[16];
    gw_rb_conf rc = {.threshold = 0.2, .max_moves = 16, .cooldown = 3600};
    /* h0 overloaded with pinned instances only: nothing moves */
    hosts(h, 2);
    v[0] = vm(h, 0, 2.0);
    v[1] = vm(h, 0, 2.0);
    v[0].pinned = v[1].pinned = 1;
    ST_ASSERT_INT_EQ(gw_rebalance_plan(&conf, &rc, h, 2, v, 2, 0, m, NULL, NULL), 0);
    /* anti-affinity: a and b share a group, b is on h1: a may not join it */
    v[0].pinned = v[1].pinned = 0;
    v[2] = vm(h, 1, 0.0);
    v[0].group = v[2].group = 5;
    v[0].anti_affinity = v[2].anti_affinity = 1;
    v[0].cpu = 3.0;
    v[1].cpu = 0.5;
    int n = gw_rebalance_plan(&conf, &rc, h, 2, v, 3, 0, m, NULL, NULL);
    ST_ASSERT_INT_EQ_FATAL(n, 1);
    ST_ASSERT_INT_EQ(m[0].vm, 1);
    /* affinity: a member with other members stays (moving it would split the group);
     * alone in its group it moves */
    v[0].anti_affinity = v[2].anti_affinity = 0;
    v[1].pinned = 1;
    ST_ASSERT_INT_EQ(gw_rebalance_plan(&conf, &rc, h, 2, v, 3, 0, m, NULL, NULL), 0);
    v[2].group = -1;
    n = gw_rebalance_plan(&conf, &rc, h, 2, v, 3, 0, m, NULL, NULL);
    ST_ASSERT_INT_EQ_FATAL(n, 1);
    ST_ASSERT_INT_EQ(m[0].vm, 0);
    /* firmware: a firmware-booted instance goes only where there is firmware */
    v[0].group = -1;
    v[0].firmware = 1;
    ST_ASSERT_INT_EQ(gw_rebalance_plan(&conf, &rc, h, 2, v, 3, 0, m, NULL, NULL), 0);
    h[1].firmware = 1;
    ST_ASSERT_INT_EQ(gw_rebalance_plan(&conf, &rc, h, 2, v, 3, 0, m, NULL, NULL), 1);
    /* live migration: a host whose agent cannot receive one (libvirt) takes nothing */
    h[1].live_migration = 0;
    ST_ASSERT_INT_EQ(gw_rebalance_plan(&conf, &rc, h, 2, v, 3, 0, m, NULL, NULL), 0);
    h[1].live_migration = 1;
    /* block migration: an instance whose local disk is copied along goes only to a host whose
     * agent copies one (an older agent's host takes nothing) */
    v[0].block_migration = 1;
    ST_ASSERT_INT_EQ(gw_rebalance_plan(&conf, &rc, h, 2, v, 3, 0, m, NULL, NULL), 0);
    h[1].block_migration = 1;
    ST_ASSERT_INT_EQ(gw_rebalance_plan(&conf, &rc, h, 2, v, 3, 0, m, NULL, NULL), 1);
    v[0].block_migration = 0;
    /* capacity: h1 out of memory takes nothing (its own instance held) */
    v[2].pinned = 1;
    h[1].used_memory_mib = h[1].memory_mib - 1024;
    ST_ASSERT_INT_EQ(gw_rebalance_plan(&conf, &rc, h, 2, v, 3, 0, m, NULL, NULL), 0);

    /* hosts out of service neither give nor take nor count: h1 powered off and idle,
     * h2 down and busy, h3 disabled and idle; h0 busy alone in service: no spread */
    hosts(h, 4);
    v[0] = vm(h, 0, 3.0);
    v[1] = vm(h, 0, 3.0);
    v[2] = vm(h, 2, 4.0);
    v[3] = vm(h, 2, 4.0);
    h[1].power = GW_POWER_OFF;
    h[2].alive = 0;
    h[3].disabled = 1;
    ST_ASSERT_INT_EQ(imbalance(h, 4, v, 4).hosts, 1);
    ST_ASSERT_INT_EQ(gw_rebalance_plan(&conf, &rc, h, 4, v, 4, 0, m, NULL, NULL), 0);
    /* h1 on again: it takes from h0, never from h2 */
    h[1].power = GW_POWER_ON;
    n = gw_rebalance_plan(&conf, &rc, h, 4, v, 4, 0, m, NULL, NULL);
    ST_ASSERT_INT_EQ_FATAL(n, 1);
    ST_ASSERT_INT_EQ(m[0].from, 0);
    ST_ASSERT_INT_EQ(m[0].to, 1);
}

static CU_TestInfo tests[] = {
    {"an imbalance is evened out to the threshold", test_imbalance_is_evened_out_to_the_threshold},
    {"under the threshold or balanced, nothing moves; moves are bounded per plan",
     test_threshold_bound_and_balanced_pool},
    {"no instance moves back and forth over repeated plans", test_no_back_and_forth},
    {"filters and pins hold, hosts out of service neither give nor take",
     test_filters_and_pins_hold},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"rebalance", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
