/* libstratus against the real gateway (with the image service and billing,
 * gwt.h): sign-in and token refresh, API keys, errors with the server's
 * code and request id, idempotent creates, pagination, instance lifecycle
 * and the waiter (a node's reports drive the states), image upload and
 * download through signed URLs with progress, catalogue, quotas, billing,
 * and the admin calls. */
#include "gwt.h"
#include "internal.h"
#include "st_oas.h"
#include "st_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static gwt T;
static gwt_tenant A;
static char flavor[40], image[40];
static char *node;
static stratus_session *S; /* A's member, by password */

/* Every reply the SDK receives goes through its trace hook to the OpenAPI
 * check (st_oas.h; gwt_start watches the gateway's URL): a reply
 * api-gateway/openapi.json does not allow fails the test that made the call. */
static void oas_trace(void *arg, const stratus_trace *t)
{
    (void)arg;
    st_oas_observe(t->method, t->url, t->status, t->content_type, t->body, t->body_len, __FILE__,
                   __LINE__);
}

/* stratus_session_new with the OpenAPI check on. */
static int session_new(stratus_session **s, const char *url)
{
    int rc = stratus_session_new(s, url, NULL);
    if (rc == 0)
        stratus_session_set_trace(*s, oas_trace, NULL);
    return rc;
}

static int suite_init(void)
{
    gwt_start(&T, "sdk_api", NULL);
    gwt_make_tenant(&T, "sdk-a", &A);
    gwt_make_catalog(&T, flavor, image);
    node = gwt_make_node(&T, "sdk-node", 64, 262144, 10000);
    char qpath[128];
    snprintf(qpath, sizeof qpath, "/v1/tenants/%s/quotas", A.id);
    if (gwt_status(
            &T, "PUT", qpath, T.admin_token,
            "{\"instances\":100,\"vcpus\":200,\"memory_mib\":1000000,\"disk_gib\":100000}") != 200)
        return 1;
    if (session_new(&S, T.base) < 0 ||
        stratus_session_login(S, "sdk-a-member", "password-123", "sdk-a") < 0)
        return 1;
    return 0;
}

static int suite_clean(void)
{
    stratus_session_free(S);
    free(node);
    gwt_free_tenant(&A);
    gwt_stop(&T);
    return 0;
}

static void test_plain_http_only_to_loopback(void)
{
    stratus_session *s = NULL;
    ST_ASSERT_INT_EQ(stratus_session_new(&s, "http://example.com:8080", NULL), STRATUS_EINVAL);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(stratus_last_error()->message, "https"));
    ST_ASSERT_INT_EQ(stratus_session_new(&s, "ftp://127.0.0.1/", NULL), STRATUS_EINVAL);
}

/* A URL that merely starts with the session's base (another port, another
 * host name) is not the gateway: it never gets the bearer token. */
static void test_token_only_to_the_gateway(void)
{
    char base[64], url[160];
    snprintf(base, sizeof base, "%.*s", (int)strlen(T.base) - 1, T.base); /* port minus a digit */
    stratus_session *s;
    ST_ASSERT_INT_EQ_FATAL(session_new(&s, base), 0);
    ST_ASSERT_INT_EQ(stratus_session_set_token(s, A.member), 0);
    snprintf(url, sizeof url, "%s/v1/auth/whoami", T.base);
    char out[] = "/tmp/sdk-whoami-XXXXXX";
    close(mkstemp(out));
    ST_ASSERT_INT_EQ(sx_stream(s, "GET", url, out, NULL, NULL, NULL), STRATUS_EAUTH);
    /* a failed download leaves a file it did not make (and /dev/null alone) */
    CU_ASSERT(access(out, F_OK) == 0);
    unlink(out);
    stratus_session_free(s);
    /* the same URL from a session on the gateway itself carries the token */
    ST_ASSERT_INT_EQ_FATAL(session_new(&s, T.base), 0);
    ST_ASSERT_INT_EQ(stratus_session_set_token(s, A.member), 0);
    ST_ASSERT_INT_EQ(sx_stream(s, "GET", url, out, NULL, NULL, NULL), 0);
    unlink(out);
    stratus_session_free(s);
}

static void test_wrong_password_gives_server_code_and_request_id(void)
{
    stratus_session *s;
    ST_ASSERT_INT_EQ_FATAL(session_new(&s, T.base), 0);
    ST_ASSERT_INT_EQ(stratus_session_login(s, "sdk-a-member", "wrong-password", NULL),
                     STRATUS_EAUTH);
    const stratus_error *e = stratus_last_error();
    ST_ASSERT_INT_EQ(e->http_status, 401);
    CU_ASSERT(e->server_code[0] != 0);
    CU_ASSERT(e->request_id[0] != 0);
    ST_ASSERT_STR_EQ(stratus_strerror(STRATUS_EAUTH), "not authenticated");
    ST_ASSERT_STR_EQ(stratus_err_name(STRATUS_ENOTFOUND), "ENOTFOUND");
    stratus_session_free(s);
}

static void test_not_found_is_enotfound(void)
{
    stratus_instance *i = NULL;
    ST_ASSERT_INT_EQ(stratus_instance_show(S, "00000000-0000-4000-8000-000000000000", &i),
                     STRATUS_ENOTFOUND);
    CU_ASSERT_PTR_NULL(i);
    ST_ASSERT_STR_EQ(stratus_last_error()->server_code, "not_found");
}

/* An expired token is replaced by signing in again, and the call succeeds. */
static void test_expired_token_is_refreshed(void)
{
    char before[256], after[256];
    ST_ASSERT_INT_EQ_FATAL(stratus_session_token(S, before, sizeof before), 0);
    gwt_sql(&T, "UPDATE iaas.tokens SET expires_at = now() - interval '1 minute'"
                " WHERE kind = 'session'");
    stratus_whoami *w = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_session_whoami(S, &w), 0);
    ST_ASSERT_STR_EQ(w->user_name, "sdk-a-member");
    ST_ASSERT_STR_EQ(w->role, "member");
    stratus_whoami_free(w);
    ST_ASSERT_INT_EQ(stratus_session_token(S, after, sizeof after), 0);
    CU_ASSERT(strcmp(before, after) != 0);
}

static void test_api_key_session(void)
{
    stratus_api_key *k = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_api_key_create(S, "ci", 30, &k), 0);
    CU_ASSERT(k->key && strncmp(k->key, "stk_", 4) == 0);
    stratus_session *s;
    session_new(&s, T.base);
    ST_ASSERT_INT_EQ(stratus_session_set_token(s, k->key), 0);
    stratus_whoami *w = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_session_whoami(s, &w), 0);
    ST_ASSERT_STR_EQ(w->token_kind, "api_key");
    stratus_whoami_free(w);
    stratus_iter *it;
    int found = 0;
    ST_ASSERT_INT_EQ_FATAL(stratus_api_key_list(S, &it), 0);
    stratus_api_key *e;
    while (stratus_api_key_next(it, &e) == 1) {
        found += strcmp(e->id, k->id) == 0;
        stratus_api_key_free(e);
    }
    stratus_iter_free(it);
    ST_ASSERT_INT_EQ(found, 1);
    ST_ASSERT_INT_EQ(stratus_api_key_delete(S, k->id), 0);
    ST_ASSERT_INT_EQ(stratus_session_whoami(s, &w), STRATUS_EAUTH);
    stratus_session_free(s);
    stratus_api_key_free(k);
}

static int report(const char *id, const char *state)
{
    return (int)gwt_report(&T, node, id, state, gwt_instance_generation(&T, NULL, id));
}

typedef struct {
    const char *id;
    const char *state;
} later_arg;

static void *report_later(void *p)
{
    later_arg *a = p;
    usleep(400 * 1000);
    report(a->id, a->state);
    return NULL;
}

static void test_instance_lifecycle_and_wait(void)
{
    stratus_instance_spec sp = {
        .name = "web-1", .flavor = flavor, .image = image, .networks_json = "\"none\""};
    stratus_instance *i = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_instance_create(S, &sp, &i), 0);
    ST_ASSERT_INT_EQ(i->state, STRATUS_BUILDING);
    ST_ASSERT_STR_EQ(i->name, "web-1");
    CU_ASSERT_PTR_NOT_NULL(strstr(i->json, "\"id\""));
    char id[40];
    snprintf(id, sizeof id, "%s", i->id);
    stratus_instance_free(i);

    /* not yet active: the waiter times out, keeping the last view */
    stratus_instance *last = NULL;
    ST_ASSERT_INT_EQ(stratus_instance_wait(S, id, STRATUS_ACTIVE, 300, &last), STRATUS_ETIMEDOUT);
    CU_ASSERT(last && last->state == STRATUS_BUILDING);
    stratus_instance_free(last);

    /* the node reports active while we wait */
    pthread_t th;
    later_arg a = {id, "active"};
    pthread_create(&th, NULL, report_later, &a);
    ST_ASSERT_INT_EQ(stratus_instance_wait(S, id, STRATUS_ACTIVE, 20000, &last), 0);
    pthread_join(th, NULL);
    CU_ASSERT(last && last->state == STRATUS_ACTIVE);
    stratus_instance_free(last);

    ST_ASSERT_INT_EQ(stratus_instance_start(S, id), STRATUS_ECONFLICT);
    ST_ASSERT_STR_EQ(stratus_last_error()->server_code, "conflict");
    ST_ASSERT_INT_EQ(stratus_instance_stop(S, id), 0);
    ST_ASSERT_INT_EQ(report(id, "stopped"), 200);
    ST_ASSERT_INT_EQ(stratus_instance_wait(S, id, STRATUS_STOPPED, 5000, NULL), 0);
    ST_ASSERT_INT_EQ(stratus_instance_start(S, id), 0);
    ST_ASSERT_INT_EQ(report(id, "active"), 200);
    ST_ASSERT_INT_EQ(stratus_instance_stop_force(S, id), 0);
    stratus_instance *shown = NULL;
    ST_ASSERT_INT_EQ(stratus_instance_show(S, id, &shown), 0);
    ST_ASSERT_STR_EQ(shown ? shown->task : "", "stopping");
    CU_ASSERT(shown && shown->last_stop == NULL); /* the node has not said yet */
    stratus_instance_free(shown);
    ST_ASSERT_INT_EQ(report(id, "stopped"), 200);
    ST_ASSERT_INT_EQ(stratus_instance_start(S, id), 0);
    ST_ASSERT_INT_EQ(report(id, "active"), 200);
    /* a snapshot: the image's id, queued until the node uploads; one at a time */
    char *snap = NULL, *again = NULL;
    ST_ASSERT_INT_EQ(stratus_instance_snapshot(S, id, "", &snap), STRATUS_EBADREQ);
    ST_ASSERT_INT_EQ_FATAL(stratus_instance_snapshot(S, id, "web-1 at noon", &snap), 0);
    stratus_image *im = NULL;
    ST_ASSERT_INT_EQ(stratus_image_show(S, snap, &im), 0);
    ST_ASSERT_STR_EQ(im ? im->status : "", "queued");
    stratus_image_free(im);
    ST_ASSERT_INT_EQ(stratus_instance_snapshot(S, id, "again", &again), STRATUS_ECONFLICT);
    /* the node could not take it: the task ends, the image is killed */
    char path[128];
    snprintf(path, sizeof path, "/internal/v1/node/instances/%s", id);
    char *b = st_jsonf("{s:s, s:I, s:s, s:s}", "state", "active", "generation",
                       (json_int_t)gwt_instance_generation(&T, NULL, id), "snapshot_image_id", snap,
                       "snapshot_fault", "no disk here");
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, node, b), 200);
    free(b);
    ST_ASSERT_INT_EQ(stratus_image_show(S, snap, &im), 0);
    ST_ASSERT_STR_EQ(im ? im->status : "", "killed");
    stratus_image_free(im);
    free(snap);
    ST_ASSERT_INT_EQ(stratus_instance_reboot_hard(S, id), 0);
    ST_ASSERT_INT_EQ(stratus_instance_reboot(S, id), STRATUS_ECONFLICT); /* already rebooting */

    char *console = NULL;
    ST_ASSERT_INT_EQ(stratus_instance_console(S, id, 0, &console), 0);
    CU_ASSERT_PTR_NOT_NULL(console);
    free(console);

    /* an error state ends the wait with EFAILED */
    ST_ASSERT_INT_EQ(report(id, "error"), 200);
    ST_ASSERT_INT_EQ(stratus_instance_wait(S, id, STRATUS_ACTIVE, 5000, NULL), STRATUS_EFAILED);
    ST_ASSERT_INT_EQ(stratus_instance_delete(S, id), 0);
}

/* GET /v1/instances/{id} carries an ETag and answers 304 to it while the
 * instance reads the same (what the waiter's polls rely on). */
static void test_instance_etag_304(void)
{
    stratus_instance_spec sp = {
        .name = "etag", .flavor = flavor, .image = image, .networks_json = "\"none\""};
    stratus_instance *i;
    ST_ASSERT_INT_EQ_FATAL(stratus_instance_create(S, &sp, &i), 0);
    sx_req q = {.op = "GET /v1/instances/{id}", .args = {i->id}};
    sx_resp r;
    ST_ASSERT_INT_EQ_FATAL(sx_call(S, &q, &r), 0);
    ST_ASSERT_INT_EQ(r.status, 200);
    char etag[128];
    snprintf(etag, sizeof etag, "%s", r.etag);
    sx_resp_free(&r);
    CU_ASSERT_FATAL(etag[0] == '"');
    q.if_none_match = etag;
    ST_ASSERT_INT_EQ_FATAL(sx_call(S, &q, &r), 0);
    ST_ASSERT_INT_EQ(r.status, 304);
    ST_ASSERT_INT_EQ(r.len, 0);
    sx_resp_free(&r);
    ST_ASSERT_INT_EQ(report(i->id, "active"), 200);
    ST_ASSERT_INT_EQ_FATAL(sx_call(S, &q, &r), 0);
    ST_ASSERT_INT_EQ(r.status, 200);
    CU_ASSERT(strcmp(r.etag, etag) != 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"active\""));
    sx_resp_free(&r);
    stratus_instance_delete(S, i->id);
    stratus_instance_free(i);
}

/* The same Idempotency-Key twice makes one instance; none given, two. */
static void test_create_idempotency(void)
{
    stratus_instance_spec sp = {.name = "idem",
                                .flavor = flavor,
                                .image = image,
                                .networks_json = "\"none\"",
                                .idempotency_key = "sdk-key-1"};
    stratus_instance *a = NULL, *b = NULL, *c = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_instance_create(S, &sp, &a), 0);
    ST_ASSERT_INT_EQ_FATAL(stratus_instance_create(S, &sp, &b), 0);
    ST_ASSERT_STR_EQ(a->id, b->id);
    sp.idempotency_key = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_instance_create(S, &sp, &c), 0);
    CU_ASSERT(strcmp(a->id, c->id) != 0);
    stratus_instance_delete(S, a->id);
    stratus_instance_delete(S, c->id);
    stratus_instance_free(a);
    stratus_instance_free(b);
    stratus_instance_free(c);
}

/* 7 instances read 2 a page: every one seen once, in 4 pages. */
static void test_list_iterator_follows_pages(void)
{
    char ids[7][40];
    for (int k = 0; k < 7; k++) {
        char name[16];
        snprintf(name, sizeof name, "page-%d", k);
        stratus_instance_spec sp = {
            .name = name, .flavor = flavor, .image = image, .networks_json = "\"none\""};
        stratus_instance *i;
        ST_ASSERT_INT_EQ_FATAL(stratus_instance_create(S, &sp, &i), 0);
        snprintf(ids[k], 40, "%s", i->id);
        stratus_instance_free(i);
    }
    stratus_list_opts o = {.limit = 2};
    stratus_iter *it;
    ST_ASSERT_INT_EQ_FATAL(stratus_instance_list(S, &o, &it), 0);
    int seen[7] = {0}, total = 0, rc;
    stratus_instance *i;
    while ((rc = stratus_instance_next(it, &i)) == 1) {
        for (int k = 0; k < 7; k++)
            seen[k] += strcmp(ids[k], i->id) == 0;
        total++;
        stratus_instance_free(i);
    }
    ST_ASSERT_INT_EQ(rc, 0);
    stratus_iter_free(it);
    for (int k = 0; k < 7; k++)
        ST_ASSERT_INT_EQ(seen[k], 1);
    CU_ASSERT(total >= 7);
    for (int k = 0; k < 7; k++)
        stratus_instance_delete(S, ids[k]);
}

static int progress_calls;
static uint64_t progress_last;
static int on_progress(void *arg, uint64_t done, uint64_t total)
{
    progress_calls++;
    progress_last = done;
    return 0;
}
static int cancel_now(void *arg, uint64_t done, uint64_t total)
{
    return done > 0;
}

static void test_image_upload_download_roundtrip(void)
{
    char src[] = "/tmp/sdk-img-XXXXXX", dst[] = "/tmp/sdk-img-dl-XXXXXX";
    int fd = mkstemp(src);
    size_t len = 3 << 20;
    unsigned char *data = malloc(len);
    for (size_t k = 0; k < len; k++)
        data[k] = (unsigned char)(k * 7 + (k >> 12));
    CU_ASSERT_FATAL(write(fd, data, len) == (ssize_t)len);
    close(fd);
    close(mkstemp(dst));

    stratus_image_spec sp = {.name = "sdk-raw", .disk_format = "raw"};
    stratus_image *img = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_image_create(S, &sp, &img), 0);
    ST_ASSERT_STR_EQ(img->status, "queued");
    ST_ASSERT_INT_EQ(stratus_image_upload(S, img->id, src, on_progress, NULL), 0);
    CU_ASSERT(progress_calls > 0);
    ST_ASSERT_INT_EQ(progress_last, len);
    /* one upload per image: the second is refused with the server's reason */
    ST_ASSERT_INT_EQ(stratus_image_upload(S, img->id, src, NULL, NULL), STRATUS_ECONFLICT);
    stratus_image *shown = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_image_show(S, img->id, &shown), 0);
    ST_ASSERT_STR_EQ(shown->status, "active");
    ST_ASSERT_INT_EQ(shown->size_bytes, len);
    stratus_image_free(shown);

    ST_ASSERT_INT_EQ(stratus_image_download(S, img->id, dst, NULL, NULL), 0);
    FILE *f = fopen(dst, "rb");
    unsigned char *back = malloc(len + 1);
    size_t got = fread(back, 1, len + 1, f);
    fclose(f);
    ST_ASSERT_INT_EQ(got, len);
    CU_ASSERT(memcmp(back, data, len) == 0);
    /* a callback that cancels stops the transfer and removes the file it made */
    unlink(dst);
    ST_ASSERT_INT_EQ(stratus_image_download(S, img->id, dst, cancel_now, NULL), STRATUS_ECANCELED);
    CU_ASSERT(access(dst, F_OK) != 0);

    stratus_iter *it;
    int found = 0;
    ST_ASSERT_INT_EQ_FATAL(stratus_image_list(S, NULL, &it), 0);
    stratus_image *e;
    while (stratus_image_next(it, &e) == 1) {
        found += strcmp(e->id, img->id) == 0;
        stratus_image_free(e);
    }
    stratus_iter_free(it);
    ST_ASSERT_INT_EQ(found, 1);
    ST_ASSERT_INT_EQ(stratus_image_delete(S, img->id), 0);
    ST_ASSERT_INT_EQ(stratus_image_show(S, img->id, &shown), STRATUS_ENOTFOUND);
    stratus_image_free(img);
    free(data);
    free(back);
    unlink(src);
}

static void test_catalog_keypairs_groups_quotas(void)
{
    stratus_iter *it;
    stratus_flavor *f;
    int n = 0;
    ST_ASSERT_INT_EQ_FATAL(stratus_flavor_list(S, &it), 0);
    while (stratus_flavor_next(it, &f) == 1) {
        n += strcmp(f->id, flavor) == 0 && f->vcpus == 1;
        stratus_flavor_free(f);
    }
    stratus_iter_free(it);
    ST_ASSERT_INT_EQ(n, 1);
    ST_ASSERT_INT_EQ(stratus_flavor_create(S, "nope", 1, 64, 1, &f), STRATUS_EPERM);

    stratus_keypair *k = NULL;
    const char *pub =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHbQk4z7p5lP8Q2Wl0XQpV8Y1c6l2y2eJ2s0u8gkqVZK"
        " sdk@test";
    int rc = stratus_keypair_create(S, "sdk-key", pub, &k);
    ST_ASSERT_INT_EQ_FATAL(rc, 0);
    CU_ASSERT(k->fingerprint && strncmp(k->fingerprint, "SHA256:", 7) == 0);
    ST_ASSERT_INT_EQ(stratus_keypair_create(S, "sdk-key", pub, NULL), STRATUS_EINVAL);
    stratus_keypair *k2 = NULL;
    ST_ASSERT_INT_EQ(stratus_keypair_create(S, "sdk-key", pub, &k2), STRATUS_ECONFLICT);
    ST_ASSERT_INT_EQ(stratus_keypair_delete(S, k->id), 0);
    stratus_keypair_free(k);

    stratus_server_group *g = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_server_group_create(S, "spread", "anti-affinity", &g), 0);
    ST_ASSERT_INT_EQ(g->n_members, 0);
    ST_ASSERT_INT_EQ(stratus_server_group_delete(S, g->id), 0);
    stratus_server_group_free(g);

    stratus_quota *q = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_quota_show(S, &q), 0);
    CU_ASSERT(q->limits.instances > 0);
    stratus_quota_free(q);
}

static void test_billing_usage_and_invoices(void)
{
    ST_ASSERT_INT_EQ(
        gwt_bill_sample(&T, A.id, "11111111-1111-4111-8111-111111111111", 1, 1000000000LL), 200);
    char *usage = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_usage_show(S, NULL, NULL, "day", NULL, &usage), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(usage, "\"usage\""));
    free(usage);
    ST_ASSERT_INT_EQ(stratus_usage_show(S, NULL, NULL, "fortnight", NULL, &usage), STRATUS_EBADREQ);
    stratus_iter *it;
    stratus_invoice *inv, *draft = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_invoice_list(S, &it), 0);
    while (stratus_invoice_next(it, &inv) == 1) {
        if (!draft && inv->status && strcmp(inv->status, "draft") == 0)
            draft = inv;
        else
            stratus_invoice_free(inv);
    }
    stratus_iter_free(it);
    CU_ASSERT_PTR_NOT_NULL_FATAL(draft);
    stratus_invoice *shown = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_invoice_show(S, draft->id, &shown), 0);
    ST_ASSERT_STR_EQ(shown->period, draft->period);
    stratus_invoice_free(shown);
    char *pdf;
    size_t len;
    ST_ASSERT_INT_EQ_FATAL(stratus_invoice_get(S, draft->id, "pdf", &pdf, &len), 0);
    CU_ASSERT(len > 4 && memcmp(pdf, "%PDF", 4) == 0);
    free(pdf);
    char path[] = "/tmp/sdk-inv-XXXXXX";
    close(mkstemp(path));
    ST_ASSERT_INT_EQ(stratus_invoice_download(S, draft->id, "csv", path), 0);
    FILE *fp = fopen(path, "r");
    char line[256] = "";
    CU_ASSERT(fp && fgets(line, sizeof line, fp));
    if (fp)
        fclose(fp);
    CU_ASSERT(strchr(line, ',') != NULL);
    unlink(path);
    stratus_invoice_free(draft);
}

/* The billing account (set by a tenant admin or a cloud admin), a period's
 * preview and the credit notes, through the gateway to the real billing. */
static void test_billing_account_preview_credit_notes(void)
{
    stratus_session *ad;
    session_new(&ad, T.base);
    ST_ASSERT_INT_EQ_FATAL(stratus_session_login(ad, "admin", "admin-password-1", "admin"), 0);
    char *j = NULL;
    /* none yet: 404 */
    ST_ASSERT_INT_EQ(stratus_billing_account_get(S, &j), STRATUS_ENOTFOUND);
    const char *acct = "{\"legal_name\":\"SDK Test GmbH\",\"address\":\"Hauptstr. 1\\n10115 "
                       "Berlin\",\"country\":\"DE\",\"tax_id\":\"DE123456789\","
                       "\"email\":\"billing@example.com\"}";
    ST_ASSERT_INT_EQ_FATAL(stratus_tenant_billing_account_set(ad, A.id, acct, &j), 0);
    free(j);
    ST_ASSERT_INT_EQ_FATAL(stratus_billing_account_get(S, &j), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "SDK Test GmbH"));
    free(j);
    ST_ASSERT_INT_EQ_FATAL(stratus_tenant_billing_account_get(ad, A.id, &j), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "DE123456789"));
    free(j);
    /* a member is not the tenant's admin */
    j = NULL;
    CU_ASSERT_NOT_EQUAL(stratus_billing_account_set(S, acct, &j), 0);
    free(j);
    ST_ASSERT_INT_EQ_FATAL(stratus_period_preview(ad, "2025-05", &j), 0);
    CU_ASSERT(j && (j[0] == '{' || j[0] == '['));
    free(j);
    ST_ASSERT_INT_EQ_FATAL(stratus_credit_note_list(S, &j), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "["));
    free(j);
    ST_ASSERT_INT_EQ(stratus_credit_note_show(S, "00000000-0000-4000-8000-000000000000", &j),
                     STRATUS_ENOTFOUND);
    ST_ASSERT_INT_EQ(stratus_credit_note_create(ad, "00000000-0000-4000-8000-000000000000",
                                                "{\"reason\":\"x\"}", &j),
                     STRATUS_ENOTFOUND);
    stratus_session_free(ad);
}

static void test_admin_tenants_users_nodes(void)
{
    stratus_session *ad;
    session_new(&ad, T.base);
    ST_ASSERT_INT_EQ_FATAL(stratus_session_login(ad, "admin", "admin-password-1", "admin"), 0);
    stratus_tenant *t = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_tenant_create(ad, "sdk-t2", "made by the SDK", &t), 0);
    stratus_user *u = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_user_create(ad, "sdk-u2", "password-456", 0, &u), 0);
    ST_ASSERT_INT_EQ(stratus_member_set(ad, t->id, u->id, "reader"), 0);
    stratus_iter *it;
    stratus_member *m;
    int readers = 0;
    ST_ASSERT_INT_EQ_FATAL(stratus_member_list(ad, t->id, &it), 0);
    while (stratus_member_next(it, &m) == 1) {
        readers += strcmp(m->user_id, u->id) == 0 && strcmp(m->role, "reader") == 0;
        stratus_member_free(m);
    }
    stratus_iter_free(it);
    ST_ASSERT_INT_EQ(readers, 1);
    stratus_quota *q = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_tenant_quota_update(ad, t->id, "{\"instances\":3}", &q), 0);
    ST_ASSERT_INT_EQ(q->limits.instances, 3);
    stratus_quota_free(q);
    ST_ASSERT_INT_EQ(stratus_member_remove(ad, t->id, u->id), 0);
    ST_ASSERT_INT_EQ(stratus_tenant_delete(ad, t->id), 0);

    stratus_node *n;
    int nodes = 0;
    ST_ASSERT_INT_EQ_FATAL(stratus_node_list(ad, &it), 0);
    while (stratus_node_next(it, &n) == 1) {
        nodes += strcmp(n->name, "sdk-node") == 0 && n->cap_vcpus == 64;
        stratus_node_free(n);
    }
    stratus_iter_free(it);
    ST_ASSERT_INT_EQ(nodes, 1);
    /* power actions: this gateway has no power command (gateway_power runs
     * them); a bad action is the server's 400, a member's call 403 */
    stratus_node *pn = NULL, *spare = NULL;
    char *cred = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_node_create(ad, "sdk-spare", &spare, &cred), 0);
    ST_ASSERT_STR_EQ(spare->power_state, "on");
    CU_ASSERT_PTR_NULL(spare->power_fault);
    ST_ASSERT_INT_EQ(stratus_node_power(ad, spare->id, "power_off", &pn), STRATUS_ECONFLICT);
    CU_ASSERT_PTR_NOT_NULL(strstr(stratus_last_error()->message, "power.off_command"));
    ST_ASSERT_INT_EQ(stratus_node_power(ad, spare->id, "hibernate", &pn), STRATUS_EBADREQ);
    ST_ASSERT_INT_EQ(stratus_node_power(S, spare->id, "power_on", &pn), STRATUS_EPERM);
    CU_ASSERT_PTR_NULL(pn);
    ST_ASSERT_INT_EQ(stratus_node_delete(ad, spare->id), 0);
    stratus_node_free(spare);
    free(cred);
    /* a member is not a cloud admin */
    ST_ASSERT_INT_EQ(stratus_node_list(S, &it), STRATUS_EPERM);
    char *sched = NULL;
    ST_ASSERT_INT_EQ(stratus_scheduler_show(ad, &sched), 0);
    CU_ASSERT(sched && strstr(sched, "policy"));
    free(sched);
    /* the consolidation dry run: the server echoes what it was asked for */
    char *plan = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_scheduler_consolidation(ad, 0.7, 3, &plan), 0);
    json_t *pj = json_loads(plan, 0, NULL);
    CU_ASSERT(json_is_true(json_object_get(pj, "dry_run")));
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(pj, "target")), 0.7, 1e-9);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(pj, "max_moves")), 3);
    CU_ASSERT(json_is_array(json_object_get(pj, "moves")));
    json_decref(pj);
    free(plan);
    ST_ASSERT_INT_EQ(stratus_scheduler_consolidation(ad, 0.2, 0, &plan), STRATUS_EBADREQ);
    ST_ASSERT_INT_EQ(stratus_scheduler_consolidation(S, 0, 0, &plan), STRATUS_EPERM);
    /* the rebalancing dry run: the same, with the gateway's threshold when none is given */
    ST_ASSERT_INT_EQ_FATAL(stratus_scheduler_rebalance(ad, 0.35, 4, &plan), 0);
    pj = json_loads(plan, 0, NULL);
    CU_ASSERT(json_is_true(json_object_get(pj, "dry_run")));
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(pj, "threshold")), 0.35, 1e-9);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(pj, "max_moves")), 4);
    CU_ASSERT(json_is_object(json_object_get(pj, "imbalance_before")));
    CU_ASSERT(json_is_array(json_object_get(pj, "nodes")));
    json_decref(pj);
    free(plan);
    ST_ASSERT_INT_EQ_FATAL(stratus_scheduler_rebalance(ad, 0, 0, &plan), 0);
    pj = json_loads(plan, 0, NULL);
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(pj, "threshold")), 0.2, 1e-9);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(pj, "max_moves")), 10);
    json_decref(pj);
    free(plan);
    ST_ASSERT_INT_EQ(stratus_scheduler_rebalance(ad, 2, 0, &plan), STRATUS_EBADREQ);
    ST_ASSERT_INT_EQ(stratus_scheduler_rebalance(S, 0, 0, &plan), STRATUS_EPERM);
    /* carried out: no longer a dry run, with what started and what was skipped */
    ST_ASSERT_INT_EQ_FATAL(stratus_scheduler_rebalance_run(ad, 0.35, 4, &plan), 0);
    pj = json_loads(plan, 0, NULL);
    CU_ASSERT(json_is_false(json_object_get(pj, "dry_run")));
    CU_ASSERT(json_is_array(json_object_get(pj, "started")) &&
              json_is_array(json_object_get(pj, "skipped")));
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(pj, "max_moves")), 4);
    json_decref(pj);
    free(plan);
    ST_ASSERT_INT_EQ(stratus_scheduler_rebalance_run(ad, 2, 0, &plan), STRATUS_EBADREQ);
    ST_ASSERT_INT_EQ(stratus_scheduler_rebalance_run(S, 0, 0, &plan), STRATUS_EPERM);
    /* the consolidation carried out: the same shape, with the nodes it drains */
    ST_ASSERT_INT_EQ_FATAL(stratus_scheduler_consolidation_run(ad, 0.9, 2, &plan), 0);
    pj = json_loads(plan, 0, NULL);
    CU_ASSERT(json_is_false(json_object_get(pj, "dry_run")));
    CU_ASSERT(json_is_array(json_object_get(pj, "started")) &&
              json_is_array(json_object_get(pj, "skipped")) &&
              json_is_array(json_object_get(pj, "draining")));
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(pj, "target")), 0.9, 1e-9);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(pj, "max_moves")), 2);
    json_decref(pj);
    free(plan);
    ST_ASSERT_INT_EQ(stratus_scheduler_consolidation_run(ad, 0.2, 0, &plan), STRATUS_EBADREQ);
    ST_ASSERT_INT_EQ(stratus_scheduler_consolidation_run(S, 0, 0, &plan), STRATUS_EPERM);
    stratus_tenant_free(t);
    stratus_user_free(u);
    ST_ASSERT_INT_EQ(stratus_session_logout(ad), 0);
    stratus_whoami *w;
    ST_ASSERT_INT_EQ(stratus_session_whoami(ad, &w), STRATUS_EAUTH);
    stratus_session_free(ad);
}

/* Evacuation (cloud admins): an instance of a host silent for long enough
 * moves to the named host; a member's call is EPERM, a local disk without
 * confirm_data_loss and a host that is up are ECONFLICT. */
static void test_admin_evacuate(void)
{
    stratus_session *ad;
    session_new(&ad, T.base);
    ST_ASSERT_INT_EQ_FATAL(stratus_session_login(ad, "admin", "admin-password-1", "admin"), 0);
    char *dead = NULL;
    stratus_node *n = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_node_create(ad, "sdk-evac", &n, &dead), 0);
    stratus_node_free(n);
    gwt_heartbeat(&T, dead, 8, 16384, 100);
    char *dead_id = gwt_node_id(&T, "sdk-evac");
    char *live_id = gwt_node_id(&T, "sdk-node");
    CU_ASSERT_FATAL(dead && dead_id && live_id);
    ST_ASSERT_INT_EQ_FATAL(stratus_node_update(ad, live_id, "{\"disabled\":true}", &n), 0);
    stratus_node_free(n);
    stratus_instance_spec sp = {.name = "sdk-evac-1", .flavor = flavor, .image = image};
    stratus_instance *in = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_instance_create(S, &sp, &in), 0);
    ST_ASSERT_STR_EQ(in->node_id, dead_id);
    ST_ASSERT_INT_EQ(
        gwt_report(&T, dead, in->id, "active", gwt_instance_generation(&T, NULL, in->id)), 200);
    ST_ASSERT_INT_EQ_FATAL(stratus_node_update(ad, live_id, "{\"disabled\":false}", &n), 0);
    stratus_node_free(n);
    char *out = NULL;
    /* up: too early for both calls */
    ST_ASSERT_INT_EQ(stratus_instance_evacuate(ad, in->id, NULL, 1, NULL), STRATUS_ECONFLICT);
    ST_ASSERT_INT_EQ(stratus_node_evacuate(ad, dead_id, 1, &out), STRATUS_ECONFLICT);
    gwt_sql(&T, "UPDATE iaas.nodes SET last_heartbeat = now() - interval '10 minutes'"
                " WHERE name = 'sdk-evac'");
    ST_ASSERT_INT_EQ(stratus_instance_evacuate(S, in->id, NULL, 1, NULL), STRATUS_EPERM);
    ST_ASSERT_INT_EQ(stratus_instance_evacuate(ad, in->id, NULL, 0, NULL), STRATUS_ECONFLICT);
    ST_ASSERT_INT_EQ(stratus_node_evacuate(ad, dead_id, 0, &out), STRATUS_ECONFLICT);
    stratus_instance *moved = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_instance_evacuate(ad, in->id, "sdk-node", 1, &moved), 0);
    ST_ASSERT_STR_EQ(moved->node_id, live_id);
    ST_ASSERT_STR_EQ(moved->task, "evacuating");
    /* the node is empty now: nothing left to move */
    ST_ASSERT_INT_EQ_FATAL(stratus_node_evacuate(ad, dead_id, 0, &out), 0);
    json_t *j = json_loads(out, 0, NULL);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(j, "instances")), 0);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "node")), "sdk-evac");
    json_decref(j);
    free(out);
    ST_ASSERT_INT_EQ(stratus_node_evacuate(ad, live_id, 1, &out), STRATUS_ECONFLICT);
    ST_ASSERT_INT_EQ(stratus_instance_delete(S, in->id), 0);
    stratus_instance_free(moved);
    stratus_instance_free(in);
    free(dead);
    free(dead_id);
    free(live_id);
    stratus_session_free(ad);
}

/* Live migration (cloud admins): an instance on Ceph moves to the named
 * host with task migrating, shows in the migrations list, and a cancel
 * while the target prepares ends it; a member's call is EPERM, a local
 * disk and a second cancel ECONFLICT. */
static void test_admin_migrate(void)
{
    stratus_session *ad;
    session_new(&ad, T.base);
    ST_ASSERT_INT_EQ_FATAL(stratus_session_login(ad, "admin", "admin-password-1", "admin"), 0);
    char *tok[2] = {NULL, NULL};
    const char *nm[2] = {"sdk-mig-a", "sdk-mig-b"};
    for (int i = 0; i < 2; i++) {
        stratus_node *n = NULL;
        ST_ASSERT_INT_EQ_FATAL(stratus_node_create(ad, nm[i], &n, &tok[i]), 0);
        stratus_node_free(n);
        ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", "/internal/v1/node", tok[i],
                                    "{\"capacity\":{\"vcpus\":8,\"memory_mib\":16384,"
                                    "\"disk_gib\":100,\"firmware\":true,\"live_migration\":true,"
                                    "\"block_migration\":true}}"),
                         200);
    }
    stratus_instance_spec sp = {.name = "sdk-mig-1", .flavor = flavor, .image = image};
    stratus_instance *in = NULL, *out = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_instance_create(S, &sp, &in), 0);
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE iaas.instances SET node_id = (SELECT id FROM iaas.nodes WHERE name ="
             " 'sdk-mig-a') WHERE id = '%s'",
             in->id);
    gwt_sql(&T, sql);
    ST_ASSERT_INT_EQ(
        gwt_report(&T, tok[0], in->id, "active", gwt_instance_generation(&T, NULL, in->id)), 200);
    stratus_migrate_opts o = {.host = "sdk-mig-b", .downtime_ms = 100};
    /* stopped: a stopped guest is not live-migrated (409) */
    snprintf(sql, sizeof sql, "UPDATE iaas.instances SET state = 'stopped' WHERE id = '%s'",
             in->id);
    gwt_sql(&T, sql);
    ST_ASSERT_INT_EQ(stratus_instance_migrate(ad, in->id, &o, NULL), STRATUS_ECONFLICT);
    /* running again, on Ceph (a local disk would be copied along: block migration) */
    snprintf(sql, sizeof sql,
             "UPDATE iaas.instances SET disk_backend = 'rbd', state = 'active' WHERE id = '%s'",
             in->id);
    gwt_sql(&T, sql);
    ST_ASSERT_INT_EQ(stratus_instance_migrate(S, in->id, &o, NULL), STRATUS_EPERM);
    /* block migration asked for on Ceph: nothing to copy (409); both block flags, or an
     * unknown one, are the caller's mistake */
    ST_ASSERT_INT_EQ(stratus_instance_migrate_flags(ad, in->id, &o, STRATUS_MIGRATE_BLOCK, NULL),
                     STRATUS_ECONFLICT);
    ST_ASSERT_INT_EQ(stratus_instance_migrate_flags(
                         ad, in->id, &o, STRATUS_MIGRATE_BLOCK | STRATUS_MIGRATE_NO_BLOCK, NULL),
                     STRATUS_EINVAL);
    ST_ASSERT_INT_EQ(stratus_instance_migrate_flags(ad, in->id, &o, 4u, NULL), STRATUS_EINVAL);
    ST_ASSERT_INT_EQ_FATAL(stratus_instance_migrate(ad, in->id, &o, &out), 0);
    ST_ASSERT_STR_EQ(out->task, "migrating");
    stratus_instance_free(out);
    char *list = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_migrations_list(ad, in->id, 10, &list), 0);
    json_t *j = json_loads(list, 0, NULL);
    json_t *m = json_array_get(json_object_get(j, "migrations"), 0);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(m, "dest_node")), "sdk-mig-b");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(m, "state")), "preparing");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(m, "max_downtime_ms")), 100);
    json_decref(j);
    free(list);
    ST_ASSERT_INT_EQ(stratus_migrations_list(S, NULL, 0, &list), STRATUS_EPERM);
    ST_ASSERT_INT_EQ_FATAL(stratus_instance_migrate_cancel(ad, in->id, &out), 0);
    CU_ASSERT_PTR_NULL(out->task);
    stratus_instance_free(out);
    ST_ASSERT_INT_EQ(stratus_instance_migrate_cancel(ad, in->id, NULL), STRATUS_ECONFLICT);
    /* on the host's local disk: NO_BLOCK refuses (409), BLOCK copies it along */
    snprintf(sql, sizeof sql, "UPDATE iaas.instances SET disk_backend = 'local' WHERE id = '%s'",
             in->id);
    gwt_sql(&T, sql);
    ST_ASSERT_INT_EQ(stratus_instance_migrate_flags(ad, in->id, &o, STRATUS_MIGRATE_NO_BLOCK, NULL),
                     STRATUS_ECONFLICT);
    ST_ASSERT_INT_EQ_FATAL(
        stratus_instance_migrate_flags(ad, in->id, &o, STRATUS_MIGRATE_BLOCK, &out), 0);
    ST_ASSERT_STR_EQ(out->task, "migrating");
    stratus_instance_free(out);
    ST_ASSERT_INT_EQ_FATAL(stratus_migrations_list(ad, in->id, 1, &list), 0);
    j = json_loads(list, 0, NULL);
    m = json_array_get(json_object_get(j, "migrations"), 0);
    CU_ASSERT(json_is_true(json_object_get(m, "block_migration")));
    json_decref(j);
    free(list);
    ST_ASSERT_INT_EQ(stratus_instance_migrate_cancel(ad, in->id, NULL), 0);
    ST_ASSERT_INT_EQ(stratus_instance_delete(S, in->id), 0);
    stratus_instance_free(in);
    for (int i = 0; i < 2; i++)
        free(tok[i]);
    stratus_session_free(ad);
}

/* Networks, subnets, ports, groups and rules, routers with a gateway and an
 * interface, a floating IP, and an instance's NICs, through the SDK. */
static void test_networking(void)
{
    stratus_session *ad;
    session_new(&ad, T.base);
    ST_ASSERT_INT_EQ_FATAL(stratus_session_login(ad, "admin", "admin-password-1", "admin"), 0);
    stratus_network *ext = NULL, *n = NULL, *n2 = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_network_create(ad, "public", "{\"external\":true}", &ext), 0);
    CU_ASSERT(ext->external);
    stratus_subnet *esub = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_subnet_create(ad, ext->id, "203.0.113.0/24", NULL, &esub), 0);
    ST_ASSERT_INT_EQ(stratus_network_create(S, "bad", "[1]", &n), STRATUS_EINVAL);
    ST_ASSERT_INT_EQ_FATAL(stratus_network_create(S, "net-1", "{\"mtu\":1400}", &n), 0);
    ST_ASSERT_INT_EQ(n->mtu, 1400);
    ST_ASSERT_INT_EQ_FATAL(stratus_network_update(S, n->id, "{\"name\":\"net-one\"}", &n2), 0);
    ST_ASSERT_STR_EQ(n2->name, "net-one");
    stratus_network_free(n2);
    stratus_iter *it;
    int seen = 0;
    ST_ASSERT_INT_EQ_FATAL(stratus_network_list(S, NULL, &it), 0);
    while (stratus_network_next(it, &n2) == 1) {
        seen += !strcmp(n2->id, n->id) + !strcmp(n2->id, ext->id);
        stratus_network_free(n2);
    }
    stratus_iter_free(it);
    ST_ASSERT_INT_EQ(seen, 2); /* its own and the external one */

    stratus_subnet *sub = NULL;
    ST_ASSERT_INT_EQ_FATAL(
        stratus_subnet_create(S, n->id, "10.9.0.0/24", "{\"name\":\"s1\"}", &sub), 0);
    ST_ASSERT_STR_EQ(sub->gateway_ip, "10.9.0.1");
    stratus_subnet *overlap = NULL;
    ST_ASSERT_INT_EQ(stratus_subnet_create(S, n->id, "10.9.0.0/25", NULL, &overlap),
                     STRATUS_EBADREQ);
    stratus_security_group *g = NULL;
    ST_ASSERT_INT_EQ_FATAL(
        stratus_security_group_create(S, "web", "{\"description\":\"http\"}", &g), 0);
    stratus_security_group_rule *rule = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_security_group_rule_create(
                               S, g->id, "ingress",
                               "{\"protocol\":\"tcp\",\"port_range_min\":80,\"port_range_max\":80}",
                               &rule),
                           0);
    ST_ASSERT_INT_EQ(rule->port_range_min, 80);
    stratus_port *port = NULL;
    char extra[256];
    snprintf(extra, sizeof extra, "{\"security_groups\":[\"%s\"]}", g->id);
    ST_ASSERT_INT_EQ_FATAL(stratus_port_create(S, n->id, extra, &port), 0);
    CU_ASSERT(port->mac_address && strncmp(port->mac_address, "fa:16:3e", 8) == 0);

    stratus_router *rt = NULL;
    snprintf(extra, sizeof extra, "{\"external_gateway_info\":{\"network_id\":\"%s\"}}", ext->id);
    ST_ASSERT_INT_EQ_FATAL(stratus_router_create(S, "r1", extra, &rt), 0);
    stratus_router_interface *ri = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_router_interface_add(S, rt->id, sub->id, &ri), 0);
    ST_ASSERT_STR_EQ(ri->subnet_id, sub->id);
    stratus_floating_ip *fip = NULL, *fip2 = NULL;
    snprintf(extra, sizeof extra, "{\"port_id\":\"%s\"}", port->id);
    ST_ASSERT_INT_EQ_FATAL(stratus_floating_ip_create(S, ext->id, extra, &fip), 0);
    CU_ASSERT(fip->floating_ip_address && strncmp(fip->floating_ip_address, "203.0.113.", 10) == 0);
    ST_ASSERT_STR_EQ(fip->fixed_ip_address, "10.9.0.2");
    ST_ASSERT_INT_EQ(stratus_floating_ip_update(S, fip->id, "{\"port_id\":null}", &fip2), 0);
    CU_ASSERT(fip2 && fip2->port_id == NULL);
    stratus_floating_ip_free(fip2);
    /* the router's interface cannot go while a floating IP could need it */
    ST_ASSERT_INT_EQ(stratus_floating_ip_delete(S, fip->id), 0);
    ST_ASSERT_INT_EQ(stratus_router_interface_remove(S, rt->id, sub->id), 0);
    ST_ASSERT_INT_EQ(stratus_router_delete(S, rt->id), 0);

    /* an instance's NICs, attached and detached while it is stopped */
    stratus_instance_spec sp = {
        .name = "nics", .flavor = flavor, .image = image, .networks_json = "\"none\""};
    stratus_instance *inst;
    int rc = stratus_instance_create(S, &sp, &inst);
    if (rc < 0)
        fprintf(stderr, "create: %s\n", stratus_last_error()->message);
    ST_ASSERT_INT_EQ_FATAL(rc, 0);
    report(inst->id, "active");
    ST_ASSERT_INT_EQ(stratus_instance_stop(S, inst->id), 0);
    report(inst->id, "stopped");
    stratus_port *nic = NULL;
    snprintf(extra, sizeof extra, "{\"network_id\":\"%s\"}", n->id);
    ST_ASSERT_INT_EQ_FATAL(stratus_instance_interface_attach(S, inst->id, extra, &nic), 0);
    ST_ASSERT_STR_EQ(nic->instance_id, inst->id);
    int nics = 0;
    stratus_port *pp;
    ST_ASSERT_INT_EQ_FATAL(stratus_instance_interface_list(S, inst->id, &it), 0);
    while (stratus_port_next(it, &pp) == 1) {
        nics += !strcmp(pp->id, nic->id);
        stratus_port_free(pp);
    }
    stratus_iter_free(it);
    ST_ASSERT_INT_EQ(nics, 1);
    ST_ASSERT_INT_EQ(stratus_instance_interface_detach(S, inst->id, nic->id), 0);
    stratus_instance_delete(S, inst->id);
    stratus_instance_free(inst);
    stratus_port_free(nic);

    ST_ASSERT_INT_EQ(stratus_port_delete(S, port->id), 0);
    ST_ASSERT_INT_EQ(stratus_security_group_rule_delete(S, rule->id), 0);
    ST_ASSERT_INT_EQ(stratus_security_group_delete(S, g->id), 0);
    ST_ASSERT_INT_EQ(stratus_subnet_delete(S, sub->id), 0);
    ST_ASSERT_INT_EQ(stratus_network_delete(S, n->id), 0);
    ST_ASSERT_INT_EQ(stratus_network_show(S, n->id, &n2), STRATUS_ENOTFOUND);
    stratus_router_interface_free(ri);
    stratus_router_free(rt);
    stratus_floating_ip_free(fip);
    stratus_port_free(port);
    stratus_security_group_rule_free(rule);
    stratus_security_group_free(g);
    stratus_subnet_free(sub);
    stratus_subnet_free(esub);
    stratus_network_free(n);
    stratus_network_free(ext);

    /* billing administration and the API document, as text */
    char *doc = NULL;
    ST_ASSERT_INT_EQ(stratus_plan_list(ad, &doc), 0);
    CU_ASSERT(doc && strstr(doc, "plans"));
    free(doc);
    ST_ASSERT_INT_EQ(stratus_period_list(ad, &doc), 0);
    free(doc);
    ST_ASSERT_INT_EQ(stratus_plan_list(S, &doc), STRATUS_EPERM);
    ST_ASSERT_INT_EQ(stratus_openapi_get(S, &doc), 0);
    CU_ASSERT(doc && strstr(doc, "\"/v1/instances\""));
    free(doc);
    stratus_session_free(ad);
}

/* One error space: a quota refusal (the gateway's 409 quota_exceeded) is
 * EREJECTED with the server's code, not a state conflict; a month with no
 * usage is refused as empty_month and issues with
 * STRATUS_ISSUE_CONFIRM_EMPTY (?confirm_empty=true). */
static void test_quota_refusal_and_empty_month(void)
{
    stratus_session *ad, *m;
    stratus_session_new(&ad, T.base, NULL);
    ST_ASSERT_INT_EQ_FATAL(stratus_session_login(ad, "admin", "admin-password-1", "admin"), 0);
    stratus_tenant *t = NULL;
    stratus_user *u = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_tenant_create(ad, "sdk-quota", NULL, &t), 0);
    ST_ASSERT_INT_EQ_FATAL(stratus_user_create(ad, "sdk-quota-m", "password-789", 0, &u), 0);
    ST_ASSERT_INT_EQ_FATAL(stratus_member_set(ad, t->id, u->id, "member"), 0);
    stratus_quota *q = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_tenant_quota_update(ad, t->id, "{\"networks\":1}", &q), 0);
    ST_ASSERT_INT_EQ(q->limits.networks, 1);
    stratus_quota_free(q);
    stratus_session_new(&m, T.base, NULL);
    ST_ASSERT_INT_EQ_FATAL(stratus_session_login(m, "sdk-quota-m", "password-789", "sdk-quota"), 0);
    stratus_network *n1 = NULL, *n2 = NULL;
    ST_ASSERT_INT_EQ_FATAL(stratus_network_create(m, "q-1", NULL, &n1), 0);
    ST_ASSERT_INT_EQ(stratus_network_create(m, "q-2", NULL, &n2), STRATUS_EREJECTED);
    const stratus_error *e = stratus_last_error();
    ST_ASSERT_INT_EQ(e->code, STRATUS_EREJECTED);
    ST_ASSERT_INT_EQ(e->http_status, 409);
    ST_ASSERT_STR_EQ(e->server_code, "quota_exceeded");
    CU_ASSERT(e->request_id[0] != 0);
    CU_ASSERT_PTR_NULL(n2);
    /* other refusals keep their own codes (already_issued, below, stays ECONFLICT) */
    stratus_network *dup = NULL;
    ST_ASSERT_INT_EQ(stratus_network_update(m, n1->id, "{\"mtu\":9000}", &dup), STRATUS_EBADREQ);
    stratus_network_free(dup);
    ST_ASSERT_INT_EQ(stratus_network_delete(m, n1->id), 0);
    stratus_network_free(n1);
    stratus_session_free(m);

    char *j = NULL;
    ST_ASSERT_INT_EQ(stratus_period_issue(ad, "2025-01", &j), STRATUS_ECONFLICT);
    ST_ASSERT_STR_EQ(stratus_last_error()->server_code, "empty_month");
    ST_ASSERT_INT_EQ(stratus_period_issue_flags(ad, "2025-01", 0x80, &j), STRATUS_EINVAL);
    ST_ASSERT_INT_EQ_FATAL(
        stratus_period_issue_flags(ad, "2025-01", STRATUS_ISSUE_CONFIRM_EMPTY, &j), 0);
    CU_ASSERT(j && strstr(j, "\"period\":\"2025-01\""));
    free(j);
    j = NULL;
    ST_ASSERT_INT_EQ(stratus_period_issue_flags(ad, "2025-01", STRATUS_ISSUE_CONFIRM_EMPTY, &j),
                     STRATUS_ECONFLICT);
    ST_ASSERT_STR_EQ(stratus_last_error()->server_code, "already_issued");
    ST_ASSERT_INT_EQ(stratus_member_remove(ad, t->id, u->id), 0);
    ST_ASSERT_INT_EQ(stratus_tenant_delete(ad, t->id), 0);
    stratus_tenant_free(t);
    stratus_user_free(u);
    stratus_session_free(ad);
}

/* Eight threads share one session; every call succeeds. */
static void *many_calls(void *p)
{
    long ok = 0;
    for (int k = 0; k < 10; k++) {
        stratus_quota *q;
        if (stratus_quota_show(S, &q) == 0)
            ok++;
        stratus_quota_free(q);
    }
    return (void *)ok;
}

static void test_session_shared_by_threads(void)
{
    pthread_t th[8];
    for (int k = 0; k < 8; k++)
        pthread_create(&th[k], NULL, many_calls, NULL);
    long total = 0;
    for (int k = 0; k < 8; k++) {
        void *r;
        pthread_join(th[k], &r);
        total += (long)r;
    }
    ST_ASSERT_INT_EQ(total, 80);
}

typedef struct seen {
    int n;
    char method[8], path[128], ctype[64], rid[80];
    long status;
    int body_has_user;
} seen;

static void record(void *arg, const stratus_trace *t)
{
    seen *w = arg;
    w->n++;
    snprintf(w->method, sizeof w->method, "%s", t->method);
    snprintf(w->path, sizeof w->path, "%s", t->path ? t->path : "(null)");
    snprintf(w->ctype, sizeof w->ctype, "%s", t->content_type);
    snprintf(w->rid, sizeof w->rid, "%s", t->request_id);
    w->status = t->status;
    w->body_has_user = t->body && strlen(t->body) == t->body_len && strstr(t->body, "sdk-a-member");
}

/* The trace hook sees each reply, with its path, status, type and body;
 * a failed call is traced too; NULL turns it off. */
static void test_trace_sees_every_reply(void)
{
    stratus_session *s;
    ST_ASSERT_INT_EQ_FATAL(stratus_session_new(&s, T.base, NULL), 0);
    ST_ASSERT_INT_EQ_FATAL(stratus_session_login(s, "sdk-a-member", "password-123", "sdk-a"), 0);
    seen w = {0};
    ST_ASSERT_INT_EQ(stratus_session_set_trace(s, record, &w), 0);
    stratus_whoami *me;
    ST_ASSERT_INT_EQ_FATAL(stratus_session_whoami(s, &me), 0);
    stratus_whoami_free(me);
    ST_ASSERT_INT_EQ(w.n, 1);
    ST_ASSERT_STR_EQ(w.method, "GET");
    ST_ASSERT_STR_EQ(w.path, "/v1/auth/whoami");
    ST_ASSERT_INT_EQ(w.status, 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(w.ctype, "application/json"));
    CU_ASSERT(w.body_has_user);
    CU_ASSERT(w.rid[0] != 0);
    stratus_instance *inst;
    CU_ASSERT(stratus_instance_show(s, "00000000-0000-4000-8000-000000000000", &inst) < 0);
    ST_ASSERT_INT_EQ(w.n, 2);
    ST_ASSERT_STR_EQ(w.path, "/v1/instances/00000000-0000-4000-8000-000000000000");
    ST_ASSERT_INT_EQ(w.status, 404);
    ST_ASSERT_INT_EQ(stratus_session_set_trace(s, NULL, &w), 0);
    ST_ASSERT_INT_EQ_FATAL(stratus_session_whoami(s, &me), 0);
    stratus_whoami_free(me);
    ST_ASSERT_INT_EQ(w.n, 2);
    stratus_session_free(s);
}

static CU_TestInfo tests[] = {
    {"plain http only to loopback", test_plain_http_only_to_loopback},
    {"wrong password: EAUTH, server code, request id",
     test_wrong_password_gives_server_code_and_request_id},
    {"unknown id is ENOTFOUND", test_not_found_is_enotfound},
    {"the token goes only to the gateway", test_token_only_to_the_gateway},
    {"expired token is refreshed", test_expired_token_is_refreshed},
    {"API key session", test_api_key_session},
    {"instance lifecycle and wait", test_instance_lifecycle_and_wait},
    {"instance GET: ETag and 304", test_instance_etag_304},
    {"create idempotency", test_create_idempotency},
    {"list iterator follows pages", test_list_iterator_follows_pages},
    {"image upload/download roundtrip", test_image_upload_download_roundtrip},
    {"flavors, keypairs, groups, quotas", test_catalog_keypairs_groups_quotas},
    {"billing usage and invoices", test_billing_usage_and_invoices},
    {"billing account, period preview, credit notes", test_billing_account_preview_credit_notes},
    {"admin: tenants, users, nodes", test_admin_tenants_users_nodes},
    {"networking, billing admin, the API document", test_networking},
    {"quota refusal is EREJECTED; empty month needs the flag", test_quota_refusal_and_empty_month},
    {"one session shared by threads", test_session_shared_by_threads},
    {"the trace hook sees every reply", test_trace_sees_every_reply},
    {"admin: evacuate an instance and a node", test_admin_evacuate},
    {"admin: migrate an instance, list migrations, cancel", test_admin_migrate},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"sdk_api", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};
int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
