/*
 * aml.h - a small ACPI Machine Language encoder: enough of ACPI 6.x
 * section 20 (names, integers, packages, buffers, scopes, devices) and
 * section 6.4 (resource descriptors) to write a DSDT.
 *
 * Everything goes into one fixed buffer. Scopes, devices, buffers and
 * packages are opened and closed like brackets; closing one writes its
 * PkgLength in the fewest bytes that hold it. An overflow or an unbalanced
 * close sets b->err and makes every later call a no-op, so a caller checks
 * once, at the end.
 */
#ifndef VMM_AML_H
#define VMM_AML_H

#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 8

typedef struct aml {
    uint8_t *p;
    size_t len, cap;
    size_t open[AML_MAX_DEPTH]; /* where each open object's contents start */
    int depth;
    int err;
} aml;

void aml_init(aml *b, uint8_t *buf, size_t cap);
/* A name path: "\\_SB_", "PCI0", "\\_S5_" (4-character segments, '\\' for the root). */
void aml_name(aml *b, const char *path);
/* The shortest integer encoding: Zero, One, Byte, Word, DWord or QWord. */
void aml_int(aml *b, uint64_t v);
/* An EISA ID ("PNP0A03") as the DWord the EisaId() macro makes. */
void aml_eisaid(aml *b, const char *id);
/* A string constant ("ACPI0013"). */
void aml_string(aml *b, const char *s);
/* Name (path, ...): follow with one data object. */
void aml_name_decl(aml *b, const char *path);

/* Scope (path) { ... }, Device (path) { ... }, Package (n) { ... },
 * Buffer () { ... } (its size is written at close); each ends with aml_close. */
void aml_scope(aml *b, const char *path);
void aml_device(aml *b, const char *path);
void aml_package(aml *b, uint8_t nelem);
/* Method (path, nargs, NotSerialized) { ... } */
void aml_method(aml *b, const char *path, uint8_t nargs);
/* Notify (path, value) */
void aml_notify(aml *b, const char *path, uint8_t value);
void aml_buffer(aml *b);
void aml_close(aml *b);

/* Resource descriptors, for use inside a buffer (a ResourceTemplate). */
void aml_res_io(aml *b, uint16_t base, uint8_t len); /* IO (Decode16, base, base, 1, len) */
void aml_res_irq(aml *b, uint8_t irq);               /* IRQNoFlags () {irq} */
/* Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) {gsi} */
void aml_res_gsi_edge(aml *b, uint32_t gsi);
void aml_res_bus(aml *b, uint16_t first, uint16_t last);       /* WordBusNumber, fixed range */
void aml_res_io_window(aml *b, uint16_t min, uint16_t max);    /* WordIO, fixed range */
void aml_res_mem32_window(aml *b, uint32_t min, uint32_t max); /* DWordMemory, fixed range */
void aml_res_end(aml *b);                                      /* EndTag, checksum 0 */

#endif
