/*
 * serial.h - COM1, an 8250/16550A UART at 0x3f8 (IRQ 4).
 *
 * Transmit only: bytes the guest writes go to the serial log (or stdout)
 * line by line and into a 64 KiB ring that the control API serves
 * (GET /vm/serial?tail=N). The transmitter is always ready (LSR THRE|TEMT),
 * so a polling guest never waits; an interrupt-driven one gets THRE
 * interrupts. Loopback mode mirrors MCR into MSR as Linux's probe expects.
 */
#ifndef VMM_SERIAL_H
#define VMM_SERIAL_H

#include <stddef.h>
#include <stdint.h>

#include "vmm.h"

#define VMM_SERIAL_RING (64 * 1024)

typedef struct vmm_serial vmm_serial;

int vmm_serial_init(vmm_vm *vm, const char *log_path);
void vmm_serial_flush(vmm_serial *s);
void vmm_serial_free(vmm_serial *s);
/* Copies the last (up to) n lines of output into a malloc'd string. */
char *vmm_serial_tail(vmm_serial *s, int nlines, size_t *len);
/* Bytes written by the guest so far. */
uint64_t vmm_serial_bytes(vmm_serial *s);

#endif
