/*
 * metrics.c - the Prometheus registry.
 *
 * Metrics live in one singly linked list, kept in registration order and
 * never freed (a service registers a bounded set: routes x methods x status
 * classes). Lookups hash name+labels into a small open table so the HTTP layer
 * can look up its per-request counters without scanning the list. Values are
 * doubles stored as their bit patterns in 64-bit atomics; adds use a
 * compare-and-swap loop, which never loses an update.
 */
#include "stratus/metrics.h"

#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef enum { M_COUNTER, M_GAUGE, M_HIST, M_GAUGE_FN, M_COUNTER_FN } mtype;

struct st_metric {
    struct st_metric *next, *hnext;
    char *name, *help, *labels;
    mtype type;
    uint64_t bits; /* double value (counter/gauge) or histogram sum */
    uint64_t count;
    int nb;
    double *bounds;
    uint64_t *buckets; /* nb + 1, not cumulative */
    double (*fn)(void *);
    void *fn_arg;
};

#define HBUCKETS 1024
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static st_metric *head, *tail;
static st_metric *htab[HBUCKETS];

const double st_latency_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                     0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
const int st_latency_buckets_n = sizeof st_latency_buckets / sizeof st_latency_buckets[0];

static unsigned hash2(const char *a, const char *b)
{
    unsigned h = 2166136261u;
    for (; *a; a++)
        h = (h ^ (unsigned char)*a) * 16777619u;
    h = (h ^ '{') * 16777619u;
    for (; *b; b++)
        h = (h ^ (unsigned char)*b) * 16777619u;
    return h % HBUCKETS;
}

static double from_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static uint64_t to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static st_metric *lookup_or_add(const char *name, const char *help, const char *labels, mtype type,
                                const double *bounds, int nb)
{
    if (!labels)
        labels = "";
    unsigned h = hash2(name, labels);
    pthread_mutex_lock(&reg_lock);
    st_metric *m;
    for (m = htab[h]; m; m = m->hnext)
        if (strcmp(m->name, name) == 0 && strcmp(m->labels, labels) == 0)
            break;
    if (!m) {
        m = calloc(1, sizeof *m);
        m->name = strdup(name);
        m->help = strdup(help ? help : "");
        m->labels = strdup(labels);
        m->type = type;
        if (type == M_HIST) {
            m->nb = nb;
            m->bounds = malloc(sizeof(double) * (size_t)nb);
            memcpy(m->bounds, bounds, sizeof(double) * (size_t)nb);
            m->buckets = calloc((size_t)nb + 1, sizeof(uint64_t));
        }
        m->hnext = htab[h];
        htab[h] = m;
        if (tail)
            __atomic_store_n(&tail->next, m, __ATOMIC_RELEASE);
        else
            __atomic_store_n(&head, m, __ATOMIC_RELEASE);
        tail = m;
    }
    pthread_mutex_unlock(&reg_lock);
    return m;
}

st_metric *st_counter(const char *name, const char *help, const char *labels)
{
    return lookup_or_add(name, help, labels, M_COUNTER, NULL, 0);
}

st_metric *st_gauge(const char *name, const char *help, const char *labels)
{
    return lookup_or_add(name, help, labels, M_GAUGE, NULL, 0);
}

st_metric *st_histogram(const char *name, const char *help, const char *labels,
                        const double *bounds, int n)
{
    return lookup_or_add(name, help, labels, M_HIST, bounds, n);
}

void st_gauge_fn(const char *name, const char *help, const char *labels, double (*fn)(void *arg),
                 void *arg)
{
    st_metric *m = lookup_or_add(name, help, labels, M_GAUGE_FN, NULL, 0);
    m->fn = fn;
    m->fn_arg = arg;
}

void st_counter_fn(const char *name, const char *help, const char *labels, double (*fn)(void *arg),
                   void *arg)
{
    st_metric *m = lookup_or_add(name, help, labels, M_COUNTER_FN, NULL, 0);
    m->fn = fn;
    m->fn_arg = arg;
}

static void atomic_add_double(uint64_t *p, double v)
{
    uint64_t old = __atomic_load_n(p, __ATOMIC_RELAXED), nw;
    do {
        nw = to_bits(from_bits(old) + v);
    } while (!__atomic_compare_exchange_n(p, &old, nw, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

void st_metric_add(st_metric *m, double v)
{
    atomic_add_double(&m->bits, v);
}

void st_metric_set(st_metric *m, double v)
{
    __atomic_store_n(&m->bits, to_bits(v), __ATOMIC_RELAXED);
}

double st_metric_value(st_metric *m)
{
    if (m->type == M_GAUGE_FN || m->type == M_COUNTER_FN)
        return m->fn(m->fn_arg);
    return from_bits(__atomic_load_n(&m->bits, __ATOMIC_RELAXED));
}

void st_metric_observe(st_metric *m, double v)
{
    int i = 0;
    while (i < m->nb && v > m->bounds[i])
        i++;
    __atomic_add_fetch(&m->buckets[i], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&m->count, 1, __ATOMIC_RELAXED);
    atomic_add_double(&m->bits, v);
}

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int w = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (w >= 0 && (size_t)w < b->cap - b->n) {
            b->n += (size_t)w;
            return;
        }
        b->cap = b->cap * 2 + (size_t)(w > 0 ? w : 0) + 256;
        b->p = realloc(b->p, b->cap);
    }
}

static const char *type_name(mtype t)
{
    switch (t) {
    case M_COUNTER:
    case M_COUNTER_FN: return "counter";
    case M_HIST: return "histogram";
    default: return "gauge";
    }
}

/* Labels joined with an extra one: {a="b",le="0.5"} */
static void sb_labels(sbuf *b, const char *labels, const char *extra)
{
    if (!*labels && !extra)
        return;
    sb_printf(b, "{%s%s%s}", labels, (*labels && extra) ? "," : "", extra ? extra : "");
}

static void render_one(sbuf *b, st_metric *m)
{
    if (m->type == M_HIST) {
        uint64_t cum = 0;
        char le[64];
        for (int i = 0; i <= m->nb; i++) {
            cum += __atomic_load_n(&m->buckets[i], __ATOMIC_RELAXED);
            if (i < m->nb)
                snprintf(le, sizeof le, "le=\"%g\"", m->bounds[i]);
            else
                snprintf(le, sizeof le, "le=\"+Inf\"");
            sb_printf(b, "%s_bucket", m->name);
            sb_labels(b, m->labels, le);
            sb_printf(b, " %llu\n", (unsigned long long)cum);
        }
        sb_printf(b, "%s_sum", m->name);
        sb_labels(b, m->labels, NULL);
        sb_printf(b, " %.9g\n%s_count", st_metric_value(m), m->name);
        sb_labels(b, m->labels, NULL);
        sb_printf(b, " %llu\n", (unsigned long long)__atomic_load_n(&m->count, __ATOMIC_RELAXED));
    } else {
        sb_printf(b, "%s", m->name);
        sb_labels(b, m->labels, NULL);
        sb_printf(b, " %.17g\n", st_metric_value(m));
    }
}

char *st_metrics_render(size_t *len)
{
    sbuf b = {malloc(4096), 0, 4096};
    b.p[0] = 0;
    /* The list only grows at its tail and nodes never move or die, so it is
     * walked without the lock; a metric added meanwhile may be missed. The
     * exposition format wants a family's samples together, so each family is
     * written whole at its first member. */
    st_metric *first = __atomic_load_n(&head, __ATOMIC_ACQUIRE);
    for (st_metric *m = first; m; m = __atomic_load_n(&m->next, __ATOMIC_ACQUIRE)) {
        int seen = 0;
        for (st_metric *o = first; o != m && !seen; o = o->next)
            seen = strcmp(o->name, m->name) == 0;
        if (seen)
            continue;
        sb_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
                  type_name(m->type));
        for (st_metric *o = m; o; o = __atomic_load_n(&o->next, __ATOMIC_ACQUIRE))
            if (strcmp(o->name, m->name) == 0)
                render_one(&b, o);
    }
    *len = b.n;
    return b.p;
}

/* ---- process_* (the Prometheus client libraries' names) and build info ---- */

static double proc_cpu_seconds(void *arg)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* field 0 (size) or 1 (resident) of /proc/self/statm, in bytes */
static double proc_statm(void *arg)
{
    long pages[2] = {0, 0};
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages[0], &pages[1]) != 2)
            pages[0] = pages[1] = 0;
        fclose(f);
    }
    return (double)pages[(intptr_t)arg] * (double)sysconf(_SC_PAGESIZE);
}

static double proc_open_fds(void *arg)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    double n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

static double proc_max_fds(void *arg)
{
    struct rlimit rl;
    return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (double)rl.rlim_cur : 0;
}

static double proc_start;
static double proc_start_time(void *arg)
{
    return proc_start;
}
static double one(void *arg)
{
    return 1;
}

void st_metrics_process(const char *service, const char *version)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    proc_start = (double)ts.tv_sec;
    char labels[256];
    snprintf(labels, sizeof labels, "service=\"%s\",version=\"%s\"", service, version);
    st_gauge_fn("stratus_build_info", "The service and version this process runs (always 1).",
                labels, one, NULL);
    st_counter_fn("process_cpu_seconds_total", "User and system CPU time spent, seconds.", "",
                  proc_cpu_seconds, NULL);
    st_gauge_fn("process_resident_memory_bytes", "Resident memory size, bytes.", "", proc_statm,
                (void *)(intptr_t)1);
    st_gauge_fn("process_virtual_memory_bytes", "Virtual memory size, bytes.", "", proc_statm,
                (void *)(intptr_t)0);
    st_gauge_fn("process_open_fds", "Open file descriptors.", "", proc_open_fds, NULL);
    st_gauge_fn("process_max_fds", "Limit on open file descriptors.", "", proc_max_fds, NULL);
    st_gauge_fn("process_start_time_seconds", "Start time of the process, seconds since the epoch.",
                "", proc_start_time, NULL);
}
