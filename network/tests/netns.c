/* Network namespaces for the network_* tests: see netns.h. */
#include "netns.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "st_netns.h"
#include "st_test.h"

static char made[16][32];
static int n_made;

const char *nt_name(const char *tag)
{
    static char ring[32][32];
    static int next;
    char *b = ring[next++ % 32];
    snprintf(b, 32, "%s%d", tag, (int)getpid());
    return b;
}

int nt_add(const char *name)
{
    static int registered;
    if (!registered) {
        atexit(nt_cleanup);
        registered = 1;
    }
    if (nt_sh("ip netns add %s && ip -n %s link set lo up", name, name) != 0)
        return -1;
    if (n_made < 16)
        snprintf(made[n_made++], sizeof made[0], "%s", name);
    return 0;
}

void nt_cleanup(void)
{
    if (getenv("NETWORK_TEST_KEEP")) /* leave the world for a post-mortem */
        return;
    for (int i = 0; i < n_made; i++)
        nt_sh("ip netns pids %s 2>/dev/null | xargs -r kill -9 2>/dev/null; ip netns del %s "
              "2>/dev/null",
              made[i], made[i]);
    n_made = 0;
}

int nt_in(const char *name, int (*fn)(void *), void *arg)
{
    int self = st_netns_self();
    if (self < 0 || st_netns_enter(name) < 0) {
        if (self >= 0)
            close(self);
        return -1;
    }
    int rc = fn(arg);
    if (st_netns_return(self) < 0)
        abort(); /* a test left in the wrong namespace would judge the wrong host */
    close(self);
    return rc;
}

int nt_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *nt_out(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *f = popen(cmd, "r");
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (f && m) {
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
            fwrite(chunk, 1, n, m);
    }
    if (f)
        pclose(f);
    if (m)
        fclose(m);
    return buf ? buf : strdup("");
}

void nt_require(const char *const *tools)
{
    if (geteuid() != 0)
        st_skip("needs root for network namespaces");
    for (; *tools; tools++)
        if (nt_sh("command -v %s >/dev/null 2>&1", *tools) != 0)
            st_skip("%s is not installed", *tools);
}
