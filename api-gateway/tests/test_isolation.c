/*
 * Tenant isolation, for every route the server has.
 *
 * Tenant A owns one of everything; tenant B's admin (the strongest tenant
 * role) calls every parameterised route with A's ids. For each, the answer
 * must be a 4xx identical (status and error code) to the answer for an id
 * that does not exist at all: B cannot change A's objects, and cannot even
 * learn they exist. The route list comes from `stratus-gateway routes`, so
 * a route added without a case here fails the test. The same route list,
 * with the parameters openapi.json gives each list route, drives the query
 * parameters: every marker and filter taking an id gets each of A's ids
 * (and "name" filters A's names), and must answer exactly as for one that
 * exists nowhere. Bodies that name objects by id (networks, subnets, groups,
 * ports, server groups) get A's ids, and membership and role routes A's
 * users, with the same rule.
 * Afterwards every one of A's objects must be unchanged, and none may
 * appear in B's lists.
 */
#include "gwt.h"
#include "st_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gwt T;
static gwt_tenant A, B;
static char *node;
static char flavor[40], image[40];
static char a_instance[40], a_keypair[40], a_image[40], a_apikey[40], a_group[40];
static char a_invoice[40];
static char a_network[40], a_subnet[40], a_port[40], a_sg[40], a_rule[40];
static char a_router[40], a_fip[40];
static char a_apikey_secret[128];
static char ext_net[40], b_network[40], b_sg[40], b_router[40];

static const char *KEY =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAII5fDoSwCs3Zg73Sao6zV8+UVKL99sup7rLMCqj9zP75 a@b";

static void id_of(st_resp *r, char out[40])
{
    const char *v = json_string_value(json_object_get(r->json, "id"));
    snprintf(out, 40, "%s", v ? v : "");
}

static int suite_init(void)
{
    gwt_start(&T, "gw_iso", NULL);
    gwt_make_tenant(&T, "victim", &A);
    gwt_make_tenant(&T, "attacker", &B);
    node = gwt_make_node(&T, "node-iso", 16, 65536, 1000);
    gwt_make_catalog(&T, flavor, image);
    st_resp r;
    char *b = st_jsonf("{s:s, s:s}", "name", "a-key", "public_key", KEY);
    gwt_call(&T, &r, "POST", "/v1/keypairs", A.member, b);
    id_of(&r, a_keypair);
    st_resp_free(&r);
    free(b);
    gwt_call(&T, &r, "POST", "/v1/images", A.member,
             "{\"name\":\"a-private\",\"disk_format\":\"qcow2\"}");
    id_of(&r, a_image);
    st_resp_free(&r);
    gwt_call(&T, &r, "POST", "/v1/api-keys", A.member, "{\"name\":\"a-bot\"}");
    id_of(&r, a_apikey);
    snprintf(a_apikey_secret, sizeof a_apikey_secret, "%s",
             json_string_value(json_object_get(r.json, "key")));
    st_resp_free(&r);
    gwt_call(&T, &r, "POST", "/v1/server-groups", A.member,
             "{\"name\":\"a-group\",\"policy\":\"anti-affinity\"}");
    id_of(&r, a_group);
    st_resp_free(&r);
    /* networking: one of each */
    gwt_call(&T, &r, "POST", "/v1/networks", A.member, "{\"name\":\"a-net\"}");
    id_of(&r, a_network);
    st_resp_free(&r);
    b = st_jsonf("{s:s, s:s}", "network_id", a_network, "cidr", "10.0.0.0/24");
    gwt_call(&T, &r, "POST", "/v1/subnets", A.member, b);
    id_of(&r, a_subnet);
    st_resp_free(&r);
    free(b);
    gwt_call(&T, &r, "POST", "/v1/security-groups", A.member, "{\"name\":\"a-sg\"}");
    id_of(&r, a_sg);
    st_resp_free(&r);
    b = st_jsonf("{s:s, s:s, s:s}", "security_group_id", a_sg, "direction", "ingress", "protocol",
                 "tcp");
    gwt_call(&T, &r, "POST", "/v1/security-group-rules", A.member, b);
    id_of(&r, a_rule);
    st_resp_free(&r);
    free(b);
    b = st_jsonf("{s:s}", "network_id", a_network);
    gwt_call(&T, &r, "POST", "/v1/ports", A.member, b);
    id_of(&r, a_port);
    st_resp_free(&r);
    free(b);
    /* a router from A's subnet to the cloud's external network, a floating IP */
    char ext[40];
    gwt_call(&T, &r, "POST", "/v1/networks", T.admin_token, "{\"name\":\"ext\",\"external\":true}");
    id_of(&r, ext);
    st_resp_free(&r);
    b = st_jsonf("{s:s, s:s}", "network_id", ext, "cidr", "198.51.100.0/24");
    gwt_call(&T, &r, "POST", "/v1/subnets", T.admin_token, b);
    st_resp_free(&r);
    free(b);
    b = st_jsonf("{s:s, s:{s:s}}", "name", "a-router", "external_gateway_info", "network_id", ext);
    gwt_call(&T, &r, "POST", "/v1/routers", A.member, b);
    id_of(&r, a_router);
    st_resp_free(&r);
    free(b);
    char path[128];
    snprintf(path, sizeof path, "/v1/routers/%s/interfaces", a_router);
    b = st_jsonf("{s:s}", "subnet_id", a_subnet);
    gwt_call(&T, &r, "POST", path, A.member, b);
    st_resp_free(&r);
    free(b);
    b = st_jsonf("{s:s, s:s}", "floating_network_id", ext, "port_id", a_port);
    gwt_call(&T, &r, "POST", "/v1/floating-ips", A.member, b);
    id_of(&r, a_fip);
    st_resp_free(&r);
    free(b);
    if (!a_network[0] || !a_subnet[0] || !a_sg[0] || !a_rule[0] || !a_port[0] || !a_router[0] ||
        !a_fip[0])
        return -1;
    if (gwt_create_instance(&T, A.member, "a-vm", "m1.small", image, NULL, a_instance) != 202)
        return -1;
    gwt_report(&T, node, a_instance, "active", gwt_instance_generation(&T, NULL, a_instance));
    /* usage, so that A has a draft invoice this month */
    if (gwt_bill_sample(&T, A.id, a_instance, 1, 1000000) != 200)
        return -1;
    gwt_call(&T, &r, "GET", "/v1/billing/invoices", A.reader, NULL);
    const char *inv = json_string_value(
        json_object_get(json_array_get(json_object_get(r.json, "invoices"), 0), "id"));
    snprintf(a_invoice, sizeof a_invoice, "%s", inv ? inv : "");
    st_resp_free(&r);
    /* B's own objects, made after A's: a list that pages from one of A's
     * ids (a marker) would show them, where an unknown marker shows none */
    gwt_call(&T, &r, "POST", "/v1/images", B.member,
             "{\"name\":\"b-later\",\"disk_format\":\"raw\"}");
    st_resp_free(&r);
    gwt_call(&T, &r, "POST", "/v1/keypairs", B.member,
             "{\"name\":\"b-later\",\"public_key\":\"ssh-ed25519 "
             "AAAAC3NzaC1lZDI1NTE5AAAAII5fDoSwCs3Zg73Sao6zV8+UVKL99sup7rLMCqj9zP75\"}");
    st_resp_free(&r);
    gwt_call(&T, &r, "POST", "/v1/networks", B.member, "{\"name\":\"b-later\"}");
    id_of(&r, b_network);
    st_resp_free(&r);
    b = st_jsonf("{s:s, s:s}", "network_id", b_network, "cidr", "10.7.0.0/24");
    gwt_call(&T, &r, "POST", "/v1/subnets", B.member, b);
    st_resp_free(&r);
    free(b);
    gwt_call(&T, &r, "POST", "/v1/security-groups", B.member, "{\"name\":\"b-sg\"}");
    id_of(&r, b_sg);
    st_resp_free(&r);
    gwt_call(&T, &r, "POST", "/v1/routers", B.member, "{\"name\":\"b-router\"}");
    id_of(&r, b_router);
    st_resp_free(&r);
    snprintf(ext_net, sizeof ext_net, "%s", ext);
    if (!b_network[0] || !b_sg[0] || !b_router[0])
        return -1;
    return !a_keypair[0] || !a_image[0] || !a_apikey[0] || !a_group[0] || !a_invoice[0];
}

static int suite_clean(void)
{
    gwt_free_tenant(&A);
    gwt_free_tenant(&B);
    free(node);
    gwt_stop(&T);
    return 0;
}

/* What A's id is for a route's {id}, and a body that passes validation so
 * the lookup itself is what answers. NULL id: the route has no case. */
typedef struct route_case {
    const char *prefix;
    const char *id;
    const char *body;
    const char *sub; /* for a second path parameter; default: A's member */
} route_case;

static const route_case *case_for(const char *method, const char *path)
{
    static route_case c;
    c = (route_case){0};
    int w = strcmp(method, "GET") && strcmp(method, "DELETE");
    if (!strncmp(path, "/v1/instances/{id}/interfaces", 29)) {
        static char nic[128];
        snprintf(nic, sizeof nic, "{\"network_id\":\"%s\"}", a_network);
        c.id = a_instance;
        c.sub = a_port;
        c.body = nic;
    } else if (!strncmp(path, "/v1/instances/{id}", 18)) {
        c.id = a_instance;
        c.body = "{\"action\":\"stop\"}";
    } else if (!strncmp(path, "/v1/routers/{id}/interfaces", 27)) {
        static char iface[128];
        snprintf(iface, sizeof iface, "{\"subnet_id\":\"%s\"}", a_subnet);
        c.id = a_router;
        c.sub = a_subnet;
        c.body = iface;
    } else if (!strncmp(path, "/v1/routers/{id}", 16)) {
        c.id = a_router;
        c.body = "{\"name\":\"pwned\",\"external_gateway_info\":null}";
    } else if (!strncmp(path, "/v1/floating-ips/{id}", 21)) {
        c.id = a_fip;
        c.body = "{\"port_id\":null}";
    } else if (!strncmp(path, "/v1/networks/{id}", 17)) {
        c.id = a_network;
        c.body = "{\"name\":\"pwned\"}";
    } else if (!strncmp(path, "/v1/subnets/{id}", 16)) {
        c.id = a_subnet;
        c.body = "{\"name\":\"pwned\"}";
    } else if (!strncmp(path, "/v1/ports/{id}", 14)) {
        c.id = a_port;
        c.body = "{\"name\":\"pwned\"}";
    } else if (!strncmp(path, "/v1/security-groups/{id}", 24)) {
        c.id = a_sg;
        c.body = "{\"description\":\"pwned\"}";
    } else if (!strncmp(path, "/v1/security-group-rules/{id}", 29)) {
        c.id = a_rule;
    } else if (!strncmp(path, "/v1/server-groups/{id}", 22)) {
        c.id = a_group;
    } else if (!strncmp(path, "/v1/keypairs/{id}", 17)) {
        c.id = a_keypair;
    } else if (!strncmp(path, "/v1/images/{id}", 15)) {
        c.id = a_image;
        c.body = "{\"name\":\"pwned\"}";
    } else if (!strncmp(path, "/v1/api-keys/{id}", 17)) {
        c.id = a_apikey;
    } else if (!strncmp(path, "/v1/tenants/{id}/members/{user_id}", 34)) {
        c.id = A.id;
        c.body = "{\"role\":\"admin\"}";
    } else if (!strncmp(path, "/v1/tenants/{id}/quotas", 23)) {
        c.id = A.id;
        c.body = "{\"instances\":1000}";
    } else if (!strncmp(path, "/v1/tenants/{id}", 16)) {
        c.id = A.id;
    } else if (!strncmp(path, "/v1/users/{id}", 14)) {
        c.id = A.member_id;
        c.body = "{\"password\":\"pwned-password\",\"current_password\":\"password-123\"}";
    } else if (!strncmp(path, "/v1/nodes/{id}", 14)) {
        /* nodes are the operator's: any tenant gets 403 for real and fake ids */
        c.id = "00000000-0000-4000-8000-000000000001";
        c.body = "{\"disabled\":true}";
    } else if (!strncmp(path, "/internal/v1/node/instances/{id}", 32)) {
        c.id = a_instance;
        c.body = "{\"state\":\"deleted\",\"generation\":99}";
    } else if (!strncmp(path, "/internal/v1/node/evacuations/{id}", 34)) {
        c.id = a_instance;
    } else if (!strncmp(path, "/internal/v1/node/migrations/{id}", 33)) {
        /* a tenant's credential is refused on the nodes' routes (403) */
        c.id = a_instance;
        c.body = "{\"state\":\"failed\"}";
    } else if (!strncmp(path, "/v1/billing/invoices/{id}", 25)) {
        c.id = a_invoice;
    } else if (!strncmp(path, "/v1/billing/", 12)) {
        /* plans, tenants' plans, periods, nodes: the cloud admin's */
        c.id = !strncmp(path, "/v1/billing/tenants/", 20) ? A.id
               : strstr(path, "{period}")                 ? "2026-11"
               : strstr(path, "{name}")                   ? "some-node"
                                                          : a_invoice;
        c.body = "{}";
    } else if (!strncmp(path, "/v1/flavors/{id}", 16)) {
        /* flavors are cloud-wide, not a tenant's: tenants read them, never change them */
        c.id = flavor;
        c.body = "{\"disabled\":true}";
    }
    if (!w)
        c.body = NULL;
    return c.id ? &c : NULL;
}

static void fill(char *out, size_t n, const char *pattern, const char *id, const char *user)
{
    const char *p = pattern;
    size_t o = 0;
    while (*p && o < n - 1) {
        if (*p == '{' && strchr(p, '}')) {
            /* the first parameter is the object's id, a second the sub-object's */
            o += (size_t)snprintf(out + o, n - o, "%s", id);
            id = user;
            p = strchr(p, '}') + 1;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = 0;
}

static void test_every_route_hides_other_tenants_objects(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' routes", st_build_path("api-gateway/stratus-gateway"));
    FILE *p = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    char line[256];
    int checked = 0;
    const char *fake = "7b0e4c1a-1111-4222-8333-444455556666";
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        char method[16], path[200];
        if (sscanf(line, "%15s %199s", method, path) != 2 || !strchr(path, '{'))
            continue;
        const route_case *c = case_for(method, path);
        st_assert_fmt(c != NULL, 0, __FILE__, __LINE__,
                      "route %s %s has no isolation case: add one", method, path);
        if (!c)
            continue;
        int global = !strncmp(path, "/v1/flavors/", 12);
        char real[256], none[256];
        fill(real, sizeof real, path, c->id, c->sub ? c->sub : A.member_id);
        fill(none, sizeof none, path, fake, fake);
        st_resp r1, r2;
        gwt_call(&T, &r1, method, real, B.admin, c->body);
        gwt_call(&T, &r2, method, none, B.admin, c->body);
        if (global && !strcmp(method, "GET")) {
            st_assert_fmt(r1.status == 200, 0, __FILE__, __LINE__, "%s %s: %ld", method, path,
                          r1.status);
        } else {
            st_assert_fmt(r1.status >= 400 && r1.status < 500, 0, __FILE__, __LINE__,
                          "%s %s with A's id: status %ld (%s)", method, path, r1.status, r1.body);
            st_assert_fmt(
                r1.status == r2.status && !strcmp(st_resp_error_code(&r1), st_resp_error_code(&r2)),
                0, __FILE__, __LINE__,
                "%s %s: A's id answers %ld %s, a missing id %ld %s: existence leaks", method, path,
                r1.status, st_resp_error_code(&r1), r2.status, st_resp_error_code(&r2));
        }
        st_resp_free(&r1);
        st_resp_free(&r2);
        checked++;
    }
    pclose(p);
    CU_ASSERT(checked >= 20);
}

static void test_bodies_cannot_reference_other_tenants_objects(void)
{
    char *b = st_jsonf("{s:s, s:s, s:s}", "name", "steal", "flavor", "m1.small", "image", a_image);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/instances", B.admin, b), 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "no such image"));
    st_resp_free(&r);
    free(b);
    b = st_jsonf("{s:s, s:s, s:s, s:s}", "name", "steal", "flavor", "m1.small", "image", image,
                 "keypair", a_keypair);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/instances", B.admin, b), 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "no such keypair"));
    st_resp_free(&r);
    free(b);
    char path[128];
    snprintf(path, sizeof path, "/v1/instances?marker=%s", a_instance);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, B.admin, NULL), 400);
    /* a token cannot be scoped into a tenant the user is not in */
    CU_ASSERT_PTR_NULL(gwt_signin(&T, "attacker-admin", "password-123", "victim"));
    CU_ASSERT_PTR_NULL(gwt_signin(&T, "attacker-admin", "password-123", A.id));
}

/* Every one of A's ids, for substituting into query parameters. */
static int a_ids(const char **out)
{
    const char *ids[] = {a_instance, a_keypair, a_image,     a_apikey,   a_group,    a_invoice,
                         a_network,  a_subnet,  a_port,      a_sg,       a_rule,     a_router,
                         a_fip,      A.id,      A.member_id, A.admin_id, A.reader_id};
    int n = (int)(sizeof ids / sizeof *ids);
    memcpy(out, ids, sizeof ids);
    return n;
}

/* The query parameters of every list route: the routes come from the
 * server's own list, their parameters from its openapi.json. Each parameter
 * that takes an id (markers, filters) is given each of A's ids, and each
 * "name" filter A's names; B's answer must be exactly its answer for an id
 * or name that exists nowhere (status, error code, and a 200's whole body),
 * and must not contain any of A's ids. */
static void test_query_parameters_hide_other_tenants_objects(void)
{
    st_resp doc;
    ST_ASSERT_INT_EQ_FATAL(gwt_call(&T, &doc, "GET", "/v1/openapi.json", NULL, NULL), 200);
    json_t *paths = json_object_get(doc.json, "paths");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' routes", st_build_path("api-gateway/stratus-gateway"));
    FILE *p = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    const char *ids[32];
    int nids = a_ids(ids);
    const char *names[] = {"a-vm",  "a-key", "a-private", "a-bot", "a-group",
                           "a-net", "a-sg",  "a-router",  "victim"};
    const char *fake = "7b0e4c1a-1111-4222-8333-444455556666";
    char line[256];
    int checked = 0;
    while (fgets(line, sizeof line, p)) {
        char method[16], path[200];
        if (sscanf(line, "%15s %199s", method, path) != 2 || strcmp(method, "GET") ||
            strchr(path, '{'))
            continue;
        json_t *params =
            json_object_get(json_object_get(json_object_get(paths, path), "get"), "parameters");
        size_t i;
        json_t *q;
        json_array_foreach(params, i, q)
        {
            const char *qn = json_string_value(json_object_get(q, "name"));
            const char *fmt =
                json_string_value(json_object_get(json_object_get(q, "schema"), "format"));
            int is_id = fmt && !strcmp(fmt, "uuid"), is_name = qn && !strcmp(qn, "name");
            if (strcmp(json_string_value(json_object_get(q, "in")), "query") ||
                (!is_id && !is_name))
                continue;
            int nv = is_id ? nids : (int)(sizeof names / sizeof *names);
            char none[400];
            snprintf(none, sizeof none, "%s?%s=%s", path, qn, is_id ? fake : "no-such-name");
            st_resp r2;
            gwt_call(&T, &r2, "GET", none, B.admin, NULL);
            for (int k = 0; k < nv; k++) {
                char real[400];
                snprintf(real, sizeof real, "%s?%s=%s", path, qn, is_id ? ids[k] : names[k]);
                st_resp r1;
                gwt_call(&T, &r1, "GET", real, B.admin, NULL);
                st_assert_fmt(r1.status == r2.status &&
                                  !strcmp(st_resp_error_code(&r1), st_resp_error_code(&r2)) &&
                                  (r1.status != 200 || !strcmp(r1.body, r2.body)),
                              0, __FILE__, __LINE__,
                              "GET %s answers %ld %s, for nothing %ld %s: A's object shows", real,
                              r1.status, r1.body, r2.status, r2.body);
                for (int m = 0; m < nids; m++)
                    st_assert_fmt(strstr(r1.body, ids[m]) == NULL || !strcmp(ids[m], ids[k]), 0,
                                  __FILE__, __LINE__, "GET %s shows A's id %s", real, ids[m]);
                st_resp_free(&r1);
                checked++;
            }
            st_resp_free(&r2);
        }
    }
    pclose(p);
    st_resp_free(&doc);
    CU_ASSERT(checked >= 100);
}

/* Membership and role routes given A's users: B's admin can neither put
 * them into B, nor change, remove or look at them, and each answer is the
 * answer for a user that does not exist. */
static void test_membership_routes_with_foreign_users(void)
{
    const char *fake = "7b0e4c1a-1111-4222-8333-444455556666";
    const char *users[] = {A.admin_id, A.member_id, A.reader_id};
    /* path: before the user id (B's tenant id is put in at %s), after it */
    static const struct {
        const char *method, *pre, *post, *body;
    } calls[] = {
        {"PUT", "/v1/tenants/%s/members/", "", "{\"role\":\"reader\"}"},
        {"PUT", "/v1/tenants/%s/members/", "", "{\"role\":\"admin\"}"},
        {"DELETE", "/v1/tenants/%s/members/", "", NULL},
        {"GET", "/v1/users/%.0s", "", NULL},
        {"PUT", "/v1/users/%.0s", "/password", "{\"password\":\"Correct-Horse-9-battery\"}"},
    };
    for (size_t c = 0; c < sizeof calls / sizeof *calls; c++) {
        char pre[128], none[256];
        snprintf(pre, sizeof pre, calls[c].pre, B.id);
        snprintf(none, sizeof none, "%s%s%s", pre, fake, calls[c].post);
        st_resp r2;
        gwt_call(&T, &r2, calls[c].method, none, B.admin, calls[c].body);
        st_assert_fmt(r2.status >= 400 && r2.status < 500, 0, __FILE__, __LINE__, "%s %s: %ld",
                      calls[c].method, none, r2.status);
        for (size_t u = 0; u < sizeof users / sizeof *users; u++) {
            char real[256];
            snprintf(real, sizeof real, "%s%s%s", pre, users[u], calls[c].post);
            st_resp r1;
            gwt_call(&T, &r1, calls[c].method, real, B.admin, calls[c].body);
            st_assert_fmt(r1.status == r2.status &&
                              !strcmp(st_resp_error_code(&r1), st_resp_error_code(&r2)),
                          0, __FILE__, __LINE__, "%s %s answers %ld %s, an unknown user %ld %s",
                          calls[c].method, real, r1.status, st_resp_error_code(&r1), r2.status,
                          st_resp_error_code(&r2));
            st_resp_free(&r1);
        }
        st_resp_free(&r2);
    }
    /* B's own member: the same admin may change its role (the routes work) */
    char own[256];
    snprintf(own, sizeof own, "/v1/tenants/%s/members/%s", B.id, B.reader_id);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", own, B.admin, "{\"role\":\"reader\"}"), 200);
    /* and none of A's users is in B */
    snprintf(own, sizeof own, "/v1/tenants/%s/members", B.id);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", own, B.admin, NULL), 200);
    CU_ASSERT_PTR_NULL(strstr(r.body, "victim"));
    st_resp_free(&r);
}

/* Bodies that name another tenant's object by id (a network for a subnet,
 * port or NIC, a subnet for a fixed IP or router interface, a group for a
 * rule or port, a port for a floating IP or NIC, a server group): each
 * answer must be the answer for an id that exists nowhere. */
/* fmt with {ID} replaced by id, {BNET} by B's network, {BSG} by B's group,
 * {EXT} by the external network and {IMG} by the public image. */
static void expand(char *out, size_t n, const char *fmt, const char *id)
{
    const struct {
        const char *tok, *val;
    } subs[] = {
        {"{ID}", id}, {"{BNET}", b_network}, {"{BSG}", b_sg}, {"{EXT}", ext_net}, {"{IMG}", image}};
    size_t o = 0;
    while (*fmt && o + 1 < n) {
        size_t k = 0;
        for (; k < sizeof subs / sizeof *subs; k++)
            if (!strncmp(fmt, subs[k].tok, strlen(subs[k].tok)))
                break;
        if (k < sizeof subs / sizeof *subs) {
            o += (size_t)snprintf(out + o, n - o, "%s", subs[k].val);
            fmt += strlen(subs[k].tok);
        } else {
            out[o++] = *fmt++;
        }
    }
    out[o < n ? o : n - 1] = 0;
}

static void test_bodies_with_foreign_ids_answer_as_unknown(void)
{
    const char *fake = "7b0e4c1a-1111-4222-8333-444455556666";
    char iface[128];
    snprintf(iface, sizeof iface, "/v1/routers/%s/interfaces", b_router);
    struct {
        const char *method, *path, *fmt, *id;
    } cases[] = {
        {"POST", "/v1/subnets", "{\"network_id\":\"{ID}\",\"cidr\":\"10.9.0.0/24\"}", a_network},
        {"POST", "/v1/ports", "{\"network_id\":\"{ID}\"}", a_network},
        {"POST", "/v1/ports", "{\"network_id\":\"{BNET}\",\"security_groups\":[\"{ID}\"]}", a_sg},
        {"POST", "/v1/ports",
         "{\"network_id\":\"{BNET}\",\"fixed_ips\":[{\"subnet_id\":\"{ID}\"}]}", a_subnet},
        {"POST", "/v1/security-group-rules",
         "{\"security_group_id\":\"{ID}\",\"direction\":\"ingress\",\"protocol\":\"tcp\"}", a_sg},
        {"POST", "/v1/security-group-rules",
         "{\"security_group_id\":\"{BSG}\",\"direction\":\"ingress\",\"remote_group_id\":\"{ID}\"}",
         a_sg},
        {"POST", "/v1/floating-ips", "{\"floating_network_id\":\"{EXT}\",\"port_id\":\"{ID}\"}",
         a_port},
        {"POST", iface, "{\"subnet_id\":\"{ID}\"}", a_subnet},
        {"POST", "/v1/instances",
         "{\"name\":\"s\",\"flavor\":\"m1.small\",\"image\":\"{IMG}\","
         "\"networks\":[{\"network_id\":\"{ID}\"}]}",
         a_network},
        {"POST", "/v1/instances",
         "{\"name\":\"s\",\"flavor\":\"m1.small\",\"image\":\"{IMG}\","
         "\"networks\":[{\"port_id\":\"{ID}\"}]}",
         a_port},
        {"POST", "/v1/instances",
         "{\"name\":\"s\",\"flavor\":\"m1.small\",\"image\":\"{IMG}\","
         "\"server_group\":\"{ID}\",\"networks\":\"none\"}",
         a_group},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char real[512], none[512];
        expand(real, sizeof real, cases[i].fmt, cases[i].id);
        expand(none, sizeof none, cases[i].fmt, fake);
        st_resp r1, r2;
        gwt_call(&T, &r1, cases[i].method, cases[i].path, B.admin, real);
        gwt_call(&T, &r2, cases[i].method, cases[i].path, B.admin, none);
        st_assert_fmt(r1.status >= 400 && r1.status < 500 && r1.status == r2.status &&
                          !strcmp(st_resp_error_code(&r1), st_resp_error_code(&r2)),
                      0, __FILE__, __LINE__, "%s %s %s: %ld %s, for an unknown id %ld %s",
                      cases[i].method, cases[i].path, real, r1.status, r1.body, r2.status, r2.body);
        st_resp_free(&r1);
        st_resp_free(&r2);
    }
}

static void test_lists_show_only_own_objects(void)
{
    const char *lists[] = {"/v1/instances",       "/v1/keypairs",
                           "/v1/images",          "/v1/api-keys",
                           "/v1/tenants",         "/v1/quotas",
                           "/v1/server-groups",   "/v1/billing/invoices",
                           "/v1/billing/usage",   "/v1/networks",
                           "/v1/subnets",         "/v1/ports",
                           "/v1/security-groups", "/v1/security-group-rules",
                           "/v1/routers",         "/v1/floating-ips"};
    const char *ids[] = {a_instance, a_keypair, a_image, a_apikey, A.id,   a_group,  a_invoice,
                         a_network,  a_subnet,  a_port,  a_sg,     a_rule, a_router, a_fip};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
        st_resp r;
        ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", lists[i], B.admin, NULL), 200);
        for (size_t k = 0; k < sizeof ids / sizeof *ids; k++)
            st_assert_fmt(strstr(r.body, ids[k]) == NULL, 0, __FILE__, __LINE__,
                          "%s shows one of A's ids", lists[i]);
        st_resp_free(&r);
    }
}

static void test_victims_objects_are_unchanged(void)
{
    char *s = gwt_instance_field(&T, A.member, a_instance, "state");
    ST_ASSERT_STR_EQ(s, "active");
    free(s);
    s = gwt_instance_field(&T, A.member, a_instance, "task");
    ST_ASSERT_STR_EQ(s, "(null)");
    free(s);
    char path[128];
    snprintf(path, sizeof path, "/v1/keypairs/%s", a_keypair);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, A.member, NULL), 200);
    st_resp r;
    snprintf(path, sizeof path, "/v1/images/%s", a_image);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.member, NULL), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "name")), "a-private");
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/auth/whoami", a_apikey_secret, NULL), 200);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/quotas", A.member, NULL), 200);
    ST_ASSERT_INT_EQ(
        json_integer_value(json_object_get(json_object_get(r.json, "limits"), "instances")), 10);
    st_resp_free(&r);
    char *tok = gwt_signin(&T, "victim-member", "password-123", NULL);
    CU_ASSERT_PTR_NOT_NULL(tok);
    free(tok);
    /* membership and roles of A are as they were */
    snprintf(path, sizeof path, "/v1/tenants/%s/members", A.id);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.reader, NULL), 200);
    CU_ASSERT_PTR_NULL(strstr(r.body, "attacker"));
    st_resp_free(&r);
    /* the networking objects are all there, unrenamed */
    const char *kinds[] = {"networks", "subnets", "ports", "security-groups"};
    const char *nids[] = {a_network, a_subnet, a_port, a_sg};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "/v1/%s/%s", kinds[i], nids[i]);
        ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.reader, NULL), 200);
        CU_ASSERT_PTR_NULL(strstr(r.body, "pwned"));
        st_resp_free(&r);
    }
    snprintf(path, sizeof path, "/v1/security-group-rules/%s", a_rule);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, A.reader, NULL), 200);
    snprintf(path, sizeof path, "/v1/routers/%s", a_router);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.reader, NULL), 200);
    CU_ASSERT_PTR_NULL(strstr(r.body, "pwned"));
    ST_ASSERT_INT_EQ(json_array_size(json_object_get(r.json, "interfaces")), 1);
    CU_ASSERT(json_is_object(json_object_get(r.json, "external_gateway_info")));
    st_resp_free(&r);
    snprintf(path, sizeof path, "/v1/floating-ips/%s", a_fip);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.reader, NULL), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "port_id")), a_port);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/flavors", A.reader, NULL), 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"disabled\" : false"));
    st_resp_free(&r);
}

static CU_TestInfo tests[] = {
    {"every parameterised route hides other tenants' objects",
     test_every_route_hides_other_tenants_objects},
    {"request bodies cannot reference other tenants' objects",
     test_bodies_cannot_reference_other_tenants_objects},
    {"query parameters (markers, filters) with other tenants' ids or names show nothing",
     test_query_parameters_hide_other_tenants_objects},
    {"membership and role routes refuse other tenants' users like unknown ones",
     test_membership_routes_with_foreign_users},
    {"bodies naming other tenants' objects answer as for unknown ids",
     test_bodies_with_foreign_ids_answer_as_unknown},
    {"lists show only the tenant's own objects", test_lists_show_only_own_objects},
    {"the victim's objects are unchanged afterwards", test_victims_objects_are_unchanged},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"isolation", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
