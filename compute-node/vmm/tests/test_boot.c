/*
 * vmm_boot - stratus-vmm boots PVH guests and ends the way the guest asks:
 * tiny guests assembled here print on COM1 and write to the debug-exit
 * port, pulse the i8042 reset line, power off or reset through the ACPI
 * registers the FADT names, or run on two vCPUs.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "st_test.h"

static char *dir;

static int setup(void)
{
    dir = st_tmpdir("vmm-boot");
    return dir ? 0 : -1;
}

static int teardown(void)
{
    st_rmtree(dir);
    free(dir);
    return 0;
}

static int boot(const vt_code *c, const char *extra)
{
    char kernel[512];
    snprintf(kernel, sizeof kernel, "%s/guest.elf", dir);
    unlink(vt_path(dir, "serial.log"));
    unlink(vt_path(dir, "vmm.log")); /* appended to: each test reads its own run's */
    if (vt_write_elf(kernel, c))
        return -2;
    char *cfg = vt_config(dir, kernel, extra);
    int rc = vt_run(dir, cfg, 20000);
    free(cfg);
    return rc;
}

static void test_pass_status(void)
{
    vt_code c = {0};
    vt_check_start_info(&c);
    vt_print(&c, "hello from a PVH guest\n");
    vt_exit(&c, 0x10);
    ST_ASSERT_INT_EQ(boot(&c, "\"cmdline\": \"scenario=boot\""), 16);
    char *serial = vt_slurp(vt_path(dir, "serial.log"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(serial);
    CU_ASSERT_PTR_NOT_NULL(strstr(serial, "hello from a PVH guest\n"));
    free(serial);
}

static void test_fail_status(void)
{
    vt_code c = {0};
    vt_print(&c, "failing\n");
    vt_exit(&c, 0x11);
    ST_ASSERT_INT_EQ(boot(&c, NULL), 17);
}

static void test_i8042_reset_shuts_down(void)
{
    vt_code c = {0};
    static const uint8_t reset[] = {0xb0, 0xfe, 0xe6, 0x64}; /* mov al, 0xfe; out 0x64, al */
    vt_print(&c, "resetting\n");
    vt_emit(&c, reset, sizeof reset);
    vt_exit(&c, 0x11); /* reached only if the reset did nothing */
    ST_ASSERT_INT_EQ(boot(&c, "\"on_reset\": \"shutdown\""), 0);
}

/* The ACPI registers the FADT names (vmm_loader checks the FADT says these). */
#define SLEEP_CTL_PORT 0x600
#define RESET_PORT 0x602

/* mov al, v; mov dx, port; out dx, al */
static void out8(vt_code *c, uint16_t port, uint8_t v)
{
    uint8_t b[] = {0xb0, v, 0x66, 0xba, (uint8_t)port, (uint8_t)(port >> 8), 0xee};
    vt_emit(c, b, sizeof b);
}

static void test_acpi_poweroff(void)
{
    vt_code c = {0};
    vt_print(&c, "powering off\n");
    out8(&c, SLEEP_CTL_PORT, 4 << 2 | 0x20); /* S4: not offered, ignored */
    out8(&c, SLEEP_CTL_PORT, 5 << 2);        /* S5 without SLP_EN: nothing yet */
    vt_print(&c, "still here\n");
    out8(&c, SLEEP_CTL_PORT, 5 << 2 | 0x20); /* SLP_TYP = \_S5's 5, SLP_EN */
    vt_exit(&c, 0x11);                       /* reached only if the power-off did nothing */
    ST_ASSERT_INT_EQ(boot(&c, "\"on_reset\": \"restart\""), 0);
    char *serial = vt_slurp(vt_path(dir, "serial.log"));
    CU_ASSERT(serial && strstr(serial, "still here\n"));
    free(serial);
    char *log = vt_slurp(vt_path(dir, "vmm.log"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "guest powered off (ACPI S5)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "VM stopped (guest power-off), exit status 0"));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "sleep type 4"));
    free(log);
}

static void test_acpi_reset_shuts_down(void)
{
    vt_code c = {0};
    out8(&c, RESET_PORT, 0x02); /* not the FADT's RESET_VALUE: ignored */
    vt_print(&c, "resetting\n");
    out8(&c, RESET_PORT, 0x01);
    vt_exit(&c, 0x11);
    ST_ASSERT_INT_EQ(boot(&c, "\"on_reset\": \"shutdown\""), 0);
    char *log = vt_slurp(vt_path(dir, "vmm.log"));
    CU_ASSERT(log && strstr(log, "ACPI reset register") && !strstr(log, "power-off"));
    free(log);
}

/* What Linux's "BIOS" reboot does on a platform without firmware: jump to the reset
 * vector (here from protected mode: the bytes there run the same way). */
static void test_reset_vector_resets(void)
{
    vt_code c = {0};
    static const uint8_t jump[] = {0xb8, 0xf0, 0xff, 0x0f, 0x00, 0xff, 0xe0}; /* jmp 0xffff0 */
    vt_print(&c, "to the reset vector\n");
    vt_emit(&c, jump, sizeof jump);
    ST_ASSERT_INT_EQ(boot(&c, "\"on_reset\": \"shutdown\""), 0);
    char *log = vt_slurp(vt_path(dir, "vmm.log"));
    CU_ASSERT(log && strstr(log, "guest asked for a reset"));
    free(log);
}

static int count_lines(const char *path, const char *line)
{
    char *s = vt_slurp(path);
    int n = 0;
    for (char *p = s; p && (p = strstr(p, line)); p += strlen(line))
        n++;
    free(s);
    return n;
}

/* Every reset reboots the guest from its entry: "booted" again and again. */
static void reset_restarts(const vt_code *c);

static void test_i8042_reset_restarts(void)
{
    vt_code c = {0};
    static const uint8_t reset[] = {0xb0, 0xfe, 0xe6, 0x64};
    vt_print(&c, "booted\n");
    vt_emit(&c, reset, sizeof reset);
    vt_exit(&c, 0x11);
    reset_restarts(&c);
}

static void test_acpi_reset_restarts(void)
{
    vt_code c = {0};
    vt_print(&c, "booted\n");
    out8(&c, RESET_PORT, 0x01);
    vt_exit(&c, 0x11);
    reset_restarts(&c);
}

static void reset_restarts(const vt_code *c)
{
    char kernel[512], extra[600], sock[512];
    snprintf(kernel, sizeof kernel, "%s/guest.elf", dir);
    snprintf(sock, sizeof sock, "%s/api.sock", dir);
    unlink(vt_path(dir, "serial.log"));
    CU_ASSERT_FATAL(vt_write_elf(kernel, c) == 0);
    snprintf(extra, sizeof extra, "\"on_reset\": \"restart\", \"control_socket\": \"%s\"", sock);
    char *cfg = vt_config(dir, kernel, extra);
    st_proc p;
    CU_ASSERT_FATAL(vt_start(&p, dir, cfg) == 0);
    free(cfg);
    long long end = st_now_ms() + 15000;
    while (count_lines(vt_path(dir, "serial.log"), "booted\n") < 3 && st_now_ms() < end)
        usleep(10000);
    CU_ASSERT(count_lines(vt_path(dir, "serial.log"), "booted\n") >= 3);
    ST_ASSERT_INT_EQ(vt_http(sock, "PUT", "/vm/actions", "{\"action\": \"shutdown\"}", NULL), 204);
    ST_ASSERT_INT_EQ(vt_wait(&p, 10000), 0);
}

/* A guest that moves 00:01.0's BAR0 and resets: after the reboot it must find the
 * BAR where the VMM first put it (0xc0000000), as firmware would leave it. */
static void test_reboot_restores_bars(void)
{
    char kernel[512], extra[600], sock[512];
    vt_code c = {0}, fresh = {0}, moved = {0};
    static const uint8_t read_bar[] = {
        0xb8, 0x10, 0x08, 0x00, 0x80, /* mov eax, 0x80000810 (00:01.0, BAR0) */
        0x66, 0xba, 0xf8, 0x0c, 0xef, /* mov dx, 0xcf8; out dx, eax */
        0x66, 0xba, 0xfc, 0x0c, 0xed, /* mov dx, 0xcfc; in eax, dx */
        0x3d, 0x00, 0x00, 0x00, 0xc0, /* cmp eax, 0xc0000000 */
    };
    static const uint8_t move_bar_and_reset[] = {
        0xb8, 0x10, 0x08, 0x00, 0x80, 0x66, 0xba, 0xf8, 0x0c, 0xef, /* select BAR0 */
        0xb8, 0x00, 0x00, 0x00, 0xd0, 0x66, 0xba, 0xfc, 0x0c, 0xef, /* write 0xd0000000 */
        0xb0, 0xfe, 0xe6, 0x64,                                     /* i8042 reset */
        0xeb, 0xfe,
    };
    vt_print(&fresh, "fresh\n");
    vt_emit(&fresh, move_bar_and_reset, sizeof move_bar_and_reset);
    vt_print(&moved, "moved\n");
    vt_exit(&moved, 0x11);
    vt_emit(&c, read_bar, sizeof read_bar);
    uint8_t jne[] = {0x75, (uint8_t)fresh.n}; /* jne moved */
    vt_emit(&c, jne, sizeof jne);
    vt_emit(&c, fresh.b, fresh.n);
    vt_emit(&c, moved.b, moved.n);

    snprintf(kernel, sizeof kernel, "%s/guest.elf", dir);
    snprintf(sock, sizeof sock, "%s/api.sock", dir);
    unlink(vt_path(dir, "serial.log"));
    CU_ASSERT_FATAL(vt_write_elf(kernel, &c) == 0);
    snprintf(extra, sizeof extra,
             "\"rng\": true, \"on_reset\": \"restart\", \"control_socket\": \"%s\"", sock);
    char *cfg = vt_config(dir, kernel, extra);
    st_proc p;
    CU_ASSERT_FATAL(vt_start(&p, dir, cfg) == 0);
    free(cfg);
    long long end = st_now_ms() + 15000;
    while (count_lines(vt_path(dir, "serial.log"), "fresh\n") < 3 &&
           !count_lines(vt_path(dir, "serial.log"), "moved\n") && st_now_ms() < end)
        usleep(10000);
    CU_ASSERT(count_lines(vt_path(dir, "serial.log"), "fresh\n") >= 3);
    ST_ASSERT_INT_EQ(count_lines(vt_path(dir, "serial.log"), "moved\n"), 0);
    vt_http(sock, "PUT", "/vm/actions", "{\"action\": \"shutdown\"}", NULL);
    ST_ASSERT_INT_EQ(vt_wait(&p, 10000), 0);
}

static void test_two_vcpus(void)
{
    vt_code c = {0};
    vt_print(&c, "bsp\n");
    vt_exit(&c, 0x10);
    ST_ASSERT_INT_EQ(boot(&c, "\"vcpus\": 2, \"memory_mib\": 32"), 16);
}

static void test_seccomp_on(void)
{
    vt_code c = {0};
    vt_print(&c, "sandboxed\n");
    vt_exit(&c, 0x10);
    /* LeakSanitizer's exit-time scan needs ptrace, which no filter should allow. */
    const char *old = getenv("ASAN_OPTIONS");
    char *saved = old ? strdup(old) : NULL;
    char opts[512];
    snprintf(opts, sizeof opts, "%s%sdetect_leaks=0", old ? old : "", old ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    ST_ASSERT_INT_EQ(boot(&c, "\"seccomp\": true, \"rng\": true"), 16);
    if (saved)
        setenv("ASAN_OPTIONS", saved, 1);
    else
        unsetenv("ASAN_OPTIONS");
    free(saved);
}

static void test_bad_config_exit_2(void)
{
    vt_code c = {0};
    vt_exit(&c, 0x10);
    ST_ASSERT_INT_EQ(boot(&c, "\"vcpu\": 2"), 2);
    ST_ASSERT_INT_EQ(boot(&c, "\"memory_mib\": 1"), 2);
    ST_ASSERT_INT_EQ(boot(&c, "\"nics\": [{\"tap\": \"t0\", \"mac\": \"01:00:00:00:00:01\"}]"), 2);
}

static void test_not_a_kernel_exit_1(void)
{
    char kernel[512];
    snprintf(kernel, sizeof kernel, "%s/garbage.bin", dir);
    FILE *f = fopen(kernel, "w");
    fputs("this is not a kernel, just text long enough to look at its header ...........", f);
    fclose(f);
    char *cfg = vt_config(dir, kernel, NULL);
    ST_ASSERT_INT_EQ(vt_run(dir, cfg, 20000), 1);
    free(cfg);
}

static CU_TestInfo tests[] = {
    {"guest output reaches the serial log and 0x10 on port 0xf4 exits 16", test_pass_status},
    {"0x11 on port 0xf4 exits 17", test_fail_status},
    {"i8042 reset with on_reset=shutdown exits 0", test_i8042_reset_shuts_down},
    {"i8042 reset with on_reset=restart reboots the guest", test_i8042_reset_restarts},
    {"ACPI S5 on the FADT's sleep control register exits 0 as a guest power-off",
     test_acpi_poweroff},
    {"the FADT's reset register with on_reset=shutdown exits 0", test_acpi_reset_shuts_down},
    {"a jump to the reset vector resets (Linux's BIOS reboot without firmware)",
     test_reset_vector_resets},
    {"the FADT's reset register with on_reset=restart reboots the guest", test_acpi_reset_restarts},
    {"a reboot puts moved PCI BARs back where the VMM assigned them", test_reboot_restores_bars},
    {"two vCPUs: the AP waits for SIPI, the BSP's exit ends the VM", test_two_vcpus},
    {"with seccomp filters installed the guest still runs to its exit", test_seccomp_on},
    {"a malformed config exits 2", test_bad_config_exit_2},
    {"a file that is no kernel exits 1", test_not_a_kernel_exit_1},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"boot", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    vt_need_kvm();
    return st_test_main(argc, argv, suites);
}
