/*
 * The upload validator over arbitrary bytes: st_qcow2_validate_header()
 * must return 0 or -EINVAL with a message, never crash or read out of
 * bounds, whatever the header claims. The file size is taken from the
 * input's length, and once more from its first bytes (a header that claims
 * tables in a huge file it does not have).
 */
#include "stratus/disk.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    /* An exact-size copy so ASan sees any read past the end. */
    uint8_t *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    int rc = st_qcow2_validate_header(buf, size, size, err, sizeof err);
    if (rc != 0 && (rc != -EINVAL || !err[0]))
        abort();
    uint64_t claimed = 0;
    if (size >= 8)
        memcpy(&claimed, data + size - 8, 8);
    rc = st_qcow2_validate_header(buf, size, claimed, err, sizeof err);
    if (rc != 0 && (rc != -EINVAL || !err[0]))
        abort();
    free(buf);
    return 0;
}
