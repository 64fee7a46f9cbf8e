/*
 * The dashboard's billing and cloud admin pages, in a real browser.
 *
 * A real gateway with real billing and PostgreSQL holds a cloud admin, a
 * tenant "globex" with a running instance, two heartbeating hosts (one
 * empty), a default price plan, usage two months ago (issued into invoice
 * INV-000001 at set-up), last month and on three of the last days. Chromium,
 * driven through cdp.c, walks every admin page as the cloud admin and every
 * billing page as the cloud admin and as the tenant's admin, doing each
 * page's main action through its form or button: a tenant created, given a
 * quota and deleted; a user, a flavor (then disabled) and a price plan
 * created; globex put on the plan; last month previewed and issued; the
 * usage chart checked bar by bar against GET /v1/billing/usage; an
 * invoice's HTML viewed (styled, under the dashboard's CSP) and its PDF and
 * CSV downloaded and checked byte for byte against the API; the billing
 * account saved. What the pages show is compared with what the API says.
 *
 * A screenshot of each page is saved as
 * <build>/test-output/gateway_dashboard_admin/<page>.png (admin- or
 * tenant- prefixed), for a person to look at; the test does not judge them.
 * Every console error, exception or CSP violation fails the test.
 */
#include "cdp.h"
#include "gwt.h"
#include "st_test.h"

#include "stratus/timefmt.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static gwt T;
static gwt_tenant A;
static char *node1, *node2;
static char flavor[40], image[40], inst[40];
static char month2[16], month1[16]; /* two months ago (issued at set-up), last month */

static int signed_in; /* the admin's sign-in worked: later tests build on it */
static int tenant_in; /* the same for the tenant's admin */
static char shots[512], downloads[512];

#define DAY_US (24LL * 3600 * 1000000)

/* "YYYY-MM" of the month n months before now, and its 2nd day 10:00 UTC. */
static long long month_ago(int n, char out[16])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int m = tm.tm_year * 12 + tm.tm_mon - n;
    snprintf(out, 16, "%04d-%02d", m / 12 + 1900, m % 12 + 1);
    struct tm d = {.tm_year = m / 12, .tm_mon = m % 12, .tm_mday = 2, .tm_hour = 10};
    return (long long)timegm(&d) * 1000000;
}

static int suite_init(void)
{
    signal(SIGPIPE, SIG_IGN);
    atexit(cdp_kill);
    gwt_start(&T, "gw_dashadm", NULL);
    gwt_make_tenant(&T, "globex", &A);
    node1 = gwt_make_node(&T, "host-busy", 16, 65536, 1000);
    node2 = gwt_make_node(&T, "host-idle", 8, 32768, 500);
    gwt_make_catalog(&T, flavor, image);
    if (gwt_create_instance(&T, A.member, "app-1", "m1.small", image, NULL, inst) != 202 ||
        gwt_report(&T, node1, inst, "active", gwt_instance_generation(&T, NULL, inst)) != 200)
        return -1;
    /* a default plan, usage two months ago (issued now), last month, and on
     * three of the last days */
    const char *plan =
        "{\"name\":\"standard\",\"default\":true,\"prices\":{\"cpu_per_gcycle\":1000,"
        "\"rx_per_gib\":0,\"tx_per_gib\":10000,\"storage_per_gib_month\":20000,"
        "\"instance_hour_default\":5000}}";
    if (gwt_status(&T, "POST", "/v1/billing/plans", T.admin_token, plan) != 201)
        return -1;
    long long m2 = month_ago(2, month2), m1 = month_ago(1, month1), now = st_now_us();
    long long at[] = {m2, m2 + 3600000000LL, m1, m1 + 3600000000LL, now - 2 * DAY_US, now - DAY_US,
                      now};
    for (int i = 0; i < 7; i++)
        if (gwt_bill_sample_at(&T, A.id, inst, i + 1, (i + 1) * 2000000000LL, at[i]) != 200)
            return -1;
    char path[80];
    snprintf(path, sizeof path, "/v1/billing/periods/%s/issue", month2);
    if (gwt_status(&T, "POST", path, T.admin_token, NULL) != 201)
        return -1;
    snprintf(shots, sizeof shots, "%s", st_build_path("test-output/gateway_dashboard_admin"));
    snprintf(downloads, sizeof downloads, "%s/downloads", T.dir);
    mkdir(downloads, 0700);
    if (cdp_launch(&B) < 0 || cdp_open_page(&B) < 0) {
        fprintf(stderr, "cannot drive chromium\n");
        return -1;
    }
    return 0;
}

static int suite_clean(void)
{
    cdp_close();
    gwt_free_tenant(&A);
    free(node1);
    free(node2);
    gwt_stop(&T);
    return 0;
}

/* Goes to #/<page>[/<param>] and waits until the router shows it. */
static int go(const char *page, const char *param)
{
    char hash[160];
    snprintf(hash, sizeof hash, "#/%s%s%s", page, param ? "/" : "", param ? param : "");
    char *h = lit(hash);
    json_decref(js("location.hash = %s", h));
    free(h);
    return wait_js(page, "document.getElementById('page')?.dataset.page === '%s'", page);
}

/* The page's text for a selector (malloc'd, NULL when absent). */
static char *text_of(const char *selector)
{
    char *s = lit(selector);
    char *t = js_text("document.querySelector(%s)?.textContent ?? null", s);
    free(s);
    return t;
}

/* The JSON of GET path as token sees it (caller frees r). */
static json_t *get(st_resp *r, const char *path, const char *token)
{
    st_assert_fmt(gwt_call(&T, r, "GET", path, token, NULL) == 200, 1, __FILE__, __LINE__,
                  "GET %s: %ld", path, r->status);
    return r->json;
}

static void test_pages_scripts_are_served(void)
{
    const char *files[] = {"/dashboard/admin.js", "/dashboard/billing.js", "/dashboard/charts.js"};
    for (int i = 0; i < 3; i++) {
        char url[256];
        snprintf(url, sizeof url, "%s%s", T.base, files[i]);
        st_resp r;
        st_http(&r, "GET", url, NULL, NULL, NULL);
        char *ct = st_resp_header(&r, "Content-Type"),
             *csp = st_resp_header(&r, "Content-Security-Policy");
        st_assert_fmt(r.status == 200 && ct && !strncmp(ct, "text/javascript", 15), 0, __FILE__,
                      __LINE__, "%s: %ld %s", files[i], r.status, ct ? ct : "");
        /* nothing inline but billing's invoice stylesheet, by its hash */
        CU_ASSERT(csp && strstr(csp, "style-src 'self' 'sha256-") && !strstr(csp, "unsafe-"));
        free(ct);
        free(csp);
        st_resp_free(&r);
    }
}

/* "A% -> B%" as the Hosts page writes a load before and after. */
static void before_after(json_t *before, json_t *after, const char *key, char out[64])
{
    snprintf(out, 64, "%ld%% \u2192 %ld%%",
             lround(100 * json_real_value(json_object_get(before, key))),
             lround(100 * json_real_value(json_object_get(after, key))));
}

/* The Hosts page's rebalance plan: what GET /v1/scheduler/rebalance says. */
static void check_rebalance_plan(void)
{
    st_resp r;
    json_t *plan = get(&r, "/v1/scheduler/rebalance", T.admin_token), *n;
    json_t *nodes = json_object_get(plan, "nodes"), *moves = json_object_get(plan, "moves");
    int serving = 0;
    size_t i;
    json_array_foreach(nodes, i, n) serving += json_is_true(json_object_get(n, "in_service"));
    CU_ASSERT_FATAL(wait_js("the rebalance plan",
                            "document.querySelectorAll('#rebalance-hosts tbody tr').length === %d"
                            " && document.getElementById('rebalance-summary').textContent !== ''",
                            serving));
    ST_ASSERT_INT_EQ(js_true("document.querySelectorAll('#rebalance-moves tbody tr').length === %d",
                             (int)json_array_size(moves)),
                     1);
    /* two hosts, the one instance on the busy one: moving it would only swap them */
    ST_ASSERT_INT_EQ(json_array_size(moves), 0);
    CU_ASSERT(js_true("!document.querySelector('#rebalance .empty').hidden"));
    json_array_foreach(nodes, i, n)
    {
        if (!json_is_true(json_object_get(n, "in_service")))
            continue;
        char want[64];
        before_after(json_object_get(n, "before"), json_object_get(n, "after"), "cpu", want);
        char *cpu = js_text("document.querySelector('#rebalance-hosts tr[data-id=\"%s\"] .c-cpu')"
                            "?.textContent ?? ''",
                            json_string_value(json_object_get(n, "node_id")));
        st_assert_fmt(cpu && !strcmp(cpu, want), 0, __FILE__, __LINE__, "%s CPU: %s, want %s",
                      json_string_value(json_object_get(n, "node")), cpu, want);
        free(cpu);
    }
    char want[96], spread[64];
    before_after(json_object_get(plan, "imbalance_before"),
                 json_object_get(plan, "imbalance_after"), "cpu_spread", spread);
    snprintf(want, sizeof want, "CPU load spread %s", spread);
    char *summary = text_of("#rebalance-summary");
    st_assert_fmt(summary && strstr(summary, want) && strstr(summary, "threshold 20%") &&
                      strstr(summary, "0 of at most 10 moves: the hosts are within the threshold"),
                  0, __FILE__, __LINE__, "summary: %s, want %s", summary, want);
    free(summary);
    st_resp_free(&r);
}

/* The Hosts page's consolidation plan, beside it: what GET /v1/scheduler/consolidation says. */
static void check_consolidation_plan(void)
{
    st_resp r;
    json_t *plan = get(&r, "/v1/scheduler/consolidation", T.admin_token);
    CU_ASSERT_FATAL(wait_js("the consolidation plan",
                            "document.getElementById('consolidation-summary').textContent !== ''"));
    ST_ASSERT_INT_EQ(
        js_true("document.querySelectorAll('#consolidation-moves tbody tr').length === %d",
                (int)json_array_size(json_object_get(plan, "moves"))),
        1);
    char want[96];
    snprintf(want, sizeof want, "Hosts holding instances %lld \u2192 %lld",
             (long long)json_integer_value(json_object_get(plan, "nodes_on")),
             (long long)json_integer_value(json_object_get(plan, "nodes_on_after")));
    char *summary = text_of("#consolidation-summary");
    st_assert_fmt(summary && strstr(summary, want), 0, __FILE__, __LINE__, "summary: %s, want %s",
                  summary, want);
    free(summary);
    /* side by side with the rebalance plan */
    CU_ASSERT(js_true("document.getElementById('rebalance').parentElement ==="
                      " document.getElementById('consolidation').parentElement"));
    st_resp_free(&r);
}

/* Apply on a plan's card: the first click only arms it (nothing is sent), the second POSTs
 * the plan and says what started; here nothing can move (the hosts' agents take no live
 * migration yet), so none did, as the API says. */
static void check_apply(const char *kind)
{
    char sel[96], path[64];
    snprintf(sel, sizeof sel, "#%s button[data-action=%s-apply]", kind, kind);
    snprintf(path, sizeof path, "/v1/scheduler/%s", kind);
    char *before = gwt_sql_value(&T, "SELECT count(*) FROM iaas.migrations");
    click(sel);
    CU_ASSERT(wait_js("the armed button",
                      "document.querySelector('%s').textContent ==="
                      " 'Confirm apply'",
                      sel));
    char rid[48];
    snprintf(rid, sizeof rid, "#%s-result", kind);
    char *res = text_of(rid);
    ST_ASSERT_STR_EQ(res, "");
    free(res);
    click(sel);
    CU_ASSERT(
        wait_js("the outcome", "document.getElementById('%s-result').textContent !== ''", kind));
    res = text_of(rid);
    st_assert_fmt(res && !strncmp(res, "0 migrations started.", 21), 0, __FILE__, __LINE__,
                  "%s: %s", kind, res);
    free(res);
    char *after = gwt_sql_value(&T, "SELECT count(*) FROM iaas.migrations");
    ST_ASSERT_STR_EQ(after, before);
    free(before);
    free(after);
}

static void test_admin_lands_on_hosts(void)
{
    char url[128];
    snprintf(url, sizeof url, "%s/dashboard/", T.base);
    json_decref(cdp_call(&B, 1, "Page.navigate", json_pack("{s:s}", "url", url)));
    CU_ASSERT_FATAL(
        wait_js("the sign-in form", "document.getElementById('signin-view')?.hidden === false"));
    submit_signin("admin", "admin-password-1", NULL);
    CU_ASSERT_FATAL(wait_js("the hosts page", "location.hash === '#/hosts' &&"
                                              " document.querySelectorAll('#hosts tbody tr')"
                                              ".length === 2"));
    signed_in = 1;
    /* the admin's navigation, and what each row says against the API */
    CU_ASSERT(js_true("document.querySelector('#nav [data-group=admin] a[data-page=plans]')"));
    st_resp r;
    json_t *n;
    size_t i;
    json_t *nodes = json_object_get(get(&r, "/v1/nodes", T.admin_token), "nodes");
    json_array_foreach(nodes, i, n)
    {
        const char *id = json_string_value(json_object_get(n, "id"));
        json_t *cap = json_object_get(n, "capacity"), *used = json_object_get(n, "used");
        char want[128];
        snprintf(want, sizeof want, "%lld vCPU",
                 (long long)(json_integer_value(json_object_get(cap, "vcpus")) -
                             json_integer_value(json_object_get(used, "vcpus"))));
        char *free_ = js_text("document.querySelector('#hosts tr[data-id=\"%s\"] .c-free')"
                              "?.textContent ?? ''",
                              id);
        st_assert_fmt(free_ && strstr(free_, want), 0, __FILE__, __LINE__, "%s free: %s, want %s",
                      json_string_value(json_object_get(n, "name")), free_, want);
        free(free_);
        char *empty = js_text("document.querySelector('#hosts tr[data-id=\"%s\"] .c-empty')"
                              ".textContent",
                              id);
        ST_ASSERT_INT_EQ(empty && strstr(empty, "could power off") != NULL,
                         json_is_true(json_object_get(n, "empty")));
        free(empty);
        /* its power state, and power off offered for an empty host */
        char *power = js_text("document.querySelector('#hosts tr[data-id=\"%s\"] .c-power"
                              " .power-state').textContent",
                              id);
        ST_ASSERT_STR_EQ(power, json_string_value(json_object_get(n, "power_state")));
        free(power);
        ST_ASSERT_INT_EQ(js_true("!!document.querySelector('#hosts tr[data-id=\"%s\"] .c-power"
                                 " button[data-action=power-off]')",
                                 id),
                         json_is_true(json_object_get(n, "empty")));
    }
    st_resp_free(&r);
    char *idle = text_of("#hosts-idle");
    CU_ASSERT(idle && strstr(idle, "host-idle") && !strstr(idle, "host-busy"));
    free(idle);
    check_rebalance_plan();
    check_consolidation_plan();
    check_apply("rebalance");
    check_apply("consolidation");
    cdp_shot(shots, "admin-hosts");
}

/* Both hosts heartbeat as agents that take part in live migrations. */
static void beat_both(void)
{
    const char *b1 = "{\"capacity\":{\"vcpus\":16,\"memory_mib\":65536,\"disk_gib\":1000,"
                     "\"firmware\":true,\"live_migration\":true,\"block_migration\":true}}";
    const char *b2 = "{\"capacity\":{\"vcpus\":8,\"memory_mib\":32768,\"disk_gib\":500,"
                     "\"firmware\":true,\"live_migration\":true,\"block_migration\":true}}";
    gwt_status(&T, "PUT", "/internal/v1/node", node1, b1);
    gwt_status(&T, "PUT", "/internal/v1/node", node2, b2);
}

/* The cloud admin's moves on an instance's page: Migrate (to a host it
 * picks among those that can take a live migration) with the progress in
 * the facts, Cancel migration, and Evacuate (two clicks) once the host is
 * down, each checked against the API. */
static void test_admin_migrates_and_evacuates_from_the_instance_page(void)
{
    CU_ASSERT_FATAL(signed_in);
    beat_both();
    char id[40];
    ST_ASSERT_INT_EQ_FATAL(
        gwt_create_instance(&T, T.admin_token, "adm-1", "m1.small", image, NULL, id), 202);
    char *on = gwt_instance_field(&T, T.admin_token, id, "node_id");
    char *id1 = gwt_node_id(&T, "host-busy");
    int first = on && id1 && !strcmp(on, id1);
    const char *tok = first ? node1 : node2, *other = first ? "host-idle" : "host-busy";
    free(on);
    free(id1);
    ST_ASSERT_INT_EQ(gwt_report(&T, tok, id, "active", gwt_instance_generation(&T, NULL, id)), 200);
    char sql[160];
    /* on Ceph and booted directly, as the test guest is */
    snprintf(sql, sizeof sql,
             "UPDATE iaas.instances SET disk_backend = 'rbd', boot = 'kernel' WHERE id = '%s'", id);
    gwt_sql(&T, sql);
    CU_ASSERT_FATAL(go("instance", id));
    CU_ASSERT_FATAL(
        wait_js("the migrate button and the other host",
                "!!document.querySelector('#instance-admin button[data-action=migrate]')"
                " && document.querySelectorAll('#migrate-host option').length === 2"));
    json_decref(js("document.getElementById('migrate-host').value = '%s'", other));
    click("#instance-admin button[data-action=migrate]");
    CU_ASSERT(wait_js("the migration's progress",
                      "document.querySelector('[data-fact=migration] dd')"
                      "?.textContent === 'preparing to %s'",
                      other));
    st_resp r;
    char path[160];
    snprintf(path, sizeof path, "/v1/migrations?instance_id=%s", id);
    json_t *m = json_array_get(json_object_get(get(&r, path, T.admin_token), "migrations"), 0);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(m, "dest_node")), other);
    st_resp_free(&r);
    cdp_shot(shots, "admin-instance");
    CU_ASSERT_FATAL(wait_js("the cancel button", "!!document.querySelector('#instance-admin"
                                                 " button[data-action=migrate-cancel]')"));
    click("#instance-admin button[data-action=migrate-cancel]");
    CU_ASSERT(wait_js("the task cleared", "document.querySelector('[data-fact=task] dd')"
                                          "?.textContent === '-'"));
    m = json_array_get(json_object_get(get(&r, path, T.admin_token), "migrations"), 0);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(m, "state")), "cancelled");
    st_resp_free(&r);
    /* its host goes silent past the fence margin: Evacuate, two clicks */
    snprintf(
        sql, sizeof sql,
        "UPDATE iaas.nodes SET last_heartbeat = now() - interval '60 seconds' WHERE name = '%s'",
        first ? "host-busy" : "host-idle");
    gwt_sql(&T, sql);
    const char *ev = "#instance-admin button[data-action=evacuate]";
    CU_ASSERT_FATAL(wait_js("evacuate offered", "!!document.querySelector('%s')", ev));
    CU_ASSERT(js_true("!document.querySelector('#instance-admin button[data-action=migrate]')"));
    click(ev);
    CU_ASSERT(wait_js("its confirmation",
                      "document.querySelector('%s')?.textContent ==="
                      " 'Confirm evacuate'",
                      ev));
    click(ev);
    CU_ASSERT(wait_js("evacuating", "document.querySelector('[data-fact=task] dd')"
                                    "?.textContent === 'evacuating'"));
    char *task = gwt_instance_field(&T, T.admin_token, id, "task");
    ST_ASSERT_STR_EQ(task, "evacuating");
    free(task);
    beat_both(); /* both hosts up again for the pages after */
}

static void test_admin_creates_a_tenant_and_sets_its_quota(void)
{
    CU_ASSERT_FATAL(signed_in);
    CU_ASSERT_FATAL(go("tenants", NULL));
    CU_ASSERT(
        wait_js("globex listed", "document.querySelector('#tenants tr[data-id=\"%s\"]')", A.id));
    cdp_shot(shots, "admin-tenants");
    fill("tenant-form-name", "initech");
    fill("tenant-form-description", "made in the dashboard");
    click("#tenant-form-submit");
    CU_ASSERT_FATAL(wait_js("the new tenant's page",
                            "document.getElementById('page').dataset.page === 'tenant' &&"
                            " document.getElementById('tenant-name')?.textContent === 'initech'"
                            " && document.querySelector('[data-quota=instances] dd')"));
    char *id = js_text("decodeURIComponent(location.hash.slice('#/tenant/'.length))");
    CU_ASSERT_FATAL(id != NULL);
    char path[128];
    snprintf(path, sizeof path, "/v1/tenants/%s/quotas", id);
    fill("quota-form-instances", "3");
    fill("quota-form-vcpus", "6");
    click("#quota-form-submit");
    CU_ASSERT(wait_js("the quota on the page",
                      "document.querySelector('[data-quota=instances] dd')?.textContent"
                      " === '0 of 3'"));
    st_resp r;
    json_t *lim = json_object_get(get(&r, path, T.admin_token), "limits");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(lim, "instances")), 3);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(lim, "vcpus")), 6);
    st_resp_free(&r);
    cdp_shot(shots, "admin-tenant");
    /* back on the list, two clicks delete it */
    CU_ASSERT_FATAL(go("tenants", NULL));
    char sel[160];
    snprintf(sel, sizeof sel, "#tenants tr[data-id=\"%s\"] button[data-action=delete]", id);
    CU_ASSERT(
        wait_js("initech listed", "document.querySelector('#tenants tr[data-id=\"%s\"]')", id));
    click(sel);
    click(sel);
    CU_ASSERT(
        wait_js("initech gone", "!document.querySelector('#tenants tr[data-id=\"%s\"]')", id));
    snprintf(path, sizeof path, "/v1/tenants/%s", id);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, T.admin_token, NULL), 404);
    free(id);
    /* a tenant's members and roles come from the API */
    CU_ASSERT_FATAL(go("tenant", A.id));
    CU_ASSERT(wait_js("globex's members",
                      "document.querySelector('#members tr[data-id=\"%s\"] select.role')"
                      "?.value === 'reader' && document.querySelectorAll('#members tbody tr')"
                      ".length === 3",
                      A.reader_id));
}

static void test_admin_creates_a_user(void)
{
    CU_ASSERT_FATAL(signed_in);
    CU_ASSERT_FATAL(go("users", NULL));
    fill("user-form-name", "wile");
    fill("user-form-password", "Quixotic-Harbor-71");
    click("#user-form-submit");
    CU_ASSERT(wait_js("wile listed", "[...document.querySelectorAll('#users td.c-name')]"
                                     ".some((e) => e.textContent === 'wile')"));
    st_resp r;
    get(&r, "/v1/users", T.admin_token);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"wile\""));
    st_resp_free(&r);
    char *wile = gwt_signin(&T, "wile", "Quixotic-Harbor-71", NULL);
    CU_ASSERT_PTR_NOT_NULL(wile);
    free(wile);
    cdp_shot(shots, "admin-users");
}

static void test_admin_creates_and_disables_a_flavor(void)
{
    CU_ASSERT_FATAL(signed_in);
    CU_ASSERT_FATAL(go("flavors", NULL));
    fill("flavor-form-name", "m2.large");
    fill("flavor-form-vcpus", "4");
    fill("flavor-form-memory_mib", "8192");
    fill("flavor-form-disk_gib", "40");
    click("#flavor-form-submit");
    CU_ASSERT_FATAL(wait_js("m2.large listed",
                            "[...document.querySelectorAll('#flavors td.c-name')]"
                            ".some((e) => e.textContent === 'm2.large')"));
    char *id = js_text("[...document.querySelectorAll('#flavors tr[data-id]')]"
                       ".find((r) => r.querySelector('.c-name').textContent === 'm2.large')"
                       ".dataset.id");
    CU_ASSERT_FATAL(id != NULL);
    char sel[160], path[128];
    snprintf(sel, sizeof sel, "#flavors tr[data-id=\"%s\"] button[data-action=disable]", id);
    click(sel);
    CU_ASSERT(wait_js("m2.large disabled",
                      "document.querySelector('#flavors tr[data-id=\"%s\"] .c-state')"
                      "?.textContent === 'disabled'",
                      id));
    snprintf(path, sizeof path, "/v1/flavors/%s", id);
    st_resp r;
    json_t *f = get(&r, path, T.admin_token);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(f, "vcpus")), 4);
    CU_ASSERT(json_is_true(json_object_get(f, "disabled")));
    st_resp_free(&r);
    free(id);
    cdp_shot(shots, "admin-flavors");
}

static void test_admin_creates_a_plan_and_assigns_it(void)
{
    CU_ASSERT_FATAL(signed_in);
    CU_ASSERT_FATAL(go("plans", NULL));
    CU_ASSERT(wait_js("the plans", "[...document.querySelectorAll('#plans td.c-name')]"
                                   ".some((e) => e.textContent === 'standard (default)')"));
    fill("plan-form-name", "premium");
    fill("plan-form-cpu_per_gcycle", "2500");
    fill("plan-form-instance_hour_default", "9000");
    click("#plan-form-submit");
    CU_ASSERT_FATAL(wait_js("premium listed", "[...document.querySelectorAll('#plans td.c-name')]"
                                              ".some((e) => e.textContent === 'premium')"));
    st_resp r;
    json_t *pl, *prem = NULL;
    size_t i;
    json_t *plans = json_object_get(get(&r, "/v1/billing/plans", T.admin_token), "plans");
    json_array_foreach(plans, i, pl) if (!strcmp(json_string_value(json_object_get(pl, "name")),
                                                 "premium")) prem = pl;
    CU_ASSERT_FATAL(prem != NULL);
    json_t *prices =
        json_object_get(json_array_get(json_object_get(prem, "versions"), 0), "prices");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(prices, "cpu_per_gcycle")), 2500);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(prices, "instance_hour_default")), 9000);
    char plan_id[40];
    snprintf(plan_id, sizeof plan_id, "%s", json_string_value(json_object_get(prem, "id")));
    st_resp_free(&r);
    /* globex onto premium from the next hour */
    CU_ASSERT(wait_js("premium offered",
                      "document.querySelector('#assign-form-plan"
                      " option[value=\"%s\"]')",
                      plan_id));
    fill("assign-form-tenant", A.id);
    fill("assign-form-plan", plan_id);
    click("#assign-form-submit");
    CU_ASSERT(wait_js("assigned", "document.getElementById('assign-form-ok').textContent"
                                  " === 'Assigned.'"));
    char path[128];
    snprintf(path, sizeof path, "/v1/billing/tenants/%s/plans", A.id);
    json_t *a = json_array_get(json_object_get(get(&r, path, T.admin_token), "assignments"), 0);
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(a, "plan_id")), plan_id);
    st_resp_free(&r);
    cdp_shot(shots, "admin-plans");
    CU_ASSERT_FATAL(go("tenant", A.id));
    CU_ASSERT(wait_js("the assignment on the tenant's page",
                      "document.querySelector('#tenant-plans td.c-plan')?.textContent"
                      " === 'premium'"));
}

static void test_admin_previews_and_issues_last_month(void)
{
    CU_ASSERT_FATAL(signed_in);
    CU_ASSERT_FATAL(go("periods", NULL));
    CU_ASSERT(wait_js("the issued month and the preview",
                      "document.querySelector('#periods tr[data-id=\"%s\"]') &&"
                      " document.querySelector('#preview-tenants tr[data-id=\"%s\"]')",
                      month2, A.id));
    char path[128];
    snprintf(path, sizeof path, "/v1/billing/periods/%s/preview", month1);
    st_resp r;
    json_t *pv = get(&r, path, T.admin_token);
    char want[64];
    snprintf(want, sizeof want, "%.2f",
             (double)json_integer_value(json_object_get(pv, "total_micro")) / 1e6);
    st_resp_free(&r);
    char *shown = js_text("document.querySelector('#preview-tenants tr[data-id=\"%s\"]"
                          " .c-total').textContent",
                          A.id);
    ST_ASSERT_STR_EQ(shown, want);
    free(shown);
    char *sum = text_of("#preview-summary");
    CU_ASSERT(sum && strstr(sum, "can be issued"));
    free(sum);
    cdp_shot(shots, "admin-periods");
    click("#page button[data-action=issue]");
    click("#page button[data-action=issue]");
    CU_ASSERT(wait_js("last month issued", "document.querySelector('#periods tr[data-id=\"%s\"]')",
                      month1));
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(
                         get(&r, "/v1/billing/periods", T.admin_token), "issued_through")),
                     month1);
    st_resp_free(&r);
}

static void test_admin_walks_the_billing_pages(void)
{
    CU_ASSERT_FATAL(signed_in);
    /* the admin's own tenant has no usage, invoices or account */
    CU_ASSERT(go("usage", NULL));
    CU_ASSERT(wait_js("no usage", "document.getElementById('usage-charts')?.textContent"
                                  ".startsWith('No usage')"));
    cdp_shot(shots, "admin-usage");
    CU_ASSERT(go("invoices", NULL));
    CU_ASSERT(wait_js("no invoices", "!document.querySelector('#invoices + .empty').hidden"));
    cdp_shot(shots, "admin-invoices");
    CU_ASSERT(go("account", NULL));
    CU_ASSERT(wait_js("no account", "document.getElementById('account-view')?.textContent"
                                    " === 'this tenant has no billing account yet'"));
    cdp_shot(shots, "admin-account");
    click("#signout");
    CU_ASSERT(wait_js("signed out", "!document.getElementById('signin-view').hidden"));
}

static void test_tenant_sees_no_admin_pages(void)
{
    submit_signin("globex-admin", "password-123", NULL);
    CU_ASSERT_FATAL(wait_js("signed in", "!document.getElementById('app-view').hidden &&"
                                         " document.getElementById('page').dataset.page"));
    tenant_in = 1;
    CU_ASSERT(js_true("!document.querySelector('#nav [data-group=admin]') &&"
                      " document.querySelector('#nav [data-group=billing] a[data-page=usage]')"));
    char *h = js_text("location.hash");
    CU_ASSERT(h && strcmp(h, "#/hosts") != 0);
    free(h);
    json_decref(js("location.hash = '#/hosts'"));
    CU_ASSERT(wait_js("not the hosts page",
                      "location.hash !== '#/hosts' &&"
                      " document.getElementById('page').dataset.page !== 'hosts'"));
}

static void test_usage_chart_has_a_bar_per_day_with_usage(void)
{
    CU_ASSERT_FATAL(tenant_in);
    CU_ASSERT_FATAL(go("usage", NULL));
    CU_ASSERT_FATAL(wait_js("the cycles chart", "document.querySelector('#usage-charts"
                                                " [data-meter=cpu_cycles] rect[data-category]')"
                                                " && document.getElementById("
                                                "'usage-invoice-total')"));
    /* this month's days with cycles, as the API counts them */
    char *month = text_of("#usage-month");
    CU_ASSERT_FATAL(month != NULL);
    char m[8];
    snprintf(m, sizeof m, "%.7s", month + (month[0] == ' '));
    free(month);
    char path[200];
    int y = atoi(m), mo = atoi(m + 5);
    snprintf(path, sizeof path,
             "/v1/billing/usage?granularity=day&from=%s-01T00:00:00Z&to=%04d-%02d-01T00:00:00Z", m,
             mo == 12 ? y + 1 : y, mo == 12 ? 1 : mo + 1);
    st_resp r;
    json_t *u, *days = json_object();
    size_t i;
    json_t *usage = json_object_get(get(&r, path, A.reader), "usage");
    json_array_foreach(usage, i, u)
    {
        char day[11];
        snprintf(day, sizeof day, "%s", json_string_value(json_object_get(u, "start")));
        json_int_t c = json_integer_value(json_object_get(u, "cpu_cycles"));
        json_int_t had = json_integer_value(json_object_get(days, day));
        if (c > 0)
            json_object_set_new(days, day, json_integer(had + c));
    }
    st_resp_free(&r);
    CU_ASSERT(json_object_size(days) >= 1);
    json_t *bars = js("Object.fromEntries([...document.querySelectorAll('#usage-charts"
                      " [data-meter=cpu_cycles] rect[data-category]')].map((r) =>"
                      " [r.dataset.category, Number(r.dataset.value)]))");
    char *got = json_dumps(bars, JSON_COMPACT | JSON_SORT_KEYS),
         *want = json_dumps(days, JSON_COMPACT | JSON_SORT_KEYS);
    st_assert_fmt(bars && json_equal(bars, days), 0, __FILE__, __LINE__,
                  "bars %s, want one per day with usage %s", got, want);
    free(got);
    free(want);
    json_decref(bars);
    json_decref(days);
    /* the month's draft, as the API prices it */
    gwt_call(&T, &r, "GET", "/v1/billing/invoices", A.reader, NULL);
    json_t *inv, *draft = NULL;
    json_array_foreach(json_object_get(r.json, "invoices"), i,
                       inv) if (!strcmp(json_string_value(json_object_get(inv, "period")), m))
        draft = inv;
    CU_ASSERT_FATAL(draft != NULL);
    char total[80];
    snprintf(total, sizeof total, "Total %s %s", json_string_value(json_object_get(draft, "total")),
             json_string_value(json_object_get(draft, "currency")));
    st_resp_free(&r);
    char *shown = text_of("#usage-invoice-total");
    ST_ASSERT_STR_EQ(shown, total);
    free(shown);
    cdp_shot(shots, "tenant-usage");
}

/* Waits for a finished download ending in ext; returns its bytes (malloc'd). */
static char *downloaded(const char *ext, size_t *len)
{
    long long deadline = st_now_ms() + WAIT_MS;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls -t %s/*%s 2>/dev/null | head -1", downloads, ext);
    while (st_now_ms() < deadline) {
        FILE *p = popen(cmd, "r");
        char name[600] = "";
        if (p) {
            if (!fgets(name, sizeof name, p))
                name[0] = 0;
            pclose(p);
        }
        name[strcspn(name, "\n")] = 0;
        FILE *f = name[0] ? fopen(name, "rb") : NULL;
        if (f) {
            char *buf = malloc(1 << 20);
            *len = fread(buf, 1, 1 << 20, f);
            fclose(f);
            unlink(name);
            return buf;
        }
        cdp_pump(200);
    }
    return NULL;
}

static void test_invoice_is_viewed_and_downloaded(void)
{
    CU_ASSERT_FATAL(tenant_in);
    CU_ASSERT_FATAL(go("invoices", NULL));
    st_resp r;
    json_t *list = json_object_get(get(&r, "/v1/billing/invoices", A.reader), "invoices");
    CU_ASSERT(wait_js("every invoice listed",
                      "document.querySelectorAll('#invoices tbody tr').length === %zu",
                      json_array_size(list)));
    json_t *first = json_array_get(list, 0);
    char id[40];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(first, "id")));
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(first, "number_text")), "INV-000001");
    st_resp_free(&r);
    CU_ASSERT(wait_js("INV-000002 (issued by the admin) listed",
                      "[...document.querySelectorAll('#invoices td.c-number')]"
                      ".some((e) => e.textContent === 'INV-000002')"));
    cdp_shot(shots, "tenant-invoices");
    char sel[160];
    snprintf(sel, sizeof sel, "#invoices tr[data-id=\"%s\"] a[data-action=view]", id);
    click(sel);
    /* billing's own HTML, styled by its stylesheet (allowed by hash) */
    CU_ASSERT(wait_js("the invoice's HTML",
                      "(() => { const d = document.getElementById('invoice-frame')"
                      "?.contentDocument; return d && d.body && d.body.textContent"
                      ".includes('INV-000001') && getComputedStyle(d.body).marginTop === '32px'"
                      " && d.querySelector('table'); })()"));
    CU_ASSERT(js_true("document.getElementById('invoice-frame').sandbox.value"
                      " === 'allow-same-origin'"));
    cdp_shot(shots, "tenant-invoice");
    /* PDF and CSV, saved through the browser: the API's bytes */
    CU_ASSERT_FATAL(cdp_download_to(downloads) == 0);
    const char *fmts[] = {"pdf", "csv"};
    for (int f = 0; f < 2; f++) {
        char b[80];
        snprintf(b, sizeof b, "#page .row-between button[data-action=%s]", fmts[f]);
        click(b);
        size_t n = 0;
        char ext[8];
        snprintf(ext, sizeof ext, ".%s", fmts[f]);
        char *bytes = downloaded(ext, &n);
        st_assert_fmt(bytes != NULL, 0, __FILE__, __LINE__, "no %s downloaded", fmts[f]);
        char path[200];
        snprintf(path, sizeof path, "/v1/billing/invoices/%s/download?format=%s", id, fmts[f]);
        ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.reader, NULL), 200);
        if (bytes && f == 0)
            CU_ASSERT(n > 4 && memcmp(bytes, "%PDF-", 5) == 0);
        if (bytes && f == 1)
            CU_ASSERT(n > 0 && memchr(bytes, ',', n) && memchr(bytes, '\n', n) &&
                      !memchr(bytes, 0, n));
        st_assert_fmt(bytes && n == r.len && memcmp(bytes, r.body, n) == 0, 0, __FILE__, __LINE__,
                      "the %s saved (%zu bytes) is not the API's (%zu bytes)", fmts[f], n, r.len);
        st_resp_free(&r);
        free(bytes);
    }
}

static void test_tenant_admin_saves_the_billing_account(void)
{
    CU_ASSERT_FATAL(tenant_in);
    CU_ASSERT_FATAL(go("account", NULL));
    CU_ASSERT(wait_js("no account yet", "document.getElementById('account-view')?.textContent"
                                        " === 'this tenant has no billing account yet'"));
    fill("account-form-legal_name", "Globex Corporation");
    fill("account-form-email", "ap@globex.example");
    fill("account-form-address", "1 Cypress Creek Rd\nSpringfield");
    fill("account-form-country", "US");
    click("#account-form-submit");
    CU_ASSERT(wait_js("the account shown", "document.querySelector('#account-view"
                                           " dd[data-field=\"Legal name\"]')?.textContent"
                                           " === 'Globex Corporation'"));
    st_resp r;
    ST_ASSERT_STR_EQ(
        json_string_value(json_object_get(get(&r, "/v1/billing/account", A.reader), "legal_name")),
        "Globex Corporation");
    st_resp_free(&r);
    cdp_shot(shots, "tenant-account");
}

static void test_no_errors_on_any_page(void)
{
    cdp_pump(200);
    size_t i;
    json_t *p;
    json_array_foreach(B.problems, i, p)
        st_assert_fmt(0, 0, __FILE__, __LINE__, "the page reported: %s", json_string_value(p));
    json_array_foreach(B.api_errors, i, p) fprintf(stderr, "(expected) %s\n", json_string_value(p));
}

static CU_TestInfo tests[] = {
    {"the pages' scripts are served, under the CSP", test_pages_scripts_are_served},
    {"a cloud admin lands on the hosts page, as the API sees them", test_admin_lands_on_hosts},
    {"a cloud admin migrates, cancels and evacuates from an instance's page",
     test_admin_migrates_and_evacuates_from_the_instance_page},
    {"a cloud admin creates a tenant, sets its quota, deletes it",
     test_admin_creates_a_tenant_and_sets_its_quota},
    {"a cloud admin creates a user", test_admin_creates_a_user},
    {"a cloud admin creates a flavor and disables it", test_admin_creates_and_disables_a_flavor},
    {"a cloud admin creates a price plan and puts a tenant on it",
     test_admin_creates_a_plan_and_assigns_it},
    {"a cloud admin previews last month and issues it", test_admin_previews_and_issues_last_month},
    {"a cloud admin walks the billing pages", test_admin_walks_the_billing_pages},
    {"a tenant sees no admin pages", test_tenant_sees_no_admin_pages},
    {"the usage chart has one bar per day with usage",
     test_usage_chart_has_a_bar_per_day_with_usage},
    {"an invoice is viewed in HTML and downloaded as PDF and CSV",
     test_invoice_is_viewed_and_downloaded},
    {"the tenant admin saves the billing account", test_tenant_admin_saves_the_billing_account},
    {"no page reported an error or CSP violation", test_no_errors_on_any_page},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"dashboard_admin", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
