/* internal.c - service-to-service calls on a tenant's behalf (internal.h). */
#include "stratus/internal.h"
#include "stratus/crypto.h"
#include "stratus/uuid.h"

#include <stdio.h>
#include <string.h>

int st_internal_auth(st_http_req *r, const char *internal_token, st_principal *p)
{
    memset(p, 0, sizeof *p);
    const char *auth = st_http_header(r, "Authorization");
    if (!internal_token || !*internal_token || !auth || strncmp(auth, "Bearer ", 7) != 0 ||
        !st_ct_streq(auth + 7, internal_token)) {
        st_http_add_header(r, "WWW-Authenticate", "Bearer");
        st_http_reply_error(r, 401, "unauthorized", "a valid service token is required");
        return -1;
    }
    const char *tenant = st_http_header(r, "X-Stratus-Tenant");
    const char *user = st_http_header(r, "X-Stratus-User");
    const char *role = st_http_header(r, "X-Stratus-Role");
    const char *admin = st_http_header(r, "X-Stratus-Cloud-Admin");
    if ((tenant && !st_uuid_valid(tenant)) || (user && !st_uuid_valid(user)) ||
        (role && strcmp(role, "admin") && strcmp(role, "member") && strcmp(role, "reader"))) {
        st_http_reply_error(r, 400, "bad_request", "malformed X-Stratus-* principal headers");
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
