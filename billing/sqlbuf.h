/*
 * sqlbuf.h - growable text buffers, used to build PostgreSQL array literals
 * ("{a,b,c}") that travel as ONE statement parameter.
 *
 * Batches are written with `INSERT ... SELECT FROM unnest($1::uuid[], ...)`:
 * still a parameterised, prepared statement (values never touch the SQL
 * text), but one round trip per batch instead of one per row. Elements are
 * either values we formatted ourselves (numbers, UUIDs, times) or text
 * that sb_arr_text() quotes and escapes for the array syntax.
 */
#ifndef BILLING_SQLBUF_H
#define BILLING_SQLBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct sb {
    char *p;
    size_t n, cap;
    int count; /* elements added since sb_arr_open */
} sb;

void sb_init(sb *b);
void sb_free(sb *b);
void sb_reset(sb *b);
void sb_putn(sb *b, const char *s, size_t n);
void sb_puts(sb *b, const char *s);
__attribute__((format(printf, 2, 3))) void sb_printf(sb *b, const char *fmt, ...);
/* NUL-terminated contents ("" when empty). */
const char *sb_str(sb *b);

/* Array literals: sb_arr_open(), elements, sb_arr_close(). */
void sb_arr_open(sb *b);
void sb_arr_close(sb *b);
void sb_arr_i64(sb *b, int64_t v);
/* A bare element: a UUID, a date, a time (must not need quoting). */
void sb_arr_raw(sb *b, const char *s);
/* Any text, quoted and escaped. */
void sb_arr_text(sb *b, const char *s);
/* An RFC 3339 time with microseconds. */
void sb_arr_time(sb *b, int64_t us);
/* A date "YYYY-MM-DD". */
void sb_arr_date(sb *b, int64_t us);

#endif
