/*
 * i8042.c - the PS/2 controller and its keyless keyboard (see i8042.h for
 * what the guest sees).
 *
 * State is a handful of bytes and two fixed queues, so no guest byte
 * sequence can grow it: a reply that finds its queue full is dropped, a
 * command's data byte is awaited in one field (`pending`, or `kbd_cmd` for
 * the keyboard's own parameter) that the next command replaces. The output
 * buffer is refilled by pump() whenever it is empty; update_irq() drives
 * the two interrupt lines from it and the command byte. A reset request is
 * noted under the lock and signalled after it is released.
 */
#include "i8042.h"

#include <errno.h>
#include <string.h>

#define ST_OBF 0x01
#define ST_SYS 0x04
#define ST_CMD 0x08
#define ST_UNLOCKED 0x10
#define ST_AUXDATA 0x20
#define ST_TIMEOUT 0x40

#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE 0x40

#define OUT_RESET 0x01 /* output port bit 0: the CPU's reset line, active low */
#define OUT_A20 0x02

#define KBD_ACK 0xfa
#define KBD_RESEND 0xfe
#define KBD_BAT_OK 0xaa

static void put(vmm_i8042_queue *q, uint8_t v, uint8_t flags)
{
    if (q->len == VMM_I8042_QUEUE)
        return;
    q->b[(q->head + q->len++) % VMM_I8042_QUEUE] = (uint16_t)(v | flags << 8);
}

static uint16_t take(vmm_i8042_queue *q)
{
    uint16_t v = q->b[q->head];
    q->head = (q->head + 1) % VMM_I8042_QUEUE;
    q->len--;
    return v;
}

static void set_line(vmm_i8042 *k, int i, int level)
{
    if (k->level[i] == level)
        return;
    k->level[i] = level;
    if (k->irq)
        k->irq(k->opaque, i ? VMM_I8042_AUX_IRQ : VMM_I8042_KBD_IRQ, level);
}

static void update_irq(vmm_i8042 *k)
{
    int aux = (k->out >> 8) & ST_AUXDATA;
    set_line(k, 0, k->obf && !aux && (k->ram[0] & CTR_KBDINT));
    set_line(k, 1, k->obf && aux && (k->ram[0] & CTR_AUXINT));
}

/* Fills an empty output buffer: the controller's replies first, then the keyboard's. */
static void pump(vmm_i8042 *k)
{
    if (k->obf)
        return;
    if (k->ctl.len)
        k->out = take(&k->ctl);
    else if (k->kbd.len && !(k->ram[0] & CTR_KBDDIS))
        k->out = take(&k->kbd);
    else
        return;
    k->obf = 1;
}

static void reply(vmm_i8042 *k, uint8_t v, uint8_t flags)
{
    put(&k->ctl, v, flags);
    pump(k);
}

static void kbd_reply(vmm_i8042 *k, uint8_t v)
{
    put(&k->kbd, v, 0);
    pump(k);
}

/* A byte for the keyboard: a command, or the parameter of the last one. */
static void kbd_write(vmm_i8042 *k, uint8_t v)
{
    if (k->kbd_cmd) {
        uint8_t cmd = k->kbd_cmd;
        k->kbd_cmd = 0;
        kbd_reply(k, KBD_ACK);
        if (cmd == 0xf0 && v == 0)
            kbd_reply(k, k->scan_set);
        else if (cmd == 0xf0 && v <= 3)
            k->scan_set = v;
        return;
    }
    switch (v) {
    case 0xff: /* reset: the self-test passes at once */
        k->kbd.len = 0;
        k->scan_set = 2;
        kbd_reply(k, KBD_ACK);
        kbd_reply(k, KBD_BAT_OK);
        break;
    case 0xf2: /* identify: an MF2 keyboard */
        kbd_reply(k, KBD_ACK);
        kbd_reply(k, 0xab);
        kbd_reply(k, (k->ram[0] & CTR_XLATE) ? 0x41 : 0x83);
        break;
    case 0xee: kbd_reply(k, 0xee); break;
    case 0xed: /* LEDs */
    case 0xf0: /* scan code set */
    case 0xf3: /* typematic rate */
        k->kbd_cmd = v;
        kbd_reply(k, KBD_ACK);
        break;
    default: kbd_reply(k, v >= 0xf4 && v != 0xfe ? KBD_ACK : KBD_RESEND); break;
    }
}

/* A byte written to 0x60; returns 1 if it pulls the reset line. */
static int data_write(vmm_i8042 *k, uint8_t v)
{
    uint8_t cmd = k->pending;
    k->pending = 0;
    k->status &= (uint8_t)~ST_CMD;
    if (cmd >= 0x60 && cmd <= 0x7f) {
        k->ram[cmd & 0x1f] = v;
        if (cmd == 0x60)
            k->status = (uint8_t)((k->status & ~ST_SYS) | (v & CTR_SYS));
        pump(k); /* the keyboard may have been enabled */
        return 0;
    }
    switch (cmd) {
    case 0xd1: k->outport = v; return !(v & OUT_RESET);
    case 0xd2: reply(k, v, 0); return 0;
    case 0xd3: reply(k, v, ST_AUXDATA); return 0;
    case 0xd4: reply(k, KBD_RESEND, ST_AUXDATA | ST_TIMEOUT); return 0; /* no mouse */
    default:
        /* Sending to the keyboard enables its port, as on the PC/AT's controller. */
        k->ram[0] &= (uint8_t)~CTR_KBDDIS;
        kbd_write(k, v);
        return 0;
    }
}

/* A byte written to 0x64; returns 1 if it pulls the reset line. */
static int command(vmm_i8042 *k, uint8_t v)
{
    k->pending = 0;
    k->status |= ST_CMD;
    if (v >= 0x20 && v <= 0x3f) {
        reply(k, k->ram[v & 0x1f], 0);
        return 0;
    }
    if ((v >= 0x60 && v <= 0x7f) || (v >= 0xd1 && v <= 0xd4)) {
        k->pending = v;
        return 0;
    }
    if (v >= 0xf0)
        return !(v & 1); /* pulse the output lines in the low nibble; bit 0 is reset */
    switch (v) {
    case 0xa7: k->ram[0] |= CTR_AUXDIS; break;
    case 0xa8: k->ram[0] &= (uint8_t)~CTR_AUXDIS; break;
    case 0xa9: reply(k, 0x00, 0); break; /* mouse port lines fine (nothing on them) */
    case 0xaa:
        k->status |= ST_SYS;
        reply(k, 0x55, 0);
        break;
    case 0xab: reply(k, 0x00, 0); break;
    case 0xad: k->ram[0] |= CTR_KBDDIS; break;
    case 0xae:
        k->ram[0] &= (uint8_t)~CTR_KBDDIS;
        pump(k);
        break;
    case 0xc0: reply(k, 0x80, 0); break; /* input port: keyboard not inhibited */
    case 0xd0: reply(k, k->outport, 0); break;
    case 0xdd: k->outport &= (uint8_t)~OUT_A20; break;
    case 0xdf: k->outport |= OUT_A20; break;
    case 0xe0: reply(k, 0x00, 0); break; /* test inputs */
    default: break;                      /* not a command we know: ignored */
    }
    return 0;
}

static uint8_t data_read(vmm_i8042 *k)
{
    uint8_t v = (uint8_t)k->out; /* with nothing new, the last byte again */
    if (k->obf) {
        k->obf = 0;
        update_irq(k); /* lower the line first, so the next byte is a new edge */
        pump(k);
        update_irq(k);
    }
    return v;
}

static void power_on(vmm_i8042 *k)
{
    memset(k->ram, 0, sizeof k->ram);
    k->ram[0] = CTR_KBDINT | CTR_AUXINT;
    k->status = ST_CMD | ST_UNLOCKED;
    k->outport = OUT_RESET | OUT_A20;
    k->pending = k->kbd_cmd = 0;
    k->scan_set = 2;
    k->out = 0;
    k->obf = 0;
    k->ctl.len = k->kbd.len = 0;
    update_irq(k);
}

int vmm_i8042_init(vmm_i8042 *k, vmm_i8042_irq_fn *irq, vmm_i8042_reset_fn *reset, void *opaque)
{
    memset(k, 0, sizeof *k);
    int rc = pthread_mutex_init(&k->lock, NULL);
    if (rc)
        return -rc;
    k->irq = irq;
    k->reset = reset;
    k->opaque = opaque;
    power_on(k);
    return 0;
}

void vmm_i8042_reset(vmm_i8042 *k)
{
    pthread_mutex_lock(&k->lock);
    power_on(k);
    pthread_mutex_unlock(&k->lock);
}

void vmm_i8042_io(vmm_i8042 *k, uint64_t off, uint8_t *data, uint32_t len, int is_write)
{
    if (len == 0 || (off != 0 && off != 4)) {
        if (!is_write)
            memset(data, 0, len); /* 0x61-0x63: not ours (KVM's PIT serves 0x61) */
        return;
    }
    int reset = 0;
    pthread_mutex_lock(&k->lock);
    if (is_write) {
        reset = off == 0 ? data_write(k, data[0]) : command(k, data[0]);
        update_irq(k);
    } else {
        memset(data, 0, len);
        if (off == 0)
            data[0] = data_read(k);
        else
            data[0] = (uint8_t)(k->status | (k->obf ? ST_OBF | (k->out >> 8) : 0));
    }
    pthread_mutex_unlock(&k->lock);
    if (reset && k->reset)
        k->reset(k->opaque);
}

static void queue_save(vmm_rec_out *o, const vmm_i8042_queue *q)
{
    vmm_rec_u8(o, (uint8_t)q->len);
    for (unsigned i = 0; i < q->len; i++)
        vmm_rec_u16(o, q->b[(q->head + i) % VMM_I8042_QUEUE]);
}

int vmm_i8042_save(vmm_i8042 *k, vmm_rec_out *o)
{
    pthread_mutex_lock(&k->lock);
    vmm_rec_put(o, k->ram, sizeof k->ram);
    uint8_t b[5] = {k->status, k->outport, k->pending, k->kbd_cmd, k->scan_set};
    vmm_rec_put(o, b, sizeof b);
    vmm_rec_u16(o, k->out);
    vmm_rec_u8(o, (uint8_t)k->obf);
    queue_save(o, &k->ctl);
    queue_save(o, &k->kbd);
    pthread_mutex_unlock(&k->lock);
    return 0;
}

#define BYTE_FLAGS ((ST_AUXDATA | ST_TIMEOUT) << 8 | 0xff) /* what a queued entry may hold */

static int queue_restore(vmm_rec_in *in, vmm_i8042_queue *q, char *err, size_t errlen)
{
    memset(q, 0, sizeof *q);
    unsigned n = vmm_rec_get_u8(in);
    if (n > VMM_I8042_QUEUE)
        return vmm_rec_bad(in, err, errlen, "a queue of %u bytes (at most %d)", n, VMM_I8042_QUEUE);
    for (unsigned i = 0; i < n; i++) {
        q->b[i] = vmm_rec_get_u16(in);
        if (q->b[i] & ~BYTE_FLAGS)
            return vmm_rec_bad(in, err, errlen, "queued entry %#x has unknown flags", q->b[i]);
    }
    q->len = n;
    return 0;
}

int vmm_i8042_restore(vmm_i8042 *k, vmm_rec_in *in, char *err, size_t errlen)
{
    vmm_i8042 t;
    uint8_t b[5];
    int rc;
    vmm_rec_get(in, t.ram, sizeof t.ram);
    vmm_rec_get(in, b, sizeof b);
    t.out = vmm_rec_get_u16(in);
    uint8_t obf = vmm_rec_get_u8(in);
    if ((rc = queue_restore(in, &t.ctl, err, errlen)) ||
        (rc = queue_restore(in, &t.kbd, err, errlen)) || (rc = vmm_rec_in_done(in, err, errlen)))
        return rc;
    if ((b[0] & ~(ST_SYS | ST_CMD | ST_UNLOCKED)) || b[4] < 1 || b[4] > 3 || obf > 1 ||
        (t.out & ~BYTE_FLAGS))
        return vmm_rec_bad(in, err, errlen,
                           "status %#x, scan set %u, output buffer %#x/%u out of range", b[0], b[4],
                           t.out, obf);
    pthread_mutex_lock(&k->lock);
    memcpy(k->ram, t.ram, sizeof k->ram);
    k->status = b[0];
    k->outport = b[1];
    k->pending = b[2];
    k->kbd_cmd = b[3];
    k->scan_set = b[4];
    k->out = t.out;
    k->obf = obf;
    k->ctl = t.ctl;
    k->kbd = t.kbd;
    update_irq(k);
    pthread_mutex_unlock(&k->lock);
    return 0;
}

void vmm_i8042_free(vmm_i8042 *k)
{
    pthread_mutex_destroy(&k->lock);
}
