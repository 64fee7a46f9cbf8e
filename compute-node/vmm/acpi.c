/*
 * acpi.c - the ACPI tables a guest needs to find its CPUs and the IOAPIC:
 * RSDP -> XSDT -> {FADT -> DSDT, MADT}, at VMM_ACPI_ADDR (inside the BIOS
 * area that Linux scans for "RSD PTR ", reserved in the e820 map). Kernels
 * built without MP-table support (Debian's cloud kernel) rely on these.
 *
 * The FADT declares a hardware-reduced platform (no PM timer, no SCI, no
 * fixed hardware). The DSDT (written with aml.c) describes what the guest
 * cannot discover by itself:
 *  - \_SB.PCI0, the PCI root bridge (PNP0A03, segment 0, bus 0). x86 Linux
 *    with ACPI scans only the root bridges ACPI names. Its _CRS: bus 0, the
 *    config ports 0xCF8-0xCFF, the I/O ranges around them, and the 32-bit
 *    MMIO window BARs live in (VMM_PCI_MMIO_START..END: where the VMM assigns
 *    them and where a guest placing them itself, like the test guest at
 *    0xE0000000-0xFEBFFFFF, puts them). No 64-bit window: every BAR pci.c
 *    offers is a 32-bit memory BAR. No MCFG: there is no ECAM. Its _PRT sends
 *    INTA# of every slot straight to a GSI (VMM_PCI_INTX_GSI: 20-23, level,
 *    active low; no link devices), for devices with INTx (e1000).
 *  - \_SB.COM1 (PNP0501, 0x3F8/8, IRQ 4) and \_SB.RTC (PNP0B00, 0x70/2,
 *    IRQ 8): on a hardware-reduced platform Linux probes legacy devices only
 *    as ACPI describes them (its 8250 gets IRQ 4 from here; rtc_cmos needs
 *    the PNP device).
 *  - \_SB.PWRB (PNP0C0C), the power button, and \_SB.GED0 (ACPI0013, a
 *    Generic Event Device) whose edge interrupt on VMM_ACPI_GED_GSI runs
 *    _EVT: Notify (PWRB, 0x80). The control API's "power_button" action
 *    pulses that line; the guest decides what to do (Linux: KEY_POWER).
 *  - \_SB.PMRS (PNP0C02, motherboard resources) reserves the ports of the
 *    sleep and reset registers, so nothing else is placed there.
 *  - \_S5 = {5, 5}: the SLP_TYP value that means "soft off".
 *
 * Power-off and reset: the FADT's SLEEP_CONTROL_REG / SLEEP_STATUS_REG and
 * RESET_REG (with RESET_REG_SUP), all byte-wide I/O ports at
 * VMM_ACPI_PM_PORT (legacy.c). Hardware-reduced ACPI supports exactly these;
 * a fixed PM1 block would end the hardware-reduced mode and bring an SCI
 * interrupt, a PM timer, PM1 event/enable registers, GPE blocks and the
 * legacy PIC with it, all to emulate for one write. Linux registers its ACPI
 * power-off only when \_S5 exists and, on a hardware-reduced platform, both
 * sleep registers are present.
 *
 * The MADT
 * lists one local APIC per vCPU (APIC ID = vCPU index), the IOAPIC with GSI
 * base 0, the override ISA IRQ 0 -> GSI 2 (the PIT, as irq.c routes it), and
 * LINT1 = NMI on every processor. Each table's checksum makes it sum to 0.
 *
 * Two ways in. Direct boot (boot.c) writes the RSDP at VMM_ACPI_ADDR and the
 * tables after it. Firmware boot hands the tables to SeaBIOS as QEMU does:
 * fw_cfg files etc/acpi/tables (XSDT, FADT, MADT, DSDT, FACS, every pointer
 * relative to the file's start) and etc/acpi/rsdp, and etc/table-loader,
 * the commands SeaBIOS runs to place them (the tables in high memory, the
 * RSDP in the F segment where an OS scans for it), add the placed addresses
 * to the pointers and fix the checksums. Without them SeaBIOS builds tables
 * of its own for QEMU's PIIX4 power management, which we do not emulate, so
 * a firmware-booted Linux could neither power off nor see the power button.
 *
 * The firmware's FADT is not hardware-reduced: a BIOS leaves the 8259 PIC
 * programmed (IRQ 0 at vector 8) and the local APIC's LINT0 in ExtINT mode,
 * and a hardware-reduced platform has no PIC, so Linux never masks it and
 * takes the BIOS's timer tick as a double fault (vector 8) as soon as it
 * enables interrupts (seen with Debian's kernel booted by GRUB). So that FADT
 * declares the fixed hardware instead, as QEMU's PC does, with the least of
 * it: a PM1a event block (status and enable) and control block (SCI_EN
 * always set, SLP_TYP/SLP_EN for S5) at VMM_ACPI_PM1_EVT/CNT (legacy.c), SCI
 * on IRQ 9 (nothing raises it: no fixed events, no GPE blocks), no SMI
 * command port (always in ACPI mode), no PM timer, a FACS, the reset
 * register; the power button stays the GED's PWRB. Linux then finds the
 * legacy PIC, masks and remaps it.
 */
#include "acpi.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aml.h"
#include "vmm.h"

#define RSDP_LEN 36
#define HDR_LEN 36
#define FADT_LEN 276

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
    memcpy(t, sig, 4);
    put32(t + 4, len);
    t[8] = rev;
    memcpy(t + 10, "STRATS", 6);
    memcpy(t + 16, "STRATVMM", 8);
    put32(t + 24, 1);
    memcpy(t + 28, "STRT", 4);
    put32(t + 32, 1);
    t[9] = 0;
    t[9] = (uint8_t)(0 - sum(t, len));
}

/* Name (_CRS, ResourceTemplate () {...}) is opened by crs_open, closed by crs_close. */
static void crs_open(aml *b)
{
    aml_name_decl(b, "_CRS");
    aml_buffer(b);
}

static void crs_close(aml *b)
{
    aml_res_end(b);
    aml_close(b);
}

static void legacy_device(aml *b, const char *name, const char *hid, uint16_t port, uint8_t len,
                          uint8_t irq)
{
    aml_device(b, name);
    aml_name_decl(b, "_HID");
    aml_eisaid(b, hid);
    aml_name_decl(b, "_UID");
    aml_int(b, 0);
    crs_open(b);
    aml_res_io(b, port, len);
    aml_res_irq(b, irq);
    crs_close(b);
    aml_close(b);
}

static void dsdt_body(aml *b)
{
    aml_scope(b, "\\_SB");

    aml_device(b, "PCI0");
    aml_name_decl(b, "_HID");
    aml_eisaid(b, "PNP0A03");
    aml_name_decl(b, "_UID");
    aml_int(b, 0);
    aml_name_decl(b, "_SEG");
    aml_int(b, 0);
    aml_name_decl(b, "_BBN");
    aml_int(b, 0);
    crs_open(b);
    aml_res_bus(b, 0, 0);
    aml_res_io(b, 0xcf8, 8);
    aml_res_io_window(b, 0x0000, 0x0cf7);
    aml_res_io_window(b, 0x0d00, 0xffff);
    aml_res_mem32_window(b, (uint32_t)VMM_PCI_MMIO_START, (uint32_t)(VMM_PCI_MMIO_END - 1));
    crs_close(b);
    /* _PRT: INTA# of every slot to its GSI (no link devices: level, active low). */
    aml_name_decl(b, "_PRT");
    aml_package(b, 31);
    for (unsigned slot = 1; slot < 32; slot++) {
        aml_package(b, 4);
        aml_int(b, (uint64_t)slot << 16 | 0xffff);
        aml_int(b, 0); /* INTA# */
        aml_int(b, 0); /* no source: the index is a GSI */
        aml_int(b, VMM_PCI_INTX_GSI(slot));
        aml_close(b);
    }
    aml_close(b);
    aml_close(b);

    legacy_device(b, "COM1", "PNP0501", 0x3f8, 8, 4);
    legacy_device(b, "RTC", "PNP0B00", 0x70, 2, 8);

    /* The power button: a Generic Event Device whose interrupt notifies PWRB. */
    aml_device(b, "PWRB");
    aml_name_decl(b, "_HID");
    aml_eisaid(b, "PNP0C0C");
    aml_name_decl(b, "_UID");
    aml_int(b, 0);
    aml_close(b);
    aml_device(b, "GED0");
    aml_name_decl(b, "_HID");
    aml_string(b, "ACPI0013");
    aml_name_decl(b, "_UID");
    aml_int(b, 0);
    crs_open(b);
    aml_res_gsi_edge(b, VMM_ACPI_GED_GSI);
    crs_close(b);
    aml_method(b, "_EVT", 1);
    aml_notify(b, "\\_SB.PWRB", 0x80); /* 0x80: the button was pressed */
    aml_close(b);
    aml_close(b);

    aml_device(b, "PMRS");
    aml_name_decl(b, "_HID");
    aml_eisaid(b, "PNP0C02");
    aml_name_decl(b, "_UID");
    aml_int(b, 1);
    crs_open(b);
    aml_res_io(b, VMM_ACPI_PM_PORT, VMM_ACPI_PM_PORTS);
    crs_close(b);
    aml_close(b);

    aml_close(b); /* \_SB */

    aml_name_decl(b, "\\_S5");
    aml_package(b, 2);
    aml_int(b, VMM_ACPI_S5_TYP); /* SLP_TYPa */
    aml_int(b, VMM_ACPI_S5_TYP); /* SLP_TYPb */
    aml_close(b);
}

/* A Generic Address Structure for a byte-wide I/O port. */
static void gas_io8(uint8_t *g, uint16_t port)
{
    g[0] = 1; /* system I/O */
    g[1] = 8; /* bit width */
    g[2] = 0; /* bit offset */
    g[3] = 1; /* byte access */
    put64(g + 4, port);
}

/* Where each table lies in the tables blob (the RSDP is apart from it). */
#define XSDT_OFF 0
#define FADT_OFF 64
#define MADT_OFF 384
#define XSDT_LEN (HDR_LEN + 16)

/* The two FADTs (see the top of the file). */
enum fadt_kind { FADT_REDUCED, FADT_FIXED };

/* The RSDP into r (RSDP_LEN bytes) and XSDT, FADT, MADT and DSDT (and for FADT_FIXED the FACS)
 * into t (cap bytes), the tables addressed as if t were at guest address base. The blob's
 * length, or -E2BIG; *facs_off: where the FACS is (0: none). */
static long build(uint8_t *r, uint8_t *t, size_t cap, uint64_t base, int ncpus, enum fadt_kind kind,
                  size_t *facs_off)
{
    uint32_t madt_len = HDR_LEN + 8 + 8 * (uint32_t)ncpus + 12 + 10 + 6;
    size_t dsdt_off = (MADT_OFF + madt_len + 15) & ~(size_t)15;
    *facs_off = 0;
    if (ncpus < 1 || ncpus > 254 || dsdt_off + HDR_LEN >= cap)
        return -E2BIG;
    memset(t, 0, cap);
    memset(r, 0, RSDP_LEN);
    uint8_t *x = t + XSDT_OFF, *f = t + FADT_OFF, *a = t + MADT_OFF, *d = t + dsdt_off;

    /* MADT */
    uint8_t *p = a + HDR_LEN;
    put32(p, (uint32_t)VMM_LAPIC_ADDR);
    put32(p + 4, 1); /* PCAT_COMPAT: there are 8259s */
    p += 8;
    for (int i = 0; i < ncpus; i++, p += 8) {
        p[0] = 0;
        p[1] = 8;
        p[2] = (uint8_t)i; /* processor UID */
        p[3] = (uint8_t)i; /* APIC ID */
        put32(p + 4, 1);   /* enabled */
    }
    p[0] = 1; /* IOAPIC */
    p[1] = 12;
    p[2] = (uint8_t)ncpus;
    put32(p + 4, (uint32_t)VMM_IOAPIC_ADDR);
    put32(p + 8, 0);
    p += 12;
    p[0] = 2; /* interrupt source override: ISA IRQ 0 -> GSI 2 */
    p[1] = 10;
    p[2] = 0;
    p[3] = 0;
    put32(p + 4, 2);
    put16(p + 8, 0);
    p += 10;
    p[0] = 4; /* local APIC NMI on LINT1 of every processor */
    p[1] = 6;
    p[2] = 0xff;
    put16(p + 3, 0);
    p[5] = 1;
    header(a, "APIC", madt_len, 4);

    /* DSDT */
    aml b;
    aml_init(&b, d + HDR_LEN, cap - dsdt_off - HDR_LEN);
    dsdt_body(&b);
    if (b.err || b.depth)
        return -E2BIG;
    header(d, "DSDT", HDR_LEN + (uint32_t)b.len, 2);

    size_t len = dsdt_off + HDR_LEN + b.len;

    /* FADT (ACPI 6.3) */
    put32(f + 40, (uint32_t)(base + dsdt_off));
    put16(f + 109, 1u << 2);          /* IAPC_BOOT_ARCH: VGA not present */
    gas_io8(f + 116, VMM_ACPI_RESET); /* RESET_REG */
    f[128] = VMM_ACPI_RESET_VALUE;
    if (kind == FADT_REDUCED) {
        put32(f + 112, 1u << 20 | 1u << 10);  /* flags: HW_REDUCED_ACPI, RESET_REG_SUP */
        gas_io8(f + 244, VMM_ACPI_SLEEP_CTL); /* SLEEP_CONTROL_REG */
        gas_io8(f + 256, VMM_ACPI_SLEEP_STS); /* SLEEP_STATUS_REG */
    } else {
        /* The FACS the fixed hardware needs (64 bytes, 64-aligned; no checksum), after the DSDT. */
        *facs_off = (len + 63) & ~(size_t)63;
        if (*facs_off + 64 > cap)
            return -E2BIG;
        uint8_t *facs = t + *facs_off;
        memcpy(facs, "FACS", 4);
        put32(facs + 4, 64);
        facs[32] = 2; /* version */
        len = *facs_off + 64;
        put32(f + 36, (uint32_t)(base + *facs_off)); /* FIRMWARE_CTRL */
        put16(f + 46, VMM_ACPI_SCI_IRQ);             /* SCI_INT; SMI_CMD 0: always in ACPI mode */
        put32(f + 56, VMM_ACPI_PM1_EVT);             /* PM1a_EVT_BLK */
        put32(f + 64, VMM_ACPI_PM1_CNT);             /* PM1a_CNT_BLK */
        f[88] = 4;                                   /* PM1_EVT_LEN */
        f[89] = 2;                                   /* PM1_CNT_LEN; no PM timer, no GPE blocks */
        /* flags: WBINVD, PWR_BUTTON and SLP_BUTTON (no fixed buttons: PWRB is a device),
         * RESET_REG_SUP */
        put32(f + 112, 1u << 0 | 1u << 4 | 1u << 5 | 1u << 10);
    }
    f[131] = 3;                      /* minor version 6.3 */
    put64(f + 140, base + dsdt_off); /* X_DSDT */
    memcpy(f + 268, "STRATVMM", 8);  /* hypervisor vendor identity */
    header(f, "FACP", FADT_LEN, 6);

    /* XSDT */
    put64(x + HDR_LEN, base + FADT_OFF);
    put64(x + HDR_LEN + 8, base + MADT_OFF);
    header(x, "XSDT", XSDT_LEN, 1);

    /* RSDP (ACPI 2.0+) */
    memcpy(r, "RSD PTR ", 8);
    memcpy(r + 9, "STRATS", 6);
    r[15] = 2;
    put32(r + 20, RSDP_LEN);
    put64(r + 24, base + XSDT_OFF);
    r[8] = (uint8_t)(0 - sum(r, 20));
    r[32] = (uint8_t)(0 - sum(r, RSDP_LEN));
    return (long)len;
}

int vmm_acpi_write(const vmm_gmem *m, int ncpus)
{
    /* The RSDP at VMM_ACPI_ADDR, the tables from 64 bytes on, all below the MP table. */
    uint64_t start = VMM_ACPI_ADDR, tables = start + 64, end = VMM_MPTABLE_ADDR;
    uint8_t *r = vmm_gmem_ptr(m, start, end - start);
    if (!r)
        return -E2BIG;
    memset(r, 0, end - start);
    size_t facs;
    long len = build(r, r + (tables - start), end - tables, tables, ncpus, FADT_REDUCED, &facs);
    return len < 0 ? (int)len : 0;
}

/* One 128-byte command of the table loader (QEMU's hw/acpi/bios-linker-loader.c format,
 * which SeaBIOS's romfile_loader runs): a little-endian command, then its fields. */
#define LOADER_ENTRY 128
#define LOADER_ALLOCATE 1
#define LOADER_ADD_POINTER 2
#define LOADER_ADD_CHECKSUM 3
#define LOADER_ZONE_HIGH 1
#define LOADER_ZONE_FSEG 2
#define TABLES_FILE "etc/acpi/tables"
#define RSDP_FILE "etc/acpi/rsdp"

static uint8_t *loader_entry(uint8_t *l, size_t *n, uint32_t cmd, const char *file)
{
    uint8_t *e = l + *n * LOADER_ENTRY;
    (*n)++;
    memset(e, 0, LOADER_ENTRY);
    put32(e, cmd);
    memcpy(e + 4, file, strlen(file)); /* names are NUL-padded to 56 bytes */
    return e;
}

static void loader_alloc(uint8_t *l, size_t *n, const char *file, uint32_t align, uint8_t zone)
{
    uint8_t *e = loader_entry(l, n, LOADER_ALLOCATE, file);
    put32(e + 60, align);
    e[64] = zone;
}

/* The size-byte value at offset in dest gets the address where src was placed added to it. */
static void loader_pointer(uint8_t *l, size_t *n, const char *dest, const char *src,
                           uint32_t offset, uint8_t size)
{
    uint8_t *e = loader_entry(l, n, LOADER_ADD_POINTER, dest);
    memcpy(e + 60, src, strlen(src));
    put32(e + 116, offset);
    e[120] = size;
}

/* The byte at offset in file is adjusted so that [start, start + len) sums to 0 again. */
static void loader_checksum(uint8_t *l, size_t *n, const char *file, uint32_t offset,
                            uint32_t start, uint32_t len)
{
    uint8_t *e = loader_entry(l, n, LOADER_ADD_CHECKSUM, file);
    put32(e + 60, offset);
    put32(e + 64, start);
    put32(e + 68, len);
}

int vmm_acpi_fw_cfg(vmm_fw_cfg *c, int ncpus)
{
    enum { CAP = (int)(VMM_MPTABLE_ADDR - VMM_ACPI_ADDR - 64), MAX_CMDS = 12 };
    uint8_t rsdp[RSDP_LEN], *t = malloc(CAP), loader[MAX_CMDS * LOADER_ENTRY];
    if (!t)
        return -ENOMEM;
    /* Every pointer is built relative to 0: the loader adds where each file went. */
    size_t facs;
    long len = build(rsdp, t, CAP, 0, ncpus, FADT_FIXED, &facs);
    if (len < 0) {
        free(t);
        return (int)len;
    }
    size_t n = 0;
    loader_alloc(loader, &n, TABLES_FILE, 64, LOADER_ZONE_HIGH);
    loader_alloc(loader, &n, RSDP_FILE, 16, LOADER_ZONE_FSEG);
    loader_pointer(loader, &n, TABLES_FILE, TABLES_FILE, FADT_OFF + 40, 4);  /* DSDT */
    loader_pointer(loader, &n, TABLES_FILE, TABLES_FILE, FADT_OFF + 140, 8); /* X_DSDT */
    loader_pointer(loader, &n, TABLES_FILE, TABLES_FILE, FADT_OFF + 36, 4);  /* FIRMWARE_CTRL */
    loader_checksum(loader, &n, TABLES_FILE, FADT_OFF + 9, FADT_OFF, FADT_LEN);
    loader_pointer(loader, &n, TABLES_FILE, TABLES_FILE, XSDT_OFF + HDR_LEN, 8);
    loader_pointer(loader, &n, TABLES_FILE, TABLES_FILE, XSDT_OFF + HDR_LEN + 8, 8);
    loader_checksum(loader, &n, TABLES_FILE, XSDT_OFF + 9, XSDT_OFF, XSDT_LEN);
    loader_pointer(loader, &n, RSDP_FILE, TABLES_FILE, 24, 8); /* XsdtAddress */
    loader_checksum(loader, &n, RSDP_FILE, 8, 0, 20);
    loader_checksum(loader, &n, RSDP_FILE, 32, 0, RSDP_LEN);
    int rc = vmm_fw_cfg_add_file(c, TABLES_FILE, t, (uint32_t)len);
    if (!rc)
        rc = vmm_fw_cfg_add_file(c, RSDP_FILE, rsdp, RSDP_LEN);
    if (!rc)
        rc = vmm_fw_cfg_add_file(c, "etc/table-loader", loader, (uint32_t)(n * LOADER_ENTRY));
    free(t);
    return rc;
}
