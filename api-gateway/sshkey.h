/* sshkey.h - OpenSSH public key validation (see sshkey.c). */
#ifndef GW_SSHKEY_H
#define GW_SSHKEY_H

#include <stddef.h>

#define GW_SSHKEY_MAX 16384

/* 0 and the SHA256 fingerprint, or -1 and a message for the client. */
int gw_sshkey_check(const char *text, char *fingerprint, size_t fplen, char *err, size_t errlen);

#endif
