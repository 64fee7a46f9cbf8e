/*
 * billing.h - the inside of stratus-billing: the service context and the
 * entry points each file offers the others. One file per mechanism:
 *
 *   batch.c       parse/validate ingest batches (pure; fuzzed)
 *   ingest.c      apply a batch in one transaction: dedup, deltas, rollups
 *   rollmap.c     the per-batch accumulator of hourly deltas
 *   partitions.c  monthly partitions, retention, the maintenance thread
 *   nodes.c       who may post samples: nodes (placement-checked), control plane
 *   period.c      months, hours and invoice periods in UTC
 *   plans.c       price plans, versions, tenant assignments (admin API)
 *   rating.c      usage + plans -> invoice lines, in integer micro-units
 *   invoice.c     drafts, issuing a month, the invoice API
 *   render.c      invoice documents: JSON, CSV, HTML; render_pdf.c: PDF
 *   usage.c       the tenant usage API
 *   account.c     customer billing accounts, the seller, invoice numbers
 *   tax.c         tax rates, reverse charge, net / tax / gross
 *   credit.c      credit notes against issued invoices
 *   api.c         routes on common's route wrapper (handler.h), who may call them
 */
#ifndef BILLING_H
#define BILLING_H

#include "batch.h"

#include "stratus/db.h"
#include "stratus/handler.h"
#include "stratus/http.h"
#include "stratus/internal.h"
#include "stratus/nodeauth.h"

#include <stdint.h>

#define BL_US_HOUR 3600000000LL

/* Advisory lock: ingest and plan changes take it shared, issuing a month exclusive. */
#define BL_LOCK_ISSUE "7352401"

/* A tax rate by country (tax.rates): basis points, 1900 = 19.00%. */
typedef struct bl_tax_rate {
    char country[3];
    int bp;
} bl_tax_rate;
#define BL_MAX_COUNTRY_RATES 64

typedef struct bl_ctx {
    st_db_pool *pool;
    const char *internal_token;
    int64_t retention_us;       /* raw samples (and batch ids) kept this long */
    int64_t future_skew_us;     /* how far ahead of our clock a sample may be */
    const char *currency;       /* ISO 4217 code printed on invoices */
    int64_t round_micro;        /* line amounts are rounded to this (a power of ten) */
    const char *seller;         /* the seller's legal name, printed on invoices */
    const char *seller_address; /* postal address, lines split by \n */
    const char *seller_country; /* ISO 3166-1 alpha-2 */
    const char *seller_tax_id;  /* VAT / tax ID */
    const char *seller_email;
    const char *number_format;                   /* invoice number template (account.c) */
    const char *credit_number_format;            /* credit note number template (credit.c) */
    int payment_days;                            /* due date = issue date + this */
    const char *payment_terms;                   /* printed under the due date */
    bl_tax_rate tax_rates[BL_MAX_COUNTRY_RATES]; /* tax.rates */
    int ntax_rates;
    const char *reverse_charge_note; /* printed on reverse-charge invoices */
    int maintenance_s;               /* seconds between maintenance passes (0: never) */
    st_api api;                      /* the route wrapper (common/handler.h), bl_routes() */
} bl_ctx;

/* ---- period.c: UTC calendar helpers ---- */
int64_t bl_hour_floor(int64_t us);
int64_t bl_month_floor(int64_t us);
int64_t bl_month_add(int64_t month_us, int n);
/* Hours in the month starting at month_us (672..744). */
int bl_month_hours(int64_t month_us);
/* "2026-10" -> first microsecond of the month; -1 when malformed. */
int bl_month_parse(const char *s, int64_t *us);
void bl_month_format(int64_t us, char out[8]); /* "2026-10" */
void bl_date_format(int64_t us, char out[11]); /* "2026-10-01" */
/* PostgreSQL date/timestamptz text ("2026-10-01", "2026-10-01 05:00:00+00") -> us. */
int bl_pg_time(const char *s, int64_t *us);

/* ---- partitions.c ---- */
/* Makes sure the partitions for the months holding these times exist. */
int bl_partitions_ensure(st_db_pool *pool, const int64_t *times, int n);
/* Forgets which months this process ensured (a partition was dropped elsewhere). */
void bl_partitions_forget(void);
/* One maintenance pass: partitions ahead, retention. Returns 0 or -1. */
int bl_maintenance_run(bl_ctx *ctx);
int bl_maintenance_start(bl_ctx *ctx);
void bl_maintenance_stop(void);

/* ---- nodes.c: who posts samples ---- */
typedef struct bl_sender {
    int is_node; /* a compute node (else the control plane's internal token) */
    st_node node;
    char key[40]; /* idempotency scope: the node's id or "control-plane" */
} bl_sender;
/* Authenticates the sender of a batch; on failure replies (401/503), -1. */
int bl_sender_auth(st_http_req *req, bl_ctx *ctx, st_db *db, bl_sender *who);
/* 0 when the sender may post every sample of b (a node: instance samples
 * placed on it at their time); else replies 403 (or 503) and returns -1. */
int bl_sender_may_post(st_http_req *req, bl_ctx *ctx, st_db *db, const bl_sender *who,
                       const bl_batch *b);

/* ---- ingest.c ---- */
typedef struct bl_ingest_result {
    int samples, accepted, duplicates, stale, replayed;
} bl_ingest_result;
/* Returns an HTTP status: 200, 422 (err says why), 503 (database). */
int bl_ingest(bl_ctx *ctx, const char *node, bl_batch *b, bl_ingest_result *res, char *err,
              size_t errlen);
void bl_ingest_handler(st_call *c);
/* Registers the ingest and invoice counters (every label set, at 0) and
 * the ingest lag gauge, so /metrics shows them from start-up. */
void bl_ingest_metrics(void);
void bl_invoice_metrics(void);

/* ---- invoice.c ---- */
/* Issues the queued tenants of a month being issued; count issued, or -1. */
int bl_issue_drain(bl_ctx *ctx, st_db *db, int64_t period);
/* Finishes every month left half issued (after a crash). */
int bl_issue_resume(bl_ctx *ctx);

/* ---- api.c ---- */
/* Registers every route, all on common's route wrapper. */
void bl_routes(st_http_server *s, bl_ctx *ctx);
/* Who may call a route: the wrapper checks it before the handler runs. */
typedef enum bl_access {
    BL_ADMIN,      /* a cloud admin */
    BL_TENANT,     /* the tenant a call is about: X-Stratus-Tenant, or ?tenant_id=
                    * for a cloud admin (bl_auth_tenant) */
    BL_ANY_TENANT, /* as BL_TENANT, but a cloud admin naming no tenant reads every
                    * tenant's (who.tenant "") */
    BL_SENDER,     /* who posts samples: a node, or the control plane (bl_sender_auth) */
} bl_access;
/* The caller of an API route (st_call.who). */
typedef struct bl_who {
    st_principal p;
    char tenant[37];  /* lower-case; "" only for BL_ANY_TENANT's cloud admin */
    bl_sender sender; /* BL_SENDER only */
} bl_who;
void bl_route(bl_ctx *ctx, const char *pattern, bl_access access, st_call_fn h);
/*
 * The tenant a call is about: X-Stratus-Tenant, or ?tenant_id= for a cloud
 * admin. Replies (401/400) and returns -1 when there is none.
 */
int bl_auth_tenant(st_http_req *req, bl_ctx *ctx, st_principal *p, char tenant[37]);
/* Cloud admins only: replies 401/403 and returns -1 otherwise. */
int bl_auth_admin(st_http_req *req, bl_ctx *ctx, st_principal *p);
/* Replies 503 or 500 for a failed statement, logging it (st_reply_db_error). */
void bl_reply_db(st_http_req *req, st_db *db, const char *what);

/* ---- account.c: invoice numbers as printed ---- */
#define BL_NUMBER_TEXT_MAX 64
/* The number through the template ({n}, {n:W}, {yyyy}, {period}); 0 or -1. */
int bl_number_text(const char *fmt, int64_t number, int64_t issued_at, int64_t period, char *out,
                   size_t n);
int bl_number_format_valid(const char *fmt);

/* ---- tax.c ---- */
/* "DE=19,FR=20,CH=8.1" -> rates; the count, or -1 when malformed. */
int bl_tax_rates_parse(const char *s, bl_tax_rate *out, int max);
/* 1900 -> "19%", 770 -> "7.7%", 525 -> "5.25%". */
void bl_rate_text(int bp, char *out, size_t n);

/* ---- plans.c, usage.c, invoice.c, account.c: HTTP handlers ---- */
void bl_account_routes(bl_ctx *ctx);
void bl_credit_routes(bl_ctx *ctx);
void bl_plans_routes(bl_ctx *ctx);
void bl_usage_routes(bl_ctx *ctx);
void bl_invoice_routes(bl_ctx *ctx);

#endif
