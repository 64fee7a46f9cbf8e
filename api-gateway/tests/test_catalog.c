/* The catalogue: flavors (cloud admin only), image visibility and
 * publishing, keypairs (validated; fingerprints as ssh-keygen prints them),
 * and quotas (limits, usage, admin changes). */
#include "gwt.h"
#include "st_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gwt T;
static gwt_tenant A, B;

static int suite_init(void)
{
    gwt_start(&T, "gw_catalog", NULL);
    gwt_make_tenant(&T, "cat-a", &A);
    gwt_make_tenant(&T, "cat-b", &B);
    return 0;
}

static int suite_clean(void)
{
    gwt_free_tenant(&A);
    gwt_free_tenant(&B);
    gwt_stop(&T);
    return 0;
}

static void test_flavors_are_defined_by_cloud_admins(void)
{
    const char *f = "{\"name\":\"c1.large\",\"vcpus\":4,\"memory_mib\":8192,\"disk_gib\":80}";
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", "/v1/flavors", A.admin, f), 403);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/flavors", T.admin_token, f), 201);
    char path[128];
    snprintf(path, sizeof path, "/v1/flavors/%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", "/v1/flavors", T.admin_token, f), 409);
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", "/v1/flavors", T.admin_token,
                                "{\"name\":\"zero\",\"vcpus\":0,\"memory_mib\":64,\"disk_gib\":1}"),
                     400);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.reader, NULL), 200);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "memory_mib")), 8192);
    st_resp_free(&r);
    /* a disabled flavor disappears from tenants' lists, not from admins' */
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, T.admin_token, "{\"disabled\":true}"), 200);
    gwt_call(&T, &r, "GET", "/v1/flavors", A.reader, NULL);
    CU_ASSERT_PTR_NULL(strstr(r.body, "c1.large"));
    st_resp_free(&r);
    gwt_call(&T, &r, "GET", "/v1/flavors", T.admin_token, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "c1.large"));
    st_resp_free(&r);
    /* ... and by id alike: a tenant member is told there is no such flavor */
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, A.reader, NULL), 404);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, A.admin, NULL), 404);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, T.admin_token, NULL), 200);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, T.admin_token, NULL), 204);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, A.reader, NULL), 404);
}

static void test_image_visibility_and_publishing(void)
{
    st_resp r;
    ST_ASSERT_INT_EQ(
        gwt_status(&T, "POST", "/v1/images", A.member,
                   "{\"name\":\"x\",\"disk_format\":\"raw\",\"visibility\":\"public\"}"),
        403);
    ST_ASSERT_INT_EQ(
        gwt_status(&T, "POST", "/v1/images", A.member, "{\"name\":\"x\",\"disk_format\":\"vmdk\"}"),
        400);
    ST_ASSERT_INT_EQ(
        gwt_status(&T, "POST", "/v1/images", A.reader, "{\"name\":\"x\",\"disk_format\":\"raw\"}"),
        403);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/images", A.member,
                              "{\"name\":\"a-image\",\"disk_format\":\"qcow2\"}"),
                     201);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "status")), "queued");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "visibility")), "private");
    char path[128];
    snprintf(path, sizeof path, "/v1/images/%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, B.reader, NULL), 404);
    /* the owner may rename it but not publish it */
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, A.member, "{\"name\":\"renamed\"}"), 200);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, A.member, "{\"visibility\":\"public\"}"), 403);
    /* a cloud admin publishes it: now B sees it, but may not change it */
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, T.admin_token, "{\"visibility\":\"public\"}"),
                     200);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, B.reader, NULL), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "name")), "renamed");
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, B.admin, NULL), 403);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, B.admin, "{\"name\":\"mine\"}"), 403);
    /* its owner deletes it: gone for everyone */
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.member, NULL), 204);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, B.reader, NULL), 404);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, A.reader, NULL), 404);
}

/* ssh-keygen, the real tool, is the judge of key formats and fingerprints. */
static int keygen(const char *type, const char *path, char *pub, size_t publen, char *fp,
                  size_t fplen)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "rm -f %s %s.pub; ssh-keygen -q -t %s -N '' -C tester -f %s"
             " </dev/null >/dev/null 2>&1",
             path, path, type, path);
    if (system(cmd) != 0)
        return -1;
    snprintf(cmd, sizeof cmd, "%s.pub", path);
    FILE *f = fopen(cmd, "r");
    if (!f || !fgets(pub, (int)publen, f))
        return -1;
    fclose(f);
    pub[strcspn(pub, "\n")] = 0;
    snprintf(cmd, sizeof cmd, "ssh-keygen -l -E sha256 -f %s.pub", path);
    FILE *p = popen(cmd, "r");
    char line[512];
    if (!p || !fgets(line, sizeof line, p))
        return -1;
    pclose(p);
    return sscanf(line, "%*d %127s", fp) == 1 && fplen > 0 ? 0 : -1;
}

static void test_keypairs_match_ssh_keygen(void)
{
    if (system("command -v ssh-keygen >/dev/null") != 0)
        st_skip("ssh-keygen is not installed (openssh-client)");
    const char *types[] = {"ed25519", "rsa", "ecdsa"};
    for (int i = 0; i < 3; i++) {
        char path[256], pub[4096], fp[128];
        snprintf(path, sizeof path, "%s/key-%s", T.dir, types[i]);
        CU_ASSERT_FATAL(keygen(types[i], path, pub, sizeof pub, fp, sizeof fp) == 0);
        char name[32];
        snprintf(name, sizeof name, "k-%s", types[i]);
        char *b = st_jsonf("{s:s, s:s}", "name", name, "public_key", pub);
        st_resp r;
        ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/keypairs", A.member, b), 201);
        ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "fingerprint")), fp);
        st_resp_free(&r);
        free(b);
    }
    /* what is not a public key is refused, saying why */
    char path[256], pub[4096], fp[128];
    snprintf(path, sizeof path, "%s/key-priv", T.dir);
    CU_ASSERT_FATAL(keygen("ed25519", path, pub, sizeof pub, fp, sizeof fp) == 0);
    char *space = strchr(pub, ' ');
    char mismatched[4200];
    snprintf(mismatched, sizeof mismatched, "ssh-rsa%s", space); /* ed25519 data, rsa type */
    const char *bad[] = {"",
                         "ssh-ed25519",
                         "ssh-ed25519 !!!notbase64!!!",
                         "ssh-dss AAAAB3Nza",
                         mismatched,
                         "-----BEGIN OPENSSH PRIVATE KEY-----",
                         "ssh-ed25519 AAAA\nssh-rsa AAAA"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *b = st_jsonf("{s:s, s:s}", "name", "bad", "public_key", bad[i]);
        st_resp r;
        gwt_call(&T, &r, "POST", "/v1/keypairs", A.member, b);
        st_assert_fmt(r.status == 400, 0, __FILE__, __LINE__, "bad key %zu: %ld", i, r.status);
        st_resp_free(&r);
        free(b);
    }
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", "/v1/keypairs", A.member,
                                "{\"name\":\"k-ed25519\",\"public_key\":\"x\"}"),
                     400);
}

static void test_quota_limits_are_admin_set_and_usage_derived(void)
{
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/quotas", A.reader, NULL), 200);
    json_t *lim = json_object_get(r.json, "limits");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(lim, "instances")), 10);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(lim, "vcpus")), 20);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(json_object_get(r.json, "usage"), "vcpus")),
                     0);
    st_resp_free(&r);
    char path[128];
    snprintf(path, sizeof path, "/v1/tenants/%s/quotas", A.id);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, A.admin, "{\"vcpus\":100}"), 403);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, T.admin_token, "{\"vcpus\":-1}"), 400);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "PUT", path, T.admin_token, "{\"vcpus\":3}"), 200);
    lim = json_object_get(r.json, "limits");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(lim, "vcpus")), 3);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(lim, "instances")), 10); /* unchanged */
    st_resp_free(&r);
    /* a flavor larger than the vCPU quota is refused with the numbers */
    char *node = gwt_make_node(&T, "cat-node", 64, 65536, 1000);
    ST_ASSERT_INT_EQ(
        gwt_status(&T, "POST", "/v1/flavors", T.admin_token,
                   "{\"name\":\"four\",\"vcpus\":4,\"memory_mib\":256,\"disk_gib\":1}"),
        201);
    gwt_call(&T, &r, "POST", "/v1/images", T.admin_token,
             "{\"name\":\"pub\",\"disk_format\":\"raw\",\"visibility\":\"public\"}");
    char pub_id[40];
    snprintf(pub_id, sizeof pub_id, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    /* queued (no data yet): refused as such */
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/instances", A.member,
                              "{\"name\":\"early\",\"flavor\":\"four\",\"image\":\"pub\"}"),
                     400);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "not active"));
    st_resp_free(&r);
    char sector[512] = {0};
    ST_ASSERT_INT_EQ(gwt_upload_image(&T, T.admin_token, pub_id, sector, sizeof sector), 200);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/instances", A.member,
                              "{\"name\":\"big\",\"flavor\":\"four\",\"image\":\"pub\"}"),
                     409);
    ST_ASSERT_STR_EQ(st_resp_error_code(&r), "quota_exceeded");
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "vCPUs"));
    st_resp_free(&r);
    free(node);
}

/* The API takes limits up to 2^40 for every resource; each one is stored and
 * read back whole, and one more is a 400 naming the field. */
static void test_quota_limits_take_the_documented_range(void)
{
    static const char *const keys[] = {"instances", "vcpus", "memory_mib",      "disk_gib",
                                       "networks",  "ports", "security_groups", "floating_ips"};
    char path[128], body[128];
    snprintf(path, sizeof path, "/v1/tenants/%s/quotas", B.id);
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        st_resp r;
        snprintf(body, sizeof body, "{\"%s\":2147483648}", keys[i]);
        ST_ASSERT_INT_EQ(gwt_call(&T, &r, "PUT", path, T.admin_token, body), 200);
        ST_ASSERT_INT_EQ(
            json_integer_value(json_object_get(json_object_get(r.json, "limits"), keys[i])),
            2147483648LL);
        st_resp_free(&r);
        snprintf(body, sizeof body, "{\"%s\":1099511627776}", keys[i]);
        ST_ASSERT_INT_EQ(gwt_call(&T, &r, "PUT", path, T.admin_token, body), 200);
        ST_ASSERT_INT_EQ(
            json_integer_value(json_object_get(json_object_get(r.json, "limits"), keys[i])),
            1099511627776LL);
        st_resp_free(&r);
        snprintf(body, sizeof body, "{\"%s\":1099511627777}", keys[i]);
        ST_ASSERT_INT_EQ(gwt_call(&T, &r, "PUT", path, T.admin_token, body), 400);
        ST_ASSERT_STR_EQ(st_resp_error_code(&r), "invalid_request");
        CU_ASSERT_PTR_NOT_NULL(strstr(r.body, keys[i]));
        st_resp_free(&r);
    }
    /* the tenant still works under limits that large: a network fits */
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/networks", B.member, "{\"name\":\"big-quota\"}"),
                     201);
    st_resp_free(&r);
}

/* The image service's boot properties through the gateway's proxy: the
 * defaults, a disk naming the tenant's kernel and ramdisk, and the errors
 * (400, 404 for another tenant's kernel) as the image service gives them. */
static void test_image_boot_through_the_gateway(void)
{
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/images", A.member,
                              "{\"name\":\"cloud-disk\",\"disk_format\":\"qcow2\"}"),
                     201);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "kind")), "disk");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "boot")), "firmware");
    ST_ASSERT_INT_EQ(json_is_null(json_object_get(r.json, "kernel_id")), 1);
    st_resp_free(&r);
    char kern[40], rd[40], b[300];
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/images", A.member,
                              "{\"name\":\"vmlinuz\",\"disk_format\":\"raw\",\"kind\":\"kernel\"}"),
                     201);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "boot")), "kernel");
    snprintf(kern, sizeof kern, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/images", A.member,
                              "{\"name\":\"initrd\",\"disk_format\":\"raw\",\"kind\":\"ramdisk\"}"),
                     201);
    ST_ASSERT_INT_EQ(json_is_null(json_object_get(r.json, "boot")), 1);
    snprintf(rd, sizeof rd, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    snprintf(
        b, sizeof b,
        "{\"name\":\"root\",\"disk_format\":\"raw\",\"kernel_id\":\"%s\",\"ramdisk_id\":\"%s\"}",
        kern, rd);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/images", A.member, b), 201);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "boot")), "kernel");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "kernel_id")), kern);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "ramdisk_id")), rd);
    char root[128];
    snprintf(root, sizeof root, "/v1/images/%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    /* B cannot boot A's kernel: 404, as for any image it cannot see */
    snprintf(b, sizeof b, "{\"name\":\"x\",\"disk_format\":\"raw\",\"kernel_id\":\"%s\"}", kern);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/images", B.member, b), 404);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(r.json, "error"), "code")),
                     "not_found");
    st_resp_free(&r);
    /* a ramdisk as the kernel, a ramdisk without one: 400 with the reason */
    snprintf(b, sizeof b, "{\"name\":\"x\",\"disk_format\":\"raw\",\"kernel_id\":\"%s\"}", rd);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/images", A.member, b), 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body ? r.body : "", "not a kernel"));
    st_resp_free(&r);
    snprintf(b, sizeof b, "{\"name\":\"x\",\"disk_format\":\"raw\",\"ramdisk_id\":\"%s\"}", rd);
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", "/v1/images", A.member, b), 400);
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", "/v1/images", A.member,
                                "{\"name\":\"x\",\"disk_format\":\"raw\",\"boot\":\"pxe\"}"),
                     400);
    /* the kernel stays while a disk names it */
    char kp[128];
    snprintf(kp, sizeof kp, "/v1/images/%s", kern);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", kp, A.member, NULL), 409);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", root, A.member, NULL), 204);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", kp, A.member, NULL), 204);
}

static CU_TestInfo tests[] = {
    {"flavors are defined by cloud admins; disabled ones hide",
     test_flavors_are_defined_by_cloud_admins},
    {"image visibility: private, published by admins, owner deletes",
     test_image_visibility_and_publishing},
    {"images' boot, kernel_id and ramdisk_id pass the gateway, errors included",
     test_image_boot_through_the_gateway},
    {"keypairs: fingerprints match ssh-keygen; bad keys refused", test_keypairs_match_ssh_keygen},
    {"quotas: admin-set limits, derived usage, enforced",
     test_quota_limits_are_admin_set_and_usage_derived},
    {"quotas: limits up to 2^40 are stored whole, more is a 400",
     test_quota_limits_take_the_documented_range},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"catalog", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
