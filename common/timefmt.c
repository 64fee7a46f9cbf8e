/* timefmt.c - clocks and RFC 3339 UTC formatting and parsing. */
#include "stratus/timefmt.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t st_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t st_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void split(int64_t us, time_t *sec, long *frac)
{
    *sec = (time_t)(us / 1000000);
    *frac = (long)(us % 1000000);
    if (*frac < 0) {
        *frac += 1000000;
        *sec -= 1;
    }
}

void st_time_format(int64_t us, char out[ST_TIME_LEN])
{
    time_t sec;
    long frac;
    struct tm tm;
    split(us, &sec, &frac);
    gmtime_r(&sec, &tm);
    strftime(out, ST_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm). */
static void civil(int64_t days, int *y, int *m, int *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static void two(char *o, int v)
{
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
}

int st_time_format_fast(int64_t us, char out[ST_TIME_LEN])
{
    time_t sec;
    long frac;
    split(us, &sec, &frac);
    int64_t days = (int64_t)sec / 86400, rem = (int64_t)sec % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int y, m, d;
    civil(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        st_time_format(us, out);
        return (int)strlen(out);
    }
    two(out, y / 100);
    two(out + 2, y % 100);
    out[4] = '-';
    two(out + 5, m);
    out[7] = '-';
    two(out + 8, d);
    out[10] = 'T';
    two(out + 11, (int)(rem / 3600));
    out[13] = ':';
    two(out + 14, (int)(rem / 60 % 60));
    out[16] = ':';
    two(out + 17, (int)(rem % 60));
    out[19] = 'Z';
    out[20] = 0;
    return 20;
}

void st_time_format_us(int64_t us, char out[ST_TIME_LEN])
{
    time_t sec;
    long frac;
    struct tm tm;
    char base[24];
    split(us, &sec, &frac);
    gmtime_r(&sec, &tm);
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, ST_TIME_LEN, "%s.%06ldZ", base, frac);
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return 0;
}

static int expect(const char **p, char c)
{
    if (**p != c)
        return -1;
    (*p)++;
    return 0;
}

int st_time_parse(const char *s, int64_t *us)
{
    const char *p = s;
    int Y, M, D, h, m, sec;
    if (digits(&p, 4, &Y) || expect(&p, '-') || digits(&p, 2, &M) || expect(&p, '-') ||
        digits(&p, 2, &D))
        return -1;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    if (digits(&p, 2, &h) || expect(&p, ':') || digits(&p, 2, &m) || expect(&p, ':') ||
        digits(&p, 2, &sec))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return -1;
    long frac = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (isdigit((unsigned char)*p)) {
            if (nd < 6) {
                frac = frac * 10 + (*p - '0');
                nd++;
            }
            p++;
        }
        if (nd == 0)
            return -1;
        while (nd++ < 6)
            frac *= 10;
    }
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (digits(&p, 2, &oh) || expect(&p, ':') || digits(&p, 2, &om) || oh > 23 || om > 59)
            return -1;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*p)
        return -1;
    struct tm tm = {.tm_year = Y - 1900,
                    .tm_mon = M - 1,
                    .tm_mday = D,
                    .tm_hour = h,
                    .tm_min = m,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    /* timegm normalises out-of-range days (Feb 30); refuse those. */
    struct tm back;
    gmtime_r(&t, &back);
    if (back.tm_mday != D && sec != 60)
        return -1;
    *us = ((int64_t)t - off) * 1000000 + frac;
    return 0;
}

int st_time_from_pg(const char *s, char out[ST_TIME_LEN])
{
    /* "YYYY-MM-DD HH:MM:SS[.ffffff]+00" */
    if (!s || strlen(s) < 22 || s[10] != ' ')
        return -1;
    const char *tz = strrchr(s, '+');
    if (!tz || strcmp(tz, "+00") != 0)
        return -1;
    memcpy(out, s, 10);
    out[10] = 'T';
    memcpy(out + 11, s + 11, 8);
    out[19] = 'Z';
    out[20] = 0;
    return 0;
}
