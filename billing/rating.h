/*
 * rating.h - an invoice as data: the lines rated from a tenant's usage for
 * one invoice period, the plan versions they were priced with, the total.
 *
 * Lines are per instance, item (instance-hours by flavor, CPU cycles, data
 * received, data sent, allocated disk; image storage and floating IPs per tenant), usage month (a
 * usage month before the period is late usage) and plan version: a plan change mid-month gives two
 * lines, each with one unit price, so every line is quantity x unit price. Quantities are in base
 * units (hours, cycles, bytes, byte-hours); prices are micro-units per billing unit: instance-hours
 * per hour          divisor 1 instance time   per hour          divisor 3600 (quantity in seconds;
 *                                     per-second plan versions, see rating.c)
 *   CPU cycles      per 10^9 cycles   divisor 10^9
 *   data in / out   per GiB           divisor 2^30
 *   image storage   per GiB-month     divisor 2^30 x hours in the usage month
 *   instance disk   per GiB-month     the same (quantity: allocated byte-hours)
 *   floating IPs    per IP-hour       divisor 1 (each hour an IP was held in)
 * amount = round(quantity x price / divisor) to the invoice's rounding step.
 */
#ifndef BILLING_RATING_H
#define BILLING_RATING_H

#include "billing.h"

typedef enum bl_item {
    BL_ITEM_INSTANCE_HOURS,
    BL_ITEM_INSTANCE_SECONDS, /* per-second plan versions; priced per hour */
    BL_ITEM_CPU,
    BL_ITEM_RX,
    BL_ITEM_TX,
    BL_ITEM_STORAGE,
    BL_ITEM_DISK, /* allocated instance disk, byte-hours */
    BL_ITEM_FIP,  /* floating IPs held, IP-hours (the gateway's facts) */
    BL_NITEMS
} bl_item;

typedef struct bl_flavor_price {
    char flavor[BL_FLAVOR_MAX + 1];
    int64_t price;
} bl_flavor_price;

/* A plan version used by the invoice (prices indexed like price_keys in plans.c). */
typedef struct bl_pver {
    char id[37], plan_id[37];
    char plan_name[65];
    int version;
    int64_t effective_from;
    int64_t cpu, rx, tx, storage, hour_default, disk, fip;
    int tax_bp;          /* the version's own tax rate (basis points), -1: by country */
    int per_second;      /* time_unit "second": instance time by the second */
    int64_t min_seconds; /* per boot, for per_second versions */
    bl_flavor_price *fl;
    int nfl;
} bl_pver;

typedef struct bl_line {
    char instance[37];               /* "" for tenant-wide items (storage) */
    char name[64];                   /* the instance's name (the gateway's), "" when unknown */
    char iflavor[BL_FLAVOR_MAX + 1]; /* the flavor its time was billed with, for every line */
    char port[37];                   /* rx/tx of one network port; "" for the instance's own */
    bl_item item;
    char flavor[BL_FLAVOR_MAX + 1];
    int64_t usage_month;
    int ver; /* index into vers, -1: no plan applied (price 0) */
    int64_t quantity;
    int64_t unit_price;
    int64_t amount; /* net */
    int tax_bp;     /* the tax rate it bears (tax.c), basis points */
} bl_line;

/* The lines at one tax rate: their net sum and its tax (rounded once). */
typedef struct bl_tax_group {
    int bp;
    int64_t net, tax;
} bl_tax_group;
#define BL_MAX_TAX_RATES 16

/* A party of the invoice: the seller (configuration) or the buyer (account.c). */
typedef struct bl_party {
    int present; /* buyer: the tenant has a billing account */
    char name[201];
    char address[501];
    char country[3];
    char tax_id[33];
    char email[255];
} bl_party;

typedef struct bl_invoice {
    char id[37];
    char tenant[37];
    int64_t period; /* first microsecond of the month */
    int issued;
    int64_t number;    /* issued only */
    int64_t issued_at; /* issued only */
    int64_t generated_at;
    char currency[9];
    int64_t round_micro;
    bl_party seller, buyer;
    char number_text[BL_NUMBER_TEXT_MAX]; /* issued: as printed; draft: "DRAFT" */
    int payment_days;                     /* due = issued_at + payment_days */
    char payment_terms[256];
    bl_pver *vers;
    int nvers;
    bl_line *lines;
    size_t n, cap;
    int64_t net; /* sum of the line amounts */
    bl_tax_group tax[BL_MAX_TAX_RATES];
    int ntax;
    int64_t tax_total;   /* sum of the groups' tax */
    int64_t total;       /* the total due: gross = net + tax_total */
    int reverse_charge;  /* business customer in another country: no tax charged */
    char tax_country[3]; /* whose rates applied ("" none) */
    char reverse_charge_note[256];
    int no_plan; /* lines priced by no plan (no default plan, no assignment) */
} bl_invoice;

/* Rates the tenant's usage billed in period into inv. 0, or -1 (db error). */
int bl_rate(st_db *db, const bl_ctx *ctx, const char *tenant, int64_t period, bl_invoice *inv);
/* The last step of rating, on inv's lines as collected: sorts them, merges
 * equal keys, prices, rounds and totals. 0, or -1 on overflow. Safe on
 * several threads at once, each with its own invoice. */
int bl_invoice_finish(bl_invoice *inv);
void bl_invoice_free(bl_invoice *inv);
/* The invoice id of (tenant, period): stable from draft to issued. */
void bl_invoice_id(const char *tenant, int64_t period, char out[37]);

/* Names and display text shared by every document format. */
const char *bl_item_name(bl_item it);         /* "cpu_cycles" */
const char *bl_item_unit(bl_item it);         /* "cycle": the unit of quantity */
const char *bl_item_billing_unit(bl_item it); /* "Gcycle" */
void bl_line_label(const bl_invoice *inv, const bl_line *l, char *out, size_t n);
void bl_line_billing_quantity(const bl_line *l, char *out, size_t n); /* "12.345678" */
__int128 bl_line_divisor(const bl_line *l);
void bl_amount_text(const bl_invoice *inv, int64_t micro, char *out, size_t n);
void bl_invoice_number_text(const bl_invoice *inv, char *out, size_t n); /* "INV-000042" */
/* The customer's account (buyer->present 0 when none); 0 or -1. */
int bl_account_load(st_db *db, const char *tenant, bl_party *buyer);
void bl_seller_of(const bl_ctx *ctx, bl_party *seller);
/* tax.c: each line's rate, the groups, net / tax / gross. 0 or -1 (overflow). */
int bl_tax(const bl_ctx *ctx, bl_invoice *inv);
/* The tax rounding rule printed on every invoice. */
void bl_tax_rule_text(const bl_invoice *inv, char *out, size_t n);
/* "2026-12-31" due date of an issued invoice. */
void bl_due_date(const bl_invoice *inv, char out[11]);
/* The rounding rule printed on every invoice. */
void bl_rounding_text(const bl_invoice *inv, char *out, size_t n);

#endif
