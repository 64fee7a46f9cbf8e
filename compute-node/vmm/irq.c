/*
 * irq.c - interrupt plumbing: the GSI routing table, irqfds, ioeventfds and
 * ISA interrupt lines.
 *
 * KVM_SET_GSI_ROUTING replaces the whole table, so we keep the full table
 * here: the default irqchip routes (GSI 0-15 to both PICs and the IOAPIC,
 * 16-23 to the IOAPIC) followed by one MSI route per MSI-X vector of every
 * device. A guest rewriting an MSI-X table entry updates its route and the
 * table is committed again; this is rare (driver set-up), so simplicity wins.
 *
 * A vmm_vm without KVM (vm->fd < 0: the unit tests build devices on a plain
 * vmm_vm) keeps its table, commits nothing, binds no irqfd and drives no line.
 */
#include "vmm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "stratus/log.h"

#define IRQ_MAX_ROUTES 1024
#define IRQ_FIRST_MSI_GSI 24

static int commit(vmm_vm *vm)
{
    if (vm->fd < 0)
        return 0;
    if (ioctl(vm->fd, KVM_SET_GSI_ROUTING, vm->routing) < 0) {
        int e = errno;
        st_error("vmm.irq", "KVM_SET_GSI_ROUTING: %s", strerror(e));
        return -e;
    }
    return 0;
}

static struct kvm_irq_routing_entry *add_entry(vmm_vm *vm)
{
    if (vm->routing->nr >= IRQ_MAX_ROUTES)
        return NULL;
    struct kvm_irq_routing_entry *e = &vm->routing->entries[vm->routing->nr++];
    memset(e, 0, sizeof *e);
    return e;
}

int vmm_irq_init(vmm_vm *vm)
{
    vm->routing =
        calloc(1, sizeof *vm->routing + IRQ_MAX_ROUTES * sizeof(struct kvm_irq_routing_entry));
    if (!vm->routing)
        return -ENOMEM;
    for (uint32_t gsi = 0; gsi < 24; gsi++) {
        if (gsi < 16) {
            struct kvm_irq_routing_entry *e = add_entry(vm);
            e->gsi = gsi;
            e->type = KVM_IRQ_ROUTING_IRQCHIP;
            e->u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
            e->u.irqchip.pin = gsi % 8;
        }
        if (gsi == 2)
            continue; /* the PIT is routed to IOAPIC pin 2 through GSI 0 below */
        struct kvm_irq_routing_entry *e = add_entry(vm);
        e->gsi = gsi;
        e->type = KVM_IRQ_ROUTING_IRQCHIP;
        e->u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
        e->u.irqchip.pin = gsi == 0 ? 2 : gsi;
    }
    vm->next_gsi = IRQ_FIRST_MSI_GSI;
    return commit(vm);
}

uint32_t vmm_irq_alloc_gsi(vmm_vm *vm)
{
    pthread_mutex_lock(&vm->irq_lock);
    uint32_t gsi = vm->next_gsi++;
    pthread_mutex_unlock(&vm->irq_lock);
    return gsi;
}

int vmm_irq_set_msi(vmm_vm *vm, uint32_t gsi, uint64_t addr, uint32_t data)
{
    int rc;
    pthread_mutex_lock(&vm->irq_lock);
    struct kvm_irq_routing_entry *e = NULL;
    for (uint32_t i = 0; i < vm->routing->nr; i++) {
        if (vm->routing->entries[i].gsi == gsi &&
            vm->routing->entries[i].type == KVM_IRQ_ROUTING_MSI) {
            e = &vm->routing->entries[i];
            break;
        }
    }
    if (!e && !(e = add_entry(vm))) {
        rc = -ENOSPC;
        goto out;
    }
    e->gsi = gsi;
    e->type = KVM_IRQ_ROUTING_MSI;
    e->u.msi.address_lo = (uint32_t)addr;
    e->u.msi.address_hi = (uint32_t)(addr >> 32);
    e->u.msi.data = data;
    rc = commit(vm);
out:
    pthread_mutex_unlock(&vm->irq_lock);
    return rc;
}

int vmm_irq_bind_irqfd(vmm_vm *vm, int efd, uint32_t gsi)
{
    struct kvm_irqfd f = {.fd = (uint32_t)efd, .gsi = gsi};
    if (vm->fd < 0)
        return 0;
    return ioctl(vm->fd, KVM_IRQFD, &f) < 0 ? -errno : 0;
}

void vmm_irq_line(vmm_vm *vm, uint32_t irq, int level)
{
    struct kvm_irq_level l = {.irq = irq, .level = (uint32_t)level};
    if (vm->fd < 0)
        return;
    ioctl(vm->fd, KVM_IRQ_LINE, &l);
}

int vmm_ioeventfd(vmm_vm *vm, uint64_t addr, int efd, int deassign)
{
    struct kvm_ioeventfd e = {
        .addr = addr,
        .len = 0, /* any access size (KVM_CAP_IOEVENTFD_ANY_LENGTH) */
        .fd = efd,
        .flags = deassign ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0,
    };
    if (vm->fd < 0)
        return 0;
    return ioctl(vm->fd, KVM_IOEVENTFD, &e) < 0 ? -errno : 0;
}
