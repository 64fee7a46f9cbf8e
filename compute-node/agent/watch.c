/*
 * watch.c - noticing that a VMM exited, on the loop thread.
 *
 * Every running VMM, whether this agent started it (a child) or adopted it
 * from a previous agent (not a child), is watched through a pidfd polled by
 * uv_poll: it becomes readable when the process ends. For a child,
 * waitid(P_PIDFD) reaps it and gives the exit status; for an adopted VMM
 * waitid fails with ECHILD and the status comes from the VMM's own log
 * (drv_vmm.c). The exit itself is handled by reconcile.c (nd_inst_exited).
 */
#include "agent.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct watch_ctx {
    nd_agent *a;
    nd_inst *in;
    int fd;
} watch_ctx;

static void on_closed(uv_handle_t *h)
{
    watch_ctx *w = h->data;
    close(w->fd);
    free(w);
    free(h);
}

/* Stops polling and closes the pidfd (after the handle is closed). */
void nd_watch_stop(nd_inst *in)
{
    if (!in->watch)
        return;
    uv_poll_stop(in->watch);
    uv_close((uv_handle_t *)in->watch, on_closed);
    in->watch = NULL;
    in->pidfd = -1;
}

static void on_exit_ready(uv_poll_t *p, int status, int events)
{
    watch_ctx *w = p->data;
    nd_inst *in = w->in;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int known = 0, code = -1, sig = 0;
    int r = waitid(P_PIDFD, (id_t)w->fd, &si, WEXITED | WNOHANG);
    if (r == 0 && si.si_pid != 0) {
        known = 1;
        if (si.si_code == CLD_EXITED)
            code = si.si_status;
        else
            sig = si.si_status;
    } else if (r == 0) {
        return; /* our child, still running: spurious wake-up */
    }           /* else ECHILD: an adopted VMM; the pidfd is readable, so it ended */
    nd_watch_stop(in);
    nd_inst_exited(w->a, in, code, sig, known);
}

void nd_watch_start(nd_agent *a, nd_inst *in, int pidfd)
{
    nd_watch_stop(in);
    uv_poll_t *p = malloc(sizeof *p);
    watch_ctx *w = malloc(sizeof *w);
    if (!p || !w || uv_poll_init(a->loop, p, pidfd) != 0) {
        free(p);
        free(w);
        close(pidfd);
        return;
    }
    w->a = a;
    w->in = in;
    w->fd = pidfd;
    p->data = w;
    in->watch = p;
    in->pidfd = pidfd;
    uv_poll_start(p, UV_READABLE, on_exit_ready);
}
