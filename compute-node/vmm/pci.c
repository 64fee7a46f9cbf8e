/*
 * pci.c - configuration mechanism 1 and BAR mapping (see pci.h).
 *
 * 0xCF8 holds {enable:1, reserved:7, bus:8, device:5, function:3, reg:8};
 * only 32-bit writes to it latch. Reads of absent devices (other buses,
 * functions other than 0, empty slots) return all ones, which is how a guest
 * learns a slot is empty.
 *
 * Registry ("pci"): reset is vmm_pci_reset(); the record holds the address
 * latch and the 256 configuration bytes of every function, host bridge
 * included, by slot. Restore refuses a different set of slots, or a byte the
 * guest cannot write (its write mask is 0: IDs, class, capability layout,
 * BAR size bits) that differs from this VM's: that is other hardware. It
 * then takes the writable bits and maps BARs and ROMs where they say (the
 * devices' bar_moved hooks run, so virtio's ioeventfds follow).
 */
#include "pci.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "firmware.h"
#include "stratus/log.h"

#define PCI_ROM_REG 0x30
#define PCI_ROM_ENABLE 1u
#define PCI_ROM_MIN 4096u       /* a page: the smallest read-only KVM slot */
#define PCI_ROM_MAX (16u << 20) /* the largest ROM the register can describe */

struct vmm_pci {
    vmm_vm *vm;
    pthread_mutex_t lock;
    uint32_t addr;
    vmm_pci_dev *devs[VMM_PCI_MAX_DEVS];
    vmm_pci_dev bridge;
    uint64_t next_mmio;
    /* The ROMs we read, by slot, freed with the bus: devices are freed before it (main.c), so
     * this holds what freeing needs without touching them. */
    struct {
        uint8_t *mem;
        uint32_t size;
        int kvm; /* its KVM slot is set */
    } roms[VMM_PCI_MAX_DEVS];
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

/* Reads of the expansion ROM (when no KVM slot serves them); writes to a ROM are dropped. */
static void rom_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, int is_write)
{
    vmm_pci_dev *d = opaque;
    if (is_write)
        return;
    if (off < d->rom_size && len <= d->rom_size - off)
        memcpy(data, d->rom + off, len);
    else
        memset(data, 0xff, len);
}

/* The ROM's KVM slot: one per PCI slot, after the firmware's. */
static uint32_t rom_kvm_slot(const vmm_pci_dev *d)
{
    return VMM_SLOT_PCI_ROM + (uint32_t)d->slot;
}

/* Brings the expansion ROM's mapping in line with its register and the memory-enable bit. */
static void remap_rom(vmm_vm *vm, vmm_pci_dev *d, uint16_t cmd)
{
    uint32_t reg, want;
    memcpy(&reg, &d->cfg[PCI_ROM_REG], 4);
    want = reg & ~(d->rom_size - 1);
    if (!(cmd & 2) || !(reg & PCI_ROM_ENABLE) || want == 0 ||
        (uint64_t)want + d->rom_size > VMM_PCI_MMIO_END)
        want = 0; /* decoding off, unassigned or out of the window (sizing clears enable) */
    if (want == d->rom_mapped)
        return;
    if (d->rom_mapped) {
        if (vm->pci->roms[d->slot].kvm)
            vmm_kvm_slot(vm, rom_kvm_slot(d), d->rom_mapped, 0, NULL, 0);
        vm->pci->roms[d->slot].kvm = 0;
        vmm_bus_del(&vm->mmio, d->rom_mapped, d);
        d->rom_mapped = 0;
    }
    if (!want)
        return;
    if (vmm_bus_add(&vm->mmio, want, d->rom_size, rom_io, d)) {
        st_warn("vmm.pci", "00:%02x.0 ROM at %#x overlaps another range; not mapped", d->slot,
                want);
        return;
    }
    d->rom_mapped = want;
    /* Reads straight from memory; a write still exits and rom_io drops it. Where KVM refuses
     * (no read-only slots, or RAM there), every read exits to rom_io instead. */
    if (vm->fd < 0)
        return;
    if (vmm_kvm_slot(vm, rom_kvm_slot(d), want, d->rom_size, d->rom, KVM_MEM_READONLY))
        st_debug("vmm.pci", "00:%02x.0 ROM at %#x: no KVM slot; reads exit", d->slot, want);
    else
        vm->pci->roms[d->slot].kvm = 1;
}

/* Brings the MMIO bus in line with the BARs and the memory-enable bit. */
static void remap_bars(vmm_vm *vm, vmm_pci_dev *d)
{
    uint16_t cmd;
    memcpy(&cmd, &d->cfg[4], 2);
    if (d->rom_size)
        remap_rom(vm, d, cmd);
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
        if (d->cfg_read)
            d->cfg_read(d, reg, len);
        memcpy(data, &d->cfg[reg], len);
        return;
    }
    for (uint32_t i = 0; i < len; i++) {
        uint8_t m = d->wmask[reg + i];
        d->cfg[reg + i] = (uint8_t)((d->cfg[reg + i] & ~m) | (data[i] & m));
    }
    if ((reg < 0x28 && reg + len > 0x04) || (reg < PCI_ROM_REG + 4 && reg + len > PCI_ROM_REG))
        remap_bars(p->vm, d); /* command register, a BAR or the ROM's register changed */
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

static void pci_dev_reset(void *opaque)
{
    vmm_pci_reset(((vmm_pci *)opaque)->vm);
}

static int pci_save(void *opaque, vmm_rec_out *o, char *err, size_t errlen)
{
    vmm_pci *p = opaque;
    uint8_t n = 0;
    pthread_mutex_lock(&p->lock);
    for (int slot = 0; slot < VMM_PCI_MAX_DEVS; slot++)
        n += p->devs[slot] != NULL;
    vmm_rec_u32(o, p->addr);
    vmm_rec_u8(o, n);
    for (int slot = 0; slot < VMM_PCI_MAX_DEVS; slot++) {
        if (!p->devs[slot])
            continue;
        vmm_rec_u8(o, (uint8_t)slot);
        vmm_rec_put(o, p->devs[slot]->cfg, 256);
    }
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static int pci_restore(void *opaque, vmm_rec_in *in, char *err, size_t errlen)
{
    vmm_pci *p = opaque;
    uint8_t(*cfg)[256] = calloc(VMM_PCI_MAX_DEVS, 256);
    int present[VMM_PCI_MAX_DEVS] = {0}, rc = 0;
    if (!cfg)
        return -ENOMEM;
    uint32_t addr = vmm_rec_get_u32(in);
    unsigned n = vmm_rec_get_u8(in);
    for (unsigned i = 0; i < n && !in->short_read; i++) {
        unsigned slot = vmm_rec_get_u8(in);
        if (slot >= VMM_PCI_MAX_DEVS || !p->devs[slot] || present[slot]) {
            rc = vmm_rec_bad(in, err, errlen, "function 00:%02x.0 is not in this VM", slot & 0xff);
            goto out;
        }
        present[slot] = 1;
        vmm_rec_get(in, cfg[slot], 256);
    }
    if ((rc = vmm_rec_in_done(in, err, errlen)))
        goto out;
    for (int slot = 0; slot < VMM_PCI_MAX_DEVS; slot++) {
        vmm_pci_dev *d = p->devs[slot];
        if (d && !present[slot]) {
            rc = vmm_rec_bad(in, err, errlen, "no state for function 00:%02x.0", slot);
            goto out;
        }
        for (int i = 0; d && i < 256; i++) {
            if ((cfg[slot][i] ^ d->cfg[i]) & ~d->wmask[i]) {
                rc = vmm_rec_bad(in, err, errlen,
                                 "00:%02x.0: read-only config byte %#x is %#x, this VM's %#x "
                                 "(other hardware)",
                                 slot, i, cfg[slot][i], d->cfg[i]);
                goto out;
            }
        }
    }
    pthread_mutex_lock(&p->lock);
    p->addr = addr;
    for (int slot = 0; slot < VMM_PCI_MAX_DEVS; slot++) {
        vmm_pci_dev *d = p->devs[slot];
        if (!d)
            continue;
        memcpy(d->cfg, cfg[slot], 256); /* equal to ours wherever the mask is 0 */
        if (slot)
            remap_bars(p->vm, d);
    }
    pthread_mutex_unlock(&p->lock);
out:
    free(cfg);
    return rc;
}

static const vmm_dev_ops pci_dev = {
    .version = 1,
    .reset = pci_dev_reset,
    .save = pci_save,
    .restore = pci_restore,
};

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
    int rc = vmm_bus_add(&vm->pio, 0xcf8, 8, pci_io, p);
    return rc ? rc : vmm_dev_register(&vm->devreg, "pci", &pci_dev, p);
}

vmm_pci_dev *vmm_pci_host_bridge(vmm_vm *vm)
{
    return &vm->pci->bridge;
}

void vmm_pci_free(vmm_vm *vm)
{
    vmm_pci *p = vm->pci;
    if (p) {
        for (int i = 0; i < VMM_PCI_MAX_DEVS; i++) {
            if (!p->roms[i].mem)
                continue;
            if (p->roms[i].kvm)
                vmm_kvm_slot(vm, VMM_SLOT_PCI_ROM + (uint32_t)i, 0, 0, NULL, 0);
            munmap(p->roms[i].mem, p->roms[i].size);
        }
        pthread_mutex_destroy(&p->lock);
    }
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
        if (d->rom_size)
            vmm_pci_set32(d, PCI_ROM_REG, d->rom_boot);
        remap_bars(vm, d);
    }
    pthread_mutex_unlock(&p->lock);
}

const char *vmm_pci_rom_check(const uint8_t *rom, size_t len, uint16_t vendor, uint16_t device)
{
    uint16_t pcir, v, dv;
    if (len < 0x1a || rom[0] != 0x55 || rom[1] != 0xaa)
        return "no option ROM signature (55 AA)";
    memcpy(&pcir, rom + 0x18, 2);
    if (pcir > len || len - pcir < 0x18 || memcmp(rom + pcir, "PCIR", 4))
        return "no PCI data structure (PCIR) inside the image";
    memcpy(&v, rom + pcir + 4, 2);
    memcpy(&dv, rom + pcir + 6, 2);
    if (v != vendor || dv != device)
        return "its PCI data structure names another device (vendor:device)";
    return NULL;
}

/* Reads d->rom_path into d->rom (the BAR's size, zero-padded); 0 or a negative errno. */
static int rom_load(vmm_pci_dev *d)
{
    int fd = open(d->rom_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        st_error("vmm.pci", "ROM %s: %s", d->rom_path, strerror(-rc));
        return rc;
    }
    struct stat st;
    uint8_t *rom = MAP_FAILED;
    uint32_t size = PCI_ROM_MIN;
    const char *why = NULL;
    int rc = 0;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto err;
    }
    if (st.st_size < 512 || st.st_size > PCI_ROM_MAX) {
        why = "not 512 bytes to 16 MiB";
        goto err;
    }
    while (size < (uint64_t)st.st_size)
        size <<= 1;
    rom = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (rom == MAP_FAILED) {
        rc = -ENOMEM;
        goto err;
    }
    for (size_t off = 0; off < (size_t)st.st_size;) {
        ssize_t r = pread(fd, rom + off, (size_t)st.st_size - off, (off_t)off);
        if (r <= 0) {
            rc = r < 0 ? -errno : -EIO;
            goto err;
        }
        off += (size_t)r;
    }
    uint16_t vendor, device;
    memcpy(&vendor, &d->cfg[0], 2);
    memcpy(&device, &d->cfg[2], 2);
    if ((why = vmm_pci_rom_check(rom, (size_t)st.st_size, vendor, device)))
        goto err;
    close(fd);
    d->rom = rom;
    d->rom_size = size;
    return 0;
err:
    if (why) {
        st_error("vmm.pci", "ROM %s for %04x:%04x: %s", d->rom_path, d->cfg[0] | d->cfg[1] << 8,
                 d->cfg[2] | d->cfg[3] << 8, why);
        rc = -EINVAL;
    } else {
        st_error("vmm.pci", "ROM %s: %s", d->rom_path, strerror(-rc));
    }
    if (rom != MAP_FAILED)
        munmap(rom, size);
    close(fd);
    return rc;
}

int vmm_pci_add(vmm_vm *vm, vmm_pci_dev *d)
{
    vmm_pci *p = vm->pci;
    int slot = 1, rc;
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
    if (d->rom_path && (rc = rom_load(d)))
        return rc;
    if (d->rom_size) {
        uint32_t mask = ~(d->rom_size - 1) | PCI_ROM_ENABLE;
        memcpy(&d->wmask[PCI_ROM_REG], &mask, 4);
        uint64_t a = (p->next_mmio + d->rom_size - 1) & ~((uint64_t)d->rom_size - 1);
        if (vm->cfg->assign_bars && a + d->rom_size <= VMM_PCI_MMIO_END) {
            d->rom_boot = (uint32_t)a; /* assigned, decoding off: the firmware enables it */
            p->next_mmio = a + d->rom_size;
        }
        vmm_pci_set32(d, PCI_ROM_REG, d->rom_boot);
        p->roms[slot].mem = d->rom;
        p->roms[slot].size = d->rom_size;
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
