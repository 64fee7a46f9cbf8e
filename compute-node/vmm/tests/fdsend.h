/*
 * fdsend.h - for the live upgrade's frame tests (vmm_upgmsg, vmm_fuzz_upgmsg): counting this
 * process's open descriptors, and sending bytes with n copies of one descriptor attached,
 * as a hostile peer would.
 */
#ifndef VMM_TEST_FDSEND_H
#define VMM_TEST_FDSEND_H

#include <dirent.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

static inline int fds_open(void)
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

/* sendmsg of len bytes with n (0-40) copies of fd attached; what sendmsg returns. */
static inline ssize_t send_with_fds(int sock, const void *buf, size_t len, int fd, int n)
{
    char ctl[CMSG_SPACE(sizeof(int) * 40)];
    memset(ctl, 0, sizeof ctl);
    struct iovec iov = {(void *)buf, len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (n > 40)
        n = 40;
    if (n > 0) {
        m.msg_control = ctl;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
        for (int i = 0; i < n; i++)
            memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof fd);
    }
    return sendmsg(sock, &m, 0);
}

#endif
