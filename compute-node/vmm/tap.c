/*
 * tap.c - opening a NIC's tap (shared by virtio-net and e1000), and announcing a guest that
 * moved to this host.
 *
 * A tap without IFF_MULTI_QUEUE has one queue, attached to one open file: a live upgrade
 * hands the new process the old one's descriptors, so the taps opened are remembered by
 * name (vmm_tap_fd) and a process started for an upgrade takes handed ones (vmm_tap_adopt)
 * instead of opening the tap again.
 *
 * A guest that resumes on another host (a live migration's target, a restored snapshot) has
 * said nothing on this host's network yet: learning bridges and switches still send its
 * frames to where it was. As QEMU's announce-self does, the VMM then writes RARP frames from
 * each NIC's MAC to its tap, five times over about 350 ms (0, 50, 150, 250, 350 ms), whatever
 * the guest's driver does (vmm_tap_announce).
 */
#include "devices.h"
#include "stratus/log.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static struct {
    char name[IFNAMSIZ];
    int fd;
    int adopted; /* handed over, not yet taken by vmm_tap_open */
    int hdr_len; /* the virtio-net header before each frame (IFF_VNET_HDR), 0 for none */
} g_taps[VMM_MAX_NICS];
static int g_ntaps;

static int remember(const char *name, int fd, int adopted, int hdr_len)
{
    if (g_ntaps == VMM_MAX_NICS)
        return -ENOSPC;
    snprintf(g_taps[g_ntaps].name, IFNAMSIZ, "%s", name);
    g_taps[g_ntaps].fd = fd;
    g_taps[g_ntaps].hdr_len = hdr_len;
    g_taps[g_ntaps++].adopted = adopted;
    return 0;
}

int vmm_tap_adopt(const char *name, int fd)
{
    return remember(name, fd, 1, 0);
}

/* The index of the tap this process opened as name, or -1. */
static int opened(const char *name)
{
    for (int i = 0; i < g_ntaps; i++)
        if (!strncmp(g_taps[i].name, name, IFNAMSIZ - 1) && !g_taps[i].adopted)
            return i;
    return -1;
}

int vmm_tap_fd(const char *name)
{
    int i = opened(name);
    return i < 0 ? -1 : g_taps[i].fd;
}

int vmm_tap_open(const char *name, int vnet_hdr_len)
{
    for (int i = 0; i < g_ntaps; i++) {
        if (g_taps[i].adopted && !strncmp(g_taps[i].name, name, IFNAMSIZ - 1)) {
            g_taps[i].adopted = 0;
            g_taps[i].hdr_len = vnet_hdr_len;
            int fd = g_taps[i].fd;
            /* Another build may use another header size; the rest is the tap's own state. */
            if (vnet_hdr_len && ioctl(fd, TUNSETVNETHDRSZ, &vnet_hdr_len) < 0)
                return -errno;
            return fd;
        }
    }
    /* TUNSETIFF would make a missing tap, one no network filter knows: the host's network
     * layer makes taps, a VMM only opens them. */
    if (if_nametoindex(name) == 0)
        return -ENODEV;
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr_len ? IFF_VNET_HDR : 0);
    memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
    if (ioctl(fd, TUNSETIFF, &ifr) < 0 ||
        (vnet_hdr_len && ioctl(fd, TUNSETVNETHDRSZ, &vnet_hdr_len) < 0) ||
        ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    remember(name, fd, 0, vnet_hdr_len);
    return fd;
}

/* ---- announcing a guest that moved here ---- */

size_t vmm_tap_rarp(uint8_t *buf, size_t cap, int hdr_len, const uint8_t mac[6])
{
    size_t n = (size_t)hdr_len + 60; /* the shortest Ethernet frame, less its FCS */
    if (hdr_len < 0 || cap < n)
        return 0;
    memset(buf, 0, n); /* the virtio-net header: no checksum to do, no GSO */
    uint8_t *f = buf + hdr_len;
    memset(f, 0xff, 6); /* broadcast */
    memcpy(f + 6, mac, 6);
    f[12] = 0x80, f[13] = 0x35; /* RARP */
    f[14] = 0x00, f[15] = 0x01; /* hardware: Ethernet */
    f[16] = 0x08, f[17] = 0x00; /* protocol: IPv4 */
    f[18] = 6, f[19] = 4;       /* their lengths */
    f[20] = 0x00, f[21] = 0x03; /* reverse request */
    memcpy(f + 22, mac, 6);     /* sender: the guest, address unknown */
    memcpy(f + 32, mac, 6);     /* target: the guest */
    return n;
}

#define ANNOUNCE_ROUNDS 5

/* One announcement at a time (a process receives a guest once); static, so a VM that stops
 * before the last round leaves nothing unreachable behind. */
static struct announce {
    struct event *ev;
    int round;
    int n;
    struct {
        int fd, hdr_len, sent;
        uint8_t mac[6];
        char tap[IFNAMSIZ];
    } nic[VMM_MAX_NICS];
} g_announce;

static void announce_round(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct announce *a = arg;
    uint8_t buf[128];
    for (int i = 0; i < a->n; i++) {
        size_t len = vmm_tap_rarp(buf, sizeof buf, a->nic[i].hdr_len, a->nic[i].mac);
        if (len && write(a->nic[i].fd, buf, len) == (ssize_t)len)
            a->nic[i].sent++;
    }
    if (++a->round < ANNOUNCE_ROUNDS) {
        struct timeval tv = {0, (a->round == 1 ? 50 : 100) * 1000};
        evtimer_add(a->ev, &tv);
        return;
    }
    for (int i = 0; i < a->n; i++) {
        const uint8_t *m = a->nic[i].mac;
        st_info("vmm.net",
                "announced %02x:%02x:%02x:%02x:%02x:%02x on tap %s: %d of %d RARP frames written",
                m[0], m[1], m[2], m[3], m[4], m[5], a->nic[i].tap, a->nic[i].sent, ANNOUNCE_ROUNDS);
    }
    event_free(a->ev);
    a->ev = NULL;
}

int vmm_tap_announce(struct event_base *base, const vmm_config *cfg)
{
    struct announce *a = &g_announce;
    if (a->ev)
        event_free(a->ev); /* one under way: this one replaces it */
    memset(a, 0, sizeof *a);
    for (int i = 0; i < cfg->nnics && a->n < VMM_MAX_NICS; i++) {
        int t = opened(cfg->nics[i].tap);
        if (t < 0)
            continue;
        a->nic[a->n].fd = g_taps[t].fd;
        a->nic[a->n].hdr_len = g_taps[t].hdr_len;
        memcpy(a->nic[a->n].mac, cfg->nics[i].mac, 6);
        memcpy(a->nic[a->n].tap, g_taps[t].name, IFNAMSIZ);
        a->n++;
    }
    if (!a->n)
        return 0;
    if (!(a->ev = evtimer_new(base, announce_round, a)))
        return -ENOMEM;
    struct timeval now = {0, 0};
    evtimer_add(a->ev, &now);
    return a->n;
}
