/* The tests' calls through the one internal HTTP client: see st_httpc.h. */
#include "st_httpc.h"
#include "st_oas.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int st_http_n_at(const char *file, int line, st_resp *r, const char *method, const char *url,
                 const char *token, const char *body, size_t body_len,
                 const char *const *extra_headers)
{
    st_httpc_req q = {.method = method,
                      .url = url,
                      .bearer = token,
                      .headers = extra_headers,
                      .body = body,
                      .body_len = body_len,
                      .timeout_ms = 60000,
                      .max_body = (size_t)1 << 30, /* tests move whole images */
                      .insecure = 1,
                      .fresh = 1}; /* each call on a new connection, as hostile tests expect */
    char err[512];
    if (st_httpc(&q, r, err, sizeof err) == 0) {
        fprintf(stderr, "%s:%d: %s\n", file, line, err);
        return -1;
    }
    st_httpc_json(r);
    char *ct = st_resp_header(r, "Content-Type");
    st_oas_observe(method, url, r->status, ct, r->body, r->len, file, line);
    free(ct);
    return 0;
}

int st_http_at(const char *file, int line, st_resp *r, const char *method, const char *url,
               const char *token, const char *body, const char *const *extra_headers)
{
    return st_http_n_at(file, line, r, method, url, token, body, body ? strlen(body) : 0,
                        extra_headers);
}

char *st_jsonf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_error_t err;
    json_t *j = json_vpack_ex(&err, 0, fmt, ap);
    va_end(ap);
    if (!j) {
        fprintf(stderr, "st_jsonf: %s\n", err.text);
        abort();
    }
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}
