/*
 * blobs.c - content-addressed blobs: storing one as an image becomes active,
 * and removing it when the last active image using it goes.
 *
 * The race to avoid: an upload of bytes B finishing (B is in the store
 * already, so it skips writing) while the last image using B is deleted
 * (which removes B from the store): the new image would be active with no
 * bytes. Both paths therefore run under a PostgreSQL advisory lock keyed by
 * the blob's hash (the first 64 bits of it), held on one pooled connection:
 *
 *   commit: lock(B); blob row; store.put(B); image saving -> active; unlock(B)
 *   gc:     lock(B); if no active image has checksum B: store.remove(B),
 *           delete the blob row; unlock(B)
 *
 * so a blob is only ever removed while no commit of it is in flight, and a
 * commit always finds its bytes in the store when it activates the image.
 * A crash between store.remove and the row delete leaves a row for a missing
 * blob: harmless, since put() always checks the store, never the row. The
 * row is written before put(), so a crash after put() but before the image
 * became active leaves a row no active image uses, which img_reap()
 * collects (removing the blob).
 */
#include "images.h"
#include "stratus/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define LOCK_KEY "('x' || substr($1, 1, 16))::bit(64)::bigint"

static int lock_blob(st_db *db, const char *sha, int lock)
{
    PGresult *r = lock ? st_db_q(db, "SELECT pg_advisory_lock(" LOCK_KEY ")", sha)
                       : st_db_q(db, "SELECT pg_advisory_unlock(" LOCK_KEY ")", sha);
    int ok = r != NULL;
    PQclear(r);
    return ok ? 0 : -1;
}

int img_blob_commit(img_svc *s, const char *id, const char *tmp, const char *sha, uint64_t size,
                    uint64_t vsize, char *err, size_t errlen)
{
    st_db *db = st_db_get(s->db, 30000);
    if (!db) {
        snprintf(err, errlen, "the image database is unavailable");
        return -EAGAIN;
    }
    if (lock_blob(db, sha, 1) < 0) {
        snprintf(err, errlen, "the image database is unavailable");
        st_db_put(db);
        return -EAGAIN;
    }
    char sz[24], vsz[24];
    snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
    snprintf(vsz, sizeof vsz, "%llu", (unsigned long long)vsize);
    /* The row first: a crash after put() then leaves a row the reaper finds. */
    int rc = st_db_x(db,
                     "INSERT INTO images.blobs (sha256, size_bytes, backend)"
                     " VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING",
                     sha, sz, s->store->ops->name) < 0
                 ? -EAGAIN
                 : 0;
    if (rc < 0)
        snprintf(err, errlen, "the image database failed: %s", st_db_error(db));
    else
        rc = s->store->ops->put(s->store, tmp, sha, size, err, errlen);
    long long n = -1;
    if (rc == 0) {
        n = st_db_x(db,
                    "UPDATE images.images SET status = 'active', checksum = $2,"
                    " size_bytes = $3, virtual_size_bytes = $4, status_reason = NULL,"
                    " updated_at = now() WHERE id = $1 AND status = 'saving'",
                    id, sha, sz, vsz);
        if (n == 0) {
            snprintf(err, errlen, "the image was deleted or killed during the upload");
            rc = -ECANCELED;
        } else if (n < 0) {
            snprintf(err, errlen, "the image database failed: %s", st_db_error(db));
            rc = -EAGAIN;
        }
    }
    lock_blob(db, sha, 0);
    st_db_put(db);
    if (rc < 0)
        img_blob_gc(s, sha); /* nothing may refer to it: keep the store clean */
    return rc;
}

int img_blob_gc(img_svc *s, const char *sha)
{
    st_db *db = st_db_get(s->db, 30000);
    if (!db)
        return -EAGAIN;
    int rc = -EAGAIN;
    if (lock_blob(db, sha, 1) == 0) {
        PGresult *r = st_db_q(db,
                              "SELECT count(*) FROM images.images"
                              " WHERE checksum = $1 AND status = 'active'",
                              sha);
        if (r && st_db_int(r, 0, 0) == 0) {
            char err[256];
            rc = s->store->ops->remove(s->store, sha, err, sizeof err);
            if (rc == 0) {
                st_db_x(db, "DELETE FROM images.blobs WHERE sha256 = $1", sha);
                st_info("images.blob_removed", "blob %s removed (no image uses it)", sha);
            } else {
                st_warn("images.blob_remove", "%s", err);
            }
        } else if (r) {
            rc = 0;
        }
        PQclear(r);
        lock_blob(db, sha, 0);
    }
    st_db_put(db);
    return rc;
}

void img_kill(img_svc *s, const char *id, const char *reason)
{
    st_db *db = st_db_get(s->db, 30000);
    if (!db) {
        st_error("images.kill", "cannot mark image %s killed: database unavailable", id);
        return;
    }
    st_db_x(db,
            "UPDATE images.images SET status = 'killed', status_reason = $2,"
            " updated_at = now() WHERE id = $1 AND status = 'saving'",
            id, reason);
    st_db_put(db);
    st_warn("images.upload_killed", "image %s: %s", id, reason);
}

void img_reap(img_svc *s)
{
    st_db *db = st_db_get(s->db, 5000);
    if (!db)
        return;
    char secs[16];
    snprintf(secs, sizeof secs, "%d", s->stale_s);
    long long n = st_db_x(db,
                          "UPDATE images.images SET status = 'killed',"
                          " status_reason = 'the upload stopped (service restarted?)',"
                          " updated_at = now() WHERE status = 'saving'"
                          " AND updated_at < now() - make_interval(secs => $1::int)",
                          secs);
    if (n > 0)
        st_warn("images.reap", "%lld stale uploads killed", n);
    PGresult *r = st_db_q0(db, "SELECT b.sha256 FROM images.blobs b WHERE NOT EXISTS ("
                               " SELECT 1 FROM images.images m WHERE m.checksum = b.sha256"
                               " AND m.status = 'active')");
    st_db_put(db);
    for (int i = 0; r && i < PQntuples(r); i++)
        img_blob_gc(s, st_db_val(r, i, 0));
    PQclear(r);
}
