/*
 * errcode.h - the error codes every Stratus service answers with, defined
 * once (like libuv's uv_err_name).
 *
 * A client reads error.code in {"error":{"code","message"}} to decide what
 * to do; the message is for people. Every writer of that body takes an
 * st_err (common/http.c, httpguard.c, the VMM's control API, the image
 * store's data listener), so a code outside this table cannot be sent, and
 * the gateway's openapi.json lists exactly these names (openapi_gen.py
 * reads this file; gateway_openapi fails when they drift).
 *
 * ST_ERRCODES(X) calls X(NAME, "name", status, "meaning") once per code:
 *   NAME     the enum name's suffix (ST_E_<NAME>)
 *   name     what goes on the wire; never renamed once shipped
 *   status   the HTTP status it usually goes with (a writer may pick another
 *            where the table says so, e.g. too_large as 422 for a range)
 *   meaning  one line, also the description in openapi.json
 */
#ifndef STRATUS_ERRCODE_H
#define STRATUS_ERRCODE_H

#define ST_ERRCODES(X)                                                                             \
    X(INVALID_REQUEST, "invalid_request", 400,                                                     \
      "the request is malformed: its path, query, headers or a body field")                        \
    X(INVALID_JSON, "invalid_json", 400, "the body is not a JSON object")                          \
    X(UNAUTHORIZED, "unauthorized", 401, "no valid credential was presented")                      \
    X(FORBIDDEN, "forbidden", 403, "the credential is valid but may not do this")                  \
    X(EXPIRED, "expired", 403, "the signed URL has expired; ask for a new one")                    \
    X(NOT_FOUND, "not_found", 404, "no such resource, or not the caller's")                        \
    X(METHOD_NOT_ALLOWED, "method_not_allowed", 405, "the path exists; the method does not")       \
    X(TIMEOUT, "timeout", 408, "the request did not arrive in time")                               \
    X(CONFLICT, "conflict", 409, "the resource's state or a unique name refuses the change")       \
    X(QUOTA_EXCEEDED, "quota_exceeded", 409, "the tenant's quota does not allow it")               \
    X(STALE_REPORT, "stale_report", 409, "a node reported an older state than the one recorded")   \
    X(ALREADY_ISSUED, "already_issued", 409, "the invoice or month is already issued")             \
    X(EMPTY_MONTH, "empty_month", 409, "the month has nothing to issue")                           \
    X(LENGTH_REQUIRED, "length_required", 411, "an upload needs a length or chunked encoding")     \
    X(PAYLOAD_TOO_LARGE, "payload_too_large", 413, "the request head or body is too large")        \
    X(TOO_LARGE, "too_large", 413, "a body, upload or requested range is over its limit")          \
    X(UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415, "the body must be application/json")  \
    X(EXPECTATION_FAILED, "expectation_failed", 417, "the Expect header is not supported")         \
    X(INVALID, "invalid", 422, "the request is well formed but its values do not fit together")    \
    X(INVALID_BATCH, "invalid_batch", 422, "a metering batch is well formed JSON but invalid")     \
    X(INVALID_IMAGE, "invalid_image", 400, "the uploaded bytes are not an image of its format")    \
    X(CHECKSUM_MISMATCH, "checksum_mismatch", 400, "the uploaded bytes do not match the checksum") \
    X(IDEMPOTENCY_KEY_REUSED, "idempotency_key_reused", 422,                                       \
      "the Idempotency-Key was used for a different request")                                      \
    X(START_FAILED, "start_failed", 400, "the VMM could not start the VM from its configuration")  \
    X(RATE_LIMITED, "rate_limited", 429, "too many attempts; retry after Retry-After")             \
    X(INTERNAL, "internal", 500, "a server error; the message names the request id")               \
    X(NOT_IMPLEMENTED, "not_implemented", 501, "the HTTP method is not implemented")               \
    X(UNAVAILABLE, "unavailable", 503, "the database, a backend or capacity is unavailable; retry")

typedef enum st_err {
#define ST_ERR_ENUM_(n, name, status, meaning) ST_E_##n,
    ST_ERRCODES(ST_ERR_ENUM_)
#undef ST_ERR_ENUM_
        ST_E__COUNT
} st_err;

/* "invalid_request" for ST_E_INVALID_REQUEST; "internal" for a value outside the table. */
const char *st_err_name(st_err e);
/* The HTTP status the code usually goes with (500 outside the table). */
int st_err_status(st_err e);
/* The one-line meaning. */
const char *st_err_meaning(st_err e);

#endif
