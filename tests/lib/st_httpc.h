/*
 * st_httpc.h - the tests' face of the one internal HTTP client
 * (common/include/stratus/httpc.h): a call in one line, and every response
 * checked against the OpenAPI document.
 *
 *     st_resp r;
 *     st_http(&r, "POST", url, token, "{\"name\":\"x\"}", NULL);
 *     ST_ASSERT_INT_EQ(r.status, 201);
 *     json_t *id = json_object_get(r.json, "id");
 *     st_resp_free(&r);
 *
 * r.json is the parsed body when it is JSON (else NULL); r.body is always
 * the raw bytes, NUL-terminated. Headers are kept for st_resp_header().
 * A transport failure gives status 0. TLS certificates are not checked
 * (tests' servers use self-signed ones).
 */
#ifndef ST_HTTPC_H
#define ST_HTTPC_H

#include "stratus/httpc.h"

#include <jansson.h>
#include <stddef.h>

typedef st_httpc_resp st_resp;

/* extra_headers: NULL-terminated "Name: value" list, or NULL. token may be NULL.
 * Every response is handed to st_oas_observe() (st_oas.h): when its URL is
 * under a base URL an OpenAPI document watches, a response the document
 * does not allow fails the calling test, at the caller's file and line. */
#define st_http(r, method, url, token, body, extra_headers)                                        \
    st_http_at(__FILE__, __LINE__, r, method, url, token, body, extra_headers)
/* Same with a body of explicit length (binary or oversized). */
#define st_http_n(r, method, url, token, body, body_len, extra_headers)                            \
    st_http_n_at(__FILE__, __LINE__, r, method, url, token, body, body_len, extra_headers)
int st_http_at(const char *file, int line, st_resp *r, const char *method, const char *url,
               const char *token, const char *body, const char *const *extra_headers);
int st_http_n_at(const char *file, int line, st_resp *r, const char *method, const char *url,
                 const char *token, const char *body, size_t body_len,
                 const char *const *extra_headers);
/* Value of a response header (case-insensitive), malloc'd, or NULL. */
#define st_resp_header(r, name) st_httpc_header(r, name)
#define st_resp_free(r) st_httpc_resp_free(r)
/* "code" of a {"error": {"code": ...}} body, or "" */
#define st_resp_error_code(r) st_httpc_err_code(r)
/* Convenience: json_dumps of a json_pack format, malloc'd. */
char *st_jsonf(const char *fmt, ...);

#endif
