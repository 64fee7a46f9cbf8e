/*
 * st_svc.h - the one way a test starts a control-plane service: the real
 * stratus-gateway, stratus-images or stratus-billing binary on a loopback
 * port, against a test database, with the settings every test wants (no
 * access log, quiet backends' logs, cheap password hashing, no fsync) and the caller's
 * own. Every harness (gwt.h's control plane, st_cloud.h's whole cloud,
 * billing's bl_test.h) starts its services through st_svc_start(), so each
 * command line exists once.
 *
 * The server writes its port to a port file once bound; st_svc_start()
 * waits for it and then for GET /healthz to answer 200, so the caller may
 * send requests at once. Given listen ("127.0.0.1:PORT"), a service comes
 * back on the address its clients already know (a restart).
 */
#ifndef ST_SVC_H
#define ST_SVC_H

#include "st_proc.h"

typedef enum st_svc_kind { ST_SVC_GATEWAY, ST_SVC_IMAGES, ST_SVC_BILLING } st_svc_kind;

typedef struct st_svc_opts {
    const char *conninfo;       /* db.url (required) */
    const char *dir;            /* its log, port files and image store go here (required) */
    const char *internal_token; /* auth.internal_token (required) */
    const char *name;           /* file names under dir: NAME.log, NAME.port; NULL: the kind */
    const char *listen;         /* NULL: 127.0.0.1:0 (a port of the kernel's choosing) */
    const char *log_level;      /* NULL: info for the gateway, warn for the others */
    const char *const *sets;    /* more "key=value" (NULL-terminated), after the defaults */
    /* the gateway's backends (its images.url, images.data_url, billing.url) */
    const char *images_url, *images_data_url, *billing_url;
} st_svc_opts;

/* Starts the service and waits until it serves; url gets
 * "http://127.0.0.1:PORT" and, for the image service, data_url its data
 * listener (may be NULL otherwise). 0, or -1 with its log on stderr. */
int st_svc_start(st_proc *p, st_svc_kind kind, const st_svc_opts *o, char url[64],
                 char data_url[64]);

/* The service's binary under the build tree (st_build_path's buffer). */
const char *st_svc_bin(st_svc_kind kind);

#endif
