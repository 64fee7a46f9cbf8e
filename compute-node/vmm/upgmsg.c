/*
 * upgmsg.c - a live upgrade's frames (see upgmsg.h).
 */
#include "upgmsg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

int vmm_sock_full(int sock, uint8_t *p, size_t len, int out)
{
    for (size_t at = 0; at < len;) {
        ssize_t n =
            out ? send(sock, p + at, len - at, MSG_NOSIGNAL) : recv(sock, p + at, len - at, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EPIPE;
        at += (size_t)n;
    }
    return 0;
}

int vmm_upg_send(int sock, uint32_t kind, const void *buf, size_t len, const int *fds, int nfds)
{
    uint8_t hdr[VMM_UPG_HEADER];
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(int) * VMM_UPG_MAX_FDS)];
    } ctl;
    if (nfds < 0 || nfds > VMM_UPG_MAX_FDS || len > VMM_UPG_MAX_LEN)
        return -EINVAL;
    memcpy(hdr, VMM_UPG_MAGIC, 8);
    put32(hdr + 8, kind);
    put32(hdr + 12, (uint32_t)nfds);
    put64(hdr + 16, len);
    struct iovec iov = {hdr, sizeof hdr};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds) {
        memset(&ctl, 0, sizeof ctl);
        m.msg_control = ctl.b;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t n;
    do {
        n = sendmsg(sock, &m, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    /* A stream socket may take the header in parts; then the payload. */
    if ((size_t)n < sizeof hdr && (n = vmm_sock_full(sock, hdr + n, sizeof hdr - (size_t)n, 1)))
        return (int)n;
    return len ? vmm_sock_full(sock, (uint8_t *)(uintptr_t)buf, len, 1) : 0;
}

int vmm_upg_recv(int sock, uint32_t *kind, uint8_t **buf, size_t *len, int *fds, int *nfds,
                 int maxfds, char *err, size_t errlen)
{
    uint8_t hdr[VMM_UPG_HEADER];
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(int) * VMM_UPG_MAX_FDS)];
    } ctl;
    int got[VMM_UPG_MAX_FDS], ngot = 0, rc;
    *buf = NULL;
    *len = 0;
    *nfds = 0;
    if (maxfds > VMM_UPG_MAX_FDS)
        maxfds = VMM_UPG_MAX_FDS;
    struct iovec iov = {hdr, sizeof hdr};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
    ssize_t n;
    do {
        n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        rc = n < 0 ? -errno : -EPIPE;
        snprintf(err, errlen, "no frame: %s", n < 0 ? strerror(-rc) : "connection closed");
        return rc;
    }
    /* Every descriptor that arrived is ours to close from here on. */
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k && ngot < VMM_UPG_MAX_FDS; i++)
            memcpy(&got[ngot++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    rc = -EPROTO;
    if (m.msg_flags & MSG_CTRUNC) {
        snprintf(err, errlen, "more descriptors than a frame carries (at most %d)",
                 VMM_UPG_MAX_FDS);
        goto fail;
    }
    if ((size_t)n < sizeof hdr && vmm_sock_full(sock, hdr + n, sizeof hdr - (size_t)n, 0)) {
        snprintf(err, errlen, "truncated header");
        goto fail;
    }
    uint32_t k = (uint32_t)get(hdr + 8, 4), want = (uint32_t)get(hdr + 12, 4);
    uint64_t l = get(hdr + 16, 8);
    if (memcmp(hdr, VMM_UPG_MAGIC, 8)) {
        snprintf(err, errlen, "not an upgrade frame (bad magic)");
        goto fail;
    }
    if (k < VMM_UPG_STATE || k > VMM_UPG_NACK) {
        snprintf(err, errlen, "unknown frame kind %u", k);
        goto fail;
    }
    if (want > (uint32_t)maxfds || want != (uint32_t)ngot) {
        snprintf(err, errlen, "frame says %u descriptors, %d arrived (at most %d taken)", want,
                 ngot, maxfds);
        goto fail;
    }
    if (l > VMM_UPG_MAX_LEN) {
        snprintf(err, errlen, "frame of %llu bytes, more than %zu", (unsigned long long)l,
                 VMM_UPG_MAX_LEN);
        goto fail;
    }
    if (l) {
        *buf = malloc((size_t)l + 1);
        if (!*buf) {
            rc = -ENOMEM;
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        if (vmm_sock_full(sock, *buf, (size_t)l, 0)) {
            snprintf(err, errlen, "truncated frame (%llu bytes announced)", (unsigned long long)l);
            free(*buf);
            *buf = NULL;
            goto fail;
        }
        (*buf)[l] = 0;
    }
    *kind = k;
    *len = (size_t)l;
    if (ngot)
        memcpy(fds, got, sizeof(int) * (size_t)ngot);
    *nfds = ngot;
    return 0;
fail:
    for (int i = 0; i < ngot; i++)
        close(got[i]);
    return rc;
}
