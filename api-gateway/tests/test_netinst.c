/*
 * Instances on networks, against a real gateway and PostgreSQL: NICs on
 * create (networks, ports, none, or a port on the tenant's default network
 * made once under concurrent first uses), attach and detach while stopped,
 * ports let go on delete; and what a node is told: each instance's ports
 * in the agent's shape, the host's network view (VNI, MTU, subnets, remote
 * ports with their host's tunnel address) and security groups, with the
 * desired set's ETag changing exactly when any of it does.
 */
#include "gwt.h"
#include "st_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gwt T;
static gwt_tenant A;
static char *node1, *node2;
static char node2_id[40];
static char flavor[40], image[40];

static int suite_init(void)
{
    gwt_start(&T, "gw_netinst", NULL);
    gwt_make_tenant(&T, "ni", &A);
    node1 = gwt_make_node(&T, "ni-node-1", 64, 262144, 10000);
    gwt_make_catalog(&T, flavor, image);
    /* the only host: every instance lands on node 1 unless moved */
    node2 = NULL;
    return 0;
}

static int suite_clean(void)
{
    gwt_free_tenant(&A);
    free(node1);
    free(node2);
    gwt_stop(&T);
    return 0;
}

/* Creates an instance with body extra (",\"networks\":..."); returns status. */
static long create(const char *token, const char *name, const char *extra, char id[40])
{
    char b[1024];
    snprintf(b, sizeof b, "{\"name\":\"%s\",\"flavor\":\"m1.small\",\"image\":\"%s\"%s}", name,
             image, extra);
    st_resp r;
    long s = gwt_call(&T, &r, "POST", "/v1/instances", token, b);
    const char *v = json_string_value(json_object_get(r.json, "id"));
    snprintf(id, 40, "%s", v ? v : "");
    if (s != 202)
        fprintf(stderr, "create %s: %ld %s\n", name, s, r.body);
    st_resp_free(&r);
    return s;
}

/* The instance's interfaces (a JSON array the caller decrefs). */
static json_t *nics_as(const char *token, const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%s/interfaces", id);
    st_resp r;
    if (gwt_call(&T, &r, "GET", path, token, NULL) != 200) {
        st_resp_free(&r);
        return json_array();
    }
    json_t *a = json_incref(json_object_get(r.json, "interfaces"));
    st_resp_free(&r);
    return a;
}

static json_t *nics(const char *id)
{
    return nics_as(A.reader, id);
}

static const char *ip_of(json_t *port)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(port, "fixed_ips"), 0), "ip_address"));
}

static long post(const char *token, const char *path, const char *body, char id[40])
{
    st_resp r;
    long s = gwt_call(&T, &r, "POST", path, token, body);
    const char *v = json_string_value(json_object_get(r.json, "id"));
    if (id)
        snprintf(id, 40, "%s", v ? v : "");
    st_resp_free(&r);
    return s;
}

typedef struct racer {
    char name[32], id[40];
    const char *token;
    long status;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    r->status = create(r->token, r->name, "", r->id);
    return NULL;
}

static void test_default_network_made_once_on_first_use(void)
{
    gwt_tenant D;
    gwt_make_tenant(&T, "ni-default", &D);
    enum { N = 6 };
    pthread_t th[N];
    racer r[N];
    for (int i = 0; i < N; i++) {
        r[i] = (racer){.token = D.member};
        snprintf(r[i].name, sizeof r[i].name, "d%d", i);
        pthread_create(&th[i], NULL, race, &r[i]);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    char ips[N][20];
    for (int i = 0; i < N; i++) {
        ST_ASSERT_INT_EQ(r[i].status, 202);
        json_t *a = nics_as(D.reader, r[i].id);
        ST_ASSERT_INT_EQ(json_array_size(a), 1);
        snprintf(ips[i], sizeof ips[i], "%s",
                 ip_of(json_array_get(a, 0)) ? ip_of(json_array_get(a, 0)) : "");
        CU_ASSERT(!strncmp(ips[i], "10.0.0.", 7));
        for (int k = 0; k < i; k++)
            CU_ASSERT(strcmp(ips[i], ips[k]) != 0);
        json_decref(a);
    }
    st_resp x;
    ST_ASSERT_INT_EQ(gwt_call(&T, &x, "GET", "/v1/networks", D.reader, NULL), 200);
    json_t *nets = json_object_get(x.json, "networks");
    ST_ASSERT_INT_EQ(json_array_size(nets), 1);
    json_t *n = json_array_get(nets, 0);
    CU_ASSERT(json_is_true(json_object_get(n, "is_default")));
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(n, "subnets")), 1);
    st_resp_free(&x);
    ST_ASSERT_INT_EQ(gwt_call(&T, &x, "GET", "/v1/security-groups", D.reader, NULL), 200);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(x.json, "security_groups")), 1);
    st_resp_free(&x);
    gwt_free_tenant(&D);
}

static long stop(const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%s/actions", id);
    long s = gwt_status(&T, "POST", path, A.member, "{\"action\":\"stop\"}");
    if (s != 202)
        return s;
    return gwt_report(&T, node1, id, "stopped", gwt_instance_generation(&T, A.member, id));
}

static void test_nics_on_create_attach_detach_and_delete(void)
{
    char n[40], free_port[40], id[40];
    ST_ASSERT_INT_EQ(post(A.member, "/v1/networks", "{\"name\":\"app\"}", n), 201);
    char b[512];
    snprintf(b, sizeof b, "{\"network_id\":\"%s\",\"cidr\":\"10.5.0.0/24\"}", n);
    ST_ASSERT_INT_EQ(post(A.member, "/v1/subnets", b, NULL), 201);
    snprintf(b, sizeof b, "{\"network_id\":\"%s\",\"name\":\"mine\"}", n);
    ST_ASSERT_INT_EQ(post(A.member, "/v1/ports", b, free_port), 201);
    /* refused NIC requests */
    char extra[512], bad[40];
    snprintf(extra, sizeof extra, ",\"networks\":[{\"network_id\":\"%s\",\"port_id\":\"%s\"}]", n,
             free_port);
    ST_ASSERT_INT_EQ(create(A.member, "bad", extra, bad), 400);
    ST_ASSERT_INT_EQ(create(A.member, "bad",
                            ",\"networks\":[{\"network_id\":"
                            "\"7b0e4c1a-1111-4222-8333-444455556666\"}]",
                            bad),
                     400);
    ST_ASSERT_INT_EQ(create(A.member, "bad", ",\"networks\":\"all\"", bad), 400);
    ST_ASSERT_INT_EQ(create(A.member, "bad", ",\"ports\":[\"nope\"]", bad), 400);
    /* a port on the network at a given address, then the tenant's port */
    snprintf(extra, sizeof extra,
             ",\"networks\":[{\"network_id\":\"%s\",\"fixed_ip\":"
             "\"10.5.0.50\"}],\"ports\":[\"%s\"]",
             n, free_port);
    ST_ASSERT_INT_EQ(create(A.member, "two-nics", extra, id), 202);
    json_t *a = nics(id);
    ST_ASSERT_INT_EQ(json_array_size(a), 2);
    ST_ASSERT_STR_EQ(ip_of(json_array_get(a, 0)), "10.5.0.50");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(a, 1), "id")), free_port);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(a, 1), "status")), "ACTIVE");
    char auto_port[40];
    snprintf(auto_port, sizeof auto_port, "%s",
             json_string_value(json_object_get(json_array_get(a, 0), "id")));
    json_decref(a);
    /* a bound port cannot go to a second instance, nor be deleted */
    char other[40];
    snprintf(extra, sizeof extra, ",\"ports\":[\"%s\"]", free_port);
    ST_ASSERT_INT_EQ(create(A.member, "thief", extra, other), 409);
    char path[160];
    snprintf(path, sizeof path, "/v1/ports/%s", free_port);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.member, NULL), 409);
    /* "none": no NIC at all */
    ST_ASSERT_INT_EQ(create(A.member, "no-nic", ",\"networks\":\"none\"", other), 202);
    a = nics(other);
    ST_ASSERT_INT_EQ(json_array_size(a), 0);
    json_decref(a);
    /* attach and detach only while stopped */
    ST_ASSERT_INT_EQ(gwt_report(&T, node1, id, "active", gwt_instance_generation(&T, A.member, id)),
                     200);
    snprintf(path, sizeof path, "/v1/instances/%s/interfaces", id);
    snprintf(b, sizeof b, "{\"network_id\":\"%s\"}", n);
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", path, A.member, b), 409);
    long long gen = gwt_instance_generation(&T, A.member, id);
    ST_ASSERT_INT_EQ(stop(id), 200);
    st_resp x;
    ST_ASSERT_INT_EQ(gwt_call(&T, &x, "POST", path, A.member, b), 200);
    char third[40];
    snprintf(third, sizeof third, "%s", json_string_value(json_object_get(x.json, "id")));
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(x.json, "instance_id")), id);
    st_resp_free(&x);
    CU_ASSERT(gwt_instance_generation(&T, A.member, id) > gen + 1); /* a new order */
    a = nics(id);
    ST_ASSERT_INT_EQ(json_array_size(a), 3);
    json_decref(a);
    snprintf(path, sizeof path, "/v1/instances/%s/interfaces/%s", id, third);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.member, NULL), 204);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.member, NULL), 404);
    snprintf(path, sizeof path, "/v1/ports/%s", third);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, A.member, NULL), 404); /* made for it: gone */
    /* delete: the port made for it goes, with its address; the tenant's stays, free */
    snprintf(path, sizeof path, "/v1/instances/%s", id);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.member, NULL), 202);
    snprintf(path, sizeof path, "/v1/ports/%s", auto_port);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, A.member, NULL), 404);
    snprintf(path, sizeof path, "/v1/ports/%s", free_port);
    ST_ASSERT_INT_EQ(gwt_call(&T, &x, "GET", path, A.member, NULL), 200);
    CU_ASSERT(json_is_null(json_object_get(x.json, "instance_id")));
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(x.json, "status")), "DOWN");
    st_resp_free(&x);
    char *v = gwt_sql_value(&T, "SELECT count(*) FROM iaas.port_ips WHERE ip = '10.5.0.50'");
    ST_ASSERT_STR_EQ(v, "0");
    free(v);
}

/* GET the node's desired set with If-None-Match etag (may be ""). */
static long desired(const char *token, const char *etag, st_resp *r)
{
    char url[256], h[200];
    snprintf(url, sizeof url, "%s/internal/v1/node/instances", T.base);
    snprintf(h, sizeof h, "If-None-Match: %s", etag);
    const char *hdrs[] = {h, NULL};
    st_http(r, "GET", url, token, NULL, etag[0] ? hdrs : NULL);
    return r->status;
}

static void etag_of(const st_resp *r, char out[128])
{
    char *e = st_resp_header(r, "ETag");
    snprintf(out, 128, "%s", e ? e : "");
    free(e);
}

/* Re-reads the set: must be 200 with a new tag (the change showed), then 304. */
static void assert_changed(const char *token, char etag[128], const char *what)
{
    st_resp r;
    long s = desired(token, etag, &r);
    st_assert_fmt(s == 200, 0, __FILE__, __LINE__, "after %s: %ld, not 200", what, s);
    etag_of(&r, etag);
    st_resp_free(&r);
    s = desired(token, etag, &r);
    st_assert_fmt(s == 304, 0, __FILE__, __LINE__, "after %s, unchanged: %ld, not 304", what, s);
    st_resp_free(&r);
}

static json_t *find(json_t *arr, const char *id)
{
    size_t i;
    json_t *x;
    json_array_foreach(arr, i,
                       x) if (!strcmp(json_string_value(json_object_get(x, "id")), id)) return x;
    return NULL;
}

/* 1 when the array of strings holds s. */
static int holds(json_t *arr, const char *s)
{
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) if (!strcmp(json_string_value(x), s)) return 1;
    return 0;
}

static void test_desired_set_carries_ports_and_network_view(void)
{
    /* two hosts with tunnel addresses: one reported, one set by the admin */
    st_resp r;
    char url[256];
    snprintf(url, sizeof url, "%s/internal/v1/node", T.base);
    st_http(&r, "PUT", url, node1,
            "{\"capacity\":{\"vcpus\":64,\"memory_mib\":262144,"
            "\"disk_gib\":10000},\"tunnel_ip\":\"192.0.2.1\"}",
            NULL);
    ST_ASSERT_INT_EQ(r.status, 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "tunnel_ip")), "192.0.2.1");
    st_resp_free(&r);
    st_http(&r, "PUT", url, node1,
            "{\"capacity\":{\"vcpus\":64,\"memory_mib\":262144,"
            "\"disk_gib\":10000},\"tunnel_ip\":\"192.0.2\"}",
            NULL);
    ST_ASSERT_INT_EQ(r.status, 400);
    st_resp_free(&r);
    node2 = gwt_make_node(&T, "ni-node-2", 64, 262144, 10000);
    char *v = gwt_node_id(&T, "ni-node-2");
    snprintf(node2_id, sizeof node2_id, "%s", v);
    free(v);
    char path[160];
    snprintf(path, sizeof path, "/v1/nodes/%s", node2_id);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, T.admin_token, "{\"tunnel_ip\":\"192.0.2.2\"}"),
                     200);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, T.admin_token, "{\"tunnel_ip\":\"::1\"}"), 400);
    /* a network with a subnet, one instance on each host */
    char n[40], b[512], i1[40], i2[40];
    ST_ASSERT_INT_EQ(post(A.member, "/v1/networks", "{\"name\":\"l2pop\"}", n), 201);
    snprintf(b, sizeof b,
             "{\"network_id\":\"%s\",\"cidr\":\"10.7.0.0/24\",\"dns_nameservers\":"
             "[\"10.7.0.2\"]}",
             n);
    ST_ASSERT_INT_EQ(post(A.member, "/v1/subnets", b, NULL), 201);
    char extra[128];
    snprintf(extra, sizeof extra, ",\"networks\":[{\"network_id\":\"%s\"}]", n);
    ST_ASSERT_INT_EQ(create(A.member, "h1", extra, i1), 202);
    ST_ASSERT_INT_EQ(create(A.member, "h2", extra, i2), 202);
    /* one on each host, whatever the scheduler chose */
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE iaas.instances SET node_id = '%s' WHERE id = '%s'", node2_id,
             i2);
    gwt_sql(&T, sql);
    snprintf(sql, sizeof sql,
             "UPDATE iaas.instances SET node_id = (SELECT id FROM iaas.nodes"
             " WHERE name = 'ni-node-1') WHERE id = '%s'",
             i1);
    gwt_sql(&T, sql);
    /* node 1's set */
    char etag[128] = "";
    ST_ASSERT_INT_EQ(desired(node1, "", &r), 200);
    etag_of(&r, etag);
    json_t *inst = find(json_object_get(r.json, "instances"), i1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(inst);
    CU_ASSERT_PTR_NULL(find(json_object_get(r.json, "instances"), i2));
    json_t *ports = json_object_get(inst, "ports");
    ST_ASSERT_INT_EQ(json_array_size(ports), 1);
    json_t *p = json_array_get(ports, 0);
    /* exactly the agent's shape */
    static const char *keys[] = {"id",        "mac", "network_id", "model",
                                 "vnic_type", "mtu", "fixed_ips"};
    ST_ASSERT_INT_EQ(json_object_size(p), 7);
    for (size_t k = 0; k < 7; k++)
        CU_ASSERT_PTR_NOT_NULL(json_object_get(p, keys[k]));
    CU_ASSERT(!strncmp(json_string_value(json_object_get(p, "mac")), "fa:16:3e:", 9));
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(p, "network_id")), n);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(p, "model")), "virtio");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(p, "vnic_type")), "virtio");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(p, "mtu")), 1450);
    json_t *fip = json_array_get(json_object_get(p, "fixed_ips"), 0);
    ST_ASSERT_INT_EQ(json_object_size(fip), 2);
    CU_ASSERT(!strncmp(json_string_value(json_object_get(fip, "ip_address")), "10.7.0.", 7));
    /* the network view: VNI, MTU, subnets, node 2's port with its tunnel address */
    json_t *net = find(json_object_get(r.json, "networks"), n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    v = gwt_sql_value(&T, "SELECT vni FROM iaas.networks WHERE name = 'l2pop'");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(net, "vni")), atoll(v));
    free(v);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(net, "mtu")), 1450);
    json_t *sub = json_array_get(json_object_get(net, "subnets"), 0);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(sub, "cidr")), "10.7.0.0/24");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(sub, "gateway_ip")), "10.7.0.1");
    ST_ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(sub, "dns_nameservers"), 0)),
                     "10.7.0.2");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(sub, "dhcp_ip")), "10.7.0.254");
    json_t *remote = json_object_get(net, "remote_ports");
    ST_ASSERT_INT_EQ(json_array_size(remote), 1);
    json_t *rp = json_array_get(remote, 0);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(rp, "tunnel_ip")), "192.0.2.2");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(rp, "host_id")), node2_id);
    CU_ASSERT(!strncmp(json_string_value(json_object_get(rp, "mac")), "fa:16:3e:", 9));
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(rp, "fixed_ips")), 1);
    /* the default group: the port is in it, its rules, its members' addresses */
    json_t *groups = json_object_get(r.json, "security_groups"), *g = NULL, *x;
    size_t k;
    json_array_foreach(groups, k, x) if (holds(json_object_get(x, "port_ids"),
                                               json_string_value(json_object_get(p, "id")))) g = x;
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(g, "rules")), 4);
    CU_ASSERT(json_array_size(json_object_get(g, "member_ips")) >= 2);
    char group[40];
    snprintf(group, sizeof group, "%s", json_string_value(json_object_get(g, "id")));
    char p1[40];
    snprintf(p1, sizeof p1, "%s", json_string_value(json_object_get(p, "id")));
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(desired(node1, etag, &r), 304);
    st_resp_free(&r);

    /* every change node 1 must see raises its version */
    snprintf(b, sizeof b,
             "{\"security_group_id\":\"%s\",\"direction\":\"ingress\","
             "\"protocol\":\"tcp\",\"port_range_min\":22,\"port_range_max\":22}",
             group);
    ST_ASSERT_INT_EQ(post(A.member, "/v1/security-group-rules", b, NULL), 201);
    assert_changed(node1, etag, "a rule added");
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, T.admin_token, "{\"tunnel_ip\":\"192.0.2.22\"}"),
                     200);
    assert_changed(node1, etag, "the remote host's tunnel address");
    snprintf(path, sizeof path, "/v1/subnets?network_id=%s", n);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.reader, NULL), 200);
    snprintf(path, sizeof path, "/v1/subnets/%s",
             json_string_value(
                 json_object_get(json_array_get(json_object_get(r.json, "subnets"), 0), "id")));
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, A.member, "{\"enable_dhcp\":false}"), 200);
    assert_changed(node1, etag, "a subnet's DHCP");
    snprintf(path, sizeof path, "/v1/networks/%s", n);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, A.member, "{\"mtu\":1400}"), 200);
    assert_changed(node1, etag, "the network's MTU");
    snprintf(path, sizeof path, "/v1/ports/%s", p1);
    ST_ASSERT_INT_EQ(
        gwt_status(&T, "PATCH", path, A.member, "{\"fixed_ips\":[{\"ip_address\":\"10.7.0.99\"}]}"),
        200);
    assert_changed(node1, etag, "the local port's address");
    /* the remote instance goes: its port leaves node 1's view */
    snprintf(path, sizeof path, "/v1/instances/%s", i2);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.member, NULL), 202);
    assert_changed(node1, etag, "the remote instance's deletion");
    ST_ASSERT_INT_EQ(desired(node1, "", &r), 200);
    net = find(json_object_get(r.json, "networks"), n);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(net, "remote_ports")), 0);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(net, "mtu")), 1400);
    p = json_array_get(json_object_get(find(json_object_get(r.json, "instances"), i1), "ports"), 0);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(p, "mtu")), 1400);
    ST_ASSERT_STR_EQ(ip_of(p), "10.7.0.99");
    /* DHCP off: the subnet has no DHCP address any more */
    sub = json_array_get(json_object_get(net, "subnets"), 0);
    CU_ASSERT(json_is_null(json_object_get(sub, "dhcp_ip")));
    st_resp_free(&r);
    /* a change elsewhere (another tenant's network) leaves node 1's tag alone */
    gwt_tenant O;
    gwt_make_tenant(&T, "ni-other", &O);
    char on[40];
    ST_ASSERT_INT_EQ(post(O.member, "/v1/networks", "{\"name\":\"elsewhere\"}", on), 201);
    snprintf(b, sizeof b, "{\"network_id\":\"%s\",\"cidr\":\"10.7.0.0/24\"}", on);
    ST_ASSERT_INT_EQ(post(O.member, "/v1/subnets", b, NULL), 201);
    ST_ASSERT_INT_EQ(desired(node1, etag, &r), 304);
    st_resp_free(&r);
    gwt_free_tenant(&O);
}

static void test_full_subnet_leaves_the_dhcp_address_to_dhcp(void)
{
    /* a /29 (gateway .1, pool .2-.6) filled by instances: four get .2-.5,
     * the fifth finds no address; the node is told .6 is the DHCP server's */
    char n[40], b[256], extra[128], q[128];
    gwt_tenant S;
    gwt_make_tenant(&T, "ni-small", &S);
    snprintf(q, sizeof q, "/v1/tenants/%s/quotas", S.id);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", q, T.admin_token,
                                "{\"instances\":100,\"vcpus\":400,\"memory_mib\":1000000,"
                                "\"disk_gib\":100000}"),
                     200);
    ST_ASSERT_INT_EQ(post(S.member, "/v1/networks", "{\"name\":\"small\"}", n), 201);
    snprintf(b, sizeof b, "{\"network_id\":\"%s\",\"cidr\":\"10.8.0.0/29\"}", n);
    ST_ASSERT_INT_EQ(post(S.member, "/v1/subnets", b, NULL), 201);
    snprintf(extra, sizeof extra, ",\"networks\":[{\"network_id\":\"%s\"}]", n);
    char ids[4][40];
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof name, "small-%d", i);
        ST_ASSERT_INT_EQ(create(S.member, name, extra, ids[i]), 202);
    }
    st_resp r;
    snprintf(b, sizeof b, "{\"name\":\"small-4\",\"flavor\":\"m1.small\",\"image\":\"%s\"%s}",
             image, extra);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/instances", S.member, b), 409);
    st_resp_free(&r);
    gwt_sql(&T, "UPDATE iaas.instances SET node_id = (SELECT id FROM iaas.nodes"
                " WHERE name = 'ni-node-1') WHERE name LIKE 'small-%'");
    ST_ASSERT_INT_EQ(desired(node1, "", &r), 200);
    json_t *net = find(json_object_get(r.json, "networks"), n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    json_t *sub = json_array_get(json_object_get(net, "subnets"), 0);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(sub, "dhcp_ip")), "10.8.0.6");
    int seen = 0;
    for (int i = 0; i < 4; i++) {
        json_t *inst = find(json_object_get(r.json, "instances"), ids[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(inst);
        const char *ip = ip_of(json_array_get(json_object_get(inst, "ports"), 0));
        CU_ASSERT_PTR_NOT_NULL_FATAL(ip);
        st_assert_fmt(strcmp(ip, "10.8.0.6") != 0, 0, __FILE__, __LINE__,
                      "instance %d has the DHCP server's address", i);
        seen |= 1 << (ip[strlen(ip) - 1] - '0');
    }
    ST_ASSERT_INT_EQ(seen, 0x3c); /* .2, .3, .4, .5 */
    st_resp_free(&r);
    gwt_free_tenant(&S);
}

/* The object in arr whose key k is v. */
static json_t *find_by(json_t *arr, const char *k, const char *v)
{
    size_t i;
    json_t *x;
    json_array_foreach(arr, i,
                       x) if (json_string_value(json_object_get(x, k)) &&
                              !strcmp(json_string_value(json_object_get(x, k)), v)) return x;
    return NULL;
}

static const char *str(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static void beat(const char *token, const char *extra, long want)
{
    char url[256], b[256];
    snprintf(url, sizeof url, "%s/internal/v1/node", T.base);
    snprintf(b, sizeof b,
             "{\"capacity\":{\"vcpus\":64,\"memory_mib\":262144,\"disk_gib\":10000}%s}", extra);
    st_resp r;
    st_http(&r, "PUT", url, token, b, NULL);
    st_assert_fmt(r.status == want, 0, __FILE__, __LINE__, "heartbeat %s: %ld %s", extra, r.status,
                  r.body);
    st_resp_free(&r);
}

static void test_router_placed_and_in_desired_set(void)
{
    st_resp r;
    char ext[40], app[40], sub[40], rt[40], inst[40], b[512], path[200], sql[300];
    /* the external network and a tenant's subnet behind a router */
    ST_ASSERT_INT_EQ(
        post(T.admin_token, "/v1/networks", "{\"name\":\"pub\",\"external\":true}", ext), 201);
    snprintf(b, sizeof b,
             "{\"network_id\":\"%s\",\"cidr\":\"203.0.113.0/24\",\"allocation_pools\":"
             "[{\"start\":\"203.0.113.10\",\"end\":\"203.0.113.20\"}]}",
             ext);
    ST_ASSERT_INT_EQ(post(T.admin_token, "/v1/subnets", b, NULL), 201);
    ST_ASSERT_INT_EQ(post(A.member, "/v1/networks", "{\"name\":\"behind\"}", app), 201);
    snprintf(b, sizeof b, "{\"network_id\":\"%s\",\"cidr\":\"10.8.0.0/24\"}", app);
    ST_ASSERT_INT_EQ(post(A.member, "/v1/subnets", b, sub), 201);
    char extra[128];
    snprintf(extra, sizeof extra, ",\"networks\":[{\"network_id\":\"%s\"}]", app);
    ST_ASSERT_INT_EQ_FATAL(create(A.member, "behind-1", extra, inst), 202);
    snprintf(sql, sizeof sql,
             "UPDATE iaas.instances SET node_id = (SELECT id FROM iaas.nodes"
             " WHERE name = 'ni-node-1') WHERE id = '%s'",
             inst);
    gwt_sql(&T, sql);
    snprintf(b, sizeof b, "{\"name\":\"r\",\"external_gateway_info\":{\"network_id\":\"%s\"}}",
             ext);
    ST_ASSERT_INT_EQ_FATAL(post(A.member, "/v1/routers", b, rt), 201);
    snprintf(path, sizeof path, "/v1/routers/%s/interfaces", rt);
    snprintf(b, sizeof b, "{\"subnet_id\":\"%s\"}", sub);
    ST_ASSERT_INT_EQ(post(A.member, path, b, NULL), 200);
    /* no node has an uplink yet: the router waits, and no host knows it */
    snprintf(sql, sizeof sql,
             "SELECT coalesce(host_id::text, 'none') FROM iaas.routers WHERE id = '%s'", rt);
    char *v = gwt_sql_value(&T, sql);
    ST_ASSERT_STR_EQ(v, "none");
    free(v);
    char etag1[128] = "", etag3[128] = "";
    ST_ASSERT_INT_EQ(desired(node1, "", &r), 200);
    etag_of(&r, etag1);
    json_t *net = find(json_object_get(r.json, "networks"), app);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    CU_ASSERT(json_is_false(json_object_get(net, "external")));
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(net, "remote_ports")), 0);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "routers")), 0);
    st_resp_free(&r);

    /* a node reports its uplink: the router is placed there */
    char *node3 = gwt_make_node(&T, "ni-net-node", 8, 16384, 100);
    beat(node3, ",\"tunnel_ip\":\"192.0.2.3\",\"external_uplink\":\"yes\"", 400);
    beat(node3, ",\"tunnel_ip\":\"192.0.2.3\",\"external_uplink\":true", 200);
    v = gwt_sql_value(&T, sql);
    char *n3 = gwt_node_id(&T, "ni-net-node");
    ST_ASSERT_STR_EQ(v, n3);
    free(v);
    snprintf(path, sizeof path, "/v1/nodes/%s", n3);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, T.admin_token, NULL), 200);
    CU_ASSERT(json_is_true(json_object_get(r.json, "external_uplink")));
    st_resp_free(&r);
    /* the instance's host learns the router's interface at node 3's tunnel */
    assert_changed(node1, etag1, "the router placed");
    ST_ASSERT_INT_EQ(desired(node1, "", &r), 200);
    net = find(json_object_get(r.json, "networks"), app);
    json_t *rp = json_array_get(json_object_get(net, "remote_ports"), 0);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(net, "remote_ports")), 1);
    ST_ASSERT_STR_EQ(str(rp, "tunnel_ip"), "192.0.2.3");
    ST_ASSERT_STR_EQ(str(rp, "host_id"), n3);
    ST_ASSERT_STR_EQ(str(json_array_get(json_object_get(rp, "fixed_ips"), 0), "ip_address"),
                     "10.8.0.1");
    char iface_mac[20];
    snprintf(iface_mac, sizeof iface_mac, "%s", str(rp, "mac"));
    st_resp_free(&r);
    /* the router's host moves its tunnel: the instance's host follows */
    beat(node3, ",\"tunnel_ip\":\"192.0.2.33\",\"external_uplink\":true", 200);
    assert_changed(node1, etag1, "the router host's tunnel address");
    ST_ASSERT_INT_EQ(desired(node1, "", &r), 200);
    net = find(json_object_get(r.json, "networks"), app);
    rp = json_array_get(json_object_get(net, "remote_ports"), 0);
    ST_ASSERT_STR_EQ(str(rp, "tunnel_ip"), "192.0.2.33");
    st_resp_free(&r);
    /* node 3's set: the router, its networks (the external one flagged),
     * the instance's port as a remote port */
    ST_ASSERT_INT_EQ(desired(node3, "", &r), 200);
    etag_of(&r, etag3);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "instances")), 0);
    json_t *ro = find(json_object_get(r.json, "routers"), rt);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ro);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "routers")), 1);
    CU_ASSERT(json_is_true(json_object_get(ro, "enable_snat")));
    json_t *ifc = json_array_get(json_object_get(ro, "interfaces"), 0);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(ro, "interfaces")), 1);
    ST_ASSERT_STR_EQ(str(ifc, "network_id"), app);
    ST_ASSERT_STR_EQ(str(ifc, "subnet_id"), sub);
    ST_ASSERT_STR_EQ(str(ifc, "ip_address"), "10.8.0.1");
    ST_ASSERT_STR_EQ(str(ifc, "mac"), iface_mac);
    json_t *gw = json_object_get(ro, "gateway");
    ST_ASSERT_STR_EQ(str(gw, "network_id"), ext);
    ST_ASSERT_STR_EQ(str(gw, "ip_address"), "203.0.113.10");
    CU_ASSERT(!strncmp(str(gw, "mac"), "fa:16:3e:", 9));
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(ro, "floating_ips")), 0);
    json_t *en = find(json_object_get(r.json, "networks"), ext);
    CU_ASSERT_PTR_NOT_NULL_FATAL(en);
    CU_ASSERT(json_is_true(json_object_get(en, "external")));
    ST_ASSERT_STR_EQ(str(json_array_get(json_object_get(en, "subnets"), 0), "gateway_ip"),
                     "203.0.113.1");
    net = find(json_object_get(r.json, "networks"), app);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    rp = json_array_get(json_object_get(net, "remote_ports"), 0);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(net, "remote_ports")), 1);
    ST_ASSERT_STR_EQ(str(rp, "tunnel_ip"), "192.0.2.1");
    char port[40];
    snprintf(port, sizeof port, "%s", str(rp, "id"));
    st_resp_free(&r);

    /* a floating IP for the instance's port reaches node 3 */
    char fip[40];
    snprintf(b, sizeof b, "{\"floating_network_id\":\"%s\",\"port_id\":\"%s\"}", ext, port);
    ST_ASSERT_INT_EQ_FATAL(post(A.member, "/v1/floating-ips", b, fip), 201);
    assert_changed(node3, etag3, "a floating IP associated");
    ST_ASSERT_INT_EQ(desired(node3, "", &r), 200);
    ro = find(json_object_get(r.json, "routers"), rt);
    json_t *f = json_array_get(json_object_get(ro, "floating_ips"), 0);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(ro, "floating_ips")), 1);
    ST_ASSERT_STR_EQ(str(f, "id"), fip);
    ST_ASSERT_STR_EQ(str(f, "port_id"), port);
    CU_ASSERT(!strncmp(str(f, "floating_ip_address"), "203.0.113.", 10));
    CU_ASSERT(!strncmp(str(f, "fixed_ip_address"), "10.8.0.", 7));
    st_resp_free(&r);
    snprintf(path, sizeof path, "/v1/floating-ips/%s", fip);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, A.member, "{\"port_id\":null}"), 200);
    assert_changed(node3, etag3, "the floating IP disassociated");
    ST_ASSERT_INT_EQ(desired(node3, "", &r), 200);
    ro = find(json_object_get(r.json, "routers"), rt);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(ro, "floating_ips")), 0);
    st_resp_free(&r);
    /* SNAT off */
    snprintf(path, sizeof path, "/v1/routers/%s", rt);
    snprintf(b, sizeof b,
             "{\"external_gateway_info\":{\"network_id\":\"%s\",\"enable_snat\":false}}", ext);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, A.member, b), 200);
    assert_changed(node3, etag3, "enable_snat");
    ST_ASSERT_INT_EQ(desired(node3, "", &r), 200);
    ro = find(json_object_get(r.json, "routers"), rt);
    CU_ASSERT(json_is_false(json_object_get(ro, "enable_snat")));
    st_resp_free(&r);
    /* the interface removed: node 3 loses the network, node 1 the remote port */
    snprintf(path, sizeof path, "/v1/routers/%s/interfaces/%s", rt, sub);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.member, NULL), 204);
    assert_changed(node3, etag3, "the interface removed");
    assert_changed(node1, etag1, "the router's interface removed");
    ST_ASSERT_INT_EQ(desired(node3, "", &r), 200);
    ro = find(json_object_get(r.json, "routers"), rt);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(ro, "interfaces")), 0);
    CU_ASSERT_PTR_NULL(find(json_object_get(r.json, "networks"), app));
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(desired(node1, "", &r), 200);
    net = find(json_object_get(r.json, "networks"), app);
    CU_ASSERT_PTR_NULL(find_by(json_object_get(net, "remote_ports"), "mac", iface_mac));
    st_resp_free(&r);
    /* the uplink gone: the router leaves node 3 (no other node can take it) */
    beat(node3, ",\"external_uplink\":false", 200);
    assert_changed(node3, etag3, "the uplink gone");
    ST_ASSERT_INT_EQ(desired(node3, "", &r), 200);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "routers")), 0);
    st_resp_free(&r);
    /* a heartbeat that changes nothing raises nothing */
    beat(node3, ",\"external_uplink\":false", 200);
    ST_ASSERT_INT_EQ(desired(node3, etag3, &r), 304);
    st_resp_free(&r);
    free(n3);
    free(node3);
}

static CU_TestInfo tests[] = {
    {"the default network is made once on first use", test_default_network_made_once_on_first_use},
    {"NICs on create, attach/detach while stopped, freed on delete",
     test_nics_on_create_attach_detach_and_delete},
    {"the desired set carries ports, the network view and groups; ETag follows them",
     test_desired_set_carries_ports_and_network_view},
    {"a full /29: no instance gets the DHCP address; the set carries it",
     test_full_subnet_leaves_the_dhcp_address_to_dhcp},
    {"a router is placed on a node with an uplink and appears in its desired set; ETag follows",
     test_router_placed_and_in_desired_set},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"netinst", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
