/*
 * vmm_sandbox - a thread under the vCPU filter can still do what a vCPU
 * does on its first exit that logs: write a timestamped log line (glibc's
 * first time conversion opens /etc/localtime). The filter is loaded in a
 * fresh process (this binary re-executed), where nothing has read the time
 * zone yet; a refused syscall ends it with SIGSYS (exit 1 in sanitizer builds).
 * Also: a vCPU thread sets a tap's offloads (TUNSETOFFLOAD) when the guest's
 * virtio-net driver sets DRIVER_OK or resets the device, so the vCPU filter
 * lets that ioctl through (on a real tap, in a network namespace of its own).
 * Filters prepared ahead (vmm_sandbox_prepare, a migration's target) act as the ones made
 * when installed: the first log line passes, a call outside the list ends the process.
 */
#include <fcntl.h>
#include <jansson.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"
#include "st_test.h"
#include "stratus/log.h"

static const char *self;

/* Runs this binary with `mode`; its exit status, or -1 when a signal ended it. */
static int child(const char *mode)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl(self, self, mode, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -2;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_vcpu_filter_logs(void)
{
    ST_ASSERT_INT_EQ(child("--child-vcpu"), 0);
}

static void test_vcpu_filter_tap_offloads(void)
{
    int rc = child("--child-tun");
    if (rc == 77) {
        st_warn("vmm.test", "no tap here (needs /dev/net/tun and CAP_NET_ADMIN): not checked");
        return;
    }
    ST_ASSERT_INT_EQ(rc, 0);
}

static void test_prepared_filters(void)
{
    ST_ASSERT_INT_EQ(child("--child-prepared-logs"), 0);
    int rc = child("--child-prepared-refused"); /* SIGSYS, or exit 1 in sanitizer builds */
    CU_ASSERT(rc == -1 || rc == 1);
    if (rc != -1 && rc != 1)
        fprintf(stderr, "a call outside the prepared vCPU filter ended with %d\n", rc);
}

/* Prepared filters, the vCPU one installed: it logs, then (refused) calls getppid. */
static int child_prepared(int refused)
{
    json_decref(json_object());
    if (vmm_sandbox_prepare() < 0 || vmm_sandbox_vcpu() < 0)
        return 2;
    st_warn("vmm.test", "a vCPU logs under its prepared filter");
    if (refused)
        syscall(SYS_getppid);
    return 0;
}

/* In a namespace of its own: a tap, the vCPU filter, then the offloads virtio-net sets. */
static int child_tun(void)
{
    if (unshare(CLONE_NEWNET) < 0)
        return 77;
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return 77;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0)
        return 77;
    if (vmm_sandbox_vcpu() < 0)
        return 2;
    if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0 ||
        ioctl(fd, TUNSETOFFLOAD, 0) < 0)
        return 3;
    return 0;
}

static CU_TestInfo tests[] = {
    {"under the vCPU filter, the process's first log line does not kill it", test_vcpu_filter_logs},
    {"under the vCPU filter, a tap's offloads can be set and cleared",
     test_vcpu_filter_tap_offloads},
    {"prepared filters: the first log line passes, a call outside the list is refused",
     test_prepared_filters},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"sandbox", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    self = argv[0];
    if (argc == 2 && !strcmp(argv[1], "--child-vcpu")) {
        json_decref(json_object()); /* as the VMM's config parse does: jansson seeds its hash */
        if (vmm_sandbox_vcpu() < 0)
            return 2;
        st_warn("vmm.test", "a vCPU logs under its filter");
        _exit(0); /* not exit(): LeakSanitizer's exit-time scan is not in any filter */
    }
    if (argc == 2 && !strcmp(argv[1], "--child-tun"))
        _exit(child_tun());
    if (argc == 2 && !strncmp(argv[1], "--child-prepared-", 17))
        _exit(child_prepared(!strcmp(argv[1], "--child-prepared-refused")));
    return st_test_main(argc, argv, suites);
}
