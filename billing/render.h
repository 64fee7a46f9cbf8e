/*
 * render.h - an invoice (rating.h) as a document: JSON and CSV for programs,
 * HTML for the dashboard, PDF for the accountant. Every format carries every
 * line, the total and the rounding rule. Issued invoices are rendered once,
 * at issue, and the bytes are stored; drafts are rendered on each request.
 * Each returns malloc'd bytes (NUL-terminated for the text formats).
 */
#ifndef BILLING_RENDER_H
#define BILLING_RENDER_H

#include "rating.h"

#include <jansson.h>

#include <stddef.h>

typedef enum bl_format { BL_FMT_JSON, BL_FMT_CSV, BL_FMT_HTML, BL_FMT_PDF, BL_NFMT } bl_format;

extern const char *const bl_format_names[BL_NFMT]; /* "json" ... */
extern const char *const bl_format_types[BL_NFMT]; /* "application/json" ... */

char *bl_render_json(const bl_invoice *inv, size_t *len);
char *bl_render_csv(const bl_invoice *inv, size_t *len);
char *bl_render_html(const bl_invoice *inv, size_t *len);
/* NULL when cairo fails. */
unsigned char *bl_render_pdf(const bl_invoice *inv, size_t *len);
void *bl_render(const bl_invoice *inv, bl_format f, size_t *len);
/* A credit note's PDF from its JSON document (credit.c); NULL when cairo fails. */
unsigned char *bl_render_credit_pdf(json_t *doc, size_t *len);
/* render_ubl.c: UBL 2.1 (EN 16931) XML of an issued invoice from its stored
 * JSON (NULL for a draft), and of a credit note from its JSON and its
 * invoice's. malloc'd, NUL-terminated. */
char *bl_render_ubl_invoice(json_t *inv, size_t *len);
char *bl_render_ubl_credit(json_t *cn, json_t *inv, size_t *len);
#define BL_UBL_TYPE "application/xml"
/* Frees cairo's and fontconfig's process-wide caches; call once at exit. */
void bl_render_release(void);

/* Printed on every format when some line had no price plan. */
#define BL_NO_PLAN_TEXT                                                                            \
    "NO PRICE PLAN: lines marked 'no plan' are not priced (no default plan and no plan "           \
    "assigned to this tenant); they are not free usage."

/* Text lines shared by HTML and PDF: a party's block (name, address lines,
 * country, tax ID, email) and the invoice's facts (number, dates, terms).
 * Each returns the count of lines written (at most max). */
#define BL_TEXT_LINE 200
int bl_party_lines(const bl_party *p, const char *role, char (*out)[BL_TEXT_LINE], int max);
int bl_fact_lines(const bl_invoice *inv, char (*out)[BL_TEXT_LINE], int max);
/* Net total, tax per rate, tax total, total due, the reverse-charge note. */
int bl_total_lines(const bl_invoice *inv, char (*out)[BL_TEXT_LINE], int max);

/* One line's row, as the CSV, HTML and PDF formats show it. */
typedef struct bl_row {
    char no[24], instance[40], name[136], item[128], plan[96], quantity[64], price[64], amount[48];
    char port[40]; /* the network port of a per-port rx/tx line, "" otherwise */
} bl_row;
void bl_row_of(const bl_invoice *inv, size_t i, bl_row *row);
/* "web-1 (m1.small)": the line's instance by name and flavor, "-" for none. */
void bl_line_who(const bl_line *l, char *out, size_t n);

#endif
