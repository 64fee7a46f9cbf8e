/*
 * db.h - PostgreSQL through libpq: a pool of connections, parameterised
 * queries only, transactions, and reconnection after the server restarts.
 *
 * Threading model. Services run their HTTP handlers on a few worker threads
 * (http.h), each with its own event loop; a handler takes a connection from
 * the pool, runs its queries synchronously, and gives it back. A slow query
 * therefore blocks only the requests of one worker thread, never the whole
 * service, and no callback spaghetti is needed for a transaction. The pool
 * size bounds the connections one process opens.
 *
 * Every statement text is prepared once per connection (named by a hash of
 * its text) and executed with PQexecPrepared: values travel as parameters,
 * never spliced into SQL, and hot queries skip re-planning.
 *
 * Reconnection. st_db_get() resets a connection it finds broken. A query that
 * fails because the connection died, outside a transaction, is retried once
 * on a fresh connection; inside a transaction the error is returned and the
 * caller's transaction fails (the server rolled it back anyway).
 */
#ifndef STRATUS_DB_H
#define STRATUS_DB_H

#include <libpq-fe.h>
#include <stddef.h>

typedef struct st_db_pool st_db_pool;
typedef struct st_db st_db;

/* size connections at most, opened lazily. NULL when conninfo is malformed. */
st_db_pool *st_db_pool_new(const char *conninfo, int size);
void st_db_pool_free(st_db_pool *pool);
/*
 * Borrows a connection (waiting up to wait_ms for one to be free). NULL when
 * the database is unreachable or the pool stayed exhausted; st_db_pool_error()
 * then says why.
 */
st_db *st_db_get(st_db_pool *pool, int wait_ms);
const char *st_db_pool_error(st_db_pool *pool);
/* The pool's size and the connections handed out now. */
void st_db_pool_usage(st_db_pool *pool, int *size, int *in_use);
/* Gives a connection back, rolling back a transaction left open. */
void st_db_put(st_db *db);

/*
 * Runs one statement with n text parameters (NULL for SQL NULL). Returns the
 * result (PQclear it) or NULL on error; st_db_error()/st_db_sqlstate() say
 * what went wrong.
 */
PGresult *st_db_query(st_db *db, const char *sql, int n, const char *const *params);
/* A statement without rows: affected row count, or -1 on error. */
long long st_db_exec(st_db *db, const char *sql, int n, const char *const *params);
/* Unprepared, unparameterised statements, for migrations and DDL only. */
int st_db_exec_script(st_db *db, const char *sql);

#define ST_DB_ARGS(...)                                                                            \
    (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), (const char *const[])     \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }
/* st_db_q(db, "SELECT ... WHERE id = $1", id) */
#define st_db_q(db, sql, ...) st_db_query(db, sql, ST_DB_ARGS(__VA_ARGS__))
#define st_db_x(db, sql, ...) st_db_exec(db, sql, ST_DB_ARGS(__VA_ARGS__))
#define st_db_q0(db, sql) st_db_query(db, sql, 0, NULL)
#define st_db_x0(db, sql) st_db_exec(db, sql, 0, NULL)

int st_db_begin(st_db *db); /* READ COMMITTED */
int st_db_begin_serializable(st_db *db);
int st_db_commit(st_db *db);
int st_db_rollback(st_db *db);

const char *st_db_error(const st_db *db);
/* Five-character SQLSTATE of the last error, "" when none or no server reply. */
const char *st_db_sqlstate(const st_db *db);
/* 1 when the last error was a unique violation (23505). */
int st_db_unique_violation(const st_db *db);
/* 1 when the last error says the transaction should simply be retried. */
int st_db_retryable(const st_db *db);
/* 1 when the last error was losing the server, not a bad statement. */
int st_db_conn_lost(const st_db *db);
PGconn *st_db_conn(st_db *db);

/* Convenience for results. */
const char *st_db_val(const PGresult *r, int row, int col); /* NULL for SQL NULL */
long long st_db_int(const PGresult *r, int row, int col);

#endif
