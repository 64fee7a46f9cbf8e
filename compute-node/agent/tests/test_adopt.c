/*
 * node_adopt: restarting the agent never kills, loses or doubles a VM.
 *  - after a clean restart and after a kill -9 of an idle agent, the same
 *    VMM processes run, and the new agent controls them (stop through the
 *    API works) and watches them (a VMM killed later is reported error);
 *  - kill -9 of the agent at many moments while it launches a batch of
 *    instances, then a restart: every instance ends active with exactly one
 *    VMM, and no VMM runs for an instance that does not exist.
 */
#include "st_cloud.h"
#include "st_test.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static cloud C;
static cloud_agent A;

#define LONG_CPU "scenario=cpu cpu.ms=600000"

static int setup(void)
{
    if (access("/dev/kvm", R_OK | W_OK) != 0)
        st_skip("no /dev/kvm");
    cloud_start(&C, "node_adopt");
    cloud_agent_start(&C, &A, "node-a", NULL);
    return 0;
}

static int teardown(void)
{
    cloud_agent_stop(&A, SIGTERM);
    cloud_stop(&C);
    return 0;
}

static int sorted_pids(int *p, int max)
{
    int n = cloud_vmm_pids(A.state_dir, p, max);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (p[j] < p[i]) {
                int t = p[i];
                p[i] = p[j];
                p[j] = t;
            }
    return n;
}

/* VMMs per instance: 1 for each, 0 for any other dir. Returns failures. */
static int one_vmm_each(char ids[][40], int n)
{
    int pids[256], bad = 0;
    int k = cloud_vmm_pids(A.state_dir, pids, 256);
    if (k != n) {
        fprintf(stderr, "%d VMMs for %d instances\n", k, n);
        bad++;
    }
    for (int i = 0; i < n; i++) {
        char dir[2048];
        snprintf(dir, sizeof dir, "%s/instances/%s/", A.state_dir, ids[i]);
        int per[8];
        int m = cloud_vmm_pids(dir, per, 8);
        if (m != 1) {
            fprintf(stderr, "instance %s has %d VMMs\n", ids[i], m);
            bad++;
        }
    }
    return bad;
}

static void restart_keeps(int sig)
{
    char a[40], b[40];
    ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, "keep-a", LONG_CPU, a), 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, "keep-b", LONG_CPU, b), 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, a, "state", "active", 30000), 0);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, b, "state", "active", 30000), 0);
    int before[8], after[8];
    ST_ASSERT_INT_EQ_FATAL(sorted_pids(before, 8), 2);
    cloud_agent_stop(&A, sig);
    ST_ASSERT_INT_EQ(sorted_pids(after, 8), 2); /* the VMs outlive the agent */
    cloud_agent_restart(&C, &A);
    usleep(2000000); /* a few reconcile rounds */
    ST_ASSERT_INT_EQ_FATAL(sorted_pids(after, 8), 2);
    ST_ASSERT_INT_EQ(after[0], before[0]);
    ST_ASSERT_INT_EQ(after[1], before[1]);
    char *s = cloud_field(&C, a, "state");
    ST_ASSERT_STR_EQ(s, "active");
    free(s);
    /* the new agent drives an adopted VMM ... */
    ST_ASSERT_INT_EQ(cloud_action(&C, a, "stop"), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, a, "state", "stopped", 30000), 0);
    /* ... and watches one that is not its child */
    int left[8];
    ST_ASSERT_INT_EQ_FATAL(sorted_pids(left, 8), 1);
    kill(left[0], SIGKILL);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, b, "state", "error", 15000), 0);
    ST_ASSERT_INT_EQ(cloud_delete(&C, a), 202);
    ST_ASSERT_INT_EQ(cloud_delete(&C, b), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, a, 30000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, b, 30000), 0);
}

static void test_restart_sigterm(void)
{
    restart_keeps(SIGTERM);
}

static void test_restart_sigkill(void)
{
    restart_keeps(SIGKILL);
}

static void test_kill_mid_launch(void)
{
    enum { N = 6, ROUNDS = 6 };
    char ids[ROUNDS * N][40];
    int total = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < N; i++) {
            char name[32];
            snprintf(name, sizeof name, "k%d-%d", round, i);
            ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, name, LONG_CPU, ids[total + i]), 202);
        }
        total += N;
        /* kill -9 somewhere in the launches: 0 to ~500 ms after the orders */
        usleep((useconds_t)(round * 90000));
        cloud_agent_stop(&A, SIGKILL);
        cloud_agent_restart(&C, &A);
        for (int i = 0; i < total; i++)
            ST_ASSERT_INT_EQ(cloud_wait_field(&C, ids[i], "state", "active", 60000), 0);
        usleep(600000); /* any double would have started by now */
        ST_ASSERT_INT_EQ(one_vmm_each(ids, total), 0);
    }
    /* and they all go away again */
    for (int i = 0; i < total; i++)
        ST_ASSERT_INT_EQ(cloud_delete(&C, ids[i]), 202);
    for (int i = 0; i < total; i++)
        ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, ids[i], 60000), 0);
    int pids[8];
    ST_ASSERT_INT_EQ(cloud_vmm_pids(A.state_dir, pids, 8), 0);
}

static void test_gateway_outage(void)
{
    char x[40], y[40];
    ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, "out-x", LONG_CPU, x), 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, "out-y", LONG_CPU, y), 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, x, "state", "active", 30000), 0);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, y, "state", "active", 30000), 0);
    char dx[2048], dy[2048];
    snprintf(dx, sizeof dx, "%s/instances/%s/", A.state_dir, x);
    snprintf(dy, sizeof dy, "%s/instances/%s/", A.state_dir, y);
    int px[4], py[4];
    ST_ASSERT_INT_EQ_FATAL(cloud_vmm_pids(dx, px, 4), 1);
    ST_ASSERT_INT_EQ_FATAL(cloud_vmm_pids(dy, py, 4), 1);

    cloud_gateway_stop(&C);
    kill(py[0], SIGKILL); /* a crash nobody can be told about yet */
    usleep(2500000);      /* several failed fetches and reports */
    int again[4];
    ST_ASSERT_INT_EQ(cloud_vmm_pids(dx, again, 4), 1); /* the agent left the VM alone */
    ST_ASSERT_INT_EQ(again[0], px[0]);
    ST_ASSERT_INT_EQ(st_proc_alive(&A.p), 1);

    cloud_gateway_start(&C);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, y, "state", "error", 30000), 0); /* caught up */
    char *st = cloud_field(&C, x, "state");
    ST_ASSERT_STR_EQ(st, "active");
    free(st);
    ST_ASSERT_INT_EQ(cloud_delete(&C, x), 202);
    ST_ASSERT_INT_EQ(cloud_delete(&C, y), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, x, 30000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, y, 30000), 0);
}

/* The moment a kill -9 is hardest to hit by chance: the VMM is spawned but
 * not yet configured. Staged by hand: the record says "applying" and a bare
 * `stratus-vmm --api-sock` waits at the instance's socket. The restarted
 * agent must configure and start that very process, not a second one. */
static void test_cut_between_spawn_and_start(void)
{
    cloud_agent_stop(&A, SIGKILL);
    char id[40];
    ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, "cut", LONG_CPU, id), 202);
    char dir[2048], path[2200], sock[2200];
    snprintf(dir, sizeof dir, "%s/instances/%s", A.state_dir, id);
    char cmd[2300];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    ST_ASSERT_INT_EQ_FATAL(system(cmd), 0);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT tenant_id || ' ' || image_id || ' ' || generation"
             " FROM iaas.instances WHERE id = '%s'",
             id);
    char *row = cloud_sql(&C, sql), tenant[40], image[40];
    long long gen = 0;
    ST_ASSERT_INT_EQ_FATAL(sscanf(row, "%39s %39s %lld", tenant, image, &gen), 3);
    free(row);
    snprintf(path, sizeof path, "%s/state.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f,
            "{\"id\":\"%s\",\"tenant_id\":\"%s\",\"image_id\":\"%s\",\"flavor\":\"\","
            "\"target\":\"running\",\"phase\":\"applying\",\"generation\":%lld,"
            "\"reboot_seq\":0,\"vcpus\":1,\"memory_mib\":32,\"disk_gib\":1,"
            "\"vm\":{\"pid\":0,\"start\":0,\"boot_id\":\"\",\"domain\":\"\"},"
            "\"actual\":\"none\",\"fault\":\"\",\"launched_once\":false}",
            id, tenant, image, gen);
    fclose(f);
    snprintf(sock, sizeof sock, "%s/vmm.sock", dir);
    st_proc vmm;
    char log[2300];
    snprintf(log, sizeof log, "%s/vmm.log", dir);
    const char *argv[] = {st_build_path("compute-node/vmm/stratus-vmm"), "--api-sock", sock, NULL};
    int started = st_proc_start(&vmm, (char *const *)argv, NULL, log) == 0;
    struct stat sst;
    long long end = st_now_ms() + 10000;
    while (started && st_now_ms() < end && (stat(sock, &sst) < 0 || !S_ISSOCK(sst.st_mode)))
        usleep(1000);
    cloud_agent_restart(&C, &A);
    ST_ASSERT_INT_EQ_FATAL(started && S_ISSOCK(sst.st_mode), 1);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    usleep(600000);
    char d2[2100];
    snprintf(d2, sizeof d2, "%s/", dir);
    int pids[4];
    ST_ASSERT_INT_EQ(cloud_vmm_pids(d2, pids, 4), 1);
    ST_ASSERT_INT_EQ(pids[0], vmm.pid); /* the very process, configured and started */
    ST_ASSERT_INT_EQ(cloud_wait_console(&C, id, "STRATUS-GUEST start scenario=cpu", 15000), 0);
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 30000), 0);
    st_proc_stop(&vmm, SIGKILL, 5000); /* reaps it (the agent already stopped it) */
}

static CU_TestInfo tests[] = {
    {"VMMs survive an agent restart (SIGTERM) and are adopted", test_restart_sigterm},
    {"VMMs survive kill -9 of the agent and are adopted", test_restart_sigkill},
    {"kill -9 mid-launch then restart loses and doubles nothing", test_kill_mid_launch},
    {"a launch cut between spawn and start is finished with the same VMM",
     test_cut_between_spawn_and_start},
    {"a gateway outage leaves VMs alone; what happened meanwhile is reported after",
     test_gateway_outage},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"adopt", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
