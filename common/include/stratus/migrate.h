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
 */
#ifndef STRATUS_MIGRATE_H
#define STRATUS_MIGRATE_H

#include <stddef.h>

typedef struct st_migration {
    int version;
    const char *name;
    const char *sql;
} st_migration;

struct st_db;
/* Returns the number applied (>= 0), or -1 with err filled. */
int st_migrate(struct st_db *db, const char *service, const st_migration *m, int n, char *err,
               size_t errlen);

#endif
