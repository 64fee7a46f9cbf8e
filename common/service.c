/* service.c - the start-up every service shares (see service.h). */
#include "stratus/service.h"
#include "stratus/log.h"
#include "stratus/metrics.h"

#include <stdio.h>
#include <unistd.h>

static const st_config *svc_cfg;

static int apply_level(const st_config *c)
{
    int lvl = st_log_level_parse(st_config_str(c, "log.level"));
    if (lvl >= 0)
        st_log_set_level((st_log_level)lvl);
    return lvl;
}

void st_service_log_init(const char *service, const st_config *c)
{
    char err[512];
    st_log_init(service, ST_LOG_INFO);
    st_metrics_process(service, STRATUS_VERSION);
    if (st_log_set_file(st_config_str(c, "log.file"), err, sizeof err) < 0) {
        fprintf(stderr, "stratus-%s: log.file %s\n", service, err);
        exit(2);
    }
    if (apply_level(c) < 0)
        st_warn("config", "unknown log.level '%s'; using info", st_config_str(c, "log.level"));
    svc_cfg = c;
}

void st_service_reload(void)
{
    char err[512];
    if (st_log_reopen(err, sizeof err) < 0)
        st_error("log.reopen", "%s; lines keep going to the old file", err);
    if (!svc_cfg)
        return;
    st_config *n = st_config_reread(svc_cfg, err, sizeof err);
    if (!n) {
        st_error("config.reload", "%s; the running configuration stays", err);
        return;
    }
    if (apply_level(n) < 0)
        st_warn("config.reload", "unknown log.level '%s'; level unchanged",
                st_config_str(n, "log.level"));
    if (st_log_set_file(st_config_str(n, "log.file"), err, sizeof err) < 0)
        st_error("config.reload", "log.file %s; lines keep going where they went", err);
    st_info("config.reload", "SIGHUP: log file reopened, log.level %s (other keys at restart)",
            st_config_str(n, "log.level"));
    st_config_free(n);
}

void st_service_http_opts(const st_config *c, st_http_opts *o)
{
    *o = (st_http_opts){
        .listen = st_config_str(c, "http.listen"),
        .port_file = st_config_str(c, "http.port_file"),
        .tls_cert = st_config_str(c, "tls.cert"),
        .tls_key = st_config_str(c, "tls.key"),
        .allow_insecure = st_config_bool(c, "http.allow_insecure"),
        .threads = (int)st_config_int(c, "http.threads"),
        .max_body = (size_t)st_config_int(c, "http.max_body"),
        .timeout_s = (int)st_config_int(c, "http.timeout"),
        .max_conns = (int)st_config_int(c, "http.max_connections"),
        .metrics_token = st_config_str(c, "metrics.token"),
        .access_log = st_config_bool(c, "http.access_log"),
        .trusted_proxies = st_config_str(c, "http.trusted_proxies"),
        .on_hup = st_service_reload,
    };
}

static double pool_in_use(void *pool)
{
    int size, used;
    st_db_pool_usage(pool, &size, &used);
    return used;
}

static double pool_size(void *pool)
{
    int size, used;
    st_db_pool_usage(pool, &size, &used);
    return size;
}

st_db_pool *st_service_db(const st_config *c, const char *service, const st_migration *m, int n,
                          const st_migration *rep, int nrep)
{
    const char *url = st_config_str(c, "db.url");
    if (!*url) {
        st_error("db.config", "db.url is not set");
        return NULL;
    }
    st_db_pool *pool = st_db_pool_new(url, (int)st_config_int(c, "db.pool_size"));
    if (!pool)
        return NULL;
    long long wait_s = st_config_int(c, "db.connect_timeout");
    st_db *db = NULL;
    for (long long waited = 0;; waited++) {
        db = st_db_get(pool, 1000);
        if (db || waited >= wait_s)
            break;
        if (waited == 0)
            st_warn("db.wait", "waiting for the database: %s", st_db_pool_error(pool));
        sleep(1);
    }
    if (!db) {
        st_error("db.connect", "%s", st_db_pool_error(pool));
        st_db_pool_free(pool);
        return NULL;
    }
    char err[512];
    int applied = st_migrate(db, service, m, n, err, sizeof err);
    /* after a numbered migration every repeatable file runs again: the
     * migration may have dropped what they define */
    if (applied >= 0 && nrep > 0 &&
        st_migrate_repeatable(db, service, rep, nrep, applied > 0, err, sizeof err) < 0)
        applied = -1;
    st_db_put(db);
    if (applied < 0) {
        st_error("db.migrate", "%s", err);
        st_db_pool_free(pool);
        return NULL;
    }
    /* the pool lives as long as the process */
    st_gauge_fn("stratus_db_connections_in_use", "Database connections handed out now.", "",
                pool_in_use, pool);
    st_gauge_fn("stratus_db_pool_size", "Database connections the pool may open (db.pool_size).",
                "", pool_size, pool);
    return pool;
}

int st_service_db_health(void *arg, char *msg, size_t msglen)
{
    st_db *db = st_db_get(arg, 2000);
    if (!db) {
        snprintf(msg, msglen, "%s", st_db_pool_error(arg));
        return -1;
    }
    PGresult *r = st_db_q0(db, "SELECT 1");
    int ok = r != NULL;
    if (!ok)
        snprintf(msg, msglen, "database: %s", st_db_error(db));
    PQclear(r);
    st_db_put(db);
    return ok ? 0 : -1;
}
