/*
 * net.h - the host data plane of Stratus tenant networks (libstratus_net).
 *
 * The node agent describes the WHOLE desired tenant networking of this host
 * in one stn_state and calls stn_converge(). The call is level-triggered: it
 * reads what the kernel has (links, FDB, neighbours, the nftables tables,
 * the dnsmasq processes), adds what is missing, removes what is extra and
 * leaves alone what is already right. Calling it twice changes nothing; after
 * the caller is killed and restarted it changes nothing; on a wiped host it
 * rebuilds everything.
 *
 * What the library owns on a host (and so may delete):
 *   - links whose ifalias starts with "stratus:" (bridges "stb<vni>",
 *     VXLAN devices "stv<vni>", and the ports, named by the caller);
 *   - FDB and neighbour entries on its VXLAN devices;
 *   - the nftables tables `bridge stratus` and `inet stratus`;
 *   - dnsmasq processes whose pid files live in state_dir;
 *   - router namespaces "str-<router id>" in netns_dir (everything in them),
 *     and their host-side veth legs (ifalias "stratus:rtr:...").
 * An external network's uplink (a device the caller names) is enslaved to
 * the network's bridge and set up, nothing else: it is never deleted.
 * Everything else on the host is never touched.
 *
 * All calls act in the network namespace the calling thread is in when
 * stn_open() is called (the netlink sockets are bound to it) and, for taps
 * and dnsmasq, when stn_converge() runs: call both from the same namespace.
 *
 * Errors: 0 or a negative errno; err (may be NULL) gets a one-line reason.
 */
#ifndef STRATUS_NET_H
#define STRATUS_NET_H

#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STN_ID_MAX 64 /* ids: [A-Za-z0-9_-], 1..63 characters */
#define STN_MAX_IPS 4 /* fixed IPs per port */
#define STN_MAX_SGS 8 /* security groups per port */
#define STN_MAX_DNS 3
#define STN_MAX_ROUTES 8
#define STN_MAX_ROUTER_IFS 64 /* tenant networks one router joins */
#define STN_MD_CONNS 64       /* connections one port address may hold to the metadata service */

typedef struct stn_route {
    struct in_addr dst; /* network */
    uint8_t prefix;
    struct in_addr via;
} stn_route;

/* A network present on this host. Devices: bridge "stb<vni>", VXLAN "stv<vni>".
 * An external network (uplink set) is flat instead: bridge "stb<vni>" with
 * the uplink device enslaved, no VXLAN device, no DHCP, no remote ports. */
typedef struct stn_network {
    char id[STN_ID_MAX];
    uint32_t vni;                /* 1 .. 16777215 */
    unsigned mtu;                /* tenant MTU, e.g. 1450 over a 1500 underlay */
    char underlay_dev[IFNAMSIZ]; /* the device the local VTEP address is on */
    struct in_addr local_vtep;   /* this host's underlay address */
    char uplink[IFNAMSIZ];       /* "" for an overlay network; else the external uplink */
    /* DHCP (dnsmasq on the bridge), when dhcp is set. */
    int dhcp;
    struct in_addr cidr;    /* subnet network address */
    uint8_t prefix;         /* subnet prefix length */
    struct in_addr dhcp_ip; /* the DHCP server's address (put on the bridge as /32) */
    struct in_addr gateway; /* 0.0.0.0: no router option */
    struct in_addr dns[STN_MAX_DNS];
    size_t n_dns;
    stn_route routes[STN_MAX_ROUTES];
    size_t n_routes;
} stn_network;

typedef enum stn_port_kind {
    STN_PORT_TAP = 0,  /* virtio port: a persistent tap stratus-vmm opens */
    STN_PORT_VETH = 1, /* a veth whose peer goes into another namespace */
} stn_port_kind;

/* A port on this host. mac/ips are the guest's (what anti-spoofing allows). */
typedef struct stn_port {
    char id[STN_ID_MAX];
    char network_id[STN_ID_MAX];
    stn_port_kind kind;
    char ifname[IFNAMSIZ]; /* the host-side device (tap or veth end) */
    uint8_t mac[6];
    struct in_addr ips[STN_MAX_IPS];
    size_t n_ips;
    char sgs[STN_MAX_SGS][STN_ID_MAX];
    size_t n_sgs;
    /* STN_PORT_TAP: who may open the tap (TUNSETOWNER/TUNSETGROUP). */
    uid_t owner;
    gid_t group;
    /* STN_PORT_VETH: the peer's name and namespace (a path like
     * /run/netns/NAME); the peer gets mac and the network's MTU. */
    char peer_ifname[IFNAMSIZ];
    char peer_netns[256];
    /* Metadata seam: a non-zero tag is written to the conntrack mark of the
     * port's connections to 169.254.169.254:80 (see stn_state.metadata_port). */
    uint32_t md_tag;
} stn_port;

/* A port on another host (l2population): FDB mac -> vtep, neighbour ip -> mac. */
typedef struct stn_remote_port {
    char network_id[STN_ID_MAX];
    uint8_t mac[6];
    struct in_addr ip;
    struct in_addr vtep;
} stn_remote_port;

typedef enum stn_dir { STN_INGRESS = 0, STN_EGRESS = 1 } stn_dir;

typedef struct stn_sg_rule {
    stn_dir direction;
    int ethertype;     /* 4 (IPv6 rules are accepted and ignored: ports carry no IPv6) */
    int protocol;      /* 0 any, else an IP protocol number (1 icmp, 6 tcp, 17 udp) */
    uint16_t port_min; /* tcp/udp only; 0: any */
    uint16_t port_max;
    struct in_addr remote_cidr; /* with remote_prefix; used when remote_group is empty */
    uint8_t remote_prefix;      /* 0 with cidr 0.0.0.0: anywhere */
    char remote_group[STN_ID_MAX];
} stn_sg_rule;

typedef struct stn_secgroup {
    char id[STN_ID_MAX];
    stn_sg_rule *rules;
    size_t n_rules;
    /* IPv4 addresses of the group's members on every host (local ports'
     * addresses are added by the library). */
    struct in_addr *members;
    size_t n_members;
} stn_secgroup;

/* ---- routers (Neutron's legacy L3 agent: one namespace per router) ----
 * A router on this host is a network namespace "str-<id>" (in
 * stn_options.netns_dir) with a veth leg into each joined network's bridge
 * ("qr-<vni>" inside, holding the subnet's gateway address and the router
 * interface port's MAC) and one into its external network's bridge
 * ("qg-<vni>", the gateway port's address and MAC, and every floating IP as
 * a /32), IPv4 forwarding on, a default route via the external subnet's
 * gateway, and one nftables table `ip stratus_router`: DNAT floating ->
 * fixed, SNAT fixed -> floating, and (snat) the joined subnets -> gw_ip. */
typedef struct stn_router_if {
    char network_id[STN_ID_MAX]; /* an overlay network in stn_state.networks */
    uint8_t mac[6];              /* the router interface port's MAC */
    struct in_addr ip;           /* the subnet's gateway address */
    uint8_t prefix;              /* the subnet's prefix length */
} stn_router_if;

typedef struct stn_fip {
    struct in_addr floating; /* an address of the external network */
    struct in_addr fixed;    /* a tenant port's fixed IP behind a joined network */
} stn_fip;

typedef struct stn_router {
    char id[STN_ID_MAX];
    stn_router_if ifs[STN_MAX_ROUTER_IFS];
    size_t n_ifs;
    /* The external gateway; ext_network_id "" when the router has none. */
    char ext_network_id[STN_ID_MAX]; /* an external network (uplink set) */
    uint8_t gw_mac[6];
    struct in_addr gw_ip;       /* the gateway port's address: SNAT source */
    uint8_t gw_prefix;          /* the external subnet's prefix length */
    struct in_addr ext_gateway; /* the external subnet's gateway (default route); 0: none */
    int snat;                   /* enable_snat: the joined subnets leave as gw_ip */
    stn_fip *fips;
    size_t n_fips;
} stn_router;

typedef struct stn_state {
    stn_network *networks;
    size_t n_networks;
    stn_port *ports;
    size_t n_ports;
    stn_remote_port *remotes;
    size_t n_remotes;
    stn_secgroup *sgs;
    size_t n_sgs;
    /* Metadata (stratus/metadata.h): when non-zero, tcp to 169.254.169.254:80
     * arriving on a bridge is redirected to this local port (its conntrack
     * mark set to the port's md_tag, for conntrack -L), at most STN_MD_CONNS
     * connections at once per port address. */
    uint16_t metadata_port;
    stn_router *routers; /* routers placed on this host */
    size_t n_routers;
} stn_state;

typedef struct stn_ctx stn_ctx;

typedef struct stn_options {
    const char *state_dir; /* dnsmasq configs, leases and pid files; must exist */
    const char *dnsmasq;   /* program to run; NULL: "dnsmasq" from PATH */
    const char *netns_dir; /* router namespaces; NULL: "/run/netns" (as ip netns) */
} stn_options;

/* What a converge call did (all zero on a second call with the same state). */
typedef struct stn_stats {
    unsigned links_added, links_changed, links_removed;
    unsigned fdb_added, fdb_removed, neigh_added, neigh_removed;
    unsigned addrs_added, addrs_removed;
    unsigned nft_applied; /* 1 when the ruleset was replaced */
    unsigned dhcp_started, dhcp_reloaded, dhcp_stopped;
    unsigned routers_added, routers_removed; /* namespaces */
    unsigned router_changes; /* inside router namespaces: links, addresses, routes, sysctl, nft */
} stn_stats;

int stn_open(stn_ctx **out, const stn_options *opt, char *err, size_t errlen);
void stn_close(stn_ctx *c);

/* Checks the whole state (names, ids, references) before touching anything. */
int stn_validate(const stn_state *s, char *err, size_t errlen);

/* Converges this host to s. stats may be NULL. */
int stn_converge(stn_ctx *c, const stn_state *s, stn_stats *stats, char *err, size_t errlen);

/* Removes everything the library owns on this host (the list at the top:
 * links, router namespaces, dnsmasq servers and their files, and both
 * nftables tables), as when a node stops being one; an external uplink is
 * only released from its bridge. stats may be NULL. The same stn_options
 * (state_dir, netns_dir) as the converges that built it. */
int stn_teardown(stn_ctx *c, stn_stats *stats, char *err, size_t errlen);

/* The nftables transaction stn_converge() would apply for s (malloc'd text,
 * NULL on error): exposed for tests and the benchmark. */
char *stn_nft_render(const stn_state *s, char *err, size_t errlen);

/* The nftables transaction of router r's namespace (malloc'd text). */
char *stn_router_nft_render(const stn_state *s, const stn_router *r, char *err, size_t errlen);

/* The dnsmasq configuration for network n (malloc'd text). */
char *stn_dhcp_render(const stn_state *s, const stn_network *n, const char *state_dir);

/* ---- SR-IOV (vnic_type direct): discovery and VF configuration ----
 * Verified here only against a sysfs tree laid out like a real NIC's and
 * byte for byte against the uapi (see README.md); no SR-IOV NIC here. */
typedef struct stn_pf {
    char name[IFNAMSIZ];
    char pci[32];       /* e.g. 0000:3b:00.0 */
    unsigned total_vfs; /* sriov_totalvfs */
    unsigned num_vfs;   /* sriov_numvfs (enabled) */
} stn_pf;

typedef struct stn_vf {
    char pf[IFNAMSIZ];
    unsigned index; /* virtfn<index> */
    char pci[32];
    char driver[32];       /* "" when unbound, e.g. "iavf" or "vfio-pci" */
    char netdev[IFNAMSIZ]; /* "" when the VF has no host netdev (e.g. on vfio-pci) */
} stn_vf;

/* Reads <sysfs_root>/class/net/<dev>/device/{sriov_totalvfs,sriov_numvfs,
 * virtfn*} (sysfs_root is "/sys" on a host). Fills at most max entries of
 * each; *n_pfs / *n_vfs get the counts. */
int stn_sriov_scan(const char *sysfs_root, stn_pf *pfs, size_t max_pfs, size_t *n_pfs, stn_vf *vfs,
                   size_t max_vfs, size_t *n_vfs, char *err, size_t errlen);

/* Sets VF vf of PF pf_name: MAC, VLAN (0: none) and spoof checking, in one
 * RTM_NEWLINK with IFLA_VFINFO_LIST. */
int stn_sriov_set_vf(stn_ctx *c, const char *pf_name, unsigned vf, const uint8_t mac[6],
                     unsigned vlan, int spoofchk, char *err, size_t errlen);

#endif
