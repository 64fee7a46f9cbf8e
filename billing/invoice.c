/*
 * invoice.c - drafts, issuing a month, and the invoice API.
 *
 * A tenant has one invoice per period (month) in which it has usage. While
 * the period is open the invoice is a draft, rated live from the rollups on
 * every request. Issuing a month (admin, POST /v1/billing/periods/{m}/issue)
 * is two steps (migration 0003): a short transaction under BL_LOCK_ISSUE
 * exclusive - ingest and plan changes hold it shared, so none is half done -
 * moves issued_through to the month, after which ingest bills late usage of
 * it in the next open period, so its rows are frozen; it also queues the
 * tenants with usage. Then each tenant's invoice is rated, numbered from
 * billing.state.next_invoice_number (row locked: gapless), rendered in the
 * four formats and stored in billing.invoices, whose trigger refuses any
 * later UPDATE or DELETE - one transaction per tenant, ingest running on.
 * A crash between tenants is finished by issuing again or by maintenance.
 *
 * Invoice ids are derived from (tenant, period) (rating.c), so a draft's id
 * stays its id once issued. A tenant only ever finds its own invoices:
 * every lookup is scoped by tenant and a foreign id answers 404.
 */
#include "billing.h"
#include "rating.h"
#include "render.h"

#include "stratus/crypto.h"
#include "stratus/log.h"
#include "stratus/metrics.h"
#include "stratus/timefmt.h"
#include "stratus/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DRAFTS 120
/* The printed number; invoices issued before migration 0007 used INV-%06d. */
#define NUMBER_TEXT "coalesce(number_text, 'INV-' || lpad(number::text, 6, '0'))"

static int read_state(st_db *db, int64_t *through, int64_t *next, int for_update)
{
    PGresult *r =
        for_update ? st_db_q0(db, "SELECT issued_through, next_invoice_number FROM billing.state"
                                  " FOR UPDATE")
                   : st_db_q0(db, "SELECT issued_through, next_invoice_number FROM billing.state");
    if (!r)
        return -1;
    *through = 0;
    if (st_db_val(r, 0, 0))
        bl_pg_time(st_db_val(r, 0, 0), through);
    if (next)
        *next = st_db_int(r, 0, 1);
    PQclear(r);
    return 0;
}

/*
 * Open periods in which the tenant has usage, oldest first. Returns the
 * count or -1. Every hourly row has a daily row (ingest writes both), so the
 * small daily table answers; one index probe per candidate month.
 */
static int draft_periods(st_db *db, const char *tenant, int64_t *out, int max)
{
    int64_t through;
    if (read_state(db, &through, NULL, 0) < 0)
        return -1;
    PGresult *r = st_db_q(db,
                          "SELECT least((SELECT min(period) FROM billing.usage_daily"
                          "  WHERE tenant_id = $1), (SELECT min(period) FROM billing.storage_hourly"
                          "  WHERE tenant_id = $1))",
                          tenant);
    if (!r)
        return -1;
    int64_t lo = 0;
    int has = st_db_val(r, 0, 0) && bl_pg_time(st_db_val(r, 0, 0), &lo) == 0;
    PQclear(r);
    if (!has) /* floating IPs alone: the open months up to this one */
        lo = through ? bl_month_add(through, 1) : bl_month_floor(st_now_us());
    if (through && lo <= through)
        lo = bl_month_add(through, 1);
    int64_t hi = bl_month_add(bl_month_floor(st_now_us()), 1);
    int n = 0;
    for (int64_t m = lo; m <= hi && n < max; m = bl_month_add(m, 1)) {
        char p[11];
        bl_date_format(m, p);
        r = st_db_q(db,
                    "SELECT EXISTS (SELECT 1 FROM billing.usage_daily"
                    "  WHERE tenant_id = $1 AND period = $2)"
                    " OR EXISTS (SELECT 1 FROM billing.storage_hourly"
                    "  WHERE tenant_id = $1 AND period = $2)"
                    " OR EXISTS (SELECT 1 FROM billing.disk_hourly"
                    "  WHERE tenant_id = $1 AND period = $2)"
                    " OR $1::uuid IN (SELECT billing.floating_ip_tenants($2::date))",
                    tenant, p);
        if (!r)
            return -1;
        if (strcmp(PQgetvalue(r, 0, 0), "t") == 0)
            out[n++] = m;
        PQclear(r);
    }
    return n;
}

/* A draft is rated in a transaction of its own (room for the aggregate; rating.c). */
static int rate_draft(st_db *db, bl_ctx *ctx, const char *tenant, int64_t period, bl_invoice *inv)
{
    if (st_db_begin(db) < 0)
        return -1;
    if (bl_rate(db, ctx, tenant, period, inv) < 0) {
        st_db_rollback(db);
        return -1;
    }
    if (st_db_commit(db) < 0) {
        bl_invoice_free(inv);
        return -1;
    }
    return 0;
}

static json_t *summary(const char *id, int64_t number, const char *number_text, const char *status,
                       int64_t period, const char *currency, int64_t total, const char *total_text,
                       const char *issued_at)
{
    char m[8];
    bl_month_format(period, m);
    return json_pack("{s:s, s:o, s:s, s:s, s:s, s:s, s:I, s:s, s:s?}", "id", id, "number",
                     number ? json_integer(number) : json_null(), "number_text",
                     number ? number_text : "DRAFT", "status", status, "period", m, "currency",
                     currency, "total_micro", (json_int_t)total, "total", total_text, "issued_at",
                     issued_at);
}

static void h_list(st_call *call)
{
    st_http_req *req = call->req;
    bl_ctx *ctx = call->svc;
    const bl_who *who = call->who;
    const char *tenant = who->tenant;
    st_db *db = call->db;
    json_t *items = json_array();
    PGresult *r = st_db_q(db,
                          "SELECT id, number, period, currency, total_micro, issued_at,"
                          " " NUMBER_TEXT ", (SELECT coalesce(sum(c.total_micro), 0)"
                          "  FROM billing.credit_notes c WHERE c.invoice_id = i.id)"
                          " FROM billing.invoices i WHERE tenant_id = $1"
                          " ORDER BY period",
                          tenant);
    if (!r)
        goto dberr;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t period;
        char when[ST_TIME_LEN], total[48];
        bl_pg_time(PQgetvalue(r, i, 2), &period);
        st_time_from_pg(PQgetvalue(r, i, 5), when);
        bl_invoice tmp = {.round_micro = ctx->round_micro};
        bl_amount_text(&tmp, st_db_int(r, i, 4), total, sizeof total);
        json_t *o = summary(PQgetvalue(r, i, 0), st_db_int(r, i, 1), PQgetvalue(r, i, 6), "issued",
                            period, PQgetvalue(r, i, 3), st_db_int(r, i, 4), total, when);
        /* what credit notes gave back, and what is left to pay */
        json_object_set_new(o, "credited_micro", json_integer(st_db_int(r, i, 7)));
        json_object_set_new(o, "balance_micro",
                            json_integer(st_db_int(r, i, 4) - st_db_int(r, i, 7)));
        json_array_append_new(items, o);
    }
    PQclear(r);
    int64_t drafts[MAX_DRAFTS];
    int nd = draft_periods(db, tenant, drafts, MAX_DRAFTS);
    if (nd < 0)
        goto dberr;
    for (int i = 0; i < nd; i++) {
        bl_invoice inv;
        if (rate_draft(db, ctx, tenant, drafts[i], &inv) < 0)
            goto dberr;
        char total[48];
        bl_amount_text(&inv, inv.total, total, sizeof total);
        json_t *o =
            summary(inv.id, 0, NULL, "draft", inv.period, inv.currency, inv.total, total, NULL);
        /* a draft with usage no plan prices says so, rather than looking free */
        json_object_set_new(o, "no_plan", json_boolean(inv.no_plan > 0));
        json_array_append_new(items, o);
        bl_invoice_free(&inv);
    }
    st_http_reply_json(req, 200, json_pack("{s:s, s:o}", "tenant_id", tenant, "invoices", items));
    return;
dberr:
    json_decref(items);
    bl_reply_db(req, db, "invoices");
}

/* ?format= wins over Accept; JSON by default. -1 (replied 400) for an unknown format. */
static int pick_format(st_http_req *req)
{
    const char *f = st_http_query(req, "format");
    if (f) {
        for (int i = 0; i < BL_NFMT; i++)
            if (strcmp(f, bl_format_names[i]) == 0)
                return i;
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST,
                            "format must be json, csv, html, pdf or ubl");
        return -1;
    }
    const char *a = st_http_header(req, "Accept");
    if (a && strstr(a, "application/pdf"))
        return BL_FMT_PDF;
    if (a && strstr(a, "text/csv"))
        return BL_FMT_CSV;
    if (a && strstr(a, "text/html"))
        return BL_FMT_HTML;
    return BL_FMT_JSON;
}

static void send_doc(st_http_req *req, int fmt, const void *buf, size_t len, int issued,
                     const char *name, int download)
{
    char sha[65], etag[72], disp[160];
    st_sha256_hex(buf, len, sha);
    snprintf(etag, sizeof etag, "\"%s\"", sha);
    st_http_add_header(req, "ETag", etag);
    st_http_add_header(req, "Cache-Control",
                       issued ? "private, max-age=86400" : "private, no-cache");
    if (download) {
        snprintf(disp, sizeof disp, "attachment; filename=\"%s.%s\"", name, bl_format_names[fmt]);
        st_http_add_header(req, "Content-Disposition", disp);
    }
    st_http_reply_raw(req, 200, bl_format_types[fmt], buf, len);
}

/* An issued invoice's UBL from its stored JSON (render_ubl.c). */
static void send_ubl(st_http_req *req, const char *doc_json, const char *name, int download)
{
    json_t *doc = json_loads(doc_json, 0, NULL);
    size_t n = 0;
    char *xml = doc ? bl_render_ubl_invoice(doc, &n) : NULL;
    json_decref(doc);
    if (!xml) {
        st_http_reply_error(req, 500, ST_E_INTERNAL, "rendering failed");
        return;
    }
    char sha[65], etag[72], disp[160];
    st_sha256_hex(xml, n, sha);
    snprintf(etag, sizeof etag, "\"%s\"", sha);
    st_http_add_header(req, "ETag", etag);
    st_http_add_header(req, "Cache-Control", "private, max-age=86400");
    if (download) {
        snprintf(disp, sizeof disp, "attachment; filename=\"%s.xml\"", name);
        st_http_add_header(req, "Content-Disposition", disp);
    }
    st_http_reply_raw(req, 200, BL_UBL_TYPE, xml, n);
    free(xml);
}

static const char *const doc_sql[BL_NFMT] = {
    "SELECT doc_json, " NUMBER_TEXT ", tenant_id, period FROM billing.invoices"
    " WHERE id = $1 AND ($2::uuid IS NULL OR tenant_id = $2::uuid)",
    "SELECT doc_csv, " NUMBER_TEXT ", tenant_id, period FROM billing.invoices"
    " WHERE id = $1 AND ($2::uuid IS NULL OR tenant_id = $2::uuid)",
    "SELECT doc_html, " NUMBER_TEXT ", tenant_id, period FROM billing.invoices"
    " WHERE id = $1 AND ($2::uuid IS NULL OR tenant_id = $2::uuid)",
    "SELECT doc_pdf, " NUMBER_TEXT ", tenant_id, period FROM billing.invoices"
    " WHERE id = $1 AND ($2::uuid IS NULL OR tenant_id = $2::uuid)",
};

/* BL_ANY_TENANT: a cloud admin may look up any invoice (tenant ""),
 * everyone else only their tenant's. */
static void show(st_call *call, int download)
{
    st_http_req *req = call->req;
    bl_ctx *ctx = call->svc;
    const char *tenant = ((const bl_who *)call->who)->tenant;
    const char *id = st_http_param(req, "id");
    /* UBL (e-invoicing) is drawn from the stored JSON of an issued invoice */
    const char *qf = st_http_query(req, "format");
    int ubl = qf && strcmp(qf, "ubl") == 0;
    int fmt = ubl ? BL_FMT_JSON : pick_format(req);
    if (fmt < 0)
        return;
    if (!st_uuid_valid(id)) {
        st_http_reply_error(req, 404, ST_E_NOT_FOUND, "no such invoice");
        return;
    }
    char lid[37];
    for (int i = 0; i < 36; i++)
        lid[i] = (char)(id[i] >= 'A' && id[i] <= 'F' ? id[i] + 32 : id[i]);
    lid[36] = 0;
    st_db *db = call->db;
    PGresult *r = st_db_q(db, doc_sql[fmt], lid, tenant[0] ? tenant : NULL);
    if (!r)
        goto dberr;
    if (PQntuples(r) == 1) {
        char name[64];
        /* the printed number, made safe for a file name */
        snprintf(name, sizeof name, "invoice-%s", PQgetvalue(r, 0, 1));
        for (char *c = name; *c; c++)
            if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
                  (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.'))
                *c = '_';
        if (ubl) {
            send_ubl(req, PQgetvalue(r, 0, 0), name, download);
        } else if (fmt == BL_FMT_PDF) {
            size_t n;
            unsigned char *pdf = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 0), &n);
            send_doc(req, fmt, pdf, n, 1, name, download);
            PQfreemem(pdf);
        } else {
            send_doc(req, fmt, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0), 1, name,
                     download);
        }
        PQclear(r);
        return;
    }
    PQclear(r);
    if (tenant[0]) {
        int64_t drafts[MAX_DRAFTS];
        int nd = draft_periods(db, tenant, drafts, MAX_DRAFTS);
        if (nd < 0)
            goto dberr;
        for (int i = 0; i < nd; i++) {
            char did[37];
            bl_invoice_id(tenant, drafts[i], did);
            if (strcmp(did, lid) != 0)
                continue;
            if (ubl) {
                st_http_reply_error(req, 409, ST_E_CONFLICT,
                                    "a draft has no UBL form: only issued invoices are e-invoices");
                return;
            }
            bl_invoice inv;
            if (rate_draft(db, ctx, tenant, drafts[i], &inv) < 0)
                goto dberr;
            size_t len;
            void *doc = bl_render(&inv, (bl_format)fmt, &len);
            char name[64], m[8];
            bl_month_format(inv.period, m);
            snprintf(name, sizeof name, "invoice-draft-%s", m);
            if (doc)
                send_doc(req, fmt, doc, len, 0, name, download);
            else
                st_http_reply_error(req, 500, ST_E_INTERNAL, "rendering failed");
            free(doc);
            bl_invoice_free(&inv);
            return;
        }
    }
    st_http_reply_error(req, 404, ST_E_NOT_FOUND, "no such invoice");
    return;
dberr:
    bl_reply_db(req, db, "invoice");
}

static void h_show(st_call *call)
{
    show(call, 0);
}
static void h_download(st_call *call)
{
    show(call, 1);
}

static char *bytea_hex(const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char *s = malloc(2 * n + 3);
    if (!s)
        abort();
    s[0] = '\\';
    s[1] = 'x';
    for (size_t i = 0; i < n; i++) {
        s[2 + 2 * i] = hex[p[i] >> 4];
        s[3 + 2 * i] = hex[p[i] & 15];
    }
    s[2 + 2 * n] = 0;
    return s;
}

/* Rates, renders and stores one tenant's issued invoice. */
static int issue_one(st_db *db, bl_ctx *ctx, const char *tenant, int64_t period, int64_t number,
                     int64_t at, int64_t *total)
{
    bl_invoice inv;
    if (bl_rate(db, ctx, tenant, period, &inv) < 0)
        return -1;
    inv.issued = 1;
    inv.number = number;
    inv.issued_at = inv.generated_at = at;
    if (bl_number_text(ctx->number_format, number, at, period, inv.number_text,
                       sizeof inv.number_text) < 0) {
        bl_invoice_free(&inv);
        return -1;
    }
    size_t jl, cl, hl, pl;
    char *json = bl_render_json(&inv, &jl), *csv = bl_render_csv(&inv, &cl);
    char *html = bl_render_html(&inv, &hl);
    unsigned char *pdf = bl_render_pdf(&inv, &pl);
    int rc = -1;
    if (json && csv && html && pdf) {
        char sha[65], num[24], tot[24], when[ST_TIME_LEN], p[11];
        st_sha256_hex(json, jl, sha);
        snprintf(num, sizeof num, "%lld", (long long)number);
        snprintf(tot, sizeof tot, "%lld", (long long)inv.total);
        st_time_format_us(at, when);
        bl_date_format(period, p);
        char *hex = bytea_hex(pdf, pl);
        const char *params[] = {inv.id, tenant, p,    num, when, inv.currency,   tot,
                                json,   csv,    html, hex, sha,  inv.number_text};
        rc = st_db_exec(db,
                        "INSERT INTO billing.invoices (id, tenant_id, period, number, issued_at,"
                        " currency, total_micro, doc_json, doc_csv, doc_html, doc_pdf, sha256,"
                        " number_text)"
                        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                        13, params) < 0
                 ? -1
                 : 0;
        free(hex);
        *total += inv.total;
    } else {
        st_error("billing.issue", "rendering the invoice of tenant %s failed", tenant);
    }
    free(json);
    free(csv);
    free(html);
    free(pdf);
    bl_invoice_free(&inv);
    return rc;
}

/*
 * Step 2 of issuing: one tenant per transaction until the month's queue is
 * empty. Returns the number issued now, or -1 (db error; what is done stays
 * done and the rest is issued by the next call).
 */
static st_metric *issued_counter(void)
{
    return st_counter("stratus_billing_invoices_issued_total", "Invoices issued.", "");
}

void bl_invoice_metrics(void)
{
    issued_counter();
}

int bl_issue_drain(bl_ctx *ctx, st_db *db, int64_t period)
{
    char p[11];
    bl_date_format(period, p);
    int done = 0;
    for (;;) {
        PGresult *r = NULL;
        if (st_db_begin(db) < 0 || !(r = st_db_q(db,
                                                 "SELECT q.tenant_id, "
                                                 "(extract(epoch FROM s.issue_started_at)"
                                                 " * 1000000)::bigint, s.next_invoice_number"
                                                 " FROM billing.issue_queue q, billing.state s"
                                                 " WHERE q.period = $1 ORDER BY q.tenant_id LIMIT 1"
                                                 " FOR UPDATE OF s",
                                                 p)))
            goto fail;
        if (PQntuples(r) == 0) {
            PQclear(r);
            st_db_commit(db);
            return done;
        }
        char tenant[37], nx[24];
        snprintf(tenant, sizeof tenant, "%s", PQgetvalue(r, 0, 0));
        int64_t at = st_db_int(r, 0, 1), number = st_db_int(r, 0, 2), total = 0;
        PQclear(r);
        snprintf(nx, sizeof nx, "%lld", (long long)(number + 1));
        if (issue_one(db, ctx, tenant, period, number, at, &total) < 0 ||
            st_db_x(db, "UPDATE billing.state SET next_invoice_number = $1", nx) < 0 ||
            st_db_x(db, "DELETE FROM billing.issue_queue WHERE period = $1 AND tenant_id = $2", p,
                    tenant) < 0 ||
            st_db_commit(db) < 0)
            goto fail;
        st_metric_add(issued_counter(), 1);
        done++;
        continue;
    fail:
        st_error("billing.issue", "issuing %s: %s", p, st_db_error(db));
        st_db_rollback(db);
        return -1;
    }
}

int bl_issue_resume(bl_ctx *ctx)
{
    st_db *db = st_db_get(ctx->pool, 5000);
    if (!db)
        return -1;
    PGresult *r = st_db_q0(db, "SELECT DISTINCT period FROM billing.issue_queue ORDER BY 1");
    int rc = r ? 0 : -1;
    for (int i = 0; r && i < PQntuples(r) && rc == 0; i++) {
        int64_t period;
        if (bl_pg_time(PQgetvalue(r, i, 0), &period) == 0 && bl_issue_drain(ctx, db, period) < 0)
            rc = -1;
    }
    PQclear(r);
    st_db_put(db);
    return rc;
}

/*
 * Step 1: under the issue lock (exclusive: no ingest or plan change is half
 * done), check the month may be issued, move issued_through to it - which
 * freezes its rows - and queue its tenants. Returns 0, 1 when the month was
 * already issued with nothing left to do, or -1 with a reply sent.
 */
/* The earliest month before period, after through, that has usage (it must
 * be issued first): "YYYY-MM" into out, "" when none. -1 on a db error. */
static int earlier_unissued(st_db *db, int64_t period, int64_t through, char out[8])
{
    char p[11], thr[11];
    bl_date_format(period, p);
    bl_date_format(through, thr);
    PGresult *r = st_db_q(db,
                          "SELECT to_char(least("
                          " (SELECT min(period) FROM billing.usage_daily WHERE period < $1"
                          "  AND ($2::date IS NULL OR period > $2::date)),"
                          " (SELECT min(period) FROM billing.storage_hourly WHERE period < $1"
                          "  AND ($2::date IS NULL OR period > $2::date))), 'YYYY-MM')",
                          p, through ? thr : NULL);
    if (!r)
        return -1;
    snprintf(out, 8, "%s", st_db_val(r, 0, 0) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return 0;
}

/* The tenants with usage billed in the period, in issue (number) order. */
#define PERIOD_TENANTS_SQL                                                                         \
    "SELECT tenant_id FROM billing.usage_daily WHERE period = $1::date"                            \
    " UNION SELECT tenant_id FROM billing.storage_hourly WHERE period = $1::date"                  \
    " UNION SELECT tenant_id FROM billing.disk_hourly WHERE period = $1::date"                     \
    " UNION SELECT billing.floating_ip_tenants($1::date) ORDER BY 1"

static int issue_begin(st_http_req *req, st_db *db, int64_t period, int confirm_empty)
{
    char p[11], m[8];
    bl_date_format(period, p);
    bl_month_format(period, m);
    int64_t through, next;
    PGresult *r = NULL;
    if (st_db_begin(db) < 0 ||
        !(r = st_db_q0(db, "SELECT pg_advisory_xact_lock(" BL_LOCK_ISSUE ")")))
        goto dberr;
    PQclear(r);
    r = NULL;
    if (read_state(db, &through, &next, 1) < 0)
        goto dberr;
    if (!(r = st_db_q0(db, "SELECT to_char(min(period), 'YYYY-MM') FROM billing.issue_queue")))
        goto dberr;
    const char *pending = st_db_val(r, 0, 0);
    if (pending && strcmp(pending, m) != 0) {
        st_db_rollback(db);
        st_http_reply_error(req, 409, ST_E_CONFLICT,
                            "%s is still being issued: issue it again first", pending);
        goto fail;
    }
    int resume = pending != NULL;
    PQclear(r);
    r = NULL;
    if (resume) {
        st_db_rollback(db);
        return 0;
    }
    if (through && through >= period) {
        char t[8];
        bl_month_format(through, t);
        st_db_rollback(db);
        st_http_reply_error(req, 409, ST_E_ALREADY_ISSUED, "%s is issued (issued through %s)", m,
                            t);
        goto fail;
    }
    char first[8];
    if (earlier_unissued(db, period, through, first) < 0)
        goto dberr;
    if (first[0]) {
        st_db_rollback(db);
        st_http_reply_error(req, 409, ST_E_CONFLICT,
                            "%s has usage and is not issued: issue it first", first);
        goto fail;
    }
    /* A month with no usage closes for good: only on explicit confirmation. */
    if (!confirm_empty) {
        if (!(r = st_db_q(db, "SELECT count(*) FROM (" PERIOD_TENANTS_SQL ") t", p)))
            goto dberr;
        long long n = st_db_int(r, 0, 0);
        PQclear(r);
        r = NULL;
        if (n == 0) {
            st_db_rollback(db);
            st_http_reply_error(req, 409, ST_E_EMPTY_MONTH,
                                "%s has no usage: issuing closes it for good (late usage then "
                                "goes to the next month); repeat with ?confirm_empty=true",
                                m);
            goto fail;
        }
    }
    if (st_db_x(db,
                "INSERT INTO billing.issue_queue (period, tenant_id)"
                " SELECT $1::date, tenant_id FROM billing.usage_daily WHERE period = $1::date"
                " UNION SELECT $1::date, tenant_id FROM billing.storage_hourly"
                " WHERE period = $1::date"
                " UNION SELECT $1::date, tenant_id FROM billing.disk_hourly WHERE period = $1::date"
                " UNION SELECT $1::date, billing.floating_ip_tenants($1::date)",
                p) < 0 ||
        st_db_x(db, "UPDATE billing.state SET issued_through = $1, issue_started_at = now()", p) <
            0 ||
        st_db_commit(db) < 0)
        goto dberr;
    return 0;
dberr:
    PQclear(r);
    bl_reply_db(req, db, "issue");
    st_db_rollback(db);
    return -1;
fail:
    PQclear(r);
    return -1;
}

static void h_issue(st_call *call)
{
    st_http_req *req = call->req;
    bl_ctx *ctx = call->svc;
    int64_t period;
    if (bl_month_parse(st_http_param(req, "period"), &period) < 0) {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST, "the period must be YYYY-MM");
        return;
    }
    int64_t next_month = bl_month_add(period, 1);
    if (next_month > st_now_us()) {
        st_http_reply_error(req, 409, ST_E_CONFLICT, "that month has not ended yet");
        return;
    }
    /* Late usage of this month will be billed in the next one: give it a partition. */
    if (bl_partitions_ensure(ctx->pool, &next_month, 1) < 0) {
        st_http_reply_error(req, 503, ST_E_UNAVAILABLE, "database unavailable");
        return;
    }
    st_db *db = call->db;
    const char *ce = st_http_query(req, "confirm_empty");
    if (issue_begin(req, db, period, ce && strcmp(ce, "true") == 0) < 0)
        goto out;
    if (bl_issue_drain(ctx, db, period) < 0) {
        bl_reply_db(req, db, "issue");
        goto out;
    }
    char p[11], m[8];
    bl_date_format(period, p);
    bl_month_format(period, m);
    PGresult *r = st_db_q(db,
                          "SELECT count(*), min(number), max(number), coalesce(sum(total_micro), 0)"
                          " FROM billing.invoices WHERE period = $1",
                          p);
    if (!r) {
        bl_reply_db(req, db, "issue");
        goto out;
    }
    long long n = st_db_int(r, 0, 0);
    st_info("billing.issue", "issued %s: %lld invoice(s), numbers %s to %s", m, n,
            n ? PQgetvalue(r, 0, 1) : "-", n ? PQgetvalue(r, 0, 2) : "-");
    st_http_reply_json(req, 201,
                       json_pack("{s:s, s:I, s:o, s:o, s:I}", "period", m, "invoices",
                                 (json_int_t)n, "first_number",
                                 n ? json_integer(st_db_int(r, 0, 1)) : json_null(), "last_number",
                                 n ? json_integer(st_db_int(r, 0, 2)) : json_null(), "total_micro",
                                 (json_int_t)st_db_int(r, 0, 3)));
    PQclear(r);
out:
    return;
}

/*
 * GET /v1/billing/periods/{m}/preview: what issuing the month now would
 * produce - each tenant's invoice rated exactly as issuing rates it, the
 * numbers it would take (issue order is by tenant id), and whether it may be
 * issued (ended, earlier months issued) or needs confirm_empty. Nothing is
 * stored or numbered.
 */
#define PREVIEW_MAX 10000
static void h_preview(st_call *call)
{
    st_http_req *req = call->req;
    bl_ctx *ctx = call->svc;
    int64_t period;
    if (bl_month_parse(st_http_param(req, "period"), &period) < 0) {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST, "the period must be YYYY-MM");
        return;
    }
    st_db *db = call->db;
    char p[11], m[8], first[8];
    bl_date_format(period, p);
    bl_month_format(period, m);
    int64_t through, next;
    PGresult *r = NULL;
    if (read_state(db, &through, &next, 0) < 0)
        goto dberr;
    if (through && through >= period) {
        st_http_reply_error(req, 409, ST_E_ALREADY_ISSUED, "%s is issued", m);
        return;
    }
    if (earlier_unissued(db, period, through, first) < 0 ||
        !(r = st_db_q(db, PERIOD_TENANTS_SQL, p)))
        goto dberr;
    int ended = bl_month_add(period, 1) <= st_now_us();
    const char *why = !ended     ? "the month has not ended"
                      : first[0] ? "an earlier month with "
                                   "usage is not issued"
                                 : NULL;
    json_t *items = json_array();
    int64_t net = 0, tax = 0, total = 0, at = st_now_us();
    int n = PQntuples(r) < PREVIEW_MAX ? PQntuples(r) : PREVIEW_MAX;
    for (int i = 0; i < n; i++) {
        bl_invoice inv;
        if (rate_draft(db, ctx, PQgetvalue(r, i, 0), period, &inv) < 0) {
            json_decref(items);
            goto dberr;
        }
        char num[BL_NUMBER_TEXT_MAX];
        if (bl_number_text(ctx->number_format, next + i, at, period, num, sizeof num) < 0)
            snprintf(num, sizeof num, "?");
        json_array_append_new(
            items, json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:b}", "tenant_id",
                             inv.tenant, "invoice_id", inv.id, "number", (json_int_t)(next + i),
                             "number_text", num, "lines", (json_int_t)inv.n, "net_micro",
                             (json_int_t)inv.net, "tax_micro", (json_int_t)inv.tax_total,
                             "total_micro", (json_int_t)inv.total, "no_plan", inv.no_plan > 0));
        net += inv.net;
        tax += inv.tax_total;
        total += inv.total;
        bl_invoice_free(&inv);
    }
    int truncated = PQntuples(r) > n;
    PQclear(r);
    json_t *o =
        json_pack("{s:s, s:b, s:b, s:s?, s:b, s:I, s:o, s:o, s:I, s:I, s:I, s:b, s:o}", "period", m,
                  "ended", ended, "issuable", why == NULL, "reason", why, "empty", n == 0,
                  "invoices", (json_int_t)n, "first_number", n ? json_integer(next) : json_null(),
                  "last_number", n ? json_integer(next + n - 1) : json_null(), "net_micro",
                  (json_int_t)net, "tax_micro", (json_int_t)tax, "total_micro", (json_int_t)total,
                  "truncated", truncated, "tenants", items);
    if (n == 0)
        json_object_set_new(o, "note", json_string("no usage: issuing needs ?confirm_empty=true"));
    st_http_reply_json(req, 200, o);
    return;
dberr:
    PQclear(r);
    bl_reply_db(req, db, "preview");
}

static void h_periods(st_call *call)
{
    st_http_req *req = call->req;
    st_db *db = call->db;
    int64_t through, next;
    PGresult *r = NULL;
    if (read_state(db, &through, &next, 0) < 0 ||
        !(r = st_db_q0(db, "SELECT to_char(period, 'YYYY-MM'), count(*), sum(total_micro),"
                           " min(number), max(number), min(issued_at) FROM billing.invoices"
                           " GROUP BY period ORDER BY period"))) {
        bl_reply_db(req, db, "periods");
        return;
    }
    json_t *items = json_array(), *issuing = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        char when[ST_TIME_LEN];
        st_time_from_pg(PQgetvalue(r, i, 5), when);
        json_array_append_new(items, json_pack("{s:s, s:I, s:I, s:I, s:I, s:s}", "period",
                                               PQgetvalue(r, i, 0), "invoices",
                                               (json_int_t)st_db_int(r, i, 1), "total_micro",
                                               (json_int_t)st_db_int(r, i, 2), "first_number",
                                               (json_int_t)st_db_int(r, i, 3), "last_number",
                                               (json_int_t)st_db_int(r, i, 4), "issued_at", when));
    }
    PQclear(r);
    r = st_db_q0(db, "SELECT DISTINCT to_char(period, 'YYYY-MM') FROM billing.issue_queue"
                     " ORDER BY 1");
    for (int i = 0; r && i < PQntuples(r); i++)
        json_array_append_new(issuing, json_string(PQgetvalue(r, i, 0)));
    PQclear(r);
    char t[8];
    bl_month_format(through, t);
    st_http_reply_json(req, 200,
                       json_pack("{s:s?, s:I, s:o, s:o}", "issued_through", through ? t : NULL,
                                 "next_invoice_number", (json_int_t)next, "issued", items,
                                 "issuing", issuing));
}

void bl_invoice_routes(bl_ctx *ctx)
{
    bl_route(ctx, "GET /v1/billing/invoices", BL_TENANT, h_list);
    bl_route(ctx, "GET /v1/billing/invoices/{id}", BL_ANY_TENANT, h_show);
    bl_route(ctx, "GET /v1/billing/invoices/{id}/download", BL_ANY_TENANT, h_download);
    bl_route(ctx, "GET /v1/billing/periods", BL_ADMIN, h_periods);
    bl_route(ctx, "POST /v1/billing/periods/{period}/issue", BL_ADMIN, h_issue);
    bl_route(ctx, "GET /v1/billing/periods/{period}/preview", BL_ADMIN, h_preview);
}
