/*
 * migrate.h - live migration, pre-copy, between two stratus-vmm processes over TCP (see
 * migrate.c; the frames are migmsg.h's).
 */
#ifndef VMM_MIGRATE_H
#define VMM_MIGRATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm.h"

/* What PUT /vm/migrate asks for. */
typedef struct vmm_migrate_req {
    char uri[300];        /* tcp:ADDR:PORT, ADDR a numeric IPv4 or [IPv6] address */
    uint64_t downtime_ms; /* the budget for the final pause (default 300) */
    uint64_t timeout_ms;  /* 0: none */
    int force;            /* on_timeout=force: finish over budget; else cancel */
    uint64_t max_rounds;  /* rounds before the final one is forced (default 30) */
    int block_migration;  /* copy the writable local disks along (mirror.h); else shared */
    /* "tls": {"ca", "cert", "key"} (PEM files): the link is TLS, each end proving itself with
     * a certificate the other's CA signed; empty: plain TCP. */
    char tls_ca[512], tls_cert[512], tls_key[512];
} vmm_migrate_req;

/* Parses a PUT /vm/migrate body into r; 0, or -EINVAL with err filled. */
int vmm_migrate_parse(const char *body, size_t len, vmm_migrate_req *r, char *err, size_t errlen);
/* "tcp:ADDR:PORT" into a socket address (PORT 1-65535); 0 or -EINVAL with err filled. */
struct sockaddr_storage;
int vmm_migrate_addr(const char *uri, struct sockaddr_storage *sa, unsigned *salen, char *err,
                     size_t errlen);

/* The source's worker and auto-converge threads, made once the vCPUs run and before the event
 * thread's filter is in place (each installs its own); 0 or a negative errno. */
int vmm_migrate_threads_start(vmm_vm *vm);
/* Starts a migration (event thread); 0, or -EBUSY (one is active or completed), -ENOTSUP (the
 * VM is paused or stopping), with err filled. */
int vmm_migrate_start(vmm_vm *vm, const vmm_migrate_req *r, char *err, size_t errlen);
/* DELETE /vm/migrate: 0 once asked to cancel, -ENOENT when none is active. */
int vmm_migrate_cancel(void);
/* GET /vm/migrate's document. */
json_t *vmm_migrate_status(void);

/* Target: accepts one connection on listen_fd on a thread of its own, receives guest RAM into
 * a memfd and the state while the event thread builds the VM of cfg around that memfd (once
 * HELLO is accepted), then puts the state back, starts it and answers ACK; NACK with the reason
 * and exit status 2 on any refusal. 0 or a negative errno. */
int vmm_migrate_incoming(vmm_vm *vm, const vmm_config *cfg, int listen_fd);
/* 1 while this process is a target whose VM has not come yet (the "start" action waits). */
int vmm_migrate_is_incoming(void);
/* Whether a VM whose config is src (a migration source's, a snapshot's) may run under dst,
 * this host's config for it: memory, vCPUs, boot mode, devices as the guest sees them, and a
 * firmware VM's image (src's "firmware_sha256" against dst_fw_sha256, the digest of dst's
 * image file; "" when unread). 1, or 0 with the reason in err. */
int vmm_migrate_compatible(const vmm_config *src, const vmm_config *dst, uint64_t ram,
                           const char *dst_fw_sha256, char *err, size_t errlen);
/* The target's TLS (PEM files), before vmm_migrate_incoming: 0, or -EINVAL with err filled
 * (a file that cannot be read or a key that is not the certificate's). */
int vmm_migrate_incoming_tls(const char *ca, const char *cert, const char *key, char *err,
                             size_t errlen);

/* Ends whatever runs (a migration is cancelled) and joins the threads; before teardown. */
void vmm_migrate_stop(void);

#endif
