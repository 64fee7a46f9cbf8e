/*
 * metadata.c - the metadata service: libevent's evhttp on one thread, one
 * listening socket per bridge.
 *
 * Identity. A socket bound to a bridge with SO_BINDTODEVICE accepts only
 * connections that arrived on that bridge, and every accepted socket inherits
 * the binding; the handler reads it back (getsockopt SO_BINDTODEVICE) with
 * the peer address (getpeername), and (bridge, peer IPv4) names at most one
 * port because anti-spoofing lets a port send only from its own addresses.
 * Nothing the guest sends (headers, path, X-Forwarded-For) is looked at for
 * identity. The binding is also what lets the reply leave at all: the bridge
 * only has the DHCP address as a /32 (tenants' CIDRs may overlap), so the
 * host has no route to the guest, and a socket bound to a device is routed
 * on-link through it.
 *
 * Invariants: `mu` guards docs, who (sorted by bridge and IP, each pair
 * once: a state naming one twice is refused) and the listener list; the loop thread
 * alone touches evhttp (listener changes are queued and it is woken by
 * `wake`). A listener whose bridge was recreated (new ifindex) is replaced.
 * Hostile clients: headers over 8 KiB are refused, bodies too, idle
 * connections are closed after a timeout, and a request not in whole within
 * it (a head trickled in a line at a time) is answered 408 and closed by
 * common/'s guard (httpguard.h), which also answers libevent's own errors
 * as JSON; none of them blocks the loop.
 */
#include "internal.h"
#include "md.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stratus/httpguard.h>
#include <stratus/metadata.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MD_TIMEOUT_S 10
#define MD_MAX_HEADERS 8192
/* every guest's connections together; nftables caps each port (STN_MD_CONNS) */
#define MD_MAX_CONNS 4096

typedef struct md_who {
    char br[IFNAMSIZ];
    uint32_t ip; /* network order */
    uint32_t tag;
} md_who;

typedef struct md_listener {
    char br[IFNAMSIZ];
    unsigned ifindex;
    int fd;
    struct evhttp_bound_socket *bs; /* NULL until the loop has taken it */
    int want;
} md_listener;

struct stn_md {
    pthread_mutex_t mu;
    md_doc *docs;
    size_t n_docs;
    md_who *who;
    size_t n_who;
    md_listener *ls;
    size_t n_ls;
    uint16_t port;
    struct event_base *base;
    struct evhttp *http;
    st_http_guard *guard;
    struct event *wake;
    pthread_t thr;
};

static void doc_free(md_doc *d)
{
    free(d->instance_id), free(d->hostname), free(d->az), free(d->ssh_key), free(d->ud);
}

static md_doc *find_doc(stn_md *m, uint32_t tag)
{
    for (size_t i = 0; i < m->n_docs; i++)
        if (m->docs[i].tag == tag)
            return &m->docs[i];
    return NULL;
}

/* ---- identity: from the kernel only ---- */

static int cmp_who(const void *a, const void *b)
{
    const md_who *x = a, *y = b;
    int c = strcmp(x->br, y->br);
    return c ? c : memcmp(&x->ip, &y->ip, sizeof x->ip);
}

static uint32_t caller_tag(stn_md *m, struct evhttp_request *req)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
    int fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd < 0)
        return 0;
    char br[IFNAMSIZ + 1] = {0};
    socklen_t bl = IFNAMSIZ;
    struct sockaddr_in peer;
    socklen_t pl = sizeof peer;
    if (getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, br, &bl) < 0 || !br[0] ||
        getpeername(fd, (struct sockaddr *)&peer, &pl) < 0 || pl < sizeof peer ||
        peer.sin_family != AF_INET)
        return 0;
    md_who key = {.ip = peer.sin_addr.s_addr};
    memcpy(key.br, br, IFNAMSIZ);
    key.br[IFNAMSIZ - 1] = '\0';
    const md_who *w = m->n_who ? bsearch(&key, m->who, m->n_who, sizeof key, cmp_who) : NULL;
    return w ? w->tag : 0;
}

/* ---- documents ---- */

static void handle(struct evhttp_request *req, void *arg)
{
    stn_md *m = arg;
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    md_answer a;
    pthread_mutex_lock(&m->mu);
    uint32_t tag = caller_tag(m, req);
    md_route(tag ? find_doc(m, tag) : NULL, u ? evhttp_uri_get_path(u) : NULL, &a);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", a.type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    struct evbuffer *b = evbuffer_new();
    if (b && a.len)
        evbuffer_add(b, a.body, a.len);
    pthread_mutex_unlock(&m->mu);
    md_answer_free(&a);
    evhttp_send_reply(req, a.code,
                      a.code == 200   ? "OK"
                      : a.code == 404 ? "Not Found"
                                      : "Internal Server Error",
                      b);
    if (b)
        evbuffer_free(b);
}

/* ---- listeners: made by the caller (its namespace), taken by the loop ---- */

static void apply_listeners(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    stn_md *m = arg;
    pthread_mutex_lock(&m->mu);
    size_t k = 0;
    for (size_t i = 0; i < m->n_ls; i++) {
        md_listener *l = &m->ls[i];
        if (!l->want) {
            if (l->bs)
                evhttp_del_accept_socket(m->http, l->bs); /* closes the socket */
            else
                close(l->fd);
            continue;
        }
        if (!l->bs) {
            l->bs = evhttp_accept_socket_with_handle(m->http, l->fd);
            if (!l->bs) {
                close(l->fd);
                continue;
            }
        }
        m->ls[k++] = *l;
    }
    m->n_ls = k;
    pthread_mutex_unlock(&m->mu);
}

static int listen_on(const char *br, uint16_t port, char *err, size_t errlen)
{
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return stn_fail(err, errlen, "metadata socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, br, (socklen_t)strlen(br)) < 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 512) < 0) {
        int e = errno;
        close(fd);
        return stn_fail(err, errlen, "metadata listener on %s port %u: %s", br, port, strerror(e));
    }
    return fd;
}

int stn_md_sync(stn_md *m, const stn_state *s, char *err, size_t errlen)
{
    int rc = stn_validate(s, err, errlen);
    if (rc < 0)
        return rc;
    size_t n = 0;
    for (size_t i = 0; i < s->n_ports; i++)
        n += s->ports[i].md_tag ? s->ports[i].n_ips : 0;
    md_who *who = calloc(n ? n : 1, sizeof *who);
    md_listener *ls = calloc(s->n_networks, sizeof *ls);
    if (!who || !ls) {
        free(who), free(ls);
        return stn_fail(err, errlen, "out of memory");
    }
    n = 0;
    for (size_t i = 0; i < s->n_ports; i++) {
        const stn_port *p = &s->ports[i];
        for (size_t k = 0; p->md_tag && k < p->n_ips; k++) {
            stn_bridge_name(who[n].br, stn_find_network(s, p->network_id)->vni);
            who[n].ip = p->ips[k].s_addr;
            who[n++].tag = p->md_tag;
        }
    }
    /* Two ports answering to one (bridge, IP) would make the caller
     * ambiguous: refuse the state and keep serving the previous one. */
    qsort(who, n, sizeof *who, cmp_who);
    for (size_t i = 1; i < n; i++)
        if (cmp_who(&who[i - 1], &who[i]) == 0) {
            char b[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &who[i].ip, b, sizeof b);
            rc = stn_fail(err, errlen, "metadata: two ports with %s on %s", b, who[i].br);
            free(who), free(ls);
            return rc;
        }
    pthread_mutex_lock(&m->mu);
    free(m->who);
    m->who = who;
    m->n_who = n;
    for (size_t i = 0; i < m->n_ls; i++)
        m->ls[i].want = 0;
    size_t n_new = 0;
    for (size_t i = 0; i < s->n_networks; i++) {
        char br[IFNAMSIZ];
        stn_bridge_name(br, s->networks[i].vni);
        unsigned idx = if_nametoindex(br);
        md_listener *have = NULL;
        for (size_t k = 0; k < m->n_ls; k++)
            if (strcmp(m->ls[k].br, br) == 0 && m->ls[k].ifindex == idx && idx)
                have = &m->ls[k];
        if (have) {
            have->want = 1;
            continue;
        }
        /* A bridge recreated since (another ifindex): its old socket is
         * closed by the loop; the new one does not clash with it. */
        int fd = idx ? listen_on(br, m->port, err, errlen)
                     : stn_fail(err, errlen, "metadata: no bridge %s", br);
        if (fd < 0) {
            rc = fd;
            continue;
        }
        snprintf(ls[n_new].br, sizeof ls[n_new].br, "%s", br);
        ls[n_new].ifindex = idx;
        ls[n_new].fd = fd;
        ls[n_new++].want = 1;
    }
    md_listener *grown = realloc(m->ls, (m->n_ls + n_new + 1) * sizeof *grown);
    if (grown) {
        m->ls = grown;
        memcpy(m->ls + m->n_ls, ls, n_new * sizeof *ls);
        m->n_ls += n_new;
    } else {
        for (size_t i = 0; i < n_new; i++)
            close(ls[i].fd);
        rc = stn_fail(err, errlen, "out of memory");
    }
    pthread_mutex_unlock(&m->mu);
    free(ls);
    event_active(m->wake, EV_READ, 0);
    return rc;
}

/* ---- documents in and out ---- */

static char *dup_or(const char *s, const char *dflt)
{
    return strdup(s ? s : dflt);
}

int stn_md_put(stn_md *m, const stn_md_doc *d, char *err, size_t errlen)
{
    if (!d->tag || !d->instance_id || !d->instance_id[0])
        return stn_fail(err, errlen, "metadata: a document needs a tag and an instance id");
    if (d->user_data_len > STN_MD_USER_DATA_MAX)
        return stn_fail(err, errlen, "metadata: user-data over %d bytes", STN_MD_USER_DATA_MAX);
    md_doc n = {.tag = d->tag, .local = d->local_ipv4, .pub = d->public_ipv4};
    n.instance_id = strdup(d->instance_id);
    n.hostname = dup_or(d->hostname, "");
    n.az = dup_or(d->az, "");
    n.ssh_key = d->ssh_key ? strdup(d->ssh_key) : NULL;
    n.has_ud = d->user_data != NULL;
    n.ud = malloc(d->user_data_len ? d->user_data_len : 1);
    if (!n.instance_id || !n.hostname || !n.az || (d->ssh_key && !n.ssh_key) || !n.ud) {
        doc_free(&n);
        return stn_fail(err, errlen, "out of memory");
    }
    if (d->user_data_len)
        memcpy(n.ud, d->user_data, d->user_data_len);
    n.ud_len = d->user_data_len;
    pthread_mutex_lock(&m->mu);
    md_doc *old = find_doc(m, d->tag);
    int rc = 0;
    if (old) {
        doc_free(old);
        *old = n;
    } else {
        md_doc *g = realloc(m->docs, (m->n_docs + 1) * sizeof *g);
        if (g) {
            m->docs = g;
            m->docs[m->n_docs++] = n;
        } else {
            doc_free(&n);
            rc = stn_fail(err, errlen, "out of memory");
        }
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

void stn_md_remove(stn_md *m, uint32_t tag)
{
    pthread_mutex_lock(&m->mu);
    md_doc *d = find_doc(m, tag);
    if (d) {
        doc_free(d);
        *d = m->docs[--m->n_docs];
    }
    pthread_mutex_unlock(&m->mu);
}

/* ---- the service thread ---- */

static void *loop(void *arg)
{
    stn_md *m = arg;
    event_base_loop(m->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

int stn_md_start(stn_md **out, uint16_t port, char *err, size_t errlen)
{
    *out = NULL;
    if (!port)
        return stn_fail(err, errlen, "metadata: port 0");
    if (evthread_use_pthreads() < 0)
        return stn_fail(err, errlen, "metadata: libevent without threads");
    stn_md *m = calloc(1, sizeof *m);
    if (!m)
        return stn_fail(err, errlen, "out of memory");
    pthread_mutex_init(&m->mu, NULL);
    m->port = port;
    m->base = event_base_new();
    m->http = m->base ? evhttp_new(m->base) : NULL;
    m->wake = m->base ? event_new(m->base, -1, 0, apply_listeners, m) : NULL;
    if (!m->http || !m->wake) {
        stn_md_stop(m);
        return stn_fail(err, errlen, "metadata: libevent set-up failed");
    }
    evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_max_headers_size(m->http, MD_MAX_HEADERS);
    evhttp_set_max_body_size(m->http, 1024);
    evhttp_set_timeout(m->http, MD_TIMEOUT_S);
    evhttp_set_gencb(m->http, handle, m);
    m->guard = st_http_guard_new(MD_TIMEOUT_S, MD_MAX_CONNS);
    if (!m->guard) {
        stn_md_stop(m);
        return stn_fail(err, errlen, "out of memory");
    }
    st_http_guard_evhttp(m->guard, m->http);
    if (pthread_create(&m->thr, NULL, loop, m) != 0) {
        stn_md_stop(m);
        return stn_fail(err, errlen, "metadata: no thread");
    }
    *out = m;
    return 0;
}

void stn_md_stop(stn_md *m)
{
    if (!m)
        return;
    if (m->thr) {
        event_base_loopbreak(m->base);
        pthread_join(m->thr, NULL);
    }
    for (size_t i = 0; i < m->n_ls; i++)
        if (!m->ls[i].bs)
            close(m->ls[i].fd);
    if (m->http)
        evhttp_free(m->http);     /* frees the bound sockets, closing them */
    st_http_guard_free(m->guard); /* after the connections it watched */
    if (m->wake)
        event_free(m->wake);
    if (m->base)
        event_base_free(m->base);
    for (size_t i = 0; i < m->n_docs; i++)
        doc_free(&m->docs[i]);
    free(m->docs), free(m->who), free(m->ls);
    pthread_mutex_destroy(&m->mu);
    free(m);
}
