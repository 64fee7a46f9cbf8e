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

typedef struct nd_vm_spec {
    const char *id;
    const char *dir; /* the instance's state directory */
    int vcpus, memory_mib;
    char kernel[4096];
    char disk[4096];
    char disk_format[8]; /* qcow2 | raw */
    char cmdline[1024];
    int fresh; /* no VM can exist for it yet (first launch of this order): skip the search */
} nd_vm_spec;

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

typedef struct nd_driver nd_driver;

typedef struct nd_driver_ops {
    const char *name;
    /* Starts the VM described by spec (or finishes a launch a dead agent began:
     * an existing VM for the instance is reused, never doubled). On success
     * fills h. *pidfd gets a pidfd to watch for exit, or -1 (poll status). */
    int (*launch)(nd_driver *d, const nd_vm_spec *spec, nd_vm_handle *h, int *pidfd, char *err,
                  size_t errlen);
    /* Graceful power-off, waiting up to timeout_ms, then forced. 0 when gone. */
    int (*stop)(nd_driver *d, const char *dir, nd_vm_handle *h, int pidfd, long long timeout_ms,
                char *err, size_t errlen);
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
    void (*free)(nd_driver *d);
} nd_driver_ops;

struct nd_driver {
    const nd_driver_ops *ops;
    void *priv;
};

typedef struct nd_vmm_opts {
    const char *vmm_path;
    const char *log_level;
} nd_vmm_opts;

nd_driver *nd_driver_vmm_new(const nd_vmm_opts *o, char *err, size_t errlen);
/* NULL with err when libvirt is not built in or the URI does not open. */
nd_driver *nd_driver_libvirt_new(const char *uri, char *err, size_t errlen);

/* vmm helpers also used by tests */
int nd_vmm_find(const char *vmm_path, const char *sock, pid_t hint, unsigned long long hint_start,
                pid_t *pid, unsigned long long *start);
int nd_proc_start_time(pid_t pid, unsigned long long *start);
/* Exit status from the last `vmm.exit` line of dir/vmm.log; -1 when none. */
int nd_vmm_exit_from_log(const char *dir, int *code);
/* The `counters` object of the last `vmm.counters` log line (JSON text,
 * malloc'd): the final counters of a VMM that exited. */
char *nd_vmm_final_counters(const char *dir);

#endif
