/*
 * sriov.c - SR-IOV physical and virtual functions: discovery from sysfs and
 * VF configuration through the PF's netlink (IFLA_VF_*).
 *
 * Discovery walks <root>/class/net/<dev>/device the way the kernel lays it
 * out: a PF's PCI device has sriov_totalvfs and sriov_numvfs, and one
 * symlink virtfn<N> per enabled VF pointing at the VF's PCI device, whose
 * driver symlink names its driver and whose net/ directory (when a host
 * driver is bound) names its netdev. sysfs is read with bounded reads and
 * every number is range-checked: a tree that lies (numvfs above totalvfs, a
 * missing virtfn link) is reported, not trusted.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Copies src into out when it fits; "" otherwise (a name too long for its
 * field is no name at all). */
static void put_name(char *out, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = 0;
    memcpy(out, src, n);
    out[n] = '\0';
}

/* A small decimal file (sysfs attribute); -1 when absent or not a number. */
static long read_num(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char b[32];
    ssize_t n = read(fd, b, sizeof b - 1);
    close(fd);
    if (n <= 0)
        return -1;
    b[n] = '\0';
    char *end;
    long v = strtol(b, &end, 10);
    if (end == b || (*end && *end != '\n') || v < 0 || v > 65535)
        return -1;
    return v;
}

/* The last path component of a symlink's target into out; "" when absent. */
static void link_base(const char *path, char *out, size_t cap)
{
    char t[4096];
    out[0] = '\0';
    ssize_t n = readlink(path, t, sizeof t - 1);
    if (n <= 0)
        return;
    t[n] = '\0';
    const char *b = strrchr(t, '/');
    put_name(out, cap, b ? b + 1 : t);
}

static void first_entry(const char *dir, char *out, size_t cap)
{
    out[0] = '\0';
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            put_name(out, cap, e->d_name);
            break;
        }
    closedir(d);
}

int stn_sriov_scan(const char *root, stn_pf *pfs, size_t max_pfs, size_t *n_pfs, stn_vf *vfs,
                   size_t max_vfs, size_t *n_vfs, char *err, size_t errlen)
{
    char dir[4096], p[4200];
    *n_pfs = *n_vfs = 0;
    snprintf(dir, sizeof dir, "%s/class/net", root);
    DIR *d = opendir(dir);
    if (!d)
        return stn_fail(err, errlen, "%s: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strlen(e->d_name) >= IFNAMSIZ)
            continue;
        snprintf(p, sizeof p, "%s/%s/device/sriov_totalvfs", dir, e->d_name);
        long total = read_num(p);
        if (total < 0)
            continue; /* not an SR-IOV PF */
        snprintf(p, sizeof p, "%s/%s/device/sriov_numvfs", dir, e->d_name);
        long num = read_num(p);
        if (num < 0 || num > total) {
            rc = stn_fail(err, errlen, "%s: sriov_numvfs %ld with sriov_totalvfs %ld", e->d_name,
                          num, total);
            break;
        }
        if (*n_pfs < max_pfs) {
            stn_pf *pf = &pfs[(*n_pfs)++];
            memset(pf, 0, sizeof *pf);
            snprintf(pf->name, sizeof pf->name, "%s", e->d_name);
            snprintf(p, sizeof p, "%s/%s/device", dir, e->d_name);
            link_base(p, pf->pci, sizeof pf->pci);
            pf->total_vfs = (unsigned)total;
            pf->num_vfs = (unsigned)num;
        }
        for (long i = 0; i < num && *n_vfs < max_vfs; i++) {
            stn_vf *vf = &vfs[*n_vfs];
            memset(vf, 0, sizeof *vf);
            snprintf(vf->pf, sizeof vf->pf, "%s", e->d_name);
            vf->index = (unsigned)i;
            snprintf(p, sizeof p, "%s/%s/device/virtfn%ld", dir, e->d_name, i);
            link_base(p, vf->pci, sizeof vf->pci);
            if (!vf->pci[0]) {
                rc = stn_fail(err, errlen, "%s: virtfn%ld missing", e->d_name, i);
                break;
            }
            snprintf(p, sizeof p, "%s/%s/device/virtfn%ld/driver", dir, e->d_name, i);
            link_base(p, vf->driver, sizeof vf->driver);
            snprintf(p, sizeof p, "%s/%s/device/virtfn%ld/net", dir, e->d_name, i);
            first_entry(p, vf->netdev, sizeof vf->netdev);
            (*n_vfs)++;
        }
        if (rc < 0)
            break;
    }
    closedir(d);
    return rc;
}

int stn_sriov_set_vf(stn_ctx *c, const char *pf_name, unsigned vf, const uint8_t mac[6],
                     unsigned vlan, int spoofchk, char *err, size_t errlen)
{
    if (vlan > 4094 || (mac[0] & 1))
        return stn_fail(err, errlen, "VF %u: bad VLAN or MAC", vf);
    int rc = stn_reload_links(c);
    if (rc < 0)
        return stn_fail(err, errlen, "dump links: %s", strerror(-rc));
    const stn_link *pf = stn_link_by_name(c, pf_name);
    if (!pf)
        return stn_fail(err, errlen, "PF %s not found", pf_name);
    rc = stn_nl_do(c->nl, stn_msg_vf_config(stn_nl_buf(c->nl), stn_nl_seq(c->nl), pf->index, vf,
                                            mac, vlan, spoofchk));
    if (rc < 0)
        return stn_fail(err, errlen, "PF %s VF %u: %s", pf_name, vf, strerror(-rc));
    return 0;
}
