/*
 * vmm_loader - the boot structures against the layouts their specs fix:
 * the Linux zero page and e820 table (boot protocol offsets), bzImage and
 * vmlinux loading, PVH hvm_start_info, the MP table and the ACPI tables,
 * also as fw_cfg files with the table loader's commands, run here as
 * SeaBIOS's romfile_loader runs them.
 * Guest memory is a plain 64 MiB buffer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"
#include "boot.h"
#include "config.h"
#include "cpu_setup.h"
#include "linux.h"
#include "st_proc.h"
#include "st_test.h"
#include "vmm.h"

#define RAM (64u << 20)

static uint8_t *ram;
static vmm_gmem gm;

static uint16_t g16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static uint32_t g32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t g64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static int setup(void)
{
    ram = calloc(1, RAM);
    gm.n = 1;
    gm.r[0] = (vmm_gmem_region){0, RAM, ram};
    return ram ? 0 : -1;
}

static int teardown(void)
{
    free(ram);
    return 0;
}

static void test_e820_small(void)
{
    vmm_e820 e[VMM_E820_MAX];
    int n = vmm_e820_build(512ull << 20, e);
    ST_ASSERT_INT_EQ(n, 4);
    ST_ASSERT_INT_EQ(e[0].addr, 0);
    ST_ASSERT_INT_EQ(e[0].size, 0x9fc00);
    ST_ASSERT_INT_EQ(e[0].type, E820_RAM);
    ST_ASSERT_INT_EQ(e[1].type, E820_RESERVED);
    ST_ASSERT_INT_EQ(e[2].addr, 0xe0000);
    ST_ASSERT_INT_EQ(e[2].addr + e[2].size, 0x100000);
    ST_ASSERT_INT_EQ(e[3].addr, 0x100000);
    ST_ASSERT_INT_EQ(e[3].addr + e[3].size, 512ull << 20);
}

static void test_e820_split(void)
{
    vmm_e820 e[VMM_E820_MAX];
    int n = vmm_e820_build(4ull << 30, e);
    ST_ASSERT_INT_EQ(n, 5);
    ST_ASSERT_INT_EQ(e[3].addr + e[3].size, 0xc0000000ull); /* the PCI hole starts at 3 GiB */
    ST_ASSERT_INT_EQ(e[4].addr, 1ull << 32);
    ST_ASSERT_INT_EQ(e[4].size, 1ull << 30);
    ST_ASSERT_INT_EQ(e[4].type, E820_RAM);
}

/* fw_cfg's etc/e820 for SeaBIOS: RAM to the hole, RAM above 4 GiB, KVM's pages reserved, in the
 * 20-byte little-endian entries the zero page uses too. */
static void test_e820_firmware(void)
{
    vmm_e820 e[VMM_E820_MAX];
    uint8_t b[VMM_E820_MAX * VMM_E820_ENTRY];
    int n = vmm_e820_firmware(4ull << 30, e);
    ST_ASSERT_INT_EQ(n, 3);
    ST_ASSERT_INT_EQ(vmm_e820_encode(e, n, b, sizeof b), 60);
    ST_ASSERT_INT_EQ(vmm_e820_encode(e, n, b, 59), 40); /* whole entries only */
    uint64_t addr, size;
    uint32_t type;
    memcpy(&addr, b + 20, 8);
    memcpy(&size, b + 28, 8);
    memcpy(&type, b + 36, 4);
    ST_ASSERT_INT_EQ(addr, 1ull << 32);
    ST_ASSERT_INT_EQ(size, 1ull << 30);
    ST_ASSERT_INT_EQ(type, E820_RAM);
    memcpy(&size, b + 8, 8);
    memcpy(&addr, b + 40, 8);
    memcpy(&type, b + 56, 4);
    ST_ASSERT_INT_EQ(size, 0xc0000000ull);
    ST_ASSERT_INT_EQ(addr, VMM_KVM_IDMAP_ADDR);
    ST_ASSERT_INT_EQ(type, E820_RESERVED);
    ST_ASSERT_INT_EQ(vmm_e820_firmware(512ull << 20, e), 2);
    ST_ASSERT_INT_EQ(e[0].size, 512ull << 20);
}

static void test_zero_page_vmlinux(void)
{
    uint8_t zp[ZP_SIZE];
    ST_ASSERT_INT_EQ(
        vmm_linux_zero_page(zp, NULL, 0, 512ull << 20, 0x20000, 10, 0x1f000000, 0x123456), 0);
    ST_ASSERT_INT_EQ(g16(zp + 0x1fe), 0xAA55);
    ST_ASSERT_INT_EQ(g32(zp + 0x202), 0x53726448); /* "HdrS" */
    CU_ASSERT(g16(zp + 0x206) >= 0x020c);
    ST_ASSERT_INT_EQ(zp[0x210], 0xff);             /* type_of_loader: undefined */
    CU_ASSERT(zp[0x211] & 0x01);                   /* LOADED_HIGH */
    CU_ASSERT(zp[0x211] & 0x80);                   /* CAN_USE_HEAP */
    ST_ASSERT_INT_EQ(g32(zp + 0x228), 0x20000);    /* cmd_line_ptr */
    ST_ASSERT_INT_EQ(g32(zp + 0x218), 0x1f000000); /* ramdisk_image */
    ST_ASSERT_INT_EQ(g32(zp + 0x21c), 0x123456);   /* ramdisk_size */
    ST_ASSERT_INT_EQ(g32(zp + 0x0c0), 0);          /* ext_ramdisk_image */
    ST_ASSERT_INT_EQ(zp[0x1e8], 4);                /* e820_entries */
    const uint8_t *t = zp + 0x2d0;                 /* e820_table, 20-byte entries */
    ST_ASSERT_INT_EQ(g64(t), 0);
    ST_ASSERT_INT_EQ(g64(t + 8), 0x9fc00);
    ST_ASSERT_INT_EQ(g32(t + 16), 1);
    ST_ASSERT_INT_EQ(g64(t + 3 * 20), 0x100000);
    ST_ASSERT_INT_EQ(g64(t + 3 * 20 + 8), (512ull << 20) - 0x100000);
    ST_ASSERT_INT_EQ(g32(t + 3 * 20 + 16), 1);
}

static uint8_t *fake_bzimage(size_t *len, uint16_t version, uint8_t xload)
{
    size_t setup = 2, payload = 8192;
    *len = (setup + 1) * 512 + payload;
    uint8_t *b = calloc(1, *len);
    b[0x1f1] = (uint8_t)setup;
    memcpy(b + 0x1fe, "\x55\xaa", 2);
    b[0x200] = 0xeb;
    b[0x201] = 0x66; /* header ends at 0x268 */
    memcpy(b + 0x202, "HdrS", 4);
    memcpy(b + 0x206, &version, 2);
    uint32_t max = 0x7fffffff, init = 0x10000;
    memcpy(b + 0x22c, &max, 4);
    b[0x236] = xload;
    uint64_t pref = 0x1000000;
    memcpy(b + 0x258, &pref, 8);
    memcpy(b + 0x260, &init, 4);
    for (size_t i = 0; i < payload; i++)
        b[(setup + 1) * 512 + i] = (uint8_t)(i * 7);
    return b;
}

static void test_bzimage(void)
{
    size_t len;
    uint8_t *b = fake_bzimage(&len, 0x020f, 1);
    vmm_boot_info bi;
    uint8_t initrd[100] = {1, 2, 3};
    memset(ram, 0, RAM);
    ST_ASSERT_INT_EQ(vmm_linux_load(&gm, RAM, b, len, initrd, sizeof initrd, "console=ttyS0", &bi),
                     0);
    ST_ASSERT_INT_EQ(bi.mode, VMM_BOOT_LINUX64);
    ST_ASSERT_INT_EQ(bi.entry, 0x1000200);
    ST_ASSERT_INT_EQ(bi.arg, VMM_ZERO_PAGE_ADDR);
    CU_ASSERT(memcmp(ram + 0x1000000, b + 3 * 512, 8192) == 0);
    uint8_t *zp = ram + VMM_ZERO_PAGE_ADDR;
    ST_ASSERT_INT_EQ(zp[0x1f1], 2); /* setup header copied */
    ST_ASSERT_INT_EQ(g16(zp + 0x206), 0x020f);
    ST_ASSERT_INT_EQ(zp[0x210], 0xff);
    ST_ASSERT_STR_EQ((char *)ram + g32(zp + 0x228), "console=ttyS0");
    uint32_t rd = g32(zp + 0x218);
    CU_ASSERT(rd % 4096 == 0 && rd + sizeof initrd <= RAM);
    CU_ASSERT(memcmp(ram + rd, initrd, sizeof initrd) == 0);
    ST_ASSERT_INT_EQ(g32(zp + 0x21c), sizeof initrd);
    /* Long-mode tables: PML4[0] -> PDPT, PDPT[0] -> PD, PD[8] maps 16 MiB as a 2 MiB page. */
    ST_ASSERT_INT_EQ(g64(ram + VMM_PML4_ADDR) & ~0xfffull, VMM_PML4_ADDR + 4096);
    ST_ASSERT_INT_EQ(g64(ram + VMM_PML4_ADDR + 2 * 4096 + 8 * 8), 0x1000000 | 0x83);
    ST_ASSERT_INT_EQ(g64(ram + VMM_GDT_ADDR + 16), 0x00af9b000000ffffull);
    free(b);
}

static void test_bzimage_refused(void)
{
    size_t len;
    vmm_boot_info bi;
    uint8_t *b = fake_bzimage(&len, 0x0209, 1); /* too old for a 64-bit entry */
    ST_ASSERT_INT_EQ(vmm_linux_load(&gm, RAM, b, len, NULL, 0, "", &bi), -ENOEXEC);
    free(b);
    b = fake_bzimage(&len, 0x020f, 0); /* no XLF_KERNEL_64 */
    ST_ASSERT_INT_EQ(vmm_linux_load(&gm, RAM, b, len, NULL, 0, "", &bi), -ENOEXEC);
    ST_ASSERT_INT_EQ(vmm_linux_load(&gm, RAM, b, 600, NULL, 0, "", &bi), -ENOEXEC); /* cut */
    free(b);
}

/* A minimal ELF64 with one PT_LOAD at paddr and optionally a PVH note. */
static size_t fake_elf(uint8_t *img, uint64_t paddr, uint64_t memsz, int note)
{
    memset(img, 0, 4096);
    memcpy(img, "\177ELF\2\1\1", 7);
    uint16_t v16;
    uint32_t v32;
    uint64_t v64;
#define S16(o, v) (v16 = (uint16_t)(v), memcpy(img + (o), &v16, 2))
#define S32(o, v) (v32 = (uint32_t)(v), memcpy(img + (o), &v32, 4))
#define S64(o, v) (v64 = (uint64_t)(v), memcpy(img + (o), &v64, 8))
    S16(16, 2), S16(18, 62), S32(20, 1), S64(24, paddr), S64(32, 64);
    S16(52, 64), S16(54, 56), S16(56, note ? 2 : 1);
    S32(64, 1), S64(72, 1024), S64(80, paddr), S64(88, paddr), S64(96, 16), S64(104, memsz);
    if (note) {
        S32(120, 4), S64(128, 512), S64(152, 20);
        S32(512, 4), S32(516, 4), S32(520, 18);
        memcpy(img + 524, "Xen", 4);
        S32(528, paddr + 4);
    }
    memset(img + 1024, 0xcc, 16);
    return 2048;
}

static void test_elf(void)
{
    uint8_t img[4096];
    uint64_t entry, pvh, top;
    size_t n = fake_elf(img, 0x200000, 64, 1);
    memset(ram, 0x55, RAM);
    ST_ASSERT_INT_EQ(vmm_elf_load(&gm, img, n, &entry, &pvh, &top), 0);
    ST_ASSERT_INT_EQ(pvh, 0x200004);
    ST_ASSERT_INT_EQ(entry, 0x200000);
    ST_ASSERT_INT_EQ(ram[0x200000], 0xcc);
    ST_ASSERT_INT_EQ(ram[0x200010], 0); /* bss zeroed */
    ST_ASSERT_INT_EQ(top, 0x200040);
    n = fake_elf(img, 0x200000, 64, 0);
    ST_ASSERT_INT_EQ(vmm_elf_load(&gm, img, n, &entry, &pvh, &top), 0);
    ST_ASSERT_INT_EQ(pvh, 0);
    n = fake_elf(img, 0x8000, 64, 1); /* over the VMM's low-memory structures */
    ST_ASSERT_INT_EQ(vmm_elf_load(&gm, img, n, &entry, &pvh, &top), -ENOEXEC);
    n = fake_elf(img, RAM - 32, 64, 1); /* past the end of RAM */
    ST_ASSERT_INT_EQ(vmm_elf_load(&gm, img, n, &entry, &pvh, &top), -E2BIG);
    n = fake_elf(img, 0x200000, 64, 1);
    ST_ASSERT_INT_EQ(vmm_elf_load(&gm, img, 100, &entry, &pvh, &top), -ENOEXEC); /* truncated */
    uint64_t huge = 1ull << 62;
    memcpy(img + 72, &huge, 8); /* p_offset far outside the file */
    ST_ASSERT_INT_EQ(vmm_elf_load(&gm, img, n, &entry, &pvh, &top), -ENOEXEC);
}

static void test_pvh_start_info(void)
{
    vmm_boot_info bi;
    memset(ram, 0, RAM);
    ST_ASSERT_INT_EQ(vmm_pvh_setup(&gm, RAM, "scenario=boot", &bi, 0x100000), 0);
    ST_ASSERT_INT_EQ(bi.mode, VMM_BOOT_PVH);
    ST_ASSERT_INT_EQ(bi.entry, 0x100000);
    const uint8_t *si = ram + bi.arg;
    ST_ASSERT_INT_EQ(g32(si), 0x336ec578);
    ST_ASSERT_INT_EQ(g32(si + 4), 1);
    ST_ASSERT_STR_EQ((char *)ram + g64(si + 24), "scenario=boot");
    ST_ASSERT_INT_EQ(g64(si + 32), VMM_ACPI_ADDR);
    uint32_t n = g32(si + 48);
    ST_ASSERT_INT_EQ(n, 4);
    const uint8_t *m = ram + g64(si + 40);
    ST_ASSERT_INT_EQ(g64(m + 3 * 24), 0x100000);
    ST_ASSERT_INT_EQ(g64(m + 3 * 24 + 8), RAM - 0x100000);
    ST_ASSERT_INT_EQ(g32(m + 3 * 24 + 16), 1);
}

static uint8_t bytesum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    while (n--)
        s = (uint8_t)(s + *p++);
    return s;
}

static void test_mptable(void)
{
    memset(ram, 0, RAM);
    ST_ASSERT_INT_EQ(vmm_mptable_write(&gm, 3), 0);
    const uint8_t *f = ram + VMM_MPTABLE_ADDR;
    CU_ASSERT(memcmp(f, "_MP_", 4) == 0);
    ST_ASSERT_INT_EQ(bytesum(f, 16), 0);
    const uint8_t *c = ram + g32(f + 4);
    CU_ASSERT(memcmp(c, "PCMP", 4) == 0);
    ST_ASSERT_INT_EQ(bytesum(c, g16(c + 4)), 0);
    int cpus = 0, bsp = 0;
    for (const uint8_t *e = c + 44; e < c + g16(c + 4);) {
        if (e[0] == 0) {
            cpus++;
            bsp += (e[3] & 2) != 0;
            e += 20;
        } else {
            e += 8;
        }
    }
    ST_ASSERT_INT_EQ(cpus, 3);
    ST_ASSERT_INT_EQ(bsp, 1);
}

/* Linux's scan for the MP floating pointer (arch/x86/kernel/mpparse.c): 16-byte
 * steps through the first KiB, the last KiB of base memory, 0xF0000-0xFFFFF, and
 * the EBDA's first KiB (segment at 0x40E); "_MP_", length 1, spec 1 or 4, summing
 * to 0. Returns the pointer's address or 0. */
static uint64_t linux_mp_scan(void)
{
    uint64_t ebda = (uint64_t)g16(ram + 0x40e) << 4;
    const uint64_t where[4][2] = {
        {0, 0x400}, {639 * 0x400, 0x400}, {0xf0000, 0x10000}, {ebda, ebda ? 0x400 : 0}};
    for (int w = 0; w < 4; w++)
        for (uint64_t a = where[w][0]; a + 16 <= where[w][0] + where[w][1]; a += 16) {
            const uint8_t *p = ram + a;
            if (!memcmp(p, "_MP_", 4) && p[8] == 1 && (p[9] == 1 || p[9] == 4) &&
                bytesum(p, 16) == 0)
                return a;
        }
    return 0;
}

/* With acpi=off a Linux that has CONFIG_X86_MPPARSE finds the table: the pointer in
 * its scan, in memory the e820 map reserves, the table it names well formed. (Debian's
 * cloud kernel is built without MPPARSE and never scans: "MPS support code is not
 * built-in", then "No local APIC present"; only ACPI can describe its CPUs.) */
static void test_mptable_found_by_linux_scan(void)
{
    memset(ram, 0, RAM);
    ST_ASSERT_INT_EQ(vmm_mptable_write(&gm, 2), 0);
    uint64_t mpf = linux_mp_scan();
    CU_ASSERT_FATAL(mpf != 0);
    vmm_e820 e[VMM_E820_MAX];
    int n = vmm_e820_build(RAM, e), reserved = 0;
    uint32_t phys = g32(ram + mpf + 4);
    const uint8_t *c = ram + phys;
    for (int i = 0; i < n; i++)
        reserved += e[i].type == E820_RESERVED && e[i].addr <= mpf &&
                    phys + g16(c + 4) <= e[i].addr + e[i].size;
    ST_ASSERT_INT_EQ(reserved, 1);
    ST_ASSERT_INT_EQ(ram[mpf + 11], 0); /* feature1 0: the table, not a default configuration */
    CU_ASSERT(memcmp(c, "PCMP", 4) == 0);
    CU_ASSERT(c[6] == 1 || c[6] == 4);
    ST_ASSERT_INT_EQ(bytesum(c, g16(c + 4)), 0);
    ST_ASSERT_INT_EQ(g32(c + 36), VMM_LAPIC_ADDR);
}

/* The reset vector pulses the i8042 reset line, in memory the e820 map reserves. */
static void test_reset_vector(void)
{
    memset(ram, 0, RAM);
    ST_ASSERT_INT_EQ(vmm_reset_vector_write(&gm), 0);
    static const uint8_t pulse[] = {0xb0, 0xfe, 0xe6, 0x64}; /* mov al, 0xfe; out 0x64, al */
    CU_ASSERT(memcmp(ram + 0xffff0, pulse, sizeof pulse) == 0);
    vmm_e820 e[VMM_E820_MAX];
    int n = vmm_e820_build(RAM, e), reserved = 0;
    for (int i = 0; i < n; i++)
        reserved +=
            e[i].type == E820_RESERVED && e[i].addr <= 0xffff0 && e[i].addr + e[i].size >= 0x100000;
    ST_ASSERT_INT_EQ(reserved, 1);
}

static void test_acpi(void)
{
    memset(ram, 0, RAM);
    ST_ASSERT_INT_EQ(vmm_acpi_write(&gm, 2), 0);
    const uint8_t *r = ram + VMM_ACPI_ADDR;
    CU_ASSERT(memcmp(r, "RSD PTR ", 8) == 0);
    ST_ASSERT_INT_EQ(bytesum(r, 20), 0);
    ST_ASSERT_INT_EQ(bytesum(r, 36), 0);
    const uint8_t *x = ram + g64(r + 24);
    CU_ASSERT(memcmp(x, "XSDT", 4) == 0);
    ST_ASSERT_INT_EQ(bytesum(x, g32(x + 4)), 0);
    const uint8_t *madt = NULL;
    for (uint32_t i = 36; i < g32(x + 4); i += 8) {
        const uint8_t *t = ram + g64(x + i);
        ST_ASSERT_INT_EQ(bytesum(t, g32(t + 4)), 0);
        if (!memcmp(t, "APIC", 4))
            madt = t;
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(madt);
    int lapics = 0, ioapics = 0;
    for (uint32_t off = 44; off < g32(madt + 4); off += madt[off + 1]) {
        lapics += madt[off] == 0;
        ioapics += madt[off] == 1;
    }
    ST_ASSERT_INT_EQ(lapics, 2);
    ST_ASSERT_INT_EQ(ioapics, 1);
}

/* The ACPI table with signature sig, through RSDP -> XSDT (-> FADT for the DSDT). */
static const uint8_t *acpi_table(const char *sig)
{
    const uint8_t *x = ram + g64(ram + VMM_ACPI_ADDR + 24);
    for (uint32_t i = 36; i < g32(x + 4); i += 8) {
        const uint8_t *t = ram + g64(x + i);
        if (!memcmp(t, sig, 4))
            return t;
        if (!memcmp(t, "FACP", 4) && !memcmp(sig, "DSDT", 4))
            return ram + g64(t + 140);
    }
    return NULL;
}

/* Reads a file, strips comments and folds every run of white space into one space. */
static char *read_asl(const char *path)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    FILE *o = open_memstream(&s, &n);
    int c, prev = ' ';
    while ((c = fgetc(f)) != EOF) {
        if (c == '/') {
            int d = fgetc(f);
            if (d == '/') {
                while ((c = fgetc(f)) != EOF && c != '\n')
                    ;
                c = ' ';
            } else if (d == '*') {
                int last = 0;
                while ((c = fgetc(f)) != EOF && !(last == '*' && c == '/'))
                    last = c;
                c = ' ';
            } else
                ungetc(d, f);
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (prev != ' ')
                fputc(' ', o);
            prev = ' ';
        } else {
            fputc(c, o);
            prev = c;
        }
    }
    fclose(f);
    fclose(o);
    char *w = s; /* a stripped comment before a ")" leaves a space there: drop it */
    for (char *r = s; *r; r++)
        if (!(*r == ' ' && r[1] == ')'))
            *w++ = *r;
    *w = 0;
    return s;
}

/* Writes table t to dir/name.aml, disassembles it with ACPICA's iasl (the peer that
 * judges it) and returns the disassembly, comments stripped, white space folded. */
static char *iasl_disassemble(const char *dir, const char *name, const uint8_t *t)
{
    char path[512], cmd[1200];
    snprintf(path, sizeof path, "%s/%s.aml", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return NULL;
    fwrite(t, 1, g32(t + 4), f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cd '%s' && iasl -d %s.aml > %s.log 2>&1", dir, name, name);
    int rc = system(cmd);
    snprintf(path, sizeof path, "%s/%s.log", dir, name);
    char *log = read_asl(path);
    if (rc != 0 || !log || strstr(log, "rror") || strstr(log, "arning")) {
        fprintf(stderr, "iasl -d %s: rc %d: %s\n", name, rc, log ? log : "(no log)");
        free(log);
        return NULL;
    }
    free(log);
    snprintf(path, sizeof path, "%s/%s.dsl", dir, name);
    return read_asl(path);
}

#define ASSERT_HAS(text, needle)                                                                   \
    do {                                                                                           \
        CU_ASSERT_PTR_NOT_NULL(strstr(text, needle));                                              \
        if (!strstr(text, needle))                                                                 \
            fprintf(stderr, "missing in the disassembly: %s\n", needle);                           \
    } while (0)

static void test_dsdt_iasl(void)
{
    memset(ram, 0, RAM);
    ST_ASSERT_INT_EQ(vmm_acpi_write(&gm, 2), 0);
    const uint8_t *d = acpi_table("DSDT");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    ST_ASSERT_INT_EQ(bytesum(d, g32(d + 4)), 0);
    char *dir = st_tmpdir("vmm-acpi");
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    char *asl = iasl_disassemble(dir, "dsdt", d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(asl);
    /* The PCI root bridge and the windows its BARs live in. */
    ASSERT_HAS(asl, "Scope (\\_SB) { Device (PCI0) { Name (_HID, EisaId (\"PNP0A03\")) "
                    "Name (_UID, Zero) Name (_SEG, Zero) Name (_BBN, Zero) "
                    "Name (_CRS, ResourceTemplate () { ");
    ASSERT_HAS(asl, "WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0x0000, "
                    "0x0000, 0x0000, 0x0000, 0x0001, ,,) ");
    ASSERT_HAS(asl, "IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08,) ");
    ASSERT_HAS(asl, "WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, "
                    "0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8, ");
    ASSERT_HAS(asl, "WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, "
                    "0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300, ");
    /* Both where the VMM assigns BARs and the test guest's 0xE0000000-0xFEBFFFFF. */
    ASSERT_HAS(asl, "DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, "
                    "ReadWrite, 0x00000000, 0xC0000000, 0xFEBFFFFF, 0x00000000, 0x3EC00000, ");
    /* COM1 and the CMOS RTC that legacy.c offers. */
    ASSERT_HAS(asl, "Device (COM1) { Name (_HID, EisaId (\"PNP0501\")) Name (_UID, Zero) "
                    "Name (_CRS, ResourceTemplate () { IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08,) "
                    "IRQNoFlags () {4} }) }");
    ASSERT_HAS(asl, "Device (RTC) { Name (_HID, EisaId (\"PNP0B00\")) Name (_UID, Zero) "
                    "Name (_CRS, ResourceTemplate () { IO (Decode16, 0x0070, 0x0070, 0x01, 0x02,) "
                    "IRQNoFlags () {8} }) }");
    /* Motherboard resources over the sleep and reset ports, and \\_S5 for power-off. */
    ASSERT_HAS(asl, "Device (PMRS) { Name (_HID, EisaId (\"PNP0C02\")) Name (_UID, One) "
                    "Name (_CRS, ResourceTemplate () { IO (Decode16, 0x0600, 0x0600, 0x01, 0x0A,) "
                    "}) } }");
    ASSERT_HAS(asl, "Name (\\_S5, Package (0x02) { 0x05, 0x05 })");
    /* The power button: a GED whose edge interrupt notifies PWRB. */
    ASSERT_HAS(asl, "Device (PWRB) { Name (_HID, EisaId (\"PNP0C0C\")) Name (_UID, Zero) }");
    ASSERT_HAS(asl, "Device (GED0) { Name (_HID, \"ACPI0013\") Name (_UID, Zero) "
                    "Name (_CRS, ResourceTemplate () { Interrupt (ResourceConsumer, Edge, "
                    "ActiveHigh, Exclusive, ,,) { 0x00000010, } }) "
                    "Method (_EVT, 1, NotSerialized) { Notify (\\_SB.PWRB, 0x80) } }");
    free(asl);
    st_rmtree(dir);
    free(dir);
}

/* The value iasl shows for a FADT field: "Label : value" (the first after label). */
static int fadt_field_is(const char *asl, const char *label, const char *value)
{
    const char *p = strstr(asl, label);
    if (!p)
        return 0;
    p += strlen(label);
    char want[128];
    snprintf(want, sizeof want, " : %s", value);
    int ok = !strncmp(p, want, strlen(want));
    if (!ok)
        fprintf(stderr, "FADT %s: want %s, have %.60s\n", label, value, p);
    return ok;
}

/* The GAS after label: system I/O, 8 bits wide, byte access, at port. */
static int fadt_gas_io8(const char *asl, const char *label, const char *port)
{
    char key[128], want[300];
    snprintf(key, sizeof key, "%s : [Generic Address Structure]", label);
    const char *p = strstr(asl, key);
    if (!p)
        return 0;
    snprintf(want, sizeof want,
             " [%%*s %%*s 1] Space ID : 01 [SystemIO] [%%*s %%*s 1] "
             "Bit Width : 08 [%%*s %%*s 1] Bit Offset : 00 [%%*s %%*s 1] Encoded Access Width : "
             "01 [Byte Access:8] [%%*s %%*s 8] Address : %s%%n",
             port);
    int n = 0;
    sscanf(p + strlen(key), want, &n);
    if (!n)
        fprintf(stderr, "FADT %s: want I/O port %s, have %.300s\n", label, port, p);
    return n > 0;
}

/* A FADT field iasl must show: an I/O GAS of one byte at value (gas), or "label : value". */
typedef struct fadt_field {
    const char *label, *value;
    int gas;
} fadt_field;

/* Disassembles the FADT f with iasl and checks every field. */
static void check_fadt(const uint8_t *f, const fadt_field *fields, size_t n)
{
    char *dir = st_tmpdir("vmm-acpi");
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    char *asl = iasl_disassemble(dir, "facp", f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(asl);
    for (size_t i = 0; i < n; i++) {
        int ok = fields[i].gas ? fadt_gas_io8(asl, fields[i].label, fields[i].value)
                               : fadt_field_is(asl, fields[i].label, fields[i].value);
        if (!ok)
            fprintf(stderr, "FADT: %s is not %s\n", fields[i].label, fields[i].value);
        CU_ASSERT(ok);
    }
    free(asl);
    st_rmtree(dir);
    free(dir);
}

static void test_fadt_iasl(void)
{
    memset(ram, 0, RAM);
    ST_ASSERT_INT_EQ(vmm_acpi_write(&gm, 1), 0);
    const uint8_t *f = acpi_table("FACP");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    static const fadt_field fields[] = {
        {"Hardware Reduced (V5)", "1", 0},
        {"Reset Register Supported (V2)", "1", 0},
        {"Reset Register", "0000000000000602", 1},
        {"Value to cause reset", "01", 0},
        {"Sleep Control Register", "0000000000000600", 1},
        {"Sleep Status Register", "0000000000000601", 1},
    };
    check_fadt(f, fields, sizeof fields / sizeof fields[0]);
}

/* The fw_cfg file called name, or NULL. */
static const vmm_fw_cfg_item *cfg_file(const vmm_fw_cfg *c, const char *name)
{
    for (int i = 0; i < c->nitems; i++)
        if (c->items[i].key >= VMM_FW_CFG_FILE_FIRST && !strcmp(c->items[i].name, name))
            return &c->items[i];
    return NULL;
}

/* Runs etc/table-loader as SeaBIOS's romfile_loader does, placing etc/acpi/rsdp at rsdp_at
 * (it asks for the F segment) and etc/acpi/tables at tables_at (high memory). */
static void run_table_loader(const vmm_fw_cfg *c, uint64_t rsdp_at, uint64_t tables_at)
{
    const vmm_fw_cfg_item *l = cfg_file(c, "etc/table-loader");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    ST_ASSERT_INT_EQ(l->len % 128, 0);
    struct {
        const char *name;
        uint64_t at;
        const vmm_fw_cfg_item *it;
        int placed;
    } files[2] = {{"etc/acpi/rsdp", rsdp_at, NULL, 0}, {"etc/acpi/tables", tables_at, NULL, 0}};
    for (uint32_t off = 0; off < l->len; off += 128) {
        const uint8_t *e = l->data + off;
        char name[57] = {0}, src[57] = {0};
        memcpy(name, e + 4, 56);
        memcpy(src, e + 60, 56);
        int f = -1, s = -1;
        for (int i = 0; i < 2; i++) {
            f = !strcmp(name, files[i].name) ? i : f;
            s = !strcmp(src, files[i].name) ? i : s;
        }
        CU_ASSERT_FATAL(f >= 0);
        uint8_t *d = ram + files[f].at;
        switch (g32(e)) {
        case 1: /* ALLOCATE, once per file, before any use; rsdp in FSEG (2), tables HIGH (1) */
            CU_ASSERT_FATAL(!files[f].placed);
            files[f].it = cfg_file(c, name);
            CU_ASSERT_PTR_NOT_NULL_FATAL(files[f].it);
            ST_ASSERT_INT_EQ(e[64], f == 0 ? 2 : 1);
            ST_ASSERT_INT_EQ(files[f].at % g32(e + 60), 0);
            memcpy(d, files[f].it->data, files[f].it->len);
            files[f].placed = 1;
            break;
        case 2: { /* ADD_POINTER: dest += where src went */
            CU_ASSERT_FATAL(s >= 0 && files[f].placed && files[s].placed);
            uint32_t at = g32(e + 116);
            uint8_t size = e[120];
            CU_ASSERT_FATAL((size == 4 || size == 8) && at + size <= files[f].it->len);
            uint64_t v = 0;
            memcpy(&v, d + at, size);
            v += files[s].at;
            memcpy(d + at, &v, size);
            break;
        }
        case 3: { /* ADD_CHECKSUM: d[offset] -= sum(d[start, start + length)) */
            CU_ASSERT_FATAL(files[f].placed);
            uint32_t at = g32(e + 60), start = g32(e + 64), len = g32(e + 68);
            CU_ASSERT_FATAL(at < files[f].it->len && start + len <= files[f].it->len);
            d[at] = (uint8_t)(d[at] - bytesum(d + start, len));
            break;
        }
        default: CU_FAIL_FATAL("unknown table-loader command");
        }
    }
    CU_ASSERT(files[0].placed && files[1].placed);
}

/* The table with signature sig found through the RSDP at rsdp (-> XSDT, -> FADT for the DSDT
 * and the FACS), checksum checked; NULL if absent. */
static const uint8_t *acpi_find(uint64_t rsdp, const char *sig)
{
    const uint8_t *x = ram + g64(ram + rsdp + 24);
    for (uint32_t i = 36; i < g32(x + 4); i += 8) {
        const uint8_t *t = ram + g64(x + i);
        if (!memcmp(t, sig, 4))
            return t;
        if (!memcmp(t, "FACP", 4) && !memcmp(sig, "DSDT", 4))
            return ram + g64(t + 140);
        if (!memcmp(t, "FACP", 4) && !memcmp(sig, "FACS", 4))
            return g32(t + 36) ? ram + g32(t + 36) : NULL;
    }
    return NULL;
}

static void test_acpi_table_loader(void)
{
    /* The direct boot's MADT and DSDT, to compare with. */
    memset(ram, 0, RAM);
    ST_ASSERT_INT_EQ(vmm_acpi_write(&gm, 2), 0);
    const uint8_t *dm = acpi_find(VMM_ACPI_ADDR, "APIC"), *dd = acpi_find(VMM_ACPI_ADDR, "DSDT");
    CU_ASSERT_FATAL(dm && dd);
    uint8_t *madt = malloc(g32(dm + 4)), *dsdt = malloc(g32(dd + 4));
    CU_ASSERT_FATAL(madt && dsdt);
    memcpy(madt, dm, g32(dm + 4));
    memcpy(dsdt, dd, g32(dd + 4));

    vmm_fw_cfg c;
    ST_ASSERT_INT_EQ(vmm_fw_cfg_init(&c, &gm), 0);
    ST_ASSERT_INT_EQ(vmm_acpi_fw_cfg(&c, 2), 0);
    const vmm_fw_cfg_item *t = cfg_file(&c, "etc/acpi/tables");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);

    /* Placed as SeaBIOS would (RSDP in the F segment, tables high): the RSDP found there leads
     * to valid tables inside the placed blob, every pointer relocated, every checksum fixed. */
    memset(ram, 0, RAM);
    uint64_t rsdp = 0xf5a40, tables = 0x3ff0000;
    run_table_loader(&c, rsdp, tables);
    const uint8_t *r = ram + rsdp;
    CU_ASSERT(memcmp(r, "RSD PTR ", 8) == 0);
    ST_ASSERT_INT_EQ(bytesum(r, 20), 0);
    ST_ASSERT_INT_EQ(bytesum(r, 36), 0);
    ST_ASSERT_INT_EQ(g64(r + 24), tables);
    const uint8_t *x = ram + tables;
    ST_ASSERT_INT_EQ(bytesum(x, g32(x + 4)), 0);
    for (uint32_t i = 36; i < g32(x + 4); i += 8)
        CU_ASSERT(g64(x + i) >= tables && g64(x + i) < tables + t->len);
    const uint8_t *f = acpi_find(rsdp, "FACP"), *m = acpi_find(rsdp, "APIC"),
                  *d = acpi_find(rsdp, "DSDT"), *s = acpi_find(rsdp, "FACS");
    CU_ASSERT_FATAL(f && m && d && s);
    ST_ASSERT_INT_EQ(bytesum(f, g32(f + 4)), 0);
    ST_ASSERT_INT_EQ(g64(f + 140), g32(f + 40));
    CU_ASSERT((uint64_t)(s - ram) >= tables && (s - ram) % 64 == 0 && g32(s + 4) == 64);
    /* The MADT and the DSDT are the direct boot's, byte for byte; nothing at its address. */
    CU_ASSERT(g32(m + 4) == g32(madt + 4) && memcmp(m, madt, g32(madt + 4)) == 0);
    CU_ASSERT(g32(d + 4) == g32(dsdt + 4) && memcmp(d, dsdt, g32(dsdt + 4)) == 0);
    CU_ASSERT(memcmp(ram + VMM_ACPI_ADDR, "RSD PTR ", 8) != 0);

    /* The FADT, as ACPICA reads it: fixed hardware (a BIOS leaves the 8259 live), PM1a blocks,
     * the SCI, the FACS where the loader put it, no fixed power button. */
    char facs[32];
    snprintf(facs, sizeof facs, "%08X", (unsigned)(s - ram));
    const fadt_field fields[] = {
        {"Hardware Reduced (V5)", "0", 0},
        {"FACS Address", facs, 0},
        {"SCI Interrupt", "0009", 0},
        {"SMI Command Port", "00000000", 0},
        {"PM1A Event Block Address", "00000604", 0},
        {"PM1A Control Block Address", "00000608", 0},
        {"PM1 Event Block Length", "04", 0},
        {"PM1 Control Block Length", "02", 0},
        {"PM Timer Block Address", "00000000", 0},
        {"Control Method Power Button (V1)", "1", 0},
        {"Reset Register Supported (V2)", "1", 0},
        {"Reset Register", "0000000000000602", 1},
    };
    check_fadt(f, fields, sizeof fields / sizeof fields[0]);
    free(madt);
    free(dsdt);
    vmm_fw_cfg_free(&c);
}

static void test_cpuid_disable(void)
{
    char err[256];
    vmm_config c;
    const char *ok = "{\"kernel\": \"k\", \"cpuid_disable\": [\"cx16\", \"rdseed\"]}";
    ST_ASSERT_INT_EQ(vmm_config_parse(&c, ok, strlen(ok), err, sizeof err), 0);
    struct kvm_cpuid2 *cp = calloc(1, sizeof *cp + 3 * sizeof cp->entries[0]);
    cp->nent = 3;
    cp->entries[0] = (struct kvm_cpuid_entry2){.function = 1, .ecx = 0xffffffff, .edx = 7};
    cp->entries[1] = (struct kvm_cpuid_entry2){.function = 7, .index = 0, .ebx = 0xffffffff};
    cp->entries[2] = (struct kvm_cpuid_entry2){.function = 7, .index = 1, .ebx = 0xffffffff};
    vmm_cpuid_mask(cp, c.cpuid_disable);
    ST_ASSERT_INT_EQ(cp->entries[0].ecx, 0xffffffffu & ~(1u << 13)); /* CX16 gone, rest kept */
    ST_ASSERT_INT_EQ(cp->entries[0].edx, 7);
    ST_ASSERT_INT_EQ(cp->entries[1].ebx, 0xffffffffu & ~(1u << 18)); /* RDSEED gone */
    ST_ASSERT_INT_EQ(cp->entries[2].ebx, 0xffffffffu);               /* other subleaf kept */
    free(cp);
    vmm_config_free(&c);
    const char *bad = "{\"kernel\": \"k\", \"cpuid_disable\": [\"warp-drive\"]}";
    ST_ASSERT_INT_EQ(vmm_config_parse(&c, bad, strlen(bad), err, sizeof err), -1);
    CU_ASSERT(strstr(err, "cpuid_disable[0]") != NULL);
    const char *notarr = "{\"kernel\": \"k\", \"cpuid_disable\": \"cx16\"}";
    ST_ASSERT_INT_EQ(vmm_config_parse(&c, notarr, strlen(notarr), err, sizeof err), -1);
}

static CU_TestInfo tests[] = {
    {"e820: low RAM, EBDA and BIOS area reserved, RAM from 1 MiB", test_e820_small},
    {"e820: RAM above 3 GiB moves to 4 GiB", test_e820_split},
    {"e820 for the firmware: RAM, RAM above 4 GiB, KVM's pages reserved; 20-byte entries",
     test_e820_firmware},
    {"zero page for a vmlinux: setup header, command line, initrd, e820 at 0x2d0",
     test_zero_page_vmlinux},
    {"bzImage: kernel at pref_address, 64-bit entry +0x200, header copied, initrd, page tables",
     test_bzimage},
    {"bzImage without a 64-bit entry or truncated is refused", test_bzimage_refused},
    {"ELF: PT_LOAD copied and bss zeroed, PVH note found, bad segments refused", test_elf},
    {"PVH hvm_start_info: magic, version 1, command line, RSDP, memmap", test_pvh_start_info},
    {"MP table: checksums and one processor entry per vCPU", test_mptable},
    {"MP table: found by Linux's scan, in e820-reserved memory, well formed",
     test_mptable_found_by_linux_scan},
    {"reset vector: pulses the i8042 reset line, in reserved memory", test_reset_vector},
    {"ACPI: RSDP/XSDT checksums, MADT with every CPU and the IOAPIC", test_acpi},
    {"ACPI for the firmware: the table loader places and links the tables; iasl reads a "
     "fixed-hardware FADT",
     test_acpi_table_loader},
    {"DSDT: iasl -d disassembles it cleanly: PCI0 with its windows, COM1, RTC, \\_S5",
     test_dsdt_iasl},
    {"FADT: iasl -d shows hardware-reduced, the reset register and both sleep registers",
     test_fadt_iasl},
    {"cpuid_disable clears exactly the named features; unknown names are refused",
     test_cpuid_disable},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"loader", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
