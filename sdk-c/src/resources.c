/*
 * resources.c - the API's operations, one small function each: the
 * operation's method and path (as openapi.json names it, which the coverage
 * test sdk_coverage reads from this file), its body, and the typed result.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        sx_clear_error();                                                                          \
        if (!(cond))                                                                               \
            return sx_fail(STRATUS_EINVAL, "%s: bad arguments", __func__);                         \
    } while (0)

/* A JSON body from a caller's text (patches, limits); NULL when invalid. */
static json_t *caller_json(const char *text)
{
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static int get(stratus_session *s, const sx_type *t, const char *op, const char *a0, const char *a1,
               void **out)
{
    sx_req q = {.op = op, .args = {a0, a1}};
    return sx_get_obj(s, t, &q, out);
}

static int send_obj(stratus_session *s, const sx_type *t, const char *op, const char *a0,
                    json_t *body, bool create, const char *key, void **out)
{
    if (!body)
        return sx_fail(STRATUS_ENOMEM, NULL);
    sx_req q = {.op = op, .args = {a0}, .body = body, .create = create, .idem_key = key};
    int rc = out ? sx_get_obj(s, t, &q, out) : sx_do(s, &q);
    json_decref(body);
    return rc;
}

static int patch_obj(stratus_session *s, const sx_type *t, const char *op, const char *id,
                     const char *patch, void **out)
{
    json_t *b = caller_json(patch);
    if (!b)
        return sx_fail(STRATUS_EINVAL, "the patch is not a JSON object");
    return send_obj(s, t, op, id, b, false, NULL, out);
}

static int del(stratus_session *s, const char *op, const char *a0, const char *a1)
{
    sx_clear_error();
    sx_req q = {.op = op, .args = {a0, a1}};
    return sx_do(s, &q);
}

/* A reply's string field, malloc'd, or EPROTO. */
static int take_string(stratus_session *s, const sx_req *q, const char *field, char **out)
{
    *out = NULL;
    sx_resp r;
    int rc = sx_call(s, q, &r);
    if (rc < 0)
        return rc;
    json_t *v = json_object_get(r.json, field);
    if (!json_is_string(v) || json_string_length(v) > SX_MAX_FIELD) {
        rc = sx_fail(STRATUS_EPROTO, "%s: reply has no string \"%s\"", q->op, field);
        sx_set_request_id(r.request_id);
    } else if (!(*out = strdup(json_string_value(v)))) {
        rc = sx_fail(STRATUS_ENOMEM, NULL);
    }
    sx_resp_free(&r);
    return rc;
}

static int take_json(stratus_session *s, const sx_req *q, char **out)
{
    *out = NULL;
    sx_resp r;
    int rc = sx_call(s, q, &r);
    if (rc < 0)
        return rc;
    if (!json_is_object(r.json))
        rc = sx_fail(STRATUS_EPROTO, "%s: reply is not an object", q->op);
    else if (!(*out = json_dumps(r.json, JSON_COMPACT)))
        rc = sx_fail(STRATUS_ENOMEM, NULL);
    sx_resp_free(&r);
    return rc;
}

/* ---- session ---- */

int stratus_session_whoami(stratus_session *s, stratus_whoami **out)
{
    CHECK(s && out);
    return get(s, &sx_t_whoami, "GET /v1/auth/whoami", NULL, NULL, (void **)out);
}
void stratus_whoami_free(stratus_whoami *w)
{
    sx_free(&sx_t_whoami, w);
}

/* ---- instances ---- */

int stratus_instance_create(stratus_session *s, const stratus_instance_spec *sp,
                            stratus_instance **out)
{
    CHECK(s && sp && sp->name && sp->flavor && sp->image && out);
    json_t *b =
        json_pack("{s:s, s:s, s:s}", "name", sp->name, "flavor", sp->flavor, "image", sp->image);
    if (b && sp->keypair)
        json_object_set_new(b, "keypair", json_string(sp->keypair));
    if (b && sp->user_data)
        json_object_set_new(b, "user_data", json_string(sp->user_data));
    if (b && sp->server_group_id)
        json_object_set_new(b, "server_group_id", json_string(sp->server_group_id));
    if (b && sp->networks_json) {
        json_t *n = json_loads(sp->networks_json, JSON_DECODE_ANY, NULL);
        if (!n) {
            json_decref(b);
            return sx_fail(STRATUS_EINVAL, "networks_json is not JSON");
        }
        json_object_set_new(b, "networks", n);
    }
    if (!b)
        return sx_fail(STRATUS_ENOMEM, NULL);
    /* The gateway deduplicates on the key, so a lost reply may be retried. */
    sx_req q = {.op = "POST /v1/instances",
                .body = b,
                .create = true,
                .key_honoured = true,
                .idem_key = sp->idempotency_key};
    int rc = sx_get_obj(s, &sx_t_instance, &q, (void **)out);
    json_decref(b);
    return rc;
}

int stratus_instance_show(stratus_session *s, const char *id, stratus_instance **out)
{
    CHECK(s && id && out);
    return get(s, &sx_t_instance, "GET /v1/instances/{id}", id, NULL, (void **)out);
}

int stratus_instance_list(stratus_session *s, const stratus_list_opts *o, stratus_iter **it)
{
    return sx_iter_new(s, &sx_t_instance, "GET /v1/instances", NULL, o, it);
}

int stratus_instance_next(stratus_iter *it, stratus_instance **out)
{
    return sx_iter_next(it, &sx_t_instance, (void **)out);
}

int stratus_instance_delete(stratus_session *s, const char *id)
{
    CHECK(s && id);
    sx_req q = {.op = "DELETE /v1/instances/{id}", .args = {id}, .raw = true};
    return sx_do(s, &q);
}

static int action_body(stratus_session *s, const char *id, json_t *body)
{
    CHECK(s && id);
    return send_obj(s, NULL, "POST /v1/instances/{id}/actions", id, body, false, NULL, NULL);
}
static int action(stratus_session *s, const char *id, const char *what)
{
    return action_body(s, id, json_pack("{s:s}", "action", what));
}
int stratus_instance_start(stratus_session *s, const char *id)
{
    return action(s, id, "start");
}
int stratus_instance_stop(stratus_session *s, const char *id)
{
    return action(s, id, "stop");
}
int stratus_instance_stop_force(stratus_session *s, const char *id)
{
    return action_body(s, id, json_pack("{s:s, s:b}", "action", "stop", "force", 1));
}
int stratus_instance_reboot(stratus_session *s, const char *id)
{
    return action(s, id, "reboot");
}
int stratus_instance_reboot_hard(stratus_session *s, const char *id)
{
    return action_body(s, id, json_pack("{s:s, s:s}", "action", "reboot", "type", "hard"));
}

int stratus_instance_snapshot(stratus_session *s, const char *id, const char *name, char **image_id)
{
    CHECK(s && id && name && image_id);
    json_t *b = json_pack("{s:s, s:s}", "action", "snapshot", "name", name);
    if (!b)
        return sx_fail(STRATUS_ENOMEM, NULL);
    sx_req q = {.op = "POST /v1/instances/{id}/actions", .args = {id}, .body = b};
    int rc = take_string(s, &q, "image_id", image_id);
    json_decref(b);
    return rc;
}

int stratus_instance_evacuate(stratus_session *s, const char *id, const char *host,
                              int confirm_data_loss, stratus_instance **out)
{
    CHECK(s && id);
    json_t *b =
        json_pack("{s:s, s:b}", "action", "evacuate", "confirm_data_loss", confirm_data_loss != 0);
    if (b && host)
        json_object_set_new(b, "host", json_string(host));
    return send_obj(s, &sx_t_instance, "POST /v1/instances/{id}/actions", id, b, false, NULL,
                    (void **)out);
}

int stratus_instance_migrate(stratus_session *s, const char *id, const stratus_migrate_opts *o,
                             stratus_instance **out)
{
    return stratus_instance_migrate_flags(s, id, o, 0, out);
}

int stratus_instance_migrate_flags(stratus_session *s, const char *id,
                                   const stratus_migrate_opts *o, unsigned int flags,
                                   stratus_instance **out)
{
    const unsigned int both = STRATUS_MIGRATE_BLOCK | STRATUS_MIGRATE_NO_BLOCK;
    CHECK(s && id && !(flags & ~both) && (flags & both) != both);
    json_t *b = json_pack("{s:s}", "action", "migrate");
    if (b && flags)
        json_object_set_new(b, "block_migration", json_boolean(flags & STRATUS_MIGRATE_BLOCK));
    if (b && o && o->host)
        json_object_set_new(b, "host", json_string(o->host));
    if (b && o && o->downtime_ms > 0)
        json_object_set_new(b, "downtime_ms", json_integer(o->downtime_ms));
    if (b && o && o->timeout_s > 0)
        json_object_set_new(b, "timeout_s", json_integer(o->timeout_s));
    if (b && o && o->on_timeout)
        json_object_set_new(b, "on_timeout", json_string(o->on_timeout));
    return send_obj(s, &sx_t_instance, "POST /v1/instances/{id}/actions", id, b, false, NULL,
                    (void **)out);
}

int stratus_instance_migrate_cancel(stratus_session *s, const char *id, stratus_instance **out)
{
    CHECK(s && id);
    return send_obj(s, &sx_t_instance, "POST /v1/instances/{id}/actions", id,
                    json_pack("{s:s}", "action", "migrate_cancel"), false, NULL, (void **)out);
}

int stratus_migrations_list(stratus_session *s, const char *instance_id, int limit, char **json)
{
    CHECK(s && json);
    char qs[96] = "";
    int n = 0;
    if (instance_id)
        n = snprintf(qs, sizeof qs, "instance_id=%.40s", instance_id);
    if (limit > 0)
        snprintf(qs + n, sizeof qs - (size_t)n, "%slimit=%d", n ? "&" : "", limit);
    sx_req q = {.op = "GET /v1/migrations", .query = qs[0] ? qs : NULL};
    return take_json(s, &q, json);
}

int stratus_instance_console(stratus_session *s, const char *id, long tail, char **out)
{
    CHECK(s && id && out);
    char qs[32] = "";
    if (tail > 0)
        snprintf(qs, sizeof qs, "tail=%ld", tail);
    sx_req q = {.op = "GET /v1/instances/{id}/console", .args = {id}, .query = qs};
    return take_string(s, &q, "output", out);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int stratus_instance_wait(stratus_session *s, const char *id, stratus_state want, long timeout_ms,
                          stratus_instance **out)
{
    CHECK(s && id && want >= STRATUS_BUILDING && want < STRATUS_UNKNOWN);
    if (out)
        *out = NULL;
    long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    char etag[128] = "";
    stratus_instance *cur = NULL;
    long delay = 100;
    for (;;) {
        /* A conditional GET: while the instance has not changed the server
         * may answer 304 with no body, and the last view still holds. */
        sx_req q = {.op = "GET /v1/instances/{id}",
                    .args = {id},
                    .if_none_match = *etag && cur ? etag : NULL};
        sx_resp r;
        int rc = sx_call(s, &q, &r);
        if (rc < 0) {
            stratus_instance_free(cur);
            return rc;
        }
        if (r.status != 304) {
            stratus_instance *next;
            rc = sx_parse(&sx_t_instance, r.json, (void **)&next);
            if (rc < 0) {
                sx_resp_free(&r);
                stratus_instance_free(cur);
                return rc;
            }
            stratus_instance_free(cur);
            cur = next;
            snprintf(etag, sizeof etag, "%s", r.etag);
        }
        sx_resp_free(&r);
        if (cur->state == want) {
            if (out)
                *out = cur;
            else
                stratus_instance_free(cur);
            return 0;
        }
        int failed = cur->state == STRATUS_ERROR || cur->state == STRATUS_DELETED;
        if (failed || now_ms() >= deadline) {
            rc = failed ? sx_fail(STRATUS_EFAILED, "instance %s is %s%s%s", id, cur->state_name,
                                  cur->fault ? ": " : "", cur->fault ? cur->fault : "")
                        : sx_fail(STRATUS_ETIMEDOUT, "instance %s still %s after %ld ms", id,
                                  cur->state_name, timeout_ms);
            if (out)
                *out = cur;
            else
                stratus_instance_free(cur);
            return rc;
        }
        long left = (long)(deadline - now_ms());
        long ms = delay < left ? delay : left;
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        if (delay < 2000)
            delay = delay * 3 / 2;
    }
}

void stratus_instance_free(stratus_instance *i)
{
    sx_free(&sx_t_instance, i);
}

/* ---- images ---- */

int stratus_image_create(stratus_session *s, const stratus_image_spec *sp, stratus_image **out)
{
    CHECK(s && sp && sp->name && sp->disk_format && out);
    json_t *b = json_pack("{s:s, s:s}", "name", sp->name, "disk_format", sp->disk_format);
    if (b && sp->visibility)
        json_object_set_new(b, "visibility", json_string(sp->visibility));
    if (b && sp->min_disk_gib > 0)
        json_object_set_new(b, "min_disk_gib", json_integer(sp->min_disk_gib));
    if (b && sp->min_memory_mib > 0)
        json_object_set_new(b, "min_memory_mib", json_integer(sp->min_memory_mib));
    const char *opt[][2] = {{"kind", sp->kind},
                            {"boot", sp->boot},
                            {"kernel_id", sp->kernel_id},
                            {"ramdisk_id", sp->ramdisk_id}};
    for (int i = 0; b && i < 4; i++)
        if (opt[i][1])
            json_object_set_new(b, opt[i][0], json_string(opt[i][1]));
    return send_obj(s, &sx_t_image, "POST /v1/images", NULL, b, true, sp->idempotency_key,
                    (void **)out);
}

int stratus_image_show(stratus_session *s, const char *id, stratus_image **out)
{
    CHECK(s && id && out);
    return get(s, &sx_t_image, "GET /v1/images/{id}", id, NULL, (void **)out);
}

int stratus_image_list(stratus_session *s, const stratus_list_opts *o, stratus_iter **it)
{
    return sx_iter_new(s, &sx_t_image, "GET /v1/images", NULL, o, it);
}

int stratus_image_next(stratus_iter *it, stratus_image **out)
{
    return sx_iter_next(it, &sx_t_image, (void **)out);
}

int stratus_image_update(stratus_session *s, const char *id, const char *patch, stratus_image **out)
{
    CHECK(s && id && out);
    return patch_obj(s, &sx_t_image, "PATCH /v1/images/{id}", id, patch, (void **)out);
}

int stratus_image_delete(stratus_session *s, const char *id)
{
    CHECK(s && id);
    return del(s, "DELETE /v1/images/{id}", id, NULL);
}

int stratus_image_upload_url(stratus_session *s, const char *id, char **url)
{
    CHECK(s && id && url);
    sx_req q = {.op = "POST /v1/images/{id}/upload-url", .args = {id}};
    return take_string(s, &q, "url", url);
}

int stratus_image_download_url(stratus_session *s, const char *id, char **url)
{
    CHECK(s && id && url);
    sx_req q = {.op = "POST /v1/images/{id}/download-url", .args = {id}};
    return take_string(s, &q, "url", url);
}

int stratus_image_upload(stratus_session *s, const char *id, const char *path,
                         stratus_progress_cb cb, void *arg)
{
    CHECK(s && id && path);
    char *url;
    int rc = stratus_image_upload_url(s, id, &url);
    if (rc < 0)
        return rc;
    rc = sx_stream(s, "PUT", url, path, cb, arg, NULL);
    free(url);
    return rc;
}

int stratus_image_download(stratus_session *s, const char *id, const char *path,
                           stratus_progress_cb cb, void *arg)
{
    CHECK(s && id && path);
    char *url;
    int rc = stratus_image_download_url(s, id, &url);
    if (rc < 0)
        return rc;
    rc = sx_stream(s, "GET", url, path, cb, arg, NULL);
    free(url);
    return rc;
}

void stratus_image_free(stratus_image *i)
{
    sx_free(&sx_t_image, i);
}

/* ---- flavors ---- */

int stratus_flavor_create(stratus_session *s, const char *name, long long vcpus,
                          long long memory_mib, long long disk_gib, stratus_flavor **out)
{
    CHECK(s && name && out);
    return send_obj(s, &sx_t_flavor, "POST /v1/flavors", NULL,
                    json_pack("{s:s, s:I, s:I, s:I}", "name", name, "vcpus", (json_int_t)vcpus,
                              "memory_mib", (json_int_t)memory_mib, "disk_gib",
                              (json_int_t)disk_gib),
                    true, NULL, (void **)out);
}

int stratus_flavor_show(stratus_session *s, const char *id, stratus_flavor **out)
{
    CHECK(s && id && out);
    return get(s, &sx_t_flavor, "GET /v1/flavors/{id}", id, NULL, (void **)out);
}

int stratus_flavor_list(stratus_session *s, stratus_iter **it)
{
    return sx_iter_new(s, &sx_t_flavor, "GET /v1/flavors", NULL, NULL, it);
}

int stratus_flavor_next(stratus_iter *it, stratus_flavor **out)
{
    return sx_iter_next(it, &sx_t_flavor, (void **)out);
}

int stratus_flavor_update(stratus_session *s, const char *id, const char *patch,
                          stratus_flavor **out)
{
    CHECK(s && id && out);
    return patch_obj(s, &sx_t_flavor, "PATCH /v1/flavors/{id}", id, patch, (void **)out);
}

int stratus_flavor_delete(stratus_session *s, const char *id)
{
    CHECK(s && id);
    return del(s, "DELETE /v1/flavors/{id}", id, NULL);
}

void stratus_flavor_free(stratus_flavor *f)
{
    sx_free(&sx_t_flavor, f);
}

/* ---- keypairs ---- */

int stratus_keypair_create(stratus_session *s, const char *name, const char *public_key,
                           stratus_keypair **out)
{
    CHECK(s && name && public_key && out);
    return send_obj(s, &sx_t_keypair, "POST /v1/keypairs", NULL,
                    json_pack("{s:s, s:s}", "name", name, "public_key", public_key), true, NULL,
                    (void **)out);
}

int stratus_keypair_show(stratus_session *s, const char *id, stratus_keypair **out)
{
    CHECK(s && id && out);
    return get(s, &sx_t_keypair, "GET /v1/keypairs/{id}", id, NULL, (void **)out);
}

int stratus_keypair_list(stratus_session *s, stratus_iter **it)
{
    return sx_iter_new(s, &sx_t_keypair, "GET /v1/keypairs", NULL, NULL, it);
}

int stratus_keypair_next(stratus_iter *it, stratus_keypair **out)
{
    return sx_iter_next(it, &sx_t_keypair, (void **)out);
}

int stratus_keypair_delete(stratus_session *s, const char *id)
{
    CHECK(s && id);
    return del(s, "DELETE /v1/keypairs/{id}", id, NULL);
}

void stratus_keypair_free(stratus_keypair *k)
{
    sx_free(&sx_t_keypair, k);
}

/* ---- server groups ---- */

int stratus_server_group_create(stratus_session *s, const char *name, const char *policy,
                                stratus_server_group **out)
{
    CHECK(s && name && policy && out);
    return send_obj(s, &sx_t_server_group, "POST /v1/server-groups", NULL,
                    json_pack("{s:s, s:s}", "name", name, "policy", policy), true, NULL,
                    (void **)out);
}

int stratus_server_group_show(stratus_session *s, const char *id, stratus_server_group **out)
{
    CHECK(s && id && out);
    return get(s, &sx_t_server_group, "GET /v1/server-groups/{id}", id, NULL, (void **)out);
}

int stratus_server_group_list(stratus_session *s, stratus_iter **it)
{
    return sx_iter_new(s, &sx_t_server_group, "GET /v1/server-groups", NULL, NULL, it);
}

int stratus_server_group_next(stratus_iter *it, stratus_server_group **out)
{
    return sx_iter_next(it, &sx_t_server_group, (void **)out);
}

int stratus_server_group_delete(stratus_session *s, const char *id)
{
    CHECK(s && id);
    return del(s, "DELETE /v1/server-groups/{id}", id, NULL);
}

void stratus_server_group_free(stratus_server_group *g)
{
    sx_free(&sx_t_server_group, g);
}

/* ---- quotas ---- */

int stratus_quota_show(stratus_session *s, stratus_quota **out)
{
    CHECK(s && out);
    return get(s, &sx_t_quota, "GET /v1/quotas", NULL, NULL, (void **)out);
}

int stratus_tenant_quota_show(stratus_session *s, const char *tenant_id, stratus_quota **out)
{
    CHECK(s && tenant_id && out);
    return get(s, &sx_t_quota, "GET /v1/tenants/{id}/quotas", tenant_id, NULL, (void **)out);
}

int stratus_tenant_quota_update(stratus_session *s, const char *tenant_id, const char *limits_json,
                                stratus_quota **out)
{
    CHECK(s && tenant_id && out);
    return patch_obj(s, &sx_t_quota, "PUT /v1/tenants/{id}/quotas", tenant_id, limits_json,
                     (void **)out);
}

void stratus_quota_free(stratus_quota *q)
{
    sx_free(&sx_t_quota, q);
}

/* ---- billing ---- */

/* Appends "&name=value" (escaped) when value is set. */
static void add_param(char *q, size_t cap, const char *name, const char *value)
{
    if (!value)
        return;
    size_t n = strlen(q);
    n += (size_t)snprintf(q + n, cap > n ? cap - n : 0, "%s%s=", n ? "&" : "", name);
    for (const unsigned char *c = (const unsigned char *)value; *c && n + 4 < cap; c++) {
        if ((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
            strchr("-._~:", *c))
            q[n++] = (char)*c;
        else
            n += (size_t)snprintf(q + n, cap - n, "%%%02X", *c);
    }
    if (n < cap)
        q[n] = 0;
}

int stratus_usage_show(stratus_session *s, const char *from, const char *to,
                       const char *granularity, const char *instance_id, char **json)
{
    CHECK(s && json);
    char qs[1024] = "";
    add_param(qs, sizeof qs, "from", from);
    add_param(qs, sizeof qs, "to", to);
    add_param(qs, sizeof qs, "granularity", granularity);
    add_param(qs, sizeof qs, "instance_id", instance_id);
    sx_req q = {.op = "GET /v1/billing/usage", .query = qs};
    return take_json(s, &q, json);
}

int stratus_invoice_list(stratus_session *s, stratus_iter **it)
{
    return sx_iter_new(s, &sx_t_invoice, "GET /v1/billing/invoices", NULL, NULL, it);
}

int stratus_invoice_next(stratus_iter *it, stratus_invoice **out)
{
    return sx_iter_next(it, &sx_t_invoice, (void **)out);
}

int stratus_invoice_show(stratus_session *s, const char *id, stratus_invoice **out)
{
    CHECK(s && id && out);
    sx_req q = {.op = "GET /v1/billing/invoices/{id}", .args = {id}, .query = "format=json"};
    return sx_get_obj(s, &sx_t_invoice, &q, (void **)out);
}

static int valid_format(const char *f)
{
    return f &&
           (!strcmp(f, "json") || !strcmp(f, "csv") || !strcmp(f, "html") || !strcmp(f, "pdf"));
}

int stratus_invoice_get(stratus_session *s, const char *id, const char *format, char **data,
                        size_t *len)
{
    CHECK(s && id && valid_format(format) && data && len);
    char qs[32];
    snprintf(qs, sizeof qs, "format=%s", format);
    sx_req q = {.op = "GET /v1/billing/invoices/{id}",
                .args = {id},
                .query = qs,
                .raw = true,
                .accept = "*/*"};
    sx_resp r;
    int rc = sx_call(s, &q, &r);
    if (rc < 0)
        return rc;
    *data = r.body;
    *len = r.len;
    r.body = NULL;
    sx_resp_free(&r);
    return 0;
}

int stratus_invoice_download(stratus_session *s, const char *id, const char *format,
                             const char *path)
{
    CHECK(s && id && valid_format(format) && path);
    char qs[32];
    snprintf(qs, sizeof qs, "format=%s", format);
    sx_req q = {.op = "GET /v1/billing/invoices/{id}/download", .args = {id}, .query = qs};
    char *url = sx_url(s, &q);
    if (!url)
        return sx_fail(STRATUS_ENOMEM, NULL);
    int rc = sx_stream(s, "GET", url, path, NULL, NULL, "*/*");
    free(url);
    return rc;
}

void stratus_invoice_free(stratus_invoice *i)
{
    sx_free(&sx_t_invoice, i);
}

/* ---- API keys ---- */

int stratus_api_key_create(stratus_session *s, const char *name, int expires_in_days,
                           stratus_api_key **out)
{
    CHECK(s && name && out);
    json_t *b = json_pack("{s:s}", "name", name);
    if (b && expires_in_days > 0)
        json_object_set_new(b, "expires_in_days", json_integer(expires_in_days));
    return send_obj(s, &sx_t_api_key, "POST /v1/api-keys", NULL, b, true, NULL, (void **)out);
}

int stratus_api_key_list(stratus_session *s, stratus_iter **it)
{
    return sx_iter_new(s, &sx_t_api_key, "GET /v1/api-keys", NULL, NULL, it);
}

int stratus_api_key_next(stratus_iter *it, stratus_api_key **out)
{
    return sx_iter_next(it, &sx_t_api_key, (void **)out);
}

int stratus_api_key_delete(stratus_session *s, const char *id)
{
    CHECK(s && id);
    return del(s, "DELETE /v1/api-keys/{id}", id, NULL);
}

void stratus_api_key_free(stratus_api_key *k)
{
    sx_free(&sx_t_api_key, k);
}

/* ---- nodes ---- */

int stratus_node_create(stratus_session *s, const char *name, stratus_node **out, char **credential)
{
    CHECK(s && name && out);
    json_t *b = json_pack("{s:s}", "name", name);
    if (!b)
        return sx_fail(STRATUS_ENOMEM, NULL);
    sx_req q = {.op = "POST /v1/nodes", .body = b, .create = true};
    sx_resp r;
    int rc = sx_call(s, &q, &r);
    json_decref(b);
    if (rc < 0)
        return rc;
    rc = sx_parse(&sx_t_node, r.json, (void **)out);
    const char *tok = json_string_value(json_object_get(r.json, "token"));
    if (rc == 0 && credential)
        *credential = tok ? strdup(tok) : NULL;
    sx_resp_free(&r);
    return rc;
}

int stratus_node_show(stratus_session *s, const char *id, stratus_node **out)
{
    CHECK(s && id && out);
    return get(s, &sx_t_node, "GET /v1/nodes/{id}", id, NULL, (void **)out);
}

int stratus_node_list(stratus_session *s, stratus_iter **it)
{
    return sx_iter_new(s, &sx_t_node, "GET /v1/nodes", NULL, NULL, it);
}

int stratus_node_next(stratus_iter *it, stratus_node **out)
{
    return sx_iter_next(it, &sx_t_node, (void **)out);
}

int stratus_node_update(stratus_session *s, const char *id, const char *patch, stratus_node **out)
{
    CHECK(s && id && out);
    return patch_obj(s, &sx_t_node, "PATCH /v1/nodes/{id}", id, patch, (void **)out);
}

int stratus_node_delete(stratus_session *s, const char *id)
{
    CHECK(s && id);
    return del(s, "DELETE /v1/nodes/{id}", id, NULL);
}

int stratus_node_rotate_credential(stratus_session *s, const char *id, char **credential)
{
    CHECK(s && id && credential);
    sx_req q = {.op = "POST /v1/nodes/{id}/credential", .args = {id}};
    return take_string(s, &q, "token", credential);
}

int stratus_node_power(stratus_session *s, const char *id, const char *action, stratus_node **out)
{
    CHECK(s && id && action && out);
    return send_obj(s, &sx_t_node, "POST /v1/nodes/{id}/actions", id,
                    json_pack("{s:s}", "action", action), false, NULL, (void **)out);
}

int stratus_node_evacuate(stratus_session *s, const char *id, int confirm_data_loss, char **json)
{
    CHECK(s && id && json);
    *json = NULL;
    json_t *b =
        json_pack("{s:s, s:b}", "action", "evacuate", "confirm_data_loss", confirm_data_loss != 0);
    if (!b)
        return sx_fail(STRATUS_ENOMEM, NULL);
    sx_req q = {.op = "POST /v1/nodes/{id}/actions", .args = {id}, .body = b};
    int rc = take_json(s, &q, json);
    json_decref(b);
    return rc;
}

void stratus_node_free(stratus_node *n)
{
    sx_free(&sx_t_node, n);
}

/* ---- tenants, members, users ---- */

int stratus_tenant_create(stratus_session *s, const char *name, const char *description,
                          stratus_tenant **out)
{
    CHECK(s && name && out);
    json_t *b = json_pack("{s:s}", "name", name);
    if (b && description)
        json_object_set_new(b, "description", json_string(description));
    return send_obj(s, &sx_t_tenant, "POST /v1/tenants", NULL, b, true, NULL, (void **)out);
}

int stratus_tenant_show(stratus_session *s, const char *id, stratus_tenant **out)
{
    CHECK(s && id && out);
    return get(s, &sx_t_tenant, "GET /v1/tenants/{id}", id, NULL, (void **)out);
}

int stratus_tenant_list(stratus_session *s, stratus_iter **it)
{
    return sx_iter_new(s, &sx_t_tenant, "GET /v1/tenants", NULL, NULL, it);
}

int stratus_tenant_next(stratus_iter *it, stratus_tenant **out)
{
    return sx_iter_next(it, &sx_t_tenant, (void **)out);
}

int stratus_tenant_delete(stratus_session *s, const char *id)
{
    CHECK(s && id);
    return del(s, "DELETE /v1/tenants/{id}", id, NULL);
}

void stratus_tenant_free(stratus_tenant *t)
{
    sx_free(&sx_t_tenant, t);
}

int stratus_member_list(stratus_session *s, const char *tenant_id, stratus_iter **it)
{
    CHECK(s && tenant_id && it);
    return sx_iter_new(s, &sx_t_member, "GET /v1/tenants/{id}/members", tenant_id, NULL, it);
}

int stratus_member_next(stratus_iter *it, stratus_member **out)
{
    return sx_iter_next(it, &sx_t_member, (void **)out);
}

int stratus_member_set(stratus_session *s, const char *tenant_id, const char *user_id,
                       const char *role)
{
    CHECK(s && tenant_id && user_id && role);
    json_t *b = json_pack("{s:s}", "role", role);
    if (!b)
        return sx_fail(STRATUS_ENOMEM, NULL);
    sx_req q = {
        .op = "PUT /v1/tenants/{id}/members/{user_id}", .args = {tenant_id, user_id}, .body = b};
    int rc = sx_do(s, &q);
    json_decref(b);
    return rc;
}

int stratus_member_remove(stratus_session *s, const char *tenant_id, const char *user_id)
{
    CHECK(s && tenant_id && user_id);
    return del(s, "DELETE /v1/tenants/{id}/members/{user_id}", tenant_id, user_id);
}

void stratus_member_free(stratus_member *m)
{
    sx_free(&sx_t_member, m);
}

int stratus_user_create(stratus_session *s, const char *name, const char *password, int cloud_admin,
                        stratus_user **out)
{
    CHECK(s && name && password && out);
    return send_obj(s, &sx_t_user, "POST /v1/users", NULL,
                    json_pack("{s:s, s:s, s:b}", "name", name, "password", password, "cloud_admin",
                              cloud_admin),
                    true, NULL, (void **)out);
}

int stratus_user_show(stratus_session *s, const char *id, stratus_user **out)
{
    CHECK(s && id && out);
    return get(s, &sx_t_user, "GET /v1/users/{id}", id, NULL, (void **)out);
}

int stratus_user_list(stratus_session *s, stratus_iter **it)
{
    return sx_iter_new(s, &sx_t_user, "GET /v1/users", NULL, NULL, it);
}

int stratus_user_next(stratus_iter *it, stratus_user **out)
{
    return sx_iter_next(it, &sx_t_user, (void **)out);
}

int stratus_user_set_password(stratus_session *s, const char *id, const char *old_password,
                              const char *new_password)
{
    CHECK(s && id && new_password);
    json_t *b = json_pack("{s:s}", "password", new_password);
    if (b && old_password)
        json_object_set_new(b, "current_password", json_string(old_password));
    if (!b)
        return sx_fail(STRATUS_ENOMEM, NULL);
    sx_req q = {.op = "PUT /v1/users/{id}/password", .args = {id}, .body = b};
    int rc = sx_do(s, &q);
    json_decref(b);
    return rc;
}

void stratus_user_free(stratus_user *u)
{
    sx_free(&sx_t_user, u);
}

/* ---- scheduler ---- */

int stratus_scheduler_show(stratus_session *s, char **json)
{
    CHECK(s && json);
    sx_req q = {.op = "GET /v1/scheduler"};
    return take_json(s, &q, json);
}

int stratus_scheduler_update(stratus_session *s, const char *policy, double cpu_overcommit)
{
    CHECK(s && policy);
    json_t *b = json_pack("{s:s}", "policy", policy);
    if (b && cpu_overcommit > 0)
        json_object_set_new(b, "cpu_overcommit", json_real(cpu_overcommit));
    return send_obj(s, NULL, "PUT /v1/scheduler", NULL, b, false, NULL, NULL);
}

/* A scheduler plan's dry run: `key`=fraction and max_moves, each left to the
 * server when <= 0. */
static int scheduler_plan(stratus_session *s, const char *op, const char *key, double fraction,
                          int max_moves, char **json)
{
    CHECK(s && json);
    char qs[64] = "";
    int n = 0;
    if (fraction > 0)
        n = snprintf(qs, sizeof qs, "%s=%.4f", key, fraction);
    if (max_moves > 0)
        snprintf(qs + n, sizeof qs - (size_t)n, "%smax_moves=%d", n ? "&" : "", max_moves);
    sx_req q = {.op = op, .query = qs[0] ? qs : NULL};
    return take_json(s, &q, json);
}

int stratus_scheduler_consolidation(stratus_session *s, double target, int max_moves, char **json)
{
    return scheduler_plan(s, "GET /v1/scheduler/consolidation", "target", target, max_moves, json);
}

int stratus_scheduler_rebalance(stratus_session *s, double threshold, int max_moves, char **json)
{
    return scheduler_plan(s, "GET /v1/scheduler/rebalance", "threshold", threshold, max_moves,
                          json);
}

/* A scheduler plan carried out: `key`=fraction and max_moves in the body, as above. */
static int scheduler_run(stratus_session *s, const char *op, const char *key, double fraction,
                         int max_moves, char **json)
{
    CHECK(s && json);
    json_t *b = json_object();
    if (b && fraction > 0)
        json_object_set_new(b, key, json_real(fraction));
    if (b && max_moves > 0)
        json_object_set_new(b, "max_moves", json_integer(max_moves));
    if (!b)
        return sx_fail(STRATUS_ENOMEM, NULL);
    sx_req q = {.op = op, .body = b};
    int rc = take_json(s, &q, json);
    json_decref(b);
    return rc;
}

int stratus_scheduler_rebalance_run(stratus_session *s, double threshold, int max_moves,
                                    char **json)
{
    return scheduler_run(s, "POST /v1/scheduler/rebalance", "threshold", threshold, max_moves,
                         json);
}

int stratus_scheduler_consolidation_run(stratus_session *s, double target, int max_moves,
                                        char **json)
{
    return scheduler_run(s, "POST /v1/scheduler/consolidation", "target", target, max_moves, json);
}
