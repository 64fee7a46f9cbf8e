/*
 * virtio_rng.c - virtio entropy device (type 4): one request queue whose
 * device-writable buffers we fill from getrandom(2). A request that offers
 * no writable buffer is malformed and fails the device.
 */
#include "devices.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

static void rng_notify(vmm_virtio *v, int q)
{
    vmm_vq_chain *c = v->priv;
    int n = 0, rc;
    while ((rc = vmm_virtio_pop(v, q, c)) > 0) {
        if (c->nr || c->nw == 0) {
            vmm_virtio_fail(v, "entropy request without a writable buffer");
            return;
        }
        uint32_t done = 0;
        for (int i = 0; i < c->nw; i++) {
            struct iovec *io = &c->iov[i];
            size_t want = io->iov_len > 65536 ? 65536 : io->iov_len;
            ssize_t got = getrandom(io->iov_base, want, 0);
            if (got > 0)
                done += (uint32_t)got;
            if (got < (ssize_t)io->iov_len)
                break;
        }
        vmm_vq_push(&v->vq[q], c->head, done);
        n++;
    }
    if (n && vmm_vq_should_notify(&v->vq[q]))
        vmm_virtio_notify_queue(v, q);
}

static void rng_config_read(vmm_virtio *v, uint32_t off, uint8_t *data, uint32_t len)
{
    (void)v;
    (void)off;
    for (uint32_t i = 0; i < len; i++)
        data[i] = 0;
}

static void rng_destroy(vmm_virtio *v)
{
    free(v->priv);
}

static const vmm_virtio_ops rng_ops = {
    .destroy = rng_destroy,
    .type = VIRTIO_ID_RNG,
    .class_code = 0x00ff00,
    .features = 0,
    .nqueues = 1,
    .queue_size = 256,
    .config_len = 0,
    .config_read = rng_config_read,
    .notify = rng_notify,
};

int vmm_rng_create(vmm_vm *vm)
{
    vmm_virtio *v;
    vmm_vq_chain *c = malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    int rc = vmm_virtio_create(vm, &rng_ops, c, "rng0", &v);
    if (rc)
        free(c);
    return rc;
}
