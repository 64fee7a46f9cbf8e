/*
 * node_ceph and node_ceph_vmm: instance disks on Ceph, and a whole host lost
 * (issue 16's HA test). node_ceph's agents drive libvirt's in-process test
 * hypervisor (no KVM needed); node_ceph_vmm's (ND_CEPH_VMM; skips without
 * /dev/kvm) run real stratus-vmm processes, the test guest booted from a
 * kernel image with its root disk on Ceph, which the VMM opens through
 * librbd. A throwaway single-node Ceph (image-store/tests/ceph-cluster.sh),
 * the image service storing on it, the gateway making new instances' disks
 * there (instances.disk_backend = rbd) and evacuating dead hosts on its own
 * (evacuate.automatic; nodes.down_after 4 s + evacuate.fence_margin 2 s),
 * two agents A and B (fence.timeout 3 s).
 *   - An instance on A gets disk-<id> in the images pool, a clone of the
 *     image's img-<sha256>@base: nothing is downloaded for a firmware boot.
 *   - A pattern is written into that disk, as if the guest had (with real
 *     VMMs, beside the guest, which writes sector K at its count K). A's
 *     agent is killed with SIGKILL, its VMs with it (the test hypervisor
 *     lives in the agent's process; real VMMs are killed with SIGKILL too):
 *     a whole host lost.
 *   - The instance comes back active on B, unasked, within a bounded time
 *     (printed), on the same RBD image (no second clone), the pattern intact;
 *     with real VMMs, one stratus-vmm runs it on B, none on A, and the guest
 *     counts again on B.
 *   - A restarts: it never runs the instance again (no VMM of A's), removes
 *     its leftovers (the evacuation's cleaned_at), and leaves the disk on
 *     Ceph alone.
 *   - The instance's deletion removes its disk from Ceph.
 */
#include "st_cloud.h"
#include "st_test.h"
#include "stratus/disk.h"

#include <jansson.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cloud C;
static char *cdir, conf[600], out[16384];
static int have_cluster;

static int setup(void)
{
#ifdef ND_CEPH_VMM
    if (access("/dev/kvm", R_OK | W_OK) < 0)
        st_skip("/dev/kvm is not available");
#endif
    if (!st_disk_rbd_available())
        st_skip("stratus_disk was built without librbd");
    cdir = st_tmpdir("node-ceph");
    if (st_ceph_start(cdir, conf, sizeof conf) < 0)
        return -1;
    have_cluster = 1;
    cloud_start(&C, "node_ceph");
    char c1[1000];
    snprintf(c1, sizeof c1, "store.rbd_conf=%s", conf);
    const char *images[] = {"store.backend=rbd", c1, "store.rbd_pool=images", NULL};
    const char *gateway[] = {"nodes.down_after=4",         "evacuate.fence_margin=2",
                             "evacuate.automatic=true",    "power.interval_ms=200",
                             "instances.disk_backend=rbd", NULL};
    if (gwt_restart(&C.gw, ST_SVC_IMAGES, images) < 0 ||
        gwt_restart(&C.gw, ST_SVC_GATEWAY, gateway) < 0)
        return -1;
    return 0;
}

static int teardown(void)
{
    if (have_cluster) {
        cloud_stop(&C);
        st_ceph_stop(cdir);
    }
    if (cdir) {
        st_rmtree(cdir);
        free(cdir);
    }
    return 0;
}

static void start_agent(cloud_agent *a, const char *name)
{
    char c1[1000];
    snprintf(c1, sizeof c1, "disk.rbd_conf = %s", conf);
    const char *extra[] = {
#ifdef ND_CEPH_VMM
        "driver = vmm",
#else
        "driver = libvirt",
        "libvirt.uri = test:///default",
#endif
        "fence.timeout = 3",
        "interval.heartbeat_ms = 300",
        "interval.reconcile_ms = 300",
        "interval.longpoll_s = 0",
        "disk.rbd_pool = images",
        c1,
        NULL};
    cloud_agent_start(&C, a, name, extra);
}

/* The RBD images named disk-* in the pool. */
static int disks_on_ceph(void)
{
    st_run(out, sizeof out, "rbd -c '%s' ls images", conf);
    int n = 0;
    for (char *p = out; (p = strstr(p, "disk-")); p++)
        n++;
    return n;
}

/* Writes (or, check set, compares) a 4 KiB pattern in the last 4 KiB of the image's 1 MiB
 * (the disk is grown beyond it to the flavor's size). */
static int pattern(const char *id, int check)
{
    char path[900], err[256];
    snprintf(path, sizeof path, "rbd:images/disk-%s:conf=%s", id, conf);
    st_disk *d;
    if (st_disk_open_ex(path, check ? ST_DISK_RDONLY : 0, &d, err, sizeof err) < 0) {
        fprintf(stderr, "%s: %s\n", path, err);
        return -1;
    }
    char want[4096], got[4096];
    for (size_t i = 0; i < sizeof want; i++)
        want[i] = (char)("stratus-ha "[i % 11]);
    int rc =
        check ? (st_disk_pread(d, got, sizeof got, (1 << 20) - 4096) == (ssize_t)sizeof got &&
                         !memcmp(got, want, sizeof want)
                     ? 0
                     : -1)
              : (st_disk_pwrite(d, want, sizeof want, (1 << 20) - 4096) == (ssize_t)sizeof want &&
                         st_disk_flush(d) == 0
                     ? 0
                     : -1);
    st_disk_close(d);
    return rc;
}

#ifdef ND_CEPH_VMM
/* The stratus-vmm processes under agent a's state directory. */
static int vmms_of(const cloud_agent *a)
{
    int pids[16];
    return cloud_vmm_pids(a->state_dir, pids, 16);
}

/* Whether the instance's serial log on agent a's host has a count line. */
static int counts_on(const cloud_agent *a, const char *id)
{
    char p[900];
    snprintf(p, sizeof p, "%s/instances/%s/serial.log", a->state_dir, id);
    for (int k = 0; k < 300; k++) {
        FILE *f = fopen(p, "r");
        char line[256];
        int found = 0;
        while (f && !found && fgets(line, sizeof line, f))
            found = !strncmp(line, "DATA count=", 11);
        if (f)
            fclose(f);
        if (found)
            return 1;
        usleep(100000);
    }
    return 0;
}
#endif

static void test_host_lost_with_disks_on_ceph(void)
{
    char img[40], id[40], q[300];
#ifdef ND_CEPH_VMM
    /* a root disk naming the test guest as its kernel: on Ceph as img-<sha>@base, the guest
     * counting (and writing sector K at count K) on it until it is deleted */
    char rd[40], kernel[40];
    /* the kernel again: cloud_start's copy went to the image service's store before it moved
     * onto Ceph (setup), where that service no longer finds it */
    ST_ASSERT_INT_EQ_FATAL(
        cloud_upload_image(&C, "{\"name\":\"guest\",\"disk_format\":\"raw\",\"kind\":\"kernel\"}",
                           st_build_path("tests/guest/guest.elf"), C.image_id),
        200);
    ST_ASSERT_INT_EQ_FATAL(cloud_kernel_disk(&C, st_build_path("tests/guest/fwboot.img"), rd, img),
                           200);
    const char *cmdline = "scenario=count count.n=100000 count.ms=100 count.disk=1";
#else
    /* a disk image with its own bootloader, raw: on Ceph as img-<sha>@base */
    ST_ASSERT_INT_EQ_FATAL(cloud_upload_image(&C, "{\"name\":\"fwboot\",\"disk_format\":\"raw\"}",
                                              st_build_path("tests/guest/fwboot.img"), img),
                           200);
#endif
    cloud_agent a, b;
    start_agent(&a, "ha-a");
    start_agent(&b, "ha-b");
    usleep(1500000);
    free(cloud_sql(&C, "UPDATE iaas.nodes SET disabled = (name <> 'ha-a')"));
#ifdef ND_CEPH_VMM
    /* the count scenario's pattern lies at 64 MiB: more RAM than cloud_start's flavor */
    gwt_status(&C.gw, "POST", "/v1/flavors", C.gw.admin_token,
               "{\"name\":\"t1.count\",\"vcpus\":1,\"memory_mib\":128,\"disk_gib\":1}");
    char flavor[sizeof C.flavor];
    snprintf(kernel, sizeof kernel, "%s", C.image_id);
    snprintf(flavor, sizeof flavor, "%s", C.flavor);
    snprintf(C.image_id, sizeof C.image_id, "%s", img); /* cloud_create boots C.image_id */
    snprintf(C.flavor, sizeof C.flavor, "t1.count");    /* in C.flavor */
    long st = cloud_create(&C, "on-ceph", cmdline, id);
    snprintf(C.image_id, sizeof C.image_id, "%s", kernel);
    snprintf(C.flavor, sizeof C.flavor, "%s", flavor);
#else
    char *body = st_jsonf("{s:s, s:s, s:s, s:s}", "name", "on-ceph", "flavor", C.flavor, "image",
                          img, "networks", "none");
    long st = cloud_create_body(&C, body, id);
    free(body);
#endif
    free(cloud_sql(&C, "UPDATE iaas.nodes SET disabled = false"));
    ST_ASSERT_INT_EQ_FATAL(st, 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, id, "state", "active", 30000), 0);
#ifdef ND_CEPH_VMM
    /* the guest runs on A, its disk read and written through the VMM's librbd */
    ST_ASSERT_INT_EQ(vmms_of(&a), 1);
    ST_ASSERT_INT_EQ_FATAL(counts_on(&a, id), 1);
#endif
    char *on = cloud_node_of(&C, id);
    ST_ASSERT_STR_EQ(on, "ha-a");
    free(on);
    snprintf(q, sizeof q, "SELECT disk_backend FROM iaas.instances WHERE id = '%s'", id);
    char *backend = cloud_sql(&C, q);
    ST_ASSERT_STR_EQ(backend, "rbd");
    free(backend);
    /* its disk: a clone of the image's protected base snapshot; nothing downloaded */
    ST_ASSERT_INT_EQ(disks_on_ceph(), 1);
    char name[80];
    snprintf(name, sizeof name, "disk-%s", id);
    ST_ASSERT_INT_EQ(st_run(out, sizeof out, "rbd -c '%s' info images/%s", conf, name), 0);
    CU_ASSERT(strstr(out, "parent: images/img-") && strstr(out, "@base"));
    /* grown from the image's 1 MiB to the flavor's disk_gib (1), as a local overlay is */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "size 1 GiB"));
#ifdef ND_CEPH_VMM
    /* the VMM's disk0 is the clone itself, opened through librbd: no local copy */
    char vmjson[1200], want[200];
    snprintf(vmjson, sizeof vmjson, "%s/instances/%s/vm.json", a.state_dir, id);
    snprintf(want, sizeof want, "rbd:images/disk-%s:", id);
    json_t *vj = json_load_file(vmjson, 0, NULL);
    const char *p0 =
        json_string_value(json_object_get(json_array_get(json_object_get(vj, "disks"), 0), "path"));
    CU_ASSERT(p0 && !strncmp(p0, want, strlen(want)));
    json_decref(vj);
#else
    ST_ASSERT_INT_EQ(st_run(out, sizeof out, "ls '%s/images'", a.state_dir), 0);
    CU_ASSERT(!strstr(out, ".raw"));
#endif
    ST_ASSERT_INT_EQ_FATAL(pattern(id, 0), 0);
    /* host A lost: its agent and its VMs (the test hypervisor's in the agent's process; real
     * VMMs killed with it) */
    cloud_agent_stop(&a, SIGKILL);
    long long t0 = st_now_ms();
#ifdef ND_CEPH_VMM
    int pids[16], npids = cloud_vmm_pids(a.state_dir, pids, 16);
    for (int i = 0; i < npids; i++)
        kill(pids[i], SIGKILL);
    for (int k = 0; k < 50 && vmms_of(&a); k++)
        usleep(100000);
    ST_ASSERT_INT_EQ(vmms_of(&a), 0);
#endif
    long long back = -1;
    while (st_now_ms() - t0 < 40000) {
        char *n = cloud_node_of(&C, id), *s = cloud_field(&C, id, "state"),
             *t = cloud_field(&C, id, "task");
        int there = n && !strcmp(n, "ha-b") && s && !strcmp(s, "active") && t && !strcmp(t, "null");
        free(n);
        free(s);
        free(t);
        if (there) {
            back = st_now_ms() - t0;
            break;
        }
        usleep(100000);
    }
    fprintf(stderr,
            "node_ceph: host lost to instance active on the other host: %lld ms "
            "(down_after 4 s + fence_margin 2 s + the 200 ms tick + the launch)\n",
            back);
    CU_ASSERT(back > 0 && back < 30000);
#ifdef ND_CEPH_VMM
    /* run once: by one VMM on B, none on A; the guest counts there, on the same disk */
    ST_ASSERT_INT_EQ(vmms_of(&b), 1);
    ST_ASSERT_INT_EQ(vmms_of(&a), 0);
    ST_ASSERT_INT_EQ(counts_on(&b, id), 1);
#endif
    /* the same disk, what was written on A still there, no second clone */
    ST_ASSERT_INT_EQ(disks_on_ceph(), 1);
    ST_ASSERT_INT_EQ(pattern(id, 1), 0);
    /* A back: it removes what it left (never running the instance), not the disk on Ceph */
    cloud_agent_restart(&C, &a);
    snprintf(q, sizeof q,
             "SELECT count(*) FROM iaas.evacuations WHERE instance_id = '%s'"
             " AND cleaned_at IS NOT NULL",
             id);
    int cleaned = 0;
    for (int k = 0; k < 150 && !cleaned; k++) {
        char *c = cloud_sql(&C, q);
        cleaned = c && !strcmp(c, "1");
        free(c);
        if (!cleaned)
            usleep(100000);
    }
    CU_ASSERT(cleaned);
#ifdef ND_CEPH_VMM
    ST_ASSERT_INT_EQ(vmms_of(&a), 0);
    ST_ASSERT_INT_EQ(vmms_of(&b), 1);
#endif
    ST_ASSERT_INT_EQ(disks_on_ceph(), 1);
    ST_ASSERT_INT_EQ(pattern(id, 1), 0);
    on = cloud_node_of(&C, id);
    ST_ASSERT_STR_EQ(on, "ha-b");
    free(on);
    /* deleted: its disk leaves Ceph */
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 30000), 0);
    int gone = 0;
    for (int k = 0; k < 100 && !gone; k++) {
        gone = disks_on_ceph() == 0;
        if (!gone)
            usleep(100000);
    }
    CU_ASSERT(gone);
    cloud_agent_stop(&a, SIGTERM);
    cloud_agent_stop(&b, SIGTERM);
}

static CU_TestInfo tests[] = {
    {"a host lost: its Ceph-backed instance back on another host, its disk intact",
     test_host_lost_with_disks_on_ceph},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"ceph", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
