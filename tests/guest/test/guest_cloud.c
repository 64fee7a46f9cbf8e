/* One tenant network as the cloud builds it, for guest tests: see guest_cloud.h. */
#include "guest_cloud.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "netns.h"
#include "st_proc.h"
#include "st_test.h"
#include <stratus/net.h>

static stn_network g_net;
static stn_port g_ports[2];
static stn_sg_rule g_rules[2];
static stn_secgroup g_sg;
static stn_state g_state;

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    inet_pton(AF_INET, s, &a);
    return a;
}

static void mac(uint8_t out[6], const char *s)
{
    unsigned v[6] = {0};
    sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]);
    for (int i = 0; i < 6; i++)
        out[i] = (uint8_t)v[i];
}

void gc_require(void)
{
    static const char *const tools[] = {"ip", "dnsmasq", "ping", NULL};
    nt_require(tools);
}

int gc_sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = nt_sh("%s", cmd);
    if (rc != 0)
        fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc;
}

static void build(gc_cloud *c)
{
    memset(&g_net, 0, sizeof g_net);
    snprintf(g_net.id, sizeof g_net.id, "net-guest");
    g_net.vni = 4242;
    g_net.mtu = GC_MTU;
    snprintf(g_net.underlay_dev, sizeof g_net.underlay_dev, "ul0");
    g_net.local_vtep = ip("10.98.0.1");
    g_net.dhcp = 1;
    g_net.cidr = ip("10.77.0.0");
    g_net.prefix = 24;
    g_net.dhcp_ip = ip(GC_DHCP);
    g_net.gateway = ip(GC_ROUTER);
    g_net.dns[0] = ip(GC_DNS);
    g_net.n_dns = 1;

    memset(g_rules, 0, sizeof g_rules);
    g_rules[0].direction = STN_EGRESS;
    g_rules[0].ethertype = 4;
    g_rules[1].direction = STN_INGRESS;
    g_rules[1].ethertype = 4;
    snprintf(g_rules[1].remote_group, sizeof g_rules[1].remote_group, "sg-default");
    memset(&g_sg, 0, sizeof g_sg);
    snprintf(g_sg.id, sizeof g_sg.id, "sg-default");
    g_sg.rules = g_rules;
    g_sg.n_rules = 2;

    memset(g_ports, 0, sizeof g_ports);
    stn_port *g = &g_ports[0], *p = &g_ports[1];
    snprintf(g->id, sizeof g->id, "port-guest");
    snprintf(g->network_id, sizeof g->network_id, "net-guest");
    g->kind = STN_PORT_TAP;
    snprintf(g->ifname, sizeof g->ifname, "%s", c->tap);
    mac(g->mac, GC_GUEST_MAC);
    g->ips[0] = ip(GC_GUEST_IP);
    g->n_ips = 1;
    snprintf(g->sgs[0], sizeof g->sgs[0], "sg-default");
    g->n_sgs = 1;
    snprintf(p->id, sizeof p->id, "port-peer");
    snprintf(p->network_id, sizeof p->network_id, "net-guest");
    p->kind = STN_PORT_VETH;
    snprintf(p->ifname, sizeof p->ifname, "%s", nt_name("gcp"));
    mac(p->mac, "52:54:00:77:00:22");
    p->ips[0] = ip(GC_PEER_IP);
    p->n_ips = 1;
    snprintf(p->sgs[0], sizeof p->sgs[0], "sg-default");
    p->n_sgs = 1;
    snprintf(p->peer_ifname, sizeof p->peer_ifname, "eth0");
    snprintf(p->peer_netns, sizeof p->peer_netns, "/run/netns/%s", c->peer);

    g_state = (stn_state){.networks = &g_net,
                          .n_networks = 1,
                          .ports = g_ports,
                          .n_ports = 2,
                          .sgs = &g_sg,
                          .n_sgs = 1};
}

struct job {
    const char *dir;
    char err[256];
};

static int converge(void *arg)
{
    struct job *j = arg;
    stn_ctx *ctx;
    stn_options o = {.state_dir = j->dir};
    int rc = stn_open(&ctx, &o, j->err, sizeof j->err);
    if (rc == 0) {
        rc = stn_converge(ctx, &g_state, NULL, j->err, sizeof j->err);
        stn_close(ctx);
    }
    return rc;
}

int gc_up(gc_cloud *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->host = nt_name("gch");
    c->peer = nt_name("gcn");
    c->tap = nt_name("gct");
    if (nt_add(c->host) < 0 || nt_add(c->peer) < 0) {
        snprintf(err, errlen, "could not create the namespaces");
        return -1;
    }
    /* no dummy driver here: a veth pair, one end the underlay */
    if (gc_sh("ip -n %s link add ul0 type veth peer name ul1 && "
              "ip -n %s addr add 10.98.0.1/24 dev ul0 && ip -n %s link set ul0 up && "
              "ip -n %s link set ul1 up",
              c->host, c->host, c->host, c->host) != 0) {
        snprintf(err, errlen, "could not make the underlay");
        return -1;
    }
    c->dir = st_tmpdir("guestcloud");
    chmod(c->dir, 0755); /* dnsmasq drops to nobody */
    build(c);
    struct job j = {.dir = c->dir};
    int rc = nt_in(c->host, converge, &j);
    if (rc != 0) {
        snprintf(err, errlen, "stn_converge: %d %s", rc, j.err);
        return -1;
    }
    if (gc_sh("ip -n %s addr add %s/24 dev eth0 && ip -n %s link set eth0 up", c->peer, GC_PEER_IP,
              c->peer) != 0) {
        snprintf(err, errlen, "could not address the peer");
        return -1;
    }
    return 0;
}

void gc_down(gc_cloud *c)
{
    nt_cleanup(); /* kills what runs inside (dnsmasq), deletes the namespaces */
    if (c->dir && !getenv("NETWORK_TEST_KEEP"))
        st_rmtree(c->dir);
    free(c->dir);
    c->dir = NULL;
}
