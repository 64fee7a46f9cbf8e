/*
 * svc.h - runs a real stratus-images against a fresh PostgreSQL database for
 * the service tests, and talks to both of its listeners.
 */
#ifndef IMAGES_SVC_H
#define IMAGES_SVC_H

#include "st_httpc.h"
#include "st_proc.h"

#include <stddef.h>
#include <stdint.h>

#define SVC_TOKEN "test-internal-token-0123456789"
/* shaped like a node credential (common/nodeauth.h); no gateway knows it */
#define SVC_NODE_CRED "stn_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define SVC_URL_KEY "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

typedef struct svc {
    st_proc proc;
    char *dir; /* scratch: store, logs, port files */
    char *conninfo;
    char api[64]; /* http://127.0.0.1:port */
    char data[64];
    int api_port, data_port;
} svc;

/* Starts the service (extra: NULL-terminated "--set k=v" pairs to add, or NULL). */
int svc_start(svc *s, const char *tag, const char *const *extra);
/* Starts it again on the same database and store (after svc_stop or a kill). */
int svc_restart(svc *s, const char *const *extra);
void svc_stop(svc *s);
void svc_free(svc *s);

/* A principal: tenant may be NULL (cloud-wide), role "member" etc. */
typedef struct who {
    const char *tenant;
    const char *role;
    int admin;
} who;

/* An API call as the gateway would make it for w. */
int svc_api(svc *s, st_resp *r, const char *method, const char *path, const who *w,
            const char *body);
/* A data-listener call with internal auth for w (w NULL: no auth at all). */
int svc_data(svc *s, st_resp *r, const char *method, const char *path, const who *w,
             const void *body, size_t len, const char *const *extra);
/* Creates an image, returns its id (static buffer) or NULL. */
const char *svc_create(svc *s, const who *w, const char *name, const char *fmt);
/* An image's status through the API, as a cloud admin. */
const char *svc_status(svc *s, const char *id);
/* Files under the store's blobs/ directory. */
int svc_blob_count(svc *s);
/* Files under the store's tmp/ directory. */
int svc_tmp_count(svc *s);

/*
 * Raw socket to the data listener: sends head (a full request head ending
 * in a blank line), then body_len bytes from gen (called to fill buffers;
 * NULL sends nothing). Returns the connected fd for more, or -1.
 */
int svc_raw_connect(svc *s);
/* Reads until the peer closes or a full reply with Content-Length arrived;
 * returns the status code (0 when none) and copies the reply into out. */
int svc_raw_reply(int fd, char *out, size_t outlen);

#endif
