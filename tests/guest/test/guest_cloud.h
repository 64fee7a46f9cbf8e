/*
 * guest_cloud.h - one tenant network built exactly as a Stratus host builds
 * it (libstratus_net's stn_converge: bridge, VXLAN device, tap, nftables
 * anti-spoofing and security groups, dnsmasq with static leases), for tests
 * that boot the test guest on it under QEMU or stratus-vmm.
 *
 *   namespace host  the "compute host": underlay veth ul0 10.98.0.1/24, the
 *                   network (VNI 4242, MTU 1450, 10.77.0.0/24, DHCP server
 *                   10.77.0.2, router 10.77.0.1, DNS 10.77.0.3), the guest's
 *                   tap port (GC_GUEST_MAC -> GC_GUEST_IP) and a veth port
 *   namespace peer  that veth port's other end, eth0 = GC_PEER_IP/24: a
 *                   tenant's other instance, answering with the real kernel
 * Both ports are in one security group: all egress, ingress from members.
 * A VMM runs inside `host` (ip netns exec) and opens `tap`.
 */
#ifndef GUEST_CLOUD_H
#define GUEST_CLOUD_H

#include <stddef.h>

#define GC_GUEST_MAC "52:54:00:77:00:21"
#define GC_GUEST_IP "10.77.0.21"
#define GC_PEER_IP "10.77.0.22"
#define GC_MASK "255.255.255.0"
#define GC_ROUTER "10.77.0.1"
#define GC_DNS "10.77.0.3"
#define GC_DHCP "10.77.0.2"
#define GC_MTU 1450

typedef struct gc_cloud {
    const char *host, *peer; /* namespace names */
    const char *tap;         /* the guest's tap, inside host */
    char *dir;               /* dnsmasq state */
} gc_cloud;

/* Skips (77) unless root with ip, dnsmasq and ping. */
void gc_require(void);
/* Builds and converges the world; 0 or -1 (err says why). */
int gc_up(gc_cloud *c, char *err, size_t errlen);
void gc_down(gc_cloud *c);
/* Runs a shell command (printf-style); its exit status. */
__attribute__((format(printf, 1, 2))) int gc_sh(const char *fmt, ...);

#endif
