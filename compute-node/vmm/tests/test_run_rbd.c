/*
 * vmm_run_rbd - a VM whose disk is a Ceph RBD image, under stratus-vmm, which loads librbd only
 * for such a disk (stratus_disk_dlrbd). A throwaway single-node Ceph
 * (image-store/tests/ceph-cluster.sh, its pool "images"):
 *   - the test guest's blk scenario writes a pattern through virtio-blk onto an RBD image with
 *     the VMM's seccomp filters on; the host reads the image back through librbd (the disk
 *     library linked with it) and finds the pattern; a second run of the guest finds it too;
 *   - a VM without an RBD disk has no librbd mapped, one with an RBD disk has it;
 *   - an image that does not exist: the VMM does not start, and says which image.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "st_proc.h"
#include "st_test.h"
#include "stratus/disk.h"
#include "vg.h"

static vg_vm vm;
static char *cdir, conf[600], out[8192];
static int have_cluster;

static int setup(void)
{
    if (!guest_kvm_available())
        st_skip("/dev/kvm is not available");
    if (!st_disk_rbd_available())
        st_skip("the disk library was built without librbd");
    cdir = st_tmpdir("vmm-rbd");
    if (st_ceph_start(cdir, conf, sizeof conf) < 0)
        return -1;
    have_cluster = 1;
    /* These VMMs run with their seccomp filters on; in a sanitizer build, LeakSanitizer's
     * exit-time scan makes calls no filter allows (tests/linux/README.md), so it is off in them
     * (this program's own, set when it started, stays on). */
    const char *a = getenv("ASAN_OPTIONS");
    char opts[600];
    snprintf(opts, sizeof opts, "%.500s%sdetect_leaks=0", a ? a : "", a && *a ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    return vg_init(&vm, "rbd");
}

static int teardown(void)
{
    if (have_cluster) {
        st_ceph_stop(cdir);
    }
    if (cdir) {
        st_rmtree(cdir);
        free(cdir);
    }
    vg_cleanup(&vm);
    return 0;
}

/* The VM's disk0: the RBD image images/NAME, writable, with the seccomp filters on. */
static void set_rbd_disk(const char *name)
{
    char extra[1500];
    snprintf(extra, sizeof extra,
             "\"seccomp\": true, \"disks\": [{\"path\": \"rbd:images/%s:conf=%s\", "
             "\"format\": \"raw\"}]",
             name, conf);
    vg_set(&vm, extra);
}

static void test_guest_writes_through_librbd(void)
{
    guest_result r;
    ST_ASSERT_INT_EQ_FATAL(
        st_run(out, sizeof out, "rbd -c '%s' create --size 16M images/%s", conf, "vm-disk"), 0);
    set_rbd_disk("vm-disk");
    ST_ASSERT_INT_EQ(vg_run(&vm, "scenario=blk blk.start=16 blk.count=8 blk.seed=5", 60000, &r),
                     GUEST_PASS);
    guest_result_free(&r);
    /* the host's view: the image read back through librbd holds the guest's sectors */
    char path[900], err[256];
    snprintf(path, sizeof path, "rbd:images/vm-disk:conf=%s", conf);
    st_disk *d = NULL;
    ST_ASSERT_INT_EQ_FATAL(st_disk_open_ex(path, ST_DISK_RDONLY, &d, err, sizeof err), 0);
    int same = 1;
    for (uint64_t s = 16; s < 24; s++) {
        uint8_t want[512], got[512];
        guest_blk_pattern(s, 5, want);
        same &= st_disk_pread(d, got, sizeof got, s * 512) == (ssize_t)sizeof got &&
                !memcmp(got, want, sizeof want);
    }
    st_disk_close(d);
    CU_ASSERT(same);
    /* and a new VM on the same image finds them */
    ST_ASSERT_INT_EQ(
        vg_run(&vm, "scenario=blk blk.start=16 blk.count=8 blk.seed=5 blk.check=1", 60000, &r),
        GUEST_PASS);
    guest_result_free(&r);
}

/* Whether the running process pid has librbd mapped (-1: no maps). */
static int maps_librbd(pid_t pid)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(p, "r");
    if (!f)
        return -1;
    char line[1024];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, "/librbd.so") != NULL;
    fclose(f);
    return found;
}

/* librbd maps only into a VMM with an RBD disk: the VM runs the count scenario long enough. */
static int librbd_in_running_vm(const char *extra)
{
    guest_proc p;
    guest_result r;
    vg_set(&vm, extra);
    if (vg_spawn(&vm, "scenario=count count.n=300 count.ms=100", &p) < 0)
        return -1;
    int found = -1;
    for (int k = 0; k < 100; k++) { /* until the guest counts: the disk is open by then */
        usleep(100000);
        char *s = vt_slurp(vm.serial);
        int counting = s && strstr(s, "DATA count=1");
        free(s);
        if (counting) {
            found = maps_librbd(p.pid);
            break;
        }
    }
    kill(p.pid, SIGKILL);
    guest_wait(&p, 5000, &r);
    guest_result_free(&r);
    return found;
}

static void test_librbd_only_for_rbd_disks(void)
{
    ST_ASSERT_INT_EQ(librbd_in_running_vm(""), 0);
    ST_ASSERT_INT_EQ_FATAL(
        st_run(out, sizeof out, "rbd -c '%s' create --size 4M images/%s", conf, "vm-maps"), 0);
    char extra[1200];
    snprintf(extra, sizeof extra,
             "\"disks\": [{\"path\": \"rbd:images/vm-maps:conf=%s\", \"format\": \"raw\"}]", conf);
    ST_ASSERT_INT_EQ(librbd_in_running_vm(extra), 1);
}

static void test_missing_image_refused(void)
{
    guest_result r;
    set_rbd_disk("no-such-image");
    CU_ASSERT(vg_run(&vm, "scenario=blk", 60000, &r) != GUEST_PASS);
    guest_result_free(&r);
    char err[400];
    snprintf(err, sizeof err, "%s.err", vm.serial);
    char *log = vt_slurp(err);
    CU_ASSERT(log && strstr(log, "images/no-such-image"));
    if (log && !strstr(log, "images/no-such-image"))
        fprintf(stderr, "the VMM's log:\n%s\n", log);
    free(log);
}

static CU_TestInfo tests[] = {
    {"the guest writes an RBD image through virtio-blk, seccomp on",
     test_guest_writes_through_librbd},
    {"librbd is mapped only by a VMM with an RBD disk", test_librbd_only_for_rbd_disks},
    {"an RBD image that does not exist: the VMM does not start", test_missing_image_refused},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"rbd", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
