/*
 * httpc.h - the one internal HTTP client (libcurl + jansson): the node
 * agent's calls (gateway, billing, images, a VMM's unix socket), the
 * gateway's calls to its backends, the image service's metering, base-image
 * downloads, the tests and the benchmarks all go through st_httpc().
 *
 *     st_httpc_req q = {.method = "POST", .url = url, .bearer = credential,
 *                       .body = json, .body_len = strlen(json)};
 *     st_httpc_resp r;
 *     char err[256], m[256];
 *     long st = st_httpc(&q, &r, err, sizeof err);
 *     if (st == 0)         ... not answered: err says why ...
 *     else if (st != 200)  ... st_httpc_err_msg(&r, m, sizeof m) ...
 *     else                 ... r.body / st_httpc_json(&r) ...
 *     st_httpc_resp_free(&r);
 *
 * A call blocks the calling thread (never call it on an event loop's
 * thread; see common/README.md for who calls it from where). Each thread
 * keeps one libcurl handle, so keep-alive connections and TLS sessions are
 * reused across calls. Replies are untrusted: a body over max_body fails
 * the call ("response body too large"), headers are kept up to 64 KiB.
 * Nodes authenticate with their credential as a bearer token (nodeauth.h)
 * over TLS checked against ca_file; no service asks for client
 * certificates, so there is no option for one.
 */
#ifndef STRATUS_HTTPC_H
#define STRATUS_HTTPC_H

#include <jansson.h>
#include <stddef.h>

#define ST_HTTPC_MAX_BODY (32u << 20)

/* Receives the body piece by piece; returns len to go on, anything else to
 * stop the transfer (the call then fails: status 0). */
typedef size_t (*st_httpc_sink_fn)(void *arg, const char *data, size_t len);

typedef struct st_httpc_req {
    const char *method;         /* NULL: GET; HEAD asks for no body */
    const char *url;            /* http:// or https:// only */
    const char *unix_sock;      /* NULL: TCP */
    const char *bearer;         /* Authorization: Bearer ..., or NULL/"" */
    const char *const *headers; /* NULL-terminated "Name: value", or NULL */
    const char *body;           /* raw body of body_len bytes, or NULL */
    size_t body_len;
    const json_t *json;       /* when body is NULL: sent compactly as the body */
    const char *content_type; /* default application/json when there is a body */
    long timeout_ms;          /* the whole call; 0: 30 s; < 0: no limit */
    long connect_timeout_ms;  /* 0: 5 s */
    long stall_s;             /* > 0: fail after this long under 1 byte/s */
    size_t max_body;          /* 0: ST_HTTPC_MAX_BODY; a sink has no cap */
    const char *ca_file;      /* PEM CAs to verify the server with, else the system's */
    int insecure;             /* tests only: no certificate or host check */
    int fresh;                /* a connection of its own, closed after the call */
    st_httpc_sink_fn sink;    /* streams the body here instead of into r->body */
    void *sink_arg;
    /* a call that may wait long (a long-poll) ends, failed, soon after
     * *abort becomes non-zero (checked about once a second); NULL: never */
    const volatile int *abort;
} st_httpc_req;

typedef struct st_httpc_resp {
    long status;    /* 0 on transport failure */
    char *body;     /* NUL-terminated, malloc'd; "" when none or sunk */
    size_t len;     /* bytes in body */
    json_t *json;   /* set by st_httpc_json() */
    char *headers;  /* the final response's header lines, NUL-terminated */
    size_t hlen;    /* bytes in headers */
    char etag[128]; /* the ETag header, "" when none (or too long) */
} st_httpc_resp;

/* Makes the call; returns the status, or 0 with the reason in err (err may
 * be NULL). r is always filled and must be freed. */
long st_httpc(const st_httpc_req *q, st_httpc_resp *r, char *err, size_t errlen);
void st_httpc_resp_free(st_httpc_resp *r);
/* The body parsed by jansson (kept in r->json, freed with r), or NULL when
 * it is not a JSON document. */
json_t *st_httpc_json(st_httpc_resp *r);
/* A response header's value (case-insensitive name), malloc'd, or NULL. */
char *st_httpc_header(const st_httpc_resp *r, const char *name);
/* The "message" of a {"error":{...}} body, or the body's start, into buf. */
const char *st_httpc_err_msg(const st_httpc_resp *r, char *buf, size_t buflen);
/* The "code" of a {"error":{...}} body, or "" (valid while r is, and until
 * the thread's next call when r->json is not set). */
const char *st_httpc_err_code(const st_httpc_resp *r);

#endif
