/*
 * Request bodies and fields, straight into the parsers and validators (much
 * faster than whole requests, so the fuzzer gets deeper): JSON objects into
 * the create-instance validator (with its networks and ports) and the
 * network API's field checker, any string into the SSH key checker and the
 * RFC 3339 parser.
 */
#include "gateway.h"
#include "sshkey.h"
#include "stratus/json.h"
#include "stratus/timefmt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256], fp[96];
    json_t *b = st_json_parse_object((const char *)data, size, err, sizeof err);
    if (b) {
        gw_create_req q;
        const char *v = json_string_value(json_object_get(b, "idem"));
        char *idem = v ? strdup(v) : NULL; /* the "idem" member is removed next */
        json_object_del(b, "idem");
        gw_create_validate(b, idem, &q, err, sizeof err);
        free(idem);
        /* every kind of field the network API checks */
        static const gw_field fields[] = {
            {.key = "network_id", .kind = 's', .required = 1},
            {.key = "mtu", .kind = 'i', .min = 68, .max = 1450},
            {.key = "shared", .kind = 'b'},
            {.key = "fixed_ips", .kind = 'a'},
            {.key = "external_gateway_info", .kind = 'o', .nullable = 1},
            {.key = "gateway_ip", .kind = 's', .nullable = 1},
            {.key = NULL}};
        gw_fields_check(b, fields, err, sizeof err);
        const char *pk = json_string_value(json_object_get(b, "public_key"));
        if (pk)
            gw_sshkey_check(pk, fp, sizeof fp, err, sizeof err);
        json_decref(b);
    }
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    gw_sshkey_check(s, fp, sizeof fp, err, sizeof err);
    int64_t us;
    st_time_parse(s, &us);
    free(s);
    return 0;
}
