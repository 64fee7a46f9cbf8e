/*
 * data.c - the data listener: image bytes in and out over HTTP/1.1.
 *
 * Why not common/http: libevent 2.1's evhttp reads a whole request body into
 * memory before it calls a handler, so a multi-GiB upload would sit in RAM.
 * Transfers are few, long and bound by disk and SHA-256, so this listener
 * is deliberately simple: blocking sockets and one thread per connection
 * (at most data.max_connections; more are told 503), with read and write
 * timeouts against stalled clients. A transfer thread reads the body
 * straight into its upload buffer (Content-Length) or through a small
 * staging buffer and the chunked decoder, hashes and writes it; a download
 * thread reads the blob, hashes and sends. Memory per transfer is a few MiB
 * whatever the image size.
 *
 * Requests are parsed by httpparse.c (strict, fuzzed). Routes:
 *   PUT  /v1/images/{id}/file    upload.c
 *   GET  /v1/images/{id}/file    download.c (HEAD too)
 *   GET  /healthz
 * Connections are kept alive between requests when the body was consumed
 * and neither side asked to close. With tls.cert and tls.key (the same as
 * the API's) the listener speaks HTTPS (OpenSSL on the blocking socket,
 * TLS 1.2+); plain HTTP is only allowed on loopback unless
 * http.allow_insecure.
 */
#include "images.h"
#include "stratus/log.h"
#include "stratus/metrics.h"
#include "stratus/timefmt.h"
#include "stratus/uuid.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_CONNS_CAP 1024
#define STAGE 262144

struct img_data {
    img_svc *s;
    int lfd;
    int port;
    int wake[2];
    pthread_t th;
    int timeout_s;
    int max_conns;
    pthread_mutex_t mu;
    pthread_cond_t idle;
    int active;
    int fds[MAX_CONNS_CAP];
    volatile int stopping;
    SSL_CTX *ssl;
};

struct img_conn {
    img_data *d;
    int fd;
    SSL *ssl;
    char head[IMG_HEAD_MAX + 1]; /* the current request's head, parsed in place */
    size_t hused;
    uint8_t *stage;     /* bytes read from the socket and not consumed yet */
    size_t stage_off, stage_len;
    img_head h;
    int64_t body_left;  /* Content-Length bytes not yet read; -1 chunked */
    img_chunked ch;
    int body_done;
    int body_error;
    int close_after;
    int replied;
    int want_continue;
    int status;
    uint64_t sent;
    char reqid[65];
    char peer[64];
};

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
        int rc = img_chunked_feed(&c->ch, c->stage + c->stage_off, c->stage_len, n, &used,
                                  &data, &dlen);
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

void img_conn_error(img_conn *c, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *j = json_pack("{s:{s:s, s:s?}}", "error", "code", code, "message", msg);
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
        img_conn_error(c, 404, "not_found", "no such resource");
        return;
    }
    if (strcmp(m, "PUT") == 0)
        img_upload(s, c, &c->h, id);
    else if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
        img_download(s, c, &c->h, id, m[0] == 'H');
    else
        img_conn_error(c, 405, "method_not_allowed", "%s is not allowed here; use GET, HEAD, PUT",
                       m);
}

static void log_request(img_conn *c, int64_t t0)
{
    static st_metric *bytes_out;
    if (!bytes_out)
        bytes_out = st_counter("images_data_bytes_sent_total", "Body bytes sent on the data listener.", "");
    st_metric_add(bytes_out, (double)c->sent);
    char labels[64];
    snprintf(labels, sizeof labels, "method=\"%s\",code=\"%d\"", c->h.method, c->status);
    st_metric_add(st_counter("images_data_requests_total", "Requests on the data listener.",
                             labels), 1);
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
            img_conn_error(c, 431, "bad_request", "request head larger than %d bytes",
                           IMG_HEAD_MAX);
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
            img_conn_error(c, status, "bad_request", "%s", msg);
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
            img_conn_error(c, 500, "internal", "internal error");
        drain_body(c);
        log_request(c, t0);
        if (c->close_after || c->d->stopping)
            return;
    }
}

typedef struct conn_arg {
    img_data *d;
    int fd;
    char peer[64];
} conn_arg;

static void *conn_main(void *arg)
{
    conn_arg *a = arg;
    img_data *d = a->d;
    img_conn *c = calloc(1, sizeof *c);
    if (c)
        c->stage = malloc(STAGE);
    if (c && c->stage) {
        c->d = d;
        c->fd = a->fd;
        snprintf(c->peer, sizeof c->peer, "%s", a->peer);
        if (d->ssl) {
            c->ssl = SSL_new(d->ssl);
            if (c->ssl && SSL_set_fd(c->ssl, c->fd) == 1 && SSL_accept(c->ssl) == 1) {
                serve(c);
                SSL_shutdown(c->ssl);
            }
            SSL_free(c->ssl);
            ERR_clear_error();
        } else {
            serve(c);
        }
    }
    if (c)
        free(c->stage);
    free(c);
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < MAX_CONNS_CAP; i++)
        if (d->fds[i] == a->fd)
            d->fds[i] = -1;
    close(a->fd);
    d->active--;
    pthread_cond_broadcast(&d->idle);
    pthread_mutex_unlock(&d->mu);
    free(a);
    return NULL;
}

static void refuse_busy(int fd)
{
    static const char m[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                            "Connection: close\r\nContent-Length: 80\r\n\r\n"
                            "{\"error\":{\"code\":\"unavailable\",\"message\":\"too many transfers; retry\"}}";
    ssize_t k = send(fd, m, sizeof m - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)k;
    close(fd);
}

static void *accept_main(void *arg)
{
    img_data *d = arg;
    struct pollfd p[2] = {{.fd = d->lfd, .events = POLLIN}, {.fd = d->wake[0], .events = POLLIN}};
    while (!d->stopping) {
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (d->stopping || p[1].revents)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(d->lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        struct timeval tv = {d->timeout_s, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        conn_arg *a = calloc(1, sizeof *a);
        if (!a) {
            close(fd);
            continue;
        }
        a->d = d;
        a->fd = fd;
        char host[64] = "";
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, NULL, 0, NI_NUMERICHOST);
        snprintf(a->peer, sizeof a->peer, "%s", host);
        pthread_mutex_lock(&d->mu);
        int slot = -1;
        if (d->active < d->max_conns)
            for (int i = 0; i < MAX_CONNS_CAP && slot < 0; i++)
                if (d->fds[i] < 0)
                    slot = i;
        if (slot < 0) {
            pthread_mutex_unlock(&d->mu);
            refuse_busy(fd);
            free(a);
            continue;
        }
        d->fds[slot] = fd;
        d->active++;
        pthread_mutex_unlock(&d->mu);
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &at, conn_main, a) != 0) {
            pthread_mutex_lock(&d->mu);
            d->fds[slot] = -1;
            d->active--;
            pthread_mutex_unlock(&d->mu);
            close(fd);
            free(a);
        }
        pthread_attr_destroy(&at);
    }
    return NULL;
}

static double active_gauge(void *arg)
{
    img_data *d = arg;
    pthread_mutex_lock(&d->mu);
    int n = d->active;
    pthread_mutex_unlock(&d->mu);
    return n;
}

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return 0;
}

img_data *img_data_start(img_svc *s, char *err, size_t errlen)
{
    const char *spec = st_config_str(s->cfg, "data.listen");
    char host[256], port[16];
    const char *colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= sizeof host || strlen(colon + 1) >= sizeof port) {
        snprintf(err, errlen, "data.listen '%s' needs host:port", spec);
        return NULL;
    }
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = 0;
    snprintf(port, sizeof port, "%s", colon + 1);
    char *hp = host;
    size_t hl = strlen(hp);
    if (hp[0] == '[' && hl > 2 && hp[hl - 1] == ']') {
        hp[hl - 1] = 0;
        hp++;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE}, *ai = NULL;
    int gai = getaddrinfo(*hp ? hp : NULL, port, &hints, &ai);
    if (gai) {
        snprintf(err, errlen, "data.listen '%s': %s", spec, gai_strerror(gai));
        return NULL;
    }
    const char *cert = st_config_str(s->cfg, "tls.cert"), *key = st_config_str(s->cfg, "tls.key");
    SSL_CTX *ssl = NULL;
    if (*cert || *key) {
        ssl = SSL_CTX_new(TLS_server_method());
        if (!ssl || !*cert || !*key) {
            snprintf(err, errlen, "TLS needs both tls.cert and tls.key");
            SSL_CTX_free(ssl);
            freeaddrinfo(ai);
            return NULL;
        }
        SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
        SSL_CTX_set_options(ssl, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
        if (SSL_CTX_use_certificate_chain_file(ssl, cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ssl, key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ssl) != 1) {
            char e[256];
            ERR_error_string_n(ERR_get_error(), e, sizeof e);
            snprintf(err, errlen, "TLS certificate/key (%s, %s): %s", cert, key, e);
            SSL_CTX_free(ssl);
            freeaddrinfo(ai);
            return NULL;
        }
    }
    if (!ssl && !is_loopback(ai->ai_addr) && !st_config_bool(s->cfg, "http.allow_insecure")) {
        snprintf(err, errlen, "refusing plain HTTP on non-loopback data.listen '%s' (set "
                              "http.allow_insecure for a trusted network)", spec);
        freeaddrinfo(ai);
        return NULL;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
        snprintf(err, errlen, "data.listen '%s': %s", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        SSL_CTX_free(ssl);
        freeaddrinfo(ai);
        return NULL;
    }
    freeaddrinfo(ai);
    img_data *d = calloc(1, sizeof *d);
    d->s = s;
    d->lfd = fd;
    d->ssl = ssl;
    d->timeout_s = (int)st_config_int(s->cfg, "http.timeout");
    if (d->timeout_s < 1)
        d->timeout_s = 30;
    d->max_conns = (int)st_config_int(s->cfg, "data.max_connections");
    if (d->max_conns < 1 || d->max_conns > MAX_CONNS_CAP)
        d->max_conns = 64;
    for (int i = 0; i < MAX_CONNS_CAP; i++)
        d->fds[i] = -1;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->idle, NULL);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    d->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                            : ((struct sockaddr_in6 *)&ss)->sin6_port);
    if (pipe2(d->wake, O_CLOEXEC) < 0 || pthread_create(&d->th, NULL, accept_main, d) != 0) {
        snprintf(err, errlen, "cannot start the data listener");
        close(fd);
        free(d);
        return NULL;
    }
    st_gauge_fn("images_transfers_active", "Connections open on the data listener.", "",
                active_gauge, d);
    st_info("images.data_listen", "data listener on %s (port %d, %s)", spec, d->port,
            ssl ? "https" : "http");
    return d;
}

int img_data_port(const img_data *d)
{
    return d->port;
}

void img_data_stop(img_data *d)
{
    if (!d)
        return;
    d->stopping = 1;
    ssize_t k = write(d->wake[1], "x", 1);
    (void)k;
    pthread_join(d->th, NULL);
    close(d->lfd);
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < MAX_CONNS_CAP; i++) /* wake threads blocked in recv/send */
        if (d->fds[i] >= 0)
            shutdown(d->fds[i], SHUT_RDWR);
    while (d->active > 0)
        pthread_cond_wait(&d->idle, &d->mu);
    pthread_mutex_unlock(&d->mu);
    close(d->wake[0]);
    close(d->wake[1]);
    SSL_CTX_free(d->ssl);
    d->ssl = NULL;
    /* d stays allocated: the metrics gauge still points at it until exit. */
}
