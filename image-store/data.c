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
 * This file accepts and hands each connection to a thread running conn.c.
 * Requests are parsed by httpparse.c (strict, fuzzed). Routes:
 *   PUT  /v1/images/{id}/file    upload.c
 *   GET  /v1/images/{id}/file    download.c (HEAD too)
 *   OPTIONS /v1/images/{id}/file CORS preflight (conn.c): browsers on another
 *                                origin (the web dashboard) may PUT and GET
 *                                with a signed URL; every reply allows any
 *                                origin, since no browser credential counts
 *   GET  /healthz
 * Connections are kept alive between requests when the body was consumed
 * and neither side asked to close. With tls.cert and tls.key (the same as
 * the API's) the listener speaks HTTPS (OpenSSL on the blocking socket,
 * TLS 1.2+); plain HTTP is only allowed on loopback unless
 * http.allow_insecure.
 */
#include "data_int.h"
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

typedef struct conn_arg {
    img_data *d;
    int fd;
    char peer[64];
} conn_arg;

static void *conn_main(void *arg)
{
    conn_arg *a = arg;
    img_data *d = a->d;
    if (d->ssl) {
        SSL *ssl = SSL_new(d->ssl);
        if (ssl && SSL_set_fd(ssl, a->fd) == 1 && SSL_accept(ssl) == 1) {
            img_conn_run(d, a->fd, ssl, a->peer);
            SSL_shutdown(ssl);
        }
        SSL_free(ssl);
        ERR_clear_error();
    } else {
        img_conn_run(d, a->fd, NULL, a->peer);
    }
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
    static const char m[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
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
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *ai = NULL;
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
        snprintf(err, errlen,
                 "refusing plain HTTP on non-loopback data.listen '%s' (set "
                 "http.allow_insecure for a trusted network)",
                 spec);
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
    st_gauge_fn("stratus_images_transfers_active", "Connections open on the data listener.", "",
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
