/*
 * net.c - the networking commands of `stratus`: networks, subnets, ports,
 * security groups and their rules, routers (interfaces and the external
 * gateway), floating IPs, and an instance's interfaces; each a thin use of
 * libstratus, and their table (read by commands.c's dispatch). Bodies are
 * built from options as JSON (output.c's jbuf).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#define num cli_num
#define yesno(b) ((b) ? "yes" : "no")

/* The body built from options, or a usage failure (an integer option that
 * was not one). Frees nothing: the caller's jbuf owns the text. */
static const char *body_of(jbuf *b)
{
    const char *bad = NULL, *s = jb_end(b, &bad);
    if (!s)
        fprintf(stderr, "stratus: %s must be an integer\n", bad);
    return s;
}

/* "a,b,c" as a JSON array of strings (malloc'd); "none" as []. */
static char *str_array(const char *list)
{
    char *dup = strdup(list), *save = NULL;
    char *out = malloc(strlen(list) * 8 + 4); /* each byte at most \u00XX, quotes, commas */
    if (!dup || !out)
        abort();
    strcpy(out, "[");
    int n = 0;
    for (char *w = strtok_r(dup, ",", &save); w && strcmp(list, "none");
         w = strtok_r(NULL, ",", &save)) {
        char *q = json_quote(w);
        strcat(out, n++ ? "," : "");
        strcat(out, q);
        free(q);
    }
    strcat(out, "]");
    free(dup);
    return out;
}

/* The body of jbuf b as `body`, or the usage exit code. */
#define WITH_BODY(b, body)                                                                         \
    const char *body = body_of(&(b));                                                              \
    if (!body) {                                                                                   \
        jb_free(&(b));                                                                             \
        return EX_USAGE_;                                                                          \
    }

static int by_id(cli *c, const char *usage, const char *what,
                 int (*fn)(stratus_session *, const char *))
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage(usage);
    CONNECT();
    TRY(what, fn(c->s, id));
    return 0;
}

/* A list's filter "key=ID" from an option (ids are UUIDs: nothing to escape). */
static const char *filter(char *buf, size_t n, const char *key, const char *val)
{
    if (!val)
        return NULL;
    snprintf(buf, n, "%s=%.64s", key, val);
    return buf;
}

/* ---- networks ---- */

static void network_kv(cli *c, const stratus_network *n)
{
    print_kv(c->json, n->json, "id", n->id, "name", n->name, "status", n->status, "mtu",
             num(n->mtu), "network_type", n->network_type, "segmentation_id",
             num(n->segmentation_id), "shared", yesno(n->shared), "external", yesno(n->external),
             "default", yesno(n->is_default), "created_at", n->created_at, (char *)NULL);
}

static int network_create(cli *c)
{
    const char *cidr = cli_opt(c, "--subnet");
    jbuf b = {0};
    jb_int(&b, "mtu", cli_opt(c, "--mtu"));
    if (cli_flag(c, "--shared"))
        jb_raw(&b, "shared", "true");
    if (cli_flag(c, "--external"))
        jb_raw(&b, "external", "true");
    const char *name = cli_arg(c);
    if (!name || c->argc) {
        jb_free(&b);
        return cli_usage("usage: stratus network create NAME [--subnet CIDR] [--mtu N]"
                         " [--shared] [--external]\n"
                         "--shared and --external are for cloud admins.\n");
    }
    WITH_BODY(b, body);
    int rc = cli_connect(c);
    stratus_network *n = NULL;
    if (!rc && (rc = stratus_network_create(c->s, name, body, &n)) < 0)
        rc = cli_fail("network create", rc);
    jb_free(&b);
    if (rc)
        return rc;
    if (cidr) {
        stratus_subnet *sub;
        rc = stratus_subnet_create(c->s, n->id, cidr, NULL, &sub);
        if (rc < 0) {
            stratus_network_free(n);
            return cli_fail("subnet create", rc);
        }
        stratus_subnet_free(sub);
        char id[64];
        snprintf(id, sizeof id, "%s", n->id);
        stratus_network_free(n);
        TRY("network show", stratus_network_show(c->s, id, &n));
    }
    network_kv(c, n);
    stratus_network_free(n);
    return 0;
}

static int network_list(cli *c)
{
    if (c->argc)
        return cli_usage("usage: stratus network list\n");
    CONNECT();
    stratus_iter *it;
    TRY("network list", stratus_network_list(c->s, NULL, &it));
    static const char *const head[] = {"ID", "NAME", "STATUS", "MTU", "SHARED", "EXTERNAL"};
    table t;
    table_init(&t, 6, head);
    stratus_network *n;
    int rc;
    while ((rc = stratus_network_next(it, &n)) == 1) {
        table_add(&t, n->json, n->id, n->name, n->status, num(n->mtu), yesno(n->shared),
                  yesno(n->external));
        stratus_network_free(n);
    }
    stratus_iter_free(it);
    return table_done(c, &t, rc, "network list");
}

static int network_show(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus network show ID\n");
    CONNECT();
    stratus_network *n;
    TRY("network show", stratus_network_show(c->s, id, &n));
    network_kv(c, n);
    stratus_network_free(n);
    return 0;
}

static int network_update(cli *c)
{
    jbuf b = {0};
    jb_str(&b, "name", cli_opt(c, "--name"));
    jb_int(&b, "mtu", cli_opt(c, "--mtu"));
    const char *id = cli_arg(c);
    if (!id || c->argc || !b.n) {
        jb_free(&b);
        return cli_usage("usage: stratus network update ID [--name NAME] [--mtu N]"
                         "  (at least one)\n");
    }
    WITH_BODY(b, body);
    int rc = cli_connect(c);
    stratus_network *n = NULL;
    if (!rc && (rc = stratus_network_update(c->s, id, body, &n)) < 0)
        rc = cli_fail("network update", rc);
    jb_free(&b);
    if (rc)
        return rc;
    network_kv(c, n);
    stratus_network_free(n);
    return 0;
}

static int network_delete(cli *c)
{
    return by_id(c, "usage: stratus network delete ID\n", "network delete", stratus_network_delete);
}

/* ---- subnets ---- */

static void subnet_kv(cli *c, const stratus_subnet *s)
{
    print_kv(c->json, s->json, "id", s->id, "name", s->name, "network_id", s->network_id, "cidr",
             s->cidr, "gateway_ip", s->gateway_ip, "ip_version", num(s->ip_version), "enable_dhcp",
             yesno(s->enable_dhcp), "created_at", s->created_at, (char *)NULL);
}

static int subnet_create(cli *c)
{
    jbuf b = {0};
    jb_str(&b, "name", cli_opt(c, "--name"));
    const char *gw = cli_opt(c, "--gateway"), *dns = cli_opt(c, "--dns");
    if (gw && !strcmp(gw, "none"))
        jb_raw(&b, "gateway_ip", "null");
    else
        jb_str(&b, "gateway_ip", gw);
    if (dns) {
        char *a = str_array(dns);
        jb_raw(&b, "dns_nameservers", a);
        free(a);
    }
    if (cli_flag(c, "--no-dhcp"))
        jb_raw(&b, "enable_dhcp", "false");
    const char *net = cli_arg(c), *cidr = cli_arg(c);
    if (!net || !cidr || c->argc) {
        jb_free(&b);
        return cli_usage("usage: stratus subnet create NETWORK_ID CIDR [--name NAME]"
                         " [--gateway IP|none] [--dns IP,IP...] [--no-dhcp]\n");
    }
    WITH_BODY(b, body);
    int rc = cli_connect(c);
    stratus_subnet *s = NULL;
    if (!rc && (rc = stratus_subnet_create(c->s, net, cidr, body, &s)) < 0)
        rc = cli_fail("subnet create", rc);
    jb_free(&b);
    if (rc)
        return rc;
    subnet_kv(c, s);
    stratus_subnet_free(s);
    return 0;
}

static int subnet_list(cli *c)
{
    const char *net = cli_opt(c, "--network");
    if (c->argc)
        return cli_usage("usage: stratus subnet list [--network ID]\n");
    CONNECT();
    char f[96];
    stratus_list_opts o = {.filter = filter(f, sizeof f, "network_id", net)};
    stratus_iter *it;
    TRY("subnet list", stratus_subnet_list(c->s, &o, &it));
    static const char *const head[] = {"ID", "NAME", "NETWORK_ID", "CIDR", "GATEWAY", "DHCP"};
    table t;
    table_init(&t, 6, head);
    stratus_subnet *s;
    int rc;
    while ((rc = stratus_subnet_next(it, &s)) == 1) {
        table_add(&t, s->json, s->id, s->name, s->network_id, s->cidr, s->gateway_ip,
                  yesno(s->enable_dhcp));
        stratus_subnet_free(s);
    }
    stratus_iter_free(it);
    return table_done(c, &t, rc, "subnet list");
}

static int subnet_show(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus subnet show ID\n");
    CONNECT();
    stratus_subnet *s;
    TRY("subnet show", stratus_subnet_show(c->s, id, &s));
    subnet_kv(c, s);
    stratus_subnet_free(s);
    return 0;
}

static int subnet_delete(cli *c)
{
    return by_id(c, "usage: stratus subnet delete ID\n", "subnet delete", stratus_subnet_delete);
}

/* ---- ports ---- */

static void port_kv(cli *c, const stratus_port *p)
{
    print_kv(c->json, p->json, "id", p->id, "name", p->name, "network_id", p->network_id,
             "mac_address", p->mac_address, "status", p->status, "instance_id", p->instance_id,
             "device_owner", p->device_owner, "vnic_type", p->vnic_type, "model", p->model,
             "created_at", p->created_at, (char *)NULL);
}

static void port_table(table *t)
{
    static const char *const head[] = {"ID", "NAME", "NETWORK_ID", "MAC", "STATUS", "INSTANCE"};
    table_init(t, 6, head);
}

static void port_row(table *t, const stratus_port *p)
{
    table_add(t, p->json, p->id, p->name, p->network_id, p->mac_address, p->status, p->instance_id);
}

static int port_create(cli *c)
{
    jbuf b = {0};
    jb_str(&b, "name", cli_opt(c, "--name"));
    const char *ip = cli_opt(c, "--fixed-ip"), *groups = cli_opt(c, "--security-groups");
    if (ip) {
        char *q = json_quote(ip), fixed[256];
        snprintf(fixed, sizeof fixed, "[{\"ip_address\":%.200s}]", q);
        free(q);
        jb_raw(&b, "fixed_ips", fixed);
    }
    if (groups) {
        char *a = str_array(groups);
        jb_raw(&b, "security_groups", a);
        free(a);
    }
    const char *net = cli_arg(c);
    if (!net || c->argc) {
        jb_free(&b);
        return cli_usage("usage: stratus port create NETWORK_ID [--name NAME] [--fixed-ip IP]"
                         " [--security-groups ID,ID...|none]\n");
    }
    WITH_BODY(b, body);
    int rc = cli_connect(c);
    stratus_port *p = NULL;
    if (!rc && (rc = stratus_port_create(c->s, net, body, &p)) < 0)
        rc = cli_fail("port create", rc);
    jb_free(&b);
    if (rc)
        return rc;
    port_kv(c, p);
    stratus_port_free(p);
    return 0;
}

static int port_list(cli *c)
{
    const char *net = cli_opt(c, "--network"), *inst = cli_opt(c, "--instance");
    if (c->argc || (net && inst))
        return cli_usage("usage: stratus port list [--network ID | --instance ID]\n");
    CONNECT();
    char f[96];
    stratus_list_opts o = {.filter = net ? filter(f, sizeof f, "network_id", net)
                                         : filter(f, sizeof f, "instance_id", inst)};
    stratus_iter *it;
    TRY("port list", stratus_port_list(c->s, &o, &it));
    table t;
    port_table(&t);
    stratus_port *p;
    int rc;
    while ((rc = stratus_port_next(it, &p)) == 1) {
        port_row(&t, p);
        stratus_port_free(p);
    }
    stratus_iter_free(it);
    return table_done(c, &t, rc, "port list");
}

static int port_show(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus port show ID\n");
    CONNECT();
    stratus_port *p;
    TRY("port show", stratus_port_show(c->s, id, &p));
    port_kv(c, p);
    stratus_port_free(p);
    return 0;
}

static int port_update(cli *c)
{
    jbuf b = {0};
    jb_str(&b, "name", cli_opt(c, "--name"));
    const char *groups = cli_opt(c, "--security-groups");
    if (groups) {
        char *a = str_array(groups);
        jb_raw(&b, "security_groups", a);
        free(a);
    }
    const char *id = cli_arg(c);
    if (!id || c->argc || !b.n) {
        jb_free(&b);
        return cli_usage("usage: stratus port update ID [--name NAME]"
                         " [--security-groups ID,ID...|none]  (at least one)\n");
    }
    WITH_BODY(b, body);
    int rc = cli_connect(c);
    stratus_port *p = NULL;
    if (!rc && (rc = stratus_port_update(c->s, id, body, &p)) < 0)
        rc = cli_fail("port update", rc);
    jb_free(&b);
    if (rc)
        return rc;
    port_kv(c, p);
    stratus_port_free(p);
    return 0;
}

static int port_delete(cli *c)
{
    return by_id(c, "usage: stratus port delete ID\n", "port delete", stratus_port_delete);
}

/* ---- security groups and rules ---- */

static int sg_create(cli *c)
{
    jbuf b = {0};
    jb_str(&b, "description", cli_opt(c, "--description"));
    const char *name = cli_arg(c);
    if (!name || c->argc) {
        jb_free(&b);
        return cli_usage("usage: stratus security-group create NAME [--description TEXT]\n");
    }
    WITH_BODY(b, body);
    int rc = cli_connect(c);
    stratus_security_group *g = NULL;
    if (!rc && (rc = stratus_security_group_create(c->s, name, body, &g)) < 0)
        rc = cli_fail("security-group create", rc);
    jb_free(&b);
    if (rc)
        return rc;
    print_kv(c->json, g->json, "id", g->id, "name", g->name, "description", g->description,
             "default", yesno(g->is_default), "created_at", g->created_at, (char *)NULL);
    stratus_security_group_free(g);
    return 0;
}

static int sg_list(cli *c)
{
    if (c->argc)
        return cli_usage("usage: stratus security-group list\n");
    CONNECT();
    stratus_iter *it;
    TRY("security-group list", stratus_security_group_list(c->s, NULL, &it));
    static const char *const head[] = {"ID", "NAME", "DEFAULT", "DESCRIPTION"};
    table t;
    table_init(&t, 4, head);
    stratus_security_group *g;
    int rc;
    while ((rc = stratus_security_group_next(it, &g)) == 1) {
        table_add(&t, g->json, g->id, g->name, yesno(g->is_default), g->description);
        stratus_security_group_free(g);
    }
    stratus_iter_free(it);
    return table_done(c, &t, rc, "security-group list");
}

static void rule_table(table *t)
{
    static const char *const head[] = {"ID",       "GROUP", "DIRECTION", "ETHERTYPE",
                                       "PROTOCOL", "PORTS", "REMOTE"};
    table_init(t, 7, head);
}

static void rule_row(table *t, const stratus_security_group_rule *r)
{
    char ports[48] = "";
    if (r->port_range_min || r->port_range_max)
        snprintf(ports, sizeof ports, "%lld-%lld", r->port_range_min, r->port_range_max);
    table_add(t, r->json, r->id, r->security_group_id, r->direction, r->ethertype, r->protocol,
              ports, r->remote_ip_prefix ? r->remote_ip_prefix : r->remote_group_id);
}

/* A group and its rules: key/value lines and a rule table, or the group's JSON. */
static int sg_show(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus security-group show ID\n");
    CONNECT();
    stratus_security_group *g;
    TRY("security-group show", stratus_security_group_show(c->s, id, &g));
    print_kv(c->json, g->json, "id", g->id, "name", g->name, "description", g->description,
             "default", yesno(g->is_default), "created_at", g->created_at, (char *)NULL);
    if (c->json) {
        stratus_security_group_free(g);
        return 0;
    }
    char f[96];
    stratus_list_opts o = {.filter = filter(f, sizeof f, "security_group_id", g->id)};
    stratus_security_group_free(g);
    stratus_iter *it;
    TRY("security-group rule list", stratus_security_group_rule_list(c->s, &o, &it));
    table t;
    rule_table(&t);
    stratus_security_group_rule *r;
    int rc;
    while ((rc = stratus_security_group_rule_next(it, &r)) == 1) {
        rule_row(&t, r);
        stratus_security_group_rule_free(r);
    }
    stratus_iter_free(it);
    putchar('\n');
    return table_done(c, &t, rc, "security-group rule list");
}

static int sg_delete(cli *c)
{
    return by_id(c, "usage: stratus security-group delete ID\n", "security-group delete",
                 stratus_security_group_delete);
}

static int rule_add(cli *c)
{
    const char *dir = cli_opt(c, "--direction"), *port = cli_opt(c, "--port");
    const char *pmin = cli_opt(c, "--port-min"), *pmax = cli_opt(c, "--port-max");
    jbuf b = {0};
    jb_str(&b, "protocol", cli_opt(c, "--protocol"));
    jb_str(&b, "ethertype", cli_opt(c, "--ethertype"));
    jb_str(&b, "remote_ip_prefix", cli_opt(c, "--remote-ip"));
    jb_str(&b, "remote_group_id", cli_opt(c, "--remote-group"));
    jb_str(&b, "description", cli_opt(c, "--description"));
    jb_int(&b, "port_range_min", port ? port : pmin);
    jb_int(&b, "port_range_max", port ? port : pmax);
    const char *group = cli_arg(c);
    if (!group || c->argc || (port && (pmin || pmax))) {
        jb_free(&b);
        return cli_usage("usage: stratus security-group rule add GROUP_ID"
                         " [--direction ingress|egress (ingress)] [--protocol tcp|udp|icmp|N]"
                         " [--port N | --port-min N --port-max N] [--remote-ip CIDR]"
                         " [--remote-group ID] [--ethertype IPv4|IPv6] [--description TEXT]\n");
    }
    WITH_BODY(b, body);
    int rc = cli_connect(c);
    stratus_security_group_rule *r = NULL;
    if (!rc &&
        (rc = stratus_security_group_rule_create(c->s, group, dir ? dir : "ingress", body, &r)) < 0)
        rc = cli_fail("security-group rule add", rc);
    jb_free(&b);
    if (rc)
        return rc;
    if (c->json) {
        printf("%s\n", r->json);
    } else {
        table t;
        rule_table(&t);
        rule_row(&t, r);
        table_print(&t, 0);
        table_free(&t);
    }
    stratus_security_group_rule_free(r);
    return 0;
}

static int rule_list(cli *c)
{
    const char *group = cli_opt(c, "--group");
    if (c->argc)
        return cli_usage("usage: stratus security-group rule list [--group ID]\n");
    CONNECT();
    char f[96];
    stratus_list_opts o = {.filter = filter(f, sizeof f, "security_group_id", group)};
    stratus_iter *it;
    TRY("security-group rule list", stratus_security_group_rule_list(c->s, &o, &it));
    table t;
    rule_table(&t);
    stratus_security_group_rule *r;
    int rc;
    while ((rc = stratus_security_group_rule_next(it, &r)) == 1) {
        rule_row(&t, r);
        stratus_security_group_rule_free(r);
    }
    stratus_iter_free(it);
    return table_done(c, &t, rc, "security-group rule list");
}

static int rule_delete(cli *c)
{
    return by_id(c, "usage: stratus security-group rule delete RULE_ID\n",
                 "security-group rule delete", stratus_security_group_rule_delete);
}

/* ---- routers ---- */

static void router_kv(cli *c, const stratus_router *r)
{
    print_kv(c->json, r->json, "id", r->id, "name", r->name, "status", r->status, "created_at",
             r->created_at, (char *)NULL);
}

/* {"network_id":ID,"enable_snat":B} or null ("none"). */
static char *gateway_info(const char *net, int snat)
{
    if (!strcmp(net, "none"))
        return strdup("null");
    char *q = json_quote(net), *out = malloc(strlen(q) + 64);
    if (!out)
        abort();
    sprintf(out, "{\"network_id\":%s,\"enable_snat\":%s}", q, snat ? "true" : "false");
    free(q);
    return out;
}

static int router_create(cli *c)
{
    const char *gw = cli_opt(c, "--gateway");
    int nosnat = cli_flag(c, "--no-snat");
    const char *name = cli_arg(c);
    if (!name || c->argc)
        return cli_usage("usage: stratus router create NAME [--gateway EXTERNAL_NETWORK_ID"
                         " [--no-snat]]\n");
    jbuf b = {0};
    if (gw) {
        char *g = gateway_info(gw, !nosnat);
        jb_raw(&b, "external_gateway_info", g);
        free(g);
    }
    WITH_BODY(b, body);
    int rc = cli_connect(c);
    stratus_router *r = NULL;
    if (!rc && (rc = stratus_router_create(c->s, name, body, &r)) < 0)
        rc = cli_fail("router create", rc);
    jb_free(&b);
    if (rc)
        return rc;
    router_kv(c, r);
    stratus_router_free(r);
    return 0;
}

static int router_list(cli *c)
{
    if (c->argc)
        return cli_usage("usage: stratus router list\n");
    CONNECT();
    stratus_iter *it;
    TRY("router list", stratus_router_list(c->s, NULL, &it));
    static const char *const head[] = {"ID", "NAME", "STATUS", "CREATED"};
    table t;
    table_init(&t, 4, head);
    stratus_router *r;
    int rc;
    while ((rc = stratus_router_next(it, &r)) == 1) {
        table_add(&t, r->json, r->id, r->name, r->status, r->created_at);
        stratus_router_free(r);
    }
    stratus_iter_free(it);
    return table_done(c, &t, rc, "router list");
}

static int router_show(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus router show ID\n"
                         "(--output json shows its gateway and interfaces)\n");
    CONNECT();
    stratus_router *r;
    TRY("router show", stratus_router_show(c->s, id, &r));
    router_kv(c, r);
    stratus_router_free(r);
    return 0;
}

static int router_delete(cli *c)
{
    return by_id(c, "usage: stratus router delete ID\n", "router delete", stratus_router_delete);
}

static int router_add_subnet(cli *c)
{
    const char *router = cli_arg(c), *subnet = cli_arg(c);
    if (!router || !subnet || c->argc)
        return cli_usage("usage: stratus router add-subnet ROUTER_ID SUBNET_ID\n");
    CONNECT();
    stratus_router_interface *ri;
    TRY("router add-subnet", stratus_router_interface_add(c->s, router, subnet, &ri));
    print_kv(c->json, ri->json, "id", ri->id, "subnet_id", ri->subnet_id, "port_id", ri->port_id,
             (char *)NULL);
    stratus_router_interface_free(ri);
    return 0;
}

static int router_remove_subnet(cli *c)
{
    const char *router = cli_arg(c), *subnet = cli_arg(c);
    if (!router || !subnet || c->argc)
        return cli_usage("usage: stratus router remove-subnet ROUTER_ID SUBNET_ID\n");
    CONNECT();
    TRY("router remove-subnet", stratus_router_interface_remove(c->s, router, subnet));
    return 0;
}

static int router_set_gateway(cli *c)
{
    int nosnat = cli_flag(c, "--no-snat");
    const char *router = cli_arg(c), *net = cli_arg(c);
    if (!router || !net || c->argc)
        return cli_usage("usage: stratus router set-gateway ROUTER_ID EXTERNAL_NETWORK_ID|none"
                         " [--no-snat]\n");
    char *g = gateway_info(net, !nosnat), *body = malloc(strlen(g) + 40);
    if (!body)
        abort();
    sprintf(body, "{\"external_gateway_info\":%s}", g);
    free(g);
    int rc = cli_connect(c);
    stratus_router *r = NULL;
    if (!rc && (rc = stratus_router_update(c->s, router, body, &r)) < 0)
        rc = cli_fail("router set-gateway", rc);
    free(body);
    if (rc)
        return rc;
    router_kv(c, r);
    stratus_router_free(r);
    return 0;
}

/* ---- floating IPs ---- */

static void fip_kv(cli *c, const stratus_floating_ip *f)
{
    print_kv(c->json, f->json, "id", f->id, "floating_ip_address", f->floating_ip_address,
             "floating_network_id", f->floating_network_id, "status", f->status, "port_id",
             f->port_id, "fixed_ip_address", f->fixed_ip_address, "router_id", f->router_id,
             "description", f->description, (char *)NULL);
}

static int fip_create(cli *c)
{
    jbuf b = {0};
    jb_str(&b, "port_id", cli_opt(c, "--port"));
    jb_str(&b, "description", cli_opt(c, "--description"));
    const char *net = cli_arg(c);
    if (!net || c->argc) {
        jb_free(&b);
        return cli_usage("usage: stratus floating-ip create EXTERNAL_NETWORK_ID [--port PORT_ID]"
                         " [--description TEXT]\n");
    }
    WITH_BODY(b, body);
    int rc = cli_connect(c);
    stratus_floating_ip *f = NULL;
    if (!rc && (rc = stratus_floating_ip_create(c->s, net, body, &f)) < 0)
        rc = cli_fail("floating-ip create", rc);
    jb_free(&b);
    if (rc)
        return rc;
    fip_kv(c, f);
    stratus_floating_ip_free(f);
    return 0;
}

static int fip_list(cli *c)
{
    if (c->argc)
        return cli_usage("usage: stratus floating-ip list\n");
    CONNECT();
    stratus_iter *it;
    TRY("floating-ip list", stratus_floating_ip_list(c->s, NULL, &it));
    static const char *const head[] = {"ID", "ADDRESS", "STATUS", "PORT", "FIXED_IP"};
    table t;
    table_init(&t, 5, head);
    stratus_floating_ip *f;
    int rc;
    while ((rc = stratus_floating_ip_next(it, &f)) == 1) {
        table_add(&t, f->json, f->id, f->floating_ip_address, f->status, f->port_id,
                  f->fixed_ip_address);
        stratus_floating_ip_free(f);
    }
    stratus_iter_free(it);
    return table_done(c, &t, rc, "floating-ip list");
}

static int fip_show(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus floating-ip show ID\n");
    CONNECT();
    stratus_floating_ip *f;
    TRY("floating-ip show", stratus_floating_ip_show(c->s, id, &f));
    fip_kv(c, f);
    stratus_floating_ip_free(f);
    return 0;
}

static int fip_patch(cli *c, const char *what, const char *id, const char *body)
{
    CONNECT();
    stratus_floating_ip *f;
    TRY(what, stratus_floating_ip_update(c->s, id, body, &f));
    fip_kv(c, f);
    stratus_floating_ip_free(f);
    return 0;
}

static int fip_associate(cli *c)
{
    jbuf b = {0};
    jb_str(&b, "fixed_ip_address", cli_opt(c, "--fixed-ip"));
    const char *id = cli_arg(c), *port = cli_arg(c);
    if (!id || !port || c->argc) {
        jb_free(&b);
        return cli_usage("usage: stratus floating-ip associate ID PORT_ID [--fixed-ip IP]\n");
    }
    jb_str(&b, "port_id", port);
    WITH_BODY(b, body);
    int rc = fip_patch(c, "floating-ip associate", id, body);
    jb_free(&b);
    return rc;
}

static int fip_disassociate(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus floating-ip disassociate ID\n");
    return fip_patch(c, "floating-ip disassociate", id, "{\"port_id\":null}");
}

static int fip_delete(cli *c)
{
    return by_id(c, "usage: stratus floating-ip delete ID\n", "floating-ip delete",
                 stratus_floating_ip_delete);
}

/* ---- an instance's interfaces ---- */

static int iface_list(cli *c)
{
    const char *id = cli_arg(c);
    if (!id || c->argc)
        return cli_usage("usage: stratus instance interface list INSTANCE_ID\n");
    CONNECT();
    stratus_iter *it;
    TRY("instance interface list", stratus_instance_interface_list(c->s, id, &it));
    table t;
    port_table(&t);
    stratus_port *p;
    int rc;
    while ((rc = stratus_port_next(it, &p)) == 1) {
        port_row(&t, p);
        stratus_port_free(p);
    }
    stratus_iter_free(it);
    return table_done(c, &t, rc, "instance interface list");
}

static int iface_attach(cli *c)
{
    const char *net = cli_opt(c, "--network"), *port = cli_opt(c, "--port");
    jbuf b = {0};
    jb_str(&b, "network_id", net);
    jb_str(&b, "fixed_ip", cli_opt(c, "--fixed-ip"));
    jb_str(&b, "port_id", port);
    const char *id = cli_arg(c);
    if (!id || c->argc || !net == !port) {
        jb_free(&b);
        return cli_usage("usage: stratus instance interface attach INSTANCE_ID"
                         " (--network ID [--fixed-ip IP] | --port PORT_ID)\n"
                         "The instance must be stopped.\n");
    }
    WITH_BODY(b, body);
    int rc = cli_connect(c);
    stratus_port *p = NULL;
    if (!rc && (rc = stratus_instance_interface_attach(c->s, id, body, &p)) < 0)
        rc = cli_fail("instance interface attach", rc);
    jb_free(&b);
    if (rc)
        return rc;
    port_kv(c, p);
    stratus_port_free(p);
    return 0;
}

static int iface_detach(cli *c)
{
    const char *id = cli_arg(c), *port = cli_arg(c);
    if (!id || !port || c->argc)
        return cli_usage("usage: stratus instance interface detach INSTANCE_ID PORT_ID\n"
                         "The instance must be stopped.\n");
    CONNECT();
    TRY("instance interface detach", stratus_instance_interface_detach(c->s, id, port));
    return 0;
}

const command net_commands[] = {
    {"instance", "interface list", iface_list, "an instance's NICs (ports)"},
    {"instance", "interface attach", iface_attach, "attach a NIC to a stopped instance"},
    {"instance", "interface detach", iface_detach, "detach a NIC from a stopped instance"},
    {"network", "create", network_create, "create a network (--subnet CIDR adds a subnet)"},
    {"network", "list", network_list, "list networks (own, shared, external)"},
    {"network", "show", network_show, "show a network"},
    {"network", "update", network_update, "rename a network or change its MTU"},
    {"network", "delete", network_delete, "delete a network"},
    {"subnet", "create", subnet_create, "create a subnet on a network"},
    {"subnet", "list", subnet_list, "list subnets"},
    {"subnet", "show", subnet_show, "show a subnet"},
    {"subnet", "delete", subnet_delete, "delete a subnet"},
    {"port", "create", port_create, "create a port on a network"},
    {"port", "list", port_list, "list ports"},
    {"port", "show", port_show, "show a port"},
    {"port", "update", port_update, "rename a port or set its security groups"},
    {"port", "delete", port_delete, "delete a port"},
    {"security-group", "create", sg_create, "create a security group"},
    {"security-group", "list", sg_list, "list security groups"},
    {"security-group", "show", sg_show, "show a security group and its rules"},
    {"security-group", "delete", sg_delete, "delete a security group"},
    {"security-group", "rule add", rule_add, "add a rule to a security group"},
    {"security-group", "rule list", rule_list, "list rules (--group ID for one group's)"},
    {"security-group", "rule delete", rule_delete, "delete a rule"},
    {"router", "create", router_create, "create a router (--gateway EXTERNAL_NETWORK_ID)"},
    {"router", "list", router_list, "list routers"},
    {"router", "show", router_show, "show a router"},
    {"router", "delete", router_delete, "delete a router"},
    {"router", "add-subnet", router_add_subnet, "join a subnet to a router"},
    {"router", "remove-subnet", router_remove_subnet, "take a subnet off a router"},
    {"router", "set-gateway", router_set_gateway, "set (or clear) a router's external gateway"},
    {"floating-ip", "create", fip_create, "allocate a floating IP on an external network"},
    {"floating-ip", "list", fip_list, "list floating IPs"},
    {"floating-ip", "show", fip_show, "show a floating IP"},
    {"floating-ip", "associate", fip_associate, "point a floating IP at a port"},
    {"floating-ip", "disassociate", fip_disassociate, "take a floating IP off its port"},
    {"floating-ip", "delete", fip_delete, "release a floating IP"},
};
const size_t net_ncommands = sizeof net_commands / sizeof net_commands[0];
