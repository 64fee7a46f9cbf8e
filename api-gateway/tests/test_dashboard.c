/*
 * The web dashboard, in a real browser.
 *
 * Debian's headless Chromium is driven from C over the DevTools protocol
 * (cdp.c, shared with test_dashboard_admin.c). It loads the dashboard from
 * a real gateway (with the real image service) over loopback and a tenant
 * member walks every tenant page the way a person would - following the
 * navigation, filling the
 * forms and clicking the buttons through Runtime.evaluate - while the test
 * checks what each page shows against the API: sign-in, the instance list
 * with create, an API error, a node's report appearing through
 * ETag-conditional polling (which must get 304s), an instance's page (facts,
 * NICs, console and its refresh, the stop action), delete with two clicks,
 * an image uploaded from a file through the signed URL with its progress
 * bar until it is active, a network and subnet, a port, a security group
 * rule added and removed, a router joining a subnet, a floating IP
 * allocated, mapped and released, an API key shown once and revoked,
 * quotas, keypairs, sign-out, a revoked session, a wrong password, and a
 * reader who sees no write control on any page. A PNG of each page is saved
 * under <build>/test-output/gateway_dashboard/. Every console error,
 * uncaught exception and Content-Security-Policy violation the page
 * reports is collected, and there must be none. The files' security
 * headers are checked with plain HTTP requests.
 *
 * Waits poll the page with a deadline; nothing asserts how long anything
 * took.
 */
#include "cdp.h"
#include "gwt.h"
#include "st_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* The tests.                                                          */
/* ------------------------------------------------------------------ */

static gwt T;
static gwt_tenant A;
static char *node;
static char flavor[40], image[40], web1[40], db1[40], keypair_id[40], ext_net[40], app_net[40],
    app_sub[40];
static int signed_in;   /* the first sign-in worked: later tests build on it */
static char shots[512]; /* where the screenshots go */

static const char *KEY =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAII5fDoSwCs3Zg73Sao6zV8+UVKL99sup7rLMCqj9zP75 dev@laptop";

/* A JSON body's string field (NULL when absent). */
static const char *sfield(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* POSTs body (printf format) as the cloud admin; copies the new id to id. */
static long admin_post(const char *path, char id[40], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *body = vfmt(fmt, ap);
    va_end(ap);
    st_resp r;
    long st = gwt_call(&T, &r, "POST", path, T.admin_token, body);
    if (id)
        snprintf(id, 40, "%s", sfield(r.json, "id") ? sfield(r.json, "id") : "");
    st_resp_free(&r);
    free(body);
    return st;
}

static int suite_init(void)
{
    signal(SIGPIPE, SIG_IGN);
    atexit(cdp_kill);
    gwt_start(&T, "gw_dash", NULL);
    gwt_make_tenant(&T, "acme", &A);
    node = gwt_make_node(&T, "node-dash", 16, 65536, 1000);
    gwt_make_catalog(&T, flavor, image);
    if (gwt_create_instance(&T, A.member, "web-1", "m1.small", image, NULL, web1) != 202 ||
        gwt_report(&T, node, web1, "active", gwt_instance_generation(&T, NULL, web1)) != 200)
        return -1;
    /* the cloud's external network, for routers and floating IPs */
    if (admin_post("/v1/networks", ext_net, "{\"name\":\"public\",\"external\":true}") != 201 ||
        admin_post("/v1/subnets", NULL,
                   "{\"network_id\":\"%s\",\"cidr\":\"203.0.113.0/24\",\"allocation_pools\":"
                   "[{\"start\":\"203.0.113.10\",\"end\":\"203.0.113.20\"}]}",
                   ext_net) != 201)
        return -1;
    snprintf(shots, sizeof shots, "%s", st_build_path("test-output/gateway_dashboard"));
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
    free(node);
    gwt_stop(&T);
    return 0;
}

/* Goes to #/<route> and waits for the page to be the one shown. */
static int go(const char *route, const char *page)
{
    json_decref(js("location.hash = '#/%s'", route));
    return wait_js(page, "document.getElementById('page')?.dataset.page === '%s'", page);
}

/* 1 when some element matching the selector has exactly this text. */
static int wait_text(const char *what, const char *selector, const char *text)
{
    char *s = lit(selector), *t = lit(text);
    int ok =
        wait_js(what, "[...document.querySelectorAll(%s)].some((e) => e.textContent === %s)", s, t);
    free(s);
    free(t);
    return ok;
}

/* The data-id of the row (under selector) whose cell sel has text; malloc'd. */
static char *row_id(const char *table, const char *cell, const char *text)
{
    char *t = lit(text);
    char *id = js_text("[...document.querySelectorAll('%s tr[data-id]')]"
                       ".find((r) => r.querySelector('%s')?.textContent === %s)?.dataset.id",
                       table, cell, t);
    free(t);
    return id;
}

static void check_headers(const char *path, const char *type)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", T.base, path);
    st_resp r;
    st_http(&r, "GET", url, NULL, NULL, NULL);
    st_assert_fmt(r.status == 200 && r.len > 0, 0, __FILE__, __LINE__, "GET %s: %ld", path,
                  r.status);
    char *ct = st_resp_header(&r, "Content-Type"),
         *csp = st_resp_header(&r, "Content-Security-Policy");
    char *xfo = st_resp_header(&r, "X-Frame-Options"), *rp = st_resp_header(&r, "Referrer-Policy");
    char *nosniff = st_resp_header(&r, "X-Content-Type-Options"),
         *etag = st_resp_header(&r, "ETag");
    st_assert_fmt(ct && !strncmp(ct, type, strlen(type)), 0, __FILE__, __LINE__,
                  "%s: Content-Type %s, want %s", path, ct ? ct : "(none)", type);
    st_assert_fmt(csp && strstr(csp, "default-src 'self'") &&
                      strstr(csp, "frame-ancestors 'none'") && !strstr(csp, "unsafe-inline") &&
                      !strstr(csp, "unsafe-eval"),
                  0, __FILE__, __LINE__, "%s: CSP %s", path, csp ? csp : "(none)");
    ST_ASSERT_STR_EQ(xfo, "DENY");
    ST_ASSERT_STR_EQ(rp, "no-referrer");
    ST_ASSERT_STR_EQ(nosniff, "nosniff");
    CU_ASSERT_PTR_NOT_NULL(etag);
    if (etag) {
        /* the same bytes again: 304 with the same tag */
        char inm[128];
        snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
        const char *h[] = {inm, NULL};
        st_resp r2;
        st_http(&r2, "GET", url, NULL, NULL, h);
        ST_ASSERT_INT_EQ(r2.status, 304);
        ST_ASSERT_INT_EQ(r2.len, 0);
        st_resp_free(&r2);
    }
    free(ct);
    free(csp);
    free(xfo);
    free(rp);
    free(nosniff);
    free(etag);
    st_resp_free(&r);
}

static void test_files_are_served_with_security_headers(void)
{
    check_headers("/dashboard/", "text/html");
    for (const char *const *f = (const char *const[]){"core.js", "app.js", "admin.js", "charts.js",
                                                      "billing.js", NULL};
         *f; f++) {
        char path[64];
        snprintf(path, sizeof path, "/dashboard/%s", *f);
        check_headers(path, "text/javascript");
    }
    check_headers("/dashboard/style.css", "text/css");
    check_headers("/dashboard/favicon.svg", "image/svg+xml");
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/", NULL, NULL), 302);
    char *loc = st_resp_header(&r, "Location");
    ST_ASSERT_STR_EQ(loc, "/dashboard/");
    free(loc);
    st_resp_free(&r);
    /* the image service's data origin is the one other place scripts may
     * connect to: the browser PUTs uploads there */
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/dashboard/core.js", NULL, NULL), 200);
    char *csp = st_resp_header(&r, "Content-Security-Policy"), want[128];
    snprintf(want, sizeof want, "connect-src 'self' %s;", T.images_data_url);
    st_assert_fmt(csp && strstr(csp, want), 0, __FILE__, __LINE__, "CSP %s lacks %s",
                  csp ? csp : "(none)", want);
    free(csp);
    st_resp_free(&r);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/dashboard/nope.js", NULL, NULL), 404);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/dashboard/..%2fopenapi.json", NULL, NULL), 400);
    ST_ASSERT_INT_EQ(gwt_status(&T, "POST", "/dashboard/app.js", NULL, "{}"), 405);
    /* The page itself carries nothing inline for the CSP to refuse. */
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/dashboard/", NULL, NULL), 200);
    CU_ASSERT_PTR_NULL(strstr(r.body, "<style"));
    CU_ASSERT_PTR_NULL(strstr(r.body, "style="));
    CU_ASSERT_PTR_NULL(strstr(r.body, "<script>"));
    CU_ASSERT_PTR_NULL(strstr(r.body, "javascript:"));
    for (const char *p = r.body; (p = strstr(p, " on")) != NULL; p++) {
        size_t n = strspn(p + 3, "abcdefghijklmnopqrstuvwxyz");
        st_assert_fmt(n == 0 || p[3 + n] != '=', 0, __FILE__, __LINE__,
                      "an inline event handler: %.40s", p + 1);
    }
    st_resp_free(&r);
}

static void test_member_signs_in_and_sees_the_instances(void)
{
    char url[128];
    snprintf(url, sizeof url, "%s/", T.base);
    json_decref(cdp_call(&B, 1, "Page.navigate", json_pack("{s:s}", "url", url)));
    CU_ASSERT_FATAL(wait_js("the sign-in form",
                            "location.pathname === '/dashboard/' &&"
                            " document.getElementById('signin-view')?.hidden === false"));
    cdp_shot(shots, "00-sign-in");
    submit_signin("acme-member", "password-123", NULL);
    CU_ASSERT_FATAL(wait_js("web-1 listed as active",
                            "document.querySelector('tr[data-id=\"%s\"] .c-state')"
                            "?.textContent === 'active'",
                            web1));
    signed_in = 1;
    /* the default page, and the bar with every tenant page but no admin one */
    CU_ASSERT(js_true("location.hash === '#/instances'"));
    char *nav = js_text("[...document.querySelectorAll('#nav [data-group=tenant] a')]"
                        ".map((a) => a.dataset.page).join(',')");
    CU_ASSERT(js_true("!document.querySelector('#nav [data-group=admin]')"));
    ST_ASSERT_STR_EQ(nav, "instances,images,networks,ports,security-groups,routers,floating-ips,"
                          "keypairs,api-keys,quotas");
    free(nav);
    char *who = js_text("document.getElementById('who').innerText");
    CU_ASSERT(who && strstr(who, "acme-member") && strstr(who, "acme") && strstr(who, "member"));
    free(who);
    char *row = js_text("document.querySelector('tr[data-id=\"%s\"]').innerText", web1);
    CU_ASSERT(row && strstr(row, "web-1") && strstr(row, "m1.small") && strstr(row, "1 vCPU") &&
              strstr(row, "512 MiB") && strstr(row, "up"));
    free(row);
    /* the token is the session's, and the API accepts it */
    char *tok = js_text("sessionStorage.getItem('stratus.token')");
    CU_ASSERT_FATAL(tok != NULL);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/auth/whoami", tok, NULL), 200);
    free(tok);
    /* an unknown page goes to the default one */
    CU_ASSERT(go("no-such-page", "instances"));
    CU_ASSERT(wait_js("the default page's hash", "location.hash === '#/instances'"));
}

static void test_keypair_is_added_through_the_form(void)
{
    CU_ASSERT_FATAL(signed_in);
    CU_ASSERT_FATAL(go("keypairs", "keypairs"));
    fill("keypair-name", "laptop");
    fill("keypair-key", KEY);
    click("#keypair-submit");
    CU_ASSERT_FATAL(wait_text("the keypair listed", "#keypairs td.c-name", "laptop"));
    st_resp r;
    gwt_call(&T, &r, "GET", "/v1/keypairs", A.reader, NULL);
    json_t *k = json_array_get(json_object_get(r.json, "keypairs"), 0);
    snprintf(keypair_id, sizeof keypair_id, "%s", sfield(k, "id") ? sfield(k, "id") : "");
    ST_ASSERT_STR_EQ(sfield(k, "name"), "laptop");
    char *fp = js_text("document.querySelector('#keypairs tr[data-id=\"%s\"] code')?.textContent",
                       keypair_id);
    ST_ASSERT_STR_EQ(fp, sfield(k, "fingerprint"));
    free(fp);
    st_resp_free(&r);
    /* a key the API refuses: its message on the form */
    fill("keypair-name", "bad");
    fill("keypair-key", "ssh-ed25519 not-base64!");
    click("#keypair-submit");
    CU_ASSERT(wait_js("the API's refusal", "document.getElementById('keypair-error')"
                                           ".textContent.length > 0"));
    cdp_shot(shots, "09-keypairs");
}

static void test_instance_is_created_through_the_form(void)
{
    CU_ASSERT_FATAL(signed_in);
    CU_ASSERT_FATAL(go("instances", "instances"));
    CU_ASSERT_FATAL(wait_js("the catalogue in the form",
                            "document.querySelector('#create-flavor option[value=\"%s\"]') &&"
                            " document.querySelector('#create-image option[value=\"%s\"]') &&"
                            " document.querySelector('#create-keypair option[value=\"%s\"]')",
                            flavor, image, keypair_id));
    fill("create-name", "db-1");
    fill("create-flavor", flavor);
    fill("create-image", image);
    fill("create-keypair", keypair_id);
    fill("create-userdata", "#!/bin/sh\necho hello from db-1\n");
    click("#create-submit");
    CU_ASSERT_FATAL(wait_text("db-1 listed", "#instances td.c-name", "db-1"));
    char *id = row_id("#instances", ".c-name", "db-1");
    CU_ASSERT_FATAL(id != NULL);
    snprintf(db1, sizeof db1, "%s", id);
    free(id);
    char *state = js_text("document.querySelector('tr[data-id=\"%s\"] .c-state').textContent", db1);
    ST_ASSERT_STR_EQ(state, "building");
    free(state);
    /* what the API recorded: the keypair, and the user data the node gets */
    char *kp = gwt_instance_field(&T, A.reader, db1, "keypair_id");
    ST_ASSERT_STR_EQ(kp, keypair_id);
    free(kp);
    st_resp r;
    gwt_call(&T, &r, "GET", "/internal/v1/node/instances", node, NULL);
    json_t *it;
    size_t i;
    const char *ud = NULL;
    json_array_foreach(json_object_get(r.json, "instances"), i, it)
    {
        if (!strcmp(sfield(it, "id"), db1))
            ud = sfield(it, "user_data");
    }
    /* base64 of "#!/bin/sh\necho hello from db-1\n" */
    ST_ASSERT_STR_EQ(ud, "IyEvYmluL3NoCmVjaG8gaGVsbG8gZnJvbSBkYi0xCg==");
    st_resp_free(&r);
}

static void test_api_errors_show_their_message(void)
{
    CU_ASSERT_FATAL(signed_in);
    /* the cloud admin lowers the quota to what the tenant already uses */
    char path[128], *body = st_jsonf("{s:i}", "instances", 2);
    snprintf(path, sizeof path, "/v1/tenants/%s/quotas", A.id);
    ST_ASSERT_INT_EQ(gwt_status(&T, "PUT", path, T.admin_token, body), 200);
    free(body);
    st_resp r;
    body = st_jsonf("{s:s, s:s, s:s}", "name", "app-1", "flavor", flavor, "image", image);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "POST", "/v1/instances", A.member, body), 409);
    free(body);
    const char *want = jstr(r.json, "error.message");
    CU_ASSERT_FATAL(want != NULL);
    fill("create-name", "app-1");
    click("#create-submit");
    char *w = lit(want);
    CU_ASSERT(wait_js("the quota message",
                      "document.getElementById('create-error').textContent === %s", w));
    free(w);
    st_resp_free(&r);
    CU_ASSERT(wait_js("no app-1", "![...document.querySelectorAll('#instances td.c-name')]"
                                  ".some((e) => e.textContent === 'app-1')"));
}

static void test_node_report_appears_by_itself(void)
{
    CU_ASSERT_FATAL(signed_in && db1[0]);
    /* polling is conditional: with nothing changed the gateway answers 304 */
    long long deadline = st_now_ms() + WAIT_MS;
    while (B.lists_304 == 0 && st_now_ms() < deadline) {
        json_t *e = cdp_read(&B, st_now_ms() + 200);
        if (e) {
            cdp_event(&B, e);
            json_decref(e);
        }
    }
    st_assert_fmt(B.lists_304 > 0, 0, __FILE__, __LINE__,
                  "no poll of the instance list was answered 304 (%d answered 200)", B.lists_200);
    /* the node brings db-1 up; nobody touches the page */
    ST_ASSERT_INT_EQ(gwt_report(&T, node, db1, "active", gwt_instance_generation(&T, NULL, db1)),
                     200);
    CU_ASSERT(wait_js("db-1 active on the page",
                      "document.querySelector('tr[data-id=\"%s\"] .c-state')?.textContent"
                      " === 'active'",
                      db1));
    cdp_shot(shots, "01-instances");
}

static void test_instance_detail_page(void)
{
    CU_ASSERT_FATAL(signed_in);
    /* the node pushes web-1's serial output */
    char path[256];
    snprintf(path, sizeof path, "%s/internal/v1/node/instances/%s/console", T.base, web1);
    const char *text = "Stratus guest 1.0\nweb-1 login: \xff\n";
    const char *h[] = {"Content-Type: application/octet-stream", NULL};
    st_resp r;
    st_http_n(&r, "PUT", path, node, text, strlen(text), h);
    ST_ASSERT_INT_EQ(r.status, 204);
    st_resp_free(&r);
    /* the name in the list leads to the instance's page */
    char sel[160];
    snprintf(sel, sizeof sel, "#instances tr[data-id=\"%s\"] .c-name a", web1);
    click(sel);
    CU_ASSERT_FATAL(wait_js("web-1's page",
                            "location.hash === '#/instance/%s' &&"
                            " document.getElementById('page-title').textContent"
                            " === 'Instance web-1'",
                            web1));
    CU_ASSERT(wait_js("its facts", "document.querySelector('[data-fact=state] dd')?.textContent"
                                   " === 'active' && document.querySelector('[data-fact=image] "
                                   "dd')?.textContent === 'base-image'"));
    char *fl = js_text("document.querySelector('[data-fact=flavor] dd').textContent");
    CU_ASSERT(fl && strstr(fl, "m1.small") && strstr(fl, "512 MiB"));
    free(fl);
    /* its NIC, as the API lists it */
    snprintf(path, sizeof path, "/v1/instances/%s/interfaces", web1);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.reader, NULL), 200);
    json_t *p0 = json_array_get(json_object_get(r.json, "interfaces"), 0);
    const char *ip = sfield(json_array_get(json_object_get(p0, "fixed_ips"), 0), "ip_address");
    CU_ASSERT_FATAL(ip != NULL);
    CU_ASSERT(wait_text("its address", "#instance-ports td.c-ips", ip));
    CU_ASSERT(wait_text("its MAC", "#instance-ports td.c-mac", sfield(p0, "mac_address")));
    st_resp_free(&r);
    CU_ASSERT(wait_js("the console text", "document.getElementById('console-output').textContent"
                                          ".includes('Stratus guest 1.0\\nweb-1 login: ')"));
    /* new output appears on Refresh */
    text = "Stratus guest 1.0\nweb-1 login: root\n# uptime\n";
    snprintf(path, sizeof path, "%s/internal/v1/node/instances/%s/console", T.base, web1);
    st_http_n(&r, "PUT", path, node, text, strlen(text), h);
    ST_ASSERT_INT_EQ(r.status, 204);
    st_resp_free(&r);
    click("#console-refresh");
    CU_ASSERT(wait_js("the new console text", "document.getElementById('console-output')"
                                              ".textContent.includes('# uptime')"));
    cdp_shot(shots, "02-instance-detail");
    /* an active instance offers stop, reboot and (behind a second click) a hard reboot,
     * not start or a force stop */
    CU_ASSERT(js_true("!document.querySelector('#instance-actions button[data-action=start]')"));
    CU_ASSERT(js_true("!!document.querySelector('#instance-actions "
                      "button[data-action=hard-reboot]')"));
    CU_ASSERT(
        js_true("!document.querySelector('#instance-actions button[data-action=force-stop]')"));
    click("#instance-actions button[data-action=stop]");
    CU_ASSERT(wait_js("web-1 stopping", "document.querySelector('[data-fact=task] dd')"
                                        "?.textContent === 'stopping'"));
    char *task = gwt_instance_field(&T, A.reader, web1, "task");
    ST_ASSERT_STR_EQ(task, "stopping");
    free(task);
    /* while a task runs no other power action is offered */
    CU_ASSERT(wait_js("no power actions", "!document.querySelector('#instance-actions"
                                          " button[data-action=stop], #instance-actions"
                                          " button[data-action=reboot]')"));
    /* but a force stop, while the graceful stop waits for the guest: the first click
     * only arms it, the second sends stop with force (a newer order for the node) */
    const char *force = "#instance-actions button[data-action=force-stop]";
    CU_ASSERT_FATAL(wait_js("force stop offered", "!!document.querySelector('%s')", force));
    long long g = gwt_instance_generation(&T, A.reader, web1);
    click(force);
    CU_ASSERT(wait_text("its confirmation", force, "Confirm force stop"));
    ST_ASSERT_INT_EQ(gwt_instance_generation(&T, A.reader, web1), g);
    click(force);
    long long now = g;
    for (int i = 0; i < 100 && now == g; i++) {
        usleep(50000);
        now = gwt_instance_generation(&T, A.reader, web1);
    }
    ST_ASSERT_INT_EQ(now, g + 1);
    task = gwt_instance_field(&T, A.reader, web1, "task");
    ST_ASSERT_STR_EQ(task, "stopping");
    free(task);
}

static void test_delete_asks_then_deletes(void)
{
    CU_ASSERT_FATAL(signed_in && db1[0]);
    CU_ASSERT_FATAL(go("instances", "instances"));
    char sel[128];
    snprintf(sel, sizeof sel, "tr[data-id=\"%s\"] button[data-action=delete]", db1);
    CU_ASSERT_FATAL(wait_js("db-1's delete", "document.querySelector('%s')", sel));
    click(sel);
    CU_ASSERT(wait_js("the confirmation",
                      "document.querySelector('%s')?.textContent === 'Confirm delete'", sel));
    /* one click deletes nothing */
    char *st = gwt_instance_field(&T, A.reader, db1, "state");
    ST_ASSERT_STR_EQ(st, "active");
    free(st);
    click(sel);
    CU_ASSERT(wait_js("db-1 deleting",
                      "document.querySelector('tr[data-id=\"%s\"] .c-state')"
                      "?.textContent === 'deleting'",
                      db1));
    st = gwt_instance_field(&T, A.reader, db1, "state");
    ST_ASSERT_STR_EQ(st, "deleting");
    free(st);
}

static void test_image_is_uploaded_with_progress(void)
{
    CU_ASSERT_FATAL(signed_in);
    CU_ASSERT_FATAL(go("images", "images"));
    CU_ASSERT(wait_text("the public image", "#images td.c-name", "base-image"));
    /* a small raw disk in a file the browser picks */
    char file[700];
    snprintf(file, sizeof file, "%s/tiny.raw", B.dir);
    FILE *f = fopen(file, "wb");
    CU_ASSERT_FATAL(f != NULL);
    static char block[4096];
    memset(block, 0x5a, sizeof block);
    for (int i = 0; i < 256; i++) /* 1 MiB */
        fwrite(block, 1, sizeof block, f);
    fclose(f);
    fill("upload-name", "tiny");
    fill("upload-format", "raw");
    json_t *o =
        cdp_call(&B, 1, "Runtime.evaluate",
                 json_pack("{s:s}", "expression", "document.getElementById('upload-file')"));
    const char *obj = jstr(o, "result.objectId");
    CU_ASSERT_FATAL(obj != NULL);
    json_decref(cdp_call(&B, 1, "DOM.setFileInputFiles",
                         json_pack("{s:[s], s:s}", "files", file, "objectId", obj)));
    json_decref(o);
    click("#upload-submit");
    CU_ASSERT_FATAL(wait_js("the upload done", "document.getElementById('upload-ok')"
                                               ".textContent === 'Uploaded tiny (1.0 MiB).'"));
    /* the progress bar reached the file's size */
    CU_ASSERT(js_true("document.getElementById('upload-progress').value === 1048576 &&"
                      " document.getElementById('upload-progress').max === 1048576"));
    CU_ASSERT(wait_text("the progress text", "#upload-progress-text", "1.0 MiB of 1.0 MiB"));
    char *id = row_id("#images", ".c-name", "tiny");
    CU_ASSERT_FATAL(id != NULL);
    CU_ASSERT(wait_js("tiny active",
                      "document.querySelector('#images tr[data-id=\"%s\"] "
                      ".c-status')?.textContent === 'active'",
                      id));
    char path[128];
    snprintf(path, sizeof path, "/v1/images/%s", id);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.reader, NULL), 200);
    ST_ASSERT_STR_EQ(sfield(r.json, "status"), "active");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(r.json, "size_bytes")), 1048576);
    st_resp_free(&r);
    CU_ASSERT(wait_text("its size", "#images td.c-size", "1.0 MiB"));
    cdp_shot(shots, "03-images");
    /* the tenant's own image has a delete; the public one has none */
    CU_ASSERT(js_true("!document.querySelector('#images tr[data-id=\"%s\"] button')", image));
    char sel[128];
    snprintf(sel, sizeof sel, "#images tr[data-id=\"%s\"] button[data-action=delete]", id);
    click(sel);
    click(sel);
    CU_ASSERT(wait_js("tiny gone", "!document.querySelector('#images tr[data-id=\"%s\"]')", id));
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, A.reader, NULL), 404);
    free(id);
}

static void test_network_and_subnet_are_created(void)
{
    CU_ASSERT_FATAL(signed_in);
    CU_ASSERT_FATAL(go("networks", "networks"));
    fill("network-name", "app");
    click("#network-submit");
    CU_ASSERT_FATAL(wait_text("app listed", "#networks td.c-name", "app"));
    char *id = row_id("#networks", ".c-name", "app");
    CU_ASSERT_FATAL(id != NULL);
    snprintf(app_net, sizeof app_net, "%s", id);
    free(id);
    CU_ASSERT_FATAL(wait_js("app offered for a subnet",
                            "document.querySelector('#subnet-network option[value=\"%s\"]')",
                            app_net));
    fill("subnet-network", app_net);
    fill("subnet-name", "app-v4");
    fill("subnet-cidr", "10.30.0.0/24");
    click("#subnet-submit");
    CU_ASSERT(wait_js("the subnet under app",
                      "document.querySelector('#networks tr[data-id=\"%s\"]"
                      " .c-cidr')?.textContent === '10.30.0.0/24'",
                      app_net));
    /* what the API has: the subnet with its default gateway, shown too */
    char path[160];
    snprintf(path, sizeof path, "/v1/subnets?network_id=%s", app_net);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.reader, NULL), 200);
    json_t *sn = json_array_get(json_object_get(r.json, "subnets"), 0);
    ST_ASSERT_STR_EQ(sfield(sn, "cidr"), "10.30.0.0/24");
    ST_ASSERT_STR_EQ(sfield(sn, "gateway_ip"), "10.30.0.1");
    snprintf(app_sub, sizeof app_sub, "%s", sfield(sn, "id") ? sfield(sn, "id") : "");
    st_resp_free(&r);
    char *row =
        js_text("document.querySelector('#networks tr[data-id=\"%s\"]').innerText", app_net);
    CU_ASSERT(row && strstr(row, "gateway 10.30.0.1") && strstr(row, "DHCP"));
    free(row);
    /* the external network is listed, without a delete */
    CU_ASSERT(wait_js("public listed",
                      "document.querySelector('#networks tr[data-id=\"%s\"]')"
                      "?.innerText.includes('external')",
                      ext_net));
    CU_ASSERT(js_true("!document.querySelector('#networks tr[data-id=\"%s\"] button')", ext_net));
    /* a network to delete: two clicks */
    fill("network-name", "scratch");
    click("#network-submit");
    CU_ASSERT_FATAL(wait_text("scratch listed", "#networks td.c-name", "scratch"));
    id = row_id("#networks", ".c-name", "scratch");
    CU_ASSERT_FATAL(id != NULL);
    char sel[128];
    snprintf(sel, sizeof sel, "#networks tr[data-id=\"%s\"] button[data-action=delete]", id);
    click(sel);
    click(sel);
    CU_ASSERT(
        wait_js("scratch gone", "!document.querySelector('#networks tr[data-id=\"%s\"]')", id));
    snprintf(path, sizeof path, "/v1/networks/%s", id);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, A.reader, NULL), 404);
    free(id);
    cdp_shot(shots, "04-networks");
}

static void test_port_is_created(void)
{
    CU_ASSERT_FATAL(signed_in && app_net[0]);
    CU_ASSERT_FATAL(go("ports", "ports"));
    CU_ASSERT_FATAL(wait_js("app offered",
                            "document.querySelector('#port-network"
                            " option[value=\"%s\"]')",
                            app_net));
    fill("port-network", app_net);
    fill("port-name", "vip");
    fill("port-ip", "10.30.0.50");
    click("#port-submit");
    CU_ASSERT_FATAL(wait_text("vip listed", "#ports td.c-name", "vip"));
    char *id = row_id("#ports", ".c-name", "vip");
    CU_ASSERT_FATAL(id != NULL);
    char path[128];
    snprintf(path, sizeof path, "/v1/ports/%s", id);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.reader, NULL), 200);
    const char *ip = sfield(json_array_get(json_object_get(r.json, "fixed_ips"), 0), "ip_address");
    ST_ASSERT_STR_EQ(ip, "10.30.0.50");
    char *cell =
        js_text("document.querySelector('#ports tr[data-id=\"%s\"] .c-mac').textContent", id);
    ST_ASSERT_STR_EQ(cell, sfield(r.json, "mac_address"));
    free(cell);
    st_resp_free(&r);
    /* web-1's port is listed as its, with no delete */
    CU_ASSERT(wait_js("web-1's port",
                      "[...document.querySelectorAll('#ports .c-owner a')]"
                      ".some((a) => a.getAttribute('href') === '#/instance/%s')",
                      web1));
    free(id);
    cdp_shot(shots, "05-ports");
}

static void test_security_group_rule_is_added_and_removed(void)
{
    CU_ASSERT_FATAL(signed_in);
    CU_ASSERT_FATAL(go("security-groups", "security-groups"));
    CU_ASSERT_FATAL(wait_js("the default group",
                            "[...document.querySelectorAll('.sg .c-name')]"
                            ".some((e) => e.textContent.startsWith('default'))"));
    char *gid =
        js_text("[...document.querySelectorAll('.sg')].find((g) =>"
                " g.querySelector('.c-name').textContent.startsWith('default')).dataset.id");
    CU_ASSERT_FATAL(gid != NULL);
    fill("rule-group", gid);
    fill("rule-direction", "ingress");
    fill("rule-protocol", "tcp");
    fill("rule-min", "22");
    fill("rule-remote", "192.0.2.0/24");
    click("#rule-submit");
    CU_ASSERT_FATAL(wait_js("the rule shown",
                            "[...document.querySelectorAll('.sg[data-id=\"%s\"] tr[data-id]')]"
                            ".some((r) => r.querySelector('.c-proto').textContent === 'tcp 22'"
                            " && r.querySelector('.c-remote').textContent === '192.0.2.0/24')",
                            gid));
    /* the API has it */
    char path[160];
    snprintf(path, sizeof path, "/v1/security-group-rules?security_group_id=%s", gid);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.reader, NULL), 200);
    json_t *it, *rule = NULL;
    size_t i;
    json_array_foreach(json_object_get(r.json, "security_group_rules"), i, it)
    {
        const char *pfx = sfield(it, "remote_ip_prefix");
        if (pfx && !strcmp(pfx, "192.0.2.0/24"))
            rule = it;
    }
    CU_ASSERT_FATAL(rule != NULL);
    ST_ASSERT_STR_EQ(sfield(rule, "protocol"), "tcp");
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(rule, "port_range_min")), 22);
    ST_ASSERT_INT_EQ(json_integer_value(json_object_get(rule, "port_range_max")), 22);
    ST_ASSERT_STR_EQ(sfield(rule, "direction"), "ingress");
    char rid[40];
    snprintf(rid, sizeof rid, "%s", sfield(rule, "id"));
    st_resp_free(&r);
    cdp_shot(shots, "06-security-groups");
    char sel[160];
    snprintf(sel, sizeof sel, ".sg tr[data-id=\"%s\"] button[data-action=delete-rule]", rid);
    click(sel);
    click(sel);
    CU_ASSERT(wait_js("the rule gone", "!document.querySelector('.sg tr[data-id=\"%s\"]')", rid));
    snprintf(path, sizeof path, "/v1/security-group-rules/%s", rid);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, A.reader, NULL), 404);
    free(gid);
}

static void test_router_joins_the_subnet(void)
{
    CU_ASSERT_FATAL(signed_in && app_sub[0]);
    CU_ASSERT_FATAL(go("routers", "routers"));
    CU_ASSERT_FATAL(wait_js("public offered",
                            "document.querySelector('#router-external"
                            " option[value=\"%s\"]')",
                            ext_net));
    fill("router-name", "edge");
    fill("router-external", ext_net);
    click("#router-submit");
    CU_ASSERT_FATAL(wait_text("edge listed", "#routers td.c-name", "edge"));
    char *id = row_id("#routers", ".c-name", "edge");
    CU_ASSERT_FATAL(id != NULL);
    CU_ASSERT_FATAL(wait_js("edge and the subnet offered",
                            "document.querySelector('#attach-router option[value=\"%s\"]') &&"
                            " document.querySelector('#attach-subnet option[value=\"%s\"]')",
                            id, app_sub));
    fill("attach-router", id);
    fill("attach-subnet", app_sub);
    click("#attach-submit");
    CU_ASSERT(wait_js("the interface",
                      "document.querySelector('#routers tr[data-id=\"%s\"]"
                      " li[data-subnet=\"%s\"]')?.textContent"
                      ".startsWith('10.30.0.0/24 (app-v4) at 10.30.0.1')",
                      id, app_sub));
    /* the API agrees, and the gateway's address on the external network is shown */
    char path[128];
    snprintf(path, sizeof path, "/v1/routers/%s", id);
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.reader, NULL), 200);
    json_t *ifc = json_array_get(json_object_get(r.json, "interfaces"), 0);
    ST_ASSERT_STR_EQ(sfield(ifc, "subnet_id"), app_sub);
    ST_ASSERT_STR_EQ(sfield(ifc, "ip_address"), "10.30.0.1");
    const char *gwip =
        sfield(json_array_get(json_object_get(json_object_get(r.json, "external_gateway_info"),
                                              "external_fixed_ips"),
                              0),
               "ip_address");
    CU_ASSERT_FATAL(gwip != NULL);
    char *cell =
        js_text("document.querySelector('#routers tr[data-id=\"%s\"] .c-gw').textContent", id);
    CU_ASSERT(cell && strstr(cell, "public") && strstr(cell, gwip));
    free(cell);
    st_resp_free(&r);
    free(id);
    cdp_shot(shots, "07-routers");
}

static void test_floating_ip_is_allocated_associated_released(void)
{
    CU_ASSERT_FATAL(signed_in);
    CU_ASSERT_FATAL(go("floating-ips", "floating-ips"));
    CU_ASSERT_FATAL(wait_js("public offered",
                            "document.querySelector('#fip-network"
                            " option[value=\"%s\"]')",
                            ext_net));
    fill("fip-network", ext_net);
    fill("fip-description", "for vip");
    click("#fip-submit");
    CU_ASSERT_FATAL(wait_js("the address", "document.getElementById('fip-ok').textContent"
                                           ".startsWith('Allocated 203.0.113.')"));
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/floating-ips", A.reader, NULL), 200);
    json_t *fip = json_array_get(json_object_get(r.json, "floating_ips"), 0);
    char fid[40], addr[40];
    snprintf(fid, sizeof fid, "%s", sfield(fip, "id") ? sfield(fip, "id") : "");
    snprintf(addr, sizeof addr, "%s", sfield(fip, "floating_ip_address"));
    st_resp_free(&r);
    CU_ASSERT(wait_text("it listed", "#floating-ips td.c-addr", addr));
    /* map it to the vip port (behind the router edge) */
    char *vip = js_text("[...document.querySelectorAll('#associate-port option')]"
                        ".find((o) => o.textContent.startsWith('vip '))?.value");
    CU_ASSERT_FATAL(vip != NULL);
    fill("associate-fip", fid);
    fill("associate-port", vip);
    click("#associate-submit");
    CU_ASSERT(wait_js("the mapping",
                      "document.querySelector('#floating-ips tr[data-id=\"%s\"]"
                      " .c-fixed')?.textContent === '10.30.0.50'",
                      fid));
    char path[128];
    snprintf(path, sizeof path, "/v1/floating-ips/%s", fid);
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", path, A.reader, NULL), 200);
    ST_ASSERT_STR_EQ(sfield(r.json, "port_id"), vip);
    ST_ASSERT_STR_EQ(sfield(r.json, "fixed_ip_address"), "10.30.0.50");
    st_resp_free(&r);
    free(vip);
    cdp_shot(shots, "08-floating-ips");
    char sel[128];
    snprintf(sel, sizeof sel, "#floating-ips tr[data-id=\"%s\"] button[data-action=delete]", fid);
    click(sel);
    click(sel);
    CU_ASSERT(
        wait_js("released", "!document.querySelector('#floating-ips tr[data-id=\"%s\"]')", fid));
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, A.reader, NULL), 404);
}

static void test_api_key_is_shown_once_and_revoked(void)
{
    CU_ASSERT_FATAL(signed_in);
    CU_ASSERT_FATAL(go("api-keys", "api-keys"));
    fill("apikey-name", "ci");
    fill("apikey-days", "30");
    click("#apikey-submit");
    CU_ASSERT_FATAL(wait_text("ci listed", "#api-keys td.c-name", "ci"));
    char *key = js_text("document.getElementById('apikey-secret-value')?.textContent");
    CU_ASSERT_FATAL(key != NULL && key[0]);
    /* the secret shown is a working credential for this tenant */
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/auth/whoami", key, NULL), 200);
    ST_ASSERT_STR_EQ(sfield(r.json, "tenant_id"), A.id);
    ST_ASSERT_STR_EQ(sfield(r.json, "token_kind"), "api_key");
    st_resp_free(&r);
    cdp_shot(shots, "10-api-keys");
    char *id = row_id("#api-keys", ".c-name", "ci");
    CU_ASSERT_FATAL(id != NULL);
    /* the list never holds the secret, and leaving the page forgets it */
    char *k = lit(key);
    CU_ASSERT(js_true("!document.getElementById('api-keys').textContent.includes(%s)", k));
    CU_ASSERT(go("quotas", "quotas"));
    CU_ASSERT(go("api-keys", "api-keys"));
    CU_ASSERT(wait_text("ci again", "#api-keys td.c-name", "ci"));
    CU_ASSERT(js_true("!document.body.textContent.includes(%s)", k));
    free(k);
    char sel[128];
    snprintf(sel, sizeof sel, "#api-keys tr[data-id=\"%s\"] button[data-action=delete]", id);
    click(sel);
    click(sel);
    CU_ASSERT(wait_js("ci gone", "!document.querySelector('#api-keys tr[data-id=\"%s\"]')", id));
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/auth/whoami", key, NULL), 401);
    free(id);
    free(key);
}

static void test_quotas_show_usage(void)
{
    CU_ASSERT_FATAL(signed_in);
    CU_ASSERT_FATAL(go("quotas", "quotas"));
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/quotas", A.reader, NULL), 200);
    json_t *u = json_object_get(r.json, "usage"), *l = json_object_get(r.json, "limits");
    const char *keys[] = {"instances", "vcpus",           "networks",
                          "ports",     "security_groups", "floating_ips"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char want[64];
        snprintf(want, sizeof want, "%lld of %lld",
                 (long long)json_integer_value(json_object_get(u, keys[i])),
                 (long long)json_integer_value(json_object_get(l, keys[i])));
        char sel[64];
        snprintf(sel, sizeof sel, "[data-quota=%s] dd", keys[i]);
        CU_ASSERT(wait_text(keys[i], sel, want));
    }
    st_resp_free(&r);
    cdp_shot(shots, "11-quotas");
}

static void test_keypair_is_deleted_with_two_clicks(void)
{
    CU_ASSERT_FATAL(signed_in && keypair_id[0]);
    CU_ASSERT_FATAL(go("keypairs", "keypairs"));
    char sel[128];
    snprintf(sel, sizeof sel, "#keypairs tr[data-id=\"%s\"] button[data-action=delete]",
             keypair_id);
    CU_ASSERT_FATAL(wait_js("the keypair", "document.querySelector('%s')", sel));
    click(sel);
    char path[128];
    snprintf(path, sizeof path, "/v1/keypairs/%s", keypair_id);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, A.reader, NULL), 200);
    click(sel);
    CU_ASSERT(wait_js("the keypair gone", "!document.querySelector('#keypairs tr[data-id=\"%s\"]')",
                      keypair_id));
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, A.reader, NULL), 404);
}

static char *page_token(void)
{
    return js_text("sessionStorage.getItem('stratus.token')");
}

static void test_sign_out_revokes_the_token(void)
{
    CU_ASSERT_FATAL(signed_in);
    char *tok = page_token();
    CU_ASSERT_FATAL(tok != NULL);
    click("#signout");
    CU_ASSERT(wait_js("the sign-in form", "!document.getElementById('signin-view').hidden &&"
                                          " document.getElementById('app-view').hidden &&"
                                          " sessionStorage.getItem('stratus.token') === null"));
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", "/v1/auth/whoami", tok, NULL), 401);
    free(tok);
    /* nothing of the session stays on the page */
    CU_ASSERT(js_true("document.getElementById('page').childElementCount === 0 &&"
                      " document.getElementById('nav').childElementCount === 0"));
}

static void test_revoked_session_returns_to_sign_in(void)
{
    submit_signin("acme-member", "password-123", NULL);
    CU_ASSERT_FATAL(go("instances", "instances"));
    CU_ASSERT_FATAL(wait_js("the instances again",
                            "!document.getElementById('app-view').hidden"
                            " && document.querySelector('tr[data-id=\"%s\"]')",
                            db1));
    char *tok = page_token();
    CU_ASSERT_FATAL(tok != NULL);
    /* the session ends elsewhere; the next poll finds out */
    ST_ASSERT_INT_EQ(gwt_status(&T, "DELETE", "/v1/auth/tokens/current", tok, NULL), 204);
    free(tok);
    CU_ASSERT(wait_js("the sign-in form with a reason",
                      "!document.getElementById('signin-view').hidden &&"
                      " document.getElementById('signin-error').textContent"
                      ".includes('session has ended')"));
}

static void test_wrong_password_shows_the_api_message(void)
{
    submit_signin("acme-member", "not-the-password", NULL);
    CU_ASSERT(wait_js("the API's message", "document.getElementById('signin-error').textContent"
                                           " === 'invalid name or password'"));
    CU_ASSERT(js_true("document.getElementById('app-view').hidden &&"
                      " sessionStorage.getItem('stratus.token') === null"));
}

static void test_reader_gets_no_write_controls(void)
{
    submit_signin("acme-reader", "password-123", "acme");
    CU_ASSERT_FATAL(go("instances", "instances"));
    CU_ASSERT_FATAL(wait_js("the reader's list",
                            "!document.getElementById('app-view').hidden"
                            " && document.querySelector('tr[data-id=\"%s\"]')",
                            web1));
    /* on every tenant page: forms and action buttons rendered but not shown */
    const char *pages[] = {"instances", "images",       "networks", "ports",   "security-groups",
                           "routers",   "floating-ips", "keypairs", "api-keys"};
    for (size_t p = 0; p < sizeof pages / sizeof *pages; p++) {
        CU_ASSERT(go(pages[p], pages[p]));
        /* let the page load what it lists */
        CU_ASSERT(wait_js("the list", "document.querySelector('#page table tbody')"));
        js_true("new Promise((r) => setTimeout(r, 300))");
        json_t *v = js("(() => { const shown = (e) => e.getClientRects().length > 0;"
                       " const w = [...document.querySelectorAll('#page form, #page .write,"
                       " #page button[data-action]')].filter(shown);"
                       " return w.map((e) => e.id || e.dataset.action || e.tagName); })()");
        char *list = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        st_assert_fmt(json_is_array(v) && json_array_size(v) == 0, 0, __FILE__, __LINE__,
                      "a reader sees on %s: %s", pages[p], list);
        free(list);
        json_decref(v);
    }
    click("#signout");
    CU_ASSERT(wait_js("signed out", "!document.getElementById('signin-view').hidden"));
}

static void test_page_reported_no_errors(void)
{
    /* the watcher itself works: a console error is seen */
    json_decref(js("console.error('stratus-probe')"));
    CU_ASSERT(wait_js("the probe", "true"));
    long long deadline = st_now_ms() + WAIT_MS;
    int seen = 0;
    while (!seen && st_now_ms() < deadline) {
        size_t i;
        json_t *p;
        json_array_foreach(B.problems, i, p) if (strstr(json_string_value(p), "stratus-probe"))
        {
            json_array_remove(B.problems, i);
            seen = 1;
            break;
        }
        json_t *e = seen ? NULL : cdp_read(&B, st_now_ms() + 200);
        if (e) {
            cdp_event(&B, e);
            json_decref(e);
        }
    }
    CU_ASSERT(seen);
    size_t i;
    json_t *p;
    json_array_foreach(B.problems, i, p)
        st_assert_fmt(0, 0, __FILE__, __LINE__, "the page reported: %s", json_string_value(p));
    /* API refusals the app displayed (409, 401) are logged by Chromium too */
    json_array_foreach(B.api_errors, i, p) fprintf(stderr, "(expected) %s\n", json_string_value(p));
}

static CU_TestInfo tests[] = {
    {"the files are served with security headers and ETags",
     test_files_are_served_with_security_headers},
    {"a member signs in and sees the tenant's instances and pages",
     test_member_signs_in_and_sees_the_instances},
    {"a keypair is added through the form", test_keypair_is_added_through_the_form},
    {"an instance is created through the form", test_instance_is_created_through_the_form},
    {"an API error's message is shown", test_api_errors_show_their_message},
    {"a node's report appears by itself through 304 polling", test_node_report_appears_by_itself},
    {"the instance page shows state, flavor, image, ports, console, actions",
     test_instance_detail_page},
    {"delete asks for a second click, then deletes", test_delete_asks_then_deletes},
    {"an image is uploaded with progress and becomes active", test_image_is_uploaded_with_progress},
    {"a network and a subnet are created, a network deleted", test_network_and_subnet_are_created},
    {"a port is created with a fixed IP", test_port_is_created},
    {"a security group rule is added and removed", test_security_group_rule_is_added_and_removed},
    {"a router is created and joins a subnet", test_router_joins_the_subnet},
    {"a floating IP is allocated, associated and released",
     test_floating_ip_is_allocated_associated_released},
    {"an API key's secret is shown once, works, and is revoked",
     test_api_key_is_shown_once_and_revoked},
    {"the quotas page shows the API's usage and limits", test_quotas_show_usage},
    {"a keypair is deleted with two clicks", test_keypair_is_deleted_with_two_clicks},
    {"sign-out revokes the token", test_sign_out_revokes_the_token},
    {"a revoked session returns to sign-in", test_revoked_session_returns_to_sign_in},
    {"a wrong password shows the API's message", test_wrong_password_shows_the_api_message},
    {"a reader gets no write controls on any page", test_reader_gets_no_write_controls},
    {"the page reported no errors or CSP violations", test_page_reported_no_errors},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"dashboard", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
