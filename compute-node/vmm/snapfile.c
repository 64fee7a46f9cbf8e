/* snapfile.c - the vmstate file's writer and reader (see snapfile.h). */
#include "snapfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devreg.h"
#include "stratus/crypto.h"

#ifndef VMM_VERSION
#define VMM_VERSION "stratus-vmm"
#endif
const char vmm_version[] = VMM_VERSION;

/* Header offsets. */
#define H_FORMAT 8
#define H_FLAGS 12
#define H_BODYLEN 16
#define H_SHA 24
#define H_WRITER 88

static size_t section_begin(vmm_rec_out *o, uint32_t tag)
{
    vmm_rec_u32(o, tag);
    vmm_rec_u32(o, 0);
    return o->len;
}

static void section_end(vmm_rec_out *o, size_t at)
{
    if (o->oom)
        return;
    uint32_t n = (uint32_t)(o->len - at);
    memcpy(o->p + at - 4, &n, 4);
}

static void put_vcpu(vmm_rec_out *o, uint32_t id, const vmm_snap_vcpu *v)
{
    vmm_rec_u32(o, id);
    vmm_rec_u32(o, v->tsc_khz);
    vmm_rec_put(o, &v->regs, sizeof v->regs);
    vmm_rec_put(o, &v->sregs, sizeof v->sregs);
    vmm_rec_u8(o, v->has_xsave ? 1 : 0);
    if (v->has_xsave)
        vmm_rec_put(o, &v->xsave, sizeof v->xsave);
    else
        vmm_rec_put(o, &v->fpu, sizeof v->fpu);
    vmm_rec_put(o, &v->xcrs, sizeof v->xcrs);
    vmm_rec_put(o, &v->lapic, sizeof v->lapic);
    vmm_rec_put(o, &v->events, sizeof v->events);
    vmm_rec_put(o, &v->mp, sizeof v->mp);
    vmm_rec_put(o, &v->dregs, sizeof v->dregs);
    vmm_rec_u32(o, v->nmsrs);
    for (uint32_t i = 0; i < v->nmsrs; i++) {
        vmm_rec_u32(o, v->msrs[i].index);
        vmm_rec_u64(o, v->msrs[i].data);
    }
    vmm_rec_u32(o, v->ncpuid);
    vmm_rec_put(o, v->cpuid, v->ncpuid * sizeof v->cpuid[0]);
}

int vmm_snap_write(const vmm_snapshot *s, uint8_t **out, size_t *len, char *err, size_t errlen)
{
    vmm_rec_out o = {0};
    uint8_t hdr[VMM_SNAP_HEADER] = {0};
    if (s->config_len > VMM_SNAP_CONFIG_MAX || s->nvcpus < 1 || s->nvcpus > VMM_SNAP_MAX_VCPUS ||
        s->devs_len > VMM_SNAP_DEVICES_MAX) {
        snprintf(err, errlen, "snapshot out of the format's bounds");
        return -EINVAL;
    }
    for (int i = 0; i < s->nvcpus; i++)
        if (s->vcpus[i].nmsrs > VMM_SNAP_MAX_MSRS || s->vcpus[i].ncpuid > VMM_SNAP_MAX_CPUID) {
            snprintf(err, errlen, "vcpu %d: too many MSRs or CPUID entries for the format", i);
            return -EINVAL;
        }
    vmm_rec_put(&o, hdr, sizeof hdr); /* filled in below */
    size_t at = section_begin(&o, VMM_SNAP_CONFIG);
    vmm_rec_put(&o, s->config, s->config_len);
    section_end(&o, at);
    at = section_begin(&o, VMM_SNAP_IRQCHIP);
    vmm_rec_put(&o, s->irqchip, sizeof s->irqchip);
    section_end(&o, at);
    at = section_begin(&o, VMM_SNAP_PIT);
    vmm_rec_put(&o, &s->pit, sizeof s->pit);
    section_end(&o, at);
    at = section_begin(&o, VMM_SNAP_CLOCK);
    vmm_rec_put(&o, &s->clock, sizeof s->clock);
    section_end(&o, at);
    for (int i = 0; i < s->nvcpus; i++) {
        at = section_begin(&o, VMM_SNAP_VCPU);
        put_vcpu(&o, (uint32_t)i, &s->vcpus[i]);
        section_end(&o, at);
    }
    at = section_begin(&o, VMM_SNAP_DEVICES);
    vmm_rec_put(&o, s->devs, s->devs_len);
    section_end(&o, at);
    if (o.oom) {
        free(o.p);
        snprintf(err, errlen, "out of memory writing the snapshot");
        return -ENOMEM;
    }
    uint32_t format = VMM_SNAP_FORMAT;
    uint64_t body = o.len - VMM_SNAP_HEADER;
    char sha[65];
    memcpy(o.p, VMM_SNAP_MAGIC, 8);
    memcpy(o.p + H_FORMAT, &format, 4);
    memset(o.p + H_FLAGS, 0, 4);
    memcpy(o.p + H_BODYLEN, &body, 8);
    st_sha256_hex(o.p + VMM_SNAP_HEADER, body, sha);
    memcpy(o.p + H_SHA, sha, 64);
    memset(o.p + H_WRITER, 0, VMM_SNAP_WRITER_MAX);
    memcpy(o.p + H_WRITER, vmm_version, strnlen(vmm_version, VMM_SNAP_WRITER_MAX - 1));
    *out = o.p;
    *len = o.len;
    return 0;
}

static int bad(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return -EINVAL;
}

static int get_vcpu(vmm_snap_vcpu *v, uint32_t want, const uint8_t *p, size_t n, char *err,
                    size_t errlen)
{
    char id[24];
    snprintf(id, sizeof id, "vcpu %u", want);
    vmm_rec_in in = {.p = p, .len = n, .id = id};
    uint32_t got = vmm_rec_get_u32(&in);
    v->tsc_khz = vmm_rec_get_u32(&in);
    vmm_rec_get(&in, &v->regs, sizeof v->regs);
    vmm_rec_get(&in, &v->sregs, sizeof v->sregs);
    uint8_t x = vmm_rec_get_u8(&in);
    if (in.short_read)
        return vmm_rec_in_done(&in, err, errlen);
    if (got != want)
        return vmm_rec_bad(&in, err, errlen, "section holds vcpu %u", got);
    if (x > 1)
        return vmm_rec_bad(&in, err, errlen, "FPU kind %u", x);
    v->has_xsave = x;
    if (x)
        vmm_rec_get(&in, &v->xsave, sizeof v->xsave);
    else
        vmm_rec_get(&in, &v->fpu, sizeof v->fpu);
    vmm_rec_get(&in, &v->xcrs, sizeof v->xcrs);
    vmm_rec_get(&in, &v->lapic, sizeof v->lapic);
    vmm_rec_get(&in, &v->events, sizeof v->events);
    vmm_rec_get(&in, &v->mp, sizeof v->mp);
    vmm_rec_get(&in, &v->dregs, sizeof v->dregs);
    if (v->xcrs.nr_xcrs > KVM_MAX_XCRS)
        return vmm_rec_bad(&in, err, errlen, "%u XCRs (at most %d)", v->xcrs.nr_xcrs, KVM_MAX_XCRS);
    uint32_t nm = vmm_rec_get_u32(&in);
    if (in.short_read)
        return vmm_rec_in_done(&in, err, errlen);
    if (nm > VMM_SNAP_MAX_MSRS || nm * 12u > in.len - in.off)
        return vmm_rec_bad(&in, err, errlen, "%u MSRs (at most %d, and what the section holds)", nm,
                           VMM_SNAP_MAX_MSRS);
    v->msrs = calloc(nm ? nm : 1, sizeof *v->msrs);
    if (!v->msrs)
        return bad(err, errlen, "out of memory");
    v->nmsrs = nm;
    for (uint32_t i = 0; i < nm; i++) {
        v->msrs[i].index = vmm_rec_get_u32(&in);
        v->msrs[i].data = vmm_rec_get_u64(&in);
    }
    uint32_t nc = vmm_rec_get_u32(&in);
    if (in.short_read)
        return vmm_rec_in_done(&in, err, errlen);
    if (nc > VMM_SNAP_MAX_CPUID || nc * sizeof v->cpuid[0] > in.len - in.off)
        return vmm_rec_bad(&in, err, errlen,
                           "%u CPUID entries (at most %d, and what the section holds)", nc,
                           VMM_SNAP_MAX_CPUID);
    v->cpuid = calloc(nc ? nc : 1, sizeof *v->cpuid);
    if (!v->cpuid)
        return bad(err, errlen, "out of memory");
    v->ncpuid = nc;
    vmm_rec_get(&in, v->cpuid, nc * sizeof v->cpuid[0]);
    return vmm_rec_in_done(&in, err, errlen);
}

static const char *tag_name(uint32_t tag)
{
    static const char *const names[] = {"?",     "config", "irqchip", "PIT",
                                        "clock", "vcpu",   "devices"};
    return tag < sizeof names / sizeof names[0] ? names[tag] : "unknown";
}

/* The body's sections into s; the header has been checked. */
static int read_body(vmm_snapshot *s, const uint8_t *p, size_t len, char *err, size_t errlen)
{
    size_t off = 0;
    uint32_t expect = VMM_SNAP_CONFIG;
    char msg[160];
    s->vcpus = calloc(VMM_SNAP_MAX_VCPUS, sizeof *s->vcpus);
    if (!s->vcpus)
        return bad(err, errlen, "out of memory");
    for (;;) {
        uint32_t tag, n;
        if (off == len) {
            if (expect != VMM_SNAP_DEVICES + 1) {
                snprintf(msg, sizeof msg, "vmstate ends before its %s section",
                         tag_name(expect > VMM_SNAP_DEVICES ? VMM_SNAP_DEVICES : expect));
                return bad(err, errlen, msg);
            }
            return 0;
        }
        if (len - off < 8)
            return bad(err, errlen, "vmstate: section header truncated");
        memcpy(&tag, p + off, 4);
        memcpy(&n, p + off + 4, 4);
        off += 8;
        if (expect > VMM_SNAP_DEVICES) {
            snprintf(msg, sizeof msg, "vmstate: a %s section after the last one", tag_name(tag));
            return bad(err, errlen, msg);
        }
        /* A VCPU section may be followed by another VCPU section. */
        if (tag != expect && !(expect == VMM_SNAP_DEVICES && tag == VMM_SNAP_VCPU && s->nvcpus)) {
            snprintf(msg, sizeof msg, "vmstate: found a %s section (tag %u) where %s belongs",
                     tag_name(tag), tag, tag_name(expect));
            return bad(err, errlen, msg);
        }
        size_t max = 0, exact = 0;
        switch (tag) {
        case VMM_SNAP_CONFIG: max = VMM_SNAP_CONFIG_MAX; break;
        case VMM_SNAP_IRQCHIP: exact = sizeof s->irqchip; break;
        case VMM_SNAP_PIT: exact = sizeof s->pit; break;
        case VMM_SNAP_CLOCK: exact = sizeof s->clock; break;
        case VMM_SNAP_VCPU: max = VMM_SNAP_VCPU_MAX; break;
        case VMM_SNAP_DEVICES: max = VMM_SNAP_DEVICES_MAX; break;
        }
        if ((exact && n != exact) || (max && n > max)) {
            snprintf(msg, sizeof msg, "vmstate: %s section of %u bytes (%s %zu)", tag_name(tag), n,
                     exact ? "must be" : "at most", exact ? exact : max);
            return bad(err, errlen, msg);
        }
        if (n > len - off) {
            snprintf(msg, sizeof msg, "vmstate: %s section of %u bytes, %zu left in the file",
                     tag_name(tag), n, len - off);
            return bad(err, errlen, msg);
        }
        const uint8_t *q = p + off;
        off += n;
        switch (tag) {
        case VMM_SNAP_CONFIG:
            if (!n || memchr(q, 0, n))
                return bad(err, errlen, "vmstate: the config is empty or holds a NUL byte");
            if (!(s->config = malloc((size_t)n + 1)))
                return bad(err, errlen, "out of memory");
            memcpy(s->config, q, n);
            s->config[n] = 0;
            s->config_len = n;
            expect = VMM_SNAP_IRQCHIP;
            break;
        case VMM_SNAP_IRQCHIP:
            memcpy(s->irqchip, q, n);
            expect = VMM_SNAP_PIT;
            break;
        case VMM_SNAP_PIT:
            memcpy(&s->pit, q, n);
            expect = VMM_SNAP_CLOCK;
            break;
        case VMM_SNAP_CLOCK:
            memcpy(&s->clock, q, n);
            expect = VMM_SNAP_VCPU;
            break;
        case VMM_SNAP_VCPU: {
            if (s->nvcpus == VMM_SNAP_MAX_VCPUS)
                return bad(err, errlen, "vmstate: more than 64 vCPUs");
            int rc = get_vcpu(&s->vcpus[s->nvcpus], (uint32_t)s->nvcpus, q, n, err, errlen);
            s->nvcpus++; /* what get_vcpu allocated is freed with the rest */
            if (rc)
                return rc;
            expect = VMM_SNAP_DEVICES;
            break;
        }
        case VMM_SNAP_DEVICES:
            if (!(s->devs = malloc(n ? n : 1)))
                return bad(err, errlen, "out of memory");
            memcpy(s->devs, q, n);
            s->devs_len = n;
            expect = VMM_SNAP_DEVICES + 1;
            break;
        }
    }
}

int vmm_snap_read(vmm_snapshot *s, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    uint32_t format, flags;
    uint64_t body;
    char sha[65], msg[200];
    memset(s, 0, sizeof *s);
    if (len < VMM_SNAP_HEADER || memcmp(buf, VMM_SNAP_MAGIC, 8))
        return bad(err, errlen, "not a stratus-vmm vmstate file (no " VMM_SNAP_MAGIC " header)");
    memcpy(&format, buf + H_FORMAT, 4);
    memcpy(&flags, buf + H_FLAGS, 4);
    memcpy(&body, buf + H_BODYLEN, 8);
    char writer[VMM_SNAP_WRITER_MAX];
    memcpy(writer, buf + H_WRITER, VMM_SNAP_WRITER_MAX);
    writer[VMM_SNAP_WRITER_MAX - 1] = 0;
    for (char *c = writer; *c; c++)
        if (*c < 0x20 || *c > 0x7e)
            *c = '?';
    if (format != VMM_SNAP_FORMAT) {
        snprintf(msg, sizeof msg,
                 "vmstate format %u (written by \"%s\"), this stratus-vmm reads format %u", format,
                 writer, VMM_SNAP_FORMAT);
        return bad(err, errlen, msg);
    }
    if (flags)
        return bad(err, errlen, "vmstate: unknown header flags");
    if (body != len - VMM_SNAP_HEADER) {
        snprintf(msg, sizeof msg, "vmstate %s: the header says %llu bytes follow, the file has %zu",
                 body > len - VMM_SNAP_HEADER ? "truncated" : "has trailing bytes",
                 (unsigned long long)body, len - VMM_SNAP_HEADER);
        return bad(err, errlen, msg);
    }
    st_sha256_hex(buf + VMM_SNAP_HEADER, (size_t)body, sha);
    if (memcmp(sha, buf + H_SHA, 64))
        return bad(err, errlen, "vmstate checksum mismatch: the file is corrupt");
    memcpy(s->writer, writer, sizeof writer);
    int rc = read_body(s, buf + VMM_SNAP_HEADER, (size_t)body, err, errlen);
    if (rc)
        vmm_snap_free(s);
    return rc;
}

void vmm_snap_free(vmm_snapshot *s)
{
    if (s->vcpus)
        for (int i = 0; i < s->nvcpus; i++) {
            free(s->vcpus[i].msrs);
            free(s->vcpus[i].cpuid);
        }
    free(s->vcpus);
    free(s->config);
    free(s->devs);
    memset(s, 0, sizeof *s);
}
