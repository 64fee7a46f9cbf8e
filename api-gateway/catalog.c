/*
 * catalog.c - flavors, images, keypairs and quotas.
 *
 * Flavors are cloud-wide and admin-defined. Images live in the image service
 * (stratus-images): the gateway forwards tenants' image calls to it with
 * their identity, and the image service applies the rules (private to a
 * tenant or public; only cloud admins publish). Keypairs belong to a tenant.
 * Quotas are per-tenant limits; usage is always computed from the tenant's
 * live instances, never stored.
 */
#include "gateway.h"
#include "sshkey.h"
#include "stratus/json.h"
#include "stratus/uuid.h"

#include <stdio.h>
#include <string.h>

/* ---- Flavors ---- */

static void h_flavor_list(gw_ctx *c)
{
    PGresult *r = st_db_q(c->db,
                          "SELECT json_build_object('flavors', coalesce(json_agg("
                          " iaas.flavor_json(f) ORDER BY f.vcpus, f.memory_mib, f.name),"
                          " '[]'))::text FROM iaas.flavors f WHERE $1 OR NOT f.disabled",
                          c->p.cloud_admin ? "true" : "false");
    gw_reply_query(c, 200, r, "flavor");
}

static void h_flavor_show(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    /* a disabled flavor is hidden by id as it is in the list, but for cloud admins */
    PGresult *r = st_db_q(c->db,
                          "SELECT iaas.flavor_json(f)::text FROM iaas.flavors f"
                          " WHERE id = $1 AND ($2 OR NOT f.disabled)",
                          id, c->p.cloud_admin ? "true" : "false");
    gw_reply_query(c, 200, r, "flavor");
}

static void h_flavor_create(gw_ctx *c)
{
    static const char *const keys[] = {"name", "vcpus", "memory_mib", "disk_gib", NULL};
    json_t *b = gw_body(c, keys);
    if (!b)
        return;
    const char *name = NULL;
    long long vcpus = 0, mem = 0, disk = 0;
    char err[256];
    if (gw_check(c, st_json_get_str(b, "name", 1, 1, 63, &name, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_int(b, "vcpus", 1, 1, 256, &vcpus, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_int(b, "memory_mib", 1, 16, 4194304, &mem, err, sizeof err), err) <
            0 ||
        gw_check(c, st_json_get_int(b, "disk_gib", 1, 0, 65536, &disk, err, sizeof err), err) < 0)
        return;
    char id[40], v[24], m[24], d[24];
    st_uuid_v4(id);
    snprintf(v, sizeof v, "%lld", vcpus);
    snprintf(m, sizeof m, "%lld", mem);
    snprintf(d, sizeof d, "%lld", disk);
    PGresult *r = st_db_q(c->db,
                          "INSERT INTO iaas.flavors AS f (id, name, vcpus, memory_mib,"
                          " disk_gib) VALUES ($1, $2, $3, $4, $5)"
                          " RETURNING iaas.flavor_json(f)::text",
                          id, name, v, m, d);
    if (!r) {
        if (st_db_unique_violation(c->db))
            st_http_reply_error(c->req, 409, ST_E_CONFLICT, "a flavor named '%s' exists", name);
        else if (strcmp(st_db_sqlstate(c->db), "23514") == 0)
            st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                                "flavor names are letters, digits, '.', '_' and '-'");
        else
            gw_fail_db(c);
        return;
    }
    gw_reply_json_text(c, 201, r, "flavor");
    PQclear(r);
}

static void h_flavor_update(gw_ctx *c)
{
    int disabled = 0;
    const char *id = gw_id_and_flag(c, "disabled", &disabled);
    if (!id)
        return;
    PGresult *r = st_db_q(c->db,
                          "UPDATE iaas.flavors f SET disabled = $2 WHERE id = $1"
                          " RETURNING iaas.flavor_json(f)::text",
                          id, disabled ? "true" : "false");
    gw_reply_query(c, 200, r, "flavor");
}

static void h_flavor_delete(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    long long n = st_db_x(c->db, "DELETE FROM iaas.flavors WHERE id = $1", id);
    if (n < 0 && strcmp(st_db_sqlstate(c->db), "23503") == 0)
        st_http_reply_error(c->req, 409, ST_E_CONFLICT,
                            "instances use this flavor; disable it instead (PATCH disabled)");
    else if (n < 0)
        gw_fail_db(c);
    else if (n == 0)
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such flavor");
    else
        st_http_reply_json(c->req, 204, NULL);
}

/* ---- Images: the image service's, reached through the gateway ---- */

/* Forwards to stratus-images with the caller as principal; the image
 * service applies the visibility and ownership rules. */
static void image_proxy(gw_ctx *c, const char *method, const char *suffix, int body)
{
    const char *id = st_http_param(c->req, "id");
    if (id && !gw_id_param(c, "id"))
        return;
    const char *q = st_http_query_string(c->req);
    char path[512];
    snprintf(path, sizeof path, "/v1/images%s%s%s%s%s", id ? "/" : "", id ? id : "", suffix,
             q && !id ? "?" : "", q && !id ? q : "");
    gw_proxy(c, &c->gw->images, method, path, body);
}

static void h_image_list(gw_ctx *c)
{
    image_proxy(c, "GET", "", 0);
}
static void h_image_show(gw_ctx *c)
{
    image_proxy(c, "GET", "", 0);
}
static void h_image_create(gw_ctx *c)
{
    image_proxy(c, "POST", "", 1);
}
static void h_image_update(gw_ctx *c)
{
    image_proxy(c, "PATCH", "", 1);
}
static void h_image_delete(gw_ctx *c)
{
    image_proxy(c, "DELETE", "", 0);
}
static void h_image_upload_url(gw_ctx *c)
{
    image_proxy(c, "POST", "/upload-url", 0);
}
static void h_image_download_url(gw_ctx *c)
{
    image_proxy(c, "POST", "/download-url", 0);
}

/* ---- Keypairs ---- */

static void h_keypair_list(gw_ctx *c)
{
    PGresult *r = st_db_q(c->db,
                          "SELECT json_build_object('keypairs', coalesce(json_agg("
                          " iaas.keypair_json(k) ORDER BY k.name), '[]'))::text"
                          " FROM iaas.keypairs k WHERE tenant_id = $1",
                          c->p.tenant_id);
    gw_reply_query(c, 200, r, "keypair");
}

static void h_keypair_show(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    PGresult *r = st_db_q(c->db,
                          "SELECT iaas.keypair_json(k)::text FROM iaas.keypairs k"
                          " WHERE tenant_id = $1 AND id = $2",
                          c->p.tenant_id, id);
    gw_reply_query(c, 200, r, "keypair");
}

static void h_keypair_create(gw_ctx *c)
{
    static const char *const keys[] = {"name", "public_key", NULL};
    json_t *b = gw_body(c, keys);
    if (!b)
        return;
    const char *name = NULL, *pub = NULL;
    char err[256], fp[80], id[40];
    if (gw_check(c, st_json_get_str(b, "name", 1, 1, 63, &name, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_str(b, "public_key", 1, 1, GW_SSHKEY_MAX, &pub, err, sizeof err),
                 err) < 0 ||
        gw_check(c, gw_sshkey_check(pub, fp, sizeof fp, err, sizeof err), err) < 0)
        return;
    st_uuid_v4(id);
    PGresult *r = st_db_q(c->db,
                          "INSERT INTO iaas.keypairs AS k (id, tenant_id, name, public_key,"
                          " fingerprint) VALUES ($1, $2, $3, $4, $5)"
                          " RETURNING iaas.keypair_json(k)::text",
                          id, c->p.tenant_id, name, pub, fp);
    if (!r) {
        if (st_db_unique_violation(c->db))
            st_http_reply_error(c->req, 409, ST_E_CONFLICT, "a keypair named '%s' exists", name);
        else if (strcmp(st_db_sqlstate(c->db), "23514") == 0)
            st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                                "keypair names are letters, digits, '.', '_' and '-'");
        else
            gw_fail_db(c);
        return;
    }
    gw_reply_json_text(c, 201, r, "keypair");
    PQclear(r);
}

static void h_keypair_delete(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    long long n = st_db_x(c->db, "DELETE FROM iaas.keypairs WHERE tenant_id = $1 AND id = $2",
                          c->p.tenant_id, id);
    if (n < 0)
        gw_fail_db(c);
    else if (n == 0)
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such keypair");
    else
        st_http_reply_json(c->req, 204, NULL);
}

/* ---- Quotas ---- */

static void quota_reply(gw_ctx *c, const char *tenant)
{
    PGresult *r = st_db_q(c->db,
                          "SELECT iaas.quota_json(q)::text FROM iaas.quotas q"
                          " WHERE q.tenant_id = $1",
                          tenant);
    gw_reply_query(c, 200, r, "tenant");
}

static void h_quota_mine(gw_ctx *c)
{
    quota_reply(c, c->p.tenant_id);
}

static void h_quota_show(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (id)
        quota_reply(c, id);
}

static void h_quota_set(gw_ctx *c)
{
    static const char *const keys[] = {"instances",       "vcpus",        "memory_mib",
                                       "disk_gib",        "networks",     "ports",
                                       "security_groups", "floating_ips", NULL};
    enum { N = 8 };
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    json_t *b = gw_body(c, keys);
    if (!b)
        return;
    long long v[N];
    char err[256], s[N][24];
    for (int i = 0; i < N; i++) {
        v[i] = -1;
        if (gw_check(c, st_json_get_int(b, keys[i], 0, 0, 1LL << 40, &v[i], err, sizeof err), err) <
            0)
            return;
        snprintf(s[i], sizeof s[i], "%lld", v[i]);
    }
    /* Lowering a limit below current usage is allowed (nothing is killed);
     * it only blocks new objects until usage falls under it. */
    long long n = st_db_x(c->db,
                          "UPDATE iaas.quotas SET"
                          " instances = CASE WHEN $2::bigint < 0 THEN instances ELSE $2 END,"
                          " vcpus = CASE WHEN $3::bigint < 0 THEN vcpus ELSE $3 END,"
                          " memory_mib = CASE WHEN $4::bigint < 0 THEN memory_mib ELSE $4 END,"
                          " disk_gib = CASE WHEN $5::bigint < 0 THEN disk_gib ELSE $5 END,"
                          " networks = CASE WHEN $6::bigint < 0 THEN networks ELSE $6 END,"
                          " ports = CASE WHEN $7::bigint < 0 THEN ports ELSE $7 END,"
                          " security_groups = CASE WHEN $8::bigint < 0 THEN security_groups"
                          "  ELSE $8 END,"
                          " floating_ips = CASE WHEN $9::bigint < 0 THEN floating_ips ELSE $9 END"
                          " WHERE tenant_id = $1",
                          id, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]);
    if (n < 0)
        gw_fail_db(c);
    else if (n == 0)
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such tenant");
    else
        quota_reply(c, id);
}

void gw_catalog_routes(gw *g)
{
    gw_route(g, "GET /v1/flavors", GW_USER, h_flavor_list);
    gw_route(g, "GET /v1/flavors/{id}", GW_USER, h_flavor_show);
    gw_route(g, "POST /v1/flavors", GW_CLOUD_ADMIN, h_flavor_create);
    gw_route(g, "PATCH /v1/flavors/{id}", GW_CLOUD_ADMIN, h_flavor_update);
    gw_route(g, "DELETE /v1/flavors/{id}", GW_CLOUD_ADMIN, h_flavor_delete);
    gw_route(g, "GET /v1/images", GW_TENANT_READ, h_image_list);
    gw_route(g, "GET /v1/images/{id}", GW_TENANT_READ, h_image_show);
    gw_route(g, "POST /v1/images", GW_TENANT_WRITE, h_image_create);
    gw_route(g, "PATCH /v1/images/{id}", GW_TENANT_WRITE, h_image_update);
    gw_route(g, "DELETE /v1/images/{id}", GW_TENANT_WRITE, h_image_delete);
    gw_route(g, "POST /v1/images/{id}/upload-url", GW_TENANT_WRITE, h_image_upload_url);
    gw_route(g, "POST /v1/images/{id}/download-url", GW_TENANT_READ, h_image_download_url);
    gw_route(g, "GET /v1/keypairs", GW_TENANT_READ, h_keypair_list);
    gw_route(g, "GET /v1/keypairs/{id}", GW_TENANT_READ, h_keypair_show);
    gw_route(g, "POST /v1/keypairs", GW_TENANT_WRITE, h_keypair_create);
    gw_route(g, "DELETE /v1/keypairs/{id}", GW_TENANT_WRITE, h_keypair_delete);
    gw_route(g, "GET /v1/quotas", GW_TENANT_READ, h_quota_mine);
    gw_route(g, "GET /v1/tenants/{id}/quotas", GW_CLOUD_ADMIN, h_quota_show);
    gw_route(g, "PUT /v1/tenants/{id}/quotas", GW_CLOUD_ADMIN, h_quota_set);
}
