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
 * instance's tap and lease go. The metadata service: namespaces play two
 * guests (network.port_kind = veth), and from each port's side udhcpc and
 * curl get that instance's lease, id, key and user-data, never the other's.
 */
#include "st_cloud.h"
#include "st_proc.h"
#include "st_test.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static cloud C;

static int setup(void)
{
    if (cloud_netns_enter("stnode") < 0)
        st_skip("needs root, dnsmasq and nft");
    cloud_start(&C, "node_network");
    C.networks = 1; /* its agents plug ports */
    /* dnsmasq, as nobody, re-reads its hosts file under the agents' state */
    chmod(C.dir, 0711);
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
    return st_out("ip -o link show | grep -v ' lo:' | sed 's/ qlen [0-9]*//'; bridge fdb show;"
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
    ST_ASSERT_INT_EQ(st_wait_out(cmd, "nolearning", 1, 10000), 0);
    ST_ASSERT_INT_EQ(st_wait_out(cmd, "master stb", 1, 1000), 0);
    snprintf(cmd, sizeof cmd, "ip -d link show %s", tap);
    ST_ASSERT_INT_EQ(st_wait_out(cmd, "master stb", 1, 1000), 0);
    ST_ASSERT_INT_EQ(st_wait_out("ip -d link show type bridge", "stb", 1, 1000), 0);
    ST_ASSERT_INT_EQ(st_wait_out("nft list tables", "table bridge stratus", 1, 1000), 0);
    ST_ASSERT_INT_EQ(st_wait_out("nft list tables", "table inet stratus", 1, 1000), 0);
    /* dnsmasq runs with the port's static lease */
    char hosts[700], pidf[700], lease[128];
    snprintf(hosts, sizeof hosts, "cat %s/net/dhcp-%s.hosts", ag.state_dir, vni);
    snprintf(pidf, sizeof pidf, "%s/net/dhcp-%s.pid", ag.state_dir, vni);
    snprintf(lease, sizeof lease, "%s,%s", mac, ip);
    ST_ASSERT_INT_EQ(st_wait_out(hosts, lease, 1, 5000), 0);
    snprintf(cmd, sizeof cmd, "kill -0 $(cat %s) && cat /proc/$(cat %s)/comm", pidf, pidf);
    ST_ASSERT_INT_EQ(st_wait_out(cmd, "dnsmasq", 1, 5000), 0);
    /* on the address the gateway reserved for it (the default pools' last) */
    char *dhcp = sqlf("SELECT host(s.dhcp_ip) FROM iaas.subnets s JOIN iaas.ports p"
                      " ON p.network_id = s.network_id WHERE p.instance_id = '%s'",
                      a);
    ST_ASSERT_STR_EQ(dhcp, "10.0.0.254");
    snprintf(cmd, sizeof cmd, "ip -o addr show dev stb%s", vni);
    snprintf(want, sizeof want, "inet %s/32", dhcp ? dhcp : "?");
    ST_ASSERT_INT_EQ(st_wait_out(cmd, want, 1, 5000), 0);
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
    ST_ASSERT_INT_EQ(st_wait_out(cmd, want, 1, 10000), 0);
    ST_ASSERT_INT_EQ(st_wait_out(cmd, "00:00:00:00:00:00 dst 192.0.2.77", 1, 1000), 0);
    snprintf(cmd, sizeof cmd, "ip neigh show dev stv%s", vni);
    snprintf(want, sizeof want, "%s lladdr %s", bip, bmac);
    ST_ASSERT_INT_EQ(st_wait_out(cmd, want, 1, 5000), 0);
    /* b's tap left with it */
    snprintf(cmd, sizeof cmd, "ip link show tap%.11s", b);
    char *bport = sqlf("SELECT id FROM iaas.ports WHERE instance_id = '%s'", b);
    snprintf(cmd, sizeof cmd, "ip -o link show");
    snprintf(want, sizeof want, "tap%.11s", bport);
    ST_ASSERT_INT_EQ(st_wait_out(cmd, want, 0, 10000), 0);

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
        st_sh("diff %s %s >&2", fb, fa);
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
    ST_ASSERT_INT_EQ(st_wait_out("ip -o link show", tap, 0, 10000), 0);
    snprintf(cmd, sizeof cmd, "ip -o link show stv%s", vni);
    ST_ASSERT_INT_EQ(st_wait_out("ip -o link show", cmd + 16, 0, 5000), 0);
    ST_ASSERT_INT_EQ(st_wait_out(hosts, lease, 0, 5000), 0);
    /* SIGTERM ends the agent cleanly (no handle left open on its loop) */
    cloud_agent_stop(&ag, SIGTERM);
    char log[700];
    snprintf(log, sizeof log, "%s/%s.log", C.dir, ag.name);
    ST_ASSERT_INT_EQ(cloud_file_count(log, "\"node.exit\""), 1);
    free(port);
    free(mac);
    free(ip);
    free(vni);
    free(bmac);
    free(bip);
    free(bport);
}

#define KEY_1                                                                                      \
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBERERERERERERERERERERERERERERERERERERERERER one@md"
#define KEY_2                                                                                      \
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIi two@md"
#define UD_1 "#cloud-config\nhostname: md-one\n"
#define UD_2 "#!/bin/sh\necho two\n"
#define UD_1_B64 "I2Nsb3VkLWNvbmZpZwpob3N0bmFtZTogbWQtb25lCg=="
#define UD_2_B64 "IyEvYmluL3NoCmVjaG8gdHdvCg=="

/* Polls the guest's metadata path until it answers want; 0 or -1. */
static int wait_md(const char *guest, const char *path, const char *want, int timeout_ms)
{
    char *got = NULL;
    for (int t = 0; t < timeout_ms; t += 250) {
        free(got);
        got = cloud_guest_md(guest, path);
        if (!strcmp(got, want)) {
            free(got);
            return 0;
        }
        usleep(250000);
    }
    fprintf(stderr, "  %s %s: '%s', want '%s'\n", guest, path, got, want);
    free(got);
    return -1;
}

static void test_network_metadata(void)
{
    /* namespaces play the guests: each instance's port is a veth into
     * /run/netns/<instance id>, through the same code path as a tap */
    cloud_agent ag;
    const char *extra[] = {
        "driver = libvirt",
        "libvirt.uri = test:///default",
        "capacity.memory_mib = 1048576", /* more free than node-net: placed here */
        "network.enabled = true",
        "interval.network_ms = 1000",
        "network.port_kind = veth",
        "network.metadata_port = 8775",
        NULL};
    cloud_agent_start(&C, &ag, "node-md", extra);
    /* the other hosts of this cloud take no new instances */
    free(cloud_sql(&C, "UPDATE iaas.nodes SET disabled = true WHERE name <> 'node-md'"
                       " RETURNING name"));
    ST_ASSERT_INT_EQ(cloud_keypair(&C, "k-one", KEY_1), 201);
    ST_ASSERT_INT_EQ(cloud_keypair(&C, "k-two", KEY_2), 201);
    char id[2][40], body[512];
    const char *names[] = {"md-one", "md-two"}, *keys[] = {KEY_1, KEY_2},
               *kps[] = {"k-one", "k-two"}, *ud[] = {UD_1, UD_2}, *b64[] = {UD_1_B64, UD_2_B64};
    for (int i = 0; i < 2; i++) {
        snprintf(body, sizeof body,
                 "{\"name\":\"%s\",\"flavor\":\"%s\",\"image\":\"%s\",\"keypair\":\"%s\","
                 "\"user_data\":\"%s\"}",
                 names[i], C.flavor, C.image_id, kps[i], b64[i]);
        ST_ASSERT_INT_EQ_FATAL(cloud_create_body(&C, body, id[i]), 202);
        ST_ASSERT_INT_EQ_FATAL(cloud_guest_add(id[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        ST_ASSERT_INT_EQ(cloud_wait_field(&C, id[i], "state", "active", 30000), 0);
    for (int i = 0; i < 2; i++) {
        char *ip = sqlf("SELECT host(a.ip) FROM iaas.port_ips a JOIN iaas.ports p"
                        " ON p.id = a.port_id WHERE p.instance_id = '%s'",
                        id[i]);
        char want[256];
        /* DHCP: the port's address, MTU 1450, 169.254.169.254 via the DHCP address */
        char *lease = cloud_guest_dhcp(&C, id[i]);
        snprintf(want, sizeof want,
                 "ip=%s mask=24 mtu=1450 router=10.0.0.1 routes=169.254.169.254/32 10.0.0.254 "
                 "0.0.0.0/0 10.0.0.1",
                 ip);
        ST_ASSERT_STR_EQ(lease, want);
        free(lease);
        /* each guest reads its own instance, never the other's */
        ST_ASSERT_INT_EQ(wait_md(id[i], "/latest/meta-data/instance-id", id[i], 5000), 0);
        ST_ASSERT_INT_EQ(
            wait_md(id[i], "/latest/meta-data/public-keys/0/openssh-key", keys[i], 1000), 0);
        ST_ASSERT_INT_EQ(wait_md(id[i], "/latest/user-data", ud[i], 1000), 0);
        ST_ASSERT_INT_EQ(wait_md(id[i], "/latest/meta-data/local-ipv4", ip, 1000), 0);
        ST_ASSERT_INT_EQ(wait_md(id[i], "/latest/meta-data/hostname", names[i], 1000), 0);
        ST_ASSERT_INT_EQ(wait_md(id[i], "/latest/meta-data/public-ipv4", "", 1000), 0); /* 404 */
        char *js = cloud_guest_md(id[i], "/openstack/latest/meta_data.json");
        json_t *j = json_loads(js, 0, NULL);
        ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "uuid")), id[i]);
        ST_ASSERT_STR_EQ(
            json_string_value(json_object_get(json_object_get(j, "public_keys"), "default")),
            keys[i]);
        json_decref(j);
        free(js);
        free(ip);
    }
    /* a floating IP for md-one (a router joins its subnet to an external
     * network): its public-ipv4 follows, md-two's stays 404 */
    st_resp x;
    char ext[40] = "", b[512], path[160], sub[40] = "", rt[40] = "";
    ST_ASSERT_INT_EQ(gwt_call(&C.gw, &x, "POST", "/v1/networks", C.gw.admin_token,
                              "{\"name\":\"public\",\"external\":true}"),
                     201);
    snprintf(ext, sizeof ext, "%s", json_string_value(json_object_get(x.json, "id")));
    st_resp_free(&x);
    snprintf(b, sizeof b, "{\"network_id\":\"%s\",\"cidr\":\"203.0.113.0/24\"}", ext);
    ST_ASSERT_INT_EQ(gwt_status(&C.gw, "POST", "/v1/subnets", C.gw.admin_token, b), 201);
    snprintf(b, sizeof b, "{\"external_gateway_info\":{\"network_id\":\"%s\"}}", ext);
    ST_ASSERT_INT_EQ(gwt_call(&C.gw, &x, "POST", "/v1/routers", C.tn.member, b), 201);
    snprintf(rt, sizeof rt, "%s", json_string_value(json_object_get(x.json, "id")));
    st_resp_free(&x);
    char *s = sqlf("SELECT a.subnet_id FROM iaas.port_ips a JOIN iaas.ports p ON p.id = a.port_id"
                   " WHERE p.instance_id = '%s'",
                   id[0]);
    snprintf(sub, sizeof sub, "%s", s ? s : "");
    free(s);
    snprintf(path, sizeof path, "/v1/routers/%s/interfaces", rt);
    snprintf(b, sizeof b, "{\"subnet_id\":\"%s\"}", sub);
    ST_ASSERT_INT_EQ(gwt_status(&C.gw, "POST", path, C.tn.member, b), 200);
    char *port1 = sqlf("SELECT id FROM iaas.ports WHERE instance_id = '%s'", id[0]);
    snprintf(b, sizeof b, "{\"floating_network_id\":\"%s\",\"port_id\":\"%s\"}", ext, port1);
    ST_ASSERT_INT_EQ(gwt_call(&C.gw, &x, "POST", "/v1/floating-ips", C.tn.member, b), 201);
    char fip[20];
    snprintf(fip, sizeof fip, "%s",
             json_string_value(json_object_get(x.json, "floating_ip_address")));
    st_resp_free(&x);
    ST_ASSERT_INT_EQ(wait_md(id[0], "/latest/meta-data/public-ipv4", fip, 10000), 0);
    ST_ASSERT_INT_EQ(wait_md(id[1], "/latest/meta-data/public-ipv4", "", 1000), 0);
    free(port1);
    /* an instance deleted: its guest is answered nothing any more (its
     * port is gone), the other's goes on */
    ST_ASSERT_INT_EQ(cloud_delete(&C, id[1]), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id[1], 30000), 0);
    ST_ASSERT_INT_EQ(wait_md(id[1], "/latest/meta-data/instance-id", "", 10000), 0);
    ST_ASSERT_INT_EQ(wait_md(id[0], "/latest/meta-data/instance-id", id[0], 1000), 0);
    cloud_agent_stop(&ag, SIGTERM);
    for (int i = 0; i < 2; i++)
        cloud_guest_del(id[i]);
}

static CU_TestInfo tests[] = {
    {"the agent builds, heals and tears down the data plane of its instances' ports",
     test_network_dataplane},
    {"the agent serves each guest its own metadata at 169.254.169.254", test_network_metadata},
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
