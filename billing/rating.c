/*
 * rating.c - from hourly usage and price plans to invoice lines.
 *
 * 1. The price timeline of the tenant: its plan assignments (before the
 *    first one, the default plan) crossed with each plan's versions gives
 *    segments [start, next start) in each of which one plan version (or
 *    none) is in force. Segments start on whole hours (plans.c enforces it).
 * 2. Aggregates over the period's daily rollups (usage_daily,
 *    instance_hours_daily) per instance and bucket, the bucket found by
 *    width_bucket(day, segment and month starts): each day is rated by the
 *    version in force then, and a month of 1,000 instances is ~31,000 rows.
 *    A day that a plan change splits (a segment starting off midnight) is
 *    read from its hourly rows instead, by index seeks per instance.
 * 3. Plan versions with time_unit "second" price instance time from the
 *    raw samples instead (rate_seconds: per second, a minimum per boot).
 * 4. Rows become lines keyed (instance, item, flavor, usage month, plan
 *    version, and port for network bytes per port); segments with the
 *    same version merge. Each line's amount is
 *    rounded once (money.h) and the net is the sum of the line amounts;
 *    tax.c then adds the tax per rate (the total due is the gross), and
 *    label_lines names each line's instance and flavor.
 */
#include "rating.h"
#include "money.h"
#include "sqlbuf.h"

#include "stratus/crypto.h"
#include "stratus/timefmt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPOCH_2000 946684800000000LL
#define US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

static const char *const item_names[BL_NITEMS] = {
    "instance_hours", "instance_seconds", "cpu_cycles",   "rx_bytes",
    "tx_bytes",       "image_storage",    "disk_storage", "floating_ip_hours"};
static const char *const item_units[BL_NITEMS] = {"hour", "second",    "cycle",     "byte",
                                                  "byte", "byte-hour", "byte-hour", "hour"};
static const char *const item_billing_units[BL_NITEMS] = {"hour", "hour",      "Gcycle",    "GiB",
                                                          "GiB",  "GiB-month", "GiB-month", "hour"};
static const char *const item_labels[BL_NITEMS] = {
    "Instance hours", "Instance time", "CPU cycles",    "Data received",
    "Data sent",      "Image storage", "Instance disk", "Floating IP hours"};

const char *bl_item_name(bl_item it)
{
    return item_names[it];
}
const char *bl_item_unit(bl_item it)
{
    return item_units[it];
}
const char *bl_item_billing_unit(bl_item it)
{
    return item_billing_units[it];
}

__int128 bl_line_divisor(const bl_line *l)
{
    switch (l->item) {
    case BL_ITEM_CPU: return 1000000000;
    case BL_ITEM_RX:
    case BL_ITEM_TX: return (__int128)1 << 30;
    case BL_ITEM_STORAGE:
    case BL_ITEM_DISK: return ((__int128)1 << 30) * bl_month_hours(l->usage_month);
    case BL_ITEM_INSTANCE_SECONDS: return 3600;
    default: return 1;
    }
}

void bl_line_label(const bl_invoice *inv, const bl_line *l, char *out, size_t n)
{
    char late[64] = "";
    if (l->usage_month != inv->period) {
        char m[8];
        bl_month_format(l->usage_month, m);
        snprintf(late, sizeof late, " (late, from %s)", m);
    }
    if (l->item == BL_ITEM_INSTANCE_HOURS || l->item == BL_ITEM_INSTANCE_SECONDS)
        snprintf(out, n, "%s %s%s", item_labels[l->item], l->flavor, late);
    else if (l->port[0])
        snprintf(out, n, "%s, port %s%s", item_labels[l->item], l->port, late);
    else
        snprintf(out, n, "%s%s", item_labels[l->item], late);
}

void bl_line_billing_quantity(const bl_line *l, char *out, size_t n)
{
    bl_decimal_text(l->quantity, bl_line_divisor(l),
                    l->item == BL_ITEM_INSTANCE_HOURS || l->item == BL_ITEM_FIP ? 0 : 6, out, n);
}

void bl_amount_text(const bl_invoice *inv, int64_t micro, char *out, size_t n)
{
    bl_money_text(micro, bl_step_decimals(inv->round_micro), out, n);
}

void bl_invoice_number_text(const bl_invoice *inv, char *out, size_t n)
{
    snprintf(out, n, "%s", inv->issued ? inv->number_text : "DRAFT");
}

void bl_due_date(const bl_invoice *inv, char out[11])
{
    bl_date_format(inv->issued_at + (int64_t)inv->payment_days * 24 * BL_US_HOUR, out);
}

void bl_rounding_text(const bl_invoice *inv, char *out, size_t n)
{
    char step[32];
    bl_money_text(inv->round_micro, bl_step_decimals(inv->round_micro), step, sizeof step);
    snprintf(
        out, n,
        "Rounding: each line's amount is its quantity times its unit price, computed "
        "exactly and rounded once to the nearest %s %s (halves away from zero); the net "
        "total is the exact sum of the line amounts. Prices are per billing unit: hour, Gcycle = "
        "10^9 CPU cycles, GiB = 2^30 bytes, GiB-month = 2^30 bytes for every hour of the "
        "month (image storage and allocated instance disk); instance time by the second is its "
        "seconds times the hourly price / 3600.",
        step, inv->currency);
}

void bl_invoice_id(const char *tenant, int64_t period, char out[37])
{
    char m[8], name[96], h[65];
    bl_month_format(period, m);
    snprintf(name, sizeof name, "stratus-billing/invoice/%s/%s", tenant, m);
    st_sha256_hex(name, strlen(name), h);
    /* An RFC 9562 version 8 (name-based, custom hash) UUID. */
    static const char hex[] = "0123456789abcdef";
    h[12] = '8';
    h[16] = hex[8 | (strchr(hex, h[16]) - hex) % 4];
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

void bl_invoice_free(bl_invoice *inv)
{
    for (int i = 0; i < inv->nvers; i++)
        free(inv->vers[i].fl);
    free(inv->vers);
    free(inv->lines);
    memset(inv, 0, sizeof *inv);
}

/* ---- The price timeline ---- */

typedef struct seg {
    int64_t start;
    int ver;
} seg;

typedef struct timeline {
    seg *s;
    int n, cap;
} timeline;

static void tl_push(timeline *t, int64_t start, int ver)
{
    if (t->n && t->s[t->n - 1].ver == ver)
        return; /* same version continues */
    if (t->n && t->s[t->n - 1].start == start) {
        t->s[t->n - 1].ver = ver;
        return;
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->s = realloc(t->s, (size_t)t->cap * sizeof *t->s);
        if (!t->s)
            abort();
    }
    t->s[t->n++] = (seg){start, ver};
}

static int load_versions(st_db *db, bl_invoice *inv, const char *plans_arr)
{
    PGresult *r = st_db_q(
        db,
        "SELECT v.id, v.plan_id, p.name, v.version, " US(
            "v.effective_from") ","
                                " v.cpu_per_gcycle, v.rx_per_gib, v.tx_per_gib, "
                                "v.storage_per_gib_month,"
                                " v.instance_hour_default, v.time_unit = 'second', v.min_seconds,"
                                " coalesce(v.tax_rate_bp, -1), v.disk_per_gib_month, "
                                "v.floating_ip_hour"
                                " FROM billing.plan_versions v JOIN billing.plans p ON p.id = "
                                "v.plan_id"
                                " WHERE v.plan_id = ANY($1::uuid[]) ORDER BY v.plan_id, "
                                "v.effective_from",
        plans_arr);
    if (!r)
        return -1;
    inv->nvers = PQntuples(r);
    inv->vers = calloc((size_t)(inv->nvers ? inv->nvers : 1), sizeof *inv->vers);
    if (!inv->vers)
        abort();
    for (int i = 0; i < inv->nvers; i++) {
        bl_pver *v = &inv->vers[i];
        snprintf(v->id, sizeof v->id, "%s", PQgetvalue(r, i, 0));
        snprintf(v->plan_id, sizeof v->plan_id, "%s", PQgetvalue(r, i, 1));
        snprintf(v->plan_name, sizeof v->plan_name, "%s", PQgetvalue(r, i, 2));
        v->version = (int)st_db_int(r, i, 3);
        v->effective_from = st_db_int(r, i, 4);
        v->cpu = st_db_int(r, i, 5);
        v->rx = st_db_int(r, i, 6);
        v->tx = st_db_int(r, i, 7);
        v->storage = st_db_int(r, i, 8);
        v->hour_default = st_db_int(r, i, 9);
        v->per_second = strcmp(PQgetvalue(r, i, 10), "t") == 0;
        v->min_seconds = st_db_int(r, i, 11);
        v->tax_bp = (int)st_db_int(r, i, 12);
        v->disk = st_db_int(r, i, 13);
        v->fip = st_db_int(r, i, 14);
    }
    PQclear(r);
    r = st_db_q(db,
                "SELECT f.version_id, f.flavor, f.per_hour FROM billing.plan_flavor_prices f"
                " JOIN billing.plan_versions v ON v.id = f.version_id"
                " WHERE v.plan_id = ANY($1::uuid[]) ORDER BY f.version_id, f.flavor",
                plans_arr);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        for (int k = 0; k < inv->nvers; k++) {
            bl_pver *v = &inv->vers[k];
            if (strcmp(v->id, PQgetvalue(r, i, 0)) != 0)
                continue;
            v->fl = realloc(v->fl, (size_t)(v->nfl + 1) * sizeof *v->fl);
            if (!v->fl)
                abort();
            snprintf(v->fl[v->nfl].flavor, sizeof v->fl[v->nfl].flavor, "%s", PQgetvalue(r, i, 1));
            v->fl[v->nfl++].price = st_db_int(r, i, 2);
        }
    }
    PQclear(r);
    return 0;
}

/* Appends the segments of plan over [start, end) (end 0: open-ended). */
static void plan_segments(const bl_invoice *inv, timeline *t, const char *plan, int64_t start,
                          int64_t end)
{
    int cur = -1;
    for (int i = 0; plan && i < inv->nvers; i++)
        if (strcmp(inv->vers[i].plan_id, plan) == 0 && inv->vers[i].effective_from <= start)
            cur = i; /* versions are sorted by effective_from within a plan */
    tl_push(t, start, cur);
    for (int i = 0; plan && i < inv->nvers; i++) {
        const bl_pver *v = &inv->vers[i];
        if (strcmp(v->plan_id, plan) == 0 && v->effective_from > start &&
            (!end || v->effective_from < end))
            tl_push(t, v->effective_from, i);
    }
}

static int build_timeline(st_db *db, bl_invoice *inv, timeline *t)
{
    PGresult *a =
        st_db_q(db,
                "SELECT " US("effective_from") ", plan_id FROM billing.tenant_plans"
                                               " WHERE tenant_id = $1 ORDER BY effective_from",
                inv->tenant);
    if (!a)
        return -1;
    PGresult *d = st_db_q0(db, "SELECT id FROM billing.plans WHERE is_default");
    if (!d) {
        PQclear(a);
        return -1;
    }
    const char *dflt = PQntuples(d) ? PQgetvalue(d, 0, 0) : NULL;
    sb plans;
    sb_init(&plans);
    sb_arr_open(&plans);
    if (dflt)
        sb_arr_raw(&plans, dflt);
    for (int i = 0; i < PQntuples(a); i++)
        sb_arr_raw(&plans, PQgetvalue(a, i, 1));
    sb_arr_close(&plans);
    int rc = load_versions(db, inv, sb_str(&plans));
    sb_free(&plans);
    if (rc == 0) {
        int na = PQntuples(a);
        int64_t first = na ? st_db_int(a, 0, 0) : 0;
        if (!na || first > EPOCH_2000)
            plan_segments(inv, t, dflt, EPOCH_2000, first);
        for (int i = 0; i < na; i++)
            plan_segments(inv, t, PQgetvalue(a, i, 1), st_db_int(a, i, 0),
                          i + 1 < na ? st_db_int(a, i + 1, 0) : 0);
    }
    PQclear(a);
    PQclear(d);
    return rc;
}

/* ---- Lines ---- */

static void add_line(bl_invoice *inv, const char *instance, bl_item item, const char *flavor,
                     int64_t month, int ver, int64_t q)
{
    /* Time under a per-second version is rated from the samples (rate_seconds). */
    if (item == BL_ITEM_INSTANCE_HOURS && ver >= 0 && inv->vers[ver].per_second)
        return;
    if (inv->n == inv->cap) {
        inv->cap = inv->cap ? inv->cap * 2 : 256;
        inv->lines = realloc(inv->lines, inv->cap * sizeof *inv->lines);
        if (!inv->lines)
            abort();
    }
    bl_line *l = &inv->lines[inv->n++];
    memset(l, 0, sizeof *l);
    snprintf(l->instance, sizeof l->instance, "%s", instance);
    l->item = item;
    snprintf(l->flavor, sizeof l->flavor, "%s", flavor);
    l->usage_month = month;
    l->ver = ver;
    l->quantity = q;
}

static int parse_q(const char *v, int64_t *q)
{
    errno = 0;
    long long x = v ? strtoll(v, NULL, 10) : 0;
    if (errno == ERANGE)
        return -1;
    *q = x;
    return 0;
}

/* Orders lines by key; inv (the lines' own invoice, passed through qsort_r
 * so that concurrent ratings never share it) gives the plan versions' start
 * times. */
static int line_cmp(const void *a, const void *b, void *inv_arg)
{
    const bl_line *x = a, *y = b;
    const bl_invoice *inv = inv_arg;
    /* Tenant-wide lines (no instance) go last. */
    if (!x->instance[0] != !y->instance[0])
        return x->instance[0] ? -1 : 1;
    int c = strcmp(x->instance, y->instance);
    if (c)
        return c;
    if (x->item != y->item)
        return x->item < y->item ? -1 : 1;
    if ((c = strcmp(x->port, y->port)))
        return c;
    if ((c = strcmp(x->flavor, y->flavor)))
        return c;
    if (x->usage_month != y->usage_month)
        return x->usage_month < y->usage_month ? -1 : 1;
    int64_t ex = x->ver < 0 ? 0 : inv->vers[x->ver].effective_from;
    int64_t ey = y->ver < 0 ? 0 : inv->vers[y->ver].effective_from;
    if (ex != ey)
        return ex < ey ? -1 : 1;
    return x->ver - y->ver;
}

static int64_t unit_price(const bl_invoice *inv, const bl_line *l)
{
    if (l->ver < 0)
        return 0;
    const bl_pver *v = &inv->vers[l->ver];
    switch (l->item) {
    case BL_ITEM_CPU: return v->cpu;
    case BL_ITEM_RX: return v->rx;
    case BL_ITEM_TX: return v->tx;
    case BL_ITEM_STORAGE: return v->storage;
    case BL_ITEM_DISK: return v->disk;
    case BL_ITEM_FIP: return v->fip;
    default: /* instance-hours and instance seconds: the flavor's price per hour */
        for (int i = 0; i < v->nfl; i++)
            if (strcmp(v->fl[i].flavor, l->flavor) == 0)
                return v->fl[i].price;
        return v->hour_default;
    }
}

int bl_invoice_finish(bl_invoice *inv)
{
    if (inv->n) /* lines is NULL when there are none */
        qsort_r(inv->lines, inv->n, sizeof *inv->lines, line_cmp, inv);
    size_t k = 0;
    for (size_t i = 0; i < inv->n; i++) {
        if (k && line_cmp(&inv->lines[k - 1], &inv->lines[i], inv) == 0) {
            if (__builtin_add_overflow(inv->lines[k - 1].quantity, inv->lines[i].quantity,
                                       &inv->lines[k - 1].quantity))
                return -1;
            continue;
        }
        inv->lines[k++] = inv->lines[i];
    }
    inv->n = k;
    k = 0;
    inv->total = 0;
    for (size_t i = 0; i < inv->n; i++) {
        bl_line *l = &inv->lines[i];
        if (l->quantity < 0 && (l->item == BL_ITEM_RX || l->item == BL_ITEM_TX) && !l->port[0])
            l->quantity = 0; /* ports above their instance: only when a counter went down */
        if (l->quantity == 0)
            continue;
        l->unit_price = unit_price(inv, l);
        l->amount =
            bl_round((__int128)l->quantity * l->unit_price, bl_line_divisor(l), inv->round_micro);
        if (__builtin_add_overflow(inv->total, l->amount, &inv->total))
            return -1;
        inv->no_plan += l->ver < 0;
        inv->lines[k++] = *l;
    }
    inv->n = k;
    return 0;
}

/*
 * Buckets for width_bucket(): every segment start and every month start
 * from the earliest month late usage can come from up to the period. A
 * bucket then has one plan version and lies in one usage month, so the
 * aggregate groups by a single cheap expression. Late usage of period P
 * has hours no older than P minus the raw retention window (older samples
 * are refused at ingest), which bounds the months needed.
 */
typedef struct buckets {
    int64_t *start;
    int *ver;
    int64_t *month;
    int n;
} buckets;

static void build_buckets(const timeline *t, int64_t period, int64_t retention_us, buckets *b)
{
    int64_t first = bl_month_add(bl_month_floor(period - retention_us), -1);
    if (first < EPOCH_2000)
        first = EPOCH_2000;
    int nm = 0;
    for (int64_t m = first; m <= period; m = bl_month_add(m, 1))
        nm++;
    int cap = nm + t->n + 1;
    b->start = malloc((size_t)cap * sizeof *b->start);
    b->ver = malloc((size_t)cap * sizeof *b->ver);
    b->month = malloc((size_t)cap * sizeof *b->month);
    if (!b->start || !b->ver || !b->month)
        abort();
    b->n = 0;
    int si = 0;
    int64_t m = first;
    for (;;) {
        int64_t next_seg = si < t->n ? t->s[si].start : INT64_MAX;
        int64_t next_month = m <= period ? m : INT64_MAX;
        int64_t x = next_seg < next_month ? next_seg : next_month;
        if (x == INT64_MAX)
            break;
        if (x == next_seg)
            si++;
        if (x == next_month)
            m = bl_month_add(m, 1);
        int ver = -1;
        for (int k = 0; k < t->n && t->s[k].start <= x; k++)
            ver = t->s[k].ver;
        b->start[b->n] = x;
        b->ver[b->n] = ver;
        b->month[b->n] = bl_month_floor(x);
        b->n++;
    }
}

static void free_buckets(buckets *b)
{
    free(b->start);
    free(b->ver);
    free(b->month);
}

/* width_bucket() result -> bucket index, -1 for "before the first". */
static int bucket_of(const buckets *b, long long wb)
{
    return wb >= 1 && wb <= b->n ? (int)wb - 1 : -1;
}

/*
 * One result row's traffic: column 1 is the width_bucket() of its day or
 * hour, columns col..col+2 the CPU cycles, bytes received and bytes sent.
 * Adds the three lines, priced by the bucket's plan version in its usage
 * month, and gives that month and version back (when asked) for the row's
 * other lines.
 * -1 when a quantity does not parse.
 */
static int add_traffic_lines(bl_invoice *inv, const buckets *bk, const PGresult *r, int row,
                             const char *inst, int col, int64_t *month_out, int *ver_out)
{
    int b = bucket_of(bk, st_db_int(r, row, 1));
    int64_t month = b >= 0 ? bk->month[b] : EPOCH_2000, q[3];
    int ver = b >= 0 ? bk->ver[b] : -1;
    if (month_out)
        *month_out = month;
    if (ver_out)
        *ver_out = ver;
    for (int k = 0; k < 3; k++)
        if (parse_q(st_db_val(r, row, col + k), &q[k]) < 0)
            return -1;
    add_line(inv, inst, BL_ITEM_CPU, "", month, ver, q[0]);
    add_line(inv, inst, BL_ITEM_RX, "", month, ver, q[1]);
    add_line(inv, inst, BL_ITEM_TX, "", month, ver, q[2]);
    return 0;
}

/*
 * Network bytes per port (billing.port_usage_hourly, ingest_ports.c): each
 * port's rx and tx become lines of their own, priced like the instance's,
 * and are taken off the instance's own rx/tx lines of the same usage month
 * and plan version (a negative line that merges into them), which so keep
 * only the traffic of NICs reported without their port. Hours are bucketed
 * like the traffic read from the hourly rows. -1 on a database error.
 */
static int rate_ports(st_db *db, bl_invoice *inv, const buckets *bk, const char *tenant,
                      const char *period, const char *bounds)
{
    PGresult *r = st_db_q(db,
                          "SELECT instance_id, port_id, width_bucket(hour, $3::timestamptz[]),"
                          " sum(rx_bytes), sum(tx_bytes) FROM billing.port_usage_hourly"
                          " WHERE tenant_id = $1 AND period = $2 GROUP BY 1, 2, 3",
                          tenant, period, bounds);
    if (!r)
        return -1;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        int b = bucket_of(bk, st_db_int(r, i, 2));
        int64_t month = b >= 0 ? bk->month[b] : EPOCH_2000, q[2];
        int ver = b >= 0 ? bk->ver[b] : -1;
        const char *inst = PQgetvalue(r, i, 0);
        for (int k = 0; k < 2 && rc == 0; k++) {
            bl_item it = k ? BL_ITEM_TX : BL_ITEM_RX;
            if (parse_q(st_db_val(r, i, 3 + k), &q[k]) < 0) {
                rc = -1;
                break;
            }
            add_line(inv, inst, it, "", month, ver, -q[k]);
            add_line(inv, inst, it, "", month, ver, q[k]);
            snprintf(inv->lines[inv->n - 1].port, sizeof inv->lines[0].port, "%s",
                     PQgetvalue(r, i, 1));
        }
    }
    PQclear(r);
    return rc;
}

/*
 * Instance time by the second, for the buckets whose plan version has
 * time_unit "second". The rollups keep no wall time, so it is read from the
 * raw samples of the tenant's instances with usage in the period (index
 * seeks by instance; raw samples are kept retention.raw_days, well beyond a
 * month): the interval between consecutive samples of a boot (by seq)
 * counts when its later sample is billable (active, paused), and belongs,
 * like all usage, to the later sample's time - here, to samples taken in
 * the period's own month (the lookback month only supplies predecessors).
 * Per (boot, flavor, bucket) the microseconds are rounded UP to whole
 * seconds; a boot whose first sample is in this month and that was
 * billable in it is then billed at least the min_seconds of the version in
 * force at its first billable sample, the difference added to that line.
 * A boot's first sample has no predecessor: a VM seen once is billed the
 * minimum. -1 on a database error.
 */
static int rate_seconds(st_db *db, bl_invoice *inv, const buckets *bk, const char *tenant,
                        int64_t period, const char *bounds)
{
    int any = 0;
    for (int i = 0; i < bk->n; i++)
        if (bk->ver[i] >= 0 && inv->vers[bk->ver[i]].per_second)
            any = 1;
    if (!any)
        return 0;
    char p[11], lo[ST_TIME_LEN], from[ST_TIME_LEN], to[ST_TIME_LEN];
    bl_date_format(period, p);
    st_time_format(bl_month_add(period, -1), lo);
    st_time_format(period, from);
    st_time_format(bl_month_add(period, 1), to);
    PGresult *r = st_db_q(
        db,
        "WITH i AS (SELECT DISTINCT instance_id FROM billing.usage_daily"
        "  WHERE tenant_id = $1 AND period = $2),"
        " s AS (SELECT x.instance_id, x.boot_id, x.seq, x.flavor, x.sampled_at,"
        "  x.state IN ('active', 'paused') AS bill,"
        "  x.sampled_at - lag(x.sampled_at) OVER (PARTITION BY x.instance_id, x.boot_id"
        "   ORDER BY x.seq) AS dt"
        "  FROM i JOIN billing.samples x ON x.instance_id = i.instance_id"
        "  WHERE x.tenant_id = $1 AND x.sampled_at >= $4 AND x.sampled_at < $6)"
        " SELECT s.instance_id, s.boot_id, s.flavor, width_bucket(s.sampled_at, $3::timestamptz[]),"
        "  coalesce(sum((extract(epoch FROM s.dt) * 1000000)::bigint) FILTER (WHERE s.bill), 0),"
        "  " US("min(s.sampled_at) FILTER (WHERE s.bill)") ","
                                                           "  coalesce(bool_or(s.seq = "
                                                           "st.min_seq), false)"
                                                           " FROM s LEFT JOIN billing.streams st"
                                                           "  ON st.instance_id = s.instance_id "
                                                           "AND st.boot_id = s.boot_id"
                                                           " WHERE s.sampled_at >= $5 GROUP BY 1, "
                                                           "2, 3, 4 ORDER BY 1, 2, 6",
        tenant, p, bounds, lo, from, to);
    if (!r)
        return -1;
    int n = PQntuples(r);
    for (int i = 0; i < n;) {
        /* One boot: rows i..j-1, its first billable row first (ORDER BY 6). */
        int j = i;
        while (j < n && strcmp(PQgetvalue(r, j, 0), PQgetvalue(r, i, 0)) == 0 &&
               strcmp(PQgetvalue(r, j, 1), PQgetvalue(r, i, 1)) == 0)
            j++;
        int64_t total = 0;
        int first_here = 0, top = -1;
        for (int k = i; k < j; k++) {
            int b = bucket_of(bk, st_db_int(r, k, 3));
            int ver = b >= 0 ? bk->ver[b] : -1;
            if (ver < 0 || !inv->vers[ver].per_second || !st_db_val(r, k, 5))
                continue; /* hour-based (or not billable): the rollups price it */
            if (top < 0)
                top = k;
            total += (st_db_int(r, k, 4) + 999999) / 1000000;
            first_here |= strcmp(PQgetvalue(r, k, 6), "t") == 0;
        }
        for (int k = i; k < j; k++) {
            int b = bucket_of(bk, st_db_int(r, k, 3));
            int ver = b >= 0 ? bk->ver[b] : -1;
            if (ver < 0 || !inv->vers[ver].per_second || !st_db_val(r, k, 5))
                continue;
            int64_t secs = (st_db_int(r, k, 4) + 999999) / 1000000;
            if (k == top && first_here && total < inv->vers[ver].min_seconds)
                secs += inv->vers[ver].min_seconds - total;
            add_line(inv, PQgetvalue(r, k, 0), BL_ITEM_INSTANCE_SECONDS, PQgetvalue(r, k, 2),
                     bk->month[b], ver, secs);
        }
        i = j;
    }
    PQclear(r);
    return 0;
}

/*
 * Floating IPs held: every hour of the period in which the tenant held an
 * IP at any moment counts one IP-hour for it, up to now for a draft (AWS
 * bills public IPv4 addresses by the hour). The gateway owns allocation
 * and release; it keeps every hold's interval (iaas.floating_ip_holds, its
 * migration 0020) and publishes iaas.floating_ip_hours() in the shared
 * cluster, as it does instance names and node identity. Read at rating,
 * nothing is sent, retried or stored twice, and an issued invoice keeps the
 * hours it was issued with. A billing database without the gateway's
 * schema rates none. -1 on a database error.
 */
static int rate_floating_ips(st_db *db, bl_invoice *inv, const buckets *bk, const char *tenant,
                             int64_t period, const char *bounds)
{
    PGresult *r = st_db_q0(db, "SELECT to_regprocedure('iaas.floating_ip_hours(uuid,timestamptz,"
                               "timestamptz)') IS NOT NULL");
    if (!r)
        return -1;
    int have = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!have)
        return 0;
    char from[ST_TIME_LEN], to[ST_TIME_LEN];
    int64_t end = bl_month_add(period, 1), now = st_now_us();
    st_time_format(period, from);
    st_time_format_us(end < now ? end : now, to);
    r = st_db_q(db,
                "SELECT width_bucket(hour, $4::timestamptz[]), sum(ips)::bigint"
                " FROM iaas.floating_ip_hours($1::uuid, $2::timestamptz, $3::timestamptz)"
                " GROUP BY 1",
                tenant, from, to, bounds);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        int b = bucket_of(bk, st_db_int(r, i, 0));
        add_line(inv, "", BL_ITEM_FIP, "", period, b >= 0 ? bk->ver[b] : -1, st_db_int(r, i, 1));
    }
    PQclear(r);
    return 0;
}

/*
 * Readable lines: each instance's name, read from the gateway's
 * iaas.instance_labels() (its published contract in the shared cluster, as
 * for node identity; a billing database without the gateway has none and
 * lines show ids only), and the flavor its time was billed with, copied to
 * the instance's other lines. The gateway owns names and renames; reading
 * them at rating costs one query per invoice, and an issued invoice keeps
 * the names it was issued with. -1 on a database error.
 */
static int label_lines(st_db *db, bl_invoice *inv)
{
    /* Lines are sorted by instance (finish): one pass per instance's run of lines. */
    for (size_t i = 0, j; i < inv->n; i = j) {
        const char *fl = "";
        for (j = i; j < inv->n && strcmp(inv->lines[j].instance, inv->lines[i].instance) == 0; j++)
            if (!fl[0] && (inv->lines[j].item == BL_ITEM_INSTANCE_HOURS ||
                           inv->lines[j].item == BL_ITEM_INSTANCE_SECONDS))
                fl = inv->lines[j].flavor;
        for (size_t k = i; k < j && inv->lines[i].instance[0]; k++)
            snprintf(inv->lines[k].iflavor, sizeof inv->lines[k].iflavor, "%s", fl);
    }
    PGresult *r = st_db_q0(db, "SELECT to_regprocedure('iaas.instance_labels(uuid,uuid[])')"
                               " IS NOT NULL");
    if (!r)
        return -1;
    int have = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!have || !inv->n)
        return 0;
    sb ids;
    sb_init(&ids);
    sb_arr_open(&ids);
    for (size_t i = 0; i < inv->n; i++)
        if (inv->lines[i].instance[0] &&
            (i == 0 || strcmp(inv->lines[i].instance, inv->lines[i - 1].instance) != 0))
            sb_arr_raw(&ids, inv->lines[i].instance);
    sb_arr_close(&ids);
    r = st_db_q(db,
                "SELECT id::text, name FROM iaas.instance_labels($1, $2::uuid[])"
                " ORDER BY id::text COLLATE \"C\"",
                inv->tenant, sb_str(&ids));
    sb_free(&ids);
    if (!r)
        return -1;
    /* both sorted by instance id: merge */
    size_t i = 0;
    for (int k = 0; k < PQntuples(r); k++) {
        const char *id = PQgetvalue(r, k, 0);
        while (i < inv->n && strcmp(inv->lines[i].instance, id) < 0)
            i++;
        for (; i < inv->n && strcmp(inv->lines[i].instance, id) == 0; i++)
            snprintf(inv->lines[i].name, sizeof inv->lines[i].name, "%s", PQgetvalue(r, k, 1));
    }
    PQclear(r);
    return 0;
}

int bl_rate(st_db *db, const bl_ctx *ctx, const char *tenant, int64_t period, bl_invoice *inv)
{
    memset(inv, 0, sizeof *inv);
    snprintf(inv->tenant, sizeof inv->tenant, "%s", tenant);
    bl_invoice_id(tenant, period, inv->id);
    inv->period = period;
    inv->generated_at = st_now_us();
    snprintf(inv->currency, sizeof inv->currency, "%s", ctx->currency);
    inv->round_micro = ctx->round_micro;
    bl_seller_of(ctx, &inv->seller);
    inv->payment_days = ctx->payment_days;
    snprintf(inv->payment_terms, sizeof inv->payment_terms, "%s", ctx->payment_terms);
    snprintf(inv->reverse_charge_note, sizeof inv->reverse_charge_note, "%s",
             ctx->reverse_charge_note);
    timeline t = {0};
    buckets bk = {0};
    PGresult *r = NULL;
    sb bounds;
    sb_init(&bounds);
    int rc = -1;
    /* Inside a transaction, give the aggregate room to hash in memory. */
    r = st_db_q0(db, "SELECT set_config('work_mem', '64MB', true)");
    if (!r)
        goto out;
    PQclear(r);
    r = NULL;
    if (bl_account_load(db, tenant, &inv->buyer) < 0 || build_timeline(db, inv, &t) < 0)
        goto out;
    if (!t.n)
        tl_push(&t, EPOCH_2000, -1);
    build_buckets(&t, period, ctx->retention_us, &bk);
    sb_arr_open(&bounds);
    for (int i = 0; i < bk.n; i++)
        sb_arr_time(&bounds, bk.start[i]);
    sb_arr_close(&bounds);
    char p[11];
    bl_date_format(period, p);

    /*
     * Days a plan change splits (a segment starting off midnight) are rated
     * from their hourly rows; every other day from the daily rollups, whose
     * bucket is that of the day's start (month starts are midnights too).
     */
    sb bdays;
    sb_init(&bdays);
    sb_arr_open(&bdays);
    int64_t split[64];
    int nsplit = 0;
    for (int i = 0; i < bk.n && nsplit < 64; i++) {
        int64_t day = bk.start[i] - bk.start[i] % (24 * BL_US_HOUR);
        if (day != bk.start[i] && (!nsplit || split[nsplit - 1] != day)) {
            split[nsplit++] = day;
            sb_arr_time(&bdays, day);
        }
    }
    sb_arr_close(&bdays);
    r = st_db_q(db,
                "SELECT instance_id, width_bucket(day, $3::timestamptz[]),"
                " sum(cpu_cycles), sum(rx_bytes), sum(tx_bytes)"
                " FROM billing.usage_daily WHERE tenant_id = $1 AND period = $2"
                " AND day <> ALL($4::timestamptz[]) GROUP BY 1, 2",
                tenant, p, sb_str(&bounds), sb_str(&bdays));
    if (!r)
        goto out_days;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *inst = PQgetvalue(r, i, 0);
        if (add_traffic_lines(inv, &bk, r, i, inst, 2, NULL, NULL) < 0)
            goto out_days;
    }
    PQclear(r);
    r = st_db_q(db,
                "SELECT instance_id, flavor, width_bucket(day, $3::timestamptz[]), sum(hours)"
                " FROM billing.instance_hours_daily WHERE tenant_id = $1 AND period = $2"
                " AND day <> ALL($4::timestamptz[]) GROUP BY 1, 2, 3",
                tenant, p, sb_str(&bounds), sb_str(&bdays));
    if (!r)
        goto out_days;
    for (int i = 0; i < PQntuples(r); i++) {
        int b = bucket_of(&bk, st_db_int(r, i, 2));
        add_line(inv, PQgetvalue(r, i, 0), BL_ITEM_INSTANCE_HOURS, PQgetvalue(r, i, 1),
                 b >= 0 ? bk.month[b] : EPOCH_2000, b >= 0 ? bk.ver[b] : -1, st_db_int(r, i, 3));
    }
    PQclear(r);
    r = NULL;
    for (int d = 0; d < nsplit; d++) {
        char d0[ST_TIME_LEN], d1[ST_TIME_LEN];
        st_time_format(split[d], d0);
        st_time_format(split[d] + 24 * BL_US_HOUR, d1);
        /* Index seeks per instance that has usage that day. */
        r = st_db_q(db,
                    "SELECT h.instance_id, width_bucket(h.hour, $3::timestamptz[]), h.flavors,"
                    " sum(h.cpu_cycles), sum(h.rx_bytes), sum(h.tx_bytes), count(*)"
                    " FROM (SELECT DISTINCT instance_id FROM billing.usage_daily"
                    "  WHERE tenant_id = $1 AND period = $2 AND day = $4) i"
                    " JOIN billing.usage_hourly h ON h.tenant_id = $1 AND h.period = $2"
                    "  AND h.instance_id = i.instance_id AND h.hour >= $4 AND h.hour < $5"
                    " GROUP BY 1, 2, 3",
                    tenant, p, sb_str(&bounds), d0, d1);
        if (!r)
            goto out_days;
        for (int i = 0; i < PQntuples(r); i++) {
            const char *inst = PQgetvalue(r, i, 0);
            int64_t month;
            int ver;
            if (add_traffic_lines(inv, &bk, r, i, inst, 3, &month, &ver) < 0)
                goto out_days;
            /* "{m1.small,m1.large}"; flavors hold no comma, brace or backslash. */
            char fl[1024];
            snprintf(fl, sizeof fl, "%s", PQgetvalue(r, i, 2));
            for (char *save = NULL, *f = strtok_r(fl, "{},\"", &save); f;
                 f = strtok_r(NULL, "{},\"", &save))
                add_line(inv, inst, BL_ITEM_INSTANCE_HOURS, f, month, ver, st_db_int(r, i, 6));
        }
        PQclear(r);
        r = NULL;
    }
    sb_free(&bdays);
    r = st_db_q(db,
                "SELECT width_bucket(hour, $3::timestamptz[]), sum(bytes)"
                " FROM billing.storage_hourly WHERE tenant_id = $1 AND period = $2"
                " GROUP BY 1",
                tenant, p, sb_str(&bounds));
    if (!r)
        goto out;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t q;
        int b = bucket_of(&bk, st_db_int(r, i, 0));
        if (parse_q(st_db_val(r, i, 1), &q) < 0)
            goto out;
        add_line(inv, "", BL_ITEM_STORAGE, "", b >= 0 ? bk.month[b] : EPOCH_2000,
                 b >= 0 ? bk.ver[b] : -1, q);
    }
    PQclear(r);
    /* Allocated instance disks: byte-hours per instance, like storage. */
    r = st_db_q(db,
                "SELECT instance_id, width_bucket(hour, $3::timestamptz[]), sum(bytes)"
                " FROM billing.disk_hourly WHERE tenant_id = $1 AND period = $2"
                " GROUP BY 1, 2",
                tenant, p, sb_str(&bounds));
    if (!r)
        goto out;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t q;
        int b = bucket_of(&bk, st_db_int(r, i, 1));
        if (parse_q(st_db_val(r, i, 2), &q) < 0)
            goto out;
        add_line(inv, PQgetvalue(r, i, 0), BL_ITEM_DISK, "", b >= 0 ? bk.month[b] : EPOCH_2000,
                 b >= 0 ? bk.ver[b] : -1, q);
    }
    PQclear(r);
    r = NULL;
    if (rate_ports(db, inv, &bk, tenant, p, sb_str(&bounds)) < 0 ||
        rate_floating_ips(db, inv, &bk, tenant, period, sb_str(&bounds)) < 0 ||
        rate_seconds(db, inv, &bk, tenant, period, sb_str(&bounds)) < 0)
        goto out;
    rc = bl_invoice_finish(inv);
    if (rc == 0)
        rc = bl_tax(ctx, inv);
    if (rc == 0)
        rc = label_lines(db, inv);
    goto out;
out_days:
    sb_free(&bdays);
out:
    PQclear(r);
    sb_free(&bounds);
    free_buckets(&bk);
    free(t.s);
    if (rc < 0)
        bl_invoice_free(inv);
    return rc;
}
