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
                "  n.live_migration"
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
                           " power_state FROM iaas.nodes WHERE id = $1 FOR UPDATE",
                           h->id);
    if (!lk)
        return -1;
    if (PQntuples(lk) != 1 || *st_db_val(lk, 0, 3) == 't' ||
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

/* ---- the consolidation plan, as a dry run ---- */

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

json_t *gw_consolidation_plan(gw *g, st_db *db, double target, int max_moves)
{
    gw_sched_conf conf = {.policy = GW_SCHED_PACK, .cpu_overcommit = g->c.cpu_overcommit};
    gw_host *h = NULL;
    int nh = load_hosts(g, db, NULL, NULL, &h);
    if (nh < 0)
        return NULL;
    /* Held where they are: not running (a stopped guest is not live-migrated), a task in
     * flight, a server group's member (the placement rules are the group's), an SR-IOV
     * port (a VF is the host's hardware). */
    PGresult *r =
        st_db_q0(db, "SELECT i.id, i.name, i.node_id, i.vcpus, i.memory_mib, i.disk_gib,"
                     " i.state <> 'active' OR i.task IS NOT NULL OR i.server_group_id IS NOT NULL"
                     " OR EXISTS (SELECT 1 FROM iaas.ports p WHERE p.instance_id = i.id"
                     "  AND p.vnic_type = 'direct')"
                     " FROM iaas.instances i WHERE i.node_id IS NOT NULL"
                     " AND i.state NOT IN ('deleted', 'error') ORDER BY i.id");
    json_t *out = NULL;
    int nv = r ? PQntuples(r) : 0;
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
                            .moved_at = -1, /* nothing migrates yet */
                            .pinned = *st_db_val(r, i, 6) == 't'};
    gw_cons_conf cc = {.target = target, .max_moves = max_moves, .cooldown = 0};
    int n = gw_consolidate_plan(&conf, &cc, h, nh, v, nv, 0, m, emptied);
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
     * empties, less power.min_spare_hosts kept on (empty ones first). */
    json_t *power_off = json_array();
    int spare = gw_power_min_spare(g);
    for (int pass = 0; pass < 2 && spare >= 0; pass++)
        for (int i = 0; i < nh; i++) {
            int idle =
                h[i].instances == 0 && h[i].power == GW_POWER_ON && h[i].alive && !h[i].disabled;
            if (pass == 0 ? !idle : !emptied[i])
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
    out = json_pack("{s:b, s:f, s:i, s:i, s:i, s:o, s:o, s:b, s:o}", "dry_run", 1, "target", target,
                    "max_moves", max_moves, "nodes_on", on, "nodes_on_after", on - off, "moves",
                    moves, "nodes_emptied", gone, "power_management", gw_power_min_spare(g) >= 0,
                    "nodes_to_power_off", power_off);
out:
    PQclear(r);
    free(h);
    free(ix);
    free(emptied);
    free(v);
    free(m);
    return out;
}
