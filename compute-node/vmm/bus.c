/* bus.c - range lookup for port I/O and MMIO exits (see bus.h). */
#include "bus.h"

#include <errno.h>
#include <string.h>

void vmm_bus_init(vmm_bus *b)
{
    memset(b, 0, sizeof *b);
    pthread_rwlock_init(&b->lock, NULL);
}

int vmm_bus_add(vmm_bus *b, uint64_t base, uint64_t len, vmm_io_fn fn, void *opaque)
{
    int rc = 0;
    if (len == 0 || base + len < base)
        return -EINVAL;
    pthread_rwlock_wrlock(&b->lock);
    if (b->n == VMM_BUS_MAX) {
        rc = -ENOSPC;
        goto out;
    }
    for (int i = 0; i < b->n; i++) {
        if (base < b->r[i].base + b->r[i].len && b->r[i].base < base + len) {
            rc = -EEXIST;
            goto out;
        }
    }
    b->r[b->n++] = (vmm_bus_range){base, len, fn, opaque};
out:
    pthread_rwlock_unlock(&b->lock);
    return rc;
}

int vmm_bus_del(vmm_bus *b, uint64_t base, void *opaque)
{
    int rc = -ENOENT;
    pthread_rwlock_wrlock(&b->lock);
    for (int i = 0; i < b->n; i++) {
        if (b->r[i].base == base && b->r[i].opaque == opaque) {
            b->r[i] = b->r[--b->n];
            rc = 0;
            break;
        }
    }
    pthread_rwlock_unlock(&b->lock);
    return rc;
}

int vmm_bus_access(vmm_bus *b, uint64_t addr, uint8_t *data, uint32_t len, int is_write)
{
    pthread_rwlock_rdlock(&b->lock);
    for (int i = 0; i < b->n; i++) {
        vmm_bus_range *r = &b->r[i];
        if (addr >= r->base && addr - r->base < r->len) {
            vmm_io_fn fn = r->fn;
            void *opaque = r->opaque;
            uint64_t off = addr - r->base;
            pthread_rwlock_unlock(&b->lock);
            fn(opaque, off, data, len, is_write);
            return 0;
        }
    }
    pthread_rwlock_unlock(&b->lock);
    return -1;
}
