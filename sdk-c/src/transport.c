/*
 * transport.c - sessions and the one HTTP call every libstratus function
 * makes: libcurl easy handles sharing one connection/TLS-session cache per
 * session, the bearer token (refreshed by signing in again when a password
 * session's token nears expiry or is refused), Idempotency-Key on creates,
 * and retries with backoff only where repeating cannot do a thing twice
 * (GETs, and creates whose key the server deduplicates). Every reply is
 * handed to the session's trace callback when it has one.
 *
 * Replies are untrusted: bodies are capped at SX_MAX_BODY and headers at
 * their buffers; JSON is parsed by jansson and type-checked by object.c.
 */
#include "internal.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *stratus_version(void)
{
    return "0.1.0";
}

void sx_uuid4(char out[37])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        /* getrandom on Linux >= 3.17 does not fail for 16 bytes; be safe */
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)(rand() ^ (int)time(NULL));
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *p)
{
    stratus_session *s = p;
    pthread_mutex_lock(&s->share_locks[(unsigned)d % 8]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *p)
{
    stratus_session *s = p;
    pthread_mutex_unlock(&s->share_locks[(unsigned)d % 8]);
}

/* http:// is refused unless the host is loopback: a bearer token must not
 * cross a network in the clear by accident. */
static int url_allowed(const char *url, int allow_plain)
{
    if (strncmp(url, "https://", 8) == 0)
        return 1;
    if (strncmp(url, "http://", 7) != 0)
        return 0;
    if (allow_plain)
        return 1;
    const char *h = url + 7;
    static const char *const loop[] = {"127.", "localhost:", "localhost/", "[::1]"};
    for (size_t i = 0; i < sizeof loop / sizeof loop[0]; i++)
        if (strncmp(h, loop[i], strlen(loop[i])) == 0)
            return 1;
    return strcmp(h, "localhost") == 0;
}

int stratus_session_new(stratus_session **out, const char *url, const stratus_options *o)
{
    sx_clear_error();
    if (!out || !url)
        return sx_fail(STRATUS_EINVAL, "session: url required");
    *out = NULL;
    if (!url_allowed(url, o && o->allow_plain_http))
        return sx_fail(STRATUS_EINVAL,
                       "session: %s: use https:// (http:// only to a loopback address)", url);
    pthread_once(&curl_once, curl_init_once);
    stratus_session *s = calloc(1, sizeof *s);
    if (!s)
        return sx_fail(STRATUS_ENOMEM, NULL);
    s->base = strdup(url);
    if (!s->base) {
        free(s);
        return sx_fail(STRATUS_ENOMEM, NULL);
    }
    size_t n = strlen(s->base);
    while (n && s->base[n - 1] == '/')
        s->base[--n] = 0;
    s->timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms : 30000;
    s->max_retries = !o || o->max_retries == 0 ? 3 : o->max_retries < 0 ? 0 : o->max_retries;
    s->ca_file = o && o->ca_file ? strdup(o->ca_file) : NULL;
    s->user_agent = strdup(o && o->user_agent ? o->user_agent : "libstratus/0.1.0");
    pthread_mutex_init(&s->lock, NULL);
    for (int i = 0; i < 8; i++)
        pthread_mutex_init(&s->share_locks[i], NULL);
    CURLSH *sh = curl_share_init();
    if (sh) {
        curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, share_lock);
        curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, share_unlock);
        curl_share_setopt(sh, CURLSHOPT_USERDATA, s);
        curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    }
    s->share = sh;
    *out = s;
    return 0;
}

static void forget_login(stratus_session *s)
{
    if (s->login_password) {
        explicit_bzero(s->login_password, strlen(s->login_password));
        free(s->login_password);
    }
    free(s->login_name);
    free(s->login_tenant);
    s->login_name = s->login_password = s->login_tenant = NULL;
}

void stratus_session_free(stratus_session *s)
{
    if (!s)
        return;
    if (s->share)
        curl_share_cleanup(s->share);
    forget_login(s);
    free(s->token);
    free(s->base);
    free(s->ca_file);
    free(s->user_agent);
    pthread_mutex_destroy(&s->lock);
    for (int i = 0; i < 8; i++)
        pthread_mutex_destroy(&s->share_locks[i]);
    free(s);
}

/* RFC 3339 UTC ("2026-12-05T07:00:00Z", fraction ignored) to unix seconds. */
static long long parse_time(const char *t)
{
    struct tm tm = {0};
    if (!t || !strptime(t, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    return (long long)timegm(&tm);
}

static void set_token(stratus_session *s, const char *tok, long long expires)
{
    pthread_mutex_lock(&s->lock);
    free(s->token);
    s->token = tok ? strdup(tok) : NULL;
    s->token_expires = expires;
    pthread_mutex_unlock(&s->lock);
}

int sx_signin(stratus_session *s)
{
    pthread_mutex_lock(&s->lock);
    json_t *b = s->login_name
                    ? json_pack("{s:s, s:s}", "name", s->login_name, "password", s->login_password)
                    : NULL;
    if (b && s->login_tenant)
        json_object_set_new(b, "tenant", json_string(s->login_tenant));
    pthread_mutex_unlock(&s->lock);
    if (!b)
        return sx_fail(STRATUS_EAUTH, "no credentials to sign in with");
    sx_req q = {.op = "POST /v1/auth/tokens", .body = b, .no_auth = true};
    sx_resp r;
    int rc = sx_call(s, &q, &r);
    json_decref(b);
    if (rc < 0)
        return rc;
    const char *tok = json_string_value(json_object_get(r.json, "token"));
    if (!tok) {
        sx_resp_free(&r);
        return sx_fail(STRATUS_EPROTO, "sign-in reply has no token");
    }
    set_token(s, tok, parse_time(json_string_value(json_object_get(r.json, "expires_at"))));
    sx_resp_free(&r);
    return 0;
}

int stratus_session_login(stratus_session *s, const char *name, const char *password,
                          const char *tenant)
{
    sx_clear_error();
    if (!s || !name || !password)
        return sx_fail(STRATUS_EINVAL, "login: name and password required");
    pthread_mutex_lock(&s->lock);
    forget_login(s);
    s->login_name = strdup(name);
    s->login_password = strdup(password);
    s->login_tenant = tenant ? strdup(tenant) : NULL;
    pthread_mutex_unlock(&s->lock);
    return sx_signin(s);
}

int stratus_session_set_token(stratus_session *s, const char *token)
{
    sx_clear_error();
    if (!s || !token || !*token || strpbrk(token, "\r\n"))
        return sx_fail(STRATUS_EINVAL, "token: empty or not one line");
    pthread_mutex_lock(&s->lock);
    forget_login(s);
    pthread_mutex_unlock(&s->lock);
    set_token(s, token, 0);
    return 0;
}

int stratus_session_token(stratus_session *s, char *buf, size_t n)
{
    sx_clear_error();
    if (!s || !buf)
        return sx_fail(STRATUS_EINVAL, NULL);
    pthread_mutex_lock(&s->lock);
    int rc = s->token && strlen(s->token) < n ? 0 : STRATUS_EINVAL;
    if (rc == 0)
        memcpy(buf, s->token, strlen(s->token) + 1);
    pthread_mutex_unlock(&s->lock);
    return rc == 0 ? 0 : sx_fail(rc, "no token, or the buffer is too small");
}

int stratus_session_logout(stratus_session *s)
{
    sx_clear_error();
    if (!s)
        return sx_fail(STRATUS_EINVAL, NULL);
    sx_req q = {.op = "DELETE /v1/auth/tokens/current"};
    int rc = sx_do(s, &q);
    if (rc == 0) {
        pthread_mutex_lock(&s->lock);
        forget_login(s);
        pthread_mutex_unlock(&s->lock);
        set_token(s, NULL, 0);
    }
    return rc;
}

int stratus_session_set_trace(stratus_session *s, stratus_trace_cb cb, void *userdata)
{
    sx_clear_error();
    if (!s)
        return sx_fail(STRATUS_EINVAL, NULL);
    pthread_mutex_lock(&s->lock);
    s->trace = cb;
    s->trace_arg = cb ? userdata : NULL;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* Hands one reply to the trace callback, if the session has one. body NULL:
 * it went to a file. */
static void trace_reply(stratus_session *s, const char *method, const char *url, long status,
                        const sx_resp *r, const char *body, size_t len)
{
    pthread_mutex_lock(&s->lock);
    stratus_trace_cb cb = s->trace;
    void *arg = s->trace_arg;
    pthread_mutex_unlock(&s->lock);
    if (!cb)
        return;
    size_t bl = strlen(s->base);
    int ours = strncmp(url, s->base, bl) == 0 && (url[bl] == '/' || url[bl] == '?' || !url[bl]);
    stratus_trace t = {.method = method,
                       .url = url,
                       .path = ours ? (url[bl] ? url + bl : "/") : NULL,
                       .status = status,
                       .content_type = r->content_type,
                       .body = body,
                       .body_len = len,
                       .request_id = r->request_id};
    cb(arg, &t);
}

char *sx_bearer(stratus_session *s)
{
    pthread_mutex_lock(&s->lock);
    int refresh =
        s->login_name &&
        (!s->token || (s->token_expires && s->token_expires - (long long)time(NULL) < 60));
    pthread_mutex_unlock(&s->lock);
    if (refresh)
        sx_signin(s); /* on failure the old token is tried; its 401 reports */
    pthread_mutex_lock(&s->lock);
    char *t = s->token ? strdup(s->token) : NULL;
    pthread_mutex_unlock(&s->lock);
    return t;
}

void sx_resp_free(sx_resp *r)
{
    if (!r)
        return;
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* ---- one request ---- */

typedef struct buf {
    char *p;
    size_t n, cap;
    int over;
} buf;

static size_t on_body(char *d, size_t sz, size_t nm, void *arg)
{
    buf *b = arg;
    size_t n = sz * nm;
    if (b->n + n > SX_MAX_BODY) {
        b->over = 1;
        return 0;
    }
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
    b->p[b->n] = 0;
    return n;
}

/* Copies a header's value (trimmed, bounded) when the line is that header. */
static void header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1;
    const char *e = line + n;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
        e--;
    size_t l = (size_t)(e - v);
    if (l >= cap)
        l = cap - 1; /* too long: truncated, never overrun */
    memcpy(out, v, l);
    out[l] = 0;
}

typedef struct hdrs {
    sx_resp *r;
    char retry_after[16];
} hdrs;

static size_t on_header(char *d, size_t sz, size_t nm, void *arg)
{
    hdrs *h = arg;
    size_t n = sz * nm;
    header_value(d, n, "ETag", h->r->etag, sizeof h->r->etag);
    header_value(d, n, "X-Request-Id", h->r->request_id, sizeof h->r->request_id);
    header_value(d, n, "Content-Type", h->r->content_type, sizeof h->r->content_type);
    header_value(d, n, "Retry-After", h->retry_after, sizeof h->retry_after);
    return n;
}

char *sx_url(stratus_session *s, const sx_req *q)
{
    const char *path = strchr(q->op, ' ');
    if (!path)
        return NULL;
    path++;
    size_t cap = strlen(s->base) + strlen(path) + (q->query ? strlen(q->query) : 0) + 8;
    for (int i = 0; i < 3; i++)
        if (q->args[i])
            cap += 3 * strlen(q->args[i]);
    char *u = malloc(cap);
    if (!u)
        return NULL;
    size_t n = (size_t)snprintf(u, cap, "%s", s->base);
    int ai = 0;
    for (const char *p = path; *p;) {
        if (*p == '{') {
            const char *e = strchr(p, '}');
            const char *a = ai < 3 ? q->args[ai++] : NULL;
            if (!e || !a || !*a) {
                free(u);
                return NULL;
            }
            for (const unsigned char *c = (const unsigned char *)a; *c; c++) {
                if (isalnum(*c) || strchr("-._~", *c))
                    u[n++] = (char)*c;
                else
                    n += (size_t)snprintf(u + n, cap - n, "%%%02X", *c);
            }
            p = e + 1;
        } else {
            u[n++] = *p++;
        }
    }
    u[n] = 0;
    if (q->query && *q->query)
        snprintf(u + n, cap - n, "?%s", q->query);
    return u;
}

void sx_curl_setup(stratus_session *s, void *curl)
{
    CURL *c = curl;
    curl_easy_setopt(c, CURLOPT_SHARE, s->share);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, s->user_agent);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->timeout_ms < 10000 ? s->timeout_ms : 10000L);
    if (s->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
}

static int transport_error(CURLcode cc, const char *detail)
{
    switch (cc) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        return sx_fail(STRATUS_ETLS, "TLS: %s", *detail ? detail : curl_easy_strerror(cc));
    case CURLE_OPERATION_TIMEDOUT: return sx_fail(STRATUS_ETIMEDOUT, "request timed out");
    case CURLE_OUT_OF_MEMORY: return sx_fail(STRATUS_ENOMEM, NULL);
    case CURLE_WRITE_ERROR: return sx_fail(STRATUS_EIO, "could not store the reply");
    default: return sx_fail(STRATUS_ETRANSPORT, "%s", *detail ? detail : curl_easy_strerror(cc));
    }
}

/* One attempt. Returns 0 with resp filled (any status), or a transport error. */
static int attempt(stratus_session *s, const sx_req *q, const char *url, const char *method,
                   const char *body, const char *bearer, const char *key, sx_resp *resp,
                   long *retry_after)
{
    memset(resp, 0, sizeof *resp);
    CURL *c = curl_easy_init();
    if (!c)
        return sx_fail(STRATUS_ENOMEM, NULL);
    sx_curl_setup(s, c);
    buf b = {0};
    hdrs h = {.r = resp};
    char err[CURL_ERROR_SIZE] = "";
    struct curl_slist *hl = NULL;
    char line[512];
    if (bearer) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", bearer);
        hl = curl_slist_append(hl, line);
    }
    if (key) {
        snprintf(line, sizeof line, "Idempotency-Key: %s", key);
        hl = curl_slist_append(hl, line);
    }
    if (q->if_none_match) {
        snprintf(line, sizeof line, "If-None-Match: %s", q->if_none_match);
        hl = curl_slist_append(hl, line);
    }
    snprintf(line, sizeof line, "Accept: %s", q->accept ? q->accept : "application/json");
    hl = curl_slist_append(hl, line);
    if (body)
        hl = curl_slist_append(hl, "Content-Type: application/json");
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    } else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    if (strcmp(method, "GET") == 0)
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->timeout_ms);
    CURLcode cc = curl_easy_perform(c);
    int rc = 0;
    if (cc != CURLE_OK) {
        rc = b.over ? sx_fail(STRATUS_EPROTO, "reply larger than %u bytes", SX_MAX_BODY)
                    : transport_error(cc, err);
        free(b.p);
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
        resp->body = b.p ? b.p : strdup("");
        resp->len = b.n;
        *retry_after = atol(h.retry_after);
        trace_reply(s, method, url, resp->status, resp, resp->body, resp->len);
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return rc;
}

static int retryable_status(long st)
{
    return st == 429 || st == 502 || st == 503 || st == 504;
}
static int retryable_error(int rc)
{
    return rc == STRATUS_ETRANSPORT || rc == STRATUS_ETIMEDOUT;
}

static void backoff(int n, long retry_after)
{
    long ms = 100L << (n < 5 ? n : 5); /* 100, 200, 400 ... 3200 ms */
    unsigned char j;
    if (getrandom(&j, 1, 0) == 1)
        ms += ms * j / 512; /* up to +50% jitter */
    if (retry_after > 0)
        ms = retry_after > 5 ? 5000 : retry_after * 1000;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int sx_call(stratus_session *s, const sx_req *q, sx_resp *resp)
{
    memset(resp, 0, sizeof *resp);
    char method[8] = "";
    const char *sp = strchr(q->op, ' ');
    if (!sp || (size_t)(sp - q->op) >= sizeof method)
        return sx_fail(STRATUS_EINVAL, "bad operation %s", q->op);
    memcpy(method, q->op, (size_t)(sp - q->op));
    char *url = sx_url(s, q);
    if (!url)
        return sx_fail(STRATUS_EINVAL, "%s: a path parameter is missing or empty", q->op);
    char *body = q->body ? json_dumps(q->body, JSON_COMPACT) : NULL;
    char key[256] = "";
    if (q->create || q->idem_key) {
        if (q->idem_key)
            snprintf(key, sizeof key, "%s", q->idem_key);
        else
            sx_uuid4(key);
    }
    int safe = strcmp(method, "GET") == 0 || (q->create && q->key_honoured);
    int tries = safe ? s->max_retries : 0, reauth = 1, rc;
    for (int n = 0;; n++) {
        char *bearer = q->no_auth ? NULL : sx_bearer(s);
        long ra = 0;
        rc = attempt(s, q, url, method, body, bearer, *key ? key : NULL, resp, &ra);
        free(bearer);
        if (rc < 0) {
            if (n < tries && retryable_error(rc)) {
                backoff(n, 0);
                continue;
            }
            break;
        }
        if (resp->status == 401 && !q->no_auth && reauth) {
            pthread_mutex_lock(&s->lock);
            int can = s->login_name != NULL;
            pthread_mutex_unlock(&s->lock);
            /* The token expired or was revoked: sign in again, once. The
             * request was refused before anything happened, so it is safe
             * to send again whatever it is. */
            if (can && sx_signin(s) == 0) {
                reauth = 0;
                sx_resp_free(resp);
                continue;
            }
        }
        if (n < tries && retryable_status(resp->status)) {
            sx_resp_free(resp);
            backoff(n, ra);
            continue;
        }
        if ((resp->status < 200 || resp->status > 299) && resp->status != 304) {
            rc = sx_fail_http(resp->status, resp->body, resp->len, resp->request_id);
            sx_resp_free(resp);
            break;
        }
        if (!q->raw && resp->len) {
            resp->json = json_loadb(resp->body, resp->len, JSON_REJECT_DUPLICATES, NULL);
            if (!resp->json) {
                rc = sx_fail(STRATUS_EPROTO, "%s: reply is not JSON", q->op);
                sx_set_request_id(resp->request_id);
                sx_resp_free(resp);
                break;
            }
        }
        rc = 0;
        break;
    }
    free(body);
    free(url);
    return rc;
}

int sx_do(stratus_session *s, const sx_req *q)
{
    sx_resp r;
    int rc = sx_call(s, q, &r);
    sx_resp_free(&r);
    return rc;
}

/* ---- streaming through signed URLs ---- */

typedef struct stream {
    FILE *f;
    buf err; /* the body of a non-2xx reply */
    CURL *c;
    stratus_progress_cb cb;
    void *arg;
    int canceled, up;
    uint64_t total;
} stream;

static size_t on_stream_body(char *d, size_t sz, size_t nm, void *arg)
{
    stream *st = arg;
    long code = 0;
    curl_easy_getinfo(st->c, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code > 299 || st->up)
        return on_body(d, sz, nm, &st->err);
    return fwrite(d, sz, nm, st->f) == nm ? sz * nm : 0;
}

static size_t on_stream_read(char *d, size_t sz, size_t nm, void *arg)
{
    stream *st = arg;
    return fread(d, sz, nm, st->f) * sz;
}

static int on_progress(void *arg, curl_off_t dltot, curl_off_t dlnow, curl_off_t ultot,
                       curl_off_t ulnow)
{
    stream *st = arg;
    if (!st->cb)
        return 0;
    uint64_t done = (uint64_t)(ulnow ? ulnow : dlnow);
    uint64_t total = st->total ? st->total : (uint64_t)(ultot ? ultot : dltot);
    if (st->cb(st->arg, done, total)) {
        st->canceled = 1;
        return 1;
    }
    return 0;
}

int sx_stream(stratus_session *s, const char *method, const char *url, const char *path,
              stratus_progress_cb cb, void *arg, const char *accept_ct)
{
    int up = strcmp(method, "PUT") == 0;
    /* the signed URL comes from the server: the same rule as the session's */
    if (!url_allowed(url, strncmp(s->base, "http://", 7) == 0))
        return sx_fail(STRATUS_EPROTO, "refusing signed URL %s (plain HTTP off loopback)", url);
    stream st = {.cb = cb, .arg = arg, .up = up};
    /* A failed download removes only a file it made itself: never one that
     * was there before, and never a device such as /dev/null. */
    struct stat before;
    int created = !up && stat(path, &before) < 0 && errno == ENOENT;
    st.f = fopen(path, up ? "rb" : "wb");
    if (!st.f)
        return sx_fail(STRATUS_EIO, "%s: %s", path, strerror(errno));
    if (up) {
        fseeko(st.f, 0, SEEK_END);
        st.total = (uint64_t)ftello(st.f);
        fseeko(st.f, 0, SEEK_SET);
    }
    CURL *c = curl_easy_init();
    if (!c) {
        fclose(st.f);
        return sx_fail(STRATUS_ENOMEM, NULL);
    }
    st.c = c;
    sx_curl_setup(s, c);
    sx_resp r = {0};
    hdrs h = {.r = &r};
    char err[CURL_ERROR_SIZE] = "";
    struct curl_slist *hl = NULL;
    if (up)
        hl = curl_slist_append(hl, "Content-Type: application/octet-stream");
    if (accept_ct) {
        char line[200];
        snprintf(line, sizeof line, "Accept: %s", accept_ct);
        hl = curl_slist_append(hl, line);
    }
    hl = curl_slist_append(hl, "Expect:");
    char *bearer = NULL;
    size_t bl = strlen(s->base);
    /* our gateway (and not "https://gw.example.evil/" for base "https://gw.example"):
     * authenticate */
    if (strncmp(url, s->base, bl) == 0 && (url[bl] == '/' || url[bl] == '?' || !url[bl])) {
        bearer = sx_bearer(s);
        if (bearer) {
            char line[512];
            snprintf(line, sizeof line, "Authorization: Bearer %s", bearer);
            hl = curl_slist_append(hl, line);
        }
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (up) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_stream_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &st);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.total);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_stream_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &st);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &st);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    CURLcode cc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (cc == CURLE_OK && code > 0) {
        int ok = code >= 200 && code <= 299 && !up; /* the body went to the file */
        trace_reply(s, method, url, code, &r,
                    ok         ? NULL
                    : st.err.p ? st.err.p
                               : "",
                    ok ? 0 : st.err.n);
    }
    int rc = 0;
    if (st.canceled)
        rc = sx_fail(STRATUS_ECANCELED, "transfer canceled by the progress callback");
    else if (cc != CURLE_OK)
        rc = transport_error(cc, err);
    else if (code < 200 || code > 299)
        rc = sx_fail_http(code, st.err.p, st.err.n, r.request_id);
    if (fclose(st.f) != 0 && rc == 0)
        rc = sx_fail(STRATUS_EIO, "%s: %s", path, strerror(errno));
    if (rc < 0 && created)
        unlink(path);
    free(st.err.p);
    free(bearer);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return rc;
}
