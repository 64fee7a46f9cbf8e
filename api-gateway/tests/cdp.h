/*
 * cdp.h - a small DevTools-protocol client that drives Debian's headless
 * Chromium for the dashboard tests (test_dashboard.c, test_dashboard_admin.c).
 *
 * Chromium runs with --remote-debugging-pipe: NUL-terminated JSON commands
 * on its fd 3, replies and events on its fd 4. One browser with one page per
 * test program, in the global B. Everything the page reports on its own
 * (console errors, uncaught exceptions, CSP violations, failed /v1 calls) is
 * collected in B.problems and B.api_errors for the test to judge.
 *
 * The js helpers take printf formats and evaluate in the page (promises
 * awaited); waits poll with a deadline of WAIT_MS and print what the page
 * showed when it passes.
 */
#ifndef CDP_H
#define CDP_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#define WAIT_MS 15000

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

extern cdp B;

/* Starts Chromium (-1 when it is missing or will not start); cdp_open_page
 * opens the page B's session drives, desktop-sized (1280 x 900, for the
 * screenshots); cdp_close ends it all; cdp_kill (safe
 * from atexit) only kills the browser and removes its directory. */
int cdp_launch(cdp *b);
int cdp_open_page(cdp *b);
void cdp_close(void);
void cdp_kill(void);

/* The protocol itself: one message read by deadline, one command sent
 * (returns its id; steals params), one command and its result (a new
 * reference, NULL on error or timeout), and an event recorded. */
json_t *cdp_read(cdp *b, long long deadline);
int cdp_send(cdp *b, int page, const char *method, json_t *params);
json_t *cdp_call(cdp *b, int page, const char *method, json_t *params);
void cdp_event(cdp *b, json_t *m);

/* The string at "a.b.c" through nested objects, or NULL. */
const char *jstr(json_t *o, const char *path);

/* Evaluation in the page: js_expr frees expr; js formats it; js_text a
 * string result (malloc'd); js_true a truthy one; wait_js polls until it
 * holds (1) or WAIT_MS pass (0). */
json_t *js_expr(char *expr);
json_t *js(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *js_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int js_true(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int wait_js(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JS string literal for s (malloc'd); vprintf into a malloc'd string. */
char *lit(const char *s);
char *vfmt(const char *fmt, va_list ap);

/* As a person would: type into an input (by id), click what a selector
 * finds (1 when there was something), and sign in (tenant when given). */
void fill(const char *id, const char *value);
int click(const char *selector);
void submit_signin(const char *name, const char *password, const char *tenant);

/* Lets events in for ms milliseconds. */
void cdp_pump(int ms);
/* Saves a PNG of the whole page as it is now as <dir>/<name>.png (dir made
 * when missing); 0, or -1 and a failed assertion naming the file. */
int cdp_shot(const char *dir, const char *name);
/* Downloads go to dir from now on; 0 or -1. */
int cdp_download_to(const char *dir);

#endif
