/*
 * dhcp.c - one dnsmasq per network, configured and supervised.
 *
 * For each network with DHCP, state_dir holds dhcp-<vni>.conf (the server),
 * dhcp-<vni>.hosts (static leases MAC,IP), .pid, .leases and .log. The range
 * is `static`: a MAC that is not in the hosts file gets no lease. dnsmasq
 * daemonizes, so it outlives the caller; a later pass (maybe a new process)
 * finds it again through its pid file, checked against /proc/<pid>/cmdline
 * so a recycled pid is never mistaken for it. A changed hosts file is
 * reloaded with SIGHUP; a changed configuration restarts the server; a
 * pid file of a network that is no longer wanted stops its server.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void path(char *out, size_t cap, const char *dir, uint32_t vni, const char *ext)
{
    snprintf(out, cap, "%s/dhcp-%u.%s", dir, vni, ext);
}

char *stn_dhcp_render(const stn_state *s, const stn_network *n, const char *state_dir)
{
    char *text = NULL, b[INET_ADDRSTRLEN], p[4096], br[IFNAMSIZ];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    struct in_addr mask = {htonl(n->prefix ? 0xffffffffu << (32 - n->prefix) : 0)};
    char m[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &mask, m, sizeof m);
    stn_bridge_name(br, n->vni);
    fprintf(f, "# dnsmasq for network %s (VNI %u), written by libstratus_net\n", n->id, n->vni);
    fprintf(f, "interface=%s\nbind-interfaces\nport=0\nno-resolv\nno-hosts\n", br);
    fprintf(f, "dhcp-authoritative\ndhcp-range=%s,static,%s,86400s\n",
            inet_ntop(AF_INET, &n->cidr, b, sizeof b), m);
    path(p, sizeof p, state_dir, n->vni, "hosts");
    fprintf(f, "dhcp-hostsfile=%s\n", p);
    path(p, sizeof p, state_dir, n->vni, "leases");
    fprintf(f, "dhcp-leasefile=%s\n", p);
    path(p, sizeof p, state_dir, n->vni, "pid");
    fprintf(f, "pid-file=%s\n", p);
    path(p, sizeof p, state_dir, n->vni, "log");
    fprintf(f, "log-facility=%s\nlog-dhcp\n", p);
    fprintf(f, "dhcp-option=option:mtu,%u\n", n->mtu);
    if (n->gateway.s_addr)
        fprintf(f, "dhcp-option=option:router,%s\n", inet_ntop(AF_INET, &n->gateway, b, sizeof b));
    for (size_t i = 0; i < n->n_dns; i++)
        fprintf(f, "%s%s%s", i ? "," : "dhcp-option=option:dns-server,",
                inet_ntop(AF_INET, &n->dns[i], b, sizeof b), i + 1 == n->n_dns ? "\n" : "");
    if (n->n_routes || s->metadata_port) {
        /* A client given classless routes ignores the router option (RFC
         * 3442): the default route goes into the list too. With the
         * metadata service, 169.254.169.254/32 is reached through the DHCP
         * address (as Neutron does for isolated networks), router or not. */
        fputs("dhcp-option=option:classless-static-route", f);
        if (s->metadata_port)
            fprintf(f, ",169.254.169.254/32,%s", inet_ntop(AF_INET, &n->dhcp_ip, b, sizeof b));
        for (size_t i = 0; i < n->n_routes; i++) {
            fprintf(f, ",%s/%u", inet_ntop(AF_INET, &n->routes[i].dst, b, sizeof b),
                    n->routes[i].prefix);
            fprintf(f, ",%s", inet_ntop(AF_INET, &n->routes[i].via, b, sizeof b));
        }
        if (n->gateway.s_addr)
            fprintf(f, ",0.0.0.0/0,%s", inet_ntop(AF_INET, &n->gateway, b, sizeof b));
        fputc('\n', f);
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

static char *render_hosts(const stn_state *s, const stn_network *n)
{
    char *text = NULL, b[INET_ADDRSTRLEN];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    uint32_t mask = n->prefix ? 0xffffffffu << (32 - n->prefix) : 0;
    for (size_t i = 0; i < s->n_ports; i++) {
        const stn_port *p = &s->ports[i];
        if (strcmp(p->network_id, n->id) != 0)
            continue;
        for (size_t k = 0; k < p->n_ips; k++)
            if ((ntohl(p->ips[k].s_addr) & mask) == (ntohl(n->cidr.s_addr) & mask)) {
                fprintf(f, "%02x:%02x:%02x:%02x:%02x:%02x,%s\n", p->mac[0], p->mac[1], p->mac[2],
                        p->mac[3], p->mac[4], p->mac[5],
                        inet_ntop(AF_INET, &p->ips[k], b, sizeof b));
                break;
            }
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* 1 when file holds exactly text, 0 otherwise. */
static int same_file(const char *file, const char *text)
{
    FILE *f = fopen(file, "re");
    if (!f)
        return 0;
    size_t n = strlen(text);
    char *buf = malloc(n + 2);
    size_t got = buf ? fread(buf, 1, n + 1, f) : 0;
    fclose(f);
    int same = buf && got == n && memcmp(buf, text, n) == 0;
    free(buf);
    return same;
}

static int write_file(const char *file, const char *text)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", file);
    FILE *f = fopen(tmp, "we");
    if (!f)
        return -errno;
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    if (fclose(f) != 0 || !ok) {
        unlink(tmp);
        return -EIO;
    }
    return rename(tmp, file) < 0 ? -errno : 0;
}

/* The pid of the dnsmasq serving conf, or 0. */
static pid_t running(const char *pidfile, const char *conf)
{
    FILE *f = fopen(pidfile, "re");
    if (!f)
        return 0;
    long pid = 0;
    if (fscanf(f, "%ld", &pid) != 1 || pid <= 1)
        pid = 0;
    fclose(f);
    if (!pid)
        return 0;
    char proc[64], cmd[4096];
    snprintf(proc, sizeof proc, "/proc/%ld/cmdline", pid);
    int fd = open(proc, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, cmd, sizeof cmd - 1);
    close(fd);
    if (n <= 0)
        return 0;
    cmd[n] = '\0';
    for (ssize_t i = 0; i < n; i++)
        if (!cmd[i])
            cmd[i] = ' ';
    char want[4200];
    snprintf(want, sizeof want, "--conf-file=%s ", conf);
    return strstr(cmd, want) ? (pid_t)pid : 0;
}

static void stop(pid_t pid)
{
    if (kill(pid, SIGTERM) < 0)
        return;
    for (int i = 0; i < 200 && kill(pid, 0) == 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
}

static int start(stn_ctx *c, const char *conf, char *err, size_t errlen)
{
    char arg[4200];
    snprintf(arg, sizeof arg, "--conf-file=%s", conf);
    pid_t pid = fork();
    if (pid < 0)
        return stn_fail(err, errlen, "fork: %s", strerror(errno));
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 1);
        }
        execlp(c->dnsmasq, c->dnsmasq, arg, (char *)NULL);
        _exit(127);
    }
    /* dnsmasq's first process exits once the daemon is ready (or failed). */
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return stn_fail(err, errlen, "dnsmasq %s failed to start (status %d)", conf,
                        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

static int wanted_vni(const stn_state *s, unsigned vni)
{
    for (size_t i = 0; i < s->n_networks; i++)
        if (s->networks[i].vni == vni && s->networks[i].dhcp)
            return 1;
    return 0;
}

int stn_converge_dhcp(stn_ctx *c, const stn_state *s, stn_stats *st, char *err, size_t errlen)
{
    char conf[4096], hosts[4096], pidf[4096];
    int rc = 0;
    for (size_t i = 0; i < s->n_networks && rc >= 0; i++) {
        const stn_network *n = &s->networks[i];
        if (!n->dhcp)
            continue;
        path(conf, sizeof conf, c->state_dir, n->vni, "conf");
        path(hosts, sizeof hosts, c->state_dir, n->vni, "hosts");
        path(pidf, sizeof pidf, c->state_dir, n->vni, "pid");
        char *ct = stn_dhcp_render(s, n, c->state_dir), *ht = render_hosts(s, n);
        if (!ct || !ht) {
            free(ct);
            free(ht);
            return stn_fail(err, errlen, "out of memory");
        }
        int conf_same = same_file(conf, ct), hosts_same = same_file(hosts, ht);
        if ((!hosts_same && (rc = write_file(hosts, ht)) < 0) ||
            (!conf_same && (rc = write_file(conf, ct)) < 0))
            rc = stn_fail(err, errlen, "write %s: %s", conf, strerror(-rc));
        free(ct);
        free(ht);
        if (rc < 0)
            break;
        pid_t pid = running(pidf, conf);
        if (pid && !conf_same) {
            stop(pid);
            pid = 0;
            st->dhcp_stopped++;
        }
        if (!pid) {
            rc = start(c, conf, err, errlen);
            st->dhcp_started++;
        } else if (!hosts_same) {
            kill(pid, SIGHUP);
            st->dhcp_reloaded++;
        }
    }
    if (rc < 0)
        return rc;
    /* Servers of networks no longer here. */
    DIR *d = opendir(c->state_dir);
    if (!d)
        return stn_fail(err, errlen, "%s: %s", c->state_dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned vni;
        char tail[8];
        if (sscanf(e->d_name, "dhcp-%u.%7s", &vni, tail) != 2 || strcmp(tail, "conf") != 0 ||
            wanted_vni(s, vni))
            continue;
        path(conf, sizeof conf, c->state_dir, vni, "conf");
        path(pidf, sizeof pidf, c->state_dir, vni, "pid");
        pid_t pid = running(pidf, conf);
        if (pid) {
            stop(pid);
            st->dhcp_stopped++;
        }
        /* the leases go with the server: a network back later starts clean */
        unlink(pidf);
        path(hosts, sizeof hosts, c->state_dir, vni, "hosts");
        unlink(hosts);
        path(hosts, sizeof hosts, c->state_dir, vni, "leases");
        unlink(hosts);
        unlink(conf);
    }
    closedir(d);
    return 0;
}
