/*
 * fuzz_desired.c - the desired-set parser over arbitrary bytes. Every set it
 * accepts must hold only well-formed entries (UUID ids, a known desired
 * state, sizes in range, at most 8 ports with UUID ids, unicast MACs, MTUs
 * in range, tap names that fit IFNAMSIZ), and each accepted user_data goes through the
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
        assert(st_uuid_valid(d->o.id) && st_uuid_valid(d->o.tenant_id) &&
               st_uuid_valid(d->o.image_id));
        assert(d->desired == ND_WANT_RUNNING || d->desired == ND_WANT_STOPPED ||
               d->desired == ND_WANT_DELETED);
        assert(d->o.vcpus >= 1 && d->o.memory_mib >= 1 && d->o.disk_gib >= 0 &&
               d->o.generation >= 0);
        assert(d->o.nports >= 0 && d->o.nports <= ND_MAX_PORTS);
        for (int k = 0; k < d->o.nports; k++) {
            const nd_port *p = &d->o.ports[k];
            char tap[16];
            assert(st_uuid_valid(p->id) && st_uuid_valid(p->network_id) && nd_mac_valid(p->mac));
            assert(p->mtu >= 68 && p->mtu <= 65535 && p->model[0] && p->vnic_type[0]);
            assert(p->nfixed_ips >= 0 && p->nfixed_ips <= ND_MAX_FIXED_IPS);
            nd_port_tap(p->id, tap);
            assert(strlen(tap) == 14);
        }
        char out[1024];
        nd_cmdline_build("console=ttyS0", d->o.id, d->user_data, out, sizeof out);
        for (const char *p = out; *p; p++)
            assert(*p >= 0x20 && *p < 0x7f);
    }
    nd_desired_free(&s);
    return 0;
}
