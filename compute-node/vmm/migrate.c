/*
 * migrate.c - live migration, pre-copy, to another stratus-vmm over TCP.
 *
 * Source (PUT /vm/migrate). A worker thread, made when the VM starts (so the event thread's
 * filter never needs to allow clone), connects to the target, sends HELLO (its config), turns
 * on KVM's dirty logging (KVM_MEM_LOG_DIRTY_PAGES on every RAM slot, fetch_logs: a firmware
 * VM's BIOS shadow is sent again each round instead) and the VMM's own dirty
 * bitmap (gmem.h: the pages devices write, which KVM's log does not see), and sends every page
 * of guest RAM, runs of all-zero pages as a flag without data. Then round after round, the
 * pages dirtied meanwhile: KVM_GET_DIRTY_LOG per slot (which also write-protects them again),
 * or, where the kernel offers KVM's dirty ring (dirty_ring.c, "dirty_ring" in the config),
 * every vCPU's ring reaped and KVM_RESET_DIRTY_RINGS (the same re-protection; a vCPU whose
 * ring fills between two rounds reaps its own into the same bitmap; the final round reaps
 * the rings of the parked vCPUs), ORed with the VMM's bitmap of this round and of the one
 * before (a device marks a buffer when it takes it and writes it within the same event-thread
 * callback, so a mark taken just between the two is sent again one round later; KVM's ring,
 * like its log, never sees the VMM's writes). Each round measures the bandwidth; when what
 * is left can be sent within downtime_ms, or after max_rounds, or when timeout_ms passed with
 * on_timeout=force, the final round runs on the event thread, where every device works, so no
 * device touches guest RAM or its own state meanwhile: pause (every vCPU parked), the vmstate
 * (vmm_snapshot_state), the disks flushed and closed (the target opens them: shared storage),
 * the last dirty pages, STATE, and the target's answer. ACK: the VM is the target's, the
 * vCPUs never run here again (vmm_vm_resume refuses), and the process exits 0 once stopped.
 * NACK or a closed connection: the disks are opened again, dirty logging is turned off and the
 * guest resumes. No answer in 30 s: the target holds the state and may run the guest, so the
 * guest stays paused here (as a live upgrade does). Before the final round, any failure,
 * DELETE /vm/migrate or the timeout with on_timeout=cancel ends it with the guest running.
 *
 * KVM_CLEAR_DIRTY_LOG (manual protect) is not used: KVM_GET_DIRTY_LOG fetches and
 * write-protects a slot's log in one call, which is all a round needs; manual protect would
 * re-protect in smaller pieces just before they are sent (fewer write faults in a large
 * guest), left for later.
 *
 * Auto-converge: when the bytes dirtied during a round exceed half of what the link carried
 * in it for two rounds running, every vCPU is made to sleep pct % of each 20 ms period (a
 * throttle thread kicks them out of KVM_RUN; vcpu.c sleeps), pct starting at 20 and rising by
 * 10 each such round to 99, as QEMU's cpu-throttle does.
 *
 * TLS (optional: "tls" in the request, --tls-* on the target): after the TCP connection, a
 * mutual TLS handshake (migmsg.c), and every frame goes through the session.
 *
 * Target (--incoming tcp:ADDR:PORT): a thread accepts one connection, checks the HELLO against
 * its own config (memory, vCPUs, the devices' ids, kinds and MACs), receives the pages into a
 * memfd of guest RAM's size (zero runs punched out, so they take no memory) and the STATE.
 * Once HELLO is accepted the event thread builds the VM around that memfd as a live upgrade's
 * new process does (guest RAM shared: the target's RAM is a memfd without the anonymous
 * mapping's huge pages) while the pages come, all but the disks the source may hold or change
 * until it pauses (build_incoming); after STATE it opens those, puts the state back, starts the
 * vCPUs and answers ACK. Any refusal answers NACK with the reason, and the process exits 2.
 */
#include "migrate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "devices.h"
#include "dirty_ring.h"
#include "firmware.h"
#include "migmsg.h"
#include "mirror.h"
#include "sandbox.h"
#include "serial.h"
#include "snapshot.h"
#include "stratus/crypto.h"
#include "stratus/json.h"
#include "stratus/log.h"

#define PAGE VMM_MIG_PAGE
#define ANSWER_TIMEOUT_S 30 /* the target restores and answers within this */
#define CONNECT_TIMEOUT_MS 10000
#define THROTTLE_PERIOD_MS 20
#define THROTTLE_FIRST 20
#define THROTTLE_STEP 10
#define THROTTLE_MAX 99

enum { MIG_NONE, MIG_ACTIVE, MIG_COMPLETED, MIG_FAILED, MIG_CANCELLED, MIG_INCOMING };
static const char *const state_names[] = {"none",   "active",    "completed",
                                          "failed", "cancelled", "incoming"};

/* One migration per process (one VM per process). */
static struct {
    pthread_mutex_t lock; /* everything below */
    pthread_cond_t cond;
    vmm_vm *vm;
    pthread_t worker, throttler, receiver;
    int have_worker, have_throttler, have_receiver;
    int quit;
    int go; /* a request for the worker */
    vmm_migrate_req req;
    struct sockaddr_storage addr;
    unsigned addrlen;
    int sock, listen_fd;
    int state, cancel;
    uint32_t ring; /* the source's dirty tracking: the dirty ring's entries, 0 for bitmaps */
    uint64_t round, transferred, remaining, total;
    int throttle_pct;   /* the throttle thread's */
    int throttle_shown; /* GET /vm/migrate's: the last one set, kept once it ended */
    double downtime_ms, total_ms;
    char error[512];
    int final_done, final_rc; /* the event thread's final round */
    /* incoming */
    const vmm_config *cfg;
    vmm_mig_rx rx;
    int memfd;       /* shared RAM: the memfd the pages are written into (-1: private) */
    uint8_t *ram;    /* the receiver's view of guest RAM: its mapping of the memfd, or the
                      * private RAM the VM adopts (vmm_vm.ram_adopt) */
    int ram_adopted; /* a VM was built on the private RAM (it borrows it for good) */
    uint64_t ram_size;
    vmm_snapshot snap;
    int build;           /* BUILD_*: the VM built on the event thread while pages come */
    char build_err[512]; /* BUILD_FAILED's reason */
    double build_ms, state_came, state_read; /* now_ms(): the build done, STATE received and read */
    int finished; /* finish_incoming answered (ACK or NACK): the receiver may drop its mapping */
    double round_began;  /* now_ms(): the first frame of the last round that ended */
    char fw_sha256[65];  /* this host's firmware image's digest ("" unread or no firmware) */
    void *tls_ctx, *tls; /* the connection's TLS context and session, or NULL */
} g = {.lock = PTHREAD_MUTEX_INITIALIZER,
       .cond = PTHREAD_COND_INITIALIZER,
       .sock = -1,
       .listen_fd = -1,
       .memfd = -1};

/* Dirty tracking (the worker's and, in the final round, the event thread's; never both). */
typedef struct track {
    int n;
    uint64_t words[VMM_GMEM_MAX_REGIONS];
    uint64_t *todo[VMM_GMEM_MAX_REGIONS];  /* pages still to send */
    uint64_t *kvm[VMM_GMEM_MAX_REGIONS];   /* KVM's logs of the region's slots (fetch_logs) */
    uint64_t *slot_log[VMM_RAM_SLOTS_MAX]; /* KVM_GET_DIRTY_LOG's buffer per RAM slot */
    uint64_t *prev[VMM_GMEM_MAX_REGIONS];  /* the VMM's marks of the round before */
    uint64_t *marks[VMM_GMEM_MAX_REGIONS]; /* the VMM's bitmap (vm->gmem.dirty); kept for the
                                            * process's life: a device may still hold it */
    uint64_t *ring[VMM_GMEM_MAX_REGIONS];  /* the dirty ring's reaped pages (vm->dring_bits);
                                            * kept too: a vCPU's reap may still hold it */
    uint64_t ring_full0;                   /* vm->dring_full when tracking started */
    uint64_t sent_bytes, sent_pages, zero_pages;
    int pagemap; /* /proc/self/pagemap (private RAM), or -1 */
} track;
static track g_t = {.pagemap = -1};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void set_error(const char *fmt, const char *msg)
{
    pthread_mutex_lock(&g.lock);
    snprintf(g.error, sizeof g.error, fmt, msg);
    pthread_mutex_unlock(&g.lock);
}

/* ---- requests -------------------------------------------------------------------------- */

int vmm_migrate_addr(const char *uri, struct sockaddr_storage *sa, unsigned *salen, char *err,
                     size_t errlen)
{
    char host[256];
    const char *p = strncmp(uri, "tcp:", 4) ? NULL : uri + 4, *colon = p ? strrchr(p, ':') : NULL;
    memset(sa, 0, sizeof *sa);
    if (!colon || colon == p || (size_t)(colon - p) >= sizeof host) {
        snprintf(err, errlen, "field 'uri' must be tcp:ADDR:PORT");
        return -EINVAL;
    }
    memcpy(host, p, (size_t)(colon - p));
    host[colon - p] = 0;
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 1 || port > 65535) {
        snprintf(err, errlen, "field 'uri': the port must be 1 to 65535");
        return -EINVAL;
    }
    size_t hl = strlen(host);
    struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *salen = sizeof *v4;
        return 0;
    }
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = 0;
        if (inet_pton(AF_INET6, host + 1, &v6->sin6_addr) == 1) {
            v6->sin6_family = AF_INET6;
            v6->sin6_port = htons((uint16_t)port);
            *salen = sizeof *v6;
            return 0;
        }
    }
    snprintf(err, errlen, "field 'uri': the address must be numeric IPv4 or [IPv6]");
    return -EINVAL;
}

int vmm_migrate_parse(const char *body, size_t len, vmm_migrate_req *r, char *err, size_t errlen)
{
    static const char *const keys[] = {"uri",        "downtime_ms", "timeout_ms",      "on_timeout",
                                       "max_rounds", "tls",         "block_migration", NULL};
    static const char *const tls_keys[] = {"ca", "cert", "key", NULL};
    const char *ca = NULL, *cert = NULL, *key = NULL;
    json_t *tls;
    const char *uri = NULL, *on_timeout = "cancel";
    long long downtime = 300, timeout = 0, rounds = 30;
    int block = 0;
    struct sockaddr_storage sa;
    unsigned salen;
    json_t *j = st_json_parse_object(body, len, err, errlen);
    int rc = -EINVAL;
    if (!j)
        return rc;
    if (st_json_only_keys(j, keys, err, errlen) ||
        st_json_get_str(j, "uri", ST_JSON_REQUIRED, 1, sizeof r->uri - 1, &uri, err, errlen) ||
        st_json_get_int(j, "downtime_ms", ST_JSON_OPTIONAL, 1, 600000, &downtime, err, errlen) ||
        st_json_get_int(j, "timeout_ms", ST_JSON_OPTIONAL, 0, 86400000, &timeout, err, errlen) ||
        st_json_get_str(j, "on_timeout", ST_JSON_OPTIONAL, 1, 16, &on_timeout, err, errlen) ||
        st_json_get_int(j, "max_rounds", ST_JSON_OPTIONAL, 1, 1000, &rounds, err, errlen) ||
        st_json_get_bool(j, "block_migration", ST_JSON_OPTIONAL, &block, err, errlen))
        goto out;
    if ((tls = json_object_get(j, "tls")) &&
        (!json_is_object(tls) || st_json_only_keys(tls, tls_keys, err, errlen) ||
         st_json_get_str(tls, "ca", ST_JSON_REQUIRED, 1, 511, &ca, err, errlen) ||
         st_json_get_str(tls, "cert", ST_JSON_REQUIRED, 1, 511, &cert, err, errlen) ||
         st_json_get_str(tls, "key", ST_JSON_REQUIRED, 1, 511, &key, err, errlen))) {
        if (!json_is_object(tls))
            snprintf(err, errlen, "field 'tls' must be an object {\"ca\", \"cert\", \"key\"}");
        goto out;
    }
    if (strcmp(on_timeout, "cancel") && strcmp(on_timeout, "force")) {
        snprintf(err, errlen, "field 'on_timeout' must be cancel or force");
        goto out;
    }
    if (vmm_migrate_addr(uri, &sa, &salen, err, errlen))
        goto out;
    memset(r, 0, sizeof *r);
    snprintf(r->uri, sizeof r->uri, "%s", uri);
    r->downtime_ms = (uint64_t)downtime;
    r->timeout_ms = (uint64_t)timeout;
    r->force = !strcmp(on_timeout, "force");
    r->max_rounds = (uint64_t)rounds;
    r->block_migration = block;
    if (tls) {
        snprintf(r->tls_ca, sizeof r->tls_ca, "%s", ca);
        snprintf(r->tls_cert, sizeof r->tls_cert, "%s", cert);
        snprintf(r->tls_key, sizeof r->tls_key, "%s", key);
    }
    rc = 0;
out:
    json_decref(j);
    return rc;
}

int vmm_migrate_is_incoming(void)
{
    pthread_mutex_lock(&g.lock);
    int in = g.state == MIG_INCOMING;
    pthread_mutex_unlock(&g.lock);
    return in;
}

json_t *vmm_migrate_status(void)
{
    pthread_mutex_lock(&g.lock);
    json_t *j =
        json_pack("{s:s, s:I, s:I, s:I, s:I, s:i, s:I}", "state", state_names[g.state], "round",
                  (json_int_t)g.round, "transferred_bytes", (json_int_t)g.transferred,
                  "remaining_bytes", (json_int_t)g.remaining, "total_bytes", (json_int_t)g.total,
                  "throttle_pct", g.throttle_shown, "total_ms", (json_int_t)g.total_ms);
    if (g.state == MIG_COMPLETED)
        json_object_set_new(j, "downtime_ms", json_integer((json_int_t)g.downtime_ms));
    if (g.error[0] && g.state != MIG_ACTIVE && g.state != MIG_COMPLETED)
        json_object_set_new(j, "error", json_string(g.error));
    if (g.state == MIG_ACTIVE || g.state == MIG_COMPLETED)
        json_object_set_new(j, "uri", json_string(g.req.uri));
    if (g.state != MIG_NONE && g.state != MIG_INCOMING) {
        json_object_set_new(j, "dirty_tracking", json_string(g.ring ? "ring" : "bitmap"));
        if (g.ring && g.vm) {
            uint64_t full = __atomic_load_n(&g.vm->dring_full, __ATOMIC_RELAXED);
            json_object_set_new(j, "dirty_ring_entries", json_integer(g.ring));
            json_object_set_new(
                j, "dirty_ring_full",
                json_integer(
                    (json_int_t)(full - __atomic_load_n(&g_t.ring_full0, __ATOMIC_RELAXED))));
        }
    }
    pthread_mutex_unlock(&g.lock);
    vmm_mirror_status(j);
    return j;
}

int vmm_migrate_start(vmm_vm *vm, const vmm_migrate_req *r, char *err, size_t errlen)
{
    int rc = 0;
    struct sockaddr_storage sa;
    unsigned salen;
    if (__atomic_load_n(&vm->state, __ATOMIC_ACQUIRE) != VMM_RUNNING) {
        snprintf(err, errlen, "the VM is not running (paused or stopping): resume it first");
        return -ENOTSUP;
    }
    if ((rc = vmm_migrate_addr(r->uri, &sa, &salen, err, errlen)))
        return rc;
    pthread_mutex_lock(&g.lock);
    if (!g.have_worker) {
        snprintf(err, errlen, "no migration worker in this process");
        rc = -ENOTSUP;
    } else if (g.state == MIG_ACTIVE || g.go) {
        snprintf(err, errlen, "a migration is already active (DELETE /vm/migrate cancels it)");
        rc = -EBUSY;
    } else if (g.state == MIG_COMPLETED) {
        snprintf(err, errlen, "the VM has migrated to %s already", g.req.uri);
        rc = -EBUSY;
    } else {
        g.req = *r;
        g.addr = sa;
        g.addrlen = salen;
        g.state = MIG_ACTIVE;
        g.cancel = 0;
        g.round = g.transferred = g.remaining = 0;
        g.total = vm->ram_size;
        g.throttle_pct = g.throttle_shown = 0;
        g.downtime_ms = g.total_ms = 0;
        g.ring = vm->dring_entries;
        g.error[0] = 0;
        g.go = 1;
        vmm_mirror_reset(); /* its lock is taken under this one, never the other way */
        pthread_cond_broadcast(&g.cond);
    }
    pthread_mutex_unlock(&g.lock);
    return rc;
}

int vmm_migrate_cancel(void)
{
    int rc = 0;
    pthread_mutex_lock(&g.lock);
    if (g.state == MIG_ACTIVE)
        g.cancel = 1;
    else
        rc = -ENOENT;
    pthread_mutex_unlock(&g.lock);
    return rc;
}

/* ---- auto-converge --------------------------------------------------------------------- */

static void set_throttle(int pct)
{
    pthread_mutex_lock(&g.lock);
    g.throttle_pct = pct;
    if (pct)
        g.throttle_shown = pct;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
}

static void *throttle_main(void *arg)
{
    vmm_vm *vm = arg;
    pthread_setname_np(pthread_self(), "mig-throttle");
    if (vmm_drop_privileges() < 0 || (vm->cfg->seccomp && vmm_sandbox_vcpu() < 0))
        return NULL;
    pthread_mutex_lock(&g.lock);
    while (!g.quit) {
        if (!g.throttle_pct) {
            pthread_cond_wait(&g.cond, &g.lock);
            continue;
        }
        uint64_t ns = (uint64_t)THROTTLE_PERIOD_MS * 1000000ull * (uint64_t)g.throttle_pct / 100;
        pthread_mutex_unlock(&g.lock);
        __atomic_store_n(&vm->throttle_ns, ns, __ATOMIC_RELAXED);
        __atomic_add_fetch(&vm->throttle_gen, 1, __ATOMIC_RELEASE);
        for (int i = 0; i < vm->nvcpus; i++)
            vmm_vcpu_kick(&vm->vcpus[i]);
        struct timespec ts = {0, THROTTLE_PERIOD_MS * 1000000L};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&g.lock);
    }
    pthread_mutex_unlock(&g.lock);
    return NULL;
}

/* ---- dirty tracking -------------------------------------------------------------------- */

/* Dirty logging on or off on every KVM slot over writable guest RAM (vmm_ram_slots: a
 * firmware VM's RAM below 3 GiB is two slots around the BIOS shadow). */
static int log_dirty(vmm_vm *vm, int on)
{
    vmm_ram_slot sl[VMM_RAM_SLOTS_MAX];
    for (int i = 0, n = vmm_ram_slots(vm, sl); i < n; i++) {
        int rc = vmm_kvm_slot(vm, sl[i].slot, sl[i].gpa, sl[i].size, sl[i].hva,
                              on ? KVM_MEM_LOG_DIRTY_PAGES : 0);
        if (rc)
            return rc;
    }
    return 0;
}

/* Per-slot log buffers (sized for each slot) for fetch_logs; 0 or -ENOMEM. None with the
 * dirty ring. */
static int slot_logs_alloc(vmm_vm *vm)
{
    vmm_ram_slot sl[VMM_RAM_SLOTS_MAX];
    for (int k = 0, n = vm->dring_entries ? 0 : vmm_ram_slots(vm, sl); k < n; k++)
        if (!(g_t.slot_log[k] = calloc((sl[k].size / PAGE + 63) / 64, 8)))
            return -ENOMEM;
    return 0;
}

/* ORs n bits of src into dst from bit first on. */
static void or_bits(uint64_t *dst, uint64_t first, const uint64_t *src, uint64_t n)
{
    for (uint64_t w = 0; w < (n + 63) / 64; w++) {
        uint64_t v = src[w], at = first + w * 64, sh = at % 64;
        if (!v)
            continue;
        dst[at / 64] |= v << sh;
        if (sh && v >> (64 - sh))
            dst[at / 64 + 1] |= v >> (64 - sh);
    }
}

/* With the dirty ring (dirty_ring.c), every vCPU's ring reaped (those pages write-protected
 * again) and the pages reaped since the last call, a full ring's vCPU's own included, taken
 * into g_t.kvm. */
static int fetch_ring(vmm_vm *vm)
{
    int64_t rc = vmm_dring_reap(vm, NULL);
    if (rc < 0)
        return (int)rc;
    for (int i = 0; i < g_t.n; i++)
        for (uint64_t w = 0; w < g_t.words[i]; w++)
            g_t.kvm[i][w] = __atomic_exchange_n(&g_t.ring[i][w], 0, __ATOMIC_ACQ_REL);
    return 0;
}

/* KVM's dirty log of every RAM slot (fetched and write-protected again), each put into its
 * gmem region's bitmap g_t.kvm at the slot's place; or the dirty ring's pages (fetch_ring),
 * KVM_GET_DIRTY_LOG being refused with the ring on. A firmware VM's BIOS shadow
 * (0xE0000-0xFFFFF, 32 pages in RAM below 1 MiB) counts as dirty every round: its slots
 * (firmware.c) follow the guest's PAM writes, which may delete and remake them at any time,
 * so they are not logged but sent again, the last time while the VM is paused. */
static int fetch_logs(vmm_vm *vm)
{
    vmm_ram_slot sl[VMM_RAM_SLOTS_MAX];
    int rc = vm->dring_entries ? fetch_ring(vm) : 0;
    if (rc)
        return rc;
    for (int i = 0; i < g_t.n && !vm->dring_entries; i++)
        memset(g_t.kvm[i], 0, g_t.words[i] * 8);
    for (int k = 0, n = vm->dring_entries ? 0 : vmm_ram_slots(vm, sl); k < n; k++) {
        int i = 0;
        while (i < g_t.n - 1 && sl[k].hva >= vm->gmem.r[i + 1].hva)
            i++;
        uint64_t pages = sl[k].size / PAGE;
        struct kvm_dirty_log log = {.slot = sl[k].slot, .dirty_bitmap = g_t.slot_log[k]};
        memset(g_t.slot_log[k], 0, (pages + 63) / 64 * 8);
        if (ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log) < 0)
            return -errno;
        or_bits(g_t.kvm[i], (uint64_t)(sl[k].hva - vm->gmem.r[i].hva) / PAGE, g_t.slot_log[k],
                pages);
    }
    for (uint64_t pg = VMM_FW_SHADOW_START / PAGE;
         vm->cfg->firmware && pg < (VMM_FW_SHADOW_START + VMM_FW_SHADOW_SIZE) / PAGE; pg++)
        g_t.kvm[0][pg / 64] |= 1ull << (pg % 64);
    return 0;
}

static void track_stop(vmm_vm *vm)
{
    for (int i = 0; i < g_t.n; i++) {
        __atomic_store_n(&vm->gmem.dirty[i], NULL, __ATOMIC_RELEASE);
        __atomic_store_n(&vm->dring_bits[i], NULL, __ATOMIC_RELEASE);
    }
    log_dirty(vm, 0);
    for (int i = 0; i < g_t.n; i++) {
        free(g_t.todo[i]);
        free(g_t.kvm[i]);
        free(g_t.prev[i]);
        g_t.todo[i] = g_t.kvm[i] = g_t.prev[i] = NULL;
    }
    for (int k = 0; k < VMM_RAM_SLOTS_MAX; k++) {
        free(g_t.slot_log[k]);
        g_t.slot_log[k] = NULL;
    }
}

/* Every page to send, the VMM's marks cleared, dirty logging on; 0 or a negative errno. */
static int track_start(vmm_vm *vm)
{
    g_t.n = vm->gmem.n;
    g_t.sent_bytes = g_t.sent_pages = g_t.zero_pages = 0;
    for (int i = 0; i < g_t.n; i++) {
        uint64_t pages = vm->gmem.r[i].size / PAGE, w = (pages + 63) / 64;
        g_t.words[i] = w;
        g_t.todo[i] = malloc(w * 8);
        g_t.kvm[i] = calloc(w, 8);
        g_t.prev[i] = calloc(w, 8);
        if (!g_t.marks[i])
            g_t.marks[i] = calloc(w, 8);
        if (vm->dring_entries && !g_t.ring[i])
            g_t.ring[i] = calloc(w, 8);
        if (!g_t.todo[i] || !g_t.kvm[i] || !g_t.prev[i] || !g_t.marks[i] ||
            (vm->dring_entries && !g_t.ring[i])) {
            track_stop(vm);
            return -ENOMEM;
        }
        memset(g_t.todo[i], 0xff, w * 8);
        if (pages % 64)
            g_t.todo[i][w - 1] = (1ull << (pages % 64)) - 1;
        memset(g_t.marks[i], 0, w * 8);
        __atomic_store_n(&vm->gmem.dirty[i], g_t.marks[i], __ATOMIC_RELEASE);
        if (g_t.ring[i]) {
            /* Before logging starts: whatever a vCPU reaps from then on lands here. */
            memset(g_t.ring[i], 0, w * 8);
            __atomic_store_n(&vm->dring_bits[i], g_t.ring[i], __ATOMIC_RELEASE);
        }
    }
    __atomic_store_n(&g_t.ring_full0, __atomic_load_n(&vm->dring_full, __ATOMIC_RELAXED),
                     __ATOMIC_RELAXED);
    if (vm->ram_memfd < 0 && g_t.pagemap < 0)
        g_t.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC); /* -1: read every page */
    int rc = slot_logs_alloc(vm);
    if (!rc)
        rc = log_dirty(vm, 1);
    if (rc)
        track_stop(vm);
    return rc;
}

/* The pages dirtied since the last call into todo; the number of pages newly dirtied. */
static int64_t track_harvest(vmm_vm *vm)
{
    int64_t n = 0;
    int rc = fetch_logs(vm);
    if (rc)
        return rc;
    for (int i = 0; i < g_t.n; i++) {
        for (uint64_t w = 0; w < g_t.words[i]; w++) {
            uint64_t mine = __atomic_exchange_n(&g_t.marks[i][w], 0, __ATOMIC_ACQ_REL);
            uint64_t d = g_t.kvm[i][w] | mine | g_t.prev[i][w];
            g_t.prev[i][w] = mine;
            n += __builtin_popcountll(d & ~g_t.todo[i][w]);
            g_t.todo[i][w] |= d;
        }
    }
    return n;
}

static uint64_t track_pending(void)
{
    uint64_t n = 0;
    for (int i = 0; i < g_t.n; i++)
        for (uint64_t w = 0; w < g_t.words[i]; w++)
            n += (uint64_t)__builtin_popcountll(g_t.todo[i][w]);
    return n;
}

/* Private anonymous RAM: whether the page at RAM offset off was never populated (neither
 * present nor swapped out, /proc/self/pagemap's bits 63 and 62), so it reads as zero without
 * being read: a mostly empty guest's first round costs what it touched. 512 entries (2 MiB of
 * RAM) are read at a time. */
static uint64_t g_pm[512], g_pm_first = UINT64_MAX; /* reset at each pass: pages change */

static int never_touched(vmm_vm *vm, uint64_t off)
{
    uint64_t *pm = g_pm, pm_first = g_pm_first;
    if (g_t.pagemap < 0)
        return 0;
    uint64_t page = ((uintptr_t)vm->ram + off) / PAGE;
    if (pm_first == UINT64_MAX || page < pm_first || page >= pm_first + 512) {
        g_pm_first = pm_first = page & ~511ull;
        if (pread(g_t.pagemap, pm, sizeof g_pm, (off_t)(pm_first * 8)) != (ssize_t)sizeof g_pm) {
            g_pm_first = UINT64_MAX;
            return 0;
        }
    }
    return !(pm[page - pm_first] >> 62);
}

/* Whether the page at RAM offset off reads as zero without reading it: a hole of shared RAM
 * (a memfd, where reading a hole would allocate it) or a never-touched page of private RAM.
 * h caches the memfd's data extent found last: [h[0], h[1]); offsets only grow in a pass. */
static int in_hole(vmm_vm *vm, uint64_t off, uint64_t h[2])
{
    if (vm->ram_memfd < 0)
        return never_touched(vm, off);
    if (off >= h[1]) {
        off_t d = lseek(vm->ram_memfd, (off_t)off, SEEK_DATA);
        if (d < 0) {
            h[0] = h[1] = errno == ENXIO ? vm->ram_size : off + PAGE; /* ENXIO: holes to the end */
            return errno == ENXIO;
        }
        off_t e = lseek(vm->ram_memfd, d, SEEK_HOLE);
        h[0] = (uint64_t)d;
        h[1] = e > d ? (uint64_t)e : (uint64_t)d + PAGE;
    }
    return off < h[0];
}

static double g_cancel_at; /* timeout_ms with on_timeout=cancel: when a round stops (0: never) */

static int should_stop(int final)
{
    pthread_mutex_lock(&g.lock);
    int stop = g.quit || (!final && g.cancel);
    pthread_mutex_unlock(&g.lock);
    return stop || (!final && g_cancel_at > 0 && now_ms() >= g_cancel_at);
}

/* Sends every page in todo (clearing it): runs of up to VMM_MIG_MAX_PAGES, all-zero pages
 * as flags. 0, -ECANCELED (cancel or quit), or a negative errno. */
static int send_todo(vmm_vm *vm, int s, int final)
{
    uint64_t data_at[2] = {0, 0};
    g_pm_first = UINT64_MAX;
    for (int i = 0; i < g_t.n; i++) {
        const vmm_gmem_region *r = &vm->gmem.r[i];
        uint64_t pages = r->size / PAGE, base = (uint64_t)(r->hva - vm->ram);
        for (uint64_t pg = 0; pg < pages;) {
            if (!(g_t.todo[i][pg / 64] >> (pg % 64) & 1)) {
                pg = g_t.todo[i][pg / 64] >> (pg % 64) ? pg + 1 : (pg | 63) + 1;
                continue;
            }
            if (should_stop(final))
                return -ECANCELED;
            /* A run of pages to send, all zero or all not. */
            int zero =
                in_hole(vm, base + pg * PAGE, data_at) || vmm_page_is_zero(r->hva + pg * PAGE);
            uint32_t n = 0;
            while (pg + n < pages && n < VMM_MIG_MAX_PAGES &&
                   (g_t.todo[i][(pg + n) / 64] >> ((pg + n) % 64) & 1)) {
                uint64_t at = pg + n;
                int z = n == 0 ? zero
                               : in_hole(vm, base + at * PAGE, data_at) ||
                                     vmm_page_is_zero(r->hva + at * PAGE);
                if (z != zero)
                    break;
                g_t.todo[i][at / 64] &= ~(1ull << (at % 64));
                n++;
            }
            int rc = vmm_mig_send_pages(s, r->gpa + pg * PAGE, n, zero ? NULL : r->hva + pg * PAGE);
            if (rc)
                return rc;
            uint64_t bytes = VMM_MIG_HEADER + 16 + (zero ? 0 : (uint64_t)n * PAGE);
            g_t.sent_bytes += bytes;
            g_t.sent_pages += n;
            g_t.zero_pages += zero ? n : 0;
            pthread_mutex_lock(&g.lock);
            g.transferred += bytes;
            g.remaining -= g.remaining > (uint64_t)n * PAGE ? (uint64_t)n * PAGE : g.remaining;
            pthread_mutex_unlock(&g.lock);
            pg += n;
        }
    }
    return 0;
}

/* ---- the final round (event thread) ---------------------------------------------------- */

/* Releases (flush, close) or takes back every disk; 0 or the first error. */
static int disks(vmm_vm *vm, int release)
{
    int rc = 0;
    for (int i = 0; i < vm->ndevs; i++) {
        int r = vmm_blk_release(vm->devs[i], release);
        rc = rc ? rc : r;
    }
    return rc;
}

static struct {
    double t0, parked, state, released, harvested, sent, answered;
    size_t state_len;
    uint64_t last_pages;
} g_fin;

/* 0: the target runs the guest. -EPROTO (NACK), -EPIPE (closed): resumed here. Another
 * error once STATE went out: the guest stays paused. */
static int final_round(vmm_vm *vm, int s)
{
    char err[480];
    uint8_t *state = NULL;
    size_t len = 0;
    int rc, sent_state = 0;
    g_fin.t0 = now_ms();
    rc = vmm_vm_pause(vm);
    if (!rc)
        rc = vmm_vm_wait_parked(vm);
    if (rc) {
        set_error("pausing the VM: %s", strerror(-rc));
        if (rc != -ESHUTDOWN)
            vmm_vm_resume(vm);
        return rc;
    }
    g_fin.parked = now_ms();
    if ((rc = vmm_snapshot_state(vm, &state, &len, err, sizeof err))) {
        set_error("the VM's state: %s", err);
        vmm_vm_resume(vm);
        return rc;
    }
    g_fin.state = now_ms();
    g_fin.state_len = len;
    if ((rc = vmm_mirror_final(vm, s, &g_t.sent_bytes))) {
        set_error("sending the last disk blocks: %s", strerror(-rc));
        free(state);
        vmm_vm_resume(vm);
        return rc;
    }
    if ((rc = disks(vm, 1))) {
        /* What the guest wrote may not be on the disk: the target must not take it. */
        set_error("flushing and releasing the disks: %s", strerror(-rc));
        free(state);
        disks(vm, 0);
        vmm_vm_resume(vm);
        return rc;
    }
    g_fin.released = now_ms();
    int64_t more = track_harvest(vm);
    g_fin.harvested = now_ms();
    g_fin.last_pages = track_pending();
    rc = more < 0 ? (int)more : send_todo(vm, s, 1);
    if (!rc) {
        uint8_t r[8];
        uint64_t round = g.round + 1;
        memcpy(r, &round, 8);
        rc = vmm_mig_send(s, VMM_MIG_ROUND_END, 0, r, 8, NULL, 0);
    }
    if (!rc && !(rc = vmm_mig_send(s, VMM_MIG_STATE, 0, NULL, 0, state, len)))
        sent_state = 1;
    free(state);
    g_fin.sent = now_ms();
    if (!rc) {
        vmm_mig_rx rx = {.target = 0};
        vmm_mig_frame f;
        rc = vmm_mig_recv(s, &rx, &f, NULL, NULL, err, sizeof err);
        if (rc)
            set_error("no answer from the target: %s", err);
        else if (f.kind == VMM_MIG_NACK) {
            set_error("the target refused the VM: %s", f.buf ? (char *)f.buf : "(no reason)");
            rc = -EPROTO;
        }
        vmm_mig_frame_free(&f);
    } else
        set_error("sending the last pages and the state: %s", strerror(-rc));
    g_fin.answered = now_ms();
    if (!rc) {
        __atomic_store_n(&vm->migrated, 1, __ATOMIC_RELEASE);
        return 0;
    }
    if (sent_state && rc != -EPROTO && rc != -EPIPE && rc != -ECONNRESET) {
        pthread_mutex_lock(&g.lock);
        size_t n = strlen(g.error);
        snprintf(g.error + n, sizeof g.error - n,
                 "; the target took the state and may run the guest: the guest stays paused "
                 "here (stop one of the two processes, then resume this one if the other is "
                 "gone)");
        pthread_mutex_unlock(&g.lock);
        return -ETIMEDOUT;
    }
    disks(vm, 0);
    vmm_vm_resume(vm);
    return rc;
}

static void final_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    int rc = final_round(g.vm, (int)(intptr_t)arg);
    pthread_mutex_lock(&g.lock);
    g.final_rc = rc;
    g.final_done = 1;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
}

/* ---- the worker ------------------------------------------------------------------------ */

/* The migration socket's options, both ends: the answer timeouts, and no Nagle (as QEMU's
 * migration channel): the frames after the pause are small (ROUND_END, the state, the ACK
 * back), and each would otherwise wait for the TCP acknowledgement of the one before. */
static void sock_options(int s)
{
    struct timeval tv = {.tv_sec = ANSWER_TIMEOUT_S};
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int connect_target(char *err, size_t errlen)
{
    int s = socket(g.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int rc = connect(s, (struct sockaddr *)&g.addr, g.addrlen);
    if (rc < 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = s, .events = POLLOUT};
        int e = 0;
        socklen_t el = sizeof e;
        rc = poll(&p, 1, CONNECT_TIMEOUT_MS);
        if (rc == 0)
            errno = ETIMEDOUT;
        else if (rc > 0 && getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el) == 0)
            errno = e;
        rc = rc > 0 && e == 0 ? 0 : -1;
    }
    if (rc < 0) {
        snprintf(err, errlen, "connecting to %s: %s", g.req.uri, strerror(errno));
        close(s);
        return -1;
    }
    int fl = fcntl(s, F_GETFL);
    fcntl(s, F_SETFL, fl & ~O_NONBLOCK);
    sock_options(s);
    return s;
}

static void set_progress(uint64_t round, uint64_t remaining)
{
    pthread_mutex_lock(&g.lock);
    g.round = round;
    g.remaining = remaining;
    pthread_mutex_unlock(&g.lock);
}

/* Sending pages failed (rc). A target that refused the VM (HELLO: another config or BIOS
 * image) sent a NACK and closed: its reason, still queued here, says more than the broken
 * pipe does. */
static void send_failed(int s, int rc)
{
    char err[480];
    vmm_mig_rx rx = {.target = 0};
    vmm_mig_frame f = {0};
    struct pollfd p = {.fd = s, .events = POLLIN};
    if ((rc == -EPIPE || rc == -ECONNRESET) && poll(&p, 1, 1000) > 0 &&
        !vmm_mig_recv(s, &rx, &f, NULL, NULL, err, sizeof err) && f.kind == VMM_MIG_NACK) {
        snprintf(err, sizeof err, "the target refused the VM: %s",
                 f.buf ? (char *)f.buf : "(no reason)");
        set_error("%s", err);
    } else
        set_error("sending pages: %s", strerror(-rc));
    vmm_mig_frame_free(&f);
}

/* Bytes the socket holds not yet acknowledged by the target (SIOCOUTQ), 0 when unknown. */
static uint64_t sock_queued(int s)
{
    int q = 0;
    return ioctl(s, SIOCOUTQ, &q) == 0 && q > 0 ? (uint64_t)q : 0;
}

/* Before the pause: what the rounds wrote may still sit in the socket, and the final round's
 * pages and the state would queue behind it while the guest is paused (the downtime counted
 * it as the target's time). Waits, the guest running, until the socket holds nothing, the
 * caller stops, or `limit_ms` passes; the ms waited. */
static double drain_socket(int s, double limit_ms)
{
    double t0 = now_ms();
    while (sock_queued(s) > 0 && now_ms() - t0 < limit_ms && !should_stop(0) &&
           !(g_cancel_at && now_ms() >= g_cancel_at))
        usleep(2000);
    return now_ms() - t0;
}

/* The vmstate's SHA-256 (snapfile.c): OpenSSL fetches the digest's implementation from its
 * provider at the first use in a process, which took 50-250 ms of the nested test's downtime
 * (0.8-14 ms natively; later ones 0.01 ms for 20 KB). Done once before the pause (source) or
 * while waiting (target). */
static void digest_warm(void)
{
    char sha[65];
    st_sha256_hex("", 0, sha);
}

static int migrate(vmm_vm *vm)
{
    char err[480];
    digest_warm();
    double t0 = now_ms();
    int s = connect_target(err, sizeof err), rc, pct = 0, slow = 0, end = MIG_FAILED;
    if (s < 0) {
        set_error("%s", err);
        return MIG_FAILED;
    }
    pthread_mutex_lock(&g.lock);
    g.sock = s;
    vmm_migrate_req req = g.req;
    pthread_mutex_unlock(&g.lock);
    g_cancel_at = req.timeout_ms && !req.force ? t0 + (double)req.timeout_ms : 0;
    void *tls_ctx = NULL, *tls = NULL;
    if (req.tls_ca[0] &&
        (!(tls_ctx = vmm_mig_tls_ctx(0, req.tls_ca, req.tls_cert, req.tls_key, err, sizeof err)) ||
         !(tls = vmm_mig_tls_handshake(tls_ctx, s, 0, err, sizeof err)))) {
        set_error("%s", err);
        rc = -EPROTO;
        goto out_sock;
    }
    if ((rc = vmm_mig_send_hello(s, vm->ram_size, vmm_config_json(vm)))) {
        set_error("sending HELLO: %s", strerror(-rc));
        goto out_sock;
    }
    if ((rc = track_start(vm))) {
        set_error("dirty logging: %s", strerror(-rc));
        goto out_sock;
    }
    if (vm->dring_entries)
        st_info("vmm.migrate", "dirty tracking: KVM's dirty ring, %u entries per vCPU",
                vm->dring_entries);
    else
        st_info("vmm.migrate", "dirty tracking: KVM_GET_DIRTY_LOG bitmaps");
    if (req.block_migration && (rc = vmm_mirror_start(vm, s, should_stop, err, sizeof err))) {
        set_error("block migration: %s", err);
        goto out_track;
    }
    uint64_t round = 0, pending = track_pending(), disk_left = 0;
    double bw = 0; /* bytes per ms */
    set_progress(0, pending * PAGE);
    for (;;) {
        double r0 = now_ms();
        uint64_t b0 = g_t.sent_bytes;
        if ((rc = send_todo(vm, s, 0))) {
            if (rc != -ECANCELED)
                send_failed(s, rc);
            goto out_track;
        }
        if ((rc = vmm_mirror_send(vm, s, &g_t.sent_bytes))) {
            if (rc != -ECANCELED)
                set_error("sending disk blocks: %s", strerror(-rc));
            goto out_track;
        }
        uint8_t rb[8];
        round++;
        memcpy(rb, &round, 8);
        if ((rc = vmm_mig_send(s, VMM_MIG_ROUND_END, 0, rb, 8, NULL, 0))) {
            send_failed(s, rc);
            goto out_track;
        }
        double took = now_ms() - r0;
        if (took < 1)
            took = 1;
        uint64_t sent = g_t.sent_bytes - b0;
        if (sent > (1u << 20) || bw == 0)
            bw = (double)sent / took; /* a round too small to measure keeps the last figure */
        double h0 = now_ms();
        int64_t dirtied = track_harvest(vm);
        double fetch_ms = now_ms() - h0;
        if (dirtied < 0) {
            set_error(vm->dring_entries ? "KVM_RESET_DIRTY_RINGS: %s" : "KVM_GET_DIRTY_LOG: %s",
                      strerror((int)-dirtied));
            goto out_track;
        }
        pending = track_pending();
        disk_left = vmm_mirror_harvest();
        set_progress(round, pending * PAGE);
        double need = bw > 0 ? (double)(pending * PAGE + disk_left) / bw : 1e9;
        int timed_out = req.timeout_ms && now_ms() - t0 >= (double)req.timeout_ms;
        st_info("vmm.migrate",
                "round %llu: %llu KiB in %.0f ms (%.1f MiB/s), %lld pages dirtied meanwhile "
                "(fetched in %.2f ms), %llu KiB left and %llu KiB of disk (%.0f ms at this rate), "
                "throttle %d %%",
                (unsigned long long)round, (unsigned long long)(sent >> 10), took,
                bw * 1000 / (1 << 20), (long long)dirtied, fetch_ms,
                (unsigned long long)(pending * PAGE >> 10), (unsigned long long)(disk_left >> 10),
                need, pct);
        if (should_stop(0)) {
            rc = -ECANCELED;
            goto out_track;
        }
        if (timed_out && !req.force) {
            pthread_mutex_lock(&g.lock);
            snprintf(g.error, sizeof g.error, "timed out after %llu ms (on_timeout=cancel)",
                     (unsigned long long)req.timeout_ms);
            pthread_mutex_unlock(&g.lock);
            end = MIG_CANCELLED;
            goto out_track;
        }
        if (need <= (double)req.downtime_ms && !timed_out && bw > 0) {
            /* Converged but for what the socket still holds: let it go out first, the guest
             * running (at most as long as it would take at this rate, twice over), then
             * count again what the guest dirtied meanwhile; over the budget, another round.
             * All of it, not only what exceeds the budget: the budget is a ceiling, and the
             * pause has costs of its own (parking, the state, the target's part) that are
             * not known before it. Bytes the target's kernel acknowledged but its receiver
             * has not read yet are not counted here: its receive buffer is bounded
             * (VMM_MIG_RCVBUF). */
            uint64_t q = sock_queued(s);
            if (q > 0) {
                double waited = drain_socket(s, 2 * (double)q / bw);
                if ((dirtied = track_harvest(vm)) < 0) {
                    set_error(vm->dring_entries ? "KVM_RESET_DIRTY_RINGS: %s"
                                                : "KVM_GET_DIRTY_LOG: %s",
                              strerror((int)-dirtied));
                    goto out_track;
                }
                pending = track_pending();
                disk_left = vmm_mirror_harvest();
                need = (double)(pending * PAGE + disk_left) / bw;
                st_info("vmm.migrate",
                        "round %llu: waited %.0f ms for the %llu KiB the socket held (%llu KiB "
                        "now), the guest dirtying %lld pages meanwhile: %llu KiB left (%.0f ms)",
                        (unsigned long long)round, waited, (unsigned long long)(q >> 10),
                        (unsigned long long)(sock_queued(s) >> 10), (long long)dirtied,
                        (unsigned long long)(pending * PAGE >> 10), need);
                set_progress(round, pending * PAGE);
            }
        }
        if (need <= (double)req.downtime_ms || round >= req.max_rounds || timed_out)
            break;
        /* Auto-converge: the guest dirtied more than half of what the link carried. */
        if ((double)dirtied * PAGE > (double)sent / 2 && round > 1) {
            if (++slow >= 2) {
                pct =
                    pct ? (pct + THROTTLE_STEP > THROTTLE_MAX ? THROTTLE_MAX : pct + THROTTLE_STEP)
                        : THROTTLE_FIRST;
                set_throttle(pct);
            }
        } else
            slow = 0;
    }
    /* The final round, on the event thread. */
    pthread_mutex_lock(&g.lock);
    g.round = round + 1;
    g.final_done = 0;
    pthread_mutex_unlock(&g.lock);
    if (event_base_once(vm->base, -1, EV_TIMEOUT, final_cb, (void *)(intptr_t)s, NULL) < 0) {
        set_error("%s", "cannot reach the event thread");
        goto out_track;
    }
    pthread_mutex_lock(&g.lock);
    while (!g.final_done && !g.quit)
        pthread_cond_wait(&g.cond, &g.lock);
    rc = g.final_done ? g.final_rc : -ECANCELED;
    g.final_done = 0;
    pthread_mutex_unlock(&g.lock);
    set_throttle(0);
    __atomic_store_n(&vm->throttle_ns, 0, __ATOMIC_RELAXED);
    double total = now_ms() - t0;
    if (!rc) {
        pthread_mutex_lock(&g.lock);
        g.downtime_ms = g_fin.answered - g_fin.t0;
        g.total_ms = total;
        g.remaining = 0;
        pthread_mutex_unlock(&g.lock);
        st_info("vmm.migrate",
                "migrated to %s: %llu rounds, %llu MiB sent (%llu pages, %llu of them zero "
                "flags), %.0f ms in all; downtime (pause to the target's ack, its vCPUs "
                "running) %.1f ms, of it parking the vCPUs %.1f ms, reading the state %.1f ms "
                "(%zu bytes), the last disk blocks (block migration) and releasing the disks "
                "%.1f ms, the last %llu pages (fetched in %.2f ms) and the state "
                "%.1f ms, the target %.1f ms; throttle %d %%; dirty tracking %s (%llu ring-full "
                "exits)",
                req.uri, (unsigned long long)(round + 1),
                (unsigned long long)(g_t.sent_bytes >> 20), (unsigned long long)g_t.sent_pages,
                (unsigned long long)g_t.zero_pages, total, g_fin.answered - g_fin.t0,
                g_fin.parked - g_fin.t0, g_fin.state - g_fin.parked, g_fin.state_len,
                g_fin.released - g_fin.state, (unsigned long long)g_fin.last_pages,
                g_fin.harvested - g_fin.released, g_fin.sent - g_fin.released,
                g_fin.answered - g_fin.sent, pct, vm->dring_entries ? "ring" : "bitmap",
                (unsigned long long)(__atomic_load_n(&vm->dring_full, __ATOMIC_RELAXED) -
                                     g_t.ring_full0));
        end = MIG_COMPLETED;
        goto out_sock; /* dirty logging stays: the vCPUs never run here again */
    }
    if (rc == -ETIMEDOUT) {
        end = MIG_FAILED; /* paused here, see final_round */
        goto out_track;
    }
out_track:
    set_throttle(0);
    __atomic_store_n(&vm->throttle_ns, 0, __ATOMIC_RELAXED);
    track_stop(vm);
out_sock:
    vmm_mirror_stop(vm);
    pthread_mutex_lock(&g.lock);
    if (end != MIG_COMPLETED && g.cancel && end != MIG_CANCELLED) {
        end = MIG_CANCELLED;
        snprintf(g.error, sizeof g.error, "cancelled (DELETE /vm/migrate)");
    } else if (end == MIG_FAILED && rc == -ECANCELED && g_cancel_at > 0 &&
               now_ms() >= g_cancel_at) {
        end = MIG_CANCELLED;
        snprintf(g.error, sizeof g.error, "timed out after %llu ms (on_timeout=cancel)",
                 (unsigned long long)req.timeout_ms);
    }
    g.total_ms = now_ms() - t0;
    g.sock = -1;
    pthread_mutex_unlock(&g.lock);
    vmm_mig_tls_end(s, tls, tls_ctx);
    close(s);
    if (end != MIG_COMPLETED)
        st_error("vmm.migrate", "to %s: %s%s", req.uri, g.error,
                 rc == -ETIMEDOUT ? "" : "; the guest goes on here");
    return end;
}

static void *worker_main(void *arg)
{
    vmm_vm *vm = arg;
    pthread_setname_np(pthread_self(), "mig-worker");
    /* A target makes it before the event thread drops its capabilities (capset is a
     * thread's own): it drops its own. */
    if (vmm_drop_privileges() < 0 || (vm->cfg->seccomp && vmm_sandbox_migrate() < 0))
        return NULL;
    pthread_mutex_lock(&g.lock);
    for (;;) {
        while (!g.go && !g.quit)
            pthread_cond_wait(&g.cond, &g.lock);
        if (g.quit)
            break;
        g.go = 0;
        pthread_mutex_unlock(&g.lock);
        st_info("vmm.migrate", "migrating to %s", g.req.uri);
        int end = migrate(vm);
        pthread_mutex_lock(&g.lock);
        g.state = end;
    }
    pthread_mutex_unlock(&g.lock);
    return NULL;
}

int vmm_migrate_threads_start(vmm_vm *vm)
{
    int rc;
    if (g.have_worker && g.have_throttler)
        return 0; /* a migration's target made them in its early build */
    g.vm = vm;
    /* OpenSSL reads its configuration now, before the worker's filter (TLS is optional). */
    OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL);
    if ((rc = pthread_create(&g.worker, NULL, worker_main, vm)))
        return -rc;
    g.have_worker = 1;
    if ((rc = pthread_create(&g.throttler, NULL, throttle_main, vm)))
        return -rc;
    g.have_throttler = 1;
    return 0;
}

/* ---- target ---------------------------------------------------------------------------- */

static void nack(int s, const char *why)
{
    st_error("vmm.migrate", "refusing the incoming VM: %s", why);
    vmm_mig_send(s, VMM_MIG_NACK, 0, NULL, 0, why,
                 strlen(why) < VMM_MIG_MSG_MAX ? strlen(why) : VMM_MIG_MSG_MAX);
}

/* The source's config against this host's: what the guest sees must be the same. */
static int compatible(const vmm_config *src, const vmm_config *dst, uint64_t ram, char *err,
                      size_t errlen)
{
    if (ram != dst->memory_mib << 20 || src->memory_mib != dst->memory_mib) {
        snprintf(err, errlen, "memory: the source has %llu MiB, this config %llu MiB",
                 (unsigned long long)(ram >> 20), (unsigned long long)dst->memory_mib);
        return 0;
    }
    if (src->vcpus != dst->vcpus) {
        snprintf(err, errlen, "vCPUs: the source has %d, this config %d", src->vcpus, dst->vcpus);
        return 0;
    }
    if (!!src->firmware != !!dst->firmware || src->rng != dst->rng ||
        src->cpuid_disable != dst->cpuid_disable || src->assign_bars != dst->assign_bars) {
        snprintf(err, errlen, "the boot mode, rng, cpuid_disable or assign_bars differ");
        return 0;
    }
    if (src->ndisks != dst->ndisks || src->nnics != dst->nnics) {
        snprintf(err, errlen, "devices: the source has %d disks and %d NICs, this config %d and %d",
                 src->ndisks, src->nnics, dst->ndisks, dst->nnics);
        return 0;
    }
    for (int i = 0; i < src->ndisks; i++)
        if (strcmp(src->disks[i].id, dst->disks[i].id) ||
            src->disks[i].read_only != dst->disks[i].read_only) {
            snprintf(err, errlen, "disk %d: the source's is %s%s, this config's %s%s", i,
                     src->disks[i].id, src->disks[i].read_only ? " (read-only)" : "",
                     dst->disks[i].id, dst->disks[i].read_only ? " (read-only)" : "");
            return 0;
        }
    for (int i = 0; i < src->nnics; i++)
        if (strcmp(src->nics[i].id, dst->nics[i].id) || src->nics[i].model != dst->nics[i].model ||
            memcmp(src->nics[i].mac, dst->nics[i].mac, 6) || src->nics[i].mtu != dst->nics[i].mtu) {
            snprintf(err, errlen,
                     "NIC %d: the source's %s and this config's %s differ in id, "
                     "model, MAC or MTU",
                     i, src->nics[i].id, dst->nics[i].id);
            return 0;
        }
    return 1;
}

int vmm_migrate_compatible(const vmm_config *src, const vmm_config *dst, uint64_t ram,
                           const char *dst_fw_sha256, char *err, size_t errlen)
{
    if (!compatible(src, dst, ram, err, errlen))
        return 0;
    /* The target loads its own image (as a restore does): the guest's copy of the BIOS in
     * RAM, and the code it runs from the ROM, must be that image's. A source without the
     * digest (its config as given, no "firmware_sha256") cannot be checked. */
    if (src->firmware && src->firmware_sha256[0] && strcmp(src->firmware_sha256, dst_fw_sha256)) {
        snprintf(
            err, errlen,
            "firmware: the VM runs the image with SHA-256 %.16s..., this host's %s is %s%.16s%s",
            src->firmware_sha256, dst->firmware,
            dst_fw_sha256[0] ? "another (SHA-256 " : "unreadable", dst_fw_sha256,
            dst_fw_sha256[0] ? "...)" : "");
        return 0;
    }
    return 1;
}

/* Pages the source says are zero: freed, so that they read as zero (a hole of the memfd, or
 * private pages dropped; never-touched ones cost nothing). */
static void punch(void *opaque, uint8_t *hva, uint64_t len)
{
    (void)opaque;
    if (g.memfd >= 0 ? fallocate(g.memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                 (off_t)(hva - g.ram), (off_t)len) < 0
                     : madvise(hva, len, MADV_DONTNEED) < 0)
        memset(hva, 0, len);
}

static void finish_incoming(evutil_socket_t fd, short what, void *arg);

/* The early build (as QEMU's and Cloud Hypervisor's targets do): once HELLO is accepted the
 * event thread builds the VM around the RAM the pages are written into (KVM slots over it
 * are harmless while no vCPU runs; the receiver writes through its own view), so that
 * after STATE only the state is put back. The receiver waits for a running build before it
 * stops the process (which kicks the vCPUs being created) and for the build before it hands
 * STATE over; a build that failed is answered when STATE comes, as it was before (the source
 * learns it once it sent everything). */
enum { BUILD_NONE, BUILD_QUEUED, BUILD_RUNNING, BUILD_DONE, BUILD_FAILED, BUILD_SKIPPED };

static void build_incoming(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    vmm_vm *vm = arg;
    char err[512] = "";
    pthread_mutex_lock(&g.lock);
    int go = g.build == BUILD_QUEUED && !g.quit;
    g.build = go ? BUILD_RUNNING : BUILD_SKIPPED;
    pthread_mutex_unlock(&g.lock);
    if (!go)
        return;
    double t0 = now_ms();
    int rc = 0;
    /* Shared RAM: the VM's own descriptor of the memfd (closed with it); the receiver keeps
     * punching holes through g.memfd. Private: the VM takes the receiver's RAM itself. */
    if (g.memfd >= 0 && (vm->ram_memfd = fcntl(g.memfd, F_DUPFD_CLOEXEC, 0)) < 0) {
        snprintf(err, sizeof err, "guest RAM: %s", strerror(errno));
        rc = -1;
    }
    if (g.memfd < 0)
        vm->ram_adopt = g.ram;
    vm->built_early = 1;
    if (!rc)
        rc = vmm_build_restored(vm, g.cfg, -1, err, sizeof err);
    pthread_mutex_lock(&g.lock);
    g.ram_adopted = g.memfd < 0 && !rc; /* the guest will run on it: never unmapped here */
    pthread_mutex_unlock(&g.lock);
    double t1 = now_ms();
    /* The threads started after STATE install theirs without building them. */
    if (!rc && g.cfg->seccomp)
        vmm_sandbox_prepare();
    /* The migration's own threads (for this VM's later migrations) are made now, not in the
     * downtime: two threads, and OpenSSL reading its configuration. */
    if (!rc && (rc = vmm_migrate_threads_start(vm)))
        snprintf(err, sizeof err, "the migration threads: %s", strerror(-rc));
    double t2 = now_ms();
    if (rc)
        st_error("vmm.migrate", "building the VM while the pages come: %s", err);
    else
        st_info("vmm.migrate",
                "the VM built while the pages come, in %.1f ms (and the seccomp filters and "
                "the migration threads %.1f)",
                t1 - t0, t2 - t1);
    pthread_mutex_lock(&g.lock);
    g.build = rc ? BUILD_FAILED : BUILD_DONE;
    g.build_ms = t1;
    snprintf(g.build_err, sizeof g.build_err, "%s", err);
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
}

/* Waits for a queued or running build (until stopped); with running_only, for a running one
 * alone, and a queued one never runs. Its BUILD_* then. */
static int build_wait(int running_only)
{
    pthread_mutex_lock(&g.lock);
    if (running_only && g.build == BUILD_QUEUED)
        g.build = BUILD_SKIPPED;
    while ((g.build == BUILD_QUEUED || g.build == BUILD_RUNNING) && !g.quit)
        pthread_cond_wait(&g.cond, &g.lock);
    int b = g.build;
    pthread_mutex_unlock(&g.lock);
    return b;
}

/* Receives everything up to STATE; 0, or a refusal (NACK sent). */
static int receive(int s, vmm_vm *vm)
{
    char err[600], msg[480], writer[VMM_SNAP_WRITER_MAX];
    vmm_mig_frame f;
    vmm_config src;
    uint64_t ram;
    const char *text;
    size_t tlen;
    int rc;
    g.rx = (vmm_mig_rx){.target = 1};
    if ((rc = vmm_mig_recv(s, &g.rx, &f, NULL, NULL, msg, sizeof msg))) {
        snprintf(err, sizeof err, "bad frame: %s", msg);
        goto refuse;
    }
    rc = vmm_mig_hello_parse(&f, &ram, writer, sizeof writer, &text, &tlen, msg, sizeof msg);
    if (!rc && (rc = vmm_config_parse(&src, text, tlen, msg, sizeof msg)) == 0) {
        if (!vmm_migrate_compatible(&src, g.cfg, ram, g.fw_sha256, msg, sizeof msg))
            rc = -EINVAL;
        vmm_config_free(&src);
    }
    vmm_mig_frame_free(&f);
    if (rc) {
        snprintf(err, sizeof err, "HELLO: %s", msg);
        goto refuse;
    }
    st_info("vmm.migrate", "receiving a VM of %llu MiB from a process of %s",
            (unsigned long long)(ram >> 20), writer);
    pthread_mutex_lock(&g.lock);
    g.build = BUILD_QUEUED;
    pthread_mutex_unlock(&g.lock);
    if (event_base_once(vm->base, -1, EV_TIMEOUT, build_incoming, vm, NULL) < 0) {
        snprintf(err, sizeof err, "cannot reach the event thread");
        goto refuse;
    }
    /* Guest RAM as the VM will map it (kvm.c): below 3 GiB from 0, the rest at 4 GiB. */
    vmm_gmem mem = {.n = 1};
    uint64_t low = ram < VMM_LOW_RAM_END ? ram : VMM_LOW_RAM_END;
    mem.r[0] = (vmm_gmem_region){0, low, g.ram};
    if (ram > low)
        mem.r[mem.n++] = (vmm_gmem_region){VMM_HIGH_RAM_START, ram - low, g.ram + low};
    g.rx.mem = &mem;
    /* When the last round's first frame came (the first after the previous ROUND_END), for the
     * log: how long the pages sent during the downtime took to arrive. */
    uint64_t seen_round = g.rx.last_round;
    double began = 0; /* 0: the next frame begins a round */
    for (;;) {
        if ((rc = vmm_mig_recv(s, &g.rx, &f, punch, NULL, msg, sizeof msg))) {
            snprintf(err, sizeof err, "bad frame: %s", msg);
            goto refuse;
        }
        if (!began)
            began = now_ms();
        if (g.rx.last_round != seen_round) { /* ROUND_END */
            seen_round = g.rx.last_round;
            g.round_began = began;
            began = 0;
        }
        pthread_mutex_lock(&g.lock);
        g.transferred = g.rx.bytes;
        g.round = g.rx.last_round;
        pthread_mutex_unlock(&g.lock);
        if (f.kind == VMM_MIG_DISK_BEGIN || f.kind == VMM_MIG_DISK) {
            rc = vmm_mirror_recv(g.cfg, &f, msg, sizeof msg);
            vmm_mig_frame_free(&f);
            if (rc) {
                snprintf(err, sizeof err, "block migration: %s", msg);
                goto refuse;
            }
            continue;
        }
        if (f.kind == VMM_MIG_STATE)
            break;
    }
    g.state_came = now_ms();
    g.rx.mem = NULL;
    if ((rc = vmm_mirror_finish(msg, sizeof msg))) { /* the disks complete before the VM runs */
        vmm_mig_frame_free(&f);
        snprintf(err, sizeof err, "block migration: %s", msg);
        goto refuse;
    }
    rc = vmm_snap_read(&g.snap, f.buf, f.len, msg, sizeof msg);
    vmm_mig_frame_free(&f);
    if (rc) {
        snprintf(err, sizeof err, "vmstate: %s", msg);
        goto refuse;
    }
    if (g.snap.nvcpus != g.cfg->vcpus) {
        vmm_snap_free(&g.snap);
        snprintf(err, sizeof err, "vmstate holds %d vCPUs, this config %d", g.snap.nvcpus,
                 g.cfg->vcpus);
        goto refuse;
    }
    if (build_wait(0) != BUILD_DONE) {
        vmm_snap_free(&g.snap);
        pthread_mutex_lock(&g.lock);
        snprintf(err, sizeof err, "building the VM: %s", g.build_err[0] ? g.build_err : "stopped");
        pthread_mutex_unlock(&g.lock);
        goto refuse;
    }
    g.state_read = now_ms();
    return 0;
refuse:
    build_wait(1); /* never stopped while the event thread creates vCPUs that a stop kicks */
    vmm_mirror_abort();
    nack(s, err);
    set_error("%s", err);
    vmm_vm_stop(vm, 2);
    return -1;
}

/* The receiver's mapping of guest RAM and its descriptor of the memfd (the VM has its own);
 * private RAM a VM was built on stays (the guest runs on it until the process ends). Whether
 * anything was unmapped. */
static int drop_receiver_ram(void)
{
    pthread_mutex_lock(&g.lock);
    int mine = g.ram && !g.ram_adopted;
    pthread_mutex_unlock(&g.lock);
    if (mine)
        munmap(g.ram, g.ram_size);
    g.ram = NULL;
    if (g.memfd >= 0)
        close(g.memfd);
    g.memfd = -1;
    return mine;
}

/* finish_incoming answered the source: the receiver may drop its mapping. */
static void answered(void)
{
    pthread_mutex_lock(&g.lock);
    g.finished = 1;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
}

static void *receiver_main(void *arg)
{
    vmm_vm *vm = arg;
    pthread_setname_np(pthread_self(), "mig-incoming");
    /* It reads what the network sends: no capabilities, and the worker's filter. */
    if (vmm_drop_privileges() < 0 || (g.cfg->seccomp && vmm_sandbox_migrate() < 0)) {
        vmm_vm_stop(vm, 1);
        return NULL;
    }
    int s;
    do {
        s = accept4(g.listen_fd, NULL, NULL, SOCK_CLOEXEC);
    } while (s < 0 && errno == EINTR && !should_stop(1));
    if (s < 0) {
        if (!should_stop(1)) {
            set_error("accept: %s", strerror(errno));
            st_error("vmm.migrate", "accept: %s", strerror(errno));
            vmm_vm_stop(vm, 1);
        }
        return NULL;
    }
    close(g.listen_fd); /* one connection */
    g.listen_fd = -1;
    sock_options(s);
    pthread_mutex_lock(&g.lock);
    g.sock = s;
    pthread_mutex_unlock(&g.lock);
    char err[300];
    if (g.tls_ctx && !(g.tls = vmm_mig_tls_handshake(g.tls_ctx, s, 1, err, sizeof err))) {
        set_error("%s", err);
        st_error("vmm.migrate", "refusing the incoming VM: %s", err);
        vmm_vm_stop(vm, 2);
        return NULL;
    }
    if (receive(s, vm))
        return NULL;
    if (event_base_once(vm->base, -1, EV_TIMEOUT, finish_incoming, vm, NULL) < 0) {
        nack(s, "cannot reach the event thread");
        vmm_vm_stop(vm, 2);
        return NULL;
    }
    /* Its mapping of guest RAM goes once the event thread answered: unmapping the pages it
     * wrote (a 256 MiB Linux guest's 82 MiB: 143 ms in the nested test host) is then neither
     * downtime nor a stall of the event thread, which serves the devices. */
    pthread_mutex_lock(&g.lock);
    while (!g.finished && !g.quit)
        pthread_cond_wait(&g.cond, &g.lock);
    pthread_mutex_unlock(&g.lock);
    double t0 = now_ms();
    if (drop_receiver_ram())
        st_info("vmm.migrate", "the receiver's mapping of guest RAM dropped in %.1f ms",
                now_ms() - t0);
    return NULL;
}

/* Event thread, the VM built (build_incoming): its disks opened, the state put back, the
 * vCPUs started, ACK. */
static void finish_incoming(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    vmm_vm *vm = arg;
    char err[600];
    double t0 = now_ms();
    int rc = disks(vm, 0);
    if (rc)
        snprintf(err, sizeof err, "opening the disks: %s", strerror(-rc));
    else if (!g.cfg->serial_log && (rc = vmm_serial_start_input(vm->serial, vm->base)))
        snprintf(err, sizeof err, "serial input: %s", strerror(-rc));
    double t1 = now_ms();
    if (!rc)
        rc = vmm_run_restored(vm, g.cfg, &g.snap, err, sizeof err);
    vmm_snap_free(&g.snap);
    if (rc) {
        /* Never two processes running one guest: every vCPU a late failure started is gone
         * before the NACK that lets the source resume. */
        vmm_vm_stop(vm, 2);
        vmm_vcpus_join(vm);
        nack(g.sock, err);
        set_error("%s", err);
        answered();
        return;
    }
    vmm_mig_send(g.sock, VMM_MIG_ACK, 0, NULL, 0, NULL, 0);
    double t2 = now_ms();
    answered();
    vmm_tap_announce(vm->base, g.cfg); /* the guest is here now: tell this host's network */
    st_info("vmm.migrate",
            "migrated in: %llu MiB of RAM, %llu pages and %llu bytes received in %llu rounds; "
            "the last round's frames came over %.1f ms up to the state; "
            "the VM built %.1f ms %s the state came, running %.1f ms after it (reading the "
            "state %.1f, to the event thread %.1f, disks opened %.1f, state put back and vCPUs "
            "started %.1f)",
            (unsigned long long)(g.ram_size >> 20), (unsigned long long)g.rx.pages,
            (unsigned long long)g.rx.bytes, (unsigned long long)g.rx.last_round,
            g.state_came - g.round_began,
            g.build_ms <= g.state_came ? g.state_came - g.build_ms : g.build_ms - g.state_came,
            g.build_ms <= g.state_came ? "before" : "after", t2 - g.state_came,
            g.state_read - g.state_came, t0 - g.state_read, t1 - t0, t2 - t1);
    pthread_mutex_lock(&g.lock);
    g.state = MIG_NONE; /* a VM of this process now, which may migrate on */
    pthread_mutex_unlock(&g.lock);
}

int vmm_migrate_incoming_tls(const char *ca, const char *cert, const char *key, char *err,
                             size_t errlen)
{
    OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL);
    g.tls_ctx = vmm_mig_tls_ctx(1, ca, cert, key, err, errlen);
    return g.tls_ctx ? 0 : -EINVAL;
}

int vmm_migrate_incoming(vmm_vm *vm, const vmm_config *cfg, int listen_fd)
{
    g.vm = vm;
    g.cfg = cfg;
    g.listen_fd = listen_fd;
    g.state = MIG_INCOMING;
    g.total = g.ram_size = cfg->memory_mib << 20;
    char err[300];
    if (cfg->firmware && vmm_fw_digest(cfg->firmware, g.fw_sha256, err, sizeof err))
        st_warn("vmm.migrate", "firmware %s (a firmware VM will be refused)", err);
    /* Guest RAM as the VM will have it (kvm.c), made here (the receiver's filter allows no
     * memfd_create): shared RAM is a memfd the VM adopts, the receiver writing through its own
     * mapping; private RAM is the mapping the VM is then built on, written in place. Private
     * RAM keeps the host's huge pages, which a memfd (shmem) gets only where the host's
     * shmem_enabled allows, and vmm_ram_shared chooses shared RAM only there: a target that
     * always used a memfd left a migrated guest on 4 KiB pages, each first touched after the
     * move a fault in the nested page tables (the count guest stalled 33-52 ms past its
     * period after a move on this host's KVM; 2-25 ms on private RAM). */
    if (vmm_ram_shared(cfg)) {
        g.memfd = memfd_create("stratus-vmm-ram", MFD_CLOEXEC);
        if (g.memfd < 0 || ftruncate(g.memfd, (off_t)g.ram_size) < 0)
            return -errno;
        g.ram =
            mmap(NULL, g.ram_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, g.memfd, 0);
        if (g.ram == MAP_FAILED) {
            g.ram = NULL;
            return -errno;
        }
        madvise(g.ram, g.ram_size, MADV_HUGEPAGE);
    } else if (!(g.ram = vmm_ram_alloc(g.ram_size)))
        return -errno;
    digest_warm();
    int rc = pthread_create(&g.receiver, NULL, receiver_main, vm);
    if (rc)
        return -rc;
    g.have_receiver = 1;
    return 0;
}

void vmm_migrate_stop(void)
{
    pthread_mutex_lock(&g.lock);
    g.quit = 1;
    g.cancel = 1;
    if (g.sock >= 0)
        shutdown(g.sock, SHUT_RDWR);
    if (g.listen_fd >= 0)
        shutdown(g.listen_fd, SHUT_RDWR);
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
    if (g.have_worker)
        pthread_join(g.worker, NULL);
    if (g.have_throttler)
        pthread_join(g.throttler, NULL);
    if (g.have_receiver)
        pthread_join(g.receiver, NULL);
    g.have_worker = g.have_throttler = g.have_receiver = 0;
    vmm_mig_tls_end(g.sock, g.tls, g.tls_ctx);
    g.tls = g.tls_ctx = NULL;
    if (g.sock >= 0)
        close(g.sock);
    if (g.listen_fd >= 0)
        close(g.listen_fd);
    g.sock = g.listen_fd = -1;
    drop_receiver_ram();
    if (g_t.pagemap >= 0)
        close(g_t.pagemap);
    g_t.pagemap = -1;
    for (int i = 0; i < VMM_GMEM_MAX_REGIONS; i++) {
        if (g.vm) {
            __atomic_store_n(&g.vm->gmem.dirty[i], NULL, __ATOMIC_RELEASE);
            /* Under the reapers' lock: none holds the bitmap freed below once it is released. */
            pthread_mutex_lock(&g.vm->dring_lock);
            __atomic_store_n(&g.vm->dring_bits[i], NULL, __ATOMIC_RELEASE);
            pthread_mutex_unlock(&g.vm->dring_lock);
        }
        free(g_t.marks[i]);
        free(g_t.ring[i]);
        g_t.marks[i] = g_t.ring[i] = NULL;
    }
}
