/*
 * conn.c - one connection of the data listener: reading request heads,
 * streaming bodies (Content-Length or chunked, "Expect: 100-continue"),
 * writing replies, over a plain or TLS socket, request after request while
 * the connection may be kept alive. upload.c and download.c see it through
 * the img_conn_* calls of images.h. Every socket call blocks with the
 * listener's timeout, so a stalled client costs one thread for at most
 * http.timeout seconds.
 */
#include "data_int.h"
#include "stratus/log.h"
#include "stratus/metrics.h"
#include "stratus/timefmt.h"
#include "stratus/uuid.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- Socket I/O ---- */

static ssize_t sock_read(img_conn *c, void *buf, size_t n)
{
    if (c->ssl) {
        int k = SSL_read(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
        if (k > 0)
            return k;
        int e = SSL_get_error(c->ssl, k);
        return e == SSL_ERROR_ZERO_RETURN ? 0 : e == SSL_ERROR_SYSCALL && errno ? -errno : -EIO;
    }
    for (;;) {
        ssize_t k = recv(c->fd, buf, n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        return k < 0 ? -errno : k;
    }
}

ssize_t img_conn_write(img_conn *c, const void *buf, size_t n)
{
    const char *p = buf;
    size_t left = n;
    while (left) {
        ssize_t k;
        if (c->ssl) {
            int w = SSL_write(c->ssl, p, left > INT32_MAX ? INT32_MAX : (int)left);
            if (w <= 0) {
                c->close_after = 1;
                return -EPIPE;
            }
            k = w;
        } else {
            k = send(c->fd, p, left, MSG_NOSIGNAL);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                c->close_after = 1;
                return k < 0 ? -errno : -EPIPE;
            }
        }
        p += k;
        left -= (size_t)k;
    }
    c->sent += n;
    return (ssize_t)n;
}

/* ---- Bodies ---- */

static ssize_t take_stage(img_conn *c, void *buf, size_t n)
{
    size_t k = c->stage_len < n ? c->stage_len : n;
    memcpy(buf, c->stage + c->stage_off, k);
    c->stage_off += k;
    c->stage_len -= k;
    return (ssize_t)k;
}

ssize_t img_conn_body(img_conn *c, void *buf, size_t n)
{
    if (c->body_done)
        return 0;
    if (c->body_error)
        return -EPROTO;
    if (img_conn_continue(c) < 0)
        return -EPIPE;
    if (c->body_left >= 0) { /* Content-Length */
        if (c->body_left == 0) {
            c->body_done = 1;
            return 0;
        }
        if ((int64_t)n > c->body_left)
            n = (size_t)c->body_left;
        ssize_t k = c->stage_len ? take_stage(c, buf, n) : sock_read(c, buf, n);
        if (k <= 0) {
            c->body_error = 1;
            c->close_after = 1;
            return k < 0 ? k : -ECONNRESET;
        }
        c->body_left -= k;
        return k;
    }
    /* Chunked: decode from the staging buffer, refilling it from the socket. */
    for (;;) {
        if (c->stage_len == 0) {
            c->stage_off = 0;
            ssize_t k = sock_read(c, c->stage, STAGE);
            if (k <= 0) {
                c->body_error = 1;
                c->close_after = 1;
                return k < 0 ? k : -ECONNRESET;
            }
            c->stage_len = (size_t)k;
        }
        size_t used, dlen;
        const uint8_t *data;
        int rc =
            img_chunked_feed(&c->ch, c->stage + c->stage_off, c->stage_len, n, &used, &data, &dlen);
        if (rc < 0) {
            c->body_error = 1;
            c->close_after = 1;
            return -EPROTO;
        }
        if (dlen)
            memcpy(buf, data, dlen);
        c->stage_off += used;
        c->stage_len -= used;
        if (rc == 1)
            c->body_done = 1;
        if (dlen)
            return (ssize_t)dlen;
        if (rc == 1)
            return 0;
    }
}

int img_conn_continue(img_conn *c)
{
    if (!c->want_continue)
        return 0;
    c->want_continue = 0;
    static const char m[] = "HTTP/1.1 100 Continue\r\n\r\n";
    return img_conn_write(c, m, sizeof m - 1) < 0 ? -1 : 0;
}

/* Reads and throws away the rest of a small body so the connection can be reused. */
static void drain_body(img_conn *c)
{
    if (c->body_done || c->body_error || c->want_continue) {
        if (c->want_continue && !(c->body_left == 0)) /* never read: cannot reuse */
            c->close_after = 1;
        return;
    }
    if (c->body_left > 65536 || c->body_left < 0) {
        c->close_after = 1;
        return;
    }
    char tmp[4096];
    while (img_conn_body(c, tmp, sizeof tmp) > 0)
        ;
    if (!c->body_done)
        c->close_after = 1;
}

/* ---- Replies ---- */

static const char *reason(int st)
{
    switch (st) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
    }
}

int img_conn_send_head(img_conn *c, int status, const char *ctype, int64_t length,
                       const char *extra)
{
    char h[2048];
    /* A reply before the body was read ends the exchange (the body is unread). */
    if (c->want_continue || (!c->body_done && c->body_left != 0))
        c->close_after = 1;
    int n = snprintf(h, sizeof h,
                     "HTTP/1.1 %d %s\r\nServer: stratus\r\nX-Request-Id: %s\r\n"
                     "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
                     "Access-Control-Allow-Origin: *\r\n"
                     "Access-Control-Expose-Headers: X-Request-Id, ETag\r\n"
                     "%s%s%s%s",
                     status, reason(status), c->reqid, ctype ? "Content-Type: " : "",
                     ctype ? ctype : "", ctype ? "\r\n" : "", extra ? extra : "");
    if (length >= 0)
        n += snprintf(h + n, sizeof h - (size_t)n, "Content-Length: %lld\r\n", (long long)length);
    n += snprintf(h + n, sizeof h - (size_t)n, "Connection: %s\r\n\r\n",
                  c->close_after || !c->h.keep_alive ? "close" : "keep-alive");
    c->replied = 1;
    c->status = status;
    c->want_continue = 0;
    uint64_t before = c->sent;
    int rc = img_conn_write(c, h, (size_t)n) < 0 ? -1 : 0;
    c->sent = before; /* count body bytes only */
    return rc;
}

void img_conn_reply(img_conn *c, int status, const char *ctype, const char *body, size_t len,
                    const char *extra)
{
    if (img_conn_send_head(c, status, ctype, (int64_t)len, extra) == 0 && len &&
        strcmp(c->h.method, "HEAD") != 0)
        img_conn_write(c, body, len);
}

void img_conn_error(img_conn *c, int status, st_err code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *j = json_pack("{s:{s:s, s:s?}}", "error", "code", st_err_name(code), "message", msg);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    const char *b = text ? text : "{\"error\":{\"code\":\"internal\",\"message\":\"\"}}";
    img_conn_reply(c, status, "application/json", b, strlen(b),
                   status == 401 ? "WWW-Authenticate: Bearer\r\n" : NULL);
    free(text);
}

void img_conn_close_after(img_conn *c)
{
    c->close_after = 1;
}

const char *img_conn_reqid(const img_conn *c)
{
    return c->reqid;
}

const char *img_conn_peer(const img_conn *c)
{
    return c->peer;
}

/* ---- Requests ---- */

static int reqid_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || strchr("-_.", s[i])))
            return 0;
    return 1;
}

/* "/v1/images/<uuid>/file" -> the uuid in id; 0, or -1 when the path is another. */
static int match_file_path(const char *path, char id[40])
{
    static const char pre[] = "/v1/images/", post[] = "/file";
    size_t pl = sizeof pre - 1, n = strlen(path);
    if (n != pl + 36 + sizeof post - 1 || strncmp(path, pre, pl) != 0 ||
        strcmp(path + pl + 36, post) != 0)
        return -1;
    memcpy(id, path + pl, 36);
    id[36] = 0;
    return st_uuid_valid(id) ? 0 : -1;
}

static void dispatch(img_conn *c)
{
    img_svc *s = c->d->s;
    char id[40];
    const char *m = c->h.method;
    if (strcmp(c->h.path, "/healthz") == 0 && strcmp(m, "GET") == 0) {
        static const char ok[] = "{\"status\":\"ok\"}";
        img_conn_reply(c, 200, "application/json", ok, sizeof ok - 1, NULL);
        return;
    }
    if (match_file_path(c->h.path, id) < 0) {
        img_conn_error(c, 404, ST_E_NOT_FOUND, "no such resource");
        return;
    }
    if (strcmp(m, "OPTIONS") == 0) {
        /* A browser's CORS preflight before it PUTs to a signed URL from
         * another origin (the web dashboard's upload). Nothing is granted
         * here: the signature (or the internal token) is still checked on
         * the request itself, and no browser credential is ever allowed. */
        img_conn_reply(c, 204, NULL, NULL, 0,
                       "Access-Control-Allow-Methods: GET, HEAD, PUT\r\n"
                       "Access-Control-Allow-Headers: Content-Type\r\n"
                       "Access-Control-Max-Age: 600\r\n");
        return;
    }
    if (strcmp(m, "PUT") == 0)
        img_upload(s, c, &c->h, id);
    else if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
        img_download(s, c, &c->h, id, m[0] == 'H');
    else
        img_conn_error(c, 405, ST_E_METHOD_NOT_ALLOWED,
                       "%s is not allowed here; use GET, HEAD, PUT", m);
}

static void log_request(img_conn *c, int64_t t0)
{
    st_metric_add(img_metric_bytes_sent(), (double)c->sent);
    char labels[64];
    snprintf(labels, sizeof labels, "method=\"%s\",code=\"%d\"", c->h.method, c->status);
    st_metric_add(
        st_counter("stratus_images_data_requests_total", "Requests on the data listener.", labels),
        1);
    double ms = (double)(st_mono_us() - t0) / 1000.0;
    /* The query (a signed URL's signature) is never logged. */
    st_log_fields(ST_LOG_INFO, "http.request",
                  json_pack("{s:s, s:s, s:i, s:f, s:I, s:s, s:s, s:s}", "method", c->h.method,
                            "path", c->h.path, "status", c->status, "ms", ms, "bytes",
                            (json_int_t)c->sent, "request_id", c->reqid, "peer", c->peer,
                            "listener", "data"));
}

/* Reads one request head into c->head; 1 got one, 0 clean end of
 * connection, -1 error. Bytes after the head stay staged for the body. */
static int read_head(img_conn *c)
{
    /* Once a head has started it must be complete within the timeout (not just
     * each read): a client trickling a byte at a time does not hold a thread. */
    int64_t started = c->stage_len ? st_mono_us() : 0;
    for (;;) {
        size_t scan = c->stage_len < IMG_HEAD_MAX ? c->stage_len : IMG_HEAD_MAX;
        size_t end = img_head_end((const char *)c->stage + c->stage_off, scan);
        if (end) {
            memcpy(c->head, c->stage + c->stage_off, end);
            c->head[end] = 0;
            c->hused = end;
            c->stage_off += end;
            c->stage_len -= end;
            return 1;
        }
        if (c->stage_len >= IMG_HEAD_MAX) {
            c->close_after = 1;
            snprintf(c->h.method, sizeof c->h.method, "?");
            c->h.path = "?";
            st_uuid_v4(c->reqid);
            img_conn_error(c, 431, ST_E_INVALID_REQUEST, "request head larger than %d bytes",
                           IMG_HEAD_MAX);
            return -1;
        }
        if (started && st_mono_us() - started > (int64_t)c->d->timeout_s * 1000000) {
            c->close_after = 1;
            st_uuid_v4(c->reqid);
            img_conn_error(c, 408, ST_E_TIMEOUT, "the request head took too long");
            return -1;
        }
        if (c->stage_off) { /* keep the partial head at the start of the buffer */
            memmove(c->stage, c->stage + c->stage_off, c->stage_len);
            c->stage_off = 0;
        }
        ssize_t k = sock_read(c, c->stage + c->stage_len, STAGE - c->stage_len);
        if (k <= 0)
            return -(c->stage_len != 0);
        c->stage_len += (size_t)k;
        if (!started)
            started = st_mono_us();
    }
}

static void serve(img_conn *c)
{
    for (;;) {
        memset(&c->h, 0, sizeof c->h);
        snprintf(c->h.method, sizeof c->h.method, "?");
        c->h.path = "?";
        c->replied = 0;
        c->status = 0;
        c->sent = 0;
        c->body_left = 0;
        c->body_done = 0;
        c->body_error = 0;
        c->want_continue = 0;
        memset(&c->ch, 0, sizeof c->ch);
        int rc = read_head(c);
        if (rc <= 0)
            return;
        int64_t t0 = st_mono_us();
        int status;
        const char *msg;
        if (img_head_parse(c->head, c->hused, &c->h, &status, &msg) < 0) {
            snprintf(c->h.method, sizeof c->h.method, "?");
            c->h.path = "?";
            c->h.keep_alive = 0;
            c->close_after = 1;
            st_uuid_v4(c->reqid);
            img_conn_error(c, status, ST_E_INVALID_REQUEST, "%s", msg);
            log_request(c, t0);
            return;
        }
        const char *rid = img_head_get(&c->h, "X-Request-Id");
        if (rid && reqid_ok(rid))
            snprintf(c->reqid, sizeof c->reqid, "%s", rid);
        else
            st_uuid_v4(c->reqid);
        c->body_left = c->h.chunked ? -1 : c->h.content_length < 0 ? 0 : c->h.content_length;
        c->want_continue = c->h.expect_continue && (c->h.chunked || c->body_left > 0);
        if (!c->h.keep_alive)
            c->close_after = 1;
        dispatch(c);
        if (!c->replied)
            img_conn_error(c, 500, ST_E_INTERNAL, "internal error");
        drain_body(c);
        log_request(c, t0);
        if (c->close_after || c->d->stopping)
            return;
    }
}

void img_conn_run(img_data *d, int fd, SSL *ssl, const char *peer)
{
    img_conn *c = calloc(1, sizeof *c);
    if (c)
        c->stage = malloc(STAGE);
    if (c && c->stage) {
        c->d = d;
        c->fd = fd;
        c->ssl = ssl;
        snprintf(c->peer, sizeof c->peer, "%s", peer);
        serve(c);
    }
    if (c)
        free(c->stage);
    free(c);
}
