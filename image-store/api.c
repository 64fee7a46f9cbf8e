/*
 * api.c - the JSON API of stratus-images (http.listen, common/http).
 *
 *   POST   /v1/images                     create a record (status queued); its kind
 *                                         (disk|kernel|ramdisk), boot (firmware|kernel)
 *                                         and a disk's kernel_id/ramdisk_id are fixed here
 *   GET    /v1/images                     the caller's tenant's and public images
 *                                         (?status=, ?limit= 1..1000, ?marker=<last id>;
 *                                         a marker the caller cannot see answers as an
 *                                         unknown one: an empty page)
 *   GET    /v1/images/{id}                one image
 *   PATCH  /v1/images/{id}                rename, change visibility
 *   DELETE /v1/images/{id}                status deleted; the blob goes when unused
 *                                         (409 for a kernel or ramdisk disks still name)
 *   POST   /v1/images/{id}/upload-url     a signed PUT URL on the data listener
 *   POST   /v1/images/{id}/download-url   a signed GET URL on the data listener
 *   POST   /v1/snapshots                  the gateway's, for an instance snapshot: a
 *                                         queued qcow2 image of the tenant booting as
 *                                         its source image did, bytes from the node
 *   POST   /v1/snapshots/{id}/fail        the gateway's: the snapshot was not taken
 *                                         (the image is killed with the reason)
 *
 * The snapshot routes are not proxied to tenants: the gateway calls them
 * itself when a tenant snapshots an instance (api-gateway/instances.c), so
 * source_instance_id is only ever what the gateway says. A snapshot's bytes
 * come from its instance's node (auth.c), never from an upload URL.
 *
 * Isolation as everywhere in Stratus: another tenant's private image is 404,
 * never 403. Only cloud admins publish (visibility public) or touch the
 * cloud's own images; members and admins of a tenant change its images,
 * readers only read. The bytes move on the data listener (data.c), never
 * here: evhttp would hold a whole body in memory.
 */
#include "images.h"
#include "stratus/json.h"
#include "stratus/log.h"
#include "stratus/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Access levels of the API's routes (st_api_route()). */
enum { IMG_CALLER, IMG_WRITER, IMG_READER_OF_ID };

static const char *tenant_or_null(const img_caller *c)
{
    return c->p.tenant[0] ? c->p.tenant : NULL;
}

/* A statement the database refused is our error, a 500; a lost
 * connection is an outage for the client to retry, a 503. */
static void fail_db(st_http_req *r, st_db *db)
{
    st_reply_db_error(r, db, "images");
}

/* Replies with the single JSON text value of r (404 when no row). */
/* The one image a statement returned (404 when none), or the database's
 * error when it failed (res NULL). */
static void reply_row(st_http_req *r, st_db *db, int status, PGresult *res)
{
    if (!res) {
        fail_db(r, db);
        return;
    }
    if (PQntuples(res) != 1) {
        st_http_reply_error(r, 404, ST_E_NOT_FOUND, "no such image");
        return;
    }
    const char *v = st_db_val(res, 0, 0);
    st_http_reply_raw(r, status, "application/json", v, strlen(v));
}

static const char *id_param(st_http_req *r)
{
    return st_req_uuid_param(r, "id", "image");
}

static int check_visibility(st_http_req *r, const img_caller *c, const char *vis)
{
    if (strcmp(vis, "private") && strcmp(vis, "public")) {
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST, "visibility is private or public");
        return -1;
    }
    if (!strcmp(vis, "public") && !c->p.cloud_admin) {
        st_http_reply_error(r, 403, ST_E_FORBIDDEN, "only cloud administrators publish images");
        return -1;
    }
    return 0;
}

static int can_write(st_http_req *r, const img_caller *c)
{
    if (!st_principal_can_write(&c->p) || (!c->p.tenant[0] && !c->p.cloud_admin)) {
        st_http_reply_error(r, 403, ST_E_FORBIDDEN, "this role may not change images");
        return 0;
    }
    return 1;
}

/*
 * 1 when the caller may change image id (its tenant owns it, or a cloud
 * admin); else replies 404 (unseen) or 403 (public, not owned) and returns 0.
 * *status gets the image's status.
 */
static int writable(st_http_req *r, st_db *db, const img_caller *c, const char *id, char status[16])
{
    PGresult *res = st_db_q(db,
                            "SELECT m.tenant_id IS NOT DISTINCT FROM $1::uuid, m.status"
                            " FROM images.images m WHERE " IMG_VISIBLE " AND m.id = $3",
                            tenant_or_null(c), c->p.cloud_admin ? "true" : "false", id);
    if (!res) {
        fail_db(r, db);
        return 0;
    }
    int seen = PQntuples(res) == 1;
    int owned = seen && st_db_val(res, 0, 0)[0] == 't';
    if (seen)
        snprintf(status, 16, "%s", st_db_val(res, 0, 1));
    PQclear(res);
    if (!seen) {
        st_http_reply_error(r, 404, ST_E_NOT_FOUND, "no such image");
        return 0;
    }
    if (!owned && !c->p.cloud_admin) {
        st_http_reply_error(r, 403, ST_E_FORBIDDEN, "the image belongs to the cloud");
        return 0;
    }
    return 1;
}

/* st_api.auth: the gateway's principal (a node only where it reads an
 * image its instances boot from), and for IMG_WRITER a role that may
 * change images. */
static int authorize(st_call *sc)
{
    img_caller *c = sc->who;
    if (sc->access == IMG_READER_OF_ID) {
        const char *id = id_param(sc->req);
        return id ? img_api_auth_read(sc->svc, sc->req, sc->db, id, c) : -1;
    }
    if (img_api_auth(sc->svc, sc->req, c) < 0)
        return -1;
    return sc->access == IMG_WRITER && !can_write(sc->req, c) ? -1 : 0;
}

/*
 * How a new image boots: kind disk|kernel|ramdisk (default disk); boot,
 * for disks, firmware (default) or kernel; a disk naming kernel_id (and
 * optionally ramdisk_id) boots that kernel directly, so its boot is
 * kernel. Fills *boot (NULL for a ramdisk); 0, or -1 after replying 400.
 */
static int check_boot(st_http_req *r, const char *kind, const char *boot_in, const char *kernel,
                      const char *ramdisk, const char **boot)
{
    const char *why = NULL;
    int disk = !strcmp(kind, "disk");
    if (!disk && strcmp(kind, "kernel") && strcmp(kind, "ramdisk"))
        why = "kind is disk, kernel or ramdisk";
    else if (boot_in && strcmp(boot_in, "firmware") && strcmp(boot_in, "kernel"))
        why = "boot is firmware or kernel";
    else if (!disk && (kernel || ramdisk))
        why = "only a disk image names a kernel_id or ramdisk_id";
    else if (!strcmp(kind, "kernel") && boot_in && strcmp(boot_in, "kernel"))
        why = "a kernel image boots as a kernel (boot kernel)";
    else if (!strcmp(kind, "ramdisk") && boot_in)
        why = "a ramdisk image does not boot by itself: it has no boot";
    else if (ramdisk && !kernel)
        why = "a ramdisk_id needs a kernel_id";
    else if (kernel && boot_in && strcmp(boot_in, "kernel"))
        why = "a disk image with a kernel_id boots the kernel (boot kernel)";
    else if ((kernel && !st_uuid_valid(kernel)) || (ramdisk && !st_uuid_valid(ramdisk)))
        why = "kernel_id and ramdisk_id are image ids";
    if (why) {
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST, "%s", why);
        return -1;
    }
    if (!disk)
        *boot = !strcmp(kind, "kernel") ? "kernel" : NULL;
    else
        *boot = boot_in ? boot_in : kernel ? "kernel" : "firmware";
    return 0;
}

/*
 * The image a new image of owner tenant (NULL: the cloud's) names as its
 * kernel or ramdisk (want) must be the owner's or public (public for a
 * public image: every tenant that boots it needs it), and of that kind: 0,
 * or -1 after replying 404 (unseen, as any image another tenant owns) or
 * 400 (another kind, or private under a public image).
 */
static int check_part(st_call *call, const char *tenant, const char *vis, const char *id,
                      const char *want)
{
    st_http_req *r = call->req;
    PGresult *res = st_db_q(call->db,
                            "SELECT m.kind, m.visibility FROM images.images m WHERE m.id = $2"
                            " AND m.status <> 'deleted' AND (m.visibility = 'public'"
                            "  OR m.tenant_id IS NOT DISTINCT FROM $1::uuid)",
                            tenant, id);
    if (!res) {
        fail_db(r, call->db);
        return -1;
    }
    int rc = 0;
    if (PQntuples(res) != 1) {
        st_http_reply_error(r, 404, ST_E_NOT_FOUND, "no such %s image %s", want, id);
        rc = -1;
    } else if (strcmp(st_db_val(res, 0, 0), want)) {
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST, "image %s is a %s image, not a %s", id,
                            st_db_val(res, 0, 0), want);
        rc = -1;
    } else if (!strcmp(vis, "public") && strcmp(st_db_val(res, 0, 1), "public")) {
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST,
                            "a public image's %s must be public too (%s is private)", want, id);
        rc = -1;
    }
    PQclear(res);
    return rc;
}

static void h_create(st_call *call)
{
    st_http_req *r = call->req;
    const img_caller *c = call->who;
    json_t *b = st_http_json_body(r);
    if (!b)
        return;
    static const char *const keys[] = {
        "name", "disk_format", "visibility", "min_disk_gib", "min_memory_mib",
        "kind", "boot",        "kernel_id",  "ramdisk_id",   NULL};
    const char *name = NULL, *fmt = NULL, *vis = "private", *kind = "disk", *boot_in = NULL,
               *kernel = NULL, *ramdisk = NULL, *boot;
    long long mind = 0, minm = 0;
    char err[256];
    if (st_json_only_keys(b, keys, err, sizeof err) < 0 ||
        st_json_get_str(b, "name", 1, 1, 128, &name, err, sizeof err) < 0 ||
        st_json_get_str(b, "disk_format", 1, 1, 16, &fmt, err, sizeof err) < 0 ||
        st_json_get_str(b, "visibility", 0, 1, 16, &vis, err, sizeof err) < 0 ||
        st_json_get_int(b, "min_disk_gib", 0, 0, 65536, &mind, err, sizeof err) < 0 ||
        st_json_get_int(b, "min_memory_mib", 0, 0, 4194304, &minm, err, sizeof err) < 0 ||
        st_json_get_str(b, "kind", 0, 1, 16, &kind, err, sizeof err) < 0 ||
        st_json_get_str(b, "boot", 0, 1, 16, &boot_in, err, sizeof err) < 0 ||
        st_json_get_str(b, "kernel_id", 0, 1, 64, &kernel, err, sizeof err) < 0 ||
        st_json_get_str(b, "ramdisk_id", 0, 1, 64, &ramdisk, err, sizeof err) < 0) {
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST, "%s", err);
        return;
    }
    if (strcmp(fmt, "raw") && strcmp(fmt, "qcow2")) {
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST, "disk_format is raw or qcow2");
        return;
    }
    if (check_boot(r, kind, boot_in, kernel, ramdisk, &boot) < 0 || check_visibility(r, c, vis) < 0)
        return;
    if ((kernel && check_part(call, tenant_or_null(c), vis, kernel, "kernel") < 0) ||
        (ramdisk && check_part(call, tenant_or_null(c), vis, ramdisk, "ramdisk") < 0))
        return;
    char id[40], md[24], mm[24];
    st_uuid_v4(id);
    snprintf(md, sizeof md, "%lld", mind);
    snprintf(mm, sizeof mm, "%lld", minm);
    PGresult *res =
        st_db_q(call->db,
                "INSERT INTO images.images AS m (id, tenant_id, name, visibility,"
                " status, disk_format, min_disk_gib, min_memory_mib, created_by, kind, boot,"
                " kernel_id, ramdisk_id)"
                " VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9, $10, $11, $12)"
                " RETURNING images.image_json(m)::text",
                id, tenant_or_null(c), name, vis, fmt, md, mm, c->p.user[0] ? c->p.user : NULL,
                kind, boot, kernel, ramdisk);
    reply_row(r, call->db, 201, res);
    PQclear(res);
}

static void h_list(st_call *call)
{
    st_http_req *r = call->req;
    const img_caller *c = call->who;
    st_db *db = call->db;
    const char *st = st_http_query(r, "status"), *marker;
    char limit[16];
    if (st_req_page(r, limit, &marker) < 0)
        return;
    /* A cloud admin without a tenant sees every image; otherwise the tenant's and public.
     * Pages follow (created_at, id); marker is the last id of the previous page. */
    int all = c->p.cloud_admin && !c->p.tenant[0];
    PGresult *res = st_db_q(db,
                            "SELECT json_build_object('images', coalesce(json_agg("
                            " images.image_json(p) ORDER BY p.created_at, p.id), '[]'))::text"
                            " FROM (SELECT m.* FROM images.images m WHERE " IMG_VISIBLE
                            " AND ($3::text IS NULL OR m.status = $3)"
                            " AND ($5::uuid IS NULL OR (m.created_at, m.id) >"
                            "  (SELECT created_at, id FROM images.images x WHERE x.id = $5"
                            "   AND (x.tenant_id = $1::uuid OR x.visibility = 'public'"
                            "    OR $2::bool)))"
                            " ORDER BY m.created_at, m.id LIMIT $4::int) p",
                            tenant_or_null(c), all ? "true" : "false", st, limit, marker);
    reply_row(r, db, 200, res);
    PQclear(res);
}

static void h_show(st_call *call)
{
    st_http_req *r = call->req;
    const img_caller *c = call->who;
    st_db *db = call->db;
    const char *id = st_http_param(r, "id");
    PGresult *res =
        st_db_q(db,
                "SELECT images.image_json(m)::text FROM images.images m"
                " WHERE " IMG_VISIBLE " AND m.id = $3",
                tenant_or_null(c), c->p.cloud_admin || c->is_node ? "true" : "false", id);
    reply_row(r, db, 200, res);
    PQclear(res);
}

static void h_update(st_call *call)
{
    st_http_req *r = call->req;
    const img_caller *c = call->who;
    st_db *db = call->db;
    const char *id = id_param(r);
    if (!id)
        return;
    json_t *b = st_http_json_body(r);
    if (!b)
        return;
    static const char *const keys[] = {"name", "visibility", NULL};
    const char *name = NULL, *vis = NULL;
    char err[256], status[16];
    if (st_json_only_keys(b, keys, err, sizeof err) < 0 ||
        st_json_get_str(b, "name", 0, 1, 128, &name, err, sizeof err) < 0 ||
        st_json_get_str(b, "visibility", 0, 1, 16, &vis, err, sizeof err) < 0) {
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST, "%s", err);
        return;
    }
    if (vis && check_visibility(r, c, vis) < 0)
        return;
    if (writable(r, db, c, id, status)) {
        /* Every tenant that boots a public disk needs its kernel and ramdisk:
         * a disk is published only after them, and they stay public while a
         * public disk boots with them (as at creation, check_ref). */
        PGresult *res =
            st_db_q(db,
                    "UPDATE images.images m SET name = coalesce($2, name),"
                    " visibility = coalesce($3, visibility), updated_at = now()"
                    " WHERE id = $1 AND status <> 'deleted'"
                    " AND ($3::text IS DISTINCT FROM 'public' OR NOT EXISTS (SELECT 1"
                    "  FROM images.images k WHERE k.id IN (m.kernel_id, m.ramdisk_id)"
                    "  AND k.visibility <> 'public'))"
                    " AND ($3::text IS DISTINCT FROM 'private' OR NOT EXISTS (SELECT 1"
                    "  FROM images.images d WHERE d.status <> 'deleted' AND d.visibility = 'public'"
                    "  AND (d.kernel_id = m.id OR d.ramdisk_id = m.id)))"
                    " RETURNING images.image_json(m)::text",
                    id, name, vis);
        if (!res)
            fail_db(r, db);
        else if (PQntuples(res) == 0 && !vis) /* deleted meanwhile */
            st_http_reply_error(r, 404, ST_E_NOT_FOUND, "no such image");
        else if (PQntuples(res) == 0)
            st_http_reply_error(r, 409, ST_E_CONFLICT,
                                !strcmp(vis, "public")
                                    ? "publish the image's kernel and ramdisk first: a public"
                                      " image's must be public too"
                                    : "a public image boots with this one: it must stay public");
        else
            reply_row(r, db, 200, res);
        PQclear(res);
    }
}

static void h_delete(st_call *call)
{
    st_http_req *r = call->req;
    st_db *db = call->db;
    const char *id = id_param(r);
    if (!id)
        return;
    char status[16], sha[72] = "";
    if (!writable(r, db, call->who, id, status))
        return;
    /* A kernel or ramdisk that disk images boot with stays until they go
     * (Glance would let it go and the disks fail to boot). */
    PGresult *res = st_db_q(db,
                            "UPDATE images.images SET status = 'deleted', updated_at = now()"
                            " WHERE id = $1 AND status <> 'deleted' AND NOT EXISTS (SELECT 1"
                            "  FROM images.images d WHERE d.status <> 'deleted'"
                            "  AND (d.kernel_id = $1 OR d.ramdisk_id = $1))"
                            " RETURNING checksum",
                            id);
    if (!res) {
        fail_db(r, db);
        return;
    }
    if (PQntuples(res) == 0 && strcmp(status, "deleted")) {
        PQclear(res);
        st_http_reply_error(r, 409, ST_E_CONFLICT,
                            "disk images boot with this image: delete them first");
        return;
    }
    if (PQntuples(res) == 1 && st_db_val(res, 0, 0))
        snprintf(sha, sizeof sha, "%s", st_db_val(res, 0, 0));
    PQclear(res);
    /* the collector takes a connection of its own */
    st_call_release_db(call);
    st_http_reply_json(r, 204, NULL);
    if (sha[0])
        img_blob_gc(call->svc, sha);
}

/* 1 when image id is an instance snapshot (its bytes are the node's). */
static int snapshot_of(st_db *db, const char *id)
{
    PGresult *res = st_db_q(db,
                            "SELECT 1 FROM images.images WHERE id = $1"
                            " AND source_instance_id IS NOT NULL",
                            id);
    int yes = res && PQntuples(res) == 1;
    PQclear(res);
    return yes;
}

static void signed_url(st_call *call, const char *method)
{
    st_http_req *r = call->req;
    const img_caller *c = call->who;
    img_svc *svc = call->svc;
    st_db *db = call->db;
    int put = strcmp(method, "PUT") == 0;
    const char *id = id_param(r);
    if (!id)
        return;
    char status[16] = "";
    int ok = 0;
    if (put) {
        ok = writable(r, db, c, id, status);
    } else {
        PGresult *res = st_db_q(db,
                                "SELECT m.status FROM images.images m"
                                " WHERE " IMG_VISIBLE " AND m.id = $3",
                                tenant_or_null(c), c->p.cloud_admin ? "true" : "false", id);
        if (!res)
            fail_db(r, db);
        else if (PQntuples(res) != 1)
            st_http_reply_error(r, 404, ST_E_NOT_FOUND, "no such image");
        else
            ok = snprintf(status, sizeof status, "%s", st_db_val(res, 0, 0)) > 0;
        PQclear(res);
    }
    if (!ok)
        return;
    if (put && snapshot_of(db, id)) {
        st_http_reply_error(r, 409, ST_E_CONFLICT,
                            "a snapshot's bytes come from its instance's node");
        return;
    }
    if (strcmp(status, put ? "queued" : "active") != 0) {
        st_http_reply_error(r, 409, ST_E_CONFLICT, "the image is %s; %s", status,
                            put ? "only a queued image takes an upload"
                                : "only an active image can be downloaded");
        return;
    }
    long long expires = (long long)time(NULL) + svc->url_ttl_s;
    char url[512], exp[32];
    img_url_sign(svc, method, id, expires, url, sizeof url);
    time_t t = (time_t)expires;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(exp, sizeof exp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    st_http_reply_json(
        r, 200, json_pack("{s:s, s:s, s:s}", "url", url, "method", method, "expires_at", exp));
}

static void h_upload_url(st_call *call)
{
    signed_url(call, "PUT");
}

static void h_download_url(st_call *call)
{
    signed_url(call, "GET");
}

/*
 * The gateway snapshots instance_id of the caller's tenant, which boots
 * from source_image_id: a private qcow2 disk image, queued until the node
 * uploads the flattened disk, booting as the source did (boot, kernel_id,
 * ramdisk_id, minimums copied, as Nova copies the instance's image
 * properties). The source may since have been deleted; it must be the
 * tenant's or public. An instance booted from a kernel image has that
 * kernel as its disk's bytes: its snapshot is a disk booting its own
 * bytes as the kernel (boot kernel, no kernel_id), as disks did before
 * kinds existed.
 */
static void h_snapshot_create(st_call *call)
{
    st_http_req *r = call->req;
    const img_caller *c = call->who;
    json_t *b = st_http_json_body(r);
    if (!b)
        return;
    static const char *const keys[] = {"name", "instance_id", "source_image_id", NULL};
    const char *name = NULL, *inst = NULL, *src = NULL;
    char err[256];
    if (st_json_only_keys(b, keys, err, sizeof err) < 0 ||
        st_json_get_str(b, "name", 1, 1, 255, &name, err, sizeof err) < 0 ||
        st_json_get_str(b, "instance_id", 1, 1, 64, &inst, err, sizeof err) < 0 ||
        st_json_get_str(b, "source_image_id", 1, 1, 64, &src, err, sizeof err) < 0) {
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST, "%s", err);
        return;
    }
    if (!st_uuid_valid(inst) || !st_uuid_valid(src) || !c->p.tenant[0]) {
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST,
                            "instance_id and source_image_id are UUIDs, for a tenant");
        return;
    }
    char id[40];
    st_uuid_v4(id);
    PGresult *res = st_db_q(call->db,
                            "INSERT INTO images.images AS m (id, tenant_id, name, visibility,"
                            " status, disk_format, min_disk_gib, min_memory_mib, created_by, kind,"
                            " boot, kernel_id, ramdisk_id, source_instance_id)"
                            " SELECT $1, $2, $3, 'private', 'queued', 'qcow2', s.min_disk_gib,"
                            " s.min_memory_mib, $4, 'disk', s.boot, s.kernel_id, s.ramdisk_id, $5"
                            " FROM images.images s WHERE s.id = $6 AND s.kind <> 'ramdisk'"
                            " AND (s.tenant_id = $2::uuid OR s.visibility = 'public')"
                            " RETURNING images.image_json(m)::text",
                            id, c->p.tenant, name, c->p.user[0] ? c->p.user : NULL, inst, src);
    reply_row(r, call->db, 201, res);
    PQclear(res);
}

/* The gateway says snapshot id was not taken (its node failed, or the
 * instance went): a queued or saving snapshot is killed with the reason. */
static void h_snapshot_fail(st_call *call)
{
    st_http_req *r = call->req;
    const char *id = id_param(r);
    if (!id)
        return;
    json_t *b = st_http_json_body(r);
    if (!b)
        return;
    static const char *const keys[] = {"reason", NULL};
    const char *why = NULL;
    char err[256];
    if (st_json_only_keys(b, keys, err, sizeof err) < 0 ||
        st_json_get_str(b, "reason", 1, 1, 1024, &why, err, sizeof err) < 0) {
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST, "%s", err);
        return;
    }
    PGresult *res = st_db_q(call->db,
                            "UPDATE images.images m SET status = 'killed', status_reason = $2,"
                            " updated_at = now() WHERE id = $1 AND source_instance_id IS NOT NULL"
                            " AND status IN ('queued', 'saving')"
                            " RETURNING images.image_json(m)::text",
                            id, why);
    if (!res)
        fail_db(r, call->db);
    else if (PQntuples(res) == 1)
        reply_row(r, call->db, 200, res);
    else
        st_http_reply_error(r, 409, ST_E_CONFLICT, "no snapshot of that id is being taken");
    PQclear(res);
}

void img_api_routes(img_svc *s, st_api *api, st_http_server *srv)
{
    *api = (st_api){
        .http = srv, .pool = s->db, .svc = s, .who_size = sizeof(img_caller), .auth = authorize};
    st_api_route(api, "POST /v1/images", IMG_WRITER, (st_any_fn)h_create);
    st_api_route(api, "GET /v1/images", IMG_CALLER, (st_any_fn)h_list);
    st_api_route(api, "GET /v1/images/{id}", IMG_READER_OF_ID, (st_any_fn)h_show);
    st_api_route(api, "PATCH /v1/images/{id}", IMG_WRITER, (st_any_fn)h_update);
    st_api_route(api, "DELETE /v1/images/{id}", IMG_WRITER, (st_any_fn)h_delete);
    st_api_route(api, "POST /v1/images/{id}/upload-url", IMG_WRITER, (st_any_fn)h_upload_url);
    st_api_route(api, "POST /v1/images/{id}/download-url", IMG_CALLER, (st_any_fn)h_download_url);
    st_api_route(api, "POST /v1/snapshots", IMG_WRITER, (st_any_fn)h_snapshot_create);
    st_api_route(api, "POST /v1/snapshots/{id}/fail", IMG_CALLER, (st_any_fn)h_snapshot_fail);
}
