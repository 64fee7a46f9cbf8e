/*
 * httpc.c - blocking HTTP calls over libcurl easy handles (httpc.h).
 *
 * Why libcurl rather than a client of our own on libevent or libuv: TLS,
 * unix sockets, chunked bodies, keep-alive and timeouts come done and
 * proven; a hand-made client would need its own response parser (another
 * thing to fuzz) for no gain. One easy handle per thread (a pthread key,
 * cleaned up when the thread exits), reset before each call so nothing
 * leaks from one call to the next but its connection cache. The body goes
 * to a growing buffer capped at max_body, or to the caller's sink; header
 * lines are collected from the last "HTTP/" status line on, so an interim
 * response (100 Continue) does not mix with the final one.
 */
#include "stratus/httpc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HEADERS (64u << 10)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t handle_key;

static void handle_free(void *h)
{
    curl_easy_cleanup(h);
}

static void init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_key_create(&handle_key, handle_free);
}

typedef struct growbuf {
    char *p;
    size_t n, cap, max;
    int over;
} growbuf;

/* Appends k bytes; 0 when that would pass b->max or memory ran out. */
static int buf_add(growbuf *b, const char *p, size_t k)
{
    if (b->n + k + 1 > b->max) {
        b->over = 1;
        return 0;
    }
    if (b->n + k + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + k + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np)
            return 0;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, k);
    b->n += k;
    b->p[b->n] = 0;
    return 1;
}

typedef struct call {
    const st_httpc_req *q;
    growbuf body, hdr;
} call;

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    call *c = arg;
    size_t k = sz * n;
    if (c->q->sink)
        return c->q->sink(c->q->sink_arg, p, k);
    return buf_add(&c->body, p, k) ? k : 0;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    return *(const volatile int *)arg != 0;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
    call *c = arg;
    size_t k = sz * n;
    if (k >= 5 && memcmp(p, "HTTP/", 5) == 0)
        c->hdr.n = 0;       /* a new response: keep only the last one's headers */
    buf_add(&c->hdr, p, k); /* past the cap, further lines are dropped */
    if (c->hdr.p)
        c->hdr.p[c->hdr.n] = 0;
    return k;
}

static int has_header(const char *const *h, const char *name)
{
    size_t nl = strlen(name);
    for (int i = 0; h && h[i]; i++)
        if (strncasecmp(h[i], name, nl) == 0 && h[i][nl] == ':')
            return 1;
    return 0;
}

long st_httpc(const st_httpc_req *q, st_httpc_resp *r, char *err, size_t errlen)
{
    char dummy[1];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = 0;
    memset(r, 0, sizeof *r);
    pthread_once(&once, init_once);
    const char *method = q->method ? q->method : "GET";
    call c = {.q = q,
              .body = {.max = q->max_body ? q->max_body + 1 : ST_HTTPC_MAX_BODY + 1},
              .hdr = {.max = MAX_HEADERS}};
    CURL *h = pthread_getspecific(handle_key);
    if (!h) {
        h = curl_easy_init();
        if (!h) {
            snprintf(err, errlen, "%s %s: cannot start libcurl", method, q->url);
            r->body = calloc(1, 1);
            r->headers = calloc(1, 1);
            return 0;
        }
        pthread_setspecific(handle_key, h);
    }
    curl_easy_reset(h);

    char *json_body = NULL;
    const char *body = q->body;
    size_t body_len = q->body_len;
    if (!body && q->json) {
        json_body = json_dumps(q->json, JSON_COMPACT);
        body = json_body ? json_body : "null";
        body_len = strlen(body);
    }
    struct curl_slist *hl = NULL;
    char auth[1100], ct[160];
    if (q->bearer && *q->bearer) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", q->bearer);
        hl = curl_slist_append(hl, auth);
    }
    if (body && !has_header(q->headers, "Content-Type")) {
        snprintf(ct, sizeof ct, "Content-Type: %s",
                 q->content_type ? q->content_type : "application/json");
        hl = curl_slist_append(hl, ct);
    }
    hl = curl_slist_append(hl, "Expect:");
    for (int i = 0; q->headers && q->headers[i]; i++)
        hl = curl_slist_append(hl, q->headers[i]);

    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, q->url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (q->unix_sock)
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, q->unix_sock);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &c);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (q->timeout_ms >= 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, q->timeout_ms ? q->timeout_ms : 30000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     q->connect_timeout_ms > 0 ? q->connect_timeout_ms : 5000L);
    if (q->stall_s > 0) {
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, q->stall_s);
    }
    if (q->ca_file && *q->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, q->ca_file);
    if (q->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (q->fresh) {
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    }
    if (q->abort) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)q->abort);
    }
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hl);
    free(json_body);
    /* the handle outlives this call: drop pointers into this frame */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);

    r->body = c.body.p ? c.body.p : calloc(1, 1);
    r->len = c.body.n;
    r->headers = c.hdr.p ? c.hdr.p : calloc(1, 1);
    r->hlen = c.hdr.n;
    if (rc != CURLE_OK) {
        if (c.body.over)
            snprintf(err, errlen, "%s %s: response body too large (over %zu bytes)", method, q->url,
                     c.body.max - 1);
        else
            snprintf(err, errlen, "%s %s: %s", method, q->url,
                     cerr[0] ? cerr : curl_easy_strerror(rc));
        return 0;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    char *et = st_httpc_header(r, "ETag");
    if (et && strlen(et) < sizeof r->etag)
        memcpy(r->etag, et, strlen(et) + 1);
    free(et);
    return r->status;
}

void st_httpc_resp_free(st_httpc_resp *r)
{
    free(r->body);
    free(r->headers);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

json_t *st_httpc_json(st_httpc_resp *r)
{
    if (!r->json && r->body && r->len)
        r->json = json_loadb(r->body, r->len, 0, NULL);
    return r->json;
}

char *st_httpc_header(const st_httpc_resp *r, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = r->headers; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);
        if (ll > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t vl = ll - (size_t)(v - p);
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
            return strndup(v, vl);
        }
        p = eol ? eol + 2 : NULL;
    }
    return NULL;
}

static json_t *error_obj(const st_httpc_resp *r, json_t **owned)
{
    *owned = NULL;
    json_t *j = r->json;
    if (!j && r->body && r->len)
        j = *owned = json_loadb(r->body, r->len, 0, NULL);
    return json_object_get(j, "error");
}

const char *st_httpc_err_msg(const st_httpc_resp *r, char *buf, size_t buflen)
{
    json_t *owned;
    const char *m = json_string_value(json_object_get(error_obj(r, &owned), "message"));
    if (m)
        snprintf(buf, buflen, "%s", m);
    else
        snprintf(buf, buflen, "%.200s", r->body ? r->body : "");
    json_decref(owned);
    return buf;
}

const char *st_httpc_err_code(const st_httpc_resp *r)
{
    json_t *owned;
    json_t *e = error_obj(r, &owned);
    const char *c = json_string_value(json_object_get(e, "code"));
    if (c && owned) { /* the string dies with owned: keep a copy per thread */
        static __thread char code[64];
        snprintf(code, sizeof code, "%s", c);
        c = code;
    }
    json_decref(owned);
    return c ? c : "";
}
