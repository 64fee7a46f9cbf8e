/*
 * node_network: the agent drives the host data plane. The whole cloud (real
 * gateway, image service, PostgreSQL over its Unix socket) and a real agent
 * run inside a fresh network namespace of their own; the agent uses the
 * libvirt back end on libvirt's test hypervisor (no KVM needed: the data
 * plane must not depend on a VM running). An instance created through the
 * API gets a port on the tenant's default network, and the kernel is the
 * judge: bridge stb<vni>, VXLAN stv<vni> with learning off, the port's tap,
 * the nftables tables, dnsmasq with the static lease on the DHCP address
 * the gateway reserved; a port of the network
 * on another (registered, agent-less) host becomes FDB and neighbour
 * entries to that host's tunnel IP; a kill -9 and restart of the agent
 * leaves links, FDB and the ruleset exactly as they were; a deleted
 * instance's tap and lease go.
 */
#include "cloud.h"
#include "st_test.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static cloud C;

static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A command's standard output (malloc'd, "" on failure). */
static char *out(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len), *f = popen(cmd, "r");
    if (f) {
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
            fwrite(chunk, 1, n, m);
        pclose(f);
    }
    fclose(m);
    return buf;
}

/* Waits until cmd's output contains (want = 1) or lacks (0) needle. */
static int wait_out(const char *cmd, const char *needle, int want, int timeout_ms)
{
    for (int t = 0; t < timeout_ms; t += 200) {
        char *o = out("%s 2>/dev/null", cmd);
        int has = strstr(o, needle) != NULL;
        free(o);
        if (has == want)
            return 0;
        usleep(200000);
    }
    fprintf(stderr, "  timed out: `%s` %s '%s'\n", cmd, want ? "never showed" : "still shows",
            needle);
    return -1;
}

static int setup(void)
{
    if (cloud_netns_enter("stnode") < 0)
        st_skip("needs root, dnsmasq and nft");
    cloud_start(&C, "node_network", 0);
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

/* What must survive an agent restart unchanged. */
static char *snapshot(void)
{
    return out("ip -o link show | grep -v ' lo:' | sed 's/ qlen [0-9]*//'; bridge fdb show;"
               " ip neigh show nud permanent; nft list ruleset");
}

static void test_network_dataplane(void)
{
    cloud_agent ag;
    const char *extra[] = {
        "driver = libvirt",       "libvirt.uri = test:///default", "capacity.memory_mib = 524288",
        "network.enabled = true", "interval.network_ms = 1000",    NULL};
    cloud_agent_start(&C, &ag, "node-net", extra);
    char a[40], b[40];
    ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, "net-a", "scenario=cpu cpu.ms=600000", a), 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, a, "state", "active", 30000), 0);
    char *tip = cloud_sql(&C, "SELECT host(tunnel_ip) FROM iaas.nodes WHERE name = 'node-net'");
    ST_ASSERT_STR_EQ(tip, "127.0.0.1"); /* detected: the address the gateway is reached from */
    free(tip);
    char *port = sqlf("SELECT id FROM iaas.ports WHERE instance_id = '%s'", a);
    char *mac = sqlf("SELECT mac_address::text FROM iaas.ports WHERE instance_id = '%s'", a);
    char *ip = sqlf("SELECT host(i.ip) FROM iaas.port_ips i JOIN iaas.ports p ON p.id = i.port_id"
                    " WHERE p.instance_id = '%s'",
                    a);
    char *vni = sqlf("SELECT n.vni FROM iaas.networks n JOIN iaas.ports p ON p.network_id = n.id"
                     " WHERE p.instance_id = '%s'",
                     a);
    ST_ASSERT_INT_EQ_FATAL(port && mac && ip && vni, 1);
    char tap[16], cmd[2048], want[128];
    snprintf(tap, sizeof tap, "tap%.11s", port);
    snprintf(cmd, sizeof cmd, "ip -d link show stv%s", vni);
    ST_ASSERT_INT_EQ(wait_out(cmd, "nolearning", 1, 10000), 0);
    ST_ASSERT_INT_EQ(wait_out(cmd, "master stb", 1, 1000), 0);
    snprintf(cmd, sizeof cmd, "ip -d link show %s", tap);
    ST_ASSERT_INT_EQ(wait_out(cmd, "master stb", 1, 1000), 0);
    ST_ASSERT_INT_EQ(wait_out("ip -d link show type bridge", "stb", 1, 1000), 0);
    ST_ASSERT_INT_EQ(wait_out("nft list tables", "table bridge stratus", 1, 1000), 0);
    ST_ASSERT_INT_EQ(wait_out("nft list tables", "table inet stratus", 1, 1000), 0);
    /* dnsmasq runs with the port's static lease */
    char hosts[700], pidf[700], lease[128];
    snprintf(hosts, sizeof hosts, "cat %s/net/dhcp-%s.hosts", ag.state_dir, vni);
    snprintf(pidf, sizeof pidf, "%s/net/dhcp-%s.pid", ag.state_dir, vni);
    snprintf(lease, sizeof lease, "%s,%s", mac, ip);
    ST_ASSERT_INT_EQ(wait_out(hosts, lease, 1, 5000), 0);
    snprintf(cmd, sizeof cmd, "kill -0 $(cat %s) && cat /proc/$(cat %s)/comm", pidf, pidf);
    ST_ASSERT_INT_EQ(wait_out(cmd, "dnsmasq", 1, 5000), 0);
    /* on the address the gateway reserved for it (the default pools' last) */
    char *dhcp = sqlf("SELECT host(s.dhcp_ip) FROM iaas.subnets s JOIN iaas.ports p"
                      " ON p.network_id = s.network_id WHERE p.instance_id = '%s'",
                      a);
    ST_ASSERT_STR_EQ(dhcp, "10.0.0.254");
    snprintf(cmd, sizeof cmd, "ip -o addr show dev stb%s", vni);
    snprintf(want, sizeof want, "inet %s/32", dhcp ? dhcp : "?");
    ST_ASSERT_INT_EQ(wait_out(cmd, want, 1, 5000), 0);
    free(dhcp);

    /* a second instance moved to a registered host with no agent here: its
     * port becomes l2population entries towards that host's tunnel IP */
    ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, "net-b", "scenario=cpu cpu.ms=600000", b), 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, b, "state", "active", 30000), 0);
    char *bmac = sqlf("SELECT mac_address::text FROM iaas.ports WHERE instance_id = '%s'", b);
    char *bip = sqlf("SELECT host(i.ip) FROM iaas.port_ips i JOIN iaas.ports p"
                     " ON p.id = i.port_id WHERE p.instance_id = '%s'",
                     b);
    free(cloud_sql(&C, "INSERT INTO iaas.nodes (id, name, token_sha256, tunnel_ip) VALUES"
                       " ('0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f', 'fake-remote', 'x',"
                       " '192.0.2.77') RETURNING id"));
    free(sqlf("UPDATE iaas.instances SET node_id = '0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f'"
              " WHERE id = '%s' RETURNING id",
              b));
    snprintf(cmd, sizeof cmd, "bridge fdb show dev stv%s", vni);
    snprintf(want, sizeof want, "%s dst 192.0.2.77", bmac);
    ST_ASSERT_INT_EQ(wait_out(cmd, want, 1, 10000), 0);
    ST_ASSERT_INT_EQ(wait_out(cmd, "00:00:00:00:00:00 dst 192.0.2.77", 1, 1000), 0);
    snprintf(cmd, sizeof cmd, "ip neigh show dev stv%s", vni);
    snprintf(want, sizeof want, "%s lladdr %s", bip, bmac);
    ST_ASSERT_INT_EQ(wait_out(cmd, want, 1, 5000), 0);
    /* b's tap left with it */
    snprintf(cmd, sizeof cmd, "ip link show tap%.11s", b);
    char *bport = sqlf("SELECT id FROM iaas.ports WHERE instance_id = '%s'", b);
    snprintf(cmd, sizeof cmd, "ip -o link show");
    snprintf(want, sizeof want, "tap%.11s", bport);
    ST_ASSERT_INT_EQ(wait_out(cmd, want, 0, 10000), 0);

    /* kill -9 and restart: nothing changes in the kernel. The instance is
     * stopped first: libvirt's test hypervisor lives in the agent's process,
     * so a running test VM would die with the agent (and an instance in
     * error has no ports on the host); a stopped one keeps its ports. */
    ST_ASSERT_INT_EQ(cloud_action(&C, a, "stop"), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, a, "state", "stopped", 30000), 0);
    usleep(1500000);
    char *before = snapshot();
    cloud_agent_stop(&ag, SIGKILL);
    cloud_agent_restart(&C, &ag);
    usleep(4000000); /* a fetch and several converges */
    char *after = snapshot();
    if (strcmp(after, before) != 0) { /* show the difference, not two whole dumps */
        char fb[700], fa[700];
        snprintf(fb, sizeof fb, "%s/before", C.dir);
        snprintf(fa, sizeof fa, "%s/after", C.dir);
        FILE *f = fopen(fb, "w"), *g = fopen(fa, "w");
        if (f && g) {
            fputs(before, f);
            fputs(after, g);
        }
        if (f)
            fclose(f);
        if (g)
            fclose(g);
        sh("diff %s %s >&2", fb, fa);
    }
    ST_ASSERT_INT_EQ(strcmp(after, before), 0);
    free(before);
    free(after);
    st_resp r;
    ST_ASSERT_INT_EQ(cloud_agent_get(&ag, "/metrics", &r), 200);
    ST_ASSERT_INT_EQ(r.body && strstr(r.body, "net_converges") != NULL, 1);
    st_resp_free(&r);

    /* delete: the tap, the lease and (no local port left) the network go */
    ST_ASSERT_INT_EQ(cloud_delete(&C, a), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, a, 30000), 0);
    ST_ASSERT_INT_EQ(wait_out("ip -o link show", tap, 0, 10000), 0);
    snprintf(cmd, sizeof cmd, "ip -o link show stv%s", vni);
    ST_ASSERT_INT_EQ(wait_out("ip -o link show", cmd + 16, 0, 5000), 0);
    ST_ASSERT_INT_EQ(wait_out(hosts, lease, 0, 5000), 0);
    cloud_agent_stop(&ag, SIGTERM);
    free(port);
    free(mac);
    free(ip);
    free(vni);
    free(bmac);
    free(bip);
    free(bport);
}

static CU_TestInfo tests[] = {
    {"the agent builds, heals and tears down the data plane of its instances' ports",
     test_network_dataplane},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"network", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
