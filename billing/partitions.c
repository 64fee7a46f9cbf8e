/*
 * partitions.c - monthly partitions and the retention of raw data.
 *
 * billing.samples is partitioned by month of sampled_at, usage_hourly by
 * invoice period; billing.ensure_partitions() (the migrations) creates a
 * month's partitions of both. Ingest calls
 * bl_partitions_ensure() for the months of a batch BEFORE opening its
 * transaction, because CREATE TABLE ... PARTITION OF locks the parent and
 * must not run inside a transaction that already holds row locks. A process
 * remembers the months it has ensured, so the usual batch costs nothing.
 *
 * The maintenance thread, every maintenance.interval seconds: partitions
 * for this month and the next, then retention: raw sample partitions that
 * ended before now - retention are dropped whole (cheap, no vacuum), batch
 * ids and stream heads older than that are deleted; a month left half issued
 * by a crash is finished (invoice.c). Samples older than the
 * retention window are refused at ingest (counted as stale), so a dropped
 * partition is never needed again; rollups and invoices are kept forever.
 */
#include "billing.h"

#include "sqlbuf.h"
#include "stratus/log.h"
#include "stratus/timefmt.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>

#define KNOWN_MAX 512

static pthread_mutex_t known_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t known[KNOWN_MAX];
static int nknown;

static int is_known(int64_t m)
{
    for (int i = 0; i < nknown; i++)
        if (known[i] == m)
            return 1;
    return 0;
}

int bl_partitions_ensure(st_db_pool *pool, const int64_t *times, int n)
{
    int64_t want[64];
    int nwant = 0;
    pthread_mutex_lock(&known_mu);
    for (int i = 0; i < n && nwant < 64; i++) {
        int64_t m = bl_month_floor(times[i]);
        int dup = is_known(m);
        for (int k = 0; k < nwant && !dup; k++)
            dup = want[k] == m;
        if (!dup)
            want[nwant++] = m;
    }
    pthread_mutex_unlock(&known_mu);
    if (!nwant)
        return 0;
    sb arr;
    sb_init(&arr);
    sb_arr_open(&arr);
    for (int i = 0; i < nwant; i++)
        sb_arr_date(&arr, want[i]);
    sb_arr_close(&arr);
    st_db *db = st_db_get(pool, 5000);
    int rc = -1;
    if (db) {
        PGresult *r = st_db_q(db, "SELECT billing.ensure_partitions($1::date[])", sb_str(&arr));
        if (r) {
            rc = 0;
            PQclear(r);
        } else {
            st_error("billing.partitions", "creating partitions: %s", st_db_error(db));
        }
        st_db_put(db);
    }
    sb_free(&arr);
    if (rc == 0) {
        pthread_mutex_lock(&known_mu);
        for (int i = 0; i < nwant; i++)
            if (!is_known(want[i]) && nknown < KNOWN_MAX)
                known[nknown++] = want[i];
        pthread_mutex_unlock(&known_mu);
    }
    return rc;
}

void bl_partitions_forget(void)
{
    pthread_mutex_lock(&known_mu);
    nknown = 0;
    pthread_mutex_unlock(&known_mu);
}

int bl_maintenance_run(bl_ctx *ctx)
{
    int64_t now = st_now_us();
    int64_t months[2] = {now, bl_month_add(bl_month_floor(now), 1)};
    if (bl_partitions_ensure(ctx->pool, months, 2) < 0)
        return -1;
    st_db *db = st_db_get(ctx->pool, 5000);
    if (!db)
        return -1;
    char cutoff[ST_TIME_LEN], dead[ST_TIME_LEN];
    st_time_format_us(now - ctx->retention_us, cutoff);
    /* Stream heads live a day longer than their samples: see README "retention". */
    st_time_format_us(now - ctx->retention_us - 24 * BL_US_HOUR, dead);
    int rc = 0;
    PGresult *r = st_db_q(db, "SELECT billing.drop_samples_before($1)", cutoff);
    if (!r) {
        rc = -1;
    } else {
        if (st_db_int(r, 0, 0) > 0)
            st_info("billing.retention", "dropped %lld raw sample partition(s) before %s",
                    st_db_int(r, 0, 0), cutoff);
        PQclear(r);
    }
    bl_partitions_forget();
    if (rc == 0 &&
        (st_db_x(db, "DELETE FROM billing.batches WHERE received_at < $1", cutoff) < 0 ||
         st_db_x(db, "DELETE FROM billing.streams WHERE last_sampled_at < $1", dead) < 0))
        rc = -1;
    if (rc < 0)
        st_error("billing.retention", "maintenance failed: %s", st_db_error(db));
    st_db_put(db);
    /* A month left half issued by a crash is finished here too. */
    if (bl_issue_resume(ctx) < 0)
        rc = -1;
    return rc;
}

static pthread_t maint_th;
static int maint_running;
static int maint_stop;
static pthread_mutex_t maint_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t maint_cv = PTHREAD_COND_INITIALIZER;

static void *maint_main(void *arg)
{
    bl_ctx *ctx = arg;
    pthread_mutex_lock(&maint_mu);
    while (!maint_stop) {
        pthread_mutex_unlock(&maint_mu);
        bl_maintenance_run(ctx);
        pthread_mutex_lock(&maint_mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += ctx->maintenance_s;
        while (!maint_stop && pthread_cond_timedwait(&maint_cv, &maint_mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&maint_mu);
    return NULL;
}

int bl_maintenance_start(bl_ctx *ctx)
{
    if (ctx->maintenance_s <= 0)
        return 0;
    maint_stop = 0;
    if (pthread_create(&maint_th, NULL, maint_main, ctx) != 0)
        return -1;
    maint_running = 1;
    return 0;
}

void bl_maintenance_stop(void)
{
    if (!maint_running)
        return;
    pthread_mutex_lock(&maint_mu);
    maint_stop = 1;
    pthread_cond_broadcast(&maint_cv);
    pthread_mutex_unlock(&maint_mu);
    pthread_join(maint_th, NULL);
    maint_running = 0;
}
