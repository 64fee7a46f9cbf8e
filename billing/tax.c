/*
 * tax.c - the tax of an invoice: which rate each line bears, reverse
 * charge, and the totals net / tax per rate / gross.
 *
 * Lines stay net. Each line's rate is, in order:
 *   1. 0, marked reverse charge, when the customer is a business (its
 *      account has a tax ID) in a country other than the seller's
 *      (invoice.seller_country): the customer accounts for the tax, and the
 *      invoice prints tax.reverse_charge_note;
 *   2. its plan version's tax_rate_bp, when the version has one;
 *   3. the rate of the customer's country in tax.rates (the seller's
 *      country when the tenant has no account); a country not listed: 0.
 * Rates are basis points (1900 = 19.00%). Per distinct rate the net is the
 * exact sum of its lines' (already rounded) amounts, and its tax is
 * net x rate / 10000 rounded ONCE to invoice.round_micro, halves away from
 * zero; the invoice's tax is the sum of those, gross = net + tax, and the
 * total due is the gross.
 */
#include "billing.h"
#include "money.h"
#include "rating.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bl_tax_rates_parse(const char *s, bl_tax_rate *out, int max)
{
    int n = 0;
    while (s && *s) {
        while (*s == ' ' || *s == ',')
            s++;
        if (!*s)
            break;
        if (n == max || !(s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z') || s[2] != '=')
            return -1;
        bl_tax_rate *r = &out[n];
        memcpy(r->country, s, 2);
        r->country[2] = 0;
        s += 3;
        /* a percentage with at most two decimals: "19", "7.7", "5.25" */
        int whole = 0, frac = 0, fd = 0, digits = 0;
        while (*s >= '0' && *s <= '9' && digits < 4) {
            whole = whole * 10 + (*s++ - '0');
            digits++;
        }
        if (!digits)
            return -1;
        if (*s == '.') {
            s++;
            while (*s >= '0' && *s <= '9' && fd < 2) {
                frac = frac * 10 + (*s++ - '0');
                fd++;
            }
            if (!fd)
                return -1;
        }
        if (fd == 1)
            frac *= 10;
        r->bp = whole * 100 + frac;
        if (r->bp > 10000 || (*s && *s != ',' && *s != ' '))
            return -1;
        for (int k = 0; k < n; k++)
            if (strcmp(out[k].country, r->country) == 0)
                return -1;
        n++;
    }
    return n;
}

void bl_rate_text(int bp, char *out, size_t n)
{
    if (bp % 100 == 0)
        snprintf(out, n, "%d%%", bp / 100);
    else if (bp % 10 == 0)
        snprintf(out, n, "%d.%d%%", bp / 100, (bp % 100) / 10);
    else
        snprintf(out, n, "%d.%02d%%", bp / 100, bp % 100);
}

static int country_rate(const bl_ctx *ctx, const char *country)
{
    for (int i = 0; i < ctx->ntax_rates; i++)
        if (strcmp(ctx->tax_rates[i].country, country) == 0)
            return ctx->tax_rates[i].bp;
    return 0;
}

int bl_tax(const bl_ctx *ctx, bl_invoice *inv)
{
    const bl_party *b = &inv->buyer;
    const char *home = ctx->seller_country;
    inv->reverse_charge =
        b->present && b->tax_id[0] && home[0] && b->country[0] && strcmp(b->country, home) != 0;
    const char *country = b->present && b->country[0] ? b->country : home;
    snprintf(inv->tax_country, sizeof inv->tax_country, "%s", country);
    int by_country = country_rate(ctx, country);
    inv->ntax = 0;
    inv->net = 0;
    for (size_t i = 0; i < inv->n; i++) {
        bl_line *l = &inv->lines[i];
        if (inv->reverse_charge)
            l->tax_bp = 0;
        else if (l->ver >= 0 && inv->vers[l->ver].tax_bp >= 0)
            l->tax_bp = inv->vers[l->ver].tax_bp;
        else
            l->tax_bp = by_country;
        int g = 0;
        while (g < inv->ntax && inv->tax[g].bp != l->tax_bp)
            g++;
        if (g == inv->ntax) {
            if (g == BL_MAX_TAX_RATES)
                return -1;
            inv->tax[g] = (bl_tax_group){.bp = l->tax_bp};
            inv->ntax++;
        }
        if (__builtin_add_overflow(inv->tax[g].net, l->amount, &inv->tax[g].net) ||
            __builtin_add_overflow(inv->net, l->amount, &inv->net))
            return -1;
    }
    /* rates in ascending order, for a stable document */
    for (int i = 1; i < inv->ntax; i++)
        for (int k = i; k > 0 && inv->tax[k - 1].bp > inv->tax[k].bp; k--) {
            bl_tax_group t = inv->tax[k];
            inv->tax[k] = inv->tax[k - 1];
            inv->tax[k - 1] = t;
        }
    inv->tax_total = 0;
    for (int g = 0; g < inv->ntax; g++) {
        inv->tax[g].tax =
            bl_round((__int128)inv->tax[g].net * inv->tax[g].bp, 10000, inv->round_micro);
        if (__builtin_add_overflow(inv->tax_total, inv->tax[g].tax, &inv->tax_total))
            return -1;
    }
    if (__builtin_add_overflow(inv->net, inv->tax_total, &inv->total))
        return -1;
    return 0;
}

void bl_tax_rule_text(const bl_invoice *inv, char *out, size_t n)
{
    char step[32];
    bl_money_text(inv->round_micro, bl_step_decimals(inv->round_micro), step, sizeof step);
    snprintf(out, n,
             "Tax: amounts on the lines are net. For each tax rate, the tax is the rate times the "
             "sum of the net amounts at that rate, rounded once to the nearest %s %s (halves away "
             "from zero); the total due is the net total plus the tax.",
             step, inv->currency);
}
