/*
 * vmm_fuzz_guest_inet - the test guest's IPv4 input (kernel/inet.c, built
 * for the host with INET_HOST) over arbitrary frames: whatever arrives on
 * the wire must be parsed inside its own length, never crash, and produce
 * at most one reply that fits a frame. The first byte picks the state the
 * frame meets: 0 DHCP selecting, 1 requesting (offer 10.77.0.21 from
 * 10.77.0.2), 2 bound to 10.77.0.21/24, 3 bound and pinging 10.77.0.22.
 * Each frame is copied to a buffer of exactly its size, so ASan sees any
 * read past it. Seeds: corpus-inet/, made by inet_seeds.py.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inet.h" /* INET_HOST is defined by the build */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const u8 mac[6] = {0x52, 0x54, 0x00, 0x77, 0x00, 0x21};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct inet s;
    if (size == 0)
        return 0;
    inet_init(&s, mac, 0x11223344);
    int mode = data[0] & 3;
    if (mode >= 1) {
        s.dhcp = DHCP_REQUESTING;
        s.offer_ip = 0x0a4d0015;
        s.offer_server = 0x0a4d0002;
    }
    if (mode >= 2) {
        s.dhcp = DHCP_BOUND;
        s.lease.ip = 0x0a4d0015;
        s.lease.mask = 0xffffff00;
        s.lease.router = 0x0a4d0001;
        s.lease.server = 0x0a4d0002;
    }
    if (mode == 3)
        inet_ping_target(&s, 0x0a4d0016, 4, 0x1234);
    size_t len = size - 1;
    u8 *frame = malloc(len ? len : 1);
    u8 *out = malloc(INET_FRAME_MAX);
    memcpy(frame, data + 1, len);
    u32 n = inet_input(&s, frame, (u32)len, out);
    if (n > INET_FRAME_MAX || (n && n < 42))
        abort(); /* a reply is a whole frame that fits */
    if (s.replies > s.ping_count || (s.dhcp == DHCP_BOUND && s.lease.ip == 0))
        abort();
    if (s.dhcp == DHCP_REQUESTING && n == 0 && mode == 0)
        abort(); /* an accepted OFFER is answered with a REQUEST */
    free(frame);
    free(out);
    return 0;
}
