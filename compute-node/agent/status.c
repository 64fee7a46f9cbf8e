/*
 * status.c - the agent's own /healthz and /metrics (common/http.h), served
 * from their own threads when http.listen is set.
 *
 * Healthy means: the gateway last answered a desired-set fetch or a held
 * long-poll within 3 x the slower of interval.reconcile_ms and
 * interval.resync_ms, + 10 s. Metrics are process-wide counters the
 * jobs bump (launches, exits, reports, fetches), gauges the loop sets after
 * each fetch (instances, running VMs), and the spool depth counted when
 * scraped.
 */
#include "agent.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "stratus/http.h"
#include "stratus/log.h"
#include "stratus/metrics.h"

static st_metric *counter(const char *what, const char *result);
static st_http_server *g_srv;
static pthread_t g_thread;
static const nd_agent *g_agent;
static long long g_last_ok_ms;

void nd_status_fetch_ok(void)
{
    __atomic_store_n(&g_last_ok_ms, nd_now_ms(), __ATOMIC_RELAXED);
}

static int health(void *arg, char *msg, size_t msglen)
{
    const nd_agent *a = arg;
    long long last = __atomic_load_n(&g_last_ok_ms, __ATOMIC_RELAXED);
    long long every = a->c.reconcile_ms > a->c.resync_ms ? a->c.reconcile_ms : a->c.resync_ms;
    long long limit = 3 * every + 10000;
    if (!last || nd_now_ms() - last > limit) {
        snprintf(msg, msglen, "no desired set from the gateway for %lld ms",
                 last ? nd_now_ms() - last : -1);
        return -1;
    }
    return 0;
}

static double spool_depth(void *arg)
{
    const nd_agent *a = arg;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/spool", a->c.state_dir);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strlen(e->d_name) == 25 && strstr(e->d_name, ".json"))
            n++;
    closedir(d);
    return n;
}

static void *serve(void *arg)
{
    st_http_server_run(g_srv);
    return NULL;
}

int nd_status_start(nd_agent *a, const char *listen, const char *port_file)
{
    /* register the series up front so a scrape shows them at zero */
    static const char *const series[][2] = {
        {"launches", "ok"},    {"launches", "failed"},  {"reports", "ok"},     {"reports", "stale"},
        {"reports", "failed"}, {"vm_exits", "stopped"}, {"vm_exits", "error"}, {"fetches", "ok"},
        {"fetches", "failed"}, {"fences", "fired"}};
    for (size_t i = 0; i < sizeof series / sizeof series[0]; i++)
        st_metric_add(counter(series[i][0], series[i][1]), 0);
    nd_metric_instances(0, 0);
    st_gauge_fn("stratus_node_spool_batches", "metering batches waiting for billing", "",
                spool_depth, a);
    if (!listen || !*listen)
        return 0;
    g_agent = a;
    st_http_opts o = {.listen = listen,
                      .port_file = port_file,
                      .threads = 1,
                      .max_body = 4096,
                      .timeout_s = 10,
                      .no_signals = 1,
                      .health = health,
                      .health_arg = a};
    char err[256];
    g_srv = st_http_server_new(&o, err, sizeof err);
    if (!g_srv) {
        st_error("node.http", "%s", err);
        return -1;
    }
    if (pthread_create(&g_thread, NULL, serve, NULL) != 0) {
        st_http_server_free(g_srv);
        g_srv = NULL;
        return -1;
    }
    return 0;
}

void nd_status_stop(void)
{
    if (!g_srv)
        return;
    st_http_server_stop(g_srv);
    pthread_join(g_thread, NULL);
    st_http_server_free(g_srv);
    g_srv = NULL;
}

static st_metric *counter(const char *what, const char *result)
{
    char name[96], labels[96];
    snprintf(name, sizeof name, "stratus_node_%s_total", what);
    snprintf(labels, sizeof labels, "result=\"%s\"", result);
    return st_counter(name, "node agent events by result", labels);
}

void nd_metric_inc(const char *what, const char *result)
{
    st_metric_add(counter(what, result), 1);
}

void nd_metric_launch_seconds(double s)
{
    st_metric_observe(st_histogram("stratus_node_launch_seconds",
                                   "record + image + disk + VMM start, per launch", "",
                                   st_latency_buckets, st_latency_buckets_n),
                      s);
}

void nd_metric_instances(int total, int running)
{
    st_metric_set(st_gauge("stratus_node_instances", "instances this node holds", ""), total);
    st_metric_set(st_gauge("stratus_node_vms_running", "VMs running on this node", ""), running);
}
