/* netaddr.c - IP ranges and the client behind trusted proxies (netaddr.h). */
#include "stratus/netaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int st_ip_parse(const char *s, size_t len, int *family, uint8_t addr[16])
{
    char buf[64];
    while (len && isspace((unsigned char)*s))
        s++, len--;
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *p = buf;
    if (*p == '[') { /* [v6] or [v6]:port */
        char *close = strchr(p, ']');
        if (!close || (close[1] && (close[1] != ':' || !close[2])))
            return -1;
        *close = 0;
        p++;
    } else if (strchr(p, ':') && strchr(p, ':') == strrchr(p, ':') && strchr(p, '.')) {
        *strchr(p, ':') = 0; /* v4:port */
    }
    uint8_t a6[16];
    if (inet_pton(AF_INET, p, addr) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, p, a6) != 1)
        return -1;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a6, mapped, sizeof mapped) == 0) {
        *family = AF_INET;
        memcpy(addr, a6 + 12, 4);
    } else {
        *family = AF_INET6;
        memcpy(addr, a6, 16);
    }
    return 0;
}

int st_cidr_parse_list(const char *list, st_cidr **out, char *err, size_t errlen)
{
    *out = NULL;
    int n = 0, cap = 0;
    const char *p = list ? list : "";
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *slash = memchr(p, '/', len);
        size_t alen = slash ? (size_t)(slash - p) : len;
        st_cidr c = {0};
        int blank = 1;
        for (size_t i = 0; i < len; i++)
            blank &= isspace((unsigned char)p[i]) != 0;
        if (!blank) {
            if (st_ip_parse(p, alen, &c.family, c.addr) < 0) {
                snprintf(err, errlen, "not an IP address or range: '%.*s'", (int)len, p);
                free(*out);
                *out = NULL;
                return -1;
            }
            int max = c.family == AF_INET ? 32 : 128;
            c.bits = max;
            if (slash) {
                char *e;
                char num[8] = "";
                size_t nl = len - alen - 1;
                if (nl < sizeof num)
                    memcpy(num, slash + 1, nl), num[nl] = 0;
                long b = strtol(num, &e, 10);
                while (isspace((unsigned char)*e))
                    e++;
                if (!num[0] || *e || b < 0 || b > max) {
                    snprintf(err, errlen, "bad prefix length in '%.*s'", (int)len, p);
                    free(*out);
                    *out = NULL;
                    return -1;
                }
                c.bits = (int)b;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 4;
                st_cidr *g = realloc(*out, sizeof **out * (size_t)cap);
                if (!g) {
                    snprintf(err, errlen, "out of memory");
                    free(*out);
                    *out = NULL;
                    return -1;
                }
                *out = g;
            }
            (*out)[n++] = c;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return n;
}

static int in_range(const st_cidr *c, int family, const uint8_t *a)
{
    if (c->family != family)
        return 0;
    int full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, a, (size_t)full) != 0)
        return 0;
    if (rest) {
        uint8_t mask = (uint8_t)(0xff << (8 - rest));
        return (c->addr[full] & mask) == (a[full] & mask);
    }
    return 1;
}

static int trusted_addr(const st_cidr *r, int n, int family, const uint8_t *a)
{
    for (int i = 0; i < n; i++)
        if (in_range(&r[i], family, a))
            return 1;
    return 0;
}

int st_cidr_match(const st_cidr *ranges, int n, const char *ip)
{
    int family;
    uint8_t a[16];
    return ip && st_ip_parse(ip, strlen(ip), &family, a) == 0 && trusted_addr(ranges, n, family, a);
}

static void format(int family, const uint8_t *a, char *out, size_t outlen)
{
    char t[INET6_ADDRSTRLEN];
    if (!inet_ntop(family, a, t, sizeof t))
        t[0] = 0;
    snprintf(out, outlen, "%s", t);
}

void st_client_address(const st_cidr *trusted, int n, const char *peer, const char *xff, char *out,
                       size_t outlen)
{
    int family;
    uint8_t a[16];
    if (!peer || st_ip_parse(peer, strlen(peer), &family, a) < 0) {
        snprintf(out, outlen, "%s", peer ? peer : "");
        return;
    }
    /* the walk's current answer: the nearest hop known to be real */
    int cf = family;
    uint8_t ca[16];
    memcpy(ca, a, sizeof ca);
    if (xff && trusted_addr(trusted, n, family, a)) {
        size_t end = strlen(xff);
        for (;;) {
            size_t start = end;
            while (start > 0 && xff[start - 1] != ',')
                start--;
            if (st_ip_parse(xff + start, end - start, &family, a) < 0)
                break; /* malformed: keep the last good hop */
            cf = family;
            memcpy(ca, a, sizeof ca);
            if (!trusted_addr(trusted, n, family, a) || start == 0)
                break;
            end = start - 1; /* past the comma */
        }
    }
    format(cf, ca, out, outlen);
}
