/*
 * schedrun.c - the scheduler's plans carried out: the rebalancing plan and
 * the consolidation plan (scheduler.c makes both as dry runs) turned into
 * live migrations, on an admin's POST (servergroups.c) or on the host
 * manager's own timer (power.c's tick, rebalance.interval and
 * consolidation.interval).
 *
 * Both go the same way: each move starts as the migrate action does
 * (gw_migrate_begin: every refusal of the action applies, the destination
 * passes every placement filter again under its row lock), while fewer than
 * rebalance.max_concurrent migrations run cloud-wide (those under way
 * count); the rest wait for the next run, which plans again from what then
 * is. Moves carry no state from one run to the next: the plans' cool-down
 * (rebalance.cooldown, read from iaas.placements) is what keeps an instance
 * from moving back and forth.
 *
 * A host the consolidation is emptying must not fill up again behind it:
 * with the spread policy it is the emptiest host, the first a new instance
 * would go to. So before its moves start, a run marks each source draining
 * (nodes.draining_until = now() + consolidation.drain_for, migrations/0030):
 * the scheduler's "draining" filter then keeps new instances and other
 * migrations off it, and the next consolidation plan empties it first.
 * The plan alone could not hold it: it only knows the moves it started,
 * and at most max_concurrent of them run at once. The mark is a lease,
 * not a state: the power-off clears it, and it lapses by itself if no later
 * run plans that host again (its instances pinned meanwhile, the admin
 * gave up), so no host stays out of service because a run went away. The
 * emptied host is then powered off by the power manager like any idle
 * host (power.idle_after, power.min_spare_hosts).
 *
 * Every run takes one session advisory lock (gw_sched_lock): one run at a
 * time, whatever its kind or who asked, so two runs never count the free
 * migration slots at once. An admin's POST waits for it up to 5 s (then
 * 503: retry); a timed run only tries, and runs at a later tick.
 *
 * The timers: each tick, a gateway whose interval for a kind is set takes
 * the lock and bumps
 * iaas.scheduler_runs' row for the kind only if the last run is an interval
 * old: so across any number of gateways a kind runs once per interval. What it
 * did is logged (scheduler.auto_run) and kept in that row.
 */
#include "gateway.h"
#include "stratus/json.h"
#include "stratus/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHED_LOCK_KEY "hashtext('stratus.gateway.sched')"

/* Marks the plan's sources draining; their names, or NULL on a database error. */
static json_t *drain_sources(gw_ctx *c, json_t *moves)
{
    char *text = json_dumps(moves, JSON_COMPACT), lease[16];
    snprintf(lease, sizeof lease, "%d", c->gw->c.cons_drain_for_s);
    PGresult *r = text ? st_db_q(c->db,
                                 "UPDATE iaas.nodes SET draining_until = now()"
                                 " + $2::int * interval '1 second' WHERE id::text IN"
                                 " (SELECT jsonb_array_elements($1::jsonb)->>'from_node_id')"
                                 " RETURNING name",
                                 text, lease)
                       : NULL;
    free(text);
    if (!r)
        return NULL;
    json_t *names = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(names, json_string(st_db_val(r, i, 0)));
    PQclear(r);
    return names;
}

int gw_plan_carry_out(gw_ctx *c, json_t *plan, int consolidation)
{
    PGresult *r = st_db_q0(c->db, "SELECT count(*) FROM iaas.migrations"
                                  " WHERE state IN ('preparing', 'migrating')");
    if (!r)
        return -1;
    long long slots = c->gw->c.rebalance_max_concurrent - st_db_int(r, 0, 0);
    PQclear(r);
    json_t *moves = json_object_get(plan, "moves"), *mv;
    if (consolidation) {
        json_t *draining =
            slots > 0 && json_array_size(moves) ? drain_sources(c, moves) : json_array();
        if (!draining)
            return -1;
        json_object_set_new(plan, "draining", draining);
    }
    json_t *started = json_array(), *skipped = json_array();
    size_t i;
    json_array_foreach(moves, i, mv)
    {
        const char *id = json_string_value(json_object_get(mv, "instance_id"));
        char mid[40], why[1200];
        if (slots <= 0) {
            snprintf(why, sizeof why,
                     "%d live migrations run at once at most (rebalance.max_concurrent): planned "
                     "again next time",
                     c->gw->c.rebalance_max_concurrent);
            json_array_append_new(skipped,
                                  json_pack("{s:s, s:s}", "instance_id", id, "reason", why));
            continue;
        }
        int rc = gw_migrate_begin(c, id, json_string_value(json_object_get(mv, "to_node_id")),
                                  json_string_value(json_object_get(mv, "to_node")), 300, 0,
                                  "cancel", mid, why, sizeof why);
        if (rc == GW_MIG_DB_ERROR)
            st_db_rollback(c->db);
        if (rc == GW_MIG_STARTED) {
            slots--;
            json_array_append_new(started,
                                  json_pack("{s:s, s:s, s:O}", "instance_id", id, "migration_id",
                                            mid, "to_node", json_object_get(mv, "to_node")));
        } else {
            json_array_append_new(skipped,
                                  json_pack("{s:s, s:s}", "instance_id", id, "reason", why));
        }
    }
    json_object_set_new(plan, "dry_run", json_false());
    json_object_set_new(plan, "started", started);
    json_object_set_new(plan, "skipped", skipped);
    return 0;
}

/* ---- the lock every run takes ---- */

int gw_sched_lock(st_db *db, int wait_ms)
{
    PGresult *lk;
    if (wait_ms <= 0) {
        lk = st_db_q0(db, "SELECT pg_try_advisory_lock(" SCHED_LOCK_KEY ")");
        int mine = lk && *st_db_val(lk, 0, 0) == 't';
        PQclear(lk);
        return lk ? mine : -1;
    }
    /* A session lock taken inside a transaction outlives it; SET LOCAL bounds the wait and
     * goes with it. */
    char set[64];
    snprintf(set, sizeof set, "SET LOCAL lock_timeout = %d", wait_ms);
    if (st_db_begin(db) < 0)
        return -1;
    if (st_db_x0(db, set) < 0) {
        st_db_rollback(db);
        return -1;
    }
    lk = st_db_q0(db, "SELECT pg_advisory_lock(" SCHED_LOCK_KEY ")");
    if (!lk) {
        int busy = !strcmp(st_db_sqlstate(db), "55P03"); /* lock_not_available */
        st_db_rollback(db);
        return busy ? 0 : -1;
    }
    PQclear(lk);
    if (st_db_commit(db) < 0) {
        gw_sched_unlock(db); /* held or not, as the commit failed after the grant */
        return -1;
    }
    return 1;
}

void gw_sched_unlock(st_db *db)
{
    PGresult *un = st_db_q0(db, "SELECT pg_advisory_unlock(" SCHED_LOCK_KEY ")");
    if (!un && st_db_rollback(db) == 0) /* a failed transaction left open refuses it */
        un = st_db_q0(db, "SELECT pg_advisory_unlock(" SCHED_LOCK_KEY ")");
    if (!un) /* the lock goes with the connection */
        st_error("scheduler.lock", "the scheduler's lock is not released: %s", st_db_error(db));
    PQclear(un);
}

/* ---- the host manager's own runs ---- */

static void auto_run(gw *g, st_db *db, const char *kind, int interval)
{
    int cons = !strcmp(kind, "consolidation");
    char iv[16];
    snprintf(iv, sizeof iv, "%d", interval);
    int mine = gw_sched_lock(db, 0);
    if (mine < 0)
        st_error("scheduler.auto_run", "%s: %s", kind, st_db_error(db));
    if (mine <= 0) /* or another run (a gateway's timer, an admin's POST) holds it */
        return;
    PGresult *due = st_db_q(db,
                            "INSERT INTO iaas.scheduler_runs AS s (kind, last_run_at)"
                            " VALUES ($1, now()) ON CONFLICT (kind) DO UPDATE"
                            " SET last_run_at = now(), runs = s.runs + 1"
                            " WHERE s.last_run_at <= now() - $2::int * interval '1 second'"
                            " RETURNING runs",
                            kind, iv);
    if (!due)
        st_error("scheduler.auto_run", "%s: %s", kind, st_db_error(db));
    else if (PQntuples(due) == 1) {
        gw_ctx c = {.gw = g, .db = db, .p = {.cloud_admin = 1}};
        json_t *plan = cons ? gw_consolidation_plan(g, db, g->c.cons_target, g->c.cons_max_moves)
                            : gw_rebalance_plan_json(g, db, g->c.rebalance_threshold,
                                                     g->c.rebalance_max_moves);
        if (!plan || gw_plan_carry_out(&c, plan, cons) < 0) {
            st_error("scheduler.auto_run", "%s: %s", kind, st_db_error(db));
        } else {
            json_t *st = json_object_get(plan, "started"), *sk = json_object_get(plan, "skipped");
            char n[16], m[16];
            snprintf(n, sizeof n, "%zu", json_array_size(st));
            snprintf(m, sizeof m, "%zu", json_array_size(sk));
            if (st_db_x(db,
                        "UPDATE iaas.scheduler_runs SET last_started = $2::int,"
                        " last_skipped = $3::int WHERE kind = $1",
                        kind, n, m) < 0)
                st_error("scheduler.auto_run", "%s: %s", kind, st_db_error(db));
            json_t *f = json_pack("{s:s, s:O, s:O}", "kind", kind, "started", st, "skipped", sk);
            if (cons)
                json_object_set(f, "draining", json_object_get(plan, "draining"));
            st_log_fields(ST_LOG_INFO, "scheduler.auto_run", f);
        }
        json_decref(plan);
    }
    PQclear(due);
    gw_sched_unlock(db);
}

void gw_sched_auto_tick(gw *g, st_db *db)
{
    if (g->c.rebalance_interval_s > 0)
        auto_run(g, db, "rebalance", g->c.rebalance_interval_s);
    if (g->c.cons_interval_s > 0)
        auto_run(g, db, "consolidation", g->c.cons_interval_s);
}
