/*
 * dashboard.c - serves the web dashboard (the files of dashboard/: HTML, CSS, vanilla
 * JavaScript: core.js with the session, router and page registry; app.js,
 * admin.js and billing.js with the pages), compiled into the binary at build
 * time so a gateway needs no files at run time and every gateway serves the
 * same bytes.
 *
 * The dashboard is a client of the public /v1 API like any other: it holds
 * no privilege, and these routes are public. Each file is its own fixed
 * route (the router answers 404 for any other name under /dashboard/, and
 * no path parameter ever reaches a file lookup). Every reply carries
 *   - an ETag from the file's SHA-256, answered 304 on If-None-Match, with
 *     Cache-Control: no-cache (browsers revalidate, so an upgraded gateway's
 *     files are seen at once);
 *   - a Content-Security-Policy that allows scripts, styles, images and
 *     fetches from this origin only (and fetches to the image service's
 *     data origin, images.data_url, for uploads) and nothing inline, so injected markup
 *     cannot run (the scripts also write API data with textContent only;
 *     the one exception is the invoice stylesheet, allowed by its hash);
 *   - X-Frame-Options DENY and frame-ancestors 'none' (no clickjacking),
 *     Referrer-Policy no-referrer (and nosniff, as every reply has).
 * GET / redirects to /dashboard/. The files need no database: they are
 * served while it is down.
 */
#include "gateway.h"
#include "stratus/crypto.h"
#include "stratus/log.h"

#include <stdio.h>
#include <string.h>

extern const char gw_dash_index_html[], gw_dash_core_js[], gw_dash_app_js[], gw_dash_admin_js[],
    gw_dash_charts_js[], gw_dash_billing_js[], gw_dash_style_css[], gw_dash_favicon_svg[];
extern const unsigned long gw_dash_index_html_len, gw_dash_core_js_len, gw_dash_app_js_len,
    gw_dash_admin_js_len, gw_dash_charts_js_len, gw_dash_billing_js_len, gw_dash_style_css_len,
    gw_dash_favicon_svg_len;

/* 'sha256-8ru9...' is the hash of the one <style> of billing's invoice HTML
 * (billing/render.c, bl_render_html): billing.js shows that document in a
 * sandboxed srcdoc iframe, which inherits this policy, and this lets exactly
 * that stylesheet apply and nothing else inline. A change to it there needs
 * the new hash here (gateway_dashboard_admin fails until then). */
#define DASH_CSP_FMT                                                                               \
    "default-src 'self'; script-src 'self';"                                                       \
    " style-src 'self' 'sha256-8ru9IO6ilQZXfjY9nZ5417PX/staN2lYEjZ+BKvvfbc='; img-src 'self';"     \
    " connect-src 'self'%s%s; font-src 'self'; object-src 'none'; base-uri 'none';"                \
    " form-action 'self'; frame-ancestors 'none'"

/* The policy, made once at start: connect-src adds the image service's data
 * origin (images.data_url) when set, so the dashboard can PUT an upload to
 * the signed URL the API hands it. */
static char dash_csp[512];

typedef struct dash_file {
    const char *route; /* "GET /dashboard/app.js" */
    const char *type;
    const char *data;
    const unsigned long *len;
    char etag[20]; /* quoted, the first 16 hex digits of the SHA-256 */
} dash_file;

static dash_file files[] = {
    {"GET /dashboard/", "text/html; charset=utf-8", gw_dash_index_html, &gw_dash_index_html_len,
     ""},
    {"GET /dashboard/core.js", "text/javascript; charset=utf-8", gw_dash_core_js,
     &gw_dash_core_js_len, ""},
    {"GET /dashboard/app.js", "text/javascript; charset=utf-8", gw_dash_app_js, &gw_dash_app_js_len,
     ""},
    {"GET /dashboard/admin.js", "text/javascript; charset=utf-8", gw_dash_admin_js,
     &gw_dash_admin_js_len, ""},
    {"GET /dashboard/charts.js", "text/javascript; charset=utf-8", gw_dash_charts_js,
     &gw_dash_charts_js_len, ""},
    {"GET /dashboard/billing.js", "text/javascript; charset=utf-8", gw_dash_billing_js,
     &gw_dash_billing_js_len, ""},
    {"GET /dashboard/style.css", "text/css; charset=utf-8", gw_dash_style_css,
     &gw_dash_style_css_len, ""},
    {"GET /dashboard/favicon.svg", "image/svg+xml", gw_dash_favicon_svg, &gw_dash_favicon_svg_len,
     ""},
};
#define NFILES (sizeof files / sizeof *files)

static void security_headers(st_http_req *r)
{
    st_http_add_header(r, "Content-Security-Policy", dash_csp);
    st_http_add_header(r, "X-Frame-Options", "DENY");
    st_http_add_header(r, "Referrer-Policy", "no-referrer");
    /* X-Content-Type-Options: nosniff comes with every reply (common/http.c) */
}

/* Plain st_http routes, not gw_route: a static file needs no database
 * connection, and is served while the database is down. */
static void h_file(st_http_req *r, void *arg)
{
    const dash_file *f = arg;
    security_headers(r);
    st_http_add_header(r, "Cache-Control", "no-cache");
    if (st_http_not_modified(r, f->etag))
        return;
    st_http_reply_raw(r, 200, f->type, f->data, *f->len);
}

static void h_root(st_http_req *r, void *arg)
{
    (void)arg;
    security_headers(r);
    st_http_add_header(r, "Location", "/dashboard/");
    st_http_reply_raw(r, 302, "text/plain; charset=utf-8", "see /dashboard/\n", 16);
}

/* "scheme://host[:port]" of url in out (path dropped); -1 unless it is a
 * plain http(s) origin (it goes into a header: no spaces, quotes or ';'). */
static int origin_of(const char *url, char *out, size_t n)
{
    const char *p = !strncmp(url, "https://", 8)  ? url + 8
                    : !strncmp(url, "http://", 7) ? url + 7
                                                  : NULL;
    if (!p)
        return -1;
    size_t host = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]");
    if (host == 0 || (p[host] && p[host] != '/') || (size_t)(p - url) + host >= n)
        return -1;
    snprintf(out, n, "%.*s", (int)((size_t)(p - url) + host), url);
    return 0;
}

void gw_dashboard_routes(gw *g)
{
    const char *data = g->cfg ? st_config_str(g->cfg, "images.data_url") : "";
    char origin[256] = "";
    if (data && *data && origin_of(data, origin, sizeof origin) < 0) {
        st_error("gateway.config",
                 "images.data_url %s is not an http(s) URL: dashboard uploads"
                 " will be refused by its CSP",
                 data);
        origin[0] = 0;
    }
    snprintf(dash_csp, sizeof dash_csp, DASH_CSP_FMT, origin[0] ? " " : "", origin);
    for (size_t i = 0; i < NFILES; i++) {
        char sha[65];
        st_sha256_hex(files[i].data, *files[i].len, sha);
        snprintf(files[i].etag, sizeof files[i].etag, "\"%.16s\"", sha);
        st_http_route(g->http, files[i].route, h_file, &files[i]);
    }
    st_http_route(g->http, "GET /", h_root, NULL);
}
