/*
 * meter.c - image storage metering: the bytes each tenant's images hold,
 * sent to billing as storage samples (billing/README.md, "kind": "storage").
 *
 * Billing bills each hour at the largest image_bytes reported in it, and an
 * hour with no report as 0, so a thread reports at start-up and then at the
 * start of every billing.interval (3600 s): one sample per tenant that owns
 * active images, sampled_at = the start of the interval, the sum of its
 * active images' size_bytes. Who pays:
 *   - an image is billed to its owner (images.tenant_id) whatever its
 *     visibility: a tenant's image a cloud admin made public stays its
 *     owner's, as an EBS snapshot shared with others is;
 *   - the cloud's own images (tenant_id NULL: the public catalogue) are
 *     billed to nobody, as a provider's public AMIs are not;
 *   - each image counts its whole blob, even where two images share one
 *     blob (dedup is the cloud's saving, not the customer's);
 *   - queued, saving, killed and deleted images hold nothing billable.
 *
 * Exactly once. The batch id is derived from the interval's start (and the
 * chunk, 10,000 samples a batch): a name-based UUID of
 * "stratus-images/storage/<start>/<chunk>". A retry, or a restart within
 * the same interval, therefore sends a batch billing has seen and answers
 * "replayed": nothing is counted twice (the samples are gauges besides, so a
 * second report of an hour could only raise it to the same maximum). A 5xx
 * or transport error is retried with the same id and body, backing off from
 * 1 s to 60 s, until it lands; a 4xx is logged and never retried. While one
 * interval's batch is retried the next is not started: intervals that pass
 * entirely while billing is unreachable are not reported (billed 0).
 *
 * Credential: the control plane's internal token (billing.token, default
 * auth.internal_token), which billing accepts from auth.gateway_from's
 * addresses. The image service runs on control-plane hosts only (nodes hold
 * their own node credential), so that token stays where issue 14 puts it.
 */
#include "meter.h"

#include "stratus/crypto.h"
#include "stratus/httpc.h"
#include "stratus/log.h"
#include "stratus/timefmt.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK 10000

struct img_meter {
    img_svc *s;
    char url[512];
    char token[1024];
    int interval_s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

/* Waits up to ms or until stopped; 1 when stopped. */
static int nap(img_meter *m, long long ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&m->mu);
    while (!m->stop && pthread_cond_timedwait(&m->cv, &m->mu, &t) == 0)
        ;
    int stop = m->stop;
    pthread_mutex_unlock(&m->mu);
    return stop;
}

void img_meter_batch_id(int64_t slot_us, int chunk, char out[37])
{
    char ts[ST_TIME_LEN], name[96], h[65];
    st_time_format(slot_us, ts);
    snprintf(name, sizeof name, "stratus-images/storage/%s/%d", ts, chunk);
    st_sha256_hex(name, strlen(name), h);
    /* An RFC 9562 version 8 (name-based, custom hash) UUID. */
    static const char hex[] = "0123456789abcdef";
    h[12] = '8';
    h[16] = hex[8 | (strchr(hex, h[16]) - hex) % 4];
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

/* POSTs body; the HTTP status, or 0 on a transport error. */
static long post(img_meter *m, const char *body)
{
    st_httpc_req q = {.method = "POST",
                      .url = m->url,
                      .bearer = m->token,
                      .body = body,
                      .body_len = strlen(body),
                      .timeout_ms = 60000,
                      .connect_timeout_ms = 10000};
    st_httpc_resp r;
    char err[512];
    long code = st_httpc(&q, &r, err, sizeof err);
    if (!code)
        st_warn("images.meter", "billing unreachable: %s", err);
    st_httpc_resp_free(&r);
    return code;
}

static void count(const char *result)
{
    char labels[48];
    snprintf(labels, sizeof labels, "result=\"%s\"", result);
    st_metric_add(st_counter("stratus_images_storage_reports_total",
                             "Storage report batches sent to billing, by outcome.", labels),
                  1);
}

/* Sends one batch until billing takes it (2xx) or refuses it (4xx). 0, or 1
 * when stopped. */
static int deliver(img_meter *m, const char *body, const char *id)
{
    long long backoff = 1000;
    for (;;) {
        long code = post(m, body);
        if (code >= 200 && code < 300) {
            count("ok");
            return 0;
        }
        if (code >= 400 && code < 500) {
            st_error("images.meter", "billing refused storage batch %s (HTTP %ld); not retried", id,
                     code);
            count("refused");
            return 0;
        }
        count("retry");
        st_warn("images.meter", "storage batch %s: HTTP %ld, retrying in %lld ms", id, code,
                backoff);
        if (nap(m, backoff))
            return 1;
        backoff = backoff * 2 > 60000 ? 60000 : backoff * 2;
    }
}

/* Reports the interval starting at slot_us. 0, -1 (database; try again
 * soon), or 1 when stopped. */
static int report(img_meter *m, int64_t slot_us)
{
    st_db *db = st_db_get(m->s->db, 5000);
    if (!db)
        return -1;
    PGresult *r = st_db_q0(db, "SELECT tenant_id::text, sum(size_bytes)::bigint FROM images.images"
                               " WHERE status = 'active' AND tenant_id IS NOT NULL"
                               " AND size_bytes > 0 GROUP BY 1 ORDER BY 1");
    st_db_put(db);
    if (!r)
        return -1;
    char at[ST_TIME_LEN];
    st_time_format(slot_us, at);
    int n = PQntuples(r), rc = 0;
    /* An empty batch still reports the interval (and shows billing is there). */
    for (int chunk = 0; rc == 0 && (chunk == 0 || chunk * CHUNK < n); chunk++) {
        char id[37];
        img_meter_batch_id(slot_us, chunk, id);
        json_t *samples = json_array();
        for (int i = chunk * CHUNK; i < n && i < (chunk + 1) * CHUNK; i++)
            json_array_append_new(samples,
                                  json_pack("{s:s, s:s, s:s, s:I}", "kind", "storage", "tenant_id",
                                            PQgetvalue(r, i, 0), "sampled_at", at, "image_bytes",
                                            (json_int_t)st_db_int(r, i, 1)));
        json_t *b = json_pack("{s:s, s:o}", "batch_id", id, "samples", samples);
        char *body = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        if (!body)
            abort();
        rc = deliver(m, body, id);
        free(body);
    }
    if (rc == 0)
        st_info("images.meter", "reported storage of %d tenants for %s", n, at);
    PQclear(r);
    return rc;
}

static void *meter_main(void *arg)
{
    img_meter *m = arg;
    int64_t step = (int64_t)m->interval_s * 1000000, done = -1;
    for (;;) {
        int64_t now = st_now_us(), slot = now - now % step;
        if (slot != done) {
            int rc = report(m, slot);
            if (rc == 1)
                break;
            if (rc == 0)
                done = slot;
            else if (nap(m, 5000))
                break;
            continue;
        }
        /* Until the next interval starts (and a little after, for clock steps). */
        if (nap(m, (slot + step - now) / 1000 + 100))
            break;
    }
    return NULL;
}

img_meter *img_meter_start(img_svc *s, const st_config *cfg)
{
    const char *base = st_config_str(cfg, "billing.url");
    if (!*base)
        return NULL;
    const char *tok = st_config_str(cfg, "billing.token");
    if (!*tok)
        tok = s->internal_token;
    img_meter *m = calloc(1, sizeof *m);
    if (!m)
        abort();
    m->s = s;
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    snprintf(m->url, sizeof m->url, "%.*s/v1/billing/ingest", (int)bl, base);
    snprintf(m->token, sizeof m->token, "%s", tok);
    long long iv = st_config_int(cfg, "billing.interval");
    m->interval_s = iv < 1 ? 1 : iv > 3600 ? 3600 : (int)iv;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    pthread_create(&m->thread, NULL, meter_main, m);
    st_info("images.meter", "storage reports to %s every %d s", m->url, m->interval_s);
    return m;
}

void img_meter_stop(img_meter *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->stop = 1;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m);
}
