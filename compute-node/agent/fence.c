/*
 * fence.c - the node's half of evacuation: a lease on the gateway.
 *
 * A cloud admin may evacuate the instances of a host the gateway has not
 * heard from (api-gateway/evacuate.c): they are rebuilt elsewhere. A host
 * that was only cut off from the gateway would then run the same instance
 * a second time. So the agent holds a lease: the monotonic time at which
 * it sent the last heartbeat the gateway accepted (taken before the send:
 * the gateway's last_heartbeat is no earlier). When the lease is
 * fence.timeout old, the agent fences itself: every guest is force-stopped
 * at once (no power button, no grace) and none starts - no launch, no
 * start, no reboot - while fenced. The gateway evacuates only after
 * nodes.down_after + evacuate.fence_margin of silence, which the operator
 * keeps above fence.timeout plus a force stop, so the old guests are gone
 * by then.
 *
 * The fence is lifted by a heartbeat the gateway accepts and then a
 * desired set fetched after it: only a set read after the gateway knew the
 * node was back says which instances are still this node's (an evacuated
 * one is gone from it, and under `evacuated`, whose leftovers reconcile.c
 * removes). The guests the fence stopped that are still desired running
 * here are started again. Every heartbeat after a fence carries its time
 * (`fenced_at`), which the gateway keeps on the node.
 *
 * Not covered: while the agent itself is not running its VMMs run on
 * unfenced; a restarted agent starts with a fresh lease.
 */
#include "agent.h"
#include "stratus/log.h"
#include "stratus/timefmt.h"

#include <jansson.h>
#include <stdio.h>

int nd_fence_due(long long lease_ms, long long now_ms, long long timeout_ms)
{
    return timeout_ms > 0 && now_ms - lease_ms >= timeout_ms;
}

int nd_fence_lift_ok(int fenced, long long renewed_ms, long long fetch_started_ms)
{
    return fenced && renewed_ms > 0 && fetch_started_ms >= renewed_ms;
}

void nd_fence_renewed(nd_agent *a, long long sent_ms)
{
    if (sent_ms > a->lease_ms)
        a->lease_ms = sent_ms;
    if (a->fenced && !a->fence_renewed_ms) {
        /* lifted once a desired set fetched from now on arrives */
        a->fence_renewed_ms = nd_now_ms();
        st_info("node.fence", "the gateway took a heartbeat again: fetching the desired set");
        nd_reconcile_kick(a);
    }
}

/* After a fetch that began at started_ms was answered: 1 when that lifted
 * the fence (the set it brought is the one to apply). */
int nd_fence_fetched(nd_agent *a, long long started_ms)
{
    if (!nd_fence_lift_ok(a->fenced, a->fence_renewed_ms, started_ms))
        return 0;
    a->fenced = 0;
    a->fence_renewed_ms = 0;
    st_log_fields(ST_LOG_WARN, "node.fence_lifted", json_pack("{s:s}", "fenced_at", a->fenced_at));
    return 1;
}

static void on_fence_timer(uv_timer_t *t)
{
    nd_agent *a = t->data;
    long long now = nd_now_ms();
    if (a->stopping)
        return;
    if (a->fenced) { /* a VM a job held when the fence fell is stopped once free */
        nd_reconcile_fence(a);
        return;
    }
    if (!nd_fence_due(a->lease_ms, now, a->c.fence_timeout_ms))
        return;
    a->fenced = 1;
    a->fence_renewed_ms = 0;
    st_time_format(st_now_us(), a->fenced_at);
    int n = nd_reconcile_fence(a);
    nd_metric_inc("fences", "fired");
    st_log_fields(ST_LOG_ERROR, "node.fence",
                  json_pack("{s:s, s:I, s:I, s:i}", "fenced_at", a->fenced_at, "lease_age_ms",
                            (json_int_t)(now - a->lease_ms), "fence_timeout_ms",
                            (json_int_t)a->c.fence_timeout_ms, "stopping", n));
}

void nd_fence_start(nd_agent *a)
{
    a->lease_ms = nd_now_ms();
    long long every = a->c.fence_timeout_ms / 10;
    every = every < 100 ? 100 : every > 1000 ? 1000 : every;
    uv_timer_init(a->loop, &a->t_fence);
    a->t_fence.data = a;
    if (a->c.fence_timeout_ms > 0)
        uv_timer_start(&a->t_fence, on_fence_timer, (uint64_t)every, (uint64_t)every);
}
