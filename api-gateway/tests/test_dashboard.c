/*
 * The web dashboard, in a real browser.
 *
 * Debian's headless Chromium is driven from C over the DevTools protocol
 * (cdp.c, shared with test_dashboard_admin.c). It loads the dashboard from
 * a real gateway over loopback and a tenant member uses it the way a person would - filling the
 * forms and clicking the buttons through Runtime.evaluate - while the test
 * checks the outcome both on the page and through the API: sign-in, the
 * instance list, creating an instance (with a keypair and user data),
 * an API error shown in the form, a state change reported by the "node"
 * appearing by itself through the ETag-conditional polling (which must get
 * 304s while nothing changes), the stop action, the console, sign-out, a
 * revoked session returning to sign-in, and a wrong password's message.
 * Every console error, uncaught exception and Content-Security-Policy
 * violation the page reports is collected, and there must be none. The
 * files' security headers are checked with plain HTTP requests.
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
static char flavor[40], image[40], web1[40], db1[40], keypair_id[40];
static int signed_in; /* the first sign-in worked: later tests build on it */

static const char *KEY =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAII5fDoSwCs3Zg73Sao6zV8+UVKL99sup7rLMCqj9zP75 dev@laptop";

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
    check_headers("/dashboard/app.js", "text/javascript");
    check_headers("/dashboard/style.css", "text/css");
    check_headers("/dashboard/favicon.svg", "image/svg+xml");
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/", NULL, NULL), 302);
    char *loc = st_resp_header(&r, "Location");
    ST_ASSERT_STR_EQ(loc, "/dashboard/");
    free(loc);
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
    submit_signin("acme-member", "password-123", NULL);
    CU_ASSERT_FATAL(wait_js("web-1 listed as active",
                            "document.querySelector('tr[data-id=\"%s\"] .c-state')"
                            "?.textContent === 'active'",
                            web1));
    signed_in = 1;
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
    CU_ASSERT(wait_js("the quota usage", "document.querySelector('[data-quota=instances] dd')"
                                         "?.textContent === '1 of 10'"));
}

static void test_keypair_is_added_through_the_form(void)
{
    CU_ASSERT_FATAL(signed_in);
    fill("keypair-name", "laptop");
    fill("keypair-key", KEY);
    click("#keypair-submit");
    CU_ASSERT_FATAL(wait_js("the keypair listed",
                            "[...document.querySelectorAll('#keypairs td.c-name')]"
                            ".some((e) => e.textContent === 'laptop')"));
    st_resp r;
    gwt_call(&T, &r, "GET", "/v1/keypairs", A.reader, NULL);
    json_t *k = json_array_get(json_object_get(r.json, "keypairs"), 0);
    snprintf(keypair_id, sizeof keypair_id, "%s",
             json_string_value(json_object_get(k, "id"))
                 ? json_string_value(json_object_get(k, "id"))
                 : "");
    ST_ASSERT_STR_EQ(json_string_value(json_object_get(k, "name")), "laptop");
    st_resp_free(&r);
    CU_ASSERT(wait_js("the keypair offered for new instances",
                      "document.querySelector('#create-keypair option[value=\"%s\"]')",
                      keypair_id));
    /* a key the API refuses: its message on the form */
    fill("keypair-name", "bad");
    fill("keypair-key", "ssh-ed25519 not-base64!");
    click("#keypair-submit");
    CU_ASSERT(wait_js("the API's refusal", "document.getElementById('keypair-error')"
                                           ".textContent.length > 0"));
}

static void test_instance_is_created_through_the_form(void)
{
    CU_ASSERT_FATAL(signed_in);
    CU_ASSERT_FATAL(wait_js("the catalogue in the form",
                            "document.querySelector('#create-flavor option[value=\"%s\"]') &&"
                            " document.querySelector('#create-image option[value=\"%s\"]')",
                            flavor, image));
    fill("create-name", "db-1");
    fill("create-flavor", flavor);
    fill("create-image", image);
    fill("create-keypair", keypair_id);
    fill("create-userdata", "#!/bin/sh\necho hello from db-1\n");
    click("#create-submit");
    CU_ASSERT_FATAL(wait_js("db-1 listed", "[...document.querySelectorAll('#instances td.c-name')]"
                                           ".some((e) => e.textContent === 'db-1')"));
    char *id = js_text("[...document.querySelectorAll('#instances tr[data-id]')]"
                       ".find((r) => r.querySelector('.c-name').textContent === 'db-1')"
                       ".dataset.id");
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
    json_array_foreach(json_object_get(r.json, "instances"), i,
                       it) if (!strcmp(json_string_value(json_object_get(it, "id")), db1)) ud =
        json_string_value(json_object_get(it, "user_data"));
    /* base64 of "#!/bin/sh\necho hello from db-1\n" */
    ST_ASSERT_STR_EQ(ud, "IyEvYmluL3NoCmVjaG8gaGVsbG8gZnJvbSBkYi0xCg==");
    st_resp_free(&r);
    CU_ASSERT(wait_js("the new usage", "document.querySelector('[data-quota=instances] dd')"
                                       "?.textContent === '2 of 10'"));
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
                      "document.getElementById('create-error').textContent"
                      " === %s",
                      w));
    free(w);
    st_resp_free(&r);
    CU_ASSERT(wait_js("no app-1", "![...document.querySelectorAll('#instances td.c-name')]"
                                  ".some((e) => e.textContent === 'app-1')"));
}

static void test_keypair_is_deleted_with_two_clicks(void)
{
    CU_ASSERT_FATAL(signed_in && keypair_id[0]);
    char sel[128];
    snprintf(sel, sizeof sel, "#keypairs tr[data-id=\"%s\"] button[data-action=delete]",
             keypair_id);
    click(sel);
    char path[128];
    snprintf(path, sizeof path, "/v1/keypairs/%s", keypair_id);
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, A.reader, NULL), 200);
    click(sel);
    CU_ASSERT(wait_js("the keypair gone",
                      "!document.querySelector('#keypairs tr[data-id=\"%s\"]')"
                      " && !document.querySelector('#create-keypair"
                      " option[value=\"%s\"]')",
                      keypair_id, keypair_id));
    ST_ASSERT_INT_EQ(gwt_status(&T, "GET", path, A.reader, NULL), 404);
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
}

static void test_stop_action_sets_the_task(void)
{
    CU_ASSERT_FATAL(signed_in);
    char sel[128];
    /* an active instance offers stop and reboot, not start */
    snprintf(sel, sizeof sel, "tr[data-id=\"%s\"] button[data-action=start]", web1);
    char *s = lit(sel);
    CU_ASSERT(js_true("document.querySelector(%s) === null", s));
    free(s);
    snprintf(sel, sizeof sel, "tr[data-id=\"%s\"] button[data-action=stop]", web1);
    click(sel);
    CU_ASSERT(wait_js("web-1 stopping",
                      "document.querySelector('tr[data-id=\"%s\"] .c-task')"
                      "?.textContent === 'stopping'",
                      web1));
    char *task = gwt_instance_field(&T, A.reader, web1, "task");
    ST_ASSERT_STR_EQ(task, "stopping");
    free(task);
    /* while a task runs no other power action is offered */
    CU_ASSERT(wait_js("no power actions",
                      "!document.querySelector('tr[data-id=\"%s\"]"
                      " button[data-action=stop], tr[data-id=\"%s\"]"
                      " button[data-action=reboot]')",
                      web1, web1));
}

static void test_delete_asks_then_deletes(void)
{
    CU_ASSERT_FATAL(signed_in && db1[0]);
    char sel[128];
    snprintf(sel, sizeof sel, "tr[data-id=\"%s\"] button[data-action=delete]", db1);
    click(sel);
    CU_ASSERT(wait_js("the confirmation",
                      "document.querySelector('tr[data-id=\"%s\"]"
                      " button[data-action=delete]')?.textContent ==="
                      " 'Confirm delete'",
                      db1));
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

static void test_console_is_shown(void)
{
    CU_ASSERT_FATAL(signed_in);
    char path[256];
    snprintf(path, sizeof path, "%s/internal/v1/node/instances/%s/console", T.base, web1);
    const char *text = "Stratus guest 1.0\nweb-1 login: \xff\n";
    const char *h[] = {"Content-Type: application/octet-stream", NULL};
    st_resp r;
    st_http_n(&r, "PUT", path, node, text, strlen(text), h);
    ST_ASSERT_INT_EQ(r.status, 204);
    st_resp_free(&r);
    char sel[128];
    snprintf(sel, sizeof sel, "tr[data-id=\"%s\"] button[data-action=console]", web1);
    click(sel);
    CU_ASSERT(wait_js("the console text", "document.getElementById('console-output').textContent"
                                          ".includes('Stratus guest 1.0\\nweb-1 login: ')"));
    CU_ASSERT(wait_js("the console's name", "document.getElementById('console-name')"
                                            ".textContent === 'web-1'"));
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
    CU_ASSERT(js_true("document.querySelectorAll('#instances tbody tr, #keypairs tbody tr').length"
                      " === 0 && document.getElementById('console-output').textContent === ''"));
}

static void test_revoked_session_returns_to_sign_in(void)
{
    submit_signin("acme-member", "password-123", NULL);
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
    CU_ASSERT_FATAL(wait_js("the reader's list",
                            "!document.getElementById('app-view').hidden"
                            " && document.querySelector('tr[data-id=\"%s\"]')",
                            web1));
    /* rendered but not shown: the create form, keypair form, power buttons */
    json_t *v = js("(() => { const shown = (e) => e.getClientRects().length > 0;"
                   " const w = [...document.querySelectorAll('.write, #create-form,"
                   " #keypair-form, button[data-action]')].filter(shown);"
                   " return w.map((e) => e.id || e.dataset.action || e.tagName); })()");
    char *list = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    /* only the console stays */
    st_assert_fmt(json_is_array(v) && json_array_size(v) > 0, 0, __FILE__, __LINE__,
                  "visible controls: %s", list);
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it)
    {
        const char *what = json_is_string(it) ? json_string_value(it) : "?";
        st_assert_fmt(!strcmp(what, "console"), 0, __FILE__, __LINE__, "a reader sees %s", what);
    }
    free(list);
    json_decref(v);
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
    {"a member signs in and sees the tenant's instances",
     test_member_signs_in_and_sees_the_instances},
    {"a keypair is added through the form", test_keypair_is_added_through_the_form},
    {"an instance is created through the form", test_instance_is_created_through_the_form},
    {"an API error's message is shown", test_api_errors_show_their_message},
    {"a node's report appears by itself through 304 polling", test_node_report_appears_by_itself},
    {"a keypair is deleted with two clicks", test_keypair_is_deleted_with_two_clicks},
    {"the stop action sets the task", test_stop_action_sets_the_task},
    {"delete asks for a second click, then deletes", test_delete_asks_then_deletes},
    {"the console is shown", test_console_is_shown},
    {"sign-out revokes the token", test_sign_out_revokes_the_token},
    {"a revoked session returns to sign-in", test_revoked_session_returns_to_sign_in},
    {"a wrong password shows the API's message", test_wrong_password_shows_the_api_message},
    {"a reader gets no write controls", test_reader_gets_no_write_controls},
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
