/*
 * aml.c - the AML encoder (see aml.h). Opcodes and descriptor layouts are
 * from ACPI 6.5: section 20.2 (AML grammar) and 6.4 (resource data types).
 */
#include "aml.h"

#include <string.h>

enum {
    ZERO_OP = 0x00,
    ONE_OP = 0x01,
    NAME_OP = 0x08,
    BYTE_PREFIX = 0x0a,
    WORD_PREFIX = 0x0b,
    DWORD_PREFIX = 0x0c,
    QWORD_PREFIX = 0x0e,
    SCOPE_OP = 0x10,
    BUFFER_OP = 0x11,
    PACKAGE_OP = 0x12,
    DUAL_NAME_PREFIX = 0x2e,
    MULTI_NAME_PREFIX = 0x2f,
    EXT_OP_PREFIX = 0x5b,
    DEVICE_OP = 0x82, /* after EXT_OP_PREFIX */
    ROOT_CHAR = 0x5c,
    STRING_PREFIX = 0x0d,
    METHOD_OP = 0x14,
    NOTIFY_OP = 0x86,
};

void aml_init(aml *b, uint8_t *buf, size_t cap)
{
    memset(b, 0, sizeof *b);
    b->p = buf;
    b->cap = cap;
}

static void emit(aml *b, const void *data, size_t n)
{
    if (b->err || n > b->cap - b->len) {
        b->err = 1;
        return;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void emit8(aml *b, uint8_t v)
{
    emit(b, &v, 1);
}

static void emit_le(aml *b, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        emit8(b, (uint8_t)(v >> (8 * i)));
}

void aml_name(aml *b, const char *path)
{
    if (*path == '\\') {
        emit8(b, ROOT_CHAR);
        path++;
    }
    size_t nseg = 1;
    for (const char *s = path; *s; s++)
        nseg += *s == '.';
    if (nseg == 2)
        emit8(b, DUAL_NAME_PREFIX);
    else if (nseg > 2) {
        emit8(b, MULTI_NAME_PREFIX);
        emit8(b, (uint8_t)nseg);
    }
    while (nseg--) {
        size_t n = strcspn(path, ".");
        char seg[4] = {'_', '_', '_', '_'}; /* short names are padded with '_' */
        if (n == 0 || n > 4)
            b->err = 1;
        else
            memcpy(seg, path, n);
        emit(b, seg, 4);
        path += n + (path[n] == '.');
    }
}

void aml_int(aml *b, uint64_t v)
{
    if (v == 0)
        emit8(b, ZERO_OP);
    else if (v == 1)
        emit8(b, ONE_OP);
    else if (v <= 0xff) {
        emit8(b, BYTE_PREFIX);
        emit_le(b, v, 1);
    } else if (v <= 0xffff) {
        emit8(b, WORD_PREFIX);
        emit_le(b, v, 2);
    } else if (v <= 0xffffffff) {
        emit8(b, DWORD_PREFIX);
        emit_le(b, v, 4);
    } else {
        emit8(b, QWORD_PREFIX);
        emit_le(b, v, 8);
    }
}

/* Three letters in 5 bits each, then four hex digits, stored big-endian. */
void aml_eisaid(aml *b, const char *id)
{
    uint32_t v = 0;
    if (strlen(id) != 7) {
        b->err = 1;
        return;
    }
    for (int i = 0; i < 3; i++)
        v = (v << 5) | (uint32_t)((id[i] - 0x40) & 0x1f);
    for (int i = 3; i < 7; i++) {
        char c = id[i];
        uint32_t d = c >= '0' && c <= '9' ? (uint32_t)(c - '0') : (uint32_t)((c | 0x20) - 'a' + 10);
        v = (v << 4) | (d & 0xf);
    }
    emit8(b, DWORD_PREFIX);
    emit_le(b, __builtin_bswap32(v), 4);
}

void aml_string(aml *b, const char *s)
{
    emit8(b, STRING_PREFIX);
    emit(b, s, strlen(s) + 1);
}

void aml_name_decl(aml *b, const char *path)
{
    emit8(b, NAME_OP);
    aml_name(b, path);
}

static void open_obj(aml *b)
{
    if (b->depth == AML_MAX_DEPTH)
        b->err = 1;
    if (b->err)
        return;
    b->open[b->depth++] = b->len;
}

void aml_scope(aml *b, const char *path)
{
    emit8(b, SCOPE_OP);
    open_obj(b);
    aml_name(b, path);
}

void aml_device(aml *b, const char *path)
{
    emit8(b, EXT_OP_PREFIX);
    emit8(b, DEVICE_OP);
    open_obj(b);
    aml_name(b, path);
}

void aml_package(aml *b, uint8_t nelem)
{
    emit8(b, PACKAGE_OP);
    open_obj(b);
    emit8(b, nelem);
}

void aml_method(aml *b, const char *path, uint8_t nargs)
{
    emit8(b, METHOD_OP);
    open_obj(b);
    aml_name(b, path);
    emit8(b, nargs & 7); /* MethodFlags: ArgCount, not serialized, SyncLevel 0 */
}

void aml_notify(aml *b, const char *path, uint8_t value)
{
    emit8(b, NOTIFY_OP);
    aml_name(b, path);
    aml_int(b, value);
}

void aml_buffer(aml *b)
{
    emit8(b, BUFFER_OP);
    open_obj(b);
}

/* Inserts pre[0..n) at offset at, moving what follows. */
static void insert(aml *b, size_t at, const uint8_t *pre, size_t n)
{
    if (b->err || n > b->cap - b->len) {
        b->err = 1;
        return;
    }
    memmove(b->p + at + n, b->p + at, b->len - at);
    memcpy(b->p + at, pre, n);
    b->len += n;
}

void aml_close(aml *b)
{
    if (b->err || b->depth == 0) {
        b->err = 1;
        return;
    }
    size_t start = b->open[--b->depth];
    uint8_t pre[16];
    size_t npre = 0;
    /* A buffer's contents start with its size (an integer), inside the PkgLength. */
    uint8_t sz[9];
    size_t nsz = 0;
    if (b->p[start - 1] == BUFFER_OP) {
        aml tmp;
        aml_init(&tmp, sz, sizeof sz);
        aml_int(&tmp, b->len - start);
        nsz = tmp.len;
    }
    /* PkgLength counts itself: 1 byte up to 63, else a lead byte holding the low
     * nibble and the count of further bytes, which hold the rest 8 bits at a time. */
    size_t body = b->len - start + nsz, total;
    int k = body + 1 < 64 ? 1 : body + 2 < (1u << 12) ? 2 : body + 3 < (1u << 20) ? 3 : 4;
    total = body + (size_t)k;
    if (k == 1)
        pre[npre++] = (uint8_t)total;
    else {
        pre[npre++] = (uint8_t)(((unsigned)(k - 1) << 6) | (total & 0xf));
        for (int i = 1; i < k; i++)
            pre[npre++] = (uint8_t)(total >> (4 + 8 * (i - 1)));
    }
    memcpy(pre + npre, sz, nsz);
    npre += nsz;
    insert(b, start, pre, npre);
}

void aml_res_io(aml *b, uint16_t base, uint8_t len)
{
    uint8_t d[8] = {
        0x47, 0x01, (uint8_t)base, (uint8_t)(base >> 8), (uint8_t)base, (uint8_t)(base >> 8),
        1,    len};
    emit(b, d, sizeof d);
}

void aml_res_irq(aml *b, uint8_t irq)
{
    uint16_t mask = (uint16_t)(1u << (irq & 15));
    uint8_t d[3] = {0x22, (uint8_t)mask, (uint8_t)(mask >> 8)};
    emit(b, d, sizeof d);
}

void aml_res_gsi_edge(aml *b, uint32_t gsi)
{
    emit8(b, 0x89); /* extended interrupt descriptor */
    emit_le(b, 6, 2);
    emit8(b, 0x03); /* consumer, edge, active high, exclusive */
    emit8(b, 1);    /* one interrupt */
    emit_le(b, gsi, 4);
}

/* Word address space descriptor: producer, positive decode, min and max fixed. */
static void word_space(aml *b, uint8_t type, uint8_t type_flags, uint16_t min, uint16_t max)
{
    emit8(b, 0x88);
    emit_le(b, 13, 2);
    emit8(b, type);
    emit8(b, 0x0c); /* _MAF | _MIF */
    emit8(b, type_flags);
    emit_le(b, 0, 2); /* granularity */
    emit_le(b, min, 2);
    emit_le(b, max, 2);
    emit_le(b, 0, 2); /* translation */
    emit_le(b, (uint32_t)max - min + 1, 2);
}

void aml_res_bus(aml *b, uint16_t first, uint16_t last)
{
    word_space(b, 2, 0, first, last);
}

void aml_res_io_window(aml *b, uint16_t min, uint16_t max)
{
    word_space(b, 1, 3, min, max); /* _RNG: ISA and non-ISA ranges */
}

void aml_res_mem32_window(aml *b, uint32_t min, uint32_t max)
{
    emit8(b, 0x87);
    emit_le(b, 23, 2);
    emit8(b, 0);    /* memory */
    emit8(b, 0x0c); /* producer, positive decode, _MAF | _MIF */
    emit8(b, 0x01); /* read-write, non-cacheable */
    emit_le(b, 0, 4);
    emit_le(b, min, 4);
    emit_le(b, max, 4);
    emit_le(b, 0, 4);
    emit_le(b, (uint64_t)max - min + 1, 4);
}

void aml_res_end(aml *b)
{
    uint8_t d[2] = {0x79, 0};
    emit(b, d, sizeof d);
}
