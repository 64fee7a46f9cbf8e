/*
 * vmm_devstate - the device registry and its state records, with no KVM: a VM's devices built
 * by start.c's init list over plain memory (COM1, i8042, CMOS, PCI, a raw virtio-blk disk,
 * virtio-rng), driven register by register into a state worth saving: both virtqueues set
 * up with MSI-X, three disk requests and one entropy request consumed and a fourth disk
 * request posted without a kick, COM1's divisor, scratch and interrupt enables written and
 * four bytes waiting in its FIFO, the i8042's command byte written with replies queued,
 * CMOS RAM written, a PCI command register and the address latch set. Saved, restored into
 * a second VM built from the same config (its RAM a copy of the first's), saved again: the
 * two files are equal byte for byte, the restored devices answer as the first would (the
 * FIFO's bytes, the i8042's replies, CMOS RAM, BARs where they were) and the restored disk
 * takes the posted request once its event loop runs, as the saved VM had not yet. Then
 * hostile files are refused, each with its reason: a bad header or format, truncation, an
 * unknown device, a wrong record version, short and over-long payloads, a missing and a
 * doubled record, and values no device could hold (a virtqueue outside RAM, features never
 * offered, an i8042 queue of 17, a FIFO of 300 bytes, a PCI function with another vendor).
 * A device without a save hook makes a save fail naming it; a VM reset runs every reset hook
 * in registration order. A migration target's early build leaves a writable qcow2 image closed
 * (the source holds its lock) until taken back, then with its size; raw and read-only disks open.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices.h"
#include "devreg.h"
#include "disk.h"
#include "e1000.h"
#include "i8042.h"
#include "legacy.h"
#include "pci.h"
#include "serial.h"
#include "st_proc.h"
#include "st_test.h"
#include "virtio_pci.h"
#include "vmm.h"

#define RAM (16ull << 20)
#define QSZ 8
#define BLK_Q 0x10000ull /* desc, avail at +0x1000, used at +0x2000 */
#define RNG_Q 0x20000ull
#define BUF 0x40000ull

typedef struct machine {
    vmm_vm vm;
    vmm_config cfg;
    vmm_virtio *blk, *rng;
    uint16_t avail[2];
} machine;

static char *dir;
static char disk_path[512], log_path[512];
static machine a, b;

/* Builds m from the config json; 0, or the failure's negative errno. */
static int build_json(machine *m, const char *json, int built_early)
{
    char err[256];
    int rc;
    if (vmm_config_parse(&m->cfg, json, strlen(json), err, sizeof err))
        return -EINVAL;
    vmm_vm_init(&m->vm);
    m->vm.built_early = built_early;
    m->vm.cfg = &m->cfg;
    m->vm.base = event_base_new();
    m->vm.ram = calloc(1, RAM);
    m->vm.ram_size = RAM;
    m->vm.gmem = (vmm_gmem){.r = {{0, RAM, m->vm.ram}}, .n = 1};
    if (!m->vm.base || !m->vm.ram || vmm_irq_init(&m->vm))
        return -ENOMEM;
    if ((rc = vmm_start_devices(&m->vm, &m->cfg, err, sizeof err))) {
        fprintf(stderr, "build: %s\n", err);
        return rc;
    }
    m->blk = m->vm.devs[0];
    m->rng = m->vm.ndevs > 1 ? m->vm.devs[1] : NULL;
    return 0;
}

static int build(machine *m)
{
    char json[2048];
    snprintf(json, sizeof json,
             "{\"kernel\": \"none\", \"memory_mib\": 16, \"serial_log\": \"%s\", \"rng\": true, "
             "\"disks\": [{\"path\": \"%s\"}]}",
             log_path, disk_path);
    return build_json(m, json, 0);
}

static void destroy(machine *m)
{
    for (int i = 0; i < m->vm.ndevs; i++)
        vmm_virtio_destroy(m->vm.devs[i]);
    vmm_pci_free(&m->vm);
    vmm_legacy_free(&m->vm);
    vmm_serial_free(m->vm.serial);
    free(m->vm.routing);
    free(m->vm.ram);
    event_base_free(m->vm.base);
    vmm_config_free(&m->cfg);
}

static int setup(void)
{
    dir = st_tmpdir("vmm-devstate");
    snprintf(disk_path, sizeof disk_path, "%s/disk.img", dir);
    snprintf(log_path, sizeof log_path, "%s/serial.log", dir);
    int fd = open(disk_path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    static uint8_t pattern[1 << 20];
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (uint8_t)(i / 512 + 1);
    if (fd < 0 || write(fd, pattern, sizeof pattern) != (ssize_t)sizeof pattern)
        return -1;
    close(fd);
    return build(&a) || build(&b);
}

static int teardown(void)
{
    destroy(&a);
    destroy(&b);
    st_rmtree(dir);
    free(dir);
    return 0;
}

/* ---- the guest's side ---- */

__attribute__((noinline)) static uint8_t *gram(machine *m, uint64_t gpa)
{
    return vmm_gpa(&m->vm, gpa, 0x3000);
}

static void w(machine *m, vmm_virtio *d, uint64_t off, uint64_t v, uint32_t len)
{
    uint8_t buf[8];
    memcpy(buf, &v, 8);
    vmm_bus_access(&m->vm.mmio, d->pci.bar_mapped[0] + off, buf, len, 1);
}

static void pio(machine *m, uint64_t port, uint32_t v, uint32_t len)
{
    vmm_bus_access(&m->vm.pio, port, (uint8_t *)&v, len, 1);
}

static uint32_t pio_in(machine *m, uint64_t port, uint32_t len)
{
    uint32_t v = 0;
    vmm_bus_access(&m->vm.pio, port, (uint8_t *)&v, len, 0);
    return v;
}

/* Config space of slot's function at reg, through mechanism 1. */
static void cfg_write(machine *m, int slot, uint32_t reg, uint32_t v, uint32_t len)
{
    pio(m, 0xcf8, 0x80000000u | (uint32_t)slot << 11 | (reg & 0xfc), 4);
    pio(m, 0xcfc + (reg & 3), v, len);
}

/* Reset, negotiate VERSION_1 (+ extra low bits), MSI-X vector 0 for config and queue 0, the
 * queue at q, DRIVER_OK. */
static void driver_init(machine *m, vmm_virtio *d, uint64_t q, uint32_t feat_lo)
{
    cfg_write(m, d->pci.slot, 0x40 + 2, 0x8000, 2); /* MSI-X enable */
    w(m, d, 0x800, 0xfee00000, 4);                  /* vector 0: address, data, unmasked */
    w(m, d, 0x808, 0x41, 4);
    w(m, d, 0x80c, 0, 4);
    w(m, d, 20, 0, 1);
    w(m, d, 20, 1 | 2, 1);
    w(m, d, 8, 0, 4);
    w(m, d, 12, feat_lo, 4);
    w(m, d, 8, 1, 4);
    w(m, d, 12, 1, 4);
    w(m, d, 20, 1 | 2 | 8, 1);
    w(m, d, 16, 0, 2);
    w(m, d, 22, 0, 2);
    w(m, d, 24, QSZ, 2);
    w(m, d, 26, 0, 2);
    w(m, d, 32, q, 8);
    w(m, d, 40, q + 0x1000, 8);
    w(m, d, 48, q + 0x2000, 8);
    w(m, d, 28, 1, 2);
    w(m, d, 20, 1 | 2 | 4 | 8, 1);
}

static void desc(machine *m, uint64_t q, int i, uint64_t addr, uint32_t len, uint16_t flags)
{
    uint8_t *p = gram(m, q + 16 * (uint64_t)i);
    uint16_t next = (uint16_t)(i + 1);
    memcpy(p, &addr, 8);
    memcpy(p + 8, &len, 4);
    memcpy(p + 12, &flags, 2);
    memcpy(p + 14, &next, 2);
}

static uint16_t used_idx(machine *m, uint64_t q)
{
    uint16_t v;
    memcpy(&v, gram(m, q + 0x2000 + 2), 2);
    return v;
}

/* Posts chain 0 on queue memory q (the n-th post of that queue); kicks when asked. */
static void post(machine *m, vmm_virtio *d, uint64_t q, uint16_t *avail, int kick)
{
    memcpy(gram(m, q + 0x1000 + 4 + 2 * (*avail % QSZ)), &(uint16_t){0}, 2);
    (*avail)++;
    memcpy(gram(m, q + 0x1000 + 2), avail, 2);
    if (kick)
        w(m, d, 0x3000, 0, 2);
    for (int i = 0; i < 5; i++)
        event_base_loop(m->vm.base, EVLOOP_NONBLOCK);
}

/* A read of sector s into BUF + 0x1000: header, 512 writable bytes, status. */
static void blk_request(machine *m, uint64_t sector)
{
    uint8_t *hdr = gram(m, BUF);
    memset(hdr, 0, 16);
    memcpy(hdr + 8, &sector, 8);
    desc(m, BLK_Q, 0, BUF, 16, VRING_DESC_F_NEXT);
    desc(m, BLK_Q, 1, BUF + 0x1000, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE);
    desc(m, BLK_Q, 2, BUF + 0x800, 1, VRING_DESC_F_WRITE);
}

/* Drives machine a into the state the test saves. */
static void drive(machine *m)
{
    driver_init(m, m->blk, BLK_Q, 0);
    for (uint64_t s = 0; s < 3; s++) {
        blk_request(m, s);
        post(m, m->blk, BLK_Q, &m->avail[0], 1);
    }
    blk_request(m, 7);
    post(m, m->blk, BLK_Q, &m->avail[0], 0); /* posted, not kicked */
    driver_init(m, m->rng, RNG_Q, 0);
    desc(m, RNG_Q, 0, BUF + 0x2000, 16, VRING_DESC_F_WRITE);
    post(m, m->rng, RNG_Q, &m->avail[1], 1);

    vmm_serial *s = m->vm.serial;
    uint8_t v;
    uint8_t regs[][2] = {{3, 0x83}, {0, 0x01}, {1, 0x00}, {3, 0x03},
                         {1, 0x05}, {7, 0x5a}, {4, 0x0b}};
    for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++)
        vmm_serial_io(s, regs[i][0], &regs[i][1], 1, 1);
    vmm_serial_input(s, "hello", 5);
    vmm_serial_io(s, 0, &v, 1, 0); /* 'h' read: "ello" waits */

    pio(m, 0x64, 0x60, 1); /* command byte: translate, SYS, both IRQs */
    pio(m, 0x60, 0x47, 1);
    pio(m, 0x64, 0xaa, 1); /* self-test: 0x55 in the output buffer */
    pio(m, 0x60, 0xf2, 1); /* identify: 0xfa 0xab 0x41 queued */

    pio(m, 0x70, 0x40, 1);
    pio(m, 0x71, 0x5a, 1);
    pio(m, 0x70, 0x41, 1);

    cfg_write(m, m->blk->pci.slot, 0x04, 0x06, 2); /* memory + bus master */
    pio(m, 0xcf8, 0x80001808u, 4);                 /* the latch, left somewhere */
}

static uint8_t *save(machine *m, size_t *len)
{
    uint8_t *out = NULL;
    char err[256] = "";
    int rc = vmm_dev_save_all(&m->vm.devreg, &out, len, err, sizeof err);
    if (rc)
        fprintf(stderr, "save: %s\n", err);
    return out;
}

static uint8_t *saved_a;
static size_t saved_a_len;

static void test_save_restore(void)
{
    drive(&a);
    ST_ASSERT_INT_EQ_FATAL(used_idx(&a, BLK_Q), 3);
    ST_ASSERT_INT_EQ_FATAL(used_idx(&a, RNG_Q), 1);
    saved_a = save(&a, &saved_a_len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(saved_a);
    /* Every device has its record, in build order. */
    const char *order[] = {"serial:com1", "i8042",         "cmos",         "acpi-pm",
                           "pci",         "virtio-blk@01", "virtio-rng@02"};
    vmm_rec_reader rd;
    vmm_rec rec;
    char err[256] = "";
    ST_ASSERT_INT_EQ_FATAL(vmm_rec_open(&rd, saved_a, saved_a_len, err, sizeof err), 0);
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        ST_ASSERT_INT_EQ_FATAL(vmm_rec_next(&rd, &rec, err, sizeof err), 1);
        ST_ASSERT_STR_EQ(rec.id, order[i]);
    }
    ST_ASSERT_INT_EQ(vmm_rec_next(&rd, &rec, err, sizeof err), 0);

    memcpy(b.vm.ram, a.vm.ram, RAM); /* guest RAM travels on its own */
    int rc = vmm_dev_restore_all(&b.vm.devreg, saved_a, saved_a_len, err, sizeof err);
    if (rc)
        fprintf(stderr, "restore: %s\n", err);
    ST_ASSERT_INT_EQ_FATAL(rc, 0);
    size_t len_b;
    uint8_t *saved_b = save(&b, &len_b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(saved_b);
    ST_ASSERT_INT_EQ(len_b, saved_a_len);
    CU_ASSERT(len_b == saved_a_len && !memcmp(saved_b, saved_a, len_b));
    free(saved_b);

    /* The restored devices answer as the saved ones would. */
    ST_ASSERT_INT_EQ(b.blk->vq[0].last_avail, 3);
    ST_ASSERT_INT_EQ(b.blk->vq[0].used_idx, 3);
    ST_ASSERT_INT_EQ(b.blk->status, 1 | 2 | 4 | 8);
    ST_ASSERT_INT_EQ(b.rng->vq[0].last_avail, 1);
    ST_ASSERT_INT_EQ(b.blk->pci.bar_mapped[0], a.blk->pci.bar_mapped[0]);
    char rx[5] = {0};
    for (int i = 0; i < 4; i++)
        vmm_serial_io(b.vm.serial, 0, (uint8_t *)&rx[i], 1, 0);
    ST_ASSERT_STR_EQ(rx, "ello");
    uint8_t v;
    vmm_serial_io(b.vm.serial, 7, &v, 1, 0);
    ST_ASSERT_INT_EQ(v, 0x5a);
    vmm_serial_io(b.vm.serial, 1, &v, 1, 0);
    ST_ASSERT_INT_EQ(v, 0x05);
    ST_ASSERT_INT_EQ(pio_in(&b, 0x60, 1), 0x55);
    ST_ASSERT_INT_EQ(pio_in(&b, 0x60, 1), 0xfa);
    ST_ASSERT_INT_EQ(pio_in(&b, 0x60, 1), 0xab);
    ST_ASSERT_INT_EQ(pio_in(&b, 0x60, 1), 0x41);
    ST_ASSERT_INT_EQ(pio_in(&b, 0x70, 1), 0x41);
    pio(&b, 0x70, 0x40, 1);
    ST_ASSERT_INT_EQ(pio_in(&b, 0x71, 1), 0x5a);
    ST_ASSERT_INT_EQ(pio_in(&b, 0xcf8, 4), 0x80001808u);
    /* The request a posted without a kick: b takes it (a kick per live queue on restore). */
    for (int i = 0; i < 5; i++)
        event_base_loop(b.vm.base, EVLOOP_NONBLOCK);
    ST_ASSERT_INT_EQ(used_idx(&b, BLK_Q), 4);
    ST_ASSERT_INT_EQ(*gram(&b, BUF + 0x1000), 8); /* sector 7's pattern */
    ST_ASSERT_INT_EQ(used_idx(&a, BLK_Q), 3);
}

/* ---- hostile files ---- */

enum { KEEP, DROP, DOUBLE, VERSION, RENAME, SHORT, LONG };

/* saved_a rebuilt with record `id` dropped, doubled, given version 2, renamed, cut short by
 * a byte or given one more. */
static uint8_t *mangle(const char *id, int op, size_t *len)
{
    vmm_rec_out o = {0};
    vmm_rec_reader rd;
    vmm_rec rec;
    char err[256];
    uint32_t count = 0;
    vmm_rec_open(&rd, saved_a, saved_a_len, err, sizeof err);
    vmm_rec_put(&o, saved_a, VMM_STATE_HEADER);
    while (vmm_rec_next(&rd, &rec, err, sizeof err) == 1) {
        int hit = !strcmp(rec.id, id);
        for (int copy = 0; copy < (hit && op == DOUBLE ? 2 : 1); copy++) {
            if (hit && op == DROP)
                break;
            const char *name = hit && op == RENAME ? "cmoz" : rec.id;
            uint32_t plen = rec.len + (hit && op == LONG) - (hit && op == SHORT);
            vmm_rec_u8(&o, (uint8_t)strlen(name));
            vmm_rec_put(&o, name, strlen(name));
            vmm_rec_u16(&o, hit && op == VERSION ? 2 : rec.version);
            vmm_rec_u32(&o, plen);
            vmm_rec_put(&o, rec.payload, plen > rec.len ? rec.len : plen);
            if (plen > rec.len)
                vmm_rec_u8(&o, 0);
            count++;
        }
    }
    memcpy(o.p + 12, &count, 4);
    *len = o.len;
    return o.p;
}

/* saved_a with n bytes at offset off of record id's payload replaced. */
static uint8_t *poke(const char *id, size_t off, const void *bytes, size_t n, size_t *len)
{
    uint8_t *f = mangle(id, KEEP, len);
    vmm_rec_reader rd;
    vmm_rec rec;
    char err[256];
    vmm_rec_open(&rd, f, *len, err, sizeof err);
    while (vmm_rec_next(&rd, &rec, err, sizeof err) == 1)
        if (!strcmp(rec.id, id))
            memcpy(f + (rec.payload - f) + off, bytes, n);
    return f;
}

/* Restores f into b; the error when refused (rc checked), "" when it was not. */
static const char *refused(uint8_t *f, size_t len)
{
    static char err[256];
    err[0] = 0;
    int rc = vmm_dev_restore_all(&b.vm.devreg, f, len, err, sizeof err);
    free(f);
    CU_ASSERT(rc < 0);
    if (rc < 0 && !err[0])
        snprintf(err, sizeof err, "(no message)");
    return rc < 0 ? err : "";
}

static void expect(uint8_t *f, size_t len, const char *want)
{
    const char *err = refused(f, len);
    if (!strstr(err, want))
        fprintf(stderr, "expected '%s', got '%s'\n", want, err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
}

static uint8_t *copy(void)
{
    uint8_t *f = malloc(saved_a_len);
    memcpy(f, saved_a, saved_a_len);
    return f;
}

static void test_hostile_files(void)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(saved_a);
    size_t len;
    uint8_t *f = copy();
    f[0] = 'X';
    expect(f, saved_a_len, "not a device state file");
    f = copy();
    f[8] = 2;
    expect(f, saved_a_len, "format 2");
    expect(copy(), 10, "not a device state file");
    expect(copy(), saved_a_len - 5, "the file holds");
    f = copy();
    f[12]++; /* one record more announced than there are */
    expect(f, saved_a_len, "truncated: 7 of 8 records");
    f = copy();
    f[12]--;
    expect(f, saved_a_len, "after the last of 6 records");
    f = copy();
    f[VMM_STATE_HEADER + 1] = ' '; /* "serial:com1" -> " erial:com1" */
    expect(f, saved_a_len, "malformed device id");
    static const struct {
        const char *id;
        int op;
        const char *want;
    } mangles[] = {
        {"cmos", RENAME, "unknown device cmoz"},
        {"i8042", VERSION, "i8042: record version 2, this VMM reads version 1"},
        {"serial:com1", SHORT, "serial:com1: payload too short"},
        {"cmos", LONG, "cmos: payload too long (130 bytes, 1 left over)"},
        {"virtio-rng@02", LONG, "virtio-rng@02: payload too long"},
        {"cmos", DROP, "no record for device cmos"},
        {"cmos", DOUBLE, "two records for device cmos"},
    };
    for (size_t i = 0; i < sizeof mangles / sizeof mangles[0]; i++) {
        f = mangle(mangles[i].id, mangles[i].op, &len);
        expect(f, len, mangles[i].want);
    }

    /* Values no device could hold: n bytes of v at off in id's payload. */
    static const struct {
        const char *id;
        size_t off, n;
        uint64_t v;
        const char *want;
    } pokes[] = {
        {"virtio-blk@01", 39, 8, RAM - 0x10, "virtio-blk@01: queue 0: size 8 or rings"},
        {"virtio-blk@01", 12, 8, 1ull << 63, "were never offered"},
        {"virtio-blk@01", 30, 2, 9, "config vector 9 past the table"},
        {"virtio-blk@01", 35, 2, 2, "queue 0: enabled 2"},
        {"i8042", 40, 1, 17, "i8042: a queue of 17 bytes"},
        {"i8042", 36, 1, 4, "scan set 4"},
        {"serial:com1", 8, 2, 300, "300 bytes in a 256-byte receive FIFO"},
        {"pci", 6, 1, 0x42, "pci: 00:00.0: read-only config byte 0"}, /* the bridge's vendor */
        {"pci", 5, 1, 9, "function 00:09.0 is not in this VM"},
        {"cmos", 0, 1, 0x80, "cmos: index 0x80 past CMOS RAM"},
        {"acpi-pm", 3, 1, 0x20, "acpi-pm: SLP_EN set"},
    };
    for (size_t i = 0; i < sizeof pokes / sizeof pokes[0]; i++) {
        f = poke(pokes[i].id, pokes[i].off, &pokes[i].v, pokes[i].n, &len);
        expect(f, len, pokes[i].want);
    }

    /* b still takes the good file after all that. */
    char err[256] = "";
    ST_ASSERT_INT_EQ(vmm_dev_restore_all(&b.vm.devreg, saved_a, saved_a_len, err, sizeof err), 0);
}

/* ---- the registry alone ---- */

static char calls[64];

static void rec_reset(void *opaque)
{
    strncat(calls, opaque, sizeof calls - strlen(calls) - 1);
}

static int rec_save(void *opaque, vmm_rec_out *o, char *err, size_t errlen)
{
    vmm_rec_u8(o, 1);
    return 0;
}

static int rec_restore(void *opaque, vmm_rec_in *in, char *err, size_t errlen)
{
    vmm_rec_get_u8(in);
    strncat(calls, "R", sizeof calls - strlen(calls) - 1);
    return vmm_rec_in_done(in, err, errlen);
}

static void test_registry(void)
{
    static const vmm_dev_ops with_save = {
        .version = 1, .reset = rec_reset, .save = rec_save, .restore = rec_restore};
    static const vmm_dev_ops without = {.version = 1, .reset = rec_reset};
    vmm_devreg r = {0};
    ST_ASSERT_INT_EQ(vmm_dev_register(&r, "first", &with_save, "1"), 0);
    ST_ASSERT_INT_EQ(vmm_dev_register(&r, "second:x", &without, "2"), 0);
    ST_ASSERT_INT_EQ(vmm_dev_register(&r, "third", &with_save, "3"), 0);
    ST_ASSERT_INT_EQ(vmm_dev_register(&r, "first", &with_save, "4"), -EEXIST);
    ST_ASSERT_INT_EQ(vmm_dev_register(&r, "has space", &with_save, "5"), -EINVAL);
    ST_ASSERT_INT_EQ(vmm_dev_register(&r, "", &with_save, "5"), -EINVAL);
    ST_ASSERT_INT_EQ(vmm_dev_register(&r, "0123456789012345678901234567890123", &with_save, "5"),
                     -EINVAL);
    vmm_dev_reset_all(&r);
    ST_ASSERT_STR_EQ(calls, "123");
    uint8_t *out = NULL;
    size_t len = 0;
    char err[256] = "";
    ST_ASSERT_INT_EQ(vmm_dev_save_all(&r, &out, &len, err, sizeof err), -ENOTSUP);
    ST_ASSERT_STR_EQ(err, "device second:x cannot be saved yet");
    CU_ASSERT_PTR_NULL(out);
    /* Nor restored: refused before the first device's hook runs. */
    static const uint8_t file[] = "STVMMDEV\x01\0\0\0\x03\0\0\0"
                                  "\x05"
                                  "first\x01\0\x01\0\0\0\x07"
                                  "\x08"
                                  "second:x\x01\0\0\0\0\0"
                                  "\x05"
                                  "third\x01\0\x01\0\0\0\x07";
    ST_ASSERT_INT_EQ(vmm_dev_restore_all(&r, file, sizeof file - 1, err, sizeof err), -ENOTSUP);
    ST_ASSERT_STR_EQ(err, "device second:x cannot be restored yet");
    ST_ASSERT_STR_EQ(calls, "123"); /* no restore hook ran */

    /* A VM reset: the devices back to power-on, through their own hooks. */
    vmm_dev_reset_all(&a.vm.devreg);
    ST_ASSERT_INT_EQ(a.blk->status, 0);
    ST_ASSERT_INT_EQ(a.blk->vq[0].enabled, 0);
    uint8_t v;
    vmm_serial_io(a.vm.serial, 3, &v, 1, 0);
    ST_ASSERT_INT_EQ(v, 0x03);
    vmm_serial_io(a.vm.serial, 7, &v, 1, 0);
    ST_ASSERT_INT_EQ(v, 0);
    ST_ASSERT_INT_EQ(pio_in(&a, 0x64, 1) & 0x01, 0); /* the i8042's output buffer empty */
    ST_ASSERT_INT_EQ(pio_in(&a, 0xcf8, 4), 0);       /* the PCI latch cleared */
}

/* ---- the e1000, at the device's level (a VM's wants a tap) ---- */

#define NIC_MEM (1u << 20)
#define TXR 0x1000u
#define RXR 0x2000u
#define NBUF 0x10000u

static int nic_irq;

static void h_irq(void *o, int level)
{
    nic_irq = level;
}

static void h_arm(void *o, int on) {}

static void h_timer(void *o, uint64_t ns) {}

static void nic_w(vmm_e1000 *e, uint32_t off, uint32_t v)
{
    vmm_e1000_mmio(e, off, (uint8_t *)&v, 4, 1);
}

static uint32_t nic_r(vmm_e1000 *e, uint32_t off)
{
    uint32_t v;
    vmm_e1000_mmio(e, off, (uint8_t *)&v, 4, 0);
    return v;
}

static uint8_t *nic_save(vmm_e1000 *e, size_t *len)
{
    vmm_rec_out o = {0};
    ST_ASSERT_INT_EQ(vmm_e1000_save(e, &o), 0);
    *len = o.len;
    return o.p;
}

static int nic_restore(vmm_e1000 *e, const uint8_t *p, size_t len, char *err)
{
    vmm_rec_in in = {.p = p, .len = len, .id = "e1000@03"};
    return vmm_e1000_restore(e, &in, err, 256);
}

static void test_e1000(void)
{
    static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    static const uint8_t other[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x57};
    uint8_t *mem = calloc(1, NIC_MEM);
    vmm_gmem gm = {.r = {{0, NIC_MEM, mem}}, .n = 1};
    int sx[2], sy[2];
    ST_ASSERT_INT_EQ_FATAL(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sx), 0);
    ST_ASSERT_INT_EQ_FATAL(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sy), 0);
    vmm_e1000_host h = {.irq = h_irq, .rx_arm = h_arm, .timer = h_timer};
    vmm_e1000 *x = vmm_e1000_new(&gm, sx[0], mac, "x", &h),
              *y = vmm_e1000_new(&gm, sy[0], mac, "y", &h),
              *z = vmm_e1000_new(&gm, sy[0], other, "z", &h);
    CU_ASSERT_FATAL(x && y && z);

    /* x: receive ring with 7 buffers, a frame received; transmit ring with half a frame. */
    for (uint32_t i = 0; i < 8; i++) {
        uint64_t buf = NBUF + 0x1000u * i;
        memcpy(mem + RXR + 16 * i, &buf, 8);
    }
    nic_w(x, 0x2800, RXR);
    nic_w(x, 0x2808, 8 * 16);
    nic_w(x, 0x2818, 7);
    nic_w(x, 0x0100, 0x02 | 0x8000 | (1u << 26)); /* EN, BAM, SECRC */
    nic_w(x, 0x00d0, 0x80);                       /* IMS: RXT0 */
    uint8_t frame[64];
    memset(frame, 0xff, 6);
    memset(frame + 6, 0x11, sizeof frame - 6);
    ST_ASSERT_INT_EQ_FATAL(send(sx[1], frame, sizeof frame, 0), (ssize_t)sizeof frame);
    vmm_e1000_rx(x);
    ST_ASSERT_INT_EQ(nic_r(x, 0x2810), 1); /* RDH moved */
    ST_ASSERT_INT_EQ(nic_irq, 1);
    memset(mem + 0x30000, 0xaa, 40);
    memset(mem + 0x30040, 0xbb, 24);
    uint8_t d0[16] = {0}, d1[16] = {0};
    uint64_t a0 = 0x30000, a1 = 0x30040;
    memcpy(d0, &a0, 8);
    d0[8] = 40; /* no EOP: the frame stays open */
    memcpy(d1, &a1, 8);
    d1[8] = 24;
    d1[11] = 0x01 | 0x08; /* EOP, RS */
    memcpy(mem + TXR, d0, 16);
    memcpy(mem + TXR + 16, d1, 16);
    nic_w(x, 0x3800, TXR);
    nic_w(x, 0x3808, 8 * 16);
    nic_w(x, 0x0400, 0x02);
    nic_w(x, 0x3818, 1); /* only the first descriptor */

    size_t len, len2;
    uint8_t *st = nic_save(x, &len), *again;
    char err[256] = "";
    nic_irq = 0;
    ST_ASSERT_INT_EQ_FATAL(nic_restore(y, st, len, err), 0);
    ST_ASSERT_INT_EQ(nic_irq, 1); /* ICR & IMS drive the line again */
    again = nic_save(y, &len2);
    CU_ASSERT(len2 == len && !memcmp(again, st, len));
    free(again);
    ST_ASSERT_INT_EQ(nic_r(y, 0x2810), 1);
    /* y finishes the frame x began: both halves go out as one. */
    nic_w(y, 0x3818, 2);
    uint8_t got[128];
    ST_ASSERT_INT_EQ(recv(sy[1], got, sizeof got, MSG_DONTWAIT), 64);
    CU_ASSERT(got[0] == 0xaa && got[39] == 0xaa && got[40] == 0xbb && got[63] == 0xbb);
    CU_ASSERT(recv(sx[1], got, sizeof got, MSG_DONTWAIT) < 0); /* not x */

    /* Hostile: another NIC's EEPROM, a transmit frame past the buffer, short, long. */
    ST_ASSERT_INT_EQ(nic_restore(z, st, len, err), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "e1000@03: its EEPROM (MAC) is another NIC's"));
    size_t txlen_at = VMM_E1000_BAR_SIZE + 128 + 64 + 20 + 12 + 7;
    uint32_t big = 70000;
    uint8_t *bad = malloc(len + 1);
    memcpy(bad, st, len);
    memcpy(bad + txlen_at, &big, 4);
    ST_ASSERT_INT_EQ(nic_restore(y, bad, len, err), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "a transmit frame of 70000 bytes"));
    memcpy(bad, st, len);
    ST_ASSERT_INT_EQ(nic_restore(y, bad, len - 1, err), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "payload too short"));
    bad[len] = 0;
    ST_ASSERT_INT_EQ(nic_restore(y, bad, len + 1, err), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "payload too long"));
    free(bad);
    free(st);
    vmm_e1000_free(x);
    vmm_e1000_free(y);
    vmm_e1000_free(z);
    for (int i = 0; i < 2; i++) {
        close(sx[i]);
        close(sy[i]);
    }
    free(mem);
}

/* A migration's target builds its VM while the pages come (vm.built_early): a writable qcow2
 * image, which the source still holds (its lock) and writes until it pauses, is not opened
 * then (without built_early the build fails on the lock) but when taken back after STATE,
 * with the image's size in the device's config; the raw and the read-only disks open at once. */
static void test_built_early(void)
{
    char cmd[1400], json[3072], ov[600];
    snprintf(ov, sizeof ov, "%s/ov.qcow2", dir);
    snprintf(cmd, sizeof cmd, "qemu-img create -q -f qcow2 -b %s -F raw %s", disk_path, ov);
    CU_ASSERT_FATAL(system(cmd) == 0);
    snprintf(json, sizeof json,
             "{\"kernel\": \"none\", \"memory_mib\": 16, \"serial_log\": \"%s\", \"disks\": "
             "[{\"id\": \"ov\", \"path\": \"%s\", \"format\": \"qcow2\"}, {\"id\": \"raw\", "
             "\"path\": \"%s\"}, {\"id\": \"ro\", \"path\": \"%s\", \"read_only\": true}]}",
             log_path, ov, disk_path, disk_path);
    vmm_disk_cfg src_cfg = {.id = "ov", .path = ov, .qcow2 = 1};
    vmm_disk *src = NULL;
    ST_ASSERT_INT_EQ_FATAL(vmm_disk_open(&src_cfg, &src), 0); /* the source's, locked */
    machine c, e;
    memset(&c, 0, sizeof c);
    memset(&e, 0, sizeof e);
    ST_ASSERT_INT_EQ(build_json(&e, json, 0), -EBUSY); /* an ordinary build waits for nobody */
    destroy(&e);
    ST_ASSERT_INT_EQ_FATAL(build_json(&c, json, 1), 0);
    ST_ASSERT_INT_EQ_FATAL(c.vm.ndevs, 3);
    const vmm_disk_cfg *dc;
    CU_ASSERT_PTR_NULL(vmm_blk_disk(c.vm.devs[0], &dc));
    CU_ASSERT_PTR_NOT_NULL(vmm_blk_disk(c.vm.devs[1], &dc));
    CU_ASSERT_PTR_NOT_NULL(vmm_blk_disk(c.vm.devs[2], &dc));
    uint64_t cap = 1;
    c.vm.devs[0]->ops->config_read(c.vm.devs[0], 0, (uint8_t *)&cap, 8);
    ST_ASSERT_INT_EQ(cap, 0); /* nothing read from the image yet */
    ST_ASSERT_INT_EQ(vmm_blk_release(c.vm.devs[0], 0), -EBUSY); /* STATE not come: still held */
    vmm_disk_close(src); /* the source paused and released it */
    ST_ASSERT_INT_EQ(vmm_blk_release(c.vm.devs[0], 0), 0);
    CU_ASSERT_PTR_NOT_NULL(vmm_blk_disk(c.vm.devs[0], &dc));
    c.vm.devs[0]->ops->config_read(c.vm.devs[0], 0, (uint8_t *)&cap, 8);
    ST_ASSERT_INT_EQ(cap, (1 << 20) / 512);
    destroy(&c);
}

static CU_TestInfo tests[] = {
    {"devices driven, saved, restored into a fresh VM: equal state, same answers",
     test_save_restore},
    {"hostile state files refused with their reason", test_hostile_files},
    {"registry: order, ids, a device without a save hook, a VM reset", test_registry},
    {"e1000: registers, rings, a half-sent frame restored; hostile records refused", test_e1000},
    {"a migration target's early build opens a writable qcow2 only when taken back",
     test_built_early},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"devstate", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    int rc = st_test_main(argc, argv, suites);
    free(saved_a);
    return rc;
}
