/* Named network namespaces for tests and benchmarks (see st_netns.h). */
#include "st_netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

int st_netns_enter(const char *name)
{
    char p[300];
    snprintf(p, sizeof p, "/run/netns/%s", name);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = setns(fd, CLONE_NEWNET);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int st_netns_self(void)
{
    return open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
}

int st_netns_return(int fd)
{
    return setns(fd, CLONE_NEWNET);
}
