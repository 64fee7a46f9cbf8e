/* common_fuzz_oas: arbitrary responses through the tests' OpenAPI check
 * (tests/lib/st_oas.c) against the real api-gateway/openapi.json. An input
 * is "METHOD PATH?QUERY STATUS CONTENT-TYPE\n" and then the body; the path
 * matching, the media type, the JSON walk and the format checks (uuid,
 * date-time, ipv4, byte, ...) may refuse it, but never crash, leak or read
 * out of bounds. */
#include "st_oas.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static st_oas *doc;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!doc) {
        char err[600];
        doc = st_oas_load(st_oas_gateway_doc(), err, sizeof err);
        if (!doc) {
            fprintf(stderr, "%s\n", err);
            abort();
        }
    }
    const char *nl = memchr(data, '\n', size);
    size_t hl = nl ? (size_t)(nl - (const char *)data) : size;
    char head[512];
    if (hl >= sizeof head)
        return 0;
    memcpy(head, data, hl);
    head[hl] = 0;
    char method[16] = "", path[400] = "", ctype[80] = "";
    long status = 0;
    if (sscanf(head, "%15s %399s %ld %79[^\n]", method, path, &status, ctype) < 3)
        return 0;
    size_t blen = nl ? size - hl - 1 : 0;
    char *body = malloc(blen + 1); /* a NUL-terminated copy, as st_http keeps it */
    if (!body)
        return 0;
    memcpy(body, nl ? nl + 1 : "", blen);
    body[blen] = 0;
    char msg[1024];
    st_oas_check(doc, method, path, status, ctype[0] ? ctype : NULL, body, blen, msg, sizeof msg);
    free(body);
    return 0;
}
