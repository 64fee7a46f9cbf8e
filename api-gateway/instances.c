/*
 * instances.c - the instance API: create, list, show, delete, actions.
 *
 * Lifecycle. `state` is what the instance is (building, active, stopped,
 * deleting, deleted, error) and `task` what is being done to it (starting,
 * stopping, rebooting). The API changes only what should happen (the task,
 * power_desired, reboot_seq, and `deleting`), bumping `generation` so node
 * agents see a new order; nodes report what did happen (nodes.c). Every
 * state change passes the database trigger that enforces the allowed
 * transitions (migrations/0003_compute.sql); the API checks its own
 * preconditions with conditional UPDATEs and answers 409 when they fail.
 *
 * Create is one transaction: the idempotency key is inserted first (a
 * concurrent duplicate waits on its unique index and then finds the first
 * attempt's instance), then the tenant's quota row is locked FOR UPDATE and
 * usage summed from live instances (so concurrent creates in one tenant are
 * serialised and cannot both squeeze under a limit), then the flavor, image
 * and keypair are resolved within the tenant's view, the instance is placed
 * (scheduler.c) and inserted. Any failure rolls back all of it, key included.
 */
#include "gateway.h"
#include "stratus/crypto.h"
#include "stratus/json.h"
#include "stratus/log.h"
#include "stratus/timefmt.h"
#include "stratus/uuid.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USER_DATA_MAX (64 * 1024) /* base64 text, as in other clouds */

enum { DONE = 0, RETRY = -2 };

/* A deadlock or serialisation failure is retried by h_create (the whole
 * transaction again); any other database failure is answered here. */
static int fail(gw_ctx *c)
{
    if (st_db_retryable(c->db)) {
        st_db_rollback(c->db);
        return RETRY;
    }
    gw_fail_db(c);
    return DONE;
}

/* The instance as JSON; a deleted one is not found, except for the reply to
 * DELETE itself (an instance no node held is deleted at once). */
static void reply_instance_as(gw_ctx *c, int status, const char *id, int even_deleted)
{
    char down[16];
    GW_DOWN_AFTER(c, down);
    PGresult *r = gw_one_row(c,
                             st_db_q(c->db,
                                     "SELECT iaas.instance_json(i, $4)::text FROM iaas.instances i"
                                     " WHERE i.id = $1 AND i.tenant_id = $2 AND"
                                     " ($3 OR i.state <> 'deleted')",
                                     id, c->p.tenant_id, even_deleted ? "t" : "f", down),
                             "instance");
    if (!r)
        return;
    if (status == 202 && !even_deleted) {
        char loc[80];
        snprintf(loc, sizeof loc, "/v1/instances/%s", id);
        st_http_add_header(c->req, "Location", loc);
    }
    const char *json = st_db_val(r, 0, 0);
    if (status == 200) {
        /* An ETag from the bytes, as for the list: a client polling one
         * instance (the SDK's waiter) gets 304 while nothing it would see
         * changed. */
        char sha[65], etag[40];
        st_sha256_hex(json, strlen(json), sha);
        snprintf(etag, sizeof etag, "\"%.32s\"", sha);
        st_http_add_header(c->req, "Cache-Control", "private, no-cache");
        if (st_http_not_modified(c->req, etag)) {
            PQclear(r);
            return;
        }
    }
    st_http_reply_raw(c->req, status, "application/json", json, strlen(json));
    PQclear(r);
}

static void reply_instance(gw_ctx *c, int status, const char *id)
{
    reply_instance_as(c, status, id, 0);
}

static int valid_base64(const char *s)
{
    size_t n = strlen(s);
    if (n % 4)
        return 0;
    unsigned char *tmp = malloc(n / 4 * 3 + 1);
    int ok = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n) >= 0;
    free(tmp);
    return ok;
}

/* Looks up one row by id (when ref is a UUID) or by name; NULL on db error. */
static PGresult *resolve(gw_ctx *c, const char *sql_by_id, const char *sql_by_name, const char *ref)
{
    return st_db_q(c->db, st_uuid_valid(ref) ? sql_by_id : sql_by_name, c->p.tenant_id, ref);
}

/* Returns 1 when a reply was sent (error or idempotent replay), 0 to go on. */
/* 1 when a reply was sent (error or idempotent replay), 0 to go on, RETRY. */
static int claim_idempotency_key(gw_ctx *c, const gw_create_req *q, const char *id)
{
    PGresult *r = st_db_q(c->db,
                          "INSERT INTO iaas.idempotency_keys (tenant_id, key,"
                          " request_sha256, instance_id) VALUES ($1, $2, $3, $4)"
                          " ON CONFLICT DO NOTHING RETURNING 1",
                          c->p.tenant_id, q->idem, q->sha, id);
    if (!r)
        return fail(c) == RETRY ? RETRY : 1;
    int fresh = PQntuples(r) == 1;
    PQclear(r);
    if (fresh)
        return 0;
    r = st_db_q(c->db,
                "SELECT request_sha256, instance_id FROM iaas.idempotency_keys"
                " WHERE tenant_id = $1 AND key = $2",
                c->p.tenant_id, q->idem);
    if (!r)
        return fail(c) == RETRY ? RETRY : 1;
    if (strcmp(st_db_val(r, 0, 0), q->sha) != 0) {
        PQclear(r);
        st_http_reply_error(c->req, 422, ST_E_IDEMPOTENCY_KEY_REUSED,
                            "this Idempotency-Key was used for a different request");
        return 1;
    }
    char prev[40];
    snprintf(prev, sizeof prev, "%s", st_db_val(r, 0, 1));
    PQclear(r);
    st_db_rollback(c->db);
    st_http_add_header(c->req, "Idempotent-Replayed", "true");
    reply_instance(c, 202, prev);
    return 1;
}

/* Locks the tenant's quota row and checks one more instance fits: 0 fits,
 * -1 replied (over quota or error), RETRY. */
static int check_quota(gw_ctx *c, int vcpus, int mem, int disk)
{
    PGresult *q = st_db_q(c->db,
                          "SELECT instances, vcpus, memory_mib, disk_gib FROM iaas.quotas"
                          " WHERE tenant_id = $1 FOR UPDATE",
                          c->p.tenant_id);
    PGresult *u = q ? st_db_q(c->db,
                              "SELECT count(*), coalesce(sum(vcpus), 0),"
                              " coalesce(sum(memory_mib), 0), coalesce(sum(disk_gib), 0)"
                              " FROM iaas.instances WHERE tenant_id = $1"
                              " AND state <> 'deleted'",
                              c->p.tenant_id)
                    : NULL;
    if (!q || !u || PQntuples(q) != 1) {
        PQclear(q);
        PQclear(u);
        return fail(c) == RETRY ? RETRY : -1;
    }
    static const char *const what[] = {"instances", "vCPUs", "MiB of memory", "GiB of disk"};
    long long need[4] = {1, vcpus, mem, disk};
    int over = -1;
    for (int i = 0; i < 4 && over < 0; i++)
        if (st_db_int(u, 0, i) + need[i] > st_db_int(q, 0, i))
            over = i;
    if (over >= 0)
        st_http_reply_error(c->req, 409, ST_E_QUOTA_EXCEEDED,
                            "quota exceeded: %lld %s used of %lld, this instance needs %lld",
                            st_db_int(u, 0, over), what[over], st_db_int(q, 0, over), need[over]);
    PQclear(q);
    PQclear(u);
    return over >= 0 ? -1 : 0;
}

/* The ports the request names (`ports`, and `networks` entries with a
 * port_id), for the scheduler's count of the direct ones. 0, or -1 on a
 * database error. */
static int named_ports_direct(gw_ctx *c, const gw_create_req *q, gw_sched_req *sreq)
{
    json_t *ids = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(q->ports, i, e)
    {
        if (json_is_string(e))
            json_array_append(ids, e);
    }
    json_array_foreach(q->networks, i, e)
    {
        json_t *p = json_object_get(e, "port_id");
        if (json_is_string(p))
            json_array_append(ids, p);
    }
    int rc = 0;
    if (json_array_size(ids)) {
        char *text = json_dumps(ids, JSON_COMPACT);
        rc = text ? gw_sched_direct_ports(c->db, NULL, text, c->p.tenant_id, sreq) : -1;
        free(text);
    }
    json_decref(ids);
    return rc;
}

static int create_txn(gw_ctx *c, const gw_create_req *q)
{
    char id[40];
    st_uuid_v4(id);
    if (st_db_begin(c->db) < 0)
        return fail(c);
    int rc = q->idem ? claim_idempotency_key(c, q, id) : 0;
    if (rc != 0)
        return rc == RETRY ? RETRY : DONE;
    PGresult *fl = resolve(c,
                           "SELECT id, vcpus, memory_mib, disk_gib, disabled FROM iaas.flavors"
                           " WHERE $1::uuid IS NOT NULL AND id = $2::uuid",
                           "SELECT id, vcpus, memory_mib, disk_gib, disabled FROM iaas.flavors"
                           " WHERE $1::uuid IS NOT NULL AND name = $2",
                           q->flavor);
    if (!fl)
        return fail(c);
    if (PQntuples(fl) != 1 || *st_db_val(fl, 0, 4) == 't') {
        PQclear(fl);
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST, "no such flavor '%s'", q->flavor);
        return DONE;
    }
    char flavor_id[40], v[16], m[16], d[16];
    snprintf(flavor_id, sizeof flavor_id, "%s", st_db_val(fl, 0, 0));
    snprintf(v, sizeof v, "%s", st_db_val(fl, 0, 1));
    snprintf(m, sizeof m, "%s", st_db_val(fl, 0, 2));
    snprintf(d, sizeof d, "%s", st_db_val(fl, 0, 3));
    PQclear(fl);

    if (q->image_min_disk > atoll(d) || q->image_min_memory > atoll(m)) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                            "the image needs at least %lld GiB of disk and %lld MiB of memory",
                            q->image_min_disk, q->image_min_memory);
        return DONE;
    }
    const char *image_id = q->image_id;

    char keypair_id[40] = "";
    if (q->keypair) {
        PGresult *kp =
            resolve(c,
                    "SELECT id FROM iaas.keypairs WHERE tenant_id = $1"
                    " AND id = $2::uuid",
                    "SELECT id FROM iaas.keypairs WHERE tenant_id = $1 AND name = $2", q->keypair);
        if (!kp)
            return fail(c);
        if (PQntuples(kp) != 1) {
            PQclear(kp);
            st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST, "no such keypair '%s'",
                                q->keypair);
            return DONE;
        }
        snprintf(keypair_id, sizeof keypair_id, "%s", st_db_val(kp, 0, 0));
        PQclear(kp);
    }

    char group_id[40] = "";
    if (q->server_group) {
        PGresult *sg = resolve(c,
                               "SELECT id FROM iaas.server_groups WHERE tenant_id = $1"
                               " AND id = $2::uuid",
                               "SELECT id FROM iaas.server_groups WHERE tenant_id = $1"
                               " AND name = $2",
                               q->server_group);
        if (!sg)
            return fail(c);
        if (PQntuples(sg) != 1) {
            PQclear(sg);
            st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST, "no such server group '%s'",
                                q->server_group);
            return DONE;
        }
        snprintf(group_id, sizeof group_id, "%s", st_db_val(sg, 0, 0));
        PQclear(sg);
    }

    rc = check_quota(c, atoi(v), atoi(m), atoi(d));
    if (rc < 0)
        return rc == RETRY ? RETRY : DONE;
    gw_sched_req sreq = {
        .vcpus = atoi(v), .memory_mib = atoi(m), .disk_gib = atoi(d), .firmware = q->firmware};
    if (gw_sched_lock_group(c->db, group_id[0] ? group_id : NULL, NULL, &sreq) < 0)
        return fail(c);
    rc = named_ports_direct(c, q, &sreq);
    if (rc < 0)
        return fail(c);
    char node[40] = "", reason[512] = "";
    int placed = gw_schedule(c->gw, c->db, &sreq, NULL, group_id[0] ? group_id : NULL, node, reason,
                             sizeof reason);
    if (placed < 0)
        return fail(c);
    if (st_db_x(c->db,
                "INSERT INTO iaas.instances (id, tenant_id, name, flavor_id, image_id,"
                " keypair_id, user_data, vcpus, memory_mib, disk_gib, node_id, state, fault,"
                " server_group_id, boot, kernel_id, ramdisk_id, disk_backend)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,"
                " $17, $18)",
                id, c->p.tenant_id, q->name, flavor_id, image_id, keypair_id[0] ? keypair_id : NULL,
                q->user_data, v, m, d, placed ? node : NULL, placed ? "building" : "error",
                placed ? NULL : reason, group_id[0] ? group_id : NULL,
                q->firmware ? "firmware" : "kernel", q->kernel_id[0] ? q->kernel_id : NULL,
                q->ramdisk_id[0] ? q->ramdisk_id : NULL, c->gw->c.disk_rbd ? "rbd" : "local") < 0) {
        if (strcmp(st_db_sqlstate(c->db), "23514") != 0)
            return fail(c);
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                            "instance names are letters, digits, '.', '_' and '-'");
        return DONE;
    }
    rc = gw_instance_nics(c, id, q);
    if (rc < 0)
        return fail(c);
    if (rc > 0)
        return DONE;
    if (st_db_commit(c->db) < 0)
        return fail(c);
    st_log_fields(ST_LOG_INFO, "instance.create",
                  json_pack("{s:s, s:s, s:s, s:s}", "instance", id, "tenant", c->p.tenant_id,
                            "node", placed ? node : "", "request_id", st_http_request_id(c->req)));
    reply_instance(c, 202, id);
    return DONE;
}

int gw_create_validate(json_t *b, const char *idem, gw_create_req *q, char *err, size_t errlen)
{
    static const char *const keys[] = {"name",         "flavor",   "image", "keypair", "user_data",
                                       "server_group", "networks", "ports", NULL};
    memset(q, 0, sizeof *q);
    if (st_json_only_keys(b, keys, err, errlen) < 0 ||
        st_json_get_str(b, "name", 1, 1, 63, &q->name, err, errlen) < 0 ||
        st_json_get_str(b, "flavor", 1, 1, 64, &q->flavor, err, errlen) < 0 ||
        st_json_get_str(b, "image", 1, 1, 128, &q->image, err, errlen) < 0 ||
        st_json_get_str(b, "keypair", 0, 1, 64, &q->keypair, err, errlen) < 0 ||
        st_json_get_str(b, "user_data", 0, 0, USER_DATA_MAX, &q->user_data, err, errlen) < 0 ||
        st_json_get_str(b, "server_group", 0, 1, 64, &q->server_group, err, errlen) < 0)
        return -1;
    q->networks = json_object_get(b, "networks");
    q->ports = json_object_get(b, "ports");
    if (q->networks && !json_is_array(q->networks) &&
        !(json_is_string(q->networks) && !strcmp(json_string_value(q->networks), "none"))) {
        snprintf(err, errlen,
                 "networks must be an array of {\"network_id\", \"fixed_ip\"?} or"
                 " {\"port_id\"}, or \"none\"");
        return -1;
    }
    if (q->ports && !json_is_array(q->ports)) {
        snprintf(err, errlen, "ports must be an array of port ids");
        return -1;
    }
    if (q->user_data && !valid_base64(q->user_data)) {
        snprintf(err, errlen, "user_data must be base64");
        return -1;
    }
    if (idem && (strlen(idem) < 1 || strlen(idem) > 255)) {
        snprintf(err, errlen, "Idempotency-Key must be 1 to 255 characters");
        return -1;
    }
    q->idem = idem;
    /* The key identifies the request; its body must match on replay. */
    char *canon = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
    if (!canon) {
        snprintf(err, errlen, "request body cannot be serialised");
        return -1;
    }
    st_sha256_hex(canon, strlen(canon), q->sha);
    free(canon);
    return 0;
}

/*
 * How the image boots (image-store/README.md): firmware (the scheduler then
 * needs a node with it), or a kernel: the image itself, or the kernel (and
 * ramdisk) it names, which must be active now. A ramdisk boots nothing.
 * 0, or -1 after replying (400, 503).
 */
static int image_boot(gw_ctx *c, gw_create_req *q, json_t *img)
{
    const char *kind = json_string_value(json_object_get(img, "kind"));
    const char *boot = json_string_value(json_object_get(img, "boot"));
    if (kind && !strcmp(kind, "ramdisk")) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                            "image '%s' is a ramdisk: it boots only beside a kernel", q->image);
        return -1;
    }
    q->firmware = boot && !strcmp(boot, "firmware");
    static const char *const keys[2] = {"kernel_id", "ramdisk_id"};
    char *out[2] = {q->kernel_id, q->ramdisk_id};
    for (int i = 0; i < 2; i++) {
        const char *part = json_string_value(json_object_get(img, keys[i]));
        out[i][0] = 0;
        if (!part || !st_uuid_valid(part))
            continue;
        char path[128];
        long status;
        snprintf(path, sizeof path, "/v1/images/%s", part);
        json_t *p = gw_upstream_json(c, &c->gw->images, "GET", path, &status);
        const char *st = json_string_value(json_object_get(p, "status"));
        int ok = status == 200 && st && !strcmp(st, "active");
        json_decref(p);
        if (status < 0 || status >= 500) {
            st_http_add_header(c->req, "Retry-After", "2");
            st_http_reply_error(c->req, 503, ST_E_UNAVAILABLE,
                                "the image service is unavailable; retry");
            return -1;
        }
        if (!ok) {
            st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                                "image '%s' boots with %s %s, which is not active", q->image,
                                i ? "ramdisk" : "kernel", part);
            return -1;
        }
        snprintf(out[i], 40, "%s", part);
    }
    return 0;
}

/*
 * Finds the image the tenant named (an id, or a unique name among the images
 * it can see) in the image service and checks it can boot: it must be
 * active. Fills q->image_id and the image's minimum sizes. 0, or -1 after
 * replying (400 unknown/ambiguous/not active, 503 image service down).
 */
static int resolve_image(gw_ctx *c, gw_create_req *q)
{
    long status;
    json_t *img = NULL, *list = NULL;
    char path[256];
    if (st_uuid_valid(q->image)) {
        snprintf(path, sizeof path, "/v1/images/%s", q->image);
        img = gw_upstream_json(c, &c->gw->images, "GET", path, &status);
    } else {
        list = gw_upstream_json(c, &c->gw->images, "GET", "/v1/images?limit=1000", &status);
        json_t *it;
        size_t i;
        int matches = 0;
        json_array_foreach(json_object_get(list, "images"), i, it)
        {
            if (json_is_string(json_object_get(it, "name")) &&
                !strcmp(json_string_value(json_object_get(it, "name")), q->image)) {
                img = it;
                matches++;
            }
        }
        if (matches > 1) {
            json_decref(list);
            st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                                "image name '%s' is ambiguous; use its id", q->image);
            return -1;
        }
        json_incref(img);
        json_decref(list);
        if (status == 200 && !img)
            status = 404;
    }
    if (status < 0 || status >= 500) {
        json_decref(img);
        st_http_add_header(c->req, "Retry-After", "2");
        st_http_reply_error(c->req, 503, ST_E_UNAVAILABLE,
                            "the image service is unavailable; retry");
        return -1;
    }
    const char *st = json_string_value(json_object_get(img, "status"));
    const char *id = json_string_value(json_object_get(img, "id"));
    if (status != 200 || !st || !id) {
        json_decref(img);
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST, "no such image '%s'", q->image);
        return -1;
    }
    if (strcmp(st, "active") != 0) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                            "image '%s' is %s, not active: upload its data first", q->image, st);
        json_decref(img);
        return -1;
    }
    snprintf(q->image_id, sizeof q->image_id, "%s", id);
    q->image_min_disk = json_integer_value(json_object_get(img, "min_disk_gib"));
    q->image_min_memory = json_integer_value(json_object_get(img, "min_memory_mib"));
    int rc = image_boot(c, q, img);
    json_decref(img);
    return rc;
}

static void h_create(gw_ctx *c)
{
    json_t *b = st_http_json_body(c->req);
    if (!b)
        return;
    gw_create_req q;
    char err[256];
    if (gw_check(
            c,
            gw_create_validate(b, st_http_header(c->req, "Idempotency-Key"), &q, err, sizeof err),
            err) < 0)
        return;
    if (resolve_image(c, &q) < 0)
        return;
    for (int attempt = 0; create_txn(c, &q) == RETRY; attempt++) {
        if (attempt == 3) {
            st_http_reply_error(c->req, 503, ST_E_UNAVAILABLE, "too much contention; retry");
            return;
        }
    }
}

/* The list cache's key: the tenant and every query parameter that shapes
 * the page, each length-prefixed (-1: absent) so that no two different
 * queries share a key. -1 when it does not fit (such a page is not cached). */
static int list_key(char *out, size_t n, const char *tenant, const char *state, const char *name,
                    const char *marker, const char *limit)
{
    int k = snprintf(out, n, "%s|%d:%s|%d:%s|%s|%s", tenant, state ? (int)strlen(state) : -1,
                     state ? state : "", name ? (int)strlen(name) : -1, name ? name : "",
                     marker ? marker : "-", limit);
    return k > 0 && (size_t)k < n ? 0 : -1;
}

/* 200 with the page, or 304 when the client already holds it; releases b. */
static void reply_list_body(gw_ctx *c, gw_list_body *b)
{
    /* clients may keep the page but must ask again (If-None-Match) */
    st_http_add_header(c->req, "Cache-Control", "private, no-cache");
    if (st_http_not_modified(c->req, b->etag)) {
        gw_list_body_release(b);
        return;
    }
    st_http_reply_ref(c->req, 200, "application/json", b->data, b->len, gw_list_body_release, b);
}

static void h_list(gw_ctx *c)
{
    char limit[16];
    const char *marker = NULL;
    if (gw_page(c, limit, &marker) < 0)
        return;
    const char *state = st_http_query(c->req, "state");
    const char *name = st_http_query(c->req, "name");
    /* Taken before the database is read: an expiry counted from here is
     * never later than the moment a host in the page would turn down. */
    int64_t now = st_mono_us();
    char key[512];
    int cacheable =
        c->gw->lists && list_key(key, sizeof key, c->p.tenant_id, state, name, marker, limit) == 0;
    if (cacheable) {
        gw_list_body *b =
            gw_listcache_get(c->gw->lists, key, c->p.list_version, c->p.host_epoch, now);
        if (b) {
            reply_list_body(c, b);
            return;
        }
    }
    if (marker) {
        PGresult *mk = st_db_q(c->db,
                               "SELECT 1 FROM iaas.instances WHERE id = $1"
                               " AND tenant_id = $2",
                               marker, c->p.tenant_id);
        int ok = mk && PQntuples(mk) == 1;
        PQclear(mk);
        if (!ok) {
            st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST, "unknown marker");
            return;
        }
    }
    /* Keyset pagination on (created_at, id): stable under concurrent
     * inserts. The page comes back as one JSON text, with how long it stays
     * true: until its first "up" host's heartbeat is too old (NULL: no such
     * host). */
    char down[16];
    GW_DOWN_AFTER(c, down);
    PGresult *r = st_db_q(c->db,
                          "WITH page AS (SELECT i, i.created_at, i.id, iaas.host_age(n) AS age"
                          "  FROM iaas.instances i LEFT JOIN iaas.nodes n ON n.id = i.node_id"
                          "  WHERE i.tenant_id = $1 AND i.state <> 'deleted'"
                          "  AND ($2::text IS NULL OR i.state = $2)"
                          "  AND ($3::text IS NULL OR i.name = $3)"
                          "  AND ($4::uuid IS NULL OR (i.created_at, i.id) >"
                          "   (SELECT created_at, id FROM iaas.instances WHERE id = $4))"
                          "  ORDER BY i.created_at, i.id LIMIT $5::int)"
                          " SELECT json_build_object('instances', coalesce(json_agg("
                          "  iaas.instance_json(p.i, $6) ORDER BY p.created_at, p.id), '[]'),"
                          "  'next', CASE WHEN count(*) = $5::int THEN (array_agg(p.id"
                          "   ORDER BY p.created_at DESC, p.id DESC))[1] END)::text,"
                          " min($6::int - p.age) FILTER (WHERE p.age BETWEEN 0 AND $6::int)"
                          " FROM page p",
                          c->p.tenant_id, state, name, marker, limit, down);
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        gw_fail_db(c);
        return;
    }
    const char *json = st_db_val(r, 0, 0);
    long long up_for = st_db_val(r, 0, 1) ? st_db_int(r, 0, 1) : -1;
    char *copy = strdup(json);
    gw_list_body *b = copy ? gw_list_body_new(copy, strlen(copy)) : NULL;
    PQclear(r);
    if (!b) {
        st_http_reply_error(c->req, 500, ST_E_INTERNAL, "out of memory");
        return;
    }
    if (cacheable)
        gw_listcache_put(c->gw->lists, key, c->p.list_version, c->p.host_epoch,
                         up_for < 0 ? INT64_MAX : now + up_for * 1000000, b);
    reply_list_body(c, b);
}

static void h_show(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (id)
        reply_instance(c, 200, id);
}

/* 404 when the instance is not the tenant's, else 409 with its state. */
static void explain_refusal(gw_ctx *c, const char *id, const char *action)
{
    PGresult *r = st_db_q(c->db,
                          "SELECT state, task FROM iaas.instances WHERE id = $1"
                          " AND tenant_id = $2 AND state <> 'deleted'",
                          id, c->p.tenant_id);
    if (!r) {
        gw_fail_db(c);
        return;
    }
    if (PQntuples(r) != 1)
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such instance");
    else if (st_db_val(r, 0, 1))
        st_http_reply_error(c->req, 409, ST_E_CONFLICT, "cannot %s: the instance is %s (%s)",
                            action, st_db_val(r, 0, 0), st_db_val(r, 0, 1));
    else
        st_http_reply_error(c->req, 409, ST_E_CONFLICT, "cannot %s an instance that is %s", action,
                            st_db_val(r, 0, 0));
    PQclear(r);
}

static void h_delete(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    /* With no node holding it there is nothing to tear down: gone at once.
     * A snapshot being taken is abandoned (its image killed), as Nova's
     * delete during image_snapshot does. */
    PGresult *r = st_db_q(c->db,
                          "UPDATE iaas.instances i SET generation = i.generation + 1, task = NULL,"
                          " state = CASE WHEN i.node_id IS NULL THEN 'deleted' ELSE 'deleting' END"
                          " FROM iaas.instances o WHERE o.id = i.id AND i.id = $1"
                          " AND i.tenant_id = $2 AND i.state NOT IN ('deleting', 'deleted')"
                          " RETURNING CASE WHEN o.task = 'image_snapshot'"
                          "  THEN o.snapshot_image_id END",
                          id, c->p.tenant_id);
    long long n = r ? PQntuples(r) : -1;
    if (n == 1 && st_db_val(r, 0, 0))
        gw_snapshot_abandon(c, st_db_val(r, 0, 0), "the instance was deleted");
    PQclear(r);
    if (n < 0)
        gw_fail_db_or_conflict(c);
    else if (n == 0)
        explain_refusal(c, id, "delete");
    else /* what actions answer: the instance, now deleting (or deleted) */
        reply_instance_as(c, 202, id, 1);
}

/*
 * Tells the image service that snapshot image was not taken (reason): the
 * image is killed, as a failed upload's is. Best effort: an image service
 * that cannot be reached leaves it queued, never active without bytes.
 */
void gw_snapshot_abandon(gw_ctx *c, const char *image, const char *reason)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/snapshots/%s/fail", image);
    json_t *j = json_pack("{s:s}", "reason", reason);
    char *body = json_dumps(j, JSON_COMPACT);
    long status = gw_upstream_call(c, &c->gw->images, "POST", path, body, strlen(body), NULL, NULL);
    if (status != 200)
        st_log_fields(ST_LOG_WARN, "instance.snapshot_abandon",
                      json_pack("{s:s, s:s, s:I}", "image", image, "reason", reason, "status",
                                (json_int_t)status));
    free(body);
    json_decref(j);
}

/*
 * Snapshot (Nova's createImage, EC2's CreateImage): the image service makes
 * the tenant's image record (queued, booting as the instance's image did,
 * source_instance_id naming the instance), then the instance takes task
 * image_snapshot with that image as its node's order. The node flattens the
 * disk (pausing a running guest around the copy) and uploads it with its
 * own credential, which the image service takes for this image only. 202
 * with the image's id; the image goes active when its bytes are in, and the
 * node's report clears the task.
 */
static void snapshot(gw_ctx *c, const char *id, const char *name)
{
    PGresult *r = st_db_q(c->db,
                          "SELECT image_id, state IN ('active', 'stopped') AND task IS NULL"
                          " FROM iaas.instances WHERE id = $1 AND tenant_id = $2"
                          " AND state <> 'deleted'",
                          id, c->p.tenant_id);
    if (!r) {
        gw_fail_db(c);
        return;
    }
    int ok = PQntuples(r) == 1 && st_db_val(r, 0, 1)[0] == 't';
    char src[40];
    snprintf(src, sizeof src, "%s", PQntuples(r) == 1 ? st_db_val(r, 0, 0) : "");
    PQclear(r);
    if (!ok) {
        explain_refusal(c, id, "snapshot");
        return;
    }
    json_t *j =
        json_pack("{s:s, s:s, s:s}", "name", name, "instance_id", id, "source_image_id", src);
    char *body = json_dumps(j, JSON_COMPACT), *out = NULL;
    json_decref(j);
    size_t outlen = 0;
    long status = gw_upstream_call(c, &c->gw->images, "POST", "/v1/snapshots", body, strlen(body),
                                   &out, &outlen);
    free(body);
    json_t *img = status == 201 ? json_loadb(out ? out : "", outlen, 0, NULL) : NULL;
    const char *image = json_string_value(json_object_get(img, "id"));
    free(out);
    if (!image && status >= 400 && status < 500) {
        json_decref(img);
        st_http_reply_error(c->req, 409, ST_E_CONFLICT,
                            "the image service refused the snapshot (%ld): the instance's image"
                            " is no longer the tenant's to copy",
                            status);
        return;
    }
    if (!image) {
        json_decref(img);
        st_http_add_header(c->req, "Retry-After", "2");
        st_http_reply_error(c->req, 503, ST_E_UNAVAILABLE,
                            "the images service is unavailable; retry");
        return;
    }
    long long n = st_db_x(c->db,
                          "UPDATE iaas.instances SET task = 'image_snapshot',"
                          " snapshot_image_id = $3, generation = generation + 1"
                          " WHERE id = $1 AND tenant_id = $2"
                          " AND state IN ('active', 'stopped') AND task IS NULL",
                          id, c->p.tenant_id, image);
    if (n != 1) {
        gw_snapshot_abandon(c, image, "the instance changed before its snapshot began");
        if (n < 0)
            gw_fail_db(c);
        else
            explain_refusal(c, id, "snapshot");
        json_decref(img);
        return;
    }
    char loc[80];
    snprintf(loc, sizeof loc, "/v1/images/%s", image);
    st_http_add_header(c->req, "Location", loc);
    st_http_reply_json(c->req, 202, json_pack("{s:s}", "image_id", image));
    json_decref(img);
}

static void h_action(gw_ctx *c)
{
    static const char *const keys[] = {"action",      "force",
                                       "type",        "name",
                                       "host",        "confirm_data_loss",
                                       "downtime_ms", "timeout_s",
                                       "on_timeout",  "block_migration",
                                       NULL};
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    json_t *b = gw_body(c, keys);
    if (!b)
        return;
    const char *action = NULL, *type = NULL, *name = NULL, *host = NULL;
    int force = 0, confirm = 0;
    char err[256];
    if (gw_check(c, st_json_get_str(b, "action", 1, 1, 16, &action, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_bool(b, "force", 0, &force, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_str(b, "type", 0, 1, 8, &type, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_str(b, "name", 0, 1, 255, &name, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_str(b, "host", 0, 1, 63, &host, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_bool(b, "confirm_data_loss", 0, &confirm, err, sizeof err), err) <
            0)
        return;
    int evacuate = !strcmp(action, "evacuate"), migrate = !strcmp(action, "migrate");
    int mig_keys = json_object_get(b, "downtime_ms") || json_object_get(b, "timeout_s") ||
                   json_object_get(b, "on_timeout") || json_object_get(b, "block_migration");
    if (migrate && !name && !type && !json_object_get(b, "force") &&
        !json_object_get(b, "confirm_data_loss")) {
        gw_instance_migrate(c, id, b); /* cloud admins: migrate.c */
        return;
    }
    if (!strcmp(action, "migrate_cancel") && json_object_size(b) == 1) {
        gw_instance_migrate_cancel(c, id);
        return;
    }
    if (mig_keys) {
        st_http_reply_error(
            c->req, 400, ST_E_INVALID_REQUEST,
            "fields 'downtime_ms', 'timeout_s', 'on_timeout' and 'block_migration' are for migrate"
            " only");
        return;
    }
    if (!evacuate && (host || json_object_get(b, "confirm_data_loss"))) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                            "field 'host' is for evacuate and migrate, 'confirm_data_loss' for"
                            " evacuate only");
        return;
    }
    if (evacuate && !name && !type && !json_object_get(b, "force")) {
        gw_instance_evacuate(c, id, host, confirm); /* cloud admins: evacuate.c */
        return;
    }
    if (!strcmp(action, "snapshot") != !!name) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                            "a snapshot needs a 'name' (1-255 characters), only a snapshot");
        return;
    }
    if (name) {
        snapshot(c, id, name);
        return;
    }
    if (json_object_get(b, "force") && strcmp(action, "stop")) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST, "field 'force' is for stop only");
        return;
    }
    if (type && (strcmp(action, "reboot") || (strcmp(type, "soft") && strcmp(type, "hard")))) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                            "field 'type' is for reboot only, soft or hard");
        return;
    }
    /* $3: stop_force for a stop, reboot_hard for a reboot (the order the node reads) */
    const char *flag = (force || (type && !strcmp(type, "hard"))) ? "true" : "false";
    const char *sql;
    /* A force stop also escalates a graceful stop still waiting for its guest
     * (EC2's force stop of a stopping instance): a new generation whose order
     * ends the node's wait at once. */
    if (!strcmp(action, "stop"))
        sql = "UPDATE iaas.instances SET task = 'stopping', power_desired = 'stopped',"
              " stop_force = $3::boolean,"
              " generation = generation + 1 WHERE id = $1 AND tenant_id = $2"
              " AND state = 'active' AND (task IS NULL"
              " OR ($3::boolean AND task = 'stopping' AND NOT stop_force))";
    else if (!strcmp(action, "start"))
        sql = "UPDATE iaas.instances SET task = 'starting', power_desired = 'running',"
              " generation = generation + 1 WHERE id = $1 AND tenant_id = $2"
              " AND state = 'stopped' AND task IS NULL";
    else if (!strcmp(action, "reboot"))
        sql = "UPDATE iaas.instances SET task = 'rebooting', reboot_seq = reboot_seq + 1,"
              " reboot_hard = $3::boolean,"
              " generation = generation + 1 WHERE id = $1 AND tenant_id = $2"
              " AND state = 'active' AND task IS NULL";
    else {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                            "action must be start, stop, reboot, snapshot, evacuate, migrate or"
                            " migrate_cancel");
        return;
    }
    long long n = !strcmp(action, "start") ? st_db_x(c->db, sql, id, c->p.tenant_id)
                                           : st_db_x(c->db, sql, id, c->p.tenant_id, flag);
    if (n < 0)
        gw_fail_db_or_conflict(c);
    else if (n == 0)
        explain_refusal(c, id, action);
    else
        reply_instance(c, 202, id);
}

/* Console bytes as valid UTF-8 text: invalid sequences become U+FFFD, and
 * control characters other than newline and tab are dropped. */
static char *console_text(const unsigned char *p, size_t n)
{
    char *out = malloc(3 * n + 1), *o = out;
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        int ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++)
            ok = (p[i + k] & 0xC0) == 0x80;
        if (ok && len == 2 && c < 0xC2)
            ok = 0; /* overlong */
        if (ok && len == 3 && ((c == 0xE0 && p[i + 1] < 0xA0) || (c == 0xED && p[i + 1] >= 0xA0)))
            ok = 0; /* overlong, surrogate */
        if (ok && len == 4 &&
            ((c == 0xF0 && p[i + 1] < 0x90) || c > 0xF4 || (c == 0xF4 && p[i + 1] >= 0x90)))
            ok = 0;
        if (!ok) {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
            continue;
        }
        if (len == 1 && c < 0x20 && c != '\n' && c != '\t') {
            i++;
            continue;
        }
        memcpy(o, p + i, len);
        o += len;
        i += len;
    }
    *o = 0;
    return out;
}

static void h_console(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    PGresult *r = gw_one_row(c,
                             st_db_q(c->db,
                                     "SELECT co.output, co.updated_at"
                                     " FROM iaas.instances i LEFT JOIN"
                                     " iaas.instance_consoles co ON co.instance_id = i.id"
                                     " WHERE i.id = $1 AND i.tenant_id = $2"
                                     " AND i.state <> 'deleted'",
                                     id, c->p.tenant_id),
                             "instance");
    if (!r)
        return;
    size_t n = 0;
    unsigned char *raw =
        st_db_val(r, 0, 0) ? PQunescapeBytea((const unsigned char *)st_db_val(r, 0, 0), &n) : NULL;
    char *text = console_text(raw ? raw : (const unsigned char *)"", n);
    PQfreemem(raw);
    const char *tail = st_http_query(c->req, "tail");
    const char *start = text;
    if (tail) {
        /* the last N lines */
        long want = strtol(tail, NULL, 10);
        const char *e = text + strlen(text);
        if (e > text && e[-1] == '\n')
            e--;
        while (want > 0 && e > text) {
            if (*--e == '\n')
                want--;
        }
        start = want > 0 || e == text ? text : e + 1;
    }
    PGresult *j =
        st_db_q(c->db, "SELECT iaas.console_json($1, $2)::text", start, st_db_val(r, 0, 1));
    free(text);
    PQclear(r);
    gw_reply_query(c, 200, j, "instance");
}

void gw_instance_routes(gw *g)
{
    gw_route(g, "POST /v1/instances", GW_TENANT_WRITE, h_create);
    gw_route(g, "GET /v1/instances", GW_TENANT_READ, h_list);
    gw_route(g, "GET /v1/instances/{id}", GW_TENANT_READ, h_show);
    gw_route(g, "DELETE /v1/instances/{id}", GW_TENANT_WRITE, h_delete);
    gw_route(g, "POST /v1/instances/{id}/actions", GW_TENANT_WRITE, h_action);
    gw_route(g, "GET /v1/instances/{id}/console", GW_TENANT_READ, h_console);
}
