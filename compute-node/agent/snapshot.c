/*
 * snapshot.c - an instance's disk into a new image (the gateway's snapshot
 * action, Nova's createImage): the job reconcile.c runs for an order whose
 * snapshot_image_id is set.
 *
 *   1. A running VM is paused (stratus-vmm's pause parks every vCPU and
 *      flushes its disks; libvirt's virDomainSuspend), so the copy is
 *      crash-consistent: what a power cut at that instant would leave. A
 *      stopped instance needs nothing.
 *   2. The overlay and its cached base are flattened by the disk library
 *      (st_disk_convert) into one standalone qcow2 beside the disk
 *      (snapshot.qcow2): only allocated data is copied, the file appears
 *      whole or not at all. The overlay is opened read only without its
 *      lock (ST_DISK_NOLOCK): the paused VMM holds the lock and writes
 *      nothing meanwhile.
 *   3. The VM is resumed, whatever the copy did: the guest is paused for
 *      the copy only, never for the upload.
 *   4. The file is uploaded (PUT .../file on the image service's data
 *      listener) with the node's own credential, which the image service
 *      takes only for this image of this instance on this node
 *      (common/nodeauth.h). The file is mapped, not read into memory, and
 *      removed after.
 *
 * Errors come back as -1 with the reason; the job reports it and the
 * gateway kills the image with it.
 */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stratus/disk.h"
#include "stratus/httpc.h"
#include "stratus/log.h"

/* Step 2: the flattened copy of dir's disk at path. */
static int flatten(const char *dir, const char *path, char *err, size_t errlen)
{
    char disk[4300];
    snprintf(disk, sizeof disk, "%s/disk.qcow2", dir);
    st_disk *d;
    char e[256];
    int rc =
        st_disk_open_ex(disk, ST_DISK_FMT_QCOW2 | ST_DISK_RDONLY | ST_DISK_NOLOCK, &d, e, sizeof e);
    if (rc < 0) {
        snprintf(err, errlen, "opening the instance's disk: %s", e);
        return -1;
    }
    rc = st_disk_convert(d, path, ST_DISK_QCOW2, e, sizeof e);
    st_disk_close(d);
    if (rc < 0) {
        snprintf(err, errlen, "flattening the disk: %s", e);
        return -1;
    }
    return 0;
}

/* Step 4: path's bytes as image_id's, with the node credential. */
static int upload(const nd_conf *c, const char *path, const char *image_id, char *err,
                  size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0) {
        snprintf(err, errlen, "reading the snapshot file: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "mapping the snapshot file: %s", strerror(errno));
        return -1;
    }
    char url[512];
    snprintf(url, sizeof url, "%s/v1/images/%s/file", c->img_data_url, image_id);
    st_httpc_req q = {.method = "PUT",
                      .url = url,
                      .bearer = c->credential,
                      .body = m,
                      .body_len = (size_t)st.st_size,
                      .content_type = "application/octet-stream",
                      .timeout_ms = -1,
                      .stall_s = 60};
    st_httpc_resp r;
    char e[256] = "", msg[256];
    long status = st_httpc(&q, &r, e, sizeof e);
    munmap(m, (size_t)st.st_size);
    if (status != 200)
        snprintf(err, errlen, "uploading the snapshot: %s",
                 status ? st_httpc_err_msg(&r, msg, sizeof msg) : e);
    st_httpc_resp_free(&r);
    return status == 200 ? 0 : -1;
}

int nd_snapshot_take(const nd_conf *c, nd_driver *drv, const char *dir, nd_vm_handle *h,
                     int running, const char *image_id, char *err, size_t errlen)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/snapshot.qcow2", dir);
    unlink(path); /* a copy a dead agent left behind */
    char e[256] = "";
    if (running && drv->ops->pause(drv, dir, h, 1, e, sizeof e) < 0) {
        snprintf(err, errlen, "pausing the VM: %s", e);
        return -1;
    }
    int rc = flatten(dir, path, err, errlen);
    if (running && drv->ops->pause(drv, dir, h, 0, e, sizeof e) < 0)
        st_error("node.snapshot", "%s: resuming the VM: %s", dir, e);
    if (rc == 0)
        rc = upload(c, path, image_id, err, errlen);
    unlink(path);
    return rc;
}
