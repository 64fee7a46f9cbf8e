/*
 * upstream.c - calling backend services (images, billing) for a tenant.
 *
 * The gateway authenticates as itself with the shared service token and
 * states the principal in X-Stratus-* headers (common/internal.h); the
 * backend enforces its own rules on that principal. Calls go through the
 * one internal client (common's httpc.h): blocking, on the worker thread
 * that serves the tenant's request, the same model as database calls
 * (common/README.md, "Threading model", says why that is not the event
 * loop's problem), with the worker's connections to the backend reused. A
 * backend that cannot be reached is a 503 to the tenant, never a hang:
 * connect and total timeouts are short.
 */
#include "gateway.h"
#include "stratus/httpc.h"
#include "stratus/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UPSTREAM_MAX_BODY (8 << 20)

/* Response headers passed back to the tenant; everything else (the
 * backend's Server, its request id) stays behind the gateway. */
static const char *const passed_back[] = {
    "Content-Type", "Content-Disposition", "ETag", "Last-Modified",
    "Location",     "Retry-After",         NULL};

/* The call; r must be freed whatever it returns (-1: not answered). */
static long call(gw_ctx *c, const gw_upstream *u, const char *method, const char *path,
                 const char *body, size_t len, st_httpc_resp *r, int forward_client_headers)
{
    memset(r, 0, sizeof *r);
    if (!u->base || !*u->base)
        return -1;
    char url[2048], hv[6][320];
    snprintf(url, sizeof url, "%s%s", u->base, path);
    const char *hl[9];
    int n = 0;
    if (c->p.tenant_id[0]) {
        snprintf(hv[0], sizeof hv[0], "X-Stratus-Tenant: %s", c->p.tenant_id);
        hl[n++] = hv[0];
    }
    if (c->p.user_id[0]) {
        snprintf(hv[1], sizeof hv[1], "X-Stratus-User: %s", c->p.user_id);
        hl[n++] = hv[1];
    }
    if (c->p.role[0]) {
        snprintf(hv[2], sizeof hv[2], "X-Stratus-Role: %s", c->p.role);
        hl[n++] = hv[2];
    }
    hl[n++] = c->p.cloud_admin ? "X-Stratus-Cloud-Admin: true" : "X-Stratus-Cloud-Admin: false";
    snprintf(hv[3], sizeof hv[3], "X-Request-Id: %s", gw_request_id(c));
    hl[n++] = hv[3];
    if (forward_client_headers) {
        /* content negotiation and conditional requests are the tenant's */
        const char *acc = st_http_header(c->req, "Accept");
        const char *inm = st_http_header(c->req, "If-None-Match");
        if (acc && strlen(acc) < 256 && !strpbrk(acc, "\r\n")) {
            snprintf(hv[4], sizeof hv[4], "Accept: %s", acc);
            hl[n++] = hv[4];
        }
        if (inm && strlen(inm) < 256 && !strpbrk(inm, "\r\n")) {
            snprintf(hv[5], sizeof hv[5], "If-None-Match: %s", inm);
            hl[n++] = hv[5];
        }
    }
    hl[n] = NULL;
    st_httpc_req q = {.method = method,
                      .url = url,
                      .bearer = u->token,
                      .headers = hl,
                      .body = body,
                      .body_len = len,
                      .timeout_ms = u->timeout_ms,
                      .connect_timeout_ms = 2000,
                      .max_body = UPSTREAM_MAX_BODY,
                      .ca_file = u->ca_file};
    char err[512];
    long status = st_httpc(&q, r, err, sizeof err);
    if (!status) {
        st_log_fields(ST_LOG_ERROR, "upstream.error",
                      json_pack("{s:s, s:s, s:s, s:s}", "service", u->name, "url", url, "error",
                                err, "request_id", gw_request_id(c)));
        return -1;
    }
    return status;
}

long gw_upstream_call(gw_ctx *c, const gw_upstream *u, const char *method, const char *path,
                      const char *body, size_t len, char **out, size_t *outlen)
{
    st_httpc_resp r;
    long status = call(c, u, method, path, body, len, &r, 0);
    if (out && status > 0) {
        *out = r.body;
        *outlen = r.len;
        r.body = NULL; /* the caller's now */
    }
    st_httpc_resp_free(&r);
    return status;
}

void gw_proxy(gw_ctx *c, const gw_upstream *u, const char *method, const char *path, int body)
{
    size_t len = 0;
    const char *b = body ? st_http_body(c->req, &len) : NULL;
    st_httpc_resp r;
    long status = call(c, u, method, path, b, len, &r, 1);
    if (status < 0) {
        st_httpc_resp_free(&r);
        st_http_add_header(c->req, "Retry-After", "2");
        st_http_reply_error(c->req, 503, ST_E_UNAVAILABLE, "the %s service is unavailable; retry",
                            u->name);
        return;
    }
    for (int i = 1; passed_back[i]; i++) { /* Content-Type goes with the body below */
        char *v = st_httpc_header(&r, passed_back[i]);
        if (v && *v)
            st_http_add_header(c->req, passed_back[i], v);
        free(v);
    }
    /* A tenant that already has this exact document gets 304, whether or not
     * the backend implements conditional requests. */
    const char *inm = st_http_header(c->req, "If-None-Match");
    if (status == 200 && !strcmp(method, "GET") && inm && r.etag[0] && !strcmp(inm, r.etag)) {
        st_httpc_resp_free(&r);
        st_http_reply_raw(c->req, 304, NULL, "", 0);
        return;
    }
    char *ct = st_httpc_header(&r, "Content-Type");
    st_http_reply_raw(c->req, (int)status, ct && *ct ? ct : NULL, r.body, r.len);
    free(ct);
    st_httpc_resp_free(&r);
}

json_t *gw_upstream_json(gw_ctx *c, const gw_upstream *u, const char *method, const char *path,
                         long *status)
{
    st_httpc_resp r;
    *status = call(c, u, method, path, NULL, 0, &r, 0);
    json_t *j = *status > 0 ? json_incref(st_httpc_json(&r)) : NULL;
    st_httpc_resp_free(&r);
    return j;
}
