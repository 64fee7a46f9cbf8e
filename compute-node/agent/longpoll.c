/*
 * longpoll.c - the desired set's long-poll: orders reach the node as soon
 * as they are committed, not at the next poll.
 *
 * Beside the periodic fetch (reconcile.c, every interval.reconcile_ms), one
 * request is kept out: GET /internal/v1/node/instances?wait=<longpoll_s>
 * with If-None-Match naming the set last fetched whole. The gateway holds
 * it until an order for this node changes the set (200) or the wait ends
 * (304), as Consul's blocking queries do. A 200's set is applied at once,
 * as a fetched one is (reconcile.c), unless the set held is as new or newer:
 * the node's version is in the tag, so a fetch and the long-poll answering
 * out of order never put an older set over a newer one. A set that does not
 * parse kicks a fetch instead. The next long-poll starts on the new tag (or
 * when that fetch ends).
 *
 * Polling is the fallback: while a long-poll is out and the last one
 * held, the set is fetched only every interval.resync_ms (reconcile.c),
 * since any change answers the long-poll at once; otherwise every
 * interval.reconcile_ms, as without a long-poll. A long-poll that fails
 * (gateway down or restarting, an error), or a 304 that comes back well
 * before the wait (a gateway that does not hold: an older one, or one
 * that cannot LISTEN), is not retried for one wait; the periodic fetch
 * carries on meanwhile.
 *
 * The call blocks one thread-pool thread for the wait (libcurl, httpc.h);
 * on stop it ends within about a second (lp_abort).
 */
#include "agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stratus/log.h"

typedef struct lp_job {
    uv_work_t w;
    nd_agent *a;
    int wait_s;
    long status;
    long long ms;       /* how long the gateway took */
    nd_desired_set set; /* the new set, with a 200 */
    int parsed;
    char etag[128], etag_out[128];
    char err[512];
} lp_job;

static void lp_run(uv_work_t *w)
{
    lp_job *j = w->data;
    long long t0 = nd_now_ms();
    char *body = NULL;
    size_t len = 0;
    j->status = nd_gw_desired_wait(&j->a->c, j->etag, j->wait_s, &j->a->lp_abort, j->etag_out,
                                   &body, &len, j->err, sizeof j->err);
    j->ms = nd_now_ms() - t0;
    if (j->status == 200)
        j->parsed = nd_desired_parse(body, len, &j->set, j->err, sizeof j->err) == 0;
    free(body);
}

static void lp_done(uv_work_t *w, int status)
{
    (void)status;
    lp_job *j = w->data;
    nd_agent *a = j->a;
    a->lp_busy = 0;
    if (a->stopping) {
        nd_desired_free(&j->set);
        free(j);
        return;
    }
    /* held: answered by a change, or after (most of) the wait */
    int held = j->status == 200 || (j->status == 304 && j->ms * 2 >= j->wait_s * 1000LL);
    nd_metric_inc("longpolls", j->status == 200   ? "changed"
                               : held             ? "unchanged"
                               : j->status == 304 ? "not_held"
                                                  : "failed");
    if (held) {
        nd_status_fetch_ok(); /* the gateway answered */
    } else {
        a->lp_retry_ms = nd_now_ms() + j->wait_s * 1000LL;
        if (j->status == 304)
            st_info("node.longpoll",
                    "the gateway did not hold the desired set's long-poll:"
                    " polling only for %d s",
                    j->wait_s);
        else
            st_warn("node.longpoll", "%s: polling only for %d s",
                    j->err[0] ? j->err : "desired set long-poll failed", j->wait_s);
    }
    int changed = j->status == 200, applied = 0;
    if (changed && j->parsed) {
        st_debug("node.longpoll", "desired set changed (%s)", j->etag_out);
        applied = nd_reconcile_apply(a, &j->set, j->etag_out);
    }
    nd_desired_free(&j->set);
    free(j);
    if (changed && !applied)
        nd_reconcile_kick(a); /* its end starts the next long-poll */
    else if (held)
        nd_longpoll_kick(a);
}

int nd_longpoll_holding(const nd_agent *a)
{
    return a->lp_busy && nd_now_ms() >= a->lp_retry_ms;
}

void nd_longpoll_kick(nd_agent *a)
{
    if (a->c.longpoll_s <= 0 || a->lp_busy || a->stopping || !a->desired_etag[0] ||
        nd_now_ms() < a->lp_retry_ms)
        return;
    lp_job *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->w.data = j;
    j->a = a;
    j->wait_s = (int)a->c.longpoll_s;
    snprintf(j->etag, sizeof j->etag, "%s", a->desired_etag);
    a->lp_busy = 1;
    if (uv_queue_work(a->loop, &j->w, lp_run, lp_done) != 0) {
        a->lp_busy = 0;
        free(j);
    }
}
