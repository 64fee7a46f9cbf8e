/*
 * network_nlmsg - the rtnetlink messages libstratus_net builds, checked byte
 * for byte against the kernel's uapi layouts, and its reply parsers fed
 * malformed replies.
 *
 * The expected bytes are laid out here by hand from <linux/netlink.h>,
 * <linux/rtnetlink.h>, <linux/if_link.h>, <linux/neighbour.h> and
 * <linux/veth.h> (struct nlmsghdr, ifinfomsg, ndmsg, ifaddrmsg, rtattr and
 * the RTA_* alignment), without libmnl, so a layout slip in either shows.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "nl.h"
#include "st_test.h"

/* ---- an independent encoder over the uapi structs ---- */

typedef struct enc {
    unsigned char b[STN_NL_BUFSZ];
    size_t len;
    size_t nest[8];
    int depth;
} enc;

static void e_hdr(enc *e, uint16_t type, uint16_t flags, uint32_t seq, const void *fam,
                  size_t famlen)
{
    memset(e, 0, sizeof *e);
    struct nlmsghdr h = {.nlmsg_type = type, .nlmsg_flags = flags, .nlmsg_seq = seq};
    memcpy(e->b, &h, sizeof h);
    e->len = NLMSG_HDRLEN;
    memcpy(e->b + e->len, fam, famlen);
    e->len += NLMSG_ALIGN(famlen);
}

static void e_attr(enc *e, uint16_t type, const void *data, size_t n)
{
    struct rtattr a = {.rta_len = (unsigned short)RTA_LENGTH(n), .rta_type = type};
    memcpy(e->b + e->len, &a, sizeof a);
    memcpy(e->b + e->len + RTA_LENGTH(0), data, n);
    e->len += RTA_SPACE(n);
}

static void e_u32(enc *e, uint16_t t, uint32_t v)
{
    e_attr(e, t, &v, 4);
}
static void e_u16(enc *e, uint16_t t, uint16_t v)
{
    e_attr(e, t, &v, 2);
}
static void e_u8(enc *e, uint16_t t, uint8_t v)
{
    e_attr(e, t, &v, 1);
}
static void e_str(enc *e, uint16_t t, const char *s)
{
    e_attr(e, t, s, strlen(s) + 1);
}

static void e_open(enc *e, uint16_t type)
{
    e->nest[e->depth++] = e->len;
    /* nests carry NLA_F_NESTED, which the kernel's strict validation wants */
    struct rtattr a = {.rta_len = 0, .rta_type = (unsigned short)(type | NLA_F_NESTED)};
    memcpy(e->b + e->len, &a, sizeof a);
    e->len += RTA_LENGTH(0);
}

static void e_close(enc *e)
{
    size_t at = e->nest[--e->depth];
    unsigned short l = (unsigned short)(e->len - at);
    memcpy(e->b + at, &l, sizeof l);
}

static void e_done(enc *e)
{
    uint32_t l = (uint32_t)e->len;
    memcpy(e->b, &l, 4);
}

/* Compares and, on a mismatch, says where. */
static void same(const struct nlmsghdr *got, const enc *want)
{
    ST_ASSERT_INT_EQ(got->nlmsg_len, want->len);
    size_t n = got->nlmsg_len < want->len ? got->nlmsg_len : want->len;
    for (size_t i = 0; i < n; i++)
        if (((const unsigned char *)got)[i] != want->b[i]) {
            st_assert_fmt(0, 0, __FILE__, __LINE__, "byte %zu: got 0x%02x, want 0x%02x", i,
                          ((const unsigned char *)got)[i], want->b[i]);
            return;
        }
}

static unsigned char buf[STN_NL_BUFSZ];

static void test_bridge(void)
{
    enc e;
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
    e_hdr(&e, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, 7, &ifi,
          sizeof ifi);
    e_str(&e, IFLA_IFNAME, "stb100");
    e_u32(&e, IFLA_MTU, 1450);
    e_open(&e, IFLA_LINKINFO);
    e_str(&e, IFLA_INFO_KIND, "bridge");
    e_close(&e);
    e_done(&e);
    same(stn_msg_newlink_bridge(buf, 7, "stb100", 1450), &e);
}

static void test_vxlan(void)
{
    enc e;
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
    uint32_t local = htonl(0x0a630001);
    e_hdr(&e, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, 8, &ifi,
          sizeof ifi);
    e_str(&e, IFLA_IFNAME, "stv100");
    e_u32(&e, IFLA_MTU, 1450);
    e_open(&e, IFLA_LINKINFO);
    e_str(&e, IFLA_INFO_KIND, "vxlan");
    e_open(&e, IFLA_INFO_DATA);
    e_u32(&e, IFLA_VXLAN_ID, 100);
    e_u32(&e, IFLA_VXLAN_LOCAL, local);
    e_u32(&e, IFLA_VXLAN_LINK, 3);
    e_u16(&e, IFLA_VXLAN_PORT, htons(4789)); /* network order, as the kernel reads it */
    e_u8(&e, IFLA_VXLAN_LEARNING, 0);
    e_u8(&e, IFLA_VXLAN_PROXY, 1);
    e_close(&e);
    e_close(&e);
    e_done(&e);
    same(stn_msg_newlink_vxlan(buf, 8, "stv100", 100, local, 3, 1450), &e);
}

static void test_veth(void)
{
    enc e;
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
    const uint8_t mac[6] = {0x52, 0x54, 0, 0xaa, 0, 1};
    e_hdr(&e, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, 9, &ifi,
          sizeof ifi);
    e_str(&e, IFLA_IFNAME, "pa1");
    e_u32(&e, IFLA_MTU, 1450);
    e_open(&e, IFLA_LINKINFO);
    e_str(&e, IFLA_INFO_KIND, "veth");
    e_open(&e, IFLA_INFO_DATA);
    e_open(&e, VETH_INFO_PEER);
    memcpy(e.b + e.len, &ifi, sizeof ifi); /* the peer's own ifinfomsg */
    e.len += NLMSG_ALIGN(sizeof ifi);
    e_str(&e, IFLA_IFNAME, "eth0");
    e_u32(&e, IFLA_MTU, 1450);
    e_attr(&e, IFLA_ADDRESS, mac, 6);
    e_u32(&e, IFLA_NET_NS_FD, 5);
    e_close(&e);
    e_close(&e);
    e_close(&e);
    e_done(&e);
    same(stn_msg_newlink_veth(buf, 9, "pa1", 1450, "eth0", 5, mac), &e);
}

static void test_setlink(void)
{
    enc e;
    struct ifinfomsg ifi = {
        .ifi_family = AF_UNSPEC, .ifi_index = 12, .ifi_flags = IFF_UP, .ifi_change = IFF_UP};
    e_hdr(&e, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 10, &ifi, sizeof ifi);
    e_u32(&e, IFLA_MASTER, 4);
    e_u32(&e, IFLA_MTU, 1450);
    e_str(&e, IFLA_IFALIAS, "stratus:port:p1");
    e_done(&e);
    same(stn_msg_setlink(buf, 10, 12, 4, 1450, 1, "stratus:port:p1"), &e);
    /* only what differs is sent */
    e_hdr(&e, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 11, &ifi, sizeof ifi);
    e_done(&e);
    same(stn_msg_setlink(buf, 11, 12, -1, 0, 1, NULL), &e);
}

static void test_fdb_and_neigh(void)
{
    enc e;
    const uint8_t mac[6] = {0x52, 0x54, 0, 0xaa, 0, 2};
    uint32_t vtep = htonl(0x0a630002), ip = htonl(0x0a0a000c);
    struct ndmsg nd = {.ndm_family = AF_BRIDGE,
                       .ndm_ifindex = 6,
                       .ndm_state = NUD_PERMANENT,
                       .ndm_flags = NTF_SELF};
    e_hdr(&e, RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND, 12, &nd,
          sizeof nd);
    e_attr(&e, NDA_LLADDR, mac, 6);
    e_attr(&e, NDA_DST, &vtep, 4);
    e_done(&e);
    same(stn_msg_fdb(buf, 12, 1, 6, mac, vtep), &e);
    e_hdr(&e, RTM_DELNEIGH, NLM_F_REQUEST | NLM_F_ACK, 13, &nd, sizeof nd);
    e_attr(&e, NDA_LLADDR, mac, 6);
    e_attr(&e, NDA_DST, &vtep, 4);
    e_done(&e);
    same(stn_msg_fdb(buf, 13, 0, 6, mac, vtep), &e);
    struct ndmsg nn = {.ndm_family = AF_INET, .ndm_ifindex = 6, .ndm_state = NUD_PERMANENT};
    e_hdr(&e, RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, 14, &nn,
          sizeof nn);
    e_attr(&e, NDA_DST, &ip, 4);
    e_attr(&e, NDA_LLADDR, mac, 6);
    e_done(&e);
    same(stn_msg_neigh(buf, 14, 1, 6, ip, mac), &e);
}

static void test_addr_and_dump(void)
{
    enc e;
    uint32_t ip = htonl(0x0a0a0002);
    struct ifaddrmsg ifa = {.ifa_family = AF_INET, .ifa_prefixlen = 32, .ifa_index = 4};
    e_hdr(&e, RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, 15, &ifa,
          sizeof ifa);
    e_attr(&e, IFA_LOCAL, &ip, 4);
    e_attr(&e, IFA_ADDRESS, &ip, 4);
    e_done(&e);
    same(stn_msg_addr(buf, 15, 1, 4, ip, 32), &e);
    struct ndmsg nd = {.ndm_family = AF_BRIDGE};
    e_hdr(&e, RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, 16, &nd, sizeof nd);
    e_done(&e);
    same(stn_msg_dump(buf, 16, RTM_GETNEIGH, AF_BRIDGE), &e);
}

static void test_route_and_mac(void)
{
    enc e;
    uint32_t gw = htonl(0xcb007101), dst = htonl(0x0a140000);
    struct rtmsg rt = {.rtm_family = AF_INET,
                       .rtm_table = RT_TABLE_MAIN,
                       .rtm_protocol = RTPROT_STATIC,
                       .rtm_scope = RT_SCOPE_UNIVERSE,
                       .rtm_type = RTN_UNICAST};
    /* a default route via a gateway: no RTA_DST */
    e_hdr(&e, RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, 18, &rt,
          sizeof rt);
    e_attr(&e, RTA_GATEWAY, &gw, 4);
    e_u32(&e, RTA_OIF, 3);
    e_done(&e);
    same(stn_msg_route(buf, 18, 1, 0, 0, gw, 3), &e);
    /* deleting an on-link /16 */
    rt.rtm_dst_len = 16;
    rt.rtm_scope = RT_SCOPE_LINK;
    e_hdr(&e, RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK, 19, &rt, sizeof rt);
    e_attr(&e, RTA_DST, &dst, 4);
    e_u32(&e, RTA_OIF, 3);
    e_done(&e);
    same(stn_msg_route(buf, 19, 0, dst, 16, 0, 3), &e);
    const uint8_t mac[6] = {0xfa, 0x16, 0x3e, 0, 1, 1};
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = 2};
    e_hdr(&e, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 20, &ifi, sizeof ifi);
    e_attr(&e, IFLA_ADDRESS, mac, 6);
    e_done(&e);
    same(stn_msg_setlink_mac(buf, 20, 2, mac), &e);
    /* the bulk delete: mark a link with a group, then delete the group (ifindex 0) */
    e_hdr(&e, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 22, &ifi, sizeof ifi);
    e_u32(&e, IFLA_GROUP, STN_DOOMED_GROUP);
    e_done(&e);
    same(stn_msg_setlink_group(buf, 22, 2, STN_DOOMED_GROUP), &e);
    struct ifinfomsg any = {.ifi_family = AF_UNSPEC, .ifi_index = 0};
    e_hdr(&e, RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, 23, &any, sizeof any);
    e_u32(&e, IFLA_GROUP, STN_DOOMED_GROUP);
    e_done(&e);
    same(stn_msg_dellink_group(buf, 23, STN_DOOMED_GROUP), &e);
    struct rtmsg d = {.rtm_family = AF_INET};
    e_hdr(&e, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, 21, &d, sizeof d);
    e_done(&e);
    same(stn_msg_dump(buf, 21, RTM_GETROUTE, AF_INET), &e);
}

static unsigned n_routes;
static stn_rt last_route;
static void on_route(const stn_rt *r, void *d)
{
    (void)d;
    n_routes++;
    last_route = *r;
}

static void test_parse_route_reply(void)
{
    enc e;
    uint32_t gw = htonl(0xcb007101);
    struct rtmsg rt = {.rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN, .rtm_type = RTN_UNICAST};
    e_hdr(&e, RTM_NEWROUTE, NLM_F_MULTI, 0, &rt, sizeof rt);
    e_u32(&e, RTA_TABLE, RT_TABLE_MAIN);
    e_attr(&e, RTA_GATEWAY, &gw, 4);
    e_u32(&e, RTA_OIF, 3);
    e_done(&e);
    n_routes = 0;
    ST_ASSERT_INT_EQ(stn_walk_routes(e.b, e.len, on_route, NULL), 1);
    ST_ASSERT_INT_EQ(n_routes, 1);
    ST_ASSERT_INT_EQ(last_route.gateway, gw);
    ST_ASSERT_INT_EQ(last_route.oif, 3);
    ST_ASSERT_INT_EQ(last_route.dst_len, 0);
    /* a prefix longer than 32 is a lie */
    rt.rtm_dst_len = 33;
    e_hdr(&e, RTM_NEWROUTE, NLM_F_MULTI, 0, &rt, sizeof rt);
    e_done(&e);
    ST_ASSERT_INT_EQ(stn_walk_routes(e.b, e.len, on_route, NULL), -EINVAL);
    /* every truncation is refused or read as less, never past the end */
    rt.rtm_dst_len = 0;
    e_hdr(&e, RTM_NEWROUTE, NLM_F_MULTI, 0, &rt, sizeof rt);
    e_attr(&e, RTA_GATEWAY, &gw, 4);
    e_done(&e);
    for (size_t cut = 1; cut < e.len; cut++) {
        n_routes = 0;
        CU_ASSERT(stn_walk_routes(e.b, cut, on_route, NULL) < 0);
        ST_ASSERT_INT_EQ(n_routes, 0);
    }
}

static void test_vf_config(void)
{
    enc e;
    const uint8_t mac[6] = {0x52, 0x54, 0, 0xcc, 0, 1};
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = 4};
    e_hdr(&e, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 17, &ifi, sizeof ifi);
    e_open(&e, IFLA_VFINFO_LIST);
    e_open(&e, IFLA_VF_INFO);
    struct ifla_vf_mac m;
    memset(&m, 0, sizeof m); /* mac[32]: six bytes used, the rest zero */
    m.vf = 3;
    memcpy(m.mac, mac, 6);
    e_attr(&e, IFLA_VF_MAC, &m, sizeof m);
    struct ifla_vf_vlan v = {.vf = 3, .vlan = 100, .qos = 0};
    e_attr(&e, IFLA_VF_VLAN, &v, sizeof v);
    struct ifla_vf_spoofchk sc = {.vf = 3, .setting = 1};
    e_attr(&e, IFLA_VF_SPOOFCHK, &sc, sizeof sc);
    e_close(&e);
    e_close(&e);
    e_done(&e);
    ST_ASSERT_INT_EQ(sizeof m, 36); /* the uapi sizes the kernel's policy checks */
    ST_ASSERT_INT_EQ(sizeof v, 12);
    ST_ASSERT_INT_EQ(sizeof sc, 8);
    same(stn_msg_vf_config(buf, 17, 4, 3, mac, 100, 1), &e);
}

/* ---- parsers against malformed replies ---- */

static int n_links;
static stn_link last;
static void on_link(const stn_link *l, void *data)
{
    (void)data;
    n_links++;
    last = *l;
}

/* A reply the kernel could send: a vxlan link, then NLMSG_DONE. */
static size_t good_reply(unsigned char *out)
{
    enc e;
    struct ifinfomsg ifi = {.ifi_index = 6, .ifi_flags = IFF_UP};
    e_hdr(&e, RTM_NEWLINK, NLM_F_MULTI, 1, &ifi, sizeof ifi);
    e_str(&e, IFLA_IFNAME, "stv100");
    e_u32(&e, IFLA_MTU, 1450);
    e_str(&e, IFLA_IFALIAS, "stratus:net:n1");
    e_open(&e, IFLA_LINKINFO);
    e_str(&e, IFLA_INFO_KIND, "vxlan");
    e_open(&e, IFLA_INFO_DATA);
    e_u32(&e, IFLA_VXLAN_ID, 100);
    e_u16(&e, IFLA_VXLAN_PORT, htons(4789));
    e_u8(&e, IFLA_VXLAN_PROXY, 1);
    e_close(&e);
    e_close(&e);
    e_done(&e);
    memcpy(out, e.b, e.len);
    struct nlmsghdr done = {
        .nlmsg_len = NLMSG_HDRLEN + 4, .nlmsg_type = NLMSG_DONE, .nlmsg_seq = 1};
    memcpy(out + e.len, &done, sizeof done);
    memset(out + e.len + NLMSG_HDRLEN, 0, 4);
    return e.len + NLMSG_HDRLEN + 4;
}

static void test_parse_good_reply(void)
{
    unsigned char r[1024];
    size_t n = good_reply(r);
    n_links = 0;
    ST_ASSERT_INT_EQ(stn_walk_links(r, n, on_link, NULL), 0);
    ST_ASSERT_INT_EQ(n_links, 1);
    ST_ASSERT_STR_EQ(last.name, "stv100");
    ST_ASSERT_STR_EQ(last.kind, "vxlan");
    ST_ASSERT_STR_EQ(last.alias, "stratus:net:n1");
    ST_ASSERT_INT_EQ(last.vx_vni, 100);
    ST_ASSERT_INT_EQ(last.vx_port, 4789);
    ST_ASSERT_INT_EQ(last.vx_proxy, 1);
    ST_ASSERT_INT_EQ(last.mtu, 1450);
}

static void test_parse_rejects_truncation(void)
{
    unsigned char r[1024];
    size_t n = good_reply(r);
    /* every cut inside the first message is refused, never read past */
    for (size_t cut = 1; cut < n - NLMSG_HDRLEN - 4; cut++) {
        n_links = 0;
        int rc = stn_walk_links(r, cut, on_link, NULL);
        if (rc >= 0 && n_links != 0) {
            st_assert_fmt(0, 0, __FILE__, __LINE__, "cut at %zu accepted a link", cut);
            return;
        }
    }
}

static void test_parse_rejects_lying_lengths(void)
{
    unsigned char r[1024];
    size_t n = good_reply(r);
    /* an attribute claiming more than its message holds */
    unsigned short big = 0x3ff;
    memcpy(r + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct ifinfomsg)), &big, 2);
    n_links = 0;
    CU_ASSERT(stn_walk_links(r, n, on_link, NULL) < 0);
    ST_ASSERT_INT_EQ(n_links, 0);
    /* a message shorter than its family header */
    n = good_reply(r);
    uint32_t shortlen = NLMSG_HDRLEN + 4;
    memcpy(r, &shortlen, 4);
    CU_ASSERT(stn_walk_links(r, n, on_link, NULL) < 0);
    /* an MTU attribute of the wrong size is ignored, not read past */
    n = good_reply(r);
    size_t mtu_at = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct ifinfomsg)) + RTA_SPACE(7);
    unsigned short two = RTA_LENGTH(2);
    memcpy(r + mtu_at, &two, 2);
    /* the walk stays in bounds; the following attribute offsets no longer
     * line up, so the message is refused or parsed without the MTU */
    n_links = 0;
    int rc = stn_walk_links(r, n, on_link, NULL);
    CU_ASSERT(rc < 0 || last.mtu != 1450);
}

static void test_parse_error_reply(void)
{
    unsigned char r[64];
    memset(r, 0, sizeof r);
    struct nlmsghdr h = {.nlmsg_len = NLMSG_HDRLEN + sizeof(struct nlmsgerr),
                         .nlmsg_type = NLMSG_ERROR};
    struct nlmsgerr er = {.error = -17};
    memcpy(r, &h, sizeof h);
    memcpy(r + NLMSG_HDRLEN, &er, sizeof er);
    ST_ASSERT_INT_EQ(stn_walk_links(r, h.nlmsg_len, on_link, NULL), -17);
    /* an error code outside errno's range is malformed */
    er.error = -100000;
    memcpy(r + NLMSG_HDRLEN, &er, sizeof er);
    ST_ASSERT_INT_EQ(stn_walk_links(r, h.nlmsg_len, on_link, NULL), -22);
}

static CU_TestInfo build_tests[] = {
    {"bridge creation matches the uapi layout", test_bridge},
    {"VXLAN creation (port 4789, learning off, proxy on) matches", test_vxlan},
    {"veth with peer namespace, MAC and MTU matches", test_veth},
    {"setlink carries only what differs", test_setlink},
    {"FDB append/delete and neighbour replace match", test_fdb_and_neigh},
    {"address and dump requests match", test_addr_and_dump},
    {"route add/delete, route dump and setlink MAC match", test_route_and_mac},
    {"SR-IOV VF MAC, VLAN and spoof check (IFLA_VF_*) match", test_vf_config},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo parse_tests[] = {
    {"a well-formed link reply is read whole", test_parse_good_reply},
    {"a route reply is read, and a lying or truncated one refused", test_parse_route_reply},
    {"every truncation of a reply is refused", test_parse_rejects_truncation},
    {"attribute and header lengths that lie are refused", test_parse_rejects_lying_lengths},
    {"an NLMSG_ERROR reply gives its errno, a bogus one -EINVAL", test_parse_error_reply},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"build", NULL, NULL, NULL, NULL, build_tests},
    {"parse", NULL, NULL, NULL, NULL, parse_tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
