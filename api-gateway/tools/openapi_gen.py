# Writes api-gateway/openapi.json. The document is the reference; edit this
# script (the source of the document) and run it again when routes change:
#   python3 api-gateway/tools/openapi_gen.py
# gateway_openapi fails when a route and the document disagree.
import json
S = lambda name: {"$ref": f"#/components/schemas/{name}"}
def obj(props, required=()):
    o = {"type": "object", "properties": props}
    if required: o["required"] = list(required)
    return o
STR = {"type": "string"}; UUID = {"type": "string", "format": "uuid"}
TS = {"type": "string", "format": "date-time"}; INT = {"type": "integer"}; BOOL = {"type": "boolean"}
def nullable(s): return {**s, "nullable": True}
schemas = {
 "Error": obj({"error": obj({"code": STR, "message": STR}, ["code", "message"])}, ["error"]),
 "Token": obj({"token": STR, "token_id": UUID, "expires_at": TS,
               "user": obj({"id": UUID, "name": STR}), "cloud_admin": BOOL,
               "tenant": nullable(obj({"id": UUID, "name": STR, "role": STR}))}),
 "Whoami": obj({"user": obj({"id": UUID, "name": STR, "cloud_admin": BOOL}), "tenant_id": nullable(UUID),
                "role": nullable(STR), "token_kind": {"type": "string", "enum": ["session", "api_key"]},
                "tenants": {"type": "array", "items": obj({"id": UUID, "name": STR, "role": STR})}}),
 "ApiKey": obj({"id": UUID, "name": STR, "tenant_id": UUID, "created_at": TS, "expires_at": TS,
                "key": {"type": "string", "description": "the secret; returned once, at creation"}}),
 "Tenant": obj({"id": UUID, "name": STR, "description": STR, "created_at": TS}),
 "User": obj({"id": UUID, "name": STR, "cloud_admin": BOOL, "disabled": BOOL, "created_at": TS}),
 "Member": obj({"user_id": UUID, "name": STR, "role": {"type": "string", "enum": ["admin", "member", "reader"]}}),
 "Flavor": obj({"id": UUID, "name": STR, "vcpus": INT, "memory_mib": INT, "disk_gib": INT, "disabled": BOOL, "created_at": TS}),
 "Image": obj({"id": UUID, "tenant_id": nullable(UUID), "name": STR,
               "visibility": {"type": "string", "enum": ["private", "public"]},
               "status": {"type": "string", "enum": ["queued", "saving", "active", "killed", "deleted"]},
               "disk_format": {"type": "string", "enum": ["raw", "qcow2"]}, "size_bytes": nullable(INT),
               "virtual_size_bytes": nullable(INT), "checksum": nullable({"type": "string", "description": "SHA-256 of the bytes, hex"}),
               "min_disk_gib": INT, "min_memory_mib": INT, "status_reason": nullable(STR), "created_at": TS, "updated_at": TS}),
 "SignedUrl": obj({"url": STR, "method": {"type": "string", "enum": ["PUT", "GET"]}, "expires_at": TS}),
 "ServerGroup": obj({"id": UUID, "name": STR, "policy": {"type": "string", "enum": ["affinity", "anti-affinity"]},
                     "members": {"type": "array", "items": UUID}, "created_at": TS}),
 "Scheduler": obj({"policy": {"type": "string", "enum": ["spread", "pack"]}, "cpu_overcommit": {"type": "number"},
                   "nodes": INT, "nodes_up": INT, "empty_nodes": {"type": "array", "items": STR, "description": "nodes no instance holds: they could be powered off"}}),
 "Keypair": obj({"id": UUID, "name": STR, "public_key": STR, "fingerprint": STR, "created_at": TS}),
 "Resources": obj({"instances": INT, "vcpus": INT, "memory_mib": INT, "disk_gib": INT,
                   "networks": INT, "ports": INT, "security_groups": INT,
                   "floating_ips": {"type": "integer", "description": "ports held by routers and floating IPs count here, not as ports"}}),
 "Quota": obj({"tenant_id": UUID, "limits": S("Resources"), "usage": S("Resources")}),
 "QuotaLimits": obj({k: {"type": "integer", "minimum": 0, "maximum": 1099511627776}
                     for k in ("instances", "vcpus", "memory_mib", "disk_gib", "networks", "ports",
                               "security_groups", "floating_ips")}),
 "Instance": obj({"id": UUID, "tenant_id": UUID, "name": STR, "flavor_id": UUID, "image_id": UUID,
                  "keypair_id": nullable(UUID), "vcpus": INT, "memory_mib": INT, "disk_gib": INT,
                  "state": {"type": "string", "enum": ["building", "active", "stopped", "deleting", "deleted", "error"]},
                  "task": nullable({"type": "string", "enum": ["starting", "stopping", "rebooting"]}),
                  "power_desired": {"type": "string", "enum": ["running", "stopped"]},
                  "node_id": nullable(UUID), "fault": nullable(STR), "created_at": TS, "updated_at": TS,
                  "server_group_id": nullable(UUID),
                  "host_status": nullable({"type": "string", "enum": ["up", "down", "maintenance"], "description": "the health of the instance's host; down: its node stopped sending heartbeats"})}),
 "Node": obj({"id": UUID, "name": STR, "hostname": STR, "agent_version": STR, "disabled": BOOL,
              "state": {"type": "string", "enum": ["up", "down", "disabled"]},
              "capacity": obj({"vcpus": INT, "memory_mib": INT, "disk_gib": INT}), "used": S("Resources"),
              "empty": {"type": "boolean", "description": "no instance holds the node: it could be powered down"},
              "tunnel_ip": nullable({"type": "string", "description": "the node's VXLAN underlay address (heartbeat or admin)"}),
              "external_uplink": {"type": "boolean", "description": "the node reports an uplink to the external networks: routers are placed on such nodes"},
              "last_heartbeat": nullable(TS), "created_at": TS,
              "token": {"type": "string", "description": "the node credential; returned once, at creation"}}),
 "NodeInstance": obj({"id": UUID, "tenant_id": UUID, "name": STR, "generation": INT, "state": STR, "task": nullable(STR),
                      "desired": {"type": "string", "enum": ["running", "stopped", "deleted"]}, "reboot_seq": INT, "flavor": STR,
                      "vcpus": INT, "memory_mib": INT, "disk_gib": INT, "image_id": UUID,
                      "user_data": nullable(STR), "ssh_public_key": nullable(STR),
                      "ports": {"type": "array", "description": "the instance's NICs, in the order the guest sees them",
                                "items": obj({"id": UUID, "mac": STR, "network_id": UUID, "model": {"type": "string", "enum": ["virtio"]},
                                              "vnic_type": {"type": "string", "enum": ["virtio", "direct"]}, "mtu": INT,
                                              "fixed_ips": {"type": "array", "items": obj({"subnet_id": UUID, "ip_address": STR})}})}}),
 "NodeNetwork": obj({"id": UUID, "vni": INT, "mtu": INT,
                     "external": {"type": "boolean", "description": "flat on the host's uplink, not VXLAN"},
                     "subnets": {"type": "array", "items": obj({"id": UUID, "cidr": STR, "gateway_ip": nullable(STR), "enable_dhcp": BOOL,
                                 "dns_nameservers": {"type": "array", "items": STR}, "host_routes": {"type": "array", "items": obj({"destination": STR, "nexthop": STR})},
                                 "allocation_pools": {"type": "array", "items": obj({"start": STR, "end": STR})}})},
                     "remote_ports": {"type": "array", "description": "every port of the network on other hosts (l2population): instances' ports and routers' interfaces",
                                      "items": obj({"id": UUID, "mac": STR, "host_id": UUID, "tunnel_ip": nullable(STR),
                                                    "fixed_ips": {"type": "array", "items": obj({"subnet_id": UUID, "ip_address": STR})}})}}),
 "NodeRouter": obj({"id": UUID, "enable_snat": BOOL,
                    "interfaces": {"type": "array", "items": obj({"port_id": UUID, "network_id": UUID, "subnet_id": UUID, "mac": STR,
                                   "ip_address": {"type": "string", "description": "the subnet's gateway address"}})},
                    "gateway": nullable(obj({"port_id": UUID, "network_id": UUID, "subnet_id": UUID, "mac": STR, "ip_address": STR})),
                    "floating_ips": {"type": "array", "description": "floating IPs whose fixed IP this router joins to their network",
                                     "items": obj({"id": UUID, "floating_ip_address": STR, "fixed_ip_address": STR, "port_id": UUID})}}),
 "NodeSecurityGroup": obj({"id": UUID, "port_ids": {"type": "array", "items": UUID, "description": "this host's ports in the group"},
                           "member_ips": {"type": "array", "items": STR, "description": "addresses of every port in the group, any host: for rules naming it as remote group"},
                           "rules": {"type": "array", "items": obj({"id": UUID, "direction": STR, "ethertype": STR, "protocol": nullable(STR),
                                     "port_range_min": nullable(INT), "port_range_max": nullable(INT), "remote_ip_prefix": nullable(STR), "remote_group_id": nullable(UUID)})}}),
}
def lst(key, item): return obj({key: {"type": "array", "items": S(item)}})
ERR = lambda d: {"description": d, "content": {"application/json": {"schema": S("Error")}}}
def ok(code, desc, schema=None):
    r = {"description": desc}
    if schema: r["content"] = {"application/json": {"schema": schema}}
    return {str(code): r}
def op(summary, access, responses, body=None, params=(), desc=None):
    o = {"summary": summary, "responses": {}}
    if desc: o["description"] = desc
    if access == "public": o["security"] = []
    else: o["x-stratus-access"] = access
    for r in responses: o["responses"].update(r)
    if access != "public":
        o["responses"].setdefault("401", ERR("missing, invalid, expired or revoked token"))
    if access not in ("public", "user", "tenant-read"):
        o["responses"].setdefault("403", ERR("the caller's role does not allow this"))
    if body: o["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params: o["parameters"] = list(params)
    o["responses"].setdefault("400", ERR("malformed or invalid request")) if body else None
    return o
def P(name, desc="an id"): return {"name": name, "in": "path", "required": True, "schema": UUID, "description": desc}
def Q(name, schema, desc): return {"name": name, "in": "query", "required": False, "schema": schema, "description": desc}
NF = ERR("no such object (or it belongs to another tenant)")
PWD = {"type": "string", "minLength": 8, "maxLength": 256, "description": "at least 8 characters; not a common or dictionary-based password, nor the user's name in some form (libpwquality)"}
CONF = ERR("conflicts with the current state")
paths = {}
def add(method, path, o): paths.setdefault(path, {})[method.lower()] = o

add("GET", "/healthz", op("Health: 200 when the database is reachable, else 503", "public",
    [ok(200, "healthy", obj({"status": STR})), {"503": {"description": "unhealthy", "content": {"application/json": {"schema": obj({"status": STR, "reason": STR})}}}}]))
add("GET", "/metrics", {**op("Prometheus metrics (text exposition format)", "public",
    [{"200": {"description": "metrics", "content": {"text/plain": {"schema": STR}}}},
     {"401": ERR("no metrics.token is configured, or the bearer token is not it")}],
    desc="For the operator's scraper, not tenants: `Authorization: Bearer <metrics.token>` (the gateway's configuration). Without metrics.token the gateway does not serve it."),
    "security": [{"metricsToken": []}]})
add("GET", "/v1/openapi.json", op("This document", "public", [ok(200, "the OpenAPI description", {"type": "object"})]))
DASH_HDRS = {h: {"schema": STR} for h in ("ETag", "Content-Security-Policy", "X-Frame-Options", "Referrer-Policy")}
add("GET", "/", op("Redirects to the web dashboard", "public", [{"302": {"description": "to /dashboard/", "headers": {"Location": {"schema": STR}}}}]))
for f, ctype, what in (("", "text/html", "the page"), ("core.js", "text/javascript", "its core script (session, router, page registry)"),
                       ("app.js", "text/javascript", "the tenant's pages"), ("admin.js", "text/javascript", "the cloud admin's pages"),
                       ("charts.js", "text/javascript", "its bar charts (SVG)"), ("billing.js", "text/javascript", "the billing pages"),
                       ("style.css", "text/css", "its style sheet"), ("favicon.svg", "image/svg+xml", "its icon")):
    add("GET", "/dashboard/" + f, op("The web dashboard: " + what + " (built into the gateway; ETag, strict CSP)", "public",
        [{"200": {"description": what, "headers": DASH_HDRS, "content": {ctype: {"schema": STR}}}},
         {"304": {"description": "unchanged since the ETag given", "headers": DASH_HDRS}}]))
add("POST", "/v1/auth/tokens", op("Sign in: name and password for a bearer token", "public",
    [ok(201, "signed in", S("Token")), {"401": ERR("wrong name or password, or not a member of the tenant")}, {"429": ERR("too many attempts; see Retry-After")}],
    body=obj({"name": STR, "password": STR, "tenant": {"type": "string", "description": "tenant name or id to scope the token to; default: the user's only tenant"}}, ["name", "password"])))
add("DELETE", "/v1/auth/tokens/current", op("Sign out: revoke the token used for this call", "user", [ok(204, "revoked")]))
add("GET", "/v1/auth/whoami", op("The caller: user, tenant, role and memberships", "user", [ok(200, "the caller", S("Whoami"))]))
add("POST", "/v1/api-keys", op("Create an API key for programs (same user, tenant and role)", "tenant-read",
    [ok(201, "created; the key is shown once", S("ApiKey")), {"403": ERR("password is wrong")}],
    body=obj({"name": STR, "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 3650, "default": 365},
              "password": {"type": "string", "description": "the caller's password: lets the key outlive the token making it"}}, ["name"]),
    desc="The key expires after expires_in_days, or when the token making this call expires if that is sooner (a one-hour session cannot mint a ten-year key, nor a key a longer-lived key), unless the body carries the caller's password. A password change revokes all of the user's API keys."))
add("GET", "/v1/api-keys", op("The caller's API keys in this tenant (no secrets)", "tenant-read", [ok(200, "keys", lst("api_keys", "ApiKey"))]))
add("DELETE", "/v1/api-keys/{id}", op("Revoke one of the caller's API keys", "tenant-read", [ok(204, "revoked"), {"404": NF}], params=[P("id")]))
add("POST", "/v1/tenants", op("Create a tenant (with default quotas)", "cloud-admin",
    [ok(201, "created", S("Tenant")), {"409": ERR("name taken")}], body=obj({"name": STR, "description": STR}, ["name"])))
add("GET", "/v1/tenants", op("Tenants: all for cloud admins, else the caller's own", "user", [ok(200, "tenants", lst("tenants", "Tenant"))]))
add("GET", "/v1/tenants/{id}", op("A tenant the caller belongs to", "user", [ok(200, "the tenant", S("Tenant")), {"404": NF}], params=[P("id")]))
add("DELETE", "/v1/tenants/{id}", op("Delete an empty tenant", "cloud-admin", [ok(204, "deleted"), {"404": NF}, {"409": ERR("the tenant still has instances")}], params=[P("id")]))
add("GET", "/v1/tenants/{id}/members", op("The tenant's members and roles", "user", [ok(200, "members", lst("members", "Member")), {"404": NF}], params=[P("id")]))
add("PUT", "/v1/tenants/{id}/members/{user_id}", op("Add a user to the tenant (cloud admin) or change a member's role (tenant admin; a user not in the tenant is 404 like an unknown id)", "user",
    [ok(200, "membership", obj({"tenant_id": UUID, "user_id": UUID, "role": STR})), {"403": ERR("needs the tenant's admin role")}, {"404": NF}],
    body=obj({"role": {"type": "string", "enum": ["admin", "member", "reader"]}}, ["role"]), params=[P("id", "tenant id"), P("user_id", "user id")]))
add("DELETE", "/v1/tenants/{id}/members/{user_id}", op("Remove a user from the tenant (tenant admin); their tokens for it stop working", "user",
    [ok(204, "removed"), {"403": ERR("needs the tenant's admin role")}, {"404": NF}], params=[P("id", "tenant id"), P("user_id", "user id")]))
add("GET", "/v1/tenants/{id}/quotas", op("A tenant's quota limits and usage", "cloud-admin", [ok(200, "quota", S("Quota")), {"404": NF}], params=[P("id")]))
add("PUT", "/v1/tenants/{id}/quotas", op("Set a tenant's quota limits (omitted fields unchanged)", "cloud-admin",
    [ok(200, "quota", S("Quota")), {"404": NF}], body=S("QuotaLimits"), params=[P("id")]))
add("POST", "/v1/users", op("Create a user", "cloud-admin", [ok(201, "created", S("User")), {"409": ERR("name taken")}, {"400": ERR("malformed or invalid request, or a password too weak")}],
    body=obj({"name": STR, "password": PWD, "cloud_admin": BOOL}, ["name", "password"])))
add("GET", "/v1/users", op("All users", "cloud-admin", [ok(200, "users", lst("users", "User"))]))
add("GET", "/v1/users/{id}", op("A user (the caller, or any for cloud admins)", "user", [ok(200, "the user", S("User")), {"404": NF}], params=[P("id")]))
add("PUT", "/v1/users/{id}/password", op("Change a password; signs out the user's other sessions and revokes all its API keys", "user",
    [ok(204, "changed"), {"403": ERR("current_password is wrong")}, {"404": NF}, {"400": ERR("malformed or invalid request, or a password too weak")}],
    body=obj({"password": PWD, "current_password": {"type": "string", "description": "required unless the caller is a cloud admin"}}, ["password"]), params=[P("id")]))
add("GET", "/v1/flavors", op("Flavors (disabled ones only for cloud admins)", "user", [ok(200, "flavors", lst("flavors", "Flavor"))]))
add("GET", "/v1/flavors/{id}", op("A flavor", "user", [ok(200, "the flavor", S("Flavor")), {"404": NF}], params=[P("id")]))
add("POST", "/v1/flavors", op("Define a flavor", "cloud-admin", [ok(201, "created", S("Flavor")), {"409": ERR("name taken")}],
    body=obj({"name": STR, "vcpus": INT, "memory_mib": INT, "disk_gib": INT}, ["name", "vcpus", "memory_mib", "disk_gib"])))
add("PATCH", "/v1/flavors/{id}", op("Enable or disable a flavor", "cloud-admin", [ok(200, "updated", S("Flavor")), {"404": NF}], body=obj({"disabled": BOOL}, ["disabled"]), params=[P("id")]))
add("DELETE", "/v1/flavors/{id}", op("Delete an unused flavor", "cloud-admin", [ok(204, "deleted"), {"404": NF}, {"409": ERR("instances use it: disable it instead")}], params=[P("id")]))
add("GET", "/v1/images", op("Images the tenant can use: its own and public ones (served by the image service)", "tenant-read", [ok(200, "images", lst("images", "Image"))],
    params=[Q("status", STR, "only images in this status"), Q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "page size"), Q("marker", UUID, "last id of the previous page")]))
add("POST", "/v1/images/{id}/upload-url", op("A signed URL to PUT the image's bytes to (the image service's data listener; raw or qcow2, checked on arrival)", "tenant-write",
    [ok(200, "the URL, valid for one upload until it expires", S("SignedUrl")), {"404": NF}, {"409": ERR("the image is not queued: one upload per image")}], params=[P("id")]))
add("POST", "/v1/images/{id}/download-url", op("A signed URL to GET the image's bytes from (supports Range)", "tenant-read",
    [ok(200, "the URL", S("SignedUrl")), {"404": NF}, {"409": ERR("the image is not active")}], params=[P("id")]))
add("GET", "/v1/images/{id}", op("An image", "tenant-read", [ok(200, "the image", S("Image")), {"404": NF}], params=[P("id")]))
add("POST", "/v1/images", op("Register an image (status queued until its bytes are uploaded through an upload URL)", "tenant-write",
    [ok(201, "created", S("Image"))], body=obj({"name": STR, "disk_format": {"type": "string", "enum": ["raw", "qcow2"]},
    "visibility": {"type": "string", "enum": ["private", "public"], "description": "public needs a cloud admin"}, "min_disk_gib": INT, "min_memory_mib": INT}, ["name", "disk_format"])))
add("PATCH", "/v1/images/{id}", op("Rename an image or change its visibility", "tenant-write", [ok(200, "updated", S("Image")), {"404": NF}],
    body=obj({"name": STR, "visibility": {"type": "string", "enum": ["private", "public"]}}), params=[P("id")]))
add("DELETE", "/v1/images/{id}", op("Delete an image the tenant owns", "tenant-write", [ok(204, "deleted"), {"404": NF}], params=[P("id")]))
add("GET", "/v1/keypairs", op("The tenant's SSH keypairs", "tenant-read", [ok(200, "keypairs", lst("keypairs", "Keypair"))]))
add("GET", "/v1/keypairs/{id}", op("A keypair", "tenant-read", [ok(200, "the keypair", S("Keypair")), {"404": NF}], params=[P("id")]))
add("POST", "/v1/keypairs", op("Import an OpenSSH public key", "tenant-write", [ok(201, "created", S("Keypair")), {"409": ERR("name taken")}],
    body=obj({"name": STR, "public_key": {"type": "string", "description": "one line: type, base64 key, optional comment"}}, ["name", "public_key"])))
add("DELETE", "/v1/keypairs/{id}", op("Delete a keypair", "tenant-write", [ok(204, "deleted"), {"404": NF}], params=[P("id")]))
add("GET", "/v1/quotas", op("The tenant's quota limits and usage", "tenant-read", [ok(200, "quota", S("Quota"))]))
add("POST", "/v1/instances", op("Create an instance", "tenant-write",
    [ok(202, "accepted; building (or error with the reason when no host fits)", S("Instance")), {"409": ERR("quota exceeded")}, {"422": ERR("Idempotency-Key reused with a different request")}],
    body=obj({"name": STR, "flavor": {"type": "string", "description": "flavor id or name"},
              "networks": {"oneOf": [{"type": "array", "items": obj({"network_id": UUID, "fixed_ip": {"type": "string", "format": "ipv4"}, "port_id": UUID})},
                                     {"type": "string", "enum": ["none"]}],
                           "description": "NICs: a port made on a network (own or shared), or a free port bound; \"none\": no NIC. Given neither networks nor ports, one port on the tenant's default network (made on first use, 10.0.0.0/24)"},
              "ports": {"type": "array", "items": UUID, "description": "free ports of the tenant to bind, after the networks' NICs"}, "image": {"type": "string", "description": "image id or name"},
              "keypair": {"type": "string", "description": "keypair id or name"},
              "server_group": {"type": "string", "description": "server group id or name"}, "user_data": {"type": "string", "format": "byte", "maxLength": 65536}}, ["name", "flavor", "image"]),
    params=[{"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 255}, "description": "a retried create with the same key and body returns the first instance"}]))
LIST_ETAG = {"ETag": {"description": "the page's entity tag (from its bytes: any gateway gives the same tag for the same page)", "schema": STR}}
add("GET", "/v1/instances", op("The tenant's instances, oldest first, in pages; ETag; If-None-Match answers 304", "tenant-read",
    [{"200": {"description": "a page; next is the marker for the following page, null at the end", "headers": LIST_ETAG,
              "content": {"application/json": {"schema": obj({"instances": {"type": "array", "items": S("Instance")}, "next": nullable(UUID)})}}}},
     {"304": {"description": "the page is unchanged since the ETag given", "headers": LIST_ETAG}}],
    params=[Q("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}, "page size"), Q("marker", UUID, "the previous page's next"),
            Q("state", STR, "only instances in this state"), Q("name", STR, "only instances with this name"),
            {"name": "If-None-Match", "in": "header", "required": False, "schema": STR, "description": "ETags of pages the client holds; 304 when the page is one of them"}]))
add("GET", "/v1/instances/{id}", op("An instance", "tenant-read", [ok(200, "the instance", S("Instance")), {"404": NF}], params=[P("id")]))
add("DELETE", "/v1/instances/{id}", op("Delete an instance (deleting until its node confirms)", "tenant-write", [ok(202, "accepted"), {"404": NF}, {"409": CONF}], params=[P("id")]))
add("POST", "/v1/instances/{id}/actions", op("start (stopped), stop (active) or reboot (active)", "tenant-write",
    [ok(202, "accepted", S("Instance")), {"404": NF}, {"409": CONF}], body=obj({"action": {"type": "string", "enum": ["start", "stop", "reboot"]}}, ["action"]), params=[P("id")]))
add("POST", "/v1/server-groups", op("Create a server group", "tenant-write", [ok(201, "created", S("ServerGroup")), {"409": ERR("name taken")}],
    body=obj({"name": STR, "policy": {"type": "string", "enum": ["affinity", "anti-affinity"]}}, ["name", "policy"])))
add("GET", "/v1/server-groups", op("The tenant's server groups", "tenant-read", [ok(200, "groups", lst("server_groups", "ServerGroup"))]))
add("GET", "/v1/server-groups/{id}", op("A server group and its members", "tenant-read", [ok(200, "the group", S("ServerGroup")), {"404": NF}], params=[P("id")]))
add("DELETE", "/v1/server-groups/{id}", op("Delete a server group (members stay, ungrouped)", "tenant-write", [ok(204, "deleted"), {"404": NF}], params=[P("id")]))
add("GET", "/v1/scheduler", op("The placement policy and which nodes are empty", "cloud-admin", [ok(200, "scheduler", S("Scheduler"))]))
add("PUT", "/v1/scheduler", op("Choose the placement policy: spread (performance) or pack (power)", "cloud-admin",
    [ok(200, "scheduler", S("Scheduler"))], body=obj({"policy": {"type": "string", "enum": ["spread", "pack"]}}, ["policy"])))
# Billing: forwarded to stratus-billing (billing/README.md has the documents in full).
BILLING = "Served by the billing service; money is integer micro-units, months YYYY-MM."
ANY = {"type": "object", "description": "see billing/README.md"}
add("GET", "/v1/billing/usage", op("The tenant's usage by hour, day or month, per instance and meter", "tenant-read",
    [ok(200, "usage", ANY)], desc=BILLING, params=[Q("from", TS, "start (default: this month)"), Q("to", TS, "end"),
    Q("granularity", {"type": "string", "enum": ["hour", "day", "month"]}, "bucket size"), Q("instance_id", UUID, "one instance")]))
add("GET", "/v1/billing/invoices", op("The tenant's invoices: issued ones and the live draft", "tenant-read", [ok(200, "invoices", ANY)], desc=BILLING))
add("GET", "/v1/billing/invoices/{id}", op("An invoice as JSON, CSV, HTML or PDF (?format= or Accept); ETag; If-None-Match answers 304", "tenant-read",
    [ok(200, "the invoice document", ANY), {"304": {"description": "unchanged since the ETag given"}}, {"404": NF}], desc=BILLING,
    params=[P("id"), Q("format", {"type": "string", "enum": ["json", "csv", "html", "pdf"]}, "document format")]))
add("GET", "/v1/billing/invoices/{id}/download", op("The same document as an attachment", "tenant-read",
    [ok(200, "the invoice document", ANY), {"304": {"description": "unchanged since the ETag given"}}, {"404": NF}], desc=BILLING,
    params=[P("id"), Q("format", {"type": "string", "enum": ["json", "csv", "html", "pdf"]}, "document format")]))
add("GET", "/v1/billing/plan", op("The price plan in force for the tenant now", "tenant-read", [ok(200, "plan", ANY)], desc=BILLING))
ACCOUNT = obj({"legal_name": STR, "address": {"type": "string", "description": "postal address, lines split by \\n"},
               "country": {"type": "string", "pattern": "^[A-Z]{2}$", "description": "ISO 3166-1 alpha-2"},
               "tax_id": STR, "email": STR}, ["legal_name", "address", "country", "email"])
add("GET", "/v1/billing/account", op("The tenant's billing account (the buyer on its invoices)", "tenant-read",
    [ok(200, "account", ANY), {"404": ERR("no billing account yet")}], desc=BILLING))
add("PUT", "/v1/billing/account", op("Set the tenant's billing account (tenant admin)", "tenant-admin",
    [ok(200, "account", ANY)], body=ACCOUNT, desc=BILLING))
add("GET", "/v1/billing/tenants/{tenant_id}/account", op("A tenant's billing account", "cloud-admin",
    [ok(200, "account", ANY), {"404": ERR("no billing account yet")}], params=[P("tenant_id", "tenant id")], desc=BILLING))
add("PUT", "/v1/billing/tenants/{tenant_id}/account", op("Set a tenant's billing account", "cloud-admin",
    [ok(200, "account", ANY)], body=ACCOUNT, params=[P("tenant_id", "tenant id")], desc=BILLING))
add("GET", "/v1/billing/credit-notes", op("The tenant's credit notes", "tenant-read", [ok(200, "credit notes", ANY)], desc=BILLING))
add("GET", "/v1/billing/credit-notes/{id}", op("A credit note, JSON or PDF (?format=)", "tenant-read", [ok(200, "credit note", ANY), {"404": NF}],
    params=[P("id"), Q("format", {"type": "string", "enum": ["json", "pdf"]}, "json (default) or pdf")], desc=BILLING))
add("POST", "/v1/billing/invoices/{id}/credit-notes", op("Correct an issued invoice by a credit note (own number sequence; the invoice never changes)", "cloud-admin",
    [ok(201, "credit note", ANY), {"404": NF}, {"409": ERR("nothing left to credit")}], body=ANY, params=[P("id")], desc=BILLING))
add("GET", "/v1/billing/plans", op("Price plans", "cloud-admin", [ok(200, "plans", ANY)], desc=BILLING))
add("POST", "/v1/billing/plans", op("Create a price plan", "cloud-admin", [ok(201, "created", ANY)], body=ANY, desc=BILLING))
add("GET", "/v1/billing/plans/{id}", op("A price plan with its versions", "cloud-admin", [ok(200, "plan", ANY), {"404": NF}], params=[P("id")], desc=BILLING))
add("PATCH", "/v1/billing/plans/{id}", op("Rename a plan, or make it the default", "cloud-admin", [ok(200, "plan", ANY), {"404": NF}], body=ANY, params=[P("id")], desc=BILLING))
add("DELETE", "/v1/billing/plans/{id}", op("Delete a plan no tenant uses", "cloud-admin", [ok(204, "deleted"), {"404": NF}, {"409": CONF}], params=[P("id")], desc=BILLING))
add("POST", "/v1/billing/plans/{id}/versions", op("New prices from a month on (versions are immutable)", "cloud-admin",
    [ok(201, "version", ANY), {"404": NF}, {"409": CONF}], body=ANY, params=[P("id")], desc=BILLING))
add("GET", "/v1/billing/tenants/{tenant_id}/plans", op("A tenant's plan assignments", "cloud-admin", [ok(200, "assignments", ANY)], params=[P("tenant_id", "tenant id")], desc=BILLING))
add("POST", "/v1/billing/tenants/{tenant_id}/plans", op("Put a tenant on a plan from an hour on", "cloud-admin",
    [ok(201, "assignment", ANY), {"409": CONF}], body=ANY, params=[P("tenant_id", "tenant id")], desc=BILLING))
add("GET", "/v1/billing/periods", op("Issued months and the next invoice number", "cloud-admin", [ok(200, "periods", ANY)], desc=BILLING))
PERIOD = {"name": "period", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}}
add("POST", "/v1/billing/periods/{period}/issue", op("Issue every tenant's invoice for an ended month (numbered without gaps, immutable)", "cloud-admin",
    [ok(201, "issued", ANY), {"404": ERR("not a YYYY-MM month")}, {"409": ERR("the month has not ended, is issued, an earlier month is not, or it has no usage and confirm_empty=true is missing (empty_month)")}],
    params=[PERIOD, Q("confirm_empty", BOOL, "true: issue a month with no usage (it closes for good)")], desc=BILLING))
add("GET", "/v1/billing/periods/{period}/preview", op("What issuing the month now would produce: each tenant's totals and the numbers it would take; nothing is stored", "cloud-admin",
    [ok(200, "preview", ANY), {"404": ERR("not a YYYY-MM month")}, {"409": ERR("the month is issued")}],
    params=[PERIOD], desc=BILLING))
add("POST", "/v1/nodes", op("Register a compute node; returns its credential once", "cloud-admin", [ok(201, "created", S("Node")), {"409": ERR("name taken")}], body=obj({"name": STR}, ["name"])))
add("GET", "/v1/nodes", op("Compute nodes with capacity, usage, health, and which are empty", "cloud-admin", [ok(200, "nodes", lst("nodes", "Node"))]))
add("GET", "/v1/nodes/{id}", op("A compute node", "cloud-admin", [ok(200, "the node", S("Node")), {"404": NF}], params=[P("id")]))
add("PATCH", "/v1/nodes/{id}", op("Disable (no new placements) or enable a node, or set its tunnel (VXLAN underlay) address", "cloud-admin", [ok(200, "updated", S("Node")), {"404": NF}], body=obj({"disabled": BOOL, "tunnel_ip": {"type": "string", "format": "ipv4"}}), params=[P("id")]))
add("DELETE", "/v1/nodes/{id}", op("Remove a node that holds no instances", "cloud-admin", [ok(204, "removed"), {"404": NF}, {"409": ERR("the node still has instances")}], params=[P("id")]))
add("POST", "/v1/nodes/{id}/credential", op("Replace a node's credential; the old one is refused by every service from now on; returns the new one once", "cloud-admin", [ok(200, "the node's id and new token", obj({"id": UUID, "token": STR})), {"404": NF}], params=[P("id")]))
add("PUT", "/internal/v1/node", op("Node heartbeat with capacity (node credential)", "node", [ok(200, "the node", S("Node"))],
    body=obj({"hostname": STR, "agent_version": STR, "tunnel_ip": {"type": "string", "format": "ipv4", "description": "the node's VXLAN underlay address"},
              "external_uplink": {"type": "boolean", "description": "the node has an uplink to the external networks (node.conf network.external_interface)"}, "capacity": obj({"vcpus": INT, "memory_mib": INT, "disk_gib": INT}, ["vcpus", "memory_mib", "disk_gib"])}, ["capacity"])))
NODE_ETAG = {"ETag": {"description": "the node's desired-set version; unchanged until an order for the node changes", "schema": STR}}
add("GET", "/internal/v1/node/instances", op("The instances this node should run, with generations (node credential); ETag; If-None-Match answers 304", "node",
    [{"200": {"description": "desired instances", "headers": NODE_ETAG, "content": {"application/json": {"schema": obj({"instances": {"type": "array", "items": S("NodeInstance")},
        "networks": {"type": "array", "items": S("NodeNetwork"), "description": "each network with a port on this host, or that a router placed here joins"},
        "routers": {"type": "array", "items": S("NodeRouter"), "description": "the routers placed on this host"},
        "security_groups": {"type": "array", "items": S("NodeSecurityGroup"), "description": "each group a port on this host is in, or that such a group's rules name"}})}}}},
     {"304": {"description": "unchanged since the ETag given", "headers": NODE_ETAG}}],
    params=[{"name": "If-None-Match", "in": "header", "required": False, "schema": STR, "description": "the ETag of the set the node holds"}]))
add("PUT", "/internal/v1/node/instances/{id}", op("Report an instance's actual state (node credential)", "node",
    [ok(200, "the instance", S("Instance")), {"404": NF}, {"409": ERR("stale_report: the generation is older than the instance's (re-read the desired state); conflict: not a legal transition")}],
    body=obj({"state": {"type": "string", "enum": ["active", "stopped", "deleted", "error"]}, "generation": INT, "reboot_seq": INT, "fault": STR,
              "retryable": {"type": "boolean", "description": "with state error for a building instance: the launch failed on this host; place it on another (up to sched.launch_attempts hosts)"}}, ["state", "generation"]), params=[P("id")]))
add("PUT", "/internal/v1/node/instances/{id}/console", op("Push the tail of an instance's serial output (node credential; any bytes, the last 64 KiB kept)", "node",
    [ok(204, "stored"), {"404": NF}], params=[P("id")]))
add("GET", "/v1/instances/{id}/console", op("The instance's recent console output (as its node last pushed it)", "tenant-read",
    [ok(200, "console text (invalid UTF-8 replaced, control characters dropped)", obj({"output": STR, "updated_at": nullable(TS)})), {"404": NF}],
    params=[P("id"), Q("tail", INT, "only the last N lines")]))

# ---- Networks (Neutron's shapes; network.c, ports.c, secgroups.c) ----
IP = {"type": "string", "format": "ipv4"}
CIDR = {"type": "string", "description": "a network in CIDR form, 10.0.0.0/24"}
FIXED = obj({"subnet_id": UUID, "ip_address": IP})
POOL = obj({"start": IP, "end": IP}, ["start", "end"])
ROUTE = obj({"destination": CIDR, "nexthop": IP}, ["destination", "nexthop"])
schemas.update({
 "Network": obj({"id": UUID, "tenant_id": UUID, "name": STR, "mtu": {"type": "integer", "description": "1450 by default: a 1500-byte underlay less VXLAN's headers"},
                 "shared": {"type": "boolean", "description": "other tenants may put ports on it (set by a cloud admin)"},
                 "external": {"type": "boolean", "description": "routers' gateways and floating IPs come from it (set by a cloud admin)"},
                 "is_default": {"type": "boolean", "description": "the tenant's default network, made for the first instance created without networks"},
                 "status": STR, "subnets": {"type": "array", "items": UUID},
                 "network_type": {"type": "string", "enum": ["vxlan"], "description": "cloud admins only"},
                 "segmentation_id": {"type": "integer", "description": "the VXLAN VNI; cloud admins only"},
                 "created_at": TS, "updated_at": TS}),
 "Subnet": obj({"id": UUID, "tenant_id": UUID, "network_id": UUID, "name": STR, "ip_version": {"type": "integer", "enum": [4]},
                "cidr": CIDR, "gateway_ip": nullable(IP), "dns_nameservers": {"type": "array", "items": IP},
                "allocation_pools": {"type": "array", "items": POOL}, "host_routes": {"type": "array", "items": ROUTE},
                "enable_dhcp": BOOL, "created_at": TS, "updated_at": TS}),
 "Port": obj({"id": UUID, "tenant_id": UUID, "network_id": UUID, "name": STR,
              "mac_address": {"type": "string", "description": "fa:16:3e:xx:xx:xx, unique"},
              "fixed_ips": {"type": "array", "items": FIXED}, "security_groups": {"type": "array", "items": UUID},
              "instance_id": nullable(UUID), "device_owner": {"type": "string", "description": "'' (free), compute:stratus, network:router_interface, network:router_gateway, network:floatingip"},
              "vnic_type": {"type": "string", "enum": ["virtio", "direct"], "description": "direct: an SR-IOV virtual function"},
              "model": {"type": "string", "enum": ["virtio"]}, "status": {"type": "string", "enum": ["ACTIVE", "DOWN"]},
              "created_at": TS, "updated_at": TS}),
 "SecurityGroupRule": obj({"id": UUID, "tenant_id": UUID, "security_group_id": UUID,
              "direction": {"type": "string", "enum": ["ingress", "egress"]}, "ethertype": {"type": "string", "enum": ["IPv4", "IPv6"]},
              "protocol": nullable({"type": "string", "description": "tcp, udp, icmp, icmpv6 or a number 0-255; null: any"}),
              "port_range_min": nullable({"type": "integer", "description": "first port; for icmp the type"}),
              "port_range_max": nullable({"type": "integer", "description": "last port; for icmp the code"}),
              "remote_ip_prefix": nullable(CIDR), "remote_group_id": nullable(UUID), "description": STR, "created_at": TS}),
 "SecurityGroup": obj({"id": UUID, "tenant_id": UUID, "name": STR, "description": STR, "is_default": BOOL,
              "security_group_rules": {"type": "array", "items": S("SecurityGroupRule")}, "created_at": TS, "updated_at": TS}),
})
QUOTA = ERR("quota_exceeded")
add("GET", "/v1/networks", op("Networks the tenant can see: its own, shared and external ones", "tenant-read", [ok(200, "networks", lst("networks", "Network"))]))
add("POST", "/v1/networks", op("Create a network; it gets a VXLAN VNI of its own", "tenant-write",
    [ok(201, "created", S("Network")), {"403": ERR("shared or external need a cloud admin")}, {"409": QUOTA}],
    body=obj({"name": STR, "mtu": {"type": "integer", "minimum": 68, "maximum": 1450, "default": 1450}, "shared": BOOL, "external": BOOL})))
add("GET", "/v1/networks/{id}", op("A network", "tenant-read", [ok(200, "the network", S("Network")), {"404": NF}], params=[P("id")]))
add("PATCH", "/v1/networks/{id}", op("Rename a network or change its MTU; shared and external (any tenant's network) for cloud admins", "tenant-write",
    [ok(200, "updated", S("Network")), {"403": ERR("shared or external need a cloud admin")}, {"404": NF}, {"409": ERR("still in use by other tenants, routers or floating IPs")}],
    body=obj({"name": STR, "mtu": {"type": "integer", "minimum": 68, "maximum": 1450}, "shared": BOOL, "external": BOOL}), params=[P("id")]))
add("DELETE", "/v1/networks/{id}", op("Delete a network with no ports (its subnets go with it)", "tenant-write", [ok(204, "deleted"), {"404": NF}, {"409": ERR("the network has ports")}], params=[P("id")]))
add("GET", "/v1/subnets", op("Subnets of the networks the tenant can see", "tenant-read", [ok(200, "subnets", lst("subnets", "Subnet"))], params=[Q("network_id", UUID, "one network's")]))
add("POST", "/v1/subnets", op("Add an IPv4 subnet (/16 to /30) to one of the tenant's networks; it may not overlap another subnet of that network", "tenant-write",
    [ok(201, "created", S("Subnet")), {"404": NF}],
    body=obj({"network_id": UUID, "name": STR, "ip_version": {"type": "integer", "enum": [4]}, "cidr": CIDR,
              "gateway_ip": nullable({**IP, "description": "default: the first address; null: no gateway"}),
              "dns_nameservers": {"type": "array", "items": IP, "maxItems": 5},
              "allocation_pools": {"type": "array", "items": POOL, "description": "default: every host address but the gateway's"},
              "host_routes": {"type": "array", "items": ROUTE, "maxItems": 20}, "enable_dhcp": {"type": "boolean", "default": True}}, ["network_id", "cidr"])))
add("GET", "/v1/subnets/{id}", op("A subnet", "tenant-read", [ok(200, "the subnet", S("Subnet")), {"404": NF}], params=[P("id")]))
add("PATCH", "/v1/subnets/{id}", op("Change a subnet's name, DNS servers, host routes or DHCP", "tenant-write", [ok(200, "updated", S("Subnet")), {"404": NF}],
    body=obj({"name": STR, "dns_nameservers": {"type": "array", "items": IP}, "host_routes": {"type": "array", "items": ROUTE}, "enable_dhcp": BOOL}), params=[P("id")]))
add("DELETE", "/v1/subnets/{id}", op("Delete a subnet no port has an address in", "tenant-write", [ok(204, "deleted"), {"404": NF}, {"409": ERR("addresses in use")}], params=[P("id")]))
add("GET", "/v1/ports", op("The tenant's ports", "tenant-read", [ok(200, "ports", lst("ports", "Port"))],
    params=[Q("network_id", UUID, "on this network"), Q("instance_id", UUID, "bound to this instance")]))
add("POST", "/v1/ports", op("Create a port on one of the tenant's networks or a shared one: a unique MAC, and addresses allocated atomically (a freed address is not handed out again until the pool has gone round)", "tenant-write",
    [ok(201, "created", S("Port")), {"404": NF}, {"409": ERR("the address asked for is taken, no address is left, or quota_exceeded")}],
    body=obj({"network_id": UUID, "name": STR,
              "fixed_ips": {"type": "array", "items": obj({"subnet_id": UUID, "ip_address": IP}), "description": "default: one address from the first subnet with room"},
              "security_groups": {"type": "array", "items": UUID, "description": "default: the tenant's default group"},
              "vnic_type": {"type": "string", "enum": ["virtio", "direct"], "default": "virtio"}, "model": {"type": "string", "enum": ["virtio"], "default": "virtio"}}, ["network_id"])))
add("GET", "/v1/ports/{id}", op("A port", "tenant-read", [ok(200, "the port", S("Port")), {"404": NF}], params=[P("id")]))
add("PATCH", "/v1/ports/{id}", op("Rename a port, or replace its fixed IPs or security groups", "tenant-write",
    [ok(200, "updated", S("Port")), {"404": NF}, {"409": ERR("address taken, or the port is a router's or a floating IP's")}],
    body=obj({"name": STR, "fixed_ips": {"type": "array", "items": obj({"subnet_id": UUID, "ip_address": IP})}, "security_groups": {"type": "array", "items": UUID}}), params=[P("id")]))
add("DELETE", "/v1/ports/{id}", op("Delete a free port; its addresses are freed", "tenant-write", [ok(204, "deleted"), {"404": NF}, {"409": ERR("attached to an instance, or a router's or a floating IP's")}], params=[P("id")]))
add("GET", "/v1/security-groups", op("The tenant's security groups (the default group is made on first use)", "tenant-read", [ok(200, "groups", lst("security_groups", "SecurityGroup"))]))
add("POST", "/v1/security-groups", op("Create a security group (with rules letting all traffic out)", "tenant-write",
    [ok(201, "created", S("SecurityGroup")), {"409": ERR("the name default, or quota_exceeded")}], body=obj({"name": STR, "description": STR}, ["name"])))
add("GET", "/v1/security-groups/{id}", op("A security group with its rules", "tenant-read", [ok(200, "the group", S("SecurityGroup")), {"404": NF}], params=[P("id")]))
add("PATCH", "/v1/security-groups/{id}", op("Rename a group or change its description (not the default group's name)", "tenant-write",
    [ok(200, "updated", S("SecurityGroup")), {"404": NF}, {"409": CONF}], body=obj({"name": STR, "description": STR}), params=[P("id")]))
add("DELETE", "/v1/security-groups/{id}", op("Delete a group no port is in (not the default group)", "tenant-write", [ok(204, "deleted"), {"404": NF}, {"409": CONF}], params=[P("id")]))
add("GET", "/v1/security-group-rules", op("The tenant's security group rules", "tenant-read", [ok(200, "rules", lst("security_group_rules", "SecurityGroupRule"))],
    params=[Q("security_group_id", UUID, "one group's")]))
add("POST", "/v1/security-group-rules", op("Add a rule to a group", "tenant-write", [ok(201, "created", S("SecurityGroupRule")), {"404": NF}, {"409": ERR("the group has this rule")}],
    body=obj({"security_group_id": UUID, "direction": {"type": "string", "enum": ["ingress", "egress"]}, "ethertype": {"type": "string", "enum": ["IPv4", "IPv6"], "default": "IPv4"},
              "protocol": nullable(STR), "port_range_min": nullable(INT), "port_range_max": nullable(INT),
              "remote_ip_prefix": nullable(CIDR), "remote_group_id": nullable(UUID), "description": STR}, ["security_group_id", "direction"])))
add("GET", "/v1/security-group-rules/{id}", op("A rule", "tenant-read", [ok(200, "the rule", S("SecurityGroupRule")), {"404": NF}], params=[P("id")]))
add("DELETE", "/v1/security-group-rules/{id}", op("Delete a rule", "tenant-write", [ok(204, "deleted"), {"404": NF}], params=[P("id")]))

add("GET", "/v1/instances/{id}/interfaces", op("The instance's ports, in the order its guest sees them", "tenant-read",
    [ok(200, "ports", lst("interfaces", "Port")), {"404": NF}], params=[P("id")]))
add("POST", "/v1/instances/{id}/interfaces", op("Attach a NIC to a stopped instance: a new port on a network, or a free port", "tenant-write",
    [ok(200, "the port", S("Port")), {"404": NF}, {"409": ERR("the instance is not stopped, the port is in use, or quota_exceeded")}],
    body=obj({"network_id": UUID, "fixed_ip": {"type": "string", "format": "ipv4"}, "port_id": UUID}), params=[P("id")]))
add("DELETE", "/v1/instances/{id}/interfaces/{port_id}", op("Detach a port from a stopped instance (a port made for the instance is deleted, the tenant's own is freed)", "tenant-write",
    [ok(204, "detached"), {"404": NF}, {"409": ERR("the instance is not stopped")}], params=[P("id"), P("port_id", "port id")]))

schemas.update({
 "Router": obj({"id": UUID, "tenant_id": UUID, "name": STR, "status": STR,
                "external_gateway_info": nullable(obj({"network_id": UUID, "enable_snat": BOOL,
                                                       "external_fixed_ips": {"type": "array", "items": FIXED}})),
                "interfaces": {"type": "array", "items": obj({"port_id": UUID, "subnet_id": UUID, "ip_address": IP})},
                "created_at": TS, "updated_at": TS}),
 "RouterInterface": obj({"id": UUID, "tenant_id": UUID, "subnet_id": UUID, "port_id": UUID}),
 "FloatingIp": obj({"id": UUID, "tenant_id": UUID, "floating_network_id": UUID, "floating_ip_address": IP,
                    "port_id": nullable(UUID), "fixed_ip_address": nullable(IP),
                    "router_id": nullable({**UUID, "description": "the tenant's router joining the port's subnet to the floating IP's network"}),
                    "status": {"type": "string", "enum": ["ACTIVE", "DOWN"]}, "description": STR, "created_at": TS, "updated_at": TS}),
})
GWINFO = nullable(obj({"network_id": UUID, "enable_snat": {"type": "boolean", "default": True}}, ["network_id"]))
add("GET", "/v1/routers", op("The tenant's routers", "tenant-read", [ok(200, "routers", lst("routers", "Router"))]))
add("POST", "/v1/routers", op("Create a router, with its gateway on an external network if given", "tenant-write",
    [ok(201, "created", S("Router")), {"404": NF}], body=obj({"name": STR, "external_gateway_info": GWINFO})))
add("GET", "/v1/routers/{id}", op("A router with its gateway and interfaces", "tenant-read", [ok(200, "the router", S("Router")), {"404": NF}], params=[P("id")]))
add("PATCH", "/v1/routers/{id}", op("Rename a router, or set or clear (null) its external gateway", "tenant-write",
    [ok(200, "updated", S("Router")), {"404": NF}, {"409": ERR("floating IPs rely on the gateway")}],
    body=obj({"name": STR, "external_gateway_info": GWINFO}), params=[P("id")]))
add("DELETE", "/v1/routers/{id}", op("Delete a router with no interfaces (its gateway goes with it)", "tenant-write",
    [ok(204, "deleted"), {"404": NF}, {"409": ERR("the router has interfaces")}], params=[P("id")]))
add("POST", "/v1/routers/{id}/interfaces", op("Join one of the tenant's subnets to the router: a port holding the subnet's gateway address", "tenant-write",
    [ok(200, "the interface", S("RouterInterface")), {"404": NF}, {"409": ERR("the subnet's gateway address is taken")}],
    body=obj({"subnet_id": UUID}, ["subnet_id"]), params=[P("id")]))
add("DELETE", "/v1/routers/{id}/interfaces/{subnet_id}", op("Remove the router's interface on a subnet", "tenant-write",
    [ok(204, "removed"), {"404": NF}, {"409": ERR("floating IPs reach ports on the subnet through this router")}],
    params=[P("id"), P("subnet_id", "subnet id")]))
add("GET", "/v1/floating-ips", op("The tenant's floating IPs", "tenant-read", [ok(200, "floating IPs", lst("floating_ips", "FloatingIp"))]))
add("POST", "/v1/floating-ips", op("Take an address from an external network, optionally mapped to a port's fixed IP", "tenant-write",
    [ok(201, "created", S("FloatingIp")), {"404": NF}, {"409": ERR("the fixed IP has a floating IP, no address is left, or quota_exceeded")}],
    body=obj({"floating_network_id": UUID, "port_id": nullable(UUID), "fixed_ip_address": IP, "description": STR}, ["floating_network_id"])))
add("GET", "/v1/floating-ips/{id}", op("A floating IP", "tenant-read", [ok(200, "the floating IP", S("FloatingIp")), {"404": NF}], params=[P("id")]))
add("PATCH", "/v1/floating-ips/{id}", op("Map a floating IP to a port's fixed IP (a router of the tenant must join the port's subnet to the external network), or unmap it (port_id null)", "tenant-write",
    [ok(200, "updated", S("FloatingIp")), {"404": NF}, {"409": ERR("the fixed IP has a floating IP")}],
    body=obj({"port_id": nullable(UUID), "fixed_ip_address": IP, "description": STR}), params=[P("id")]))
add("DELETE", "/v1/floating-ips/{id}", op("Release a floating IP (its address returns to the pool)", "tenant-write", [ok(204, "released"), {"404": NF}], params=[P("id")]))

doc = {"openapi": "3.0.3",
 "info": {"title": "Stratus API", "version": "0.1.0",
  "description": "The tenant-facing API of the Stratus cloud. Every call but sign-in, /healthz, the web dashboard's files and this document needs `Authorization: Bearer <token>` (a session token from POST /v1/auth/tokens, or an API key). Objects of other tenants are never visible: they answer 404. Errors are `{\"error\": {\"code\", \"message\"}}`. Times are RFC 3339 UTC; ids are UUIDs. `x-stratus-access` names who may call an operation: user (any token), tenant-read (a token scoped to a tenant), tenant-write (role member or admin), cloud-admin, node (a compute node's credential)."},
 "servers": [{"url": "/"}],
 "security": [{"bearer": []}],
 "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                    "metricsToken": {"type": "http", "scheme": "bearer", "description": "the operator's metrics.token, for GET /metrics only"}}, "schemas": schemas},
 "paths": paths}
import os
json.dump(doc, open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "openapi.json"), "w"), indent=1)
print(len(paths), sum(len(v) for v in paths.values()))
