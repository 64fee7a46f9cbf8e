/*
 * node_meter: usage reaches billing, and none is lost while billing is down.
 * An instance runs; billing is stopped; the agent keeps sampling into its
 * on-disk spool; the instance is stopped (its final counters spooled too);
 * billing comes back; the spool drains in order, and the CPU time billing
 * holds for the instance equals the VMM's final cumulative counter: every
 * interval arrived, none twice. The tenant then sees the usage through the
 * gateway.
 */
#include "st_cloud.h"
#include "st_test.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cloud C;
static cloud_agent A;

static int setup(void)
{
    if (access("/dev/kvm", R_OK | W_OK) != 0)
        st_skip("no /dev/kvm");
    cloud_start(&C, "node_meter");
    cloud_agent_start(&C, &A, "node-m", NULL);
    return 0;
}

static int teardown(void)
{
    cloud_agent_stop(&A, SIGTERM);
    cloud_stop(&C);
    return 0;
}

static int spooled(void)
{
    char dir[700];
    snprintf(dir, sizeof dir, "%s/spool", A.state_dir);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".json") && !strstr(e->d_name, ".tmp"))
            n++;
    closedir(d);
    return n;
}

static long long sql_ll(const char *fmt, const char *id)
{
    char q[512];
    snprintf(q, sizeof q, fmt, id);
    char *v = cloud_sql(&C, q);
    long long n = v ? atoll(v) : -1;
    free(v);
    return n;
}

static void test_spool_and_replay(void)
{
    char id[40];
    ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, "metered", "scenario=cpu cpu.ms=600000", id), 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    long long end = st_now_ms() + 20000;
    while (st_now_ms() < end &&
           sql_ll("SELECT count(*) FROM billing.samples WHERE instance_id = '%s'", id) < 2)
        usleep(200000);
    ST_ASSERT_INT_EQ_FATAL(
        sql_ll("SELECT count(*) FROM billing.samples WHERE instance_id = '%s'", id) >= 2, 1);

    cloud_billing_stop(&C);
    long long before = sql_ll("SELECT count(*) FROM billing.samples WHERE instance_id = '%s'", id);
    end = st_now_ms() + 20000;
    while (st_now_ms() < end && spooled() < 3)
        usleep(200000);
    ST_ASSERT_INT_EQ(spooled() >= 3, 1); /* rounds kept on disk */
    ST_ASSERT_INT_EQ(cloud_action(&C, id, "stop"), 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, id, "state", "stopped", 30000), 0);
    usleep(500000);
    int waiting = spooled();

    cloud_billing_start(&C);
    end = st_now_ms() + 30000;
    while (st_now_ms() < end && spooled() > 0)
        usleep(200000);
    ST_ASSERT_INT_EQ(spooled(), 0);
    long long after = sql_ll("SELECT count(*) FROM billing.samples WHERE instance_id = '%s'", id);
    ST_ASSERT_INT_EQ(after - before >= waiting, 1);

    /* no interval lost or doubled: billing's sum of deltas = the final counter */
    char log[800];
    snprintf(log, sizeof log, "%s/instances/%s/vmm.log", A.state_dir, id);
    FILE *f = fopen(log, "r");
    ST_ASSERT_INT_EQ_FATAL(f != NULL, 1);
    char line[8192];
    long long final_ns = -1;
    while (fgets(line, sizeof line, f)) {
        char *p = strstr(line, "\"vmm.counters\"") ? strstr(line, "\"cpu_time_ns_total\":") : NULL;
        if (p)
            final_ns = atoll(p + strlen("\"cpu_time_ns_total\":"));
    }
    fclose(f);
    ST_ASSERT_INT_EQ_FATAL(final_ns > 0, 1);
    long long billed = sql_ll("SELECT coalesce(sum(cpu_time_ns), 0) FROM billing.usage_hourly"
                              " WHERE instance_id = '%s'",
                              id);
    ST_ASSERT_INT_EQ(billed, final_ns);

    /* the tenant sees it through the gateway */
    char path[256];
    snprintf(path, sizeof path, "/v1/billing/usage?instance_id=%s&granularity=hour", id);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&C.gw, &r, "GET", path, C.tn.member, NULL), 200);
    json_t *tot = json_object_get(r.json, "totals");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(tot, "cpu_time_ns")), final_ns);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 30000), 0);
}

static CU_TestInfo tests[] = {
    {"samples spool while billing is down and replay without loss", test_spool_and_replay},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"meter", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
