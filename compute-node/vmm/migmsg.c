/*
 * migmsg.c - a live migration's frames (see migmsg.h).
 */
#include "migmsg.h"

#include <endian.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "upgmsg.h"

/* Sockets with a TLS session (vmm_mig_tls_attach): at most a few per process. */
#define TLS_SLOTS 4
static struct {
    int fd;
    SSL *ssl;
} g_tls[TLS_SLOTS];
static pthread_mutex_t g_tls_lock = PTHREAD_MUTEX_INITIALIZER;

void vmm_mig_tls_attach(int fd, void *ssl)
{
    pthread_mutex_lock(&g_tls_lock);
    for (int i = 0; i < TLS_SLOTS; i++) {
        if (ssl && !g_tls[i].ssl) {
            g_tls[i].fd = fd;
            g_tls[i].ssl = ssl;
            break;
        }
        if (!ssl && g_tls[i].ssl && g_tls[i].fd == fd)
            g_tls[i].ssl = NULL;
    }
    pthread_mutex_unlock(&g_tls_lock);
}

static SSL *tls_of(int fd)
{
    SSL *ssl = NULL;
    pthread_mutex_lock(&g_tls_lock);
    for (int i = 0; i < TLS_SLOTS && !ssl; i++)
        if (g_tls[i].ssl && g_tls[i].fd == fd)
            ssl = g_tls[i].ssl;
    pthread_mutex_unlock(&g_tls_lock);
    return ssl;
}

/* All of len bytes through a TLS session; 0, -EPIPE (closed) or -EIO. */
static int tls_full(SSL *ssl, uint8_t *p, size_t len, int out)
{
    for (size_t at = 0; at < len;) {
        size_t k = 0;
        int ok =
            out ? SSL_write_ex(ssl, p + at, len - at, &k) : SSL_read_ex(ssl, p + at, len - at, &k);
        if (!ok) {
            int e = SSL_get_error(ssl, 0);
            ERR_clear_error();
            return e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL ? -EPIPE : -EIO;
        }
        at += k;
    }
    return 0;
}

/* len bytes in from the socket, through its TLS session if it has one. */
static int rd(int sock, uint8_t *p, size_t len)
{
    SSL *ssl = tls_of(sock);
    return ssl ? tls_full(ssl, p, len, 0) : vmm_sock_full(sock, p, len, 0);
}

void *vmm_mig_tls_ctx(int server, const char *ca, const char *cert, const char *key, char *err,
                      size_t errlen)
{
    SSL_CTX *c = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    const char *what = "a TLS context";
    if (!c)
        goto fail;
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    what = ca;
    if (SSL_CTX_load_verify_locations(c, ca, NULL) != 1)
        goto fail;
    what = cert;
    if (SSL_CTX_use_certificate_chain_file(c, cert) != 1)
        goto fail;
    what = key;
    if (SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(c) != 1)
        goto fail;
    /* Both ends prove themselves: the peer's certificate must chain to ca. */
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    return c;
fail:
    snprintf(err, errlen, "TLS: %s: %s", what, ERR_reason_error_string(ERR_get_error()));
    ERR_clear_error();
    SSL_CTX_free(c);
    return NULL;
}

void *vmm_mig_tls_handshake(void *ctx, int fd, int server, char *err, size_t errlen)
{
    SSL *ssl = SSL_new(ctx);
    if (ssl && SSL_set_fd(ssl, fd) == 1 && (server ? SSL_accept(ssl) : SSL_connect(ssl)) == 1) {
        vmm_mig_tls_attach(fd, ssl);
        return ssl;
    }
    unsigned long e = ERR_get_error();
    snprintf(err, errlen, "TLS handshake: %s",
             e ? ERR_reason_error_string(e) : "the peer closed the connection");
    ERR_clear_error();
    SSL_free(ssl);
    return NULL;
}

void vmm_mig_tls_end(int fd, void *ssl, void *ctx)
{
    if (ssl) {
        vmm_mig_tls_attach(fd, NULL);
        SSL_free(ssl);
    }
    SSL_CTX_free(ctx);
}

static void le32(uint8_t *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, 4);
}

static void le64(uint8_t *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, 8);
}

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return le32toh(v);
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return le64toh(v);
}

/* Every byte of iov[0..n) on the socket (the array is consumed). */
static int send_all(int sock, struct iovec *iov, int n)
{
    SSL *ssl = tls_of(sock);
    for (int i = 0; ssl && i < n; i++) {
        int rc = iov[i].iov_len ? tls_full(ssl, iov[i].iov_base, iov[i].iov_len, 1) : 0;
        if (rc)
            return rc;
    }
    while (!ssl && n > 0) {
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t k = sendmsg(sock, &m, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        while (n > 0 && (size_t)k >= iov->iov_len) {
            k -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + k;
            iov->iov_len -= (size_t)k;
        }
    }
    return 0;
}

int vmm_mig_send(int sock, uint32_t kind, uint32_t flags, const void *hdr, size_t hlen,
                 const void *buf, size_t len)
{
    uint8_t h[VMM_MIG_HEADER];
    memcpy(h, VMM_MIG_MAGIC, 8);
    le32(h + 8, kind);
    le32(h + 12, flags);
    le64(h + 16, (uint64_t)hlen + len);
    struct iovec iov[3] = {
        {h, sizeof h}, {(void *)(uintptr_t)hdr, hlen}, {(void *)(uintptr_t)buf, len}};
    return send_all(sock, iov, 3);
}

int vmm_mig_send_hello(int sock, uint64_t ram_bytes, const char *config)
{
    uint8_t fixed[VMM_MIG_HELLO_FIXED] = {0};
    le32(fixed, VMM_MIG_PROTOCOL);
    le64(fixed + 8, ram_bytes);
    snprintf((char *)fixed + 16, VMM_SNAP_WRITER_MAX, "%s", vmm_version);
    return vmm_mig_send(sock, VMM_MIG_HELLO, 0, fixed, sizeof fixed, config, strlen(config));
}

int vmm_mig_send_pages(int sock, uint64_t gpa, uint32_t count, const void *data)
{
    uint8_t sub[16] = {0};
    le64(sub, gpa);
    le32(sub + 8, count);
    return vmm_mig_send(sock, VMM_MIG_PAGES, data ? 0 : VMM_MIG_ZERO, sub, sizeof sub, data,
                        data ? (size_t)count * VMM_MIG_PAGE : 0);
}

int vmm_mig_send_disk_begin(int sock, uint32_t disk, uint32_t format, uint64_t size,
                            const char *backing)
{
    uint8_t p[VMM_MIG_DISK_BEGIN_LEN] = {0};
    le32(p, disk);
    le32(p + 4, format);
    le64(p + 8, size);
    snprintf((char *)p + 16, 256, "%s", backing ? backing : "");
    return vmm_mig_send(sock, VMM_MIG_DISK_BEGIN, 0, p, sizeof p, NULL, 0);
}

int vmm_mig_send_disk(int sock, uint32_t disk, uint64_t off, uint64_t len, const void *data)
{
    uint8_t sub[VMM_MIG_DISK_SUB] = {0};
    le32(sub, disk);
    le64(sub + 8, off);
    le64(sub + 16, len);
    return vmm_mig_send(sock, VMM_MIG_DISK, data ? 0 : VMM_MIG_ZERO, sub, sizeof sub, data,
                        data ? (size_t)len : 0);
}

void vmm_mig_frame_free(vmm_mig_frame *f)
{
    free(f->buf);
    f->buf = NULL;
    f->len = 0;
}

static const char *kind_name(uint32_t k)
{
    static const char *const names[] = {"HELLO", "PAGES", "ROUND_END",  "STATE",
                                        "ACK",   "NACK",  "DISK_BEGIN", "DISK"};
    return k >= VMM_MIG_HELLO && k <= VMM_MIG_DISK ? names[k - 1] : "unknown";
}

/* Whether kind may come now; the reason in err otherwise. */
static int in_order(const vmm_mig_rx *rx, uint32_t k, char *err, size_t errlen)
{
    const char *why = NULL;
    if (!rx->target)
        why = k == VMM_MIG_ACK || k == VMM_MIG_NACK ? NULL : "the target sends only ACK or NACK";
    else if (k == VMM_MIG_ACK || k == VMM_MIG_NACK)
        why = "the source sends no ACK or NACK";
    else if (rx->state)
        why = "a frame after STATE";
    else if (!rx->hello && k != VMM_MIG_HELLO)
        why = "HELLO must come first";
    else if (rx->hello && k == VMM_MIG_HELLO)
        why = "a second HELLO";
    if (why)
        snprintf(err, errlen, "%s frame out of order: %s", kind_name(k), why);
    return why == NULL;
}

/* The payload length a kind may announce, checked before any of it is read. */
static int length_ok(uint32_t k, uint32_t flags, uint64_t l, char *err, size_t errlen)
{
    uint64_t lo = 0, hi = 0;
    switch (k) {
    case VMM_MIG_HELLO:
        lo = VMM_MIG_HELLO_FIXED, hi = VMM_MIG_HELLO_FIXED + VMM_SNAP_CONFIG_MAX;
        break;
    case VMM_MIG_PAGES:
        lo = 16;
        hi = flags & VMM_MIG_ZERO ? 16 : 16 + (uint64_t)VMM_MIG_MAX_PAGES * VMM_MIG_PAGE;
        break;
    case VMM_MIG_ROUND_END: lo = hi = 8; break;
    case VMM_MIG_STATE: lo = 1, hi = VMM_MIG_STATE_MAX; break;
    case VMM_MIG_ACK: break;
    case VMM_MIG_NACK: hi = VMM_MIG_MSG_MAX; break;
    case VMM_MIG_DISK_BEGIN: lo = hi = VMM_MIG_DISK_BEGIN_LEN; break;
    case VMM_MIG_DISK:
        lo = VMM_MIG_DISK_SUB;
        hi = flags & VMM_MIG_ZERO ? lo : lo + VMM_MIG_DISK_MAX;
        break;
    }
    if (l >= lo && l <= hi)
        return 1;
    snprintf(err, errlen, "%s frame of %llu bytes (%llu..%llu)", kind_name(k),
             (unsigned long long)l, (unsigned long long)lo, (unsigned long long)hi);
    return 0;
}

/* A PAGES frame's sub-header and data, read into guest RAM once every check passed. */
static int recv_pages(int sock, vmm_mig_rx *rx, vmm_mig_frame *f, uint64_t l, vmm_mig_zero_fn zero,
                      void *opaque, char *err, size_t errlen)
{
    uint8_t sub[16];
    if (rd(sock, sub, sizeof sub)) {
        snprintf(err, errlen, "truncated PAGES frame");
        return -EPROTO;
    }
    f->gpa = rd64(sub);
    f->count = rd32(sub + 8);
    uint64_t data = (uint64_t)f->count * VMM_MIG_PAGE;
    if (f->count == 0 || f->count > VMM_MIG_MAX_PAGES || rd32(sub + 12) ||
        l != 16 + (f->flags & VMM_MIG_ZERO ? 0 : data)) {
        snprintf(err, errlen, "PAGES frame of %u pages in %llu bytes", f->count,
                 (unsigned long long)l);
        return -EPROTO;
    }
    uint8_t *p =
        (f->gpa & (VMM_MIG_PAGE - 1)) || !rx->mem ? NULL : vmm_gmem_ptr(rx->mem, f->gpa, data);
    if (!p) {
        snprintf(err, errlen, "PAGES at %#llx (%u pages): not aligned guest RAM",
                 (unsigned long long)f->gpa, f->count);
        return -EPROTO;
    }
    if (f->flags & VMM_MIG_ZERO) {
        if (zero)
            zero(opaque, p, data);
        else
            memset(p, 0, data);
    } else if (rd(sock, p, data)) {
        snprintf(err, errlen, "truncated PAGES frame (%u pages announced)", f->count);
        return -EPROTO;
    }
    rx->pages += f->count;
    return 0;
}

/* DISK_BEGIN: a disk index not announced yet, a known format, a sane size, a backing name
 * that is a plain file name. */
static int recv_disk_begin(int sock, vmm_mig_rx *rx, vmm_mig_frame *f, char *err, size_t errlen)
{
    uint8_t p[VMM_MIG_DISK_BEGIN_LEN];
    if (rd(sock, p, sizeof p)) {
        snprintf(err, errlen, "truncated DISK_BEGIN frame");
        return -EPROTO;
    }
    f->disk = rd32(p);
    f->format = rd32(p + 4);
    f->size = rd64(p + 8);
    size_t bl = strnlen((const char *)p + 16, 256);
    if (f->disk >= VMM_MIG_DISKS || rx->disk_size[f->disk]) {
        snprintf(err, errlen, "DISK_BEGIN for disk %u: %s", f->disk,
                 f->disk >= VMM_MIG_DISKS ? "no such index" : "announced twice");
        return -EPROTO;
    }
    if ((f->format != VMM_MIG_DISK_RAW && f->format != VMM_MIG_DISK_QCOW2) || !f->size ||
        f->size % 512 || f->size > VMM_MIG_DISK_SIZE_MAX || bl == 256 || memchr(p + 16, '/', bl) ||
        (f->format == VMM_MIG_DISK_RAW && bl)) {
        snprintf(err, errlen, "DISK_BEGIN for disk %u: format %u, size %llu or backing name bad",
                 f->disk, f->format, (unsigned long long)f->size);
        return -EPROTO;
    }
    memcpy(f->backing, p + 16, bl);
    f->backing[bl] = 0;
    rx->disk_size[f->disk] = f->size;
    return 0;
}

/* DISK: a range inside an announced disk; its data into f->buf. */
static int recv_disk(int sock, vmm_mig_rx *rx, vmm_mig_frame *f, uint64_t l, char *err,
                     size_t errlen)
{
    uint8_t sub[VMM_MIG_DISK_SUB];
    if (rd(sock, sub, sizeof sub)) {
        snprintf(err, errlen, "truncated DISK frame");
        return -EPROTO;
    }
    f->disk = rd32(sub);
    f->off = rd64(sub + 8);
    uint64_t len = rd64(sub + 16);
    uint64_t size = f->disk < VMM_MIG_DISKS && !rd32(sub + 4) ? rx->disk_size[f->disk] : 0;
    if (!size || !len || len > VMM_MIG_DISK_MAX || len % 512 || f->off % 512 ||
        l != VMM_MIG_DISK_SUB + (f->flags & VMM_MIG_ZERO ? 0 : len) || f->off > size ||
        len > size - f->off) {
        snprintf(err, errlen, "DISK frame for disk %u at %llu (%llu bytes): %s", f->disk,
                 (unsigned long long)f->off, (unsigned long long)len,
                 size ? "not aligned, too long or beyond the end of the disk"
                      : "no DISK_BEGIN for it");
        return -EPROTO;
    }
    f->size = len;
    if (f->flags & VMM_MIG_ZERO) {
        rx->disk_bytes += len;
        return 0;
    }
    if (!(f->buf = malloc((size_t)len))) {
        snprintf(err, errlen, "out of memory for a DISK frame");
        return -ENOMEM;
    }
    if (rd(sock, f->buf, (size_t)len)) {
        vmm_mig_frame_free(f);
        snprintf(err, errlen, "truncated DISK frame (%llu bytes announced)",
                 (unsigned long long)len);
        return -EPROTO;
    }
    f->len = (size_t)len;
    rx->disk_bytes += len;
    return 0;
}

int vmm_mig_recv(int sock, vmm_mig_rx *rx, vmm_mig_frame *f, vmm_mig_zero_fn zero, void *opaque,
                 char *err, size_t errlen)
{
    uint8_t h[VMM_MIG_HEADER];
    memset(f, 0, sizeof *f);
    int rc = rd(sock, h, sizeof h);
    if (rc) {
        snprintf(err, errlen, "no frame: %s", rc == -EPIPE ? "connection closed" : strerror(-rc));
        return rc;
    }
    uint32_t k = rd32(h + 8), flags = rd32(h + 12);
    uint64_t l = rd64(h + 16);
    if (memcmp(h, VMM_MIG_MAGIC, 8)) {
        snprintf(err, errlen, "not a migration frame (bad magic)");
        return -EPROTO;
    }
    if (k < VMM_MIG_HELLO || k > VMM_MIG_DISK) {
        snprintf(err, errlen, "unknown frame kind %u", k);
        return -EPROTO;
    }
    if (flags & ~(k == VMM_MIG_PAGES || k == VMM_MIG_DISK ? VMM_MIG_ZERO : 0u)) {
        snprintf(err, errlen, "%s frame with flags %#x", kind_name(k), flags);
        return -EPROTO;
    }
    if (!in_order(rx, k, err, errlen) || !length_ok(k, flags, l, err, errlen))
        return -EPROTO;
    f->kind = k;
    f->flags = flags;
    if (k == VMM_MIG_PAGES) {
        if ((rc = recv_pages(sock, rx, f, l, zero, opaque, err, errlen)))
            return rc;
    } else if (k == VMM_MIG_DISK_BEGIN) {
        if ((rc = recv_disk_begin(sock, rx, f, err, errlen)))
            return rc;
    } else if (k == VMM_MIG_DISK) {
        if ((rc = recv_disk(sock, rx, f, l, err, errlen)))
            return rc;
    } else if (k == VMM_MIG_ROUND_END) {
        uint8_t r[8];
        if (rd(sock, r, sizeof r)) {
            snprintf(err, errlen, "truncated ROUND_END frame");
            return -EPROTO;
        }
        rx->last_round = rd64(r);
    } else if (l) {
        f->buf = malloc((size_t)l + 1);
        if (!f->buf) {
            snprintf(err, errlen, "out of memory for a %s frame", kind_name(k));
            return -ENOMEM;
        }
        if (rd(sock, f->buf, (size_t)l)) {
            vmm_mig_frame_free(f);
            snprintf(err, errlen, "truncated %s frame (%llu bytes announced)", kind_name(k),
                     (unsigned long long)l);
            return -EPROTO;
        }
        f->buf[l] = 0;
        f->len = (size_t)l;
    }
    rx->hello |= k == VMM_MIG_HELLO;
    rx->state |= k == VMM_MIG_STATE;
    rx->bytes += sizeof h + l;
    return 0;
}

int vmm_mig_hello_parse(const vmm_mig_frame *f, uint64_t *ram_bytes, char *writer,
                        size_t writer_len, const char **config, size_t *config_len, char *err,
                        size_t errlen)
{
    if (f->kind != VMM_MIG_HELLO || f->len < VMM_MIG_HELLO_FIXED) {
        snprintf(err, errlen, "not a HELLO");
        return -EPROTO;
    }
    uint32_t proto = rd32(f->buf);
    if (proto != VMM_MIG_PROTOCOL || rd32(f->buf + 4)) {
        snprintf(err, errlen, "migration protocol %u, this stratus-vmm speaks %d", proto,
                 VMM_MIG_PROTOCOL);
        return -EPROTO;
    }
    *ram_bytes = rd64(f->buf + 8);
    const char *w = (const char *)f->buf + 16;
    size_t wl = strnlen(w, VMM_SNAP_WRITER_MAX);
    if (wl == VMM_SNAP_WRITER_MAX) {
        snprintf(err, errlen, "HELLO: the writer's version is not NUL-terminated");
        return -EPROTO;
    }
    snprintf(writer, writer_len, "%.*s", (int)wl, w);
    *config = (const char *)f->buf + VMM_MIG_HELLO_FIXED;
    *config_len = f->len - VMM_MIG_HELLO_FIXED;
    return 0;
}
