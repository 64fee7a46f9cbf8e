/*
 * batch.h - the sample batch a node posts to POST /v1/billing/ingest, parsed
 * and validated (the format is specified in billing/README.md).
 *
 * bl_batch_parse() is pure: no clock, no database. It checks the syntax
 * (400) and every field (422) and reduces each instance sample's VMM
 * counters to the ten totals billing keeps (bl_meter). A batch that fails
 * any check is refused whole, so nothing of it is ever stored.
 */
#ifndef BILLING_BATCH_H
#define BILLING_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "stratus/meters.h"

/* The cumulative counters kept per sample, in column order (stratus/meters.h). */
#define BL_METER_ENUM(NAME, idx, column, group, field) BL_##NAME = idx,
enum { ST_METERS(BL_METER_ENUM) BL_NMETERS };
#undef BL_METER_ENUM
/* Column names, also the meter names of the usage API. */
extern const char *const bl_meter_names[BL_NMETERS];

#define BL_MAX_SAMPLES 10000
#define BL_MAX_VCPUS 1024
#define BL_MAX_DEVICES 64
#define BL_FLAVOR_MAX 64

/* One NIC's bytes, by the network port it plugs into (counters.nics[].port_id). */
typedef struct bl_portc {
    char id[37];
    int64_t rx, tx; /* cumulative rx_bytes, tx_bytes */
} bl_portc;

typedef enum bl_kind { BL_KIND_INSTANCE, BL_KIND_STORAGE } bl_kind;

typedef struct bl_sample {
    bl_kind kind;
    int billable; /* state is active or paused */
    char tenant[37];
    char instance[37]; /* instance kind only */
    char boot[37];
    char flavor[BL_FLAVOR_MAX + 1];
    char state[16];
    int64_t seq;
    int64_t at_us;         /* sampled_at, microseconds since the epoch */
    int64_t c[BL_NMETERS]; /* cumulative since the VMM started */
    int64_t storage_bytes; /* storage kind only */
    int64_t disk_bytes;    /* instance kind: allocated disk bytes, -1 when not reported */
    /* Per port: ports_known is 1 when every NIC named its port (also with no
     * NIC at all), so these are all its NICs' bytes; 0 for an older sender. */
    int ports_known, nports;
    size_t port0;    /* parse time: index of its first port in bl_batch.pp */
    bl_portc *ports; /* nports of them, after parsing (the last member: fuzz_batch.c) */
} bl_sample;

typedef struct bl_batch {
    char batch_id[37];
    bl_sample *s;
    size_t n, cap;
    bl_portc *pp; /* every sample's ports */
    size_t npp, cappp;
} bl_batch;

/* Results of bl_batch_parse(). */
#define BL_OK 0
#define BL_ESYNTAX (-1)  /* not JSON: 400 invalid_json */
#define BL_EINVALID (-2) /* JSON, but not a valid batch: 422 invalid_batch */

/* Parses buf into b (which it initialises); on failure err says why. */
int bl_batch_parse(const char *buf, size_t len, bl_batch *b, char *err, size_t errlen);
void bl_batch_free(bl_batch *b);

/* 1 when s is a state the format knows; *billable set for active/paused. */
int bl_state_valid(const char *s, int *billable);
/* 1 when s is a valid flavor name: 1-64 of [A-Za-z0-9._-]. */
int bl_flavor_valid(const char *s);

#endif
