/*
 * counters.c - the metering document billing reads (GET /vm/counters).
 *
 * Everything is cumulative since this VMM process started; boot_id is a
 * UUID made at start, so a reader that sees it change knows the counters
 * went back to zero. CPU time is each vCPU thread's CLOCK_THREAD_CPUTIME_ID
 * (guest time plus the exits the thread handled); cycles are that time
 * multiplied by the TSC frequency KVM reports (KVM_GET_TSC_KHZ), because
 * this host has no hardware perf counters ("cycles_source": "tsc").
 * The per-vCPU, per-NIC and per-disk fields billing meters are named once,
 * in stratus/meters.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "stratus/meters.h"

#include "control.h"
#include "devices.h"
#include "e1000.h"
#include "virtio_pci.h"

static uint64_t cycles_of(vmm_vm *vm, uint64_t ns)
{
    return (uint64_t)((unsigned __int128)ns * vm->tsc_khz / 1000000u);
}

/* Each metered field of a group's entries, from the one list
 * (stratus/meters.h); the names are billing's, the values our stats. */
#define SET_FIELD(o, field, v) json_object_set_new(o, #field, json_integer((json_int_t)(v)));
#define VCPU_FIELD(N, i, col, g, f) ST_METER_IF(g, vcpus, SET_FIELD(o, f, f))
#define NIC_FIELD(N, i, col, g, f) ST_METER_IF(g, nics, SET_FIELD(o, f, ns->f))
#define DISK_FIELD(N, i, col, g, f) ST_METER_IF(g, disks, SET_FIELD(o, f, bs->f))

json_t *vmm_counters_json(vmm_vm *vm)
{
    json_t *j = json_object(), *vcpus = json_array(), *nics = json_array(), *disks = json_array(),
           *exits = json_object();
    uint64_t total_ns = 0, total_cycles = 0, ex[VMM_EXIT_NR] = {0};

    for (int i = 0; i < vm->nvcpus; i++) {
        vmm_vcpu *c = &vm->vcpus[i];
        uint64_t ns = vmm_vcpu_cpu_ns(c), cy = cycles_of(vm, ns);
        total_ns += ns;
        total_cycles += cy;
        for (int k = 0; k < VMM_EXIT_NR; k++)
            ex[k] += __atomic_load_n(&c->exits[k], __ATOMIC_RELAXED);
        json_t *o = json_pack("{s:i}", "id", i);
        uint64_t cpu_time_ns = ns, cycles = cy; /* the field names of stratus/meters.h */
        ST_METERS(VCPU_FIELD)
        json_array_append_new(vcpus, o);
    }
    /* NICs in the config's order, whatever their model */
    for (int k = 0; vm->cfg && k < vm->cfg->nnics; k++) {
        const char *id = vm->cfg->nics[k].id;
        vmm_net_stats st, *ns = NULL;
        for (int i = 0; i < vm->ndevs && !ns; i++)
            if (vmm_net_stats_of(vm->devs[i]) && !strcmp(vm->devs[i]->id, id)) {
                st = *vmm_net_stats_of(vm->devs[i]);
                ns = &st;
            }
        for (int i = 0; i < vm->ne1000 && !ns; i++)
            if (!strcmp(vmm_e1000_id(vm->e1000[i]), id)) {
                vmm_e1000_stats(vm->e1000[i], &st);
                ns = &st;
            }
        if (ns) {
            json_t *o = json_pack("{s:s}", "id", id);
            ST_METERS(NIC_FIELD)
            json_array_append_new(nics, o);
        }
    }
    for (int i = 0; i < vm->ndevs; i++) {
        vmm_virtio *v = vm->devs[i];
        const vmm_blk_stats *bs = vmm_blk_stats_of(v);
        if (bs) {
            json_t *o = json_pack("{s:s}", "id", v->id);
            ST_METERS(DISK_FIELD)
            json_array_append_new(disks, o);
        }
    }
    for (int k = 0; k < VMM_EXIT_NR; k++)
        json_object_set_new(exits, vmm_exit_names[k], json_integer((json_int_t)ex[k]));
    json_object_set_new(j, "boot_id", json_string(vm->boot_id));
    json_object_set_new(j, "tsc_khz", json_integer(vm->tsc_khz));
    json_object_set_new(j, "cycles_source", json_string("tsc"));
    json_object_set_new(j, "vcpus", vcpus);
    json_object_set_new(j, "cpu_time_ns_total", json_integer((json_int_t)total_ns));
    json_object_set_new(j, "cycles_total", json_integer((json_int_t)total_cycles));
    json_object_set_new(j, "nics", nics);
    json_object_set_new(j, "disks", disks);
    json_object_set_new(j, "exits", exits);
    return j;
}

json_t *vmm_state_json(vmm_vm *vm)
{
    json_t *devs = json_array();
    static const char *const types[] = {
        [VIRTIO_ID_NET] = "net", [VIRTIO_ID_BLOCK] = "blk", [VIRTIO_ID_RNG] = "rng"};
    for (int i = 0; i < vm->ndevs; i++) {
        vmm_virtio *v = vm->devs[i];
        char bdf[16];
        pthread_mutex_lock(&v->lock);
        int status = v->status, failed = v->failed;
        pthread_mutex_unlock(&v->lock);
        snprintf(bdf, sizeof bdf, "00:%02x.0", v->pci.slot);
        json_array_append_new(devs, json_pack("{s:s, s:s, s:s, s:i, s:b}", "id", v->id, "type",
                                              types[v->ops->type], "pci", bdf, "status", status,
                                              "failed", failed));
    }
    for (int i = 0; i < vm->ne1000; i++) {
        char bdf[16];
        snprintf(bdf, sizeof bdf, "00:%02x.0", vmm_e1000_pci(vm->e1000[i])->slot);
        json_array_append_new(devs, json_pack("{s:s, s:s, s:s, s:i, s:b}", "id",
                                              vmm_e1000_id(vm->e1000[i]), "type", "e1000", "pci",
                                              bdf, "status", 0, "failed", 0));
    }
    pthread_mutex_lock(&vm->lock);
    int state = vm->state;
    pthread_mutex_unlock(&vm->lock);
    return json_pack("{s:s, s:s, s:i, s:I, s:o}", "state", vmm_state_name(state), "boot_id",
                     vm->boot_id, "vcpus", vm->nvcpus, "memory_mib",
                     (json_int_t)vm->cfg->memory_mib, "devices", devs);
}
