/*
 * ingest.h - the working state of one batch while it is applied, shared by
 * ingest.c (the algorithm) and ingest_sql.c (the statements it issues).
 */
#ifndef BILLING_INGEST_H
#define BILLING_INGEST_H

#include "billing.h"
#include "rollmap.h"
#include "sqlbuf.h"

/* A sample's per-port bytes (ingest_ports.c): known 0 when its NICs did not
 * name their ports. Owned (malloc'd p) in heads and neighbours. */
typedef struct ing_ports {
    int known, n;
    bl_portc *p;
} ing_ports;

/* Per-port usage of one interval, summed per key before it is written. */
typedef struct ing_prow {
    char instance[37], tenant[37], port[37];
    int64_t hour, rx, tx;
} ing_prow;

/* One (instance, boot) stream of the batch and its head in billing.streams. */
typedef struct ing_stream {
    bl_sample **s; /* its samples, ascending seq, no repeats */
    size_t n;
    int exists; /* head row loaded */
    int changed;
    int64_t min_seq, last_seq;
    int64_t last_at;       /* 0: unchanged by this batch */
    int64_t c[BL_NMETERS]; /* counters at last_seq */
    int64_t billed_hour;   /* 0: none */
    char billed_flavor[BL_FLAVOR_MAX + 1];
    ing_ports ports; /* at last_seq */
} ing_stream;

/* A stored sample next to a late one. */
typedef struct ing_neighbour {
    int found;
    int64_t seq, at;
    int64_t c[BL_NMETERS];
    ing_ports ports;
} ing_neighbour;

typedef struct ing {
    bl_ctx *ctx;
    st_db *db;
    const char *node;
    bl_batch *b;
    bl_sample **v; /* live instance samples, sorted (instance, boot, seq) */
    size_t nv;
    ing_stream *st;
    size_t nst;
    bl_sample **stor; /* live storage samples */
    size_t nstor;
    int pre_dups, pre_stale;
    /* Per transaction attempt: */
    int64_t open_month; /* first month not yet issued; 0 when none was */
    rollmap roll;
    ing_prow *prow; /* per-port deltas */
    size_t nprow, capprow;
    bl_sample **ins; /* appended samples to insert in bulk */
    size_t nins;
    int accepted, dups, stale;
    int missing_partition; /* COPY found no partition for a row */
    bl_sample **late;      /* samples below their stream's head, in stream order */
    ing_neighbour *pred, *succ;
    size_t nlate, caplate, late_pos;
} ing;

/* Period a usage hour is billed in: its month, or the open month if that is later. */
int64_t ing_period(const ing *g, int64_t hour);

/* ---- ingest_sql.c ---- */
int ing_sql_load_heads(ing *g);
int ing_sql_insert_samples(ing *g, bl_sample **s, size_t n);
/* For each g->late[i]: its stored predecessor (seq <= its seq) and successor. */
int ing_sql_neighbours(ing *g);
int ing_sql_update_heads(ing *g);
int ing_sql_write_rollups(ing *g);
int ing_sql_write_storage(ing *g);
int ing_sql_write_disks(ing *g);

/* ---- ingest_ports.c ---- */
extern const ing_ports ing_ports_zero; /* a stream's start: known, no bytes */
ing_ports ing_ports_of(const bl_sample *s);
void ing_ports_set(ing_ports *dst, const ing_ports *src); /* an owned copy */
void ing_ports_free(ing_ports *p);
/* From the three array columns (NULL: unknown); 0 or -1. */
int ing_ports_from_pg(const char *ids, const char *rx, const char *tx, ing_ports *out);
/* The three array literals of p ("{...}"). */
void ing_ports_text(const ing_ports *p, sb *ids, sb *rx, sb *tx);
/* Adds sign x the per-port usage of the interval (from, to] to hour. */
void ing_port_delta(ing *g, const bl_sample *who, int64_t hour, const ing_ports *from,
                    const ing_ports *to, int sign);
int ing_sql_write_ports(ing *g);

#endif
