/*
 * desired.c - parses the gateway's desired set (GET /internal/v1/node/instances).
 *
 * The answer is untrusted input: every field is type- and range-checked, ids
 * must be UUIDs, and a set with one bad entry (or a repeated id) is refused
 * whole. Refusing the whole set is deliberate: skipping an entry would make
 * its instance look absent, and an absent instance's VM gets stopped. Keys
 * the agent does not know are ignored, so the gateway can add fields.
 *
 * `ports` (optional; absent or null: none) lists an instance's network
 * ports in NIC order, at most ND_MAX_PORTS:
 *   {"id": UUID, "mac": "fa:16:3e:xx:xx:xx", "network_id": UUID,
 *    "model": "virtio", "vnic_type": "virtio", "mtu": 1450,
 *    "fixed_ips": [{"subnet_id": UUID, "ip_address": "10.0.0.5"}]}
 * id, mac, network_id and mtu (68..65535) are required; model and
 * vnic_type default to "virtio" and are kept as words (a value this host
 * cannot serve fails that instance's launch, not the set); fixed_ips is
 * optional, at most ND_MAX_FIXED_IPS, each address IPv4 or IPv6. A MAC must
 * be unicast (read in any case, kept in lower case); two ports of one
 * instance may not share an id, a MAC, or a tap name (tap + the first 11
 * characters of the id).
 *
 * `snapshot_image_id` (optional; null: none): flatten the disk into that
 * image and upload it (snapshot.c).
 *
 * `disk_backend` (optional; default local): local (a qcow2 overlay in the
 * instance's directory) or rbd (a Ceph clone, image.c).
 * `migration` (optional; null: none), on the source of a live migration
 * (api-gateway/migrate.c): {"id": UUID, "uri": "tcp:ADDR:PORT",
 * "downtime_ms", "timeout_ms", "on_timeout": "cancel"|"force", "cancel",
 * "block_migration": copy the local disk along}.
 * The top-level `incoming` (optional) lists the instances migrating to this
 * node: [{"migration_id": UUID, "instance": an entry as above}], none of
 * them in `instances`.
 *
 * For the metadata service: `name` (optional, at most 255 bytes),
 * `ssh_public_key` (optional: one line, at most 16 KiB) and `public_ipv4`
 * (optional: the floating IP, IPv4).
 *
 * The top-level `networks` and `security_groups` are netdesired.c's.
 */
#include "agent.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stratus/json.h"
#include "stratus/uuid.h"

#define USER_DATA_MAX (96 * 1024)
#define SSH_KEY_MAX 16384  /* the gateway's limit (api-gateway/sshkey.h) */
#define MAX_INSTANCES 4096 /* per host; the duplicate check is quadratic */

static int get_uuid(json_t *o, const char *k, char out[ND_ID_LEN], char *err, size_t errlen)
{
    const char *s = NULL;
    if (st_json_get_str(o, k, ST_JSON_REQUIRED, 36, 36, &s, err, errlen) < 0)
        return -1;
    if (!st_uuid_valid(s)) {
        snprintf(err, errlen, "field '%s' must be a UUID", k);
        return -1;
    }
    snprintf(out, ND_ID_LEN, "%s", s);
    return 0;
}

static int get_word(json_t *o, const char *k, int required, char *out, size_t outlen, char *err,
                    size_t errlen)
{
    const char *s = NULL;
    if (st_json_get_str(o, k, required, required ? 1 : 0, outlen - 1, &s, err, errlen) < 0)
        return -1;
    if (!s)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-')) {
            snprintf(err, errlen, "field '%s' has a character outside [A-Za-z0-9._-]", k);
            return -1;
        }
    snprintf(out, outlen, "%s", s);
    return 0;
}

static int parse_port(json_t *o, nd_port *p, char *err, size_t errlen)
{
    const char *mac = NULL;
    long long v;
    if (!json_is_object(o)) {
        snprintf(err, errlen, "not an object");
        return -1;
    }
    if (get_uuid(o, "id", p->id, err, errlen) < 0 ||
        get_uuid(o, "network_id", p->network_id, err, errlen) < 0 ||
        st_json_get_str(o, "mac", ST_JSON_REQUIRED, 17, 17, &mac, err, errlen) < 0 ||
        get_word(o, "model", 0, p->model, sizeof p->model, err, errlen) < 0 ||
        get_word(o, "vnic_type", 0, p->vnic_type, sizeof p->vnic_type, err, errlen) < 0 ||
        st_json_get_int(o, "mtu", ST_JSON_REQUIRED, 68, 65535, &v, err, errlen) < 0)
        return -1;
    p->mtu = (int)v;
    for (int i = 0; i < 17; i++)
        p->mac[i] = (char)tolower((unsigned char)mac[i]);
    p->mac[17] = 0;
    if (!nd_mac_valid(p->mac)) {
        snprintf(err, errlen, "field 'mac' must be a unicast aa:bb:cc:dd:ee:ff");
        return -1;
    }
    if (!p->model[0])
        snprintf(p->model, sizeof p->model, "virtio");
    if (!p->vnic_type[0])
        snprintf(p->vnic_type, sizeof p->vnic_type, "virtio");
    json_t *ips = json_object_get(o, "fixed_ips");
    if (!ips || json_is_null(ips))
        return 0;
    if (!json_is_array(ips) || json_array_size(ips) > ND_MAX_FIXED_IPS) {
        snprintf(err, errlen, "field 'fixed_ips' must be an array of at most %d", ND_MAX_FIXED_IPS);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(ips); i++) {
        json_t *ip = json_array_get(ips, i);
        nd_fixed_ip *f = &p->fixed_ips[i];
        const char *addr = NULL;
        unsigned char bin[16];
        if (!json_is_object(ip) || get_uuid(ip, "subnet_id", f->subnet_id, err, errlen) < 0 ||
            st_json_get_str(ip, "ip_address", ST_JSON_REQUIRED, 2, sizeof f->ip_address - 1, &addr,
                            err, errlen) < 0 ||
            (inet_pton(AF_INET, addr, bin) != 1 && inet_pton(AF_INET6, addr, bin) != 1)) {
            snprintf(err, errlen,
                     "fixed_ips[%zu] must be {\"subnet_id\": UUID, \"ip_address\": "
                     "an IPv4 or IPv6 address}",
                     i);
            return -1;
        }
        snprintf(f->ip_address, sizeof f->ip_address, "%s", addr);
        p->nfixed_ips++;
    }
    return 0;
}

static int parse_ports(json_t *arr, nd_order *o, char *err, size_t errlen)
{
    char e[200];
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr) || json_array_size(arr) > ND_MAX_PORTS) {
        snprintf(err, errlen, "field 'ports' must be an array of at most %d", ND_MAX_PORTS);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        nd_port *p = &o->ports[i];
        if (parse_port(json_array_get(arr, i), p, e, sizeof e) < 0) {
            snprintf(err, errlen, "ports[%zu]: %s", i, e);
            return -1;
        }
        for (size_t k = 0; k < i; k++)
            if (!strncmp(o->ports[k].id, p->id, 11) || !strcmp(o->ports[k].mac, p->mac)) {
                snprintf(err, errlen, "ports[%zu] shares its MAC or tap name with ports[%zu]", i,
                         k);
                return -1;
            }
        o->nports = (int)i + 1;
    }
    return 0;
}

/* An instance's `migration` (absent or null: none). */
static int parse_migration(json_t *m, nd_mig_order *g, char *err, size_t errlen)
{
    memset(g, 0, sizeof *g);
    if (!m || json_is_null(m))
        return 0;
    const char *uri = NULL;
    if (!json_is_object(m) || get_uuid(m, "id", g->id, err, errlen) < 0 ||
        st_json_get_str(m, "uri", ST_JSON_REQUIRED, 5, sizeof g->uri - 1, &uri, err, errlen) < 0 ||
        st_json_get_int(m, "downtime_ms", 0, 0, 60000, &g->downtime_ms, err, errlen) < 0 ||
        st_json_get_int(m, "timeout_ms", 0, 0, 1LL << 40, &g->timeout_ms, err, errlen) < 0 ||
        get_word(m, "on_timeout", 0, g->on_timeout, sizeof g->on_timeout, err, errlen) < 0 ||
        st_json_get_bool(m, "cancel", 0, &g->cancel, err, errlen) < 0 ||
        st_json_get_bool(m, "block_migration", 0, &g->block, err, errlen) < 0) {
        if (!json_is_object(m))
            snprintf(err, errlen, "field 'migration' must be an object");
        return -1;
    }
    if (strncmp(uri, "tcp:", 4) || strpbrk(uri, " \r\n") ||
        (g->on_timeout[0] && strcmp(g->on_timeout, "cancel") && strcmp(g->on_timeout, "force"))) {
        snprintf(err, errlen, "field 'migration' needs a tcp: uri and on_timeout cancel or force");
        return -1;
    }
    snprintf(g->uri, sizeof g->uri, "%s", uri);
    return 0;
}

static int parse_one(json_t *o, nd_desired *d, char *err, size_t errlen)
{
    long long v;
    memset(d, 0, sizeof *d);
    if (!json_is_object(o)) {
        snprintf(err, errlen, "not an object");
        return -1;
    }
    if (get_uuid(o, "id", d->o.id, err, errlen) < 0 ||
        get_uuid(o, "tenant_id", d->o.tenant_id, err, errlen) < 0 ||
        get_uuid(o, "image_id", d->o.image_id, err, errlen) < 0 ||
        get_word(o, "state", 1, d->state, sizeof d->state, err, errlen) < 0 ||

        get_word(o, "flavor", 0, d->o.flavor, sizeof d->o.flavor, err, errlen) < 0 ||
        st_json_get_int(o, "generation", 1, 0, 1LL << 62, &d->o.generation, err, errlen) < 0 ||
        st_json_get_int(o, "reboot_seq", 1, 0, 1LL << 31, &d->o.reboot_seq, err, errlen) < 0 ||
        st_json_get_bool(o, "stop_force", 0, &d->o.stop_force, err, errlen) < 0 ||
        st_json_get_bool(o, "reboot_hard", 0, &d->o.reboot_hard, err, errlen) < 0)
        return -1;
    json_t *snap = json_object_get(o, "snapshot_image_id");
    if (snap && !json_is_null(snap) &&
        get_uuid(o, "snapshot_image_id", d->o.snapshot_image, err, errlen) < 0)
        return -1;
    const char *want = NULL;
    if (st_json_get_str(o, "desired", ST_JSON_REQUIRED, 1, 15, &want, err, errlen) < 0)
        return -1;
    if (nd_want_parse(want, &d->desired) < 0) {
        snprintf(err, errlen, "field 'desired' must be running, stopped or deleted");
        return -1;
    }
    if (st_json_get_int(o, "vcpus", 1, 1, 256, &v, err, errlen) < 0)
        return -1;
    d->o.vcpus = (int)v;
    if (st_json_get_int(o, "memory_mib", 1, 1, 1 << 22, &v, err, errlen) < 0)
        return -1;
    d->o.memory_mib = (int)v;
    if (st_json_get_int(o, "disk_gib", 1, 0, 1 << 20, &v, err, errlen) < 0)
        return -1;
    d->o.disk_gib = (int)v;
    const char *backend = "local";
    if (st_json_get_str(o, "disk_backend", ST_JSON_OPTIONAL, 1, 15, &backend, err, errlen) < 0)
        return -1;
    if (strcmp(backend, "local") && strcmp(backend, "rbd")) {
        snprintf(err, errlen, "field 'disk_backend' must be local or rbd");
        return -1;
    }
    d->o.rbd = !strcmp(backend, "rbd");
    if (parse_ports(json_object_get(o, "ports"), &d->o, err, errlen) < 0)
        return -1;
    json_t *ud = json_object_get(o, "user_data");
    if (ud && !json_is_null(ud)) {
        const char *s = NULL;
        if (st_json_get_str(o, "user_data", 1, 0, USER_DATA_MAX, &s, err, errlen) < 0)
            return -1;
        if (!(d->user_data = strdup(s))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    /* what the metadata service serves: the name, the key, the floating IP */
    const char *s = NULL;
    if (st_json_get_str(o, "name", 0, 0, sizeof d->name - 1, &s, err, errlen) < 0)
        return -1;
    snprintf(d->name, sizeof d->name, "%s", s ? s : "");
    json_t *key = json_object_get(o, "ssh_public_key");
    if (key && !json_is_null(key)) {
        if (st_json_get_str(o, "ssh_public_key", 1, 1, SSH_KEY_MAX, &s, err, errlen) < 0)
            return -1;
        if (strpbrk(s, "\r\n")) {
            snprintf(err, errlen, "field 'ssh_public_key' must be one line");
            return -1;
        }
        if (!(d->ssh_key = strdup(s))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    if (parse_migration(json_object_get(o, "migration"), &d->mig, err, errlen) < 0)
        return -1;
    json_t *fip = json_object_get(o, "public_ipv4");
    if (fip && !json_is_null(fip)) {
        s = json_string_value(fip);
        if (!s || strlen(s) > 15 || inet_pton(AF_INET, s, &d->public_ipv4) != 1) {
            snprintf(err, errlen, "field 'public_ipv4' must be an IPv4 address");
            return -1;
        }
    }
    return 0;
}

/* `evacuated` (absent: none): instance ids, each an instance of this set
 * never (the gateway does not list one placed here). */
static int parse_evacuated(json_t *root, nd_desired_set *out, char *err, size_t errlen)
{
    json_t *arr = json_object_get(root, "evacuated");
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr) || json_array_size(arr) > MAX_INSTANCES) {
        snprintf(err, errlen, "desired set: 'evacuated' must be an array of at most %d ids",
                 MAX_INSTANCES);
        return -1;
    }
    size_t n = json_array_size(arr);
    out->evacuated = calloc(n ? n : 1, sizeof *out->evacuated);
    if (!out->evacuated) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_array_get(arr, i));
        if (!id || !st_uuid_valid(id)) {
            snprintf(err, errlen, "desired set: evacuated[%zu] is not an instance id", i);
            return -1;
        }
        for (size_t k = 0; k < out->n; k++)
            if (!strcmp(out->v[k].o.id, id)) {
                snprintf(err, errlen, "desired set: instance %s is both desired and evacuated", id);
                return -1;
            }
        snprintf(out->evacuated[i], ND_ID_LEN, "%s", id);
        out->nevacuated = i + 1;
    }
    return 0;
}

/* `incoming` (absent: none): instances migrating to this node, none also
 * in `instances`. */
static int parse_incoming(json_t *root, nd_desired_set *out, char *err, size_t errlen)
{
    json_t *arr = json_object_get(root, "incoming");
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr) || json_array_size(arr) > MAX_INSTANCES) {
        snprintf(err, errlen, "desired set: 'incoming' must be an array of at most %d",
                 MAX_INSTANCES);
        return -1;
    }
    size_t n = json_array_size(arr);
    out->incoming = calloc(n ? n : 1, sizeof *out->incoming);
    if (!out->incoming) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char e[256];
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(arr, i);
        nd_incoming *g = &out->incoming[i];
        if (!json_is_object(it) || get_uuid(it, "migration_id", g->mid, e, sizeof e) < 0 ||
            parse_one(json_object_get(it, "instance"), &g->d, e, sizeof e) < 0) {
            snprintf(err, errlen, "desired set: incoming[%zu]: %s", i,
                     json_is_object(it) ? e : "not an object");
            free(g->d.user_data);
            free(g->d.ssh_key);
            return -1;
        }
        out->nincoming = i + 1;
        for (size_t k = 0; k < out->n; k++)
            if (!strcmp(out->v[k].o.id, g->d.o.id)) {
                snprintf(err, errlen, "desired set: instance %s is both desired and incoming",
                         g->d.o.id);
                return -1;
            }
        for (size_t k = 0; k < i; k++)
            if (!strcmp(out->incoming[k].d.o.id, g->d.o.id)) {
                snprintf(err, errlen, "desired set: instance %s incoming twice", g->d.o.id);
                return -1;
            }
    }
    return 0;
}

int nd_desired_parse(const char *buf, size_t len, nd_desired_set *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char e[256];
    json_t *root = st_json_parse_object(buf, len, e, sizeof e);
    if (!root) {
        snprintf(err, errlen, "desired set: %s", e);
        return -1;
    }
    json_t *arr = json_object_get(root, "instances");
    if (!json_is_array(arr) || json_array_size(arr) > MAX_INSTANCES) {
        snprintf(err, errlen, "desired set: 'instances' must be an array of at most %d",
                 MAX_INSTANCES);
        json_decref(root);
        return -1;
    }
    size_t n = json_array_size(arr);
    out->v = calloc(n ? n : 1, sizeof *out->v);
    if (!out->v) {
        snprintf(err, errlen, "out of memory");
        json_decref(root);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (parse_one(json_array_get(arr, i), &out->v[i], e, sizeof e) < 0) {
            snprintf(err, errlen, "desired set: instances[%zu]: %s", i, e);
            free(out->v[i].user_data);
            free(out->v[i].ssh_key);
            goto fail;
        }
        out->n = i + 1;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(out->v[j].o.id, out->v[i].o.id)) {
                snprintf(err, errlen, "desired set: instance %s listed twice", out->v[i].o.id);
                goto fail;
            }
    }
    if (nd_netset_parse(root, &out->net, err, errlen) < 0 ||
        parse_evacuated(root, out, err, errlen) < 0 || parse_incoming(root, out, err, errlen) < 0)
        goto fail;
    json_decref(root);
    return 0;
fail:
    json_decref(root);
    nd_desired_free(out);
    return -1;
}

void nd_desired_free(nd_desired_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].user_data);
        free(s->v[i].ssh_key);
    }
    free(s->v);
    s->v = NULL;
    s->n = 0;
    free(s->evacuated);
    s->evacuated = NULL;
    s->nevacuated = 0;
    for (size_t i = 0; i < s->nincoming; i++) {
        free(s->incoming[i].d.user_data);
        free(s->incoming[i].d.ssh_key);
    }
    free(s->incoming);
    s->incoming = NULL;
    s->nincoming = 0;
    nd_netset_free(&s->net);
}
