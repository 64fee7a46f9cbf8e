/*
 * gw.c - the gateway's node API, as blocking calls for thread-pool jobs:
 * heartbeat with capacity, the desired set, state reports, console tails.
 * The caller decides what a status means (409 on a report: stale, re-read).
 */
#include "agent.h"
#include "stratus/httpc.h"

#include <stratus/net.h>

#include <jansson.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long call_hw(const nd_conf *c, const char *method, const char *path, const char *body,
                    size_t len, const char *ctype, const char *const *headers, long timeout_ms,
                    const volatile int *abort, st_httpc_resp *r, char *err, size_t errlen)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", c->gw_url, path);
    st_httpc_req q = {.method = method,
                      .url = url,
                      .bearer = c->credential,
                      .headers = headers,
                      .body = body,
                      .body_len = len,
                      .content_type = ctype,
                      .timeout_ms = timeout_ms,
                      .abort = abort};
    long st = st_httpc(&q, r, err, errlen);
    if (st && (st < 200 || st > 299)) {
        char m[256];
        snprintf(err, errlen, "%s %s: %ld %s", method, path, st, st_httpc_err_msg(r, m, sizeof m));
    }
    return st;
}

static long call_h(const nd_conf *c, const char *method, const char *path, const char *body,
                   size_t len, const char *ctype, const char *const *headers, st_httpc_resp *r,
                   char *err, size_t errlen)
{
    return call_hw(c, method, path, body, len, ctype, headers, 15000, NULL, r, err, errlen);
}

static long call(const nd_conf *c, const char *method, const char *path, const char *body,
                 size_t len, const char *ctype, st_httpc_resp *r, char *err, size_t errlen)
{
    return call_h(c, method, path, body, len, ctype, NULL, r, err, errlen);
}

long nd_sriov_vfs(const char *root)
{
    if (!root || !*root)
        return 0;
    enum { MAX_PFS = 64, MAX_VFS = 4096 };
    stn_pf *pfs = calloc(MAX_PFS, sizeof *pfs);
    stn_vf *vfs = calloc(MAX_VFS, sizeof *vfs);
    size_t np = 0, nv = 0;
    char err[256];
    long n = 0;
    /* a PF whose tree is inconsistent is not counted at all */
    if (pfs && vfs &&
        stn_sriov_scan(root, pfs, MAX_PFS, &np, vfs, MAX_VFS, &nv, err, sizeof err) == 0)
        n = (long)nv;
    free(pfs);
    free(vfs);
    return n;
}

/* Firmware boots are possible here when the BIOS image is readable. */
int nd_has_firmware(const nd_conf *c)
{
    return c->firmware && *c->firmware && access(c->firmware, R_OK) == 0;
}

long nd_gw_heartbeat(const nd_conf *c, const char *hostname, const char *fenced_at, int migrate,
                     int block, char *err, size_t errlen)
{
    json_t *j =
        json_pack("{s:s, s:s, s:{s:I, s:I, s:I, s:I, s:b}}", "hostname", hostname, "agent_version",
                  "stratus-node 0.1", "capacity", "vcpus", (json_int_t)c->vcpus, "memory_mib",
                  (json_int_t)c->memory_mib, "disk_gib", (json_int_t)c->disk_gib, "sriov_vfs",
                  (json_int_t)nd_sriov_vfs(c->sriov_sysfs), "firmware", nd_has_firmware(c));
    json_object_set_new(json_object_get(j, "capacity"), "live_migration", json_boolean(migrate));
    json_object_set_new(json_object_get(j, "capacity"), "block_migration",
                        json_boolean(migrate && block));
    if (c->net_on && c->tunnel_ip[0])
        json_object_set_new(j, "tunnel_ip", json_string(c->tunnel_ip));
    if (fenced_at && *fenced_at) /* fence.c: the gateway keeps it on the node */
        json_object_set_new(j, "fenced_at", json_string(fenced_at));
    /* routers are placed only where the uplink is there now */
    json_object_set_new(
        j, "external_uplink",
        json_boolean(c->net_on && c->external_if[0] && if_nametoindex(c->external_if) != 0));
    char *b = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    st_httpc_resp r;
    long st = call(c, "PUT", "/internal/v1/node", b, strlen(b), NULL, &r, err, errlen);
    free(b);
    st_httpc_resp_free(&r);
    return st;
}

long nd_gw_desired(const nd_conf *c, const char *etag, char etag_out[128], char **body, size_t *len,
                   char *err, size_t errlen)
{
    st_httpc_resp r;
    char inm[160];
    const char *h[] = {inm, NULL};
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag ? etag : "");
    long st = call_h(c, "GET", "/internal/v1/node/instances", NULL, 0, NULL,
                     etag && *etag ? h : NULL, &r, err, errlen);
    snprintf(etag_out, 128, "%s", st == 200 || st == 304 ? r.etag : "");
    if (st == 304) {
        err[0] = 0;
        st_httpc_resp_free(&r);
        return st;
    }
    if (st != 200 && err[0] && strncmp(err, "desired set", 11) != 0) {
        char e[512];
        snprintf(e, sizeof e, "desired set: %s", err);
        snprintf(err, errlen, "%s", e);
    }
    if (st == 200) {
        *body = r.body;
        *len = r.len;
        r.body = NULL; /* the caller's now */
        st_httpc_resp_free(&r);
        return st;
    }
    st_httpc_resp_free(&r);
    return st;
}

long nd_gw_desired_wait(const nd_conf *c, const char *etag, int wait_s, const volatile int *abort,
                        char etag_out[128], char **body, size_t *len, char *err, size_t errlen)
{
    st_httpc_resp r;
    char inm[160], path[80];
    const char *h[] = {inm, NULL};
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    snprintf(path, sizeof path, "/internal/v1/node/instances?wait=%d", wait_s);
    /* the gateway answers within wait_s; the margin is for a busy one */
    long st =
        call_hw(c, "GET", path, NULL, 0, NULL, h, (wait_s + 15) * 1000L, abort, &r, err, errlen);
    snprintf(etag_out, 128, "%s", st == 200 || st == 304 ? r.etag : "");
    if (st == 200 || st == 304)
        err[0] = 0;
    if (st == 200) {
        *body = r.body;
        *len = r.len;
        r.body = NULL; /* the caller's now */
    }
    st_httpc_resp_free(&r);
    return st;
}

long nd_gw_report(const nd_conf *c, const char *id, const char *state, long long gen,
                  long long reboot_seq, const char *stop, const char *fault, int retryable,
                  const char *snapshot, const char *snapshot_fault, char *err, size_t errlen)
{
    json_t *j = json_pack("{s:s, s:I}", "state", state, "generation", (json_int_t)gen);
    if (reboot_seq >= 0)
        json_object_set_new(j, "reboot_seq", json_integer(reboot_seq));
    if (stop)
        json_object_set_new(j, "stop", json_string(stop));
    if (fault && *fault)
        json_object_set_new(j, "fault", json_string(fault));
    if (retryable)
        json_object_set_new(j, "retryable", json_true());
    if (snapshot)
        json_object_set_new(j, "snapshot_image_id", json_string(snapshot));
    if (snapshot && snapshot_fault)
        json_object_set_new(j, "snapshot_fault", json_string(snapshot_fault));
    char *b = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    char path[128];
    snprintf(path, sizeof path, "/internal/v1/node/instances/%s", id);
    st_httpc_resp r;
    long st = call(c, "PUT", path, b, strlen(b), NULL, &r, err, errlen);
    free(b);
    st_httpc_resp_free(&r);
    return st;
}

long nd_gw_evacuated(const nd_conf *c, const char *id, char *err, size_t errlen)
{
    char path[160];
    snprintf(path, sizeof path, "/internal/v1/node/evacuations/%s", id);
    st_httpc_resp r;
    long st = call(c, "PUT", path, NULL, 0, NULL, &r, err, errlen);
    st_httpc_resp_free(&r);
    return st;
}

long nd_gw_migration(const nd_conf *c, const char *mid, json_t *body, char *state, size_t statelen,
                     char *err, size_t errlen)
{
    char path[160];
    snprintf(path, sizeof path, "/internal/v1/node/migrations/%s", mid);
    char *b = json_dumps(body, JSON_COMPACT);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    st_httpc_resp r;
    long st = call(c, "PUT", path, b, strlen(b), NULL, &r, err, errlen);
    free(b);
    if (state && statelen) {
        state[0] = 0;
        json_t *j = st == 200 ? json_loadb(r.body, r.len, 0, NULL) : NULL;
        const char *s = json_string_value(json_object_get(j, "state"));
        snprintf(state, statelen, "%s", s ? s : "");
        json_decref(j);
    }
    st_httpc_resp_free(&r);
    return st;
}

long nd_gw_console(const nd_conf *c, const char *id, const char *buf, size_t len, char *err,
                   size_t errlen)
{
    char path[160];
    snprintf(path, sizeof path, "/internal/v1/node/instances/%s/console", id);
    st_httpc_resp r;
    long st = call(c, "PUT", path, len ? buf : "", len, "text/plain", &r, err, errlen);
    st_httpc_resp_free(&r);
    return st;
}
