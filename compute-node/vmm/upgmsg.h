/*
 * upgmsg.h - the frames of a live upgrade over a unix stream socket.
 *
 * A frame, little-endian:
 *   char magic[8]   "STVMMUPG"
 *   u32 kind        VMM_UPG_STATE | VMM_UPG_ACK | VMM_UPG_NACK
 *   u32 nfds        file descriptors attached to the header's bytes (SCM_RIGHTS)
 *   u64 length      payload bytes that follow the header
 *   payload         STATE: a vmstate (snapfile.h); NACK: an error message; ACK: none
 *
 * STATE's descriptors, in order: guest RAM's memfd, then each NIC's tap in config order.
 * The frame is hostile input for its receiver: the magic, the kind, the length (at most
 * VMM_UPG_MAX_LEN) and the fd count (at most the caller's maximum, and exactly what
 * arrived: a truncated control message is refused) are checked; on any error every fd that
 * arrived is closed and nothing is returned. No KVM dependency (the unit test uses it over a
 * socketpair).
 */
#ifndef VMM_UPGMSG_H
#define VMM_UPGMSG_H

#include <stddef.h>
#include <stdint.h>

#include "snapfile.h"

#define VMM_UPG_MAGIC "STVMMUPG"
#define VMM_UPG_HEADER 24
#define VMM_UPG_MAX_FDS 16
#define VMM_UPG_MAX_LEN ((size_t)VMM_SNAP_DEVICES_MAX + (8u << 20))

enum { VMM_UPG_STATE = 1, VMM_UPG_ACK, VMM_UPG_NACK };

/* Sends one frame; 0 or a negative errno. */
int vmm_upg_send(int sock, uint32_t kind, const void *buf, size_t len, const int *fds, int nfds);
/* Receives one frame: *buf malloc'd (NUL-terminated beyond *len; NULL when empty), up to
 * maxfds descriptors into fds; 0, or a negative errno with err filled and nothing kept. */
int vmm_upg_recv(int sock, uint32_t *kind, uint8_t **buf, size_t *len, int *fds, int *nfds,
                 int maxfds, char *err, size_t errlen);

/* All of len bytes sent (out) or received on a stream socket; 0 or a negative errno (-EPIPE:
 * the peer closed). A live migration's frames (migmsg.c) use it too. */
int vmm_sock_full(int sock, uint8_t *p, size_t len, int out);

#endif
