/*
 * ingest_ports.c - network bytes per port, kept by the rules of the
 * instance totals (ingest.c).
 *
 * A sample whose NICs each name their port (counters.nics[].port_id) carries
 * each port's cumulative rx/tx bytes (bl_portc). Its head in billing.streams
 * and its raw row keep them as three parallel arrays (migration 0011); the
 * usage of an interval (p, s] of a stream is, per port of s, s's bytes less
 * p's for that port (0 when p had no such port: a NIC that came later),
 * clamped at 0 like every counter, in the hour of s. The one exception is a
 * predecessor that did not name its ports (ports "unknown": an older node,
 * or a sample stored before migration 0011): no baseline, so the interval
 * bills no per-port bytes and the instance's own lines keep that traffic
 * (rating.c bills per port what these rows hold, the instance the rest).
 * A stream's first sample counts from zero, as for the totals.
 *
 * Because the usage of a pair (p, s) depends on p and s alone, the split of
 * a late sample's interval (ingest.c) applies as it is: hour(s) += d(p, s),
 * hour(q) += d(s, q) - d(p, q); so replays, duplicates, resets (a new boot)
 * and any arrival order give the in-order result, as for the totals.
 * Deltas are collected per (instance, port, hour) and written as one upsert
 * into billing.port_usage_hourly per batch, in key order.
 */
#include "ingest.h"
#include "sqlbuf.h"

#include "stratus/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const ing_ports ing_ports_zero = {1, 0, NULL};

ing_ports ing_ports_of(const bl_sample *s)
{
    return (ing_ports){s->ports_known, s->nports, s->ports};
}

void ing_ports_free(ing_ports *p)
{
    free(p->p);
    *p = (ing_ports){0, 0, NULL};
}

void ing_ports_set(ing_ports *dst, const ing_ports *src)
{
    bl_portc *c = NULL;
    if (src->n) {
        c = malloc((size_t)src->n * sizeof *c);
        if (!c)
            abort();
        memcpy(c, src->p, (size_t)src->n * sizeof *c);
    }
    free(dst->p);
    *dst = (ing_ports){src->known, src->n, c};
}

/* The elements of a one-dimensional array's text ("{a,b}"), in place. */
static int split_arr(char *s, char **el, int max)
{
    size_t n = strlen(s);
    if (n < 2 || s[0] != '{' || s[n - 1] != '}')
        return -1;
    s[n - 1] = 0;
    int k = 0;
    for (char *save = NULL, *t = strtok_r(s + 1, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (k == max)
            return -1;
        el[k++] = t;
    }
    return k;
}

int ing_ports_from_pg(const char *ids, const char *rx, const char *tx, ing_ports *out)
{
    ing_ports_free(out);
    if (!ids || !rx || !tx)
        return 0; /* unknown */
    char bi[BL_MAX_DEVICES * 40 + 8], br[BL_MAX_DEVICES * 24 + 8], bt[BL_MAX_DEVICES * 24 + 8];
    char *ei[BL_MAX_DEVICES], *er[BL_MAX_DEVICES], *et[BL_MAX_DEVICES];
    snprintf(bi, sizeof bi, "%s", ids);
    snprintf(br, sizeof br, "%s", rx);
    snprintf(bt, sizeof bt, "%s", tx);
    int n = split_arr(bi, ei, BL_MAX_DEVICES);
    if (n < 0 || split_arr(br, er, BL_MAX_DEVICES) != n || split_arr(bt, et, BL_MAX_DEVICES) != n)
        return -1;
    out->known = 1;
    out->n = n;
    if (!n)
        return 0;
    out->p = calloc((size_t)n, sizeof *out->p);
    if (!out->p)
        abort();
    for (int i = 0; i < n; i++) {
        snprintf(out->p[i].id, sizeof out->p[i].id, "%s", ei[i]);
        out->p[i].rx = strtoll(er[i], NULL, 10);
        out->p[i].tx = strtoll(et[i], NULL, 10);
    }
    return 0;
}

void ing_ports_text(const ing_ports *p, sb *ids, sb *rx, sb *tx)
{
    sb_arr_open(ids);
    sb_arr_open(rx);
    sb_arr_open(tx);
    for (int i = 0; i < p->n; i++) {
        sb_arr_raw(ids, p->p[i].id);
        sb_arr_i64(rx, p->p[i].rx);
        sb_arr_i64(tx, p->p[i].tx);
    }
    sb_arr_close(ids);
    sb_arr_close(rx);
    sb_arr_close(tx);
}

static void push_row(ing *g, const bl_sample *who, const char *port, int64_t hour, int64_t rx,
                     int64_t tx)
{
    if (g->nprow == g->capprow) {
        g->capprow = g->capprow ? g->capprow * 2 : 64;
        g->prow = realloc(g->prow, g->capprow * sizeof *g->prow);
        if (!g->prow)
            abort();
    }
    ing_prow *r = &g->prow[g->nprow++];
    memcpy(r->instance, who->instance, sizeof r->instance);
    memcpy(r->tenant, who->tenant, sizeof r->tenant);
    snprintf(r->port, sizeof r->port, "%s", port);
    r->hour = hour;
    r->rx = rx;
    r->tx = tx;
}

void ing_port_delta(ing *g, const bl_sample *who, int64_t hour, const ing_ports *from,
                    const ing_ports *to, int sign)
{
    if (!from->known)
        return; /* no baseline: the instance's lines bill this interval */
    for (int i = 0; i < to->n; i++) {
        const bl_portc *t = &to->p[i];
        int64_t brx = 0, btx = 0;
        for (int k = 0; k < from->n; k++)
            if (strcmp(from->p[k].id, t->id) == 0) {
                brx = from->p[k].rx;
                btx = from->p[k].tx;
                break;
            }
        int64_t drx = t->rx > brx ? t->rx - brx : 0, dtx = t->tx > btx ? t->tx - btx : 0;
        if (drx || dtx)
            push_row(g, who, t->id, hour, sign * drx, sign * dtx);
    }
}

static int prow_cmp(const void *a, const void *b)
{
    const ing_prow *x = a, *y = b;
    int c = strcmp(x->tenant, y->tenant);
    if (!c)
        c = strcmp(x->instance, y->instance);
    if (!c)
        c = strcmp(x->port, y->port);
    if (c)
        return c;
    return x->hour < y->hour ? -1 : x->hour > y->hour;
}

int ing_sql_write_ports(ing *g)
{
    if (!g->nprow)
        return 0;
    qsort(g->prow, g->nprow, sizeof *g->prow, prow_cmp);
    sb a[7];
    for (int k = 0; k < 7; k++) {
        sb_init(&a[k]);
        sb_arr_open(&a[k]);
    }
    size_t rows = 0;
    for (size_t i = 0; i < g->nprow;) {
        ing_prow sum = g->prow[i];
        size_t j = i + 1;
        for (; j < g->nprow && prow_cmp(&g->prow[j], &sum) == 0; j++) {
            sum.rx += g->prow[j].rx;
            sum.tx += g->prow[j].tx;
        }
        i = j;
        if (!sum.rx && !sum.tx)
            continue;
        rows++;
        sb_arr_raw(&a[0], sum.tenant);
        sb_arr_date(&a[1], ing_period(g, sum.hour));
        sb_arr_raw(&a[2], sum.instance);
        sb_arr_raw(&a[3], sum.port);
        sb_arr_time(&a[4], sum.hour);
        sb_arr_i64(&a[5], sum.rx);
        sb_arr_i64(&a[6], sum.tx);
    }
    const char *p[7];
    for (int k = 0; k < 7; k++) {
        sb_arr_close(&a[k]);
        p[k] = sb_str(&a[k]);
    }
    long long rc = 0;
    if (rows)
        rc =
            st_db_exec(g->db,
                       "INSERT INTO billing.port_usage_hourly AS x (tenant_id, period, instance_id,"
                       " port_id, hour, rx_bytes, tx_bytes)"
                       " SELECT * FROM unnest($1::uuid[], $2::date[], $3::uuid[], $4::uuid[],"
                       " $5::timestamptz[], $6::bigint[], $7::bigint[])"
                       " ON CONFLICT (tenant_id, period, instance_id, port_id, hour) DO UPDATE SET"
                       " rx_bytes = x.rx_bytes + excluded.rx_bytes,"
                       " tx_bytes = x.tx_bytes + excluded.tx_bytes",
                       7, p);
    for (int k = 0; k < 7; k++)
        sb_free(&a[k]);
    return rc < 0 ? -1 : 0;
}
