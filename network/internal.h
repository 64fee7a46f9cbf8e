/*
 * internal.h - what the files of libstratus_net share (never installed).
 *
 * A converge pass runs in this order, each step reading the kernel first:
 *   router namespaces (router.c) -> links (host.c) -> addresses (host.c)
 *   -> FDB/neighbours (l2pop.c) -> nftables (nft.c) -> dnsmasq (dhcp.c)
 *   -> inside each router namespace (router.c).
 * Links come first because the later steps name them by index; router
 * namespaces come before them because a router's legs are created with
 * their peer in it.
 */
#ifndef STN_INTERNAL_H
#define STN_INTERNAL_H

#include "nl.h"

#include <stdarg.h>
#include <stratus/net.h>

#define STN_ALIAS_NET "stratus:net:"
#define STN_ALIAS_PORT "stratus:port:"
#define STN_ALIAS_RTR "stratus:rtr:"
#define STN_NETNS_PATH_MAX 512 /* netns_dir + "/str-" + a router id */

struct stn_ctx {
    stn_nl *nl;
    char *state_dir;
    char *dnsmasq;
    char *netns_dir;
    /* Links as dumped at the start of the current step. */
    stn_link *links;
    size_t n_links, cap_links;
};

__attribute__((format(printf, 3, 4))) int stn_fail(char *err, size_t errlen, const char *fmt, ...);

void stn_bridge_name(char out[IFNAMSIZ], uint32_t vni);
void stn_vxlan_name(char out[IFNAMSIZ], uint32_t vni);
const stn_network *stn_find_network(const stn_state *s, const char *id);
const stn_secgroup *stn_find_sg(const stn_state *s, const char *id);

int stn_reload_links(stn_ctx *c);
const stn_link *stn_link_by_name(const stn_ctx *c, const char *name);

int stn_converge_links(stn_ctx *c, const stn_state *s, stn_stats *st, char *err, size_t errlen);
int stn_converge_addrs(stn_ctx *c, const stn_state *s, stn_stats *st, char *err, size_t errlen);
int stn_converge_l2pop(stn_ctx *c, const stn_state *s, stn_stats *st, char *err, size_t errlen);
int stn_converge_nft(stn_ctx *c, const stn_state *s, stn_stats *st, char *err, size_t errlen);
int stn_nft_remove(stn_stats *st, char *err, size_t errlen);
int stn_converge_dhcp(stn_ctx *c, const stn_state *s, stn_stats *st, char *err, size_t errlen);

/* router.c */
void stn_router_leg(char out[IFNAMSIZ], const char *router_id, const char *network_id);
void stn_router_ns_path(const stn_ctx *c, const char *router_id, char *out, size_t cap);
int stn_converge_router_ns(stn_ctx *c, const stn_state *s, stn_stats *st, char *err, size_t errlen);
int stn_converge_routers(stn_ctx *c, const stn_state *s, stn_stats *st, char *err, size_t errlen);

/* tap.c: creates a persistent tap for stratus-vmm. */
int stn_tap_create(const char *name, uid_t owner, gid_t group);

#endif
