/* The PostgreSQL layer against a real server: pool, queries, transactions,
 * reconnection, migrations and repeatable SQL files. */
#include "st_pg.h"
#include "st_test.h"
#include "stratus/db.h"
#include "stratus/log.h"
#include "stratus/migrate.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const st_migration test_migrations[];
extern const int test_migrations_count;

static char *conninfo;

static int suite_init(void)
{
    st_log_init("test", ST_LOG_ERROR);
    conninfo = st_pg_fresh_db("common_db");
    return 0;
}

static int suite_clean(void)
{
    st_pg_drop_db(conninfo);
    free(conninfo);
    return 0;
}

static void test_migrations_apply_once_in_order(void)
{
    st_db_pool *p = st_db_pool_new(conninfo, 2);
    st_db *db = st_db_get(p, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    char err[512] = "";
    ST_ASSERT_INT_EQ(
        st_migrate(db, "test", test_migrations, test_migrations_count, err, sizeof err), 2);
    ST_ASSERT_INT_EQ(
        st_migrate(db, "test", test_migrations, test_migrations_count, err, sizeof err), 0);
    PGresult *r = st_db_q0(db, "SELECT name, size FROM widgets");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    ST_ASSERT_STR_EQ(st_db_val(r, 0, 0), "semi;colon");
    ST_ASSERT_INT_EQ(st_db_int(r, 0, 1), 1);
    PQclear(r);

    /* Editing a landed migration is refused. */
    st_migration edited[2] = {test_migrations[0], test_migrations[1]};
    edited[1].sql = "ALTER TABLE widgets ADD COLUMN colour text;";
    ST_ASSERT_INT_EQ(st_migrate(db, "test", edited, 2, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "changed after it was applied"));
    st_db_put(db);
    st_db_pool_free(p);
}

typedef struct mig_arg {
    const char *ci;
    int applied;
} mig_arg;

static void *migrate_thread(void *arg)
{
    mig_arg *a = arg;
    st_db_pool *p = st_db_pool_new(a->ci, 1);
    st_db *db = st_db_get(p, 5000);
    char err[512];
    a->applied =
        db ? st_migrate(db, "test", test_migrations, test_migrations_count, err, sizeof err) : -1;
    st_db_put(db);
    st_db_pool_free(p);
    return NULL;
}

static void test_concurrent_migrators_apply_each_step_once(void)
{
    char *ci = st_pg_fresh_db("common_mig");
    enum { N = 4 };
    pthread_t th[N];
    mig_arg a[N];
    for (int i = 0; i < N; i++) {
        a[i] = (mig_arg){ci, -2};
        pthread_create(&th[i], NULL, migrate_thread, &a[i]);
    }
    int total = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT(a[i].applied >= 0);
        total += a[i].applied;
    }
    ST_ASSERT_INT_EQ(total, 2);
    st_pg_drop_db(ci);
    free(ci);
}

static void test_parameters_are_data_not_sql(void)
{
    st_db_pool *p = st_db_pool_new(conninfo, 1);
    st_db *db = st_db_get(p, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    const char *evil = "x'); DROP TABLE widgets; --";
    ST_ASSERT_INT_EQ(st_db_x(db, "INSERT INTO widgets (name) VALUES ($1)", evil), 1);
    PGresult *r = st_db_q(db, "SELECT count(*) FROM widgets WHERE name = $1", evil);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    ST_ASSERT_INT_EQ(st_db_int(r, 0, 0), 1);
    PQclear(r);
    /* unique violation is reported as such */
    ST_ASSERT_INT_EQ(st_db_x(db, "INSERT INTO widgets (name) VALUES ($1)", evil), -1);
    CU_ASSERT_TRUE(st_db_unique_violation(db));
    ST_ASSERT_STR_EQ(st_db_sqlstate(db), "23505");
    /* NULL parameters are SQL NULL */
    r = st_db_query(db, "SELECT $1::text IS NULL", 1, (const char *const[]){NULL});
    ST_ASSERT_STR_EQ(st_db_val(r, 0, 0), "t");
    PQclear(r);
    st_db_put(db);
    st_db_pool_free(p);
}

static void test_transactions_commit_and_roll_back(void)
{
    st_db_pool *p = st_db_pool_new(conninfo, 1);
    st_db *db = st_db_get(p, 1000);
    ST_ASSERT_INT_EQ(st_db_begin(db), 0);
    st_db_x(db, "INSERT INTO widgets (name) VALUES ($1)", "rolled-back");
    ST_ASSERT_INT_EQ(st_db_rollback(db), 0);
    ST_ASSERT_INT_EQ(st_db_begin(db), 0);
    st_db_x(db, "INSERT INTO widgets (name) VALUES ($1)", "committed");
    ST_ASSERT_INT_EQ(st_db_commit(db), 0);
    /* a transaction left open is rolled back when the connection is returned */
    ST_ASSERT_INT_EQ(st_db_begin(db), 0);
    st_db_x(db, "INSERT INTO widgets (name) VALUES ($1)", "abandoned");
    st_db_put(db);
    db = st_db_get(p, 1000);
    /* COMMIT after an error inside the transaction reports failure */
    ST_ASSERT_INT_EQ(st_db_begin(db), 0);
    ST_ASSERT_INT_EQ(st_db_x0(db, "SELECT 1/0"), -1);
    ST_ASSERT_INT_EQ(st_db_commit(db), -1);
    PGresult *r = st_db_q0(db, "SELECT string_agg(name, ',' ORDER BY name) FROM widgets "
                               "WHERE name IN ('rolled-back', 'committed', 'abandoned')");
    ST_ASSERT_STR_EQ(st_db_val(r, 0, 0), "committed");
    PQclear(r);
    st_db_put(db);
    st_db_pool_free(p);
}

static void test_reconnects_after_server_drops_connection(void)
{
    st_db_pool *p = st_db_pool_new(conninfo, 1);
    st_db *db = st_db_get(p, 1000);
    PGresult *r = st_db_q0(db, "SELECT pg_backend_pid()");
    char *pid = strdup(st_db_val(r, 0, 0));
    PQclear(r);
    st_db_put(db);
    /* What a server restart does to every idle connection. */
    PGconn *admin = st_pg_connect(conninfo);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%s)", pid);
    free(st_pg_scalar(admin, sql));
    PQfinish(admin);
    for (int i = 0; i < 100; i++) {
        /* termination is asynchronous: wait until the socket says so */
        db = st_db_get(p, 1000);
        CU_ASSERT_PTR_NOT_NULL_FATAL(db);
        r = st_db_q0(db, "SELECT pg_backend_pid()");
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        int moved = strcmp(st_db_val(r, 0, 0), pid) != 0;
        PQclear(r);
        st_db_put(db);
        if (moved)
            break;
        CU_ASSERT_FATAL(i < 99);
        usleep(10000);
    }
    free(pid);
    st_db_pool_free(p);
}

static void test_exhausted_pool_times_out_with_reason(void)
{
    st_db_pool *p = st_db_pool_new(conninfo, 1);
    st_db *a = st_db_get(p, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NULL(st_db_get(p, 50));
    CU_ASSERT_PTR_NOT_NULL(strstr(st_db_pool_error(p), "busy"));
    st_db_put(a);
    st_db *b = st_db_get(p, 50);
    CU_ASSERT_PTR_NOT_NULL(b);
    st_db_put(b);
    st_db_pool_free(p);
    /* an unreachable server gives NULL and says so */
    p = st_db_pool_new("host=/nonexistent-socket-dir dbname=x connect_timeout=1", 1);
    CU_ASSERT_PTR_NULL(st_db_get(p, 100));
    CU_ASSERT_PTR_NOT_NULL(strstr(st_db_pool_error(p), "unreachable"));
    st_db_pool_free(p);
}

/* A repeatable file: defines rep_answer() and counts its own runs. */
#define REP(answer)                                                                                \
    "CREATE OR REPLACE FUNCTION rep_answer() RETURNS int LANGUAGE sql AS $$ SELECT " answer        \
    " $$; UPDATE rep_runs SET n = n + 1;"

static long long rep_q(st_db *db, const char *sql)
{
    PGresult *r = st_db_q0(db, sql);
    long long v = r && PQntuples(r) == 1 ? st_db_int(r, 0, 0) : -1;
    PQclear(r);
    return v;
}

static void test_repeatables_rerun_only_when_changed(void)
{
    st_db_pool *p = st_db_pool_new(conninfo, 1);
    st_db *db = st_db_get(p, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    ST_ASSERT_INT_EQ(st_db_exec_script(db, "CREATE TABLE rep_runs (n int);"
                                           "INSERT INTO rep_runs VALUES (0)"),
                     0);
    char err[512] = "";
    st_migration v1[] = {{0, "views", REP("1")}};
    ST_ASSERT_INT_EQ(st_migrate_repeatable(db, "rep", v1, 1, 0, err, sizeof err), 1);
    ST_ASSERT_INT_EQ(rep_q(db, "SELECT rep_answer()"), 1);
    /* a second start with the same text runs nothing */
    ST_ASSERT_INT_EQ(st_migrate_repeatable(db, "rep", v1, 1, 0, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(rep_q(db, "SELECT n FROM rep_runs"), 1);
    /* the file edited between two starts: applied again */
    st_migration v2[] = {{0, "views", REP("2")}};
    ST_ASSERT_INT_EQ(st_migrate_repeatable(db, "rep", v2, 1, 0, err, sizeof err), 1);
    ST_ASSERT_INT_EQ(rep_q(db, "SELECT rep_answer()"), 2);
    ST_ASSERT_INT_EQ(rep_q(db, "SELECT n FROM rep_runs"), 2);
    /* after a numbered migration ran, every file runs again */
    ST_ASSERT_INT_EQ(st_migrate_repeatable(db, "rep", v2, 1, 1, err, sizeof err), 1);
    ST_ASSERT_INT_EQ(rep_q(db, "SELECT n FROM rep_runs"), 3);

    /* A broken file fails with the file's name and the server's reason, and
     * the whole set rolls back: the good file before it too. */
    st_migration broken[] = {
        {0, "a_good",
         "CREATE OR REPLACE FUNCTION rep_other() RETURNS int LANGUAGE sql AS"
         " $$ SELECT 7 $$;"},
        {0, "views", REP("3") "SELECT no_such_column FROM rep_runs;"},
    };
    ST_ASSERT_INT_EQ(st_migrate_repeatable(db, "rep", broken, 2, 0, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "rep/sql/views.sql failed"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no_such_column"));
    ST_ASSERT_INT_EQ(rep_q(db, "SELECT rep_answer()"), 2);
    ST_ASSERT_INT_EQ(rep_q(db, "SELECT count(*) FROM pg_proc WHERE proname = 'rep_other'"), 0);
    ST_ASSERT_INT_EQ(rep_q(db, "SELECT n FROM rep_runs"), 3);
    /* nothing of it was recorded: the last good text is still current */
    ST_ASSERT_INT_EQ(st_migrate_repeatable(db, "rep", v2, 1, 0, err, sizeof err), 0);
    /* and the connection is usable for the fixed file */
    st_migration fixed[] = {broken[0], {0, "views", REP("3")}};
    ST_ASSERT_INT_EQ(st_migrate_repeatable(db, "rep", fixed, 2, 0, err, sizeof err), 2);
    ST_ASSERT_INT_EQ(rep_q(db, "SELECT rep_answer() + rep_other()"), 10);
    st_db_put(db);
    st_db_pool_free(p);
}

typedef struct rep_arg {
    const char *ci;
    int applied;
} rep_arg;

static void *repeatable_thread(void *arg)
{
    static const st_migration files[] = {{0, "views", REP("5")}};
    rep_arg *a = arg;
    st_db_pool *p = st_db_pool_new(a->ci, 1);
    st_db *db = st_db_get(p, 5000);
    char err[512];
    a->applied = db ? st_migrate_repeatable(db, "rep", files, 1, 0, err, sizeof err) : -1;
    st_db_put(db);
    st_db_pool_free(p);
    return NULL;
}

/* Two services starting at once: one applies the file, the other finds it
 * recorded (they share the migrations' advisory lock). */
static void test_concurrent_starts_apply_repeatables_once(void)
{
    char *ci = st_pg_fresh_db("common_rep");
    st_db_pool *p = st_db_pool_new(ci, 1);
    st_db *db = st_db_get(p, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    ST_ASSERT_INT_EQ(st_db_exec_script(db, "CREATE TABLE rep_runs (n int);"
                                           "INSERT INTO rep_runs VALUES (0)"),
                     0);
    enum { N = 4 };
    pthread_t th[N];
    rep_arg a[N];
    for (int i = 0; i < N; i++) {
        a[i] = (rep_arg){ci, -2};
        pthread_create(&th[i], NULL, repeatable_thread, &a[i]);
    }
    int total = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT(a[i].applied >= 0);
        total += a[i].applied;
    }
    ST_ASSERT_INT_EQ(total, 1);
    ST_ASSERT_INT_EQ(rep_q(db, "SELECT n FROM rep_runs"), 1);
    st_db_put(db);
    st_db_pool_free(p);
    st_pg_drop_db(ci);
    free(ci);
}

static CU_TestInfo tests[] = {
    {"migrations apply once, in order, and edits are refused", test_migrations_apply_once_in_order},
    {"concurrent migrators apply each step exactly once",
     test_concurrent_migrators_apply_each_step_once},
    {"repeatable SQL runs again only when its text changed, and a broken file changes nothing",
     test_repeatables_rerun_only_when_changed},
    {"concurrent starts apply a repeatable file once",
     test_concurrent_starts_apply_repeatables_once},
    {"parameters are data, never SQL", test_parameters_are_data_not_sql},
    {"transactions commit, roll back, and report a failed commit",
     test_transactions_commit_and_roll_back},
    {"reconnects after the server drops the connection",
     test_reconnects_after_server_drops_connection},
    {"an exhausted or unreachable pool says why", test_exhausted_pool_times_out_with_reason},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"db", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
