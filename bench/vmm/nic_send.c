/*
 * nic_send.c - stratus-nicbench-send IFACE COUNT [WINDOW]: the frames a
 * guest receives in bench/vmm/nic-nested.sh. Runs inside the nested test
 * host (L1), on the tap a VMM reads.
 *
 * Sends COUNT 64-byte frames in the test guest's flood format (tests/guest
 * README, "net frames": broadcast, EtherType 0x88B5, "STRGUEST", kind 'F',
 * a sequence number, the origin MAC) out of IFACE through an AF_PACKET
 * socket, so they reach whatever reads the tap: the VMM, and through its
 * NIC the guest's sink.
 *
 * Paced, not flooded: a tap's queue drops what its reader has not taken
 * (tun does not push back), and both VMMs stop reading while the guest has
 * no receive buffer posted. So at most WINDOW (default 256, below the tap's
 * 500) frames are in flight, in flight being what was sent minus what the
 * tap counted as read by the VMM or dropped (tx_packets + tx_dropped in
 * sysfs, read only when the window looks full: under emulation a read
 * costs more than a send); with the window full it sleeps 200 us. Every
 * frame then reaches the VMM and the rate is the VMM's and the guest's, not
 * the sender's, and the sender spends little of L1's one CPU.
 *
 * Prints "nicbench-send sent=N dropped=D" (D: the tap's drops meanwhile).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FRAME_LEN 64
#define ETHERTYPE 0x88B5

/* A counter of the interface from sysfs: its file, kept open and read again with pread. */
static int stat_open(const char *ifname, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "/sys/class/net/%s/statistics/%s", ifname, name);
    return open(path, O_RDONLY | O_CLOEXEC);
}

static long long stat_read(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    return atoll(buf);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s IFACE COUNT [WINDOW]\n", argv[0]);
        return 2;
    }
    const char *ifname = argv[1];
    long long count = atoll(argv[2]), window = argc > 3 ? atoll(argv[3]) : 256;
    unsigned ifindex = if_nametoindex(ifname);
    if (!ifindex || count <= 0 || window <= 0) {
        fprintf(stderr, "nicbench-send: no interface %s, or a bad count/window\n", ifname);
        return 2;
    }
    int s = socket(AF_PACKET, SOCK_RAW, htons(ETHERTYPE));
    if (s < 0) {
        perror("nicbench-send: socket(AF_PACKET)");
        return 1;
    }
    static const uint8_t origin[6] = {0x02, 0x00, 0x00, 0x4e, 0x42, 0x01};
    struct sockaddr_ll to = {.sll_family = AF_PACKET,
                             .sll_protocol = htons(ETHERTYPE),
                             .sll_ifindex = (int)ifindex,
                             .sll_halen = 6,
                             .sll_addr = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    uint8_t f[FRAME_LEN] = {0};
    memset(f, 0xff, 6);
    memcpy(f + 6, origin, 6);
    f[12] = ETHERTYPE >> 8;
    f[13] = ETHERTYPE & 0xff;
    memcpy(f + 14, "STRGUEST", 8);
    f[22] = 'F';
    memcpy(f + 28, origin, 6);

    /* Frames the tap has let go of: read by its owner, or dropped. */
    int tx_fd = stat_open(ifname, "tx_packets"), drop_fd = stat_open(ifname, "tx_dropped");
    long long drop0 = stat_read(drop_fd), base = stat_read(tx_fd) + drop0, gone = 0;
    if (tx_fd < 0 || drop_fd < 0 || base < 0) {
        fprintf(stderr, "nicbench-send: no statistics for %s in sysfs\n", ifname);
        return 1;
    }
    const struct timespec nap = {0, 200000};
    for (long long sent = 0; sent < count;) {
        /* The counters are read only when the window looks full: a read costs more than a send. */
        if (sent - gone >= window) {
            gone = stat_read(tx_fd) + stat_read(drop_fd) - base;
            if (sent - gone >= window)
                nanosleep(&nap, NULL);
            continue;
        }
        uint32_t seq = (uint32_t)sent;
        memcpy(f + 24, &seq, 4);
        if (sendto(s, f, sizeof f, 0, (struct sockaddr *)&to, sizeof to) < 0) {
            if (errno == ENOBUFS || errno == EAGAIN) {
                nanosleep(&nap, NULL);
                continue;
            }
            perror("nicbench-send: sendto");
            return 1;
        }
        sent++;
    }
    printf("nicbench-send sent=%lld dropped=%lld\n", count, stat_read(drop_fd) - drop0);
    close(s);
    return 0;
}
