/*
 * bus.h - port I/O and MMIO dispatch for exits.
 *
 * A bus is a short list of [base, base+len) ranges, each with a handler.
 * vCPU threads look ranges up under a read lock; PCI BAR moves (a guest
 * writing a BAR) take the write lock. Ranges never overlap: adding one that
 * would is refused.
 */
#ifndef VMM_BUS_H
#define VMM_BUS_H

#include <pthread.h>
#include <stdint.h>

#define VMM_BUS_MAX 64

/* off is relative to the range base; data holds len (1..8) bytes. */
typedef void (*vmm_io_fn)(void *opaque, uint64_t off, uint8_t *data, uint32_t len, int is_write);

typedef struct vmm_bus_range {
    uint64_t base, len;
    vmm_io_fn fn;
    void *opaque;
} vmm_bus_range;

typedef struct vmm_bus {
    pthread_rwlock_t lock;
    int n;
    vmm_bus_range r[VMM_BUS_MAX];
} vmm_bus;

void vmm_bus_init(vmm_bus *b);
int vmm_bus_add(vmm_bus *b, uint64_t base, uint64_t len, vmm_io_fn fn, void *opaque);
/* Removes the range starting at base owned by opaque; 0 or -ENOENT. */
int vmm_bus_del(vmm_bus *b, uint64_t base, void *opaque);
/* 0 when a handler took the access, -1 when nothing is mapped there. */
int vmm_bus_access(vmm_bus *b, uint64_t addr, uint8_t *data, uint32_t len, int is_write);

#endif
