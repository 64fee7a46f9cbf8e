/*
 * metrics.h - a process-wide Prometheus registry, rendered in the text
 * exposition format by st_metrics_render() (served at /metrics).
 *
 * A metric is a name, a help text, a type and a set of label values given as
 * rendered Prometheus label pairs ("method=\"GET\",code=\"200\"", or "" for
 * none). Looking up the same name and labels again returns the same metric,
 * so callers may either cache the pointer or look it up each time. Updates
 * are lock-free atomics; registration takes a mutex.
 */
#ifndef STRATUS_METRICS_H
#define STRATUS_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct st_metric st_metric;

st_metric *st_counter(const char *name, const char *help, const char *labels);
st_metric *st_gauge(const char *name, const char *help, const char *labels);
/* bounds: ascending upper bounds, n of them (+Inf is implicit). */
st_metric *st_histogram(const char *name, const char *help, const char *labels,
                        const double *bounds, int n);
/* A gauge whose value is computed when /metrics is read. */
void st_gauge_fn(const char *name, const char *help, const char *labels, double (*fn)(void *arg),
                 void *arg);
/* A counter whose value is computed when /metrics is read. */
void st_counter_fn(const char *name, const char *help, const char *labels, double (*fn)(void *arg),
                   void *arg);
/*
 * stratus_build_info{service,version} and the process_* metrics every
 * Prometheus client exports (CPU seconds, resident and virtual memory,
 * open and maximum descriptors, start time). st_service_log_init() calls
 * it; a service's own metrics are named stratus_<service>_..., the HTTP
 * layer's stratus_http_... (see common/README.md).
 */
void st_metrics_process(const char *service, const char *version);

void st_metric_add(st_metric *m, double v);     /* counter or gauge */
void st_metric_set(st_metric *m, double v);     /* gauge */
void st_metric_observe(st_metric *m, double v); /* histogram */
double st_metric_value(st_metric *m);

/* Latency buckets in seconds, 100 us .. 10 s. */
extern const double st_latency_buckets[];
extern const int st_latency_buckets_n;

/* Text exposition format; malloc'd, *len set. */
char *st_metrics_render(size_t *len);

#endif
