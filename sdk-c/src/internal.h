/*
 * internal.h - what libstratus's files share and callers never see: the
 * session's insides, the transport call, the per-thread error, and the
 * table-driven parser that turns a server object into a typed struct.
 *
 * Nothing here is exported (the version script exports stratus_* only, and
 * these names start with sx_).
 */
#ifndef SX_INTERNAL_H
#define SX_INTERNAL_H

#include "stratus.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

/* A reply body larger than this is refused (the server is untrusted). */
#define SX_MAX_BODY (64u << 20)
/* Any one string field larger than this makes the object malformed. */
#define SX_MAX_FIELD (1u << 20)

struct stratus_session {
    char *base; /* "https://host:port", no trailing slash */
    char *ca_file, *user_agent;
    long timeout_ms;
    int max_retries;
    void *share; /* CURLSH: connections, DNS, TLS sessions */
    pthread_mutex_t share_locks[8];
    pthread_mutex_t lock; /* guards everything below */
    char *token;
    long long token_expires;                          /* unix seconds; 0: unknown / never */
    char *login_name, *login_password, *login_tenant; /* for re-sign-in */
    stratus_trace_cb trace;                           /* stratus_session_set_trace */
    void *trace_arg;
};

/* ---- errors (error.c) ---- */
/* Sets the thread's last error; returns code. message may be NULL. */
int sx_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The error for an HTTP reply that is not 2xx: the status's code, the
 * server's error object if it sent one, the request id. */
int sx_fail_http(long status, const char *body, size_t len, const char *request_id);
void sx_clear_error(void);
void sx_set_request_id(const char *rid);

/* ---- transport (transport.c) ---- */
typedef struct sx_resp {
    long status;
    char *body; /* NUL-terminated */
    size_t len;
    json_t *json; /* when the body parsed as JSON */
    char etag[128];
    char request_id[80];
    char content_type[128];
} sx_resp;
void sx_resp_free(sx_resp *r);

typedef struct sx_req {
    /* "METHOD /v1/path/{param}": the operation as openapi.json names it;
     * each {param} takes the next of args, URL-escaped. */
    const char *op;
    const char *args[3];
    const char *query;    /* without '?', already escaped, or NULL */
    json_t *body;         /* borrowed; sent as JSON when non-NULL */
    const char *idem_key; /* Idempotency-Key; a create with none gets one */
    bool create;          /* a create: send Idempotency-Key */
    bool key_honoured;    /* the server dedups on the key: safe to retry */
    const char *if_none_match;
    const char *accept;
    bool no_auth; /* sign-in itself */
    bool raw;     /* do not parse the body as JSON */
} sx_req;

/* Performs the request with auth, retries where safe, and token refresh.
 * 0 for 2xx and 304 (resp filled; caller frees), else a stratus_err with
 * the thread's last error set (resp freed). */
int sx_call(stratus_session *s, const sx_req *q, sx_resp *resp);
/* The current bearer token, copied (NULL if none), refreshed first when a
 * password session is near expiry. */
char *sx_bearer(stratus_session *s);
int sx_signin(stratus_session *s);
/* Builds the URL for op/args/query into a malloc'd string, or NULL. */
char *sx_url(stratus_session *s, const sx_req *q);
/* Streams a file up (PUT) or down (GET) at an absolute URL; no auth. */
int sx_stream(stratus_session *s, const char *method, const char *url, const char *path,
              stratus_progress_cb cb, void *arg, const char *accept_ct);
void sx_uuid4(char out[37]);
void sx_curl_setup(stratus_session *s, void *curl);

/* ---- typed objects (object.c) ---- */
typedef enum { SX_STR, SX_INT, SX_BOOL, SX_STATE, SX_STRV } sx_ftype;
typedef struct sx_field {
    const char *path; /* "name" or "capacity.vcpus" (one level of nesting) */
    sx_ftype type;
    size_t off;
    size_t count_off; /* SX_STRV: where the count goes */
} sx_field;
typedef struct sx_type {
    const char *name;     /* "instance" */
    const char *list_key; /* "instances" in a list reply */
    size_t size;
    const sx_field *fields;
    size_t nfields;
} sx_type;

/* Parses object o into a new struct of type t (json kept). 0 or STRATUS_EPROTO. */
int sx_parse(const sx_type *t, json_t *o, void **out);
void sx_free(const sx_type *t, void *obj);
/* One call: op + args, parse the reply's object (or reply[key] when key). */
int sx_get_obj(stratus_session *s, const sx_type *t, const sx_req *q, void **out);
/* A call whose reply does not matter beyond success. */
int sx_do(stratus_session *s, const sx_req *q);

/* Iterators. A page's items come from reply[t->list_key]; when the reply
 * has a string "next", the following page is asked for with marker=next. */
struct stratus_iter {
    stratus_session *s;
    const sx_type *t;
    sx_req q;
    char *op, *arg0, *query_base; /* owned copies */
    int limit;
    char *marker;
    json_t *page; /* the current page's array */
    size_t pos;
    bool last_page;
};
int sx_iter_new(stratus_session *s, const sx_type *t, const char *op, const char *arg0,
                const stratus_list_opts *o, stratus_iter **it);
int sx_iter_next(stratus_iter *it, const sx_type *t, void **out);

extern const sx_type sx_t_instance, sx_t_image, sx_t_flavor, sx_t_keypair, sx_t_server_group,
    sx_t_quota, sx_t_invoice, sx_t_api_key, sx_t_node, sx_t_tenant, sx_t_member, sx_t_user,
    sx_t_whoami, sx_t_network, sx_t_subnet, sx_t_port, sx_t_security_group,
    sx_t_security_group_rule, sx_t_router, sx_t_floating_ip, sx_t_router_interface, sx_t_interface;

/* For the fuzz target: parse bytes as a reply holding one object of each
 * type (and a list page); never crashes, frees everything. */
void sx_fuzz_parse(const char *data, size_t len);

#endif
