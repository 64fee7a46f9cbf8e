/* internal.c - service-to-service calls on a tenant's behalf (internal.h). */
#include "stratus/internal.h"
#include "stratus/crypto.h"
#include "stratus/netaddr.h"
#include "stratus/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set once before the workers start, read-only afterwards. */
static st_cidr *gateway_ranges;
static int gateway_nranges = -1; /* -1: anywhere */

int st_internal_allow_from(const char *ranges, char *err, size_t errlen)
{
    free(gateway_ranges);
    gateway_ranges = NULL;
    gateway_nranges = -1;
    if (!ranges || !*ranges)
        return 0;
    int n = st_cidr_parse_list(ranges, &gateway_ranges, err, errlen);
    if (n < 0)
        return -1;
    gateway_nranges = n;
    return 0;
}

int st_internal_from_ok(const char *ip)
{
    return gateway_nranges < 0 || (ip && st_cidr_match(gateway_ranges, gateway_nranges, ip));
}

int st_internal_auth(st_http_req *r, const char *internal_token, st_principal *p)
{
    memset(p, 0, sizeof *p);
    const char *auth = st_http_header(r, "Authorization");
    if (!internal_token || !*internal_token || !auth || strncmp(auth, "Bearer ", 7) != 0 ||
        !st_ct_streq(auth + 7, internal_token)) {
        st_http_add_header(r, "WWW-Authenticate", "Bearer");
        st_http_reply_error(r, 401, ST_E_UNAUTHORIZED, "a valid service token is required");
        return -1;
    }
    if (!st_internal_from_ok(st_http_peer(r))) {
        st_http_reply_error(
            r, 403, ST_E_FORBIDDEN,
            "the service token is accepted only from the gateway (auth.gateway_from)");
        return -1;
    }
    const char *tenant = st_http_header(r, "X-Stratus-Tenant");
    const char *user = st_http_header(r, "X-Stratus-User");
    const char *role = st_http_header(r, "X-Stratus-Role");
    const char *admin = st_http_header(r, "X-Stratus-Cloud-Admin");
    if ((tenant && !st_uuid_valid(tenant)) || (user && !st_uuid_valid(user)) ||
        (role && strcmp(role, "admin") && strcmp(role, "member") && strcmp(role, "reader"))) {
        st_http_reply_error(r, 400, ST_E_INVALID_REQUEST,
                            "malformed X-Stratus-* principal headers");
        return -1;
    }
    snprintf(p->tenant, sizeof p->tenant, "%s", tenant ? tenant : "");
    snprintf(p->user, sizeof p->user, "%s", user ? user : "");
    snprintf(p->role, sizeof p->role, "%s", role ? role : "");
    p->cloud_admin = admin && strcmp(admin, "true") == 0;
    return 0;
}

int st_principal_can_write(const st_principal *p)
{
    return p->cloud_admin || strcmp(p->role, "admin") == 0 || strcmp(p->role, "member") == 0;
}
