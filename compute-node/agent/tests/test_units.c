/*
 * node_units: the agent's pure parts without a cloud: the desired-set
 * parser (accepts the gateway's shape, ports included, refuses malformed
 * sets whole; networks and security groups too), the
 * kernel command line from user_data, samples in billing's shape, the
 * on-disk spool's order, the instance record round trip, and which cached
 * images the collector removes.
 */
#include "agent.h"
#include "st_proc.h"
#include "st_test.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ID1 "11111111-1111-4111-8111-111111111111"
#define ID2 "22222222-2222-4222-8222-222222222222"
#define ID3 "55555555-5555-4555-8555-555555555555"
#define TEN "33333333-3333-4333-8333-333333333333"
#define IMG "44444444-4444-4444-8444-444444444444"

/* One desired instance as the gateway sends it; with key set to value (JSON
 * text) when key is not NULL. The returned text is kept in a ring. */
static const char *inst(const char *id, const char *key, const char *value)
{
    static char *ring[8];
    static int k;
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:I, s:s, s:n, s:s, s:i, s:i, s:i, s:i, s:s, s:n,"
                  " s:n}",
                  "id", id, "tenant_id", TEN, "name", "x", "generation", (json_int_t)3, "state",
                  "building", "task", "desired", "running", "reboot_seq", 0, "vcpus", 1,
                  "memory_mib", 32, "disk_gib", 1, "image_id", IMG, "user_data", "ssh_public_key");
    if (key)
        json_object_set_new(o, key, json_loads(value, JSON_DECODE_ANY, NULL));
    free(ring[k % 8]);
    ring[k % 8] = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return ring[k++ % 8];
}

static int parse(const char *text, nd_desired_set *s)
{
    char err[256];
    int rc = nd_desired_parse(text, strlen(text), s, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "  (refused: %s)\n", err);
    return rc;
}

static void test_desired_good(void)
{
    char text[4096];
    const char *second = inst(ID2, "user_data", "\"Y21kbGluZTogc2NlbmFyaW89Ym9vdAo=\"");
    json_t *o = json_loads(second, 0, NULL);
    json_object_set_new(o, "future", json_pack("[i]", 1)); /* unknown keys are ignored */
    char *sec = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    snprintf(text, sizeof text, "{\"instances\":[%s,%s]}", inst(ID1, NULL, NULL), sec);
    free(sec);
    nd_desired_set s;
    ST_ASSERT_INT_EQ_FATAL(parse(text, &s), 0);
    ST_ASSERT_INT_EQ(s.n, 2);
    ST_ASSERT_STR_EQ(s.v[0].o.id, ID1);
    ST_ASSERT_INT_EQ(s.v[0].o.generation, 3);
    ST_ASSERT_INT_EQ(s.v[0].desired, ND_WANT_RUNNING);
    ST_ASSERT_INT_EQ(s.v[0].user_data == NULL, 1);
    ST_ASSERT_STR_EQ(s.v[1].user_data, "Y21kbGluZTogc2NlbmFyaW89Ym9vdAo=");
    ST_ASSERT_STR_EQ(s.v[0].name, "x");
    ST_ASSERT_INT_EQ(s.v[0].ssh_key == NULL, 1);
    ST_ASSERT_INT_EQ(s.v[0].public_ipv4.s_addr, 0);
    nd_desired_free(&s);
    /* what the metadata service serves */
    snprintf(text, sizeof text, "{\"instances\":[%s,%s]}",
             inst(ID1, "ssh_public_key", "\"ssh-ed25519 AAAA k@x\""),
             inst(ID2, "public_ipv4", "\"203.0.113.7\""));
    ST_ASSERT_INT_EQ_FATAL(parse(text, &s), 0);
    ST_ASSERT_STR_EQ(s.v[0].ssh_key, "ssh-ed25519 AAAA k@x");
    ST_ASSERT_INT_EQ(ntohl(s.v[1].public_ipv4.s_addr), 0xcb007107);
    nd_desired_free(&s);
    /* a snapshot order names its image; null is none */
    snprintf(text, sizeof text, "{\"instances\":[%s,%s]}",
             inst(ID1, "snapshot_image_id", "\"" IMG "\""), inst(ID2, "snapshot_image_id", "null"));
    ST_ASSERT_INT_EQ_FATAL(parse(text, &s), 0);
    ST_ASSERT_STR_EQ(s.v[0].o.snapshot_image, IMG);
    ST_ASSERT_STR_EQ(s.v[1].o.snapshot_image, "");
    nd_desired_free(&s);
    ST_ASSERT_INT_EQ(parse("{\"instances\":[]}", &s), 0);
    ST_ASSERT_INT_EQ(s.n, 0);
    nd_desired_free(&s);
}

static void test_desired_bad(void)
{
    const char *bad_fields[][2] = {
        {"desired", "\"exploded\""},
        {"generation", "-1"},
        {"generation", "\"3\""},
        {"vcpus", "0"},
        {"memory_mib", "1e9"},
        {"image_id", "\"../../etc/passwd/../../../x\""},
        {"tenant_id", "null"},
        {"state", "\"a b\""},
        {"user_data", "7"},
        {"name", "7"},
        {"ssh_public_key", "\"ssh-ed25519 AAAA\\nsecond line\""},
        {"ssh_public_key", "\"\""},
        {"public_ipv4", "\"203.0.113\""},
        {"public_ipv4", "\"fd00::1\""},
        {"public_ipv4", "7"},
        {"reboot_seq", "null"},
        {"snapshot_image_id", "\"../../images/x\""},
        {"snapshot_image_id", "7"},
        {"id", "\"11111111-1111-4111-8111-11111111111\""},
    };
    for (size_t i = 0; i < sizeof bad_fields / sizeof bad_fields[0]; i++) {
        char text[4096];
        snprintf(text, sizeof text, "{\"instances\":[%s,%s]}", inst(ID1, NULL, NULL),
                 inst(ID2, bad_fields[i][0], bad_fields[i][1]));
        nd_desired_set s;
        ST_ASSERT_INT_EQ(parse(text, &s), -1);
        ST_ASSERT_INT_EQ(s.n, 0);
    }
    const char *bad_sets[] = {"",
                              "[]",
                              "{}",
                              "{\"instances\":{}}",
                              "{\"instances\":[1]}",
                              "{\"instances\":[{}]}",
                              "{\"instances\":[",
                              "nul"};
    for (size_t i = 0; i < sizeof bad_sets / sizeof bad_sets[0]; i++) {
        nd_desired_set s;
        ST_ASSERT_INT_EQ(parse(bad_sets[i], &s), -1);
    }
    char dup[4096];
    snprintf(dup, sizeof dup, "{\"instances\":[%s,%s]}", inst(ID1, NULL, NULL),
             inst(ID1, NULL, NULL));
    nd_desired_set s;
    ST_ASSERT_INT_EQ(parse(dup, &s), -1); /* one id twice: refused whole */
}

#define PORT1 "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
#define NET1 "55555555-5555-4555-8555-555555555555"

/* A port as the gateway sends it, with key set to value (JSON text, or
 * NULL to remove it) when key is not NULL; a JSON array text of one port. */
static char *port(const char *id, const char *mac, const char *key, const char *value)
{
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:[{s:s, s:s}]}", "id", id, "mac", mac,
                          "network_id", NET1, "model", "virtio", "vnic_type", "virtio", "mtu", 1450,
                          "fixed_ips", "subnet_id", TEN, "ip_address", "10.0.0.5");
    if (key && value)
        json_object_set_new(p, key, json_loads(value, JSON_DECODE_ANY, NULL));
    else if (key)
        json_object_del(p, key);
    char *t = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    return t;
}

static void test_desired_ports(void)
{
    char *p1 = port(PORT1, "FA:16:3E:00:00:01", NULL, NULL);
    char *p2 = port("bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee", "fa:16:3e:00:00:02", "fixed_ips",
                    "[{\"subnet_id\":\"" TEN "\",\"ip_address\":\"fd00::5\"},"
                    "{\"subnet_id\":\"" NET1 "\",\"ip_address\":\"10.1.0.9\"}]");
    char arr[2048], text[8192];
    snprintf(arr, sizeof arr, "[%s,%s]", p1, p2);
    free(p1);
    free(p2);
    snprintf(text, sizeof text, "{\"instances\":[%s,%s]}", inst(ID1, "ports", arr),
             inst(ID2, NULL, NULL));
    nd_desired_set s;
    ST_ASSERT_INT_EQ_FATAL(parse(text, &s), 0);
    const nd_order *o = &s.v[0].o;
    ST_ASSERT_INT_EQ_FATAL(o->nports, 2);
    ST_ASSERT_STR_EQ(o->ports[0].id, PORT1);
    ST_ASSERT_STR_EQ(o->ports[0].mac, "fa:16:3e:00:00:01"); /* kept in lower case */
    ST_ASSERT_STR_EQ(o->ports[0].network_id, NET1);
    ST_ASSERT_STR_EQ(o->ports[0].model, "virtio");
    ST_ASSERT_STR_EQ(o->ports[0].vnic_type, "virtio");
    ST_ASSERT_INT_EQ(o->ports[0].mtu, 1450);
    ST_ASSERT_INT_EQ(o->ports[0].nfixed_ips, 1);
    ST_ASSERT_STR_EQ(o->ports[0].fixed_ips[0].ip_address, "10.0.0.5");
    ST_ASSERT_STR_EQ(o->ports[0].fixed_ips[0].subnet_id, TEN);
    ST_ASSERT_INT_EQ(o->ports[1].nfixed_ips, 2);
    ST_ASSERT_STR_EQ(o->ports[1].fixed_ips[0].ip_address, "fd00::5");
    ST_ASSERT_INT_EQ(s.v[1].o.nports, 0); /* absent: none */
    char tap[16];
    nd_port_tap(PORT1, tap);
    ST_ASSERT_STR_EQ(tap, "tapaaaaaaaa-bb");
    nd_desired_free(&s);

    /* optional parts: model, vnic_type and fixed_ips absent; ports null */
    p1 = port(PORT1, "fa:16:3e:00:00:01", "model", NULL);
    json_t *pj = json_loads(p1, 0, NULL);
    free(p1);
    json_object_del(pj, "vnic_type");
    json_object_del(pj, "fixed_ips");
    p1 = json_dumps(pj, JSON_COMPACT);
    json_decref(pj);
    snprintf(arr, sizeof arr, "[%s]", p1);
    free(p1);
    snprintf(text, sizeof text, "{\"instances\":[%s,%s]}", inst(ID1, "ports", arr),
             inst(ID2, "ports", "null"));
    ST_ASSERT_INT_EQ_FATAL(parse(text, &s), 0);
    ST_ASSERT_STR_EQ(s.v[0].o.ports[0].model, "virtio");
    ST_ASSERT_STR_EQ(s.v[0].o.ports[0].vnic_type, "virtio");
    ST_ASSERT_INT_EQ(s.v[0].o.ports[0].nfixed_ips, 0);
    ST_ASSERT_INT_EQ(s.v[1].o.nports, 0);
    nd_desired_free(&s);
}

static void test_desired_ports_bad(void)
{
    const char *bad[][2] = {
        {"id", "\"not-a-uuid\""},
        {"id", NULL},
        {"network_id", "\"x\""},
        {"network_id", NULL},
        {"mac", "\"01:16:3e:00:00:01\""}, /* multicast */
        {"mac", "\"00:00:00:00:00:00\""},
        {"mac", "\"fa:16:3e:00:00\""},
        {"mac", "\"fa:16:3e:00:00:0g\""},
        {"mac", "\"fa-16-3e-00-00-01\""},
        {"mac", "1"},
        {"mac", NULL},
        {"mtu", "67"},
        {"mtu", "65536"},
        {"mtu", "\"1450\""},
        {"mtu", NULL},
        {"model", "\"vir tio\""},
        {"model", "\"aaaaaaaaaaaaaaaaaaaaaaa\""},
        {"vnic_type", "7"},
        {"fixed_ips", "{}"},
        {"fixed_ips", "[1]"},
        {"fixed_ips", "[{\"subnet_id\":\"" TEN "\",\"ip_address\":\"10.0.0.256\"}]"},
        {"fixed_ips", "[{\"subnet_id\":\"" TEN "\",\"ip_address\":\"10.0.0.5 \"}]"},
        {"fixed_ips", "[{\"subnet_id\":\"x\",\"ip_address\":\"10.0.0.5\"}]"},
        {"fixed_ips", "[{\"subnet_id\":\"" TEN "\"}]"},
        {"fixed_ips", "[{\"subnet_id\":\"" TEN "\",\"ip_address\":\"10.0.0.1\"},"
                      "{\"subnet_id\":\"" TEN "\",\"ip_address\":\"10.0.0.2\"},"
                      "{\"subnet_id\":\"" TEN "\",\"ip_address\":\"10.0.0.3\"},"
                      "{\"subnet_id\":\"" TEN "\",\"ip_address\":\"10.0.0.4\"},"
                      "{\"subnet_id\":\"" TEN "\",\"ip_address\":\"10.0.0.5\"}]"},
    };
    char arr[4096], text[16384];
    nd_desired_set s;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *p = port(PORT1, "fa:16:3e:00:00:01", bad[i][0], bad[i][1]);
        snprintf(arr, sizeof arr, "[%s]", p);
        free(p);
        snprintf(text, sizeof text, "{\"instances\":[%s,%s]}", inst(ID1, NULL, NULL),
                 inst(ID2, "ports", arr));
        ST_ASSERT_INT_EQ(parse(text, &s), -1); /* one bad port: the set refused whole */
        ST_ASSERT_INT_EQ(s.n, 0);
    }
    const char *bad_lists[] = {"{}", "7", "[1]", "[[]]"};
    for (size_t i = 0; i < sizeof bad_lists / sizeof *bad_lists; i++) {
        snprintf(text, sizeof text, "{\"instances\":[%s]}", inst(ID1, "ports", bad_lists[i]));
        ST_ASSERT_INT_EQ(parse(text, &s), -1);
    }
    /* nine ports: over the bound */
    size_t k = 0;
    arr[k++] = '[';
    for (int i = 0; i < 9; i++) {
        char id[40], mac[18];
        snprintf(id, sizeof id, "%08x-bbbb-4ccc-8ddd-eeeeeeeeeeee", 0x10000000u + (unsigned)i);
        snprintf(mac, sizeof mac, "fa:16:3e:00:00:%02x", i + 1);
        char *p = port(id, mac, NULL, NULL);
        k += (size_t)snprintf(arr + k, sizeof arr - k, "%s%s", i ? "," : "", p);
        free(p);
    }
    snprintf(arr + k, sizeof arr - k, "]");
    snprintf(text, sizeof text, "{\"instances\":[%s]}", inst(ID1, "ports", arr));
    ST_ASSERT_INT_EQ(parse(text, &s), -1);
    /* two ports sharing a MAC, or a tap name (the first 11 characters of the id) */
    const char *pairs[][4] = {
        {PORT1, "fa:16:3e:00:00:01", "bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee", "fa:16:3e:00:00:01"},
        {PORT1, "fa:16:3e:00:00:01", "aaaaaaaa-bbff-4ccc-8ddd-eeeeeeeeeeee", "fa:16:3e:00:00:02"},
    };
    for (size_t i = 0; i < 2; i++) {
        char *a = port(pairs[i][0], pairs[i][1], NULL, NULL);
        char *b = port(pairs[i][2], pairs[i][3], NULL, NULL);
        snprintf(arr, sizeof arr, "[%s,%s]", a, b);
        free(a);
        free(b);
        snprintf(text, sizeof text, "{\"instances\":[%s]}", inst(ID1, "ports", arr));
        ST_ASSERT_INT_EQ(parse(text, &s), -1);
    }
}

#define NET1 "55555555-5555-4555-8555-555555555555"
#define SUB1 "66666666-6666-4666-8666-666666666666"
#define SG1 "77777777-7777-4777-8777-777777777777"
#define RULE1 "88888888-8888-4888-8888-888888888888"
#define HOST2 "99999999-9999-4999-8999-999999999999"

/* The gateway's networks and security_groups (the shape gateway_netinst
 * checks), with key of the object at path ("net", "subnet", "remote",
 * "group", "rule") set to value (JSON text; NULL: removed). */
static char *netset_text(const char *path, const char *key, const char *value)
{
    json_t *sub =
        json_pack("{s:s, s:s, s:s, s:b, s:[s], s:[{s:s, s:s}], s:[{s:s, s:s}]}", "id", SUB1, "cidr",
                  "10.0.0.0/24", "gateway_ip", "10.0.0.1", "enable_dhcp", 1, "dns_nameservers",
                  "10.0.0.2", "host_routes", "destination", "192.168.0.0/16", "nexthop", "10.0.0.9",
                  "allocation_pools", "start", "10.0.0.2", "end", "10.0.0.254");
    json_object_set_new(sub, "dhcp_ip", json_string("10.0.0.254"));
    json_t *rem =
        json_pack("{s:s, s:s, s:s, s:s, s:[{s:s, s:s}], s:s}", "id", ID2, "mac",
                  "FA:16:3E:00:00:02", "host_id", HOST2, "tunnel_ip", "192.0.2.2", "fixed_ips",
                  "subnet_id", SUB1, "ip_address", "10.0.0.6", "extra", "ignored");
    json_t *net = json_pack("{s:s, s:i, s:i, s:[o], s:[o]}", "id", NET1, "vni", 4242, "mtu", 1450,
                            "subnets", sub, "remote_ports", rem);
    json_t *rule =
        json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:n}", "id", RULE1, "direction", "ingress",
                  "ethertype", "IPv4", "protocol", "tcp", "port_range_min", 22, "port_range_max",
                  22, "remote_ip_prefix", "10.1.2.3/8", "remote_group_id");
    json_t *grp = json_pack("{s:s, s:[s], s:[s, s], s:[o]}", "id", SG1, "port_ids", ID1,
                            "member_ips", "10.0.0.5", "fd00::5", "rules", rule);
    json_t *objs[] = {net, sub, rem, grp, rule};
    const char *names[] = {"net", "subnet", "remote", "group", "rule"};
    for (int i = 0; path && i < 5; i++)
        if (!strcmp(path, names[i])) {
            if (value)
                json_object_set_new(objs[i], key, json_loads(value, JSON_DECODE_ANY, NULL));
            else
                json_object_del(objs[i], key);
        }
    json_t *root =
        json_pack("{s:[], s:[o], s:[o]}", "instances", "networks", net, "security_groups", grp);
    char *t = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return t;
}

static void test_netset_good(void)
{
    nd_desired_set s;
    char *t = netset_text(NULL, NULL, NULL);
    ST_ASSERT_INT_EQ(parse(t, &s), 0);
    free(t);
    ST_ASSERT_INT_EQ(s.net.n, 1);
    const nd_network *n = nd_netset_find(&s.net, NET1);
    ST_ASSERT_INT_EQ_FATAL(n != NULL, 1);
    ST_ASSERT_INT_EQ(n->vni, 4242);
    ST_ASSERT_INT_EQ(n->mtu, 1450);
    ST_ASSERT_INT_EQ(n->nsubnets, 1);
    const nd_subnet *sb = &n->subnets[0];
    ST_ASSERT_INT_EQ(sb->v4, 1);
    ST_ASSERT_INT_EQ(sb->prefix, 24);
    ST_ASSERT_INT_EQ(ntohl(sb->net.s_addr), 0x0a000000);
    ST_ASSERT_INT_EQ(ntohl(sb->gateway.s_addr), 0x0a000001);
    ST_ASSERT_INT_EQ(sb->dhcp, 1);
    ST_ASSERT_INT_EQ(ntohl(sb->dhcp_ip.s_addr), 0x0a0000fe);
    ST_ASSERT_INT_EQ(sb->ndns, 1);
    ST_ASSERT_INT_EQ(sb->nroutes, 1);
    ST_ASSERT_INT_EQ(sb->routes[0].prefix, 16);
    ST_ASSERT_INT_EQ(sb->npools, 1);
    ST_ASSERT_INT_EQ(ntohl(sb->pool_hi[0].s_addr), 0x0a0000fe);
    ST_ASSERT_INT_EQ(n->nremotes, 1);
    ST_ASSERT_STR_EQ(n->remotes[0].mac, "fa:16:3e:00:00:02");
    ST_ASSERT_INT_EQ(ntohl(n->remotes[0].tunnel.s_addr), 0xc0000202);
    ST_ASSERT_INT_EQ(n->remotes[0].nfixed_ips, 1);
    ST_ASSERT_INT_EQ(s.net.nsgs, 1);
    const nd_secgroup *g = &s.net.sgs[0];
    ST_ASSERT_INT_EQ(g->nports, 1);
    ST_ASSERT_INT_EQ(g->nmembers, 1); /* the IPv6 member is not served here */
    ST_ASSERT_INT_EQ(g->nrules, 1);
    ST_ASSERT_INT_EQ(g->rules[0].protocol, 6);
    ST_ASSERT_INT_EQ(g->rules[0].port_min, 22);
    ST_ASSERT_INT_EQ(g->rules[0].remote_prefix, 8);
    ST_ASSERT_INT_EQ(ntohl(g->rules[0].remote_net.s_addr), 0x0a000000); /* host bits cleared */
    ST_ASSERT_STR_EQ(g->rules[0].remote_group, "");
    nd_desired_free(&s);
    /* no networks at all (an older gateway): an empty set */
    ST_ASSERT_INT_EQ(parse("{\"instances\":[],\"networks\":null}", &s), 0);
    ST_ASSERT_INT_EQ(s.net.n, 0);
    nd_desired_free(&s);
    /* an IPv6 subnet, a null tunnel_ip and a numeric protocol are accepted */
    const char *ok[][3] = {{"subnet", "cidr", "\"fd00::/64\""}, {"remote", "tunnel_ip", "null"},
                           {"rule", "protocol", "\"47\""},      {"rule", "protocol", "null"},
                           {"subnet", "enable_dhcp", "false"},  {"group", "rules", "[]"},
                           {"subnet", "dhcp_ip", "null"},       {"subnet", "dhcp_ip", NULL}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        t = netset_text(ok[i][0], ok[i][1], ok[i][2]);
        ST_ASSERT_INT_EQ(parse(t, &s), 0);
        free(t);
        nd_desired_free(&s);
    }
}

static void test_netset_bad(void)
{
    const char *bad[][3] = {
        {"net", "id", "\"x\""},
        {"net", "id", NULL},
        {"net", "vni", "0"},
        {"net", "vni", "16777216"},
        {"net", "vni", "\"7\""},
        {"net", "mtu", "67"},
        {"net", "mtu", NULL},
        {"net", "subnets", "{}"},
        {"net", "subnets", "[1]"},
        {"net", "remote_ports", "7"},
        {"subnet", "id", "null"},
        {"subnet", "cidr", "\"10.0.0.0\""},
        {"subnet", "cidr", "\"10.0.0.0/33\""},
        {"subnet", "cidr", "\"10.0.0.0/24 \""},
        {"subnet", "cidr", "\"10.0.0.0/-1\""},
        {"subnet", "cidr", "\"10.0.0.0/31\""},
        {"subnet", "cidr", "7"},
        {"subnet", "gateway_ip", "\"10.0.0.300\""},
        {"subnet", "enable_dhcp", "\"yes\""},
        {"subnet", "dhcp_ip", "\"10.0.0.1\""},   /* the gateway's */
        {"subnet", "dhcp_ip", "\"10.0.0.255\""}, /* broadcast */
        {"subnet", "dhcp_ip", "\"10.0.0.0\""},
        {"subnet", "dhcp_ip", "\"10.0.1.5\""},
        {"subnet", "dhcp_ip", "\"x\""},
        {"subnet", "dns_nameservers", "[\"a\"]"},
        {"subnet", "dns_nameservers", "[\"1.1.1.1\",\"1.1.1.2\",\"1.1.1.3\",\"1.1.1.4\"]"},
        {"subnet", "host_routes", "[{\"destination\":\"0.0.0.0/0\"}]"},
        {"subnet", "host_routes", "[{\"destination\":\"fd00::/8\",\"nexthop\":\"10.0.0.1\"}]"},
        {"subnet", "allocation_pools", "[{\"start\":\"10.0.0.9\",\"end\":\"10.0.0.2\"}]"},
        {"subnet", "allocation_pools", "[{\"start\":\"10.0.0.9\"}]"},
        {"remote", "mac", "\"01:00:5e:00:00:01\""},
        {"remote", "mac", NULL},
        {"remote", "host_id", "\"../x\""},
        {"remote", "tunnel_ip", "\"fd00::1\""},
        {"remote", "fixed_ips", "[{\"subnet_id\":\"x\",\"ip_address\":\"10.0.0.5\"}]"},
        {"group", "id", "1"},
        {"group", "port_ids", "[\"x\"]"},
        {"group", "member_ips", "[\"10.0.0.256\"]"},
        {"group", "member_ips", "{}"},
        {"group", "rules", "[null]"},
        {"rule", "direction", "\"in\""},
        {"rule", "ethertype", "\"ipv4\""},
        {"rule", "protocol", "\"256\""},
        {"rule", "protocol", "\"tcpx\""},
        {"rule", "protocol", "-1"},
        {"rule", "port_range_min", "70000"},
        {"rule", "port_range_min", "null"},
        {"rule", "port_range_max", "21"},
        {"rule", "remote_ip_prefix", "\"fd00::/8\""},
        {"rule", "remote_ip_prefix", "\"10.0.0.0/40\""},
        {"rule", "remote_group_id", "\"nope\""},
    };
    nd_desired_set s;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *t = netset_text(bad[i][0], bad[i][1], bad[i][2]);
        int rc = parse(t, &s);
        if (rc != -1)
            fprintf(stderr, "  accepted: %s.%s = %s\n", bad[i][0], bad[i][1], bad[i][2]);
        ST_ASSERT_INT_EQ(rc, -1);
        ST_ASSERT_INT_EQ(s.n, 0);
        ST_ASSERT_INT_EQ(s.net.n, 0);
        free(t);
    }
    /* the same network (or VNI) or group twice */
    const char *twice[] = {
        "{\"instances\":[],\"networks\":[{\"id\":\"" NET1 "\",\"vni\":5,\"mtu\":1450},"
        "{\"id\":\"" NET1 "\",\"vni\":6,\"mtu\":1450}]}",
        "{\"instances\":[],\"networks\":[{\"id\":\"" NET1 "\",\"vni\":5,\"mtu\":1450},"
        "{\"id\":\"" SUB1 "\",\"vni\":5,\"mtu\":1450}]}",
        "{\"instances\":[],\"security_groups\":[{\"id\":\"" SG1 "\"},{\"id\":\"" SG1 "\"}]}",
        "{\"instances\":[],\"networks\":{}}",
        "{\"instances\":[],\"security_groups\":\"x\"}",
    };
    for (size_t i = 0; i < sizeof twice / sizeof twice[0]; i++)
        ST_ASSERT_INT_EQ(parse(twice[i], &s), -1);
}

#define RTR1 "abababab-abab-4bab-8bab-abababababab"
#define FIP1 "cdcdcdcd-cdcd-4dcd-8dcd-cdcdcdcdcdcd"

/* The gateway's routers (the shape gateway_netinst checks), with key of the
 * object at path ("router", "iface", "gw", "fip") set to value (JSON text;
 * NULL: removed). */
static char *routers_text(const char *path, const char *key, const char *value)
{
    json_t *iface =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "port_id", PORT1, "network_id", NET1, "subnet_id",
                  SUB1, "mac", "FA:16:3E:00:01:01", "ip_address", "10.0.0.1");
    json_t *gw =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "port_id", ID2, "network_id", HOST2, "subnet_id",
                  SG1, "mac", "fa:16:3e:00:02:02", "ip_address", "203.0.113.10");
    json_t *fip = json_pack("{s:s, s:s, s:s, s:s}", "id", FIP1, "floating_ip_address",
                            "203.0.113.11", "fixed_ip_address", "10.0.0.5", "port_id", ID1);
    json_t *rt = json_pack("{s:s, s:b, s:[o], s:o, s:[o]}", "id", RTR1, "enable_snat", 1,
                           "interfaces", iface, "gateway", gw, "floating_ips", fip);
    json_t *objs[] = {rt, iface, gw, fip};
    const char *names[] = {"router", "iface", "gw", "fip"};
    for (int i = 0; path && i < 4; i++)
        if (!strcmp(path, names[i])) {
            if (value)
                json_object_set_new(objs[i], key, json_loads(value, JSON_DECODE_ANY, NULL));
            else
                json_object_del(objs[i], key);
        }
    json_t *root = json_pack("{s:[], s:[o]}", "instances", "routers", rt);
    char *t = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return t;
}

static void test_routers_good(void)
{
    nd_desired_set s;
    char *t = routers_text(NULL, NULL, NULL);
    ST_ASSERT_INT_EQ_FATAL(parse(t, &s), 0);
    free(t);
    ST_ASSERT_INT_EQ_FATAL(s.net.nrouters, 1);
    const nd_router *r = &s.net.routers[0];
    ST_ASSERT_STR_EQ(r->id, RTR1);
    ST_ASSERT_INT_EQ(r->snat, 1);
    ST_ASSERT_INT_EQ(r->nifs, 1);
    ST_ASSERT_STR_EQ(r->ifs[0].network_id, NET1);
    ST_ASSERT_STR_EQ(r->ifs[0].subnet_id, SUB1);
    ST_ASSERT_STR_EQ(r->ifs[0].mac, "fa:16:3e:00:01:01");
    ST_ASSERT_INT_EQ(ntohl(r->ifs[0].ip.s_addr), 0x0a000001);
    ST_ASSERT_INT_EQ(r->ifs[0].v4, 1);
    ST_ASSERT_INT_EQ(r->has_gw, 1);
    ST_ASSERT_INT_EQ(ntohl(r->gw.ip.s_addr), 0xcb00710a);
    ST_ASSERT_INT_EQ(r->nfips, 1);
    ST_ASSERT_INT_EQ(ntohl(r->fips[0].floating.s_addr), 0xcb00710b);
    ST_ASSERT_INT_EQ(ntohl(r->fips[0].fixed.s_addr), 0x0a000005);
    nd_desired_free(&s);
    /* no gateway, SNAT off or unsaid, an IPv6 interface (kept, not served),
     * an external network flagged */
    const char *ok[][3] = {{"router", "gateway", "null"},   {"router", "enable_snat", "false"},
                           {"router", "enable_snat", NULL}, {"router", "floating_ips", "[]"},
                           {"router", "interfaces", NULL},  {"iface", "ip_address", "\"fd00::1\""},
                           {"fip", "port_id", NULL}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        t = routers_text(ok[i][0], ok[i][1], ok[i][2]);
        ST_ASSERT_INT_EQ(parse(t, &s), 0);
        free(t);
        nd_desired_free(&s);
    }
    ST_ASSERT_INT_EQ(parse("{\"instances\":[],\"networks\":[{\"id\":\"" NET1
                           "\",\"vni\":5,\"mtu\":1500,\"external\":true}]}",
                           &s),
                     0);
    ST_ASSERT_INT_EQ(s.net.nets[0].external, 1);
    nd_desired_free(&s);
}

static void test_routers_bad(void)
{
    const char *bad[][3] = {
        {"router", "id", "\"r1\""},
        {"router", "id", NULL},
        {"router", "enable_snat", "\"yes\""},
        {"router", "interfaces", "{}"},
        {"router", "interfaces", "[1]"},
        {"router", "floating_ips", "7"},
        {"router", "gateway", "[]"},
        {"iface", "mac", "\"01:00:5e:00:00:01\""},
        {"iface", "mac", "\"fa:16:3e:00:01\""},
        {"iface", "ip_address", "\"10.0.0.256\""},
        {"iface", "network_id", "\"../x\""},
        {"iface", "subnet_id", NULL},
        {"gw", "port_id", "7"},
        {"gw", "ip_address", NULL},
        {"fip", "id", "null"},
        {"fip", "floating_ip_address", "\"fd00::1\""},
        {"fip", "fixed_ip_address", "\"10.0.0\""},
    };
    nd_desired_set s;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *t = routers_text(bad[i][0], bad[i][1], bad[i][2]);
        int rc = parse(t, &s);
        if (rc != -1)
            fprintf(stderr, "  accepted: %s.%s = %s\n", bad[i][0], bad[i][1], bad[i][2]);
        ST_ASSERT_INT_EQ(rc, -1);
        ST_ASSERT_INT_EQ(s.net.nrouters, 0);
        free(t);
    }
    /* 65 interfaces: over the bound; a router twice; not an array */
    json_t *ifs = json_array();
    for (int i = 0; i < 65; i++)
        json_array_append_new(ifs, json_pack("{s:s, s:s, s:s, s:s, s:s}", "port_id", PORT1,
                                             "network_id", NET1, "subnet_id", SUB1, "mac",
                                             "fa:16:3e:00:01:01", "ip_address", "10.0.0.1"));
    json_t *root =
        json_pack("{s:[], s:[{s:s, s:o}]}", "instances", "routers", "id", RTR1, "interfaces", ifs);
    char *t = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    ST_ASSERT_INT_EQ(parse(t, &s), -1);
    free(t);
    ST_ASSERT_INT_EQ(
        parse("{\"instances\":[],\"routers\":[{\"id\":\"" RTR1 "\"},{\"id\":\"" RTR1 "\"}]}", &s),
        -1);
    ST_ASSERT_INT_EQ(parse("{\"instances\":[],\"routers\":{}}", &s), -1);
    ST_ASSERT_INT_EQ(parse("{\"instances\":[],\"networks\":[{\"id\":\"" NET1
                           "\",\"vni\":5,\"mtu\":1500,\"external\":1}]}",
                           &s),
                     -1);
}

static void test_cmdline(void)
{
    char out[1024];
    nd_cmdline_build("console=ttyS0", ID1, NULL, out, sizeof out);
    ST_ASSERT_STR_EQ(out, "console=ttyS0 stratus.instance=" ID1);
    /* "cmdline: scenario=boot\n#cloud-config\n" */
    nd_cmdline_build("console=ttyS0", ID1,
                     "Y21kbGluZTogc2NlbmFyaW89Ym9vdAojY2xvdWQtY29uZmlnCg==", out, sizeof out);
    ST_ASSERT_STR_EQ(out, "console=ttyS0 stratus.instance=" ID1 " scenario=boot");
    /* "#cloud-config\n": not ours, nothing added */
    nd_cmdline_build("console=ttyS0", ID1, "I2Nsb3VkLWNvbmZpZwo=", out, sizeof out);
    ST_ASSERT_STR_EQ(out, "console=ttyS0 stratus.instance=" ID1);
    /* not base64 */
    nd_cmdline_build("", ID1, "!!!", out, sizeof out);
    ST_ASSERT_STR_EQ(out, "stratus.instance=" ID1);
    /* control characters dropped: "cmdline: a\x01b\tc" */
    nd_cmdline_build("", ID1, "Y21kbGluZTogYQFiCWM=", out, sizeof out);
    ST_ASSERT_STR_EQ(out, "stratus.instance=" ID1 " abc");
}

#define PORT_A "3f1c2b4a-0d5e-4f6a-8b7c-9d0e1f2a3b4c"
#define PORT_B "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"

static void test_sample_shape(void)
{
    nd_record r;
    memset(&r, 0, sizeof r);
    snprintf(r.o.id, sizeof r.o.id, ID1);
    snprintf(r.o.tenant_id, sizeof r.o.tenant_id, TEN);
    r.o.vcpus = 1;
    r.o.memory_mib = 32;
    r.o.disk_gib = 1;
    /* two ports in the order; the VMM names its NICs net0, net1 in that order */
    r.o.nports = 2;
    snprintf(r.o.ports[0].id, sizeof r.o.ports[0].id, "%s", PORT_A);
    snprintf(r.o.ports[1].id, sizeof r.o.ports[1].id, "%s", PORT_B);
    const char *counters =
        "{\"boot_id\":\"" ID2 "\",\"cpu_time_ns_total\":5,\"cycles_total\":9,\"vcpus\":[],"
        "\"nics\":[{\"id\":\"net1\",\"rx_bytes\":7,\"rx_packets\":1,\"tx_bytes\":8,\"tx_packets\":"
        "1},"
        "{\"id\":\"net0\",\"rx_bytes\":3,\"rx_packets\":1,\"tx_bytes\":4,\"tx_packets\":1},"
        "{\"id\":\"net2\",\"rx_bytes\":1,\"rx_packets\":1,\"tx_bytes\":1,\"tx_packets\":1}],"
        "\"disks\":[],\"exits\":{\"io\":1}}";
    long long s1 = nd_seq_next(), s2 = nd_seq_next();
    ST_ASSERT_INT_EQ(s2 > s1, 1);
    char *s = nd_sample_make(&r, "active", s2, counters);
    ST_ASSERT_INT_EQ_FATAL(s != NULL, 1);
    json_t *j = json_loads(s, 0, NULL);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "boot_id")), ID2);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "flavor")), "v1.m32.d1");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(j, "state")), "active");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(j, "seq")), s2);
    ST_ASSERT_INT_EQ(json_is_object(json_object_get(j, "counters")), 1);
    /* the allocated disk, 1 GiB, billed as disk GiB over time */
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(j, "disk_bytes")), 1073741824);
    /* each NIC names its port by its place in the order; a NIC beyond the
     * order's ports names none; the counters stay as the VMM gave them */
    json_t *nics = json_object_get(json_object_get(j, "counters"), "nics");
    ST_ASSERT_INT_EQ_FATAL(json_array_size(nics), 3);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(nics, 0), "id")), "net1");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(nics, 0), "port_id")),
                     PORT_B);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(json_array_get(nics, 0), "rx_bytes")), 7);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(nics, 1), "port_id")),
                     PORT_A);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(json_array_get(nics, 1), "tx_bytes")), 4);
    ST_ASSERT_INT_EQ(json_object_get(json_array_get(nics, 2), "port_id") == NULL, 1);
    json_decref(j);
    const char *one[] = {s};
    char *b = nd_sample_batch(one, 1);
    j = json_loads(b, 0, NULL);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(j, "samples")), 1);
    ST_ASSERT_INT_EQ(json_string_length(json_object_get(j, "batch_id")), 36);
    json_decref(j);
    free(b);
    free(s);
    /* a counter document without a boot id is not a sample */
    ST_ASSERT_INT_EQ(nd_sample_make(&r, "active", 1, "{\"cpu_time_ns_total\":5}") == NULL, 1);
    ST_ASSERT_INT_EQ(nd_sample_make(&r, "active", 1, "not json") == NULL, 1);
}

static void test_spool_order(void)
{
    char *dir = st_tmpdir("node-units");
    for (int i = 0; i < 12; i++) {
        char b[64];
        snprintf(b, sizeof b, "{\"n\":%d}", i);
        ST_ASSERT_INT_EQ(nd_spool_add(dir, b, strlen(b), 0), 0);
    }
    char sp[600];
    snprintf(sp, sizeof sp, "%s/spool", dir);
    struct dirent **ents;
    int n = scandir(sp, &ents, NULL, alphasort), seen = 0;
    for (int i = 0; i < n; i++) {
        if (ents[i]->d_name[0] != '.') {
            char p[900], buf[64] = "";
            snprintf(p, sizeof p, "%s/%s", sp, ents[i]->d_name);
            FILE *f = fopen(p, "r");
            if (f && fgets(buf, sizeof buf, f)) {
                char want[64];
                snprintf(want, sizeof want, "{\"n\":%d}", seen);
                ST_ASSERT_STR_EQ(buf, want); /* name order is the order they were made */
            }
            if (f)
                fclose(f);
            seen++;
        }
        free(ents[i]);
    }
    free(ents);
    ST_ASSERT_INT_EQ(seen, 12);
    st_rmtree(dir);
    free(dir);
}

/* dir/vmm.log holding these lines (stratus-vmm's JSON log shape). */
static void vmm_log(const char *dir, const char *const *lines)
{
    char p[700];
    snprintf(p, sizeof p, "%s/vmm.log", dir);
    FILE *f = fopen(p, "w");
    for (; *lines; lines++)
        fprintf(f,
                "{\"ts\":\"2026-12-04T18:00:00Z\",\"level\":\"info\",\"service\":"
                "\"stratus-vmm\",\"event\":%s}\n",
                *lines);
    fclose(f);
}

/* How a VMM's end is told: a guest powering off (debug exit, shutdown) is
 * stopped; the VMM failing (1, 2, a status no debug exit explains, a
 * signal, no exit line at all) is an error. */
static void test_vmm_exit_classes(void)
{
    char *dir = st_tmpdir("node-exit");
    nd_vm_exit x;
    const char *pass[] = {"\"vmm.debug_exit\",\"msg\":\"guest wrote 0x10 to the debug-exit port\"",
                          "\"vmm.exit\",\"msg\":\"VM stopped, exit status 16\"", NULL};
    vmm_log(dir, pass);
    nd_vmm_exit_classify(dir, 0, 0, 0, &x); /* adopted: read from the log */
    ST_ASSERT_INT_EQ(x.stopped, 1);
    ST_ASSERT_INT_EQ(x.code, 16);
    nd_vmm_exit_classify(dir, 16, 0, 1, &x); /* a child: waitid's status */
    ST_ASSERT_INT_EQ(x.stopped, 1);
    nd_vmm_exit_classify(dir, 17, 0, 1, &x); /* not the value the guest wrote */
    ST_ASSERT_INT_EQ(x.stopped, 0);
    nd_vmm_exit_classify(dir, 0, 9, 1, &x);
    ST_ASSERT_INT_EQ(x.stopped, 0);
    ST_ASSERT_STR_EQ(x.fault, "the VMM was killed by signal 9");
    const char *fail17[] = {
        "\"vmm.debug_exit\",\"msg\":\"guest wrote 0x11 to the debug-exit port\"",
        "\"vmm.exit\",\"msg\":\"VM stopped, exit status 17\"", NULL};
    vmm_log(dir, fail17);
    nd_vmm_exit_classify(dir, 17, 0, 1, &x); /* the guest's own verdict is not the cloud's */
    ST_ASSERT_INT_EQ(x.stopped, 1);
    const char *shutdown[] = {"\"vmm.exit\",\"msg\":\"VM stopped, exit status 0\"", NULL};
    vmm_log(dir, shutdown);
    nd_vmm_exit_classify(dir, 0, 0, 0, &x);
    ST_ASSERT_INT_EQ(x.stopped, 1);
    for (int code = 1; code <= 16; code += 15) { /* KVM failed; a 16 with no debug exit */
        char l[100];
        snprintf(l, sizeof l, "\"vmm.exit\",\"msg\":\"VM stopped, exit status %d\"", code);
        const char *lines[] = {l, NULL};
        vmm_log(dir, lines);
        nd_vmm_exit_classify(dir, 0, 0, 0, &x);
        ST_ASSERT_INT_EQ(x.stopped, 0);
        ST_ASSERT_INT_EQ(x.code, code);
        nd_vmm_exit_classify(dir, code, 0, 1, &x);
        ST_ASSERT_INT_EQ(x.stopped, 0);
    }
    nd_vmm_exit_classify(dir, 2, 0, 1, &x); /* a bad config */
    ST_ASSERT_INT_EQ(x.stopped, 0);
    ST_ASSERT_STR_EQ(x.fault, "the VMM exited with status 2");
    const char *none[] = {"\"vmm.start\",\"msg\":\"VM running\"", NULL};
    vmm_log(dir, none); /* killed while the agent was away: no exit line */
    nd_vmm_exit_classify(dir, 0, 0, 0, &x);
    ST_ASSERT_INT_EQ(x.stopped, 0);
    ST_ASSERT_INT_EQ(x.code, -1);
    st_rmtree(dir);
    free(dir);
}

static void test_record_round_trip(void)
{
    char *dir = st_tmpdir("node-units");
    nd_record r, back;
    memset(&r, 0, sizeof r);
    snprintf(r.o.id, sizeof r.o.id, ID1);
    snprintf(r.o.tenant_id, sizeof r.o.tenant_id, TEN);
    r.target = ND_WANT_RUNNING;
    r.phase = ND_PHASE_APPLYING;
    r.actual = ND_ACTUAL_RUNNING;
    r.o.generation = 1LL << 40;
    r.o.reboot_seq = 7;
    r.vm.pid = 4242;
    r.vm.start = 123456789012ULL;
    snprintf(r.vm.boot_id, sizeof r.vm.boot_id, ID2);
    snprintf(r.o.snapshot_image, sizeof r.o.snapshot_image, IMG); /* a snapshot being taken */
    ST_ASSERT_INT_EQ_FATAL(nd_record_save(dir, &r, 1), 0);
    char p[700];
    snprintf(p, sizeof p, "%s/instances/" ID1 "/state.json", dir);
    ST_ASSERT_INT_EQ_FATAL(nd_record_load(p, &back), 0);
    ST_ASSERT_INT_EQ(back.o.generation, r.o.generation);
    ST_ASSERT_INT_EQ(back.vm.pid, 4242);
    ST_ASSERT_INT_EQ(back.vm.start == r.vm.start, 1);
    ST_ASSERT_INT_EQ(back.phase, ND_PHASE_APPLYING);
    ST_ASSERT_INT_EQ(back.target, ND_WANT_RUNNING);
    ST_ASSERT_INT_EQ(back.actual, ND_ACTUAL_RUNNING);
    ST_ASSERT_STR_EQ(back.vm.boot_id, ID2);
    ST_ASSERT_STR_EQ(back.o.snapshot_image, IMG);
    ST_ASSERT_STR_EQ(back.snapshot_fault, "");
    /* on disk the states stay words, as older agents wrote them */
    json_t *disk = json_load_file(p, 0, NULL);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(disk, "phase")), "applying");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(disk, "target")), "running");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(disk, "actual")), "running");
    json_decref(disk);
    FILE *f = fopen(p, "w");
    fputs("{\"id\":\"not-a-uuid\"}", f);
    fclose(f);
    ST_ASSERT_INT_EQ(nd_record_load(p, &back) < 0, 1);
    st_rmtree(dir);
    free(dir);
}

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define IMG_B "55555555-5555-4555-8555-555555555555"

static void put(const char *dir, const char *name, const char *text, long long age_s)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    struct timespec t[2] = {{.tv_sec = time(NULL) - age_s}, {.tv_sec = time(NULL) - age_s}};
    utimensat(AT_FDCWD, p, t, 0);
}

static int there(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* An instance of image IMG (whose record names SHA_A) with its overlay. */
static void make_instance(nd_conf *c, const char *id, const char *image_id)
{
    nd_record r = {0};
    snprintf(r.o.id, sizeof r.o.id, "%s", id);
    snprintf(r.o.image_id, sizeof r.o.image_id, "%s", image_id);
    r.target = ND_WANT_STOPPED;
    r.phase = ND_PHASE_DONE;
    nd_mkdirs(nd_inst_dir(c->state_dir, id), 0700);
    CU_ASSERT_EQUAL(nd_record_save(c->state_dir, &r, 0), 0);
    put(nd_inst_dir(c->state_dir, id), "disk.qcow2", "overlay", 0);
}

static void test_image_gc_policy(void)
{
    char *dir = st_tmpdir("node-gc");
    nd_conf c = {.state_dir = dir};
    char images[600];
    snprintf(images, sizeof images, "%s/images", dir);
    nd_mkdirs(images, 0700);
    /* image A: base, kernel, lock, an interrupted download, its record */
    put(images, SHA_A ".qcow2", "base", 7200);
    put(images, SHA_A ".kernel", "kernel", 7200);
    put(images, SHA_A ".lock", "", 7200);
    put(images, SHA_A ".raw.fetch-Ab12Cd", "partial", 7200);
    put(images, IMG ".json", "{\"checksum\": \"" SHA_A "\"}", 7200);
    /* image B: used by an instance, old */
    put(images, SHA_B ".raw", "base", 7200);
    put(images, IMG_B ".json", "{\"checksum\": \"" SHA_B "\"}", 7200);
    put(images, "unrelated.txt", "x", 7200);
    make_instance(&c, ID2, IMG_B);
    int removed;
    long long bytes;
    /* within the keep time nothing goes */
    ST_ASSERT_INT_EQ(nd_image_gc(&c, 3 * 3600, &removed, &bytes), 0);
    ST_ASSERT_INT_EQ(removed, 0);
    CU_ASSERT_TRUE(there(images, SHA_A ".qcow2"));
    /* an instance whose image record is missing stops the pass */
    make_instance(&c, ID1, "66666666-6666-4666-8666-666666666666");
    ST_ASSERT_INT_EQ(nd_image_gc(&c, 0, &removed, &bytes), -1);
    ST_ASSERT_INT_EQ(removed, 0);
    CU_ASSERT_TRUE(there(images, SHA_A ".qcow2"));
    nd_rmtree(nd_inst_dir(dir, ID1));
    /* a launch preparing holds the collector off */
    nd_images_use_begin();
    ST_ASSERT_INT_EQ(nd_image_gc(&c, 3600, &removed, &bytes), 0);
    ST_ASSERT_INT_EQ(removed, 0);
    nd_images_use_end();
    CU_ASSERT_TRUE(there(images, SHA_A ".qcow2"));
    /* past the keep time: A goes whole; B, in use, and the rest stay */
    ST_ASSERT_INT_EQ(nd_image_gc(&c, 3600, &removed, &bytes), 0);
    ST_ASSERT_INT_EQ(removed, 1);
    ST_ASSERT_INT_EQ(bytes, 4 + 6 + 0 + 7 + (long long)strlen("{\"checksum\": \"" SHA_A "\"}"));
    CU_ASSERT_FALSE(there(images, SHA_A ".qcow2"));
    CU_ASSERT_FALSE(there(images, SHA_A ".kernel"));
    CU_ASSERT_FALSE(there(images, SHA_A ".lock"));
    CU_ASSERT_FALSE(there(images, SHA_A ".raw.fetch-Ab12Cd"));
    CU_ASSERT_FALSE(there(images, IMG ".json"));
    CU_ASSERT_TRUE(there(images, SHA_B ".raw"));
    CU_ASSERT_TRUE(there(images, IMG_B ".json"));
    CU_ASSERT_TRUE(there(images, "unrelated.txt"));
    /* its instance gone, B goes too */
    nd_rmtree(nd_inst_dir(dir, ID2));
    ST_ASSERT_INT_EQ(nd_image_gc(&c, 3600, &removed, &bytes), 0);
    ST_ASSERT_INT_EQ(removed, 1);
    CU_ASSERT_FALSE(there(images, SHA_B ".raw"));
    CU_ASSERT_FALSE(there(images, IMG_B ".json"));
    st_rmtree(dir);
    free(dir);
}

static void test_spool_bound_drops_the_oldest(void)
{
    char *dir = st_tmpdir("node-spool");
    char sp[600];
    snprintf(sp, sizeof sp, "%s/spool", dir);
    /* ten batches of 100 bytes under a bound of 350: the newest three stay */
    nd_spool_set_limit(350);
    for (int i = 0; i < 10; i++) {
        char b[101];
        memset(b, ' ', 100);
        b[100] = 0;
        b[0] = (char)('0' + i);
        ST_ASSERT_INT_EQ(nd_spool_add(dir, b, 100, 0), 0);
    }
    nd_spool_set_limit(0);
    struct dirent **ents;
    int n = scandir(sp, &ents, NULL, alphasort), seen = 0;
    char first = 0;
    for (int i = 0; i < n; i++) {
        if (ents[i]->d_name[0] != '.') {
            char p[900];
            snprintf(p, sizeof p, "%s/%s", sp, ents[i]->d_name);
            FILE *f = fopen(p, "r");
            int c = f ? fgetc(f) : 0;
            if (f)
                fclose(f);
            if (!seen)
                first = (char)c;
            seen++;
        }
        free(ents[i]);
    }
    free(ents);
    ST_ASSERT_INT_EQ(seen, 3);
    ST_ASSERT_INT_EQ(first, '7');
    /* a single batch bigger than the bound is still kept */
    st_rmtree(sp);
    nd_spool_set_limit(10);
    ST_ASSERT_INT_EQ(nd_spool_add(dir, "{\"big\":\"batch over the bound\"}", 30, 0), 0);
    nd_spool_set_limit(0);
    n = scandir(sp, &ents, NULL, alphasort);
    seen = 0;
    for (int i = 0; i < n; i++) {
        seen += ents[i]->d_name[0] != '.';
        free(ents[i]);
    }
    free(ents);
    ST_ASSERT_INT_EQ(seen, 1);
    st_rmtree(dir);
    free(dir);
}

static void test_sriov_vfs_counted_for_the_heartbeat(void)
{
    /* a sysfs tree laid out like a host's: one PF with 2 of 8 VFs enabled,
     * one with 1 of 4, and a NIC without SR-IOV */
    char *root = st_tmpdir("sriov");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && mkdir -p class/net devices/p0 devices/p0vf0 devices/p0vf1 devices/p1 "
             "devices/p1vf0 devices/plain && "
             "echo 8 > devices/p0/sriov_totalvfs && echo 2 > devices/p0/sriov_numvfs && "
             "ln -s ../p0vf0 devices/p0/virtfn0 && ln -s ../p0vf1 devices/p0/virtfn1 && "
             "echo 4 > devices/p1/sriov_totalvfs && echo 1 > devices/p1/sriov_numvfs && "
             "ln -s ../p1vf0 devices/p1/virtfn0 && "
             "for n in p0 p1 plain; do mkdir class/net/eth$n && "
             "ln -s ../../../devices/$n class/net/eth$n/device; done",
             root);
    ST_ASSERT_INT_EQ_FATAL(system(cmd), 0);
    ST_ASSERT_INT_EQ(nd_sriov_vfs(root), 3);
    ST_ASSERT_INT_EQ(nd_sriov_vfs(""), 0); /* not configured: none reported */
    /* a PF claiming more VFs than it has links for is not believed */
    snprintf(cmd, sizeof cmd, "echo 3 > %s/devices/p1/sriov_numvfs", root);
    ST_ASSERT_INT_EQ_FATAL(system(cmd), 0);
    ST_ASSERT_INT_EQ(nd_sriov_vfs(root), 0);
    st_rmtree(root);
    free(root);
}

/* The fence's two decisions (fence.c): the lease runs out at exactly
 * fence.timeout after the heartbeat's send, never with the fence off; and
 * only a fetch begun after the heartbeat that got through lifts it. */
static void test_fence_lease_decisions(void)
{
    ST_ASSERT_INT_EQ(nd_fence_due(1000, 1000 + 19999, 20000), 0);
    ST_ASSERT_INT_EQ(nd_fence_due(1000, 1000 + 20000, 20000), 1);
    ST_ASSERT_INT_EQ(nd_fence_due(1000, 1000 + 86400000, 0), 0); /* fence.timeout = 0: off */
    ST_ASSERT_INT_EQ(nd_fence_due(5000, 4000, 20000), 0);        /* a lease newer than now */
    /* not fenced: nothing to lift */
    ST_ASSERT_INT_EQ(nd_fence_lift_ok(0, 100, 200), 0);
    /* fenced, no heartbeat through yet: a fetch that answered does not lift it */
    ST_ASSERT_INT_EQ(nd_fence_lift_ok(1, 0, 200), 0);
    /* a fetch begun before the heartbeat got through may hold a set older
     * than an evacuation: it does not lift it; one begun after does */
    ST_ASSERT_INT_EQ(nd_fence_lift_ok(1, 300, 299), 0);
    ST_ASSERT_INT_EQ(nd_fence_lift_ok(1, 300, 300), 1);
    ST_ASSERT_INT_EQ(nd_fence_lift_ok(1, 300, 301), 1);
}

/* The desired set's `evacuated`: instance ids, none also desired here. */
static void test_desired_evacuated(void)
{
    char text[4096];
    nd_desired_set s;
    snprintf(text, sizeof text, "{\"instances\":[%s],\"evacuated\":[\"%s\"]}",
             inst(ID1, NULL, NULL), ID2);
    ST_ASSERT_INT_EQ_FATAL(parse(text, &s), 0);
    ST_ASSERT_INT_EQ(s.nevacuated, 1);
    ST_ASSERT_STR_EQ(s.evacuated[0], ID2);
    nd_desired_free(&s);
    ST_ASSERT_INT_EQ_FATAL(parse("{\"instances\":[],\"evacuated\":null}", &s), 0);
    ST_ASSERT_INT_EQ(s.nevacuated, 0);
    nd_desired_free(&s);
    snprintf(text, sizeof text, "{\"instances\":[%s],\"evacuated\":[\"%s\"]}",
             inst(ID1, NULL, NULL), ID1);
    ST_ASSERT_INT_EQ(parse(text, &s), -1);
    ST_ASSERT_INT_EQ(s.n, 0);
    ST_ASSERT_INT_EQ(parse("{\"instances\":[],\"evacuated\":[\"../x\"]}", &s), -1);
    ST_ASSERT_INT_EQ(parse("{\"instances\":[],\"evacuated\":[1]}", &s), -1);
    ST_ASSERT_INT_EQ(parse("{\"instances\":[],\"evacuated\":\"all\"}", &s), -1);
}

/* A live migration's two sides in the set: `migration` on the source's
 * entry, `incoming` on the target's set; bad ones refuse the whole set. */
static void test_desired_migration(void)
{
    char text[8192];
    nd_desired_set s;
    const char *mig = "{\"id\":\"" ID2 "\",\"uri\":\"tcp:10.0.0.2:49152\",\"downtime_ms\":50,"
                      "\"timeout_ms\":0,\"on_timeout\":\"force\",\"cancel\":true}";
    snprintf(text, sizeof text, "{\"instances\":[%s]}", inst(ID1, "migration", mig));
    ST_ASSERT_INT_EQ_FATAL(parse(text, &s), 0);
    ST_ASSERT_STR_EQ(s.v[0].mig.id, ID2);
    ST_ASSERT_STR_EQ(s.v[0].mig.uri, "tcp:10.0.0.2:49152");
    ST_ASSERT_INT_EQ(s.v[0].mig.downtime_ms, 50);
    ST_ASSERT_STR_EQ(s.v[0].mig.on_timeout, "force");
    ST_ASSERT_INT_EQ(s.v[0].mig.cancel, 1);
    nd_desired_free(&s);
    snprintf(text, sizeof text, "{\"instances\":[%s]}", inst(ID1, "migration", "null"));
    ST_ASSERT_INT_EQ_FATAL(parse(text, &s), 0);
    ST_ASSERT_STR_EQ(s.v[0].mig.id, "");
    nd_desired_free(&s);
    const char *bad[] = {"{\"id\":\"" ID2 "\",\"uri\":\"unix:/x\"}",
                         "{\"id\":\"" ID2 "\",\"uri\":\"tcp:1.2.3.4:5\",\"on_timeout\":\"later\"}",
                         "{\"uri\":\"tcp:1.2.3.4:5\"}", "\"tcp:1.2.3.4:5\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "{\"instances\":[%s]}", inst(ID1, "migration", bad[i]));
        CU_ASSERT_EQUAL(parse(text, &s), -1);
    }
    /* the target's */
    snprintf(text, sizeof text,
             "{\"instances\":[%s],\"incoming\":[{\"migration_id\":\"" ID2 "\",\"instance\":%s}]}",
             inst(ID1, NULL, NULL), inst(ID3, NULL, NULL));
    ST_ASSERT_INT_EQ_FATAL(parse(text, &s), 0);
    ST_ASSERT_INT_EQ(s.nincoming, 1);
    ST_ASSERT_STR_EQ(s.incoming[0].mid, ID2);
    ST_ASSERT_STR_EQ(s.incoming[0].d.o.id, ID3);
    nd_desired_free(&s);
    /* one both desired and incoming, twice incoming, or without its id */
    snprintf(text, sizeof text,
             "{\"instances\":[%s],\"incoming\":[{\"migration_id\":\"" ID2 "\",\"instance\":%s}]}",
             inst(ID1, NULL, NULL), inst(ID1, NULL, NULL));
    CU_ASSERT_EQUAL(parse(text, &s), -1);
    snprintf(text, sizeof text,
             "{\"instances\":[],\"incoming\":[{\"migration_id\":\"" ID2
             "\",\"instance\":%s},{\"migration_id\":\"" ID2 "\",\"instance\":%s}]}",
             inst(ID3, NULL, NULL), inst(ID3, NULL, NULL));
    CU_ASSERT_EQUAL(parse(text, &s), -1);
    snprintf(text, sizeof text, "{\"instances\":[],\"incoming\":[{\"instance\":%s}]}",
             inst(ID3, NULL, NULL));
    CU_ASSERT_EQUAL(parse(text, &s), -1);
    CU_ASSERT_EQUAL(parse("{\"instances\":[],\"incoming\":{}}", &s), -1);
}

static CU_TestInfo tests[] = {
    {"the desired set's live migration: migration and incoming", test_desired_migration},
    {"the fence: when the lease runs out, which fetch lifts it", test_fence_lease_decisions},
    {"the desired set's evacuated instances parse; one also desired is refused",
     test_desired_evacuated},
    {"SR-IOV VFs are counted from sysfs for the heartbeat",
     test_sriov_vfs_counted_for_the_heartbeat},
    {"the spool's bound drops the oldest batches", test_spool_bound_drops_the_oldest},
    {"the image collector removes only what no instance uses, after the keep time",
     test_image_gc_policy},
    {"the gateway's desired set parses", test_desired_good},
    {"a malformed desired set is refused whole", test_desired_bad},
    {"ports in the desired set: parsed, defaults, lower-case MACs, taps named", test_desired_ports},
    {"a malformed port refuses the whole set", test_desired_ports_bad},
    {"networks and security groups in the desired set parse", test_netset_good},
    {"a malformed network or security group refuses the whole set", test_netset_bad},
    {"routers (interfaces, gateway, SNAT, floating IPs) in the desired set parse",
     test_routers_good},
    {"a malformed router refuses the whole set", test_routers_bad},
    {"a VMM's end: a guest power-off is stopped, a VMM failure an error", test_vmm_exit_classes},
    {"user_data's cmdline: line reaches the kernel command line", test_cmdline},
    {"samples have billing's shape, name each NIC's port, and grow in sequence", test_sample_shape},
    {"the spool keeps batches in the order they were made", test_spool_order},
    {"the instance record survives a save and load", test_record_round_trip},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"units", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
