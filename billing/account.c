/*
 * account.c - the parties of an invoice: the customer's billing account
 * (one per tenant, billing.accounts) and the seller (configuration), and
 * the invoice number's printed form.
 *
 * API: GET|PUT /v1/billing/account (the caller's tenant; PUT needs the
 * tenant's admin role, or a cloud admin with ?tenant_id=), and GET|PUT
 * /v1/billing/tenants/{tenant_id}/account for cloud admins. PUT replaces
 * the whole record; every field is checked (README.md "Billing accounts").
 * Drafts show the account as it is; issuing copies it into the stored
 * documents, which never change afterwards.
 */
#include "billing.h"
#include "rating.h"

#include "stratus/json.h"
#include "stratus/timefmt.h"
#include "stratus/uuid.h"

#include <stdio.h>
#include <string.h>

/* ---- invoice numbers ---- */

int bl_number_format_valid(const char *f)
{
    char out[BL_NUMBER_TEXT_MAX];
    if (!f || !*f || strlen(f) > 40)
        return 0;
    return bl_number_text(f, 999999999999LL, 0, 0, out, sizeof out) == 0;
}

/*
 * Expands the template: {n} the number, {n:W} zero-padded to W digits
 * (1..12), {yyyy} the issue year, {period} the invoice month (YYYY-MM);
 * any other character is copied, and a '{' starting anything else is an
 * error. 0, or -1 (bad template or too long).
 */
int bl_number_text(const char *f, int64_t number, int64_t issued_at, int64_t period, char *out,
                   size_t n)
{
    size_t k = 0;
    char tmp[32];
    for (const char *p = f; *p;) {
        const char *add = tmp;
        if (*p != '{') {
            tmp[0] = *p++;
            tmp[1] = 0;
        } else if (strncmp(p, "{n}", 3) == 0) {
            snprintf(tmp, sizeof tmp, "%lld", (long long)number);
            p += 3;
        } else if (strncmp(p, "{n:", 3) == 0 && p[3] >= '1' && p[3] <= '9' &&
                   (p[4] == '}' || (p[4] >= '0' && p[4] <= '9' && p[5] == '}'))) {
            int w = p[4] == '}' ? p[3] - '0' : (p[3] - '0') * 10 + (p[4] - '0');
            if (w > 12)
                return -1;
            snprintf(tmp, sizeof tmp, "%0*lld", w, (long long)number);
            p += p[4] == '}' ? 5 : 6;
        } else if (strncmp(p, "{yyyy}", 6) == 0) {
            char d[11];
            bl_date_format(issued_at, d);
            snprintf(tmp, sizeof tmp, "%.4s", d);
            p += 6;
        } else if (strncmp(p, "{period}", 8) == 0) {
            bl_month_format(period, tmp);
            p += 8;
        } else {
            return -1;
        }
        size_t l = strlen(add);
        if (k + l + 1 > n)
            return -1;
        memcpy(out + k, add, l);
        k += l;
    }
    out[k] = 0;
    return 0;
}

/* ---- the customer ---- */

static void copy(char *dst, size_t n, const char *s)
{
    snprintf(dst, n, "%s", s ? s : "");
}

int bl_account_load(st_db *db, const char *tenant, bl_party *buyer)
{
    memset(buyer, 0, sizeof *buyer);
    PGresult *r = st_db_q(db,
                          "SELECT legal_name, address, country, tax_id, email"
                          " FROM billing.accounts WHERE tenant_id = $1",
                          tenant);
    if (!r)
        return -1;
    if (PQntuples(r)) {
        buyer->present = 1;
        copy(buyer->name, sizeof buyer->name, PQgetvalue(r, 0, 0));
        copy(buyer->address, sizeof buyer->address, PQgetvalue(r, 0, 1));
        copy(buyer->country, sizeof buyer->country, PQgetvalue(r, 0, 2));
        copy(buyer->tax_id, sizeof buyer->tax_id, PQgetvalue(r, 0, 3));
        copy(buyer->email, sizeof buyer->email, PQgetvalue(r, 0, 4));
    }
    PQclear(r);
    return 0;
}

void bl_seller_of(const bl_ctx *ctx, bl_party *seller)
{
    memset(seller, 0, sizeof *seller);
    seller->present = 1;
    copy(seller->name, sizeof seller->name, ctx->seller);
    copy(seller->address, sizeof seller->address, ctx->seller_address);
    copy(seller->country, sizeof seller->country, ctx->seller_country);
    copy(seller->tax_id, sizeof seller->tax_id, ctx->seller_tax_id);
    copy(seller->email, sizeof seller->email, ctx->seller_email);
}

/* Printable text with no control characters but newlines (address lines). */
static int text_ok(const char *s, int newlines)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && !(newlines && *p == '\n')) || *p == 0x7f)
            return 0;
    return 1;
}

static int email_ok(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || !at[1] || strchr(at + 1, '@') || !strchr(at + 1, '.'))
        return 0;
    for (const char *p = s; *p; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '<' || *p == '>' || *p == '"' || *p == ',')
            return 0;
    return 1;
}

static int tax_id_ok(const char *s)
{
    for (const char *p = s; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '.' || *p == ' '))
            return 0;
    return 1;
}

static json_t *account_json(const char *tenant, PGresult *r)
{
    char when[ST_TIME_LEN];
    st_time_from_pg(PQgetvalue(r, 0, 5), when);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "tenant_id", tenant, "legal_name",
                     PQgetvalue(r, 0, 0), "address", PQgetvalue(r, 0, 1), "country",
                     PQgetvalue(r, 0, 2), "tax_id", PQgetvalue(r, 0, 3), "email",
                     PQgetvalue(r, 0, 4), "updated_at", when);
}

static void get_account(st_http_req *req, st_db *db, const char *tenant)
{
    PGresult *r = st_db_q(db,
                          "SELECT legal_name, address, country, tax_id, email, updated_at"
                          " FROM billing.accounts WHERE tenant_id = $1",
                          tenant);
    if (!r)
        bl_reply_db(req, db, "account");
    else if (!PQntuples(r))
        st_http_reply_error(req, 404, ST_E_NOT_FOUND, "this tenant has no billing account yet");
    else
        st_http_reply_json(req, 200, account_json(tenant, r));
    PQclear(r);
}

static void put_account(st_http_req *req, st_db *db, const char *tenant)
{
    json_t *body = st_http_json_body(req);
    if (!body)
        return;
    static const char *const allowed[] = {"legal_name", "address", "country",
                                          "tax_id",     "email",   NULL};
    char err[256];
    const char *name, *addr, *country, *tax = "", *email;
    if (st_json_only_keys(body, allowed, err, sizeof err) < 0 ||
        st_json_get_str(body, "legal_name", ST_JSON_REQUIRED, 1, 200, &name, err, sizeof err) < 0 ||
        st_json_get_str(body, "address", ST_JSON_REQUIRED, 1, 500, &addr, err, sizeof err) < 0 ||
        st_json_get_str(body, "country", ST_JSON_REQUIRED, 2, 2, &country, err, sizeof err) < 0 ||
        st_json_get_str(body, "tax_id", ST_JSON_OPTIONAL, 0, 32, &tax, err, sizeof err) < 0 ||
        st_json_get_str(body, "email", ST_JSON_REQUIRED, 3, 254, &email, err, sizeof err) < 0) {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST, "%s", err);
        return;
    }
    if (!text_ok(name, 0) || !text_ok(addr, 1)) {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST,
                            "legal_name and address must be text (address lines split by \\n)");
        return;
    }
    if (!(country[0] >= 'A' && country[0] <= 'Z' && country[1] >= 'A' && country[1] <= 'Z')) {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST,
                            "country must be an ISO 3166-1 alpha-2 code in capitals (\"DE\")");
        return;
    }
    if (!tax_id_ok(tax)) {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST,
                            "tax_id may hold letters, digits, spaces, '-' and '.'");
        return;
    }
    if (!email_ok(email)) {
        st_http_reply_error(req, 400, ST_E_INVALID_REQUEST,
                            "email must be an address (name@domain)");
        return;
    }
    PGresult *r = st_db_q(db,
                          "INSERT INTO billing.accounts AS a (tenant_id, legal_name, address,"
                          " country, tax_id, email) VALUES ($1, $2, $3, $4, $5, $6)"
                          " ON CONFLICT (tenant_id) DO UPDATE SET legal_name = excluded.legal_name,"
                          " address = excluded.address, country = excluded.country,"
                          " tax_id = excluded.tax_id, email = excluded.email, updated_at = now()"
                          " RETURNING legal_name, address, country, tax_id, email, updated_at",
                          tenant, name, addr, country, tax, email);
    if (!r)
        bl_reply_db(req, db, "account");
    else
        st_http_reply_json(req, 200, account_json(tenant, r));
    PQclear(r);
}

static void h_get(st_call *call)
{
    const bl_who *who = call->who;
    get_account(call->req, call->db, who->tenant);
}

static void h_put(st_call *call)
{
    const bl_who *who = call->who;
    if (!who->p.cloud_admin && strcmp(who->p.role, "admin") != 0) {
        st_http_reply_error(call->req, 403, ST_E_FORBIDDEN,
                            "the billing account needs the tenant's admin");
        return;
    }
    put_account(call->req, call->db, who->tenant);
}

/* /v1/billing/tenants/{tenant_id}/account: cloud admins. */
static int admin_tenant(st_http_req *req, char tenant[37])
{
    const char *t = st_req_uuid_param(req, "tenant_id", "tenant");
    if (!t)
        return -1;
    for (int i = 0; i < 36; i++)
        tenant[i] = (char)(t[i] >= 'A' && t[i] <= 'F' ? t[i] + 32 : t[i]);
    tenant[36] = 0;
    return 0;
}

static void h_admin_get(st_call *call)
{
    char tenant[37];
    if (admin_tenant(call->req, tenant) == 0)
        get_account(call->req, call->db, tenant);
}

static void h_admin_put(st_call *call)
{
    char tenant[37];
    if (admin_tenant(call->req, tenant) == 0)
        put_account(call->req, call->db, tenant);
}

void bl_account_routes(bl_ctx *ctx)
{
    bl_route(ctx, "GET /v1/billing/account", BL_TENANT, h_get);
    bl_route(ctx, "PUT /v1/billing/account", BL_TENANT, h_put);
    bl_route(ctx, "GET /v1/billing/tenants/{tenant_id}/account", BL_ADMIN, h_admin_get);
    bl_route(ctx, "PUT /v1/billing/tenants/{tenant_id}/account", BL_ADMIN, h_admin_put);
}
