/* The placement decision on its own (sched_core.c, no database): every
 * filter, the weigher, both policies, tie-breaking, and the reason given
 * when no host fits; and the consolidation plan (consolidate.c). */
#include "consolidate.h"
#include "sched_core.h"
#include "st_test.h"

#include <stdio.h>
#include <string.h>

static gw_host host(const char *name, long long v, long long m, long long d, long long uv,
                    long long um, long long ud, int n)
{
    gw_host h = {.alive = 1,
                 .vcpus = v,
                 .memory_mib = m,
                 .disk_gib = d,
                 .used_vcpus = uv,
                 .used_memory_mib = um,
                 .used_disk_gib = ud,
                 .instances = n};
    snprintf(h.name, sizeof h.name, "%s", name);
    snprintf(h.id, sizeof h.id, "id-%s", name);
    return h;
}

static const gw_sched_conf spread = {GW_SCHED_SPREAD, 4.0}, pack = {GW_SCHED_PACK, 4.0};
static const gw_sched_req small = {.vcpus = 1, .memory_mib = 1024, .disk_gib = 10};

static void test_filters_each_remove_what_they_name(void)
{
    gw_host h = host("a", 4, 8192, 100, 0, 0, 0, 0);
    CU_ASSERT_TRUE(gw_filter_enabled(&spread, &h, &small));
    h.disabled = 1;
    CU_ASSERT_FALSE(gw_filter_enabled(&spread, &h, &small));
    /* only a host that is on takes instances; off and powering either way do not */
    h = host("a", 4, 8192, 100, 0, 0, 0, 0);
    CU_ASSERT_TRUE(gw_filter_powered(&spread, &h, &small));
    for (int p = GW_POWER_POWERING_OFF; p <= GW_POWER_POWERING_ON; p++) {
        h.power = p;
        CU_ASSERT_FALSE(gw_filter_powered(&spread, &h, &small));
        char why[256];
        ST_ASSERT_INT_EQ(gw_sched_pick(&spread, &h, 1, &small, why, sizeof why), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(why, "1 powered off"));
    }
    h = host("a", 4, 8192, 100, 0, 0, 0, 0);
    h.alive = 0;
    CU_ASSERT_FALSE(gw_filter_alive(&spread, &h, &small));
    h.tried = 1;
    CU_ASSERT_FALSE(gw_filter_not_tried(&spread, &h, &small));
    /* vCPUs overcommit 4x: 16 on a 4-CPU host, but one guest never more CPUs than the host */
    h = host("a", 4, 65536, 1000, 15, 0, 0, 15);
    CU_ASSERT_TRUE(gw_filter_vcpus(&spread, &h, &small));
    h.used_vcpus = 16;
    CU_ASSERT_FALSE(gw_filter_vcpus(&spread, &h, &small));
    gw_sched_req wide = {.vcpus = 8, .memory_mib = 1, .disk_gib = 0};
    h = host("a", 4, 65536, 1000, 0, 0, 0, 0);
    CU_ASSERT_TRUE(gw_filter_vcpus(&spread, &h, &wide));
    CU_ASSERT_FALSE(gw_filter_fits_host(&spread, &h, &wide));
    /* memory is never overcommitted */
    h = host("a", 4, 8192, 100, 0, 7168, 0, 1);
    CU_ASSERT_TRUE(gw_filter_memory(&spread, &h, &small));
    h.used_memory_mib = 7169;
    CU_ASSERT_FALSE(gw_filter_memory(&spread, &h, &small));
    h = host("a", 4, 8192, 100, 0, 0, 90, 1);
    CU_ASSERT_TRUE(gw_filter_disk(&spread, &h, &small));
    h.used_disk_gib = 91;
    CU_ASSERT_FALSE(gw_filter_disk(&spread, &h, &small));
}

static void test_group_filters(void)
{
    gw_host member = host("m", 4, 8192, 100, 0, 0, 0, 1),
            other = host("o", 4, 8192, 100, 0, 0, 0, 0);
    member.group_member = 1;
    gw_sched_req aff = small, anti = small;
    aff.group = GW_GROUP_AFFINITY;
    anti.group = GW_GROUP_ANTI_AFFINITY;
    /* affinity binds once a member is placed */
    CU_ASSERT_TRUE(gw_filter_group(&spread, &other, &aff));
    aff.group_has_members = 1;
    CU_ASSERT_TRUE(gw_filter_group(&spread, &member, &aff));
    CU_ASSERT_FALSE(gw_filter_group(&spread, &other, &aff));
    CU_ASSERT_FALSE(gw_filter_group(&spread, &member, &anti));
    CU_ASSERT_TRUE(gw_filter_group(&spread, &other, &anti));
}

static void test_spread_and_pack_choose_opposite_hosts(void)
{
    gw_host hosts[3] = {host("busy", 8, 16384, 500, 6, 12288, 100, 6),
                        host("half", 8, 16384, 500, 4, 8192, 100, 4),
                        host("idle", 8, 16384, 500, 0, 0, 0, 0)};
    char why[256];
    ST_ASSERT_STR_EQ(hosts[gw_sched_pick(&spread, hosts, 3, &small, why, sizeof why)].name, "idle");
    ST_ASSERT_STR_EQ(hosts[gw_sched_pick(&pack, hosts, 3, &small, why, sizeof why)].name, "busy");
    /* pack skips a host the instance no longer fits on */
    hosts[0].used_memory_mib = 16000;
    ST_ASSERT_STR_EQ(hosts[gw_sched_pick(&pack, hosts, 3, &small, why, sizeof why)].name, "half");
    /* the weigher is the free fraction after placement, in [0, 1] */
    double w_idle = gw_weigh(&spread, &hosts[2], &small),
           w_half = gw_weigh(&spread, &hosts[1], &small);
    CU_ASSERT(w_idle > w_half && w_idle <= 1.0 && w_half >= 0.0);
}

static void test_spread_fills_evenly_and_pack_fills_one_host(void)
{
    enum { N = 4 };
    for (int pol = 0; pol < 2; pol++) {
        gw_host hosts[N];
        for (int i = 0; i < N; i++) {
            char name[8];
            snprintf(name, sizeof name, "h%d", i);
            hosts[i] = host(name, 8, 8192, 1000, 0, 0, 0, 0);
        }
        const gw_sched_conf *c = pol ? &pack : &spread;
        for (int k = 0; k < 8; k++) {
            int i = gw_sched_pick(c, hosts, N, &small, NULL, 0);
            CU_ASSERT_FATAL(i >= 0);
            hosts[i].used_vcpus += small.vcpus;
            hosts[i].used_memory_mib += small.memory_mib;
            hosts[i].used_disk_gib += small.disk_gib;
            hosts[i].instances++;
        }
        int empty = 0, maxn = 0;
        for (int i = 0; i < N; i++) {
            empty += hosts[i].instances == 0;
            if (hosts[i].instances > maxn)
                maxn = hosts[i].instances;
        }
        if (pol) { /* pack: 8 GiB hosts take 8 x 1 GiB, so one host holds all */
            ST_ASSERT_INT_EQ(maxn, 8);
            ST_ASSERT_INT_EQ(empty, 3);
        } else { /* spread: two each */
            ST_ASSERT_INT_EQ(maxn, 2);
            ST_ASSERT_INT_EQ(empty, 0);
        }
    }
}

static void test_ties_are_broken_deterministically(void)
{
    gw_host hosts[2] = {host("b", 8, 8192, 100, 0, 0, 0, 0), host("a", 8, 8192, 100, 0, 0, 0, 0)};
    ST_ASSERT_STR_EQ(hosts[gw_sched_pick(&spread, hosts, 2, &small, NULL, 0)].name, "a");
    ST_ASSERT_STR_EQ(hosts[gw_sched_pick(&pack, hosts, 2, &small, NULL, 0)].name, "a");
}

static void test_vf_filter(void)
{
    /* one free VF per direct port: 4 enabled, 3 held by placed instances */
    gw_host h = host("a", 4, 8192, 100, 0, 0, 0, 0);
    h.sriov_vfs = 4;
    h.used_vfs = 3;
    gw_sched_req one = small, two = small;
    one.direct_ports = 1;
    two.direct_ports = 2;
    CU_ASSERT_TRUE(gw_filter_vfs(&spread, &h, &small)); /* no direct port: any host */
    CU_ASSERT_TRUE(gw_filter_vfs(&spread, &h, &one));
    CU_ASSERT_FALSE(gw_filter_vfs(&spread, &h, &two));
    gw_host plain = host("b", 4, 8192, 100, 0, 0, 0, 0); /* no SR-IOV NIC */
    CU_ASSERT_TRUE(gw_filter_vfs(&spread, &plain, &small));
    CU_ASSERT_FALSE(gw_filter_vfs(&spread, &plain, &one));
    /* the emptier host without VFs loses to the one with a free VF */
    gw_host hosts[2] = {plain, h};
    char why[256];
    ST_ASSERT_INT_EQ(gw_sched_pick(&spread, hosts, 2, &one, why, sizeof why), 1);
    ST_ASSERT_INT_EQ(gw_sched_pick(&spread, hosts, 2, &two, why, sizeof why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "2 out of SR-IOV VFs"));
}

static void test_firmware_filter(void)
{
    /* a disk image booting through firmware needs a host whose agent found
     * its BIOS; a kernel boot goes anywhere */
    gw_host bare = host("a", 8, 8192, 100, 0, 0, 0, 0),
            bios = host("b", 8, 8192, 100, 4, 4096, 50, 0);
    bios.firmware = 1;
    gw_sched_req fw = small;
    fw.firmware = 1;
    CU_ASSERT_TRUE(gw_filter_firmware(&spread, &bare, &small));
    CU_ASSERT_FALSE(gw_filter_firmware(&spread, &bare, &fw));
    CU_ASSERT_TRUE(gw_filter_firmware(&spread, &bios, &fw));
    /* spread prefers the emptier host, unless it cannot boot the image */
    gw_host hosts[2] = {bare, bios};
    char why[256];
    ST_ASSERT_INT_EQ(gw_sched_pick(&spread, hosts, 2, &small, why, sizeof why), 0);
    ST_ASSERT_INT_EQ(gw_sched_pick(&spread, hosts, 2, &fw, why, sizeof why), 1);
    hosts[1].firmware = 0;
    ST_ASSERT_INT_EQ(gw_sched_pick(&spread, hosts, 2, &fw, why, sizeof why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "2 without firmware"));
}

static void test_no_host_says_why(void)
{
    gw_host hosts[4] = {
        host("off", 8, 8192, 100, 0, 0, 0, 0), host("dead", 8, 8192, 100, 0, 0, 0, 0),
        host("full", 8, 8192, 100, 0, 8192, 0, 1), host("tiny", 1, 512, 100, 0, 0, 0, 0)};
    hosts[0].disabled = 1;
    hosts[1].alive = 0;
    char why[256];
    ST_ASSERT_INT_EQ(gw_sched_pick(&spread, hosts, 4, &small, why, sizeof why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "no valid host"));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "1 disabled"));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "1 down"));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "1 too small for the flavor")); /* tiny: 512 MiB host */
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "1 out of memory"));            /* full */
    ST_ASSERT_INT_EQ(gw_sched_pick(&spread, hosts, 0, &small, why, sizeof why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "no compute nodes"));
}

static void test_policy_names(void)
{
    gw_sched_policy p;
    ST_ASSERT_INT_EQ(gw_sched_policy_parse("pack", &p), 0);
    ST_ASSERT_STR_EQ(gw_sched_policy_name(p), "pack");
    ST_ASSERT_INT_EQ(gw_sched_policy_parse("spread", &p), 0);
    ST_ASSERT_STR_EQ(gw_sched_policy_name(p), "spread");
    ST_ASSERT_INT_EQ(gw_sched_policy_parse("random", &p), -1);
}

/* Hosts of 8 vCPUs (x1: no overcommit) and 8 GiB; vms[i] on host at[i], 1 vCPU and 1 GiB each.
 * Each host's use is the sum of its instances. */
static int cons_setup(gw_host *h, int nh, gw_cons_vm *v, const int *at, int nv)
{
    for (int i = 0; i < nh; i++) {
        char name[8];
        snprintf(name, sizeof name, "h%d", i);
        h[i] = host(name, 8, 8192, 100, 0, 0, 0, 0);
    }
    for (int i = 0; i < nv; i++) {
        v[i] = (gw_cons_vm){
            .host = at[i], .vcpus = 1, .memory_mib = 1024, .disk_gib = 1, .moved_at = -1};
        h[at[i]].used_vcpus++;
        h[at[i]].used_memory_mib += 1024;
        h[at[i]].used_disk_gib++;
        h[at[i]].instances++;
    }
    return nv;
}

static const gw_sched_conf one = {GW_SCHED_SPREAD, 1.0};

static void test_consolidation_empties_the_least_loaded_hosts_whole(void)
{
    gw_host h[4];
    gw_cons_vm v[12];
    gw_cons_move m[16];
    int emptied[4];
    gw_cons_conf cc = {.target = 1.0, .max_moves = 16, .cooldown = 3600};
    /* h0: 1, h1: 2, h2: 5, h3: off (none). */
    const int at[] = {0, 1, 1, 2, 2, 2, 2, 2};
    int nv = cons_setup(h, 4, v, at, 8);
    int n = gw_consolidate_plan(&one, &cc, h, 4, v, nv, 0, m, emptied);
    /* h0 and h1 empty into h2 (pack: the fullest that fits), which ends with 8 of 8; the
     * powered-off h3 receives nothing, and h2, having received, is not emptied */
    ST_ASSERT_INT_EQ_FATAL(n, 3);
    for (int i = 0; i < n; i++) {
        ST_ASSERT_INT_EQ(m[i].to, 2);
        ST_ASSERT_INT_EQ(m[i].from == 0 || m[i].from == 1, 1);
        ST_ASSERT_INT_EQ(v[m[i].vm].host, m[i].from);
    }
    ST_ASSERT_INT_EQ(emptied[0] + emptied[1] + emptied[2] + emptied[3], 2);
    ST_ASSERT_INT_EQ(emptied[0] && emptied[1], 1);
    /* the hosts and instances given are not changed */
    ST_ASSERT_INT_EQ(h[2].instances, 5);
    ST_ASSERT_INT_EQ(v[0].host, 0);

    /* a destination is filled only up to the target: at 0.75 (6 of 8) h2 takes one more,
     * so only h0 (1 instance) empties; h1 (2) would need 7 of 8 */
    cc.target = 0.75;
    n = gw_consolidate_plan(&one, &cc, h, 4, v, nv, 0, m, emptied);
    ST_ASSERT_INT_EQ_FATAL(n, 1);
    ST_ASSERT_INT_EQ(m[0].from, 0);
    ST_ASSERT_INT_EQ(emptied[0] && !emptied[1], 1);
}

static void test_consolidation_never_half_empties_or_moves_the_held(void)
{
    gw_host h[3];
    gw_cons_vm v[12];
    gw_cons_move m[16];
    int emptied[3];
    gw_cons_conf cc = {.target = 1.0, .max_moves = 16, .cooldown = 3600};
    /* h0: 3, h1: 3, h2: 6: h0's three fit nowhere whole (h2 has 2 free, h1 takes 5): the
     * plan moves h0 into h1 and h2 together, but never leaves a host half emptied */
    const int at[] = {0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2};
    int nv = cons_setup(h, 3, v, at, 12);
    int n = gw_consolidate_plan(&one, &cc, h, 3, v, nv, 0, m, emptied);
    ST_ASSERT_INT_EQ_FATAL(n, 3);
    ST_ASSERT_INT_EQ(emptied[0] && !emptied[1] && !emptied[2], 1);
    /* h1 received: it is not emptied in the same plan (no instance moves twice) */
    for (int i = 0; i < n; i++)
        ST_ASSERT_INT_EQ(m[i].from, 0);
    /* one pinned instance (a server group's member) holds its host: h1 goes instead */
    v[1].pinned = 1;
    n = gw_consolidate_plan(&one, &cc, h, 3, v, nv, 0, m, emptied);
    ST_ASSERT_INT_EQ(emptied[0], 0);
    ST_ASSERT_INT_EQ(emptied[1], 1);
    for (int i = 0; i < n; i++)
        ST_ASSERT_INT_EQ(m[i].from, 1);
    /* so does one moved within the cool-down (no ping-pong); after it, it may move */
    v[1].pinned = 0;
    v[2].moved_at = 1000;
    v[4].moved_at = 1000;
    v[6].moved_at = 1000;
    ST_ASSERT_INT_EQ(gw_consolidate_plan(&one, &cc, h, 3, v, nv, 2000, m, emptied), 0);
    ST_ASSERT_INT_EQ(gw_consolidate_plan(&one, &cc, h, 3, v, nv, 1000 + 3600, m, emptied), 3);
    /* a host with more instances than the plan may still move is not begun */
    cc.max_moves = 2;
    ST_ASSERT_INT_EQ(gw_consolidate_plan(&one, &cc, h, 3, v, nv, 1000 + 3600, m, emptied), 0);
    /* every filter applies: an instance too big for any other host keeps its host */
    cc.max_moves = 16;
    v[0].memory_mib = 6 * 1024;
    h[0].used_memory_mib += 5 * 1024;
    v[3].memory_mib = 6 * 1024;
    h[1].used_memory_mib += 5 * 1024;
    ST_ASSERT_INT_EQ(gw_consolidate_plan(&one, &cc, h, 3, v, nv, 1000 + 3600, m, emptied), 0);
}

static void test_consolidation_minds_live_migration_and_draining(void)
{
    gw_host h[4];
    gw_cons_vm v[16];
    gw_cons_move m[16];
    int emptied[4];
    gw_cons_conf cc = {.target = 1.0, .max_moves = 16, .cooldown = 3600, .live_migration = 1};
    /* h0: 1, h1: 2, h2: 4, h3: 6. Pack would put h0's one on h3 (the fullest that fits);
     * h3's agent takes no live migration, so h0's and then h1's go to h2 */
    const int at[] = {0, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3};
    int nv = cons_setup(h, 4, v, at, 13);
    for (int i = 0; i < 3; i++)
        h[i].live_migration = 1;
    int n = gw_consolidate_plan(&one, &cc, h, 4, v, nv, 0, m, emptied);
    ST_ASSERT_INT_EQ_FATAL(n, 3);
    ST_ASSERT_INT_EQ(m[0].from, 0);
    for (int i = 0; i < n; i++)
        ST_ASSERT_INT_EQ(m[i].to, 2);
    /* without the rule (bench/sched's simulated hosts) h0's would have gone to h3 */
    cc.live_migration = 0;
    ST_ASSERT_INT_EQ_FATAL(gw_consolidate_plan(&one, &cc, h, 4, v, nv, 0, m, emptied), 3);
    ST_ASSERT_INT_EQ(m[0].to, 3);
    cc.live_migration = 1;
    /* h0's instance has a local disk (its move copies it) or boots through firmware: h2's
     * agent copies no disk, and has no firmware, so h0 is held whole (h1's go to h2, then h3's
     * to h0); once h2 says it, h0 empties into h2 again */
    for (int k = 0; k < 2; k++) {
        int *need = k ? &v[0].firmware : &v[0].block_migration;
        int *has = k ? &h[2].firmware : &h[2].block_migration;
        *need = 1;
        n = gw_consolidate_plan(&one, &cc, h, 4, v, nv, 0, m, emptied);
        ST_ASSERT_INT_EQ_FATAL(n, 8);
        ST_ASSERT_INT_EQ(m[0].from, 1);
        ST_ASSERT_INT_EQ(m[0].to, 2);
        for (int i = 0; i < n; i++)
            CU_ASSERT_NOT_EQUAL(m[i].from, 0);
        ST_ASSERT_INT_EQ(emptied[0], 0);
        *has = 1;
        n = gw_consolidate_plan(&one, &cc, h, 4, v, nv, 0, m, emptied);
        ST_ASSERT_INT_EQ_FATAL(n, 3);
        ST_ASSERT_INT_EQ(m[0].from, 0);
        ST_ASSERT_INT_EQ(m[0].to, 2);
        *need = *has = 0;
    }
    /* a host an earlier run began emptying (draining) is emptied first, though h0 holds
     * fewer, and takes nothing */
    h[1].draining = 1;
    n = gw_consolidate_plan(&one, &cc, h, 4, v, nv, 0, m, emptied);
    ST_ASSERT_INT_EQ_FATAL(n, 3);
    ST_ASSERT_INT_EQ(m[0].from, 1);
    ST_ASSERT_INT_EQ(m[1].from, 1);
    ST_ASSERT_INT_EQ(m[2].from, 0);
    for (int i = 0; i < n; i++)
        ST_ASSERT_INT_EQ(m[i].to, 2);
    ST_ASSERT_INT_EQ(emptied[0] && emptied[1], 1);
    /* and no placement goes to a draining host */
    gw_sched_req r = {.vcpus = 1, .memory_mib = 1024, .disk_gib = 1};
    CU_ASSERT_FALSE(gw_filter_not_draining(&one, &h[1], &r));
    CU_ASSERT_TRUE(gw_filter_not_draining(&one, &h[0], &r));
}

static void test_migration_filter(void)
{
    /* a live migration's target: never its source, only a host whose agent
     * receives one; a placement minds neither */
    gw_host src = host("a", 8, 8192, 100, 0, 0, 0, 0), lv = host("b", 8, 8192, 100, 0, 0, 0, 0),
            vmm = host("c", 8, 8192, 100, 6, 6144, 80, 0);
    src.live_migration = vmm.live_migration = 1;
    gw_sched_req mig = small;
    mig.not_node = src.id;
    mig.live_migration = 1;
    CU_ASSERT_TRUE(gw_filter_migration(&spread, &lv, &small));
    CU_ASSERT_FALSE(gw_filter_migration(&spread, &src, &mig));
    CU_ASSERT_FALSE(gw_filter_migration(&spread, &lv, &mig));
    CU_ASSERT_TRUE(gw_filter_migration(&spread, &vmm, &mig));
    /* one that copies the disk along needs a host that takes that too */
    gw_sched_req copy = mig;
    copy.block_migration = 1;
    CU_ASSERT_FALSE(gw_filter_migration(&spread, &vmm, &copy));
    vmm.block_migration = 1;
    CU_ASSERT_TRUE(gw_filter_migration(&spread, &vmm, &copy));
    /* spread would take the emptiest, the source or the libvirt host: the
     * busy one that can receive it is the only target */
    gw_host hosts[3] = {src, lv, vmm};
    char why[256];
    ST_ASSERT_INT_EQ(gw_sched_pick(&spread, hosts, 3, &mig, why, sizeof why), 2);
    hosts[2].live_migration = 0;
    ST_ASSERT_INT_EQ(gw_sched_pick(&spread, hosts, 3, &mig, why, sizeof why), -1);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(why, "3 the source or unable to receive a live migration (or its disk)"));
}

static CU_TestInfo tests[] = {
    {"a live migration's target: not the source, able to receive it (and a disk copied along)",
     test_migration_filter},
    {"consolidation empties the least loaded hosts whole, up to the target",
     test_consolidation_empties_the_least_loaded_hosts_whole},
    {"consolidation never half empties a host and never moves pinned or recently moved ones",
     test_consolidation_never_half_empties_or_moves_the_held},
    {"consolidation targets only hosts taking the move (live migration, a disk copied along,"
     " firmware) and empties draining ones first",
     test_consolidation_minds_live_migration_and_draining},
    {"each filter removes what it names", test_filters_each_remove_what_they_name},
    {"affinity and anti-affinity filters", test_group_filters},
    {"direct ports go only where a VF is free", test_vf_filter},
    {"firmware-booted images go only where the node has firmware", test_firmware_filter},
    {"spread and pack choose opposite hosts", test_spread_and_pack_choose_opposite_hosts},
    {"spread fills hosts evenly, pack fills one and leaves others empty",
     test_spread_fills_evenly_and_pack_fills_one_host},
    {"ties are broken deterministically", test_ties_are_broken_deterministically},
    {"no valid host says which filters removed how many", test_no_host_says_why},
    {"policy names parse and print", test_policy_names},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"scheduler", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
