/*
 * nft.c - anti-spoofing and security groups as two nftables tables, replaced
 * in ONE atomic transaction.
 *
 * `table bridge stratus` (L2, before br_netfilter): a frame from a port must
 * carry the port's MAC; ARP must carry the port's MAC and one of its IPs;
 * IPv4 must come from one of its IPs (0.0.0.0 only for a DHCP request); no
 * port may send from udp/67 (a DHCP server) or from 169.254.169.254; any
 * other ethertype (IPv6 included: ports have no IPv6 yet) is dropped. The
 * checks are set lookups keyed by (port, MAC) and (port, IP): one chain for
 * all ports. DHCP never crosses the overlay: each host answers its own ports.
 *
 * `table inet stratus` (L3, bridged IPv4 through br_netfilter, stateful):
 * conntrack zone per network (overlapping tenant CIDRs never share flows);
 * egress in prerouting, ingress in forward, each a verdict map keyed by
 * (bridge, port IP) that jumps to the port's chain; a port chain accepts
 * established/related traffic, then jumps to its groups' chains, then drops.
 * A remote group is a set of member addresses. Bridge-family conntrack
 * (nf_conntrack_bridge) would be the other way; this kernel lacks it.
 *
 * The transaction deletes and recreates both tables, so the result has no
 * duplicates whatever was there before. Both tables carry a comment with the
 * FNV-1a hash of the rendered text: when the kernel already has that hash
 * nothing is sent, so converging twice does not touch the ruleset.
 *
 * Metadata (with metadata_port): tcp to 169.254.169.254:80 arriving on a
 * bridge is redirected to the local metadata_port, where metadata.c has one
 * listener per bridge and knows the caller by (bridge, source IP).
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <stratus/crypto.h>
#include <string.h>

static const char *ip4(struct in_addr a, char buf[INET_ADDRSTRLEN])
{
    return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* nft identifiers: ids are [A-Za-z0-9_-]; '-' becomes '_'. */
static void ident(FILE *f, const char *prefix, const char *id)
{
    fputs(prefix, f);
    for (const char *p = id; *p; p++)
        fputc(*p == '-' ? '_' : *p, f);
}

static void mac(FILE *f, const uint8_t m[6])
{
    fprintf(f, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int port_in_sg(const stn_port *p, const char *sg)
{
    for (size_t k = 0; k < p->n_sgs; k++)
        if (strcmp(p->sgs[k], sg) == 0)
            return 1;
    return 0;
}

/* The members of a group: the given addresses plus local ports', sorted, unique. */
static void members(FILE *f, const stn_state *s, const stn_secgroup *g)
{
    size_t cap = g->n_members + 1;
    for (size_t i = 0; i < s->n_ports; i++)
        cap += s->ports[i].n_ips;
    uint32_t *a = malloc(cap * sizeof *a);
    if (!a)
        return;
    size_t n = 0;
    for (size_t i = 0; i < g->n_members; i++)
        a[n++] = ntohl(g->members[i].s_addr);
    for (size_t i = 0; i < s->n_ports; i++)
        if (port_in_sg(&s->ports[i], g->id))
            for (size_t k = 0; k < s->ports[i].n_ips; k++)
                a[n++] = ntohl(s->ports[i].ips[k].s_addr);
    qsort(a, n, sizeof *a, cmp_u32);
    ident(f, "\tset sgm_", g->id);
    fputs(" {\n\t\ttype ipv4_addr\n", f);
    const char *sep = "\t\telements = { ";
    for (size_t i = 0; i < n; i++) {
        if (i && a[i] == a[i - 1])
            continue;
        struct in_addr x = {htonl(a[i])};
        char b[INET_ADDRSTRLEN];
        fprintf(f, "%s%s", sep, ip4(x, b));
        sep = ", ";
    }
    if (n)
        fputs(" }\n", f);
    fputs("\t}\n", f);
    free(a);
}

static void sg_rule(FILE *f, const stn_sg_rule *r)
{
    char b[INET_ADDRSTRLEN];
    const char *side = r->direction == STN_INGRESS ? "saddr" : "daddr";
    fputs("\t\tmeta nfproto ipv4", f);
    if (r->remote_group[0]) {
        fprintf(f, " ip %s ", side);
        ident(f, "@sgm_", r->remote_group);
    } else if (r->remote_prefix)
        fprintf(f, " ip %s %s/%u", side, ip4(r->remote_cidr, b), r->remote_prefix);
    if (r->protocol == 6 || r->protocol == 17) {
        const char *p = r->protocol == 6 ? "tcp" : "udp";
        if (r->port_min && r->port_max > r->port_min)
            fprintf(f, " %s dport %u-%u", p, r->port_min, r->port_max);
        else if (r->port_min)
            fprintf(f, " %s dport %u", p, r->port_min);
        else
            fprintf(f, " meta l4proto %s", p);
    } else if (r->protocol == 1) {
        fputs(" meta l4proto icmp", f);
        if (r->port_min)
            fprintf(f, " icmp type %u", r->port_min);
    } else if (r->protocol)
        fprintf(f, " meta l4proto %d", r->protocol);
    fputs(" accept\n", f);
}

static void bridge_table(FILE *f, const stn_state *s, const char *comment)
{
    char b[INET_ADDRSTRLEN];
    fprintf(f, "table bridge stratus {\n\tcomment \"%s\"\n", comment);
    fputs("\tset ports {\n\t\ttype ifname\n", f);
    for (size_t i = 0; i < s->n_ports; i++)
        fprintf(f, "%s\"%s\"%s", i ? ", " : "\t\telements = { ", s->ports[i].ifname,
                i + 1 == s->n_ports ? " }\n" : "");
    fputs("\t}\n\tset vteps {\n\t\ttype ifname\n", f);
    for (size_t i = 0; i < s->n_networks; i++) {
        char vx[IFNAMSIZ];
        stn_vxlan_name(vx, s->networks[i].vni);
        fprintf(f, "%s\"%s\"%s", i ? ", " : "\t\telements = { ", vx,
                i + 1 == s->n_networks ? " }\n" : "");
    }
    fputs("\t}\n\tset port_mac {\n\t\ttype ifname . ether_addr\n", f);
    for (size_t i = 0; i < s->n_ports; i++) {
        fprintf(f, "%s\"%s\" . ", i ? ", " : "\t\telements = { ", s->ports[i].ifname);
        mac(f, s->ports[i].mac);
        if (i + 1 == s->n_ports)
            fputs(" }\n", f);
    }
    fputs("\t}\n\tset port_ip {\n\t\ttype ifname . ipv4_addr\n", f);
    int first = 1;
    for (size_t i = 0; i < s->n_ports; i++)
        for (size_t k = 0; k < s->ports[i].n_ips; k++) {
            fprintf(f, "%s\"%s\" . %s", first ? "\t\telements = { " : ", ", s->ports[i].ifname,
                    ip4(s->ports[i].ips[k], b));
            first = 0;
        }
    if (!first)
        fputs(" }\n", f);
    fputs("\t}\n", f);
    fputs("\tchain l2_in {\n\t\ttype filter hook prerouting priority -200; policy accept;\n"
          "\t\tiifname @ports jump port_src\n"
          /* the metadata service answers local ports only: another host
           * cannot ask for them over the overlay */
          "\t\tiifname @vteps ether type ip ip daddr 169.254.169.254 drop\n\t}\n",
          f);
    fputs("\tchain port_src {\n"
          "\t\tiifname . ether saddr != @port_mac drop\n"
          "\t\tether type arp iifname . arp saddr ether != @port_mac drop\n"
          "\t\tether type arp arp saddr ip 0.0.0.0 accept\n"
          "\t\tether type arp iifname . arp saddr ip != @port_ip drop\n"
          "\t\tether type arp accept\n"
          "\t\tether type ip ip protocol udp udp sport 67 drop\n"
          "\t\tether type ip ip saddr 169.254.169.254 drop\n"
          "\t\tether type ip ip saddr 0.0.0.0 ip protocol udp udp sport 68 udp dport 67 accept\n"
          "\t\tether type ip iifname . ip saddr != @port_ip drop\n"
          "\t\tether type ip accept\n"
          "\t\tdrop\n\t}\n",
          f);
    fputs("\tchain l2_fwd {\n\t\ttype filter hook forward priority 0; policy accept;\n"
          "\t\toifname @vteps ether type ip ip protocol udp udp dport { 67, 68 } drop\n"
          "\t\tiifname @vteps ether type ip ip protocol udp udp dport { 67, 68 } drop\n\t}\n}\n",
          f);
}

/* Elements "stbN" . IP : jump <prefix><port> for every port IP. */
static void port_map(FILE *f, const stn_state *s, const char *name, const char *chain)
{
    char b[INET_ADDRSTRLEN];
    fprintf(f, "\tmap %s {\n\t\ttype ifname . ipv4_addr : verdict\n", name);
    int first = 1;
    for (size_t i = 0; i < s->n_ports; i++) {
        const stn_network *net = stn_find_network(s, s->ports[i].network_id);
        char br[IFNAMSIZ];
        stn_bridge_name(br, net->vni);
        for (size_t k = 0; k < s->ports[i].n_ips; k++) {
            fprintf(f, "%s\"%s\" . %s : jump ", first ? "\t\telements = { " : ", ", br,
                    ip4(s->ports[i].ips[k], b));
            ident(f, chain, s->ports[i].id);
            first = 0;
        }
    }
    if (!first)
        fputs(" }\n", f);
    fputs("\t}\n", f);
}

/* A chain at priority -300 setting the conntrack zone from the bridge (dev:
 * "iifname" or "oifname"). Zone 0 is the host's own: a VNI whose low 16
 * bits are 0 uses 65535. */
static void zone_chain(FILE *f, const stn_state *s, const char *name, const char *hook,
                       const char *dev)
{
    fprintf(f, "\tchain %s {\n\t\ttype filter hook %s priority -300; policy accept;\n", name, hook);
    for (size_t i = 0; i < s->n_networks; i++) {
        char br[IFNAMSIZ];
        stn_bridge_name(br, s->networks[i].vni);
        unsigned zone = s->networks[i].vni & 0xffff;
        if (!i)
            fprintf(f, "\t\tct zone set %s map { ", dev);
        fprintf(f, "%s\"%s\" : %u%s", i ? ", " : "", br, zone ? zone : 65535,
                i + 1 == s->n_networks ? " }\n" : "");
    }
    fputs("\t}\n", f);
}

static void inet_table(FILE *f, const stn_state *s, const char *comment)
{
    fprintf(f, "table inet stratus {\n\tcomment \"%s\"\n", comment);
    for (size_t i = 0; i < s->n_sgs; i++)
        members(f, s, &s->sgs[i]);
    port_map(f, s, "egress", "pe_");
    port_map(f, s, "ingress", "pi_");
    zone_chain(f, s, "ct_zone", "prerouting", "iifname");
    if (s->metadata_port && s->n_networks)
        /* The metadata listener's replies leave through a bridge: they must
         * find their connection in the network's zone (its reverse NAT). */
        zone_chain(f, s, "ct_zone_out", "output", "oifname");
    fputs("\tchain sg_egress {\n\t\ttype filter hook prerouting priority 0; policy accept;\n"
          "\t\tiifname . ip saddr vmap @egress\n\t}\n",
          f);
    fputs("\tchain sg_ingress {\n\t\ttype filter hook forward priority 0; policy accept;\n"
          "\t\tiifname . ip daddr vmap @ingress\n\t}\n",
          f);
    if (s->metadata_port && s->n_networks) {
        /* The metadata seam: the port is known from the (bridge, source IP)
         * the connection came from, after anti-spoofing; its md_tag rides in
         * the conntrack mark to the listener. */
        char b[INET_ADDRSTRLEN];
        fputs("\tmap md_tag {\n\t\ttype ifname . ipv4_addr : mark\n", f);
        int first = 1;
        for (size_t i = 0; i < s->n_ports; i++) {
            const stn_network *net = stn_find_network(s, s->ports[i].network_id);
            char br[IFNAMSIZ];
            stn_bridge_name(br, net->vni);
            for (size_t k = 0; k < s->ports[i].n_ips && s->ports[i].md_tag; k++) {
                fprintf(f, "%s\"%s\" . %s : %" PRIu32, first ? "\t\telements = { " : ", ", br,
                        ip4(s->ports[i].ips[k], b), s->ports[i].md_tag);
                first = 0;
            }
        }
        if (!first)
            fputs(" }\n", f);
        /* Every port is redirected, tagged or not (an untagged one gets
         * 404 from the listener rather than a timeout); the mark is for
         * `conntrack -L` only: the listener knows the port from its socket. */
        /* A port holds at most STN_MD_CONNS connections to the service at
         * once (ct count per bridge and source): one guest cannot use up
         * the service's sockets. */
        fputs("\t}\n\tset md_conns {\n\t\ttype ifname . ipv4_addr\n\t\tsize 65535\n"
              "\t\tflags dynamic\n\t}\n"
              "\tchain md_redirect {\n\t\ttype nat hook prerouting priority -100; policy "
              "accept;\n",
              f);
        for (size_t i = 0; i < s->n_networks; i++) {
            char br[IFNAMSIZ];
            stn_bridge_name(br, s->networks[i].vni);
            fprintf(f, "%s\"%s\"%s", i ? ", " : "\t\tiifname != { ", br,
                    i + 1 == s->n_networks ? " } return\n" : "");
        }
        fprintf(f,
                "\t\tip daddr 169.254.169.254 tcp dport 80 ct mark set iifname . ip saddr map "
                "@md_tag\n"
                "\t\tip daddr 169.254.169.254 tcp dport 80 ct state new add @md_conns "
                "{ iifname . ip saddr ct count over %u } drop\n"
                "\t\tip daddr 169.254.169.254 tcp dport 80 redirect to :%u\n\t}\n",
                STN_MD_CONNS, s->metadata_port);
    }
    for (int dir = 0; dir < 2; dir++)
        for (size_t i = 0; i < s->n_ports; i++) {
            const stn_port *p = &s->ports[i];
            ident(f, dir ? "\tchain pe_" : "\tchain pi_", p->id);
            fputs(" {\n\t\tct state established,related accept\n", f);
            if (dir) {
                fputs("\t\tmeta l4proto udp udp dport 67 accept\n", f);
                if (s->metadata_port) /* seen here after the redirect */
                    fputs("\t\tmeta l4proto tcp ct original ip daddr 169.254.169.254 "
                          "ct original proto-dst 80 accept\n",
                          f);
            }
            for (size_t k = 0; k < p->n_sgs; k++) {
                ident(f, "\t\tjump sg_", p->sgs[k]);
                fputs(dir ? "_e\n" : "_i\n", f);
            }
            fputs("\t\tdrop\n\t}\n", f);
        }
    for (size_t i = 0; i < s->n_sgs; i++)
        for (int dir = 0; dir < 2; dir++) {
            const stn_secgroup *g = &s->sgs[i];
            ident(f, "\tchain sg_", g->id);
            fputs(dir ? "_e {\n" : "_i {\n", f);
            for (size_t r = 0; r < g->n_rules; r++)
                if ((int)g->rules[r].direction == dir && g->rules[r].ethertype == 4)
                    sg_rule(f, &g->rules[r]);
            fputs("\t}\n", f);
        }
    fputs("}\n", f);
}

static char *render(const stn_state *s, const char *comment)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    fputs("table bridge stratus\ndelete table bridge stratus\n"
          "table inet stratus\ndelete table inet stratus\n",
          f);
    bridge_table(f, s, comment);
    inet_table(f, s, comment);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

char *stn_nft_render(const stn_state *s, char *err, size_t errlen)
{
    if (stn_validate(s, err, errlen) < 0)
        return NULL;
    /* The comment names the hash of the text rendered without it. */
    char *body = render(s, "");
    if (!body) {
        stn_fail(err, errlen, "out of memory");
        return NULL;
    }
    char comment[40];
    snprintf(comment, sizeof comment, "stratus:%016" PRIx64, st_fnv1a64(body, strlen(body)));
    free(body);
    char *text = render(s, comment);
    if (!text)
        stn_fail(err, errlen, "out of memory");
    return text;
}

/* The comment of a table as the kernel has it, or "" when there is none. */
static void current_comment(struct nft_ctx *n, const char *family, char out[40])
{
    out[0] = '\0';
    char cmd[64];
    snprintf(cmd, sizeof cmd, "list table %s stratus", family);
    if (nft_run_cmd_from_buffer(n, cmd) != 0)
        return;
    const char *o = nft_ctx_get_output_buffer(n);
    const char *c = o ? strstr(o, "comment \"stratus:") : NULL;
    if (!c)
        return;
    c += strlen("comment \"");
    size_t k = 0;
    while (c[k] && c[k] != '"' && k < 39)
        k++;
    memcpy(out, c, k);
    out[k] = '\0';
}

int stn_converge_nft(stn_ctx *c, const stn_state *s, stn_stats *st, char *err, size_t errlen)
{
    char *text = stn_nft_render(s, err, errlen);
    if (!text)
        return -EINVAL;
    const char *want = strstr(text, "comment \"") + strlen("comment \"");
    char hash[40];
    size_t k = strcspn(want, "\"");
    snprintf(hash, sizeof hash, "%.*s", (int)k, want);

    struct nft_ctx *n = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!n) {
        free(text);
        return stn_fail(err, errlen, "nft_ctx_new failed");
    }
    nft_ctx_buffer_output(n);
    nft_ctx_buffer_error(n);
    char b[40], i[40];
    current_comment(n, "bridge", b);
    current_comment(n, "inet", i);
    int rc = 0;
    if (strcmp(b, hash) != 0 || strcmp(i, hash) != 0) {
        /* A fresh context, so its error buffer holds this transaction's only. */
        nft_ctx_free(n);
        n = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!n) {
            free(text);
            return stn_fail(err, errlen, "nft_ctx_new failed");
        }
        nft_ctx_buffer_output(n);
        nft_ctx_buffer_error(n);
        if (nft_run_cmd_from_buffer(n, text) != 0) {
            const char *e = nft_ctx_get_error_buffer(n);
            rc = stn_fail(err, errlen, "nftables transaction refused: %.300s", e ? e : "");
        } else
            st->nft_applied = 1;
    }
    nft_ctx_free(n);
    free(text);
    return rc;
}

/* Both tables gone, in one transaction (stn_teardown): "table X" first so
 * that deleting a table the kernel lacks is not an error. */
int stn_nft_remove(stn_stats *st, char *err, size_t errlen)
{
    struct nft_ctx *n = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!n)
        return stn_fail(err, errlen, "nft_ctx_new failed");
    nft_ctx_buffer_output(n);
    nft_ctx_buffer_error(n);
    int rc = 0;
    const char *out =
        nft_run_cmd_from_buffer(n, "list tables") == 0 ? nft_ctx_get_output_buffer(n) : NULL;
    if (out && !strstr(out, "table bridge stratus\n") && !strstr(out, "table inet stratus\n")) {
        nft_ctx_free(n); /* neither there: nothing to send */
        return 0;
    }
    nft_ctx_free(n); /* a fresh context: its error buffer holds the transaction's only */
    n = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!n)
        return stn_fail(err, errlen, "nft_ctx_new failed");
    nft_ctx_buffer_output(n);
    nft_ctx_buffer_error(n);
    if (nft_run_cmd_from_buffer(n, "table bridge stratus\ndelete table bridge stratus\n"
                                   "table inet stratus\ndelete table inet stratus\n") != 0) {
        const char *e = nft_ctx_get_error_buffer(n);
        rc = stn_fail(err, errlen, "nftables tables not removed: %.300s", e ? e : "");
    } else
        st->nft_applied = 1;
    nft_ctx_free(n);
    return rc;
}
