/*
 * vmm_migmsg - a live migration's frames (migmsg.h) over a socketpair, without KVM: HELLO
 * read back (RAM size, writer, config), pages written straight into a fake guest RAM (data
 * and a zero run, the zero run through the caller's zero function), ROUND_END, STATE, ACK and
 * NACK; then every refusal, each with its reason: a bad magic, an unknown kind, flags on a
 * frame that takes none, frames out of order (pages before HELLO, a second HELLO, a frame after
 * STATE, ACK sent to the target, PAGES sent to the source), pages outside guest RAM, straddling
 * its end, unaligned, zero or too many pages, a length that disagrees with the page count, an
 * over-long NACK and HELLO, a truncated payload, a closed peer, and a HELLO of another protocol.
 * Block migration's DISK_BEGIN and DISK read back (data and a zero range), and refused: an index
 * out of range or announced twice, an unknown format, a size of 0, not a multiple of 512 or
 * huge, a backing name with a directory, on a raw disk or unterminated, a DISK before its
 * DISK_BEGIN, beyond the end of the disk (also wrapping), unaligned, empty, over 1 MiB, a
 * length that disagrees with the payload, bad flags, truncated, and DISK_BEGIN to the source.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "migmsg.h"
#include "st_test.h"
#include "tlscert.h"

#define BASE 0x100000ull
#define PAGES 16

static uint8_t g_ram[PAGES * VMM_MIG_PAGE];
static vmm_gmem g_mem = {.r = {{BASE, sizeof g_ram, g_ram}}, .n = 1};

static void pair(int sv[2])
{
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
}

static int g_zeroed;
static void zero_fn(void *opaque, uint8_t *hva, uint64_t len)
{
    (void)opaque;
    memset(hva, 0, len);
    g_zeroed += (int)(len / VMM_MIG_PAGE);
}

static void test_round_trip(void)
{
    int sv[2];
    char err[256], writer[64];
    vmm_mig_rx rx = {.target = 1, .mem = &g_mem}, src = {.target = 0};
    vmm_mig_frame f;
    pair(sv);
    CU_ASSERT_EQUAL(vmm_mig_send_hello(sv[0], 256ull << 20, "{\"vcpus\": 2}"), 0);
    CU_ASSERT_EQUAL_FATAL(vmm_mig_recv(sv[1], &rx, &f, NULL, NULL, err, sizeof err), 0);
    uint64_t ram = 0;
    const char *cfg;
    size_t cfg_len;
    CU_ASSERT_EQUAL(
        vmm_mig_hello_parse(&f, &ram, writer, sizeof writer, &cfg, &cfg_len, err, sizeof err), 0);
    CU_ASSERT_EQUAL(ram, 256ull << 20);
    CU_ASSERT_STRING_EQUAL(writer, vmm_version);
    CU_ASSERT(cfg_len == 12 && !memcmp(cfg, "{\"vcpus\": 2}", 12));
    vmm_mig_frame_free(&f);
    /* two pages of data at page 3, then a zero run over pages 3..6 */
    uint8_t data[2 * VMM_MIG_PAGE];
    memset(data, 0xAB, sizeof data);
    memset(g_ram, 0x11, sizeof g_ram);
    CU_ASSERT_EQUAL(vmm_mig_send_pages(sv[0], BASE + 3 * VMM_MIG_PAGE, 2, data), 0);
    CU_ASSERT_EQUAL(vmm_mig_recv(sv[1], &rx, &f, NULL, NULL, err, sizeof err), 0);
    CU_ASSERT(f.kind == VMM_MIG_PAGES && f.count == 2 && f.gpa == BASE + 3 * VMM_MIG_PAGE);
    CU_ASSERT(!memcmp(g_ram + 3 * VMM_MIG_PAGE, data, sizeof data));
    CU_ASSERT_EQUAL(g_ram[3 * VMM_MIG_PAGE - 1], 0x11); /* the page before is untouched */
    CU_ASSERT_EQUAL(g_ram[5 * VMM_MIG_PAGE], 0x11);     /* and the one after */
    CU_ASSERT_EQUAL(vmm_mig_send_pages(sv[0], BASE + 3 * VMM_MIG_PAGE, 4, NULL), 0);
    CU_ASSERT_EQUAL(vmm_mig_recv(sv[1], &rx, &f, zero_fn, NULL, err, sizeof err), 0);
    CU_ASSERT(f.kind == VMM_MIG_PAGES && (f.flags & VMM_MIG_ZERO) && g_zeroed == 4);
    CU_ASSERT(g_ram[3 * VMM_MIG_PAGE] == 0 && g_ram[7 * VMM_MIG_PAGE - 1] == 0 &&
              g_ram[7 * VMM_MIG_PAGE] == 0x11);
    CU_ASSERT_EQUAL(rx.pages, 6);
    /* ROUND_END, STATE */
    uint8_t r[8] = {7};
    CU_ASSERT_EQUAL(vmm_mig_send(sv[0], VMM_MIG_ROUND_END, 0, r, 8, NULL, 0), 0);
    CU_ASSERT_EQUAL(vmm_mig_recv(sv[1], &rx, &f, NULL, NULL, err, sizeof err), 0);
    CU_ASSERT(f.kind == VMM_MIG_ROUND_END && rx.last_round == 7);
    CU_ASSERT_EQUAL(vmm_mig_send(sv[0], VMM_MIG_STATE, 0, NULL, 0, "vmstate!", 8), 0);
    CU_ASSERT_EQUAL(vmm_mig_recv(sv[1], &rx, &f, NULL, NULL, err, sizeof err), 0);
    CU_ASSERT(f.kind == VMM_MIG_STATE && f.len == 8 && !memcmp(f.buf, "vmstate!", 9));
    vmm_mig_frame_free(&f);
    /* the target's answers */
    CU_ASSERT_EQUAL(vmm_mig_send(sv[1], VMM_MIG_ACK, 0, NULL, 0, NULL, 0), 0);
    CU_ASSERT_EQUAL(vmm_mig_recv(sv[0], &src, &f, NULL, NULL, err, sizeof err), 0);
    CU_ASSERT(f.kind == VMM_MIG_ACK && f.buf == NULL && f.len == 0);
    CU_ASSERT_EQUAL(vmm_mig_send(sv[1], VMM_MIG_NACK, 0, NULL, 0, "no room", 7), 0);
    CU_ASSERT_EQUAL(vmm_mig_recv(sv[0], &src, &f, NULL, NULL, err, sizeof err), 0);
    CU_ASSERT(f.kind == VMM_MIG_NACK && !strcmp((char *)f.buf, "no room"));
    vmm_mig_frame_free(&f);
    close(sv[0]);
    close(sv[1]);
}

/* A raw header, then body bytes. */
static void raw(int s, const char *magic, uint32_t kind, uint32_t flags, uint64_t len,
                const void *body, size_t blen)
{
    uint8_t h[VMM_MIG_HEADER];
    memcpy(h, magic, 8);
    memcpy(h + 8, &kind, 4);
    memcpy(h + 12, &flags, 4);
    memcpy(h + 16, &len, 8);
    CU_ASSERT_FATAL(write(s, h, sizeof h) == (ssize_t)sizeof h);
    if (blen)
        CU_ASSERT_FATAL(write(s, body, blen) == (ssize_t)blen);
}

/* A PAGES frame's sub-header. */
static void pages_sub(uint8_t sub[16], uint64_t gpa, uint32_t count)
{
    memset(sub, 0, 16);
    memcpy(sub, &gpa, 8);
    memcpy(sub + 8, &count, 4);
}

/* The receiver (a target past HELLO unless fresh, or the source) refuses with err holding
 * want. */
static void expect_refusal(int fresh, int target, void (*send)(int), const char *want)
{
    int sv[2];
    char err[256] = "";
    vmm_mig_rx rx = {.target = target, .hello = target && !fresh, .mem = &g_mem};
    vmm_mig_frame f;
    pair(sv);
    send(sv[0]);
    shutdown(sv[0], SHUT_WR);
    int rc, frames = 0; /* the frames before the hostile one are taken */
    while ((rc = vmm_mig_recv(sv[1], &rx, &f, NULL, NULL, err, sizeof err)) == 0 && frames++ < 4)
        vmm_mig_frame_free(&f);
    CU_ASSERT(rc < 0);
    CU_ASSERT(f.buf == NULL);
    if (!strstr(err, want))
        fprintf(stderr, "want '%s' in '%s'\n", want, err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    close(sv[0]);
    close(sv[1]);
}

static void s_magic(int s)
{
    raw(s, "STVMMUPG", VMM_MIG_ROUND_END, 0, 8, "12345678", 8);
}
static void s_kind(int s)
{
    raw(s, VMM_MIG_MAGIC, 99, 0, 0, NULL, 0);
}
static void s_flags(int s)
{
    raw(s, VMM_MIG_MAGIC, VMM_MIG_ROUND_END, 1, 8, "12345678", 8);
}
static void s_pages_flag(int s)
{
    raw(s, VMM_MIG_MAGIC, VMM_MIG_PAGES, 2, 16, NULL, 0);
}
static void s_hello(int s)
{
    vmm_mig_send_hello(s, 1 << 20, "{}");
}
static void s_ack(int s)
{
    vmm_mig_send(s, VMM_MIG_ACK, 0, NULL, 0, NULL, 0);
}
static void s_zero_at(int s, uint64_t gpa, uint32_t n)
{
    uint8_t sub[16];
    pages_sub(sub, gpa, n);
    raw(s, VMM_MIG_MAGIC, VMM_MIG_PAGES, VMM_MIG_ZERO, 16, sub, 16);
}
static void s_outside(int s)
{
    s_zero_at(s, BASE + PAGES * VMM_MIG_PAGE, 1);
}
static void s_below(int s)
{
    s_zero_at(s, BASE - VMM_MIG_PAGE, 1);
}
static void s_straddle(int s)
{
    s_zero_at(s, BASE + (PAGES - 1) * VMM_MIG_PAGE, 2);
}
static void s_unaligned(int s)
{
    s_zero_at(s, BASE + 8, 1);
}
static void s_count0(int s)
{
    s_zero_at(s, BASE, 0);
}
static void s_count_max(int s)
{
    s_zero_at(s, BASE, VMM_MIG_MAX_PAGES + 1);
}
static void s_wrap(int s)
{
    s_zero_at(s, ~0ull & ~(uint64_t)(VMM_MIG_PAGE - 1), 2);
}
static void s_len_mismatch(int s)
{
    uint8_t sub[16];
    pages_sub(sub, BASE, 2); /* two pages announced, one page of data */
    raw(s, VMM_MIG_MAGIC, VMM_MIG_PAGES, 0, 16 + VMM_MIG_PAGE, sub, 16);
}
static void s_pages_huge(int s)
{
    raw(s, VMM_MIG_MAGIC, VMM_MIG_PAGES, 0, 1ull << 40, NULL, 0);
}
static void s_truncated(int s)
{
    uint8_t sub[16], page[100] = {0};
    pages_sub(sub, BASE, 1);
    raw(s, VMM_MIG_MAGIC, VMM_MIG_PAGES, 0, 16 + VMM_MIG_PAGE, sub, 16);
    CU_ASSERT(write(s, page, sizeof page) == (ssize_t)sizeof page);
}
static void s_state_trunc(int s)
{
    raw(s, VMM_MIG_MAGIC, VMM_MIG_STATE, 0, 100, "abc", 3);
}
static void s_state_empty(int s)
{
    raw(s, VMM_MIG_MAGIC, VMM_MIG_STATE, 0, 0, NULL, 0);
}
static void s_nack_long(int s)
{
    raw(s, VMM_MIG_MAGIC, VMM_MIG_NACK, 0, VMM_MIG_MSG_MAX + 1, NULL, 0);
}
static void s_round_len(int s)
{
    raw(s, VMM_MIG_MAGIC, VMM_MIG_ROUND_END, 0, 9, "123456789", 9);
}
static void s_hello_short(int s)
{
    raw(s, VMM_MIG_MAGIC, VMM_MIG_HELLO, 0, 10, "0123456789", 10);
}
static void s_nothing(int s)
{
    (void)s;
}
static void s_half_header(int s)
{
    CU_ASSERT(write(s, "STVMMMIG\1\0", 10) == 10);
}

/* Block migration's frames. */
static void s_disk_begin_at(int s, uint32_t disk, uint32_t fmt, uint64_t size, const char *back)
{
    uint8_t p[VMM_MIG_DISK_BEGIN_LEN] = {0};
    memcpy(p, &disk, 4);
    memcpy(p + 4, &fmt, 4);
    memcpy(p + 8, &size, 8);
    memcpy(p + 16, back, strlen(back) < 256 ? strlen(back) : 256);
    raw(s, VMM_MIG_MAGIC, VMM_MIG_DISK_BEGIN, 0, sizeof p, p, sizeof p);
}
static void s_disk_index(int s)
{
    s_disk_begin_at(s, VMM_MIG_DISKS, VMM_MIG_DISK_RAW, 1 << 20, "");
}
static void s_disk_format(int s)
{
    s_disk_begin_at(s, 0, 3, 1 << 20, "");
}
static void s_disk_size0(int s)
{
    s_disk_begin_at(s, 0, VMM_MIG_DISK_RAW, 0, "");
}
static void s_disk_size_odd(int s)
{
    s_disk_begin_at(s, 0, VMM_MIG_DISK_RAW, 1000, "");
}
static void s_disk_size_huge(int s)
{
    s_disk_begin_at(s, 0, VMM_MIG_DISK_RAW, VMM_MIG_DISK_SIZE_MAX + 512, "");
}
static void s_disk_backing_path(int s)
{
    s_disk_begin_at(s, 0, VMM_MIG_DISK_QCOW2, 1 << 20, "../../etc/base");
}
static void s_disk_backing_raw(int s)
{
    s_disk_begin_at(s, 0, VMM_MIG_DISK_RAW, 1 << 20, "base.raw");
}
static void s_disk_backing_unterminated(int s)
{
    char b[300];
    memset(b, 'a', sizeof b - 1);
    b[sizeof b - 1] = 0;
    s_disk_begin_at(s, 0, VMM_MIG_DISK_QCOW2, 1 << 20, b);
}
static void s_disk_twice(int s)
{
    vmm_mig_send_disk_begin(s, 2, VMM_MIG_DISK_RAW, 1 << 20, NULL);
    vmm_mig_send_disk_begin(s, 2, VMM_MIG_DISK_RAW, 1 << 20, NULL);
}
static void s_disk_begin_len(int s)
{
    raw(s, VMM_MIG_MAGIC, VMM_MIG_DISK_BEGIN, 0, 16, "0123456789abcdef", 16);
}
static void s_disk_no_begin(int s)
{
    vmm_mig_send_disk(s, 0, 0, 512, NULL);
}
/* A DISK frame on disk 0 (announced as 1 MiB first) at off of len bytes, flags, announcing
 * total bytes and sending the sub-header only. */
static void s_disk_at(int s, uint64_t off, uint64_t len, uint32_t flags, uint64_t total)
{
    uint8_t sub[VMM_MIG_DISK_SUB] = {0};
    vmm_mig_send_disk_begin(s, 0, VMM_MIG_DISK_RAW, 1 << 20, NULL);
    memcpy(sub + 8, &off, 8);
    memcpy(sub + 16, &len, 8);
    raw(s, VMM_MIG_MAGIC, VMM_MIG_DISK, flags, total, sub, sizeof sub);
}
static void s_disk_beyond(int s)
{
    s_disk_at(s, (1 << 20) - 512, 1024, VMM_MIG_ZERO, VMM_MIG_DISK_SUB);
}
static void s_disk_wrap(int s)
{
    s_disk_at(s, ~0ull & ~511ull, 1024, VMM_MIG_ZERO, VMM_MIG_DISK_SUB);
}
static void s_disk_unaligned(int s)
{
    s_disk_at(s, 100, 512, VMM_MIG_ZERO, VMM_MIG_DISK_SUB);
}
static void s_disk_len0(int s)
{
    s_disk_at(s, 0, 0, VMM_MIG_ZERO, VMM_MIG_DISK_SUB);
}
static void s_disk_too_long(int s)
{
    s_disk_at(s, 0, VMM_MIG_DISK_MAX + 512, VMM_MIG_ZERO, VMM_MIG_DISK_SUB);
}
static void s_disk_len_mismatch(int s)
{
    s_disk_at(s, 0, 1024, 0, VMM_MIG_DISK_SUB + 512);
}
static void s_disk_flags(int s)
{
    s_disk_at(s, 0, 512, 2, VMM_MIG_DISK_SUB);
}
static void s_disk_truncated(int s)
{
    s_disk_at(s, 0, 1024, 0, VMM_MIG_DISK_SUB + 1024);
    CU_ASSERT(write(s, "abc", 3) == 3);
}
static void s_disk_to_source(int s)
{
    vmm_mig_send_disk_begin(s, 0, VMM_MIG_DISK_RAW, 1 << 20, NULL);
}

static void test_disk_frames(void)
{
    int sv[2];
    char err[256];
    uint8_t data[2048];
    vmm_mig_rx rx = {.target = 1, .hello = 1, .mem = &g_mem};
    vmm_mig_frame f;
    pair(sv);
    memset(data, 0x5a, sizeof data);
    CU_ASSERT_EQUAL(vmm_mig_send_disk_begin(sv[0], 1, VMM_MIG_DISK_QCOW2, 8 << 20, "base.qcow2"),
                    0);
    CU_ASSERT_EQUAL(vmm_mig_send_disk(sv[0], 1, (8 << 20) - 2048, 2048, data), 0);
    CU_ASSERT_EQUAL(vmm_mig_send_disk(sv[0], 1, 4096, VMM_MIG_DISK_MAX, NULL), 0);
    CU_ASSERT_EQUAL(vmm_mig_recv(sv[1], &rx, &f, NULL, NULL, err, sizeof err), 0);
    CU_ASSERT(f.kind == VMM_MIG_DISK_BEGIN && f.disk == 1 && f.format == VMM_MIG_DISK_QCOW2 &&
              f.size == 8 << 20 && !strcmp(f.backing, "base.qcow2") && !f.buf);
    CU_ASSERT_EQUAL(rx.disk_size[1], 8 << 20);
    CU_ASSERT_EQUAL(vmm_mig_recv(sv[1], &rx, &f, NULL, NULL, err, sizeof err), 0);
    CU_ASSERT(f.kind == VMM_MIG_DISK && f.disk == 1 && f.off == (8 << 20) - 2048 &&
              f.size == 2048 && f.len == 2048 && f.buf && !memcmp(f.buf, data, 2048));
    vmm_mig_frame_free(&f);
    CU_ASSERT_EQUAL(vmm_mig_recv(sv[1], &rx, &f, NULL, NULL, err, sizeof err), 0);
    CU_ASSERT(f.kind == VMM_MIG_DISK && f.flags == VMM_MIG_ZERO && f.off == 4096 &&
              f.size == VMM_MIG_DISK_MAX && !f.buf && !f.len);
    CU_ASSERT_EQUAL(rx.disk_bytes, 2048 + VMM_MIG_DISK_MAX);
    close(sv[0]);
    close(sv[1]);
    expect_refusal(0, 1, s_disk_index, "DISK_BEGIN for disk 8: no such index");
    expect_refusal(0, 1, s_disk_format, "format 3");
    expect_refusal(0, 1, s_disk_size0, "size 0");
    expect_refusal(0, 1, s_disk_size_odd, "size 1000");
    expect_refusal(0, 1, s_disk_size_huge, "or backing name bad");
    expect_refusal(0, 1, s_disk_backing_path, "or backing name bad");
    expect_refusal(0, 1, s_disk_backing_raw, "or backing name bad");
    expect_refusal(0, 1, s_disk_backing_unterminated, "or backing name bad");
    expect_refusal(0, 1, s_disk_twice, "DISK_BEGIN for disk 2: announced twice");
    expect_refusal(0, 1, s_disk_begin_len, "DISK_BEGIN frame of 16 bytes");
    expect_refusal(1, 1, s_disk_begin_len, "HELLO must come first");
    expect_refusal(0, 0, s_disk_to_source, "the target sends only ACK or NACK");
    expect_refusal(0, 1, s_disk_no_begin, "no DISK_BEGIN for it");
    expect_refusal(0, 1, s_disk_beyond, "beyond the end of the disk");
    expect_refusal(0, 1, s_disk_wrap, "beyond the end of the disk");
    expect_refusal(0, 1, s_disk_unaligned, "not aligned");
    expect_refusal(0, 1, s_disk_len0, "(0 bytes)");
    expect_refusal(0, 1, s_disk_too_long, "too long");
    expect_refusal(0, 1, s_disk_len_mismatch, "at 0 (1024 bytes)");
    expect_refusal(0, 1, s_disk_flags, "DISK frame with flags 0x2");
    expect_refusal(0, 1, s_disk_truncated, "truncated DISK frame");
}

static void test_refusals(void)
{
    expect_refusal(0, 1, s_magic, "bad magic");
    expect_refusal(0, 1, s_kind, "unknown frame kind 99");
    expect_refusal(0, 1, s_flags, "ROUND_END frame with flags 0x1");
    expect_refusal(0, 1, s_pages_flag, "PAGES frame with flags 0x2");
    expect_refusal(1, 1, s_outside, "HELLO must come first");
    expect_refusal(0, 1, s_hello, "a second HELLO");
    expect_refusal(0, 1, s_ack, "the source sends no ACK");
    expect_refusal(0, 0, s_outside, "the target sends only ACK or NACK");
    expect_refusal(0, 1, s_outside, "not aligned guest RAM");
    expect_refusal(0, 1, s_below, "not aligned guest RAM");
    expect_refusal(0, 1, s_straddle, "not aligned guest RAM");
    expect_refusal(0, 1, s_unaligned, "not aligned guest RAM");
    expect_refusal(0, 1, s_wrap, "not aligned guest RAM");
    expect_refusal(0, 1, s_count0, "PAGES frame of 0 pages");
    expect_refusal(0, 1, s_count_max, "PAGES frame of 257 pages");
    expect_refusal(0, 1, s_len_mismatch, "PAGES frame of 2 pages in 4112 bytes");
    expect_refusal(0, 1, s_pages_huge, "PAGES frame of 1099511627776 bytes");
    expect_refusal(0, 1, s_truncated, "truncated PAGES frame");
    expect_refusal(0, 1, s_state_trunc, "truncated STATE frame");
    expect_refusal(0, 1, s_state_empty, "STATE frame of 0 bytes");
    expect_refusal(0, 0, s_nack_long, "NACK frame of 4097 bytes");
    expect_refusal(0, 1, s_round_len, "ROUND_END frame of 9 bytes");
    expect_refusal(1, 1, s_hello_short, "HELLO frame of 10 bytes");
    expect_refusal(0, 1, s_nothing, "connection closed");
    expect_refusal(0, 1, s_half_header, "connection closed");
}

static void test_after_state(void)
{
    int sv[2];
    char err[256];
    vmm_mig_rx rx = {.target = 1, .hello = 1, .mem = &g_mem};
    vmm_mig_frame f;
    pair(sv);
    CU_ASSERT_EQUAL(vmm_mig_send(sv[0], VMM_MIG_STATE, 0, NULL, 0, "s", 1), 0);
    CU_ASSERT_EQUAL(vmm_mig_recv(sv[1], &rx, &f, NULL, NULL, err, sizeof err), 0);
    vmm_mig_frame_free(&f);
    CU_ASSERT_EQUAL(vmm_mig_send_pages(sv[0], BASE, 1, NULL), 0);
    CU_ASSERT(vmm_mig_recv(sv[1], &rx, &f, NULL, NULL, err, sizeof err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "a frame after STATE"));
    close(sv[0]);
    close(sv[1]);
}

static void test_hello_protocol(void)
{
    char err[256], writer[64];
    uint8_t buf[VMM_MIG_HELLO_FIXED + 2] = {2};
    vmm_mig_frame f = {.kind = VMM_MIG_HELLO, .buf = buf, .len = sizeof buf};
    uint64_t ram;
    const char *cfg;
    size_t cl;
    CU_ASSERT(vmm_mig_hello_parse(&f, &ram, writer, sizeof writer, &cfg, &cl, err, sizeof err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "migration protocol 2"));
    buf[0] = 1;
    memset(buf + 16, 'x', VMM_SNAP_WRITER_MAX); /* no NUL in the writer */
    CU_ASSERT(vmm_mig_hello_parse(&f, &ram, writer, sizeof writer, &cfg, &cl, err, sizeof err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not NUL-terminated"));
}

static char g_tls_dir[] = "/tmp/vmm_migmsg_tls.XXXXXX";

typedef struct tls_side {
    int fd, rc;
    const char *ca; /* the CA file this side trusts */
    char err[256];
    vmm_mig_frame f;
} tls_side;

/* dir/NAME.EXT into buf. */
static const char *tls_path(char *buf, const char *name, const char *ext)
{
    snprintf(buf, 512, "%s/%s.%s", g_tls_dir, name, ext);
    return buf;
}

/* The target: handshake as the server with cert "a", then HELLO and one page. */
static void *tls_target(void *arg)
{
    tls_side *t = arg;
    char cert[512], key[512];
    void *ctx = vmm_mig_tls_ctx(1, t->ca, tls_path(cert, "a", "pem"), tls_path(key, "a", "key"),
                                t->err, sizeof t->err);
    void *ssl = ctx ? vmm_mig_tls_handshake(ctx, t->fd, 1, t->err, sizeof t->err) : NULL;
    t->rc = -1;
    if (ssl) {
        vmm_mig_rx rx = {.target = 1, .mem = &g_mem};
        t->rc = vmm_mig_recv(t->fd, &rx, &t->f, NULL, NULL, t->err, sizeof t->err);
        vmm_mig_frame_free(&t->f);
        if (!t->rc)
            t->rc = vmm_mig_recv(t->fd, &rx, &t->f, NULL, NULL, t->err, sizeof t->err);
        if (!t->rc)
            t->rc = vmm_mig_send(t->fd, VMM_MIG_ACK, 0, NULL, 0, NULL, 0);
    }
    shutdown(t->fd, SHUT_RDWR);
    vmm_mig_tls_end(t->fd, ssl, ctx);
    return NULL;
}

/* The source: client with cert "b" (or "c", which the target does not trust), trusting ca. */
static int tls_source(int fd, const char *name, const char *ca, char *err, size_t errlen)
{
    char cert[512], key[512];
    void *ctx = vmm_mig_tls_ctx(0, ca, tls_path(cert, name, "pem"), tls_path(key, name, "key"), err,
                                errlen);
    void *ssl = ctx ? vmm_mig_tls_handshake(ctx, fd, 0, err, errlen) : NULL;
    int rc = -1;
    if (ssl) {
        uint8_t page[VMM_MIG_PAGE];
        memset(page, 0x5A, sizeof page);
        vmm_mig_rx rx = {.target = 0};
        vmm_mig_frame f = {0}; /* freed below even when a send fails before any receive */
        rc = vmm_mig_send_hello(fd, 1 << 20, "{}");
        if (!rc)
            rc = vmm_mig_send_pages(fd, BASE + VMM_MIG_PAGE, 1, page);
        if (!rc)
            rc = vmm_mig_recv(fd, &rx, &f, NULL, NULL, err, errlen);
        if (!rc && f.kind != VMM_MIG_ACK)
            rc = -1;
        vmm_mig_frame_free(&f);
    }
    vmm_mig_tls_end(fd, ssl, ctx);
    return rc;
}

/* Frames through TLS, both ends proving themselves: the page arrives; a source whose
 * certificate the target's CA did not sign, or that does not trust the target's, fails the
 * handshake with a reason; a CA file that does not exist is refused. */
static void test_tls(void)
{
    char err[256];
    CU_ASSERT_FATAL(mkdtemp(g_tls_dir) != NULL);
    make_cert(g_tls_dir, "a");
    make_cert(g_tls_dir, "b");
    make_cert(g_tls_dir, "c");
    /* The target trusts b; the source trusts a. */
    for (int round = 0; round < 3; round++) {
        int sv[2];
        pthread_t th;
        pair(sv);
        char tca[512], sca[512];
        tls_side t = {.fd = sv[1], .ca = tls_path(tca, "b", "pem")};
        memset(g_ram, 0, sizeof g_ram);
        CU_ASSERT_FATAL(pthread_create(&th, NULL, tls_target, &t) == 0);
        const char *me = round == 1 ? "c" : "b", *trust = round == 2 ? "c" : "a";
        int rc = tls_source(sv[0], me, tls_path(sca, trust, "pem"), err, sizeof err);
        shutdown(sv[0], SHUT_RDWR);
        pthread_join(th, NULL);
        if (rc || t.rc)
            fprintf(stderr, "round %d: source %d '%s', target %d '%s'\n", round, rc, err, t.rc,
                    t.err);
        if (round == 0) {
            CU_ASSERT_EQUAL(rc, 0);
            CU_ASSERT_EQUAL(t.rc, 0);
            CU_ASSERT(g_ram[VMM_MIG_PAGE] == 0x5A && g_ram[2 * VMM_MIG_PAGE - 1] == 0x5A);
        } else {
            CU_ASSERT(rc != 0 && t.rc != 0);
            CU_ASSERT(g_ram[VMM_MIG_PAGE] == 0); /* nothing reached guest RAM */
            CU_ASSERT_PTR_NOT_NULL(strstr(round == 1 ? t.err : err, "TLS handshake"));
        }
        close(sv[0]);
        close(sv[1]);
    }
    char c[512], k[512];
    CU_ASSERT_PTR_NULL(vmm_mig_tls_ctx(0, "/nonexistent/ca.pem", tls_path(c, "a", "pem"),
                                       tls_path(k, "a", "key"), err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/ca.pem"));
}

static CU_TestInfo tests[] = {
    {"frames through mutual TLS; an untrusted peer fails the handshake", test_tls},
    {"HELLO, pages, round end, state, ack, nack", test_round_trip},
    {"hostile frames refused with their reason", test_refusals},
    {"block migration's disk frames, and hostile ones refused", test_disk_frames},
    {"no frame after STATE", test_after_state},
    {"HELLO of another protocol or a bad writer", test_hello_protocol},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"migmsg", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a TLS peer that gave up: EPIPE, as in stratus-vmm */
    return st_test_main(argc, argv, suites);
}
