/*
 * json.h - validating untrusted JSON (jansson) with clear messages.
 *
 * Every getter returns 0 on success, or -1 with a message in err that can go
 * straight to a client ("field 'name' must be a string of 1 to 64
 * characters"). A missing optional field leaves *out untouched and succeeds.
 */
#ifndef STRATUS_JSON_H
#define STRATUS_JSON_H

#include <jansson.h>
#include <stddef.h>

#define ST_JSON_REQUIRED 1
#define ST_JSON_OPTIONAL 0

/* Parses buf as one JSON object (nesting limited by jansson). */
json_t *st_json_parse_object(const char *buf, size_t len, char *err, size_t errlen);
/* Rejects keys not in allowed (NULL-terminated). */
int st_json_only_keys(json_t *obj, const char *const *allowed, char *err, size_t errlen);
int st_json_get_str(json_t *obj, const char *key, int required, size_t minlen, size_t maxlen,
                    const char **out, char *err, size_t errlen);
int st_json_get_int(json_t *obj, const char *key, int required, long long min, long long max,
                    long long *out, char *err, size_t errlen);
int st_json_get_bool(json_t *obj, const char *key, int required, int *out, char *err,
                     size_t errlen);
/* The string at key, or NULL (no validation). */
const char *st_json_str(json_t *obj, const char *key);
/* Serialises and frees j; returns malloc'd text. */
char *st_json_dump_free(json_t *j);

#endif
