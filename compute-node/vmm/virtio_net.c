/*
 * virtio_net.c - virtio network device (type 1) on a tap interface.
 *
 * Queue 0 receives, queue 1 transmits. The tap is opened with IFF_VNET_HDR
 * and a 12-byte header, the size of virtio 1.x's struct virtio_net_hdr, so
 * frames move between tap and guest buffers with one readv/writev and no
 * copy; offloads are off (TUNSETOFFLOAD 0), so the header is always empty
 * apart from num_buffers, which we set to 1 on receive. A NIC configured
 * with an `mtu` offers VIRTIO_NET_F_MTU and shows it in its config space.
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

#include "stratus/log.h"

#define VIRTIO_NET_F_MTU (1ull << 3)
#define VIRTIO_NET_F_MAC (1ull << 5)
#define VIRTIO_NET_F_STATUS (1ull << 16)
#define NET_HDR_LEN 12
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
    vmm_net_stats st;
    vmm_vq_chain chain;
} net;

static void rx_arm(net *n, int on)
{
    if (on && !n->rx_armed)
        event_add(n->rx_ev, NULL);
    else if (!on && n->rx_armed)
        event_del_noblock(n->rx_ev); /* may run on a vCPU while tap_cb waits for our lock */
    n->rx_armed = on;
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
        ssize_t got = readv(n->tap, c->iov, c->nw);
        if (got < 0) {
            v->vq[RXQ].last_avail--; /* give the buffer back: nothing to receive */
            break;
        }
        uint16_t one = 1;
        vmm_vq_write(c, 10, &one, 2); /* num_buffers */
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
        ssize_t put = writev(n->tap, c->iov, c->nr);
        if (put > NET_HDR_LEN) {
            n->st.tx_bytes += (uint64_t)put - NET_HDR_LEN;
            n->st.tx_packets++;
        }
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

static void net_activate(vmm_virtio *v)
{
    rx_process(v->priv);
}

static void net_reset(vmm_virtio *v)
{
    net *n = v->priv;
    if (n->rx_ev)
        rx_arm(n, 0);
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

static int tap_open(const char *name)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
    int hdr = NET_HDR_LEN;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
        ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static void net_destroy(vmm_virtio *v)
{
    net *n = v->priv;
    event_free(n->rx_ev);
    close(n->tap);
    free(n);
}

int vmm_net_create(vmm_vm *vm, const vmm_nic_cfg *cfg)
{
    int rc;
    net *n = calloc(1, sizeof *n);
    if (!n)
        return -ENOMEM;
    n->tap = tap_open(cfg->tap);
    if (n->tap < 0) {
        rc = n->tap;
        st_error("vmm.net", "%s: tap %s: %s", cfg->id, cfg->tap, strerror(-rc));
        free(n);
        return rc;
    }
    memcpy(n->mac, cfg->mac, 6);
    n->mtu = cfg->mtu;
    n->rx_ev = event_new(vm->base, n->tap, EV_READ | EV_PERSIST, tap_cb, n);
    if (!n->rx_ev) {
        rc = -ENOMEM;
        goto err;
    }
    n->ops = (vmm_virtio_ops){
        .type = VIRTIO_ID_NET,
        .class_code = 0x020000,
        .features = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | (cfg->mtu ? VIRTIO_NET_F_MTU : 0),
        .nqueues = 2,
        .queue_size = 256,
        .config_len = 12,
        .config_read = net_config_read,
        .notify = net_notify,
        .activate = net_activate,
        .reset = net_reset,
        .destroy = net_destroy,
    };
    if ((rc = vmm_virtio_create(vm, &n->ops, n, cfg->id, &n->v)))
        goto err;
    return 0;
err:
    if (n->rx_ev)
        event_free(n->rx_ev);
    close(n->tap);
    free(n);
    return rc;
}

const vmm_net_stats *vmm_net_stats_of(vmm_virtio *v)
{
    return v->ops->type == VIRTIO_ID_NET ? &((net *)v->priv)->st : NULL;
}
