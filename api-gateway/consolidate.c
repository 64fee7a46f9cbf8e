/*
 * consolidate.c - the consolidation plan (see consolidate.h).
 *
 * The plan works on a copy of the hosts whose capacities are cut to the
 * target fraction, so a destination is "full" at the target. Powered-off
 * hosts (no instances) and hosts being emptied are disabled in the copy:
 * gw_sched_pick() never picks them. Candidates are visited least loaded
 * first (the mean of used memory and used vCPU fractions, as the weigher
 * counts); a candidate's instances are placed largest first (by memory),
 * and if one finds no host every placement of that candidate is undone.
 */
#include "consolidate.h"

#include <stdlib.h>
#include <string.h>

typedef struct cand {
    int host;
    int draining;
    double load;
} cand;

static int by_load(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->draining != y->draining)
        return y->draining - x->draining;
    if (x->load != y->load)
        return x->load < y->load ? -1 : 1;
    return x->host - y->host;
}

/* A host's instances, largest (memory) first; a host holds tens, so an
 * insertion sort, and no state outside the call. */
static void largest_first(const gw_cons_vm *vms, int *l, int n)
{
    for (int i = 1; i < n; i++) {
        int x = l[i], j = i;
        for (; j > 0 && vms[l[j - 1]].memory_mib < vms[x].memory_mib; j--)
            l[j] = l[j - 1];
        l[j] = x;
    }
}

static void take(gw_host *h, const gw_cons_vm *v, int sign)
{
    h->used_vcpus += sign * v->vcpus;
    h->used_memory_mib += sign * v->memory_mib;
    h->used_disk_gib += sign * v->disk_gib;
    h->instances += sign;
}

/* 1 when every instance of the host may move now. */
static int movable(const gw_cons_conf *cc, const gw_cons_vm *vms, const int *list, int n,
                   long long now)
{
    for (int i = 0; i < n; i++) {
        const gw_cons_vm *v = &vms[list[i]];
        if (v->pinned || (v->moved_at >= 0 && now - v->moved_at < cc->cooldown))
            return 0;
    }
    return 1;
}

int gw_consolidate_plan(const gw_sched_conf *c, const gw_cons_conf *cc, const gw_host *hosts,
                        int nh, const gw_cons_vm *vms, int nv, long long now, gw_cons_move *moves,
                        int *emptied)
{
    gw_sched_conf pack = *c;
    pack.policy = GW_SCHED_PACK;
    memset(emptied, 0, (size_t)nh * sizeof *emptied);
    gw_host *work = malloc((size_t)(nh ? nh : 1) * sizeof *work);
    cand *cands = malloc((size_t)(nh ? nh : 1) * sizeof *cands);
    int *received = calloc((size_t)(nh ? nh : 1), sizeof *received);
    int *first = calloc((size_t)nh + 1, sizeof *first); /* vms by host: list[first[h]..] */
    int *list = malloc((size_t)(nv ? nv : 1) * sizeof *list);
    int n = -1, nc = 0;
    if (!work || !cands || !received || !first || !list)
        goto out;
    for (int i = 0; i < nv; i++)
        if (vms[i].host >= 0 && vms[i].host < nh)
            first[vms[i].host + 1]++;
    for (int h = 0; h < nh; h++)
        first[h + 1] += first[h];
    int *fill = calloc((size_t)(nh ? nh : 1), sizeof *fill);
    if (!fill)
        goto out;
    for (int i = 0; i < nv; i++)
        if (vms[i].host >= 0 && vms[i].host < nh)
            list[first[vms[i].host] + fill[vms[i].host]++] = i;
    free(fill);
    for (int h = 0; h < nh; h++) {
        const gw_host *o = &hosts[h];
        work[h] = *o;
        work[h].vcpus = (long long)((double)o->vcpus * cc->target);
        work[h].memory_mib = (long long)((double)o->memory_mib * cc->target);
        work[h].tried = work[h].group_member = 0;
        if (o->instances == 0)
            work[h].disabled = 1; /* powered off: stays off */
        if (o->instances > 0 && o->alive && !o->disabled) {
            double cap_v = (double)o->vcpus * c->cpu_overcommit;
            double m = o->memory_mib > 0 ? (double)o->used_memory_mib / (double)o->memory_mib : 1;
            double v = cap_v > 0 ? (double)o->used_vcpus / cap_v : 1;
            cands[nc++] = (cand){h, o->draining, (m + v) / 2};
        }
    }
    qsort(cands, (size_t)nc, sizeof *cands, by_load);
    n = 0;
    for (int k = 0; k < nc && n < cc->max_moves; k++) {
        int h = cands[k].host, *mine = list + first[h], cnt = first[h + 1] - first[h];
        if (received[h] || cnt == 0 || cnt > cc->max_moves - n || !movable(cc, vms, mine, cnt, now))
            continue;
        largest_first(vms, mine, cnt);
        int was_disabled = work[h].disabled, placed = 0;
        work[h].disabled = 1;
        for (; placed < cnt; placed++) {
            const gw_cons_vm *v = &vms[mine[placed]];
            gw_sched_req r = {.vcpus = v->vcpus,
                              .memory_mib = v->memory_mib,
                              .disk_gib = v->disk_gib,
                              .firmware = v->firmware,
                              .live_migration = cc->live_migration,
                              .block_migration = v->block_migration};
            int to = gw_sched_pick(&pack, work, nh, &r, NULL, 0);
            if (to < 0)
                break;
            take(&work[to], v, 1);
            moves[n + placed] = (gw_cons_move){mine[placed], h, to};
        }
        if (placed < cnt) { /* not the whole host: undo */
            for (int i = 0; i < placed; i++)
                take(&work[moves[n + i].to], &vms[moves[n + i].vm], -1);
            work[h].disabled = was_disabled;
            continue;
        }
        for (int i = 0; i < cnt; i++)
            received[moves[n + i].to] = 1;
        emptied[h] = 1;
        n += cnt;
    }
out:
    free(work);
    free(cands);
    free(received);
    free(first);
    free(list);
    return n;
}
