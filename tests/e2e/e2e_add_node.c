/*
 * e2e_add_node: deploy/add-node.sh adds a compute host to a running cloud,
 * as the README says an operator does. The whole cloud (real gateway,
 * image service, billing, PostgreSQL) runs with no compute node; the
 * script, given an admin's token and the services' URLs, registers the
 * host, writes its node.conf, starts a real stratus-node and waits until
 * the gateway sees it up. An instance then lands on it and runs. The agent
 * uses libvirt's test hypervisor (no KVM needed) with its data plane off:
 * two agents' data planes on one kernel would be two hosts in one, which
 * the network tests build with namespaces instead. Run again, the script
 * keeps the host's credential; `stop` ends the agent.
 */
#include "st_cloud.h"
#include "st_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cloud C;
static char *nhome;

static int setup(void)
{
    cloud_start(&C, "addnode");
    nhome = st_tmpdir("addnode-home");
    return 0;
}

static int teardown(void)
{
    st_sh("STRATUS_NODE_HOME=%s %s stop node-b >/dev/null 2>&1", nhome,
          st_source_path("deploy/add-node.sh"));
    cloud_stop(&C);
    st_rmtree(nhome);
    free(nhome);
    return 0;
}

static int add_node(void)
{
    return st_sh(
        "STRATUS_GATEWAY=%s STRATUS_IMAGES=%s STRATUS_IMAGES_DATA=%s STRATUS_BILLING=%s "
        "STRATUS_ADMIN_TOKEN=%s STRATUS_NODE_HOME=%s STRATUS_BUILD=%s "
        "STRATUS_NODE_CONF=\"$(printf 'driver = libvirt\\nlibvirt.uri = test:///default\\n"
        "network.enabled = false\\ncapacity.memory_mib = 65536\\ncapacity.disk_gib = 100\\n')\" "
        "bash %s node-b --detach >%s/add.out 2>&1",
        C.gw.base, C.gw.images_url, C.gw.images_data_url, C.gw.billing_url, C.gw.admin_token, nhome,
        getenv("STRATUS_BUILD_DIR"), st_source_path("deploy/add-node.sh"), nhome);
}

static char *node_field(const char *field)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s FROM iaas.nodes WHERE name = 'node-b'", field);
    return cloud_sql(&C, sql);
}

static void test_script_adds_a_host_that_runs_instances(void)
{
    int rc = add_node();
    if (rc != 0)
        st_sh("cat %s/add.out %s/node.log >&2", nhome, nhome);
    ST_ASSERT_INT_EQ_FATAL(rc, 0);
    /* the script waited for the first heartbeat */
    ST_ASSERT_INT_EQ(st_sh("grep -q 'node node-b is up' %s/add.out", nhome), 0);
    char *hb = node_field("last_heartbeat IS NOT NULL");
    ST_ASSERT_STR_EQ(hb, "t");
    free(hb);
    /* its configuration holds the node credential, never the internal token */
    ST_ASSERT_INT_EQ(st_sh("grep -q '^node.credential = stn_' %s/node.conf", nhome), 0);
    CU_ASSERT_NOT_EQUAL(st_sh("grep -q '%s' %s/node.conf", C.gw.internal_token, nhome), 0);
    ST_ASSERT_INT_EQ(st_sh("test \"$(stat -c %%a %s/node.conf)\" = 600", nhome), 0);
    /* an instance lands on the only host and runs */
    char id[40];
    char *body = st_jsonf("{s:s, s:s, s:s, s:s}", "name", "on-b", "flavor", C.flavor, "image",
                          C.image_id, "networks", "none"); /* no data plane on this host */
    st_resp r;
    ST_ASSERT_INT_EQ_FATAL(gwt_call(&C.gw, &r, "POST", "/v1/instances", C.tn.member, body), 202);
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    free(body);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    char *where = cloud_node_of(&C, id);
    ST_ASSERT_STR_EQ(where, "node-b");
    free(where);
}

static void test_script_again_keeps_the_credential(void)
{
    char before[512] = "", after[512] = "";
    char path[600];
    snprintf(path, sizeof path, "%s/credential", nhome);
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_PTR_NOT_NULL(fgets(before, sizeof before, f));
    fclose(f);
    ST_ASSERT_INT_EQ_FATAL(add_node(), 0);
    f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_PTR_NOT_NULL(fgets(after, sizeof after, f));
    fclose(f);
    ST_ASSERT_STR_EQ(after, before);
    char *n = cloud_sql(&C, "SELECT count(*) FROM iaas.nodes WHERE name = 'node-b'");
    ST_ASSERT_STR_EQ(n, "1");
    free(n);
    ST_ASSERT_INT_EQ(st_sh("grep -q 'node node-b is up' %s/add.out", nhome), 0);
}

static void test_stop_ends_the_agent(void)
{
    char pidfile[600];
    snprintf(pidfile, sizeof pidfile, "%s/node.pid", nhome);
    FILE *f = fopen(pidfile, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    int pid = 0;
    CU_ASSERT_EQUAL(fscanf(f, "%d", &pid), 1);
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(kill(pid, 0), 0);
    ST_ASSERT_INT_EQ(st_sh("STRATUS_NODE_HOME=%s bash %s stop node-b >/dev/null", nhome,
                           st_source_path("deploy/add-node.sh")),
                     0);
    CU_ASSERT_NOT_EQUAL(kill(pid, 0), 0);
}

static CU_TestInfo tests[] = {
    {"add-node.sh registers a host, starts its agent, and the host runs an instance",
     test_script_adds_a_host_that_runs_instances},
    {"add-node.sh run again keeps the host's credential and its one registration",
     test_script_again_keeps_the_credential},
    {"add-node.sh stop ends the agent", test_stop_ends_the_agent},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"add_node", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
