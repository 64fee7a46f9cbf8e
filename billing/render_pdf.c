/*
 * render_pdf.c - the invoice as a PDF, drawn with cairo.
 *
 * A4 landscape, DejaVu Sans Mono throughout so columns line up by padding.
 * Each table row is ONE text run (one cairo_show_text of the padded row), so
 * text extraction (pdftotext) returns every line item whole, in order, on
 * one line. Every page repeats the header; page 1 also carries the seller,
 * the customer and the invoice's facts (number, dates, payment terms); the
 * last page carries the totals and the rounding rule. Layout runs twice:
 * once to count pages, once to draw. cairo embeds the font subset with its Unicode map,
 * which is what makes the text extractable.
 */
#include "money.h"
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
#define WRAP 170 /* characters per line of the rounding text */

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

static void fmt_row(char *out, size_t n, const char *no, const char *inst, const char *who,
                    const char *item, const char *plan, const char *qty, const char *price,
                    const char *amount)
{
    char it[40], w[32];
    size_t il = strlen(item), wl = strlen(who);
    if (il > 30)
        snprintf(it, sizeof it, "%.29s~", item);
    else
        snprintf(it, sizeof it, "%s", item);
    if (wl > 24)
        snprintf(w, sizeof w, "%.23s~", who);
    else
        snprintf(w, sizeof w, "%s", who);
    snprintf(out, n, "%5s  %-36s  %-24s  %-30s  %-14.14s %20s %20s %15s", no, inst, w, it, plan,
             qty, price, amount);
}

/* The page's title and column header; on page 1 also the parties and the
 * invoice's facts. Returns the y of the first row. Draws when draw. */
static double header(cairo_t *cr, const bl_invoice *inv, int page, int pages, int draw)
{
    char number[BL_NUMBER_TEXT_MAX], line[320];
    bl_invoice_number_text(inv, number, sizeof number);
    double y = MARGIN + 12;
    if (draw) {
        cairo_select_font_face(cr, "DejaVu Sans Mono", CAIRO_FONT_SLANT_NORMAL,
                               CAIRO_FONT_WEIGHT_BOLD);
        cairo_set_font_size(cr, 13);
        text_at(cr, MARGIN, y, inv->seller.name);
        snprintf(line, sizeof line, "%s %s", inv->issued ? "Invoice" : "DRAFT invoice",
                 inv->issued ? number : "(not issued)");
        cairo_text_extents_t ext;
        cairo_text_extents(cr, line, &ext);
        text_at(cr, PAGE_W - MARGIN - ext.x_advance, y, line);
        cairo_select_font_face(cr, "DejaVu Sans Mono", CAIRO_FONT_SLANT_NORMAL,
                               CAIRO_FONT_WEIGHT_NORMAL);
        cairo_set_font_size(cr, 8);
        snprintf(line, sizeof line, "Tenant %s   Currency %s   Page %d of %d", inv->tenant,
                 inv->currency, page, pages);
        text_at(cr, MARGIN, y + 14, line);
    }
    y += 14;
    if (page == 1) {
        /* Seller | Bill to | the facts, three columns, one text run per line. */
        char a[16][BL_TEXT_LINE], b[16][BL_TEXT_LINE], f[16][BL_TEXT_LINE];
        int na = bl_party_lines(&inv->seller, "Seller", a, 16);
        int nb = bl_party_lines(&inv->buyer, "Bill to", b, 16);
        int nf = bl_fact_lines(inv, f, 16);
        int rows = na > nb ? na : nb;
        rows = rows > nf ? rows : nf;
        if (draw) {
            cairo_set_font_size(cr, FONT_PT);
            for (int i = 0; i < na; i++)
                text_at(cr, MARGIN, y + 14 + i * LEAD, a[i]);
            for (int i = 0; i < nb; i++)
                text_at(cr, MARGIN + 230, y + 14 + i * LEAD, b[i]);
            for (int i = 0; i < nf; i++)
                text_at(cr, MARGIN + 460, y + 14 + i * LEAD, f[i]);
        }
        y += 6 + rows * LEAD;
    }
    if (draw) {
        cairo_set_font_size(cr, FONT_PT);
        cairo_select_font_face(cr, "DejaVu Sans Mono", CAIRO_FONT_SLANT_NORMAL,
                               CAIRO_FONT_WEIGHT_BOLD);
        fmt_row(line, sizeof line, "#", "Instance", "Name (flavor)", "Item", "Plan", "Quantity",
                "Unit price", "Amount");
        text_at(cr, MARGIN, y + 20, line);
        cairo_set_line_width(cr, 0.5);
        cairo_move_to(cr, MARGIN, y + 23);
        cairo_line_to(cr, PAGE_W - MARGIN, y + 23);
        cairo_stroke(cr);
        cairo_select_font_face(cr, "DejaVu Sans Mono", CAIRO_FONT_SLANT_NORMAL,
                               CAIRO_FONT_WEIGHT_NORMAL);
    }
    return y + 23 + LEAD + 2;
}

/* Splits s at spaces into lines of at most WRAP characters; returns the count. */
static int wrap_lines(const char *s, char (*out)[WRAP + 1], int max)
{
    int k = 0;
    while (*s && k < max) {
        size_t n = strlen(s);
        if (n > WRAP) {
            n = WRAP;
            while (n > 0 && s[n] != ' ')
                n--;
            if (n == 0)
                n = WRAP;
        }
        snprintf(out[k++], WRAP + 1, "%.*s", (int)n, s);
        s += n;
        while (*s == ' ')
            s++;
    }
    return k;
}

/* The text after the table: totals, notices, the rounding rule. */
typedef struct tail {
    char l[40][256];
    int bold[40];
    int n;
} tail;

static void tail_add(tail *t, int bold, const char *s)
{
    if (t->n < 40) {
        t->bold[t->n] = bold;
        size_t n = strlen(s);
        memcpy(t->l[t->n], s, n < 255 ? n : 255);
        t->l[t->n++][n < 255 ? n : 255] = 0;
    }
}

static void tail_wrap(tail *t, const char *s)
{
    char w[8][WRAP + 1];
    int n = wrap_lines(s, w, 8);
    for (int i = 0; i < n; i++)
        tail_add(t, 0, w[i]);
}

static void make_tail(const bl_invoice *inv, tail *t)
{
    char row[320], net[48], tline[64], rounding[512], tl[12][BL_TEXT_LINE], tr[600];
    t->n = 0;
    bl_amount_text(inv, inv->net, net, sizeof net);
    snprintf(tline, sizeof tline, "%s %s", net, inv->currency);
    fmt_row(row, sizeof row, "", "Net total", "", "", "", "", "", tline);
    tail_add(t, 1, row);
    tail_add(t, 0, "");
    int n = bl_total_lines(inv, tl, 12);
    for (int i = 0; i < n; i++)
        tail_add(t, strncmp(tl[i], "Total due", 9) == 0, tl[i]);
    tail_add(t, 0, "");
    bl_rounding_text(inv, rounding, sizeof rounding);
    tail_wrap(t, rounding);
    bl_tax_rule_text(inv, tr, sizeof tr);
    tail_wrap(t, tr);
    if (inv->no_plan)
        tail_wrap(t, BL_NO_PLAN_TEXT);
}

/* Lays the document out; draws when draw. Returns the page count. */
static int layout(cairo_t *cr, const bl_invoice *inv, int pages, int draw)
{
    double bottom = PAGE_H - MARGIN;
    int page = 1;
    double y = header(cr, inv, page, pages, draw);
    char row[320];
    for (size_t i = 0; i < inv->n; i++) {
        if (y > bottom) {
            if (draw)
                cairo_show_page(cr);
            y = header(cr, inv, ++page, pages, draw);
        }
        if (draw) {
            bl_row r;
            bl_row_of(inv, i, &r);
            fmt_row(row, sizeof row, r.no, r.instance, r.name, r.item, r.plan, r.quantity, r.price,
                    r.amount);
            text_at(cr, MARGIN, y, row);
            if (r.port[0]) { /* the port, under its instance */
                fmt_row(row, sizeof row, "", r.port, "(port)", "", "", "", "", "");
                text_at(cr, MARGIN, y + LEAD, row);
            }
        }
        y += inv->lines[i].port[0] ? 2 * LEAD : LEAD;
    }
    tail t;
    make_tail(inv, &t);
    /* the tail stays on one page */
    if (y + (t.n + 1) * LEAD > bottom) {
        if (draw)
            cairo_show_page(cr);
        y = header(cr, inv, ++page, pages, draw);
    }
    if (draw) {
        cairo_move_to(cr, MARGIN, y - LEAD + 2.5);
        cairo_line_to(cr, PAGE_W - MARGIN, y - LEAD + 2.5);
        cairo_stroke(cr);
    }
    y += 2;
    for (int i = 0; i < t.n; i++) {
        if (draw) {
            cairo_select_font_face(cr, "DejaVu Sans Mono", CAIRO_FONT_SLANT_NORMAL,
                                   t.bold[i] ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
            text_at(cr, MARGIN, y, t.l[i]);
        }
        y += LEAD;
    }
    return page;
}

unsigned char *bl_render_pdf(const bl_invoice *inv, size_t *len)
{
    sb out;
    sb_init(&out);
    cairo_surface_t *surf = cairo_pdf_surface_create_for_stream(sink, &out, PAGE_W, PAGE_H);
    char title[300], number[BL_NUMBER_TEXT_MAX];
    bl_invoice_number_text(inv, number, sizeof number);
    snprintf(title, sizeof title, "%s %s", inv->seller.name, number);
    cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_TITLE, title);
    cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_CREATOR, "stratus-billing");
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 0, 0, 0);
    int pages = layout(cr, inv, 0, 0);
    layout(cr, inv, pages, 1);
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

static const char *str_or(json_t *v, const char *dflt)
{
    return json_is_string(v) ? json_string_value(v) : dflt;
}

/* A party of a credit note, from its JSON object (null: no account). */
static void party_of(json_t *o, bl_party *p)
{
    memset(p, 0, sizeof *p);
    if (!json_is_object(o))
        return;
    p->present = 1;
#define PF(f, k) snprintf(p->f, sizeof p->f, "%s", str_or(json_object_get(o, k), ""))
    PF(name, "name");
    PF(address, "address");
    PF(country, "country");
    PF(tax_id, "tax_id");
    PF(email, "email");
#undef PF
}

/*
 * A credit note as a PDF, drawn from its JSON document (credit.c), the
 * record: one page per 40 lines, the parties, the invoice it corrects, its
 * lines (net), the tax per rate and the total credited. One text run per
 * line, as for invoices.
 */
unsigned char *bl_render_credit_pdf(json_t *doc, size_t *len)
{
    sb out;
    sb_init(&out);
    cairo_surface_t *surf = cairo_pdf_surface_create_for_stream(sink, &out, PAGE_W, PAGE_H);
    cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_CREATOR, "stratus-billing");
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 0, 0, 0);
    bl_party seller, buyer;
    party_of(json_object_get(doc, "seller"), &seller);
    party_of(json_object_get(doc, "buyer"), &buyer);
    const char *cur = json_string_value(json_object_get(doc, "currency"));
    cur = cur ? cur : "";
    char line[320], a[BL_TEXT_LINE * 2];
    double y = MARGIN + 12;
    cairo_select_font_face(cr, "DejaVu Sans Mono", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size(cr, 13);
    text_at(cr, MARGIN, y, seller.name);
    snprintf(line, sizeof line, "Credit note %s", str_or(json_object_get(doc, "number_text"), ""));
    text_at(cr, MARGIN + 430, y, line);
    cairo_select_font_face(cr, "DejaVu Sans Mono", CAIRO_FONT_SLANT_NORMAL,
                           CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, FONT_PT);
    char pa[16][BL_TEXT_LINE], pb[16][BL_TEXT_LINE];
    int na = bl_party_lines(&seller, "Seller", pa, 16),
        nb = bl_party_lines(&buyer, "Credit to", pb, 16);
    for (int i = 0; i < na; i++)
        text_at(cr, MARGIN, y + 20 + i * LEAD, pa[i]);
    for (int i = 0; i < nb; i++)
        text_at(cr, MARGIN + 230, y + 20 + i * LEAD, pb[i]);
    const char *facts[] = {
        "Credit note number: ", "number_text",  "Issue date: ", "issued_at", "Corrects invoice: ",
        "invoice_number_text",  "Invoice id: ", "invoice_id",   "Reason: ",  "reason"};
    for (int i = 0; i < 5; i++) {
        const char *v = json_string_value(json_object_get(doc, facts[2 * i + 1]));
        snprintf(a, sizeof a, "%s%.150s", facts[2 * i], v ? v : "");
        text_at(cr, MARGIN + 460, y + 20 + i * LEAD, a);
    }
    y += 20 + ((na > nb ? na : nb) > 5 ? (na > nb ? na : nb) : 5) * LEAD + 12;
    text_at(cr, MARGIN, y,
            "Invoice line  Instance                              Tax rate"
            "                  Amount credited (net)  Description");
    y += LEAD;
    size_t k;
    json_t *l;
    json_array_foreach(json_object_get(doc, "lines"), k, l)
    {
        if (y > PAGE_H - MARGIN - 6 * LEAD) {
            cairo_show_page(cr);
            y = MARGIN + 12;
        }
        char rate[16], amt[48];
        bl_rate_text((int)json_integer_value(json_object_get(l, "tax_rate_bp")), rate, sizeof rate);
        bl_money_text(json_integer_value(json_object_get(l, "amount_micro")), 2, amt, sizeof amt);
        const char *inst = json_string_value(json_object_get(l, "instance_id"));
        const char *desc = json_string_value(json_object_get(l, "description"));
        snprintf(line, sizeof line, "%12lld  %-36s  %8s  %33s %s  %.60s",
                 (long long)json_integer_value(json_object_get(l, "invoice_line")),
                 inst ? inst : "-", rate, amt, cur, desc ? desc : "");
        text_at(cr, MARGIN, y, line);
        y += LEAD;
    }
    y += LEAD;
    char m[48];
    bl_money_text(json_integer_value(json_object_get(doc, "net_micro")), 2, m, sizeof m);
    snprintf(line, sizeof line, "Net credited: %s %s", m, cur);
    text_at(cr, MARGIN, y, line);
    y += LEAD;
    json_array_foreach(json_object_get(doc, "taxes"), k, l)
    {
        char rate[16], n[48], t[48];
        bl_rate_text((int)json_integer_value(json_object_get(l, "rate_bp")), rate, sizeof rate);
        bl_money_text(json_integer_value(json_object_get(l, "net_micro")), 2, n, sizeof n);
        bl_money_text(json_integer_value(json_object_get(l, "tax_micro")), 2, t, sizeof t);
        snprintf(line, sizeof line, "Tax %s on %s %s: %s %s", rate, n, cur, t, cur);
        text_at(cr, MARGIN, y, line);
        y += LEAD;
    }
    bl_money_text(json_integer_value(json_object_get(doc, "total_micro")), 2, m, sizeof m);
    snprintf(line, sizeof line, "Total credited (gross): %s %s", m, cur);
    cairo_select_font_face(cr, "DejaVu Sans Mono", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    text_at(cr, MARGIN, y, line);
    cairo_select_font_face(cr, "DejaVu Sans Mono", CAIRO_FONT_SLANT_NORMAL,
                           CAIRO_FONT_WEIGHT_NORMAL);
    const char *note = json_string_value(json_object_get(doc, "note"));
    if (note)
        text_at(cr, MARGIN, y + LEAD, note);
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
