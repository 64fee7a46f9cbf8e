/*
 * vmm_fuzz_fw_cfg - the fw_cfg device's guest-facing interface (fw_cfg.h)
 * against hostile port accesses and DMA descriptors.
 *
 * The input is a list of 8-byte operations over a 64 KiB fake guest memory
 * (a separate allocation at guest address 0x1000, so ASan sees any access
 * past it; the input's tail is copied into it first): byte 0 picks the port
 * offset (0..11) and direction, byte 1 the width (1, 2 or 4), bytes 2..5
 * the value written. Writes to the DMA register run descriptors wherever the
 * fuzzer points them, overlapping or straddling the edge of RAM.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fw_cfg.h"

#define MEM 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *mem = calloc(1, MEM);
    if (!mem)
        return 0;
    size_t nops = size / 8 > 256 ? 256 : size / 8;
    size_t tail = size - nops * 8;
    memcpy(mem, data + nops * 8, tail < MEM ? tail : MEM);
    vmm_gmem gm = {.n = 1};
    gm.r[0] = (vmm_gmem_region){0x1000, MEM, mem};
    vmm_fw_cfg f;
    if (vmm_fw_cfg_init(&f, &gm)) {
        free(mem);
        return 0;
    }
    vmm_fw_cfg_add_int(&f, VMM_FW_CFG_RAM_SIZE, 128ull << 20, 8);
    vmm_fw_cfg_add_file(&f, "etc/e820", mem, 40);
    vmm_fw_cfg_add_file(&f, "bootorder", "/pci@i0cf8/*@1\n", 15);
    vmm_fw_cfg_add_file(&f, "empty", "", 0);
    for (size_t i = 0; i < nops; i++) {
        const uint8_t *op = data + 8 * i;
        uint8_t buf[4];
        memcpy(buf, op + 2, 4);
        static const uint32_t widths[] = {1, 2, 4, 4};
        vmm_fw_cfg_io(&f, op[0] % VMM_FW_CFG_PORTS, buf, widths[op[1] & 3], op[0] >> 7);
    }
    vmm_fw_cfg_free(&f);
    free(mem);
    return 0;
}
