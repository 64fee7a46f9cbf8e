/*
 * migrate.c - live migration of a running instance to another host, the
 * control plane of issue 16 (stratus-vmm moves the memory; this file and
 * the two agents decide who does what, when).
 *
 * The API (cloud admin). POST /v1/instances/{id}/actions
 *   {"action": "migrate", "host"?: name|id, "downtime_ms"?: 1..60000 (300),
 *    "timeout_s"?: 0..86400 (0: none), "on_timeout"?: "cancel"|"force",
 *    "block_migration"?: true|false}
 * on an active instance with no task whose host is up (a dead host's
 * instances are evacuated instead: evacuate.c). The scheduler picks the
 * target (every placement filter - enabled, powered on, alive, capacity,
 * server-group anti-affinity and affinity, firmware - plus: never the
 * source, and only a node whose agent says capacity.live_migration; no host
 * is powered on for it); a named host must pass them too. Refused with 409
 * and nothing changed: the instance is not active or has a task, its host
 * is down, its host's agent cannot send a live migration (the libvirt
 * driver), block_migration is false while its disk is on the host's local
 * storage and instances.shared_storage is off, or true while its disk is
 * shared (Ceph, or instances.shared_storage), it has an SR-IOV (direct) port, or no host
 * can take it. Accepted (202): an iaas.migrations row in state `preparing`
 * and the instance's task `migrating`; its GET shows `migration` with the
 * progress. block_migration (absent: auto) copies a local disk along with
 * the memory (stratus-vmm's block migration, QEMU's drive-mirror): the
 * row's block_migration is true, the target's agent makes the instance a
 * fresh overlay on its own copy of the base image (as for a new instance;
 * the VMM refuses one that is not fresh), the source's agent asks its VMM
 * for the copy and removes its own disk only once it completed.
 * {"action": "migrate_cancel"} cancels one under way. GET
 * /v1/migrations lists them with their outcome.
 *
 * The protocol, as the desired set and the reports already work (the
 * agents are told a level, act on it, report; every step may be repeated):
 *
 *  1. preparing. The target's desired set lists the instance under
 *     `incoming` ({"migration_id", "instance": the instance as a desired
 *     entry, with its ports}); its networks and security groups are in
 *     that set too (node_local_ports counts the ports of instances
 *     migrating to the node), so its data plane builds the taps first.
 *     The agent then starts stratus-vmm --config (its own config for the
 *     VM: its taps, the shared disk path) --incoming tcp:ADDR:PORT, PORT
 *     picked from its migration.ports range, ADDR its migration.address
 *     (default its tunnel address), and reports
 *     PUT /internal/v1/node/migrations/{id} {"state": "listening",
 *     "uri": "tcp:ADDR:PORT"}; or {"state": "failed", "error"} when it
 *     cannot.
 *  2. migrating. The source's desired entry of the instance gets
 *     `migration` {"id", "uri", "downtime_ms", "timeout_ms", "on_timeout",
 *     "cancel"}. The source agent calls the VMM's PUT /vm/migrate with
 *     them, polls GET /vm/migrate and reports its progress on the same
 *     route ({"state": "active", "round", "transferred_bytes",
 *     "remaining_bytes", "total_bytes", "throttle_pct"}). With "cancel"
 *     true it calls DELETE /vm/migrate.
 *  3. The end, reported by the source: "completed" (after it stopped its
 *     VMM, which exits 0 having never run the guest again; with
 *     "downtime_ms", "total_ms"), "failed" ("error") or "cancelled". Only
 *     a completed report from the source moves the instance: node_id
 *     becomes the target, its generation is raised (the target's agent
 *     finds the VM it received running and reports it active), the task
 *     clears and the row keeps the outcome. Failed or cancelled (from
 *     either side, or by an admin while still preparing): the instance
 *     stays on its source, the task clears, the target's `incoming` entry
 *     goes and its agent stops and removes the incoming VMM (never the
 *     shared disk).
 *
 * Never two running copies. node_id changes only on the source's
 * completed report, sent after its VMM stopped. A source agent that loses
 * the gateway is fenced (compute-node/agent/fence.c) and force-stops its
 * VMs; a target agent fenced stops its incoming VMM too. A migration whose
 * instance leaves the source otherwise (an evacuation of its dead host) or
 * stops being active ends as failed (migrations/0029's trigger).
 *
 * Capacity. The target holds the instance's vCPUs, memory and disk from
 * the start of the migration to its end (GW_NODE_HOLDS), so two
 * migrations or a placement cannot fill the room one of them needs.
 */
#include "gateway.h"
#include "stratus/json.h"
#include "stratus/log.h"
#include "stratus/uuid.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The instance and its host, as a migration needs them, read under their
 * row locks. */
typedef struct mig_inst {
    char name[72], tenant[40], node[40], node_name[72], group[40], state[16], task[32];
    int rbd, alive, can_send, can_copy; /* can_copy: its agent copies a disk along */
    gw_sched_req req;
} mig_inst;

/* 1 found, 0 not, -1 database error. */
static int load(gw_ctx *c, const char *id, mig_inst *m)
{
    char down[16];
    GW_DOWN_AFTER(c, down);
    PGresult *r =
        st_db_q(c->db,
                "SELECT i.name, i.tenant_id, i.node_id, i.server_group_id, i.state,"
                " coalesce(i.task, ''), i.disk_backend = 'rbd', i.vcpus, i.memory_mib,"
                " i.disk_gib, i.boot = 'firmware', n.name,"
                " coalesce(n.last_heartbeat > now() - $2::int * interval '1 second', false),"
                " coalesce(n.live_migration, false), coalesce(n.block_migration, false)"
                " FROM iaas.instances i LEFT JOIN iaas.nodes n ON n.id = i.node_id"
                " WHERE i.id = $1 AND i.state <> 'deleted' FOR UPDATE OF i",
                id, down);
    if (!r)
        return -1;
    int n = PQntuples(r);
    if (n == 1) {
        memset(m, 0, sizeof *m);
#define COPY(f, col)                                                                               \
    snprintf(m->f, sizeof m->f, "%s", st_db_val(r, 0, col) ? st_db_val(r, 0, col) : "")
        COPY(name, 0);
        COPY(tenant, 1);
        COPY(node, 2);
        COPY(group, 3);
        COPY(state, 4);
        COPY(task, 5);
        COPY(node_name, 11);
#undef COPY
        m->rbd = *st_db_val(r, 0, 6) == 't';
        m->req.vcpus = (int)st_db_int(r, 0, 7);
        m->req.memory_mib = (int)st_db_int(r, 0, 8);
        m->req.disk_gib = (int)st_db_int(r, 0, 9);
        m->req.firmware = *st_db_val(r, 0, 10) == 't';
        m->alive = *st_db_val(r, 0, 12) == 't';
        m->can_send = *st_db_val(r, 0, 13) == 't';
        m->can_copy = *st_db_val(r, 0, 14) == 't';
    }
    PQclear(r);
    return n == 1;
}

/* Why the instance cannot migrate as it is (a 409), or 0 when it can. *block: the action's
 * block_migration (-1: auto) in, whether the disk is copied out. */
static int refusal(const gw_ctx *c, const mig_inst *m, int *block, char *why, size_t whylen)
{
    if (strcmp(m->state, "active")) {
        snprintf(why, whylen, "instance %s is %s: only an active instance migrates live", m->name,
                 m->state);
        return -1;
    }
    if (m->task[0]) {
        snprintf(why, whylen, "instance %s has a task under way (%s)", m->name, m->task);
        return -1;
    }
    if (!m->node[0]) {
        snprintf(why, whylen, "instance %s is on no host", m->name);
        return -1;
    }
    if (!m->alive) {
        snprintf(why, whylen,
                 "host %s is down: its instances are evacuated (action evacuate), not migrated",
                 m->node_name);
        return -1;
    }
    if (!m->can_send) {
        snprintf(why, whylen,
                 "host %s's agent cannot send a live migration (its driver does not offer it:"
                 " the libvirt driver does not)",
                 m->node_name);
        return -1;
    }
    int local = !m->rbd && !c->gw->c.shared_storage;
    if (local && *block == 0) {
        snprintf(why, whylen,
                 "instance %s has its disk on host %s's local storage and block_migration is"
                 " false: only disks on Ceph, or on storage every host shares"
                 " (instances.shared_storage), move without a copy",
                 m->name, m->node_name);
        return -1;
    }
    if (!local && *block == 1) {
        snprintf(why, whylen,
                 "instance %s has its disk on %s: the target opens it, there is nothing to copy"
                 " (block_migration must be false or absent)",
                 m->name, m->rbd ? "Ceph" : "storage every host shares (instances.shared_storage)");
        return -1;
    }
    *block = local;
    if (local && !m->can_copy) {
        snprintf(why, whylen,
                 "instance %s has its disk on host %s's local storage and that host's agent"
                 " cannot copy a disk along (its heartbeat does not say"
                 " capacity.block_migration: an older agent)",
                 m->name, m->node_name);
        return -1;
    }
    if (m->req.direct_ports > 0) {
        snprintf(why, whylen, "instance %s has an SR-IOV (direct) port, which does not migrate",
                 m->name);
        return -1;
    }
    return 0;
}

/* The migrate action's options. */
typedef struct mig_opts {
    const char *host, *on_timeout;
    long long downtime_ms, timeout_s;
    int block; /* -1: absent (auto) */
} mig_opts;

static int parse_opts(gw_ctx *c, json_t *b, mig_opts *o)
{
    char err[256];
    o->host = NULL;
    o->on_timeout = "cancel";
    o->downtime_ms = 300;
    o->timeout_s = 0;
    o->block = -1;
    if (json_object_get(b, "block_migration") &&
        gw_check(c, st_json_get_bool(b, "block_migration", 1, &o->block, err, sizeof err), err) < 0)
        return -1;
    if (gw_check(c, st_json_get_str(b, "host", 0, 1, 63, &o->host, err, sizeof err), err) < 0 ||
        gw_check(c,
                 st_json_get_int(b, "downtime_ms", 0, 1, 60000, &o->downtime_ms, err, sizeof err),
                 err) < 0 ||
        gw_check(c, st_json_get_int(b, "timeout_s", 0, 0, 86400, &o->timeout_s, err, sizeof err),
                 err) < 0 ||
        gw_check(c, st_json_get_str(b, "on_timeout", 0, 1, 16, &o->on_timeout, err, sizeof err),
                 err) < 0)
        return -1;
    if (!o->on_timeout)
        o->on_timeout = "cancel";
    if (strcmp(o->on_timeout, "cancel") && strcmp(o->on_timeout, "force")) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                            "on_timeout must be cancel or force");
        return -1;
    }
    return 0;
}

int gw_migrate_begin(gw_ctx *c, const char *id, const char *only, const char *host,
                     long long downtime_ms, long long timeout_s, const char *on_timeout,
                     char mid[40], char *why, size_t whylen)
{
    return gw_migrate_begin_block(c, id, only, host, downtime_ms, timeout_s, on_timeout, -1, mid,
                                  why, whylen);
}

int gw_migrate_begin_block(gw_ctx *c, const char *id, const char *only, const char *host,
                           long long downtime_ms, long long timeout_s, const char *on_timeout,
                           int block, char mid[40], char *why, size_t whylen)
{
    if (st_db_begin(c->db) < 0) {
        snprintf(why, whylen, "%s", st_db_error(c->db));
        return GW_MIG_DB_ERROR;
    }
    mig_inst m;
    char dest[40] = "";
    int f = load(c, id, &m);
    if (f > 0 && (gw_sched_lock_group(c->db, m.group[0] ? m.group : NULL, id, &m.req) < 0 ||
                  gw_sched_direct_ports(c->db, id, NULL, NULL, &m.req) < 0))
        f = -1;
    if (f < 0) {
        snprintf(why, whylen, "%s", st_db_error(c->db));
        return GW_MIG_DB_ERROR;
    }
    if (!f) {
        st_db_rollback(c->db);
        snprintf(why, whylen, "no such instance");
        return GW_MIG_NOT_FOUND;
    }
    if (only && !strcmp(only, m.node)) {
        st_db_rollback(c->db);
        snprintf(why, whylen, "host '%s' is the instance's own host", host ? host : only);
        return GW_MIG_BAD_HOST;
    }
    if (refusal(c, &m, &block, why, whylen) < 0) {
        st_db_rollback(c->db);
        return GW_MIG_REFUSED;
    }
    m.req.only_node = only;
    m.req.not_node = m.node;
    m.req.live_migration = 1;
    m.req.block_migration = block;
    m.req.no_wake = 1;
    char reason[1000] = "";
    int placed = gw_schedule(c->gw, c->db, &m.req, id, m.group[0] ? m.group : NULL, dest, reason,
                             sizeof reason);
    if (placed <= 0) {
        if (placed < 0) {
            snprintf(why, whylen, "%s", st_db_error(c->db));
            return GW_MIG_DB_ERROR;
        }
        st_db_rollback(c->db);
        if (only)
            snprintf(why, whylen, "host '%s' cannot take instance %s: %s", host ? host : only,
                     m.name, reason);
        else
            snprintf(why, whylen, "no host can take instance %s: %s", m.name, reason);
        return GW_MIG_REFUSED;
    }
    char dms[24], ts[24];
    st_uuid_v4(mid);
    snprintf(dms, sizeof dms, "%lld", downtime_ms);
    snprintf(ts, sizeof ts, "%lld", timeout_s);
    if (st_db_x(c->db,
                "INSERT INTO iaas.migrations (id, instance_id, tenant_id, source_node_id,"
                " dest_node_id, source_node, dest_node, max_downtime_ms, timeout_s, on_timeout,"
                " requested_by, block_migration) SELECT $1, $2, $3, $4, $5, $6, n.name, $7::int,"
                " $8::int, $9, $10::uuid, $11::bool FROM iaas.nodes n WHERE n.id = $5",
                mid, id, m.tenant, m.node, dest, m.node_name, dms, ts, on_timeout,
                c->p.user_id[0] ? c->p.user_id : NULL, block ? "true" : "false") != 1 ||
        st_db_x(c->db, "UPDATE iaas.instances SET task = 'migrating' WHERE id = $1", id) != 1 ||
        st_db_commit(c->db) < 0) {
        snprintf(why, whylen, "%s", st_db_error(c->db));
        return GW_MIG_DB_ERROR; /* the caller reads the error, then rolls back */
    }
    st_log_fields(ST_LOG_INFO, "instance.migrate",
                  json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:s}", "instance", id, "migration",
                            mid, "tenant", m.tenant, "from_node", m.node, "to_node", dest,
                            "downtime_ms", (json_int_t)downtime_ms, "block_migration", block,
                            "request_id", gw_request_id(c)));
    return GW_MIG_STARTED;
}

void gw_instance_migrate(gw_ctx *c, const char *id, json_t *b)
{
    mig_opts o;
    if (parse_opts(c, b, &o) < 0 || !gw_instance_admin_only(c, id, "migrate"))
        return;
    char only[40] = "";
    if (o.host) {
        int f = gw_node_resolve(c, o.host, only);
        if (f <= 0) {
            if (f < 0)
                gw_fail_db(c);
            else
                st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST, "no such host '%s'", o.host);
            return;
        }
    }
    char mid[40], why[1200] = "";
    switch (gw_migrate_begin_block(c, id, only[0] ? only : NULL, o.host, o.downtime_ms, o.timeout_s,
                                   o.on_timeout, o.block, mid, why, sizeof why)) {
    case GW_MIG_STARTED: gw_reply_instance_row(c, 202, id); return;
    case GW_MIG_NOT_FOUND:
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such instance");
        return;
    case GW_MIG_BAD_HOST: st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST, "%s", why); return;
    case GW_MIG_REFUSED: st_http_reply_error(c->req, 409, ST_E_CONFLICT, "%s", why); return;
    default: gw_fail_db_or_conflict(c); st_db_rollback(c->db);
    }
}

void gw_instance_migrate_cancel(gw_ctx *c, const char *id)
{
    if (!gw_instance_admin_only(c, id, "migrate_cancel"))
        return;
    /* Still preparing: the source was told nothing, so it ends here. Else
     * the source's agent is told to cancel and reports how it ended. */
    PGresult *r = st_db_q(c->db,
                          "WITH m AS (SELECT id, state FROM iaas.migrations"
                          "  WHERE instance_id = $1 AND finished_at IS NULL FOR UPDATE),"
                          " u AS (UPDATE iaas.migrations g SET cancel_requested = true,"
                          "  updated_at = now(),"
                          "  state = CASE WHEN m.state = 'preparing' THEN 'cancelled'"
                          "   ELSE g.state END,"
                          "  finished_at = CASE WHEN m.state = 'preparing' THEN now() END,"
                          "  error = CASE WHEN m.state = 'preparing'"
                          "   THEN 'cancelled before the target listened' END"
                          "  FROM m WHERE g.id = m.id RETURNING g.instance_id, g.finished_at),"
                          " i AS (UPDATE iaas.instances SET task = NULL FROM u"
                          "  WHERE iaas.instances.id = u.instance_id AND u.finished_at IS NOT NULL"
                          "  AND task = 'migrating')"
                          " SELECT count(*) FROM u",
                          id);
    if (!r) {
        gw_fail_db_or_conflict(c);
        return;
    }
    long long n = st_db_int(r, 0, 0);
    PQclear(r);
    if (n == 0) {
        PGresult *e = st_db_q(c->db, "SELECT 1 FROM iaas.instances WHERE id = $1", id);
        if (e && PQntuples(e) == 1)
            st_http_reply_error(c->req, 409, ST_E_CONFLICT,
                                "no migration of this instance is under way");
        else if (e)
            st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such instance");
        else
            gw_fail_db(c);
        PQclear(e);
        return;
    }
    st_log_fields(
        ST_LOG_INFO, "instance.migrate_cancel",
        json_pack("{s:s, s:s}", "instance", id, "request_id", st_http_request_id(c->req)));
    gw_reply_instance_row(c, 202, id);
}

/* GET /v1/migrations[?instance_id=&limit=]: newest first. */
static void h_migrations(gw_ctx *c)
{
    const char *inst = st_http_query(c->req, "instance_id");
    const char *lim = st_http_query(c->req, "limit");
    long limit = 100;
    if (inst && !st_uuid_valid(inst)) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST, "instance_id must be a UUID");
        return;
    }
    if (lim) {
        char *end;
        limit = strtol(lim, &end, 10);
        if (!*lim || *end || limit < 1 || limit > 1000) {
            st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST, "limit must be 1..1000");
            return;
        }
    }
    char ls[16];
    snprintf(ls, sizeof ls, "%ld", limit);
    PGresult *r = st_db_q(c->db,
                          "SELECT json_build_object('migrations', coalesce(json_agg("
                          " iaas.migration_json(m) ORDER BY m.created_at DESC, m.id), '[]'))::text"
                          " FROM (SELECT * FROM iaas.migrations"
                          "  WHERE $1::uuid IS NULL OR instance_id = $1::uuid"
                          "  ORDER BY created_at DESC, id LIMIT $2::int) m",
                          inst, ls);
    gw_reply_query(c, 200, r, "migration");
}

/* A node's report's fields. */
typedef struct mig_report {
    const char *state, *uri, *error;
    long long round, transferred, remaining, total, throttle, downtime, total_ms;
} mig_report;

static int parse_report(gw_ctx *c, json_t *b, mig_report *p)
{
    char err[256];
    memset(p, 0, sizeof *p);
    p->downtime = p->total_ms = -1;
    const long long big = 1LL << 62;
    if (gw_check(c, st_json_get_str(b, "state", 1, 1, 16, &p->state, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_str(b, "uri", 0, 1, 64, &p->uri, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_str(b, "error", 0, 0, 1024, &p->error, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_int(b, "round", 0, 0, 1 << 20, &p->round, err, sizeof err), err) <
            0 ||
        gw_check(
            c, st_json_get_int(b, "transferred_bytes", 0, 0, big, &p->transferred, err, sizeof err),
            err) < 0 ||
        gw_check(c,
                 st_json_get_int(b, "remaining_bytes", 0, 0, big, &p->remaining, err, sizeof err),
                 err) < 0 ||
        gw_check(c, st_json_get_int(b, "total_bytes", 0, 0, big, &p->total, err, sizeof err), err) <
            0 ||
        gw_check(c, st_json_get_int(b, "throttle_pct", 0, 0, 100, &p->throttle, err, sizeof err),
                 err) < 0 ||
        gw_check(c, st_json_get_int(b, "downtime_ms", 0, 0, big, &p->downtime, err, sizeof err),
                 err) < 0 ||
        gw_check(c, st_json_get_int(b, "total_ms", 0, 0, big, &p->total_ms, err, sizeof err), err) <
            0)
        return -1;
    return 0;
}

/* "tcp:A.B.C.D:PORT" with PORT 1..65535. */
static int uri_valid(const char *uri)
{
    if (strncmp(uri, "tcp:", 4))
        return 0;
    const char *colon = strrchr(uri + 4, ':');
    if (!colon || colon - (uri + 4) >= 16)
        return 0;
    char ip[16];
    memcpy(ip, uri + 4, (size_t)(colon - (uri + 4)));
    ip[colon - (uri + 4)] = 0;
    struct in_addr a;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    return inet_pton(AF_INET, ip, &a) == 1 && colon[1] && !*end && port >= 1 && port <= 65535;
}

/* Ends migration mid (locked, under way) as state with err; the instance
 * stays where it is and its task clears. -1 on a database error. */
static int finish_failed(gw_ctx *c, const char *mid, const char *state, const char *err)
{
    return st_db_x(c->db,
                   "WITH m AS (UPDATE iaas.migrations SET state = $2, error = $3,"
                   "  finished_at = now(), updated_at = now() WHERE id = $1"
                   "  RETURNING instance_id)"
                   " UPDATE iaas.instances i SET task = NULL FROM m"
                   " WHERE i.id = m.instance_id AND i.task = 'migrating'",
                   mid, state, err) < 0
               ? -1
               : 0;
}

/* The source's VMM completed: the instance is the target's now. */
static int finish_completed(gw_ctx *c, const char *mid, const mig_report *p)
{
    char dt[24], tt[24];
    snprintf(dt, sizeof dt, "%lld", p->downtime);
    snprintf(tt, sizeof tt, "%lld", p->total_ms);
    PGresult *r = st_db_q(c->db,
                          "UPDATE iaas.migrations SET state = 'completed', finished_at = now(),"
                          " updated_at = now(), remaining_bytes = 0,"
                          " downtime_ms = nullif($2::bigint, -1), total_ms = nullif($3::bigint, -1)"
                          " WHERE id = $1 RETURNING instance_id, source_node_id, dest_node_id",
                          mid, dt, tt);
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        return -1;
    }
    long long n = st_db_x(c->db,
                          "UPDATE iaas.instances SET node_id = $3, generation = generation + 1,"
                          " task = NULL WHERE id = $1 AND node_id = $2",
                          st_db_val(r, 0, 0), st_db_val(r, 0, 1), st_db_val(r, 0, 2));
    PQclear(r);
    return n == 1 ? 0 : -1;
}

/* What the report does to the migration: the new state (NULL: progress only,
 * or nothing), or -1 with a 4xx sent. */
static int apply_report(gw_ctx *c, const char *mid, int source, const char *cur,
                        const char *cur_uri, const mig_report *p, const char *peer, int cancelling)
{
    char err[1200];
    int live = !strcmp(cur, "preparing") || !strcmp(cur, "migrating");
    if (!live) {
        /* a repeat of how it ended is fine; anything else is too late */
        if (!strcmp(p->state, cur) || (!source && !strcmp(p->state, "listening")) ||
            (!strcmp(p->state, "active") && source))
            return 0;
        st_http_reply_error(c->req, 409, ST_E_CONFLICT, "the migration has ended: %s", cur);
        return -1;
    }
    if (!source) {
        if (!strcmp(p->state, "listening")) {
            if (!p->uri || !uri_valid(p->uri)) {
                st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                                    "listening needs uri tcp:IPV4:PORT (port 1-65535)");
                return -1;
            }
            if (cur_uri && strcmp(cur_uri, p->uri)) {
                st_http_reply_error(c->req, 409, ST_E_CONFLICT, "the target already listens at %s",
                                    cur_uri);
                return -1;
            }
            if (cur_uri)
                return 0;
            return st_db_x(c->db,
                           "UPDATE iaas.migrations SET state = 'migrating', incoming_uri = $2,"
                           " updated_at = now() WHERE id = $1",
                           mid, p->uri) == 1
                       ? 0
                       : -2;
        }
        if (!strcmp(p->state, "failed")) {
            /* a cancel asked for ends the incoming VMM too: still a cancel */
            snprintf(err, sizeof err, "%son the target host %s: %s",
                     cancelling ? "cancelled; " : "", peer,
                     p->error && *p->error ? p->error : "the incoming VMM failed");
            return finish_failed(c, mid, cancelling ? "cancelled" : "failed", err) < 0 ? -2 : 0;
        }
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                            "the target reports state listening or failed");
        return -1;
    }
    if (strcmp(cur, "migrating")) {
        st_http_reply_error(c->req, 409, ST_E_CONFLICT,
                            "the target does not listen yet: nothing to report");
        return -1;
    }
    if (!strcmp(p->state, "active")) {
        char v[6][24];
        snprintf(v[0], 24, "%lld", p->round);
        snprintf(v[1], 24, "%lld", p->transferred);
        snprintf(v[2], 24, "%lld", p->remaining);
        snprintf(v[3], 24, "%lld", p->total);
        snprintf(v[4], 24, "%lld", p->throttle);
        return st_db_x(c->db,
                       "UPDATE iaas.migrations SET round = $2::int, transferred_bytes = $3::bigint,"
                       " remaining_bytes = $4::bigint, total_bytes = $5::bigint,"
                       " throttle_pct = $6::int, updated_at = now() WHERE id = $1",
                       mid, v[0], v[1], v[2], v[3], v[4]) == 1
                   ? 0
                   : -2;
    }
    if (!strcmp(p->state, "completed"))
        return finish_completed(c, mid, p) < 0 ? -2 : 0;
    if (!strcmp(p->state, "failed") || !strcmp(p->state, "cancelled")) {
        snprintf(err, sizeof err, "%s",
                 p->error && *p->error            ? p->error
                 : !strcmp(p->state, "cancelled") ? "cancelled"
                                                  : "the source VMM reported the migration failed");
        return finish_failed(c, mid, p->state, err) < 0 ? -2 : 0;
    }
    st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                        "the source reports state active, completed, failed or cancelled");
    return -1;
}

/* PUT /internal/v1/node/migrations/{id}: the source's or the target's
 * report (the credential says which); answered with the migration. */
static void h_node_migration(gw_ctx *c)
{
    static const char *const keys[] = {"state",
                                       "uri",
                                       "error",
                                       "round",
                                       "transferred_bytes",
                                       "remaining_bytes",
                                       "total_bytes",
                                       "throttle_pct",
                                       "downtime_ms",
                                       "total_ms",
                                       NULL};
    const char *mid = gw_id_param(c, "id");
    if (!mid)
        return;
    json_t *b = gw_body(c, keys);
    if (!b)
        return;
    mig_report p;
    if (parse_report(c, b, &p) < 0)
        return;
    if (st_db_begin(c->db) < 0) {
        gw_fail_db(c);
        return;
    }
    PGresult *r = st_db_q(c->db,
                          "SELECT state, source_node_id = $2, incoming_uri, instance_id,"
                          " dest_node, cancel_requested"
                          " FROM iaas.migrations WHERE id = $1"
                          " AND (source_node_id = $2 OR dest_node_id = $2) FOR UPDATE",
                          mid, c->p.node_id);
    if (!r || PQntuples(r) != 1) {
        st_db_rollback(c->db);
        if (r)
            st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such migration on this node");
        else
            gw_fail_db(c);
        PQclear(r);
        return;
    }
    char cur[16], uri[72], inst[40], peer[72];
    int source = *st_db_val(r, 0, 1) == 't';
    snprintf(cur, sizeof cur, "%s", st_db_val(r, 0, 0));
    int has_uri = st_db_val(r, 0, 2) != NULL;
    snprintf(uri, sizeof uri, "%s", has_uri ? st_db_val(r, 0, 2) : "");
    snprintf(inst, sizeof inst, "%s", st_db_val(r, 0, 3));
    snprintf(peer, sizeof peer, "%s", st_db_val(r, 0, 4));
    int cancelling = *st_db_val(r, 0, 5) == 't';
    PQclear(r);
    int rc = apply_report(c, mid, source, cur, has_uri ? uri : NULL, &p, peer, cancelling);
    if (rc == -1) {
        st_db_rollback(c->db);
        return;
    }
    if (rc < 0 || st_db_commit(c->db) < 0) {
        gw_fail_db_or_conflict(c);
        return;
    }
    if (strcmp(p.state, "active") && strcmp(p.state, cur))
        st_log_fields(!strcmp(p.state, "failed") ? ST_LOG_WARN : ST_LOG_INFO, "instance.migration",
                      json_pack("{s:s, s:s, s:s, s:s, s:s}", "instance", inst, "migration", mid,
                                "role", source ? "source" : "target", "state", p.state, "error",
                                p.error ? p.error : ""));
    gw_reply_query(c, 200,
                   st_db_q(c->db,
                           "SELECT iaas.migration_json(m)::text FROM iaas.migrations m"
                           " WHERE m.id = $1",
                           mid),
                   "migration");
}

void gw_migrate_routes(gw *g)
{
    gw_route(g, "GET /v1/migrations", GW_CLOUD_ADMIN, h_migrations);
    gw_route(g, "PUT /internal/v1/node/migrations/{id}", GW_NODE, h_node_migration);
}
