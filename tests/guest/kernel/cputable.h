/* cputable.h - CPUs from the ACPI MADT or the MP table, and ACPI tables (cputable.c). */
#ifndef GUEST_CPUTABLE_H
#define GUEST_CPUTABLE_H

#define CPU_TABLE_MAX 32
enum { CPU_TABLE_ANY, CPU_TABLE_MADT, CPU_TABLE_MP, CPU_TABLE_NONE };
struct cpu_table {
    int want;           /* in: which table to read */
    const char *source; /* "madt", "mp" or "none" */
    int n;
    u32 ids[CPU_TABLE_MAX]; /* APIC ids, in table order */
};
/* For ring3_call(): fills the struct the argument points to; returns n. */
u64 cpu_table_find(u64 arg);
/* Little-endian fields of a table, at any alignment. */
static inline u16 rd16(const u8 *p)
{
    u16 v;
    memcpy(&v, p, 2);
    return v;
}
static inline u32 rd32(const u8 *p)
{
    u32 v;
    memcpy(&v, p, 4);
    return v;
}
static inline u64 rd64(const u8 *p)
{
    u64 v;
    memcpy(&v, p, 8);
    return v;
}

/* Ring 3: the checksummed ACPI table with this signature ("FACP", "APIC",
 * "DSDT" through the FADT, ...), or NULL. */
const u8 *acpi_table(const char *sig);

#endif
