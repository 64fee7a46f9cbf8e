/*
 * render_ubl.c - issued invoices and credit notes as UBL 2.1 XML in the
 * EN 16931 core (the format Peppol and other e-invoicing networks take).
 *
 * Drawn from the stored JSON document of record (the invoice's doc_json,
 * the credit note's doc_json), never re-rated, so the XML carries exactly
 * the JSON's amounts: the lines' net amounts, the tax per rate (TaxTotal /
 * TaxSubtotal), and LegalMonetaryTotal with LineExtensionAmount = net,
 * TaxExclusiveAmount = net, TaxInclusiveAmount = gross, PayableAmount = the
 * total due. Amounts are micro-units written as decimals (two places while
 * invoice.round_micro is a cent; more only if the rounding step is finer).
 *
 * Tax categories (UNCL 5305): S, standard rated, for a rate above 0; AE,
 * reverse charge, with the exemption reason code VATEX-EU-AE and the
 * invoice's reverse-charge note; Z, zero rated, for a 0% rate otherwise (a
 * customer country tax.rates does not list). Units (UN/ECE Rec. 20): HUR
 * for lines billed per hour, C62 ("one") for the others, whose billing
 * unit (GiB, Gcycle, GiB-month) is then named in the item's name. A
 * customer with no billing account is named by its tenant id, in the
 * country whose rates applied. A credit note refers to its invoice
 * (BillingReference) and has one line per credited invoice line, quantity 1.
 */
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlbuf.h"

#include "stratus/timefmt.h"

#define NS_CAC "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
#define NS_CBC "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static long long jint(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static void esc(sb *b, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '&': sb_puts(b, "&amp;"); break;
        case '<': sb_puts(b, "&lt;"); break;
        case '>': sb_puts(b, "&gt;"); break;
        case '"': sb_puts(b, "&quot;"); break;
        default: sb_putn(b, s, 1);
        }
}

/* <cbc:tag>text</cbc:tag> */
static void el(sb *b, const char *tag, const char *text)
{
    sb_printf(b, "<cbc:%s>", tag);
    esc(b, text);
    sb_printf(b, "</cbc:%s>", tag);
}

/* micro-units as a decimal: at least two places, more only when needed. */
static void decimal(long long micro, char *out, size_t n)
{
    unsigned long long a = micro < 0 ? 0ULL - (unsigned long long)micro : (unsigned long long)micro;
    char frac[8];
    snprintf(frac, sizeof frac, "%06llu", a % 1000000);
    int keep = 6;
    while (keep > 2 && frac[keep - 1] == '0')
        keep--;
    frac[keep] = 0;
    snprintf(out, n, "%s%llu.%s", micro < 0 ? "-" : "", a / 1000000, frac);
}

static void amount(sb *b, const char *tag, long long micro, const char *cur)
{
    char d[40];
    decimal(micro, d, sizeof d);
    sb_printf(b, "<cbc:%s currencyID=\"", tag);
    esc(b, cur);
    sb_printf(b, "\">%s</cbc:%s>", d, tag);
}

/* A rate in basis points as a percent: 1900 -> "19", 810 -> "8.1". */
static void percent(int bp, char *out, size_t n)
{
    bl_rate_text(bp, out, n);
    out[strcspn(out, "%")] = 0;
}

static const char *category(int bp, int reverse)
{
    return reverse ? "AE" : bp > 0 ? "S" : "Z";
}

static void tax_category(sb *b, const char *tag, int bp, int reverse, const char *note)
{
    char p[16];
    percent(reverse ? 0 : bp, p, sizeof p);
    sb_printf(b, "<cac:%s>", tag);
    el(b, "ID", category(bp, reverse));
    el(b, "Percent", p);
    if (reverse && note) {
        el(b, "TaxExemptionReasonCode", "VATEX-EU-AE");
        el(b, "TaxExemptionReason", note[0] ? note : "Reverse charge");
    }
    sb_printf(b, "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:%s>", tag);
}

/* A party (the JSON's seller or buyer); tenant names a buyer with no account. */
static void party(sb *b, const char *role, json_t *p, const char *tenant, const char *country)
{
    sb_printf(b, "<cac:%s><cac:Party>", role);
    const char *name = json_is_object(p) ? jstr(p, "name") : "";
    char fallback[64];
    if (!name[0]) {
        snprintf(fallback, sizeof fallback, "Tenant %s", tenant);
        name = fallback;
    }
    sb_puts(b, "<cac:PartyName>");
    el(b, "Name", name);
    sb_puts(b, "</cac:PartyName><cac:PostalAddress>");
    /* address lines: street, additional street, then AddressLine */
    char addr[512];
    snprintf(addr, sizeof addr, "%s", json_is_object(p) ? jstr(p, "address") : "");
    char *lines[16];
    int n = 0;
    for (char *save = NULL, *t = strtok_r(addr, "\n", &save); t && n < 16;
         t = strtok_r(NULL, "\n", &save))
        lines[n++] = t;
    if (n > 0)
        el(b, "StreetName", lines[0]);
    if (n > 1)
        el(b, "AdditionalStreetName", lines[1]);
    for (int i = 2; i < n; i++) {
        sb_puts(b, "<cac:AddressLine>");
        el(b, "Line", lines[i]);
        sb_puts(b, "</cac:AddressLine>");
    }
    const char *c = json_is_object(p) && jstr(p, "country")[0] ? jstr(p, "country") : country;
    sb_puts(b, "<cac:Country>");
    el(b, "IdentificationCode", c);
    sb_puts(b, "</cac:Country></cac:PostalAddress>");
    if (json_is_object(p) && jstr(p, "tax_id")[0]) {
        sb_puts(b, "<cac:PartyTaxScheme>");
        el(b, "CompanyID", jstr(p, "tax_id"));
        sb_puts(b, "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>");
    }
    sb_puts(b, "<cac:PartyLegalEntity>");
    el(b, "RegistrationName", name);
    sb_puts(b, "</cac:PartyLegalEntity>");
    if (json_is_object(p) && jstr(p, "email")[0]) {
        sb_puts(b, "<cac:Contact>");
        el(b, "ElectronicMail", jstr(p, "email"));
        sb_puts(b, "</cac:Contact>");
    }
    sb_printf(b, "</cac:Party></cac:%s>", role);
}

/* TaxTotal with one TaxSubtotal per rate of taxes[] {rate_bp, net_micro, tax_micro}. */
static void tax_total(sb *b, json_t *taxes, long long tax, const char *cur, int reverse,
                      const char *note)
{
    sb_puts(b, "<cac:TaxTotal>");
    amount(b, "TaxAmount", tax, cur);
    size_t k;
    json_t *t;
    json_array_foreach(taxes, k, t)
    {
        sb_puts(b, "<cac:TaxSubtotal>");
        amount(b, "TaxableAmount", jint(t, "net_micro"), cur);
        amount(b, "TaxAmount", jint(t, "tax_micro"), cur);
        tax_category(b, "TaxCategory", (int)jint(t, "rate_bp"), reverse, note);
        sb_puts(b, "</cac:TaxSubtotal>");
    }
    sb_puts(b, "</cac:TaxTotal>");
}

static void totals(sb *b, long long net, long long gross, long long payable, const char *cur)
{
    sb_puts(b, "<cac:LegalMonetaryTotal>");
    amount(b, "LineExtensionAmount", net, cur);
    amount(b, "TaxExclusiveAmount", net, cur);
    amount(b, "TaxInclusiveAmount", gross, cur);
    amount(b, "PayableAmount", payable, cur);
    sb_puts(b, "</cac:LegalMonetaryTotal>");
}

static void head(sb *b, const char *root, const char *number, const char *issue)
{
    sb_printf(b,
              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%s xmlns=\"urn:oasis:names:"
              "specification:ubl:schema:xsd:%s-2\" xmlns:cac=\"" NS_CAC "\" xmlns:cbc=\"" NS_CBC
              "\">",
              root, root);
    el(b, "CustomizationID", "urn:cen.eu:en16931:2017");
    el(b, "ID", number);
    el(b, "IssueDate", issue);
}

char *bl_render_ubl_invoice(json_t *inv, size_t *len)
{
    if (strcmp(jstr(inv, "status"), "issued") != 0)
        return NULL;
    const char *cur = jstr(inv, "currency");
    int reverse = json_is_true(json_object_get(inv, "reverse_charge"));
    const char *note = json_string_value(json_object_get(inv, "reverse_charge_note"));
    sb b;
    sb_init(&b);
    head(&b, "Invoice", jstr(inv, "number_text"), jstr(inv, "issue_date"));
    if (jstr(inv, "due_date")[0])
        el(&b, "DueDate", jstr(inv, "due_date"));
    el(&b, "InvoiceTypeCode", "380");
    if (reverse)
        el(&b, "Note", note && note[0] ? note : "Reverse charge");
    el(&b, "DocumentCurrencyCode", cur);
    /* the service period: the month, its last day inclusive */
    char start[11] = "", end[11] = "";
    snprintf(start, sizeof start, "%s", jstr(inv, "period_start"));
    int64_t pe;
    if (st_time_parse(jstr(inv, "period_end"), &pe) == 0)
        bl_date_format(pe - 86400LL * 1000000, end);
    sb_puts(&b, "<cac:InvoicePeriod>");
    el(&b, "StartDate", start);
    el(&b, "EndDate", end);
    sb_puts(&b, "</cac:InvoicePeriod>");
    party(&b, "AccountingSupplierParty", json_object_get(inv, "seller"), "", "");
    party(&b, "AccountingCustomerParty", json_object_get(inv, "buyer"), jstr(inv, "tenant_id"),
          jstr(inv, "tax_country"));
    if (jstr(inv, "payment_terms")[0]) {
        sb_puts(&b, "<cac:PaymentTerms>");
        el(&b, "Note", jstr(inv, "payment_terms"));
        sb_puts(&b, "</cac:PaymentTerms>");
    }
    tax_total(&b, json_object_get(inv, "taxes"), jint(inv, "tax_micro"), cur, reverse, note);
    totals(&b, jint(inv, "net_micro"), jint(inv, "gross_micro"), jint(inv, "total_micro"), cur);
    size_t k;
    json_t *l;
    json_array_foreach(json_object_get(inv, "lines"), k, l)
    {
        const char *bu = jstr(l, "billing_unit");
        int hours = strcmp(bu, "hour") == 0;
        char id[24], name[256], desc[400], price[40];
        snprintf(id, sizeof id, "%lld", jint(l, "line"));
        snprintf(name, sizeof name, "%s%s%s%s", jstr(l, "description"), hours ? "" : " (",
                 hours ? "" : bu, hours ? "" : ")");
        const char *inst = jstr(l, "instance_id"), *iname = jstr(l, "instance_name");
        const char *port = jstr(l, "port_id");
        snprintf(desc, sizeof desc, "%s%s%s%s%s%s%s", inst[0] ? "Instance " : "Tenant-wide", inst,
                 iname[0] ? " (" : "", iname, iname[0] ? ")" : "", port[0] ? ", port " : "", port);
        sb_puts(&b, "<cac:InvoiceLine>");
        el(&b, "ID", id);
        sb_printf(&b, "<cbc:InvoicedQuantity unitCode=\"%s\">", hours ? "HUR" : "C62");
        esc(&b, jstr(l, "billing_quantity"));
        sb_puts(&b, "</cbc:InvoicedQuantity>");
        amount(&b, "LineExtensionAmount", jint(l, "amount_micro"), cur);
        sb_puts(&b, "<cac:Item>");
        el(&b, "Description", desc);
        el(&b, "Name", name);
        tax_category(&b, "ClassifiedTaxCategory", (int)jint(l, "tax_rate_bp"), reverse, NULL);
        sb_puts(&b, "</cac:Item><cac:Price>");
        decimal(jint(l, "unit_price_micro"), price, sizeof price);
        sb_printf(&b, "<cbc:PriceAmount currencyID=\"");
        esc(&b, cur);
        sb_printf(&b, "\">%s</cbc:PriceAmount>", price);
        sb_printf(&b, "<cbc:BaseQuantity unitCode=\"%s\">1</cbc:BaseQuantity>",
                  hours ? "HUR" : "C62");
        sb_puts(&b, "</cac:Price></cac:InvoiceLine>");
    }
    sb_puts(&b, "</Invoice>\n");
    if (len)
        *len = b.n;
    return (char *)sb_str(&b);
}

char *bl_render_ubl_credit(json_t *cn, json_t *inv, size_t *len)
{
    const char *cur = jstr(cn, "currency");
    int reverse = json_is_true(json_object_get(inv, "reverse_charge"));
    const char *note = json_string_value(json_object_get(inv, "reverse_charge_note"));
    char issue[11];
    snprintf(issue, sizeof issue, "%s", jstr(cn, "issued_at"));
    sb b;
    sb_init(&b);
    head(&b, "CreditNote", jstr(cn, "number_text"), issue);
    el(&b, "CreditNoteTypeCode", "381");
    el(&b, "Note", jstr(cn, "reason"));
    el(&b, "DocumentCurrencyCode", cur);
    sb_puts(&b, "<cac:BillingReference><cac:InvoiceDocumentReference>");
    el(&b, "ID", jstr(cn, "invoice_number_text"));
    if (jstr(inv, "issue_date")[0])
        el(&b, "IssueDate", jstr(inv, "issue_date"));
    sb_puts(&b, "</cac:InvoiceDocumentReference></cac:BillingReference>");
    party(&b, "AccountingSupplierParty", json_object_get(cn, "seller"), "", "");
    party(&b, "AccountingCustomerParty", json_object_get(cn, "buyer"), jstr(cn, "tenant_id"),
          jstr(inv, "tax_country"));
    tax_total(&b, json_object_get(cn, "taxes"), jint(cn, "tax_micro"), cur, reverse, note);
    totals(&b, jint(cn, "net_micro"), jint(cn, "total_micro"), jint(cn, "total_micro"), cur);
    size_t k;
    json_t *l;
    json_array_foreach(json_object_get(cn, "lines"), k, l)
    {
        char id[24], ref[24], price[40];
        snprintf(id, sizeof id, "%zu", k + 1);
        snprintf(ref, sizeof ref, "%lld", jint(l, "invoice_line"));
        sb_puts(&b, "<cac:CreditNoteLine>");
        el(&b, "ID", id);
        sb_puts(&b, "<cbc:CreditedQuantity unitCode=\"C62\">1</cbc:CreditedQuantity>");
        amount(&b, "LineExtensionAmount", jint(l, "amount_micro"), cur);
        sb_puts(&b, "<cac:BillingReference><cac:BillingReferenceLine>");
        el(&b, "ID", ref);
        sb_puts(&b, "</cac:BillingReferenceLine></cac:BillingReference><cac:Item>");
        el(&b, "Name", jstr(l, "description"));
        tax_category(&b, "ClassifiedTaxCategory", (int)jint(l, "tax_rate_bp"), reverse, NULL);
        sb_puts(&b, "</cac:Item><cac:Price>");
        decimal(jint(l, "amount_micro"), price, sizeof price);
        sb_printf(&b, "<cbc:PriceAmount currencyID=\"");
        esc(&b, cur);
        sb_printf(&b, "\">%s</cbc:PriceAmount></cac:Price></cac:CreditNoteLine>", price);
    }
    sb_puts(&b, "</CreditNote>\n");
    if (len)
        *len = b.n;
    return (char *)sb_str(&b);
}
