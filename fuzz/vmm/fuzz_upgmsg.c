/*
 * vmm_fuzz_upgmsg - a live upgrade's frame receiver (upgmsg.h) against hostile peers.
 *
 * The input's first byte says how many descriptors (0-31, copies of one pipe end) go with the
 * first bytes sent and how many the receiver takes (bits 5-7: 0-7 times 2); the rest is the
 * byte stream written into a socketpair, then the sender's end is closed. Whatever the
 * receiver makes of it: a refusal leaves no descriptor open, an acceptance returns exactly
 * the descriptors announced, no more than it takes, and a payload of the announced length.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/fdsend.h"
#include "upgmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2], p[2], fds[VMM_UPG_MAX_FDS], nfds = -1;
    if (size < 2 || size > (1u << 16))
        return 0;
    int nsend = data[0] & 31, maxfds = (data[0] >> 5) * 2;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return 0;
    if (pipe(p) < 0) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    int before = fds_open();
    if (send_with_fds(sv[0], data + 1, size - 1, p[0], nsend) < 0)
        abort();
    close(sv[0]);
    uint8_t *buf;
    size_t len;
    uint32_t kind;
    char err[256];
    int rc = vmm_upg_recv(sv[1], &kind, &buf, &len, fds, &nfds, maxfds, err, sizeof err);
    if (rc) {
        if (buf || len || nfds || fds_open() != before - 1) /* sv[0] closed */
            abort();
    } else {
        if (nfds > maxfds || nfds != nsend || (len && !buf) || len > size)
            abort();
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        free(buf);
    }
    close(sv[1]);
    close(p[0]);
    close(p[1]);
    return 0;
}
