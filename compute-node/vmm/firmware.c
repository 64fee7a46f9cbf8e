/*
 * firmware.c - firmware boot: a BIOS image (Debian's SeaBIOS, bios.bin)
 * runs from the reset vector and boots the disk itself.
 *
 * Memory. The image is mapped read-only (KVM_MEM_READONLY) so that it ends
 * at 4 GiB, and its top 128 KiB also at 0xE0000-0xFFFFF, where the reset
 * vector's far jump lands. Those two 64 KiB segments (E and F) are memory
 * slots of their own, and RAM below 3 GiB is split around them (kvm.c).
 * A write to a read-only slot exits as MMIO and is dropped, as ROM drops it.
 *
 * Shadowing. SeaBIOS finds the host bridge by its i440FX ID (8086:1237,
 * subsystem 1af4:1100: "Running on QEMU") and sets its PAM registers
 * (0x59-0x5F) to put RAM under 0xC0000-0xFFFFF: it copies itself there from
 * the high ROM and runs on from RAM, later write-protecting the F segment.
 * We follow PAM0's high nibble for the F segment and PAM5/PAM6's nibbles for
 * the E segment's 16 KiB quarters (a memory slot each: SeaBIOS write-protects
 * the part of the E segment its code fills and keeps writing the rest, e.g.
 * the kvmclock page KVM updates): read enable off: the ROM; read and write
 * enable: the RAM there, writable; read enable only: the same RAM,
 * read-only. 0xC0000-0xDFFFF is plain RAM throughout (option ROMs are
 * copied there).
 *
 * What SeaBIOS reads (src/fw/paravirt.c): the CMOS RAM size bytes and CPU
 * count (legacy.c), and fw_cfg: RAM size, CPU counts, no boot menu,
 * etc/e820 (RAM below 3 GiB and above 4 GiB, KVM's TSS and identity-map
 * pages reserved), bootorder (the first disk), and etc/sercon-port (COM1:
 * the BIOS's screen output, and so a boot loader's, goes to the console),
 * and the VMM's own ACPI tables with the table loader's commands (acpi.c).
 * At --log-level debug, SeaBIOS's debug log goes to port 0x402 (QEMU's
 * debug console), which the VMM logs line by line.
 * The direct kernel boot path (boot.c) is untouched by any of this.
 */
#include "firmware.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acpi.h"
#include "devices.h"
#include "e820.h"
#include "fw_cfg.h"
#include "pci.h"
#include "stratus/crypto.h"
#include "stratus/log.h"
#include "virtio_pci.h"

#define I440FX_PAM0 0x59
#define I440FX_PAM5 0x5e

struct vmm_firmware {
    char dbg[256]; /* the BIOS's debug console line being written */
    size_t dbg_len;
    uint8_t *rom;
    size_t rom_size;
    vmm_fw_cfg cfg;
    int chunk_state[VMM_FW_CHUNKS]; /* 0 ROM, 1 RAM read/write, 2 RAM read-only; -1 unmapped */
    char sha256[65];                /* the image's */
    char *config_json;              /* the config with "firmware_sha256" set (vmm_config_json) */
};

/* The shadow in PAM's units: the E segment's four 16 KiB quarters, then the F segment. */
static const struct {
    uint32_t gpa, size;
    uint8_t reg, shift; /* PAM register and nibble */
} chunks[VMM_FW_CHUNKS] = {
    {0xE0000, 0x4000, 0x5e, 0}, {0xE4000, 0x4000, 0x5e, 4},  {0xE8000, 0x4000, 0x5f, 0},
    {0xEC000, 0x4000, 0x5f, 4}, {0xF0000, 0x10000, 0x59, 4},
};

/* Maps chunk i as state says (0 ROM, 1 RAM, 2 RAM read-only). */
static int map_chunk(vmm_vm *vm, int i, int state)
{
    struct vmm_firmware *fw = vm->fw;
    if (fw->chunk_state[i] == state)
        return 0;
    uint64_t gpa = chunks[i].gpa;
    uint32_t slot = VMM_SLOT_SHADOW + (uint32_t)i;
    int rc;
    if (fw->chunk_state[i] >= 0 && (rc = vmm_kvm_slot(vm, slot, gpa, 0, NULL, 0)))
        return rc;
    fw->chunk_state[i] = -1;
    uint8_t *hva = state == 0
                       ? fw->rom + fw->rom_size - VMM_FW_SHADOW_SIZE + (gpa - VMM_FW_SHADOW_START)
                       : vm->ram + gpa;
    if ((rc = vmm_kvm_slot(vm, slot, gpa, chunks[i].size, hva, state == 1 ? 0 : KVM_MEM_READONLY)))
        return rc;
    fw->chunk_state[i] = state;
    return 0;
}

static int pam_state(uint8_t nibble)
{
    if (!(nibble & 1))
        return 0; /* reads from ROM (writes, if enabled, would go to RAM: dropped here) */
    return nibble & 2 ? 1 : 2;
}

static const char *const state_names[] = {"ROM", "RAM", "RAM read-only"};

/* Every chunk as the PAM registers now say; 0 or the first error. */
static int apply_pam(vmm_vm *vm, const uint8_t *cfg)
{
    for (int i = 0; i < VMM_FW_CHUNKS; i++) {
        int st = pam_state((uint8_t)(cfg[chunks[i].reg] >> chunks[i].shift));
        int old = vm->fw->chunk_state[i], rc = map_chunk(vm, i, st);
        if (rc)
            return rc;
        if (old != st)
            st_debug("vmm.firmware", "PAM: %#x-%#x now %s", chunks[i].gpa,
                     chunks[i].gpa + chunks[i].size - 1, state_names[st]);
    }
    return 0;
}

static void bridge_written(vmm_pci_dev *d, uint32_t off, uint32_t len)
{
    vmm_vm *vm = d->opaque;
    if (off > I440FX_PAM0 + 6 || off + len <= I440FX_PAM0)
        return;
    if (apply_pam(vm, d->cfg))
        st_error("vmm.firmware", "remapping the BIOS shadow failed; the guest will not boot");
}

/* Port 0x402, QEMU's debug console: reads 0xe9 at --log-level debug, so SeaBIOS writes its
 * debug log there, logged line by line (vmm.bios). */
static void debugcon_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, int is_write)
{
    struct vmm_firmware *fw = opaque;
    (void)off;
    if (!is_write) {
        /* Present (0xe9) only when the lines would be logged: otherwise SeaBIOS writes nothing
         * there, saving an exit per byte of its log (QEMU -M pc has no debug console either). */
        memset(data, 0xff, len);
        if (st_log_enabled(ST_LOG_DEBUG))
            data[0] = 0xe9;
        return;
    }
    char c = (char)data[0];
    if (c != '\n' && fw->dbg_len < sizeof fw->dbg - 1) {
        if (c != '\r')
            fw->dbg[fw->dbg_len++] = c >= 0x20 && c < 0x7f ? c : '.';
        return;
    }
    fw->dbg[fw->dbg_len] = 0;
    st_debug("vmm.bios", "%s", fw->dbg);
    fw->dbg_len = 0;
}

static int read_rom(const char *path, struct vmm_firmware *fw)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto out;
    }
    /* At least the shadow's 128 KiB, whole pages, no more than 16 MiB below 4 GiB. */
    if (st.st_size < (off_t)VMM_FW_SHADOW_SIZE || st.st_size > VMM_FW_ROM_MAX ||
        st.st_size % 4096) {
        rc = -EINVAL;
        goto out;
    }
    fw->rom_size = (size_t)st.st_size;
    fw->rom = mmap(NULL, fw->rom_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (fw->rom == MAP_FAILED) {
        fw->rom = NULL;
        rc = -ENOMEM;
        goto out;
    }
    for (size_t off = 0; off < fw->rom_size;) {
        ssize_t r = pread(fd, fw->rom + off, fw->rom_size - off, (off_t)off);
        if (r <= 0) {
            rc = r < 0 ? -errno : -EIO;
            goto out;
        }
        off += (size_t)r;
    }
out:
    close(fd);
    return rc;
}

static int add_items(vmm_vm *vm, vmm_fw_cfg *c)
{
    vmm_e820 map[VMM_E820_MAX];
    uint8_t e820[VMM_E820_MAX * VMM_E820_ENTRY];
    uint32_t e820_len =
        vmm_e820_encode(map, vmm_e820_firmware(vm->ram_size, map), e820, sizeof e820);
    char boot[256] = "";
    size_t blen = 0;
    for (int i = 0; i < vm->ndevs; i++) {
        vmm_virtio *v = vm->devs[i];
        if (!vmm_blk_stats_of(v))
            continue;
        /* The path QEMU gives a virtio-blk disk; SeaBIOS matches it to the device's slot. */
        int n =
            snprintf(boot + blen, sizeof boot - blen, "/pci@i0cf8/scsi@%x/disk@0,0\n", v->pci.slot);
        if (n < 0 || (size_t)n >= sizeof boot - blen)
            break;
        blen += (size_t)n;
        break; /* the first disk is the boot disk */
    }
    uint64_t sercon = 0x3f8;
    int rc;
    if ((rc = vmm_fw_cfg_add_int(c, VMM_FW_CFG_RAM_SIZE, vm->ram_size, 8)) ||
        (rc = vmm_fw_cfg_add_int(c, VMM_FW_CFG_NB_CPUS, (uint64_t)vm->cfg->vcpus, 2)) ||
        (rc = vmm_fw_cfg_add_int(c, VMM_FW_CFG_MAX_CPUS, (uint64_t)vm->cfg->vcpus, 2)) ||
        (rc = vmm_fw_cfg_add_int(c, VMM_FW_CFG_NOGRAPHIC, 1, 2)) ||
        (rc = vmm_fw_cfg_add_int(c, VMM_FW_CFG_BOOT_MENU, 0, 2)) ||
        (rc = vmm_fw_cfg_add_file(c, "etc/e820", e820, e820_len)) ||
        (rc = vmm_fw_cfg_add_file(c, "etc/sercon-port", &sercon, 8)) ||
        (blen && (rc = vmm_fw_cfg_add_file(c, "bootorder", boot, (uint32_t)blen))) ||
        (rc = vmm_acpi_fw_cfg(c, vm->cfg->vcpus)))
        return rc;
    return 0;
}

static void make_i440fx(vmm_vm *vm)
{
    vmm_pci_dev *b = vmm_pci_host_bridge(vm);
    vmm_pci_set16(b, 0x00, 0x8086); /* Intel 440FX host bridge, as QEMU's -M pc */
    vmm_pci_set16(b, 0x02, 0x1237);
    b->cfg[0x08] = 0x02;
    vmm_pci_set16(b, 0x2c, 0x1af4); /* subsystem: Red Hat, QEMU virtual machine */
    vmm_pci_set16(b, 0x2e, 0x1100);
    for (uint32_t r = I440FX_PAM0; r <= I440FX_PAM0 + 6; r++) {
        b->cfg[r] = 0;
        b->wmask[r] = 0x33;
    }
    b->opaque = vm;
    b->cfg_written = bridge_written;
}

/* The config's JSON with "firmware_sha256" set to the image's digest: what a snapshot and a
 * migration's HELLO carry, so the restoring process or the target can tell another image. */
static int pin_config(const vmm_config *cfg, struct vmm_firmware *fw)
{
    json_error_t e;
    json_t *j = json_loads(cfg->json, 0, &e);
    if (!j || json_object_set_new(j, "firmware_sha256", json_string(fw->sha256)) ||
        !(fw->config_json = json_dumps(j, JSON_COMPACT))) {
        json_decref(j);
        return -ENOMEM;
    }
    json_decref(j);
    return 0;
}

const char *vmm_config_json(const vmm_vm *vm)
{
    return vm->fw && vm->fw->config_json ? vm->fw->config_json : vm->cfg->json;
}

int vmm_fw_digest(const char *path, char hex[65], char *err, size_t errlen)
{
    struct vmm_firmware fw = {0};
    int rc = read_rom(path, &fw);
    if (rc)
        snprintf(err, errlen, "%s: %s", path,
                 rc == -EINVAL ? "not a firmware image (128 KiB to 16 MiB, whole pages)"
                               : strerror(-rc));
    else
        st_sha256_hex(fw.rom, fw.rom_size, hex);
    if (fw.rom)
        munmap(fw.rom, fw.rom_size);
    return rc;
}

int vmm_fw_load(vmm_vm *vm)
{
    const vmm_config *cfg = vm->cfg;
    struct vmm_firmware *fw = vm->fw;
    int rc;
    if (fw) { /* a reboot: ROM under the shadow again, the PAM registers cleared */
        vmm_pci_dev *b = vmm_pci_host_bridge(vm);
        memset(&b->cfg[I440FX_PAM0], 0, 7);
        vmm_fw_cfg_reset(&fw->cfg);
        if ((rc = apply_pam(vm, b->cfg)))
            return rc;
        goto regs;
    }
    fw = vm->fw = calloc(1, sizeof *fw);
    if (!fw)
        return -ENOMEM;
    for (int i = 0; i < VMM_FW_CHUNKS; i++)
        fw->chunk_state[i] = -1;
    if ((rc = read_rom(cfg->firmware, fw))) {
        st_error("vmm.firmware", "%s: %s", cfg->firmware,
                 rc == -EINVAL ? "not a firmware image (128 KiB to 16 MiB, whole pages)"
                               : strerror(-rc));
        return rc;
    }
    st_sha256_hex(fw->rom, fw->rom_size, fw->sha256);
    if (cfg->firmware_sha256[0] && strcmp(cfg->firmware_sha256, fw->sha256)) {
        st_error("vmm.firmware",
                 "%s: %zu bytes with SHA-256 %s, not the image the VM runs (SHA-256 %s): "
                 "another SeaBIOS build",
                 cfg->firmware, fw->rom_size, fw->sha256, cfg->firmware_sha256);
        return -EINVAL;
    }
    if ((rc = pin_config(cfg, fw)))
        return rc;
    if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0) {
        st_error("vmm.firmware", "KVM lacks read-only memory slots");
        return -ENOTSUP;
    }
    if ((rc = vmm_kvm_slot(vm, VMM_SLOT_ROM, (1ull << 32) - fw->rom_size, fw->rom_size, fw->rom,
                           KVM_MEM_READONLY))) {
        st_error("vmm.firmware", "mapping the ROM: %s", strerror(-rc));
        return rc;
    }
    if ((rc = vmm_fw_cfg_init(&fw->cfg, &vm->gmem)) || (rc = add_items(vm, &fw->cfg)) ||
        (rc = vmm_bus_add(&vm->pio, VMM_FW_CFG_PORT, VMM_FW_CFG_PORTS, vmm_fw_cfg_io, &fw->cfg)) ||
        (rc = vmm_bus_add(&vm->pio, 0x402, 1, debugcon_io, fw))) {
        st_error("vmm.firmware", "fw_cfg: %s", strerror(-rc));
        return rc;
    }
    make_i440fx(vm);
    if ((rc = apply_pam(vm, vmm_pci_host_bridge(vm)->cfg))) {
        st_error("vmm.firmware", "mapping the ROM at %#llx: %s", VMM_FW_SHADOW_START,
                 strerror(-rc));
        return rc;
    }
    st_info("vmm.firmware", "%s: %zu KiB at %#llx, reset vector F000:FFF0", cfg->firmware,
            fw->rom_size >> 10, (unsigned long long)((1ull << 32) - fw->rom_size));
regs:
    vm->boot.mode = VMM_BOOT_FIRMWARE;
    vm->boot.entry = 0xfff0;
    vm->boot.arg = 0;
    return 0;
}

/* The device record "firmware": fw_cfg's selector and offset. The PAM registers are the host
 * bridge's config space, which the "pci" record (registered before this one) has put back, so
 * restore maps the shadow as they say: the BIOS's copy of itself below 1 MiB is in guest RAM,
 * saved with it. */
static int fw_save(void *opaque, vmm_rec_out *o, char *err, size_t errlen)
{
    vmm_vm *vm = opaque;
    (void)err;
    (void)errlen;
    vmm_fw_cfg_save(&vm->fw->cfg, o);
    return 0;
}

static int fw_restore(void *opaque, vmm_rec_in *in, char *err, size_t errlen)
{
    vmm_vm *vm = opaque;
    int rc = vmm_fw_cfg_restore(&vm->fw->cfg, in, err, errlen);
    if (!rc && (rc = apply_pam(vm, vmm_pci_host_bridge(vm)->cfg)))
        snprintf(err, errlen, "firmware: remapping the BIOS shadow: %s", strerror(-rc));
    return rc;
}

const vmm_dev_ops vmm_firmware_dev = {.version = 1, .save = fw_save, .restore = fw_restore};

void vmm_fw_free(vmm_vm *vm)
{
    struct vmm_firmware *fw = vm->fw;
    if (!fw)
        return;
    if (fw->cfg.dir)
        vmm_fw_cfg_free(&fw->cfg);
    if (fw->rom)
        munmap(fw->rom, fw->rom_size);
    free(fw->config_json);
    free(fw);
    vm->fw = NULL;
}
