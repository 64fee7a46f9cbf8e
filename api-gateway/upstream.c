/*
 * upstream.c - calling backend services (images, billing) for a tenant.
 *
 * The gateway authenticates as itself with the shared service token and
 * states the principal in X-Stratus-* headers (common/internal.h); the
 * backend enforces its own rules on that principal. Calls are blocking
 * libcurl requests made on the worker thread that serves the tenant's
 * request (the same model as database calls: see common/db.h), with one
 * curl handle cached per worker thread so connections to the backend are
 * reused. A backend that cannot be reached is a 503 to the tenant, never a
 * hang: connect and total timeouts are short.
 */
#include "gateway.h"
#include "stratus/log.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define UPSTREAM_MAX_BODY (8 << 20)

/* One curl handle per worker thread (connections to backends are reused),
 * cleaned up when the thread exits. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static pthread_key_t curl_key;
static void curl_free_handle(void *h)
{
    curl_easy_cleanup(h);
}
static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    pthread_key_create(&curl_key, curl_free_handle);
}

typedef struct buf {
    char *p;
    size_t n;
    int too_big;
} buf;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    buf *b = ud;
    size_t add = size * nmemb;
    if (b->n + add > UPSTREAM_MAX_BODY) {
        b->too_big = 1;
        return 0;
    }
    char *np = realloc(b->p, b->n + add + 1);
    if (!np)
        return 0;
    memcpy(np + b->n, ptr, add);
    b->n += add;
    np[b->n] = 0;
    b->p = np;
    return add;
}

/* Response headers passed back to the tenant; everything else (the
 * backend's Server, its request id) stays behind the gateway. */
static const char *const passed_back[] = {
    "Content-Type", "Content-Disposition", "ETag", "Last-Modified",
    "Location",     "Retry-After",         NULL};
#define NPASSED 6

typedef struct hdrs {
    char val[NPASSED][256];
} hdrs;

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    hdrs *h = ud;
    size_t n = size * nmemb;
    for (int i = 0; passed_back[i]; i++) {
        size_t kl = strlen(passed_back[i]);
        if (n > kl + 1 && strncasecmp(ptr, passed_back[i], kl) == 0 && ptr[kl] == ':') {
            const char *v = ptr + kl + 1;
            while (*v == ' ')
                v++;
            size_t l = n - (size_t)(v - ptr);
            while (l && (v[l - 1] == '\r' || v[l - 1] == '\n'))
                l--;
            snprintf(h->val[i], sizeof h->val[i], "%.*s", (int)l, v);
        }
    }
    return n;
}

static long call(gw_ctx *c, const gw_upstream *u, const char *method, const char *path,
                 const char *body, size_t len, char **out, size_t *outlen, hdrs *rh,
                 int forward_client_headers)
{
    pthread_once(&curl_once, curl_init);
    if (!u->base || !*u->base)
        return -1;
    CURL *h = pthread_getspecific(curl_key);
    if (!h) {
        h = curl_easy_init();
        pthread_setspecific(curl_key, h);
    }
    curl_easy_reset(h);
    char url[2048], hv[7][320];
    snprintf(url, sizeof url, "%s%s", u->base, path);
    struct curl_slist *hl = NULL;
    snprintf(hv[0], sizeof hv[0], "Authorization: Bearer %s", u->token);
    hl = curl_slist_append(hl, hv[0]);
    if (c->p.tenant_id[0]) {
        snprintf(hv[1], sizeof hv[1], "X-Stratus-Tenant: %s", c->p.tenant_id);
        hl = curl_slist_append(hl, hv[1]);
    }
    if (c->p.user_id[0]) {
        snprintf(hv[2], sizeof hv[2], "X-Stratus-User: %s", c->p.user_id);
        hl = curl_slist_append(hl, hv[2]);
    }
    if (c->p.role[0]) {
        snprintf(hv[3], sizeof hv[3], "X-Stratus-Role: %s", c->p.role);
        hl = curl_slist_append(hl, hv[3]);
    }
    hl = curl_slist_append(hl, c->p.cloud_admin ? "X-Stratus-Cloud-Admin: true"
                                                : "X-Stratus-Cloud-Admin: false");
    snprintf(hv[4], sizeof hv[4], "X-Request-Id: %s", st_http_request_id(c->req));
    hl = curl_slist_append(hl, hv[4]);
    hl = curl_slist_append(hl, "Expect:");
    if (body)
        hl = curl_slist_append(hl, "Content-Type: application/json");
    if (forward_client_headers) {
        /* content negotiation and conditional requests are the tenant's */
        const char *acc = st_http_header(c->req, "Accept");
        const char *inm = st_http_header(c->req, "If-None-Match");
        if (acc && strlen(acc) < 256 && !strpbrk(acc, "\r\n")) {
            snprintf(hv[5], sizeof hv[5], "Accept: %s", acc);
            hl = curl_slist_append(hl, hv[5]);
        }
        if (inm && strlen(inm) < 256 && !strpbrk(inm, "\r\n")) {
            snprintf(hv[6], sizeof hv[6], "If-None-Match: %s", inm);
            hl = curl_slist_append(hl, hv[6]);
        }
    }
    buf b = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, rh);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)u->timeout_ms);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (u->ca_file && *u->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, u->ca_file);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    CURLcode rc = curl_easy_perform(h);
    long status = -1;
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    else
        st_log_fields(ST_LOG_ERROR, "upstream.error",
                      json_pack("{s:s, s:s, s:s, s:s}", "service", u->name, "url", url, "error",
                                b.too_big ? "response too large" : curl_easy_strerror(rc),
                                "request_id", st_http_request_id(c->req)));
    curl_slist_free_all(hl);
    if (out && status > 0) {
        *out = b.p ? b.p : strdup("");
        *outlen = b.n;
    } else {
        free(b.p);
    }
    return status;
}

long gw_upstream_call(gw_ctx *c, const gw_upstream *u, const char *method, const char *path,
                      const char *body, size_t len, char **out, size_t *outlen)
{
    hdrs rh;
    memset(&rh, 0, sizeof rh);
    return call(c, u, method, path, body, len, out, outlen, &rh, 0);
}

void gw_proxy(gw_ctx *c, const gw_upstream *u, const char *method, const char *path, int body)
{
    size_t len = 0;
    const char *b = body ? st_http_body(c->req, &len) : NULL;
    char *out = NULL;
    size_t outlen = 0;
    hdrs rh;
    memset(&rh, 0, sizeof rh);
    long status = call(c, u, method, path, b, len, &out, &outlen, &rh, 1);
    if (status < 0) {
        st_http_add_header(c->req, "Retry-After", "2");
        st_http_reply_error(c->req, 503, ST_E_UNAVAILABLE, "the %s service is unavailable; retry",
                            u->name);
        return;
    }
    for (int i = 1; passed_back[i]; i++) /* Content-Type goes with the body below */
        if (rh.val[i][0])
            st_http_add_header(c->req, passed_back[i], rh.val[i]);
    /* A tenant that already has this exact document gets 304, whether or not
     * the backend implements conditional requests (ETag is passed_back[2]). */
    const char *inm = st_http_header(c->req, "If-None-Match");
    if (status == 200 && !strcmp(method, "GET") && inm && rh.val[2][0] && !strcmp(inm, rh.val[2])) {
        free(out);
        st_http_reply_raw(c->req, 304, NULL, "", 0);
        return;
    }
    st_http_reply_raw(c->req, (int)status, rh.val[0][0] ? rh.val[0] : NULL, out, outlen);
    free(out);
}

json_t *gw_upstream_json(gw_ctx *c, const gw_upstream *u, const char *method, const char *path,
                         long *status)
{
    char *out = NULL;
    size_t n = 0;
    *status = gw_upstream_call(c, u, method, path, NULL, 0, &out, &n);
    json_t *j = out ? json_loadb(out, n, 0, NULL) : NULL;
    free(out);
    return j;
}
