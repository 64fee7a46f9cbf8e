/*
 * st_cloud.h - a whole cloud for tests and benchmarks, every part real and
 * each started once: PostgreSQL (a fresh database, three schemas),
 * stratus-images, stratus-billing and stratus-gateway (gwt.h's control
 * plane, each started through st_svc.h), a tenant, a flavor, the test guest
 * uploaded as an image, and any number of stratus-node agents, each with
 * its own state directory and config, running real stratus-vmm processes
 * (or libvirt's test hypervisor).
 *
 * The node agent's tests, the end-to-end tests (tests/e2e), the SDK's
 * examples and the node and network benchmarks use it. For the network
 * tests it also builds hosts of their own: the test moves into a network
 * namespace of its own (cloud_netns_enter), cloud_hosts() makes an
 * underlay bridge there and host namespaces joined to it by veth, and
 * cloud_host_agent_start() runs an agent in one with its data plane on.
 */
#ifndef ST_CLOUD_H
#define ST_CLOUD_H

#include "gwt.h"
#include "st_httpc.h"
#include "st_proc.h"

enum { CLOUD_MAX_HOSTS = 4 };

typedef struct cloud {
    gwt gw;
    char *dir; /* agents' state and logs */
    gwt_tenant tn;
    char flavor[40];   /* flavor name */
    char image_id[40]; /* the test guest, active in the gateway and the image service */
    char hostns[CLOUD_MAX_HOSTS][32]; /* cloud_hosts(): the hosts' namespaces */
    int n_hosts;
    int networks; /* 0 (cloud_start's default): cloud_create and cloud_create_body ask for
                   * "networks": "none" when the body names neither networks nor ports, as an
                   * agent with tenant networks off cannot plug a port; 1 leaves them to the
                   * gateway (a port on the tenant's network) */
} cloud;

typedef struct cloud_agent {
    st_proc p;
    char name[64];
    char state_dir[512];
    char conf[600];
    char credential[160]; /* its one node credential, from the gateway */
    char netns[64];       /* runs in this named network namespace; "": the test's */
    int running;
} cloud_agent;

/* Starts the control plane (scheduler policy spread, nodes down after 30 s)
 * and has the tenant upload the guest through the gateway. */
void cloud_start(cloud *c, const char *tag);
/* Kills what the agents left running, removes the hosts' namespaces, stops
 * the control plane; a sanitizer report in any log under dir exits 1. */
void cloud_stop(cloud *c);
/* The gateway down/up (same database and address). */
void cloud_gateway_stop(cloud *c);
void cloud_gateway_start(cloud *c);
/* Billing down/up (same database and address). */
void cloud_billing_stop(cloud *c);
void cloud_billing_start(cloud *c);

/* Registers a node NAME in the gateway and starts its agent. extra:
 * NULL-terminated "key = value" lines for its config file, or NULL. */
void cloud_agent_start(cloud *c, cloud_agent *a, const char *name, const char *const *extra);
/* The same, the agent running in network namespace netns (ip netns exec):
 * a host of its own. extra must then give it the cloud's URLs as that
 * namespace reaches them. */
void cloud_agent_start_in(cloud *c, cloud_agent *a, const char *name, const char *netns,
                          const char *const *extra);
/* Starts the same agent again (same config and state directory). */
void cloud_agent_restart(cloud *c, cloud_agent *a);
/* GET path from the agent's own HTTP listener (/healthz, /metrics). */
long cloud_agent_get(cloud_agent *a, const char *path, st_resp *r);
/* Sends sig and waits for the agent to end. */
void cloud_agent_stop(cloud_agent *a, int sig);
/* Only agents[k] of agents[0..n) takes new instances (the others are
 * disabled in the gateway). 0, or -1 when the gateway refused. */
int cloud_only_host(cloud *c, const cloud_agent *agents, int n, int k);

/* Creates an instance as the tenant's member; its kernel command line gets
 * cmdline (the guest's scenario). Returns its id (static buffer per call
 * site is not kept: copy it) in id. Status returned. */
long cloud_create(cloud *c, const char *name, const char *cmdline, char id[40]);
/* The tenant's member creates an image (POST /v1/images with body) and
 * uploads file's bytes (padded to whole sectors); its id in id. The
 * upload's status (200), or the create's when it failed, -1 unreadable. */
long cloud_upload_image(cloud *c, const char *body, const char *file, char id[40]);
/* A ramdisk image and a disk image booting the test guest (c->image_id, a
 * kernel image) with it, both of file's bytes: their ids; 200 or as
 * cloud_upload_image. */
long cloud_kernel_disk(cloud *c, const char *file, char ramdisk[40], char disk[40]);
/* Creates an instance with no network on node NAME only (the other nodes
 * disabled meanwhile); its id in id. Status returned. */
long cloud_create_on(cloud *c, const char *node, const char *name, char id[40]);
/* Creates an instance from a whole request body; its id in id. */
long cloud_create_body(cloud *c, const char *body, char id[40]);
/* The tenant's keypair NAME with public_key; returns the status. */
long cloud_keypair(cloud *c, const char *name, const char *public_key);
/* POST /v1/instances/{id}/actions; returns the status. */
long cloud_action(cloud *c, const char *id, const char *action);
/* The same with a whole body, e.g. {"action": "stop", "force": true}. */
long cloud_action_json(cloud *c, const char *id, const char *body);
long cloud_delete(cloud *c, const char *id);
/* The instance's field as the tenant sees it (malloc'd; NULL when 404). */
char *cloud_field(cloud *c, const char *id, const char *field);
/* Waits until the field equals want; 0, or -1 after timeout_ms (prints it). */
int cloud_wait_field(cloud *c, const char *id, const char *field, const char *want, int timeout_ms);
/* Waits until the instance is gone (404) or deleted. */
int cloud_wait_deleted(cloud *c, const char *id, int timeout_ms);
/* The tenant's console output of the instance (malloc'd, NULL on error). */
char *cloud_console(cloud *c, const char *id);
/* Waits until the console contains needle; 0 or -1. */
int cloud_wait_console(cloud *c, const char *id, const char *needle, int timeout_ms);

/* stratus-vmm processes whose --api-sock lies under dir (count, pids). */
int cloud_vmm_pids(const char *dir, int *pids, int max);
/* Runs SQL on the shared database, first column of the first row (malloc'd). */
char *cloud_sql(cloud *c, const char *sql);
/* The name of the node an instance is placed on (malloc'd; NULL when none). */
char *cloud_node_of(cloud *c, const char *id);
/* Counts occurrences of needle in a file. */
int cloud_file_count(const char *path, const char *needle);

/* Moves this test process (and everything it starts from then on) into a
 * fresh network namespace named tag<pid>, loopback up; -1 unless root with
 * dnsmasq and nft (the agent's data plane then runs there, not on the host). */
int cloud_netns_enter(const char *tag);
/* Removes it (and any dnsmasq left in it). */
void cloud_netns_remove(void);
/* Kills the dnsmasq servers in named namespace name, then deletes it. */
void cloud_netns_del(const char *name);

/* Hosts of their own, in the test's namespace (cloud_netns_enter first):
 * the underlay, a bridge "ul" at 10.99.0.1/24 whose 10.99.0.1 leads to the
 * services' loopback listeners (route_localnet and a DNAT), and n hosts,
 * namespaces <tag><i>-<pid> (i from 1) in c->hostns, each joined to it by a
 * veth (ul0 there, 10.99.0.(10+i)). 0 or -1. */
int cloud_hosts(cloud *c, const char *tag, int n);
/* Starts agent a as NAME in host h (0-based): libvirt's test hypervisor,
 * its data plane on with veth ports, the metadata service on port 8775, a
 * converge every second, and the cloud's URLs as the host reaches them over
 * the underlay; extra: more config lines (NULL-terminated) after those. */
void cloud_host_agent_start(cloud *c, cloud_agent *a, const char *name, int h,
                            const char *const *extra);

/* Guests played by namespaces (agents with network.port_kind = veth): the
 * namespace is /run/netns/<instance id>, its NIC eth0. */
int cloud_guest_add(const char *id);
void cloud_guest_del(const char *id);
/* busybox udhcpc on eth0: "ip=A mask=N mtu=M router=R routes=..." as the
 * lease said (the address and routes are set), or "" (malloc'd). */
char *cloud_guest_dhcp(cloud *c, const char *id);
/* curl http://169.254.169.254<path> from the guest: the body, or "" on any
 * failure or an HTTP error (malloc'd). */
char *cloud_guest_md(const char *id, const char *path);

#endif
