/* Live migration between two real node agents through the real gateway
 * (api-gateway/migrate.c's protocol, reconcile.c's jobs), without KVM: the
 * agents' VMM is this program, which speaks stratus-vmm's control API and
 * the live-migration contract (an incoming one listens on its TCP port and
 * runs the guest once the source's VMM has connected and sent the state;
 * the source completes after a few polls). The instance's disk is on a
 * directory both agents share (vm.shared_disk_dir).
 *
 * Asserted: the target listens and the source sends only through the
 * gateway's orders; the instance moves to the target only after the source
 * completed, its VMM stopped there and running on the target, the outcome
 * kept with its downtime, the instance active all along (the source never
 * reports it stopped) and its disk the one shared file; a migration that
 * does not converge, cancelled by the admin, leaves the instance active on
 * its source with the target's incoming VM and record gone; a delete
 * removes the shared disk. Then two agents with local disks: the migration
 * copies the disk (block_migration): the source's VMM is asked for it, the
 * target has its own overlay, the source's disk goes once completed. */
#include "st_cloud.h"
#include "st_test.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- the stand-in VMM (this program run with --api-sock by an agent) ---- */

static void reply(int c, int status, const char *body)
{
    char h[256];
    int n = snprintf(h, sizeof h,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, body ? strlen(body) : 0);
    if (write(c, h, (size_t)n) < 0 || (body && write(c, body, strlen(body)) < 0))
        return;
}

/* Reads one request into b (NUL-terminated); its body in *body. */
static size_t read_req(int c, char *b, size_t cap, char **body)
{
    size_t n = 0;
    ssize_t k;
    *body = NULL;
    while (n < cap - 1 && (k = read(c, b + n, cap - 1 - n)) > 0) {
        b[n += (size_t)k] = 0;
        char *end = strstr(b, "\r\n\r\n");
        if (end) {
            const char *cl = strcasestr(b, "Content-Length:");
            size_t want = cl ? (size_t)atol(cl + 15) : 0;
            if (n - (size_t)(end + 4 - b) >= want) {
                *body = end + 4;
                break;
            }
        }
    }
    return n;
}

/* tcp:IP:PORT as an address; -1 when it is not one. */
static int tcp_addr(const char *uri, struct sockaddr_in *a)
{
    char ip[64];
    int port;
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    if (sscanf(uri, "tcp:%63[^:]:%d", ip, &port) != 2 || inet_pton(AF_INET, ip, &a->sin_addr) != 1)
        return -1;
    a->sin_port = htons((uint16_t)port);
    return 0;
}

static int tcp_listen(const char *uri)
{
    struct sockaddr_in a;
    int fd = tcp_addr(uri, &a) == 0 ? socket(AF_INET, SOCK_STREAM, 0) : -1, one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 1) < 0)
        return -1;
    return fd;
}

/* The source's last step: the state, sent to the target. */
static int send_state(const char *uri)
{
    struct sockaddr_in a;
    int fd = tcp_addr(uri, &a) == 0 ? socket(AF_INET, SOCK_STREAM, 0) : -1;
    int ok =
        fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && write(fd, "DONE", 4) == 4;
    if (fd >= 0)
        close(fd);
    return ok ? 0 : -1;
}

static int fake_vmm(int argc, char **argv)
{
    const char *sock = argv[2], *incoming = NULL;
    for (int i = 3; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--incoming"))
            incoming = argv[i + 1];
    alarm(300); /* never outlives a test that died */
    signal(SIGPIPE, SIG_IGN);
    char dir[512], slow[600];
    snprintf(dir, sizeof dir, "%s", sock);
    *strrchr(dir, '/') = 0;
    snprintf(slow, sizeof slow, "%s/slow", dir); /* a test's file: this one never converges */
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", sock);
    unlink(sock);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 8) < 0)
        return 1;
    int t = incoming ? tcp_listen(incoming) : -1;
    if (incoming && t < 0)
        return 2;
    const char *vm = incoming ? "incoming" : "not_started";
    const char *mig = incoming ? "incoming" : "none";
    char target[96] = "";
    int polls = 0;
    for (;;) {
        struct pollfd p[2] = {{.fd = l, .events = POLLIN}, {.fd = t, .events = POLLIN}};
        if (poll(p, t >= 0 ? 2 : 1, 1000) <= 0)
            continue;
        if (t >= 0 && (p[1].revents & POLLIN)) { /* the source's state arrives */
            int c = accept(t, NULL, NULL);
            char b[8] = "";
            if (c >= 0 && read(c, b, 4) == 4 && !strncmp(b, "DONE", 4)) {
                vm = "running";
                mig = "none";
                close(t);
                t = -1;
            }
            if (c >= 0)
                close(c);
        }
        if (!(p[0].revents & POLLIN))
            continue;
        int c = accept(l, NULL, NULL);
        char b[16384], *body, method[16] = "", path[128] = "", out[512];
        if (c < 0)
            continue;
        if (read_req(c, b, sizeof b, &body) == 0) {
            close(c);
            continue;
        }
        sscanf(b, "%15s %127s", method, path);
        int stop = 0;
        if (!strcmp(path, "/vm") && !strcmp(method, "GET")) {
            snprintf(out, sizeof out, "{\"state\":\"%s\",\"boot_id\":\"fake-%d\"}", vm,
                     (int)getpid());
            reply(c, 200, out);
        } else if (!strcmp(path, "/vm/config")) {
            reply(c, 204, NULL);
        } else if (!strcmp(path, "/vm/actions")) {
            if (body && strstr(body, "\"start\""))
                vm = "running";
            stop = body && (strstr(body, "shutdown") || strstr(body, "power_button") ||
                            strstr(body, "\"stop\""));
            reply(c, 204, NULL);
        } else if (!strcmp(path, "/vm/counters")) {
            reply(c, 200, "{}");
        } else if (!strcmp(path, "/vm/migrate") && !strcmp(method, "PUT") &&
                   !strcmp(mig, "active")) {
            reply(c, 409, "{\"error\":{\"code\":\"conflict\",\"message\":\"under way\"}}");
        } else if (!strcmp(path, "/vm/migrate") && !strcmp(method, "PUT")) {
            char bp[600];
            snprintf(bp, sizeof bp, "%s/migrate-body", dir); /* for the test to read */
            FILE *bf = fopen(bp, "w");
            if (bf) {
                fputs(body ? body : "", bf);
                fclose(bf);
            }
            const char *u = body ? strstr(body, "\"uri\":\"") : NULL;
            if (u)
                snprintf(target, sizeof target, "%.*s", (int)strcspn(u + 7, "\""), u + 7);
            mig = "active";
            polls = 0;
            reply(c, 202, NULL);
        } else if (!strcmp(path, "/vm/migrate") && !strcmp(method, "DELETE")) {
            if (!strcmp(mig, "active"))
                mig = "cancelled";
            reply(c, 204, NULL);
        } else if (!strcmp(path, "/vm/migrate")) {
            if (!strcmp(mig, "active") && ++polls >= 4 && access(slow, F_OK) != 0)
                mig = send_state(target) == 0 ? "completed" : "failed";
            snprintf(out, sizeof out,
                     "{\"state\":\"%s\",\"round\":%d,\"transferred_bytes\":%d,"
                     "\"remaining_bytes\":%d,\"total_bytes\":1048576,\"throttle_pct\":0%s}",
                     mig, polls, polls * 4096, !strcmp(mig, "completed") ? 0 : 8192,
                     !strcmp(mig, "completed") ? ",\"downtime_ms\":5,\"total_ms\":120" : "");
            reply(c, 200, out);
        } else {
            reply(c, 404, "{\"error\":{\"code\":\"not_found\",\"message\":\"no\"}}");
        }
        close(c);
        if (stop)
            return 0; /* stopped: exit 0, as stratus-vmm does */
    }
}

/* ---- the test ---- */

static cloud C;
static cloud_agent A, B;
static char shared[600];

/* Stand-in VMMs (this program) serving a socket under dir. */
static int vmms_under(const char *dir)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char path[300], buf[4096];
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        int fd = open(path, O_RDONLY);
        ssize_t k = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        if (fd >= 0)
            close(fd);
        if (k <= 0)
            continue;
        buf[k] = 0;
        const char *a1 = buf + strlen(buf) + 1;
        const char *a2 = a1 < buf + k ? a1 + strlen(a1) + 1 : buf + k;
        char st[600];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        fd = open(path, O_RDONLY);
        ssize_t sk = fd >= 0 ? read(fd, st, sizeof st - 1) : -1;
        if (fd >= 0)
            close(fd);
        st[sk > 0 ? sk : 0] = 0;
        const char *rp = strrchr(st, ')');
        if (a1 < buf + k && !strcmp(a1, "--api-sock") && a2 < buf + k &&
            !strncmp(a2, dir, strlen(dir)) && !(rp && rp[2] == 'Z'))
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

/* Two agents; shared: their disks on a directory both share (the gateway told so), else each
 * host's own (a migration copies the disk along). */
static int start_cloud(int shared_disks)
{
    cloud_start(&C, shared_disks ? "node_migrate" : "node_block_migrate");
    /* the disks are on storage both hosts share: the gateway lets such instances migrate */
    const char *gw[] = {"nodes.down_after=30",
                        shared_disks ? "instances.shared_storage=true" : NULL, NULL};
    if (gwt_restart(&C.gw, ST_SVC_GATEWAY, gw) < 0)
        return 1;
    snprintf(shared, sizeof shared, "%s/shared", C.dir);
    mkdir(shared, 0700);
    char exe[4200], vmm[4300], sd[700];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return 1;
    exe[n] = 0;
    snprintf(vmm, sizeof vmm, "vmm.path = %s", exe);
    snprintf(sd, sizeof sd, "vm.shared_disk_dir = %s", shared);
    const char *a_extra[] = {vmm,
                             "jail.enabled = false",
                             "cgroup.enabled = false",
                             "migration.address = 127.0.0.1",
                             "migration.ports = 47310-47319",
                             shared_disks ? sd : NULL,
                             NULL};
    const char *b_extra[] = {vmm,
                             "jail.enabled = false",
                             "cgroup.enabled = false",
                             "migration.address = 127.0.0.1",
                             "migration.ports = 47320-47329",
                             shared_disks ? sd : NULL,
                             NULL};
    cloud_agent_start(&C, &A, "mig-a", a_extra);
    cloud_agent_start(&C, &B, "mig-b", b_extra);
    /* a host is known before its agent's first heartbeat says what it can do: wait for both
     * to say they send, receive and copy a migration, or a loaded run finds none that can */
    for (long long end = st_now_ms() + 20000;; usleep(100000)) {
        char *k = cloud_sql(&C, "SELECT count(*) FROM iaas.nodes WHERE name IN ('mig-a', 'mig-b')"
                                " AND live_migration AND block_migration");
        int both = k && !strcmp(k, "2");
        free(k);
        if (both)
            return 0;
        if (st_now_ms() > end)
            return 1;
    }
}

static int suite_init(void)
{
    return start_cloud(1);
}

static int suite_init_local(void)
{
    return start_cloud(0);
}

static int suite_clean(void)
{
    cloud_agent_stop(&A, SIGTERM);
    cloud_agent_stop(&B, SIGTERM);
    cloud_stop(&C);
    return 0;
}

static long admin_action(const char *id, const char *body)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%s/actions", id);
    st_resp r;
    long status = gwt_call(&C.gw, &r, "POST", path, C.gw.admin_token, body);
    if (status != 202) /* the gateway's reason, for whoever reads a failed run */
        fprintf(stderr, "\n    %s -> %ld %s\n", body, status, r.body ? r.body : "");
    st_resp_free(&r);
    return status;
}

/* The instance's last migration as GET /v1/migrations shows it (a new
 * reference), NULL when none. */
static json_t *last_migration(const char *id)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/migrations?instance_id=%s&limit=1", id);
    st_resp r;
    json_t *m = NULL;
    if (gwt_call(&C.gw, &r, "GET", path, C.gw.admin_token, NULL) == 200)
        m = json_incref(json_array_get(json_object_get(r.json, "migrations"), 0));
    st_resp_free(&r);
    return m;
}

static const char *mstr(json_t *m, const char *k)
{
    const char *s = json_string_value(json_object_get(m, k));
    return s ? s : "";
}

/* Waits until the instance's last migration is in state want; 0 or -1. */
static int wait_migration(const char *id, const char *want, int timeout_ms)
{
    for (long long end = st_now_ms() + timeout_ms; st_now_ms() < end; usleep(100000)) {
        json_t *m = last_migration(id);
        int ok = m && !strcmp(mstr(m, "state"), want);
        json_decref(m);
        if (ok)
            return 0;
    }
    json_t *m = last_migration(id);
    fprintf(stderr, "migration of %s: %s, not %s (%s)\n", id, m ? mstr(m, "state") : "none", want,
            m ? mstr(m, "error") : "");
    json_decref(m);
    return -1;
}

static char inst_dir[2][700];

static void test_live_migration_between_two_agents(void)
{
    char id[40];
    ST_ASSERT_INT_EQ_FATAL(cloud_create_on(&C, "mig-a", "mig-1", id), 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    snprintf(inst_dir[0], sizeof inst_dir[0], "%s/instances/%s", A.state_dir, id);
    snprintf(inst_dir[1], sizeof inst_dir[1], "%s/instances/%s", B.state_dir, id);
    CU_ASSERT_EQUAL(vmms_under(inst_dir[0]), 1);
    char disk[800];
    snprintf(disk, sizeof disk, "%s/%s.qcow2", shared, id);
    CU_ASSERT_EQUAL(access(disk, F_OK), 0); /* made on the shared directory */
    ST_ASSERT_INT_EQ_FATAL(admin_action(id, "{\"action\":\"migrate\",\"downtime_ms\":50}"), 202);
    ST_ASSERT_INT_EQ(wait_migration(id, "completed", 30000), 0);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, id, "task", "null", 10000), 0);
    char *node = cloud_node_of(&C, id);
    ST_ASSERT_STR_EQ(node, "mig-b");
    free(node);
    json_t *m = last_migration(id);
    ST_ASSERT_STR_EQ(mstr(m, "source_node"), "mig-a");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(m, "downtime_ms")), 5);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(m, "total_ms")), 120);
    CU_ASSERT(json_integer_value(json_object_get(m, "round")) >= 1);
    json_decref(m);
    /* the source's VMM stopped, the target's runs; the instance stayed active */
    for (long long end = st_now_ms() + 10000; st_now_ms() < end && vmms_under(inst_dir[0]);)
        usleep(100000);
    CU_ASSERT_EQUAL(vmms_under(inst_dir[0]), 0);
    CU_ASSERT_EQUAL(vmms_under(inst_dir[1]), 1);
    char *state = cloud_field(&C, id, "state");
    ST_ASSERT_STR_EQ(state, "active");
    free(state);
    /* the gateway heard the target's "active" for the new generation, and
     * never a "stopped" from the source */
    char logp[700];
    snprintf(logp, sizeof logp, "%s/mig-a.log", C.dir);
    CU_ASSERT_EQUAL(cloud_file_count(logp, "node.migration.completed"), 1);
    CU_ASSERT_EQUAL(cloud_file_count(logp, "node.vm_exited"), 0);
    /* one disk, shared: the target's directory links to it */
    char link[800], to[800];
    snprintf(link, sizeof link, "%s/disk.qcow2", inst_dir[1]);
    ssize_t n = readlink(link, to, sizeof to - 1);
    ST_ASSERT_INT_EQ_FATAL(n > 0, 1);
    to[n] = 0;
    ST_ASSERT_STR_EQ(to, disk);
    char marker[800];
    snprintf(marker, sizeof marker, "%s/migrated", inst_dir[0]);
    CU_ASSERT_NOT_EQUAL(access(marker, F_OK), 0); /* its report was taken */
    /* deleted on its new host: the shared disk goes with it */
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 20000), 0);
    for (long long end = st_now_ms() + 10000; st_now_ms() < end && access(disk, F_OK) == 0;)
        usleep(100000);
    CU_ASSERT_NOT_EQUAL(access(disk, F_OK), 0);
}

static void test_cancel_leaves_it_on_the_source(void)
{
    char id[40];
    ST_ASSERT_INT_EQ_FATAL(cloud_create_on(&C, "mig-a", "mig-2", id), 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    char dir_a[700], dir_b[700], slow[800];
    snprintf(dir_a, sizeof dir_a, "%s/instances/%s", A.state_dir, id);
    snprintf(dir_b, sizeof dir_b, "%s/instances/%s", B.state_dir, id);
    snprintf(slow, sizeof slow, "%s/slow", dir_a);
    FILE *f = fopen(slow, "w");
    if (f)
        fclose(f);
    ST_ASSERT_INT_EQ_FATAL(admin_action(id, "{\"action\":\"migrate\",\"host\":\"mig-b\"}"), 202);
    ST_ASSERT_INT_EQ_FATAL(wait_migration(id, "migrating", 20000), 0);
    /* progress arrives from the source while the target waits */
    int progressed = 0;
    for (long long end = st_now_ms() + 15000; st_now_ms() < end && !progressed; usleep(200000)) {
        json_t *m = last_migration(id);
        progressed = json_integer_value(json_object_get(m, "round")) >= 2;
        json_decref(m);
    }
    CU_ASSERT_TRUE(progressed);
    CU_ASSERT_EQUAL(vmms_under(dir_b), 1); /* the incoming VM */
    /* both agents restart mid-migration: each finds its VMM again, none is
     * started twice, the target tells the same address, the source goes on */
    json_t *m;
    char q[200];
    snprintf(q, sizeof q, "SELECT incoming_uri FROM iaas.migrations WHERE instance_id = '%s'", id);
    char *before = cloud_sql(&C, q);
    cloud_agent_stop(&A, SIGTERM);
    cloud_agent_stop(&B, SIGTERM);
    cloud_agent_restart(&C, &A);
    cloud_agent_restart(&C, &B);
    long long r0 = 0;
    m = last_migration(id);
    r0 = json_integer_value(json_object_get(m, "round"));
    json_decref(m);
    progressed = 0;
    for (long long end = st_now_ms() + 15000; st_now_ms() < end && !progressed; usleep(200000)) {
        m = last_migration(id);
        progressed = json_integer_value(json_object_get(m, "round")) > r0 &&
                     !strcmp(mstr(m, "state"), "migrating");
        json_decref(m);
    }
    CU_ASSERT_TRUE(progressed);
    char *after = cloud_sql(&C, q);
    CU_ASSERT(before && after && !strcmp(before, after));
    free(before);
    free(after);
    CU_ASSERT_EQUAL(vmms_under(dir_a), 1);
    CU_ASSERT_EQUAL(vmms_under(dir_b), 1);
    ST_ASSERT_INT_EQ(admin_action(id, "{\"action\":\"migrate_cancel\"}"), 202);
    ST_ASSERT_INT_EQ(wait_migration(id, "cancelled", 20000), 0);
    ST_ASSERT_INT_EQ(cloud_wait_field(&C, id, "task", "null", 10000), 0);
    char *node = cloud_node_of(&C, id);
    ST_ASSERT_STR_EQ(node, "mig-a");
    free(node);
    CU_ASSERT_EQUAL(vmms_under(dir_a), 1);
    for (long long end = st_now_ms() + 10000; st_now_ms() < end && access(dir_b, F_OK) == 0;)
        usleep(100000);
    CU_ASSERT_NOT_EQUAL(access(dir_b, F_OK), 0); /* the incoming VM and its record went */
    CU_ASSERT_EQUAL(vmms_under(dir_b), 0);
    char *state = cloud_field(&C, id, "state");
    ST_ASSERT_STR_EQ(state, "active");
    free(state);
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 20000), 0);
}

/* Local disks (no shared directory, instances.shared_storage off): the migration copies the
 * disk (block_migration auto): the source's VMM is asked for the copy, the target's agent made
 * the instance a fresh overlay of its own copy of the base image before its VMM listened, and
 * the source's disk is removed once the migration completed. */
static void test_block_migration_local_disk(void)
{
    char id[40], dir_a[700], dir_b[700], disk_a[800], disk_b[800], bp[800];
    ST_ASSERT_INT_EQ_FATAL(cloud_create_on(&C, "mig-a", "mig-3", id), 202);
    ST_ASSERT_INT_EQ_FATAL(cloud_wait_field(&C, id, "state", "active", 30000), 0);
    snprintf(dir_a, sizeof dir_a, "%s/instances/%s", A.state_dir, id);
    snprintf(dir_b, sizeof dir_b, "%s/instances/%s", B.state_dir, id);
    snprintf(disk_a, sizeof disk_a, "%s/disk.qcow2", dir_a);
    snprintf(disk_b, sizeof disk_b, "%s/disk.qcow2", dir_b);
    struct stat st;
    ST_ASSERT_INT_EQ_FATAL(lstat(disk_a, &st) == 0 && S_ISREG(st.st_mode), 1);
    ST_ASSERT_INT_EQ_FATAL(admin_action(id, "{\"action\":\"migrate\"}"), 202);
    ST_ASSERT_INT_EQ(wait_migration(id, "completed", 30000), 0);
    json_t *m = last_migration(id);
    CU_ASSERT(json_is_true(json_object_get(m, "block_migration")));
    json_decref(m);
    char *node = cloud_node_of(&C, id);
    ST_ASSERT_STR_EQ(node, "mig-b");
    free(node);
    snprintf(bp, sizeof bp, "%s/migrate-body", dir_a);
    CU_ASSERT_EQUAL(cloud_file_count(bp, "\"block_migration\":true"), 1);
    /* the target's own disk: a fresh overlay made before its VMM listened */
    CU_ASSERT(lstat(disk_b, &st) == 0 && S_ISREG(st.st_mode));
    /* the source's copy goes once completed */
    for (long long end = st_now_ms() + 10000; st_now_ms() < end && access(disk_a, F_OK) == 0;)
        usleep(100000);
    CU_ASSERT_NOT_EQUAL(access(disk_a, F_OK), 0);
    char logp[700];
    snprintf(logp, sizeof logp, "%s/mig-a.log", C.dir);
    CU_ASSERT_EQUAL(cloud_file_count(logp, "its disk went with it"), 1);
    /* deleted on its new host: its VMM and disk there go */
    ST_ASSERT_INT_EQ(cloud_delete(&C, id), 202);
    ST_ASSERT_INT_EQ(cloud_wait_deleted(&C, id, 20000), 0);
    for (long long end = st_now_ms() + 10000; st_now_ms() < end && vmms_under(dir_b);)
        usleep(100000);
    CU_ASSERT_EQUAL(vmms_under(dir_b), 0);
}

static CU_TestInfo local_tests[] = {
    {"a local disk is copied along and removed from the source once completed",
     test_block_migration_local_disk},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo tests[] = {
    {"an instance moves between two agents, its disk shared",
     test_live_migration_between_two_agents},
    {"a cancel leaves it running on its source", test_cancel_leaves_it_on_the_source},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"node_migrate", suite_init, suite_clean, NULL, NULL, tests},
    {"node_block_migrate", suite_init_local, suite_clean, NULL, NULL, local_tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "--api-sock"))
        return fake_vmm(argc, argv); /* run by an agent as its VMM */
    return st_test_main(argc, argv, suites);
}
