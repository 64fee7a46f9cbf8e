/*
 * rebalance.h - the rebalancing plan: which instances to move so that the
 * hosts' CPU and memory loads even out (the design's global performance
 * optimisation), as a pure function over the scheduler's snapshot of the
 * hosts and their instances (no database, no migration).
 *
 * A host's load is two fractions: CPU, the CPUs its instances keep busy
 * (measured: the caller's figure per instance, e.g. the metering samples of
 * the last minutes) over its physical CPUs; memory, the MiB its instances
 * reserve over its memory. Only hosts in service count, give or take: on,
 * alive (heartbeat) and enabled. The imbalance of a dimension is its spread,
 * the most loaded host's fraction less the least loaded's.
 *
 * While a dimension's spread is above the threshold, the plan moves one
 * instance off the host most loaded in it (the dimension furthest over the
 * threshold first, then the other), to a host less loaded in it: the
 * instance and destination whose move lowers the pool's imbalance most (the
 * capacity-weighted variance of both fractions), through every filter the
 * scheduler applies to a new placement (sched_core.h: capacity, server
 * group, SR-IOV VFs, firmware) and the migration's (the host receives a
 * live migration, and copies the disk along when it is the source host's
 * own). A move that would not lower it, or would leave the destination as
 * loaded as the source was, is not made; the plan stops there, at the
 * threshold, or at max_moves.
 *
 * Never moved: pinned instances (the caller's: not running, in a task, an
 * SR-IOV port, a local disk it will not copy), a member of an affinity group
 * with other members (it would leave them), an instance moved within the
 * cool-down (so none goes back and forth), nor onto the host it was moved
 * off within the cool-down. In one plan a host either gives or takes, never
 * both, and an instance moves at most once, so the moves are independent:
 * the caller may run them (live migration) in any order, a few at a time,
 * and plan again.
 *
 * bench/sched replays a day of load with and without it; the gateway's
 * rebalance tests check the rules above.
 */
#ifndef GW_REBALANCE_H
#define GW_REBALANCE_H

#include "sched_core.h"

typedef struct gw_rb_vm {
    int host; /* index into the hosts */
    int vcpus, memory_mib, disk_gib;
    double cpu;          /* CPUs it keeps busy (0 .. vcpus) */
    int group;           /* its server group: an id its members share, < 0 none */
    int anti_affinity;   /* the group's policy: 1 anti-affinity, 0 affinity */
    int firmware;        /* boots through firmware: needs a host with it */
    int block_migration; /* its disk is the host's own: a move copies it, the host must take that */
    long long moved_at;  /* when it last moved (the caller's clock), < 0: never */
    int moved_from;      /* the host it last moved off, < 0: none */
    int pinned;          /* never moved */
} gw_rb_vm;

typedef struct gw_rb_conf {
    double threshold;   /* spread tolerated in either dimension, a fraction (0, 1] */
    int max_moves;      /* per plan */
    long long cooldown; /* an instance moved within this is not moved again */
} gw_rb_conf;

typedef struct gw_rb_load {
    double cpu, mem; /* fractions of the host's CPUs and memory */
} gw_rb_load;

typedef struct gw_rb_move {
    int vm, from, to;
    gw_rb_load from_before, from_after, to_before, to_after; /* the two hosts' loads */
} gw_rb_move;

typedef struct gw_rb_imbalance {
    int hosts; /* in service */
    double cpu_spread, cpu_max, cpu_min, cpu_stddev;
    double mem_spread, mem_max, mem_min, mem_stddev;
} gw_rb_imbalance;

/* 1 when host h counts for the imbalance and may give or take: on, alive, enabled. */
int gw_rebalance_in_service(const gw_host *h);

/* Each host's loads as the instances stand (nh entries). */
void gw_rebalance_loads(const gw_host *hosts, int nh, const gw_rb_vm *vms, int nv,
                        gw_rb_load *loads);

/* The imbalance of the hosts in service, from their loads. */
gw_rb_imbalance gw_rebalance_imbalance(const gw_host *hosts, const gw_rb_load *loads, int nh);

/*
 * Plans at most rc->max_moves moves (written to moves, each move's vm an
 * index into vms); before and after (nh entries each, either may be NULL)
 * receive each host's loads now and once the moves are made. Returns the
 * number of moves, or -1 when out of memory. hosts and vms are not changed.
 * The moves are what the caller hands to the migrate action, one each.
 */
int gw_rebalance_plan(const gw_sched_conf *c, const gw_rb_conf *rc, const gw_host *hosts, int nh,
                      const gw_rb_vm *vms, int nv, long long now, gw_rb_move *moves,
                      gw_rb_load *before, gw_rb_load *after);

#endif
