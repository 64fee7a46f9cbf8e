/*
 * upload.c - PUT /v1/images/{id}/file on the data listener: the image's
 * bytes, streamed.
 *
 *   1. The caller may write the image (gateway principal of its tenant or a
 *      cloud admin, a signed PUT URL, or the node snapshotting the
 *      instance the image is a snapshot of, auth.c), and the image moves queued ->
 *      saving in one conditional UPDATE (a second upload gets 409).
 *   2. The body (Content-Length or chunked, "Expect: 100-continue" honoured
 *      only now, so a refused upload never sends its GiBs) goes to a
 *      temporary file in 1 MiB pieces, hashed with SHA-256 (OpenSSL EVP) on
 *      the way: one pass, a few MiB of memory for any size. The image's
 *      updated_at is touched every few seconds; a silent 'saving' image is
 *      killed by the reaper (the service died mid-upload).
 *   3. Checks: the size limit, an optional X-Stratus-Sha256 the client
 *      computed, and for qcow2 the header validator and a walk of the L1/L2
 *      tables (stratus_disk): a hostile header is a 400 with the reason.
 *   4. blobs.c stores the blob (dedup by hash) and activates the image; a
 *      helper thread keeps touching the image while that takes long.
 *
 * Any failure removes the temporary file and marks the image killed with
 * the reason: never a half blob, never an active image without its bytes.
 */
#include "images.h"
#include "stratus/disk.h"
#include "stratus/log.h"
#include "stratus/metrics.h"
#include "stratus/timefmt.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define PIECE (1u << 20)

/* Loads the image and checks the caller may upload to it; replies on failure. */
static int may_upload(img_svc *s, img_conn *c, const img_caller *who, const char *id, char fmt[16])
{
    if (!who->signed_url && !who->is_node &&
        (!st_principal_can_write(&who->p) || (!who->p.tenant[0] && !who->p.cloud_admin))) {
        img_conn_error(c, 403, ST_E_FORBIDDEN, "this role may not change images");
        return -1;
    }
    st_db *db = st_db_get(s->db, 5000);
    if (!db) {
        img_conn_error(c, 503, ST_E_UNAVAILABLE, "the image database is unavailable");
        return -1;
    }
    int any = who->signed_url || who->p.cloud_admin || who->is_node; /* auth.c said which */
    PGresult *r = st_db_q(db,
                          "SELECT m.tenant_id IS NOT DISTINCT FROM $1::uuid, m.status,"
                          " m.disk_format, m.source_instance_id IS NOT NULL FROM images.images m"
                          " WHERE " IMG_VISIBLE " AND m.id = $3",
                          who->p.tenant[0] ? who->p.tenant : NULL, any ? "true" : "false", id);
    int rc = -1;
    if (!r) {
        img_conn_error(c, 503, ST_E_UNAVAILABLE, "the image database is unavailable");
    } else if (PQntuples(r) != 1) {
        img_conn_error(c, 404, ST_E_NOT_FOUND, "no such image");
    } else if (st_db_val(r, 0, 0)[0] != 't' && !any) {
        img_conn_error(c, 403, ST_E_FORBIDDEN, "the image belongs to the cloud");
    } else if (st_db_val(r, 0, 3)[0] == 't' && !who->is_node) {
        img_conn_error(c, 409, ST_E_CONFLICT, "a snapshot's bytes come from its instance's node");
    } else {
        snprintf(fmt, 16, "%s", st_db_val(r, 0, 2));
        char status[16];
        snprintf(status, sizeof status, "%s", st_db_val(r, 0, 1));
        long long n = st_db_x(db,
                              "UPDATE images.images SET status = 'saving', updated_at = now()"
                              " WHERE id = $1 AND status = 'queued'",
                              id);
        if (n == 1)
            rc = 0;
        else if (n == 0)
            img_conn_error(c, 409, ST_E_CONFLICT,
                           "the image is %s; only a queued image takes an "
                           "upload",
                           status);
        else
            img_conn_error(c, 503, ST_E_UNAVAILABLE, "the image database is unavailable");
    }
    PQclear(r);
    st_db_put(db);
    return rc;
}

/* 0 while the image is still ours to fill ('saving'); -1 when someone deleted it. */
static int heartbeat(img_svc *s, const char *id)
{
    st_db *db = st_db_get(s->db, 5000);
    if (!db)
        return 0; /* a database hiccup is not the client's fault */
    long long n = st_db_x(db,
                          "UPDATE images.images SET updated_at = now()"
                          " WHERE id = $1 AND status = 'saving'",
                          id);
    st_db_put(db);
    return n == 0 ? -1 : 0;
}

/* Validates a finished qcow2 upload; fills the virtual size. */
static int check_qcow2(const char *path, uint64_t size, uint64_t *vsize, char *err, size_t errlen)
{
    size_t n = size < (2u << 20) ? (size_t)size : (2u << 20);
    uint8_t *buf = malloc(n ? n : 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = -EIO;
    if (buf && fd >= 0 && pread(fd, buf, n, 0) == (ssize_t)n)
        rc = st_qcow2_validate_header(buf, n, size, err, errlen);
    else
        snprintf(err, errlen, "cannot read the upload back");
    if (fd >= 0)
        close(fd);
    free(buf);
    if (rc < 0)
        return rc;
    st_disk *d;
    char derr[256];
    rc = st_disk_open_ex(path, ST_DISK_RDONLY | ST_DISK_FMT_QCOW2 | ST_DISK_NO_BACKING, &d, derr,
                         sizeof derr);
    if (rc == 0) {
        rc = st_disk_check_tables(d, derr, sizeof derr);
        *vsize = st_disk_size(d);
        st_disk_close(d);
    }
    if (rc < 0) {
        /* The path is ours, not the client's: keep only the reason. */
        const char *p = strstr(derr, "': ");
        snprintf(err, errlen, "%s", p ? p + 3 : derr);
    }
    return rc;
}

/*
 * Storing a blob can take minutes (fsync of GiBs, or writing them to Ceph),
 * with no body bytes to pace the heartbeat: a helper thread keeps the image
 * fresh meanwhile so the reaper does not take it for a dead upload.
 */
typedef struct beat {
    img_svc *s;
    const char *id;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} beat;

static void *beat_main(void *arg)
{
    beat *b = arg;
    pthread_mutex_lock(&b->mu);
    while (!b->done) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_sec += b->s->stale_s / 4 > 0 ? b->s->stale_s / 4 : 1;
        if (pthread_cond_timedwait(&b->cv, &b->mu, &t) != 0 && !b->done) {
            pthread_mutex_unlock(&b->mu);
            heartbeat(b->s, b->id);
            pthread_mutex_lock(&b->mu);
        }
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

static int commit_with_heartbeat(img_svc *s, const char *id, const char *tmp, const char *sha,
                                 uint64_t total, uint64_t vsize, char *err, size_t errlen)
{
    beat b = {.s = s, .id = id, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    pthread_t th;
    int started = pthread_create(&th, NULL, beat_main, &b) == 0;
    int rc = img_blob_commit(s, id, tmp, sha, total, vsize, err, errlen);
    if (started) {
        pthread_mutex_lock(&b.mu);
        b.done = 1;
        pthread_cond_signal(&b.cv);
        pthread_mutex_unlock(&b.mu);
        pthread_join(th, NULL);
    }
    return rc;
}

static st_metric *uploads(const char *result)
{
    char l[48];
    snprintf(l, sizeof l, "result=\"%s\"", result);
    return st_counter("stratus_images_uploads_total", "Uploads finished, by result.", l);
}

static void count(const char *result)
{
    st_metric_add(uploads(result), 1);
}

static st_metric *bytes_received(void)
{
    return st_counter("stratus_images_upload_bytes_total", "Image bytes received.", "");
}

st_metric *img_metric_bytes_sent(void)
{
    return st_counter("stratus_images_data_bytes_sent_total",
                      "Body bytes sent on the data listener.", "");
}

st_metric *img_metric_blob_corrupt(void)
{
    return st_counter("stratus_images_blob_corrupt_total",
                      "Downloads stopped by a checksum mismatch.", "");
}

void img_metrics(void)
{
    uploads("active");
    uploads("killed");
    bytes_received();
    img_metric_bytes_sent();
    img_metric_blob_corrupt();
}

void img_upload(img_svc *s, img_conn *c, const img_head *h, const char *id)
{
    img_caller who;
    int status;
    st_err code;
    const char *msg;
    if (img_data_auth(s, h, img_conn_peer(c), id, "PUT", &who, &status, &code, &msg) < 0) {
        img_conn_error(c, status, code, "%s", msg);
        return;
    }
    if (!h->chunked && h->content_length < 0) {
        img_conn_error(c, 411, ST_E_LENGTH_REQUIRED, "send Content-Length or chunked data");
        return;
    }
    if (h->content_length > 0 && (uint64_t)h->content_length > s->max_size) {
        img_conn_error(c, 413, ST_E_TOO_LARGE, "images are limited to %llu bytes",
                       (unsigned long long)s->max_size);
        return;
    }
    const char *want_sha = img_head_get(h, "X-Stratus-Sha256");
    if (want_sha && strlen(want_sha) != 64) {
        img_conn_error(c, 400, ST_E_INVALID_REQUEST, "X-Stratus-Sha256 must be 64 hex digits");
        return;
    }
    char fmt[16];
    if (may_upload(s, c, &who, id, fmt) < 0)
        return;

    char tmp[PATH_MAX + 64], err[512] = "", sha[65];
    int http = 500;
    st_err ecode = ST_E_INTERNAL;
    snprintf(tmp, sizeof tmp, "%s/upload-%s-%s", s->tmp_dir, id, img_conn_reqid(c));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    uint8_t *buf = malloc(PIECE);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint64_t total = 0, vsize = 0;
    int64_t last_beat = st_mono_us();
    st_metric *bytes_in = bytes_received();
    if (fd < 0 || !buf || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        snprintf(err, sizeof err, "cannot start the upload: %s", strerror(errno));
        goto fail;
    }
    for (;;) {
        ssize_t k = img_conn_body(c, buf, PIECE);
        if (k == 0)
            break;
        if (k < 0) {
            http = 400;
            ecode = ST_E_INVALID_REQUEST;
            snprintf(err, sizeof err, "the upload was interrupted after %llu bytes (%s)",
                     (unsigned long long)total,
                     k == -EPROTO ? "malformed chunked data" : strerror((int)-k));
            goto fail;
        }
        total += (uint64_t)k;
        if (total > s->max_size) {
            http = 413;
            ecode = ST_E_TOO_LARGE;
            snprintf(err, sizeof err, "images are limited to %llu bytes",
                     (unsigned long long)s->max_size);
            goto fail;
        }
        EVP_DigestUpdate(md, buf, (size_t)k);
        for (ssize_t off = 0; off < k;) {
            ssize_t w = write(fd, buf + off, (size_t)(k - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                snprintf(err, sizeof err, "writing the upload failed: %s", strerror(errno));
                goto fail;
            }
            off += w;
        }
        st_metric_add(bytes_in, (double)k);
        if (st_mono_us() - last_beat > (int64_t)s->stale_s * 250000) {
            last_beat = st_mono_us();
            if (heartbeat(s, id) < 0) {
                http = 409;
                ecode = ST_E_CONFLICT;
                snprintf(err, sizeof err, "the image was deleted during the upload");
                goto fail;
            }
        }
    }
    unsigned char dg[32];
    unsigned int dl = 0;
    EVP_DigestFinal_ex(md, dg, &dl);
    for (int i = 0; i < 32; i++)
        snprintf(sha + 2 * i, 3, "%02x", dg[i]);
    http = 400;
    ecode = ST_E_INVALID_IMAGE;
    if (total == 0) {
        snprintf(err, sizeof err, "the upload is empty");
        goto fail;
    }
    if (want_sha && strcasecmp(want_sha, sha) != 0) {
        ecode = ST_E_CHECKSUM_MISMATCH;
        snprintf(err, sizeof err, "the data's SHA-256 is %s, not the %s the client sent", sha,
                 want_sha);
        goto fail;
    }
    if (strcmp(fmt, "qcow2") == 0) {
        if (check_qcow2(tmp, total, &vsize, err, sizeof err) < 0)
            goto fail;
    } else {
        if (total % 512) {
            snprintf(err, sizeof err,
                     "a raw image must be a whole number of 512-byte sectors "
                     "(%llu bytes)",
                     (unsigned long long)total);
            goto fail;
        }
        vsize = total;
    }
    if (vsize > s->max_virtual) {
        snprintf(err, sizeof err, "the image describes a %llu-byte disk; the limit is %llu",
                 (unsigned long long)vsize, (unsigned long long)s->max_virtual);
        goto fail;
    }
    close(fd);
    fd = -1;
    int rc = commit_with_heartbeat(s, id, tmp, sha, total, vsize, err, sizeof err);
    if (rc < 0) {
        http = rc == -ECANCELED ? 409 : 503;
        ecode = rc == -ECANCELED ? ST_E_CONFLICT : ST_E_UNAVAILABLE;
        goto fail;
    }
    unlink(tmp);
    EVP_MD_CTX_free(md);
    free(buf);
    count("active");
    st_info("images.uploaded", "image %s active: %llu bytes, sha256 %s", id,
            (unsigned long long)total, sha);
    st_db *db = st_db_get(s->db, 5000);
    PGresult *r = db ? st_db_q(db,
                               "SELECT images.image_json(m)::text FROM images.images m"
                               " WHERE id = $1",
                               id)
                     : NULL;
    if (r && PQntuples(r) == 1)
        img_conn_reply(c, 200, "application/json", st_db_val(r, 0, 0), strlen(st_db_val(r, 0, 0)),
                       NULL);
    else
        img_conn_reply(c, 204, NULL, NULL, 0, NULL);
    PQclear(r);
    if (db)
        st_db_put(db);
    return;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    EVP_MD_CTX_free(md);
    free(buf);
    img_kill(s, id, err);
    count("killed");
    img_conn_error(c, http, ecode, "%s", err);
}
