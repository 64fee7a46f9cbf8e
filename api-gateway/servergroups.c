/*
 * servergroups.c - server groups, and the cloud's placement policy.
 *
 * A server group is a tenant's statement about where its instances go:
 * "affinity" keeps members on one host (low latency between them),
 * "anti-affinity" puts each on a different host (one host failing takes only
 * one down). Instances join a group at creation ("server_group" in POST
 * /v1/instances); the scheduler enforces it under a lock on the group's row.
 *
 * The placement policy (spread or pack) is the cloud admin's, stored in
 * iaas.settings so every gateway places the same way.
 */
#include "gateway.h"
#include "sched_core.h"
#include "stratus/json.h"
#include "stratus/log.h"
#include "stratus/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void h_group_create(gw_ctx *c)
{
    static const char *const keys[] = {"name", "policy", NULL};
    json_t *b = gw_body(c, keys);
    if (!b)
        return;
    const char *name = NULL, *policy = NULL;
    char err[256], id[40];
    if (gw_check(c, st_json_get_str(b, "name", 1, 1, 63, &name, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_str(b, "policy", 1, 1, 16, &policy, err, sizeof err), err) < 0)
        return;
    if (strcmp(policy, "affinity") && strcmp(policy, "anti-affinity")) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                            "policy must be affinity or anti-affinity");
        return;
    }
    st_uuid_v4(id);
    PGresult *r = st_db_q(c->db,
                          "INSERT INTO iaas.server_groups AS g (id, tenant_id, name, policy)"
                          " VALUES ($1, $2, $3, $4) RETURNING iaas.server_group_json(g)::text",
                          id, c->p.tenant_id, name, policy);
    if (!r) {
        if (st_db_unique_violation(c->db))
            st_http_reply_error(c->req, 409, ST_E_CONFLICT, "a server group named '%s' exists",
                                name);
        else if (strcmp(st_db_sqlstate(c->db), "23514") == 0)
            st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                                "group names are letters, digits, '.', '_' and '-'");
        else
            gw_fail_db(c);
        return;
    }
    gw_reply_json_text(c, 201, r, "server group");
    PQclear(r);
}

static void h_group_list(gw_ctx *c)
{
    PGresult *r = st_db_q(c->db,
                          "SELECT json_build_object('server_groups', coalesce(json_agg("
                          " iaas.server_group_json(g) ORDER BY g.name), '[]'))::text"
                          " FROM iaas.server_groups g WHERE g.tenant_id = $1",
                          c->p.tenant_id);
    gw_reply_query(c, 200, r, "server group");
}

static void h_group_show(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    PGresult *r = st_db_q(c->db,
                          "SELECT iaas.server_group_json(g)::text FROM iaas.server_groups g"
                          " WHERE g.tenant_id = $1 AND g.id = $2",
                          c->p.tenant_id, id);
    gw_reply_query(c, 200, r, "server group");
}

static void h_group_delete(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    long long n = st_db_x(c->db, "DELETE FROM iaas.server_groups WHERE tenant_id = $1 AND id = $2",
                          c->p.tenant_id, id);
    if (n < 0)
        gw_fail_db(c);
    else if (n == 0)
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such server group");
    else
        st_http_reply_json(c->req, 204, NULL);
}

static void scheduler_reply(gw_ctx *c)
{
    gw_sched_policy p;
    char down[16];
    GW_DOWN_AFTER(c, down);
    char over[32];
    snprintf(over, sizeof over, "%.17g", c->gw->c.cpu_overcommit);
    PGresult *r = gw_sched_load_policy(c->db, &p) < 0
                      ? NULL
                      : st_db_q(c->db, "SELECT iaas.scheduler_json($1, $2, $3)::text",
                                gw_sched_policy_name(p), over, down);
    gw_reply_query(c, 200, r, "scheduler");
}

static void h_scheduler_show(gw_ctx *c)
{
    scheduler_reply(c);
}

static void h_scheduler_set(gw_ctx *c)
{
    static const char *const keys[] = {"policy", NULL};
    json_t *b = gw_body(c, keys);
    if (!b)
        return;
    const char *policy = NULL;
    char err[256];
    gw_sched_policy p;
    if (gw_check(c, st_json_get_str(b, "policy", 1, 1, 16, &policy, err, sizeof err), err) < 0)
        return;
    if (gw_sched_policy_parse(policy, &p) < 0) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST, "policy must be spread or pack");
        return;
    }
    if (st_db_x(c->db,
                "INSERT INTO iaas.settings (key, value) VALUES ('sched.policy', $1)"
                " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                policy) < 0) {
        gw_fail_db(c);
        return;
    }
    scheduler_reply(c);
}

/* A plan's arguments: the rebalancing plan's threshold or the consolidation's target (a
 * fraction), and max_moves. */
typedef struct plan_kind {
    const char *frac;  /* "threshold", "target" */
    double lo, hi;     /* the fraction's range */
    int consolidation; /* which plan */
} plan_kind;

static const plan_kind rebalancing = {"threshold", 0.01, 1.0, 0};
static const plan_kind consolidating = {"target", 0.5, 1.0, 1};

/* The plan's fraction and max_moves (defaults: rebalance.* or consolidation.*), from the
 * query (GET) or the body (POST); out of range or not numbers: 400 and -1. */
static int plan_args(gw_ctx *c, const plan_kind *k, int post, double *frac, int *max)
{
    double t = k->consolidation ? c->gw->c.cons_target : c->gw->c.rebalance_threshold;
    long long m = k->consolidation ? c->gw->c.cons_max_moves : c->gw->c.rebalance_max_moves;
    int t_set = 0, m_set = 0, t_bad = 0, m_bad = 0;
    if (post) {
        const char *const keys[] = {k->frac, "max_moves", NULL};
        json_t *b = gw_body(c, keys);
        if (!b)
            return -1;
        json_t *jt = json_object_get(b, k->frac), *jm = json_object_get(b, "max_moves");
        if ((t_set = jt != NULL))
            t_bad = !json_is_number(jt), t = json_number_value(jt);
        if ((m_set = jm != NULL))
            m_bad = !json_is_integer(jm), m = json_integer_value(jm);
    } else {
        const char *qt = st_http_query(c->req, k->frac), *qm = st_http_query(c->req, "max_moves");
        char *end = NULL;
        if ((t_set = qt != NULL))
            t = strtod(qt, &end), t_bad = end == qt || *end;
        if ((m_set = qm != NULL))
            m = strtoll(qm, &end, 10), m_bad = end == qm || *end;
    }
    if (t_set && (t_bad || !(t >= k->lo && t <= k->hi))) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                            "%s must be a fraction from %g to %g", k->frac, k->lo, k->hi);
        return -1;
    }
    if (m_set && (m_bad || m < 1 || m > 1000)) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                            "max_moves must be an integer from 1 to 1000");
        return -1;
    }
    *frac = t;
    *max = (int)m;
    return 0;
}

#define SCHED_POST_WAIT_MS 5000 /* how long a POST waits for another run to end */

/*
 * GET /v1/scheduler/rebalance?threshold=&max_moves= and
 * GET /v1/scheduler/consolidation?target=&max_moves=: the plan, a dry run. POST with them in
 * the body: carried out (schedrun.c), 202 with the plan plus `started` and `skipped`.
 */
static void plan(gw_ctx *c, const plan_kind *k, int post)
{
    double frac;
    int max;
    if (plan_args(c, k, post, &frac, &max) < 0)
        return;
    /* A run plans from what is once the run before it has started its moves (schedrun.c). */
    int held = post ? gw_sched_lock(c->db, SCHED_POST_WAIT_MS) : 0;
    if (held < 0) {
        gw_fail_db(c);
        return;
    }
    if (post && !held) {
        st_http_reply_error(c->req, 503, ST_E_UNAVAILABLE,
                            "another scheduler run (an admin's or a timed one) held the lock for "
                            "%d ms; retry",
                            SCHED_POST_WAIT_MS);
        return;
    }
    json_t *p = k->consolidation ? gw_consolidation_plan(c->gw, c->db, frac, max)
                                 : gw_rebalance_plan_json(c->gw, c->db, frac, max);
    if (p && post && gw_plan_carry_out(c, p, k->consolidation) < 0) {
        json_decref(p);
        p = NULL;
    }
    if (!p)
        gw_fail_db(c); /* while the database's error is still the one that failed */
    if (held)
        gw_sched_unlock(c->db);
    if (!p)
        return;
    if (post)
        st_log_fields(ST_LOG_INFO, "scheduler.run",
                      json_pack("{s:s, s:O, s:O, s:s, s:s}", "kind",
                                k->consolidation ? "consolidation" : "rebalance", "started",
                                json_object_get(p, "started"), "skipped",
                                json_object_get(p, "skipped"), "user", c->p.user_name, "request_id",
                                gw_request_id(c)));
    st_http_reply_json(c->req, post ? 202 : 200, p);
}

static void h_consolidation(gw_ctx *c)
{
    plan(c, &consolidating, 0);
}

static void h_consolidation_run(gw_ctx *c)
{
    plan(c, &consolidating, 1);
}

static void h_rebalance(gw_ctx *c)
{
    plan(c, &rebalancing, 0);
}

static void h_rebalance_run(gw_ctx *c)
{
    plan(c, &rebalancing, 1);
}

void gw_server_group_routes(gw *g)
{
    gw_route(g, "POST /v1/server-groups", GW_TENANT_WRITE, h_group_create);
    gw_route(g, "GET /v1/server-groups", GW_TENANT_READ, h_group_list);
    gw_route(g, "GET /v1/server-groups/{id}", GW_TENANT_READ, h_group_show);
    gw_route(g, "DELETE /v1/server-groups/{id}", GW_TENANT_WRITE, h_group_delete);
    gw_route(g, "GET /v1/scheduler", GW_CLOUD_ADMIN, h_scheduler_show);
    gw_route(g, "PUT /v1/scheduler", GW_CLOUD_ADMIN, h_scheduler_set);
    gw_route(g, "GET /v1/scheduler/consolidation", GW_CLOUD_ADMIN, h_consolidation);
    gw_route(g, "POST /v1/scheduler/consolidation", GW_CLOUD_ADMIN, h_consolidation_run);
    gw_route(g, "GET /v1/scheduler/rebalance", GW_CLOUD_ADMIN, h_rebalance);
    gw_route(g, "POST /v1/scheduler/rebalance", GW_CLOUD_ADMIN, h_rebalance_run);
}
