/*
 * Transfers under stress: a large upload streamed through the service
 * without it holding the body in memory; a node caching an image with the
 * checksum verified (stratus_image_fetch), refusing a wrong checksum and a
 * blob that rotted on disk (the service cuts such a download short); the
 * service killed with SIGKILL mid-upload and restarted: the upload is
 * killed by the reaper, its temporary file removed, no blob stored.
 */
#include "disk_util.h"
#include "st_test.h"
#include "stratus/crypto.h"
#include "stratus/image_fetch.h"
#include "svc.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define TA "11111111-1111-4111-8111-111111111111"

static svc S;
static const who A = {TA, "member", 0};
static char out[65536];
static const char *const EXTRA[] = {"images.stale_upload=4", "images.reap_interval=1",
                                    "http.timeout=3", NULL};

static int suite_init(void)
{
    return svc_start(&S, "images-xfer", EXTRA);
}

static int suite_clean(void)
{
    svc_free(&S);
    return 0;
}

static long vm_kib(pid_t pid, const char *field)
{
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "r");
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, strlen(field)) == 0)
            v = atol(line + strlen(field) + 1);
    if (f)
        fclose(f);
    return v;
}

static int send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

static int start_upload(const char *id, uint64_t len)
{
    int fd = svc_raw_connect(&S);
    char head[512];
    int hl =
        snprintf(head, sizeof head,
                 "PUT /v1/images/%s/file HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " SVC_TOKEN
                 "\r\nX-Stratus-Tenant: " TA "\r\nX-Stratus-Role: member\r\n"
                 "Content-Length: %llu\r\n\r\n",
                 id, (unsigned long long)len);
    if (fd < 0 || send_all(fd, head, (size_t)hl) < 0)
        return -1;
    return fd;
}

static void test_large_upload_streams(void)
{
    const uint64_t total = 512ull << 20;
    char id[40];
    snprintf(id, sizeof id, "%s", svc_create(&S, &A, "large", "raw"));
    long base_rss = vm_kib(S.proc.pid, "VmRSS:");
    int fd = start_upload(id, total);
    CU_ASSERT_FATAL(fd >= 0);
    uint8_t *buf = malloc(1 << 20);
    uint64_t seed = 11;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    long peak = 0;
    for (uint64_t sent = 0; sent < total; sent += 1 << 20) {
        tu_fill(&seed, buf, 1 << 20);
        EVP_DigestUpdate(md, buf, 1 << 20);
        if (send_all(fd, buf, 1 << 20) < 0)
            break;
        long rss = vm_kib(S.proc.pid, "VmRSS:");
        peak = rss > peak ? rss : peak;
    }
    int status = svc_raw_reply(fd, out, sizeof out);
    close(fd);
    ST_ASSERT_INT_EQ(status, 200);
    unsigned char d[32];
    unsigned int dl;
    char sha[65];
    EVP_DigestFinal_ex(md, d, &dl);
    EVP_MD_CTX_free(md);
    for (int i = 0; i < 32; i++)
        snprintf(sha + 2 * i, 3, "%02x", d[i]);
    CU_ASSERT(strstr(out, sha) != NULL);
    /* 512 MiB went through; the service grew by far less than that. */
    fprintf(stderr, "service RSS %ld KiB before, peak %ld KiB during a 512 MiB upload\n", base_rss,
            peak);
    CU_ASSERT(peak - base_rss < 160 * 1024);
    free(buf);
}

static char fetched_sha[65], fetched_id[40];

/* A signed GET URL for image id, as the gateway hands one out. */
static void signed_get(const char *id, char *url, size_t n)
{
    char p[128];
    snprintf(p, sizeof p, "/v1/images/%s/download-url", id);
    st_resp r;
    svc_api(&S, &r, "POST", p, &A, NULL);
    ST_ASSERT_INT_EQ_FATAL(r.status, 200);
    snprintf(url, n, "%s", json_string_value(json_object_get(r.json, "url")));
    st_resp_free(&r);
}

static void test_node_fetch_verifies(void)
{
    size_t n = 3 << 20;
    uint8_t *buf = malloc(n);
    uint64_t seed = 12;
    tu_fill(&seed, buf, n);
    st_sha256_hex(buf, n, fetched_sha);
    snprintf(fetched_id, sizeof fetched_id, "%s", svc_create(&S, &A, "cached", "raw"));
    char p[128], url[256], dest[600], err[512];
    snprintf(p, sizeof p, "/v1/images/%s/file", fetched_id);
    st_resp r;
    svc_data(&S, &r, "PUT", p, &A, buf, n, NULL);
    ST_ASSERT_INT_EQ_FATAL(r.status, 200);
    st_resp_free(&r);
    signed_get(fetched_id, url, sizeof url);
    snprintf(dest, sizeof dest, "%s/cache-%s", S.dir, fetched_sha);
    st_image_fetch_opts o = {.url = url, .sha256 = fetched_sha, .dest = dest};
    ST_ASSERT_INT_EQ(st_image_fetch(&o, err, sizeof err), 0);
    char got[65];
    ST_ASSERT_INT_EQ(st_image_file_sha256(dest, got), 0);
    CU_ASSERT_STRING_EQUAL(got, fetched_sha);
    unlink(dest);
    /* The image record promises other bytes: nothing is cached. */
    char wrong[65];
    snprintf(wrong, sizeof wrong, "%s", fetched_sha);
    wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
    o.sha256 = wrong;
    ST_ASSERT_INT_EQ(st_image_fetch(&o, err, sizeof err), -EBADMSG);
    CU_ASSERT(access(dest, F_OK) != 0);
    /* A wrong credential. */
    o.sha256 = fetched_sha;
    snprintf(url, sizeof url, "%s%s", S.data, p);
    o.token = "nope";
    ST_ASSERT_INT_EQ(st_image_fetch(&o, err, sizeof err), -EACCES);
    CU_ASSERT(access(dest, F_OK) != 0);
    free(buf);
}

static void test_rotten_blob_is_never_delivered(void)
{
    /* Flip a byte in the stored blob behind the service's back. */
    char blob[700];
    snprintf(blob, sizeof blob, "%s/store/blobs/%.2s/%s", S.dir, fetched_sha, fetched_sha);
    FILE *f = fopen(blob, "r+b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, 1 << 20, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 1 << 20, SEEK_SET);
    fputc(c ^ 0x40, f);
    fclose(f);
    char url[256], dest[600], err[512];
    signed_get(fetched_id, url, sizeof url);
    snprintf(dest, sizeof dest, "%s/rotten", S.dir);
    st_image_fetch_opts o = {.url = url, .sha256 = fetched_sha, .dest = dest};
    int rc = st_image_fetch(&o, err, sizeof err);
    CU_ASSERT(rc < 0);
    CU_ASSERT(access(dest, F_OK) != 0);
    /* The service itself refused to finish it: fewer bytes than promised. */
    st_resp r;
    char p[128];
    snprintf(p, sizeof p, "/v1/images/%s/file", fetched_id);
    svc_data(&S, &r, "GET", p, &A, NULL, 0, NULL);
    CU_ASSERT(r.status == 0 || r.len < (3u << 20));
    st_resp_free(&r);
}

static void test_restart_mid_upload(void)
{
    char id[40];
    snprintf(id, sizeof id, "%s", svc_create(&S, &A, "orphan", "raw"));
    int blobs = svc_blob_count(&S);
    int fd = start_upload(id, 100 << 20);
    CU_ASSERT_FATAL(fd >= 0);
    static uint8_t mib[1 << 20];
    for (int i = 0; i < 8; i++)
        send_all(fd, mib, sizeof mib);
    for (int i = 0; i < 50 && strcmp(svc_status(&S, id), "saving") != 0; i++)
        usleep(20000);
    CU_ASSERT_STRING_EQUAL(svc_status(&S, id), "saving");
    kill(S.proc.pid, SIGKILL);
    waitpid(S.proc.pid, NULL, 0);
    S.proc.pid = 0;
    close(fd);
    ST_ASSERT_INT_EQ(svc_tmp_count(&S), 1); /* the dead upload's temp file */
    ST_ASSERT_INT_EQ_FATAL(svc_restart(&S, EXTRA), 0);
    const char *st = "";
    for (int i = 0; i < 150; i++) {
        st = svc_status(&S, id);
        if (strcmp(st, "killed") == 0 && svc_tmp_count(&S) == 0)
            break;
        usleep(100000);
    }
    CU_ASSERT_STRING_EQUAL(st, "killed");
    ST_ASSERT_INT_EQ(svc_tmp_count(&S), 0);
    ST_ASSERT_INT_EQ(svc_blob_count(&S), blobs);
}

/* A client trickling its request head a byte at a time is cut off after the timeout. */
static void test_slow_head_is_cut(void)
{
    int fd = svc_raw_connect(&S);
    CU_ASSERT_FATAL(fd >= 0);
    const char *head =
        "GET /v1/images/11111111-1111-4111-8111-111111111111/file HTTP/1.1\r\n"
        "X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    long long t0 = st_now_ms();
    int cut = 0;
    for (size_t i = 0; head[i] && st_now_ms() - t0 < 15000; i++) {
        if (send(fd, head + i, 1, MSG_NOSIGNAL) != 1) {
            cut = 1;
            break;
        }
        usleep(250000);
    }
    int status = svc_raw_reply(fd, out, sizeof out);
    close(fd);
    ST_ASSERT_INT_EQ(status, 408);
    CU_ASSERT(cut || status == 408);
    CU_ASSERT(st_now_ms() - t0 < 12000);
}

static void test_clean_stop(void)
{
    svc_stop(&S);
}

/* ---- TLS on both listeners ---- */

static svc T;

static int tls_init(void)
{
    char *dir = st_tmpdir("images-tls");
    char cmd[1600], cert[600], key[600];
    snprintf(cert, sizeof cert, "tls.cert=%s/cert.pem", dir);
    snprintf(key, sizeof key, "tls.key=%s/key.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
             "-nodes -days 1 -subj /CN=localhost -keyout %s/key.pem -out "
             "%s/cert.pem",
             dir, dir);
    if (st_run(out, sizeof out, "%s", cmd) != 0)
        return -1;
    static char c1[700], k1[700];
    snprintf(c1, sizeof c1, "%s", cert);
    snprintf(k1, sizeof k1, "%s", key);
    const char *extra[] = {c1, k1, NULL};
    int rc = svc_start(&T, "images-tls-svc", extra);
    snprintf(T.api, sizeof T.api, "https://127.0.0.1:%d", T.api_port);
    snprintf(T.data, sizeof T.data, "https://127.0.0.1:%d", T.data_port);
    st_rmtree(dir);
    free(dir);
    return rc;
}

static int tls_clean(void)
{
    svc_free(&T);
    return 0;
}

static void test_tls_transfers(void)
{
    uint8_t buf[1 << 20];
    uint64_t seed = 99;
    tu_fill(&seed, buf, sizeof buf);
    char id[40], p[160], url[512];
    snprintf(id, sizeof id, "%s", svc_create(&T, &A, "tls", "raw"));
    snprintf(p, sizeof p, "/v1/images/%s/upload-url", id);
    st_resp r;
    svc_api(&T, &r, "POST", p, &A, NULL);
    ST_ASSERT_INT_EQ_FATAL(r.status, 200);
    snprintf(url, sizeof url, "%s", json_string_value(json_object_get(r.json, "url")));
    st_resp_free(&r);
    CU_ASSERT(strncmp(url, "https://", 8) == 0);
    svc_data(&T, &r, "PUT", url, NULL, buf, sizeof buf, NULL);
    ST_ASSERT_INT_EQ(r.status, 200);
    st_resp_free(&r);
    snprintf(p, sizeof p, "/v1/images/%s/file", id);
    svc_data(&T, &r, "GET", p, &A, NULL, 0, NULL);
    ST_ASSERT_INT_EQ(r.status, 200);
    CU_ASSERT(r.len == sizeof buf && memcmp(r.body, buf, sizeof buf) == 0);
    st_resp_free(&r);
    /* Plain HTTP to the TLS listener gets nowhere. */
    char plain[128];
    snprintf(plain, sizeof plain, "http://127.0.0.1:%d/v1/images/%s/file", T.data_port, id);
    svc_data(&T, &r, "GET", plain, &A, NULL, 0, NULL);
    CU_ASSERT(r.status != 200);
    st_resp_free(&r);
    svc_stop(&T);
}

static CU_TestInfo tls_tests[] = {
    {"uploads and downloads over HTTPS; signed URLs are https", test_tls_transfers},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo tests[] = {
    {"a 512 MiB upload streams through without the service holding it", test_large_upload_streams},
    {"a node caches an image only when its SHA-256 matches", test_node_fetch_verifies},
    {"a blob corrupted on disk is never delivered whole", test_rotten_blob_is_never_delivered},
    {"SIGKILL mid-upload: after a restart the image is killed, no temp file, no blob",
     test_restart_mid_upload},
    {"a request head trickled a byte at a time is cut off (408)", test_slow_head_is_cut},
    {"SIGTERM stops the service cleanly", test_clean_stop},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"transfers", suite_init, suite_clean, NULL, NULL, tests},
    {"tls", tls_init, tls_clean, NULL, NULL, tls_tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
