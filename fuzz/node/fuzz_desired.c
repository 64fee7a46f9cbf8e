/*
 * fuzz_desired.c - the desired-set parser over arbitrary bytes. Every set it
 * accepts must hold only well-formed entries (UUID ids, a known desired
 * state, sizes in range), and each accepted user_data goes through the
 * kernel command line builder, whose output must stay printable and bounded.
 */
#include "agent.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "stratus/uuid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nd_desired_set s;
    char err[256];
    if (nd_desired_parse((const char *)data, size, &s, err, sizeof err) < 0) {
        assert(s.n == 0 && s.v == NULL);
        assert(memchr(err, 0, sizeof err));
        return 0;
    }
    for (size_t i = 0; i < s.n; i++) {
        const nd_desired *d = &s.v[i];
        assert(st_uuid_valid(d->id) && st_uuid_valid(d->tenant_id) && st_uuid_valid(d->image_id));
        assert(!strcmp(d->desired, "running") || !strcmp(d->desired, "stopped") ||
               !strcmp(d->desired, "deleted"));
        assert(d->vcpus >= 1 && d->memory_mib >= 1 && d->disk_gib >= 0 && d->generation >= 0);
        char out[1024];
        nd_cmdline_build("console=ttyS0", d->id, d->user_data, out, sizeof out);
        for (const char *p = out; *p; p++)
            assert(*p >= 0x20 && *p < 0x7f);
    }
    nd_desired_free(&s);
    return 0;
}
