/*
 * scheduler.c - placing an instance: the snapshot and the claim.
 *
 * The decision itself is sched_core.c (filters, weighers, the policy). This
 * file loads what it needs in one query (every node with what its live
 * instances reserve, whether it already failed this instance, whether it
 * holds a member of the instance's server group) and then makes the choice
 * stick when several gateways place at once:
 *
 *   1. the caller holds its tenant's quota row and, for a grouped instance,
 *      the server group's row (FOR UPDATE), so placements within a group are
 *      serialised and group membership in the snapshot is current;
 *   2. the chosen node's row is locked FOR UPDATE and its reservations are
 *      read again by a new statement, which under READ COMMITTED sees every
 *      placement committed before the lock was granted;
 *   3. if the node no longer fits, it is dropped from the snapshot and the
 *      next best is tried (a bounded number of times).
 *
 * The lock is held to the end of the caller's transaction, so two placements
 * on one node are serialised and can never both squeeze in.
 */
#include "consolidate.h"
#include "gateway.h"
#include "rebalance.h"
#include "sched_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CLAIMS 10

int gw_sched_load_policy(st_db *db, gw_sched_policy *p)
{
    PGresult *r = st_db_q0(db, "SELECT value FROM iaas.settings WHERE key = 'sched.policy'");
    if (!r)
        return -1;
    *p = GW_SCHED_SPREAD;
    if (PQntuples(r) == 1)
        gw_sched_policy_parse(st_db_val(r, 0, 0), p);
    PQclear(r);
    return 0;
}

static int load_hosts(gw *g, st_db *db, const char *instance, const char *group, gw_host **out)
{
    char down[16];
    snprintf(down, sizeof down, "%d", g->c.node_down_after_s);
    PGresult *r =
        st_db_q(db,
                "WITH u AS (SELECT node_id, count(*) n, sum(vcpus) v,"
                "  sum(memory_mib) m, sum(disk_gib) d FROM (" GW_NODE_HOLDS ") h"
                "  GROUP BY node_id)"
                " SELECT n.id, n.name, n.disabled,"
                "  coalesce(n.last_heartbeat > now() - $1::int * interval '1 second',"
                "   false),"
                "  n.vcpus, n.memory_mib, n.disk_gib, coalesce(u.v, 0), coalesce(u.m, 0),"
                "  coalesce(u.d, 0), coalesce(u.n, 0), n.sriov_vfs, coalesce(fv.n, 0),"
                "  EXISTS (SELECT 1 FROM iaas.instance_attempts a"
                "   WHERE a.instance_id = $2::uuid AND a.node_id = n.id),"
                "  EXISTS (SELECT 1 FROM iaas.instances m WHERE m.server_group_id = $3::uuid"
                "   AND m.node_id = n.id AND m.state NOT IN ('deleted', 'error')"
                "   AND m.id IS DISTINCT FROM $2::uuid), n.firmware, n.power_state,"
                "  n.live_migration, coalesce(n.draining_until > now(), false),"
                "  n.block_migration"
                " FROM iaas.nodes n LEFT JOIN u ON u.node_id = n.id"
                " LEFT JOIN (" GW_DIRECT_PORTS_BY_NODE ") fv ON fv.node_id = n.id",
                down, instance, group);
    if (!r)
        return -1;
    int n = PQntuples(r);
    gw_host *h = calloc((size_t)(n ? n : 1), sizeof *h);
    for (int i = 0; i < n; i++) {
        snprintf(h[i].id, sizeof h[i].id, "%s", st_db_val(r, i, 0));
        snprintf(h[i].name, sizeof h[i].name, "%s", st_db_val(r, i, 1));
        h[i].disabled = *st_db_val(r, i, 2) == 't';
        h[i].alive = *st_db_val(r, i, 3) == 't';
        h[i].vcpus = st_db_int(r, i, 4);
        h[i].memory_mib = st_db_int(r, i, 5);
        h[i].disk_gib = st_db_int(r, i, 6);
        h[i].used_vcpus = st_db_int(r, i, 7);
        h[i].used_memory_mib = st_db_int(r, i, 8);
        h[i].used_disk_gib = st_db_int(r, i, 9);
        h[i].instances = (int)st_db_int(r, i, 10);
        h[i].sriov_vfs = st_db_int(r, i, 11);
        h[i].used_vfs = st_db_int(r, i, 12);
        h[i].tried = *st_db_val(r, i, 13) == 't';
        h[i].group_member = *st_db_val(r, i, 14) == 't';
        h[i].firmware = *st_db_val(r, i, 15) == 't';
        h[i].power = gw_power_state_parse(st_db_val(r, i, 16));
        h[i].live_migration = *st_db_val(r, i, 17) == 't';
        h[i].draining = *st_db_val(r, i, 18) == 't';
        h[i].block_migration = *st_db_val(r, i, 19) == 't';
    }
    PQclear(r);
    *out = h;
    return n;
}

/* Locks the node and refreshes its reservations; 1 when it still fits and
 * its power state is still `power` (on, or for a wake off/powering on). */
static int claim(gw *g, st_db *db, gw_host *h, const gw_sched_conf *conf, const gw_sched_req *req,
                 int power)
{
    PGresult *lk = st_db_q(db,
                           "SELECT vcpus, memory_mib, disk_gib, disabled, sriov_vfs, firmware,"
                           " power_state, coalesce(draining_until > now(), false)"
                           " FROM iaas.nodes WHERE id = $1 FOR UPDATE",
                           h->id);
    if (!lk)
        return -1;
    if (PQntuples(lk) != 1 || *st_db_val(lk, 0, 3) == 't' || *st_db_val(lk, 0, 7) == 't' ||
        gw_power_state_parse(st_db_val(lk, 0, 6)) != power) {
        PQclear(lk);
        return 0;
    }
    PGresult *us = st_db_q(db,
                           "SELECT coalesce(sum(vcpus), 0), coalesce(sum(memory_mib), 0),"
                           " coalesce(sum(disk_gib), 0), count(*),"
                           " (SELECT coalesce(sum(n), 0) FROM (" GW_DIRECT_PORTS_BY_NODE
                           ") fv WHERE fv.node_id = $1)"
                           " FROM (" GW_NODE_HOLDS ") h WHERE node_id = $1",
                           h->id);
    if (!us) {
        PQclear(lk);
        return -1;
    }
    h->vcpus = st_db_int(lk, 0, 0);
    h->memory_mib = st_db_int(lk, 0, 1);
    h->disk_gib = st_db_int(lk, 0, 2);
    h->used_vcpus = st_db_int(us, 0, 0);
    h->used_memory_mib = st_db_int(us, 0, 1);
    h->used_disk_gib = st_db_int(us, 0, 2);
    h->instances = (int)st_db_int(us, 0, 3);
    h->sriov_vfs = st_db_int(lk, 0, 4);
    h->firmware = *st_db_val(lk, 0, 5) == 't';
    h->used_vfs = st_db_int(us, 0, 4);
    PQclear(lk);
    PQclear(us);
    (void)g;
    return gw_filter_fits_host(conf, h, req) && gw_filter_vcpus(conf, h, req) &&
           gw_filter_memory(conf, h, req) && gw_filter_disk(conf, h, req) &&
           gw_filter_vfs(conf, h, req) && gw_filter_firmware(conf, h, req);
}

int gw_sched_direct_ports(st_db *db, const char *instance, const char *ports_json,
                          const char *tenant, gw_sched_req *req)
{
    req->direct_ports = 0;
    if (!instance && !ports_json)
        return 0;
    PGresult *r = instance ? st_db_q(db,
                                     "SELECT count(*) FROM iaas.ports WHERE instance_id = $1"
                                     " AND vnic_type = 'direct'",
                                     instance)
                           : st_db_q(db,
                                     "SELECT count(*) FROM iaas.ports WHERE vnic_type = 'direct'"
                                     " AND tenant_id = $2 AND id::text"
                                     " IN (SELECT jsonb_array_elements_text($1::jsonb))",
                                     ports_json, tenant);
    if (!r)
        return -1;
    req->direct_ports = (int)st_db_int(r, 0, 0);
    PQclear(r);
    return 0;
}

int gw_sched_lock_group(st_db *db, const char *group, const char *instance, gw_sched_req *req)
{
    req->group = GW_GROUP_NONE;
    req->group_has_members = 0;
    if (!group)
        return 0;
    PGresult *r = st_db_q(db,
                          "SELECT g.policy, EXISTS (SELECT 1 FROM iaas.instances m"
                          "  WHERE m.server_group_id = g.id AND m.node_id IS NOT NULL"
                          "  AND m.state NOT IN ('deleted', 'error')"
                          "  AND m.id IS DISTINCT FROM $2::uuid)"
                          " FROM iaas.server_groups g WHERE g.id = $1 FOR UPDATE OF g",
                          group, instance);
    if (!r)
        return -1;
    if (PQntuples(r) == 1) {
        req->group =
            !strcmp(st_db_val(r, 0, 0), "affinity") ? GW_GROUP_AFFINITY : GW_GROUP_ANTI_AFFINITY;
        req->group_has_members = *st_db_val(r, 0, 1) == 't';
    }
    PQclear(r);
    return 0;
}

/* Picks among hosts and claims the best, the next best when it filled up
 * meanwhile: 1 placed (node_id set), 0 none, -1 database error. */
static int pick_and_claim(gw *g, st_db *db, const gw_sched_conf *conf, gw_host *hosts, int n,
                          const gw_sched_req *req, int power, char node_id[40], char *reason,
                          size_t reasonlen)
{
    for (int attempt = 0; attempt < MAX_CLAIMS; attempt++) {
        int best = gw_sched_pick(conf, hosts, n, req, reason, reasonlen);
        if (best < 0)
            return 0;
        int ok = claim(g, db, &hosts[best], conf, req, power);
        if (ok < 0)
            return -1;
        if (ok) {
            snprintf(node_id, 40, "%s", hosts[best].id);
            return 1;
        }
        hosts[best].disabled = 1; /* filled up meanwhile: next best */
    }
    return 0;
}

/*
 * No host that is on fits: one that is off (or already powering on) would.
 * Hosts powering on are tried first (one power-on serves several
 * placements), then those that are off, each as if it were on and alive;
 * an off host claimed is marked powering_on for the power manager, and the
 * instance waits for it (migrations/0028: task waiting_host_power_on).
 */
static int wake(gw *g, st_db *db, const gw_sched_conf *conf, gw_host *hosts, int n,
                const gw_sched_req *req, char node_id[40])
{
    gw_host *w = malloc((size_t)(n ? n : 1) * sizeof *w);
    if (!w)
        return -1;
    int placed = 0;
    for (int pass = 0; pass < 2 && !placed; pass++) {
        int want = pass == 0 ? GW_POWER_POWERING_ON : GW_POWER_OFF;
        for (int i = 0; i < n; i++) {
            w[i] = hosts[i];
            w[i].disabled |= hosts[i].power != want;
            w[i].power = GW_POWER_ON;
            w[i].alive = 1;
        }
        char why[8];
        placed = pick_and_claim(g, db, conf, w, n, req, want, node_id, why, sizeof why);
        if (placed == 1 && want == GW_POWER_OFF &&
            st_db_x(db,
                    "UPDATE iaas.nodes SET power_state = 'powering_on', power_since = now(),"
                    " power_cmd_at = NULL, power_fault = NULL WHERE id = $1",
                    node_id) != 1)
            placed = -1;
    }
    free(w);
    return placed;
}

int gw_schedule(gw *g, st_db *db, const gw_sched_req *req, const char *instance, const char *group,
                char node_id[40], char *reason, size_t reasonlen)
{
    gw_sched_conf conf = {.cpu_overcommit = g->c.cpu_overcommit};
    if (gw_sched_load_policy(db, &conf.policy) < 0)
        return -1;
    gw_host *hosts = NULL;
    int n = load_hosts(g, db, instance, group, &hosts);
    if (n < 0)
        return -1;
    if (req->only_node) { /* the one host the caller named, through every filter */
        int k = 0;
        for (int i = 0; i < n; i++)
            if (!strcmp(hosts[i].id, req->only_node))
                hosts[k++] = hosts[i];
        n = k;
    }
    int placed =
        pick_and_claim(g, db, &conf, hosts, n, req, GW_POWER_ON, node_id, reason, reasonlen);
    if (placed == 0 && !req->no_wake && gw_power_can_wake(g)) {
        placed = wake(g, db, &conf, hosts, n, req, node_id);
        if (placed == 1)
            gw_power_kick(g);
    }
    free(hosts);
    if (placed < 0)
        return -1;
    if (!placed && reason[0] == 0)
        snprintf(reason, reasonlen, "no valid host: every candidate filled up meanwhile");
    return placed;
}

/* ---- the plans' shared parts ---- */

static int by_host_id(const void *a, const void *b, void *hosts)
{
    const gw_host *h = hosts;
    return strcmp(h[*(const int *)a].id, h[*(const int *)b].id);
}

/* The index of node `id` among the hosts (ix sorted by id), or -1. */
static int host_index(const gw_host *h, const int *ix, int n, const char *id)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(id, h[ix[mid]].id);
        if (!c)
            return ix[mid];
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}

/* ---- the instances both plans read, with what pins them ---- */

/*
 * An instance's CPU load is measured from the metering samples (billing's,
 * in the shared cluster: per boot, its cumulative cpu_time_ns at the head of
 * the stream, billing.streams, less that of the first sample within the
 * last rebalance.cpu_window seconds, found by the samples' primary key, over
 * the time between them; the boots in the window summed); an instance with
 * fewer than two samples in the window, or a database without billing's
 * schema (or without the right to read it), counts at its vCPUs, the most
 * it can use. The moves' cool-down comes from iaas.placements: an instance
 * whose current placement followed one on another node moved then, from
 * there (a migration, an evacuation or a relaunch elsewhere alike).
 */
#define RB_CPU_MEASURED                                                                            \
    " LEFT JOIN (SELECT st.instance_id, sum(st.cpu_time_ns - f.cpu_time_ns)::float8 / 1e9"         \
    "  / sum(extract(epoch FROM st.last_sampled_at - f.sampled_at))::float8 cpu"                   \
    "  FROM billing.streams st CROSS JOIN LATERAL (SELECT s.cpu_time_ns, s.sampled_at"             \
    "   FROM billing.samples s WHERE s.instance_id = st.instance_id AND s.boot_id = st.boot_id"    \
    "   AND s.sampled_at > now() - $1::int * interval '1 second' ORDER BY s.seq LIMIT 1) f"        \
    "  WHERE st.last_sampled_at > now() - $1::int * interval '1 second'"                           \
    "  AND f.sampled_at < st.last_sampled_at GROUP BY st.instance_id) c ON c.instance_id = i.id"
#define RB_INSTANCES(cpu, join)                                                                    \
    "SELECT i.id, i.name, i.node_id, i.vcpus, i.memory_mib, i.disk_gib,"                           \
    " i.state <> 'active' OR i.task IS NOT NULL OR (cp.copies"                                     \
    "  AND (NOT coalesce((SELECT n.block_migration FROM iaas.nodes n WHERE n.id = i.node_id),"     \
    "   false) OR NOT EXISTS (SELECT 1 FROM iaas.nodes d WHERE d.block_migration"                  \
    "   AND d.id <> i.node_id)))"                                                                  \
    " OR NOT coalesce((SELECT n.live_migration FROM iaas.nodes n WHERE n.id = i.node_id), false)"  \
    " OR EXISTS (SELECT 1 FROM iaas.ports p WHERE p.instance_id = i.id"                            \
    "  AND p.vnic_type = 'direct'),"                                                               \
    " CASE WHEN i.server_group_id IS NULL THEN -1"                                                 \
    "  ELSE dense_rank() OVER (ORDER BY i.server_group_id) END,"                                   \
    " coalesce(g.policy = 'anti-affinity', false), i.boot = 'firmware',"                           \
    " mv.at, mv.from_node, " cpu ", extract(epoch FROM now())::bigint, cp.copies"                  \
    " FROM iaas.instances i"                                                                       \
    " CROSS JOIN LATERAL (SELECT i.disk_backend <> 'rbd' AND NOT $2::bool copies) cp"              \
    " LEFT JOIN iaas.server_groups g ON g.id = i.server_group_id"                                  \
    " LEFT JOIN LATERAL (SELECT extract(epoch FROM p.since)::bigint at, q.node_id::text from_node" \
    "  FROM iaas.placements p JOIN iaas.placements q ON q.instance_id = p.instance_id"             \
    "  AND q.until IS NOT NULL AND q.node_id <> p.node_id"                                         \
    "  WHERE p.instance_id = i.id AND p.until IS NULL ORDER BY q.until DESC LIMIT 1) mv ON "       \
    "true" join " WHERE i.node_id IS NOT NULL AND i.state NOT IN ('deleted', 'error')"             \
    " AND $1::int > 0 ORDER BY i.id"

static PGresult *rb_instances(gw *g, st_db *db)
{
    PGresult *r = st_db_q0(db, "SELECT CASE WHEN to_regclass('billing.samples') IS NULL"
                               " OR to_regclass('billing.streams') IS NULL THEN false"
                               " ELSE has_table_privilege('billing.samples', 'SELECT')"
                               " AND has_table_privilege('billing.streams', 'SELECT') END");
    if (!r)
        return NULL;
    int billing = *st_db_val(r, 0, 0) == 't';
    PQclear(r);
    char win[16];
    snprintf(win, sizeof win, "%d", g->c.rebalance_cpu_window_s);
    const char *shared = g->c.shared_storage ? "true" : "false";
    return billing ? st_db_q(db, RB_INSTANCES("c.cpu", RB_CPU_MEASURED), win, shared)
                   : st_db_q(db, RB_INSTANCES("NULL::float8", ""), win, shared);
}

/* ---- the consolidation plan, as a dry run ---- */

json_t *gw_consolidation_plan(gw *g, st_db *db, double target, int max_moves)
{
    gw_sched_conf conf = {.policy = GW_SCHED_PACK, .cpu_overcommit = g->c.cpu_overcommit};
    gw_host *h = NULL;
    int nh = load_hosts(g, db, NULL, NULL, &h);
    if (nh < 0)
        return NULL;
    /* Held where they are, as the rebalancer holds them (RB_INSTANCES: not running, a task in
     * flight, a disk that does not move, a source that cannot send, an SR-IOV
     * port), and a server group's member (the placement rules are the group's). */
    PGresult *r = rb_instances(g, db);
    json_t *out = NULL;
    int nv = r ? PQntuples(r) : 0;
    long long now = nv ? st_db_int(r, 0, 13) : 0;
    int *ix = malloc((size_t)(nh ? nh : 1) * sizeof *ix);
    int *emptied = calloc((size_t)(nh ? nh : 1), sizeof *emptied);
    gw_cons_vm *v = calloc((size_t)(nv ? nv : 1), sizeof *v);
    gw_cons_move *m = calloc((size_t)max_moves, sizeof *m);
    if (!r || !ix || !emptied || !v || !m)
        goto out;
    for (int i = 0; i < nh; i++)
        ix[i] = i;
    qsort_r(ix, (size_t)nh, sizeof *ix, by_host_id, h);
    for (int i = 0; i < nv; i++)
        v[i] = (gw_cons_vm){.host = host_index(h, ix, nh, st_db_val(r, i, 2)),
                            .vcpus = (int)st_db_int(r, i, 3),
                            .memory_mib = (int)st_db_int(r, i, 4),
                            .disk_gib = (int)st_db_int(r, i, 5),
                            .firmware = *st_db_val(r, i, 9) == 't',
                            .block_migration = *st_db_val(r, i, 14) == 't',
                            .moved_at = PQgetisnull(r, i, 10) ? -1 : st_db_int(r, i, 10),
                            .pinned = *st_db_val(r, i, 6) == 't' || st_db_int(r, i, 7) >= 0};
    /* every move is a live migration: destinations must receive one */
    gw_cons_conf cc = {.target = target,
                       .max_moves = max_moves,
                       .cooldown = g->c.rebalance_cooldown_s,
                       .live_migration = 1};
    int n = gw_consolidate_plan(&conf, &cc, h, nh, v, nv, now, m, emptied);
    if (n < 0)
        goto out;
    json_t *moves = json_array(), *gone = json_array();
    int on = 0, off = 0;
    for (int i = 0; i < n; i++)
        json_array_append_new(
            moves, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "instance_id",
                             st_db_val(r, m[i].vm, 0), "instance_name", st_db_val(r, m[i].vm, 1),
                             "from_node_id", h[m[i].from].id, "from_node", h[m[i].from].name,
                             "to_node_id", h[m[i].to].id, "to_node", h[m[i].to].name));
    /* What the power manager would then power off (power.c): the hosts
     * that are on, alive, enabled and empty now, then those the plan
     * empties, less power.min_spare_hosts kept on. The spares are the empty
     * hosts not draining first, as power.c keeps them. */
    json_t *power_off = json_array();
    int spare = gw_power_min_spare(g);
    for (int pass = 0; pass < 3 && spare >= 0; pass++)
        for (int i = 0; i < nh; i++) {
            int idle =
                h[i].instances == 0 && h[i].power == GW_POWER_ON && h[i].alive && !h[i].disabled;
            if (pass < 2 ? !idle || h[i].draining != (pass == 1) : !emptied[i])
                continue;
            if (spare > 0)
                spare--;
            else
                json_array_append_new(power_off, json_string(h[i].name));
        }
    for (int i = 0; i < nh; i++) {
        on += h[i].instances > 0;
        if (emptied[i]) {
            off++;
            json_array_append_new(gone, json_string(h[i].name));
        }
    }
    out =
        json_pack("{s:b, s:f, s:i, s:i, s:i, s:i, s:o, s:o, s:b, s:o}", "dry_run", 1, "target",
                  target, "max_moves", max_moves, "cooldown", g->c.rebalance_cooldown_s, "nodes_on",
                  on, "nodes_on_after", on - off, "moves", moves, "nodes_emptied", gone,
                  "power_management", gw_power_min_spare(g) >= 0, "nodes_to_power_off", power_off);
out:
    PQclear(r);
    free(h);
    free(ix);
    free(emptied);
    free(v);
    free(m);
    return out;
}

/* ---- the rebalancing plan, as a dry run ---- */

static json_t *rb_load_json(gw_rb_load l)
{
    return json_pack("{s:f, s:f}", "cpu", l.cpu, "memory", l.mem);
}

static json_t *rb_imbalance_json(gw_rb_imbalance b)
{
    return json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "nodes", b.hosts,
                     "cpu_spread", b.cpu_spread, "cpu_max", b.cpu_max, "cpu_min", b.cpu_min,
                     "cpu_stddev", b.cpu_stddev, "memory_spread", b.mem_spread, "memory_max",
                     b.mem_max, "memory_min", b.mem_min, "memory_stddev", b.mem_stddev);
}

json_t *gw_rebalance_plan_json(gw *g, st_db *db, double threshold, int max_moves)
{
    gw_sched_conf conf = {.policy = GW_SCHED_SPREAD, .cpu_overcommit = g->c.cpu_overcommit};
    gw_rb_conf rc = {
        .threshold = threshold, .max_moves = max_moves, .cooldown = g->c.rebalance_cooldown_s};
    gw_host *h = NULL;
    int nh = load_hosts(g, db, NULL, NULL, &h);
    if (nh < 0)
        return NULL;
    PGresult *r = rb_instances(g, db);
    json_t *out = NULL;
    int nv = r ? PQntuples(r) : 0, measured = 0;
    long long now = nv ? st_db_int(r, 0, 13) : 0;
    int *ix = malloc((size_t)(nh ? nh : 1) * sizeof *ix);
    gw_rb_load *before = calloc((size_t)(nh ? nh : 1), sizeof *before);
    gw_rb_load *after = calloc((size_t)(nh ? nh : 1), sizeof *after);
    gw_rb_vm *v = calloc((size_t)(nv ? nv : 1), sizeof *v);
    gw_rb_move *m = calloc((size_t)max_moves, sizeof *m);
    if (!r || !ix || !before || !after || !v || !m)
        goto out;
    for (int i = 0; i < nh; i++)
        ix[i] = i;
    qsort_r(ix, (size_t)nh, sizeof *ix, by_host_id, h);
    for (int i = 0; i < nv; i++) {
        int cpu_known = !PQgetisnull(r, i, 12);
        double cpu = cpu_known ? strtod(st_db_val(r, i, 12), NULL) : st_db_int(r, i, 3);
        double vcpus = (double)st_db_int(r, i, 3);
        measured += cpu_known;
        v[i] = (gw_rb_vm){
            .host = host_index(h, ix, nh, st_db_val(r, i, 2)),
            .vcpus = (int)st_db_int(r, i, 3),
            .memory_mib = (int)st_db_int(r, i, 4),
            .disk_gib = (int)st_db_int(r, i, 5),
            .cpu = cpu < 0       ? 0
                   : cpu > vcpus ? vcpus
                                 : cpu,
            .pinned = *st_db_val(r, i, 6) == 't',
            .group = (int)st_db_int(r, i, 7),
            .anti_affinity = *st_db_val(r, i, 8) == 't',
            .firmware = *st_db_val(r, i, 9) == 't',
            .block_migration = *st_db_val(r, i, 14) == 't',
            .moved_at = PQgetisnull(r, i, 10) ? -1 : st_db_int(r, i, 10),
            .moved_from = PQgetisnull(r, i, 11) ? -1 : host_index(h, ix, nh, st_db_val(r, i, 11))};
    }
    int n = gw_rebalance_plan(&conf, &rc, h, nh, v, nv, now, m, before, after);
    if (n < 0)
        goto out;
    json_t *moves = json_array(), *nodes = json_array();
    for (int i = 0; i < n; i++) {
        const gw_rb_vm *x = &v[m[i].vm];
        json_array_append_new(
            moves,
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:b, s:i, s:i, s:o, s:o, s:o, s:o}",
                      "instance_id", st_db_val(r, m[i].vm, 0), "instance_name",
                      st_db_val(r, m[i].vm, 1), "from_node_id", h[m[i].from].id, "from_node",
                      h[m[i].from].name, "to_node_id", h[m[i].to].id, "to_node", h[m[i].to].name,
                      "instance_cpu", x->cpu, "cpu_measured", !PQgetisnull(r, m[i].vm, 12), "vcpus",
                      x->vcpus, "memory_mib", x->memory_mib, "from_before",
                      rb_load_json(m[i].from_before), "from_after", rb_load_json(m[i].from_after),
                      "to_before", rb_load_json(m[i].to_before), "to_after",
                      rb_load_json(m[i].to_after)));
    }
    for (int i = 0; i < nh; i++)
        json_array_append_new(
            nodes, json_pack("{s:s, s:s, s:b, s:o, s:o}", "node_id", h[i].id, "node", h[i].name,
                             "in_service", gw_rebalance_in_service(&h[i]), "before",
                             rb_load_json(before[i]), "after", rb_load_json(after[i])));
    /* why the plan stops where it does */
    gw_rb_imbalance ib = gw_rebalance_imbalance(h, before, nh),
                    ia = gw_rebalance_imbalance(h, after, nh);
    const char *outcome = ia.cpu_spread <= threshold && ia.mem_spread <= threshold
                              ? (n ? "balanced" : "within_threshold")
                          : n == max_moves ? "max_moves"
                                           : "no_move_helps";
    out = json_pack("{s:b, s:f, s:i, s:i, s:i, s:i, s:i, s:s, s:o, s:o, s:o, s:o}", "dry_run", 1,
                    "threshold", threshold, "max_moves", max_moves, "cooldown",
                    g->c.rebalance_cooldown_s, "cpu_window", g->c.rebalance_cpu_window_s,
                    "instances", nv, "instances_measured", measured, "outcome", outcome,
                    "imbalance_before", rb_imbalance_json(ib), "imbalance_after",
                    rb_imbalance_json(ia), "nodes", nodes, "moves", moves);
out:
    PQclear(r);
    free(h);
    free(ix);
    free(before);
    free(after);
    free(v);
    free(m);
    return out;
}
