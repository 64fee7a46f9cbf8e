/*
 * guest.h - the Stratus test guest's kernel: shared types, port and MMIO
 * accessors, and the interfaces between its files.
 *
 * The guest is freestanding (no libc), runs identity-mapped (virtual ==
 * physical for the first 4 GiB and for every MMIO window it maps), and keeps
 * its ring-0 work small: this host emulates guest ring 0 instruction by
 * instruction, so loops over data run in ring 3 through ring3_call().
 * Only the bootstrap processor runs drivers; application processors only
 * check in (scen_smp.c).
 */
#ifndef GUEST_H
#define GUEST_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long s64;
typedef unsigned long uptr;
typedef unsigned long size_t;

#define NULL ((void *)0)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + (a)-1) & ~((u64)(a)-1))

/* Exit values written to the debug-exit port 0xf4 (contract, README.md). */
#define GUEST_EXIT_PASS 0x10
#define GUEST_EXIT_FAIL 0x11

/* ---- port I/O and MMIO ---- */
static inline void outb(u16 port, u8 v)
{
    __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outw(u16 port, u16 v)
{
    __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outl(u16 port, u32 v)
{
    __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}
static inline u8 inb(u16 port)
{
    u8 v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline u16 inw(u16 port)
{
    u16 v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline u32 inl(u16 port)
{
    u32 v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline u8 mmio_read8(volatile void *p)
{
    return *(volatile u8 *)p;
}
static inline u16 mmio_read16(volatile void *p)
{
    return *(volatile u16 *)p;
}
static inline u32 mmio_read32(volatile void *p)
{
    return *(volatile u32 *)p;
}
static inline void mmio_write8(volatile void *p, u8 v)
{
    *(volatile u8 *)p = v;
}
static inline void mmio_write16(volatile void *p, u16 v)
{
    *(volatile u16 *)p = v;
}
static inline void mmio_write32(volatile void *p, u32 v)
{
    *(volatile u32 *)p = v;
}

/* x86 keeps stores ordered for write-back memory: a compiler barrier is the
 * write barrier; the full barrier is a locked add (no mfence: SSE2). */
#define barrier() __asm__ volatile("" ::: "memory")
static inline void mb(void)
{
    __asm__ volatile("lock; addl $0,(%%rsp)" ::: "memory", "cc");
}
static inline void cpu_relax(void)
{
    __asm__ volatile("pause" ::: "memory");
}
static inline u64 rdtsc(void)
{
    u32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((u64)hi << 32) | lo;
}
static inline void cpuid(u32 leaf, u32 sub, u32 *a, u32 *b, u32 *c, u32 *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
static inline u64 rdmsr(u32 msr)
{
    u32 lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((u64)hi << 32) | lo;
}
static inline void wrmsr(u32 msr, u64 v)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((u32)v), "d"((u32)(v >> 32)));
}
static inline void irq_enable(void)
{
    __asm__ volatile("sti" ::: "memory");
}
static inline void irq_disable(void)
{
    __asm__ volatile("cli" ::: "memory");
}

/* ---- lib.c: memory, strings, the command line, the bump allocator ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
int parse_u64(const char *s, u64 *out);
void args_parse(const char *cmdline);
const char *arg_str(const char *key);        /* NULL when absent */
u64 arg_u64(const char *key, u64 dflt);      /* dflt when absent or not a number */
void *kalloc(size_t size, size_t align);     /* zeroed; fails the run when out of heap */
void kzero(void *p, size_t n);               /* BSP, ring 0: large ranges via ring 3 */
u32 fnv1a32(u32 h, const void *p, size_t n); /* start with h = 0x811c9dc5 */
#define FNV1A32_INIT 0x811c9dc5u

/* ---- console.c: COM1, printf, the RESULT line and the exit port ---- */
void serial_init(void);
int serial_getc(void); /* a byte COM1 received, or -1 when none is there */
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void data(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* "DATA " + fmt + "\n" */
extern const char *g_scenario;
__attribute__((noreturn)) void guest_pass(void);
/* Prints the PASS line, then runs fn, which ends the machine some other way
 * (an ACPI power-off); if fn returns, exits with the FAIL value. */
__attribute__((noreturn)) void guest_pass_then(void (*fn)(void));
__attribute__((noreturn, format(printf, 1, 2))) void guest_fail(const char *fmt, ...);
__attribute__((noreturn)) void guest_exit(u32 value);

/* ---- cpu.c: descriptor tables, traps, LAPIC, PIC, time, ring 3 ---- */
void cpu_init(void);    /* GDT/TSS/IDT, PIC masked, LAPIC on */
void cpu_ap_init(void); /* IDT on an application processor */
u32 lapic_id(void);
void lapic_write(u32 reg, u32 v);
u32 lapic_read(u32 reg);
extern volatile u32 g_irq_count[256];
int irq_alloc_vectors(int n); /* consecutive vectors from 0x40, -1 if none */
u32 irq_count_range(int first, int n);
/* fn runs in the interrupt, before the EOI (a level source is quieted there). */
void irq_set_handler(int vector, void (*fn)(int vector));
extern u64 g_tsc_khz;
extern const char *g_tsc_source;
void tsc_calibrate(void); /* idempotent */
u64 deadline_ms(u64 ms);  /* TSC value ms from now */
int expired(u64 deadline);
void delay_us(u64 us);
void map_mmio(u64 phys, u64 len); /* identity map with caching off */
typedef u64 (*ring3_fn)(u64 arg);
u64 ring3_call(ring3_fn fn, u64 arg); /* runs fn(arg) in ring 3, IF=0 */

/* ---- pci.c: configuration mechanism 1, BARs, capabilities, MSI-X ---- */
#define PCI_MAX_DEVS 32
struct pci_dev {
    u8 bus, dev, fn;
    u16 vendor, device;
    u32 class_rev; /* config 0x08 */
    u64 bar[6], bar_size[6];
    u8 bar_is_io[6], bar_is_64[6], bar_assigned_by_guest[6];
};
extern struct pci_dev g_pci[PCI_MAX_DEVS];
extern int g_pci_count;
u32 pci_read32(const struct pci_dev *d, u8 off);
u16 pci_read16(const struct pci_dev *d, u8 off);
u8 pci_read8(const struct pci_dev *d, u8 off);
void pci_write32(const struct pci_dev *d, u8 off, u32 v);
void pci_write16(const struct pci_dev *d, u8 off, u16 v);
int pci_scan(void); /* fills g_pci; assigns missing BARs */
struct pci_dev *pci_find(u16 vendor, u16 device);
void pci_enable(struct pci_dev *d); /* memory space + bus mastering */
u8 pci_find_cap(const struct pci_dev *d, u8 id, u8 start);
volatile u8 *pci_bar_ptr(struct pci_dev *d, int bar, u64 off, u64 len);

/* ---- virtio.c: virtio-pci modern transport and split virtqueues ---- */
#include "virtio.h"

/* ---- scenarios ---- */
void scen_boot(u32 start_info);
void scen_pci(void);
void scen_cpu(void);
void scen_count(void);
void scen_rng(void);
void scen_blk(void);
void scen_net(void);
void scen_dhcp(void);
void scen_smp(void);
void scen_hostile(void);
void scen_power(void);
void scen_reset(void);
void ap_main(u32 apic_id);

/* boot.S symbols */
extern char ap_tramp_start[], ap_tramp_end[];
extern u64 pml4[];
extern char __image_start[], __image_end[];

#endif
