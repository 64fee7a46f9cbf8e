/*
 * serial.h - COM1, an 8250/16550A UART at 0x3f8 (IRQ 4).
 *
 * Bytes the guest writes go to the serial log (or stdout) line by line and
 * into a 64 KiB ring that the control API serves (GET /vm/serial?tail=N).
 * Bytes it reads come from a receive FIFO fed by stdin (when there is no
 * serial log) and by POST /vm/serial; a full FIFO stops reading stdin until
 * the guest drains it, and refuses what the control API cannot fit. The transmitter is always ready
 * (LSR THRE|TEMT), so a polling guest never waits; an interrupt-driven one gets THRE interrupts.
 * Loopback mode mirrors MCR into MSR as Linux's probe expects.
 */
#ifndef VMM_SERIAL_H
#define VMM_SERIAL_H

#include <stddef.h>
#include <stdint.h>

#include "vmm.h"

#define VMM_SERIAL_RING (64 * 1024)
#define VMM_SERIAL_RX 256
/* The most POST /vm/serial takes in one request. */
#define VMM_SERIAL_INPUT_MAX 4096

struct event_base;

typedef struct vmm_serial vmm_serial;

int vmm_serial_init(vmm_vm *vm, const char *log_path);
void vmm_serial_flush(vmm_serial *s);
/* Watches stdin on base (the event thread) and feeds what it reads to the guest;
 * 0, or -ENOMEM. A stdin epoll cannot watch (a regular file, /dev/null) gives no input. */
int vmm_serial_start_input(vmm_serial *s, struct event_base *base);
/* Queues up to n bytes for the guest to read; returns how many fitted. Any thread. */
size_t vmm_serial_input(vmm_serial *s, const void *buf, size_t n);
/* The port I/O handler for registers off..off+len-1 (0..7), as a vCPU calls it (tests). */
void vmm_serial_io(vmm_serial *s, uint64_t off, uint8_t *data, uint32_t len, int is_write);
void vmm_serial_free(vmm_serial *s);
/* Copies the last (up to) n lines of output into a malloc'd string. */
char *vmm_serial_tail(vmm_serial *s, int nlines, size_t *len);
/* Bytes written by the guest so far. */
uint64_t vmm_serial_bytes(vmm_serial *s);

#endif
