/*
 * internal.h - how the gateway calls a backend service for a tenant.
 *
 * Tenants only ever talk to the gateway. When the gateway forwards a tenant's
 * call to a backend service (images, billing), it authenticates as the gateway
 * with a shared secret and states on whose behalf it acts:
 *
 *   Authorization: Bearer <auth.internal_token>
 *   X-Stratus-Tenant: <tenant uuid>        (absent for cloud-wide admin calls)
 *   X-Stratus-User: <user uuid>
 *   X-Stratus-Role: admin | member | reader   (the user's role in that tenant)
 *   X-Stratus-Cloud-Admin: true | false
 *
 * The backend trusts these headers only after the token matched (compared in
 * constant time) and the caller's address is one of the gateway's
 * (auth.gateway_from; loopback by default). A backend must never be
 * reachable by tenants directly. The token lives on control-plane hosts
 * only: a compute node has its own identity (nodeauth.h), never this one.
 */
#ifndef STRATUS_INTERNAL_H
#define STRATUS_INTERNAL_H

#include "stratus/http.h"

typedef struct st_principal {
    char tenant[40]; /* "" for cloud-wide calls */
    char user[40];
    char role[16]; /* "admin", "member", "reader", or "" */
    int cloud_admin;
} st_principal;

/* Where the internal token is accepted from: a comma-separated list of
 * addresses and CIDRs (netaddr.h); "" means anywhere. Call once at start-up
 * (before serving). 0, or -1 with err. */
int st_internal_allow_from(const char *ranges, char *err, size_t errlen);
/* 1 when a caller at ip (text) may present the internal token. */
int st_internal_from_ok(const char *ip);

/*
 * Checks the internal token and fills p from the headers. On failure replies
 * 401 (bad token), 403 (the token from an address that is not the
 * gateway's) or 400 (malformed headers) itself and returns -1.
 */
int st_internal_auth(st_http_req *r, const char *internal_token, st_principal *p);
/* 1 when p may change things in its tenant (admin or member, or cloud admin). */
int st_principal_can_write(const st_principal *p);

#endif
