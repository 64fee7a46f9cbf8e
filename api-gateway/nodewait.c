/*
 * nodewait.c - long-polls on a node's desired set.
 *
 * GET /internal/v1/node/instances?wait=N with If-None-Match naming the set
 * the node already has (its ETag, from the node's version, migration 0010)
 * is held until that version changes, or for N seconds, like Consul's
 * blocking queries (?index=&wait=). nodes.c decides whether to hold; this
 * file keeps the held requests.
 *
 * Nothing blocks while a request waits. Each worker thread has one
 * listener: a libpq connection of its own (outside the pool) that has run
 * LISTEN stratus_node_desired, its socket watched on the worker's libevent
 * loop. Migration 0023 notifies that channel, payload the node's id,
 * whenever a node's version is raised (at commit). A held request is a small
 * struct on its thread's list with a timer; it holds no pooled connection
 * and no thread. A notification for a node re-reads that node's version
 * (one pooled connection, borrowed for the moment) and answers all its
 * waiters on the thread with one rendering of the new set; waiters for
 * other nodes are not touched. A timer that
 * fires answers 304 with the unchanged tag, without the database.
 *
 * The listener is connected on the thread's first long-poll; the version is
 * then read again after it listens, so a change committed between the
 * request's authentication and the LISTEN is not missed. A listener that
 * loses its connection answers all its waiters at once (200 if the set
 * changed, else 304) and is connected again by the next long-poll: the agent
 * reads the early 304 as "not held" and polls until its next try.
 */
#include "gateway.h"
#include "stratus/log.h"
#include "stratus/metrics.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct listener listener;

typedef struct waiter {
    gw *g;
    st_http_req *req;
    listener *l;
    char node_id[40];
    long long version;
    struct event *timer;
    struct waiter *prev, *next;
} waiter;

struct listener {
    PGconn *conn;
    struct event *ev;
    waiter *waiters;
};

static __thread listener *tl;
static pthread_key_t tl_key;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;

static st_metric *m_waiting(void)
{
    return st_gauge("stratus_gateway_node_waits",
                    "Node desired-set long-polls held now (GET /internal/v1/node/instances?wait).",
                    NULL);
}

static void waiter_unlink(waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else if (w->l && w->l->waiters == w)
        w->l->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->l = NULL;
}

static void waiter_free(waiter *w)
{
    waiter_unlink(w);
    event_free(w->timer);
    st_metric_add(m_waiting(), -1);
    free(w);
}

static void listener_close(listener *l)
{
    if (l->ev)
        event_free(l->ev);
    PQfinish(l->conn);
    l->ev = NULL;
    l->conn = NULL;
}

/* Thread exit: the held requests were dropped first (http.c). */
static void tl_destroy(void *arg)
{
    listener *l = arg;
    while (l->waiters)
        waiter_free(l->waiters);
    listener_close(l);
    free(l);
}

static void tl_init(void)
{
    pthread_key_create(&tl_key, tl_destroy);
}

static void reply_unchanged(waiter *w)
{
    char etag[80];
    gw_node_etag(etag, w->node_id, w->version);
    st_http_add_header(w->req, "ETag", etag);
    st_http_reply_raw(w->req, 304, NULL, "", 0);
}

/*
 * Reads node's version once and answers every waiter of that node (on l)
 * whose version it is not, all with one rendering of the set; with final,
 * answers the others too (304). Waiters of other nodes are not touched.
 */
static void wake_node(listener *l, gw *g, const char *node, int final)
{
    waiter *w = l->waiters;
    while (w && strcmp(w->node_id, node) != 0)
        w = w->next;
    if (!w)
        return;
    char id[40];
    snprintf(id, sizeof id, "%s", node); /* node may be a waiter's own */
    st_db *db = st_db_get(g->db, 5000);
    if (!db)
        st_error("db.unavailable", "%s", st_db_pool_error(g->db));
    long long v = db ? gw_node_version(db, id) : -1;
    PGresult *set = NULL;
    int failed = v < 0;
    for (waiter *next; w; w = next) {
        next = w->next;
        if (strcmp(w->node_id, id) != 0 || (!failed && v == w->version && !final))
            continue;
        gw_ctx c = {.gw = g, .req = w->req, .db = db};
        snprintf(c.p.node_id, sizeof c.p.node_id, "%s", id);
        if (!db) {
            st_http_add_header(w->req, "Retry-After", "1");
            st_http_reply_error(w->req, 503, ST_E_UNAVAILABLE,
                                "the database is unavailable; retry shortly");
        } else if (failed) {
            gw_fail_db(&c);
        } else if (v == w->version) {
            reply_unchanged(w);
        } else {
            if (!set && !(set = gw_node_set_render(db, id)))
                failed = 1;
            if (failed) {
                gw_fail_db(&c);
            } else {
                char etag[80];
                gw_node_etag(etag, id, v);
                st_http_add_header(w->req, "ETag", etag);
                gw_reply_json_text(&c, 200, set, "node");
            }
        }
        waiter_free(w);
    }
    PQclear(set);
    if (db)
        st_db_put(db);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    waiter *w = arg;
    reply_unchanged(w);
    waiter_free(w);
}

/* The connection went: every waiter is answered now. */
static void listener_lost(listener *l, const char *why)
{
    st_warn("node.wait", "LISTEN connection lost (%s): answering %s held long-polls", why,
            l->waiters ? "the" : "no");
    listener_close(l);
    while (l->waiters)
        wake_node(l, l->waiters->g, l->waiters->node_id, 1);
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    listener *l = arg;
    if (!PQconsumeInput(l->conn)) {
        listener_lost(l, PQerrorMessage(l->conn));
        return;
    }
    PGnotify *n;
    while ((n = PQnotifies(l->conn))) {
        if (l->waiters)
            wake_node(l, l->waiters->g, n->extra, 0);
        PQfreemem(n);
    }
    if (PQstatus(l->conn) != CONNECTION_OK)
        listener_lost(l, "connection closed");
}

/* This thread's listener, connected and listening; NULL when it cannot be. */
static listener *listener_get(gw *g, struct event_base *base)
{
    pthread_once(&tl_once, tl_init);
    if (!tl) {
        tl = calloc(1, sizeof *tl);
        if (!tl)
            return NULL;
        pthread_setspecific(tl_key, tl);
    }
    if (tl->conn)
        return tl;
    tl->conn = PQconnectdb(st_config_str(g->cfg, "db.url"));
    PGresult *r = NULL;
    if (PQstatus(tl->conn) == CONNECTION_OK)
        r = PQexec(tl->conn, "LISTEN stratus_node_desired");
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK || PQsetnonblocking(tl->conn, 1) != 0) {
        st_warn("node.wait", "cannot LISTEN for desired-set changes: %s", PQerrorMessage(tl->conn));
        PQclear(r);
        listener_close(tl);
        return NULL;
    }
    PQclear(r);
    tl->ev = event_new(base, PQsocket(tl->conn), EV_READ | EV_PERSIST, on_notify, tl);
    if (!tl->ev || event_add(tl->ev, NULL) < 0) {
        listener_close(tl);
        return NULL;
    }
    return tl;
}

static void on_cancel(st_http_req *r, void *arg)
{
    (void)r;
    waiter_free(arg);
}

int gw_node_wait(gw_ctx *c, long long version, int wait_s)
{
    struct event_base *base = st_http_loop(c->req);
    listener *l = listener_get(c->gw, base);
    if (!l)
        return -1;
    /* listening now: a change from here on is notified; one before is seen here */
    long long v = gw_node_version(c->db, c->p.node_id);
    if (v < 0)
        return -1;
    if (v != version)
        return 1;
    waiter *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    *w = (waiter){.g = c->gw, .req = c->req, .l = l, .version = version, .next = l->waiters};
    snprintf(w->node_id, sizeof w->node_id, "%s", c->p.node_id);
    w->timer = evtimer_new(base, on_timeout, w);
    struct timeval tv = {wait_s, 0};
    if (!w->timer || evtimer_add(w->timer, &tv) < 0) {
        if (w->timer)
            event_free(w->timer);
        free(w);
        return -1;
    }
    if (l->waiters)
        l->waiters->prev = w;
    l->waiters = w;
    st_metric_add(m_waiting(), 1);
    st_http_hold(c->req, on_cancel, w);
    return 0;
}
