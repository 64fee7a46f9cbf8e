/*
 * lib.c - what a freestanding guest needs from a libc: memory and string
 * functions (gcc may emit calls to memset/memcpy/memcmp), number parsing,
 * the kernel command line as key=value pairs, a bump allocator over a static
 * heap, and FNV-1a.
 *
 * memset and memcpy use `rep stosq` / `rep movsq` for the bulk; kzero()
 * zeroes large ranges in ring 3, where the CPU runs natively.
 */
#include "guest.h"

/* This host's emulator runs a `rep` string instruction one iteration at a
 * time (~0.5 us each in ring 0), so the bulk goes eight bytes an iteration.
 * Large zeroing in ring 0 goes through kzero() (ring 3) instead. */
void *memset(void *d, int c, size_t n)
{
    void *r = d;
    size_t q = n / 8, t = n % 8;
    u64 v = 0x0101010101010101ull * (u8)c;
    __asm__ volatile("rep stosq" : "+D"(d), "+c"(q) : "a"(v) : "memory");
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(t) : "a"(v) : "memory");
    return r;
}

void *memcpy(void *d, const void *s, size_t n)
{
    void *r = d;
    size_t q = n / 8, t = n % 8;
    __asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(q)::"memory");
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(t)::"memory");
    return r;
}

struct zero_args {
    void *p;
    size_t n;
};

static u64 zero_ring3(u64 arg)
{
    struct zero_args *a = (void *)(uptr)arg;
    memset(a->p, 0, a->n); /* native speed in ring 3 */
    return 0;
}

void kzero(void *p, size_t n)
{
    if (n < 1024) {
        memset(p, 0, n);
        return;
    }
    struct zero_args a = {p, n};
    ring3_call(zero_ring3, (u64)(uptr)&a);
}

int memcmp(const void *a, const void *b, size_t n)
{
    const u8 *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i])
            return (u8)a[i] < (u8)b[i] ? -1 : 1;
        if (!a[i])
            return 0;
    }
    return 0;
}

int strcmp(const char *a, const char *b)
{
    return strncmp(a, b, (size_t)-1);
}

/* Decimal, or hexadecimal with 0x; the whole string must be a number. */
int parse_u64(const char *s, u64 *out)
{
    u64 v = 0;
    int base = 10, digits = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    for (; *s; s++, digits++) {
        int d;
        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = *s - 'A' + 10;
        else
            return -1;
        if (v > (~0ull - (u64)d) / (u64)base)
            return -1;
        v = v * (u64)base + (u64)d;
    }
    if (!digits)
        return -1;
    *out = v;
    return 0;
}

/* The command line, split in place: keys[i] "=" vals[i]; a bare word has "". */
#define MAX_ARGS 32
static char g_argbuf[1024];
static const char *g_keys[MAX_ARGS], *g_vals[MAX_ARGS];
static int g_nargs;

void args_parse(const char *cmdline)
{
    size_t n = 0;
    while (cmdline[n] && n < sizeof g_argbuf - 1) {
        g_argbuf[n] = cmdline[n];
        n++;
    }
    g_argbuf[n] = 0;
    char *p = g_argbuf;
    while (*p && g_nargs < MAX_ARGS) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            *p++ = 0;
        if (!*p)
            break;
        char *k = p, *v = "";
        while (*p && *p != ' ' && *p != '\t' && *p != '\n') {
            if (*p == '=' && !*v) {
                *p = 0;
                v = p + 1;
            }
            p++;
        }
        g_keys[g_nargs] = k;
        g_vals[g_nargs] = v;
        g_nargs++;
    }
}

const char *arg_str(const char *key)
{
    for (int i = g_nargs - 1; i >= 0; i--) /* the last one wins */
        if (strcmp(g_keys[i], key) == 0)
            return g_vals[i];
    return NULL;
}

u64 arg_u64(const char *key, u64 dflt)
{
    const char *s = arg_str(key);
    u64 v;
    if (!s || parse_u64(s, &v) < 0)
        return dflt;
    return v;
}

/* DMA-able memory: identity mapped, so addresses are physical. */
static u8 g_heap[2u << 20] __attribute__((aligned(4096)));
static size_t g_heap_used;

void *kalloc(size_t size, size_t align)
{
    size_t off = ALIGN_UP(g_heap_used, align ? align : 16);
    if (off + size > sizeof g_heap)
        guest_fail("out of heap (%lu bytes asked)", size);
    g_heap_used = off + size;
    kzero(g_heap + off, size);
    return g_heap + off;
}

u32 fnv1a32(u32 h, const void *p, size_t n)
{
    const u8 *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x01000193u;
    return h;
}
