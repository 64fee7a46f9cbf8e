/*
 * bench_netport - a port through the whole cloud, beside the same done by
 * hand in the same run:
 *
 *   1. set-up time, from POST /v1/instances to the first DHCP answer in the
 *      port's "guest", in parts; beside ip link + dnsmasq hosts entry +
 *      SIGHUP on a host namespace with nothing else (the floor);
 *   2. throughput between guests: iperf3 TCP Gbit/s and UDP 64-byte
 *      frames/s, on one host over the bridge and across two hosts over
 *      VXLAN, with the full data plane (anti-spoofing, security groups,
 *      conntrack zones); the same paths with the `bridge stratus` and
 *      `inet stratus` tables deleted (agents stopped meanwhile, SIGSTOP);
 *      and two namespaces on a plain veth (the floor).
 *
 *   bench_netport [ROUNDS] [POLL_MS...]     (root; default 5 rounds, lp500, 500 and 50)
 *
 * The cloud is the end-to-end test's (tests/e2e/e2e_network.c), built by
 * the same helper (tests/lib/st_cloud.h): PostgreSQL, stratus-gateway,
 * stratus-images and stratus-billing in a namespace of their own holding a
 * bridged underlay; two hosts as namespaces on it, each with its own
 * stratus-node (libvirt's test hypervisor: no KVM here) and data plane;
 * guests are namespaces on veth ports (network.port_kind = veth, the
 * library's tap path with a veth). The agent learns of a new instance by
 * polling its desired set every interval.reconcile_ms, and, for a POLL_MS
 * written "lp<ms>", also through the desired set's long-poll
 * (interval.longpoll_s = 25, answered by the gateway when the set changes);
 * a plain POLL_MS turns the long-poll off. The bench runs once per POLL_MS.
 * Set STRATUS_BUILD_DIR to the build tree (run.sh does).
 */
#include "dhcpprobe.h"
#include "st_cloud.h"
#include "st_netns.h"
#include "st_proc.h"

#include <fcntl.h>
#include <glob.h>
#include <jansson.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static cloud C;
static cloud_agent H[2];
static char floorns[3][32];
static int self_ns = -1;

static void leave(void)
{
    if (st_netns_return(self_ns) < 0) {
        perror("setns back");
        exit(1);
    }
}

static void only_host(int h)
{
    if (cloud_only_host(&C, H, 2, h) < 0)
        fprintf(stderr, "cannot make %s the only host\n", H[h].name);
}

/* min/median/max of n values, printed "a / b / c" (sorted in place). */
static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void range(char *out, size_t n, double *v, int k, const char *fmt)
{
    if (k == 0) {
        snprintf(out, n, "(none)");
        return;
    }
    qsort(v, (size_t)k, sizeof *v, cmpd);
    char a[32], b[32], c[32];
    snprintf(a, sizeof a, fmt, v[0]);
    snprintf(b, sizeof b, fmt, v[k / 2]);
    snprintf(c, sizeof c, fmt, v[k - 1]);
    snprintf(out, n, "%.24s / %.24s / %.24s", a, b, c);
}

/* ---------------- 1. port set-up ---------------- */

enum { P_API, P_LINK, P_HOSTS, P_OFFER, P_TOTAL, P_UDHCPC, P_N };
static const char *const p_name[P_N] = {
    "API reply (POST /v1/instances -> 202)",
    "agent: reply -> port's link in the guest",
    "agent: link -> dnsmasq hosts file has the MAC",
    "dnsmasq: hosts file -> first DHCPOFFER",
    "TOTAL: POST -> first DHCP answer",
    "then busybox udhcpc, whole lease (fork+exec)",
};

static int has_mac(const char *glob_pat, const char *mac)
{
    glob_t g;
    int found = 0;
    if (glob(glob_pat, 0, NULL, &g) != 0)
        return 0;
    for (size_t i = 0; i < g.gl_pathc && !found; i++) {
        FILE *f = fopen(g.gl_pathv[i], "r");
        char line[256];
        while (f && !found && fgets(line, sizeof line, f))
            found = !strncmp(line, mac, 17);
        if (f)
            fclose(f);
    }
    globfree(&g);
    return found;
}

/* The guest's eth0 MAC as "aa:bb:..", once it exists (in the guest's ns). */
static int wait_eth0(char mac[18], int timeout_ms)
{
    double t0 = bench_ms();
    while (bench_ms() - t0 < timeout_ms) {
        if (if_nametoindex("eth0")) {
            int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            struct ifreq r;
            memset(&r, 0, sizeof r);
            snprintf(r.ifr_name, sizeof r.ifr_name, "eth0");
            int rc = ioctl(s, SIOCGIFHWADDR, &r);
            close(s);
            if (rc < 0)
                return -1;
            const unsigned char *m = (const unsigned char *)r.ifr_hwaddr.sa_data;
            snprintf(mac, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
            return 0;
        }
        usleep(500);
    }
    return -1;
}

/* A new network namespace for this thread, bound at /run/netns/<name>. */
static int new_guest_ns(const char *name)
{
    char p[128];
    snprintf(p, sizeof p, "/run/netns/%s", name);
    int fd = open(p, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    close(fd);
    if (unshare(CLONE_NEWNET) < 0 ||
        mount("/proc/thread-self/ns/net", p, NULL, MS_BIND, NULL) < 0) {
        perror("guest namespace");
        return -1;
    }
    return 0;
}

/* One port through the cloud on host 0; fills t[P_N]; the guest's id. */
static int cloud_port(const char *name, double t[P_N], char id[40])
{
    char hosts[700];
    snprintf(hosts, sizeof hosts, "%s/net/dhcp-*.hosts", H[0].state_dir);
    double t0 = bench_ms();
    if (cloud_create(&C, name, NULL, id) != 202)
        return -1;
    double t1 = bench_ms();
    /* the guest's namespace at once (as ip netns add makes it, without
     * the fork): the agent makes a veth port only once it exists */
    if (new_guest_ns(id) < 0)
        return -1;
    char mac[18];
    int rc = wait_eth0(mac, 20000);
    double t2 = bench_ms();
    while (rc == 0 && !has_mac(hosts, mac) && bench_ms() - t2 < 10000)
        usleep(500);
    double t3 = bench_ms();
    double t4 = rc == 0 ? dhcp_probe("eth0", 10000) : -1;
    leave();
    if (t4 < 0)
        return -1;
    double t5 = bench_ms();
    char *lease = cloud_guest_dhcp(&C, id);
    double t6 = bench_ms();
    int ok = strncmp(lease, "ip=", 3) == 0;
    free(lease);
    t[P_API] = t1 - t0, t[P_LINK] = t2 - t1, t[P_HOSTS] = t3 - t2, t[P_OFFER] = t4 - t3;
    t[P_TOTAL] = t4 - t0, t[P_UDHCPC] = t6 - t5;
    return ok ? 0 : -1;
}

/* The floor: a host namespace with a bridge and dnsmasq (static leases, as
 * the library configures it) and nothing else; a port is a veth into the
 * bridge, a hosts-file line and a SIGHUP, done by ip and sh. */
static char floor_dir[600];

static int floor_start(void)
{
    snprintf(floorns[2], sizeof floorns[2], "nbfh-%d", (int)getpid());
    snprintf(floor_dir, sizeof floor_dir, "%s/floor", C.dir);
    mkdir(floor_dir, 0755);
    char conf[700];
    snprintf(conf, sizeof conf, "%s/dnsmasq.conf", floor_dir);
    FILE *f = fopen(conf, "w");
    if (!f)
        return -1;
    fprintf(f,
            "interface=fbr0\nbind-interfaces\nport=0\nno-resolv\nno-hosts\ndhcp-authoritative\n"
            "dhcp-range=10.200.0.0,static,255.255.255.0,86400s\ndhcp-hostsfile=%s/hosts\n"
            "dhcp-leasefile=%s/leases\npid-file=%s/pid\ndhcp-option=option:mtu,1450\n"
            "dhcp-option=option:router,10.200.0.1\n",
            floor_dir, floor_dir, floor_dir);
    fclose(f);
    return st_sh("ip netns add %s && ip -n %s link set lo up && ip -n %s link add fbr0 mtu 1450 "
                 "type bridge && ip -n %s addr add 10.200.0.1/24 dev fbr0 && ip -n %s link set "
                 "fbr0 up && touch %s/hosts && chmod 0755 %s && ip netns exec %s dnsmasq -C %s",
                 floorns[2], floorns[2], floorns[2], floorns[2], floorns[2], floor_dir, floor_dir,
                 floorns[2], conf);
}

static int floor_port(int i, double t[P_N])
{
    char g[40];
    snprintf(g, sizeof g, "nbfg%d-%d", i, (int)getpid());
    if (cloud_guest_add(g) < 0)
        return -1;
    double t0 = bench_ms();
    int rc =
        st_sh("ip -n %s link add fv%d mtu 1450 type veth peer name eth0 netns %s address "
              "02:00:00:00:01:%02x mtu 1450 && ip -n %s link set fv%d master fbr0 up && echo "
              "02:00:00:00:01:%02x,10.200.0.%d >> %s/hosts && kill -HUP $(cat %s/pid)",
              floorns[2], i, g, i & 0xff, floorns[2], i, i & 0xff, 10 + i, floor_dir, floor_dir);
    double t1 = bench_ms();
    if (rc != 0 || st_netns_enter(g) < 0)
        return -1;
    double t2 = dhcp_probe("eth0", 10000);
    leave();
    if (t2 < 0)
        return -1;
    double t3 = bench_ms();
    char *lease = cloud_guest_dhcp(&C, g);
    double t4 = bench_ms();
    int ok = strncmp(lease, "ip=", 3) == 0;
    free(lease);
    t[P_API] = 0, t[P_LINK] = t1 - t0, t[P_HOSTS] = 0, t[P_OFFER] = t2 - t1;
    t[P_TOTAL] = t2 - t0, t[P_UDHCPC] = t4 - t3;
    return ok ? 0 : -1;
}

/* A poll period; negative: the same with the long-poll on. */
static void set_poll(int poll_ms)
{
    for (int h = 0; h < 2; h++) {
        FILE *f = fopen(H[h].conf, "a");
        if (f) {
            fprintf(f, "interval.reconcile_ms = %d\ninterval.longpoll_s = %d\n",
                    poll_ms < 0 ? -poll_ms : poll_ms, poll_ms < 0 ? 25 : 0);
            fclose(f);
        }
        cloud_agent_stop(&H[h], SIGTERM);
        cloud_agent_restart(&C, &H[h]);
    }
    sleep(2); /* both have fetched their desired set and converged */
}

static void bench_setup(int rounds, const int *polls, int n_polls)
{
    double first[P_N];
    char id[40];
    only_host(0);
    /* the first port on the host also creates its network (bridge, VXLAN,
     * dnsmasq started): printed apart */
    set_poll(polls[0]);
    if (cloud_port("first", first, id) < 0) {
        fprintf(stderr, "the first port never got a DHCP answer\n");
        exit(1);
    }
    printf("\n1. port set-up, API call -> first DHCP answer (%d rounds each; min / median / max "
           "ms)\n",
           rounds);
    printf("   first port on the host (network created with it), poll %d ms%s: %.0f ms "
           "(then udhcpc %.0f ms)\n",
           abs(polls[0]), polls[0] < 0 ? " + long-poll" : "", first[P_TOTAL], first[P_UDHCPC]);
    double fl[P_N][64];
    int nf = 0;
    for (int p = 0; p < n_polls; p++) {
        double v[P_N][64];
        int n = 0;
        if (p > 0)
            set_poll(polls[p]);
        for (int r = 0; r < rounds && r < 64; r++) {
            char name[32];
            double t[P_N];
            snprintf(name, sizeof name, "%sp%dr%d", polls[p] < 0 ? "l" : "", abs(polls[p]), r);
            if (cloud_port(name, t, id) == 0) {
                for (int k = 0; k < P_N; k++)
                    v[k][n] = t[k];
                n++;
            } else
                fprintf(stderr, "round %s failed\n", name);
            /* the floor, interleaved so both see the same load */
            if (floor_port(p * 64 + r, t) == 0 && nf < 64) {
                for (int k = 0; k < P_N; k++)
                    fl[k][nf] = t[k];
                nf++;
            }
            usleep(100000 * (unsigned)(r % 5)); /* land at different points of the poll */
        }
        printf("   cloud, agent polling its desired set every %d ms%s (%d ok):\n", abs(polls[p]),
               polls[p] < 0 ? " + long-poll (interval.longpoll_s = 25)" : ", no long-poll", n);
        for (int k = 0; k < P_N; k++) {
            char s[128];
            range(s, sizeof s, v[k], n, "%.1f");
            printf("     %-46s %s\n", p_name[k], s);
        }
    }
    char s[128];
    printf("   peer by hand (ip link veth into a bridge + hosts line + SIGHUP, one sh; %d ok):\n",
           nf);
    range(s, sizeof s, fl[P_LINK], nf, "%.1f");
    printf("     %-46s %s\n", "ip + echo + kill -HUP", s);
    range(s, sizeof s, fl[P_OFFER], nf, "%.1f");
    printf("     %-46s %s\n", "dnsmasq: -> first DHCPOFFER", s);
    range(s, sizeof s, fl[P_TOTAL], nf, "%.1f");
    printf("     %-46s %s\n", "TOTAL: first command -> first DHCP answer", s);
    range(s, sizeof s, fl[P_UDHCPC], nf, "%.1f");
    printf("     %-46s %s\n", p_name[P_UDHCPC], s);
}

/* ---------------- 2. throughput ---------------- */

/* iperf3 from ns cli to the server in ns srv at ip: TCP Gbit/s (udp 0) or
 * UDP 64-byte frames/s received (udp 1; *sent gets frames/s sent). */
static double iperf(const char *cli, const char *srv, const char *ip, int udp, int secs,
                    double *sent)
{
    if (st_sh("ip netns exec %s iperf3 -s -D -1 -B %s >/dev/null 2>&1", srv, ip) != 0)
        return -1;
    usleep(300000);
    char *o = st_out("ip netns exec %s iperf3 -c %s -t %d -J %s 2>/dev/null", cli, ip, secs,
                     udp ? "-u -l 64 -b 0" : "");
    json_t *j = json_loads(o, 0, NULL);
    free(o);
    json_t *end = json_object_get(j, "end");
    double v = -1;
    if (!udp) {
        v = json_number_value(
                json_object_get(json_object_get(end, "sum_received"), "bits_per_second")) /
            1e9;
    } else {
        json_t *s = json_object_get(end, "sum");
        double secs_d = json_number_value(json_object_get(s, "seconds"));
        double pk = json_number_value(json_object_get(s, "packets"));
        double lost = json_number_value(json_object_get(s, "lost_packets"));
        if (secs_d > 0) {
            v = (pk - lost) / secs_d;
            if (sent)
                *sent = pk / secs_d;
        }
    }
    json_decref(j);
    usleep(200000); /* the one-off server exits */
    return v;
}

typedef struct path {
    const char *name;
    const char *cli, *srv, *ip;
} path;

static char *guest_ip(const char *id)
{
    char *o = st_out("ip -n %s -4 -o addr show dev eth0 | awk '{ split($4, a, \"/\"); print a[1] "
                     "}'",
                     id);
    o[strcspn(o, "\n")] = 0;
    return o;
}

static void tables(int present)
{
    for (int h = 0; h < 2; h++) {
        if (!present) {
            kill(H[h].p.pid, SIGSTOP);
            st_sh("ip netns exec %s nft delete table bridge stratus; ip netns exec %s nft delete "
                  "table inet stratus",
                  C.hostns[h], C.hostns[h]);
        } else {
            kill(H[h].p.pid, SIGCONT);
        }
    }
    if (present) /* the agents put them back (periodic converge) */
        for (int h = 0; h < 2; h++) {
            char cmd[256];
            snprintf(cmd, sizeof cmd, "ip netns exec %s nft list tables", C.hostns[h]);
            st_wait_out(cmd, "inet stratus", 1, 15000);
        }
}

static void bench_throughput(int rounds, int secs)
{
    /* guests: a and b on host 1, c on host 2 (one tenant, its default
     * network and default group: members reach each other) */
    char a[40], b[40], c[40];
    double t[P_N];
    only_host(0);
    if (cloud_port("tp-a", t, a) < 0 || cloud_port("tp-b", t, b) < 0)
        exit(1);
    only_host(1);
    char hosts[700];
    snprintf(hosts, sizeof hosts, "%s/net/dhcp-*.hosts", H[1].state_dir);
    if (cloud_create(&C, "tp-c", NULL, c) != 202 || cloud_guest_add(c) < 0)
        exit(1);
    char *lc = NULL;
    for (int i = 0; i < 30; i++) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "ip -n %s link show eth0", c);
        if (st_wait_out(cmd, "eth0", 1, 20000) == 0) {
            lc = cloud_guest_dhcp(&C, c);
            if (!strncmp(lc, "ip=", 3))
                break;
            free(lc);
            lc = NULL;
        }
    }
    if (!lc)
        exit(1);
    free(lc);
    char *ia = guest_ip(a), *ib = guest_ip(b), *ic = guest_ip(c);
    /* the floor: two namespaces on one veth, MTU 1450 like the guests */
    snprintf(floorns[0], sizeof floorns[0], "nbv1-%d", (int)getpid());
    snprintf(floorns[1], sizeof floorns[1], "nbv2-%d", (int)getpid());
    if (st_sh("ip netns add %s && ip netns add %s && ip -n %s link add eth0 mtu 1450 type veth "
              "peer name eth0 mtu 1450 netns %s && ip -n %s addr add 10.201.0.1/24 dev eth0 && ip "
              "-n %s addr add 10.201.0.2/24 dev eth0 && ip -n %s link set eth0 up && ip -n %s link "
              "set eth0 up && ip -n %s link set lo up && ip -n %s link set lo up",
              floorns[0], floorns[1], floorns[0], floorns[1], floorns[0], floorns[1], floorns[0],
              floorns[1], floorns[0], floorns[1]) != 0)
        exit(1);
    /* ping once each way so ARP/FDB are warm */
    st_sh("ip netns exec %s ping -c1 -W2 %s >/dev/null; ip netns exec %s ping -c1 -W2 %s "
          ">/dev/null",
          a, ib, a, ic);
    path ps[] = {{"one host, bridge (full data plane)", a, b, ib},
                 {"two hosts, VXLAN (full data plane)", a, c, ic},
                 {"one host, bridge, nft tables deleted", a, b, ib},
                 {"two hosts, VXLAN, nft tables deleted", a, c, ic},
                 {"floor: two namespaces on a plain veth", floorns[0], floorns[1], "10.201.0.2"}};
    enum { NP = sizeof ps / sizeof ps[0] };
    double tcp[NP][16], udp[NP][16], usent[NP][16];
    int n = rounds > 16 ? 16 : rounds;
    for (int r = 0; r < n; r++)
        for (int k = 0; k < NP; k++) {
            int bare = k == 2 || k == 3;
            if (bare)
                tables(0);
            tcp[k][r] = iperf(ps[k].cli, ps[k].srv, ps[k].ip, 0, secs, NULL);
            udp[k][r] = iperf(ps[k].cli, ps[k].srv, ps[k].ip, 1, secs, &usent[k][r]);
            if (bare)
                tables(1);
        }
    printf("\n2. guest to guest (namespaces on ports), iperf3 %d s each, %d rounds interleaved "
           "(min / median / max)\n",
           secs, n);
    printf("   %-40s %-22s %-28s %s\n", "path", "TCP Gbit/s", "UDP 64 B frames/s received",
           "(sent)");
    for (int k = 0; k < NP; k++) {
        char s1[96], s2[96], s3[96];
        range(s1, sizeof s1, tcp[k], n, "%.2f");
        range(s2, sizeof s2, udp[k], n, "%.0f");
        range(s3, sizeof s3, usent[k], n, "%.0f");
        printf("   %-40s %-22s %-28s (%s)\n", ps[k].name, s1, s2, s3);
    }
    free(ia), free(ib), free(ic);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    int polls[8] = {-500, 500, 50}, n_polls = 3;
    if (argc > 2) {
        n_polls = 0;
        for (int i = 2; i < argc && n_polls < 8; i++)
            polls[n_polls++] = strncmp(argv[i], "lp", 2) ? atoi(argv[i]) : -atoi(argv[i] + 2);
    }
    if (geteuid() != 0 || rounds < 1) {
        fprintf(stderr, "usage (root): bench_netport [ROUNDS] [POLL_MS...]\n");
        return 77;
    }
    if (cloud_netns_enter("nbench") < 0 ||
        system("command -v busybox iperf3 dnsmasq >/dev/null") != 0) {
        fprintf(stderr, "needs busybox, iperf3, dnsmasq and nft\n");
        return 77;
    }
    self_ns = st_netns_self();
    cloud_start(&C, "bench_netport");
    chmod(C.dir, 0711);
    int ok = cloud_hosts(&C, "nbh", 2) == 0;
    const char *extra[] = {"log.level = info", NULL};
    if (ok) {
        cloud_host_agent_start(&C, &H[0], "nb-host-1", 0, extra);
        cloud_host_agent_start(&C, &H[1], "nb-host-2", 1, extra);
        ok = floor_start() == 0;
    }
    if (ok) {
        char *up = st_out("uptime");
        printf("network port bench: load before: %s", up);
        free(up);
        bench_setup(rounds, polls, n_polls);
        bench_throughput(rounds < 3 ? rounds : 3, 3);
        up = st_out("uptime");
        printf("load after: %s", up);
        free(up);
    }
    for (int h = 0; h < 2; h++)
        if (H[h].running)
            cloud_agent_stop(&H[h], SIGTERM);
    char *ids = cloud_sql(&C, "SELECT string_agg(id::text, ' ') FROM iaas.instances");
    for (char *s = strtok(ids ? ids : (char *)"", " "); s; s = strtok(NULL, " "))
        cloud_guest_del(s);
    free(ids);
    st_sh("for n in $(ip netns list | awk '/^nbfg[0-9]+-%d/ { print $1 }'); do ip netns del $n; "
          "done",
          (int)getpid());
    for (int i = 0; i < 3; i++)
        if (floorns[i][0])
            cloud_netns_del(floorns[i]);
    cloud_stop(&C);
    cloud_netns_remove();
    return ok ? 0 : 1;
}
