/*
 * bench_longpoll: what holding N idle desired-set long-polls costs the
 * gateway, beside the same gateway idle.
 *
 *   bench_longpoll HOST PORT GW_PID NODE_TOKEN ETAG N SECONDS [CHANGE_CMD]
 *
 * Reads the gateway process's RSS and CPU time (/proc/GW_PID) over SECONDS
 * with no connection open, then opens N connections, each sending
 * GET /internal/v1/node/instances?wait=60 with If-None-Match: ETAG, and
 * reads them again over SECONDS while all N are held. With CHANGE_CMD
 * (a shell command that changes the node's desired set), it then runs it
 * and counts how many of the N were answered 200, and how long the last
 * one took from the command's end. Plain sockets, one request each: the
 * client's own cost is not the gateway's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* RSS in KiB and utime+stime in clock ticks of pid. */
static int proc_sample(int pid, long *rss_kib, long long *ticks)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    *rss_kib = -1;
    while (fgets(buf, sizeof buf, f))
        if (!strncmp(buf, "VmRSS:", 6))
            *rss_kib = atol(buf + 6);
    fclose(f);
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (!f || !fgets(buf, sizeof buf, f)) {
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    const char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    /* fields after the name: state is 3rd; utime 14th, stime 15th */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    *ticks = (long long)(ut + st);
    return 0;
}

static void measure(const char *what, int pid, int secs)
{
    long r0, r1;
    long long t0, t1;
    proc_sample(pid, &r0, &t0);
    double s0 = now_s();
    sleep((unsigned)secs);
    proc_sample(pid, &r1, &t1);
    double el = now_s() - s0;
    double cpu_ms = (double)(t1 - t0) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
    printf("  %-34s RSS %7.1f MiB   CPU %7.1f ms over %.1f s (%.2f %% of a core)\n", what,
           (double)r1 / 1024.0, cpu_ms, el, cpu_ms / (el * 10.0));
}

int main(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: %s HOST PORT GW_PID NODE_TOKEN ETAG N SECONDS [CHANGE_CMD]\n",
                argv[0]);
        return 2;
    }
    const char *host = argv[1], *token = argv[4], *etag = argv[5];
    int port = atoi(argv[2]), pid = atoi(argv[3]), n = atoi(argv[6]), secs = atoi(argv[7]);
    const char *change = argc > 8 ? argv[8] : NULL;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    char req[1024];
    int rl = snprintf(req, sizeof req,
                      "GET /internal/v1/node/instances?wait=60 HTTP/1.1\r\nHost: %s\r\n"
                      "Authorization: Bearer %s\r\nIf-None-Match: %s\r\n\r\n",
                      host, token, etag);
    long rss0;
    long long t;
    proc_sample(pid, &rss0, &t);
    printf("gateway pid %d, %d long-polls (wait=60), %d s each\n", pid, n, secs);
    measure("idle, no connection:", pid, secs);
    int *fd = calloc((size_t)n, sizeof *fd);
    for (int i = 0; i < n; i++) {
        fd[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fd[i] < 0 || connect(fd[i], (struct sockaddr *)&a, sizeof a) < 0 ||
            write(fd[i], req, (size_t)rl) != rl) {
            fprintf(stderr, "connection %d: %s\n", i, strerror(errno));
            return 1;
        }
    }
    sleep(1); /* all read and held */
    /* none may have been answered: each is held */
    int answered = 0;
    for (int i = 0; i < n; i++) {
        struct pollfd p = {.fd = fd[i], .events = POLLIN};
        answered += poll(&p, 1, 0) == 1;
    }
    if (answered)
        printf("  %d of %d were answered before any change (not held)\n", answered, n);
    char label[64];
    snprintf(label, sizeof label, "%d long-polls held:", n);
    long rss1;
    proc_sample(pid, &rss1, &t);
    measure(label, pid, secs);
    printf("  held: %.1f KiB of gateway RSS each\n", (double)(rss1 - rss0) / n);
    if (change) {
        if (system(change) != 0)
            fprintf(stderr, "change command failed\n");
        double c0 = now_s(), last = 0;
        int ok = 0;
        char buf[8192];
        for (int i = 0; i < n; i++) {
            struct pollfd p = {.fd = fd[i], .events = POLLIN};
            if (poll(&p, 1, 70000) != 1)
                continue;
            ssize_t k = read(fd[i], buf, sizeof buf - 1);
            if (k > 12 && !memcmp(buf, "HTTP/1.1 200", 12))
                ok++;
            last = now_s() - c0;
        }
        printf("  one change for the node: %d of %d answered 200, the last %.1f ms after the"
               " change committed\n",
               ok, n, last * 1000.0);
    }
    for (int i = 0; i < n; i++)
        close(fd[i]);
    free(fd);
    return 0;
}
