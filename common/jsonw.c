/* jsonw.c - streaming JSON writer (see jsonw.h). */
#include "stratus/jsonw.h"
#include "stratus/timefmt.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reserve(st_jw *w, size_t more)
{
    if (w->len + more + 1 <= w->cap)
        return;
    size_t nc = w->cap ? w->cap : 1024;
    while (nc < w->len + more + 1)
        nc *= 2;
    char *nb = realloc(w->buf, nc);
    if (!nb)
        abort();
    w->buf = nb;
    w->cap = nc;
}

static void put(st_jw *w, const char *s, size_t n)
{
    reserve(w, n);
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = 0;
}

/* Before any value: a comma if a sibling came first (none after a key). */
static void sep(st_jw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->need_comma[w->depth])
        put(w, ",", 1);
    w->need_comma[w->depth] = 1;
}

void st_jw_init(st_jw *w)
{
    memset(w, 0, sizeof *w);
}

void st_jw_free(st_jw *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

static void open_level(st_jw *w, char open, char close)
{
    sep(w);
    put(w, &open, 1);
    if (w->depth >= ST_JW_DEPTH - 1)
        abort(); /* a programming error: responses are shallow */
    w->depth++;
    w->need_comma[w->depth] = 0;
    w->closer[w->depth] = close;
}

void st_jw_obj(st_jw *w)
{
    open_level(w, '{', '}');
}
void st_jw_arr(st_jw *w)
{
    open_level(w, '[', ']');
}

void st_jw_end(st_jw *w)
{
    if (w->depth == 0)
        abort();
    put(w, &w->closer[w->depth], 1);
    w->depth--;
}

/* Bytes that need escaping in a JSON string: '"', '\\' and controls. */
static inline int needs_escape(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

static void put_escaped_n(st_jw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    /* worst case: every byte becomes \u00XX */
    reserve(w, 6 * n + 2);
    char *o = w->buf + w->len;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        /* copy the longest run that needs no escaping in one go */
        size_t run = i;
        while (run < n && !needs_escape((unsigned char)s[run]))
            run++;
        memcpy(o, s + i, run - i);
        o += run - i;
        if (run == n)
            break;
        unsigned char c = (unsigned char)s[run];
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default:
            memcpy(o, "u00", 3);
            o[3] = hex[c >> 4];
            o[4] = hex[c & 15];
            o += 5;
        }
        i = run + 1;
    }
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = 0;
}

static void put_escaped(st_jw *w, const char *s)
{
    put_escaped_n(w, s, strlen(s));
}

/* Keys are the program's own literals: plain ASCII that never needs
 * escaping (asserted), so they are copied as they are. */
void st_jw_key(st_jw *w, const char *key)
{
    size_t n = strlen(key);
    sep(w);
    reserve(w, n + 3);
    char *o = w->buf + w->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        assert(!needs_escape((unsigned char)key[i]));
        o[i] = key[i];
    }
    o += n;
    *o++ = '"';
    *o++ = ':';
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = 0;
    w->after_key = 1;
}

void st_jw_str_plain(st_jw *w, const char *s, size_t n)
{
    sep(w);
    reserve(w, n + 2);
    char *o = w->buf + w->len;
    *o++ = '"';
    memcpy(o, s, n);
    o += n;
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = 0;
}

void st_jw_str(st_jw *w, const char *s)
{
    if (!s) {
        st_jw_null(w);
        return;
    }
    sep(w);
    put_escaped(w, s);
}

void st_jw_strn(st_jw *w, const char *s, size_t n)
{
    sep(w);
    put_escaped_n(w, s, n);
}

void st_jw_raw(st_jw *w, const char *json)
{
    if (!json) {
        st_jw_null(w);
        return;
    }
    sep(w);
    put(w, json, strlen(json));
}

void st_jw_int(st_jw *w, long long v)
{
    char b[24], *e = b + sizeof b, *p = e;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    sep(w);
    put(w, p, (size_t)(e - p));
}

void st_jw_bool(st_jw *w, int v)
{
    sep(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void st_jw_null(st_jw *w)
{
    sep(w);
    put(w, "null", 4);
}

void st_jw_kstr(st_jw *w, const char *key, const char *s)
{
    st_jw_key(w, key);
    st_jw_str(w, s);
}

void st_jw_kint(st_jw *w, const char *key, long long v)
{
    st_jw_key(w, key);
    st_jw_int(w, v);
}

void st_jw_kbool(st_jw *w, const char *key, int v)
{
    st_jw_key(w, key);
    st_jw_bool(w, v);
}

void st_jw_ktime(st_jw *w, const char *key, long long us)
{
    char t[ST_TIME_LEN];
    st_jw_key(w, key);
    st_jw_str_plain(w, t, st_time_format_fast(us, t));
}

void st_jw_ktime_pg(st_jw *w, const char *key, const char *pgts)
{
    char t[ST_TIME_LEN];
    st_jw_key(w, key);
    if (pgts && st_time_from_pg(pgts, t) == 0)
        st_jw_str(w, t);
    else
        st_jw_null(w);
}
