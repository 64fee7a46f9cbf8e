/*
 * evacuate.c - rebuilding a dead host's instances on other hosts (Nova's
 * evacuate and host-evacuate), and the fence that makes it safe.
 *
 * A cloud admin evacuates one instance ({"action": "evacuate"} on
 * /v1/instances/{id}/actions, optionally naming the target "host") or all
 * of a node's (/v1/nodes/{id}/actions). Each instance is one transaction:
 * its row and its host's row locked, the host checked dead, the scheduler
 * asked for another host (server groups, capacity and the usual filters;
 * the dead host fails "alive"), the instance moved there with task
 * evacuating and a new generation, and an iaas.evacuations row written. A
 * node's instances move one after the other, so each sees where the ones
 * before went (anti-affinity), and one that finds no host goes to error
 * with the scheduler's reason while the others still move.
 *
 * The fence. "Dead" means no heartbeat for nodes.down_after plus
 * evacuate.fence_margin seconds. A host that was only cut off from the
 * gateway may still run its guests; its agent keeps a lease renewed by each
 * heartbeat the gateway accepted and, when it cannot renew it for
 * fence.timeout seconds (node.conf, shorter than down_after), force-stops
 * every guest and starts none until a heartbeat gets through again
 * (compute-node/agent/fence.c). Since the lease is counted from before the
 * heartbeat was sent and the gateway's last_heartbeat is the time it was
 * written, the old host's guests are stopped fence.timeout (plus the
 * seconds a force stop takes) after last_heartbeat at the latest; the
 * gateway evacuates no sooner than down_after + fence_margin after it. So
 * the rule an operator keeps is fence.timeout + stop time < down_after +
 * fence_margin (defaults 20 s < 30 s + 10 s), and no instance runs twice.
 *
 * Disks. An instance whose disk is on Ceph (disk_backend rbd) is rebuilt on
 * its new host from the same disk. A local disk died with its host: the
 * instance is rebuilt from its image, so the caller must say
 * confirm_data_loss; without it the answer is 409 naming the instances.
 *
 * Automatic. With evacuate.automatic on, the gateway's host manager (power.c's thread) does
 * the same for every dead host's instances whose disks are on Ceph, each tick: nothing a guest
 * wrote is lost, so nobody needs to confirm. Instances on local disks stay for an admin.
 *
 * The dead host, back. Its desired set no longer holds the moved instances
 * (their node_id changed), and names them under `evacuated` until its agent
 * confirms it removed what it left of them (PUT
 * /internal/v1/node/evacuations/{id}).
 */
#include "gateway.h"
#include "stratus/json.h"
#include "stratus/log.h"
#include "stratus/timefmt.h"
#include "stratus/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The instance's facts an evacuation needs, read under its row lock. */
typedef struct evac_inst {
    char id[40], name[72], tenant[40], node[40], node_name[72], group[40];
    char state[16], snapshot[40];
    int rbd;
    gw_sched_req req;
} evac_inst;

/* What one instance's evacuation came to. */
enum { EV_MOVED, EV_NO_HOST, EV_DB_ERROR };

/* The host's seconds since its last heartbeat (-1: never) and whether it
 * has been down long enough for its agent to have fenced itself; locks its
 * row (a heartbeat racing the evacuation waits for it). 1 dead, 0 not yet,
 * -1 database error, -2 no such node. */
static int host_dead(gw_ctx *c, const char *node, char name[72], long long *age, long long *wait_s)
{
    PGresult *r =
        st_db_q(c->db,
                "SELECT name, coalesce(extract(epoch FROM now() - last_heartbeat)::bigint,"
                " -1) FROM iaas.nodes WHERE id = $1 FOR UPDATE",
                node);
    if (!r)
        return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return -2;
    }
    snprintf(name, 72, "%s", st_db_val(r, 0, 0));
    *age = st_db_int(r, 0, 1);
    PQclear(r);
    long long need = (long long)c->gw->c.node_down_after_s + c->gw->c.fence_margin_s;
    *wait_s = *age < 0 ? 0 : need - *age;
    return *age < 0 || *age > need;
}

/* 409 for a host not dead long enough, with how long to wait. */
static void reply_host_alive(gw_ctx *c, const char *name, long long age, long long wait_s)
{
    char ra[24];
    snprintf(ra, sizeof ra, "%lld", wait_s > 0 ? wait_s : 1);
    st_http_add_header(c->req, "Retry-After", ra);
    st_http_reply_error(c->req, 409, ST_E_CONFLICT,
                        "host %s sent a heartbeat %lld s ago: it is evacuated only once silent for"
                        " more than nodes.down_after + evacuate.fence_margin (%d s), when its"
                        " agent has fenced its guests; %lld s to go",
                        name, age, c->gw->c.node_down_after_s + c->gw->c.fence_margin_s,
                        wait_s > 0 ? wait_s : 1);
}

/* Reads and locks instance id (any tenant) into e. 1 found, 0 not, -1 db. */
static int load_instance(gw_ctx *c, const char *id, evac_inst *e)
{
    PGresult *r = st_db_q(c->db,
                          "SELECT i.id, i.name, i.tenant_id, i.node_id, i.server_group_id,"
                          " i.state, i.disk_backend = 'rbd', i.vcpus, i.memory_mib, i.disk_gib,"
                          " i.boot = 'firmware', CASE WHEN i.task = 'image_snapshot'"
                          "  THEN i.snapshot_image_id END"
                          " FROM iaas.instances i WHERE i.id = $1 AND i.state <> 'deleted'"
                          " FOR UPDATE",
                          id);
    if (!r)
        return -1;
    int n = PQntuples(r);
    if (n == 1) {
        memset(e, 0, sizeof *e);
        snprintf(e->id, sizeof e->id, "%s", st_db_val(r, 0, 0));
        snprintf(e->name, sizeof e->name, "%s", st_db_val(r, 0, 1));
        snprintf(e->tenant, sizeof e->tenant, "%s", st_db_val(r, 0, 2));
        snprintf(e->node, sizeof e->node, "%s", st_db_val(r, 0, 3) ? st_db_val(r, 0, 3) : "");
        snprintf(e->group, sizeof e->group, "%s", st_db_val(r, 0, 4) ? st_db_val(r, 0, 4) : "");
        snprintf(e->state, sizeof e->state, "%s", st_db_val(r, 0, 5));
        e->rbd = *st_db_val(r, 0, 6) == 't';
        e->req.vcpus = (int)st_db_int(r, 0, 7);
        e->req.memory_mib = (int)st_db_int(r, 0, 8);
        e->req.disk_gib = (int)st_db_int(r, 0, 9);
        e->req.firmware = *st_db_val(r, 0, 10) == 't';
        snprintf(e->snapshot, sizeof e->snapshot, "%s",
                 st_db_val(r, 0, 11) ? st_db_val(r, 0, 11) : "");
    }
    PQclear(r);
    return n == 1;
}

/*
 * Moves instance e (locked, its host checked dead) to another host, or to
 * only_node when given, inside the caller's transaction. EV_MOVED (dest
 * set), EV_NO_HOST (the instance is now in error, why set), EV_DB_ERROR.
 */
static int move_instance(gw_ctx *c, evac_inst *e, const char *only_node, int data_loss,
                         char dest[40], char *why, size_t whylen)
{
    e->req.only_node = only_node;
    if (gw_sched_lock_group(c->db, e->group[0] ? e->group : NULL, e->id, &e->req) < 0 ||
        gw_sched_direct_ports(c->db, e->id, NULL, NULL, &e->req) < 0)
        return EV_DB_ERROR;
    /* the hosts its first launch failed on may serve now; the dead one is
     * not alive, so the scheduler passes it over anyway */
    if (st_db_x(c->db, "DELETE FROM iaas.instance_attempts WHERE instance_id = $1", e->id) < 0)
        return EV_DB_ERROR;
    why[0] = 0;
    int placed =
        gw_schedule(c->gw, c->db, &e->req, e->id, e->group[0] ? e->group : NULL, dest, why, whylen);
    if (placed < 0)
        return EV_DB_ERROR;
    if (!placed) {
        char fault[1200];
        snprintf(fault, sizeof fault, "evacuation from host %s found no host: %s", e->node_name,
                 why);
        if (st_db_x(c->db,
                    "UPDATE iaas.instances SET state = 'error', task = NULL, fault = $2"
                    " WHERE id = $1",
                    e->id, fault) != 1)
            return EV_DB_ERROR;
        snprintf(why, whylen, "%s", fault);
        return EV_NO_HOST;
    }
    /* A building instance never had a task: it is simply launched there. */
    if (st_db_x(c->db,
                "UPDATE iaas.instances SET node_id = $2, generation = generation + 1, fault = NULL,"
                " task = CASE WHEN state = 'building' THEN NULL ELSE 'evacuating' END"
                " WHERE id = $1",
                e->id, dest) != 1 ||
        st_db_x(c->db,
                "INSERT INTO iaas.evacuations (instance_id, source_node_id, dest_node_id,"
                " data_loss) VALUES ($1, $2, $3, $4::boolean)"
                " ON CONFLICT (instance_id, source_node_id) DO UPDATE SET"
                " dest_node_id = EXCLUDED.dest_node_id, data_loss = EXCLUDED.data_loss,"
                " created_at = now(), cleaned_at = NULL",
                e->id, e->node, dest, data_loss ? "true" : "false") != 1)
        return EV_DB_ERROR;
    return EV_MOVED;
}

/* The refusals every evacuation shares; 0 when e may move, else -1 with
 * the reason in why. */
static int refusal(const evac_inst *e, int confirm, char *why, size_t whylen)
{
    if (strcmp(e->state, "active") && strcmp(e->state, "stopped") && strcmp(e->state, "building")) {
        snprintf(why, whylen,
                 "instance %s (%s) is %s: only building, active and stopped"
                 " instances are evacuated",
                 e->name, e->id, e->state);
        return -1;
    }
    if (!e->rbd && !confirm) {
        snprintf(why, whylen,
                 "instance %s (%s) has its disk on host %s's local storage: it would be rebuilt"
                 " from its image, losing what it wrote; confirm_data_loss: true to go on",
                 e->name, e->id, e->node_name);
        return -1;
    }
    return 0;
}

static void log_move(gw_ctx *c, const evac_inst *e, int rc, const char *dest, const char *why)
{
    st_log_fields(rc == EV_MOVED ? ST_LOG_INFO : ST_LOG_WARN, "instance.evacuate",
                  json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:s}", "instance", e->id, "tenant",
                            e->tenant, "from_node", e->node, "to_node", dest, "data_loss", !e->rbd,
                            "fault", rc == EV_MOVED ? "" : why, "request_id", gw_request_id(c)));
}

int gw_instance_admin_only(gw_ctx *c, const char *id, const char *what)
{
    if (c->p.cloud_admin)
        return 1;
    PGresult *r = st_db_q(c->db,
                          "SELECT 1 FROM iaas.instances WHERE id = $1 AND tenant_id = $2"
                          " AND state <> 'deleted'",
                          id, c->p.tenant_id);
    if (!r) {
        gw_fail_db(c);
        return 0;
    }
    if (PQntuples(r) == 1)
        st_http_reply_error(c->req, 403, ST_E_FORBIDDEN, "%s needs a cloud administrator", what);
    else
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such instance");
    PQclear(r);
    return 0;
}

int gw_node_resolve(gw_ctx *c, const char *host, char id[40])
{
    PGresult *r = st_db_q(c->db,
                          "SELECT id FROM iaas.nodes WHERE ($1::text ~ '^[0-9a-fA-F-]{36}$'"
                          " AND id::text = lower($1)) OR name = $1",
                          host);
    if (!r)
        return -1;
    int n = PQntuples(r);
    if (n == 1)
        snprintf(id, 40, "%s", st_db_val(r, 0, 0));
    PQclear(r);
    return n == 1;
}

void gw_instance_evacuate(gw_ctx *c, const char *id, const char *host, int confirm)
{
    if (!gw_instance_admin_only(c, id, "evacuate"))
        return;
    char only[40] = "";
    if (host) {
        int f = gw_node_resolve(c, host, only);
        if (f < 0) {
            gw_fail_db(c);
            return;
        }
        if (!f) {
            st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST, "no such host '%s'", host);
            return;
        }
    }
    evac_inst e;
    char why[1200] = "", dest[40] = "";
    if (st_db_begin(c->db) < 0) {
        gw_fail_db(c);
        return;
    }
    int f = load_instance(c, id, &e);
    if (f <= 0) {
        st_db_rollback(c->db);
        if (f < 0)
            gw_fail_db(c);
        else
            st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such instance");
        return;
    }
    if (!e.node[0]) {
        st_db_rollback(c->db);
        st_http_reply_error(c->req, 409, ST_E_CONFLICT,
                            "instance %s is on no host: nothing to evacuate", e.name);
        return;
    }
    if (only[0] && !strcmp(only, e.node)) {
        st_db_rollback(c->db);
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                            "host '%s' is the instance's own host", host);
        return;
    }
    long long age, wait_s;
    int dead = host_dead(c, e.node, e.node_name, &age, &wait_s);
    if (dead <= 0) {
        st_db_rollback(c->db);
        if (dead == 0)
            reply_host_alive(c, e.node_name, age, wait_s);
        else
            gw_fail_db(c);
        return;
    }
    if (refusal(&e, confirm, why, sizeof why) < 0) {
        st_db_rollback(c->db);
        st_http_reply_error(c->req, 409, ST_E_CONFLICT, "%s", why);
        return;
    }
    int rc = move_instance(c, &e, only[0] ? only : NULL, !e.rbd, dest, why, sizeof why);
    if (rc == EV_NO_HOST && only[0]) {
        /* the host the admin named cannot take it: nothing changes (Nova's
         * evacuate to a host that fails its checks is refused the same) */
        st_db_rollback(c->db);
        st_http_reply_error(c->req, 409, ST_E_CONFLICT, "host '%s' cannot take instance %s: %s",
                            host, e.name, strchr(why, ':') ? strchr(why, ':') + 2 : why);
        return;
    }
    if (rc == EV_DB_ERROR || st_db_commit(c->db) < 0) {
        gw_fail_db_or_conflict(c);
        return;
    }
    log_move(c, &e, rc, dest, why);
    if (e.snapshot[0])
        gw_snapshot_abandon(c, e.snapshot, "the instance was evacuated from its host");
    gw_reply_instance_row(c, 202, id);
}

/* One instance of a node's evacuation, in a transaction of its own: its
 * outcome as {"id", "name", "tenant_id", "outcome", "node_id", "fault"};
 * json null when it no longer is the node's to move (deleted, moved or
 * changed meanwhile, or the node came back), NULL on a database error. */
static json_t *evacuate_member(gw_ctx *c, const char *id, const char *node, int confirm)
{
    evac_inst e;
    char why[1200] = "", dest[40] = "";
    long long age, wait_s;
    if (st_db_begin(c->db) < 0)
        return NULL;
    int f = load_instance(c, id, &e);
    int dead = f > 0 && !strcmp(e.node, node) ? host_dead(c, node, e.node_name, &age, &wait_s) : 0;
    if (f < 0 || dead == -1) {
        st_db_rollback(c->db);
        return NULL;
    }
    if (dead <= 0 || refusal(&e, confirm, why, sizeof why) < 0) {
        st_db_rollback(c->db);
        return json_null();
    }
    int rc = move_instance(c, &e, NULL, !e.rbd, dest, why, sizeof why);
    if (rc == EV_DB_ERROR || st_db_commit(c->db) < 0) {
        st_db_rollback(c->db);
        return NULL;
    }
    log_move(c, &e, rc, dest, why);
    if (e.snapshot[0])
        gw_snapshot_abandon(c, e.snapshot, "the instance was evacuated from its host");
    return json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?}", "id", e.id, "name", e.name, "tenant_id",
                     e.tenant, "outcome", rc == EV_MOVED ? "evacuating" : "error", "node_id",
                     rc == EV_MOVED ? dest : NULL, "fault", rc == EV_MOVED ? NULL : why);
}

/*
 * Every building, active and stopped instance of a dead node, one after
 * the other. All are checked first (a local disk without confirm_data_loss
 * refuses the whole call, naming them), then each moves in its own
 * transaction: one with no host goes to error, the others still move.
 */
void gw_node_evacuate(gw_ctx *c, const char *id, json_t *b)
{
    int confirm = 0;
    char err[256];
    if (gw_check(c, st_json_get_bool(b, "confirm_data_loss", 0, &confirm, err, sizeof err), err) <
        0)
        return;
    char name[72];
    long long age, wait_s;
    if (st_db_begin(c->db) < 0) {
        gw_fail_db(c);
        return;
    }
    int dead = host_dead(c, id, name, &age, &wait_s);
    PGresult *r = dead > 0 ? st_db_q(c->db,
                                     "SELECT id, name, disk_backend = 'rbd' FROM iaas.instances"
                                     " WHERE node_id = $1"
                                     " AND state IN ('building', 'active', 'stopped')"
                                     " ORDER BY created_at, id",
                                     id)
                           : NULL;
    st_db_rollback(c->db);
    if (dead == -2) {
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such node");
        return;
    }
    if (dead == 0) {
        reply_host_alive(c, name, age, wait_s);
        return;
    }
    if (!r) {
        gw_fail_db(c);
        return;
    }
    int n = PQntuples(r);
    if (!confirm) {
        char list[1024] = "";
        size_t o = 0;
        int local = 0;
        for (int i = 0; i < n; i++) {
            if (*st_db_val(r, i, 2) == 't')
                continue;
            local++;
            if (o < sizeof list - 1)
                o += (size_t)snprintf(list + o, sizeof list - o, "%s%s (%s)", local > 1 ? ", " : "",
                                      st_db_val(r, i, 1), st_db_val(r, i, 0));
        }
        if (local) {
            PQclear(r);
            st_http_reply_error(c->req, 409, ST_E_CONFLICT,
                                "%d instance%s on host %s %s its disk on local storage and would"
                                " be rebuilt from its image, losing what it wrote: %s;"
                                " confirm_data_loss: true to go on",
                                local, local == 1 ? "" : "s", name, local == 1 ? "has" : "have",
                                list);
            return;
        }
    }
    json_t *out = json_array();
    for (int i = 0; i < n; i++) {
        json_t *one = evacuate_member(c, st_db_val(r, i, 0), id, confirm);
        if (!one) {
            PQclear(r);
            json_decref(out);
            gw_fail_db(c);
            return;
        }
        if (json_is_null(one))
            json_decref(one); /* not the node's to move any more */
        else
            json_array_append_new(out, one);
    }
    PQclear(r);
    st_http_reply_json(c->req, 202,
                       json_pack("{s:s, s:s, s:o}", "node_id", id, "node", name, "instances", out));
}

/*
 * evacuate.automatic: each Ceph-backed instance of a host dead for longer than down_after +
 * fence_margin (powered on: a host powered off on purpose holds nothing) moves as an admin's
 * node evacuation would move it, one transaction each. No lock between gateways is needed:
 * evacuate_member locks the instance's row and moves it only while it is still on the dead
 * host, so a second gateway's tick (or an admin's call) finds it gone and leaves it.
 */
int gw_evacuate_dead_hosts(gw *g, st_db *db)
{
    char need[16];
    snprintf(need, sizeof need, "%d", g->c.node_down_after_s + g->c.fence_margin_s);
    PGresult *r = st_db_q(db,
                          "SELECT i.id, i.node_id FROM iaas.instances i"
                          " JOIN iaas.nodes n ON n.id = i.node_id"
                          " WHERE i.disk_backend = 'rbd'"
                          " AND i.state IN ('building', 'active', 'stopped')"
                          " AND n.power_state = 'on'"
                          " AND n.last_heartbeat < now() - $1::int * interval '1 second'"
                          " ORDER BY n.id, i.created_at, i.id",
                          need);
    if (!r)
        return -1;
    gw_ctx c = {.gw = g, .db = db, .p = {.cloud_admin = 1}};
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && !rc; i++) {
        json_t *one = evacuate_member(&c, st_db_val(r, i, 0), st_db_val(r, i, 1), 0);
        if (!one)
            rc = -1;
        json_decref(one);
    }
    PQclear(r);
    return rc;
}

/* The node confirms it removed what it had left of an instance evacuated
 * from it; the instance leaves its desired set's `evacuated`. */
static void h_evacuation_cleaned(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    PGresult *r = st_db_q(c->db,
                          "WITH e AS (UPDATE iaas.evacuations SET cleaned_at = now()"
                          "  WHERE instance_id = $1 AND source_node_id = $2 AND cleaned_at IS NULL"
                          "  RETURNING source_node_id),"
                          " v AS (INSERT INTO iaas.node_desired_versions AS v"
                          "  SELECT source_node_id, 1 FROM e"
                          "  ON CONFLICT (node_id) DO UPDATE SET version = v.version + 1)"
                          " SELECT (SELECT count(*) FROM e), EXISTS (SELECT 1 FROM"
                          "  iaas.evacuations WHERE instance_id = $1 AND source_node_id = $2)",
                          id, c->p.node_id);
    if (!r) {
        gw_fail_db(c);
        return;
    }
    int known = *st_db_val(r, 0, 1) == 't';
    PQclear(r);
    if (!known)
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND,
                            "no instance was evacuated from this node with that id");
    else
        st_http_reply_json(c->req, 204, NULL);
}

int gw_node_fenced(gw_ctx *c, const char *fenced_at)
{
    int64_t us;
    if (st_time_parse(fenced_at, &us) < 0) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                            "fenced_at must be an RFC 3339 time");
        return -1;
    }
    char ts[ST_TIME_LEN];
    st_time_format(us, ts);
    PGresult *r = st_db_q(c->db,
                          "UPDATE iaas.nodes SET fenced_at = $2::timestamptz WHERE id = $1"
                          " AND fenced_at IS DISTINCT FROM $2::timestamptz RETURNING name",
                          c->p.node_id, ts);
    if (!r) {
        gw_fail_db(c);
        return -1;
    }
    if (PQntuples(r) == 1)
        st_log_fields(ST_LOG_WARN, "node.fenced",
                      json_pack("{s:s, s:s, s:s}", "node", c->p.node_id, "name", st_db_val(r, 0, 0),
                                "fenced_at", ts));
    PQclear(r);
    return 0;
}

void gw_evacuate_routes(gw *g)
{
    gw_route(g, "PUT /internal/v1/node/evacuations/{id}", GW_NODE, h_evacuation_cleaned);
}
