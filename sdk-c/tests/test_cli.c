/* The `stratus` CLI against the real gateway: login writes the config and
 * token mode 0600; instance, image, flavor, keypair, usage, invoice and host
 * commands in table and JSON output; networking (networks, subnets, ports,
 * security groups and rules, routers, floating IPs, an instance's NICs) and
 * administration (tenants, members, users, quotas, flavors, plans, periods,
 * API keys, hosts) with their JSON parsed; the documented exit codes; --help
 * on every command in `stratus --help`; bash completion. The node's reports
 * are sent through the gateway's node API (gwt.h), as an agent would. */
#include "gwt.h"
#include "run.h"
#include "st_test.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static gwt T;
static gwt_tenant A;
static char flavor[40], image[40];
static char *node;
static char cfg[] = "/tmp/sdk-cli-XXXXXX";
static char admin_cfg[128];
static const char *bin;

/* `stratus` as the tenant's member (or, with CFG set to admin_cfg, the admin). */
#define CLI(out, ...) sdk_run(NULL, out, "STRATUS_CONFIG_DIR='%s' '%s' " __VA_ARGS__)

static int suite_init(void)
{
    gwt_start(&T, "sdk_cli", NULL);
    gwt_make_tenant(&T, "cli-a", &A);
    gwt_make_catalog(&T, flavor, image);
    node = gwt_make_node(&T, "cli-node", 64, 262144, 10000);
    if (!mkdtemp(cfg))
        return 1;
    snprintf(admin_cfg, sizeof admin_cfg, "%s/admin", cfg);
    bin = st_build_path("sdk-c/stratus");
    return 0;
}

static int suite_clean(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cfg);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", cfg);
    free(node);
    gwt_free_tenant(&A);
    gwt_stop(&T);
    return 0;
}

static void test_not_signed_in_exits_3(void)
{
    ST_ASSERT_INT_EQ(CLI(NULL, "instance list", cfg, bin), 3);
    ST_ASSERT_INT_EQ(CLI(NULL, "instance bogus", cfg, bin), 2);
    ST_ASSERT_INT_EQ(CLI(NULL, "nosuchcommand", cfg, bin), 2);
}

static void test_login_saves_config_and_token_0600(void)
{
    ST_ASSERT_INT_EQ(sdk_run("wrong-password\n", NULL,
                             "STRATUS_CONFIG_DIR='%s' '%s' login --url %s --user cli-a-member"
                             " --password-stdin",
                             cfg, bin, T.base),
                     3);
    ST_ASSERT_INT_EQ_FATAL(sdk_run("password-123\n", NULL,
                                   "STRATUS_CONFIG_DIR='%s' '%s' login --url %s --user cli-a-member"
                                   " --tenant cli-a --password-stdin",
                                   cfg, bin, T.base),
                           0);
    char p[256];
    struct stat st;
    snprintf(p, sizeof p, "%s/token", cfg);
    ST_ASSERT_INT_EQ_FATAL(stat(p, &st), 0);
    ST_ASSERT_INT_EQ(st.st_mode & 0777, 0600);
    snprintf(p, sizeof p, "%s/config", cfg);
    ST_ASSERT_INT_EQ_FATAL(stat(p, &st), 0);
    ST_ASSERT_INT_EQ(st.st_mode & 0777, 0600);
    char *out;
    ST_ASSERT_INT_EQ(CLI(&out, "whoami", cfg, bin), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "cli-a-member"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "member"));
    free(out);
    ST_ASSERT_INT_EQ(sdk_run("admin-password-1\n", NULL,
                             "STRATUS_CONFIG_DIR='%s' '%s' login --url %s --user admin"
                             " --tenant admin --password-stdin",
                             admin_cfg, bin, T.base),
                     0);
}

static char created[40];

static void *report_active_later(void *p)
{
    usleep(300 * 1000);
    gwt_report(&T, node, created, "active", gwt_instance_generation(&T, NULL, created));
    return NULL;
}

static void test_instance_commands(void)
{
    char *out;
    ST_ASSERT_INT_EQ_FATAL(CLI(&out,
                               "--output json instance create cli-vm --flavor %s --image %s"
                               " --network none",
                               cfg, bin, flavor, image),
                           0);
    json_t *j = json_loads(out, 0, NULL);
    free(out);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    snprintf(created, sizeof created, "%s", json_string_value(json_object_get(j, "id")));
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "state")), "building");
    json_decref(j);

    ST_ASSERT_INT_EQ(CLI(&out, "instance list", cfg, bin), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "NAME"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "cli-vm"));
    free(out);
    ST_ASSERT_INT_EQ(CLI(&out, "instance list --output json", cfg, bin), 0);
    j = json_loads(out, 0, NULL);
    free(out);
    CU_ASSERT(json_is_array(j) && json_array_size(j) == 1);
    json_decref(j);

    /* exit codes a script can rely on */
    ST_ASSERT_INT_EQ(CLI(NULL, "instance show 00000000-0000-4000-8000-000000000000", cfg, bin), 5);
    ST_ASSERT_INT_EQ(CLI(NULL, "instance stop %s", cfg, bin, created), 6);
    ST_ASSERT_INT_EQ(CLI(NULL, "instance wait %s --timeout 1", cfg, bin, created), 8);
    ST_ASSERT_INT_EQ(CLI(NULL, "instance create", cfg, bin), 2);

    pthread_t th;
    pthread_create(&th, NULL, report_active_later, NULL);
    ST_ASSERT_INT_EQ(CLI(&out, "instance wait %s --timeout 30", cfg, bin, created), 0);
    pthread_join(th, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "active"));
    free(out);
    ST_ASSERT_INT_EQ(CLI(NULL, "instance stop %s", cfg, bin, created), 0);
    ST_ASSERT_INT_EQ(
        gwt_report(&T, node, created, "stopped", gwt_instance_generation(&T, NULL, created)), 200);
    ST_ASSERT_INT_EQ(CLI(NULL, "instance start %s", cfg, bin, created), 0);
    ST_ASSERT_INT_EQ(
        gwt_report(&T, node, created, "active", gwt_instance_generation(&T, NULL, created)), 200);
    /* a snapshot prints the new image (queued: no node uploads it here) */
    ST_ASSERT_INT_EQ(CLI(NULL, "instance snapshot %s", cfg, bin, created), 2);
    ST_ASSERT_INT_EQ(CLI(&out, "instance snapshot %s cli-snap --output json", cfg, bin, created),
                     0);
    j = json_loads(out, 0, NULL);
    free(out);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "status")), "queued");
    char *sb = st_jsonf("{s:s, s:I, s:s, s:s}", "state", "active", "generation",
                        (json_int_t)gwt_instance_generation(&T, NULL, created), "snapshot_image_id",
                        json_string_value(json_object_get(j, "id")), "snapshot_fault", "no disk");
    json_decref(j);
    char sp[128];
    snprintf(sp, sizeof sp, "/internal/v1/node/instances/%s", created);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", sp, node, sb), 200); /* the task ends */
    free(sb);
    ST_ASSERT_INT_EQ(CLI(NULL, "instance reboot %s", cfg, bin, created), 0);

    char url[256];
    snprintf(url, sizeof url, "%s/internal/v1/node/instances/%s/console", T.base, created);
    const char *ct[] = {"Content-Type: text/plain", NULL};
    st_resp r;
    const char text[] = "hello from the guest\n";
    st_http_n(&r, "PUT", url, node, text, sizeof text - 1, ct);
    ST_ASSERT_INT_EQ(r.status, 204);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(CLI(&out, "instance console %s", cfg, bin, created), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "hello from the guest"));
    free(out);
    ST_ASSERT_INT_EQ(CLI(NULL, "instance delete %s", cfg, bin, created), 0);
}

/* `stratus --output json ARGS` with config dir d: the exit status must be 0
 * and the output JSON, returned (NULL, after a failed assertion, if not). */
static json_t *J(const char *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *J(const char *d, const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *out = NULL;
    int rc = sdk_run(NULL, &out, "STRATUS_CONFIG_DIR='%s' '%s' --output json %s", d, bin, args);
    json_t *j = rc == 0 && out ? json_loads(out, 0, NULL) : NULL;
    st_assert_fmt(j != NULL, 0, __FILE__, __LINE__, "stratus %s: exit %d, output %s", args, rc,
                  out ? out : "(none)");
    free(out);
    return j;
}

/* The exit status of `stratus ARGS` with config dir d (output dropped). */
static int X(const char *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int X(const char *d, const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return sdk_run(NULL, NULL, "STRATUS_CONFIG_DIR='%s' '%s' %s >/dev/null", d, bin, args);
}

/* A string member of o ("" when missing), and a copy into a buffer. */
static const char *js(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}
#define ID(buf, j) snprintf(buf, sizeof buf, "%s", js(j, "id"))

static void test_image_commands(void)
{
    char file[] = "/tmp/sdk-cli-img-XXXXXX";
    int fd = mkstemp(file);
    char block[65536] = {1};
    for (int k = 0; k < 32; k++)
        CU_ASSERT(write(fd, block, sizeof block) == (ssize_t)sizeof block);
    close(fd);
    char *out, errf[256];
    snprintf(errf, sizeof errf, "%s/upload.err", cfg);
    ST_ASSERT_INT_EQ_FATAL(sdk_run(NULL, &out,
                                   "STRATUS_CONFIG_DIR='%s' '%s' --output json image upload %s"
                                   " --name cli-img --progress 2>'%s'",
                                   cfg, bin, file, errf),
                           0);
    json_t *j = json_loads(out, 0, NULL);
    free(out);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "status")), "active");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(j, "size_bytes")), 32 * 65536);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "boot")), "firmware");
    char id[40];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    /* the progress bar reached 100% */
    FILE *f = fopen(errf, "r");
    char err[4096] = "";
    size_t n = f ? fread(err, 1, sizeof err - 1, f) : 0;
    err[n] = 0;
    if (f)
        fclose(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "100%"));
    ST_ASSERT_INT_EQ(CLI(&out, "image list", cfg, bin), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "cli-img"));
    free(out);
    ST_ASSERT_INT_EQ(CLI(&out, "image show %s", cfg, bin, id), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "active"));
    free(out);
    /* how an image boots: a disk by default boots through firmware; a kernel
     * image, and a disk that boots it with itself as the root disk */
    CU_ASSERT_PTR_NOT_NULL_FATAL(
        (j = J(cfg, "image upload %s --name cli-kernel --kind kernel --no-progress", file)));
    ST_ASSERT_STR_EQ(js(j, "kind"), "kernel");
    ST_ASSERT_STR_EQ(js(j, "boot"), "kernel");
    char kernel[40];
    ID(kernel, j);
    json_decref(j);
    CU_ASSERT_PTR_NOT_NULL_FATAL(
        (j = J(cfg, "image upload %s --name cli-root --kernel %s --no-progress", file, kernel)));
    ST_ASSERT_STR_EQ(js(j, "kind"), "disk");
    ST_ASSERT_STR_EQ(js(j, "boot"), "kernel");
    ST_ASSERT_STR_EQ(js(j, "kernel_id"), kernel);
    char root[40];
    ID(root, j);
    json_decref(j);
    /* a kernel a disk still names cannot go (409: exit 6) */
    ST_ASSERT_INT_EQ(CLI(NULL, "image delete %s", cfg, bin, kernel), 6);
    ST_ASSERT_INT_EQ(CLI(NULL, "image delete %s", cfg, bin, root), 0);
    ST_ASSERT_INT_EQ(CLI(NULL, "image delete %s", cfg, bin, kernel), 0);
    ST_ASSERT_INT_EQ(CLI(NULL, "image delete %s", cfg, bin, id), 0);
    ST_ASSERT_INT_EQ(CLI(NULL, "image show %s", cfg, bin, id), 5);
    unlink(file);
}

static void test_catalog_billing_and_hosts(void)
{
    char *out;
    ST_ASSERT_INT_EQ(CLI(&out, "flavor list", cfg, bin), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "m1.small"));
    free(out);
    char key[256];
    snprintf(key, sizeof key, "%s/id.pub", cfg);
    FILE *f = fopen(key, "w");
    fputs("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHbQk4z7p5lP8Q2Wl0XQpV8Y1c6l2y2eJ2s0u8gkqVZK cli\n",
          f);
    fclose(f);
    ST_ASSERT_INT_EQ(CLI(&out, "keypair create cli-key --public-key-file %s", cfg, bin, key), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "SHA256:"));
    free(out);
    ST_ASSERT_INT_EQ(CLI(NULL, "keypair create cli-key --public-key-file %s", cfg, bin, key), 6);
    ST_ASSERT_INT_EQ(CLI(&out, "--output json keypair list", cfg, bin), 0);
    json_t *j = json_loads(out, 0, NULL);
    free(out);
    CU_ASSERT_FATAL(json_is_array(j) && json_array_size(j) == 1);
    char id[40];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(json_array_get(j, 0), "id")));
    json_decref(j);
    ST_ASSERT_INT_EQ(CLI(NULL, "keypair delete %s", cfg, bin, id), 0);

    ST_ASSERT_INT_EQ(
        gwt_bill_sample(&T, A.id, "22222222-2222-4222-8222-222222222222", 1, 2000000000LL), 200);
    ST_ASSERT_INT_EQ(CLI(&out, "usage --granularity day", cfg, bin), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"usage\""));
    free(out);
    ST_ASSERT_INT_EQ(CLI(&out, "invoice list", cfg, bin), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "draft"));
    free(out);
    ST_ASSERT_INT_EQ(CLI(&out, "invoice list --output json", cfg, bin), 0);
    j = json_loads(out, 0, NULL);
    free(out);
    char inv[64] = "";
    for (size_t k = 0; k < json_array_size(j); k++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(j, k), "status")), "draft"))
            snprintf(inv, sizeof inv, "%s",
                     json_string_value(json_object_get(json_array_get(j, k), "id")));
    json_decref(j);
    CU_ASSERT_FATAL(inv[0] != 0);
    ST_ASSERT_INT_EQ(CLI(&out, "invoice show %s", cfg, bin, inv), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "period"));
    free(out);
    char pdf[256];
    snprintf(pdf, sizeof pdf, "%s/inv.pdf", cfg);
    ST_ASSERT_INT_EQ(CLI(NULL, "invoice download %s --format pdf --file %s", cfg, bin, inv, pdf),
                     0);
    f = fopen(pdf, "rb");
    char magic[5] = "";
    CU_ASSERT(f && fread(magic, 1, 4, f) == 4);
    if (f)
        fclose(f);
    ST_ASSERT_STR_EQ(magic, "%PDF");

    ST_ASSERT_INT_EQ(
        CLI(&out, "--output json network create cli-net --subnet 10.7.0.0/24", cfg, bin), 0);
    j = json_loads(out, 0, NULL);
    free(out);
    CU_ASSERT_FATAL(json_is_object(j));
    char net[40];
    snprintf(net, sizeof net, "%s", json_string_value(json_object_get(j, "id")));
    CU_ASSERT(json_array_size(json_object_get(j, "subnets")) == 1);
    json_decref(j);
    ST_ASSERT_INT_EQ(CLI(&out, "network list", cfg, bin), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "cli-net"));
    free(out);
    ST_ASSERT_INT_EQ(CLI(NULL, "network delete %s", cfg, bin, net), 0);
    ST_ASSERT_INT_EQ(CLI(NULL, "network show %s", cfg, bin, net), 5);
    ST_ASSERT_INT_EQ(CLI(NULL, "plan list", cfg, bin), 4);
    ST_ASSERT_INT_EQ(CLI(&out, "plan list", admin_cfg, bin), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "plans"));
    free(out);
    ST_ASSERT_INT_EQ(CLI(&out, "tenant quota %s --set '{\"instances\":7}'", admin_cfg, bin, A.id),
                     0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "instances"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "7"));
    free(out);

    ST_ASSERT_INT_EQ(CLI(NULL, "host list", cfg, bin), 4);
    ST_ASSERT_INT_EQ(CLI(&out, "host list", admin_cfg, bin), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "cli-node"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "POWER"));
    free(out);
    /* power verbs: usage, a member refused, and this gateway has no power
     * command (gateway_power runs them) */
    ST_ASSERT_INT_EQ(CLI(NULL, "host power-off", admin_cfg, bin), 2);
    ST_ASSERT_INT_EQ(CLI(NULL, "host power-on 00000000-0000-4000-8000-000000000000", cfg, bin), 4);
    ST_ASSERT_INT_EQ(
        CLI(NULL, "host power-off 00000000-0000-4000-8000-000000000000", admin_cfg, bin), 6);
    /* the rebalancing plan: a dry run, JSON */
    ST_ASSERT_INT_EQ(CLI(NULL, "scheduler rebalance", admin_cfg, bin), 2);
    ST_ASSERT_INT_EQ(CLI(NULL, "scheduler rebalance --dry-run --threshold x", admin_cfg, bin), 2);
    ST_ASSERT_INT_EQ(CLI(NULL, "scheduler rebalance --dry-run", cfg, bin), 4);
    ST_ASSERT_INT_EQ(
        CLI(&out, "scheduler rebalance --dry-run --threshold 0.3 --max-moves 5", admin_cfg, bin),
        0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"imbalance_before\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"max_moves\":5"));
    free(out);
    /* --run carries it out (started, skipped); not both, not for a member */
    ST_ASSERT_INT_EQ(CLI(NULL, "scheduler rebalance --dry-run --run", admin_cfg, bin), 2);
    ST_ASSERT_INT_EQ(CLI(NULL, "scheduler rebalance --run", cfg, bin), 4);
    ST_ASSERT_INT_EQ(CLI(&out, "scheduler rebalance --run --max-moves 3", admin_cfg, bin), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"dry_run\":false"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"started\""));
    free(out);
    /* the consolidation plan the same way: a dry run, then carried out */
    ST_ASSERT_INT_EQ(CLI(NULL, "scheduler consolidation", admin_cfg, bin), 2);
    ST_ASSERT_INT_EQ(CLI(NULL, "scheduler consolidation --run --target x", admin_cfg, bin), 2);
    ST_ASSERT_INT_EQ(CLI(NULL, "scheduler consolidation --run", cfg, bin), 4);
    ST_ASSERT_INT_EQ(
        CLI(&out, "scheduler consolidation --dry-run --target 0.9 --max-moves 4", admin_cfg, bin),
        0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"nodes_emptied\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"max_moves\":4"));
    free(out);
    ST_ASSERT_INT_EQ(CLI(&out, "scheduler consolidation --run", admin_cfg, bin), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"dry_run\":false"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"draining\""));
    free(out);
}

/* Whether a JSON array holds an object whose key is val. */
static int has(json_t *a, const char *key, const char *val)
{
    for (size_t k = 0; k < json_array_size(a); k++)
        if (!strcmp(js(json_array_get(a, k), key), val))
            return 1;
    return 0;
}

/* The whole networking surface as a member (the external network is the
 * cloud admin's): every command group with --output json parsed, tables
 * read, and the exit codes for not found, forbidden and bad input. */
static void test_network_commands(void)
{
    char ext[40], net[40], sub[40], sg[40], rule[40], port[40], router[40], fip[40], inst[40];
    json_t *j = J(admin_cfg, "network create cli-ext --external --subnet 198.51.100.0/24");
    CU_ASSERT_FATAL(j != NULL);
    ID(ext, j);
    CU_ASSERT(json_is_true(json_object_get(j, "external")));
    json_decref(j);
    /* only a cloud admin makes an external network */
    ST_ASSERT_INT_EQ(X(cfg, "network create cli-ext2 --external"), 4);

    CU_ASSERT_FATAL((j = J(cfg, "network create cli-n2 --mtu 1400")) != NULL);
    ID(net, j);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(j, "mtu")), 1400);
    json_decref(j);
    ST_ASSERT_INT_EQ(X(cfg, "network create cli-n3 --mtu big"), 2);
    CU_ASSERT_FATAL((j = J(cfg, "network update %s --name cli-n2b", net)) != NULL);
    ST_ASSERT_STR_EQ(js(j, "name"), "cli-n2b");
    json_decref(j);
    ST_ASSERT_INT_EQ(X(cfg, "network update %s", net), 2);
    char *out;
    ST_ASSERT_INT_EQ(CLI(&out, "network show %s", cfg, bin, net), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "cli-n2b"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "1400"));
    free(out);

    CU_ASSERT_FATAL(
        (j = J(cfg, "subnet create %s 10.9.0.0/24 --name cli-s --dns 192.0.2.53", net)) != NULL);
    ID(sub, j);
    ST_ASSERT_STR_EQ(js(j, "cidr"), "10.9.0.0/24");
    ST_ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(j, "dns_nameservers"), 0)),
                     "192.0.2.53");
    json_decref(j);
    CU_ASSERT_FATAL((j = J(cfg, "subnet list --network %s", net)) != NULL);
    CU_ASSERT(json_array_size(j) == 1 && has(j, "id", sub));
    json_decref(j);
    ST_ASSERT_INT_EQ(CLI(&out, "subnet show %s", cfg, bin, sub), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "10.9.0.1"));
    free(out);
    ST_ASSERT_INT_EQ(X(cfg, "subnet show 00000000-0000-4000-8000-000000000000"), 5);

    CU_ASSERT_FATAL((j = J(cfg, "security-group create cli-sg --description ssh")) != NULL);
    ID(sg, j);
    json_decref(j);
    CU_ASSERT_FATAL((j = J(cfg,
                           "security-group rule add %s --protocol tcp --port 22"
                           " --remote-ip 0.0.0.0/0",
                           sg)) != NULL);
    ID(rule, j);
    ST_ASSERT_STR_EQ(js(j, "direction"), "ingress");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(j, "port_range_min")), 22);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(j, "port_range_max")), 22);
    json_decref(j);
    ST_ASSERT_INT_EQ(X(cfg, "security-group rule add %s --port 22 --port-min 1", sg), 2);
    CU_ASSERT_FATAL((j = J(cfg, "security-group rule list --group %s", sg)) != NULL);
    CU_ASSERT(has(j, "id", rule));
    json_decref(j);
    ST_ASSERT_INT_EQ(CLI(&out, "security-group show %s", cfg, bin, sg), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "22-22"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "0.0.0.0/0"));
    free(out);
    CU_ASSERT_FATAL((j = J(cfg, "security-group list")) != NULL);
    CU_ASSERT(has(j, "name", "cli-sg"));
    json_decref(j);

    CU_ASSERT_FATAL((j = J(cfg,
                           "port create %s --name cli-p --fixed-ip 10.9.0.50"
                           " --security-groups %s",
                           net, sg)) != NULL);
    ID(port, j);
    ST_ASSERT_STR_EQ(js(json_array_get(json_object_get(j, "fixed_ips"), 0), "ip_address"),
                     "10.9.0.50");
    json_decref(j);
    CU_ASSERT_FATAL((j = J(cfg, "port update %s --name cli-p2", port)) != NULL);
    ST_ASSERT_STR_EQ(js(j, "name"), "cli-p2");
    json_decref(j);
    CU_ASSERT_FATAL((j = J(cfg, "port list --network %s", net)) != NULL);
    CU_ASSERT(has(j, "id", port));
    json_decref(j);
    ST_ASSERT_INT_EQ(CLI(&out, "port show %s", cfg, bin, port), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "cli-p2"));
    free(out);

    CU_ASSERT_FATAL((j = J(cfg, "router create cli-r --gateway %s", ext)) != NULL);
    ID(router, j);
    ST_ASSERT_STR_EQ(js(json_object_get(j, "external_gateway_info"), "network_id"), ext);
    json_decref(j);
    CU_ASSERT_FATAL((j = J(cfg, "router add-subnet %s %s", router, sub)) != NULL);
    ST_ASSERT_STR_EQ(js(j, "subnet_id"), sub);
    json_decref(j);
    CU_ASSERT_FATAL((j = J(cfg, "router show %s", router)) != NULL);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(j, "interfaces")), 1);
    json_decref(j);
    CU_ASSERT_FATAL((j = J(cfg, "router list")) != NULL);
    CU_ASSERT(has(j, "id", router));
    json_decref(j);

    CU_ASSERT_FATAL((j = J(cfg, "floating-ip create %s --description cli", ext)) != NULL);
    ID(fip, j);
    CU_ASSERT(strncmp(js(j, "floating_ip_address"), "198.51.100.", 11) == 0);
    CU_ASSERT(json_is_null(json_object_get(j, "port_id")));
    json_decref(j);
    CU_ASSERT_FATAL((j = J(cfg, "floating-ip associate %s %s", fip, port)) != NULL);
    ST_ASSERT_STR_EQ(js(j, "port_id"), port);
    ST_ASSERT_STR_EQ(js(j, "fixed_ip_address"), "10.9.0.50");
    json_decref(j);
    CU_ASSERT_FATAL((j = J(cfg, "floating-ip list")) != NULL);
    CU_ASSERT(has(j, "port_id", port));
    json_decref(j);
    CU_ASSERT_FATAL((j = J(cfg, "floating-ip disassociate %s", fip)) != NULL);
    CU_ASSERT(json_is_null(json_object_get(j, "port_id")));
    json_decref(j);
    ST_ASSERT_INT_EQ(X(cfg, "floating-ip delete %s", fip), 0);
    ST_ASSERT_INT_EQ(X(cfg, "floating-ip show %s", fip), 5);

    /* an instance on the port and on the network: two NICs, in that order;
     * the node beats first, as its agent would (a slow run outlasts
     * nodes.down_after since setup's beat, and a down node places nothing) */
    gwt_heartbeat(&T, node, 64, 262144, 10000);
    CU_ASSERT_FATAL((j = J(cfg,
                           "instance create cli-nic --flavor %s --image %s --port %s"
                           " --network %s",
                           flavor, image, port, net)) != NULL);
    ID(inst, j);
    json_decref(j);
    ST_ASSERT_INT_EQ(X(cfg, "instance create x --flavor %s --image %s --network none --port %s",
                       flavor, image, port),
                     2);
    CU_ASSERT_FATAL((j = J(cfg, "instance interface list %s", inst)) != NULL);
    ST_ASSERT_INT_EQ(json_array_size(j), 2);
    CU_ASSERT(has(j, "id", port));
    json_decref(j);
    /* attach and detach while it is stopped; refused (6) while it is not */
    ST_ASSERT_INT_EQ(X(cfg, "instance interface attach %s --network %s", inst, net), 6);
    ST_ASSERT_INT_EQ(X(cfg, "instance interface attach %s", inst), 2);
    ST_ASSERT_INT_EQ(gwt_report(&T, node, inst, "active", gwt_instance_generation(&T, NULL, inst)),
                     200);
    ST_ASSERT_INT_EQ(X(cfg, "instance stop %s", inst), 0);
    ST_ASSERT_INT_EQ(gwt_report(&T, node, inst, "stopped", gwt_instance_generation(&T, NULL, inst)),
                     200);
    CU_ASSERT_FATAL((j = J(cfg, "instance interface attach %s --network %s", inst, net)) != NULL);
    char nic[40];
    ID(nic, j);
    ST_ASSERT_STR_EQ(js(j, "instance_id"), inst);
    json_decref(j);
    ST_ASSERT_INT_EQ(X(cfg, "instance interface detach %s %s", inst, nic), 0);
    ST_ASSERT_INT_EQ(CLI(&out, "instance interface list %s", cfg, bin, inst), 0);
    CU_ASSERT_PTR_NULL(strstr(out, nic));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, port));
    free(out);
    ST_ASSERT_INT_EQ(X(cfg, "instance delete %s", inst), 0);
    ST_ASSERT_INT_EQ(gwt_report(&T, node, inst, "deleted", gwt_instance_generation(&T, NULL, inst)),
                     200);

    ST_ASSERT_INT_EQ(X(cfg, "router set-gateway %s none", router), 0);
    CU_ASSERT_FATAL((j = J(cfg, "router show %s", router)) != NULL);
    CU_ASSERT(json_is_null(json_object_get(j, "external_gateway_info")));
    json_decref(j);
    ST_ASSERT_INT_EQ(X(cfg, "router remove-subnet %s %s", router, sub), 0);
    ST_ASSERT_INT_EQ(X(cfg, "router delete %s", router), 0);
    ST_ASSERT_INT_EQ(X(cfg, "router show %s", router), 5);
    ST_ASSERT_INT_EQ(X(cfg, "security-group rule delete %s", rule), 0);
    ST_ASSERT_INT_EQ(X(cfg, "security-group rule delete %s", rule), 5);
    ST_ASSERT_INT_EQ(X(cfg, "port delete %s", port), 0);
    ST_ASSERT_INT_EQ(X(cfg, "security-group delete %s", sg), 0);
    ST_ASSERT_INT_EQ(X(cfg, "subnet delete %s", sub), 0);
    ST_ASSERT_INT_EQ(X(cfg, "network delete %s", net), 0);
    ST_ASSERT_INT_EQ(X(cfg, "network delete %s", net), 5);
}

/* Administration as the cloud admin, and what a member may not do. */
static void test_admin_commands(void)
{
    char tn[40], user[40], fl[40], plan[40], key[128], kid[40];
    json_t *j;
    CU_ASSERT_FATAL((j = J(admin_cfg, "tenant create cli-t2 --description second")) != NULL);
    ID(tn, j);
    json_decref(j);
    CU_ASSERT_FATAL((j = J(admin_cfg, "tenant show %s", tn)) != NULL);
    ST_ASSERT_STR_EQ(js(j, "description"), "second");
    json_decref(j);
    CU_ASSERT_FATAL((j = J(admin_cfg, "tenant list")) != NULL);
    CU_ASSERT(has(j, "id", tn));
    json_decref(j);

    /* the password from standard input */
    char *out;
    ST_ASSERT_INT_EQ_FATAL(sdk_run("password-321\n", &out,
                                   "STRATUS_CONFIG_DIR='%s' '%s' --output json user create"
                                   " cli-u2 --password-stdin",
                                   admin_cfg, bin),
                           0);
    j = json_loads(out, 0, NULL);
    free(out);
    CU_ASSERT_FATAL(j != NULL);
    ID(user, j);
    json_decref(j);
    CU_ASSERT_FATAL((j = J(admin_cfg, "user list")) != NULL);
    CU_ASSERT(has(j, "name", "cli-u2"));
    json_decref(j);

    ST_ASSERT_INT_EQ(X(admin_cfg, "tenant member add %s %s --role reader", tn, user), 0);
    CU_ASSERT_FATAL((j = J(admin_cfg, "tenant member list %s", tn)) != NULL);
    CU_ASSERT(json_array_size(j) == 1 && has(j, "role", "reader"));
    json_decref(j);
    ST_ASSERT_INT_EQ(X(admin_cfg, "tenant member add %s %s", tn, user), 0);
    CU_ASSERT_FATAL((j = J(admin_cfg, "tenant member list %s", tn)) != NULL);
    CU_ASSERT(has(j, "role", "member"));
    json_decref(j);

    /* a quota refusal exits 6 */
    CU_ASSERT_FATAL((j = J(admin_cfg, "quota set %s --networks 1 --instances 3", tn)) != NULL);
    json_t *lim = json_object_get(j, "limits");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(lim, "networks")), 1);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(lim, "instances")), 3);
    json_decref(j);
    ST_ASSERT_INT_EQ(CLI(&out, "quota set %s --ports 9", admin_cfg, bin, tn), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "floating_ips"));
    free(out);
    ST_ASSERT_INT_EQ(X(admin_cfg, "quota set %s", tn), 2);
    ST_ASSERT_INT_EQ(X(cfg, "quota set %s --networks 50", A.id), 4);
    char u2cfg[160];
    snprintf(u2cfg, sizeof u2cfg, "%s/u2", cfg);
    ST_ASSERT_INT_EQ_FATAL(sdk_run("password-321\n", NULL,
                                   "STRATUS_CONFIG_DIR='%s' '%s' login --url %s --user cli-u2"
                                   " --tenant cli-t2 --password-stdin",
                                   u2cfg, bin, T.base),
                           0);
    ST_ASSERT_INT_EQ(X(u2cfg, "network create q-1"), 0);
    ST_ASSERT_INT_EQ(X(u2cfg, "network create q-2"), 6);

    ST_ASSERT_INT_EQ(X(admin_cfg, "tenant member remove %s %s", tn, user), 0);
    CU_ASSERT_FATAL((j = J(admin_cfg, "tenant member list %s", tn)) != NULL);
    ST_ASSERT_INT_EQ(json_array_size(j), 0);
    json_decref(j);
    ST_ASSERT_INT_EQ(X(admin_cfg, "tenant member remove %s %s", tn, user), 5);

    /* members are refused the admin commands: exit 4 */
    ST_ASSERT_INT_EQ(X(cfg, "user list"), 4);
    ST_ASSERT_INT_EQ(X(cfg, "tenant member list %s", tn), 5); /* another tenant: hidden */
    ST_ASSERT_INT_EQ(X(cfg, "tenant member add %s %s", A.id, user), 4);
    ST_ASSERT_INT_EQ(X(cfg, "flavor create f --vcpus 1 --memory-mib 256 --disk-gib 1"), 4);
    ST_ASSERT_INT_EQ(X(cfg, "period list"), 4);
    ST_ASSERT_INT_EQ(X(cfg, "host add cli-node-x"), 4);
    /* evacuation is the cloud admins': a member is refused (4); a host that
     * is up cannot be evacuated (6) */
    ST_ASSERT_INT_EQ(X(cfg, "host evacuate %s --confirm-data-loss", A.id), 4);
    ST_ASSERT_INT_EQ(X(admin_cfg, "host evacuate"), 2);
    char *nid = gwt_node_id(&T, "cli-node");
    ST_ASSERT_INT_EQ(X(admin_cfg, "host evacuate %s --confirm-data-loss", nid), 6);
    free(nid);
    ST_ASSERT_INT_EQ(X(admin_cfg, "instance evacuate 00000000-0000-4000-8000-000000000000"), 5);
    /* live migration: the cloud admins' too; an unknown instance 5, a bad
     * budget or both --block and --no-block 2, the migrations list JSON for admins and 4 for a
     * member */
    ST_ASSERT_INT_EQ(X(admin_cfg, "instance migrate 00000000-0000-4000-8000-000000000000"
                                  " --host cli-node --downtime-ms 100"),
                     5);
    ST_ASSERT_INT_EQ(X(admin_cfg, "instance migrate x --downtime-ms 0"), 2);
    ST_ASSERT_INT_EQ(X(admin_cfg, "instance migrate x --block --no-block"), 2);
    ST_ASSERT_INT_EQ(X(admin_cfg, "instance migrate 00000000-0000-4000-8000-000000000000 --block"),
                     5);
    ST_ASSERT_INT_EQ(X(admin_cfg, "instance migrate 00000000-0000-4000-8000-000000000000 --cancel"),
                     5);
    CU_ASSERT_FATAL((j = J(admin_cfg, "migration list")) != NULL);
    CU_ASSERT(json_is_array(json_object_get(j, "migrations")));
    json_decref(j);
    ST_ASSERT_INT_EQ(X(cfg, "migration list"), 4);

    CU_ASSERT_FATAL(
        (j = J(admin_cfg, "flavor create cli-f --vcpus 1 --memory-mib 256 --disk-gib 2")) != NULL);
    ID(fl, j);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(j, "disk_gib")), 2);
    json_decref(j);
    ST_ASSERT_INT_EQ(X(admin_cfg, "flavor create cli-g --vcpus x --memory-mib 256 --disk-gib 2"),
                     2);
    ST_ASSERT_INT_EQ(X(admin_cfg, "flavor delete %s", fl), 0);

    /* plans, as billing's documents; a body from a file */
    char pf[256];
    snprintf(pf, sizeof pf, "%s/plan.json", cfg);
    FILE *f = fopen(pf, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("{\"name\":\"cli-plan\",\"prices\":{\"cpu_per_gcycle\":1000,\"rx_per_gib\":0,"
          "\"tx_per_gib\":10000,\"storage_per_gib_month\":20000,\"instance_hour_default\":5000}}",
          f);
    fclose(f);
    CU_ASSERT_FATAL((j = J(admin_cfg, "plan create @%s", pf)) != NULL);
    ID(plan, j);
    json_decref(j);
    CU_ASSERT_FATAL((j = J(admin_cfg, "plan show %s", plan)) != NULL);
    ST_ASSERT_STR_EQ(js(j, "name"), "cli-plan");
    json_decref(j);
    ST_ASSERT_INT_EQ(X(admin_cfg, "plan create @%s/nonexistent.json", cfg), 2);
    ST_ASSERT_INT_EQ(X(admin_cfg, "plan create '{\"name\":1}'"), 2);

    /* periods: an empty month is refused (6) unless --confirm-empty */
    CU_ASSERT_FATAL((j = J(admin_cfg, "period preview 2025-02")) != NULL);
    CU_ASSERT(json_is_true(json_object_get(j, "empty")));
    json_decref(j);
    ST_ASSERT_INT_EQ(X(admin_cfg, "period issue 2025-02"), 6);
    CU_ASSERT_FATAL((j = J(admin_cfg, "period issue 2025-02 --confirm-empty")) != NULL);
    ST_ASSERT_STR_EQ(js(j, "period"), "2025-02");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(j, "invoices")), 0);
    json_decref(j);
    ST_ASSERT_INT_EQ(X(admin_cfg, "period issue 2025-02 --confirm-empty"), 6);
    ST_ASSERT_INT_EQ(X(admin_cfg, "period issue 2025-13"), 2);
    CU_ASSERT_FATAL((j = J(admin_cfg, "period list")) != NULL);
    json_decref(j);

    /* API keys: the key works as $STRATUS_TOKEN until deleted */
    CU_ASSERT_FATAL((j = J(cfg, "api-key create cli-ci --expires-days 2")) != NULL);
    ID(kid, j);
    snprintf(key, sizeof key, "%s", js(j, "key"));
    CU_ASSERT(strncmp(key, "stk_", 4) == 0);
    json_decref(j);
    CU_ASSERT_FATAL((j = J(cfg, "api-key list")) != NULL);
    CU_ASSERT(has(j, "id", kid));
    json_decref(j);
    ST_ASSERT_INT_EQ(
        sdk_run(NULL, NULL, "STRATUS_TOKEN=%s STRATUS_CONFIG_DIR='%s' '%s' whoami", key, cfg, bin),
        0);
    ST_ASSERT_INT_EQ(X(cfg, "api-key delete %s", kid), 0);
    ST_ASSERT_INT_EQ(
        sdk_run(NULL, NULL, "STRATUS_TOKEN=%s STRATUS_CONFIG_DIR='%s' '%s' whoami", key, cfg, bin),
        3);

    /* a host registered, its one credential printed */
    CU_ASSERT_FATAL((j = J(admin_cfg, "host add cli-node-2")) != NULL);
    ST_ASSERT_STR_EQ(js(json_object_get(j, "node"), "name"), "cli-node-2");
    CU_ASSERT(strlen(js(j, "credential")) > 16);
    json_decref(j);

    ST_ASSERT_INT_EQ(X(admin_cfg, "tenant delete %s", tn), 0);
    ST_ASSERT_INT_EQ(X(admin_cfg, "tenant show %s", tn), 5);
}

/* Every command named by `stratus --help` answers --help with its usage. */
static void test_help_on_every_command(void)
{
    char *top;
    ST_ASSERT_INT_EQ_FATAL(CLI(&top, "--help", cfg, bin), 0);
    int n = 0;
    for (char *line = strtok(top, "\n"); line; line = strtok(NULL, "\n")) {
        /* "  instance create              create an instance ...": the
         * command is in columns 2-29, its summary after */
        if (strncmp(line, "  ", 2) != 0 || line[2] == ' ' || strlen(line) < 32)
            continue;
        char name[32];
        snprintf(name, sizeof name, "%.28s", line + 2);
        for (int e = (int)strlen(name) - 1; e >= 0 && name[e] == ' '; e--)
            name[e] = 0;
        char *out;
        int rc = CLI(&out, "%s --help", cfg, bin, name);
        st_assert_fmt(rc == 0 && strstr(out, "usage:"), 0, __FILE__, __LINE__,
                      "%s --help: exit %d, output %s", name, rc, out);
        free(out);
        n++;
    }
    free(top);
    CU_ASSERT(n >= 90);
    /* a noun, or a group of verbs, lists its commands */
    ST_ASSERT_INT_EQ(CLI(&top, "tenant member --help", cfg, bin), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(top, "member remove"));
    CU_ASSERT_PTR_NULL(strstr(top, "tenant create"));
    free(top);
    ST_ASSERT_INT_EQ(CLI(&top, "security-group --help", cfg, bin), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(top, "rule add"));
    free(top);
    ST_ASSERT_INT_EQ(CLI(NULL, "security-group rule bogus", cfg, bin), 2);
}

/* The bash completion offers nouns, then a noun's verbs. */
static void test_bash_completion(void)
{
    char *out;
    const char *comp = getenv("STRATUS_SOURCE_DIR");
    CU_ASSERT_PTR_NOT_NULL_FATAL(comp);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", bin);
    *strrchr(dir, '/') = 0;
    ST_ASSERT_INT_EQ(sdk_run(NULL, &out,
                             "PATH='%s':$PATH bash -c '. %s/sdk-c/cli/stratus.bash-completion;"
                             " COMP_WORDS=(stratus inst); COMP_CWORD=1; _stratus;"
                             " echo \"${COMPREPLY[*]}\"; COMP_WORDS=(stratus instance c);"
                             " COMP_CWORD=2; _stratus; echo \"${COMPREPLY[*]}\";"
                             " COMP_WORDS=(stratus security-group \"\"); COMP_CWORD=2; _stratus;"
                             " echo \"${COMPREPLY[*]}\"; COMP_WORDS=(stratus security-group rule"
                             " \"\"); COMP_CWORD=3; _stratus; echo \"${COMPREPLY[*]}\"'",
                             dir, comp),
                     0);
    ST_ASSERT_STR_EQ(out, "instance\ncreate console\ncreate list show delete rule\n"
                          "add list delete\n");
    free(out);
}

static void test_logout_revokes(void)
{
    ST_ASSERT_INT_EQ(CLI(NULL, "logout", cfg, bin), 0);
    ST_ASSERT_INT_EQ(CLI(NULL, "whoami", cfg, bin), 3);
}

static CU_TestInfo tests[] = {
    {"not signed in exits 3, bad command 2", test_not_signed_in_exits_3},
    {"login saves config and token mode 0600", test_login_saves_config_and_token_0600},
    {"instance commands and exit codes", test_instance_commands},
    {"image upload with progress, list, show, delete", test_image_commands},
    {"flavors, keypairs, usage, invoices, hosts", test_catalog_billing_and_hosts},
    {"networking commands, JSON and exit codes", test_network_commands},
    {"admin commands, quota refusal, periods, API keys", test_admin_commands},
    {"--help on every command", test_help_on_every_command},
    {"bash completion", test_bash_completion},
    {"logout revokes the token", test_logout_revokes},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"sdk_cli", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};
int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
