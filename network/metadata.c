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
 * Invariants: `mu` guards docs, who and the listener list; the loop thread
 * alone touches evhttp (listener changes are queued and it is woken by
 * `wake`). A listener whose bridge was recreated (new ifindex) is replaced.
 * Hostile clients: headers over 8 KiB are refused, bodies too, idle or slow
 * connections are closed after a timeout; none of them blocks the loop.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <jansson.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stratus/metadata.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MD_TIMEOUT_S 10
#define MD_MAX_HEADERS 8192
#define MD_PATH_MAX 256

typedef struct md_doc {
    uint32_t tag;
    char *instance_id, *hostname, *az, *ssh_key;
    struct in_addr local, pub;
    unsigned char *ud;
    size_t ud_len;
    int has_ud;
} md_doc;

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
    for (size_t i = 0; i < m->n_who; i++)
        if (m->who[i].ip == peer.sin_addr.s_addr && strcmp(m->who[i].br, br) == 0)
            return m->who[i].tag;
    return 0;
}

/* ---- documents ---- */

static void reply(struct evhttp_request *req, int code, const char *type, const void *buf,
                  size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    struct evbuffer *b = evbuffer_new();
    if (b && len)
        evbuffer_add(b, buf, len);
    evhttp_send_reply(req, code, code == 200 ? "OK" : "Not Found", b);
    if (b)
        evbuffer_free(b);
}

static void text(struct evhttp_request *req, const char *s)
{
    reply(req, 200, "text/plain", s, strlen(s));
}

static void not_found(struct evhttp_request *req)
{
    reply(req, 404, "text/plain", "Not Found\n", 10);
}

/* "latest" or a dated version (YYYY-MM-DD), as clients ask either. */
static int is_version(const char *v)
{
    if (strcmp(v, "latest") == 0)
        return 1;
    if (strlen(v) != 10 || v[4] != '-' || v[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (v[i] < '0' || v[i] > '9'))
            return 0;
    return 1;
}

static char *meta_data_json(const md_doc *d)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i}", "uuid", d->instance_id, "name", d->hostname,
                          "hostname", d->hostname, "availability_zone", d->az, "launch_index", 0);
    if (!o)
        return NULL;
    if (d->ssh_key) {
        json_object_set_new(o, "public_keys", json_pack("{s:s}", "default", d->ssh_key));
        json_object_set_new(
            o, "keys",
            json_pack("[{s:s, s:s, s:s}]", "name", "default", "type", "ssh", "data", d->ssh_key));
    }
    char *s = json_dumps(o, JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

/* EC2: seg[0] is the version, seg[1..] the rest. */
static void serve_ec2(struct evhttp_request *req, const md_doc *d, char **seg, int n)
{
    char b[INET_ADDRSTRLEN];
    if (n == 1) {
        text(req, d->has_ud ? "meta-data/\nuser-data" : "meta-data/");
        return;
    }
    if (strcmp(seg[1], "user-data") == 0 && n == 2) {
        if (d->has_ud)
            reply(req, 200, "application/octet-stream", d->ud, d->ud_len);
        else
            not_found(req);
        return;
    }
    if (strcmp(seg[1], "meta-data") != 0) {
        not_found(req);
        return;
    }
    if (n == 2) {
        char list[256];
        snprintf(list, sizeof list,
                 "ami-launch-index\nhostname\ninstance-id\nlocal-hostname\nlocal-ipv4\n"
                 "placement/\n%s%s",
                 d->pub.s_addr ? "public-ipv4\n" : "", d->ssh_key ? "public-keys/" : "");
        size_t l = strlen(list);
        if (l && list[l - 1] == '\n')
            list[l - 1] = '\0';
        text(req, list);
        return;
    }
    const char *k = seg[2];
    if (n == 3 && strcmp(k, "instance-id") == 0)
        text(req, d->instance_id);
    else if (n == 3 && (strcmp(k, "hostname") == 0 || strcmp(k, "local-hostname") == 0))
        text(req, d->hostname);
    else if (n == 3 && strcmp(k, "ami-launch-index") == 0)
        text(req, "0");
    else if (n == 3 && strcmp(k, "local-ipv4") == 0)
        text(req, inet_ntop(AF_INET, &d->local, b, sizeof b));
    else if (n == 3 && strcmp(k, "public-ipv4") == 0 && d->pub.s_addr)
        text(req, inet_ntop(AF_INET, &d->pub, b, sizeof b));
    else if (strcmp(k, "placement") == 0 && n == 3)
        text(req, "availability-zone");
    else if (strcmp(k, "placement") == 0 && n == 4 && strcmp(seg[3], "availability-zone") == 0)
        text(req, d->az);
    else if (strcmp(k, "public-keys") == 0 && d->ssh_key) {
        if (n == 3)
            text(req, "0=default");
        else if (strcmp(seg[3], "0") != 0)
            not_found(req);
        else if (n == 4)
            text(req, "openssh-key");
        else if (n == 5 && strcmp(seg[4], "openssh-key") == 0)
            text(req, d->ssh_key);
        else
            not_found(req);
    } else
        not_found(req);
}

/* OpenStack: seg[0] is "openstack", seg[1] the version, seg[2] the file. */
static void serve_openstack(struct evhttp_request *req, const md_doc *d, char **seg, int n)
{
    if (n == 1) {
        text(req, "latest");
        return;
    }
    if (!is_version(seg[1]) || n > 3) {
        not_found(req);
        return;
    }
    if (n == 2)
        text(req, d->has_ud ? "meta_data.json\nuser_data\nvendor_data.json"
                            : "meta_data.json\nvendor_data.json");
    else if (strcmp(seg[2], "meta_data.json") == 0) {
        char *j = meta_data_json(d);
        if (j)
            reply(req, 200, "application/json", j, strlen(j));
        else
            reply(req, 500, "text/plain", "", 0);
        free(j);
    } else if (strcmp(seg[2], "vendor_data.json") == 0)
        reply(req, 200, "application/json", "{}", 2);
    else if (strcmp(seg[2], "user_data") == 0 && d->has_ud)
        reply(req, 200, "application/octet-stream", d->ud, d->ud_len);
    else
        not_found(req);
}

static void handle(struct evhttp_request *req, void *arg)
{
    stn_md *m = arg;
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *path = u ? evhttp_uri_get_path(u) : NULL;
    char p[MD_PATH_MAX];
    if (!path || path[0] != '/' || strlen(path) >= sizeof p) {
        not_found(req);
        return;
    }
    snprintf(p, sizeof p, "%s", path);
    char *seg[8], *save = NULL;
    int n = 0;
    for (char *t = strtok_r(p, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (n == 8) {
            not_found(req);
            return;
        }
        seg[n++] = t;
    }
    pthread_mutex_lock(&m->mu);
    uint32_t tag = caller_tag(m, req);
    const md_doc *d = tag ? find_doc(m, tag) : NULL;
    if (!d)
        not_found(req);
    else if (n == 0)
        text(req, "latest");
    else if (strcmp(seg[0], "openstack") == 0)
        serve_openstack(req, d, seg, n);
    else if (is_version(seg[0]))
        serve_ec2(req, d, seg, n);
    else
        not_found(req);
    pthread_mutex_unlock(&m->mu);
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
        evhttp_free(m->http); /* frees the bound sockets, closing them */
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
