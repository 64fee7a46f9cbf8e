/* The examples in sdk-c/examples/, built against libstratus.so and run as
 * a user would against a whole cloud (cloud.h: gateway, image service,
 * billing, and a real stratus-node agent on libvirt's test hypervisor, so
 * that instances become active without KVM):
 *   provision     creates an instance, waits for active, prints the
 *                 console, deletes it;
 *   upload_image  streams a file into a new image (progress on stderr);
 *   invoice       prints this month's draft invoice and its CSV. */
#include "run.h"
#include "st_cloud.h"
#include "st_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cloud C;
static cloud_agent ag;
static char env[512];

static int suite_init(void)
{
    cloud_start(&C, "sdkex");
    const char *extra[] = {"driver = libvirt", "libvirt.uri = test:///default",
                           "capacity.memory_mib = 524288", NULL};
    cloud_agent_start(&C, &ag, "sdkex-node", extra);
    snprintf(env, sizeof env,
             "STRATUS_URL=%s STRATUS_USER=sdkex-member STRATUS_PASSWORD=password-123"
             " STRATUS_TENANT=sdkex",
             C.gw.base);
    return 0;
}

static int suite_clean(void)
{
    cloud_agent_stop(&ag, 15);
    cloud_stop(&C);
    return 0;
}

static void test_provision_prints_console_and_deletes(void)
{
    char *out;
    /* the agent may take a moment to report its first heartbeat */
    int rc = -1;
    for (int tries = 0; tries < 20 && rc != 0; tries++) {
        rc = sdk_run(NULL, &out, "%s '%s' %s %s --no-network", env,
                     st_build_path("sdk-c/sdk_example_provision"), C.flavor, C.image_id);
        if (rc != 0) {
            free(out);
            usleep(500 * 1000);
        }
    }
    ST_ASSERT_INT_EQ_FATAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "created "));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "active on node "));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--- console ---"));
    char id[40] = "";
    const char *p = strstr(out, "created ");
    if (p)
        sscanf(p, "created %36s", id);
    free(out);
    CU_ASSERT_FATAL(strlen(id) == 36);
    /* deleted by the example: the agent finishes it */
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 30000), 0);
}

static void test_upload_image(void)
{
    char file[] = "/tmp/sdk-ex-img-XXXXXX";
    int fd = mkstemp(file);
    static char block[1 << 20];
    memset(block, 0x5a, sizeof block);
    CU_ASSERT(write(fd, block, sizeof block) == (ssize_t)sizeof block);
    close(fd);
    char *out;
    ST_ASSERT_INT_EQ(sdk_run(NULL, &out, "%s '%s' %s example-img raw", env,
                             st_build_path("sdk-c/sdk_example_upload_image"), file),
                     0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, ": active, 1048576 bytes"));
    free(out);
    unlink(file);
}

static void test_invoice(void)
{
    char *tenant = cloud_sql(&C, "SELECT id FROM iaas.tenants WHERE name = 'sdkex'");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tenant);
    ST_ASSERT_INT_EQ(
        gwt_bill_sample(&C.gw, tenant, "33333333-3333-4333-8333-333333333333", 1, 3000000000LL),
        200);
    free(tenant);
    char *out;
    ST_ASSERT_INT_EQ(
        sdk_run(NULL, &out, "%s '%s'", env, st_build_path("sdk-c/sdk_example_invoice")), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, ", period "));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "total"));
    CU_ASSERT_PTR_NOT_NULL(strchr(out, ','));
    free(out);
}

static CU_TestInfo tests[] = {
    {"provision: create, wait, console, delete", test_provision_prints_console_and_deletes},
    {"upload_image streams a file into an image", test_upload_image},
    {"invoice prints this month's draft", test_invoice},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"sdk_examples", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};
int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
