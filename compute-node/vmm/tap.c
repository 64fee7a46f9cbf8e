/*
 * tap.c - opening a NIC's tap (shared by virtio-net and e1000).
 */
#include "devices.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int vmm_tap_open(const char *name, int vnet_hdr_len)
{
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
    return fd;
}
