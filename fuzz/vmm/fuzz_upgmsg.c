/*
 * vmm_fuzz_upgmsg - a live upgrade's frame receiver (upgmsg.h) against hostile peers.
 *
 * The input's first byte says how many descriptors (0-31, copies of one pipe end) go with the
 * first bytes sent and how many the receiver takes (bits 5-7: 0-7 times 2); the rest is the
 * byte stream written into a socketpair, then the sender's end is closed. Whatever the
 * receiver makes of it: a refusal leaves no descriptor open, an acceptance returns exactly
 * the descriptors announced, no more than it takes, and a payload of the announced length.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "upgmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

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
    int before = open_fds();
    char ctl[CMSG_SPACE(sizeof(int) * 31)];
    memset(ctl, 0, sizeof ctl);
    struct iovec iov = {(void *)(data + 1), size - 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nsend) {
        m.msg_control = ctl;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nsend);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nsend);
        for (int i = 0; i < nsend; i++)
            memcpy(CMSG_DATA(c) + i * sizeof(int), &p[0], sizeof(int));
    }
    if (sendmsg(sv[0], &m, 0) < 0)
        abort();
    close(sv[0]);
    uint8_t *buf;
    size_t len;
    uint32_t kind;
    char err[256];
    int rc = vmm_upg_recv(sv[1], &kind, &buf, &len, fds, &nfds, maxfds, err, sizeof err);
    if (rc) {
        if (buf || len || nfds || open_fds() != before - 1) /* sv[0] closed */
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
