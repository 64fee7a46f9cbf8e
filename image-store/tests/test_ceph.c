/*
 * The image store on a real, throwaway single-node Ceph (ceph-cluster.sh:
 * memstore, 127.0.0.1, about 2 s): blobs as RBD images with a protected
 * snapshot, uploads and downloads through the service, dedup, instance
 * disks as copy-on-write clones read and written through stratus_disk
 * ("rbd:" paths), and a base image that stays while clones of it exist.
 */
#include "disk_util.h"
#include "st_test.h"
#include "stratus/crypto.h"
#include "stratus/disk.h"
#include "svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TA "11111111-1111-4111-8111-111111111111"

static svc S;
static char *cdir, conf[512], out[65536];
static const who A = {TA, "member", 0};

static int suite_init(void)
{
    if (!st_disk_rbd_available())
        st_skip("stratus_disk was built without librbd");
    cdir = st_tmpdir("images-ceph");
    if (st_ceph_start(cdir, conf, sizeof conf) < 0)
        return -1;
    char c1[600];
    snprintf(c1, sizeof c1, "store.rbd_conf=%s", conf);
    const char *extra[] = {"store.backend=rbd", c1, "store.rbd_pool=images",
                           "images.reap_interval=1", NULL};
    return svc_start(&S, "images-ceph-svc", extra);
}

static int suite_clean(void)
{
    svc_free(&S);
    if (cdir) {
        st_ceph_stop(cdir);
        st_rmtree(cdir);
        free(cdir);
    }
    return 0;
}

static int rbd_count(const char *prefix)
{
    st_run(out, sizeof out, "rbd -c '%s' ls images", conf);
    int n = 0;
    for (char *p = out; (p = strstr(p, prefix)); p++)
        n++;
    return n;
}

static long upload(const char *id, const void *buf, size_t len, char sha[65])
{
    char p[128];
    snprintf(p, sizeof p, "/v1/images/%s/file", id);
    st_resp r;
    svc_data(&S, &r, "PUT", p, &A, buf, len, NULL);
    long st = r.status;
    const char *c = r.json ? json_string_value(json_object_get(r.json, "checksum")) : NULL;
    snprintf(sha, 65, "%s", c ? c : "");
    if (st != 200)
        fprintf(stderr, "upload: %ld %s\n", st, r.body ? r.body : "");
    st_resp_free(&r);
    return st;
}

static void test_blobs_on_rbd(void)
{
    size_t n = 12 << 20;
    uint8_t *buf = calloc(1, n);
    uint64_t seed = 3;
    tu_fill(&seed, buf, 4 << 20); /* data, then 4 MiB of zeros, then data */
    tu_fill(&seed, buf + (8 << 20), 4 << 20);
    char a[40], b[40], sha[65], sha2[65], want[65];
    st_sha256_hex(buf, n, want);
    snprintf(a, sizeof a, "%s", svc_create(&S, &A, "ceph-a", "raw"));
    snprintf(b, sizeof b, "%s", svc_create(&S, &A, "ceph-b", "raw"));
    ST_ASSERT_INT_EQ_FATAL(upload(a, buf, n, sha), 200);
    CU_ASSERT_STRING_EQUAL(sha, want);
    ST_ASSERT_INT_EQ(upload(b, buf, n, sha2), 200);
    ST_ASSERT_INT_EQ(rbd_count("img-"), 1); /* stored once */
    ST_ASSERT_INT_EQ(
        st_run(out, sizeof out, "rbd -c '%s' snap ls images/img-%s | grep -c base", conf, sha), 0);
    ST_ASSERT_INT_EQ(st_run(out, sizeof out,
                            "rbd -c '%s' info images/img-%s@base | "
                            "grep -q 'protected: True'",
                            conf, sha),
                     0);
    char p[128];
    snprintf(p, sizeof p, "/v1/images/%s/file", a);
    st_resp r;
    svc_data(&S, &r, "GET", p, &A, NULL, 0, NULL);
    ST_ASSERT_INT_EQ(r.status, 200);
    CU_ASSERT(r.len == n && memcmp(r.body, buf, n) == 0);
    st_resp_free(&r);
    const char *rh[] = {"Range: bytes=4194000-4194999", NULL};
    svc_data(&S, &r, "GET", p, &A, NULL, 0, rh);
    ST_ASSERT_INT_EQ(r.status, 206);
    CU_ASSERT(r.len == 1000 && memcmp(r.body, buf + 4194000, 1000) == 0);
    st_resp_free(&r);

    /* An instance disk: a copy-on-write clone of the base's protected snapshot. */
    char err[512], parent[80], spec[700], bspec[700];
    snprintf(parent, sizeof parent, "img-%s", sha);
    ST_ASSERT_INT_EQ_FATAL(
        st_rbd_clone(conf, "admin", "images", parent, "base", "i-disk-1", err, sizeof err), 0);
    snprintf(spec, sizeof spec, "rbd:images/i-disk-1:conf=%s", conf);
    snprintf(bspec, sizeof bspec, "rbd:images/%s@base:conf=%s", parent, conf);
    st_disk *d, *base;
    ST_ASSERT_INT_EQ_FATAL(st_disk_open_ex(spec, 0, &d, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(st_disk_size(d), n);
    uint8_t *got = malloc(n);
    CU_ASSERT(st_disk_pread(d, got, n, 0) == (ssize_t)n && memcmp(got, buf, n) == 0);
    uint8_t w[65536];
    memset(w, 0xee, sizeof w);
    ST_ASSERT_INT_EQ(st_disk_pwrite(d, w, sizeof w, 5 << 20), (long long)sizeof w);
    ST_ASSERT_INT_EQ(st_disk_flush(d), 0);
    CU_ASSERT(st_disk_pread(d, got, sizeof w, 5 << 20) == (ssize_t)sizeof w &&
              memcmp(got, w, sizeof w) == 0);
    st_disk_close(d);
    ST_ASSERT_INT_EQ_FATAL(st_disk_open_ex(bspec, 0, &base, err, sizeof err), 0);
    CU_ASSERT(st_disk_pread(base, got, n, 0) == (ssize_t)n && memcmp(got, buf, n) == 0);
    ST_ASSERT_INT_EQ(st_disk_pwrite(base, w, 512, 0), -EROFS); /* a snapshot is read only */
    st_disk_close(base);
    free(got);

    /* Deleting both images keeps the base while the clone lives... */
    snprintf(p, sizeof p, "/v1/images/%s", a);
    svc_api(&S, &r, "DELETE", p, &A, NULL);
    st_resp_free(&r);
    snprintf(p, sizeof p, "/v1/images/%s", b);
    svc_api(&S, &r, "DELETE", p, &A, NULL);
    ST_ASSERT_INT_EQ(r.status, 204);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(rbd_count("img-"), 1);
    /* ...and the reaper removes it once the instance disk is gone. */
    ST_ASSERT_INT_EQ(st_rbd_remove(conf, "admin", "images", "i-disk-1", err, sizeof err), 0);
    int left = 1;
    for (int i = 0; i < 100 && left; i++) {
        usleep(100000);
        left = rbd_count("img-");
    }
    ST_ASSERT_INT_EQ(left, 0);
    free(buf);
}

static void test_clean_stop(void)
{
    svc_stop(&S);
}

static CU_TestInfo tests[] = {
    {"blobs are RBD images with a protected snapshot; instance disks are clones of it",
     test_blobs_on_rbd},
    {"SIGTERM stops the service cleanly", test_clean_stop},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"ceph", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
