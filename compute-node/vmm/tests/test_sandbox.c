/*
 * vmm_sandbox - a thread under the vCPU filter can still do what a vCPU
 * does on its first exit that logs: write a timestamped log line (glibc's
 * first time conversion opens /etc/localtime). The filter is loaded in a
 * fresh process (this binary re-executed), where nothing has read the time
 * zone yet; a refused syscall ends it with SIGSYS (exit 1 in sanitizer builds).
 */
#include <jansson.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"
#include "st_test.h"
#include "stratus/log.h"

static const char *self;

static void test_vcpu_filter_logs(void)
{
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        execl(self, self, "--child-vcpu", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
    CU_ASSERT_FALSE(WIFSIGNALED(st));
    CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static CU_TestInfo tests[] = {
    {"under the vCPU filter, the process's first log line does not kill it", test_vcpu_filter_logs},
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
    return st_test_main(argc, argv, suites);
}
