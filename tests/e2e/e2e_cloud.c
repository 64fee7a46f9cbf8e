/*
 * e2e_cloud: a tenant's whole story on a two-host cloud, everything real.
 *
 * PostgreSQL (three schemas), stratus-gateway, stratus-images,
 * stratus-billing, and two stratus-node agents as two processes with their
 * own state directories, each running stratus-vmm processes that boot the
 * test guest. The tenant signs in, uploads the guest image through the
 * gateway (a signed URL to the image service), creates instances across
 * both hosts, sees them active, reads their consoles (the guest's own
 * words), stops, starts, reboots and deletes them, and finds their usage in
 * billing through the gateway. Then one agent is killed with SIGKILL while
 * it launches a batch and restarted: every instance of the batch ends
 * active, each with exactly one VMM in the whole cloud.
 *
 * The guest runs `scenario=cpu cpu.ms=600000` (ten minutes of ring-3 work)
 * from its user_data "cmdline:" line, so an instance stays active until
 * the tenant acts; a guest whose scenario ends powers off and its instance
 * is reported stopped.
 */
#include "st_cloud.h"
#include "st_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LONG_CPU "scenario=cpu cpu.ms=600000"

static cloud C;
static cloud_agent N1, N2;

static int setup(void)
{
    if (access("/dev/kvm", R_OK | W_OK) != 0)
        st_skip("no /dev/kvm");
    cloud_start(&C, "e2e_cloud");
    gwt_status(&C.gw, "PUT", "/v1/scheduler", C.gw.admin_token, "{\"policy\":\"spread\"}");
    cloud_agent_start(&C, &N1, "host-1", NULL);
    cloud_agent_start(&C, &N2, "host-2", NULL);
    return 0;
}

static int teardown(void)
{
    cloud_agent_stop(&N1, SIGTERM);
    cloud_agent_stop(&N2, SIGTERM);
    cloud_stop(&C);
    return 0;
}

static int vmms_of(const char *id)
{
    char d1[2048], d2[2048];
    int p[8];
    snprintf(d1, sizeof d1, "%s/instances/%s/", N1.state_dir, id);
    snprintf(d2, sizeof d2, "%s/instances/%s/", N2.state_dir, id);
    return cloud_vmm_pids(d1, p, 8) + cloud_vmm_pids(d2, p, 8);
}

static void test_tenant_story(void)
{
    /* signs in (the harness made the tenant's users) */
    char user[96];
    snprintf(user, sizeof user, "%s-member", C.tn.name);
    char *tok = gwt_signin(&C.gw, user, "password-123", C.tn.name);
    ST_ASSERT_INT_EQ_FATAL(tok != NULL, 1);
    free(C.tn.member);
    C.tn.member = tok;
    /* the image is the tenant's own upload, active in the catalogue */
    char path[256];
    snprintf(path, sizeof path, "/v1/images/%s", C.image_id);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&C.gw, &r, "GET", path, C.tn.member, NULL), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "status")), "active");
    st_resp_free(&r);

    enum { N = 4 };
    char ids[N][40];
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "web-%d", i);
        ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, name, LONG_CPU, ids[i]), 202);
    }
    for (int i = 0; i < N; i++)
        ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, ids[i], "state", "active", 60000), 0);
    /* spread over both hosts */
    char *hosts = cloud_sql(&C, "SELECT count(DISTINCT node_id) FROM iaas.instances"
                                " WHERE state = 'active'");
    ST_ASSERT_STR_EQ(hosts, "2");
    free(hosts);
    for (int i = 0; i < N; i++) {
        ST_ASSERT_INT_EQ(vmms_of(ids[i]), 1);
        ST_ASSERT_INT_EQ(cloud_wait_console(&C, ids[i], "STRATUS-GUEST start scenario=cpu", 20000),
                         0);
    }
    /* the guest's calibration line comes from inside the VM */
    ST_ASSERT_INT_EQ(cloud_wait_console(&C, ids[0], "DATA tsc_khz=", 20000), 0);

    ST_ASSERT_INT_EQ(cloud_action(&C, ids[0], "stop"), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, ids[0], "state", "stopped", 30000), 0);
    ST_ASSERT_INT_EQ(vmms_of(ids[0]), 0);
    ST_ASSERT_INT_EQ(cloud_action(&C, ids[0], "start"), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, ids[0], "state", "active", 30000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, ids[0], "task", "null", 10000), 0);
    ST_ASSERT_INT_EQ(vmms_of(ids[0]), 1);

    ST_ASSERT_INT_EQ(cloud_action(&C, ids[1], "reboot"), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, ids[1], "task", "null", 30000), 0);
    char *st = cloud_field(&C, ids[1], "state");
    ST_ASSERT_STR_EQ(st, "active");
    free(st);
    long long end = st_now_ms() + 20000;
    int boots = 0;
    while (st_now_ms() < end && boots < 2) {
        char *o = cloud_console(&C, ids[1]);
        boots = 0;
        for (char *p = o; p && (p = strstr(p, "STRATUS-GUEST start")); p++)
            boots++;
        free(o);
        usleep(100000);
    }
    ST_ASSERT_INT_EQ(boots, 2); /* the guest booted again in the same instance */

    /* usage for them reaches billing (the tenant asks through the gateway) */
    end = st_now_ms() + 30000;
    long long cpu = 0;
    int seen = 0;
    while (st_now_ms() < end && seen < N) {
        ST_ASSERT_INT_EQ(
            gwt_call(&C.gw, &r, "GET", "/v1/billing/usage?granularity=hour", C.tn.member, NULL),
            200);
        json_t *u = json_object_get(r.json, "usage");
        seen = 0;
        cpu = 0;
        for (int i = 0; i < N; i++) {
            size_t k;
            json_t *row;
            int found = 0;
            json_array_foreach(u, k, row)
            {
                const char *iid = json_string_value(json_object_get(row, "instance_id"));
                long long ns = json_integer_value(json_object_get(row, "cpu_time_ns"));
                if (iid && !strcmp(iid, ids[i]) && ns > 0) {
                    found = 1;
                    cpu += ns;
                }
            }
            seen += found;
        }
        st_resp_free(&r);
        if (seen < N)
            usleep(500000);
    }
    ST_ASSERT_INT_EQ(seen, N);
    ST_ASSERT_INT_EQ(cpu > 0, 1);

    for (int i = 0; i < N; i++)
        ST_ASSERT_INT_EQ(cloud_delete(&C, ids[i]), 202);
    for (int i = 0; i < N; i++) {
        ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, ids[i], 30000), 0);
        ST_ASSERT_INT_EQ(vmms_of(ids[i]), 0);
    }
}

static void test_kill_agent_mid_launch(void)
{
    enum { N = 8 };
    char ids[N][40];
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "batch-%d", i);
        ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, name, LONG_CPU, ids[i]), 202);
    }
    usleep(150000); /* host-1 is busy launching its share */
    cloud_agent_stop(&N1, SIGKILL);
    usleep(300000);
    cloud_agent_restart(&C, &N1);
    for (int i = 0; i < N; i++)
        ST_ASSERT_INT_EQ(cloud_wait_field(&C, ids[i], "state", "active", 60000), 0);
    usleep(1000000);
    int total_vmms = 0;
    for (int i = 0; i < N; i++) {
        int n = vmms_of(ids[i]);
        if (n != 1)
            fprintf(stderr, "instance %s has %d VMMs\n", ids[i], n);
        ST_ASSERT_INT_EQ(n, 1); /* none lost, none doubled, on either host */
        total_vmms += n;
    }
    int p[64];
    ST_ASSERT_INT_EQ(cloud_vmm_pids(C.dir, p, 64), total_vmms);
    for (int i = 0; i < N; i++)
        ST_ASSERT_INT_EQ(cloud_delete(&C, ids[i]), 202);
    for (int i = 0; i < N; i++)
        ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, ids[i], 30000), 0);
    ST_ASSERT_INT_EQ(cloud_vmm_pids(C.dir, p, 64), 0);
}

static CU_TestInfo tests[] = {
    {"a tenant uploads, boots, reads, stops, starts, reboots, deletes and is billed",
     test_tenant_story},
    {"kill -9 of a node agent mid-launch loses and doubles no instance",
     test_kill_agent_mid_launch},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"e2e", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
