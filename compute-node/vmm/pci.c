/*
 * pci.c - configuration mechanism 1 and BAR mapping (see pci.h).
 *
 * 0xCF8 holds {enable:1, reserved:7, bus:8, device:5, function:3, reg:8};
 * only 32-bit writes to it latch. Reads of absent devices (other buses,
 * functions other than 0, empty slots) return all ones, which is how a guest
 * learns a slot is empty.
 */
#include "pci.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "stratus/log.h"

struct vmm_pci {
    vmm_vm *vm;
    pthread_mutex_t lock;
    uint32_t addr;
    vmm_pci_dev *devs[VMM_PCI_MAX_DEVS];
    vmm_pci_dev bridge;
    uint64_t next_mmio;
};

void vmm_pci_set16(vmm_pci_dev *d, uint32_t off, uint16_t v)
{
    memcpy(&d->cfg[off], &v, 2);
}

void vmm_pci_set32(vmm_pci_dev *d, uint32_t off, uint32_t v)
{
    memcpy(&d->cfg[off], &v, 4);
}

void vmm_pci_bar(vmm_pci_dev *d, int n, uint32_t size, vmm_io_fn io)
{
    d->bar_size[n] = size;
    d->bar_io[n] = io;
    uint32_t mask = ~(size - 1);
    memcpy(&d->wmask[0x10 + 4 * n], &mask, 4);
    vmm_pci_set32(d, 0x10 + 4 * (uint32_t)n, 0); /* 32-bit, non-prefetchable memory */
}

static uint32_t bar_addr(vmm_pci_dev *d, int n)
{
    uint32_t v;
    memcpy(&v, &d->cfg[0x10 + 4 * n], 4);
    return v & ~0xfu;
}

/* Brings the MMIO bus in line with the BARs and the memory-enable bit. */
static void remap_bars(vmm_vm *vm, vmm_pci_dev *d)
{
    uint16_t cmd;
    memcpy(&cmd, &d->cfg[4], 2);
    for (int n = 0; n < 6; n++) {
        if (!d->bar_size[n])
            continue;
        uint32_t a = bar_addr(d, n);
        uint32_t want = a;
        if (!(cmd & 2) || a == 0 || a == (~(d->bar_size[n] - 1) & ~0xfu) ||
            (uint64_t)a + d->bar_size[n] > VMM_PCI_MMIO_END)
            want = 0; /* decoding off, unassigned, mid-sizing or out of the window */
        if (want == d->bar_mapped[n])
            continue;
        uint32_t old = d->bar_mapped[n];
        if (old)
            vmm_bus_del(&vm->mmio, old, d);
        d->bar_mapped[n] = 0;
        if (want && vmm_bus_add(&vm->mmio, want, d->bar_size[n], d->bar_io[n], d) == 0)
            d->bar_mapped[n] = want;
        else if (want)
            st_warn("vmm.pci", "00:%02x.0 BAR%d at %#x overlaps another range; not mapped", d->slot,
                    n, want);
        if (d->bar_moved)
            d->bar_moved(d, n, old, d->bar_mapped[n]);
    }
}

static vmm_pci_dev *lookup(vmm_pci *p, uint32_t addr)
{
    if (!(addr & 0x80000000u))
        return NULL;
    uint32_t bus = (addr >> 16) & 0xff, dev = (addr >> 11) & 0x1f, fn = (addr >> 8) & 7;
    if (bus != 0 || fn != 0)
        return NULL;
    return p->devs[dev];
}

static void cfg_data_io(vmm_pci *p, uint64_t off, uint8_t *data, uint32_t len, int is_write)
{
    vmm_pci_dev *d = lookup(p, p->addr);
    uint32_t reg = (p->addr & 0xfc) + (uint32_t)off;
    if (!d || reg + len > 256) {
        if (!is_write)
            memset(data, 0xff, len);
        return;
    }
    if (!is_write) {
        memcpy(data, &d->cfg[reg], len);
        return;
    }
    for (uint32_t i = 0; i < len; i++) {
        uint8_t m = d->wmask[reg + i];
        d->cfg[reg + i] = (uint8_t)((d->cfg[reg + i] & ~m) | (data[i] & m));
    }
    if (reg < 0x28 && reg + len > 0x04)
        remap_bars(p->vm, d); /* command register or a BAR changed */
    if (d->cfg_written)
        d->cfg_written(d, reg, len);
}

static void pci_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, int is_write)
{
    vmm_pci *p = opaque;
    pthread_mutex_lock(&p->lock);
    if (off < 4) {
        if (off == 0 && len == 4) {
            if (is_write)
                memcpy(&p->addr, data, 4);
            else
                memcpy(data, &p->addr, 4);
        } else if (!is_write) {
            memset(data, 0xff, len);
        }
    } else {
        cfg_data_io(p, off - 4, data, len, is_write);
    }
    pthread_mutex_unlock(&p->lock);
}

int vmm_pci_init(vmm_vm *vm)
{
    vmm_pci *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->vm = vm;
    pthread_mutex_init(&p->lock, NULL);
    p->next_mmio = VMM_PCI_MMIO_START;
    /* 00:00.0: a host bridge (Red Hat's generic PCIe host bridge IDs). */
    vmm_pci_dev *b = &p->bridge;
    vmm_pci_set16(b, 0x00, 0x1b36);
    vmm_pci_set16(b, 0x02, 0x0008);
    b->cfg[0x0b] = 0x06; /* class: bridge */
    b->cfg[0x0a] = 0x00; /* subclass: host */
    b->cfg[0x0e] = 0x00;
    p->devs[0] = b;
    vm->pci = p;
    return vmm_bus_add(&vm->pio, 0xcf8, 8, pci_io, p);
}

vmm_pci_dev *vmm_pci_host_bridge(vmm_vm *vm)
{
    return &vm->pci->bridge;
}

void vmm_pci_free(vmm_vm *vm)
{
    if (vm->pci)
        pthread_mutex_destroy(&vm->pci->lock);
    free(vm->pci);
    vm->pci = NULL;
}

void vmm_pci_reset(vmm_vm *vm)
{
    vmm_pci *p = vm->pci;
    pthread_mutex_lock(&p->lock);
    p->addr = 0;
    for (int slot = 1; slot < VMM_PCI_MAX_DEVS; slot++) {
        vmm_pci_dev *d = p->devs[slot];
        if (!d)
            continue;
        d->cfg[0x04] = vm->cfg->assign_bars ? 0x02 : 0; /* memory decoding, no bus mastering */
        d->cfg[0x05] = 0;
        for (int n = 0; n < 6; n++)
            if (d->bar_size[n])
                vmm_pci_set32(d, 0x10 + 4 * (uint32_t)n, d->bar_boot[n]);
        remap_bars(vm, d);
    }
    pthread_mutex_unlock(&p->lock);
}

int vmm_pci_add(vmm_vm *vm, vmm_pci_dev *d)
{
    vmm_pci *p = vm->pci;
    int slot = 1;
    while (slot < VMM_PCI_MAX_DEVS && p->devs[slot])
        slot++;
    if (slot == VMM_PCI_MAX_DEVS)
        return -ENOSPC;
    d->slot = slot;
    /* Command: memory space and bus master are writable; status has a capability list. */
    d->wmask[0x04] = 0x06;
    d->wmask[0x05] = 0x04; /* INTx disable */
    d->wmask[0x3c] = 0xff; /* interrupt line */
    for (int n = 0; n < 6 && vm->cfg->assign_bars; n++) {
        if (!d->bar_size[n])
            continue;
        uint64_t a = (p->next_mmio + d->bar_size[n] - 1) & ~((uint64_t)d->bar_size[n] - 1);
        if (a + d->bar_size[n] > VMM_PCI_MMIO_END)
            return -ENOSPC;
        vmm_pci_set32(d, 0x10 + 4 * (uint32_t)n, (uint32_t)a);
        d->bar_boot[n] = (uint32_t)a;
        p->next_mmio = a + d->bar_size[n];
    }
    /* Firmware-style: BARs assigned and memory decoding on (unless the guest assigns). */
    if (vm->cfg->assign_bars)
        d->cfg[0x04] |= 0x02;
    pthread_mutex_lock(&p->lock);
    p->devs[slot] = d;
    remap_bars(vm, d);
    pthread_mutex_unlock(&p->lock);
    return 0;
}
