/*
 * download.c - GET and HEAD /v1/images/{id}/file: an active image's bytes.
 *
 * Who: the gateway for a tenant that can see the image (its own or public),
 * a cloud admin, a node (an image its instances boot from, to cache it), or a
 * signed GET URL.
 *
 * Ranges: one "bytes=a-b", "bytes=a-" or "bytes=-n" range is answered 206
 * with Content-Range; a range past the end is 416 with "bytes * /size"; a
 * multi-range or malformed Range header is ignored (the whole image, 200),
 * as RFC 9110 allows.
 *
 * Integrity: a whole-image download is hashed as it is sent and the last
 * piece is held back until the SHA-256 of everything before it matches the
 * image's checksum: a blob that rotted on disk is never delivered whole and
 * intact-looking, the connection is cut short instead (and logged). Ranges
 * cannot be verified piecewise; a node caching an image downloads it whole
 * and checks X-Stratus-Sha256 itself.
 */
#include "images.h"
#include "stratus/log.h"
#include "stratus/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define PIECE (1u << 20)

void img_download(img_svc *s, img_conn *c, const img_head *h, const char *id, int head_only)
{
    img_caller who;
    int status;
    st_err code;
    const char *msg;
    if (img_data_auth(s, h, img_conn_peer(c), id, "GET", &who, &status, &code, &msg) < 0) {
        img_conn_error(c, status, code, "%s", msg);
        return;
    }
    st_db *db = st_db_get(s->db, 5000);
    if (!db) {
        img_conn_error(c, 503, ST_E_UNAVAILABLE, "the image database is unavailable");
        return;
    }
    int any = who.is_node || who.signed_url || who.p.cloud_admin;
    PGresult *r = st_db_q(db,
                          "SELECT m.status, m.checksum, m.size_bytes, m.disk_format"
                          " FROM images.images m WHERE " IMG_VISIBLE " AND m.id = $3",
                          who.p.tenant[0] ? who.p.tenant : NULL, any ? "true" : "false", id);
    st_db_put(db);
    if (!r || PQntuples(r) != 1) {
        if (r)
            img_conn_error(c, 404, ST_E_NOT_FOUND, "no such image");
        else
            img_conn_error(c, 503, ST_E_UNAVAILABLE, "the image database is unavailable");
        PQclear(r);
        return;
    }
    if (strcmp(st_db_val(r, 0, 0), "active") != 0) {
        img_conn_error(c, 409, ST_E_CONFLICT, "the image is %s; only an active image has data",
                       st_db_val(r, 0, 0));
        PQclear(r);
        return;
    }
    char sha[65], fmt[16];
    snprintf(sha, sizeof sha, "%s", st_db_val(r, 0, 1));
    snprintf(fmt, sizeof fmt, "%s", st_db_val(r, 0, 3));
    uint64_t want_size = (uint64_t)st_db_int(r, 0, 2);
    PQclear(r);

    img_reader *rd;
    uint64_t size;
    char err[256];
    int rc = s->store->ops->open(s->store, sha, &rd, &size, err, sizeof err);
    if (rc < 0 || size != want_size) {
        st_error("images.blob_missing", "image %s: blob %s %s", id, sha,
                 rc < 0 ? err : "has the wrong size");
        if (rc == 0)
            s->store->ops->close(rd);
        img_conn_error(c, 500, ST_E_INTERNAL, "the image's data is not available");
        return;
    }
    uint64_t a = 0, b = size ? size - 1 : 0;
    int ranged = img_range_parse(img_head_get(h, "Range"), size, &a, &b);
    char extra[512];
    int n = snprintf(extra, sizeof extra,
                     "Accept-Ranges: bytes\r\nETag: \"%s\"\r\nX-Stratus-Sha256: %s\r\n"
                     "X-Stratus-Disk-Format: %s\r\n",
                     sha, sha, fmt);
    if (ranged < 0) {
        snprintf(extra + n, sizeof extra - (size_t)n, "Content-Range: bytes */%" PRIu64 "\r\n",
                 size);
        s->store->ops->close(rd);
        char body[160];
        snprintf(body, sizeof body,
                 "{\"error\":{\"code\":\"range_not_satisfiable\","
                 "\"message\":\"the image has %" PRIu64 " bytes\"}}",
                 size);
        img_conn_reply(c, 416, "application/json", body, strlen(body), extra);
        return;
    }
    if (ranged)
        snprintf(extra + n, sizeof extra - (size_t)n,
                 "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n", a, b, size);
    uint64_t len = size ? b - a + 1 : 0;
    if (img_conn_send_head(c, ranged ? 206 : 200, "application/octet-stream", (int64_t)len, extra) <
            0 ||
        head_only) {
        s->store->ops->close(rd);
        return;
    }
    uint8_t *buf = malloc(PIECE);
    EVP_MD_CTX *md = ranged ? NULL : EVP_MD_CTX_new();
    if (!buf || (!ranged && (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1))) {
        img_conn_close_after(c);
        goto out;
    }
    for (uint64_t off = a; off < a + len;) {
        size_t want = a + len - off < PIECE ? (size_t)(a + len - off) : PIECE;
        ssize_t k = s->store->ops->read(rd, buf, want, off);
        if (k != (ssize_t)want) {
            st_error("images.blob_read", "image %s: blob %s short read at %" PRIu64, id, sha, off);
            img_conn_close_after(c);
            goto out;
        }
        if (md) {
            EVP_DigestUpdate(md, buf, want);
            if (off + want == a + len) { /* the last piece: verify before it goes */
                unsigned char dg[32];
                unsigned int dl;
                char got[65];
                EVP_DigestFinal_ex(md, dg, &dl);
                for (int i = 0; i < 32; i++)
                    snprintf(got + 2 * i, 3, "%02x", dg[i]);
                if (strcmp(got, sha) != 0) {
                    st_error("images.blob_corrupt",
                             "image %s: blob %s hashes to %s; download "
                             "cut short",
                             id, sha, got);
                    st_metric_add(img_metric_blob_corrupt(), 1);
                    img_conn_close_after(c);
                    goto out;
                }
            }
        }
        if (img_conn_write(c, buf, want) < 0)
            goto out;
        off += want;
    }
out:
    EVP_MD_CTX_free(md);
    free(buf);
    s->store->ops->close(rd);
}
