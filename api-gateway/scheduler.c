/*
 * scheduler.c - placing an instance on a compute node.
 *
 * A first, deliberately plain scheduler: the filter keeps nodes that are
 * enabled, have sent a heartbeat recently, and have room (vCPUs with the
 * configured overcommit ratio, memory and disk without); the weigher prefers
 * the node with the most free memory (spreading load). The compute-node
 * issue replaces it with pluggable filters/weighers and the pack policy.
 *
 * Placement is a claim in the database, safe with several gateways: the
 * candidate node's row is locked (FOR UPDATE) and its usage is recomputed by
 * a fresh statement after the lock is held, so under READ COMMITTED it sees
 * every placement committed before ours; if the node no longer fits, the next
 * candidate is tried. The lock is held until the caller's transaction ends,
 * so two placements on one node are serialised, never both squeezed in.
 */
#include "gateway.h"

#include <stdio.h>
#include <string.h>

#define MAX_TRIES 5

/* usage of a node: what its live instances reserve */
#define NODE_USAGE                                                                             \
    "SELECT coalesce(sum(vcpus), 0), coalesce(sum(memory_mib), 0), coalesce(sum(disk_gib), 0)" \
    " FROM iaas.instances WHERE node_id = $1 AND state NOT IN ('deleted', 'error')"

int gw_schedule(gw *g, st_db *db, int vcpus, int memory_mib, int disk_gib, const char *instance,
                char node_id[40], char *reason, size_t reasonlen)
{
    char v[16], m[16], d[16], ratio[32], down[16];
    snprintf(v, sizeof v, "%d", vcpus);
    snprintf(m, sizeof m, "%d", memory_mib);
    snprintf(d, sizeof d, "%d", disk_gib);
    snprintf(ratio, sizeof ratio, "%g", g->c.cpu_overcommit);
    snprintf(down, sizeof down, "%d", g->c.node_down_after_s);
    PGresult *cand = st_db_q(db,
                             "WITH u AS (SELECT node_id, sum(vcpus) v, sum(memory_mib) m,"
                             "  sum(disk_gib) d FROM iaas.instances WHERE node_id IS NOT NULL"
                             "  AND state NOT IN ('deleted', 'error') GROUP BY node_id)"
                             " SELECT n.id FROM iaas.nodes n LEFT JOIN u ON u.node_id = n.id"
                             " WHERE NOT n.disabled"
                             "  AND n.last_heartbeat > now() - $5::int * interval '1 second'"
                             "  AND n.vcpus * $4::float8 >= coalesce(u.v, 0) + $1::int"
                             "  AND n.memory_mib >= coalesce(u.m, 0) + $2::int"
                             "  AND n.disk_gib >= coalesce(u.d, 0) + $3::int"
                             "  AND NOT EXISTS (SELECT 1 FROM iaas.instance_attempts a"
                             "   WHERE a.instance_id = $6::uuid AND a.node_id = n.id)"
                             " ORDER BY n.memory_mib - coalesce(u.m, 0) DESC, n.name"
                             " LIMIT " "5",
                             v, m, d, ratio, down, instance);
    if (!cand)
        return -1;
    int placed = 0;
    for (int i = 0; i < PQntuples(cand) && i < MAX_TRIES && !placed; i++) {
        const char *id = st_db_val(cand, i, 0);
        PGresult *lk = st_db_q(db, "SELECT vcpus, memory_mib, disk_gib FROM iaas.nodes"
                                   " WHERE id = $1 AND NOT disabled FOR UPDATE", id);
        PGresult *us = lk && PQntuples(lk) == 1 ? st_db_q(db, NODE_USAGE, id) : NULL;
        if (!lk || (PQntuples(lk) == 1 && !us)) {
            PQclear(lk);
            PQclear(cand);
            return -1;
        }
        if (us && st_db_int(lk, 0, 0) * g->c.cpu_overcommit >= st_db_int(us, 0, 0) + vcpus &&
            st_db_int(lk, 0, 1) >= st_db_int(us, 0, 1) + memory_mib &&
            st_db_int(lk, 0, 2) >= st_db_int(us, 0, 2) + disk_gib) {
            snprintf(node_id, 40, "%s", id);
            placed = 1;
        }
        PQclear(us);
        PQclear(lk);
    }
    if (!placed)
        snprintf(reason, reasonlen,
                 "no valid host: no enabled, healthy node has %d vCPUs, %d MiB and %d GiB free",
                 vcpus, memory_mib, disk_gib);
    PQclear(cand);
    return placed;
}
