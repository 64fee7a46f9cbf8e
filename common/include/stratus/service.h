/*
 * service.h - what every Stratus service's main() does the same way.
 *
 *   static const st_config_key keys[] = {
 *       ST_SERVICE_KEYS("127.0.0.1:8080"),
 *       {"auth.token_ttl", "3600", "bearer token lifetime, seconds"},
 *       {0},
 *   };
 *   st_config *cfg = st_config_from_args(argc, argv, "stratus-x", "STRATUS_X_", keys, NULL, NULL);
 *   st_service_log_init("x", cfg);
 *   st_db_pool *db = st_service_db(cfg, "x", x_migrations, x_migrations_count, x_views,
 *                                  x_views_count);
 *   st_http_opts o;
 *   st_service_http_opts(cfg, &o);
 */
#ifndef STRATUS_SERVICE_H
#define STRATUS_SERVICE_H

#include "stratus/config.h"
#include "stratus/db.h"
#include "stratus/http.h"
#include "stratus/migrate.h"

#define ST_SERVICE_KEYS(default_listen)                                                            \
    {"http.listen", default_listen, "address(es) to listen on, host:port[,host:port]"},            \
        {"http.port_file", "", "write the bound port here (for --listen host:0)"},                 \
        {"http.threads", "4", "HTTP worker threads"},                                              \
        {"http.max_body", "1048576", "largest request body accepted, bytes"},                      \
        {"http.timeout", "30",                                                                     \
         "idle connection timeout, and the deadline for a whole request, seconds"},                \
        {"http.max_connections", "512", "simultaneous connections; more are answered 503"},        \
        {"http.access_log", "true", "log one line per request"},                                   \
        {"http.allow_insecure", "false", "allow plain HTTP on non-loopback addresses"},            \
        {"http.trusted_proxies", "",                                                               \
         "load balancers whose X-Forwarded-For names the client (CIDRs)"},                         \
        {"metrics.token", "",                                                                      \
         "bearer token GET /metrics requires (empty: open, but not on the gateway)"},              \
        {"tls.cert", "", "PEM certificate chain; enables HTTPS"},                                  \
        {"tls.key", "", "PEM private key for tls.cert"},                                           \
        {"log.level", "info", "debug, info, warn or error (SIGHUP applies a change)"},             \
        {"log.file", "", "append log lines to this file, reopened on SIGHUP; empty: stderr"},      \
        {"db.url", "", "libpq connection string"},                                                 \
        {"db.pool_size", "8", "most database connections this process opens"},                     \
    {                                                                                              \
        "db.connect_timeout", "30", "seconds to wait for the database at start-up"                 \
    }

/* Sets the log's service name, log.level and log.file (exits 2 when the
 * file cannot be opened), registers stratus_build_info and the process_*
 * metrics, and remembers c for st_service_reload(). */
void st_service_log_init(const char *service, const st_config *c);
/*
 * What SIGHUP does in every service (st_service_http_opts() hooks it into
 * the server's loop; the agent calls it from its own): the log file is
 * opened again by name (logrotate), and the configuration is read again
 * for log.level and log.file. Every other key takes effect at a restart.
 * A file that now fails to read is logged and changes nothing.
 */
void st_service_reload(void);
void st_service_http_opts(const st_config *c, st_http_opts *o);
/*
 * Opens the pool, waits for the database (up to db.connect_timeout seconds)
 * and applies the service's migrations, then its repeatable SQL files (rep,
 * nrep; NULL, 0 for none: migrate.h). NULL (logged) on failure. The pool
 * is the process's: its use is exported as stratus_db_connections_in_use
 * and stratus_db_pool_size.
 */
st_db_pool *st_service_db(const st_config *c, const char *service, const st_migration *m, int n,
                          const st_migration *rep, int nrep);
/* A /healthz function that checks the pool can reach the database. */
int st_service_db_health(void *pool, char *msg, size_t msglen);

#endif
