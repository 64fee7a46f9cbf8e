/*
 * cputable.c - which CPUs the platform says exist: the ACPI MADT (RSDP from
 * hvm_start_info or a scan of 0xE0000-0xFFFFF, then RSDT or XSDT), else the
 * MP table (the "_MP_" floating pointer in the EBDA, 0x9FC00-0x9FFFF or
 * 0xF0000-0xFFFFF); and any ACPI table by signature (acpi_table).
 *
 * All of it runs in ring 3 through ring3_call(): scanning 128 KiB for a
 * signature is tens of thousands of instructions, seconds of emulated ring 0
 * here. Only addresses below 4 GiB (identity mapped) are followed, table
 * lengths are bounded, and checksums must hold, so a bogus table yields "no
 * table", never a fault.
 */
#include "guest.h"
#include "cputable.h"
#include "start_info.h"

static u8 sum8(const u8 *p, u32 n)
{
    u8 s = 0;
    for (u32 i = 0; i < n; i++)
        s = (u8)(s + p[i]);
    return s;
}

static const u8 *scan(u64 start, u64 end, const char *sig, u32 siglen, u32 cklen)
{
    for (u64 a = start; a + cklen <= end; a += 16) {
        const u8 *p = (const u8 *)(uptr)a;
        if (memcmp(p, sig, siglen) == 0 && sum8(p, cklen) == 0)
            return p;
    }
    return NULL;
}

static const u8 *sdt(u64 addr, const char *sig)
{
    if (!addr || addr >= 0xFFFF0000ull)
        return NULL;
    const u8 *h = (const u8 *)(uptr)addr;
    u32 len = rd32(h + 4);
    if (len < 36 || len > 65536 || addr + len > 0x100000000ull || memcmp(h, sig, 4) != 0 ||
        sum8(h, len) != 0)
        return NULL;
    return h;
}

static void add(struct cpu_table *t, u32 id)
{
    for (int i = 0; i < t->n; i++)
        if (t->ids[i] == id)
            return;
    if (t->n < CPU_TABLE_MAX)
        t->ids[t->n++] = id;
}

/* Ring 3. The ACPI table with this signature, through the RSDP (from
 * hvm_start_info, else the BIOS area) and the XSDT or RSDT; the DSDT is
 * found through the FADT. NULL when there is none or it is malformed. */
const u8 *acpi_table(const char *sig)
{
    const u8 *rsdp = NULL;
    if (g_rsdp_paddr && g_rsdp_paddr < 0xFFFF0000ull &&
        memcmp((const u8 *)(uptr)g_rsdp_paddr, "RSD PTR ", 8) == 0)
        rsdp = (const u8 *)(uptr)g_rsdp_paddr;
    if (!rsdp)
        rsdp = scan(0xE0000, 0x100000, "RSD PTR ", 8, 20);
    if (!rsdp || sum8(rsdp, 20) != 0)
        return NULL;
    if (memcmp(sig, "DSDT", 4) == 0) {
        const u8 *fadt = acpi_table("FACP");
        if (!fadt)
            return NULL;
        u32 flen = rd32(fadt + 4);
        u64 x = flen >= 148 ? rd64(fadt + 140) : 0; /* X_DSDT wins when set */
        return sdt(x ? x : rd32(fadt + 40), "DSDT");
    }
    const u8 *root = NULL, *t = NULL;
    int wide = 0;
    if (rsdp[15] >= 2 && rd64(rsdp + 24) && (root = sdt(rd64(rsdp + 24), "XSDT")))
        wide = 1;
    else
        root = sdt(rd32(rsdp + 16), "RSDT");
    if (!root)
        return NULL;
    u32 len = rd32(root + 4);
    for (u32 off = 36; off + (wide ? 8u : 4u) <= len && !t; off += wide ? 8 : 4)
        t = sdt(wide ? rd64(root + off) : rd32(root + off), sig);
    return t;
}

static int from_madt(struct cpu_table *t)
{
    const u8 *madt = acpi_table("APIC");
    if (!madt)
        return 0;
    u32 len = rd32(madt + 4);
    for (u32 off = 44; off + 2 <= len;) {
        u8 type = madt[off], elen = madt[off + 1];
        if (elen < 2 || off + elen > len)
            break;
        if (type == 0 && elen >= 8 && (rd32(madt + off + 4) & 3))
            add(t, madt[off + 3]);
        if (type == 9 && elen >= 16 && (rd32(madt + off + 8) & 3))
            add(t, rd32(madt + off + 4));
        off += elen;
    }
    t->source = "madt";
    return t->n > 0;
}

static int from_mptable(struct cpu_table *t)
{
    const u8 *bda = (const u8 *)(uptr)0x400;
    __asm__("" : "+r"(bda)); /* low addresses are real memory here */
    u16 seg;
    memcpy(&seg, bda + 0x0E, 2);
    u64 ebda = (u64)seg << 4;
    const u8 *fp = NULL;
    if (ebda >= 0x80000 && ebda < 0xA0000)
        fp = scan(ebda, ebda + 1024, "_MP_", 4, 16);
    if (!fp)
        fp = scan(0x9FC00, 0xA0000, "_MP_", 4, 16);
    if (!fp)
        fp = scan(0xF0000, 0x100000, "_MP_", 4, 16);
    if (!fp || !rd32(fp + 4) || rd32(fp + 4) >= 0xFFFF0000u)
        return 0;
    const u8 *ct = (const u8 *)(uptr)rd32(fp + 4);
    u16 len;
    memcpy(&len, ct + 4, 2);
    if (memcmp(ct, "PCMP", 4) != 0 || len < 44 || sum8(ct, len) != 0)
        return 0;
    for (u32 off = 44; off < len;) {
        u8 type = ct[off];
        if (type == 0) {
            if (off + 20 > len)
                break;
            if (ct[off + 3] & 1)
                add(t, ct[off + 1]);
            off += 20;
        } else if (type <= 4) {
            off += 8;
        } else {
            break;
        }
    }
    t->source = "mp";
    return t->n > 0;
}

/* Ring 3. */
u64 cpu_table_find(u64 arg)
{
    struct cpu_table *t = (void *)(uptr)arg;
    int want = t->want;
    t->n = 0;
    t->source = "none";
    if ((want == CPU_TABLE_ANY || want == CPU_TABLE_MADT) && from_madt(t))
        return (u64)t->n;
    t->n = 0;
    if ((want == CPU_TABLE_ANY || want == CPU_TABLE_MP) && from_mptable(t))
        return (u64)t->n;
    t->n = 0;
    t->source = "none";
    return 0;
}
