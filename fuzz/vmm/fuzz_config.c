/*
 * vmm_fuzz_config - the VM description parser (config.c) on arbitrary bytes:
 * the node agent writes these files from tenant-influenced data, so a bad
 * one must end in a clear error, never a crash or a leak.
 */
#include <stddef.h>
#include <stdint.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vmm_config c;
    char err[256];
    if (vmm_config_parse(&c, (const char *)data, size, err, sizeof err) == 0)
        vmm_config_free(&c);
    return 0;
}
