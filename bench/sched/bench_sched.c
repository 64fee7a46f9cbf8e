/*
 * bench_sched: the design's power claim measured. A simulated day of load on
 * 100 hosts, placed by the gateway's own scheduler (sched_core.c) under
 * spread, pack, and pack with the consolidation plan (consolidate.c) run
 * every 10 minutes; how many host-hours each keeps powered on, the energy
 * that takes, and how many live migrations consolidation needs.
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
 */
#include "consolidate.h"
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

typedef struct result {
    double host_hours, kwh, peak_hosts;
    long long migrations, moved_gib, failed;
} result;

static void host_use(gw_host *h, const gw_cons_vm *v, int sign)
{
    h->used_vcpus += sign * v->vcpus;
    h->used_memory_mib += sign * v->memory_mib;
    h->used_disk_gib += sign * v->disk_gib;
    h->instances += sign;
}

/* One strategy over the event list; minutes [warm, end) are measured. */
static result run(gw_sched_policy policy, int consolidate, const ev *e, size_t ne, int warm,
                  int end)
{
    gw_sched_conf conf = {policy, OVERCOMMIT};
    gw_cons_conf cc = {CONS_TARGET, CONS_MAX_MOVES, CONS_COOLDOWN_MIN};
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
            vm[next] = (gw_cons_vm){to, q.vcpus, q.memory_mib, q.disk_gib, -1, 0};
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
        if (t < warm)
            continue;
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
    return r;
}

int main(int argc, char **argv)
{
    int days = argc > 1 ? atoi(argv[1]) : 1;
    rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
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
    result r[3];
    for (int i = 0; i < 3; i++)
        r[i] = run(s[i].p, s[i].cons, e, ne, warm, end);
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
    free(e);
    return 0;
}
