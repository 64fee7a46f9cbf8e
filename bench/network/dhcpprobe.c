/*
 * dhcpprobe.c - the benchmarks' DHCP stopwatch (see dhcpprobe.h): a UDP
 * socket bound to the interface (port 68, SO_BINDTODEVICE) sends a minimal
 * BOOTREQUEST (RFC 2131: DISCOVER, broadcast flag so the OFFER comes to
 * 255.255.255.255 while the interface has no address) every 5 ms and
 * reads until an OFFER with its xid comes back.
 */
#include "dhcpprobe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

double bench_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr,
 * chaddr[16], sname[64], file[128], then the magic cookie and options. */
#define BOOTP_FIXED 236

static int iface_up_mac(int s, const char *ifname, uint8_t mac[6])
{
    struct ifreq r;
    memset(&r, 0, sizeof r);
    snprintf(r.ifr_name, sizeof r.ifr_name, "%s", ifname);
    if (ioctl(s, SIOCGIFFLAGS, &r) < 0)
        return -1;
    if (!(r.ifr_flags & IFF_UP)) {
        r.ifr_flags |= IFF_UP;
        if (ioctl(s, SIOCSIFFLAGS, &r) < 0)
            return -1;
    }
    if (ioctl(s, SIOCGIFHWADDR, &r) < 0)
        return -1;
    memcpy(mac, r.ifr_hwaddr.sa_data, 6);
    return 0;
}

double dhcp_probe(const char *ifname, int timeout_ms)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    int one = 1;
    uint8_t mac[6];
    struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = htons(68)};
    if (iface_up_mac(s, ifname, mac) < 0 ||
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(s, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0 ||
        setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) < 0 ||
        bind(s, (struct sockaddr *)&me, sizeof me) < 0) {
        fprintf(stderr, "dhcp probe on %s: %s\n", ifname, strerror(errno));
        close(s);
        return -1;
    }
    uint8_t q[300];
    memset(q, 0, sizeof q);
    uint32_t xid = (uint32_t)rand() ^ (uint32_t)getpid();
    q[0] = 1, q[1] = 1, q[2] = 6;
    memcpy(q + 4, &xid, 4);
    q[10] = 0x80; /* broadcast flag */
    memcpy(q + 28, mac, 6);
    static const uint8_t opts[] = {99, 130, 83, 99, 53, 1, 1, 55, 2, 1, 3, 255};
    memcpy(q + BOOTP_FIXED, opts, sizeof opts);
    size_t qlen = BOOTP_FIXED + sizeof opts;
    struct sockaddr_in all = {
        .sin_family = AF_INET, .sin_port = htons(67), .sin_addr.s_addr = htonl(INADDR_BROADCAST)};
    double t0 = bench_ms(), next = t0, got = -1;
    while (got < 0 && bench_ms() - t0 < timeout_ms) {
        if (bench_ms() >= next) {
            /* ENETUNREACH and the like while the port is not yet plugged: ask again */
            (void)sendto(s, q, qlen, 0, (struct sockaddr *)&all, sizeof all);
            next = bench_ms() + 5;
        }
        struct pollfd p = {.fd = s, .events = POLLIN};
        int w = (int)(next - bench_ms());
        if (poll(&p, 1, w < 0 ? 0 : w) <= 0)
            continue;
        uint8_t a[1500];
        ssize_t n = recv(s, a, sizeof a, 0);
        if (n < BOOTP_FIXED + 4 || a[0] != 2 || memcmp(a + 4, &xid, 4) != 0 ||
            memcmp(a + 28, mac, 6) != 0)
            continue;
        for (ssize_t i = BOOTP_FIXED + 4; i + 2 < n && a[i] != 255;) {
            if (a[i] == 0) {
                i++;
                continue;
            }
            if (a[i] == 53 && a[i + 1] == 1 && a[i + 2] == 2) {
                got = bench_ms();
                break;
            }
            i += 2 + a[i + 1];
        }
    }
    close(s);
    if (got < 0)
        fprintf(stderr, "dhcp probe on %s: no offer in %d ms\n", ifname, timeout_ms);
    return got;
}
