/*
 * render_pdf.c - the invoice as a PDF, drawn with cairo.
 *
 * A4 landscape, DejaVu Sans Mono throughout so columns line up by padding.
 * Each table row is ONE text run (one cairo_show_text of the padded row), so
 * text extraction (pdftotext) returns every line item whole, in order, on
 * one line. Every page repeats the header; the last page carries the total
 * and the rounding rule. cairo embeds the font subset with its Unicode map,
 * which is what makes the text extractable.
 */
#include "render.h"
#include "sqlbuf.h"

#include "stratus/timefmt.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <stdio.h>
#include <string.h>

#define PAGE_W 841.89
#define PAGE_H 595.28
#define MARGIN 36.0
#define FONT_PT 7.0
#define LEAD 9.5
#define ROWS_PER_PAGE 48
#define TAIL_ROWS 10    /* total and rounding text on the last page */
#define WRAP 170        /* characters per line of the rounding text */

static cairo_status_t sink(void *closure, const unsigned char *data, unsigned int len)
{
    sb_putn(closure, (const char *)data, len);
    return CAIRO_STATUS_SUCCESS;
}

static void text_at(cairo_t *cr, double x, double y, const char *s)
{
    cairo_move_to(cr, x, y);
    cairo_show_text(cr, s);
}

static void fmt_row(char *out, size_t n, const char *no, const char *inst, const char *item,
                    const char *plan, const char *qty, const char *price, const char *amount)
{
    char it[48];
    size_t il = strlen(item);
    if (il > 44)
        snprintf(it, sizeof it, "%.43s~", item);
    else
        snprintf(it, sizeof it, "%s", item);
    snprintf(out, n, "%5s  %-36s  %-44s  %-20.20s %24s %23s %15s", no, inst, it, plan, qty, price,
             amount);
}

static void header(cairo_t *cr, const bl_invoice *inv, int page, int pages)
{
    char number[32], period[8], when[ST_TIME_LEN], line[256];
    bl_invoice_number_text(inv, number, sizeof number);
    bl_month_format(inv->period, period);
    st_time_format(inv->issued ? inv->issued_at : inv->generated_at, when);
    double y = MARGIN + 12;
    cairo_select_font_face(cr, "DejaVu Sans Mono", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size(cr, 13);
    text_at(cr, MARGIN, y, inv->seller);
    snprintf(line, sizeof line, "%s %s", inv->issued ? "Invoice" : "DRAFT invoice",
             inv->issued ? number : "(not issued)");
    cairo_text_extents_t ext;
    cairo_text_extents(cr, line, &ext);
    text_at(cr, PAGE_W - MARGIN - ext.x_advance, y, line);
    cairo_select_font_face(cr, "DejaVu Sans Mono", CAIRO_FONT_SLANT_NORMAL,
                           CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 8);
    snprintf(line, sizeof line, "Tenant %s   Period %s   Currency %s   %s %s   Page %d of %d",
             inv->tenant, period, inv->currency, inv->issued ? "Issued" : "Generated", when,
             page, pages);
    text_at(cr, MARGIN, y + 14, line);
    cairo_set_font_size(cr, FONT_PT);
    cairo_select_font_face(cr, "DejaVu Sans Mono", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    fmt_row(line, sizeof line, "#", "Instance", "Item", "Plan", "Quantity", "Unit price",
            "Amount");
    text_at(cr, MARGIN, y + 34, line);
    cairo_set_line_width(cr, 0.5);
    cairo_move_to(cr, MARGIN, y + 37);
    cairo_line_to(cr, PAGE_W - MARGIN, y + 37);
    cairo_stroke(cr);
    cairo_select_font_face(cr, "DejaVu Sans Mono", CAIRO_FONT_SLANT_NORMAL,
                           CAIRO_FONT_WEIGHT_NORMAL);
}

/* The rounding rule, wrapped at spaces; returns the y after it. */
static double wrapped(cairo_t *cr, double y, const char *s)
{
    char line[WRAP + 1];
    while (*s) {
        size_t n = strlen(s);
        if (n > WRAP) {
            n = WRAP;
            while (n > 0 && s[n] != ' ')
                n--;
            if (n == 0)
                n = WRAP;
        }
        snprintf(line, sizeof line, "%.*s", (int)n, s);
        text_at(cr, MARGIN, y, line);
        y += LEAD;
        s += n;
        while (*s == ' ')
            s++;
    }
    return y;
}

unsigned char *bl_render_pdf(const bl_invoice *inv, size_t *len)
{
    sb out;
    sb_init(&out);
    cairo_surface_t *surf = cairo_pdf_surface_create_for_stream(sink, &out, PAGE_W, PAGE_H);
    char title[192], number[32];
    bl_invoice_number_text(inv, number, sizeof number);
    snprintf(title, sizeof title, "%s %s", inv->seller, number);
    cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_TITLE, title);
    cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_CREATOR, "stratus-billing");
    cairo_t *cr = cairo_create(surf);
    int pages = (int)((inv->n + TAIL_ROWS + ROWS_PER_PAGE - 1) / ROWS_PER_PAGE);
    if (pages < 1)
        pages = 1;
    double top = MARGIN + 12 + 37 + LEAD + 2;
    double y = top;
    int page = 1;
    char row[320];
    cairo_set_source_rgb(cr, 0, 0, 0);
    header(cr, inv, page, pages);
    for (size_t i = 0; i < inv->n; i++) {
        if (i && i % ROWS_PER_PAGE == 0) {
            cairo_show_page(cr);
            header(cr, inv, ++page, pages);
            y = top;
        }
        bl_row r;
        bl_row_of(inv, i, &r);
        fmt_row(row, sizeof row, r.no, r.instance, r.item, r.plan, r.quantity, r.price, r.amount);
        text_at(cr, MARGIN, y, row);
        y += LEAD;
    }
    size_t here = inv->n - (size_t)(page - 1) * ROWS_PER_PAGE;
    if (here + TAIL_ROWS > ROWS_PER_PAGE && page < pages) {
        cairo_show_page(cr);
        header(cr, inv, ++page, pages);
        y = top;
    }
    char total[48], rounding[512], tline[64];
    bl_amount_text(inv, inv->total, total, sizeof total);
    snprintf(tline, sizeof tline, "%s %s", total, inv->currency);
    cairo_select_font_face(cr, "DejaVu Sans Mono", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    fmt_row(row, sizeof row, "", "Total", "", "", "", "", tline);
    cairo_move_to(cr, MARGIN, y - LEAD + 2.5);
    cairo_line_to(cr, PAGE_W - MARGIN, y - LEAD + 2.5);
    cairo_stroke(cr);
    text_at(cr, MARGIN, y + 2, row);
    cairo_select_font_face(cr, "DejaVu Sans Mono", CAIRO_FONT_SLANT_NORMAL,
                           CAIRO_FONT_WEIGHT_NORMAL);
    bl_rounding_text(inv, rounding, sizeof rounding);
    y = wrapped(cr, y + 2 + 2 * LEAD, rounding);
    if (inv->no_plan)
        wrapped(cr, y + LEAD, BL_NO_PLAN_TEXT);
    cairo_show_page(cr);
    cairo_destroy(cr);
    cairo_surface_finish(surf);
    cairo_status_t st = cairo_surface_status(surf);
    cairo_surface_destroy(surf);
    if (st != CAIRO_STATUS_SUCCESS) {
        sb_free(&out);
        return NULL;
    }
    if (len)
        *len = out.n;
    return (unsigned char *)out.p;
}

void bl_render_release(void)
{
    /* The toy font API caches fonts for the life of the process; these hand
     * the memory back so a clean exit is also leak-free. */
    cairo_debug_reset_static_data();
    FcFini();
}
