/*
 * network_metadata - the metadata service on a converged host, judged by
 * busybox udhcpc and curl in the ports' namespaces.
 *
 * Layout (every name carries the pid):
 *   h        the host: networks A (VNI 300) and B (VNI 400), both 10.20.0.0/24
 *            with the DHCP address 10.20.0.2, and the metadata service
 *   pa, pb   tenant A's and tenant B's ports, BOTH 10.20.0.11, tags 1 and 2
 *   pu       an untagged port on A, 10.20.0.13
 * Ports are namespaces attached by veth through the library's own path. The
 * tests run in order and share this world.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "netns.h"
#include "st_proc.h"
#include "st_test.h"
#include <stratus/metadata.h>
#include <stratus/net.h>

#define MD_PORT 8775

static const char *H, *PA, *PB, *PU;
static char *dir, *script;
static stn_network nets[2];
static stn_port ports[3];
static stn_state st;
static stn_md *md;
static unsigned char ud_a[STN_MD_USER_DATA_MAX];

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    inet_pton(AF_INET, s, &a);
    return a;
}

static void net(stn_network *n, const char *id, uint32_t vni)
{
    memset(n, 0, sizeof *n);
    snprintf(n->id, sizeof n->id, "%s", id);
    n->vni = vni;
    n->mtu = 1450;
    snprintf(n->underlay_dev, sizeof n->underlay_dev, "%s", "ul0");
    n->local_vtep = ip("10.98.0.1");
    n->dhcp = 1;
    n->cidr = ip("10.20.0.0");
    n->prefix = 24;
    n->dhcp_ip = ip("10.20.0.2");
    n->gateway = ip("10.20.0.1");
}

static void port(stn_port *p, const char *id, const char *netid, const char *tag, int mac_tail,
                 const char *addr, const char *ns, uint32_t md_tag)
{
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", id);
    snprintf(p->network_id, sizeof p->network_id, "%s", netid);
    p->kind = STN_PORT_VETH;
    snprintf(p->ifname, sizeof p->ifname, "%s", nt_name(tag));
    uint8_t mac[6] = {0x52, 0x54, 0x00, 0xcc, 0x00, (uint8_t)mac_tail};
    memcpy(p->mac, mac, 6);
    p->ips[0] = ip(addr);
    p->n_ips = 1;
    snprintf(p->peer_ifname, sizeof p->peer_ifname, "eth0");
    snprintf(p->peer_netns, sizeof p->peer_netns, "/run/netns/%s", ns);
    p->md_tag = md_tag;
}

static int in_host(void *arg)
{
    char err[256] = "";
    int *rc = arg;
    stn_ctx *c;
    stn_options o = {.state_dir = dir};
    *rc = stn_open(&c, &o, err, sizeof err);
    if (*rc == 0) {
        *rc = stn_converge(c, &st, NULL, err, sizeof err);
        stn_close(c);
    }
    if (*rc == 0)
        *rc = stn_md_sync(md, &st, err, sizeof err);
    if (*rc)
        fprintf(stderr, "converge/sync: %d %s\n", *rc, err);
    return *rc;
}

static int converge(void)
{
    int rc = -1;
    nt_in(H, in_host, &rc);
    return rc;
}

static int put(uint32_t tag, const char *id, const char *host, const char *addr, const char *pub,
               const char *key, const void *ud, size_t ud_len)
{
    char err[256];
    stn_md_doc d = {.tag = tag,
                    .instance_id = id,
                    .hostname = host,
                    .az = "nova",
                    .local_ipv4 = ip(addr),
                    .public_ipv4 = pub ? ip(pub) : (struct in_addr){0},
                    .ssh_key = key,
                    .user_data = ud,
                    .user_data_len = ud_len};
    int rc = stn_md_put(md, &d, err, sizeof err);
    if (rc)
        fprintf(stderr, "put: %s\n", err);
    return rc;
}

static int suite_init(void)
{
    H = nt_name("smdh");
    PA = nt_name("smda");
    PB = nt_name("smdb");
    PU = nt_name("smdu");
    const char *all[] = {H, PA, PB, PU};
    for (int i = 0; i < 4; i++)
        if (nt_add(all[i]) < 0)
            return -1;
    if (nt_sh("ip -n %s link add ul0 type veth peer name ul1 && ip -n %s addr add 10.98.0.1/24 dev "
              "ul0 && "
              "ip -n %s link set ul0 up && ip -n %s link set lo up",
              H, H, H, H) != 0)
        return -1;
    dir = st_tmpdir("netmd");
    chmod(dir, 0755);
    char p[512];
    snprintf(p, sizeof p, "%s/udhcpc.sh", dir);
    FILE *f = fopen(p, "w");
    if (!f)
        return -1;
    /* The guest's side of DHCP: its address, then the classless routes. */
    fputs("#!/bin/sh\n[ \"$1\" = bound ] || exit 0\n"
          "echo \"ip=$ip routes=$staticroutes\" > \"$LEASE_OUT\"\n"
          "ip addr flush dev \"$interface\"\nip addr add \"$ip/$mask\" dev \"$interface\"\n"
          "set -- $staticroutes\nwhile [ $# -ge 2 ]; do ip route replace \"$1\" via \"$2\" "
          "dev \"$interface\"; shift 2; done\n",
          f);
    fclose(f);
    chmod(p, 0755);
    script = strdup(p);
    net(&nets[0], "net-a", 300);
    net(&nets[1], "net-b", 400);
    port(&ports[0], "port-a", "net-a", "mpa", 1, "10.20.0.11", PA, 1);
    port(&ports[1], "port-b", "net-b", "mpb", 2, "10.20.0.11", PB, 2);
    port(&ports[2], "port-u", "net-a", "mpu", 3, "10.20.0.13", PU, 0);
    st = (stn_state){nets, 2, ports, 3, NULL, 0, NULL, 0, MD_PORT, NULL, 0};
    for (size_t i = 0; i < sizeof ud_a; i++)
        ud_a[i] = (unsigned char)(i * 7 + i / 251);
    char err[256];
    if (stn_md_start(&md, MD_PORT, err, sizeof err) != 0) {
        fprintf(stderr, "start: %s\n", err);
        return -1;
    }
    return 0;
}

static int suite_cleanup(void)
{
    stn_md_stop(md);
    if (getenv("NETWORK_TEST_KEEP"))
        return 0;
    nt_sh("for f in %s/dhcp-*.pid; do [ -f \"$f\" ] && kill -9 $(cat \"$f\") 2>/dev/null; done; "
          "true",
          dir);
    nt_cleanup();
    st_rmtree(dir);
    free(dir);
    free(script);
    return 0;
}

/* curl in a port's namespace: the body, or "" (and *code 0) on failure. */
static char *get(const char *ns, const char *path, int *code)
{
    char *o = nt_out("ip netns exec %s curl -s --max-time 4 -w '|%%{http_code}' "
                     "http://169.254.169.254%s",
                     ns, path);
    char *nl = strrchr(o, '|');
    *code = nl ? atoi(nl + 1) : 0;
    if (nl)
        *nl = '\0';
    return o;
}

static void expect(const char *ns, const char *path, const char *want)
{
    int code;
    char *b = get(ns, path, &code);
    st_assert_fmt(code == 200 && strcmp(b, want) == 0, 0, __FILE__, __LINE__,
                  "%s %s: %d '%.200s', want '%s'", ns, path, code, b, want);
    free(b);
}

/* ---- tests ---- */

static void test_udhcpc_gets_lease_and_metadata_route(void)
{
    ST_ASSERT_INT_EQ_FATAL(converge(), 0);
    ST_ASSERT_INT_EQ_FATAL(put(1, "i-aaaa", "alpha", "10.20.0.11", "203.0.113.7",
                               "ssh-ed25519 AAAAalpha a@x", ud_a, sizeof ud_a),
                           0);
    ST_ASSERT_INT_EQ_FATAL(put(2, "i-bbbb", "bravo", "10.20.0.11", NULL,
                               "ssh-ed25519 AAAAbravo b@x", "#!/bin/sh\necho b\n", 17),
                           0);
    const char *all[] = {PA, PB, PU};
    for (int i = 0; i < 3; i++) {
        char out[512];
        snprintf(out, sizeof out, "%s/lease-%s", dir, all[i]);
        nt_sh("ip -n %s link set eth0 up && ip -n %s link set lo up", all[i], all[i]);
        nt_sh("ip netns exec %s env LEASE_OUT=%s timeout 15 busybox udhcpc -i eth0 -n -q -t 4 "
              "-T 1 -O staticroutes -s %s >/dev/null 2>&1",
              all[i], out, script);
        char *lease = nt_out("cat %s", out);
        st_assert_fmt(strstr(lease, "routes=169.254.169.254/32 10.20.0.2") != NULL, 0, __FILE__,
                      __LINE__, "%s lease: %s", all[i], lease);
        free(lease);
        char *r = nt_out("ip -n %s route get 169.254.169.254", all[i]);
        st_assert_fmt(strstr(r, "via 10.20.0.2 dev eth0") != NULL, 0, __FILE__, __LINE__,
                      "%s route: %s", all[i], r);
        free(r);
    }
}

static void test_each_port_reads_its_own_instance(void)
{
    expect(PA, "/latest/meta-data/instance-id", "i-aaaa");
    expect(PB, "/latest/meta-data/instance-id", "i-bbbb");
    expect(PA, "/latest/meta-data/hostname", "alpha");
    expect(PB, "/latest/meta-data/hostname", "bravo");
    expect(PA, "/latest/meta-data/local-ipv4", "10.20.0.11");
    expect(PA, "/latest/meta-data/public-ipv4", "203.0.113.7");
    expect(PA, "/latest/meta-data/public-keys/0/openssh-key", "ssh-ed25519 AAAAalpha a@x");
    expect(PB, "/latest/meta-data/public-keys/0/openssh-key", "ssh-ed25519 AAAAbravo b@x");
    expect(PB, "/2009-04-04/meta-data/placement/availability-zone", "nova");
    expect(PB, "/latest/user-data", "#!/bin/sh\necho b\n");
    /* the listings cloud-init walks */
    expect(PA, "/latest/meta-data/public-keys/", "0=default");
    expect(PA, "/openstack/", "latest");
    expect(PA, "/openstack/latest/", "meta_data.json\nuser_data\nvendor_data.json");
    int code;
    char *b = get(PB, "/latest/meta-data/public-ipv4", &code);
    ST_ASSERT_INT_EQ(code, 404); /* B has no public address */
    free(b);
    b = get(PA, "/openstack/latest/meta_data.json", &code);
    ST_ASSERT_INT_EQ(code, 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"uuid\": \"i-aaaa\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"hostname\": \"alpha\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"default\": \"ssh-ed25519 AAAAalpha a@x\""));
    CU_ASSERT_PTR_NULL(strstr(b, "bravo"));
    free(b);
    b = get(PB, "/openstack/latest/meta_data.json", &code);
    CU_ASSERT_PTR_NOT_NULL(strstr(b, "\"uuid\": \"i-bbbb\""));
    free(b);
}

static void test_user_data_of_64k_arrives_whole(void)
{
    char out[512];
    snprintf(out, sizeof out, "%s/ud-a", dir);
    ST_ASSERT_INT_EQ(nt_sh("ip netns exec %s curl -sf --max-time 5 -o %s "
                           "http://169.254.169.254/latest/user-data",
                           PA, out),
                     0);
    ST_ASSERT_INT_EQ(nt_sh("ip netns exec %s curl -sf --max-time 5 -o %s.os "
                           "http://169.254.169.254/openstack/latest/user_data",
                           PA, out),
                     0);
    char name[600];
    snprintf(name, sizeof name, "%s.os", out);
    const char *files[] = {out, name};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "rb");
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        static unsigned char got[STN_MD_USER_DATA_MAX + 16];
        size_t n = fread(got, 1, sizeof got, f);
        fclose(f);
        ST_ASSERT_INT_EQ(n, sizeof ud_a);
        CU_ASSERT(memcmp(got, ud_a, sizeof ud_a) == 0);
    }
}

static void test_untagged_port_gets_404(void)
{
    const char *paths[] = {"/latest/meta-data/instance-id", "/openstack/latest/meta_data.json",
                           "/latest/user-data"};
    for (int i = 0; i < 3; i++) {
        int code;
        char *b = get(PU, paths[i], &code);
        ST_ASSERT_INT_EQ(code, 404);
        CU_ASSERT_PTR_NULL(strstr(b, "i-aaaa"));
        free(b);
    }
}

static void test_spoofing_the_other_ip_gets_nothing(void)
{
    /* pu claims pa's address: anti-spoofing drops it on the bridge. */
    nt_sh("ip -n %s addr add 10.20.0.11/32 dev eth0", PU);
    char *o = nt_out("ip netns exec %s curl -s --max-time 3 --interface 10.20.0.11 "
                     "-w ' %%{http_code}' http://169.254.169.254/latest/meta-data/instance-id",
                     PU);
    CU_ASSERT_PTR_NULL(strstr(o, "i-aaaa"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o, " 000")); /* no answer at all */
    free(o);
    /* and a header claiming to be someone else changes nothing */
    o = nt_out("ip netns exec %s curl -s --max-time 3 -H 'X-Forwarded-For: 10.20.0.11' "
               "-H 'X-Instance-ID: i-aaaa' http://169.254.169.254/latest/meta-data/instance-id",
               PU);
    CU_ASSERT_PTR_NULL(strstr(o, "i-aaaa"));
    free(o);
    nt_sh("ip -n %s addr del 10.20.0.11/32 dev eth0", PU);
}

static void test_documents_change_while_serving(void)
{
    ST_ASSERT_INT_EQ(put(2, "i-bbbb2", "bravo2", "10.20.0.11", NULL, NULL, NULL, 0), 0);
    expect(PB, "/latest/meta-data/instance-id", "i-bbbb2");
    int code;
    char *b = get(PB, "/latest/meta-data/public-keys/0/openssh-key", &code);
    ST_ASSERT_INT_EQ(code, 404);
    free(b);
    stn_md_remove(md, 2);
    b = get(PB, "/latest/meta-data/instance-id", &code);
    ST_ASSERT_INT_EQ(code, 404);
    free(b);
    ST_ASSERT_INT_EQ(put(2, "i-bbbb", "bravo", "10.20.0.11", NULL, NULL, NULL, 0), 0);
    expect(PB, "/latest/meta-data/instance-id", "i-bbbb");
}

static int sync_only(void *arg)
{
    char err[256] = "";
    int rc = stn_md_sync(md, &st, err, sizeof err);
    *(int *)arg = rc;
    return 0;
}

static void test_two_ports_with_one_address_are_refused(void)
{
    /* pu claims pa's address in the state itself: the caller would be
     * ambiguous, so the state is refused and the previous one still serves */
    ports[2].ips[0] = ip("10.20.0.11");
    ports[2].md_tag = 3;
    int rc = 0;
    nt_in(H, sync_only, &rc);
    CU_ASSERT(rc < 0);
    ports[2].ips[0] = ip("10.20.0.13");
    ports[2].md_tag = 0;
    expect(PA, "/latest/meta-data/instance-id", "i-aaaa");
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_hostile_clients_do_not_stop_the_service(void)
{
    /* The untagged port tries 300 connections at once and holds them, half
     * with a request head that never ends: it gets at most STN_MD_CONNS. */
    char py[512], pidf[512];
    snprintf(py, sizeof py, "%s/hold.py", dir);
    snprintf(pidf, sizeof pidf, "%s/hold.pid", dir);
    FILE *f = fopen(py, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("import socket, time\nheld = []\nfor i in range(300):\n"
          "    c = socket.socket()\n    c.setblocking(False)\n"
          "    try:\n        c.connect(('169.254.169.254', 80))\n"
          "    except BlockingIOError:\n        pass\n    held.append(c)\n"
          "time.sleep(1.5)\nfor i, c in enumerate(held):\n    if i % 2 == 0:\n"
          "        try:\n            c.send(b'GET /latest/meta-data/ HTTP/1.1\\r\\nX-a: b')\n"
          "        except OSError:\n            pass\ntime.sleep(30)\n",
          f);
    fclose(f);
    ST_ASSERT_INT_EQ(
        nt_sh("ip netns exec %s python3 %s >/dev/null 2>&1 & echo $! > %s", PU, py, pidf), 0);
    sleep(3);
    /* a header of 16 KiB is refused, one of 4 KiB is not */
    for (int big = 0; big < 2; big++) {
        char *o = nt_out("ip netns exec %s curl -s --max-time 4 -o /dev/null -w '%%{http_code}' "
                         "-H \"X-Big: $(head -c %d /dev/zero | tr '\\0' a)\" "
                         "http://169.254.169.254/latest/meta-data/instance-id",
                         PA, big ? 16384 : 4096);
        st_assert_fmt(big ? strcmp(o, "200") != 0 : strcmp(o, "200") == 0, 0, __FILE__, __LINE__,
                      "header of %s: %s", big ? "16 KiB" : "4 KiB", o);
        free(o);
    }
    double t0 = now();
    expect(PA, "/latest/meta-data/instance-id", "i-aaaa");
    expect(PB, "/latest/meta-data/instance-id", "i-bbbb");
    double dt = now() - t0;
    st_assert_fmt(dt < 2.0, 0, __FILE__, __LINE__, "two requests took %.2f s", dt);
    char *held =
        nt_out("ip netns exec %s ss -tnH state established dst 169.254.169.254 | wc -l", PU);
    int n = atoi(held);
    st_assert_fmt(n >= STN_MD_CONNS / 2 && n <= STN_MD_CONNS, 0, __FILE__, __LINE__,
                  "%d connections held, want some and at most %d", n, STN_MD_CONNS);
    free(held);
    char *pid = nt_out("cat %s", pidf);
    if (atoi(pid) > 0)
        kill(atoi(pid), SIGKILL);
    free(pid);
}

static void test_bridge_recreated_is_listened_on_again(void)
{
    /* a wiped host: every link deleted, then converged and synced again */
    nt_sh("ip -n %s link del stb300", H);
    ST_ASSERT_INT_EQ_FATAL(converge(), 0);
    nt_sh("ip netns exec %s busybox udhcpc -i eth0 -n -q -t 4 -T 1 -O staticroutes -s %s "
          ">/dev/null 2>&1",
          PA, script);
    expect(PA, "/latest/meta-data/instance-id", "i-aaaa");
}

static CU_TestInfo tests[] = {
    {"udhcpc gets a lease with the 169.254.169.254 route",
     test_udhcpc_gets_lease_and_metadata_route},
    {"each port reads its own instance (same IP, two tenants)",
     test_each_port_reads_its_own_instance},
    {"user-data of 64 KiB arrives whole", test_user_data_of_64k_arrives_whole},
    {"an untagged port gets 404", test_untagged_port_gets_404},
    {"a port spoofing the other's IP gets nothing", test_spoofing_the_other_ip_gets_nothing},
    {"documents change while serving", test_documents_change_while_serving},
    {"two ports with one address in a bridge are refused",
     test_two_ports_with_one_address_are_refused},
    {"slow, huge and many connections do not stop the service",
     test_hostile_clients_do_not_stop_the_service},
    {"a recreated bridge is served again", test_bridge_recreated_is_listened_on_again},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"metadata", suite_init, suite_cleanup, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    const char *tools[] = {"ip", "nft", "busybox", "dnsmasq", "curl", "python3", "ss", NULL};
    nt_require(tools);
    return st_test_main(argc, argv, suites);
}
