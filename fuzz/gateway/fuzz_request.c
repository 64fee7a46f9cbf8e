/*
 * Whole HTTP requests, as bytes from a hostile client, through the real
 * request path: libevent's parser, common/http.c's routing, percent-decoding,
 * query parsing, request IDs, X-Forwarded-For from a trusted proxy, JSON
 * body handling and the gateway's body validators. Handlers here need no
 * database: they validate and echo.
 */
#include "gateway.h"
#include "sshkey.h"
#include "stratus/http.h"
#include "stratus/json.h"
#include "stratus/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void h_create(st_http_req *r, void *arg)
{
    json_t *b = st_http_json_body(r);
    if (!b)
        return;
    gw_create_req q;
    char err[256];
    if (gw_create_validate(b, st_http_header(r, "Idempotency-Key"), &q, err, sizeof err) < 0)
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST, "%s", err);
    else
        st_http_reply_json(r, 202, json_pack("{s:s}", "name", q.name));
}

static void h_keypair(st_http_req *r, void *arg)
{
    json_t *b = st_http_json_body(r);
    if (!b)
        return;
    const char *pub = NULL;
    char err[256], fp[96];
    if (st_json_get_str(b, "public_key", 1, 1, GW_SSHKEY_MAX, &pub, err, sizeof err) < 0 ||
        gw_sshkey_check(pub, fp, sizeof fp, err, sizeof err) < 0)
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST, "%s", err);
    else
        st_http_reply_json(r, 201, json_pack("{s:s}", "fingerprint", fp));
}

static void release_nothing(void *arg)
{
    (void)arg;
}

static void h_echo(st_http_req *r, void *arg)
{
    /* the conditional-GET path of the instance list: If-None-Match parsing
     * and replies that reference a shared buffer */
    static const char page[] = "{\"instances\":[]}";
    if (st_http_query(r, "conditional")) {
        if (!st_http_not_modified(r, "\"0123abcd\""))
            st_http_reply_ref(r, 200, "application/json", page, sizeof page - 1, release_nothing,
                              NULL);
        return;
    }
    st_http_reply_json(r, 200,
                       json_pack("{s:s?, s:s?, s:s?, s:s?}", "id", st_http_param(r, "id"), "user",
                                 st_http_param(r, "user_id"), "limit", st_http_query(r, "limit"),
                                 "marker", st_http_query(r, "marker")));
}

static st_http_server *server(void)
{
    static st_http_server *s;
    if (s)
        return s;
    st_log_init("fuzz", ST_LOG_ERROR);
    char err[256];
    /* the feed connects from loopback: trusting it makes X-Forwarded-For
     * reach the client-address parser */
    st_http_opts o = {.listen = "127.0.0.1:0",
                      .threads = 1,
                      .max_body = 64 * 1024,
                      .no_signals = 1,
                      .trusted_proxies = "127.0.0.0/8, 10.0.0.0/8, fd00::/8"};
    s = st_http_server_new(&o, err, sizeof err);
    if (!s)
        abort();
    st_http_route(s, "POST /v1/instances", h_create, NULL);
    st_http_route(s, "GET /v1/instances", h_echo, NULL);
    st_http_route(s, "GET /v1/instances/{id}", h_echo, NULL);
    st_http_route(s, "POST /v1/keypairs", h_keypair, NULL);
    st_http_route(s, "PUT /v1/tenants/{id}/members/{user_id}", h_echo, NULL);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (st_http_server_feed(server(), data, size) < 0) {
        perror("st_http_server_feed");
        abort();
    }
    return 0;
}
