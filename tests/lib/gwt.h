/*
 * gwt.h - the control plane for tests: a fresh database, the real
 * stratus-images and stratus-billing, and the real stratus-gateway
 * (migrated, with a bootstrapped cloud admin) in front of them, each on a
 * loopback port and started through st_svc.h; and helpers to act on the
 * gateway as tenants, users and nodes. The gateway's, SDK's and node
 * agent's tests use it; st_cloud.h adds compute hosts to it.
 */
#ifndef GWT_H
#define GWT_H

#include "st_httpc.h"
#include "st_proc.h"
#include "st_svc.h"

typedef struct gwt {
    char *conninfo;
    char *dir;
    st_proc proc;
    st_proc images; /* the image service (started by gwt_start only) */
    char images_url[64];
    char images_data_url[64]; /* its data listener (images.data_url) */
    st_proc billing;          /* the billing service (started by gwt_start only) */
    char billing_url[64];
    char internal_token[65];
    int owns_dir; /* gwt_start made dir: gwt_stop removes it */
    char base[64];
    char admin_token[128]; /* cloud admin, scoped to tenant "admin" */
    char admin_tenant[40];
} gwt;

/* Starts a gateway on a fresh database; extra "--set" values may be given
 * as a NULL-terminated list of "key=value". Fails the program on error.
 * Every response from the gateway's base URL is checked against
 * api-gateway/openapi.json from then on (st_oas_watch). */
void gwt_start(gwt *t, const char *tag, const char *const *settings);
/* A second gateway process on the same database (for multi-gateway tests). */
void gwt_start_peer(gwt *peer, const gwt *first, const char *const *settings);
void gwt_stop(gwt *t);
/* Stops one of t's services if it runs and starts it again on the same
 * database and address (settings: the gateway's extra ones, as at its
 * start). The image service's data listener comes back on a new port, which
 * images_data_url then names. 0 or -1. */
int gwt_restart(gwt *t, st_svc_kind kind, const char *const *settings);
/* Runs `stratus-gateway SUBCOMMAND ARG` against t's database; returns its
 * exit status and its stdout (first line, malloc'd) in *out when out. */
int gwt_cli(const gwt *t, const char *sub, const char *arg, const char *stdin_text, char **out);

/* method + path (+ JSON body) with token; returns status. The response is
 * checked against api-gateway/openapi.json (st_oas.h: gwt_start watches
 * the gateway's base URL); a violation fails the calling test there. */
#define gwt_call(t, r, method, path, token, body)                                                  \
    gwt_call_at(__FILE__, __LINE__, t, r, method, path, token, body)
/* Same, discarding the response; returns the status. */
#define gwt_status(t, method, path, token, body)                                                   \
    gwt_status_at(__FILE__, __LINE__, t, method, path, token, body)
long gwt_call_at(const char *file, int line, const gwt *t, st_resp *r, const char *method,
                 const char *path, const char *token, const char *body);
long gwt_status_at(const char *file, int line, const gwt *t, const char *method, const char *path,
                   const char *token, const char *body);
/* Signs in; returns a malloc'd token or NULL. tenant may be NULL. */
char *gwt_signin(const gwt *t, const char *name, const char *password, const char *tenant);

/* A tenant with one user of each role; tokens scoped to it. */
typedef struct gwt_tenant {
    char id[40];
    char name[64];
    char admin_id[40], member_id[40], reader_id[40];
    char *admin, *member, *reader; /* tokens */
} gwt_tenant;
void gwt_make_tenant(gwt *t, const char *name, gwt_tenant *out);
void gwt_free_tenant(gwt_tenant *tn);
/* Creates a user (cloud admin call); returns its id in id. */
void gwt_make_user(gwt *t, const char *name, const char *password, char id[40]);

/* A node with a heartbeat and the given capacity; returns its token. */
char *gwt_make_node(gwt *t, const char *name, int vcpus, int mem_mib, int disk_gib);
/* n nodes at once: node i is named names[i], has the given capacity and
 * flags[i] (flags NULL: none), and heartbeats as host "h-<name>" with
 * firmware. Its token goes to tokens[i] (malloc'd), its id to ids[i]. Fails
 * the program on error. */
enum {
    GWT_NODE_LIVE_MIGRATION = 1, /* its agent takes live migrations (libvirt's does not), a */
                                 /* local disk copied along too (block migration) */
    GWT_NODE_DISABLED = 2,       /* disabled at once: nothing placed on it, nor powered off */
    GWT_NODE_NO_BLOCK = 4,       /* with LIVE_MIGRATION: no block migration (an older agent) */
};
void gwt_make_nodes(gwt *t, int n, const char *const names[], int vcpus, int mem_mib, int disk_gib,
                    const unsigned flags[], char *tokens[], char ids[][40]);
/* Node name's heartbeat as gwt_make_nodes() sends it (again, after a test
 * changed its row; GWT_NODE_DISABLED does nothing here); returns the status. */
long gwt_node_beat(gwt *t, const char *node_token, const char *name, int vcpus, int mem_mib,
                   int disk_gib, unsigned flags);
/* A heartbeat of a node with firmware (a BIOS: it boots disk images), as
 * hosts with Debian's seabios report; _fw says whether it has one. */
void gwt_heartbeat(gwt *t, const char *node_token, int vcpus, int mem_mib, int disk_gib);
void gwt_heartbeat_fw(gwt *t, const char *node_token, int vcpus, int mem_mib, int disk_gib,
                      int firmware);
/* A flavor and an active public image (1 MiB of raw bytes uploaded through
 * a signed URL) as the cloud admin; ids returned. */
void gwt_make_catalog(gwt *t, char flavor_id[40], char image_id[40]);
/* Uploads bytes to an image through the gateway's signed upload URL;
 * returns the upload's HTTP status. */
long gwt_upload_image(gwt *t, const char *token, const char *image_id, const void *data,
                      size_t len);
/* Creates an instance; returns the status, id in id (when 202). */
long gwt_create_instance(gwt *t, const char *token, const char *name, const char *flavor,
                         const char *image, const char *idem_key, char id[40]);
/* A node reports an instance's state; returns the status. */
long gwt_report(gwt *t, const char *node_token, const char *id, const char *state,
                long long generation);
/* The instance's current field (state, task, ...) as the given token sees it. */
char *gwt_instance_field(gwt *t, const char *token, const char *id, const char *field);
long long gwt_instance_generation(gwt *t, const char *token, const char *id);
/* Sends billing one instance sample (as a node agent would, with a billing
 * node credential made through the gateway) so the tenant has usage and a
 * draft invoice this month. Returns billing's HTTP status. */
long gwt_bill_sample(gwt *t, const char *tenant_id, const char *instance_id, long long seq,
                     long long cycles);
/* The same sampled at at_us (microseconds since the epoch): usage in an
 * earlier day or month. */
long gwt_bill_sample_at(gwt *t, const char *tenant_id, const char *instance_id, long long seq,
                        long long cycles, long long at_us);
/* Runs SQL directly on the test database (for time travel: expiring tokens). */
void gwt_sql(const gwt *t, const char *sql);
/* Same, returning the first column of the first row (malloc'd; NULL when
 * there is none or on error). */
char *gwt_sql_value(const gwt *t, const char *sql);
/* The id of the node named name (malloc'd; NULL when there is none or the name holds a quote). */
char *gwt_node_id(const gwt *t, const char *name);

#endif
