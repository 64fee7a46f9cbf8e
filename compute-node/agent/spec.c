/*
 * spec.c - the VM spec's invariants (driver.h), checked once here so that
 * every driver can render disks and ports without re-checking them.
 *
 * A spec that passes nd_vm_spec_check() has 1..ND_MAX_DISKS disks and
 * 0..ND_MAX_PORTS ports; every disk has a non-empty unique id of at most 31
 * characters ([A-Za-z0-9._-]), a path and a format of qcow2 or raw; every
 * port has a non-empty id, a tap name of 1..15 characters ([A-Za-z0-9._-]),
 * a unique unicast MAC in lower-case aa:bb:cc:dd:ee:ff form, a model the
 * enum knows and an MTU of 0 (not told) or 68..65535. Tap names are unique
 * too: two NICs on one tap would steal each other's frames.
 *
 * nd_spec_ports() turns the gateway's ports (desired.c) into the spec's:
 * each port's tap is "tap" + the first 11 characters of its id (Neutron's
 * naming; 14 characters, within IFNAMSIZ). The agent does not make taps
 * (network/ will): a port whose tap is not there fails the launch, named.
 * The names of driver.h's words (NIC models, how a stop ended, a live
 * migration's states) live here too, with the parser of stratus-vmm's
 * migration status (GET /vm/migrate), which any driver speaking its shape
 * may use.
 */
#include "agent.h"

#include <jansson.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

static const char *const model_names[] = {
    [ND_NIC_VIRTIO] = "virtio",
    [ND_NIC_E1000] = "e1000",
};

const char *nd_stop_how_name(nd_stop_how h)
{
    return h == ND_STOP_GRACEFUL ? "graceful" : h == ND_STOP_FORCED ? "forced" : NULL;
}

const char *nd_nic_model_name(nd_nic_model m)
{
    if ((unsigned)m >= sizeof model_names / sizeof model_names[0])
        return NULL;
    return model_names[m];
}

static const char *const mig_names[] = {
    [ND_MIG_NONE] = "none",     [ND_MIG_INCOMING] = "incoming",
    [ND_MIG_ACTIVE] = "active", [ND_MIG_COMPLETED] = "completed",
    [ND_MIG_FAILED] = "failed", [ND_MIG_CANCELLED] = "cancelled",
};

const char *nd_mig_state_name(nd_mig_state s)
{
    return (unsigned)s < sizeof mig_names / sizeof mig_names[0] ? mig_names[s] : NULL;
}

/* A non-negative integer field; absent: def. -1 for one of another type. */
static int mig_num(json_t *j, const char *k, long long def, long long *out)
{
    json_t *v = json_object_get(j, k);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (long long)json_integer_value(v);
    return 0;
}

int nd_mig_status_parse(const char *json, size_t len, nd_mig_status *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    json_t *j = json_loadb(json, len, 0, NULL);
    const char *s = json_string_value(json_object_get(j, "state"));
    int rc = -1;
    st->state = (nd_mig_state)-1;
    for (unsigned i = 0; s && i < sizeof mig_names / sizeof mig_names[0]; i++)
        if (!strcmp(s, mig_names[i]))
            st->state = (nd_mig_state)i;
    if (!json_is_object(j) || (int)st->state < 0)
        snprintf(err, errlen, "the migration status has no known state");
    else if (mig_num(j, "round", 0, &st->round) < 0 ||
             mig_num(j, "transferred_bytes", 0, &st->transferred_bytes) < 0 ||
             mig_num(j, "remaining_bytes", 0, &st->remaining_bytes) < 0 ||
             mig_num(j, "total_bytes", 0, &st->total_bytes) < 0 ||
             mig_num(j, "throttle_pct", 0, &st->throttle_pct) < 0 ||
             mig_num(j, "downtime_ms", -1, &st->downtime_ms) < 0 ||
             mig_num(j, "total_ms", -1, &st->total_ms) < 0 || st->throttle_pct > 100)
        snprintf(err, errlen, "the migration status has a bad number");
    else
        rc = 0;
    const char *e = json_string_value(json_object_get(j, "error"));
    if (rc == 0 && e)
        snprintf(st->error, sizeof st->error, "%s", e);
    if (rc < 0)
        st->state = ND_MIG_NONE;
    json_decref(j);
    return rc;
}

const char *nd_boot_name(nd_boot b)
{
    return b == ND_BOOT_KERNEL ? "kernel" : b == ND_BOOT_FIRMWARE ? "firmware" : NULL;
}

int nd_nic_model_parse(const char *name, nd_nic_model *m)
{
    for (unsigned i = 0; i < sizeof model_names / sizeof model_names[0]; i++)
        if (model_names[i] && !strcmp(name, model_names[i])) {
            *m = (nd_nic_model)i;
            return 0;
        }
    return -1;
}

int nd_mac_valid(const char *mac)
{
    if (strlen(mac) != 17)
        return 0;
    for (int i = 0; i < 17; i++) {
        char c = mac[i];
        if (i % 3 == 2 ? c != ':' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    int first = (mac[0] >= 'a' ? mac[0] - 'a' + 10 : mac[0] - '0') * 16 +
                (mac[1] >= 'a' ? mac[1] - 'a' + 10 : mac[1] - '0');
    return !(first & 1) && strcmp(mac, "00:00:00:00:00:00") != 0;
}

static int name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

int nd_vm_spec_check(const nd_vm_spec *s, char *err, size_t errlen)
{
    if (s->boot == ND_BOOT_FIRMWARE &&
        (!s->firmware[0] || s->kernel[0] || s->initrd[0] || s->cmdline[0])) {
        snprintf(err, errlen,
                 "a firmware boot names the firmware and no kernel, initrd or cmdline");
        return -1;
    }
    if (s->boot == ND_BOOT_KERNEL && (!s->kernel[0] || s->firmware[0])) {
        snprintf(err, errlen, "a kernel boot names its kernel and no firmware");
        return -1;
    }
    if (!nd_boot_name(s->boot)) {
        snprintf(err, errlen, "unknown boot mode %d", (int)s->boot);
        return -1;
    }
    if (s->ndisks < 1 || s->ndisks > ND_MAX_DISKS) {
        snprintf(err, errlen, "a VM has 1 to %d disks, not %d", ND_MAX_DISKS, s->ndisks);
        return -1;
    }
    if (s->nports < 0 || s->nports > ND_MAX_PORTS) {
        snprintf(err, errlen, "a VM has at most %d ports, not %d", ND_MAX_PORTS, s->nports);
        return -1;
    }
    for (int i = 0; i < s->ndisks; i++) {
        const nd_vm_disk *d = &s->disks[i];
        if (!name_ok(d->id, 31) || !d->path[0] ||
            (strcmp(d->format, "qcow2") && strcmp(d->format, "raw"))) {
            snprintf(err, errlen,
                     "disk %d: needs an id ([A-Za-z0-9._-], 1-31), a path and "
                     "the format qcow2 or raw",
                     i);
            return -1;
        }
        for (int k = 0; k < i; k++)
            if (!strcmp(s->disks[k].id, d->id)) {
                snprintf(err, errlen, "disk id %s used twice", d->id);
                return -1;
            }
    }
    for (int i = 0; i < s->nports; i++) {
        const nd_vm_port *p = &s->ports[i];
        if (!p->id[0] || !name_ok(p->tap, 15)) {
            snprintf(err, errlen, "port %d: needs an id and a tap name ([A-Za-z0-9._-], 1-15)", i);
            return -1;
        }
        if (!nd_mac_valid(p->mac)) {
            snprintf(err, errlen, "port %s: MAC '%s' is not a unicast aa:bb:cc:dd:ee:ff", p->id,
                     p->mac);
            return -1;
        }
        if (!nd_nic_model_name(p->model)) {
            snprintf(err, errlen, "port %s: unknown NIC model %d", p->id, (int)p->model);
            return -1;
        }
        if (p->mtu != 0 && (p->mtu < 68 || p->mtu > 65535)) {
            snprintf(err, errlen, "port %s: MTU %d is outside 68..65535", p->id, p->mtu);
            return -1;
        }
        for (int k = 0; k < i; k++)
            if (!strcmp(s->ports[k].tap, p->tap) || !strcmp(s->ports[k].mac, p->mac) ||
                !strcmp(s->ports[k].id, p->id)) {
                snprintf(err, errlen, "ports %s and %s share an id, a tap or a MAC", s->ports[k].id,
                         p->id);
                return -1;
            }
    }
    return 0;
}

void nd_port_tap(const char *port_id, char out[16])
{
    snprintf(out, 16, "tap%.11s", port_id);
}

int nd_spec_ports(const nd_order *o, nd_vm_spec *s, char *err, size_t errlen)
{
    s->nports = 0;
    for (int i = 0; i < o->nports && i < ND_MAX_PORTS; i++) {
        const nd_port *p = &o->ports[i];
        nd_vm_port *v = &s->ports[i];
        memset(v, 0, sizeof *v);
        if (nd_nic_model_parse(p->model, &v->model) < 0) {
            snprintf(err, errlen, "port %s: NIC model '%s' is not offered on this host", p->id,
                     p->model);
            return -1;
        }
        if (strcmp(p->vnic_type, "virtio") != 0) {
            snprintf(err, errlen, "port %s: vnic_type '%s' is not supported on this host", p->id,
                     p->vnic_type);
            return -1;
        }
        snprintf(v->id, sizeof v->id, "%s", p->id);
        nd_port_tap(p->id, v->tap);
        snprintf(v->mac, sizeof v->mac, "%s", p->mac);
        v->mtu = p->mtu;
        /* network/ makes the tap; a missing one is this host not being ready */
        if (if_nametoindex(v->tap) == 0) {
            snprintf(err, errlen, "port %s: its tap %s does not exist on this host", p->id, v->tap);
            return -1;
        }
        s->nports = i + 1;
    }
    return 0;
}
