/* The `stratus` CLI against the real gateway: login writes the config and
 * token mode 0600; instance, image, flavor, keypair, usage, invoice and host
 * commands in table and JSON output; the documented exit codes; --help on
 * every command in `stratus --help`. The node's reports are sent through the
 * gateway's node API (gwt.h), as an agent would. */
#include "gwt.h"
#include "run.h"
#include "st_test.h"

#include <jansson.h>
#include <pthread.h>
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
    free(out);
}

/* Every command named by `stratus --help` answers --help with its usage. */
static void test_help_on_every_command(void)
{
    char *top;
    ST_ASSERT_INT_EQ_FATAL(CLI(&top, "--help", cfg, bin), 0);
    int n = 0;
    for (char *line = strtok(top, "\n"); line; line = strtok(NULL, "\n")) {
        /* "  instance create        create an instance ...": the command
         * is in columns 2-24, its summary after */
        if (strncmp(line, "  ", 2) != 0 || line[2] == ' ' || strlen(line) < 26)
            continue;
        char name[32];
        snprintf(name, sizeof name, "%.23s", line + 2);
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
    CU_ASSERT(n >= 30);
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
                             " COMP_CWORD=2; _stratus; echo \"${COMPREPLY[*]}\"'",
                             dir, comp),
                     0);
    ST_ASSERT_STR_EQ(out, "instance\ncreate console\n");
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
