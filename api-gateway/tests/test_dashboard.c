/*
 * The web dashboard, in a real browser.
 *
 * Debian's headless Chromium is driven from C over the DevTools protocol
 * (--remote-debugging-pipe: NUL-terminated JSON commands on its fd 3, replies
 * and events on its fd 4). It loads the dashboard from a real gateway (with
 * the real image service) over loopback and a tenant member walks every
 * tenant page the way a person would - following the navigation, filling the
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
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", shots);
    if (system(cmd) != 0)
        return -1;
    if (cdp_launch(&B) < 0 || cdp_open_page(&B) < 0) {
        fprintf(stderr, "cannot drive chromium\n");
        return -1;
    }
    /* a desktop-sized window, for the screenshots */
    json_decref(cdp_call(&B, 1, "Emulation.setDeviceMetricsOverride",
                         json_pack("{s:i, s:i, s:f, s:b}", "width", 1280, "height", 900,
                                   "deviceScaleFactor", 1.0, "mobile", 0)));
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

/* Decodes standard base64 (what DevTools sends) in place; returns the
 * length, or -1 on a bad character. */
static long unbase64(char *s)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned acc = 0;
    int bits = 0;
    long n = 0;
    for (const char *p = s; *p && *p != '='; p++) {
        const char *k = strchr(abc, *p);
        if (!k)
            return -1;
        acc = (acc << 6) | (unsigned)(k - abc);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            s[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    return n;
}

/* Saves a PNG of the whole page as <shots>/<name>.png. */
static void screenshot(const char *name)
{
    json_t *r = cdp_call(&B, 1, "Page.captureScreenshot",
                         json_pack("{s:s, s:b}", "format", "png", "captureBeyondViewport", 1));
    const char *data = jstr(r, "data");
    st_assert_fmt(data != NULL, 0, __FILE__, __LINE__, "no screenshot of %s", name);
    if (data) {
        char *png = strdup(data), path[700];
        long n = unbase64(png);
        snprintf(path, sizeof path, "%s/%s.png", shots, name);
        FILE *f = fopen(path, "wb");
        int ok =
            n > 8 && f && fwrite(png, 1, (size_t)n, f) == (size_t)n && !memcmp(png, "\x89PNG", 4);
        if (f)
            fclose(f);
        st_assert_fmt(ok, 0, __FILE__, __LINE__, "screenshot %s not written", path);
        free(png);
    }
    json_decref(r);
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
    for (const char *const *f =
             (const char *const[]){"core.js", "app.js", "admin.js", "billing.js", NULL};
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
    screenshot("00-sign-in");
    submit_signin("acme-member", "password-123", NULL);
    CU_ASSERT_FATAL(wait_js("web-1 listed as active",
                            "document.querySelector('tr[data-id=\"%s\"] .c-state')"
                            "?.textContent === 'active'",
                            web1));
    signed_in = 1;
    /* the default page, and the bar with every tenant page but no admin one */
    CU_ASSERT(js_true("location.hash === '#/instances'"));
    char *nav = js_text("[...document.querySelectorAll('#nav a')].map((a) => a.dataset.page)"
                        ".join(',')");
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
    screenshot("09-keypairs");
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
    screenshot("01-instances");
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
    screenshot("02-instance-detail");
    /* an active instance offers stop and reboot, not start */
    CU_ASSERT(js_true("!document.querySelector('#instance-actions button[data-action=start]')"));
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
    screenshot("03-images");
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
    screenshot("04-networks");
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
    screenshot("05-ports");
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
    screenshot("06-security-groups");
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
    screenshot("07-routers");
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
    screenshot("08-floating-ips");
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
    screenshot("10-api-keys");
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
    screenshot("11-quotas");
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
