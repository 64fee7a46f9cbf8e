/* migrate.c - applies embedded SQL migrations once, in order, and repeatable
 * SQL files whenever their text changed (see migrate.h). */
#include "stratus/migrate.h"
#include "stratus/crypto.h"
#include "stratus/db.h"
#include "stratus/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One lock for every service's migrations: start-up is rare and short. */
#define MIGRATE_LOCK "7352301"

static int lock(st_db *db, char *err, size_t errlen)
{
    PGresult *r = st_db_q0(db, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")");
    if (!r) {
        snprintf(err, errlen, "migration lock: %s", st_db_error(db));
        return -1;
    }
    PQclear(r);
    return 0;
}

static void unlock(st_db *db)
{
    PQclear(st_db_q0(db, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")"));
}

int st_migrate(st_db *db, const char *service, const st_migration *m, int n, char *err,
               size_t errlen)
{
    int applied = 0;
    PGresult *r;
    if (lock(db, err, errlen) < 0)
        return -1;
    if (st_db_exec_script(db, "CREATE TABLE IF NOT EXISTS public.schema_migrations ("
                              " service text NOT NULL,"
                              " version integer NOT NULL,"
                              " name text NOT NULL,"
                              " sha256 text NOT NULL,"
                              " applied_at timestamptz NOT NULL DEFAULT now(),"
                              " PRIMARY KEY (service, version))") < 0) {
        snprintf(err, errlen, "schema_migrations: %s", st_db_error(db));
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        char ver[16], sha[65];
        snprintf(ver, sizeof ver, "%d", m[i].version);
        st_sha256_hex(m[i].sql, strlen(m[i].sql), sha);
        r = st_db_q(db,
                    "SELECT sha256 FROM public.schema_migrations"
                    " WHERE service = $1 AND version = $2",
                    service, ver);
        if (!r) {
            snprintf(err, errlen, "schema_migrations: %s", st_db_error(db));
            goto fail;
        }
        if (PQntuples(r) > 0) {
            int same = strcmp(PQgetvalue(r, 0, 0), sha) == 0;
            PQclear(r);
            if (!same) {
                snprintf(err, errlen,
                         "migration %s/%s was changed after it was applied; "
                         "migrations are never edited once landed",
                         service, m[i].name);
                goto fail;
            }
            continue;
        }
        PQclear(r);
        if (st_db_begin(db) < 0 || st_db_exec_script(db, m[i].sql) < 0 ||
            st_db_x(db,
                    "INSERT INTO public.schema_migrations (service, version, name, sha256)"
                    " VALUES ($1, $2, $3, $4)",
                    service, ver, m[i].name, sha) < 0 ||
            st_db_commit(db) < 0) {
            snprintf(err, errlen, "migration %s/%s failed: %s", service, m[i].name,
                     st_db_error(db));
            st_db_rollback(db);
            goto fail;
        }
        st_info("db.migrate", "applied migration %s/%s", service, m[i].name);
        applied++;
    }
    unlock(db);
    return applied;
fail:
    unlock(db);
    return -1;
}

/* 1 when the file's recorded SHA-256 is sha, 0 when it differs or none is
 * recorded, -1 on error. */
static int recorded(st_db *db, const char *service, const char *name, const char *sha)
{
    PGresult *r = st_db_q(db,
                          "SELECT sha256 FROM public.schema_repeatables"
                          " WHERE service = $1 AND name = $2",
                          service, name);
    if (!r)
        return -1;
    int same = PQntuples(r) > 0 && strcmp(PQgetvalue(r, 0, 0), sha) == 0;
    PQclear(r);
    return same;
}

int st_migrate_repeatable(st_db *db, const char *service, const st_migration *m, int n, int all,
                          char *err, size_t errlen)
{
    int applied = 0;
    if (lock(db, err, errlen) < 0)
        return -1;
    if (st_db_exec_script(db, "CREATE TABLE IF NOT EXISTS public.schema_repeatables ("
                              " service text NOT NULL,"
                              " name text NOT NULL,"
                              " sha256 text NOT NULL,"
                              " applied_at timestamptz NOT NULL DEFAULT now(),"
                              " PRIMARY KEY (service, name))") < 0 ||
        st_db_begin(db) < 0) {
        snprintf(err, errlen, "schema_repeatables: %s", st_db_error(db));
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        char sha[65];
        st_sha256_hex(m[i].sql, strlen(m[i].sql), sha);
        int same = recorded(db, service, m[i].name, sha);
        if (same < 0) {
            snprintf(err, errlen, "schema_repeatables: %s", st_db_error(db));
            goto rollback;
        }
        if (same && !all)
            continue;
        if (st_db_exec_script(db, m[i].sql) < 0) {
            snprintf(err, errlen, "repeatable SQL %s/sql/%s.sql failed, nothing of it applied: %s",
                     service, m[i].name, st_db_error(db));
            goto rollback;
        }
        if (st_db_x(db,
                    "INSERT INTO public.schema_repeatables (service, name, sha256)"
                    " VALUES ($1, $2, $3) ON CONFLICT (service, name) DO UPDATE"
                    " SET sha256 = EXCLUDED.sha256, applied_at = now()",
                    service, m[i].name, sha) < 0) {
            snprintf(err, errlen, "schema_repeatables: %s", st_db_error(db));
            goto rollback;
        }
        applied++;
    }
    if (st_db_commit(db) < 0) {
        snprintf(err, errlen, "repeatable SQL of %s: %s", service, st_db_error(db));
        goto rollback;
    }
    if (applied)
        st_info("db.migrate", "applied %d repeatable SQL file(s) of %s", applied, service);
    unlock(db);
    return applied;
rollback:
    st_db_rollback(db);
fail:
    unlock(db);
    return -1;
}
