/*
 * legacy.c - the small ISA devices a guest pokes: the i8042 keyboard
 * controller, the debug-exit port, port 0x80 and a CMOS RTC.
 *
 *  - i8042 at 0x60/0x64 (i8042.c): a PS/2 controller with a keyboard that
 *    answers every command (and has no keys) and an empty mouse port, enough
 *    for SeaBIOS's POST and Linux's drivers to probe it without waiting out
 *    a timeout; IRQ 1 / 12 through KVM's irqchip. Command 0xfe on 0x64 (or
 *    an output port write with bit 0 clear) pulses reset ->
 *    vmm_vm_guest_reset(); a VM reset puts the controller back to power-on.
 *  - Debug exit at 0xf4 (4 bytes): the value written becomes stratus-vmm's
 *    exit status (test guests write 0x10 for pass, 0x11 for fail).
 *  - Port 0x80 (POST codes): writes ignored without warnings.
 *  - CMOS/RTC at 0x70/0x71: the current UTC time in BCD, 24-hour mode, never
 *    "update in progress", so a Linux guest reads the clock without waiting.
 *    The rest of CMOS RAM (0x0e and up) is 114 bytes the guest can write,
 *    holding what QEMU's PC puts there for a BIOS: base and extended memory
 *    (0x15-0x18, 0x30-0x31, in KiB), RAM from 16 MiB to the PCI hole in
 *    64 KiB units (0x34-0x35), RAM above 4 GiB in 64 KiB units (0x5b-0x5d),
 *    the CPU count less one (0x5f) and "hard disk first" (0x3d).
 *  - ACPI sleep control, sleep status and reset registers at
 *    VMM_ACPI_PM_PORT (the FADT points at them, see acpi.c): writing
 *    SLP_EN (bit 5) with SLP_TYP (bits 4:2) = \_S5's value powers the VM
 *    off (exit 0); other sleep states are refused (not declared in the DSDT);
 *    VMM_ACPI_RESET_VALUE on the reset port is a guest reset (on_reset).
 *    After them, the PM1a event block (status, always 0: no fixed events;
 *    enable, kept) and control block (SCI_EN always set: ACPI mode with no
 *    SMI command port; SLP_EN (bit 13) with SLP_TYP (bits 12:10) = \_S5's
 *    value powers off), which the firmware boot's FADT names (acpi.c).
 *
 * Registry: "i8042" (reset to power-on; its record, i8042.h), "cmos" (the
 * index register and the 128 bytes of CMOS RAM; no reset hook: CMOS RAM is
 * battery-backed and survives a reset; the clock is the host's and is not
 * saved) and "acpi-pm" (PM1 enable and control, 4 bytes; reset to 0). The
 * debug exit, port 0x80 and the sleep and reset registers hold no state.
 */
#include "legacy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "i8042.h"
#include "stratus/log.h"

static void kbc_irq(void *opaque, uint32_t irq, int level)
{
    vmm_irq_line(opaque, irq, level);
}

static void kbc_reset(void *opaque)
{
    st_info("vmm.reset", "guest pulsed the i8042 reset line");
    vmm_vm_guest_reset(opaque);
}

static void kbc_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, int is_write)
{
    vmm_i8042_io(opaque, off, data, len, is_write);
}

static void debug_exit_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, int is_write)
{
    vmm_vm *vm = opaque;
    if (!is_write) {
        memset(data, 0, len);
        return;
    }
    uint32_t v = 0;
    memcpy(&v, data, len > 4 ? 4 : len);
    st_info("vmm.debug_exit", "guest wrote %#x to the debug-exit port", v);
    vmm_vm_stop(vm, (int)(v & 0xff));
}

static void ignore_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, int is_write)
{
    if (!is_write)
        memset(data, 0xff, len);
}

struct rtc {
    uint8_t index;
    uint8_t nvram[128]; /* registers 0x0e and up that are not the clock */
};

/* The PM1a enable and control registers (PM1 status reads 0: no fixed event is ever raised). */
struct pm1 {
    uint8_t en[2], cnt[2];
};

struct vmm_legacy {
    struct rtc rtc;
    vmm_i8042 kbc;
    struct pm1 pm1;
};

static uint8_t bcd(int v)
{
    return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static void rtc_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, int is_write)
{
    struct rtc *r = opaque;
    if (off == 0) {
        if (is_write)
            r->index = data[0] & 0x7f;
        else
            data[0] = r->index;
        return;
    }
    if (is_write) {
        if (r->index >= 0x0e && r->index != 0x32)
            r->nvram[r->index] = data[0];
        return;
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    uint8_t v = 0;
    switch (r->index) {
    case 0x00: v = bcd(tm.tm_sec); break;
    case 0x02: v = bcd(tm.tm_min); break;
    case 0x04: v = bcd(tm.tm_hour); break;
    case 0x06: v = bcd(tm.tm_wday + 1); break;
    case 0x07: v = bcd(tm.tm_mday); break;
    case 0x08: v = bcd(tm.tm_mon + 1); break;
    case 0x09: v = bcd(tm.tm_year % 100); break;
    case 0x32: v = bcd(19 + tm.tm_year / 100); break; /* century */
    case 0x0a: v = 0x26; break; /* 32.768 kHz, 1024 Hz, no update in progress */
    case 0x0b: v = 0x02; break; /* 24-hour, BCD */
    case 0x0d: v = 0x80; break; /* valid RAM and time */
    default: v = r->index >= 0x0e ? r->nvram[r->index] : 0; break;
    }
    data[0] = v;
}

static uint8_t pm1_read(const struct pm1 *pm1, uint64_t off)
{
    switch (off) {
    case 6:
    case 7: return pm1->en[off - 6];
    case 8: return (uint8_t)(pm1->cnt[0] | 1); /* SCI_EN */
    case 9: return pm1->cnt[1];
    default: return 0; /* sleep status: WAK_STS clear; PM1 status; the others */
    }
}

static void sleep_to(vmm_vm *vm, unsigned typ)
{
    if (typ == VMM_ACPI_S5_TYP)
        vmm_vm_guest_poweroff(vm);
    else
        st_warn("vmm.acpi", "guest asked for sleep type %u; only S5 is offered", typ);
}

static void acpi_pm_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, int is_write)
{
    vmm_vm *vm = opaque;
    struct pm1 *pm1 = &vm->legacy->pm1;
    if (!is_write) {
        for (uint32_t i = 0; i < len; i++)
            data[i] = pm1_read(pm1, off + i);
        return;
    }
    uint8_t v = data[0];
    if (off == VMM_ACPI_SLEEP_CTL - VMM_ACPI_PM_PORT && (v & 0x20)) {
        sleep_to(vm, (v >> 2) & 7);
    } else if (off == VMM_ACPI_RESET - VMM_ACPI_PM_PORT && v == VMM_ACPI_RESET_VALUE) {
        st_info("vmm.reset", "guest reset through the ACPI reset register");
        vmm_vm_guest_reset(vm);
    } else {
        int hi_written = 0; /* PM1 status bytes (4, 5) clear nothing: no event is ever set */
        for (uint32_t i = 0; i < len && off + i < VMM_ACPI_PM_PORTS; i++) {
            uint64_t o = off + i;
            if (o == 6 || o == 7)
                pm1->en[o - 6] = data[i];
            else if (o == 8 || o == 9)
                pm1->cnt[o - 8] = data[i];
            hi_written |= o == 9;
        }
        if (hi_written && (pm1->cnt[1] & 0x20)) { /* SLP_EN: bit 13, write-only */
            pm1->cnt[1] &= (uint8_t)~0x20;
            sleep_to(vm, (pm1->cnt[1] >> 2) & 7);
        }
    }
}

/* The CMOS RAM bytes SeaBIOS reads for memory size, CPUs and boot order. */
static void cmos_fill(struct rtc *r, uint64_t ram_size, int vcpus)
{
    uint64_t low = ram_size < VMM_LOW_RAM_END ? ram_size : VMM_LOW_RAM_END;
    uint64_t ext = low / 1024 - 1024; /* KiB above 1 MiB */
    if (ext > 0xffff)
        ext = 0xffff;
    uint64_t ext2 = low > (16u << 20) ? (low - (16u << 20)) >> 16 : 0;
    if (ext2 > 0xffff)
        ext2 = 0xffff;
    uint64_t high = (ram_size - low) >> 16;
    r->nvram[0x15] = 0x80; /* 640 KiB base memory */
    r->nvram[0x16] = 0x02;
    r->nvram[0x17] = r->nvram[0x30] = (uint8_t)ext;
    r->nvram[0x18] = r->nvram[0x31] = (uint8_t)(ext >> 8);
    r->nvram[0x34] = (uint8_t)ext2;
    r->nvram[0x35] = (uint8_t)(ext2 >> 8);
    r->nvram[0x5b] = (uint8_t)high;
    r->nvram[0x5c] = (uint8_t)(high >> 8);
    r->nvram[0x5d] = (uint8_t)(high >> 16);
    r->nvram[0x5f] = (uint8_t)(vcpus - 1);
    r->nvram[0x3d] = 0x02;
}

static void kbc_dev_reset(void *opaque)
{
    vmm_i8042_reset(opaque);
}

static int kbc_save(void *opaque, vmm_rec_out *o, char *err, size_t errlen)
{
    return vmm_i8042_save(opaque, o);
}

static int kbc_restore(void *opaque, vmm_rec_in *in, char *err, size_t errlen)
{
    return vmm_i8042_restore(opaque, in, err, errlen);
}

static const vmm_dev_ops kbc_dev = {
    .version = 1,
    .reset = kbc_dev_reset,
    .save = kbc_save,
    .restore = kbc_restore,
};

/* Written only by vCPUs on port 0x70/0x71, which a save runs without (the VM is paused). */
static int rtc_save(void *opaque, vmm_rec_out *o, char *err, size_t errlen)
{
    struct rtc *r = opaque;
    vmm_rec_u8(o, r->index);
    vmm_rec_put(o, r->nvram, sizeof r->nvram);
    return 0;
}

static int rtc_restore(void *opaque, vmm_rec_in *in, char *err, size_t errlen)
{
    struct rtc *r = opaque;
    uint8_t index = vmm_rec_get_u8(in), nvram[sizeof r->nvram];
    vmm_rec_get(in, nvram, sizeof nvram);
    int rc = vmm_rec_in_done(in, err, errlen);
    if (rc)
        return rc;
    if (index > 0x7f)
        return vmm_rec_bad(in, err, errlen, "index %#x past CMOS RAM", index);
    r->index = index;
    memcpy(r->nvram, nvram, sizeof nvram);
    return 0;
}

static const vmm_dev_ops rtc_dev = {
    .version = 1,
    .save = rtc_save,
    .restore = rtc_restore,
};

static void pm1_reset(void *opaque)
{
    memset(opaque, 0, sizeof(struct pm1));
}

static int pm1_save(void *opaque, vmm_rec_out *o, char *err, size_t errlen)
{
    struct pm1 *p = opaque;
    (void)err, (void)errlen;
    vmm_rec_put(o, p->en, 2);
    vmm_rec_put(o, p->cnt, 2);
    return 0;
}

static int pm1_restore(void *opaque, vmm_rec_in *in, char *err, size_t errlen)
{
    struct pm1 *p = opaque, v;
    vmm_rec_get(in, v.en, 2);
    vmm_rec_get(in, v.cnt, 2);
    int rc = vmm_rec_in_done(in, err, errlen);
    if (rc)
        return rc;
    if (v.cnt[1] & 0x20)
        return vmm_rec_bad(in, err, errlen, "SLP_EN set (it is write-only)");
    *p = v;
    return 0;
}

static const vmm_dev_ops pm1_dev = {
    .version = 1, .reset = pm1_reset, .save = pm1_save, .restore = pm1_restore};

int vmm_legacy_init(vmm_vm *vm)
{
    int rc;
    struct vmm_legacy *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    vm->legacy = l;
    if ((rc = vmm_i8042_init(&l->kbc, kbc_irq, kbc_reset, vm)))
        return rc;
    vm->i8042 = &l->kbc;
    cmos_fill(&l->rtc, vm->ram_size, vm->cfg ? vm->cfg->vcpus : 1);
    if ((rc = vmm_bus_add(&vm->pio, VMM_I8042_PORT, VMM_I8042_PORTS, kbc_io, &l->kbc)) ||
        (rc = vmm_bus_add(&vm->pio, 0xf4, 4, debug_exit_io, vm)) ||
        (rc = vmm_bus_add(&vm->pio, 0x80, 1, ignore_io, vm)) ||
        (rc = vmm_bus_add(&vm->pio, 0x70, 2, rtc_io, &l->rtc)) ||
        (rc = vmm_bus_add(&vm->pio, VMM_ACPI_PM_PORT, VMM_ACPI_PM_PORTS, acpi_pm_io, vm)) ||
        (rc = vmm_dev_register(&vm->devreg, "i8042", &kbc_dev, &l->kbc)) ||
        (rc = vmm_dev_register(&vm->devreg, "cmos", &rtc_dev, &l->rtc)) ||
        (rc = vmm_dev_register(&vm->devreg, "acpi-pm", &pm1_dev, &l->pm1)))
        return rc;
    return 0;
}

void vmm_legacy_free(vmm_vm *vm)
{
    if (!vm->legacy)
        return;
    vmm_i8042_free(&vm->legacy->kbc);
    free(vm->legacy);
    vm->legacy = NULL;
    vm->i8042 = NULL;
}
