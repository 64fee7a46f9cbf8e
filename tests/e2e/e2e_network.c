/*
 * e2e_network: tenant networks across two hosts, everything real, judged by
 * real clients.
 *
 * The cloud (PostgreSQL, stratus-gateway, stratus-images, stratus-billing)
 * runs in a network namespace of the test's own, which also holds the
 * underlay: a bridge 10.99.0.1/24 that two hosts, two more namespaces, join
 * by veth (10.99.0.11 and .12). Each host runs its own stratus-node agent
 * (`ip netns exec`; libvirt's test hypervisor, so no KVM), which reaches the
 * gateway, images and billing over that underlay (10.99.0.1, forwarded to
 * the services' loopback listeners), tells its underlay address as its
 * tunnel IP and builds its own bridges, VXLAN devices, nftables, dnsmasq
 * and metadata service. Guests are namespaces on veth ports
 * (network.port_kind = veth: the same library path as a tap).
 *
 * Two tenants, each with one guest on each host, both on their default
 * network 10.0.0.0/24, so both tenants' guests hold the same addresses:
 *   - busybox udhcpc in every guest gets its port's address and MTU 1450;
 *   - curl from every guest reads its instance-id, key and user-data at
 *     169.254.169.254;
 *   - ping crosses the hosts over VXLAN within a tenant; the other tenant's
 *     pings to the same address never arrive (the target's IcmpInEchos);
 *   - iperf3 across the hosts (figure printed);
 *   - a source address the port does not own is dropped;
 *   - a security group rule removed and added again through the API
 *     changes what both hosts let in (polled; the time printed);
 *   - kill -9 of one agent while a ping flows through its host loses
 *     nothing beyond a moment, and after it restarts and converges the
 *     host's links, FDB, neighbours and ruleset are exactly as before;
 *   - a deleted instance's port stops carrying traffic.
 *
 * Then routers and floating IPs, all through the API. Host 2 alone has an
 * uplink (network.external_interface = upl0, a veth whose far end is the
 * "outside" namespace, 203.0.113.1: the external subnet's gateway), so the
 * gateway places the router there; the guest given the floating IP is on
 * host 1, across VXLAN from its router. busybox httpd in the outside and
 * in the guests answers with the address it saw:
 *   - the admin's external network and subnet, the tenant's router with
 *     its gateway there and an interface on the default subnet, ingress
 *     rules for icmp and tcp/8080, a floating IP on t1h1's port;
 *   - the other tenant gets 404 for the floating IP and the router, and
 *     cannot move the floating IP to its port nor take t1h1's port;
 *   - the outside pings and curls the floating IP and the guest sees the
 *     outside's own address; the guest reaches the outside and is seen as
 *     the floating IP; t1h2 (no floating IP) is seen as the router's
 *     gateway address (SNAT) and cannot be reached from outside;
 *   - disassociated, the floating IP stops answering and the guest leaves
 *     by SNAT; the floating IP, interface and router deleted, host 2's
 *     links (with their masters), nftables tables and router namespaces
 *     are what they were before the router, the uplink kept.
 * Last, deploy/run-cloud.sh stop, pointed at host 1's node.conf with its
 * agent stopped, leaves host 1 with its loopback and underlay only: no
 * stratus link, no nftables table, no dnsmasq.
 * Each host has a netns_dir of its own: the agents run on one kernel, and
 * each owns every str-* in its directory.
 *
 * The instance behind the kill -9 is stopped first: libvirt's test
 * hypervisor lives in the agent's process, so its "VM" would die with the
 * agent (and an instance in error has no ports); a stopped instance keeps
 * its port, and its guest namespace keeps answering.
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

#define KEY_1                                                                                      \
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBERERERERERERERERERERERERERERERERERERERERER t1@e2e"
#define KEY_2                                                                                      \
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIi t2@e2e"
#define UD "#cloud-config\nruncmd: [true]\n"
#define UD_B64 "I2Nsb3VkLWNvbmZpZwpydW5jbWQ6IFt0cnVlXQo="

static cloud C;
static cloud_agent H[2];
static char outns[32];     /* the "outside", on host 2's external uplink */
static char nsdir[2][600]; /* each host's router namespaces (network.netns_dir) */
static int httpd[3];       /* busybox httpd: outside, t1h1, t1h2 */
static gwt_tenant T2;

/* The guests: tenant t (0, 1) on host h (0, 1) is G[t][h]. */
typedef struct guest {
    char id[40];
    char ip[20];
    char port[40];
} guest;
static guest G[2][2];
static char lone[40]; /* a third guest of tenant 1 */

static int setup(void)
{
    if (cloud_netns_enter("e2enet") < 0)
        st_skip("needs root, dnsmasq and nft");
    if (system("command -v busybox curl iperf3 >/dev/null") != 0)
        st_skip("needs busybox, curl and iperf3");
    cloud_start(&C, "e2e_network");
    C.networks = 1;     /* its agents plug ports */
    chmod(C.dir, 0711); /* dnsmasq, as nobody, re-reads its hosts file here */
    /* the underlay: a bridge here, a veth to each host (st_cloud.h) */
    if (cloud_hosts(&C, "e2eh", 2) < 0)
        return -1;
    /* host 2's uplink to the external network, the outside at its far end
     * holding the external subnet's gateway address */
    snprintf(outns, sizeof outns, "e2eout-%d", (int)getpid());
    if (st_sh("ip netns add %s && ip -n %s link set lo up && ip -n %s link add upl0 type veth peer"
              " name eth0 netns %s && ip -n %s link set upl0 up && ip -n %s addr add"
              " 203.0.113.1/24 dev eth0 && ip -n %s link set eth0 up",
              outns, outns, C.hostns[1], outns, C.hostns[1], outns, outns) != 0)
        return -1;
    char nsd[2][700];
    const char *extra[] = {nsd[0], NULL, NULL};
    /* a directory of router namespaces per host: one shared /run/netns
     * would make each agent remove the other's as not its own */
    for (int h = 0; h < 2; h++) {
        snprintf(nsdir[h], sizeof nsdir[h], "%s/netns-h%d", C.dir, h + 1);
        snprintf(nsd[h], sizeof nsd[h], "network.netns_dir = %.600s", nsdir[h]);
    }
    cloud_host_agent_start(&C, &H[0], "host-1", 0, extra);
    extra[0] = nsd[1];
    extra[1] = "network.external_interface = upl0";
    cloud_host_agent_start(&C, &H[1], "host-2", 1, extra);
    return 0;
}

static int teardown(void)
{
    for (int i = 0; i < 3; i++)
        if (httpd[i] > 0)
            kill(httpd[i], SIGTERM);
    for (int h = 0; h < 2; h++)
        if (H[h].running)
            cloud_agent_stop(&H[h], SIGTERM);
    for (int t = 0; t < 2; t++)
        for (int h = 0; h < 2; h++)
            if (G[t][h].id[0])
                cloud_guest_del(G[t][h].id);
    if (lone[0])
        cloud_guest_del(lone);
    if (outns[0])
        cloud_netns_del(outns);
    if (T2.id[0])
        gwt_free_tenant(&T2);
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

/* Only host h takes new instances. */
static void only_host(int h)
{
    ST_ASSERT_INT_EQ(cloud_only_host(&C, H, 2, h), 0);
}

static void create_guest(int t, int h, const char *token, const char *key)
{
    guest *g = &G[t][h];
    char body[512];
    snprintf(body, sizeof body,
             "{\"name\":\"t%dh%d\",\"flavor\":\"%s\",\"image\":\"%s\",\"keypair\":\"%s\","
             "\"user_data\":\"%s\"}",
             t + 1, h + 1, C.flavor, C.image_id, key, UD_B64);
    st_resp r;
    ST_ASSERT_INT_EQ_FATAL(gwt_call(&C.gw, &r, "POST", "/v1/instances", token, body), 202);
    snprintf(g->id, sizeof g->id, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    ST_ASSERT_INT_EQ_FATAL(cloud_guest_add(g->id), 0);
}

/* Waits until the instance (seen with token) is in state want ("deleted":
 * or gone); 0 or -1. */
static int wait_state(const char *token, const char *id, const char *want, int timeout_ms)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%s", id);
    for (long long t0 = st_now_ms(); st_now_ms() - t0 < timeout_ms; usleep(200000)) {
        st_resp r;
        long st = gwt_call(&C.gw, &r, "GET", path, token, NULL);
        const char *s = json_string_value(json_object_get(r.json, "state"));
        int done = (s && !strcmp(s, want)) || (st == 404 && !strcmp(want, "deleted"));
        st_resp_free(&r);
        if (done)
            return 0;
    }
    fprintf(stderr, "instance %s: not %s after %d ms\n", id, want, timeout_ms);
    return -1;
}

/* One ping from guest g to ip, waiting at most 300 ms: 1 answered. */
static int ping1(const guest *g, const char *ip)
{
    return st_sh("ip netns exec %s ping -n -q -c1 -W0.3 %s >/dev/null 2>&1", g->id, ip) == 0;
}

/* Polls until a ping from a to b's address is (want 1) or is not (0)
 * answered and the same from b to a; the milliseconds it took, or -1. */
static long long until_pings(const guest *a, const guest *b, int want, int timeout_ms)
{
    long long t0 = st_now_ms();
    while (st_now_ms() - t0 < timeout_ms)
        if (ping1(a, b->ip) == want && ping1(b, a->ip) == want)
            return st_now_ms() - t0;
    return -1;
}

/* Echo requests the guest's kernel has received. */
static long in_echos(const guest *g)
{
    char *o = st_out("ip netns exec %s awk '/^Icmp:/ { if (!h) { split($0, k); h = 1 } else {"
                     " split($0, v); for (i in k) if (k[i] == \"InEchos\") print v[i] } }'"
                     " /proc/net/snmp",
                     g->id);
    long n = atol(o);
    free(o);
    return n;
}

/* What must survive an agent's kill -9 and restart unchanged on host h
 * (the FDB entries the bridges learn from traffic aside). */
static char *snapshot(int h)
{
    return st_out("ip -n %s -o link show | grep -v ' lo:' | sed 's/ qlen [0-9]*//';"
                  " ip -n %s -o addr show; bridge -n %s fdb show | grep permanent;"
                  " ip -n %s neigh show nud permanent; ip netns exec %s nft list ruleset",
                  C.hostns[h], C.hostns[h], C.hostns[h], C.hostns[h], C.hostns[h]);
}

/* The agent's converges that went through, from its own /metrics. */
static long converges(int h)
{
    char pf[700];
    snprintf(pf, sizeof pf, "%s.http-port", H[h].state_dir);
    if (st_wait_file(pf, 10000) < 0)
        return -1;
    char *o = st_out("ip netns exec %s curl -s -m 2 http://127.0.0.1:%d/metrics | awk"
                     " '/^stratus_node_net_converges_total\\{result=\"ok\"\\}/ { print $2 }'",
                     C.hostns[h], st_read_port(pf));
    long n = *o ? atol(o) : -1;
    free(o);
    return n;
}

static void test_two_hosts(void)
{
    /* tenant 2 beside the cloud's tenant; the guest image is public */
    gwt_make_tenant(&C.gw, "e2e-net-2", &T2);
    char path[256];
    snprintf(path, sizeof path, "/v1/tenants/%s/quotas", T2.id);
    gwt_status(&C.gw, "PUT", path, C.gw.admin_token,
               "{\"instances\":100,\"vcpus\":400,\"memory_mib\":100000,\"disk_gib\":1000}");
    snprintf(path, sizeof path, "/v1/images/%s", C.image_id);
    ST_ASSERT_INT_EQ(
        gwt_status(&C.gw, "PATCH", path, C.gw.admin_token, "{\"visibility\":\"public\"}"), 200);
    ST_ASSERT_INT_EQ(cloud_keypair(&C, "k", KEY_1), 201);
    char *kp = st_jsonf("{s:s, s:s}", "name", "k", "public_key", KEY_2);
    ST_ASSERT_INT_EQ(gwt_status(&C.gw, "POST", "/v1/keypairs", T2.member, kp), 201);
    free(kp);
    const char *tok[2] = {C.tn.member, T2.member}, *keys[2] = {KEY_1, KEY_2};
    for (int h = 0; h < 2; h++) {
        only_host(h);
        for (int t = 0; t < 2; t++)
            create_guest(t, h, tok[t], "k");
    }
    for (int t = 0; t < 2; t++)
        for (int h = 0; h < 2; h++) {
            guest *g = &G[t][h];
            ST_ASSERT_INT_EQ_FATAL(wait_state(tok[t], g->id, "active", 30000), 0);
            char *node = cloud_node_of(&C, g->id);
            ST_ASSERT_STR_EQ(node, H[h].name);
            free(node);
            char *ip = sqlf("SELECT host(a.ip) FROM iaas.port_ips a JOIN iaas.ports p"
                            " ON p.id = a.port_id WHERE p.instance_id = '%s'",
                            g->id);
            char *port = sqlf("SELECT id FROM iaas.ports WHERE instance_id = '%s'", g->id);
            snprintf(g->ip, sizeof g->ip, "%s", ip ? ip : "");
            snprintf(g->port, sizeof g->port, "%s", port ? port : "");
            free(ip);
            free(port);
        }
    /* the same addresses in both tenants: each its own default network */
    ST_ASSERT_STR_EQ(G[0][0].ip, G[1][0].ip);
    ST_ASSERT_STR_EQ(G[0][1].ip, G[1][1].ip);

    /* DHCP and metadata, from every guest */
    for (int t = 0; t < 2; t++)
        for (int h = 0; h < 2; h++) {
            guest *g = &G[t][h];
            char want[256];
            snprintf(want, sizeof want, "ip=%s mask=24 mtu=1450 router=10.0.0.1 ", g->ip);
            char *lease = cloud_guest_dhcp(&C, g->id);
            st_assert_fmt(!strncmp(lease, want, strlen(want)), 0, __FILE__, __LINE__,
                          "guest t%dh%d lease: '%s'", t + 1, h + 1, lease);
            free(lease);
            char *mtu = st_out("ip -n %s -o link show eth0", g->id);
            CU_ASSERT_PTR_NOT_NULL(strstr(mtu, " mtu 1450 "));
            free(mtu);
            char *v = cloud_guest_md(g->id, "/latest/meta-data/instance-id");
            ST_ASSERT_STR_EQ(v, g->id);
            free(v);
            v = cloud_guest_md(g->id, "/latest/meta-data/public-keys/0/openssh-key");
            ST_ASSERT_STR_EQ(v, keys[t]);
            free(v);
            v = cloud_guest_md(g->id, "/latest/user-data");
            ST_ASSERT_STR_EQ(v, UD);
            free(v);
        }

    /* one tenant's guests reach each other across the hosts; the other
     * tenant's pings to the same address arrive at its own guest only */
    for (int t = 0; t < 2; t++)
        ST_ASSERT_INT_EQ(until_pings(&G[t][0], &G[t][1], 1, 10000) >= 0, 1);
    long t1_before = in_echos(&G[0][1]), t2_before = in_echos(&G[1][1]);
    ST_ASSERT_INT_EQ(
        st_sh("ip netns exec %s ping -n -q -c5 -i0.1 -W1 %s >/dev/null", G[1][0].id, G[1][1].ip),
        0);
    ST_ASSERT_INT_EQ(in_echos(&G[0][1]), t1_before);
    CU_ASSERT(in_echos(&G[1][1]) >= t2_before + 5);
    /* nor does tenant 2 reach an address only tenant 1 holds */
    ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, "lone", NULL, lone), 202);
    ST_ASSERT_INT_EQ(cloud_guest_add(lone), 0);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, lone, "state", "active", 30000), 0);
    char *lone_ip = sqlf("SELECT host(a.ip) FROM iaas.port_ips a JOIN iaas.ports p"
                         " ON p.id = a.port_id WHERE p.instance_id = '%s'",
                         lone);
    ST_ASSERT_INT_EQ(ping1(&G[1][0], lone_ip), 0);
    ST_ASSERT_INT_EQ(ping1(&G[1][1], lone_ip), 0);

    /* iperf3 across the hosts, over VXLAN */
    ST_ASSERT_INT_EQ(
        st_sh("ip netns exec %s iperf3 -s -D -1 -B %s >/dev/null 2>&1", G[0][1].id, G[0][1].ip), 0);
    usleep(300000); /* the daemon binds */
    char *ip3 = st_out("ip netns exec %s iperf3 -c %s -t 2 -J 2>/dev/null | awk -F'[:,]'"
                       " '/\"sum_received\"/ { r = 1 } r && /bits_per_second/ { print $2; exit }'",
                       G[0][0].id, G[0][1].ip);
    double bps = atof(ip3);
    CU_ASSERT(bps > 0);
    printf("\n    iperf3 guest to guest across two hosts (VXLAN, veth ports): %.2f Gbit/s\n",
           bps / 1e9);
    free(ip3);

    /* a source address the port does not own never arrives */
    st_sh("ip -n %s addr add 10.0.0.99/24 dev eth0", G[0][0].id);
    long before = in_echos(&G[0][1]);
    st_sh("ip netns exec %s ping -n -q -c3 -i0.1 -W0.3 -I 10.0.0.99 %s >/dev/null 2>&1", G[0][0].id,
          G[0][1].ip);
    ST_ASSERT_INT_EQ(in_echos(&G[0][1]), before);
    st_sh("ip -n %s addr del 10.0.0.99/24 dev eth0", G[0][0].id);

    /* tenant 1's default group loses its ingress rule: both hosts stop
     * letting the other guest in; the rule back: both let it in again */
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&C.gw, &r, "GET", "/v1/security-groups", C.tn.member, NULL), 200);
    char rule[40] = "", group[40] = "";
    size_t i, k;
    json_t *g, *x;
    json_array_foreach(json_object_get(r.json, "security_groups"), i, g)
    {
        if (!json_is_true(json_object_get(g, "is_default")))
            continue;
        snprintf(group, sizeof group, "%s", json_string_value(json_object_get(g, "id")));
        json_array_foreach(json_object_get(g, "security_group_rules"), k, x)
        {
            const char *d = json_string_value(json_object_get(x, "direction"));
            const char *e = json_string_value(json_object_get(x, "ethertype"));
            if (d && e && !strcmp(d, "ingress") && !strcmp(e, "IPv4"))
                snprintf(rule, sizeof rule, "%s", json_string_value(json_object_get(x, "id")));
        }
    }
    st_resp_free(&r);
    ST_ASSERT_INT_EQ_FATAL(rule[0] && group[0], 1);
    snprintf(path, sizeof path, "/v1/security-group-rules/%s", rule);
    ST_ASSERT_INT_EQ(gwt_status(&C.gw, "DELETE", path, C.tn.member, NULL), 204);
    long long off = until_pings(&G[0][0], &G[0][1], 0, 10000);
    ST_ASSERT_INT_EQ(off >= 0, 1);
    char b[256];
    snprintf(b, sizeof b,
             "{\"security_group_id\":\"%s\",\"direction\":\"ingress\",\"ethertype\":\"IPv4\","
             "\"remote_group_id\":\"%s\"}",
             group, group);
    ST_ASSERT_INT_EQ(gwt_status(&C.gw, "POST", "/v1/security-group-rules", C.tn.member, b), 201);
    long long on = until_pings(&G[0][0], &G[0][1], 1, 10000);
    ST_ASSERT_INT_EQ(on >= 0, 1);
    printf("    security group rule removed -> both hosts drop: %lld ms; added -> both pass: %lld "
           "ms\n",
           off, on);

    /* kill -9 of host 1's agent while guest t1h2 pings t1h1 through it
     * (host 1's instances stopped first: see the top of the file) */
    for (int t = 0; t < 2; t++) {
        snprintf(path, sizeof path, "/v1/instances/%.36s/actions", G[t][0].id);
        ST_ASSERT_INT_EQ(gwt_status(&C.gw, "POST", path, tok[t], "{\"action\":\"stop\"}"), 202);
    }
    for (int t = 0; t < 2; t++)
        ST_ASSERT_INT_EQ(wait_state(tok[t], G[t][0].id, "stopped", 30000), 0);
    ST_ASSERT_INT_EQ(until_pings(&G[0][1], &G[0][0], 1, 10000) >= 0, 1);
    char *before_kill = snapshot(0);
    char pings[700], pidf[700];
    snprintf(pings, sizeof pings, "%s/kill-pings", C.dir);
    snprintf(pidf, sizeof pidf, "%s/kill-pings.pid", C.dir);
    st_sh("ip netns exec %s ping -n -q -i0.05 -c100 -W1 %s > %s 2>&1 & echo $! > %s", G[0][1].id,
          G[0][0].ip, pings, pidf);
    char *pid_text = st_out("cat %s", pidf);
    int ping_pid = atoi(pid_text);
    free(pid_text);
    usleep(1000000);
    cloud_agent_stop(&H[0], SIGKILL);
    cloud_agent_restart(&C, &H[0]);
    long long t0 = st_now_ms();
    while (converges(0) < 1 && st_now_ms() - t0 < 15000)
        usleep(100000);
    ST_ASSERT_INT_EQ(converges(0) >= 1, 1);
    char *after = snapshot(0);
    if (strcmp(after, before_kill) != 0) {
        char fb[800], fa[800];
        snprintf(fb, sizeof fb, "%s/before", C.dir);
        snprintf(fa, sizeof fa, "%s/after", C.dir);
        FILE *f = fopen(fb, "w"), *f2 = fopen(fa, "w");
        if (f && f2) {
            fputs(before_kill, f);
            fputs(after, f2);
        }
        if (f)
            fclose(f);
        if (f2)
            fclose(f2);
        st_sh("diff %s %s >&2", fb, fa);
    }
    ST_ASSERT_INT_EQ(strcmp(after, before_kill), 0);
    free(before_kill);
    free(after);
    while (ping_pid > 0 && kill(ping_pid, 0) == 0 && st_now_ms() - t0 < 20000)
        usleep(100000); /* the 100 pings end (5 s in all) */
    char *summary = st_out("grep 'packets transmitted' %s", pings);
    int sent = 0, got = 0;
    sscanf(summary, "%d packets transmitted, %d received", &sent, &got);
    printf("    kill -9 of an agent while pinging through its host: %d of %d answered\n", got,
           sent);
    ST_ASSERT_INT_EQ(sent, 100);
    CU_ASSERT(got >= sent - 5);
    free(summary);
    ST_ASSERT_INT_EQ(until_pings(&G[0][1], &G[0][0], 1, 5000) >= 0, 1);

    /* a deleted instance's port carries nothing any more */
    snprintf(path, sizeof path, "/v1/instances/%s", G[1][1].id);
    ST_ASSERT_INT_EQ(gwt_status(&C.gw, "DELETE", path, T2.member, NULL), 202);
    ST_ASSERT_INT_EQ(wait_state(T2.member, G[1][1].id, "deleted", 30000), 0);
    long long gone = st_now_ms();
    while (ping1(&G[1][0], G[1][1].ip) && st_now_ms() - gone < 10000)
        ;
    ST_ASSERT_INT_EQ(ping1(&G[1][0], G[1][1].ip), 0);
    char tap[16];
    snprintf(tap, sizeof tap, "tap%.11s", G[1][1].port);
    char *links = st_out("ip -n %s -o link show", C.hostns[1]);
    CU_ASSERT_PTR_NULL(strstr(links, tap));
    free(links);
    free(lone_ip);
}

/* POST as token; the new object's id in id (may be NULL), its field f
 * (a string) in fv when asked. */
static long post(const char *token, const char *path, const char *body, char id[40])
{
    st_resp r;
    long s = gwt_call(&C.gw, &r, "POST", path, token, body);
    const char *v = json_string_value(json_object_get(r.json, "id"));
    if (id)
        snprintf(id, 40, "%s", v ? v : "");
    if (s >= 300 && s != 404)
        fprintf(stderr, "POST %s: %ld %s\n", path, s, r.body);
    st_resp_free(&r);
    return s;
}

/* What the busybox httpd at url says it saw as the caller's address. */
static char *seen_at(const char *ns, const char *url)
{
    char *o = st_out("ip netns exec %s curl -s -m 3 --noproxy '*' %s 2>/dev/null", ns, url);
    o[strcspn(o, "\n")] = 0;
    return o;
}

/* Polls until a ping from namespace ns to ip is (want 1) or is not (0)
 * answered; the milliseconds it took, or -1. */
static long long until_ns_pings(const char *ns, const char *ip, int want, int timeout_ms)
{
    long long t0 = st_now_ms();
    while (st_now_ms() - t0 < timeout_ms)
        if ((st_sh("ip netns exec %s ping -n -q -c1 -W0.3 %s >/dev/null 2>&1", ns, ip) == 0) ==
            want)
            return st_now_ms() - t0;
    return -1;
}

/* Host 2's links (name, master) and nftables tables, and its router
 * namespaces: what a router leaves behind when it is gone. */
static char *host2_objects(void)
{
    return st_out(
        "ip -n %s -o link show | awk '{ m = \"\"; for (i = 1; i < NF; i++)"
        " if ($i == \"master\") m = $(i + 1); sub(/[@:].*/, \"\", $2); print $2, m }' | sort;"
        " ip netns exec %s nft list tables; ls %s 2>/dev/null",
        C.hostns[1], C.hostns[1], nsdir[1]);
}

/* A command run in router namespace str-<rt> on host 2: the agent bound it
 * in its own mount namespace (ip netns exec gave it one), so enter that. */
static char *in_router(const char *rt, const char *cmd)
{
    return st_out("nsenter -t %d -m -- nsenter --net=%s/str-%s %s 2>&1", (int)H[1].p.pid, nsdir[1],
                  rt, cmd);
}

static void test_router_floating_ip(void)
{
    guest *f = &G[0][0], *s = &G[0][1]; /* f gets the floating IP; s goes out by SNAT */
    ST_ASSERT_INT_EQ_FATAL(f->port[0] && s->port[0], 1);
    long long t_step = st_now_ms();
    const char *tok = C.tn.member;
    char path[256], b[512];
    /* t1h1 (stopped for the kill -9) runs again; its port never left */
    snprintf(path, sizeof path, "/v1/instances/%.36s/actions", f->id);
    ST_ASSERT_INT_EQ(gwt_status(&C.gw, "POST", path, tok, "{\"action\":\"start\"}"), 202);
    /* host 2 reported its uplink (network.external_interface) */
    char *up = sqlf("SELECT external_uplink FROM iaas.nodes WHERE name = '%s'", H[1].name);
    ST_ASSERT_STR_EQ(up, "t");
    free(up);
    char *before = host2_objects();
    /* a web server in the outside and in both guests, whose CGI tells the
     * address it saw (busybox httpd listens on IPv6: [::ffff:a.b.c.d]) */
    char www[600], cgi[700];
    snprintf(www, sizeof www, "%s/www", C.dir);
    ST_ASSERT_INT_EQ_FATAL(st_sh("mkdir -p %s/cgi-bin", www), 0);
    snprintf(cgi, sizeof cgi, "%s/cgi-bin/who", www);
    FILE *w = fopen(cgi, "w");
    ST_ASSERT_INT_EQ_FATAL(w != NULL, 1);
    fputs("#!/bin/sh\na=${REMOTE_ADDR#[::ffff:}\n"
          "printf 'Content-Type: text/plain\\r\\n\\r\\n%s\\n' \"${a%]}\"\n",
          w);
    fclose(w);
    chmod(cgi, 0755);
    const char *web[3] = {outns, f->id, s->id};
    for (int i = 0; i < 3; i++) {
        char *pid = st_out("ip netns exec %s busybox httpd -f -p 8080 -h %s >/dev/null 2>&1 &"
                           " echo $!",
                           web[i], www);
        httpd[i] = atoi(pid);
        free(pid);
    }

    /* the admin's external network; the tenant's router on it, joined to
     * the tenant's default subnet */
    char ext[40], rt[40], fip[40];
    ST_ASSERT_INT_EQ_FATAL(
        post(C.gw.admin_token, "/v1/networks", "{\"name\":\"public\",\"external\":true}", ext),
        201);
    snprintf(b, sizeof b,
             "{\"network_id\":\"%s\",\"cidr\":\"203.0.113.0/24\",\"gateway_ip\":\"203.0.113.1\","
             "\"enable_dhcp\":false,\"allocation_pools\":[{\"start\":\"203.0.113.10\","
             "\"end\":\"203.0.113.20\"}]}",
             ext);
    ST_ASSERT_INT_EQ_FATAL(post(C.gw.admin_token, "/v1/subnets", b, NULL), 201);
    st_resp r;
    snprintf(path, sizeof path, "/v1/ports/%s", f->port);
    ST_ASSERT_INT_EQ_FATAL(gwt_call(&C.gw, &r, "GET", path, tok, NULL), 200);
    char sub[40];
    snprintf(sub, sizeof sub, "%s",
             json_string_value(json_object_get(
                 json_array_get(json_object_get(r.json, "fixed_ips"), 0), "subnet_id")));
    st_resp_free(&r);
    snprintf(b, sizeof b, "{\"name\":\"r1\",\"external_gateway_info\":{\"network_id\":\"%s\"}}",
             ext);
    ST_ASSERT_INT_EQ_FATAL(gwt_call(&C.gw, &r, "POST", "/v1/routers", tok, b), 201);
    char gwaddr[20];
    snprintf(rt, sizeof rt, "%s", json_string_value(json_object_get(r.json, "id")));
    const char *ga = json_string_value(json_object_get(
        json_array_get(
            json_object_get(json_object_get(r.json, "external_gateway_info"), "external_fixed_ips"),
            0),
        "ip_address"));
    snprintf(gwaddr, sizeof gwaddr, "%s", ga ? ga : "");
    st_resp_free(&r);
    ST_ASSERT_INT_EQ_FATAL(gwaddr[0] != 0, 1);
    snprintf(path, sizeof path, "/v1/routers/%s/interfaces", rt);
    snprintf(b, sizeof b, "{\"subnet_id\":\"%s\"}", sub);
    ST_ASSERT_INT_EQ_FATAL(post(tok, path, b, NULL), 200);
    /* the default group lets the outside in: ping and the web server */
    ST_ASSERT_INT_EQ_FATAL(gwt_call(&C.gw, &r, "GET", "/v1/security-groups", tok, NULL), 200);
    char group[40] = "";
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(r.json, "security_groups"), i, g)
    {
        if (json_is_true(json_object_get(g, "is_default")))
            snprintf(group, sizeof group, "%s", json_string_value(json_object_get(g, "id")));
    }
    st_resp_free(&r);
    const char *rules[2] = {"\"protocol\":\"icmp\"",
                            "\"protocol\":\"tcp\",\"port_range_min\":8080,\"port_range_max\":8080"};
    for (int k = 0; k < 2; k++) {
        snprintf(b, sizeof b,
                 "{\"security_group_id\":\"%s\",\"direction\":\"ingress\",\"ethertype\":\"IPv4\","
                 "%s,\"remote_ip_prefix\":\"0.0.0.0/0\"}",
                 group, rules[k]);
        ST_ASSERT_INT_EQ(post(tok, "/v1/security-group-rules", b, NULL), 201);
    }
    /* the floating IP, associated with t1h1's port */
    snprintf(b, sizeof b, "{\"floating_network_id\":\"%s\",\"port_id\":\"%s\"}", ext, f->port);
    ST_ASSERT_INT_EQ_FATAL(gwt_call(&C.gw, &r, "POST", "/v1/floating-ips", tok, b), 201);
    long long t_assoc = st_now_ms();
    char fa[20];
    snprintf(fip, sizeof fip, "%s", json_string_value(json_object_get(r.json, "id")));
    snprintf(fa, sizeof fa, "%s",
             json_string_value(json_object_get(r.json, "floating_ip_address")) ?: "");
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(wait_state(tok, f->id, "active", 30000), 0);

    /* the other tenant sees none of it, and cannot take or move it */
    char fpath[128], rpath[128], t2port[40];
    snprintf(fpath, sizeof fpath, "/v1/floating-ips/%s", fip);
    snprintf(rpath, sizeof rpath, "/v1/routers/%s", rt);
    snprintf(t2port, sizeof t2port, "%s", G[1][0].port);
    ST_ASSERT_INT_EQ(gwt_status(&C.gw, "GET", fpath, T2.member, NULL), 404);
    snprintf(b, sizeof b, "{\"port_id\":\"%s\"}", t2port);
    ST_ASSERT_INT_EQ(gwt_status(&C.gw, "PATCH", fpath, T2.member, b), 404);
    ST_ASSERT_INT_EQ(gwt_status(&C.gw, "DELETE", fpath, T2.member, NULL), 404);
    ST_ASSERT_INT_EQ(gwt_status(&C.gw, "GET", rpath, T2.member, NULL), 404);
    snprintf(b, sizeof b, "{\"floating_network_id\":\"%s\",\"port_id\":\"%s\"}", ext, f->port);
    ST_ASSERT_INT_EQ(post(T2.member, "/v1/floating-ips", b, NULL), 404);
    ST_ASSERT_INT_EQ(gwt_call(&C.gw, &r, "GET", "/v1/floating-ips", T2.member, NULL), 200);
    CU_ASSERT_PTR_NULL(strstr(r.body, fip));
    st_resp_free(&r);

    /* the router is built on host 2 (the one with the uplink) */
    char *rt_tables = NULL;
    for (long long t0 = st_now_ms(); st_now_ms() - t0 < 15000; usleep(200000)) {
        free(rt_tables);
        rt_tables = in_router(rt, "nft list tables");
        if (strstr(rt_tables, "table ip stratus_router"))
            break;
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(rt_tables, "table ip stratus_router"));
    free(rt_tables);
    /* what the comparison at the end must see gone: the router's namespace,
     * the legs' host ends, the uplink in the external network's bridge */
    char *during = host2_objects(), want[64];
    snprintf(want, sizeof want, "str-%s", rt);
    CU_ASSERT_PTR_NOT_NULL(strstr(during, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(during, "\nupl0 stb"));
    free(during);

    /* the outside reaches the guest at its floating IP (ping and HTTP), and
     * the guest sees the outside's own address */
    ST_ASSERT_INT_EQ(until_ns_pings(outns, fa, 1, 15000) >= 0, 1);
    long long in = st_now_ms() - t_assoc;
    char url[128];
    snprintf(url, sizeof url, "http://%s:8080/cgi-bin/who", fa);
    char *who = seen_at(outns, url);
    ST_ASSERT_STR_EQ(who, "203.0.113.1");
    free(who);
    /* the guest reaches the outside, seen there as its floating IP */
    ST_ASSERT_INT_EQ(until_ns_pings(f->id, "203.0.113.1", 1, 5000) >= 0, 1);
    who = seen_at(f->id, "http://203.0.113.1:8080/cgi-bin/who");
    ST_ASSERT_STR_EQ(who, fa);
    free(who);
    /* a guest without one goes out by SNAT, as the router's gateway address */
    ST_ASSERT_INT_EQ(until_ns_pings(s->id, "203.0.113.1", 1, 5000) >= 0, 1);
    who = seen_at(s->id, "http://203.0.113.1:8080/cgi-bin/who");
    ST_ASSERT_STR_EQ(who, gwaddr);
    free(who);
    /* and nothing from outside reaches that one: it has no floating IP */
    snprintf(url, sizeof url, "http://%s:8080/cgi-bin/who", s->ip);
    who = seen_at(outns, url);
    ST_ASSERT_STR_EQ(who, "");
    free(who);

    /* disassociated: the inbound path stops; the guest now leaves by SNAT */
    ST_ASSERT_INT_EQ(gwt_status(&C.gw, "PATCH", fpath, tok, "{\"port_id\":null}"), 200);
    long long off = until_ns_pings(outns, fa, 0, 15000);
    ST_ASSERT_INT_EQ(off >= 0, 1);
    snprintf(url, sizeof url, "http://%s:8080/cgi-bin/who", fa);
    who = seen_at(outns, url);
    ST_ASSERT_STR_EQ(who, "");
    free(who);
    who = seen_at(f->id, "http://203.0.113.1:8080/cgi-bin/who");
    ST_ASSERT_STR_EQ(who, gwaddr);
    free(who);

    /* the floating IP, the interface and the router deleted: host 2 is as
     * it was before (links and their masters, nftables tables, no router
     * namespace), the uplink still there */
    ST_ASSERT_INT_EQ(gwt_status(&C.gw, "DELETE", fpath, tok, NULL), 204);
    snprintf(path, sizeof path, "/v1/routers/%s/interfaces/%s", rt, sub);
    ST_ASSERT_INT_EQ(gwt_status(&C.gw, "DELETE", path, tok, NULL), 204);
    ST_ASSERT_INT_EQ(gwt_status(&C.gw, "DELETE", rpath, tok, NULL), 204);
    char *after = NULL;
    for (long long t0 = st_now_ms(); st_now_ms() - t0 < 15000; usleep(200000)) {
        free(after);
        after = host2_objects();
        if (!strcmp(after, before))
            break;
    }
    if (strcmp(after, before))
        fprintf(stderr, "host 2 before the router:\n%s\nafter it:\n%s\n", before, after);
    ST_ASSERT_STR_EQ(after, before);
    CU_ASSERT_PTR_NOT_NULL(strstr(after, "\nupl0 \n"));
    free(after);
    free(before);
    ST_ASSERT_INT_EQ(until_ns_pings(outns, gwaddr, 0, 5000) >= 0, 1);
    printf("\n    outside -> floating IP answered %lld ms after the association; inbound stopped "
           "%lld ms after the disassociation; router step %.1f s\n",
           in, off, (st_now_ms() - t_step) / 1000.0);
    if (CU_get_number_of_failures())
        st_sh("grep -h 'node.net' %s/host-2.log* | tail -20 >&2", C.dir);
}

/* deploy/run-cloud.sh stop, run on host 1 with host 1's node.conf: the
 * agent's links, ports, nftables tables and DHCP servers go; the underlay
 * stays. */
static void test_run_cloud_stop_cleans_host(void)
{
    cloud_agent_stop(&H[0], SIGTERM);
    char *before =
        st_out("ip -n %s link show; ip netns exec %s nft list tables", C.hostns[0], C.hostns[0]);
    CU_ASSERT_PTR_NOT_NULL(strstr(before, "stratus:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(before, "table inet stratus"));
    free(before);
    char *pids = st_out("cat %s/net/dhcp-*.pid 2>/dev/null | tr '\\n' ' '", H[0].state_dir);
    ST_ASSERT_INT_EQ(atoi(pids) > 0, 1);
    char home[700];
    snprintf(home, sizeof home, "%s/run-cloud-home", C.dir);
    ST_ASSERT_INT_EQ_FATAL(st_sh("mkdir -p %s && cp %s %s/node.conf", home, H[0].conf, home), 0);
    char *o = st_out("ip netns exec %s env STRATUS_HOME=%s STRATUS_BUILD=%s bash %s stop 2>&1",
                     C.hostns[0], home, getenv("STRATUS_BUILD_DIR"),
                     st_source_path("deploy/run-cloud.sh"));
    ST_ASSERT_STR_EQ(o, "stratus: stopped\n");
    free(o);
    char *links =
        st_out("ip -n %s -o link show | awk '{ sub(/[@:].*/, \"\", $2); print $2 }'", C.hostns[0]);
    ST_ASSERT_STR_EQ(links, "lo\nul0\n");
    free(links);
    char *tables = st_out("ip netns exec %s nft list tables", C.hostns[0]);
    ST_ASSERT_STR_EQ(tables, "");
    free(tables);
    char *alive = st_out("for p in %s; do [ -d /proc/$p ] && grep -q dnsmasq /proc/$p/comm"
                         " && echo $p; done",
                         pids);
    ST_ASSERT_STR_EQ(alive, "");
    free(alive);
    free(pids);
}

static CU_TestInfo tests[] = {
    {"two hosts, two tenants: DHCP, metadata, VXLAN, isolation, groups, kill -9", test_two_hosts},
    {"a router and a floating IP: the outside reaches the guest and the guest the outside",
     test_router_floating_ip},
    {"deploy/run-cloud.sh stop removes what the node built on its host",
     test_run_cloud_stop_cleans_host},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"e2e_network", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
