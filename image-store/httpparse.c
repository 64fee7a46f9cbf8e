/*
 * httpparse.c - parsing HTTP/1.1 request heads and chunked bodies from
 * untrusted bytes (see httpparse.h for what is refused and why).
 *
 * The head parser works in place over a buffer that holds the complete
 * head: it cuts the request line and every header line at their CRLF with
 * NULs and points into the buffer, so nothing is copied or allocated and no
 * pointer can leave the buffer. The chunked decoder is a byte-at-a-time
 * state machine for the framing and hands chunk data back as spans of the
 * caller's buffer, so the body is never copied by the decoder either.
 */
#include "httpparse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

size_t img_head_end(const char *buf, size_t len)
{
    for (size_t i = 3; i < len; i++)
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r')
            return i + 1;
    return 0;
}

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

#define FAIL(st, m)                                                                                \
    do {                                                                                           \
        *status = (st);                                                                            \
        *msg = (m);                                                                                \
        return -1;                                                                                 \
    } while (0)

static int parse_length(const char *v, int64_t *out)
{
    if (!*v)
        return -1;
    int64_t n = 0;
    for (; *v; v++) {
        if (*v < '0' || *v > '9' || n > (INT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (*v - '0');
    }
    *out = n;
    return 0;
}

int img_head_parse(char *buf, size_t len, img_head *h, int *status, const char **msg)
{
    memset(h, 0, sizeof *h);
    h->content_length = -1;
    if (len < 4 || buf[len - 1] != '\n' || buf[len - 2] != '\r')
        FAIL(400, "incomplete request head");
    /* Cut every line at its CRLF; a bare CR or LF elsewhere is an error. */
    char *lines[IMG_HEADERS_MAX + 2];
    int nl = 0;
    char *start = buf;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\r') {
            if (i + 1 >= len || buf[i + 1] != '\n')
                FAIL(400, "bare CR in request head");
            buf[i] = 0;
            buf[i + 1] = 0;
            if (start == buf + i) /* the blank line: end of head */
                break;
            if (nl == IMG_HEADERS_MAX + 1)
                FAIL(431, "too many header fields");
            lines[nl++] = start;
            start = buf + i + 2;
            i++;
        } else if (buf[i] == '\n' || buf[i] == 0) {
            FAIL(400, "bare LF or NUL in request head");
        }
    }
    if (nl == 0)
        FAIL(400, "empty request");

    /* Request line: METHOD SP target SP HTTP/1.x */
    char *rl = lines[0], *sp1 = strchr(rl, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || strchr(sp2 + 1, ' '))
        FAIL(400, "malformed request line");
    size_t ml = (size_t)(sp1 - rl);
    if (ml == 0 || ml >= sizeof h->method)
        FAIL(501, "method not implemented");
    for (size_t i = 0; i < ml; i++)
        if (rl[i] < 'A' || rl[i] > 'Z')
            FAIL(400, "malformed method");
    memcpy(h->method, rl, ml);
    *sp1 = 0;
    *sp2 = 0;
    const char *ver = sp2 + 1;
    if (strncmp(ver, "HTTP/1.", 7) != 0 || (ver[7] != '0' && ver[7] != '1') || ver[8])
        FAIL(505, "HTTP version not supported (HTTP/1.0 or HTTP/1.1)");
    h->minor = ver[7] - '0';
    char *target = sp1 + 1;
    if (target[0] != '/')
        FAIL(400, "request target must be an absolute path");
    for (char *p = target; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            FAIL(400, "invalid character in request target");
    char *q = strchr(target, '?');
    if (q) {
        *q = 0;
        h->query = q + 1;
    } else {
        h->query = "";
    }
    h->path = target;

    /* Header fields. */
    int have_te = 0, conn_close = 0, conn_keep = 0;
    for (int i = 1; i < nl; i++) {
        char *line = lines[i], *colon = strchr(line, ':');
        if (line[0] == ' ' || line[0] == '\t')
            FAIL(400, "obsolete line folding is not allowed");
        if (!colon || colon == line)
            FAIL(400, "malformed header field");
        for (char *p = line; p < colon; p++)
            if (!is_tchar((unsigned char)*p))
                FAIL(400, "invalid header field name");
        *colon = 0;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        char *e = v + strlen(v);
        while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = 0;
        for (char *p = v; *p; p++)
            if (((unsigned char)*p < 0x20 && *p != '\t') || (unsigned char)*p == 0x7f)
                FAIL(400, "invalid character in header field value");
        h->h[h->nh].name = line;
        h->h[h->nh].value = v;
        h->nh++;
        if (strcasecmp(line, "Content-Length") == 0) {
            int64_t n;
            if (h->content_length >= 0)
                FAIL(400, "more than one Content-Length");
            if (parse_length(v, &n) < 0)
                FAIL(400, "invalid Content-Length");
            h->content_length = n;
        } else if (strcasecmp(line, "Transfer-Encoding") == 0) {
            if (have_te++)
                FAIL(400, "more than one Transfer-Encoding");
            if (strcasecmp(v, "chunked") != 0)
                FAIL(501, "only the chunked transfer coding is implemented");
            h->chunked = 1;
        } else if (strcasecmp(line, "Connection") == 0) {
            if (strcasestr(v, "close"))
                conn_close = 1;
            if (strcasestr(v, "keep-alive"))
                conn_keep = 1;
        } else if (strcasecmp(line, "Expect") == 0) {
            if (strcasecmp(v, "100-continue") != 0)
                FAIL(417, "only Expect: 100-continue is understood");
            h->expect_continue = 1;
        }
    }
    if (h->chunked && h->content_length >= 0)
        FAIL(400, "both Content-Length and Transfer-Encoding");
    if (h->chunked && h->minor == 0)
        FAIL(400, "chunked transfer coding in an HTTP/1.0 request");
    h->keep_alive = h->minor == 1 ? !conn_close : conn_keep && !conn_close;
    return 0;
}

const char *img_head_get(const img_head *h, const char *name)
{
    for (int i = 0; i < h->nh; i++)
        if (strcasecmp(h->h[i].name, name) == 0)
            return h->h[i].value;
    return NULL;
}

int img_query_get(const char *query, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t seg = amp ? (size_t)(amp - p) : strlen(p);
        if (seg > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t vl = seg - nl - 1;
            if (vl >= outlen)
                return -1;
            memcpy(out, p + nl + 1, vl);
            out[vl] = 0;
            return 0;
        }
        p = amp ? amp + 1 : NULL;
    }
    return -1;
}

/* ---- Range ---- */

int img_range_parse(const char *v, uint64_t size, uint64_t *a, uint64_t *b)
{
    if (!v || strncmp(v, "bytes=", 6) != 0 || strchr(v, ','))
        return 0;
    const char *p = v + 6;
    char *end;
    if (*p == '-') { /* suffix: the last n bytes */
        if (p[1] < '0' || p[1] > '9')
            return 0;
        errno = 0;
        uint64_t n = strtoull(p + 1, &end, 10);
        if (*end || errno)
            return 0;
        if (n == 0 || size == 0)
            return -1;
        *a = n >= size ? 0 : size - n;
        *b = size - 1;
        return 1;
    }
    if (*p < '0' || *p > '9')
        return 0;
    errno = 0;
    uint64_t x = strtoull(p, &end, 10);
    if (errno || *end != '-')
        return 0;
    p = end + 1;
    uint64_t y = UINT64_MAX;
    if (*p) {
        if (*p < '0' || *p > '9')
            return 0;
        y = strtoull(p, &end, 10);
        if (*end || errno || y < x)
            return 0;
    }
    if (x >= size)
        return -1;
    *a = x;
    *b = y >= size ? size - 1 : y;
    return 1;
}

/* ---- Chunked ---- */

enum {
    C_SIZE,
    C_EXT,
    C_SIZE_LF,
    C_DATA,
    C_DATA_CR,
    C_DATA_LF,
    C_TR_START,
    C_TR_LINE,
    C_TR_LF,
    C_END_LF,
    C_DONE
};

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int img_chunked_feed(img_chunked *c, const uint8_t *in, size_t n, size_t max, size_t *used,
                     const uint8_t **data, size_t *dlen)
{
    size_t i = 0;
    *data = NULL;
    *dlen = 0;
    while (i < n) {
        uint8_t b = in[i];
        switch (c->state) {
        case C_SIZE: {
            int v = hexval(b);
            if (v >= 0) {
                if (c->digits == 15) /* 2^60 bytes is plenty */
                    goto bad;
                c->remaining = c->remaining << 4 | (uint64_t)v;
                c->digits++;
                i++;
                break;
            }
            if (c->digits == 0)
                goto bad;
            if (b == ';' || b == ' ' || b == '\t') {
                c->state = C_EXT;
            } else if (b == '\r') {
                c->state = C_SIZE_LF;
            } else {
                goto bad;
            }
            i++;
            break;
        }
        case C_EXT:
            if (b == '\r')
                c->state = C_SIZE_LF;
            else if (b == '\n' || ++c->side > 4096)
                goto bad;
            i++;
            break;
        case C_SIZE_LF:
            if (b != '\n')
                goto bad;
            i++;
            c->digits = 0;
            c->state = c->remaining ? C_DATA : C_TR_START;
            if (c->state == C_DATA) {
                *used = i;
                return 0; /* data next: let the caller take it */
            }
            break;
        case C_DATA: {
            size_t k = n - i < c->remaining ? n - i : (size_t)c->remaining;
            if (k > max)
                k = max;
            *data = in + i;
            *dlen = k;
            c->remaining -= k;
            i += k;
            if (!c->remaining)
                c->state = C_DATA_CR;
            *used = i;
            return 0;
        }
        case C_DATA_CR:
            if (b != '\r')
                goto bad;
            c->state = C_DATA_LF;
            i++;
            break;
        case C_DATA_LF:
            if (b != '\n')
                goto bad;
            c->state = C_SIZE;
            i++;
            break;
        case C_TR_START:
            if (b == '\r') {
                c->state = C_END_LF;
            } else {
                c->state = C_TR_LINE;
                if (++c->side > 8192)
                    goto bad;
            }
            i++;
            break;
        case C_TR_LINE:
            if (b == '\r')
                c->state = C_TR_LF;
            else if (b == '\n' || ++c->side > 8192)
                goto bad;
            i++;
            break;
        case C_TR_LF:
            if (b != '\n')
                goto bad;
            c->state = C_TR_START;
            i++;
            break;
        case C_END_LF:
            if (b != '\n')
                goto bad;
            c->state = C_DONE;
            i++;
            *used = i;
            return 1;
        case C_DONE: *used = i; return 1;
        default: goto bad;
        }
    }
    *used = i;
    return c->state == C_DONE ? 1 : 0;
bad:
    *used = i;
    return -1;
}
