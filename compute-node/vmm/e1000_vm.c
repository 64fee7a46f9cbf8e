/*
 * e1000_vm.c - an e1000 NIC in a running VM (see e1000.h): its PCI function
 * (8086:100E, BAR0 of registers, INTA#), INTx through KVM_IRQ_LINE on the
 * GSI of its slot, the tap watched by the event loop, and the throttling
 * timer on the event loop.
 */
#include "e1000.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stratus/log.h"

typedef struct e1000_vm {
    vmm_vm *vm;
    vmm_e1000 *dev;
    int tap;
    uint32_t gsi;
    struct event *rx_ev, *timer_ev;
} e1000_vm;

static e1000_vm *boards[VMM_MAX_NICS]; /* vm->e1000[i]'s host side */

static void host_irq(void *opaque, int level)
{
    e1000_vm *h = opaque;
    vmm_irq_line(h->vm, h->gsi, level);
}

static void host_rx_arm(void *opaque, int on)
{
    e1000_vm *h = opaque;
    if (on)
        event_add(h->rx_ev, NULL);
    else
        event_del_noblock(h->rx_ev); /* may run on a vCPU while rx_cb waits for the lock */
}

static void host_timer(void *opaque, uint64_t ns)
{
    e1000_vm *h = opaque;
    struct timeval tv = {.tv_sec = (time_t)(ns / 1000000000u),
                         .tv_usec = (suseconds_t)(ns % 1000000000u / 1000u)};
    event_add(h->timer_ev, &tv);
}

static void rx_cb(evutil_socket_t fd, short what, void *arg)
{
    vmm_e1000_rx(((e1000_vm *)arg)->dev);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    vmm_e1000_timer(((e1000_vm *)arg)->dev);
}

static void bar0_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, int is_write)
{
    /* opaque is the PCI function, the first member of the device */
    vmm_e1000_mmio((vmm_e1000 *)opaque, off, data, len, is_write);
}

static void free_host(e1000_vm *h)
{
    if (h->rx_ev)
        event_free(h->rx_ev);
    if (h->timer_ev)
        event_free(h->timer_ev);
    vmm_e1000_free(h->dev);
    if (h->tap >= 0)
        close(h->tap);
    free(h);
}

static void dev_reset(void *opaque)
{
    vmm_e1000_reset(opaque);
}

static int dev_save(void *opaque, vmm_rec_out *o, char *err, size_t errlen)
{
    return vmm_e1000_save(opaque, o);
}

static int dev_restore(void *opaque, vmm_rec_in *in, char *err, size_t errlen)
{
    return vmm_e1000_restore(opaque, in, err, errlen);
}

static const vmm_dev_ops e1000_dev = {
    .version = 1,
    .reset = dev_reset,
    .save = dev_save,
    .restore = dev_restore,
};

int vmm_e1000_create(vmm_vm *vm, const vmm_nic_cfg *cfg)
{
    if (vm->ne1000 >= VMM_MAX_NICS)
        return -ENOSPC;
    e1000_vm *h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    h->vm = vm;
    h->tap = vmm_tap_open(cfg->tap, 0);
    if (h->tap < 0) {
        int rc = h->tap;
        st_error("vmm.e1000", "%s: tap %s: %s", cfg->id, cfg->tap, strerror(-rc));
        free(h);
        return rc;
    }
    vmm_e1000_host host = {
        .irq = host_irq, .rx_arm = host_rx_arm, .timer = host_timer, .opaque = h};
    h->dev = vmm_e1000_new(&vm->gmem, h->tap, cfg->mac, cfg->id, &host);
    h->rx_ev = event_new(vm->base, h->tap, EV_READ | EV_PERSIST, rx_cb, h);
    h->timer_ev = evtimer_new(vm->base, timer_cb, h);
    if (!h->dev || !h->rx_ev || !h->timer_ev) {
        free_host(h);
        return -ENOMEM;
    }
    vmm_pci_dev *d = vmm_e1000_pci(h->dev);
    vmm_pci_set16(d, 0x00, VMM_E1000_VENDOR);
    vmm_pci_set16(d, 0x02, VMM_E1000_DEVICE);
    d->cfg[0x08] = 0x03; /* revision */
    d->cfg[0x0b] = 0x02; /* class: network, Ethernet */
    vmm_pci_set16(d, 0x2c, VMM_E1000_VENDOR);
    vmm_pci_set16(d, 0x2e, 0x001e); /* subsystem, as in the EEPROM */
    d->cfg[0x3d] = 1;               /* INTA# */
    vmm_pci_bar(d, 0, VMM_E1000_BAR_SIZE, bar0_io);
    d->rom_path = cfg->rom;
    int rc = vmm_pci_add(vm, d);
    if (rc) {
        free_host(h);
        return rc;
    }
    h->gsi = VMM_PCI_INTX_GSI(d->slot);
    d->cfg[0x3c] = (uint8_t)h->gsi;
    boards[vm->ne1000] = h;
    vm->e1000[vm->ne1000++] = h->dev;
    char rid[VMM_DEV_ID_MAX];
    snprintf(rid, sizeof rid, "e1000@%02x", d->slot);
    if ((rc = vmm_dev_register(&vm->devreg, rid, &e1000_dev, h->dev)))
        return rc; /* on the bus and in vm->e1000: freed at exit with the rest */
    st_info("vmm.e1000", "%s: e1000 at 00:%02x.0, INTA# on GSI %u, tap %s", cfg->id, d->slot,
            h->gsi, cfg->tap);
    return 0;
}

void vmm_e1000_destroy(vmm_e1000 *e)
{
    for (int i = 0; i < VMM_MAX_NICS; i++)
        if (boards[i] && boards[i]->dev == e) {
            free_host(boards[i]);
            boards[i] = NULL;
        }
}
