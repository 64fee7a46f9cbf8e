/*
 * credit.c - credit notes: corrections to an issued invoice, which never
 * changes (its trigger refuses it). A credit note refers to one invoice and
 * credits net amounts of some of its lines (at most what is left of each),
 * with the tax of their rates; it has its own gapless number sequence
 * (state.next_credit_number, row-locked in the same transaction, like
 * invoice numbers) printed through invoice.credit_number_format.
 *
 * Tax of a credit, per rate: the tax of everything credited so far at that
 * rate, rounded once (tax.c's rule), minus the tax already credited at it;
 * crediting all of an invoice therefore returns exactly the tax it charged.
 * The invoice's balance is its total minus its credit notes' totals.
 *
 *   POST /v1/billing/invoices/{id}/credit-notes   cloud admin
 *        {"reason", "lines": [{"line", "amount_micro"}]} or {"reason", "all": true}
 *   GET  /v1/billing/credit-notes                  the tenant's (any role)
 *   GET  /v1/billing/credit-notes/{id}             one, JSON or ?format=pdf (drawn from
 *                                                  the stored JSON; 404 for another tenant's)
 */
#include "billing.h"
#include "money.h"
#include "render.h"

#include "stratus/json.h"
#include "stratus/log.h"
#include "stratus/timefmt.h"
#include "stratus/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RATES 16

typedef struct cline {
    int line, bp;
    int64_t amount, left, credit;
    const char *desc, *instance;
} cline;

static void lower_uuid(const char *in, char out[37])
{
    for (int i = 0; i < 36; i++)
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'F' ? in[i] + 32 : in[i]);
    out[36] = 0;
}

/* Fills each line's request from the body; 0, or -1 with err. */
static int requested(json_t *body, cline *cl, size_t n, char *err, size_t errlen)
{
    int all = 0;
    if (st_json_get_bool(body, "all", ST_JSON_OPTIONAL, &all, err, errlen) < 0)
        return -1;
    json_t *ls = json_object_get(body, "lines");
    if (all == (ls != NULL)) {
        snprintf(err, errlen, "give either \"lines\" or \"all\": true");
        return -1;
    }
    if (all) {
        for (size_t i = 0; i < n; i++)
            cl[i].credit = cl[i].left;
        return 0;
    }
    if (!json_is_array(ls) || !json_array_size(ls)) {
        snprintf(err, errlen, "\"lines\" must be a non-empty array of {line, amount_micro}");
        return -1;
    }
    size_t k;
    json_t *e;
    json_array_foreach(ls, k, e)
    {
        static const char *const allowed[] = {"line", "amount_micro", NULL};
        long long line, amount;
        if (!json_is_object(e) || st_json_only_keys(e, allowed, err, errlen) < 0 ||
            st_json_get_int(e, "line", ST_JSON_REQUIRED, 1, 1000000000, &line, err, errlen) < 0 ||
            st_json_get_int(e, "amount_micro", ST_JSON_REQUIRED, 1, INT64_MAX, &amount, err,
                            errlen) < 0) {
            if (!json_is_object(e))
                snprintf(err, errlen, "lines[%zu] must be an object", k);
            return -1;
        }
        size_t i = 0;
        while (i < n && cl[i].line != line)
            i++;
        if (i == n) {
            snprintf(err, errlen, "lines[%zu]: the invoice has no line %lld", k, line);
            return -1;
        }
        if (cl[i].credit) {
            snprintf(err, errlen, "lines[%zu]: line %lld is named twice", k, line);
            return -1;
        }
        if (amount > cl[i].left) {
            snprintf(err, errlen, "lines[%zu]: line %lld has %lld micro-units left to credit", k,
                     line, (long long)cl[i].left);
            return -1;
        }
        cl[i].credit = amount;
    }
    return 0;
}

static void h_create(st_call *call)
{
    st_http_req *req = call->req;
    bl_ctx *ctx = call->svc;
    const char *pid = st_http_param(req, "id");
    if (!st_uuid_valid(pid)) {
        st_http_reply_error(req, 404, ST_E_NOT_FOUND, "no such invoice");
        return;
    }
    char inv_id[37];
    lower_uuid(pid, inv_id);
    json_t *body = st_http_json_body(req);
    if (!body)
        return;
    static const char *const allowed[] = {"reason", "lines", "all", NULL};
    char err[256];
    const char *reason;
    if (st_json_only_keys(body, allowed, err, sizeof err) < 0 ||
        st_json_get_str(body, "reason", ST_JSON_REQUIRED, 1, 500, &reason, err, sizeof err) < 0) {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST, "%s", err);
        return;
    }
    st_db *db = call->db;
    PGresult *r = NULL;
    json_t *doc = NULL, *out = NULL;
    cline *cl = NULL;
    if (st_db_begin(db) < 0 ||
        !(r = st_db_q(db,
                      "SELECT doc_json, tenant_id, currency FROM billing.invoices"
                      " WHERE id = $1 FOR SHARE",
                      inv_id)))
        goto dberr;
    if (!PQntuples(r)) {
        st_db_rollback(db);
        st_http_reply_error(req, 404, ST_E_NOT_FOUND, "no such issued invoice");
        goto out;
    }
    doc = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    char tenant[37], currency[9];
    snprintf(tenant, sizeof tenant, "%s", PQgetvalue(r, 0, 1));
    snprintf(currency, sizeof currency, "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
    r = NULL;
    json_t *lines = json_object_get(doc, "lines");
    size_t n = json_array_size(lines);
    cl = calloc(n ? n : 1, sizeof *cl);
    if (!doc || !cl)
        abort();
    for (size_t i = 0; i < n; i++) {
        json_t *l = json_array_get(lines, i);
        cl[i].line = (int)json_integer_value(json_object_get(l, "line"));
        cl[i].bp = (int)json_integer_value(json_object_get(l, "tax_rate_bp")); /* 0 before tax */
        cl[i].amount = cl[i].left = json_integer_value(json_object_get(l, "amount_micro"));
        cl[i].desc = json_string_value(json_object_get(l, "description"));
        cl[i].instance = json_string_value(json_object_get(l, "instance_id"));
    }
    /* The credit number (gapless: taken under this row lock) and what was credited before. */
    if (!(r = st_db_q0(db, "SELECT next_credit_number FROM billing.state FOR UPDATE")))
        goto dberr;
    int64_t number = st_db_int(r, 0, 0);
    PQclear(r);
    if (!(r = st_db_q(db,
                      "SELECT line, sum(net_micro) FROM billing.credit_note_lines"
                      " WHERE invoice_id = $1 GROUP BY line",
                      inv_id)))
        goto dberr;
    for (int k = 0; k < PQntuples(r); k++)
        for (size_t i = 0; i < n; i++)
            if (cl[i].line == st_db_int(r, k, 0))
                cl[i].left -= st_db_int(r, k, 1);
    PQclear(r);
    r = NULL;
    if (requested(body, cl, n, err, sizeof err) < 0) {
        st_db_rollback(db);
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST, "%s", err);
        goto out;
    }
    /* Per rate: tax of all credited so far, rounded once, minus what was credited. */
    int bps[MAX_RATES], nr = 0;
    int64_t rnet[MAX_RATES] = {0}, rtax[MAX_RATES] = {0}, net = 0, tax = 0;
    for (size_t i = 0; i < n; i++) {
        if (!cl[i].credit)
            continue;
        int g = 0;
        while (g < nr && bps[g] != cl[i].bp)
            g++;
        if (g == nr) {
            if (nr == MAX_RATES)
                goto bad_rates;
            bps[nr++] = cl[i].bp;
        }
        rnet[g] += cl[i].credit;
        net += cl[i].credit;
    }
    if (net <= 0) {
        st_db_rollback(db);
        st_http_reply_error(req, 409, ST_E_CONFLICT, "nothing is left to credit on that invoice");
        goto out;
    }
    for (int g = 0; g < nr; g++) {
        char b[16];
        snprintf(b, sizeof b, "%d", bps[g]);
        if (!(r = st_db_q(db,
                          "SELECT coalesce(sum(net_micro), 0), coalesce(sum(tax_micro), 0)"
                          " FROM billing.credit_note_lines WHERE invoice_id = $1"
                          " AND tax_rate_bp = $2::integer",
                          inv_id, b)))
            goto dberr;
        int64_t pnet = st_db_int(r, 0, 0), ptax = st_db_int(r, 0, 1);
        PQclear(r);
        r = NULL;
        rtax[g] = bl_round((__int128)(pnet + rnet[g]) * bps[g], 10000, ctx->round_micro) - ptax;
        tax += rtax[g];
    }
    char id[37], num_text[BL_NUMBER_TEXT_MAX], when[ST_TIME_LEN];
    st_uuid_v4(id);
    int64_t now = st_now_us();
    st_time_format(now, when);
    if (bl_number_text(ctx->credit_number_format, number, now, 0, num_text, sizeof num_text) < 0)
        snprintf(num_text, sizeof num_text, "CN-%06lld", (long long)number);
    json_t *jl = json_array(), *jt = json_array();
    for (size_t i = 0; i < n; i++)
        if (cl[i].credit)
            json_array_append_new(jl, json_pack("{s:i, s:s?, s:s?, s:i, s:I}", "invoice_line",
                                                cl[i].line, "instance_id", cl[i].instance,
                                                "description", cl[i].desc, "tax_rate_bp", cl[i].bp,
                                                "amount_micro", (json_int_t)cl[i].credit));
    for (int g = 0; g < nr; g++)
        json_array_append_new(jt, json_pack("{s:i, s:I, s:I}", "rate_bp", bps[g], "net_micro",
                                            (json_int_t)rnet[g], "tax_micro", (json_int_t)rtax[g]));
    out = json_pack("{s:s, s:s, s:I, s:s, s:s, s:O?, s:s, s:s, s:s, s:s, s:O?, s:O?, s:o, s:o,"
                    " s:I, s:I, s:I, s:s}",
                    "id", id, "type", "credit_note", "number", (json_int_t)number, "number_text",
                    num_text, "invoice_id", inv_id, "invoice_number_text",
                    json_object_get(doc, "number_text"), "tenant_id", tenant, "issued_at", when,
                    "currency", currency, "reason", reason, "seller",
                    json_object_get(doc, "seller"), "buyer", json_object_get(doc, "buyer"), "lines",
                    jl, "taxes", jt, "net_micro", (json_int_t)net, "tax_micro", (json_int_t)tax,
                    "total_micro", (json_int_t)(net + tax), "note",
                    "Amounts are credited to the customer; the invoice itself is unchanged.");
    char *text = json_dumps(out, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    char sn[24], sx[24], st[24], nx[24];
    snprintf(sn, sizeof sn, "%lld", (long long)net);
    snprintf(sx, sizeof sx, "%lld", (long long)tax);
    snprintf(st, sizeof st, "%lld", (long long)(net + tax));
    snprintf(nx, sizeof nx, "%lld", (long long)(number + 1));
    char nb[24];
    snprintf(nb, sizeof nb, "%lld", (long long)number);
    int bad =
        !text ||
        st_db_x(db,
                "INSERT INTO billing.credit_notes (id, number, number_text, invoice_id,"
                " tenant_id, issued_at, currency, reason, net_micro, tax_micro,"
                " total_micro, doc_json) VALUES ($1, $2::bigint, $3, $4, $5, $6, $7,"
                " $8, $9::bigint, $10::bigint, $11::bigint, $12)",
                id, nb, num_text, inv_id, tenant, when, currency, reason, sn, sx, st, text) < 0 ||
        st_db_x(db, "UPDATE billing.state SET next_credit_number = $1::bigint", nx) < 0;
    /* a rate's tax is recorded on its first credited line */
    int taxed[MAX_RATES] = {0};
    for (size_t i = 0; i < n && !bad; i++) {
        if (!cl[i].credit)
            continue;
        int g = 0;
        while (bps[g] != cl[i].bp)
            g++;
        char ln[24], bp[16], am[24], tx[24];
        snprintf(ln, sizeof ln, "%d", cl[i].line);
        snprintf(bp, sizeof bp, "%d", cl[i].bp);
        snprintf(am, sizeof am, "%lld", (long long)cl[i].credit);
        snprintf(tx, sizeof tx, "%lld", taxed[g]++ ? 0LL : (long long)rtax[g]);
        bad = st_db_x(db,
                      "INSERT INTO billing.credit_note_lines (credit_id, invoice_id, line,"
                      " tax_rate_bp, net_micro, tax_micro) VALUES ($1, $2, $3::integer,"
                      " $4::integer, $5::bigint, $6::bigint)",
                      id, inv_id, ln, bp, am, tx) < 0;
    }
    free(text);
    if (bad || st_db_commit(db) < 0)
        goto dberr;
    st_info("billing.credit", "credit note %s for invoice %s: %lld micro-units", num_text, inv_id,
            (long long)(net + tax));
    st_http_reply_json(req, 201, out);
    out = NULL;
    goto out;
bad_rates:
    st_db_rollback(db);
    st_http_reply_error(req, 422, ST_E_INVALID, "too many tax rates on one invoice");
    goto out;
dberr:
    PQclear(r);
    bl_reply_db(req, db, "credit note");
    st_db_rollback(db);
out:
    json_decref(out);
    json_decref(doc);
    free(cl);
}

static void h_list(st_call *call)
{
    st_http_req *req = call->req;
    const bl_who *who = call->who;
    const char *tenant = who->tenant;
    st_db *db = call->db;
    PGresult *r = st_db_q(db,
                          "SELECT id, number, number_text, invoice_id, issued_at,"
                          " total_micro, currency FROM billing.credit_notes"
                          " WHERE tenant_id = $1 ORDER BY number",
                          tenant);
    if (!r) {
        bl_reply_db(req, db, "credit notes");
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        char when[ST_TIME_LEN];
        st_time_from_pg(PQgetvalue(r, i, 4), when);
        json_array_append_new(
            items,
            json_pack("{s:s, s:I, s:s, s:s, s:s, s:I, s:s}", "id", PQgetvalue(r, i, 0), "number",
                      (json_int_t)st_db_int(r, i, 1), "number_text", PQgetvalue(r, i, 2),
                      "invoice_id", PQgetvalue(r, i, 3), "issued_at", when, "total_micro",
                      (json_int_t)st_db_int(r, i, 5), "currency", PQgetvalue(r, i, 6)));
    }
    PQclear(r);
    st_http_reply_json(req, 200,
                       json_pack("{s:s, s:o}", "tenant_id", tenant, "credit_notes", items));
}

static void h_show(st_call *call)
{
    st_http_req *req = call->req;
    const bl_who *who = call->who;
    const char *tenant = who->tenant;
    const char *pid = st_http_param(req, "id");
    if (!st_uuid_valid(pid)) {
        st_http_reply_error(req, 404, ST_E_NOT_FOUND, "no such credit note");
        return;
    }
    char id[37];
    lower_uuid(pid, id);
    st_db *db = call->db;
    const char *fmt = st_http_query(req, "format");
    if (fmt && strcmp(fmt, "json") != 0 && strcmp(fmt, "pdf") != 0 && strcmp(fmt, "ubl") != 0) {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST, "format must be json, pdf or ubl");
        return;
    }
    PGresult *r = st_db_q(db,
                          "SELECT c.doc_json, i.doc_json FROM billing.credit_notes c"
                          " JOIN billing.invoices i ON i.id = c.invoice_id"
                          " WHERE c.id = $1 AND c.tenant_id = $2",
                          id, tenant);
    if (!r) {
        bl_reply_db(req, db, "credit note");
    } else if (!PQntuples(r)) {
        st_http_reply_error(req, 404, ST_E_NOT_FOUND, "no such credit note");
    } else if (fmt && strcmp(fmt, "ubl") == 0) {
        /* UBL CreditNote from the stored JSON, referring to its invoice */
        json_t *doc = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
        json_t *inv = json_loads(PQgetvalue(r, 0, 1), 0, NULL);
        size_t n = 0;
        char *xml = doc && inv ? bl_render_ubl_credit(doc, inv, &n) : NULL;
        if (xml)
            st_http_reply_raw(req, 200, BL_UBL_TYPE, xml, n);
        else
            st_http_reply_error(req, 500, ST_E_INTERNAL, "rendering failed");
        free(xml);
        json_decref(doc);
        json_decref(inv);
    } else if (fmt && strcmp(fmt, "pdf") == 0) {
        /* drawn from the stored JSON, the credit note of record */
        json_t *doc = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
        size_t n = 0;
        unsigned char *pdf = doc ? bl_render_credit_pdf(doc, &n) : NULL;
        if (pdf)
            st_http_reply_raw(req, 200, "application/pdf", pdf, n);
        else
            st_http_reply_error(req, 500, ST_E_INTERNAL, "rendering failed");
        free(pdf);
        json_decref(doc);
    } else {
        st_http_reply_raw(req, 200, "application/json", PQgetvalue(r, 0, 0),
                          (size_t)PQgetlength(r, 0, 0));
    }
    PQclear(r);
}

void bl_credit_routes(bl_ctx *ctx)
{
    bl_route(ctx, "POST /v1/billing/invoices/{id}/credit-notes", BL_ADMIN, h_create);
    bl_route(ctx, "GET /v1/billing/credit-notes", BL_TENANT, h_list);
    bl_route(ctx, "GET /v1/billing/credit-notes/{id}", BL_TENANT, h_show);
}
