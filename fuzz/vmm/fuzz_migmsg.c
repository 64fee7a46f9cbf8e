/*
 * vmm_fuzz_migmsg - a live migration's frame receiver (migmsg.h) against a hostile peer.
 *
 * The input's first byte picks the receiver: bit 0 the target (else the source), bit 1 a
 * target that has already seen HELLO; the rest is the byte stream written into a socketpair,
 * then the sender's end is closed. Frames are received until one is refused or the stream
 * ends. Whatever arrives: pages land only inside the fake guest RAM (ASan watches the buffer's
 * edges), a refusal keeps no payload, an accepted frame's payload has the length announced
 * and no more than the input, and the order holds (nothing after STATE, one HELLO); a disk range
 * (block migration) lies inside a disk a DISK_BEGIN announced.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "migmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM_PAGES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t ram[RAM_PAGES * VMM_MIG_PAGE];
    vmm_gmem mem = {.r = {{0x1000, sizeof ram, ram}}, .n = 1};
    int sv[2];
    if (size < 1 || size > (1u << 16))
        return 0;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return 0;
    vmm_mig_rx rx = {.target = data[0] & 1, .hello = (data[0] >> 1) & 1, .mem = &mem};
    /* The stream fits the socket buffer (at most 64 KiB) before anyone reads it. */
    int sz = 1 << 18;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    for (size_t at = 1; at < size;) {
        ssize_t n = write(sv[0], data + at, size - at);
        if (n <= 0)
            abort();
        at += (size_t)n;
    }
    close(sv[0]);
    char err[256];
    int hellos = rx.hello, states = 0;
    for (;;) {
        vmm_mig_frame f;
        if (vmm_mig_recv(sv[1], &rx, &f, NULL, NULL, err, sizeof err)) {
            if (f.buf || f.len)
                abort();
            break;
        }
        if ((f.buf == NULL) != (f.len == 0) || f.len > size || states)
            abort();
        hellos += f.kind == VMM_MIG_HELLO;
        states += f.kind == VMM_MIG_STATE;
        if (hellos > 1 || (!rx.target && f.kind != VMM_MIG_ACK && f.kind != VMM_MIG_NACK))
            abort();
        if (f.kind == VMM_MIG_PAGES &&
            (f.gpa < 0x1000 || f.gpa + (uint64_t)f.count * VMM_MIG_PAGE > 0x1000 + sizeof ram))
            abort();
        /* A disk range only inside a disk DISK_BEGIN announced, its data exactly its length. */
        if (f.kind == VMM_MIG_DISK &&
            (f.disk >= VMM_MIG_DISKS || !rx.disk_size[f.disk] || !f.size ||
             f.off + f.size > rx.disk_size[f.disk] || (f.buf && f.len != f.size) ||
             (!f.buf) != !!(f.flags & VMM_MIG_ZERO)))
            abort();
        vmm_mig_frame_free(&f);
    }
    close(sv[1]);
    return 0;
}
