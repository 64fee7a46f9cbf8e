/*
 * stratus-images over real HTTP on loopback with a real PostgreSQL: image
 * lifecycle, uploads and downloads with checksums, ranges, dedup, isolation
 * between tenants, signed URLs, node credentials, qcow2 validation of
 * hostile uploads, interrupted and chunked uploads.
 */
#include "disk_util.h"
#include "st_test.h"
#include "stratus/crypto.h"
#include "stratus/disk.h"
#include "svc.h"

#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TA "11111111-1111-4111-8111-111111111111"
#define TB "22222222-2222-4222-8222-222222222222"

static svc S;
static const who A = {TA, "member", 0}, B = {TB, "member", 0}, A_READER = {TA, "reader", 0},
                 ADMIN = {NULL, NULL, 1};
static char out[65536];

static int suite_init(void)
{
    static const char *const extra[] = {"store.max_image_size=268435456", NULL};
    return svc_start(&S, "images-svc", extra);
}

static int suite_clean(void)
{
    svc_free(&S);
    return 0;
}

static void file_path(char *p, size_t n, const char *id)
{
    snprintf(p, n, "/v1/images/%s/file", id);
}

/* Uploads buf as image id for w; returns the HTTP status. */
static long upload(const char *id, const who *w, const void *buf, size_t len)
{
    char p[128];
    file_path(p, sizeof p, id);
    st_resp r;
    svc_data(&S, &r, "PUT", p, w, buf, len, NULL);
    long st = r.status;
    if (st != 200)
        fprintf(stderr, "upload: %ld %s\n", st, r.body ? r.body : "");
    st_resp_free(&r);
    return st;
}

static void test_roundtrip(void)
{
    size_t n = 5 * 1048576 + 512;
    uint8_t *buf = malloc(n);
    uint64_t seed = 1;
    tu_fill(&seed, buf, n);
    char sha[65];
    st_sha256_hex(buf, n, sha);
    const char *id = svc_create(&S, &A, "round", "raw");
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    char iid[40];
    snprintf(iid, sizeof iid, "%s", id);
    CU_ASSERT_STRING_EQUAL(svc_status(&S, iid), "queued");
    char p[128];
    file_path(p, sizeof p, iid);
    st_resp r;
    svc_data(&S, &r, "PUT", p, &A, buf, n, NULL);
    ST_ASSERT_INT_EQ(r.status, 200);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.json, "status")), "active");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.json, "checksum")), sha);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "size_bytes")), n);
    st_resp_free(&r);
    /* A second upload into an active image is a conflict. */
    svc_data(&S, &r, "PUT", p, &A, buf, 512, NULL);
    ST_ASSERT_INT_EQ(r.status, 409);
    CU_ASSERT_STRING_EQUAL(st_resp_error_code(&r), "conflict");
    st_resp_free(&r);
    /* Download: the same bytes, the checksum in a header. */
    svc_data(&S, &r, "GET", p, &A, NULL, 0, NULL);
    ST_ASSERT_INT_EQ(r.status, 200);
    ST_ASSERT_INT_EQ(r.len, n);
    CU_ASSERT(r.len == n && memcmp(r.body, buf, n) == 0);
    char *h = st_resp_header(&r, "X-Stratus-Sha256");
    CU_ASSERT(h && strcmp(h, sha) == 0);
    free(h);
    st_resp_free(&r);
    /* HEAD: headers only. */
    svc_data(&S, &r, "HEAD", p, &A, NULL, 0, NULL);
    ST_ASSERT_INT_EQ(r.status, 200);
    h = st_resp_header(&r, "Content-Length");
    CU_ASSERT(h && strtoull(h, NULL, 10) == n);
    free(h);
    st_resp_free(&r);

    /* Ranges. */
    static const struct {
        const char *range;
        long status;
        uint64_t a, len;
    } rs[] = {
        {"Range: bytes=0-99", 206, 0, 100},    {"Range: bytes=1000-", 206, 1000, 0},
        {"Range: bytes=-4096", 206, 0, 4096},  {"Range: bytes=5000-4999999999", 206, 5000, 0},
        {"Range: bytes=99999999-", 416, 0, 0}, {"Range: bytes=0-1,5-6", 200, 0, 0},
        {"Range: pages=1-2", 200, 0, 0},
    };
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) {
        const char *hh[] = {rs[i].range, NULL};
        svc_data(&S, &r, "GET", p, &A, NULL, 0, hh);
        ST_ASSERT_INT_EQ(r.status, rs[i].status);
        if (rs[i].status == 206) {
            uint64_t a = rs[i].a, len = rs[i].len;
            if (i == 2)
                a = n - 4096;
            if (!len)
                len = n - a;
            ST_ASSERT_INT_EQ(r.len, len);
            CU_ASSERT(r.len == len && memcmp(r.body, buf + a, len) == 0);
            char *cr = st_resp_header(&r, "Content-Range");
            char want[96];
            snprintf(want, sizeof want, "bytes %llu-%llu/%zu", (unsigned long long)a,
                     (unsigned long long)(a + len - 1), n);
            CU_ASSERT(cr && strcmp(cr, want) == 0);
            free(cr);
        } else if (rs[i].status == 416) {
            char *cr = st_resp_header(&r, "Content-Range");
            char want[64];
            snprintf(want, sizeof want, "bytes */%zu", n);
            CU_ASSERT(cr && strcmp(cr, want) == 0);
            free(cr);
        } else {
            ST_ASSERT_INT_EQ(r.len, n);
        }
        st_resp_free(&r);
    }
    free(buf);
}

static void test_dedup_and_gc(void)
{
    uint8_t buf[65536];
    uint64_t seed = 77;
    tu_fill(&seed, buf, sizeof buf);
    int before = svc_blob_count(&S);
    char a[40], b[40];
    snprintf(a, sizeof a, "%s", svc_create(&S, &A, "one", "raw"));
    snprintf(b, sizeof b, "%s", svc_create(&S, &B, "two", "raw"));
    ST_ASSERT_INT_EQ(upload(a, &A, buf, sizeof buf), 200);
    ST_ASSERT_INT_EQ(upload(b, &B, buf, sizeof buf), 200);
    ST_ASSERT_INT_EQ(svc_blob_count(&S), before + 1); /* stored once */
    char p[128];
    st_resp r;
    snprintf(p, sizeof p, "/v1/images/%s", a);
    svc_api(&S, &r, "DELETE", p, &A, NULL);
    ST_ASSERT_INT_EQ(r.status, 204);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(svc_blob_count(&S), before + 1); /* still used by b */
    CU_ASSERT_STRING_EQUAL(svc_status(&S, a), "?");   /* deleted: gone from the API */
    file_path(p, sizeof p, b);
    svc_data(&S, &r, "GET", p, &B, NULL, 0, NULL);
    ST_ASSERT_INT_EQ(r.status, 200);
    CU_ASSERT(r.len == sizeof buf && memcmp(r.body, buf, sizeof buf) == 0);
    st_resp_free(&r);
    snprintf(p, sizeof p, "/v1/images/%s", b);
    svc_api(&S, &r, "DELETE", p, &B, NULL);
    ST_ASSERT_INT_EQ(r.status, 204);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(svc_blob_count(&S), before); /* the last user went: the blob too */
}

static void test_isolation(void)
{
    uint8_t buf[4096] = {1, 2, 3};
    char priv[40], pub[40], p[160];
    snprintf(priv, sizeof priv, "%s", svc_create(&S, &A, "mine", "raw"));
    ST_ASSERT_INT_EQ(upload(priv, &A, buf, sizeof buf), 200);
    st_resp r;
    /* B sees nothing of A's private image: 404 everywhere, never 403. */
    snprintf(p, sizeof p, "/v1/images/%s", priv);
    svc_api(&S, &r, "GET", p, &B, NULL);
    ST_ASSERT_INT_EQ(r.status, 404);
    st_resp_free(&r);
    svc_api(&S, &r, "PATCH", p, &B, "{\"name\":\"stolen\"}");
    ST_ASSERT_INT_EQ(r.status, 404);
    st_resp_free(&r);
    svc_api(&S, &r, "DELETE", p, &B, NULL);
    ST_ASSERT_INT_EQ(r.status, 404);
    st_resp_free(&r);
    file_path(p, sizeof p, priv);
    svc_data(&S, &r, "GET", p, &B, NULL, 0, NULL);
    ST_ASSERT_INT_EQ(r.status, 404);
    st_resp_free(&r);
    svc_api(&S, &r, "GET", "/v1/images", &B, NULL);
    CU_ASSERT(r.body && !strstr(r.body, priv));
    st_resp_free(&r);
    svc_api(&S, &r, "GET", "/v1/images", &A, NULL);
    CU_ASSERT(r.body && strstr(r.body, priv));
    st_resp_free(&r);
    /* Readers read, members write; only cloud admins publish. */
    svc_api(&S, &r, "POST", "/v1/images", &A_READER, "{\"name\":\"x\",\"disk_format\":\"raw\"}");
    ST_ASSERT_INT_EQ(r.status, 403);
    st_resp_free(&r);
    svc_api(&S, &r, "POST", "/v1/images", &A,
            "{\"name\":\"x\",\"disk_format\":\"raw\",\"visibility\":\"public\"}");
    ST_ASSERT_INT_EQ(r.status, 403);
    st_resp_free(&r);
    snprintf(p, sizeof p, "/v1/images/%s", priv);
    svc_api(&S, &r, "PATCH", p, &A, "{\"visibility\":\"public\"}");
    ST_ASSERT_INT_EQ(r.status, 403);
    st_resp_free(&r);
    svc_api(&S, &r, "PATCH", p, &A, "{\"name\":\"renamed\"}");
    ST_ASSERT_INT_EQ(r.status, 200);
    CU_ASSERT(r.body && strstr(r.body, "\"renamed\""));
    st_resp_free(&r);
    /* A public image of the cloud: everyone reads it, no tenant changes it. */
    svc_api(&S, &r, "POST", "/v1/images", &ADMIN,
            "{\"name\":\"debian\",\"disk_format\":\"raw\",\"visibility\":\"public\"}");
    ST_ASSERT_INT_EQ_FATAL(r.status, 201);
    snprintf(pub, sizeof pub, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(upload(pub, &ADMIN, buf, sizeof buf), 200);
    file_path(p, sizeof p, pub);
    svc_data(&S, &r, "GET", p, &B, NULL, 0, NULL);
    ST_ASSERT_INT_EQ(r.status, 200);
    st_resp_free(&r);
    snprintf(p, sizeof p, "/v1/images/%s", pub);
    svc_api(&S, &r, "DELETE", p, &B, NULL);
    ST_ASSERT_INT_EQ(r.status, 403);
    st_resp_free(&r);
    /* No token, a wrong token: 401. */
    file_path(p, sizeof p, pub);
    svc_data(&S, &r, "GET", p, NULL, NULL, 0, NULL);
    ST_ASSERT_INT_EQ(r.status, 401);
    st_resp_free(&r);
    char url[256];
    snprintf(url, sizeof url, "%s/v1/images", S.api);
    st_http(&r, "GET", url, "wrong", NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 401);
    st_resp_free(&r);
}

static void sign(const char *method, const char *id, long long exp, char hex[65])
{
    uint8_t key[32];
    for (int i = 0; i < 32; i++)
        sscanf(&SVC_URL_KEY[2 * i], "%2hhx", &key[i]);
    char msg[256];
    int n = snprintf(msg, sizeof msg, "stratus-images\n%s\n%s\n%lld", method, id, exp);
    unsigned char mac[32];
    unsigned int ml = 32;
    HMAC(EVP_sha256(), key, 32, (unsigned char *)msg, (size_t)n, mac, &ml);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
}

static void test_signed_urls_and_nodes(void)
{
    uint8_t buf[8192];
    uint64_t seed = 9;
    tu_fill(&seed, buf, sizeof buf);
    char id[40], p[256];
    snprintf(id, sizeof id, "%s", svc_create(&S, &A, "signed", "raw"));
    st_resp r;
    /* The gateway asks for an upload URL on a tenant's behalf... */
    snprintf(p, sizeof p, "/v1/images/%s/upload-url", id);
    svc_api(&S, &r, "POST", p, &B, NULL);
    ST_ASSERT_INT_EQ(r.status, 404); /* (not for another tenant) */
    st_resp_free(&r);
    svc_api(&S, &r, "POST", p, &A, NULL);
    ST_ASSERT_INT_EQ_FATAL(r.status, 200);
    char url[512];
    snprintf(url, sizeof url, "%s", json_string_value(json_object_get(r.json, "url")));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.json, "method")), "PUT");
    st_resp_free(&r);
    /* ...a tampered URL and one for another method are refused... */
    char bad[512];
    snprintf(bad, sizeof bad, "%s", url);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
    svc_data(&S, &r, "PUT", bad, NULL, buf, sizeof buf, NULL);
    ST_ASSERT_INT_EQ(r.status, 403);
    st_resp_free(&r);
    char sig[65];
    long long exp = (long long)time(NULL) + 600;
    sign("GET", id, exp, sig);
    snprintf(bad, sizeof bad, "%s/v1/images/%s/file?expires=%lld&sig=%s", S.data, id, exp, sig);
    svc_data(&S, &r, "PUT", bad, NULL, buf, sizeof buf, NULL);
    ST_ASSERT_INT_EQ(r.status, 403);
    st_resp_free(&r);
    sign("PUT", id, (long long)time(NULL) - 5, sig); /* expired */
    snprintf(bad, sizeof bad, "%s/v1/images/%s/file?expires=%lld&sig=%s", S.data, id,
             (long long)time(NULL) - 5, sig);
    svc_data(&S, &r, "PUT", bad, NULL, buf, sizeof buf, NULL);
    ST_ASSERT_INT_EQ(r.status, 403);
    CU_ASSERT_STRING_EQUAL(st_resp_error_code(&r), "expired");
    st_resp_free(&r);
    /* ...and the tenant streams straight to the data listener with the real one. */
    svc_data(&S, &r, "PUT", url, NULL, buf, sizeof buf, NULL);
    ST_ASSERT_INT_EQ(r.status, 200);
    st_resp_free(&r);
    snprintf(p, sizeof p, "/v1/images/%s/download-url", id);
    svc_api(&S, &r, "POST", p, &A_READER, NULL);
    ST_ASSERT_INT_EQ_FATAL(r.status, 200);
    snprintf(url, sizeof url, "%s", json_string_value(json_object_get(r.json, "url")));
    st_resp_free(&r);
    svc_data(&S, &r, "GET", url, NULL, NULL, 0, NULL);
    ST_ASSERT_INT_EQ(r.status, 200);
    CU_ASSERT(r.len == sizeof buf && memcmp(r.body, buf, sizeof buf) == 0);
    st_resp_free(&r);

    /* A node credential the gateway does not know (there is no gateway
     * here) reads and writes nothing; what a known node may read, and the
     * one snapshot it may upload, are gateway_node_identity's to show. */
    char nurl[256];
    snprintf(nurl, sizeof nurl, "%s/v1/images/%s/file", S.data, id);
    st_http(&r, "GET", nurl, SVC_NODE_CRED, NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 401);
    st_resp_free(&r);
    st_http(&r, "GET", nurl, SVC_TOKEN "x", NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 401);
    st_resp_free(&r);
    char n2[40];
    snprintf(n2, sizeof n2, "%s", svc_create(&S, &A, "node-upload", "raw"));
    snprintf(nurl, sizeof nurl, "%s/v1/images/%s/file", S.data, n2);
    st_http_n(&r, "PUT", nurl, SVC_NODE_CRED, (const char *)buf, 512, NULL);
    ST_ASSERT_INT_EQ(r.status, 401);
    st_resp_free(&r);
    snprintf(nurl, sizeof nurl, "%s/v1/images/%s", S.api, id);
    st_http(&r, "GET", nurl, SVC_NODE_CRED, NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 401);
    st_resp_free(&r);
    snprintf(nurl, sizeof nurl, "%s/v1/images", S.api);
    st_http(&r, "GET", nurl, SVC_NODE_CRED, NULL, NULL);
    ST_ASSERT_INT_EQ(r.status, 403);
    st_resp_free(&r);
}

/* Creates a qcow2 with qemu-img (options), patches bytes, uploads it. */
static long upload_qcow2(const char *opts, long patch_off, const void *patch, size_t plen,
                         char *msg, size_t msglen)
{
    char path[600];
    snprintf(path, sizeof path, "%s/up.qcow2", S.dir);
    unlink(path);
    if (st_run(out, sizeof out, "qemu-img create -q -f qcow2 %s '%s' 8M", opts, path) != 0)
        return -1;
    FILE *f = fopen(path, "r+b");
    if (patch) {
        fseek(f, patch_off, SEEK_SET);
        fwrite(patch, 1, plen, f);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n)
        n = 0;
    fclose(f);
    char id[40], p[128];
    snprintf(id, sizeof id, "%s", svc_create(&S, &A, "q", "qcow2"));
    file_path(p, sizeof p, id);
    st_resp r;
    svc_data(&S, &r, "PUT", p, &A, buf, (size_t)n, NULL);
    long st = r.status;
    const char *m =
        r.json ? json_string_value(json_object_get(json_object_get(r.json, "error"), "message"))
               : NULL;
    snprintf(msg, msglen, "%s", m ? m : "");
    if (st == 200) {
        CU_ASSERT(json_integer_value(json_object_get(r.json, "virtual_size_bytes")) == 8 << 20);
    } else {
        CU_ASSERT_STRING_EQUAL(svc_status(&S, id), "killed");
    }
    st_resp_free(&r);
    free(buf);
    return st;
}

static void test_qcow2_validation(void)
{
    char msg[512];
    ST_ASSERT_INT_EQ(upload_qcow2("", 0, NULL, 0, msg, sizeof msg), 200);
    ST_ASSERT_INT_EQ(upload_qcow2("-o compat=0.10", 0, NULL, 0, msg, sizeof msg), 200);
    static const uint8_t enc[4] = {0, 0, 0, 1}, ver[4] = {0, 0, 0, 4},
                         l1far[8] = {0, 0, 0, 1, 0, 0, 0, 0}, cbits[4] = {0, 0, 0, 40},
                         incompat[8] = {0, 0, 0, 0, 0, 0, 0, 0x20};
    static const struct {
        long off;
        const uint8_t *b;
        size_t n;
        const char *want;
    } bad[] = {
        {32, enc, 4, "encrypted"},
        {4, ver, 4, "version 4"},
        {40, l1far, 8, "outside the file"},
        {20, cbits, 4, "cluster size"},
        {72, incompat, 8, "incompatible feature bit 5"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long st = upload_qcow2("", bad[i].off, bad[i].b, bad[i].n, msg, sizeof msg);
        ST_ASSERT_INT_EQ(st, 400);
        if (!strstr(msg, bad[i].want))
            fprintf(stderr, "want '%s' in '%s'\n", bad[i].want, msg);
        CU_ASSERT(strstr(msg, bad[i].want) != NULL);
    }
    /* A tiny file describing a 64 TiB disk (2 MiB clusters keep its L1 small). */
    char big[600];
    snprintf(big, sizeof big, "%s/big.qcow2", S.dir);
    unlink(big);
    ST_ASSERT_INT_EQ(
        st_run(out, sizeof out, "qemu-img create -q -f qcow2 -o cluster_size=2M '%s' 64T", big), 0);
    {
        char bid[40], bp[128];
        snprintf(bid, sizeof bid, "%s", svc_create(&S, &A, "huge", "qcow2"));
        snprintf(bp, sizeof bp, "/v1/images/%s/file", bid);
        FILE *f = fopen(big, "rb");
        static char bb[16 << 20];
        size_t bn = f ? fread(bb, 1, sizeof bb, f) : 0;
        if (f)
            fclose(f);
        st_resp r;
        svc_data(&S, &r, "PUT", bp, &A, bb, bn, NULL);
        ST_ASSERT_INT_EQ(r.status, 400);
        if (!r.body || !strstr(r.body, "the limit is"))
            fprintf(stderr, "huge: %s\n", r.body ? r.body : "");
        CU_ASSERT(r.body && strstr(r.body, "the limit is"));
        st_resp_free(&r);
    }
    /* An overlay naming a host file as its backing file. */
    char base[600];
    snprintf(base, sizeof base, "%s/hostfile", S.dir);
    tu_write_random_file(base, 8 << 20, 1);
    char opts[700];
    snprintf(opts, sizeof opts, "-b '%s' -F raw", base);
    ST_ASSERT_INT_EQ(upload_qcow2(opts, 0, NULL, 0, msg, sizeof msg), 400);
    CU_ASSERT(strstr(msg, "backing file") != NULL);
    /* A raw image that is not whole sectors, an empty one, a wrong client checksum. */
    char id[40], p[128];
    snprintf(id, sizeof id, "%s", svc_create(&S, &A, "odd", "raw"));
    ST_ASSERT_INT_EQ(upload(id, &A, "abc", 3), 400);
    CU_ASSERT_STRING_EQUAL(svc_status(&S, id), "killed");
    snprintf(id, sizeof id, "%s", svc_create(&S, &A, "sum", "raw"));
    file_path(p, sizeof p, id);
    const char *h[] = {
        "X-Stratus-Sha256: 0000000000000000000000000000000000000000000000000000000000000000", NULL};
    st_resp r;
    uint8_t z[512] = {0};
    svc_data(&S, &r, "PUT", p, &A, z, sizeof z, h);
    ST_ASSERT_INT_EQ(r.status, 400);
    CU_ASSERT_STRING_EQUAL(st_resp_error_code(&r), "checksum_mismatch");
    st_resp_free(&r);
    CU_ASSERT_STRING_EQUAL(svc_status(&S, id), "killed");
    ST_ASSERT_INT_EQ(svc_tmp_count(&S), 0);
}

/* An instance snapshot: an overlay flattened by stratus_disk uploads as a new image. */
static void test_snapshot_uploads(void)
{
    char base[600], ov[600], snap[600], err[256];
    snprintf(base, sizeof base, "%s/snapbase.raw", S.dir);
    snprintf(ov, sizeof ov, "%s/snap-ov.qcow2", S.dir);
    snprintf(snap, sizeof snap, "%s/snap.qcow2", S.dir);
    ST_ASSERT_INT_EQ_FATAL(tu_write_random_file(base, 4 << 20, 17), 0);
    ST_ASSERT_INT_EQ_FATAL(st_qcow2_create(ov, 0, "snapbase.raw", "raw"), 0);
    st_disk *d;
    ST_ASSERT_INT_EQ_FATAL(st_disk_open_ex(ov, 0, &d, err, sizeof err), 0);
    char w[8192];
    memset(w, 0x77, sizeof w);
    ST_ASSERT_INT_EQ(st_disk_pwrite(d, w, sizeof w, 100000), (long long)sizeof w);
    ST_ASSERT_INT_EQ(st_disk_convert(d, snap, ST_DISK_QCOW2, err, sizeof err), 0);
    st_disk_close(d);
    FILE *f = fopen(snap, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n);
    CU_ASSERT(fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    char id[40], p[128];
    snprintf(id, sizeof id, "%s", svc_create(&S, &A, "instance-snapshot", "qcow2"));
    file_path(p, sizeof p, id);
    st_resp r;
    svc_data(&S, &r, "PUT", p, &A, buf, (size_t)n, NULL);
    ST_ASSERT_INT_EQ(r.status, 200);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "virtual_size_bytes")), 4 << 20);
    st_resp_free(&r);
    free(buf);
}

static void test_interrupted_and_chunked(void)
{
    char id[40], head[512];
    /* Interrupted: Content-Length promises 10 MiB, 1 MiB comes, the client goes. */
    snprintf(id, sizeof id, "%s", svc_create(&S, &A, "cut", "raw"));
    int blobs = svc_blob_count(&S);
    int fd = svc_raw_connect(&S);
    CU_ASSERT_FATAL(fd >= 0);
    int hl =
        snprintf(head, sizeof head,
                 "PUT /v1/images/%s/file HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " SVC_TOKEN
                 "\r\nX-Stratus-Tenant: " TA "\r\nX-Stratus-Role: member\r\n"
                 "Content-Length: 10485760\r\n\r\n",
                 id);
    CU_ASSERT(send(fd, head, (size_t)hl, 0) == hl);
    static uint8_t mib[1 << 20];
    CU_ASSERT(send(fd, mib, sizeof mib, 0) == (ssize_t)sizeof mib);
    usleep(200000);
    close(fd);
    const char *st = "";
    for (int i = 0; i < 100; i++) {
        st = svc_status(&S, id);
        if (strcmp(st, "saving") != 0)
            break;
        usleep(50000);
    }
    CU_ASSERT_STRING_EQUAL(st, "killed");
    ST_ASSERT_INT_EQ(svc_tmp_count(&S), 0);
    ST_ASSERT_INT_EQ(svc_blob_count(&S), blobs);

    /* Chunked, with Expect: 100-continue, odd chunk sizes and a trailer. */
    snprintf(id, sizeof id, "%s", svc_create(&S, &A, "chunks", "raw"));
    fd = svc_raw_connect(&S);
    hl = snprintf(head, sizeof head,
                  "PUT /v1/images/%s/file HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " SVC_TOKEN
                  "\r\nX-Stratus-Tenant: " TA "\r\nX-Stratus-Role: member\r\n"
                  "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
                  id);
    CU_ASSERT(send(fd, head, (size_t)hl, 0) == hl);
    char cont[64] = "";
    ssize_t k = recv(fd, cont, sizeof cont - 1, 0);
    CU_ASSERT(k > 0 && strncmp(cont, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
    uint8_t *all = malloc(3 << 20);
    uint64_t seed = 5;
    tu_fill(&seed, all, 3 << 20);
    size_t sent = 0, sizes[] = {1, 511, 70000, 1 << 20, 1000000, 1026640};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char ch[32];
        int cl = snprintf(ch, sizeof ch, "%zx;ext=1\r\n", sizes[i]);
        send(fd, ch, (size_t)cl, 0);
        send(fd, all + sent, sizes[i], 0);
        send(fd, "\r\n", 2, 0);
        sent += sizes[i];
    }
    const char tail[] = "0\r\nX-Trailer: yes\r\n\r\n";
    send(fd, tail, sizeof tail - 1, 0);
    int status = svc_raw_reply(fd, out, sizeof out);
    close(fd);
    ST_ASSERT_INT_EQ(status, 200);
    if (status != 200)
        fprintf(stderr, "%s\n", out);
    char sha[65];
    st_sha256_hex(all, sent, sha);
    CU_ASSERT(strstr(out, sha) != NULL);
    free(all);

    /* Malformed framing and smuggling attempts are 400 and kill nothing else. */
    static const char *const bad[] = {
        ("PUT /v1/images/%s/file HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: "
         "chunked\r\n\r\n"),
        "PUT /v1/images/%s/file HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "PUT /v1/images/%s/file HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        "PUT /v1/images/%s/file HTTP/1.1\r\n X-Folded: yes\r\n\r\n",
        "PUT /v1/images/%s/file HTTP/1.1\nHost: x\n\n\r\n\r\n",
        "PUT /v1/images/%s/file HTTP/2.0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fd = svc_raw_connect(&S);
        hl = snprintf(head, sizeof head, bad[i], id);
        send(fd, head, (size_t)hl, 0);
        status = svc_raw_reply(fd, out, sizeof out);
        close(fd);
        CU_ASSERT(status >= 400 && status < 600);
        if (status < 400)
            fprintf(stderr, "bad request %zu got %d\n", i, status);
    }
}

static void test_listing_and_validation(void)
{
    const char *tn = "33333333-3333-4333-8333-333333333333";
    who t = {tn, "admin", 0};
    char ids[5][40];
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "page-%d", i);
        snprintf(ids[i], sizeof ids[i], "%s", svc_create(&S, &t, name, i % 2 ? "qcow2" : "raw"));
    }
    st_resp r;
    svc_api(&S, &r, "GET", "/v1/images?status=queued&limit=2", &t,
            NULL); /* (public ones are active) */
    ST_ASSERT_INT_EQ(r.status, 200);
    json_t *a = json_object_get(r.json, "images");
    ST_ASSERT_INT_EQ(json_array_size(a), 2);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(a, 1), "id")), ids[1]);
    st_resp_free(&r);
    char p[160];
    snprintf(p, sizeof p, "/v1/images?status=queued&limit=2&marker=%s", ids[1]);
    svc_api(&S, &r, "GET", p, &t, NULL);
    a = json_object_get(r.json, "images");
    ST_ASSERT_INT_EQ(json_array_size(a), 2);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(a, 0), "id")), ids[2]);
    st_resp_free(&r);
    svc_api(&S, &r, "GET", "/v1/images?status=queued&limit=1000", &t, NULL);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "images")), 5);
    st_resp_free(&r);
    /* Another tenant's private image as marker answers like an unknown id
     * (an empty page): it must not tell which of t's images came later. */
    const char *other = "44444444-4444-4444-8444-444444444444";
    who o = {other, "admin", 0};
    char hidden[40];
    snprintf(hidden, sizeof hidden, "%s", svc_create(&S, &o, "hidden", "raw"));
    svc_create(&S, &t, "after-hidden", "raw");
    snprintf(p, sizeof p, "/v1/images?marker=%s", hidden);
    svc_api(&S, &r, "GET", p, &t, NULL);
    ST_ASSERT_INT_EQ(r.status, 200);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "images")), 0);
    st_resp_free(&r);
    svc_api(&S, &r, "GET", "/v1/images?marker=7b0e4c1a-1111-4222-8333-444455556666", &t, NULL);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "images")), 0);
    st_resp_free(&r);
    svc_api(&S, &r, "GET", p, &o, NULL); /* its owner pages on from it */
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "images")), 0);
    st_resp_free(&r);
    static const char *const bad_q[] = {"/v1/images?limit=0", "/v1/images?limit=x",
                                        "/v1/images?marker=nope"};
    for (size_t i = 0; i < 3; i++) {
        svc_api(&S, &r, "GET", bad_q[i], &t, NULL);
        ST_ASSERT_INT_EQ(r.status, 400);
        st_resp_free(&r);
    }
    static const char *const bad[] = {
        "{\"name\":\"x\",\"disk_format\":\"vmdk\"}",
        "{\"disk_format\":\"raw\"}",
        "{\"name\":\"\",\"disk_format\":\"raw\"}",
        "{\"name\":\"x\",\"disk_format\":\"raw\",\"visibility\":\"shared\"}",
        "{\"name\":\"x\",\"disk_format\":\"raw\",\"color\":\"red\"}",
        "{\"name\":\"x\",\"disk_format\":\"raw\",\"min_disk_gib\":-1}",
        "[1,2]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        svc_api(&S, &r, "POST", "/v1/images", &t, bad[i]);
        ST_ASSERT_INT_EQ(r.status, 400);
        CU_ASSERT(r.json && json_object_get(json_object_get(r.json, "error"), "message"));
        st_resp_free(&r);
    }
    /* Unknown ids are 404, malformed ones too; upload to a missing image is 404. */
    svc_api(&S, &r, "GET", "/v1/images/44444444-4444-4444-8444-444444444444", &t, NULL);
    ST_ASSERT_INT_EQ(r.status, 404);
    st_resp_free(&r);
    svc_api(&S, &r, "GET", "/v1/images/not-a-uuid", &t, NULL);
    ST_ASSERT_INT_EQ(r.status, 404);
    st_resp_free(&r);
    svc_data(&S, &r, "PUT", "/v1/images/44444444-4444-4444-8444-444444444444/file", &t, "x", 1,
             NULL);
    ST_ASSERT_INT_EQ(r.status, 404);
    st_resp_free(&r);
    svc_data(&S, &r, "GET", "/v1/images/not-a-uuid/file", &t, NULL, 0, NULL);
    ST_ASSERT_INT_EQ(r.status, 404);
    st_resp_free(&r);
    svc_data(&S, &r, "DELETE", "/v1/images/44444444-4444-4444-8444-444444444444/file", &t, NULL, 0,
             NULL);
    ST_ASSERT_INT_EQ(r.status, 405);
    st_resp_free(&r);
    /* A queued image has nothing to download. */
    snprintf(p, sizeof p, "/v1/images/%s/file", ids[0]);
    svc_data(&S, &r, "GET", p, &t, NULL, 0, NULL);
    ST_ASSERT_INT_EQ(r.status, 409);
    st_resp_free(&r);
    snprintf(p, sizeof p, "/v1/images/%s/download-url", ids[0]);
    svc_api(&S, &r, "POST", p, &t, NULL);
    ST_ASSERT_INT_EQ(r.status, 409);
    st_resp_free(&r);
}

static void test_clean_stop(void)
{
    svc_stop(&S); /* fails on an unclean exit or a sanitizer report in the log */
}

/* With auth.gateway_from naming another address, the service token is
 * refused from here on both listeners (a signed URL still works). */
static void test_service_token_only_from_the_gateway(void)
{
    static const char *const extra[] = {"auth.gateway_from=192.0.2.1/32", NULL};
    ST_ASSERT_INT_EQ_FATAL(svc_restart(&S, extra), 0);
    st_resp r;
    svc_api(&S, &r, "GET", "/v1/images", &A, NULL);
    ST_ASSERT_INT_EQ(r.status, 403);
    CU_ASSERT_STRING_EQUAL(st_resp_error_code(&r), "forbidden");
    st_resp_free(&r);
    svc_data(&S, &r, "GET", "/v1/images/7b0e4c1a-1111-4222-8333-444455556666/file", &A, NULL, 0,
             NULL);
    ST_ASSERT_INT_EQ(r.status, 403);
    st_resp_free(&r);
    svc_stop(&S);
}

/* A browser on another origin (the web dashboard) first sends a CORS
 * preflight, then PUTs; the listener lets any origin in, and the signature
 * alone still decides. */
static void test_browser_preflight_and_cors(void)
{
    char id[40], p[256];
    snprintf(id, sizeof id, "%s", svc_create(&S, &A, "from-a-browser", "raw"));
    snprintf(p, sizeof p, "/v1/images/%s/file", id);
    const char *origin[] = {"Origin: http://dashboard.example",
                            "Access-Control-Request-Method: PUT",
                            "Access-Control-Request-Headers: content-type", NULL};
    st_resp r;
    svc_data(&S, &r, "OPTIONS", p, NULL, NULL, 0, origin);
    ST_ASSERT_INT_EQ(r.status, 204);
    char *ao = st_resp_header(&r, "Access-Control-Allow-Origin");
    char *am = st_resp_header(&r, "Access-Control-Allow-Methods");
    char *ah = st_resp_header(&r, "Access-Control-Allow-Headers");
    ST_ASSERT_STR_EQ(ao, "*");
    CU_ASSERT(am && strstr(am, "PUT") && strstr(am, "GET"));
    CU_ASSERT(ah && strstr(ah, "Content-Type"));
    free(ao);
    free(am);
    free(ah);
    st_resp_free(&r);
    /* the preflight granted nothing: no signature, no upload */
    uint8_t buf[512] = {0};
    svc_data(&S, &r, "PUT", p, NULL, buf, sizeof buf, origin);
    ST_ASSERT_INT_EQ(r.status, 401);
    ao = st_resp_header(&r, "Access-Control-Allow-Origin");
    ST_ASSERT_STR_EQ(ao, "*"); /* the browser may read why */
    free(ao);
    st_resp_free(&r);
    ST_ASSERT_STR_EQ(svc_status(&S, id), "queued");
    /* other paths are still unknown */
    svc_data(&S, &r, "OPTIONS", "/v1/images", NULL, NULL, 0, origin);
    ST_ASSERT_INT_EQ(r.status, 404);
    st_resp_free(&r);
}

/* POST /v1/images as w with body; the reply's status, and the image's
 * field f (or "" / "null") copied into v. */
static long create_field(const who *w, const char *body, const char *f, char *v, size_t n)
{
    st_resp r;
    svc_api(&S, &r, "POST", "/v1/images", w, body);
    long st = r.status;
    json_t *x = json_object_get(r.json, f);
    snprintf(v, n, "%s", json_is_string(x) ? json_string_value(x) : json_is_null(x) ? "null" : "");
    if (st >= 400 && r.body)
        fprintf(stderr, "create %s: %ld %s\n", body, st, r.body);
    st_resp_free(&r);
    return st;
}

/* The status of an API call as w, its body dropped. */
static long api_status(const char *method, const char *path, const who *w, const char *body)
{
    st_resp r;
    svc_api(&S, &r, method, path, w, body);
    long st = r.status;
    st_resp_free(&r);
    return st;
}

static void test_boot_kinds_and_kernels(void)
{
    char v[64], kern[40], rd[40], disk[40], other[40], pubk[40], cloudk[40], b[512], p[160];
    /* Defaults: a raw or qcow2 disk boots through firmware; a kernel boots
     * directly; a ramdisk does not boot by itself; a disk with boot kernel
     * and no kernel_id is its own kernel (every image before boot existed). */
#define RAW "{\"name\":\"d\",\"disk_format\":\"raw\""
    static const struct {
        const char *body, *field, *want;
    } defaults[] = {
        {RAW "}", "boot", "firmware"},
        {"{\"name\":\"q\",\"disk_format\":\"qcow2\"}", "kind", "disk"},
        {"{\"name\":\"q\",\"disk_format\":\"qcow2\"}", "boot", "firmware"},
        {RAW ",\"kind\":\"kernel\"}", "boot", "kernel"},
        {RAW ",\"kind\":\"ramdisk\"}", "boot", "null"},
        {RAW ",\"boot\":\"kernel\"}", "kernel_id", "null"},
        {RAW ",\"boot\":\"kernel\"}", "kind", "disk"},
    };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        ST_ASSERT_INT_EQ(create_field(&A, defaults[i].body, defaults[i].field, v, sizeof v), 201);
        ST_ASSERT_STR_EQ(v, defaults[i].want);
    }
    ST_ASSERT_INT_EQ(create_field(&A, RAW ",\"kind\":\"kernel\"}", "id", kern, sizeof kern), 201);
    ST_ASSERT_INT_EQ(create_field(&A, RAW ",\"kind\":\"ramdisk\"}", "id", rd, sizeof rd), 201);
#undef RAW
    /* A disk naming its kernel and ramdisk boots them directly. */
    snprintf(b, sizeof b,
             "{\"name\":\"root\",\"disk_format\":\"qcow2\",\"kernel_id\":\"%s\","
             "\"ramdisk_id\":\"%s\"}",
             kern, rd);
    ST_ASSERT_INT_EQ(create_field(&A, b, "id", disk, sizeof disk), 201);
    snprintf(p, sizeof p, "/v1/images/%s", disk);
    st_resp r;
    svc_api(&S, &r, "GET", p, &A, NULL);
    ST_ASSERT_INT_EQ(r.status, 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "boot")), "kernel");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "kernel_id")), kern);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "ramdisk_id")), rd);
    st_resp_free(&r);

    /* Refused with the reason: 400 for shapes, 404 for a kernel the owner
     * cannot see (another tenant's, or none), as anywhere else. */
    static const char *const bad[] = {
        "{\"name\":\"x\",\"disk_format\":\"raw\",\"kind\":\"iso\"}",
        "{\"name\":\"x\",\"disk_format\":\"raw\",\"boot\":\"pxe\"}",
        "{\"name\":\"x\",\"disk_format\":\"raw\",\"kind\":\"kernel\",\"boot\":\"firmware\"}",
        "{\"name\":\"x\",\"disk_format\":\"raw\",\"kind\":\"ramdisk\",\"boot\":\"kernel\"}",
        "{\"name\":\"x\",\"disk_format\":\"raw\",\"kernel_id\":\"not-a-uuid\"}",
        "{\"name\":\"x\",\"disk_format\":\"raw\",\"boot\":7}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ST_ASSERT_INT_EQ(create_field(&A, bad[i], "id", v, sizeof v), 400);
    /* 400: the ramdisk without a kernel, firmware with a kernel, a kernel
     * naming a kernel, a ramdisk given as the kernel, a kernel as the ramdisk */
    const struct {
        const char *extra, *kernel, *ramdisk;
    } bad_ref[] = {
        {"", NULL, rd},
        {",\"boot\":\"firmware\"", kern, NULL},
        {",\"kind\":\"kernel\"", kern, NULL},
        {"", rd, NULL},
        {"", kern, kern},
    };
    for (size_t i = 0; i < sizeof bad_ref / sizeof bad_ref[0]; i++) {
        int k =
            snprintf(b, sizeof b, "{\"name\":\"x\",\"disk_format\":\"raw\"%s", bad_ref[i].extra);
        if (bad_ref[i].kernel)
            k += snprintf(b + k, sizeof b - (size_t)k, ",\"kernel_id\":\"%s\"", bad_ref[i].kernel);
        if (bad_ref[i].ramdisk)
            k +=
                snprintf(b + k, sizeof b - (size_t)k, ",\"ramdisk_id\":\"%s\"", bad_ref[i].ramdisk);
        snprintf(b + k, sizeof b - (size_t)k, "}");
        ST_ASSERT_INT_EQ(create_field(&A, b, "id", v, sizeof v), 400);
    }
    snprintf(b, sizeof b, "{\"name\":\"x\",\"disk_format\":\"raw\",\"kernel_id\":\"%s\"}", kern);
    ST_ASSERT_INT_EQ(create_field(&B, b, "id", v, sizeof v), 404); /* A's kernel, for B */
    ST_ASSERT_INT_EQ(create_field(&A,
                                  "{\"name\":\"x\",\"disk_format\":\"raw\",\"kernel_id\":"
                                  "\"99999999-9999-4999-8999-999999999999\"}",
                                  "id", v, sizeof v),
                     404);
    /* A public (cloud) kernel serves every tenant; a public disk needs a
     * public kernel. */
    ST_ASSERT_INT_EQ(create_field(&ADMIN,
                                  "{\"name\":\"pk\",\"disk_format\":\"raw\",\"kind\":\"kernel\","
                                  "\"visibility\":\"public\"}",
                                  "id", pubk, sizeof pubk),
                     201);
    snprintf(b, sizeof b, "{\"name\":\"x\",\"disk_format\":\"raw\",\"kernel_id\":\"%s\"}", pubk);
    ST_ASSERT_INT_EQ(create_field(&B, b, "id", other, sizeof other), 201);
    ST_ASSERT_INT_EQ(create_field(&ADMIN,
                                  "{\"name\":\"ck\",\"disk_format\":\"raw\",\"kind\":\"kernel\"}",
                                  "id", cloudk, sizeof cloudk),
                     201);
    snprintf(b, sizeof b,
             "{\"name\":\"x\",\"disk_format\":\"raw\",\"kernel_id\":\"%s\",\"visibility\":"
             "\"public\"}",
             cloudk);
    ST_ASSERT_INT_EQ(create_field(&ADMIN, b, "id", v, sizeof v), 400);
    /* The same holds for a change of visibility: the disk is published after
     * its kernel, and the kernel stays public while a public disk uses it. */
    char cdisk[40], cp[160], ckp[160];
    snprintf(b, sizeof b, "{\"name\":\"x\",\"disk_format\":\"raw\",\"kernel_id\":\"%s\"}", cloudk);
    ST_ASSERT_INT_EQ(create_field(&ADMIN, b, "id", cdisk, sizeof cdisk), 201);
    snprintf(cp, sizeof cp, "/v1/images/%s", cdisk);
    snprintf(ckp, sizeof ckp, "/v1/images/%s", cloudk);
    ST_ASSERT_INT_EQ(api_status("PATCH", cp, &ADMIN, "{\"visibility\":\"public\"}"), 409);
    ST_ASSERT_INT_EQ(api_status("PATCH", ckp, &ADMIN, "{\"visibility\":\"public\"}"), 200);
    ST_ASSERT_INT_EQ(api_status("PATCH", cp, &ADMIN, "{\"visibility\":\"public\"}"), 200);
    ST_ASSERT_INT_EQ(api_status("PATCH", ckp, &ADMIN, "{\"visibility\":\"private\"}"), 409);
    ST_ASSERT_INT_EQ(api_status("PATCH", ckp, &ADMIN, "{\"name\":\"ck2\"}"), 200);
    ST_ASSERT_INT_EQ(api_status("DELETE", cp, &ADMIN, NULL), 204);
    ST_ASSERT_INT_EQ(api_status("PATCH", ckp, &ADMIN, "{\"visibility\":\"private\"}"), 200);
    ST_ASSERT_INT_EQ(api_status("DELETE", ckp, &ADMIN, NULL), 204);
    /* How an image boots is fixed at creation. */
    ST_ASSERT_INT_EQ(api_status("PATCH", p, &A, "{\"boot\":\"firmware\"}"), 400);
    /* A kernel a disk still boots with is not deleted (409); once the disk
     * is gone it is. */
    char kp[160];
    snprintf(kp, sizeof kp, "/v1/images/%s", kern);
    ST_ASSERT_INT_EQ(api_status("DELETE", kp, &A, NULL), 409);
    ST_ASSERT_INT_EQ(api_status("DELETE", p, &A, NULL), 204);
    ST_ASSERT_INT_EQ(api_status("DELETE", kp, &A, NULL), 204);
    /* the public kernel (queued) would show in other tests' lists */
    snprintf(p, sizeof p, "/v1/images/%s", other);
    ST_ASSERT_INT_EQ(api_status("DELETE", p, &B, NULL), 204);
    snprintf(p, sizeof p, "/v1/images/%s", pubk);
    ST_ASSERT_INT_EQ(api_status("DELETE", p, &ADMIN, NULL), 204);
}

static CU_TestInfo tests[] = {
    {"upload, download and HEAD round-trip with SHA-256; ranges give 206/416", test_roundtrip},
    {"identical bytes are stored once; the blob goes with its last image", test_dedup_and_gc},
    {"tenants never see each other's private images; roles and publishing", test_isolation},
    {"images boot by firmware (disks' default) or as kernels; kernel_id/ramdisk_id validated",
     test_boot_kinds_and_kernels},
    {"signed URLs work once minted and refuse tampering, method swaps, expiry; nodes read",
     test_signed_urls_and_nodes},
    {"a browser's CORS preflight is answered; the signature still decides",
     test_browser_preflight_and_cors},
    {"qcow2 uploads are validated; hostile headers get 400 with the reason", test_qcow2_validation},
    {"an overlay flattened by stratus_disk uploads as a new image (instance snapshot)",
     test_snapshot_uploads},
    {"interrupted uploads leave a killed image and no blob; chunked uploads work",
     test_interrupted_and_chunked},
    {"lists page by marker; bad bodies, ids, methods and states get clear errors",
     test_listing_and_validation},
    {"SIGTERM stops the service cleanly (and its log has no sanitizer report)", test_clean_stop},
    {"the service token is refused from addresses other than the gateway's",
     test_service_token_only_from_the_gateway},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"service", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
