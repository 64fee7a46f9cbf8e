/*
 * money.c - exact integer money arithmetic (money.h).
 *
 * Rounding works on magnitudes: q = (2|n| + d) / 2d is |n|/d rounded half
 * up, then the sign is put back, which is "half away from zero". The
 * products fed in here stay far below 2^127 (quantities < 2^63, prices
 * < 2^40), and the results fit int64 for any real invoice.
 */
#include "money.h"

#include <stdio.h>
#include <string.h>

static __int128 div_round(__int128 n, __int128 d)
{
    int neg = n < 0;
    __int128 m = neg ? -n : n;
    __int128 q = (2 * m + d) / (2 * d);
    return neg ? -q : q;
}

int64_t bl_round(__int128 num, __int128 den, int64_t step)
{
    return (int64_t)(div_round(num, den * step) * step);
}

int bl_step_decimals(int64_t step)
{
    int d = 6;
    while (step >= 10 && d > 0) {
        step /= 10;
        d--;
    }
    return d;
}

/* |v| < 10^38 as decimal digits. */
static void u128_text(unsigned __int128 v, char *out, size_t n)
{
    char tmp[48];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v && k < 47);
    size_t i = 0;
    while (k > 0 && i + 1 < n)
        out[i++] = tmp[--k];
    out[i] = 0;
}

void bl_decimal_text(__int128 num, __int128 den, int places, char *out, size_t n)
{
    __int128 scale = 1;
    for (int i = 0; i < places; i++)
        scale *= 10;
    __int128 q = div_round(num * scale, den);
    int neg = q < 0;
    unsigned __int128 m = (unsigned __int128)(neg ? -q : q);
    char ip[48], fp[16];
    u128_text(m / (unsigned __int128)scale, ip, sizeof ip);
    u128_text(m % (unsigned __int128)scale, fp, sizeof fp);
    if (places == 0) {
        snprintf(out, n, "%s%s", neg ? "-" : "", ip);
        return;
    }
    char pad[16];
    size_t fl = strlen(fp);
    memset(pad, '0', sizeof pad);
    pad[(size_t)places > fl ? (size_t)places - fl : 0] = 0;
    snprintf(out, n, "%s%s.%s%s", neg ? "-" : "", ip, pad, fp);
}

void bl_money_text(int64_t micro, int places, char *out, size_t n)
{
    bl_decimal_text(micro, 1000000, places, out, n);
}
