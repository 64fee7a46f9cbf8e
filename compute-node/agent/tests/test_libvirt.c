/*
 * node_libvirt: the libvirt back end through the same vtable the agent
 * uses for stratus-vmm, against libvirt's built-in test hypervisor
 * (test:///default: in-process, no daemon). Launch, find it running, read
 * counters in billing's shape, reset, relaunch without doubling, stop,
 * destroy, and the errors for a VM that is not there. The domain XML of a
 * VM with two disks and two ports is judged by libvirt's own schema
 * (virt-xml-validate) and by what libvirt kept of the definition, and so
 * is each boot: firmware (no <kernel>: libvirt's default BIOS boots the
 * disk), a kernel with an initrd and command line, the image as kernel.
 */
#include "agent.h"
#include "st_proc.h"
#include "st_test.h"

#include <jansson.h>
#include <libvirt/libvirt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID "55555555-5555-4555-8555-555555555555"

static nd_driver *D;
static char *tmp;
static char dir[600];

static int setup(void)
{
    char err[256];
    D = nd_driver_libvirt_new("test:///default", err, sizeof err);
    if (!D) {
        fprintf(stderr, "libvirt: %s\n", err);
        return 1;
    }
    tmp = st_tmpdir("node-libvirt");
    snprintf(dir, sizeof dir, "%s/instances/%s", tmp, ID);
    nd_mkdirs(dir, 0700);
    return 0;
}

static int teardown(void)
{
    if (D)
        D->ops->free(D);
    st_rmtree(tmp);
    free(tmp);
    return 0;
}

static void spec_of(nd_vm_spec *s)
{
    memset(s, 0, sizeof *s);
    s->id = ID;
    s->dir = dir;
    s->vcpus = 1;
    s->memory_mib = 64;
    snprintf(s->kernel, sizeof s->kernel, "%s/guest <&'\">.elf", tmp); /* escaped in the XML */
    s->ndisks = 2;
    snprintf(s->disks[0].id, sizeof s->disks[0].id, "disk0");
    snprintf(s->disks[0].path, sizeof s->disks[0].path, "%s/disk.qcow2", dir);
    snprintf(s->disks[0].format, sizeof s->disks[0].format, "qcow2");
    snprintf(s->disks[1].id, sizeof s->disks[1].id, "vol-1");
    snprintf(s->disks[1].path, sizeof s->disks[1].path, "%s/data&1.raw", dir);
    snprintf(s->disks[1].format, sizeof s->disks[1].format, "raw");
    s->disks[1].read_only = 1;
    s->nports = 2;
    for (int i = 0; i < 2; i++) {
        nd_vm_port *p = &s->ports[i];
        snprintf(p->id, sizeof p->id, "%d%d%d%d%d%d%d%d-aaaa-4aaa-8aaa-aaaaaaaaaaaa", i, i, i, i, i,
                 i, i, i);
        snprintf(p->tap, sizeof p->tap, "tap%.11s", p->id);
        snprintf(p->mac, sizeof p->mac, "fa:16:3e:00:00:%02x", i + 1);
        p->model = ND_NIC_VIRTIO;
        p->mtu = i ? 0 : 1450;
    }
    snprintf(s->cmdline, sizeof s->cmdline, "console=ttyS0 scenario=boot a<b");
}

/* 1 when needle occurs in hay exactly n times. */
static int occurs(const char *hay, const char *needle, int n)
{
    int k = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        k++;
    return k == n;
}

/* Writes xml to tmp/name and has libvirt's schema judge it (virt-xml-validate,
 * libvirt-clients). */
static void validate(const char *xml, const char *name)
{
    char path[700], cmd[1600];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "w");
    ST_ASSERT_INT_EQ_FATAL(f != NULL, 1);
    fputs(xml, f);
    fclose(f);
    if (system("command -v virt-xml-validate >/dev/null") == 0) {
        snprintf(cmd, sizeof cmd, "virt-xml-validate %s domain >/dev/null", path);
        ST_ASSERT_INT_EQ(system(cmd), 0);
    } else {
        fprintf(stderr, "virt-xml-validate missing (libvirt-clients): schema not checked\n");
    }
}

static void test_domain_xml(void)
{
    nd_vm_spec s;
    spec_of(&s);
    char err[512] = "";
    char *xml = nd_libvirt_domain_xml(&s, "kvm", err, sizeof err);
    ST_ASSERT_INT_EQ_FATAL(xml != NULL, 1);
    ST_ASSERT_INT_EQ(occurs(xml, "<disk type='file' device='disk'>", 2), 1);
    ST_ASSERT_INT_EQ(occurs(xml, "<target dev='vda' bus='virtio'/>", 1), 1);
    ST_ASSERT_INT_EQ(occurs(xml, "<target dev='vdb' bus='virtio'/><readonly/>", 1), 1);
    ST_ASSERT_INT_EQ(occurs(xml, "data&amp;1.raw", 1), 1);
    ST_ASSERT_INT_EQ(occurs(xml, "<interface type='ethernet'>", 2), 1);
    ST_ASSERT_INT_EQ(occurs(xml, "<target dev='tap00000000-aa' managed='no'/>", 1), 1);
    ST_ASSERT_INT_EQ(occurs(xml, "<target dev='tap11111111-aa' managed='no'/>", 1), 1);
    ST_ASSERT_INT_EQ(occurs(xml, "<mac address='fa:16:3e:00:00:02'/>", 1), 1);
    ST_ASSERT_INT_EQ(occurs(xml, "<model type='virtio'/>", 2), 1);
    ST_ASSERT_INT_EQ(occurs(xml, "<mtu size='1450'/>", 1), 1);

    validate(xml, "domain.xml"); /* libvirt's schema is the judge */
    free(xml);

    /* a spec the drivers must refuse: two NICs on one tap */
    snprintf(s.ports[1].tap, sizeof s.ports[1].tap, "%s", s.ports[0].tap);
    ST_ASSERT_INT_EQ(nd_libvirt_domain_xml(&s, "kvm", err, sizeof err) == NULL, 1);
    ST_ASSERT_INT_EQ(strstr(err, "share") != NULL, 1);
}

/* What libvirt kept of a launched VM's definition: both disks, both NICs. */
static void check_defined(void)
{
    virConnectPtr c = virConnectOpen("test:///default"); /* the same in-process hypervisor */
    ST_ASSERT_INT_EQ_FATAL(c != NULL, 1);
    virDomainPtr d = virDomainLookupByName(c, "stratus-" ID);
    char *xml = d ? virDomainGetXMLDesc(d, 0) : NULL;
    ST_ASSERT_INT_EQ_FATAL(xml != NULL, 1);
    ST_ASSERT_INT_EQ(occurs(xml, "<interface type='ethernet'>", 2), 1);
    ST_ASSERT_INT_EQ(occurs(xml, "<mac address='fa:16:3e:00:00:01'/>", 1), 1);
    ST_ASSERT_INT_EQ(occurs(xml, "dev='tap11111111-aa'", 1), 1);
    ST_ASSERT_INT_EQ(occurs(xml, "<target dev='vdb' bus='virtio'/>", 1), 1);
    free(xml);
    virDomainFree(d);
    virConnectClose(c);
}

static void test_lifecycle(void)
{
    nd_vm_spec s;
    spec_of(&s);
    nd_vm_handle h;
    memset(&h, 0, sizeof h);
    char err[512] = "";
    int fd = 0;
    ST_ASSERT_INT_EQ_FATAL(D->ops->launch(D, &s, &h, &fd, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(fd, -1); /* no pidfd: libvirt owns the process */
    ST_ASSERT_STR_EQ(h.domain, "stratus-" ID);
    ST_ASSERT_INT_EQ(strlen(h.boot_id), 36);
    check_defined();

    nd_vm_status st;
    ST_ASSERT_INT_EQ(D->ops->status(D, dir, &h, &st, &fd), 0);
    ST_ASSERT_INT_EQ(st.state, ND_VM_RUNNING);

    char *c = NULL;
    ST_ASSERT_INT_EQ_FATAL(D->ops->counters(D, dir, &h, &c, err, sizeof err), 0);
    json_t *j = json_loads(c, 0, NULL);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "boot_id")), h.boot_id);
    ST_ASSERT_INT_EQ(json_is_integer(json_object_get(j, "cpu_time_ns_total")), 1);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(j, "disks")), 1);
    json_decref(j);
    nd_record r;
    memset(&r, 0, sizeof r);
    snprintf(r.o.id, sizeof r.o.id, ID);
    snprintf(r.o.tenant_id, sizeof r.o.tenant_id, ID);
    char *sample = nd_sample_make(&r, "active", nd_seq_next(), c);
    ST_ASSERT_INT_EQ(sample != NULL, 1); /* billing's sample shape */
    free(sample);
    free(c);

    ST_ASSERT_INT_EQ(D->ops->reset(D, dir, &h, err, sizeof err), 0);

    /* a second launch finds the running domain: no double */
    char boot[40];
    snprintf(boot, sizeof boot, "%s", h.boot_id);
    ST_ASSERT_INT_EQ(D->ops->launch(D, &s, &h, &fd, err, sizeof err), 0);
    ST_ASSERT_STR_EQ(h.boot_id, boot);

    nd_stop_how how = ND_STOP_NONE;
    ST_ASSERT_INT_EQ(D->ops->stop(D, dir, &h, -1, 5000, NULL, &how, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(how, ND_STOP_GRACEFUL); /* the test hypervisor's guest obeys at once */
    ST_ASSERT_INT_EQ(D->ops->status(D, dir, &h, &st, &fd), 0);
    ST_ASSERT_INT_EQ(st.state, ND_VM_EXITED);
    ST_ASSERT_INT_EQ(st.exit_code, 0); /* a shutdown: the agent reports stopped */
    ST_ASSERT_INT_EQ(st.signal, 0);
    ST_ASSERT_INT_EQ(D->ops->reset(D, dir, &h, err, sizeof err), -1);
    ST_ASSERT_INT_EQ(D->ops->counters(D, dir, &h, &c, err, sizeof err), -1);

    /* start again: a new boot; a stop with no grace is forced, not a shutdown */
    ST_ASSERT_INT_EQ(D->ops->launch(D, &s, &h, &fd, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(strcmp(h.boot_id, boot) != 0, 1);
    ST_ASSERT_INT_EQ(D->ops->stop(D, dir, &h, -1, 0, NULL, &how, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(how, ND_STOP_FORCED);
    ST_ASSERT_INT_EQ(D->ops->status(D, dir, &h, &st, &fd), 0);
    ST_ASSERT_INT_EQ(st.state, ND_VM_EXITED);
    ST_ASSERT_INT_EQ(D->ops->launch(D, &s, &h, &fd, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(D->ops->destroy(D, dir, &h, -1, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(D->ops->status(D, dir, &h, &st, &fd), 0);
    ST_ASSERT_INT_EQ(st.state, ND_VM_EXITED);
    ST_ASSERT_INT_EQ(st.signal != 0, 1); /* gone without a shutdown: an error */
    /* stop and destroy of nothing succeed (idempotent delete path) */
    ST_ASSERT_INT_EQ(D->ops->stop(D, dir, &h, -1, 100, NULL, &how, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(how, ND_STOP_NONE);
    ST_ASSERT_INT_EQ(D->ops->destroy(D, dir, &h, -1, err, sizeof err), 0);
}

static void test_console_file(void)
{
    char p[700];
    snprintf(p, sizeof p, "%s/serial.log", dir);
    FILE *f = fopen(p, "w");
    fputs("first line\nSTRATUS-GUEST start scenario=boot\n", f);
    fclose(f);
    nd_vm_handle h;
    memset(&h, 0, sizeof h);
    char *buf = NULL;
    size_t len = 0;
    long long marker = 0;
    ST_ASSERT_INT_EQ_FATAL(D->ops->console(D, dir, &h, 16, &buf, &len, &marker), 0);
    ST_ASSERT_INT_EQ(len, 16); /* only the tail */
    ST_ASSERT_INT_EQ(memcmp(buf, "t scenario=boot\n", 16), 0);
    free(buf);
    ST_ASSERT_INT_EQ(D->ops->console(D, dir, &h, 16, &buf, &len, &marker), 1); /* unchanged */
}

static void test_domain_xml_boots(void)
{
    nd_vm_spec s;
    char err[512] = "";
    /* firmware: no kernel, initrd or command line; the first disk boots */
    spec_of(&s);
    s.boot = ND_BOOT_FIRMWARE;
    s.kernel[0] = s.cmdline[0] = 0;
    snprintf(s.firmware, sizeof s.firmware, "/usr/share/seabios/bios.bin");
    char *xml = nd_libvirt_domain_xml(&s, "kvm", err, sizeof err);
    ST_ASSERT_INT_EQ_FATAL(xml != NULL, 1);
    ST_ASSERT_INT_EQ(occurs(xml, "<os><type arch='x86_64'>hvm</type><boot dev='hd'/></os>", 1), 1);
    ST_ASSERT_INT_EQ(
        occurs(xml, "<kernel>", 0) && occurs(xml, "<initrd>", 0) && occurs(xml, "<cmdline>", 0), 1);
    validate(xml, "firmware.xml");
    free(xml);
    /* a kernel with an initrd, the disk as root */
    spec_of(&s);
    snprintf(s.initrd, sizeof s.initrd, "%s/initrd&1.img", tmp);
    xml = nd_libvirt_domain_xml(&s, "kvm", err, sizeof err);
    ST_ASSERT_INT_EQ_FATAL(xml != NULL, 1);
    ST_ASSERT_INT_EQ(occurs(xml, "<kernel>", 1) && occurs(xml, "initrd&amp;1.img</initrd>", 1) &&
                         occurs(xml, "<cmdline>console=ttyS0 scenario=boot a&lt;b</cmdline>", 1) &&
                         occurs(xml, "<boot dev=", 0),
                     1);
    validate(xml, "kernel-initrd.xml");
    free(xml);
    /* the image is the kernel: no initrd */
    spec_of(&s);
    xml = nd_libvirt_domain_xml(&s, "kvm", err, sizeof err);
    ST_ASSERT_INT_EQ_FATAL(xml != NULL, 1);
    ST_ASSERT_INT_EQ(occurs(xml, "<kernel>", 1) && occurs(xml, "<initrd>", 0), 1);
    free(xml);
    /* a disk on Ceph: a network disk, its ceph.conf named, the client left to it */
    spec_of(&s);
    snprintf(s.disks[0].path, sizeof s.disks[0].path,
             "rbd:images/disk-" ID ":conf=/etc/ceph/c&1.conf:id=admin");
    snprintf(s.disks[0].format, sizeof s.disks[0].format, "raw");
    xml = nd_libvirt_domain_xml(&s, "kvm", err, sizeof err);
    ST_ASSERT_INT_EQ_FATAL(xml != NULL, 1);
    ST_ASSERT_INT_EQ(occurs(xml,
                            "<disk type='network' device='disk'><driver name='qemu' type='raw'/>"
                            "<source protocol='rbd' name='images/disk-" ID "'>"
                            "<config file='/etc/ceph/c&amp;1.conf'/></source>"
                            "<target dev='vda' bus='virtio'/>",
                            1),
                     1);
    ST_ASSERT_INT_EQ(occurs(xml, "<disk type='file' device='disk'>", 1), 1); /* vdb */
    validate(xml, "rbd.xml");
    free(xml);
    /* mixed boots are refused before any XML */
    spec_of(&s);
    snprintf(s.firmware, sizeof s.firmware, "/usr/share/seabios/bios.bin");
    ST_ASSERT_INT_EQ(nd_libvirt_domain_xml(&s, "kvm", err, sizeof err) == NULL, 1);
    s.boot = ND_BOOT_FIRMWARE;
    ST_ASSERT_INT_EQ(nd_libvirt_domain_xml(&s, "kvm", err, sizeof err) == NULL, 1);
    ST_ASSERT_INT_EQ(strstr(err, "firmware") != NULL, 1);
}

/* No live migration through libvirt yet: the node's heartbeat says so and
 * the gateway refuses to migrate to or from it. */
static void test_no_live_migration(void)
{
    CU_ASSERT_FALSE(nd_can_migrate(D));
    CU_ASSERT(D->ops->launch_incoming == NULL);
    CU_ASSERT_EQUAL(D->ops->caps & ND_CAP_MIGRATE, 0);
    CU_ASSERT_FALSE(nd_can_block_migrate(D));
}

static CU_TestInfo tests[] = {
    {"launch, status, counters, reset, stop, start, destroy", test_lifecycle},
    {"no live migration: the capability is absent", test_no_live_migration},
    {"the console is the serial file's tail, pushed only on change", test_console_file},
    {"a disk and an ethernet interface per port, valid to libvirt's schema", test_domain_xml},
    {"firmware, kernel + initrd, image-as-kernel boots and a Ceph disk, valid to libvirt's schema",
     test_domain_xml_boots},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"libvirt", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
