/*
 * mirror.c - block migration: the VM's local disks copied along with its memory (see mirror.h).
 *
 * Source. PUT /vm/migrate with "block_migration": true. Every writable disk that is not on
 * Ceph RBD (RBD images are shared: the target opens the same image) is copied: its writes
 * (virtio-blk's writes and discards, through disk.c) set bits in a bitmap of 64 KiB pieces
 * (a qcow2 cluster) while the migration runs; a DISK_BEGIN tells the target the disk's index,
 * format, size and a qcow2 overlay's backing file's name (both hosts have the base image: only
 * the overlay moves). The first pass queues what the image itself holds
 * (st_disk_block_status: an overlay's clusters, a raw file's data extents); each round sends
 * what is queued, 1 MiB a frame at most, all-zero ranges as a flag (a raw disk's first pass
 * skips them: the target's raw disk is empty), then ORs the pieces written meanwhile into the
 * queue; the bytes queued count with the dirty pages when migrate.c decides the final round.
 * In the final round (event thread, vCPUs parked) the last queued pieces go before the disks
 * are released, so the target has every write the guest saw completed.
 *
 * The disk library serves one caller at a time and the event thread does the guest's I/O, so
 * the worker never reads a disk itself: each read (and the first pass's block status) runs on
 * the event thread, 1 MiB at a time, between guest requests. A write marks its pieces before
 * it is done, on that same thread, so a read either sees the write or the piece is queued
 * again for the next round.
 *
 * Target. The config it was started with names its own disk files. A DISK_BEGIN is refused
 * (NACK, exit 2) unless the disk is in the config, writable, local, of the same format and
 * size, for qcow2 an overlay of a backing file of the same name, and fresh (the image holds
 * nothing: block status says so for the whole disk), so the guest's data never lands on
 * another disk. DISK frames are written through the disk library (write_zeroes for zero
 * ranges, which in a qcow2 overlay hides the backing file's bytes as the source's zero
 * cluster did); when STATE comes every disk is flushed and closed before the VM opens it. On
 * any refusal the disks are closed and the process exits 2: whoever started it removes the
 * partial disk.
 */
#include "mirror.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices.h"
#include "disk.h"
#include "snapshot.h"
#include "stratus/log.h"

#ifdef STRATUS_HAVE_DISK
#include "stratus/disk.h"
#endif

#define GRAIN VMM_DISK_GRAIN
#define RUN_GRAINS (VMM_MIG_DISK_MAX / VMM_DISK_GRAIN) /* pieces in one DISK frame */
#define STATUS_STEP (1ull << 30) /* the first pass's block status: 1 GiB an event-thread call */

typedef struct mdisk {
    int idx; /* in the config, and on the wire */
    vmm_virtio *dev;
    uint64_t size, words;
    uint64_t *marks; /* the disk's bitmap (disk.c sets bits); kept for the process's life */
    uint64_t *todo;  /* pieces to send */
    int raw, first;  /* first: the first pass runs (a raw disk skips zero ranges) */
} mdisk;

static struct {
    pthread_mutex_t lock; /* the figures and the event-thread call */
    pthread_cond_t cond;
    int n;
    mdisk d[VMM_MAX_DISKS];
    uint64_t total, sent, remaining;
    int (*stop)(int final);
    /* One call on the event thread at a time (the worker's), numbered so that a late one from
     * a migration that gave up meanwhile is not taken for the next one's. */
    uint64_t call_gen, done_gen;
    int call_rc;
    int (*call_fn)(vmm_vm *vm, void *arg);
    void *call_arg;
#ifdef STRATUS_HAVE_DISK
    st_disk *in[VMM_MIG_DISKS]; /* target: the disks being received */
#endif
} m = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static uint8_t g_buf[VMM_MIG_DISK_MAX]; /* a range read for a DISK frame */

static uint64_t pending_bytes(void)
{
    uint64_t n = 0;
    for (int i = 0; i < m.n; i++)
        for (uint64_t w = 0; w < m.d[i].words; w++)
            n += (uint64_t)__builtin_popcountll(m.d[i].todo[w]);
    return n * GRAIN;
}

static void set_remaining(uint64_t sent)
{
    uint64_t r = pending_bytes();
    pthread_mutex_lock(&m.lock);
    m.sent += sent;
    m.remaining = r;
    pthread_mutex_unlock(&m.lock);
}

/* ---- calls on the event thread --------------------------------------------------------- */

static void call_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    uint64_t gen = (uint64_t)(uintptr_t)arg;
    pthread_mutex_lock(&m.lock);
    int (*fn)(vmm_vm *, void *) = gen == m.call_gen ? m.call_fn : NULL;
    void *a = m.call_arg;
    pthread_mutex_unlock(&m.lock);
    if (!fn)
        return; /* its caller gave up */
    int rc = fn(NULL, a);
    pthread_mutex_lock(&m.lock);
    if (gen == m.call_gen) {
        m.call_rc = rc;
        m.done_gen = gen;
    }
    pthread_cond_broadcast(&m.cond);
    pthread_mutex_unlock(&m.lock);
}

/* fn(arg) on the event thread, waited for; its result, or -ECANCELED when the process stops
 * meanwhile. */
static int on_event_thread(vmm_vm *vm, int (*fn)(vmm_vm *, void *), void *arg)
{
    pthread_mutex_lock(&m.lock);
    uint64_t gen = ++m.call_gen;
    m.call_fn = fn;
    m.call_arg = arg;
    pthread_mutex_unlock(&m.lock);
    if (event_base_once(vm->base, -1, EV_TIMEOUT, call_cb, (void *)(uintptr_t)gen, NULL) < 0)
        return -EIO;
    int rc = -ECANCELED, stop = 0;
    pthread_mutex_lock(&m.lock);
    while (m.done_gen != gen && !stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&m.cond, &m.lock, &ts);
        pthread_mutex_unlock(&m.lock); /* stop() takes migrate.c's lock, never under this one */
        stop = m.stop(1);
        pthread_mutex_lock(&m.lock);
    }
    if (m.done_gen == gen)
        rc = m.call_rc;
    else
        m.call_gen++; /* a late call finds another number and does nothing */
    pthread_mutex_unlock(&m.lock);
    return rc;
}

typedef struct range {
    mdisk *d;
    uint64_t off, len;
} range;

static vmm_disk *disk_of(const mdisk *d)
{
    const vmm_disk_cfg *cfg;
    return vmm_blk_disk(d->dev, &cfg);
}

/* Event thread: len bytes at off into g_buf. */
static int read_range(vmm_vm *vm, void *arg)
{
    (void)vm;
    const range *r = arg;
    vmm_disk *disk = disk_of(r->d);
    struct iovec iov = {g_buf, (size_t)r->len};
    return disk ? vmm_disk_readv(disk, &iov, 1, r->off) : -ENODEV;
}

/* Event thread: the pieces of [off, off + len) the image holds, queued. */
static int queue_held(vmm_vm *vm, void *arg)
{
    (void)vm;
    const range *r = arg;
    vmm_disk *disk = disk_of(r->d);
    if (!disk)
        return -ENODEV;
    for (uint64_t at = r->off, end = r->off + r->len; at < end;) {
        uint64_t n = 0;
        int held = vmm_disk_block_status(disk, at, end - at, &n);
        if (held < 0)
            return held;
        if (!n)
            return -EIO;
        for (uint64_t g = at / GRAIN; held && g <= (at + n - 1) / GRAIN; g++)
            r->d->todo[g / 64] |= 1ull << (g % 64);
        at += n;
    }
    return 0;
}

/* ---- source ---------------------------------------------------------------------------- */

void vmm_mirror_reset(void)
{
    pthread_mutex_lock(&m.lock);
    m.total = m.sent = m.remaining = 0;
    pthread_mutex_unlock(&m.lock);
}

int vmm_mirror_start(vmm_vm *vm, int sock, int (*stop)(int final), char *err, size_t errlen)
{
    m.stop = stop;
    m.n = 0;
    vmm_mirror_reset();
    for (int i = 0; i < vm->ndevs; i++) {
        const vmm_disk_cfg *cfg;
        vmm_disk *disk = vmm_blk_disk(vm->devs[i], &cfg);
        if (!disk || cfg->read_only || !strncmp(cfg->path, "rbd:", 4))
            continue;
        mdisk *d = &m.d[m.n];
        uint64_t grains = (vmm_disk_size(disk) + GRAIN - 1) / GRAIN, words = (grains + 63) / 64;
        if (d->marks && d->words != words) {
            free(d->marks); /* an earlier migration's, the disk no longer tracked */
            d->marks = NULL;
        }
        *d = (mdisk){.idx = (int)(cfg - vm->cfg->disks),
                     .dev = vm->devs[i],
                     .size = vmm_disk_size(disk),
                     .words = words,
                     .marks = d->marks ? d->marks : calloc(words ? words : 1, 8),
                     .todo = calloc(words ? words : 1, 8),
                     .first = 1};
        if (!d->marks || !d->todo) {
            snprintf(err, errlen, "out of memory for the dirty bitmap of disk %s", cfg->id);
            vmm_mirror_stop(vm);
            return -ENOMEM;
        }
        memset(d->marks, 0, words * 8);
        m.n++;
        char backing[256];
        int fmt = vmm_disk_format(disk, backing, sizeof backing);
        d->raw = fmt == VMM_MIG_DISK_RAW;
        /* The marks first: a write from now on is sent again, whatever the first pass saw. */
        vmm_disk_track(disk, d->marks);
        int rc = vmm_mig_send_disk_begin(sock, (uint32_t)d->idx, (uint32_t)fmt, d->size, backing);
        for (uint64_t at = 0; !rc && at < d->size; at += STATUS_STEP) {
            range r = {d, at, d->size - at < STATUS_STEP ? d->size - at : STATUS_STEP};
            rc = on_event_thread(vm, queue_held, &r);
        }
        if (rc) {
            snprintf(err, errlen, "disk %s: %s", cfg->id, strerror(-rc));
            vmm_mirror_stop(vm);
            return rc;
        }
        pthread_mutex_lock(&m.lock);
        m.total += d->size;
        pthread_mutex_unlock(&m.lock);
        st_info("vmm.migrate", "block migration of disk %s (%s, %llu MiB): %llu MiB to copy first",
                cfg->id, d->raw ? "raw" : "qcow2", (unsigned long long)(d->size >> 20),
                (unsigned long long)(pending_bytes() >> 20));
    }
    set_remaining(0);
    return 0;
}

static int all_zero(const uint8_t *p, uint64_t len)
{
    uint64_t at = 0;
    for (; len - at >= VMM_MIG_PAGE; at += VMM_MIG_PAGE)
        if (!vmm_page_is_zero(p + at))
            return 0;
    return at == len || (!p[at] && !memcmp(p + at, p + at + 1, len - at - 1));
}

/* Every queued piece of d; final: on the event thread already. */
static int send_disk(vmm_vm *vm, mdisk *d, int sock, int final, uint64_t *wire)
{
    uint64_t grains = (d->size + GRAIN - 1) / GRAIN;
    for (uint64_t g = 0; g < grains;) {
        if (!(d->todo[g / 64] >> (g % 64) & 1)) {
            g = d->todo[g / 64] >> (g % 64) ? g + 1 : (g | 63) + 1;
            continue;
        }
        if (m.stop(final))
            return -ECANCELED;
        uint64_t n = 0;
        while (g + n < grains && n < RUN_GRAINS && (d->todo[(g + n) / 64] >> ((g + n) % 64) & 1))
            n++;
        range r = {d, g * GRAIN, n * GRAIN};
        if (r.off + r.len > d->size)
            r.len = d->size - r.off;
        /* Cleared before the read: a write from now on queues the piece again. */
        for (uint64_t k = g; k < g + n; k++)
            d->todo[k / 64] &= ~(1ull << (k % 64));
        int rc = final ? read_range(vm, &r) : on_event_thread(vm, read_range, &r);
        if (rc)
            return rc;
        int zero = all_zero(g_buf, r.len);
        if (!(zero && d->first && d->raw)) {
            rc = vmm_mig_send_disk(sock, (uint32_t)d->idx, r.off, r.len, zero ? NULL : g_buf);
            if (rc)
                return rc;
            uint64_t bytes = VMM_MIG_HEADER + VMM_MIG_DISK_SUB + (zero ? 0 : r.len);
            *wire += bytes;
            pthread_mutex_lock(&m.lock);
            m.sent += r.len;
            m.remaining -= m.remaining > n * GRAIN ? n * GRAIN : m.remaining;
            pthread_mutex_unlock(&m.lock);
        }
        g += n;
    }
    d->first = 0;
    return 0;
}

static int send_all(vmm_vm *vm, int sock, int final, uint64_t *wire)
{
    for (int i = 0; i < m.n; i++) {
        int rc = send_disk(vm, &m.d[i], sock, final, wire);
        if (rc)
            return rc;
    }
    return 0;
}

int vmm_mirror_send(vmm_vm *vm, int sock, uint64_t *wire)
{
    return send_all(vm, sock, 0, wire);
}

uint64_t vmm_mirror_harvest(void)
{
    for (int i = 0; i < m.n; i++)
        for (uint64_t w = 0; w < m.d[i].words; w++)
            m.d[i].todo[w] |= __atomic_exchange_n(&m.d[i].marks[w], 0, __ATOMIC_ACQ_REL);
    set_remaining(0);
    return pending_bytes();
}

int vmm_mirror_final(vmm_vm *vm, int sock, uint64_t *wire)
{
    if (!m.n)
        return 0;
    vmm_mirror_harvest();
    int rc = send_all(vm, sock, 1, wire);
    set_remaining(0);
    return rc;
}

void vmm_mirror_stop(vmm_vm *vm)
{
    (void)vm;
    for (int i = 0; i < m.n; i++) {
        vmm_disk *disk = disk_of(&m.d[i]);
        if (disk)
            vmm_disk_track(disk, NULL); /* the bitmap stays: a write may be marking it */
        free(m.d[i].todo);
        m.d[i].todo = NULL;
    }
    m.n = 0;
}

void vmm_mirror_status(json_t *j)
{
    pthread_mutex_lock(&m.lock);
    json_object_set_new(j, "disk_total_bytes", json_integer((json_int_t)m.total));
    json_object_set_new(j, "disk_transferred_bytes", json_integer((json_int_t)m.sent));
    json_object_set_new(j, "disk_remaining_bytes", json_integer((json_int_t)m.remaining));
    pthread_mutex_unlock(&m.lock);
}

/* ---- target ---------------------------------------------------------------------------- */

#ifdef STRATUS_HAVE_DISK
/* DISK_BEGIN against this config; the disk opened into m.in. */
static int begin(const vmm_config *cfg, const vmm_mig_frame *f, char *err, size_t errlen)
{
    char why[300];
    if (f->disk >= (uint32_t)cfg->ndisks) {
        snprintf(err, errlen, "disk %u is not in this config (%d disks)", f->disk, cfg->ndisks);
        return -EINVAL;
    }
    const vmm_disk_cfg *dc = &cfg->disks[f->disk];
    int fmt = dc->qcow2 ? VMM_MIG_DISK_QCOW2 : VMM_MIG_DISK_RAW;
    if (dc->read_only || !strncmp(dc->path, "rbd:", 4)) {
        snprintf(err, errlen, "disk %s is %s here: it is not copied", dc->id,
                 dc->read_only ? "read-only" : "on Ceph RBD");
        return -EINVAL;
    }
    if ((uint32_t)fmt != f->format) {
        snprintf(err, errlen, "disk %s: the source's is %s, this config's %s", dc->id,
                 f->format == VMM_MIG_DISK_QCOW2 ? "qcow2" : "raw", dc->qcow2 ? "qcow2" : "raw");
        return -EINVAL;
    }
    st_disk *d = NULL;
    int rc = st_disk_open_ex(dc->path, dc->qcow2 ? ST_DISK_FMT_QCOW2 : ST_DISK_FMT_RAW, &d, why,
                             sizeof why);
    if (rc < 0) {
        snprintf(err, errlen, "disk %s: %s", dc->id, why);
        return rc;
    }
    st_disk_info info;
    st_disk_get_info(d, &info);
    const char *slash = strrchr(info.backing_file, '/');
    const char *base = slash ? slash + 1 : info.backing_file;
    uint64_t n = 0;
    int held = info.size == f->size ? st_disk_block_status(d, 0, info.size, &n) : 0;
    if (info.size != f->size)
        snprintf(err, errlen, "disk %s: the source's is %llu bytes, %s here %llu", dc->id,
                 (unsigned long long)f->size, dc->path, (unsigned long long)info.size);
    else if (strcmp(base, f->backing))
        snprintf(err, errlen, "disk %s: the source's is an overlay of '%s', %s here of '%s'",
                 dc->id, f->backing, dc->path, base);
    else if (held != 0 || n != info.size)
        snprintf(err, errlen,
                 "disk %s: %s is not fresh (it holds data at %llu): a fresh overlay of the same "
                 "base or an empty raw file is needed",
                 dc->id, dc->path, (unsigned long long)(held == 0 ? n : 0));
    else {
        m.in[f->disk] = d;
        st_info("vmm.migrate", "receiving disk %s (%llu MiB) into %s", dc->id,
                (unsigned long long)(info.size >> 20), dc->path);
        return 0;
    }
    st_disk_close(d);
    return -EINVAL;
}
#endif

int vmm_mirror_recv(const vmm_config *cfg, const vmm_mig_frame *f, char *err, size_t errlen)
{
#ifdef STRATUS_HAVE_DISK
    if (f->kind == VMM_MIG_DISK_BEGIN)
        return begin(cfg, f, err, errlen);
    st_disk *d = f->disk < VMM_MIG_DISKS ? m.in[f->disk] : NULL;
    if (!d) { /* migmsg.c saw the DISK_BEGIN: this process refused it */
        snprintf(err, errlen, "DISK for disk %u, which is not being received", f->disk);
        return -EINVAL;
    }
    ssize_t rc = f->buf ? st_disk_pwrite(d, f->buf, f->len, f->off)
                        : st_disk_write_zeroes(d, f->off, f->size);
    if (rc < 0) {
        snprintf(err, errlen, "disk %s: %s", cfg->disks[f->disk].id, st_disk_error(d));
        return -EINVAL;
    }
    return 0;
#else
    (void)cfg;
    (void)f;
    snprintf(err, errlen, "block migration needs the image store's disk library in this build");
    return -ENOTSUP;
#endif
}

int vmm_mirror_finish(char *err, size_t errlen)
{
    int rc = 0;
#ifdef STRATUS_HAVE_DISK
    for (int i = 0; i < VMM_MIG_DISKS; i++) {
        if (!m.in[i])
            continue;
        int r = st_disk_flush(m.in[i]);
        if (r < 0 && !rc) {
            snprintf(err, errlen, "disk %d: flushing: %s", i, st_disk_error(m.in[i]));
            rc = r;
        }
        st_disk_close(m.in[i]);
        m.in[i] = NULL;
    }
#else
    (void)err;
    (void)errlen;
#endif
    return rc;
}

void vmm_mirror_abort(void)
{
    char err[8];
    vmm_mirror_finish(err, sizeof err);
}
