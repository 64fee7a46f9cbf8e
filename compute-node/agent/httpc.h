/*
 * httpc.h - the agent's HTTP client: blocking libcurl easy calls, made from
 * thread-pool jobs (never on the loop thread).
 *
 * Each pool thread keeps one easy handle, so keep-alive connections to the
 * gateway, billing and the image service are reused across calls. A call
 * may go over a unix socket (a VMM's control API). Bodies are capped
 * (ND_HTTP_MAX_BODY): a peer cannot make the agent allocate without bound.
 */
#ifndef ND_HTTPC_H
#define ND_HTTPC_H

#include <stddef.h>

#define ND_HTTP_MAX_BODY (32u << 20)

typedef struct nd_http_req {
    const char *method;
    const char *url;
    const char *unix_sock;      /* NULL: TCP */
    const char *bearer;         /* Authorization: Bearer ..., or NULL */
    const char *const *headers; /* NULL-terminated "Name: value", or NULL */
    const char *body;           /* NULL: none */
    size_t body_len;
    const char *content_type; /* default application/json when body */
    long timeout_ms;          /* 0: 30 s */
    /* a call that may wait long (a long-poll) ends, failed, soon after
     * *abort becomes non-zero (checked about once a second); NULL: never */
    const volatile int *abort;
} nd_http_req;

typedef struct nd_http_resp {
    long status; /* 0 on transport failure */
    char *body;  /* NUL-terminated, malloc'd (may be NULL) */
    size_t len;
    char etag[128]; /* the ETag header, "" when none (or too long) */
} nd_http_resp;

/* Returns the status (0 with err on transport failure). */
long nd_http(const nd_http_req *q, nd_http_resp *r, char *err, size_t errlen);
void nd_http_resp_free(nd_http_resp *r);
/* The "message" of a {"error":{...}} body, or the body's start. */
const char *nd_http_err_msg(const nd_http_resp *r, char *buf, size_t buflen);

#endif
