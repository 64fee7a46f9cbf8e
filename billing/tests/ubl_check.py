#!/usr/bin/env python3
"""Checks a UBL 2.1 invoice or credit note (render_ubl.c) against the JSON
document of record it was drawn from, field by field, and that its amounts
add up: lines to LineExtensionAmount, subtotals to the tax total, net + tax
to the gross, every amount exact to the cent.

    ubl_check.py UBL.xml DOC.json [INVOICE.json]   (the invoice: credit notes)

Prints "ok N" (N lines) or the first mismatch, and exits 1 on a mismatch."""
import json
import sys
import xml.etree.ElementTree as ET
from decimal import Decimal

CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NS = {"cac": CAC, "cbc": CBC}


def fail(msg):
    print("UBL mismatch: " + msg)
    sys.exit(1)


def eq(what, got, want):
    if got != want:
        fail("%s: %r, want %r" % (what, got, want))


def text(node, path):
    e = node.find(path, NS)
    return None if e is None else e.text


def money(node, path, cur):
    e = node.find(path, NS)
    if e is None:
        fail("missing " + path)
    eq(path + "@currencyID", e.get("currencyID"), cur)
    d = Decimal(e.text)
    if d != d.quantize(Decimal("0.01")) or len(e.text.split(".")[-1]) != 2:
        fail("%s %s is not exact to the cent" % (path, e.text))
    return d


def micro(v):
    return Decimal(v) / Decimal(1000000)


def percent(bp):
    return Decimal(bp) / Decimal(100)


def check_party(node, path, p, fallback_name, country):
    party = node.find(path + "/cac:Party", NS)
    if party is None:
        fail("missing " + path)
    name = p["name"] if p else fallback_name
    eq(path + " name", text(party, "cac:PartyName/cbc:Name"), name)
    eq(path + " legal name", text(party, "cac:PartyLegalEntity/cbc:RegistrationName"), name)
    lines = p["address"].split("\n") if p else []
    got = [text(party, "cac:PostalAddress/cbc:StreetName"),
           text(party, "cac:PostalAddress/cbc:AdditionalStreetName")]
    got = [g for g in got if g is not None]
    got += [e.text for e in party.findall("cac:PostalAddress/cac:AddressLine/cbc:Line", NS)]
    eq(path + " address", got, lines)
    eq(path + " country", text(party, "cac:PostalAddress/cac:Country/cbc:IdentificationCode"),
       p["country"] if p else country)
    if p and p.get("tax_id"):
        eq(path + " VAT id", text(party, "cac:PartyTaxScheme/cbc:CompanyID"), p["tax_id"])
        eq(path + " tax scheme", text(party, "cac:PartyTaxScheme/cac:TaxScheme/cbc:ID"), "VAT")
    if p and p.get("email"):
        eq(path + " email", text(party, "cac:Contact/cbc:ElectronicMail"), p["email"])


def category(bp, reverse):
    return "AE" if reverse else ("S" if bp > 0 else "Z")


def check_cat(node, what, bp, reverse, note):
    eq(what + " category", text(node, "cbc:ID"), category(bp, reverse))
    eq(what + " percent", Decimal(text(node, "cbc:Percent")), Decimal(0) if reverse else percent(bp))
    eq(what + " scheme", text(node, "cac:TaxScheme/cbc:ID"), "VAT")
    if reverse and note is not None:
        eq(what + " exemption code", text(node, "cbc:TaxExemptionReasonCode"), "VATEX-EU-AE")
        eq(what + " exemption reason", text(node, "cbc:TaxExemptionReason"), note)


def check_tax(root, doc, cur, reverse, note):
    tt = root.find("cac:TaxTotal", NS)
    tax = money(tt, "cbc:TaxAmount", cur)
    eq("tax total", tax, micro(doc["tax_micro"]))
    subs = tt.findall("cac:TaxSubtotal", NS)
    eq("tax subtotals", len(subs), len(doc["taxes"]))
    for s, t in zip(subs, doc["taxes"]):
        eq("taxable", money(s, "cbc:TaxableAmount", cur), micro(t["net_micro"]))
        eq("subtotal tax", money(s, "cbc:TaxAmount", cur), micro(t["tax_micro"]))
        check_cat(s.find("cac:TaxCategory", NS), "subtotal", t["rate_bp"], reverse, note)
    eq("subtotals add up to the tax", sum((money(s, "cbc:TaxAmount", cur) for s in subs), Decimal(0)), tax)
    return tax, sum((money(s, "cbc:TaxableAmount", cur) for s in subs), Decimal(0))


def check_totals(root, cur, net, gross, payable, tax, taxable, line_sum):
    lm = root.find("cac:LegalMonetaryTotal", NS)
    ext = money(lm, "cbc:LineExtensionAmount", cur)
    excl = money(lm, "cbc:TaxExclusiveAmount", cur)
    incl = money(lm, "cbc:TaxInclusiveAmount", cur)
    pay = money(lm, "cbc:PayableAmount", cur)
    eq("LineExtensionAmount", ext, net)
    eq("TaxExclusiveAmount", excl, net)
    eq("TaxInclusiveAmount", incl, gross)
    eq("PayableAmount", pay, payable)
    eq("lines add up to LineExtensionAmount", line_sum, ext)
    eq("taxable amounts add up to the net", taxable, excl)
    eq("net + tax = gross", excl + tax, incl)


def check_body(root, doc, inv, cur, reverse, note, line_tag):
    """Both parties and the tax total; returns (tax, taxable, lines)."""
    check_party(root, "cac:AccountingSupplierParty", doc["seller"], None, None)
    check_party(root, "cac:AccountingCustomerParty", doc["buyer"], "Tenant " + doc["tenant_id"],
                inv.get("tax_country"))
    tax, taxable = check_tax(root, doc, cur, reverse, note)
    lines = root.findall(line_tag, NS)
    eq("lines", len(lines), len(doc["lines"]))
    return tax, taxable, lines


def check_invoice(root, doc):
    eq("root", root.tag, "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice")
    cur = doc["currency"]
    reverse = bool(doc.get("reverse_charge"))
    note = doc.get("reverse_charge_note") if reverse else None
    eq("customization", text(root, "cbc:CustomizationID"), "urn:cen.eu:en16931:2017")
    eq("number", text(root, "cbc:ID"), doc["number_text"])
    eq("issue date", text(root, "cbc:IssueDate"), doc["issue_date"])
    eq("due date", text(root, "cbc:DueDate"), doc["due_date"])
    eq("type code", text(root, "cbc:InvoiceTypeCode"), "380")
    eq("currency", text(root, "cbc:DocumentCurrencyCode"), cur)
    eq("period start", text(root, "cac:InvoicePeriod/cbc:StartDate"), doc["period_start"][:10])
    if reverse:
        eq("reverse charge note", text(root, "cbc:Note"), note)
    eq("payment terms", text(root, "cac:PaymentTerms/cbc:Note"), doc["payment_terms"])
    tax, taxable, lines = check_body(root, doc, doc, cur, reverse, note, "cac:InvoiceLine")
    line_sum = Decimal(0)
    for x, l in zip(lines, doc["lines"]):
        eq("line id", text(x, "cbc:ID"), str(l["line"]))
        amt = money(x, "cbc:LineExtensionAmount", cur)
        eq("line %d amount" % l["line"], amt, micro(l["amount_micro"]))
        eq("line %d quantity" % l["line"], Decimal(text(x, "cbc:InvoicedQuantity")),
           Decimal(l["billing_quantity"]))
        eq("line %d price" % l["line"], Decimal(text(x, "cac:Price/cbc:PriceAmount")),
           micro(l["unit_price_micro"]))
        if not text(x, "cac:Item/cbc:Name").startswith(l["description"]):
            fail("line %d name %r" % (l["line"], text(x, "cac:Item/cbc:Name")))
        check_cat(x.find("cac:Item/cac:ClassifiedTaxCategory", NS), "line", l["tax_rate_bp"], reverse,
                  None)
        line_sum += amt
    check_totals(root, cur, micro(doc["net_micro"]), micro(doc["gross_micro"]),
                 micro(doc["total_micro"]), tax, taxable, line_sum)
    return len(lines)


def check_credit(root, doc, inv):
    eq("root", root.tag, "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote")
    cur = doc["currency"]
    reverse = bool(inv.get("reverse_charge"))
    note = inv.get("reverse_charge_note") if reverse else None
    eq("number", text(root, "cbc:ID"), doc["number_text"])
    eq("issue date", text(root, "cbc:IssueDate"), doc["issued_at"][:10])
    eq("type code", text(root, "cbc:CreditNoteTypeCode"), "381")
    eq("reason", text(root, "cbc:Note"), doc["reason"])
    eq("currency", text(root, "cbc:DocumentCurrencyCode"), cur)
    ref = "cac:BillingReference/cac:InvoiceDocumentReference/"
    eq("invoice referred to", text(root, ref + "cbc:ID"), doc["invoice_number_text"])
    eq("its issue date", text(root, ref + "cbc:IssueDate"), inv["issue_date"])
    tax, taxable, lines = check_body(root, doc, inv, cur, reverse, note, "cac:CreditNoteLine")
    line_sum = Decimal(0)
    for x, l in zip(lines, doc["lines"]):
        amt = money(x, "cbc:LineExtensionAmount", cur)
        eq("credited line amount", amt, micro(l["amount_micro"]))
        eq("credited invoice line", text(x, "cac:BillingReference/cac:BillingReferenceLine/cbc:ID"),
           str(l["invoice_line"]))
        check_cat(x.find("cac:Item/cac:ClassifiedTaxCategory", NS), "line", l["tax_rate_bp"], reverse,
                  None)
        line_sum += amt
    check_totals(root, cur, micro(doc["net_micro"]), micro(doc["total_micro"]),
                 micro(doc["total_micro"]), tax, taxable, line_sum)
    return len(lines)


def main():
    root = ET.parse(sys.argv[1]).getroot()
    doc = json.load(open(sys.argv[2], encoding="utf-8"))
    if len(sys.argv) > 3:
        n = check_credit(root, doc, json.load(open(sys.argv[3], encoding="utf-8")))
    else:
        n = check_invoice(root, doc)
    print("ok %d" % n)


main()
