/*
 * consolidate.h - the consolidation plan: which instances to move so that
 * whole hosts empty and can be powered off (the design's global power
 * optimisation), as a pure function over the scheduler's snapshot of the
 * hosts and their instances (no database, no migration).
 *
 * The plan empties the least loaded hosts first, and a host only whole: all
 * of its instances move, or none do (a host left with one instance saves
 * nothing). Each instance goes where the scheduler itself would put it with
 * the pack policy (sched_core.h: every filter applies), onto a host that is
 * powered on (holds instances) and stays on, filled only up to a target
 * fraction of its memory and vCPUs so that new instances still find room.
 * A host that receives an instance is not emptied in the same plan, so no
 * instance moves twice in a plan; one moved within the cool-down is not
 * moved again (no ping-pong), and pinned ones (a server group's members, an
 * SR-IOV port, a local disk the caller will not copy) hold their host.
 * Hosts already draining (an earlier run began emptying them) come first,
 * so a run finishes what the last one started; they take nothing.
 * Moves are bounded per plan: the caller runs them (live migration, a few
 * at a time) and plans again.
 *
 * bench/sched replays a day of load with and without it; the gateway's
 * scheduler tests check the rules above.
 */
#ifndef GW_CONSOLIDATE_H
#define GW_CONSOLIDATE_H

#include "sched_core.h"

typedef struct gw_cons_vm {
    int host; /* index into the hosts */
    int vcpus, memory_mib, disk_gib;
    int firmware;        /* boots through firmware: needs a host with it */
    int block_migration; /* its disk is the host's own: a move copies it, the host must take that */
    long long moved_at;  /* when it last moved (the caller's clock), < 0: never */
    int pinned;          /* never moved */
} gw_cons_vm;

typedef struct gw_cons_conf {
    double target;      /* destinations filled up to this fraction (0, 1] */
    int max_moves;      /* per plan */
    long long cooldown; /* an instance moved within this is not moved again */
    int live_migration; /* destinations must receive a live migration (gw_host.live_migration) */
} gw_cons_conf;

typedef struct gw_cons_move {
    int vm, from, to;
} gw_cons_move;

/*
 * Plans at most cc->max_moves moves (written to moves) that empty whole
 * hosts; emptied[i] is set to 1 for each host the plan empties (nh
 * entries, zeroed first). Returns the number of moves, or -1 when out of
 * memory. hosts and vms are not changed.
 */
int gw_consolidate_plan(const gw_sched_conf *c, const gw_cons_conf *cc, const gw_host *hosts,
                        int nh, const gw_cons_vm *vms, int nv, long long now, gw_cons_move *moves,
                        int *emptied);

#endif
