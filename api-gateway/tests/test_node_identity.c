/*
 * One node identity, checked by every service, that touches only its own
 * objects (common/nodeauth.h; migration 0011).
 *
 * The real gateway, image service and billing on one database. Node A runs
 * instances X and Z (image P), node B runs Y (image Q). Holding A's
 * credential, the test checks that:
 *   - every route of every service that is not a node's refuses it: the
 *     route lists come from `stratus-gateway routes`, `stratus-billing
 *     routes` and `stratus-images routes`, so a new route is swept too; a
 *     route anyone may call answers the node exactly as it answers nobody;
 *   - A reads only its own desired set and reports only for its instances;
 *     it reads only the images its instances boot from (metadata and bytes),
 *     and B's image answers 404 like one that does not exist;
 *   - billing takes A's samples only for instances placed on A at the
 *     sample's time: not B's instance, not before placement, not after the
 *     instance moved away, not with another tenant, never storage gauges;
 *   - a replaced credential and a removed host are refused by all three
 *     services at once, and a new credential works without any restart;
 *   - an instance snapshot (issue 16): the tenant's action makes a queued
 *     image and the order in A's set; A uploads its bytes with its own
 *     credential, B cannot, nor can A upload to any other image or the
 *     tenant through an upload URL; the report naming it clears the task;
 *     a failed or abandoned snapshot's image is killed with the reason.
 */
#include "gwt.h"
#include "st_test.h"
#include "stratus/timefmt.h"
#include "stratus/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static gwt T;
static gwt_tenant A, B;
static char *cred_a, *cred_b;
static char node_a[40], node_b[40];
static char flavor[40], image_p[40], image_q[40];
static char inst_x[40], inst_y[40], inst_z[40];
static char data_url[64];

static void sql_into(const char *sql, char out[40])
{
    char *v = gwt_sql_value(&T, sql);
    snprintf(out, 40, "%s", v ? v : "");
    free(v);
}

static void node_id_of(const char *name, char out[40])
{
    char *v = gwt_node_id(&T, name);
    snprintf(out, 40, "%s", v ? v : "");
    free(v);
}

static int create(const char *name, const char *image, char id[40])
{
    long s = gwt_create_instance(&T, A.member, name, "m1.small", image, NULL, id);
    if (s != 202)
        fprintf(stderr, "creating instance %s: %ld\n", name, s);
    return s == 202 ? 0 : -1;
}

static int suite_init(void)
{
    gwt_start(&T, "gw_nodeid", NULL);
    gwt_make_tenant(&T, "owner", &A);
    gwt_make_tenant(&T, "other", &B);
    gwt_make_catalog(&T, flavor, image_p);
    st_resp r;
    gwt_call(&T, &r, "POST", "/v1/images", T.admin_token,
             "{\"name\":\"q\",\"disk_format\":\"raw\",\"visibility\":\"public\"}");
    snprintf(image_q, sizeof image_q, "%s", json_string_value(json_object_get(r.json, "id")));
    st_resp_free(&r);
    char q[4096];
    memset(q, 'q', sizeof q);
    if (gwt_upload_image(&T, T.admin_token, image_q, q, sizeof q) != 200)
        return -1;
    cred_a = gwt_make_node(&T, "node-a", 16, 65536, 1000);
    node_id_of("node-a", node_a);
    if (create("x", image_p, inst_x) < 0 || create("z", image_p, inst_z) < 0)
        return -1;
    /* node A takes no more: Y goes to node B */
    char path[128];
    snprintf(path, sizeof path, "/v1/nodes/%s", node_a);
    gwt_status(&T, "PATCH", path, T.admin_token, "{\"disabled\":true}");
    cred_b = gwt_make_node(&T, "node-b", 16, 65536, 1000);
    node_id_of("node-b", node_b);
    if (create("y", image_q, inst_y) < 0)
        return -1;
    snprintf(data_url, sizeof data_url, "%s", T.images_data_url);
    char sql[200], on[40];
    snprintf(sql, sizeof sql, "SELECT node_id FROM iaas.instances WHERE id = '%s'", inst_y);
    sql_into(sql, on);
    return strcmp(on, node_b) == 0 ? 0 : -1;
}

static int suite_clean(void)
{
    free(cred_a);
    free(cred_b);
    gwt_free_tenant(&A);
    gwt_free_tenant(&B);
    gwt_stop(&T);
    return 0;
}

/* ---- requests to each service ---- */

static long call(const char *base, const char *method, const char *path, const char *cred,
                 const char *body, const char *const *hdrs)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", base, path);
    st_resp r;
    st_http(&r, method, url, cred, body, hdrs);
    long s = r.status;
    st_resp_free(&r);
    return s;
}

/* A one-sample batch for instance of tenant, taken at_us. */
static char *batch(const char *tenant, const char *instance, long long at_us)
{
    char id[40], boot[40], at[40];
    st_uuid_v4(id);
    st_uuid_v4(boot);
    st_time_format(at_us, at);
    /* with the instance's allocated disk, as a node agent sends it */
    return st_jsonf("{s:s, s:[{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:{s:i, s:i}, s:I}]}", "batch_id",
                    id, "samples", "tenant_id", tenant, "instance_id", instance, "flavor",
                    "m1.small", "state", "active", "boot_id", boot, "seq", 1, "sampled_at", at,
                    "counters", "cpu_time_ns_total", 5, "cycles_total", 10, "disk_bytes",
                    (json_int_t)10 << 30);
}

static long post_sample(const char *cred, const char *tenant, const char *instance, long long at_us)
{
    char *b = batch(tenant, instance, at_us);
    long s = call(T.billing_url, "POST", "/v1/billing/ingest", cred, b, NULL);
    free(b);
    return s;
}

#define HOUR_US 3600000000LL

/* ---- the sweep ---- */

/* path with every {param} replaced by id */
static void fill(const char *pattern, const char *id, char *out, size_t n)
{
    size_t o = 0;
    for (const char *p = pattern; *p && o + 40 < n; p++) {
        if (*p == '{') {
            o += (size_t)snprintf(out + o, n - o, "%s", id);
            p = strchr(p, '}');
            if (!p)
                break;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = 0;
}

/*
 * Calls every route `binary routes` prints (except skip_prefix ones: the
 * node's own) with the node's credential, object ids its own, and checks it
 * is refused: 401 or 403, or exactly what a caller with no credential gets.
 * extra: headers sent along (a forged principal). Returns routes checked.
 */
static int sweep(const char *binary, const char *base, const char *data_base,
                 const char *const *skip, const char *id, const char *const *extra)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "'%s' routes 2>/dev/null", st_build_path(binary));
    FILE *p = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    char line[256];
    int checked = 0;
    while (fgets(line, sizeof line, p)) {
        char method[16], pattern[200], path[300];
        if (sscanf(line, "%15s %199s", method, pattern) != 2)
            continue;
        char key[230];
        snprintf(key, sizeof key, "%s %s", method, pattern);
        int skipped = 0;
        for (int i = 0; skip[i]; i++)
            skipped |= strncmp(key, skip[i], strlen(skip[i])) == 0;
        if (skipped)
            continue;
        fill(pattern, id, path, sizeof path);
        const char *b = strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "DELETE")
                            ? "{}"
                            : NULL;
        const char *on = data_base && strstr(pattern, "/file") ? data_base : base;
        long with = call(on, method, path, cred_a, b, extra);
        long none = call(on, method, path, NULL, b, NULL);
        st_assert_fmt(with == 401 || with == 403 || with == none, 0, __FILE__, __LINE__,
                      "%s: %s %s with a node's credential answered %ld (no credential: %ld)",
                      binary, method, path, with, none);
        checked++;
    }
    pclose(p);
    return checked;
}

static void test_every_other_route_of_every_service_refuses_a_node(void)
{
    /* the gateway: all but the node API */
    const char *gw_skip[] = {"GET /internal/v1/node", "PUT /internal/v1/node", NULL};
    int n = sweep("api-gateway/stratus-gateway", T.base, NULL, gw_skip, inst_x, NULL);
    ST_ASSERT_INT_EQ(n > 60, 1);
    /* billing: all but ingest, even claiming to be the gateway for a cloud admin */
    const char *forged[] = {"X-Stratus-Cloud-Admin: true", NULL};
    const char *bl_skip[] = {"POST /v1/billing/ingest", NULL};
    n = sweep("billing/stratus-billing", T.billing_url, NULL, bl_skip, A.id, forged);
    ST_ASSERT_INT_EQ(n > 10, 1);
    /* images: all but reading an image and its bytes, on its own image P */
    const char *img_skip[] = {"GET /v1/images/{id}", "HEAD /v1/images/{id}/file", NULL};
    n = sweep("image-store/stratus-images", T.images_url, data_url, img_skip, image_p, forged);
    ST_ASSERT_INT_EQ(n >= 7, 1);
    /* the read routes skipped above take only what the node needs (below); the
     * image list is one of the swept ones */
    ST_ASSERT_INT_EQ(call(T.images_url, "GET", "/v1/images", cred_a, NULL, NULL), 403);
    /* the image service's other routes with the node's own image changed nothing */
    char path[128];
    snprintf(path, sizeof path, "/v1/images/%s", image_p);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.member, NULL), 200);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "status")), "active");
    st_resp_free(&r);
}

static void test_a_node_reads_and_reports_only_its_own_instances(void)
{
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/internal/v1/node/instances", cred_a, NULL), 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, inst_x));
    CU_ASSERT_PTR_NULL(strstr(r.body, inst_y));
    st_resp_free(&r);
    /* B's instance: reports and console pushes answer as for no instance */
    ST_ASSERT_INT_EQ(gwt_report(&T, cred_a, inst_y, "active", 1), 404);
    char path[128];
    snprintf(path, sizeof path, "/internal/v1/node/instances/%s/console", inst_y);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, cred_a, "{\"output\":\"x\"}") / 100, 4);
    long long gen = gwt_instance_generation(&T, A.member, inst_y);
    ST_ASSERT_INT_EQ(gwt_report(&T, cred_b, inst_y, "active", gen) / 100, 2);
}

static void test_a_node_reads_only_the_images_its_instances_need(void)
{
    char p[128], q[128];
    snprintf(p, sizeof p, "/v1/images/%s", image_p);
    snprintf(q, sizeof q, "/v1/images/%s", image_q);
    ST_ASSERT_INT_EQ(call(T.images_url, "GET", p, cred_a, NULL, NULL), 200);
    ST_ASSERT_INT_EQ(call(T.images_url, "GET", q, cred_a, NULL, NULL), 404);
    ST_ASSERT_INT_EQ(call(T.images_url, "GET", q, cred_b, NULL, NULL), 200);
    ST_ASSERT_INT_EQ(call(T.images_url, "GET", p, cred_b, NULL, NULL), 404);
    strcat(p, "/file");
    strcat(q, "/file");
    ST_ASSERT_INT_EQ(call(data_url, "GET", p, cred_a, NULL, NULL), 200);
    ST_ASSERT_INT_EQ(call(data_url, "GET", q, cred_a, NULL, NULL), 404);
    ST_ASSERT_INT_EQ(call(data_url, "GET", q, cred_b, NULL, NULL), 200);
    /* an image no instance uses: nobody's */
    char none[128];
    snprintf(none, sizeof none, "/v1/images/%s/file", "7b0e4c1a-1111-4222-8333-444455556666");
    ST_ASSERT_INT_EQ(call(data_url, "GET", none, cred_a, NULL, NULL), 404);
    /* and no node writes one */
    ST_ASSERT_INT_EQ(call(data_url, "PUT", p, cred_a, "x", NULL), 403);
}

static void test_a_node_bills_only_instances_placed_on_it(void)
{
    long long now = st_now_us();
    ST_ASSERT_INT_EQ(post_sample(cred_a, A.id, inst_x, now), 200);
    ST_ASSERT_INT_EQ(post_sample(cred_a, A.id, inst_y, now), 403); /* B's instance */
    /* its own instance's allocated disk is kept; the refused batch left none */
    char dq[200];
    snprintf(dq, sizeof dq,
             "SELECT coalesce(sum(bytes), 0) FROM billing.disk_hourly WHERE instance_id = '%s'",
             inst_x);
    char *dv = gwt_sql_value(&T, dq);
    ST_ASSERT_STR_EQ(dv ? dv : "", "10737418240");
    free(dv);
    snprintf(dq, sizeof dq, "SELECT count(*) FROM billing.disk_hourly WHERE instance_id = '%s'",
             inst_y);
    dv = gwt_sql_value(&T, dq);
    ST_ASSERT_STR_EQ(dv ? dv : "", "0");
    free(dv);
    ST_ASSERT_INT_EQ(post_sample(cred_b, A.id, inst_y, now), 200);
    ST_ASSERT_INT_EQ(post_sample(cred_a, B.id, inst_x, now), 403); /* not X's tenant */
    ST_ASSERT_INT_EQ(post_sample(cred_a, A.id, "7b0e4c1a-1111-4222-8333-444455556666", now), 403);
    ST_ASSERT_INT_EQ(post_sample(cred_a, A.id, inst_x, now - 24 * HOUR_US), 403); /* before */
    /* one bad sample refuses the whole batch */
    char id[40], boot[40], boot2[40], at[40];
    st_uuid_v4(id);
    st_uuid_v4(boot);
    st_uuid_v4(boot2);
    st_time_format(now, at);
    char *two = st_jsonf("{s:s, s:[{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:{s:i, s:i}},"
                         " {s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:{s:i, s:i}}]}",
                         "batch_id", id, "samples", "tenant_id", A.id, "instance_id", inst_x,
                         "flavor", "m1.small", "state", "active", "boot_id", boot, "seq", 2,
                         "sampled_at", at, "counters", "cpu_time_ns_total", 10, "cycles_total", 20,
                         "tenant_id", A.id, "instance_id", inst_y, "flavor", "m1.small", "state",
                         "active", "boot_id", boot2, "seq", 3, "sampled_at", at, "counters",
                         "cpu_time_ns_total", 10, "cycles_total", 30);
    ST_ASSERT_INT_EQ(call(T.billing_url, "POST", "/v1/billing/ingest", cred_a, two, NULL), 403);
    free(two);
    /* storage gauges are the control plane's, not a node's */
    st_uuid_v4(id);
    char *st =
        st_jsonf("{s:s, s:[{s:s, s:s, s:s, s:I}]}", "batch_id", id, "samples", "kind", "storage",
                 "tenant_id", A.id, "sampled_at", at, "image_bytes", (json_int_t)1);
    ST_ASSERT_INT_EQ(call(T.billing_url, "POST", "/v1/billing/ingest", cred_a, st, NULL), 403);
    free(st);
    /* Z moves from A to B; then, with its placements set back in time, it
     * was on A from 3 h to 1 h ago and is on B since. */
    char sql[600];
    snprintf(sql, sizeof sql, "UPDATE iaas.instances SET node_id = '%s' WHERE id = '%s'", node_b,
             inst_z);
    gwt_sql(&T, sql);
    snprintf(sql, sizeof sql,
             "UPDATE iaas.placements SET since = CASE WHEN until IS NULL"
             " THEN since - interval '1 hour' ELSE since - interval '3 hours' END,"
             " until = until - interval '1 hour' WHERE instance_id = '%s'",
             inst_z);
    gwt_sql(&T, sql);
    ST_ASSERT_INT_EQ(post_sample(cred_a, A.id, inst_z, now - 2 * HOUR_US), 200);
    ST_ASSERT_INT_EQ(post_sample(cred_a, A.id, inst_z, now), 403);
    ST_ASSERT_INT_EQ(post_sample(cred_b, A.id, inst_z, now - 2 * HOUR_US), 403);
    ST_ASSERT_INT_EQ(post_sample(cred_b, A.id, inst_z, now), 200);
}

static void test_a_replaced_or_removed_node_is_refused_everywhere_at_once(void)
{
    char img[128], path[128];
    snprintf(img, sizeof img, "/v1/images/%s", image_q);
    /* B's credential is replaced: the old one stops everywhere, the new one
     * works everywhere, nothing restarted */
    snprintf(path, sizeof path, "/v1/nodes/%s/credential", node_b);
    st_resp r;
    ST_ASSERT_INT_EQ_FATAL(gwt_call(&T, &r, "POST", path, T.admin_token, NULL), 200);
    char *fresh = strdup(json_string_value(json_object_get(r.json, "token")));
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/internal/v1/node/instances", cred_b, NULL), 401);
    ST_ASSERT_INT_EQ(call(T.images_url, "GET", img, cred_b, NULL, NULL), 401);
    ST_ASSERT_INT_EQ(post_sample(cred_b, A.id, inst_y, st_now_us()), 401);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/internal/v1/node/instances", fresh, NULL), 200);
    ST_ASSERT_INT_EQ(call(T.images_url, "GET", img, fresh, NULL, NULL), 200);
    ST_ASSERT_INT_EQ(post_sample(fresh, A.id, inst_y, st_now_us()), 200);
    free(cred_b);
    cred_b = fresh; /* B's from now on */
    /* a host that is removed */
    char *c = gwt_make_node(&T, "node-c", 4, 4096, 100);
    char id[40];
    node_id_of("node-c", id);
    const char *empty = "{\"batch_id\":\"0b8a1f43-5d36-4a2e-9d1c-1f0e2d3c4b5a\",\"samples\":[]}";
    ST_ASSERT_INT_EQ(call(T.billing_url, "POST", "/v1/billing/ingest", c, empty, NULL), 200);
    ST_ASSERT_INT_EQ(call(T.images_url, "GET", img, c, NULL, NULL), 404);
    snprintf(path, sizeof path, "/v1/nodes/%s", id);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, T.admin_token, NULL), 204);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/internal/v1/node/instances", c, NULL), 401);
    ST_ASSERT_INT_EQ(call(T.images_url, "GET", img, c, NULL, NULL), 401);
    ST_ASSERT_INT_EQ(call(T.billing_url, "POST", "/v1/billing/ingest", c, empty, NULL), 401);
    free(c);
}

static void test_the_internal_token_is_no_nodes(void)
{
    /* the gateway's node API does not take it either */
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/internal/v1/node/instances", T.internal_token, NULL),
                     401);
}

/* Billing names instances from the gateway's facts (iaas.instance_labels):
 * A's draft, read through the gateway, shows X by its name beside its id. */
static void test_billing_names_instances_from_the_gateway(void)
{
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/billing/invoices", A.member, NULL), 200);
    json_t *d = json_array_get(json_object_get(r.json, "invoices"), 0);
    char path[160];
    snprintf(path, sizeof path, "/v1/billing/invoices/%s",
             d ? json_string_value(json_object_get(d, "id")) : "none");
    st_resp_free(&r);
    ST_ASSERT_INT_EQ_FATAL(gwt_call(&T, &r, "GET", path, A.member, NULL), 200);
    int named = 0;
    size_t k;
    json_t *l;
    json_array_foreach(json_object_get(r.json, "lines"), k, l)
    {
        const char *inst = json_string_value(json_object_get(l, "instance_id"));
        const char *name = json_string_value(json_object_get(l, "instance_name"));
        if (inst && strcmp(inst, inst_x) == 0)
            named += name && strcmp(name, "x") == 0;
    }
    st_resp_free(&r);
    CU_ASSERT(named > 0);
}

/* ---- instance snapshots ---- */

static long snapshot_of(const char *token, const char *inst, const char *body, char image[40])
{
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%s/actions", inst);
    st_resp r;
    long s = gwt_call(&T, &r, "POST", path, token, body);
    const char *id = json_string_value(json_object_get(r.json, "image_id"));
    snprintf(image, 40, "%s", id ? id : "");
    if (s == 202) {
        char loc[80];
        snprintf(loc, sizeof loc, "/v1/images/%s", image);
        char *h = st_resp_header(&r, "Location");
        ST_ASSERT_STR_EQ(h ? h : "", loc);
        free(h);
    }
    st_resp_free(&r);
    return s;
}

static char *image_field(const char *image, const char *field)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/images/%s", image);
    st_resp r;
    gwt_call(&T, &r, "GET", path, A.member, NULL);
    const char *v = json_string_value(json_object_get(r.json, field));
    char *out = strdup(v ? v : "(null)");
    st_resp_free(&r);
    return out;
}

/* PUT bytes to url with cred; the status. */
static long put_bytes(const char *url, const char *cred, const char *b, size_t n)
{
    st_resp r;
    long s = st_http_n(&r, "PUT", url, cred, b, n, NULL) == 0 ? r.status : -1;
    st_resp_free(&r);
    return s;
}

/* A node's report ending snapshot image (fault: it failed). */
static long report_snapshot(const char *cred, const char *inst, const char *image,
                            const char *fault)
{
    char path[128];
    snprintf(path, sizeof path, "/internal/v1/node/instances/%s", inst);
    char *b = fault ? st_jsonf("{s:s, s:I, s:s, s:s}", "state", "active", "generation",
                               (json_int_t)gwt_instance_generation(&T, A.member, inst),
                               "snapshot_image_id", image, "snapshot_fault", fault)
                    : st_jsonf("{s:s, s:I, s:s}", "state", "active", "generation",
                               (json_int_t)gwt_instance_generation(&T, A.member, inst),
                               "snapshot_image_id", image);
    long s = gwt_status(&T, "PUT", path, cred, b);
    free(b);
    return s;
}

static void test_a_node_uploads_only_the_snapshot_of_its_instance(void)
{
    ST_ASSERT_INT_EQ_FATAL(
        gwt_report(&T, cred_a, inst_x, "active", gwt_instance_generation(&T, A.member, inst_x)),
        200);
    char img[40], other[40];
    /* what the action refuses */
    const char *bad[] = {"{\"action\":\"snapshot\"}", "{\"action\":\"snapshot\",\"name\":\"\"}",
                         "{\"action\":\"stop\",\"name\":\"s\"}", NULL};
    for (int i = 0; bad[i]; i++)
        ST_ASSERT_INT_EQ(snapshot_of(A.member, inst_x, bad[i], img), 400);
    char big[400];
    snprintf(big, sizeof big, "{\"action\":\"snapshot\",\"name\":\"%0256d\"}", 0);
    ST_ASSERT_INT_EQ(snapshot_of(A.member, inst_x, big, img), 400);
    const char *snap = "{\"action\":\"snapshot\",\"name\":\"x at noon\"}";
    ST_ASSERT_INT_EQ(snapshot_of(B.member, inst_x, snap, img), 404); /* another tenant's */
    ST_ASSERT_INT_EQ(snapshot_of(A.reader, inst_x, snap, img), 403);

    ST_ASSERT_INT_EQ_FATAL(snapshot_of(A.member, inst_x, snap, img), 202);
    char *task = gwt_instance_field(&T, A.member, inst_x, "task");
    ST_ASSERT_STR_EQ(task, "image_snapshot");
    free(task);
    ST_ASSERT_INT_EQ(snapshot_of(A.member, inst_x, snap, other), 409); /* one at a time */
    char *v = image_field(img, "status");
    ST_ASSERT_STR_EQ(v, "queued");
    free(v);
    v = image_field(img, "source_instance_id");
    ST_ASSERT_STR_EQ(v, inst_x);
    free(v);
    v = image_field(img, "boot");
    char *want = image_field(image_p, "boot");
    ST_ASSERT_STR_EQ(v, want);
    free(v);
    free(want);
    v = image_field(img, "disk_format");
    ST_ASSERT_STR_EQ(v, "qcow2");
    free(v);
    /* the order is in A's set */
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/internal/v1/node/instances", cred_a, NULL), 200);
    json_t *it;
    size_t k;
    int ordered = 0;
    json_array_foreach(json_object_get(r.json, "instances"), k, it)
    {
        const char *s = json_string_value(json_object_get(it, "snapshot_image_id"));
        ordered += s && !strcmp(s, img);
    }
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(ordered, 1);

    /* the bytes: a small qcow2 */
    char dir[] = "/tmp/st-snapXXXXXX", cmd[400], file[64];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/s.qcow2", dir);
    snprintf(cmd, sizeof cmd, "qemu-img create -q -f qcow2 %s 1M", file);
    ST_ASSERT_INT_EQ_FATAL(system(cmd), 0);
    FILE *f = fopen(file, "rb");
    char q[1 << 18];
    size_t qn = fread(q, 1, sizeof q, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ST_ASSERT_INT_EQ(system(cmd), 0);
    char url[256], purl[256];
    snprintf(url, sizeof url, "%s/v1/images/%s/file", data_url, img);
    snprintf(purl, sizeof purl, "%s/v1/images/%s/file", data_url, image_p);
    /* B's credential, A's on another image, the tenant: refused */
    ST_ASSERT_INT_EQ(put_bytes(url, cred_b, q, qn), 403);
    ST_ASSERT_INT_EQ(put_bytes(purl, cred_a, q, qn), 403);
    char path[160];
    snprintf(path, sizeof path, "/v1/images/%s/upload-url", img);
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", path, A.member, NULL), 409);
    /* A's: the image is active with those bytes */
    ST_ASSERT_INT_EQ(put_bytes(url, cred_a, q, qn), 200);
    v = image_field(img, "status");
    ST_ASSERT_STR_EQ(v, "active");
    free(v);
    ST_ASSERT_INT_EQ(put_bytes(url, cred_a, q, qn), 403); /* once */
    /* B cannot end A's snapshot; A's report clears the task */
    ST_ASSERT_INT_EQ(report_snapshot(cred_b, inst_x, img, NULL), 404);
    ST_ASSERT_INT_EQ(report_snapshot(cred_a, inst_x, img, NULL), 200);
    task = gwt_instance_field(&T, A.member, inst_x, "task");
    ST_ASSERT_STR_EQ(task ? task : "(null)", "(null)");
    free(task);
    v = image_field(img, "status");
    ST_ASSERT_STR_EQ(v, "active");
    free(v);

    /* a snapshot the node failed: killed with its reason, the task gone */
    ST_ASSERT_INT_EQ_FATAL(snapshot_of(A.member, inst_x, snap, img), 202);
    ST_ASSERT_INT_EQ(report_snapshot(cred_a, inst_x, img, "disk copy failed: EIO"), 200);
    v = image_field(img, "status");
    ST_ASSERT_STR_EQ(v, "killed");
    free(v);
    v = image_field(img, "status_reason");
    CU_ASSERT_PTR_NOT_NULL(strstr(v, "disk copy failed: EIO"));
    free(v);
    snprintf(url, sizeof url, "%s/v1/images/%s/file", data_url, img);
    ST_ASSERT_INT_EQ(put_bytes(url, cred_a, q, qn), 403);

    /* deleting the instance abandons its snapshot; a deleting one takes none
     * (Z is on B since the billing test moved it) */
    ST_ASSERT_INT_EQ_FATAL(snapshot_of(A.member, inst_z, snap, img), 409); /* building */
    ST_ASSERT_INT_EQ_FATAL(
        gwt_report(&T, cred_b, inst_z, "active", gwt_instance_generation(&T, A.member, inst_z)),
        200);
    ST_ASSERT_INT_EQ_FATAL(snapshot_of(A.member, inst_z, snap, img), 202);
    snprintf(path, sizeof path, "/v1/instances/%s", inst_z);
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", path, A.member, NULL), 202);
    v = image_field(img, "status");
    ST_ASSERT_STR_EQ(v, "killed");
    free(v);
    ST_ASSERT_INT_EQ(snapshot_of(A.member, inst_z, snap, other), 409);
}

static CU_TestInfo tests[] = {
    {"every other route of every service refuses a node's credential",
     test_every_other_route_of_every_service_refuses_a_node},
    {"a node reads and reports only its own instances",
     test_a_node_reads_and_reports_only_its_own_instances},
    {"a node reads only the images its instances need",
     test_a_node_reads_only_the_images_its_instances_need},
    {"a node bills only instances placed on it at the sample's time",
     test_a_node_bills_only_instances_placed_on_it},
    {"billing names instances from the gateway's facts",
     test_billing_names_instances_from_the_gateway},
    {"a replaced or removed node is refused by every service at once",
     test_a_replaced_or_removed_node_is_refused_everywhere_at_once},
    {"the internal token is no node's", test_the_internal_token_is_no_nodes},
    {"a node uploads only the snapshot of its own instance",
     test_a_node_uploads_only_the_snapshot_of_its_instance},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"node identity", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
