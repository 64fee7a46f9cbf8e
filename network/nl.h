/*
 * nl.h - rtnetlink for the data plane (internal to libstratus_net).
 *
 * Three layers, kept apart so each can be tested alone:
 *   - builders stn_msg_*() write one request into a caller's buffer
 *     (checked byte for byte against the kernel's uapi structs by
 *     network_nlmsg);
 *   - parsers stn_parse_*() read one reply message into a plain struct,
 *     trusting nothing: every length is checked (fuzzed by
 *     network_fuzz_nlreply);
 *   - the transport stn_nl_*() sends a request and reads its ack or dump.
 * A buffer holds STN_NL_BUFSZ bytes, enough for any message built here.
 */
#ifndef STN_NL_H
#define STN_NL_H

#include <linux/netlink.h>
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#define STN_NL_BUFSZ 8192

typedef struct stn_link {
    int index;
    char name[IFNAMSIZ];
    char kind[16];
    char alias[128];
    int master;
    unsigned mtu;
    unsigned flags; /* IFF_* */
    uint32_t group; /* IFLA_GROUP (0: the default group) */
    uint8_t addr[6];
    int has_addr;
    /* IFLA_INFO_DATA for kind "vxlan" */
    int has_vxlan;
    uint32_t vx_vni, vx_local, vx_group, vx_link; /* addresses in network order */
    uint16_t vx_port;                             /* host order */
    uint8_t vx_learning, vx_proxy;
    /* IFLA_INFO_DATA for kind "tun" */
    int has_tun;
    uint8_t tun_type, tun_pi, tun_vnet_hdr, tun_persist, tun_mq;
    uint32_t tun_owner, tun_group;
} stn_link;

typedef struct stn_neigh {
    int family; /* AF_BRIDGE (fdb) or AF_INET */
    int ifindex;
    uint16_t state;
    uint8_t flags;
    uint8_t lladdr[6];
    int has_lladdr;
    uint32_t dst; /* NDA_DST, IPv4 only, network order */
    int has_dst;
} stn_neigh;

typedef struct stn_addr {
    int ifindex;
    uint8_t prefix;
    uint32_t local; /* network order */
} stn_addr;

/* An IPv4 route (RTM_NEWROUTE), as far as a router namespace needs one. */
typedef struct stn_rt {
    uint8_t table, type, protocol, dst_len;
    uint32_t dst, gateway; /* network order; 0 when absent */
    int oif;
} stn_rt;

/* Parsers: 0 on success, -EINVAL for a malformed or foreign message. */
int stn_parse_link(const struct nlmsghdr *nlh, stn_link *out);
int stn_parse_neigh(const struct nlmsghdr *nlh, stn_neigh *out);
int stn_parse_addr(const struct nlmsghdr *nlh, stn_addr *out);
int stn_parse_route(const struct nlmsghdr *nlh, stn_rt *out); /* -EAFNOSUPPORT: not IPv4 */

/* Walks a buffer of dump replies; cb gets each parsed object. Returns 0 at
 * NLMSG_DONE or the end of the buffer, 1 when more is to come, or a negative
 * errno (an NLMSG_ERROR's code, or -EINVAL for malformed data). */
typedef void (*stn_link_cb)(const stn_link *l, void *data);
typedef void (*stn_neigh_cb)(const stn_neigh *n, void *data);
typedef void (*stn_addr_cb)(const stn_addr *a, void *data);
typedef void (*stn_route_cb)(const stn_rt *r, void *data);
int stn_walk_links(const void *buf, size_t len, stn_link_cb cb, void *data);
int stn_walk_neighs(const void *buf, size_t len, stn_neigh_cb cb, void *data);
int stn_walk_addrs(const void *buf, size_t len, stn_addr_cb cb, void *data);
int stn_walk_routes(const void *buf, size_t len, stn_route_cb cb, void *data);

/* Builders: return the message; buf holds STN_NL_BUFSZ bytes. Addresses in
 * network order. */
struct nlmsghdr *stn_msg_newlink_bridge(void *buf, uint32_t seq, const char *name, unsigned mtu);
struct nlmsghdr *stn_msg_newlink_vxlan(void *buf, uint32_t seq, const char *name, uint32_t vni,
                                       uint32_t local, int link, unsigned mtu);
struct nlmsghdr *stn_msg_newlink_veth(void *buf, uint32_t seq, const char *name, unsigned mtu,
                                      const char *peer, int peer_ns_fd, const uint8_t peer_mac[6]);
/* master < 0 and mtu 0 leave those alone; alias NULL leaves it alone. */
struct nlmsghdr *stn_msg_setlink(void *buf, uint32_t seq, int ifindex, int master, unsigned mtu,
                                 int up, const char *alias);
struct nlmsghdr *stn_msg_dellink(void *buf, uint32_t seq, int ifindex);
/* The link's group (IFLA_GROUP). */
struct nlmsghdr *stn_msg_setlink_group(void *buf, uint32_t seq, int ifindex, uint32_t group);
/* The group links are moved to just before one RTM_DELLINK deletes them all
 * ("stdg"). A link found in it otherwise is one of ours left there by a run
 * that died in between (moved back), or a foreign one (host.c then deletes
 * one link at a time). */
#define STN_DOOMED_GROUP 0x73746467u
/* Deletes every link of the namespace in group: ifi_index 0 and IFLA_GROUP,
 * which the kernel serves with one unregister_netdevice_many(), so one RCU
 * grace period for all of them instead of one per link. */
struct nlmsghdr *stn_msg_dellink_group(void *buf, uint32_t seq, uint32_t group);
/* The link's MAC (IFLA_ADDRESS). */
struct nlmsghdr *stn_msg_setlink_mac(void *buf, uint32_t seq, int ifindex, const uint8_t mac[6]);
/* A route in the main table: add (replace) or delete; gateway 0 for none. */
struct nlmsghdr *stn_msg_route(void *buf, uint32_t seq, int add, uint32_t dst, uint8_t dst_len,
                               uint32_t gateway, int oif);
struct nlmsghdr *stn_msg_fdb(void *buf, uint32_t seq, int add, int ifindex, const uint8_t mac[6],
                             uint32_t dst);
struct nlmsghdr *stn_msg_neigh(void *buf, uint32_t seq, int add, int ifindex, uint32_t ip,
                               const uint8_t mac[6]);
struct nlmsghdr *stn_msg_addr(void *buf, uint32_t seq, int add, int ifindex, uint32_t ip,
                              uint8_t prefix);
/* IFLA_VFINFO_LIST { IFLA_VF_INFO { IFLA_VF_MAC, IFLA_VF_VLAN, IFLA_VF_SPOOFCHK } } on the PF. */
struct nlmsghdr *stn_msg_vf_config(void *buf, uint32_t seq, int pf_ifindex, unsigned vf,
                                   const uint8_t mac[6], unsigned vlan, int spoofchk);
struct nlmsghdr *stn_msg_dump(void *buf, uint32_t seq, int type, int family);

/* Transport. */
typedef struct stn_nl stn_nl;
int stn_nl_open(stn_nl **out);
void stn_nl_close(stn_nl *nl);
void *stn_nl_buf(stn_nl *nl);                    /* scratch buffer for one request */
uint32_t stn_nl_seq(stn_nl *nl);                 /* the next sequence number */
int stn_nl_do(stn_nl *nl, struct nlmsghdr *req); /* 0 or -errno from the ack */
int stn_nl_links(stn_nl *nl, stn_link_cb cb, void *data);
int stn_nl_neighs(stn_nl *nl, int family, stn_neigh_cb cb, void *data);
int stn_nl_addrs(stn_nl *nl, stn_addr_cb cb, void *data);
int stn_nl_routes(stn_nl *nl, stn_route_cb cb, void *data);

#endif
