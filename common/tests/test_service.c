/*
 * common_service: what every service does the same way (common/service.c,
 * log.c, metrics.c), judged on the real binaries (the gateway, the image
 * service, billing) on a real PostgreSQL:
 *  - /metrics names every metric stratus_* or process_*, carries
 *    stratus_build_info and the process_* set, the database pool's use,
 *    and each service's counters at 0 from start-up;
 *  - log lines go to log.file; after logrotate's move and a SIGHUP the
 *    service is still serving and writes to a new file of that name;
 *  - a SIGHUP after the configuration changed applies log.level and
 *    log.file, and nothing else restarts;
 *  - a file that no longer reads leaves the running configuration alone;
 *  - the gateway logs a node's successful polls at debug, its refused
 *    ones at info.
 */
#include "st_httpc.h"
#include "st_pg.h"
#include "st_proc.h"
#include "st_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct svc {
    const char *name, *bin;
    char conf[512], log[512], url[128];
    char *db;
    st_proc p;
} svc;

static svc svcs[] = {
    {.name = "gateway", .bin = "api-gateway/stratus-gateway"},
    {.name = "images", .bin = "image-store/stratus-images"},
    {.name = "billing", .bin = "billing/stratus-billing"},
};
enum { NSVC = sizeof svcs / sizeof svcs[0] };
static char *dir;

static void write_conf(svc *s, const char *level, const char *logfile)
{
    FILE *f = fopen(s->conf, "w");
    fprintf(f, "db.url = %s\nlog.level = %s\nlog.file = %s\nauth.internal_token = t0ken\n", s->db,
            level, logfile);
    if (!strcmp(s->name, "images"))
        fprintf(f, "store.path = %s/blobs\ndata.listen = 127.0.0.1:0\n", dir);
    fclose(f);
}

/* Occurrences of needle in a file (0 when it does not exist). */
static int count(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

static int wait_count(const char *path, const char *needle, int at_least)
{
    for (int i = 0; i < 100; i++) {
        if (count(path, needle) >= at_least)
            return 0;
        usleep(50000);
    }
    return -1;
}

static long get(svc *s, const char *path, const char *token)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", s->url, path);
    st_resp r;
    st_http(&r, "GET", url, token, NULL, NULL);
    long st = r.status;
    st_resp_free(&r);
    return st;
}

static int setup(void)
{
    if (!getenv("STRATUS_TEST_PGHOST"))
        st_skip("needs the test PostgreSQL");
    dir = st_tmpdir("reload");
    chmod(dir, 0755);
    for (int i = 0; i < NSVC; i++) {
        svc *s = &svcs[i];
        if (access(st_build_path(s->bin), X_OK) != 0)
            st_skip("%s is not built", s->bin);
        s->db = st_pg_fresh_db(s->name);
        snprintf(s->conf, sizeof s->conf, "%s/%s.conf", dir, s->name);
        snprintf(s->log, sizeof s->log, "%s/%s.log", dir, s->name);
        write_conf(s, "info", s->log);
        char portfile[600], out[600];
        snprintf(portfile, sizeof portfile, "%s/%s.port", dir, s->name);
        snprintf(out, sizeof out, "%s/%s.out", dir, s->name);
        char *argv[] = {(char *)st_build_path(s->bin),
                        "--config",
                        s->conf,
                        "--listen",
                        "127.0.0.1:0",
                        "--port-file",
                        portfile,
                        NULL};
        if (st_proc_start(&s->p, argv, NULL, out) < 0 || st_wait_file(portfile, 20000) < 0) {
            st_proc_dump_log(&s->p);
            return 1;
        }
        snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", st_read_port(portfile));
    }
    return 0;
}

static int teardown(void)
{
    for (int i = 0; i < NSVC; i++) {
        if (svcs[i].p.pid > 0)
            st_proc_stop(&svcs[i].p, SIGTERM, 5000);
        if (svcs[i].db)
            st_pg_drop_db(svcs[i].db);
        free(svcs[i].db);
    }
    st_rmtree(dir);
    free(dir);
    return 0;
}

static void test_logs_go_to_the_file(void)
{
    for (int i = 0; i < NSVC; i++) {
        svc *s = &svcs[i];
        ST_ASSERT_INT_EQ(get(s, "/healthz", NULL), 200);
        st_assert_fmt(wait_count(s->log, "\"/healthz\"", 1) == 0, 0, __FILE__, __LINE__,
                      "%s logs its requests to %s", s->name, s->log);
    }
}

static void test_sighup_reopens_after_rotation(void)
{
    for (int i = 0; i < NSVC; i++) {
        svc *s = &svcs[i];
        char rotated[600];
        snprintf(rotated, sizeof rotated, "%s.1", s->log);
        ST_ASSERT_INT_EQ_FATAL(rename(s->log, rotated), 0);
        int before = count(rotated, "\"/healthz\"");
        ST_ASSERT_INT_EQ(kill(s->p.pid, SIGHUP), 0);
        /* the reload says so in the new file */
        st_assert_fmt(wait_count(s->log, "config.reload", 1) == 0, 0, __FILE__, __LINE__,
                      "%s opened %s again after SIGHUP", s->name, s->log);
        ST_ASSERT_INT_EQ(get(s, "/healthz", NULL), 200);
        ST_ASSERT_INT_EQ(wait_count(s->log, "\"/healthz\"", 1), 0);
        ST_ASSERT_INT_EQ(count(rotated, "\"/healthz\""), before);
        CU_ASSERT(st_proc_alive(&s->p));
    }
}

static void test_sighup_applies_level_and_file(void)
{
    for (int i = 0; i < NSVC; i++) {
        svc *s = &svcs[i];
        char quiet[600];
        snprintf(quiet, sizeof quiet, "%s/%s-warn.log", dir, s->name);
        write_conf(s, "warn", quiet);
        int before = count(s->log, "\"/healthz\"");
        ST_ASSERT_INT_EQ(kill(s->p.pid, SIGHUP), 0);
        struct stat st;
        for (int t = 0; t < 100 && stat(quiet, &st) != 0; t++)
            usleep(50000);
        ST_ASSERT_INT_EQ_FATAL(stat(quiet, &st), 0);
        for (int k = 0; k < 3; k++)
            ST_ASSERT_INT_EQ(get(s, "/healthz", NULL), 200);
        usleep(200000);
        /* warn: no access line anywhere, and none in the file left behind */
        ST_ASSERT_INT_EQ(count(quiet, "http.request"), 0);
        ST_ASSERT_INT_EQ(count(s->log, "\"/healthz\""), before);
        /* back to info in the first file */
        write_conf(s, "info", s->log);
        ST_ASSERT_INT_EQ(kill(s->p.pid, SIGHUP), 0);
        ST_ASSERT_INT_EQ(wait_count(s->log, "config.reload", 2), 0);
        CU_ASSERT(st_proc_alive(&s->p));
    }
}

static void test_unreadable_config_changes_nothing(void)
{
    svc *s = &svcs[2];
    FILE *f = fopen(s->conf, "a");
    fputs("no.such.key = 1\n", f);
    fclose(f);
    int before = count(s->log, "config.reload");
    ST_ASSERT_INT_EQ(kill(s->p.pid, SIGHUP), 0);
    ST_ASSERT_INT_EQ(wait_count(s->log, "the running configuration stays", 1), 0);
    ST_ASSERT_INT_EQ(count(s->log, "config.reload"), before + 1); /* the error line only */
    ST_ASSERT_INT_EQ(get(s, "/healthz", NULL), 200);
    ST_ASSERT_INT_EQ(wait_count(s->log, "\"/healthz\"", 1), 0);
    write_conf(s, "info", s->log);
}

static void test_node_polls_are_debug_lines(void)
{
    svc *g = &svcs[0];
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "%s --config %s node-add reload-node 2>/dev/null",
             st_build_path(g->bin), g->conf);
    FILE *pf = popen(cmd, "r");
    char cred[512] = "";
    if (!fgets(cred, sizeof cred, pf))
        cred[0] = '\0';
    pclose(pf);
    cred[strcspn(cred, "\n")] = '\0';
    CU_ASSERT_FATAL(cred[0] != '\0');
    ST_ASSERT_INT_EQ(get(g, "/internal/v1/node/instances", cred), 200);
    ST_ASSERT_INT_EQ(get(g, "/internal/v1/node/instances", "stn_not-a-credential"), 401);
    /* the refused poll is an info line; the good one is not */
    ST_ASSERT_INT_EQ(wait_count(g->log, "\"status\":401", 1), 0);
    ST_ASSERT_INT_EQ(count(g->log, "/internal/v1/node/instances"), 1);
}

static char *metrics_of(svc *s)
{
    char url[256];
    snprintf(url, sizeof url, "%s/metrics", s->url);
    st_resp r;
    st_http(&r, "GET", url, NULL, NULL, NULL);
    char *body = r.status == 200 && r.body ? strdup(r.body) : strdup("");
    st_resp_free(&r);
    return body;
}

static void test_metrics_are_named_and_present(void)
{
    static const char *const common_names[] = {"stratus_build_info{service=\"",
                                               "process_cpu_seconds_total ",
                                               "process_resident_memory_bytes ",
                                               "process_open_fds ",
                                               "process_max_fds ",
                                               "process_start_time_seconds ",
                                               "stratus_db_connections_in_use ",
                                               "stratus_db_pool_size 8\n"};
    /* present at 0 before anything happened */
    static const char *const at_zero[][4] = {
        {"stratus_gateway_instances{state=\"active\"} 0\n",
         "stratus_gateway_instances{state=\"error\"} 0\n"},
        {"stratus_images_uploads_total{result=\"active\"} 0\n",
         "stratus_images_blob_corrupt_total 0\n"},
        {"stratus_billing_invoices_issued_total 0\n",
         "stratus_billing_batches_total{result=\"applied\"} 0\n",
         "stratus_billing_samples_total{outcome=\"accepted\"} 0\n",
         "stratus_billing_ingest_lag_seconds 0\n"},
    };
    for (int i = 0; i < NSVC; i++) {
        char *m = metrics_of(&svcs[i]);
        for (size_t k = 0; k < sizeof common_names / sizeof *common_names; k++)
            st_assert_fmt(strstr(m, common_names[k]) != NULL, 0, __FILE__, __LINE__,
                          "%s /metrics has %s", svcs[i].name, common_names[k]);
        for (int k = 0; k < 4 && at_zero[i][k]; k++)
            st_assert_fmt(strstr(m, at_zero[i][k]) != NULL, 0, __FILE__, __LINE__,
                          "%s /metrics has %s", svcs[i].name, at_zero[i][k]);
        /* every sample line's name begins stratus_ or process_ */
        int lines = 0;
        for (char *save = NULL, *l = strtok_r(m, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            if (l[0] == '#')
                continue;
            lines++;
            st_assert_fmt(!strncmp(l, "stratus_", 8) || !strncmp(l, "process_", 8), 0, __FILE__,
                          __LINE__, "%s exports %.60s", svcs[i].name, l);
        }
        CU_ASSERT(lines > 10);
        free(m);
    }
}

static CU_TestInfo tests[] = {
    {"/metrics: stratus_* and process_* only, build info, pool use, counters at 0 from start",
     test_metrics_are_named_and_present},
    {"log lines go to log.file", test_logs_go_to_the_file},
    {"after logrotate's move, SIGHUP opens the file again and the service serves on",
     test_sighup_reopens_after_rotation},
    {"SIGHUP applies a changed log.level and log.file", test_sighup_applies_level_and_file},
    {"SIGHUP with a configuration that does not read changes nothing",
     test_unreadable_config_changes_nothing},
    {"the gateway logs a node's good polls at debug and its refused ones at info",
     test_node_polls_are_debug_lines},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"reload", setup, teardown, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
