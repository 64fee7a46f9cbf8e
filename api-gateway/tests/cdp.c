/*
 * cdp.c - the DevTools-protocol driver of headless Chromium shared by the
 * dashboard tests (see cdp.h): launching it on a pipe, reading and sending
 * messages, recording what the page reports, evaluating in the page, and
 * screenshots and downloads.
 */
#include "cdp.h"
#include "st_proc.h"
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

cdp B = {.pid = -1, .to = -1, .from = -1};

static const char *chromium_path(void)
{
    static const char *const paths[] = {"/usr/lib/chromium/chromium", "/usr/bin/chromium", NULL};
    for (int i = 0; paths[i]; i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

/* Called at exit too, so no Chromium outlives a failing program. */
void cdp_kill(void)
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

int cdp_launch(cdp *b)
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

const char *jstr(json_t *o, const char *path)
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
void cdp_event(cdp *b, json_t *m)
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
json_t *cdp_read(cdp *b, long long deadline)
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
int cdp_send(cdp *b, int page, const char *method, json_t *params)
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
json_t *cdp_call(cdp *b, int page, const char *method, json_t *params)
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
char *vfmt(const char *fmt, va_list ap)
{
    char *s;
    return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}

/* Evaluates expr (freed here) in the page (promises awaited); returns its
 * value (a new reference; JSON null for undefined) or NULL when it threw. */
json_t *js_expr(char *expr)
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
json_t *js(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *expr = vfmt(fmt, ap);
    va_end(ap);
    return js_expr(expr);
}

/* A JS string literal for s (JSON's is one); malloc'd. */
char *lit(const char *s)
{
    json_t *j = json_string(s);
    char *out = json_dumps(j, JSON_ENCODE_ANY);
    json_decref(j);
    return out;
}

char *js_text(const char *fmt, ...)
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
int js_true(const char *fmt, ...)
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
int wait_js(const char *what, const char *fmt, ...)
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
void fill(const char *id, const char *value)
{
    char *v = lit(value);
    json_decref(js("(() => { const e = document.getElementById('%s'); e.value = %s;"
                   " e.dispatchEvent(new Event('input', {bubbles: true})); })()",
                   id, v));
    free(v);
}

/* Clicks the element the selector finds; 1 when there was one. */
int click(const char *selector)
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
void submit_signin(const char *name, const char *password, const char *tenant)
{
    fill("signin-name", name);
    fill("signin-password", password);
    if (tenant)
        fill("signin-tenant", tenant);
    click("#signin-submit");
}

int cdp_open_page(cdp *b)
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
    /* a desktop-sized window, for the screenshots */
    json_decref(cdp_call(b, 1, "Emulation.setDeviceMetricsOverride",
                         json_pack("{s:i, s:i, s:f, s:b}", "width", 1280, "height", 900,
                                   "deviceScaleFactor", 1.0, "mobile", 0)));
    return 0;
}

void cdp_close(void)
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

void cdp_pump(int ms)
{
    long long deadline = st_now_ms() + ms;
    json_t *e;
    while ((e = cdp_read(&B, deadline)) != NULL) {
        cdp_event(&B, e);
        json_decref(e);
    }
}

/* RFC 4648 base64 (the screenshot's PNG); returns the length or -1. */
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static long unbase64(const char *s, unsigned char *out)
{
    long n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (; *s && *s != '='; s++) {
        const char *p = strchr(B64, *s);
        if (!p)
            return -1;
        acc = acc << 6 | (unsigned)(p - B64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return n;
}

int cdp_shot(const char *dir, const char *name)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s.png", dir, name);
    if (access(dir, F_OK) != 0)
        st_sh("mkdir -p '%s'", dir);
    json_t *r = cdp_call(&B, 1, "Page.captureScreenshot",
                         json_pack("{s:s, s:b}", "format", "png", "captureBeyondViewport", 1));
    const char *data = jstr(r, "data");
    unsigned char *png = data ? malloc(strlen(data)) : NULL;
    long n = png ? unbase64(data, png) : -1;
    FILE *f = n > 8 && !memcmp(png, "\x89PNG", 4) ? fopen(path, "wb") : NULL;
    int ok = f && fwrite(png, 1, (size_t)n, f) == (size_t)n;
    if (f && fclose(f) != 0)
        ok = 0;
    free(png);
    json_decref(r);
    st_assert_fmt(ok, 0, __FILE__, __LINE__, "screenshot %s not written", path);
    return ok ? 0 : -1;
}

int cdp_download_to(const char *dir)
{
    json_t *r = cdp_call(&B, 0, "Browser.setDownloadBehavior",
                         json_pack("{s:s, s:s}", "behavior", "allow", "downloadPath", dir));
    json_decref(r);
    return r ? 0 : -1;
}
