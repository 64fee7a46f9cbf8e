/*
 * period.c - hours, months and invoice periods, always in UTC.
 *
 * Times are microseconds since the Unix epoch (int64), as in timefmt.h. A
 * month is named by its first microsecond; invoices say "2026-10". All
 * times billing handles are after 2000 (batch.c refuses earlier ones), so
 * flooring never meets negative numbers.
 */
#include "billing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t bl_hour_floor(int64_t us)
{
    return us - us % BL_US_HOUR;
}

static int64_t ymd(int y, int m, int d)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
    return (int64_t)timegm(&tm) * 1000000;
}

int64_t bl_month_floor(int64_t us)
{
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    return ymd(tm.tm_year + 1900, tm.tm_mon + 1, 1);
}

int64_t bl_month_add(int64_t month_us, int n)
{
    time_t s = (time_t)(month_us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    int m = tm.tm_year * 12 + tm.tm_mon + n;
    return ymd(m / 12 + 1900, m % 12 + 1, 1);
}

int bl_month_hours(int64_t month_us)
{
    return (int)((bl_month_add(month_us, 1) - month_us) / BL_US_HOUR);
}

int bl_month_parse(const char *s, int64_t *us)
{
    if (strlen(s) != 7 || s[4] != '-')
        return -1;
    for (int i = 0; i < 7; i++)
        if (i != 4 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int y = atoi(s), m = atoi(s + 5);
    if (y < 2000 || y > 2199 || m < 1 || m > 12)
        return -1;
    *us = ymd(y, m, 1);
    return 0;
}

void bl_month_format(int64_t us, char out[8])
{
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, 8, "%04u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u);
}

void bl_date_format(int64_t us, char out[11])
{
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u);
}

int bl_pg_time(const char *s, int64_t *us)
{
    int y, mo, d, h = 0, mi = 0, se = 0;
    if (!s || sscanf(s, "%4d-%2d-%2d", &y, &mo, &d) != 3)
        return -1;
    if (strlen(s) > 10 && sscanf(s + 11, "%2d:%2d:%2d", &h, &mi, &se) != 3)
        return -1;
    /* Sessions run in UTC (db.c), so any offset printed is +00. */
    *us = ymd(y, mo, d) + ((int64_t)h * 3600 + mi * 60 + se) * 1000000;
    return 0;
}
