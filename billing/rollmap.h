/*
 * rollmap.h - the usage a batch adds to each (instance, hour), accumulated
 * in memory and written as one upsert at the end of the batch.
 *
 * Deltas may be negative: a late sample that splits an interval moves usage
 * from the successor's hour to its own (ingest.c). An entry also carries the
 * set of flavors the instance ran with in that hour (its instance-hours).
 * Keys are unique, which INSERT ... ON CONFLICT DO UPDATE requires of one
 * statement's rows.
 */
#ifndef BILLING_ROLLMAP_H
#define BILLING_ROLLMAP_H

#include "batch.h"

#include <stddef.h>
#include <stdint.h>

typedef struct roll_entry {
    char instance[37];
    char tenant[37];
    int64_t hour;
    int64_t d[BL_NMETERS];
    char (*fl)[BL_FLAVOR_MAX + 1]; /* flavors that ran (billable) in the hour */
    int nfl;
    int used;
} roll_entry;

typedef struct rollmap {
    roll_entry *e;
    size_t cap, n;
} rollmap;

void rollmap_init(rollmap *m, size_t expect);
void rollmap_free(rollmap *m);
void rollmap_clear(rollmap *m);
/* Adds d[] (scaled by sign, +1 or -1) to (instance, hour). */
void rollmap_add(rollmap *m, const char *instance, const char *tenant, int64_t hour,
                 const int64_t *d, int sign);
/* Records that the instance ran with this flavor in the hour (a set). */
void rollmap_flavor(rollmap *m, const char *instance, const char *tenant, int64_t hour,
                    const char *flavor);
/* Removes a flavor from an entry's set. */
void rollmap_flavor_drop(roll_entry *e, const char *flavor);
/* Entries in key order (instance, hour), for lock-order-stable writes. */
roll_entry **rollmap_sorted(rollmap *m, size_t *n);

#endif
