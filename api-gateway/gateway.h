/*
 * gateway.h - what the gateway's files share.
 *
 * Every API route is registered through gw_route() with the access it needs.
 * The wrapper (common/handler.h, with api.c's hooks) borrows a database
 * connection, resolves the bearer token into a principal, checks the access
 * level, calls the handler with a gw_ctx, and gives the connection back. Handlers therefore never
 * see an unauthenticated request, and a tenant-scoped handler always has c->p.tenant_id: every
 * query it runs filters on it, which is how one tenant never sees another's objects (they are
 * simply not found: 404, never 403).
 */
#ifndef GATEWAY_H
#define GATEWAY_H

#include "stratus/config.h"
#include "stratus/db.h"
#include "stratus/handler.h"
#include "stratus/http.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum gw_access {
    GW_PUBLIC,       /* no token */
    GW_USER,         /* any valid user token, scoped to a tenant or not */
    GW_TENANT_READ,  /* a token scoped to a tenant, any role */
    GW_TENANT_WRITE, /* scoped, role member or admin */
    GW_TENANT_ADMIN, /* scoped, role admin */
    GW_CLOUD_ADMIN,  /* the user is a cloud administrator */
    GW_NODE,         /* a compute node's credential */
} gw_access;

typedef struct gw_principal {
    char token_id[40];
    char kind[12]; /* "session", "api_key", "node" */
    char user_id[40];
    char user_name[72];
    char tenant_id[40]; /* "" when the token is not scoped to a tenant */
    char role[12];      /* role in tenant_id: "admin", "member", "reader" */
    int cloud_admin;
    char node_id[40]; /* for node credentials */
    /* read with the token, in the same snapshot (listcache.c) */
    long long list_version; /* of tenant_id's instance list */
    long long host_epoch;   /* of host statuses cloud-wide */
} gw_principal;

typedef struct gw_config {
    long long token_ttl_s;
    int argon2_t, argon2_m_kib;
    int signin_user_limit, signin_ip_limit, signin_window_s;
    long long quota_instances, quota_vcpus, quota_memory_mib, quota_disk_gib;
    long long quota_networks, quota_ports, quota_security_groups, quota_floating_ips;
    double cpu_overcommit;
    int node_down_after_s;
    int launch_attempts; /* hosts an instance may fail on before it goes to error */
    int fence_margin_s;  /* evacuate.fence_margin: a host is evacuated this long after down */
    int auto_evacuate;   /* evacuate.automatic: Ceph-backed instances of dead hosts, unasked */
    int disk_rbd;        /* instances.disk_backend = rbd: new instances' disks on Ceph */
    /* rebalance.*: the rebalancing plan (rebalance.c, gw_rebalance_plan_json) */
    double rebalance_threshold;   /* load spread tolerated, a fraction (0, 1] */
    int rebalance_max_moves;      /* per plan */
    int rebalance_cooldown_s;     /* an instance moved within this stays */
    int rebalance_cpu_window_s;   /* CPU load: the metering samples of this last window */
    int rebalance_max_concurrent; /* migrations the acting plan lets run at once */
    int shared_storage; /* instances.shared_storage: local disks are on storage all hosts share */
    int rebalance_interval_s; /* the host manager's own rebalancing runs; 0: none */
    /* consolidation.*: the consolidation plan (consolidate.c, gw_consolidation_plan) */
    double cons_target;   /* destinations filled up to this fraction [0.5, 1] */
    int cons_max_moves;   /* per plan */
    int cons_interval_s;  /* the host manager's own consolidation runs; 0: none */
    int cons_drain_for_s; /* a host being emptied takes no placement this long after a run */
} gw_config;

/* A backend service the gateway calls for tenants (upstream.c). */
typedef struct gw_upstream {
    const char *name;    /* "image", "billing": for messages */
    const char *base;    /* "http://127.0.0.1:9292"; empty: not configured */
    const char *token;   /* the shared service token (auth.internal_token) */
    const char *ca_file; /* CA for an https base, or empty for the system's */
    long timeout_ms;
} gw_upstream;

typedef struct gw {
    st_http_server *http;
    st_db_pool *db;
    const st_config *cfg;
    gw_config c;
    st_api api; /* the route wrapper (common/handler.h): gw_route(), gw_routes_free() */
    gw_upstream images, billing;
    struct gw_listcache *lists; /* rendered instance lists; NULL: off */
    struct gw_power *power;     /* power.c: hosts powered off and on; NULL: off */
} gw;

typedef struct gw_ctx {
    gw *gw;
    st_http_req *req;
    st_db *db;
    gw_principal p;
} gw_ctx;

typedef void (*gw_handler)(gw_ctx *c);

/* api.c: routing, authentication, replies */
void gw_route(gw *g, const char *pattern, gw_access access, gw_handler h);
void gw_routes_free(gw *g);
/* Replies 500/503 for a failed database call (logged with the request id). */
void gw_fail_db(gw_ctx *c);
/* Replies 409 for a refused state transition, 503/500 otherwise. */
void gw_fail_db_or_conflict(gw_ctx *c);
/* The {id} path parameter when it is a UUID; otherwise replies 404 and NULL. */
const char *gw_id_param(gw_ctx *c, const char *name);
/* The request's id for logs and upstream calls; "gateway" for the gateway's own work (a
 * context without a request: the host manager's automatic evacuation). */
const char *gw_request_id(const gw_ctx *c);
/* Replies with the first column of the first row (a JSON text) or 404. */
void gw_reply_json_text(gw_ctx *c, int status, PGresult *r, const char *what);
/* The same for a query's result, which it clears: NULL (the query failed)
 * is answered as gw_fail_db does. */
void gw_reply_query(gw_ctx *c, int status, PGresult *r, const char *what);
/* JSON body, with only the allowed fields; replies 400 itself and NULL. */
json_t *gw_body(gw_ctx *c, const char *const *allowed);
/* The {id} parameter and a body {"<flag>": bool} (nothing else); NULL after
 * replying 404/400. */
const char *gw_id_and_flag(gw_ctx *c, const char *flag, int *value);
/* r when it holds exactly one row; else NULL after replying (500/503 for a
 * failed query, 404 "no such <what>") and clearing r. */
PGresult *gw_one_row(gw_ctx *c, PGresult *r, const char *what);
/* Replies 400 "invalid_request" with err and returns -1 when rc < 0. */
int gw_check(gw_ctx *c, int rc, const char *err);
/* Pagination: limit (1..1000, default 100) and marker (UUID) from the query. */
int gw_page(gw_ctx *c, char limit[16], const char **marker);

/* upstream.c: calls to backends on behalf of the request's principal. The
 * raw call returns the HTTP status (-1: unreachable) and the body. */
long gw_upstream_call(gw_ctx *c, const gw_upstream *u, const char *method, const char *path,
                      const char *body, size_t len, char **out, size_t *outlen);
/* Forwards the tenant's request (its body when `body`) and replies with the
 * backend's answer; 503 when the backend cannot be reached. */
void gw_proxy(gw_ctx *c, const gw_upstream *u, const char *method, const char *path, int body);
/* A call whose JSON answer the gateway reads itself. */
json_t *gw_upstream_json(gw_ctx *c, const gw_upstream *u, const char *method, const char *path,
                         long *status);

/* auth.c */
void gw_auth_routes(gw *g);
/* Resolves "Bearer <token>"; 0 and p filled, or -1 with an HTTP reply sent. */
int gw_authenticate(gw_ctx *c, const char *header);
int gw_password_hash(const gw_config *gc, const char *password, char *out, size_t outlen);
/* The policy a new password must pass (libpwquality: length, dictionary
 * and common passwords, the user's name): 0, or -1 with a message in err. */
int gw_password_policy(const char *password, const char *user, char *err, size_t errlen);
/* 1 when password matches the encoded argon2id hash. */
int gw_password_verify(const char *encoded, const char *password);
/* Makes a token of the given kind; writes the secret to out (shown once).
 * It expires after ttl_s, or with the token not_after_token (an id) if that
 * comes first; NULL: no such bound. */
int gw_token_create(st_db *db, const char *kind, const char *name, const char *user_id,
                    const char *tenant_id, long long ttl_s, const char *not_after_token, char *out,
                    size_t outlen, char id[40]);

/* identity.c */
void gw_identity_routes(gw *g);
/* Creates a tenant with default quotas; returns 0, or -1 (db error). */
int gw_tenant_create(gw *g, st_db *db, const char *name, const char *description, char id[40]);

/* catalog.c */
void gw_catalog_routes(gw *g);

/* listcache.c: rendered instance-list pages, valid while the tenant's list
 * version and the host-status epoch are unchanged and before expires_us. */
typedef struct gw_list_body {
    _Atomic int refs;
    char *data; /* malloc'd, owned */
    size_t len;
    char etag[40]; /* quoted, from the body's SHA-256 */
} gw_list_body;
typedef struct gw_listcache gw_listcache;
/* Takes ownership of data; the body starts with one reference. */
gw_list_body *gw_list_body_new(char *data, size_t len);
gw_list_body *gw_list_body_ref(gw_list_body *b);
void gw_list_body_release(void *b); /* void * to serve as a free callback */
gw_listcache *gw_listcache_new(size_t max_bytes);
void gw_listcache_free(gw_listcache *lc);
/* A new reference to the body under key for exactly (version, epoch) that
 * has not expired at now_us (st_mono_us), or NULL. */
gw_list_body *gw_listcache_get(gw_listcache *lc, const char *key, long long version,
                               long long epoch, int64_t now_us);
/* Stores b (taking a reference of its own) unless a newer render is there. */
void gw_listcache_put(gw_listcache *lc, const char *key, long long version, long long epoch,
                      int64_t expires_us, gw_list_body *b);
size_t gw_listcache_bytes(gw_listcache *lc);

/* instances.c */
void gw_instance_routes(gw *g);
/* instances.c: the image service kills snapshot image, not taken (reason). */
void gw_snapshot_abandon(gw_ctx *c, const char *image, const char *reason);
/* nodes.down_after as text into char buf[16]: the argument of
 * iaas.instance_json() and iaas.node_json() (sql/views.sql), which write
 * every resource's JSON. */
#define GW_DOWN_AFTER(c, buf) snprintf(buf, sizeof buf, "%d", (c)->gw->c.node_down_after_s)
typedef struct gw_create_req {
    const char *name, *flavor, *image, *keypair, *user_data, *server_group, *idem;
    json_t *networks, *ports; /* borrowed from the body; NULL when absent */
    char sha[65];             /* of the canonical body, for idempotent replays */
    /* filled from the image service before the transaction */
    char image_id[40];
    long long image_min_disk, image_min_memory;
    int firmware;                       /* the image boots through firmware */
    char kernel_id[40], ramdisk_id[40]; /* the kernel and ramdisk it names; "" none */
} gw_create_req;
/* Validates a create-instance body (pure: no database). 0, or -1 and err. */
int gw_create_validate(json_t *body, const char *idem_key, gw_create_req *q, char *err,
                       size_t errlen);

/* scheduler.c: picks and locks a node for an instance, inside the caller's
 * transaction, avoiding nodes that already failed to launch `instance` and
 * honouring its server `group` (both may be NULL). The caller holds the
 * group's row lock. 1 placed (node_id set), 0 no host fits (reason set),
 * -1 database error. */
#include "sched_core.h"
int gw_schedule(gw *g, st_db *db, const gw_sched_req *req, const char *instance, const char *group,
                char node_id[40], char *reason, size_t reasonlen);
int gw_sched_load_policy(st_db *db, gw_sched_policy *p);
/* What the consolidation plan (consolidate.c) would move now to empty whole
 * nodes, destinations filled to `target`, at most max_moves moves; a dry
 * run: nothing moves. NULL on a database error or out of memory. */
json_t *gw_consolidation_plan(gw *g, st_db *db, double target, int max_moves);
/* What the rebalancing plan (rebalance.c) would move now to even out the
 * nodes' CPU and memory loads, at most max_moves moves while a spread is
 * above threshold; a dry run: nothing moves. Each move is what the migrate
 * action takes (the instance and its destination node). NULL on a database
 * error or out of memory. */
json_t *gw_rebalance_plan_json(gw *g, st_db *db, double threshold, int max_moves);
/* schedrun.c: a plan (either of the above) carried out. Starts its moves as live migrations
 * (gw_migrate_begin) while fewer than rebalance.max_concurrent run, and adds to it dry_run
 * false, `started` ({"instance_id", "migration_id", "to_node"}), `skipped` ({"instance_id",
 * "reason"}) and, for the consolidation, `draining` (the sources marked so no placement lands
 * on them). 0, or -1 on a database error. c may have no request (the host manager). */
int gw_plan_carry_out(gw_ctx *c, json_t *plan, int consolidation);
/* The scheduler's lock, one run at a time across the gateways (a session advisory lock on db):
 * waits up to wait_ms for it (0: only tries). 1 held, 0 another run holds it, -1 on a database
 * error. gw_sched_unlock() gives it back; the connection must not go back to the pool before. */
int gw_sched_lock(st_db *db, int wait_ms);
void gw_sched_unlock(st_db *db);
/* The host manager's tick: a rebalancing and a consolidation run when their interval
 * (rebalance.interval, consolidation.interval) has passed, once across all gateways. */
void gw_sched_auto_tick(gw *g, st_db *db);
/* Locks server group `group` (NULL: none) and describes it in req, not
 * counting `instance` itself as a member. 0, or -1 on a database error. */
int gw_sched_lock_group(st_db *db, const char *group, const char *instance, gw_sched_req *req);
/* Sets req->direct_ports: the `direct` ports bound to instance (non-NULL), or
 * among ports_json, a JSON array of the port ids tenant named (others are
 * not counted: the NIC code refuses them later). 0, or -1 on a database
 * error. */
int gw_sched_direct_ports(st_db *db, const char *instance, const char *ports_json,
                          const char *tenant, gw_sched_req *req);
/* (node_id, vcpus, memory_mib, disk_gib): what each node holds, its placed
 * instances and those migrating to it (migrate.c: reserved on the target
 * until the migration ends), a subquery. */
#define GW_NODE_HOLDS                                                                              \
    "SELECT node_id, vcpus, memory_mib, disk_gib FROM iaas.instances"                              \
    " WHERE node_id IS NOT NULL AND state NOT IN ('deleted', 'error')"                             \
    " UNION ALL SELECT m.dest_node_id, i.vcpus, i.memory_mib, i.disk_gib"                          \
    " FROM iaas.migrations m JOIN iaas.instances i ON i.id = m.instance_id"                        \
    " WHERE m.finished_at IS NULL AND m.dest_node_id IS NOT NULL"
/* (node_id, n): the SR-IOV VFs each node's placed instances hold, one per
 * bound direct port (a subquery). */
#define GW_DIRECT_PORTS_BY_NODE                                                                    \
    "SELECT i.node_id, count(*) n FROM iaas.ports p JOIN iaas.instances i"                         \
    " ON i.id = p.instance_id WHERE p.vnic_type = 'direct' AND i.node_id IS NOT NULL"              \
    " AND i.state NOT IN ('deleted', 'error') GROUP BY i.node_id"

/* power.c: the power manager (a thread with its own event loop) and the
 * nodes' power actions. gw_power_new reads power.* (NULL when there is
 * nothing for the host manager to do: no power.off_command, evacuate.automatic, nor
 * rebalance/consolidation interval); start/stop run it. */
struct gw_power *gw_power_new(gw *g);
int gw_power_start(struct gw_power *pw);
void gw_power_free(struct gw_power *pw);
/* 1 when a placement may power a host on (power.on_command is set). */
int gw_power_can_wake(const gw *g);
/* power.min_spare_hosts, or -1 when power management is off. */
int gw_power_min_spare(const gw *g);
/* Asks the manager to run pending commands now instead of at its next tick. */
void gw_power_kick(gw *g);
/* POST /v1/nodes/{id}/actions power_off|power_on (nodes.c dispatches the actions). */
void gw_node_power(gw_ctx *c, const char *id, const char *action);
/* Cloud admins only, for an action on instance id: 1 when the caller is
 * one; else 0 after replying 403 for an instance of the caller's own tenant
 * and 404 for any other (as for an unknown id). evacuate.c */
int gw_instance_admin_only(gw_ctx *c, const char *id, const char *what);
/* The node named by id or name (a "host" field): 1 found, 0 not, -1 db. */
int gw_node_resolve(gw_ctx *c, const char *host, char id[40]);
/* migrate.c: live migration (GET /v1/migrations, the nodes' reports) */
void gw_migrate_routes(gw *g);
/* {"action": "migrate"} with its parsed body b, and "migrate_cancel", on
 * instance id (instances.c's action handler; cloud admins). */
void gw_instance_migrate(gw_ctx *c, const char *id, json_t *b);
/* The migration of instance id begun (one transaction): to node only (NULL: the scheduler's
 * choice; host: how the caller named it, for messages), refused with the reason in why, as the
 * action's 409s. mid receives the migration's id. GW_MIG_DB_ERROR leaves the transaction for
 * the caller to read its error and roll back. The action and the scheduler's acting plans
 * (servergroups.c) share it. */
enum { GW_MIG_STARTED, GW_MIG_NOT_FOUND, GW_MIG_BAD_HOST, GW_MIG_REFUSED, GW_MIG_DB_ERROR };
int gw_migrate_begin(gw_ctx *c, const char *id, const char *only, const char *host,
                     long long downtime_ms, long long timeout_s, const char *on_timeout,
                     char mid[40], char *why, size_t whylen);
/* The same with block (the action's block_migration): 1 copy the local disk along, 0 the disk
 * must be shared (Ceph or instances.shared_storage), -1 auto: copy a local disk unless
 * instances.shared_storage (what gw_migrate_begin does). */
int gw_migrate_begin_block(gw_ctx *c, const char *id, const char *only, const char *host,
                           long long downtime_ms, long long timeout_s, const char *on_timeout,
                           int block, char mid[40], char *why, size_t whylen);
void gw_instance_migrate_cancel(gw_ctx *c, const char *id);
/* evacuate.c: rebuilding a dead host's instances elsewhere */
void gw_evacuate_routes(gw *g);
/* POST /v1/nodes/{id}/actions evacuate, with the parsed body b. */
void gw_node_evacuate(gw_ctx *c, const char *id, json_t *b);
/* {"action": "evacuate"} on instance id (instances.c's action handler);
 * host: a node's name or id, or NULL for the scheduler's choice. */
void gw_instance_evacuate(gw_ctx *c, const char *id, const char *host, int confirm);
/* evacuate.automatic, from the host manager's tick (power.c): every dead host's instances whose
 * disks are on Ceph, as an admin's node evacuation would move them; local disks stay. 0, or -1
 * for a database error. */
int gw_evacuate_dead_hosts(gw *g, st_db *db);
/* The heartbeat's fenced_at: kept on the node (and logged when new). 0, or
 * -1 after replying 400 (not a time) or for a database error. */
int gw_node_fenced(gw_ctx *c, const char *fenced_at);

/* servergroups.c */
void gw_server_group_routes(gw *g);

/* nodes.c */
void gw_node_routes(gw *g);
/* Replies with the node's JSON (iaas.node_json), 404 when there is none. */
void gw_node_reply(gw_ctx *c, int status, const char *id);
/* The desired set's entity tag for a node's version (quoted). */
void gw_node_etag(char etag[80], const char *node_id, long long version);
/* The node's desired-set version (0 before its first), or -1 (db error). */
long long gw_node_version(st_db *db, const char *node_id);
/* The node's desired set: one row, one JSON text column (NULL: db error). */
PGresult *gw_node_set_render(st_db *db, const char *node_id);
/* Replies with instance id's JSON whatever its tenant (nodes, cloud admins). */
void gw_reply_instance_row(gw_ctx *c, int status, const char *id);
/* Replies 200 with c->p.node_id's desired set, tagged with version. */
void gw_node_set_reply(gw_ctx *c, long long version);

/* nodewait.c: holds c's request until the node's desired-set version moves
 * from version or wait_s seconds pass, then answers it (200, or 304 with the
 * same tag). 0 held (c->req is answered later), 1 the version has moved
 * already (nothing sent), -1 cannot hold (nothing sent). */
int gw_node_wait(gw_ctx *c, long long version, int wait_s);
int gw_node_create(st_db *db, const char *name, char id[40], char *token, size_t tokenlen);
/* Replaces the credential of the node with this id or name: rows changed
 * (0: no such node) or -1. */
int gw_node_rotate(st_db *db, const char *id_or_name, char *token, size_t tokenlen);

/* network.c: networks and subnets, and what the network files share. */
void gw_network_routes(gw *g);
/* One field of a request body: its key, kind ('s' string of at most 255,
 * 'b' bool, 'i' integer in [min, max], 'a' array, 'o' object), whether it
 * is required and whether null is allowed. Lists end with {0}. */
typedef struct gw_field {
    const char *key;
    char kind;
    int required, nullable;
    long long min, max;
} gw_field;
/* 0 when b holds only these fields, with these types; else -1 and err
 * (pure: no database, no request). */
int gw_fields_check(json_t *b, const gw_field *fields, char *err, size_t errlen);
/* The body, holding only these fields with these types, as compact JSON
 * text (malloc'd) for the database; NULL after replying 400. */
char *gw_net_body(gw_ctx *c, const gw_field *fields);
/* Replies for a database refusal (SX400/403/404/409, SXQ09) with its
 * message; 0 when the failure is none of those (nothing sent). */
int gw_net_fail(gw_ctx *c);
/* Replies with r's JSON text (404 "no such <what>" for no row), or for a
 * failed query (r NULL); clears r. */
void gw_net_reply(gw_ctx *c, int status, PGresult *r, const char *what);
/* 204 for n >= 0, else the failure's reply. */
void gw_net_done(gw_ctx *c, long long n);
/* One statement outside a transaction, run again (up to three times) when
 * it failed on a deadlock or a serialisation failure: the network calls are
 * each one statement, so running one again is safe. */
PGresult *gw_net_query(gw_ctx *c, const char *sql, int n, const char *const *params);
long long gw_net_exec(gw_ctx *c, const char *sql, int n, const char *const *params);
#define gw_net_q(c, sql, ...) gw_net_query(c, sql, ST_DB_ARGS(__VA_ARGS__))
#define gw_net_x(c, sql, ...) gw_net_exec(c, sql, ST_DB_ARGS(__VA_ARGS__))
/* "true" when the caller is a cloud admin, as a query parameter. */
const char *gw_net_admin(const gw_ctx *c);

/* ports.c */
void gw_port_routes(gw *g);
/* Gives new instance `id` its NICs (q->networks, q->ports; none: a port on
 * the tenant's default network) inside the caller's transaction. 0 done,
 * 1 refused (replied), -1 database error (not replied). */
int gw_instance_nics(gw_ctx *c, const char *id, const gw_create_req *q);

/* secgroups.c */
void gw_secgroup_routes(gw *g);

/* routers.c: routers and floating IPs */
void gw_router_routes(gw *g);

/* billing_proxy.c */
void gw_billing_routes(gw *g);

/* openapi.c */
void gw_openapi_routes(gw *g);

/* dashboard.c: the web dashboard's files, GET / redirecting to it */
void gw_dashboard_routes(gw *g);

#endif
