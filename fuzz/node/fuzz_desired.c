/*
 * fuzz_desired.c - the desired-set parser over arbitrary bytes. Every set it
 * accepts must hold only well-formed entries (UUID ids, a known desired
 * state, sizes in range, at most 8 ports with UUID ids, unicast MACs, MTUs
 * in range, tap names that fit IFNAMSIZ; networks with a VNI and MTU in range,
 * distinct ids and VNIs, subnets, remote ports and security-group rules
 * inside their bounds; routers with UUID ids, at most 64 interfaces with
 * unicast MACs, floating IPs in IPv4), and each accepted user_data goes through the
 * kernel command line builder, whose output must stay printable and bounded.
 */
#include "agent.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "stratus/uuid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nd_desired_set s;
    char err[256];
    if (nd_desired_parse((const char *)data, size, &s, err, sizeof err) < 0) {
        assert(s.n == 0 && s.v == NULL && s.net.n == 0 && s.net.nets == NULL && s.net.nsgs == 0 &&
               s.net.nrouters == 0 && s.net.routers == NULL);
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
    for (size_t i = 0; i < s.net.n; i++) {
        const nd_network *n = &s.net.nets[i];
        assert(st_uuid_valid(n->id) && n->vni >= 1 && n->vni <= 16777215);
        assert(n->mtu >= 68 && n->mtu <= 65535 && nd_netset_find(&s.net, n->id) == n);
        for (size_t k = 0; k < n->nsubnets; k++) {
            const nd_subnet *sb = &n->subnets[k];
            assert(st_uuid_valid(sb->id));
            assert(!sb->v4 || (sb->prefix >= 0 && sb->prefix <= 30 && sb->ndns <= ND_MAX_DNS &&
                               sb->nroutes <= ND_MAX_ROUTES && sb->npools <= ND_MAX_POOLS));
            for (int q = 0; sb->v4 && q < sb->npools; q++)
                assert(ntohl(sb->pool_lo[q].s_addr) <= ntohl(sb->pool_hi[q].s_addr));
        }
        for (size_t k = 0; k < n->nremotes; k++)
            assert(nd_mac_valid(n->remotes[k].mac) && st_uuid_valid(n->remotes[k].host_id) &&
                   n->remotes[k].nfixed_ips <= ND_MAX_FIXED_IPS);
    }
    for (size_t i = 0; i < s.net.nsgs; i++) {
        const nd_secgroup *g = &s.net.sgs[i];
        assert(st_uuid_valid(g->id));
        for (size_t k = 0; k < g->nports; k++)
            assert(st_uuid_valid(g->port_ids[k]));
        for (size_t k = 0; k < g->nrules; k++) {
            const nd_sg_rule *r = &g->rules[k];
            (void)r; /* assert may compile away */
            assert(r->protocol >= 0 && r->protocol <= 255 && r->port_min <= 65535 &&
                   r->port_max <= 65535 && (r->port_min < 0) == (r->port_max < 0));
            assert(r->remote_prefix <= 32 &&
                   (!r->remote_group[0] || st_uuid_valid(r->remote_group)));
        }
    }
    for (size_t i = 0; i < s.net.nrouters; i++) {
        const nd_router *r = &s.net.routers[i];
        assert(st_uuid_valid(r->id) && r->nifs <= ND_MAX_ROUTER_IFS &&
               (r->snat == 0 || r->snat == 1));
        for (size_t k = 0; k < r->nifs; k++)
            assert(nd_mac_valid(r->ifs[k].mac) && st_uuid_valid(r->ifs[k].network_id) &&
                   st_uuid_valid(r->ifs[k].subnet_id) && (r->ifs[k].v4 || !r->ifs[k].ip.s_addr));
        assert(!r->has_gw || (nd_mac_valid(r->gw.mac) && st_uuid_valid(r->gw.network_id)));
        for (size_t k = 0; k < r->nfips; k++)
            assert(st_uuid_valid(r->fips[k].id));
        for (size_t k = 0; k < i; k++)
            assert(strcmp(s.net.routers[k].id, r->id) != 0);
    }
    nd_desired_free(&s);
    return 0;
}
