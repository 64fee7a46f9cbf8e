/*
 * bench_placement: the scheduler's decision time at cloud scale.
 *
 *   bench_placement [HOSTS] [INSTANCES]     (default 1000 and 10000)
 *
 * Places INSTANCES instances of mixed flavors one after another across HOSTS
 * simulated hosts of mixed sizes (some disabled, some down), with both
 * policies, updating each host's reservations after every placement, and
 * prints the time per decision (median, p99, max). Beside it, the same run
 * with a bare first-fit scan (visit hosts in order, take the first with
 * room): the cost of merely looking at every host once, the floor any
 * scheduler over this many hosts pays.
 */
#include "sched_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void make_hosts(gw_host *h, int n)
{
    srand(42);
    static const long long sizes[][2] = {{16, 65536}, {32, 131072}, {64, 262144}, {8, 32768}};
    for (int i = 0; i < n; i++) {
        memset(&h[i], 0, sizeof h[i]);
        snprintf(h[i].name, sizeof h[i].name, "host-%04d", i);
        h[i].vcpus = sizes[i % 4][0];
        h[i].memory_mib = sizes[i % 4][1];
        h[i].disk_gib = 2000;
        h[i].alive = rand() % 50 != 0;    /* ~2% down */
        h[i].disabled = rand() % 40 == 0; /* ~2.5% in maintenance */
    }
}

static int first_fit(const gw_sched_conf *c, const gw_host *h, int n, const gw_sched_req *r)
{
    for (int i = 0; i < n; i++)
        if (!h[i].disabled && h[i].alive && gw_filter_vcpus(c, &h[i], r) &&
            gw_filter_memory(c, &h[i], r) && gw_filter_disk(c, &h[i], r))
            return i;
    return -1;
}

static void run(const char *label, gw_sched_policy policy, int use_first_fit, int hosts,
                int instances)
{
    gw_host *h = malloc(sizeof *h * (size_t)hosts);
    make_hosts(h, hosts);
    double *t = malloc(sizeof *t * (size_t)instances);
    gw_sched_conf conf = {policy, 4.0};
    static const gw_sched_req flavors[] = {{.vcpus = 1, .memory_mib = 2048, .disk_gib = 20},
                                           {.vcpus = 2, .memory_mib = 4096, .disk_gib = 40},
                                           {.vcpus = 4, .memory_mib = 8192, .disk_gib = 80},
                                           {.vcpus = 8, .memory_mib = 16384, .disk_gib = 160}};
    int placed = 0, failed = 0;
    char why[256];
    for (int k = 0; k < instances; k++) {
        const gw_sched_req *r = &flavors[k % 4];
        double t0 = now_ns();
        int i = use_first_fit ? first_fit(&conf, h, hosts, r)
                              : gw_sched_pick(&conf, h, hosts, r, why, sizeof why);
        t[k] = now_ns() - t0;
        if (i < 0) {
            failed++;
            continue;
        }
        h[i].used_vcpus += r->vcpus;
        h[i].used_memory_mib += r->memory_mib;
        h[i].used_disk_gib += r->disk_gib;
        h[i].instances++;
        placed++;
    }
    int empty = 0;
    for (int i = 0; i < hosts; i++)
        empty += h[i].instances == 0 && !h[i].disabled && h[i].alive;
    qsort(t, (size_t)instances, sizeof *t, cmp);
    printf("%-34s median %7.1f us   p99 %7.1f us   max %7.1f us   placed %d, no host %d,"
           " empty hosts %d\n",
           label, t[instances / 2] / 1e3, t[instances * 99 / 100] / 1e3, t[instances - 1] / 1e3,
           placed, failed, empty);
    free(t);
    free(h);
}

int main(int argc, char **argv)
{
    int hosts = argc > 1 ? atoi(argv[1]) : 1000;
    int instances = argc > 2 ? atoi(argv[2]) : 10000;
    printf("placement decision: %d instances across %d simulated hosts\n", instances, hosts);
    run("stratus scheduler, spread", GW_SCHED_SPREAD, 0, hosts, instances);
    run("stratus scheduler, pack", GW_SCHED_PACK, 0, hosts, instances);
    run("floor: bare first-fit scan", GW_SCHED_SPREAD, 1, hosts, instances);
    return 0;
}
