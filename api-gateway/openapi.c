/* openapi.c - serves the API's OpenAPI 3 description (openapi.json, embedded
 * at build time; test_openapi checks it describes every route). */
#include "gateway.h"

extern const char gw_openapi_json[];
extern const unsigned long gw_openapi_json_len;

static void h_openapi(gw_ctx *c)
{
    st_http_add_header(c->req, "Cache-Control", "public, max-age=300");
    st_http_reply_raw(c->req, 200, "application/json", gw_openapi_json, gw_openapi_json_len);
}

void gw_openapi_routes(gw *g)
{
    gw_route(g, "GET /v1/openapi.json", GW_PUBLIC, h_openapi);
}
