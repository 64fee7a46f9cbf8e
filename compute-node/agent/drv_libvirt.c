/*
 * drv_libvirt.c - the libvirt back end, for hosts that run QEMU through
 * libvirt: the same vtable as stratus-vmm's (driver.h).
 *
 * A VM is the domain "stratus-<instance id>" (defined, so libvirt keeps why
 * it stopped: a guest shutdown reads as exit 0, a crash or a destroy as a
 * failure) with the instance's UUID, booting the same kernel + qcow2 overlay
 * + command line the VMM would,
 * its serial port written to <instance dir>/serial.log (the console the
 * agent pushes); a <disk> per spec disk and an <interface type='ethernet'>
 * per port on the tap network/ made. Launch reuses a running domain of that
 * name (adoption comes free: libvirtd keeps domains across agent restarts);
 * a shut-off one is defined again from the spec before it boots. Counters come from
 * virDomainGetInfo (CPU time) and virDomainBlockStats, in the stratus-vmm
 * counter shape billing takes; the boot id is made at launch. The domain
 * type is "test" for test:// URIs (libvirt's built-in test hypervisor, no
 * daemon) and "kvm" otherwise. There is no pidfd to watch: the agent polls
 * status() of running domains at every reconcile round (lifecycle events
 * would be quicker). destroy() also undefines the domain.
 */
#include "agent.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stratus/uuid.h"

/* XML text escaping for paths and the command line. */
static void esc(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 7 < n; s++) {
        const char *r = NULL;
        switch (*s) {
        case '<': r = "&lt;"; break;
        case '>': r = "&gt;"; break;
        case '&': r = "&amp;"; break;
        case '\'': r = "&apos;"; break;
        case '"': r = "&quot;"; break;
        }
        if (r) {
            size_t l = strlen(r);
            memcpy(out + k, r, l);
            k += l;
        } else {
            out[k++] = *s;
        }
    }
    out[k] = 0;
}

/*
 * A disk on Ceph, "pool/image[:conf=FILE][:id=CLIENT]" (image.c's rbd: path without its
 * prefix), as QEMU's own rbd driver opens it: a network disk, ceph.conf named in <config>
 * (libvirt 7.5 or later); the client id is left to ceph.conf (a cephx user would need a
 * libvirt secret). Opens the <disk> element; the caller closes it.
 */
static void rbd_disk_xml(FILE *f, const char *spec, char *e1, size_t n1, char *e2, size_t n2)
{
    char name[4096], conf[4096] = "";
    snprintf(name, sizeof name, "%s", spec);
    char *colon = strchr(name, ':');
    if (colon) {
        *colon = 0;
        const char *c = strstr(colon + 1, "conf=");
        if (c) {
            snprintf(conf, sizeof conf, "%s", c + 5);
            conf[strcspn(conf, ":")] = 0;
        }
    }
    esc(name, e1, n1);
    fprintf(f,
            "<disk type='network' device='disk'><driver name='qemu' type='raw'/>"
            "<source protocol='rbd' name='%s'>",
            e1);
    if (conf[0]) {
        esc(conf, e2, n2);
        fprintf(f, "<config file='%s'/>", e2);
    }
    fprintf(f, "</source>");
}

/*
 * The domain XML of a spec: the same boot and serial file the VMM would
 * get (a kernel boot: <kernel>, <initrd>, <cmdline>; a firmware boot: none
 * of them, so libvirt's default BIOS, SeaBIOS under QEMU, boots the first
 * disk); a <disk> per disk (vda, vdb, ... in spec order) and an
 * <interface type='ethernet'> per port on its tap, which network/ made
 * (managed='no': libvirt must neither create nor delete it). malloc'd.
 */
char *nd_libvirt_domain_xml(const nd_vm_spec *s, const char *type, char *err, size_t errlen)
{
    if (nd_vm_spec_check(s, err, errlen) < 0)
        return NULL;
    const char *id = strrchr(s->dir, '/');
    char name[80], serial[4200];
    snprintf(name, sizeof name, "stratus-%s", id ? id + 1 : s->dir);
    snprintf(serial, sizeof serial, "%s/serial.log", s->dir);
    static __thread char e1[4096 * 6 + 8], e2[4096 * 6 + 8];
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    esc(name, e1, sizeof e1);
    fprintf(f, "<domain type='%s'><name>%s</name><uuid>%s</uuid>", type, e1, s->id);
    fprintf(f, "<memory unit='MiB'>%d</memory><vcpu>%d</vcpu><os><type arch='x86_64'>hvm</type>",
            s->memory_mib, s->vcpus);
    if (s->boot == ND_BOOT_FIRMWARE) {
        fprintf(f, "<boot dev='hd'/>");
    } else {
        esc(s->kernel, e1, sizeof e1);
        fprintf(f, "<kernel>%s</kernel>", e1);
        if (s->initrd[0]) {
            esc(s->initrd, e1, sizeof e1);
            fprintf(f, "<initrd>%s</initrd>", e1);
        }
        esc(s->cmdline, e2, sizeof e2);
        fprintf(f, "<cmdline>%s</cmdline>", e2);
    }
    fprintf(f, "</os><on_reboot>restart</on_reboot><devices>");
    for (int i = 0; i < s->ndisks; i++) {
        const nd_vm_disk *d = &s->disks[i];
        if (!strncmp(d->path, "rbd:", 4)) {
            rbd_disk_xml(f, d->path + 4, e1, sizeof e1, e2, sizeof e2);
        } else {
            esc(d->path, e1, sizeof e1);
            fprintf(f,
                    "<disk type='file' device='disk'><driver name='qemu' type='%s'/>"
                    "<source file='%s'/>",
                    d->format, e1);
        }
        fprintf(f, "<target dev='vd%c' bus='virtio'/>%s<serial>%s</serial></disk>", 'a' + i,
                d->read_only ? "<readonly/>" : "", d->id);
    }
    for (int i = 0; i < s->nports; i++) {
        const nd_vm_port *p = &s->ports[i];
        fprintf(f,
                "<interface type='ethernet'><mac address='%s'/>"
                "<target dev='%s' managed='no'/><model type='%s'/>",
                p->mac, p->tap, nd_nic_model_name(p->model));
        if (p->mtu)
            fprintf(f, "<mtu size='%d'/>", p->mtu);
        fprintf(f, "</interface>");
    }
    esc(serial, e1, sizeof e1);
    fprintf(f,
            "<serial type='file'><source path='%s'/><target port='0'/></serial>"
            "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>"
            "</devices></domain>",
            e1);
    if (fclose(f) != 0 || !buf) {
        free(buf);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return buf;
}

#ifdef ND_HAVE_LIBVIRT
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

typedef struct lv_drv {
    virConnectPtr conn;
    int test;
} lv_drv;

static void last_err(char *err, size_t errlen, const char *what)
{
    const char *m = virGetLastErrorMessage();
    snprintf(err, errlen, "%s: %s", what, m ? m : "libvirt error");
}

static void dom_name(const char *dir, char *out, size_t n)
{
    const char *id = strrchr(dir, '/');
    snprintf(out, n, "stratus-%s", id ? id + 1 : dir);
}

static int running(virDomainPtr d)
{
    int st, reason;
    return virDomainGetState(d, &st, &reason, 0) == 0 &&
           (st == VIR_DOMAIN_RUNNING || st == VIR_DOMAIN_PAUSED || st == VIR_DOMAIN_BLOCKED);
}

static int lv_launch(nd_driver *drv, const nd_vm_spec *s, nd_vm_handle *h, int *pidfd, char *err,
                     size_t errlen)
{
    lv_drv *v = drv->priv;
    *pidfd = -1;
    char name[80];
    dom_name(s->dir, name, sizeof name);
    virDomainPtr d = virDomainLookupByName(v->conn, name);
    if (d && running(d)) {
        snprintf(h->domain, sizeof h->domain, "%s", name);
        if (!h->boot_id[0])
            st_uuid_v4(h->boot_id);
        virDomainFree(d);
        return 0;
    }
    if (d) /* defined and shut off: defined again below, so it boots what spec says now */
        virDomainFree(d);
    char *xml = nd_libvirt_domain_xml(s, v->test ? "test" : "kvm", err, errlen);
    if (!xml)
        return -1;
    /* kept beside the instance as vm.json is for stratus-vmm: what was asked */
    char xpath[4200];
    snprintf(xpath, sizeof xpath, "%s/domain.xml", s->dir);
    nd_write_file_atomic(xpath, xml, strlen(xml), 0);
    d = virDomainDefineXML(v->conn, xml);
    free(xml);
    if (!d) {
        last_err(err, errlen, "virDomainDefineXML");
        return -1;
    }
    if (virDomainCreate(d) < 0) {
        last_err(err, errlen, "virDomainCreate");
        virDomainUndefine(d);
        virDomainFree(d);
        return -1;
    }
    virDomainFree(d);
    snprintf(h->domain, sizeof h->domain, "%s", name);
    st_uuid_v4(h->boot_id);
    h->pid = 0;
    return 0;
}

static virDomainPtr lookup(lv_drv *v, const char *dir, nd_vm_handle *h)
{
    char name[80];
    dom_name(dir, name, sizeof name);
    return virDomainLookupByName(v->conn, h->domain[0] ? h->domain : name);
}

/* virDomainShutdown: the hypervisor's graceful way (QEMU: the guest agent
 * or the ACPI power button), then virDomainDestroy after timeout_ms. */
static int lv_stop(nd_driver *drv, const char *dir, nd_vm_handle *h, int pidfd,
                   long long timeout_ms, const int *hurry, nd_stop_how *how, char *err,
                   size_t errlen)
{
    *how = ND_STOP_NONE;
    virDomainPtr d = lookup(drv->priv, dir, h);
    if (!d)
        return 0;
    if (!running(d)) {
        virDomainFree(d);
        return 0;
    }
    if (timeout_ms > 0 && virDomainShutdown(d) == 0) {
        for (long long t = 0; t < timeout_ms && running(d) && !nd_hurried(hurry); t += 50) {
            struct timespec ts = {0, 50000000};
            nanosleep(&ts, NULL);
        }
    }
    *how = running(d) ? ND_STOP_FORCED : ND_STOP_GRACEFUL;
    if (running(d) && virDomainDestroy(d) < 0) {
        last_err(err, errlen, "virDomainDestroy");
        virDomainFree(d);
        return -1;
    }
    virDomainFree(d);
    return 0;
}

static int lv_reset(nd_driver *drv, const char *dir, nd_vm_handle *h, char *err, size_t errlen)
{
    virDomainPtr d = lookup(drv->priv, dir, h);
    if (!d || !running(d)) {
        snprintf(err, errlen, "the domain is not running");
        if (d)
            virDomainFree(d);
        return -1;
    }
    int rc = virDomainReset(d, 0);
    if (rc < 0)
        last_err(err, errlen, "virDomainReset");
    virDomainFree(d);
    return rc < 0 ? -1 : 0;
}

static int lv_pause(nd_driver *drv, const char *dir, nd_vm_handle *h, int pause, char *err,
                    size_t errlen)
{
    virDomainPtr d = lookup(drv->priv, dir, h);
    if (!d) {
        snprintf(err, errlen, "no domain");
        return -1;
    }
    int rc = pause ? virDomainSuspend(d) : virDomainResume(d);
    if (rc < 0)
        last_err(err, errlen, pause ? "virDomainSuspend" : "virDomainResume");
    virDomainFree(d);
    return rc < 0 ? -1 : 0;
}

static int lv_destroy(nd_driver *drv, const char *dir, nd_vm_handle *h, int pidfd, char *err,
                      size_t errlen)
{
    virDomainPtr d = lookup(drv->priv, dir, h);
    if (!d)
        return 0;
    int rc = running(d) ? virDomainDestroy(d) : 0;
    if (rc < 0)
        last_err(err, errlen, "virDomainDestroy");
    if (rc == 0 && virDomainUndefine(d) < 0) {
        last_err(err, errlen, "virDomainUndefine");
        rc = -1;
    }
    virDomainFree(d);
    return rc < 0 ? -1 : 0;
}

static int lv_status(nd_driver *drv, const char *dir, nd_vm_handle *h, nd_vm_status *st, int *pidfd)
{
    memset(st, 0, sizeof *st);
    *pidfd = -1;
    virDomainPtr d = lookup(drv->priv, dir, h);
    int state = 0, reason = 0;
    if (d && running(d)) {
        st->state = ND_VM_RUNNING;
        if (!h->boot_id[0])
            st_uuid_v4(h->boot_id);
    } else if (d && virDomainGetState(d, &state, &reason, 0) == 0 && state == VIR_DOMAIN_SHUTOFF) {
        st->state = ND_VM_EXITED; /* a guest shutdown is a clean power-off */
        st->exit_code = reason == VIR_DOMAIN_SHUTOFF_SHUTDOWN ? 0 : -1;
        st->signal = reason == VIR_DOMAIN_SHUTOFF_SHUTDOWN ? 0 : SIGKILL;
    } else if (h->domain[0]) {
        st->state = ND_VM_EXITED; /* gone altogether */
        st->exit_code = -1;
        st->signal = SIGKILL;
    } else {
        st->state = ND_VM_ABSENT;
    }
    if (d)
        virDomainFree(d);
    return 0;
}

static int lv_counters(nd_driver *drv, const char *dir, nd_vm_handle *h, char **json, char *err,
                       size_t errlen)
{
    virDomainPtr d = lookup(drv->priv, dir, h);
    virDomainInfo info;
    if (d && !running(d)) {
        snprintf(err, errlen, "the domain is not running");
        virDomainFree(d);
        return -1;
    }
    if (!d || virDomainGetInfo(d, &info) < 0) {
        last_err(err, errlen, "virDomainGetInfo");
        if (d)
            virDomainFree(d);
        return -1;
    }
    virDomainBlockStatsStruct bs;
    memset(&bs, 0, sizeof bs);
    int have_bs = virDomainBlockStats(d, "vda", &bs, sizeof bs) == 0;
    virDomainFree(d);
    long long rb = have_bs && bs.rd_bytes > 0 ? bs.rd_bytes : 0;
    long long ro = have_bs && bs.rd_req > 0 ? bs.rd_req : 0;
    long long wb = have_bs && bs.wr_bytes > 0 ? bs.wr_bytes : 0;
    long long wo = have_bs && bs.wr_req > 0 ? bs.wr_req : 0;
    char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"boot_id\":\"%s\",\"cycles_source\":\"none\",\"vcpus\":[{\"id\":0,"
             "\"cpu_time_ns\":%llu,\"cycles\":0}],\"cpu_time_ns_total\":%llu,\"cycles_total\":0,"
             "\"nics\":[],\"disks\":[{\"id\":\"disk0\",\"read_bytes\":%lld,\"read_ops\":%lld,"
             "\"write_bytes\":%lld,\"write_ops\":%lld}]}",
             h->boot_id, info.cpuTime, info.cpuTime, rb, ro, wb, wo);
    *json = strdup(buf);
    return *json ? 0 : -1;
}

static int lv_console(nd_driver *drv, const char *dir, nd_vm_handle *h, size_t max, char **buf,
                      size_t *len, long long *marker)
{
    /* the serial port is a file, as with stratus-vmm */
    char path[4200];
    snprintf(path, sizeof path, "%s/serial.log", dir);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    if (size == *marker) {
        fclose(f);
        return 1;
    }
    size_t want = (size_t)size > max ? max : (size_t)size;
    fseek(f, size - (long)want, SEEK_SET);
    char *b = malloc(want + 1);
    size_t k = b ? fread(b, 1, want, f) : 0;
    fclose(f);
    if (!b)
        return -ENOMEM;
    b[k] = 0;
    *buf = b;
    *len = k;
    *marker = size;
    return 0;
}

/* A guest shutdown (reason SHUTDOWN) is stopped; a crash, a destroy or a
 * domain gone altogether is an error. */
static void lv_exit_status(nd_driver *drv, const char *dir, const nd_vm_handle *h, int code,
                           int sig, int known, nd_vm_exit *x)
{
    memset(x, 0, sizeof *x);
    if (!known) {
        nd_vm_handle hh = *h;
        nd_vm_status st;
        int fd = -1;
        lv_status(drv, dir, &hh, &st, &fd);
        code = st.state == ND_VM_EXITED ? st.exit_code : -1;
        sig = st.state == ND_VM_EXITED ? st.signal : SIGKILL;
    }
    x->code = code;
    x->signal = sig;
    x->stopped = code == 0 && sig == 0;
    if (!x->stopped)
        snprintf(x->fault, sizeof x->fault, "the domain ended without a guest shutdown");
}

/* libvirt keeps no counters of a domain that is off. */
static char *lv_final_counters(nd_driver *drv, const char *dir, const nd_vm_handle *h)
{
    return NULL;
}

static void lv_free(nd_driver *drv)
{
    lv_drv *v = drv->priv;
    virConnectClose(v->conn);
    free(v);
    free(drv);
}

/* No live migration here yet (libvirt's virDomainMigrateToURI3 would be
 * the way): no ND_CAP_MIGRATE and no migrate_* operations, so the node's
 * heartbeat says capacity.live_migration false and the gateway refuses to
 * migrate to or from it (409 naming the reason). */
static const nd_driver_ops lv_ops = {
    .name = "libvirt",
    .caps = 0,
    .launch = lv_launch,
    .stop = lv_stop,
    .pause = lv_pause,
    .reset = lv_reset,
    .destroy = lv_destroy,
    .status = lv_status,
    .counters = lv_counters,
    .console = lv_console,
    .exit_status = lv_exit_status,
    .final_counters = lv_final_counters,
    .free = lv_free,
};

static void quiet(void *data, virErrorPtr e) {}

nd_driver *nd_driver_libvirt_new(const char *uri, char *err, size_t errlen)
{
    virSetErrorFunc(NULL, quiet);
    virConnectPtr c = virConnectOpen(uri);
    if (!c) {
        last_err(err, errlen, uri);
        return NULL;
    }
    nd_driver *d = calloc(1, sizeof *d);
    lv_drv *v = calloc(1, sizeof *v);
    if (!d || !v) {
        free(d);
        free(v);
        virConnectClose(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    v->conn = c;
    v->test = strncmp(uri, "test:", 5) == 0;
    d->ops = &lv_ops;
    d->priv = v;
    return d;
}
#else
nd_driver *nd_driver_libvirt_new(const char *uri, char *err, size_t errlen)
{
    snprintf(err, errlen, "stratus-node was built without libvirt");
    return NULL;
}
#endif
