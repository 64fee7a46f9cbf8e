/*
 * network_fuzz_nlreply - rtnetlink replies are untrusted input to
 * libstratus_net: any bytes go through the link, neighbour and address
 * walkers and the route walker (router namespaces), which must never read
 * outside the buffer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nl.h"

static unsigned sink;
static void on_link(const stn_link *l, void *d)
{
    sink += (unsigned)l->index + l->vx_vni;
    (void)d;
}
static void on_neigh(const stn_neigh *n, void *d)
{
    sink += n->dst + n->lladdr[5];
    (void)d;
}
static void on_addr(const stn_addr *a, void *d)
{
    sink += a->local;
    (void)d;
}
static void on_route(const stn_rt *r, void *d)
{
    sink += r->gateway + (unsigned)r->oif;
    (void)d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size heap copy, aligned as a receive buffer is, so ASan sees
     * any read past the end. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    stn_walk_links(buf, size, on_link, NULL);
    stn_walk_neighs(buf, size, on_neigh, NULL);
    stn_walk_addrs(buf, size, on_addr, NULL);
    stn_walk_routes(buf, size, on_route, NULL);
    free(buf);
    return 0;
}
