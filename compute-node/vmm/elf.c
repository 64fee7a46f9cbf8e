/*
 * elf.c - ELF32/ELF64 loading and the PVH entry note.
 *
 * Every header field is checked before use: program headers inside the
 * file, segment file ranges inside the file, filesz <= memsz, and each
 * segment wholly inside guest RAM at or above 1 MiB. The PVH entry is the
 * XEN_ELFNOTE_PHYS32_ENTRY (type 18) note with name "Xen".
 */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "boot.h"
#include "vmm.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18

typedef struct seg {
    uint32_t type;
    uint64_t off, paddr, filesz, memsz;
} seg;

static int get_seg(const uint8_t *img, size_t len, int is64, uint64_t phoff, uint16_t phentsize,
                   int i, seg *s)
{
    uint64_t at = phoff + (uint64_t)i * phentsize;
    if (is64) {
        Elf64_Phdr p;
        if (phentsize < sizeof p || at > len || sizeof p > len - at)
            return -ENOEXEC;
        memcpy(&p, img + at, sizeof p);
        *s = (seg){p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz};
    } else {
        Elf32_Phdr p;
        if (phentsize < sizeof p || at > len || sizeof p > len - at)
            return -ENOEXEC;
        memcpy(&p, img + at, sizeof p);
        *s = (seg){p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz};
    }
    if (s->off > len || s->filesz > len - s->off)
        return -ENOEXEC;
    return 0;
}

static uint64_t find_pvh(const uint8_t *p, uint64_t len)
{
    uint64_t off = 0;
    while (len - off >= 12) {
        uint32_t namesz, descsz, type;
        memcpy(&namesz, p + off, 4);
        memcpy(&descsz, p + off + 4, 4);
        memcpy(&type, p + off + 8, 4);
        uint64_t name = off + 12;
        uint64_t desc = name + (((uint64_t)namesz + 3) & ~3ull);
        uint64_t next = desc + (((uint64_t)descsz + 3) & ~3ull);
        if (desc > len || next > len)
            return 0;
        if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 && !memcmp(p + name, "Xen", 4)) {
            if (descsz == 4) {
                uint32_t e;
                memcpy(&e, p + desc, 4);
                return e;
            }
            if (descsz == 8) {
                uint64_t e;
                memcpy(&e, p + desc, 8);
                return e;
            }
            return 0;
        }
        off = next;
    }
    return 0;
}

int vmm_elf_load(const vmm_gmem *m, const uint8_t *img, size_t len, uint64_t *elf_entry,
                 uint64_t *pvh_entry, uint64_t *top)
{
    uint64_t phoff, entry;
    uint16_t phnum, phentsize, machine;
    if (len < EI_NIDENT || memcmp(img, ELFMAG, SELFMAG) || img[EI_DATA] != ELFDATA2LSB)
        return -ENOEXEC;
    int is64 = img[EI_CLASS] == ELFCLASS64;
    if (is64) {
        Elf64_Ehdr h;
        if (len < sizeof h)
            return -ENOEXEC;
        memcpy(&h, img, sizeof h);
        phoff = h.e_phoff, phnum = h.e_phnum, phentsize = h.e_phentsize, entry = h.e_entry;
        machine = h.e_machine;
    } else if (img[EI_CLASS] == ELFCLASS32) {
        Elf32_Ehdr h;
        if (len < sizeof h)
            return -ENOEXEC;
        memcpy(&h, img, sizeof h);
        phoff = h.e_phoff, phnum = h.e_phnum, phentsize = h.e_phentsize, entry = h.e_entry;
        machine = h.e_machine;
    } else {
        return -ENOEXEC;
    }
    if ((machine != EM_X86_64 && machine != EM_386) || phnum == 0 || phnum > 256)
        return -ENOEXEC;
    *pvh_entry = 0;
    *top = 0;
    int loaded = 0;
    for (int i = 0; i < phnum; i++) {
        seg s;
        int rc = get_seg(img, len, is64, phoff, phentsize, i, &s);
        if (rc)
            return rc;
        if (s.type == PT_NOTE && !*pvh_entry) {
            *pvh_entry = find_pvh(img + s.off, s.filesz);
        } else if (s.type == PT_LOAD && s.memsz) {
            if (s.filesz > s.memsz || s.paddr < VMM_BIOS_END)
                return -ENOEXEC;
            uint8_t *dst = vmm_gmem_ptr(m, s.paddr, s.memsz);
            if (!dst)
                return -E2BIG;
            memcpy(dst, img + s.off, s.filesz);
            memset(dst + s.filesz, 0, s.memsz - s.filesz);
            if (s.paddr + s.memsz > *top)
                *top = s.paddr + s.memsz;
            loaded++;
        }
    }
    if (!loaded)
        return -ENOEXEC;
    *elf_entry = entry;
    return 0;
}
