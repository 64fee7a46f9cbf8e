/*
 * object.c - server objects into typed structs, and list iterators.
 *
 * Each resource struct begins with `char *json` (the object as sent) and is
 * described by a table of fields (sx_field: JSON path, type, offset), so one
 * parser and one free serve every resource. The server is untrusted: every
 * field is type-checked (a wrong type makes the whole object EPROTO, never a
 * half-filled struct), strings are bounded by SX_MAX_FIELD, arrays by
 * SX_MAX_ITEMS; a missing or null optional field is left NULL/0. Fields
 * marked '!' are required.
 *
 * Iterators hold one page at a time and ask for the next with marker=<next>
 * when the reply names one; a server that repeats a marker is EPROTO rather
 * than an endless loop.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SX_MAX_ITEMS 100000

static json_t *lookup(json_t *o, const char *path)
{
    const char *dot = strchr(path, '.');
    if (!dot)
        return json_object_get(o, path);
    char head[64];
    size_t n = (size_t)(dot - path);
    if (n >= sizeof head)
        return NULL;
    memcpy(head, path, n);
    head[n] = 0;
    json_t *inner = json_object_get(o, head);
    return json_is_object(inner) ? json_object_get(inner, dot + 1) : NULL;
}

static int set_field(const sx_field *f, json_t *v, char *base)
{
    switch (f->type) {
    case SX_STR:
        if (!json_is_string(v) || json_string_length(v) > SX_MAX_FIELD)
            return -1;
        if (!(*(char **)(base + f->off) = strdup(json_string_value(v))))
            return -1;
        return 0;
    case SX_INT:
        if (!json_is_integer(v))
            return -1;
        *(long long *)(base + f->off) = (long long)json_integer_value(v);
        return 0;
    case SX_BOOL:
        if (!json_is_boolean(v))
            return -1;
        *(int *)(base + f->off) = json_is_true(v);
        return 0;
    case SX_STATE:
        if (!json_is_string(v))
            return -1;
        *(stratus_state *)(base + f->off) = stratus_state_parse(json_string_value(v));
        return 0;
    case SX_STRV: {
        if (!json_is_array(v) || json_array_size(v) > SX_MAX_ITEMS)
            return -1;
        size_t n = json_array_size(v);
        char **a = calloc(n + 1, sizeof *a);
        if (!a)
            return -1;
        *(char ***)(base + f->off) = a;
        *(size_t *)(base + f->count_off) = 0;
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(v, i);
            if (!json_is_string(e) || json_string_length(e) > SX_MAX_FIELD ||
                !(a[i] = strdup(json_string_value(e))))
                return -1;
            *(size_t *)(base + f->count_off) = i + 1;
        }
        return 0;
    }
    }
    return -1;
}

void sx_free(const sx_type *t, void *obj)
{
    if (!obj)
        return;
    char *base = obj;
    for (size_t i = 0; i < t->nfields; i++) {
        const sx_field *f = &t->fields[i];
        if (f->type == SX_STR) {
            free(*(char **)(base + f->off));
        } else if (f->type == SX_STRV) {
            char **a = *(char ***)(base + f->off);
            for (size_t k = 0; a && a[k]; k++)
                free(a[k]);
            free(a);
        }
    }
    free(*(char **)base);
    free(obj);
}

int sx_parse(const sx_type *t, json_t *o, void **out)
{
    *out = NULL;
    if (!json_is_object(o))
        return sx_fail(STRATUS_EPROTO, "%s: expected an object", t->name);
    char *base = calloc(1, t->size);
    if (!base)
        return sx_fail(STRATUS_ENOMEM, NULL);
    *(char **)base = json_dumps(o, JSON_COMPACT);
    for (size_t i = 0; i < t->nfields; i++) {
        const sx_field *f = &t->fields[i];
        const char *path = f->path[0] == '!' ? f->path + 1 : f->path;
        json_t *v = lookup(o, path);
        if (!v || json_is_null(v)) {
            if (f->path[0] == '!') {
                sx_free(t, base);
                return sx_fail(STRATUS_EPROTO, "%s: field %s missing", t->name, path);
            }
            if (f->type == SX_STATE)
                *(stratus_state *)(base + f->off) = STRATUS_UNKNOWN;
            continue;
        }
        if (set_field(f, v, base) < 0) {
            sx_free(t, base);
            return sx_fail(STRATUS_EPROTO, "%s: field %s has the wrong type or size", t->name,
                           path);
        }
    }
    *out = base;
    return 0;
}

int sx_get_obj(stratus_session *s, const sx_type *t, const sx_req *q, void **out)
{
    sx_clear_error();
    if (!out)
        return sx_fail(STRATUS_EINVAL, "out is NULL");
    *out = NULL;
    sx_resp r;
    int rc = sx_call(s, q, &r);
    if (rc < 0)
        return rc;
    rc = sx_parse(t, r.json, out);
    if (rc < 0)
        sx_set_request_id(r.request_id);
    sx_resp_free(&r);
    return rc;
}

/* ---- iterators ---- */

static int fetch_page(stratus_iter *it)
{
    char *query = NULL;
    size_t cap = (it->query_base ? strlen(it->query_base) : 0) +
                 (it->marker ? strlen(it->marker) * 3 : 0) + 64;
    query = malloc(cap);
    if (!query)
        return sx_fail(STRATUS_ENOMEM, NULL);
    size_t n = (size_t)snprintf(query, cap, "%s", it->query_base ? it->query_base : "");
    if (it->limit > 0)
        n += (size_t)snprintf(query + n, cap - n, "%slimit=%d", n ? "&" : "", it->limit);
    if (it->marker) {
        n += (size_t)snprintf(query + n, cap - n, "%smarker=", n ? "&" : "");
        for (const unsigned char *c = (const unsigned char *)it->marker; *c && n + 4 < cap; c++) {
            if ((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                *c == '-')
                query[n++] = (char)*c;
            else
                n += (size_t)snprintf(query + n, cap - n, "%%%02X", *c);
        }
        query[n] = 0;
    }
    it->q.query = query;
    sx_resp r;
    int rc = sx_call(it->s, &it->q, &r);
    it->q.query = NULL;
    free(query);
    if (rc < 0)
        return rc;
    json_t *arr = json_object_get(r.json, it->t->list_key);
    if (!json_is_array(arr)) {
        sx_resp_free(&r);
        return sx_fail(STRATUS_EPROTO, "list reply has no array \"%s\"", it->t->list_key);
    }
    json_decref(it->page);
    it->page = json_incref(arr);
    it->pos = 0;
    const char *next = json_string_value(json_object_get(r.json, "next"));
    if (next && json_array_size(arr) > 0 && !(it->marker && strcmp(next, it->marker) == 0)) {
        free(it->marker);
        it->marker = strdup(next);
        it->last_page = it->marker == NULL;
    } else if (next && json_array_size(arr) > 0) {
        sx_resp_free(&r);
        return sx_fail(STRATUS_EPROTO, "the server repeated page marker %s", next);
    } else {
        it->last_page = true;
    }
    sx_resp_free(&r);
    return 0;
}

int sx_iter_new(stratus_session *s, const sx_type *t, const char *op, const char *arg0,
                const stratus_list_opts *o, stratus_iter **out)
{
    sx_clear_error();
    if (!s || !out)
        return sx_fail(STRATUS_EINVAL, NULL);
    *out = NULL;
    stratus_iter *it = calloc(1, sizeof *it);
    if (!it)
        return sx_fail(STRATUS_ENOMEM, NULL);
    it->s = s;
    it->t = t;
    it->op = strdup(op);
    it->arg0 = arg0 ? strdup(arg0) : NULL;
    it->q.op = it->op;
    it->q.args[0] = it->arg0;
    if (o) {
        it->limit = o->limit;
        it->marker = o->marker ? strdup(o->marker) : NULL;
        it->query_base = o->filter ? strdup(o->filter) : NULL;
    }
    int rc = fetch_page(it);
    if (rc < 0) {
        stratus_iter_free(it);
        return rc;
    }
    *out = it;
    return 0;
}

int sx_iter_next(stratus_iter *it, const sx_type *t, void **out)
{
    sx_clear_error();
    /* same fields: an instance's interfaces are read as ports */
    if (!it || !out || it->t->fields != t->fields)
        return sx_fail(STRATUS_EINVAL, "iterator of another type");
    *out = NULL;
    while (it->pos >= json_array_size(it->page)) {
        if (it->last_page)
            return 0;
        int rc = fetch_page(it);
        if (rc < 0)
            return rc;
    }
    int rc = sx_parse(it->t, json_array_get(it->page, it->pos++), out);
    return rc < 0 ? rc : 1;
}

void stratus_iter_free(stratus_iter *it)
{
    if (!it)
        return;
    json_decref(it->page);
    free(it->op);
    free(it->arg0);
    free(it->marker);
    free(it->query_base);
    free(it);
}

/* ---- states ---- */

static const char *const state_names[] = {"building", "active", "stopped", "deleting",
                                          "deleted",  "error",  "unknown"};

const char *stratus_state_name(stratus_state st)
{
    return (unsigned)st <= STRATUS_UNKNOWN ? state_names[st] : "unknown";
}

stratus_state stratus_state_parse(const char *name)
{
    for (int i = 0; name && i < STRATUS_UNKNOWN; i++)
        if (strcmp(name, state_names[i]) == 0)
            return (stratus_state)i;
    return STRATUS_UNKNOWN;
}

/* ---- the resource tables ---- */

#define S(T, f, p)                                                                                 \
    {                                                                                              \
        p, SX_STR, offsetof(T, f), 0                                                               \
    }
#define I(T, f, p)                                                                                 \
    {                                                                                              \
        p, SX_INT, offsetof(T, f), 0                                                               \
    }
#define B(T, f, p)                                                                                 \
    {                                                                                              \
        p, SX_BOOL, offsetof(T, f), 0                                                              \
    }
#define TYPE(var, T, nm, key, tbl)                                                                 \
    const sx_type var = {nm, key, sizeof(T), tbl, sizeof tbl / sizeof tbl[0]}

static const sx_field f_instance[] = {
    S(stratus_instance, id, "!id"),
    S(stratus_instance, tenant_id, "tenant_id"),
    S(stratus_instance, name, "name"),
    S(stratus_instance, flavor_id, "flavor_id"),
    S(stratus_instance, image_id, "image_id"),
    S(stratus_instance, keypair_id, "keypair_id"),
    S(stratus_instance, server_group_id, "server_group_id"),
    S(stratus_instance, state_name, "!state"),
    S(stratus_instance, task, "task"),
    S(stratus_instance, power_desired, "power_desired"),
    S(stratus_instance, node_id, "node_id"),
    S(stratus_instance, fault, "fault"),
    S(stratus_instance, host_status, "host_status"),
    S(stratus_instance, last_stop, "last_stop"),
    S(stratus_instance, created_at, "created_at"),
    S(stratus_instance, updated_at, "updated_at"),
    I(stratus_instance, vcpus, "vcpus"),
    I(stratus_instance, memory_mib, "memory_mib"),
    I(stratus_instance, disk_gib, "disk_gib"),
    {"state", SX_STATE, offsetof(stratus_instance, state), 0},
};
TYPE(sx_t_instance, stratus_instance, "instance", "instances", f_instance);

static const sx_field f_image[] = {
    S(stratus_image, id, "!id"),
    S(stratus_image, tenant_id, "tenant_id"),
    S(stratus_image, name, "name"),
    S(stratus_image, visibility, "visibility"),
    S(stratus_image, status, "status"),
    S(stratus_image, disk_format, "disk_format"),
    S(stratus_image, checksum, "checksum"),
    S(stratus_image, status_reason, "status_reason"),
    S(stratus_image, created_at, "created_at"),
    S(stratus_image, updated_at, "updated_at"),
    I(stratus_image, size_bytes, "size_bytes"),
    I(stratus_image, virtual_size_bytes, "virtual_size_bytes"),
    I(stratus_image, min_disk_gib, "min_disk_gib"),
    I(stratus_image, min_memory_mib, "min_memory_mib"),
    S(stratus_image, kind, "kind"),
    S(stratus_image, boot, "boot"),
    S(stratus_image, kernel_id, "kernel_id"),
    S(stratus_image, ramdisk_id, "ramdisk_id"),
};
TYPE(sx_t_image, stratus_image, "image", "images", f_image);

static const sx_field f_flavor[] = {
    S(stratus_flavor, id, "!id"),
    S(stratus_flavor, name, "name"),
    S(stratus_flavor, created_at, "created_at"),
    I(stratus_flavor, vcpus, "vcpus"),
    I(stratus_flavor, memory_mib, "memory_mib"),
    I(stratus_flavor, disk_gib, "disk_gib"),
    B(stratus_flavor, disabled, "disabled"),
};
TYPE(sx_t_flavor, stratus_flavor, "flavor", "flavors", f_flavor);

static const sx_field f_keypair[] = {
    S(stratus_keypair, id, "!id"),
    S(stratus_keypair, name, "name"),
    S(stratus_keypair, public_key, "public_key"),
    S(stratus_keypair, fingerprint, "fingerprint"),
    S(stratus_keypair, created_at, "created_at"),
};
TYPE(sx_t_keypair, stratus_keypair, "keypair", "keypairs", f_keypair);

static const sx_field f_group[] = {
    S(stratus_server_group, id, "!id"),
    S(stratus_server_group, name, "name"),
    S(stratus_server_group, policy, "policy"),
    S(stratus_server_group, created_at, "created_at"),
    {"members", SX_STRV, offsetof(stratus_server_group, members),
     offsetof(stratus_server_group, n_members)},
};
TYPE(sx_t_server_group, stratus_server_group, "server group", "server_groups", f_group);

#define RES(which)                                                                                 \
    I(stratus_quota, which.instances, #which ".instances"),                                        \
        I(stratus_quota, which.vcpus, #which ".vcpus"),                                            \
        I(stratus_quota, which.memory_mib, #which ".memory_mib"),                                  \
        I(stratus_quota, which.disk_gib, #which ".disk_gib"),                                      \
        I(stratus_quota, which.networks, #which ".networks"),                                      \
        I(stratus_quota, which.ports, #which ".ports"),                                            \
        I(stratus_quota, which.security_groups, #which ".security_groups"),                        \
        I(stratus_quota, which.floating_ips, #which ".floating_ips")
static const sx_field f_quota[] = {
    S(stratus_quota, tenant_id, "tenant_id"),
    RES(limits),
    RES(usage),
};
TYPE(sx_t_quota, stratus_quota, "quota", "quotas", f_quota);

static const sx_field f_invoice[] = {
    S(stratus_invoice, id, "!id"),
    S(stratus_invoice, number_text, "number_text"),
    S(stratus_invoice, status, "status"),
    S(stratus_invoice, period, "period"),
    S(stratus_invoice, currency, "currency"),
    S(stratus_invoice, total, "total"),
    S(stratus_invoice, issued_at, "issued_at"),
    I(stratus_invoice, number, "number"),
    I(stratus_invoice, total_micro, "total_micro"),
};
TYPE(sx_t_invoice, stratus_invoice, "invoice", "invoices", f_invoice);

static const sx_field f_api_key[] = {
    S(stratus_api_key, id, "!id"),
    S(stratus_api_key, name, "name"),
    S(stratus_api_key, tenant_id, "tenant_id"),
    S(stratus_api_key, created_at, "created_at"),
    S(stratus_api_key, expires_at, "expires_at"),
    S(stratus_api_key, key, "key"),
};
TYPE(sx_t_api_key, stratus_api_key, "API key", "api_keys", f_api_key);

static const sx_field f_node[] = {
    S(stratus_node, id, "!id"),
    S(stratus_node, name, "name"),
    S(stratus_node, hostname, "hostname"),
    S(stratus_node, agent_version, "agent_version"),
    S(stratus_node, state, "state"),
    S(stratus_node, tunnel_ip, "tunnel_ip"),
    S(stratus_node, last_heartbeat, "last_heartbeat"),
    S(stratus_node, created_at, "created_at"),
    B(stratus_node, disabled, "disabled"),
    B(stratus_node, empty, "empty"),
    I(stratus_node, cap_vcpus, "capacity.vcpus"),
    I(stratus_node, cap_memory_mib, "capacity.memory_mib"),
    I(stratus_node, cap_disk_gib, "capacity.disk_gib"),
    I(stratus_node, used_vcpus, "used.vcpus"),
    I(stratus_node, used_memory_mib, "used.memory_mib"),
    I(stratus_node, used_disk_gib, "used.disk_gib"),
    S(stratus_node, power_state, "power_state"),
    S(stratus_node, power_fault, "power_fault"),
};
TYPE(sx_t_node, stratus_node, "node", "nodes", f_node);

static const sx_field f_tenant[] = {
    S(stratus_tenant, id, "!id"),
    S(stratus_tenant, name, "name"),
    S(stratus_tenant, description, "description"),
    S(stratus_tenant, created_at, "created_at"),
};
TYPE(sx_t_tenant, stratus_tenant, "tenant", "tenants", f_tenant);

static const sx_field f_member[] = {
    S(stratus_member, user_id, "!user_id"),
    S(stratus_member, name, "name"),
    S(stratus_member, role, "role"),
};
TYPE(sx_t_member, stratus_member, "member", "members", f_member);

static const sx_field f_user[] = {
    S(stratus_user, id, "!id"),
    S(stratus_user, name, "name"),
    S(stratus_user, created_at, "created_at"),
    B(stratus_user, cloud_admin, "cloud_admin"),
    B(stratus_user, disabled, "disabled"),
};
TYPE(sx_t_user, stratus_user, "user", "users", f_user);

static const sx_field f_whoami[] = {
    S(stratus_whoami, user_id, "user.id"),
    S(stratus_whoami, user_name, "user.name"),
    B(stratus_whoami, cloud_admin, "user.cloud_admin"),
    S(stratus_whoami, tenant_id, "tenant_id"),
    S(stratus_whoami, role, "role"),
    S(stratus_whoami, token_kind, "token_kind"),
};
TYPE(sx_t_whoami, stratus_whoami, "whoami", "whoami", f_whoami);

void sx_fuzz_parse(const char *data, size_t len)
{
    static const sx_type *const all[] = {
        &sx_t_instance, &sx_t_image,          &sx_t_flavor,
        &sx_t_keypair,  &sx_t_server_group,   &sx_t_quota,
        &sx_t_invoice,  &sx_t_api_key,        &sx_t_node,
        &sx_t_tenant,   &sx_t_member,         &sx_t_user,
        &sx_t_whoami,   &sx_t_network,        &sx_t_subnet,
        &sx_t_port,     &sx_t_security_group, &sx_t_security_group_rule,
        &sx_t_router,   &sx_t_floating_ip,    &sx_t_router_interface,
        &sx_t_interface};
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    if (!j)
        return;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        void *o;
        if (sx_parse(all[i], j, &o) == 0)
            sx_free(all[i], o);
        json_t *arr = json_object_get(j, all[i]->list_key);
        for (size_t k = 0; json_is_array(arr) && k < json_array_size(arr); k++)
            if (sx_parse(all[i], json_array_get(arr, k), &o) == 0)
                sx_free(all[i], o);
    }
    sx_fail_http(400, data, len, "fuzz");
    json_decref(j);
}
