/*
 * main.c - stratus-images: image records, uploads, downloads and blobs.
 *
 *   stratus-images [--config FILE] [--set k=v]...     serve
 *   stratus-images [...] migrate                      apply migrations, exit
 *   stratus-images routes                             print every route of both listeners
 *
 * Two listeners: http.listen (the JSON API, common/http) and data.listen
 * (image bytes, data.c). A reaper thread kills uploads whose connection
 * died with a previous process and removes blobs no active image uses.
 * With billing.url set, a meter thread (meter.c) reports each tenant's
 * image bytes to billing at start and every billing.interval.
 * SIGTERM stops the API, then the data listener (in-flight transfers are
 * cut and their images killed), then the reaper.
 */
#include "images.h"
#include "meter.h"
#include "stratus/crypto.h"
#include "stratus/log.h"
#include "stratus/service.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern const st_migration img_migrations[];
extern const int img_migrations_count;
extern const st_migration img_views[]; /* the repeatable files of sql/ */
extern const int img_views_count;

static const st_config_key keys[] = {
    ST_SERVICE_KEYS("127.0.0.1:9292"),
    {"auth.internal_token", "", "the gateway's service token (never on a compute node)"},
    {"auth.gateway_from", "127.0.0.0/8,::1",
     "addresses and CIDRs the gateway calls from: the internal token is refused from any other"
     " (empty: anywhere)"},
    {"auth.url_key", "",
     "64 hex digits signing upload/download URLs (default: random per "
     "process; set it when several instances serve one database)"},
    {"auth.url_ttl", "900", "lifetime of a signed URL, seconds"},
    {"data.listen", "127.0.0.1:9293", "address of the data listener (image bytes)"},
    {"data.port_file", "", "write the data listener's port here"},
    {"data.public_url", "",
     "base URL clients use for the data listener (default: "
     "http://data.listen)"},
    {"data.max_connections", "64", "simultaneous connections on the data listener"},
    {"store.backend", "local", "where blobs live: local or rbd"},
    {"store.path", "/var/lib/stratus/images", "local blob directory (and upload temp files)"},
    {"store.fsync", "true", "make blobs durable before an image becomes active"},
    {"store.max_image_size", "68719476736", "largest image accepted, bytes"},
    {"store.max_virtual_size", "17592186044416",
     "largest virtual disk a (qcow2) image may "
     "describe, bytes"},
    {"store.rbd_conf", "/etc/ceph/ceph.conf", "Ceph configuration (store.backend = rbd)"},
    {"store.rbd_pool", "images", "RBD pool for image blobs"},
    {"store.rbd_client", "admin", "Ceph client name (client.<name>)"},
    {"images.stale_upload", "120", "seconds an upload may stay silent before it is killed"},
    {"images.reap_interval", "60", "seconds between reaper runs"},
    {"billing.url", "",
     "billing's base URL (http://127.0.0.1:8083): storage reports go there; empty: none sent"},
    {"billing.token", "",
     "credential for billing's ingest: the control plane's internal token (billing's"
     " auth.internal_token); empty: auth.internal_token"},
    {"billing.interval", "3600", "seconds between storage reports (1-3600), and one at start"},
    {0},
};

/* Upload temp files older than the stale limit belong to dead uploads. */
static void clean_tmp(const char *dir, int stale_s)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    time_t now = time(NULL);
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "upload-", 7) != 0)
            continue;
        char p[PATH_MAX + 256];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (stat(p, &st) == 0 && now - st.st_mtime > stale_s)
            unlink(p);
    }
    closedir(d);
}

static pthread_mutex_t reap_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reap_cv = PTHREAD_COND_INITIALIZER;
static int reap_stop;

typedef struct reaper {
    img_svc *s;
    int interval;
} reaper;

static void *reap_main(void *arg)
{
    reaper *r = arg;
    pthread_mutex_lock(&reap_mu);
    while (!reap_stop) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_sec += r->interval;
        pthread_cond_timedwait(&reap_cv, &reap_mu, &t);
        if (reap_stop)
            break;
        pthread_mutex_unlock(&reap_mu);
        img_reap(r->s);
        clean_tmp(r->s->tmp_dir, r->s->stale_s);
        pthread_mutex_lock(&reap_mu);
    }
    pthread_mutex_unlock(&reap_mu);
    return NULL;
}

static int hexkey(const char *hex, uint8_t key[32])
{
    if (strlen(hex) != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        key[i] = (uint8_t)v;
    }
    return 0;
}

static int setup(img_svc *s, const st_config *cfg)
{
    char err[512];
    s->cfg = cfg;
    s->internal_token = st_config_str(cfg, "auth.internal_token");
    if (!*s->internal_token) {
        st_error("images.config", "auth.internal_token must be set");
        return -1;
    }
    if (st_internal_allow_from(st_config_str(cfg, "auth.gateway_from"), err, sizeof err) < 0) {
        st_error("images.config", "auth.gateway_from: %s", err);
        return -1;
    }
    const char *k = st_config_str(cfg, "auth.url_key");
    if (*k) {
        if (hexkey(k, s->url_key) < 0) {
            st_error("images.config", "auth.url_key must be 64 hex digits");
            return -1;
        }
    } else {
        st_random_bytes(s->url_key, sizeof s->url_key);
    }
    s->url_ttl_s = (int)st_config_int(cfg, "auth.url_ttl");
    s->max_size = (uint64_t)st_config_int(cfg, "store.max_image_size");
    s->max_virtual = (uint64_t)st_config_int(cfg, "store.max_virtual_size");
    s->stale_s = (int)st_config_int(cfg, "images.stale_upload");
    if (s->stale_s < 4)
        s->stale_s = 4;
    const char *root = st_config_str(cfg, "store.path");
    const char *backend = st_config_str(cfg, "store.backend");
    if (strcmp(backend, "local") == 0) {
        s->store = img_store_local_new(root, st_config_bool(cfg, "store.fsync"), err, sizeof err);
    } else if (strcmp(backend, "rbd") == 0) {
        if (mkdir(root, 0755) < 0 && errno != EEXIST)
            snprintf(err, sizeof err, "cannot create %s: %s", root, strerror(errno));
        s->store = img_store_rbd_new(st_config_str(cfg, "store.rbd_conf"),
                                     st_config_str(cfg, "store.rbd_pool"),
                                     st_config_str(cfg, "store.rbd_client"), err, sizeof err);
    } else {
        snprintf(err, sizeof err, "store.backend '%s' is not local or rbd", backend);
    }
    if (!s->store) {
        st_error("images.store", "%s", err);
        return -1;
    }
    snprintf(s->tmp_dir, sizeof s->tmp_dir, "%s/tmp", root);
    if (mkdir(s->tmp_dir, 0700) < 0 && errno != EEXIST) {
        st_error("images.store", "cannot create %s: %s", s->tmp_dir, strerror(errno));
        return -1;
    }
    clean_tmp(s->tmp_dir, s->stale_s);
    return 0;
}

static void print_route(const char *method, const char *path, void *arg)
{
    printf("%s %s\n", method, path);
}

/* `stratus-images routes`: every route of both listeners, one a line. */
static int print_routes(const st_config *cfg)
{
    st_http_opts o;
    st_service_http_opts(cfg, &o);
    char err[512];
    st_http_server *srv = st_http_server_new(&o, err, sizeof err);
    if (!srv) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    static img_svc s;
    st_api api;
    img_api_routes(&s, &api, srv);
    st_http_server_routes(srv, print_route, NULL);
    st_http_server_free(srv);
    st_api_free(&api);
    printf("PUT /v1/images/{id}/file\nGET /v1/images/{id}/file\nHEAD /v1/images/{id}/file\n");
    return 0;
}

int main(int argc, char **argv)
{
    char **rest = NULL;
    int nrest = 0;
    st_config *cfg =
        st_config_from_args(argc, argv, "stratus-images", "STRATUS_IMAGES_", keys, &rest, &nrest);
    st_service_log_init("images", cfg);
    if (nrest == 1 && strcmp(rest[0], "routes") == 0) {
        int rc = print_routes(cfg);
        st_config_free(cfg);
        free(rest);
        return rc;
    }
    int migrate_only = nrest == 1 && strcmp(rest[0], "migrate") == 0;
    if (nrest && !migrate_only) {
        fprintf(stderr,
                "stratus-images: unknown command '%s' (serve by default, migrate, or"
                " routes)\n",
                rest[0]);
        return 2;
    }
    static img_svc s;
    s.db = st_service_db(cfg, "images", img_migrations, img_migrations_count, img_views,
                         img_views_count);
    if (!s.db)
        return 1;
    if (migrate_only)
        return 0;
    if (setup(&s, cfg) < 0)
        return 1;
    img_reap(&s);

    char err[512];
    img_metrics();
    s.data = img_data_start(&s, err, sizeof err);
    if (!s.data) {
        st_error("images.data_listen", "%s", err);
        return 1;
    }
    const char *pub = st_config_str(cfg, "data.public_url");
    if (*pub) {
        snprintf(s.data_url, sizeof s.data_url, "%s", pub);
    } else {
        const char *spec = st_config_str(cfg, "data.listen"), *colon = strrchr(spec, ':');
        int hl = (int)(colon - spec) > 200 ? 200 : (int)(colon - spec);
        snprintf(s.data_url, sizeof s.data_url, "%s://%.*s:%d",
                 *st_config_str(cfg, "tls.cert") ? "https" : "http", hl, spec,
                 img_data_port(s.data));
    }
    const char *pf = st_config_str(cfg, "data.port_file");
    if (*pf) {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s.tmp", pf);
        FILE *f = fopen(tmp, "w");
        if (f) {
            fprintf(f, "%d\n", img_data_port(s.data));
            fclose(f);
            rename(tmp, pf);
        }
    }

    st_http_opts o;
    st_service_http_opts(cfg, &o);
    o.health = st_service_db_health;
    o.health_arg = s.db;
    st_http_server *srv = st_http_server_new(&o, err, sizeof err);
    if (!srv) {
        st_error("images.http", "%s", err);
        return 1;
    }
    st_api api;
    img_api_routes(&s, &api, srv);

    reaper rp = {&s, (int)st_config_int(cfg, "images.reap_interval")};
    if (rp.interval < 1)
        rp.interval = 60;
    pthread_t rt;
    pthread_create(&rt, NULL, reap_main, &rp);
    img_meter *meter = img_meter_start(&s, cfg);

    int rc = st_http_server_run(srv);
    img_meter_stop(meter);
    img_data_stop(s.data);
    pthread_mutex_lock(&reap_mu);
    reap_stop = 1;
    pthread_cond_broadcast(&reap_cv);
    pthread_mutex_unlock(&reap_mu);
    pthread_join(rt, NULL);
    st_http_server_free(srv);
    st_api_free(&api);
    s.store->ops->free(s.store);
    st_db_pool_free(s.db);
    st_config_free(cfg);
    free(rest);
    return rc == 0 ? 0 : 1;
}
