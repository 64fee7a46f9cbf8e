/*
 * periodic.c - the agent's timers: heartbeat, metering, console, spool, and
 * the collection of unused cached images (imagegc.c).
 *
 * Each timer takes a snapshot of what it needs on the loop thread and runs
 * one job on the thread pool; a timer whose previous job has not finished
 * skips its turn, so a slow gateway or billing never piles jobs up.
 *
 * Metering: every interval.meter_ms, GET /vm/counters of every running VM
 * becomes a sample; the round's samples are one batch, spooled on disk
 * (meter.c) and then sent with everything spooled before it. When a VMM
 * ends, its final counters (the `vmm.counters` line it logs at exit) become
 * one more sample (nd_meter_final), so usage up to the end is billed.
 *
 * Console: every interval.console_ms, each instance's serial log is
 * checked (size and mtime); a changed one has its last console.max_kib KiB
 * pushed to the gateway.
 */
#include "agent.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "stratus/log.h"

static long long g_seq;

long long nd_seq_next(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    long long now = (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    long long prev = __atomic_load_n(&g_seq, __ATOMIC_RELAXED), next;
    do {
        next = now > prev ? now : prev + 1;
    } while (
        !__atomic_compare_exchange_n(&g_seq, &prev, next, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return next;
}

/* Called from jobs when a VM is gone: its final counters as one batch. */
void nd_meter_final(nd_agent *a, nd_record *r, const char *state)
{
    if (!r->o.tenant_id[0] || !(a->drv->ops->caps & ND_CAP_FINAL_COUNTERS))
        return;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", nd_inst_dir(a->c.state_dir, r->o.id));
    char *counters = a->drv->ops->final_counters(a->drv, dir, &r->vm);
    if (!counters)
        return;
    char *s = nd_sample_make(r, state, nd_seq_next(), counters);
    free(counters);
    if (!s)
        return;
    const char *one[] = {s};
    char *b = nd_sample_batch(one, 1);
    if (b && nd_spool_add(a->c.state_dir, b, strlen(b), a->c.state_fsync) < 0)
        st_error("node.meter", "cannot spool the final sample of %s", r->o.id);
    free(b);
    free(s);
}

/* ---- heartbeat ---- */

typedef struct hb_job {
    uv_work_t w;
    nd_agent *a;
    long long sent_ms; /* taken before the send: the lease it renews (fence.c) */
    char fenced_at[32];
    long status;
} hb_job;

static void hb_run(uv_work_t *w)
{
    hb_job *j = w->data;
    char err[512];
    j->status = nd_gw_heartbeat(&j->a->c, j->a->hostname, j->fenced_at, nd_can_migrate(j->a->drv),
                                nd_can_block_migrate(j->a->drv), err, sizeof err);
    if (j->status != 200)
        st_warn("node.heartbeat", "%s", err);
}

static void hb_done(uv_work_t *w, int status)
{
    hb_job *j = w->data;
    j->a->hb_busy = 0;
    if (j->status == 200 && !j->a->stopping)
        nd_fence_renewed(j->a, j->sent_ms);
    free(j);
}

static void on_hb(uv_timer_t *t)
{
    nd_agent *a = t->data;
    if (a->hb_busy)
        return;
    hb_job *j = calloc(1, sizeof *j);
    j->w.data = j;
    j->a = a;
    j->sent_ms = nd_now_ms();
    snprintf(j->fenced_at, sizeof j->fenced_at, "%s", a->fenced_at);
    a->hb_busy = 1;
    uv_queue_work(a->loop, &j->w, hb_run, hb_done);
}

/* ---- metering and the spool ---- */

typedef struct snap {
    nd_record rec;
    long long marker;
    int changed;
} snap;

typedef struct round_job {
    uv_work_t w;
    nd_agent *a;
    snap *v;
    int n;
} round_job;

static void meter_run(uv_work_t *w)
{
    round_job *j = w->data;
    nd_agent *a = j->a;
    char **samples = calloc((size_t)j->n + 1, sizeof *samples);
    int k = 0;
    for (int i = 0; i < j->n && samples; i++) {
        char *counters = NULL, err[256];
        const char *dir = nd_inst_dir(a->c.state_dir, j->v[i].rec.o.id);
        char d[4200];
        snprintf(d, sizeof d, "%s", dir);
        if (a->drv->ops->counters(a->drv, d, &j->v[i].rec.vm, &counters, err, sizeof err) < 0)
            continue;
        char *s = nd_sample_make(&j->v[i].rec, "active", nd_seq_next(), counters);
        free(counters);
        if (s)
            samples[k++] = s;
    }
    if (k > 0) {
        char *b = nd_sample_batch((const char *const *)samples, k);
        if (b && nd_spool_add(a->c.state_dir, b, strlen(b), a->c.state_fsync) < 0)
            st_error("node.meter", "cannot spool %d samples", k);
        free(b);
    }
    for (int i = 0; i < k; i++)
        free(samples[i]);
    free(samples);
    /* then send whatever is spooled (this round's and any left from before) */
    if (a->c.bill_url && *a->c.bill_url) {
        int sent;
        char err[512] = "";
        if (nd_spool_flush(&a->c, &sent, err, sizeof err) < 0)
            st_warn("node.meter", "billing: %s (samples stay spooled)", err);
    }
}

static void round_free(uv_work_t *w, int status)
{
    round_job *j = w->data;
    j->a->meter_busy = 0;
    free(j->v);
    free(j);
}

static round_job *snapshot(nd_agent *a, int running_only)
{
    int n = 0;
    for (nd_inst *in = a->insts; in; in = in->next)
        n++;
    round_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->v = calloc((size_t)n + 1, sizeof *j->v);
    if (!j->v) {
        free(j);
        return NULL;
    }
    j->w.data = j;
    j->a = a;
    for (nd_inst *in = a->insts; in; in = in->next) {
        if (running_only && (in->rec.actual != ND_ACTUAL_RUNNING || in->busy))
            continue;
        j->v[j->n].rec = in->rec;
        j->v[j->n].marker = in->con_mtime_ns;
        j->n++;
    }
    return j;
}

static void on_meter(uv_timer_t *t)
{
    nd_agent *a = t->data;
    if (a->meter_busy)
        return;
    round_job *j = snapshot(a, 1);
    if (!j)
        return;
    a->meter_busy = 1;
    uv_queue_work(a->loop, &j->w, meter_run, round_free);
}

typedef struct spool_job {
    uv_work_t w;
    nd_agent *a;
} spool_job;

static void spool_run(uv_work_t *w)
{
    spool_job *j = w->data;
    int sent;
    char err[512] = "";
    if (nd_spool_flush(&j->a->c, &sent, err, sizeof err) < 0)
        st_debug("node.meter", "billing still unreachable: %s", err);
}

static void spool_done(uv_work_t *w, int status)
{
    spool_job *j = w->data;
    j->a->spool_busy = 0;
    free(j);
}

/* Final samples land in the spool between rounds; this sends them too. */
static void on_spool(uv_timer_t *t)
{
    nd_agent *a = t->data;
    if (a->spool_busy || a->meter_busy || !a->c.bill_url || !*a->c.bill_url)
        return;
    spool_job *j = calloc(1, sizeof *j);
    j->w.data = j;
    j->a = a;
    a->spool_busy = 1;
    uv_queue_work(a->loop, &j->w, spool_run, spool_done);
}

/* ---- console ---- */

static void console_run(uv_work_t *w)
{
    round_job *j = w->data;
    nd_agent *a = j->a;
    size_t max = (size_t)a->c.console_kib * 1024;
    for (int i = 0; i < j->n; i++) {
        char d[4200], *buf = NULL, err[512];
        size_t len = 0;
        snprintf(d, sizeof d, "%s", nd_inst_dir(a->c.state_dir, j->v[i].rec.o.id));
        long long m = j->v[i].marker;
        if (a->drv->ops->console(a->drv, d, &j->v[i].rec.vm, max, &buf, &len, &m) != 0)
            continue;
        long st = nd_gw_console(&a->c, j->v[i].rec.o.id, buf, len, err, sizeof err);
        free(buf);
        if (st == 204 || st == 200 || st == 404) {
            j->v[i].marker = m; /* 404: the instance is gone there; do not insist */
            j->v[i].changed = 1;
        } else {
            st_debug("node.console", "%s: %s", j->v[i].rec.o.id, err);
        }
    }
}

static void console_done(uv_work_t *w, int status)
{
    round_job *j = w->data;
    for (int i = 0; i < j->n; i++) {
        nd_inst *in = j->v[i].changed ? nd_inst_find(j->a, j->v[i].rec.o.id) : NULL;
        if (in)
            in->con_mtime_ns = j->v[i].marker;
    }
    j->a->console_busy = 0;
    free(j->v);
    free(j);
}

static void on_console(uv_timer_t *t)
{
    nd_agent *a = t->data;
    if (a->console_busy)
        return;
    round_job *j = snapshot(a, 0);
    if (!j)
        return;
    a->console_busy = 1;
    uv_queue_work(a->loop, &j->w, console_run, console_done);
}

/* Image collection: one pass on the pool (imagegc.c). */
typedef struct gc_job {
    uv_work_t w;
    nd_agent *a;
    int rc, removed;
    long long bytes;
} gc_job;

static void image_gc_run(uv_work_t *w)
{
    gc_job *j = w->data;
    j->rc = nd_image_gc(&j->a->c, j->a->c.image_keep_s, &j->removed, &j->bytes);
}

static void image_gc_done(uv_work_t *w, int status)
{
    gc_job *j = w->data;
    (void)status;
    nd_metric_inc("image_gc", j->rc < 0 ? "unsure" : "ran");
    for (int i = 0; i < j->removed; i++)
        nd_metric_inc("images_removed", "ok");
    if (j->removed)
        st_info("node.image_gc", "removed %d unused image%s, %lld bytes", j->removed,
                j->removed == 1 ? "" : "s", j->bytes);
    j->a->image_gc_busy = 0;
    free(j);
}

static void on_image_gc(uv_timer_t *t)
{
    nd_agent *a = t->data;
    if (a->image_gc_busy)
        return;
    gc_job *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->w.data = j;
    j->a = a;
    a->image_gc_busy = 1;
    if (uv_queue_work(a->loop, &j->w, image_gc_run, image_gc_done) != 0) {
        a->image_gc_busy = 0;
        free(j);
    }
}

void nd_periodic_start(nd_agent *a)
{
    uv_timer_t *ts[] = {&a->t_hb, &a->t_meter, &a->t_console, &a->t_spool, &a->t_image_gc};
    uv_timer_cb cbs[] = {on_hb, on_meter, on_console, on_spool, on_image_gc};
    long long every[] = {a->c.hb_ms, a->c.meter_ms, a->c.console_ms, a->c.spool_retry_ms,
                         a->c.image_gc_ms};
    for (int i = 0; i < 5; i++) {
        uv_timer_init(a->loop, ts[i]);
        ts[i]->data = a;
        uv_timer_start(ts[i], cbs[i], i == 0 ? 0 : (uint64_t)every[i], (uint64_t)every[i]);
    }
}
