/*
 * batch.c - parsing and validating an ingest batch (format: README.md).
 *
 * One pass over the text with the jsonr pull reader. Top-level and sample
 * objects are strict (unknown or repeated keys are refused: a typo must not
 * silently drop usage); inside "counters", which is the VMM's own document,
 * unknown keys are skipped so the VMM can grow new counters without
 * breaking ingest. Per-vCPU, per-NIC and per-disk counters are checked and
 * summed (overflow refused) into the ten totals of bl_meter; a NIC that
 * names its port (port_id) also keeps its own rx/tx bytes (bl_portc).
 *
 * Errors: the first problem found is reported with its JSON path
 * ("samples[3].counters.nics[0].rx_bytes: ..."). Whether it is a syntax
 * error (400) or a validation error (422) is decided at the end by a plain
 * syntax check of the whole text, so the classification never depends on
 * where the field walk happened to stop.
 */
#include "batch.h"
#include "jsonr.h"

#include "stratus/timefmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const bl_meter_names[BL_NMETERS] = {ST_METERS(ST_METER_COLUMN)};

static const char *const states[] = {"building", "active",   "paused", "stopped",
                                     "error",    "deleting", NULL};

int bl_state_valid(const char *s, int *billable)
{
    for (int i = 0; states[i]; i++)
        if (strcmp(s, states[i]) == 0) {
            if (billable)
                *billable = strcmp(s, "active") == 0 || strcmp(s, "paused") == 0;
            return 1;
        }
    return 0;
}

int bl_flavor_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return n >= 1 && n <= BL_FLAVOR_MAX;
}

/*
 * Where a value sits, for error messages. Paths are only formatted when
 * something is wrong: snprintf on every field was a quarter of the parse.
 */
typedef struct where {
    size_t sample;    /* index in samples[]; NO_SAMPLE at the top level */
    const char *part; /* NULL, "counters", "counters.vcpus", ... */
    int dev;          /* element of a device array, or -1 */
} where;

#define NO_SAMPLE ((size_t)-1)

/* Overwrites the reader's error with "<path>[.field]: <message>". */
__attribute__((format(printf, 4, 5))) static int bad(jr *r, const where *w, const char *field,
                                                     const char *fmt, ...)
{
    char path[96] = "";
    size_t n = 0;
    if (w && w->sample != NO_SAMPLE) {
        n += (size_t)snprintf(path + n, sizeof path - n, "samples[%zu]", w->sample);
        if (w->part)
            n += (size_t)snprintf(path + n, sizeof path - n, ".%s", w->part);
        if (w->dev >= 0)
            n += (size_t)snprintf(path + n, sizeof path - n, "[%d]", w->dev);
    }
    if (field && n < sizeof path)
        snprintf(path + n, sizeof path - n, "%s%.40s", n ? "." : "", field);
    char msg[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(r->err, sizeof r->err, "%s%s%s", path, path[0] ? ": " : "", msg);
    r->failed = 1;
    return -1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return 1;
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A UUID string (either case) into canonical lowercase. */
static int get_uuid(jr *r, const where *w, const char *key, char out[37])
{
    char tmp[40];
    size_t n = 0;
    if (!jr_peek_string(r) || jr_string(r, tmp, sizeof tmp, &n) < 0 || n != 36)
        return bad(r, w, key, "must be a UUID");
    for (int i = 0; i < 36; i++) {
        char c = tmp[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return bad(r, w, key, "must be a UUID");
        } else if (!hexval(c)) {
            return bad(r, w, key, "must be a UUID");
        }
        out[i] = (char)(c >= 'A' && c <= 'F' ? c + 32 : c);
    }
    out[36] = 0;
    return 0;
}

static int get_count(jr *r, const where *w, const char *key, int64_t *v)
{
    if (jr_int64(r, 0, INT64_MAX, v) < 0)
        return bad(r, w, key, "must be an integer from 0 to %lld", (long long)INT64_MAX);
    return 0;
}

static int add(jr *r, const where *w, int64_t *sum, int64_t v)
{
    if (__builtin_add_overflow(*sum, v, sum))
        return bad(r, w, NULL, "counters add up beyond 2^63-1");
    return 0;
}

/* Marks key number bit seen; refuses a repeat. */
static int seen_once(jr *r, unsigned *seen, int bit, const where *w, const char *key)
{
    if (*seen & (1u << bit))
        return bad(r, w, key, "given twice");
    *seen |= 1u << bit;
    return 0;
}

static int index_of(const char *const *keys, const char *k)
{
    for (int i = 0; keys[i]; i++)
        if (keys[i][0] == k[0] && strcmp(keys[i], k) == 0)
            return i;
    return -1;
}

/*
 * One element of "vcpus", "nics" or "disks": an id plus `nfields` required
 * counters named in fields[], added into sums[map[i]]. A NIC may also name
 * the network port it plugs into (port: "" when it does not). Unknown keys
 * skipped.
 */
static int parse_device(jr *r, const where *w, int numeric_id, const char *const *fields,
                        const int *map, int nfields, int64_t *sums, char *id, size_t idcap,
                        int64_t *num_id, char *port)
{
    int first = 1, rc;
    unsigned seen = 0;
    char key[40];
    if (!jr_peek_object(r))
        return bad(r, w, NULL, "must be an object");
    if (jr_obj_begin(r) < 0)
        return -1;
    while ((rc = jr_obj_next(r, &first, key, sizeof key)) > 0) {
        if (strcmp(key, "id") == 0) {
            if (seen_once(r, &seen, 31, w, "id") < 0)
                return -1;
            if (numeric_id) {
                if (jr_int64(r, 0, 4095, num_id) < 0)
                    return bad(r, w, "id", "must be an integer from 0 to 4095");
            } else {
                size_t n;
                if (!jr_peek_string(r) || jr_string(r, id, idcap, &n) < 0 || n == 0 ||
                    strlen(id) != n)
                    return bad(r, w, "id", "must be a string of 1 to %zu bytes", idcap - 1);
            }
            continue;
        }
        if (port && strcmp(key, "port_id") == 0) {
            if (seen_once(r, &seen, 30, w, "port_id") < 0 || get_uuid(r, w, key, port) < 0)
                return -1;
            continue;
        }
        int k = index_of(fields, key);
        if (k < 0) {
            if (jr_skip(r) < 0)
                return -1;
            continue;
        }
        int64_t v;
        if (seen_once(r, &seen, k, w, key) < 0 || get_count(r, w, key, &v) < 0 ||
            add(r, w, &sums[map[k]], v) < 0)
            return -1;
    }
    if (rc < 0)
        return -1;
    if (!(seen & (1u << 31)))
        return bad(r, w, NULL, "'id' is required");
    for (int k = 0; k < nfields; k++)
        if (!(seen & (1u << k)))
            return bad(r, w, NULL, "'%s' is required", fields[k]);
    return 0;
}

/* Per group of the counter document: its entries' metered fields and the
 * meter each adds to, from the one list (stratus/meters.h). */
#define FIELD_vcpus(NAME, idx, column, group, field) ST_METER_IF(group, vcpus, #field, )
#define FIELD_nics(NAME, idx, column, group, field) ST_METER_IF(group, nics, #field, )
#define FIELD_disks(NAME, idx, column, group, field) ST_METER_IF(group, disks, #field, )
#define MAP_vcpus(NAME, idx, column, group, field) ST_METER_IF(group, vcpus, BL_##NAME, )
#define MAP_nics(NAME, idx, column, group, field) ST_METER_IF(group, nics, BL_##NAME, )
#define MAP_disks(NAME, idx, column, group, field) ST_METER_IF(group, disks, BL_##NAME, )
static const char *const vcpu_fields[] = {ST_METERS(FIELD_vcpus) NULL};
static const int vcpu_map[] = {ST_METERS(MAP_vcpus)};
static const char *const nic_fields[] = {ST_METERS(FIELD_nics) NULL};
static const int nic_map[] = {ST_METERS(MAP_nics)};
static const char *const disk_fields[] = {ST_METERS(FIELD_disks) NULL};
static const int disk_map[] = {ST_METERS(MAP_disks)};
#define NMAP(m) (int)(sizeof m / sizeof m[0])

enum { DEV_VCPU, DEV_NIC, DEV_DISK };

/* A sample's port counters: appended to the batch's pool (bl_batch.pp). */
static int port_push(jr *r, const where *w, bl_batch *b, bl_sample *s, const char *port,
                     const int64_t *own)
{
    for (size_t i = s->port0; i < b->npp; i++)
        if (strcmp(b->pp[i].id, port) == 0)
            return bad(r, w, "port_id", "'%s' listed twice", port);
    if (b->npp == b->cappp) {
        size_t ncap = b->cappp ? b->cappp * 2 : 64;
        bl_portc *np = realloc(b->pp, ncap * sizeof *np);
        if (!np)
            return bad(r, w, NULL, "out of memory");
        b->pp = np;
        b->cappp = ncap;
    }
    bl_portc *p = &b->pp[b->npp++];
    memset(p, 0, sizeof *p); /* padding too: parses compare byte for byte (fuzz_batch.c) */
    memcpy(p->id, port, sizeof p->id);
    p->rx = own[BL_RX_BYTES];
    p->tx = own[BL_TX_BYTES];
    s->nports++;
    return 0;
}

static int parse_devices(jr *r, size_t sample, int kind, int64_t *sums, bl_batch *b, bl_sample *s)
{
    static const char *const parts[] = {"counters.vcpus", "counters.nics", "counters.disks"};
    int max = kind == DEV_VCPU ? BL_MAX_VCPUS : BL_MAX_DEVICES;
    char ids[BL_MAX_DEVICES][33];
    unsigned char vcpu_seen[4096 / 8];
    memset(vcpu_seen, 0, sizeof vcpu_seen);
    where w = {sample, parts[kind], -1};
    int first = 1, rc, n = 0;
    if (!jr_peek_array(r))
        return bad(r, &w, NULL, "must be an array");
    if (jr_arr_begin(r) < 0)
        return -1;
    while ((rc = jr_arr_next(r, &first)) > 0) {
        if (n == max)
            return bad(r, &w, NULL, "more than %d entries", max);
        w.dev = n;
        int64_t num = 0;
        char id[33] = "";
        if (kind == DEV_VCPU) {
            if (parse_device(r, &w, 1, vcpu_fields, vcpu_map, NMAP(vcpu_map), sums, NULL, 0, &num,
                             NULL) < 0)
                return -1;
            if (vcpu_seen[num / 8] & (1u << (num % 8)))
                return bad(r, &w, "id", "vCPU %lld listed twice", (long long)num);
            vcpu_seen[num / 8] |= (unsigned char)(1u << (num % 8));
        } else {
            const char *const *f = kind == DEV_NIC ? nic_fields : disk_fields;
            const int *m = kind == DEV_NIC ? nic_map : disk_map;
            int nm = kind == DEV_NIC ? NMAP(nic_map) : NMAP(disk_map);
            int64_t own[BL_NMETERS] = {0};
            char port[37] = "";
            if (parse_device(r, &w, 0, f, m, nm, own, id, sizeof id, NULL,
                             kind == DEV_NIC ? port : NULL) < 0)
                return -1;
            for (int i = 0; i < n; i++)
                if (strcmp(ids[i], id) == 0)
                    return bad(r, &w, "id", "'%s' listed twice", id);
            memcpy(ids[n], id, sizeof id);
            for (int k = 0; k < BL_NMETERS; k++)
                if (own[k] && add(r, &w, &sums[k], own[k]) < 0)
                    return -1;
            if (kind == DEV_NIC && !port[0])
                s->ports_known = 0; /* a NIC without its port: no per-port bytes */
            else if (kind == DEV_NIC && port_push(r, &w, b, s, port, own) < 0)
                return -1;
        }
        n++;
    }
    return rc;
}

/* The VMM's counter document, reduced to the ten totals. */
static int parse_counters(jr *r, size_t sample, bl_sample *s, char *boot, int *has_boot,
                          bl_batch *b)
{
    enum { K_BOOT, K_VCPUS, K_CPU_TOTAL, K_CYC_TOTAL, K_NICS, K_DISKS };
    static const char *const keys[] = {
        "boot_id", "vcpus", "cpu_time_ns_total", "cycles_total", "nics", "disks", NULL};
    int64_t vsum[BL_NMETERS] = {0};
    int64_t cpu_total = 0, cyc_total = 0;
    unsigned seen = 0;
    int first = 1, rc;
    char key[40];
    where w = {sample, "counters", -1};
    if (!jr_peek_object(r))
        return bad(r, &w, NULL, "must be an object");
    if (jr_obj_begin(r) < 0)
        return -1;
    while ((rc = jr_obj_next(r, &first, key, sizeof key)) > 0) {
        int k = index_of(keys, key);
        if (k < 0) {
            if (jr_skip(r) < 0)
                return -1;
            continue;
        }
        if (seen_once(r, &seen, k, &w, key) < 0)
            return -1;
        switch (k) {
        case K_BOOT:
            if (get_uuid(r, &w, key, boot) < 0)
                return -1;
            *has_boot = 1;
            break;
        case K_VCPUS:
            if (parse_devices(r, sample, DEV_VCPU, vsum, b, s) < 0)
                return -1;
            break;
        case K_CPU_TOTAL:
            if (get_count(r, &w, key, &cpu_total) < 0)
                return -1;
            break;
        case K_CYC_TOTAL:
            if (get_count(r, &w, key, &cyc_total) < 0)
                return -1;
            break;
        case K_NICS:
            if (parse_devices(r, sample, DEV_NIC, s->c, b, s) < 0)
                return -1;
            break;
        case K_DISKS:
            if (parse_devices(r, sample, DEV_DISK, s->c, b, s) < 0)
                return -1;
            break;
        }
    }
    if (rc < 0)
        return -1;
    /* Totals are what the VMM read at one instant; per-vCPU values are the fallback. */
    if (!(seen & (1u << K_CYC_TOTAL)) && !(seen & (1u << K_VCPUS)))
        return bad(r, &w, NULL, "needs 'cycles_total' or 'vcpus'");
    if (!(seen & (1u << K_CPU_TOTAL)) && !(seen & (1u << K_VCPUS)))
        return bad(r, &w, NULL, "needs 'cpu_time_ns_total' or 'vcpus'");
    s->c[BL_CPU_CYCLES] = (seen & (1u << K_CYC_TOTAL)) ? cyc_total : vsum[BL_CPU_CYCLES];
    s->c[BL_CPU_TIME_NS] = (seen & (1u << K_CPU_TOTAL)) ? cpu_total : vsum[BL_CPU_TIME_NS];
    return 0;
}

enum {
    F_KIND,
    F_TENANT,
    F_INSTANCE,
    F_FLAVOR,
    F_STATE,
    F_BOOT,
    F_SEQ,
    F_AT,
    F_COUNTERS,
    F_IMAGE_BYTES,
    F_DISK_BYTES
};
static const char *const sample_keys[] = {"kind",     "tenant_id",   "instance_id", "flavor",
                                          "state",    "boot_id",     "seq",         "sampled_at",
                                          "counters", "image_bytes", "disk_bytes",  NULL};

/* Earliest and latest sampled_at the parser accepts (2000-01-01, 2200-01-01). */
#define MIN_AT_US 946684800000000LL
#define MAX_AT_US 7258118400000000LL

static int parse_sample(jr *r, size_t idx, bl_sample *s, bl_batch *b)
{
    where w = {idx, NULL, -1};
    memset(s, 0, sizeof *s);
    s->disk_bytes = -1;
    s->port0 = b->npp;
    s->ports_known = 1;
    unsigned seen = 0;
    int first = 1, rc, has_cboot = 0;
    char key[40], cboot[37] = "";
    if (!jr_peek_object(r))
        return bad(r, &w, NULL, "must be an object");
    if (jr_obj_begin(r) < 0)
        return -1;
    while ((rc = jr_obj_next(r, &first, key, sizeof key)) > 0) {
        int k = index_of(sample_keys, key);
        if (k < 0)
            return bad(r, &w, NULL, "unknown field '%.32s'", key);
        if (seen_once(r, &seen, k, &w, key) < 0)
            return -1;
        char tmp[64];
        switch (k) {
        case F_KIND:
            if (!jr_peek_string(r) || jr_string(r, tmp, sizeof tmp, NULL) < 0 ||
                (strcmp(tmp, "instance") && strcmp(tmp, "storage")))
                return bad(r, &w, key, "must be \"instance\" or \"storage\"");
            s->kind = strcmp(tmp, "storage") == 0 ? BL_KIND_STORAGE : BL_KIND_INSTANCE;
            break;
        case F_TENANT:
            if (get_uuid(r, &w, key, s->tenant) < 0)
                return -1;
            break;
        case F_INSTANCE:
            if (get_uuid(r, &w, key, s->instance) < 0)
                return -1;
            break;
        case F_BOOT:
            if (get_uuid(r, &w, key, s->boot) < 0)
                return -1;
            break;
        case F_FLAVOR:
            if (!jr_peek_string(r) || jr_string(r, s->flavor, sizeof s->flavor, NULL) < 0 ||
                !bl_flavor_valid(s->flavor))
                return bad(r, &w, key, "must be 1 to %d characters of A-Z a-z 0-9 . _ -",
                           BL_FLAVOR_MAX);
            break;
        case F_STATE:
            if (!jr_peek_string(r) || jr_string(r, s->state, sizeof s->state, NULL) < 0 ||
                !bl_state_valid(s->state, &s->billable))
                return bad(r, &w, key,
                           "must be one of building, active, paused, stopped, "
                           "error, deleting");
            break;
        case F_SEQ:
            if (jr_int64(r, 0, INT64_MAX - 1, &s->seq) < 0)
                return bad(r, &w, key, "must be an integer from 0 to %lld",
                           (long long)(INT64_MAX - 1));
            break;
        case F_AT:
            if (!jr_peek_string(r) || jr_string(r, tmp, sizeof tmp, NULL) < 0 ||
                st_time_parse(tmp, &s->at_us) < 0 || s->at_us < MIN_AT_US || s->at_us >= MAX_AT_US)
                return bad(r, &w, key, "must be an RFC 3339 time between 2000 and 2200");
            break;
        case F_COUNTERS:
            if (parse_counters(r, idx, s, cboot, &has_cboot, b) < 0)
                return -1;
            break;
        case F_IMAGE_BYTES:
            if (get_count(r, &w, key, &s->storage_bytes) < 0)
                return -1;
            break;
        case F_DISK_BYTES:
            if (get_count(r, &w, key, &s->disk_bytes) < 0)
                return -1;
            break;
        }
    }
    if (rc < 0)
        return -1;
    unsigned need, forbid;
    if (s->kind == BL_KIND_INSTANCE) {
        need = 1u << F_TENANT | 1u << F_INSTANCE | 1u << F_FLAVOR | 1u << F_STATE | 1u << F_BOOT |
               1u << F_SEQ | 1u << F_AT | 1u << F_COUNTERS;
        forbid = 1u << F_IMAGE_BYTES; /* disk_bytes optional */
    } else {
        need = 1u << F_TENANT | 1u << F_AT | 1u << F_IMAGE_BYTES;
        forbid = 1u << F_INSTANCE | 1u << F_FLAVOR | 1u << F_STATE | 1u << F_BOOT | 1u << F_SEQ |
                 1u << F_COUNTERS | 1u << F_DISK_BYTES;
    }
    for (int k = 0; sample_keys[k]; k++) {
        if ((need & (1u << k)) && !(seen & (1u << k)))
            return bad(r, &w, sample_keys[k], "is required for a%s sample",
                       s->kind == BL_KIND_INSTANCE ? "n instance" : " storage");
        if ((forbid & (1u << k)) && (seen & (1u << k)))
            return bad(r, &w, sample_keys[k], "not allowed in a%s sample",
                       s->kind == BL_KIND_INSTANCE ? "n instance" : " storage");
    }
    if (has_cboot && strcmp(cboot, s->boot) != 0)
        return bad(r, &w, "counters.boot_id", "differs from the sample's boot_id");
    return 0;
}

static int push(bl_batch *b, bl_sample **s)
{
    if (b->n == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 64;
        bl_sample *ns = realloc(b->s, ncap * sizeof *ns);
        if (!ns)
            return -1;
        b->s = ns;
        b->cap = ncap;
    }
    *s = &b->s[b->n++];
    return 0;
}

static int walk(jr *r, bl_batch *b)
{
    enum { T_BATCH, T_SAMPLES };
    static const char *const keys[] = {"batch_id", "samples", NULL};
    unsigned seen = 0;
    int first = 1, rc;
    char key[40];
    if (!jr_peek_object(r))
        return bad(r, NULL, NULL, "a batch must be a JSON object");
    if (jr_obj_begin(r) < 0)
        return -1;
    while ((rc = jr_obj_next(r, &first, key, sizeof key)) > 0) {
        int k = index_of(keys, key);
        if (k < 0)
            return bad(r, NULL, NULL, "unknown field '%.32s'", key);
        if (seen_once(r, &seen, k, NULL, key) < 0)
            return -1;
        if (k == T_BATCH) {
            if (get_uuid(r, NULL, key, b->batch_id) < 0)
                return -1;
            continue;
        }
        if (!jr_peek_array(r))
            return bad(r, NULL, "samples", "must be an array");
        int sfirst = 1;
        if (jr_arr_begin(r) < 0)
            return -1;
        while ((rc = jr_arr_next(r, &sfirst)) > 0) {
            bl_sample *s;
            if (b->n == BL_MAX_SAMPLES)
                return bad(r, NULL, "samples", "more than %d in one batch", BL_MAX_SAMPLES);
            if (push(b, &s) < 0)
                return bad(r, NULL, NULL, "out of memory");
            if (parse_sample(r, b->n - 1, s, b) < 0)
                return -1;
        }
        if (rc < 0)
            return -1;
    }
    if (rc < 0)
        return -1;
    if (!(seen & (1u << T_BATCH)))
        return bad(r, NULL, "batch_id", "is required");
    if (!(seen & (1u << T_SAMPLES)))
        return bad(r, NULL, "samples", "is required");
    return jr_end(r);
}

int bl_batch_parse(const char *buf, size_t len, bl_batch *b, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    jr r;
    jr_init(&r, buf, len);
    if (walk(&r, b) == 0) {
        /* The pool no longer moves: point each sample at its ports. */
        for (size_t i = 0; i < b->n; i++) {
            bl_sample *s = &b->s[i];
            s->ports = s->nports ? &b->pp[s->port0] : NULL;
            if (s->kind != BL_KIND_INSTANCE)
                s->ports_known = 0;
        }
        return BL_OK;
    }
    /* Syntax (400) or content (422)? Ask a plain syntax pass. */
    jr s;
    jr_init(&s, buf, len);
    int syntax_ok = jr_skip(&s) == 0 && jr_end(&s) == 0;
    snprintf(err, errlen, "%s", syntax_ok ? r.err : s.err);
    bl_batch_free(b);
    return syntax_ok ? BL_EINVALID : BL_ESYNTAX;
}

void bl_batch_free(bl_batch *b)
{
    free(b->s);
    free(b->pp);
    b->s = NULL;
    b->pp = NULL;
    b->n = b->cap = b->npp = b->cappp = 0;
}
