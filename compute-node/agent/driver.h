/*
 * driver.h - the back ends that run a VM: stratus-vmm (drv_vmm.c) or libvirt
 * (drv_libvirt.c), behind one vtable.
 *
 * Every operation is blocking and may be slow (a control socket, a libvirt
 * RPC): the agent calls them from its thread-pool jobs, never on the loop.
 * Calls for one instance never overlap; calls for different instances do,
 * so a driver keeps no unlocked shared state.
 *
 * The handle is what the agent persists about a running VM so that a new
 * agent process can find it again (adopt) instead of starting a second one.
 */
#ifndef ND_DRIVER_H
#define ND_DRIVER_H

#include <stddef.h>
#include <sys/types.h>

/* Bounds of one VM: stratus-vmm's own (8 disks, 8 NICs). */
#define ND_MAX_DISKS 8
#define ND_MAX_PORTS 8

typedef struct nd_vm_disk {
    char id[32];     /* the device's name: the VMM's device id and counter key */
    char path[4096]; /* the file */
    char format[8];  /* qcow2 | raw */
    int read_only;
} nd_vm_disk;

/* The emulated NIC: virtio-net, or an Intel 82540EM (e1000) for guests without virtio drivers. */
typedef enum nd_nic_model {
    ND_NIC_VIRTIO = 0,
    ND_NIC_E1000,
} nd_nic_model;

typedef struct nd_vm_port {
    char id[40];  /* the network port (UUID) this NIC plugs into */
    char tap[16]; /* the host tap device (IFNAMSIZ), made by network/, never by a driver */
    char mac[18]; /* aa:bb:cc:dd:ee:ff, lower case, unicast */
    nd_nic_model model;
    int mtu; /* told to the guest (virtio-net MTU feature); 0: not told */
} nd_vm_port;

/* How the guest starts (issue 15): its kernel loaded directly (the image's
 * own bytes, or a separate kernel image with an optional initrd, the disk
 * being the root disk), or the disk's own bootloader through firmware
 * (SeaBIOS). Kernel is 0, so a zeroed spec with a kernel boots as before. */
typedef enum nd_boot {
    ND_BOOT_KERNEL = 0,
    ND_BOOT_FIRMWARE,
} nd_boot;

/*
 * What to run. Disks and ports are in guest order: disk 0 is the boot disk
 * (vda), port 0 the first NIC. nd_vm_spec_check() holds the invariants
 * every driver relies on (counts in bounds, ids unique and non-empty, tap
 * names short enough for the kernel, MACs unicast, MTU 68..65535 or 0).
 */
typedef struct nd_vm_spec {
    const char *id;
    const char *dir; /* the instance's state directory */
    int vcpus, memory_mib;
    nd_boot boot;
    char firmware[4096]; /* ND_BOOT_FIRMWARE: the BIOS image (agent's vm.firmware) */
    char kernel[4096];   /* ND_BOOT_KERNEL: the kernel, an initrd ("" none), the command line */
    char initrd[4096];
    char cmdline[1024];
    int ndisks, nports;
    nd_vm_disk disks[ND_MAX_DISKS];
    nd_vm_port ports[ND_MAX_PORTS];
    int fresh; /* no VM can exist for it yet (first launch of this order): skip the search */
} nd_vm_spec;

/* spec.c: 0, or -1 with err saying which disk or port (or boot field) is wrong. */
int nd_vm_spec_check(const nd_vm_spec *s, char *err, size_t errlen);
/* The model's name ("virtio"); NULL for a value out of range. */
const char *nd_nic_model_name(nd_nic_model m);
/* "kernel", "firmware"; NULL out of range. */
const char *nd_boot_name(nd_boot b);
/* "virtio" -> ND_NIC_VIRTIO, "e1000" -> ND_NIC_E1000; -1 for a model no driver here offers. */
int nd_nic_model_parse(const char *name, nd_nic_model *m);
/* 1 when mac is a unicast, non-zero, lower-case aa:bb:cc:dd:ee:ff. */
int nd_mac_valid(const char *mac);

typedef struct nd_vm_handle {
    pid_t pid;                /* vmm: the stratus-vmm process, 0 when none */
    unsigned long long start; /* vmm: its start time (clock ticks since boot, /proc/PID/stat) */
    char boot_id[40];         /* the VMM's boot id (counter streams) */
    char domain[80];          /* libvirt: domain name */
} nd_vm_handle;

typedef enum nd_vm_state {
    ND_VM_ABSENT = 0, /* no VM for this instance */
    ND_VM_RUNNING,
    ND_VM_NOT_STARTED, /* vmm: process up, waiting for its config (a launch cut short) */
    ND_VM_EXITED,      /* it ran and exited; see exit_code / signal */
} nd_vm_state;

typedef struct nd_vm_status {
    nd_vm_state state;
    int exit_code; /* ND_VM_EXITED: exit status, or -1 when unknown */
    int signal;    /* ND_VM_EXITED: killed by this signal, 0 if none */
} nd_vm_status;

/* How a VM ended, as its driver reads it. A guest that powers off (ACPI,
 * a shutdown, the test guest's debug-exit port) has stopped; only a failure
 * of the VMM or the hypervisor (or a kill) is an error. */
typedef struct nd_vm_exit {
    int stopped;     /* 1: stopped cleanly; 0: an error, see fault */
    int code;        /* the VMM's exit status, -1 when unknown */
    int signal;      /* killed by this signal, 0 when none */
    char fault[200]; /* when not stopped: what to tell the tenant */
} nd_vm_exit;

/* What a back end can do (nd_driver_ops.caps). */
#define ND_CAP_EXIT_WATCH 0x1     /* launch gives a pidfd that says when the VM ends */
#define ND_CAP_FINAL_COUNTERS 0x2 /* a VM's counters outlive it (final_counters) */
#define ND_CAP_MIGRATE                                                                             \
    0x4 /* live migration: launch_incoming, migrate_* (the heartbeat's                             \
           capacity.live_migration) */
#define ND_CAP_BLOCK_MIGRATE                                                                       \
    0x8 /* with ND_CAP_MIGRATE: a local disk copied along (nd_mig_params.block_migration; the      \
           heartbeat's capacity.block_migration) */

/* A live migration as the source VMM reports it (stratus-vmm's GET
 * /vm/migrate; the target's, while it waits, says INCOMING). */
typedef enum nd_mig_state {
    ND_MIG_NONE = 0,
    ND_MIG_INCOMING,
    ND_MIG_ACTIVE,
    ND_MIG_COMPLETED,
    ND_MIG_FAILED,
    ND_MIG_CANCELLED,
} nd_mig_state;

typedef struct nd_mig_status {
    nd_mig_state state;
    long long round, transferred_bytes, remaining_bytes, total_bytes, throttle_pct;
    long long downtime_ms, total_ms; /* completed; -1 when not told */
    char error[256];                 /* failed */
} nd_mig_status;
/* "none", "incoming", "active", ...; NULL out of range. */
const char *nd_mig_state_name(nd_mig_state s);
/* Parses a GET /vm/migrate answer: 0, or -1 with err for one that is not its
 * shape (an unknown state, a missing or negative number). spec.c */
int nd_mig_status_parse(const char *json, size_t len, nd_mig_status *st, char *err, size_t errlen);

/* Where and how to send a VM (migrate_out). */
typedef struct nd_mig_params {
    const char *uri;        /* tcp:ADDR:PORT, where the target listens */
    long long downtime_ms;  /* the budget; 0: the VMM's default */
    long long timeout_ms;   /* 0: none */
    const char *on_timeout; /* "cancel" or "force"; NULL: the VMM's default */
    int block_migration;    /* copy the VM's writable local disks along */
} nd_mig_params;

typedef struct nd_driver nd_driver;

/* How a stop ended (nd_driver_ops.stop). */
typedef enum nd_stop_how {
    ND_STOP_NONE,     /* nothing was running */
    ND_STOP_GRACEFUL, /* the guest powered off after the button */
    ND_STOP_FORCED,   /* the VM was ended without the guest's consent */
} nd_stop_how;
const char *nd_stop_how_name(nd_stop_how h); /* NULL, "graceful", "forced" */

/* 1 once a stop's grace is cut short (driver_ops.stop's hurry, set by the
 * agent's loop while a job thread waits). */
static inline int nd_hurried(const int *hurry)
{
    return hurry && __atomic_load_n(hurry, __ATOMIC_ACQUIRE);
}

typedef struct nd_driver_ops {
    const char *name;
    unsigned caps; /* ND_CAP_* */
    /* Starts the VM described by spec (or finishes a launch a dead agent began:
     * an existing VM for the instance is reused, never doubled). On success
     * fills h. *pidfd gets a pidfd to watch for exit, or -1 (poll status). */
    int (*launch)(nd_driver *d, const nd_vm_spec *spec, nd_vm_handle *h, int *pidfd, char *err,
                  size_t errlen);
    /* Graceful power-off (the ACPI power button), waiting up to timeout_ms
     * for the guest to power off, then forced; timeout_ms 0 forces at once,
     * and so does *hurry turning nonzero during the wait (a newer order: a
     * force stop or a delete; NULL: none). *how says which ended it. 0 when
     * gone. */
    int (*stop)(nd_driver *d, const char *dir, nd_vm_handle *h, int pidfd, long long timeout_ms,
                const int *hurry, nd_stop_how *how, char *err, size_t errlen);
    /* Pauses a running VM (pause 1: every vCPU parked and its disks flushed,
     * so its disk can be copied) or resumes it (0). */
    int (*pause)(nd_driver *d, const char *dir, nd_vm_handle *h, int pause, char *err,
                 size_t errlen);
    /* Hard reset (reboot) of a running VM. */
    int (*reset)(nd_driver *d, const char *dir, nd_vm_handle *h, char *err, size_t errlen);
    /* Forced off at once, no questions (delete path). */
    int (*destroy)(nd_driver *d, const char *dir, nd_vm_handle *h, int pidfd, char *err,
                   size_t errlen);
    /* Finds the VM for an instance (adoption); may update h (pid after a
     * cut-short launch). *pidfd as in launch (-1 when not running). */
    int (*status)(nd_driver *d, const char *dir, nd_vm_handle *h, nd_vm_status *st, int *pidfd);
    /* The counter document (stratus-vmm's GET /vm/counters shape), malloc'd. */
    int (*counters)(nd_driver *d, const char *dir, nd_vm_handle *h, char **json, char *err,
                    size_t errlen);
    /* The last max bytes of console output, malloc'd; *changed_hint is a
     * cheap change marker (size/mtime) so the caller pushes only on change. */
    int (*console)(nd_driver *d, const char *dir, nd_vm_handle *h, size_t max, char **buf,
                   size_t *len, long long *marker);
    /* How the VM ended. code and sig are what the watch saw when known is
     * set (waitid of a child, a status poll); otherwise the driver finds out
     * itself (stratus-vmm: its log's last lines). */
    void (*exit_status)(nd_driver *d, const char *dir, const nd_vm_handle *h, int code, int sig,
                        int known, nd_vm_exit *x);
    /* The counters document at the VM's end, malloc'd; NULL when there are
     * none (no ND_CAP_FINAL_COUNTERS, or the VMM logged none). */
    char *(*final_counters)(nd_driver *d, const char *dir, const nd_vm_handle *h);
    /* Live migration (ND_CAP_MIGRATE; NULL without it). launch_incoming
     * starts the VM described by spec waiting for a migration on
     * listen_uri (tcp:ADDR:PORT): the process is up and answers that it
     * is incoming, no guest runs yet; an incoming VM already there for the
     * instance is reused. h and *pidfd as for launch. */
    int (*launch_incoming)(nd_driver *d, const nd_vm_spec *spec, const char *listen_uri,
                           nd_vm_handle *h, int *pidfd, char *err, size_t errlen);
    /* Starts sending the running VM to p->uri; returns at once (the VMM
     * migrates in the background). One already under way is not an error. */
    int (*migrate_out)(nd_driver *d, const char *dir, nd_vm_handle *h, const nd_mig_params *p,
                       char *err, size_t errlen);
    /* Where the migration stands (source or target). */
    int (*migrate_status)(nd_driver *d, const char *dir, nd_vm_handle *h, nd_mig_status *st,
                          char *err, size_t errlen);
    /* Cancels the migration under way; the source resumes its guest. */
    int (*migrate_cancel)(nd_driver *d, const char *dir, nd_vm_handle *h, char *err, size_t errlen);
    void (*free)(nd_driver *d);
} nd_driver_ops;

struct nd_driver {
    const nd_driver_ops *ops;
    void *priv;
};

/* 1 when d sends and receives live migrations (every migrate_* is there). */
static inline int nd_can_migrate(const nd_driver *d)
{
    return d && (d->ops->caps & ND_CAP_MIGRATE) && d->ops->launch_incoming && d->ops->migrate_out &&
           d->ops->migrate_status && d->ops->migrate_cancel;
}

/* 1 when d also copies a local disk along with a live migration (block migration). */
static inline int nd_can_block_migrate(const nd_driver *d)
{
    return nd_can_migrate(d) && (d->ops->caps & ND_CAP_BLOCK_MIGRATE);
}

struct nd_jail_conf;
typedef struct nd_vmm_opts {
    const char *vmm_path;
    const char *log_level;
    const struct nd_jail_conf *jail; /* NULL or ->on == 0: VMMs run unjailed (jail.h) */
} nd_vmm_opts;

nd_driver *nd_driver_vmm_new(const nd_vmm_opts *o, char *err, size_t errlen);
/* NULL with err when libvirt is not built in or the URI does not open. */
nd_driver *nd_driver_libvirt_new(const char *uri, char *err, size_t errlen);
/* The libvirt domain XML for spec (type "kvm" or "test"), malloc'd; NULL with err. */
char *nd_libvirt_domain_xml(const nd_vm_spec *s, const char *type, char *err, size_t errlen);

/* stratus-vmm's config (PUT /vm/config, compute-node/vmm/config.c) for spec, malloc'd; NULL with
 * err. */
char *nd_vmm_config_json(const nd_vm_spec *s, char *err, size_t errlen);

/* vmm helpers also used by tests */
int nd_vmm_find(const char *vmm_path, const char *sock, pid_t hint, unsigned long long hint_start,
                pid_t *pid, unsigned long long *start);
int nd_proc_start_time(pid_t pid, unsigned long long *start);
/* How a stratus-vmm that wrote dir/vmm.log ended (see drv_vmm.c). */
void nd_vmm_exit_classify(const char *dir, int code, int sig, int known, nd_vm_exit *x);
/* The `counters` object of the last `vmm.counters` log line (JSON text,
 * malloc'd): the final counters of a VMM that exited. */
char *nd_vmm_final_counters(const char *dir);

#endif
