/* jsonw.c - streaming JSON writer (see jsonw.h). */
#include "stratus/jsonw.h"
#include "stratus/timefmt.h"

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

void st_jw_init(st_jw *w) { memset(w, 0, sizeof *w); }

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

void st_jw_obj(st_jw *w) { open_level(w, '{', '}'); }
void st_jw_arr(st_jw *w) { open_level(w, '[', ']'); }

void st_jw_end(st_jw *w)
{
    if (w->depth == 0)
        abort();
    put(w, &w->closer[w->depth], 1);
    w->depth--;
}

static void put_escaped(st_jw *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    reserve(w, strlen(s) + 2);
    put(w, "\"", 1);
    const char *run = s;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x20 && *p != '"' && *p != '\\')
            continue;
        put(w, run, (size_t)((const char *)p - run));
        char esc[7] = {'\\', 0};
        size_t n = 2;
        switch (*p) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 15];
            n = 6;
        }
        put(w, esc, n);
        run = (const char *)p + 1;
    }
    put(w, run, strlen(run));
    put(w, "\"", 1);
}

void st_jw_key(st_jw *w, const char *key)
{
    sep(w);
    put_escaped(w, key);
    put(w, ":", 1);
    w->after_key = 1;
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
    char b[24];
    int n = snprintf(b, sizeof b, "%lld", v);
    sep(w);
    put(w, b, (size_t)n);
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

void st_jw_ktime_pg(st_jw *w, const char *key, const char *pgts)
{
    char t[ST_TIME_LEN];
    st_jw_key(w, key);
    if (pgts && st_time_from_pg(pgts, t) == 0)
        st_jw_str(w, t);
    else
        st_jw_null(w);
}
