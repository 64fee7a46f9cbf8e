/* bench_cli: `stratus instance list` beside `curl` making the same call
 * (GET /v1/instances with the same bearer token, 50 instances in the page),
 * each a fresh process, alternated, against one real gateway (gwt.h).
 * Prints the median and 90th percentile wall time of each.
 *
 *   bench/sdk/run.sh [BUILD_DIR] [RUNS]  */
#include "gwt.h"
#include "st_test.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double run_ms(char *const argv[])
{
    struct timespec a, b;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    clock_gettime(CLOCK_MONOTONIC, &a);
    pid_t pid;
    if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
        perror(argv[0]);
        exit(1);
    }
    int st;
    waitpid(pid, &st, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    posix_spawn_file_actions_destroy(&fa);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "%s failed\n", argv[0]);
        exit(1);
    }
    return (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
}

static int cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 100;
    gwt T;
    gwt_start(&T, "bench_cli", NULL);
    gwt_tenant A;
    gwt_make_tenant(&T, "bench", &A);
    char flavor[40], image[40];
    gwt_make_catalog(&T, flavor, image);
    char *node = gwt_make_node(&T, "bench-node", 512, 1 << 22, 100000);
    for (int i = 0; i < 50; i++) {
        char name[32], id[40];
        snprintf(name, sizeof name, "bench-%d", i);
        gwt_create_instance(&T, A.member, name, flavor, image, NULL, id);
    }
    char dir[] = "/tmp/bench-cli-XXXXXX", path[256];
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/config", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "url=%s\n", T.base);
    fclose(f);
    snprintf(path, sizeof path, "%s/token", dir);
    f = fopen(path, "w");
    fprintf(f, "%s\n", A.member);
    fclose(f);
    setenv("STRATUS_CONFIG_DIR", dir, 1);

    char url[128], auth[256];
    snprintf(url, sizeof url, "%s/v1/instances", T.base);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", A.member);
    char *cli[] = {
        (char *)st_build_path("sdk-c/stratus"), "--output", "json", "instance", "list", NULL};
    char *curl[] = {"curl", "-sf", "-H", auth, url, NULL};
    double *tc = calloc((size_t)runs, sizeof *tc), *tu = calloc((size_t)runs, sizeof *tu);
    run_ms(cli); /* warm both */
    run_ms(curl);
    for (int i = 0; i < runs; i++) {
        tc[i] = run_ms(cli);
        tu[i] = run_ms(curl);
    }
    qsort(tc, (size_t)runs, sizeof *tc, cmp);
    qsort(tu, (size_t)runs, sizeof *tu, cmp);
    printf("GET /v1/instances (50 instances), %d runs each, a new process per run:\n", runs);
    printf("  stratus instance list --output json   median %6.2f ms   p90 %6.2f ms\n", tc[runs / 2],
           tc[runs * 9 / 10]);
    printf("  curl (same URL and token)             median %6.2f ms   p90 %6.2f ms\n", tu[runs / 2],
           tu[runs * 9 / 10]);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(tc);
    free(tu);
    free(node);
    gwt_free_tenant(&A);
    gwt_stop(&T);
    return 0;
}
