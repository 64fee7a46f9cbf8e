/*
 * migrate.h - numbered SQL schema migrations, applied at start-up.
 *
 * A service keeps NNNN_name.sql files in its migrations/ directory; the build
 * embeds them (cmake/StratusEmbed.cmake) as an st_migration array.
 * st_migrate() takes a PostgreSQL advisory lock (so several processes
 * starting at once apply each migration exactly once), applies in order, each
 * in its own transaction, those not yet recorded in public.schema_migrations,
 * and records them with a SHA-256 of their text. A landed migration whose text
 * has since changed is refused: migrations are never edited once landed.
 *
 * What must stay changeable after it lands (the JSON representations of a
 * service's resources) lives instead in repeatable SQL files, as Flyway's
 * R__ scripts: a service's sql/ directory, embedded the same way
 * (stratus_embed_sql_repeatable), each file only CREATE OR REPLACE
 * statements that can run any number of times. st_migrate_repeatable()
 * runs after the numbered migrations, under the same advisory lock, and
 * applies, in name order and in ONE transaction, every file whose SHA-256
 * differs from the one recorded in public.schema_repeatables (or every file
 * when `all`: a numbered migration just ran and may have dropped what they
 * define). A file that fails rolls the whole set back: the definitions
 * already in the database stay as they were and start-up stops.
 */
#ifndef STRATUS_MIGRATE_H
#define STRATUS_MIGRATE_H

#include <stddef.h>

/* A numbered migration, or (version 0) a repeatable file named without .sql. */
typedef struct st_migration {
    int version;
    const char *name;
    const char *sql;
} st_migration;

struct st_db;
/* Returns the number applied (>= 0), or -1 with err filled. */
int st_migrate(struct st_db *db, const char *service, const st_migration *m, int n, char *err,
               size_t errlen);

/* Returns the number of files applied (>= 0), or -1 with err filled. */
int st_migrate_repeatable(struct st_db *db, const char *service, const st_migration *r, int n,
                          int all, char *err, size_t errlen);

#endif
