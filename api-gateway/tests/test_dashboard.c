/*
 * The web dashboard, in a real browser.
 *
 * Debian's headless Chromium is driven from C over the DevTools protocol
 * (--remote-debugging-pipe: NUL-terminated JSON commands on its fd 3, replies
 * and events on its fd 4). It loads the dashboard from a real gateway over
 * loopback and a tenant member uses it the way a person would - filling the
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
#include "gwt.h"
#include "st_test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT_MS 15000

/* ------------------------------------------------------------------ */
/* A small DevTools-protocol client over Chromium's debugging pipe.    */
/* ------------------------------------------------------------------ */

typedef struct cdp {
    pid_t pid;    /* Chromium, leader of its own process group */
    int to, from; /* our ends of its fd 3 and fd 4 */
    char *dir;    /* its profile and home, removed at the end */
    char *buf;    /* bytes read, not yet a whole message */
    size_t len, cap;
    int next_id;
    char session[80];         /* the page's flattened session */
    json_t *problems;         /* strings: console errors, exceptions, CSP violations */
    json_t *api_errors;       /* strings: HTTP errors of /v1 calls (the app shows them) */
    int lists_200, lists_304; /* GET /v1/instances answers seen by the browser */
} cdp;

static cdp B = {.pid = -1, .to = -1, .from = -1};

static const char *chromium_path(void)
{
    static const char *const paths[] = {"/usr/lib/chromium/chromium", "/usr/bin/chromium", NULL};
    for (int i = 0; paths[i]; i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

/* Called at exit too, so no Chromium outlives a failing program. */
static void cdp_kill(void)
{
    if (B.pid > 0) {
        kill(-B.pid, SIGKILL);
        waitpid(B.pid, NULL, 0);
        B.pid = -1;
    }
    if (B.dir) {
        st_rmtree(B.dir);
        free(B.dir);
        B.dir = NULL;
    }
}

static int cdp_launch(cdp *b)
{
    const char *bin = chromium_path();
    if (!bin) {
        fprintf(stderr, "chromium is not installed (bash deploy/install-deps.sh)\n");
        return -1;
    }
    b->dir = st_tmpdir("gw-dash-chromium");
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
        return -1;
    char profile[600], log[600];
    snprintf(profile, sizeof profile, "--user-data-dir=%s/profile", b->dir);
    snprintf(log, sizeof log, "%s/chromium.log", b->dir);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setpgid(0, 0);
        int r = fcntl(in[0], F_DUPFD, 10), w = fcntl(out[1], F_DUPFD, 10);
        int lf = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (r < 0 || w < 0 || lf < 0 || dup2(r, 3) < 0 || dup2(w, 4) < 0 || dup2(lf, 1) < 0 ||
            dup2(lf, 2) < 0)
            _exit(127);
        for (int fd = 5; fd < 1024; fd++)
            close(fd);
        setenv("HOME", b->dir, 1);
        setenv("XDG_CONFIG_HOME", b->dir, 1);
        setenv("XDG_CACHE_HOME", b->dir, 1);
        const char *argv[] = {bin,
                              "--headless=new",
                              "--no-sandbox",
                              "--remote-debugging-pipe",
                              profile,
                              "--no-first-run",
                              "--no-default-browser-check",
                              "--disable-gpu",
                              "--disable-extensions",
                              "--disable-sync",
                              "--disable-background-networking",
                              "--disable-component-update",
                              "--disable-default-apps",
                              "--disable-breakpad",
                              "--disable-crash-reporter",
                              "--disable-dev-shm-usage",
                              "--mute-audio",
                              "about:blank",
                              NULL};
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    setpgid(pid, pid);
    b->pid = pid;
    close(in[0]);
    close(out[1]);
    b->to = in[1];
    b->from = out[0];
    b->problems = json_array();
    b->api_errors = json_array();
    return 0;
}

static void note(json_t *list, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(list, json_string(msg));
}

static const char *jstr(json_t *o, const char *path)
{
    /* "a.b.c" through nested objects */
    char key[64];
    const char *p = path;
    while (o && *p) {
        size_t n = strcspn(p, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        o = json_object_get(o, key);
        p += n + (p[n] == '.');
    }
    return json_string_value(o);
}

/* What the page reports on its own: recorded, judged at the end. */
static void cdp_event(cdp *b, json_t *m)
{
    const char *method = json_string_value(json_object_get(m, "method"));
    json_t *p = json_object_get(m, "params");
    if (!method)
        return;
    if (!strcmp(method, "Runtime.consoleAPICalled")) {
        const char *type = jstr(p, "type");
        if (type && (!strcmp(type, "error") || !strcmp(type, "assert"))) {
            json_t *a0 = json_array_get(json_object_get(p, "args"), 0);
            const char *v = json_string_value(json_object_get(a0, "value"));
            if (!v)
                v = json_string_value(json_object_get(a0, "description"));
            note(b->problems, "console.%s: %s", type, v ? v : "?");
        }
    } else if (!strcmp(method, "Runtime.exceptionThrown")) {
        const char *d = jstr(p, "exceptionDetails.exception.description");
        note(b->problems, "exception: %s", d ? d : jstr(p, "exceptionDetails.text"));
    } else if (!strcmp(method, "Log.entryAdded")) {
        const char *level = jstr(p, "entry.level"), *src = jstr(p, "entry.source");
        const char *url = jstr(p, "entry.url"), *text = jstr(p, "entry.text");
        if (!level || strcmp(level, "error"))
            return;
        /* an API call answered 4xx: the app shows the API's message itself */
        if (src && !strcmp(src, "network") && url && strstr(url, "/v1/"))
            note(b->api_errors, "%s (%s)", text ? text : "", url);
        else
            note(b->problems, "log %s: %s %s", src ? src : "?", text ? text : "", url ? url : "");
    } else if (!strcmp(method, "Network.responseReceived")) {
        const char *url = jstr(p, "response.url");
        long st =
            (long)json_integer_value(json_object_get(json_object_get(p, "response"), "status"));
        if (url && strstr(url, "/v1/instances?")) {
            b->lists_200 += st == 200;
            b->lists_304 += st == 304;
        }
    } else if (!strcmp(method, "Page.javascriptDialogOpening")) {
        note(b->problems, "a dialog opened: %s", jstr(p, "message"));
    } else if (!strcmp(method, "Target.detachedFromTarget") ||
               !strcmp(method, "Inspector.targetCrashed")) {
        note(b->problems, "%s", method);
    }
}

/* The next whole message, or NULL when none came by deadline (or EOF). */
static json_t *cdp_read(cdp *b, long long deadline)
{
    for (;;) {
        char *z = b->len ? memchr(b->buf, 0, b->len) : NULL;
        if (z) {
            size_t n = (size_t)(z - b->buf);
            json_error_t e;
            json_t *m = json_loadb(b->buf, n, 0, &e);
            memmove(b->buf, z + 1, b->len - n - 1);
            b->len -= n + 1;
            if (!m)
                fprintf(stderr, "cdp: bad message: %s\n", e.text);
            return m;
        }
        long long left = deadline - st_now_ms();
        if (left <= 0)
            return NULL;
        struct pollfd pf = {.fd = b->from, .events = POLLIN};
        int pr = poll(&pf, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return NULL;
        if (b->cap - b->len < 65536) {
            b->cap = b->cap * 2 + 65536;
            b->buf = realloc(b->buf, b->cap);
        }
        ssize_t r = read(b->from, b->buf + b->len, b->cap - b->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return NULL;
        b->len += (size_t)r;
    }
}

/* Sends one command (to the page's session when page); returns its id, or
 * -1 when the pipe is gone. Steals params. */
static int cdp_send(cdp *b, int page, const char *method, json_t *params)
{
    int id = ++b->next_id;
    json_t *m = json_pack("{s:i, s:s, s:o}", "id", id, "method", method, "params",
                          params ? params : json_object());
    if (page)
        json_object_set_new(m, "sessionId", json_string(b->session));
    char *text = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    size_t n = strlen(text) + 1, off = 0; /* the NUL terminates the message */
    while (off < n) {
        ssize_t w = write(b->to, text + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            free(text);
            return -1;
        }
        off += (size_t)w;
    }
    free(text);
    return id;
}

/* Sends one command and returns its result (a new reference), or NULL on
 * an error reply or timeout. Events arriving meanwhile are recorded. */
static json_t *cdp_call(cdp *b, int page, const char *method, json_t *params)
{
    int id = cdp_send(b, page, method, params);
    if (id < 0)
        return NULL;
    long long deadline = st_now_ms() + WAIT_MS;
    for (;;) {
        json_t *r = cdp_read(b, deadline);
        if (!r) {
            fprintf(stderr, "cdp: no answer to %s\n", method);
            return NULL;
        }
        if (json_integer_value(json_object_get(r, "id")) == id) {
            json_t *res = json_incref(json_object_get(r, "result"));
            if (!res) {
                char *e = json_dumps(json_object_get(r, "error"), JSON_COMPACT);
                fprintf(stderr, "cdp: %s failed: %s\n", method, e);
                free(e);
            }
            json_decref(r);
            return res;
        }
        cdp_event(b, r);
        json_decref(r);
    }
}

/* printf into a malloc'd string (NULL when out of memory). */
static char *vfmt(const char *fmt, va_list ap)
{
    char *s;
    return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}

/* Evaluates expr (freed here) in the page (promises awaited); returns its
 * value (a new reference; JSON null for undefined) or NULL when it threw. */
static json_t *js_expr(char *expr)
{
    json_t *r = cdp_call(
        &B, 1, "Runtime.evaluate",
        json_pack("{s:s, s:b, s:b}", "expression", expr, "returnByValue", 1, "awaitPromise", 1));
    json_t *v = NULL;
    if (r && json_object_get(r, "exceptionDetails")) {
        const char *d = jstr(r, "exceptionDetails.exception.description");
        fprintf(stderr, "js: %s threw %s\n", expr, d ? d : "?");
    } else if (r) {
        v = json_incref(json_object_get(json_object_get(r, "result"), "value"));
        if (!v)
            v = json_null();
    }
    json_decref(r);
    free(expr);
    return v;
}

/* The same with the expression as a printf format. */
static json_t *js(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *expr = vfmt(fmt, ap);
    va_end(ap);
    return js_expr(expr);
}

/* A JS string literal for s (JSON's is one); malloc'd. */
static char *lit(const char *s)
{
    json_t *j = json_string(s);
    char *out = json_dumps(j, JSON_ENCODE_ANY);
    json_decref(j);
    return out;
}

static char *js_text(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *v = js_expr(vfmt(fmt, ap));
    va_end(ap);
    char *out = json_is_string(v) ? strdup(json_string_value(v)) : NULL;
    json_decref(v);
    return out;
}

/* 1 when the JS condition (printf format) holds now. */
static int js_true(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *expr = vfmt(fmt, ap);
    va_end(ap);
    json_t *v = js("!!(%s)", expr);
    free(expr);
    int ok = json_is_true(v);
    json_decref(v);
    return ok;
}

/* Polls a JS condition until it is true or WAIT_MS pass; 1 when it held.
 * On a timeout prints what the page showed. */
static int wait_js(const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *expr = vfmt(fmt, ap);
    va_end(ap);
    long long deadline = st_now_ms() + WAIT_MS;
    int ok = 0;
    while (!ok) {
        ok = js_true("%s", expr);
        if (ok || st_now_ms() > deadline)
            break;
        /* let events in while waiting */
        json_t *e;
        while ((e = cdp_read(&B, st_now_ms() + 100)) != NULL) {
            cdp_event(&B, e);
            json_decref(e);
        }
    }
    if (!ok) {
        char *page = js_text("document.body.innerText");
        fprintf(stderr, "timed out waiting for %s (%s); the page shows:\n%s\n", what, expr,
                page ? page : "?");
        free(page);
    }
    free(expr);
    return ok;
}

/* Sets an input's value as typing would, by element id. */
static void fill(const char *id, const char *value)
{
    char *v = lit(value);
    json_decref(js("(() => { const e = document.getElementById('%s'); e.value = %s;"
                   " e.dispatchEvent(new Event('input', {bubbles: true})); })()",
                   id, v));
    free(v);
}

/* Clicks the element the selector finds; 1 when there was one. */
static int click(const char *selector)
{
    char *s = lit(selector);
    json_t *v = js("(() => { const e = document.querySelector(%s); if (!e) return false;"
                   " e.click(); return true; })()",
                   s);
    free(s);
    int ok = json_is_true(v);
    json_decref(v);
    st_assert_fmt(ok, 0, __FILE__, __LINE__, "nothing to click at %s", selector);
    return ok;
}

/* Fills the sign-in form (the tenant only when given) and submits it. */
static void submit_signin(const char *name, const char *password, const char *tenant)
{
    fill("signin-name", name);
    fill("signin-password", password);
    if (tenant)
        fill("signin-tenant", tenant);
    click("#signin-submit");
}

static int cdp_open_page(cdp *b)
{
    json_t *r = cdp_call(b, 0, "Target.createTarget", json_pack("{s:s}", "url", "about:blank"));
    const char *tid = jstr(r, "targetId");
    if (!tid) {
        json_decref(r);
        return -1;
    }
    json_t *a = cdp_call(b, 0, "Target.attachToTarget",
                         json_pack("{s:s, s:b}", "targetId", tid, "flatten", 1));
    json_decref(r);
    const char *sid = jstr(a, "sessionId");
    snprintf(b->session, sizeof b->session, "%s", sid ? sid : "");
    json_decref(a);
    if (!b->session[0])
        return -1;
    const char *domains[] = {"Page.enable", "Runtime.enable", "Log.enable", "Network.enable"};
    for (size_t i = 0; i < sizeof domains / sizeof *domains; i++) {
        json_t *x = cdp_call(b, 1, domains[i], NULL);
        if (!x)
            return -1;
        json_decref(x);
    }
    /* The page's own report of CSP violations, whatever the console says. */
    json_decref(cdp_call(b, 1, "Page.addScriptToEvaluateOnNewDocument",
                         json_pack("{s:s}", "source",
                                   "document.addEventListener('securitypolicyviolation', (e) =>"
                                   " console.error('CSP violation: ' + e.violatedDirective +"
                                   " ' ' + e.blockedURI));")));
    return 0;
}

static void cdp_close(void)
{
    if (B.pid > 0) {
        /* Ask politely without waiting for the reply (its children may
         * hold the pipe open), then end whatever is left of its group. */
        cdp_send(&B, 0, "Browser.close", NULL);
        int reaped = 0;
        for (int i = 0; i < 50 && !reaped; i++) {
            reaped = waitpid(B.pid, NULL, WNOHANG) == B.pid;
            if (!reaped)
                usleep(100 * 1000);
        }
        kill(-B.pid, SIGKILL);
        if (!reaped)
            waitpid(B.pid, NULL, 0);
        B.pid = -1;
    }
    if (B.to >= 0)
        close(B.to);
    if (B.from >= 0)
        close(B.from);
    B.to = B.from = -1;
    cdp_kill();
    free(B.buf);
    json_decref(B.problems);
    json_decref(B.api_errors);
}

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
