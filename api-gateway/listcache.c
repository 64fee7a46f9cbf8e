/*
 * listcache.c - rendered GET /v1/instances pages, reused while the database
 * says nothing they show has changed.
 *
 * The list is the API's hottest read, and rendering it (a join over the
 * tenant's instances, then JSON) costs far more than checking whether it
 * could have changed. Every request still authenticates against the
 * database, and that same query returns the tenant's instance-list version
 * and the host-status epoch (migrations/0009_list_versions.sql). A page
 * rendered under the same version and epoch, whose hosts' "up" cannot yet
 * have turned "down" with the clock, shows exactly what a fresh render
 * would, so nothing here can contradict another gateway or the database:
 * it is a memo of a pure function of database state that the request has
 * just read.
 *
 * One entry per (tenant, query); a newer version or epoch replaces it.
 * Entries are evicted least recently used first when their bytes pass the
 * configured bound. Bodies are reference counted: a reply still being sent
 * keeps its body after the entry is replaced or evicted.
 */
#include "gateway.h"
#include "stratus/crypto.h"
#include "stratus/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 1024

typedef struct entry {
    struct entry *hnext;       /* hash chain */
    struct entry *prev, *next; /* LRU list, most recent first */
    uint64_t hash;
    long long version, epoch;
    int64_t expires_us; /* monotonic; INT64_MAX: no host can go down */
    gw_list_body *body;
    size_t klen;
    char key[];
} entry;

struct gw_listcache {
    pthread_mutex_t mu;
    st_metric *hits, *misses;
    size_t max_bytes, bytes;
    entry *buckets[BUCKETS];
    entry *head, *tail;
};

gw_list_body *gw_list_body_new(char *data, size_t len)
{
    gw_list_body *b = malloc(sizeof *b);
    if (!b) {
        free(data);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->data = data;
    b->len = len;
    char sha[65];
    st_sha256_hex(data, len, sha);
    /* 128 bits of the body's digest: equal bodies, equal tags, whichever
     * gateway rendered them */
    snprintf(b->etag, sizeof b->etag, "\"%.32s\"", sha);
    return b;
}

gw_list_body *gw_list_body_ref(gw_list_body *b)
{
    atomic_fetch_add(&b->refs, 1);
    return b;
}

void gw_list_body_release(void *arg)
{
    gw_list_body *b = arg;
    if (b && atomic_fetch_sub(&b->refs, 1) == 1) {
        free(b->data);
        free(b);
    }
}

size_t gw_listcache_bytes(gw_listcache *lc)
{
    if (!lc)
        return 0;
    pthread_mutex_lock(&lc->mu);
    size_t n = lc->bytes;
    pthread_mutex_unlock(&lc->mu);
    return n;
}

gw_listcache *gw_listcache_new(size_t max_bytes)
{
    gw_listcache *lc = calloc(1, sizeof *lc);
    if (!lc)
        return NULL;
    pthread_mutex_init(&lc->mu, NULL);
    lc->max_bytes = max_bytes;
    static const char help[] = "GET /v1/instances pages served from a rendered copy (hit) or"
                               " rendered (miss).";
    lc->hits = st_counter("stratus_gateway_instance_list_cache_total", help, "result=\"hit\"");
    lc->misses = st_counter("stratus_gateway_instance_list_cache_total", help, "result=\"miss\"");
    return lc;
}

static size_t cost(const entry *e)
{
    return sizeof *e + e->klen + e->body->len;
}

static void unlink_lru(gw_listcache *lc, entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        lc->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        lc->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(gw_listcache *lc, entry *e)
{
    e->next = lc->head;
    e->prev = NULL;
    if (lc->head)
        lc->head->prev = e;
    lc->head = e;
    if (!lc->tail)
        lc->tail = e;
}

/* Unlinks e from both lists and frees it (its body lives on while referenced). */
static void drop(gw_listcache *lc, entry *e)
{
    entry **pp = &lc->buckets[e->hash % BUCKETS];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    unlink_lru(lc, e);
    lc->bytes -= cost(e);
    gw_list_body_release(e->body);
    free(e);
}

static entry *find(gw_listcache *lc, const char *key, size_t klen, uint64_t h)
{
    for (entry *e = lc->buckets[h % BUCKETS]; e; e = e->hnext)
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return e;
    return NULL;
}

gw_list_body *gw_listcache_get(gw_listcache *lc, const char *key, long long version,
                               long long epoch, int64_t now_us)
{
    if (!lc)
        return NULL;
    size_t klen = strlen(key);
    uint64_t h = st_fnv1a64(key, klen);
    gw_list_body *b = NULL;
    pthread_mutex_lock(&lc->mu);
    entry *e = find(lc, key, klen, h);
    if (e && e->version == version && e->epoch == epoch && now_us < e->expires_us) {
        b = gw_list_body_ref(e->body);
        unlink_lru(lc, e);
        push_front(lc, e);
    }
    pthread_mutex_unlock(&lc->mu);
    st_metric_add(b ? lc->hits : lc->misses, 1);
    return b;
}

void gw_listcache_put(gw_listcache *lc, const char *key, long long version, long long epoch,
                      int64_t expires_us, gw_list_body *b)
{
    if (!lc || !b)
        return;
    size_t klen = strlen(key);
    uint64_t h = st_fnv1a64(key, klen);
    entry *n = malloc(sizeof *n + klen);
    if (!n)
        return;
    *n = (entry){.hash = h,
                 .version = version,
                 .epoch = epoch,
                 .expires_us = expires_us,
                 .body = gw_list_body_ref(b),
                 .klen = klen};
    memcpy(n->key, key, klen);
    if (cost(n) > lc->max_bytes) { /* would evict everything and still not fit */
        gw_list_body_release(n->body);
        free(n);
        return;
    }
    pthread_mutex_lock(&lc->mu);
    entry *old = find(lc, key, klen, h);
    /* Two renders of one query can race; keep the later database state. */
    if (old && (old->version > version || (old->version == version && old->epoch > epoch))) {
        pthread_mutex_unlock(&lc->mu);
        gw_list_body_release(n->body);
        free(n);
        return;
    }
    if (old)
        drop(lc, old);
    n->hnext = lc->buckets[h % BUCKETS];
    lc->buckets[h % BUCKETS] = n;
    push_front(lc, n);
    lc->bytes += cost(n);
    while (lc->bytes > lc->max_bytes && lc->tail)
        drop(lc, lc->tail);
    pthread_mutex_unlock(&lc->mu);
}

void gw_listcache_free(gw_listcache *lc)
{
    if (!lc)
        return;
    while (lc->tail)
        drop(lc, lc->tail);
    pthread_mutex_destroy(&lc->mu);
    free(lc);
}
