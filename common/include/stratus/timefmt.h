/* timefmt.h - clocks and RFC 3339 UTC times. */
#ifndef STRATUS_TIMEFMT_H
#define STRATUS_TIMEFMT_H

#include <stdint.h>

#define ST_TIME_LEN 32

/* Microseconds since the Unix epoch (wall clock). */
int64_t st_now_us(void);
/* Microseconds on the monotonic clock. */
int64_t st_mono_us(void);
/* "2026-11-24T08:01:37Z" */
void st_time_format(int64_t us, char out[ST_TIME_LEN]);
/* The same as st_time_format, without libc's locale-aware machinery (for
 * hot paths); returns the length (20). */
int st_time_format_fast(int64_t us, char out[ST_TIME_LEN]);
/* "2026-11-24T08:01:37.123456Z" */
void st_time_format_us(int64_t us, char out[ST_TIME_LEN]);
/* Accepts RFC 3339 with 'Z' or a numeric offset and an optional fraction. */
int st_time_parse(const char *s, int64_t *us);
/*
 * PostgreSQL's ISO output in UTC ("2026-11-24 08:01:37.12+00", what the db
 * layer's sessions print) to RFC 3339 ("2026-11-24T08:01:37Z"); fractions
 * are dropped. Returns 0, or -1 when s is not in that form.
 */
int st_time_from_pg(const char *s, char out[ST_TIME_LEN]);

#endif
