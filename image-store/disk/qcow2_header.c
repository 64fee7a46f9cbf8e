/*
 * qcow2_header.c - parsing and validating a qcow2 header from untrusted bytes.
 *
 * The input is the first len bytes of a file of file_size bytes, from anyone:
 * a tenant's upload, a fuzzer. Every field is read through bounds-checked
 * helpers, every size is checked before it is multiplied, and every table the
 * header points at must lie inside the file, be cluster-aligned and not
 * overlap the header cluster or another table. The result is a qcow2_hdr the
 * driver can trust as far as the header goes (the L2 tables are checked as
 * they are read, in qcow2.c).
 *
 * What is refused, always: a bad magic, versions other than 2 and 3,
 * cluster sizes outside 512 B .. 2 MiB, encryption (AES or LUKS), external
 * data files, extended L2 entries (subclusters), non-zlib compression,
 * unknown incompatible feature bits, a refcount width over 64 bits, an L1
 * table too small for the virtual size, tables larger than qemu's limits
 * (32 MiB of L1, 8 MiB of refcount table), a backing file name that is not
 * inside the first cluster, longer than 1023 bytes or holds a NUL, and
 * malformed header extensions (running past the cluster, duplicated).
 * By policy: uploads refuse backing files and dirty/corrupt images; writers
 * refuse dirty/corrupt images and internal snapshots (whose shared clusters
 * this library does not copy on write).
 */
#include "qcow2.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) << 32 | rd32(p + 4);
}

#define BAD(...) st__err(err, errlen, -EINVAL, __VA_ARGS__)

/* 1 when [off, off+len) lies inside a file of file_size bytes. */
static int inside(uint64_t off, uint64_t len, uint64_t file_size)
{
    return off <= file_size && len <= file_size - off;
}

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

static const char *feature_name(int bit)
{
    switch (bit) {
    case 0: return "dirty";
    case 1: return "corrupt";
    case 2: return "external data file";
    case 3: return "compression type";
    case 4: return "extended L2 entries";
    default: return "unknown";
    }
}

static int parse_extensions(const uint8_t *buf, size_t limit, qcow2_hdr *h, char *err,
                            size_t errlen)
{
    size_t pos = h->header_len;
    int seen_fmt = 0, seen_features = 0, seen_bitmaps = 0;
    for (int count = 0;; count++) {
        if (pos + 8 > limit) {
            /* qemu stops at the cluster end without an end marker too. */
            if (pos >= limit)
                return 0;
            return BAD("qcow2 header extension at byte %zu runs past the header cluster", pos);
        }
        if (count > 1024)
            return BAD("too many qcow2 header extensions");
        uint32_t type = rd32(buf + pos), len = rd32(buf + pos + 4);
        if (type == QCOW2_EXT_END)
            return 0;
        if (len > limit - pos - 8)
            return BAD("qcow2 header extension 0x%08x (%u bytes) runs past the header cluster",
                       type, len);
        const uint8_t *data = buf + pos + 8;
        switch (type) {
        case QCOW2_EXT_BACKING_FMT:
            if (seen_fmt++)
                return BAD("duplicate backing format header extension");
            if (len == 0 || len >= sizeof h->backing_fmt)
                return BAD("backing format name of %u bytes is not supported", len);
            memcpy(h->backing_fmt, data, len);
            h->backing_fmt[len] = 0;
            if (strcmp(h->backing_fmt, "raw") != 0 && strcmp(h->backing_fmt, "qcow2") != 0)
                return BAD("backing format '%s' is not supported (raw or qcow2 only)",
                           strlen(h->backing_fmt) == len ? h->backing_fmt : "(binary)");
            break;
        case QCOW2_EXT_FEATURES:
            if (seen_features++)
                return BAD("duplicate feature name table");
            break;
        case QCOW2_EXT_BITMAPS:
            if (seen_bitmaps++)
                return BAD("duplicate bitmaps header extension");
            break;
        case QCOW2_EXT_CRYPTO: return BAD("encrypted qcow2 images are not supported");
        case QCOW2_EXT_DATA_FILE:
            return BAD("qcow2 images with an external data file are not supported");
        default: break; /* unknown extensions may be ignored */
        }
        pos += 8 + (((size_t)len + 7) & ~(size_t)7);
    }
}

int qcow2_parse_header(const uint8_t *buf, size_t len, uint64_t file_size, int policy, qcow2_hdr *h,
                       char *err, size_t errlen)
{
    memset(h, 0, sizeof *h);
    if (len < 72 || file_size < 72)
        return BAD("file too short for a qcow2 header (%llu bytes)",
                   (unsigned long long)(len < file_size ? len : file_size));
    if (rd32(buf) != QCOW2_MAGIC)
        return BAD("not a qcow2 image (bad magic)");
    h->version = rd32(buf + 4);
    if (h->version != 2 && h->version != 3)
        return BAD("qcow2 version %u is not supported (2 or 3)", h->version);
    h->backing_off = rd64(buf + 8);
    h->backing_len = rd32(buf + 16);
    h->cluster_bits = rd32(buf + 20);
    h->size = rd64(buf + 24);
    h->crypt_method = rd32(buf + 32);
    h->l1_size = rd32(buf + 36);
    h->l1_off = rd64(buf + 40);
    h->rt_off = rd64(buf + 48);
    h->rt_clusters = rd32(buf + 56);
    h->nb_snapshots = rd32(buf + 60);
    h->snap_off = rd64(buf + 64);
    if (h->version == 2) {
        h->refcount_order = 4;
        h->header_len = 72;
    } else {
        if (len < 104 || file_size < 104)
            return BAD("file too short for a qcow2 version 3 header");
        h->incompat = rd64(buf + 72);
        h->compat = rd64(buf + 80);
        h->autoclear = rd64(buf + 88);
        h->refcount_order = rd32(buf + 96);
        h->header_len = rd32(buf + 100);
    }

    if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS || h->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
        return BAD("cluster size 2^%u is not supported (512 bytes to 2 MiB)", h->cluster_bits);
    uint64_t cs = 1ull << h->cluster_bits;
    if (h->version == 3) {
        if (h->header_len < 104 || h->header_len % 8 || h->header_len > cs)
            return BAD("qcow2 header length %u is invalid", h->header_len);
        if (h->header_len > len)
            return BAD("qcow2 header (%u bytes) is longer than the data given", h->header_len);
        if (h->header_len > 104 && buf[104] != 0 && !(h->incompat & QCOW2_INCOMPAT_COMPRESSION))
            return BAD("qcow2 compression type set without its feature bit");
    }
    if (h->crypt_method != 0)
        return BAD("encrypted qcow2 images are not supported (crypt method %u)", h->crypt_method);
    for (int bit = 0; bit < 64; bit++) {
        uint64_t m = 1ull << bit;
        if (!(h->incompat & m))
            continue;
        if (m == QCOW2_INCOMPAT_DIRTY || m == QCOW2_INCOMPAT_CORRUPT)
            continue; /* policy below */
        return BAD("qcow2 incompatible feature bit %d (%s) is not supported", bit,
                   feature_name(bit));
    }
    if ((h->incompat & QCOW2_INCOMPAT_CORRUPT) &&
        (policy & (QCOW2_PARSE_UPLOAD | QCOW2_PARSE_WRITE)))
        return BAD("the image is marked corrupt; repair it with qemu-img check -r all");
    if ((h->incompat & QCOW2_INCOMPAT_DIRTY) && (policy & (QCOW2_PARSE_UPLOAD | QCOW2_PARSE_WRITE)))
        return BAD(
            "the image is marked dirty (lazy refcounts); repair it with qemu-img check -r all");
    if (h->refcount_order > 6)
        return BAD("refcount width 2^%u bits is invalid (at most 64)", h->refcount_order);
    if (h->size > QCOW2_MAX_SIZE)
        return BAD("virtual size %llu is too large", (unsigned long long)h->size);

    /* L1: big enough for the virtual size, within limits and the file. */
    uint64_t l2_entries = cs / 8;
    uint64_t clusters = (h->size + cs - 1) >> h->cluster_bits;
    uint64_t l1_needed = (clusters + l2_entries - 1) / l2_entries;
    if ((uint64_t)h->l1_size < l1_needed)
        return BAD("L1 table of %u entries is too small for a virtual size of %llu bytes",
                   h->l1_size, (unsigned long long)h->size);
    if ((uint64_t)h->l1_size * 8 > QCOW2_MAX_L1_BYTES)
        return BAD("L1 table of %u entries is too large", h->l1_size);
    uint64_t l1_bytes = (uint64_t)h->l1_size * 8;
    if (l1_bytes) {
        if (h->l1_off == 0 || h->l1_off & (cs - 1))
            return BAD("L1 table offset %llu is invalid (zero or not cluster-aligned)",
                       (unsigned long long)h->l1_off);
        if (!inside(h->l1_off, l1_bytes, file_size))
            return BAD("L1 table (%llu bytes at %llu) is outside the file (%llu bytes)",
                       (unsigned long long)l1_bytes, (unsigned long long)h->l1_off,
                       (unsigned long long)file_size);
    }

    /* Refcount table. */
    uint64_t rt_bytes = (uint64_t)h->rt_clusters << h->cluster_bits;
    if (h->rt_clusters == 0 || rt_bytes > QCOW2_MAX_RT_BYTES)
        return BAD("refcount table of %u clusters is invalid", h->rt_clusters);
    if (h->rt_off == 0 || h->rt_off & (cs - 1))
        return BAD("refcount table offset %llu is invalid (zero or not cluster-aligned)",
                   (unsigned long long)h->rt_off);
    if (!inside(h->rt_off, rt_bytes, file_size))
        return BAD("refcount table (%llu bytes at %llu) is outside the file (%llu bytes)",
                   (unsigned long long)rt_bytes, (unsigned long long)h->rt_off,
                   (unsigned long long)file_size);
    if (overlaps(h->l1_off, l1_bytes, h->rt_off, rt_bytes))
        return BAD("the L1 table and the refcount table overlap");

    /* Snapshots: only their table's position is checked here. */
    if (h->nb_snapshots > QCOW2_MAX_SNAPSHOTS)
        return BAD("%u internal snapshots is too many", h->nb_snapshots);
    if (h->nb_snapshots) {
        if (h->snap_off == 0 || h->snap_off & (cs - 1) || h->snap_off >= file_size)
            return BAD("snapshot table offset %llu is invalid", (unsigned long long)h->snap_off);
        if (policy & QCOW2_PARSE_WRITE)
            return BAD("images with internal snapshots can only be opened read only");
    }

    /* Header extensions and the backing file name live in the first cluster. */
    size_t limit = len < cs ? len : (size_t)cs;
    int rc = parse_extensions(buf, limit, h, err, errlen);
    if (rc < 0)
        return rc;
    if (h->backing_off) {
        if (policy & QCOW2_PARSE_UPLOAD)
            return BAD("the image names a backing file; upload a standalone image "
                       "(qemu-img convert -O qcow2 flattens it)");
        if (h->backing_len == 0 || h->backing_len > 1023)
            return BAD("backing file name of %u bytes is invalid (1 to 1023)", h->backing_len);
        if (h->backing_off < h->header_len || h->backing_off > cs ||
            h->backing_len > cs - h->backing_off)
            return BAD("backing file name (at %llu) is outside the header cluster",
                       (unsigned long long)h->backing_off);
        if (h->backing_off + h->backing_len > len)
            return BAD("backing file name lies past the data given");
        memcpy(h->backing_file, buf + h->backing_off, h->backing_len);
        h->backing_file[h->backing_len] = 0;
        if (strlen(h->backing_file) != h->backing_len)
            return BAD("backing file name holds a NUL byte");
    } else if (h->backing_fmt[0]) {
        h->backing_fmt[0] = 0; /* a format without a file means nothing */
    }
    if (l1_bytes && h->l1_off < cs)
        return BAD("the L1 table overlaps the header cluster");
    if (h->rt_off < cs)
        return BAD("the refcount table overlaps the header cluster");
    return 0;
}

int st_qcow2_validate_header(const void *buf, size_t len, uint64_t file_size, char *err,
                             size_t errlen)
{
    qcow2_hdr h;
    if (!buf)
        return BAD("no data");
    return qcow2_parse_header(buf, len, file_size, QCOW2_PARSE_UPLOAD, &h, err, errlen);
}
