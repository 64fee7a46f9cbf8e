/*
 * caps.c - the agent keeps only the capabilities it uses.
 *
 * It runs as root on a host but needs little of root: to start VMMs that
 * open /dev/kvm and taps (CAP_NET_ADMIN, kept for the network work), signal
 * them (CAP_KILL), manage files in its state directory whoever created them
 * (CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_CHOWN), raise VMM limits
 * (CAP_SYS_RESOURCE) and, later, run VMMs as another user (CAP_SETUID,
 * CAP_SETGID), and start the tenant networks' dnsmasq servers, which bind
 * the DHCP port and use raw sockets (CAP_NET_BIND_SERVICE, CAP_NET_RAW).
 * A node with an external uplink (network.external_interface) hosts
 * routers, each a network namespace it creates, binds and enters
 * (unshare, mount, setns: CAP_SYS_ADMIN, kept there only, as Neutron's L3
 * agent runs as root). Jailing VMMs (jail.c: new mount and pid namespaces,
 * mounts, pivot_root, device nodes of their own) keeps CAP_SYS_ADMIN and
 * CAP_MKNOD unless jail.enabled is false. Everything else leaves the bounding set - so no VMM it
 * starts can regain it either - and the permitted, effective and inheritable
 * sets. stratus-vmm then drops what is left once its VM runs.
 */
#include "agent.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const int keep[] = {
    CAP_CHOWN,     CAP_DAC_OVERRIDE, CAP_FOWNER,           CAP_KILL,   CAP_SETGID, CAP_SETUID,
    CAP_NET_ADMIN, CAP_SYS_RESOURCE, CAP_NET_BIND_SERVICE, CAP_NET_RAW};

static int routers_here, jails_here;

static int kept(int cap)
{
    if (cap == CAP_SYS_ADMIN && (routers_here || jails_here))
        return 1;
    if (cap == CAP_MKNOD && jails_here)
        return 1;
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        if (keep[i] == cap)
            return 1;
    return 0;
}

int nd_caps_drop(int routers, int jails, char *err, size_t errlen)
{
    if (geteuid() != 0)
        return 0; /* nothing to drop */
    routers_here = routers;
    jails_here = jails;
    for (int cap = 0; cap <= 63; cap++) {
        if (kept(cap))
            continue;
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
            break; /* past the kernel's last capability */
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
            snprintf(err, errlen, "PR_CAPBSET_DROP %d: %s", cap, strerror(errno));
            return -1;
        }
    }
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2], cur[2];
    memset(d, 0, sizeof d);
    if (syscall(SYS_capget, &h, cur) < 0) {
        snprintf(err, errlen, "capget: %s", strerror(errno));
        return -1;
    }
    for (int cap = 0; cap <= 63; cap++) {
        unsigned bit = 1u << (cap % 32);
        if (!kept(cap) || !(cur[cap / 32].permitted & bit))
            continue; /* not kept, or never had it (a container): cannot add it */
        d[cap / 32].effective |= bit;
        d[cap / 32].permitted |= bit;
    }
    if (syscall(SYS_capset, &h, d) < 0) {
        snprintf(err, errlen, "capset: %s", strerror(errno));
        return -1;
    }
    return 0;
}
