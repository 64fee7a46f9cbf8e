/*
 * serial.c - the 8250 UART model (see serial.h).
 *
 * Registers (offset from 0x3f8; DLAB is LCR bit 7):
 *   0 THR/RBR, or DLL   1 IER, or DLM   2 IIR (read) / FCR (write)
 *   3 LCR   4 MCR   5 LSR   6 MSR   7 SCR
 * Received bytes wait in a FIFO of VMM_SERIAL_RX bytes: LSR.DR is set while
 * it holds any, RBR pops one, and IIR reports "received data" (0x04, which
 * outranks THRE's 0x02) while IER.RDI is set and the FIFO is not empty.
 * The IRQ 4 line is the OR of both interrupt sources. Bytes come from the
 * VMM's stdin (event thread, only when there is no serial_log), from the
 * control API (vmm_serial_input), and in loopback mode from THR itself.
 * Output is buffered until a newline (or 256 bytes) to keep one write(2)
 * per line rather than per byte; everything is flushed at exit.
 *
 * Registry ("serial:com1"): a VM reset puts the registers back to power-on
 * (LCR 8N1, MCR OUT2) and keeps the receive FIFO (host input the guest has
 * not read yet). Its record holds IER, LCR, MCR, SCR, FCR, the divisor, the
 * pending THRE interrupt and the FIFO's bytes in order; the IRQ line is
 * driven again from them. Output already written (the log, the API's ring)
 * is the host's, not the device's, and is not in it.
 */
#include "serial.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COM1_BASE 0x3f8
#define COM1_IRQ 4

#define LSR_DR 0x01
#define IER_RDI 0x01
#define IER_THRI 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MCR_LOOP 0x10

struct vmm_serial {
    vmm_vm *vm;
    pthread_mutex_t lock;
    int fd;
    uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
    int thri_pending;
    int irq_level;
    char line[256];
    size_t nline;
    char *ring; /* VMM_SERIAL_RING bytes */
    uint8_t rx[VMM_SERIAL_RX];
    size_t rx_head, rx_len; /* FIFO: rx_len bytes from rx[rx_head] on, circular */
    struct event *in_ev;    /* stdin, when the console is stdio */
    int in_paused;          /* in_ev removed because the FIFO was full */
    uint64_t total;         /* bytes ever written; ring holds the last min(total, RING) */
};

static void flush_line(vmm_serial *s)
{
    size_t off = 0;
    while (off < s->nline) {
        ssize_t n = write(s->fd, s->line + off, s->nline - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    s->nline = 0;
}

static void update_irq(vmm_serial *s)
{
    int level = ((s->ier & IER_THRI) && s->thri_pending) || ((s->ier & IER_RDI) && s->rx_len);
    if (level != s->irq_level) {
        s->irq_level = level;
        vmm_irq_line(s->vm, COM1_IRQ, level);
    }
}

/* Appends up to n bytes to the FIFO; returns how many fitted. Lock held. */
static size_t rx_push(vmm_serial *s, const uint8_t *b, size_t n)
{
    size_t put = 0;
    while (put < n && s->rx_len < VMM_SERIAL_RX) {
        s->rx[(s->rx_head + s->rx_len) % VMM_SERIAL_RX] = b[put++];
        s->rx_len++;
    }
    return put;
}

static uint8_t rx_pop(vmm_serial *s)
{
    if (!s->rx_len)
        return 0;
    uint8_t b = s->rx[s->rx_head];
    s->rx_head = (s->rx_head + 1) % VMM_SERIAL_RX;
    s->rx_len--;
    if (s->in_paused) { /* room again: resume reading stdin */
        s->in_paused = 0;
        event_add(s->in_ev, NULL);
    }
    return b;
}

static void tx(vmm_serial *s, uint8_t b)
{
    s->ring[s->total % VMM_SERIAL_RING] = (char)b;
    s->total++;
    s->line[s->nline++] = (char)b;
    if (b == '\n' || s->nline == sizeof s->line)
        flush_line(s);
}

static uint8_t reg_read(vmm_serial *s, uint64_t off)
{
    switch (off) {
    case 0: return (s->lcr & 0x80) ? s->dll : rx_pop(s);
    case 1: return (s->lcr & 0x80) ? s->dlm : s->ier;
    case 2: {
        uint8_t fifo = (s->fcr & 1) ? 0xc0 : 0;
        if ((s->ier & IER_RDI) && s->rx_len)
            return fifo | 0x04;
        if ((s->ier & IER_THRI) && s->thri_pending) {
            s->thri_pending = 0; /* reading IIR acknowledges THRE */
            return fifo | 0x02;
        }
        return fifo | 0x01;
    }
    case 3: return s->lcr;
    case 4: return s->mcr;
    case 5: return LSR_THRE | LSR_TEMT | (s->rx_len ? LSR_DR : 0);
    case 6:
        if (s->mcr & MCR_LOOP) {
            /* DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD */
            return (uint8_t)(((s->mcr & 0x01) << 5) | ((s->mcr & 0x02) << 3) |
                             ((s->mcr & 0x04) << 4) | ((s->mcr & 0x08) << 4));
        }
        return 0xb0; /* DCD | DSR | CTS */
    default: return s->scr;
    }
}

static void reg_write(vmm_serial *s, uint64_t off, uint8_t v)
{
    switch (off) {
    case 0:
        if (s->lcr & 0x80) {
            s->dll = v;
        } else {
            if (!(s->mcr & MCR_LOOP))
                tx(s, v);
            else
                rx_push(s, &v, 1);
            s->thri_pending = 1; /* sent at once: the holding register is empty again */
        }
        break;
    case 1:
        if (s->lcr & 0x80) {
            s->dlm = v;
        } else {
            if (!(s->ier & IER_THRI) && (v & IER_THRI))
                s->thri_pending = 1;
            s->ier = v & 0x0f;
        }
        break;
    case 2:
        s->fcr = v;
        if (v & 0x02) { /* clear the receive FIFO */
            s->rx_head = s->rx_len = 0;
        }
        break;
    case 3: s->lcr = v; break;
    case 4: s->mcr = v & 0x1f; break;
    case 7: s->scr = v; break;
    default: break; /* LSR and MSR are read-only */
    }
}

static void serial_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, int is_write)
{
    vmm_serial *s = opaque;
    pthread_mutex_lock(&s->lock);
    for (uint32_t i = 0; i < len && off + i < 8; i++) {
        if (is_write)
            reg_write(s, off + i, data[i]);
        else
            data[i] = reg_read(s, off + i);
    }
    update_irq(s);
    pthread_mutex_unlock(&s->lock);
}

size_t vmm_serial_input(vmm_serial *s, const void *buf, size_t n)
{
    pthread_mutex_lock(&s->lock);
    size_t put = rx_push(s, buf, n);
    update_irq(s);
    pthread_mutex_unlock(&s->lock);
    return put;
}

void vmm_serial_io(vmm_serial *s, uint64_t off, uint8_t *data, uint32_t len, int is_write)
{
    serial_io(s, off, data, len, is_write);
}

/* Event thread: stdin is readable. Reads no more than the FIFO has room for and
 * stops watching while it is full (rx_pop resumes); at EOF or an error, stops. */
static void on_stdin(evutil_socket_t fd, short what, void *arg)
{
    vmm_serial *s = arg;
    uint8_t buf[VMM_SERIAL_RX];
    pthread_mutex_lock(&s->lock);
    size_t room = VMM_SERIAL_RX - s->rx_len;
    if (!room) {
        s->in_paused = 1;
        event_del(s->in_ev);
    }
    pthread_mutex_unlock(&s->lock);
    if (!room)
        return;
    ssize_t n = read(fd, buf, room);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        event_del(s->in_ev);
        return;
    }
    vmm_serial_input(s, buf, (size_t)n);
}

int vmm_serial_start_input(vmm_serial *s, struct event_base *base)
{
    s->in_ev = event_new(base, STDIN_FILENO, EV_READ | EV_PERSIST, on_stdin, s);
    if (!s->in_ev)
        return -ENOMEM;
    if (event_add(s->in_ev, NULL) < 0) { /* e.g. a regular file or /dev/null: no input */
        event_free(s->in_ev);
        s->in_ev = NULL;
    }
    return 0;
}

static void power_on(vmm_serial *s)
{
    s->ier = s->scr = s->fcr = s->dll = s->dlm = 0;
    s->lcr = 0x03;
    s->mcr = 0x08;
    s->thri_pending = 0;
}

static void serial_reset(void *opaque)
{
    vmm_serial *s = opaque;
    pthread_mutex_lock(&s->lock);
    power_on(s);
    update_irq(s);
    pthread_mutex_unlock(&s->lock);
}

static int serial_save(void *opaque, vmm_rec_out *o, char *err, size_t errlen)
{
    vmm_serial *s = opaque;
    uint8_t regs[7];
    pthread_mutex_lock(&s->lock);
    /* Every byte the guest sent before the snapshot goes out now: the line buffer is not in
     * the record, and a process killed after the snapshot would lose a partial line (seen: a
     * count missing after the restore). */
    flush_line(s);
    regs[0] = s->ier;
    regs[1] = s->lcr;
    regs[2] = s->mcr;
    regs[3] = s->scr;
    regs[4] = s->fcr;
    regs[5] = s->dll;
    regs[6] = s->dlm;
    vmm_rec_put(o, regs, sizeof regs);
    vmm_rec_u8(o, (uint8_t)s->thri_pending);
    vmm_rec_u16(o, (uint16_t)s->rx_len);
    for (size_t i = 0; i < s->rx_len; i++)
        vmm_rec_u8(o, s->rx[(s->rx_head + i) % VMM_SERIAL_RX]);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static int serial_restore(void *opaque, vmm_rec_in *in, char *err, size_t errlen)
{
    vmm_serial *s = opaque;
    uint8_t regs[7], rx[VMM_SERIAL_RX];
    vmm_rec_get(in, regs, sizeof regs);
    uint8_t thri = vmm_rec_get_u8(in);
    uint16_t n = vmm_rec_get_u16(in);
    if (n > VMM_SERIAL_RX)
        return vmm_rec_bad(in, err, errlen, "%u bytes in a %d-byte receive FIFO", n, VMM_SERIAL_RX);
    vmm_rec_get(in, rx, n);
    int rc = vmm_rec_in_done(in, err, errlen);
    if (rc)
        return rc;
    if ((regs[0] & ~0x0f) || (regs[2] & ~0x1f) || thri > 1)
        return vmm_rec_bad(in, err, errlen, "IER %#x, MCR %#x or THRE %u out of range", regs[0],
                           regs[2], thri);
    pthread_mutex_lock(&s->lock);
    s->ier = regs[0];
    s->lcr = regs[1];
    s->mcr = regs[2];
    s->scr = regs[3];
    s->fcr = regs[4];
    s->dll = regs[5];
    s->dlm = regs[6];
    s->thri_pending = thri;
    memcpy(s->rx, rx, n);
    s->rx_head = 0;
    s->rx_len = n;
    s->irq_level = -1; /* drive the line from the restored registers */
    update_irq(s);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static const vmm_dev_ops serial_dev = {
    .version = 1,
    .reset = serial_reset,
    .save = serial_save,
    .restore = serial_restore,
};

int vmm_serial_init(vmm_vm *vm, const char *log_path)
{
    vmm_serial *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->ring = malloc(VMM_SERIAL_RING);
    if (!s->ring) {
        free(s);
        return -ENOMEM;
    }
    s->vm = vm;
    pthread_mutex_init(&s->lock, NULL);
    s->fd = log_path ? open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)
                     : dup(STDOUT_FILENO);
    if (s->fd < 0) {
        int e = errno;
        free(s->ring);
        free(s);
        return -e;
    }
    power_on(s);
    vm->serial = s;
    int rc = vmm_bus_add(&vm->pio, COM1_BASE, 8, serial_io, s);
    return rc ? rc : vmm_dev_register(&vm->devreg, "serial:com1", &serial_dev, s);
}

void vmm_serial_flush(vmm_serial *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    flush_line(s);
    pthread_mutex_unlock(&s->lock);
}

void vmm_serial_free(vmm_serial *s)
{
    if (!s)
        return;
    vmm_serial_flush(s);
    if (s->in_ev)
        event_free(s->in_ev);
    close(s->fd);
    free(s->ring);
    free(s);
}

uint64_t vmm_serial_bytes(vmm_serial *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t n = s->total;
    pthread_mutex_unlock(&s->lock);
    return n;
}

char *vmm_serial_tail(vmm_serial *s, int nlines, size_t *len)
{
    pthread_mutex_lock(&s->lock);
    uint64_t have = s->total < VMM_SERIAL_RING ? s->total : VMM_SERIAL_RING;
    uint64_t start = s->total - have;
    /* Walk back from the end counting newlines; a final partial line counts too. */
    uint64_t pos = s->total;
    int lines = 0;
    if (pos > start && s->ring[(pos - 1) % VMM_SERIAL_RING] == '\n')
        pos--; /* the last newline ends the last line */
    while (nlines > 0 && pos > start) {
        if (s->ring[(pos - 1) % VMM_SERIAL_RING] == '\n' && ++lines >= nlines)
            break;
        pos--;
    }
    if (nlines <= 0)
        pos = start; /* everything the ring still holds */
    uint64_t n = s->total - pos;
    char *out = malloc(n + 1);
    if (out) {
        for (uint64_t i = 0; i < n; i++)
            out[i] = s->ring[(pos + i) % VMM_SERIAL_RING];
        out[n] = 0;
        *len = n;
    }
    pthread_mutex_unlock(&s->lock);
    return out;
}
