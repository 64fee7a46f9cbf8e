/* devreg.c - the device registry and its state records (see devreg.h). */
#include "devreg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vmm_rec_put(vmm_rec_out *o, const void *data, size_t n)
{
    if (o->oom || !n)
        return;
    if (n > o->cap - o->len) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap - o->len < n) {
            if (cap > SIZE_MAX / 2) {
                o->oom = 1;
                return;
            }
            cap *= 2;
        }
        uint8_t *p = realloc(o->p, cap);
        if (!p) {
            o->oom = 1;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->len, data, n);
    o->len += n;
}

/* x86 is little-endian, and so is the format: the values go as they lie in memory. */
void vmm_rec_u8(vmm_rec_out *o, uint8_t v)
{
    vmm_rec_put(o, &v, 1);
}

void vmm_rec_u16(vmm_rec_out *o, uint16_t v)
{
    vmm_rec_put(o, &v, 2);
}

void vmm_rec_u32(vmm_rec_out *o, uint32_t v)
{
    vmm_rec_put(o, &v, 4);
}

void vmm_rec_u64(vmm_rec_out *o, uint64_t v)
{
    vmm_rec_put(o, &v, 8);
}

void vmm_rec_get(vmm_rec_in *in, void *dst, size_t n)
{
    if (in->short_read || n > in->len - in->off) {
        in->short_read = 1;
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, in->p + in->off, n);
    in->off += n;
}

uint8_t vmm_rec_get_u8(vmm_rec_in *in)
{
    uint8_t v;
    vmm_rec_get(in, &v, 1);
    return v;
}

uint16_t vmm_rec_get_u16(vmm_rec_in *in)
{
    uint16_t v;
    vmm_rec_get(in, &v, 2);
    return v;
}

uint32_t vmm_rec_get_u32(vmm_rec_in *in)
{
    uint32_t v;
    vmm_rec_get(in, &v, 4);
    return v;
}

uint64_t vmm_rec_get_u64(vmm_rec_in *in)
{
    uint64_t v;
    vmm_rec_get(in, &v, 8);
    return v;
}

int vmm_rec_bad(const vmm_rec_in *in, char *err, size_t errlen, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s: %s", in->id ? in->id : "?", msg);
    return -EINVAL;
}

int vmm_rec_in_done(vmm_rec_in *in, char *err, size_t errlen)
{
    if (in->short_read)
        return vmm_rec_bad(in, err, errlen, "payload too short (%zu bytes)", in->len);
    if (in->off != in->len)
        return vmm_rec_bad(in, err, errlen, "payload too long (%zu bytes, %zu left over)", in->len,
                           in->len - in->off);
    return 0;
}

static int id_ok(const char *id, size_t n)
{
    if (n == 0 || n >= VMM_DEV_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == ':' || c == '.' || c == '_' || c == '-' || c == '@'))
            return 0;
    }
    return 1;
}

int vmm_dev_register(vmm_devreg *r, const char *id, const vmm_dev_ops *ops, void *opaque)
{
    if (!id_ok(id, strlen(id)) || !ops)
        return -EINVAL;
    if (vmm_dev_find(r, id))
        return -EEXIST;
    if (r->n == VMM_DEV_MAX)
        return -ENOSPC;
    vmm_dev *d = &r->d[r->n++];
    snprintf(d->id, sizeof d->id, "%s", id);
    d->ops = ops;
    d->opaque = opaque;
    return 0;
}

vmm_dev *vmm_dev_find(vmm_devreg *r, const char *id)
{
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->d[i].id, id))
            return &r->d[i];
    return NULL;
}

void vmm_dev_reset_all(vmm_devreg *r)
{
    for (int i = 0; i < r->n; i++)
        if (r->d[i].ops->reset)
            r->d[i].ops->reset(r->d[i].opaque);
}

int vmm_dev_save_all(vmm_devreg *r, uint8_t **out, size_t *len, char *err, size_t errlen)
{
    vmm_rec_out o = {0};
    int rc = 0;
    vmm_rec_put(&o, VMM_STATE_MAGIC, 8);
    vmm_rec_u32(&o, VMM_STATE_FORMAT);
    vmm_rec_u32(&o, (uint32_t)r->n);
    for (int i = 0; i < r->n && !o.oom; i++) {
        vmm_dev *d = &r->d[i];
        if (!d->ops->save) {
            snprintf(err, errlen, "device %s cannot be saved yet", d->id);
            rc = -ENOTSUP;
            goto fail;
        }
        size_t n = strlen(d->id);
        vmm_rec_u8(&o, (uint8_t)n);
        vmm_rec_put(&o, d->id, n);
        vmm_rec_u16(&o, d->ops->version);
        size_t at = o.len;
        vmm_rec_u32(&o, 0); /* the length, filled in below */
        if ((rc = d->ops->save(d->opaque, &o, err, errlen)))
            goto fail;
        if (o.oom)
            break;
        if (o.len - at - 4 > UINT32_MAX) {
            snprintf(err, errlen, "device %s: state too large", d->id);
            rc = -EFBIG;
            goto fail;
        }
        uint32_t plen = (uint32_t)(o.len - at - 4);
        memcpy(o.p + at, &plen, 4);
    }
    if (o.oom) {
        snprintf(err, errlen, "out of memory saving device state");
        rc = -ENOMEM;
        goto fail;
    }
    *out = o.p;
    *len = o.len;
    return 0;
fail:
    free(o.p);
    return rc;
}

int vmm_rec_open(vmm_rec_reader *rd, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    uint32_t format;
    memset(rd, 0, sizeof *rd);
    if (len < VMM_STATE_HEADER || memcmp(buf, VMM_STATE_MAGIC, 8)) {
        snprintf(err, errlen, "not a device state file (no %s header)", VMM_STATE_MAGIC);
        return -EINVAL;
    }
    memcpy(&format, buf + 8, 4);
    if (format != VMM_STATE_FORMAT) {
        snprintf(err, errlen, "device state format %u, this VMM reads %u", format,
                 VMM_STATE_FORMAT);
        return -EINVAL;
    }
    memcpy(&rd->count, buf + 12, 4);
    rd->p = buf;
    rd->len = len;
    rd->off = VMM_STATE_HEADER;
    return 0;
}

int vmm_rec_next(vmm_rec_reader *rd, vmm_rec *rec, char *err, size_t errlen)
{
    size_t left = rd->len - rd->off;
    const uint8_t *p = rd->p + rd->off;
    if (!left) {
        if (rd->seen != rd->count) {
            snprintf(err, errlen, "device state truncated: %u of %u records", rd->seen, rd->count);
            return -EINVAL;
        }
        return 0;
    }
    if (rd->seen == rd->count) {
        snprintf(err, errlen, "%zu bytes after the last of %u records", left, rd->count);
        return -EINVAL;
    }
    size_t n = p[0];
    if (1 + n + 6 > left) {
        snprintf(err, errlen, "record %u truncated in its header", rd->seen);
        return -EINVAL;
    }
    if (!id_ok((const char *)p + 1, n)) {
        snprintf(err, errlen, "record %u: malformed device id", rd->seen);
        return -EINVAL;
    }
    memcpy(rec->id, p + 1, n);
    rec->id[n] = 0;
    memcpy(&rec->version, p + 1 + n, 2);
    memcpy(&rec->len, p + 1 + n + 2, 4);
    if (rec->len > left - (1 + n + 6)) {
        snprintf(err, errlen, "%s: record says %u bytes, the file holds %zu", rec->id, rec->len,
                 left - (1 + n + 6));
        return -EINVAL;
    }
    rec->payload = p + 1 + n + 6;
    rd->off += 1 + n + 6 + rec->len;
    rd->seen++;
    return 1;
}

int vmm_dev_restore_all(vmm_devreg *r, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    vmm_rec_reader rd;
    vmm_rec rec, *recs = calloc((size_t)r->n + 1, sizeof *recs);
    int rc;
    if (!recs) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if ((rc = vmm_rec_open(&rd, buf, len, err, errlen)))
        goto out;
    /* Every record first: nothing is touched unless the file is whole and fits this VM. */
    while ((rc = vmm_rec_next(&rd, &rec, err, errlen)) == 1) {
        int i = 0;
        while (i < r->n && strcmp(r->d[i].id, rec.id))
            i++;
        rc = -EINVAL;
        if (i == r->n) {
            snprintf(err, errlen, "unknown device %s in the state (this VM has no such device)",
                     rec.id);
            goto out;
        }
        if (recs[i].payload) {
            snprintf(err, errlen, "two records for device %s", rec.id);
            goto out;
        }
        if (rec.version != r->d[i].ops->version) {
            snprintf(err, errlen, "%s: record version %u, this VMM reads version %u", rec.id,
                     rec.version, r->d[i].ops->version);
            goto out;
        }
        recs[i] = rec;
    }
    if (rc < 0)
        goto out;
    for (int i = 0; i < r->n; i++) {
        if (!r->d[i].ops->restore) {
            snprintf(err, errlen, "device %s cannot be restored yet", r->d[i].id);
            rc = -ENOTSUP;
            goto out;
        }
        if (!recs[i].payload) {
            snprintf(err, errlen, "no record for device %s in the state", r->d[i].id);
            rc = -EINVAL;
            goto out;
        }
    }
    for (int i = 0; i < r->n; i++) {
        vmm_dev *d = &r->d[i];
        vmm_rec_in in = {.p = recs[i].payload, .len = recs[i].len, .id = d->id};
        if ((rc = d->ops->restore(d->opaque, &in, err, errlen)))
            goto out;
        if ((rc = vmm_rec_in_done(&in, err, errlen))) /* a hook that forgot to check */
            goto out;
    }
    rc = 0;
out:
    free(recs);
    return rc;
}
