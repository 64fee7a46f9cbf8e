/*
 * rebalance.c - the rebalancing plan (see rebalance.h).
 *
 * The plan works on a copy of the hosts (their reservations follow each
 * move, so the filters see the plan so far) and on each instance's host as
 * planned. The imbalance a move is judged by is, per dimension, the
 * capacity-weighted mean of the squared load fractions:
 *
 *     J = sum_h used_h^2 / cap_h  /  sum_h cap_h
 *
 * Moves keep the total used, so J differs from the weighted variance by a
 * constant and is lowest when every host is at the same fraction; a move
 * changes only its two hosts' terms, so its effect is computed in O(1). The
 * CPU and memory terms are added: a move that evens CPU but unevens memory
 * as much gains nothing.
 */
#include "rebalance.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int gw_rebalance_in_service(const gw_host *h)
{
    return h->power == GW_POWER_ON && h->alive && !h->disabled && h->vcpus > 0 && h->memory_mib > 0;
}

static gw_rb_load load_of(const gw_host *h, double cpu_used)
{
    return (gw_rb_load){h->vcpus > 0 ? cpu_used / (double)h->vcpus : 0,
                        h->memory_mib > 0 ? (double)h->used_memory_mib / (double)h->memory_mib : 0};
}

static void cpu_used(const gw_host *hosts, int nh, const gw_rb_vm *vms, int nv, double *cpu)
{
    (void)hosts;
    for (int h = 0; h < nh; h++)
        cpu[h] = 0;
    for (int i = 0; i < nv; i++)
        if (vms[i].host >= 0 && vms[i].host < nh)
            cpu[vms[i].host] += vms[i].cpu;
}

void gw_rebalance_loads(const gw_host *hosts, int nh, const gw_rb_vm *vms, int nv,
                        gw_rb_load *loads)
{
    double *cpu = malloc((size_t)(nh ? nh : 1) * sizeof *cpu);
    if (!cpu) {
        memset(loads, 0, (size_t)nh * sizeof *loads);
        return;
    }
    cpu_used(hosts, nh, vms, nv, cpu);
    for (int h = 0; h < nh; h++)
        loads[h] = load_of(&hosts[h], cpu[h]);
    free(cpu);
}

gw_rb_imbalance gw_rebalance_imbalance(const gw_host *hosts, const gw_rb_load *loads, int nh)
{
    gw_rb_imbalance b = {0};
    double sc = 0, sm = 0, qc = 0, qm = 0;
    for (int h = 0; h < nh; h++) {
        if (!gw_rebalance_in_service(&hosts[h]))
            continue;
        const gw_rb_load *l = &loads[h];
        if (!b.hosts || l->cpu > b.cpu_max)
            b.cpu_max = l->cpu;
        if (!b.hosts || l->cpu < b.cpu_min)
            b.cpu_min = l->cpu;
        if (!b.hosts || l->mem > b.mem_max)
            b.mem_max = l->mem;
        if (!b.hosts || l->mem < b.mem_min)
            b.mem_min = l->mem;
        b.hosts++;
        sc += l->cpu;
        sm += l->mem;
        qc += l->cpu * l->cpu;
        qm += l->mem * l->mem;
    }
    if (b.hosts) {
        double n = b.hosts, vc = qc / n - (sc / n) * (sc / n), vm = qm / n - (sm / n) * (sm / n);
        b.cpu_stddev = vc > 0 ? sqrt(vc) : 0;
        b.mem_stddev = vm > 0 ? sqrt(vm) : 0;
    }
    b.cpu_spread = b.cpu_max - b.cpu_min;
    b.mem_spread = b.mem_max - b.mem_min;
    return b;
}

/* The plan's state: the hosts as planned so far. */
typedef struct plan {
    const gw_sched_conf *c;
    const gw_rb_conf *rc;
    const gw_rb_vm *vms;
    int nh, nv;
    long long now;
    gw_host *work;
    double *cpu;    /* CPUs busy per host */
    int *at;        /* each instance's host as planned */
    char *gave;     /* per host: gave in this plan (takes nothing) */
    char *got;      /* per host: took in this plan (gives nothing) */
    char *moved;    /* per instance: moves in this plan */
    double cap_cpu; /* sum over hosts in service */
    double cap_mem;
} plan;

static double frac(const plan *p, int h, int dim)
{
    const gw_host *w = &p->work[h];
    return dim == 0 ? p->cpu[h] / (double)w->vcpus
                    : (double)w->used_memory_mib / (double)w->memory_mib;
}

/* The change in J when instance v moves from s to t. */
static double delta_j(const plan *p, const gw_rb_vm *v, int s, int t)
{
    const gw_host *a = &p->work[s], *b = &p->work[t];
    double x = v->cpu, us = p->cpu[s], ut = p->cpu[t];
    double dc = ((us - x) * (us - x) - us * us) / (double)a->vcpus +
                ((ut + x) * (ut + x) - ut * ut) / (double)b->vcpus;
    double m = v->memory_mib, ms = (double)a->used_memory_mib, mt = (double)b->used_memory_mib;
    double dm = ((ms - m) * (ms - m) - ms * ms) / (double)a->memory_mib +
                ((mt + m) * (mt + m) - mt * mt) / (double)b->memory_mib;
    return dc / p->cap_cpu + dm / p->cap_mem;
}

static int cooling(const plan *p, const gw_rb_vm *v)
{
    return v->moved_at >= 0 && p->now - v->moved_at < p->rc->cooldown;
}

/* 1 when instance i may leave its host at all in this plan. */
static int movable(const plan *p, int i)
{
    const gw_rb_vm *v = &p->vms[i];
    if (v->pinned || p->moved[i] || cooling(p, v))
        return 0;
    if (v->group >= 0 && !v->anti_affinity) /* affinity: alone in its group, or stays */
        for (int j = 0; j < p->nv; j++)
            if (j != i && p->vms[j].group == v->group && p->at[j] >= 0)
                return 0;
    return 1;
}

/* 1 when instance i may go to host t: every placement filter, as planned. */
static int fits(const plan *p, int i, int t)
{
    const gw_rb_vm *v = &p->vms[i];
    if (v->moved_from == t && cooling(p, v))
        return 0;
    gw_sched_req r = {.vcpus = v->vcpus,
                      .memory_mib = v->memory_mib,
                      .disk_gib = v->disk_gib,
                      .firmware = v->firmware,
                      .live_migration = 1, /* a move is a live migration: the host receives it */
                      .block_migration = v->block_migration};
    gw_host h = p->work[t];
    if (v->group >= 0 && v->anti_affinity) {
        r.group = GW_GROUP_ANTI_AFFINITY;
        r.group_has_members = 1;
        for (int j = 0; j < p->nv && !h.group_member; j++)
            h.group_member = j != i && p->vms[j].group == v->group && p->at[j] == t;
    }
    return gw_sched_failing_filter(p->c, &h, &r) < 0;
}

typedef struct best {
    int vm, to;
    double dj;
} best;

/* The best move off host s that lowers dimension dim's load toward a less
 * loaded host without overshooting, and lowers J; vm < 0 when none. */
static best best_off(const plan *p, int s, int dim)
{
    best b = {-1, -1, -1e-12};
    double ls = frac(p, s, dim);
    for (int i = 0; i < p->nv; i++) {
        if (p->at[i] != s || !movable(p, i))
            continue;
        const gw_rb_vm *v = &p->vms[i];
        double x = dim == 0 ? v->cpu : v->memory_mib;
        if (x <= 0)
            continue;
        for (int t = 0; t < p->nh; t++) {
            if (t == s || p->gave[t] || !gw_rebalance_in_service(&p->work[t]))
                continue;
            double cap = dim == 0 ? (double)p->work[t].vcpus : (double)p->work[t].memory_mib;
            if (frac(p, t, dim) + x / cap >= ls) /* t would end as loaded as s was */
                continue;
            double dj = delta_j(p, v, s, t);
            if (dj < b.dj && fits(p, i, t))
                b = (best){i, t, dj};
        }
    }
    return b;
}

/* The host in service most loaded in dim that may give, or -1. */
static int most_loaded(const plan *p, int dim)
{
    int m = -1;
    for (int h = 0; h < p->nh; h++)
        if (gw_rebalance_in_service(&p->work[h]) && !p->got[h] &&
            (m < 0 || frac(p, h, dim) > frac(p, m, dim)))
            m = h;
    return m;
}

static void apply(plan *p, int i, int s, int t)
{
    const gw_rb_vm *v = &p->vms[i];
    gw_host *a = &p->work[s], *b = &p->work[t];
    a->used_vcpus -= v->vcpus;
    a->used_memory_mib -= v->memory_mib;
    a->used_disk_gib -= v->disk_gib;
    a->instances--;
    b->used_vcpus += v->vcpus;
    b->used_memory_mib += v->memory_mib;
    b->used_disk_gib += v->disk_gib;
    b->instances++;
    p->cpu[s] -= v->cpu;
    p->cpu[t] += v->cpu;
    p->at[i] = t;
    p->moved[i] = 1;
    p->gave[s] = 1;
    p->got[t] = 1;
}

static gw_rb_load load_now(const plan *p, int h)
{
    return load_of(&p->work[h], p->cpu[h]);
}

int gw_rebalance_plan(const gw_sched_conf *c, const gw_rb_conf *rc, const gw_host *hosts, int nh,
                      const gw_rb_vm *vms, int nv, long long now, gw_rb_move *moves,
                      gw_rb_load *before, gw_rb_load *after)
{
    size_t h1 = (size_t)(nh ? nh : 1), v1 = (size_t)(nv ? nv : 1);
    plan p = {.c = c, .rc = rc, .vms = vms, .nh = nh, .nv = nv, .now = now};
    p.work = malloc(h1 * sizeof *p.work);
    p.cpu = malloc(h1 * sizeof *p.cpu);
    p.at = malloc(v1 * sizeof *p.at);
    p.gave = calloc(h1, 1);
    p.got = calloc(h1, 1);
    p.moved = calloc(v1, 1);
    gw_rb_load *loads = malloc(h1 * sizeof *loads);
    int n = -1;
    if (!p.work || !p.cpu || !p.at || !p.gave || !p.got || !p.moved || !loads)
        goto out;
    memcpy(p.work, hosts, (size_t)nh * sizeof *hosts);
    for (int h = 0; h < nh; h++)
        p.work[h].tried = p.work[h].group_member = 0; /* per instance: fits() decides */
    cpu_used(hosts, nh, vms, nv, p.cpu);
    for (int i = 0; i < nv; i++)
        p.at[i] = vms[i].host >= 0 && vms[i].host < nh ? vms[i].host : -1;
    for (int h = 0; h < nh; h++) {
        if (before)
            before[h] = load_now(&p, h);
        if (gw_rebalance_in_service(&hosts[h])) {
            p.cap_cpu += (double)hosts[h].vcpus;
            p.cap_mem += (double)hosts[h].memory_mib;
        }
    }
    n = 0;
    while (n < rc->max_moves) {
        for (int h = 0; h < nh; h++)
            loads[h] = load_now(&p, h);
        gw_rb_imbalance b = gw_rebalance_imbalance(p.work, loads, nh);
        double over[2] = {b.cpu_spread - rc->threshold, b.mem_spread - rc->threshold};
        if (over[0] <= 0 && over[1] <= 0)
            break;
        int first = over[0] >= over[1] ? 0 : 1;
        best m = {-1, -1, 0};
        int s = -1;
        for (int k = 0; k < 2 && m.vm < 0; k++) {
            int dim = k == 0 ? first : !first;
            if (over[dim] <= 0 || (s = most_loaded(&p, dim)) < 0)
                continue;
            m = best_off(&p, s, dim);
        }
        if (m.vm < 0)
            break; /* no move would help */
        gw_rb_move *mv = &moves[n++];
        mv->vm = m.vm;
        mv->from = s;
        mv->to = m.to;
        mv->from_before = load_now(&p, s);
        mv->to_before = load_now(&p, m.to);
        apply(&p, m.vm, s, m.to);
        mv->from_after = load_now(&p, s);
        mv->to_after = load_now(&p, m.to);
    }
    if (after)
        for (int h = 0; h < nh; h++)
            after[h] = load_now(&p, h);
out:
    free(p.work);
    free(p.cpu);
    free(p.at);
    free(p.gave);
    free(p.got);
    free(p.moved);
    free(loads);
    return n;
}
