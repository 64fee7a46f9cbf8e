/*
 * node_longpoll: orders reach the agent through the desired set's
 * long-poll (longpoll.c; the gateway's nodewait.c), and polling takes over
 * when the long-poll fails.
 *
 * A real agent with the libvirt back end (libvirt's in-process test
 * hypervisor: no KVM, no daemon) against the real gateway; instances have
 * no network, so no data plane is needed.
 *   - With polling all but off (interval.reconcile_ms of an hour), an
 *     instance created, then stopped, reaches each state: only the
 *     long-poll can have told the agent, and it says so in /metrics.
 *   - An agent reconciling every 100 ms with the long-poll holding fetches
 *     the set only every interval.resync_ms (here a minute): over 3 s no
 *     fetch at all (30 without the long-poll), /healthz stays ok, and an
 *     order still arrives at once.
 *   - A second agent polls every 300 ms with the long-poll on. The gateway
 *     is stopped (its held long-poll fails) and started again: the agent
 *     waits one long-poll wait (60 s) before trying again, and meanwhile an
 *     instance created on it becomes active by polling alone, with no
 *     long-poll having answered "changed".
 */
#include "st_cloud.h"
#include "st_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cloud C;

static int setup(void)
{
    cloud_start(&C, "node_longpoll");
    return 0;
}

static int teardown(void)
{
    cloud_stop(&C);
    return 0;
}

/* stratus_node_longpolls_total{result="<result>"} from the agent's /metrics */
static long long longpolls(cloud_agent *a, const char *result)
{
    st_resp r;
    if (cloud_agent_get(a, "/metrics", &r) != 200) {
        st_resp_free(&r);
        return -1;
    }
    char needle[128];
    snprintf(needle, sizeof needle, "stratus_node_longpolls_total{result=\"%s\"} ", result);
    const char *m = r.body ? strstr(r.body, needle) : NULL;
    long long n = m ? atoll(m + strlen(needle)) : 0;
    st_resp_free(&r);
    return n;
}

/* stratus_node_fetches_total, every result, from the agent's /metrics */
static long long fetches(cloud_agent *a)
{
    st_resp r;
    if (cloud_agent_get(a, "/metrics", &r) != 200) {
        st_resp_free(&r);
        return -1;
    }
    long long n = 0;
    const char *needle = "stratus_node_fetches_total{";
    for (const char *m = r.body; m && (m = strstr(m, needle)); m += strlen(needle)) {
        const char *v = strstr(m, "} ");
        if (v)
            n += atoll(v + 2);
    }
    st_resp_free(&r);
    return n;
}

static void test_orders_by_longpoll(void)
{
    cloud_agent a;
    const char *extra[] = {"driver = libvirt", "libvirt.uri = test:///default",
                           "interval.reconcile_ms = 3600000", "interval.longpoll_s = 30", NULL};
    cloud_agent_start(&C, &a, "node-lp", extra);
    /* the first fetch, at start, is the only poll; then the long-poll is out */
    for (int i = 0; i < 300 && longpolls(&a, "changed") < 0; i++)
        usleep(50000);
    usleep(500000);
    char id[40];
    ST_ASSERT_INT_EQ_FATAL(cloud_create_on(&C, "node-lp", "by-longpoll", id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    ST_ASSERT_INT_EQ(cloud_action(&C, id, "stop"), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "stopped", 30000), 0);
    ST_ASSERT_INT_EQ(longpolls(&a, "changed") >= 2, 1);
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 30000), 0);
    cloud_agent_stop(&a, SIGTERM);
    free(cloud_sql(&C, "UPDATE iaas.nodes SET disabled = true WHERE name = 'node-lp'"));
}

static void test_holding_longpoll_spares_fetches(void)
{
    cloud_agent a;
    const char *extra[] = {"driver = libvirt",
                           "libvirt.uri = test:///default",
                           "interval.reconcile_ms = 100",
                           "interval.resync_ms = 60000",
                           "interval.longpoll_s = 30",
                           NULL};
    cloud_agent_start(&C, &a, "node-resync", extra);
    for (int i = 0; i < 300 && longpolls(&a, "changed") < 0; i++)
        usleep(50000);
    usleep(500000);
    long long before = fetches(&a);
    ST_ASSERT_INT_EQ_FATAL(before >= 1, 1);
    usleep(3000000);
    ST_ASSERT_INT_EQ(fetches(&a), before);
    st_resp r;
    ST_ASSERT_INT_EQ(cloud_agent_get(&a, "/healthz", &r), 200);
    st_resp_free(&r);
    char id[40];
    ST_ASSERT_INT_EQ_FATAL(cloud_create_on(&C, "node-resync", "by-longpoll-too", id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 30000), 0);
    cloud_agent_stop(&a, SIGTERM);
    free(cloud_sql(&C, "UPDATE iaas.nodes SET disabled = true WHERE name = 'node-resync'"));
}

static void test_gateway_restart_falls_back_to_polling(void)
{
    cloud_agent a;
    const char *extra[] = {"driver = libvirt", "libvirt.uri = test:///default",
                           "interval.longpoll_s = 60", NULL};
    cloud_agent_start(&C, &a, "node-poll", extra);
    for (int i = 0; i < 300 && longpolls(&a, "changed") < 0; i++)
        usleep(50000);
    usleep(500000);
    cloud_gateway_stop(&C);
    for (int i = 0; i < 600 && longpolls(&a, "failed") < 1; i++)
        usleep(50000);
    ST_ASSERT_INT_EQ_FATAL(longpolls(&a, "failed") >= 1, 1);
    cloud_gateway_start(&C);
    long long changed = longpolls(&a, "changed");
    char id[40];
    ST_ASSERT_INT_EQ_FATAL(cloud_create_on(&C, "node-poll", "by-polling", id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    /* no long-poll was out: polling brought the order */
    ST_ASSERT_INT_EQ(longpolls(&a, "changed"), changed);
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 30000), 0);
    cloud_agent_stop(&a, SIGTERM);
}

static CU_TestInfo tests[] = {
    {"with polling all but off, orders arrive by the long-poll", test_orders_by_longpoll},
    {"while the long-poll holds, the set is fetched only every resync interval",
     test_holding_longpoll_spares_fetches},
    {"a gateway restart fails the long-poll and polling brings the orders",
     test_gateway_restart_falls_back_to_polling},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"longpoll", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
