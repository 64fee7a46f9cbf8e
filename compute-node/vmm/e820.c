/* e820.c - the guest's memory maps (see e820.h). */
#include "e820.h"

#include <string.h>

#include "vmm.h"

int vmm_e820_build(uint64_t ram_size, vmm_e820 *out)
{
    int n = 0;
    uint64_t low = ram_size < VMM_LOW_RAM_END ? ram_size : VMM_LOW_RAM_END;
    out[n++] = (vmm_e820){0, VMM_EBDA_START, E820_RAM};
    out[n++] = (vmm_e820){VMM_EBDA_START, 0xa0000 - VMM_EBDA_START, E820_RESERVED};
    out[n++] = (vmm_e820){VMM_ACPI_ADDR, VMM_BIOS_END - VMM_ACPI_ADDR, E820_RESERVED};
    out[n++] = (vmm_e820){VMM_BIOS_END, low - VMM_BIOS_END, E820_RAM};
    if (ram_size > low)
        out[n++] = (vmm_e820){VMM_HIGH_RAM_START, ram_size - low, E820_RAM};
    return n;
}

int vmm_e820_firmware(uint64_t ram_size, vmm_e820 *out)
{
    int n = 0;
    uint64_t low = ram_size < VMM_LOW_RAM_END ? ram_size : VMM_LOW_RAM_END;
    out[n++] = (vmm_e820){0, low, E820_RAM};
    if (ram_size > low)
        out[n++] = (vmm_e820){VMM_HIGH_RAM_START, ram_size - low, E820_RAM};
    out[n++] = (vmm_e820){VMM_KVM_IDMAP_ADDR, 0x4000, E820_RESERVED}; /* kvm.c: idmap + TSS */
    return n;
}

uint32_t vmm_e820_encode(const vmm_e820 *e, int n, uint8_t *out, uint32_t cap)
{
    uint32_t len = 0;
    for (int i = 0; i < n && len + VMM_E820_ENTRY <= cap; i++, len += VMM_E820_ENTRY) {
        memcpy(out + len, &e[i].addr, 8); /* x86: little-endian, as the tables are */
        memcpy(out + len + 8, &e[i].size, 8);
        memcpy(out + len + 16, &e[i].type, 4);
    }
    return len;
}
