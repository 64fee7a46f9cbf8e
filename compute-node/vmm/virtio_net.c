/*
 * virtio_net.c - virtio network device (type 1) on a tap interface.
 *
 * Queue 0 receives, queue 1 transmits. The tap is opened with IFF_VNET_HDR
 * and a 12-byte header, the size of virtio 1.x's struct virtio_net_hdr, so
 * a transmitted frame moves from guest buffers to the tap with one writev
 * and no copy of its data (a received one too, with one readv, unless
 * MRG_RXBUF, below); only the header passes through our own 12 bytes, where
 * net_hdr.c checks it against the negotiated features.
 *
 * Offloads. The device offers partial checksums and TCP segmentation both
 * ways (CSUM, HOST_TSO4/6: the guest may hand us 64 KiB frames with the
 * checksum left to do; GUEST_CSUM, GUEST_TSO4/6: so may the tap). When the
 * driver sets DRIVER_OK the tap's offloads (TUNSETOFFLOAD) become exactly
 * what it negotiated for receiving, and a reset turns them off again. A
 * driver that negotiates none of them sees what it saw before they existed:
 * whole checksummed frames, flags zero.
 *
 * Mergeable receive buffers (MRG_RXBUF) are offered too: without them a
 * driver with GUEST_TSO must post 64 KiB buffers (Linux: 19 pages each, ~19
 * MiB for a 256-entry ring). With them a frame is read into a bounce buffer
 * of ours and copied over as many of the driver's buffers as it takes,
 * num_buffers in the first, all published with one move of the used index;
 * when the driver has posted too few, the buffers go back and the frame
 * waits for the next kick (one frame at most is held). Without MRG_RXBUF
 * frames are read straight into the driver's buffer, no copy.
 *
 * Counters count frames as the guest's interface does: a 64 KiB TSO frame is
 * one packet of its length, without the segment headers the wire adds.
 *
 * The event index (VIRTIO_RING_F_EVENT_IDX) is offered: the driver kicks
 * only when we went idle and takes interrupts only past its used_event.
 * A NIC configured with an `mtu` offers VIRTIO_NET_F_MTU and shows it in its
 * config space.
 *
 * Flow control. The tap's read event is armed only while the driver has
 * posted receive buffers; when they run out we disarm it and the kernel
 * queues (then drops) frames until the driver kicks the receive queue.
 */
#include "devices.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "net_hdr.h"
#include "stratus/log.h"

#define VIRTIO_NET_F_MTU (1ull << 3)
#define VIRTIO_NET_F_MAC (1ull << 5)
#define VIRTIO_NET_F_STATUS (1ull << 16)
#define NET_HDR_LEN VMM_NET_HDR_LEN
#define OFFLOADS                                                                                   \
    (VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 |                       \
     VIRTIO_NET_F_GUEST_TSO6 | VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6)
/* A frame from the tap: 64 KiB of TSO payload, its headers and a VLAN tag fit. */
#define BOUNCE_LEN (NET_HDR_LEN + 65536 + 512)
#define RXQ 0
#define TXQ 1
#define BUDGET 64

typedef struct net {
    vmm_virtio_ops ops;
    vmm_virtio *v;
    int tap;
    uint8_t mac[6];
    uint16_t mtu;
    struct event *rx_ev;
    int rx_armed;
    unsigned offloads; /* TUN_F_* set on the tap */
    vmm_net_stats st;
    vmm_vq_chain chain;
    struct iovec iov[VMM_VQ_MAX_SIZE + 1]; /* our header, then the chain's frame bytes */
    /* Mergeable receive buffers: the frame read ahead, waiting for buffers enough. */
    uint8_t *bounce;
    uint32_t pending;   /* bytes of it (header included), 0 when none */
    vmm_vq_chain first; /* the buffer holding the header, for num_buffers */
    uint16_t heads[VMM_VQ_MAX_SIZE];
    uint32_t lens[VMM_VQ_MAX_SIZE];
} net;

static void rx_arm(net *n, int on)
{
    if (on && !n->rx_armed)
        event_add(n->rx_ev, NULL);
    else if (!on && n->rx_armed)
        event_del_noblock(n->rx_ev); /* may run on a vCPU while tap_cb waits for our lock */
    n->rx_armed = on;
}

/* With MRG_RXBUF: reads a frame into the bounce buffer, then spreads it over as many
 * receive buffers as it needs, num_buffers in the first. When the driver has not posted
 * enough, the buffers taken go back and the frame waits for its next kick. 1 when a
 * frame was delivered, 0 when one was dropped, -1 to stop. */
static int rx_merge_one(net *n)
{
    vmm_virtio *v = n->v;
    vmm_vq *vq = &v->vq[RXQ];
    if (!n->pending) {
        ssize_t got = read(n->tap, n->bounce, BOUNCE_LEN);
        if (got < 0)
            return -1;
        vmm_net_hdr h;
        if (got < NET_HDR_LEN)
            return 0;
        memcpy(&h, n->bounce, NET_HDR_LEN);
        if (vmm_net_rx_check(v->driver_features, &h) < 0)
            return 0;
        memcpy(n->bounce, &h, NET_HDR_LEN);
        n->pending = (uint32_t)got;
    }
    int k = 0;
    uint32_t off = 0;
    while (off < n->pending) {
        vmm_vq_chain *c = k ? &n->chain : &n->first;
        int rc = vmm_virtio_pop(v, RXQ, c);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            vq->last_avail -= (uint16_t)k; /* not enough: all back, wait for a kick */
            rx_arm(n, 0);
            return -1;
        }
        if (c->nr || c->wlen < (k ? 1u : NET_HDR_LEN)) {
            vmm_virtio_fail(v, "receive buffer not writable or shorter than the header");
            return -1;
        }
        uint32_t take = c->wlen < n->pending - off ? (uint32_t)c->wlen : n->pending - off;
        vmm_vq_write(c, 0, n->bounce + off, take);
        n->heads[k] = c->head;
        n->lens[k] = take;
        k++;
        off += take;
    }
    uint16_t nb = (uint16_t)k;
    vmm_vq_write(&n->first, 10, &nb, 2); /* num_buffers */
    vmm_vq_push_many(vq, n->heads, n->lens, k);
    if (n->pending > NET_HDR_LEN) {
        n->st.rx_bytes += n->pending - NET_HDR_LEN;
        n->st.rx_packets++;
    }
    n->pending = 0;
    return 1;
}

/* Moves frames from the tap into receive buffers (dev lock held). */
static void rx_process(net *n)
{
    vmm_virtio *v = n->v;
    int done = 0;
    if (!vmm_virtio_queue_ready(v, RXQ)) {
        rx_arm(n, 0);
        return;
    }
    rx_arm(n, 1);
    if (v->driver_features & VIRTIO_NET_F_MRG_RXBUF) {
        for (int i = 0, r; i < BUDGET && (r = rx_merge_one(n)) >= 0; i++)
            done += r;
        if (done && vmm_vq_should_notify(&v->vq[RXQ]))
            vmm_virtio_notify_queue(v, RXQ);
        return;
    }
    for (int i = 0; i < BUDGET; i++) {
        if (!vmm_vq_has_avail(&v->vq[RXQ])) {
            rx_arm(n, 0);
            break;
        }
        int rc = vmm_virtio_pop(v, RXQ, &n->chain);
        if (rc <= 0)
            break;
        vmm_vq_chain *c = &n->chain;
        if (c->nr || c->wlen < NET_HDR_LEN) {
            vmm_virtio_fail(v, "receive buffer not writable or shorter than the header");
            break;
        }
        vmm_net_hdr h;
        n->iov[0] = (struct iovec){&h, NET_HDR_LEN};
        int k = vmm_iov_slice(c->iov, c->nw, NET_HDR_LEN, c->wlen - NET_HDR_LEN, n->iov + 1);
        ssize_t got = readv(n->tap, n->iov, k + 1);
        if (got < NET_HDR_LEN || vmm_net_rx_check(v->driver_features, &h) < 0) {
            v->vq[RXQ].last_avail--; /* give the buffer back: nothing (usable) received */
            if (got < 0)
                break;
            continue;
        }
        vmm_vq_write(c, 0, &h, NET_HDR_LEN);
        vmm_vq_push(&v->vq[RXQ], c->head, (uint32_t)got);
        if (got > NET_HDR_LEN) {
            n->st.rx_bytes += (uint64_t)got - NET_HDR_LEN;
            n->st.rx_packets++;
        }
        done++;
    }
    if (done && vmm_vq_should_notify(&v->vq[RXQ]))
        vmm_virtio_notify_queue(v, RXQ);
}

static void tx_process(net *n)
{
    vmm_virtio *v = n->v;
    int done = 0, rc;
    while ((rc = vmm_virtio_pop(v, TXQ, &n->chain)) > 0) {
        vmm_vq_chain *c = &n->chain;
        if (c->nw || c->rlen < NET_HDR_LEN) {
            vmm_virtio_fail(v, "transmit buffer writable or shorter than the header");
            return;
        }
        vmm_net_hdr h;
        uint64_t flen = c->rlen - NET_HDR_LEN;
        vmm_vq_read(c, 0, &h, NET_HDR_LEN); /* copied once: the guest may change its own */
        if (vmm_net_tx_check(v->driver_features, &h, flen) == 0) {
            n->iov[0] = (struct iovec){&h, NET_HDR_LEN};
            int k = vmm_iov_slice(c->iov, c->nr, NET_HDR_LEN, flen, n->iov + 1);
            ssize_t put = writev(n->tap, n->iov, k + 1);
            if (put > NET_HDR_LEN) {
                n->st.tx_bytes += (uint64_t)put - NET_HDR_LEN;
                n->st.tx_packets++;
            }
        } /* else dropped: an offload the driver did not negotiate, or a broken header */
        vmm_vq_push(&v->vq[TXQ], c->head, 0);
        done++;
    }
    if (done && vmm_vq_should_notify(&v->vq[TXQ]))
        vmm_virtio_notify_queue(v, TXQ);
}

static void net_notify(vmm_virtio *v, int q)
{
    net *n = v->priv;
    if (q == TXQ)
        tx_process(n);
    else
        rx_process(n);
}

/* The tap hands us what the driver negotiated to receive, and nothing more. */
static void set_offloads(net *n, uint64_t features)
{
    unsigned o = vmm_net_tap_offloads(features);
    if (o == n->offloads)
        return;
    if (ioctl(n->tap, TUNSETOFFLOAD, o) < 0) {
        /* The tap then hands us whole checksummed frames, which every driver takes. */
        st_warn("vmm.net", "%s: TUNSETOFFLOAD 0x%x: %s", n->v->id, o, strerror(errno));
        return;
    }
    n->offloads = o;
}

static void net_activate(vmm_virtio *v)
{
    net *n = v->priv;
    set_offloads(n, v->driver_features);
    rx_process(n);
}

static void net_reset(vmm_virtio *v)
{
    net *n = v->priv;
    if (n->rx_ev)
        rx_arm(n, 0);
    n->pending = 0; /* read under the old driver's features: not for the next one */
    set_offloads(n, 0);
}

/* Its own state: the frame read ahead for mergeable buffers (the bytes, header included). */
static void net_save_extra(vmm_virtio *v, vmm_rec_out *o)
{
    net *n = v->priv;
    vmm_rec_u32(o, n->pending);
    vmm_rec_put(o, n->bounce, n->pending);
}

static int net_restore_extra(vmm_virtio *v, vmm_rec_in *in, char *err, size_t errlen)
{
    net *n = v->priv;
    uint32_t len = vmm_rec_get_u32(in);
    if (len > BOUNCE_LEN || (len && len < NET_HDR_LEN))
        return vmm_rec_bad(in, err, errlen, "a held frame of %u bytes", len);
    if (len > in->len - in->off)
        return vmm_rec_in_done(in, err, errlen);
    vmm_rec_get(in, n->bounce, len);
    int rc = vmm_rec_in_done(in, err, errlen);
    if (rc)
        return rc;
    n->pending = len;
    return 0;
}

static void tap_cb(evutil_socket_t fd, short what, void *arg)
{
    net *n = arg;
    pthread_mutex_lock(&n->v->lock);
    rx_process(n);
    pthread_mutex_unlock(&n->v->lock);
}

static void net_config_read(vmm_virtio *v, uint32_t off, uint8_t *data, uint32_t len)
{
    net *n = v->priv;
    uint8_t cfg[12];
    uint16_t status = 1, pairs = 1; /* link up */
    memcpy(cfg, n->mac, 6);
    memcpy(cfg + 6, &status, 2);
    memcpy(cfg + 8, &pairs, 2);
    memcpy(cfg + 10, &n->mtu, 2);
    memcpy(data, cfg + off, len);
}

static void net_destroy(vmm_virtio *v)
{
    net *n = v->priv;
    event_free(n->rx_ev);
    close(n->tap);
    free(n->bounce);
    free(n);
}

int vmm_net_create(vmm_vm *vm, const vmm_nic_cfg *cfg)
{
    int rc;
    net *n = calloc(1, sizeof *n);
    if (!n)
        return -ENOMEM;
    n->tap = vmm_tap_open(cfg->tap, NET_HDR_LEN);
    if (n->tap < 0) {
        rc = n->tap;
        st_error("vmm.net", "%s: tap %s: %s", cfg->id, cfg->tap, strerror(-rc));
        free(n);
        return rc;
    }
    memcpy(n->mac, cfg->mac, 6);
    n->mtu = cfg->mtu;
    n->bounce = malloc(BOUNCE_LEN);
    if (!n->bounce) {
        rc = -ENOMEM;
        goto err;
    }
    n->rx_ev = event_new(vm->base, n->tap, EV_READ | EV_PERSIST, tap_cb, n);
    if (!n->rx_ev) {
        rc = -ENOMEM;
        goto err;
    }
    n->ops = (vmm_virtio_ops){
        .type = VIRTIO_ID_NET,
        .class_code = 0x020000,
        .features = VIRTIO_F_EVENT_IDX | OFFLOADS | VIRTIO_NET_F_MRG_RXBUF | VIRTIO_NET_F_MAC |
                    VIRTIO_NET_F_STATUS | (cfg->mtu ? VIRTIO_NET_F_MTU : 0),
        .nqueues = 2,
        .queue_size = 256,
        .config_len = 12,
        .rom = cfg->rom,
        .config_read = net_config_read,
        .notify = net_notify,
        .activate = net_activate,
        .reset = net_reset,
        .destroy = net_destroy,
        .save_extra = net_save_extra,
        .restore_extra = net_restore_extra,
    };
    if ((rc = vmm_virtio_create(vm, &n->ops, n, cfg->id, &n->v)))
        goto err;
    return 0;
err:
    if (n->rx_ev)
        event_free(n->rx_ev);
    close(n->tap);
    free(n->bounce);
    free(n);
    return rc;
}

const vmm_net_stats *vmm_net_stats_of(vmm_virtio *v)
{
    return v->ops->type == VIRTIO_ID_NET ? &((net *)v->priv)->st : NULL;
}
