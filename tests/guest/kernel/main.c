/*
 * main.c - from the PVH start info to a scenario.
 *
 * guest_main() checks the hvm_start_info magic, copies the command line and
 * the memory map out of wherever the loader put them (before anything could
 * overwrite them), prints the start line, sets up the CPU and runs the
 * scenario named by `scenario=`. Every path ends in guest_pass() or
 * guest_fail(), so a run prints exactly one RESULT line.
 */
#include "guest.h"
#include "start_info.h"

struct hvm_memmap_entry g_memmap[GUEST_MEMMAP_MAX];
u32 g_memmap_count;
u64 g_rsdp_paddr;
static char g_cmdline[1024];

static const struct {
    const char *name;
    void (*run)(void);
} scenarios[] = {{"pci", scen_pci},         {"cpu", scen_cpu},    {"rng", scen_rng},
                 {"blk", scen_blk},         {"net", scen_net},    {"smp", scen_smp},
                 {"hostile", scen_hostile}, {"dhcp", scen_dhcp},  {"power", scen_power},
                 {"reset", scen_reset},     {"count", scen_count}};

static const char *copy_start_info(u32 pa)
{
    const struct hvm_start_info *si = (const struct hvm_start_info *)(uptr)pa;
    if (si->magic != HVM_START_MAGIC)
        return "bad hvm_start_info magic";
    if (si->cmdline_paddr && si->cmdline_paddr < 0x100000000ull) {
        const char *c = (const char *)(uptr)si->cmdline_paddr;
        size_t n = 0;
        while (c[n] && n < sizeof g_cmdline - 1) {
            g_cmdline[n] = c[n];
            n++;
        }
        g_cmdline[n] = 0;
    }
    g_rsdp_paddr = si->rsdp_paddr;
    if (si->version >= 1 && si->memmap_paddr && si->memmap_paddr < 0x100000000ull) {
        const struct hvm_memmap_entry *m = (const void *)(uptr)si->memmap_paddr;
        for (u32 i = 0; i < si->memmap_entries && i < GUEST_MEMMAP_MAX; i++)
            g_memmap[g_memmap_count++] = m[i];
    }
    return NULL;
}

void guest_main(u32 start_info);
void guest_main(u32 start_info)
{
    serial_init();
    const char *err = copy_start_info(start_info);
    args_parse(g_cmdline);
    const char *name = arg_str("scenario");
    g_scenario = name && *name ? name : "none";
    kprintf("STRATUS-GUEST start scenario=%s\n", g_scenario);
    if (err)
        guest_fail("%s", err);
    cpu_init();
    if (strcmp(g_scenario, "boot") == 0)
        scen_boot(start_info);
    for (unsigned i = 0; i < ARRAY_SIZE(scenarios); i++)
        if (strcmp(g_scenario, scenarios[i].name) == 0)
            scenarios[i].run();
    if (!name)
        guest_fail("no scenario= on the command line");
    guest_fail("unknown scenario");
}
