/*
 * nodes.c - compute nodes: the admin's view and the nodes' own API.
 *
 * An admin registers a node (API or `stratus-gateway node-add`) and gets its
 * credential once; the node agent then uses it on /internal/v1/node/...:
 * heartbeat with capacity (and its tunnel address and external uplink),
 * fetch the instances it should run (with their generation, and the
 * networks, groups and routers its data plane builds), and report what actually happened to each. A
 * node only ever sees and changes instances placed on it.
 *
 * Reports drive the lifecycle: the node says an instance is active, stopped,
 * deleted or in error, and the gateway moves state (through the database's
 * transition guard) and clears the task the report completes. A report that
 * would make an illegal move (a stale "active" for an instance being deleted)
 * is answered 409 and changes nothing.
 */
#include "gateway.h"
#include "stratus/crypto.h"
#include "stratus/json.h"
#include "stratus/log.h"
#include "stratus/nodeauth.h"
#include "stratus/uuid.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fresh node credential (common/nodeauth.h) and its digest. */
static void new_credential(char *token, size_t tokenlen, char sha[65])
{
    char secret[65];
    st_random_hex(secret, 32);
    snprintf(token, tokenlen, ST_NODE_CRED_PREFIX "%s", secret);
    st_sha256_hex(token, strlen(token), sha);
}

int gw_node_create(st_db *db, const char *name, char id[40], char *token, size_t tokenlen)
{
    char sha[65];
    new_credential(token, tokenlen, sha);
    st_uuid_v4(id);
    return st_db_x(db, "INSERT INTO iaas.nodes (id, name, token_sha256) VALUES ($1, $2, $3)", id,
                   name, sha) == 1
               ? 0
               : -1;
}

int gw_node_rotate(st_db *db, const char *id_or_name, char *token, size_t tokenlen)
{
    char sha[65];
    new_credential(token, tokenlen, sha);
    return (int)st_db_x(db,
                        "UPDATE iaas.nodes SET token_sha256 = $2"
                        " WHERE id::text = $1 OR name = $1",
                        id_or_name, sha);
}

static void node_reply(gw_ctx *c, int status, const char *id)
{
    char down[16];
    GW_DOWN_AFTER(c, down);
    PGresult *r = st_db_q(
        c->db, "SELECT iaas.node_json(n, $1)::text FROM iaas.nodes n WHERE n.id = $2", down, id);
    gw_reply_query(c, status, r, "node");
}

static void h_node_create(gw_ctx *c)
{
    static const char *const keys[] = {"name", NULL};
    json_t *b = gw_body(c, keys);
    if (!b)
        return;
    const char *name = NULL;
    char err[256], id[40], token[80];
    if (gw_check(c, st_json_get_str(b, "name", 1, 1, 63, &name, err, sizeof err), err) < 0)
        return;
    if (gw_node_create(c->db, name, id, token, sizeof token) < 0) {
        if (st_db_unique_violation(c->db))
            st_http_reply_error(c->req, 409, ST_E_CONFLICT, "a node named '%s' exists", name);
        else if (strcmp(st_db_sqlstate(c->db), "23514") == 0)
            st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                                "node names are letters, digits, '.', '_' and '-'");
        else
            gw_fail_db(c);
        return;
    }
    char down[16];
    GW_DOWN_AFTER(c, down);
    PGresult *r = st_db_q(c->db,
                          "SELECT iaas.node_created_json(n, $1, $3)::text FROM iaas.nodes n"
                          " WHERE n.id = $2",
                          down, id, token);
    gw_reply_query(c, 201, r, "node");
}

/* A new credential for the node; the old one is refused from now on, by
 * every service (common/nodeauth.h). */
static void h_node_rotate(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    char token[80];
    int n = gw_node_rotate(c->db, id, token, sizeof token);
    if (n < 0) {
        gw_fail_db(c);
        return;
    }
    if (n == 0) {
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such node");
        return;
    }
    st_info("node.credential_rotated", "node %s: credential replaced", id);
    PGresult *r = st_db_q(c->db,
                          "SELECT iaas.node_credential_json(n, $2)::text FROM iaas.nodes n"
                          " WHERE n.id = $1",
                          id, token);
    gw_reply_query(c, 200, r, "node");
}

static void h_node_list(gw_ctx *c)
{
    char down[16];
    GW_DOWN_AFTER(c, down);
    PGresult *r = st_db_q(c->db,
                          "SELECT json_build_object('nodes', coalesce(json_agg("
                          " iaas.node_json(n, $1) ORDER BY n.name), '[]'))::text FROM iaas.nodes n",
                          down);
    gw_reply_query(c, 200, r, "node");
}

static void h_node_show(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (id)
        node_reply(c, 200, id);
}

/* An IPv4 address for a node's tunnel (its VXLAN underlay address). */
static int tunnel_ip_check(gw_ctx *c, const char *ip)
{
    struct in_addr a;
    if (ip && inet_pton(AF_INET, ip, &a) != 1) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST, "tunnel_ip must be an IPv4 address");
        return -1;
    }
    return 0;
}

static void h_node_update(gw_ctx *c)
{
    static const char *const keys[] = {"disabled", "tunnel_ip", NULL};
    const char *id = gw_id_param(c, "id");
    json_t *b = id ? gw_body(c, keys) : NULL;
    if (!b)
        return;
    int disabled = -1;
    const char *tip = NULL;
    char err[256];
    if (gw_check(c, st_json_get_bool(b, "disabled", 0, &disabled, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_str(b, "tunnel_ip", 0, 1, 15, &tip, err, sizeof err), err) < 0 ||
        tunnel_ip_check(c, tip) < 0)
        return;
    long long n = st_db_x(c->db,
                          "UPDATE iaas.nodes SET disabled = coalesce($2::boolean, disabled),"
                          " tunnel_ip = coalesce($3::inet, tunnel_ip) WHERE id = $1",
                          id,
                          disabled < 0 ? NULL
                          : disabled   ? "true"
                                       : "false",
                          tip);
    if (n < 0)
        gw_fail_db(c);
    else if (n == 0)
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such node");
    else
        node_reply(c, 200, id);
}

static void h_node_delete(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    long long n = st_db_x(c->db,
                          "DELETE FROM iaas.nodes n WHERE id = $1 AND NOT EXISTS ("
                          " SELECT 1 FROM iaas.instances WHERE node_id = n.id"
                          " AND state <> 'deleted')",
                          id);
    if (n < 0 && strcmp(st_db_sqlstate(c->db), "23503") == 0)
        st_http_reply_error(c->req, 409, ST_E_CONFLICT,
                            "deleted instances still refer to the node");
    else if (n < 0)
        gw_fail_db(c);
    else if (n == 1)
        st_http_reply_json(c->req, 204, NULL);
    else {
        PGresult *r = st_db_q(c->db, "SELECT 1 FROM iaas.nodes WHERE id = $1", id);
        int exists = r && PQntuples(r) == 1;
        PQclear(r);
        if (exists)
            st_http_reply_error(c->req, 409, ST_E_CONFLICT, "the node still has instances");
        else
            st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such node");
    }
}

/* ---- The node agent's API ---- */

/* capacity's fields beyond this gateway's: a newer agent's abilities (as block_migration was to
 * the gateways before it). Ignored, so agents need not wait for the gateways' upgrade; only
 * booleans and integers, at most 16 such fields, else 400 with the reason. */
static int capacity_extra(gw_ctx *c, json_t *cap, const char *const *known, const char *host)
{
    const char *k;
    json_t *v, *extra = NULL;
    int n = 0;
    json_object_foreach(cap, k, v)
    {
        int is_known = 0;
        for (int i = 0; known[i] && !is_known; i++)
            is_known = !strcmp(known[i], k);
        if (is_known)
            continue;
        if ((!json_is_boolean(v) && !json_is_integer(v)) || ++n > 16) {
            json_decref(extra);
            st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                                "capacity: unknown field '%.64s' (a newer agent's fields are"
                                " booleans or integers, at most 16)",
                                k);
            return -1;
        }
        if (!extra)
            extra = json_array();
        json_array_append_new(extra, json_string(k));
    }
    if (extra)
        st_log_fields(ST_LOG_DEBUG, "node.capacity_ignored",
                      json_pack("{s:s, s:o}", "hostname", host, "fields", extra));
    return 0;
}

static void h_heartbeat(gw_ctx *c)
{
    static const char *const keys[] = {"hostname",        "agent_version", "capacity", "tunnel_ip",
                                       "external_uplink", "fenced_at",     NULL};
    static const char *const cap_keys[] = {"vcpus",           "memory_mib", "disk_gib",
                                           "sriov_vfs",       "firmware",   "live_migration",
                                           "block_migration", NULL};
    json_t *b = gw_body(c, keys);
    if (!b)
        return;
    const char *host = "", *ver = "", *tip = NULL, *fenced = NULL;
    long long v = 0, m = 0, d = 0, vfs = 0;
    int uplink = -1, firmware = 0, migrate = 0, copy = 0;
    char err[256];
    json_t *cap = json_object_get(b, "capacity");
    if (gw_check(c, st_json_get_str(b, "hostname", 0, 0, 255, &host, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_bool(b, "external_uplink", 0, &uplink, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_str(b, "agent_version", 0, 0, 64, &ver, err, sizeof err), err) <
            0 ||
        gw_check(c, st_json_get_str(b, "tunnel_ip", 0, 1, 15, &tip, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_str(b, "fenced_at", 0, 1, 40, &fenced, err, sizeof err), err) < 0 ||
        tunnel_ip_check(c, tip) < 0)
        return;
    if (!json_is_object(cap)) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST, "capacity must be an object");
        return;
    }
    if (capacity_extra(c, cap, cap_keys, host) < 0 ||
        gw_check(c, st_json_get_int(cap, "vcpus", 1, 0, 1 << 20, &v, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_int(cap, "memory_mib", 1, 0, 1LL << 40, &m, err, sizeof err), err) <
            0 ||
        gw_check(c, st_json_get_int(cap, "disk_gib", 1, 0, 1LL << 40, &d, err, sizeof err), err) <
            0 ||
        gw_check(c, st_json_get_int(cap, "sriov_vfs", 0, 0, 1 << 16, &vfs, err, sizeof err), err) <
            0 ||
        gw_check(c, st_json_get_bool(cap, "firmware", 0, &firmware, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_bool(cap, "live_migration", 0, &migrate, err, sizeof err), err) <
            0 ||
        gw_check(c, st_json_get_bool(cap, "block_migration", 0, &copy, err, sizeof err), err) < 0)
        return;
    char vs[24], ms[24], ds[24], fs[24];
    snprintf(vs, sizeof vs, "%lld", v);
    snprintf(ms, sizeof ms, "%lld", m);
    snprintf(ds, sizeof ds, "%lld", d);
    snprintf(fs, sizeof fs, "%lld", vfs);
    if (fenced && gw_node_fenced(c, fenced) < 0) /* its agent's fence (evacuate.c) */
        return;
    char down[16];
    GW_DOWN_AFTER(c, down);
    /* A host that may have been shown down (no heartbeat for nearly
     * nodes.down_after) is up again: raise the host-status epoch in the same
     * statement, so no cached instance list goes on showing it down. */
    if (st_db_x(c->db,
                "WITH prev AS (SELECT id, last_heartbeat FROM iaas.nodes"
                "  WHERE id = $1 FOR UPDATE),"
                " beat AS (UPDATE iaas.nodes n SET hostname = $2, agent_version = $3,"
                "  vcpus = $4, memory_mib = $5, disk_gib = $6, sriov_vfs = $10, firmware = $11,"
                "  live_migration = $12, block_migration = $13,"
                "  last_heartbeat = now(),"
                "  tunnel_ip = coalesce($8::inet, n.tunnel_ip),"
                "  external_uplink = coalesce($9::boolean, n.external_uplink)"
                "  FROM prev WHERE n.id = prev.id RETURNING prev.last_heartbeat IS NULL"
                "  OR prev.last_heartbeat < now() - ($7::int - 1) * interval '1 second'"
                "  AS revived)"
                " UPDATE iaas.host_status_epoch SET epoch = epoch + 1"
                " WHERE (SELECT revived FROM beat)",
                c->p.node_id, host, ver, vs, ms, ds, down, tip,
                uplink < 0 ? NULL
                : uplink   ? "true"
                           : "false",
                fs, firmware > 0 ? "true" : "false", migrate > 0 ? "true" : "false",
                migrate > 0 && copy > 0 ? "true" : "false") < 0) {
        gw_fail_db(c);
        return;
    }
    node_reply(c, 200, c->p.node_id);
}

void gw_node_etag(char etag[80], const char *node_id, long long version)
{
    snprintf(etag, 80, "\"%s.%lld\"", node_id, version);
}

long long gw_node_version(st_db *db, const char *node_id)
{
    PGresult *r = st_db_q(db,
                          "SELECT coalesce((SELECT version FROM iaas.node_desired_versions"
                          " WHERE node_id = $1), 0)",
                          node_id);
    long long v = r && PQntuples(r) == 1 ? st_db_int(r, 0, 0) : -1;
    PQclear(r);
    return v;
}

PGresult *gw_node_set_render(st_db *db, const char *node_id)
{
    /* the set's JSON is iaas.node_desired_json, sql/views.sql */
    return st_db_q(db, "SELECT iaas.node_desired_json($1)::text", node_id);
}

void gw_node_set_reply(gw_ctx *c, long long version)
{
    char etag[80];
    gw_node_etag(etag, c->p.node_id, version);
    st_http_add_header(c->req, "ETag", etag);
    PGresult *r = gw_node_set_render(c->db, c->p.node_id);
    if (!r) {
        gw_fail_db(c);
        return;
    }
    gw_reply_json_text(c, 200, r, "node");
    PQclear(r);
}

#define NODE_WAIT_MAX_S 60

/*
 * The desired set. Conditional on the node's version (read with its
 * credential): an agent asking with the last tag gets 304, at once, or with
 * ?wait=N once the set changes (200) or N seconds have passed (304), the
 * request held meanwhile without a thread or a pooled connection
 * (nodewait.c).
 */
static void h_node_instances(gw_ctx *c)
{
    const char *ws = st_http_query(c->req, "wait");
    long wait_s = 0;
    if (ws) {
        char *end;
        wait_s = strtol(ws, &end, 10);
        if (!*ws || *end || wait_s < 1 || wait_s > NODE_WAIT_MAX_S) {
            st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                                "wait must be a whole number of seconds from 1 to %d",
                                NODE_WAIT_MAX_S);
            return;
        }
    }
    char etag[80];
    gw_node_etag(etag, c->p.node_id, c->p.list_version);
    if (!st_http_etag_matches(c->req, etag)) {
        gw_node_set_reply(c, c->p.list_version);
        return;
    }
    if (wait_s > 0) {
        int rc = gw_node_wait(c, c->p.list_version, (int)wait_s);
        if (rc == 0)
            return;    /* held: answered from nodewait.c */
        if (rc == 1) { /* changed since the credential was read */
            long long v = gw_node_version(c->db, c->p.node_id);
            if (v < 0)
                gw_fail_db(c);
            else
                gw_node_set_reply(c, v);
            return;
        }
        /* cannot hold (no LISTEN connection): answer as a plain poll */
    }
    st_http_not_modified(c->req, etag);
}

void gw_reply_instance_row(gw_ctx *c, int status, const char *id)
{
    char down[16];
    GW_DOWN_AFTER(c, down);
    PGresult *r = st_db_q(c->db,
                          "SELECT iaas.instance_json(i, $2)::text FROM iaas.instances i"
                          " WHERE i.id = $1",
                          id, down);
    gw_reply_query(c, status, r, "instance");
}

/*
 * A node could not launch a building instance (image fetch, disk, VMM start
 * failed there). Remember the host as tried and place the instance on another
 * one, up to sched.launch_attempts hosts; then it goes to error with the last
 * fault. Returns 1 when it replied, 0 when the report is not a retry case
 * (not building: a stopped instance's disk lives on this node) and should be
 * handled as a plain report.
 */
static int retry_launch(gw_ctx *c, const char *id, const char *fault, long long gen)
{
    if (st_db_begin(c->db) < 0) {
        gw_fail_db(c);
        return 1;
    }
    PGresult *r = st_db_q(c->db,
                          "SELECT state, vcpus, memory_mib, disk_gib, server_group_id,"
                          " generation, boot FROM iaas.instances WHERE id = $1 AND node_id = $2"
                          " FOR UPDATE",
                          id, c->p.node_id);
    if (!r) {
        gw_fail_db(c);
        return 1;
    }
    if (PQntuples(r) == 1 && st_db_int(r, 0, 5) > gen) {
        long long now = st_db_int(r, 0, 5);
        PQclear(r);
        st_db_rollback(c->db);
        st_http_reply_error(c->req, 409, ST_E_STALE_REPORT,
                            "report for generation %lld, the instance is at %lld", gen, now);
        return 1;
    }
    if (PQntuples(r) != 1 || strcmp(st_db_val(r, 0, 0), "building") != 0) {
        int missing = PQntuples(r) != 1;
        PQclear(r);
        st_db_rollback(c->db);
        if (missing)
            st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such instance on this node");
        return missing;
    }
    gw_sched_req req = {.vcpus = (int)st_db_int(r, 0, 1),
                        .memory_mib = (int)st_db_int(r, 0, 2),
                        .disk_gib = (int)st_db_int(r, 0, 3),
                        .firmware = !strcmp(st_db_val(r, 0, 6), "firmware")};
    if (gw_sched_direct_ports(c->db, id, NULL, NULL, &req) < 0) {
        PQclear(r);
        gw_fail_db(c);
        return 1;
    }
    char group[40] = "";
    if (st_db_val(r, 0, 4))
        snprintf(group, sizeof group, "%s", st_db_val(r, 0, 4));
    PQclear(r);
    const char *why = fault ? fault : "launch failed";
    r = st_db_q(c->db,
                "INSERT INTO iaas.instance_attempts (instance_id, node_id, fault)"
                " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                id, c->p.node_id, why);
    PGresult *n = r ? st_db_q(c->db,
                              "SELECT count(*) FROM iaas.instance_attempts"
                              " WHERE instance_id = $1",
                              id)
                    : NULL;
    PQclear(r);
    if (!n) {
        gw_fail_db(c);
        return 1;
    }
    long long tried = st_db_int(n, 0, 0);
    PQclear(n);
    char node[40] = "", reason[512] = "";
    int placed = 0;
    if (tried < c->gw->c.launch_attempts) {
        if (gw_sched_lock_group(c->db, group[0] ? group : NULL, id, &req) < 0) {
            gw_fail_db(c);
            return 1;
        }
        placed = gw_schedule(c->gw, c->db, &req, id, group[0] ? group : NULL, node, reason,
                             sizeof reason);
        if (placed < 0) {
            gw_fail_db(c);
            return 1;
        }
    }
    long long ok;
    if (placed) {
        ok = st_db_x(c->db,
                     "UPDATE iaas.instances SET node_id = $2, generation = generation + 1"
                     " WHERE id = $1",
                     id, node);
    } else {
        char msg[1400];
        snprintf(msg, sizeof msg, "launch failed on %lld host%s; last: %.1024s%s%s", tried,
                 tried == 1 ? "" : "s", why, reason[0] ? "; " : "", reason);
        ok = st_db_x(c->db,
                     "UPDATE iaas.instances SET state = 'error', fault = $2"
                     " WHERE id = $1",
                     id, msg);
    }
    if (ok != 1 || st_db_commit(c->db) < 0) {
        gw_fail_db(c);
        return 1;
    }
    st_log_fields(ST_LOG_WARN, "instance.launch_failed",
                  json_pack("{s:s, s:s, s:s, s:s}", "instance", id, "node", c->p.node_id, "fault",
                            why, "next_node", placed ? node : ""));
    gw_reply_instance_row(c, 200, id);
    return 1;
}

static void h_node_report(gw_ctx *c)
{
    static const char *const keys[] = {
        "state", "generation",        "reboot_seq",     "fault", "retryable",
        "stop",  "snapshot_image_id", "snapshot_fault", NULL};
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    json_t *b = gw_body(c, keys);
    if (!b)
        return;
    const char *state = NULL, *fault = NULL, *stop = NULL, *snap = NULL, *snap_fault = NULL;
    long long gen = 0, rseq = -1;
    int retryable = 0;
    char err[256];
    if (gw_check(c, st_json_get_str(b, "state", 1, 1, 16, &state, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_int(b, "generation", 1, 0, 1LL << 62, &gen, err, sizeof err), err) <
            0 ||
        gw_check(c, st_json_get_int(b, "reboot_seq", 0, 0, 1LL << 30, &rseq, err, sizeof err),
                 err) < 0 ||
        gw_check(c, st_json_get_str(b, "fault", 0, 0, 1024, &fault, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_bool(b, "retryable", 0, &retryable, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_str(b, "stop", 0, 1, 16, &stop, err, sizeof err), err) < 0 ||
        gw_check(c, st_json_get_str(b, "snapshot_image_id", 0, 1, 64, &snap, err, sizeof err),
                 err) < 0 ||
        gw_check(c, st_json_get_str(b, "snapshot_fault", 0, 1, 1024, &snap_fault, err, sizeof err),
                 err) < 0)
        return;
    if ((snap && !st_uuid_valid(snap)) || (snap_fault && !snap)) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                            "snapshot_image_id is the image's id, needed by snapshot_fault");
        return;
    }
    if (stop && strcmp(stop, "graceful") && strcmp(stop, "forced")) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST, "stop must be graceful or forced");
        return;
    }
    if (strcmp(state, "active") && strcmp(state, "stopped") && strcmp(state, "deleted") &&
        strcmp(state, "error")) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                            "state must be active, stopped, deleted or error");
        return;
    }
    if (retryable && !strcmp(state, "error") && retry_launch(c, id, fault, gen))
        return;
    char rs[24];
    snprintf(rs, sizeof rs, "%lld", rseq);
    /* The reported state becomes the state; the task it completes is cleared.
     * A report about an earlier generation is stale (the order changed since
     * the node acted): it changes nothing and is answered 409, so the node
     * re-reads its orders. Otherwise a stale "error" could, say, move a
     * deleting instance to error, where no node would ever delete it. */
    char gs[24];
    snprintf(gs, sizeof gs, "%lld", gen);
    char down[16];
    GW_DOWN_AFTER(c, down);
    /* A snapshot's report (snapshot_image_id, with snapshot_fault when it
     * failed) ends the task image_snapshot of that image; a snapshot ended
     * by a failure or by anything else that clears the task (an error, a
     * delete) has its image killed, never left queued. */
    PGresult *r = st_db_q(c->db,
                          "UPDATE iaas.instances i SET state = $3,"
                          " fault = CASE WHEN $3 = 'error' THEN coalesce($6, 'reported by node')"
                          "  ELSE NULL END,"
                          " task = CASE"
                          "  WHEN i.task = 'stopping' AND $3 = 'stopped' THEN NULL"
                          "  WHEN i.task = 'starting' AND $3 = 'active' THEN NULL"
                          "  WHEN i.task = 'rebooting' AND $3 = 'active'"
                          "   AND $5::int >= i.reboot_seq THEN NULL"
                          "  WHEN i.task = 'image_snapshot' AND i.snapshot_image_id = $9::uuid"
                          "   THEN NULL"
                          "  WHEN i.task = 'evacuating' AND $3 IN ('active', 'stopped') THEN NULL"
                          "  WHEN $3 IN ('error', 'deleted') THEN NULL"
                          "  ELSE i.task END,"
                          " last_stop = coalesce($8, i.last_stop),"
                          " last_stop_at = CASE WHEN $8 IS NULL THEN i.last_stop_at"
                          "  ELSE now() END"
                          " FROM iaas.instances o"
                          " WHERE o.id = i.id AND i.id = $1 AND i.node_id = $2"
                          "  AND i.state <> 'deleted' AND i.generation <= $4::bigint"
                          " RETURNING iaas.instance_json(i, $7)::text,"
                          "  CASE WHEN o.task = 'image_snapshot' AND i.task IS NULL"
                          "   AND ($10::text IS NOT NULL OR $9::uuid IS DISTINCT FROM"
                          "    o.snapshot_image_id) THEN o.snapshot_image_id END",
                          id, c->p.node_id, state, gs, rs, fault, down, stop, snap, snap_fault);
    if (!r) {
        gw_fail_db_or_conflict(c);
        return;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        PGresult *g = st_db_q(c->db,
                              "SELECT generation FROM iaas.instances WHERE id = $1"
                              " AND node_id = $2 AND state <> 'deleted'",
                              id, c->p.node_id);
        if (g && PQntuples(g) == 1)
            st_http_reply_error(c->req, 409, ST_E_STALE_REPORT,
                                "report for generation %lld, the instance is at %lld: re-read"
                                " the desired state",
                                gen, st_db_int(g, 0, 0));
        else if (g)
            st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such instance on this node");
        else
            gw_fail_db(c);
        PQclear(g);
        return;
    }
    if (st_db_val(r, 0, 1)) {
        char why[1100];
        snprintf(why, sizeof why, "the snapshot failed: %s",
                 snap_fault                  ? snap_fault
                 : !strcmp(state, "deleted") ? "the instance was deleted"
                                             : "the instance failed");
        gw_snapshot_abandon(c, st_db_val(r, 0, 1), why);
    }
    gw_reply_json_text(c, 200, r, "instance");
    PQclear(r);
}

#define CONSOLE_MAX (64 * 1024)

/* The node pushes the tail of an instance's serial output (any bytes). */
static void h_node_console(gw_ctx *c)
{
    const char *id = gw_id_param(c, "id");
    if (!id)
        return;
    size_t len;
    const char *body = st_http_body(c->req, &len);
    if (len > CONSOLE_MAX) {
        /* keep the newest bytes: a console tail */
        body += len - CONSOLE_MAX;
        len = CONSOLE_MAX;
    }
    char lens[24];
    snprintf(lens, sizeof lens, "%zu", len);
    /* bytea as a binary parameter would need PQexecParams formats; hex text is simplest */
    char *hex = malloc(2 * len + 3);
    static const char digits[] = "0123456789abcdef";
    hex[0] = '\\';
    hex[1] = 'x';
    for (size_t i = 0; i < len; i++) {
        hex[2 + 2 * i] = digits[(unsigned char)body[i] >> 4];
        hex[3 + 2 * i] = digits[(unsigned char)body[i] & 15];
    }
    hex[2 + 2 * len] = 0;
    long long n = st_db_x(c->db,
                          "INSERT INTO iaas.instance_consoles (instance_id, output)"
                          " SELECT id, $3::bytea FROM iaas.instances"
                          "  WHERE id = $1 AND node_id = $2 AND state <> 'deleted'"
                          " ON CONFLICT (instance_id) DO UPDATE SET output = EXCLUDED.output,"
                          " updated_at = now()",
                          id, c->p.node_id, hex);
    free(hex);
    if (n < 0)
        gw_fail_db(c);
    else if (n == 0)
        st_http_reply_error(c->req, 404, ST_E_NOT_FOUND, "no such instance on this node");
    else
        st_http_reply_json(c->req, 204, NULL);
}

void gw_node_reply(gw_ctx *c, int status, const char *id)
{
    node_reply(c, status, id);
}

/* POST /v1/nodes/{id}/actions: power_off and power_on (power.c), evacuate (evacuate.c). */
static void h_node_action(gw_ctx *c)
{
    static const char *const keys[] = {"action", "confirm_data_loss", NULL};
    const char *id = gw_id_param(c, "id");
    json_t *b = id ? gw_body(c, keys) : NULL;
    if (!b)
        return;
    const char *action = NULL;
    char err[256];
    if (gw_check(c, st_json_get_str(b, "action", 1, 1, 32, &action, err, sizeof err), err) < 0)
        return;
    if (!strcmp(action, "evacuate")) {
        gw_node_evacuate(c, id, b);
    } else if (strcmp(action, "power_off") && strcmp(action, "power_on")) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                            "action must be power_off, power_on or evacuate");
    } else if (json_object_get(b, "confirm_data_loss")) {
        st_http_reply_error(c->req, 400, ST_E_INVALID_REQUEST,
                            "confirm_data_loss belongs to evacuate, not %s", action);
    } else {
        gw_node_power(c, id, action);
    }
}

void gw_node_routes(gw *g)
{
    gw_route(g, "POST /v1/nodes", GW_CLOUD_ADMIN, h_node_create);
    gw_route(g, "GET /v1/nodes", GW_CLOUD_ADMIN, h_node_list);
    gw_route(g, "GET /v1/nodes/{id}", GW_CLOUD_ADMIN, h_node_show);
    gw_route(g, "PATCH /v1/nodes/{id}", GW_CLOUD_ADMIN, h_node_update);
    gw_route(g, "DELETE /v1/nodes/{id}", GW_CLOUD_ADMIN, h_node_delete);
    gw_route(g, "POST /v1/nodes/{id}/credential", GW_CLOUD_ADMIN, h_node_rotate);
    gw_route(g, "POST /v1/nodes/{id}/actions", GW_CLOUD_ADMIN, h_node_action);
    gw_route(g, "PUT /internal/v1/node", GW_NODE, h_heartbeat);
    gw_route(g, "GET /internal/v1/node/instances", GW_NODE, h_node_instances);
    gw_route(g, "PUT /internal/v1/node/instances/{id}", GW_NODE, h_node_report);
    gw_route(g, "PUT /internal/v1/node/instances/{id}/console", GW_NODE, h_node_console);
}
