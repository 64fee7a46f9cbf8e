/*
 * scen_rng.c - the `rng` scenario: read rng.len (64) bytes from virtio-rng
 * and check they are not all equal.
 */
#include "guest.h"

/* Waits up to ms for at least one interrupt on the device's vectors. */
static void irq_grace(struct virtio_dev *v, u64 ms)
{
    u64 end = deadline_ms(ms);
    while (v->nvec && !virtio_irqs(v) && !expired(end))
        cpu_relax();
}

void scen_rng(void)
{
    struct virtio_dev v;
    u64 want = arg_u64("rng.len", 64);
    if (want == 0 || want > 4096)
        guest_fail("rng.len must be 1..4096");
    virtio_open(&v, 4, 0, 1);
    virtio_queue_setup(&v, 0, 64);
    virtio_driver_ok(&v);
    u8 *buf = kalloc(want, 64);
    u64 got = 0;
    for (int rounds = 0; got < want; rounds++) {
        struct vbuf b = {buf + got, (u32)(want - got), 1};
        u32 len = 0;
        if (rounds == 64)
            guest_fail("virtio-rng gave %llu of %llu bytes in 64 requests", got, want);
        if (virtq_call(&v.vq[0], &b, 1, 2000, &len) < 0)
            guest_fail("virtio-rng request timed out (status %#x)", virtio_status(&v));
        if (len > want - got)
            guest_fail("virtio-rng used length %u larger than the buffer", len);
        got += len;
    }
    irq_grace(&v, 50);
    char hex[33];
    for (int i = 0; i < 16 && (u64)i < want; i++) {
        hex[2 * i] = "0123456789abcdef"[buf[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[buf[i] & 15];
        hex[2 * i + 2] = 0;
    }
    data("rng.bytes=%s", hex);
    data("irqs=%u", virtio_irqs(&v));
    u64 same = 1;
    for (u64 i = 1; i < want; i++)
        same += buf[i] == buf[0];
    if (want > 1 && same == want)
        guest_fail("all %llu bytes are %#x", want, buf[0]);
    guest_pass();
}
