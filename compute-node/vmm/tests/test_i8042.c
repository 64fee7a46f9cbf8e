/*
 * vmm_i8042 - the PS/2 controller driven through ports 0x60/0x64 with no
 * KVM, its interrupt and reset lines recorded by callbacks: SeaBIOS's probe
 * in order (flush, ports off, self-test 0x55, keyboard test 0x00, the
 * command byte written and read back, keyboard reset 0xfa 0xaa, scan set,
 * enable) with every answer ready at once; the status bits (OBF, SYS, CMD,
 * AUXDATA, TIMEOUT); IRQ 1 following the output buffer and the command
 * byte, with a fresh edge per byte; keyboard bytes held while its port is
 * off; the mouse port's loop-back on IRQ 12 and its "no device" reply;
 * identify with and without translation; reset by 0xfe and by an output
 * port write; bounded queues under a flood of commands.
 */
#include <string.h>

#include "i8042.h"
#include "st_test.h"

static vmm_i8042 kbc;
static int level[13], edges[13], resets;

static void on_irq(void *opaque, uint32_t irq, int l)
{
    CU_ASSERT_FATAL(irq == 1 || irq == 12);
    if (l && !level[irq])
        edges[irq]++;
    level[irq] = l;
}

static void on_reset(void *opaque)
{
    resets++;
}

static void fresh(void)
{
    memset(level, 0, sizeof level);
    memset(edges, 0, sizeof edges);
    resets = 0;
    CU_ASSERT_EQUAL_FATAL(vmm_i8042_init(&kbc, on_irq, on_reset, NULL), 0);
}

static uint8_t status(void)
{
    uint8_t v = 0xee;
    vmm_i8042_io(&kbc, 4, &v, 1, 0);
    return v;
}

static uint8_t data(void)
{
    uint8_t v = 0xee;
    vmm_i8042_io(&kbc, 0, &v, 1, 0);
    return v;
}

static void cmd(uint8_t v)
{
    vmm_i8042_io(&kbc, 4, &v, 1, 1);
}

static void out(uint8_t v)
{
    vmm_i8042_io(&kbc, 0, &v, 1, 1);
}

/* The next byte, which must be waiting already (OBF set, not from the mouse port). */
static int next(void)
{
    uint8_t st = status();
    if (!(st & 0x01) || (st & 0x20))
        return -1;
    return data();
}

static void test_seabios_probe(void)
{
    fresh();
    CU_ASSERT_EQUAL(status() & 0x03, 0); /* nothing to flush, input buffer free */
    cmd(0xad);
    cmd(0xa7);
    CU_ASSERT_EQUAL(status() & 0x01, 0);
    CU_ASSERT_EQUAL(status() & 0x04, 0); /* SYS clear until the self-test */
    cmd(0xaa);
    CU_ASSERT_EQUAL(status() & 0x0d, 0x0d); /* OBF, SYS, last write a command */
    CU_ASSERT_EQUAL(next(), 0x55);
    CU_ASSERT_EQUAL(status() & 0x01, 0);
    cmd(0xab);
    CU_ASSERT_EQUAL(next(), 0x00);
    /* ps2_command: interrupts off, keyboard port on, reset with its BAT result */
    cmd(0x60);
    out(0x34); /* AUXDIS | KBDDIS | SYS */
    edges[1] = 0;
    CU_ASSERT_EQUAL(status() & 0x08, 0); /* last write was data */
    cmd(0x20);
    CU_ASSERT_EQUAL(next(), 0x34);
    cmd(0x60);
    out(0x24);
    out(0xff);
    CU_ASSERT_EQUAL(next(), 0xfa);
    CU_ASSERT_EQUAL(next(), 0xaa);
    CU_ASSERT_EQUAL(status() & 0x01, 0);
    out(0xf5);
    CU_ASSERT_EQUAL(next(), 0xfa);
    out(0xf0); /* scan set 2, then ask for it back */
    CU_ASSERT_EQUAL(next(), 0xfa);
    out(0x02);
    CU_ASSERT_EQUAL(next(), 0xfa);
    out(0xf0);
    out(0x00);
    CU_ASSERT_EQUAL(next(), 0xfa);
    CU_ASSERT_EQUAL(next(), 0xfa);
    CU_ASSERT_EQUAL(next(), 0x02);
    out(0xf4);
    CU_ASSERT_EQUAL(next(), 0xfa);
    out(0x12); /* not a keyboard command: resend */
    CU_ASSERT_EQUAL(next(), 0xfe);
    CU_ASSERT_EQUAL(edges[1], 0); /* the command byte no longer enables IRQ 1 */
    CU_ASSERT_EQUAL(resets, 0);
    vmm_i8042_free(&kbc);
}

static void test_irq1(void)
{
    fresh();
    cmd(0x60);
    out(0x01); /* KBDINT, keyboard port on */
    out(0xff);
    CU_ASSERT_EQUAL(level[1], 1);
    CU_ASSERT_EQUAL(edges[1], 1);
    CU_ASSERT_EQUAL(data(), 0xfa);
    CU_ASSERT_EQUAL(level[1], 1); /* 0xaa follows ... */
    CU_ASSERT_EQUAL(edges[1], 2); /* ... on an edge of its own */
    CU_ASSERT_EQUAL(data(), 0xaa);
    CU_ASSERT_EQUAL(level[1], 0);
    CU_ASSERT_EQUAL(data(), 0xaa); /* an empty buffer reads its last byte again */
    CU_ASSERT_EQUAL(edges[1], 2);
    /* a byte waiting while IRQ 1 is off raises it when the command byte enables it */
    cmd(0x60);
    out(0x00);
    cmd(0xab);
    CU_ASSERT_EQUAL(level[1], 0);
    cmd(0x60);
    out(0x01);
    CU_ASSERT_EQUAL(level[1], 1);
    CU_ASSERT_EQUAL(data(), 0x00);
    CU_ASSERT_EQUAL(level[1], 0);
    CU_ASSERT_EQUAL(level[12], 0);
    vmm_i8042_free(&kbc);
}

static void test_port_disable_holds_keyboard(void)
{
    fresh();
    out(0xee); /* echo: the write itself enables the keyboard port */
    cmd(0xad);
    CU_ASSERT_EQUAL(next(), 0xee); /* already in the output buffer */
    out(0xee);
    cmd(0xad);
    CU_ASSERT_EQUAL(data(), 0xee); /* (in the buffer before the port went off) */
    out(0xf2);
    cmd(0xad);
    CU_ASSERT_EQUAL(data(), 0xfa);
    CU_ASSERT_EQUAL(status() & 0x01, 0); /* 0xab 0x83 wait in the keyboard */
    cmd(0xab);
    CU_ASSERT_EQUAL(next(), 0x00); /* the controller still answers */
    cmd(0xae);
    CU_ASSERT_EQUAL(next(), 0xab);
    CU_ASSERT_EQUAL(next(), 0x83); /* untranslated identify */
    cmd(0x60);
    out(0x40); /* translation on */
    out(0xf2);
    CU_ASSERT_EQUAL(next(), 0xfa);
    CU_ASSERT_EQUAL(next(), 0xab);
    CU_ASSERT_EQUAL(next(), 0x41);
    vmm_i8042_free(&kbc);
}

static void test_aux_port(void)
{
    fresh(); /* power-on command byte enables IRQ 12 */
    cmd(0xa8);
    cmd(0xd3);
    out(0x5a);
    CU_ASSERT_EQUAL(status() & 0x21, 0x21);
    CU_ASSERT_EQUAL(level[12], 1);
    CU_ASSERT_EQUAL(level[1], 0);
    CU_ASSERT_EQUAL(data(), 0x5a);
    CU_ASSERT_EQUAL(level[12], 0);
    cmd(0xd4);
    out(0xff); /* to the mouse, which is absent */
    CU_ASSERT_EQUAL(status() & 0x61, 0x61);
    CU_ASSERT_EQUAL(data(), 0xfe);
    CU_ASSERT_EQUAL(status() & 0x61, 0);
    cmd(0xa9);
    CU_ASSERT_EQUAL(next(), 0x00);
    cmd(0xd2);
    out(0x99);
    CU_ASSERT_EQUAL(level[1], 1);
    CU_ASSERT_EQUAL(next(), 0x99);
    CU_ASSERT_EQUAL(edges[12], 2);
    vmm_i8042_free(&kbc);
}

static void test_reset_lines(void)
{
    fresh();
    cmd(0xfe);
    CU_ASSERT_EQUAL(resets, 1);
    cmd(0xff); /* pulses nothing */
    cmd(0xd0);
    CU_ASSERT_EQUAL(next() & 0x03, 0x03); /* reset line high, A20 on */
    cmd(0xd1);
    out(0xdd); /* bit 0 still set: no reset */
    CU_ASSERT_EQUAL(resets, 1);
    cmd(0xd1);
    out(0xdc);
    CU_ASSERT_EQUAL(resets, 2);
    cmd(0xdf);
    cmd(0xd0);
    CU_ASSERT_EQUAL(next() & 0x02, 0x02);
    cmd(0xdd);
    cmd(0xd0);
    CU_ASSERT_EQUAL(next() & 0x02, 0);
    /* a VM reset restores the power-on state */
    cmd(0xaa);
    vmm_i8042_reset(&kbc);
    CU_ASSERT_EQUAL(status(), 0x18);
    cmd(0x20);
    CU_ASSERT_EQUAL(next(), 0x03);
    vmm_i8042_free(&kbc);
}

static void test_flood_is_bounded(void)
{
    fresh();
    for (int i = 0; i < 1000; i++) {
        cmd(0xaa);
        out(0xf2);
    }
    int n = 0;
    while ((status() & 0x01) && n < 1000) {
        data();
        n++;
    }
    /* the output buffer and both queues full, the rest dropped */
    CU_ASSERT_EQUAL(n, 1 + 2 * VMM_I8042_QUEUE);
    CU_ASSERT_EQUAL(status() & 0x01, 0);
    uint8_t wide[4] = {0xee, 0xee, 0xee, 0xee};
    vmm_i8042_io(&kbc, 1, wide, 4, 0); /* 0x61: not ours */
    CU_ASSERT_EQUAL(wide[0] | wide[3], 0);
    vmm_i8042_io(&kbc, 4, wide, 4, 0);
    CU_ASSERT_EQUAL(wide[3], 0);
    vmm_i8042_free(&kbc);
}

static CU_TestInfo tests[] = {
    {"SeaBIOS's probe answered at once", test_seabios_probe},
    {"IRQ 1 follows the output buffer and the command byte", test_irq1},
    {"keyboard bytes wait while its port is off", test_port_disable_holds_keyboard},
    {"mouse port: loop-back on IRQ 12, no device", test_aux_port},
    {"reset by 0xfe and the output port", test_reset_lines},
    {"a flood of commands stays bounded", test_flood_is_bounded},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"i8042", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
