/* Fresh test databases in the ctest-managed cluster: see st_pg.h. */
#include "st_pg.h"
#include "st_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *pg_host(void)
{
    const char *h = getenv("STRATUS_TEST_PGHOST");
    if (!h || !*h)
        st_skip("STRATUS_TEST_PGHOST is not set: run under ctest, which starts PostgreSQL");
    return h;
}

/* libpq ignores a NULL notice processor, so silence notices with a no-op. */
static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

PGconn *st_pg_connect(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "st_pg: cannot connect (%s): %s\n", conninfo, PQerrorMessage(c));
        exit(1);
    }
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    return c;
}

static void admin_exec(const char *sql)
{
    char ci[512];
    snprintf(ci, sizeof ci, "host=%s user=postgres dbname=postgres", pg_host());
    PGconn *c = st_pg_connect(ci);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "st_pg: %s: %s\n", sql, PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
    PQfinish(c);
}

char *st_pg_fresh_db(const char *tag)
{
    static int seq;
    char name[64], sql[160], *ci = malloc(512);
    snprintf(name, sizeof name, "t_%.30s_%d_%d", tag, (int)getpid(), seq++);
    for (char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            *p = '_';
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    admin_exec(sql);
    snprintf(ci, 512, "host=%s user=postgres dbname=%s", pg_host(), name);
    return ci;
}

void st_pg_drop_db(const char *conninfo)
{
    const char *p = strstr(conninfo, "dbname=");
    if (!p)
        return;
    char sql[160];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", p + 7);
    admin_exec(sql);
}

char *st_pg_scalar(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "st_pg: %s: %s\n", sql, PQerrorMessage(c));
        exit(1);
    }
    char *v = NULL;
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}
