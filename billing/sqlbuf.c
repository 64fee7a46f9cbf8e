/*
 * sqlbuf.c - growable buffers and PostgreSQL array literals (sqlbuf.h).
 *
 * Allocation failure aborts: these buffers hold at most a few MB for the
 * largest batch, and a service that cannot get that is better restarted.
 */
#include "sqlbuf.h"

#include "stratus/timefmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void sb_init(sb *b)
{
    memset(b, 0, sizeof *b);
}

void sb_free(sb *b)
{
    free(b->p);
    sb_init(b);
}

void sb_reset(sb *b)
{
    b->n = 0;
    b->count = 0;
    if (b->p)
        b->p[0] = 0;
}

static void grow(sb *b, size_t more)
{
    if (b->n + more + 1 <= b->cap)
        return;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < b->n + more + 1)
        ncap *= 2;
    char *np = realloc(b->p, ncap);
    if (!np)
        abort();
    b->p = np;
    b->cap = ncap;
}

void sb_putn(sb *b, const char *s, size_t n)
{
    grow(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void sb_puts(sb *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

void sb_printf(sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    grow(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

const char *sb_str(sb *b)
{
    if (!b->p)
        grow(b, 0), b->p[0] = 0;
    return b->p;
}

void sb_arr_open(sb *b)
{
    b->count = 0;
    sb_putn(b, "{", 1);
}

void sb_arr_close(sb *b)
{
    sb_putn(b, "}", 1);
}

static void sep(sb *b)
{
    if (b->count++)
        sb_putn(b, ",", 1);
}

void sb_arr_i64(sb *b, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    sep(b);
    sb_putn(b, tmp, (size_t)n);
}

void sb_arr_raw(sb *b, const char *s)
{
    sep(b);
    sb_puts(b, s);
}

void sb_arr_text(sb *b, const char *s)
{
    sep(b);
    grow(b, strlen(s) * 2 + 2);
    b->p[b->n++] = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            b->p[b->n++] = '\\';
        b->p[b->n++] = *s;
    }
    b->p[b->n++] = '"';
    b->p[b->n] = 0;
}

void sb_arr_time(sb *b, int64_t us)
{
    char t[ST_TIME_LEN];
    st_time_format_us(us, t);
    sb_arr_raw(b, t);
}

void sb_arr_date(sb *b, int64_t us)
{
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char d[16];
    snprintf(d, sizeof d, "%04u-%02u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u);
    sb_arr_raw(b, d);
}
