/*
 * vmm_fuzz_devstate - the device-state record reader and every restore hook (devreg.h)
 * against hostile state files.
 *
 * One VM's devices are built once, without KVM, by start.c's init list over a 2 MiB fake
 * guest memory: COM1, the i8042, CMOS, the PCI bus and a virtio-rng (its queue set up and
 * live, so restore reaches the virtqueue checks). The input's first byte picks the mode:
 *  - even: the rest is a state file, read record by record (each record's payload must lie
 *    inside the input), then restored;
 *  - odd: the rest is a list of 3-byte edits (u16 offset, u8 value XOR'ed in) applied to
 *    this VM's own saved state, which reaches deep into the hooks' value checks.
 * After each restore the VM must save again; when the restore succeeded, that save must
 * restore cleanly too (what restore accepts is a state the devices hold), and the invariants
 * the devices rely on must hold: queues within their bounds, an enabled virtqueue's rings in
 * guest memory.
 */
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devreg.h"
#include "i8042.h"
#include "virtio_pci.h"
#include "vmm.h"

#define RAM (2u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static vmm_vm vm;
static vmm_config cfg;
static uint8_t *base_state;
static size_t base_len;

static void w(vmm_virtio *d, uint64_t off, uint64_t v, uint32_t len)
{
    vmm_bus_access(&vm.mmio, d->pci.bar_mapped[0] + off, (uint8_t *)&v, len, 1);
}

static int build(void)
{
    /* 16 MiB is the least the config takes; the devices see the 2 MiB vm.ram_size says. */
    static const char json[] = "{\"kernel\": \"none\", \"memory_mib\": 16, \"serial_log\": "
                               "\"/dev/null\", \"rng\": true}";
    char err[256];
    if (vmm_config_parse(&cfg, json, strlen(json), err, sizeof err)) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    vmm_vm_init(&vm);
    vm.cfg = &cfg;
    vm.base = event_base_new();
    vm.ram = calloc(1, RAM);
    vm.ram_size = RAM;
    vm.gmem = (vmm_gmem){.r = {{0, RAM, vm.ram}}, .n = 1};
    if (!vm.base || !vm.ram || vmm_irq_init(&vm) || vmm_start_devices(&vm, &cfg, err, sizeof err)) {
        fprintf(stderr, "devices: %s\n", err);
        return -1;
    }
    vmm_virtio *rng = vm.devs[0];
    w(rng, 20, 1 | 2, 1); /* negotiate VERSION_1, one live queue of 16 at 0x10000 */
    w(rng, 8, 1, 4);
    w(rng, 12, 1, 4);
    w(rng, 20, 1 | 2 | 8, 1);
    w(rng, 24, 16, 2);
    w(rng, 32, 0x10000, 8);
    w(rng, 40, 0x11000, 8);
    w(rng, 48, 0x12000, 8);
    w(rng, 28, 1, 2);
    w(rng, 20, 1 | 2 | 4 | 8, 1);
    return vmm_dev_save_all(&vm.devreg, &base_state, &base_len, err, sizeof err);
}

static void check_invariants(void)
{
    vmm_i8042 *k = vm.i8042;
    if (k->ctl.len > VMM_I8042_QUEUE || k->kbd.len > VMM_I8042_QUEUE ||
        k->ctl.head >= VMM_I8042_QUEUE || k->kbd.head >= VMM_I8042_QUEUE || k->scan_set < 1 ||
        k->scan_set > 3)
        abort();
    for (int i = 0; i < vm.ndevs; i++) {
        vmm_virtio *v = vm.devs[i];
        for (int q = 0; q < v->ops->nqueues; q++) {
            vmm_vq *vq = &v->vq[q];
            if (vq->enabled &&
                (!vq->size || vq->size > vq->max_size || (vq->size & (vq->size - 1)) ||
                 vmm_gmem_ptr(&vm.gmem, vq->desc_gpa, 16ull * vq->size) != vq->desc ||
                 !vmm_gmem_ptr(&vm.gmem, vq->used_gpa, 6ull + 8ull * vq->size)))
                abort();
        }
    }
    uint8_t b[8]; /* the serial registers read without harm */
    for (int r = 0; r < 8; r++)
        vmm_bus_access(&vm.pio, 0x3f8 + (uint64_t)r, &b[r], 1, 0);
}

static void restore(const uint8_t *f, size_t len)
{
    char err[256];
    int ok = vmm_dev_restore_all(&vm.devreg, f, len, err, sizeof err) == 0;
    uint8_t *again = NULL;
    size_t again_len = 0;
    if (vmm_dev_save_all(&vm.devreg, &again, &again_len, err, sizeof err))
        abort();
    if (ok) {
        check_invariants();
        if (vmm_dev_restore_all(&vm.devreg, again, again_len, err, sizeof err)) {
            fprintf(stderr, "a restored state does not restore: %s\n", err);
            abort();
        }
    }
    free(again);
    /* Back to the VM's own state for the next input. */
    if (vmm_dev_restore_all(&vm.devreg, base_state, base_len, err, sizeof err))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int built;
    if (!built) {
        if (build())
            abort();
        built = 1;
    }
    if (!size)
        return 0;
    if (!(data[0] & 1)) {
        vmm_rec_reader rd;
        vmm_rec rec;
        char err[256];
        int rc;
        if (!vmm_rec_open(&rd, data + 1, size - 1, err, sizeof err)) {
            while ((rc = vmm_rec_next(&rd, &rec, err, sizeof err)) == 1)
                if (rec.payload < data + 1 || rec.payload + rec.len > data + size ||
                    strlen(rec.id) == 0)
                    abort();
        }
        uint8_t *copy = malloc(size - 1 ? size - 1 : 1); /* exact size, so ASan sees overreads */
        memcpy(copy, data + 1, size - 1);
        restore(copy, size - 1);
        free(copy);
        return 0;
    }
    uint8_t *f = malloc(base_len);
    memcpy(f, base_state, base_len);
    for (size_t i = 1; i + 2 < size; i += 3) {
        size_t off = (size_t)(data[i] | data[i + 1] << 8) % base_len;
        f[off] ^= data[i + 2];
    }
    restore(f, base_len);
    free(f);
    return 0;
}
