/*
 * upgrade.c - the old process's side of a live upgrade.
 *
 * The new process (`stratus-vmm --upgrade-from SOCK`, main.c) listens on SOCK; the old one,
 * told by PUT /vm/upgrade {"socket": SOCK}, pauses the VM (every vCPU parked, as for a
 * snapshot), builds its vmstate in memory (snapshot.c's, no memory file), connects, and
 * sends one STATE frame (upgmsg.h) carrying guest RAM's memfd and each NIC's tap. The new
 * process maps the memfd MAP_SHARED (the same pages: nothing is copied, whatever the size),
 * takes the taps, reopens the disks by path, restores, starts its vCPUs and answers ACK,
 * or NACK with its reason. On ACK the old process maps throwaway anonymous memory over its
 * view of guest RAM, so nothing it still does on its way out (a queued device event) can
 * reach the guest, and exits 0; on anything else it resumes its guest and answers the
 * error: the guest keeps running where it was.
 */
#include "upgrade.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "devices.h"
#include "snapshot.h"
#include "stratus/log.h"
#include "upgmsg.h"

#define UPGRADE_TIMEOUT_S 30 /* the new process restores and answers within this */

static double ms_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static int connect_to(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof a.sun_path) {
        snprintf(err, errlen, "socket path too long");
        return -EINVAL;
    }
    memcpy(a.sun_path, path, strlen(path) + 1);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        int e = errno;
        snprintf(err, errlen, "connecting to %s: %s", path, strerror(e));
        if (s >= 0)
            close(s);
        return -e;
    }
    struct timeval tv = {.tv_sec = UPGRADE_TIMEOUT_S};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return s;
}

static int hand_over(vmm_vm *vm, int s, const uint8_t *state, size_t len, char *err, size_t errlen)
{
    int fds[VMM_UPG_MAX_FDS], nfds = 0, rc;
    const vmm_config *cfg = vm->cfg;
    fds[nfds++] = vm->ram_memfd;
    for (int i = 0; i < cfg->nnics; i++) {
        if ((fds[nfds] = vmm_tap_fd(cfg->nics[i].tap)) < 0) {
            snprintf(err, errlen, "NIC %s: its tap %s is not open", cfg->nics[i].id,
                     cfg->nics[i].tap);
            return -ENOENT;
        }
        nfds++;
    }
    if ((rc = vmm_upg_send(s, VMM_UPG_STATE, state, len, fds, nfds))) {
        snprintf(err, errlen, "sending the state: %s", strerror(-rc));
        return rc;
    }
    uint32_t kind;
    uint8_t *msg;
    size_t mlen;
    int none[1], nnone;
    char why[300];
    if ((rc = vmm_upg_recv(s, &kind, &msg, &mlen, none, &nnone, 0, why, sizeof why))) {
        /* Closed: the new process is gone, and its vCPUs with it. Anything else (no answer in
         * time): it holds the state and may be running the guest. */
        snprintf(err, errlen, "no answer from the new process: %s", why);
        return rc == -EPIPE ? rc : -ETIMEDOUT;
    }
    rc = 0;
    if (kind != VMM_UPG_ACK) {
        snprintf(err, errlen, "the new process refused the VM: %.400s",
                 kind == VMM_UPG_NACK && msg ? (char *)msg : "(unexpected frame)");
        rc = -EPROTO;
    }
    free(msg);
    return rc;
}

int vmm_upgrade_send(vmm_vm *vm, const char *sock_path, char *err, size_t errlen)
{
    struct timespec t0, t1, ts, t2;
    if (vm->ram_memfd < 0) {
        snprintf(err, errlen, "guest RAM is not shared: start the VM with \"memory_shared\": true");
        return -ENOTSUP;
    }
    /* A writable qcow2 image is locked (flock LOCK_EX) by this process and its metadata is
     * cached here: the new process could not open it. Raw disks and read-only images are
     * reopened by path (the page cache is shared). */
    for (int i = 0; i < vm->cfg->ndisks; i++) {
        if (vm->cfg->disks[i].qcow2 && !vm->cfg->disks[i].read_only) {
            snprintf(err, errlen, "disk %s is a writable qcow2 image: not handed over yet",
                     vm->cfg->disks[i].id);
            return -ENOTSUP;
        }
    }
    /* The new process runs what it takes over: a paused VM would not stay paused. */
    if (__atomic_load_n(&vm->state, __ATOMIC_ACQUIRE) != VMM_RUNNING) {
        snprintf(err, errlen, "the VM is not running (paused or stopping): resume it first");
        return -ENOTSUP;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = vmm_vm_pause(vm);
    if (!rc)
        rc = vmm_vm_wait_parked(vm);
    if (rc) {
        snprintf(err, errlen, "pausing the VM: %s", strerror(-rc));
        if (rc != -ESHUTDOWN)
            vmm_vm_resume(vm);
        return rc;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    uint8_t *state = NULL;
    size_t len = 0;
    int s = -1;
    if ((rc = vmm_snapshot_state(vm, &state, &len, err, errlen)))
        goto fail;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if ((s = connect_to(sock_path, err, errlen)) < 0) {
        rc = s;
        goto fail;
    }
    if ((rc = hand_over(vm, s, state, len, err, errlen)))
        goto fail;
    clock_gettime(CLOCK_MONOTONIC, &t2);
    close(s);
    free(state);
    /* The guest is the new process's now: this one's view of its RAM is detached. */
    if (mmap(vm->ram, vm->ram_size, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED)
        st_warn("vmm.upgrade", "detaching guest RAM: %s", strerror(errno));
    st_info("vmm.upgrade",
            "handed over to %s: %zu bytes of state, %llu MiB of RAM not copied; "
            "downtime (pause to the new process's ack, its vCPUs running) %.1f ms, of it "
            "parking the vCPUs %.1f ms, reading the state %.1f ms, the new process %.1f ms",
            sock_path, len, (unsigned long long)(vm->ram_size >> 20), ms_between(&t0, &t2),
            ms_between(&t0, &t1), ms_between(&t1, &ts), ms_between(&ts, &t2));
    return 0;
fail:
    if (s >= 0)
        close(s);
    free(state);
    if (rc == -ETIMEDOUT) {
        /* Never two processes running one guest: it stays paused here. */
        size_t n = strlen(err);
        snprintf(err + n, errlen > n ? errlen - n : 0,
                 "; it took the state and may run the guest: the guest stays paused here (stop"
                 " one of the two processes, then resume this one if the other is gone)");
        st_error("vmm.upgrade", "%s: %s", sock_path, err);
        return rc;
    }
    st_error("vmm.upgrade", "%s: %s; the guest goes on here", sock_path, err);
    vmm_vm_resume(vm);
    return rc;
}
