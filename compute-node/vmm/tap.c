/*
 * tap.c - opening a NIC's tap (shared by virtio-net and e1000).
 *
 * A tap without IFF_MULTI_QUEUE has one queue, attached to one open file: a live upgrade
 * hands the new process the old one's descriptors, so the taps opened are remembered by
 * name (vmm_tap_fd) and a process started for an upgrade takes handed ones (vmm_tap_adopt)
 * instead of opening the tap again.
 */
#include "devices.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static struct {
    char name[IFNAMSIZ];
    int fd;
    int adopted; /* handed over, not yet taken by vmm_tap_open */
} g_taps[VMM_MAX_NICS];
static int g_ntaps;

static int remember(const char *name, int fd, int adopted)
{
    if (g_ntaps == VMM_MAX_NICS)
        return -ENOSPC;
    snprintf(g_taps[g_ntaps].name, IFNAMSIZ, "%s", name);
    g_taps[g_ntaps].fd = fd;
    g_taps[g_ntaps++].adopted = adopted;
    return 0;
}

int vmm_tap_adopt(const char *name, int fd)
{
    return remember(name, fd, 1);
}

int vmm_tap_fd(const char *name)
{
    for (int i = 0; i < g_ntaps; i++)
        if (!strncmp(g_taps[i].name, name, IFNAMSIZ - 1) && !g_taps[i].adopted)
            return g_taps[i].fd;
    return -1;
}

int vmm_tap_open(const char *name, int vnet_hdr_len)
{
    for (int i = 0; i < g_ntaps; i++) {
        if (g_taps[i].adopted && !strncmp(g_taps[i].name, name, IFNAMSIZ - 1)) {
            g_taps[i].adopted = 0;
            int fd = g_taps[i].fd;
            /* Another build may use another header size; the rest is the tap's own state. */
            if (vnet_hdr_len && ioctl(fd, TUNSETVNETHDRSZ, &vnet_hdr_len) < 0)
                return -errno;
            return fd;
        }
    }
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
    remember(name, fd, 0);
    return fd;
}
