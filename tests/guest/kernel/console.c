/*
 * console.c - COM1 output, a small printf, and the guest's way out.
 *
 * The UART is polled (LSR bit 5 before each byte; bit 0 for a byte in), every
 * line ends in "\n",
 * and a line is written under a spinlock so application processors never
 * interleave with the BSP. guest_pass()/guest_fail() print the run's single
 * RESULT line and write the exit value (0x10 / 0x11) to the debug-exit port
 * 0xf4; should that port be absent they try an i8042 reset, then halt.
 */
#include <stdarg.h>

#include "guest.h"

#define COM1 0x3f8
#define LSR_DR 0x01
#define LSR_THRE 0x20

const char *g_scenario = "none";
static volatile u32 g_lock;
static volatile u32 g_result_printed;

void serial_init(void)
{
    outb(COM1 + 1, 0x00); /* no UART interrupts */
    outb(COM1 + 3, 0x03); /* 8N1 */
}

/* A UART that never reports THRE costs at most ~10000 exits once, then the
 * guest stops waiting (and still writes, for VMMs that ignore LSR). */
static void serial_putc(char c)
{
    static int lsr_dead;
    u32 i = 0;
    while (!lsr_dead && !(inb(COM1 + 5) & LSR_THRE))
        if (++i == 10000)
            lsr_dead = 1;
    outb(COM1, (u8)c);
}

int serial_getc(void)
{
    return inb(COM1 + 5) & LSR_DR ? inb(COM1) : -1;
}

static void lock(void)
{
    u32 one = 1;
    for (;;) {
        u32 v = one;
        __asm__ volatile("xchgl %0, %1" : "+r"(v), "+m"(g_lock)::"memory");
        if (!v)
            return;
        while (g_lock)
            cpu_relax();
    }
}

static void unlock(void)
{
    barrier();
    g_lock = 0;
}

struct buf {
    char *p;
    size_t n, cap;
};

static void put(struct buf *b, char c)
{
    if (b->n + 1 < b->cap)
        b->p[b->n++] = c;
}

static void put_num(struct buf *b, u64 v, unsigned base, int width, char pad, int neg, int upper)
{
    char tmp[24];
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    int n = 0;
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    if (neg)
        tmp[n++] = '-';
    for (int i = n; i < width; i++)
        put(b, pad);
    while (n)
        put(b, tmp[--n]);
}

/* %[0][width][l|ll]{d,u,x,X,s,c,p,%} and %# for a 0x prefix. */
static void vformat(struct buf *b, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(b, *fmt);
            continue;
        }
        fmt++;
        int alt = 0, width = 0, lng = 0;
        char pad = ' ';
        if (*fmt == '#') {
            alt = 1;
            fmt++;
        }
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') {
            lng++;
            fmt++;
        }
        switch (*fmt) {
        case 'd': {
            s64 v = lng ? va_arg(ap, s64) : va_arg(ap, int);
            put_num(b, v < 0 ? (u64)-v : (u64)v, 10, width, pad, v < 0, 0);
            break;
        }
        case 'u':
            put_num(b, lng ? va_arg(ap, u64) : va_arg(ap, unsigned), 10, width, pad, 0, 0);
            break;
        case 'x':
        case 'X':
            if (alt) {
                put(b, '0');
                put(b, 'x');
            }
            put_num(b, lng ? va_arg(ap, u64) : va_arg(ap, unsigned), 16, width, pad, 0,
                    *fmt == 'X');
            break;
        case 'p':
            put(b, '0');
            put(b, 'x');
            put_num(b, (u64)(uptr)va_arg(ap, void *), 16, width, pad, 0, 0);
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            size_t len = strlen(s);
            for (size_t i = len; i < (size_t)width; i++)
                put(b, ' ');
            while (*s)
                put(b, *s++);
            break;
        }
        case 'c': put(b, (char)va_arg(ap, int)); break;
        case '%': put(b, '%'); break;
        default: return;
        }
    }
}

static void emit(const char *prefix, const char *fmt, va_list ap)
{
    char line[512];
    struct buf b = {line, 0, sizeof line - 1};
    while (*prefix)
        put(&b, *prefix++);
    vformat(&b, fmt, ap);
    lock();
    for (size_t i = 0; i < b.n; i++)
        serial_putc(line[i]);
    unlock();
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("", fmt, ap);
    va_end(ap);
}

void data(const char *fmt, ...)
{
    va_list ap;
    char f2[256];
    size_t n = strlen(fmt);
    if (n > sizeof f2 - 2)
        n = sizeof f2 - 2;
    memcpy(f2, fmt, n);
    f2[n] = '\n';
    f2[n + 1] = 0;
    va_start(ap, fmt);
    emit("DATA ", f2, ap);
    va_end(ap);
}

void guest_exit(u32 value)
{
    irq_disable();
    outl(0xf4, value);
    outb(0x64, 0xfe); /* no debug-exit device: i8042 reset */
    for (;;)
        __asm__ volatile("hlt");
}

static int claim_result(void)
{
    u32 v = 1;
    __asm__ volatile("xchgl %0, %1" : "+r"(v), "+m"(g_result_printed)::"memory");
    return v == 0;
}

void guest_pass(void)
{
    if (claim_result())
        kprintf("RESULT %s PASS\n", g_scenario);
    guest_exit(GUEST_EXIT_PASS);
}

void guest_pass_then(void (*fn)(void))
{
    if (claim_result())
        kprintf("RESULT %s PASS\n", g_scenario);
    fn();
    guest_exit(GUEST_EXIT_FAIL);
}

void guest_fail(const char *fmt, ...)
{
    if (claim_result()) {
        char reason[256];
        struct buf b = {reason, 0, sizeof reason - 1};
        va_list ap;
        va_start(ap, fmt);
        vformat(&b, fmt, ap);
        va_end(ap);
        reason[b.n] = 0;
        for (size_t i = 0; i < b.n; i++) /* one line, whatever the reason says */
            if (reason[i] == '\n' || reason[i] == '\r')
                reason[i] = ' ';
        kprintf("RESULT %s FAIL %s\n", g_scenario, reason);
    }
    guest_exit(GUEST_EXIT_FAIL);
}
