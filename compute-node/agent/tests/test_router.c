/*
 * node_router: the agent builds the routers the gateway places on it. The
 * whole cloud and a real agent run in a fresh network namespace (as
 * node_network does) with a veth as the agent's external uplink
 * (network.external_interface); the tenant's router and floating IP are
 * made through the API, and the kernel judges: the node reports its uplink
 * and gets the router, whose namespace str-<id> holds qr-<vni> with the
 * subnet's gateway address and qg-<vni> with the gateway port's address,
 * the uplink is in the external network's bridge, the router answers ping
 * on the external segment, a floating IP appears as a /32 with its NAT
 * rule and leaves when disassociated, and a deleted router's namespace
 * goes.
 */
#include "st_cloud.h"
#include "st_proc.h"
#include "st_test.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static cloud C;

static int setup(void)
{
    if (cloud_netns_enter("strtr") < 0)
        st_skip("needs root, dnsmasq and nft");
    cloud_start(&C, "node_router");
    C.networks = 1; /* its agents plug ports */
    /* the uplink and, at its other end, the external segment's "outside" */
    if (st_sh("ip link add upl0 type veth peer name upl0p && ip link set upl0p up && "
              "ip addr add 203.0.113.99/24 dev upl0p") != 0)
        return -1;
    return 0;
}

static int teardown(void)
{
    cloud_stop(&C);
    cloud_netns_remove();
    return 0;
}

static char *sqlf(const char *fmt, const char *arg)
{
    char q[1024];
    snprintf(q, sizeof q, fmt, arg);
    return cloud_sql(&C, q);
}

static long post(const char *token, const char *path, const char *body, char id[40])
{
    st_resp r;
    long s = gwt_call(&C.gw, &r, "POST", path, token, body);
    const char *v = json_string_value(json_object_get(r.json, "id"));
    if (id)
        snprintf(id, 40, "%s", v ? v : "");
    if (s >= 300)
        fprintf(stderr, "POST %s: %ld %s\n", path, s, r.body);
    st_resp_free(&r);
    return s;
}

static void test_router_built_by_agent(void)
{
    cloud_agent ag;
    char nsdir[600], uplink_conf[64] = "network.external_interface = upl0", ns_conf[700];
    snprintf(nsdir, sizeof nsdir, "%s/netns", C.dir);
    snprintf(ns_conf, sizeof ns_conf, "network.netns_dir = %s", nsdir);
    const char *extra[] = {"driver = libvirt",
                           "libvirt.uri = test:///default",
                           "capacity.memory_mib = 524288",
                           "network.enabled = true",
                           "interval.network_ms = 1000",
                           "interval.heartbeat_ms = 500",
                           uplink_conf,
                           ns_conf,
                           NULL};
    cloud_agent_start(&C, &ag, "node-rtr", extra);
    /* an instance on the tenant's default network */
    char inst[40];
    ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, "behind", "scenario=cpu cpu.ms=600000", inst), 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, inst, "state", "active", 30000), 0);
    /* the node told the gateway about its uplink */
    char *up = NULL;
    for (int t = 0; t < 50; t++) {
        free(up);
        up = cloud_sql(&C, "SELECT external_uplink FROM iaas.nodes WHERE name = 'node-rtr'");
        if (up && !strcmp(up, "t"))
            break;
        usleep(200000);
    }
    ST_ASSERT_STR_EQ(up, "t");
    free(up);
    /* the external network, the router with its gateway and an interface */
    char ext[40], rt[40], fip[40], b[512], path[200];
    ST_ASSERT_INT_EQ_FATAL(
        post(C.gw.admin_token, "/v1/networks", "{\"name\":\"public\",\"external\":true}", ext),
        201);
    snprintf(b, sizeof b,
             "{\"network_id\":\"%s\",\"cidr\":\"203.0.113.0/24\",\"gateway_ip\":\"203.0.113.1\","
             "\"allocation_pools\":[{\"start\":\"203.0.113.10\",\"end\":\"203.0.113.20\"}]}",
             ext);
    ST_ASSERT_INT_EQ_FATAL(post(C.gw.admin_token, "/v1/subnets", b, NULL), 201);
    char *sub = sqlf("SELECT a.subnet_id FROM iaas.port_ips a JOIN iaas.ports p"
                     " ON p.id = a.port_id WHERE p.instance_id = '%s'",
                     inst);
    char *gwip = sqlf("SELECT host(gateway_ip) FROM iaas.subnets WHERE id = '%s'", sub);
    char *vni = sqlf("SELECT n.vni FROM iaas.networks n JOIN iaas.subnets s"
                     " ON s.network_id = n.id WHERE s.id = '%s'",
                     sub);
    char *evni = sqlf("SELECT vni FROM iaas.networks WHERE id = '%s'", ext);
    char *port = sqlf("SELECT id FROM iaas.ports WHERE instance_id = '%s'", inst);
    ST_ASSERT_INT_EQ_FATAL(sub && gwip && vni && evni && port, 1);
    snprintf(b, sizeof b, "{\"name\":\"r\",\"external_gateway_info\":{\"network_id\":\"%s\"}}",
             ext);
    ST_ASSERT_INT_EQ_FATAL(post(C.tn.member, "/v1/routers", b, rt), 201);
    snprintf(path, sizeof path, "/v1/routers/%s/interfaces", rt);
    snprintf(b, sizeof b, "{\"subnet_id\":\"%s\"}", sub);
    ST_ASSERT_INT_EQ_FATAL(post(C.tn.member, path, b, NULL), 200);
    /* the agent builds it */
    char cmd[1200], want[200];
    snprintf(cmd, sizeof cmd, "nsenter --net=%s/str-%s ip -o addr show", nsdir, rt);
    snprintf(want, sizeof want, "qr-%s    inet %s/", vni, gwip);
    ST_ASSERT_INT_EQ(st_wait_out(cmd, want, 1, 15000), 0);
    snprintf(want, sizeof want, "qg-%s    inet 203.0.113.10/24", evni);
    ST_ASSERT_INT_EQ(st_wait_out(cmd, want, 1, 5000), 0);
    snprintf(want, sizeof want, "master stb%s", evni);
    ST_ASSERT_INT_EQ(st_wait_out("ip link show upl0", want, 1, 5000), 0);
    /* the router answers on the external segment */
    ST_ASSERT_INT_EQ(st_sh("ping -c 2 -i 0.2 -W 1 -q 203.0.113.10 >/dev/null 2>&1"), 0);
    /* a floating IP for the instance: a /32 on qg and its DNAT */
    snprintf(b, sizeof b, "{\"floating_network_id\":\"%s\",\"port_id\":\"%s\"}", ext, port);
    ST_ASSERT_INT_EQ_FATAL(post(C.tn.member, "/v1/floating-ips", b, fip), 201);
    char *fa = sqlf("SELECT host(a.ip) FROM iaas.floating_ips f JOIN iaas.port_ips a"
                    " ON a.port_id = f.port_id WHERE f.id = '%s'",
                    fip);
    snprintf(want, sizeof want, "inet %s/32", fa);
    ST_ASSERT_INT_EQ(st_wait_out(cmd, want, 1, 15000), 0);
    char nft[1200];
    snprintf(nft, sizeof nft, "nsenter --net=%s/str-%s nft list ruleset", nsdir, rt);
    ST_ASSERT_INT_EQ(st_wait_out(nft, "dnat to ip daddr map @fip_in", 1, 1000), 0);
    snprintf(path, sizeof path, "/v1/floating-ips/%s", fip);
    ST_ASSERT_INT_EQ(gwt_status(&C.gw, "PATCH", path, C.tn.member, "{\"port_id\":null}"), 200);
    ST_ASSERT_INT_EQ(st_wait_out(cmd, want, 0, 15000), 0);
    /* the router deleted: its namespace goes */
    ST_ASSERT_INT_EQ(gwt_status(&C.gw, "DELETE", path, C.tn.member, NULL), 204);
    snprintf(path, sizeof path, "/v1/routers/%s/interfaces/%s", rt, sub);
    ST_ASSERT_INT_EQ(gwt_status(&C.gw, "DELETE", path, C.tn.member, NULL), 204);
    snprintf(path, sizeof path, "/v1/routers/%s", rt);
    ST_ASSERT_INT_EQ(gwt_status(&C.gw, "DELETE", path, C.tn.member, NULL), 204);
    snprintf(cmd, sizeof cmd, "ls %s", nsdir);
    snprintf(want, sizeof want, "str-%s", rt);
    ST_ASSERT_INT_EQ(st_wait_out(cmd, want, 0, 15000), 0);
    free(fa);
    free(sub);
    free(gwip);
    free(vni);
    free(evni);
    free(port);
    if (CU_get_number_of_failures()) { /* what the agent said about its network */
        snprintf(cmd, sizeof cmd, "grep -h 'node.net' %s/node-rtr.log* | tail -20 >&2", C.dir);
        st_sh("%s", cmd);
    }
    cloud_agent_stop(&ag, SIGTERM);
}

static CU_TestInfo tests[] = {
    {"the agent builds the router placed on it, its floating IP, and removes both",
     test_router_built_by_agent},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"router", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
