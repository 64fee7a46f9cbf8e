/*
 * node_reconcile: one real agent and real VMMs against a real gateway and
 * image service: launch, stop, start, reboot, delete; a guest that powers
 * off is stopped (and stays so); a crashed VMM is an error (never
 * restarted); a launch that fails on one host moves to another. The same
 * lifecycle through the libvirt back end is node_reconcile_libvirt.
 */
#include "st_cloud.h"
#include "st_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static cloud C;
static cloud_agent A;

#define LONG_CPU "scenario=cpu cpu.ms=600000"

static int vmms(void)
{
    int pids[64];
    return cloud_vmm_pids(A.state_dir, pids, 64);
}

static int setup(void)
{
    if (access("/dev/kvm", R_OK | W_OK) != 0)
        st_skip("no /dev/kvm");
    cloud_start(&C, "node_reconcile");
    cloud_agent_start(&C, &A, "node-a", NULL);
    return 0;
}

static int teardown(void)
{
    cloud_agent_stop(&A, SIGTERM);
    cloud_stop(&C);
    return 0;
}

static int count_in(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_lifecycle(void)
{
    char id[40];
    ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, "life", LONG_CPU, id), 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    ST_ASSERT_INT_EQ(vmms(), 1);
    /* the guest's own words reach the tenant */
    ST_ASSERT_INT_EQ(cloud_wait_console(&C, id, "STRATUS-GUEST start scenario=cpu", 15000), 0);

    /* the cpu scenario ignores the power button: forced after the grace (2 s here) */
    ST_ASSERT_INT_EQ(cloud_action(&C, id, "stop"), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "stopped", 30000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "task", "null", 5000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "last_stop", "forced", 5000), 0);
    ST_ASSERT_INT_EQ(vmms(), 0);

    ST_ASSERT_INT_EQ(cloud_action(&C, id, "start"), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "task", "null", 5000), 0);
    ST_ASSERT_INT_EQ(vmms(), 1);
    /* the second boot's start line (the serial log spans boots) */
    long long end = st_now_ms() + 15000;
    char *o = NULL;
    while (st_now_ms() < end) {
        free(o);
        o = cloud_console(&C, id);
        if (count_in(o, "STRATUS-GUEST start") >= 2)
            break;
        usleep(100000);
    }
    ST_ASSERT_INT_EQ(count_in(o, "STRATUS-GUEST start"), 2);
    free(o);

    int before[4];
    ST_ASSERT_INT_EQ_FATAL(cloud_vmm_pids(A.state_dir, before, 4), 1);
    ST_ASSERT_INT_EQ(cloud_action_json(&C, id, "{\"action\": \"reboot\", \"type\": \"hard\"}"),
                     202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "task", "null", 30000), 0);
    char *st = cloud_field(&C, id, "state");
    ST_ASSERT_STR_EQ(st, "active");
    free(st);
    int after[4];
    ST_ASSERT_INT_EQ(cloud_vmm_pids(A.state_dir, after, 4), 1);
    ST_ASSERT_INT_EQ(after[0], before[0]); /* a reset, not a second process */
    end = st_now_ms() + 15000;
    o = NULL;
    while (st_now_ms() < end) {
        free(o);
        o = cloud_console(&C, id);
        if (count_in(o, "STRATUS-GUEST start") >= 3)
            break;
        usleep(100000);
    }
    ST_ASSERT_INT_EQ(count_in(o, "STRATUS-GUEST start"), 3);
    free(o);
    /* a soft reboot: the power button (ignored here), forced after the
     * grace, and a new VMM */
    ST_ASSERT_INT_EQ(cloud_action(&C, id, "reboot"), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "task", "null", 30000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "active", 5000), 0);
    ST_ASSERT_INT_EQ(cloud_vmm_pids(A.state_dir, after, 4), 1);
    CU_ASSERT(after[0] != before[0]);

    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 30000), 0);
    ST_ASSERT_INT_EQ(vmms(), 0);
    char dir[700];
    snprintf(dir, sizeof dir, "%s/instances/%s", A.state_dir, id);
    ST_ASSERT_INT_EQ(access(dir, F_OK), -1); /* disk and state removed */
}

static void test_guest_poweroff_is_stopped(void)
{
    char id[40];
    ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, "poweroff", "scenario=boot", id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "stopped", 30000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_console(&C, id, "RESULT boot PASS", 10000), 0);
    /* not restarted behind the tenant's back */
    usleep(1500000);
    char *st = cloud_field(&C, id, "state");
    ST_ASSERT_STR_EQ(st, "stopped");
    free(st);
    ST_ASSERT_INT_EQ(vmms(), 0);
    char *f = cloud_field(&C, id, "fault");
    ST_ASSERT_STR_EQ(f, "null");
    free(f);
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 30000), 0);
}

static void test_crash_is_error(void)
{
    char id[40];
    ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, "crash", LONG_CPU, id), 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    int pids[4];
    ST_ASSERT_INT_EQ_FATAL(cloud_vmm_pids(A.state_dir, pids, 4), 1);
    kill(pids[0], SIGKILL);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "error", 15000), 0);
    char *f = cloud_field(&C, id, "fault");
    ST_ASSERT_INT_EQ(f && strstr(f, "signal 9") != NULL, 1);
    free(f);
    usleep(1500000);
    ST_ASSERT_INT_EQ(vmms(), 0); /* never silently restarted */
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 30000), 0);
}

static void test_failed_launch_moves(void)
{
    /* a second host whose VMM cannot start, preferred by the scheduler */
    cloud_agent bad;
    const char *extra[] = {"vmm.path = /bin/false", "capacity.memory_mib = 262144", NULL};
    cloud_agent_start(&C, &bad, "node-bad", extra);
    usleep(1500000); /* its heartbeat with the larger capacity */
    char id[40];
    ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, "moved", LONG_CPU, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT n.name FROM iaas.instance_attempts a JOIN iaas.nodes n ON n.id = a.node_id"
             " WHERE a.instance_id = '%s'",
             id);
    char *tried = cloud_sql(&C, sql);
    ST_ASSERT_STR_EQ(tried, "node-bad");
    free(tried);
    char *on = cloud_node_of(&C, id);
    ST_ASSERT_STR_EQ(on, "node-a");
    free(on);
    char dir[700];
    snprintf(dir, sizeof dir, "%s/instances/%s", bad.state_dir, id);
    ST_ASSERT_INT_EQ(access(dir, F_OK), -1); /* the failed host cleaned up */
    cloud_agent_stop(&bad, SIGTERM);
    /* park the bad node so later placements ignore it */
    char path[128];
    char *nid = gwt_node_id(&C.gw, "node-bad");
    snprintf(path, sizeof path, "/v1/nodes/%s", nid);
    gwt_status(&C.gw, "PATCH", path, C.gw.admin_token, "{\"disabled\":true}");
    free(nid);
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 30000), 0);
}

static double metric(const char *text, const char *series)
{
    const char *p = text ? strstr(text, series) : NULL;
    return p ? atof(p + strlen(series)) : -1;
}

static void test_health_and_metrics(void)
{
    st_resp r;
    ST_ASSERT_INT_EQ(cloud_agent_get(&A, "/healthz", &r), 200);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ_FATAL(cloud_agent_get(&A, "/metrics", &r), 200);
    /* what the tests above did, counted */
    ST_ASSERT_INT_EQ(metric(r.body, "stratus_node_launches_total{result=\"ok\"} ") >= 4, 1);
    ST_ASSERT_INT_EQ(metric(r.body, "stratus_node_vm_exits_total{result=\"error\"} ") >= 1, 1);
    ST_ASSERT_INT_EQ(metric(r.body, "stratus_node_vm_exits_total{result=\"stopped\"} ") >= 1, 1);
    ST_ASSERT_INT_EQ(metric(r.body, "stratus_node_fetches_total{result=\"ok\"} ") >= 1, 1);
    /* polls between orders were answered 304 */
    ST_ASSERT_INT_EQ(metric(r.body, "stratus_node_fetches_total{result=\"unchanged\"} ") >= 1, 1);
    ST_ASSERT_INT_EQ(metric(r.body, "stratus_node_spool_batches ") >= 0, 1);
    st_resp_free(&r);
}

/* A guest that acts on the ACPI power button (the test guest's power
 * scenario) is stopped gracefully: its soft-off ends the VMM. */
static void test_graceful_stop(void)
{
    char id[40];
    ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, "graceful", "scenario=power", id), 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_console(&C, id, "DATA power.ready=1", 15000), 0);
    ST_ASSERT_INT_EQ(cloud_action(&C, id, "stop"), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "stopped", 30000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "last_stop", "graceful", 5000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_console(&C, id, "RESULT power PASS", 5000), 0);
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 30000), 0);
}

/* The image's field f as the tenant sees it, malloc'd ("" when absent). */
static char *image_field(const char *img, const char *f)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/images/%s", img);
    st_resp r;
    gwt_call(&C.gw, &r, "GET", path, C.tn.member, NULL);
    const char *v = json_string_value(json_object_get(r.json, f));
    char *out = strdup(v ? v : "");
    st_resp_free(&r);
    return out;
}

/* Issue 15: a tenant uploads a disk with its own bootloader (tests/guest's
 * fwboot.img: a boot sector and a loader that read the test guest through
 * BIOS int 13h) as a plain raw image; it boots through firmware (SeaBIOS,
 * vm.firmware) by default, and the guest's own result reaches the console. */
static void test_firmware_boot_of_a_disk_image(void)
{
    if (access("/usr/share/seabios/bios.bin", R_OK) != 0) {
        fprintf(stderr, "no /usr/share/seabios/bios.bin (Debian's seabios): not checked\n");
        return;
    }
    char img[40], id[40], vmjson[1200];
    ST_ASSERT_INT_EQ_FATAL(cloud_upload_image(&C, "{\"name\":\"fwboot\",\"disk_format\":\"raw\"}",
                                              st_build_path("tests/guest/fwboot.img"), img),
                           200);
    char *boot = image_field(img, "boot");
    ST_ASSERT_STR_EQ(boot, "firmware");
    free(boot);
    char *b = st_jsonf("{s:s, s:s, s:s}", "name", "fw", "flavor", C.flavor, "image", img);
    ST_ASSERT_INT_EQ_FATAL(cloud_create_body(&C, b, id), 202);
    free(b);
    /* the loader starts the guest with scenario=boot: it passes and powers off */
    ST_ASSERT_INT_EQ(cloud_wait_console(&C, id, "RESULT boot PASS", 60000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "stopped", 30000), 0);
    snprintf(vmjson, sizeof vmjson, "%s/instances/%s/vm.json", A.state_dir, id);
    json_t *j = json_load_file(vmjson, 0, NULL);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "boot")), "firmware");
    ST_ASSERT_INT_EQ(json_object_get(j, "kernel") == NULL, 1);
    json_decref(j);
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 30000), 0);
}

/* A disk image naming the test guest as its kernel and a ramdisk: the
 * kernel boots directly with the initrd, the disk as its root disk. */
static void test_kernel_and_ramdisk_images(void)
{
    char rd[40], disk[40], id[40], vmjson[1200];
    ST_ASSERT_INT_EQ_FATAL(cloud_kernel_disk(&C, st_build_path("tests/guest/fwboot.img"), rd, disk),
                           200);
    char kernel[40];
    snprintf(kernel, sizeof kernel, "%s", C.image_id);
    snprintf(C.image_id, sizeof C.image_id, "%s", disk); /* cloud_create boots C.image_id */
    long st = cloud_create(&C, "kr", "scenario=boot", id);
    snprintf(C.image_id, sizeof C.image_id, "%s", kernel);
    ST_ASSERT_INT_EQ_FATAL(st, 202);
    ST_ASSERT_INT_EQ(cloud_wait_console(&C, id, "RESULT boot PASS", 30000), 0);
    snprintf(vmjson, sizeof vmjson, "%s/instances/%s/vm.json", A.state_dir, id);
    json_t *j = json_load_file(vmjson, 0, NULL);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "boot")), "kernel");
    ST_ASSERT_INT_EQ(json_is_string(json_object_get(j, "initrd")), 1);
    json_decref(j);
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 30000), 0);
}

static CU_TestInfo tests[] = {
    {"launch, stop, start, reboot and delete an instance", test_lifecycle},
    {"a guest that powers off is stopped and stays stopped", test_guest_poweroff_is_stopped},
    {"a stop presses the power button; a guest that obeys is stopped gracefully",
     test_graceful_stop},
    {"a VMM that dies is reported as error, never restarted", test_crash_is_error},
    {"a launch failing on one host is retried on another", test_failed_launch_moves},
    {"the agent serves /healthz and counts its work in /metrics", test_health_and_metrics},
    {"a tenant's disk image with a bootloader boots through firmware (SeaBIOS)",
     test_firmware_boot_of_a_disk_image},
    {"a disk image boots its kernel image directly with its ramdisk image as initrd",
     test_kernel_and_ramdisk_images},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"reconcile", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
