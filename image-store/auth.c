/*
 * auth.c - who may call the image service, and how.
 *
 *   the gateway   Authorization: Bearer <auth.internal_token> plus the
 *                 X-Stratus-Tenant/User/Role/Cloud-Admin headers of the
 *                 tenant it acts for (common/internal.h), on both listeners.
 *   a node        Authorization: Bearer <its node credential> (one identity
 *                 for every service, common/nodeauth.h). Reads metadata
 *                 (GET /v1/images/{id}) and bytes (GET/HEAD .../file) of
 *                 the images its instances boot from, and uploads the bytes
 *                 (PUT .../file) of a queued snapshot of an instance placed
 *                 on it whose order is that snapshot (the gateway's
 *                 iaas.node_may_write_image); nothing else: any other image
 *                 answers 404 like one that does not exist (any other
 *                 upload 403), every other route 403. The internal token is never a node's.
 *   a signed URL  ?expires=<unix seconds>&sig=<hex HMAC-SHA256> on the data
 *                 listener: minted by POST /v1/images/{id}/upload-url or
 *                 download-url for a caller the API authorised, valid for one
 *                 method on one image until it expires (like S3 pre-signed
 *                 URLs). This is how a tenant streams GiBs without the
 *                 gateway buffering them.
 *
 * Secrets are compared in constant time. The signature covers the method,
 * the image id and the expiry under auth.url_key.
 */
#include "images.h"
#include "stratus/crypto.h"
#include "stratus/nodeauth.h"
#include "stratus/uuid.h"

#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int bearer_is(const char *auth, const char *token)
{
    return auth && token && *token && strncmp(auth, "Bearer ", 7) == 0 &&
           st_ct_streq(auth + 7, token);
}

/* 1 when the node may upload image id: a queued snapshot of an instance
 * the gateway says the node is snapshotting into it now; 0, or -2. */
static int node_may_write(st_db *db, const st_node *n, const char *id)
{
    PGresult *r = st_db_q(db,
                          "SELECT source_instance_id FROM images.images WHERE id = $1"
                          " AND status = 'queued' AND source_instance_id IS NOT NULL",
                          id);
    if (!r)
        return -2;
    int ok = PQntuples(r) == 1 ? st_node_may_write_image(db, n, st_db_val(r, 0, 0), id) : 0;
    PQclear(r);
    return ok;
}

/*
 * A node's credential (common/nodeauth.h) for reading image id (write: for
 * uploading its bytes): 0 when the node is current and an instance placed
 * on it boots from the image (write: is being snapshotted into it); else
 * -1 with the status to send (401 unknown node, 404 an image it does not
 * need, exactly as an image that does not exist, 403 any upload but its
 * snapshot's, 503 database).
 */
static int node_reads(img_svc *s, st_db *given, const char *auth, const char *id, int write,
                      img_caller *c, int *status, st_err *code, const char **msg)
{
    st_db *db = given ? given : st_db_get(s->db, 5000);
    if (!db) {
        *status = 503, *code = ST_E_UNAVAILABLE, *msg = "the image database is unavailable";
        return -1;
    }
    int rc = st_node_identify(db, auth, &c->node);
    if (rc == 0)
        rc = (write ? node_may_write(db, &c->node, id)
                    : st_node_may_read_image(db, &c->node, id)) == 1
                 ? 0
             : st_db_conn_lost(db) ? -2
                                   : -3;
    if (db != given)
        st_db_put(db);
    if (rc == 0)
        return 0;
    if (rc == -1)
        *status = 401, *code = ST_E_UNAUTHORIZED, *msg = "a valid node credential is required";
    else if (rc == -3 && write) /* the same for every image, so it tells nothing */
        *status = 403, *code = ST_E_FORBIDDEN,
        *msg = "nodes upload only the snapshot their instance is being taken into";
    else if (rc == -3)
        *status = 404, *code = ST_E_NOT_FOUND, *msg = "no such image";
    else
        *status = 503, *code = ST_E_UNAVAILABLE, *msg = "the image database is unavailable";
    return -1;
}

int img_api_auth(img_svc *s, st_http_req *r, img_caller *c)
{
    memset(c, 0, sizeof *c);
    if (st_node_credential_in(st_http_header(r, "Authorization"))) {
        st_http_reply_error(r, 403, ST_E_FORBIDDEN, "this call is not for compute nodes");
        return -1;
    }
    return st_internal_auth(r, s->internal_token, &c->p);
}

int img_api_auth_read(img_svc *s, st_http_req *r, st_db *db, const char *id, img_caller *c)
{
    memset(c, 0, sizeof *c);
    const char *auth = st_http_header(r, "Authorization");
    if (!st_node_credential_in(auth))
        return st_internal_auth(r, s->internal_token, &c->p);
    int status;
    st_err code;
    const char *msg;
    if (node_reads(s, db, auth, id, 0, c, &status, &code, &msg) < 0) {
        if (status == 401)
            st_http_add_header(r, "WWW-Authenticate", "Bearer");
        st_http_reply_error(r, status, code, "%s", msg);
        return -1;
    }
    c->is_node = 1;
    return 0;
}

static void sign(const img_svc *s, const char *method, const char *id, long long expires,
                 char hex[65])
{
    char msg[256];
    int n = snprintf(msg, sizeof msg, "stratus-images\n%s\n%s\n%lld", method, id, expires);
    unsigned char mac[32];
    unsigned int ml = sizeof mac;
    HMAC(EVP_sha256(), s->url_key, sizeof s->url_key, (unsigned char *)msg, (size_t)n, mac, &ml);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
}

void img_url_sign(img_svc *s, const char *method, const char *id, long long expires, char *url,
                  size_t urllen)
{
    char hex[65];
    sign(s, method, id, expires, hex);
    snprintf(url, urllen, "%s/v1/images/%s/file?expires=%lld&sig=%s", s->data_url, id, expires,
             hex);
}

#define DENY(st, cd, m)                                                                            \
    do {                                                                                           \
        *status = (st);                                                                            \
        *code = (cd);                                                                              \
        *msg = (m);                                                                                \
        return -1;                                                                                 \
    } while (0)

int img_data_auth(img_svc *s, const img_head *h, const char *peer, const char *id,
                  const char *method, img_caller *c, int *status, st_err *code, const char **msg)
{
    memset(c, 0, sizeof *c);
    char exp[24], sig[80];
    if (img_query_get(h->query, "sig", sig, sizeof sig) == 0) {
        if (img_query_get(h->query, "expires", exp, sizeof exp) < 0)
            DENY(403, ST_E_FORBIDDEN, "signed URL without expires");
        char *end;
        long long e = strtoll(exp, &end, 10);
        if (*end || e <= 0)
            DENY(403, ST_E_FORBIDDEN, "signed URL with a malformed expiry");
        if (e < (long long)time(NULL))
            DENY(403, ST_E_EXPIRED, "the signed URL has expired; ask for a new one");
        char want[65];
        sign(s, method, id, e, want);
        if (strlen(sig) != 64 || !st_ct_equal(sig, want, 64))
            DENY(403, ST_E_FORBIDDEN, "the URL signature does not match");
        c->signed_url = 1;
        return 0;
    }
    const char *auth = img_head_get(h, "Authorization");
    if (st_node_credential_in(auth)) {
        if (strcmp(method, "GET") != 0 && strcmp(method, "PUT") != 0)
            DENY(403, ST_E_FORBIDDEN, "nodes only read images and upload snapshots");
        if (node_reads(s, NULL, auth, id, !strcmp(method, "PUT"), c, status, code, msg) < 0)
            return -1;
        c->is_node = 1;
        return 0;
    }
    if (!bearer_is(auth, s->internal_token))
        DENY(401, ST_E_UNAUTHORIZED, "a valid service token or signed URL is required");
    if (!st_internal_from_ok(peer))
        DENY(403, ST_E_FORBIDDEN,
             "the service token is accepted only from the gateway"
             " (auth.gateway_from)");
    const char *tenant = img_head_get(h, "X-Stratus-Tenant");
    const char *user = img_head_get(h, "X-Stratus-User");
    const char *role = img_head_get(h, "X-Stratus-Role");
    const char *admin = img_head_get(h, "X-Stratus-Cloud-Admin");
    if ((tenant && !st_uuid_valid(tenant)) || (user && !st_uuid_valid(user)) ||
        (role && strcmp(role, "admin") && strcmp(role, "member") && strcmp(role, "reader")))
        DENY(400, ST_E_INVALID_REQUEST, "malformed X-Stratus-* principal headers");
    snprintf(c->p.tenant, sizeof c->p.tenant, "%s", tenant ? tenant : "");
    snprintf(c->p.user, sizeof c->p.user, "%s", user ? user : "");
    snprintf(c->p.role, sizeof c->p.role, "%s", role ? role : "");
    c->p.cloud_admin = admin && strcmp(admin, "true") == 0;
    return 0;
}
