/* json.c - validating untrusted JSON objects with messages fit for clients. */
#include "stratus/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *st_json_parse_object(const char *buf, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    if (len == 0) {
        snprintf(err, errlen, "request body is empty; a JSON object is required");
        return NULL;
    }
    /* REJECT_DUPLICATES: {"a":1,"a":2} is ambiguous, so refuse it. */
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        snprintf(err, errlen, "malformed JSON at line %d column %d: %s", je.line, je.column,
                 je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        snprintf(err, errlen, "request body must be a JSON object");
        json_decref(j);
        return NULL;
    }
    return j;
}

int st_json_only_keys(json_t *obj, const char *const *allowed, char *err, size_t errlen)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        int ok = 0;
        for (int i = 0; allowed[i]; i++)
            if (strcmp(allowed[i], k) == 0)
                ok = 1;
        if (!ok) {
            snprintf(err, errlen, "unknown field '%.64s'", k);
            return -1;
        }
    }
    return 0;
}

int st_json_get_str(json_t *obj, const char *key, int required, size_t minlen, size_t maxlen,
                    const char **out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required) {
            snprintf(err, errlen, "field '%s' is required", key);
            return -1;
        }
        return 0;
    }
    size_t n = json_string_length(v);
    if (!json_is_string(v) || n < minlen || n > maxlen || strlen(json_string_value(v)) != n) {
        snprintf(err, errlen, "field '%s' must be a string of %zu to %zu characters", key, minlen,
                 maxlen);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int st_json_get_int(json_t *obj, const char *key, int required, long long min, long long max,
                    long long *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required) {
            snprintf(err, errlen, "field '%s' is required", key);
            return -1;
        }
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        snprintf(err, errlen, "field '%s' must be an integer from %lld to %lld", key, min, max);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

int st_json_get_bool(json_t *obj, const char *key, int required, int *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required) {
            snprintf(err, errlen, "field '%s' is required", key);
            return -1;
        }
        return 0;
    }
    if (!json_is_boolean(v)) {
        snprintf(err, errlen, "field '%s' must be true or false", key);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

const char *st_json_str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

char *st_json_dump_free(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}
