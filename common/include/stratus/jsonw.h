/*
 * jsonw.h - a streaming JSON writer for responses built from database rows.
 *
 * jansson builds a tree of allocated nodes and then serialises it; for a list
 * of a hundred rows that is thousands of small allocations per request. This
 * writer appends text straight into one growing buffer, keeping just enough
 * state (a comma flag per nesting level) to place separators:
 *
 *     st_jw w;
 *     st_jw_init(&w);
 *     st_jw_obj(&w);
 *     st_jw_key(&w, "instances");
 *     st_jw_arr(&w);
 *     ... st_jw_obj(&w); st_jw_kstr(&w, "id", id); st_jw_end(&w); ...
 *     st_jw_end(&w);
 *     st_jw_end(&w);
 *     send w.buf, w.len; st_jw_free(&w);
 *
 * Strings are escaped per RFC 8259 and must be valid UTF-8 (text from
 * PostgreSQL is); NULL strings are written as null.
 */
#ifndef STRATUS_JSONW_H
#define STRATUS_JSONW_H

#include <stddef.h>

#define ST_JW_DEPTH 32

typedef struct st_jw {
    char *buf;
    size_t len, cap;
    int depth;
    unsigned char need_comma[ST_JW_DEPTH];
    char closer[ST_JW_DEPTH]; /* '}' or ']' for each open level */
    int after_key;
} st_jw;

void st_jw_init(st_jw *w);
void st_jw_free(st_jw *w);
void st_jw_obj(st_jw *w);
void st_jw_arr(st_jw *w);
void st_jw_end(st_jw *w);
void st_jw_key(st_jw *w, const char *key);
void st_jw_str(st_jw *w, const char *s);            /* NULL -> null */
void st_jw_strn(st_jw *w, const char *s, size_t n); /* n bytes, may hold NUL (escaped) */
/* n bytes the caller knows need no escaping (hex, digits, RFC 3339): copied. */
void st_jw_str_plain(st_jw *w, const char *s, size_t n);
void st_jw_raw(st_jw *w, const char *json); /* already-valid JSON text; NULL -> null */
void st_jw_int(st_jw *w, long long v);
void st_jw_bool(st_jw *w, int v);
void st_jw_null(st_jw *w);
/* key + value in one call */
void st_jw_kstr(st_jw *w, const char *key, const char *s);
void st_jw_kint(st_jw *w, const char *key, long long v);
void st_jw_kbool(st_jw *w, const char *key, int v);
/* A PostgreSQL UTC timestamp ("2026-11-24 08:01:37.12+00") as RFC 3339,
 * or null. */
void st_jw_ktime_pg(st_jw *w, const char *key, const char *pgts);
/* A time in microseconds since the Unix epoch as RFC 3339 (seconds). */
void st_jw_ktime(st_jw *w, const char *key, long long us);

#endif
