/*
 * rollmap.c - open-addressing hash map of (instance, hour) -> deltas.
 *
 * Linear probing, load factor kept under 1/2, FNV-1a over the instance UUID
 * text mixed with the hour. Only ever grows within a batch; cleared between
 * transaction attempts.
 */
#include "rollmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash(const char *inst, int64_t hour)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = inst; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h ^= (uint64_t)hour * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

void rollmap_init(rollmap *m, size_t expect)
{
    size_t cap = 64;
    while (cap < expect * 2 + 2)
        cap *= 2;
    m->e = calloc(cap, sizeof *m->e);
    if (!m->e)
        abort();
    m->cap = cap;
    m->n = 0;
}

static void free_flavors(rollmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->e[i].fl);
}

void rollmap_free(rollmap *m)
{
    if (m->e)
        free_flavors(m);
    free(m->e);
    memset(m, 0, sizeof *m);
}

void rollmap_clear(rollmap *m)
{
    free_flavors(m);
    memset(m->e, 0, m->cap * sizeof *m->e);
    m->n = 0;
}

static roll_entry *slot(roll_entry *e, size_t cap, const char *inst, int64_t hour)
{
    size_t i = hash(inst, hour) & (cap - 1);
    while (e[i].used && !(e[i].hour == hour && strcmp(e[i].instance, inst) == 0))
        i = (i + 1) & (cap - 1);
    return &e[i];
}

static void grow(rollmap *m)
{
    size_t ncap = m->cap * 2;
    roll_entry *ne = calloc(ncap, sizeof *ne);
    if (!ne)
        abort();
    for (size_t i = 0; i < m->cap; i++)
        if (m->e[i].used)
            *slot(ne, ncap, m->e[i].instance, m->e[i].hour) = m->e[i];
    free(m->e);
    m->e = ne;
    m->cap = ncap;
}

static roll_entry *get(rollmap *m, const char *instance, const char *tenant, int64_t hour)
{
    if ((m->n + 1) * 2 > m->cap)
        grow(m);
    roll_entry *e = slot(m->e, m->cap, instance, hour);
    if (!e->used) {
        e->used = 1;
        memcpy(e->instance, instance, 37);
        memcpy(e->tenant, tenant, 37);
        e->hour = hour;
        m->n++;
    }
    return e;
}

void rollmap_add(rollmap *m, const char *instance, const char *tenant, int64_t hour,
                 const int64_t *d, int sign)
{
    roll_entry *e = get(m, instance, tenant, hour);
    for (int k = 0; k < BL_NMETERS; k++)
        e->d[k] += sign * d[k];
}

void rollmap_flavor(rollmap *m, const char *instance, const char *tenant, int64_t hour,
                    const char *flavor)
{
    roll_entry *e = get(m, instance, tenant, hour);
    for (int i = 0; i < e->nfl; i++)
        if (strcmp(e->fl[i], flavor) == 0)
            return;
    e->fl = realloc(e->fl, (size_t)(e->nfl + 1) * sizeof *e->fl);
    if (!e->fl)
        abort();
    snprintf(e->fl[e->nfl++], sizeof e->fl[0], "%s", flavor);
}

void rollmap_flavor_drop(roll_entry *e, const char *flavor)
{
    for (int i = 0; i < e->nfl; i++)
        if (strcmp(e->fl[i], flavor) == 0) {
            memmove(e->fl[i], e->fl[i + 1], (size_t)(e->nfl - i - 1) * sizeof e->fl[0]);
            e->nfl--;
            return;
        }
}

static int cmp(const void *a, const void *b)
{
    const roll_entry *x = *(roll_entry *const *)a, *y = *(roll_entry *const *)b;
    int c = strcmp(x->instance, y->instance);
    if (c)
        return c;
    return x->hour < y->hour ? -1 : x->hour > y->hour;
}

roll_entry **rollmap_sorted(rollmap *m, size_t *n)
{
    roll_entry **v = malloc((m->n ? m->n : 1) * sizeof *v);
    if (!v)
        abort();
    size_t k = 0;
    for (size_t i = 0; i < m->cap; i++)
        if (m->e[i].used)
            v[k++] = &m->e[i];
    qsort(v, k, sizeof *v, cmp);
    *n = k;
    return v;
}
