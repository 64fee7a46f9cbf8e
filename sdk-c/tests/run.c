/* Running programs for the SDK tests (run.h). */
#include "run.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int sdk_run(const char *stdin_text, char **out, const char *fmt, ...)
{
    char cmd[8192], in[] = "/tmp/sdk-run-in-XXXXXX";
    int fd = mkstemp(in);
    if (fd < 0)
        return -1;
    if (stdin_text && write(fd, stdin_text, strlen(stdin_text)) < 0) {
        close(fd);
        return -1;
    }
    close(fd);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd - 64, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof cmd - 64)
        return -1;
    snprintf(cmd + n, sizeof cmd - (size_t)n, " < '%s'", in);
    fprintf(stderr, "$ %s\n", cmd);
    FILE *p = popen(cmd, "r");
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t k;
    while (p && buf && (k = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += k;
        if (cap - len < 2048)
            buf = realloc(buf, cap *= 2);
    }
    if (buf)
        buf[len] = 0;
    int st = p ? pclose(p) : -1;
    unlink(in);
    if (out)
        *out = buf;
    else
        free(buf);
    return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
