/* st_cloud.c - a whole cloud for tests and benchmarks (see st_cloud.h). */
#include "st_cloud.h"
#include "st_netns.h"
#include "st_pg.h"
#include "st_test.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what, const st_proc *p)
{
    fprintf(stderr, "cloud: %s\n", what);
    if (p && p->pid > 0)
        st_proc_dump_log(p);
    exit(1);
}

static const char *guest_elf(void)
{
    const char *e = getenv("STRATUS_GUEST_ELF");
    return e && *e ? e : st_build_path("tests/guest/guest.elf");
}

/* The gateway's settings beside gwt's defaults, at its start and restarts. */
static const char *const gateway_sets[] = {"nodes.down_after=30", NULL};

void cloud_billing_start(cloud *c)
{
    if (gwt_restart(&c->gw, ST_SVC_BILLING, NULL) < 0)
        die("stratus-billing did not start again", NULL);
}

void cloud_billing_stop(cloud *c)
{
    if (c->gw.billing.pid > 0)
        st_proc_stop(&c->gw.billing, SIGTERM, 10000);
    c->gw.billing.pid = 0;
}

void cloud_gateway_stop(cloud *c)
{
    if (c->gw.proc.pid > 0)
        st_proc_stop(&c->gw.proc, SIGTERM, 10000);
    c->gw.proc.pid = 0;
}

void cloud_gateway_start(cloud *c)
{
    if (gwt_restart(&c->gw, ST_SVC_GATEWAY, gateway_sets) < 0)
        die("stratus-gateway did not start again", NULL);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    size_t pad = ((size_t)n + 511) / 512 * 512; /* raw images are whole sectors */
    char *b = calloc(1, pad + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = pad;
    return b;
}

long cloud_upload_image(cloud *c, const char *body, const char *file, char id[40])
{
    st_resp r;
    id[0] = 0;
    gwt_call(&c->gw, &r, "POST", "/v1/images", c->tn.member, body);
    if (r.status != 201) {
        fprintf(stderr, "image create: %ld %s\n", r.status, r.body);
        long st = r.status;
        st_resp_free(&r);
        return st;
    }
    snprintf(id, 40, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    size_t len;
    char *bytes = read_file(file, &len);
    if (!bytes) {
        fprintf(stderr, "cannot read %s\n", file);
        return -1;
    }
    long st = gwt_upload_image(&c->gw, c->tn.member, id, bytes, len);
    free(bytes);
    if (st != 200)
        fprintf(stderr, "upload: %ld\n", st);
    return st;
}

long cloud_kernel_disk(cloud *c, const char *file, char ramdisk[40], char disk[40])
{
    disk[0] = 0;
    long st = cloud_upload_image(
        c, "{\"name\":\"rd\",\"disk_format\":\"raw\",\"kind\":\"ramdisk\"}", file, ramdisk);
    if (st != 200)
        return st;
    char body[300];
    snprintf(
        body, sizeof body,
        "{\"name\":\"root\",\"disk_format\":\"raw\",\"kernel_id\":\"%s\",\"ramdisk_id\":\"%s\"}",
        c->image_id, ramdisk);
    return cloud_upload_image(c, body, file, disk);
}

/* The tenant uploads the test guest through the gateway (a signed URL to
 * the image service's data listener): a kernel image, booted directly. */
static void upload_guest(cloud *c)
{
    long st = cloud_upload_image(
        c, "{\"name\":\"stratus-test-guest\",\"disk_format\":\"raw\",\"kind\":\"kernel\"}",
        guest_elf(), c->image_id);
    if (st != 200)
        die(c->image_id[0] ? "upload" : "image create (or build stratus_test_guest)",
            c->image_id[0] ? &c->gw.images : &c->gw.proc);
}

void cloud_start(cloud *c, const char *tag)
{
    memset(c, 0, sizeof *c);
    gwt_start(&c->gw, tag, gateway_sets);
    c->dir = st_tmpdir(tag);
    /* spread: the tests that steer placement rely on free memory deciding */
    gwt_status(&c->gw, "PUT", "/v1/scheduler", c->gw.admin_token, "{\"policy\":\"spread\"}");
    gwt_make_tenant(&c->gw, tag, &c->tn);
    /* generous quota for the tenant */
    char path[128];
    snprintf(path, sizeof path, "/v1/tenants/%s/quotas", c->tn.id);
    gwt_status(&c->gw, "PUT", path, c->gw.admin_token,
               "{\"instances\":1000,\"vcpus\":4000,\"memory_mib\":1000000,\"disk_gib\":100000}");
    snprintf(c->flavor, sizeof c->flavor, "t1.guest");
    gwt_status(&c->gw, "POST", "/v1/flavors", c->gw.admin_token,
               "{\"name\":\"t1.guest\",\"vcpus\":1,\"memory_mib\":32,\"disk_gib\":1}");
    upload_guest(c);
}

static void stop_agents_vmms(const char *dir)
{
    int pids[256];
    int n = cloud_vmm_pids(dir, pids, 256);
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
}

/* A sanitizer report in any agent's or VMM's log fails the test program. */
static int sanitizer_reports(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "grep -rl -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' -e 'runtime error:'"
             " --include='*.log*' '%s' 2>/dev/null",
             dir);
    FILE *p = popen(cmd, "r");
    char line[1024];
    int n = 0;
    while (p && fgets(line, sizeof line, p)) {
        fprintf(stderr, "cloud: sanitizer report in %s", line);
        n++;
    }
    if (p)
        pclose(p);
    return n;
}

void cloud_stop(cloud *c)
{
    stop_agents_vmms(c->dir);
    for (int h = 0; h < c->n_hosts; h++)
        cloud_netns_del(c->hostns[h]);
    c->n_hosts = 0;
    int bad = sanitizer_reports(c->dir);
    gwt_free_tenant(&c->tn);
    gwt_stop(&c->gw);
    if (!getenv("STRATUS_KEEP_TMP") && !bad)
        st_rmtree(c->dir);
    free(c->dir);
    if (bad)
        exit(1);
}

static void write_conf(cloud *c, cloud_agent *a, const char *const *extra)
{
    FILE *f = fopen(a->conf, "w");
    if (!f)
        die("agent config", NULL);
    fprintf(f,
            "node.name = %s\nnode.credential = %s\ngateway.url = %s\n"
            "images.url = %s\nimages.data_url = %s\n"
            "billing.url = %s\nstate_dir = %s\nvmm.path = %s\n"
            "capacity.vcpus = 64\ncapacity.memory_mib = 65536\ncapacity.disk_gib = 1000\n"
            "interval.heartbeat_ms = 1000\ninterval.reconcile_ms = 300\n"
            "interval.meter_ms = 1000\ninterval.console_ms = 300\n"
            "interval.spool_retry_ms = 500\nstate.fsync = false\nlog.level = debug\n"
            "vmm.stop_timeout_ms = 2000\n"
            /* the sanitizer build's VMM carries ASan's shadow and quarantine */
            "cgroup.memory_overhead_mib = 512\n"
            "http.listen = 127.0.0.1:0\nhttp.port_file = %s.http-port\n",
            a->name, a->credential, c->gw.base, c->gw.images_url, c->gw.images_data_url,
            c->gw.billing_url, a->state_dir, st_build_path("compute-node/vmm/stratus-vmm"),
            a->state_dir);
    /* Tenant networks are off unless a test asks: an agent of a test that
     * runs in the host's namespace must not touch the host's bridges and
     * nftables (node_network turns them on inside a namespace of its own). */
    int net = 0;
    for (int i = 0; extra && extra[i]; i++) {
        fprintf(f, "%s\n", extra[i]);
        net |= !strncmp(extra[i], "network.enabled", 15);
    }
    if (!net)
        fprintf(f, "network.enabled = false\n");
    fclose(f);
}

void cloud_agent_restart(cloud *c, cloud_agent *a)
{
    char log[700];
    snprintf(log, sizeof log, "%s/%s.log", c->dir, a->name);
    const char *argv[] = {st_build_path("compute-node/agent/stratus-node"), "--config", a->conf,
                          NULL};
    /* in a namespace of its own: ip netns exec execs the agent (same pid) */
    const char *in_ns[] = {"/usr/sbin/ip", "netns",    "exec",  a->netns,
                           argv[0],        "--config", a->conf, NULL};
    /* the log is appended across restarts: st_proc truncates, so rotate */
    char old[800];
    snprintf(old, sizeof old, "%s.%lld", log, st_now_ms());
    rename(log, old);
    snprintf(old, sizeof old, "%s.http-port", a->state_dir);
    unlink(old);
    if (st_proc_start(&a->p, (char *const *)(a->netns[0] ? in_ns : argv), NULL, log) < 0)
        die("cannot start stratus-node", NULL);
    a->running = 1;
}

void cloud_agent_start(cloud *c, cloud_agent *a, const char *name, const char *const *extra)
{
    cloud_agent_start_in(c, a, name, NULL, extra);
}

void cloud_agent_start_in(cloud *c, cloud_agent *a, const char *name, const char *netns,
                          const char *const *extra)
{
    memset(a, 0, sizeof *a);
    snprintf(a->netns, sizeof a->netns, "%s", netns ? netns : "");
    snprintf(a->name, sizeof a->name, "%s", name);
    snprintf(a->state_dir, sizeof a->state_dir, "%s/%s", c->dir, name);
    snprintf(a->conf, sizeof a->conf, "%s/%s.conf", c->dir, name);
    char *tok = gwt_make_node(&c->gw, name, 64, 65536, 1000);
    snprintf(a->credential, sizeof a->credential, "%s", tok);
    free(tok);
    write_conf(c, a, extra);
    cloud_agent_restart(c, a);
}

long cloud_agent_get(cloud_agent *a, const char *path, st_resp *r)
{
    char pf[700], url[256];
    snprintf(pf, sizeof pf, "%s.http-port", a->state_dir);
    if (st_wait_file(pf, 10000) < 0) {
        memset(r, 0, sizeof *r);
        return 0;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", st_read_port(pf), path);
    return st_http(r, "GET", url, NULL, NULL, NULL) == 0 ? r->status : r->status;
}

void cloud_agent_stop(cloud_agent *a, int sig)
{
    if (a->running)
        st_proc_stop(&a->p, sig, 15000);
    a->running = 0;
}

int cloud_only_host(cloud *c, const cloud_agent *agents, int n, int k)
{
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char path[128];
        char *id = gwt_node_id(&c->gw, agents[i].name);
        snprintf(path, sizeof path, "/v1/nodes/%s", id ? id : "none");
        if (gwt_status(&c->gw, "PATCH", path, c->gw.admin_token,
                       i == k ? "{\"disabled\":false}" : "{\"disabled\":true}") != 200)
            rc = -1;
        free(id);
    }
    return rc;
}

long cloud_create(cloud *c, const char *name, const char *cmdline, char id[40])
{
    char ud[2048] = "", b64[4096] = "";
    if (cmdline) {
        snprintf(ud, sizeof ud, "cmdline: %s\n", cmdline);
        static const char tbl[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t n = strlen(ud), k = 0;
        for (size_t i = 0; i < n; i += 3) {
            unsigned v = (unsigned char)ud[i] << 16;
            if (i + 1 < n)
                v |= (unsigned char)ud[i + 1] << 8;
            if (i + 2 < n)
                v |= (unsigned char)ud[i + 2];
            b64[k++] = tbl[(v >> 18) & 63];
            b64[k++] = tbl[(v >> 12) & 63];
            b64[k++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
            b64[k++] = i + 2 < n ? tbl[v & 63] : '=';
        }
        b64[k] = 0;
    }
    char *b = cmdline ? st_jsonf("{s:s, s:s, s:s, s:s}", "name", name, "flavor", c->flavor, "image",
                                 c->image_id, "user_data", b64)
                      : st_jsonf("{s:s, s:s, s:s}", "name", name, "flavor", c->flavor, "image",
                                 c->image_id);
    long st = cloud_create_body(c, b, id);
    free(b);
    return st;
}

long cloud_action(cloud *c, const char *id, const char *action)
{
    char *b = st_jsonf("{s:s}", "action", action);
    long st = cloud_action_json(c, id, b);
    free(b);
    return st;
}

long cloud_action_json(cloud *c, const char *id, const char *b)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%s/actions", id);
    st_resp r;
    long st = gwt_call(&c->gw, &r, "POST", path, c->tn.member, b);
    if (st != 202)
        fprintf(stderr, "%s %s: %ld %s\n", b, id, st, r.body);
    st_resp_free(&r);
    return st;
}

long cloud_delete(cloud *c, const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%s", id);
    return gwt_status(&c->gw, "DELETE", path, c->tn.member, NULL);
}

long cloud_create_on(cloud *c, const char *node, const char *name, char id[40])
{
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE iaas.nodes SET disabled = (name <> '%s')", node);
    free(cloud_sql(c, sql));
    char *b = st_jsonf("{s:s, s:s, s:s, s:s}", "name", name, "flavor", c->flavor, "image",
                       c->image_id, "networks", "none");
    long st = cloud_create_body(c, b, id);
    free(b);
    free(cloud_sql(c, "UPDATE iaas.nodes SET disabled = false"));
    return st;
}

char *cloud_field(cloud *c, const char *id, const char *field)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%s", id);
    st_resp r;
    gwt_call(&c->gw, &r, "GET", path, c->tn.member, NULL);
    json_t *v = json_object_get(r.json, field);
    char *out = NULL;
    if (r.status == 200)
        out = strdup(json_is_string(v) ? json_string_value(v) : json_is_null(v) ? "null" : "");
    st_resp_free(&r);
    return out;
}

int cloud_wait_field(cloud *c, const char *id, const char *field, const char *want, int timeout_ms)
{
    long long end = st_now_ms() + timeout_ms;
    char *v = NULL;
    for (;;) {
        free(v);
        v = cloud_field(c, id, field);
        if (v && !strcmp(v, want)) {
            free(v);
            return 0;
        }
        if (st_now_ms() > end)
            break;
        usleep(50000);
    }
    char *fault = cloud_field(c, id, "fault");
    fprintf(stderr, "instance %s: %s is %s, wanted %s (fault: %s)\n", id, field, v ? v : "(none)",
            want, fault ? fault : "");
    free(fault);
    free(v);
    return -1;
}

int cloud_wait_deleted(cloud *c, const char *id, int timeout_ms)
{
    long long end = st_now_ms() + timeout_ms;
    while (st_now_ms() < end) {
        char *v = cloud_field(c, id, "state");
        int gone = !v || !strcmp(v, "deleted");
        free(v);
        if (gone)
            return 0;
        usleep(50000);
    }
    fprintf(stderr, "instance %s was not deleted in time\n", id);
    return -1;
}

char *cloud_console(cloud *c, const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%s/console", id);
    st_resp r;
    gwt_call(&c->gw, &r, "GET", path, c->tn.reader, NULL);
    const char *o = json_string_value(json_object_get(r.json, "output"));
    char *out = r.status == 200 && o ? strdup(o) : NULL;
    st_resp_free(&r);
    return out;
}

int cloud_wait_console(cloud *c, const char *id, const char *needle, int timeout_ms)
{
    long long end = st_now_ms() + timeout_ms;
    char *o = NULL;
    for (;;) {
        free(o);
        o = cloud_console(c, id);
        if (o && strstr(o, needle)) {
            free(o);
            return 0;
        }
        if (st_now_ms() > end)
            break;
        usleep(100000);
    }
    fprintf(stderr, "console of %s lacks \"%s\": %s\n", id, needle, o ? o : "(none)");
    free(o);
    return -1;
}

int cloud_vmm_pids(const char *dir, int *pids, int max)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    struct dirent *e;
    int n = 0;
    size_t dl = strlen(dir);
    while ((e = readdir(d)) && n < max) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char path[300], buf[4096];
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t k = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (k <= 0)
            continue;
        buf[k] = 0;
        const char *a0 = buf, *a1 = buf + strlen(buf) + 1;
        const char *a2 = a1 < buf + k ? a1 + strlen(a1) + 1 : buf + k;
        if (!strstr(a0, "stratus-vmm") || a1 >= buf + k || strcmp(a1, "--api-sock") ||
            a2 >= buf + k || strncmp(a2, dir, dl) != 0)
            continue;
        /* skip zombies */
        char st[600];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        fd = open(path, O_RDONLY);
        k = fd >= 0 ? read(fd, st, sizeof st - 1) : -1;
        if (fd >= 0)
            close(fd);
        if (k > 0) {
            st[k] = 0;
            char *p = strrchr(st, ')');
            if (p && (p[2] == 'Z' || p[2] == 'X'))
                continue;
        }
        pids[n++] = atoi(e->d_name);
    }
    closedir(d);
    return n;
}

char *cloud_sql(cloud *c, const char *sql)
{
    return gwt_sql_value(&c->gw, sql);
}

char *cloud_node_of(cloud *c, const char *id)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT n.name FROM iaas.instances i JOIN iaas.nodes n ON n.id = i.node_id"
             " WHERE i.id = '%s'",
             id);
    return cloud_sql(c, sql);
}

int cloud_file_count(const char *path, const char *needle)
{
    size_t len;
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(len + 1);
    size_t k = b ? fread(b, 1, len, f) : 0;
    fclose(f);
    if (!b)
        return 0;
    b[k] = 0;
    int n = 0;
    for (char *p = b; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    free(b);
    return n;
}

/* ---- a network namespace of the test's own ---- */

static char netns_name[32];

int cloud_netns_enter(const char *tag)
{
    if (geteuid() != 0 || system("command -v dnsmasq >/dev/null && command -v nft >/dev/null"))
        return -1;
    snprintf(netns_name, sizeof netns_name, "%s%d", tag, (int)getpid());
    if (st_sh("ip netns add %s && ip -n %s link set lo up", netns_name, netns_name) != 0)
        return -1;
    return st_netns_enter(netns_name);
}

void cloud_netns_remove(void)
{
    if (!netns_name[0])
        return;
    cloud_netns_del(netns_name);
    netns_name[0] = 0;
}

void cloud_netns_del(const char *name)
{
    /* the dnsmasq servers left in it (this process may be in it too, and so
     * is any shell it starts: kill by name, not everything in the namespace) */
    char cmd[256], line[32];
    snprintf(cmd, sizeof cmd, "ip netns pids %s 2>/dev/null", name);
    FILE *f = popen(cmd, "r");
    while (f && fgets(line, sizeof line, f)) {
        int pid = atoi(line);
        char comm[64] = "", path[64];
        snprintf(path, sizeof path, "/proc/%d/comm", pid);
        FILE *c = fopen(path, "r");
        if (c) {
            if (!fgets(comm, sizeof comm, c))
                comm[0] = 0;
            fclose(c);
        }
        if (pid > 0 && pid != (int)getpid() && !strcmp(comm, "dnsmasq\n"))
            kill(pid, SIGKILL);
    }
    if (f)
        pclose(f);
    snprintf(cmd, sizeof cmd, "ip netns del %s", name);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove network namespace %s\n", name);
}

long cloud_create_body(cloud *c, const char *body, char id[40])
{
    /* a body that names no networks or ports gets none unless the cloud's agents plug ports */
    json_t *j = json_loads(body, 0, NULL);
    char *own = NULL;
    if (!c->networks && json_is_object(j) && !json_object_get(j, "networks") &&
        !json_object_get(j, "ports")) {
        json_object_set_new(j, "networks", json_string("none"));
        body = own = json_dumps(j, JSON_COMPACT);
    }
    json_decref(j);
    st_resp r;
    long st = gwt_call(&c->gw, &r, "POST", "/v1/instances", c->tn.member, body);
    free(own);
    if (st == 202)
        snprintf(id, 40, "%s", json_string_value(json_object_get(r.json, "id")));
    else
        fprintf(stderr, "create: %ld %s\n", st, r.body);
    st_resp_free(&r);
    return st;
}

long cloud_keypair(cloud *c, const char *name, const char *public_key)
{
    char *b = st_jsonf("{s:s, s:s}", "name", name, "public_key", public_key);
    long st = gwt_status(&c->gw, "POST", "/v1/keypairs", c->tn.member, b);
    free(b);
    return st;
}

/* ---- guests played by namespaces ---- */

int cloud_guest_add(const char *id)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ip netns add %s && ip -n %s link set lo up", id, id);
    return system(cmd) == 0 ? 0 : -1;
}

void cloud_guest_del(const char *id)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ip netns del %s 2>/dev/null", id);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove guest namespace %s\n", id);
}

char *cloud_guest_dhcp(cloud *c, const char *id)
{
    /* the guest's side of DHCP (udhcpc's script): what the lease said,
     * then the address, MTU and classless routes (169.254.169.254 among
     * them), else the router as the default route */
    char script[600], lease[700], cmd[4096];
    snprintf(script, sizeof script, "%s/udhcpc.sh", c->dir);
    snprintf(lease, sizeof lease, "%s/lease-%s", c->dir, id);
    FILE *f = fopen(script, "wx");
    if (f) {
        fputs("#!/bin/sh\n[ \"$1\" = bound ] || exit 0\n"
              "echo \"ip=$ip mask=$mask mtu=$mtu router=$router routes=$staticroutes\" > "
              "\"$LEASE_OUT\"\n"
              "ip addr flush dev \"$interface\"\nip addr add \"$ip/$mask\" dev \"$interface\"\n"
              "[ -n \"$mtu\" ] && ip link set \"$interface\" mtu \"$mtu\"\n"
              "set -- $staticroutes\nwhile [ $# -ge 2 ]; do ip route replace \"$1\" via \"$2\" "
              "dev \"$interface\"; shift 2; done\n"
              "[ -z \"$staticroutes\" ] && [ -n \"$router\" ] && ip route replace default via "
              "\"$router\"\nexit 0\n",
              f);
        fclose(f);
        chmod(script, 0755);
    }
    unlink(lease);
    snprintf(cmd, sizeof cmd,
             "ip -n %s link set eth0 up && ip netns exec %s env LEASE_OUT=%s timeout 20 busybox "
             "udhcpc -i eth0 -n -q -t 8 -T 1 -O mtu -O staticroutes -s %s >/dev/null 2>&1; cat %s",
             id, id, lease, script, lease);
    char *o = st_out("%s", cmd);
    o[strcspn(o, "\n")] = 0;
    return o;
}

char *cloud_guest_md(const char *id, const char *path)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "ip netns exec %s curl -sf -m 5 --noproxy '*' http://169.254.169.254%s 2>/dev/null",
             id, path);
    return st_out("%s", cmd);
}

/* ---- hosts of their own on an underlay ---- */

int cloud_hosts(cloud *c, const char *tag, int n)
{
    if (n > CLOUD_MAX_HOSTS ||
        st_sh("ip link add ul type bridge && ip addr add 10.99.0.1/24 dev ul && ip link set ul up"
              " && sysctl -qw net.ipv4.conf.ul.route_localnet=1"
              " && nft add table ip st_cloud && nft add chain ip st_cloud pre '{ type nat hook"
              " prerouting priority dstnat; }' && nft add rule ip st_cloud pre iifname ul ip daddr"
              " 10.99.0.1 dnat to 127.0.0.1") != 0)
        return -1;
    for (int h = 0; h < n; h++) {
        char *ns = c->hostns[h];
        snprintf(ns, sizeof c->hostns[h], "%.16s%d-%d", tag, h + 1, (int)getpid());
        if (st_sh("ip netns add %s && ip -n %s link set lo up && ip link add ulh%d type veth peer"
                  " name ul0 netns %s && ip link set ulh%d master ul up && ip -n %s addr add"
                  " 10.99.0.%d/24 dev ul0 && ip -n %s link set ul0 up",
                  ns, ns, h, ns, h, ns, 11 + h, ns) != 0)
            return -1;
        c->n_hosts = h + 1;
    }
    return 0;
}

/* "key = url" with 127.0.0.1 replaced by the underlay address hosts reach. */
static void underlay_url(char *dst, size_t n, const char *key, const char *url)
{
    const char *p = strstr(url, "127.0.0.1");
    snprintf(dst, n, "%s = %.*s10.99.0.1%s", key, (int)(p - url), url, p + strlen("127.0.0.1"));
}

void cloud_host_agent_start(cloud *c, cloud_agent *a, const char *name, int h,
                            const char *const *extra)
{
    char gw[128], ia[128], idu[128], bu[128];
    underlay_url(gw, sizeof gw, "gateway.url", c->gw.base);
    underlay_url(ia, sizeof ia, "images.url", c->gw.images_url);
    underlay_url(idu, sizeof idu, "images.data_url", c->gw.images_data_url);
    underlay_url(bu, sizeof bu, "billing.url", c->gw.billing_url);
    const char *lines[32] = {gw,
                             ia,
                             idu,
                             bu,
                             "driver = libvirt",
                             "libvirt.uri = test:///default",
                             "network.enabled = true",
                             "network.port_kind = veth",
                             "network.metadata_port = 8775",
                             "interval.network_ms = 1000"};
    int n = 10;
    for (int i = 0; extra && extra[i] && n < 31; i++)
        lines[n++] = extra[i];
    lines[n] = NULL;
    if (h < 0 || h >= c->n_hosts)
        die("cloud_host_agent_start: no such host (cloud_hosts first)", NULL);
    cloud_agent_start_in(c, a, name, c->hostns[h], lines);
}
