/*
 * vmm_migrate - a live migration's target (stratus-vmm --config FILE --incoming tcp:ADDR:PORT)
 * against a fake source, and PUT /vm/migrate's body, without KVM (the target needs KVM only
 * once the state came): the waiting target logs where it listens and its API answers state
 * incoming; a HELLO whose memory, vCPUs or disks differ from the target's config is refused
 * with NACK saying which, and the target exits 2; so are pages outside guest RAM, a STATE
 * that is not a vmstate, a source that closes half-way, and a frame out of order; a bad port
 * or a missing --config is a bad command line (exit 2). The request parser takes the
 * defaults, refuses unknown fields, a bad on_timeout, a URI that is not tcp:ADDR:PORT with a
 * numeric address and a port 1-65535. A firmware VM's target refuses a source running another BIOS
 * image (HELLO's firmware_sha256) or a kernel boot. --restore DIR --config FILE refuses a config
 * that does not describe the snapshot's machine (memory, disk ids, BIOS image), exit 2, and takes
 * one that does (then fails at KVM here). Block migration: disk frames land in the target's own
 * fresh disks (checked with qemu-img and byte for byte once the target exited); a disk of
 * another size, format or base, not in the config, not fresh, or a block beyond its end is
 * refused with NACK, exit 2.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "migmsg.h"
#include "migrate.h"
#include "snapfile.h"
#include "st_test.h"
#include "stratus/crypto.h"
#include "tlscert.h"

static char g_dir[] = "/tmp/vmm_migrate.XXXXXX";
static char g_cfg[300], g_sock[300];
static const char *g_target_json; /* the target's config instead of the default (a format with
                                   * the socket, then the directory, as %s) */
static char g_disks[1200];        /* the target config's "disks" ("": disk0 on d.raw) */

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &l) < 0)
        return -1;
    close(s);
    return ntohs(a.sin_port);
}

static int start_target_tls(st_proc *p, int tls);

/* Starts a target for a 64 MiB, 1-vCPU VM with one disk; its port, or -1. */
static int start_target(st_proc *p)
{
    return start_target_tls(p, 0);
}

/* tls: with --tls-ca b.pem --tls-cert a.pem --tls-key a.key from the test's directory. */
static int start_target_tls(st_proc *p, int tls)
{
    char uri[64], bin[512], log[512];
    int port = free_port();
    FILE *f = fopen(g_cfg, "w");
    if (!f || port < 0)
        return -1;
    if (g_target_json)
        fprintf(f, g_target_json, g_sock, g_dir);
    else
        fprintf(f,
                "{\"vcpus\": 1, \"memory_mib\": 64, \"kernel\": \"/nonexistent.elf\", "
                "\"control_socket\": \"%s\", \"disks\": %s}",
                g_sock, g_disks);
    fclose(f);
    unlink(g_sock);
    snprintf(uri, sizeof uri, "tcp:127.0.0.1:%d", port);
    snprintf(bin, sizeof bin, "%s", st_build_path("compute-node/vmm/stratus-vmm"));
    snprintf(log, sizeof log, "%s/target.log", g_dir);
    unlink(log);
    char ca[400], cert[400], key[400];
    snprintf(ca, sizeof ca, "%s/b.pem", g_dir);
    snprintf(cert, sizeof cert, "%s/a.pem", g_dir);
    snprintf(key, sizeof key, "%s/a.key", g_dir);
    char *argv[] = {bin, "--config",   g_cfg, "--incoming", uri, "--tls-ca",
                    ca,  "--tls-cert", cert,  "--tls-key",  key, NULL};
    if (!tls)
        argv[5] = NULL;
    if (st_proc_start(p, argv, NULL, log) ||
        vt_wait_for(log, "waiting for the migration on", 10000))
        return -1;
    return port;
}

static int connect_to(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        close(s);
        return -1;
    }
    return s;
}

/* The target's answer: its NACK text (malloc'd), or NULL. */
static char *nack_of(int s)
{
    vmm_mig_rx rx = {.target = 0};
    vmm_mig_frame f;
    char err[256];
    if (vmm_mig_recv(s, &rx, &f, NULL, NULL, err, sizeof err) || f.kind != VMM_MIG_NACK) {
        vmm_mig_frame_free(&f);
        return NULL;
    }
    return (char *)f.buf;
}

#define GOOD_HELLO                                                                                 \
    "{\"vcpus\": 1, \"memory_mib\": 64, \"kernel\": \"/src.elf\", \"disks\": [{\"id\": "           \
    "\"disk0\", \"path\": \"/src/d.raw\"}]}"

/* A fake source sends HELLO (config text, RAM bytes), then what more() sends; the target
 * must answer NACK holding want and exit 2. */
static void refused(const char *hello, uint64_t ram, void (*more)(int), const char *want)
{
    st_proc p;
    int port = start_target(&p);
    CU_ASSERT_FATAL(port > 0);
    int s = connect_to(port);
    CU_ASSERT_FATAL(s >= 0);
    CU_ASSERT_EQUAL(vmm_mig_send_hello(s, ram, hello), 0);
    if (more)
        more(s);
    char *why = nack_of(s);
    if (!why || !strstr(why, want))
        fprintf(stderr, "want NACK with '%s', got '%s'\n", want, why ? why : "(none)");
    CU_ASSERT(why && strstr(why, want));
    free(why);
    close(s);
    ST_ASSERT_INT_EQ(vt_wait(&p, 10000), 2);
}

static void pages_outside(int s)
{
    static uint8_t page[VMM_MIG_PAGE];
    vmm_mig_send_pages(s, 64ull << 20, 1, page); /* the first byte past 64 MiB */
}

static void bad_state(int s)
{
    uint8_t r[8] = {1};
    vmm_mig_send_pages(s, 0x1000, 3, NULL);
    vmm_mig_send(s, VMM_MIG_ROUND_END, 0, r, 8, NULL, 0);
    vmm_mig_send(s, VMM_MIG_STATE, 0, NULL, 0, "not a vmstate", 13);
}

static void out_of_order(int s)
{
    vmm_mig_send_hello(s, 64ull << 20, GOOD_HELLO);
}

static void closes(int s)
{
    vmm_mig_send_pages(s, 0, 1, NULL);
    shutdown(s, SHUT_WR);
}

static void test_incoming_state(void)
{
    st_proc p;
    json_t *j = NULL;
    int port = start_target(&p);
    CU_ASSERT_FATAL(port > 0);
    /* "waiting for the migration" is logged once it listens and its control API answers. */
    CU_ASSERT_EQUAL(vt_wait_for(vt_path(g_dir, "target.log"), "waiting for the migration", 10000),
                    0);
    ST_ASSERT_INT_EQ(vt_http_json(g_sock, "GET", "/vm/migrate", NULL, &j), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "state")), "incoming");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "total_bytes")), 64 << 20);
    json_decref(j);
    ST_ASSERT_INT_EQ(vt_http(g_sock, "PUT", "/vm/migrate", "{\"uri\": \"tcp:127.0.0.1:1\"}", NULL),
                     409); /* nothing runs here yet */
    ST_ASSERT_INT_EQ(vt_http(g_sock, "DELETE", "/vm/migrate", NULL, NULL), 409);
    ST_ASSERT_INT_EQ(vt_http(g_sock, "POST", "/vm/migrate", NULL, NULL), 405);
    /* The VM comes from the source: a start of another is refused, even once configured. */
    ST_ASSERT_INT_EQ(vt_http(g_sock, "PUT", "/vm/config",
                             "{\"memory_mib\": 64, \"kernel\": \"/nonexistent.elf\"}", NULL),
                     204);
    ST_ASSERT_INT_EQ(vt_http(g_sock, "PUT", "/vm/actions", "{\"action\": \"start\"}", NULL), 409);
    /* SIGTERM while waiting: a clean exit. */
    ST_ASSERT_INT_EQ(WEXITSTATUS(st_proc_stop(&p, SIGTERM, 10000)), 0);
}

static void test_refusals(void)
{
    refused(GOOD_HELLO, 128ull << 20, NULL, "memory: the source has 128 MiB");
    refused("{\"vcpus\": 2, \"memory_mib\": 64, \"kernel\": \"/k\", \"disks\": [{\"id\": "
            "\"disk0\", \"path\": \"/d\"}]}",
            64ull << 20, NULL, "vCPUs: the source has 2, this config 1");
    refused("{\"memory_mib\": 64, \"kernel\": \"/k\", \"disks\": [{\"id\": \"other\", \"path\": "
            "\"/d\"}]}",
            64ull << 20, NULL, "disk 0: the source's is other, this config's disk0");
    refused("{\"memory_mib\": 64, \"kernel\": \"/k\"}", 64ull << 20, NULL,
            "the source has 0 disks and 0 NICs, this config 1 and 0");
    refused("{\"memory_mib\": 64, \"kernl\": 1}", 64ull << 20, NULL, "HELLO: ");
    refused(GOOD_HELLO, 64ull << 20, pages_outside, "not aligned guest RAM");
    refused(GOOD_HELLO, 64ull << 20, bad_state, "vmstate: ");
    refused(GOOD_HELLO, 64ull << 20, out_of_order, "a second HELLO");
    refused(GOOD_HELLO, 64ull << 20, closes, "connection closed");
}

/* A vmstate of one vCPU (all zero) for the config cfg (malloc'd), or NULL. */
static uint8_t *vmstate_of(const char *cfg, size_t *len)
{
    char err[256];
    vmm_snapshot s;
    vmm_snap_vcpu v;
    memset(&s, 0, sizeof s);
    memset(&v, 0, sizeof v);
    s.config = (char *)cfg;
    s.config_len = strlen(cfg);
    s.nvcpus = 1;
    s.vcpus = &v;
    uint8_t *file = NULL;
    return vmm_snap_write(&s, &file, len, err, sizeof err) ? NULL : file;
}

/* The target builds its VM as soon as HELLO is accepted, while the pages come (here it fails:
 * no KVM, logged before anything more was sent); the failure is held, GET /vm/migrate still
 * says incoming, and a good STATE then is refused with NACK saying why, exit 2, nothing run. */
static void test_early_build(void)
{
    if (access("/dev/kvm", R_OK | W_OK) == 0) {
        fprintf(stderr, "skipped: with /dev/kvm the early build succeeds\n");
        return;
    }
    st_proc p;
    json_t *j = NULL;
    int port = start_target(&p);
    CU_ASSERT_FATAL(port > 0);
    int s = connect_to(port);
    CU_ASSERT_FATAL(s >= 0);
    CU_ASSERT_EQUAL(vmm_mig_send_hello(s, 64ull << 20, GOOD_HELLO), 0);
    CU_ASSERT_EQUAL(vt_wait_for(vt_path(g_dir, "target.log"),
                                "building the VM while the pages come: KVM set-up failed", 10000),
                    0);
    ST_ASSERT_INT_EQ(vt_http_json(g_sock, "GET", "/vm/migrate", NULL, &j), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "state")), "incoming");
    json_decref(j);
    uint8_t r[8] = {1};
    size_t len = 0;
    uint8_t *state = vmstate_of(GOOD_HELLO, &len);
    CU_ASSERT_FATAL(state != NULL);
    vmm_mig_send_pages(s, 0x1000, 3, NULL);
    vmm_mig_send(s, VMM_MIG_ROUND_END, 0, r, 8, NULL, 0);
    vmm_mig_send(s, VMM_MIG_STATE, 0, NULL, 0, state, len);
    free(state);
    char *why = nack_of(s);
    if (!why || !strstr(why, "building the VM: KVM set-up failed"))
        fprintf(stderr, "NACK: %s\n", why ? why : "(none)");
    CU_ASSERT(why && strstr(why, "building the VM: KVM set-up failed"));
    free(why);
    close(s);
    ST_ASSERT_INT_EQ(vt_wait(&p, 10000), 2);
    CU_ASSERT_NOT_EQUAL(vt_wait_for(vt_path(g_dir, "target.log"), "VM running", 10), 0);
}

/* A firmware VM's target (BIOS image bios.bin in the test's directory, 128 KiB of one byte):
 * a source running another image (its config's firmware_sha256) or a kernel boot is refused
 * at HELLO; one with this image's digest gets past HELLO (its early close is what is refused). */
#define FW_TARGET                                                                                  \
    "{\"vcpus\": 1, \"memory_mib\": 64, \"boot\": \"firmware\", \"control_socket\": \"%s\", "      \
    "\"firmware\": \"%s/bios.bin\", \"disks\": [{\"id\": \"disk0\", \"path\": \"/fw/d.raw\"}]}"
#define FW_HELLO                                                                                   \
    "{\"vcpus\": 1, \"memory_mib\": 64, \"boot\": \"firmware\", \"firmware_sha256\": \"%s\", "     \
    "\"disks\": [{\"id\": \"disk0\", \"path\": \"/src/d.raw\"}]}"

static void write_bios(const char *name, uint8_t byte, char sha[65])
{
    static uint8_t rom[128 << 10];
    memset(rom, byte, sizeof rom);
    FILE *f = fopen(vt_path(g_dir, name), "w");
    CU_ASSERT_FATAL(f && fwrite(rom, 1, sizeof rom, f) == sizeof rom);
    fclose(f);
    st_sha256_hex(rom, sizeof rom, sha);
}

static void test_firmware_refusals(void)
{
    char mine[65], other[65], hello[600];
    write_bios("bios.bin", 0xa5, mine);
    write_bios("other.bin", 0x5a, other);
    g_target_json = FW_TARGET;
    snprintf(hello, sizeof hello, FW_HELLO, other);
    refused(hello, 64ull << 20, NULL, "firmware: the VM runs the image with SHA-256");
    refused(GOOD_HELLO, 64ull << 20, NULL, "the boot mode, rng, cpuid_disable or assign_bars");
    snprintf(hello, sizeof hello, FW_HELLO, mine);
    refused(hello, 64ull << 20, closes, "connection closed");
    g_target_json = NULL;
}

/* --restore DIR --config FILE without KVM: a snapshot (vmstate of one vCPU and a sparse memory
 * file) restored under another host's config: one that does not describe the snapshot's
 * machine (memory, disks, the firmware image) is refused with exit 2 and the reason; one that
 * does (other disk path and control socket) is taken, and fails only at KVM here (exit 1). */
static int restore_with(const char *snap_cfg, const char *cfg, const char *want)
{
    char dir[400], path[500], bin[512], log[512], cpath[500];
    snprintf(dir, sizeof dir, "%s/snap", g_dir);
    mkdir(dir, 0700);
    size_t len = 0;
    uint8_t *file = vmstate_of(snap_cfg, &len);
    CU_ASSERT_FATAL(file != NULL);
    snprintf(path, sizeof path, "%s/vmstate", dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f && fwrite(file, 1, len, f) == len);
    fclose(f);
    free(file);
    snprintf(path, sizeof path, "%s/memory", dir);
    f = fopen(path, "w"); /* 64 MiB, sparse */
    CU_ASSERT_FATAL(f && ftruncate(fileno(f), 64 << 20) == 0);
    fclose(f);
    snprintf(cpath, sizeof cpath, "%s/h2.json", g_dir);
    f = fopen(cpath, "w");
    CU_ASSERT_FATAL(f != NULL);
    fprintf(f, cfg, g_dir);
    fclose(f);
    snprintf(bin, sizeof bin, "%s", st_build_path("compute-node/vmm/stratus-vmm"));
    snprintf(log, sizeof log, "%s/restore.log", g_dir);
    unlink(log);
    char *argv[] = {bin, "--restore", dir, "--config", cpath, NULL};
    st_proc p;
    CU_ASSERT_FATAL(st_proc_start(&p, argv, NULL, log) == 0);
    int code = vt_wait(&p, 10000);
    CU_ASSERT_EQUAL(vt_wait_for(log, want, 1000), 0);
    return code;
}

#define SNAP_CFG                                                                                   \
    "{\"memory_mib\": 64, \"kernel\": \"/h1/k.elf\", \"disks\": [{\"id\": \"disk0\", \"path\": "   \
    "\"/h1/d.raw\"}], \"control_socket\": \"/h1/vm.sock\"}"

static void test_restore_other_config(void)
{
    char mine[65], other[65], snap[600];
    ST_ASSERT_INT_EQ(restore_with(SNAP_CFG,
                                  "{\"memory_mib\": 128, \"kernel\": \"%s/k.elf\", \"disks\": "
                                  "[{\"id\": \"disk0\", \"path\": \"/h2/d.raw\"}]}",
                                  "memory: the source has 64 MiB, this config 128 MiB"),
                     2);
    ST_ASSERT_INT_EQ(restore_with(SNAP_CFG,
                                  "{\"memory_mib\": 64, \"kernel\": \"%s/k.elf\", \"disks\": "
                                  "[{\"id\": \"data\", \"path\": \"/h2/d.raw\"}]}",
                                  "disk 0: the source's is disk0, this config's data"),
                     2);
    write_bios("bios.bin", 0xa5, mine);
    write_bios("other.bin", 0x5a, other);
    snprintf(snap, sizeof snap, FW_HELLO, mine);
    ST_ASSERT_INT_EQ(restore_with(snap,
                                  "{\"memory_mib\": 64, \"boot\": \"firmware\", \"firmware\": "
                                  "\"%s/other.bin\", \"disks\": [{\"id\": \"disk0\", \"path\": "
                                  "\"/h2/d.raw\"}]}",
                                  "firmware: the VM runs the image with SHA-256"),
                     2);
    /* Fits: other paths and socket. Taken (logged), then no KVM here: exit 1. */
    int code = restore_with(snap,
                            "{\"memory_mib\": 64, \"boot\": \"firmware\", \"firmware\": "
                            "\"%s/bios.bin\", \"disks\": [{\"id\": \"disk0\", \"path\": "
                            "\"/h2/d.raw\"}], \"control_socket\": \"/nonexistent/h2.sock\"}",
                            "under the given config");
    CU_ASSERT(code == 1);
}

/* A target with TLS: a source proving itself with b's certificate (trusting a) gets its
 * refusal through TLS; a plain source fails the handshake; both exit 2. Bad TLS options exit 2. */
static void test_tls_target(void)
{
    char ca[400], cert[400], key[400], err[256];
    st_proc p;
    make_cert(g_dir, "a");
    make_cert(g_dir, "b");
    snprintf(ca, sizeof ca, "%s/a.pem", g_dir);
    snprintf(cert, sizeof cert, "%s/b.pem", g_dir);
    snprintf(key, sizeof key, "%s/b.key", g_dir);
    int port = start_target_tls(&p, 1);
    CU_ASSERT_FATAL(port > 0);
    int s = connect_to(port);
    CU_ASSERT_FATAL(s >= 0);
    void *ctx = vmm_mig_tls_ctx(0, ca, cert, key, err, sizeof err);
    void *ssl = ctx ? vmm_mig_tls_handshake(ctx, s, 0, err, sizeof err) : NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(ssl);
    CU_ASSERT_EQUAL(vmm_mig_send_hello(s, 128ull << 20, GOOD_HELLO), 0);
    char *why = nack_of(s);
    CU_ASSERT(why && strstr(why, "memory: the source has 128 MiB"));
    free(why);
    vmm_mig_tls_end(s, ssl, ctx);
    close(s);
    ST_ASSERT_INT_EQ(vt_wait(&p, 10000), 2);
    port = start_target_tls(&p, 1);
    CU_ASSERT_FATAL(port > 0);
    s = connect_to(port);
    CU_ASSERT_FATAL(s >= 0);
    vmm_mig_send_hello(s, 64ull << 20, GOOD_HELLO); /* no TLS */
    ST_ASSERT_INT_EQ(vt_wait(&p, 10000), 2);
    close(s);
    char bin[512], log[512];
    snprintf(bin, sizeof bin, "%s", st_build_path("compute-node/vmm/stratus-vmm"));
    snprintf(log, sizeof log, "%s/tls.log", g_dir);
    char *a1[] = {bin, "--config", g_cfg, "--incoming", "tcp:127.0.0.1:4444", "--tls-ca", ca, NULL};
    CU_ASSERT_FATAL(st_proc_start(&p, a1, NULL, log) == 0);
    ST_ASSERT_INT_EQ(vt_wait(&p, 10000), 2); /* not all three */
    char *a2[] = {bin,        "--config", g_cfg,        "--incoming", "tcp:127.0.0.1:4444",
                  "--tls-ca", ca,         "--tls-cert", ca,           "--tls-key",
                  key,        NULL};
    CU_ASSERT_FATAL(st_proc_start(&p, a2, NULL, log) == 0);
    ST_ASSERT_INT_EQ(vt_wait(&p, 10000), 2); /* a key that is not the certificate's */
}

static void test_command_line(void)
{
    char bin[512], log[512];
    st_proc p;
    snprintf(bin, sizeof bin, "%s", st_build_path("compute-node/vmm/stratus-vmm"));
    snprintf(log, sizeof log, "%s/cl.log", g_dir);
    char *a1[] = {bin, "--config", g_cfg, "--incoming", "tcp:127.0.0.1:0", NULL};
    CU_ASSERT_FATAL(st_proc_start(&p, a1, NULL, log) == 0);
    ST_ASSERT_INT_EQ(vt_wait(&p, 10000), 2);
    char *a2[] = {bin, "--incoming", "tcp:127.0.0.1:4444", NULL};
    CU_ASSERT_FATAL(st_proc_start(&p, a2, NULL, log) == 0);
    ST_ASSERT_INT_EQ(vt_wait(&p, 10000), 2);
    char *a3[] = {bin, "--config", g_cfg, "--incoming", "tcp:localhost:4444", NULL};
    CU_ASSERT_FATAL(st_proc_start(&p, a3, NULL, log) == 0);
    ST_ASSERT_INT_EQ(vt_wait(&p, 10000), 2);
}

static void test_request(void)
{
    vmm_migrate_req r;
    char err[256];
    const char *ok = "{\"uri\": \"tcp:10.0.0.2:4444\"}";
    CU_ASSERT_EQUAL(vmm_migrate_parse(ok, strlen(ok), &r, err, sizeof err), 0);
    CU_ASSERT(r.downtime_ms == 300 && r.timeout_ms == 0 && !r.force && r.max_rounds == 30);
    const char *all = "{\"uri\": \"tcp:[::1]:9\", \"downtime_ms\": 50, \"timeout_ms\": 1000, "
                      "\"on_timeout\": \"force\", \"max_rounds\": 5}";
    CU_ASSERT_EQUAL(vmm_migrate_parse(all, strlen(all), &r, err, sizeof err), 0);
    CU_ASSERT(r.downtime_ms == 50 && r.timeout_ms == 1000 && r.force && r.max_rounds == 5);
    CU_ASSERT(r.tls_ca[0] == 0);
    CU_ASSERT(!r.block_migration);
    const char *block = "{\"uri\": \"tcp:10.0.0.2:4444\", \"block_migration\": true}";
    CU_ASSERT_EQUAL(vmm_migrate_parse(block, strlen(block), &r, err, sizeof err), 0);
    CU_ASSERT(r.block_migration);
    const char *tls = "{\"uri\": \"tcp:1.2.3.4:5\", \"tls\": {\"ca\": \"/c.pem\", \"cert\": "
                      "\"/x.pem\", \"key\": \"/x.key\"}}";
    CU_ASSERT_EQUAL(vmm_migrate_parse(tls, strlen(tls), &r, err, sizeof err), 0);
    ST_ASSERT_STR_EQ(r.tls_ca, "/c.pem");
    ST_ASSERT_STR_EQ(r.tls_cert, "/x.pem");
    ST_ASSERT_STR_EQ(r.tls_key, "/x.key");
    static const char *const bad[][2] = {
        {"{\"uri\": \"tcp:10.0.0.2:0\"}", "port must be 1 to 65535"},
        {"{\"uri\": \"tcp:10.0.0.2:65536\"}", "port must be 1 to 65535"},
        {"{\"uri\": \"tcp:host.example:80\"}", "numeric IPv4 or [IPv6]"},
        {"{\"uri\": \"unix:/x\"}", "tcp:ADDR:PORT"},
        {"{\"uri\": \"tcp:10.0.0.2\"}", "tcp:ADDR:PORT"},
        {"{\"uri\": \"tcp:1.2.3.4:5\", \"on_timeout\": \"wait\"}", "cancel or force"},
        {"{\"uri\": \"tcp:1.2.3.4:5\", \"downtime_ms\": 0}", "downtime_ms"},
        {"{\"uri\": \"tcp:1.2.3.4:5\", \"max_rounds\": 0}", "max_rounds"},
        {"{\"uri\": \"tcp:1.2.3.4:5\", \"speed\": 1}", "speed"},
        {"{\"uri\": \"tcp:1.2.3.4:5\", \"block_migration\": \"yes\"}", "block_migration"},
        {"{\"downtime_ms\": 5}", "uri"},
        {"[1]", ""},
        {"{\"uri\": \"tcp:1.2.3.4:5\", \"tls\": \"yes\"}", "field 'tls' must be an object"},
        {"{\"uri\": \"tcp:1.2.3.4:5\", \"tls\": {\"ca\": \"/c\", \"cert\": \"/x\"}}", "key"},
        {"{\"uri\": \"tcp:1.2.3.4:5\", \"tls\": {\"ca\": \"/c\", \"cert\": \"/x\", \"key\": "
         "\"/k\", \"pin\": 1}}",
         "pin"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        CU_ASSERT_EQUAL(vmm_migrate_parse(bad[i][0], strlen(bad[i][0]), &r, err, sizeof err),
                        -EINVAL);
        if (!strstr(err, bad[i][1]))
            fprintf(stderr, "%s: want '%s' in '%s'\n", bad[i][0], bad[i][1], err);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i][1]));
    }
}

/* ---- block migration ---- */

#define DISK_MIB 4
#define BLOCK_HELLO                                                                                \
    "{\"memory_mib\": 64, \"kernel\": \"/k\", \"disks\": [{\"id\": \"disk0\", \"path\": "          \
    "\"/src/a.qcow2\", \"format\": \"qcow2\"}, {\"id\": \"disk1\", \"path\": \"/src/b.raw\"}]}"

static int sh(const char *fmt, const char *a, const char *b)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    int rc = system(cmd);
    return rc == -1 || !WIFEXITED(rc) ? -1 : WEXITSTATUS(rc);
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "w");
    int ok = f && fwrite(data, 1, len, f) == len;
    return (f && fclose(f) == 0 && ok) ? 0 : -1;
}

/* The target's disks, fresh: disk0 a qcow2 overlay of base.raw (a pattern), disk1 an empty
 * 1 MiB raw file; the config names them. */
static void fresh_disks(void)
{
    static uint8_t base[DISK_MIB << 20];
    for (size_t i = 0; i < sizeof base; i++)
        base[i] = (uint8_t)(i / 512 * 7 + 1);
    CU_ASSERT_FATAL(write_file(vt_path(g_dir, "base.raw"), base, sizeof base) == 0);
    unlink(vt_path(g_dir, "dst.qcow2"));
    unlink(vt_path(g_dir, "e.raw"));
    CU_ASSERT_FATAL(
        sh("cd %s && qemu-img create -q -f qcow2 -b base.raw -F raw dst.qcow2%s", g_dir, "") == 0);
    CU_ASSERT_FATAL(sh("truncate -s 1M %s/e.raw%s", g_dir, "") == 0);
    snprintf(g_disks, sizeof g_disks,
             "[{\"id\": \"disk0\", \"path\": \"%s/dst.qcow2\", \"format\": \"qcow2\"}, "
             "{\"id\": \"disk1\", \"path\": \"%s/e.raw\"}]",
             g_dir, g_dir);
}

static void begin_both(int s)
{
    vmm_mig_send_disk_begin(s, 0, VMM_MIG_DISK_QCOW2, DISK_MIB << 20, "base.raw");
    vmm_mig_send_disk_begin(s, 1, VMM_MIG_DISK_RAW, 1 << 20, NULL);
}

/* A fake source copies both disks as a block migration would: a first pass, a block written
 * again in a later round, a range of zeros over the base's data, a 512-byte write inside a
 * cluster; then a STATE the target cannot take (no KVM needed): it NACKs and exits 2 after
 * flushing and closing the disks, which are then checked against what the guest would see. */
static void test_block_target(void)
{
    static uint8_t want0[DISK_MIB << 20], want1[1 << 20], blk[256 << 10], got[1 << 20];
    fresh_disks();
    FILE *f = fopen(vt_path(g_dir, "base.raw"), "r");
    CU_ASSERT_FATAL(f && fread(want0, 1, sizeof want0, f) == sizeof want0);
    fclose(f);
    st_proc p;
    int port = start_target(&p);
    CU_ASSERT_FATAL(port > 0);
    int s = connect_to(port);
    CU_ASSERT_FATAL(s >= 0);
    CU_ASSERT_EQUAL(vmm_mig_send_hello(s, 64ull << 20, BLOCK_HELLO), 0);
    begin_both(s);
    /* Round 1. */
    memset(blk, 0xa5, sizeof blk);
    CU_ASSERT_EQUAL(vmm_mig_send_disk(s, 0, 0, sizeof blk, blk), 0);
    CU_ASSERT_EQUAL(vmm_mig_send_disk(s, 0, 1 << 20, 64 << 10, NULL), 0);
    CU_ASSERT_EQUAL(vmm_mig_send_disk(s, 1, 512 << 10, 4096, blk), 0);
    vmm_mig_send_pages(s, 0, 16, NULL);
    uint8_t r[8] = {1};
    vmm_mig_send(s, VMM_MIG_ROUND_END, 0, r, 8, NULL, 0);
    /* Round 2: the guest wrote again meanwhile. */
    memset(blk, 0x3c, 64 << 10);
    CU_ASSERT_EQUAL(vmm_mig_send_disk(s, 0, 64 << 10, 64 << 10, blk), 0);
    CU_ASSERT_EQUAL(vmm_mig_send_disk(s, 0, (3 << 20) + 512, 512, blk), 0);
    CU_ASSERT_EQUAL(vmm_mig_send_disk(s, 1, (1 << 20) - 512, 512, blk), 0);
    r[0] = 2;
    vmm_mig_send(s, VMM_MIG_ROUND_END, 0, r, 8, NULL, 0);
    vmm_mig_send(s, VMM_MIG_STATE, 0, NULL, 0, "not a vmstate", 13);
    char *why = nack_of(s);
    CU_ASSERT(why && strstr(why, "vmstate: "));
    free(why);
    close(s);
    ST_ASSERT_INT_EQ(vt_wait(&p, 10000), 2);
    memset(want0, 0xa5, 256 << 10);
    memset(want0 + (64 << 10), 0x3c, 64 << 10);
    memset(want0 + (1 << 20), 0, 64 << 10);
    memset(want0 + (3 << 20) + 512, 0x3c, 512);
    memset(want1 + (512 << 10), 0xa5, 4096);
    memset(want1 + (1 << 20) - 512, 0x3c, 512);
    CU_ASSERT_FATAL(write_file(vt_path(g_dir, "want0.raw"), want0, sizeof want0) == 0);
    CU_ASSERT_FATAL(write_file(vt_path(g_dir, "want1.raw"), want1, sizeof want1) == 0);
    ST_ASSERT_INT_EQ(sh("qemu-img check -q %s/dst.qcow2%s", g_dir, ""), 0);
    ST_ASSERT_INT_EQ(
        sh("qemu-img compare -q -f qcow2 -F raw %s/dst.qcow2 %s/want0.raw", g_dir, g_dir), 0);
    ST_ASSERT_INT_EQ(sh("qemu-img compare -q -f raw -F raw %s/e.raw %s/want1.raw", g_dir, g_dir),
                     0);
    f = fopen(vt_path(g_dir, "e.raw"), "r");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT(fread(got, 1, sizeof got, f) == sizeof want1 && !memcmp(got, want1, sizeof want1));
    fclose(f);
    /* Only the overlay took the blocks: the base is as it was. */
    ST_ASSERT_INT_EQ(sh("cmp -s %s/base.raw %s/want0.raw", g_dir, g_dir), 1);
}

static void disk_too_big(int s)
{
    vmm_mig_send_disk_begin(s, 0, VMM_MIG_DISK_QCOW2, 8 << 20, "base.raw");
}

static void other_base(int s)
{
    vmm_mig_send_disk_begin(s, 0, VMM_MIG_DISK_QCOW2, DISK_MIB << 20, "other.raw");
}

static void other_format(int s)
{
    vmm_mig_send_disk_begin(s, 1, VMM_MIG_DISK_QCOW2, 1 << 20, "base.raw");
}

static void disk_not_in_config(int s)
{
    vmm_mig_send_disk_begin(s, 3, VMM_MIG_DISK_RAW, 1 << 20, NULL);
}

static void beyond_the_end(int s)
{
    static uint8_t b[1024];
    begin_both(s);
    vmm_mig_send_disk(s, 1, (1 << 20) - 512, sizeof b, b);
}

static void before_begin(int s)
{
    vmm_mig_send_disk(s, 1, 0, 512, NULL);
}

static void test_block_refusals(void)
{
    fresh_disks();
    refused(BLOCK_HELLO, 64ull << 20, disk_too_big, "the source's is 8388608 bytes");
    refused(BLOCK_HELLO, 64ull << 20, other_base, "an overlay of 'other.raw'");
    refused(BLOCK_HELLO, 64ull << 20, other_format, "the source's is qcow2, this config's raw");
    refused(BLOCK_HELLO, 64ull << 20, disk_not_in_config, "disk 3 is not in this config");
    refused(BLOCK_HELLO, 64ull << 20, beyond_the_end, "beyond the end of the disk");
    refused(BLOCK_HELLO, 64ull << 20, before_begin, "no DISK_BEGIN for it");
    /* A disk that holds data already is not overwritten. */
    fresh_disks();
    CU_ASSERT_FATAL(
        sh("printf x | dd of=%s/e.raw bs=1 seek=4096 conv=notrunc status=none%s", g_dir, "") == 0);
    refused(BLOCK_HELLO, 64ull << 20, begin_both, "is not fresh (it holds data at 4096)");
    fresh_disks();
    CU_ASSERT_FATAL(
        sh("qemu-io -f qcow2 -c 'write -P 7 128k 4k' %s/dst.qcow2 >/dev/null%s", g_dir, "") == 0);
    refused(BLOCK_HELLO, 64ull << 20, begin_both, "is not fresh (it holds data at 131072)");
    /* The default config again for the other tests. */
    snprintf(g_disks, sizeof g_disks, "[{\"id\": \"disk0\", \"path\": \"%s/d.raw\"}]", g_dir);
}

static int setup(void)
{
    if (!mkdtemp(g_dir))
        return -1;
    snprintf(g_cfg, sizeof g_cfg, "%s/vm.json", g_dir);
    snprintf(g_sock, sizeof g_sock, "%s/api.sock", g_dir);
    FILE *f = fopen(vt_path(g_dir, "d.raw"), "w");
    if (f)
        fclose(f);
    snprintf(g_disks, sizeof g_disks, "[{\"id\": \"disk0\", \"path\": \"%s/d.raw\"}]", g_dir);
    return 0;
}

static CU_TestInfo tests[] = {
    {"the waiting target answers state incoming, SIGTERM ends it", test_incoming_state},
    {"incompatible or hostile sources refused with NACK, exit 2", test_refusals},
    {"bad command lines exit 2", test_command_line},
    {"the target builds the VM once HELLO is accepted; its failure refuses the STATE, exit 2",
     test_early_build},
    {"a firmware VM's target refuses another BIOS image or boot mode at HELLO",
     test_firmware_refusals},
    {"--restore with another host's config: refused unless it fits the snapshot",
     test_restore_other_config},
    {"a TLS target: refusals through TLS, a plain source or bad TLS options exit 2",
     test_tls_target},
    {"PUT /vm/migrate's body", test_request},
    {"block migration: disk blocks land in the target's own disks", test_block_target},
    {"block migration: a disk of another size, format or base, not fresh, not in the config, "
     "a block beyond the end refused with NACK, exit 2",
     test_block_refusals},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"migrate", setup, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    return st_test_main(argc, argv, suites);
}
