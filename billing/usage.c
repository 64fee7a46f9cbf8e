/*
 * usage.c - GET /v1/billing/usage: a tenant's metered usage by hour, day or
 * month, per instance and meter, straight from the hourly rollups.
 *
 * Rows of one (instance, hour) may sit in several invoice periods (late
 * usage), so the query sums over periods. A usage hour's period is never
 * earlier than its month, which lets the period bound prune old partitions.
 * Instance-hours are the flavors recorded on each hourly row (one per
 * instance, hour and flavor), image storage comes from
 * billing.storage_hourly and allocated instance disk from billing.disk_hourly,
 * both as byte-hours. Whole-day ranges by day or month
 * read the daily rollups (24 times fewer rows). The answer names the price
 * plan in force for the tenant now, or says plainly that there is none
 * ("plan": null, "no_plan": true), so unpriced usage is never mistaken for
 * free usage.
 */
#include "billing.h"

#include "stratus/timefmt.h"
#include "stratus/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE_MAX_ROWS 100000

static const char *const grains[] = {"hour", "day", "month", NULL};
static const int64_t grain_max_span[] = {32LL * 24 * BL_US_HOUR, 367LL * 24 * BL_US_HOUR,
                                         6LL * 366 * 24 * BL_US_HOUR};

static int parse_range(st_http_req *req, int64_t *from, int64_t *to, int *grain)
{
    const char *f = st_http_query(req, "from"), *t = st_http_query(req, "to");
    const char *g = st_http_query(req, "granularity");
    *grain = 1;
    if (g) {
        *grain = -1;
        for (int i = 0; grains[i]; i++)
            if (strcmp(g, grains[i]) == 0)
                *grain = i;
        if (*grain < 0) {
            st_http_reply_error(req, 400, ST_E_INVALID_REQUEST,
                                "granularity must be hour, day or month");
            return -1;
        }
    }
    *from = bl_month_floor(st_now_us());
    if (f && st_time_parse(f, from) < 0) {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST, "from must be an RFC 3339 time");
        return -1;
    }
    *to = bl_month_add(bl_month_floor(*from), 1);
    if (t && st_time_parse(t, to) < 0) {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST, "to must be an RFC 3339 time");
        return -1;
    }
    if (*from < 946684800000000LL || *to <= *from) {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST,
                            "from must be after 2000 and before to");
        return -1;
    }
    if (*to - *from > grain_max_span[*grain]) {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST, "at most %lld days at %s granularity",
                            (long long)(grain_max_span[*grain] / (24 * BL_US_HOUR)),
                            grains[*grain]);
        return -1;
    }
    return 0;
}

static void add_total(__int128 *tot, const char *v)
{
    *tot += v ? strtoll(v, NULL, 10) : 0;
}

/* The meters' parts of the usage queries, from the one list (stratus/meters.h):
 * the daily rollups alias each meter c<idx> beside the instance hours. */
#define U_SUM_C(N, i, col, g, f) ", sum(c" #i ")"
#define U_COL_AS_C(N, i, col, g, f) ", " #col " c" #i
#define U_ZERO(N, i, col, g, f) ", 0"
#define U_SUM_COL(N, i, col, g, f) ", sum(" #col ")"
#define U_SUM_C_METERS ST_METERS(U_SUM_C)
#define U_COL_AS_C_METERS ST_METERS(U_COL_AS_C)
#define U_ZERO_METERS ST_METERS(U_ZERO)
#define U_SUM_COL_METERS ST_METERS(U_SUM_COL)

/*
 * One gauge series (image storage, instance disks, floating IPs): the rows
 * of r, ([instance_id,] start in us, amount), appended to series as
 * {["instance_id",] "start", <key>} (at most USAGE_MAX_ROWS), their sum in
 * totals[total] (capped at INT64_MAX). Clears r.
 */
static void gauge_series(PGresult *r, int per_instance, const char *key, json_t *series,
                         json_t *totals, const char *total)
{
    __int128 sum = 0;
    for (int i = 0; i < PQntuples(r) && i < USAGE_MAX_ROWS; i++) {
        char start[ST_TIME_LEN];
        st_time_format(st_db_int(r, i, per_instance), start);
        json_int_t v = (json_int_t)st_db_int(r, i, per_instance + 1);
        json_t *o = json_pack("{s:s, s:I}", "start", start, key, v);
        if (per_instance)
            json_object_set_new(o, "instance_id", json_string(PQgetvalue(r, i, 0)));
        json_array_append_new(series, o);
        sum += v;
    }
    PQclear(r);
    json_object_set_new(totals, total, json_integer(sum > INT64_MAX ? INT64_MAX : (json_int_t)sum));
}

static void handle_usage(st_call *call)
{
    st_http_req *req = call->req;
    const bl_who *who = call->who;
    const char *tenant = who->tenant;
    int64_t from, to;
    int grain;
    if (parse_range(req, &from, &to, &grain) < 0)
        return;
    const char *inst = st_http_query(req, "instance_id");
    if (inst && !st_uuid_valid(inst)) {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST, "instance_id must be a UUID");
        return;
    }
    char f[ST_TIME_LEN], t[ST_TIME_LEN];
    st_time_format_us(from, f);
    st_time_format_us(to, t);
    st_db *db = call->db;
    json_t *items = json_array(), *totals = json_object(), *storage = json_array();
    json_t *disks = json_array(), *fips = json_array(), *plan = NULL;
    const char *failed = NULL; /* which query failed: the one exit replies */
    /* Whole days by day or month: the daily rollups; otherwise the hourly ones. */
    int daily = grain > 0 && from % (24 * BL_US_HOUR) == 0 && to % (24 * BL_US_HOUR) == 0;
    PGresult *r =
        daily
            ? st_db_q(
                  db,
                  "SELECT instance_id, b" U_SUM_C_METERS ", sum(ih) FROM ("
                  " SELECT instance_id,"
                  "  (extract(epoch FROM date_trunc($4, day)) * 1000000)::bigint AS "
                  "b" U_COL_AS_C_METERS ", 0 AS ih FROM billing.usage_daily"
                  "  WHERE tenant_id = $1 AND period >= date_trunc('month', $2::timestamptz)::date"
                  "  AND day >= $2 AND day < $3 AND ($5::uuid IS NULL OR instance_id = $5::uuid)"
                  " UNION ALL"
                  " SELECT instance_id, (extract(epoch FROM date_trunc($4, day)) * "
                  "1000000)::bigint" U_ZERO_METERS ", hours FROM billing.instance_hours_daily"
                  "  WHERE tenant_id = $1 AND period >= date_trunc('month', $2::timestamptz)::date"
                  "  AND day >= $2 AND day < $3 AND ($5::uuid IS NULL OR instance_id = $5::uuid)) x"
                  " GROUP BY 1, 2 ORDER BY 2, 1 LIMIT 100001",
                  tenant, f, t, grains[grain], inst)
            : st_db_q(
                  db,
                  "SELECT instance_id, (extract(epoch FROM date_trunc($4, hour)) * 1000000)::bigint"
                  " AS b" U_SUM_COL_METERS ", sum(cardinality(flavors))"
                  " FROM billing.usage_hourly"
                  " WHERE tenant_id = $1 AND period >= date_trunc('month', $2::timestamptz)::date"
                  " AND hour >= $2 AND hour < $3 AND ($5::uuid IS NULL OR instance_id = $5::uuid)"
                  " GROUP BY 1, 2 ORDER BY 2, 1 LIMIT 100001",
                  tenant, f, t, grains[grain], inst);
    if (!r) {
        failed = "usage";
        goto done;
    }
    if (PQntuples(r) > USAGE_MAX_ROWS) {
        PQclear(r);
        st_http_reply_error(req, 422, ST_E_TOO_LARGE,
                            "more than %d rows: narrow the range or use a coarser granularity",
                            USAGE_MAX_ROWS);
        goto done;
    }
    __int128 tot[BL_NMETERS + 1] = {0};
    for (int i = 0; i < PQntuples(r); i++) {
        char start[ST_TIME_LEN];
        st_time_format(st_db_int(r, i, 1), start);
        json_t *o = json_pack("{s:s, s:s}", "instance_id", PQgetvalue(r, i, 0), "start", start);
        for (int m = 0; m < BL_NMETERS; m++) {
            json_object_set_new(o, bl_meter_names[m], json_integer(st_db_int(r, i, 2 + m)));
            add_total(&tot[m], st_db_val(r, i, 2 + m));
        }
        json_object_set_new(o, "instance_hours", json_integer(st_db_int(r, i, 12)));
        add_total(&tot[BL_NMETERS], st_db_val(r, i, 2 + BL_NMETERS));
        json_array_append_new(items, o);
    }
    PQclear(r);
    for (int m = 0; m <= BL_NMETERS; m++) {
        if (tot[m] > INT64_MAX) {
            st_http_reply_error(req, 422, ST_E_TOO_LARGE, "totals exceed 2^63: narrow the range");
            goto done;
        }
        json_object_set_new(totals, m < BL_NMETERS ? bl_meter_names[m] : "instance_hours",
                            json_integer((json_int_t)tot[m]));
    }
    /* Image storage, tenant-wide (billing.storage_hourly). */
    if (!inst) {
        r = st_db_q(db,
                    "SELECT (extract(epoch FROM date_trunc($4, hour)) * 1000000)::bigint,"
                    " sum(bytes) FROM billing.storage_hourly WHERE tenant_id = $1"
                    " AND hour >= $2 AND hour < $3 GROUP BY 1 ORDER BY 1",
                    tenant, f, t, grains[grain]);
        if (!r) {
            failed = "usage storage";
            goto done;
        }
        gauge_series(r, 0, "byte_hours", storage, totals, "storage_byte_hours");
    }
    /* Allocated instance disks, per instance, as byte-hours (billing.disk_hourly). */
    r = st_db_q(db,
                "SELECT instance_id, (extract(epoch FROM date_trunc($4, hour)) * 1000000)::bigint,"
                " sum(bytes) FROM billing.disk_hourly WHERE tenant_id = $1"
                " AND hour >= $2 AND hour < $3 AND ($5 = '' OR instance_id::text = $5)"
                " GROUP BY 1, 2 ORDER BY 1, 2 LIMIT 100001",
                tenant, f, t, grains[grain], inst ? inst : "");
    if (!r) {
        failed = "usage disks";
        goto done;
    }
    gauge_series(r, 1, "byte_hours", disks, totals, "disk_byte_hours");
    /* Floating IPs held, as IP-hours, from the gateway's published function
     * when it shares the cluster (rating.c, rate_floating_ips). */
    r = inst ? NULL
             : st_db_q0(db, "SELECT to_regprocedure('iaas.floating_ip_hours(uuid,timestamptz,"
                            "timestamptz)') IS NOT NULL");
    int have_fips = r && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (have_fips) {
        r = st_db_q(db,
                    "SELECT (extract(epoch FROM date_trunc($4, hour, 'UTC')) * 1000000)::bigint,"
                    " sum(ips)::bigint FROM iaas.floating_ip_hours($1::uuid, $2::timestamptz,"
                    " least($3::timestamptz, now())) GROUP BY 1 ORDER BY 1",
                    tenant, f, t, grains[grain]);
        if (!r) {
            failed = "usage floating IPs";
            goto done;
        }
        gauge_series(r, 0, "ip_hours", fips, totals, "floating_ip_hours");
    }
    r = st_db_q(db,
                "SELECT p.id, p.name FROM billing.plans p WHERE p.id = coalesce("
                " (SELECT plan_id FROM billing.tenant_plans WHERE tenant_id = $1"
                "  AND effective_from <= now() ORDER BY effective_from DESC LIMIT 1),"
                " (SELECT id FROM billing.plans WHERE is_default))",
                tenant);
    if (!r) {
        failed = "usage plan";
        goto done;
    }
    plan = PQntuples(r)
               ? json_pack("{s:s, s:s}", "id", PQgetvalue(r, 0, 0), "name", PQgetvalue(r, 0, 1))
               : json_null();
    PQclear(r);
    st_http_reply_json(req, 200,
                       json_pack("{s:s, s:s, s:s, s:s, s:O, s:b, s:O, s:O, s:O, s:O, s:O}",
                                 "tenant_id", tenant, "from", f, "to", t, "granularity",
                                 grains[grain], "plan", plan, "no_plan", json_is_null(plan),
                                 "usage", items, "storage", storage, "disks", disks, "floating_ips",
                                 fips, "totals", totals));
done:
    if (failed)
        bl_reply_db(req, db, failed);
    json_decref(items);
    json_decref(totals);
    json_decref(storage);
    json_decref(disks);
    json_decref(fips);
    json_decref(plan);
}

void bl_usage_routes(bl_ctx *ctx)
{
    bl_route(ctx, "GET /v1/billing/usage", BL_TENANT, handle_usage);
}
