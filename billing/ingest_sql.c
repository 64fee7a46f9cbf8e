/*
 * ingest_sql.c - the statements of one ingest transaction (see ingest.c).
 *
 * Each writes all rows of its kind for the whole batch in ONE prepared,
 * parameterised statement whose parameters are array literals (sqlbuf.h)
 * expanded by unnest(): a 1,000-sample batch costs a handful of round trips.
 * Rows are sent in key order so concurrent batches lock in the same order.
 * Times cross as RFC 3339 text one way and epoch microseconds the other.
 */
#include "ingest.h"
#include "sqlbuf.h"

#include "stratus/log.h"
#include "stratus/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

/* The meters' parts of the statements below, from the one list
 * (stratus/meters.h); c<idx> is a meter's alias in unnest() rows. */
#define M_S(N, i, col, g, f) ", s." #col
#define M_X(N, i, col, g, f) ", x." #col
#define M_C(N, i, col, g, f) ", c" #i
#define M_SUM_C(N, i, col, g, f) ", sum(c" #i ")"
#define M_SET_U(N, i, col, g, f) ", " #col " = u.c" #i
#define M_ADD_H(N, i, col, g, f) ST_METER_SEP(i) #col " = h." #col " + excluded." #col
#define M_ADD_DD(N, i, col, g, f) ST_METER_SEP(i) #col " = dd." #col " + excluded." #col
#define S_METERS ST_METERS(M_S)
#define X_METERS ST_METERS(M_X)
#define C_METERS ST_METERS(M_C)
#define SUM_C_METERS ST_METERS(M_SUM_C)
#define SET_U_METERS ST_METERS(M_SET_U)
#define ADD_H_METERS ST_METERS(M_ADD_H)
#define ADD_DD_METERS ST_METERS(M_ADD_DD)
#define COL_METERS ST_METERS(ST_METER_SQL_COL)
/* The $n placeholders of the meters' arrays are written out: ten of them. */
_Static_assert(BL_NMETERS == 10, "the unnest() placeholders below count ten meters");

static const char *const head_cols = "s.instance_id, s.boot_id, s.min_seq, s.last_seq" S_METERS
                                     ", " US("s.billed_hour") ", s.billed_flavor,"
                                                              " s.port_ids, s.port_rx, s.port_tx";

static int cmp_key(const char *ai, const char *ab, const char *bi, const char *bb)
{
    int c = strcmp(ai, bi);
    return c ? c : strcmp(ab, bb);
}

/* Fills the heads of streams listed in want[] from a SELECT ... FOR UPDATE. */
static int lock_heads(ing *g, ing_stream **want, size_t n)
{
    sb ai, ab;
    sb_init(&ai);
    sb_init(&ab);
    sb_arr_open(&ai);
    sb_arr_open(&ab);
    for (size_t i = 0; i < n; i++) {
        sb_arr_raw(&ai, want[i]->s[0]->instance);
        sb_arr_raw(&ab, want[i]->s[0]->boot);
    }
    sb_arr_close(&ai);
    sb_arr_close(&ab);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT %s FROM billing.streams s"
             " JOIN unnest($1::uuid[], $2::uuid[]) AS u(i, b)"
             " ON s.instance_id = u.i AND s.boot_id = u.b"
             " ORDER BY s.instance_id, s.boot_id FOR UPDATE OF s",
             head_cols);
    PGresult *r = st_db_q(g->db, sql, sb_str(&ai), sb_str(&ab));
    sb_free(&ai);
    sb_free(&ab);
    if (!r)
        return -1;
    /* Both lists are in (instance, boot) order: merge. */
    size_t k = 0;
    for (int row = 0; row < PQntuples(r); row++) {
        const char *ri = PQgetvalue(r, row, 0), *rb = PQgetvalue(r, row, 1);
        while (k < n && cmp_key(want[k]->s[0]->instance, want[k]->s[0]->boot, ri, rb) < 0)
            k++;
        if (k == n || cmp_key(want[k]->s[0]->instance, want[k]->s[0]->boot, ri, rb) != 0)
            continue;
        ing_stream *st = want[k++];
        st->exists = 1;
        st->min_seq = st_db_int(r, row, 2);
        st->last_seq = st_db_int(r, row, 3);
        for (int m = 0; m < BL_NMETERS; m++)
            st->c[m] = st_db_int(r, row, 4 + m);
        st->billed_hour = st_db_val(r, row, 14) ? st_db_int(r, row, 14) : 0;
        snprintf(st->billed_flavor, sizeof st->billed_flavor, "%s",
                 st_db_val(r, row, 15) ? st_db_val(r, row, 15) : "");
        if (ing_ports_from_pg(st_db_val(r, row, 16), st_db_val(r, row, 17), st_db_val(r, row, 18),
                              &st->ports) < 0) {
            PQclear(r);
            return -1;
        }
        if (st->last_seq < 0)
            st->ports.known = 1; /* no sample yet: the stream starts from zero */
    }
    PQclear(r);
    return 0;
}

int ing_sql_load_heads(ing *g)
{
    ing_stream **want = malloc((g->nst ? g->nst : 1) * sizeof *want);
    if (!want)
        return -1;
    for (size_t i = 0; i < g->nst; i++) {
        g->st[i].exists = 0;
        want[i] = &g->st[i];
    }
    int rc = lock_heads(g, want, g->nst);
    size_t nmiss = 0;
    for (size_t i = 0; rc == 0 && i < g->nst; i++)
        if (!g->st[i].exists)
            want[nmiss++] = &g->st[i];
    if (rc == 0 && nmiss) {
        /* New streams: placeholder heads (no sample yet), then lock them too. */
        sb ai, ab, at;
        sb_init(&ai);
        sb_init(&ab);
        sb_init(&at);
        sb_arr_open(&ai);
        sb_arr_open(&ab);
        sb_arr_open(&at);
        for (size_t i = 0; i < nmiss; i++) {
            sb_arr_raw(&ai, want[i]->s[0]->instance);
            sb_arr_raw(&ab, want[i]->s[0]->boot);
            sb_arr_raw(&at, want[i]->s[0]->tenant);
        }
        sb_arr_close(&ai);
        sb_arr_close(&ab);
        sb_arr_close(&at);
        if (st_db_x(g->db,
                    "INSERT INTO billing.streams (instance_id, boot_id, tenant_id, min_seq,"
                    " last_seq, last_sampled_at)"
                    " SELECT i, b, t, 9223372036854775807, -1, '-infinity'"
                    " FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS u(i, b, t)"
                    " ON CONFLICT DO NOTHING",
                    sb_str(&ai), sb_str(&ab), sb_str(&at)) < 0)
            rc = -1;
        sb_free(&ai);
        sb_free(&ab);
        sb_free(&at);
        if (rc == 0)
            rc = lock_heads(g, want, nmiss);
        for (size_t i = 0; rc == 0 && i < nmiss; i++)
            if (!want[i]->exists)
                rc = -1; /* cannot happen: inserted or found above */
    }
    free(want);
    return rc;
}

/*
 * Raw samples go in with COPY, inside the batch's transaction: rows are
 * buffered and written in bulk (heap_multi_insert), which is what makes
 * COPY the fastest way into PostgreSQL, and they still commit or roll back
 * with the rest of the batch. COPY's data is not SQL: every field is a
 * value formatted here (numbers, UUIDs, times) or validated by batch.c
 * (flavor [A-Za-z0-9._-], state from a fixed list), so no field can hold
 * the tab, newline or backslash that COPY's text format would interpret;
 * copy_field() refuses one anyway. No ON CONFLICT is needed: appends have a
 * seq above the locked head and late samples were looked up first, so a
 * duplicate key here is a bug and fails the batch.
 */
static int copy_field(sb *b, const char *s, char end)
{
    if (strpbrk(s, "\t\n\r\\"))
        return -1;
    sb_puts(b, s);
    sb_putn(b, &end, 1);
    return 0;
}

int ing_sql_insert_samples(ing *g, bl_sample **s, size_t n)
{
    if (!n)
        return 0;
    PGconn *c = st_db_conn(g->db);
    PGresult *r = PQexec(c, "COPY billing.samples (instance_id, boot_id, seq, sampled_at,"
                            " tenant_id, flavor, state" COL_METERS ", batch_id,"
                            " port_ids, port_rx, port_tx) FROM STDIN");
    int ok = PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    if (!ok) {
        st_error("billing.ingest", "COPY samples: %s", PQerrorMessage(c));
        return -1;
    }
    sb b, pi, pr, pt;
    sb_init(&b);
    sb_init(&pi);
    sb_init(&pr);
    sb_init(&pt);
    int bad = 0;
    for (size_t i = 0; i < n && !bad; i++) {
        char at[ST_TIME_LEN], num[24];
        st_time_format_us(s[i]->at_us, at);
        snprintf(num, sizeof num, "%lld", (long long)s[i]->seq);
        bad |= copy_field(&b, s[i]->instance, '\t') | copy_field(&b, s[i]->boot, '\t') |
               copy_field(&b, num, '\t') | copy_field(&b, at, '\t') |
               copy_field(&b, s[i]->tenant, '\t') | copy_field(&b, s[i]->flavor, '\t') |
               copy_field(&b, s[i]->state, '\t');
        for (int m = 0; m < BL_NMETERS; m++) {
            snprintf(num, sizeof num, "%lld", (long long)s[i]->c[m]);
            bad |= copy_field(&b, num, '\t');
        }
        bad |= copy_field(&b, g->b->batch_id, '\t');
        if (s[i]->ports_known) {
            ing_ports p = ing_ports_of(s[i]);
            sb_reset(&pi);
            sb_reset(&pr);
            sb_reset(&pt);
            ing_ports_text(&p, &pi, &pr, &pt);
            bad |= copy_field(&b, sb_str(&pi), '\t') | copy_field(&b, sb_str(&pr), '\t') |
                   copy_field(&b, sb_str(&pt), '\n');
        } else {
            sb_puts(&b, "\\N\t\\N\t\\N\n"); /* NULL: ports unknown */
        }
        if (b.n >= 256 * 1024 || i + 1 == n) {
            if (!bad && PQputCopyData(c, b.p, (int)b.n) != 1)
                bad = 1;
            sb_reset(&b);
        }
    }
    sb_free(&b);
    sb_free(&pi);
    sb_free(&pr);
    sb_free(&pt);
    if (PQputCopyEnd(c, bad ? "refused a field COPY would misread" : NULL) != 1)
        bad = 1;
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            /* 23514: no partition for a row; ingest.c re-creates and retries. */
            if (state && strcmp(state, "23514") == 0)
                g->missing_partition = 1;
            else
                st_error("billing.ingest", "COPY samples: %s", PQresultErrorMessage(r));
            bad = 1;
        }
        PQclear(r);
    }
    return bad ? -1 : 0;
}

static int neighbour_from(const PGresult *r, int row, int col, ing_neighbour *nb)
{
    nb->found = st_db_val(r, row, col) != NULL;
    if (!nb->found)
        return 0;
    nb->seq = st_db_int(r, row, col);
    nb->at = st_db_int(r, row, col + 1);
    for (int m = 0; m < BL_NMETERS; m++)
        nb->c[m] = st_db_int(r, row, col + 2 + m);
    col += 2 + BL_NMETERS;
    return ing_ports_from_pg(st_db_val(r, row, col), st_db_val(r, row, col + 1),
                             st_db_val(r, row, col + 2), &nb->ports);
}

int ing_sql_neighbours(ing *g)
{
#define NB_COLS "x.seq, " US("x.sampled_at") X_METERS ", x.port_ids, x.port_rx, x.port_tx"
    sb ai, ab, as;
    sb_init(&ai);
    sb_init(&ab);
    sb_init(&as);
    sb_arr_open(&ai);
    sb_arr_open(&ab);
    sb_arr_open(&as);
    for (size_t i = 0; i < g->nlate; i++) {
        sb_arr_raw(&ai, g->late[i]->instance);
        sb_arr_raw(&ab, g->late[i]->boot);
        sb_arr_i64(&as, g->late[i]->seq);
    }
    sb_arr_close(&ai);
    sb_arr_close(&ab);
    sb_arr_close(&as);
    PGresult *r = st_db_q(g->db,
                          "SELECT u.k, p.*, q.* FROM unnest($1::uuid[], $2::uuid[], $3::bigint[])"
                          " WITH ORDINALITY AS u(i, b, s, k)"
                          " LEFT JOIN LATERAL (SELECT " NB_COLS " FROM billing.samples x"
                          "  WHERE x.instance_id = u.i AND x.boot_id = u.b AND x.seq <= u.s"
                          "  ORDER BY x.seq DESC LIMIT 1) p ON true"
                          " LEFT JOIN LATERAL (SELECT " NB_COLS " FROM billing.samples x"
                          "  WHERE x.instance_id = u.i AND x.boot_id = u.b AND x.seq > u.s"
                          "  ORDER BY x.seq LIMIT 1) q ON true",
                          sb_str(&ai), sb_str(&ab), sb_str(&as));
#undef NB_COLS
    sb_free(&ai);
    sb_free(&ab);
    sb_free(&as);
    if (!r)
        return -1;
    int rc = PQntuples(r) == (int)g->nlate ? 0 : -1;
    for (int row = 0; rc == 0 && row < PQntuples(r); row++) {
        long long k = st_db_int(r, row, 0) - 1;
        if (k < 0 || (size_t)k >= g->nlate) {
            rc = -1;
            break;
        }
        if (neighbour_from(r, row, 1, &g->pred[k]) < 0 ||
            neighbour_from(r, row, 1 + 5 + BL_NMETERS, &g->succ[k]) < 0)
            rc = -1;
    }
    PQclear(r);
    return rc;
}

int ing_sql_update_heads(ing *g)
{
    enum {
        H_INST,
        H_BOOT,
        H_MIN,
        H_LAST,
        H_AT,
        H_C0,
        H_BH = H_C0 + BL_NMETERS,
        H_BF,
        H_PI,
        H_PR,
        H_PT,
        H_N
    };
    sb pi, pr, pt;
    sb_init(&pi);
    sb_init(&pr);
    sb_init(&pt);
    sb a[H_N];
    for (int k = 0; k < H_N; k++) {
        sb_init(&a[k]);
        sb_arr_open(&a[k]);
    }
    size_t n = 0;
    for (size_t i = 0; i < g->nst; i++) {
        ing_stream *st = &g->st[i];
        if (!st->changed)
            continue;
        n++;
        sb_arr_raw(&a[H_INST], st->s[0]->instance);
        sb_arr_raw(&a[H_BOOT], st->s[0]->boot);
        sb_arr_i64(&a[H_MIN], st->min_seq);
        sb_arr_i64(&a[H_LAST], st->last_seq);
        if (st->last_at)
            sb_arr_time(&a[H_AT], st->last_at);
        else
            sb_arr_raw(&a[H_AT], "NULL");
        for (int m = 0; m < BL_NMETERS; m++)
            sb_arr_i64(&a[H_C0 + m], st->c[m]);
        if (st->billed_hour) {
            sb_arr_time(&a[H_BH], st->billed_hour);
            sb_arr_text(&a[H_BF], st->billed_flavor);
        } else {
            sb_arr_raw(&a[H_BH], "NULL");
            sb_arr_raw(&a[H_BF], "NULL");
        }
        /* Each head's arrays travel as the text of an array, cast back. */
        if (st->ports.known && st->last_seq >= 0) {
            sb_reset(&pi);
            sb_reset(&pr);
            sb_reset(&pt);
            ing_ports_text(&st->ports, &pi, &pr, &pt);
            sb_arr_text(&a[H_PI], sb_str(&pi));
            sb_arr_text(&a[H_PR], sb_str(&pr));
            sb_arr_text(&a[H_PT], sb_str(&pt));
        } else {
            sb_arr_raw(&a[H_PI], "NULL");
            sb_arr_raw(&a[H_PR], "NULL");
            sb_arr_raw(&a[H_PT], "NULL");
        }
    }
    sb_free(&pi);
    sb_free(&pr);
    sb_free(&pt);
    const char *p[H_N];
    for (int k = 0; k < H_N; k++) {
        sb_arr_close(&a[k]);
        p[k] = sb_str(&a[k]);
    }
    long long rc = 0;
    if (n)
        rc = st_db_exec(
            g->db,
            "UPDATE billing.streams s SET min_seq = u.mn, last_seq = u.ls,"
            " last_sampled_at = coalesce(u.la, s.last_sampled_at)" SET_U_METERS ","
            " billed_hour = u.bh, billed_flavor = u.bf, port_ids = u.pi::uuid[],"
            " port_rx = u.pr::bigint[], port_tx = u.pt::bigint[]"
            " FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::bigint[], $5::timestamptz[],"
            " $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[],"
            " $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[],"
            " $16::timestamptz[], $17::text[], $18::text[], $19::text[], $20::text[])"
            " AS u(i, b, mn, ls, la" C_METERS ", bh, bf, pi, pr, pt)"
            " WHERE s.instance_id = u.i AND s.boot_id = u.b",
            H_N, p);
    for (int k = 0; k < H_N; k++)
        sb_free(&a[k]);
    return rc < 0 ? -1 : 0;
}

/*
 * An instance-hour whose month is already issued is billed in the open
 * period, unless a period from its month on already holds that flavor for
 * that hour: an hour is billed once. Only late usage takes this path.
 */
static int drop_billed_flavors(ing *g, roll_entry *e)
{
    int64_t month = bl_month_floor(e->hour), period = ing_period(g, e->hour);
    if (!e->nfl || period == month)
        return 0;
    char h[ST_TIME_LEN], lo[11], hi[11];
    st_time_format(e->hour, h);
    bl_date_format(month, lo);
    bl_date_format(period, hi);
    PGresult *r = st_db_q(g->db,
                          "SELECT DISTINCT f FROM billing.usage_hourly, unnest(flavors) f"
                          " WHERE tenant_id = $1 AND period >= $2 AND period <= $3"
                          " AND instance_id = $4 AND hour = $5",
                          e->tenant, lo, hi, e->instance, h);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++)
        rollmap_flavor_drop(e, PQgetvalue(r, i, 0));
    PQclear(r);
    return 0;
}

int ing_sql_write_rollups(ing *g)
{
    enum { R_TENANT, R_PERIOD, R_INST, R_HOUR, R_D0, R_FL = R_D0 + BL_NMETERS, R_N };
    size_t n;
    roll_entry **v = rollmap_sorted(&g->roll, &n);
    sb a[R_N];
    for (int k = 0; k < R_N; k++) {
        sb_init(&a[k]);
        sb_arr_open(&a[k]);
    }
    size_t rows = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        roll_entry *e = v[i];
        if (drop_billed_flavors(g, e) < 0) {
            rc = -1;
            break;
        }
        int zero = e->nfl == 0;
        for (int m = 0; m < BL_NMETERS && zero; m++)
            zero = e->d[m] == 0;
        if (zero)
            continue;
        rows++;
        sb_arr_raw(&a[R_TENANT], e->tenant);
        sb_arr_date(&a[R_PERIOD], ing_period(g, e->hour));
        sb_arr_raw(&a[R_INST], e->instance);
        sb_arr_time(&a[R_HOUR], e->hour);
        for (int m = 0; m < BL_NMETERS; m++)
            sb_arr_i64(&a[R_D0 + m], e->d[m]);
        /* The set as "f1,f2" (flavors hold no comma); "" for none. */
        char fl[8 * (BL_FLAVOR_MAX + 1) + 1] = "";
        size_t fn = 0;
        for (int k = 0; k < e->nfl && fn + BL_FLAVOR_MAX + 2 < sizeof fl; k++)
            fn += (size_t)snprintf(fl + fn, sizeof fl - fn, "%s%s", k ? "," : "", e->fl[k]);
        sb_arr_text(&a[R_FL], fl);
    }
    free(v);
    const char *p[R_N];
    for (int k = 0; k < R_N; k++) {
        sb_arr_close(&a[k]);
        p[k] = sb_str(&a[k]);
    }
    /*
     * One statement: the hourly upsert; the same deltas summed per day into
     * usage_daily; and, from what the hourly upsert reports it added to each
     * row's flavor set, the new instance-hours per day and flavor.
     */
    if (rc == 0 && rows &&
        st_db_exec(
            g->db,
            "WITH u AS (SELECT t, p, i, hr" C_METERS ","
            "  coalesce(string_to_array(nullif(f, ''), ','), '{}') AS fl,"
            "  date_trunc('day', hr AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS day"
            " FROM unnest($1::uuid[], $2::date[], $3::uuid[], $4::timestamptz[],"
            " $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[],"
            " $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[],"
            " $15::text[]) AS x(t, p, i, hr" C_METERS ", f)),"
            " up AS (INSERT INTO billing.usage_hourly AS h (tenant_id, period, instance_id, "
            "hour" COL_METERS ", flavors, added_flavors)"
            "  SELECT t, p, i, hr" C_METERS ", fl, fl FROM u"
            "  ON CONFLICT (tenant_id, period, instance_id, hour) DO UPDATE SET " ADD_H_METERS ","
            "  flavors = CASE WHEN excluded.flavors <@ h.flavors THEN h.flavors"
            "   ELSE ARRAY(SELECT DISTINCT x FROM unnest(h.flavors || excluded.flavors) x"
            "   ORDER BY x) END,"
            "  added_flavors = CASE WHEN excluded.flavors <@ h.flavors THEN '{}'::text[]"
            "   ELSE ARRAY(SELECT x FROM unnest(excluded.flavors) x"
            "   EXCEPT SELECT y FROM unnest(h.flavors) y) END"
            "  RETURNING tenant_id, period, instance_id, hour, added_flavors),"
            " d AS (INSERT INTO billing.usage_daily AS dd (tenant_id, period, instance_id, "
            "day" COL_METERS ")"
            "  SELECT t, p, i, day" SUM_C_METERS " FROM u GROUP BY t, p, i, day"
            "  ORDER BY t, p, i, day"
            "  ON CONFLICT (tenant_id, period, instance_id, day) DO UPDATE SET " ADD_DD_METERS ")"
            " INSERT INTO billing.instance_hours_daily AS ih (tenant_id, period, instance_id,"
            "  day, flavor, hours)"
            " SELECT tenant_id, period, instance_id,"
            "  date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', f, count(*)"
            " FROM up, unnest(added_flavors) f GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
            " ON CONFLICT (tenant_id, period, instance_id, day, flavor) DO UPDATE SET"
            " hours = ih.hours + excluded.hours",
            R_N, p) < 0)
        rc = -1;
    for (int k = 0; k < R_N; k++)
        sb_free(&a[k]);
    return rc;
}

static int stor_cmp(const void *a, const void *b)
{
    const bl_sample *x = *(bl_sample *const *)a, *y = *(bl_sample *const *)b;
    int c = strcmp(x->tenant, y->tenant);
    if (c)
        return c;
    int64_t hx = bl_hour_floor(x->at_us), hy = bl_hour_floor(y->at_us);
    if (hx != hy)
        return hx < hy ? -1 : 1;
    return x->storage_bytes > y->storage_bytes ? -1 : x->storage_bytes < y->storage_bytes;
}

/*
 * Storage is a gauge: each hour is billed at the largest size reported in
 * it. The rows of one (tenant, hour) over all periods add up to that
 * maximum, so a larger late report adds only the difference, to the open
 * period. A per-tenant advisory lock serialises concurrent reports.
 */
int ing_sql_write_storage(ing *g)
{
    if (!g->nstor)
        return 0;
    qsort(g->stor, g->nstor, sizeof *g->stor, stor_cmp);
    for (size_t i = 0; i < g->nstor; i++) {
        bl_sample *s = g->stor[i];
        int64_t hour = bl_hour_floor(s->at_us);
        if (i && strcmp(g->stor[i - 1]->tenant, s->tenant) == 0 &&
            bl_hour_floor(g->stor[i - 1]->at_us) == hour)
            continue; /* sorted largest first within an hour */
        if (!i || strcmp(g->stor[i - 1]->tenant, s->tenant) != 0) {
            PGresult *r =
                st_db_q(g->db, "SELECT pg_advisory_xact_lock(7352403, hashtext($1))", s->tenant);
            if (!r)
                return -1;
            PQclear(r);
        }
        char h[ST_TIME_LEN], p[16], bytes[24];
        st_time_format_us(hour, h);
        bl_date_format(ing_period(g, hour), p);
        snprintf(bytes, sizeof bytes, "%lld", (long long)s->storage_bytes);
        if (st_db_x(g->db,
                    "INSERT INTO billing.storage_hourly AS x (tenant_id, period, hour, bytes)"
                    " SELECT $1::uuid, $3::date, $2::timestamptz, $4::bigint - cur.b FROM (SELECT"
                    " coalesce(sum(bytes), 0) AS b FROM billing.storage_hourly"
                    " WHERE tenant_id = $1::uuid AND hour = $2::timestamptz) cur"
                    " WHERE $4::bigint > cur.b"
                    " ON CONFLICT (tenant_id, period, hour) DO UPDATE SET bytes = x.bytes + "
                    "excluded.bytes",
                    s->tenant, h, p, bytes) < 0)
            return -1;
    }
    return 0;
}

typedef struct disk_row {
    const char *tenant, *instance;
    int64_t hour, bytes;
} disk_row;

static int disk_cmp(const void *a, const void *b)
{
    const disk_row *x = a, *y = b;
    int c = strcmp(x->tenant, y->tenant);
    if (!c)
        c = strcmp(x->instance, y->instance);
    if (c)
        return c;
    if (x->hour != y->hour)
        return x->hour < y->hour ? -1 : 1;
    return x->bytes > y->bytes ? -1 : x->bytes < y->bytes;
}

/*
 * Allocated instance disk is a gauge carried by instance samples
 * (disk_bytes): each (instance, hour) is billed at the largest allocation
 * reported in it. Like storage, the rows of one (instance, hour) over all
 * periods add up to that maximum: the open period's row is raised to the
 * maximum less what issued periods already hold, never lowered, so replays,
 * duplicates and any arrival order give the same result. One statement per
 * batch, rows in key order.
 */
int ing_sql_write_disks(ing *g)
{
    size_t n = 0;
    for (size_t i = 0; i < g->nv; i++)
        n += g->v[i]->disk_bytes >= 0;
    if (!n)
        return 0;
    disk_row *d = malloc(n * sizeof *d);
    if (!d)
        abort();
    n = 0;
    for (size_t i = 0; i < g->nv; i++) {
        const bl_sample *s = g->v[i];
        if (s->disk_bytes >= 0)
            d[n++] = (disk_row){s->tenant, s->instance, bl_hour_floor(s->at_us), s->disk_bytes};
    }
    qsort(d, n, sizeof *d, disk_cmp);
    sb t, p, in, h, b;
    sb *all[] = {&t, &p, &in, &h, &b};
    for (int k = 0; k < 5; k++) {
        sb_init(all[k]);
        sb_arr_open(all[k]);
    }
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(d[i].instance, d[i - 1].instance) == 0 &&
            strcmp(d[i].tenant, d[i - 1].tenant) == 0 && d[i].hour == d[i - 1].hour)
            continue; /* sorted largest first within an hour */
        sb_arr_raw(&t, d[i].tenant);
        sb_arr_date(&p, ing_period(g, d[i].hour));
        sb_arr_raw(&in, d[i].instance);
        sb_arr_time(&h, d[i].hour);
        sb_arr_i64(&b, d[i].bytes);
    }
    for (int k = 0; k < 5; k++)
        sb_arr_close(all[k]);
    int rc = st_db_x(g->db,
                     "INSERT INTO billing.disk_hourly AS x (tenant_id, period, instance_id, hour,"
                     " bytes)"
                     " SELECT u.t, u.p, u.i, u.h, u.b - o.b FROM unnest($1::uuid[], $2::date[],"
                     "  $3::uuid[], $4::timestamptz[], $5::bigint[]) AS u(t, p, i, h, b),"
                     " LATERAL (SELECT coalesce(sum(bytes), 0) AS b FROM billing.disk_hourly d"
                     "  WHERE d.instance_id = u.i AND d.hour = u.h AND d.period <> u.p) o"
                     " WHERE u.b > o.b"
                     " ON CONFLICT (tenant_id, period, instance_id, hour) DO UPDATE SET"
                     " bytes = greatest(x.bytes, excluded.bytes)",
                     sb_str(&t), sb_str(&p), sb_str(&in), sb_str(&h), sb_str(&b)) < 0
                 ? -1
                 : 0;
    for (int k = 0; k < 5; k++)
        sb_free(all[k]);
    free(d);
    return rc;
}
