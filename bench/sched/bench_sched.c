/*
 * bench_sched: the design's power and performance claims measured. A
 * simulated day of load on 100 hosts, placed by the gateway's own scheduler
 * (sched_core.c) under spread, pack, and pack with the consolidation plan
 * (consolidate.c) run every 10 minutes; how many host-hours each keeps
 * powered on, the energy that takes, and how many live migrations
 * consolidation needs. Then spread with the rebalancing plan (rebalance.c):
 * how even the hosts' CPU load stays, hour by hour, beside spread alone, and
 * how many live migrations that needs.
 *
 *   bench_sched [DAYS] [SEED]           (default 1 day measured, seed 1)
 *
 * The load (the same event list for every strategy):
 *   - 100 hosts of 32 CPUs and 256 GiB, vCPUs overcommitted 2x (64);
 *   - flavors 1/2/4/8 vCPUs with 2 GiB per vCPU, drawn 40/30/20/10 %;
 *   - 500 long-lived instances present all day;
 *   - short-lived ones arriving as a Poisson process whose rate follows a
 *     diurnal sine, 4 per minute on average, 0.8 x 4 above and below it
 *     (peak 15:00, trough 03:00), each living an exponential 3 hours on
 *     average: about 700 at the trough and 1,300 at the peak besides the
 *     500;
 *   - one day of warm-up before the measured days, so the day starts with
 *     the population (and its fragmentation) of a running cloud.
 * Power model (stated, not measured): a host holding no instance is off
 * (0 W; boot time ignored); a host on draws 150 W idle to 350 W at full
 * CPU, linearly, with each vCPU 50 % busy on average. A host is on from the
 * minute an instance is placed on it.
 * Consolidation: every 10 minutes a plan (at most 20 moves, destinations
 * filled to 85 %, an instance moved at most once in 2 hours); its moves
 * happen at once and the emptied hosts power off. Under spread and pack no
 * instance moves.
 *
 * Performance: the same day under spread, with and without the rebalancing
 * plan (rebalance.c) every 10 minutes (threshold 0.3, then 0.2; at most 10
 * moves, an instance moved at most once an hour), its moves made at once. What an
 * instance keeps busy (assumed, not measured): each lives through phases of
 * 2 to 6 hours (its own length), in each busy (60-100 % of its vCPUs) with
 * probability 0.3, else nearly idle (2-30 %): about 35 % on average, drawn
 * from the seed by a hash of (instance, phase), so every strategy sees the
 * same load and the power figures above keep their own 50 % duty. A host's
 * CPU load is what its instances keep busy over its 32 CPUs (above 1: more
 * demand than CPUs); the imbalance is the spread (most loaded less least
 * loaded) and standard deviation of that load over the hosts, every minute,
 * and the host-hours spent at 75 % of the CPUs or more (where guests start
 * to wait for a CPU).
 */
#include "consolidate.h"
#include "rebalance.h"
#include "sched_core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOSTS 100
#define HOST_CPUS 32
#define HOST_MIB (256 * 1024)
#define OVERCOMMIT 2.0
#define LONG_LIVED 500
#define RATE_PER_MIN 4.0
#define SWING 0.8
#define MEAN_LIFE_MIN 180.0
#define P_IDLE 150.0
#define P_PEAK 350.0
#define DUTY 0.5
#define CONS_EVERY_MIN 10
#define CONS_MAX_MOVES 20
#define CONS_TARGET 0.85
#define CONS_COOLDOWN_MIN 120
#define RB_EVERY_MIN 10
#define RB_MAX_MOVES 10
#define HOT 0.75 /* a host this busy or more slows its guests down */
#define RB_COOLDOWN_MIN 60

typedef struct ev {
    int arrive, leave; /* minutes; leave < 0: never */
    int vcpus;
} ev;

static unsigned long long rng_state;

static double uniform(void) /* (0, 1) */
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}

static int flavor_vcpus(void)
{
    double u = uniform();
    return u < 0.4 ? 1 : u < 0.7 ? 2 : u < 0.9 ? 4 : 8;
}

static int poisson(double lambda)
{
    double l = exp(-lambda), p = 1;
    int k = 0;
    do {
        k++;
        p *= uniform();
    } while (p > l);
    return k - 1;
}

/* The event list for `minutes` minutes, arrivals in time order. */
static ev *make_load(int minutes, size_t *n)
{
    size_t cap = 4096, k = 0;
    ev *e = malloc(cap * sizeof *e);
    for (int i = 0; i < LONG_LIVED; i++)
        e[k++] = (ev){0, -1, flavor_vcpus()};
    for (int t = 0; t < minutes; t++) {
        double hour = fmod(t / 60.0, 24.0);
        double rate = RATE_PER_MIN * (1 + SWING * sin(2 * M_PI * (hour - 9) / 24));
        for (int a = poisson(rate); a > 0; a--) {
            if (k == cap)
                e = realloc(e, (cap *= 2) * sizeof *e);
            int life = 1 + (int)(-MEAN_LIFE_MIN * log(uniform()));
            e[k++] = (ev){t, t + life, flavor_vcpus()};
        }
    }
    *n = k;
    return e;
}

static void host_use(gw_host *h, const gw_cons_vm *v, int sign)
{
    h->used_vcpus += sign * v->vcpus;
    h->used_memory_mib += sign * v->memory_mib;
    h->used_disk_gib += sign * v->disk_gib;
    h->instances += sign;
}

typedef struct result {
    double host_hours, kwh, peak_hosts;
    long long migrations, moved_gib, failed;
    /* CPU load imbalance, every measured minute (hosts holding instances) */
    double spread_sum, sd_sum, spread_max, hot_minutes; /* hot: load >= HOT */
    double hour_spread[24], hour_sd[24];
    int hour_n[24], minutes;
} result;

static unsigned long long duty_seed;

static unsigned long long mix(unsigned long long x) /* splitmix64 */
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static double unit(unsigned long long h) /* [0, 1) */
{
    return (double)(h >> 11) / 9007199254740992.0;
}

/* The share of its vCPUs instance i keeps busy at minute t (see the top). */
static double duty_at(size_t i, int t)
{
    unsigned long long h0 = mix(duty_seed ^ (unsigned long long)i);
    int period = 120 + (int)(h0 % 241);
    int phase = (t + (int)((h0 >> 20) % (unsigned long long)period)) / period;
    unsigned long long h = mix(h0 ^ (unsigned long long)phase);
    double v = unit(mix(h));
    return unit(h) < 0.3 ? 0.6 + 0.4 * v : 0.02 + 0.28 * v;
}

/* The hosts' CPU loads now: their spread and standard deviation into r. */
static void measure_cpu(result *r, const gw_host *h, const gw_cons_vm *vm, const int *live,
                        int nlive, int t, const ev *e)
{
    double cpu[HOSTS] = {0};
    for (int i = 0; i < nlive; i++)
        cpu[vm[live[i]].host] += e[live[i]].vcpus * duty_at((size_t)live[i], t);
    double lo = 0, hi = 0, sum = 0, sq = 0;
    int n = 0;
    for (int k = 0; k < HOSTS; k++) {
        if (!h[k].instances)
            continue;
        double l = cpu[k] / HOST_CPUS;
        lo = n == 0 || l < lo ? l : lo;
        hi = n == 0 || l > hi ? l : hi;
        sum += l;
        sq += l * l;
        n++;
        r->hot_minutes += l >= HOT;
    }
    double spread = hi - lo, var = n ? sq / n - (sum / n) * (sum / n) : 0;
    double sd = var > 0 ? sqrt(var) : 0;
    int hour = (t / 60) % 24;
    r->spread_sum += spread;
    r->sd_sum += sd;
    r->spread_max = spread > r->spread_max ? spread : r->spread_max;
    r->hour_spread[hour] += spread;
    r->hour_sd[hour] += sd;
    r->hour_n[hour]++;
    r->minutes++;
}

/* One rebalancing plan at minute t, its moves made at once. */
static int rebalance(const gw_sched_conf *conf, double threshold, gw_host *h, gw_cons_vm *vm,
                     int *moved_from, const int *live, int nlive, int t, const ev *e,
                     gw_rb_vm *snap, gw_rb_move *moves)
{
    gw_rb_conf rc = {threshold, RB_MAX_MOVES, RB_COOLDOWN_MIN};
    for (int i = 0; i < nlive; i++) {
        const gw_cons_vm *v = &vm[live[i]];
        snap[i] = (gw_rb_vm){.host = v->host,
                             .vcpus = v->vcpus,
                             .memory_mib = v->memory_mib,
                             .disk_gib = v->disk_gib,
                             .cpu = e[live[i]].vcpus * duty_at((size_t)live[i], t),
                             .group = -1,
                             .moved_at = v->moved_at,
                             .moved_from = moved_from[live[i]]};
    }
    int n = gw_rebalance_plan(conf, &rc, h, HOSTS, snap, nlive, t, moves, NULL, NULL);
    for (int i = 0; i < n; i++) {
        gw_cons_vm *v = &vm[live[moves[i].vm]];
        host_use(&h[v->host], v, -1);
        moved_from[live[moves[i].vm]] = v->host;
        v->host = moves[i].to;
        v->moved_at = t;
        host_use(&h[v->host], v, 1);
    }
    return n;
}

/* One strategy over the event list; minutes [warm, end) are measured. */
/* rebal: the rebalancing threshold, 0: none */
static result run(gw_sched_policy policy, int consolidate, double rebal, const ev *e, size_t ne,
                  int warm, int end)
{
    gw_sched_conf conf = {policy, OVERCOMMIT};
    gw_cons_conf cc = {
        .target = CONS_TARGET, .max_moves = CONS_MAX_MOVES, .cooldown = CONS_COOLDOWN_MIN};
    gw_host h[HOSTS];
    for (int i = 0; i < HOSTS; i++) {
        h[i] = (gw_host){.alive = 1,
                         .vcpus = HOST_CPUS,
                         .memory_mib = HOST_MIB,
                         .disk_gib = 100000,
                         .firmware = 1};
        snprintf(h[i].name, sizeof h[i].name, "host-%03d", i);
    }
    gw_cons_vm *vm = calloc(ne, sizeof *vm);
    int *live = malloc(ne * sizeof *live), nlive = 0;
    gw_cons_vm *snap = malloc(ne * sizeof *snap);
    int *snap_of = malloc(ne * sizeof *snap_of);
    gw_cons_move *moves = malloc(CONS_MAX_MOVES * sizeof *moves);
    int *moved_from = malloc(ne * sizeof *moved_from);
    gw_rb_vm *rb_snap = malloc(ne * sizeof *rb_snap);
    gw_rb_move *rb_moves = malloc(RB_MAX_MOVES * sizeof *rb_moves);
    for (size_t i = 0; i < ne; i++)
        moved_from[i] = -1;
    int emptied[HOSTS];
    result r = {0};
    size_t next = 0;
    for (int t = 0; t < end; t++) {
        /* departures, then arrivals */
        for (int i = 0; i < nlive;) {
            if (e[live[i]].leave == t) {
                host_use(&h[vm[live[i]].host], &vm[live[i]], -1);
                live[i] = live[--nlive];
            } else {
                i++;
            }
        }
        for (; next < ne && e[next].arrive == t; next++) {
            gw_sched_req q = {
                .vcpus = e[next].vcpus, .memory_mib = e[next].vcpus * 2048, .disk_gib = 20};
            int to = gw_sched_pick(&conf, h, HOSTS, &q, NULL, 0);
            if (to < 0) {
                if (t >= warm)
                    r.failed++;
                continue;
            }
            vm[next] = (gw_cons_vm){.host = to,
                                    .vcpus = q.vcpus,
                                    .memory_mib = q.memory_mib,
                                    .disk_gib = q.disk_gib,
                                    .moved_at = -1};
            host_use(&h[to], &vm[next], 1);
            live[nlive++] = (int)next;
        }
        if (consolidate && t % CONS_EVERY_MIN == 0) {
            for (int i = 0; i < nlive; i++) {
                snap[i] = vm[live[i]];
                snap_of[i] = live[i];
            }
            int n = gw_consolidate_plan(&conf, &cc, h, HOSTS, snap, nlive, t, moves, emptied);
            for (int i = 0; i < n; i++) {
                gw_cons_vm *v = &vm[snap_of[moves[i].vm]];
                host_use(&h[v->host], v, -1);
                v->host = moves[i].to;
                v->moved_at = t;
                host_use(&h[v->host], v, 1);
                if (t >= warm) {
                    r.migrations++;
                    r.moved_gib += v->memory_mib / 1024;
                }
            }
        }
        if (rebal > 0 && t % RB_EVERY_MIN == 0) {
            int n =
                rebalance(&conf, rebal, h, vm, moved_from, live, nlive, t, e, rb_snap, rb_moves);
            if (t >= warm)
                for (int i = 0; i < n; i++) {
                    r.migrations++;
                    r.moved_gib += vm[live[rb_moves[i].vm]].memory_mib / 1024;
                }
        }
        if (t < warm)
            continue;
        measure_cpu(&r, h, vm, live, nlive, t, e);
        int on = 0;
        for (int i = 0; i < HOSTS; i++) {
            if (!h[i].instances)
                continue;
            on++;
            double u = (double)h[i].used_vcpus * DUTY / HOST_CPUS;
            r.kwh += (P_IDLE + (P_PEAK - P_IDLE) * (u > 1 ? 1 : u)) / 60.0 / 1000.0;
        }
        r.host_hours += on / 60.0;
        if (on > r.peak_hosts)
            r.peak_hosts = on;
    }
    free(vm);
    free(live);
    free(snap);
    free(snap_of);
    free(moves);
    free(moved_from);
    free(rb_snap);
    free(rb_moves);
    return r;
}

/* Performance: spread's CPU imbalance without and with the rebalancing plan. */
static void print_balance(result a, result c, result b, int days)
{
    printf("\nCPU load imbalance under spread (host CPU load = busy CPUs / %d; rebalancing every "
           "%d min: at most %d moves, %d min cool-down)\n\n",
           HOST_CPUS, RB_EVERY_MIN, RB_MAX_MOVES, RB_COOLDOWN_MIN);
    printf("| %-26s | %11s | %10s | %7s | %14s | %10s | %9s |\n", "strategy", "mean spread",
           "max spread", "mean sd", "host-hours at", "migrations", "GiB moved");
    printf("| %-26s | %11s | %10s | %7s | %14s | %10s | %9s |\n", "", "", "", "", ">= 75 % CPU", "",
           "");
    printf("|----------------------------|-------------|------------|---------|----------------|"
           "------------|-----------|\n");
    const result *rs[3] = {&a, &c, &b};
    const char *names[3] = {"spread", "spread + rebalancing (0.3)", "spread + rebalancing (0.2)"};
    for (int i = 0; i < 3; i++)
        printf("| %-26s | %11.3f | %10.3f | %7.3f | %14.1f | %10lld | %9lld |\n", names[i],
               rs[i]->spread_sum / rs[i]->minutes, rs[i]->spread_max,
               rs[i]->sd_sum / rs[i]->minutes, rs[i]->hot_minutes / 60.0, rs[i]->migrations,
               rs[i]->moved_gib);
    printf("\nby hour of day (mean over %d day(s)): spread / sd of host CPU load, without and "
           "with rebalancing (0.2)\n\n",
           days);
    printf("| hour | spread: without | with  | sd: without | with  |\n");
    printf("|------|-----------------|-------|-------------|-------|\n");
    for (int hr = 0; hr < 24; hr++)
        printf("| %02d   | %15.3f | %5.3f | %11.3f | %5.3f |\n", hr,
               a.hour_spread[hr] / a.hour_n[hr], b.hour_spread[hr] / b.hour_n[hr],
               a.hour_sd[hr] / a.hour_n[hr], b.hour_sd[hr] / b.hour_n[hr]);
}

int main(int argc, char **argv)
{
    int days = argc > 1 ? atoi(argv[1]) : 1;
    rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    duty_seed = mix(rng_state ^ 0x5eedULL); /* its own stream: the events stay the same */
    if (days < 1)
        days = 1;
    int warm = 24 * 60, end = warm + days * 24 * 60;
    size_t ne;
    ev *e = make_load(end, &ne);
    printf("bench_sched: %d hosts (%d CPUs, %d GiB, vCPUs x%.0f), %d long-lived + %zu "
           "short-lived instances over %d day(s) after a day of warm-up (seed %llu)\n",
           HOSTS, HOST_CPUS, HOST_MIB / 1024, OVERCOMMIT, LONG_LIVED, ne - LONG_LIVED, days,
           argc > 2 ? strtoull(argv[2], NULL, 10) : 1ULL);
    printf("power model (assumed): off when empty; %.0f W idle to %.0f W at full CPU, vCPUs "
           "%.0f %% busy\n\n",
           P_IDLE, P_PEAK, DUTY * 100);
    struct {
        const char *name;
        gw_sched_policy p;
        int cons;
    } s[] = {{"spread", GW_SCHED_SPREAD, 0},
             {"pack", GW_SCHED_PACK, 0},
             {"pack + consolidation", GW_SCHED_PACK, 1}};
    result r[5];
    for (int i = 0; i < 3; i++)
        r[i] = run(s[i].p, s[i].cons, 0, e, ne, warm, end);
    r[3] = run(GW_SCHED_SPREAD, 0, 0.3, e, ne, warm, end);
    r[4] = run(GW_SCHED_SPREAD, 0, 0.2, e, ne, warm, end);
    printf("| %-22s | %10s | %9s | %9s | %10s | %10s | %9s | %6s |\n", "strategy", "host-hours",
           "peak on", "kWh", "saved vs", "migrations", "GiB moved", "failed");
    printf("| %-22s | %10s | %9s | %9s | %10s | %10s | %9s | %6s |\n", "", "on", "", "", "spread",
           "", "", "");
    printf("|%s|%s|%s|%s|%s|%s|%s|%s|\n", "------------------------", "------------", "-----------",
           "-----------", "------------", "------------", "-----------", "--------");
    for (int i = 0; i < 3; i++)
        printf("| %-22s | %10.1f | %9.0f | %9.1f | %9.1f%% | %10lld | %9lld | %6lld |\n", s[i].name,
               r[i].host_hours, r[i].peak_hosts, r[i].kwh, 100.0 * (1 - r[i].kwh / r[0].kwh),
               r[i].migrations, r[i].moved_gib, r[i].failed);
    print_balance(r[0], r[3], r[4], days);
    free(e);
    return 0;
}
