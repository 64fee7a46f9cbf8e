/*
 * httpc.c - blocking HTTP calls over libcurl easy handles (see httpc.h).
 *
 * Why libcurl rather than an HTTP client on libuv's TCP: TLS, unix sockets,
 * chunked bodies, keep-alive and timeouts come done and proven; a hand-made
 * client would need its own parser (another thing to fuzz) for no gain. The
 * handles block, so they run on uv's thread pool, one handle per pool thread
 * (thread-local, reset between calls, connection cache kept).
 */
#include "httpc.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static __thread CURL *tl_curl;

typedef struct sink {
    char *buf;
    size_t len, cap;
    int over;
} sink;

static size_t on_data(char *p, size_t sz, size_t n, void *arg)
{
    sink *s = arg;
    size_t k = sz * n;
    if (s->len + k + 1 > ND_HTTP_MAX_BODY) {
        s->over = 1;
        return 0;
    }
    if (s->len + k + 1 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        while (cap < s->len + k + 1)
            cap *= 2;
        char *nb = realloc(s->buf, cap);
        if (!nb)
            return 0;
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, k);
    s->len += k;
    s->buf[s->len] = 0;
    return k;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    return *(const volatile int *)arg != 0;
}

long nd_http(const nd_http_req *q, nd_http_resp *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (!tl_curl && !(tl_curl = curl_easy_init())) {
        snprintf(err, errlen, "curl_easy_init failed");
        return 0;
    }
    CURL *c = tl_curl;
    curl_easy_reset(c);
    struct curl_slist *h = NULL;
    char auth[1024];
    if (q->bearer && *q->bearer) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", q->bearer);
        h = curl_slist_append(h, auth);
    }
    for (int i = 0; q->headers && q->headers[i]; i++)
        h = curl_slist_append(h, q->headers[i]);
    char ct[128];
    if (q->body) {
        snprintf(ct, sizeof ct, "Content-Type: %s",
                 q->content_type ? q->content_type : "application/json");
        h = curl_slist_append(h, ct);
        h = curl_slist_append(h, "Expect:");
    }
    sink s = {0};
    curl_easy_setopt(c, CURLOPT_URL, q->url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
    if (!strcmp(q->method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (q->unix_sock)
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, q->unix_sock);
    if (q->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, q->timeout_ms > 0 ? q->timeout_ms : 30000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (q->abort) {
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)q->abort);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(h);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s %s: %s", q->method, q->url,
                 s.over ? "response body too large" : curl_easy_strerror(rc));
        free(s.buf);
        return 0;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    struct curl_header *et;
    if (curl_easy_header(c, "ETag", 0, CURLH_HEADER, -1, &et) == CURLHE_OK &&
        strlen(et->value) < sizeof r->etag)
        snprintf(r->etag, sizeof r->etag, "%s", et->value);
    r->body = s.buf;
    r->len = s.len;
    if (!r->body) {
        r->body = calloc(1, 1);
    }
    return r->status;
}

void nd_http_resp_free(nd_http_resp *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

const char *nd_http_err_msg(const nd_http_resp *r, char *buf, size_t buflen)
{
    json_t *j = r->body ? json_loadb(r->body, r->len, 0, NULL) : NULL;
    const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    if (m)
        snprintf(buf, buflen, "%s", m);
    else
        snprintf(buf, buflen, "%.200s", r->body ? r->body : "");
    json_decref(j);
    return buf;
}
