/*
 * nodes.c - who may post samples to POST /v1/billing/ingest.
 *
 *   a compute node   its one credential, issued by the gateway
 *                    (common/nodeauth.h). Instance samples only, each for an
 *                    instance that was placed on that node at the sample's
 *                    time (within ingest.future_skew for clocks), as the
 *                    gateway records placement (iaas.placements). A batch
 *                    with one sample that was not is refused whole (403).
 *   the control plane  the internal token: storage gauges from the image
 *                    store, and replays by an operator. Never a node's.
 *
 * Billing keeps no node credentials of its own: the gateway issues,
 * rotates and revokes the node's single credential, and every check reads
 * the gateway's current facts, so a removed host is refused at once.
 * Idempotency keys (billing.batches.node) are per sender: the node's id,
 * or "control-plane".
 */
#include "billing.h"

#include "stratus/crypto.h"
#include "stratus/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bl_sender_auth(st_http_req *req, bl_ctx *ctx, st_db *db, bl_sender *who)
{
    memset(who, 0, sizeof *who);
    const char *auth = st_http_header(req, "Authorization");
    if (st_node_credential_in(auth)) {
        int rc = st_node_identify(db, auth, &who->node);
        if (rc == 0) {
            who->is_node = 1;
            snprintf(who->key, sizeof who->key, "%s", who->node.id);
            return 0;
        }
        if (rc == -2) {
            bl_reply_db(req, db, "node lookup");
            return -1;
        }
    } else if (auth && strncmp(auth, "Bearer ", 7) == 0 && *ctx->internal_token &&
               st_ct_streq(auth + 7, ctx->internal_token)) {
        if (!st_internal_from_ok(st_http_peer(req))) {
            st_http_reply_error(req, 403, ST_E_FORBIDDEN,
                                "the service token is accepted only from"
                                " the gateway (auth.gateway_from)");
            return -1;
        }
        snprintf(who->key, sizeof who->key, "control-plane");
        return 0;
    }
    st_http_add_header(req, "WWW-Authenticate", "Bearer");
    st_http_reply_error(req, 401, ST_E_UNAUTHORIZED, "a valid node credential is required");
    return -1;
}

int bl_sender_may_post(st_http_req *req, bl_ctx *ctx, st_db *db, const bl_sender *who,
                       const bl_batch *b)
{
    if (!who->is_node || b->n == 0)
        return 0;
    const char **inst = calloc(b->n, sizeof *inst), **ten = calloc(b->n, sizeof *ten);
    int64_t *at = calloc(b->n, sizeof *at);
    long bad = -2;
    size_t i = 0;
    if (inst && ten && at) {
        for (; i < b->n && b->s[i].kind == BL_KIND_INSTANCE; i++) {
            inst[i] = b->s[i].instance;
            ten[i] = b->s[i].tenant;
            at[i] = b->s[i].at_us;
        }
        bad = i < b->n ? -3
                       : st_node_first_unplaced(db, &who->node, b->n, inst, ten, at,
                                                ctx->future_skew_us);
    }
    free(inst);
    free(ten);
    free(at);
    if (bad == -1)
        return 0;
    if (bad == -2) {
        bl_reply_db(req, db, "placement check");
    } else if (bad == -3) {
        st_http_reply_error(req, 403, ST_E_FORBIDDEN,
                            "samples[%zu]: a node sends instance samples only", i);
    } else {
        st_warn("billing.unplaced", "node %s sent a sample for instance %s, not placed on it",
                who->node.name, b->s[bad].instance);
        st_http_reply_error(req, 403, ST_E_FORBIDDEN,
                            "samples[%ld]: instance %s was not placed on this node at its"
                            " sampled_at",
                            bad, b->s[bad].instance);
    }
    return -1;
}
