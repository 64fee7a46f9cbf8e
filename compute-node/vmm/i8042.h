/*
 * i8042.h - the PS/2 keyboard controller at 0x60 (data) and 0x64 (status /
 * command), with a keyboard that answers its commands but never has a key to
 * send, and an empty mouse port.
 *
 * What the guest sees, and why it is enough:
 *  - Status (read 0x64): OBF (a byte waits at 0x60), AUXDATA (it came from
 *    the mouse port), SYS (set by the self-test or command byte bit 2), CMD
 *    (the last write was a command), "keyboard not inhibited"; IBF is always
 *    clear (every write is handled at once), TIMEOUT marks the mouse port's
 *    "no device" reply.
 *  - Controller commands (write 0x64): 0x20-0x3f read and 0x60-0x7f write
 *    the 32 bytes of controller RAM, byte 0 being the command byte (bit 0
 *    IRQ 1, bit 1 IRQ 12, bit 2 SYS, bit 4 keyboard off, bit 5 mouse off,
 *    bit 6 translation); 0xaa self-test -> 0x55; 0xab / 0xa9 port tests ->
 *    0x00; 0xad / 0xae and 0xa7 / 0xa8 disable / enable the ports; 0xc0 input
 *    port; 0xd0 / 0xd1 read / write the output port (bit 0 clear resets the
 *    machine; bit 1, A20, is kept but not enforced: guest memory never wraps
 *    at 1 MiB); 0xd2 / 0xd3 echo the next byte as keyboard / mouse data;
 *    0xd4 sends it to the mouse, which is absent: 0xfe with TIMEOUT comes
 *    back; 0xdd / 0xdf A20; 0xf0-0xff pulse output lines (even values pulse
 *    reset, so 0xfe resets the machine).
 *  - The keyboard (data written to 0x60 with no command waiting for it):
 *    0xff reset -> 0xfa 0xaa; 0xf2 identify -> 0xfa 0xab 0x83 (0x41 when
 *    translating); 0xee echo -> 0xee; 0xed, 0xf0 and 0xf3 take a parameter
 *    (0xf0 0x00 reports the scan code set); 0xf4-0xfd -> 0xfa; anything else
 *    -> 0xfe (resend), as a real keyboard answers what it does not know.
 * SeaBIOS's POST and Linux's i8042 and atkbd drivers get every answer they
 * wait for, so neither sits out a timeout. Replies wait in two queues of 16
 * bytes (controller and keyboard; a full queue drops the newest), the
 * output buffer takes from the controller's first and from the keyboard's
 * only while its port is enabled. IRQ 1 (keyboard byte) or 12 (mouse byte)
 * is high while the output buffer holds such a byte and the command byte
 * enables it; reading 0x60 lowers it and raises it again if another byte
 * follows, so the edge-triggered PIC sees every byte.
 *
 * The device has no KVM dependency (the interrupt and reset lines are
 * callbacks), so the unit test and the fuzzer drive it directly.
 */
#ifndef VMM_I8042_H
#define VMM_I8042_H

#include <pthread.h>
#include <stdint.h>

#include "devreg.h"

#define VMM_I8042_PORT 0x60 /* data; status / command at +4 */
#define VMM_I8042_PORTS 5
#define VMM_I8042_KBD_IRQ 1
#define VMM_I8042_AUX_IRQ 12
#define VMM_I8042_QUEUE 16

/* Sets ISA interrupt line irq (1 or 12) to level; called with the device's lock held. */
typedef void vmm_i8042_irq_fn(void *opaque, uint32_t irq, int level);
/* The guest pulsed the reset line; called without the lock. */
typedef void vmm_i8042_reset_fn(void *opaque);

typedef struct vmm_i8042_queue {
    uint16_t b[VMM_I8042_QUEUE]; /* byte | status bits (AUXDATA, TIMEOUT) << 8 */
    unsigned head, len;
} vmm_i8042_queue;

typedef struct vmm_i8042 {
    pthread_mutex_t lock;
    vmm_i8042_irq_fn *irq;
    vmm_i8042_reset_fn *reset;
    void *opaque;
    uint8_t ram[32]; /* ram[0] is the command byte */
    uint8_t status;  /* SYS, CMD, "not inhibited"; OBF and the byte's flags are added on read */
    uint8_t outport;
    uint8_t pending;  /* controller command waiting for its data byte, or 0 */
    uint8_t kbd_cmd;  /* keyboard command waiting for its parameter, or 0 */
    uint8_t scan_set; /* 1-3, as the keyboard reports it */
    uint16_t out;     /* the output buffer: byte | flags << 8 */
    int obf;
    int level[2]; /* what we drive on IRQ 1 and IRQ 12 */
    vmm_i8042_queue ctl, kbd;
} vmm_i8042;

/* 0, or a negative errno. irq and reset may be NULL (nothing is signalled). */
int vmm_i8042_init(vmm_i8042 *k, vmm_i8042_irq_fn *irq, vmm_i8042_reset_fn *reset, void *opaque);
/* Back to the power-on state (a VM reset); the IRQ lines are lowered. */
void vmm_i8042_reset(vmm_i8042 *k);
/* The port handler for 0x60 + off (off 0..4; 1-3 read 0), as a vCPU calls it. */
void vmm_i8042_io(vmm_i8042 *k, uint64_t off, uint8_t *data, uint32_t len, int is_write);
void vmm_i8042_free(vmm_i8042 *k);
/* Its state record (devreg.h): controller RAM, status, output port, the commands waiting for
 * a byte, the scan set, the output buffer and both queues. Restore refuses what the device
 * could not hold (a queue longer than 16, flags other than AUXDATA/TIMEOUT, a scan set other
 * than 1-3), then drives the IRQ lines from what it restored. */
int vmm_i8042_save(vmm_i8042 *k, vmm_rec_out *o);
int vmm_i8042_restore(vmm_i8042 *k, vmm_rec_in *in, char *err, size_t errlen);

#endif
