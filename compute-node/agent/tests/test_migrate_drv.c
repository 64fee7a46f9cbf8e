/* The vmm driver's live-migration operations (drv_vmm.c) against a stand-in
 * for stratus-vmm: this test program itself, run by the driver as its VMM
 * (vmm.path = /proc/self/exe), serves the control socket it is given with
 * the contract's answers and records its command line and every request.
 * Without KVM: the incoming start's command line (--config, --incoming),
 * its refusal of a VMM that is not incoming, PUT /vm/migrate's body, GET
 * /vm/migrate parsed, DELETE to cancel, a 409 (one already under way)
 * taken as success and a 500 as a failure; the status parser's refusals;
 * the libvirt driver offering none of it. */
#include "agent.h"
#include "st_test.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char dir[256];

static char *slurp(const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    if (!f)
        return strdup("");
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return strdup(buf);
}

static void put(const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (!text) {
        unlink(p);
        return;
    }
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* ---- the stand-in VMM (this program, run with --api-sock) ---- */

static void answer(int c, int status, const char *body)
{
    char h[256];
    int n = snprintf(h, sizeof h,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, body ? strlen(body) : 0);
    if (write(c, h, (size_t)n) < 0 || (body && write(c, body, strlen(body)) < 0))
        return;
}

static int fake_vmm(int argc, char **argv)
{
    const char *sock = argv[2];
    alarm(120); /* never outlives a test that died */
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof dir, "%s", sock);
    *strrchr(dir, '/') = 0;
    char args[4096] = "";
    for (int i = 1; i < argc; i++)
        snprintf(args + strlen(args), sizeof args - strlen(args), "%s ", argv[i]);
    put("argv.txt", args);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", sock);
    unlink(sock);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 8) < 0)
        return 1;
    for (;;) {
        int c = accept(l, NULL, NULL);
        if (c < 0)
            continue;
        char b[8192];
        size_t n = 0;
        ssize_t k;
        char *end = NULL;
        while (n < sizeof b - 1 && (k = read(c, b + n, sizeof b - 1 - n)) > 0) {
            b[n += (size_t)k] = 0;
            if ((end = strstr(b, "\r\n\r\n"))) {
                const char *cl = strcasestr(b, "Content-Length:");
                size_t want = cl ? (size_t)atol(cl + 15) : 0;
                if (n - (size_t)(end + 4 - b) >= want)
                    break;
            }
        }
        if (n == 0) { /* a probe that only connected (the driver's wait for the socket) */
            close(c);
            continue;
        }
        char method[16] = "", path[128] = "";
        sscanf(b, "%15s %127s", method, path);
        char line[8400];
        snprintf(line, sizeof line, "%s %s %s\n", method, path, end ? end + 4 : "");
        char p[512];
        snprintf(p, sizeof p, "%s/requests.log", dir);
        int fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0 && write(fd, line, strlen(line)) < 0)
            fd = -1;
        if (fd >= 0)
            close(fd);
        char *refuse = slurp("refuse"), *mig = slurp("migrate.json");
        if (*refuse)
            answer(c, atoi(refuse), "{\"error\":{\"code\":\"x\",\"message\":\"refused here\"}}");
        else if (!strcmp(method, "GET") && !strcmp(path, "/vm/migrate"))
            answer(c, 200, *mig ? mig : "{\"state\":\"incoming\"}");
        else if (!strcmp(method, "GET") && !strcmp(path, "/vm"))
            answer(c, 200, "{\"state\":\"not_started\",\"boot_id\":\"b-1\"}");
        else if (!strcmp(path, "/vm/migrate"))
            answer(c, !strcmp(method, "PUT") ? 202 : 204, NULL);
        else
            answer(c, 404, "{}");
        free(refuse);
        free(mig);
        close(c);
    }
}

/* ---- the tests ---- */

static nd_driver *drv;
static nd_vm_handle H;
static int pidfd = -1;

static void spec(nd_vm_spec *s)
{
    memset(s, 0, sizeof *s);
    s->id = "0b4f3c2a-0000-4000-8000-000000000001";
    s->dir = dir;
    s->vcpus = 1;
    s->memory_mib = 64;
    s->boot = ND_BOOT_KERNEL;
    snprintf(s->kernel, sizeof s->kernel, "%s/kernel", dir);
    s->ndisks = 1;
    snprintf(s->disks[0].id, sizeof s->disks[0].id, "vda");
    snprintf(s->disks[0].path, sizeof s->disks[0].path, "/shared/instances/x/disk.qcow2");
    snprintf(s->disks[0].format, sizeof s->disks[0].format, "qcow2");
    s->fresh = 1;
}

static int suite_init(void)
{
    snprintf(dir, sizeof dir, "/tmp/nd-migdrv-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    char err[256];
    nd_vmm_opts o = {.vmm_path = "/proc/self/exe", .log_level = "info"};
    drv = nd_driver_vmm_new(&o, err, sizeof err);
    return drv ? 0 : 1;
}

static int suite_clean(void)
{
    char err[256];
    if (drv && H.pid > 0)
        drv->ops->destroy(drv, dir, &H, pidfd, err, sizeof err);
    if (pidfd >= 0)
        close(pidfd);
    if (drv)
        drv->ops->free(drv);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}

static void test_incoming_start(void)
{
    CU_ASSERT_TRUE_FATAL(nd_can_migrate(drv));
    nd_vm_spec s;
    spec(&s);
    char err[256] = "";
    ST_ASSERT_INT_EQ(
        drv->ops->launch_incoming(drv, &s, "unix:/nowhere", &H, &pidfd, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "tcp:") != NULL);
    int rc = drv->ops->launch_incoming(drv, &s, "tcp:127.0.0.1:47111", &H, &pidfd, err, sizeof err);
    if (rc)
        fprintf(stderr, "launch_incoming: %s\n", err);
    ST_ASSERT_INT_EQ_FATAL(rc, 0);
    CU_ASSERT(H.pid > 0 && pidfd >= 0);
    ST_ASSERT_STR_EQ(H.boot_id, "b-1");
    char *args = slurp("argv.txt");
    char want[600];
    snprintf(want, sizeof want, "--config %s/vm.json --incoming tcp:127.0.0.1:47111 ", dir);
    CU_ASSERT(strstr(args, want) != NULL);
    free(args);
    /* the config it was given is the VM's, written before it started */
    char *cfg = slurp("vm.json");
    CU_ASSERT(strstr(cfg, "/shared/instances/x/disk.qcow2") != NULL);
    free(cfg);
    /* the same instance again finds the incoming VMM, never a second one */
    nd_vm_handle h2 = H;
    int fd2 = -1;
    s.fresh = 0;
    ST_ASSERT_INT_EQ(
        drv->ops->launch_incoming(drv, &s, "tcp:127.0.0.1:47111", &h2, &fd2, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(h2.pid, H.pid);
    if (fd2 >= 0)
        close(fd2);
}

static void test_send_poll_cancel(void)
{
    ST_ASSERT_INT_EQ_FATAL(H.pid > 0, 1);
    char err[256] = "";
    nd_mig_params p = {
        .uri = "tcp:10.0.0.2:47000", .downtime_ms = 100, .timeout_ms = 5000, .on_timeout = "force"};
    put("requests.log", NULL);
    ST_ASSERT_INT_EQ(drv->ops->migrate_out(drv, dir, &H, &p, err, sizeof err), 0);
    char *log = slurp("requests.log");
    CU_ASSERT(strstr(log, "PUT /vm/migrate ") && strstr(log, "\"uri\":\"tcp:10.0.0.2:47000\"") &&
              strstr(log, "\"downtime_ms\":100") && strstr(log, "\"timeout_ms\":5000") &&
              strstr(log, "\"on_timeout\":\"force\""));
    free(log);
    nd_mig_status st;
    put("migrate.json", "{\"state\":\"active\",\"round\":2,\"transferred_bytes\":1000,"
                        "\"remaining_bytes\":24,\"total_bytes\":4096,\"throttle_pct\":30}");
    ST_ASSERT_INT_EQ(drv->ops->migrate_status(drv, dir, &H, &st, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(st.state, ND_MIG_ACTIVE);
    ST_ASSERT_INT_EQ(st.round, 2);
    ST_ASSERT_INT_EQ(st.remaining_bytes, 24);
    ST_ASSERT_INT_EQ(st.throttle_pct, 30);
    ST_ASSERT_INT_EQ(st.downtime_ms, -1);
    put("migrate.json", "{\"state\":\"completed\",\"round\":5,\"downtime_ms\":7,\"total_ms\":80}");
    ST_ASSERT_INT_EQ(drv->ops->migrate_status(drv, dir, &H, &st, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(st.state, ND_MIG_COMPLETED);
    ST_ASSERT_INT_EQ(st.downtime_ms, 7);
    ST_ASSERT_INT_EQ(st.total_ms, 80);
    put("migrate.json", "{\"state\":\"failed\",\"error\":\"connection reset\"}");
    ST_ASSERT_INT_EQ(drv->ops->migrate_status(drv, dir, &H, &st, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(st.state, ND_MIG_FAILED);
    ST_ASSERT_STR_EQ(st.error, "connection reset");
    put("migrate.json", "{\"state\":\"sideways\"}");
    ST_ASSERT_INT_EQ(drv->ops->migrate_status(drv, dir, &H, &st, err, sizeof err), -1);
    put("migrate.json", NULL);
    ST_ASSERT_INT_EQ(drv->ops->migrate_cancel(drv, dir, &H, err, sizeof err), 0);
    log = slurp("requests.log");
    CU_ASSERT(strstr(log, "DELETE /vm/migrate") != NULL);
    free(log);
    /* one already under way: asked again after a restart, not an error */
    put("refuse", "409");
    ST_ASSERT_INT_EQ(drv->ops->migrate_out(drv, dir, &H, &p, err, sizeof err), 0);
    put("refuse", "500");
    err[0] = 0;
    ST_ASSERT_INT_EQ(drv->ops->migrate_out(drv, dir, &H, &p, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "500") && strstr(err, "refused here"));
    ST_ASSERT_INT_EQ(drv->ops->migrate_cancel(drv, dir, &H, err, sizeof err), -1);
    put("refuse", NULL);
}

static void test_not_incoming_refused(void)
{
    /* a VMM that says it is not waiting for a migration is no incoming VM */
    char err[256] = "";
    nd_vm_handle h;
    memset(&h, 0, sizeof h);
    int fd = -1;
    nd_vm_spec s;
    spec(&s);
    char sub[sizeof dir + 8];
    snprintf(sub, sizeof sub, "%s/other", dir);
    mkdir(sub, 0700);
    s.dir = sub;
    put("other/migrate.json", "{\"state\":\"none\"}");
    ST_ASSERT_INT_EQ(
        drv->ops->launch_incoming(drv, &s, "tcp:127.0.0.1:47112", &h, &fd, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "incoming VMM is not_started") != NULL);
    CU_ASSERT(fd < 0);
}

static void test_status_parser(void)
{
    nd_mig_status st;
    char err[128];
    const char *ok = "{\"state\":\"incoming\"}";
    ST_ASSERT_INT_EQ(nd_mig_status_parse(ok, strlen(ok), &st, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(st.state, ND_MIG_INCOMING);
    const char *bad[] = {"[]",
                         "{}",
                         "{\"state\":7}",
                         "{\"state\":\"active\",\"round\":-1}",
                         "{\"state\":\"active\",\"throttle_pct\":101}",
                         "{\"state\":\"active\",\"total_bytes\":\"many\"}",
                         "not json"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_EQUAL(nd_mig_status_parse(bad[i], strlen(bad[i]), &st, err, sizeof err), -1);
    for (int i = ND_MIG_NONE; i <= ND_MIG_CANCELLED; i++)
        CU_ASSERT_PTR_NOT_NULL(nd_mig_state_name((nd_mig_state)i));
    CU_ASSERT_PTR_NULL(nd_mig_state_name((nd_mig_state)99));
}

static CU_TestInfo tests[] = {
    {"an incoming start: --config and --incoming, reused", test_incoming_start},
    {"send, poll, cancel; 409 is fine, 500 is not", test_send_poll_cancel},
    {"a VMM that is not incoming is refused", test_not_incoming_refused},
    {"the status parser", test_status_parser},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"migrate_driver", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "--api-sock"))
        return fake_vmm(argc, argv); /* run by the driver as its VMM */
    return st_test_main(argc, argv, suites);
}
