/*
 * sched_core.c - filters, then weighers (see sched_core.h).
 *
 * Filters, in order, each with a name for the "no valid host" message:
 *   enabled     an admin has not disabled the host
 *   draining    the consolidation is not emptying it (schedrun.c)
 *   powered     its power state is on (not off, nor powering off or on)
 *   alive       its agent sent a heartbeat recently
 *   not tried   it has not already failed to launch this instance
 *   fits host   one instance's vCPUs and memory fit the host's own size
 *               (overcommit cannot give a 4-vCPU guest 4 CPUs on a 2-CPU host)
 *   vcpus       reserved vCPUs + the instance <= capacity x overcommit ratio
 *   memory      reserved memory + the instance <= capacity (never overcommitted)
 *   disk        reserved disk + the instance <= capacity
 *   group       affinity: on a host holding a member (once one is placed);
 *               anti-affinity: not on a host holding a member
 *   vfs         one free SR-IOV virtual function per `direct` port: the VFs
 *               the host's agent reports, less those its placed instances'
 *               direct ports hold
 *
 * The weigher scores what would be left free on the host after placing the
 * instance: the mean of the free fractions of memory and vCPUs. Spread takes
 * the highest score (the emptiest host: load balanced, best performance);
 * pack takes the lowest (the fullest host that fits, so hosts left empty can
 * be powered off). Ties go to the host with fewer instances (spread) or more
 * (pack), then to the name, so a decision is deterministic.
 */
#include "sched_core.h"

#include <stdio.h>
#include <string.h>

int gw_filter_enabled(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r)
{
    return !h->disabled;
}

int gw_filter_not_draining(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r)
{
    return !h->draining;
}

int gw_filter_powered(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r)
{
    return h->power == GW_POWER_ON;
}

int gw_filter_alive(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r)
{
    return h->alive;
}

int gw_filter_not_tried(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r)
{
    return !h->tried;
}

int gw_filter_fits_host(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r)
{
    return r->vcpus <= h->vcpus && r->memory_mib <= h->memory_mib;
}

int gw_filter_vcpus(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r)
{
    return (double)(h->used_vcpus + r->vcpus) <= (double)h->vcpus * c->cpu_overcommit;
}

int gw_filter_memory(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r)
{
    return h->used_memory_mib + r->memory_mib <= h->memory_mib;
}

int gw_filter_disk(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r)
{
    return h->used_disk_gib + r->disk_gib <= h->disk_gib;
}

int gw_filter_group(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r)
{
    switch (r->group) {
    case GW_GROUP_AFFINITY: return !r->group_has_members || h->group_member;
    case GW_GROUP_ANTI_AFFINITY: return !h->group_member;
    default: return 1;
    }
}

int gw_filter_vfs(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r)
{
    return r->direct_ports <= 0 || h->used_vfs + r->direct_ports <= h->sriov_vfs;
}

int gw_filter_firmware(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r)
{
    return !r->firmware || h->firmware;
}

/* A live migration's target: not its source, and able to receive it (with the disk, for a
 * block migration). */
int gw_filter_migration(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r)
{
    (void)c;
    return (!r->not_node || strcmp(h->id, r->not_node)) &&
           (!r->live_migration || h->live_migration) && (!r->block_migration || h->block_migration);
}

typedef int (*filter_fn)(const gw_sched_conf *, const gw_host *, const gw_sched_req *);
static const struct {
    const char *name;
    filter_fn fn;
} filters[] = {
    {"disabled", gw_filter_enabled},
    {"being emptied by the consolidation", gw_filter_not_draining},
    {"powered off", gw_filter_powered},
    {"down", gw_filter_alive},
    {"already failed this instance", gw_filter_not_tried},
    {"too small for the flavor", gw_filter_fits_host},
    {"out of vCPUs", gw_filter_vcpus},
    {"out of memory", gw_filter_memory},
    {"out of disk", gw_filter_disk},
    {"excluded by the server group", gw_filter_group},
    {"out of SR-IOV VFs", gw_filter_vfs},
    {"without firmware to boot the disk image", gw_filter_firmware},
    {"the source or unable to receive a live migration (or its disk)", gw_filter_migration},
};
#define NFILTERS (int)(sizeof filters / sizeof filters[0])

double gw_weigh(const gw_sched_conf *c, const gw_host *h, const gw_sched_req *r)
{
    double cap_v = (double)h->vcpus * c->cpu_overcommit;
    double free_m =
        h->memory_mib > 0
            ? (double)(h->memory_mib - h->used_memory_mib - r->memory_mib) / (double)h->memory_mib
            : 0;
    double free_v = cap_v > 0 ? ((double)cap_v - (double)(h->used_vcpus + r->vcpus)) / cap_v : 0;
    double s = (free_m + free_v) / 2;
    return s < 0 ? 0 : s > 1 ? 1 : s;
}

/* Is a better than b under the policy? */
static int better(const gw_sched_conf *c, double wa, const gw_host *a, double wb, const gw_host *b)
{
    const double eps = 1e-12;
    if (wa > wb + eps || wa < wb - eps)
        return c->policy == GW_SCHED_SPREAD ? wa > wb : wa < wb;
    if (a->instances != b->instances)
        return c->policy == GW_SCHED_SPREAD ? a->instances < b->instances
                                            : a->instances > b->instances;
    return strcmp(a->name, b->name) < 0;
}

int gw_sched_failing_filter(const gw_sched_conf *conf, const gw_host *h, const gw_sched_req *req)
{
    for (int f = 0; f < NFILTERS; f++)
        if (!filters[f].fn(conf, h, req))
            return f;
    return -1;
}

int gw_sched_pick(const gw_sched_conf *conf, const gw_host *hosts, int n, const gw_sched_req *req,
                  char *why, size_t whylen)
{
    int removed[NFILTERS] = {0};
    int best = -1;
    double best_w = 0;
    for (int i = 0; i < n; i++) {
        int f = gw_sched_failing_filter(conf, &hosts[i], req);
        if (f >= 0) {
            removed[f]++;
            continue;
        }
        double w = gw_weigh(conf, &hosts[i], req);
        if (best < 0 || better(conf, w, &hosts[i], best_w, &hosts[best])) {
            best = i;
            best_w = w;
        }
    }
    if (best < 0 && why && whylen) {
        size_t o = (size_t)snprintf(why, whylen,
                                    "no valid host for %d vCPUs, %d MiB, %d GiB: ", req->vcpus,
                                    req->memory_mib, req->disk_gib);
        if (n == 0)
            snprintf(why + o, whylen - o, "the cloud has no compute nodes");
        for (int f = 0, first = 1; f < NFILTERS && o < whylen; f++) {
            if (!removed[f])
                continue;
            o += (size_t)snprintf(why + o, whylen - o, "%s%d %s", first ? "" : ", ", removed[f],
                                  filters[f].name);
            first = 0;
        }
    }
    return best;
}

const char *gw_sched_policy_name(gw_sched_policy p)
{
    return p == GW_SCHED_PACK ? "pack" : "spread";
}

int gw_sched_policy_parse(const char *s, gw_sched_policy *out)
{
    if (!strcmp(s, "spread"))
        *out = GW_SCHED_SPREAD;
    else if (!strcmp(s, "pack"))
        *out = GW_SCHED_PACK;
    else
        return -1;
    return 0;
}

static const char *const power_names[] = {"on", "powering_off", "off", "powering_on"};

const char *gw_power_state_name(int p)
{
    return p >= 0 && p < 4 ? power_names[p] : "on";
}

int gw_power_state_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (s && !strcmp(s, power_names[i]))
            return i;
    return GW_POWER_ON;
}
