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
 "Resources": obj({"instances": INT, "vcpus": INT, "memory_mib": INT, "disk_gib": INT}),
 "Quota": obj({"tenant_id": UUID, "limits": S("Resources"), "usage": S("Resources")}),
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
              "last_heartbeat": nullable(TS), "created_at": TS,
              "token": {"type": "string", "description": "the node credential; returned once, at creation"}}),
 "NodeInstance": obj({"id": UUID, "tenant_id": UUID, "name": STR, "generation": INT, "state": STR, "task": nullable(STR),
                      "desired": {"type": "string", "enum": ["running", "stopped", "deleted"]}, "reboot_seq": INT, "flavor": STR,
                      "vcpus": INT, "memory_mib": INT, "disk_gib": INT, "image_id": UUID,
                      "user_data": nullable(STR), "ssh_public_key": nullable(STR)}),
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
CONF = ERR("conflicts with the current state")
paths = {}
def add(method, path, o): paths.setdefault(path, {})[method.lower()] = o

add("GET", "/healthz", op("Health: 200 when the database is reachable, else 503", "public",
    [ok(200, "healthy", obj({"status": STR})), {"503": {"description": "unhealthy", "content": {"application/json": {"schema": obj({"status": STR, "reason": STR})}}}}]))
add("GET", "/metrics", op("Prometheus metrics (text exposition format)", "public",
    [{"200": {"description": "metrics", "content": {"text/plain": {"schema": STR}}}}]))
add("GET", "/v1/openapi.json", op("This document", "public", [ok(200, "the OpenAPI description", {"type": "object"})]))
DASH_HDRS = {h: {"schema": STR} for h in ("ETag", "Content-Security-Policy", "X-Frame-Options", "Referrer-Policy")}
add("GET", "/", op("Redirects to the web dashboard", "public", [{"302": {"description": "to /dashboard/", "headers": {"Location": {"schema": STR}}}}]))
for f, ctype, what in (("", "text/html", "the page"), ("app.js", "text/javascript", "its script"),
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
    [ok(201, "created; the key is shown once", S("ApiKey"))], body=obj({"name": STR, "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 3650, "default": 365}}, ["name"])))
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
    [ok(200, "quota", S("Quota")), {"404": NF}], body=S("Resources"), params=[P("id")]))
add("POST", "/v1/users", op("Create a user", "cloud-admin", [ok(201, "created", S("User")), {"409": ERR("name taken")}],
    body=obj({"name": STR, "password": {"type": "string", "minLength": 8}, "cloud_admin": BOOL}, ["name", "password"])))
add("GET", "/v1/users", op("All users", "cloud-admin", [ok(200, "users", lst("users", "User"))]))
add("GET", "/v1/users/{id}", op("A user (the caller, or any for cloud admins)", "user", [ok(200, "the user", S("User")), {"404": NF}], params=[P("id")]))
add("PUT", "/v1/users/{id}/password", op("Change a password; signs out the user's other sessions", "user",
    [ok(204, "changed"), {"403": ERR("current_password is wrong")}, {"404": NF}],
    body=obj({"password": {"type": "string", "minLength": 8}, "current_password": {"type": "string", "description": "required unless the caller is a cloud admin"}}, ["password"]), params=[P("id")]))
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
    body=obj({"name": STR, "flavor": {"type": "string", "description": "flavor id or name"}, "image": {"type": "string", "description": "image id or name"},
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
add("POST", "/v1/billing/periods/{period}/issue", op("Issue every tenant's invoice for an ended month (numbered without gaps, immutable)", "cloud-admin",
    [ok(201, "issued", ANY), {"404": ERR("not a YYYY-MM month")}, {"409": ERR("the month has not ended, is issued, or an earlier month is not")}],
    params=[{"name": "period", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}}], desc=BILLING))
add("POST", "/v1/nodes", op("Register a compute node; returns its credential once", "cloud-admin", [ok(201, "created", S("Node")), {"409": ERR("name taken")}], body=obj({"name": STR}, ["name"])))
add("GET", "/v1/nodes", op("Compute nodes with capacity, usage, health, and which are empty", "cloud-admin", [ok(200, "nodes", lst("nodes", "Node"))]))
add("GET", "/v1/nodes/{id}", op("A compute node", "cloud-admin", [ok(200, "the node", S("Node")), {"404": NF}], params=[P("id")]))
add("PATCH", "/v1/nodes/{id}", op("Disable (no new placements) or enable a node", "cloud-admin", [ok(200, "updated", S("Node")), {"404": NF}], body=obj({"disabled": BOOL}, ["disabled"]), params=[P("id")]))
add("DELETE", "/v1/nodes/{id}", op("Remove a node that holds no instances", "cloud-admin", [ok(204, "removed"), {"404": NF}, {"409": ERR("the node still has instances")}], params=[P("id")]))
add("POST", "/v1/nodes/{id}/credential", op("Replace a node's credential; the old one is refused by every service from now on; returns the new one once", "cloud-admin", [ok(200, "the node's id and new token", obj({"id": UUID, "token": STR})), {"404": NF}], params=[P("id")]))
add("PUT", "/internal/v1/node", op("Node heartbeat with capacity (node credential)", "node", [ok(200, "the node", S("Node"))],
    body=obj({"hostname": STR, "agent_version": STR, "capacity": obj({"vcpus": INT, "memory_mib": INT, "disk_gib": INT}, ["vcpus", "memory_mib", "disk_gib"])}, ["capacity"])))
NODE_ETAG = {"ETag": {"description": "the node's desired-set version; unchanged until an order for the node changes", "schema": STR}}
add("GET", "/internal/v1/node/instances", op("The instances this node should run, with generations (node credential); ETag; If-None-Match answers 304", "node",
    [{"200": {"description": "desired instances", "headers": NODE_ETAG, "content": {"application/json": {"schema": lst("instances", "NodeInstance")}}}},
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

doc = {"openapi": "3.0.3",
 "info": {"title": "Stratus API", "version": "0.1.0",
  "description": "The tenant-facing API of the Stratus cloud. Every call but sign-in, /healthz, /metrics, the web dashboard's files and this document needs `Authorization: Bearer <token>` (a session token from POST /v1/auth/tokens, or an API key). Objects of other tenants are never visible: they answer 404. Errors are `{\"error\": {\"code\", \"message\"}}`. Times are RFC 3339 UTC; ids are UUIDs. `x-stratus-access` names who may call an operation: user (any token), tenant-read (a token scoped to a tenant), tenant-write (role member or admin), cloud-admin, node (a compute node's credential)."},
 "servers": [{"url": "/"}],
 "security": [{"bearer": []}],
 "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": schemas},
 "paths": paths}
import os
json.dump(doc, open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "openapi.json"), "w"), indent=1)
print(len(paths), sum(len(v) for v in paths.values()))
