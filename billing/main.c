/*
 * main.c - stratus-billing: metering, rating and invoices.
 *
 *   stratus-billing [--config FILE] [--set k=v]...      serve the API (default)
 *   stratus-billing [...] migrate                       apply migrations, exit
 *   stratus-billing [...] maintenance                   one partition/retention pass, exit
 *   stratus-billing routes                              print every route, exit
 *
 * All state lives in PostgreSQL (schema `billing`), so several billing
 * processes may serve one database; issuing a month is serialised by an
 * advisory lock, not by anything in this process.
 */
#include "billing.h"
#include "render.h"

#include "stratus/log.h"
#include "stratus/service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const st_migration billing_migrations[];
extern const int billing_migrations_count;

static const st_config_key keys[] = {
    ST_SERVICE_KEYS("127.0.0.1:8083"),
    {"auth.internal_token", "",
     "service token the gateway presents (common/internal.h); never"
     " on a compute node"},
    {"auth.gateway_from", "127.0.0.0/8,::1",
     "addresses and CIDRs the gateway calls from: the internal token is refused from any other"
     " (empty: anywhere)"},
    {"ingest.max_body", "16777216", "largest ingest batch, bytes (raises http.max_body)"},
    {"ingest.future_skew", "300", "seconds a sample may be ahead of billing's clock"},
    {"retention.raw_days", "93", "days raw samples and batch ids are kept"},
    {"invoice.currency", "EUR", "currency code printed on invoices"},
    {"invoice.round_micro", "10000",
     "invoice lines are rounded to this many micro-units (a power of ten; 10000 = 0.01)"},
    {"invoice.seller", "Stratus Cloud", "the seller's legal name, printed on invoices"},
    {"invoice.seller_address", "", "the seller's postal address (\\n between lines)"},
    {"invoice.seller_country", "", "the seller's country, ISO 3166-1 alpha-2 (\"DE\")"},
    {"invoice.seller_tax_id", "", "the seller's VAT / tax ID"},
    {"invoice.seller_email", "", "the seller's billing contact email"},
    {"invoice.number_format", "INV-{n:6}",
     "invoice number template: {n}, {n:W} (zero-padded to W digits), {yyyy} (issue year),"
     " {period} (YYYY-MM)"},
    {"invoice.credit_number_format", "CN-{n:6}",
     "credit note number template, the same fields as invoice.number_format (its own sequence)"},
    {"invoice.payment_days", "30", "days from issue to the due date"},
    {"invoice.payment_terms",
     "Payment by bank transfer by the due date, quoting the invoice number.",
     "payment terms printed on invoices"},
    {"tax.rates", "",
     "tax rates by the customer's country, percent: \"DE=19,FR=20,CH=8.1\" (a country not"
     " listed: 0)"},
    {"tax.reverse_charge_note",
     "Reverse charge: VAT to be accounted for by the recipient (Article 196, Council Directive"
     " 2006/112/EC).",
     "printed on invoices to business customers in another country than the seller's"},
    {"maintenance.interval", "3600", "seconds between partition/retention passes (0: never)"},
    {0},
};

/* "a\\nb" in a one-line configuration value -> "a" newline "b" (a copy kept for the process). */
static const char *unescape_nl(const char *s)
{
    static char buf[512];
    size_t k = 0;
    for (; *s && k + 1 < sizeof buf; s++) {
        if (s[0] == '\\' && s[1] == 'n') {
            buf[k++] = '\n';
            s++;
        } else {
            buf[k++] = *s;
        }
    }
    buf[k] = 0;
    return buf;
}

static int load_ctx(bl_ctx *ctx, const st_config *cfg)
{
    long long days = st_config_int(cfg, "retention.raw_days");
    long long round = st_config_int(cfg, "invoice.round_micro");
    const char *cur = st_config_str(cfg, "invoice.currency");
    *ctx = (bl_ctx){
        .internal_token = st_config_str(cfg, "auth.internal_token"),
        .retention_us = days * 24 * BL_US_HOUR,
        .future_skew_us = st_config_int(cfg, "ingest.future_skew") * 1000000,
        .currency = cur,
        .round_micro = round,
        .seller = st_config_str(cfg, "invoice.seller"),
        .seller_address = unescape_nl(st_config_str(cfg, "invoice.seller_address")),
        .seller_country = st_config_str(cfg, "invoice.seller_country"),
        .seller_tax_id = st_config_str(cfg, "invoice.seller_tax_id"),
        .seller_email = st_config_str(cfg, "invoice.seller_email"),
        .number_format = st_config_str(cfg, "invoice.number_format"),
        .credit_number_format = st_config_str(cfg, "invoice.credit_number_format"),
        .payment_days = (int)st_config_int(cfg, "invoice.payment_days"),
        .payment_terms = st_config_str(cfg, "invoice.payment_terms"),
        .reverse_charge_note = st_config_str(cfg, "tax.reverse_charge_note"),
        .maintenance_s = (int)st_config_int(cfg, "maintenance.interval"),
    };
    int pow10 = round >= 1 && round <= 1000000;
    for (long long r = round; pow10 && r > 1; r /= 10)
        pow10 = r % 10 == 0;
    ctx->ntax_rates =
        bl_tax_rates_parse(st_config_str(cfg, "tax.rates"), ctx->tax_rates, BL_MAX_COUNTRY_RATES);
    if (ctx->ntax_rates < 0) {
        fprintf(stderr,
                "stratus-billing: tax.rates must be COUNTRY=PERCENT pairs split by commas"
                " (\"DE=19,FR=20,CH=8.1\"; at most 2 decimals, 100 at most, each country"
                " once, at most %d)\n",
                BL_MAX_COUNTRY_RATES);
        return -1;
    }
    const char *sc = ctx->seller_country;
    if (!bl_number_format_valid(ctx->number_format) ||
        !bl_number_format_valid(ctx->credit_number_format) || ctx->payment_days < 0 ||
        ctx->payment_days > 365 ||
        (sc[0] && (strlen(sc) != 2 || sc[0] < 'A' || sc[0] > 'Z' || sc[1] < 'A' || sc[1] > 'Z'))) {
        fprintf(stderr, "stratus-billing: invoice.number_format and invoice.credit_number_format "
                        "must use only {n}, {n:W} "
                        "(W 1..12), {yyyy} and {period} (at most 40 characters), "
                        "invoice.payment_days 0..365, invoice.seller_country two capitals\n");
        return -1;
    }
    if (days < 1 || days > 36500 || !pow10 || strlen(cur) < 1 || strlen(cur) > 8) {
        fprintf(stderr, "stratus-billing: retention.raw_days must be 1..36500, "
                        "invoice.round_micro a power of ten up to 1000000, "
                        "invoice.currency 1 to 8 characters\n");
        return -1;
    }
    return 0;
}

static void print_route(const char *method, const char *path, void *arg)
{
    printf("%s %s\n", method, path);
}

static int serve(bl_ctx *ctx, const st_config *cfg)
{
    st_http_opts o;
    st_service_http_opts(cfg, &o);
    size_t ingest_max = (size_t)st_config_int(cfg, "ingest.max_body");
    if (o.max_body < ingest_max)
        o.max_body = ingest_max;
    o.health = st_service_db_health;
    o.health_arg = ctx->pool;
    char err[512];
    st_http_server *s = st_http_server_new(&o, err, sizeof err);
    if (!s) {
        st_error("http.config", "%s", err);
        return 1;
    }
    if (st_internal_allow_from(st_config_str(cfg, "auth.gateway_from"), err, sizeof err) < 0) {
        st_error("billing.config", "auth.gateway_from: %s", err);
        st_http_server_free(s);
        return 1;
    }
    if (!*ctx->internal_token)
        st_warn("billing.config",
                "auth.internal_token is empty: tenant and admin calls are refused");
    bl_routes(s, ctx);
    bl_ingest_metrics();
    bl_invoice_metrics();
    if (bl_maintenance_run(ctx) < 0)
        st_warn("billing.maintenance", "first maintenance pass failed; ingest creates partitions");
    bl_maintenance_start(ctx);
    int rc = st_http_server_run(s) < 0 ? 1 : 0;
    bl_maintenance_stop();
    st_http_server_free(s);
    st_api_free(&ctx->api);
    return rc;
}

int main(int argc, char **argv)
{
    char **rest;
    int nrest;
    st_config *cfg =
        st_config_from_args(argc, argv, "stratus-billing", "STRATUS_BILLING_", keys, &rest, &nrest);
    const char *cmd = nrest > 0 ? rest[0] : "serve";
    st_service_log_init("billing", cfg);
    bl_ctx ctx;
    if (load_ctx(&ctx, cfg) < 0)
        return 2;
    int rc = 0;
    if (!strcmp(cmd, "routes")) {
        st_http_opts o;
        st_service_http_opts(cfg, &o);
        char err[512];
        st_http_server *s = st_http_server_new(&o, err, sizeof err);
        if (!s) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        bl_routes(s, &ctx);
        st_http_server_routes(s, print_route, NULL);
        st_http_server_free(s);
        st_api_free(&ctx.api);
        goto out;
    }
    if (strcmp(cmd, "serve") && strcmp(cmd, "migrate") && strcmp(cmd, "maintenance")) {
        fprintf(stderr,
                "stratus-billing: unknown command '%s' (try --help; nodes get their"
                " one credential from the gateway)\n",
                cmd);
        rc = 2;
        goto out;
    }
    if (nrest > 1) {
        fprintf(stderr, "usage: stratus-billing %s\n", cmd);
        rc = 2;
        goto out;
    }
    ctx.pool = st_service_db(cfg, "billing", billing_migrations, billing_migrations_count, NULL, 0);
    if (!ctx.pool) {
        rc = 1;
        goto out;
    }
    if (!strcmp(cmd, "serve"))
        rc = serve(&ctx, cfg);
    else if (!strcmp(cmd, "maintenance"))
        rc = bl_maintenance_run(&ctx) < 0 ? 1 : 0;
    st_db_pool_free(ctx.pool);
out:
    bl_render_release();
    st_config_free(cfg);
    free(rest);
    return rc;
}
