/*
 * node_vm_spec and node_vm_guest (this file built twice, ND_VM_GUEST for
 * the second): the VM spec's disks and ports.
 *
 * node_vm_spec needs no VM: the spec's invariants refuse bad disks and
 * ports; the config the stratus-vmm driver renders for two disks and two
 * ports (vm.json `disks`, `nics` with tap, MAC and MTU) is accepted by a
 * real stratus-vmm's PUT /vm/config, so only the start itself may fail;
 * the gateway's ports become the spec's (taps named tap + 11 characters of
 * the port id, made by the test in a private network namespace), and a
 * port whose tap is missing fails, named. The three boots (firmware, a
 * kernel with an initrd, the image as kernel) render the VMM's "boot",
 * "firmware", "kernel", "initrd" and "cmdline" keys as its config.c reads
 * them, mixed boots are refused, and a real stratus-vmm takes each. A
 * stop of a VMM whose guest ignores the power button (a stand-in answering
 * the control socket) is forced when the grace ends, and at once when the
 * agent hurries it (a force stop or a delete ordered meanwhile).
 *
 * node_vm_guest (KVM, root; skipped otherwise) runs one: in a private
 * network namespace the test makes two taps, launches the test guest
 * through the driver's vtable with two disks and two ports, and the guest
 * and the host judge:
 *   - scenario=pci: the guest finds two virtio-blk and two virtio-net
 *     functions; the VMM's final counters name the disks by their spec ids
 *     and the NICs net0, net1;
 *   - scenario=net (send): the guest's first NIC has the first port's MAC,
 *     and its frames arrive on the first port's tap, none on the second's;
 *   - a port whose tap does not exist: the VMM's start fails, naming it.
 */
#include "agent.h"
#include "guest_run.h"
#include "st_proc.h"
#include "st_test.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define ID "77777777-7777-4777-8777-777777777777"

static nd_driver *D;
static char *tmp;
static char tap[2][16];

static int teardown(void)
{
    if (D)
        D->ops->free(D);
    if (tmp)
        st_rmtree(tmp);
    free(tmp);
    return 0;
}

/* A spec for the test guest with two raw disks and two ports, in dir. */
static void spec_of(nd_vm_spec *s, char *dir, size_t dn, const char *tag, const char *cmdline)
{
    snprintf(dir, dn, "%s/%s", tmp, tag);
    nd_mkdirs(dir, 0700);
    memset(s, 0, sizeof *s);
    s->id = ID;
    s->dir = dir;
    s->vcpus = 1;
    s->memory_mib = 128;
    s->fresh = 1;
    snprintf(s->kernel, sizeof s->kernel, "%s", guest_elf_path());
    snprintf(s->cmdline, sizeof s->cmdline, "console=ttyS0 %s", cmdline);
    s->ndisks = 2;
    for (int i = 0; i < 2; i++) {
        nd_vm_disk *d = &s->disks[i];
        snprintf(d->id, sizeof d->id, i ? "vol-1" : "disk0");
        snprintf(d->path, sizeof d->path, "%s/d%d.raw", dir, i);
        snprintf(d->format, sizeof d->format, "raw");
        d->read_only = i;
        int fd = open(d->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        ST_ASSERT_INT_EQ(ftruncate(fd, 1 << 20), 0);
        close(fd);
    }
    s->nports = 2;
    for (int i = 0; i < 2; i++) {
        nd_vm_port *p = &s->ports[i];
        snprintf(p->id, sizeof p->id, "%d%d%d%d%d%d%d%d-cccc-4ccc-8ccc-cccccccccccc", i, i, i, i, i,
                 i, i, i);
        snprintf(p->tap, sizeof p->tap, "%.15s", tap[i]);
        snprintf(p->mac, sizeof p->mac, "fa:16:3e:00:01:%02x", i + 1);
        p->model = ND_NIC_VIRTIO;
        p->mtu = 1450;
    }
}

#ifdef ND_VM_GUEST
static int sh(const char *fmt, const char *a)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, fmt, a);
    return system(cmd);
}

static int setup_guest(void)
{
    if (access("/dev/kvm", R_OK | W_OK) != 0)
        st_skip("no /dev/kvm");
    if (geteuid() != 0)
        st_skip("taps need root");
    /* a private network namespace: the taps and the VMMs' view of them die with us */
    if (unshare(CLONE_NEWNET) < 0) {
        fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
        return 1;
    }
    for (int i = 0; i < 2; i++) {
        snprintf(tap[i], sizeof tap[i], "vs%d%c", (int)getpid(), 'a' + i);
        if (sh("ip tuntap add dev %s mode tap", tap[i]) || sh("ip link set %s up", tap[i]))
            return 1;
    }
    char err[256];
    nd_vmm_opts o = {.vmm_path = st_build_path("compute-node/vmm/stratus-vmm"),
                     .log_level = "info"};
    D = nd_driver_vmm_new(&o, err, sizeof err);
    if (!D) {
        fprintf(stderr, "vmm driver: %s\n", err);
        return 1;
    }
    tmp = st_tmpdir("node-vm-spec");
    return 0;
}

/* Launches s through the driver and waits for the guest to end; judged. */
static int run(const nd_vm_spec *s, guest_result *r)
{
    nd_vm_handle h;
    memset(&h, 0, sizeof h);
    char err[512] = "";
    int fd = -1;
    memset(r, 0, sizeof *r);
    if (D->ops->launch(D, s, &h, &fd, err, sizeof err) < 0) {
        fprintf(stderr, "launch: %s\n", err);
        return -1;
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int ended = poll(&p, 1, 30000) == 1;
    if (!ended)
        D->ops->destroy(D, s->dir, &h, fd, err, sizeof err);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    waitid(P_PIDFD, (id_t)fd, &si, WEXITED); /* the VMM is our child */
    close(fd);
    char serial[700];
    snprintf(serial, sizeof serial, "%s/serial.log", s->dir);
    FILE *f = fopen(serial, "r");
    char *out = calloc(1, 1 << 20);
    size_t n = f ? fread(out, 1, (1 << 20) - 1, f) : 0;
    if (f)
        fclose(f);
    out[n] = 0;
    int status = si.si_code == CLD_EXITED ? si.si_status << 8 : si.si_status;
    guest_judge(r, out, status, !ended);
    free(out);
    if (r->verdict != GUEST_PASS)
        guest_result_print(r, stderr);
    return r->verdict;
}

/* Packets the tap received (the guest sent), from /proc/net/dev, which shows this process's
 * network namespace (sysfs shows the namespace it was mounted in, not the test's own). */
static unsigned long long tap_rx(const char *name)
{
    FILE *f = fopen("/proc/net/dev", "r");
    char line[512], want[32];
    unsigned long long bytes, v = 0;
    snprintf(want, sizeof want, "%s:", name);
    while (f && fgets(line, sizeof line, f)) {
        char *p = line + strspn(line, " ");
        if (!strncmp(p, want, strlen(want)) &&
            sscanf(p + strlen(want), "%llu %llu", &bytes, &v) == 2)
            break;
        v = 0;
    }
    if (f)
        fclose(f);
    return v;
}

static void test_two_disks_two_nics_seen_by_the_guest(void)
{
    nd_vm_spec s;
    char dir[600];
    spec_of(&s, dir, sizeof dir, "pci", "scenario=pci pci.expect=1af4:1042,1af4:1041");
    guest_result r = {0};
    ST_ASSERT_INT_EQ_FATAL(run(&s, &r), GUEST_PASS);
    int blk = 0, net = 0;
    char v[256];
    for (int i = 0; guest_data_nth(&r, "pci", i, v, sizeof v) == 0; i++) {
        blk += strstr(v, "1af4:1042") != NULL;
        net += strstr(v, "1af4:1041") != NULL;
    }
    ST_ASSERT_INT_EQ(blk, 2);
    ST_ASSERT_INT_EQ(net, 2);
    guest_result_free(&r);

    /* the VMM's own account: devices named as the spec says, in its order */
    char *c = nd_vmm_final_counters(dir);
    json_t *j = c ? json_loads(c, 0, NULL) : NULL;
    json_t *disks = json_object_get(j, "disks"), *nics = json_object_get(j, "nics");
    ST_ASSERT_INT_EQ_FATAL(json_array_size(disks), 2);
    ST_ASSERT_INT_EQ_FATAL(json_array_size(nics), 2);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(disks, 0), "id")), "disk0");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(disks, 1), "id")), "vol-1");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(nics, 1), "id")), "net1");
    json_decref(j);
    free(c);

    /* and the config the driver wrote: taps, MACs, MTU, the read-only disk */
    char path[700];
    snprintf(path, sizeof path, "%s/vm.json", dir);
    j = json_load_file(path, 0, NULL);
    json_t *n1 = json_array_get(json_object_get(j, "nics"), 1);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(n1, "tap")), tap[1]);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(n1, "mac")), "fa:16:3e:00:01:02");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(n1, "mtu")), 1450);
    json_t *d1 = json_array_get(json_object_get(j, "disks"), 1);
    ST_ASSERT_INT_EQ(json_is_true(json_object_get(d1, "read_only")), 1);
    json_decref(j);
}

static void test_frames_leave_on_the_first_ports_tap(void)
{
    nd_vm_spec s;
    char dir[600];
    spec_of(&s, dir, sizeof dir, "net", "scenario=net net.role=send net.count=4 net.wait_ms=100");
    unsigned long long a0 = tap_rx(tap[0]), b0 = tap_rx(tap[1]);
    guest_result r = {0};
    ST_ASSERT_INT_EQ_FATAL(run(&s, &r), GUEST_PASS);
    char mac[64] = "";
    guest_data(&r, "net.mac", mac, sizeof mac);
    ST_ASSERT_STR_EQ(mac, "fa:16:3e:00:01:01");
    guest_result_free(&r);
    ST_ASSERT_INT_EQ(tap_rx(tap[0]) - a0 >= 4, 1);
    ST_ASSERT_INT_EQ(tap_rx(tap[1]) - b0, 0);
}

static void test_missing_tap_fails_the_launch(void)
{
    nd_vm_spec s;
    char dir[600];
    spec_of(&s, dir, sizeof dir, "notap", "scenario=boot");
    snprintf(s.ports[1].tap, sizeof s.ports[1].tap, "vs%dz", (int)getpid());
    nd_vm_handle h;
    memset(&h, 0, sizeof h);
    char err[512] = "";
    int fd = -1;
    ST_ASSERT_INT_EQ(D->ops->launch(D, &s, &h, &fd, err, sizeof err), -1);
    ST_ASSERT_INT_EQ(fd, -1);
    ST_ASSERT_INT_EQ(strstr(err, s.ports[1].tap) != NULL, 1);
}

static CU_TestInfo tests[] = {
    {"two disks and two NICs reach the guest, named as in the spec",
     test_two_disks_two_nics_seen_by_the_guest},
    {"the first NIC has the first port's MAC and sends on its tap",
     test_frames_leave_on_the_first_ports_tap},
    {"a port whose tap does not exist fails the launch, naming it",
     test_missing_tap_fails_the_launch},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"vm_guest", setup_guest, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};
#else
static int setup_spec(void)
{
    char err[256];
    nd_vmm_opts o = {.vmm_path = st_build_path("compute-node/vmm/stratus-vmm"),
                     .log_level = "info"};
    D = nd_driver_vmm_new(&o, err, sizeof err);
    if (!D) {
        fprintf(stderr, "vmm driver: %s\n", err);
        return 1;
    }
    for (int i = 0; i < 2; i++) /* never made: a VMM that could start would fail on them */
        snprintf(tap[i], sizeof tap[i], "vn%d%c", (int)getpid(), 'a' + i);
    tmp = st_tmpdir("node-vm-spec");
    return 0;
}
static void test_the_vmm_takes_the_config(void)
{
    nd_vm_spec s;
    char dir[600];
    spec_of(&s, dir, sizeof dir, "cfg", "scenario=boot");
    nd_vm_handle h;
    memset(&h, 0, sizeof h);
    char err[512] = "";
    int fd = -1;
    if (D->ops->launch(D, &s, &h, &fd, err, sizeof err) == 0) {
        D->ops->destroy(D, dir, &h, fd, err, sizeof err); /* could not happen: no such taps */
        close(fd);
    } else {
        /* PUT /vm/config was answered 204; only the start failed */
        ST_ASSERT_INT_EQ(strncmp(err, "VMM start failed", 16), 0);
        ST_ASSERT_INT_EQ(fd, -1);
    }
    char path[700];
    snprintf(path, sizeof path, "%s/vm.json", dir);
    json_t *j = json_load_file(path, 0, NULL);
    json_t *disks = json_object_get(j, "disks"), *nics = json_object_get(j, "nics");
    ST_ASSERT_INT_EQ_FATAL(json_array_size(disks), 2);
    ST_ASSERT_INT_EQ_FATAL(json_array_size(nics), 2);
    json_t *d1 = json_array_get(disks, 1), *n0 = json_array_get(nics, 0),
           *n1 = json_array_get(nics, 1);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(d1, "id")), "vol-1");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(d1, "format")), "raw");
    ST_ASSERT_INT_EQ(json_is_true(json_object_get(d1, "read_only")), 1);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(n0, "id")), "net0");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(n1, "id")), "net1");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(n1, "tap")), tap[1]);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(n1, "mac")), "fa:16:3e:00:01:02");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(n1, "mtu")), 1450);
    json_decref(j);
}

static void test_spec_invariants(void)
{
    nd_vm_spec s;
    char dir[600], err[256];
    spec_of(&s, dir, sizeof dir, "check", "scenario=boot");
    ST_ASSERT_INT_EQ(nd_vm_spec_check(&s, err, sizeof err), 0);
    nd_vm_spec b = s;
    b.ndisks = 0;
    ST_ASSERT_INT_EQ(nd_vm_spec_check(&b, err, sizeof err), -1);
    b = s;
    b.nports = ND_MAX_PORTS + 1;
    ST_ASSERT_INT_EQ(nd_vm_spec_check(&b, err, sizeof err), -1);
    b = s;
    snprintf(b.disks[1].id, sizeof b.disks[1].id, "disk0");
    ST_ASSERT_INT_EQ(nd_vm_spec_check(&b, err, sizeof err), -1);
    b = s;
    snprintf(b.disks[1].format, sizeof b.disks[1].format, "vmdk");
    ST_ASSERT_INT_EQ(nd_vm_spec_check(&b, err, sizeof err), -1);
    b = s;
    snprintf(b.ports[1].mac, sizeof b.ports[1].mac, "fa:16:3e:00:01:01"); /* twice */
    ST_ASSERT_INT_EQ(nd_vm_spec_check(&b, err, sizeof err), -1);
    const char *bad_macs[] = {"01:16:3e:00:01:01", "00:00:00:00:00:00", "FA:16:3E:00:01:01",
                              "fa-16-3e-00-01-01", "fa:16:3e:00:01",    "fa:16:3e:00:01:0g"};
    for (size_t i = 0; i < sizeof bad_macs / sizeof *bad_macs; i++) {
        b = s;
        snprintf(b.ports[0].mac, sizeof b.ports[0].mac, "%s", bad_macs[i]);
        ST_ASSERT_INT_EQ(nd_vm_spec_check(&b, err, sizeof err), -1);
    }
    b = s;
    b.ports[0].mtu = 67;
    ST_ASSERT_INT_EQ(nd_vm_spec_check(&b, err, sizeof err), -1);
    b = s;
    b.ports[0].model = (nd_nic_model)7;
    ST_ASSERT_INT_EQ(nd_vm_spec_check(&b, err, sizeof err), -1);
    b = s;
    snprintf(b.ports[0].tap, sizeof b.ports[0].tap, "tap/../x");
    ST_ASSERT_INT_EQ(nd_vm_spec_check(&b, err, sizeof err), -1);
    nd_nic_model m;
    ST_ASSERT_INT_EQ(nd_nic_model_parse("virtio", &m), 0);
    ST_ASSERT_INT_EQ(m, ND_NIC_VIRTIO);
    ST_ASSERT_INT_EQ(nd_nic_model_parse("e1000", &m), 0);
    ST_ASSERT_INT_EQ(m, ND_NIC_E1000);
    ST_ASSERT_STR_EQ(nd_nic_model_name(ND_NIC_E1000), "e1000");
    ST_ASSERT_INT_EQ(nd_nic_model_parse("rtl8139", &m), -1);
}

/* The order's ports into the spec: taps named tap + 11, in order; a port
 * with no tap, or a model or vnic_type not served here, fails naming it. */
static void test_ports_from_the_order(void)
{
    nd_order o;
    memset(&o, 0, sizeof o);
    o.nports = 2;
    for (int i = 0; i < 2; i++) {
        nd_port *p = &o.ports[i];
        snprintf(p->id, sizeof p->id, "%08x-dddd-4ddd-8ddd-dddddddddddd",
                 (unsigned)getpid() * 2u + (unsigned)i);
        snprintf(p->mac, sizeof p->mac, "fa:16:3e:00:02:%02x", i + 1);
        snprintf(p->model, sizeof p->model, "virtio");
        snprintf(p->vnic_type, sizeof p->vnic_type, "virtio");
        p->mtu = 1450 + i;
    }
    nd_vm_spec s;
    memset(&s, 0, sizeof s);
    char err[256] = "", tapname[2][16];
    nd_port_tap(o.ports[0].id, tapname[0]);
    nd_port_tap(o.ports[1].id, tapname[1]);
    ST_ASSERT_INT_EQ(nd_spec_ports(&o, &s, err, sizeof err), -1); /* no taps yet */
    ST_ASSERT_INT_EQ(strstr(err, tapname[0]) != NULL && strstr(err, o.ports[0].id) != NULL, 1);
    ST_ASSERT_INT_EQ(strstr(err, "does not exist") != NULL, 1);
    if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
        fprintf(stderr, "not root: taps not made, the rest not checked\n");
        return;
    }
    char cmd[200];
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "ip tuntap add dev %s mode tap", tapname[i]);
        ST_ASSERT_INT_EQ_FATAL(system(cmd), 0);
    }
    ST_ASSERT_INT_EQ_FATAL(nd_spec_ports(&o, &s, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(s.nports, 2);
    ST_ASSERT_STR_EQ(s.ports[1].tap, tapname[1]);
    ST_ASSERT_STR_EQ(s.ports[1].id, o.ports[1].id);
    ST_ASSERT_STR_EQ(s.ports[1].mac, "fa:16:3e:00:02:02");
    ST_ASSERT_INT_EQ(s.ports[1].mtu, 1451);
    ST_ASSERT_INT_EQ(s.ports[0].model, ND_NIC_VIRTIO);
    snprintf(o.ports[1].model, sizeof o.ports[1].model, "e1000");
    ST_ASSERT_INT_EQ(nd_spec_ports(&o, &s, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(s.ports[1].model, ND_NIC_E1000);
    snprintf(o.ports[1].model, sizeof o.ports[1].model, "rtl8139");
    ST_ASSERT_INT_EQ(nd_spec_ports(&o, &s, err, sizeof err), -1);
    ST_ASSERT_INT_EQ(strstr(err, "rtl8139") != NULL, 1);
    snprintf(o.ports[1].model, sizeof o.ports[1].model, "virtio");
    snprintf(o.ports[1].vnic_type, sizeof o.ports[1].vnic_type, "direct");
    ST_ASSERT_INT_EQ(nd_spec_ports(&o, &s, err, sizeof err), -1);
    ST_ASSERT_INT_EQ(strstr(err, "direct") != NULL, 1);
}

/* The config the driver renders for s, parsed; NULL when it refused (err). */
static json_t *config_of(const nd_vm_spec *s, char *err, size_t errlen)
{
    char *text = nd_vmm_config_json(s, err, errlen);
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return j;
}

/* A real stratus-vmm answers the driver's PUT /vm/config with 204 (only
 * the start may fail here: no KVM, no taps). */
static void vmm_takes(nd_vm_spec *s, const char *dir)
{
    nd_vm_handle h;
    memset(&h, 0, sizeof h);
    char err[512] = "";
    int fd = -1;
    if (D->ops->launch(D, s, &h, &fd, err, sizeof err) == 0) {
        D->ops->destroy(D, dir, &h, fd, err, sizeof err);
        close(fd);
    } else {
        if (strncmp(err, "VMM start failed", 16))
            fprintf(stderr, "launch: %s\n", err);
        ST_ASSERT_INT_EQ(strncmp(err, "VMM start failed", 16), 0);
    }
}

static void test_three_boots(void)
{
    nd_vm_spec s;
    char dir[600], err[256], initrd[700];
    /* firmware: the BIOS image, no kernel, initrd or command line */
    spec_of(&s, dir, sizeof dir, "fw", "");
    s.boot = ND_BOOT_FIRMWARE;
    s.kernel[0] = s.cmdline[0] = 0;
    snprintf(s.firmware, sizeof s.firmware, "/usr/share/seabios/bios.bin");
    ST_ASSERT_INT_EQ(nd_vm_spec_check(&s, err, sizeof err), 0);
    json_t *j = config_of(&s, err, sizeof err);
    ST_ASSERT_INT_EQ_FATAL(j != NULL, 1);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "boot")), "firmware");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "firmware")), s.firmware);
    ST_ASSERT_INT_EQ(!json_object_get(j, "kernel") && !json_object_get(j, "initrd") &&
                         !json_object_get(j, "cmdline"),
                     1);
    ST_ASSERT_STR_EQ(
        json_string_value(json_object_get(json_array_get(json_object_get(j, "disks"), 0), "id")),
        "disk0");
    json_decref(j);
    vmm_takes(&s, dir);
    nd_vm_spec b = s;
    snprintf(b.kernel, sizeof b.kernel, "%s", guest_elf_path()); /* firmware and a kernel */
    ST_ASSERT_INT_EQ(nd_vm_spec_check(&b, err, sizeof err), -1);
    b = s;
    b.firmware[0] = 0;
    ST_ASSERT_INT_EQ(nd_vm_spec_check(&b, err, sizeof err), -1);
    ST_ASSERT_INT_EQ(config_of(&b, err, sizeof err) == NULL, 1);
    b = s;
    snprintf(b.cmdline, sizeof b.cmdline, "console=ttyS0");
    ST_ASSERT_INT_EQ(nd_vm_spec_check(&b, err, sizeof err), -1);

    /* a kernel image with a ramdisk image as initrd, disk0 the root disk */
    spec_of(&s, dir, sizeof dir, "kinit", "scenario=boot");
    snprintf(initrd, sizeof initrd, "%s/initrd.img", dir);
    FILE *f = fopen(initrd, "w");
    ST_ASSERT_INT_EQ_FATAL(f != NULL, 1);
    fputs("an initrd", f);
    fclose(f);
    snprintf(s.initrd, sizeof s.initrd, "%s", initrd);
    ST_ASSERT_INT_EQ(nd_vm_spec_check(&s, err, sizeof err), 0);
    j = config_of(&s, err, sizeof err);
    ST_ASSERT_INT_EQ_FATAL(j != NULL, 1);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "boot")), "kernel");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "kernel")), guest_elf_path());
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "initrd")), initrd);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "cmdline")),
                     "console=ttyS0 scenario=boot");
    ST_ASSERT_INT_EQ(json_object_get(j, "firmware") == NULL, 1);
    json_decref(j);
    vmm_takes(&s, dir);
    b = s;
    b.kernel[0] = 0; /* an initrd without a kernel */
    ST_ASSERT_INT_EQ(nd_vm_spec_check(&b, err, sizeof err), -1);
    b = s;
    snprintf(b.firmware, sizeof b.firmware, "/usr/share/seabios/bios.bin");
    ST_ASSERT_INT_EQ(nd_vm_spec_check(&b, err, sizeof err), -1);

    /* the image is the kernel: no initrd key at all */
    spec_of(&s, dir, sizeof dir, "kern", "scenario=boot");
    j = config_of(&s, err, sizeof err);
    ST_ASSERT_INT_EQ_FATAL(j != NULL, 1);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "boot")), "kernel");
    ST_ASSERT_INT_EQ(json_object_get(j, "initrd") == NULL && json_object_get(j, "firmware") == NULL,
                     1);
    json_decref(j);
    ST_ASSERT_STR_EQ(nd_boot_name(ND_BOOT_FIRMWARE), "firmware");
    ST_ASSERT_INT_EQ(nd_boot_name((nd_boot)9) == NULL, 1);
}

/* A stand-in for a stratus-vmm whose guest ignores the power button: a
 * child answering 204 to every control call on dir/vmm.sock, exiting only
 * on "shutdown". */
static pid_t deaf_guest_vmm(const char *dir)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/vmm.sock", dir);
    unlink(a.sun_path);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 8) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        for (;;) {
            int c = accept(l, NULL, NULL);
            char b[4096];
            size_t n = 0;
            ssize_t k;
            /* every control call's body is one JSON object */
            while (c >= 0 && n < sizeof b - 1 && (k = read(c, b + n, sizeof b - 1 - n)) > 0) {
                b[n += (size_t)k] = 0;
                if (strchr(b, '}'))
                    break;
            }
            static const char ok[] = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
            if (c < 0 || write(c, ok, sizeof ok - 1) < 0)
                _exit(1);
            close(c);
            if (n && strstr(b, "\"shutdown\""))
                _exit(0);
        }
    }
    close(l);
    return pid;
}

static void *hurry_later(void *arg)
{
    usleep(300000);
    __atomic_store_n((int *)arg, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* One stop of a deaf guest's VMM with grace_ms; how it ended, ms taken. */
static long long stop_deaf(const char *dir, long long grace_ms, int *hurry, nd_stop_how *how)
{
    pid_t pid = deaf_guest_vmm(dir);
    CU_ASSERT_FATAL(pid > 0);
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    CU_ASSERT_FATAL(pidfd >= 0);
    nd_vm_handle h;
    memset(&h, 0, sizeof h);
    char err[256] = "";
    pthread_t t;
    if (hurry)
        pthread_create(&t, NULL, hurry_later, hurry);
    long long t0 = st_now_ms();
    ST_ASSERT_INT_EQ(D->ops->stop(D, dir, &h, pidfd, grace_ms, hurry, how, err, sizeof err), 0);
    long long ms = st_now_ms() - t0;
    if (hurry)
        pthread_join(t, NULL);
    int ws = -1;
    ST_ASSERT_INT_EQ(waitpid(pid, &ws, 0), pid);
    ST_ASSERT_INT_EQ(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, 1); /* ended by "shutdown" */
    close(pidfd);
    return ms;
}

static void test_a_newer_order_cuts_the_grace_short(void)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/deaf", tmp);
    ST_ASSERT_INT_EQ_FATAL(mkdir(dir, 0700), 0);
    nd_stop_how how = ND_STOP_NONE;
    /* the guest ignores the button: forced when the grace ends, not before */
    long long ms = stop_deaf(dir, 600, NULL, &how);
    ST_ASSERT_INT_EQ(how, ND_STOP_FORCED);
    CU_ASSERT(ms >= 600);
    /* a grace of a minute, hurried after 300 ms (a force stop or a delete arrived) */
    int hurry = 0;
    ms = stop_deaf(dir, 60000, &hurry, &how);
    ST_ASSERT_INT_EQ(how, ND_STOP_FORCED);
    CU_ASSERT(ms >= 300 && ms < 5000);
}

static CU_TestInfo tests[] = {
    {"the spec's invariants refuse bad disks and ports", test_spec_invariants},
    {"a stop waits the grace for a guest that ignores the button; a hurry ends it at once",
     test_a_newer_order_cuts_the_grace_short},
    {"the order's ports become the spec's; a missing tap fails, named", test_ports_from_the_order},
    {"a real stratus-vmm takes the driver's config of two disks and two ports",
     test_the_vmm_takes_the_config},
    {"firmware, kernel + initrd and image-as-kernel boots render the VMM's config",
     test_three_boots},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"vm_spec", setup_spec, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};
#endif

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
