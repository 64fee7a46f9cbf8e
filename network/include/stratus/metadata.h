/*
 * metadata.h - the metadata service at 169.254.169.254 (part of
 * libstratus_net): EC2-compatible paths and OpenStack's meta_data.json, so
 * cloud-init works unchanged.
 *
 * Who is asking is known from the kernel, never from the request: there is
 * one listening socket per bridge (SO_BINDTODEVICE), every accepted
 * connection inherits its bridge, and the caller is the port whose
 * (bridge, IPv4) is the connection's peer, unique because anti-spoofing
 * (nft.c) lets a port send only from its own addresses. The nftables seam
 * (stn_state.metadata_port) redirects tcp to 169.254.169.254:80 arriving on a
 * bridge to that local port. Unknown or untagged callers get 404.
 *
 * Threads: the service runs its own thread (one libevent loop). Every call
 * below is thread-safe and may be made while it serves; stn_md_sync() must
 * be called from the network namespace the bridges are in (its sockets are
 * made there).
 */
#ifndef STRATUS_METADATA_H
#define STRATUS_METADATA_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include <stratus/net.h>

#define STN_MD_USER_DATA_MAX (64 * 1024) /* what EC2 and Nova accept */

/* One instance's documents, keyed by the md_tag of its port(s). Copied. */
typedef struct stn_md_doc {
    uint32_t tag;               /* stn_port.md_tag, non-zero */
    const char *instance_id;    /* required */
    const char *hostname;       /* NULL: "" */
    const char *az;             /* availability zone; NULL: "" */
    struct in_addr local_ipv4;  /* the port's fixed IP */
    struct in_addr public_ipv4; /* 0.0.0.0: none (public-ipv4 is 404) */
    const char *ssh_key;        /* one OpenSSH public key line; NULL: none */
    const void *user_data;      /* NULL: none (user-data is 404) */
    size_t user_data_len;       /* <= STN_MD_USER_DATA_MAX */
} stn_md_doc;

typedef struct stn_md stn_md;

/* Starts the service thread. port: the same value as stn_state.metadata_port. */
int stn_md_start(stn_md **out, uint16_t port, char *err, size_t errlen);
/* Listens on the bridge of every network in s and learns (bridge, port IP)
 * -> md_tag for every port with a tag; bridges no longer in s are closed.
 * Call it after each stn_converge() with the same state. */
int stn_md_sync(stn_md *m, const stn_state *s, char *err, size_t errlen);
/* Adds or replaces the documents for d->tag. */
int stn_md_put(stn_md *m, const stn_md_doc *d, char *err, size_t errlen);
/* Forgets tag's documents (its callers get 404 from then on). */
void stn_md_remove(stn_md *m, uint32_t tag);
/* Stops the thread, closes every socket and frees everything. */
void stn_md_stop(stn_md *m);

#endif
