/*
 * main.c - stratus-gateway: the tenant-facing API.
 *
 *   stratus-gateway [--config FILE] [--set k=v]...           serve the API
 *   stratus-gateway [...] migrate                            apply migrations, exit
 *   stratus-gateway [...] bootstrap-admin NAME               create the first cloud admin
 *                         (password from $STRATUS_ADMIN_PASSWORD or stdin)
 *   stratus-gateway [...] node-add NAME                      register a node, print its credential
 *   stratus-gateway [...] node-rotate NAME                   replace its credential, print it
 *   stratus-gateway routes                                   print every route, exit
 *
 * The gateway keeps no state of its own: everything lives in PostgreSQL, so
 * any number of gateways may serve one database behind a load balancer.
 */
#include "gateway.h"
#include "stratus/log.h"
#include "stratus/metrics.h"
#include "stratus/service.h"
#include "stratus/timefmt.h"
#include "stratus/uuid.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const st_migration gw_migrations[];
extern const int gw_migrations_count;
extern const st_migration gw_views[]; /* the repeatable files of sql/ */
extern const int gw_views_count;

static const st_config_key keys[] = {
    ST_SERVICE_KEYS("127.0.0.1:8080"),
    {"auth.token_ttl", "3600", "session token lifetime, seconds"},
    {"auth.argon2_t", "2", "argon2id passes"},
    {"auth.argon2_m_kib", "19456", "argon2id memory, KiB"},
    {"auth.signin_user_limit", "5", "failed sign-ins per user name per window"},
    {"auth.signin_ip_limit", "60", "sign-in attempts per source address per window"},
    {"auth.signin_window", "60", "rate-limit window, seconds"},
    {"quota.instances", "10", "default instances per tenant"},
    {"quota.vcpus", "20", "default vCPUs per tenant"},
    {"quota.memory_mib", "51200", "default memory per tenant, MiB"},
    {"quota.disk_gib", "1000", "default disk per tenant, GiB"},
    {"quota.networks", "10", "default networks per tenant"},
    {"quota.ports", "50", "default ports per tenant (routers' and floating IPs' not counted)"},
    {"quota.security_groups", "10", "default security groups per tenant"},
    {"quota.floating_ips", "10", "default floating IPs per tenant"},
    {"sched.cpu_overcommit", "4.0", "vCPUs placed per physical CPU"},
    {"nodes.down_after", "30", "seconds without a heartbeat before a node is down"},
    {"sched.launch_attempts", "3", "hosts an instance may fail to launch on before error"},
    {"evacuate.fence_margin", "10",
     "seconds past nodes.down_after before a silent host's instances may be evacuated: keep "
     "down_after + this above the agents' fence.timeout plus a force stop"},
    {"evacuate.automatic", "false",
     "evacuate a dead host's instances whose disks are on Ceph without being asked (checked "
     "every power.interval_ms); instances on local disks still wait for an admin's "
     "confirm_data_loss"},
    {"instances.shared_storage", "false",
     "instance disks of the local backend are on storage every host shares (the same path): "
     "such instances may migrate live; false: only Ceph (rbd) disks migrate"},
    {"auth.internal_token", "", "shared secret the gateway presents to backend services"},
    {"images.url", "http://127.0.0.1:9292", "the image service's API (stratus-images http.listen)"},
    {"images.data_url", "",
     "origin browsers upload image bytes to (stratus-images data.public_url): the web dashboard's "
     "CSP lets its scripts connect there"},
    {"billing.url", "http://127.0.0.1:8083", "the billing service's API"},
    {"upstream.ca_file", "", "CA certificate for https backends (default: the system's)"},
    {"upstream.timeout_ms", "30000", "longest a call to a backend may take"},
    {"instances.disk_backend", "local",
     "where new instances' disks are made: local (a qcow2 overlay on the node's own storage) or "
     "rbd (a Ceph RBD clone of the image, which the agents make with their disk.rbd_* settings; "
     "such instances move between hosts without copying and are evacuated without data loss)"},
    {"instances.list_cache_mb", "64", "memory for rendered instance lists (0: render each time)"},
    {"power.off_command", "",
     "command that powers a node off, split into words at spaces (no shell); %n name, %i id, "
     "%h hostname, %a address, %% a percent sign. Empty: power management off"},
    {"power.on_command", "",
     "command that powers a node on (as power.off_command); empty: no host is powered on"},
    {"power.idle_after", "600", "seconds a node holds nothing before it is powered off"},
    {"power.min_spare_hosts", "1", "empty nodes kept on for new instances"},
    {"power.on_timeout", "600",
     "seconds a powered-on node has to heartbeat before its waiting instances go to error"},
    {"power.command_timeout", "120", "seconds a power command may run before it is killed"},
    {"power.interval_ms", "10000",
     "how often the host manager looks at the nodes (power, evacuate.automatic)"},
    {"rebalance.threshold", "0.2", "load spread (0.01-1) over which instances are rebalanced"},
    {"rebalance.max_moves", "10", "moves in one rebalancing plan (1-1000)"},
    {"rebalance.cooldown", "3600", "seconds a moved instance moves neither again nor back"},
    {"rebalance.cpu_window", "600", "seconds of metering samples CPU load is measured over"},
    {"rebalance.max_concurrent", "2",
     "live migrations running at once, cloud-wide, beyond which POST /v1/scheduler/rebalance "
     "starts none (an admin's own migrate action is not held back)"},
    {"rebalance.interval", "0",
     "seconds between rebalancing runs the host manager makes on its own (POST "
     "/v1/scheduler/rebalance's logic, one gateway per run); 0: never"},
    {"consolidation.target", "0.85",
     "fraction (0.5-1) of a host's memory and vCPUs the consolidation plan fills"},
    {"consolidation.max_moves", "20", "moves in one consolidation plan (1-1000)"},
    {"consolidation.interval", "0",
     "seconds between consolidation runs the host manager makes on its own (POST "
     "/v1/scheduler/consolidation's logic, one gateway per run); 0: never"},
    {"consolidation.drain_for", "900",
     "seconds a host the consolidation empties takes no new instance after the last run "
     "that planned to empty it (or until it is powered off)"},
    {0},
};

/* A setting out of [lo, hi] becomes its default, said once. */
static void in_range(double *v, double lo, double hi, double def, const char *key)
{
    if (!(*v >= lo && *v <= hi)) {
        st_warn(key, "not from %g to %g: %g", lo, hi, def);
        *v = def;
    }
}

static void int_in_range(int *v, int lo, int hi, int def, const char *key)
{
    double d = *v;
    in_range(&d, lo, hi, def, key);
    *v = (int)d;
}

static void load_gw_config(gw *g, const st_config *cfg)
{
    g->cfg = cfg;
    g->c = (gw_config){
        .token_ttl_s = st_config_int(cfg, "auth.token_ttl"),
        .argon2_t = (int)st_config_int(cfg, "auth.argon2_t"),
        .argon2_m_kib = (int)st_config_int(cfg, "auth.argon2_m_kib"),
        .signin_user_limit = (int)st_config_int(cfg, "auth.signin_user_limit"),
        .signin_ip_limit = (int)st_config_int(cfg, "auth.signin_ip_limit"),
        .signin_window_s = (int)st_config_int(cfg, "auth.signin_window"),
        .quota_instances = st_config_int(cfg, "quota.instances"),
        .quota_vcpus = st_config_int(cfg, "quota.vcpus"),
        .quota_memory_mib = st_config_int(cfg, "quota.memory_mib"),
        .quota_disk_gib = st_config_int(cfg, "quota.disk_gib"),
        .quota_networks = st_config_int(cfg, "quota.networks"),
        .quota_ports = st_config_int(cfg, "quota.ports"),
        .quota_security_groups = st_config_int(cfg, "quota.security_groups"),
        .quota_floating_ips = st_config_int(cfg, "quota.floating_ips"),
        .cpu_overcommit = strtod(st_config_str(cfg, "sched.cpu_overcommit"), NULL),
        .node_down_after_s = (int)st_config_int(cfg, "nodes.down_after"),
        .launch_attempts = (int)st_config_int(cfg, "sched.launch_attempts"),
        .fence_margin_s = (int)st_config_int(cfg, "evacuate.fence_margin"),
        .auto_evacuate = st_config_bool(cfg, "evacuate.automatic"),
        .disk_rbd = !strcmp(st_config_str(cfg, "instances.disk_backend"), "rbd"),
        .rebalance_threshold = strtod(st_config_str(cfg, "rebalance.threshold"), NULL),
        .rebalance_max_moves = (int)st_config_int(cfg, "rebalance.max_moves"),
        .rebalance_cooldown_s = (int)st_config_int(cfg, "rebalance.cooldown"),
        .rebalance_cpu_window_s = (int)st_config_int(cfg, "rebalance.cpu_window"),
        .rebalance_max_concurrent = (int)st_config_int(cfg, "rebalance.max_concurrent"),
        .shared_storage = st_config_bool(cfg, "instances.shared_storage"),
        .rebalance_interval_s = (int)st_config_int(cfg, "rebalance.interval"),
        .cons_target = strtod(st_config_str(cfg, "consolidation.target"), NULL),
        .cons_max_moves = (int)st_config_int(cfg, "consolidation.max_moves"),
        .cons_interval_s = (int)st_config_int(cfg, "consolidation.interval"),
        .cons_drain_for_s = (int)st_config_int(cfg, "consolidation.drain_for"),
    };
    /* out of range: the default, said once */
    in_range(&g->c.rebalance_threshold, 0.01, 1, 0.2, "rebalance.threshold");
    in_range(&g->c.cons_target, 0.5, 1, 0.85, "consolidation.target");
    int_in_range(&g->c.rebalance_max_moves, 1, 1000, 10, "rebalance.max_moves");
    int_in_range(&g->c.cons_max_moves, 1, 1000, 20, "consolidation.max_moves");
    int_in_range(&g->c.rebalance_cpu_window_s, 60, 86400, 600, "rebalance.cpu_window");
    if (g->c.rebalance_cooldown_s < 0)
        g->c.rebalance_cooldown_s = 0;
    if (g->c.rebalance_interval_s < 0)
        g->c.rebalance_interval_s = 0;
    if (g->c.cons_interval_s < 0)
        g->c.cons_interval_s = 0;
    if (g->c.cons_drain_for_s < 1)
        g->c.cons_drain_for_s = 1;
    if (g->c.signin_window_s < 1)
        g->c.signin_window_s = 1;
    long long to = st_config_int(cfg, "upstream.timeout_ms");
    g->images = (gw_upstream){"image", st_config_str(cfg, "images.url"),
                              st_config_str(cfg, "auth.internal_token"),
                              st_config_str(cfg, "upstream.ca_file"), to};
    g->billing = (gw_upstream){"billing", st_config_str(cfg, "billing.url"),
                               st_config_str(cfg, "auth.internal_token"),
                               st_config_str(cfg, "upstream.ca_file"), to};
}

static int register_routes(gw *g)
{
    gw_auth_routes(g);
    gw_identity_routes(g);
    gw_catalog_routes(g);
    gw_instance_routes(g);
    gw_node_routes(g);
    gw_evacuate_routes(g);
    gw_migrate_routes(g);
    gw_server_group_routes(g);
    gw_network_routes(g);
    gw_port_routes(g);
    gw_secgroup_routes(g);
    gw_router_routes(g);
    gw_billing_routes(g);
    gw_openapi_routes(g);
    gw_dashboard_routes(g);
    return 0;
}

static void print_route(const char *method, const char *path, void *arg)
{
    printf("%s %s\n", method, path);
}

static int read_password(char *buf, size_t n)
{
    const char *env = getenv("STRATUS_ADMIN_PASSWORD");
    if (env) {
        snprintf(buf, n, "%s", env);
    } else if (!fgets(buf, (int)n, stdin)) {
        return -1;
    }
    buf[strcspn(buf, "\r\n")] = 0;
    return strlen(buf) >= 8 ? 0 : -1;
}

static int cmd_bootstrap_admin(gw *g, const char *name)
{
    char pw[300], hash[256], tid[40], uid[40];
    if (read_password(pw, sizeof pw) < 0) {
        fprintf(stderr, "bootstrap-admin: give a password of 8+ characters on stdin or in "
                        "STRATUS_ADMIN_PASSWORD\n");
        return 2;
    }
    st_db *db = st_db_get(g->db, 5000);
    if (!db)
        return 1;
    PGresult *r = st_db_q0(db, "SELECT count(*) FROM iaas.users WHERE cloud_admin");
    long long admins = r ? st_db_int(r, 0, 0) : -1;
    PQclear(r);
    if (admins != 0) {
        fprintf(stderr,
                admins > 0 ? "bootstrap-admin: a cloud admin exists already; create "
                             "more users through the API\n"
                           : "bootstrap-admin: %s\n",
                st_db_error(db));
        st_db_put(db);
        return 1;
    }
    r = st_db_q0(db, "SELECT id FROM iaas.tenants WHERE name = 'admin'");
    int have_tenant = r && PQntuples(r) == 1;
    if (have_tenant)
        snprintf(tid, sizeof tid, "%s", st_db_val(r, 0, 0));
    PQclear(r);
    if (!have_tenant && gw_tenant_create(g, db, "admin", "the cloud operators", tid) < 0) {
        fprintf(stderr, "bootstrap-admin: %s\n", st_db_error(db));
        st_db_put(db);
        return 1;
    }
    st_uuid_v4(uid);
    if (gw_password_hash(&g->c, pw, hash, sizeof hash) < 0 ||
        st_db_x(db,
                "INSERT INTO iaas.users (id, name, password_hash, cloud_admin)"
                " VALUES ($1, $2, $3, true)",
                uid, name, hash) != 1 ||
        st_db_x(db,
                "INSERT INTO iaas.memberships (tenant_id, user_id, role)"
                " VALUES ($1, $2, 'admin')",
                tid, uid) != 1) {
        fprintf(stderr, "bootstrap-admin: %s\n", st_db_error(db));
        st_db_put(db);
        return 1;
    }
    st_db_put(db);
    printf("cloud admin '%s' created (id %s) with admin role in tenant 'admin'\n", name, uid);
    return 0;
}

static int cmd_node_add(gw *g, const char *name)
{
    char id[40], token[80];
    st_db *db = st_db_get(g->db, 5000);
    if (!db)
        return 1;
    int rc = gw_node_create(db, name, id, token, sizeof token);
    if (rc < 0)
        fprintf(stderr, "node-add: %s\n", st_db_error(db));
    else
        printf("%s\n", token);
    st_db_put(db);
    return rc < 0 ? 1 : 0;
}

static int cmd_node_rotate(gw *g, const char *name)
{
    char token[80];
    st_db *db = st_db_get(g->db, 5000);
    if (!db)
        return 1;
    int n = gw_node_rotate(db, name, token, sizeof token);
    if (n <= 0)
        fprintf(stderr, "node-rotate: %s\n", n < 0 ? st_db_error(db) : "no such node");
    else
        printf("%s\n", token);
    st_db_put(db);
    return n == 1 ? 0 : 1;
}

static double cache_bytes(void *lists)
{
    return (double)gw_listcache_bytes(lists);
}

/* stratus_gateway_instances{state}: counted when /metrics is read, all
 * states in one query at most once a second. */
static struct inst_state {
    const char *name;
    gw *g;
} inst_states[] = {{.name = "building"},
                   {.name = "active"},
                   {.name = "stopped"},
                   {.name = "deleting"},
                   {.name = "error"}};
enum { N_INST_STATES = sizeof inst_states / sizeof *inst_states };

static double instances_in_state(void *arg)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static long long counted_at, counts[N_INST_STATES];
    struct inst_state *st = arg;
    int idx = (int)(st - inst_states);
    pthread_mutex_lock(&mu);
    long long now = st_mono_us();
    if (!counted_at || now - counted_at > 1000000) {
        st_db *db = st_db_get(st->g->db, 1000);
        PGresult *r = db ? st_db_q0(db, "SELECT state, count(*) FROM iaas.instances"
                                        " WHERE state <> 'deleted' GROUP BY state")
                         : NULL;
        if (r) {
            memset(counts, 0, sizeof counts);
            for (int i = 0; i < PQntuples(r); i++)
                for (int k = 0; k < N_INST_STATES; k++)
                    if (!strcmp(st_db_val(r, i, 0), inst_states[k].name))
                        counts[k] = st_db_int(r, i, 1);
            PQclear(r);
            counted_at = now;
        }
        if (db)
            st_db_put(db);
    }
    double v = (double)counts[idx];
    pthread_mutex_unlock(&mu);
    return v;
}

/* Serves until SIGTERM/SIGINT; 0 on a clean stop. */
static int serve(gw *g, st_http_opts *o)
{
    char err[512];
    o->health = st_service_db_health;
    o->health_arg = g->db;
    /* the tenant API's port is public: /metrics only with metrics.token */
    o->metrics_closed = 1;
    g->http = st_http_server_new(o, err, sizeof err);
    if (!g->http) {
        st_error("http.config", "%s", err);
        return 1;
    }
    long long mb = st_config_int(g->cfg, "instances.list_cache_mb");
    if (mb > 0) {
        g->lists = gw_listcache_new((size_t)mb << 20);
        st_gauge_fn("stratus_gateway_instance_list_cache_bytes",
                    "Memory the rendered instance lists"
                    " hold, bytes.",
                    "", cache_bytes, g->lists);
    }
    for (size_t i = 0; i < sizeof inst_states / sizeof *inst_states; i++) {
        char l[48];
        snprintf(l, sizeof l, "state=\"%s\"", inst_states[i].name);
        inst_states[i].g = g;
        st_gauge_fn("stratus_gateway_instances", "Instances, by state (deleted ones not counted).",
                    l, instances_in_state, &inst_states[i]);
    }
    register_routes(g);
    g->power = gw_power_new(g);
    if (g->power && gw_power_start(g->power) < 0) {
        st_error("power.start", "the power manager cannot start");
        gw_power_free(g->power);
        g->power = NULL;
    }
    int rc = st_http_server_run(g->http) < 0 ? 1 : 0;
    gw_power_free(g->power);
    g->power = NULL;
    st_http_server_free(g->http);
    gw_listcache_free(g->lists);
    g->lists = NULL;
    gw_routes_free(g);
    return rc;
}

static int list_routes(gw *g, st_http_opts *o)
{
    char err[512];
    g->http = st_http_server_new(o, err, sizeof err);
    if (!g->http) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    register_routes(g);
    st_http_server_routes(g->http, print_route, NULL);
    st_http_server_free(g->http);
    gw_routes_free(g);
    return 0;
}

int main(int argc, char **argv)
{
    char **rest;
    int nrest, rc;
    st_config *cfg =
        st_config_from_args(argc, argv, "stratus-gateway", "STRATUS_GATEWAY_", keys, &rest, &nrest);
    const char *cmd = nrest > 0 ? rest[0] : "serve";
    st_service_log_init("gateway", cfg);
    gw g = {0};
    load_gw_config(&g, cfg);
    const char *backend = st_config_str(cfg, "instances.disk_backend");
    if (strcmp(backend, "local") && strcmp(backend, "rbd")) {
        fprintf(stderr, "instances.disk_backend is local or rbd, not '%s'\n", backend);
        st_config_free(cfg);
        return 2;
    }
    st_http_opts o;
    st_service_http_opts(cfg, &o);

    int needs_name =
        !strcmp(cmd, "bootstrap-admin") || !strcmp(cmd, "node-add") || !strcmp(cmd, "node-rotate");
    if (!strcmp(cmd, "routes")) {
        rc = list_routes(&g, &o);
    } else if (strcmp(cmd, "serve") && strcmp(cmd, "migrate") && !needs_name) {
        fprintf(stderr, "stratus-gateway: unknown command '%s' (try --help)\n", cmd);
        rc = 2;
    } else if (needs_name && nrest != 2) {
        fprintf(stderr, "usage: stratus-gateway %s NAME\n", cmd);
        rc = 2;
    } else if (!(g.db = st_service_db(cfg, "gateway", gw_migrations, gw_migrations_count, gw_views,
                                      gw_views_count))) {
        rc = 1;
    } else if (!strcmp(cmd, "migrate")) {
        rc = 0;
    } else if (!strcmp(cmd, "bootstrap-admin")) {
        rc = cmd_bootstrap_admin(&g, rest[1]);
    } else if (!strcmp(cmd, "node-add")) {
        rc = cmd_node_add(&g, rest[1]);
    } else if (!strcmp(cmd, "node-rotate")) {
        rc = cmd_node_rotate(&g, rest[1]);
    } else {
        rc = serve(&g, &o);
    }
    st_db_pool_free(g.db);
    st_config_free(cfg);
    free(rest);
    return rc;
}
