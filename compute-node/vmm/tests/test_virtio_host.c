/*
 * vmm_virtio_host - the virtio-pci transport and virtio-blk driven from the
 * host side, register by register, the way a guest driver would: a real KVM
 * VM and real files, but no guest code. This reaches what the test guest
 * never does (discard, get-id, unsupported requests, feature refusal, MSI-X
 * pending bits, a request without a status byte) and checks each answer.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices.h"
#include "harness.h"
#include "pci.h"
#include "st_test.h"
#include "virtio_pci.h"
#include "vmm.h"

#define BAR 0xc0000000ull
#define DESC 0x10000ull
#define AVAIL 0x11000ull
#define USED 0x12000ull
#define BUF 0x20000ull /* request buffers */
#define QSZ 8

static char *dir;
static char disk_path[512], ro_path[512];
static vmm_config cfg;
static vmm_vm vm;
static vmm_virtio *blk, *ro, *rng;
static uint16_t avail_idx;

static void w(vmm_virtio *d, uint64_t off, uint64_t v, uint32_t len)
{
    uint8_t b[8];
    memcpy(b, &v, 8);
    vmm_bus_access(&vm.mmio, d->pci.bar_mapped[0] + off, b, len, 1);
}

static uint64_t r(vmm_virtio *d, uint64_t off, uint32_t len)
{
    uint8_t b[8] = {0};
    vmm_bus_access(&vm.mmio, d->pci.bar_mapped[0] + off, b, len, 0);
    uint64_t v = 0;
    memcpy(&v, b, len);
    return v;
}

/* Guest RAM at gpa (the test only uses the low MiBs). noinline: gcc cannot see the
 * mapping's size and would warn about every access. */
__attribute__((noinline)) static uint8_t *ram(uint64_t gpa)
{
    return vmm_gpa(&vm, gpa, 0x3000);
}

/* Reset, negotiate (features: hi word as given), one queue of QSZ, DRIVER_OK. */
static int driver_init(vmm_virtio *d, uint32_t feat_lo, uint32_t feat_hi)
{
    w(d, 20, 0, 1);
    if (r(d, 20, 1) != 0)
        return -1;
    w(d, 20, 1 | 2, 1);
    w(d, 8, 0, 4);
    w(d, 12, feat_lo, 4);
    w(d, 8, 1, 4);
    w(d, 12, feat_hi, 4);
    w(d, 20, 1 | 2 | 8, 1);
    if (!(r(d, 20, 1) & 8))
        return -2; /* FEATURES_OK refused */
    w(d, 22, 0, 2);
    w(d, 24, QSZ, 2);
    w(d, 32, DESC, 4);
    w(d, 36, 0, 4);
    w(d, 40, AVAIL, 4);
    w(d, 44, 0, 4);
    w(d, 48, USED, 4);
    w(d, 52, 0, 4);
    w(d, 28, 1, 2);
    w(d, 20, 1 | 2 | 4 | 8, 1);
    memset(ram(DESC), 0, 0x3000);
    avail_idx = 0;
    return 0;
}

static void desc(int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t *p = ram(DESC + 16 * (uint64_t)i);
    memcpy(p, &addr, 8);
    memcpy(p + 8, &len, 4);
    memcpy(p + 12, &flags, 2);
    memcpy(p + 14, &next, 2);
}

static uint16_t used_idx(void)
{
    uint16_t v;
    memcpy(&v, ram(USED + 2), 2);
    return v;
}

/* Posts chain head 0 and kicks; the event thread's work runs here. */
static void kick(vmm_virtio *d)
{
    memcpy(ram(AVAIL + 4 + 2 * (avail_idx % QSZ)), &(uint16_t){0}, 2);
    avail_idx++;
    memcpy(ram(AVAIL + 2), &avail_idx, 2);
    w(d, 0x3000, 0, 2);
    for (int i = 0; i < 5; i++)
        event_base_loop(vm.base, EVLOOP_NONBLOCK);
}

/* One request: header, optional data (writable for reads), status. Returns the status. */
static int request(vmm_virtio *d, uint32_t type, uint64_t sector, void *data, uint32_t len,
                   int data_writable)
{
    uint8_t *hdr = ram(BUF);
    memset(hdr, 0, 16);
    memcpy(hdr, &type, 4);
    memcpy(hdr + 8, &sector, 8);
    if (data && !data_writable)
        memcpy(ram(BUF + 0x1000), data, len);
    *ram(BUF + 0x800) = 0xee;
    int n = 0;
    desc(n, BUF, 16, VRING_DESC_F_NEXT, (uint16_t)(n + 1)), n++;
    if (data)
        desc(n, BUF + 0x1000, len, VRING_DESC_F_NEXT | (data_writable ? VRING_DESC_F_WRITE : 0),
             (uint16_t)(n + 1)),
            n++;
    desc(n, BUF + 0x800, 1, VRING_DESC_F_WRITE, 0);
    uint16_t before = used_idx();
    kick(d);
    if (used_idx() != (uint16_t)(before + 1))
        return -1;
    if (data && data_writable)
        memcpy(data, ram(BUF + 0x1000), len);
    return *ram(BUF + 0x800);
}

static int setup(void)
{
    char json[2048], err[256];
    dir = st_tmpdir("vmm-vhost");
    snprintf(disk_path, sizeof disk_path, "%s/disk.img", dir);
    snprintf(ro_path, sizeof ro_path, "%s/ro.img", dir);
    int fd = open(disk_path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    static uint8_t ones[1 << 20];
    memset(ones, 0xab, sizeof ones);
    if (fd < 0 || write(fd, ones, sizeof ones) != (ssize_t)sizeof ones)
        return -1;
    close(fd);
    fd = open(ro_path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 1 << 20))
        return -1;
    close(fd);
    snprintf(json, sizeof json,
             "{\"kernel\": \"none\", \"memory_mib\": 16, \"disks\": [{\"path\": \"%s\"}, "
             "{\"path\": \"%s\", \"read_only\": true}]}",
             disk_path, ro_path);
    if (vmm_config_parse(&cfg, json, strlen(json), err, sizeof err))
        return -1;
    evthread_use_pthreads();
    vmm_vm_init(&vm);
    vm.base = event_base_new();
    if (vmm_vm_create(&vm, &cfg) || vmm_pci_init(&vm) || vmm_blk_create(&vm, &cfg.disks[0]) ||
        vmm_blk_create(&vm, &cfg.disks[1]) || vmm_rng_create(&vm))
        return -1;
    blk = vm.devs[0];
    ro = vm.devs[1];
    rng = vm.devs[2];
    return 0;
}

static int teardown(void)
{
    for (int i = 0; i < vm.ndevs; i++)
        vmm_virtio_destroy(vm.devs[i]);
    vmm_pci_free(&vm);
    event_base_free(vm.base);
    vmm_vm_destroy(&vm);
    vmm_config_free(&cfg);
    st_rmtree(dir);
    free(dir);
    return 0;
}

static void test_pci_identity(void)
{
    ST_ASSERT_INT_EQ(blk->pci.slot, 1);
    ST_ASSERT_INT_EQ(blk->pci.bar_mapped[0], BAR);
    uint16_t id;
    memcpy(&id, &blk->pci.cfg[2], 2);
    ST_ASSERT_INT_EQ(id, 0x1042);
    ST_ASSERT_INT_EQ(r(blk, 18, 2), 1);        /* num_queues */
    ST_ASSERT_INT_EQ(r(blk, 0x2000, 8), 2048); /* capacity: 1 MiB in sectors */
}

static void test_features_refused_without_version_1(void)
{
    ST_ASSERT_INT_EQ(driver_init(blk, 0, 0), -2);
    ST_ASSERT_INT_EQ(driver_init(blk, 0, 1u << 31), -2); /* a feature we never offered */
    ST_ASSERT_INT_EQ(driver_init(blk, 0, 1), 0);
}

static void test_get_id(void)
{
    char id[20] = {0};
    CU_ASSERT_FATAL(driver_init(blk, 0, 1) == 0);
    ST_ASSERT_INT_EQ(request(blk, 8, 0, id, sizeof id, 1), 0);
    ST_ASSERT_STR_EQ(id, "disk0");
}

static void test_write_read_flush(void)
{
    uint8_t out[1024], in[1024];
    for (int i = 0; i < 1024; i++)
        out[i] = (uint8_t)(i * 7);
    CU_ASSERT_FATAL(driver_init(blk, 1u << 9, 1) == 0);
    ST_ASSERT_INT_EQ(request(blk, 1, 4, out, sizeof out, 0), 0);
    ST_ASSERT_INT_EQ(request(blk, 0, 4, in, sizeof in, 1), 0);
    CU_ASSERT(memcmp(in, out, sizeof in) == 0);
    ST_ASSERT_INT_EQ(request(blk, 4, 0, NULL, 0, 0), 0); /* flush */
    uint8_t file[1024];
    int fd = open(disk_path, O_RDONLY);
    CU_ASSERT(pread(fd, file, sizeof file, 4 * 512) == (ssize_t)sizeof file);
    close(fd);
    CU_ASSERT(memcmp(file, out, sizeof file) == 0);
    const vmm_blk_stats *st = vmm_blk_stats_of(blk);
    CU_ASSERT(st->write_bytes >= 1024 && st->read_bytes >= 1024 && st->flush_ops >= 1);
}

static void test_discard_punches_a_hole(void)
{
    CU_ASSERT_FATAL(driver_init(blk, 1u << 13, 1) == 0);
    struct stat before, after;
    stat(disk_path, &before);
    uint8_t seg[16] = {0};
    uint64_t sector = 1024;
    uint32_t n = 512; /* 256 KiB */
    memcpy(seg, &sector, 8);
    memcpy(seg + 8, &n, 4);
    /* The segment is device-readable data after the header. */
    ST_ASSERT_INT_EQ(request(blk, 11, 0, seg, sizeof seg, 0), 0);
    stat(disk_path, &after);
    CU_ASSERT(after.st_blocks < before.st_blocks);
    ST_ASSERT_INT_EQ(after.st_size, before.st_size);
    uint8_t in[512];
    ST_ASSERT_INT_EQ(request(blk, 0, 1024, in, sizeof in, 1), 0);
    int zero = 1;
    for (int i = 0; i < 512; i++)
        zero &= in[i] == 0;
    CU_ASSERT(zero);
    n = 4096; /* past the end of the disk */
    memcpy(seg + 8, &n, 4);
    ST_ASSERT_INT_EQ(request(blk, 11, 0, seg, sizeof seg, 0), 1);
}

static void test_errors_are_statuses(void)
{
    uint8_t buf[512];
    CU_ASSERT_FATAL(driver_init(blk, 0, 1) == 0);
    ST_ASSERT_INT_EQ(request(blk, 0, 2048, buf, sizeof buf, 1), 1);       /* past the end */
    ST_ASSERT_INT_EQ(request(blk, 0, UINT64_MAX, buf, sizeof buf, 1), 1); /* overflowing */
    ST_ASSERT_INT_EQ(request(blk, 99, 0, NULL, 0, 0), 2);                 /* unsupported */
    ST_ASSERT_INT_EQ(r(blk, 20, 1) & 0x40, 0);                            /* not failed */
}

static void test_read_only_disk(void)
{
    uint8_t buf[512] = {1};
    CU_ASSERT_FATAL(driver_init(ro, 0, 1) == 0);
    CU_ASSERT(r(ro, 4, 4) & (1u << 5)); /* VIRTIO_BLK_F_RO offered */
    ST_ASSERT_INT_EQ(request(ro, 1, 0, buf, sizeof buf, 0), 1);
    ST_ASSERT_INT_EQ(request(ro, 0, 0, buf, sizeof buf, 1), 0);
    ST_ASSERT_INT_EQ(buf[0], 0);
}

static void test_missing_status_byte_fails_device(void)
{
    CU_ASSERT_FATAL(driver_init(blk, 0, 1) == 0);
    desc(0, BUF, 16, 0, 0); /* a header and nothing writable */
    uint16_t before = used_idx();
    kick(blk);
    ST_ASSERT_INT_EQ(used_idx(), before);
    CU_ASSERT(r(blk, 20, 1) & 0x40); /* DEVICE_NEEDS_RESET */
    CU_ASSERT(blk->failed);
    uint8_t buf[512];
    desc(0, BUF, 16, VRING_DESC_F_NEXT, 1); /* a good request is ignored while failed */
    desc(1, BUF + 0x1000, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
    desc(2, BUF + 0x800, 1, VRING_DESC_F_WRITE, 0);
    kick(blk);
    ST_ASSERT_INT_EQ(used_idx(), before);
    CU_ASSERT_FATAL(driver_init(blk, 0, 1) == 0); /* reset recovers */
    ST_ASSERT_INT_EQ(r(blk, 20, 1) & 0x40, 0);
    ST_ASSERT_INT_EQ(request(blk, 0, 0, buf, sizeof buf, 1), 0);
}

static void test_ring_outside_ram_fails_device(void)
{
    w(blk, 20, 0, 1);
    w(blk, 20, 1 | 2, 1);
    w(blk, 8, 1, 4);
    w(blk, 12, 1, 4);
    w(blk, 20, 1 | 2 | 8, 1);
    w(blk, 22, 0, 2);
    w(blk, 32, 0xfff00000, 4); /* in the PCI hole */
    w(blk, 28, 1, 2);
    CU_ASSERT(r(blk, 20, 1) & 0x40);
    ST_ASSERT_INT_EQ(r(blk, 28, 2), 0); /* the queue did not come up */
    CU_ASSERT_FATAL(driver_init(blk, 0, 1) == 0);
}

static void test_msix_masked_vector_pends(void)
{
    uint8_t buf[512];
    CU_ASSERT_FATAL(driver_init(blk, 0, 1) == 0);
    /* MSI-X on (config space), queue 0 -> vector 1, entry 1 masked. */
    uint8_t ctrl[2] = {0, 0x80};
    uint32_t sel = 0x80000800u | 0x40; /* 00:01.0, the MSI-X capability */
    uint8_t a[4];
    memcpy(a, &sel, 4);
    vmm_bus_access(&vm.pio, 0xcf8, a, 4, 1);
    vmm_bus_access(&vm.pio, 0xcfe, ctrl, 2, 1); /* message control at cap + 2 */
    w(blk, 0x800 + 16 + 0, 0xfee00000, 8);      /* address as one 64-bit store */
    ST_ASSERT_INT_EQ(r(blk, 0x800 + 16, 8), 0xfee00000);
    w(blk, 0x800 + 16 + 8, 0x41, 4);
    w(blk, 0x800 + 16 + 12, 1, 4); /* masked */
    w(blk, 22, 0, 2);
    w(blk, 26, 1, 2);
    ST_ASSERT_INT_EQ(r(blk, 26, 2), 1);
    ST_ASSERT_INT_EQ(request(blk, 0, 0, buf, sizeof buf, 1), 0);
    ST_ASSERT_INT_EQ(r(blk, 0xc00, 4) & 2, 2); /* pending bit of vector 1 */
    w(blk, 0x800 + 16 + 12, 0, 4);             /* unmask: delivered */
    ST_ASSERT_INT_EQ(r(blk, 0xc00, 4) & 2, 0);
    w(blk, 26, 77, 2); /* a vector beyond the table reads back NO_VECTOR */
    ST_ASSERT_INT_EQ(r(blk, 26, 2), 0xffff);
}

/* A 32-bit read of bus 0 slot's config register, through ports 0xCF8/0xCFC as a guest does. */
static uint32_t pci_cfg32(int slot, uint8_t reg)
{
    uint32_t a = 0x80000000u | (uint32_t)slot << 11 | (reg & 0xfcu), v = 0;
    vmm_bus_access(&vm.pio, 0xcf8, (uint8_t *)&a, 4, 1);
    vmm_bus_access(&vm.pio, 0xcfc, (uint8_t *)&v, 4, 0);
    return v;
}

/* Walks slot's capability list the way Linux's virtio_pci does: every virtio
 * capability (vendor 0x09) must have a non-zero length, except the PCI_CFG
 * window's (type 5), whose offset and length the driver writes; returns the
 * set of cfg_types present as bits, and *dev_len the device-config length. */
static unsigned virtio_caps(int slot, uint32_t *dev_len)
{
    unsigned types = 0;
    *dev_len = 0;
    int n = 0;
    for (uint8_t at = (uint8_t)pci_cfg32(slot, 0x34); at && n < 48; n++) {
        uint32_t h = pci_cfg32(slot, at);
        if ((h & 0xff) == 0x09) {
            uint8_t type = (uint8_t)(h >> 24);
            uint32_t len = pci_cfg32(slot, (uint8_t)(at + 12));
            CU_ASSERT(len > 0 || type == 5);
            if (len == 0 && type != 5)
                fprintf(stderr, "slot %d: virtio capability type %u with length 0\n", slot, type);
            types |= 1u << type;
            if (type == 4)
                *dev_len = len;
        }
        at = (uint8_t)(h >> 8);
    }
    return types;
}

static void test_capabilities_have_lengths(void)
{
    uint32_t dev_len;
    ST_ASSERT_INT_EQ(pci_cfg32(rng->pci.slot, 0) >> 16, 0x1044); /* virtio-rng */
    /* rng has no config space: common, notify, ISR and the PCI_CFG window (every device must
     * have one; iPXE refuses a device without), and no device-config capability. */
    ST_ASSERT_INT_EQ(virtio_caps(rng->pci.slot, &dev_len), 1u << 1 | 1u << 2 | 1u << 3 | 1u << 5);
    ST_ASSERT_INT_EQ(dev_len, 0);
    /* blk has one, and says how long it is. */
    ST_ASSERT_INT_EQ(virtio_caps(blk->pci.slot, &dev_len),
                     1u << 1 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5);
    ST_ASSERT_INT_EQ(dev_len, blk->ops->config_len);
    CU_ASSERT(dev_len > 0);
}

static CU_TestInfo tests[] = {
    {"virtio-blk sits at 00:01.0 with its BAR and capacity", test_pci_identity},
    {"FEATURES_OK is refused without VERSION_1 or with unoffered bits",
     test_features_refused_without_version_1},
    {"GET_ID returns the disk id", test_get_id},
    {"write, read back and flush reach the host file", test_write_read_flush},
    {"discard punches a hole (size kept, zeros read); past the end is IOERR",
     test_discard_punches_a_hole},
    {"out-of-range and overflowing sectors are IOERR, unknown types UNSUPP, device fine",
     test_errors_are_statuses},
    {"a read-only disk offers RO and answers writes with IOERR", test_read_only_disk},
    {"a request without a status byte fails the device until the driver resets it",
     test_missing_status_byte_fails_device},
    {"a queue whose ring lies outside RAM fails the device", test_ring_outside_ram_fails_device},
    {"virtio capabilities all have a length; rng, with no config space, has no device cap",
     test_capabilities_have_lengths},
    {"a masked MSI-X vector sets its pending bit and fires on unmask",
     test_msix_masked_vector_pends},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"virtio-host", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    vt_need_kvm();
    return st_test_main(argc, argv, suites);
}
