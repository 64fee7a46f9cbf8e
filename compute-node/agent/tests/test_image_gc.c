/*
 * node_image_gc: the image collector in a real agent, with a keep time of
 * zero and a pass every 200 ms: a stopped instance keeps its image (and
 * starts again from it); once the instance is deleted the cached image and
 * its record go; a new instance of the image fetches it again and boots.
 */
#include "st_cloud.h"
#include "st_test.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cloud C;
static cloud_agent A;

static int setup(void)
{
    if (access("/dev/kvm", R_OK | W_OK) != 0)
        st_skip("no /dev/kvm");
    cloud_start(&C, "node_image_gc");
    const char *extra[] = {"interval.image_gc_ms = 200", "images.cache_keep_s = 0", NULL};
    cloud_agent_start(&C, &A, "node-gc", extra);
    return 0;
}

static int teardown(void)
{
    cloud_agent_stop(&A, SIGTERM);
    cloud_stop(&C);
    return 0;
}

/* Files in the image cache: those of cached images (<sha>.*), and records. */
static void cache_files(int *images, int *records)
{
    char dir[700];
    snprintf(dir, sizeof dir, "%s/images", A.state_dir);
    *images = *records = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 65 && e->d_name[64] == '.')
            (*images)++;
        else if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0)
            (*records)++;
    }
    if (d)
        closedir(d);
}

static double metric(const char *series)
{
    st_resp r;
    double v = -1;
    if (cloud_agent_get(&A, "/metrics", &r) == 200) {
        const char *p = r.body ? strstr(r.body, series) : NULL;
        v = p ? atof(p + strlen(series)) : 0;
    }
    st_resp_free(&r);
    return v;
}

#define PASSES "stratus_node_image_gc_total{result=\"ran\"} "

/* Waits until the collector has made n more passes; 0 or -1. */
static int wait_passes(int n)
{
    double want = metric(PASSES) + n;
    for (long long end = st_now_ms() + 15000; st_now_ms() < end; usleep(100000))
        if (metric(PASSES) >= want)
            return 0;
    return -1;
}

static void test_images_are_kept_while_used_then_removed(void)
{
    char id[40];
    int imgs, recs;
    ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, "keeper", "scenario=cpu cpu.ms=600000", id), 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    cache_files(&imgs, &recs);
    CU_ASSERT_TRUE(imgs >= 1);
    ST_ASSERT_INT_EQ(recs, 1);
    /* stopped: its overlay still names the base, so it stays */
    ST_ASSERT_INT_EQ(cloud_action(&C, id, "stop"), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "stopped", 30000), 0);
    ST_ASSERT_INT_EQ(wait_passes(3), 0);
    int imgs2, recs2;
    cache_files(&imgs2, &recs2);
    ST_ASSERT_INT_EQ(imgs2, imgs);
    ST_ASSERT_INT_EQ(recs2, 1);
    ST_ASSERT_INT_EQ(cloud_action(&C, id, "start"), 202);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    /* deleted: nothing here uses the image any more */
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 30000), 0);
    for (long long end = st_now_ms() + 15000; st_now_ms() < end; usleep(100000)) {
        cache_files(&imgs, &recs);
        if (imgs == 0 && recs == 0)
            break;
    }
    ST_ASSERT_INT_EQ(imgs, 0);
    ST_ASSERT_INT_EQ(recs, 0);
    CU_ASSERT_TRUE(metric("stratus_node_images_removed_total{result=\"ok\"} ") >= 1);
}

static void test_a_removed_image_is_fetched_again(void)
{
    char id[40];
    ST_ASSERT_INT_EQ_FATAL(cloud_create(&C, "again", "scenario=cpu cpu.ms=600000", id), 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_console(&C, id, "STRATUS-GUEST start scenario=cpu", 15000), 0);
    int imgs, recs;
    cache_files(&imgs, &recs);
    CU_ASSERT_TRUE(imgs >= 1);
    ST_ASSERT_INT_EQ(recs, 1);
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 30000), 0);
}

static CU_TestInfo tests[] = {
    {"a used image is kept; once unused it is removed",
     test_images_are_kept_while_used_then_removed},
    {"a removed image is fetched again for a new instance", test_a_removed_image_is_fetched_again},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"image_gc", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
