/*
 * Networks, subnets, ports and security groups against a real gateway and
 * PostgreSQL: CRUD and validation of each, VNIs and addresses allocated by
 * real concurrent clients (threads) without collision, a freed address not
 * handed out again at once, the DHCP server's address never a port's
 * (a /29 filled by concurrent ports), the admin-only flags, shared networks across
 * tenants, the default security group made once on first use, and the
 * network quotas held under concurrent creates.
 */
#include "gwt.h"
#include "st_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gwt T;
static gwt_tenant A, B;

static int suite_init(void)
{
    static const char *const settings[] = {"quota.ports=60", NULL};
    gwt_start(&T, "gw_net", settings);
    gwt_make_tenant(&T, "net-a", &A);
    gwt_make_tenant(&T, "net-b", &B);
    return 0;
}

static int suite_clean(void)
{
    gwt_free_tenant(&A);
    gwt_free_tenant(&B);
    gwt_stop(&T);
    return 0;
}

/* POSTs body; returns the status, the new object's id in id (may be NULL). */
static long post(const char *token, const char *path, const char *body, char id[40])
{
    st_resp r;
    long s = gwt_call(&T, &r, "POST", path, token, body);
    const char *v = json_string_value(json_object_get(r.json, "id"));
    if (id)
        snprintf(id, 40, "%s", v ? v : "");
    if (s >= 300 && s != 400 && s != 404 && s != 409 && s != 403)
        fprintf(stderr, "POST %s: %ld %s\n", path, s, r.body);
    st_resp_free(&r);
    return s;
}

static long net(const char *token, const char *name, char id[40])
{
    char b[128];
    snprintf(b, sizeof b, "{\"name\":\"%s\"}", name);
    return post(token, "/v1/networks", b, id);
}

static long subnet(const char *token, const char *network, const char *extra, char id[40])
{
    char b[1024];
    snprintf(b, sizeof b, "{\"network_id\":\"%s\"%s}", network, extra);
    return post(token, "/v1/subnets", b, id);
}

/* A port on network; its first fixed IP in ip (may be NULL). */
static long port(const char *token, const char *network, char id[40], char ip[20])
{
    char b[128];
    snprintf(b, sizeof b, "{\"network_id\":\"%s\"}", network);
    st_resp r;
    long s = gwt_call(&T, &r, "POST", "/v1/ports", token, b);
    const char *v = json_string_value(json_object_get(r.json, "id"));
    const char *a = json_string_value(
        json_object_get(json_array_get(json_object_get(r.json, "fixed_ips"), 0), "ip_address"));
    if (id)
        snprintf(id, 40, "%s", v ? v : "");
    if (ip)
        snprintf(ip, 20, "%s", a ? a : "");
    st_resp_free(&r);
    return s;
}

static long del(const char *token, const char *kind, const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/%s/%s", kind, id);
    return gwt_status(&T, "DELETE", path, token, NULL);
}

static void test_network_crud_and_admin_flags(void)
{
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/networks", A.member, "{\"name\":\"blue\"}"),
                     201);
    char id[40];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "id")));
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "mtu")), 1450);
    CU_ASSERT(json_is_false(json_object_get(r.json, "shared")));
    CU_ASSERT(json_is_false(json_object_get(r.json, "external")));
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "tenant_id")), A.id);
    /* the VNI is the operator's: tenants do not see it */
    CU_ASSERT_PTR_NULL(json_object_get(r.json, "segmentation_id"));
    st_resp_free(&r);
    char path[128];
    snprintf(path, sizeof path, "/v1/networks/%s", id);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "PATCH", path, A.member, "{\"name\":\"green\",\"mtu\":1400}"),
                     200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "name")), "green");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "mtu")), 1400);
    st_resp_free(&r);
    /* shared and external are the cloud admin's */
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, A.admin, "{\"shared\":true}"), 403);
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", "/v1/networks", A.admin, "{\"external\":true}"), 403);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, A.member, "{\"mtu\":1451}"), 400);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, A.member, "{\"mtu\":\"big\"}"), 400);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, A.member, "{\"colour\":1}"), 400);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, A.reader, NULL), 200);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.reader, NULL), 403);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, B.admin, NULL), 404);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/networks", A.reader, NULL), 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, id));
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.member, NULL), 204);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, A.member, NULL), 404);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.member, NULL), 404);
    /* the cloud admin makes a shared network; it sees the VNI */
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/networks", T.admin_token,
                              "{\"name\":\"public-lan\",\"shared\":true}"),
                     201);
    CU_ASSERT(json_integer_value(json_object_get(r.json, "segmentation_id")) > 0);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "network_type")), "vxlan");
    st_resp_free(&r);
}

typedef struct racer {
    const char *token, *path;
    char body[256];
    long status;
    char id[40], ip[20];
} racer;

static void *race_post(void *arg)
{
    racer *r = arg;
    st_resp x;
    r->status = gwt_call(&T, &x, "POST", r->path, r->token, r->body);
    const char *v = json_string_value(json_object_get(x.json, "id"));
    const char *a = json_string_value(
        json_object_get(json_array_get(json_object_get(x.json, "fixed_ips"), 0), "ip_address"));
    snprintf(r->id, sizeof r->id, "%s", v ? v : "");
    snprintf(r->ip, sizeof r->ip, "%s", a ? a : "");
    st_resp_free(&x);
    return NULL;
}

/* Runs n racers at once. */
static void race(racer *r, int n)
{
    pthread_t th[64];
    for (int i = 0; i < n; i++)
        pthread_create(&th[i], NULL, race_post, &r[i]);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
}

static void test_concurrent_creates_get_distinct_vnis(void)
{
    /* four tenants at once: four quota locks, so nothing but the VNI
     * allocation itself keeps their creates apart */
    enum { K = 4, N = 24 };
    gwt_tenant V[K];
    for (int i = 0; i < K; i++) {
        char name[16];
        snprintf(name, sizeof name, "vni-%d", i);
        gwt_make_tenant(&T, name, &V[i]);
    }
    racer r[N];
    for (int i = 0; i < N; i++) {
        r[i] = (racer){.token = V[i % K].member, .path = "/v1/networks"};
        snprintf(r[i].body, sizeof r[i].body, "{\"name\":\"race-%d\"}", i);
    }
    race(r, N);
    for (int i = 0; i < N; i++)
        st_assert_fmt(r[i].status == 201, 0, __FILE__, __LINE__, "create %d: %ld", i, r[i].status);
    char *v = gwt_sql_value(&T, "SELECT count(*) = count(DISTINCT vni) AND count(*) >= 24"
                                " FROM iaas.networks");
    ST_ASSERT_STR_EQ(v, "t");
    free(v);
    for (int i = 0; i < N; i++)
        ST_ASSERT_INT_EQ(del(V[i % K].member, "networks", r[i].id), 204);
    for (int i = 0; i < K; i++)
        gwt_free_tenant(&V[i]);
}

static void test_subnet_validation(void)
{
    char n[40], s[40];
    ST_ASSERT_INT_EQ(net(A.member, "val", n), 201);
    /* clang-format off */
    static const char *bad[] = {
        ",\"cidr\":\"10.0.0.0\"",
        ",\"cidr\":\"10.0.0.1/24\"", /* host bits */
        ",\"cidr\":\"10.0.0.0/31\"", /* too small */
        ",\"cidr\":\"10.0.0.0/8\"",  /* too big to walk */
        ",\"cidr\":\"fd00::/64\"",   /* IPv4 only */
        ",\"cidr\":\"300.0.0.0/24\"",
        ",\"cidr\":42",
        ",\"cidr\":\"10.1.0.0/24\",\"gateway_ip\":\"10.2.0.1\"",
        ",\"cidr\":\"10.1.0.0/24\",\"gateway_ip\":\"10.1.0.255\"",
        ",\"cidr\":\"10.1.0.0/24\",\"gateway_ip\":\"nope\"",
        ",\"cidr\":\"10.1.0.0/24\",\"allocation_pools\":[{\"start\":\"10.1.0.1\",\"end\":\"10.1.0.9\"}]",
        ",\"cidr\":\"10.1.0.0/24\",\"allocation_pools\":[{\"start\":\"10.1.0.20\",\"end\":\"10.1.0.9\"}]",
        ",\"cidr\":\"10.1.0.0/24\",\"allocation_pools\":[{\"start\":\"10.1.0.10\",\"end\":\"10.1.1.9\"}]",
        ",\"cidr\":\"10.1.0.0/24\",\"allocation_pools\":[{\"start\":\"10.1.0.10\",\"end\":\"10.1.0.20\"},"
        "{\"start\":\"10.1.0.15\",\"end\":\"10.1.0.30\"}]",
        ",\"cidr\":\"10.1.0.0/24\",\"allocation_pools\":[]",
        ",\"cidr\":\"10.1.0.0/24\",\"allocation_pools\":[{\"start\":\"10.1.0.10\"}]",
        ",\"cidr\":\"10.1.0.0/24\",\"dns_nameservers\":[\"8.8.8\"]",
        ",\"cidr\":\"10.1.0.0/24\",\"dns_nameservers\":[\"8.8.8.8\",\"8.8.8.8\"]",
        ",\"cidr\":\"10.1.0.0/24\",\"dns_nameservers\":\"8.8.8.8\"",
        ",\"cidr\":\"10.1.0.0/24\",\"host_routes\":[{\"destination\":\"10.9.0.0/16\"}]",
        ",\"cidr\":\"10.1.0.0/24\",\"host_routes\":[{\"destination\":\"10.9.0.0/16\","
        "\"nexthop\":\"x\"}]",
        ",\"cidr\":\"10.1.0.0/24\",\"enable_dhcp\":\"yes\"",
        ",\"cidr\":\"10.1.0.0/24\",\"ip_version\":6",
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char b[1024];
        snprintf(b, sizeof b, "{\"network_id\":\"%s\"%s}", n, bad[i]);
        st_resp r;
        long st = gwt_call(&T, &r, "POST", "/v1/subnets", A.member, b);
        st_assert_fmt(st == 400 && strstr(r.body, "\"message\""), 0, __FILE__, __LINE__,
                      "subnet %zu (%s): %ld %s", i, bad[i], st, r.body);
        st_resp_free(&r);
    }
    /* defaults: the gateway is the first address, the pool the rest */
    st_resp r;
    char b[512];
    snprintf(b, sizeof b,
             "{\"network_id\":\"%s\",\"cidr\":\"10.1.0.0/24\",\"name\":\"one\","
             "\"dns_nameservers\":[\"192.0.2.53\"],\"host_routes\":[{\"destination\":"
             "\"10.9.0.0/16\",\"nexthop\":\"10.1.0.254\"}]}",
             n);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/subnets", A.member, b), 201);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "gateway_ip")), "10.1.0.1");
    json_t *pool = json_array_get(json_object_get(r.json, "allocation_pools"), 0);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(pool, "start")), "10.1.0.2");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(pool, "end")), "10.1.0.254");
    ST_ASSERT_STR_EQ(
        json_string_value(json_array_get(json_object_get(r.json, "dns_nameservers"), 0)),
        "192.0.2.53");
    CU_ASSERT(json_is_true(json_object_get(r.json, "enable_dhcp")));
    snprintf(s, sizeof s, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    /* overlapping subnets on one network are refused, in another tenant they work */
    ST_ASSERT_INT_EQ(subnet(A.member, n, ",\"cidr\":\"10.1.0.128/25\"", NULL), 400);
    ST_ASSERT_INT_EQ(subnet(A.member, n, ",\"cidr\":\"10.1.0.0/16\"", NULL), 400);
    ST_ASSERT_INT_EQ(subnet(A.member, n,
                            ",\"cidr\":\"10.2.0.0/24\",\"gateway_ip\":null,"
                            "\"enable_dhcp\":false",
                            NULL),
                     201);
    char nb[40];
    ST_ASSERT_INT_EQ(net(B.member, "val-b", nb), 201);
    ST_ASSERT_INT_EQ(subnet(B.member, nb, ",\"cidr\":\"10.1.0.0/24\"", NULL), 201);
    /* a subnet only on one's own network */
    ST_ASSERT_INT_EQ(subnet(B.member, n, ",\"cidr\":\"10.3.0.0/24\"", NULL), 404);
    /* the network lists its subnets; update and delete */
    char path[128];
    snprintf(path, sizeof path, "/v1/networks/%s", n);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.reader, NULL), 200);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "subnets")), 2);
    st_resp_free(&r);
    snprintf(path, sizeof path, "/v1/subnets/%s", s);
    ST_ASSERT_INT_EQ(
        gwt_call(&T, &r, "PATCH", path, A.member, "{\"enable_dhcp\":false,\"dns_nameservers\":[]}"),
        200);
    CU_ASSERT(json_is_false(json_object_get(r.json, "enable_dhcp")));
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "dns_nameservers")), 0);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, B.member, NULL), 404);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, B.admin, "{\"name\":\"x\"}"), 404);
    /* in use: neither the subnet nor the network goes */
    char p[40];
    ST_ASSERT_INT_EQ(port(A.member, n, p, NULL), 201);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.member, NULL), 409);
    ST_ASSERT_INT_EQ(del(A.member, "networks", n), 409);
    ST_ASSERT_INT_EQ(del(A.member, "ports", p), 204);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.member, NULL), 204);
    ST_ASSERT_INT_EQ(del(A.member, "networks", n), 204);
    ST_ASSERT_INT_EQ(del(B.member, "networks", nb), 204);
}

static void test_ports_macs_and_fixed_ips(void)
{
    char n[40], s[40];
    ST_ASSERT_INT_EQ(net(A.member, "ports", n), 201);
    ST_ASSERT_INT_EQ(subnet(A.member, n,
                            ",\"cidr\":\"192.168.7.0/24\",\"allocation_pools\":"
                            "[{\"start\":\"192.168.7.10\",\"end\":\"192.168.7.200\"}]",
                            s),
                     201);
    st_resp r;
    char b[512];
    snprintf(b, sizeof b, "{\"network_id\":\"%s\",\"name\":\"eth0\",\"vnic_type\":\"direct\"}", n);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/ports", A.member, b), 201);
    const char *mac = json_string_value(json_object_get(r.json, "mac_address"));
    CU_ASSERT(mac && strlen(mac) == 17 && !strncmp(mac, "fa:16:3e:", 9));
    json_t *ip = json_array_get(json_object_get(r.json, "fixed_ips"), 0);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(ip, "ip_address")), "192.168.7.10");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(ip, "subnet_id")), s);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "vnic_type")), "direct");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "model")), "virtio");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "status")), "DOWN");
    CU_ASSERT(json_is_null(json_object_get(r.json, "instance_id")));
    /* the tenant's default security group, made on this first use */
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "security_groups")), 1);
    char first[40];
    snprintf(first, sizeof first, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    /* an address asked for; then the same again: 409 */
    snprintf(b, sizeof b,
             "{\"network_id\":\"%s\",\"fixed_ips\":[{\"ip_address\":"
             "\"192.168.7.250\"}]}",
             n);
    ST_ASSERT_INT_EQ(post(A.member, "/v1/ports", b, NULL), 201);
    ST_ASSERT_INT_EQ(post(A.member, "/v1/ports", b, NULL), 409);
    /* clang-format off */
    static const char *bad[] = {
        "\"fixed_ips\":[{\"ip_address\":\"192.168.8.1\"}]",   /* no subnet holds it */
        "\"fixed_ips\":[{\"ip_address\":\"192.168.7.255\"}]", /* broadcast */
        "\"fixed_ips\":[{\"ip_address\":\"192.168.7.0\"}]",   /* the network */
        "\"fixed_ips\":[{\"subnet_id\":\"7b0e4c1a-1111-4222-8333-444455556666\"}]",
        "\"fixed_ips\":[{\"ip\":\"192.168.7.5\"}]",
        "\"fixed_ips\":\"192.168.7.5\"",
        "\"vnic_type\":\"macvtap\"",
        "\"model\":\"rtl8139\"",
        "\"security_groups\":[\"7b0e4c1a-1111-4222-8333-444455556666\"]",
        "\"security_groups\":[42]",
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(b, sizeof b, "{\"network_id\":\"%s\",%s}", n, bad[i]);
        long st = post(A.member, "/v1/ports", b, NULL);
        st_assert_fmt(st == 400, 0, __FILE__, __LINE__, "port %zu (%s): %ld", i, bad[i], st);
    }
    /* an emulated e1000 NIC for a guest without virtio drivers */
    snprintf(b, sizeof b, "{\"network_id\":\"%s\",\"model\":\"e1000\"}", n);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/ports", A.member, b), 201);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "model")), "e1000");
    char e1000[128];
    snprintf(e1000, sizeof e1000, "/v1/ports/%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", e1000, A.member, NULL), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "model")), "e1000");
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", e1000, A.member, NULL), 204);
    /* another tenant's network is not there for B ... */
    ST_ASSERT_INT_EQ(port(B.member, n, NULL, NULL), 404);
    /* ... until the cloud admin shares it */
    char path[128];
    snprintf(path, sizeof path, "/v1/networks/%s", n);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, A.admin, "{\"shared\":true}"), 403);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, T.admin_token, "{\"shared\":true}"), 200);
    char bp[40];
    ST_ASSERT_INT_EQ(port(B.member, n, bp, NULL), 201);
    /* it cannot be unshared while B is on it */
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, T.admin_token, "{\"shared\":false}"), 409);
    snprintf(path, sizeof path, "/v1/ports/%s", bp);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, A.member, NULL), 404);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, B.member, NULL), 204);
    snprintf(path, sizeof path, "/v1/networks/%s", n);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, T.admin_token, "{\"shared\":false}"), 200);
    /* update: name, fixed IPs, groups */
    snprintf(path, sizeof path, "/v1/ports/%s", first);
    ST_ASSERT_INT_EQ(
        gwt_call(&T, &r, "PATCH", path, A.member,
                 "{\"name\":\"eth1\",\"fixed_ips\":[{\"ip_address\":\"192.168.7.77\"}],"
                 "\"security_groups\":[]}"),
        200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(
                         json_array_get(json_object_get(r.json, "fixed_ips"), 0), "ip_address")),
                     "192.168.7.77");
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "security_groups")), 0);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, B.admin, "{\"name\":\"x\"}"), 404);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, B.admin, NULL), 404);
    snprintf(path, sizeof path, "/v1/ports?network_id=%s", n);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.reader, NULL), 200);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "ports")), 2);
    st_resp_free(&r);
}

static void test_concurrent_ports_get_distinct_addresses(void)
{
    /* four tenants on one shared network: their quota rows are four
     * different locks, so only the allocator keeps them apart */
    gwt_tenant P, S[3];
    gwt_make_tenant(&T, "ipr", &P);
    char n[40], q[128];
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "ipr-%d", i);
        gwt_make_tenant(&T, name, &S[i]);
    }
    ST_ASSERT_INT_EQ(net(P.member, "ipr", n), 201);
    ST_ASSERT_INT_EQ(subnet(P.member, n, ",\"cidr\":\"10.20.0.0/26\"", NULL), 201);
    snprintf(q, sizeof q, "/v1/networks/%s", n);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", q, T.admin_token, "{\"shared\":true}"), 200);
    enum { N = 32 };
    racer r[N];
    for (int i = 0; i < N; i++) {
        r[i] = (racer){.token = i % 4 ? S[i % 4 - 1].member : P.member, .path = "/v1/ports"};
        snprintf(r[i].body, sizeof r[i].body, "{\"network_id\":\"%s\"}", n);
    }
    race(r, N);
    for (int i = 0; i < N; i++) {
        st_assert_fmt(r[i].status == 201 && r[i].ip[0], 0, __FILE__, __LINE__, "port %d: %ld", i,
                      r[i].status);
        for (int k = 0; k < i; k++)
            st_assert_fmt(strcmp(r[i].ip, r[k].ip) != 0, 0, __FILE__, __LINE__,
                          "ports %d and %d both got %s", k, i, r[i].ip);
    }
    /* addresses .2 to .33 are taken; free .5: the next port gets .34, not .5 */
    char *v = gwt_sql_value(&T, "SELECT p.id FROM iaas.ports p JOIN iaas.port_ips i"
                                " ON i.port_id = p.id WHERE i.ip = '10.20.0.5'");
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    long gone = del(P.member, "ports", v); /* its owner is one of the four */
    for (int i = 0; i < 3 && gone == 404; i++)
        gone = del(S[i].member, "ports", v);
    ST_ASSERT_INT_EQ(gone, 204);
    free(v);
    char ip[20];
    ST_ASSERT_INT_EQ(port(P.member, n, NULL, ip), 201);
    ST_ASSERT_STR_EQ(ip, "10.20.0.34");
    /* the pool (.2-.62, less .62: the DHCP server's) runs out, then the
     * cursor comes round to the freed .5 */
    for (int i = 35; i <= 61; i++)
        ST_ASSERT_INT_EQ(port(P.member, n, NULL, NULL), 201);
    ST_ASSERT_INT_EQ(port(P.member, n, NULL, ip), 201);
    ST_ASSERT_STR_EQ(ip, "10.20.0.5");
    ST_ASSERT_INT_EQ(port(P.member, n, NULL, NULL), 409);
    gwt_free_tenant(&P);
    for (int i = 0; i < 3; i++)
        gwt_free_tenant(&S[i]);
}

/* The ports' addresses of subnet sid, as SQL sees them (malloc'd). */
static char *held(const char *sid)
{
    char q[256];
    snprintf(q, sizeof q,
             "SELECT string_agg(host(ip), ',' ORDER BY ip) FROM iaas.port_ips"
             " WHERE subnet_id = '%s'",
             sid);
    return gwt_sql_value(&T, q);
}

static char *dhcp_ip(const char *sid)
{
    char q[160];
    snprintf(q, sizeof q, "SELECT host(dhcp_ip) FROM iaas.subnets WHERE id = '%s'", sid);
    return gwt_sql_value(&T, q);
}

static void test_dhcp_address_is_never_a_ports(void)
{
    gwt_tenant D;
    gwt_make_tenant(&T, "dhcp", &D);
    /* a /29: gateway .1, pool .2-.6, the DHCP server takes .6 (the last) */
    char n[40], s[40], path[128], b[256];
    ST_ASSERT_INT_EQ(net(D.member, "dhcp29", n), 201);
    ST_ASSERT_INT_EQ(subnet(D.member, n, ",\"cidr\":\"10.29.0.0/29\"", s), 201);
    char *v = dhcp_ip(s);
    ST_ASSERT_STR_EQ(v, "10.29.0.6");
    free(v);
    /* eight ports at once on four free addresses: four get .2-.5, none .6 */
    enum { N = 8 };
    racer r[N];
    for (int i = 0; i < N; i++) {
        r[i] = (racer){.token = D.member, .path = "/v1/ports"};
        snprintf(r[i].body, sizeof r[i].body, "{\"network_id\":\"%s\"}", n);
    }
    race(r, N);
    int made = 0;
    for (int i = 0; i < N; i++) {
        st_assert_fmt(r[i].status == 201 || r[i].status == 409, 0, __FILE__, __LINE__,
                      "port %d: %ld", i, r[i].status);
        made += r[i].status == 201;
        st_assert_fmt(strcmp(r[i].ip, "10.29.0.6") != 0, 0, __FILE__, __LINE__,
                      "port %d got the DHCP server's address", i);
    }
    ST_ASSERT_INT_EQ(made, 4);
    v = held(s);
    ST_ASSERT_STR_EQ(v, "10.29.0.2,10.29.0.3,10.29.0.4,10.29.0.5");
    free(v);
    /* asked for by name, on create or update: 409, nothing changed */
    snprintf(b, sizeof b, "{\"network_id\":\"%s\",\"fixed_ips\":[{\"ip_address\":\"10.29.0.6\"}]}",
             n);
    ST_ASSERT_INT_EQ(post(D.member, "/v1/ports", b, NULL), 409);
    int one = 0;
    while (one < N - 1 && r[one].status != 201)
        one++;
    snprintf(path, sizeof path, "/v1/ports/%s", r[one].id);
    ST_ASSERT_INT_EQ(
        gwt_status(&T, "PATCH", path, D.member, "{\"fixed_ips\":[{\"ip_address\":\"10.29.0.6\"}]}"),
        409);
    v = held(s);
    ST_ASSERT_STR_EQ(v, "10.29.0.2,10.29.0.3,10.29.0.4,10.29.0.5");
    free(v);
    /* DHCP off frees the address: a port may have it */
    char sp[128];
    snprintf(sp, sizeof sp, "/v1/subnets/%s", s);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", sp, D.member, "{\"enable_dhcp\":false}"), 200);
    v = dhcp_ip(s);
    CU_ASSERT_PTR_NULL(v);
    free(v);
    char last[40], ip[20];
    ST_ASSERT_INT_EQ(port(D.member, n, last, ip), 201);
    ST_ASSERT_STR_EQ(ip, "10.29.0.6");
    /* back on with every address a port's: refused, DHCP stays off */
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", sp, D.member, "{\"enable_dhcp\":true}"), 409);
    v = gwt_sql_value(&T, "SELECT enable_dhcp FROM iaas.subnets WHERE cidr = '10.29.0.0/29'");
    ST_ASSERT_STR_EQ(v, "f");
    free(v);
    /* a port goes: DHCP comes back on that address, and keeps it */
    ST_ASSERT_INT_EQ(del(D.member, "ports", last), 204);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", sp, D.member, "{\"enable_dhcp\":true}"), 200);
    v = dhcp_ip(s);
    ST_ASSERT_STR_EQ(v, "10.29.0.6");
    free(v);
    ST_ASSERT_INT_EQ(port(D.member, n, NULL, NULL), 409);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", sp, D.member, "{\"name\":\"renamed\"}"), 200);
    v = dhcp_ip(s);
    ST_ASSERT_STR_EQ(v, "10.29.0.6");
    free(v);
    /* pools that leave addresses out: the highest of those, not the gateway */
    char s2[40];
    ST_ASSERT_INT_EQ(
        subnet(D.member, n,
               ",\"cidr\":\"10.29.1.0/24\",\"gateway_ip\":\"10.29.1.254\","
               "\"allocation_pools\":[{\"start\":\"10.29.1.10\",\"end\":\"10.29.1.99\"}]",
               s2),
        201);
    v = dhcp_ip(s2);
    ST_ASSERT_STR_EQ(v, "10.29.1.253");
    free(v);
    /* a subnet made with DHCP off holds none */
    char n3[40], s3[40];
    ST_ASSERT_INT_EQ(net(D.member, "nodhcp", n3), 201);
    ST_ASSERT_INT_EQ(subnet(D.member, n3, ",\"cidr\":\"10.29.2.0/29\",\"enable_dhcp\":false", s3),
                     201);
    v = dhcp_ip(s3);
    CU_ASSERT_PTR_NULL(v);
    free(v);
    /* the subnet goes, with its reservation */
    for (int i = 0; i < N; i++)
        if (r[i].status == 201)
            ST_ASSERT_INT_EQ(del(D.member, "ports", r[i].id), 204);
    snprintf(sp, sizeof sp, "/v1/subnets/%s", s);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", sp, D.member, NULL), 204);
    gwt_free_tenant(&D);
}

static void test_security_groups_and_default_group(void)
{
    gwt_tenant S;
    gwt_make_tenant(&T, "sg", &S);
    /* concurrent first uses (a group's create makes the default group
     * first, before any lock of the tenant's is taken) make one */
    enum { N = 8 };
    racer r[N];
    char n[40];
    ST_ASSERT_INT_EQ(net(S.member, "sg", n), 201);
    for (int i = 0; i < N; i++) {
        r[i] = (racer){.token = S.member, .path = "/v1/security-groups"};
        snprintf(r[i].body, sizeof r[i].body, "{\"name\":\"race-%d\"}", i);
    }
    race(r, N);
    for (int i = 0; i < N; i++)
        ST_ASSERT_INT_EQ(r[i].status, 201);
    st_resp x;
    ST_ASSERT_INT_EQ(gwt_call(&T, &x, "GET", "/v1/security-groups", S.reader, NULL), 200);
    json_t *groups = json_object_get(x.json, "security_groups"), *d = NULL, *it;
    ST_ASSERT_INT_EQ(json_array_size(groups), N + 1);
    size_t gi;
    int defaults = 0;
    json_array_foreach(groups, gi, it) if (json_is_true(json_object_get(it, "is_default")))
    {
        d = it;
        defaults++;
    }
    ST_ASSERT_INT_EQ(defaults, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(d, "name")), "default");
    char def[40];
    snprintf(def, sizeof def, "%s", json_string_value(json_object_get(d, "id")));
    /* all egress; ingress only from the group's own members */
    json_t *rules = json_object_get(d, "security_group_rules");
    ST_ASSERT_INT_EQ(json_array_size(rules), 4);
    int egress = 0, ingress_self = 0;
    size_t i;
    json_t *rule;
    json_array_foreach(rules, i, rule)
    {
        const char *dir = json_string_value(json_object_get(rule, "direction"));
        egress += !strcmp(dir, "egress") && json_is_null(json_object_get(rule, "remote_group_id"));
        ingress_self += !strcmp(dir, "ingress") &&
                        !strcmp(json_string_value(json_object_get(rule, "remote_group_id")), def);
    }
    ST_ASSERT_INT_EQ(egress, 2);
    ST_ASSERT_INT_EQ(ingress_self, 2);
    st_resp_free(&x);
    char path[128];
    snprintf(path, sizeof path, "/v1/security-groups/%s", def);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, S.member, NULL), 409);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, S.member, "{\"name\":\"other\"}"), 409);
    /* a group of one's own, and rules */
    char g[40];
    ST_ASSERT_INT_EQ(post(S.member, "/v1/security-groups", "{\"name\":\"web\"}", g), 201);
    ST_ASSERT_INT_EQ(post(S.member, "/v1/security-groups", "{\"name\":\"default\"}", NULL), 409);
    /* clang-format off */
    static const char *bad[] = {
        "\"direction\":\"sideways\"",
        "\"direction\":\"ingress\",\"ethertype\":\"IPX\"",
        "\"direction\":\"ingress\",\"protocol\":\"sctp-ish\"",
        "\"direction\":\"ingress\",\"protocol\":\"tcp\",\"port_range_min\":80",
        "\"direction\":\"ingress\",\"protocol\":\"tcp\",\"port_range_min\":90,\"port_range_max\":80",
        "\"direction\":\"ingress\",\"protocol\":\"tcp\",\"port_range_min\":0,\"port_range_max\":80",
        "\"direction\":\"ingress\",\"port_range_min\":22,\"port_range_max\":22",
        "\"direction\":\"ingress\",\"protocol\":\"icmp\",\"port_range_min\":300",
        "\"direction\":\"ingress\",\"remote_ip_prefix\":\"10.0.0.1/8\"",
        "\"direction\":\"ingress\",\"remote_ip_prefix\":\"fd00::/8\"",
        "\"direction\":\"ingress\",\"remote_ip_prefix\":\"10.0.0.0/8\",\"remote_group_id\":\"%s\"",
        "\"direction\":\"ingress\",\"remote_group_id\":\"7b0e4c1a-1111-4222-8333-444455556666\"",
        "\"direction\":\"ingress\",\"port_range_min\":\"22\"",
    };
    /* clang-format on */
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        char fmt[512], b[512];
        snprintf(fmt, sizeof fmt, "{\"security_group_id\":\"%s\",%s}", g, bad[k]);
        snprintf(b, sizeof b, fmt, g);
        long st = post(S.member, "/v1/security-group-rules", b, NULL);
        st_assert_fmt(st == 400, 0, __FILE__, __LINE__, "rule %zu (%s): %ld", k, bad[k], st);
    }
    char b[512], rid[40];
    snprintf(b, sizeof b,
             "{\"security_group_id\":\"%s\",\"direction\":\"ingress\","
             "\"protocol\":\"tcp\",\"port_range_min\":443,\"port_range_max\":443,"
             "\"remote_ip_prefix\":\"0.0.0.0/0\"}",
             g);
    ST_ASSERT_INT_EQ(post(S.member, "/v1/security-group-rules", b, rid), 201);
    ST_ASSERT_INT_EQ(post(S.member, "/v1/security-group-rules", b, NULL), 409);
    snprintf(b, sizeof b,
             "{\"security_group_id\":\"%s\",\"direction\":\"ingress\","
             "\"protocol\":\"icmp\",\"port_range_min\":8,\"port_range_max\":0,"
             "\"remote_group_id\":\"%s\"}",
             g, def);
    ST_ASSERT_INT_EQ(post(S.member, "/v1/security-group-rules", b, NULL), 201);
    /* another tenant: not there */
    snprintf(b, sizeof b, "{\"security_group_id\":\"%s\",\"direction\":\"ingress\"}", g);
    ST_ASSERT_INT_EQ(post(B.member, "/v1/security-group-rules", b, NULL), 404);
    snprintf(path, sizeof path, "/v1/security-group-rules/%s", rid);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, B.admin, NULL), 404);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, B.admin, NULL), 404);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, S.reader, NULL), 200);
    snprintf(path, sizeof path, "/v1/security-groups/%s", g);
    ST_ASSERT_INT_EQ(gwt_call(&T, &x, "GET", path, S.reader, NULL), 200);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(x.json, "security_group_rules")), 4);
    st_resp_free(&x);
    /* a port in the group keeps it from going */
    snprintf(b, sizeof b, "{\"network_id\":\"%s\",\"security_groups\":[\"%s\"]}", n, g);
    char p[40];
    ST_ASSERT_INT_EQ(post(S.member, "/v1/ports", b, p), 201);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, S.member, NULL), 409);
    ST_ASSERT_INT_EQ(del(S.member, "ports", p), 204);
    snprintf(path, sizeof path, "/v1/security-group-rules/%s", rid);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, S.member, NULL), 204);
    snprintf(path, sizeof path, "/v1/security-groups/%s", g);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, S.member, NULL), 204);
    gwt_free_tenant(&S);
}

static void test_network_quotas_hold_under_concurrent_creates(void)
{
    gwt_tenant Q;
    gwt_make_tenant(&T, "nq", &Q);
    char path[128];
    snprintf(path, sizeof path, "/v1/tenants/%s/quotas", Q.id);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, T.admin_token,
                                "{\"networks\":3,\"ports\":4,\"security_groups\":3}"),
                     200);
    enum { N = 12 };
    racer r[N];
    for (int i = 0; i < N; i++) {
        r[i] = (racer){.token = Q.member, .path = "/v1/networks"};
        snprintf(r[i].body, sizeof r[i].body, "{\"name\":\"q%d\"}", i);
    }
    race(r, N);
    int ok = 0, over = 0;
    char n[40] = "";
    for (int i = 0; i < N; i++) {
        ok += r[i].status == 201;
        over += r[i].status == 409;
        if (r[i].status == 201)
            snprintf(n, sizeof n, "%s", r[i].id);
    }
    ST_ASSERT_INT_EQ(ok, 3);
    ST_ASSERT_INT_EQ(over, N - 3);
    ST_ASSERT_INT_EQ(subnet(Q.member, n, ",\"cidr\":\"10.0.0.0/24\"", NULL), 201);
    for (int i = 0; i < N; i++) {
        r[i] = (racer){.token = Q.member, .path = "/v1/ports"};
        snprintf(r[i].body, sizeof r[i].body, "{\"network_id\":\"%s\"}", n);
    }
    race(r, N);
    ok = 0;
    for (int i = 0; i < N; i++)
        ok += r[i].status == 201;
    ST_ASSERT_INT_EQ(ok, 4);
    /* the default group counts: two more groups fit in three */
    for (int i = 0; i < N; i++) {
        r[i] = (racer){.token = Q.member, .path = "/v1/security-groups"};
        snprintf(r[i].body, sizeof r[i].body, "{\"name\":\"g%d\"}", i);
    }
    race(r, N);
    ok = 0;
    for (int i = 0; i < N; i++)
        ok += r[i].status == 201;
    ST_ASSERT_INT_EQ(ok, 2);
    st_resp x;
    /* a new tenant's limits come from the configuration (quota.ports=60 here) */
    ST_ASSERT_INT_EQ(gwt_call(&T, &x, "GET", "/v1/quotas", B.reader, NULL), 200);
    json_t *lim = json_object_get(x.json, "limits");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(lim, "ports")), 60);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(lim, "networks")), 10);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(lim, "security_groups")), 10);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(lim, "floating_ips")), 10);
    st_resp_free(&x);
    ST_ASSERT_INT_EQ(gwt_call(&T, &x, "GET", "/v1/quotas", Q.reader, NULL), 200);
    json_t *u = json_object_get(x.json, "usage");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(u, "networks")), 3);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(u, "ports")), 4);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(u, "security_groups")), 3);
    ST_ASSERT_INT_EQ(
        json_integer_value(json_object_get(json_object_get(x.json, "limits"), "ports")), 4);
    st_resp_free(&x);
    gwt_free_tenant(&Q);
}

/* The value at a path of object keys, as a string ("" when absent). */
static const char *sget(json_t *o, const char *k1, const char *k2)
{
    json_t *v = json_object_get(o, k1);
    if (k2)
        v = json_object_get(v, k2);
    return json_string_value(v) ? json_string_value(v) : "";
}

static void test_routers_and_floating_ips(void)
{
    gwt_tenant R;
    gwt_make_tenant(&T, "rtr", &R);
    /* the cloud's external network */
    st_resp x;
    char ext[40], b[512], path[160];
    ST_ASSERT_INT_EQ(gwt_call(&T, &x, "POST", "/v1/networks", T.admin_token,
                              "{\"name\":\"public\",\"external\":true}"),
                     201);
    snprintf(ext, sizeof ext, "%s", sget(x.json, "id", NULL));
    st_resp_free(&x);
    snprintf(b, sizeof b,
             "{\"network_id\":\"%s\",\"cidr\":\"203.0.113.0/24\",\"allocation_pools\":"
             "[{\"start\":\"203.0.113.10\",\"end\":\"203.0.113.20\"}]}",
             ext);
    ST_ASSERT_INT_EQ(post(T.admin_token, "/v1/subnets", b, NULL), 201);
    /* tenants see it, but it is not for their ports */
    snprintf(path, sizeof path, "/v1/networks/%s", ext);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, R.reader, NULL), 200);
    ST_ASSERT_INT_EQ(port(R.member, ext, NULL, NULL), 404);
    /* a router with its gateway there */
    char app[40], sub[40], rt[40];
    ST_ASSERT_INT_EQ(net(R.member, "app", app), 201);
    ST_ASSERT_INT_EQ(subnet(R.member, app, ",\"cidr\":\"10.30.0.0/24\"", sub), 201);
    snprintf(b, sizeof b, "{\"name\":\"r1\",\"external_gateway_info\":{\"network_id\":\"%s\"}}",
             app);
    ST_ASSERT_INT_EQ(post(R.member, "/v1/routers", b, NULL), 400); /* not external */
    snprintf(b, sizeof b, "{\"name\":\"r1\",\"external_gateway_info\":{\"network_id\":\"%s\"}}",
             ext);
    ST_ASSERT_INT_EQ(gwt_call(&T, &x, "POST", "/v1/routers", R.member, b), 201);
    snprintf(rt, sizeof rt, "%s", sget(x.json, "id", NULL));
    json_t *gi = json_object_get(x.json, "external_gateway_info");
    ST_ASSERT_STR_EQ(sget(gi, "network_id", NULL), ext);
    CU_ASSERT(json_is_true(json_object_get(gi, "enable_snat")));
    ST_ASSERT_STR_EQ(
        sget(json_array_get(json_object_get(gi, "external_fixed_ips"), 0), "ip_address", NULL),
        "203.0.113.10");
    st_resp_free(&x);
    /* interfaces: the subnet's gateway address; once; no overlaps; needs a gateway */
    snprintf(path, sizeof path, "/v1/routers/%s/interfaces", rt);
    snprintf(b, sizeof b, "{\"subnet_id\":\"%s\"}", sub);
    ST_ASSERT_INT_EQ(gwt_call(&T, &x, "POST", path, R.member, b), 200);
    ST_ASSERT_STR_EQ(sget(x.json, "subnet_id", NULL), sub);
    char iface_port[40];
    snprintf(iface_port, sizeof iface_port, "%s", sget(x.json, "port_id", NULL));
    st_resp_free(&x);
    ST_ASSERT_INT_EQ(post(R.member, path, b, NULL), 400); /* already on it */
    char app2[40], sub2[40], sub3[40];
    ST_ASSERT_INT_EQ(net(R.member, "app2", app2), 201);
    ST_ASSERT_INT_EQ(subnet(R.member, app2, ",\"cidr\":\"10.30.0.0/25\"", sub2), 201);
    ST_ASSERT_INT_EQ(subnet(R.member, app2, ",\"cidr\":\"10.31.0.0/24\",\"gateway_ip\":null", sub3),
                     201);
    snprintf(b, sizeof b, "{\"subnet_id\":\"%s\"}", sub2);
    ST_ASSERT_INT_EQ(post(R.member, path, b, NULL), 400);
    snprintf(b, sizeof b, "{\"subnet_id\":\"%s\"}", sub3);
    ST_ASSERT_INT_EQ(post(R.member, path, b, NULL), 400);
    snprintf(path, sizeof path, "/v1/ports/%s", iface_port);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, R.member, NULL), 409);
    snprintf(path, sizeof path, "/v1/routers/%s", rt);
    ST_ASSERT_INT_EQ(gwt_call(&T, &x, "GET", path, R.reader, NULL), 200);
    ST_ASSERT_STR_EQ(
        sget(json_array_get(json_object_get(x.json, "interfaces"), 0), "ip_address", NULL),
        "10.30.0.1");
    st_resp_free(&x);
    /* a floating IP for a port behind the router */
    char p[40], pip[20], fip[40];
    ST_ASSERT_INT_EQ(port(R.member, app, p, pip), 201);
    snprintf(b, sizeof b, "{\"floating_network_id\":\"%s\",\"port_id\":\"%s\"}", ext, p);
    ST_ASSERT_INT_EQ(gwt_call(&T, &x, "POST", "/v1/floating-ips", R.member, b), 201);
    snprintf(fip, sizeof fip, "%s", sget(x.json, "id", NULL));
    ST_ASSERT_STR_EQ(sget(x.json, "floating_ip_address", NULL), "203.0.113.11");
    ST_ASSERT_STR_EQ(sget(x.json, "fixed_ip_address", NULL), pip);
    ST_ASSERT_STR_EQ(sget(x.json, "port_id", NULL), p);
    ST_ASSERT_STR_EQ(sget(x.json, "router_id", NULL), rt);
    ST_ASSERT_STR_EQ(sget(x.json, "status", NULL), "ACTIVE");
    st_resp_free(&x);
    /* one floating IP per fixed IP; only where a router joins the subnet */
    ST_ASSERT_INT_EQ(post(R.member, "/v1/floating-ips", b, NULL), 409);
    char p2[40];
    ST_ASSERT_INT_EQ(port(R.member, app2, p2, NULL), 201);
    snprintf(b, sizeof b, "{\"floating_network_id\":\"%s\",\"port_id\":\"%s\"}", ext, p2);
    ST_ASSERT_INT_EQ(post(R.member, "/v1/floating-ips", b, NULL), 400);
    snprintf(b, sizeof b, "{\"floating_network_id\":\"%s\"}", app);
    ST_ASSERT_INT_EQ(post(R.member, "/v1/floating-ips", b, NULL), 400);
    /* what the floating IP relies on stays */
    snprintf(path, sizeof path, "/v1/routers/%s/interfaces/%s", rt, sub);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, R.member, NULL), 409);
    snprintf(path, sizeof path, "/v1/routers/%s", rt);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, R.member, "{\"external_gateway_info\":null}"),
                     409);
    snprintf(path, sizeof path, "/v1/networks/%s", ext);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PATCH", path, T.admin_token, "{\"external\":false}"), 409);
    /* disassociate, then everything can go */
    snprintf(path, sizeof path, "/v1/floating-ips/%s", fip);
    ST_ASSERT_INT_EQ(gwt_call(&T, &x, "PATCH", path, R.member, "{\"port_id\":null}"), 200);
    ST_ASSERT_STR_EQ(sget(x.json, "status", NULL), "DOWN");
    CU_ASSERT(json_is_null(json_object_get(x.json, "router_id")));
    st_resp_free(&x);
    snprintf(path, sizeof path, "/v1/routers/%s", rt);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, R.member, NULL), 409); /* interfaces */
    snprintf(path, sizeof path, "/v1/routers/%s/interfaces/%s", rt, sub);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, R.member, NULL), 204);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, R.member, NULL), 404);
    snprintf(path, sizeof path, "/v1/routers/%s", rt);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, R.member, NULL), 204);
    /* floating IP quota, and a freed address not handed out at once */
    snprintf(path, sizeof path, "/v1/tenants/%s/quotas", R.id);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, T.admin_token, "{\"floating_ips\":2}"), 200);
    snprintf(b, sizeof b, "{\"floating_network_id\":\"%s\"}", ext);
    char f2[40];
    ST_ASSERT_INT_EQ(post(R.member, "/v1/floating-ips", b, f2), 201);
    ST_ASSERT_INT_EQ(post(R.member, "/v1/floating-ips", b, NULL), 409);
    ST_ASSERT_INT_EQ(del(R.member, "floating-ips", fip), 204); /* .11 freed */
    ST_ASSERT_INT_EQ(gwt_call(&T, &x, "POST", "/v1/floating-ips", R.member, b), 201);
    ST_ASSERT_STR_EQ(sget(x.json, "floating_ip_address", NULL), "203.0.113.13");
    st_resp_free(&x);
    ST_ASSERT_INT_EQ(gwt_call(&T, &x, "GET", "/v1/quotas", R.reader, NULL), 200);
    ST_ASSERT_INT_EQ(
        json_integer_value(json_object_get(json_object_get(x.json, "usage"), "floating_ips")), 2);
    st_resp_free(&x);
    ST_ASSERT_INT_EQ(gwt_call(&T, &x, "GET", "/v1/floating-ips", R.reader, NULL), 200);
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(x.json, "floating_ips")), 2);
    st_resp_free(&x);
    gwt_free_tenant(&R);
}

static CU_TestInfo tests[] = {
    {"networks: CRUD, admin-only shared and external", test_network_crud_and_admin_flags},
    {"concurrent network creates get distinct VNIs", test_concurrent_creates_get_distinct_vnis},
    {"subnets: validation, overlaps, defaults", test_subnet_validation},
    {"ports: MACs, fixed IPs, shared networks", test_ports_macs_and_fixed_ips},
    {"concurrent ports get distinct addresses; no immediate reuse",
     test_concurrent_ports_get_distinct_addresses},
    {"the DHCP server's address is reserved, never a port's", test_dhcp_address_is_never_a_ports},
    {"security groups, rules and the default group", test_security_groups_and_default_group},
    {"routers and floating IPs", test_routers_and_floating_ips},
    {"network quotas hold under concurrent creates",
     test_network_quotas_hold_under_concurrent_creates},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"network", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
