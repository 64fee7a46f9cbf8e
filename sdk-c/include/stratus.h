/*
 * stratus.h - libstratus, the C client of the Stratus cloud's /v1 API.
 *
 * One header for the whole tenant and admin API. The models are libvirt's
 * C API and libuv: every name is stratus_<noun>_<verb>; every fallible call
 * returns 0 (or a count) on success and a negative stratus_err code on
 * failure; stratus_strerror() turns a code into text and stratus_last_error()
 * gives the calling thread's last failure in full (the server's own error
 * code and message, the HTTP status and the request id).
 *
 * A stratus_session holds the gateway's URL and one credential (a password
 * sign-in, an API key, or a token). It may be shared by any number of
 * threads: calls on one session are safe to make concurrently.
 *
 * Every resource comes back as a typed struct the caller frees with its
 * stratus_<noun>_free(); each struct also carries `json`, the object exactly
 * as the server sent it, for fields newer than this header. Lists are read
 * through a stratus_iter that fetches pages as it goes.
 */
#ifndef STRATUS_H
#define STRATUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STRATUS_VERSION_MAJOR 0
#define STRATUS_VERSION_MINOR 1
#define STRATUS_VERSION_PATCH 0
/* The library's version as "MAJOR.MINOR.PATCH" (may differ from the header's). */
const char *stratus_version(void);

/* ---- errors ---------------------------------------------------------- */

typedef enum stratus_err {
    STRATUS_OK = 0,
    STRATUS_EINVAL = -1,      /* a bad argument to this library */
    STRATUS_ENOMEM = -2,      /* out of memory */
    STRATUS_ETRANSPORT = -3,  /* could not reach the gateway (DNS, connect, reset) */
    STRATUS_ETLS = -4,        /* TLS failed: the certificate did not verify, ... */
    STRATUS_ETIMEDOUT = -5,   /* a request or a wait ran out of time */
    STRATUS_EPROTO = -6,      /* the server's reply was not what the API says */
    STRATUS_EBADREQ = -7,     /* 400: the server refused the request's content */
    STRATUS_EAUTH = -8,       /* 401: not signed in, wrong password, expired */
    STRATUS_EPERM = -9,       /* 403: the role does not allow it */
    STRATUS_ENOTFOUND = -10,  /* 404 */
    STRATUS_ECONFLICT = -11,  /* 409: the object's state does not allow it */
    STRATUS_EREJECTED = -12,  /* 422, or any quota refusal (server code quota_exceeded,
                                 which the gateway sends as 409): valid but cannot be
                                 done (quota, no host) */
    STRATUS_ERATELIMIT = -13, /* 429 */
    STRATUS_EUNAVAIL = -14,   /* 502/503/504: a backend or the database is down */
    STRATUS_ESERVER = -15,    /* any other 5xx */
    STRATUS_EIO = -16,        /* a local file could not be read or written */
    STRATUS_EFAILED = -17,    /* a waited-for object ended in state error/deleted */
    STRATUS_ECANCELED = -18,  /* a progress callback asked to stop */
} stratus_err;

/* "not found", ... for a stratus_err; never NULL. */
const char *stratus_strerror(int code);
/* "ENOTFOUND", ... for a stratus_err; never NULL. */
const char *stratus_err_name(int code);

typedef struct stratus_error {
    int code;             /* stratus_err */
    long http_status;     /* 0 when no reply arrived */
    char server_code[64]; /* the server's error.code ("not_found"), or "" */
    char message[512];    /* the server's error.message, or this library's */
    char request_id[80];  /* X-Request-Id of the reply, or "" */
} stratus_error;
/* The calling thread's last failure (each thread has its own). Valid until
 * that thread's next call into the library. */
const stratus_error *stratus_last_error(void);

/* ---- sessions -------------------------------------------------------- */

typedef struct stratus_session stratus_session;

typedef struct stratus_options {
    const char *ca_file;    /* CA bundle for HTTPS; NULL: the system's */
    long timeout_ms;        /* per HTTP request; 0: 30 s */
    int max_retries;        /* for requests safe to repeat; 0: 3, -1: none */
    int allow_plain_http;   /* http:// to a host other than loopback (never verified) */
    const char *user_agent; /* NULL: "libstratus/VERSION" */
} stratus_options;

/* A session for the gateway at url ("https://api.example:8443"). https:// is
 * always verified (peer and host name); http:// is accepted for loopback
 * addresses only unless opts->allow_plain_http. opts may be NULL. */
int stratus_session_new(stratus_session **out, const char *url, const stratus_options *opts);
void stratus_session_free(stratus_session *s);
/* Signs in with a password (POST /v1/auth/tokens). The session keeps the
 * credentials and signs in again by itself when the token expires or is
 * near expiry. tenant (name or id) may be NULL. */
int stratus_session_login(stratus_session *s, const char *name, const char *password,
                          const char *tenant);
/* Uses an API key (stk_...) or an existing session token (sts_...). */
int stratus_session_set_token(stratus_session *s, const char *token);
/* Copies the current bearer token into buf; STRATUS_EINVAL when none or too small. */
int stratus_session_token(stratus_session *s, char *buf, size_t n);
/* Revokes the session token (DELETE /v1/auth/tokens/current). */
int stratus_session_logout(stratus_session *s);

/* What stratus_session_set_trace() hands its callback for every HTTP reply
 * the session receives (each attempt: a retried or re-authenticated call is
 * traced once per reply). Valid during the callback only. */
typedef struct stratus_trace {
    const char *method;       /* "GET", "POST", ... */
    const char *url;          /* the whole URL asked, with its query */
    const char *path;         /* url after the session's base ("/v1/instances?limit=2"),
                                 or NULL when url is not the gateway's (a signed URL) */
    long status;              /* the HTTP status */
    const char *content_type; /* the reply's Content-Type, "" when none */
    const char *body;         /* the reply's bytes (NUL-terminated), or NULL when
                                 they were streamed to a file */
    size_t body_len;
    const char *request_id; /* X-Request-Id, "" when none */
} stratus_trace;
typedef void (*stratus_trace_cb)(void *userdata, const stratus_trace *t);
/* Calls cb(userdata, trace) after every HTTP reply on this session, on the
 * thread that made the call (for logging, or to check replies against the
 * API document). cb NULL stops tracing. Bodies may hold secrets (the token
 * of a sign-in, an API key at its creation): log them with care. */
int stratus_session_set_trace(stratus_session *s, stratus_trace_cb cb, void *userdata);

typedef struct stratus_whoami {
    char *json;
    char *user_id, *user_name, *tenant_id, *role, *token_kind;
    int cloud_admin;
} stratus_whoami;
int stratus_session_whoami(stratus_session *s, stratus_whoami **out);
void stratus_whoami_free(stratus_whoami *w);

/* ---- lists ----------------------------------------------------------- */

/* An iterator over a list; follows `next` markers across pages. Typed
 * next functions (stratus_instance_next, ...) return 1 with an item the
 * caller frees, 0 at the end, or a negative stratus_err. */
typedef struct stratus_iter stratus_iter;
void stratus_iter_free(stratus_iter *it);

typedef struct stratus_list_opts {
    int limit;          /* page size; 0: the server's default */
    const char *marker; /* start after this id */
    const char *filter; /* extra query, e.g. "state=active&name=web" (already escaped) */
} stratus_list_opts;

/* ---- instances ------------------------------------------------------- */

typedef enum stratus_state {
    STRATUS_BUILDING,
    STRATUS_ACTIVE,
    STRATUS_STOPPED,
    STRATUS_DELETING,
    STRATUS_DELETED,
    STRATUS_ERROR,
    STRATUS_UNKNOWN,
} stratus_state;
const char *stratus_state_name(stratus_state st);
stratus_state stratus_state_parse(const char *name);

typedef struct stratus_instance {
    char *json;
    char *id, *tenant_id, *name, *flavor_id, *image_id, *keypair_id, *server_group_id;
    char *state_name, *task, *power_desired, *node_id, *fault, *host_status;
    char *last_stop; /* "graceful", "forced" or NULL: how the last stop ended */
    char *created_at, *updated_at;
    long long vcpus, memory_mib, disk_gib;
    stratus_state state;
} stratus_instance;

typedef struct stratus_instance_spec {
    const char *name;
    const char *flavor;          /* id or name */
    const char *image;           /* id or name */
    const char *keypair;         /* id or name, or NULL */
    const char *user_data;       /* or NULL */
    const char *server_group_id; /* or NULL */
    const char *networks_json;   /* the "networks" value as JSON ("\"none\"", "[...]"), or NULL */
    const char *idempotency_key; /* NULL: one is generated */
} stratus_instance_spec;

int stratus_instance_create(stratus_session *s, const stratus_instance_spec *spec,
                            stratus_instance **out);
int stratus_instance_show(stratus_session *s, const char *id, stratus_instance **out);
int stratus_instance_list(stratus_session *s, const stratus_list_opts *o, stratus_iter **it);
int stratus_instance_next(stratus_iter *it, stratus_instance **out);
int stratus_instance_delete(stratus_session *s, const char *id);
int stratus_instance_start(stratus_session *s, const char *id);
/* A stop presses the ACPI power button and the node waits for the guest to
 * power off (vmm.stop_timeout_ms), then forces it; _force ends it at once. */
int stratus_instance_stop(stratus_session *s, const char *id);
int stratus_instance_stop_force(stratus_session *s, const char *id);
/* A (soft) reboot is such a stop and a new boot; _hard resets at once. */
int stratus_instance_reboot(stratus_session *s, const char *id);
int stratus_instance_reboot_hard(stratus_session *s, const char *id);
/* Snapshots an active or stopped instance into a new image named name
 * (1-255 characters; Nova's createImage): *image_id (malloc'd) is queued
 * until the instance's node has uploaded the flattened disk, then active
 * (stratus_image_show), or killed with its status_reason. */
int stratus_instance_snapshot(stratus_session *s, const char *id, const char *name,
                              char **image_id);
/* Evacuates an instance of a dead host (cloud admins; Nova's evacuate): it
 * is rebuilt on host (a node's name or id; NULL: the scheduler's choice)
 * with task "evacuating" until its new node reports it. The host must have
 * been silent for the gateway's nodes.down_after + evacuate.fence_margin
 * (STRATUS_ECONFLICT before; also for a host that cannot take it, nothing
 * changed). A disk on the host's local storage is
 * rebuilt from the image, losing what the guest wrote: confirm_data_loss
 * must be nonzero for such an instance (STRATUS_ECONFLICT otherwise). *out
 * (may be NULL) gets the instance as it is now. Since 0.2. */
int stratus_instance_evacuate(stratus_session *s, const char *id, const char *host,
                              int confirm_data_loss, stratus_instance **out);
/* A live migration's options (stratus_instance_migrate); zero/NULL fields
 * take the gateway's defaults. */
typedef struct stratus_migrate_opts {
    const char *host;       /* the target node's name or id; NULL: the scheduler's choice */
    int downtime_ms;        /* the downtime budget, 1-60000; 0: 300 */
    int timeout_s;          /* the overall timeout; 0: none */
    const char *on_timeout; /* "cancel" (the default) or "force" */
} stratus_migrate_opts;
/* Live-migrates an active instance to another host while it runs (cloud
 * admins): task "migrating" until the source's agent reports the outcome;
 * the instance's node_id changes only once it completed. STRATUS_ECONFLICT
 * (nothing changed) when the instance is not active or has a task, its
 * host is down (evacuate it) or cannot migrate (libvirt), or no host can
 * take it; a disk on local storage the hosts do not share is copied along
 * (the gateway's block_migration default). o may be
 * NULL; *out (may be NULL) gets the instance with its "migration". Since 0.2. */
int stratus_instance_migrate(stratus_session *s, const char *id, const stratus_migrate_opts *o,
                             stratus_instance **out);
/* Flags for stratus_instance_migrate_flags(); neither block flag: the gateway's default (a
 * local disk the hosts do not share is copied along). Both, or unknown bits: STRATUS_EINVAL. */
#define STRATUS_MIGRATE_BLOCK 1u    /* copy the disk along ("block_migration": true); a disk on */
                                    /* Ceph or shared storage has nothing to copy: ECONFLICT */
#define STRATUS_MIGRATE_NO_BLOCK 2u /* never copy ("block_migration": false): ECONFLICT for a */
                                    /* disk on the host's local storage */
/* stratus_instance_migrate() with flags (0 is the same call). Since 0.2. */
int stratus_instance_migrate_flags(stratus_session *s, const char *id,
                                   const stratus_migrate_opts *o, unsigned int flags,
                                   stratus_instance **out);
/* Cancels the instance's migration under way (STRATUS_ECONFLICT: none).
 * Since 0.2. */
int stratus_instance_migrate_cancel(stratus_session *s, const char *id, stratus_instance **out);
/* The live migrations, newest first, with their progress or outcome (cloud
 * admins); instance_id (may be NULL) keeps one instance's, limit (0: 100)
 * at most that many. *json (malloc'd): {"migrations": [{"id", "instance_id",
 * "source_node", "dest_node", "state", "round", "transferred_bytes", ...,
 * "downtime_ms", "error"}]}. Since 0.2. */
int stratus_migrations_list(stratus_session *s, const char *instance_id, int limit, char **json);
/* The console text the node last pushed (malloc'd, NUL-terminated); tail
 * bytes when tail > 0. */
int stratus_instance_console(stratus_session *s, const char *id, long tail, char **out);
/* Polls (conditional GETs) until the instance is in state `want`; fails
 * with STRATUS_EFAILED when it reaches error (or deleted, unless wanted),
 * STRATUS_ETIMEDOUT after timeout_ms. *out (may be NULL) gets the last view. */
int stratus_instance_wait(stratus_session *s, const char *id, stratus_state want, long timeout_ms,
                          stratus_instance **out);
void stratus_instance_free(stratus_instance *i);

/* ---- images ---------------------------------------------------------- */

typedef struct stratus_image {
    char *json;
    char *id, *tenant_id, *name, *visibility, *status, *disk_format, *checksum;
    char *status_reason, *created_at, *updated_at;
    long long size_bytes, virtual_size_bytes, min_disk_gib, min_memory_mib;
    char *kind;                   /* "disk", "kernel" or "ramdisk" */
    char *boot;                   /* "firmware", "kernel" or NULL (a ramdisk) */
    char *kernel_id, *ramdisk_id; /* a disk booting a separate kernel (and initrd) */
} stratus_image;

typedef struct stratus_image_spec {
    const char *name;
    const char *disk_format;                /* "raw" or "qcow2" */
    const char *visibility;                 /* "private" (NULL) or "public" (cloud admins) */
    long long min_disk_gib, min_memory_mib; /* 0: unset */
    const char *idempotency_key;            /* sent as Idempotency-Key; NULL: generated */
    /* How it boots (NULL: the service's defaults: a disk with its own
     * bootloader, booted through firmware). kind "disk"|"kernel"|"ramdisk";
     * boot "firmware"|"kernel"; a disk naming kernel_id (and ramdisk_id)
     * boots that kernel with itself as the root disk. */
    const char *kind, *boot, *kernel_id, *ramdisk_id;
} stratus_image_spec;

/* Called as bytes move; return nonzero to cancel (STRATUS_ECANCELED). total
 * is 0 when unknown. */
typedef int (*stratus_progress_cb)(void *arg, uint64_t done, uint64_t total);

int stratus_image_create(stratus_session *s, const stratus_image_spec *spec, stratus_image **out);
int stratus_image_show(stratus_session *s, const char *id, stratus_image **out);
int stratus_image_list(stratus_session *s, const stratus_list_opts *o, stratus_iter **it);
int stratus_image_next(stratus_iter *it, stratus_image **out);
/* PATCH with a JSON object of the fields to change ({"name":...}). */
int stratus_image_update(stratus_session *s, const char *id, const char *patch_json,
                         stratus_image **out);
int stratus_image_delete(stratus_session *s, const char *id);
/* Streams the file at path to the image through a signed upload URL. */
int stratus_image_upload(stratus_session *s, const char *id, const char *path,
                         stratus_progress_cb cb, void *arg);
/* Streams the image's bytes to path through a signed download URL. On
 * failure a file the call created is removed; an existing one is left. */
int stratus_image_download(stratus_session *s, const char *id, const char *path,
                           stratus_progress_cb cb, void *arg);
/* The signed URLs themselves (malloc'd), for callers that move bytes their own way. */
int stratus_image_upload_url(stratus_session *s, const char *id, char **url);
int stratus_image_download_url(stratus_session *s, const char *id, char **url);
void stratus_image_free(stratus_image *i);

/* ---- flavors --------------------------------------------------------- */

typedef struct stratus_flavor {
    char *json;
    char *id, *name, *created_at;
    long long vcpus, memory_mib, disk_gib;
    int disabled;
} stratus_flavor;
int stratus_flavor_create(stratus_session *s, const char *name, long long vcpus,
                          long long memory_mib, long long disk_gib, stratus_flavor **out);
int stratus_flavor_show(stratus_session *s, const char *id, stratus_flavor **out);
int stratus_flavor_list(stratus_session *s, stratus_iter **it);
int stratus_flavor_next(stratus_iter *it, stratus_flavor **out);
int stratus_flavor_update(stratus_session *s, const char *id, const char *patch_json,
                          stratus_flavor **out);
int stratus_flavor_delete(stratus_session *s, const char *id);
void stratus_flavor_free(stratus_flavor *f);

/* ---- keypairs -------------------------------------------------------- */

typedef struct stratus_keypair {
    char *json;
    char *id, *name, *public_key, *fingerprint, *created_at;
} stratus_keypair;
int stratus_keypair_create(stratus_session *s, const char *name, const char *public_key,
                           stratus_keypair **out);
int stratus_keypair_show(stratus_session *s, const char *id, stratus_keypair **out);
int stratus_keypair_list(stratus_session *s, stratus_iter **it);
int stratus_keypair_next(stratus_iter *it, stratus_keypair **out);
int stratus_keypair_delete(stratus_session *s, const char *id);
void stratus_keypair_free(stratus_keypair *k);

/* ---- server groups --------------------------------------------------- */

typedef struct stratus_server_group {
    char *json;
    char *id, *name, *policy, *created_at;
    size_t n_members;
    char **members; /* instance ids */
} stratus_server_group;
int stratus_server_group_create(stratus_session *s, const char *name, const char *policy,
                                stratus_server_group **out);
int stratus_server_group_show(stratus_session *s, const char *id, stratus_server_group **out);
int stratus_server_group_list(stratus_session *s, stratus_iter **it);
int stratus_server_group_next(stratus_iter *it, stratus_server_group **out);
int stratus_server_group_delete(stratus_session *s, const char *id);
void stratus_server_group_free(stratus_server_group *g);

/* ---- quotas ---------------------------------------------------------- */

typedef struct stratus_resources {
    long long instances, vcpus, memory_mib, disk_gib, networks, ports, security_groups,
        floating_ips;
} stratus_resources;
typedef struct stratus_quota {
    char *json;
    char *tenant_id;
    stratus_resources limits, usage;
} stratus_quota;
/* The caller's tenant's quota. */
int stratus_quota_show(stratus_session *s, stratus_quota **out);
/* Any tenant's (cloud admins). */
int stratus_tenant_quota_show(stratus_session *s, const char *tenant_id, stratus_quota **out);
/* Sets limits from a JSON object ({"instances":10,...}); cloud admins. */
int stratus_tenant_quota_update(stratus_session *s, const char *tenant_id, const char *limits_json,
                                stratus_quota **out);
void stratus_quota_free(stratus_quota *q);

/* ---- billing --------------------------------------------------------- */

typedef struct stratus_invoice {
    char *json;
    char *id, *number_text, *status, *period, *currency, *total, *issued_at;
    long long number, total_micro;
} stratus_invoice;
/* Usage as the server's JSON document (billing/README.md). from/to are
 * RFC 3339 or NULL; granularity "hour", "day", "month" or NULL. */
int stratus_usage_show(stratus_session *s, const char *from, const char *to,
                       const char *granularity, const char *instance_id, char **json);
int stratus_invoice_list(stratus_session *s, stratus_iter **it);
int stratus_invoice_next(stratus_iter *it, stratus_invoice **out);
/* The invoice as JSON, parsed. */
int stratus_invoice_show(stratus_session *s, const char *id, stratus_invoice **out);
/* The document in format "json", "csv", "html" or "pdf", as bytes. */
int stratus_invoice_get(stratus_session *s, const char *id, const char *format, char **data,
                        size_t *len);
/* The same document as an attachment, streamed to path. */
int stratus_invoice_download(stratus_session *s, const char *id, const char *format,
                             const char *path);
void stratus_invoice_free(stratus_invoice *i);

/* ---- API keys -------------------------------------------------------- */

typedef struct stratus_api_key {
    char *json;
    char *id, *name, *tenant_id, *created_at, *expires_at;
    char *key; /* only when just created */
} stratus_api_key;
int stratus_api_key_create(stratus_session *s, const char *name, int expires_in_days,
                           stratus_api_key **out);
int stratus_api_key_list(stratus_session *s, stratus_iter **it);
int stratus_api_key_next(stratus_iter *it, stratus_api_key **out);
int stratus_api_key_delete(stratus_session *s, const char *id);
void stratus_api_key_free(stratus_api_key *k);

/* ---- admin: nodes (hosts) -------------------------------------------- */

typedef struct stratus_node {
    char *json;
    char *id, *name, *hostname, *agent_version, *state, *tunnel_ip, *last_heartbeat, *created_at;
    int disabled, empty;
    long long cap_vcpus, cap_memory_mib, cap_disk_gib;
    long long used_vcpus, used_memory_mib, used_disk_gib;
    /* "on", "powering_off", "off", "powering_on"; power_fault: why the last
     * power command failed, or NULL. Since 0.2. */
    char *power_state, *power_fault;
} stratus_node;
/* Registers a host; *credential (malloc'd) is its one node credential. */
int stratus_node_create(stratus_session *s, const char *name, stratus_node **out,
                        char **credential);
int stratus_node_show(stratus_session *s, const char *id, stratus_node **out);
int stratus_node_list(stratus_session *s, stratus_iter **it);
int stratus_node_next(stratus_iter *it, stratus_node **out);
int stratus_node_update(stratus_session *s, const char *id, const char *patch_json,
                        stratus_node **out);
int stratus_node_delete(stratus_session *s, const char *id);
int stratus_node_rotate_credential(stratus_session *s, const char *id, char **credential);
/* action "power_off" (a node that is on and holds no instance; ECONFLICT
 * otherwise) or "power_on" (one that is off): the gateway's power manager
 * runs its configured command; *out is the node, powering_off or
 * powering_on. ECONFLICT too when the gateway has no power command. Since 0.2. */
int stratus_node_power(stratus_session *s, const char *id, const char *action, stratus_node **out);
/* Evacuates every building, active and stopped instance of a dead node
 * (Nova's host-evacuate), as stratus_instance_evacuate does one; all are
 * refused (STRATUS_ECONFLICT, naming them) when one has a local disk and
 * confirm_data_loss is 0. *json (malloc'd): {"node_id", "node",
 * "instances": [{"id", "name", "tenant_id", "outcome": "evacuating" |
 * "error", "node_id" | "fault"}]}. Since 0.2. */
int stratus_node_evacuate(stratus_session *s, const char *id, int confirm_data_loss, char **json);
void stratus_node_free(stratus_node *n);

/* ---- admin: tenants, users, members ---------------------------------- */

typedef struct stratus_tenant {
    char *json;
    char *id, *name, *description, *created_at;
} stratus_tenant;
int stratus_tenant_create(stratus_session *s, const char *name, const char *description,
                          stratus_tenant **out);
int stratus_tenant_show(stratus_session *s, const char *id, stratus_tenant **out);
int stratus_tenant_list(stratus_session *s, stratus_iter **it);
int stratus_tenant_next(stratus_iter *it, stratus_tenant **out);
int stratus_tenant_delete(stratus_session *s, const char *id);
void stratus_tenant_free(stratus_tenant *t);

typedef struct stratus_member {
    char *json;
    char *user_id, *name, *role;
} stratus_member;
int stratus_member_list(stratus_session *s, const char *tenant_id, stratus_iter **it);
int stratus_member_next(stratus_iter *it, stratus_member **out);
/* Puts a user into a tenant with role "admin", "member" or "reader". */
int stratus_member_set(stratus_session *s, const char *tenant_id, const char *user_id,
                       const char *role);
int stratus_member_remove(stratus_session *s, const char *tenant_id, const char *user_id);
void stratus_member_free(stratus_member *m);

typedef struct stratus_user {
    char *json;
    char *id, *name, *created_at;
    int cloud_admin, disabled;
} stratus_user;
int stratus_user_create(stratus_session *s, const char *name, const char *password, int cloud_admin,
                        stratus_user **out);
int stratus_user_show(stratus_session *s, const char *id, stratus_user **out);
int stratus_user_list(stratus_session *s, stratus_iter **it);
int stratus_user_next(stratus_iter *it, stratus_user **out);
int stratus_user_set_password(stratus_session *s, const char *id, const char *old_password,
                              const char *new_password);
void stratus_user_free(stratus_user *u);

/* ---- admin: scheduler ------------------------------------------------ */

/* The scheduler's settings as JSON (malloc'd). */
int stratus_scheduler_show(stratus_session *s, char **json);
/* policy "spread" or "pack"; cpu_overcommit <= 0 leaves it. */
int stratus_scheduler_update(stratus_session *s, const char *policy, double cpu_overcommit);
/* The consolidation plan as JSON (malloc'd): a dry run of which running
 * instances would move to empty whole nodes for power-off. target (0.5-1)
 * and max_moves (1-1000) take the server's defaults when <= 0. Since 0.2. */
int stratus_scheduler_consolidation(stratus_session *s, double target, int max_moves, char **json);
/* The rebalancing plan as JSON (malloc'd): a dry run of which running
 * instances would move to even out the nodes' CPU and memory loads, with
 * each node's load and the imbalance before and after. threshold (0.01-1)
 * and max_moves (1-1000) take the gateway's rebalance.* when <= 0. Since
 * 0.2. */
int stratus_scheduler_rebalance(stratus_session *s, double threshold, int max_moves, char **json);
/* The same plan carried out (JSON, malloc'd): its moves begun as live migrations, while fewer
 * than the gateway's rebalance.max_concurrent run; `started` and `skipped` (with the reason)
 * say which. Since 0.2. */
int stratus_scheduler_rebalance_run(stratus_session *s, double threshold, int max_moves,
                                    char **json);
/* The consolidation plan carried out (JSON, malloc'd): its source nodes marked `draining` (no
 * new instance lands there), its moves begun as live migrations while fewer than the
 * gateway's rebalance.max_concurrent run (`started`, `skipped` with the reason); the power
 * manager then powers off the emptied nodes once idle (`nodes_to_power_off`). Arguments as
 * stratus_scheduler_consolidation(). Since 0.2. */
int stratus_scheduler_consolidation_run(stratus_session *s, double target, int max_moves,
                                        char **json);

/* ---- networking (Neutron's model; api-gateway/README.md) ---------- */
/* Creates take their required fields typed and any others as a JSON object
 * (extra_json, may be NULL), e.g. {"mtu":1400} or {"fixed_ips":[...]}; updates
 * take a JSON object of the fields to change. Arrays and nested objects
 * (subnets, fixed_ips, rules, ...) are read from the struct's json. */
typedef struct stratus_network {
    char *json;
    char *id, *tenant_id, *name, *status, *network_type, *created_at, *updated_at;
    long long mtu, segmentation_id;
    int shared, external, is_default;
} stratus_network;
int stratus_network_create(stratus_session *s, const char *name, const char *extra_json,
                           stratus_network **out);
int stratus_network_show(stratus_session *s, const char *id, stratus_network **out);
int stratus_network_list(stratus_session *s, const stratus_list_opts *o, stratus_iter **it);
int stratus_network_next(stratus_iter *it, stratus_network **out);
int stratus_network_update(stratus_session *s, const char *id, const char *patch_json,
                           stratus_network **out);
int stratus_network_delete(stratus_session *s, const char *id);
void stratus_network_free(stratus_network *o);

typedef struct stratus_subnet {
    char *json;
    char *id, *tenant_id, *network_id, *name, *cidr, *gateway_ip, *created_at, *updated_at;
    long long ip_version;
    int enable_dhcp;
} stratus_subnet;
int stratus_subnet_create(stratus_session *s, const char *network_id, const char *cidr,
                          const char *extra_json, stratus_subnet **out);
int stratus_subnet_show(stratus_session *s, const char *id, stratus_subnet **out);
int stratus_subnet_list(stratus_session *s, const stratus_list_opts *o, stratus_iter **it);
int stratus_subnet_next(stratus_iter *it, stratus_subnet **out);
int stratus_subnet_update(stratus_session *s, const char *id, const char *patch_json,
                          stratus_subnet **out);
int stratus_subnet_delete(stratus_session *s, const char *id);
void stratus_subnet_free(stratus_subnet *o);

typedef struct stratus_port {
    char *json;
    char *id, *tenant_id, *network_id, *name, *mac_address, *instance_id, *device_owner, *vnic_type,
        *model, *status, *created_at, *updated_at;
} stratus_port;
int stratus_port_create(stratus_session *s, const char *network_id, const char *extra_json,
                        stratus_port **out);
int stratus_port_show(stratus_session *s, const char *id, stratus_port **out);
int stratus_port_list(stratus_session *s, const stratus_list_opts *o, stratus_iter **it);
int stratus_port_next(stratus_iter *it, stratus_port **out);
int stratus_port_update(stratus_session *s, const char *id, const char *patch_json,
                        stratus_port **out);
int stratus_port_delete(stratus_session *s, const char *id);
void stratus_port_free(stratus_port *o);

typedef struct stratus_security_group {
    char *json;
    char *id, *tenant_id, *name, *description, *created_at, *updated_at;
    int is_default;
} stratus_security_group;
int stratus_security_group_create(stratus_session *s, const char *name, const char *extra_json,
                                  stratus_security_group **out);
int stratus_security_group_show(stratus_session *s, const char *id, stratus_security_group **out);
int stratus_security_group_list(stratus_session *s, const stratus_list_opts *o, stratus_iter **it);
int stratus_security_group_next(stratus_iter *it, stratus_security_group **out);
int stratus_security_group_update(stratus_session *s, const char *id, const char *patch_json,
                                  stratus_security_group **out);
int stratus_security_group_delete(stratus_session *s, const char *id);
void stratus_security_group_free(stratus_security_group *o);

typedef struct stratus_security_group_rule {
    char *json;
    char *id, *tenant_id, *security_group_id, *direction, *ethertype, *protocol, *remote_ip_prefix,
        *remote_group_id, *description, *created_at;
    long long port_range_min, port_range_max;
} stratus_security_group_rule;
int stratus_security_group_rule_create(stratus_session *s, const char *security_group_id,
                                       const char *direction, const char *extra_json,
                                       stratus_security_group_rule **out);
int stratus_security_group_rule_show(stratus_session *s, const char *id,
                                     stratus_security_group_rule **out);
int stratus_security_group_rule_list(stratus_session *s, const stratus_list_opts *o,
                                     stratus_iter **it);
int stratus_security_group_rule_next(stratus_iter *it, stratus_security_group_rule **out);
int stratus_security_group_rule_delete(stratus_session *s, const char *id);
void stratus_security_group_rule_free(stratus_security_group_rule *o);

typedef struct stratus_router {
    char *json;
    char *id, *tenant_id, *name, *status, *created_at, *updated_at;
} stratus_router;
int stratus_router_create(stratus_session *s, const char *name, const char *extra_json,
                          stratus_router **out);
int stratus_router_show(stratus_session *s, const char *id, stratus_router **out);
int stratus_router_list(stratus_session *s, const stratus_list_opts *o, stratus_iter **it);
int stratus_router_next(stratus_iter *it, stratus_router **out);
int stratus_router_update(stratus_session *s, const char *id, const char *patch_json,
                          stratus_router **out);
int stratus_router_delete(stratus_session *s, const char *id);
void stratus_router_free(stratus_router *o);

typedef struct stratus_floating_ip {
    char *json;
    char *id, *tenant_id, *floating_network_id, *floating_ip_address, *port_id, *fixed_ip_address,
        *router_id, *status, *description, *created_at, *updated_at;
} stratus_floating_ip;
int stratus_floating_ip_create(stratus_session *s, const char *floating_network_id,
                               const char *extra_json, stratus_floating_ip **out);
int stratus_floating_ip_show(stratus_session *s, const char *id, stratus_floating_ip **out);
int stratus_floating_ip_list(stratus_session *s, const stratus_list_opts *o, stratus_iter **it);
int stratus_floating_ip_next(stratus_iter *it, stratus_floating_ip **out);
int stratus_floating_ip_update(stratus_session *s, const char *id, const char *patch_json,
                               stratus_floating_ip **out);
int stratus_floating_ip_delete(stratus_session *s, const char *id);
void stratus_floating_ip_free(stratus_floating_ip *o);

typedef struct stratus_router_interface {
    char *json;
    char *id, *tenant_id, *subnet_id, *port_id;
} stratus_router_interface;
/* Joins a subnet to a router (a port holding the subnet's gateway address). */
int stratus_router_interface_add(stratus_session *s, const char *router_id, const char *subnet_id,
                                 stratus_router_interface **out);
int stratus_router_interface_remove(stratus_session *s, const char *router_id,
                                    const char *subnet_id);
void stratus_router_interface_free(stratus_router_interface *o);

/* An instance's NICs (ports); attach and detach while it is stopped.
 * attach_json: {"network_id":...,"fixed_ip":...} or {"port_id":...}. */
int stratus_instance_interface_list(stratus_session *s, const char *instance_id, stratus_iter **it);
/* (read with stratus_port_next) */
int stratus_instance_interface_attach(stratus_session *s, const char *instance_id,
                                      const char *attach_json, stratus_port **out);
int stratus_instance_interface_detach(stratus_session *s, const char *instance_id,
                                      const char *port_id);

/* ---- billing administration (cloud admins) and the API document ------ */
/* Bodies and replies are the billing service's JSON documents
 * (billing/README.md), passed through as text (malloc'd). */
int stratus_plan_current(stratus_session *s, char **json); /* the caller's tenant's plan */
int stratus_plan_list(stratus_session *s, char **json);
int stratus_plan_create(stratus_session *s, const char *body_json, char **json);
int stratus_plan_show(stratus_session *s, const char *id, char **json);
int stratus_plan_update(stratus_session *s, const char *id, const char *patch_json, char **json);
int stratus_plan_delete(stratus_session *s, const char *id);
int stratus_plan_version_create(stratus_session *s, const char *plan_id, const char *body_json,
                                char **json);
int stratus_tenant_plan_list(stratus_session *s, const char *tenant_id, char **json);
int stratus_tenant_plan_assign(stratus_session *s, const char *tenant_id, const char *body_json,
                               char **json);
int stratus_period_list(stratus_session *s, char **json);
/* Issues every tenant's invoice for period "YYYY-MM". A month with no
 * usage is refused (ECONFLICT, server code empty_month) unless issued with
 * stratus_period_issue_flags(..., STRATUS_ISSUE_CONFIRM_EMPTY, ...). */
int stratus_period_issue(stratus_session *s, const char *period, char **json);
/* Flags for stratus_period_issue_flags(); unknown bits are STRATUS_EINVAL. */
#define STRATUS_ISSUE_CONFIRM_EMPTY 1u /* issue (and so close) a month with no usage */
/* stratus_period_issue() with flags (0 is the same call). */
int stratus_period_issue_flags(stratus_session *s, const char *period, unsigned int flags,
                               char **json);
/* What issuing period "YYYY-MM" would produce; stores nothing. */
int stratus_period_preview(stratus_session *s, const char *period, char **json);
/* The caller's tenant's billing account (legal name, address, country, tax
 * ID, email): any role reads, the tenant's admin writes; a cloud admin
 * reaches any tenant's through the stratus_tenant_* pair. */
int stratus_billing_account_get(stratus_session *s, char **json);
int stratus_billing_account_set(stratus_session *s, const char *body_json, char **json);
int stratus_tenant_billing_account_get(stratus_session *s, const char *tenant_id, char **json);
int stratus_tenant_billing_account_set(stratus_session *s, const char *tenant_id,
                                       const char *body_json, char **json);
/* Credit notes: the tenant's, one, and (cloud admin) one correcting an
 * issued invoice (billing/README.md says what the body holds). */
int stratus_credit_note_list(stratus_session *s, char **json);
int stratus_credit_note_show(stratus_session *s, const char *id, char **json);
int stratus_credit_note_create(stratus_session *s, const char *invoice_id, const char *body_json,
                               char **json);
/* GET /v1/openapi.json: the API's own description. */
int stratus_openapi_get(stratus_session *s, char **json);

#ifdef __cplusplus
}
#endif
#endif
