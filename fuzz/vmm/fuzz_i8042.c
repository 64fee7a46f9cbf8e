/*
 * vmm_fuzz_i8042 - the PS/2 controller (i8042.h) against any sequence of
 * port accesses.
 *
 * The input is a list of 2-byte operations: byte 0 picks the port (bit 0:
 * 0x60 or 0x64; bits 1-2 widen the access to 2 or 4 bytes, bit 3 writes,
 * bit 7 with bits 0-6 all set resets the device), byte 1 is the value
 * written. After each one the fuzzer checks what must always hold: the
 * queues within their bounds, the input buffer never busy, an interrupt
 * line high only while the output buffer holds a byte for it, and the
 * callbacks only ever told of IRQ 1 and 12.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "i8042.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_irq(void *opaque, uint32_t irq, int level)
{
    int *lines = opaque;
    if (irq != 1 && irq != 12)
        abort();
    lines[irq == 12] = level;
}

static void on_reset(void *opaque) {}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int lines[2] = {0, 0};
    vmm_i8042 k;
    if (vmm_i8042_init(&k, on_irq, on_reset, lines))
        return 0;
    for (size_t i = 0; i + 1 < size; i += 2) {
        uint8_t op = data[i];
        if (op == 0xff) {
            vmm_i8042_reset(&k);
            continue;
        }
        static const uint32_t widths[] = {1, 2, 4, 1};
        uint8_t buf[4] = {data[i + 1], data[i + 1], 0, 0};
        vmm_i8042_io(&k, (op & 1) ? 4 : 0, buf, widths[(op >> 1) & 3], (op >> 3) & 1);
        if (k.ctl.len > VMM_I8042_QUEUE || k.kbd.len > VMM_I8042_QUEUE ||
            k.ctl.head >= VMM_I8042_QUEUE || k.kbd.head >= VMM_I8042_QUEUE)
            abort();
        uint8_t st = 0;
        vmm_i8042_io(&k, 4, &st, 1, 0);
        if ((st & 0x02) || lines[0] != k.level[0] || lines[1] != k.level[1] ||
            ((lines[0] || lines[1]) && !(st & 0x01)) || (lines[0] && lines[1]))
            abort();
    }
    vmm_i8042_free(&k);
    return 0;
}
