/*
 * image_fetch.h - how a compute node caches a base image: download it from
 * stratus-images and verify its SHA-256 before anything uses it.
 *
 *   char err[256];
 *   if (st_image_fetch(&(st_image_fetch_opts){
 *           .url = "http://127.0.0.1:9293/v1/images/<id>/file",
 *           .token = node_credential,
 *           .sha256 = checksum_from_the_image_record,
 *           .dest = "/var/lib/stratus/base/<sha256>"}, err, sizeof err) < 0)
 *       ... the image is not cached; nothing was left at dest ...
 *
 * The body is hashed as it arrives and written to a temporary file beside
 * dest; only when the hash equals both the expected checksum and the
 * service's X-Stratus-Sha256 header is the file fsynced and renamed to dest
 * (read only, 0444). A corrupt or truncated download never appears at dest.
 * Returns 0 or a negative errno with the reason in err.
 */
#ifndef STRATUS_IMAGE_FETCH_H
#define STRATUS_IMAGE_FETCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct st_image_fetch_opts {
    const char *url;    /* .../v1/images/<id>/file (or a signed URL) */
    const char *token;  /* bearer token (the node credential), NULL for a signed URL */
    const char *sha256; /* the checksum the image record promises (64 hex) */
    const char *dest;   /* where the verified file goes */
    long timeout_s;     /* 0: no overall limit (stalls still time out after 60 s) */
} st_image_fetch_opts;

int st_image_fetch(const st_image_fetch_opts *o, char *err, size_t errlen);
/* SHA-256 of a whole file (64 hex + NUL into out); 0 or a negative errno. */
int st_image_file_sha256(const char *path, char out[65]);

#endif
