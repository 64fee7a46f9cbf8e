/*
 * bench_node.c - instances created per second end to end on one host, and
 * where a launch's time goes, beside the same guest started with no cloud
 * (stratus-vmm alone) and under QEMU, in the same run.
 *
 *   bench_node [N] [CLIENTS]      (bench/node/run.sh sets up PostgreSQL)
 *   bench_node N 0                one instance at a time (latency, unloaded)
 *
 * A real cloud (gateway, images, billing, one stratus-node with state.fsync
 * on) runs N instances of the test guest with scenario=boot, created by
 * CLIENTS concurrent API clients. "Running" is the guest's first serial
 * line (STRATUS-GUEST start) in its serial log. Parts, per instance:
 *   api     POST /v1/instances round trip (the gateway places the instance
 *           inside this call: scheduling is part of it)
 *   pickup  API answer -> the agent queues the launch (its desired-set poll)
 *   queue   waiting for a pool thread
 *   disk    instance record + image lookup (cached) + qcow2 overlay
 *   vmm     spawn stratus-vmm, control socket up, config, start answered
 *   guest   spawn -> the guest's first serial line (overlaps vmm: the guest
 *           often prints before the agent has read the start answer)
 */
#include "guest_run.h"
#include "st_cloud.h"
#include "st_test.h"
#include "stratus/timefmt.h"

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static cloud C;
static cloud_agent A;
static int N = 100, CLIENTS = 4;

typedef struct inst {
    char id[40];
    int64_t t0, t1, tf; /* API sent, answered, first serial line (us, realtime) */
    int64_t launch_ts;  /* agent's node.launch line */
    long long queued, disk, vmm;
} inst;

static inst *I;
static int next_i, SEQUENTIAL;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *client(void *arg)
{
    for (;;) {
        pthread_mutex_lock(&mu);
        int i = next_i < N ? next_i++ : -1;
        pthread_mutex_unlock(&mu);
        if (i < 0)
            return NULL;
        char name[32];
        snprintf(name, sizeof name, "b%d", i);
        I[i].t0 = st_now_us();
        if (cloud_create(&C, name, "scenario=boot", I[i].id) != 202)
            exit(1);
        I[i].t1 = st_now_us();
        if (SEQUENTIAL) { /* one at a time: the launch path unloaded */
            while (!__atomic_load_n(&I[i].tf, __ATOMIC_ACQUIRE))
                usleep(1000);
        }
    }
}

static int has_start(const char *path)
{
    char buf[256];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t k = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (k <= 0)
        return 0;
    buf[k] = 0;
    return strstr(buf, "STRATUS-GUEST start") != NULL;
}

/* Polls every serial log until each shows the guest's first line. */
static void watch_serials(int64_t deadline_us)
{
    int left = N;
    while (left > 0 && st_now_us() < deadline_us) {
        for (int i = 0; i < N; i++) {
            if (I[i].tf || !I[i].id[0])
                continue;
            char p[1024];
            snprintf(p, sizeof p, "%s/instances/%s/serial.log", A.state_dir, I[i].id);
            if (has_start(p)) {
                __atomic_store_n(&I[i].tf, st_now_us(), __ATOMIC_RELEASE);
                left--;
            }
        }
        usleep(1000);
    }
}

static void read_agent_log(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.log", C.dir, A.name);
    FILE *f = fopen(path, "r");
    char line[4096];
    while (f && fgets(line, sizeof line, f)) {
        if (!strstr(line, "\"node.launch\""))
            continue;
        json_t *j = json_loads(line, 0, NULL);
        const char *id = json_string_value(json_object_get(j, "instance"));
        for (int i = 0; id && i < N; i++)
            if (!strcmp(I[i].id, id)) {
                st_time_parse(json_string_value(json_object_get(j, "ts")), &I[i].launch_ts);
                I[i].queued = json_integer_value(json_object_get(j, "queued_ms"));
                I[i].disk = json_integer_value(json_object_get(j, "record_image_disk_ms"));
                I[i].vmm = json_integer_value(json_object_get(j, "vmm_ms"));
            }
        json_decref(j);
    }
    if (f)
        fclose(f);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void part(const char *name, double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    printf("  %-7s median %7.1f ms   p90 %7.1f ms   max %7.1f ms\n", name, v[n / 2], v[n * 9 / 10],
           v[n - 1]);
}

/* ---- peers: the same guest without a cloud ---- */

static int64_t spawn_to_first_line(char *const argv[], const char *out, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    int64_t t0 = st_now_us();
    int rc = posix_spawnp(pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "cannot run %s\n", argv[0]);
        exit(1);
    }
    return t0;
}

/* Starts n VMs, at most par at once; each counts from its spawn to its first
 * serial line. Returns instances per second overall; median in *med_ms. */
static double peer(const char *what, int n, int par, double *med_ms)
{
    char *dir = st_tmpdir("bench-node-peer");
    double *lat = calloc((size_t)n, sizeof *lat);
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    int64_t *t0 = calloc((size_t)n, sizeof *t0);
    int *done = calloc((size_t)n, sizeof *done);
    int started = 0, finished = 0, inflight = 0;
    int64_t begin = st_now_us(), last = begin;
    while (finished < n) {
        while (started < n && inflight < par) {
            char out[700];
            snprintf(out, sizeof out, "%s/serial-%d.log", dir, started);
            if (!strcmp(what, "qemu")) {
                guest_argv a;
                memset(&a, 0, sizeof a);
                guest_argv_qemu(&a, "scenario=boot");
                t0[started] = spawn_to_first_line(a.v, out, &pids[started]);
                guest_argv_free(&a);
            } else {
                char cfg[800];
                snprintf(cfg, sizeof cfg, "%s/vm-%d.json", dir, started);
                FILE *f = fopen(cfg, "w");
                fprintf(f,
                        "{\"vcpus\":1,\"memory_mib\":32,\"kernel\":\"%s\","
                        "\"cmdline\":\"console=ttyS0 scenario=boot\",\"serial_log\":\"%s\"}",
                        guest_elf_path(), out);
                fclose(f);
                char *argv[] = {(char *)st_build_path("compute-node/vmm/stratus-vmm"), "--config",
                                cfg, NULL};
                t0[started] = spawn_to_first_line(argv, "/dev/null", &pids[started]);
            }
            started++;
            inflight++;
        }
        for (int i = 0; i < started; i++) {
            if (done[i])
                continue;
            char out[700];
            snprintf(out, sizeof out, "%s/serial-%d.log", dir, i);
            if (has_start(out)) {
                last = st_now_us();
                lat[i] = (double)(last - t0[i]) / 1000.0;
                done[i] = 1;
                finished++;
                inflight--;
                waitpid(pids[i], NULL, 0); /* scenario=boot ends quickly */
            }
        }
        usleep(500);
    }
    double rate = n / ((double)(last - begin) / 1e6);
    qsort(lat, (size_t)n, sizeof *lat, cmp_d);
    *med_ms = lat[n / 2];
    st_rmtree(dir);
    free(dir);
    free(lat);
    free(pids);
    free(t0);
    free(done);
    return rate;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        N = atoi(argv[1]);
    if (argc > 2)
        CLIENTS = atoi(argv[2]);
    if (N < 2 || CLIENTS < 0)
        return 2;
    if (CLIENTS == 0) {
        SEQUENTIAL = 1;
        CLIENTS = 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    I = calloc((size_t)N, sizeof *I);
    cloud_start(&C, "bench_node");
    const char *extra[] = {
        "interval.reconcile_ms = 100", "interval.meter_ms = 10000", "interval.console_ms = 1000",
        "state.fsync = true",          "log.level = info",          NULL};
    cloud_agent_start(&C, &A, "bench-host", extra);
    /* warm-up: the image gets cached, connections open */
    char warm[40];
    if (cloud_create(&C, "warm", "scenario=boot", warm) != 202 ||
        cloud_wait_field(&C, warm, "state", "stopped", 60000) != 0)
        return 1;

    pthread_t th[64];
    int64_t begin = st_now_us();
    for (int i = 0; i < CLIENTS && i < 64; i++)
        pthread_create(&th[i], NULL, client, NULL);
    watch_serials(begin + 180 * 1000000LL);
    for (int i = 0; i < CLIENTS && i < 64; i++)
        pthread_join(th[i], NULL);
    int64_t end = 0;
    int ok = 0;
    for (int i = 0; i < N; i++)
        if (I[i].tf) {
            ok++;
            if (I[i].tf > end)
                end = I[i].tf;
        }
    usleep(500000);
    read_agent_log();
    double secs = (double)(end - begin) / 1e6;
    printf("stratus cloud, one host: %d instances, %s, scenario=boot\n", N,
           SEQUENTIAL     ? "one at a time"
           : CLIENTS == 1 ? "1 API client"
                          : "concurrent API clients");
    if (!SEQUENTIAL)
        printf("  (%d API clients)\n", CLIENTS);
    printf("  %d/%d guests running (first serial line) in %.2f s: %.1f instances/s end to end\n",
           ok, N, secs, ok / secs);
    double *v = calloc((size_t)N, sizeof *v);
    int n;
    const char *names[] = {"api", "pickup", "queue", "disk", "vmm", "guest", "total"};
    for (int p = 0; p < 7; p++) {
        n = 0;
        for (int i = 0; i < N; i++) {
            inst *x = &I[i];
            if (!x->tf || !x->launch_ts)
                continue;
            double job_start = (double)x->launch_ts / 1000.0 - (double)(x->vmm + x->disk);
            double queued_at = job_start - (double)x->queued;
            double val[] = {(double)(x->t1 - x->t0) / 1000.0,
                            queued_at - (double)x->t1 / 1000.0,
                            (double)x->queued,
                            (double)x->disk,
                            (double)x->vmm,
                            (double)(x->tf - x->launch_ts) / 1000.0 + (double)x->vmm,
                            (double)(x->tf - x->t0) / 1000.0};
            v[n++] = val[p];
        }
        if (n)
            part(names[p], v, n);
    }
    free(v);
    cloud_agent_stop(&A, SIGTERM);
    cloud_stop(&C);

    double med;
    double r = peer("vmm", N, CLIENTS, &med);
    printf("peer: stratus-vmm alone (no cloud), %d VMs, %d at a time: %.1f VMs/s, "
           "spawn -> first serial line median %.1f ms\n",
           N, CLIENTS, r, med);
    if (access("/usr/bin/qemu-system-x86_64", X_OK) == 0) {
        int qn = N < 40 ? N : 40;
        r = peer("qemu", qn, CLIENTS, &med);
        printf("peer: QEMU 7.2 alone (no cloud), %d VMs, %d at a time: %.1f VMs/s, "
               "spawn -> first serial line median %.1f ms\n",
               qn, CLIENTS, r, med);
    }
    free(I);
    return ok == N ? 0 : 1;
}
