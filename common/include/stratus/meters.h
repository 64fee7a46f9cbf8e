/*
 * meters.h - the metering counters, defined once.
 *
 * The VMM counts them (compute-node/vmm/counters.c), the agent ships its
 * counter document to billing, and billing reduces each document to these
 * ten totals (billing/batch.c), stores them in columns of the same names
 * (billing/ingest_sql.c, usage.c) and names them so in the usage API.
 *
 * ST_METERS(X) calls X(NAME, idx, column, group, field) once per counter,
 * in billing's column order:
 *   NAME    the enum name's suffix (billing: BL_<NAME>)
 *   idx     its index, a literal (SQL aliases such as c0..c9 are made of it)
 *   column  billing's column, also the usage API's meter name
 *   group   which array of the VMM's counter document holds it: vcpus,
 *           nics or disks (summed over the entries)
 *   field   the key in those entries, also the VMM's stats member
 * Invariants: idx counts 0, 1, ... in list order; every group is one of
 * the three; a column is never renamed (the migrations name them).
 * Adding a counter here needs a migration adding its columns.
 */
#ifndef STRATUS_METERS_H
#define STRATUS_METERS_H

#define ST_METERS(X)                                                                               \
    X(CPU_TIME_NS, 0, cpu_time_ns, vcpus, cpu_time_ns)                                             \
    X(CPU_CYCLES, 1, cpu_cycles, vcpus, cycles)                                                    \
    X(RX_BYTES, 2, rx_bytes, nics, rx_bytes)                                                       \
    X(RX_PACKETS, 3, rx_packets, nics, rx_packets)                                                 \
    X(TX_BYTES, 4, tx_bytes, nics, tx_bytes)                                                       \
    X(TX_PACKETS, 5, tx_packets, nics, tx_packets)                                                 \
    X(DISK_READ_BYTES, 6, disk_read_bytes, disks, read_bytes)                                      \
    X(DISK_READ_OPS, 7, disk_read_ops, disks, read_ops)                                            \
    X(DISK_WRITE_BYTES, 8, disk_write_bytes, disks, write_bytes)                                   \
    X(DISK_WRITE_OPS, 9, disk_write_ops, disks, write_ops)

/* ST_METER_IF(group, want, ...): the rest when group is want, else nothing
 * (so an X callback can pick one group's counters). */
#define ST_METER_IF(group, want, ...) ST_METER_IF_##group##_##want(__VA_ARGS__)
#define ST_METER_IF_vcpus_vcpus(...) __VA_ARGS__
#define ST_METER_IF_vcpus_nics(...)
#define ST_METER_IF_vcpus_disks(...)
#define ST_METER_IF_nics_vcpus(...)
#define ST_METER_IF_nics_nics(...) __VA_ARGS__
#define ST_METER_IF_nics_disks(...)
#define ST_METER_IF_disks_vcpus(...)
#define ST_METER_IF_disks_nics(...)
#define ST_METER_IF_disks_disks(...) __VA_ARGS__

/* ST_METER_SEP(idx): "" before the first meter, ", " before the others,
 * so a callback can write a list with no stray comma. */
#define ST_METER_SEP(idx) ST_METER_2ND(ST_METER_SEP_##idx, ", ", ~)
#define ST_METER_SEP_0 ~, ""
#define ST_METER_2ND(...) ST_METER_2ND_(__VA_ARGS__)
#define ST_METER_2ND_(a, b, ...) b

/* Ready-made callbacks: the column name as a string, and ", column". */
#define ST_METER_COLUMN(NAME, idx, column, group, field) #column,
#define ST_METER_SQL_COL(NAME, idx, column, group, field) ", " #column

#endif
