/*
 * tap.c - persistent taps for stratus-vmm's virtio-net ports.
 *
 * The tap is created with the flags stratus-vmm opens it with
 * (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, single queue: a multi-queue
 * mismatch would make the VMM's TUNSETIFF fail), made persistent so it
 * outlives this process, and owned by the VMM's user and group so the VMM
 * can attach to it without CAP_NET_ADMIN. The VMM sets the vnet header size
 * and offloads itself when it attaches.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int stn_tap_create(const char *name, uid_t owner, gid_t group)
{
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
    int rc = 0;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETOWNER, (unsigned long)owner) < 0 ||
        ioctl(fd, TUNSETGROUP, (unsigned long)group) < 0 || ioctl(fd, TUNSETPERSIST, 1UL) < 0)
        rc = -errno;
    close(fd);
    return rc;
}
