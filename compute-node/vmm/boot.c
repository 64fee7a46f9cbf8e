/*
 * boot.c - picks the boot protocol for the configured kernel and loads it.
 *
 * An ELF with a XEN_ELFNOTE_PHYS32_ENTRY note boots PVH (test guests, and
 * Linux kernels built with CONFIG_PVH when boot_protocol allows); a bzImage
 * (the "HdrS" setup header) or an ELF without the note boots through the
 * Linux 64-bit boot protocol. Either way the MP table is written so that the
 * guest finds every vCPU and the IOAPIC, and so are ACPI tables (whose RSDP
 * address PVH guests also get in hvm_start_info.rsdp_paddr).
 *
 * A config with "boot": "firmware" loads no kernel: firmware.c maps the
 * BIOS and the vCPU starts at its reset vector. Otherwise there is no
 * firmware, but the reset vector (F000:FFF0) holds a few bytes
 * that pulse the i8042 reset line: on a hardware-reduced ACPI platform
 * without EFI, Linux's default reboot tries EFI, then jumps there through
 * real mode ("BIOS" reboot) before trying anything else; without them it
 * ran zeros forever instead of rebooting.
 */
#include "boot.h"

#include "firmware.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acpi.h"
#include "stratus/log.h"
#include "vmm.h"

#define MAX_KERNEL (512u << 20)

/* mov al, 0xfe; out 0x64, al; hlt; jmp back to the hlt (the same in real mode). */
static const uint8_t reset_vector[] = {0xb0, 0xfe, 0xe6, 0x64, 0xf4, 0xeb, 0xfd};

int vmm_reset_vector_write(const vmm_gmem *m)
{
    uint8_t *p = vmm_gmem_ptr(m, VMM_RESET_VECTOR_ADDR, 16);
    if (!p)
        return -E2BIG;
    memset(p, 0xf4, 16); /* hlt */
    memcpy(p, reset_vector, sizeof reset_vector);
    return 0;
}

static int read_file(const char *path, uint8_t **buf, size_t *len)
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
    if (st.st_size <= 0 || (uint64_t)st.st_size > MAX_KERNEL) {
        rc = -EFBIG;
        goto out;
    }
    *len = (size_t)st.st_size;
    *buf = malloc(*len);
    if (!*buf) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t off = 0; off < *len;) {
        ssize_t r = pread(fd, *buf + off, *len - off, (off_t)off);
        if (r <= 0) {
            rc = r < 0 ? -errno : -EIO;
            free(*buf);
            *buf = NULL;
            goto out;
        }
        off += (size_t)r;
    }
out:
    close(fd);
    return rc;
}

int vmm_boot_load(vmm_vm *vm)
{
    const vmm_config *cfg = vm->cfg;
    uint8_t *img = NULL, *initrd = NULL;
    size_t len = 0, initrd_len = 0;
    vmm_boot_info bi = {0};
    int rc;

    if (cfg->firmware)
        return vmm_fw_load(vm);

    if ((rc = read_file(cfg->kernel, &img, &len))) {
        st_error("vmm.boot", "kernel %s: %s", cfg->kernel, strerror(-rc));
        return rc;
    }
    if (cfg->initrd && (rc = read_file(cfg->initrd, &initrd, &initrd_len))) {
        st_error("vmm.boot", "initrd %s: %s", cfg->initrd, strerror(-rc));
        goto out;
    }
    int is_elf = len >= 4 && !memcmp(img, "\177ELF", 4);
    uint64_t elf_entry = 0, pvh = 0, top = 0;
    if (is_elf && cfg->boot_protocol != VMM_PROTO_LINUX) {
        if ((rc = vmm_elf_load(&vm->gmem, img, len, &elf_entry, &pvh, &top)))
            goto bad;
    }
    if (pvh) {
        if (initrd)
            st_warn("vmm.boot", "initrd ignored for a PVH guest");
        rc = vmm_pvh_setup(&vm->gmem, vm->ram_size, cfg->cmdline, &bi, pvh);
    } else if (cfg->boot_protocol == VMM_PROTO_PVH) {
        rc = -ENOEXEC;
        st_error("vmm.boot", "%s has no PVH entry note", cfg->kernel);
        goto out;
    } else {
        rc = vmm_linux_load(&vm->gmem, vm->ram_size, img, len, initrd, initrd_len, cfg->cmdline,
                            &bi);
    }
    if (rc)
        goto bad;
    if ((rc = vmm_mptable_write(&vm->gmem, vm->cfg->vcpus)) ||
        (rc = vmm_acpi_write(&vm->gmem, vm->cfg->vcpus)) ||
        (rc = vmm_reset_vector_write(&vm->gmem)))
        goto bad;
    vm->boot.mode = bi.mode;
    vm->boot.entry = bi.entry;
    vm->boot.arg = bi.arg;
    st_info("vmm.boot", "%s: %s entry %#llx", cfg->kernel,
            bi.mode == VMM_BOOT_PVH ? "PVH" : "Linux 64-bit", (unsigned long long)bi.entry);
    goto out;
bad:
    st_error("vmm.boot", "cannot boot %s: %s", cfg->kernel,
             rc == -ENOEXEC ? "not a PVH ELF, vmlinux or bzImage we can load" : strerror(-rc));
out:
    free(img);
    free(initrd);
    return rc;
}
