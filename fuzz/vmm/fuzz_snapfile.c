/*
 * vmm_fuzz_snapfile - the snapshot's vmstate reader (snapfile.h) against hostile files.
 *
 * The input's first byte picks the mode:
 *  - even: the rest is a vmstate file as it stands (most inputs die at the checksum);
 *  - odd: the rest is the body (the sections), given a valid header and checksum, so the
 *    section reader itself is reached.
 * Whatever the reader accepts must write back to the same body, and read again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snapfile.h"
#include "stratus/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vmm_snapshot s;
    char err[256];
    uint8_t *buf;
    size_t len;
    if (!size)
        return 0;
    if (data[0] & 1) {
        char sha[65];
        uint32_t format = VMM_SNAP_FORMAT;
        uint64_t body = size - 1;
        len = VMM_SNAP_HEADER + body;
        buf = calloc(1, len);
        if (!buf)
            return 0;
        memcpy(buf, VMM_SNAP_MAGIC, 8);
        memcpy(buf + 8, &format, 4);
        memcpy(buf + 16, &body, 8);
        memcpy(buf + VMM_SNAP_HEADER, data + 1, body);
        st_sha256_hex(buf + VMM_SNAP_HEADER, body, sha);
        memcpy(buf + 24, sha, 64);
    } else {
        len = size - 1;
        buf = malloc(len ? len : 1);
        if (!buf)
            return 0;
        memcpy(buf, data + 1, len);
    }
    if (vmm_snap_read(&s, buf, len, err, sizeof err) == 0) {
        uint8_t *again;
        size_t again_len;
        vmm_snapshot t;
        if (vmm_snap_write(&s, &again, &again_len, err, sizeof err))
            abort();
        if (again_len != len ||
            memcmp(again + VMM_SNAP_HEADER, buf + VMM_SNAP_HEADER, len - VMM_SNAP_HEADER))
            abort();
        if (vmm_snap_read(&t, again, again_len, err, sizeof err))
            abort();
        vmm_snap_free(&t);
        free(again);
        vmm_snap_free(&s);
    }
    free(buf);
    return 0;
}
