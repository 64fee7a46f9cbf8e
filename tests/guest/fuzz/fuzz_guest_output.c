/*
 * vmm_fuzz_guest_output - the harness's parser of a guest's serial output
 * (guest_judge, guest_data*) over arbitrary bytes: whatever a VMM or a
 * broken guest prints must be judged, never crash or overrun. The first
 * byte picks the exit status fed alongside.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest_run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int status[] = {33 << 8, 35 << 8, 16 << 8, 17 << 8, 0, 9, -1, 1 << 8};
    if (size == 0)
        return 0;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    guest_result r = {0};
    guest_judge(&r, text, status[data[0] % 8], data[0] >> 7);
    char buf[64];
    unsigned long long v;
    guest_data(&r, "blk.capacity", buf, sizeof buf);
    guest_data_nth(&r, "pci", 3, buf, sizeof buf);
    guest_data_u64(&r, "mem.total", &v);
    (void)guest_data_count(&r, "smp.cpu");
    (void)guest_data(&r, "", buf, 1);
    guest_result_free(&r);
    free(text);
    return 0;
}
