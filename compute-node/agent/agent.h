/*
 * agent.h - stratus-node, the node agent: shared types.
 *
 * One libuv loop thread owns every nd_inst and decides; blocking work (HTTP
 * calls through libcurl easy handles, disk creation, image downloads, talking
 * to a VMM's control socket, waiting for a VMM to exit) runs as jobs on uv's
 * thread pool. An instance has at most one job at a time (inst->busy): a job
 * gets a copy of the instance's persistent record, writes it to disk BEFORE
 * it acts, acts, writes the outcome, and hands the record back to the loop.
 * So the loop never blocks, and every step can be redone after a kill -9.
 */
#ifndef ND_AGENT_H
#define ND_AGENT_H

#include <jansson.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "driver.h"
#include "stratus/config.h"

#define ND_ID_LEN 40

typedef struct nd_conf {
    const char *node_name;
    const char *credential; /* the node's one credential, for every service */
    const char *gw_url, *img_url, *img_data_url, *bill_url;
    const char *state_dir;
    const char *driver; /* "vmm" | "libvirt" */
    const char *vmm_path, *vmm_log_level;
    const char *jail_enabled; /* auto | true | false (jail.c) */
    long long jail_uid_base, jail_uid_count;
    const char *cg_enabled; /* auto | true | false (cgroup.c) */
    const char *cg_parent, *cg_cpu_max;
    long long cg_overhead_mib;
    const char *libvirt_uri;
    const char *cmdline;
    const char *firmware; /* the BIOS image for firmware boots (vm.firmware) */
    /* Ceph, for instances whose disk_backend is rbd (image.c): the pool the image store keeps
     * its images in (store.rbd_pool; clones live beside their parent), ceph.conf, client id */
    const char *rbd_pool, *rbd_conf, *rbd_client;
    const char
        *shared_disk_dir;    /* vm.shared_disk_dir: disks on storage all hosts share ("" none) */
    const char *mig_address; /* migration.address ("" : the tunnel address) */
    long mig_port_lo, mig_port_hi; /* migration.ports */
    long long vcpus, memory_mib, disk_gib;
    long long hb_ms, reconcile_ms, meter_ms, console_ms, spool_retry_ms, image_gc_ms;
    long long longpoll_s;    /* the desired set's long-poll wait (0: poll only) */
    long long resync_ms;     /* fetch period while the long-poll holds */
    long long image_keep_s;  /* unused cached images are removed after this */
    long long spool_max_mib; /* 0: unbounded */
    long long console_kib;
    long long stop_timeout_ms;
    long long fence_timeout_ms; /* fence.c: no heartbeat taken this long: stop every guest */
    long long threads;
    int drop_caps;
    int state_fsync;
    /* tenant networks (netstep.c) */
    const char *net_enabled; /* auto | true | false */
    char underlay_dev[16];   /* IFNAMSIZ; detected when not set */
    char tunnel_ip[16];      /* IPv4; detected when not set */
    char external_if[16];    /* the uplink of external networks; "" none (netrouter.c) */
    char sriov_sysfs[256];   /* where SR-IOV VFs are counted ("/sys"); "" reports none */
    char netns_dir[256];     /* router namespaces; "" /run/netns */
    char net_state_dir[4200];
    const char *dnsmasq; /* "" : dnsmasq from PATH */
    long long net_ms;
    long long md_port;           /* the metadata service's port; 0: none */
    const char *port_kind;       /* tap | veth (a namespace plays each guest) */
    const char *guest_netns_dir; /* veth: <dir>/<instance id> is the guest's namespace */
    int net_on;                  /* the data plane is driven (set by nd_net_start) */
    const char *command;         /* NULL: run the agent; "teardown-network" */
} nd_conf;

/* What an order asks for: the desired set's "desired", the record's "target". */
typedef enum nd_want {
    ND_WANT_NONE = 0, /* a record no order has reached yet */
    ND_WANT_RUNNING,
    ND_WANT_STOPPED,
    ND_WANT_DELETED,
} nd_want;

/* What is true on this host for an instance (the record's "actual"). */
typedef enum nd_actual {
    ND_ACTUAL_NONE = 0, /* no VM has run for the current order */
    ND_ACTUAL_RUNNING,
    ND_ACTUAL_STOPPED,
    ND_ACTUAL_ERROR,
} nd_actual;

/* A record's order is being carried out (a restart redoes it) or done. */
typedef enum nd_phase {
    ND_PHASE_DONE = 0,
    ND_PHASE_APPLYING,
} nd_phase;

/* store.c: the words state.json and the desired set use, and back; parse
 * returns -1 for a word it does not know. */
const char *nd_want_name(nd_want w);
int nd_want_parse(const char *s, nd_want *w);
const char *nd_actual_name(nd_actual a);
int nd_actual_parse(const char *s, nd_actual *a);
const char *nd_phase_name(nd_phase p);
int nd_phase_parse(const char *s, nd_phase *p);

#define ND_MAX_FIXED_IPS 4 /* per port */

typedef struct nd_fixed_ip {
    char subnet_id[ND_ID_LEN];
    char ip_address[46]; /* IPv4 or IPv6 text, as inet_pton reads it */
} nd_fixed_ip;

/* One network port of an instance, as the gateway describes it. model and
 * vnic_type are kept as words: one this host cannot serve fails that
 * instance's launch, not the whole desired set. */
typedef struct nd_port {
    char id[ND_ID_LEN];
    char network_id[ND_ID_LEN];
    char mac[18];       /* lower case aa:bb:cc:dd:ee:ff, unicast */
    char model[16];     /* virtio */
    char vnic_type[16]; /* virtio */
    int mtu;            /* 68..65535 */
    int nfixed_ips;
    nd_fixed_ip fixed_ips[ND_MAX_FIXED_IPS];
} nd_port;

/*
 * What the gateway orders for one instance: the desired-set entry carries
 * it (nd_desired), and the record keeps the one it is applying or last
 * applied (nd_record). reboot_seq in the record is the last reboot done.
 */
typedef struct nd_order {
    char id[ND_ID_LEN];
    char tenant_id[ND_ID_LEN];
    char image_id[ND_ID_LEN];
    char flavor[65]; /* flavor name when the gateway sends one, else "" */
    long long generation;
    long long reboot_seq;
    int stop_force;  /* the stop skips the power button's grace (stop with force) */
    int reboot_hard; /* the reboot resets at once, without the power button */
    /* the image to flatten the disk into and upload (snapshot.c), "" none */
    char snapshot_image[ND_ID_LEN];
    int vcpus, memory_mib, disk_gib;
    int rbd;    /* the disk is a Ceph RBD clone (disk_backend rbd), not a local overlay */
    int nports; /* ports in guest NIC order */
    nd_port ports[ND_MAX_PORTS];
} nd_order;

/* A live migration the source is to carry out (the desired entry's
 * `migration`, once the target listens; api-gateway/migrate.c). */
typedef struct nd_mig_order {
    char id[ND_ID_LEN]; /* the migration; "" none */
    char uri[72];       /* tcp:ADDR:PORT of the target's incoming VMM */
    long long downtime_ms, timeout_ms;
    char on_timeout[8]; /* cancel | force */
    int cancel;         /* cancel it (an admin asked) */
    int block;          /* block_migration: the local disk is copied along, removed here once
                         * completed */
} nd_mig_order;

/* What the gateway wants for one instance (desired.c parses it). */
typedef struct nd_desired {
    nd_order o;
    nd_mig_order mig; /* on the source of a live migration */
    char state[16];   /* the gateway's view: building, active, stopped, deleting */
    nd_want desired;  /* running | stopped | deleted */
    char *user_data;  /* base64 as the tenant gave it, or NULL */
    /* for the metadata service (netstep.c) */
    char name[256];             /* the instance's name (its hostname) */
    char *ssh_key;              /* its keypair's OpenSSH public key, or NULL */
    struct in_addr public_ipv4; /* its floating IP; 0.0.0.0: none */
} nd_desired;

/*
 * The tenant networks of this host, as the desired set's top-level
 * `networks` and `security_groups` describe them (netdesired.c parses
 * them). Addresses are kept in binary; an IPv6 subnet, member or rule is
 * kept but marked (v4 = 0): the data plane serves IPv4 only.
 */
#define ND_MAX_DNS 3
#define ND_MAX_ROUTES 8
#define ND_MAX_POOLS 8

typedef struct nd_route4 {
    struct in_addr dst, via;
    int prefix;
} nd_route4;

typedef struct nd_subnet {
    char id[ND_ID_LEN];
    int v4;
    struct in_addr net; /* network address (host bits cleared) */
    int prefix;
    struct in_addr gateway; /* 0.0.0.0: none */
    int dhcp;
    struct in_addr dhcp_ip; /* the DHCP server's address, reserved by the gateway; 0: none */
    struct in_addr dns[ND_MAX_DNS];
    int ndns;
    nd_route4 routes[ND_MAX_ROUTES];
    int nroutes;
    struct in_addr pool_lo[ND_MAX_POOLS], pool_hi[ND_MAX_POOLS];
    int npools;
} nd_subnet;

/* A port of this network on another host (l2population). */
typedef struct nd_remote_port {
    char id[ND_ID_LEN];
    char host_id[ND_ID_LEN];
    char mac[18];
    struct in_addr tunnel; /* 0.0.0.0: that host has not told its tunnel IP */
    int nfixed_ips;
    nd_fixed_ip fixed_ips[ND_MAX_FIXED_IPS];
} nd_remote_port;

typedef struct nd_network {
    char id[ND_ID_LEN];
    uint32_t vni; /* 1 .. 16777215 */
    int mtu;      /* 68..65535 */
    int external; /* flat on the host's uplink (netrouter.c), not VXLAN */
    nd_subnet *subnets;
    size_t nsubnets;
    nd_remote_port *remotes;
    size_t nremotes;
} nd_network;

typedef struct nd_sg_rule {
    char id[ND_ID_LEN];
    int egress;                /* 0 ingress, 1 egress */
    int v4;                    /* ethertype IPv4 */
    int protocol;              /* 0 any, else 1..255 */
    int port_min, port_max;    /* -1: none */
    struct in_addr remote_net; /* with remote_prefix >= 0 */
    int remote_prefix;         /* -1: no remote_ip_prefix (or an IPv6 one, see v4) */
    char remote_group[ND_ID_LEN];
} nd_sg_rule;

typedef struct nd_secgroup {
    char id[ND_ID_LEN];
    char (*port_ids)[ND_ID_LEN];
    size_t nports;
    struct in_addr *members; /* IPv4 members only */
    size_t nmembers;
    nd_sg_rule *rules;
    size_t nrules;
} nd_secgroup;

/* A router placed on this host (netrouter.c): an interface or its gateway
 * is a port on a network with an address; v4 = 0 for an IPv6 one (kept,
 * not served). */
#define ND_MAX_ROUTER_IFS 64
typedef struct nd_router_port {
    char port_id[ND_ID_LEN], network_id[ND_ID_LEN], subnet_id[ND_ID_LEN];
    char mac[18];
    struct in_addr ip;
    int v4;
} nd_router_port;

typedef struct nd_fip {
    char id[ND_ID_LEN];
    struct in_addr floating, fixed;
} nd_fip;

typedef struct nd_router {
    char id[ND_ID_LEN];
    int snat;
    nd_router_port ifs[ND_MAX_ROUTER_IFS];
    size_t nifs;
    int has_gw;
    nd_router_port gw;
    nd_fip *fips;
    size_t nfips;
} nd_router;

typedef struct nd_netset {
    nd_network *nets;
    size_t n;
    nd_secgroup *sgs;
    size_t nsgs;
    nd_router *routers;
    size_t nrouters;
} nd_netset;

/* An instance migrating to this node (the set's `incoming`). */
typedef struct nd_incoming {
    char mid[ND_ID_LEN]; /* the migration */
    nd_desired d;
} nd_incoming;

typedef struct nd_desired_set {
    nd_desired *v;
    size_t n;
    nd_incoming *incoming;
    size_t nincoming;
    nd_netset net;
    /* instances evacuated from this node whose leftovers it has not yet
     * confirmed removing (the gateway's `evacuated`) */
    char (*evacuated)[ND_ID_LEN];
    size_t nevacuated;
} nd_desired_set;

/* netdesired.c: the top-level `networks` and `security_groups` of root
 * (absent or null: none) into out; -1 with err, out left empty. */
int nd_netset_parse(json_t *root, nd_netset *out, char *err, size_t errlen);
void nd_netset_free(nd_netset *s);
/* The network with this id, or NULL. */
const nd_network *nd_netset_find(const nd_netset *s, const char *id);
/* netrouter.c: the top-level `routers` of root into s (which owns them);
 * -1 with err. */
int nd_routers_parse(json_t *root, nd_netset *s, char *err, size_t errlen);
void nd_routers_free(nd_netset *s);
/* Whether external network n gets this host's uplink (netstep.c builds it
 * flat then); its routers, as stn_routers, into s->routers. */
int nd_net_uplink_for(const nd_conf *c, const nd_netset *ns, const nd_network *n);
struct stn_state;
int nd_net_routers_build(const nd_netset *ns, struct stn_state *s);
void nd_net_routers_free(struct stn_state *s);

/* desired.c: parses GET /internal/v1/node/instances; 0 or -1 with err. */
int nd_desired_parse(const char *buf, size_t len, nd_desired_set *out, char *err, size_t errlen);
void nd_desired_free(nd_desired_set *s);

/*
 * The per-instance record kept in <state_dir>/instances/<id>/state.json.
 * `generation` is the order being (phase "applying") or last ("done")
 * carried out; `target` what it asked for.
 */
typedef struct nd_record {
    nd_order o;
    nd_want target; /* what the last job began to carry out */
    nd_phase phase;
    nd_vm_handle vm; /* pid, start time, boot id (vmm); domain (libvirt) */
    nd_actual actual;
    char fault[256];
    char snapshot_fault[256]; /* why the last snapshot (o.snapshot_image) failed; "" it did not */
    int launched_once; /* 1 once a VM ran from this disk (a failed start is then not retryable) */
} nd_record;

/* spec.c: a port's tap name, "tap" + the first 11 characters of its id */
void nd_port_tap(const char *port_id, char out[16]);
/* The order's ports into spec (in order); -1 with err naming the port when
 * its model or vnic_type is not served here or its tap does not exist. */
int nd_spec_ports(const nd_order *o, nd_vm_spec *s, char *err, size_t errlen);

/* store.c */
int nd_record_save(const char *state_dir, const nd_record *r, int do_fsync);
int nd_record_load(const char *path, nd_record *r);
/* <state_dir>/instances/<id> (static per-thread buffer) */
const char *nd_inst_dir(const char *state_dir, const char *id);
int nd_write_file_atomic(const char *path, const void *buf, size_t len, int do_fsync);
int nd_rmtree(const char *path);
int nd_mkdirs(const char *path, mode_t mode);

/* The loop's view of one instance. */
typedef struct nd_inst {
    nd_record rec;
    int busy;              /* a job owns rec */
    long long busy_gen;    /* the order's generation when that job was dispatched */
    int hurry;             /* a newer order cuts the job's stop grace short (atomic) */
    int present;           /* in the last desired set */
    int absent_count;      /* consecutive fetches it was missing from */
    nd_desired want;       /* last desired entry (user_data not kept) */
    char gw_state[16];     /* the gateway's state in the last desired set */
    long long refused_gen; /* a report for this generation was answered 409 */
    long long snap_ok_gen; /* the snapshot of this generation was reported and accepted */
    int fence_stopped;     /* the fence stopped its VM: started again once lifted, if wanted */
    /* live migration (reconcile.c; api-gateway/migrate.c has the protocol) */
    char incoming[ND_ID_LEN]; /* target: the migration bringing it here ("" none) */
    int incoming_listed;      /* target: in the last set's `incoming` */
    int incoming_reported;    /* target: its listening report was taken */
    char mig_done[ND_ID_LEN]; /* source: the migration carried out (not started again) */
    int mig_report_pending;   /* source: it ended, the gateway has not taken the report */
    long long mig_downtime_ms, mig_total_ms;
    char mig_end[16], mig_error[256]; /* source: failed or cancelled, and why ("" completed) */
    int mig_cancel;                   /* source: cancel the migration in flight (atomic) */
    /* VMM watch (driver vmm): pidfd polled on the loop */
    uv_poll_t *watch;
    int pidfd;
    /* the VMM ended while a job was in flight (handled when it ends) */
    int exit_seen, exit_code, exit_sig, exit_known;
    /* console */
    long long con_size, con_mtime_ns;
    int con_dirty;
    struct nd_inst *next;
} nd_inst;

typedef struct nd_agent {
    nd_conf c;
    st_config *cfg;
    uv_loop_t *loop;
    nd_driver *drv;
    nd_inst *insts;
    uv_timer_t t_hb, t_rec, t_meter, t_console, t_spool, t_image_gc, t_fence;
    uv_signal_t sig_term, sig_int;
    int fetching, meter_busy, console_busy, spool_busy, hb_busy, image_gc_busy;
    int kick;               /* refetch as soon as the current fetch ends */
    int lp_busy;            /* a long-poll is out (longpoll.c) */
    long long lp_retry_ms;  /* no long-poll before this (nd_now_ms) */
    long long fetched_ms;   /* the last fetch the gateway answered (nd_now_ms) */
    volatile int lp_abort;  /* set at stop: the long-poll gives up */
    char desired_etag[128]; /* of the last desired set fetched whole */
    int stopping;
    long long first_ok_fetch_ms;
    char hostname[256];
    struct nd_net *net; /* NULL: tenant networks off on this node */
    /* fence.c: the lease on the gateway */
    long long lease_ms;           /* when the last heartbeat the gateway took was sent */
    int fenced;                   /* every guest stopped, none started */
    long long fence_renewed_ms;   /* fenced, and a heartbeat got through at this time; 0 not yet */
    char fenced_at[32];           /* RFC 3339 time of the last fence; "" none */
    char (*evacuated)[ND_ID_LEN]; /* the last desired set's `evacuated` (owned) */
    size_t nevacuated;
} nd_agent;

/* fence.c: the lease (see there) */
void nd_fence_start(nd_agent *a);
/* A heartbeat sent at sent_ms (nd_now_ms) was taken by the gateway. */
void nd_fence_renewed(nd_agent *a, long long sent_ms);
/* A desired-set fetch begun at started_ms was answered; 1 when it lifted
 * the fence. */
int nd_fence_fetched(nd_agent *a, long long started_ms);
/* The decisions, pure: 1 when a lease taken at lease_ms has run out at
 * now_ms (timeout_ms <= 0: never); 1 when a fetch begun at fetch_started_ms
 * lifts a fence renewed at renewed_ms (0: not renewed yet). */
int nd_fence_due(long long lease_ms, long long now_ms, long long timeout_ms);
int nd_fence_lift_ok(int fenced, long long renewed_ms, long long fetch_started_ms);

/* reconcile.c */
void nd_reconcile_start(nd_agent *a);
/* The fence: every running VM force-stopped (none reported); returns how
 * many stops were started. */
int nd_reconcile_fence(nd_agent *a);
/* longpoll.c: after each fetch, starts the desired set's long-poll on the
 * set's tag unless one is out (or it failed lately); a change it reports
 * kicks a fetch at once. */
void nd_longpoll_kick(nd_agent *a);
/* 1 while a long-poll is out and the last one did not fail. */
int nd_longpoll_holding(const nd_agent *a);
void nd_reconcile_kick(nd_agent *a);
/* Applies a desired set fetched whole with tag etag (the long-poll's),
 * unless the set held now is as new or newer; 1 applied, 0 not. */
int nd_reconcile_apply(nd_agent *a, nd_desired_set *s, const char *etag);
nd_inst *nd_inst_find(nd_agent *a, const char *id);
void nd_adopt_all(nd_agent *a);
/* The loop learned that in's VMM ended (exit code or signal when known). */
void nd_inst_exited(nd_agent *a, nd_inst *in, int code, int sig, int known);
/* A VM is gone: its final counters become one more spooled sample. */
void nd_meter_final(nd_agent *a, nd_record *r, const char *state);
/* watch.c */
void nd_watch_start(nd_agent *a, nd_inst *in, int pidfd);
void nd_watch_stop(nd_inst *in);
/* imagegc.c: removes cached images no instance uses, unused for keep_s.
 * Runs on a pool thread; skips (0, nothing removed) while a launch prepares.
 * 0, or -1 when the pass could not tell what is in use (nothing removed). */
int nd_image_gc(const nd_conf *c, long long keep_s, int *removed, long long *bytes);
/* Held shared by a launch's preparation (image.c). */
void nd_images_use_begin(void);
void nd_images_use_end(void);

/* periodic.c: heartbeat, metering, console, spool, image collection */
void nd_periodic_start(nd_agent *a);
/* gw.c: the gateway's node API (blocking; call from jobs) */
/* stop: how the stop behind this report ended ("graceful", "forced"), or NULL. */
/* snapshot: the snapshot image this report ends (snapshot_fault: it failed), or NULL. */
long nd_gw_report(const nd_conf *c, const char *id, const char *state, long long gen,
                  long long reboot_seq, const char *stop, const char *fault, int retryable,
                  const char *snapshot, const char *snapshot_fault, char *err, size_t errlen);
/* fenced_at: the last fence's time to report, or NULL/"" for none; migrate:
 * the driver can take part in live migrations (capacity.live_migration);
 * block: and copy a local disk along (capacity.block_migration). */
long nd_gw_heartbeat(const nd_conf *c, const char *hostname, const char *fenced_at, int migrate,
                     int block, char *err, size_t errlen);
/* A live migration's report (PUT /internal/v1/node/migrations/{mid}, the
 * body as api-gateway/migrate.c reads it); *state gets the migration's
 * state in the answer ("" when none). */
long nd_gw_migration(const nd_conf *c, const char *mid, json_t *body, char *state, size_t statelen,
                     char *err, size_t errlen);
/* The leftovers of instance id, evacuated from this node, are removed (204). */
long nd_gw_evacuated(const nd_conf *c, const char *id, char *err, size_t errlen);
/* The SR-IOV VFs enabled on the host's PFs (sriov_numvfs summed) under the
 * sysfs tree root; 0 for "" or a tree without PFs. */
long nd_sriov_vfs(const char *root);
/* 1 when vm.firmware is readable: this node boots disks through firmware (gw.c). */
int nd_has_firmware(const nd_conf *c);
/* GET the desired set; with etag (the last 200's, or "" / NULL) it may be
 * 304: unchanged. etag_out gets the answer's tag. */
/* The long-poll: the same GET with ?wait=wait_s, answered once the set
 * differs from etag (200, with the body as nd_gw_desired's) or after wait_s
 * seconds (304). Ends early, failed, when *abort is set. */
long nd_gw_desired_wait(const nd_conf *c, const char *etag, int wait_s, const volatile int *abort,
                        char etag_out[128], char **body, size_t *len, char *err, size_t errlen);
long nd_gw_desired(const nd_conf *c, const char *etag, char etag_out[128], char **body, size_t *len,
                   char *err, size_t errlen);
long nd_gw_console(const nd_conf *c, const char *id, const char *buf, size_t len, char *err,
                   size_t errlen);
/* snapshot.c: dir's disk flattened (a running VM paused around the copy)
 * and uploaded as image_id with the node credential (blocking). 0, or -1
 * with the reason in err. */
int nd_snapshot_take(const nd_conf *c, nd_driver *drv, const char *dir, nd_vm_handle *h,
                     int running, const char *image_id, char *err, size_t errlen);
/* image.c: base image cached, overlay made, kernel path chosen (blocking) */
/* <vm.shared_disk_dir>/<id>.qcow2: an instance's disk on shared storage. */
void nd_shared_disk_path(const nd_conf *c, const char *id, char *out, size_t outlen);
int nd_image_prepare(const nd_conf *c, const nd_record *r, const char *user_data, nd_vm_spec *spec,
                     char *err, size_t errlen);
/* Removes instance id's disk on Ceph (disk_backend rbd); 0 when it is gone (blocking). */
int nd_image_remove_rbd(const nd_conf *c, const char *id, char *err, size_t errlen);
/* user_data -> kernel command line additions (see README) */
void nd_cmdline_build(const char *base, const char *id, const char *user_data_b64, char *out,
                      size_t outlen);
/* meter.c */
int nd_spool_add(const char *state_dir, const char *batch_json, size_t len, int do_fsync);
/* The spool's bound in bytes (0: none); the oldest batches over it are dropped. */
void nd_spool_set_limit(long long max_bytes);
int nd_spool_flush(const nd_conf *c, int *sent, char *err, size_t errlen);
char *nd_sample_batch(const char *const *samples, int n);
char *nd_sample_make(const nd_record *r, const char *state, long long seq, const char *counters);
/* A sequence number for a new sample: wall-clock ms, strictly increasing. */
long long nd_seq_next(void);
/* status.c: /healthz and /metrics (http.listen) */
int nd_status_start(nd_agent *a, const char *listen, const char *port_file);
void nd_status_stop(void);
void nd_status_fetch_ok(void);
void nd_metric_inc(const char *what, const char *result);
void nd_metric_launch_seconds(double s);
void nd_metric_instances(int total, int running);
/* netstep.c: the host data plane. start: 0, or -1 when network.enabled
 * is true and the data plane cannot be driven. */
int nd_net_start(nd_agent *a);
void nd_net_stop(nd_agent *a, uv_close_cb cb);
void nd_net_free(nd_agent *a);
/* `stratus-node teardown-network`: everything the data plane built on this
 * host removed (stn_teardown, with the agent's own state_dir and
 * netns_dir), for a node that stops being one; run with the agent stopped.
 * 0, or -1 (said in the log). */
int nd_net_teardown(const nd_conf *c);
/* The desired set's networks and groups (moved from set), then a converge. */
void nd_net_desired(nd_agent *a, nd_netset *set);
/* Converge now (or right after the one in flight). */
void nd_net_kick(nd_agent *a);
/* 1 when every virtio port of o has its tap (or no data plane is driven). */
int nd_net_ready(nd_agent *a, const nd_order *o);
/* Fills c->tunnel_ip / c->underlay_dev left empty: the address this host
 * uses to reach the gateway, and the device holding it. */
void nd_net_detect(nd_conf *c);
/* caps.c */
int nd_caps_drop(int routers, int jails, char *err, size_t errlen);
/* conf.c */
st_config *nd_conf_load(int argc, char **argv, nd_conf *c);
long long nd_now_ms(void);

#endif
