/*
 * nl.c - rtnetlink requests, replies and transport over libmnl.
 *
 * Replies are untrusted input: every message is checked with mnl_nlmsg_ok()
 * against the bytes actually received, every fixed header against the
 * message's payload length, and every attribute by libmnl's bounds walk plus
 * an exact length check (mnl_attr_validate) before it is read. A message of
 * an unexpected type is skipped; a malformed one ends the walk with -EINVAL.
 * Strings are copied bounded and always NUL-terminated.
 */
#include "nl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IFLA_TUN_MAX
#error "linux/if_link.h without IFLA_TUN_*"
#endif

/* ---- parsing ---- */

static void copy_str(char *dst, size_t cap, const struct nlattr *a)
{
    size_t n = mnl_attr_get_payload_len(a);
    const char *s = mnl_attr_get_payload(a);
    size_t len = strnlen(s, n);
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, s, len);
    dst[len] = '\0';
}

static int valid_u8(const struct nlattr *a)
{
    return mnl_attr_validate(a, MNL_TYPE_U8) == 0;
}
static int valid_u16(const struct nlattr *a)
{
    return mnl_attr_validate(a, MNL_TYPE_U16) == 0;
}
static int valid_u32(const struct nlattr *a)
{
    return mnl_attr_validate(a, MNL_TYPE_U32) == 0;
}

static int vxlan_attr(const struct nlattr *a, void *data)
{
    stn_link *l = data;
    switch (mnl_attr_get_type(a)) {
    case IFLA_VXLAN_ID:
        if (valid_u32(a))
            l->vx_vni = mnl_attr_get_u32(a);
        break;
    case IFLA_VXLAN_LOCAL:
        if (valid_u32(a))
            l->vx_local = mnl_attr_get_u32(a);
        break;
    case IFLA_VXLAN_GROUP:
        if (valid_u32(a))
            l->vx_group = mnl_attr_get_u32(a);
        break;
    case IFLA_VXLAN_LINK:
        if (valid_u32(a))
            l->vx_link = mnl_attr_get_u32(a);
        break;
    case IFLA_VXLAN_PORT:
        if (valid_u16(a))
            l->vx_port = ntohs(mnl_attr_get_u16(a));
        break;
    case IFLA_VXLAN_LEARNING:
        if (valid_u8(a))
            l->vx_learning = mnl_attr_get_u8(a);
        break;
    case IFLA_VXLAN_PROXY:
        if (valid_u8(a))
            l->vx_proxy = mnl_attr_get_u8(a);
        break;
    }
    return MNL_CB_OK;
}

static int tun_attr(const struct nlattr *a, void *data)
{
    stn_link *l = data;
    uint16_t t = mnl_attr_get_type(a);
    if (t == IFLA_TUN_OWNER && valid_u32(a))
        l->tun_owner = mnl_attr_get_u32(a);
    else if (t == IFLA_TUN_GROUP && valid_u32(a))
        l->tun_group = mnl_attr_get_u32(a);
    else if (valid_u8(a)) {
        uint8_t v = mnl_attr_get_u8(a);
        if (t == IFLA_TUN_TYPE)
            l->tun_type = v;
        else if (t == IFLA_TUN_PI)
            l->tun_pi = v;
        else if (t == IFLA_TUN_VNET_HDR)
            l->tun_vnet_hdr = v;
        else if (t == IFLA_TUN_PERSIST)
            l->tun_persist = v;
        else if (t == IFLA_TUN_MULTI_QUEUE)
            l->tun_mq = v;
    }
    return MNL_CB_OK;
}

static int linkinfo_attr(const struct nlattr *a, void *data)
{
    stn_link *l = data;
    uint16_t t = mnl_attr_get_type(a);
    if (t == IFLA_INFO_KIND)
        copy_str(l->kind, sizeof l->kind, a);
    else if (t == IFLA_INFO_DATA) {
        /* IFLA_INFO_KIND comes first in every kernel reply; data of an
         * unknown kind is not read. */
        if (strcmp(l->kind, "vxlan") == 0) {
            l->has_vxlan = 1;
            if (mnl_attr_parse_nested(a, vxlan_attr, l) < 0)
                return MNL_CB_ERROR;
        } else if (strcmp(l->kind, "tun") == 0) {
            l->has_tun = 1;
            if (mnl_attr_parse_nested(a, tun_attr, l) < 0)
                return MNL_CB_ERROR;
        }
    }
    return MNL_CB_OK;
}

static int link_attr(const struct nlattr *a, void *data)
{
    stn_link *l = data;
    switch (mnl_attr_get_type(a)) {
    case IFLA_IFNAME: copy_str(l->name, sizeof l->name, a); break;
    case IFLA_IFALIAS: copy_str(l->alias, sizeof l->alias, a); break;
    case IFLA_MASTER:
        if (valid_u32(a))
            l->master = (int)mnl_attr_get_u32(a);
        break;
    case IFLA_MTU:
        if (valid_u32(a))
            l->mtu = mnl_attr_get_u32(a);
        break;
    case IFLA_GROUP:
        if (valid_u32(a))
            l->group = mnl_attr_get_u32(a);
        break;
    case IFLA_ADDRESS:
        if (mnl_attr_get_payload_len(a) == 6) {
            memcpy(l->addr, mnl_attr_get_payload(a), 6);
            l->has_addr = 1;
        }
        break;
    case IFLA_LINKINFO:
        if (mnl_attr_parse_nested(a, linkinfo_attr, l) < 0)
            return MNL_CB_ERROR;
        break;
    }
    return MNL_CB_OK;
}

int stn_parse_link(const struct nlmsghdr *nlh, stn_link *out)
{
    memset(out, 0, sizeof *out);
    if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifinfomsg))
        return -EINVAL;
    const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
    out->index = ifi->ifi_index;
    out->flags = ifi->ifi_flags;
    if (mnl_attr_parse(nlh, sizeof *ifi, link_attr, out) < 0)
        return -EINVAL;
    return out->index > 0 && out->name[0] ? 0 : -EINVAL;
}

static int neigh_attr(const struct nlattr *a, void *data)
{
    stn_neigh *n = data;
    uint16_t t = mnl_attr_get_type(a);
    if (t == NDA_LLADDR && mnl_attr_get_payload_len(a) == 6) {
        memcpy(n->lladdr, mnl_attr_get_payload(a), 6);
        n->has_lladdr = 1;
    } else if (t == NDA_DST && mnl_attr_get_payload_len(a) == 4) {
        memcpy(&n->dst, mnl_attr_get_payload(a), 4);
        n->has_dst = 1;
    }
    return MNL_CB_OK;
}

int stn_parse_neigh(const struct nlmsghdr *nlh, stn_neigh *out)
{
    memset(out, 0, sizeof *out);
    if (nlh->nlmsg_type != RTM_NEWNEIGH || mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ndmsg))
        return -EINVAL;
    const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
    out->family = nd->ndm_family;
    out->ifindex = nd->ndm_ifindex;
    out->state = nd->ndm_state;
    out->flags = nd->ndm_flags;
    if (mnl_attr_parse(nlh, sizeof *nd, neigh_attr, out) < 0)
        return -EINVAL;
    return 0;
}

static int addr_attr(const struct nlattr *a, void *data)
{
    stn_addr *ad = data;
    if (mnl_attr_get_type(a) == IFA_LOCAL && mnl_attr_get_payload_len(a) == 4)
        memcpy(&ad->local, mnl_attr_get_payload(a), 4);
    return MNL_CB_OK;
}

int stn_parse_addr(const struct nlmsghdr *nlh, stn_addr *out)
{
    memset(out, 0, sizeof *out);
    if (nlh->nlmsg_type != RTM_NEWADDR || mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifaddrmsg))
        return -EINVAL;
    const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
    if (ifa->ifa_family != AF_INET)
        return -EAFNOSUPPORT;
    out->ifindex = (int)ifa->ifa_index;
    out->prefix = ifa->ifa_prefixlen;
    if (mnl_attr_parse(nlh, sizeof *ifa, addr_attr, out) < 0)
        return -EINVAL;
    return 0;
}

static int route_attr(const struct nlattr *a, void *data)
{
    stn_rt *r = data;
    uint16_t t = mnl_attr_get_type(a);
    if (t == RTA_DST && mnl_attr_get_payload_len(a) == 4)
        memcpy(&r->dst, mnl_attr_get_payload(a), 4);
    else if (t == RTA_GATEWAY && mnl_attr_get_payload_len(a) == 4)
        memcpy(&r->gateway, mnl_attr_get_payload(a), 4);
    else if (t == RTA_OIF && valid_u32(a))
        r->oif = (int)mnl_attr_get_u32(a);
    else if (t == RTA_TABLE && valid_u32(a) && mnl_attr_get_u32(a) <= 255)
        r->table = (uint8_t)mnl_attr_get_u32(a);
    return MNL_CB_OK;
}

int stn_parse_route(const struct nlmsghdr *nlh, stn_rt *out)
{
    memset(out, 0, sizeof *out);
    if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof(struct rtmsg))
        return -EINVAL;
    const struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);
    if (rt->rtm_family != AF_INET)
        return -EAFNOSUPPORT;
    if (rt->rtm_dst_len > 32)
        return -EINVAL;
    out->table = rt->rtm_table;
    out->type = rt->rtm_type;
    out->protocol = rt->rtm_protocol;
    out->dst_len = rt->rtm_dst_len;
    if (mnl_attr_parse(nlh, sizeof *rt, route_attr, out) < 0)
        return -EINVAL;
    return 0;
}

enum { W_NONE, W_LINK, W_NEIGH, W_ADDR, W_ROUTE };

/* Whether a whole message, padded to NLMSG_ALIGNTO, lies within left bytes.
 * Not mnl_nlmsg_ok(): it compares (int)nlmsg_len, so a length of 2^31 or
 * more passes and walks the pointer out of the buffer. The padding counts
 * because mnl_attr_parse() walks attributes up to the aligned end of the
 * message (the kernel always pads; a reply that does not is refused). */
static int msg_ok(const struct nlmsghdr *nlh, size_t left)
{
    if (left < sizeof *nlh || nlh->nlmsg_len < sizeof *nlh)
        return 0;
    size_t padded = ((size_t)nlh->nlmsg_len + NLMSG_ALIGNTO - 1) & ~(size_t)(NLMSG_ALIGNTO - 1);
    return padded <= left;
}

/* One walker for the three dumps; seq 0 accepts any sequence number. */
static int walk(const void *buf, size_t len, uint32_t seq, int what, void *cb, void *data)
{
    const struct nlmsghdr *nlh = buf;
    size_t left = len;
    while (msg_ok(nlh, left)) {
        if (seq && nlh->nlmsg_seq != seq)
            return -EPROTO;
        if (nlh->nlmsg_type == NLMSG_DONE)
            return 0;
        if (nlh->nlmsg_type == NLMSG_ERROR) {
            if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nlmsgerr))
                return -EINVAL;
            const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
            return e->error > 0 || e->error < -4095 ? -EINVAL : e->error;
        }
        if (what == W_LINK && nlh->nlmsg_type == RTM_NEWLINK) {
            stn_link l;
            if (stn_parse_link(nlh, &l) < 0)
                return -EINVAL;
            ((stn_link_cb)cb)(&l, data);
        } else if (what == W_NEIGH && nlh->nlmsg_type == RTM_NEWNEIGH) {
            stn_neigh n;
            if (stn_parse_neigh(nlh, &n) < 0)
                return -EINVAL;
            ((stn_neigh_cb)cb)(&n, data);
        } else if (what == W_ADDR && nlh->nlmsg_type == RTM_NEWADDR) {
            stn_addr a;
            int rc = stn_parse_addr(nlh, &a);
            if (rc == -EINVAL)
                return rc;
            if (rc == 0)
                ((stn_addr_cb)cb)(&a, data);
        } else if (what == W_ROUTE && nlh->nlmsg_type == RTM_NEWROUTE) {
            stn_rt r;
            int rc = stn_parse_route(nlh, &r);
            if (rc == -EINVAL)
                return rc;
            if (rc == 0)
                ((stn_route_cb)cb)(&r, data);
        }
        size_t step = NLMSG_ALIGN(nlh->nlmsg_len);
        if (step >= left)
            return 1; /* the last message of this buffer */
        left -= step;
        nlh = (const struct nlmsghdr *)((const char *)nlh + step);
    }
    return left == 0 ? 1 : -EINVAL;
}

int stn_walk_links(const void *buf, size_t len, stn_link_cb cb, void *data)
{
    return walk(buf, len, 0, W_LINK, (void *)cb, data);
}
int stn_walk_neighs(const void *buf, size_t len, stn_neigh_cb cb, void *data)
{
    return walk(buf, len, 0, W_NEIGH, (void *)cb, data);
}
int stn_walk_addrs(const void *buf, size_t len, stn_addr_cb cb, void *data)
{
    return walk(buf, len, 0, W_ADDR, (void *)cb, data);
}

int stn_walk_routes(const void *buf, size_t len, stn_route_cb cb, void *data)
{
    return walk(buf, len, 0, W_ROUTE, (void *)cb, data);
}

/* ---- building ---- */

static struct nlmsghdr *put(void *buf, uint32_t seq, uint16_t type, uint16_t flags)
{
    memset(buf, 0, STN_NL_BUFSZ);
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    nlh->nlmsg_seq = seq;
    return nlh;
}

static struct ifinfomsg *put_ifi(struct nlmsghdr *nlh, int index)
{
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = index;
    return ifi;
}

struct nlmsghdr *stn_msg_newlink_bridge(void *buf, uint32_t seq, const char *name, unsigned mtu)
{
    struct nlmsghdr *nlh = put(buf, seq, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    put_ifi(nlh, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
    struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
    mnl_attr_nest_end(nlh, li);
    return nlh;
}

struct nlmsghdr *stn_msg_newlink_vxlan(void *buf, uint32_t seq, const char *name, uint32_t vni,
                                       uint32_t local, int link, unsigned mtu)
{
    struct nlmsghdr *nlh = put(buf, seq, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    put_ifi(nlh, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
    struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "vxlan");
    struct nlattr *d = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    mnl_attr_put_u32(nlh, IFLA_VXLAN_ID, vni);
    mnl_attr_put_u32(nlh, IFLA_VXLAN_LOCAL, local);
    if (link > 0)
        mnl_attr_put_u32(nlh, IFLA_VXLAN_LINK, (uint32_t)link);
    mnl_attr_put_u16(nlh, IFLA_VXLAN_PORT, htons(4789));
    mnl_attr_put_u8(nlh, IFLA_VXLAN_LEARNING, 0);
    mnl_attr_put_u8(nlh, IFLA_VXLAN_PROXY, 1);
    mnl_attr_nest_end(nlh, d);
    mnl_attr_nest_end(nlh, li);
    return nlh;
}

struct nlmsghdr *stn_msg_newlink_veth(void *buf, uint32_t seq, const char *name, unsigned mtu,
                                      const char *peer, int peer_ns_fd, const uint8_t peer_mac[6])
{
    struct nlmsghdr *nlh = put(buf, seq, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    put_ifi(nlh, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
    struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
    struct nlattr *d = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    struct nlattr *p = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
    /* The peer's attributes follow an ifinfomsg of their own. */
    put_ifi(nlh, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
    mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
    mnl_attr_put(nlh, IFLA_ADDRESS, 6, peer_mac);
    if (peer_ns_fd >= 0)
        mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_ns_fd);
    mnl_attr_nest_end(nlh, p);
    mnl_attr_nest_end(nlh, d);
    mnl_attr_nest_end(nlh, li);
    return nlh;
}

struct nlmsghdr *stn_msg_setlink(void *buf, uint32_t seq, int ifindex, int master, unsigned mtu,
                                 int up, const char *alias)
{
    struct nlmsghdr *nlh = put(buf, seq, RTM_NEWLINK, NLM_F_ACK);
    struct ifinfomsg *ifi = put_ifi(nlh, ifindex);
    ifi->ifi_change = IFF_UP;
    ifi->ifi_flags = up ? IFF_UP : 0;
    if (master >= 0)
        mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
    if (mtu)
        mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
    if (alias)
        mnl_attr_put_strz(nlh, IFLA_IFALIAS, alias);
    return nlh;
}

struct nlmsghdr *stn_msg_dellink(void *buf, uint32_t seq, int ifindex)
{
    struct nlmsghdr *nlh = put(buf, seq, RTM_DELLINK, NLM_F_ACK);
    put_ifi(nlh, ifindex);
    return nlh;
}

struct nlmsghdr *stn_msg_setlink_group(void *buf, uint32_t seq, int ifindex, uint32_t group)
{
    struct nlmsghdr *nlh = put(buf, seq, RTM_NEWLINK, NLM_F_ACK);
    put_ifi(nlh, ifindex);
    mnl_attr_put_u32(nlh, IFLA_GROUP, group);
    return nlh;
}

struct nlmsghdr *stn_msg_dellink_group(void *buf, uint32_t seq, uint32_t group)
{
    struct nlmsghdr *nlh = put(buf, seq, RTM_DELLINK, NLM_F_ACK);
    put_ifi(nlh, 0);
    mnl_attr_put_u32(nlh, IFLA_GROUP, group);
    return nlh;
}

struct nlmsghdr *stn_msg_setlink_mac(void *buf, uint32_t seq, int ifindex, const uint8_t mac[6])
{
    struct nlmsghdr *nlh = put(buf, seq, RTM_NEWLINK, NLM_F_ACK);
    put_ifi(nlh, ifindex);
    mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
    return nlh;
}

struct nlmsghdr *stn_msg_route(void *buf, uint32_t seq, int add, uint32_t dst, uint8_t dst_len,
                               uint32_t gateway, int oif)
{
    struct nlmsghdr *nlh = put(buf, seq, add ? RTM_NEWROUTE : RTM_DELROUTE,
                               NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0));
    struct rtmsg *rt = mnl_nlmsg_put_extra_header(nlh, sizeof *rt);
    rt->rtm_family = AF_INET;
    rt->rtm_dst_len = dst_len;
    rt->rtm_table = RT_TABLE_MAIN;
    rt->rtm_protocol = RTPROT_STATIC;
    rt->rtm_scope = gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
    rt->rtm_type = RTN_UNICAST;
    if (dst_len)
        mnl_attr_put(nlh, RTA_DST, 4, &dst);
    if (gateway)
        mnl_attr_put(nlh, RTA_GATEWAY, 4, &gateway);
    mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif);
    return nlh;
}

static struct nlmsghdr *put_nd(void *buf, uint32_t seq, int add, int family, int ifindex,
                               uint8_t flags, uint16_t nlflags)
{
    struct nlmsghdr *nlh =
        put(buf, seq, add ? RTM_NEWNEIGH : RTM_DELNEIGH, NLM_F_ACK | (add ? nlflags : 0));
    struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof *nd);
    nd->ndm_family = (uint8_t)family;
    nd->ndm_ifindex = ifindex;
    nd->ndm_state = NUD_PERMANENT;
    nd->ndm_flags = flags;
    return nlh;
}

struct nlmsghdr *stn_msg_fdb(void *buf, uint32_t seq, int add, int ifindex, const uint8_t mac[6],
                             uint32_t dst)
{
    struct nlmsghdr *nlh =
        put_nd(buf, seq, add, AF_BRIDGE, ifindex, NTF_SELF, NLM_F_CREATE | NLM_F_APPEND);
    mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
    mnl_attr_put(nlh, NDA_DST, 4, &dst);
    return nlh;
}

struct nlmsghdr *stn_msg_neigh(void *buf, uint32_t seq, int add, int ifindex, uint32_t ip,
                               const uint8_t mac[6])
{
    struct nlmsghdr *nlh = put_nd(buf, seq, add, AF_INET, ifindex, 0, NLM_F_CREATE | NLM_F_REPLACE);
    mnl_attr_put(nlh, NDA_DST, 4, &ip);
    if (add)
        mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
    return nlh;
}

struct nlmsghdr *stn_msg_addr(void *buf, uint32_t seq, int add, int ifindex, uint32_t ip,
                              uint8_t prefix)
{
    struct nlmsghdr *nlh = put(buf, seq, add ? RTM_NEWADDR : RTM_DELADDR,
                               NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0));
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = prefix;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (uint32_t)ifindex;
    mnl_attr_put(nlh, IFA_LOCAL, 4, &ip);
    mnl_attr_put(nlh, IFA_ADDRESS, 4, &ip);
    return nlh;
}

struct nlmsghdr *stn_msg_vf_config(void *buf, uint32_t seq, int pf_ifindex, unsigned vf,
                                   const uint8_t mac[6], unsigned vlan, int spoofchk)
{
    struct nlmsghdr *nlh = put(buf, seq, RTM_NEWLINK, NLM_F_ACK);
    put_ifi(nlh, pf_ifindex);
    struct nlattr *list = mnl_attr_nest_start(nlh, IFLA_VFINFO_LIST);
    struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_VF_INFO);
    struct ifla_vf_mac m;
    memset(&m, 0, sizeof m);
    m.vf = vf;
    memcpy(m.mac, mac, 6);
    mnl_attr_put(nlh, IFLA_VF_MAC, sizeof m, &m);
    struct ifla_vf_vlan v = {.vf = vf, .vlan = vlan, .qos = 0};
    mnl_attr_put(nlh, IFLA_VF_VLAN, sizeof v, &v);
    struct ifla_vf_spoofchk sc = {.vf = vf, .setting = spoofchk ? 1 : 0};
    mnl_attr_put(nlh, IFLA_VF_SPOOFCHK, sizeof sc, &sc);
    mnl_attr_nest_end(nlh, info);
    mnl_attr_nest_end(nlh, list);
    return nlh;
}

struct nlmsghdr *stn_msg_dump(void *buf, uint32_t seq, int type, int family)
{
    struct nlmsghdr *nlh = put(buf, seq, (uint16_t)type, NLM_F_DUMP);
    /* Each dump gets its own family header, so the kernel reads no stray bytes. */
    size_t hdr = type == RTM_GETNEIGH   ? sizeof(struct ndmsg)
                 : type == RTM_GETADDR  ? sizeof(struct ifaddrmsg)
                 : type == RTM_GETROUTE ? sizeof(struct rtmsg)
                                        : sizeof(struct ifinfomsg);
    uint8_t *h = mnl_nlmsg_put_extra_header(nlh, hdr);
    h[0] = (uint8_t)family; /* the family is the first byte of all three */
    return nlh;
}

/* ---- transport ---- */

struct stn_nl {
    struct mnl_socket *sock;
    uint32_t seq, portid;
    char req[STN_NL_BUFSZ];
    char *rx;
    size_t rxcap;
};

int stn_nl_open(stn_nl **out)
{
    stn_nl *nl = calloc(1, sizeof *nl);
    if (!nl)
        return -ENOMEM;
    nl->rxcap = 1 << 16;
    nl->rx = malloc(nl->rxcap);
    nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (!nl->rx || !nl->sock || mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
        int e = nl->sock ? errno : ENOMEM;
        stn_nl_close(nl);
        return -(e ? e : ENOMEM);
    }
    int one = 1;
    /* Extended acks are not needed; a bigger receive buffer keeps big dumps whole. */
    int rcv = 1 << 20;
    setsockopt(mnl_socket_get_fd(nl->sock), SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof one);
    nl->portid = mnl_socket_get_portid(nl->sock);
    nl->seq = (uint32_t)time(NULL);
    *out = nl;
    return 0;
}

void stn_nl_close(stn_nl *nl)
{
    if (!nl)
        return;
    if (nl->sock)
        mnl_socket_close(nl->sock);
    free(nl->rx);
    free(nl);
}

void *stn_nl_buf(stn_nl *nl)
{
    return nl->req;
}
uint32_t stn_nl_seq(stn_nl *nl)
{
    return ++nl->seq;
}

int stn_nl_do(stn_nl *nl, struct nlmsghdr *req)
{
    if (mnl_socket_sendto(nl->sock, req, req->nlmsg_len) < 0)
        return -errno;
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl->sock, nl->rx, nl->rxcap);
        if (n < 0)
            return -errno;
        /* The ack goes through the same checked walker as the dumps. */
        int rc = walk(nl->rx, (size_t)n, req->nlmsg_seq, W_NONE, NULL, NULL);
        if (rc <= 0)
            return rc;
    }
}

static int dump(stn_nl *nl, int type, int family, int what, void *cb, void *data)
{
    uint32_t seq = stn_nl_seq(nl);
    struct nlmsghdr *req = stn_msg_dump(nl->req, seq, type, family);
    if (mnl_socket_sendto(nl->sock, req, req->nlmsg_len) < 0)
        return -errno;
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl->sock, nl->rx, nl->rxcap);
        if (n < 0)
            return -errno;
        int rc = walk(nl->rx, (size_t)n, seq, what, cb, data);
        if (rc <= 0)
            return rc;
    }
}

int stn_nl_links(stn_nl *nl, stn_link_cb cb, void *data)
{
    return dump(nl, RTM_GETLINK, AF_UNSPEC, W_LINK, (void *)cb, data);
}
int stn_nl_neighs(stn_nl *nl, int family, stn_neigh_cb cb, void *data)
{
    return dump(nl, RTM_GETNEIGH, family, W_NEIGH, (void *)cb, data);
}
int stn_nl_addrs(stn_nl *nl, stn_addr_cb cb, void *data)
{
    return dump(nl, RTM_GETADDR, AF_INET, W_ADDR, (void *)cb, data);
}
int stn_nl_routes(stn_nl *nl, stn_route_cb cb, void *data)
{
    return dump(nl, RTM_GETROUTE, AF_INET, W_ROUTE, (void *)cb, data);
}
