/* disk_util.c - see disk_util.h. */
#include "disk_util.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

uint64_t tu_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

void tu_fill(uint64_t *state, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n >= 8) {
        uint64_t v = tu_rand(state);
        memcpy(p, &v, 8);
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t v = tu_rand(state);
        memcpy(p, &v, n);
    }
}

int tu_write_random_file(const char *path, uint64_t size, uint64_t seed)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    uint8_t *buf = malloc(1 << 20);
    uint64_t st = seed;
    int rc = 0;
    for (uint64_t off = 0; off < size && rc == 0; off += 1 << 20) {
        size_t n = size - off < (1 << 20) ? (size_t)(size - off) : (1 << 20);
        tu_fill(&st, buf, n);
        if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n)
            rc = -1;
    }
    free(buf);
    close(fd);
    return rc;
}

int tu_qemu_check(const char *path, int leaks_ok, char *out, size_t outlen)
{
    int rc = st_run(out, outlen, "qemu-img check -f qcow2 '%s'", path);
    return rc == 0 || (leaks_ok && rc == 3);
}
