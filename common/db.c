/*
 * db.c - the libpq connection pool (see db.h for the model).
 *
 * Pool. A fixed array of slots, each a possibly-unopened connection, and a
 * stack of free slot indices under one mutex; st_db_get() waits on a
 * condition variable when all are borrowed. Connections open lazily, so an
 * idle service holds one connection, not `size`.
 *
 * Liveness. When PostgreSQL restarts, the server closes every idle
 * connection; libpq only notices on the next read. st_db_get() therefore
 * polls the socket of the connection it hands out (no round trip): readable
 * while idle means the server said goodbye, so the connection is reset before
 * use. A statement that still fails with the connection gone is retried once
 * on a fresh connection only when it is a plain SELECT outside a transaction,
 * where repeating it cannot do anything twice.
 *
 * Statements. Each connection caches which statement texts it has prepared
 * (open hashing on a 64-bit FNV-1a of the text, text compared on hit); the
 * cache is dropped with the connection on reset.
 */
#include "stratus/db.h"
#include "stratus/crypto.h"
#include "stratus/log.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct stmt {
    uint64_t hash;
    char *sql;
} stmt;

struct st_db {
    st_db_pool *pool;
    int index;
    PGconn *conn;
    int in_txn;
    int lost;
    char err[512];
    char sqlstate[6];
    stmt *stmts;
    size_t nstmts, cap;
};

struct st_db_pool {
    char *conninfo;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    st_db *slots;
    int size;
    int *free_stack;
    int nfree;
    char err[640];
};

static void stmts_clear(st_db *db)
{
    for (size_t i = 0; i < db->cap; i++)
        free(db->stmts[i].sql);
    free(db->stmts);
    db->stmts = NULL;
    db->nstmts = db->cap = 0;
}

static uint64_t fnv64(const char *s)
{
    uint64_t h = st_fnv1a64(s, strlen(s));
    return h ? h : 1; /* 0 marks an empty cache slot */
}

/* Finds sql in the cache; returns 1 when already prepared. */
static int stmt_known(st_db *db, uint64_t h, const char *sql)
{
    if (!db->cap)
        return 0;
    for (size_t i = h % db->cap;; i = (i + 1) % db->cap) {
        if (!db->stmts[i].hash)
            return 0;
        if (db->stmts[i].hash == h && strcmp(db->stmts[i].sql, sql) == 0)
            return 1;
    }
}

static void stmt_add(st_db *db, uint64_t h, const char *sql)
{
    if ((db->nstmts + 1) * 2 > db->cap) {
        size_t ncap = db->cap ? db->cap * 2 : 64;
        stmt *n = calloc(ncap, sizeof *n);
        for (size_t i = 0; i < db->cap; i++) {
            if (!db->stmts[i].hash)
                continue;
            size_t j = db->stmts[i].hash % ncap;
            while (n[j].hash)
                j = (j + 1) % ncap;
            n[j] = db->stmts[i];
        }
        free(db->stmts);
        db->stmts = n;
        db->cap = ncap;
    }
    size_t j = h % db->cap;
    while (db->stmts[j].hash)
        j = (j + 1) % db->cap;
    db->stmts[j].hash = h;
    db->stmts[j].sql = strdup(sql);
    db->nstmts++;
}

static void set_err(st_db *db, const char *msg, const char *state)
{
    snprintf(db->err, sizeof db->err, "%s", msg ? msg : "unknown database error");
    /* libpq messages end with a newline; logs and clients do not want it. */
    size_t n = strlen(db->err);
    while (n && (db->err[n - 1] == '\n' || db->err[n - 1] == ' '))
        db->err[--n] = 0;
    snprintf(db->sqlstate, sizeof db->sqlstate, "%s", state ? state : "");
}

/* libpq ignores a NULL notice processor, so silence notices with a no-op. */
static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static int conn_setup(st_db *db)
{
    PGresult *r = PQexec(db->conn, "SET TIME ZONE 'UTC'; SET DateStyle = 'ISO, YMD'; "
                                   "SET application_name = 'stratus'");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    PQsetNoticeProcessor(db->conn, quiet_notice, NULL);
    return ok ? 0 : -1;
}

static int conn_open(st_db *db)
{
    stmts_clear(db);
    db->in_txn = 0;
    if (db->conn) {
        PQreset(db->conn);
    } else {
        db->conn = PQconnectdb(db->pool->conninfo);
    }
    if (PQstatus(db->conn) != CONNECTION_OK || conn_setup(db) < 0) {
        set_err(db, PQerrorMessage(db->conn), "08006");
        return -1;
    }
    return 0;
}

/* Idle connection readable = the server sent an error and closed it. */
static void conn_check(st_db *db)
{
    if (!db->conn || PQstatus(db->conn) != CONNECTION_OK)
        return;
    struct pollfd p = {.fd = PQsocket(db->conn), .events = POLLIN};
    if (p.fd >= 0 && poll(&p, 1, 0) > 0) {
        PQconsumeInput(db->conn);
        PGresult *r;
        while ((r = PQgetResult(db->conn)) != NULL)
            PQclear(r);
        if (PQstatus(db->conn) != CONNECTION_OK)
            st_warn("db.reconnect", "connection closed by the server; reconnecting");
    }
}

st_db_pool *st_db_pool_new(const char *conninfo, int size)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &errmsg);
    if (!opts) {
        st_error("db.config", "bad connection string: %s", errmsg ? errmsg : "?");
        PQfreemem(errmsg);
        return NULL;
    }
    PQconninfoFree(opts);
    if (size < 1)
        size = 1;
    st_db_pool *p = calloc(1, sizeof *p);
    p->conninfo = strdup(conninfo);
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    p->size = size;
    p->slots = calloc((size_t)size, sizeof *p->slots);
    p->free_stack = calloc((size_t)size, sizeof(int));
    /* Slot 0 on top, so a lightly loaded service reuses one connection. */
    for (int i = 0; i < size; i++) {
        p->slots[i].pool = p;
        p->slots[i].index = i;
        p->free_stack[i] = size - 1 - i;
    }
    p->nfree = size;
    return p;
}

void st_db_pool_free(st_db_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->size; i++) {
        stmts_clear(&p->slots[i]);
        if (p->slots[i].conn)
            PQfinish(p->slots[i].conn);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->slots);
    free(p->free_stack);
    free(p->conninfo);
    free(p);
}

void st_db_pool_usage(st_db_pool *p, int *size, int *in_use)
{
    pthread_mutex_lock(&p->mu);
    *size = p->size;
    *in_use = p->size - p->nfree;
    pthread_mutex_unlock(&p->mu);
}

const char *st_db_pool_error(st_db_pool *p)
{
    return p->err;
}

st_db *st_db_get(st_db_pool *p, int wait_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    while (p->nfree == 0) {
        if (pthread_cond_timedwait(&p->cv, &p->mu, &until) == ETIMEDOUT && p->nfree == 0) {
            snprintf(p->err, sizeof p->err, "all %d database connections are busy", p->size);
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
    }
    st_db *db = &p->slots[p->free_stack[--p->nfree]];
    pthread_mutex_unlock(&p->mu);

    db->err[0] = db->sqlstate[0] = 0;
    db->lost = 0;
    conn_check(db);
    if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
        if (conn_open(db) < 0) {
            pthread_mutex_lock(&p->mu);
            snprintf(p->err, sizeof p->err, "database unreachable: %s", db->err);
            p->free_stack[p->nfree++] = db->index;
            pthread_cond_signal(&p->cv);
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
    }
    return db;
}

void st_db_put(st_db *db)
{
    if (!db)
        return;
    if (db->conn && PQstatus(db->conn) == CONNECTION_OK &&
        (db->in_txn || PQtransactionStatus(db->conn) != PQTRANS_IDLE)) {
        PGresult *r = PQexec(db->conn, "ROLLBACK");
        PQclear(r);
    }
    db->in_txn = 0;
    st_db_pool *p = db->pool;
    pthread_mutex_lock(&p->mu);
    p->free_stack[p->nfree++] = db->index;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static int is_select(const char *sql)
{
    while (*sql == ' ' || *sql == '\n' || *sql == '\t')
        sql++;
    return strncasecmp(sql, "SELECT", 6) == 0;
}

static int result_ok(st_db *db, PGresult *r)
{
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
        return 1;
    if (r)
        set_err(db, PQresultErrorMessage(r), PQresultErrorField(r, PG_DIAG_SQLSTATE));
    else
        set_err(db, PQerrorMessage(db->conn), NULL);
    db->lost = PQstatus(db->conn) != CONNECTION_OK;
    if (db->lost && !db->sqlstate[0])
        snprintf(db->sqlstate, sizeof db->sqlstate, "08006");
    return 0;
}

PGresult *st_db_query(st_db *db, const char *sql, int n, const char *const *params)
{
    for (int attempt = 0;; attempt++) {
        db->err[0] = db->sqlstate[0] = 0;
        db->lost = 0;
        if (PQstatus(db->conn) != CONNECTION_OK) {
            if (db->in_txn || conn_open(db) < 0) {
                set_err(db, "connection to the database was lost", "08006");
                db->lost = 1;
                return NULL;
            }
        }
        uint64_t h = fnv64(sql);
        char name[24];
        snprintf(name, sizeof name, "s%016llx", (unsigned long long)h);
        PGresult *r = NULL;
        int ok = 1;
        if (!stmt_known(db, h, sql)) {
            r = PQprepare(db->conn, name, sql, n, NULL);
            ok = result_ok(db, r);
            PQclear(r);
            r = NULL;
            if (ok)
                stmt_add(db, h, sql);
        }
        if (ok) {
            r = PQexecPrepared(db->conn, name, n, params, NULL, NULL, 0);
            if (result_ok(db, r))
                return r;
            PQclear(r);
        }
        if (!(db->lost && !db->in_txn && attempt == 0 && is_select(sql)))
            return NULL;
        st_warn("db.retry", "connection lost; retrying a read on a fresh connection");
    }
}

long long st_db_exec(st_db *db, const char *sql, int n, const char *const *params)
{
    PGresult *r = st_db_query(db, sql, n, params);
    if (!r)
        return -1;
    const char *t = PQcmdTuples(r);
    long long rows = *t ? strtoll(t, NULL, 10) : 0;
    PQclear(r);
    return rows;
}

int st_db_exec_script(st_db *db, const char *sql)
{
    PGresult *r = PQexec(db->conn, sql);
    int ok = result_ok(db, r);
    PQclear(r);
    return ok ? 0 : -1;
}

int st_db_begin(st_db *db)
{
    if (PQstatus(db->conn) != CONNECTION_OK && conn_open(db) < 0)
        return -1;
    if (st_db_exec_script(db, "BEGIN") < 0)
        return -1;
    db->in_txn = 1;
    return 0;
}

int st_db_begin_serializable(st_db *db)
{
    if (PQstatus(db->conn) != CONNECTION_OK && conn_open(db) < 0)
        return -1;
    if (st_db_exec_script(db, "BEGIN ISOLATION LEVEL SERIALIZABLE") < 0)
        return -1;
    db->in_txn = 1;
    return 0;
}

int st_db_commit(st_db *db)
{
    PGresult *r = PQexec(db->conn, "COMMIT");
    int ok = result_ok(db, r);
    /* COMMIT of a failed transaction "succeeds" as ROLLBACK: say so. */
    if (ok && strcmp(PQcmdStatus(r), "ROLLBACK") == 0) {
        set_err(db, "transaction was rolled back after an earlier error", "25P02");
        ok = 0;
    }
    PQclear(r);
    db->in_txn = 0;
    return ok ? 0 : -1;
}

int st_db_rollback(st_db *db)
{
    db->in_txn = 0;
    if (PQstatus(db->conn) != CONNECTION_OK)
        return 0;
    return st_db_exec_script(db, "ROLLBACK");
}

const char *st_db_error(const st_db *db)
{
    return db->err;
}
const char *st_db_sqlstate(const st_db *db)
{
    return db->sqlstate;
}
int st_db_unique_violation(const st_db *db)
{
    return strcmp(db->sqlstate, "23505") == 0;
}
int st_db_retryable(const st_db *db)
{
    return strcmp(db->sqlstate, "40001") == 0 || strcmp(db->sqlstate, "40P01") == 0;
}
int st_db_conn_lost(const st_db *db)
{
    return db->lost;
}
PGconn *st_db_conn(st_db *db)
{
    return db->conn;
}

const char *st_db_val(const PGresult *r, int row, int col)
{
    if (row >= PQntuples(r) || col >= PQnfields(r) || PQgetisnull(r, row, col))
        return NULL;
    return PQgetvalue(r, row, col);
}

long long st_db_int(const PGresult *r, int row, int col)
{
    const char *v = st_db_val(r, row, col);
    return v ? strtoll(v, NULL, 10) : 0;
}
