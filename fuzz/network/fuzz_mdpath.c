/*
 * network_fuzz_mdpath - a metadata request path is untrusted input (a
 * guest sends it): any bytes go through md_route() against a document, and
 * every byte of the answer must lie inside what it points to.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "md.h"

static unsigned sink;
static char id[] = "i-1", host[] = "h", az[] = "z", key[] = "ssh-ed25519 AAAA k";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* The first byte chooses what the document has; the rest is the path,
     * in an exact-size heap copy so ASan sees any read past its end. */
    unsigned flags = data[0];
    char *path = malloc(size);
    if (!path)
        return 0;
    memcpy(path, data + 1, size - 1);
    path[size - 1] = '\0';
    unsigned char *ud = malloc(3);
    if (!ud) {
        free(path);
        return 0;
    }
    memcpy(ud, "a\0b", 3);
    md_doc d = {.tag = 1,
                .instance_id = id,
                .hostname = host,
                .az = az,
                .ssh_key = (flags & 1) ? key : NULL,
                .local = {htonl(0x0a000005)},
                .pub = {(flags & 2) ? htonl(0xcb007107) : 0},
                .ud = ud,
                .ud_len = (flags & 4) ? 3 : 0,
                .has_ud = (flags & 12) != 0};
    md_answer a;
    md_route((flags & 16) ? NULL : &d, path, &a);
    if (a.code != 200 && a.code != 404 && a.code != 500)
        abort();
    const unsigned char *b = a.body;
    for (size_t i = 0; i < a.len; i++)
        sink += b[i];
    md_answer_free(&a);
    free(ud);
    free(path);
    return 0;
}
