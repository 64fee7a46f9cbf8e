/*
 * stratus-linux-overlay - makes a qcow2 overlay over a backing file with the
 * image store's disk library (st_qcow2_create), the way the node agent makes
 * an instance's root disk. The vmm_linux_* tests copy it into the nested test
 * host (L1) so the overlay a Linux guest (L2) writes to is one of ours; QEMU
 * and `qemu-img check` then judge it.
 *
 *   stratus-linux-overlay OVERLAY BACKING [raw|qcow2]
 *
 * BACKING is recorded as given (a relative name is relative to OVERLAY's
 * directory). Exit 0, or 1 with the reason on stderr.
 */
#include <stratus/disk.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s OVERLAY BACKING [raw|qcow2]\n", argv[0]);
        return 2;
    }
    int rc = st_qcow2_create(argv[1], 0, argv[2], argc == 4 ? argv[3] : NULL);
    if (rc < 0) {
        fprintf(stderr, "%s: %s: %s\n", argv[0], argv[1], strerror(-rc));
        return 1;
    }
    return 0;
}
