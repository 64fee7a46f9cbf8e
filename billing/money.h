/*
 * money.h - integer money: micro-units of the currency, exact rationals,
 * one rounding rule.
 *
 * Every amount billing stores or prints is an int64 count of micro-units
 * (1 EUR = 1,000,000). A line's amount is quantity x price / divisor with a
 * 128-bit numerator, rounded ONCE to a multiple of the configured step,
 * halves away from zero (so a credit rounds like the charge it reverses).
 */
#ifndef BILLING_MONEY_H
#define BILLING_MONEY_H

#include <stddef.h>
#include <stdint.h>

/* round(num / den) to a multiple of step; den > 0, step >= 1. */
int64_t bl_round(__int128 num, __int128 den, int64_t step);
/* Decimal places a step shows: 10000 -> 2, 1 -> 6 (step a power of ten). */
int bl_step_decimals(int64_t step);
/* micro-units as a decimal with `places` (0..6) digits: "-12.35". */
void bl_money_text(int64_t micro, int places, char *out, size_t n);
/* num/den rounded (halves away from zero) to `places` digits, for display. */
void bl_decimal_text(__int128 num, __int128 den, int places, char *out, size_t n);

#endif
