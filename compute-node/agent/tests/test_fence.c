/*
 * node_fence: the agent's lease on the gateway (fence.c) and what a host
 * that comes back after an evacuation does (reconcile.c), with real agents
 * on libvirt's in-process test hypervisor (no KVM, no daemon) against the
 * real gateway. Instances have no network.
 *   - The gateway stops: after fence.timeout (2 s here) without a heartbeat
 *     taken, the agent force-stops its VM (the record says stopped), not
 *     sooner; the gateway starts again: the VM runs again (the gateway still
 *     wants it there), and the node shows the fence's time (fenced_at).
 *   - Two agents; the gateway stops and both fence; one (A) is frozen
 *     (SIGSTOP) so it stays cut off while the gateway comes back. Its host
 *     is made silent for a minute (its last heartbeat moved back) and a
 *     cloud admin evacuates its instance: it becomes active on B. A thaws:
 *     it never starts the instance again, removes its directory, and the
 *     gateway records the removal (the evacuation's cleaned_at).
 */
#include "st_cloud.h"
#include "st_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static cloud C;

static int setup(void)
{
    cloud_start(&C, "node_fence");
    return 0;
}

static int teardown(void)
{
    cloud_stop(&C);
    return 0;
}

static const char *const extra[] = {"driver = libvirt",
                                    "libvirt.uri = test:///default",
                                    "fence.timeout = 2",
                                    "interval.heartbeat_ms = 300",
                                    "interval.reconcile_ms = 300",
                                    "interval.longpoll_s = 0",
                                    NULL};

/* The record's "actual" of instance id on agent a is want. */
static int actual_is(const cloud_agent *a, const char *id, const char *want)
{
    char path[800], needle[64];
    snprintf(path, sizeof path, "%s/instances/%s/state.json", a->state_dir, id);
    snprintf(needle, sizeof needle, "\"actual\":\"%s\"", want);
    int n = cloud_file_count(path, needle);
    if (n > 0)
        return 1;
    snprintf(needle, sizeof needle, "\"actual\": \"%s\"", want);
    return cloud_file_count(path, needle) > 0;
}

/* ms until actual_is holds, or -1 after timeout_ms. */
static long long wait_actual(const cloud_agent *a, const char *id, const char *want, int timeout_ms)
{
    long long t0 = st_now_ms();
    while (st_now_ms() - t0 < timeout_ms) {
        if (actual_is(a, id, want))
            return st_now_ms() - t0;
        usleep(50000);
    }
    return -1;
}

static void test_fence_stops_and_lifts(void)
{
    cloud_agent a;
    cloud_agent_start(&C, &a, "node-fence", extra);
    char id[40];
    ST_ASSERT_INT_EQ_FATAL(cloud_create_on(&C, "node-fence", "fenced", id), 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    ST_ASSERT_INT_EQ_FATAL(wait_actual(&a, id, "running", 5000) >= 0, 1);
    cloud_gateway_stop(&C);
    long long t = wait_actual(&a, id, "stopped", 10000);
    /* fence.timeout after the last heartbeat the gateway took (at most a
     * heartbeat period before it stopped), not sooner */
    CU_ASSERT(t >= 1500 && t <= 5000);
    if (t < 1500 || t > 5000)
        fprintf(stderr, "  fenced after %lld ms\n", t);
    char log[700];
    snprintf(log, sizeof log, "%s/node-fence.log", C.dir);
    ST_ASSERT_INT_EQ(cloud_file_count(log, "node.fence\"") >= 1, 1);
    cloud_gateway_start(&C);
    /* still this node's and wanted running: started again */
    ST_ASSERT_INT_EQ(wait_actual(&a, id, "running", 15000) >= 0, 1);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "active", 15000), 0);
    char *fenced = cloud_sql(&C, "SELECT fenced_at IS NOT NULL FROM iaas.nodes"
                                 " WHERE name = 'node-fence'");
    ST_ASSERT_STR_EQ(fenced, "t");
    free(fenced);
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 30000), 0);
    cloud_agent_stop(&a, SIGTERM);
    free(cloud_sql(&C, "UPDATE iaas.nodes SET disabled = true WHERE name = 'node-fence'"));
}

static void test_evacuated_host_comes_back(void)
{
    cloud_agent a, b;
    cloud_agent_start(&C, &a, "node-ea", extra);
    cloud_agent_start(&C, &b, "node-eb", extra);
    char id[40];
    ST_ASSERT_INT_EQ_FATAL(cloud_create_on(&C, "node-ea", "moves", id), 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    ST_ASSERT_INT_EQ_FATAL(wait_actual(&a, id, "running", 5000) >= 0, 1);
    cloud_gateway_stop(&C);
    ST_ASSERT_INT_EQ_FATAL(wait_actual(&a, id, "stopped", 10000) >= 0, 1);
    kill(a.p.pid, SIGSTOP); /* A stays cut off */
    cloud_gateway_start(&C);
    free(cloud_sql(&C, "UPDATE iaas.nodes SET last_heartbeat = now() - interval '60 seconds'"
                       " WHERE name = 'node-ea'"));
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%s/actions", id);
    ST_ASSERT_INT_EQ(gwt_status(&C.gw, "POST", path, C.gw.admin_token,
                                "{\"action\":\"evacuate\",\"confirm_data_loss\":true}"),
                     202);
    char *node = cloud_node_of(&C, id);
    ST_ASSERT_STR_EQ(node, "node-eb");
    free(node);
    char *task = cloud_field(&C, id, "task");
    ST_ASSERT_STR_EQ(task, "evacuating");
    free(task);
    /* B's report ends the task */
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "task", "null", 15000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "active", 15000), 0);
    ST_ASSERT_INT_EQ(wait_actual(&b, id, "running", 15000) >= 0, 1);
    kill(a.p.pid, SIGCONT);
    char dir[800];
    snprintf(dir, sizeof dir, "%s/instances/%s", a.state_dir, id);
    struct stat st;
    int gone = 0;
    for (int i = 0; i < 200 && !gone; i++) {
        gone = stat(dir, &st) != 0;
        if (!gone)
            usleep(50000);
        /* never started again on A meanwhile */
        CU_ASSERT(!actual_is(&a, id, "running"));
    }
    ST_ASSERT_INT_EQ(gone, 1);
    char sql[200], *cleaned = NULL;
    snprintf(sql, sizeof sql,
             "SELECT cleaned_at IS NOT NULL FROM iaas.evacuations WHERE instance_id = '%s'", id);
    for (int i = 0; i < 100; i++) {
        free(cleaned);
        cleaned = cloud_sql(&C, sql);
        if (cleaned && !strcmp(cleaned, "t"))
            break;
        usleep(50000);
    }
    ST_ASSERT_STR_EQ(cleaned, "t");
    free(cleaned);
    /* and B still runs it */
    ST_ASSERT_INT_EQ(actual_is(&b, id, "running"), 1);
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 30000), 0);
    cloud_agent_stop(&a, SIGTERM);
    cloud_agent_stop(&b, SIGTERM);
}

static CU_TestInfo tests[] = {
    {"the gateway gone for fence.timeout: VMs stopped; back: started again",
     test_fence_stops_and_lifts},
    {"an evacuated host, back, removes what it left and never runs it",
     test_evacuated_host_comes_back},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"fence", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
