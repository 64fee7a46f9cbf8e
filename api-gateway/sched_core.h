/*
 * sched_core.h - the placement decision, as a pure function over a snapshot
 * of the hosts (no database): filters remove hosts that cannot take the
 * instance, weighers rank the rest. scheduler.c loads the snapshot and makes
 * the claim; bench/gateway and the unit tests call gw_sched_pick() directly.
 */
#ifndef GW_SCHED_CORE_H
#define GW_SCHED_CORE_H

#include <stddef.h>

typedef enum gw_sched_policy {
    GW_SCHED_SPREAD, /* balance load: prefer the emptiest host (performance) */
    GW_SCHED_PACK,   /* fill hosts: prefer the fullest host that fits (power) */
} gw_sched_policy;

/* A node's power_state (migrations/0028_node_power.sql), as gw_host.power. */
typedef enum gw_power_state {
    GW_POWER_ON, /* zero: hosts made without a power state are on */
    GW_POWER_POWERING_OFF,
    GW_POWER_OFF,
    GW_POWER_POWERING_ON,
} gw_power_state;
/* "on", "powering_off", "off", "powering_on"; parse answers GW_POWER_ON for
 * anything else. */
const char *gw_power_state_name(int p);
int gw_power_state_parse(const char *s);

typedef struct gw_host {
    char id[40];
    char name[64];
    int disabled;
    int draining; /* being emptied by the consolidation (nodes.draining_until): no placement */
    int power;    /* gw_power_state (power.c): nothing is placed unless GW_POWER_ON */
    int alive;    /* heartbeat within nodes.down_after */
    long long vcpus, memory_mib, disk_gib; /* capacity */
    long long used_vcpus, used_memory_mib, used_disk_gib;
    long long sriov_vfs, used_vfs; /* SR-IOV VFs enabled; taken by placed direct ports */
    int firmware;                  /* its agent found its BIOS: boots disk images */
    int live_migration;            /* its agent takes part in live migrations */
    int block_migration;           /* ... and copies a local disk along (block migration) */
    int instances;
    int tried;        /* already failed to launch this instance */
    int group_member; /* holds a live member of the instance's server group */
} gw_host;

typedef struct gw_sched_req {
    int vcpus, memory_mib, disk_gib;
    enum { GW_GROUP_NONE, GW_GROUP_AFFINITY, GW_GROUP_ANTI_AFFINITY } group;
    int group_has_members; /* affinity binds only once a member is placed */
    int direct_ports;      /* vnic_type "direct": each needs a free VF on the host */
    int firmware;          /* boots through firmware: needs a host with it */
    const char *only_node; /* scheduler.c: this node or none (an admin's target); NULL: any */
    const char *not_node;  /* never this node (a live migration's source); NULL: none */
    int live_migration;    /* a live migration's target: its agent must receive one */
    int block_migration;   /* ... that copies the disk along: its agent must take that too */
    int no_wake;           /* scheduler.c: never power a host on for it */
} gw_sched_req;

typedef struct gw_sched_conf {
    gw_sched_policy policy;
    double cpu_overcommit; /* vCPUs placed per physical CPU */
} gw_sched_conf;

/*
 * The index of the best host, or -1 with why (which filter removed how many
 * hosts) written for the tenant's fault message.
 */
int gw_sched_pick(const gw_sched_conf *conf, const gw_host *hosts, int n, const gw_sched_req *req,
                  char *why, size_t whylen);

/* The first filter host h fails (an index in the order above), or -1 when it
 * passes them all: the placement's test for one host (rebalance.c). */
int gw_sched_failing_filter(const gw_sched_conf *conf, const gw_host *h, const gw_sched_req *req);

/* The filters, exposed for the unit tests: 1 when host h passes. */
int gw_filter_enabled(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r);
int gw_filter_not_draining(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r);
int gw_filter_powered(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r);
int gw_filter_alive(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r);
int gw_filter_not_tried(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r);
int gw_filter_fits_host(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r);
int gw_filter_vcpus(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r);
int gw_filter_memory(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r);
int gw_filter_disk(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r);
int gw_filter_group(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r);
int gw_filter_vfs(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r);
int gw_filter_migration(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r);
int gw_filter_firmware(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r);
/* The weigher: higher is better, in [0, 1]. */
double gw_weigh(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r);

const char *gw_sched_policy_name(gw_sched_policy p);
int gw_sched_policy_parse(const char *s, gw_sched_policy *out);

#endif
