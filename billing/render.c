/*
 * render.c - invoice documents in JSON, CSV and HTML (PDF: render_pdf.c).
 *
 * The JSON document is the invoice of record: it holds every number in
 * integer micro-units and base units, plus the display strings, so a
 * program never has to redo the arithmetic. CSV is one row per line and one
 * per tax rate, with no total row (its amounts sum to the total); HTML is a
 * self-contained page. Text that came
 * from outside (plan names) is escaped for each format.
 */
#include "render.h"
#include "money.h"
#include "sqlbuf.h"

#include "stratus/timefmt.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const bl_format_names[BL_NFMT] = {"json", "csv", "html", "pdf"};
const char *const bl_format_types[BL_NFMT] = {"application/json", "text/csv; charset=utf-8",
                                              "text/html; charset=utf-8", "application/pdf"};

void bl_row_of(const bl_invoice *inv, size_t i, bl_row *row)
{
    const bl_line *l = &inv->lines[i];
    char bq[48], price[40];
    snprintf(row->no, sizeof row->no, "%zu", i + 1);
    snprintf(row->instance, sizeof row->instance, "%s", l->instance[0] ? l->instance : "-");
    snprintf(row->port, sizeof row->port, "%s", l->port);
    bl_line_who(l, row->name, sizeof row->name);
    bl_line_label(inv, l, row->item, sizeof row->item);
    if (l->ver >= 0)
        snprintf(row->plan, sizeof row->plan, "%.40s v%d", inv->vers[l->ver].plan_name,
                 inv->vers[l->ver].version);
    else
        snprintf(row->plan, sizeof row->plan, "no plan");
    bl_line_billing_quantity(l, bq, sizeof bq);
    snprintf(row->quantity, sizeof row->quantity, "%s %s", bq, bl_item_billing_unit(l->item));
    bl_money_text(l->unit_price, 6, price, sizeof price);
    snprintf(row->price, sizeof row->price, "%s/%s", price, bl_item_billing_unit(l->item));
    bl_amount_text(inv, l->amount, row->amount, sizeof row->amount);
}

void bl_line_who(const bl_line *l, char *out, size_t n)
{
    if (!l->instance[0])
        snprintf(out, n, "-");
    else if (l->name[0] && l->iflavor[0])
        snprintf(out, n, "%s (%s)", l->name, l->iflavor);
    else
        snprintf(out, n, "%s", l->name[0] ? l->name : l->iflavor[0] ? l->iflavor : "-");
}

int bl_party_lines(const bl_party *p, const char *role, char (*out)[BL_TEXT_LINE], int max)
{
    int n = 0;
    if (n < max)
        snprintf(out[n++], BL_TEXT_LINE, "%s", role);
    if (!p->present) {
        if (n < max)
            snprintf(out[n++], BL_TEXT_LINE, "(no billing account on record)");
        return n;
    }
    if (n < max)
        snprintf(out[n++], BL_TEXT_LINE, "%.190s", p->name);
    for (const char *a = p->address; *a && n < max;) {
        size_t l = strcspn(a, "\n");
        snprintf(out[n++], BL_TEXT_LINE, "%.*s", (int)(l < 190 ? l : 190), a);
        a += l;
        if (*a == '\n')
            a++;
    }
    if (p->country[0] && n < max)
        snprintf(out[n++], BL_TEXT_LINE, "Country: %s", p->country);
    if (p->tax_id[0] && n < max)
        snprintf(out[n++], BL_TEXT_LINE, "VAT/tax ID: %s", p->tax_id);
    if (p->email[0] && n < max)
        snprintf(out[n++], BL_TEXT_LINE, "Email: %.180s", p->email);
    return n;
}

int bl_fact_lines(const bl_invoice *inv, char (*out)[BL_TEXT_LINE], int max)
{
    char number[BL_NUMBER_TEXT_MAX], period[8], d[11], due[11];
    bl_invoice_number_text(inv, number, sizeof number);
    bl_month_format(inv->period, period);
    int n = 0;
#define FACT(...)                                                                                  \
    do {                                                                                           \
        if (n < max)                                                                               \
            snprintf(out[n++], BL_TEXT_LINE, __VA_ARGS__);                                         \
    } while (0)
    FACT("Invoice number: %s",
         inv->issued ? number : "DRAFT (not issued; it changes as usage arrives)");
    if (inv->issued) {
        bl_date_format(inv->issued_at, d);
        bl_due_date(inv, due);
        FACT("Issue date: %s", d);
        FACT("Due date: %s (%d days)", due, inv->payment_days);
    } else {
        bl_date_format(inv->generated_at, d);
        FACT("Generated: %s; issue and due dates are set when the month is issued", d);
    }
    FACT("Service period: %s (UTC)", period);
    FACT("Customer account: tenant %s", inv->tenant);
    FACT("Payment terms: %.170s", inv->payment_terms);
#undef FACT
    return n;
}

int bl_total_lines(const bl_invoice *inv, char (*out)[BL_TEXT_LINE], int max)
{
    int n = 0;
    char a[48], b[48];
    bl_amount_text(inv, inv->net, a, sizeof a);
    if (n < max)
        snprintf(out[n++], BL_TEXT_LINE, "Net total: %s %s", a, inv->currency);
    for (int g = 0; g < inv->ntax && n < max; g++) {
        char rate[16];
        bl_rate_text(inv->tax[g].bp, rate, sizeof rate);
        bl_amount_text(inv, inv->tax[g].net, a, sizeof a);
        bl_amount_text(inv, inv->tax[g].tax, b, sizeof b);
        snprintf(out[n++], BL_TEXT_LINE, "Tax %s on %s %s: %s %s%s", rate, a, inv->currency, b,
                 inv->currency, inv->reverse_charge ? " (reverse charge)" : "");
    }
    bl_amount_text(inv, inv->tax_total, a, sizeof a);
    if (n < max)
        snprintf(out[n++], BL_TEXT_LINE, "Tax total: %s %s", a, inv->currency);
    bl_amount_text(inv, inv->total, a, sizeof a);
    if (n < max)
        snprintf(out[n++], BL_TEXT_LINE, "Total due (gross): %s %s", a, inv->currency);
    if (inv->reverse_charge && n < max)
        snprintf(out[n++], BL_TEXT_LINE, "%.190s", inv->reverse_charge_note);
    return n;
}

static json_t *party_json(const bl_party *p)
{
    if (!p->present)
        return json_null();
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", p->name, "address", p->address, "country",
                     p->country, "tax_id", p->tax_id, "email", p->email);
}

static json_t *line_json(const bl_invoice *inv, size_t i)
{
    const bl_line *l = &inv->lines[i];
    char label[128], bq[48], month[8], amount[48];
    bl_line_label(inv, l, label, sizeof label);
    bl_line_billing_quantity(l, bq, sizeof bq);
    bl_month_format(l->usage_month, month);
    bl_amount_text(inv, l->amount, amount, sizeof amount);
    json_t *plan = json_null();
    if (l->ver >= 0) {
        const bl_pver *v = &inv->vers[l->ver];
        plan = json_pack("{s:s, s:s, s:i, s:s}", "id", v->plan_id, "name", v->plan_name, "version",
                         v->version, "version_id", v->id);
    }
    return json_pack(
        "{s:I, s:s?, s:s?, s:s?, s:s?, s:s, s:s?, s:s, s:s, s:b, s:o, s:b, s:i, s:I, s:s, s:s, "
        "s:s, s:I, s:I, s:s}",
        "line", (json_int_t)(i + 1), "instance_id", l->instance[0] ? l->instance : NULL,
        "instance_name", l->name[0] ? l->name : NULL, "instance_flavor",
        l->iflavor[0] ? l->iflavor : NULL, "port_id", l->port[0] ? l->port : NULL, "item",
        bl_item_name(l->item), "flavor", l->flavor[0] ? l->flavor : NULL, "description", label,
        "usage_month", month, "late", l->usage_month != inv->period, "plan", plan, "priced",
        l->ver >= 0, "tax_rate_bp", l->tax_bp, "quantity", (json_int_t)l->quantity, "unit",
        bl_item_unit(l->item), "billing_quantity", bq, "billing_unit",
        bl_item_billing_unit(l->item), "unit_price_micro", (json_int_t)l->unit_price,
        "amount_micro", (json_int_t)l->amount, "amount", amount);
}

char *bl_render_json(const bl_invoice *inv, size_t *len)
{
    char period[8], start[ST_TIME_LEN], end[ST_TIME_LEN], gen[ST_TIME_LEN], issued[ST_TIME_LEN];
    char number[BL_NUMBER_TEXT_MAX], total[48], rounding[512];
    bl_month_format(inv->period, period);
    st_time_format(inv->period, start);
    st_time_format(bl_month_add(inv->period, 1), end);
    st_time_format(inv->generated_at, gen);
    st_time_format(inv->issued_at, issued);
    bl_invoice_number_text(inv, number, sizeof number);
    bl_amount_text(inv, inv->total, total, sizeof total);
    bl_rounding_text(inv, rounding, sizeof rounding);
    json_t *lines = json_array();
    for (size_t i = 0; i < inv->n; i++)
        json_array_append_new(lines, line_json(inv, i));
    char issue_date[11], due[11];
    bl_date_format(inv->issued_at, issue_date);
    bl_due_date(inv, due);
    json_t *doc = json_pack(
        "{s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s?, s:s?, s:i, s:s, s:s?, s:s, "
        "s:I, s:s, s:b, s:s?, s:s, s:o}",
        "id", inv->id, "number", inv->issued ? json_integer(inv->number) : json_null(),
        "number_text", number, "status", inv->issued ? "issued" : "draft", "tenant_id", inv->tenant,
        "period", period, "period_start", start, "period_end", end, "currency", inv->currency,
        "seller", party_json(&inv->seller), "buyer", party_json(&inv->buyer), "issue_date",
        inv->issued ? issue_date : NULL, "due_date", inv->issued ? due : NULL, "payment_days",
        inv->payment_days, "payment_terms", inv->payment_terms, "issued_at",
        inv->issued ? issued : NULL, "generated_at", gen, "total_micro", (json_int_t)inv->total,
        "total", total, "no_plan", inv->no_plan > 0, "notice",
        inv->no_plan ? BL_NO_PLAN_TEXT : NULL, "rounding", rounding, "lines", lines);
    /* Tax: net, per rate, gross (tax.c); total_micro above is the gross. */
    char a[48], tr[600];
    json_t *taxes = json_array();
    for (int g = 0; g < inv->ntax; g++) {
        char rate[16], net[48], tax[48];
        bl_rate_text(inv->tax[g].bp, rate, sizeof rate);
        bl_amount_text(inv, inv->tax[g].net, net, sizeof net);
        bl_amount_text(inv, inv->tax[g].tax, tax, sizeof tax);
        json_array_append_new(taxes, json_pack("{s:i, s:s, s:I, s:s, s:I, s:s}", "rate_bp",
                                               inv->tax[g].bp, "rate", rate, "net_micro",
                                               (json_int_t)inv->tax[g].net, "net", net, "tax_micro",
                                               (json_int_t)inv->tax[g].tax, "tax", tax));
    }
    bl_amount_text(inv, inv->net, a, sizeof a);
    json_object_set_new(doc, "net_micro", json_integer(inv->net));
    json_object_set_new(doc, "net", json_string(a));
    json_object_set_new(doc, "taxes", taxes);
    bl_amount_text(inv, inv->tax_total, a, sizeof a);
    json_object_set_new(doc, "tax_micro", json_integer(inv->tax_total));
    json_object_set_new(doc, "tax", json_string(a));
    json_object_set_new(doc, "gross_micro", json_integer(inv->total));
    json_object_set_new(doc, "gross", json_string(total));
    json_object_set_new(doc, "tax_country",
                        inv->tax_country[0] ? json_string(inv->tax_country) : json_null());
    json_object_set_new(doc, "reverse_charge", json_boolean(inv->reverse_charge));
    json_object_set_new(doc, "reverse_charge_note",
                        inv->reverse_charge ? json_string(inv->reverse_charge_note) : json_null());
    bl_tax_rule_text(inv, tr, sizeof tr);
    json_object_set_new(doc, "tax_rule", json_string(tr));
    char *s = json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (len)
        *len = s ? strlen(s) : 0;
    return s;
}

static void csv_field(sb *b, const char *s, int last)
{
    if (strpbrk(s, ",\"\r\n")) {
        sb_putn(b, "\"", 1);
        for (; *s; s++) {
            if (*s == '"')
                sb_putn(b, "\"", 1);
            sb_putn(b, s, 1);
        }
        sb_putn(b, "\"", 1);
    } else {
        sb_puts(b, s);
    }
    sb_puts(b, last ? "\r\n" : ",");
}

/*
 * CSV: one header row, then data rows only - no total row, so a spreadsheet
 * or a strict parser summing amount_micro (or amount) gets the total due.
 * record is "line" for an invoice line (net) or "tax" for the tax of one
 * rate (its net base in quantity, in micro-units); the lines plus the tax
 * rows add up to the gross, which is the total.
 */
char *bl_render_csv(const bl_invoice *inv, size_t *len)
{
    sb b;
    sb_init(&b);
    char number[BL_NUMBER_TEXT_MAX], period[8];
    bl_invoice_number_text(inv, number, sizeof number);
    bl_month_format(inv->period, period);
    sb_puts(
        &b,
        "invoice,period,record,line,instance_id,item,instance_name,instance_flavor,port_id,flavor,"
        "description,usage_month,plan,plan_version,quantity,unit,billing_quantity,"
        "billing_unit,unit_price_micro,tax_rate,amount_micro,amount,currency\r\n");
    enum { NCOL = 23 };
    for (size_t i = 0; i < inv->n; i++) {
        const bl_line *l = &inv->lines[i];
        char no[24], label[128], month[8], ver[16], q[24], bq[48], up[24], am[24], amount[48];
        char rate[16];
        snprintf(no, sizeof no, "%zu", i + 1);
        bl_line_label(inv, l, label, sizeof label);
        bl_month_format(l->usage_month, month);
        snprintf(ver, sizeof ver, "%d", l->ver >= 0 ? inv->vers[l->ver].version : 0);
        snprintf(q, sizeof q, "%lld", (long long)l->quantity);
        bl_line_billing_quantity(l, bq, sizeof bq);
        snprintf(up, sizeof up, "%lld", (long long)l->unit_price);
        snprintf(am, sizeof am, "%lld", (long long)l->amount);
        bl_amount_text(inv, l->amount, amount, sizeof amount);
        bl_rate_text(l->tax_bp, rate, sizeof rate);
        const char *f[NCOL] = {number,
                               period,
                               "line",
                               no,
                               l->instance,
                               bl_item_name(l->item),
                               l->name,
                               l->iflavor,
                               l->port,
                               l->flavor,
                               label,
                               month,
                               l->ver >= 0 ? inv->vers[l->ver].plan_name : "NO PLAN",
                               l->ver >= 0 ? ver : "",
                               q,
                               bl_item_unit(l->item),
                               bq,
                               bl_item_billing_unit(l->item),
                               up,
                               rate,
                               am,
                               amount,
                               inv->currency};
        for (int k = 0; k < NCOL; k++)
            csv_field(&b, f[k], k == NCOL - 1);
    }
    for (int g = 0; g < inv->ntax; g++) {
        char rate[16], label[160], net[48], q[24], am[24], amount[48];
        bl_rate_text(inv->tax[g].bp, rate, sizeof rate);
        bl_amount_text(inv, inv->tax[g].net, net, sizeof net);
        snprintf(label, sizeof label, "Tax %s on %s %s%s", rate, net, inv->currency,
                 inv->reverse_charge ? " (reverse charge)" : "");
        snprintf(q, sizeof q, "%lld", (long long)inv->tax[g].net);
        snprintf(am, sizeof am, "%lld", (long long)inv->tax[g].tax);
        bl_amount_text(inv, inv->tax[g].tax, amount, sizeof amount);
        const char *f[NCOL] = {number, period, "tax", "",     "",           "tax", "",      "", "",
                               "",     label,  "",    "",     "",           q,     "micro", "", "",
                               "",     rate,   am,    amount, inv->currency};
        for (int k = 0; k < NCOL; k++)
            csv_field(&b, f[k], k == NCOL - 1);
    }
    if (len)
        *len = b.n;
    return (char *)sb_str(&b);
}

static void html_text(sb *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': sb_puts(b, "&amp;"); break;
        case '<': sb_puts(b, "&lt;"); break;
        case '>': sb_puts(b, "&gt;"); break;
        case '"': sb_puts(b, "&quot;"); break;
        case '\'': sb_puts(b, "&#39;"); break;
        default: sb_putn(b, s, 1);
        }
    }
}

static void html_cell(sb *b, const char *tag, const char *cls, const char *s)
{
    sb_printf(b, "<%s%s%s%s>", tag, cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
    html_text(b, s);
    sb_printf(b, "</%s>", tag);
}

char *bl_render_html(const bl_invoice *inv, size_t *len)
{
    sb b;
    sb_init(&b);
    char number[BL_NUMBER_TEXT_MAX], total[48], rounding[512];
    bl_invoice_number_text(inv, number, sizeof number);
    bl_amount_text(inv, inv->total, total, sizeof total);
    bl_rounding_text(inv, rounding, sizeof rounding);
    sb_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
    html_text(&b, inv->issued ? number : "Draft invoice");
    sb_puts(&b, "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:"
                "collapse;width:100%}td,th{padding:2px 6px;border-bottom:1px solid #ddd;"
                "text-align:left}.n{text-align:right;font-variant-numeric:tabular-nums}"
                ".total td{font-weight:bold;border-top:2px solid #000}.parties{display:flex;"
                "gap:4em}</style></head><body>\n<h1>");
    html_text(&b, inv->seller.name);
    sb_puts(&b, inv->issued ? " &mdash; Invoice " : " &mdash; Draft invoice");
    if (inv->issued)
        html_text(&b, number);
    sb_puts(&b, "</h1>\n<div class=\"parties\">");
    char tl[16][BL_TEXT_LINE];
    for (int who = 0; who < 2; who++) {
        int n =
            bl_party_lines(who ? &inv->buyer : &inv->seller, who ? "Bill to" : "Seller", tl, 16);
        sb_puts(&b, "<p>");
        for (int i = 0; i < n; i++) {
            sb_puts(&b, i ? "<br>" : "<strong>");
            html_text(&b, tl[i]);
            if (!i)
                sb_puts(&b, "</strong>");
        }
        sb_puts(&b, "</p>");
    }
    sb_puts(&b, "</div>\n<p>");
    int nf = bl_fact_lines(inv, tl, 16);
    for (int i = 0; i < nf; i++) {
        html_text(&b, tl[i]);
        sb_puts(&b, "<br>");
    }
    sb_puts(&b, "Currency ");
    html_text(&b, inv->currency);
    if (inv->no_plan) {
        sb_puts(&b, "</p>\n<p class=\"warn\"><strong>");
        html_text(&b, BL_NO_PLAN_TEXT);
        sb_puts(&b, "</strong>");
    }
    sb_puts(&b, "</p>\n<table><thead><tr><th>#</th><th>Instance</th><th>Name (flavor)</th>"
                "<th>Item</th><th>Plan</th>"
                "<th class=\"n\">Quantity</th><th class=\"n\">Unit price</th>"
                "<th class=\"n\">Amount</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < inv->n; i++) {
        bl_row r;
        bl_row_of(inv, i, &r);
        sb_puts(&b, "<tr>");
        html_cell(&b, "td", "n", r.no);
        if (r.port[0]) { /* a per-port line: the port under its instance */
            sb_puts(&b, "<td>");
            html_text(&b, r.instance);
            sb_puts(&b, "<br>port ");
            html_text(&b, r.port);
            sb_puts(&b, "</td>");
        } else {
            html_cell(&b, "td", NULL, r.instance);
        }
        html_cell(&b, "td", NULL, r.name);
        html_cell(&b, "td", NULL, r.item);
        html_cell(&b, "td", NULL, r.plan);
        html_cell(&b, "td", "n", r.quantity);
        html_cell(&b, "td", "n", r.price);
        html_cell(&b, "td", "n", r.amount);
        sb_puts(&b, "</tr>\n");
    }
    sb_puts(&b,
            "<tr class=\"total\"><td></td><td>Net total</td><td></td><td></td><td></td><td></td>"
            "<td></td>");
    char net[48], tl2[12][BL_TEXT_LINE], tr[600];
    bl_amount_text(inv, inv->net, net, sizeof net);
    html_cell(&b, "td", "n", net);
    sb_puts(&b, "</tr></tbody></table>\n<p>");
    int nt = bl_total_lines(inv, tl2, 12);
    for (int i = 0; i < nt; i++) {
        int strong = strncmp(tl2[i], "Total due", 9) == 0;
        sb_puts(&b, strong ? "<strong>" : "");
        html_text(&b, tl2[i]);
        sb_puts(&b, strong ? "</strong><br>" : "<br>");
    }
    (void)total;
    sb_puts(&b, "</p>\n<p>");
    html_text(&b, rounding);
    bl_tax_rule_text(inv, tr, sizeof tr);
    sb_puts(&b, " ");
    html_text(&b, tr);
    sb_puts(&b, "</p></body></html>\n");
    if (len)
        *len = b.n;
    return (char *)sb_str(&b);
}

void *bl_render(const bl_invoice *inv, bl_format f, size_t *len)
{
    switch (f) {
    case BL_FMT_CSV: return bl_render_csv(inv, len);
    case BL_FMT_HTML: return bl_render_html(inv, len);
    case BL_FMT_PDF: return bl_render_pdf(inv, len);
    default: return bl_render_json(inv, len);
    }
}
