/*
 * vmm_fuzz_virtq - the virtqueue descriptor walker against hostile rings.
 *
 * The input becomes a 64 KiB fake guest memory (a separate allocation, so
 * ASan sees any access past it): first byte picks the queue size (low bits)
 * and event-index mode (bit 7), the rest is the memory image, rings at fixed
 * addresses. Every chain popped is written and read in full and pushed, and
 * the interrupt decision taken, as a device would; its first 12 bytes also go
 * through virtio-net's header checks (every offload negotiated for odd heads,
 * none for even ones) and the rest is sliced off as the frame, as
 * virtio_net.c does before a writev to the tap.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net_hdr.h"
#include "virtq.h"

#define MEM 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vmm_vq_chain c;
    uint8_t *mem = calloc(1, MEM);
    if (!mem)
        return 0;
    if (size < 1)
        goto out;
    uint16_t qsz = (uint16_t)(1u << (data[0] % 9)); /* 1..256 */
    memcpy(mem, data + 1, size - 1 < MEM ? size - 1 : MEM);
    vmm_gmem gm = {.n = 1};
    gm.r[0] = (vmm_gmem_region){0x1000, MEM, mem}; /* RAM starts above 0, like a hole */
    vmm_vq vq;
    memset(&vq, 0, sizeof vq);
    vq.max_size = 256;
    vmm_vq_reset(&vq);
    vq.size = qsz;
    vq.event_idx = data[0] >> 7;
    vq.desc_gpa = 0x1000;
    vq.avail_gpa = 0x1000 + 16u * 256;
    vq.used_gpa = 0x1000 + 16u * 256 + 4096;
    if (vmm_vq_start(&vq, &gm))
        goto out;
    for (int i = 0; i < 512; i++) {
        int rc = vmm_vq_pop(&vq, &gm, &c);
        if (rc <= 0)
            break;
        uint8_t buf[256];
        for (int k = 0; k < c.nr + c.nw; k++) {
            volatile uint8_t *p = c.iov[k].iov_base;
            if (c.iov[k].iov_len) {
                (void)p[0];
                (void)p[c.iov[k].iov_len - 1];
            }
        }
        vmm_vq_read(&c, 0, buf, sizeof buf);
        vmm_vq_write(&c, 0, buf, sizeof buf);
        vmm_net_hdr h;
        if (vmm_vq_read(&c, 0, &h, sizeof h) == sizeof h) {
            static struct iovec frame[VMM_VQ_MAX_SIZE];
            uint64_t f = (c.head & 1) ? ~0ull : 0;
            vmm_net_tx_check(f, &h, c.rlen - sizeof h);
            vmm_net_rx_check(f, &h);
            int k = vmm_iov_slice(c.iov, c.nr, sizeof h, c.rlen - sizeof h, frame);
            for (int j = 0; j < k; j++) {
                volatile uint8_t *p = frame[j].iov_base;
                if (frame[j].iov_len)
                    (void)p[frame[j].iov_len - 1];
            }
        }
        vmm_vq_push(&vq, c.head, (uint32_t)(c.wlen > 0xffffffffu ? 0 : c.wlen));
        vmm_vq_should_notify(&vq);
    }
out:
    free(mem);
    return 0;
}
