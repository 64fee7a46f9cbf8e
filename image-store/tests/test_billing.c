/*
 * Image storage metering end to end: a real stratus-images reports each
 * tenant's image bytes to a real stratus-billing, each on its own database
 * of the test PostgreSQL. Checks who pays (owners; the cloud's own images
 * nobody; deleted and unfinished images nothing), that a restart within an
 * interval and a retry after billing was killed are replays (one batch, no
 * double count), that a new interval reports changes, and that a 4xx is
 * never retried.
 */
#include "bl_test.h"
#include "st_test.h"
#include "svc.h"

#include "stratus/log.h"
#include "stratus/timefmt.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TA "31111111-1111-4111-8111-111111111111"
#define TB "32222222-2222-4222-8222-222222222222"
#define MIB 1048576LL

static bl_srv bill;
static svc S;
static const who A = {TA, "member", 0}, B = {TB, "member", 0}, ADMIN = {NULL, NULL, 1};
static char url_set[128], listen_set[64];

static int suite_init(void)
{
    if (bl_srv_start(&bill, "images_billing", NULL) < 0)
        return -1;
    snprintf(url_set, sizeof url_set, "billing.url=%s", bill.base);
    return svc_start(&S, "images-billing", NULL);
}

static int suite_clean(void)
{
    svc_free(&S);
    return bl_srv_stop(&bill);
}

/* Creates an image for w and uploads len bytes; its id (static), or NULL. */
static const char *image(const who *w, const char *name, size_t len)
{
    const char *id = svc_create(&S, w, name, "raw");
    if (!id)
        return NULL;
    static char keep[40];
    snprintf(keep, sizeof keep, "%s", id);
    char *buf = calloc(1, len);
    buf[0] = 1;
    char p[128];
    snprintf(p, sizeof p, "/v1/images/%s/file", keep);
    st_resp r;
    svc_data(&S, &r, "PUT", p, w, buf, len, NULL);
    free(buf);
    long st = r.status;
    st_resp_free(&r);
    return st == 200 ? keep : NULL;
}

/* A counter's value on url's /metrics (-1 when absent). */
static double metric(const char *base, const char *series)
{
    char url[160];
    snprintf(url, sizeof url, "%s/metrics", base);
    st_resp r;
    st_http(&r, "GET", url, NULL, NULL, NULL);
    double v = -1;
    const char *p = r.body ? strstr(r.body, series) : NULL;
    if (p && p[strlen(series)] == ' ')
        v = strtod(p + strlen(series) + 1, NULL);
    st_resp_free(&r);
    return v;
}

static long long tenant_bytes(const char *tenant)
{
    char q[200];
    snprintf(q, sizeof q,
             "SELECT coalesce(max(bytes), -1) FROM billing.storage_hourly WHERE tenant_id = '%s'"
             " AND hour = date_trunc('hour', now())",
             tenant);
    return bl_sql_int(&bill, q);
}

/* Waits until sql gives want; the last value. */
static long long wait_sql(const char *sql, long long want, int timeout_ms)
{
    long long v = -1;
    for (int t = 0; t < timeout_ms; t += 100) {
        if ((v = bl_sql_int(&bill, sql)) == want)
            break;
        usleep(100000);
    }
    return v;
}

static int64_t hour_now(void)
{
    int64_t us = st_now_us();
    return us - us % (3600LL * 1000000);
}

static void test_each_tenant_is_billed_for_its_images(void)
{
    /* Images made before the service reports: A 1 MiB + 512 KiB, a queued one;
     * B 1 MiB and a deleted 2 MiB; the cloud's public 3 MiB. */
    ST_ASSERT_INT_EQ_FATAL(image(&A, "a1", MIB) != NULL, 1);
    ST_ASSERT_INT_EQ_FATAL(image(&A, "a2", MIB / 2) != NULL, 1);
    ST_ASSERT_INT_EQ_FATAL(svc_create(&S, &A, "a-queued", "raw") != NULL, 1);
    ST_ASSERT_INT_EQ_FATAL(image(&B, "b1", MIB) != NULL, 1);
    const char *gone = image(&B, "b-deleted", 2 * MIB);
    ST_ASSERT_INT_EQ_FATAL(gone != NULL, 1);
    char p[128];
    snprintf(p, sizeof p, "/v1/images/%s", gone);
    st_resp r;
    svc_api(&S, &r, "DELETE", p, &B, NULL);
    ST_ASSERT_INT_EQ(r.status, 204);
    st_resp_free(&r);
    const char *pub = svc_create(&S, &ADMIN, "cloud-base", "raw");
    ST_ASSERT_INT_EQ_FATAL(pub != NULL, 1);
    char pub_id[40];
    snprintf(pub_id, sizeof pub_id, "%s", pub);
    char *buf = calloc(1, 3 * MIB);
    snprintf(p, sizeof p, "/v1/images/%s/file", pub_id);
    svc_data(&S, &r, "PUT", p, &ADMIN, buf, 3 * MIB, NULL);
    free(buf);
    ST_ASSERT_INT_EQ(r.status, 200);
    st_resp_free(&r);

    /* Now with billing: the report at start. */
    svc_stop(&S);
    const char *extra[] = {url_set, "billing.token=" BL_TEST_TOKEN, NULL};
    int64_t h0 = hour_now();
    ST_ASSERT_INT_EQ_FATAL(svc_restart(&S, extra), 0);
    ST_ASSERT_INT_EQ(
        wait_sql("SELECT count(*) FROM billing.batches WHERE node = 'control-plane'", 1, 20000), 1);
    ST_ASSERT_INT_EQ(tenant_bytes(TA), 3 * MIB / 2);
    ST_ASSERT_INT_EQ(tenant_bytes(TB), MIB);
    ST_ASSERT_INT_EQ(
        bl_sql_int(&bill, "SELECT count(DISTINCT tenant_id) FROM billing.storage_hourly"), 2);
    ST_ASSERT_INT_EQ(bl_sql_int(&bill, "SELECT samples FROM billing.batches"), 2);

    /* A's usage, through billing's API, as byte-hours of this hour. */
    bl_call(&bill, "GET", "/v1/billing/usage?granularity=hour", TA, 0, NULL, NULL, &r);
    ST_ASSERT_INT_EQ(r.status, 200);
    ST_ASSERT_INT_EQ(json_integer_value(
                         json_object_get(json_object_get(r.json, "totals"), "storage_byte_hours")),
                     3 * MIB / 2);
    st_resp_free(&r);

    /* Billing killed; the image service restarted within the interval with
     * one more image for A. Its report finds billing down, is retried with
     * the same batch id and, billing back on the same port, is a replay:
     * still one batch, nothing counted twice. */
    ST_ASSERT_INT_EQ_FATAL(image(&A, "a3", MIB) != NULL, 1);
    svc_stop(&S);
    st_proc_stop(&bill.proc, SIGKILL, 2000);
    ST_ASSERT_INT_EQ_FATAL(svc_restart(&S, extra), 0);
    for (int t = 0;
         t < 100 && metric(S.api, "stratus_images_storage_reports_total{result=\"retry\"}") < 1;
         t++)
        usleep(100000);
    ST_ASSERT_INT_EQ(metric(S.api, "stratus_images_storage_reports_total{result=\"retry\"}") >= 1,
                     1);
    snprintf(listen_set, sizeof listen_set, "http.listen=127.0.0.1:%d",
             st_read_port(bill.port_file));
    bill.sets[bill.nsets++] = listen_set;
    ST_ASSERT_INT_EQ_FATAL(bl_srv_launch(&bill), 0);
    for (int t = 0;
         t < 200 && metric(S.api, "stratus_images_storage_reports_total{result=\"ok\"}") < 1; t++)
        usleep(100000);
    ST_ASSERT_INT_EQ(metric(S.api, "stratus_images_storage_reports_total{result=\"ok\"}"), 1);
    if (hour_now() == h0) { /* the same interval (hour): the same batch id */
        ST_ASSERT_INT_EQ(metric(bill.base, "stratus_billing_batches_total{result=\"replayed\"}"),
                         1);
        ST_ASSERT_INT_EQ(bl_sql_int(&bill, "SELECT count(*) FROM billing.batches"), 1);
        ST_ASSERT_INT_EQ(tenant_bytes(TA), 3 * MIB / 2);
    } else {
        fprintf(stderr, "images_billing: an hour began during the test; replay not checked\n");
    }

    /* A short interval: the next one reports A's new image. */
    svc_stop(&S);
    const char *fast[] = {url_set, "billing.token=" BL_TEST_TOKEN, "billing.interval=2", NULL};
    char url2[128];
    snprintf(url2, sizeof url2, "billing.url=%s", bill.base);
    fast[0] = url2;
    ST_ASSERT_INT_EQ_FATAL(svc_restart(&S, fast), 0);
    char q[200];
    snprintf(q, sizeof q,
             "SELECT coalesce(max(bytes), -1) FROM billing.storage_hourly WHERE tenant_id = '%s'"
             " AND hour = date_trunc('hour', now())",
             TA);
    ST_ASSERT_INT_EQ(wait_sql(q, 5 * MIB / 2, 20000), 5 * MIB / 2);
    svc_stop(&S);
}

static void test_a_refused_report_is_not_retried(void)
{
    char url2[128];
    snprintf(url2, sizeof url2, "billing.url=%s", bill.base);
    const char *extra[] = {url2, "billing.token=not-the-token", "billing.interval=3600", NULL};
    double before = metric(bill.base, "stratus_billing_batches_total{result=\"applied\"}");
    ST_ASSERT_INT_EQ_FATAL(svc_restart(&S, extra), 0);
    for (int t = 0;
         t < 100 && metric(S.api, "stratus_images_storage_reports_total{result=\"refused\"}") < 1;
         t++)
        usleep(100000);
    ST_ASSERT_INT_EQ(metric(S.api, "stratus_images_storage_reports_total{result=\"refused\"}"), 1);
    sleep(3); /* a retry would come after 1 s, then 2 s */
    ST_ASSERT_INT_EQ(metric(S.api, "stratus_images_storage_reports_total{result=\"refused\"}"), 1);
    ST_ASSERT_INT_EQ(metric(S.api, "stratus_images_storage_reports_total{result=\"retry\"}") <= 0,
                     1);
    ST_ASSERT_INT_EQ(
        metric(bill.base, "stratus_billing_batches_total{result=\"applied\"}") == before, 1);
    svc_stop(&S);
}

static CU_TestInfo tests[] = {
    {"each tenant is billed for its images; restarts and retries are replays",
     test_each_tenant_is_billed_for_its_images},
    {"a refused report is not retried", test_a_refused_report_is_not_retried},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"images_billing", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    st_log_init("test", ST_LOG_ERROR);
    return st_test_main(argc, argv, suites);
}
