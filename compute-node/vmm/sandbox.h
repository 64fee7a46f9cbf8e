/*
 * sandbox.h - per-thread seccomp filters (libseccomp), installed once a
 * thread's set-up is done. A thread calling anything outside its list is
 * killed with the whole process (SCMP_ACT_KILL_PROCESS): a compromised
 * device model must not get a second try. The filter of the event thread is
 * loaded after the vCPU threads exist, so they do not inherit it.
 */
#ifndef VMM_SANDBOX_H
#define VMM_SANDBOX_H

/* Drops every capability of the calling thread (and so of the threads it creates
 * afterwards) and sets no_new_privs; 0 or -1 (logged). */
int vmm_drop_privileges(void);
/* 0 or -1 (logged). */
int vmm_sandbox_vcpu(void);
int vmm_sandbox_event(void);
/* A live migration's worker (migrate.c): the event thread's list and TCP sockets. */
int vmm_sandbox_migrate(void);
/* Makes every filter's BPF program now, so that installing one later is two syscalls instead
 * of libseccomp building and compiling it (tens of ms under emulation: a migration's target
 * prepares them with its early build, out of the downtime). 0, or -1 (logged; each filter is
 * then made when installed, as without). Before any filter, on one thread. */
int vmm_sandbox_prepare(void);

#endif
