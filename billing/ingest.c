/*
 * ingest.c - applying one batch of samples, exactly once, in one transaction.
 *
 * The model. Counters are cumulative per (instance, boot) stream: the VMM
 * starts them at zero and a new boot_id means a new VMM, so a counter reset
 * is simply a new stream whose baseline is zero. Order a stream's samples by
 * seq; the usage of the interval (prev, s] is s.c - prev.c (clamped at 0 per
 * counter, so a counter that went backwards never bills negative usage) and
 * belongs to the hour of s.sampled_at; the first sample's usage is counted
 * from zero. Usage per stream therefore always sums to the counters of its
 * highest seq, whatever order the samples arrived in.
 *
 * Invariant: usage_hourly holds exactly the sum over every stream of those
 * interval deltas for the samples stored so far. A batch keeps it:
 *   - append (seq above the head): delta against the head, head moves;
 *   - late (seq below the head): with stored neighbours p < s < q, the
 *     interval (p, q] that was billed to hour(q) becomes (p, s] + (s, q]:
 *       hour(s) += d(p, s);  hour(q) += d(s, q) - d(p, q)
 *     (several late samples between the same p and q chain the same way;
 *     one query fetches the neighbours of every late sample of the batch)
 *     (p missing and s below every stored seq: s is the new first sample,
 *     p = zero. p missing otherwise: p aged out of the raw window, the
 *     interval is already billed whole, s is dropped as stale);
 *   - a seq already stored is a duplicate and changes nothing.
 *
 * Idempotency and crash safety. The batch id is claimed first (node,
 * batch_id primary key) in the same transaction that writes the samples,
 * heads and rollups: either all of a batch is applied or none, and a
 * replayed batch finds its id and changes nothing. A concurrent replay
 * waits on the id's index entry and then sees it. Stream heads are locked
 * FOR UPDATE in key order, so two batches for one stream serialise; a
 * deadlock or serialisation failure retries the whole transaction.
 *
 * Network bytes per port follow the same rules (ingest_ports.c): every
 * delta above also adds the per-port delta of the same pair of samples.
 *
 * Issued months. Ingest holds BL_LOCK_ISSUE shared; issuing takes it
 * exclusively, so a month is issued between batches, never during one.
 * Usage for an hour whose month is issued is billed in the open period
 * (ing_period): it goes to the next invoice as late usage.
 */
#include "ingest.h"

#include "stratus/log.h"
#include "stratus/metrics.h"
#include "stratus/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SKEW_MSG "sampled_at is more than %lld s ahead of billing's clock"

int64_t ing_period(const ing *g, int64_t hour)
{
    int64_t m = bl_month_floor(hour);
    return g->open_month && m < g->open_month ? g->open_month : m;
}

static int sample_cmp(const void *a, const void *b)
{
    const bl_sample *x = *(bl_sample *const *)a, *y = *(bl_sample *const *)b;
    int c = strcmp(x->instance, y->instance);
    if (!c)
        c = strcmp(x->boot, y->boot);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void delta(const int64_t *from, const int64_t *to, int64_t *d)
{
    for (int m = 0; m < BL_NMETERS; m++)
        d[m] = to[m] > from[m] ? to[m] - from[m] : 0;
}

/* The instance ran (billably) in this sample's hour with its flavor. */
static void ih_add(ing *g, const bl_sample *s)
{
    rollmap_flavor(&g->roll, s->instance, s->tenant, bl_hour_floor(s->at_us), s->flavor);
}

/*
 * Sorting, in-batch duplicates, stale samples and the stream split: all
 * that needs no database. Returns 0, or 422 with err filled.
 */
static int prepare(ing *g, char *err, size_t errlen)
{
    bl_batch *b = g->b;
    int64_t now = st_now_us(), oldest = now - g->ctx->retention_us;
    g->v = malloc((b->n ? b->n : 1) * sizeof *g->v);
    g->stor = malloc((b->n ? b->n : 1) * sizeof *g->stor);
    g->st = malloc((b->n ? b->n : 1) * sizeof *g->st);
    if (!g->v || !g->stor || !g->st)
        abort();
    for (size_t i = 0; i < b->n; i++) {
        bl_sample *s = &b->s[i];
        if (s->at_us > now + g->ctx->future_skew_us) {
            snprintf(err, errlen, "samples[%zu]: " SKEW_MSG, i,
                     (long long)(g->ctx->future_skew_us / 1000000));
            return 422;
        }
        if (s->at_us < oldest)
            g->pre_stale++;
        else if (s->kind == BL_KIND_STORAGE)
            g->stor[g->nstor++] = s;
        else
            g->v[g->nv++] = s;
    }
    qsort(g->v, g->nv, sizeof *g->v, sample_cmp);
    size_t k = 0;
    for (size_t i = 0; i < g->nv; i++) {
        if (k && sample_cmp(&g->v[k - 1], &g->v[i]) == 0) {
            g->pre_dups++;
            continue;
        }
        g->v[k++] = g->v[i];
    }
    g->nv = k;
    for (size_t i = 0; i < g->nv; i++) {
        bl_sample *s = g->v[i];
        ing_stream *st = g->nst ? &g->st[g->nst - 1] : NULL;
        if (st && strcmp(st->s[0]->instance, s->instance) == 0 &&
            strcmp(st->s[0]->boot, s->boot) == 0) {
            if (strcmp(st->s[0]->tenant, s->tenant) != 0) {
                snprintf(err, errlen, "instance %s boot %s is reported for two tenants",
                         s->instance, s->boot);
                return 422;
            }
            st->n++;
            continue;
        }
        st = &g->st[g->nst++];
        memset(st, 0, sizeof *st);
        st->s = &g->v[i];
        st->n = 1;
    }
    return 0;
}

/*
 * Late samples between the same stored neighbours p < ... < q form a group:
 * the interval (p, q] billed to hour(q) becomes the chain p, s1, ..., sn, q.
 * Neighbours come from one query for the whole batch (ing_sql_neighbours),
 * taken before any of the batch is stored, so the chain is built here.
 */
static void apply_late_group(ing *g, ing_stream *st, bl_sample **m, size_t n,
                             const ing_neighbour *p, const ing_neighbour *q)
{
    static const ing_neighbour zero = {.ports = {1, 0, NULL}};
    int64_t d[BL_NMETERS];
    if (!q->found) {
        g->stale += (int)n; /* the head's sample itself left the raw window */
        return;
    }
    if (!p->found) {
        if (m[0]->seq > st->min_seq) {
            g->stale += (int)n; /* their predecessor left the raw window */
            return;
        }
        p = &zero; /* a new first sample: counted from zero */
        st->min_seq = m[0]->seq;
        st->changed = 1;
    }
    const char *inst = m[0]->instance, *tenant = m[0]->tenant;
    int64_t hq = bl_hour_floor(q->at);
    delta(p->c, q->c, d);
    rollmap_add(&g->roll, inst, tenant, hq, d, -1);
    ing_port_delta(g, m[0], hq, &p->ports, &q->ports, -1);
    const int64_t *prev = p->c;
    ing_ports pprev = p->ports, ps;
    for (size_t i = 0; i < n; i++) {
        delta(prev, m[i]->c, d);
        rollmap_add(&g->roll, inst, tenant, bl_hour_floor(m[i]->at_us), d, +1);
        ps = ing_ports_of(m[i]);
        ing_port_delta(g, m[i], bl_hour_floor(m[i]->at_us), &pprev, &ps, +1);
        pprev = ps;
        prev = m[i]->c;
        if (m[i]->billable)
            ih_add(g, m[i]);
        g->ins[g->nins++] = m[i];
        g->accepted++;
    }
    delta(prev, q->c, d);
    rollmap_add(&g->roll, inst, tenant, hq, d, +1);
    ing_port_delta(g, m[0], hq, &pprev, &q->ports, +1);
}

/* The stream's samples below its head (they come first: sorted by seq). */
static void apply_late(ing *g, ing_stream *st, size_t nlate)
{
    size_t i = 0;
    while (i < nlate) {
        bl_sample *s = st->s[i];
        const ing_neighbour *p = &g->pred[g->late_pos], *q = &g->succ[g->late_pos];
        if (s->seq == st->last_seq || (p->found && p->seq == s->seq)) {
            g->dups++; /* already stored */
            i++;
            g->late_pos++;
            continue;
        }
        size_t j = i + 1;
        while (j < nlate) {
            const ing_neighbour *pj = &g->pred[g->late_pos + (j - i)];
            const ing_neighbour *qj = &g->succ[g->late_pos + (j - i)];
            if (pj->found && pj->seq == st->s[j]->seq)
                break; /* a duplicate ends the group */
            if (pj->found != p->found || (p->found && pj->seq != p->seq) || qj->found != q->found ||
                (q->found && qj->seq != q->seq))
                break;
            j++;
        }
        apply_late_group(g, st, &st->s[i], j - i, p, q);
        g->late_pos += j - i;
        i = j;
    }
}

static void apply_stream(ing *g, ing_stream *st)
{
    int64_t prev[BL_NMETERS], d[BL_NMETERS];
    size_t nlate = 0;
    while (nlate < st->n && st->s[nlate]->seq <= st->last_seq)
        nlate++;
    apply_late(g, st, nlate);
    memcpy(prev, st->c, sizeof prev); /* zero for a new stream's placeholder */
    ing_ports pprev = st->ports, ps;
    for (size_t i = nlate; i < st->n; i++) {
        bl_sample *s = st->s[i];
        int64_t hour = bl_hour_floor(s->at_us);
        delta(prev, s->c, d);
        rollmap_add(&g->roll, s->instance, s->tenant, hour, d, +1);
        ps = ing_ports_of(s);
        ing_port_delta(g, s, hour, &pprev, &ps, +1);
        pprev = ps;
        memcpy(prev, s->c, sizeof prev);
        if (s->billable &&
            !(st->billed_hour == hour && strcmp(st->billed_flavor, s->flavor) == 0)) {
            ih_add(g, s);
            st->billed_hour = hour;
            snprintf(st->billed_flavor, sizeof st->billed_flavor, "%s", s->flavor);
        }
        g->ins[g->nins++] = s;
        if (s->seq < st->min_seq)
            st->min_seq = s->seq;
        st->last_seq = s->seq;
        st->last_at = s->at_us;
        memcpy(st->c, s->c, sizeof st->c);
        st->changed = 1;
        g->accepted++;
    }
    if (nlate < st->n)
        ing_ports_set(&st->ports, &pprev); /* pprev points into the batch */
}

static void free_neighbours(ing *g)
{
    for (size_t i = 0; g->pred && i < g->caplate; i++) {
        ing_ports_free(&g->pred[i].ports);
        ing_ports_free(&g->succ[i].ports);
    }
    free(g->late);
    free(g->pred);
    free(g->succ);
    g->late = NULL;
    g->pred = g->succ = NULL;
    g->caplate = 0;
}

/* Looks up the stored neighbours of every sample below its stream's head. */
static int load_late_neighbours(ing *g)
{
    size_t n = 0;
    for (size_t i = 0; i < g->nst; i++)
        for (size_t k = 0; k < g->st[i].n && g->st[i].s[k]->seq <= g->st[i].last_seq; k++)
            n++;
    g->late_pos = 0;
    g->nlate = 0;
    if (!n)
        return 0;
    if (n > g->caplate) {
        free_neighbours(g);
        g->late = malloc(n * sizeof *g->late);
        g->pred = calloc(n, sizeof *g->pred);
        g->succ = calloc(n, sizeof *g->succ);
        if (!g->late || !g->pred || !g->succ)
            abort();
        g->caplate = n;
    }
    for (size_t i = 0; i < g->nst; i++)
        for (size_t k = 0; k < g->st[i].n && g->st[i].s[k]->seq <= g->st[i].last_seq; k++)
            g->late[g->nlate++] = g->st[i].s[k];
    return ing_sql_neighbours(g);
}

/* Reads the open month (under the lock when inside the transaction). */
static int read_open_month(ing *g)
{
    PGresult *r = st_db_q0(g->db, "SELECT issued_through FROM billing.state");
    if (!r)
        return -1;
    int64_t m = 0;
    if (PQntuples(r) == 1 && st_db_val(r, 0, 0) && bl_pg_time(st_db_val(r, 0, 0), &m) == 0)
        m = bl_month_add(m, 1);
    else
        m = 0;
    PQclear(r);
    g->open_month = m;
    return 0;
}

/* One attempt at the transaction. Returns 0, or -1 with the db error set. */
static int attempt(ing *g, bl_ingest_result *res)
{
    g->accepted = g->dups = g->stale = 0;
    g->nins = 0;
    g->nprow = 0;
    rollmap_clear(&g->roll);
    if (st_db_begin(g->db) < 0)
        return -1;
    PGresult *r = st_db_q0(g->db, "SELECT pg_advisory_xact_lock_shared(" BL_LOCK_ISSUE ")");
    if (!r)
        return -1;
    PQclear(r);
    if (read_open_month(g) < 0)
        return -1;
    char n[16];
    snprintf(n, sizeof n, "%zu", g->b->n);
    r = st_db_q(g->db,
                "INSERT INTO billing.batches (node, batch_id, samples, accepted, duplicates, stale)"
                " VALUES ($1, $2, $3, 0, 0, 0) ON CONFLICT DO NOTHING RETURNING 1",
                g->node, g->b->batch_id, n);
    if (!r)
        return -1;
    int claimed = PQntuples(r) == 1;
    PQclear(r);
    if (!claimed) {
        r = st_db_q(g->db,
                    "SELECT samples, accepted, duplicates, stale FROM billing.batches"
                    " WHERE node = $1 AND batch_id = $2",
                    g->node, g->b->batch_id);
        if (!r)
            return -1;
        *res = (bl_ingest_result){(int)st_db_int(r, 0, 0), (int)st_db_int(r, 0, 1),
                                  (int)st_db_int(r, 0, 2), (int)st_db_int(r, 0, 3), 1};
        PQclear(r);
        return st_db_commit(g->db);
    }
    if (g->nst && (ing_sql_load_heads(g) < 0 || load_late_neighbours(g) < 0))
        return -1;
    for (size_t i = 0; i < g->nst; i++)
        apply_stream(g, &g->st[i]);
    if (ing_sql_insert_samples(g, g->ins, g->nins) < 0 || ing_sql_update_heads(g) < 0 ||
        ing_sql_write_rollups(g) < 0 || ing_sql_write_ports(g) < 0 ||
        ing_sql_write_storage(g) < 0 || ing_sql_write_disks(g) < 0)
        return -1;
    g->accepted += (int)g->nstor;
    res->samples = (int)g->b->n;
    res->accepted = g->accepted;
    res->duplicates = g->dups + g->pre_dups;
    res->stale = g->stale + g->pre_stale;
    res->replayed = 0;
    char a[16], d[16], s[16];
    snprintf(a, sizeof a, "%d", res->accepted);
    snprintf(d, sizeof d, "%d", res->duplicates);
    snprintf(s, sizeof s, "%d", res->stale);
    if (st_db_x(g->db,
                "UPDATE billing.batches SET accepted = $3, duplicates = $4, stale = $5"
                " WHERE node = $1 AND batch_id = $2",
                g->node, g->b->batch_id, a, d, s) < 0)
        return -1;
    return st_db_commit(g->db);
}

/* Partitions for every month the batch may write, made outside the transaction. */
static int ensure_months(ing *g)
{
    size_t n = g->nv + g->nstor + 1;
    int64_t *t = malloc(n * sizeof *t);
    if (!t)
        abort();
    size_t k = 0;
    for (size_t i = 0; i < g->nv; i++)
        t[k++] = g->v[i]->at_us;
    for (size_t i = 0; i < g->nstor; i++)
        t[k++] = g->stor[i]->at_us;
    if (g->open_month)
        t[k++] = g->open_month;
    int rc = bl_partitions_ensure(g->ctx->pool, t, (int)k);
    free(t);
    return rc;
}

int bl_ingest(bl_ctx *ctx, const char *node, bl_batch *b, bl_ingest_result *res, char *err,
              size_t errlen)
{
    ing g;
    memset(&g, 0, sizeof g);
    g.ctx = ctx;
    g.node = node;
    g.b = b;
    int status = prepare(&g, err, errlen);
    if (status)
        goto out;
    status = 503;
    g.db = st_db_get(ctx->pool, 5000);
    if (!g.db) {
        snprintf(err, errlen, "database unavailable: %s", st_db_pool_error(ctx->pool));
        goto out;
    }
    if (read_open_month(&g) < 0 || ensure_months(&g) < 0) {
        snprintf(err, errlen, "database error preparing partitions");
        goto out;
    }
    rollmap_init(&g.roll, g.nv * 2 + 16);
    g.ins = malloc((g.nv ? g.nv : 1) * sizeof *g.ins);
    if (!g.ins)
        abort();
    for (int tries = 0;; tries++) {
        if (attempt(&g, res) == 0) {
            status = 200;
            break;
        }
        int missing = g.missing_partition;
        int retry = (st_db_retryable(g.db) || missing) && tries < 5;
        st_log(retry ? ST_LOG_WARN : ST_LOG_ERROR, "billing.ingest", "batch %s: %s%s", b->batch_id,
               missing ? "a samples partition was missing" : st_db_error(g.db),
               retry ? " (retrying)" : "");
        st_db_rollback(g.db);
        if (missing) {
            /* Someone dropped a partition this process thought it had made. */
            bl_partitions_forget();
            g.missing_partition = 0;
            if (ensure_months(&g) < 0)
                retry = 0;
        }
        if (!retry) {
            snprintf(err, errlen, "database error; the batch was not applied, retry it");
            break;
        }
    }
out:
    if (g.db)
        st_db_put(g.db);
    rollmap_free(&g.roll);
    for (size_t i = 0; g.st && i < g.nst; i++)
        ing_ports_free(&g.st[i].ports);
    free_neighbours(&g);
    free(g.prow);
    free(g.v);
    free(g.stor);
    free(g.st);
    free(g.ins);
    return status;
}

static st_metric *batches(const char *labels)
{
    return st_counter("stratus_billing_batches_total", "Ingest batches by result.", labels);
}

static st_metric *samples(const char *labels)
{
    return st_counter("stratus_billing_samples_total", "Samples received, by outcome.", labels);
}

static st_metric *lag(void)
{
    return st_gauge("stratus_billing_ingest_lag_seconds",
                    "Age of the newest sample of the last batch applied, when it was applied.", "");
}

void bl_ingest_metrics(void)
{
    static const char *const results[] = {"applied", "replayed", "rejected", "refused", "failed"};
    static const char *const outcomes[] = {"accepted", "duplicate", "stale"};
    char l[64];
    for (size_t i = 0; i < sizeof results / sizeof *results; i++) {
        snprintf(l, sizeof l, "result=\"%s\"", results[i]);
        batches(l);
    }
    for (size_t i = 0; i < sizeof outcomes / sizeof *outcomes; i++) {
        snprintf(l, sizeof l, "outcome=\"%s\"", outcomes[i]);
        samples(l);
    }
    lag();
}

void bl_ingest_handler(st_call *c)
{
    bl_ctx *ctx = c->svc;
    st_http_req *req = c->req;
    const bl_sender *who = &((bl_who *)c->who)->sender;
    const char *ct = st_http_header(req, "Content-Type");
    if (ct && strncasecmp(ct, "application/json", 16) != 0) {
        st_http_reply_error(req, 415, ST_E_UNSUPPORTED_MEDIA_TYPE,
                            "Content-Type must be application/json");
        return;
    }
    size_t len;
    const char *body = st_http_body(req, &len);
    bl_batch b;
    char err[256];
    int rc = bl_batch_parse(body, len, &b, err, sizeof err);
    if (rc != BL_OK) {
        st_metric_add(batches("result=\"rejected\""), 1);
        st_http_reply_error(req, rc == BL_ESYNTAX ? 400 : 422,
                            rc == BL_ESYNTAX ? ST_E_INVALID_JSON : ST_E_INVALID_BATCH, "%s", err);
        return;
    }
    /* a node posts only for instances placed on it (nodes.c) */
    if (bl_sender_may_post(req, ctx, c->db, who, &b) < 0) {
        st_metric_add(batches("result=\"refused\""), 1);
        bl_batch_free(&b);
        return;
    }
    /* bl_ingest takes its own connection and retries on it */
    st_call_release_db(c);
    bl_ingest_result res = {0};
    int status = bl_ingest(ctx, who->key, &b, &res, err, sizeof err);
    int64_t newest = 0;
    for (size_t i = 0; i < b.n; i++)
        if (b.s[i].at_us > newest)
            newest = b.s[i].at_us;
    bl_batch_free(&b);
    if (status != 200) {
        st_metric_add(batches(status == 422 ? "result=\"rejected\"" : "result=\"failed\""), 1);
        st_http_reply_error(req, status, status == 422 ? ST_E_INVALID_BATCH : ST_E_UNAVAILABLE,
                            "%s", err);
        return;
    }
    st_metric_add(batches(res.replayed ? "result=\"replayed\"" : "result=\"applied\""), 1);
    if (!res.replayed) {
        if (newest > 0)
            st_metric_set(lag(), (double)(st_now_us() - newest) / 1e6);
        st_metric_add(samples("outcome=\"accepted\""), res.accepted);
        st_metric_add(samples("outcome=\"duplicate\""), res.duplicates);
        st_metric_add(samples("outcome=\"stale\""), res.stale);
    }
    st_http_reply_json(req, 200,
                       json_pack("{s:s, s:i, s:i, s:i, s:i, s:b}", "batch_id", b.batch_id,
                                 "samples", res.samples, "accepted", res.accepted, "duplicates",
                                 res.duplicates, "stale", res.stale, "replayed", res.replayed));
}
