/*
 * e2e_install: what `cmake --install` puts on a host is a cloud an operator
 * can start. The build tree under test is installed into a staging root
 * (DESTDIR), and the real tools judge it: systemd-analyze verify checks
 * every unit against that root (its ExecStart binaries included, and any
 * warning counts as a failure), systemd-sysusers makes the `stratus` user
 * there, and each installed binary checks its own installed example with
 * --check-config. The paths are the ones the build was configured with
 * (cmake/StratusInstall.cmake passes them in).
 */
#include "st_proc.h"
#include "st_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char stage[64];
static const char *svcs[] = {"gateway", "images", "billing", "node"};
enum { NSVC = sizeof svcs / sizeof svcs[0] };

/* stage + an absolute install path */
static const char *in_stage(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s%s/%s", stage, dir, name);
    return buf;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int setup(void)
{
    if (st_sh("command -v systemd-analyze >/dev/null && command -v systemd-sysusers >/dev/null") !=
        0)
        st_skip("needs systemd-analyze and systemd-sysusers (Debian's systemd package)");
    snprintf(stage, sizeof stage, "/tmp/stratus-install-XXXXXX");
    if (!mkdtemp(stage))
        return 1;
    if (st_sh("DESTDIR=%s cmake --install '%s' >%s.log 2>&1", stage, getenv("STRATUS_BUILD_DIR"),
              stage) != 0) {
        st_sh("cat %s.log >&2", stage);
        return 1;
    }
    /* what the host gives the units: systemd's own (sysinit.target, ...)
     * and the kill(1) ExecReload runs */
    return st_sh("mkdir -p %s/usr/lib/systemd %s/usr/bin && cp -r /usr/lib/systemd/system "
                 "%s/usr/lib/systemd/ && cp /bin/kill %s/usr/bin/ && ln -sfn usr/bin %s/bin",
                 stage, stage, stage, stage, stage) != 0;
}

static int teardown(void)
{
    st_sh("rm -rf %s %s.log", stage, stage);
    return 0;
}

static void test_every_service_is_staged(void)
{
    char p[512], name[64];
    struct stat st;
    for (int i = 0; i < NSVC; i++) {
        snprintf(name, sizeof name, "stratus-%s", svcs[i]);
        in_stage(p, sizeof p, STRATUS_INSTALL_BINDIR, name);
        st_assert_fmt(stat(p, &st) == 0 && (st.st_mode & S_IXUSR), 0, __FILE__, __LINE__,
                      "%s is installed and executable", p);
        snprintf(name, sizeof name, "stratus-%s.service", svcs[i]);
        in_stage(p, sizeof p, STRATUS_UNITDIR, name);
        st_assert_fmt(stat(p, &st) == 0, 0, __FILE__, __LINE__, "%s is installed", p);
        snprintf(name, sizeof name, "examples/%s.conf.example", svcs[i]);
        in_stage(p, sizeof p, STRATUS_INSTALL_DOCDIR, name);
        st_assert_fmt(stat(p, &st) == 0, 0, __FILE__, __LINE__, "%s is installed", p);
    }
    in_stage(p, sizeof p, STRATUS_INSTALL_BINDIR, "stratus-vmm");
    st_assert_fmt(stat(p, &st) == 0, 0, __FILE__, __LINE__, "%s is installed", p);
    in_stage(p, sizeof p, STRATUS_SYSUSERSDIR, "stratus.conf");
    st_assert_fmt(stat(p, &st) == 0, 0, __FILE__, __LINE__, "%s is installed", p);
}

/* systemd-analyze verify of every unit: exit 0 and not one line printed. */
static int verify_units(void)
{
    char units[512];
    in_stage(units, sizeof units, STRATUS_UNITDIR, "stratus-*.service");
    int rc = st_sh("systemd-analyze verify --root=%s %s >%s.verify 2>&1", stage, units, stage);
    char path[128];
    snprintf(path, sizeof path, "%s.verify", stage);
    char *out = slurp(path);
    int quiet = out && !*out;
    if (!quiet)
        fprintf(stderr, "systemd-analyze verify said:\n%s", out ? out : "(nothing readable)\n");
    free(out);
    unlink(path);
    return rc == 0 && quiet ? 0 : -1;
}

static void test_units_verify_silently(void)
{
    ST_ASSERT_INT_EQ(verify_units(), 0);
    /* ... and verify is a judge: a unit whose binary is gone fails */
    char bin[512], moved[600];
    in_stage(bin, sizeof bin, STRATUS_INSTALL_BINDIR, "stratus-billing");
    snprintf(moved, sizeof moved, "%s.away", bin);
    ST_ASSERT_INT_EQ_FATAL(rename(bin, moved), 0);
    CU_ASSERT_NOT_EQUAL(verify_units(), 0);
    ST_ASSERT_INT_EQ(rename(moved, bin), 0);
}

static void test_examples_pass_their_check(void)
{
    char bin[512], name[64], ex[512];
    for (int i = 0; i < NSVC; i++) {
        snprintf(name, sizeof name, "stratus-%s", svcs[i]);
        in_stage(bin, sizeof bin, STRATUS_INSTALL_BINDIR, name);
        snprintf(name, sizeof name, "examples/%s.conf.example", svcs[i]);
        in_stage(ex, sizeof ex, STRATUS_INSTALL_DOCDIR, name);
        st_assert_fmt(st_sh("%s --config %s --check-config >/dev/null", bin, ex) == 0, 0, __FILE__,
                      __LINE__, "%s --check-config accepts %s", bin, ex);
        /* a misspelt key is refused, with exit 2 */
        st_assert_fmt(
            st_sh("(cat %s; echo 'db.ulr = x') >%s.bad && %s --config %s.bad --check-config "
                  "2>/dev/null",
                  ex, stage, bin, stage) == 2,
            0, __FILE__, __LINE__, "%s --check-config refuses a misspelt key", bin);
    }
    st_sh("rm -f %s.bad", stage);
}

static void test_units_confine_the_services(void)
{
    char p[512], name[64];
    for (int i = 0; i < NSVC; i++) {
        snprintf(name, sizeof name, "stratus-%s.service", svcs[i]);
        char *u = slurp(in_stage(p, sizeof p, STRATUS_UNITDIR, name));
        CU_ASSERT_PTR_NOT_NULL_FATAL(u);
        char exec[512];
        snprintf(exec, sizeof exec, "\nExecStart=%s/stratus-%s --config %s/stratus/%s.conf\n",
                 STRATUS_INSTALL_BINDIR, svcs[i], STRATUS_INSTALL_SYSCONFDIR, svcs[i]);
        st_assert_fmt(strstr(u, exec) != NULL, 0, __FILE__, __LINE__, "%s has %s", name, exec + 1);
        CU_ASSERT_PTR_NOT_NULL(strstr(u, "\nNoNewPrivileges=yes\n"));
        if (strcmp(svcs[i], "node") == 0) {
            /* the VMMs and dnsmasq outlive an agent restart; it adopts them */
            CU_ASSERT_PTR_NOT_NULL(strstr(u, "\nKillMode=process\n"));
        } else {
            CU_ASSERT_PTR_NOT_NULL(strstr(u, "\nUser=stratus\n"));
            CU_ASSERT_PTR_NOT_NULL(strstr(u, "\nCapabilityBoundingSet=\n"));
            CU_ASSERT_PTR_NOT_NULL(strstr(u, "\nProtectSystem=strict\n"));
        }
        free(u);
    }
    /* the user they run as is made by systemd-sysusers from the installed file */
    ST_ASSERT_INT_EQ(
        st_sh("mkdir -p %s/etc && systemd-sysusers --root=%s >/dev/null 2>&1", stage, stage), 0);
    ST_ASSERT_INT_EQ(st_sh("grep -q '^stratus:' %s/etc/passwd", stage), 0);
}

static CU_TestInfo tests[] = {
    {"cmake --install stages every service, its unit, its example and the stratus user",
     test_every_service_is_staged},
    {"every unit passes systemd-analyze verify without a warning; a missing binary fails it",
     test_units_verify_silently},
    {"each installed example passes its service's --check-config; a misspelt key does not",
     test_examples_pass_their_check},
    {"control-plane units run as stratus with no capabilities; the node's keeps its VMMs",
     test_units_confine_the_services},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"install", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
