/*
 * vmm_run_devices - the test guest's rng, blk, smp and hostile scenarios
 * under stratus-vmm, judged like the QEMU runs, plus what only the host can
 * see: the disk's bytes (raw and qcow2, with qemu-img as the judge), the
 * device state over the control API, and the final counters.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "st_test.h"
#include "vg.h"

static vg_vm vm;

static int setup(void)
{
    return vg_init(&vm, "dev");
}

static int teardown(void)
{
    vg_cleanup(&vm);
    return 0;
}

static const char *path(const char *name)
{
    static char buf[2][512];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/%s", vm.dir, name);
    return buf[k];
}

static int make_raw(const char *p, long long size)
{
    unlink(p);
    int fd = open(p, O_CREAT | O_RDWR | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    int rc = ftruncate(fd, size);
    close(fd);
    return rc;
}

static int sh(const char *fmt, const char *a, const char *b)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The member `key` of the VMM's final vmm.counters log line (NULL if none). */
static json_t *final_log(const char *key)
{
    char err[600];
    snprintf(err, sizeof err, "%s.err", vm.serial);
    char *log = vt_slurp(err);
    json_t *out = NULL;
    for (char *line = log ? strtok(log, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        if (!strstr(line, "\"vmm.counters\""))
            continue;
        json_t *j = json_loads(line, 0, NULL);
        json_t *c = json_object_get(j, key);
        if (c) {
            json_decref(out);
            out = json_incref(c);
        }
        json_decref(j);
    }
    free(log);
    return out;
}

static json_t *final_counters(void)
{
    return final_log("counters");
}

static json_t *disk0(json_t *c)
{
    return json_array_get(json_object_get(c, "disks"), 0);
}

static void test_rng(void)
{
    guest_result r;
    vg_set(&vm, "\"rng\": true");
    ST_ASSERT_INT_EQ(vg_run(&vm, "scenario=rng rng.len=256", 20000, &r), GUEST_PASS);
    guest_result_free(&r);
}

static void set_disk(const char *p, int ro, const char *fmt)
{
    char extra[700];
    snprintf(extra, sizeof extra,
             "\"disks\": [{\"path\": \"%s\", \"read_only\": %s, \"format\": \"%s\"}]", p,
             ro ? "true" : "false", fmt);
    vg_set(&vm, extra);
}

static void test_blk_raw_pattern_on_host(void)
{
    guest_result r;
    char ck[32], want[32];
    uint32_t sum = 0;
    const char *img = path("raw.img");
    CU_ASSERT_FATAL(make_raw(img, 16 << 20) == 0);
    set_disk(img, 0, "raw");
    ST_ASSERT_INT_EQ(vg_run(&vm, "scenario=blk blk.start=16 blk.count=8 blk.seed=5", 20000, &r),
                     GUEST_PASS);
    char err[200];
    ST_ASSERT_INT_EQ(guest_blk_check_raw(img, 16, 8, 5, &sum, err, sizeof err), 0);
    snprintf(want, sizeof want, "0x%08x", sum);
    ST_ASSERT_INT_EQ(guest_data(&r, "blk.checksum", ck, sizeof ck), 0);
    ST_ASSERT_STR_EQ(ck, want);
    ST_ASSERT_INT_EQ(guest_data(&r, "blk.flush", ck, sizeof ck), 0);
    ST_ASSERT_STR_EQ(ck, "ok");
    guest_result_free(&r);
    json_t *c = final_counters();
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(disk0(c), "id")), "disk0");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(disk0(c), "write_bytes")), 8 * 512);
    CU_ASSERT(json_integer_value(json_object_get(disk0(c), "write_ops")) >= 1);
    CU_ASSERT(json_integer_value(json_object_get(disk0(c), "read_bytes")) >= 8 * 512);
    CU_ASSERT(json_integer_value(json_object_get(disk0(c), "read_ops")) >= 1);
    json_decref(c);

    /* And the guest finds a pattern the host wrote (nothing written this time). */
    ST_ASSERT_INT_EQ(
        vg_run(&vm, "scenario=blk blk.start=16 blk.count=8 blk.seed=5 blk.check=1", 20000, &r),
        GUEST_PASS);
    guest_result_free(&r);
    c = final_counters();
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(disk0(c), "write_bytes")), 0);
    json_decref(c);
}

static void test_blk_read_only(void)
{
    guest_result r;
    char st[16], ro[16];
    const char *img = path("ro.img");
    CU_ASSERT_FATAL(make_raw(img, 4 << 20) == 0);
    set_disk(img, 1, "raw");
    ST_ASSERT_INT_EQ(vg_run(&vm, "scenario=blk blk.ro=1", 20000, &r), GUEST_PASS);
    ST_ASSERT_INT_EQ(guest_data(&r, "blk.write_status", st, sizeof st), 0);
    ST_ASSERT_STR_EQ(st, "1"); /* VIRTIO_BLK_S_IOERR */
    ST_ASSERT_INT_EQ(guest_data(&r, "blk.ro_feature", ro, sizeof ro), 0);
    ST_ASSERT_STR_EQ(ro, "1");
    guest_result_free(&r);
    char *bytes = vt_slurp(img); /* still all zeros: nothing reached the file */
    int zero = 1;
    for (int i = 0; i < 4 << 20 && zero; i++)
        zero = bytes[i] == 0;
    CU_ASSERT(zero);
    free(bytes);
}

static void test_blk_qcow2_overlay(void)
{
    guest_result r;
    char base[512], ov[512], want[512];
    snprintf(base, sizeof base, "%s", path("base.img"));
    snprintf(ov, sizeof ov, "%s", path("overlay.qcow2"));
    snprintf(want, sizeof want, "%s", path("want.img"));
    CU_ASSERT_FATAL(make_raw(base, 16 << 20) == 0);
    unlink(ov);
    ST_ASSERT_INT_EQ(sh("qemu-img create -q -f qcow2 -b %s -F raw %s", base, ov), 0);
    set_disk(ov, 0, "qcow2");
    ST_ASSERT_INT_EQ(vg_run(&vm, "scenario=blk blk.start=100 blk.count=16 blk.seed=9", 20000, &r),
                     GUEST_PASS);
    guest_result_free(&r);
    ST_ASSERT_INT_EQ(sh("qemu-img check -q %s%s", ov, ""), 0);
    /* The expected disk: the base with the pattern written by the host. */
    CU_ASSERT_FATAL(make_raw(want, 16 << 20) == 0);
    int fd = open(want, O_WRONLY);
    for (uint64_t s = 100; s < 116; s++) {
        uint8_t sec[512];
        guest_blk_pattern(s, 9, sec);
        CU_ASSERT(pwrite(fd, sec, 512, (off_t)(s * 512)) == 512);
    }
    close(fd);
    ST_ASSERT_INT_EQ(sh("qemu-img compare -q -f raw -F qcow2 %s %s", want, ov), 0);
    char sz[64];
    snprintf(sz, sizeof sz, "%d", 16 << 20); /* the base file itself is untouched */
    ST_ASSERT_INT_EQ(sh("cmp -s %s /dev/zero -n %s", base, sz), 0);
}

/* With "assign_bars": false the BARs read 0 and the guest places them in its own
 * window (0xe0000000 up): the VMM must map them there, ioeventfds included. */
static void test_guest_assigned_bars(void)
{
    guest_result r;
    char bar[128], extra[700];
    const char *img = path("gbar.img");
    CU_ASSERT_FATAL(make_raw(img, 4 << 20) == 0);
    snprintf(extra, sizeof extra,
             "\"assign_bars\": false, \"rng\": true, \"disks\": [{\"path\": \"%s\"}]", img);
    vg_set(&vm, extra);
    ST_ASSERT_INT_EQ(vg_run(&vm, "scenario=pci", 20000, &r), GUEST_PASS);
    ST_ASSERT_INT_EQ(guest_data_nth(&r, "pci.bar", 0, bar, sizeof bar), 0);
    ST_ASSERT_STR_EQ(bar, "00:01.0/0 0xe0000000+0x4000 assigned");
    guest_result_free(&r);
    ST_ASSERT_INT_EQ(vg_run(&vm, "scenario=blk blk.start=8 blk.count=4", 20000, &r), GUEST_PASS);
    guest_result_free(&r);
    ST_ASSERT_INT_EQ(vg_run(&vm, "scenario=rng", 20000, &r), GUEST_PASS);
    guest_result_free(&r);
}

static void test_smp(void)
{
    guest_result r;
    char online[16];
    vg_set(&vm, NULL);
    vm.vcpus = 2;
    ST_ASSERT_INT_EQ(vg_run(&vm, "scenario=smp smp.n=2", 20000, &r), GUEST_PASS);
    vm.vcpus = 1;
    ST_ASSERT_INT_EQ(guest_data(&r, "smp.online", online, sizeof online), 0);
    ST_ASSERT_STR_EQ(online, "2");
    ST_ASSERT_INT_EQ(guest_data_count(&r, "smp.cpu"), 2);
    guest_result_free(&r);
}

/* A hostile chain: the guest passes (it survived), the disk needed a reset (the
 * guest saw 0x40, the VMM logged why), the driver's reset brought it back, the
 * rng next to it never failed, and the VMM exits with the guest's value (16). */
static void hostile(const char *kind, const char *more, int recover)
{
    guest_result r;
    char cmd[128], nr[8];
    const char *img = path("hostile.img");
    CU_ASSERT_FATAL(make_raw(img, 1 << 20) == 0);
    char extra[700];
    snprintf(extra, sizeof extra, "\"rng\": true, \"disks\": [{\"path\": \"%s\"}]", img);
    vg_set(&vm, extra);
    snprintf(cmd, sizeof cmd, "scenario=hostile hostile.blk=%s hostile.recover=%d %s", kind,
             recover, more);
    ST_ASSERT_INT_EQ(vg_run(&vm, cmd, 20000, &r), GUEST_PASS);
    ST_ASSERT_INT_EQ(r.exit_code, 16); /* the VMM lived to report the guest's exit */
    ST_ASSERT_INT_EQ(guest_data(&r, "needs_reset", nr, sizeof nr), 0);
    ST_ASSERT_STR_EQ(nr, "1");
    if (recover) { /* the driver then resets the device and uses it normally again */
        ST_ASSERT_INT_EQ(guest_data(&r, "hostile.recovered", nr, sizeof nr), 0);
        ST_ASSERT_STR_EQ(nr, "1");
    }
    guest_result_free(&r);
    json_t *devs = final_log("devices");
    int disk_failed = -1, rng_failed = -1;
    size_t i;
    json_t *d;
    json_array_foreach(devs, i, d)
    {
        const char *id = json_string_value(json_object_get(d, "id"));
        int failed = json_is_true(json_object_get(d, "failed"));
        if (id && !strcmp(id, "disk0"))
            disk_failed = failed;
        if (id && !strcmp(id, "rng0"))
            rng_failed = failed;
    }
    json_decref(devs);
    ST_ASSERT_INT_EQ(disk_failed, !recover); /* still failed, unless the driver reset it */
    ST_ASSERT_INT_EQ(rng_failed, 0);
    /* ... but the VMM did fail it on the way: */
    char err[600];
    snprintf(err, sizeof err, "%s.err", vm.serial);
    char *log = vt_slurp(err);
    CU_ASSERT(log && strstr(log, "disk0: device failed, needs reset"));
    free(log);
}

static void test_hostile_loop(void)
{
    hostile("loop", "", 0);
}

static void test_hostile_oob(void)
{
    hostile("oob", "", 1);
}

static void test_hostile_long(void)
{
    hostile("long", "", 1); /* an indirect table of 4 x queue size + 2 entries */
}

static void test_hostile_long_direct(void)
{
    hostile("long", "hostile.direct=1", 1); /* every descriptor chained, the last back to 1 */
}

static void test_hostile_badidx(void)
{
    hostile("badidx", "", 1);
}

static CU_TestInfo tests[] = {
    {"rng: the guest reads entropy", test_rng},
    {"blk raw: the pattern the guest wrote is on the host file; counters count it",
     test_blk_raw_pattern_on_host},
    {"blk read-only: writes fail with IOERR and the file stays untouched", test_blk_read_only},
    {"blk qcow2 overlay: qemu-img check is clean, qemu-img compare sees the guest's writes",
     test_blk_qcow2_overlay},
    {"BARs the guest assigns itself are mapped where it puts them", test_guest_assigned_bars},
    {"smp: two vCPUs check in", test_smp},
    {"hostile loop: disk failed (and stays failed), rng fine, VMM alive", test_hostile_loop},
    {"hostile oob: disk failed then recovered, rng fine, VMM alive", test_hostile_oob},
    {"hostile long (indirect): disk failed then recovered, rng fine, VMM alive", test_hostile_long},
    {"hostile long (direct): disk failed then recovered, rng fine, VMM alive",
     test_hostile_long_direct},
    {"hostile badidx: disk failed then recovered, rng fine, VMM alive", test_hostile_badidx},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"devices", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    vt_need_kvm();
    return st_test_main(argc, argv, suites);
}
