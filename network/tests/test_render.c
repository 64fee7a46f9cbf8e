/*
 * network_render - what libstratus_net writes for nftables and dnsmasq,
 * before any kernel sees it: names that could inject a rule or a config
 * line are refused, rules say what the security group says, the dnsmasq
 * configuration gives no lease to an unknown MAC, and nft itself (--check,
 * in a namespace of its own) accepts the whole transaction.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netns.h"
#include "st_proc.h"
#include "st_test.h"
#include <stratus/net.h>

static stn_network net;
static stn_port port;
static stn_sg_rule rules[3];
static stn_secgroup sg;
static stn_state st;

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    inet_pton(AF_INET, s, &a);
    return a;
}

static int setup(void)
{
    memset(&net, 0, sizeof net);
    strcpy(net.id, "net-1");
    net.vni = 4097;
    net.mtu = 1450;
    strcpy(net.underlay_dev, "eth0");
    net.local_vtep = ip("192.0.2.1");
    net.dhcp = 1;
    net.cidr = ip("10.1.0.0");
    net.prefix = 24;
    net.dhcp_ip = ip("10.1.0.2");
    net.gateway = ip("10.1.0.1");
    net.routes[0].dst = ip("172.16.0.0");
    net.routes[0].prefix = 12;
    net.routes[0].via = ip("10.1.0.254");
    net.n_routes = 1;
    memset(&port, 0, sizeof port);
    strcpy(port.id, "3f0c2a1e-port");
    strcpy(port.network_id, "net-1");
    strcpy(port.ifname, "tap3f0c2a1e");
    memcpy(port.mac, (uint8_t[]){0x52, 0x54, 0, 1, 2, 3}, 6);
    port.ips[0] = ip("10.1.0.5");
    port.n_ips = 1;
    strcpy(port.sgs[0], "web");
    port.n_sgs = 1;
    port.md_tag = 77;
    memset(rules, 0, sizeof rules);
    rules[0] = (stn_sg_rule){.direction = STN_INGRESS,
                             .ethertype = 4,
                             .protocol = 6,
                             .port_min = 8000,
                             .port_max = 8080,
                             .remote_prefix = 8,
                             .remote_cidr = ip("10.0.0.0")};
    rules[1] = (stn_sg_rule){
        .direction = STN_INGRESS, .ethertype = 4, .protocol = 17, .port_min = 53, .port_max = 53};
    strcpy(rules[1].remote_group, "web");
    rules[2] = (stn_sg_rule){.direction = STN_EGRESS, .ethertype = 4};
    memset(&sg, 0, sizeof sg);
    strcpy(sg.id, "web");
    sg.rules = rules;
    sg.n_rules = 3;
    st = (stn_state){&net, 1, &port, 1, NULL, 0, &sg, 1, 8775, NULL, 0};
    return 0;
}

static void has(const char *text, const char *want)
{
    st_assert_fmt(strstr(text, want) != NULL, 0, __FILE__, __LINE__, "missing: %s", want);
}

static void test_rules_say_what_the_group_says(void)
{
    char err[256];
    char *t = stn_nft_render(&st, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    has(t, "table bridge stratus\ndelete table bridge stratus\n");
    has(t, "\"tap3f0c2a1e\" . 52:54:00:01:02:03");
    has(t, "\"tap3f0c2a1e\" . 10.1.0.5");
    has(t, "\"stb4097\" . 10.1.0.5 : jump pe_3f0c2a1e_port");
    has(t, "ct zone set iifname map { \"stb4097\" : 4097 }");
    has(t, "chain sg_web_i {\n\t\tmeta nfproto ipv4 ip saddr 10.0.0.0/8 tcp dport 8000-8080 "
           "accept\n\t\tmeta nfproto ipv4 ip saddr @sgm_web udp dport 53 accept\n\t}");
    has(t, "chain sg_web_e {\n\t\tmeta nfproto ipv4 accept\n\t}");
    has(t, "elements = { 10.1.0.5 }"); /* a local member joins its group's set */
    has(t, "\"stb4097\" . 10.1.0.5 : 77");
    has(t, "redirect to :8775");
    has(t, "iifname @vteps ether type ip ip daddr 169.254.169.254 drop");
    has(t, "add @md_conns { iifname . ip saddr ct count over 64 } drop");
    /* the redirect is seen by the port's egress chain, and the listener's
     * replies find their connection in the network's zone */
    has(t, "ct original ip daddr 169.254.169.254 ct original proto-dst 80 accept");
    has(t, "ct zone set oifname map { \"stb4097\" : 4097 }");
    free(t);
}

static void test_render_is_stable_and_hash_follows_state(void)
{
    char err[256];
    char *a = stn_nft_render(&st, err, sizeof err), *b = stn_nft_render(&st, err, sizeof err);
    ST_ASSERT_STR_EQ(a, b);
    rules[0].port_max = 8081;
    char *c = stn_nft_render(&st, err, sizeof err);
    rules[0].port_max = 8080;
    const char *ha = strstr(a, "comment"), *hc = strstr(c, "comment");
    CU_ASSERT(ha && hc && strncmp(ha, hc, 35) != 0);
    free(a), free(b), free(c);
}

static void test_injection_is_refused(void)
{
    char err[256];
    const char *bad_ifnames[] = {"tap\"x", "tap x", "tap;x", "tap\nx", "stb1", ""};
    for (size_t i = 0; i < sizeof bad_ifnames / sizeof *bad_ifnames; i++) {
        stn_port p = port;
        snprintf(p.ifname, sizeof p.ifname, "%s", bad_ifnames[i]);
        st.ports = &p;
        CU_ASSERT(stn_validate(&st, err, sizeof err) < 0);
        CU_ASSERT_PTR_NULL(stn_nft_render(&st, err, sizeof err));
    }
    st.ports = &port;
    strcpy(sg.id, "w}eb");
    CU_ASSERT(stn_validate(&st, err, sizeof err) < 0);
    strcpy(sg.id, "web");
    strcpy(rules[1].remote_group, "nope");
    CU_ASSERT(stn_validate(&st, err, sizeof err) < 0);
    strcpy(rules[1].remote_group, "web");
    port.mac[0] = 0x01; /* multicast MAC */
    CU_ASSERT(stn_validate(&st, err, sizeof err) < 0);
    port.mac[0] = 0x52;
    net.vni = 1 << 24;
    CU_ASSERT(stn_validate(&st, err, sizeof err) < 0);
    net.vni = 4097;
    ST_ASSERT_INT_EQ(stn_validate(&st, err, sizeof err), 0);
}

static void test_dnsmasq_config(void)
{
    char *t = stn_dhcp_render(&st, &net, "/var/lib/stratus/net");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    has(t, "interface=stb4097\nbind-interfaces\nport=0\n");
    has(t, "dhcp-range=10.1.0.0,static,255.255.255.0,86400s\n");
    has(t, "dhcp-hostsfile=/var/lib/stratus/net/dhcp-4097.hosts\n");
    has(t, "dhcp-option=option:mtu,1450\n");
    has(t, "dhcp-option=option:router,10.1.0.1\n");
    /* classless routes carry the default route too (RFC 3442), and the
     * metadata address through the DHCP address */
    has(t, "dhcp-option=option:classless-static-route,169.254.169.254/32,10.1.0.2,"
           "172.16.0.0/12,10.1.0.254,0.0.0.0/0,10.1.0.1\n");
    free(t);
    /* a network without routes still gets the metadata route (no router needed) */
    stn_network bare = net;
    bare.n_routes = 0;
    bare.gateway.s_addr = 0;
    t = stn_dhcp_render(&st, &bare, "/var/lib/stratus/net");
    has(t, "dhcp-option=option:classless-static-route,169.254.169.254/32,10.1.0.2\n");
    free(t);
    /* without the metadata service there is none */
    st.metadata_port = 0;
    t = stn_dhcp_render(&st, &bare, "/var/lib/stratus/net");
    CU_ASSERT_PTR_NULL(strstr(t, "169.254.169.254"));
    st.metadata_port = 8775;
    free(t);
}

static void test_nft_accepts_the_transaction(void)
{
    if (geteuid() != 0 || nt_sh("command -v nft >/dev/null") != 0) {
        CU_PASS("needs root and nft");
        return;
    }
    char err[256];
    char *t = stn_nft_render(&st, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    char *dir = st_tmpdir("netrender");
    char path[512];
    snprintf(path, sizeof path, "%s/rules.nft", dir);
    FILE *f = fopen(path, "w");
    fputs(t, f);
    fclose(f);
    const char *ns = nt_name("snrender");
    ST_ASSERT_INT_EQ_FATAL(nt_add(ns), 0);
    /* applied for real twice: the delete-and-recreate transaction leaves one copy */
    ST_ASSERT_INT_EQ(nt_sh("ip netns exec %s nft -f %s", ns, path), 0);
    ST_ASSERT_INT_EQ(nt_sh("ip netns exec %s nft -f %s", ns, path), 0);
    char *n = nt_out("ip netns exec %s nft list ruleset | grep -c 'chain sg_web_i'", ns);
    ST_ASSERT_STR_EQ(n, "1\n");
    free(n);
    nt_cleanup();
    st_rmtree(dir);
    free(dir);
    free(t);
}

static CU_TestInfo tests[] = {
    {"security group rules render as the group says", test_rules_say_what_the_group_says},
    {"rendering is stable and its hash follows the state",
     test_render_is_stable_and_hash_follows_state},
    {"names that could inject rules or lines are refused", test_injection_is_refused},
    {"dnsmasq gets static leases only, MTU, router and routes", test_dnsmasq_config},
    {"nft applies the transaction, twice, without duplicates", test_nft_accepts_the_transaction},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"render", setup, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
