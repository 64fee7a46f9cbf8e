/*
 * node_reconcile_libvirt: a real agent with the libvirt back end (libvirt's
 * in-process test hypervisor, test:///default: no daemon, no KVM) against
 * the real gateway and image service: create, stop, start, reboot and
 * delete go through the same reconcile path, desired set and reports as
 * with stratus-vmm (node_reconcile, which needs KVM). A disk image with
 * its own bootloader (tests/guest's fwboot.img, uploaded raw: boot
 * firmware by default) is placed on the node (its agent reports firmware)
 * and defined as a BIOS-booted domain: no <kernel>, disk0 its overlay. A
 * disk naming the test guest as kernel_id and a ramdisk_id has the agent
 * fetch and cache both and define <kernel>, <initrd> and <cmdline>.
 *
 * A stopped instance is snapshotted (its image boots as the instance's
 * did). A snapshot of the running BIOS-booted instance (issue 16): a pattern
 * written into its overlay as if the guest had, the snapshot action, the
 * agent flattens base + overlay (the domain suspended around the copy) and
 * uploads it with its node credential; the image goes active, its bytes
 * downloaded through the API pass `qemu-img check`, equal the instance's
 * disk (`qemu-img compare`) and hold the pattern (`qemu-io read -P`), and a
 * new instance boots from it, its overlay backed by the new image.
 */
#include "st_cloud.h"
#include "st_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cloud C;

#define LONG_CPU "scenario=cpu cpu.ms=600000"

static int setup(void)
{
    /* every instance gets a port on its tenant's default network, and a VM
     * starts only on its port's tap: the agent's data plane makes it, in a
     * namespace of this test's own */
    if (cloud_netns_enter("stlv") < 0)
        st_skip("needs root, dnsmasq and nft (the instance's port needs its tap)");
    cloud_start(&C, "node_reconcile_libvirt");
    return 0;
}

static int teardown(void)
{
    cloud_stop(&C);
    cloud_netns_remove();
    return 0;
}

/* An agent on libvirt's test hypervisor, heard from once. */
static void start_agent(cloud_agent *lv, const char *name)
{
    const char *extra[] = {"driver = libvirt", "libvirt.uri = test:///default",
                           "capacity.memory_mib = 524288", "network.enabled = true", NULL};
    cloud_agent_start(&C, lv, name, extra);
    usleep(1500000);
}

static void test_libvirt_agent(void)
{
    cloud_agent lv;
    start_agent(&lv, "node-lv");
    char id[40];
    ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, "on-libvirt", LONG_CPU, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    char *on = cloud_node_of(&C, id);
    ST_ASSERT_STR_EQ(on, "node-lv");
    free(on);
    /* a stop asks the guest (virDomainShutdown; the test hypervisor's obeys) */
    ST_ASSERT_INT_EQ(cloud_action(&C, id, "stop"), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "stopped", 30000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "last_stop", "graceful", 5000), 0);
    ST_ASSERT_INT_EQ(cloud_action(&C, id, "start"), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "task", "null", 30000), 0);
    /* with force it does not: the domain is destroyed */
    ST_ASSERT_INT_EQ(cloud_action_json(&C, id, "{\"action\": \"stop\", \"force\": true}"), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "stopped", 30000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "last_stop", "forced", 5000), 0);
    /* a stopped instance's snapshot (nothing to pause) boots as its image did */
    ST_ASSERT_INT_EQ(cloud_action_json(&C, id, "{\"action\": \"snapshot\", \"name\": \"off\"}"),
                     202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "task", "null", 30000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "stopped", 5000), 0);
    char q[300];
    snprintf(q, sizeof q,
             "SELECT m.status || ' ' || m.boot FROM images.images m JOIN iaas.instances i"
             " ON i.snapshot_image_id = m.id WHERE i.id = '%s'",
             id);
    char *snap = cloud_sql(&C, q);
    ST_ASSERT_STR_EQ(snap, "active kernel");
    free(snap);
    ST_ASSERT_INT_EQ(cloud_action(&C, id, "start"), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "task", "null", 30000), 0);
    /* a (soft) reboot is a graceful stop and a new boot */
    ST_ASSERT_INT_EQ(cloud_action(&C, id, "reboot"), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "task", "null", 30000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "last_stop", "graceful", 5000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "active", 5000), 0);
    /* a hard reboot resets: no stop to account for */
    ST_ASSERT_INT_EQ(cloud_action_json(&C, id, "{\"action\": \"reboot\", \"type\": \"hard\"}"),
                     202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "task", "null", 30000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "active", 5000), 0);
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 30000), 0);
    cloud_agent_stop(&lv, SIGTERM);
}

static int sh(const char *fmt, const char *a, const char *b)
{
    char cmd[2600];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "`%s` failed: %d\n", cmd, rc);
    return rc;
}

/* Snapshots instance id (its state dir dir) and boots a new instance from
 * the image; the new instance is deleted again. */
static void snapshot_and_boot(const char *dir, const char *id)
{
    char disk[1200], file[1200], path[200];
    snprintf(disk, sizeof disk, "%s/instances/%s/disk.qcow2", dir, id);
    /* the guest writes 64 KiB of 0xa5 at 512 KiB, over the base's bytes */
    ST_ASSERT_INT_EQ_FATAL(
        sh("qemu-io -f qcow2 -c 'write -P 0xa5 512k 64k' '%s' >/dev/null%s", disk, ""), 0);
    ST_ASSERT_INT_EQ(cloud_action_json(&C, id, "{\"action\": \"snapshot\", \"name\": \"\"}"), 400);
    ST_ASSERT_INT_EQ_FATAL(
        cloud_action_json(&C, id, "{\"action\": \"snapshot\", \"name\": \"fw at noon\"}"), 202);
    char q[300];
    snprintf(q, sizeof q, "SELECT snapshot_image_id FROM iaas.instances WHERE id = '%s'", id);
    char *img = cloud_sql(&C, q);
    CU_ASSERT_PTR_NOT_NULL_FATAL(img);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "task", "null", 30000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "active", 5000), 0);
    snprintf(q, sizeof q,
             "SELECT status || ' ' || coalesce(status_reason, '') FROM images.images"
             " WHERE id = '%s'",
             img);
    char *st = cloud_sql(&C, q);
    ST_ASSERT_STR_EQ(st, "active ");
    free(st);
    /* its bytes, through the API */
    snprintf(path, sizeof path, "/v1/images/%s/download-url", img);
    st_resp r;
    ST_ASSERT_INT_EQ_FATAL(gwt_call(&C.gw, &r, "POST", path, C.tn.member, NULL), 200);
    char url[600];
    snprintf(url, sizeof url, "%s", json_string_value(json_object_get(r.json, "url")));
    st_resp_free(&r);
    ST_ASSERT_INT_EQ_FATAL(st_http(&r, "GET", url, NULL, NULL, NULL), 0);
    ST_ASSERT_INT_EQ(r.status, 200);
    snprintf(file, sizeof file, "%s/snap-%s.qcow2", dir, id);
    FILE *f = fopen(file, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fwrite(r.body, 1, r.len, f);
    fclose(f);
    st_resp_free(&r);
    /* whole, standalone, the instance's disk as the guest sees it, with the pattern */
    ST_ASSERT_INT_EQ(sh("qemu-img check -q -f qcow2 '%s'%s", file, ""), 0);
    ST_ASSERT_INT_EQ(
        sh("! qemu-img info --output=json '%s' | grep -q backing-filename%s", file, ""), 0);
    ST_ASSERT_INT_EQ(sh("qemu-img compare -q -f qcow2 -F qcow2 '%s' '%s'", file, disk), 0);
    ST_ASSERT_INT_EQ(
        sh("qemu-io -f qcow2 -r -c 'read -P 0xa5 512k 64k' '%s' | grep -q 'read 65536'%s", file,
           ""),
        0);
    unlink(file);
    /* a new instance boots from it (here: the first test's host, whose agent
     * is gone, is disabled): its overlay is backed by the image */
    char *lv = gwt_node_id(&C.gw, "node-lv");
    snprintf(path, sizeof path, "/v1/nodes/%s", lv ? lv : "none");
    free(lv);
    ST_ASSERT_INT_EQ(gwt_status(&C.gw, "PATCH", path, C.gw.admin_token, "{\"disabled\":true}"),
                     200);
    char id2[40];
    char *b = st_jsonf("{s:s, s:s, s:s}", "name", "from-snap", "flavor", C.flavor, "image", img);
    ST_ASSERT_INT_EQ_FATAL(cloud_create_body(&C, b, id2), 202);
    free(b);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id2, "state", "active", 30000), 0);
    snprintf(q, sizeof q, "SELECT checksum FROM images.images WHERE id = '%s'", img);
    char *sha = cloud_sql(&C, q);
    snprintf(disk, sizeof disk, "%s/instances/%s/disk.qcow2", dir, id2);
    ST_ASSERT_INT_EQ(
        sh("qemu-img info -U --output=json '%s' | grep -q '\"backing-filename\": .*%s'", disk,
           sha ? sha : "none"),
        0);
    free(sha);
    ST_ASSERT_INT_EQ(cloud_delete(&C, id2), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id2, 30000), 0);
    free(img);
}

static void test_firmware_image_on_libvirt(void)
{
    cloud_agent lv;
    start_agent(&lv, "node-fw");
    char img[40], id[40], path[1200];
    ST_ASSERT_INT_EQ_FATAL(cloud_upload_image(&C, "{\"name\":\"fwboot\",\"disk_format\":\"raw\"}",
                                              st_build_path("tests/guest/fwboot.img"), img),
                           200);
    /* the node says it has firmware: the bios file exists on this host */
    char *fw = cloud_sql(&C, "SELECT firmware FROM iaas.nodes WHERE name = 'node-fw'");
    ST_ASSERT_STR_EQ(fw, "t");
    free(fw);
    char *b = st_jsonf("{s:s, s:s, s:s}", "name", "fw", "flavor", C.flavor, "image", img);
    ST_ASSERT_INT_EQ_FATAL(cloud_create_body(&C, b, id), 202);
    free(b);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    char *on = cloud_node_of(&C, id);
    ST_ASSERT_STR_EQ(on, "node-fw");
    free(on);
    char q[200];
    snprintf(q, sizeof q, "SELECT boot FROM iaas.instances WHERE id = '%s'", id);
    char *boot = cloud_sql(&C, q);
    ST_ASSERT_STR_EQ(boot, "firmware");
    free(boot);
    snprintf(path, sizeof path, "%s/instances/%s/domain.xml", lv.state_dir, id);
    ST_ASSERT_INT_EQ(cloud_file_count(path, "<boot dev='hd'/>"), 1);
    ST_ASSERT_INT_EQ(cloud_file_count(path, "<kernel>"), 0);
    ST_ASSERT_INT_EQ(cloud_file_count(path, "<cmdline>"), 0);
    char disk[200];
    snprintf(disk, sizeof disk, "/instances/%s/disk.qcow2", id);
    ST_ASSERT_INT_EQ(cloud_file_count(path, disk), 1);
    snapshot_and_boot(lv.state_dir, id);
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 30000), 0);

    /* a disk naming the test guest (a kernel image) and a ramdisk image: the
     * node may fetch both (they are the instance's), caches them verified
     * and defines a direct boot with the disk's overlay as root */
    char rd[40], root[40], cached[1200];
    ST_ASSERT_INT_EQ_FATAL(cloud_kernel_disk(&C, st_build_path("tests/guest/fwboot.img"), rd, root),
                           200);
    b = st_jsonf("{s:s, s:s, s:s}", "name", "kr", "flavor", C.flavor, "image", root);
    ST_ASSERT_INT_EQ_FATAL(cloud_create_body(&C, b, id), 202);
    free(b);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    snprintf(path, sizeof path, "%s/instances/%s/domain.xml", lv.state_dir, id);
    ST_ASSERT_INT_EQ(cloud_file_count(path, "<kernel>"), 1);
    ST_ASSERT_INT_EQ(cloud_file_count(path, "<initrd>"), 1);
    ST_ASSERT_INT_EQ(cloud_file_count(path, "<boot dev="), 0);
    snprintf(disk, sizeof disk, "stratus.instance=%s", id);
    ST_ASSERT_INT_EQ(cloud_file_count(path, disk), 1); /* the command line */
    /* the kernel and the ramdisk sit in the cache under their records */
    static const char *const parts[2] = {"kernel", "rd"};
    const char *ids[2] = {C.image_id, rd};
    for (int i = 0; i < 2; i++) {
        snprintf(cached, sizeof cached, "%s/images/%s.json", lv.state_dir, ids[i]);
        if (access(cached, R_OK) != 0)
            fprintf(stderr, "%s record not cached: %s\n", parts[i], cached);
        ST_ASSERT_INT_EQ(access(cached, R_OK), 0);
    }
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 30000), 0);
    cloud_agent_stop(&lv, SIGTERM);
}

static CU_TestInfo tests[] = {
    {"the agent drives libvirt (test hypervisor) through create, stop, start, reboot, delete",
     test_libvirt_agent},
    {"a disk image boots as a BIOS domain on a node with firmware (and its snapshot boots),"
     " or its kernel and ramdisk",
     test_firmware_image_on_libvirt},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"reconcile_libvirt", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
