# Writes api-gateway/openapi.json. The document is the reference; edit this
# script (the source of the document) and run it again when routes change:
#   python3 api-gateway/tools/openapi_gen.py
# gateway_openapi fails when a route and the document disagree, and
# gateway_openapi_lint when @redocly/cli finds a problem in it.
#
# What every operation can answer is added here once (op() below), from the
# request path all routes share (common/http.c, api-gateway/api.c):
#   every operation   400 (a malformed path, query or header), 413 (a head or
#                     body too large), 500, 503 (the database, a backend, or
#                     the connection cap)
#   not public        401 (no valid token), 403 (the role, or a node
#                     credential on a tenant route and the reverse)
#   a path parameter  404 (not a UUID, or not the caller's)
#   a JSON body       400 (bad JSON, a bad field), 415 (not application/json)
# A method a path does not list answers 405 (components/responses/
# MethodNotAllowed, with Allow); no operation lists it, since there is none.
# Every schema lists in `required` what its writer always sends (the C
# writers and the SQL view functions named beside each).
import json
import os
S = lambda name: {"$ref": f"#/components/schemas/{name}"}
R = lambda name: {"$ref": f"#/components/responses/{name}"}
def obj(props, required=()):
    o = {"type": "object", "properties": props}
    req = list(props) if required == "all" else list(required)
    for k in req: assert k in props, k
    if req: o["required"] = req
    return o
STR = {"type": "string"}; UUID = {"type": "string", "format": "uuid"}
TS = {"type": "string", "format": "date-time"}; INT = {"type": "integer"}; BOOL = {"type": "boolean"}
DATE = {"type": "string", "format": "date"}
MONTH = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$", "description": "YYYY-MM"}
def nullable(s):
    s = {**s, "nullable": True}
    # OpenAPI 3.0.3: an enum must list null for null to be allowed
    if "enum" in s and None not in s["enum"]: s["enum"] = s["enum"] + [None]
    return s
def enum(*v): return {"type": "string", "enum": list(v)}
RES4 = ("vcpus", "memory_mib", "disk_gib")
# error.code: the one table of codes (common/include/stratus/errcode.h),
# read from its X-macro list; gateway_openapi checks the two agree.
def error_codes():
    import re
    h = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "common", "include", "stratus", "errcode.h")
    text = re.sub(r"\\\n", " ", open(h).read())
    rows = re.findall(r'X\(\s*[A-Z_]+\s*,\s*"([a-z_]+)"\s*,\s*(\d+)\s*,\s*((?:"[^"]*"\s*)+)\)', text)
    assert rows, "no error codes in " + h
    return [(n, int(st), "".join(re.findall(r'"([^"]*)"', m))) for n, st, m in rows]
ERROR_CODES = error_codes()
ERROR_CODE = {"type": "string", "enum": [n for n, _, _ in ERROR_CODES],
              "description": "what went wrong, for programs (the message is for people); one of:\n\n" +
                             "\n".join(f"- `{n}` ({st}): {m}" for n, st, m in ERROR_CODES),
              "x-stratus-codes": {n: {"status": st, "meaning": m} for n, st, m in ERROR_CODES}}
# sql/views.sql iaas.migration_json (migrate.c)
MIGRATION = obj({"id": UUID, "instance_id": UUID, "tenant_id": UUID,
    "source_node_id": nullable({**UUID, "description": "null once the node was removed"}), "source_node": STR,
    "dest_node_id": nullable({**UUID, "description": "null once the node was removed"}), "dest_node": STR,
    "state": {**enum("preparing", "migrating", "completed", "failed", "cancelled"), "description": "preparing: the target's agent starts the incoming VMM; migrating: the target listens and the source sends; then how it ended"},
    "cancel_requested": {"type": "boolean", "description": "a cloud admin asked to cancel it (migrate_cancel)"},
    "max_downtime_ms": {"type": "integer", "description": "the downtime budget asked for"},
    "timeout_s": {"type": "integer", "description": "the overall timeout asked for; 0: none"},
    "on_timeout": enum("cancel", "force"),
    "block_migration": {"type": "boolean", "description": "the instance's local disk is copied along with its memory (drive-mirror), not shared"},
    "round": {"type": "integer", "description": "the source VMM's pre-copy round, as last reported"},
    "transferred_bytes": INT, "remaining_bytes": INT, "total_bytes": INT,
    "throttle_pct": {"type": "integer", "description": "how much auto-converge throttles the guest's vCPUs"},
    "downtime_ms": nullable({"type": "integer", "description": "completed: the downtime measured by the source VMM"}),
    "total_ms": nullable({"type": "integer", "description": "completed: the whole migration's time"}),
    "error": nullable({"type": "string", "description": "failed or cancelled: why"}),
    "created_at": TS, "updated_at": TS, "finished_at": nullable(TS)}, "all")
schemas = {
 "Error": obj({"error": obj({"code": ERROR_CODE, "message": STR}, ["code", "message"])}, ["error"]),
 # auth.c h_signin
 "Token": obj({"token": STR, "token_id": UUID, "expires_at": TS,
               "user": obj({"id": UUID, "name": STR}, "all"), "cloud_admin": BOOL,
               "tenant": nullable(obj({"id": UUID, "name": STR, "role": enum("admin", "member", "reader")}, "all"))}, "all"),
 # auth.c h_whoami
 "Whoami": obj({"user": obj({"id": UUID, "name": STR, "cloud_admin": BOOL}, "all"), "tenant_id": nullable(UUID),
                "role": nullable(enum("admin", "member", "reader")), "token_kind": enum("session", "api_key"),
                "tenants": {"type": "array", "items": obj({"id": UUID, "name": STR, "role": enum("admin", "member", "reader")}, "all")}}, "all"),
 # auth.c h_apikey_list (no secret) and h_apikey_create (the secret, once)
 "ApiKey": obj({"id": UUID, "name": STR, "tenant_id": UUID, "created_at": TS, "expires_at": TS}, "all"),
 "ApiKeyCreated": obj({"id": UUID, "name": STR, "key": {"type": "string", "description": "the secret (stk_...); returned once, here"},
                       "tenant_id": UUID, "expires_at": TS}, "all"),
 # identity.c TENANT_JSON, USER_JSON, the members list
 "Tenant": obj({"id": UUID, "name": STR, "description": STR, "created_at": TS}, "all"),
 "User": obj({"id": UUID, "name": STR, "cloud_admin": BOOL, "disabled": BOOL, "created_at": TS}, "all"),
 "Member": obj({"user_id": UUID, "name": STR, "role": enum("admin", "member", "reader")}, "all"),
 "Membership": obj({"tenant_id": UUID, "user_id": UUID, "role": enum("admin", "member", "reader")}, "all"),
 # migrations/0004 iaas.flavor_json
 "Flavor": obj({"id": UUID, "name": STR, "vcpus": INT, "memory_mib": INT, "disk_gib": INT, "disabled": BOOL, "created_at": TS}, "all"),
 # image-store migrations: images.image_json
 "Image": obj({"id": UUID, "tenant_id": nullable({**UUID, "description": "null: a cloud image"}), "name": STR,
               "visibility": enum("private", "public"),
               "status": enum("queued", "saving", "active", "killed", "deleted"),
               "disk_format": enum("raw", "qcow2"), "size_bytes": nullable(INT),
               "virtual_size_bytes": nullable(INT), "checksum": nullable({"type": "string", "description": "SHA-256 of the bytes, hex"}),
               "min_disk_gib": INT, "min_memory_mib": INT, "status_reason": nullable(STR),
               "kind": {**enum("disk", "kernel", "ramdisk"), "description": "a guest's disk, or a kernel or ramdisk that disk images name for direct kernel boot"},
               "boot": nullable({**enum("firmware", "kernel"), "description": "firmware: the disk's own bootloader through the BIOS; kernel: booted directly (kernel_id's kernel with this disk as root, or the image itself); null for a ramdisk"}),
               "source_instance_id": nullable({**UUID, "description": "a snapshot's instance (POST /v1/instances/{id}/actions snapshot); null: uploaded"}),
               "kernel_id": nullable({**UUID, "description": "the kernel image a disk boots directly"}),
               "ramdisk_id": nullable({**UUID, "description": "the ramdisk image given as its initrd"}),
               "created_at": TS, "updated_at": TS}, "all"),
 # image-store/api.c signed_url
 "SignedUrl": obj({"url": STR, "method": enum("PUT", "GET"), "expires_at": TS}, "all"),
 # servergroups.c GROUP_JSON, h_scheduler_show
 "ServerGroup": obj({"id": UUID, "name": STR, "policy": enum("affinity", "anti-affinity"),
                     "members": {"type": "array", "items": UUID}, "created_at": TS}, "all"),
 "Scheduler": obj({"policy": enum("spread", "pack"), "cpu_overcommit": {"type": "number"},
                   "nodes": INT, "nodes_up": INT, "empty_nodes": {"type": "array", "items": STR, "description": "nodes no instance holds: they could be powered off"}}, "all"),
 # scheduler.c gw_consolidation_plan
 "ConsolidationPlan": obj({"dry_run": {"type": "boolean", "description": "GET: true, nothing moves (each move is what the migrate action takes); POST: false, the moves started as live migrations are in started"},
                           "started": {"type": "array", "description": "POST only: the moves begun as live migrations", "items": obj({"instance_id": UUID, "migration_id": UUID, "to_node": STR}, "all")},
                           "skipped": {"type": "array", "description": "POST only: the moves not begun, with the migrate action's refusal or the rebalance.max_concurrent limit", "items": obj({"instance_id": UUID, "reason": STR}, "all")},
                           "draining": {"type": "array", "items": STR, "description": "POST only: the nodes being emptied, which take no new instance for consolidation.drain_for seconds (or until they power off); none when no migration could start"},
                           "target": {"type": "number", "description": "destinations filled up to this fraction of their memory and vCPUs"},
                           "max_moves": INT, "cooldown": {"type": "integer", "description": "rebalance.cooldown: seconds after a move during which an instance does not move again"},
                           "nodes_on": {"type": "integer", "description": "nodes holding instances now"},
                           "nodes_on_after": {"type": "integer", "description": "nodes holding instances after the moves"},
                           "moves": {"type": "array", "items": obj({"instance_id": UUID, "instance_name": STR, "from_node_id": UUID, "from_node": STR, "to_node_id": UUID, "to_node": STR}, "all")},
                           "nodes_emptied": {"type": "array", "items": STR, "description": "nodes the moves empty: they could be powered off"},
                           "power_management": {"type": "boolean", "description": "power.off_command is configured: the gateway powers idle nodes off"},
                           "nodes_to_power_off": {"type": "array", "items": STR, "description": "the nodes the power manager would then power off (POST: is expected to, once the moves complete and power.idle_after passes): those on, up, enabled and empty now, then those the moves empty, less power.min_spare_hosts kept on (empty when power management is off)"}},
                          ["dry_run", "target", "max_moves", "cooldown", "nodes_on", "nodes_on_after", "moves", "nodes_emptied", "power_management", "nodes_to_power_off"]),
 # scheduler.c gw_rebalance_plan_json
 "RebalanceLoad": obj({"cpu": {"type": "number", "description": "CPUs its instances keep busy (measured over rebalance.cpu_window; an instance not measured counts at its vCPUs) over the node's CPUs"},
                       "memory": {"type": "number", "description": "memory its instances reserve over the node's memory"}}, "all"),
 "RebalanceImbalance": obj({"nodes": {"type": "integer", "description": "nodes in service (on, up, enabled): only these count, give or take"},
                            "cpu_spread": {"type": "number", "description": "the most loaded node's CPU load less the least loaded's"},
                            "cpu_max": {"type": "number"}, "cpu_min": {"type": "number"}, "cpu_stddev": {"type": "number"},
                            "memory_spread": {"type": "number"}, "memory_max": {"type": "number"}, "memory_min": {"type": "number"},
                            "memory_stddev": {"type": "number"}}, "all"),
 "RebalancePlan": obj({"dry_run": {"type": "boolean", "description": "GET: true, nothing moves (each move is what the migrate action takes); POST: false, the moves started as live migrations are in started"},
                       "started": {"type": "array", "description": "POST only: the moves begun as live migrations", "items": obj({"instance_id": UUID, "migration_id": UUID, "to_node": STR}, "all")},
                       "skipped": {"type": "array", "description": "POST only: the moves not begun, with the migrate action's refusal or the rebalance.max_concurrent limit", "items": obj({"instance_id": UUID, "reason": STR}, "all")},
                       "threshold": {"type": "number", "description": "the spread tolerated (rebalance.threshold unless given)"},
                       "max_moves": INT, "cooldown": {"type": "integer", "description": "rebalance.cooldown: seconds after a move during which an instance moves neither again nor back"},
                       "cpu_window": {"type": "integer", "description": "rebalance.cpu_window: seconds of metering samples CPU load is measured over"},
                       "instances": {"type": "integer", "description": "instances placed on nodes"},
                       "instances_measured": {"type": "integer", "description": "of those, the ones whose CPU load the metering samples gave (the others count at their vCPUs)"},
                       "outcome": {"type": "string", "enum": ["within_threshold", "balanced", "max_moves", "no_move_helps"],
                                   "description": "where the plan stops: within_threshold (nothing to do), balanced (the moves bring both spreads within it), max_moves (stopped at the bound: the next plan may move more), no_move_helps (a spread stays above it: what would move is pinned, cooling down, fits nowhere or would overshoot)"},
                       "imbalance_before": S("RebalanceImbalance"), "imbalance_after": S("RebalanceImbalance"),
                       "nodes": {"type": "array", "items": obj({"node_id": UUID, "node": STR, "in_service": {"type": "boolean"},
                                                                "before": S("RebalanceLoad"), "after": S("RebalanceLoad")}, "all")},
                       "moves": {"type": "array", "items": obj({"instance_id": UUID, "instance_name": STR, "from_node_id": UUID, "from_node": STR,
                                                                "to_node_id": UUID, "to_node": STR,
                                                                "instance_cpu": {"type": "number", "description": "CPUs the instance keeps busy"},
                                                                "cpu_measured": {"type": "boolean", "description": "false: not measured, counted at its vCPUs"},
                                                                "vcpus": INT, "memory_mib": INT,
                                                                "from_before": S("RebalanceLoad"), "from_after": S("RebalanceLoad"),
                                                                "to_before": S("RebalanceLoad"), "to_after": S("RebalanceLoad")}, "all")}},
                      [k for k in ("dry_run", "threshold", "max_moves", "cooldown", "cpu_window", "instances", "instances_measured", "outcome", "imbalance_before", "imbalance_after", "nodes", "moves")]),
 # migrations/0004 iaas.keypair_json
 "Keypair": obj({"id": UUID, "name": STR, "public_key": STR, "fingerprint": STR, "created_at": TS}, "all"),
 # catalog.c QUOTA_JSON
 "Resources": obj({"instances": INT, "vcpus": INT, "memory_mib": INT, "disk_gib": INT,
                   "networks": INT, "ports": INT, "security_groups": INT,
                   "floating_ips": {"type": "integer", "description": "ports held by routers and floating IPs count here, not as ports"}}, "all"),
 "Quota": obj({"tenant_id": UUID, "limits": S("Resources"), "usage": S("Resources")}, "all"),
 "QuotaLimits": obj({k: {"type": "integer", "minimum": 0, "maximum": 1099511627776}
                     for k in ("instances", "vcpus", "memory_mib", "disk_gib", "networks", "ports",
                               "security_groups", "floating_ips")}),
 # instances.c gw_instance_write
 "Instance": obj({"id": UUID, "tenant_id": UUID, "name": STR, "flavor_id": UUID, "image_id": UUID,
                  "keypair_id": nullable(UUID), "vcpus": INT, "memory_mib": INT, "disk_gib": INT,
                  "state": enum("building", "active", "stopped", "deleting", "deleted", "error"),
                  "task": nullable({**enum("starting", "stopping", "rebooting", "image_snapshot", "waiting_host_power_on", "evacuating", "migrating"), "description": "waiting_host_power_on: placed on a node being powered on for it; launched once the node's agent heartbeats, in error after power.on_timeout. evacuating: moved off a dead host by a cloud admin (evacuate), until its new host reports it. migrating: a live migration is under way (see migration)"}),
                  "power_desired": enum("running", "stopped"),
                  "node_id": nullable(UUID), "fault": nullable(STR),
                  "last_stop": nullable({**enum("graceful", "forced"), "description": "how the last stop (or the stop inside a soft reboot) ended, as the node reported it: the guest powered off after the ACPI power button, or the VM was ended without it (after the grace period, or at once with force); null: never stopped"}),
                  "last_stop_at": nullable(TS), "created_at": TS, "updated_at": TS,
                  "server_group_id": nullable(UUID),
                  "migration": {**MIGRATION, "nullable": True, "description": "the live migration under way (task migrating), with its progress (as GET /v1/migrations shows it); null: none"},
                  "host_status": nullable({**enum("up", "down", "maintenance"), "description": "the health of the instance's host (null: not placed); down: its node stopped sending heartbeats"})}, "all"),
}
schemas["Migration"] = MIGRATION
# nodes.c NODE_JSON; the credential only in the answer to POST /v1/nodes
NODE_PROPS = {"id": UUID, "name": STR, "hostname": STR, "agent_version": STR, "disabled": BOOL,
              "state": enum("up", "down", "disabled"),
              "capacity": obj({**{k: INT for k in RES4}, "sriov_vfs": {"type": "integer", "description": "SR-IOV virtual functions enabled on the node's NICs (its agent's sysfs scan)"}, "firmware": {"type": "boolean", "description": "the node's agent found its BIOS (vm.firmware): it boots disk images through firmware"}, "live_migration": {"type": "boolean", "description": "the node's agent sends and receives live migrations (its driver offers them: stratus-vmm's does, libvirt's does not)"}, "block_migration": {"type": "boolean", "description": "the node's agent also copies an instance's local disk along with a live migration (block migration), sending and receiving; an instance on a local disk migrates only between such nodes"}}, "all"),
              "used": obj({"instances": INT, **{k: INT for k in RES4}, "sriov_vfs": {"type": "integer", "description": "VFs held by the direct ports of instances placed on the node"}}, "all"),
              "empty": {"type": "boolean", "description": "no instance holds the node: it could be powered down"},
              "power_state": {**enum("on", "powering_off", "off", "powering_on"), "description": "instances are placed only on nodes that are on; an idle node is powered off through power.off_command, one that is off powered on through power.on_command when a placement needs it, and on again once its agent heartbeats"},
              "power_fault": nullable({"type": "string", "description": "why the last power command failed (null after a success)"}),
              "power_since": TS,
              "draining_until": nullable({**TS, "description": "the consolidation is emptying the node (POST /v1/scheduler/consolidation, or its timer): no instance is placed on it until then, or until it powers off; null: not draining"}),
              "tunnel_ip": nullable({"type": "string", "description": "the node's VXLAN underlay address (heartbeat or admin)"}),
              "external_uplink": {"type": "boolean", "description": "the node reports an uplink to the external networks: routers are placed on such nodes"},
              "last_heartbeat": nullable(TS), "created_at": TS,
              "fenced_at": nullable({**TS, "description": "when the node's agent last fenced itself (force-stopped its guests after fence.timeout without a heartbeat the gateway accepted), as it reported on reconnecting; null: never"})}
schemas["Node"] = obj(NODE_PROPS, "all")
schemas["NodeEvacuation"] = obj({"node_id": UUID, "node": STR, "instances": {"type": "array", "items": obj({
    "id": UUID, "name": STR, "tenant_id": UUID, "outcome": enum("evacuating", "error"),
    "node_id": nullable({**UUID, "description": "evacuating: the new host; error: null"}), "fault": nullable({"type": "string", "description": "error: why no host took it; evacuating: null"})}, "all")}}, "all")
schemas["NodeCreated"] = obj({**NODE_PROPS, "token": {"type": "string", "description": "the node credential (stn_...); returned once, here"}}, "all")
FIXED_N = obj({"subnet_id": UUID, "ip_address": STR}, "all")
schemas.update({
 # nodes.c h_node_instances; migrations/0014 iaas.node_ports_json
 "NodeInstance": obj({"id": UUID, "tenant_id": UUID, "name": STR, "generation": INT, "state": STR, "task": nullable(STR),
                      "desired": enum("running", "stopped", "deleted"), "reboot_seq": INT,
                      "stop_force": {"type": "boolean", "description": "stop at once: no power button, no grace period"},
                      "reboot_hard": {"type": "boolean", "description": "reboot by a reset, not by a graceful stop and a new boot"},
                      "snapshot_image_id": nullable({**UUID, "description": "while the task is image_snapshot: flatten the disk into this image and upload it (PUT .../file on the image service's data listener, node credential)"}),
                      "flavor": STR,
                      "vcpus": INT, "memory_mib": INT, "disk_gib": INT, "image_id": UUID,
                      "user_data": nullable(STR), "ssh_public_key": nullable(STR),
                      "public_ipv4": nullable({"type": "string", "description": "the floating IP of its first port that has one, for the metadata service"}),
                      "ports": {"type": "array", "description": "the instance's NICs, in the order the guest sees them",
                                "items": obj({"id": UUID, "mac": STR, "network_id": UUID, "model": enum("virtio", "e1000"),
                                              "vnic_type": enum("virtio", "direct"), "mtu": INT,
                                              "fixed_ips": {"type": "array", "items": FIXED_N}}, "all")},
                      "migration": nullable({**obj({"id": UUID, "uri": {"type": "string", "description": "where the target's incoming VMM listens, tcp:ADDR:PORT"},
                                                    "downtime_ms": INT, "timeout_ms": {"type": "integer", "description": "0: none"}, "on_timeout": enum("cancel", "force"),
                                                    "cancel": {"type": "boolean", "description": "cancel it (DELETE /vm/migrate) and report cancelled"},
                                                    "block_migration": {"type": "boolean", "description": "copy the local disk along (PUT /vm/migrate's block_migration); the source removes its copy once completed"}}, "all"),
                                             "description": "on the source host, once the target listens: send the instance there (PUT /vm/migrate), report progress and the outcome (PUT /internal/v1/node/migrations/{id})"})}, "all"),
 # migrations/0016 iaas.node_networks_json, 0017 iaas.node_networks_dhcp
 "NodeNetwork": obj({"id": UUID, "vni": INT, "mtu": INT,
                     "external": {"type": "boolean", "description": "flat on the host's uplink, not VXLAN"},
                     "subnets": {"type": "array", "items": obj({"id": UUID, "cidr": STR, "gateway_ip": nullable(STR), "enable_dhcp": BOOL,
                                 "dhcp_ip": nullable({"type": "string", "description": "the address the subnet's DHCP server holds (null: DHCP off)"}),
                                 "dns_nameservers": {"type": "array", "items": STR}, "host_routes": {"type": "array", "items": obj({"destination": STR, "nexthop": STR})},
                                 "allocation_pools": {"type": "array", "items": obj({"start": STR, "end": STR})}})},
                     "remote_ports": {"type": "array", "description": "every port of the network on other hosts (l2population): instances' ports and routers' interfaces",
                                      "items": obj({"id": UUID, "mac": STR, "host_id": UUID, "tunnel_ip": nullable(STR),
                                                    "fixed_ips": {"type": "array", "items": FIXED_N}})}}),
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
})
def lst(key, item):
    return obj({key: {"type": "array", "items": S(item)}}, [key])
def ERR(d): return {"description": d, "content": {"application/json": {"schema": S("Error")}}}
RETRY = {"Retry-After": {"description": "seconds to wait before trying again", "schema": INT}}
responses = {
 "BadRequest": ERR("malformed or invalid request: a field of the body, a query parameter, the path, or text that is not UTF-8"),
 "Unauthorized": ERR("missing, invalid, expired or revoked token"),
 "Forbidden": ERR("the caller's role does not allow this (a node credential on a tenant route, or a user token on a node route, too)"),
 "NotFound": ERR("no such object (or it belongs to another tenant: the same answer)"),
 "MethodNotAllowed": {"description": "the path exists but not with this method; Allow lists those it has. Any method a path of this document does not list answers this",
                      "headers": {"Allow": {"description": "the path's methods, comma-separated", "schema": STR}},
                      "content": {"application/json": {"schema": S("Error")}}},
 "Conflict": ERR("conflicts with the current state (code conflict), or a quota would be exceeded (code quota_exceeded)"),
 "TooLarge": ERR("the request head or body is larger than the server takes (http.max_body)"),
 "UnsupportedMediaType": ERR("the body's Content-Type is not application/json"),
 "TooManyRequests": {**ERR("too many attempts; see Retry-After"), "headers": RETRY},
 "Internal": ERR("an unexpected server error; the message names the request id"),
 "Unavailable": {**ERR("the database or a backend service is unavailable, or the server is at its connection cap; retry"), "headers": RETRY},
 "NotModified": {"description": "unchanged since the ETag given in If-None-Match",
                 "headers": {"ETag": {"description": "the entity tag of the representation", "schema": STR}}},
}
def ok(code, desc, schema=None, ctype="application/json", headers=None):
    r = {"description": desc}
    if schema: r["content"] = {ctype: {"schema": schema}}
    if headers: r["headers"] = headers
    return {str(code): r}
def op(summary, access, resps, body=None, params=(), desc=None, body_required=True):
    o = {"summary": summary, "responses": {}}
    if desc: o["description"] = desc
    if access == "public": o["security"] = []
    else: o["x-stratus-access"] = access
    for r in resps: o["responses"].update(r)
    d = o["responses"].setdefault
    d("400", R("BadRequest"))
    if access != "public":
        d("401", R("Unauthorized"))
        d("403", R("Forbidden"))
    if any(p.get("in") == "path" for p in params): d("404", R("NotFound"))
    d("413", R("TooLarge"))
    if body:
        o["requestBody"] = {"required": body_required, "content": {"application/json": {"schema": body}}}
        d("415", R("UnsupportedMediaType"))
    d("500", R("Internal"))
    d("503", R("Unavailable"))
    if params: o["parameters"] = list(params)
    o["responses"] = dict(sorted(o["responses"].items()))
    return o
def P(name, desc="an id"): return {"name": name, "in": "path", "required": True, "schema": UUID, "description": desc}
def Q(name, schema, desc): return {"name": name, "in": "query", "required": False, "schema": schema, "description": desc}
NF = {"404": R("NotFound")}
PWD = {"type": "string", "minLength": 8, "maxLength": 256, "description": "at least 8 characters; not a common or dictionary-based password, nor the user's name in some form (libpwquality)"}
CONF = {"409": R("Conflict")}
def E(code, d): return {str(code): ERR(d)}
paths = {}
def add(method, path, o): paths.setdefault(path, {})[method.lower()] = o
add("GET", "/healthz", op("Health: 200 when the database is reachable, else 503", "public",
    [ok(200, "healthy", obj({"status": enum("ok")}, "all")), {"503": {"description": "unhealthy, or the server is at its connection cap (then an Error)", "content": {"application/json": {"schema": {"oneOf": [obj({"status": enum("unavailable"), "reason": STR}, "all"), S("Error")]}}}}}]))
add("GET", "/metrics", {**op("Prometheus metrics (text exposition format)", "public",
    [{"200": {"description": "metrics", "content": {"text/plain": {"schema": STR}}}},
     E(401, "no metrics.token is configured, or the bearer token is not it")],
    desc="For the operator's scraper, not tenants: `Authorization: Bearer <metrics.token>` (the gateway's configuration). Without metrics.token the gateway does not serve it."),
    "security": [{"metricsToken": []}]})
add("GET", "/v1/openapi.json", op("This document", "public", [ok(200, "the OpenAPI description", {"type": "object"})]))
DASH_HDRS = {h: {"schema": STR} for h in ("ETag", "Content-Security-Policy", "X-Frame-Options", "Referrer-Policy")}
add("GET", "/", op("Redirects to the web dashboard", "public", [{"302": {"description": "to /dashboard/", "headers": {"Location": {"schema": STR}}, "content": {"text/plain": {"schema": STR}}}}], desc="A redirect and nothing else: this operation has no 2xx answer."))
for f, ctype, what in (("", "text/html", "the page"), ("core.js", "text/javascript", "its core script (session, router, page registry)"),
                       ("app.js", "text/javascript", "the tenant's pages"), ("admin.js", "text/javascript", "the cloud admin's pages"),
                       ("charts.js", "text/javascript", "its bar charts (SVG)"), ("billing.js", "text/javascript", "the billing pages"),
                       ("style.css", "text/css", "its style sheet"), ("favicon.svg", "image/svg+xml", "its icon")):
    add("GET", "/dashboard/" + f, op("The web dashboard: " + what + " (built into the gateway; ETag, strict CSP)", "public",
        [{"200": {"description": what, "headers": DASH_HDRS, "content": {ctype: {"schema": STR}}}},
         {"304": {"description": "unchanged since the ETag given", "headers": DASH_HDRS}}]))
add("POST", "/v1/auth/tokens", op("Sign in: name and password for a bearer token", "public",
    [ok(201, "signed in", S("Token")), E(401, "wrong name or password, or not a member of the tenant"), {"429": R("TooManyRequests")}],
    body=obj({"name": STR, "password": STR, "tenant": {"type": "string", "description": "tenant name or id to scope the token to; default: the user's only tenant"}}, ["name", "password"])))
add("DELETE", "/v1/auth/tokens/current", op("Sign out: revoke the token used for this call", "user", [ok(204, "revoked")]))
add("GET", "/v1/auth/whoami", op("The caller: user, tenant, role and memberships", "user", [ok(200, "the caller", S("Whoami"))]))
add("POST", "/v1/api-keys", op("Create an API key for programs (same user, tenant and role)", "tenant-read",
    [ok(201, "created; the key is shown once", S("ApiKeyCreated"), headers={"Location": {"description": "/v1/api-keys", "schema": STR}}), E(403, "the password given is wrong, or the caller's role does not allow this")],
    body=obj({"name": STR, "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 3650, "default": 365},
              "password": {"type": "string", "description": "the caller's password: lets the key outlive the token making it"}}, ["name"]),
    desc="The key expires after expires_in_days, or when the token making this call expires if that is sooner (a one-hour session cannot mint a ten-year key, nor a key a longer-lived key), unless the body carries the caller's password. A password change revokes all of the user's API keys."))
add("GET", "/v1/api-keys", op("The caller's API keys in this tenant (no secrets)", "tenant-read", [ok(200, "keys", lst("api_keys", "ApiKey"))]))
add("DELETE", "/v1/api-keys/{id}", op("Revoke one of the caller's API keys", "tenant-read", [ok(204, "revoked"), NF], params=[P("id")]))
add("POST", "/v1/tenants", op("Create a tenant (with default quotas)", "cloud-admin",
    [ok(201, "created", S("Tenant")), E(409, "name taken")], body=obj({"name": STR, "description": STR}, ["name"])))
add("GET", "/v1/tenants", op("Tenants: all for cloud admins, else the caller's own", "user", [ok(200, "tenants", lst("tenants", "Tenant"))]))
add("GET", "/v1/tenants/{id}", op("A tenant the caller belongs to", "user", [ok(200, "the tenant", S("Tenant")), NF], params=[P("id")]))
add("DELETE", "/v1/tenants/{id}", op("Delete an empty tenant", "cloud-admin", [ok(204, "deleted"), NF, E(409, "the tenant still has instances")], params=[P("id")]))
add("GET", "/v1/tenants/{id}/members", op("The tenant's members and roles", "user", [ok(200, "members", lst("members", "Member")), NF], params=[P("id")]))
add("PUT", "/v1/tenants/{id}/members/{user_id}", op("Add a user to the tenant (cloud admin) or change a member's role (tenant admin; a user not in the tenant is 404 like an unknown id)", "user",
    [ok(200, "membership", S("Membership")), E(403, "needs the tenant's admin role"), NF],
    body=obj({"role": {"type": "string", "enum": ["admin", "member", "reader"]}}, ["role"]), params=[P("id", "tenant id"), P("user_id", "user id")]))
add("DELETE", "/v1/tenants/{id}/members/{user_id}", op("Remove a user from the tenant (tenant admin); their tokens for it stop working", "user",
    [ok(204, "removed"), E(403, "needs the tenant's admin role"), NF], params=[P("id", "tenant id"), P("user_id", "user id")]))
add("GET", "/v1/tenants/{id}/quotas", op("A tenant's quota limits and usage", "cloud-admin", [ok(200, "quota", S("Quota")), NF], params=[P("id")]))
add("PUT", "/v1/tenants/{id}/quotas", op("Set a tenant's quota limits (omitted fields unchanged)", "cloud-admin",
    [ok(200, "quota", S("Quota")), NF], body=S("QuotaLimits"), params=[P("id")]))
add("POST", "/v1/users", op("Create a user", "cloud-admin", [ok(201, "created", S("User")), E(409, "name taken"), E(400, "malformed or invalid request, or a password too weak")],
    body=obj({"name": STR, "password": PWD, "cloud_admin": BOOL}, ["name", "password"])))
add("GET", "/v1/users", op("All users", "cloud-admin", [ok(200, "users", lst("users", "User"))]))
add("GET", "/v1/users/{id}", op("A user (the caller, or any for cloud admins)", "user", [ok(200, "the user", S("User")), NF], params=[P("id")]))
add("PUT", "/v1/users/{id}/password", op("Change a password; signs out the user's other sessions and revokes all its API keys", "user",
    [ok(204, "changed"), E(403, "current_password is wrong"), NF, E(400, "malformed or invalid request, or a password too weak")],
    body=obj({"password": PWD, "current_password": {"type": "string", "description": "required unless the caller is a cloud admin"}}, ["password"]), params=[P("id")]))
add("GET", "/v1/flavors", op("Flavors (disabled ones only for cloud admins)", "user", [ok(200, "flavors", lst("flavors", "Flavor"))]))
add("GET", "/v1/flavors/{id}", op("A flavor", "user", [ok(200, "the flavor", S("Flavor")), NF], params=[P("id")]))
add("POST", "/v1/flavors", op("Define a flavor", "cloud-admin", [ok(201, "created", S("Flavor")), E(409, "name taken")],
    body=obj({"name": STR, "vcpus": INT, "memory_mib": INT, "disk_gib": INT}, ["name", "vcpus", "memory_mib", "disk_gib"])))
add("PATCH", "/v1/flavors/{id}", op("Enable or disable a flavor", "cloud-admin", [ok(200, "updated", S("Flavor")), NF], body=obj({"disabled": BOOL}, ["disabled"]), params=[P("id")]))
add("DELETE", "/v1/flavors/{id}", op("Delete an unused flavor", "cloud-admin", [ok(204, "deleted"), NF, E(409, "instances use it: disable it instead")], params=[P("id")]))
add("GET", "/v1/images", op("Images the tenant can use: its own and public ones (served by the image service)", "tenant-read", [ok(200, "images", lst("images", "Image")), E(400, "limit is not an integer from 1 to 1000, or marker is not an id")],
    params=[Q("status", STR, "only images in this status"), Q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "page size"), Q("marker", UUID, "last id of the previous page")]))
add("POST", "/v1/images/{id}/upload-url", op("A signed URL to PUT the image's bytes to (the image service's data listener; raw or qcow2, checked on arrival)", "tenant-write",
    [ok(200, "the URL, valid for one upload until it expires", S("SignedUrl")), NF, E(409, "the image is not queued: one upload per image")], params=[P("id")]))
add("POST", "/v1/images/{id}/download-url", op("A signed URL to GET the image's bytes from (supports Range)", "tenant-read",
    [ok(200, "the URL", S("SignedUrl")), NF, E(409, "the image is not active")], params=[P("id")]))
add("GET", "/v1/images/{id}", op("An image", "tenant-read", [ok(200, "the image", S("Image")), NF], params=[P("id")]))
add("POST", "/v1/images", op("Register an image (status queued until its bytes are uploaded through an upload URL)", "tenant-write",
    [ok(201, "created", S("Image")), E(404, "kernel_id or ramdisk_id names no image the owner can use (its own or public)")], body=obj({"name": STR, "disk_format": {"type": "string", "enum": ["raw", "qcow2"]},
    "visibility": {"type": "string", "enum": ["private", "public"], "description": "public needs a cloud admin"}, "min_disk_gib": INT, "min_memory_mib": INT,
    "kind": {"type": "string", "enum": ["disk", "kernel", "ramdisk"], "description": "default disk"},
    "boot": {"type": "string", "enum": ["firmware", "kernel"], "description": "disks only: default firmware, or kernel when kernel_id is given; a kernel boots as kernel"},
    "kernel_id": {**UUID, "description": "a kernel image of the tenant, or public (404 otherwise): boot it directly with this disk as root"},
    "ramdisk_id": {**UUID, "description": "a ramdisk image (with kernel_id) given as the initrd"}}, ["name", "disk_format"])))
add("PATCH", "/v1/images/{id}", op("Rename an image or change its visibility", "tenant-write", [ok(200, "updated", S("Image")), NF, E(409, "publishing a disk whose kernel or ramdisk is private, or making private a kernel or ramdisk a public disk boots with")],
    body=obj({"name": STR, "visibility": {"type": "string", "enum": ["private", "public"]}}), params=[P("id")]))
add("DELETE", "/v1/images/{id}", op("Delete an image the tenant owns", "tenant-write", [ok(204, "deleted"), NF, E(409, "a kernel or ramdisk that disk images still name")], params=[P("id")]))
add("GET", "/v1/keypairs", op("The tenant's SSH keypairs", "tenant-read", [ok(200, "keypairs", lst("keypairs", "Keypair"))]))
add("GET", "/v1/keypairs/{id}", op("A keypair", "tenant-read", [ok(200, "the keypair", S("Keypair")), NF], params=[P("id")]))
add("POST", "/v1/keypairs", op("Import an OpenSSH public key", "tenant-write", [ok(201, "created", S("Keypair")), E(409, "name taken")],
    body=obj({"name": STR, "public_key": {"type": "string", "description": "one line: type, base64 key, optional comment"}}, ["name", "public_key"])))
add("DELETE", "/v1/keypairs/{id}", op("Delete a keypair", "tenant-write", [ok(204, "deleted"), NF], params=[P("id")]))
add("GET", "/v1/quotas", op("The tenant's quota limits and usage", "tenant-read", [ok(200, "quota", S("Quota"))]))
LOC = {"Location": {"description": "the instance's path, /v1/instances/{id}", "schema": STR}}
add("POST", "/v1/instances", op("Create an instance", "tenant-write",
    [ok(202, "accepted; building (or error with the reason when no host fits)", S("Instance"), headers=LOC), E(400, "invalid request, or no such flavor, image, keypair or server group"),
     E(404, "a network or port named in networks or ports is not the tenant's (nor shared)"), E(409, "quota_exceeded, or a port or address asked for is taken"), E(422, "Idempotency-Key reused with a different request")],
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
              "content": {"application/json": {"schema": obj({"instances": {"type": "array", "items": S("Instance")}, "next": nullable(UUID)}, "all")}}}},
     {"304": {"description": "the page is unchanged since the ETag given", "headers": LIST_ETAG}}, E(400, "limit is not an integer from 1 to 1000, or marker is not an id")],
    params=[Q("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}, "page size"), Q("marker", UUID, "the previous page's next"),
            Q("state", STR, "only instances in this state"), Q("name", STR, "only instances with this name"),
            {"name": "If-None-Match", "in": "header", "required": False, "schema": STR, "description": "ETags of pages the client holds; 304 when the page is one of them"}]))
ONE_ETAG = {"ETag": {"description": "from the instance's bytes: unchanged while nothing the caller would see changed", "schema": STR}}
add("GET", "/v1/instances/{id}", op("An instance; ETag; If-None-Match answers 304 (what a waiter polls)", "tenant-read",
    [ok(200, "the instance", S("Instance"), headers=ONE_ETAG), {"304": {"description": "unchanged since the ETag given", "headers": ONE_ETAG}}, NF],
    params=[P("id"), {"name": "If-None-Match", "in": "header", "required": False, "schema": STR, "description": "the ETag the client holds"}]))
add("DELETE", "/v1/instances/{id}", op("Delete an instance: deleting until its node confirms, deleted at once when no node holds it", "tenant-write",
    [ok(202, "accepted: the instance, state deleting (or deleted)", S("Instance")), NF, E(409, "the instance is being deleted, or a transition the lifecycle refuses")], params=[P("id")]))
add("POST", "/v1/instances/{id}/actions", op("start (stopped), stop (active), reboot (active), snapshot (active or stopped), evacuate (cloud admin: an instance of a dead host, rebuilt on another), migrate (cloud admin: live migration of an active instance to another host) or migrate_cancel", "tenant-write",
    [ok(202, "accepted: the instance, or for a snapshot the new image's id (Location: /v1/images/{image_id}; the image is queued, saving, then active once the node uploaded the disk, or killed with its status_reason)",
        {"oneOf": [S("Instance"), {**obj({"image_id": UUID}, "all"), "additionalProperties": False}]},
        headers={"Location": {"description": "the instance's path, /v1/instances/{id}; for a snapshot the image's, /v1/images/{image_id}", "schema": STR}}),
     NF, E(409, "the instance's state or task does not allow the action (a snapshot needs an active or stopped instance with no task, and an image the tenant may still copy); evacuate: its host is not down for nodes.down_after + evacuate.fence_margin yet (with Retry-After), or its disk is local and confirm_data_loss is not true; migrate: the instance is not active or has a task, its host is down (evacuate it instead) or cannot send a live migration (libvirt), its disk is on local storage without instances.shared_storage and block_migration is false (or block_migration is true for a disk on Ceph or shared storage), it has an SR-IOV port, or no host (or not the named one) can take it; migrate_cancel: no migration is under way")],
    desc="evacuate (Nova's evacuate) is for cloud admins, for an instance of any tenant; another caller gets 403 for an instance of its own tenant and 404 for any other. The instance's host must have sent no heartbeat for nodes.down_after + evacuate.fence_margin seconds, by when its agent has force-stopped its guests (fence.timeout). It is placed by the scheduler (or on `host`, which must pass every filter, else 409 and nothing changes) with task evacuating until its new host reports it; no host: state error with the scheduler's reason as its fault. A disk on Ceph (rbd) is reopened there; a local disk is rebuilt from the image, losing what the guest wrote, and needs confirm_data_loss: true. migrate (cloud admin, the same 403/404 for others) moves an active instance to another host while it runs: the scheduler picks the target (every placement filter, never the source, only nodes whose agent receives live migrations) or `host` names it; the instance shows task migrating and its `migration` (progress) until the source's agent reports the outcome; it changes host only once the source reported completed. GET /v1/migrations keeps the outcomes. migrate_cancel cancels one under way (at once while the target prepares; else the source cancels and reports).",
    body=obj({"action": {"type": "string", "enum": ["start", "stop", "reboot", "snapshot", "evacuate", "migrate", "migrate_cancel"]},
              "host": {"type": "string", "minLength": 1, "maxLength": 63, "description": "evacuate and migrate only: the node (name or id) to move the instance to; default: the scheduler's choice"},
              "downtime_ms": {"type": "integer", "minimum": 1, "maximum": 60000, "description": "migrate only: the downtime budget (default 300)"},
              "timeout_s": {"type": "integer", "minimum": 0, "maximum": 86400, "description": "migrate only: the overall timeout (default 0: none)"},
              "on_timeout": {"type": "string", "enum": ["cancel", "force"], "description": "migrate only: at the timeout, cancel (the instance stays) or force (finish over the budget); default cancel"},
              "block_migration": {"type": "boolean", "description": "migrate only: copy the instance's local disk along with its memory (true), or require its disk to be shared (false: 409 for a local disk without instances.shared_storage); absent: copy a local disk unless instances.shared_storage. true is 409 for a disk on Ceph or on shared storage"},
              "confirm_data_loss": {"type": "boolean", "description": "evacuate only: rebuild an instance whose disk was on its dead host's local storage from its image (default false: such an instance is refused, 409)"},
              "force": {"type": "boolean", "description": "stop only: end the VM at once, without pressing the power button and waiting for the guest (default false: press it, wait the node's vmm.stop_timeout_ms, then force). Also accepted while a graceful stop still waits for its guest (task stopping): it ends the wait at once"},
              "type": {"type": "string", "enum": ["soft", "hard"], "description": "reboot only: soft (default) stops gracefully as stop does, then boots again; hard resets the VM at once"},
              "name": {"type": "string", "minLength": 1, "maxLength": 255, "description": "snapshot only (and required there): the new image's name. The instance's disk (its image and everything the guest wrote) is flattened by its node into a private qcow2 image of the tenant that boots as the instance's image did (boot, kernel_id, ramdisk_id); a running guest is paused around the copy (crash-consistent)"}}, ["action"]), params=[P("id")]))
add("POST", "/v1/server-groups", op("Create a server group", "tenant-write", [ok(201, "created", S("ServerGroup")), E(409, "name taken")],
    body=obj({"name": STR, "policy": {"type": "string", "enum": ["affinity", "anti-affinity"]}}, ["name", "policy"])))
add("GET", "/v1/server-groups", op("The tenant's server groups", "tenant-read", [ok(200, "groups", lst("server_groups", "ServerGroup"))]))
add("GET", "/v1/server-groups/{id}", op("A server group and its members", "tenant-read", [ok(200, "the group", S("ServerGroup")), NF], params=[P("id")]))
add("DELETE", "/v1/server-groups/{id}", op("Delete a server group (members stay, ungrouped)", "tenant-write", [ok(204, "deleted"), NF], params=[P("id")]))
add("GET", "/v1/scheduler", op("The placement policy and which nodes are empty", "cloud-admin", [ok(200, "scheduler", S("Scheduler"))]))
add("PUT", "/v1/scheduler", op("Choose the placement policy: spread (performance) or pack (power)", "cloud-admin",
    [ok(200, "scheduler", S("Scheduler"))], body=obj({"policy": {"type": "string", "enum": ["spread", "pack"]}}, ["policy"])))
add("GET", "/v1/scheduler/consolidation", op("The consolidation plan, as a dry run: which running instances would move by live migration (where pack would place them, on nodes that receive a live migration) to empty whole nodes for power-off. Nodes already draining first, then the least loaded, a node only whole; instances are held as the rebalancer holds them (not running, in a task, on a local disk unless instances.shared_storage, on a node that cannot send a live migration, booted through firmware, with an SR-IOV port), and so are server groups' members and those moved within rebalance.cooldown", "cloud-admin",
    [ok(200, "the plan", S("ConsolidationPlan")), E(400, "target not within 0.5-1, or max_moves not within 1-1000")],
    params=[Q("target", {"type": "number", "minimum": 0.5, "maximum": 1}, "fill destinations up to this fraction (default consolidation.target, 0.85)"),
            Q("max_moves", {"type": "integer", "minimum": 1, "maximum": 1000}, "at most this many moves (default consolidation.max_moves, 20)")]))
add("POST", "/v1/scheduler/consolidation", op("The consolidation plan, carried out (the body is a JSON object, {} for the defaults): the plan as GET /v1/scheduler/consolidation makes it, its source nodes marked draining (no new instance lands there for consolidation.drain_for seconds, or until powered off), each move begun as a live migration through the migrate action's own path (its refusals apply), while fewer than rebalance.max_concurrent migrations run cloud-wide; the rest are skipped for the next call, which finishes the draining nodes first. The power manager then powers the emptied nodes off once idle (nodes_to_power_off), draining ones first: one is kept on only as one of power.min_spare_hosts, its draining mark then cleared. One run at a time across the gateways (a timed one or another admin's): a POST waits up to 5 s for the run under way, then answers 503", "cloud-admin",
    [ok(202, "the plan, dry_run false, with started, skipped and draining", S("ConsolidationPlan")), E(400, "target not within 0.5-1, or max_moves not within 1-1000")],
    body=obj({"target": {"type": "number", "minimum": 0.5, "maximum": 1, "description": "default consolidation.target"},
              "max_moves": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "default consolidation.max_moves"}})))
add("GET", "/v1/scheduler/rebalance", op("The rebalancing plan, as a dry run: which running instances would move (live migration) to even out the nodes' CPU load (measured from the metering samples) and memory load (reserved) while either spreads beyond the threshold. One instance at a time off the most loaded node, the one whose move lowers the imbalance most, through every placement filter; instances not running, in a task, with an SR-IOV port, on a local disk (unless instances.shared_storage), on a node that cannot send a live migration or in an affinity group with other members stay, and one moved within rebalance.cooldown moves neither again nor back", "cloud-admin",
    [ok(200, "the plan", S("RebalancePlan")), E(400, "threshold not within 0.01-1, or max_moves not within 1-1000")],
    params=[Q("threshold", {"type": "number", "minimum": 0.01, "maximum": 1}, "the spread tolerated (default rebalance.threshold, 0.2)"),
            Q("max_moves", {"type": "integer", "minimum": 1, "maximum": 1000}, "at most this many moves (default rebalance.max_moves, 10)")]))
add("POST", "/v1/scheduler/rebalance", op("The rebalancing plan, carried out (the body is a JSON object, {} for the defaults): the plan as GET /v1/scheduler/rebalance makes it, each move begun as a live migration through the migrate action's own path (its refusals apply), while fewer than rebalance.max_concurrent migrations run cloud-wide; the rest are skipped for the next call. One run at a time across the gateways (a timed one or another admin's): a POST waits up to 5 s for the run under way, then answers 503", "cloud-admin",
    [ok(202, "the plan, dry_run false, with started and skipped", S("RebalancePlan")), E(400, "threshold not within 0.01-1, or max_moves not within 1-1000")],
    body=obj({"threshold": {"type": "number", "minimum": 0.01, "maximum": 1, "description": "default rebalance.threshold"},
              "max_moves": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "default rebalance.max_moves"}})))
# ---- Billing: forwarded to stratus-billing unchanged (billing_proxy.c); the
# bodies are billing's (billing/usage.c, invoice.c, render.c, plans.c,
# account.c, credit.c), the statuses billing's and the gateway's.
BILLING = "Served by the billing service; money is integer micro-units (`*_micro`), months YYYY-MM."
MONEY = {"type": "string", "description": "the amount in the currency's units, as text (e.g. 12.34)"}
METERS = ("cpu_time_ns", "cpu_cycles", "rx_bytes", "rx_packets", "tx_bytes", "tx_packets",
          "disk_read_bytes", "disk_read_ops", "disk_write_bytes", "disk_write_ops")
PARTY = nullable(obj({"name": STR, "address": STR, "country": STR, "tax_id": STR, "email": STR}, "all"))
PRICES = obj({"cpu_per_gcycle": INT, "rx_per_gib": INT, "tx_per_gib": INT, "storage_per_gib_month": INT,
              "instance_hour_default": INT,
              "instance_hour": {"type": "object", "additionalProperties": INT, "description": "per flavor name: micro-units an hour"},
              "time_unit": enum("hour", "second"), "min_seconds": INT,
              "tax_rate_bp": nullable({"type": "integer", "description": "the version's own tax rate in basis points; null: the customer's country's"})}, "all")
PRICE = {"type": "integer", "minimum": 0, "maximum": 1000000000000}
PRICES_IN = obj({"cpu_per_gcycle": PRICE, "rx_per_gib": PRICE, "tx_per_gib": PRICE, "storage_per_gib_month": PRICE,
                 "instance_hour_default": PRICE, "instance_hour": {"type": "object", "additionalProperties": PRICE},
                 "time_unit": enum("hour", "second"), "min_seconds": {"type": "integer", "minimum": 0, "maximum": 86400},
                 "tax_rate_bp": {"type": "integer", "minimum": 0, "maximum": 10000}},
                ["cpu_per_gcycle", "rx_per_gib", "tx_per_gib", "storage_per_gib_month", "instance_hour_default"])
# optional prices (absent from plans made before them: 0)
PRICES["properties"].update({"disk_per_gib_month": INT, "floating_ip_hour": INT})
PRICES_IN["properties"].update({"disk_per_gib_month": PRICE, "floating_ip_hour": PRICE})
schemas.update({
 "Usage": obj({"tenant_id": UUID, "from": TS, "to": TS, "granularity": enum("hour", "day", "month"),
               "plan": nullable(obj({"id": UUID, "name": STR}, "all")),
               "no_plan": {"type": "boolean", "description": "no plan prices this tenant's usage: it is not free, it is unpriced"},
               "usage": {"type": "array", "items": obj({"instance_id": UUID, "start": TS, **{m: INT for m in METERS}, "instance_hours": INT}, "all")},
               "storage": {"type": "array", "description": "image storage; empty when instance_id is given",
                           "items": obj({"start": TS, "byte_hours": INT}, "all")},
               "disks": {"type": "array", "description": "instance disks: allocated byte-hours per instance and bucket",
                         "items": {"type": "object"}},
               "floating_ips": {"type": "array", "description": "floating IPs held: IP-hours per bucket",
                                "items": {"type": "object"}},
               "totals": obj({**{m: INT for m in METERS}, "instance_hours": INT,
                              "storage_byte_hours": {"type": "integer", "description": "absent when instance_id is given"},
                              "disk_byte_hours": INT, "floating_ip_hours": INT},
                             list(METERS) + ["instance_hours"])},
              ["tenant_id", "from", "to", "granularity", "plan", "no_plan", "usage", "storage", "totals"]),
 "InvoiceSummary": obj({"id": UUID, "number": nullable({"type": "integer", "description": "null on drafts"}),
                        "number_text": {"type": "string", "description": "DRAFT on drafts"},
                        "status": enum("issued", "draft"), "period": MONTH, "currency": STR, "total_micro": INT,
                        "total": MONEY, "issued_at": nullable(TS),
                        "credited_micro": {"type": "integer", "description": "issued invoices: what credit notes gave back"},
                        "balance_micro": {"type": "integer", "description": "issued invoices: what is left to pay"},
                        "no_plan": {"type": "boolean", "description": "drafts: some usage is priced by no plan"}},
                       ["id", "number", "number_text", "status", "period", "currency", "total_micro", "total", "issued_at"]),
 "InvoiceList": obj({"tenant_id": UUID, "invoices": {"type": "array", "items": S("InvoiceSummary")}}, "all"),
 "InvoiceLine": obj({"line": INT, "instance_id": nullable({**UUID, "description": "null for storage"}),
                     "instance_name": nullable(STR), "instance_flavor": nullable(STR),
                     "item": enum("instance_hours", "instance_seconds", "cpu_cycles", "rx_bytes", "tx_bytes", "image_storage", "disk_storage", "floating_ip_hours"),
                     "flavor": nullable(STR), "description": STR, "usage_month": MONTH,
                     "late": {"type": "boolean", "description": "usage of an earlier month, reported after it was issued"},
                     "plan": nullable(obj({"id": UUID, "name": STR, "version": INT, "version_id": UUID}, "all")),
                     "priced": {"type": "boolean", "description": "false: no plan applied"}, "tax_rate_bp": INT,
                     "quantity": {"type": "integer", "description": "base units: hours, seconds, cycles, bytes, byte-hours"},
                     "unit": STR, "billing_quantity": {"type": "string", "description": "the quantity in billing units, as text"},
                     "billing_unit": STR, "unit_price_micro": INT, "amount_micro": INT, "amount": MONEY,
                     "port_id": nullable({**UUID, "description": "rx_bytes/tx_bytes of this network port; null: the instance's own (NICs reported without a port). Absent on invoices issued before per-port lines"})},
                    ["line", "instance_id", "instance_name", "instance_flavor", "item", "flavor", "description",
                     "usage_month", "late", "plan", "priced", "tax_rate_bp", "quantity", "unit", "billing_quantity",
                     "billing_unit", "unit_price_micro", "amount_micro", "amount"]),
 "Invoice": obj({"id": UUID, "number": nullable(INT), "number_text": STR, "status": enum("issued", "draft"),
                 "tenant_id": UUID, "period": MONTH, "period_start": TS, "period_end": TS, "currency": STR,
                 "seller": PARTY, "buyer": {**PARTY, "description": "null: no billing account"},
                 "issue_date": nullable(DATE), "due_date": nullable(DATE), "payment_days": INT, "payment_terms": STR,
                 "issued_at": nullable(TS), "generated_at": TS, "total_micro": {"type": "integer", "description": "the gross"},
                 "total": MONEY, "no_plan": BOOL, "notice": nullable(STR), "rounding": STR,
                 "lines": {"type": "array", "items": S("InvoiceLine")},
                 "net_micro": INT, "net": MONEY,
                 "taxes": {"type": "array", "items": obj({"rate_bp": INT, "rate": STR, "net_micro": INT, "net": MONEY, "tax_micro": INT, "tax": MONEY}, "all")},
                 "tax_micro": INT, "tax": MONEY, "gross_micro": INT, "gross": MONEY, "tax_country": nullable(STR),
                 "reverse_charge": BOOL, "reverse_charge_note": nullable(STR), "tax_rule": STR}, "all"),
 "Plan": obj({"id": UUID, "name": STR, "description": STR, "default": BOOL, "created_at": TS,
              "versions": {"type": "array", "items": obj({"id": UUID, "version": INT, "effective_from": TS, "prices": PRICES}, "all")}}, "all"),
 "BillingAccount": obj({"tenant_id": UUID, "legal_name": STR, "address": STR, "country": STR,
                        "tax_id": {"type": "string", "description": "'' when none"}, "email": STR, "updated_at": TS}, "all"),
 "CreditNoteSummary": obj({"id": UUID, "number": INT, "number_text": STR, "invoice_id": UUID, "issued_at": TS,
                           "total_micro": INT, "currency": STR}, "all"),
 "CreditNote": obj({"id": UUID, "type": enum("credit_note"), "number": INT, "number_text": STR, "invoice_id": UUID,
                    "invoice_number_text": nullable(STR), "tenant_id": UUID, "issued_at": TS, "currency": STR, "reason": STR,
                    "seller": PARTY, "buyer": PARTY,
                    "lines": {"type": "array", "items": obj({"invoice_line": INT, "instance_id": nullable(UUID), "description": nullable(STR),
                                                             "tax_rate_bp": INT, "amount_micro": INT}, "all")},
                    "taxes": {"type": "array", "items": obj({"rate_bp": INT, "net_micro": INT, "tax_micro": INT}, "all")},
                    "net_micro": INT, "tax_micro": INT, "total_micro": INT, "note": STR}, "all"),
 "PlanAssignments": obj({"tenant_id": UUID, "assignments": {"type": "array", "items": obj({"effective_from": TS, "plan_id": UUID, "plan_name": STR}, "all")}}, "all"),
 "Periods": obj({"issued_through": nullable(MONTH), "next_invoice_number": INT,
                 "issued": {"type": "array", "items": obj({"period": MONTH, "invoices": INT, "total_micro": INT, "first_number": INT, "last_number": INT, "issued_at": TS}, "all")},
                 "issuing": {"type": "array", "items": MONTH, "description": "months whose issue is under way (or was cut short: issue again)"}}, "all"),
 "IssueResult": obj({"period": MONTH, "invoices": INT, "first_number": nullable(INT), "last_number": nullable(INT),
                     "total_micro": {"type": "integer", "description": "the sum of the gross totals"}}, "all"),
 "IssuePreview": obj({"period": MONTH, "ended": BOOL, "issuable": BOOL, "reason": nullable(STR), "empty": BOOL, "invoices": INT,
                      "first_number": nullable(INT), "last_number": nullable(INT), "net_micro": INT, "tax_micro": INT, "total_micro": INT,
                      "truncated": {"type": "boolean", "description": "more than 10,000 tenants: only the first are listed"},
                      "tenants": {"type": "array", "items": obj({"tenant_id": UUID, "invoice_id": UUID, "number": INT, "number_text": STR, "lines": INT,
                                                                 "net_micro": INT, "tax_micro": INT, "total_micro": INT, "no_plan": BOOL}, "all")},
                      "note": {"type": "string", "description": "only when empty"}},
                     ["period", "ended", "issuable", "reason", "empty", "invoices", "first_number", "last_number", "net_micro", "tax_micro", "total_micro", "truncated", "tenants"]),
})
TQ = Q("tenant_id", UUID, "cloud admins: another tenant's (a tenant naming another gets 403)")
DOC_ETAG = {"ETag": {"description": "SHA-256 of the bytes", "schema": STR}}
def docs(desc, download):
    h = {**DOC_ETAG, **({"Content-Disposition": {"description": "attachment; filename=\"<number>.<format>\"", "schema": STR}} if download else {})}
    return {"200": {"description": desc, "headers": h, "content": {
        "application/json": {"schema": S("Invoice")},
        "text/csv": {"schema": {"type": "string", "description": "RFC 4180, CRLF: a header row and one row per line and per tax rate (billing/README.md)"}},
        "text/html": {"schema": {"type": "string"}},
        "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        "application/xml": {"schema": {"type": "string", "description": "?format=ubl: UBL 2.1 Invoice, EN 16931 core (e-invoicing), issued invoices only"}}}}}
FMT = Q("format", enum("json", "csv", "html", "pdf", "ubl"), "document format; else by Accept (application/pdf, text/csv, text/html), else JSON; ubl (UBL 2.1 XML, EN 16931) only by ?format= and only for issued invoices")
INM = {"name": "If-None-Match", "in": "header", "required": False, "schema": STR, "description": "the ETag the client holds"}
add("GET", "/v1/billing/usage", op("The tenant's usage by hour, day or month, per instance and meter", "tenant-read",
    [ok(200, "usage", S("Usage")), E(400, "granularity not hour, day or month; from or to not an RFC 3339 time; a range too long for the granularity (32 days by hour, 367 by day); instance_id or tenant_id not a UUID"),
     E(422, "too_large: too many rows or totals beyond 2^63; narrow the range")], desc=BILLING,
    params=[Q("from", TS, "start (default: this month)"), Q("to", TS, "end"),
            Q("granularity", enum("hour", "day", "month"), "bucket size (default day)"), Q("instance_id", UUID, "one instance"), TQ]))
add("GET", "/v1/billing/invoices", op("The tenant's invoices: issued ones and the live drafts", "tenant-read", [ok(200, "invoices", S("InvoiceList"))], desc=BILLING, params=[TQ]))
add("GET", "/v1/billing/invoices/{id}", op("An invoice as JSON, CSV, HTML or PDF (?format= or Accept); ETag; If-None-Match answers 304", "tenant-read",
    [docs("the invoice document", False), {"304": R("NotModified")}, E(400, "format is not json, csv, html, pdf or ubl"), NF, E(409, "format=ubl for a draft: only issued invoices are e-invoices")], desc=BILLING,
    params=[P("id"), FMT, TQ, INM]))
add("GET", "/v1/billing/invoices/{id}/download", op("The same document as an attachment", "tenant-read",
    [docs("the invoice document, as an attachment", True), {"304": R("NotModified")}, E(400, "format is not json, csv, html, pdf or ubl"), NF, E(409, "format=ubl for a draft: only issued invoices are e-invoices")], desc=BILLING,
    params=[P("id"), FMT, TQ, INM]))
add("GET", "/v1/billing/plan", op("The price plan in force for the tenant now", "tenant-read",
    [ok(200, "plan", S("Plan")), E(404, "no price plan applies to the tenant (no assignment and no default plan)")], desc=BILLING, params=[TQ]))
ACCOUNT = obj({"legal_name": {"type": "string", "minLength": 1, "maxLength": 200},
               "address": {"type": "string", "minLength": 1, "maxLength": 500, "description": "postal address, lines split by \\n"},
               "country": {"type": "string", "pattern": "^[A-Z]{2}$", "description": "ISO 3166-1 alpha-2"},
               "tax_id": {"type": "string", "maxLength": 32}, "email": STR}, ["legal_name", "address", "country", "email"])
add("GET", "/v1/billing/account", op("The tenant's billing account (the buyer on its invoices)", "tenant-read",
    [ok(200, "account", S("BillingAccount")), E(404, "no billing account yet")], desc=BILLING, params=[TQ]))
add("PUT", "/v1/billing/account", op("Set the tenant's billing account, whole (tenant admin)", "tenant-admin",
    [ok(200, "account", S("BillingAccount"))], body=ACCOUNT, desc=BILLING, params=[TQ]))
add("GET", "/v1/billing/tenants/{tenant_id}/account", op("A tenant's billing account", "cloud-admin",
    [ok(200, "account", S("BillingAccount")), E(404, "no billing account yet")], params=[P("tenant_id", "tenant id")], desc=BILLING))
add("PUT", "/v1/billing/tenants/{tenant_id}/account", op("Set a tenant's billing account", "cloud-admin",
    [ok(200, "account", S("BillingAccount")), E(404, "no such tenant")], body=ACCOUNT, params=[P("tenant_id", "tenant id")], desc=BILLING))
add("GET", "/v1/billing/credit-notes", op("The tenant's credit notes", "tenant-read",
    [ok(200, "credit notes", obj({"tenant_id": UUID, "credit_notes": {"type": "array", "items": S("CreditNoteSummary")}}, "all"))], desc=BILLING, params=[TQ]))
add("GET", "/v1/billing/credit-notes/{id}", op("A credit note, JSON, PDF or UBL (?format=)", "tenant-read",
    [{"200": {"description": "the credit note", "content": {"application/json": {"schema": S("CreditNote")},
                                                             "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                                                             "application/xml": {"schema": {"type": "string", "description": "UBL 2.1 CreditNote, EN 16931 core, with a BillingReference to its invoice"}}}}},
     E(400, "format is not json, pdf or ubl"), NF],
    params=[P("id"), Q("format", enum("json", "pdf", "ubl"), "json (default), pdf or ubl"), TQ], desc=BILLING))
add("POST", "/v1/billing/invoices/{id}/credit-notes", op("Correct an issued invoice by a credit note (own number sequence; the invoice never changes)", "cloud-admin",
    [ok(201, "the credit note", S("CreditNote")), E(400, "invalid request, or more than a line's amount left to credit"), E(404, "no such issued invoice"),
     E(409, "nothing is left to credit on the invoice"), E(422, "too many tax rates on one invoice")],
    body=obj({"reason": {"type": "string", "minLength": 1, "maxLength": 500},
              "lines": {"type": "array", "items": obj({"line": INT, "amount_micro": {"type": "integer", "minimum": 1}}, "all")},
              "all": {"type": "boolean", "description": "credit everything left on the invoice (instead of lines)"}}, ["reason"]),
    params=[P("id")], desc=BILLING))
PLAN_IN = obj({"name": STR, "description": STR, "default": BOOL,
               "effective_from": {**TS, "description": "a whole UTC hour in an open month (default: the first open month)"}, "prices": PRICES_IN}, ["name", "prices"])
add("GET", "/v1/billing/plans", op("Price plans", "cloud-admin", [ok(200, "plans", lst("plans", "Plan"))], desc=BILLING))
add("POST", "/v1/billing/plans", op("Create a price plan", "cloud-admin",
    [ok(201, "created", S("Plan")), E(409, "the name is taken, effective_from is in an issued month, or a month is being issued")], body=PLAN_IN, desc=BILLING))
add("GET", "/v1/billing/plans/{id}", op("A price plan with its versions", "cloud-admin", [ok(200, "plan", S("Plan")), NF], params=[P("id")], desc=BILLING))
add("PATCH", "/v1/billing/plans/{id}", op("Rename a plan, change its description, or make it the default", "cloud-admin",
    [ok(200, "plan", S("Plan")), NF, E(409, "the name is taken")], body=obj({"name": STR, "description": STR, "default": BOOL}), params=[P("id")], desc=BILLING))
add("DELETE", "/v1/billing/plans/{id}", op("Delete a plan no tenant uses (not the default plan)", "cloud-admin",
    [ok(204, "deleted"), NF, E(409, "the default plan, or a plan assigned to a tenant")], params=[P("id")], desc=BILLING))
add("POST", "/v1/billing/plans/{id}/versions", op("New prices from a month on (versions are immutable)", "cloud-admin",
    [ok(201, "the plan with its new version", S("Plan")), NF, E(409, "effective_from is taken or in an issued month, or a month is being issued")],
    body=obj({"effective_from": TS, "prices": PRICES_IN}, ["prices"]), params=[P("id")], desc=BILLING))
add("GET", "/v1/billing/tenants/{tenant_id}/plans", op("A tenant's plan assignments", "cloud-admin", [ok(200, "assignments", S("PlanAssignments"))], params=[P("tenant_id", "tenant id")], desc=BILLING))
add("POST", "/v1/billing/tenants/{tenant_id}/plans", op("Put a tenant on a plan from an hour on", "cloud-admin",
    [ok(201, "the tenant's assignments", S("PlanAssignments")), E(409, "effective_from is in an issued month, or a month is being issued"), E(422, "no such plan")],
    body=obj({"plan_id": UUID, "effective_from": {**TS, "description": "a whole UTC hour in an open month"}}, ["plan_id"]), params=[P("tenant_id", "tenant id")], desc=BILLING))
add("GET", "/v1/billing/periods", op("Issued months, months being issued, and the next invoice number", "cloud-admin", [ok(200, "periods", S("Periods"))], desc=BILLING))
PERIOD = {"name": "period", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}, "description": "YYYY-MM"}
add("POST", "/v1/billing/periods/{period}/issue", op("Issue every tenant's invoice for an ended month (numbered without gaps, immutable)", "cloud-admin",
    [ok(201, "issued", S("IssueResult")), E(404, "not a YYYY-MM month"), E(409, "the month has not ended, is issued, an earlier month is not, or it has no usage and confirm_empty=true is missing (empty_month)")],
    params=[PERIOD, Q("confirm_empty", BOOL, "true: issue a month with no usage (it closes for good)")], desc=BILLING))
add("GET", "/v1/billing/periods/{period}/preview", op("What issuing the month now would produce: each tenant's totals and the numbers it would take; nothing is stored", "cloud-admin",
    [ok(200, "preview", S("IssuePreview")), E(404, "not a YYYY-MM month"), E(409, "the month is issued")],
    params=[PERIOD], desc=BILLING))
add("POST", "/v1/nodes", op("Register a compute node; returns its credential once", "cloud-admin", [ok(201, "created, with its credential (shown once)", S("NodeCreated")), E(409, "name taken")], body=obj({"name": STR}, ["name"])))
add("GET", "/v1/nodes", op("Compute nodes with capacity, usage, health, and which are empty", "cloud-admin", [ok(200, "nodes", lst("nodes", "Node"))]))
add("GET", "/v1/nodes/{id}", op("A compute node", "cloud-admin", [ok(200, "the node", S("Node")), NF], params=[P("id")]))
add("PATCH", "/v1/nodes/{id}", op("Disable (no new placements) or enable a node, or set its tunnel (VXLAN underlay) address", "cloud-admin", [ok(200, "updated", S("Node")), NF], body=obj({"disabled": BOOL, "tunnel_ip": {"type": "string", "format": "ipv4"}}), params=[P("id")]))
add("DELETE", "/v1/nodes/{id}", op("Remove a node that holds no instances", "cloud-admin", [ok(204, "removed"), NF, E(409, "the node still has instances")], params=[P("id")]))
add("POST", "/v1/nodes/{id}/credential", op("Replace a node's credential; the old one is refused by every service from now on; returns the new one once", "cloud-admin", [ok(200, "the node's id and new token", obj({"id": UUID, "token": {"type": "string", "description": "the new credential (stn_...)"}}, "all")), NF], params=[P("id")]))
add("POST", "/v1/nodes/{id}/actions", op("power_off a node (only one that is on and holds no instance or router) or power_on one (that is off), through the configured power.off_command or power.on_command, run by the gateway's power manager; or evacuate (Nova's host-evacuate): rebuild every building, active and stopped instance of a dead node on other hosts", "cloud-admin",
    [ok(202, "power_off, power_on: the node, powering_off or powering_on; evacuate: each instance's outcome: evacuating (placed on node_id, task evacuating) or error (no host: the instance is in error with the fault)", {"oneOf": [S("Node"), S("NodeEvacuation")]}), NF,
     E(409, "power: the node holds instances, is not in the power state the action starts from, or the command is not configured; evacuate: the node is not down for nodes.down_after + evacuate.fence_margin yet (Retry-After), or an instance's disk is local and confirm_data_loss is not true (the message names them; nothing moved)")],
    body=obj({"action": enum("power_off", "power_on", "evacuate"),
              "confirm_data_loss": {"type": "boolean", "description": "evacuate only: rebuild instances whose disks were on the node's local storage from their images (default false: 409 naming them)"}}, ["action"]), params=[P("id")]))
add("PUT", "/internal/v1/node/evacuations/{id}", op("The node removed what it had left of instance {id}, evacuated from it (node credential): it leaves the desired set's evacuated", "node",
    [ok(204, "recorded"), NF], params=[P("id")]))
add("PUT", "/internal/v1/node/migrations/{id}", op("A live migration's progress or outcome, from its source or its target (node credential; the credential says which): the target reports listening (with uri) or failed; the source active (progress), completed (its VMM stopped: the instance moves to the target), failed or cancelled", "node",
    [ok(200, "the migration as it stands (an ended one too, so the agent learns it ended)", S("Migration")), E(404, "no such migration of this node"),
     E(409, "the migration ended otherwise, the target already listens elsewhere, or the source reports before the target listens")],
    body=obj({"state": enum("listening", "active", "completed", "failed", "cancelled"),
              "uri": {"type": "string", "maxLength": 64, "description": "listening: tcp:IPV4:PORT"},
              "error": {"type": "string", "maxLength": 1024},
              "round": INT, "transferred_bytes": INT, "remaining_bytes": INT, "total_bytes": INT,
              "throttle_pct": {"type": "integer", "minimum": 0, "maximum": 100},
              "downtime_ms": INT, "total_ms": INT}, ["state"]), params=[P("id")]))
add("GET", "/v1/migrations", op("Live migrations, newest first, with their progress or outcome", "cloud-admin",
    [ok(200, "migrations", lst("migrations", "Migration"))],
    params=[Q("instance_id", UUID, "only this instance's"), Q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "at most this many (default 100)")]))
add("PUT", "/internal/v1/node", op("Node heartbeat with capacity (node credential)", "node", [ok(200, "the node", S("Node"))],
    body=obj({"hostname": STR, "agent_version": STR,
              "fenced_at": {**TS, "description": "when the agent last fenced itself (stopped its guests for want of the gateway), sent once it reaches the gateway again"}, "tunnel_ip": {"type": "string", "format": "ipv4", "description": "the node's VXLAN underlay address"},
              "external_uplink": {"type": "boolean", "description": "the node has an uplink to the external networks (node.conf network.external_interface)"}, "capacity": obj({"vcpus": INT, "memory_mib": INT, "disk_gib": INT, "sriov_vfs": {"type": "integer", "minimum": 0, "description": "SR-IOV VFs enabled on the node's NICs; 0 when absent"}, "firmware": {"type": "boolean", "description": "its BIOS image (vm.firmware) is there: disk images booting through firmware may be placed here; false when absent"}, "live_migration": {"type": "boolean", "description": "its driver sends and receives live migrations; false when absent"}, "block_migration": {"type": "boolean", "description": "with live_migration: its driver also copies a local disk along (block migration); false when absent (an older agent)"}}, ["vcpus", "memory_mib", "disk_gib"])}, ["capacity"])))
NODE_ETAG = {"ETag": {"description": "the node's desired-set version; unchanged until an order for the node changes", "schema": STR}}
add("GET", "/internal/v1/node/instances", op("The instances this node should run, with generations (node credential); ETag; If-None-Match answers 304, or with wait=N once the set changes (a long-poll)", "node",
    [{"200": {"description": "desired instances", "headers": NODE_ETAG, "content": {"application/json": {"schema": obj({"instances": {"type": "array", "items": S("NodeInstance")},
        "networks": {"type": "array", "items": S("NodeNetwork"), "description": "each network with a port on this host, or that a router placed here joins"},
        "routers": {"type": "array", "items": S("NodeRouter"), "description": "the routers placed on this host"},
        "security_groups": {"type": "array", "items": S("NodeSecurityGroup"), "description": "each group a port on this host is in, or that such a group's rules name"},
        "evacuated": {"type": "array", "items": UUID, "description": "instances evacuated from this node whose leftovers (VM, disk) it has not confirmed removing (PUT /internal/v1/node/evacuations/{id})"},
        "incoming": {"type": "array", "description": "instances migrating to this node: build their ports, start each as an incoming VMM and report where it listens (PUT /internal/v1/node/migrations/{migration_id}); an entry leaving the list means the migration ended: a completed one's instance is in instances, else stop and remove the incoming VMM",
                     "items": obj({"migration_id": UUID, "instance": S("NodeInstance")}, "all")}}, "all")}}}},
     {"304": {"description": "unchanged since the ETag given (with wait: for the whole wait, or the gateway could not hold the request)", "headers": NODE_ETAG}}],
    params=[{"name": "If-None-Match", "in": "header", "required": False, "schema": STR, "description": "the ETag of the set the node holds"},
            Q("wait", {"type": "integer", "minimum": 1, "maximum": 60},
              "a long-poll, as Consul's blocking queries (?index=&wait=): when If-None-Match names the current set, the gateway holds the request until the node's set changes (200 with the new set and tag) or this many seconds pass (304, the same tag); without a matching If-None-Match it answers at once")]))
add("PUT", "/internal/v1/node/instances/{id}", op("Report an instance's actual state (node credential)", "node",
    [ok(200, "the instance", S("Instance")), NF, E(409, "stale_report: the generation is older than the instance's (re-read the desired state); conflict: not a legal transition")],
    body=obj({"state": {"type": "string", "enum": ["active", "stopped", "deleted", "error"]}, "generation": INT, "reboot_seq": INT, "fault": STR,
              "stop": {"type": "string", "enum": ["graceful", "forced"], "description": "how the stop behind this report (stopped, or active after a soft reboot) ended: the guest powered off after the ACPI power button, or the node ended the VM"},
              "snapshot_image_id": {**UUID, "description": "the snapshot this report ends (its task image_snapshot cleared): uploaded, or failed with snapshot_fault"},
              "snapshot_fault": {"type": "string", "description": "why the snapshot failed (the image is killed with it)"},
              "retryable": {"type": "boolean", "description": "with state error for a building instance: the launch failed on this host; place it on another (up to sched.launch_attempts hosts)"}}, ["state", "generation"]), params=[P("id")]))
add("PUT", "/internal/v1/node/instances/{id}/console", {**op("Push the tail of an instance's serial output (node credential; any bytes, the last 64 KiB kept)", "node",
    [ok(204, "stored"), NF], params=[P("id")]), "requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
add("GET", "/v1/instances/{id}/console", op("The instance's recent console output (as its node last pushed it)", "tenant-read",
    [ok(200, "console text (invalid UTF-8 replaced, control characters dropped)", obj({"output": STR, "updated_at": nullable({**TS, "description": "null: nothing pushed yet"})}, "all")), NF],
    params=[P("id"), Q("tail", INT, "only the last N lines")]))

# ---- Networks (Neutron's shapes; network.c, ports.c, secgroups.c) ----
IP = {"type": "string", "format": "ipv4"}
CIDR = {"type": "string", "description": "a network in CIDR form, 10.0.0.0/24"}
FIXED = obj({"subnet_id": UUID, "ip_address": IP}, "all")
POOL = obj({"start": IP, "end": IP}, ["start", "end"])
ROUTE = obj({"destination": CIDR, "nexthop": IP}, ["destination", "nexthop"])
schemas.update({
 "Network": obj({"id": UUID, "tenant_id": UUID, "name": STR, "mtu": {"type": "integer", "description": "1450 by default: a 1500-byte underlay less VXLAN's headers"},
                 "shared": {"type": "boolean", "description": "other tenants may put ports on it (set by a cloud admin)"},
                 "external": {"type": "boolean", "description": "routers' gateways and floating IPs come from it (set by a cloud admin)"},
                 "is_default": {"type": "boolean", "description": "the tenant's default network, made for the first instance created without networks"},
                 "status": enum("ACTIVE"), "subnets": {"type": "array", "items": UUID},
                 "network_type": {"type": "string", "enum": ["vxlan"], "description": "cloud admins only"},
                 "segmentation_id": {"type": "integer", "description": "the VXLAN VNI; cloud admins only"},
                 "created_at": TS, "updated_at": TS}, ["id", "tenant_id", "name", "mtu", "shared", "external", "is_default", "status", "subnets", "created_at", "updated_at"]),
 "Subnet": obj({"id": UUID, "tenant_id": UUID, "network_id": UUID, "name": STR, "ip_version": {"type": "integer", "enum": [4]},
                "cidr": CIDR, "gateway_ip": nullable(IP), "dns_nameservers": {"type": "array", "items": IP},
                "allocation_pools": {"type": "array", "items": POOL}, "host_routes": {"type": "array", "items": ROUTE},
                "enable_dhcp": BOOL, "created_at": TS, "updated_at": TS}, "all"),
 "Port": obj({"id": UUID, "tenant_id": UUID, "network_id": UUID, "name": STR,
              "mac_address": {"type": "string", "description": "fa:16:3e:xx:xx:xx, unique"},
              "fixed_ips": {"type": "array", "items": FIXED}, "security_groups": {"type": "array", "items": UUID},
              "instance_id": nullable(UUID), "device_owner": {"type": "string", "description": "'' (free), compute:stratus, network:router_interface, network:router_gateway, network:floatingip"},
              "vnic_type": {"type": "string", "enum": ["virtio", "direct"], "description": "direct: an SR-IOV virtual function"},
              "model": {"type": "string", "enum": ["virtio", "e1000"], "description": "the emulated NIC: e1000 for guests without virtio drivers"}, "status": {"type": "string", "enum": ["ACTIVE", "DOWN"]},
              "created_at": TS, "updated_at": TS}, "all"),
 "SecurityGroupRule": obj({"id": UUID, "tenant_id": UUID, "security_group_id": UUID,
              "direction": {"type": "string", "enum": ["ingress", "egress"]}, "ethertype": {"type": "string", "enum": ["IPv4", "IPv6"]},
              "protocol": nullable({"type": "string", "description": "tcp, udp, icmp, icmpv6 or a number 0-255; null: any"}),
              "port_range_min": nullable({"type": "integer", "description": "first port; for icmp the type"}),
              "port_range_max": nullable({"type": "integer", "description": "last port; for icmp the code"}),
              "remote_ip_prefix": nullable(CIDR), "remote_group_id": nullable(UUID), "description": STR, "created_at": TS}, "all"),
 "SecurityGroup": obj({"id": UUID, "tenant_id": UUID, "name": STR, "description": STR, "is_default": BOOL,
              "security_group_rules": {"type": "array", "items": S("SecurityGroupRule")}, "created_at": TS, "updated_at": TS}, "all"),
})
QUOTA = E(409, "conflicts with the current state, or quota_exceeded")
add("GET", "/v1/networks", op("Networks the tenant can see: its own, shared and external ones", "tenant-read", [ok(200, "networks", lst("networks", "Network"))]))
add("POST", "/v1/networks", op("Create a network; it gets a VXLAN VNI of its own", "tenant-write",
    [ok(201, "created", S("Network")), E(403, "shared or external need a cloud admin"), QUOTA],
    body=obj({"name": STR, "mtu": {"type": "integer", "minimum": 68, "maximum": 1450, "default": 1450}, "shared": BOOL, "external": BOOL})))
add("GET", "/v1/networks/{id}", op("A network", "tenant-read", [ok(200, "the network", S("Network")), NF], params=[P("id")]))
add("PATCH", "/v1/networks/{id}", op("Rename a network or change its MTU; shared and external (any tenant's network) for cloud admins", "tenant-write",
    [ok(200, "updated", S("Network")), E(403, "shared or external need a cloud admin"), NF, E(409, "still in use by other tenants, routers or floating IPs")],
    body=obj({"name": STR, "mtu": {"type": "integer", "minimum": 68, "maximum": 1450}, "shared": BOOL, "external": BOOL}), params=[P("id")]))
add("DELETE", "/v1/networks/{id}", op("Delete a network with no ports (its subnets go with it)", "tenant-write", [ok(204, "deleted"), NF, E(409, "the network has ports")], params=[P("id")]))
add("GET", "/v1/subnets", op("Subnets of the networks the tenant can see", "tenant-read", [ok(200, "subnets", lst("subnets", "Subnet"))], params=[Q("network_id", UUID, "one network's")]))
add("POST", "/v1/subnets", op("Add an IPv4 subnet (/16 to /30) to one of the tenant's networks; it may not overlap another subnet of that network", "tenant-write",
    [ok(201, "created", S("Subnet")), NF],
    body=obj({"network_id": UUID, "name": STR, "ip_version": {"type": "integer", "enum": [4]}, "cidr": CIDR,
              "gateway_ip": nullable({**IP, "description": "default: the first address; null: no gateway"}),
              "dns_nameservers": {"type": "array", "items": IP, "maxItems": 5},
              "allocation_pools": {"type": "array", "items": POOL, "description": "default: every host address but the gateway's"},
              "host_routes": {"type": "array", "items": ROUTE, "maxItems": 20}, "enable_dhcp": {"type": "boolean", "default": True}}, ["network_id", "cidr"])))
add("GET", "/v1/subnets/{id}", op("A subnet", "tenant-read", [ok(200, "the subnet", S("Subnet")), NF], params=[P("id")]))
add("PATCH", "/v1/subnets/{id}", op("Change a subnet's name, DNS servers, host routes or DHCP", "tenant-write", [ok(200, "updated", S("Subnet")), NF],
    body=obj({"name": STR, "dns_nameservers": {"type": "array", "items": IP}, "host_routes": {"type": "array", "items": ROUTE}, "enable_dhcp": BOOL}), params=[P("id")]))
add("DELETE", "/v1/subnets/{id}", op("Delete a subnet no port has an address in", "tenant-write", [ok(204, "deleted"), NF, E(409, "addresses in use")], params=[P("id")]))
add("GET", "/v1/ports", op("The tenant's ports", "tenant-read", [ok(200, "ports", lst("ports", "Port"))],
    params=[Q("network_id", UUID, "on this network"), Q("instance_id", UUID, "bound to this instance")]))
add("POST", "/v1/ports", op("Create a port on one of the tenant's networks or a shared one: a unique MAC, and addresses allocated atomically (a freed address is not handed out again until the pool has gone round)", "tenant-write",
    [ok(201, "created", S("Port")), NF, E(409, "the address asked for is taken, no address is left, or quota_exceeded")],
    body=obj({"network_id": UUID, "name": STR,
              "fixed_ips": {"type": "array", "items": obj({"subnet_id": UUID, "ip_address": IP}), "description": "default: one address from the first subnet with room"},
              "security_groups": {"type": "array", "items": UUID, "description": "default: the tenant's default group"},
              "vnic_type": {"type": "string", "enum": ["virtio", "direct"], "default": "virtio"}, "model": {"type": "string", "enum": ["virtio", "e1000"], "default": "virtio"}}, ["network_id"])))
add("GET", "/v1/ports/{id}", op("A port", "tenant-read", [ok(200, "the port", S("Port")), NF], params=[P("id")]))
add("PATCH", "/v1/ports/{id}", op("Rename a port, or replace its fixed IPs or security groups", "tenant-write",
    [ok(200, "updated", S("Port")), NF, E(409, "address taken, or the port is a router's or a floating IP's")],
    body=obj({"name": STR, "fixed_ips": {"type": "array", "items": obj({"subnet_id": UUID, "ip_address": IP})}, "security_groups": {"type": "array", "items": UUID}}), params=[P("id")]))
add("DELETE", "/v1/ports/{id}", op("Delete a free port; its addresses are freed", "tenant-write", [ok(204, "deleted"), NF, E(409, "attached to an instance, or a router's or a floating IP's")], params=[P("id")]))
add("GET", "/v1/security-groups", op("The tenant's security groups (the default group is made on first use)", "tenant-read", [ok(200, "groups", lst("security_groups", "SecurityGroup"))]))
add("POST", "/v1/security-groups", op("Create a security group (with rules letting all traffic out)", "tenant-write",
    [ok(201, "created", S("SecurityGroup")), E(409, "the name default, or quota_exceeded")], body=obj({"name": STR, "description": STR}, ["name"])))
add("GET", "/v1/security-groups/{id}", op("A security group with its rules", "tenant-read", [ok(200, "the group", S("SecurityGroup")), NF], params=[P("id")]))
add("PATCH", "/v1/security-groups/{id}", op("Rename a group or change its description (not the default group's name)", "tenant-write",
    [ok(200, "updated", S("SecurityGroup")), NF, CONF], body=obj({"name": STR, "description": STR}), params=[P("id")]))
add("DELETE", "/v1/security-groups/{id}", op("Delete a group no port is in (not the default group)", "tenant-write", [ok(204, "deleted"), NF, CONF], params=[P("id")]))
add("GET", "/v1/security-group-rules", op("The tenant's security group rules", "tenant-read", [ok(200, "rules", lst("security_group_rules", "SecurityGroupRule"))],
    params=[Q("security_group_id", UUID, "one group's")]))
add("POST", "/v1/security-group-rules", op("Add a rule to a group", "tenant-write", [ok(201, "created", S("SecurityGroupRule")), NF, E(409, "the group has this rule")],
    body=obj({"security_group_id": UUID, "direction": {"type": "string", "enum": ["ingress", "egress"]}, "ethertype": {"type": "string", "enum": ["IPv4", "IPv6"], "default": "IPv4"},
              "protocol": nullable(STR), "port_range_min": nullable(INT), "port_range_max": nullable(INT),
              "remote_ip_prefix": nullable(CIDR), "remote_group_id": nullable(UUID), "description": STR}, ["security_group_id", "direction"])))
add("GET", "/v1/security-group-rules/{id}", op("A rule", "tenant-read", [ok(200, "the rule", S("SecurityGroupRule")), NF], params=[P("id")]))
add("DELETE", "/v1/security-group-rules/{id}", op("Delete a rule", "tenant-write", [ok(204, "deleted"), NF], params=[P("id")]))

add("GET", "/v1/instances/{id}/interfaces", op("The instance's ports, in the order its guest sees them", "tenant-read",
    [ok(200, "ports", lst("interfaces", "Port")), NF], params=[P("id")]))
add("POST", "/v1/instances/{id}/interfaces", op("Attach a NIC to a stopped instance: a new port on a network, or a free port", "tenant-write",
    [ok(200, "the port", S("Port")), NF, E(409, "the instance is not stopped, the port is in use, or quota_exceeded")],
    body=obj({"network_id": UUID, "fixed_ip": {"type": "string", "format": "ipv4"}, "port_id": UUID}), params=[P("id")]))
add("DELETE", "/v1/instances/{id}/interfaces/{port_id}", op("Detach a port from a stopped instance (a port made for the instance is deleted, the tenant's own is freed)", "tenant-write",
    [ok(204, "detached"), NF, E(409, "the instance is not stopped")], params=[P("id"), P("port_id", "port id")]))

schemas.update({
 "Router": obj({"id": UUID, "tenant_id": UUID, "name": STR, "status": enum("ACTIVE"),
                "external_gateway_info": nullable(obj({"network_id": UUID, "enable_snat": BOOL,
                                                       "external_fixed_ips": {"type": "array", "items": FIXED}}, "all")),
                "interfaces": {"type": "array", "items": obj({"port_id": UUID, "subnet_id": UUID, "ip_address": IP}, "all")},
                "created_at": TS, "updated_at": TS}, "all"),
 "RouterInterface": obj({"id": {**UUID, "description": "the router's id"}, "tenant_id": UUID, "subnet_id": UUID, "port_id": UUID}, "all"),
 "FloatingIp": obj({"id": UUID, "tenant_id": UUID, "floating_network_id": UUID, "floating_ip_address": IP,
                    "port_id": nullable(UUID), "fixed_ip_address": nullable(IP),
                    "router_id": nullable({**UUID, "description": "the tenant's router joining the port's subnet to the floating IP's network"}),
                    "status": {"type": "string", "enum": ["ACTIVE", "DOWN"]}, "description": STR, "created_at": TS, "updated_at": TS}, "all"),
})
GWINFO = nullable(obj({"network_id": UUID, "enable_snat": {"type": "boolean", "default": True}}, ["network_id"]))
add("GET", "/v1/routers", op("The tenant's routers", "tenant-read", [ok(200, "routers", lst("routers", "Router"))]))
add("POST", "/v1/routers", op("Create a router, with its gateway on an external network if given", "tenant-write",
    [ok(201, "created", S("Router")), NF], body=obj({"name": STR, "external_gateway_info": GWINFO})))
add("GET", "/v1/routers/{id}", op("A router with its gateway and interfaces", "tenant-read", [ok(200, "the router", S("Router")), NF], params=[P("id")]))
add("PATCH", "/v1/routers/{id}", op("Rename a router, or set or clear (null) its external gateway", "tenant-write",
    [ok(200, "updated", S("Router")), NF, E(409, "floating IPs rely on the gateway")],
    body=obj({"name": STR, "external_gateway_info": GWINFO}), params=[P("id")]))
add("DELETE", "/v1/routers/{id}", op("Delete a router with no interfaces (its gateway goes with it)", "tenant-write",
    [ok(204, "deleted"), NF, E(409, "the router has interfaces")], params=[P("id")]))
add("POST", "/v1/routers/{id}/interfaces", op("Join one of the tenant's subnets to the router: a port holding the subnet's gateway address", "tenant-write",
    [ok(200, "the interface", S("RouterInterface")), NF, E(409, "the subnet's gateway address is taken")],
    body=obj({"subnet_id": UUID}, ["subnet_id"]), params=[P("id")]))
add("DELETE", "/v1/routers/{id}/interfaces/{subnet_id}", op("Remove the router's interface on a subnet", "tenant-write",
    [ok(204, "removed"), NF, E(409, "floating IPs reach ports on the subnet through this router")],
    params=[P("id"), P("subnet_id", "subnet id")]))
add("GET", "/v1/floating-ips", op("The tenant's floating IPs", "tenant-read", [ok(200, "floating IPs", lst("floating_ips", "FloatingIp"))]))
add("POST", "/v1/floating-ips", op("Take an address from an external network, optionally mapped to a port's fixed IP", "tenant-write",
    [ok(201, "created", S("FloatingIp")), NF, E(409, "the fixed IP has a floating IP, no address is left, or quota_exceeded")],
    body=obj({"floating_network_id": UUID, "port_id": nullable(UUID), "fixed_ip_address": IP, "description": STR}, ["floating_network_id"])))
add("GET", "/v1/floating-ips/{id}", op("A floating IP", "tenant-read", [ok(200, "the floating IP", S("FloatingIp")), NF], params=[P("id")]))
add("PATCH", "/v1/floating-ips/{id}", op("Map a floating IP to a port's fixed IP (a router of the tenant must join the port's subnet to the external network), or unmap it (port_id null)", "tenant-write",
    [ok(200, "updated", S("FloatingIp")), NF, E(409, "the fixed IP has a floating IP")],
    body=obj({"port_id": nullable(UUID), "fixed_ip_address": IP, "description": STR}), params=[P("id")]))
add("DELETE", "/v1/floating-ips/{id}", op("Release a floating IP (its address returns to the pool)", "tenant-write", [ok(204, "released"), NF], params=[P("id")]))


# The network family's writes are single calls to PL/pgSQL functions
# (migrations/0012 onwards) that call one another: address allocation,
# quotas, the DHCP reservation and the objects a body names can refuse with
# SX404 or SX409/SXQ09 from any of them, so each write documents both.
NET_PREFIXES = ("/v1/networks", "/v1/subnets", "/v1/ports", "/v1/security-group", "/v1/routers",
                "/v1/floating-ips", "/v1/instances/{id}/interfaces")
for path, item in paths.items():
    if path.startswith(NET_PREFIXES):
        for method, o in item.items():
            if method in ("post", "patch", "delete"):
                o["responses"].setdefault("404", R("NotFound"))
                o["responses"].setdefault("409", R("Conflict"))
                o["responses"] = dict(sorted(o["responses"].items()))

# ---- operationId: one per operation, stable (clients and the SDK's
# coverage test name operations by it); camelCase, verb first.
OPERATION_IDS = {
 "GET /healthz": "getHealth", "GET /metrics": "getMetrics", "GET /v1/openapi.json": "getOpenApiDocument",
 "GET /": "redirectToDashboard", "GET /dashboard/": "getDashboardPage", "GET /dashboard/app.js": "getDashboardScript", "GET /dashboard/core.js": "getDashboardCoreScript",
 "GET /dashboard/admin.js": "getDashboardAdminScript", "GET /dashboard/charts.js": "getDashboardChartsScript", "GET /dashboard/billing.js": "getDashboardBillingScript",
 "GET /dashboard/style.css": "getDashboardStyleSheet", "GET /dashboard/favicon.svg": "getDashboardIcon",
 "POST /v1/auth/tokens": "signIn", "DELETE /v1/auth/tokens/current": "signOut", "GET /v1/auth/whoami": "whoami",
 "POST /v1/api-keys": "createApiKey", "GET /v1/api-keys": "listApiKeys", "DELETE /v1/api-keys/{id}": "deleteApiKey",
 "POST /v1/tenants": "createTenant", "GET /v1/tenants": "listTenants", "GET /v1/tenants/{id}": "getTenant",
 "DELETE /v1/tenants/{id}": "deleteTenant", "GET /v1/tenants/{id}/members": "listTenantMembers",
 "PUT /v1/tenants/{id}/members/{user_id}": "setTenantMember", "DELETE /v1/tenants/{id}/members/{user_id}": "removeTenantMember",
 "GET /v1/tenants/{id}/quotas": "getTenantQuota", "PUT /v1/tenants/{id}/quotas": "setTenantQuota",
 "POST /v1/users": "createUser", "GET /v1/users": "listUsers", "GET /v1/users/{id}": "getUser",
 "PUT /v1/users/{id}/password": "changeUserPassword",
 "GET /v1/flavors": "listFlavors", "POST /v1/flavors": "createFlavor", "GET /v1/flavors/{id}": "getFlavor",
 "PATCH /v1/flavors/{id}": "updateFlavor", "DELETE /v1/flavors/{id}": "deleteFlavor",
 "GET /v1/images": "listImages", "POST /v1/images": "createImage", "POST /v1/images/{id}/upload-url": "createImageUploadUrl",
 "POST /v1/images/{id}/download-url": "createImageDownloadUrl", "GET /v1/images/{id}": "getImage",
 "PATCH /v1/images/{id}": "updateImage", "DELETE /v1/images/{id}": "deleteImage",
 "GET /v1/keypairs": "listKeypairs", "POST /v1/keypairs": "createKeypair", "GET /v1/keypairs/{id}": "getKeypair",
 "DELETE /v1/keypairs/{id}": "deleteKeypair", "GET /v1/quotas": "getQuota",
 "POST /v1/instances": "createInstance", "GET /v1/instances": "listInstances", "GET /v1/instances/{id}": "getInstance",
 "DELETE /v1/instances/{id}": "deleteInstance", "POST /v1/instances/{id}/actions": "instanceAction",
 "GET /v1/instances/{id}/console": "getInstanceConsole",
 "GET /v1/instances/{id}/interfaces": "listInstanceInterfaces", "POST /v1/instances/{id}/interfaces": "attachInstanceInterface",
 "DELETE /v1/instances/{id}/interfaces/{port_id}": "detachInstanceInterface",
 "POST /v1/server-groups": "createServerGroup", "GET /v1/server-groups": "listServerGroups",
 "GET /v1/server-groups/{id}": "getServerGroup", "DELETE /v1/server-groups/{id}": "deleteServerGroup",
 "GET /v1/scheduler": "getScheduler", "PUT /v1/scheduler": "setSchedulerPolicy",
 "GET /v1/scheduler/consolidation": "getConsolidationPlan", "POST /v1/scheduler/consolidation": "runConsolidationPlan", "GET /v1/scheduler/rebalance": "getRebalancePlan", "POST /v1/scheduler/rebalance": "runRebalancePlan",
 "GET /v1/billing/usage": "getUsage", "GET /v1/billing/invoices": "listInvoices", "GET /v1/billing/invoices/{id}": "getInvoice",
 "GET /v1/billing/invoices/{id}/download": "downloadInvoice", "GET /v1/billing/plan": "getCurrentPlan",
 "GET /v1/billing/account": "getBillingAccount", "PUT /v1/billing/account": "setBillingAccount",
 "GET /v1/billing/tenants/{tenant_id}/account": "getTenantBillingAccount", "PUT /v1/billing/tenants/{tenant_id}/account": "setTenantBillingAccount",
 "GET /v1/billing/credit-notes": "listCreditNotes", "GET /v1/billing/credit-notes/{id}": "getCreditNote",
 "POST /v1/billing/invoices/{id}/credit-notes": "createCreditNote",
 "GET /v1/billing/plans": "listPlans", "POST /v1/billing/plans": "createPlan", "GET /v1/billing/plans/{id}": "getPlan",
 "PATCH /v1/billing/plans/{id}": "updatePlan", "DELETE /v1/billing/plans/{id}": "deletePlan",
 "POST /v1/billing/plans/{id}/versions": "createPlanVersion",
 "GET /v1/billing/tenants/{tenant_id}/plans": "listTenantPlanAssignments", "POST /v1/billing/tenants/{tenant_id}/plans": "assignTenantPlan",
 "GET /v1/billing/periods": "listBillingPeriods", "POST /v1/billing/periods/{period}/issue": "issueBillingPeriod",
 "GET /v1/billing/periods/{period}/preview": "previewBillingPeriod",
 "POST /v1/nodes": "createNode", "GET /v1/nodes": "listNodes", "GET /v1/nodes/{id}": "getNode", "PATCH /v1/nodes/{id}": "updateNode",
 "DELETE /v1/nodes/{id}": "deleteNode", "POST /v1/nodes/{id}/credential": "rotateNodeCredential",
 "POST /v1/nodes/{id}/actions": "nodeAction", "PUT /internal/v1/node/evacuations/{id}": "nodeConfirmEvacuation",
 "GET /v1/migrations": "listMigrations", "PUT /internal/v1/node/migrations/{id}": "nodeReportMigration",
 "PUT /internal/v1/node": "nodeHeartbeat", "GET /internal/v1/node/instances": "nodeListDesiredInstances",
 "PUT /internal/v1/node/instances/{id}": "nodeReportInstance", "PUT /internal/v1/node/instances/{id}/console": "nodePushConsole",
 "GET /v1/networks": "listNetworks", "POST /v1/networks": "createNetwork", "GET /v1/networks/{id}": "getNetwork",
 "PATCH /v1/networks/{id}": "updateNetwork", "DELETE /v1/networks/{id}": "deleteNetwork",
 "GET /v1/subnets": "listSubnets", "POST /v1/subnets": "createSubnet", "GET /v1/subnets/{id}": "getSubnet",
 "PATCH /v1/subnets/{id}": "updateSubnet", "DELETE /v1/subnets/{id}": "deleteSubnet",
 "GET /v1/ports": "listPorts", "POST /v1/ports": "createPort", "GET /v1/ports/{id}": "getPort",
 "PATCH /v1/ports/{id}": "updatePort", "DELETE /v1/ports/{id}": "deletePort",
 "GET /v1/security-groups": "listSecurityGroups", "POST /v1/security-groups": "createSecurityGroup",
 "GET /v1/security-groups/{id}": "getSecurityGroup", "PATCH /v1/security-groups/{id}": "updateSecurityGroup",
 "DELETE /v1/security-groups/{id}": "deleteSecurityGroup",
 "GET /v1/security-group-rules": "listSecurityGroupRules", "POST /v1/security-group-rules": "createSecurityGroupRule",
 "GET /v1/security-group-rules/{id}": "getSecurityGroupRule", "DELETE /v1/security-group-rules/{id}": "deleteSecurityGroupRule",
 "GET /v1/routers": "listRouters", "POST /v1/routers": "createRouter", "GET /v1/routers/{id}": "getRouter",
 "PATCH /v1/routers/{id}": "updateRouter", "DELETE /v1/routers/{id}": "deleteRouter",
 "POST /v1/routers/{id}/interfaces": "addRouterInterface", "DELETE /v1/routers/{id}/interfaces/{subnet_id}": "removeRouterInterface",
 "GET /v1/floating-ips": "listFloatingIps", "POST /v1/floating-ips": "createFloatingIp", "GET /v1/floating-ips/{id}": "getFloatingIp",
 "PATCH /v1/floating-ips/{id}": "updateFloatingIp", "DELETE /v1/floating-ips/{id}": "deleteFloatingIp",
}
assert len(set(OPERATION_IDS.values())) == len(OPERATION_IDS), "operationIds must be unique"
seen = set()
for path, item in paths.items():
    for method, o in item.items():
        key = method.upper() + " " + path
        assert key in OPERATION_IDS, "no operationId for " + key
        seen.add(key)
        # operationId first, for people reading the document
        item[method] = {"operationId": OPERATION_IDS[key], **o}
assert seen == set(OPERATION_IDS), "operationIds for operations that do not exist: %s" % (set(OPERATION_IDS) - seen)

doc = {"openapi": "3.0.3",
 "info": {"title": "Stratus API", "version": "0.1.0",
  "description": "The tenant-facing API of the Stratus cloud. Every call but sign-in, /healthz, the web dashboard's files and this document needs `Authorization: Bearer <token>` (a session token from POST /v1/auth/tokens, or an API key). Objects of other tenants are never visible: they answer 404. Errors are `{\"error\": {\"code\", \"message\"}}`. Times are RFC 3339 UTC; ids are UUIDs. `x-stratus-access` names who may call an operation: user (any token), tenant-read (a token scoped to a tenant), tenant-write (role member or admin), tenant-admin, cloud-admin, node (a compute node's credential).\n\nEvery operation lists every status it answers; those all routes share are the responses in components (400, 401, 403, 404, 413, 415, 500, 503). A method a path does not list answers 405 with an Allow header (components/responses/MethodNotAllowed). Every response but 204, 302 and 304 has a body of the content type listed."},
 "servers": [{"url": "/"}],
 "security": [{"bearer": []}],
 "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                    "metricsToken": {"type": "http", "scheme": "bearer", "description": "the operator's metrics.token, for GET /metrics only"}},
                "schemas": dict(sorted(schemas.items())), "responses": responses},
 "paths": paths,
 # where a validator finds what any unlisted method of a path answers
 "x-stratus-unlisted-method": R("MethodNotAllowed")}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "openapi.json"), "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
print(len(paths), "paths,", sum(len(v) for v in paths.values()), "operations")
