/*
 * pci.c - PCI configuration mechanism 1 (ports 0xCF8/0xCFC), bus 0
 * enumeration, BAR sizing and assignment, capability lists.
 *
 * pci_scan() runs once: it records every function of bus 0 with its memory
 * BARs (address and size), then gives each unassigned memory BAR (address 0)
 * a naturally aligned range from the window 0xE0000000-0xFEBFFFFF (start:
 * `pci.window=`), stepping over BARs already assigned there; with
 * `pci.window64=ADDR` 64-bit BARs go to ADDR.. ADDR+64 GiB instead. BARs
 * above 4 GiB are mapped on use by pci_bar_ptr() (map_mmio). Every access is two port exits,
 * so the scan touches each register once.
 */
#include "guest.h"

#define PCI_WINDOW_START 0xE0000000ull
#define PCI_WINDOW_END 0xFEC00000ull

struct pci_dev g_pci[PCI_MAX_DEVS];
int g_pci_count = -1;

static void cfg_select(const struct pci_dev *d, u8 off)
{
    outl(0xCF8, 0x80000000u | ((u32)d->bus << 16) | ((u32)d->dev << 11) | ((u32)d->fn << 8) |
                    (off & 0xfc));
}

u32 pci_read32(const struct pci_dev *d, u8 off)
{
    cfg_select(d, off);
    return inl(0xCFC);
}

u16 pci_read16(const struct pci_dev *d, u8 off)
{
    cfg_select(d, off);
    return inw(0xCFC + (off & 2));
}

u8 pci_read8(const struct pci_dev *d, u8 off)
{
    cfg_select(d, off);
    return inb(0xCFC + (off & 3));
}

void pci_write32(const struct pci_dev *d, u8 off, u32 v)
{
    cfg_select(d, off);
    outl(0xCFC, v);
}

void pci_write16(const struct pci_dev *d, u8 off, u16 v)
{
    cfg_select(d, off);
    outw(0xCFC + (off & 2), v);
}

/* Memory BARs of a type-0 header: address and size, decoding off meanwhile. */
static void size_bars(struct pci_dev *d)
{
    u16 cmd = pci_read16(d, 0x04);
    pci_write16(d, 0x04, cmd & ~0x3);
    for (int i = 0; i < 6; i++) {
        u8 off = 0x10 + 4 * i;
        u32 lo = pci_read32(d, off);
        if (lo & 1) {
            d->bar_is_io[i] = 1;
            continue;
        }
        int is64 = ((lo >> 1) & 3) == 2 && i < 5;
        u32 hi = 0, szhi = 0xffffffff;
        pci_write32(d, off, 0xffffffff);
        u32 szlo = pci_read32(d, off);
        pci_write32(d, off, lo);
        if (is64) {
            hi = pci_read32(d, off + 4);
            pci_write32(d, off + 4, 0xffffffff);
            szhi = pci_read32(d, off + 4);
            pci_write32(d, off + 4, hi);
        }
        u64 mask = ((u64)szhi << 32) | (szlo & ~0xfu);
        if ((szlo & ~0xfu) == 0 && (!is64 || szhi == 0))
            mask = 0;
        d->bar[i] = ((u64)hi << 32) | (lo & ~0xfu);
        d->bar_size[i] = mask ? ~mask + 1 : 0;
        d->bar_is_64[i] = (u8)is64;
        if (is64)
            i++;
    }
    pci_write16(d, 0x04, cmd);
}

static int overlaps(u64 a, u64 n, u64 *next_free)
{
    for (int k = 0; k < g_pci_count; k++)
        for (int i = 0; i < 6; i++) {
            u64 b = g_pci[k].bar[i], m = g_pci[k].bar_size[i];
            if (b && m && !g_pci[k].bar_is_io[i] && a < b + m && b < a + n) {
                *next_free = b + m;
                return 1;
            }
        }
    return 0;
}

static void assign_bars(void)
{
    u64 next = arg_u64("pci.window", PCI_WINDOW_START);
    u64 next64 = arg_u64("pci.window64", 0), end64 = next64 + (64ull << 30);
    for (int k = 0; k < g_pci_count; k++) {
        struct pci_dev *d = &g_pci[k];
        for (int i = 0; i < 6; i++) {
            u64 size = d->bar_size[i], a, skip;
            int high = next64 && d->bar_is_64[i];
            u64 *np = high ? &next64 : &next;
            if (d->bar_is_io[i] || !size || d->bar[i])
                continue;
            a = ALIGN_UP(*np, size);
            for (int tries = 0; tries < 64 && overlaps(a, size, &skip); tries++)
                a = ALIGN_UP(skip, size);
            if (a + size > (high ? end64 : PCI_WINDOW_END) || (!high && a + size > 1ull << 32))
                guest_fail("PCI window full assigning %02x:%02x.%u BAR%d (%#llx bytes)", d->bus,
                           d->dev, d->fn, i, size);
            pci_write32(d, 0x10 + 4 * i, (u32)a | (d->bar_is_64[i] ? 0x4 : 0));
            if (d->bar_is_64[i])
                pci_write32(d, 0x14 + 4 * i, (u32)(a >> 32));
            d->bar[i] = a;
            d->bar_assigned_by_guest[i] = 1;
            *np = a + size;
        }
    }
}

int pci_scan(void)
{
    if (g_pci_count >= 0)
        return g_pci_count;
    g_pci_count = 0;
    for (u8 dev = 0; dev < 32; dev++) {
        int multi = 0;
        for (u8 fn = 0; fn < 8; fn++) {
            struct pci_dev t = {.bus = 0, .dev = dev, .fn = fn};
            u32 id = pci_read32(&t, 0x00);
            if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0) {
                if (fn == 0)
                    break;
                continue;
            }
            u8 hdr = pci_read8(&t, 0x0e);
            if (fn == 0)
                multi = hdr & 0x80;
            if (g_pci_count == PCI_MAX_DEVS)
                guest_fail("more than %d PCI functions", PCI_MAX_DEVS);
            struct pci_dev *d = &g_pci[g_pci_count++];
            *d = t;
            d->vendor = id & 0xffff;
            d->device = id >> 16;
            d->class_rev = pci_read32(d, 0x08);
            if ((hdr & 0x7f) == 0)
                size_bars(d);
            if (!multi)
                break;
        }
    }
    assign_bars();
    return g_pci_count;
}

struct pci_dev *pci_find(u16 vendor, u16 device)
{
    pci_scan();
    for (int k = 0; k < g_pci_count; k++)
        if (g_pci[k].vendor == vendor && g_pci[k].device == device)
            return &g_pci[k];
    return NULL;
}

void pci_enable(struct pci_dev *d)
{
    pci_write16(d, 0x04, pci_read16(d, 0x04) | 0x6); /* memory space, bus master */
}

u8 pci_find_cap(const struct pci_dev *d, u8 id, u8 start)
{
    if (!(pci_read16(d, 0x06) & 0x10))
        return 0;
    u8 p = start ? pci_read8(d, start + 1) : pci_read8(d, 0x34);
    for (int n = 0; n < 48 && p >= 0x40; n++) {
        p &= 0xfc;
        u16 w = pci_read16(d, p); /* id, next */
        if ((w & 0xff) == id)
            return p;
        p = w >> 8;
    }
    return 0;
}

volatile u8 *pci_bar_ptr(struct pci_dev *d, int bar, u64 off, u64 len)
{
    if (bar < 0 || bar > 5 || d->bar_is_io[bar] || !d->bar[bar] || off + len < off ||
        off + len > d->bar_size[bar])
        return NULL;
    map_mmio(d->bar[bar] + off, len);
    return (volatile u8 *)(uptr)(d->bar[bar] + off);
}
