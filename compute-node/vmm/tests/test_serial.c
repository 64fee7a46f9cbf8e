/*
 * vmm_serial - COM1's receive side, driven through its port registers with
 * no KVM: bytes queued by the control API or read from stdin reach RBR in
 * order, LSR.DR follows the FIFO, IIR reports received data (0x04) ahead of
 * THRE while IER.RDI is set, a full FIFO refuses the excess, FCR clears it.
 */
#include <event2/event.h>
#include <string.h>
#include <unistd.h>

#include "serial.h"
#include "st_test.h"
#include "vmm.h"

static vmm_vm vm;

static int setup(void)
{
    memset(&vm, 0, sizeof vm);
    vm.fd = -1; /* no KVM: the IRQ line ioctl fails quietly, IIR is the witness */
    return 0;
}

static uint8_t rd(uint64_t off)
{
    uint8_t v = 0xee;
    vmm_serial_io(vm.serial, off, &v, 1, 0);
    return v;
}

static void wr(uint64_t off, uint8_t v)
{
    vmm_serial_io(vm.serial, off, &v, 1, 1);
}

static void fresh(void)
{
    memset(&vm, 0, sizeof vm);
    vm.fd = -1;
    CU_ASSERT_EQUAL_FATAL(vmm_serial_init(&vm, "/dev/null"), 0);
}

static void test_rx_order_and_lsr(void)
{
    fresh();
    CU_ASSERT_EQUAL(rd(5) & 0x01, 0); /* nothing received */
    CU_ASSERT_EQUAL(vmm_serial_input(vm.serial, "hi\n", 3), 3);
    CU_ASSERT_EQUAL(rd(5) & 0x61, 0x61); /* DR, THRE, TEMT */
    CU_ASSERT_EQUAL(rd(0), 'h');
    CU_ASSERT_EQUAL(rd(0), 'i');
    CU_ASSERT_EQUAL(rd(5) & 0x01, 0x01);
    CU_ASSERT_EQUAL(rd(0), '\n');
    CU_ASSERT_EQUAL(rd(5) & 0x01, 0);
    vmm_serial_free(vm.serial);
}

static void test_iir(void)
{
    fresh();
    wr(1, 0x03);                         /* IER: RDI | THRI */
    CU_ASSERT_EQUAL(rd(2) & 0x0f, 0x02); /* THRE pending, acknowledged by this read */
    CU_ASSERT_EQUAL(rd(2) & 0x0f, 0x01);
    vmm_serial_input(vm.serial, "x", 1);
    CU_ASSERT_EQUAL(rd(2) & 0x0f, 0x04);
    CU_ASSERT_EQUAL(rd(2) & 0x0f, 0x04); /* stays until RBR is read */
    CU_ASSERT_EQUAL(rd(0), 'x');
    CU_ASSERT_EQUAL(rd(2) & 0x0f, 0x01);
    wr(1, 0x00);
    vmm_serial_input(vm.serial, "y", 1);
    CU_ASSERT_EQUAL(rd(2) & 0x0f, 0x01); /* RDI off: no interrupt, DR still set */
    CU_ASSERT_EQUAL(rd(5) & 0x01, 0x01);
    vmm_serial_free(vm.serial);
}

static void test_full_and_fcr(void)
{
    fresh();
    char buf[VMM_SERIAL_RX + 10];
    memset(buf, 'a', sizeof buf);
    CU_ASSERT_EQUAL(vmm_serial_input(vm.serial, buf, sizeof buf), VMM_SERIAL_RX);
    CU_ASSERT_EQUAL(vmm_serial_input(vm.serial, "b", 1), 0);
    wr(2, 0x03); /* FIFO enable + clear receive FIFO */
    CU_ASSERT_EQUAL(rd(5) & 0x01, 0);
    CU_ASSERT_EQUAL(rd(0), 0);
    vmm_serial_free(vm.serial);
}

static void test_loopback(void)
{
    fresh();
    wr(4, 0x10); /* MCR LOOP */
    wr(0, 'L');
    CU_ASSERT_EQUAL(rd(5) & 0x01, 0x01);
    CU_ASSERT_EQUAL(rd(0), 'L');
    vmm_serial_free(vm.serial);
}

static void test_stdin(void)
{
    int p[2], saved = dup(STDIN_FILENO);
    CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
    dup2(p[0], STDIN_FILENO);
    close(p[0]);
    fresh();
    struct event_base *base = event_base_new();
    CU_ASSERT_EQUAL_FATAL(vmm_serial_start_input(vm.serial, base), 0);
    CU_ASSERT_EQUAL(write(p[1], "ok\n", 3), 3);
    event_base_loop(base, EVLOOP_ONCE);
    CU_ASSERT_EQUAL(rd(0), 'o');
    CU_ASSERT_EQUAL(rd(0), 'k');
    CU_ASSERT_EQUAL(rd(0), '\n');
    CU_ASSERT_EQUAL(rd(5) & 0x01, 0);
    vmm_serial_free(vm.serial);
    event_base_free(base);
    close(p[1]);
    dup2(saved, STDIN_FILENO);
    close(saved);
}

static CU_TestInfo tests[] = {
    {"queued bytes come out of RBR in order; LSR.DR follows the FIFO", test_rx_order_and_lsr},
    {"IIR: received data (0x04) while IER.RDI and bytes wait, THRE otherwise", test_iir},
    {"a full FIFO refuses the excess; FCR bit 1 clears it", test_full_and_fcr},
    {"loopback mode: THR comes back in RBR", test_loopback},
    {"bytes written to stdin reach RBR through the event loop", test_stdin},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"serial", setup, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
