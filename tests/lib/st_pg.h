/*
 * st_pg.h - a fresh, real PostgreSQL database for each integration test.
 *
 * ctest starts one private cluster for the whole run (fixture common_pg,
 * tests/harness/pg-fixture.sh) and passes its socket directory in
 * STRATUS_TEST_PGHOST. st_pg_fresh_db() creates a new empty database in it
 * and returns its libpq connection string; a program run outside ctest
 * without that variable is skipped (exit 77) with a message saying why.
 */
#ifndef ST_PG_H
#define ST_PG_H

#include <libpq-fe.h>

/* Returns a malloc'd conninfo for a new empty database named after tag. */
char *st_pg_fresh_db(const char *tag);
/* Drops the database behind conninfo (terminating its connections). */
void st_pg_drop_db(const char *conninfo);
/* Connects or fails the test program (exit 1) with libpq's message. */
PGconn *st_pg_connect(const char *conninfo);
/* Runs one statement; returns the first column of the first row as a
 * malloc'd string (NULL when there is no row). Fails loudly on SQL errors. */
char *st_pg_scalar(PGconn *c, const char *sql);

#endif
