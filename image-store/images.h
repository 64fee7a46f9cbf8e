/*
 * images.h - the stratus-images service: what its files share.
 *
 *   main.c       configuration, start-up, the two listeners, the reaper
 *   api.c        the JSON API (common/http on http.listen)
 *   auth.c       who is calling: gateway principal, node, signed URL
 *   data.c       the data listener (data.listen): accepts, a thread per
 *                connection, TLS
 *   conn.c       one data connection: HTTP/1.1 heads, streamed bodies, replies
 *   upload.c     PUT .../file: stream to a temp file while hashing, validate,
 *                store the blob, activate the image
 *   download.c   GET/HEAD .../file: ranges, checksum verified while sending
 *   blobs.c      blob bookkeeping: finalize and garbage-collect under locks
 *   meter.c      storage reports to billing: bytes per tenant, hourly
 *   store_*.c    the blob back ends (store.h)
 *   httpparse.c  the request head and chunked body parsers (fuzzed)
 */
#ifndef IMAGES_H
#define IMAGES_H

#include "httpparse.h"
#include "store.h"
#include "stratus/config.h"
#include "stratus/db.h"
#include "stratus/handler.h"
#include "stratus/http.h"
#include "stratus/internal.h"
#include "stratus/metrics.h"
#include "stratus/nodeauth.h"

#include <limits.h>
#include <stdint.h>

typedef struct img_data img_data;

typedef struct img_svc {
    const st_config *cfg;
    st_db_pool *db;
    img_store *store;
    char tmp_dir[PATH_MAX];
    const char *internal_token;
    uint8_t url_key[32];  /* signs upload/download URLs */
    char data_url[256];   /* base URL of the data listener, as clients reach it */
    uint64_t max_size;    /* largest upload, bytes */
    uint64_t max_virtual; /* largest virtual disk an image may describe */
    int url_ttl_s;
    int stale_s; /* a 'saving' upload silent this long is killed */
    img_data *data;
} img_svc;

/* Who is calling (auth.c). */
typedef struct img_caller {
    st_principal p; /* from the gateway's headers */
    int is_node;    /* a compute node: reading an image its instances boot from, or
                     * uploading a snapshot of one of them */
    st_node node;   /* which (common/nodeauth.h) */
    int signed_url; /* a signed URL for exactly this image and method */
} img_caller;

/* API-side authentication of the gateway; nodes are refused (403). On
 * failure replies itself and returns -1. */
int img_api_auth(img_svc *s, st_http_req *r, img_caller *c);
/* The same for reading image id, where a node whose instances boot from
 * the image is allowed too (any other image: 404); db: the request's
 * connection, for the node's checks. */
int img_api_auth_read(img_svc *s, st_http_req *r, st_db *db, const char *id, img_caller *c);
/* Data-side (peer: the caller's address): 0, or -1 with status/code/message to send. */
int img_data_auth(img_svc *s, const img_head *h, const char *peer, const char *image_id,
                  const char *method, img_caller *c, int *status, st_err *code, const char **msg);
/* A signed URL for method on image id valid until expires (unix seconds). */
void img_url_sign(img_svc *s, const char *method, const char *id, long long expires, char *url,
                  size_t urllen);

/* The SQL condition "image m is visible to tenant $1 (admin flag $2)". */
#define IMG_VISIBLE                                                                                \
    "(m.tenant_id = $1::uuid OR m.visibility = 'public' OR $2::bool) AND m.status <> 'deleted'"

void img_api_routes(img_svc *s, st_api *api, st_http_server *srv);

/* Blob bookkeeping (blobs.c). */
/* Stores tmp_path as blob sha and activates image id in one step; 0, or a
 * negative errno with err (the image is then killed by the caller). */
int img_blob_commit(img_svc *s, const char *id, const char *tmp_path, const char *sha,
                    uint64_t size, uint64_t vsize, char *err, size_t errlen);
/* Removes blob sha if no active image refers to it. */
int img_blob_gc(img_svc *s, const char *sha);
/* Garbage-collects every unreferenced blob and kills stale uploads. */
void img_reap(img_svc *s);
/* Marks an upload killed with a reason (only from 'saving'). */
void img_kill(img_svc *s, const char *id, const char *reason);

/* The data listener (data.c). */
img_data *img_data_start(img_svc *s, char *err, size_t errlen);
int img_data_port(const img_data *d);
void img_data_stop(img_data *d);

/* A transfer connection as upload.c and download.c see it (data.c). */
typedef struct img_conn img_conn;
ssize_t img_conn_write(img_conn *c, const void *buf, size_t n);
/* Body bytes: >0 read, 0 end of body, <0 error (client gone, bad framing). */
ssize_t img_conn_body(img_conn *c, void *buf, size_t n);
/* Sends "HTTP/1.1 100 Continue" when the client asked for it. */
int img_conn_continue(img_conn *c);
/* A complete reply with a small body (JSON or empty). */
void img_conn_reply(img_conn *c, int status, const char *ctype, const char *body, size_t len,
                    const char *extra_headers);
__attribute__((format(printf, 4, 5))) void img_conn_error(img_conn *c, int status, st_err code,
                                                          const char *fmt, ...);
/* Starts a streamed reply: status line and headers (Content-Length when
 * length >= 0); the body follows with img_conn_write(). */
int img_conn_send_head(img_conn *c, int status, const char *ctype, int64_t length,
                       const char *extra_headers);
/* Closes the connection after this request. */
void img_conn_close_after(img_conn *c);
const char *img_conn_reqid(const img_conn *c);
const char *img_conn_peer(const img_conn *c);

void img_upload(img_svc *s, img_conn *c, const img_head *h, const char *id);
/* The image service's counters, every fixed label set registered at 0 by
 * img_metrics() at start-up (upload.c). */
void img_metrics(void);
st_metric *img_metric_bytes_sent(void);
st_metric *img_metric_blob_corrupt(void);
void img_download(img_svc *s, img_conn *c, const img_head *h, const char *id, int head_only);

#endif
