/*
 * error.c - libstratus's one error space: the stratus_err codes, their
 * names and text, and the calling thread's last error (a thread-local, as
 * libvirt's virGetLastError, so that threads sharing a session never see
 * each other's failures).
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local stratus_error last;

static const struct {
    int code;
    const char *name, *text;
} errs[] = {
    {STRATUS_OK, "OK", "success"},
    {STRATUS_EINVAL, "EINVAL", "invalid argument"},
    {STRATUS_ENOMEM, "ENOMEM", "out of memory"},
    {STRATUS_ETRANSPORT, "ETRANSPORT", "could not reach the gateway"},
    {STRATUS_ETLS, "ETLS", "TLS failure (certificate not verified)"},
    {STRATUS_ETIMEDOUT, "ETIMEDOUT", "timed out"},
    {STRATUS_EPROTO, "EPROTO", "malformed reply from the server"},
    {STRATUS_EBADREQ, "EBADREQ", "request refused as invalid"},
    {STRATUS_EAUTH, "EAUTH", "not authenticated"},
    {STRATUS_EPERM, "EPERM", "permission denied"},
    {STRATUS_ENOTFOUND, "ENOTFOUND", "not found"},
    {STRATUS_ECONFLICT, "ECONFLICT", "conflict with the object's state"},
    {STRATUS_EREJECTED, "EREJECTED", "request cannot be carried out (quota, capacity)"},
    {STRATUS_ERATELIMIT, "ERATELIMIT", "too many requests"},
    {STRATUS_EUNAVAIL, "EUNAVAIL", "service unavailable"},
    {STRATUS_ESERVER, "ESERVER", "server error"},
    {STRATUS_EIO, "EIO", "local I/O error"},
    {STRATUS_EFAILED, "EFAILED", "the object failed"},
    {STRATUS_ECANCELED, "ECANCELED", "canceled"},
};

const char *stratus_strerror(int code)
{
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
        if (errs[i].code == code)
            return errs[i].text;
    return "unknown error";
}

const char *stratus_err_name(int code)
{
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
        if (errs[i].code == code)
            return errs[i].name;
    return "EUNKNOWN";
}

const stratus_error *stratus_last_error(void)
{
    return &last;
}

void sx_clear_error(void)
{
    memset(&last, 0, sizeof last);
}

int sx_fail(int code, const char *fmt, ...)
{
    sx_clear_error();
    last.code = code;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(last.message, sizeof last.message, fmt, ap);
        va_end(ap);
    } else {
        snprintf(last.message, sizeof last.message, "%s", stratus_strerror(code));
    }
    return code;
}

static int code_for_status(long st)
{
    switch (st) {
    case 400: return STRATUS_EBADREQ;
    case 401: return STRATUS_EAUTH;
    case 403: return STRATUS_EPERM;
    case 404:
    case 410: return STRATUS_ENOTFOUND;
    case 405: return STRATUS_EBADREQ;
    case 409: return STRATUS_ECONFLICT;
    case 422: return STRATUS_EREJECTED;
    case 429: return STRATUS_ERATELIMIT;
    case 502:
    case 503:
    case 504: return STRATUS_EUNAVAIL;
    default:
        /* 413, 415, ...: the request's fault; 1xx-3xx here: not the API's */
        return st >= 500 ? STRATUS_ESERVER : st >= 400 ? STRATUS_EBADREQ : STRATUS_EPROTO;
    }
}

int sx_fail_http(long status, const char *body, size_t len, const char *request_id)
{
    int code = code_for_status(status);
    sx_fail(code, "HTTP %ld: %s", status, stratus_strerror(code));
    last.http_status = status;
    snprintf(last.request_id, sizeof last.request_id, "%s", request_id ? request_id : "");
    if (!body || !len)
        return code;
    /* The server's {"error":{"code","message"}}, when it is one. */
    json_t *j = json_loadb(body, len, 0, NULL);
    json_t *e = json_object_get(j, "error");
    const char *sc = json_string_value(json_object_get(e, "code"));
    const char *sm = json_string_value(json_object_get(e, "message"));
    if (sc)
        snprintf(last.server_code, sizeof last.server_code, "%s", sc);
    /* A quota refusal is one code whatever status carries it (the gateway
     * answers 409 quota_exceeded), not a state conflict. */
    if (sc && !strcmp(sc, "quota_exceeded"))
        last.code = code = STRATUS_EREJECTED;
    if (sm)
        snprintf(last.message, sizeof last.message, "%s", sm);
    json_decref(j);
    return code;
}

void sx_set_request_id(const char *rid)
{
    snprintf(last.request_id, sizeof last.request_id, "%s", rid ? rid : "");
}
