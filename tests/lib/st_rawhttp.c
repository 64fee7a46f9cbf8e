/* st_rawhttp.c - raw-socket HTTP clients for hostile-input tests (see the header). */
#include "st_rawhttp.h"
#include "st_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int st_raw_connect(const char *host, int port)
{
    int fd;
    if (host[0] == '/') {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof a.sun_path, "%s", host);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
            close(fd);
            return -1;
        }
        return fd;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void parse(st_raw *r, const char *buf, size_t n)
{
    if (n < 12 || strncmp(buf, "HTTP/1.", 7) != 0)
        return;
    r->status = atoi(buf + 9);
    const char *end = strstr(buf, "\r\n\r\n");
    size_t hl = end ? (size_t)(end - buf) : n;
    r->head = strndup(buf, hl);
    if (end) {
        r->body = strndup(end + 4, n - hl - 4);
        r->json = json_loads(r->body, 0, NULL);
    }
}

void st_raw_read(int fd, int wait_ms, st_raw *r)
{
    double t0 = now();
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        int left = wait_ms - (int)((now() - t0) * 1000);
        if (left <= 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, left) <= 0)
            continue;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        ssize_t k = read(fd, buf + n, cap - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            r->closed = 1;
            break;
        }
        n += (size_t)k;
    }
    r->secs = now() - t0;
    buf[n] = 0;
    parse(r, buf, n);
    free(buf);
}

int st_raw_send(const char *host, int port, const void *data, size_t n, int wait_ms, st_raw *r)
{
    memset(r, 0, sizeof *r);
    int fd = st_raw_connect(host, port);
    if (fd < 0)
        return -1;
    const char *p = data;
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break; /* the server may close early (a huge head); read its reply */
        p += k;
        n -= (size_t)k;
    }
    st_raw_read(fd, wait_ms, r);
    close(fd);
    return 0;
}

const char *st_raw_error_code(const st_raw *r)
{
    const char *c = json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
    return c ? c : "";
}

void st_raw_free(st_raw *r)
{
    free(r->head);
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

static int json_error(const st_raw *r)
{
    return st_raw_error_code(r)[0] != 0;
}

static void one(const char *host, int port, const char *req, size_t n, int *status, int *json)
{
    st_raw r;
    st_raw_send(host, port, req, n, 5000, &r);
    *status = r.status;
    *json = json_error(&r);
    st_raw_free(&r);
}

void st_hostile_listener(const char *host, int port, const char *ok_path, int trickle_s,
                         st_hostile *o)
{
    memset(o, 0, sizeof *o);
    static const char bad_line[] = "NOT HTTP AT ALL\r\n\r\n";
    one(host, port, bad_line, sizeof bad_line - 1, &o->bad_line_status, &o->bad_line_json);
    static const char bad_version[] = "GET / HTTP/7.3\r\nHost: x\r\n\r\n";
    one(host, port, bad_version, sizeof bad_version - 1, &o->bad_version_status,
        &o->bad_version_json);
    size_t big = 100 * 1024;
    char *huge = malloc(big + 64);
    int hl = snprintf(huge, 64, "GET %s HTTP/1.1\r\nHost: x\r\nX-Big: ", ok_path);
    memset(huge + hl, 'a', big);
    memcpy(huge + hl + big, "\r\n\r\n", 4);
    one(host, port, huge, (size_t)hl + big + 4, &o->huge_head_status, &o->huge_head_json);
    free(huge);
    static const char method[] = "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n";
    one(host, port, method, sizeof method - 1, &o->method_status, &o->method_json);

    /* a head that trickles in, one header line every 500 ms: an idle
     * timer never fires, a deadline for the whole head does */
    int fd = st_raw_connect(host, port);
    if (fd >= 0) {
        char line[128];
        snprintf(line, sizeof line, "GET %s HTTP/1.1\r\n", ok_path);
        send(fd, line, strlen(line), MSG_NOSIGNAL);
        double t0 = now();
        st_raw r = {0};
        while (now() - t0 < trickle_s) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, 500) > 0) {
                st_raw_read(fd, 2000, &r);
                break;
            }
            if (send(fd, "X-Slow: 1\r\n", 11, MSG_NOSIGNAL) < 0) {
                r.closed = 1;
                break;
            }
        }
        o->slow_closed = r.closed;
        o->slow_secs = now() - t0;
        o->slow_status = r.status;
        o->slow_json = json_error(&r);
        st_raw_free(&r);
        close(fd);
    }
    char get[256];
    int gl = snprintf(get, sizeof get, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                      ok_path);
    st_raw r;
    st_raw_send(host, port, get, (size_t)gl, 5000, &r);
    o->after_status = r.status;
    st_raw_free(&r);
}

static int in(int v, int lo, int hi)
{
    return v >= lo && v <= hi;
}

static const char *with(int json)
{
    return json ? "with" : "without";
}

void st_assert_hostile(const char *host, int port, const char *ok_path, int deadline_s,
                       const char *file, int line)
{
    char who[160];
    if (host[0] == '/')
        snprintf(who, sizeof who, "%s", host);
    else
        snprintf(who, sizeof who, "%s:%d", host, port);
    st_hostile h;
    st_hostile_listener(host, port, ok_path, 2 * deadline_s + 4, &h);
    st_assert_fmt(h.bad_line_status == 400 && h.bad_line_json, 0, file, line,
                  "%s: a bad request line got %d %s a JSON error, want 400 with one", who,
                  h.bad_line_status, with(h.bad_line_json));
    st_assert_fmt(in(h.bad_version_status, 400, 505) && h.bad_version_json, 0, file, line,
                  "%s: HTTP/7.3 got %d %s a JSON error, want 400..505 with one", who,
                  h.bad_version_status, with(h.bad_version_json));
    int huge = h.huge_head_status;
    st_assert_fmt((huge == 400 || huge == 413 || huge == 431) && h.huge_head_json, 0, file, line,
                  "%s: a 100 KB head got %d %s a JSON error, want 400, 413 or 431 with one", who,
                  huge, with(h.huge_head_json));
    st_assert_fmt(in(h.method_status, 400, 501) && h.method_json, 0, file, line,
                  "%s: an unknown method got %d %s a JSON error, want 400..501 with one", who,
                  h.method_status, with(h.method_json));
    st_assert_fmt(h.slow_closed && h.slow_secs < deadline_s + 3.0 && h.slow_status == 408 &&
                      h.slow_json,
                  0, file, line,
                  "%s: a trickled head got %d %s a JSON error and was %s after %.1f s, want 408 "
                  "with one, closed within %d s",
                  who, h.slow_status, with(h.slow_json), h.slow_closed ? "closed" : "still open",
                  h.slow_secs, deadline_s + 3);
    st_assert_fmt(h.after_status == 200, 0, file, line, "%s: GET %s afterwards got %d, want 200",
                  who, ok_path, h.after_status);
}
