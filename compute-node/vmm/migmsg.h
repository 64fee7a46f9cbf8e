/*
 * migmsg.h - the frames of a live migration over TCP, between two stratus-vmm processes.
 *
 * A frame, little-endian:
 *   char magic[8]   "STVMMMIG"
 *   u32 kind        VMM_MIG_HELLO .. VMM_MIG_NACK
 *   u32 flags       PAGES: VMM_MIG_ZERO (the pages are all zeros, no data follows); else 0
 *   u64 length      payload bytes that follow the header
 *   payload:
 *     HELLO      u32 protocol (VMM_MIG_PROTOCOL), u32 0, u64 guest RAM bytes,
 *                char writer[48] (the source's version, NUL-padded), the source's config JSON
 *     PAGES      u64 gpa (4 KiB-aligned), u32 count (1..VMM_MIG_MAX_PAGES), u32 0, then
 *                count x 4 KiB of data unless the frame is VMM_MIG_ZERO
 *     ROUND_END  u64 round
 *     STATE      a vmstate (snapfile.h): what vmm_snapshot_state writes
 *     ACK        none
 *     NACK       an error message (at most VMM_MIG_MSG_MAX bytes)
 *     DISK_BEGIN (block migration) u32 disk (its index in the config, < VMM_MIG_DISKS),
 *                u32 format (VMM_MIG_DISK_RAW or _QCOW2), u64 virtual size (a multiple of
 *                512, > 0), char backing[256] (a qcow2 overlay's backing file's name without
 *                its directory, NUL-padded; all NUL for raw or none)
 *     DISK       flags: VMM_MIG_ZERO (the range reads as zeros, no data follows); u32 disk,
 *                u32 0, u64 offset, u64 length (both multiples of 512, 1..VMM_MIG_DISK_MAX
 *                bytes, inside the disk DISK_BEGIN announced), then length bytes of data
 *
 * The source sends HELLO, then PAGES and ROUND_END in any number (with block migration also
 * one DISK_BEGIN per copied disk, each before that disk's DISK frames), then STATE; the target
 * answers ACK or NACK once, after STATE (or NACK at any time it refuses). Every frame is
 * hostile input for its receiver: the magic, a known kind in a valid order (vmm_mig_rx keeps
 * the order), the flags, the length (exact for PAGES and ROUND_END, bounded for the rest),
 * and a page run wholly inside guest RAM (vmm_gmem_ptr: overflow-safe) are checked before a
 * byte of the payload is taken; a page run is read straight into guest RAM. No KVM
 * dependency: the unit test and the fuzzer run it over a socketpair and a plain buffer.
 */
#ifndef VMM_MIGMSG_H
#define VMM_MIGMSG_H

#include <stddef.h>
#include <stdint.h>

#include "gmem.h"
#include "snapfile.h"

#define VMM_MIG_MAGIC "STVMMMIG"
#define VMM_MIG_HEADER 24
#define VMM_MIG_PROTOCOL 1
#define VMM_MIG_PAGE 4096u
#define VMM_MIG_MAX_PAGES 256u /* 1 MiB of data per frame */
/* The target's receive buffer (SO_RCVBUF on its listening socket, so the window scale fits):
 * what its kernel acknowledged and its receiver has not read yet, which the source cannot see
 * (its SIOCOUTQ counts only what is not acknowledged) and which still has to be read once the
 * guest is paused. Left to autotuning it grew to ~6 MiB: 40-130 ms of the downtime at the
 * ~100 MiB/s this host's target writes guest RAM. 1 MiB still fills a 10 Gbit/s link at
 * 0.8 ms of round-trip time. */
#define VMM_MIG_RCVBUF (1 << 20)
#define VMM_MIG_HELLO_FIXED 64 /* protocol, 0, RAM bytes, writer */
#define VMM_MIG_MSG_MAX 4096u
#define VMM_MIG_STATE_MAX ((size_t)VMM_SNAP_DEVICES_MAX + (8u << 20))
#define VMM_MIG_ZERO 1u
#define VMM_MIG_DISKS 8                    /* disk indexes 0..7 (config.h's VMM_MAX_DISKS) */
#define VMM_MIG_DISK_MAX (1u << 20)        /* data bytes in one DISK frame */
#define VMM_MIG_DISK_BEGIN_LEN (16 + 256)  /* DISK_BEGIN's payload */
#define VMM_MIG_DISK_SUB 24                /* DISK's sub-header */
#define VMM_MIG_DISK_SIZE_MAX (1ull << 50) /* 1 PiB: what a virtual size may be */
enum { VMM_MIG_DISK_RAW = 1, VMM_MIG_DISK_QCOW2 = 2 };

enum {
    VMM_MIG_HELLO = 1,
    VMM_MIG_PAGES,
    VMM_MIG_ROUND_END,
    VMM_MIG_STATE,
    VMM_MIG_ACK,
    VMM_MIG_NACK,
    VMM_MIG_DISK_BEGIN,
    VMM_MIG_DISK,
};

/* What one side of a connection has seen, so that frames come in a valid order. */
typedef struct vmm_mig_rx {
    int target;          /* 1: receives the source's frames; 0: the source (ACK / NACK only) */
    int hello, state;    /* seen */
    const vmm_gmem *mem; /* guest RAM the pages go to (target; NULL before HELLO) */
    uint64_t pages;      /* pages received (zero ones included) */
    uint64_t bytes;      /* bytes received, headers included */
    uint64_t last_round; /* ROUND_END's */
    uint64_t disk_size[VMM_MIG_DISKS]; /* DISK_BEGIN's (0: none yet) */
    uint64_t disk_bytes;               /* DISK frames' ranges received (zero ones included) */
} vmm_mig_rx;

typedef struct vmm_mig_frame {
    uint32_t kind, flags;
    uint8_t *buf; /* HELLO, STATE, NACK: the payload, malloc'd, NUL-terminated beyond len */
    size_t len;
    uint64_t gpa;   /* PAGES */
    uint32_t count; /* PAGES */
    /* DISK_BEGIN: disk, format, size, backing (NUL-terminated); DISK: disk, off, size (the
     * range's bytes), and its data in buf (len == size) unless VMM_MIG_ZERO */
    uint32_t disk, format;
    uint64_t size, off;
    char backing[256];
} vmm_mig_frame;

/* Sends one frame with a payload of hdr (hlen bytes) then buf (len bytes); 0 or a negative
 * errno. */
int vmm_mig_send(int sock, uint32_t kind, uint32_t flags, const void *hdr, size_t hlen,
                 const void *buf, size_t len);
/* HELLO: the source's config text and guest RAM size. */
int vmm_mig_send_hello(int sock, uint64_t ram_bytes, const char *config);
/* PAGES: count pages at gpa, their bytes at data, or all-zero pages (data NULL). */
int vmm_mig_send_pages(int sock, uint64_t gpa, uint32_t count, const void *data);
/* DISK_BEGIN: disk index, format, virtual size, backing file name ("" for none). */
int vmm_mig_send_disk_begin(int sock, uint32_t disk, uint32_t format, uint64_t size,
                            const char *backing);
/* DISK: len bytes at off of a disk, data NULL for a range of zeros. */
int vmm_mig_send_disk(int sock, uint32_t disk, uint64_t off, uint64_t len, const void *data);
/* Receives one frame in rx's order. PAGES are written into rx->mem (or zeroed there; the
 * zeroing is zero_fn's when given, e.g. a hole punched into a memfd, which reads as zeros
 * without allocating). 0 with *f filled (vmm_mig_frame_free releases it), or a negative errno
 * with err filled and nothing kept (-EPIPE: the peer closed). */
typedef void (*vmm_mig_zero_fn)(void *opaque, uint8_t *hva, uint64_t len);
int vmm_mig_recv(int sock, vmm_mig_rx *rx, vmm_mig_frame *f, vmm_mig_zero_fn zero, void *opaque,
                 char *err, size_t errlen);
void vmm_mig_frame_free(vmm_mig_frame *f);
/* HELLO's payload read back: 0, or -EPROTO with err filled. */
int vmm_mig_hello_parse(const vmm_mig_frame *f, uint64_t *ram_bytes, char *writer,
                        size_t writer_len, const char **config, size_t *config_len, char *err,
                        size_t errlen);

/* TLS (optional; OpenSSL, TLS 1.2 at least, both ends with a certificate that chains to the
 * other's CA file): a context from PEM files (NULL with err filled); a handshake on fd, after
 * which every frame on fd goes through the session (the session, or NULL with err filled);
 * the end of both (either may be NULL). */
void *vmm_mig_tls_ctx(int server, const char *ca, const char *cert, const char *key, char *err,
                      size_t errlen);
void *vmm_mig_tls_handshake(void *ctx, int fd, int server, char *err, size_t errlen);
void vmm_mig_tls_end(int fd, void *ssl, void *ctx);
/* Frames on fd go through ssl (NULL: plain again). */
void vmm_mig_tls_attach(int fd, void *ssl);

#endif
