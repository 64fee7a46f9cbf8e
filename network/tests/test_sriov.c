/*
 * network_sriov - SR-IOV discovery against a sysfs tree laid out like a real
 * NIC's (this host has no SR-IOV NIC): an ice-style PF with 8 VFs possible,
 * 2 enabled, one bound to iavf with a netdev, one bound to vfio-pci without;
 * a VF's own netdev and a plain device are not PFs. A tree that lies is
 * refused.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "st_proc.h"
#include "st_test.h"
#include <stratus/net.h>

static char *root;

static void mk(const char *rel)
{
    char p[1024], *s;
    snprintf(p, sizeof p, "%s/%s", root, rel);
    for (s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        mkdir(p, 0755);
        *s = '/';
    }
    mkdir(p, 0755);
}

static void file(const char *rel, const char *text)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void ln(const char *target, const char *rel)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    unlink(p);
    if (symlink(target, p) != 0)
        perror(p);
}

static int setup(void)
{
    root = st_tmpdir("sriov");
    const char *pf = "devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0";
    char b[512], c[512];
    (void)b, (void)c;
    mk("devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0/net/ens1f0");
    mk("devices/pci0000:3a/0000:3a:00.0/0000:3b:02.0/net/ens1f0v0");
    mk("devices/pci0000:3a/0000:3a:00.0/0000:3b:02.1");
    mk("devices/virtual/net/lo");
    mk("bus/pci/drivers/ice");
    mk("bus/pci/drivers/iavf");
    mk("bus/pci/drivers/vfio-pci");
    mk("class/net");
    snprintf(b, sizeof b, "%s/sriov_totalvfs", pf);
    file(b, "8\n");
    snprintf(b, sizeof b, "%s/sriov_numvfs", pf);
    file(b, "2\n");
    snprintf(b, sizeof b, "%s/virtfn0", pf);
    ln("../0000:3b:02.0", b);
    snprintf(b, sizeof b, "%s/virtfn1", pf);
    ln("../0000:3b:02.1", b);
    snprintf(b, sizeof b, "%s/driver", pf);
    ln("../../../../bus/pci/drivers/ice", b);
    ln("../../../../bus/pci/drivers/iavf", "devices/pci0000:3a/0000:3a:00.0/0000:3b:02.0/driver");
    ln("../../../../bus/pci/drivers/vfio-pci",
       "devices/pci0000:3a/0000:3a:00.0/0000:3b:02.1/driver");
    ln("../../../0000:3b:00.0", "devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0/net/ens1f0/device");
    ln("../../../0000:3b:02.0", "devices/pci0000:3a/0000:3a:00.0/0000:3b:02.0/net/ens1f0v0/device");
    ln("../../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0/net/ens1f0", "class/net/ens1f0");
    ln("../../devices/pci0000:3a/0000:3a:00.0/0000:3b:02.0/net/ens1f0v0", "class/net/ens1f0v0");
    ln("../../devices/virtual/net/lo", "class/net/lo");
    return 0;
}

static int teardown(void)
{
    st_rmtree(root);
    free(root);
    return 0;
}

static void test_discovers_pf_and_vfs(void)
{
    stn_pf pfs[4];
    stn_vf vfs[16];
    size_t np, nv;
    char err[256];
    ST_ASSERT_INT_EQ_FATAL(stn_sriov_scan(root, pfs, 4, &np, vfs, 16, &nv, err, sizeof err), 0);
    ST_ASSERT_INT_EQ_FATAL(np, 1);
    ST_ASSERT_STR_EQ(pfs[0].name, "ens1f0");
    ST_ASSERT_STR_EQ(pfs[0].pci, "0000:3b:00.0");
    ST_ASSERT_INT_EQ(pfs[0].total_vfs, 8);
    ST_ASSERT_INT_EQ(pfs[0].num_vfs, 2);
    ST_ASSERT_INT_EQ_FATAL(nv, 2);
    /* readdir order is the filesystem's: find each VF by index */
    for (size_t i = 0; i < 2; i++) {
        ST_ASSERT_STR_EQ(vfs[i].pf, "ens1f0");
        if (vfs[i].index == 0) {
            ST_ASSERT_STR_EQ(vfs[i].pci, "0000:3b:02.0");
            ST_ASSERT_STR_EQ(vfs[i].driver, "iavf");
            ST_ASSERT_STR_EQ(vfs[i].netdev, "ens1f0v0");
        } else {
            ST_ASSERT_STR_EQ(vfs[i].pci, "0000:3b:02.1");
            ST_ASSERT_STR_EQ(vfs[i].driver, "vfio-pci");
            ST_ASSERT_STR_EQ(vfs[i].netdev, "");
        }
    }
}

static void test_lying_tree_is_refused(void)
{
    stn_pf pfs[4];
    stn_vf vfs[16];
    size_t np, nv;
    char err[256];
    const char *pf = "devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0";
    char b[512];
    snprintf(b, sizeof b, "%s/sriov_numvfs", pf);
    char t[512];
    snprintf(t, sizeof t, "%s/sriov_totalvfs", pf);
    file(t, "1\n"); /* two enabled (both links there), one possible */
    CU_ASSERT(stn_sriov_scan(root, pfs, 4, &np, vfs, 16, &nv, err, sizeof err) < 0);
    file(t, "8\n");
    file(b, "3\n"); /* virtfn2 does not exist */
    CU_ASSERT(stn_sriov_scan(root, pfs, 4, &np, vfs, 16, &nv, err, sizeof err) < 0);
    file(b, "x\n");
    ST_ASSERT_INT_EQ(stn_sriov_scan(root, pfs, 4, &np, vfs, 16, &nv, err, sizeof err), -22);
    file(b, "2\n");
    ST_ASSERT_INT_EQ(stn_sriov_scan(root, pfs, 4, &np, vfs, 16, &nv, err, sizeof err), 0);
    /* the caller's arrays bound what is written */
    ST_ASSERT_INT_EQ(stn_sriov_scan(root, pfs, 4, &np, vfs, 1, &nv, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(nv, 1);
}

static CU_TestInfo tests[] = {
    {"a PF and its VFs (driver, netdev) are found in a NIC-like sysfs tree",
     test_discovers_pf_and_vfs},
    {"a sysfs tree that lies is refused", test_lying_tree_is_refused},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"sriov", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
