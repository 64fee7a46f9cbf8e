/*
 * jsonr.h - a strict, allocation-free JSON pull reader for the ingest path.
 *
 * Why not jansson (common/json.h)? A batch of 1,000 samples is ~700 KB of
 * JSON; jansson builds a tree of ~40,000 nodes for it and parses ~50 MB/s
 * here, which alone would cap ingest below what PostgreSQL can absorb. This
 * reader walks the text once, in place, and the caller pulls exactly the
 * fields it knows. It accepts only RFC 8259 JSON: UTF-8 checked, control
 * characters and bad escapes refused, numbers in the JSON grammar, nesting
 * bounded (JR_MAX_DEPTH) so hostile input cannot exhaust the stack.
 *
 * Use:
 *   jr r; jr_init(&r, buf, len);
 *   int first = 1; char key[32];
 *   if (jr_obj_begin(&r) < 0) ...
 *   while ((rc = jr_obj_next(&r, &first, key, sizeof key)) > 0) {
 *       if (strcmp(key, "seq") == 0) jr_int64(&r, 0, INT64_MAX, &v); else jr_skip(&r);
 *   }
 *   rc < 0: r.err says what and r.pos where.
 * Every call returns 0 (or 1 for "another member/element follows") on
 * success and -1 on error; after an error every later call fails too.
 */
#ifndef BILLING_JSONR_H
#define BILLING_JSONR_H

#include <stddef.h>
#include <stdint.h>

#define JR_MAX_DEPTH 32

typedef struct jr {
    const char *buf, *p, *end;
    int depth;
    int failed;
    char err[160];
} jr;

void jr_init(jr *r, const char *buf, size_t len);
/* Byte offset of the reader (for error messages). */
size_t jr_pos(const jr *r);
/* Fails unless only whitespace is left. */
int jr_end(jr *r);

int jr_obj_begin(jr *r);
/*
 * Next member of the current object: 1 with its key decoded into key (keys
 * longer than keycap-1 bytes come back as "" so they match nothing) and the
 * ':' consumed; 0 at '}' (consumed); -1 on error.
 */
int jr_obj_next(jr *r, int *first, char *key, size_t keycap);
int jr_arr_begin(jr *r);
/* 1 when an element follows, 0 at ']' (consumed), -1 on error. */
int jr_arr_next(jr *r, int *first);

/* A JSON integer (no fraction or exponent) in [min, max]. */
int jr_int64(jr *r, int64_t min, int64_t max, int64_t *out);
/* A string decoded into out (UTF-8, NUL-terminated); -1 if it needs more than cap-1 bytes. */
int jr_string(jr *r, char *out, size_t cap, size_t *len);
/* 1 when the next value is of that kind (no input consumed). */
int jr_peek_string(jr *r);
int jr_peek_object(jr *r);
int jr_peek_array(jr *r);
/* Skips any one value, checking its syntax. */
int jr_skip(jr *r);
/* Records an error of the caller's (format like printf); returns -1. */
int jr_fail(jr *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
