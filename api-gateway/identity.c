/*
 * identity.c - tenants, users and memberships.
 *
 * Cloud administrators create tenants and users and put users into tenants;
 * a tenant's admins change the roles of, and remove, the users already in
 * their tenant, and nobody else: like Keystone, a tenant admin manages only
 * the users it can see, so any other user id answers 404 exactly as an id
 * that does not exist (no user ids or names leak, and no user is pulled into
 * a second tenant). Routes under
 * /v1/tenants/{id}/ check access in the handler: a caller who is neither a
 * cloud admin nor acting in that tenant gets 404 (the tenant might as well
 * not exist), a member without the needed role gets 403.
 */
#include "gateway.h"
#include "stratus/json.h"
#include "stratus/uuid.h"

#include <stdio.h>
#include <string.h>

int gw_tenant_create(gw *g, st_db *db, const char *name, const char *description, char id[40])
{
    const long long v[8] = {g->c.quota_instances,       g->c.quota_vcpus,
                            g->c.quota_memory_mib,      g->c.quota_disk_gib,
                            g->c.quota_networks,        g->c.quota_ports,
                            g->c.quota_security_groups, g->c.quota_floating_ips};
    char q[8][24];
    for (int i = 0; i < 8; i++)
        snprintf(q[i], sizeof q[i], "%lld", v[i]);
    st_uuid_v4(id);
    if (st_db_begin(db) < 0 ||
        st_db_x(db, "INSERT INTO iaas.tenants (id, name, description) VALUES ($1, $2, $3)", id,
                name, description ? description : "") < 0 ||
        st_db_x(db,
                "INSERT INTO iaas.quotas (tenant_id, instances, vcpus, memory_mib, disk_gib,"
                " networks, ports, security_groups, floating_ips)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                id, q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7]) < 0 ||
        st_db_commit(db) < 0) {
        st_db_rollback(db);
        return -1;
    }
    return 0;
}

/* May the caller act on tenant `id` at `need` level? Replies and returns 0 if not. */
static int tenant_access(gw_ctx *c, const char *id, gw_access need)
{
    if (c->p.cloud_admin)
        return 1;
    if (strcmp(c->p.tenant_id, id) != 0) {
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such tenant");
        return 0;
    }
    if (need == GW_TENANT_ADMIN && strcmp(c->p.role, "admin") != 0) {
        st_http_reply_error(c->req, 403, ST_E_FORBIDDEN, "this call needs the tenant's admin role");
        return 0;
    }
    return 1;
}

static void h_tenant_create(gw_ctx *c)
{
    static const char *const keys[] = {"name", "description", NULL};
    json_t *b = gw_body(c, keys);
    if (!b)
        return;
    const char *name = NULL, *desc = "";
    char err[256], id[40];
    if (gw_check(c, st_json_get_str(b, "name", 1, 1, 63, &name, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_str(b, "description", 0, 0, 1024, &desc, err, sizeof err), err) < 0)
        return;
    if (gw_tenant_create(c->gw, c->db, name, desc, id) < 0) {
        if (st_db_unique_violation(c->db))
            st_http_reply_error(c->req, 409, ST_E_CONFLICT, "a tenant named '%s' exists", name);
        else if (strcmp(st_db_sqlstate(c->db), "23514") == 0)
            st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                                "tenant names are letters, digits, '.', '_' and '-'");
        else
            gw_fail_db(c);
        return;
    }
    PGresult *r =
        st_db_q(c->db, "SELECT iaas.tenant_json(t)::text FROM iaas.tenants t WHERE id = $1", id);
    gw_reply_json_text(c, 201, r, "tenant");
    PQclear(r);
}

static void h_tenant_list(gw_ctx *c)
{
    PGresult *r = st_db_q(c->db,
                          "SELECT json_build_object('tenants', coalesce(json_agg("
                          " iaas.tenant_json(t) ORDER BY t.name), '[]'))::text FROM iaas.tenants t"
                          " WHERE $2 OR EXISTS (SELECT 1 FROM iaas.memberships m"
                          "  WHERE m.tenant_id = t.id AND m.user_id = $1)",
                          c->p.user_id, c->p.cloud_admin ? "true" : "false");
    gw_reply_query(c, 200, r, "tenant");
}

static void h_tenant_show(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    /* Members of the tenant may see it even from a token scoped elsewhere. */
    PGresult *r = st_db_q(c->db,
                          "SELECT iaas.tenant_json(t)::text FROM iaas.tenants t WHERE id = $1"
                          " AND ($3 OR EXISTS (SELECT 1 FROM iaas.memberships m"
                          "  WHERE m.tenant_id = t.id AND m.user_id = $2))",
                          id, c->p.user_id, c->p.cloud_admin ? "true" : "false");
    gw_reply_query(c, 200, r, "tenant");
}

static void h_tenant_delete(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    PGresult *r = st_db_q(c->db,
                          "SELECT count(*) FROM iaas.instances WHERE tenant_id = $1"
                          " AND state <> 'deleted'",
                          id);
    if (!r) {
        gw_fail_db(c);
        return;
    }
    long long live = st_db_int(r, 0, 0);
    PQclear(r);
    if (live > 0) {
        st_http_reply_error(c->req, 409, ST_E_CONFLICT, "the tenant still has %lld instances",
                            live);
        return;
    }
    long long n = st_db_x(c->db, "DELETE FROM iaas.tenants WHERE id = $1", id);
    if (n < 0)
        gw_fail_db(c);
    else if (n == 0)
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such tenant");
    else
        st_http_reply_json(c->req, 204, NULL);
}

static void h_user_create(gw_ctx *c)
{
    static const char *const keys[] = {"name", "password", "cloud_admin", NULL};
    json_t *b = gw_body(c, keys);
    if (!b)
        return;
    const char *name = NULL, *pw = NULL;
    int admin = 0;
    char err[256];
    if (gw_check(c, st_json_get_str(b, "name", 1, 1, 63, &name, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_str(b, "password", 1, 8, 256, &pw, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_bool(b, "cloud_admin", 0, &admin, err, sizeof err), err) < 0 ||
        gw_check(c, gw_password_policy(pw, name, err, sizeof err), err) < 0)
        return;
    char hash[256], id[40];
    if (gw_password_hash(&c->gw->c, pw, hash, sizeof hash) < 0) {
        st_http_reply_error(c->req, 500, ST_E_INTERNAL, "password hashing failed");
        return;
    }
    st_uuid_v4(id);
    if (st_db_x(c->db,
                "INSERT INTO iaas.users (id, name, password_hash, cloud_admin)"
                " VALUES ($1, $2, $3, $4)",
                id, name, hash, admin ? "true" : "false") < 0) {
        if (st_db_unique_violation(c->db))
            st_http_reply_error(c->req, 409, ST_E_CONFLICT, "a user named '%s' exists", name);
        else if (strcmp(st_db_sqlstate(c->db), "23514") == 0)
            st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                                "user names are letters, digits, '.', '_', '@' and '-'");
        else
            gw_fail_db(c);
        return;
    }
    PGresult *r =
        st_db_q(c->db, "SELECT iaas.user_json(u)::text FROM iaas.users u WHERE id = $1", id);
    gw_reply_json_text(c, 201, r, "user");
    PQclear(r);
}

static void h_user_list(gw_ctx *c)
{
    PGresult *r =
        st_db_q0(c->db, "SELECT json_build_object('users', coalesce(json_agg("
                        " iaas.user_json(u) ORDER BY u.name), '[]'))::text FROM iaas.users u");
    gw_reply_query(c, 200, r, "user");
}

static void h_user_show(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    if (!c->p.cloud_admin && strcmp(id, c->p.user_id) != 0) {
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such user");
        return;
    }
    PGresult *r =
        st_db_q(c->db, "SELECT iaas.user_json(u)::text FROM iaas.users u WHERE id = $1", id);
    gw_reply_query(c, 200, r, "user");
}

/* Changing a password ends every other credential of that user: its other
 * sessions and all its API keys (whoever knew the old password may have
 * made one). */
static void h_user_password(gw_ctx *c)
{
    static const char *const keys[] = {"password", "current_password", NULL};
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    int self = strcmp(id, c->p.user_id) == 0;
    if (!c->p.cloud_admin && !self) {
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such user");
        return;
    }
    json_t *b = gw_body(c, keys);
    if (!b)
        return;
    const char *pw = NULL, *cur = NULL;
    char err[256];
    if (gw_check(c, st_json_get_str(b, "password", 1, 8, 256, &pw, err, sizeof err), err) < 0 ||
        gw_check(c,
                 st_json_get_str(b, "current_password", !c->p.cloud_admin, 1, 256, &cur, err,
                                 sizeof err),
                 err) < 0)
        return;
    PGresult *r = st_db_q(c->db, "SELECT password_hash, name FROM iaas.users WHERE id = $1", id);
    if (!r) {
        gw_fail_db(c);
        return;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such user");
        return;
    }
    int ok = !cur || gw_password_verify(st_db_val(r, 0, 0), cur);
    if (!ok) {
        PQclear(r);
        st_http_reply_error(c->req, 403, ST_E_FORBIDDEN, "current_password is wrong");
        return;
    }
    int weak = gw_password_policy(pw, st_db_val(r, 0, 1), err, sizeof err);
    PQclear(r);
    if (gw_check(c, weak, err) < 0)
        return;
    char hash[256];
    if (gw_password_hash(&c->gw->c, pw, hash, sizeof hash) < 0) {
        st_http_reply_error(c->req, 500, ST_E_INTERNAL, "password hashing failed");
        return;
    }
    long long n =
        st_db_x(c->db, "UPDATE iaas.users SET password_hash = $2 WHERE id = $1", id, hash);
    if (n == 1)
        n = st_db_x(c->db,
                    "UPDATE iaas.tokens SET revoked_at = now() WHERE user_id = $1"
                    " AND kind IN ('session', 'api_key') AND revoked_at IS NULL"
                    " AND id <> $2",
                    id, c->p.token_id[0] ? c->p.token_id : "00000000-0000-0000-0000-000000000000");
    if (n < 0)
        gw_fail_db(c);
    else
        st_http_reply_json(c->req, 204, NULL);
}

static void h_members_list(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (!id || !tenant_access(c, id, GW_TENANT_READ))
        return;
    PGresult *r = st_db_q(c->db,
                          "SELECT json_build_object('members', coalesce(json_agg("
                          " iaas.member_json(u, m.role) ORDER BY u.name),"
                          " '[]'))::text FROM iaas.memberships m JOIN iaas.users u"
                          " ON u.id = m.user_id WHERE m.tenant_id = $1",
                          id);
    gw_reply_query(c, 200, r, "tenant");
}

static void h_member_put(gw_ctx *c)
{
    static const char *const keys[] = {"role", NULL};
    const char *id = gw_id_param(c, "id");
    if (!id || !tenant_access(c, id, GW_TENANT_ADMIN))
        return;
    const char *uid = gw_id_param(c, "user_id");
    if (!uid)
        return;
    json_t *b = gw_body(c, keys);
    if (!b)
        return;
    const char *role = NULL;
    char err[256];
    if (gw_check(c, st_json_get_str(b, "role", 1, 1, 16, &role, err, sizeof err), err) < 0)
        return;
    if (strcmp(role, "admin") && strcmp(role, "member") && strcmp(role, "reader")) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                            "role must be admin, member or reader");
        return;
    }
    PGresult *r = st_db_q(c->db,
                          "INSERT INTO iaas.memberships AS ms (tenant_id, user_id, role)"
                          " SELECT t.id, u.id, $3 FROM iaas.tenants t, iaas.users u"
                          " WHERE t.id = $1 AND u.id = $2 AND ($4 OR EXISTS (SELECT 1"
                          "  FROM iaas.memberships x WHERE x.tenant_id = t.id"
                          "  AND x.user_id = u.id))"
                          " ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = EXCLUDED.role"
                          " RETURNING iaas.membership_json(ms)::text",
                          id, uid, role, c->p.cloud_admin ? "true" : "false");
    gw_reply_query(c, 200, r, "user");
}

static void h_member_delete(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (!id || !tenant_access(c, id, GW_TENANT_ADMIN))
        return;
    const char *uid = gw_id_param(c, "user_id");
    if (!uid)
        return;
    long long n = st_db_x(c->db,
                          "DELETE FROM iaas.memberships WHERE tenant_id = $1"
                          " AND user_id = $2",
                          id, uid);
    if (n < 0)
        gw_fail_db(c);
    else if (n == 0)
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such member");
    else
        st_http_reply_json(c->req, 204, NULL);
}

void gw_identity_routes(gw *g)
{
    gw_route(g, "POST /v1/tenants", GW_CLOUD_ADMIN, h_tenant_create);
    gw_route(g, "GET /v1/tenants", GW_USER, h_tenant_list);
    gw_route(g, "GET /v1/tenants/{id}", GW_USER, h_tenant_show);
    gw_route(g, "DELETE /v1/tenants/{id}", GW_CLOUD_ADMIN, h_tenant_delete);
    gw_route(g, "GET /v1/tenants/{id}/members", GW_USER, h_members_list);
    gw_route(g, "PUT /v1/tenants/{id}/members/{user_id}", GW_USER, h_member_put);
    gw_route(g, "DELETE /v1/tenants/{id}/members/{user_id}", GW_USER, h_member_delete);
    gw_route(g, "POST /v1/users", GW_CLOUD_ADMIN, h_user_create);
    gw_route(g, "GET /v1/users", GW_CLOUD_ADMIN, h_user_list);
    gw_route(g, "GET /v1/users/{id}", GW_USER, h_user_show);
    gw_route(g, "PUT /v1/users/{id}/password", GW_USER, h_user_password);
}
