/*
 * plans.c - price plans, their versions, and which tenant is on which plan.
 *
 * A plan is a name and a list of immutable versions; a version holds the
 * prices (integer micro-units) and is in force from its effective_from until
 * the next version's. A tenant's plan assignments form a timeline too
 * (billing.tenant_plans); hours before a tenant's first assignment use the
 * default plan. Rating (rating.c) reads both timelines, hour by hour.
 *
 * History is never rewritten where it was billed: every effective_from must
 * be a whole hour no earlier than the first open (not yet issued) month, and
 * these changes take BL_LOCK_ISSUE shared, so a month being issued cannot
 * see a plan change half made. Draft invoices are live and follow changes.
 *
 * Admin API (cloud admins): plans CRUD, POST .../versions, tenant
 * assignments. Tenant API: GET /v1/billing/plan, the plan in force now.
 */
#include "billing.h"
#include "sqlbuf.h"

#include "stratus/json.h"
#include "stratus/log.h"
#include "stratus/timefmt.h"
#include "stratus/uuid.h"

#include <stdio.h>
#include <string.h>

#define PRICE_MAX 1000000000000LL /* one million currency units */

static const char *const price_keys[] = {
    "cpu_per_gcycle",        "rx_per_gib",         "tx_per_gib",       "storage_per_gib_month",
    "instance_hour_default", "disk_per_gib_month", "floating_ip_hour", NULL};
/* The first N_REQUIRED prices are required; the later ones default to 0. */
#define N_REQUIRED 5
#define N_PRICES 7

typedef struct prices {
    long long v[N_PRICES];
    json_t *flavors;       /* borrowed: {"flavor": micro, ...} or NULL */
    const char *time_unit; /* "hour" (default) or "second" */
    long long min_seconds; /* per-second plans: each boot billed at least this */
    long long tax_rate_bp; /* the version's own tax rate, -1: by the customer's country */
} prices;

static int parse_prices(json_t *body, prices *p, char *err, size_t errlen)
{
    json_t *o = json_object_get(body, "prices");
    if (!json_is_object(o)) {
        snprintf(err, errlen, "field 'prices' must be an object");
        return -1;
    }
    static const char *const allowed[] = {"cpu_per_gcycle",
                                          "rx_per_gib",
                                          "tx_per_gib",
                                          "storage_per_gib_month",
                                          "instance_hour_default",
                                          "disk_per_gib_month",
                                          "floating_ip_hour",
                                          "instance_hour",
                                          "time_unit",
                                          "min_seconds",
                                          "tax_rate_bp",
                                          NULL};
    if (st_json_only_keys(o, allowed, err, errlen) < 0)
        return -1;
    p->time_unit = "hour";
    p->min_seconds = 0;
    p->tax_rate_bp = -1;
    if (st_json_get_int(o, "tax_rate_bp", ST_JSON_OPTIONAL, 0, 10000, &p->tax_rate_bp, err,
                        errlen) < 0)
        return -1;
    if (st_json_get_str(o, "time_unit", ST_JSON_OPTIONAL, 1, 16, &p->time_unit, err, errlen) < 0 ||
        st_json_get_int(o, "min_seconds", ST_JSON_OPTIONAL, 0, 86400, &p->min_seconds, err,
                        errlen) < 0)
        return -1;
    if (strcmp(p->time_unit, "hour") != 0 && strcmp(p->time_unit, "second") != 0) {
        snprintf(err, errlen, "time_unit must be \"hour\" or \"second\"");
        return -1;
    }
    if (p->min_seconds && strcmp(p->time_unit, "second") != 0) {
        snprintf(err, errlen, "min_seconds needs time_unit \"second\"");
        return -1;
    }
    for (int i = 0; price_keys[i]; i++) {
        p->v[i] = 0;
        if (st_json_get_int(o, price_keys[i], i < N_REQUIRED ? ST_JSON_REQUIRED : ST_JSON_OPTIONAL,
                            0, PRICE_MAX, &p->v[i], err, errlen) < 0)
            return -1;
    }
    p->flavors = json_object_get(o, "instance_hour");
    if (p->flavors && !json_is_object(p->flavors)) {
        snprintf(err, errlen, "field 'instance_hour' must be an object of flavor: price");
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach(p->flavors, k, v)
    {
        if (!bl_flavor_valid(k) || !json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > PRICE_MAX) {
            snprintf(err, errlen,
                     "instance_hour: '%.64s' must be a flavor name with an integer "
                     "price from 0 to %lld",
                     k, PRICE_MAX);
            return -1;
        }
    }
    return 0;
}

/* Takes the issue lock shared and returns the first open month (0: none issued). */
static int lock_open_month(st_db *db, int64_t *open)
{
    PGresult *r = st_db_q0(db, "SELECT pg_advisory_xact_lock_shared(" BL_LOCK_ISSUE ")");
    if (!r)
        return -1;
    PQclear(r);
    r = st_db_q0(db, "SELECT issued_through FROM billing.state");
    if (!r)
        return -1;
    int64_t m = 0;
    *open = st_db_val(r, 0, 0) && bl_pg_time(st_db_val(r, 0, 0), &m) == 0 ? bl_month_add(m, 1) : 0;
    PQclear(r);
    return 0;
}

/*
 * effective_from from the body (or dflt when absent and dflt >= 0): a whole
 * hour, not before the open month. Replies 400/409 itself on failure.
 */
static int effective_from(st_http_req *req, json_t *body, int64_t open, int64_t dflt,
                          char out[ST_TIME_LEN])
{
    const char *s = st_json_str(body, "effective_from");
    int64_t t = dflt;
    if (s ? st_time_parse(s, &t) < 0 : dflt < 0) {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST,
                            "field 'effective_from' must be an RFC 3339 time");
        return -1;
    }
    if (t % BL_US_HOUR != 0 || t < 946684800000000LL) {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST,
                            "effective_from must be a whole hour (UTC) after 2000");
        return -1;
    }
    if (open && t < open) {
        char m[8];
        bl_month_format(open, m);
        st_http_reply_error(req, 409, ST_E_CONFLICT,
                            "effective_from is in an issued month; the earliest allowed is %s-01",
                            m);
        return -1;
    }
    st_time_format(t, out);
    return 0;
}

static int insert_version(st_db *db, const char *plan, const char *eff, const prices *p,
                          char vid[37])
{
    st_uuid_v4(vid);
    char v[N_PRICES][24], ms[24], tr[24];
    for (int i = 0; i < N_PRICES; i++)
        snprintf(v[i], sizeof v[i], "%lld", p->v[i]);
    snprintf(ms, sizeof ms, "%lld", p->min_seconds);
    snprintf(tr, sizeof tr, "%lld", p->tax_rate_bp);
    if (st_db_x(db,
                "INSERT INTO billing.plan_versions (id, plan_id, version, effective_from,"
                " cpu_per_gcycle, rx_per_gib, tx_per_gib, storage_per_gib_month,"
                " instance_hour_default, time_unit, min_seconds, tax_rate_bp, disk_per_gib_month,"
                " floating_ip_hour)"
                " SELECT $1::uuid, $2::uuid, coalesce(max(version), 0) + 1, $3::timestamptz, "
                "$4::bigint,"
                " $5::bigint, $6::bigint, $7::bigint, $8::bigint, $9, $10::integer,"
                " nullif($11::integer, -1), $12::bigint, $13::bigint"
                " FROM billing.plan_versions WHERE plan_id = $2::uuid",
                vid, plan, eff, v[0], v[1], v[2], v[3], v[4], p->time_unit, ms, tr, v[5], v[6]) < 0)
        return -1;
    if (!p->flavors || !json_object_size(p->flavors))
        return 0;
    sb f, pr;
    sb_init(&f);
    sb_init(&pr);
    sb_arr_open(&f);
    sb_arr_open(&pr);
    const char *k;
    json_t *val;
    json_object_foreach(p->flavors, k, val)
    {
        sb_arr_text(&f, k);
        sb_arr_i64(&pr, json_integer_value(val));
    }
    sb_arr_close(&f);
    sb_arr_close(&pr);
    long long rc =
        st_db_x(db,
                "INSERT INTO billing.plan_flavor_prices (version_id, flavor, per_hour)"
                " SELECT $1::uuid, f, p FROM unnest($2::text[], $3::bigint[]) AS u(f, p)",
                vid, sb_str(&f), sb_str(&pr));
    sb_free(&f);
    sb_free(&pr);
    return rc < 0 ? -1 : 0;
}

/* The plan as JSON with all its versions; NULL when it does not exist. */
static json_t *plan_json(st_db *db, const char *id, int *dberr)
{
    *dberr = 0;
    PGresult *r = st_db_q(db,
                          "SELECT id, name, description, is_default, created_at"
                          " FROM billing.plans WHERE id = $1",
                          id);
    if (!r) {
        *dberr = 1;
        return NULL;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        return NULL;
    }
    char created[ST_TIME_LEN];
    st_time_from_pg(PQgetvalue(r, 0, 4), created);
    json_t *plan = json_pack("{s:s, s:s, s:s, s:b, s:s}", "id", PQgetvalue(r, 0, 0), "name",
                             PQgetvalue(r, 0, 1), "description", PQgetvalue(r, 0, 2), "default",
                             strcmp(PQgetvalue(r, 0, 3), "t") == 0, "created_at", created);
    PQclear(r);
    r = st_db_q(db,
                "SELECT v.id, v.version, v.effective_from, v.cpu_per_gcycle, v.rx_per_gib,"
                " v.tx_per_gib, v.storage_per_gib_month, v.instance_hour_default,"
                " coalesce((SELECT json_object_agg(flavor, per_hour ORDER BY flavor)"
                "  FROM billing.plan_flavor_prices f WHERE f.version_id = v.id), '{}'),"
                " v.time_unit, v.min_seconds, v.tax_rate_bp, v.disk_per_gib_month,"
                " v.floating_ip_hour"
                " FROM billing.plan_versions v WHERE v.plan_id = $1 ORDER BY v.version",
                id);
    if (!r) {
        json_decref(plan);
        *dberr = 1;
        return NULL;
    }
    json_t *vs = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        char eff[ST_TIME_LEN];
        st_time_from_pg(PQgetvalue(r, i, 2), eff);
        json_t *pr = json_object();
        for (int k = 0; k < N_REQUIRED; k++)
            json_object_set_new(pr, price_keys[k], json_integer(st_db_int(r, i, 3 + k)));
        json_object_set_new(pr, "disk_per_gib_month", json_integer(st_db_int(r, i, 12)));
        json_object_set_new(pr, "floating_ip_hour", json_integer(st_db_int(r, i, 13)));
        json_t *fl = json_loads(PQgetvalue(r, i, 8), 0, NULL);
        json_object_set_new(pr, "instance_hour", fl ? fl : json_object());
        json_object_set_new(pr, "time_unit", json_string(PQgetvalue(r, i, 9)));
        json_object_set_new(pr, "min_seconds", json_integer(st_db_int(r, i, 10)));
        json_object_set_new(pr, "tax_rate_bp",
                            st_db_val(r, i, 11) ? json_integer(st_db_int(r, i, 11)) : json_null());
        json_array_append_new(vs, json_pack("{s:s, s:I, s:s, s:o}", "id", PQgetvalue(r, i, 0),
                                            "version", (json_int_t)st_db_int(r, i, 1),
                                            "effective_from", eff, "prices", pr));
    }
    PQclear(r);
    json_object_set_new(plan, "versions", vs);
    return plan;
}

static void reply_plan(st_http_req *req, st_db *db, const char *id, int status)
{
    int dberr;
    json_t *p = plan_json(db, id, &dberr);
    if (dberr)
        bl_reply_db(req, db, "plan");
    else if (!p)
        st_http_reply_error(req, 404, ST_E_NOT_FOUND, "no such plan");
    else
        st_http_reply_json(req, status, p);
}

/* Ends a failed admin transaction: conflict codes become 409. */
static void fail_txn(st_http_req *req, st_db *db, const char *what)
{
    if (st_db_unique_violation(db))
        st_http_reply_error(req, 409, ST_E_CONFLICT, "%s: that name or effective_from is taken",
                            what);
    else if (strcmp(st_db_sqlstate(db), "23503") == 0)
        st_http_reply_error(req, 409, ST_E_CONFLICT, "%s: the plan is still in use", what);
    else
        bl_reply_db(req, db, what);
    st_db_rollback(db);
}

static void h_create(st_call *call)
{
    st_http_req *req = call->req;
    json_t *body = st_http_json_body(req);
    if (!body)
        return;
    static const char *const allowed[] = {"name",   "description",    "default",
                                          "prices", "effective_from", NULL};
    char err[256];
    const char *name = NULL, *desc = "";
    int dflt = 0;
    prices p;
    if (st_json_only_keys(body, allowed, err, sizeof err) < 0 ||
        st_json_get_str(body, "name", ST_JSON_REQUIRED, 1, 64, &name, err, sizeof err) < 0 ||
        st_json_get_str(body, "description", ST_JSON_OPTIONAL, 0, 1024, &desc, err, sizeof err) <
            0 ||
        st_json_get_bool(body, "default", ST_JSON_OPTIONAL, &dflt, err, sizeof err) < 0 ||
        parse_prices(body, &p, err, sizeof err) < 0) {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST, "%s", err);
        return;
    }
    st_db *db = call->db;
    char id[37], vid[37], eff[ST_TIME_LEN];
    int64_t open;
    st_uuid_v4(id);
    if (st_db_begin(db) < 0 || lock_open_month(db, &open) < 0) {
        fail_txn(req, db, "plan");
        goto out;
    }
    if (dflt) {
        PGresult *q = st_db_q0(db, "SELECT 1 FROM billing.issue_queue LIMIT 1");
        int busy = !q || PQntuples(q) > 0;
        PQclear(q);
        if (busy) {
            st_db_rollback(db);
            st_http_reply_error(req, 409, ST_E_CONFLICT, "a month is being issued; try again");
            goto out;
        }
    }
    /* The first version covers all unbilled usage unless told otherwise. */
    if (effective_from(req, body, open, open ? open : 946684800000000LL, eff) < 0) {
        st_db_rollback(db);
        goto out;
    }
    if ((dflt &&
         st_db_x0(db, "UPDATE billing.plans SET is_default = false WHERE is_default") < 0) ||
        st_db_x(db,
                "INSERT INTO billing.plans (id, name, description, is_default)"
                " VALUES ($1, $2, $3, $4)",
                id, name, desc, dflt ? "true" : "false") < 0 ||
        insert_version(db, id, eff, &p, vid) < 0 || st_db_commit(db) < 0) {
        fail_txn(req, db, "plan");
        goto out;
    }
    reply_plan(req, db, id, 201);
out:
    return;
}

static void h_list(st_call *call)
{
    st_http_req *req = call->req;
    st_db *db = call->db;
    PGresult *r = st_db_q0(db, "SELECT id FROM billing.plans ORDER BY name");
    if (!r) {
        bl_reply_db(req, db, "plans");
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        int dberr;
        json_t *p = plan_json(db, PQgetvalue(r, i, 0), &dberr);
        if (p)
            json_array_append_new(items, p);
    }
    PQclear(r);
    st_http_reply_json(req, 200, json_pack("{s:o}", "plans", items));
}

static const char *plan_param(st_http_req *req)
{
    const char *id = st_http_param(req, "id");
    if (!st_uuid_valid(id)) {
        st_http_reply_error(req, 404, ST_E_NOT_FOUND, "no such plan");
        return NULL;
    }
    return id;
}

static void h_show(st_call *call)
{
    st_http_req *req = call->req;
    const char *id;
    if (!(id = plan_param(req)))
        return;
    st_db *db = call->db;
    reply_plan(req, db, id, 200);
}

static void h_patch(st_call *call)
{
    st_http_req *req = call->req;
    const char *id;
    if (!(id = plan_param(req)))
        return;
    json_t *body = st_http_json_body(req);
    if (!body)
        return;
    static const char *const allowed[] = {"name", "description", "default", NULL};
    char err[256];
    const char *name = NULL, *desc = NULL;
    int dflt = -1;
    if (st_json_only_keys(body, allowed, err, sizeof err) < 0 ||
        st_json_get_str(body, "name", ST_JSON_OPTIONAL, 1, 64, &name, err, sizeof err) < 0 ||
        st_json_get_str(body, "description", ST_JSON_OPTIONAL, 0, 1024, &desc, err, sizeof err) <
            0 ||
        st_json_get_bool(body, "default", ST_JSON_OPTIONAL, &dflt, err, sizeof err) < 0) {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST, "%s", err);
        return;
    }
    st_db *db = call->db;
    int64_t open;
    long long n = 0;
    if (st_db_begin(db) < 0 || lock_open_month(db, &open) < 0) {
        fail_txn(req, db, "plan");
        return;
    }
    if (dflt >= 0) {
        /* The default plan prices unassigned tenants of every open month: it
         * may not move while a month's invoices are being made. */
        PGresult *q = st_db_q0(db, "SELECT 1 FROM billing.issue_queue LIMIT 1");
        int busy = !q || PQntuples(q) > 0;
        PQclear(q);
        if (busy) {
            st_db_rollback(db);
            st_http_reply_error(req, 409, ST_E_CONFLICT, "a month is being issued; try again");
            return;
        }
    }
    if ((dflt == 1 && st_db_x(db,
                              "UPDATE billing.plans SET is_default = false"
                              " WHERE is_default AND id <> $1",
                              id) < 0) ||
        (n = st_db_x(db,
                     "UPDATE billing.plans SET name = coalesce($2, name),"
                     " description = coalesce($3, description),"
                     " is_default = coalesce($4::boolean, is_default) WHERE id = $1",
                     id, name, desc,
                     dflt < 0 ? NULL
                     : dflt   ? "true"
                              : "false")) < 0 ||
        st_db_commit(db) < 0) {
        fail_txn(req, db, "plan");
    } else if (n == 0) {
        st_http_reply_error(req, 404, ST_E_NOT_FOUND, "no such plan");
    } else {
        reply_plan(req, db, id, 200);
    }
}

static void h_delete(st_call *call)
{
    st_http_req *req = call->req;
    const char *id;
    if (!(id = plan_param(req)))
        return;
    st_db *db = call->db;
    int64_t open;
    long long n = 0;
    if (st_db_begin(db) < 0 || lock_open_month(db, &open) < 0 ||
        (n = st_db_x(db, "DELETE FROM billing.plans WHERE id = $1 AND NOT is_default", id)) < 0 ||
        st_db_commit(db) < 0) {
        fail_txn(req, db, "plan");
    } else if (n == 0) {
        PGresult *r = st_db_q(db, "SELECT 1 FROM billing.plans WHERE id = $1", id);
        int exists = r && PQntuples(r) > 0;
        PQclear(r);
        if (exists)
            st_http_reply_error(req, 409, ST_E_CONFLICT, "the default plan cannot be deleted");
        else
            st_http_reply_error(req, 404, ST_E_NOT_FOUND, "no such plan");
    } else {
        st_http_reply_json(req, 204, NULL);
    }
}

static void h_add_version(st_call *call)
{
    st_http_req *req = call->req;
    const char *id;
    if (!(id = plan_param(req)))
        return;
    json_t *body = st_http_json_body(req);
    if (!body)
        return;
    static const char *const allowed[] = {"prices", "effective_from", NULL};
    char err[256];
    prices p;
    if (st_json_only_keys(body, allowed, err, sizeof err) < 0 ||
        parse_prices(body, &p, err, sizeof err) < 0) {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST, "%s", err);
        return;
    }
    st_db *db = call->db;
    char vid[37], eff[ST_TIME_LEN];
    int64_t open;
    PGresult *r = NULL;
    if (st_db_begin(db) < 0 || lock_open_month(db, &open) < 0 ||
        !(r = st_db_q(db, "SELECT 1 FROM billing.plans WHERE id = $1 FOR UPDATE", id))) {
        fail_txn(req, db, "plan version");
        goto out;
    }
    int exists = PQntuples(r) > 0;
    PQclear(r);
    if (!exists) {
        st_db_rollback(db);
        st_http_reply_error(req, 404, ST_E_NOT_FOUND, "no such plan");
        goto out;
    }
    if (effective_from(req, body, open, -1, eff) < 0) {
        st_db_rollback(db);
        goto out;
    }
    if (insert_version(db, id, eff, &p, vid) < 0 || st_db_commit(db) < 0) {
        fail_txn(req, db, "plan version");
        goto out;
    }
    reply_plan(req, db, id, 201);
out:
    return;
}

static json_t *assignments_json(st_db *db, const char *tenant, int *dberr)
{
    PGresult *r = st_db_q(db,
                          "SELECT a.effective_from, a.plan_id, p.name FROM billing.tenant_plans a"
                          " JOIN billing.plans p ON p.id = a.plan_id WHERE a.tenant_id = $1"
                          " ORDER BY a.effective_from",
                          tenant);
    *dberr = !r;
    if (!r)
        return NULL;
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        char eff[ST_TIME_LEN];
        st_time_from_pg(PQgetvalue(r, i, 0), eff);
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "effective_from", eff, "plan_id",
                                           PQgetvalue(r, i, 1), "plan_name", PQgetvalue(r, i, 2)));
    }
    PQclear(r);
    return json_pack("{s:s, s:o}", "tenant_id", tenant, "assignments", a);
}

static const char *tenant_param(st_http_req *req)
{
    const char *t = st_http_param(req, "tenant_id");
    if (!st_uuid_valid(t)) {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST, "tenant_id must be a UUID");
        return NULL;
    }
    return t;
}

static void h_assignments(st_call *call)
{
    st_http_req *req = call->req;
    const char *t;
    if (!(t = tenant_param(req)))
        return;
    st_db *db = call->db;
    int dberr;
    json_t *j = assignments_json(db, t, &dberr);
    if (dberr)
        bl_reply_db(req, db, "assignments");
    else
        st_http_reply_json(req, 200, j);
}

static void h_assign(st_call *call)
{
    st_http_req *req = call->req;
    const char *t;
    if (!(t = tenant_param(req)))
        return;
    json_t *body = st_http_json_body(req);
    if (!body)
        return;
    static const char *const allowed[] = {"plan_id", "effective_from", NULL};
    char err[256];
    const char *plan = NULL;
    if (st_json_only_keys(body, allowed, err, sizeof err) < 0 ||
        st_json_get_str(body, "plan_id", ST_JSON_REQUIRED, 36, 36, &plan, err, sizeof err) < 0 ||
        !st_uuid_valid(plan)) {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST, "%s",
                            plan ? "field 'plan_id' must be a UUID" : err);
        return;
    }
    st_db *db = call->db;
    char eff[ST_TIME_LEN];
    int64_t open;
    PGresult *r = NULL;
    if (st_db_begin(db) < 0 || lock_open_month(db, &open) < 0 ||
        !(r = st_db_q(db, "SELECT 1 FROM billing.plans WHERE id = $1 FOR SHARE", plan))) {
        fail_txn(req, db, "assignment");
        goto out;
    }
    int exists = PQntuples(r) > 0;
    PQclear(r);
    if (!exists) {
        st_db_rollback(db);
        st_http_reply_error(req, 422, ST_E_INVALID, "no such plan");
        goto out;
    }
    if (effective_from(req, body, open, -1, eff) < 0) {
        st_db_rollback(db);
        goto out;
    }
    if (st_db_x(db,
                "INSERT INTO billing.tenant_plans (tenant_id, effective_from, plan_id)"
                " VALUES ($1, $2, $3) ON CONFLICT (tenant_id, effective_from)"
                " DO UPDATE SET plan_id = excluded.plan_id",
                t, eff, plan) < 0 ||
        st_db_commit(db) < 0) {
        fail_txn(req, db, "assignment");
        goto out;
    }
    int dberr;
    json_t *j = assignments_json(db, t, &dberr);
    if (dberr)
        bl_reply_db(req, db, "assignments");
    else
        st_http_reply_json(req, 201, j);
out:
    return;
}

/* GET /v1/billing/plan: the plan and prices in force for the caller's tenant now. */
static void h_tenant_plan(st_call *call)
{
    st_http_req *req = call->req;
    const char *tenant = ((const bl_who *)call->who)->tenant;
    st_db *db = call->db;
    PGresult *r = st_db_q(db,
                          "SELECT coalesce((SELECT plan_id FROM billing.tenant_plans"
                          "  WHERE tenant_id = $1 AND effective_from <= now()"
                          "  ORDER BY effective_from DESC LIMIT 1),"
                          " (SELECT id FROM billing.plans WHERE is_default))",
                          tenant);
    if (!r) {
        bl_reply_db(req, db, "tenant plan");
    } else if (!st_db_val(r, 0, 0)) {
        st_http_reply_error(req, 404, ST_E_NOT_FOUND, "no price plan applies to this tenant");
    } else {
        char id[37];
        snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
        reply_plan(req, db, id, 200);
    }
    PQclear(r);
}

void bl_plans_routes(bl_ctx *ctx)
{
    bl_route(ctx, "GET /v1/billing/plans", BL_ADMIN, h_list);
    bl_route(ctx, "POST /v1/billing/plans", BL_ADMIN, h_create);
    bl_route(ctx, "GET /v1/billing/plans/{id}", BL_ADMIN, h_show);
    bl_route(ctx, "PATCH /v1/billing/plans/{id}", BL_ADMIN, h_patch);
    bl_route(ctx, "DELETE /v1/billing/plans/{id}", BL_ADMIN, h_delete);
    bl_route(ctx, "POST /v1/billing/plans/{id}/versions", BL_ADMIN, h_add_version);
    bl_route(ctx, "GET /v1/billing/tenants/{tenant_id}/plans", BL_ADMIN, h_assignments);
    bl_route(ctx, "POST /v1/billing/tenants/{tenant_id}/plans", BL_ADMIN, h_assign);
    bl_route(ctx, "GET /v1/billing/plan", BL_TENANT, h_tenant_plan);
}
