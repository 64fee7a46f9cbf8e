/*
 * vmm_fw_cfg - the fw_cfg device driven through its ports as SeaBIOS drives
 * it, with no KVM: the signature and ID through selector and data port, an
 * integer item, reads past an item's end giving zeros, a new selection
 * restarting at offset 0, the file directory (big-endian count, entries
 * sorted by name with their sizes and selectors) and a file read through
 * it; DMA reads (select+read, skip, reads into guest RAM), the DMA register
 * reading "QEMU CFG", and hostile descriptors: a buffer or descriptor
 * outside RAM, a write, all failing without touching memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fw_cfg.h"
#include "st_test.h"

#define RAM 0x10000
static uint8_t *ram;
static vmm_gmem gm;
static vmm_fw_cfg fc;

static void fresh(void)
{
    free(ram);
    ram = calloc(1, RAM);
    gm = (vmm_gmem){.n = 1};
    gm.r[0] = (vmm_gmem_region){0x1000, RAM, ram}; /* guest RAM at 0x1000 */
    CU_ASSERT_EQUAL_FATAL(vmm_fw_cfg_init(&fc, &gm), 0);
}

static void sel(uint16_t key)
{
    vmm_fw_cfg_io(&fc, 0, (uint8_t *)&key, 2, 1);
}

static uint8_t in8(void)
{
    uint8_t v = 0xee;
    vmm_fw_cfg_io(&fc, 1, &v, 1, 0);
    return v;
}

static void read_n(void *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)dst)[i] = in8();
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void test_signature_id_items(void)
{
    fresh();
    char sig[5] = {0};
    sel(VMM_FW_CFG_SIGNATURE);
    read_n(sig, 4);
    CU_ASSERT_STRING_EQUAL(sig, "QEMU");
    CU_ASSERT_EQUAL(in8(), 0); /* past the end: zeros */
    uint32_t id = 0;
    sel(VMM_FW_CFG_ID);
    read_n(&id, 4);
    CU_ASSERT_EQUAL(id, 3); /* traditional + DMA */
    CU_ASSERT_EQUAL(vmm_fw_cfg_add_int(&fc, VMM_FW_CFG_RAM_SIZE, 0x123456789ull, 8), 0);
    CU_ASSERT_EQUAL(vmm_fw_cfg_add_int(&fc, VMM_FW_CFG_RAM_SIZE, 1, 8), -EEXIST);
    CU_ASSERT_EQUAL(vmm_fw_cfg_add_int(&fc, 0x30, 1, 3), -EINVAL);
    uint64_t rs = 0;
    sel(VMM_FW_CFG_RAM_SIZE);
    read_n(&rs, 4);
    sel(VMM_FW_CFG_RAM_SIZE); /* a new selection starts at 0 again */
    read_n(&rs, 8);
    CU_ASSERT_EQUAL(rs, 0x123456789ull);
    sel(0x7777); /* no such item: zeros */
    CU_ASSERT_EQUAL(in8(), 0);
    uint8_t w = 0x55; /* data port writes are ignored */
    sel(VMM_FW_CFG_SIGNATURE);
    vmm_fw_cfg_io(&fc, 1, &w, 1, 1);
    sel(VMM_FW_CFG_SIGNATURE);
    CU_ASSERT_EQUAL(in8(), 'Q');
    vmm_fw_cfg_free(&fc);
}

static void test_file_directory(void)
{
    fresh();
    CU_ASSERT_EQUAL(vmm_fw_cfg_add_file(&fc, "etc/e820", "0123456789abcdefghij", 20), 0);
    CU_ASSERT_EQUAL(vmm_fw_cfg_add_file(&fc, "bootorder", "/pci@i0cf8/*@1\n", 15), 0);
    CU_ASSERT_EQUAL(vmm_fw_cfg_add_file(&fc, "bootorder", "x", 1), -EEXIST);
    char longname[80];
    memset(longname, 'a', sizeof longname - 1);
    longname[79] = 0;
    CU_ASSERT_EQUAL(vmm_fw_cfg_add_file(&fc, longname, "x", 1), -EINVAL);
    uint8_t dir[4 + 2 * 64];
    sel(VMM_FW_CFG_FILE_DIR);
    read_n(dir, sizeof dir);
    CU_ASSERT_EQUAL(be32(dir), 2);
    /* sorted by name: bootorder (selector 0x21) before etc/e820 (0x20) */
    CU_ASSERT_STRING_EQUAL((char *)dir + 4 + 8, "bootorder");
    CU_ASSERT_EQUAL(be32(dir + 4), 15);
    CU_ASSERT_EQUAL(dir[4 + 4] << 8 | dir[4 + 5], 0x21);
    CU_ASSERT_STRING_EQUAL((char *)dir + 68 + 8, "etc/e820");
    CU_ASSERT_EQUAL(be32(dir + 68), 20);
    CU_ASSERT_EQUAL(dir[68 + 4] << 8 | dir[68 + 5], 0x20);
    char body[16] = {0};
    sel((uint16_t)(dir[4 + 4] << 8 | dir[4 + 5]));
    read_n(body, 15);
    CU_ASSERT_STRING_EQUAL(body, "/pci@i0cf8/*@1\n");
    vmm_fw_cfg_free(&fc);
}

/* Writes a descriptor at gpa and rings the DMA register; returns the control word after. */
static uint32_t dma(uint64_t gpa, uint32_t ctl, uint32_t len, uint64_t addr)
{
    uint8_t *d = ram + (gpa - 0x1000);
    put_be32(d, ctl);
    put_be32(d + 4, len);
    put_be32(d + 8, (uint32_t)(addr >> 32));
    put_be32(d + 12, (uint32_t)addr);
    uint8_t hi[4], lo[4];
    put_be32(hi, (uint32_t)(gpa >> 32));
    put_be32(lo, (uint32_t)gpa);
    vmm_fw_cfg_io(&fc, 4, hi, 4, 1);
    vmm_fw_cfg_io(&fc, 8, lo, 4, 1);
    return be32(d);
}

static void test_dma(void)
{
    fresh();
    CU_ASSERT_EQUAL(vmm_fw_cfg_add_file(&fc, "etc/e820", "0123456789abcdefghij", 20), 0);
    uint8_t reg[4];
    vmm_fw_cfg_io(&fc, 4, reg, 4, 0);
    CU_ASSERT_EQUAL(memcmp(reg, "QEMU", 4), 0);
    vmm_fw_cfg_io(&fc, 8, reg, 4, 0);
    CU_ASSERT_EQUAL(memcmp(reg, " CFG", 4), 0);
    /* select + read: the signature into RAM at 0x2000 */
    uint32_t sel_sig = (uint32_t)VMM_FW_CFG_SIGNATURE << 16 | VMM_FW_CFG_DMA_SELECT;
    CU_ASSERT_EQUAL(dma(0x1100, sel_sig | VMM_FW_CFG_DMA_READ, 6, 0x2000), 0);
    CU_ASSERT_EQUAL(memcmp(ram + 0x1000, "QEMU\0\0", 6), 0);
    /* select the file, skip 10, read 10 */
    uint32_t sel_file = (uint32_t)0x20 << 16 | VMM_FW_CFG_DMA_SELECT;
    CU_ASSERT_EQUAL(dma(0x1100, sel_file | VMM_FW_CFG_DMA_SKIP, 10, 0), 0);
    CU_ASSERT_EQUAL(dma(0x1100, VMM_FW_CFG_DMA_READ, 10, 0x3000), 0);
    CU_ASSERT_EQUAL(memcmp(ram + 0x2000, "abcdefghij", 10), 0);
    /* the port interface continues where DMA left off: past the end */
    CU_ASSERT_EQUAL(in8(), 0);
    /* a buffer outside RAM: error bit, nothing written */
    CU_ASSERT_EQUAL(dma(0x1100, sel_file | VMM_FW_CFG_DMA_READ, 20, 0x10000 + RAM - 10),
                    VMM_FW_CFG_DMA_ERROR);
    CU_ASSERT_EQUAL(dma(0x1100, sel_file | VMM_FW_CFG_DMA_READ, 0xffffffffu, 0x2000),
                    VMM_FW_CFG_DMA_ERROR);
    CU_ASSERT_EQUAL(dma(0x1100, sel_file | VMM_FW_CFG_DMA_READ, 16, 0xfffffffffffffff8ull),
                    VMM_FW_CFG_DMA_ERROR);
    /* writes are refused, the item unchanged */
    memcpy(ram + 0x3000, "XXXX", 4);
    CU_ASSERT_EQUAL(dma(0x1100, sel_file | VMM_FW_CFG_DMA_WRITE, 4, 0x4000), VMM_FW_CFG_DMA_ERROR);
    CU_ASSERT_EQUAL(dma(0x1100, sel_file | VMM_FW_CFG_DMA_READ, 4, 0x4000), 0);
    CU_ASSERT_EQUAL(memcmp(ram + 0x3000, "0123", 4), 0);
    /* a descriptor outside RAM: nothing happens (no crash, RAM untouched) */
    uint8_t before[RAM];
    memcpy(before, ram, RAM);
    uint8_t hi[4] = {0, 0, 0, 0}, lo[4] = {0, 0, 0x0f, 0xf8}; /* 0xff8: below RAM */
    vmm_fw_cfg_io(&fc, 4, hi, 4, 1);
    vmm_fw_cfg_io(&fc, 8, lo, 4, 1);
    put_be32(hi, 0xffffffffu);
    put_be32(lo, 0xfffffff8u);
    vmm_fw_cfg_io(&fc, 4, hi, 4, 1);
    vmm_fw_cfg_io(&fc, 8, lo, 4, 1);
    CU_ASSERT_EQUAL(memcmp(before, ram, RAM), 0);
    /* a descriptor overlapped by its own buffer still gets its status */
    CU_ASSERT_EQUAL(dma(0x1100, sel_file | VMM_FW_CFG_DMA_READ, 20, 0x1100), 0);
    CU_ASSERT_EQUAL(memcmp(ram + 0x104, "4567", 4), 0);
    vmm_fw_cfg_free(&fc);
}

/* A file half read, saved, restored into a fresh device with the same items: the next bytes
 * come out of the second; a short or long record is refused. */
static void test_state(void)
{
    fresh();
    CU_ASSERT_EQUAL_FATAL(vmm_fw_cfg_add_file(&fc, "etc/x", "0123456789", 10), 0);
    sel(VMM_FW_CFG_FILE_FIRST);
    char b[5] = {0};
    read_n(b, 4);
    CU_ASSERT_STRING_EQUAL(b, "0123");
    vmm_rec_out o = {0};
    vmm_fw_cfg_save(&fc, &o);
    CU_ASSERT_EQUAL_FATAL(o.len, 10);
    vmm_fw_cfg_free(&fc);
    fresh();
    CU_ASSERT_EQUAL_FATAL(vmm_fw_cfg_add_file(&fc, "etc/x", "0123456789", 10), 0);
    char err[128];
    vmm_rec_in in = {.p = o.p, .len = o.len - 1, .id = "fw_cfg"};
    CU_ASSERT_EQUAL(vmm_fw_cfg_restore(&fc, &in, err, sizeof err), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "fw_cfg: payload too short"));
    in = (vmm_rec_in){.p = o.p, .len = o.len, .id = "fw_cfg"};
    CU_ASSERT_EQUAL(vmm_fw_cfg_restore(&fc, &in, err, sizeof err), 0);
    read_n(b, 4);
    CU_ASSERT_STRING_EQUAL(b, "4567");
    free(o.p);
    vmm_fw_cfg_free(&fc);
}

static CU_TestInfo tests[] = {
    {"signature, ID and items through the ports", test_signature_id_items},
    {"file directory", test_file_directory},
    {"DMA and hostile descriptors", test_dma},
    {"state record: a half-read file continues after a restore", test_state},
    CU_TEST_INFO_NULL,
};

static int cleanup(void)
{
    free(ram);
    ram = NULL;
    return 0;
}

static CU_SuiteInfo suites[] = {
    {"fw_cfg", NULL, cleanup, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
